import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { AsyncLocalStorage } from 'node:async_hooks';
import { DmError } from '../contract/errors';
import { validateName } from '../contract/names';
import type { CommitInfo, OpEntry } from '../contract/models';
import { PackStore } from './pack-store';
import { StoreLock } from './lock';
import { atomicWrite, atomicSymlink, appendLine, readIfExists, readdirOrEmpty, isNotFound, exists, mkdirp, removeTree } from './fsutil';
import { Commit, decodeCommit, encodeCommit } from './model';
import { StatCache, decodeCaches, encodeCaches } from './stat-cache';
import { isObjectId, isHashName, DEFAULT_HASH, HashName } from './objects';
import { crashPoint } from './crash';
import { defaultHome } from './defaults';
import { dmfs } from './native';
import { randomHex } from './digest';

/** The on-disk format description, recorded so future versions and other runtimes read it right. */
export interface StoreFormat { format: 1; hash: HashName; compression: 'zstd'; level: number; chunking: { kind: 'fixed'; size: number }; created: string }

/**
 * Default chunking: fixed 256 KiB chunks aligned to file offsets. Measured on the bench data
 * (bench/chunking.mjs, bytes after zstd, which is what a store keeps): PostgreSQL v1 + v2 store
 * 141.7 MB at 256 KiB, 144.8 at 128, 163.4 at 32 and 150.1 at 1024. Smaller chunks keep fewer
 * raw bytes after pgbench but compress worse one by one and cost more objects and index entries.
 */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;
/**
 * zstd level of new stores: level 2 measured fastest here with the smallest store (bench data,
 * 32 KiB chunks: PostgreSQL 1210 MB/s vs 1074 at level 3, Redis 647 vs 359 MB/s, same size).
 */
export const DEFAULT_LEVEL = 2;

export { defaultHome } from './defaults';

/**
 * The hash of a new store: DM_HASH when set (sha256 makes a store that can share with hubs and
 * bundles of stores made before BLAKE3 came in), else DEFAULT_HASH where the native helper can
 * hash with it. Without the helper, sha256: BLAKE3 in TypeScript hashes 80 MB/s here, against
 * 1.7 GB/s for Node's SHA-256 (and 7.1 GB/s for the helper's BLAKE3).
 */
function newStoreHash(): HashName {
  const env = process.env.DM_HASH;
  if (env === undefined || env === '') return DEFAULT_HASH === 'blake3' && !dmfs()?.blake3 ? 'sha256' : DEFAULT_HASH;
  if (!isHashName(env)) throw new DmError('INVALID_ARGUMENT', `DM_HASH is "${env}", which is not a hash this version knows.`, 'Set DM_HASH to blake3 or sha256, or unset it.');
  return env;
}

/** A crash-recovery journal: written after the new working directory is complete, replayed on the next lock. */
export interface Journal { op: 'create-branch' | 'reset'; branch: string; gen: string; oldGen?: string; from: string | null; to: string | null; setHead?: boolean; trashOld?: string }

/** True for the error readRef throws on a ref file that holds no commit id. */
export function isDamagedRef(e: unknown): boolean {
  return e instanceof DmError && e.code === 'STORE_CORRUPT' && e.details?.damagedRef === true;
}

/**
 * Removes a working directory nothing points at any more; false when this user may not (another
 * user's files, say a container's). Why go on without it: the operation that replaced it is
 * complete, and recovery, which runs before every operation, would otherwise fail them all until
 * root removed it. It stays an orphan, which the next operation run as root removes.
 */
async function removeGen(dir: string): Promise<boolean> {
  try { await removeTree(dir); return true; } catch (e) {
    if ((e as DmError).code === 'PERMISSION_DENIED') return false;
    throw e;
  }
}

/** The snapshot engine's store: objects, dots, refs, working states. All mutation happens under the lock. */
export class Engine {
  readonly objects: PackStore;
  /** First parent of each commit read so far (commits are immutable, so this never goes stale). */
  readonly firstParent = new Map<string, string | null>();
  /** Stat caches parsed lately, by file, with the file's identity when it was read (readCache). */
  private readonly parsedCaches = new Map<string, { key: string; caches: Record<string, StatCache> }>();
  /** Marks the async call chain that holds the lock (re-entry is allowed only inside it). */
  private readonly holder = new AsyncLocalStorage<boolean>();
  private lock?: StoreLock;
  /** The operation holding the lock in this process, for callers that wait behind it. */
  private heldFor?: string;
  private lockWaiters: Promise<void> = Promise.resolve();

