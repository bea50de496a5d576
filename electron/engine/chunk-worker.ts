/**
 * A worker thread of the chunk pool (chunk-pool.ts): reads, hashes, compresses, decompresses and
 * verifies blocks of chunks so the main thread only plans, reads small files and keeps the index.
 * Messages and their replies are described by the types in chunk-pool.ts.
 */
import * as fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { CCtx, DCtx, CParameter, compressBound } from 'zstd-napi/binding';
import type { WorkerRequest, WorkerReply, RunRequest, CreateRequest, CreateResult } from './chunk-pool';
import { setFdTimesNsSync } from './native';
import { objectIdBytes, objectIdInto, ID_BYTES, REC_HEADER, TYPE_CODE } from './objects';
import { worthCompressing, levelFor } from './compress';
import { AlignedBuffer, DIRECT_ALIGN } from './direct-io';

const port = parentPort;
if (!port) throw new Error('chunk-worker.ts runs only as a worker thread');

/** How a block is cut into chunks (see ChunkPool.hash). */
interface Layout { len: number; chunkSize: number; ends?: Uint32Array }
/** Blocks hashed and waiting for the main thread to say which chunks are new. */
const held = new Map<number, Layout & { buf: SharedArrayBuffer }>();
function chunkCount(l: Layout): number { return l.ends ? l.ends.length : Math.ceil(l.len / l.chunkSize); }
function chunkStart(l: Layout, i: number): number { return l.ends ? (i ? l.ends[i - 1] : 0) : i * l.chunkSize; }
function chunkEnd(l: Layout, i: number): number { return l.ends ? l.ends[i] : Math.min((i + 1) * l.chunkSize, l.len); }
/** The pool's shared block buffers, by number (each is sent once: see ChunkPool.hash). */
const shared = new Map<number, SharedArrayBuffer>();
const cctx = new CCtx();
// Every frame carries a checksum of its content (XXH64), which zstd checks as it decompresses:
// see hasChecksum().
cctx.setParameter(CParameter.checksumFlag, 1);
let cctxLevel = NaN;
const dctx = new DCtx();

/**
 * True when a zstd frame carries a content checksum (bit 2 of its header descriptor, after the
 * 4-byte magic). Frames written before checksums were added do not; their chunks are hashed.
 */
function hasChecksum(frame: Buffer): boolean {
  return frame.length > 4 && (frame[4] & 0x04) !== 0;
}

/**
 * True when the record header before `o` in `src` names exactly this object (type, id, codec,
 * sizes): a chunk whose frame passed its checksum is then the object it must be, without hashing.
 */
function headerMatches(src: Buffer, o: number, type: number, id: Buffer, codec: number, size: number, stored: number): boolean {
  const h = o - REC_HEADER;
  return h >= 0 && src[h] === type && src.compare(id, 0, ID_BYTES, h + 1, h + 1 + ID_BYTES) === 0 && src[h + 1 + ID_BYTES] === codec
    && src.readUInt32BE(h + 2 + ID_BYTES) === size && src.readUInt32BE(h + 6 + ID_BYTES) === stored;
}
let scratch = Buffer.allocUnsafeSlow(0);
/** Growable buffer for reading pack runs (kept between jobs). */
let inBuf = Buffer.allocUnsafeSlow(0);
function growIn(n: number): Buffer {
  if (inBuf.length < n) inBuf = Buffer.allocUnsafeSlow(Math.max(n, 2 * inBuf.length));
  return inBuf;
}
/**
 * Where file runs are decoded before they are written: aligned for O_DIRECT, and several, so
 * the next run is decoded while earlier ones are being written.
 */
const freeOut: AlignedBuffer[] = [];
function takeOut(n: number): { mem: AlignedBuffer; buf: Buffer } {
  const mem = freeOut.pop() ?? new AlignedBuffer();
  return { mem, buf: mem.view(n) };
}
/** Set when a direct write was refused (EINVAL): later runs use the page cache only. */
let directRefused = false;

