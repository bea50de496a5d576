/**
 * The dm volume driver and the container hooks against a real dockerd: hostile names straight
 * to the socket and through `docker volume create`, a container whose volume uses driver dm,
 * commit (paused), checkout (stop, switch, restart: the container sees the branch's data), a
 * CLI checkout while `dm serve` answers the restart's Mount (one lock, no deadlock), restarting
 * `dm serve` while containers exist, and Ctrl-C during a freeze or a stop.
 * Skips with a printed reason when no Docker engine answers or the base image is missing.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Engine } from '../../electron/engine';
import { probeSocket } from '../../electron/docker/plugin';
import { waitSocketFree, pluginCall, dockerSkipReason, hasImage, sh, waitFor, startServeProc, DM_CLI, ROOT, ServeProc } from './helpers';

const SOCKET = '/run/docker/plugins/dm.sock';
const IMAGE = 'debian-local:bookworm';

async function skipReason(): Promise<string | null> {
  const d = dockerSkipReason();
  if (d) return d;
  if (!hasImage(IMAGE)) return `image ${IMAGE} is missing (run scripts/images.sh)`;
  if (!(await waitSocketFree(SOCKET))) return `another dm volume driver keeps serving ${SOCKET}`;
  return null;
}

/** Every path under a directory. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => { for (const e of await fsp.readdir(d, { withFileTypes: true }).catch(() => [])) { const p = path.join(d, e.name); out.push(path.relative(dir, p)); if (e.isDirectory()) await walk(p); } };
  await walk(dir);
  return out.sort();
}

test('dm volume driver and containers on a real dockerd', async (t) => {
  const reason = await skipReason();
  if (reason) { console.log(`# docker driver test skipped: ${reason}`); t.skip(reason); return; }
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-docker-'));
  const home = path.join(tmp, 'store');
  const env = { ...process.env, DM_HOME: home, DM_PLUGIN_SOCKET: '' };
  delete (env as any).DM_PLUGIN_SOCKET;
  const tag = 'dmt' + randomBytes(4).toString('hex');
  const dot = tag + '_app';
  const vol = `${dot}.data`;
  const cname = `${tag}_c`;
  const dm = async (...args: string[]) => (await sh(process.execPath, [DM_CLI, ...args], { env })).stdout;
  const dmJson = async (...args: string[]) => JSON.parse(await dm(...args, '--json'));
  const docker = (...args: string[]) => sh('docker', args, { timeout: 60_000 });
  const inspect = async (name: string) => JSON.parse((await docker('inspect', name)).stdout)[0];
  const readData = async () => (await docker('exec', cname, 'cat', '/data/f')).stdout.trim();

  // Why steps instead of subtests: a subtest still pending when the test times out never settles,
  // and then the cleanup below (remove container and volume while the driver is up) would never run.
  const step = async (name: string, fn: () => Promise<void>) => {
    const t0 = Date.now();
    try { await fn(); } catch (e) { throw Object.assign(e as Error, { message: `${name}: ${(e as Error).message}` }); }
    t.diagnostic(`${name}: ${Date.now() - t0} ms`);
  };
  let serve: ServeProc | undefined;
  try {
    serve = await startServeProc(env);

    await step('hostile names are refused at the socket and through docker; nothing is created outside the store', async () => {
      const before = await tree(tmp);
      for (const Name of ['../x', '../../etc/dm-evil', 'a/b', 'a b', 'a\0b', 'n'.repeat(65), 'ok.' + '../up']) {
        for (const m of ['Create', 'Mount', 'Get', 'Remove']) {
          const r = await pluginCall(SOCKET, '/VolumeDriver.' + m, { Name, ID: 'x' });
          assert.equal(r.status, 500);
          assert.match(r.json.Err, /INVALID_NAME/, `${m} ${JSON.stringify(Name)}`);
        }
      }
      for (const name of ['../' + tag, `${tag}/b`, `${tag} b`, 'n'.repeat(70)]) {
        await assert.rejects(docker('volume', 'create', '-d', 'dm', name), (e: Error) => /INVALID_NAME|invalid/i.test(e.message), name);
      }
      assert.deepEqual(await tree(tmp), before);
      await fsp.access('/etc/dm-evil').then(() => assert.fail('/etc/dm-evil exists'), () => {});
      const vols = (await docker('volume', 'ls', '--format', '{{.Name}}')).stdout;
      assert.ok(!vols.includes(tag), 'docker kept none of the refused volumes');
    });

    await step('a container on a dm volume: commit pauses it, checkout stops and restarts it on the branch data', async () => {
      await docker('volume', 'create', '-d', 'dm', vol);
      assert.ok((await dmJson('list')).some((d: any) => d.name === dot), 'docker volume create made the dot');
      await docker('run', '-d', '--name', cname, '-v', `${vol}:/data`, IMAGE, 'sh', '-c',
        'trap "exit 0" TERM; [ -f /data/f ] || echo one > /data/f; while :; do date +%s%N > /data/tick; sleep 0.1; done');
      await waitFor('the container to write', async () => (await readData()) === 'one');
      // Docker shows no Source for plugin volumes; the data the container sees is what counts.
      await fsp.writeFile(path.join(await fsp.realpath(path.join(home, 'dots', dot, 'work', 'master')), 'data', 'from-host'), 'h');
      assert.equal((await docker('exec', cname, 'cat', '/data/from-host')).stdout, 'h');

      const list = await dmJson('list');
      const d = list.find((x: any) => x.name === dot);
      assert.deepEqual(d.containers.map((c: any) => [c.name, c.running, c.subdots]), [[cname, true, ['data']]]);
      assert.match(await dm('list'), new RegExp(`${dot}\\s+master\\s+${cname}`));
      const show = await dmJson('dot', 'show', dot);
      assert.deepEqual(show.subdotInfo.find((s: any) => s.name === 'data').containers.map((c: any) => c.name), [cname]);

      await dm('switch', dot);
      const c1 = await dmJson('commit', '-m', 'first');
      assert.deepEqual(c1.taken, { how: 'paused', containers: [cname] });
      assert.equal((await inspect(cname)).State.Paused, false, 'unpaused after the commit');
      assert.equal((await inspect(cname)).State.Running, true);

      const co = await dmJson('checkout', '-b', 'x');
      assert.deepEqual(co.restarted, [cname]);
      assert.equal(co.docker.reachable, true);
      assert.equal(await readData(), 'one', 'the new branch starts from the commit');
      await docker('exec', cname, 'sh', '-c', 'echo x-data > /data/f');
      assert.equal((await dmJson('commit', '-m', 'on x')).taken.how, 'paused');

      const back = await dmJson('checkout', 'master');
      assert.deepEqual(back.restarted, [cname]);
      assert.equal(await readData(), 'one', 'master data after checkout master');
      const human = await dm('checkout', 'x');
      assert.match(human, new RegExp(`Switched to branch 'x'[\\s\\S]*Restarted containers: ${cname}`));
      assert.equal(await readData(), 'x-data');
      await dm('checkout', 'master');
      assert.equal(await readData(), 'one');
    });

    await step('one store lock: Mount answers while another process holds the lock; a CLI checkout while dm serve runs does not deadlock', async () => {
      const other = await Engine.open(home);
      try {
        await other.withLock('held by the test', async () => {
          const t0 = Date.now();
          await sh('docker', ['restart', '-t', '5', cname], { timeout: 30_000 });
          assert.ok(Date.now() - t0 < 25_000);
          assert.equal((await inspect(cname)).State.Running, true);
        });
      } finally { await other.close(); }
      // Two checkouts racing from two CLI processes: both finish, the container runs on the final branch.
      const [a, b] = await Promise.all([dmJson('checkout', 'x'), (async () => { await new Promise((r) => setTimeout(r, 50)); return dmJson('checkout', 'master'); })()]);
      assert.ok(a.to === 'x' && b.to === 'master');
      assert.equal((await inspect(cname)).State.Running, true);
      const branch = (await dmJson('list')).find((x: any) => x.name === dot).branch;
      assert.equal(await readData(), branch === 'x' ? 'x-data' : 'one');
      await dm('checkout', 'master');
    });

    await step('stopping dm serve and starting it again while containers exist works', async () => {
      assert.equal(await serve!.stop('SIGTERM'), 0, 'dm serve exits 0 on SIGTERM');
      assert.match(serve!.output(), /stopped/);
      // The API dm attached to for every command above (bridge.json in the store).
      assert.match(serve!.output(), /API for dm and the app at http:\/\/127\.0\.0\.1:\d+/);
      assert.equal(await probeSocket(SOCKET), 'absent', 'the socket file is removed');
      serve = await startServeProc(env);
      await sh('docker', ['restart', '-t', '5', cname], { timeout: 60_000 });
      assert.equal(await readData(), 'one');
      // A killed server leaves a stale socket: the next one replaces it.
      await serve.stop('SIGKILL');
      assert.equal(await probeSocket(SOCKET), 'stale');
      serve = await startServeProc(env);
      const co = await dmJson('checkout', 'x');
      assert.deepEqual(co.restarted, [cname]);
      assert.equal(await readData(), 'x-data');
      await dm('checkout', 'master');
      // A second server is refused while this one runs.
      await assert.rejects(sh(process.execPath, [DM_CLI, 'serve'], { env, timeout: 15_000 }), /PLUGIN_RUNNING/);
    });

    await step('Ctrl-C while containers are paused or stopped puts them back before exiting', async () => {
      const gw = path.join(ROOT, 'dist', 'electron', 'docker', 'gateway.js');
      for (const verb of ['freeze', 'stop']) {
        const script = `const { DockerGateway } = require(${JSON.stringify(gw)});
          new DockerGateway().${verb}(${JSON.stringify(dot)}).then(() => { console.log('ready'); setInterval(() => {}, 1000); }, (e) => { console.error(e); process.exit(3); });`;
        const p = spawn(process.execPath, ['-e', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        p.stdout!.on('data', (c) => { out += c; });
        p.stderr!.on('data', (c) => { out += c; });
        const exit = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
        await waitFor(`${verb} to take effect`, async () => out.includes('ready'), 30_000, 50);
        const st = (await inspect(cname)).State;
        assert.ok(verb === 'freeze' ? st.Paused : !st.Running, `${verb}: container is ${st.Status}`);
        p.kill('SIGINT');
        assert.equal(await exit, 130, out);
        const after = (await inspect(cname)).State;
        assert.equal(after.Running, true, `${verb}: running again (${out})`);
        assert.equal(after.Paused, false);
      }
    });
    await step('docker volume rm forgets the volume and keeps the data', async () => {
      await docker('rm', '-f', cname);
      await docker('volume', 'rm', vol);
      const vols = (await docker('volume', 'ls', '--format', '{{.Name}}')).stdout.split('\n');
      assert.ok(!vols.includes(vol), 'docker volume ls no longer shows it');
      const dir = (await dm('dot', 'path', dot, 'data')).trim();
      assert.equal(await fsp.readFile(path.join(dir, 'f'), 'utf8'), 'one\n');
    });
  } finally {
    // Always: container and volume go while the driver still answers, then the driver stops.
    await sh('docker', ['rm', '-f', cname]).catch(() => {});
    await sh('docker', ['volume', 'rm', '-f', vol]).catch(() => {});
    if (serve) await serve.stop('SIGTERM');
    await fsp.rm(tmp, { recursive: true, force: true });
  }
});