  private constructor(readonly home: string, readonly fmt: StoreFormat, objects: PackStore) {
    this.objects = objects;
  }

  /** Opens the store at `home` (default: DM_HOME or the per-user data dir), creating it if needed. */
  static async open(home = defaultHome(), opts: { chunkSize?: number; level?: number; hash?: HashName } = {}): Promise<Engine> {
    await mkdirp(home);
    const fmtPath = path.join(home, 'store.json');
    let fmt: StoreFormat;
    const raw = await readIfExists(fmtPath);
    if (raw === undefined) {
      const envChunk = Number(process.env.DM_CHUNK_SIZE ?? 0);
      const size = opts.chunkSize ?? (envChunk >= 4096 && envChunk <= 4 * 1024 * 1024 && (envChunk & (envChunk - 1)) === 0 ? envChunk : DEFAULT_CHUNK_SIZE);
      const hash = opts.hash ?? newStoreHash();
      fmt = { format: 1, hash, compression: 'zstd', level: opts.level ?? DEFAULT_LEVEL, chunking: { kind: 'fixed', size }, created: new Date().toISOString() };
      await mkdirp(path.join(home, 'dots'));
      await atomicWrite(fmtPath, JSON.stringify(fmt, null, 2) + '\n');
    } else {
      try { fmt = JSON.parse(raw); } catch { throw new DmError('STORE_FORMAT', `${fmtPath} is not valid JSON.`, 'The store description is damaged; restore it or point DM_HOME elsewhere.'); }
      if (fmt.format !== 1 || !isHashName(fmt.hash) || fmt.compression !== 'zstd' || fmt.chunking?.kind !== 'fixed') {
        throw new DmError('STORE_FORMAT', `The store at ${home} uses format ${JSON.stringify(fmt.format)} (${fmt.hash}/${fmt.compression}) which this version cannot read.`, 'Upgrade Dotdesk.');
      }
    }
    const objects = await PackStore.open(path.join(home, 'objects', 'packs'), { level: fmt.level, hash: fmt.hash });
    return new Engine(home, fmt, objects);
  }

  /** Chunk size of this store. */
  get chunkSize(): number { return this.fmt.chunking.size; }
  /** How this store names objects (see HashName). */
  get hash(): HashName { return this.fmt.hash; }

  // ---- paths -------------------------------------------------------------------------------
  dotDir(dot: string): string { return path.join(this.home, 'dots', validateName('dot', dot)); }
  refPath(dot: string, branch: string): string { return path.join(this.dotDir(dot), 'refs', validateName('branch', branch)); }
  logPath(dot: string, branch: string): string { return path.join(this.dotDir(dot), 'logs', validateName('branch', branch)); }
  workLink(dot: string, branch: string): string { return path.join(this.dotDir(dot), 'work', validateName('branch', branch)); }
  genDir(dot: string, gen: string): string { return path.join(this.dotDir(dot), 'gens', gen); }
  cachePath(dot: string, gen: string): string { return path.join(this.dotDir(dot), 'cache', gen + '.json'); }
  journalPath(dot: string): string { return path.join(this.dotDir(dot), 'pending.json'); }

