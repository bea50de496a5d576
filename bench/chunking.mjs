#!/usr/bin/env node
// Measures how fixed chunk sizes behave on the benchmark's PostgreSQL/Redis/uploads data:
// bytes a v2 commit must store after v1 (new chunks), raw and compressed one chunk at a time
// with zstd level 2 as the store does (what a store actually keeps), and the chunk-list
// overhead per commit.
// Usage: node bench/chunking.mjs [DATA_DIR]   (default: the bench's full data set)
import { createHash } from 'node:crypto';
import { openSync, readSync, closeSync, readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const { CCtx } = createRequire(import.meta.url)('zstd-napi/binding');
const cctx = new CCtx();
const zbuf = Buffer.allocUnsafe(8 * 1024 * 1024);
/** Bytes the store keeps for a chunk: zstd level 2, or raw when that saves under 1/32. */
const storedSize = (b) => { const n = cctx.compress(zbuf, b, 2); return n < b.length - (b.length >> 5) ? n : b.length; };

const data = process.argv[2] ?? `${process.env.DOTDESK_BENCH_DIR ?? '/var/tmp/dotdesk-bench'}/full/data`;
const sizes = [16, 32, 64, 128, 256, 1024].map((k) => k * 1024);
const files = (dir, out = []) => {
  for (const n of readdirSync(dir)) { const p = join(dir, n); const st = lstatSync(p); if (st.isDirectory()) files(p, out); else if (st.isFile()) out.push(p); }
  return out;
};
function chunks(dir, size, onChunk) {
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024 - ((4 * 1024 * 1024) % size));
  for (const f of files(dir)) {
    const fd = openSync(f, 'r');
    let pos = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) break;
      for (let o = 0; o < n; o += size) { const c = buf.subarray(o, Math.min(o + size, n)); onChunk(createHash('sha256').update(c).digest('base64'), c.length, c); }
      pos += n;
    }
    closeSync(fd);
  }
}
console.log(`data: ${data}`);
console.log('subdot      chunk   v1 chunks  v1 stored  v2 new bytes  (% of v2)  v2 new stored  v1+v2 stored  chunk-list bytes/commit');
for (const sub of ['users-db', 'clicks-db', 'uploads']) {
  for (const size of sizes) {
    const seen = new Set();
    let v1Stored = 0;
    chunks(join(data, 'v1', sub), size, (h, n, c) => { if (!seen.has(h)) { seen.add(h); v1Stored += storedSize(c); } });
    let total = 0, fresh = 0, freshStored = 0, count = 0;
    const added = new Set();
    chunks(join(data, 'v2', sub), size, (h, n, c) => { total += n; count++; if (!seen.has(h) && !added.has(h)) { fresh += n; freshStored += storedSize(c); added.add(h); } });
    const mb = (x) => (x / 1e6).toFixed(1) + ' MB';
    console.log(`${sub.padEnd(10)} ${String(size / 1024).padStart(5)}K ${String(seen.size).padStart(10)} ${mb(v1Stored).padStart(10)} ${mb(fresh).padStart(13)} ${(100 * fresh / total).toFixed(1).padStart(9)}% ${mb(freshStored).padStart(14)} ${mb(v1Stored + freshStored).padStart(13)} ${String((count * 66 / 1e6).toFixed(2) + ' MB').padStart(12)}`);
  }
}
