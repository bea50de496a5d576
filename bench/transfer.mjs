#!/usr/bin/env node
// Dotdesk transfer benchmark: push and pull throughput to a hub on loopback, and the bytes an
// incremental push sends compared with the new chunk bytes it needs.
//
//   npm run build && node bench/transfer.mjs [--mb N] [--json]
//
// The hub runs as a child process on 127.0.0.1 (random port); both stores are driven through
// the service in this process, as the app and dm do. Data: half random (incompressible, like
// uploads), half repetitive text (compressible, like database pages). Results also go to
// bench/results/transfer.json.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { DotdeskService } = require(path.join(ROOT, 'dist', 'electron', 'service', 'service.js'));
const MB = 1024 * 1024;
const arg = (k, d) => { const i = process.argv.indexOf('--' + k); return i >= 0 ? process.argv[i + 1] : d; };
const SIZE_MB = Number(arg('mb', process.env.DM_BENCH_TRANSFER_MB ?? 128));
const asJson = process.argv.includes('--json');
const log = (s) => { if (!asJson) process.stderr.write(s + '\n'); };

async function startHub(data) {
  const proc = spawn(process.execPath, [path.join(ROOT, 'dist', 'hub', 'main.js'), '--data', data, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (c) => { out += c; const m = /127\.0\.0\.1:(\d+)/.exec(out); if (m) resolve(Number(m[1])); });
    proc.on('exit', (c) => reject(new Error('hub exited ' + c)));
  });
  return { port, stop: () => new Promise((r) => { proc.once('exit', r); proc.kill('SIGTERM'); }) };
}

async function post(port, p, body) {
  const r = await fetch(`http://127.0.0.1:${port}${p}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return r.json();
}

/** Writes `mb` MiB into a subdot: random files and compressible text files, 8 MiB each. */
async function fill(dir, mb, tag) {
  await fsp.mkdir(dir, { recursive: true });
  const line = (i) => `${tag} row ${i} name=user${i % 997} email=user${i % 997}@example.com balance=${(i * 7919) % 100000}\n`;
  for (let i = 0; i < mb / 8; i++) {
    if (i % 2 === 0) await fsp.writeFile(path.join(dir, `random-${i}.bin`), randomBytes(8 * MB));
    else { let s = ''; let n = 0; while (s.length < 8 * MB) s += line(i * 100000 + n++); await fsp.writeFile(path.join(dir, `table-${i}.txt`), s.slice(0, 8 * MB)); }
  }
}

const rate = (bytes, secs) => bytes / MB / Math.max(secs, 1e-9);

async function main() {
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-bench-transfer-'));
  const hub = await startHub(path.join(work, 'hub'));
  const { apiKey } = await post(hub.port, '/api/v1/users', { user: 'bench', password: 'bench-password' });
  const a = await DotdeskService.open(path.join(work, 'a'));
  const b = await DotdeskService.open(path.join(work, 'b'));
  const results = { sizeMiB: SIZE_MB, host: os.hostname(), cpus: os.cpus().length, time: new Date().toISOString() };
  try {
    for (const s of [a, b]) await s.addRemote('hub', `bench@127.0.0.1:${hub.port}`, apiKey);
    await a.createDot('data');
    log(`generating ${SIZE_MB} MiB…`);
    await fill(await a.subdotPath('data', 'db'), SIZE_MB, 'base');
    await a.commit('data', { message: 'base' });

    let t = Date.now();
    const push = await a.push('hub', 'data');
    let secs = (Date.now() - t) / 1000;
    results.push = { seconds: secs, wireBytes: push.stats.bytes, rawMiBps: rate(SIZE_MB * MB, secs), wireMiBps: rate(push.stats.bytes, secs), objects: push.stats.objects };
    log(`push:  ${SIZE_MB} MiB (${(push.stats.bytes / MB).toFixed(1)} MiB on the wire) in ${secs.toFixed(2)} s = ${results.push.rawMiBps.toFixed(0)} MiB/s of data`);

    t = Date.now();
    const clone = await b.clone('hub', 'bench/data');
    secs = (Date.now() - t) / 1000;
    results.clone = { seconds: secs, wireBytes: clone.stats.bytes, rawMiBps: rate(SIZE_MB * MB, secs), wireMiBps: rate(clone.stats.bytes, secs) };
    log(`clone: ${SIZE_MB} MiB in ${secs.toFixed(2)} s = ${results.clone.rawMiBps.toFixed(0)} MiB/s (including writing the working state)`);

    // Incremental: a new 8 MiB random file and 1 MiB changed in the middle of an existing file.
    const dir = await a.subdotPath('data', 'db');
    await fsp.writeFile(path.join(dir, 'new.bin'), randomBytes(8 * MB));
    const fh = await fsp.open(path.join(dir, 'random-0.bin'), 'r+');
    await fh.write(randomBytes(MB), 0, MB, 3 * MB); await fh.close();
    const before = a.engine.objects.stats.newStoredBytes;
    await a.commit('data', { message: 'incremental' });
    const newChunkBytes = a.engine.objects.stats.newStoredBytes - before;
    t = Date.now();
    const inc = await a.push('hub', 'data');
    secs = (Date.now() - t) / 1000;
    results.incrementalPush = { seconds: secs, wireBytes: inc.stats.bytes, chunkBytes: inc.stats.chunkBytes, newStoredBytes: newChunkBytes, overheadBytes: inc.stats.bytes - inc.stats.chunkBytes, ratio: inc.stats.bytes / Math.max(1, newChunkBytes) };
    log(`incremental push: sent ${(inc.stats.bytes / MB).toFixed(2)} MiB for ${(newChunkBytes / MB).toFixed(2)} MiB of new stored objects (ratio ${results.incrementalPush.ratio.toFixed(3)}) in ${secs.toFixed(2)} s`);

    t = Date.now();
    const pull = await b.pull('hub', 'data');
    secs = (Date.now() - t) / 1000;
    results.incrementalPull = { seconds: secs, wireBytes: pull.stats.bytes };
    log(`incremental pull: ${(pull.stats.bytes / MB).toFixed(2)} MiB in ${secs.toFixed(2)} s`);
  } finally {
    await a.engine.close(); await b.engine.close();
    await hub.stop();
    await fsp.rm(work, { recursive: true, force: true });
  }
  await fsp.mkdir(path.join(ROOT, 'bench', 'results'), { recursive: true });
  await fsp.writeFile(path.join(ROOT, 'bench', 'results', 'transfer.json'), JSON.stringify(results, null, 2) + '\n');
  if (asJson) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
}

main().catch((e) => { console.error(e); process.exit(1); });