  // ---- locking -----------------------------------------------------------------------------
  /**
   * Runs `fn` holding the store lock (re-entrant within this process). After acquiring it,
   * reloads pack indexes (another process may have written) and replays crash journals.
   * `onWait` hears, once per wait, what this call waits for ("for process 123 (\"gc\") to finish").
   */
  async withLock<T>(op: string, fn: () => Promise<T>, onWait?: (msg: string) => void): Promise<T> {
    // Re-entrant only within the same async call chain: a concurrent request in the same
    // process (dm serve, the app) waits for the lock like any other process would.
    if (this.holder.getStore()) return fn();
    // Serialize callers inside this process (the app and dm serve run many requests at once).
    let release!: () => void;
    const prev = this.lockWaiters;
    this.lockWaiters = new Promise((r) => (release = r));
    // Why say so: a dm command attached to the app can sit behind a long push; it should not look hung.
    if (this.heldFor !== undefined) onWait?.(`for "${this.heldFor}" to finish`);
    await prev;
    try {
      this.lock = await StoreLock.acquire(path.join(this.home, 'lock'), { op, timeoutMs: Number(process.env.DM_LOCK_TIMEOUT_MS ?? 120_000), onWait: (h) => onWait?.(`for process ${h.pid} ("${h.op}") to finish`) });
      this.heldFor = op;
      try {
        return await this.holder.run(true, async () => {
          await this.objects.reload();
          await this.recover();
          const r = await fn();
          // Why here: every operation that writes packs finishes under this lock (gc merges on its own).
          if (!op.startsWith('gc')) await this.objects.compact().catch(() => { /* the next operation or gc tries again */ });
          return r;
        });
      } finally {
        await this.objects.abort().catch(() => {});
        await this.lock.release();
        this.lock = undefined;
        this.heldFor = undefined;
      }
    } finally {
      release();
    }
  }

  /** Replays crash journals and removes working directories nothing points at. Called under the lock. */
  async recover(): Promise<void> {
    for (const dot of await this.dotNames()) {
      const j = await readIfExists(this.journalPath(dot));
      if (j !== undefined) {
        let journal: Journal | undefined;
        try { journal = JSON.parse(j); } catch { journal = undefined; }
        if (journal) await this.applyJournal(dot, journal);
        await fsp.rm(this.journalPath(dot), { force: true });
      }
      await this.removeOrphanGens(dot);
    }
  }

  /** Completes an interrupted operation (every step is idempotent). */
  async applyJournal(dot: string, j: Journal): Promise<void> {
    if (!(await exists(this.genDir(dot, j.gen)))) return; // journal written before its gen? impossible; ignore
    if (j.op === 'create-branch') {
      if ((await this.readRef(dot, j.branch)) === undefined) await this.writeRef(dot, j.branch, j.to);
    } else {
      const cur = await this.readRef(dot, j.branch);
      if (cur === j.from) await this.writeRef(dot, j.branch, j.to);
    }
    await mkdirp(path.join(this.dotDir(dot), 'work'));
    await atomicSymlink(path.join('..', 'gens', j.gen), this.workLink(dot, j.branch));
    if (j.setHead) await atomicWrite(path.join(this.dotDir(dot), 'HEAD'), j.branch + '\n');
    crashPoint('journal:applied-link');
    if (j.oldGen && j.oldGen !== j.gen) {
      const old = this.genDir(dot, j.oldGen);
      if (j.trashOld) { await mkdirp(path.dirname(j.trashOld)); await fsp.rename(old, j.trashOld).catch((e) => { if (!isNotFound(e)) throw e; }); }
      else await removeGen(old);
      await fsp.rm(this.cachePath(dot, j.oldGen), { force: true });
    }
  }

  /** Removes gens (and caches) that no branch's working link points to: leftovers of interrupted operations. */
  private async removeOrphanGens(dot: string): Promise<number> {
    const used = new Set<string>();
    for (const b of await this.branchNames(dot)) { const g = await this.genOf(dot, b); if (g) used.add(g); }
    let n = 0;
    for (const g of await fsp.readdir(path.join(this.dotDir(dot), 'gens')).catch(() => [] as string[])) {
      if (!used.has(g) && (await removeGen(this.genDir(dot, g)))) n++;
    }
    for (const c of await fsp.readdir(path.join(this.dotDir(dot), 'cache')).catch(() => [] as string[])) {
      if (!used.has(c.replace(/\.json$/, ''))) await fsp.rm(path.join(this.dotDir(dot), 'cache', c), { force: true });
    }
    return n;
  }

  // ---- dots --------------------------------------------------------------------------------
  /** Names of all dots, sorted. */
  async dotNames(): Promise<string[]> {
    const names = readdirOrEmpty(path.join(this.home, 'dots'));
    return names.filter((n) => !n.startsWith('.')).sort();
  }

  /** Throws DOT_NOT_FOUND unless the dot exists. */
  async requireDot(dot: string): Promise<void> {
    validateName('dot', dot);
    if (!(await exists(path.join(this.dotDir(dot), 'dot.json')))) {
      throw new DmError('DOT_NOT_FOUND', `There is no dot named "${dot}".`, 'Run "dm list" to see your dots, or "dm init ' + dot + '" to create it.');
    }
  }

