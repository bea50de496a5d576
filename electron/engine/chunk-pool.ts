import type { Worker } from 'node:worker_threads';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Codec } from './compress';
import type { ObjectType, HashName } from './objects';

/** A run of records lying back to back in a pack (offsets relative to packOffset), ids 32 bytes each. */
export interface RunRequest { hash: HashName; pack: string; packOffset: number; packLen: number; offsets: number[]; stored: number[]; sizes: number[]; codecs: number[]; types: ObjectType[]; ids: ArrayBuffer }

/**
 * Messages to a chunk worker (chunk-worker.ts). Block buffers are shared memory, sent once per
 * worker and named by number afterwards (`forget` when the pool drops one); other buffers travel
 * as transferred ArrayBuffers.
 */
export type WorkerRequest =
  | { op: 'hash'; job: number; hash: HashName; bufId: number; buf?: SharedArrayBuffer; len: number; chunkSize: number; ends?: Uint32Array; read?: { fd: number; pos: number } }
  | { op: 'compress'; job: number; which: number[]; level: number }
  | ({ op: 'write'; job: number; fd: number; directFd: number; position: number } & RunRequest)
  | { op: 'create'; job: number; files: CreateRequest[] }
  | { op: 'close'; job: number }
  | { op: 'forget'; job: 0; bufId: number }
  | { op: 'verify'; job: number; hash: HashName; buf: ArrayBuffer; offsets: number[]; stored: number[]; sizes: number[]; codecs: number[]; types: ObjectType[]; ids: ArrayBuffer };

/** One small file for a chunk worker to create whole (see ChunkPool.createFile). */
export type CreateRequest = { path: string; mode: number; uid: number; gid: number; chown: boolean; mtimeNs: string } & RunRequest;

/** What became of one file of a create request: a damaged record, or the file made and stat'ed, or an error. */
export type CreateResult = { bad: number; truncated: boolean; stat: CreatedStat | [] } | { error: string; code?: string };

/** What a file's fstat said once checkout had created it: size, mtime ns, ctime ns, inode, mode, uid, gid. */
export type CreatedStat = [string, string, string, string, number, number, number];

/** Replies of a chunk worker. */
export type WorkerReply =
  | { op: 'read'; job: number; len: number }
  | { op: 'hashed'; job: number; ids: ArrayBuffer; len: number }
  | { op: 'compressed'; job: number; codecs: Uint8Array; ends: Uint32Array }
  | { op: 'wrote'; job: number; bad: number; truncated: boolean }
  | { op: 'created'; job: number; results: CreateResult[] }
  | { op: 'closed'; job: number }
  | { op: 'verified'; job: number; bad: number; buf: ArrayBuffer }
  | { op: 'error'; job: number; message: string; code?: string };

/** One chunk after compression: the stored bytes and how they are encoded. */
export interface EncodedChunk { index: number; codec: Codec; bytes: Buffer }

/** A stored record to decode and verify (see writeRun()). */
export interface StoredRecord { id: string; type: ObjectType; codec: Codec; offset: number; stored: number; size: number }

interface Slot { worker: Worker; jobs: number; sent: Set<number> }
interface Waiter { resolve(r: WorkerReply): void; reject(e: Error): void; slot: Slot; onRead?: (len: number) => void }

/** What hash() and readAndHash() give: the job (for compress()), the chunk ids in order, and the bytes hashed. */
export interface Hashed { job: number; ids: string[]; len: number }

/** Most small files sent to a worker in one create message. */
const CREATE_BATCH = 32;

/** Size of the blocks files are read in and handed to workers. */
export const BLOCK_SIZE = 4 * 1024 * 1024;
/** Bytes of blocks in flight at once (bounds memory whatever the data size). */
const BUDGET = 32 * 1024 * 1024;

/** Buffers below this size are not recycled (V8 handles small ones well). */
const MIN_POOLED = 64 * 1024;
/** At most this many bytes of spare buffers are kept. */
const SPARE_LIMIT = BUDGET + 8 * 1024 * 1024;

/**
 * Buffers are whole blocks (bigger ones in powers of two), so any spare one fits the next
 * request. Why not a size per request: small files, PostgreSQL's files of every size and big
 * files in 4 MiB blocks came in phases, and spare buffers of the last phase's sizes left the next
 * without one (2,000 uploads: 519 MiB allocated). A buffer bigger than asked costs no memory
 * beyond the pages read into it, and reserve() counts whole buffers, so memory stays bounded.
 */
