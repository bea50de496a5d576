/**
 * The tutorial end to end through `dm` and docker-compose (examples/moby-counter with volumes
 * `driver: dm`), then a commit taken while the app writes to Redis and PostgreSQL continuously:
 * the restored databases start and agree with each other as of one instant.
 * Skips with a printed reason when Docker, docker-compose, the demo or its images are missing.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import * as zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { httpRequest, waitSocketFree, dockerSkipReason, hasImage, sh, waitFor, startServeProc, DM_CLI, ROOT, ServeProc } from './helpers';

const SOCKET = '/run/docker/plugins/dm.sock';
const DEMO = path.join(ROOT, 'examples', 'moby-counter');
const IMAGES = ['dotdesk-demo/redis', 'dotdesk-demo/postgres', 'dotdesk-demo/app'];

async function skipReason(): Promise<string | null> {
  const d = dockerSkipReason();
  if (d) return d;
  const c = spawnSync('docker-compose', ['version'], { stdio: 'ignore', timeout: 20_000 });
  if (c.error || c.status !== 0) return 'docker-compose is not installed (run scripts/ensure-docker.sh)';
  if (!existsSync(path.join(DEMO, 'docker-compose.yml'))) return 'examples/moby-counter is missing';
  const missing = IMAGES.filter((i) => !hasImage(i));
  if (missing.length) return `images ${missing.join(', ')} are missing (run scripts/images.sh)`;
  if (!(await waitSocketFree(SOCKET))) return `another dm volume driver keeps serving ${SOCKET}`;
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

/** A PNG of w x h pixels of one colour. */
function makePng(w: number, h: number, rgb: [number, number, number]): Buffer {
  const table = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
  const crc32 = (b: Buffer) => { let c = 0xffffffff; for (const x of b) c = table[(c ^ x) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: w }, () => rgb).flat())]);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.concat(Array.from({ length: h }, () => row)))), chunk('IEND', Buffer.alloc(0))]);
}

interface AppState { clicks: { x: number; y: number }[]; users: { id: number; name: string; image?: string | null }[] }

