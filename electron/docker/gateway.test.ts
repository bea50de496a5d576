import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as http from 'node:http';
import { DmError } from '../contract/errors';
import { DotdeskService } from '../service/service';
import { containerHooks } from '../service/create';
import { DockerGateway, DockerApi, isUnreachable } from './gateway';

type State = 'running' | 'paused' | 'exited';
interface FakeC { Id: string; name: string; State: State; mounts: { Name: string; Driver: string }[]; labels?: Record<string, string>; failPause?: boolean; failStart?: boolean }

/** A Docker daemon in memory: enough of dockerode for the gateway, with a call log. */
function fakeDocker(cs: FakeC[], opts: { down?: boolean } = {}) {
  const log: string[] = [];
  const byId = (id: string) => cs.find((c) => c.Id === id)!;
  const err = (statusCode: number, message: string) => Object.assign(new Error(message), { statusCode, json: { message } });
  const down = () => Object.assign(new Error('connect ENOENT /var/run/docker.sock'), { code: 'ENOENT' });
  const api: DockerApi = {
    async ping() { if (opts.down) throw down(); return 'OK'; },
    async listContainers() {
      if (opts.down) throw down();
      return cs.map((c) => ({ Id: c.Id, Names: ['/' + c.name], Image: 'img', State: c.State, Labels: c.labels ?? {}, Mounts: c.mounts.map((m) => ({ Type: 'volume', Name: m.Name, Driver: m.Driver, Source: '', Destination: '/d', Mode: '', RW: true, Propagation: '' })) })) as any;
    },
    getContainer(id: string) {
      const c = byId(id);
      return {
        async pause() { log.push('pause ' + c.name); if (c.failPause) throw err(500, 'boom'); if (c.State !== 'running') throw err(409, `Container ${id} is not running`); c.State = 'paused'; },
        async unpause() { log.push('unpause ' + c.name); if (c.State !== 'paused') throw err(409, `Container ${id} is not paused`); c.State = 'running'; },
        async stop() { log.push('stop ' + c.name); if (c.State === 'exited') throw err(304, 'not modified'); c.State = 'exited'; },
        async start() { log.push('start ' + c.name); if (c.failStart) throw err(500, 'no such file'); if (c.State === 'running') throw err(304, 'not modified'); c.State = 'running'; },
      };
    },
  };
  return { api, log, cs };
}

const demo = (): FakeC[] => [
  { Id: '1', name: 'p_redis_1', State: 'running', mounts: [{ Name: 'p_app.clicks-db', Driver: 'dm' }], labels: { 'com.docker.compose.project': 'p', 'com.docker.compose.service': 'redis' } },
  { Id: '2', name: 'p_postgres_1', State: 'running', mounts: [{ Name: 'p_app.users-db', Driver: 'dm' }] },
  { Id: '3', name: 'p_app_1', State: 'running', mounts: [{ Name: 'p_app.uploads', Driver: 'dm' }, { Name: 'p_app.clicks-db', Driver: 'dm' }] },
  { Id: '4', name: 'old_1', State: 'exited', mounts: [{ Name: 'p_app.uploads', Driver: 'dm' }] },
  { Id: '5', name: 'local_1', State: 'running', mounts: [{ Name: 'p_app.uploads', Driver: 'local' }] },
  { Id: '6', name: 'other_1', State: 'running', mounts: [{ Name: 'p_appx.uploads', Driver: 'dm' }, { Name: 'p_app', Driver: 'local' }] },
  { Id: '7', name: 'default_1', State: 'running', mounts: [{ Name: 'solo', Driver: 'dm' }, { Name: '../bad', Driver: 'dm' }] },
];

test('containersOf finds containers by driver dm and volume name DOT.SUBDOT', async () => {
  const d = fakeDocker(demo());
  const g = new DockerGateway({ docker: d.api, pluginSocket: false });
  const cs = await g.containersOf('p_app');
  assert.deepEqual(cs.map((c) => c.name), ['old_1', 'p_app_1', 'p_postgres_1', 'p_redis_1']);
  const app = cs.find((c) => c.name === 'p_app_1')!;
  assert.deepEqual(app.subdots, ['clicks-db', 'uploads']);
  assert.equal(app.running, true);
  assert.equal(cs.find((c) => c.name === 'old_1')!.running, false);
  assert.deepEqual(cs.find((c) => c.name === 'p_redis_1')!, { id: '1', name: 'p_redis_1', image: 'img', state: 'running', running: true, subdots: ['clicks-db'], service: 'redis', project: 'p' });
  assert.deepEqual((await g.containersOf('solo')).map((c) => [c.name, c.subdots]), [['default_1', ['__default__']]]);
  assert.deepEqual(await new DockerGateway({ docker: fakeDocker([], { down: true }).api, pluginSocket: false }).containersOf('p_app'), []);
});