/**
 * Writes `len` bytes of `buf` at `pos` (the aligned part through `directFd` when possible)
 * without blocking the worker, so it decodes the next run meanwhile; calls `done` once.
 */
function writeRunOut(fd: number, directFd: number, buf: Buffer, len: number, pos: number, done: (e: Error | null) => void): void {
  let at = 0;
  const head = directFd >= 0 && !directRefused && pos % DIRECT_ALIGN === 0 ? len - (len % DIRECT_ALIGN) : 0;
  const step = (): void => {
    if (at >= len) { done(null); return; }
    const direct = at < head;
    fs.write(direct ? directFd : fd, buf, at, (direct ? head : len) - at, pos + at, (e, n) => {
      if (e) {
        // EINVAL: this filesystem or device wants another alignment; nothing of it landed.
        if (direct && e.code === 'EINVAL') { directRefused = true; at = at - (at % DIRECT_ALIGN); writeBuffered(); return; }
        done(e);
        return;
      }
      at += n;
      if (direct && n % DIRECT_ALIGN !== 0) { writeBuffered(); return; }
      step();
    });
  };
  const writeBuffered = (): void => {
    fs.write(fd, buf, at, len - at, pos + at, (e, n) => {
      if (e) { done(e); return; }
      at += n;
      if (at < len) writeBuffered(); else done(null);
    });
  };
  step();
}

/** Pack files open for reading (a few, most recently used last). */
const packs = new Map<string, { fd: number; ino: number }>();
function packFile(p: string): { fd: number } {
  let f = packs.get(p);
  if (f) {
    packs.delete(p);
    // Why check the inode: gc (here or in another process) may have replaced the pack by one
    // with the same name, whose records lie elsewhere.
    if (fs.statSync(p).ino === f.ino) { packs.set(p, f); return f; }
    fs.closeSync(f.fd);
  }
  const fd = fs.openSync(p, 'r');
  f = { fd, ino: fs.fstatSync(fd).ino };
  packs.set(p, f);
  if (packs.size > 16) { const [oldest, g] = packs.entries().next().value as [string, { fd: number; ino: number }]; packs.delete(oldest); fs.closeSync(g.fd); }
  return f;
}
function readFully(fd: number, buf: Buffer, len: number, pos: number): number {
  let got = 0;
  while (got < len) { const n = fs.readSync(fd, buf, got, len - got, pos + got); if (n === 0) break; got += n; }
  return got;
}

function reply(m: WorkerReply, transfer: ArrayBuffer[]): void {
  port!.postMessage(m, transfer);
}

/**
 * The raw bytes of a stored record that must hold exactly `size` bytes: zstd decoded into `dst`
 * (of that size), or `stored` itself when stored raw; null when they are not exactly `size`.
 */
function rawOf(codec: number, stored: Buffer, size: number, dst: Buffer): Buffer | null {
  if (codec === 1) {
    let n = -1;
    try { n = dctx.decompress(dst, stored); } catch { n = -1; }
    return n === size ? dst : null;
  }
  return codec === 0 && stored.length === size ? stored : null;
}

/**
 * Reads a run of records lying back to back in a pack, decompresses each into one aligned
 * buffer and checks every one against its id. On success the caller gives `mem` back (freeOut).
 */
function decodeRun(m: RunRequest): { out: Buffer; total: number; mem: AlignedBuffer } | { bad: number; truncated: boolean } {
  const { fd: packFd } = packFile(m.pack);
  const src = growIn(m.packLen);
  if (readFully(packFd, src, m.packLen, m.packOffset) !== m.packLen) return { bad: 0, truncated: true };
  const total = m.sizes.reduce((a, b) => a + b, 0);
  const { mem, buf: out } = takeOut(total);
  let o = 0;
  for (let k = 0; k < m.sizes.length; k++) {
    const stored = src.subarray(m.offsets[k], m.offsets[k] + m.stored[k]);
    const size = m.sizes[k];
    const dst = out.subarray(o, o + size);
    const id = Buffer.from(m.ids, k * 32, 32);
    const raw = rawOf(m.codecs[k], stored, size, dst);
    if (raw === stored) stored.copy(dst);
    const ok = raw !== null;
    // Why not always hash: SHA-256 of every chunk was a sixth of a checkout's CPU (BLAKE3 less). A frame
    // with a checksum was checked by zstd just now, and its record header names this id.
    const checked = ok && m.codecs[k] === 1 && hasChecksum(stored) && headerMatches(src, m.offsets[k], TYPE_CODE[m.types[k]], id, 1, size, m.stored[k]);
    if (!ok || (!checked && !objectIdBytes(m.types[k], dst, m.hash).equals(id))) { freeOut.push(mem); return { bad: k, truncated: false }; }
    o += size;
  }
  return { out, total, mem };
}

