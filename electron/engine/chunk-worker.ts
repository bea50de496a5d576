/**
 * A worker thread of the chunk pool (chunk-pool.ts): hashes, compresses, decompresses and
 * verifies blocks of chunks so the main thread only reads, writes and keeps the index.
 * Messages and their replies are described by the types in chunk-pool.ts.
 */
import { parentPort } from 'node:worker_threads';
import { CCtx, DCtx, compressBound } from 'zstd-napi/binding';
import type { WorkerRequest, WorkerReply } from './chunk-pool';
import { objectIdBytes } from './objects';
import { worthCompressing } from './compress';

const port = parentPort;
if (!port) throw new Error('chunk-worker.ts runs only as a worker thread');

/** Blocks hashed and waiting for the main thread to say which chunks are new. */
const held = new Map<number, { ab: ArrayBuffer; len: number; chunkSize: number }>();
const cctx = new CCtx();
const dctx = new DCtx();
let scratch = Buffer.allocUnsafeSlow(0);

function reply(m: WorkerReply, transfer: ArrayBuffer[]): void {
  port!.postMessage(m, transfer);
}

port.on('message', (m: WorkerRequest) => {
  try {
    if (m.op === 'hash') {
      const block = Buffer.from(m.ab, 0, m.len);
      const n = Math.ceil(m.len / m.chunkSize);
      const ids = Buffer.allocUnsafeSlow(n * 32);
      for (let i = 0; i < n; i++) objectIdBytes('chunk', block.subarray(i * m.chunkSize, Math.min((i + 1) * m.chunkSize, m.len))).copy(ids, i * 32);
      held.set(m.job, { ab: m.ab, len: m.len, chunkSize: m.chunkSize });
      const idsAb = ids.buffer as ArrayBuffer;
      reply({ op: 'hashed', job: m.job, ids: idsAb }, [idsAb]);
    } else if (m.op === 'compress') {
      const h = held.get(m.job);
      if (!h) throw new Error(`no block ${m.job}`);
      held.delete(m.job);
      const block = Buffer.from(h.ab, 0, h.len);
      const codecs = new Uint8Array(m.which.length);
      const ends = new Uint32Array(m.which.length);
      let cap = 0;
      for (const i of m.which) cap += compressBound(Math.min(h.chunkSize, h.len - i * h.chunkSize));
      if (scratch.length < cap) scratch = Buffer.allocUnsafeSlow(cap);
      let o = 0;
      m.which.forEach((i, k) => {
        const raw = block.subarray(i * h.chunkSize, Math.min((i + 1) * h.chunkSize, h.len));
        // Raw chunks are not copied: the main thread takes them from the block it gets back.
        const n = raw.length >= 64 ? cctx.compress(scratch.subarray(o), raw, m.level) : raw.length;
        if (worthCompressing(raw.length, n)) { codecs[k] = 1; o += n; }
        ends[k] = o;
      });
      // Why a scratch buffer and an exact copy: a fresh buffer of the bound per block costs page
      // faults here and makes the main thread collect garbage for memory it never uses.
      const out = new ArrayBuffer(o);
      scratch.copy(Buffer.from(out), 0, 0, o);
      reply({ op: 'compressed', job: m.job, out, codecs, ends, block: h.ab }, [out, h.ab]);
    } else if (m.op === 'decode') {
      // A run of stored records: decompress each into one contiguous buffer and check its id.
      const src = Buffer.from(m.ab);
      const view = Buffer.from(m.out);
      let o = 0;
      let bad = -1;
      for (let k = 0; k < m.sizes.length; k++) {
        const stored = src.subarray(m.offsets[k], m.offsets[k] + m.stored[k]);
        const size = m.sizes[k];
        if (o + size > view.length) { bad = k; break; }
        const dst = view.subarray(o, o + size);
        if (m.codecs[k] === 1) {
          let n = -1;
          try { n = dctx.decompress(dst, stored); } catch { n = -1; }
          if (n !== size) { bad = k; break; }
        } else {
          if (stored.length !== size) { bad = k; break; }
          stored.copy(dst);
        }
        if (!objectIdBytes(m.types[k], dst).equals(Buffer.from(m.ids, k * 32, 32))) { bad = k; break; }
        o += size;
      }
      reply({ op: 'decoded', job: m.job, out: m.out, ab: m.ab, length: o, bad }, [m.out, m.ab]);
    }
  } catch (e) {
    reply({ op: 'error', job: m.job, message: (e as Error).message }, []);
  }
});