test('freeze pauses every running container of the dot and thaw unpauses them', async () => {
  const d = fakeDocker(demo());
  const g = new DockerGateway({ docker: d.api, pluginSocket: false });
  const { taken, thaw } = await g.freeze('p_app');
  assert.deepEqual(taken, { how: 'paused', containers: ['p_app_1', 'p_postgres_1', 'p_redis_1'] });
  assert.deepEqual(d.cs.filter((c) => c.State === 'paused').map((c) => c.name).sort(), ['p_app_1', 'p_postgres_1', 'p_redis_1']);
  await thaw();
  await thaw(); // idempotent
  assert.equal(d.cs.filter((c) => c.State === 'paused').length, 0);
  assert.equal(d.log.filter((l) => l.startsWith('unpause')).length, 3);
  assert.equal((await g.freeze('nothing')).taken.how, 'nothing-running');
  assert.equal((await new DockerGateway({ docker: fakeDocker([], { down: true }).api, pluginSocket: false }).freeze('p_app')).taken.how, 'docker-unreachable');
});

test('a failed pause unpauses the others and fails with DOCKER_ERROR', async () => {
  const cs = demo();
  cs[1].failPause = true;
  const d = fakeDocker(cs);
  await assert.rejects(new DockerGateway({ docker: d.api, pluginSocket: false }).freeze('p_app'), (e: unknown) => e instanceof DmError && e.code === 'DOCKER_ERROR' && /p_postgres_1/.test(e.message));
  assert.equal(d.cs.filter((c) => c.State === 'paused').length, 0);
});

test('stop stops running containers of the dot; restart starts the same ones', async () => {
  const d = fakeDocker(demo());
  const g = new DockerGateway({ docker: d.api, pluginSocket: false });
  const { restart, note } = await g.stop('p_app');
  assert.equal(note.reachable, true);
  assert.deepEqual(d.cs.filter((c) => c.State === 'exited').map((c) => c.name).sort(), ['old_1', 'p_app_1', 'p_postgres_1', 'p_redis_1']);
  assert.equal(d.cs.find((c) => c.name === 'local_1')!.State, 'running');
  assert.deepEqual(await restart(), ['p_app_1', 'p_postgres_1', 'p_redis_1']);
  assert.equal(d.cs.find((c) => c.name === 'old_1')!.State, 'exited', 'a container that was not running stays stopped');
  const down = await new DockerGateway({ docker: fakeDocker([], { down: true }).api, pluginSocket: false }).stop('p_app');
  assert.equal(down.note.reachable, false);
  assert.match(down.note.message!, /not reachable/);
  assert.deepEqual(await down.restart(), []);
});

test('a container that fails to start again is reported, the others start', async () => {
  const cs = demo();
  cs[0].failStart = true;
  const d = fakeDocker(cs);
  const { restart } = await new DockerGateway({ docker: d.api, pluginSocket: false }).stop('p_app');
  await assert.rejects(restart(), (e: unknown) => e instanceof DmError && e.code === 'DOCKER_ERROR' && /p_redis_1/.test(e.message) && /data was switched/.test(e.message) && e.details?.dataSwitched === true);
  assert.equal(d.cs.find((c) => c.name === 'p_app_1')!.State, 'running');
});

test('the service commits paused containers, always unpauses, and checkout restarts them', async () => {
  const home = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-gw-'));
  const d = fakeDocker(demo());
  const svc = await DotdeskService.open(home, new DockerGateway({ docker: d.api, pluginSocket: false }));
  try {
    await svc.createDot('p_app');
    const dir = await svc.subdotPath('p_app', 'clicks-db');
    await fsp.writeFile(path.join(dir, 'f'), 'x');
    const c = await svc.commit('p_app', { message: 'one' });
    assert.deepEqual(c.taken, { how: 'paused', containers: ['p_app_1', 'p_postgres_1', 'p_redis_1'] });
    assert.equal(d.cs.filter((x) => x.State === 'paused').length, 0);
    // A failing commit (no message) still unpauses.
    await assert.rejects(svc.commit('p_app', { message: '' }), (e: unknown) => e instanceof DmError && e.code === 'INVALID_ARGUMENT');
    assert.equal(d.cs.filter((x) => x.State === 'paused').length, 0);
    const r = await svc.checkout('p_app', 'b', { create: true });
    assert.deepEqual(r.restarted, ['p_app_1', 'p_postgres_1', 'p_redis_1']);
    assert.deepEqual(r.docker, { reachable: true });
    const i = d.log.lastIndexOf('stop p_app_1');
    assert.ok(i >= 0 && d.log.indexOf('start p_app_1', i) > i);
    const list = await svc.listDots();
    assert.deepEqual(list[0].containers.map((x) => x.name), ['old_1', 'p_app_1', 'p_postgres_1', 'p_redis_1']);
  } finally { await svc.engine.close(); await fsp.rm(home, { recursive: true, force: true }); }
});