/** Growable buffer that foreign objects are decoded into (see verifyForeign). */
let foreignOut = Buffer.allocUnsafeSlow(0);
/**
 * Checks objects from a bundle or a hub (see ChunkPool.verifyForeign): the index of the first
 * that does not decode to exactly its size or does not hash to its id, or -1. Why no zstd
 * checksum shortcut as in decodeRun: the record headers come from the sender too.
 */
function verifyForeign(m: Extract<WorkerRequest, { op: 'verify' }>): number {
  const src = Buffer.from(m.buf);
  for (let k = 0; k < m.sizes.length; k++) {
    const stored = src.subarray(m.offsets[k], m.offsets[k] + m.stored[k]);
    const size = m.sizes[k];
    if (foreignOut.length < size) foreignOut = Buffer.allocUnsafeSlow(Math.max(size, 2 * foreignOut.length));
    const raw = rawOf(m.codecs[k], stored, size, foreignOut.subarray(0, size));
    if (!raw || !objectIdBytes(m.types[k], raw, m.hash).equals(Buffer.from(m.ids, k * 32, 32))) return k;
  }
  return -1;
}

/** Creates one small file of a create request (see the 'create' message). */
function createWhole(m: CreateRequest): CreateResult {
  const run = m.sizes.length ? decodeRun(m) : { out: Buffer.alloc(0), total: 0, mem: undefined };
  if ('bad' in run) return { ...run, stat: [] };
  let fd = -1;
  try {
    fd = fs.openSync(m.path, 'wx', 0o600);
    let at = 0;
    while (at < run.total) at += fs.writeSync(fd, run.out, at, run.total - at, at);
    if (m.chown) fs.fchownSync(fd, m.uid, m.gid);
    fs.fchmodSync(fd, m.mode);
    const ns = BigInt(m.mtimeNs);
    setFdTimesNsSync(fd, ns, ns);
    const st = fs.fstatSync(fd, { bigint: true });
    return { bad: -1, truncated: false, stat: [st.size.toString(), st.mtimeNs.toString(), st.ctimeNs.toString(), st.ino.toString(), Number(st.mode & 0o7777n), Number(st.uid), Number(st.gid)] };
  } finally {
    if (run.mem) freeOut.push(run.mem);
    if (fd >= 0) fs.closeSync(fd);
  }
}

