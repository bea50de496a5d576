// The floor of a checkout on this machine: how long the least work any checkout of dm's store
// format must do takes, in the same minutes as dm's own checkout (bench/README.md, seventeenth session).
//
//   node bench/pipeline-floor.mjs SRC DEST [--workers N]
//
// SRC is a directory (the bench's data/v2). Before the clock starts, every file is cut into
// 256 KiB chunks and compressed at zstd level 2 with checksums, as a dm store holds them, and the
// frames are kept in memory. Timed: N worker threads (default 2) decode the frames and write the
// files into DEST (which must not exist): big files (1 MiB or more) through O_DIRECT, small ones
// through the page cache, 2 MiB per write, synchronous calls, no owners, modes or times. Then
// `sync -f DEST`, the durability a checkout needs before it moves its ref (`--sync ref`: only a
// ref's write, fsync and rename, which on ext4 flushes the disk's cache all the same). Nothing is read from a
// pack, planned, verified beyond zstd's checksums or recorded: what is left is decoding and the disk.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const { WebAssembly } = globalThis;
const { CCtx, DCtx, CParameter } = require('zstd-napi/binding');
const CHUNK = 256 * 1024;
const RUN = 2 * 1024 * 1024;
const BIG = 1024 * 1024;
const ALIGN = 64 * 1024;

if (isMainThread) {
  const args = process.argv.slice(2);
  const wi = args.indexOf('--workers');
  const workers = wi >= 0 ? Number(args.splice(wi, 2)[1]) : 2;
  const si = args.indexOf('--sync');
  const sync = si >= 0 ? args.splice(si, 2)[1] : 'fs';
  const ji = args.indexOf('--json');
  const asJson = ji >= 0 && args.splice(ji, 1).length > 0;
  const [src, dest] = args;
  if (!src || !dest || !(workers >= 1) || !['fs', 'ref'].includes(sync)) { console.error('usage: node bench/pipeline-floor.mjs SRC DEST [--workers N] [--sync fs|ref] [--json]'); process.exit(2); }
  if (fs.existsSync(dest)) { console.error(`${dest} exists; give a path that does not.`); process.exit(2); }

  const files = [];
  const dirs = [];
  const walk = (abs, rel) => {
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) { dirs.push(r); walk(path.join(abs, e.name), r); } else if (e.isFile()) files.push(r);
    }
  };
  walk(src, '');
  const cctx = new CCtx();
  cctx.setParameter(CParameter.checksumFlag, 1);
  cctx.setParameter(CParameter.compressionLevel, 2);
  const scratch = Buffer.alloc(CHUNK + 4096);
  let total = 0;
  // Per file: one shared buffer with its stored chunks back to back, and per chunk [stored, raw, codec].
  const jobs = files.map((rel) => {
    const data = fs.readFileSync(path.join(src, rel));
    const parts = [];
    const chunks = [];
    for (let o = 0; o < data.length; o += CHUNK) {
      const raw = data.subarray(o, o + CHUNK);
      const n = cctx.compress2(scratch, raw);
      const keep = n < raw.length - raw.length / 32; // dm's rule (compress.ts)
      parts.push(Buffer.from(keep ? scratch.subarray(0, n) : raw));
      chunks.push([keep ? n : raw.length, raw.length, keep ? 1 : 0]);
    }
    const all = Buffer.concat(parts);
    const sab = new SharedArrayBuffer(all.length);
    all.copy(Buffer.from(sab));
    total += data.length;
    return { rel, size: data.length, sab, chunks };
  });
  // Biggest first; each worker takes the next file when it is done with one (a shared counter).
  jobs.sort((a, b) => b.size - a.size);
  const next = new Int32Array(new SharedArrayBuffer(4));

  // Settle first, as bench/run.mjs does before every timed command: what reading and compressing
  // v2 allocated and freed is handed back to the hypervisor (free page reporting) before the clock
  // starts, not while it runs.
  execFileSync('sync');
  await settled();
  const t0 = process.hrtime.bigint();
  fs.mkdirSync(dest);
  for (const d of dirs) fs.mkdirSync(path.join(dest, d));
  const reports = await Promise.all(Array.from({ length: workers }, () => new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { dest, jobs, next } });
    w.once('message', resolve);
    w.once('error', reject);
  })));
  const t1 = process.hrtime.bigint();
  if (sync === 'fs') execFileSync('sync', ['-f', dest]);
  else {
    // Only what a ref move makes durable: a small file written, fsynced, renamed, its directory
    // fsynced. On ext4 that fsync commits the journal, and the commit flushes the disk's cache,
    // with every direct write completed before it.
    const tmp = path.join(dest, '.ref.tmp');
    const fd = fs.openSync(tmp, 'wx', 0o644);
    fs.writeSync(fd, `${'0'.repeat(64)}\n`);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, path.join(dest, '.ref'));
    const dfd = fs.openSync(dest, 'r');
    fs.fsyncSync(dfd);
    fs.closeSync(dfd);
  }
  const t2 = process.hrtime.bigint();
  const s = (a, b) => (Number(b - a) / 1e9).toFixed(2);
  if (asJson) {
    console.log(JSON.stringify({ bytes: total, files: files.length, workers, sync, writeSec: Number(s(t0, t1)), syncSec: Number(s(t1, t2)), totalSec: Number(s(t0, t2)), workersSec: reports }));
    process.exit(0);
  }
  console.log(`${(total / 1e6).toFixed(0)} MB in ${files.length} files, ${workers} workers: written in ${s(t0, t1)} s, ${sync === 'fs' ? 'syncfs' : 'a ref\'s fsync'} ${s(t1, t2)} s, together ${s(t0, t2)} s`);
  for (const r of reports) console.log(`  worker: decoding ${r.decode.toFixed(2)} s, writing ${r.write.toFixed(2)} s`);
}

