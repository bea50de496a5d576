import { promises as fsp, readFileSync, readdirSync, statSync, write as fsWrite } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { digest } from './digest';
import { DmError } from '../contract/errors';
import { ObjectStore, ObjectType, ObjectInfo, TYPE_CODE, CODE_TYPE, objectId, ID_BYTES, REC_HEADER, HashName, DEFAULT_HASH } from './objects';
import { encode, decode, Codec } from './compress';
import { fsyncDir, isNotFound, tmpNameFor } from './fsutil';
import { crashPoint } from './crash';
import { chunkPool, StoredRecord, CreatedStat } from './chunk-pool';
import { PackIndex, IDX_MAGIC, IDX_ENTRY, IDX_FORMAT_BLAKE3, validIndex, entryAt } from './pack-index';
import { AlignedBuffer, DIRECT_ALIGN, openDirect } from './direct-io';
import { copyBytes } from './native';

const PACK_MAGIC = Buffer.from('DMPK');
const FORMAT = 1;
/** A pack is closed and a new one started past this size, so no single file grows without bound. */
const PACK_LIMIT = 512 * 1024 * 1024;
/** Packs under this size count as small (see compact). */
export const SMALL_PACK = 8 * 1024 * 1024;
/** More small packs than this are merged into one by compact and gc. */
export const SMALL_PACKS_MAX = 16;

/**
 * How many of the smallest packs (sizes ascending) to merge so that the rest form a geometric
 * sequence: each at least twice the size of all packs smaller than it together. 0 when they do.
 */
export function geometricSplit(sizes: number[]): number {
  let below = sizes.reduce((a, b) => a + b, 0);
  for (let i = sizes.length - 1; i > 0; i--) {
    below -= sizes[i];
    if (sizes[i] < 2 * below) return i + 1;
  }
  return 0;
}
/** Records are buffered and written in blocks of about this size. */
const WRITE_BLOCK = 4 * 1024 * 1024;
/** Bytes of a pack written between background flushes (PackWriter.writeBehind; DM_SYNC_AHEAD_MB). */
const syncAhead = (): number => (Number(process.env.DM_SYNC_AHEAD_MB) || 64) * 1024 * 1024;

/** Location of an object inside a pack. */
export interface PackLoc {
  pack: string;
  type: ObjectType;
  codec: Codec;
  offset: number;
  stored: number;
  size: number;
}

/** Options for a PackStore. */
export interface PackStoreOptions {
  /** zstd level (recorded in store.json). */
  level: number;
  /** How objects are named (recorded in store.json, or for a hub dot in its row); default DEFAULT_HASH. */
  hash?: HashName;
}

/**
 * Staging buffers of closed packs, for the next ones. Why: a hub flushes a pack per batch it
 * receives, and a pull per batch it fetches; each new pack's stage was fresh memory, and copying
 * into never-touched pages (a fault each, slow on a VM) took a hub 0.6 s of a 277 MiB push.
 */
const spareStages: AlignedBuffer[] = [];
const MAX_SPARE_STAGES = 2;

/**
 * A pack being written: records go to a temp file, which gets its final name at flush.
 * Where the filesystem allows, records are copied into an aligned staging buffer as they are
 * added, and whole 64 KiB blocks are written from it with O_DIRECT once about WRITE_BLOCK bytes
 * are staged (direct-io.ts); only the last partial block goes through the page cache. Without
 * O_DIRECT, added buffers are kept and written with writev.
 */
class PackWriter {
  readonly entries = new Map<string, PackLoc>();
  /** Buffers added and not yet written (without O_DIRECT only). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes of the file written for good (a multiple of DIRECT_ALIGN while direct). */
  private written = 0;
  /** Bytes at the start of the stage not yet written for good. */
  private staged = 0;
  private stage?: AlignedBuffer;
  size = PACK_MAGIC.length + 4;
  /** Bytes written since the last background flush started (see writeBehind). */
  private unflushed = 0;
  /** The background flush under way, if any. */
  private flushing?: Promise<void>;
  private constructor(readonly tmpPath: string, readonly fh: FileHandle, private direct: FileHandle | undefined) {
    if (direct) this.stage = spareStages.pop() ?? new AlignedBuffer();
  }

  static async create(dir: string): Promise<PackWriter> {
    const tmp = tmpNameFor(path.join(dir, 'pack'));
    const fh = await fsp.open(tmp, 'wx+', 0o600);
    // Opened twice while still writable by its owner; packs are read-only from then on.
    const direct = await openDirect(tmp);
    await fh.chmod(0o444);
    const w = new PackWriter(tmp, fh, direct);
    const head = Buffer.alloc(8);
    PACK_MAGIC.copy(head, 0);
    head.writeUInt32BE(FORMAT, 4);
    w.put(head);
    return w;
  }

