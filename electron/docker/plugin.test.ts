import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Engine } from '../engine';
import { checkout } from '../engine/checkout';
import { commit } from '../engine/commit';
import { DmError } from '../contract/errors';
import { PluginServer, PLUGIN_CONTENT_TYPE, probeSocket } from './plugin';
import { pluginCall } from '../../test/docker/helpers';

async function fresh() {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-plugin-'));
  const home = path.join(dir, 'store');
  const socket = path.join(dir, 'plugins', 'dm.sock');
  const engine = await Engine.open(home);
  const server = await PluginServer.start(engine, { socket });
  const call = (m: string, b?: unknown) => pluginCall(socket, m, b);
  return { dir, home, socket, engine, server, call, done: async () => { await server.close(); await engine.close(); await fsp.rm(dir, { recursive: true, force: true }); } };
}

/** Every path under a directory (to prove nothing was created). */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => { for (const e of await fsp.readdir(d, { withFileTypes: true }).catch(() => [])) { const p = path.join(d, e.name); out.push(path.relative(dir, p)); if (e.isDirectory()) await walk(p); } };
  await walk(dir);
  return out.sort();
}

test('the driver answers the v1 protocol: activate, capabilities, create, get, list, mount, path, unmount, remove', async () => {
  const t = await fresh();
  try {
    const a = await t.call('/Plugin.Activate');
    assert.equal(a.status, 200);
    assert.equal(a.contentType, PLUGIN_CONTENT_TYPE);
    assert.deepEqual(a.json, { Implements: ['VolumeDriver'] });
    assert.deepEqual((await t.call('/VolumeDriver.Capabilities', {})).json, { Capabilities: { Scope: 'local' } });
    assert.match((await t.call('/VolumeDriver.Get', { Name: 'proj_app.clicks-db' })).json.Err, /no such volume/);
    assert.deepEqual((await t.call('/VolumeDriver.Create', { Name: 'proj_app.clicks-db', Opts: {} })).json, { Err: '' });
    assert.deepEqual((await t.call('/VolumeDriver.Create', { Name: 'proj_app.users-db' })).json, { Err: '' });
    assert.deepEqual((await t.call('/VolumeDriver.Create', { Name: 'single' })).json, { Err: '' });
    assert.ok(await t.engine.hasDot('proj_app'));
    assert.deepEqual(await t.engine.subdotNames('proj_app'), ['clicks-db', 'users-db']);
    assert.deepEqual(await t.engine.subdotNames('single'), ['__default__']);
    const g = (await t.call('/VolumeDriver.Get', { Name: 'proj_app.clicks-db' })).json;
    assert.equal(g.Err, '');
    assert.equal(g.Volume.Name, 'proj_app.clicks-db');
    assert.equal(g.Volume.Status.branch, 'master');
    const l = (await t.call('/VolumeDriver.List', {})).json;
    assert.deepEqual(l.Volumes.map((v: any) => v.Name).sort(), ['proj_app.clicks-db', 'proj_app.users-db', 'single']);
    const m = (await t.call('/VolumeDriver.Mount', { Name: 'proj_app.clicks-db', ID: 'abc' })).json;
    assert.equal(m.Err, '');
    assert.equal(m.Mountpoint, await t.engine.workDir('proj_app', 'clicks-db'));
    assert.equal((await t.call('/VolumeDriver.Path', { Name: 'proj_app.clicks-db' })).json.Mountpoint, m.Mountpoint);
    assert.deepEqual((await t.call('/VolumeDriver.Unmount', { Name: 'proj_app.clicks-db', ID: 'abc' })).json, { Err: '' });
    await fsp.writeFile(path.join(m.Mountpoint, 'data'), 'keep me');
    assert.deepEqual((await t.call('/VolumeDriver.Remove', { Name: 'proj_app.clicks-db' })).json, { Err: '' });
    assert.equal(await fsp.readFile(path.join(await t.engine.workDir('proj_app', 'clicks-db'), 'data'), 'utf8'), 'keep me', 'Remove never deletes data');
    assert.deepEqual((await t.call('/VolumeDriver.List', {})).json.Volumes.map((v: any) => v.Name).sort(), ['proj_app.users-db', 'single'], 'a removed volume is no longer listed');
    await t.call('/VolumeDriver.Mount', { Name: 'proj_app.clicks-db', ID: 'def' });
    assert.equal((await t.call('/VolumeDriver.List', {})).json.Volumes.length, 3, 'mounting it again lists it again');
    assert.deepEqual(JSON.parse(await fsp.readFile(path.join(t.home, 'docker-volumes.json'), 'utf8')), ['proj_app.clicks-db', 'proj_app.users-db', 'single']);
    const u = await t.call('/VolumeDriver.Nope', {});
    assert.equal(u.status, 404);
    assert.match(u.json.Err, /no method/);
    const bad = await t.call('/VolumeDriver.Create', '{not json');
    assert.equal(bad.status, 500);
    assert.match(bad.json.Err, /not valid JSON/);
    assert.match((await t.call('/VolumeDriver.Create', { Name: 'x.y', Opts: { size: '1G' } })).json.Err, /no driver options/);
  } finally { await t.done(); }
});