  /** True when the dot exists. */
  async hasDot(dot: string): Promise<boolean> {
    return exists(path.join(this.dotDir(dot), 'dot.json'));
  }

  /** Creates a dot with branch master (no commits yet) and an empty working state. */
  async createDot(dot: string): Promise<void> {
    validateName('dot', dot);
    await this.withLock('init ' + dot, async () => {
      if (await this.hasDot(dot)) throw new DmError('DOT_EXISTS', `A dot named "${dot}" already exists.`, 'Pick another name, or "dm switch ' + dot + '" to use it.');
      const dir = this.dotDir(dot);
      // Why this order: dot.json is written last, so a half-created dot is invisible and retried.
      await removeTree(dir);
      for (const d of ['refs', 'logs', 'work', 'gens', 'cache']) await mkdirp(path.join(dir, d));
      const gen = newGenId();
      await mkdirp(this.genDir(dot, gen));
      await atomicSymlink(path.join('..', 'gens', gen), this.workLink(dot, 'master'));
      await this.writeRef(dot, 'master', null);
      await atomicWrite(path.join(dir, 'HEAD'), 'master\n');
      await atomicWrite(path.join(dir, 'dot.json'), JSON.stringify({ name: dot, created: new Date().toISOString() }) + '\n');
    });
  }

  /** Creation time of a dot. */
  async dotCreated(dot: string): Promise<string> {
    const j = JSON.parse((await readIfExists(path.join(this.dotDir(dot), 'dot.json'))) ?? '{}');
    return j.created ?? '';
  }

  /** The current dot (set by dm switch / dm init), or undefined. */
  async currentDot(): Promise<string | undefined> {
    const c = (await readIfExists(path.join(this.home, 'current')))?.trim();
    if (!c) return undefined;
    return (await this.hasDot(c)) ? c : undefined;
  }

  /** Makes `dot` the current dot. */
  async switchDot(dot: string): Promise<void> {
    await this.requireDot(dot);
    await atomicWrite(path.join(this.home, 'current'), dot + '\n');
  }

  // ---- branches and refs ---------------------------------------------------------------------
  /** The dot's current branch. */
  async currentBranch(dot: string): Promise<string> {
    const b = (await readIfExists(path.join(this.dotDir(dot), 'HEAD')))?.trim();
    if (!b) throw new DmError('DOT_NOT_FOUND', `The dot "${dot}" has no current branch (damaged or being created).`, 'Run "dm verify".');
    return b;
  }

  /** Branch names of a dot, sorted (master first). */
  async branchNames(dot: string): Promise<string[]> {
    const names = readdirOrEmpty(path.join(this.dotDir(dot), 'refs')).filter((n) => !n.startsWith('.'));
    return names.sort((a, b) => (a === 'master' ? -1 : b === 'master' ? 1 : a < b ? -1 : a > b ? 1 : 0));
  }

  /** A branch's head: a commit id, null for a branch without commits, undefined when the branch does not exist. */
  async readRef(dot: string, branch: string): Promise<string | null | undefined> {
    const s = await readIfExists(this.refPath(dot, branch));
    if (s === undefined) return undefined;
    const v = s.trim();
    if (v === '') return null;
    if (!isObjectId(v)) throw await this.damagedRef(dot, branch);
    return v;
  }

  /** readRef, but a damaged ref reads as null (no commit known): for checking out a branch to repair it. */
  async peekRef(dot: string, branch: string): Promise<string | null | undefined> {
    return this.readRef(dot, branch).catch((e) => { if (isDamagedRef(e)) return null; throw e; });
  }

  /** The error for a ref file that holds no commit id (a torn write, a stray edit), with the head its reflog last recorded. */
  private async damagedRef(dot: string, branch: string): Promise<DmError> {
    const last = (await this.reflog(dot, branch)).reverse().find((e) => e.to && isObjectId(e.to) && this.objects.info(e.to)?.type === 'commit');
    const hint = last
      ? `Its reflog's last head is ${last.to!.slice(0, 12)} (${last.op} "${last.message}", ${last.time}): "dm checkout ${branch}", then "dm reset --force ${last.to!.slice(0, 12)}" puts it back and leaves the working state as it is.`
      : 'Run "dm verify"; its reflog names no commit, so restore the branch from a hub or bundle.';
    return new DmError('STORE_CORRUPT', `The ref of branch "${branch}" of dot "${dot}" is damaged.`, hint, { dot, branch, damagedRef: true });
  }