  /** Buffers `b` for writing: into the stage (the caller may reuse `b` at once) or the pending list. */
  private put(b: Buffer): void {
    if (this.stage) {
      copyBytes(this.stage.view(this.staged + b.length), this.staged, b);
      this.staged += b.length;
    } else {
      this.pending.push(b);
      this.pendingBytes += b.length;
    }
  }

  add(id: string, type: ObjectType, codec: Codec, size: number, bytes: Buffer): PackLoc {
    const h = Buffer.alloc(REC_HEADER);
    h.writeUInt8(TYPE_CODE[type], 0);
    h.write(id, 1, 'hex');
    h.writeUInt8(codec, 1 + ID_BYTES);
    h.writeUInt32BE(size, 2 + ID_BYTES);
    h.writeUInt32BE(bytes.length, 6 + ID_BYTES);
    const loc: PackLoc = { pack: this.tmpPath, type, codec, offset: this.size + REC_HEADER, stored: bytes.length, size };
    this.put(h);
    this.put(bytes);
    this.size += h.length + bytes.length;
    this.entries.set(id, loc);
    return loc;
  }

  get needsDrain(): boolean { return (this.stage ? this.staged : this.pendingBytes) >= WRITE_BLOCK; }

  /**
   * Makes the added buffers free for reuse: writes the pending ones, or, when staging, the
   * staged whole blocks once about WRITE_BLOCK bytes are staged. With `complete`, every byte is
   * in the file after it (for reading back and before fsync).
   * Why not write the stage every time: a block of small files would be written as its own
   * 64 KiB O_DIRECT write, each waited for (2,000 uploads: over a thousand such writes).
   */
  async drain(complete = false): Promise<void> {
    if (!this.direct || !this.stage) {
      const bufs = this.pending;
      const bytes = this.pendingBytes;
      this.pending = [];
      this.pendingBytes = 0;
      if (bufs.length) { crashPoint('pack:drain'); await this.fh.writev(bufs, this.written); this.written += bytes; this.writeBehind(bytes); }
      return;
    }
    if (!complete && this.staged < WRITE_BLOCK) return;
    let view = this.stage.view(this.staged);
    const whole = this.staged - (this.staged % DIRECT_ALIGN);
    if (whole > 0) {
      crashPoint('pack:drain');
      try {
        await writeFully(this.direct, view, 0, whole, this.written);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
        // This filesystem wants another alignment: write the stage and go on through the page cache.
        await writeFully(this.fh, view, 0, this.staged, this.written);
        this.written += this.staged;
        this.staged = 0;
        await this.direct.close();
        this.direct = undefined;
        this.stage = undefined;
        return;
      }
      view.copy(view, 0, whole, this.staged);
      this.written += whole;
      this.writeBehind(whole);
      this.staged -= whole;
      view = this.stage.view(this.staged);
    }
    // The partial last block goes through the page cache and stays staged: the next direct
    // write rewrites it whole (the kernel drops the cached copy of what it overwrites).
    if (complete && this.staged > 0) await writeFully(this.fh, view, 0, this.staged, this.written);
  }

  /**
   * Every syncAhead() bytes written, starts an fdatasync in the background (one at a time). Why:
   * the pack's fsync at the end waited for everything written so far to reach the disk (a VM
   * host keeps direct writes in its own cache): up to 0.27 s for a 512 MiB pack, with the
   * commit's other writes queued behind it. Flushed as they go, the end waits for the last part.
   */
  private writeBehind(bytes: number): void {
    this.unflushed += bytes;
    if (this.unflushed < syncAhead() || this.flushing) return;
    this.unflushed = 0;
    this.flushing = this.fh.datasync().catch(() => undefined).finally(() => { this.flushing = undefined; });
  }

  /** Makes every byte written durable (after drain(true)). */
  async sync(): Promise<void> {
    await this.flushing;
    await this.fh.sync();
  }

  /** Closes the file(s); the stage goes to the next pack. */
  async close(): Promise<void> {
    await this.flushing;
    await this.direct?.close().catch(() => {});
    await this.fh.close();
    if (this.stage && spareStages.length < MAX_SPARE_STAGES) spareStages.push(this.stage);
    this.stage = undefined;
  }
}

