#!/usr/bin/env node
// Measures how fixed chunk sizes behave on the benchmark's PostgreSQL/Redis/uploads data:
// bytes a v2 commit must store after v1 (new chunks), and the chunk-list overhead per commit.
// Usage: node bench/chunking.mjs [DATA_DIR]   (default: the bench's full data set)
import { createHash } from 'node:crypto';
import { openSync, readSync, closeSync, readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';

const data = process.argv[2] ?? `${process.env.DOTDESK_BENCH_DIR ?? '/var/tmp/dotdesk-bench'}/full/data`;
const sizes = [8, 16, 32, 64, 128, 1024].map((k) => k * 1024);
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
      for (let o = 0; o < n; o += size) onChunk(createHash('sha256').update(buf.subarray(o, Math.min(o + size, n))).digest('base64'), Math.min(size, n - o));
      pos += n;
    }
    closeSync(fd);
  }
}
console.log(`data: ${data}`);
console.log('subdot      chunk   v1 chunks  v2 new bytes  (% of v2)  chunk-list bytes/commit');
for (const sub of ['users-db', 'clicks-db', 'uploads']) {
  for (const size of sizes) {
    const seen = new Set();
    chunks(join(data, 'v1', sub), size, (h) => seen.add(h));
    let total = 0, fresh = 0, count = 0;
    const added = new Set();
    chunks(join(data, 'v2', sub), size, (h, n) => { total += n; count++; if (!seen.has(h) && !added.has(h)) { fresh += n; added.add(h); } });
    console.log(`${sub.padEnd(10)} ${String(size / 1024).padStart(5)}K ${String(seen.size).padStart(10)} ${String((fresh / 1e6).toFixed(1) + ' MB').padStart(13)} ${(100 * fresh / total).toFixed(1).padStart(9)}% ${String((count * 66 / 1e6).toFixed(2) + ' MB').padStart(12)}`);
  }
}
