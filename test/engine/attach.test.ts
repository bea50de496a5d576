// dm with a Dotdesk already running on the store (the app, `dm serve`, `npm start`): the
// command attaches to its bridge instead of opening the store a second time. Real processes:
// the bridge as `npm start` runs it, dm as users run it, and a UI's event stream over WebSocket.
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp, existsSync } from 'node:fs';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { tmpDir, dm, dmOk, spawn, ROOT, DM } from '../helpers';
import { BridgeClient } from '../../electron/bridge/client';
import { startBridge as startBridgeIn } from '../../electron/bridge/server';
import { createService } from '../../electron/service/create';
import type { DotdeskEvent } from '../../electron/contract/api';

/** Starts the bridge (`npm start` without Electron) on a store; resolves with its URL. */
async function startBridge(home: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'electron', 'bridge', 'cli.js'), '--json', '--no-plugin'], {
    env: { ...process.env, DM_HOME: home, DM_DOCKER: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (b: Buffer) => { err += b; });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line && out.includes('\n')) resolve(JSON.parse(line).url);
    });
    child.once('exit', (code) => reject(new Error(`bridge exited ${code}: ${err}`)));
  });
  return { child, url };
}

const exited = (c: ChildProcess) => new Promise<void>((r) => { if (c.exitCode !== null || c.signalCode !== null) r(); else c.once('exit', () => r()); });
const settle = () => new Promise((r) => setTimeout(r, 300));

test('dm attaches to a running Dotdesk: the app sees the commit live, the terminal keeps its author, codes and exit codes', async () => {
  const home = await tmpDir('dm-attach-');
  // The running app is another user's environment: its DM_AUTHOR must not sign the terminal's commits.
  const { child, url } = await startBridge(home, { DM_AUTHOR: 'the-app' });
  const ui = BridgeClient.fromUrl(url);
  const seen: DotdeskEvent[] = [];
  try {
    ui.events.on('event', (e: DotdeskEvent) => seen.push(e));
    await ui.subscribe();
    dmOk(home, ['init', 'shop']);
    const users = dmOk(home, ['dot', 'path', 'shop', 'users-db']).trim();
    await fsp.writeFile(path.join(users, 'rows.csv'), 'id,name\n1,ada\n');
    const r = dm(home, ['commit', '-m', 'from the terminal']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Committed [0-9a-f]{12} on shop \(1 subdot/);
    // The terminal still shows the commit's progress (it comes in the answer to its call).
    assert.match(r.err, /\[commit\] /);
    await settle();
    // The app's UI saw the commit as it ran: its progress, then the change, named.
    assert.ok(seen.some((e) => e.type === 'progress' && e.progress.op === 'commit'), `no commit progress in ${JSON.stringify(seen)}`);
    assert.ok(seen.some((e) => e.type === 'changed' && e.dot === 'shop' && e.reason === 'commit'), `no commit change in ${JSON.stringify(seen)}`);
    const [c] = JSON.parse(dmOk(home, ['log', '--json']));
    assert.equal(c.message, 'from the terminal');
    assert.equal(c.author, 'tester');
    // Errors from the running service keep their code, hint and exit code.
    let bad = dm(home, ['checkout', 'nope']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^error \[BRANCH_NOT_FOUND\]: .*\nhint: /);
    bad = dm(home, ['init', '../escape']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /error \[INVALID_NAME\]/);
    // DM_ATTACH=0 opens the store in the dm process: the app learns of it only from its store watcher.
    seen.length = 0;
    await fsp.writeFile(path.join(users, 'rows.csv'), 'id,name\n1,ada\n2,grace\n');
    dmOk(home, ['commit', '-m', 'direct'], { DM_ATTACH: '0' });
    await settle();
    assert.ok(!seen.some((e) => e.type === 'progress'), 'a direct commit runs outside the app');
    assert.deepEqual(JSON.parse(dmOk(home, ['log', '--json'])).map((x: { message: string }) => x.message), ['direct', 'from the terminal']);
  } finally {
    ui.close();
    child.kill('SIGTERM');
    await exited(child);
  }
  try {
    // The bridge is gone: dm works on the store itself, whether the bridge cleaned up or was killed.
    assert.ok(!existsSync(path.join(home, 'bridge.json')), 'a stopped bridge withdraws its advert');
    assert.equal(JSON.parse(dmOk(home, ['log', '--json'])).length, 2);
    const killed = await startBridge(home);
    killed.child.kill('SIGKILL');
    await exited(killed.child);
    assert.ok(existsSync(path.join(home, 'bridge.json')), 'a killed bridge leaves its advert behind');
    const r = dm(home, ['commit', '-m', 'after the app died']);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(dmOk(home, ['log', '--json'])).length, 3);
    // An advert whose pid is alive (now some other program) but whose bridge does not answer.
    const advert = JSON.parse(await fsp.readFile(path.join(home, 'bridge.json'), 'utf8'));
    await fsp.writeFile(path.join(home, 'bridge.json'), JSON.stringify({ ...advert, pid: process.pid }));
    let st = dm(home, ['status']);
    assert.equal(st.code, 0, st.err);
    assert.equal(st.err, '');
    // A Dotdesk of another version (started before an upgrade): dm says so and works directly.
    await fsp.writeFile(path.join(home, 'bridge.json'), JSON.stringify({ ...advert, pid: process.pid, api: 'listDots,frobnicate' }));
    st = dm(home, ['status']);
    assert.equal(st.code, 0, st.err);
    assert.match(st.err, /^dm: the Dotdesk running on this store \(pid \d+\) is another version; this dm opens the store itself/);
    // An explicit DM_ATTACH that does not answer is an error, not a silent fallback.
    const dead = dm(home, ['log'], { env: { DM_ATTACH: killed.url } });
    assert.equal(dead.code, 1);
    assert.match(dead.err, /^error \[REMOTE_UNREACHABLE\]: Cannot attach to the Dotdesk bridge at http:\/\/127\.0\.0\.1:\d+/);
    // A DM_ATTACH that is no bridge URL says what is wrong with it.
    const garbage = dm(home, ['log'], { env: { DM_ATTACH: 'not a url' } });
    assert.equal(garbage.code, 2);
    assert.match(garbage.err, /^error \[INVALID_ARGUMENT\]: DM_ATTACH=not a url is not a URL\.\nhint: /);
    const tokenless = dm(home, ['log'], { env: { DM_ATTACH: 'http://127.0.0.1:1/' } });
    assert.match(tokenless.err, /^error \[AUTH_FAILED\]: The bridge URL http:\/\/127\.0\.0\.1:1 carries no token\./);
    assert.match(dmOk(home, ['verify']), /Store is healthy/);
  } finally { await fsp.rm(home, { recursive: true, force: true }); }
});