async function writeFully(fh: FileHandle, buf: Buffer, offset: number, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await fh.write(buf, offset + done, length - done, position + done);
    done += bytesWritten;
  }
}

/** Serializes a pack index: sorted entries and a trailing digest so damage is detected (see validIndex). */
export function encodeIndex(entries: Map<string, PackLoc>): Buffer {
  const ids = [...entries.keys()].sort();
  const buf = Buffer.alloc(12 + ids.length * IDX_ENTRY + 32);
  IDX_MAGIC.copy(buf, 0);
  buf.writeUInt32BE(IDX_FORMAT_BLAKE3, 4);
  buf.writeUInt32BE(ids.length, 8);
  let o = 12;
  for (const id of ids) {
    const e = entries.get(id)!;
    buf.write(id, o, 'hex');
    buf.writeUInt8(TYPE_CODE[e.type], o + 32);
    buf.writeUInt8(e.codec, o + 33);
    buf.writeBigUInt64BE(BigInt(e.offset), o + 34);
    buf.writeUInt32BE(e.stored, o + 42);
    buf.writeUInt32BE(e.size, o + 46);
    o += IDX_ENTRY;
  }
  digest('pack index', buf.subarray(0, o)).copy(buf, o);
  return buf;
}

/** Parses a pack index; returns undefined when it is damaged (then it is rebuilt from the pack). */
function decodeIndex(buf: Buffer, pack: string): Map<string, PackLoc> | undefined {
  if (!validIndex(buf)) return undefined;
  const m = new Map<string, PackLoc>();
  const end = 12 + buf.readUInt32BE(8) * IDX_ENTRY;
  for (let o = 12; o < end; o += IDX_ENTRY) m.set(buf.toString('hex', o, o + ID_BYTES), entryAt(buf, o, pack));
  return m;
}

/**
 * Name of a pack: a digest of its sorted id list (deterministic and cheap: no second pass over
 * the data). Packs written before BLAKE3 digests are named by SHA-256; names are only names.
 */
function packName(ids: Iterable<string>): string {
  return 'pack-' + digest('pack name', [...ids].sort().join('')).toString('hex');
}

/** One damaged record found while scanning a pack. */
export interface PackDamage { pack: string; offset: number; id?: string; problem: string }

/**
 * Reads a pack's records from disk one by one (used to rebuild an index, by verify and by gc).
 * Stops at the first record that does not parse (truncated tail) and reports it.
 */
export async function* scanPack(file: string): AsyncGenerator<{ id: string; loc: PackLoc; bytes: Buffer } | { damage: PackDamage }> {
  const fh = await fsp.open(file, 'r');
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(8);
    await fh.read(head, 0, 8, 0);
    if (!head.subarray(0, 4).equals(PACK_MAGIC)) { yield { damage: { pack: file, offset: 0, problem: 'not a pack file (bad magic)' } }; return; }
    let off = 8;
    const h = Buffer.alloc(REC_HEADER);
    while (off < size) {
      if (off + REC_HEADER > size) { yield { damage: { pack: file, offset: off, problem: 'truncated record header' } }; return; }
      await fh.read(h, 0, REC_HEADER, off);
      const type = CODE_TYPE[h.readUInt8(0)];
      const id = h.toString('hex', 1, 33);
      const codec = h.readUInt8(33) as Codec;
      const raw = h.readUInt32BE(34);
      const stored = h.readUInt32BE(38);
      if (!type || (codec !== 0 && codec !== 1) || off + REC_HEADER + stored > size) {
        yield { damage: { pack: file, offset: off, id, problem: 'damaged record header' } };
        return;
      }
      const bytes = Buffer.alloc(stored);
      await fh.read(bytes, 0, stored, off + REC_HEADER);
      yield { id, loc: { pack: file, type, codec, offset: off + REC_HEADER, stored, size: raw }, bytes };
      off += REC_HEADER + stored;
    }
  } finally {
    await fh.close();
  }
}

/**
 * The disk object store: objects compressed with zstd in append-only pack files,
 * each with a sorted index. Packs become visible only when complete (temp -> fsync -> rename).
 */
export class PackStore implements ObjectStore {
  private index = new PackIndex();
  /** Index bytes of the packs seen so far (packs are immutable, so each is read once). */
  private loaded = new Map<string, Buffer>();
  /** The inode of each pack when its index was loaded (see reload). */
  private loadedIno = new Map<string, number>();
  private writer?: PackWriter;
  private inflight = new Map<string, Promise<string>>();
  private handles = new Map<string, Promise<FileHandle>>();
  private writeChain: Promise<void> = Promise.resolve();
  /** Bytes of new (not deduplicated) objects stored since open, raw and compressed. */
  readonly stats = { newObjects: 0, newRawBytes: 0, newStoredBytes: 0, dedupedObjects: 0 };

