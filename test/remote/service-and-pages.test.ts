/** The service in-process against a hub process: pull stops/restarts containers; the hub's web pages. */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp, statSync, existsSync } from 'node:fs';
import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as http from 'node:http';
import { Hub, startHub, signup, request, tmp, dm } from './helpers';
import { DotdeskService, ContainerHooks, noContainers } from '../../electron/service/service';
import { API_METHODS } from '../../electron/contract/api';
import type { ProgressEvent } from '../../electron/contract/models';

let hub: Hub;
let key: string;
before(async () => { hub = await startHub(); key = await signup(hub, 'dana'); });
after(async () => { await hub?.stop(); });

/** Container hooks that record stop/restart calls (no Docker needed). */
function recordingHooks(log: string[]): ContainerHooks {
  return { ...noContainers, async stop(dot) { log.push('stop ' + dot); return { restart: async () => { log.push('restart ' + dot); return ['web-1']; }, note: { reachable: true } }; } };
}

test('every remote method is in API_METHODS and implemented by the service', () => {
  for (const m of ['remotes', 'addRemote', 'removeRemote', 'switchRemote', 'push', 'pull', 'clone', 'exportBundle', 'inspectBundle', 'importBundle', 'remoteStatus', 'remoteLink']) {
    assert.ok((API_METHODS as readonly string[]).includes(m), m);
    assert.equal(typeof (DotdeskService.prototype as any)[m], 'function', m);
  }
});

test('pull into the current branch stops and restarts the dot\'s containers; other branches do not', async () => {
  const log: string[] = [];
  const a = await DotdeskService.open(path.join(tmp(), 'a'));
  const b = await DotdeskService.open(path.join(tmp(), 'b'), recordingHooks(log));
  try {
    for (const s of [a, b]) await s.addRemote('hub', `dana@127.0.0.1:${hub.port}`, key);
    assert.equal(statSync(path.join(a.engine.home, 'remotes.json')).mode & 0o777, 0o600);
    const raw = await fsp.readFile(path.join(a.engine.home, 'remotes.json'), 'utf8');
    assert.ok(raw.includes(key), 'the key is stored for later use');
    assert.ok(!(JSON.stringify(await a.remotes())).includes(key), 'remotes() never returns the key');
    await a.createDot('web');
    await fsp.writeFile(path.join(await a.subdotPath('web', 'db'), 'v.txt'), 'v1');
    await a.commit('web', { message: 'v1' });
    await a.push('hub', 'web');
    const progress: string[] = [];
    b.events.on('event', (e) => { if (e.type === 'progress') progress.push(e.progress.phase); });
    const c = await b.clone('hub', 'dana/web');
    assert.equal(c.status, 'cloned');
    assert.ok(progress.includes('receiving'));
    await fsp.writeFile(path.join(await a.subdotPath('web', 'db'), 'v.txt'), 'v2');
    await a.commit('web', { message: 'v2' });
    await a.push('hub', 'web');
    const st = await b.remoteStatus('hub', 'web');
    assert.equal(st.behind, -1, 'the hub has commits b has not fetched');
    log.length = 0;
    const r = await b.pull('hub', 'web');
    assert.equal(r.status, 'pulled');
    assert.deepEqual(log, ['stop web', 'restart web']);
    assert.deepEqual(r.restarted, ['web-1']);
    assert.equal(await fsp.readFile(path.join(await b.subdotPath('web', 'db'), 'v.txt'), 'utf8'), 'v2');
    const st2 = await b.remoteStatus('hub', 'web');
    assert.deepEqual([st2.ahead, st2.behind, st2.diverged], [0, 0, false]);
    // A branch that is not current is updated without touching containers.
    await a.checkout('web', 'other', { create: true });
    await fsp.writeFile(path.join(await a.subdotPath('web', 'db'), 'v.txt'), 'other');
    await a.commit('web', { message: 'other' });
    await a.push('hub', 'web', 'other');
    log.length = 0;
    const o = await b.pull('hub', 'web', 'other');
    assert.equal(o.status, 'created');
    assert.deepEqual(log, []);
    assert.match(await b.remoteLink('hub', 'web', 'other'), /\/dana\/web\/tree\/other$/);
  } finally { await a.engine.close(); await b.engine.close(); }
});

