// Integration test: build the demo images (scripts/images.sh) and run the
// moby-counter demo on a real dockerd, with Docker's local volume driver
// (docker-compose.local.yml) standing in for the `dm` plugin.
//
// Skips (with the reason printed) when `docker info` fails. Always removes
// its containers and volumes (`docker-compose down -v`) at the end.
/* global AbortController, clearTimeout */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEMO = path.join(ROOT, 'examples', 'moby-counter');

function dockerSkipReason() {
  const r = spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 20000 });
  if (r.error?.code === 'ENOENT') return 'docker is not installed (run scripts/ensure-docker.sh)';
  if (r.status !== 0) return 'docker info failed: no Docker engine answers (run scripts/ensure-docker.sh)';
  const c = spawnSync('docker-compose', ['version'], { stdio: 'ignore', timeout: 20000 });
  if (c.error || c.status !== 0) return 'docker-compose is not installed (run scripts/ensure-docker.sh)';
  return null;
}

const skip = dockerSkipReason();
if (skip) console.log(`# images-and-demo: skipped: ${skip}`);

/** A TCP port that was free a moment ago. */
async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A PNG of w x h pixels of one colour (enough for the app's sniffing and the page). */
function makePng(w, h, [r, g, b]) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf) => {
    let c = 0xffffffff;
    for (const byte of buf) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: w }, () => [r, g, b]).flat())]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The demo's own unit tests need no Docker; the repo's test runner only looks