  private constructor(readonly dir: string, readonly opts: PackStoreOptions) {}

  get hash(): HashName { return this.opts.hash ?? DEFAULT_HASH; }

  /** Opens (creating if needed) the pack directory and loads every pack index. */
  static async open(dir: string, opts: PackStoreOptions): Promise<PackStore> {
    await fsp.mkdir(dir, { recursive: true });
    const s = new PackStore(dir, opts);
    await s.reload();
    return s;
  }

  /** Re-reads the pack indexes (after another process wrote packs, or gc rewrote them). */
  async reload(): Promise<void> {
    const next = new PackIndex();
    let names: string[];
    try { names = readdirSync(this.dir); } catch (e) { if (isNotFound(e)) names = []; else throw e; }
    const present = new Set<string>();
    const bufs: [string, Buffer][] = [];
    for (const n of names.filter((x) => x.startsWith('pack-') && x.endsWith('.pack'))) {
      const pack = path.join(this.dir, n);
      present.add(pack);
      const idxPath = pack.replace(/\.pack$/, '.idx');
      // Why the inode: a pack is immutable, but another process's gc may have replaced it by
      // one of the same name (the same objects) whose records lie elsewhere; then its index and
      // any open descriptor are stale.
      let ino: number;
      try { ino = statSync(pack).ino; } catch (e) { if (isNotFound(e)) { present.delete(pack); continue; } throw e; }
      if (this.loadedIno.get(pack) !== ino) {
        this.loaded.delete(pack);
        const h = this.handles.get(pack);
        if (h) { this.handles.delete(pack); (await h).close().catch(() => {}); }
      }
      this.loadedIno.set(pack, ino);
      let buf: Buffer | undefined = this.loaded.get(pack);
      // Why synchronous: an index of a small pack reads in microseconds, four promise round
      // trips through the thread pool (open, stat, read, close) took a millisecond each; every
      // command loads every index.
      if (!buf) try { buf = readFileSync(idxPath); if (!validIndex(buf)) buf = undefined; } catch (e) { if (!isNotFound(e)) throw e; }
      if (!buf) {
        // Why: the index is a cache of the pack; a crash between the two renames, or a damaged
        // index, is repaired by scanning the self-describing pack records.
        const m = new Map<string, PackLoc>();
        for await (const r of scanPack(pack)) if ('id' in r) m.set(r.id, r.loc);
        buf = encodeIndex(m);
        try { await writeIndexFile(idxPath, buf); } catch { /* read-only store: keep in memory */ }
      }
      this.loaded.set(pack, buf);
      bufs.push([pack, buf]);
    }
    for (const [pack, buf] of bufs) next.add(pack, buf);
    for (const p of [...this.loaded.keys()]) if (!present.has(p)) { this.loaded.delete(p); this.loadedIno.delete(p); }
    this.index = next;
    for (const [p, h] of this.handles) if (!names.includes(path.basename(p))) { this.handles.delete(p); (await h).close().catch(() => {}); }
  }

  has(id: string): boolean {
    return this.index.has(id) || !!this.writer?.entries.has(id) || this.inflight.has(id);
  }

  info(id: string): ObjectInfo | undefined {
    const l = this.index.get(id) ?? this.writer?.entries.get(id);
    return l && { id, type: l.type, size: l.size };
  }

  /** Location of an object (for bundles and transfers that copy stored bytes as they are). */
  locate(id: string): PackLoc | undefined {
    return this.index.get(id) ?? this.writer?.entries.get(id);
  }

  *ids(): Iterable<string> {
    yield* this.index.ids();
    if (this.writer) for (const id of this.writer.entries.keys()) if (!this.index.has(id)) yield id;
  }

  private handle(p: string): Promise<FileHandle> {
    if (this.writer && p === this.writer.tmpPath) return Promise.resolve(this.writer.fh);
    let h = this.handles.get(p);
    if (!h) { h = fsp.open(p, 'r'); this.handles.set(p, h); h.catch(() => this.handles.delete(p)); }
    return h;
  }