test('the tutorial through dm and docker-compose, and a one-instant commit under load', async (t) => {
  const reason = await skipReason();
  if (reason) { console.log(`# tutorial test skipped: ${reason}`); t.skip(reason); return; }
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-tutorial-'));
  const env: NodeJS.ProcessEnv = { ...process.env, DM_HOME: path.join(tmp, 'store') };
  delete env.DM_PLUGIN_SOCKET;
  const project = 'dmtut' + randomBytes(4).toString('hex');
  const dot = `${project}_app`;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const composeEnv = { ...env, MOBY_PORT: String(port), MOBY_BIND: '127.0.0.1' };
  const compose = (...args: string[]) => sh('docker-compose', ['-p', project, '-f', 'docker-compose.yml', ...args], { cwd: DEMO, env: composeEnv, timeout: 180_000 });
  const dm = async (...args: string[]) => (await sh(process.execPath, [DM_CLI, ...args], { env, timeout: 120_000 })).stdout;
  const dmJson = async (...args: string[]) => JSON.parse(await dm(...args, '--json'));
  const api = async (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) => {
    const h = { ...headers };
    let data: Buffer | string | undefined;
    if (Buffer.isBuffer(body)) data = body;
    else if (body !== undefined) { data = JSON.stringify(body); h['Content-Type'] = 'application/json'; }
    const r = await httpRequest(base + p, { method, body: data, headers: h });
    return { status: r.status, data: (r.type.startsWith('application/json') ? JSON.parse(r.body.toString('utf8')) : r.body) as any };
  };
  const state = async (what: string, ok: (s: AppState) => boolean = () => true): Promise<AppState> =>
    waitFor(what, async () => { const r = await api('GET', '/api/state'); return r.status === 200 && ok(r.data) ? r.data as AppState : undefined; }, 90_000, 250)
      .catch(async (e) => { const logs = await compose('logs', '--no-color', '--tail', '20').then((r) => r.stdout, (x) => String(x)); throw new Error(`${e.message}\n${logs}`); });
  const timings: string[] = [];
  const timed = async <T>(label: string, fn: () => Promise<T>): Promise<T> => { const t0 = Date.now(); try { return await fn(); } finally { timings.push(`${label} ${Date.now() - t0} ms`); } };
  // Why steps instead of subtests: a subtest still pending when the test times out never settles,
  // and then the cleanup below (down -v while the driver is up) would never run.
  const step = async (name: string, fn: () => Promise<void>) => {
    const t0 = Date.now();
    process.stderr.write(`# tutorial: ${name}…\n`);
    try { await fn(); } catch (e) { throw Object.assign(e as Error, { message: `${name}: ${(e as Error).message}` }); }
    t.diagnostic(`${name}: ${Date.now() - t0} ms`);
  };

  let serve: ServeProc | undefined;
  try {
    // The driver first, and it stays up until `down -v` is done (dockerd waits ~15 s per call on a dead plugin).
    const say = (m: string) => process.stderr.write(`# tutorial: ${m}\n`);
    serve = await startServeProc(env);
    say('dm serve is up');
    await compose('down', '-v', '--timeout', '5').catch(() => {});
    say('compose up');
    await timed('compose up', () => compose('up', '-d'));
    say('waiting for the app');
    const empty = await state('first start');
    assert.deepEqual(empty.users, []);
    assert.deepEqual(empty.clicks, []);

    await step('dm list shows the dot with 3 subdots and its containers', async () => {
      const d = (await dmJson('list')).find((x: any) => x.name === dot);
      assert.ok(d, `dm list has ${dot}`);
      assert.deepEqual(d.subdots, ['clicks-db', 'uploads', 'users-db']);
      assert.deepEqual(d.containers.map((c: any) => c.service).sort(), ['app', 'postgres', 'redis']);
      assert.ok(d.containers.every((c: any) => c.running && c.project === project));
      const text = await dm('list');
      assert.match(text, new RegExp(`${dot}\\s+master\\s+\\S*${project}_app_1`));
    });

    let png: Buffer = Buffer.alloc(0);
    let upload = '';
    let ids: number[] = [];
    await step('commit "Empty state", branch many-users with 11 users, back to master and forth', async () => {
      await dm('switch', dot);
      const c0 = await timed('commit empty', () => dmJson('commit', '-m', 'Empty state'));
      assert.equal(c0.taken.how, 'paused');
      assert.equal(c0.taken.containers.length, 3);
      const co = await timed('checkout -b', () => dmJson('checkout', '-b', 'many-users'));
      assert.equal(co.restarted.length, 3);
      await state('app after checkout -b');
      for (let i = 1; i <= 11; i++) {
        const r = await api('POST', '/api/users', { name: `user${i}` });
        assert.equal(r.status, 201, JSON.stringify(r.data));
      }
      for (const c of [{ x: 10, y: 20 }, { x: 200, y: 300 }]) assert.equal((await api('POST', '/api/clicks', c)).status, 201);
      png = makePng(6, 12, [10, 120, 200]);
      const up = await api('POST', '/api/users/1/image', png, { 'Content-Type': 'image/png' });
      assert.equal(up.status, 200, JSON.stringify(up.data));
      upload = up.data.image;
      const full = await state('11 users');
      ids = full.users.map((u) => u.id);
      assert.deepEqual(ids, Array.from({ length: 11 }, (_, i) => i + 1));
      const c1 = await timed('commit 11 users', () => dmJson('commit', '-m', '11 users'));
      assert.equal(c1.taken.how, 'paused');

      const m = await timed('checkout master', () => dmJson('checkout', 'master'));
      assert.equal(m.restarted.length, 3);
      const onMaster = await timed('app answers on master', () => state('master: 0 users', (s) => s.users.length === 0));
      assert.deepEqual(onMaster.users, []);
      assert.deepEqual(onMaster.clicks, []);
      assert.equal((await api('GET', upload)).status, 404, 'the upload is not on master');

      await timed('checkout many-users', () => dmJson('checkout', 'many-users'));
      const back = await state('many-users: 11 users', (s) => s.users.length === 11);
      assert.deepEqual(back.users.map((u) => u.id), ids, 'same ids');
      assert.deepEqual(back.users.map((u) => u.name), ids.map((i) => `user${i}`));
      assert.deepEqual(back.clicks, [{ x: 10, y: 20 }, { x: 200, y: 300 }]);
      const img = await api('GET', upload);
      assert.equal(img.status, 200);
      assert.ok(Buffer.isBuffer(img.data) && img.data.equals(png), 'the upload follows the branch');
      const log = await dmJson('log');
      assert.deepEqual(log.map((c: any) => c.message), ['11 users', 'Empty state']);
    });

    await step('a commit taken while the app writes continuously restores to one instant of both databases', async () => {
      await dm('checkout', '-b', 'load');
      await state('app on load');
      const WRITERS = 3;
      let stop = false;
      const written = Array.from({ length: WRITERS }, () => 0);
      const writer = async (w: number) => {
        // Each step writes PostgreSQL, then Redis: at any instant users_w - clicks_w is 0 or 1.
        for (let i = 1; !stop; i++) {
          for (;;) { const r = await api('POST', '/api/users', { name: `w${w}-${i}` }).catch(() => ({ status: 0, data: null })); if (r.status === 201) break; if (stop) return; await new Promise((x) => setTimeout(x, 50)); }
          for (;;) { const r = await api('POST', '/api/clicks', { x: w, y: 50000 + i }).catch(() => ({ status: 0, data: null })); if (r.status === 201) break; await new Promise((x) => setTimeout(x, 50)); }
          written[w] = i;
        }
      };
      const ws = Array.from({ length: WRITERS }, (_, w) => writer(w));
      await waitFor('writers to get going', async () => written.every((n) => n >= 20), 60_000, 50);
      const beforeCommit = [...written];
      const c = await timed('commit under load', () => dmJson('commit', '-m', 'under load'));
      assert.equal(c.taken.how, 'paused');
      const afterCommit = [...written];
      await new Promise((r) => setTimeout(r, 500));
      stop = true;
      await Promise.all(ws);
      await dmJson('checkout', '-b', 'restored', c.id);
      const s = await state('restored state answers', (x) => x.users.length > 11);
      for (let w = 0; w < WRITERS; w++) {
        const us = s.users.filter((u) => u.name.startsWith(`w${w}-`)).map((u) => Number(u.name.split('-')[1])).sort((a, b) => a - b);
        const cs = s.clicks.filter((k) => k.x === w && k.y > 50000).map((k) => k.y - 50000).sort((a, b) => a - b);
        assert.deepEqual(us, Array.from({ length: us.length }, (_, i) => i + 1), `writer ${w}: users are a prefix`);
        assert.deepEqual(cs, Array.from({ length: cs.length }, (_, i) => i + 1), `writer ${w}: clicks are a prefix`);
        assert.ok(us.length - cs.length === 0 || us.length - cs.length === 1, `writer ${w}: PostgreSQL has ${us.length} users and Redis ${cs.length} clicks: not one instant`);
        assert.ok(us.length >= beforeCommit[w] && us.length <= afterCommit[w] + 1, `writer ${w}: ${us.length} users restored; ${beforeCommit[w]} written before the commit, ${afterCommit[w]} after`);
        assert.ok(us.length < written[w], `writer ${w}: later writes are not in the commit`);
      }
      assert.equal(s.users.filter((u) => /^user\d+$/.test(u.name)).length, 11, 'the 11 users of many-users are there too');
    });
  } finally {
    // Always: containers and volumes go while the driver still answers; then the driver stops.
    await compose('down', '-v', '--timeout', '5').catch((e) => console.error(`# docker-compose down -v failed for ${project}: ${e.message}`));
    if (serve) await serve.stop('SIGTERM');
    await fsp.rm(tmp, { recursive: true, force: true });
    console.log(`# tutorial timings: ${timings.join(', ')}`);
  }
});