test('hostile names sent straight to the socket are refused and create nothing', async () => {
  const t = await fresh();
  try {
    const before = await tree(t.dir);
    const hostile: unknown[] = ['../x', '../../etc/evil', 'a/b', 'x/../../y', 'a b', 'a\0b', 'x'.repeat(65), 'p.' + 's'.repeat(65), '.', '..', '', 'a.../x', 'a.b/c', null, 7, ['x']];
    for (const Name of hostile) {
      for (const m of ['Create', 'Mount', 'Get', 'Path', 'Remove', 'Unmount']) {
        const r = await t.call('/VolumeDriver.' + m, { Name, ID: 'i' });
        assert.equal(r.status, 500, `${m} ${JSON.stringify(Name)}`);
        assert.match(r.json.Err, /INVALID_NAME/, `${m} ${JSON.stringify(Name)}: ${r.json.Err}`);
      }
    }
    assert.deepEqual(await tree(t.dir), before, 'nothing was created');
  } finally { await t.done(); }
});

test('Mount follows the current branch and answers while another process holds the store lock', async () => {
  const t = await fresh();
  const other = await Engine.open(t.home); // a second Engine = another process's lock
  try {
    await t.call('/VolumeDriver.Create', { Name: 'app.db' });
    const m1 = (await t.call('/VolumeDriver.Mount', { Name: 'app.db', ID: '1' })).json.Mountpoint;
    await fsp.writeFile(path.join(m1, 'f'), 'master');
    await commit(t.engine, 'app', { message: 'one' });
    await checkout(t.engine, 'app', 'x', { create: true });
    const m2 = (await t.call('/VolumeDriver.Mount', { Name: 'app.db', ID: '2' })).json.Mountpoint;
    assert.notEqual(m2, m1);
    assert.equal(await fsp.readFile(path.join(m2, 'f'), 'utf8'), 'master');
    await fsp.writeFile(path.join(m2, 'f'), 'x');
    await other.withLock('checkout (held by the test)', async () => {
      const r = await Promise.race([
        t.call('/VolumeDriver.Mount', { Name: 'app.db', ID: '3' }).then((x) => x.json),
        new Promise((_, rej) => setTimeout(() => rej(new Error('Mount waited for the store lock')), 3000)),
      ]) as any;
      assert.equal(r.Mountpoint, m2);
      // A new subdot of an existing dot is also created without the lock.
      const r2 = (await t.call('/VolumeDriver.Mount', { Name: 'app.uploads', ID: '4' })).json;
      assert.equal(r2.Err, '');
      assert.equal((await t.call('/VolumeDriver.Get', { Name: 'app.db' })).json.Volume.Status.branch, 'x');
    });
    await checkout(t.engine, 'app', 'master');
    assert.equal((await t.call('/VolumeDriver.Mount', { Name: 'app.db', ID: '5' })).json.Mountpoint, m1);
    assert.equal(await fsp.readFile(path.join(m1, 'f'), 'utf8'), 'master');
    // A subdot created on branch x appears in its next commit there.
    assert.ok((await t.engine.subdotNames('app', 'x')).includes('uploads'));
  } finally { await other.close(); await t.done(); }
});