test('the desktop app advertises its API bridge without a second store watcher, and dm attaches to it', async () => {
  const home = await tmpDir('dm-attach-app-');
  // As electron/main does for its embedded service.
  const service = await createService({ home, docker: false });
  const bridge = await startBridgeIn(service, { advertise: true, watchHome: false });
  try {
    const ad = JSON.parse(await fsp.readFile(path.join(home, 'bridge.json'), 'utf8'));
    assert.equal(ad.url, bridge.url);
    assert.equal((await fsp.stat(path.join(home, 'bridge.json'))).mode & 0o777, 0o600);
    // dm runs in another process while this one serves it (async spawn: the event loop stays free).
    const out = await new Promise<string>((resolve, reject) => {
      const c = spawn(DM, ['init', 'desk'], { env: { ...process.env, DM_HOME: home, DM_AUTHOR: 'tester' } });
      let o = '', e = '';
      c.stdout!.on('data', (b: Buffer) => { o += b; });
      c.stderr!.on('data', (b: Buffer) => { e += b; });
      c.on('exit', (code) => (code === 0 ? resolve(o) : reject(new Error(`dm exited ${code}: ${e}`))));
    });
    assert.match(out, /Created dot desk/);
    assert.deepEqual((await service.listDots()).map((d) => d.name), ['desk']);
    assert.equal(await service.currentDot(), 'desk');
  } finally {
    await bridge.close();
    await service.engine.close();
  }
  assert.ok(!existsSync(path.join(home, 'bridge.json')), 'closing the app withdraws the advert');
  await fsp.rm(home, { recursive: true, force: true });
});

test('each attached command sees only its own progress, while the app sees all of it', async () => {
  const home = await tmpDir('dm-attach-calls-');
  const service = await createService({ home, docker: false });
  const bridge = await startBridgeIn(service, { advertise: true, watchHome: false });
  const a = BridgeClient.fromUrl(bridge.url) as BridgeClient & { commit: (dot: string, r: { message: string }) => Promise<unknown>; createDot: (d: string) => Promise<unknown>; subdotPath: (d: string, s: string) => Promise<string> };
  const b = BridgeClient.fromUrl(bridge.url) as typeof a;
  const seenByA: DotdeskEvent[] = [];
  const seenByB: DotdeskEvent[] = [];
  try {
    a.events.on('event', (e: DotdeskEvent) => seenByA.push(e));
    b.events.on('event', (e: DotdeskEvent) => seenByB.push(e));
    await a.subscribe();
    await b.subscribe();
    await a.createDot('one');
    await fsp.writeFile(path.join(await a.subdotPath('one', 'alpha-db'), 'rows'), 'x'.repeat(100_000));
    await a.commit('one', { message: 'from A' });
    await settle();
    const progressB = seenByB.filter((e) => e.type === 'progress');
    assert.ok(progressB.length > 0, 'every client (the app) sees the commit\'s progress');
    assert.ok(progressB.every((e) => e.type === 'progress' && typeof e.call === 'string'), 'progress names its call');
    assert.ok(progressB.every((e) => !b.ownsProgress(e)), 'B does not take A\'s progress for its own');
    assert.ok(seenByA.filter((e) => e.type === 'progress').every((e) => a.ownsProgress(e)), 'A recognises its own');
  } finally {
    a.close(); b.close();
    await bridge.close();
    await service.engine.close();
    await fsp.rm(home, { recursive: true, force: true });
  }
});