  /** Head of a branch that must exist. */
  async requireBranch(dot: string, branch: string): Promise<string | null> {
    const r = await this.readRef(dot, branch);
    if (r === undefined) throw new DmError('BRANCH_NOT_FOUND', `Dot "${dot}" has no branch "${branch}".`, 'Run "dm branch" to list branches, or "dm checkout -b ' + branch + '" to create it.');
    return r;
  }

  /** Writes a ref atomically (callers hold the lock). */
  async writeRef(dot: string, branch: string, id: string | null): Promise<void> {
    await mkdirp(path.dirname(this.refPath(dot, branch)));
    await atomicWrite(this.refPath(dot, branch), (id ?? '') + '\n');
  }

  /**
   * Moves a branch head by compare-and-swap and appends the move to the branch's reflog.
   * Why CAS under the lock: a ref only ever moves from the value the operation started from.
   */
  async moveRef(dot: string, branch: string, expected: string | null, next: string | null, op: string, message: string): Promise<void> {
    const cur = await this.readRef(dot, branch);
    if (cur !== expected) throw new DmError('CONCURRENT_UPDATE', `Branch "${branch}" of dot "${dot}" moved while this operation ran.`, 'Retry the operation.');
    await this.writeRef(dot, branch, next);
    await this.appendReflog(dot, branch, expected, next, op, message);
  }

  /** Appends to a branch's reflog (every ref move is recorded, so any head can be recovered). */
  async appendReflog(dot: string, branch: string, from: string | null | undefined, to: string | null, op: string, message: string): Promise<void> {
    await mkdirp(path.dirname(this.logPath(dot, branch)));
    await appendLine(this.logPath(dot, branch), JSON.stringify({ time: new Date().toISOString(), from: from ?? null, to, op, message: message.split('\n')[0] }));
  }

  /** The reflog of a branch, oldest first. */
  async reflog(dot: string, branch: string): Promise<{ time: string; from: string | null; to: string | null; op: string; message: string }[]> {
    const s = (await readIfExists(this.logPath(dot, branch))) ?? '';
    return s.split('\n').filter(Boolean).flatMap((l) => { try { return [JSON.parse(l)]; } catch { return []; } });
  }

  // ---- working states ----------------------------------------------------------------------
  /** The gen (working directory id) a branch's working link points at. */
  async genOf(dot: string, branch: string): Promise<string | undefined> {
    // Synchronous: see fsutil.ts.
    try { return path.basename(fs.readlinkSync(this.workLink(dot, branch))); } catch (e) { if (isNotFound(e)) return undefined; throw e; }
  }

  /** The working root of a branch (containing one directory per subdot). */
  async workRoot(dot: string, branch: string): Promise<string> {
    const g = await this.genOf(dot, branch);
    if (!g) throw new DmError('BRANCH_NOT_FOUND', `Branch "${branch}" of dot "${dot}" has no working state.`, 'Run "dm verify".');
    return this.genDir(dot, g);
  }