  /** Reads the stored (possibly compressed) bytes of an object. */
  async readStored(id: string): Promise<{ loc: PackLoc; bytes: Buffer }> {
    let loc = this.locate(id);
    if (!loc) {
      // Why: another process (the CLI while the app runs) may have written a pack since we
      // loaded the indexes; reading never takes the lock, so look again once.
      await this.reload();
      loc = this.locate(id);
    }
    if (!loc) throw new DmError('OBJECT_MISSING', `Object ${id.slice(0, 12)} is missing from the store.`, 'Run "dm verify" to see what is affected.', { id });
    if (this.writer && loc.pack === this.writer.tmpPath) await this.serialWrite(() => this.writer!.drain(true));
    let fh: FileHandle;
    try {
      fh = await this.handle(loc.pack);
    } catch (e) {
      // Why: gc may have replaced the pack since we loaded the index; reload once and retry.
      if (!isNotFound(e)) throw e;
      await this.reload();
      loc = this.locate(id);
      if (!loc) throw new DmError('OBJECT_MISSING', `Object ${id.slice(0, 12)} is missing from the store.`, 'Run "dm verify".', { id });
      fh = await this.handle(loc.pack);
    }
    const bytes = Buffer.alloc(loc.stored);
    const { bytesRead } = await fh.read(bytes, 0, loc.stored, loc.offset);
    if (bytesRead !== loc.stored) throw corrupt(id, loc, 'pack file is truncated');
    return { loc, bytes };
  }

  async get(id: string): Promise<Buffer> {
    const { loc, bytes } = await this.readStored(id);
    let data: Buffer;
    try { data = await decode(loc.codec, bytes); } catch { throw corrupt(id, loc, 'compressed data is damaged'); }
    if (data.length !== loc.size || objectId(loc.type, data, this.hash) !== id) throw corrupt(id, loc, 'content does not match its hash');
    return data;
  }

  /** Starts the chunk workers now, so they boot (about 75 ms) while the caller reads trees. */
  prepareWrites(): void {
    chunkPool().prestart();
  }