/**
 * Resolves once the kernel's count of memory reported free to the hypervisor has grown by less
 * than 32 MB for 3 s (at most 60 s); at once where the count does not exist.
 */
async function settled() {
  const file = '/sys/module/page_reporting/parameters/reported_kib';
  const read = () => { try { return Number(fs.readFileSync(file, 'utf8')); } catch { return NaN; } };
  let last = read();
  if (Number.isNaN(last)) return;
  for (let quiet = 0, waited = 0; quiet < 3 && waited < 60; waited++) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = read();
    quiet = now - last < 32 * 1024 ? quiet + 1 : 0;
    last = now;
  }
}

if (!isMainThread) {
  const { dest, jobs, next } = workerData;
  const dctx = new DCtx();
  // Page-aligned output buffers, as O_DIRECT needs (WebAssembly memory starts on a page).
  const outs = [0, 1].map(() => Buffer.from(new WebAssembly.Memory({ initial: RUN / 65536 }).buffer, 0, RUN));
  let decode = 0n, write = 0n, k = 0;
  for (let i; (i = Atomics.add(next, 0, 1)) < jobs.length;) {
    const j = jobs[i];
    const file = path.join(dest, j.rel);
    const fd = fs.openSync(file, 'wx', 0o600);
    const direct = j.size >= BIG ? fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_DIRECT) : -1;
    const stored = Buffer.from(j.sab);
    let pos = 0, fill = 0, at = 0;
    const flush = () => {
      const t = process.hrtime.bigint();
      const out = outs[k];
      const aligned = direct >= 0 && pos % ALIGN === 0 ? fill - (fill % ALIGN) : 0;
      for (let o = 0; o < aligned;) o += fs.writeSync(direct, out, o, aligned - o, pos + o);
      for (let o = aligned; o < fill;) o += fs.writeSync(fd, out, o, fill - o, pos + o);
      pos += fill; fill = 0; k ^= 1;
      write += process.hrtime.bigint() - t;
    };
    for (const [n, raw, codec] of j.chunks) {
      if (fill + raw > RUN) flush();
      const t = process.hrtime.bigint();
      const frame = stored.subarray(at, at + n);
      if (codec) { if (dctx.decompress(outs[k].subarray(fill, fill + raw), frame) !== raw) throw new Error(`${j.rel}: bad frame`); } else frame.copy(outs[k], fill);
      decode += process.hrtime.bigint() - t;
      at += n; fill += raw;
    }
    if (fill) flush();
    if (direct >= 0) fs.closeSync(direct);
    fs.closeSync(fd);
  }
  parentPort.postMessage({ decode: Number(decode) / 1e9, write: Number(write) / 1e9 });
}