test('clone and pull show how much of the data they receive, out of a total that ends full', async () => {
  const a = await DotdeskService.open(path.join(tmp(), 'a'));
  const b = await DotdeskService.open(path.join(tmp(), 'b'));
  try {
    for (const s of [a, b]) await s.addRemote('hub', `dana@127.0.0.1:${hub.port}`, key);
    await a.createDot('media');
    const dir = await a.subdotPath('media', 'videos');
    // Several chunks per file, a file with a size that is no multiple of a chunk, and a copy
    // (its chunks are the first file's, received once).
    const clip = randomBytes(3 * 1024 * 1024 + 12345);
    await fsp.writeFile(path.join(dir, 'clip.bin'), clip);
    await fsp.writeFile(path.join(dir, 'copy.bin'), clip);
    await fsp.writeFile(path.join(dir, 'note.txt'), 'take 1');
    await a.commit('media', { message: 'v1' });
    await a.push('hub', 'media');
    let seen: ProgressEvent[] = [];
    b.events.on('event', (e) => { if (e.type === 'progress' && e.progress.phase === 'receiving') seen.push(e.progress); });
    await b.clone('hub', 'dana/media');
    const total = clip.length + 'take 1'.length;
    assert.ok(seen.length > 1, JSON.stringify(seen));
    assert.ok(seen.every((p) => p.totalBytes === total && p.doneBytes <= total), JSON.stringify(seen));
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i].doneBytes >= seen[i - 1].doneBytes);
    assert.equal(seen.at(-1)!.doneBytes, total);
    // A pull receives only what is new: its total is the new file.
    await fsp.writeFile(path.join(dir, 'take2.bin'), randomBytes(200_000));
    await a.commit('media', { message: 'v2' });
    await a.push('hub', 'media');
    seen = [];
    await b.pull('hub', 'media');
    assert.ok(seen.length > 0);
    assert.deepEqual([seen.at(-1)!.doneBytes, seen.at(-1)!.totalBytes], [200_000, 200_000]);
  } finally { await a.engine.close(); await b.engine.close(); }
});

test('a bundle shows its export and import as bytes out of a total, then the checkout of the imported state', async () => {
  const a = await DotdeskService.open(path.join(tmp(), 'a'));
  const b = await DotdeskService.open(path.join(tmp(), 'b'));
  try {
    await a.createDot('media');
    await fsp.writeFile(path.join(await a.subdotPath('media', 'videos'), 'clip.bin'), randomBytes(5 * 1024 * 1024));
    await a.commit('media', { message: 'v1' });
    const file = path.join(tmp(), 'media.dmb');
    const seen: ProgressEvent[] = [];
    for (const s of [a, b]) s.events.on('event', (e) => { if (e.type === 'progress') seen.push(e.progress); });
    const info = await a.exportBundle('media', undefined, file);
    const writing = seen.filter((p) => p.op === 'export' && p.phase === 'writing');
    assert.ok(writing.length > 1 && writing.every((p) => p.totalBytes === info.storedBytes), JSON.stringify(writing));
    assert.equal(writing.at(-1)!.doneBytes, info.storedBytes);
    seen.length = 0;
    await b.importBundle(file);
    const size = statSync(file).size;
    const reading = seen.filter((p) => p.op === 'import' && p.phase === 'reading');
    assert.ok(reading.length > 1 && reading.every((p) => p.totalBytes === size), JSON.stringify(reading));
    assert.equal(reading.at(-1)!.doneBytes, size);
    // The new dot's master is written out: its progress follows the reading.
    const out = seen.filter((p) => p.op === 'import' && p.phase === 'writing');
    assert.equal(out.at(-1)?.doneBytes, 5 * 1024 * 1024, JSON.stringify(seen.map((p) => p.phase)));
  } finally { await a.engine.close(); await b.engine.close(); }
});

