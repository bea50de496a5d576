/**
 * The tutorial's sharing path with the demo app: on store A the app gets 11 users on branch
 * many-users, which is pushed to a hub; store B clones it and the app started on B shows the
 * 11 users. Real dockerd, docker-compose, dm serve, hub and dm processes.
 * Skips with a printed reason when Docker, docker-compose, the demo or its images are missing.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { probeSocket } from '../../electron/docker/plugin';
import { dockerSkipReason, hasImage, sh, waitFor, startServeProc, DM_CLI, ROOT, ServeProc, httpRequest } from '../docker/helpers';
import { startHub, signup, request } from './helpers';

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
  if ((await probeSocket(SOCKET).catch(() => 'absent')) === 'live') return `another dm volume driver already serves ${SOCKET}`;
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

interface AppState { clicks: unknown[]; users: { id: number; name: string }[] }

test('tutorial sharing: push many-users, clone on a second store, the app there shows 11 users', async (t) => {
  const reason = await skipReason();
  if (reason) { console.log(`# tutorial sharing test skipped: ${reason}`); t.skip(reason); return; }
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-share-'));
  const hub = await startHub(path.join(tmp, 'hub'));
  const key = await signup(hub, 'alice');
  const project = 'dmshare' + randomBytes(4).toString('hex');
  const dot = `${project}_app`;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const envOf = (store: string): NodeJS.ProcessEnv => { const e: NodeJS.ProcessEnv = { ...process.env, DM_HOME: path.join(tmp, store), DM_API_KEY: key }; delete e.DM_PLUGIN_SOCKET; return e; };
  const compose = (env: NodeJS.ProcessEnv, ...args: string[]) => sh('docker-compose', ['-p', project, '-f', 'docker-compose.yml', ...args], { cwd: DEMO, env: { ...env, MOBY_PORT: String(port), MOBY_BIND: '127.0.0.1' }, timeout: 180_000 });
  const dm = async (env: NodeJS.ProcessEnv, ...args: string[]) => (await sh(process.execPath, [DM_CLI, ...args], { env, timeout: 180_000 })).stdout;
  const state = (what: string, ok: (s: AppState) => boolean = () => true): Promise<AppState> =>
    // Why httpRequest, not fetch: a fetch to a port Docker publishes before the app listens was seen never settling.
    waitFor(what, async () => { const r = await httpRequest(base + '/api/state', { timeoutMs: 3000 }).catch(() => undefined); if (!r || r.status !== 200) return undefined; let s: AppState | undefined; try { s = JSON.parse(r.body.toString('utf8')); } catch { return undefined; } if (!s) return undefined; return ok(s) ? s : undefined; }, 90_000, 250);
  const A = envOf('a'), B = envOf('b');
  const withLogs = async <T>(env: NodeJS.ProcessEnv, p: Promise<T>): Promise<T> => p.catch(async (e) => {
    const logs = await compose(env, 'logs', '--no-color', '--tail', '30').then((r) => r.stdout, (x) => String(x));
    throw new Error(`${e.message}\n${logs}\n${serve?.output() ?? ''}`);
  });
  const say = (m: string) => process.stderr.write(`# tutorial sharing: ${m}\n`);
  let serve: ServeProc | undefined;
  let composeEnv: NodeJS.ProcessEnv | undefined;
  const down = async () => {
    if (composeEnv) await compose(composeEnv, 'down', '-v', '--timeout', '5').catch((e) => console.error(`# docker-compose down -v failed: ${e.message}`));
    composeEnv = undefined;
    if (serve) await serve.stop('SIGTERM');
    serve = undefined;
  };
  try {
    let commitId = '';
    // Store A: the tutorial's first half, then push many-users.
    say('store A: dm serve');
    serve = await startServeProc(A);
    await compose(A, 'down', '-v', '--timeout', '5').catch(() => {});
    composeEnv = A;
    say('store A: compose up');
    await compose(A, 'up', '-d');
    await withLogs(A, state('app on store A'));
    await dm(A, 'switch', dot);
    await dm(A, 'commit', '-m', 'Empty state');
    await dm(A, 'checkout', '-b', 'many-users');
    await state('app after checkout -b');
    for (let i = 1; i <= 11; i++) {
      const r = await fetch(base + '/api/users', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: `user${i}` }), signal: AbortSignal.timeout(15000) });
      assert.equal(r.status, 201);
    }
    await state('11 users on A', (s) => s.users.length === 11);
    say('store A: commit 11 users');
    commitId = JSON.parse(await dm(A, 'commit', '-m', '11 users', '--json')).id;
    await dm(A, 'remote', 'add', 'hub', `alice@127.0.0.1:${hub.port}`);
    const pushed = JSON.parse(await dm(A, 'push', 'hub', dot, 'many-users', '--json'));
    assert.equal(pushed.status, 'pushed');
    assert.equal(pushed.url, `${hub.url}/alice/${dot}/commit/${commitId}`);
    say('store A: down');
    await down();

    // The pinned link shows the state.
    const page = await request(hub.port, 'GET', `/alice/${dot}/commit/${commitId}`, { key });
    assert.equal(page.status, 200);
    assert.match(page.body.toString(), /11 users/);
    assert.match(page.body.toString(), /users-db/);

    // Store B: clone and check out, start the same app: 11 users.
    await dm(B, 'remote', 'add', 'hub', `alice@127.0.0.1:${hub.port}`);
    say('store B: clone');
    const cloned = JSON.parse(await dm(B, 'clone', 'hub', `alice/${dot}`, 'many-users', '--json'));
    assert.equal(cloned.to, commitId);
    await dm(B, 'switch', dot);
    serve = await startServeProc(B);
    composeEnv = B;
    say('store B: compose up');
    await compose(B, 'up', '-d');
    const s = await withLogs(B, state('11 users on store B', (x) => x.users.length === 11));
    assert.deepEqual(s.users.map((u) => u.name), Array.from({ length: 11 }, (_, i) => `user${i + 1}`));
  } finally {
    await down();
    await hub.stop();
    await fsp.rm(tmp, { recursive: true, force: true });
  }
});