function sizeClass(bytes: number): number {
  if (bytes <= MIN_POOLED) return bytes;
  return bytes <= BLOCK_SIZE ? BLOCK_SIZE : 2 ** Math.ceil(Math.log2(bytes));
}

/** How many workers: DM_WORKERS, else one per core (at most 8). */
function workerCount(): number {
  const env = Number(process.env.DM_WORKERS);
  if (Number.isInteger(env) && env > 0) return Math.min(env, 32);
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(8, cores));
}

/**
 * Worker threads that read, hash, compress, decompress and verify chunks, so commits and
 * checkouts use every core while the main thread plans, reads small files and keeps the index.
 * The protocol is two steps per block: hash() (or readAndHash()) returns the chunk ids, the
 * caller looks them up in its store, then compress() encodes only the chunks that are new (the
 * worker keeps the block in between).
 * Workers are unreferenced while idle, so they never keep a CLI process alive.
 */
export class ChunkPool {
  private slots: Slot[] = [];
  private waiting = new Map<number, Waiter>();
  private jobSlot = new Map<number, Slot>();
  /** The block of each hashed job, until compress(). */
  private jobBuf = new Map<number, SharedArrayBuffer>();
  private nextJob = 1;
  private spare = new Map<number, SharedArrayBuffer[]>();
  /** Number of each shared buffer, as workers know it. */
  private bufIds = new WeakMap<SharedArrayBuffer, number>();
  private nextBufId = 1;
  private spareBytes = 0;
  private inflight = 0;
  private queue: { bytes: number; go: () => void }[] = [];
  private closed = false;
  /** Buffers allocated by buffer() so far (the rest were reused). */
  allocated = 0;

  constructor(private readonly size = workerCount()) {}

  /** Starts the workers before the first job (they boot in the background). */
  prestart(): void {
    if (this.closed) return;
    this.start();
  }

  private start(): void {
    if (this.closed) throw new Error('chunk pool is closed');
    while (this.slots.length < this.size) {
      // Why required here: a command that reads and writes no chunk (a no-op commit) does not load it.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { Worker: WorkerCtor } = require('node:worker_threads') as typeof import('node:worker_threads');
      const worker = new WorkerCtor(path.join(__dirname, 'chunk-worker.js'));
      const slot: Slot = { worker, jobs: 0, sent: new Set() };
      worker.on('message', (r: WorkerReply) => this.settle(slot, r));
      worker.on('error', (e) => this.fail(slot, e));
      worker.on('exit', (code) => this.fail(slot, new Error(`chunk worker exited with code ${code}`)));
      worker.unref();
      this.slots.push(slot);
    }
  }