test('a streamed call (as dm makes them) gets its own progress in its answer, not another call\'s, and its error with code and hint', async () => {
  const home = await tmpDir('dm-attach-stream-');
  const service = await createService({ home, docker: false });
  const bridge = await startBridgeIn(service, { advertise: true, watchHome: false });
  type Api = BridgeClient & { commit: (dot: string, r: { message: string }) => Promise<{ id: string }>; createDot: (d: string) => Promise<unknown>; subdotPath: (d: string, s: string) => Promise<string> };
  const cli = BridgeClient.fromUrl(bridge.url, { streamed: true }) as Api;
  const other = BridgeClient.fromUrl(bridge.url, { streamed: true }) as Api;
  const app = BridgeClient.fromUrl(bridge.url) as Api;
  const byCli: DotdeskEvent[] = [], byOther: DotdeskEvent[] = [], byApp: DotdeskEvent[] = [];
  try {
    cli.events.on('event', (e: DotdeskEvent) => byCli.push(e));
    other.events.on('event', (e: DotdeskEvent) => byOther.push(e));
    app.events.on('event', (e: DotdeskEvent) => byApp.push(e));
    await app.subscribe();
    await cli.ping();
    await cli.createDot('one');
    await fsp.writeFile(path.join(await cli.subdotPath('one', 'alpha-db'), 'rows'), randomBytes(3 * 1024 * 1024));
    const c = await cli.commit('one', { message: 'streamed' });
    assert.match(c.id, /^[0-9a-f]{64}$/);
    const mine = byCli.filter((e) => e.type === 'progress');
    assert.ok(mine.some((e) => e.type === 'progress' && e.progress.op === 'commit' && e.progress.phase === 'done'), `the answer carried the commit's progress to its end: ${JSON.stringify(mine)}`);
    assert.ok(mine.every((e) => cli.ownsProgress(e)), 'every event in the answer is its own call\'s');
    assert.equal(byOther.length, 0, 'another streamed client sees nothing of it');
    await settle();
    assert.ok(byApp.some((e) => e.type === 'progress' && e.progress.op === 'commit'), 'the app still sees the progress on its event stream');
    await assert.rejects(cli.commit('nope', { message: 'x' }), (e: any) => e.code === 'DOT_NOT_FOUND' && typeof e.hint === 'string');
    await assert.rejects(BridgeClient.fromUrl(bridge.url.replace(/token=[0-9a-f]+/, 'token=' + '0'.repeat(64)), { streamed: true }).ping(), /HTTP 401/);
  } finally {
    cli.close(); other.close(); app.close();
    await bridge.close();
    await service.engine.close();
    await fsp.rm(home, { recursive: true, force: true });
  }
});

test('an attached command behind a long operation in the app says what it waits for, then runs', async () => {
  const home = await tmpDir('dm-attach-wait-');
  const service = await createService({ home, docker: false });
  const bridge = await startBridgeIn(service, { advertise: true, watchHome: false });
  try {
    await service.createDot('shop');
    await service.switchDot('shop');
    let release!: () => void;
    const held = service.engine.withLock('push shop master', () => new Promise<void>((r) => { release = r; }));
    let err = '';
    const c = spawn(DM, ['commit', '-m', 'after the push'], { env: { ...process.env, DM_HOME: home, DM_AUTHOR: 'tester' } });
    c.stderr!.on('data', (b: Buffer) => { err += b; });
    const exit = new Promise<number>((r) => c.on('exit', (code) => r(code ?? 1)));
    for (let i = 0; i < 200 && !err.includes('waiting'); i++) await new Promise((r) => setTimeout(r, 25));
    assert.match(err, /\[commit\] waiting for "push shop master" to finish/);
    release();
    await held;
    assert.equal(await exit, 0, err);
    assert.equal((await service.log('shop'))[0].message, 'after the push');
  } finally {
    await bridge.close();
    await service.engine.close();
    await fsp.rm(home, { recursive: true, force: true });
  }
});
