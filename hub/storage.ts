import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PackStore } from '../electron/engine/pack-store';
import { atomicWrite, appendLine, readIfExists, mkdirp } from '../electron/engine/fsutil';
import { StoreLock } from '../electron/engine/lock';
import { DmError } from '../electron/contract/errors';
import type { ObjectInfo, HashName } from '../electron/engine/objects';
import type { Codec } from '../electron/engine/compress';
import type { PackLoc } from '../electron/engine/pack-store';

/** The object operations the hub needs from a dot's object store (PackStore on disk; S3 later). */
export interface HubObjects {
  /** How this dot's objects are named. */
  readonly hash: HashName;
  has(id: string): boolean;
  info(id: string): ObjectInfo | undefined;
  get(id: string): Promise<Buffer>;
  /** Stored (compressed) bytes, sent to clients as they are. */
  readStored(id: string): Promise<{ loc: Pick<PackLoc, 'type' | 'codec' | 'size'>; bytes: Buffer }>;
  /**
   * Stores encoded objects the caller has checked against their ids (ForeignChecker, verifyWire),
   * in the order given; resolves once they are written (flush makes them durable).
   */
  putTrustedMany(objs: { id: string; type: 'chunk' | 'tree' | 'commit'; codec: Codec; size: number; bytes: Buffer }[]): Promise<void>;
  /** Makes every stored object durable. */
  flush(): Promise<void>;
}

/** Where the hub keeps everything: its database document, each dot's objects and refs. */
export interface HubStorage {
  /** Reads the database document (users, keys, dots, collaborators), or undefined when new. */
  readDb(): Promise<string | undefined>;
  /** Replaces the database document atomically. */
  writeDb(doc: string): Promise<void>;
  /** The object store of one dot (created on first use), whose objects are named with `hash`. */
  objects(owner: string, dot: string, hash: HashName): Promise<HubObjects>;
  /** Branch heads of a dot. */
  refs(owner: string, dot: string): Promise<Record<string, string>>;
  /** Sets a branch head (the caller holds the dot's mutex and has checked the old value). */
  setRef(owner: string, dot: string, branch: string, id: string, log: { from: string | null; user: string }): Promise<void>;
  /** Releases resources. */
  close(): Promise<void>;
}

/** Embedded storage on local disk: DATA/db.json and DATA/dots/OWNER/DOT/{objects/packs,refs,reflog}. */
export class DiskStorage implements HubStorage {
  private stores = new Map<string, Promise<PackStore>>();
  private lock?: StoreLock;
  constructor(readonly root: string) {}

  /**
   * Claims the data directory for this process until close(). Why: db.json is kept in memory
   * by a running hub and rewritten whole, so a second process (another hub, or add-user while
   * the hub runs) would have its users overwritten, and its keys refused meanwhile.
   */
  async claim(op: string): Promise<void> {
    await mkdirp(this.root);
    try { this.lock = await StoreLock.acquire(path.join(this.root, 'hub.lock'), { op, timeoutMs: 0 }); } catch (e) {
      const holder = (e as DmError).details?.holder as { pid: number; op: string; since: string } | undefined;
      if (!holder) throw e;
      throw new DmError('STORE_LOCKED', `The hub data directory ${this.root} is in use by process ${holder.pid} ("${holder.op}", since ${holder.since}).`,
        'One hub process per data directory. "dm hub user add" reaches a running hub through its admin socket (admin/socket there); where that socket is missing, sign up on the hub\'s /signup page or stop the hub first.', { holder });
    }
  }

  private dotDir(owner: string, dot: string): string { return path.join(this.root, 'dots', owner, dot); }

  async readDb() { return readIfExists(path.join(this.root, 'db.json')); }
  async writeDb(doc: string) { await mkdirp(this.root); await atomicWrite(path.join(this.root, 'db.json'), doc, 0o600); }

  objects(owner: string, dot: string, hash: HashName): Promise<HubObjects> {
    const k = owner + '/' + dot;
    let s = this.stores.get(k);
    if (!s) { s = PackStore.open(path.join(this.dotDir(owner, dot), 'objects', 'packs'), { level: 3, hash }); this.stores.set(k, s); s.catch(() => this.stores.delete(k)); }
    return s;
  }

  async refs(owner: string, dot: string): Promise<Record<string, string>> {
    const dir = path.join(this.dotDir(owner, dot), 'refs');
    const out: Record<string, string> = {};
    for (const b of (await fsp.readdir(dir).catch(() => [] as string[])).filter((n) => !n.startsWith('.')).sort()) {
      const v = ((await readIfExists(path.join(dir, b))) ?? '').trim();
      if (/^[0-9a-f]{64}$/.test(v)) out[b] = v;
    }
    return out;
  }

  async setRef(owner: string, dot: string, branch: string, id: string, log: { from: string | null; user: string }) {
    const dir = this.dotDir(owner, dot);
    await mkdirp(path.join(dir, 'refs'));
    // Why a reflog on the hub too: every head the hub ever had stays recoverable.
    await appendLine(path.join(dir, 'reflog'), JSON.stringify({ time: new Date().toISOString(), branch, from: log.from, to: id, user: log.user }));
    await atomicWrite(path.join(dir, 'refs', branch), id + '\n');
  }

  async close() {
    for (const s of this.stores.values()) await (await s.catch(() => undefined))?.close().catch(() => {});
    this.stores.clear();
    await this.lock?.release();
    this.lock = undefined;
  }
}