/** One HTTP/1.1 request on an open socket; resolves with the status line once the whole response is in. */
function rawRequest(sock: net.Socket, method: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      got = Buffer.concat([got, c]);
      const head = got.indexOf('\r\n\r\n');
      if (head < 0) return;
      const len = Number(/content-length: *(\d+)/i.exec(got.subarray(0, head).toString())?.[1] ?? NaN);
      if (got.length < head + 4 + len) return;
      sock.off('data', onData); sock.off('close', onClose);
      resolve(got.subarray(0, got.indexOf('\r\n')).toString());
    };
    const onClose = () => { sock.off('data', onData); reject(new Error('the driver closed the connection')); };
    sock.on('data', onData); sock.once('close', onClose);
    sock.write(`POST ${method} HTTP/1.1\r\nHost: plugin\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
}

test('the driver keeps an idle connection open for the next request from Docker (which resends a request the driver dropped with an empty body)', async () => {
  // Why it matters: Docker reuses its connection to the driver. Had the driver closed one after a
  // few idle seconds (Node's default), a request sent on it as it closed was reset, and Docker's
  // retry came without a body: "Get" of no name, and a container that did not start again after
  // a checkout (seen in the e2e tutorial, dockerd: "read: connection reset by peer, retrying").
  const t = await fresh();
  const sock = net.connect(t.socket);
  try {
    await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
    let closed = false;
    sock.once('close', () => { closed = true; });
    assert.equal(await rawRequest(sock, '/Plugin.Activate', '{}'), 'HTTP/1.1 200 OK');
    await new Promise((r) => setTimeout(r, 7000)); // past the close of Node's default keep-alive timeout (5 s, checked each second)
    assert.equal(closed, false, 'the driver closed an idle connection');
    assert.equal(await rawRequest(sock, '/VolumeDriver.Create', JSON.stringify({ Name: 'kept.db' })), 'HTTP/1.1 200 OK');
    assert.deepEqual(await t.engine.subdotNames('kept'), ['db']);
  } finally { sock.destroy(); await t.done(); }
});

test('concurrent Creates of a new dot create it once', async () => {
  const t = await fresh();
  try {
    const rs = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((s) => t.call('/VolumeDriver.Create', { Name: 'new.' + s })));
    for (const r of rs) assert.deepEqual(r.json, { Err: '' });
    assert.deepEqual(await t.engine.subdotNames('new'), ['a', 'b', 'c', 'd', 'e']);
  } finally { await t.done(); }
});

test('a second server on the same socket is refused; a stale socket file is replaced', async () => {
  const t = await fresh();
  try {
    assert.equal(await probeSocket(t.socket), 'live');
    await assert.rejects(PluginServer.start(t.engine, { socket: t.socket }), (e: unknown) => e instanceof DmError && e.code === 'PLUGIN_RUNNING' && /already answers/.test(e.message));
    await t.server.close();
    assert.equal(await probeSocket(t.socket), 'absent');
    // A killed server leaves a socket file nobody listens on.
    const stale = path.join(path.dirname(t.socket), 'stale.sock');
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.equal(await probeSocket(stale), 'stale');
    const s2 = await PluginServer.start(t.engine, { socket: stale });
    assert.deepEqual((await pluginCall(stale, '/Plugin.Activate')).json, { Implements: ['VolumeDriver'] });
    await s2.close();
    assert.equal(await probeSocket(stale), 'absent');
    await fsp.writeFile(path.join(path.dirname(t.socket), 'file'), 'x');
    await assert.rejects(PluginServer.start(t.engine, { socket: path.join(path.dirname(t.socket), 'file') }), (e: unknown) => e instanceof DmError && e.code === 'INVALID_ARGUMENT');
  } finally {
    await t.engine.close(); await fsp.rm(t.dir, { recursive: true, force: true });
  }
});