test('Docker unreachable: commit is recorded as such and checkout still switches the data', async () => {
  const home = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-gw-'));
  const svc = await DotdeskService.open(home, new DockerGateway({ docker: fakeDocker([], { down: true }).api, pluginSocket: false }));
  try {
    await svc.createDot('a');
    await svc.subdotPath('a', 's');
    assert.equal((await svc.commit('a', { message: 'm' })).taken?.how, 'docker-unreachable');
    const r = await svc.checkout('a', 'b', { create: true });
    assert.equal(r.to, 'b');
    assert.equal(r.docker.reachable, false);
    assert.match(r.docker.message!, /not reachable/);
  } finally { await svc.engine.close(); await fsp.rm(home, { recursive: true, force: true }); }
});

test('containers are not stopped when the volume driver is not running', async () => {
  const d = fakeDocker(demo());
  const g = new DockerGateway({ docker: d.api, pluginSocket: path.join(os.tmpdir(), 'no-such-dm-' + process.pid + '.sock') });
  await assert.rejects(g.stop('p_app'), (e: unknown) => e instanceof DmError && e.code === 'DOCKER_ERROR' && /not running/.test(e.message));
  assert.equal(d.log.filter((l) => l.startsWith('stop')).length, 0);
  assert.deepEqual(await (await g.stop('nobody')).restart(), [], 'a dot without running containers needs no driver');
});

test('isUnreachable tells connection failures from refusals; containerHooks honours docker:false', () => {
  assert.ok(isUnreachable(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })));
  assert.ok(isUnreachable(new Error('timeout')));
  assert.ok(!isUnreachable(Object.assign(new Error('conflict'), { statusCode: 409 })));
  assert.equal(containerHooks(false).constructor, Object);
  assert.ok(containerHooks(true) instanceof DockerGateway);
});

test('the default client lists containers with one GET on the daemon socket; errors keep dockerode\'s shape', async () => {
  // A stand-in daemon on a real unix socket: the Engine API's /containers/json and /_ping.
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-engine-'));
  const sock = path.join(dir, 'docker.sock');
  let mode: 'ok' | 'error' = 'ok';
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (mode === 'error') { res.writeHead(500, { 'content-type': 'application/json' }); res.end(JSON.stringify({ message: 'engine is on fire' })); return; }
    if (req.url === '/_ping') { res.end('OK'); return; }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify([{ Id: 'c1', Names: ['/p_web_1'], Image: 'web', State: 'running', Labels: { 'com.docker.compose.service': 'web' }, Mounts: [{ Type: 'volume', Name: 'p_app.users-db', Driver: 'dm:latest' }] }]));
  });
  await new Promise<void>((r) => server.listen(sock, r));
  const saved = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = 'unix://' + sock;
  try {
    const g = new DockerGateway({ pluginSocket: false });
    assert.equal(await g.ping(), true);
    assert.deepEqual((await g.containersOf('p_app')).map((c) => [c.name, c.running, c.subdots, c.service]), [['p_web_1', true, ['users-db'], 'web']]);
    assert.deepEqual(seen, ['GET /_ping', 'GET /containers/json?all=1']);
    mode = 'error';
    await assert.rejects(new DockerGateway({ pluginSocket: false }).containersOf('p_app'), (e: unknown) => e instanceof DmError && e.code === 'DOCKER_ERROR' && /engine is on fire/.test(e.message));
    await new Promise<void>((r) => server.close(() => r()));
    // Nothing listening: unreachable, so dm list shows no containers and commit goes on.
    assert.deepEqual(await new DockerGateway({ pluginSocket: false }).containersOf('p_app'), []);
    assert.equal((await new DockerGateway({ pluginSocket: false }).freeze('p_app')).taken.how, 'docker-unreachable');
  } finally {
    if (saved === undefined) delete process.env.DOCKER_HOST; else process.env.DOCKER_HOST = saved;
    server.close();
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('a long-running gateway sees a container started a moment ago; concurrent asks share one listing', async () => {
  const d = fakeDocker(demo().slice(0, 2));
  let listings = 0;
  const list = d.api.listContainers.bind(d.api);
  d.api.listContainers = async (o) => { listings++; return list(o); };
  const g = new DockerGateway({ docker: d.api, pluginSocket: false });
  assert.deepEqual((await g.containersOf('p_app')).map((c) => c.name), ['p_postgres_1', 'p_redis_1']);
  d.cs.push({ Id: '9', name: 'p_new_1', State: 'running', mounts: [{ Name: 'p_app.uploads', Driver: 'dm' }] });
  assert.deepEqual((await g.containersOf('p_app')).map((c) => c.name), ['p_new_1', 'p_postgres_1', 'p_redis_1'], 'the listing is not kept after it answered');
  listings = 0;
  await Promise.all([g.containersOf('p_app'), g.containersOf('solo'), g.containersOf('other')]);
  assert.equal(listings, 1);
});