// under test/, so they run from here.
test('moby-counter unit tests (examples/moby-counter/test)', () => {
  const r = spawnSync(process.execPath, ['--test', path.join(DEMO, 'test')], { encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, `node --test examples/moby-counter/test failed:\n${r.stdout}\n${r.stderr}`);
});

test('images.sh builds the demo images and the demo keeps its data across restarts', { skip: skip ?? false, timeout: 15 * 60 * 1000 }, async (t) => {
  const project = `ddtest${process.pid}${randomBytes(3).toString('hex')}`;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = { ...process.env, MOBY_PORT: String(port), MOBY_BIND: '127.0.0.1' };
  const compose = (...args) =>
    run('docker-compose', ['-p', project, '-f', 'docker-compose.yml', '-f', 'docker-compose.local.yml', ...args], {
      cwd: DEMO, env, timeout: 180000, maxBuffer: 16 * 1024 * 1024,
    });

  /** One HTTP request to the app, abandoned after timeoutMs. */
  const api = async (method, p, body, headers = {}, timeoutMs = 30000) => {
    // Why our own timer: right after a container starts, docker-proxy may
    // accept a connection and never answer it. And not AbortSignal.timeout():
    // its timer is unref'd, so node:test would see an idle event loop and
    // cancel the test while the request hangs.
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error(`${method} ${p}: no answer within ${timeoutMs} ms`)), timeoutMs);
    const init = { method, headers: { ...headers }, signal: ac.signal };
    if (Buffer.isBuffer(body)) init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
    try {
      const res = await fetch(base + p, init);
      const type = res.headers.get('content-type') ?? '';
      const data = type.startsWith('application/json') ? await res.json() : Buffer.from(await res.arrayBuffer());
      return { status: res.status, type, data };
    } finally {
      clearTimeout(timer);
    }
  };

  /** Poll GET /api/state until the app and both databases answer. */
  const waitForState = async (what, timeoutMs = 90000) => {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
      try {
        const r = await api('GET', '/api/state', undefined, {}, 5000);
        if (r.status === 200) return r.data;
        last = `${r.status} ${JSON.stringify(r.data)}`;
      } catch (err) {
        last = err.message;
      }
      await sleep(300);
    }
    const logs = await compose('logs', '--no-color', '--tail', '30').then((r) => r.stdout, (e) => String(e));
    assert.fail(`${what}: the app did not answer within ${timeoutMs / 1000}s (last: ${last})\n${logs}`);
  };

  // --- images -------------------------------------------------------------
  const started = Date.now();
  const images = spawnSync(path.join(ROOT, 'scripts', 'images.sh'), { encoding: 'utf8', timeout: 10 * 60 * 1000 });
  t.diagnostic(`scripts/images.sh took ${((Date.now() - started) / 1000).toFixed(1)}s`);
  assert.equal(images.status, 0, `scripts/images.sh failed:\n${images.stdout}\n${images.stderr}`);
  for (const img of ['debian-local:bookworm', 'dotdesk-demo/redis', 'dotdesk-demo/postgres', 'dotdesk-demo/app']) {
    const r = spawnSync('docker', ['image', 'inspect', img], { stdio: 'ignore' });
    assert.equal(r.status, 0, `image ${img} is missing after scripts/images.sh`);
  }
  const keys = spawnSync(path.join(ROOT, 'scripts', 'images.sh'), ['--print-keys'], { encoding: 'utf8' }).stdout.trim().split('\n');
  assert.equal(keys.length, 4, `images.sh --print-keys: ${keys}`);
  for (const line of keys) {
    const [img, key] = line.split(' ');
    const label = spawnSync('docker', ['image', 'inspect', '--format', '{{ index .Config.Labels "dotdesk.key" }}', img], { encoding: 'utf8' }).stdout.trim();
    assert.equal(label, key, `${img} carries its cache key as label dotdesk.key`);
  }
  const again = spawnSync(path.join(ROOT, 'scripts', 'images.sh'), { encoding: 'utf8', timeout: 60000 });
  assert.equal(again.status, 0);
  assert.match(again.stdout, /images are up to date/, 'a second run finds the images up to date');

  // --- demo up --------------------------------------------------------------
  t.after(async () => {
    // Always: containers and volumes of this project go away.
    await compose('down', '-v', '--remove-orphans', '--timeout', '5').catch((err) => {
      console.error(`# docker-compose down -v failed for project ${project}: ${err.message}`);
    });
  });
  await compose('up', '-d');
  const empty = await waitForState('first start');
  assert.deepEqual(empty.clicks, []);
  assert.deepEqual(empty.users, []);
  assert.match(empty.version, /^[0-9a-f]{16}$/);

  const page = await api('GET', '/');
  assert.equal(page.status, 200);
  assert.match(page.data.toString(), /Moby counter/);

  // --- users: ids 1..11, an 11th user brings pagination (known bug a) --------
  for (let i = 1; i <= 11; i++) {
    const r = await api('POST', '/api/users', { name: `user${i}` });
    assert.equal(r.status, 201, JSON.stringify(r.data));
    assert.deepEqual({ id: r.data.id, name: r.data.name }, { id: i, name: `user${i}` });
    if (i === 10) assert.equal((await api('GET', '/api/state')).data.bugs.pagination, false);
  }
  const login = await api('POST', '/api/users', { name: 'user3' });
  assert.equal(login.status, 200, 'an existing name logs in');
  assert.equal(login.data.id, 3);
  assert.equal((await api('POST', '/api/users', { name: 'x'.repeat(41) })).status, 400);

  // --- clicks: 5 in the top 100 px bring the insect (known bug b) ------------
  const clicks = [{ x: 10, y: 5 }, { x: 300, y: 400 }, { x: 20, y: 50 }, { x: 30, y: 99 }, { x: 40, y: 0 }, { x: 500, y: 200 }, { x: 50, y: 60 }];
  for (const [i, c] of clicks.entries()) {
    const r = await api('POST', '/api/clicks', c);
    assert.equal(r.status, 201, JSON.stringify(r.data));
    if (i === 4) assert.equal((await api('GET', '/api/state')).data.bugs.insect, false, '4 clicks on top: no insect yet');
  }
  assert.equal((await api('POST', '/api/clicks', { x: 'a', y: 1 })).status, 400);

  // --- uploads -------------------------------------------------------------
  const tall = makePng(10, 20, [200, 30, 30]);
  const up = await api('POST', '/api/users/1/image', tall, { 'Content-Type': 'image/png' });
  assert.equal(up.status, 200, JSON.stringify(up.data));
  assert.match(up.data.image, /^\/uploads\/user-1-[0-9a-f]{16}\.png$/);
  const served = await api('GET', up.data.image);
  assert.equal(served.status, 200);
  assert.equal(served.type, 'image/png');
  assert.ok(served.data.equals(tall), 'the upload is served byte for byte');
  assert.equal((await api('POST', '/api/users/1/image', Buffer.from('<svg/>'))).status, 415);
  assert.equal((await api('POST', '/api/users/999/image', tall)).status, 404);
  assert.equal((await api('GET', '/uploads/..%2F..%2Fetc%2Fpasswd')).status, 404);

  // --- the security hole (known bug d) -----------------------------------------
  const anon = await api('POST', '/api/users', { name: '' });
  assert.equal(anon.status, 201);
  assert.equal(anon.data.id, 12);
  const hijack = makePng(8, 8, [0, 0, 0]);
  const hijacked = await api('POST', `/api/users/${anon.data.id}/image`, hijack);
  assert.equal(hijacked.status, 200);
  const victim = await api('POST', '/api/users', { name: 'newbie' });
  assert.equal(victim.data.id, 13);
  assert.equal(victim.data.image, hijacked.data.image, 'new users start with the empty-name account image');

  const before = await waitForState('after writes');
  assert.deepEqual(before.clicks, clicks);
  assert.deepEqual(before.users.map((u) => u.id), Array.from({ length: 13 }, (_, i) => i + 1));
  assert.deepEqual(before.bugs, { pagination: true, insect: true });
  assert.equal(before.defaultImage, hijacked.data.image);
  assert.equal((await api('GET', '/api/version')).data.version, before.version, 'the version is stable while nothing changes');

  // --- the databases restart under the running app --------------------------------
  await compose('restart', '--timeout', '10', 'redis', 'postgres');
  const afterDbRestart = await waitForState('after restarting redis and postgres');
  assert.deepEqual(afterDbRestart, before, 'data survived a database restart; the app reconnected');
  const extra = await api('POST', '/api/clicks', { x: 7, y: 700 });
  assert.equal(extra.status, 201, 'the app writes again after the restart');
  const withExtra = await waitForState('after one more click');
  assert.notEqual(withExtra.version, before.version, 'the version changes with the data');

  // --- new containers on the same volumes --------------------------------------
  const stopped = Date.now();
  await compose('stop', '--timeout', '10');
  t.diagnostic(`docker-compose stop took ${((Date.now() - stopped) / 1000).toFixed(1)}s`);
  await compose('rm', '-f');
  await compose('up', '-d');
  const recreated = await waitForState('after recreating the containers');
  assert.deepEqual(recreated, withExtra, 'clicks, users and uploads live in the volumes');
  const servedAgain = await api('GET', up.data.image);
  assert.ok(servedAgain.data.equals(tall), 'the upload survived');

  // Redis persists both ways (AOF + RDB); PostgreSQL's files belong to postgres.
  const redisFiles = (await compose('exec', '-T', 'redis', 'ls', '/var/lib/redis')).stdout.split(/\s+/);
  assert.ok(redisFiles.includes('appendonlydir'), `AOF in the clicks volume: ${redisFiles}`);
  assert.ok(redisFiles.includes('dump.rdb'), `RDB in the clicks volume: ${redisFiles}`);
  const pgOwner = (await compose('exec', '-T', 'postgres', 'stat', '-c', '%U', '/var/lib/postgresql/data/PG_VERSION')).stdout.trim();
  assert.equal(pgOwner, 'postgres');
});