port.on('message', (m: WorkerRequest) => {
  try {
    if (m.op === 'hash') {
      if (m.buf) shared.set(m.bufId, m.buf);
      const buf = shared.get(m.bufId);
      if (!buf) throw new Error(`no shared buffer ${m.bufId}`);
      let len = m.len;
      if (m.read) {
        // Read the block first (see ChunkPool.readAndHash), and say how much at once: the main
        // thread starts the file's next block then. Short only at the end of the file.
        const into = new Uint8Array(buf, 0, m.len);
        len = 0;
        for (let n; len < m.len && (n = fs.readSync(m.read.fd, into, len, m.len - len, m.read.pos + len)) > 0;) len += n;
        reply({ op: 'read', job: m.job, len }, []);
      }
      const layout: Layout = { len, chunkSize: m.chunkSize, ends: m.ends };
      const block = Buffer.from(buf, 0, len);
      const n = chunkCount(layout);
      const ids = Buffer.allocUnsafeSlow(n * 32);
      for (let i = 0; i < n; i++) objectIdInto('chunk', block.subarray(chunkStart(layout, i), chunkEnd(layout, i)), m.hash, ids, i * 32);
      held.set(m.job, { buf, ...layout });
      const idsAb = ids.buffer as ArrayBuffer;
      reply({ op: 'hashed', job: m.job, ids: idsAb, len }, [idsAb]);
    } else if (m.op === 'compress') {
      const h = held.get(m.job);
      if (!h) throw new Error(`no block ${m.job}`);
      held.delete(m.job);
      const block = Buffer.from(h.buf, 0, h.len);
      const codecs = new Uint8Array(m.which.length);
      const ends = new Uint32Array(m.which.length);
      if (scratch.length < compressBound(h.chunkSize)) scratch = Buffer.allocUnsafeSlow(compressBound(h.chunkSize));
      // The stored form of each chosen chunk is written back into the block, packed from its
      // start: chunks are taken in order and a stored form is never longer than its chunk, so
      // nothing is overwritten before it is read. Why: a fresh output buffer per block made the
      // main thread collect garbage every 50 ms (external memory) and touch new pages. The block
      // is shared memory, so the main thread reads the stored forms from it directly.
      let o = 0;
      /** How well the block's previous chunk compressed (stored / raw), 0 before the first. */
      let lastRatio = 0;
      m.which.forEach((i, k) => {
        const start = chunkStart(h, i);
        const raw = block.subarray(start, chunkEnd(h, i));
        const before = o;
        const level = levelFor(m.level, lastRatio);
        if (level !== cctxLevel) { cctx.setParameter(CParameter.compressionLevel, level); cctxLevel = level; }
        const n = raw.length >= 64 ? cctx.compress2(scratch, raw) : raw.length;
        if (worthCompressing(raw.length, n)) { codecs[k] = 1; scratch.copy(block, o, 0, n); o += n; } else { block.copy(block, o, start, start + raw.length); o += raw.length; }
        ends[k] = o;
        lastRatio = (o - before) / raw.length;
      });
      reply({ op: 'compressed', job: m.job, codecs, ends }, []);
    } else if (m.op === 'write') {
      // A run of records lying back to back in a pack: read them, decompress each into one
      // buffer, check every id, then write the run into the file. The main thread only plans.
      const run = decodeRun(m);
      if ('bad' in run) { reply({ op: 'wrote', job: m.job, ...run }, []); return; }
      writeRunOut(m.fd, m.directFd, run.out, run.total, m.position, (e) => {
        freeOut.push(run.mem);
        if (e) reply({ op: 'error', job: m.job, message: e.message, code: (e as NodeJS.ErrnoException).code }, []);
        else reply({ op: 'wrote', job: m.job, bad: -1, truncated: false }, []);
      });
    } else if (m.op === 'create') {
      // Whole small files, one after the other: each one's run (or nothing, when empty) decoded
      // and checked as above, then created, written, given its owner, mode and times and stat'ed
      // through one descriptor with synchronous calls. Why here: as a chain of promise-based calls
      // from the main thread (open, write, truncate, close, chown, chmod, utimes, lstat) 3,000
      // files cost twice the CPU, and the calls of several files contended for the directory's lock.
      const results: CreateResult[] = m.files.map((f) => {
        try { return createWhole(f); } catch (e) { return { error: (e as Error).message, code: (e as NodeJS.ErrnoException).code }; }
      });
      reply({ op: 'created', job: m.job, results }, []);
    } else if (m.op === 'verify') {
      const bad = verifyForeign(m);
      reply({ op: 'verified', job: m.job, bad, buf: m.buf }, [m.buf]);
    } else if (m.op === 'forget') {
      shared.delete(m.bufId);
    } else if (m.op === 'close') {
      for (const f of packs.values()) fs.closeSync(f.fd);
      packs.clear();
      reply({ op: 'closed', job: m.job }, []);
    }
  } catch (e) {
    reply({ op: 'error', job: m.job, message: (e as Error).message, code: (e as NodeJS.ErrnoException).code }, []);
  }
});