  /** Subdots present in a branch's working state, sorted. */
  async subdotNames(dot: string, branch?: string): Promise<string[]> {
    const root = await this.workRoot(dot, branch ?? (await this.currentBranch(dot)));
    let names: fs.Dirent[];
    try { names = fs.readdirSync(root, { withFileTypes: true }); } catch { names = []; }
    return names.filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name).sort();
  }

  /**
   * The directory Docker mounts for a subdot: the working directory of the dot's CURRENT branch.
   * Creates the subdot (empty) on first use. Lock-free on purpose: Docker calls this while a
   * checkout in another process holds the lock and waits for the container to start.
   */
  async workDir(dot: string, subdot: string, opts: { create?: boolean; branch?: string } = {}): Promise<string> {
    validateName('subdot', subdot);
    await this.requireDot(dot);
    const root = await this.workRoot(dot, opts.branch ?? (await this.currentBranch(dot)));
    const dir = path.join(root, subdot);
    if (opts.create) await fsp.mkdir(dir, { mode: 0o755 }).catch((e) => { if (e.code !== 'EEXIST') throw e; });
    else if (!(await exists(dir))) throw new DmError('NOT_FOUND', `Dot "${dot}" has no subdot "${subdot}".`, `Subdots are created by Docker volumes named ${dot}.${subdot}, or with "dm dot path ${dot} ${subdot}".`);
    return fsp.realpath(dir);
  }

  /** The stat cache of a gen. */
  async readCache(dot: string, gen: string): Promise<Record<string, StatCache>> {
    const file = this.cachePath(dot, gen);
    // Why remembered: reading and splitting the cache is part of every commit, status and dm list
    // in the app and dm serve. A rewrite is always a new file (atomic rename), so the same inode,
    // size and change time mean the same content, whichever process wrote it. Callers never
    // modify what they get (snapshotDir builds a new cache, reusing the records that still hold;
    // parsing a record's entries on first use changes nothing it says).
    let st: fs.BigIntStats | undefined;
    try { st = fs.statSync(file, { bigint: true, throwIfNoEntry: false }); } catch { st = undefined; }
    const key = st && `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    const known = this.parsedCaches.get(file);
    if (key && known?.key === key) return known.caches;
    let bytes: Buffer;
    try { bytes = fs.readFileSync(file); } catch (e) { if (isNotFound(e)) return {}; throw e; }
    const out = decodeCaches(bytes);
    if (key) {
      this.parsedCaches.delete(file);
      this.parsedCaches.set(file, { key, caches: out });
      // A handful of gens at most (branches switched between); the oldest goes first.
      if (this.parsedCaches.size > 8) this.parsedCaches.delete(this.parsedCaches.keys().next().value!);
    }
    return out;
  }

  /** Saves the stat cache of a gen (see encodeCaches). */
  async writeCache(dot: string, gen: string, caches: Record<string, StatCache>): Promise<void> {
    await mkdirp(path.join(this.dotDir(dot), 'cache'));
    await atomicWrite(this.cachePath(dot, gen), encodeCaches(caches));
  }

  // ---- commits -----------------------------------------------------------------------------
  /** Reads a commit object. */
  async readCommit(id: string): Promise<Commit> {
    const info = this.objects.info(id);
    if (info && info.type !== 'commit') throw new DmError('COMMIT_NOT_FOUND', `${id.slice(0, 12)} is not a commit.`);
    return decodeCommit(await this.objects.get(id), id);
  }

  /** Stores a commit object. */
  async writeCommit(c: Commit): Promise<string> {
    return this.objects.put('commit', encodeCommit(c));
  }

  /** A commit in its user-facing form. */
  async commitInfo(id: string, c?: Commit): Promise<CommitInfo> {
    const k = c ?? (await this.readCommit(id));
    return {
      id, shortId: id.slice(0, 12), parents: k.parents, message: k.message, author: k.author, time: k.time, metadata: k.metadata ?? {},
      taken: k.taken, subdots: Object.entries(k.subdots).map(([name, r]) => ({ name, files: r.files, bytes: r.bytes })), depth: (k as any).depth ?? 1,
    };
  }

  /**
   * Resolves what a user typed to a commit id: a full id, a unique prefix (4+ hex digits) of a
   * commit of this dot, a branch name, HEAD, and ~N / ^ suffixes.
   */
  async resolveCommit(dot: string, spec: string): Promise<string> {
    const m = /^(.*?)((?:[~^]\d*)*)$/.exec(spec.trim());
    const base = m ? m[1] : spec;
    const suffix = m ? m[2] : '';
    let id: string | null | undefined;
    if (base === 'HEAD' || base === '') id = await this.readRef(dot, await this.currentBranch(dot));
    else if ((await this.branchNames(dot)).includes(base)) id = await this.readRef(dot, base);
    else if (/^[0-9a-f]{4,64}$/.test(base)) {
      const hits = new Set<string>();
      for (const h of await this.reachableCommits(dot)) if (h.startsWith(base)) hits.add(h);
      if (hits.size === 0 && base.length === 64 && this.objects.info(base)?.type === 'commit') hits.add(base);
      if (hits.size > 1) throw new DmError('AMBIGUOUS_COMMIT', `"${base}" matches ${hits.size} commits.`, 'Type more characters of the commit id.');
      id = [...hits][0];
    }
    if (id === null) throw new DmError('NO_COMMITS', `"${base || 'HEAD'}" has no commits yet.`, 'Run "dm commit -m MESSAGE" first.');
    if (!id) throw new DmError('COMMIT_NOT_FOUND', `No commit or branch "${spec}" in dot "${dot}".`, 'Run "dm log" to see commit ids.');
    for (const part of suffix.match(/[~^]\d*/g) ?? []) {
      const n = part.length > 1 ? Number(part.slice(1)) : 1;
      for (let i = 0; i < n; i++) {
        const c = await this.readCommit(id!);
        if (!c.parents[0]) throw new DmError('COMMIT_NOT_FOUND', `"${spec}" goes past the first commit.`);
        id = c.parents[0];
      }
    }
    return id!;
  }

  /** Every commit reachable from this dot's branches and reflogs. */
  async reachableCommits(dot: string): Promise<Set<string>> {
    const seen = new Set<string>();
    const todo: string[] = [];
    for (const b of await this.branchNames(dot)) {
      // A damaged ref names nothing; its reflog below still reaches what it held.
      const h = await this.peekRef(dot, b);
      if (h) todo.push(h);
      for (const e of await this.reflog(dot, b)) { if (e.to) todo.push(e.to); if (e.from) todo.push(e.from); }
    }
    while (todo.length) {
      const id = todo.pop()!;
      if (seen.has(id) || !this.objects.has(id)) continue;
      seen.add(id);
      try { todo.push(...(await this.readCommit(id)).parents); } catch { /* damaged: verify reports it */ }
    }
    return seen;
  }

  // ---- operation log (undo) ------------------------------------------------------------------
  /** Appends an undoable operation. */
  async logOp(e: Omit<OpEntry, 'seq' | 'time'>): Promise<void> {
    await appendLine(path.join(this.home, 'oplog'), JSON.stringify({ seq: (await this.lastSeq()) + 1, time: new Date().toISOString(), ...e }));
  }

  /** The last sequence number of the operation log, read from its tail (the log only grows). */
  private async lastSeq(): Promise<number> {
    // Synchronous, as the other small metadata reads (see fsutil.ts).
    let fd: number;
    try { fd = fs.openSync(path.join(this.home, 'oplog'), 'r'); } catch (e) { if (isNotFound(e)) return 0; throw e; }
    try {
      const { size } = fs.fstatSync(fd);
      for (let want = 8192; ; want *= 4) {
        const len = Math.min(size, want);
        const buf = Buffer.alloc(len);
        fs.readSync(fd, buf, 0, len, size - len);
        const lines = buf.toString('utf8').split('\n').filter(Boolean);
        if (len < size) lines.shift(); // the first line may be cut
        for (let i = lines.length - 1; i >= 0; i--) {
          try { const j = JSON.parse(lines[i]); if (typeof j.seq === 'number') return j.seq; } catch { /* torn line */ }
        }
        if (len === size) return 0;
      }
    } finally { fs.closeSync(fd); }
  }

  /** The operation log, oldest first, with undone entries marked. */
  async ops(): Promise<OpEntry[]> {
    const s = (await readIfExists(path.join(this.home, 'oplog'))) ?? '';
    const list: OpEntry[] = [];
    const undone = new Set<number>();
    for (const l of s.split('\n')) {
      if (!l) continue;
      try {
        const e = JSON.parse(l);
        if (e.undo) undone.add(e.undo); else list.push(e);
      } catch { /* a torn last line after a crash is ignored */ }
    }
    for (const e of list) if (undone.has(e.seq)) e.undone = true;
    return list;
  }

  /** Marks an operation undone. */
  async markUndone(seq: number): Promise<void> {
    await appendLine(path.join(this.home, 'oplog'), JSON.stringify({ undo: seq, time: new Date().toISOString() }));
  }

  /** Closes file handles. */
  async close(): Promise<void> { await this.objects.close(); }
}

/** A fresh random id for a working directory generation. */
export function newGenId(): string {
  return Date.now().toString(36) + '-' + randomHex(6);
}