  /** Rejects every job of a worker that died and replaces it on next use. */
  private fail(slot: Slot, e: Error): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    for (const [job, w] of this.waiting) if (w.slot === slot) { this.waiting.delete(job); this.jobSlot.delete(job); w.reject(e); }
  }

  private settle(slot: Slot, r: WorkerReply): void {
    const w = this.waiting.get(r.job);
    if (!w) return;
    // The first of a read-and-hash job's two replies: the job goes on.
    if (r.op === 'read') { w.onRead?.(r.len); return; }
    this.waiting.delete(r.job);
    slot.jobs--;
    if (slot.jobs === 0) slot.worker.unref();
    if (r.op === 'error') w.reject(Object.assign(new Error(r.message), { code: r.code })); else w.resolve(r);
  }

  private send(slot: Slot, m: WorkerRequest, transfer: ArrayBuffer[], onRead?: (len: number) => void): Promise<WorkerReply> {
    return new Promise((resolve, reject) => {
      this.waiting.set(m.job, { resolve, reject, slot, onRead });
      if (slot.jobs++ === 0) slot.worker.ref();
      slot.worker.postMessage(m, transfer);
    });
  }

  private leastBusy(): Slot {
    this.start();
    return this.slots.reduce((a, b) => (b.jobs < a.jobs ? b : a));
  }

  /**
   * Waits until a buffer for `bytes` (see sizeClass) may be in flight, then counts it; give it
   * back with release(bytes).
   */
  reserve(want: number): Promise<void> {
    const bytes = sizeClass(want);
    if (this.inflight === 0 || (this.queue.length === 0 && this.inflight + bytes <= BUDGET)) { this.inflight += bytes; return Promise.resolve(); }
    return new Promise((go) => this.queue.push({ bytes, go: () => { this.inflight += bytes; go(); } }));
  }

  /** Returns what reserve(want) counted. */
  release(want: number): void {
    this.inflight -= sizeClass(want);
    while (this.queue.length && (this.inflight === 0 || this.inflight + this.queue[0].bytes <= BUDGET)) this.queue.shift()!.go();
  }

  /**
   * A buffer of at least `bytes` (recycled when one of its size class is spare). Big buffers
   * are reused because allocating a fresh one per block makes the main thread spend a third
   * of its time collecting garbage. They are shared memory, each sent to a worker once: a
   * buffer transferred to a worker and back counted as newly allocated memory every time, and
   * the garbage collection that caused took a quarter of the main thread's time on a folder of
   * small files.
   */
  buffer(bytes: number): SharedArrayBuffer {
    const cls = sizeClass(bytes);
    const list = this.spare.get(cls);
    if (list?.length) { this.spareBytes -= cls; return list.pop()!; }
    this.allocated++;
    return new SharedArrayBuffer(cls);
  }

  /** Gives a buffer from buffer() (or one no longer referenced anywhere) back for reuse. */
  recycle(ab: SharedArrayBuffer): void {
    const cls = ab.byteLength;
    if (cls < MIN_POOLED || sizeClass(cls) !== cls || this.spareBytes + cls > SPARE_LIMIT) { this.forget(ab); return; }
    let list = this.spare.get(cls);
    if (!list) { list = []; this.spare.set(cls, list); }
    list.push(ab);
    this.spareBytes += cls;
  }

  /**
   * A dropped buffer is dropped by the workers too (they keep every buffer they were sent).
   * Why: without it, a store with chunks of 64 KiB or less (buffers too small to pool) left the
   * workers holding a buffer per small file for as long as the process lives.
   */
  private forget(buf: SharedArrayBuffer): void {
    const bufId = this.bufIds.get(buf);
    if (bufId === undefined) return;
    this.bufIds.delete(buf);
    for (const slot of this.slots) if (slot.sent.delete(bufId)) slot.worker.postMessage({ op: 'forget', job: 0, bufId } satisfies WorkerRequest);
  }

  /** Number of block buffers the workers hold between them. */
  get sharedWithWorkers(): number {
    return this.slots.reduce((n, s) => n + s.sent.size, 0);
  }

  /**
   * Hashes the chunks of a block with `hash`: `chunkSize` pieces of its first `len` bytes, or, with `ends`,
   * the pieces ending at those offsets (several small files read back to back, each cut in
   * pieces of at most `chunkSize`). The buffer is shared with the worker: leave it alone until
   * compress() has returned. Returns the job, to pass to compress(), and the chunk ids in order.
   */
  hash(hash: HashName, buf: SharedArrayBuffer, len: number, chunkSize: number, ends?: Uint32Array): Promise<Hashed> {
    return this.hashJob(hash, buf, len, chunkSize, ends);
  }

  /**
   * As hash() of `chunkSize` pieces, but the worker first reads the block itself: up to `len`
   * bytes of the open file `fd` from `pos` (fewer at its end). `read` gives their count as soon
   * as they are in the buffer, before they are hashed; keep `fd` open until it has settled.
   * Why: a block read by the main thread and hashed by a worker was hashed at about 2.4 GB/s,
   * one the worker had just read itself at 4.3-6.0 GB/s (it is still in the core's cache), and
   * the main thread is spared a read and a hop per block. A first commit of the bench's v1 took
   * 0.16 CPU-s less (mean of 10 alternating runs; 2.60 against 2.63 s).
   */
  readAndHash(hash: HashName, buf: SharedArrayBuffer, fd: number, pos: number, len: number, chunkSize: number): { read: Promise<number>; hashed: Promise<Hashed> } {
    let onRead!: (n: number) => void, readFailed!: (e: unknown) => void;
    const read = new Promise<number>((resolve, reject) => { onRead = resolve; readFailed = reject; });
    const hashed = this.hashJob(hash, buf, len, chunkSize, undefined, { fd, pos }, onRead);
    // Why both: a job that fails before its 'read' reply must fail `read` too (a later settle is ignored).
    hashed.then((h) => onRead(h.len), readFailed);
    return { read, hashed };
  }

  private async hashJob(hash: HashName, buf: SharedArrayBuffer, len: number, chunkSize: number, ends: Uint32Array | undefined, read?: { fd: number; pos: number }, onRead?: (n: number) => void): Promise<Hashed> {
    const slot = this.leastBusy();
    const job = this.nextJob++;
    this.jobSlot.set(job, slot);
    this.jobBuf.set(job, buf);
    let bufId = this.bufIds.get(buf);
    if (bufId === undefined) { bufId = this.nextBufId++; this.bufIds.set(buf, bufId); }
    const first = !slot.sent.has(bufId);
    if (first) slot.sent.add(bufId);
    let r: WorkerReply;
    try { r = await this.send(slot, { op: 'hash', job, hash, bufId, buf: first ? buf : undefined, len, chunkSize, ends, read }, [], onRead); } catch (e) { this.jobSlot.delete(job); this.jobBuf.delete(job); throw e; }
    if (r.op !== 'hashed') throw new Error(`unexpected reply ${r.op}`);
    const raw = Buffer.from(r.ids);
    const ids: string[] = new Array(raw.length / 32);
    for (let i = 0; i < ids.length; i++) ids[i] = raw.toString('hex', i * 32, i * 32 + 32);
    return { job, ids, len: r.len };
  }

  /**
   * Compresses the chunks `which` (indexes) of a hashed block. Their stored forms come back
   * packed at the start of the block: recycle() `block` once they are written (or dropped).
   */
  async compress(job: number, which: number[], level: number): Promise<{ chunks: EncodedChunk[]; block: SharedArrayBuffer }> {
    const slot = this.jobSlot.get(job);
    const buf = this.jobBuf.get(job);
    if (!slot || !buf) throw new Error(`unknown block ${job}`);
    this.jobSlot.delete(job);
    this.jobBuf.delete(job);
    if (!this.slots.includes(slot)) throw new Error('chunk worker died');
    const r = await this.send(slot, { op: 'compress', job, which, level }, []);
    if (r.op !== 'compressed') throw new Error(`unexpected reply ${r.op}`);
    const block = Buffer.from(buf);
    let start = 0;
    const chunks = which.map((index, k): EncodedChunk => {
      const bytes = block.subarray(start, r.ends[k]);
      start = r.ends[k];
      return { index, codec: r.codecs[k] as Codec, bytes };
    });
    return { chunks, block: buf };
  }

  /**
   * Has a worker read a run of records lying back to back in `pack` (from `packOffset`, record
   * offsets relative to it), decompress and verify each against its id, and write their contents
   * back to back into the open file `fd` at `position` (the block-aligned part through
   * `directFd`, the same file opened with O_DIRECT, when one is given). Returns the index of the first damaged
   * record (nothing is written then), or -1; `truncated` when the pack ends early.
   */
  async writeRun(hash: HashName, pack: string, packOffset: number, packLen: number, recs: StoredRecord[], fd: number, position: number, directFd = -1): Promise<{ bad: number; truncated: boolean }> {
    const slot = this.leastBusy();
    const { run, transfer } = runRequest(hash, pack, packOffset, packLen, recs);
    const r = await this.send(slot, { op: 'write', job: this.nextJob++, fd, directFd, position, ...run }, transfer);
    if (r.op !== 'wrote') throw new Error(`unexpected reply ${r.op}`);
    return { bad: r.bad, truncated: r.truncated };
  }

  /** Files waiting to be sent to a worker together (see createFile). */
  private creates: { req: CreateRequest; transfer: ArrayBuffer[]; resolve(r: { bad: number; truncated: boolean; stat: CreatedStat | [] }): void; reject(e: Error): void }[] = [];

  /**
   * Has a worker decode and verify a run (as writeRun(); none for an empty file), create the
   * file `abs` (which must not exist) with it, set its owner (when `chown`), mode and mtime, and
   * stat it. Returns the index of the first damaged record (nothing is created then) or -1, and
   * the stat. Files asked for in the same turn of the event loop go to a worker in one message
   * (at most CREATE_BATCH). Why: one message per file made the main thread's messages and
   * promises cost as much CPU as a worker's decoding of 3,000 small files, on 2 cores.
   */
  createFile(hash: HashName, abs: string, meta: { mode: number; uid: number; gid: number; mtime: string; chown: boolean }, from: { pack: string; packOffset: number; packLen: number; recs: StoredRecord[] } | null): Promise<{ bad: number; truncated: boolean; stat: CreatedStat | [] }> {
    const { run, transfer } = runRequest(hash, from?.pack ?? '', from?.packOffset ?? 0, from?.packLen ?? 0, from?.recs ?? []);
    return new Promise((resolve, reject) => {
      if (this.creates.push({ req: { path: abs, mode: meta.mode, uid: meta.uid, gid: meta.gid, chown: meta.chown, mtimeNs: meta.mtime, ...run }, transfer, resolve, reject }) === 1) setImmediate(() => this.sendCreates());
    });
  }

  private sendCreates(): void {
    while (this.creates.length) {
      const batch = this.creates.splice(0, CREATE_BATCH);
      let slot: Slot;
      try { slot = this.leastBusy(); } catch (e) { for (const c of batch) c.reject(e as Error); continue; }
      this.send(slot, { op: 'create', job: this.nextJob++, files: batch.map((c) => c.req) }, batch.flatMap((c) => c.transfer)).then((r) => {
        if (r.op !== 'created' || r.results.length !== batch.length) throw new Error(`unexpected reply ${r.op}`);
        r.results.forEach((x, k) => { if ('error' in x) batch[k].reject(Object.assign(new Error(x.error), { code: x.code })); else batch[k].resolve(x); });
      }).catch((e: Error) => { for (const c of batch) c.reject(e); });
    }
  }

  /**
   * Has a worker check objects that came from elsewhere (a bundle, a hub), encoded as stored and
   * lying in `buf` at `recs`' offsets: each must decode to exactly its size and hash to its id.
   * Nothing in them is trusted, so no shortcut applies (unlike writeRun's zstd checksums).
   * Returns the index of the first bad record or -1, and `buf` (transferred there and back).
   */
  async verifyForeign(hash: HashName, buf: ArrayBuffer, recs: StoredRecord[]): Promise<{ bad: number; buf: ArrayBuffer }> {
    const slot = this.leastBusy();
    const { run, transfer } = runRequest(hash, '', 0, 0, recs);
    const r = await this.send(slot, { op: 'verify', job: this.nextJob++, hash, buf, offsets: run.offsets, stored: run.stored, sizes: run.sizes, codecs: run.codecs, types: run.types, ids: run.ids }, [...transfer, buf]);
    if (r.op !== 'verified') throw new Error(`unexpected reply ${r.op}`);
    return { bad: r.bad, buf: r.buf };
  }

  /** Has every worker close the pack files it keeps open (gc is about to remove packs). */
  async closePacks(): Promise<void> {
    await Promise.all(this.slots.map((slot) => this.send(slot, { op: 'close', job: this.nextJob++ }, []).catch(() => undefined)));
  }

  /** Stops the workers (pending jobs are rejected). */
  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots;
    this.slots = [];
    for (const [job, w] of this.waiting) { this.waiting.delete(job); w.reject(new Error('chunk pool closed')); }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}

/** The part of a worker message that names a run of records (and the ids' buffer to transfer). */
function runRequest(hash: HashName, pack: string, packOffset: number, packLen: number, recs: StoredRecord[]): { run: RunRequest; transfer: ArrayBuffer[] } {
  const ids = Buffer.allocUnsafe(recs.length * 32);
  recs.forEach((r, k) => ids.write(r.id, k * 32, 'hex'));
  const idsAb = ids.buffer.slice(ids.byteOffset, ids.byteOffset + ids.length) as ArrayBuffer;
  return {
    run: {
      hash, pack, packOffset, packLen, ids: idsAb, offsets: recs.map((x) => x.offset), stored: recs.map((x) => x.stored),
      sizes: recs.map((x) => x.size), codecs: recs.map((x) => x.codec), types: recs.map((x) => x.type),
    },
    transfer: [idsAb],
  };
}

let shared: ChunkPool | undefined;
/** The process-wide pool (created on first use). */
export function chunkPool(): ChunkPool {
  if (!shared) shared = new ChunkPool();
  return shared;
}