  /**
   * Writes consecutive chunks into the open file `fd` from `position` on: records that lie back
   * to back in a pack are read, decompressed, verified and written by a worker of the pool as one
   * run (the main thread only plans). Throws STORE_CORRUPT naming the first damaged chunk.
   */
  async writePieces(ids: string[], fd: number, position: number, directFd?: number): Promise<void> {
    const pool = chunkPool();
    const jobs: Promise<void>[] = [];
    let pos = position;
    let i = 0;
    while (i < ids.length) {
      const first = this.locate(ids[i]);
      if (!first || (this.writer && first.pack === this.writer.tmpPath)) {
        // Not in a complete pack yet (or unknown: get() reloads and names what is missing).
        const at = pos;
        jobs.push(this.get(ids[i]).then(async (data) => { let done = 0; while (done < data.length) done += (await writeAt(fd, data, done, at + done)); }));
        pos += first?.size ?? 0;
        i++;
        continue;
      }
      const run = this.runAt(ids, i, first);
      jobs.push(pool.writeRun(this.hash, first.pack, run.start, run.len, run.recs, fd, pos, directFd).then(({ bad, truncated }) => this.checkRun(run.recs, first, bad, truncated)));
      pos += run.bytes;
      i += run.recs.length;
    }
    const results = await Promise.allSettled(jobs);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * The longest run of `ids` from `i` on (at most about 8 MiB) whose records lie back to back
   * in the pack of `first` (ids[i]'s location). It is read from the first record's header on:
   * the worker checks every record's header against the id it wants (see chunk-worker.ts).
   */
  private runAt(ids: string[], i: number, first: PackLoc): { start: number; len: number; recs: StoredRecord[]; bytes: number } {
    const start = first.offset - REC_HEADER;
    let end = first.offset + first.stored;
    const recs: StoredRecord[] = [{ id: ids[i], type: first.type, codec: first.codec, offset: REC_HEADER, stored: first.stored, size: first.size }];
    let bytes = first.size;
    for (let j = i + 1; j < ids.length && end - first.offset < 8 * 1024 * 1024; j++) {
      const l = this.locate(ids[j]);
      if (!l || l.pack !== first.pack || l.offset !== end + REC_HEADER) break;
      recs.push({ id: ids[j], type: l.type, codec: l.codec, offset: l.offset - start, stored: l.stored, size: l.size });
      end = l.offset + l.stored;
      bytes += l.size;
    }
    return { start, len: end - start, recs, bytes };
  }

  /** Throws STORE_CORRUPT for what a worker found wrong in a run. */
  private checkRun(recs: StoredRecord[], first: PackLoc, bad: number, truncated: boolean): void {
    if (truncated) throw corrupt(recs[0].id, first, 'pack file is truncated');
    if (bad >= 0) throw corrupt(recs[bad].id, this.locate(recs[bad].id) ?? first, 'content does not match its hash');
  }

  /**
   * Creates the file `abs` (which must not exist) holding the chunks `ids` in a chunk worker,
   * with its owner (when `meta.chown`), mode and mtime set, and returns its stat; for a file
   * whose chunks are one run in a complete pack (or none). Returns undefined, having done
   * nothing, for any other file: the caller writes it piece by piece.
   */
  async createFile(ids: string[], abs: string, meta: { mode: number; uid: number; gid: number; mtime: string; chown: boolean }): Promise<CreatedStat | undefined> {
    if (ids.length === 0) {
      const r = await chunkPool().createFile(this.hash, abs, meta, null);
      return r.stat.length ? r.stat : undefined;
    }
    const first = this.locate(ids[0]);
    if (!first || (this.writer && first.pack === this.writer.tmpPath)) return undefined;
    const run = this.runAt(ids, 0, first);
    if (run.recs.length !== ids.length) return undefined;
    const r = await chunkPool().createFile(this.hash, abs, meta, { pack: first.pack, packOffset: run.start, packLen: run.len, recs: run.recs });
    this.checkRun(run.recs, first, r.bad, r.truncated);
    return r.stat.length ? r.stat : undefined;
  }

  put(type: ObjectType, data: Uint8Array, knownId?: string): Promise<string> {
    const id = knownId ?? objectId(type, data, this.hash);
    if (this.index.has(id) || this.writer?.entries.has(id)) { this.stats.dedupedObjects++; return Promise.resolve(id); }
    const running = this.inflight.get(id);
    if (running) { this.stats.dedupedObjects++; return running; }
    const p = (async () => {
      const { codec, bytes } = await encode(data, this.opts.level);
      await this.addEncoded(id, type, codec, data.length, bytes);
      return id;
    })();
    this.inflight.set(id, p);
    p.then(() => this.inflight.delete(id), () => this.inflight.delete(id));
    return p;
  }

  /**
   * Stores objects encoded by the chunk pool, which computed their ids from the raw bytes: no
   * second decode. Seen by has() at once, so a concurrent duplicate is not stored twice.
   * One step of the write queue for a block's worth of objects; resolves once their bytes are
   * written to the pack file, so the caller may reuse the buffers they lie in.
   */
  putTrustedMany(objs: { id: string; type: ObjectType; codec: Codec; size: number; bytes: Buffer }[]): Promise<void> {
    const fresh = objs.filter((o) => { if (this.has(o.id)) { this.stats.dedupedObjects++; return false; } return true; });
    if (fresh.length === 0) return Promise.resolve();
    const p = this.serialWrite(async () => {
      for (const o of fresh) await this.append(o.id, o.type, o.codec, o.size, o.bytes, false);
      await this.writer?.drain();
    });
    const ids = p.then(() => '');
    for (const o of fresh) this.inflight.set(o.id, ids);
    const done = () => { for (const o of fresh) if (this.inflight.get(o.id) === ids) this.inflight.delete(o.id); };
    ids.then(done, done);
    return p;
  }

  /** Stores an object that arrives already encoded (from a bundle or a hub), after verifying it. */
  async putEncoded(id: string, type: ObjectType, codec: Codec, size: number, bytes: Buffer): Promise<void> {
    if (this.has(id)) return;
    const data = await decode(codec, bytes);
    if (data.length !== size || objectId(type, data, this.hash) !== id) throw new DmError('STORE_CORRUPT', `Received object ${id.slice(0, 12)} does not match its hash.`, 'The transfer or file is damaged; nothing was stored from it.');
    await this.addEncoded(id, type, codec, size, bytes);
  }

  private serialWrite<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.writeChain.then(fn);
    this.writeChain = r.then(() => undefined, () => undefined);
    return r;
  }

  private addEncoded(id: string, type: ObjectType, codec: Codec, size: number, bytes: Buffer): Promise<void> {
    return this.serialWrite(() => this.append(id, type, codec, size, bytes, true));
  }

  /** Adds one record to the open pack (starting a new one past PACK_LIMIT); runs inside serialWrite. */
  private async append(id: string, type: ObjectType, codec: Codec, size: number, bytes: Buffer, drain: boolean): Promise<void> {
    if (this.index.has(id) || this.writer?.entries.has(id)) return;
    if (this.writer && this.writer.size + bytes.length > PACK_LIMIT) await this.finishPack();
    if (!this.writer) this.writer = await PackWriter.create(this.dir);
    this.writer.add(id, type, codec, size, bytes);
    this.stats.newObjects++;
    this.stats.newRawBytes += size;
    this.stats.newStoredBytes += bytes.length;
    if (drain && this.writer.needsDrain) await this.writer.drain();
  }

  /**
   * Crash-safety: drain -> fsync pack -> rename pack -> fsync dir -> write index (temp, rename).
   * A crash before the pack rename leaves only a temp file; after it, a pack whose index reload()
   * rebuilds when it is missing or does not check out (see writeIndexFile).
   */
  private async finishPack(): Promise<string | undefined> {
    const w = this.writer;
    if (!w) return undefined;
    this.writer = undefined;
    await w.drain(true);
    if (w.entries.size === 0) { await w.close(); await fsp.rm(w.tmpPath, { force: true }); return undefined; }
    await w.sync();
    await w.close();
    const name = packName(w.entries.keys());
    const pack = path.join(this.dir, name + '.pack');
    crashPoint('pack:before-rename');
    await fsp.rename(w.tmpPath, pack);
    crashPoint('pack:renamed');
    await fsyncDir(this.dir);
    const fixed = new Map<string, PackLoc>();
    for (const [id, loc] of w.entries) fixed.set(id, { ...loc, pack });
    const idx = encodeIndex(fixed);
    await writeIndexFile(pack.replace(/\.pack$/, '.idx'), idx);
    if (!this.loaded.has(pack)) { this.loaded.set(pack, idx); this.loadedIno.set(pack, statSync(pack).ino); this.index.add(pack, idx); }
    return pack;
  }

  async flush(): Promise<void> {
    await Promise.all([...this.inflight.values()]);
    await this.serialWrite(() => this.finishPack());
  }

  /** Names of the complete pack files. */
  async packs(): Promise<string[]> {
    return (await fsp.readdir(this.dir)).filter((n) => n.startsWith('pack-') && n.endsWith('.pack')).map((n) => path.join(this.dir, n));
  }

  /** Number of objects and bytes per pack (for gc decisions and status). */
  packOf(id: string): string | undefined { return this.index.get(id)?.pack; }

  /** The packs under SMALL_PACK bytes, with their sizes. */
  async smallPacks(): Promise<{ pack: string; size: number }[]> {
    const small: { pack: string; size: number }[] = [];
    for (const p of await this.packs()) {
      const size = (await fsp.stat(p).catch(() => undefined))?.size ?? Infinity;
      if (size < SMALL_PACK) small.push({ pack: p, size });
    }
    return small;
  }

  /**
   * Every commit adds a small pack (its commit object and changed trees), and every command
   * loads every pack's index: past SMALL_PACKS_MAX small packs, the smallest of them are copied
   * into one pack (each object checked against its id) and the old packs removed. Which ones:
   * sorted by size, the packs that are not at least twice as big as all smaller ones together
   * (a geometric sequence, as git's geometric repack). Why: merging every small pack rewrote the
   * first commit's trees (5.6 MB for the bench's data) every 16 commits, for a few bytes of new
   * commits. Nothing is dropped, so unlike gc this needs no walk of what is reachable: the store
   * lock runs it as a write operation finishes (as git runs its auto gc). Returns the number of
   * packs merged.
   */
  async compact(): Promise<number> {
    if (this.loaded.size <= SMALL_PACKS_MAX) return 0;
    const small = (await this.smallPacks()).sort((a, b) => a.size - b.size);
    if (small.length <= SMALL_PACKS_MAX) return 0;
    const merge = geometricSplit(small.map((p) => p.size));
    if (merge < 2) return 0;
    await this.rewrite(small.slice(0, merge).map((p) => p.pack), () => true);
    return merge;
  }

  /** Removes the pack's files (gc and compact only, under the exclusive lock). */
  async dropPack(pack: string): Promise<void> {
    crashPoint('gc:drop-pack');
    await chunkPool().closePacks();
    const h = this.handles.get(pack);
    if (h) { this.handles.delete(pack); (await h).close().catch(() => {}); }
    await fsp.rm(pack.replace(/\.pack$/, '.idx'), { force: true });
    await fsp.rm(pack, { force: true });
    await fsyncDir(this.dir);
  }

  /** The entries of one pack, from its index (or by scanning it when the index is missing). */
  async packEntries(pack: string): Promise<Map<string, PackLoc>> {
    let m: Map<string, PackLoc> | undefined;
    try { m = decodeIndex(await fsp.readFile(pack.replace(/\.pack$/, '.idx')), pack); } catch (e) { if (!isNotFound(e)) throw e; }
    if (m) return m;
    m = new Map();
    for await (const r of scanPack(pack)) if ('id' in r) m.set(r.id, r.loc);
    return m;
  }

  /**
   * Copies the objects `keep` accepts from `packs` into new packs, verifying each, then removes
   * the old packs. Only gc calls this, under the exclusive lock. Crash-safe: the new packs are
   * complete (fsynced, indexed) before any old pack is removed; duplicates are harmless.
   */
  async rewrite(packs: string[], keep: (id: string) => boolean): Promise<{ kept: number; dropped: number; droppedBytes: number; damaged: string[] }> {
    await this.flush();
    const copied = new Set<string>();
    let dropped = 0, droppedBytes = 0;
    const damaged: string[] = [];
    const damagedIn = new Set<string>();
    const dropping = new Set(packs);
    for (const pack of packs) {
      for (const [id, loc] of await this.packEntries(pack)) {
        if (!keep(id) || copied.has(id)) { if (!copied.has(id)) { dropped++; droppedBytes += loc.stored; } continue; }
        const other = this.index.get(id);
        if (other && !dropping.has(other.pack)) { copied.add(id); continue; }
        const fh = await this.handle(pack);
        const bytes = Buffer.alloc(loc.stored);
        await fh.read(bytes, 0, loc.stored, loc.offset);
        let ok = false;
        try { const d = await decode(loc.codec, bytes); ok = d.length === loc.size && objectId(loc.type, d, this.hash) === id; } catch { ok = false; }
        if (!ok) { damaged.push(id); damagedIn.add(pack); continue; }
        await this.serialWrite(async () => {
          if (this.writer && this.writer.size + bytes.length > PACK_LIMIT) await this.finishPack();
          if (!this.writer) this.writer = await PackWriter.create(this.dir);
          this.writer.add(id, loc.type, loc.codec, loc.size, bytes);
          if (this.writer.needsDrain) await this.writer.drain();
        });
        copied.add(id);
      }
    }
    const made = await this.serialWrite(() => this.finishPack());
    // Why the checks: a rewritten pack with the same ids gets the same name; it must not be
    // dropped. A pack holding a damaged object is kept: verify goes on naming the damage, and
    // whatever of it is still readable is not thrown away.
    for (const p of packs) if (p !== made && !damagedIn.has(p)) await this.dropPack(p);
    await this.reload();
    return { kept: copied.size, dropped, droppedBytes, damaged };
  }

  /** Drops a pending (unflushed) pack: used when an operation fails before anything references it. */
  async abort(): Promise<void> {
    await Promise.allSettled([...this.inflight.values()]);
    await this.writeChain;
    const w = this.writer;
    this.writer = undefined;
    if (w) { await w.close().catch(() => {}); await fsp.rm(w.tmpPath, { force: true }); }
  }

  async close(): Promise<void> {
    await this.flush();
    for (const h of this.handles.values()) (await h.catch(() => undefined))?.close().catch(() => {});
    this.handles.clear();
  }
}

/** pwrite through the thread pool; resolves to the bytes written. */
function writeAt(fd: number, data: Buffer, offset: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => fsWrite(fd, data, offset, data.length - offset, position, (e, n) => (e ? reject(e) : resolve(n))));
}

function corrupt(id: string, loc: PackLoc, problem: string): DmError {
  return new DmError('STORE_CORRUPT', `Object ${id.slice(0, 12)} in ${path.basename(loc.pack)} is damaged: ${problem}.`, 'Run "dm verify" to list what is affected; restore the state from a hub or bundle if you have one.', { id, pack: loc.pack });
}

/**
 * Writes a pack index whole (temp file, rename), without fsync. Why none: the index is a cache of
 * its pack, which is durable before the index is written. After a machine crash the index is
 * there and whole, or missing, or fails validIndex (its own SHA-256), and reload() rebuilds it
 * from the pack's self-describing records. The two fsyncs cost every commit 1.5 ms and two
 * thread-pool round trips.
 */
async function writeIndexFile(target: string, data: Buffer): Promise<void> {
  const tmp = tmpNameFor(target);
  const fh = await fsp.open(tmp, 'wx', 0o444);
  try { await fh.writeFile(data); } finally { await fh.close(); }
  crashPoint('idx:before-rename');
  await fsp.rename(tmp, target);
}