test('hub web pages: sign up, sign in, API key page, dots, branch and commit pages', async () => {
  const form = (body: Record<string, string>) => ({ body: new URLSearchParams(body).toString(), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  const su = await request(hub.port, 'POST', '/signup', form({ user: 'erin', password: 'erin-password' }));
  assert.equal(su.status, 200);
  const shown = /class="key mono"[^>]*>(dmk_[A-Za-z0-9_-]+)</.exec(su.body.toString())![1];
  assert.equal((await request(hub.port, 'GET', '/api/v1/whoami', { key: shown })).json.user, 'erin');
  const bad = await request(hub.port, 'POST', '/login', form({ user: 'erin', password: 'wrong-password' }));
  assert.equal(bad.status, 401);
  const li = await new Promise<{ status: number; cookie: string }>((resolve, reject) => {
    const b = new URLSearchParams({ user: 'erin', password: 'erin-password' }).toString();
    const req = http.request({ host: '127.0.0.1', port: hub.port, method: 'POST', path: '/login', headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': b.length } }, (res: any) => { res.resume(); resolve({ status: res.statusCode, cookie: String(res.headers['set-cookie']).split(';')[0] }); });
    req.on('error', reject); req.end(b);
  });
  assert.equal(li.status, 303);
  const cookie = { Cookie: li.cookie };
  const keyPage = await request(hub.port, 'GET', '/settings/key', { headers: cookie });
  assert.match(keyPage.body.toString(), /Reset API key/);
  assert.ok(!keyPage.body.toString().includes(shown), 'the key is shown only once');
  const reset = await request(hub.port, 'POST', '/settings/key', { headers: { ...cookie, 'Content-Type': 'application/x-www-form-urlencoded' }, body: '' });
  const fresh = /class="key mono"[^>]*>(dmk_[A-Za-z0-9_-]+)</.exec(reset.body.toString())![1];
  assert.notEqual(fresh, shown);
  assert.equal((await request(hub.port, 'GET', '/api/v1/whoami', { key: shown })).status, 401, 'the old key stops working');
  const db = await fsp.readFile(path.join(hub.data, 'db.json'), 'utf8');
  assert.ok(!db.includes(fresh) && !db.includes(shown) && !db.includes('erin-password'), 'keys and passwords are stored hashed only');
  assert.equal(statSync(path.join(hub.data, 'db.json')).mode & 0o777, 0o600);
  // A dot with a commit, pushed through the service.
  const s = await DotdeskService.open(path.join(tmp(), 's'));
  try {
    await s.addRemote('hub', `erin@127.0.0.1:${hub.port}`, fresh);
    await s.createDot('moby');
    await fsp.writeFile(path.join(await s.subdotPath('moby', 'users-db'), 'u.txt'), 'users');
    const c = await s.commit('moby', { message: 'eleven users <script>', metadata: { users: '11' } });
    const p = await s.push('hub', 'moby');
    assert.equal(p.url, `${hub.url}/erin/moby/commit/${c.id}`);
    const home = await request(hub.port, 'GET', '/erin', { headers: cookie });
    assert.match(home.body.toString(), /href="\/erin\/moby"/);
    const dotPage = (await request(hub.port, 'GET', '/erin/moby', { headers: cookie })).body.toString();
    assert.match(dotPage, /href="\/erin\/moby\/tree\/master"/);
    const tree = (await request(hub.port, 'GET', '/erin/moby/tree/master', { headers: cookie })).body.toString();
    assert.match(tree, new RegExp(c.id));
    const commit = await request(hub.port, 'GET', `/erin/moby/commit/${c.id}`, { headers: cookie });
    const html = commit.body.toString();
    assert.equal(commit.status, 200);
    assert.match(html, /eleven users &lt;script&gt;/, 'message shown, escaped');
    assert.match(html, /users-db/);
    assert.match(html, /users=11/);
    assert.match(html, new RegExp(c.author));
    assert.match(html, new RegExp(c.time.replace(/[.]/g, '\\.')));
    // Private: signed out, the same pages are 404.
    assert.equal((await request(hub.port, 'GET', `/erin/moby/commit/${c.id}`)).status, 404);
    await s.setDotPublic('hub', 'erin/moby', true);
    assert.equal((await request(hub.port, 'GET', `/erin/moby/commit/${c.id}`)).status, 200);
  } finally { await s.engine.close(); }
});

/** One request line on a hub's admin socket (hub/admin.ts) and the parsed answer. */
function adminRequest(data: string, line: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(path.join(data, 'admin', 'socket'), () => c.write(line));
    let out = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => (out += d));
    c.on('end', () => { try { resolve(JSON.parse(out)); } catch (e) { reject(e); } });
    c.on('error', reject);
  });
}

test('dm hub user add reaches a running hub through its admin socket, sign-up closed or not: the key works at once and after a restart; a taken or bad name, a short password and junk on the socket get their codes; a second hub is refused; without the socket it says to stop the hub', async () => {
  const data = path.join(tmp('dm-hub-'), 'hub');
  const first = await startHub(data, ['--no-signup']);
  const home = tmp('dm-home-');
  let r: Awaited<ReturnType<typeof dm>>;
  let aliceKey = '';
  try {
    r = await dm(home, ['hub', 'user', 'add', 'alice', '--data', data]);
    assert.equal(r.code, 0, r.stderr);
    aliceKey = r.stdout.trim().split('\n').at(-1)!;
    assert.match(aliceKey, /^dmk_/);
    assert.equal((await request(first.port, 'GET', '/api/v1/whoami', { key: aliceKey })).json.user, 'alice', 'the running hub knows the key at once');
    assert.equal(statSync(path.join(data, 'admin')).mode & 0o777, 0o700, 'only the owner of the data directory reaches the socket');

    r = await dm(home, ['hub', 'user', 'add', 'ALICE', '--data', data]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error \[INVALID_NAME\]: The user name "ALICE" is taken\./m);
    r = await dm(home, ['hub', 'user', 'add', 'login', '--data', data]);
    assert.match(r.stderr, /^error \[INVALID_NAME\]: Invalid user name "login"/m);
    r = await dm(home, ['hub', 'user', 'add', 'bob', '--data', data], { DM_HUB_PASSWORD: 'short' });
    assert.match(r.stderr, /^error \[INVALID_ARGUMENT\]: A password needs 8 to 1024 characters\./m);
    r = await dm(home, ['hub', 'user', 'add', 'bob', '--data', data], { DM_HUB_PASSWORD: 'bobs password' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await adminRequest(data, 'not json\n')).error.code, 'INVALID_ARGUMENT');
    assert.equal((await adminRequest(data, '{"op":"user-delete","name":"bob"}\n')).error.code, 'INVALID_ARGUMENT');
    assert.equal((await adminRequest(data, 'x'.repeat(20_000))).error.code, 'TOO_LARGE');
    // bob signs in on the web pages with the password given to dm (sign-up itself is closed).
    const login = await request(first.port, 'POST', '/login', { body: 'user=bob&password=bobs+password', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.equal(login.status, 303);
    assert.equal((await request(first.port, 'POST', '/api/v1/users', { body: JSON.stringify({ user: 'carol' }), headers: { 'Content-Type': 'application/json' } })).status, 403, 'sign-up stays closed');

    await assert.rejects(startHub(data), /hub exited 1: .*STORE_LOCKED/s);
    // A hub without the socket (an older one, or a data path too long for a socket address).
    await fsp.rm(path.join(data, 'admin', 'socket'));
    r = await dm(home, ['hub', 'user', 'add', 'carol', '--data', data]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^error \\[STORE_LOCKED\\]: The hub data directory ${data} is in use by process ${first.proc.pid} \\("hub serve"`, 'm'));
    assert.match(r.stderr, /^hint: .*sign up on the hub's \/signup page or stop the hub first\./m);
  } finally { await first.stop(); }
  r = await dm(home, ['hub', 'user', 'add', 'carol', '--data', data]);
  assert.equal(r.code, 0, r.stderr);
  const carolKey = r.stdout.trim().split('\n').at(-1)!;
  const second = await startHub(data);
  try {
    for (const [user, k] of [['alice', aliceKey], ['carol', carolKey]]) assert.equal((await request(second.port, 'GET', '/api/v1/whoami', { key: k })).json.user, user);
    r = await dm(home, ['hub', 'user', 'add', 'dave', '--data', data]);
    assert.equal(r.code, 0, 'the restarted hub has its socket again (the one left behind was replaced)');
    const silent = net.createConnection(path.join(data, 'admin', 'socket'));
    silent.on('error', () => undefined);
    await new Promise((resolve) => silent.once('connect', resolve));
    const stopped = await Promise.race([second.stop().then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 5000))]);
    assert.ok(stopped, 'a client that connects and sends nothing does not keep the hub from stopping');
  } finally { if (second.proc.exitCode === null) second.proc.kill('SIGKILL'); await second.stop(); }
  assert.ok(!existsSync(path.join(data, 'admin', 'socket')), 'a stopped hub removes its socket');
});
