// Integration: real PostgreSQL 15 and Redis data directories, committed, changed and checked out
// back; the servers (Debian packages, started here) must start on them and return the committed data.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp, existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { spawnSync, spawn } from 'node:child_process';
import { Engine, commit, reset, checkout, undo, status } from '../../electron/engine';
import { tmpDir, sh, freePort, hasCommand } from '../helpers';

const PGBIN = '/usr/lib/postgresql/15/bin';
const isRoot = process.getuid?.() === 0;
const asPg = (cmd: string, args: string[]) => (isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]) as [string, string[]];
const pg = (cmd: string, args: string[]) => { const [c, a] = asPg(path.join(PGBIN, cmd), args); return sh(c, a); };

class Pg {
  constructor(readonly dir: string, readonly sock: string, readonly port: number) {}
  start() {
    try { pg('pg_ctl', ['-D', this.dir, '-w', '-t', '60', '-l', path.join(this.sock, 'log'), '-o', `-k ${this.sock} -p ${this.port} -c listen_addresses='' -c fsync=on`, 'start']); }
    catch (e) { throw new Error(`${(e as Error).message}\nserver log:\n${this.log()}`); }
  }
  async stop(mode = 'fast') {
    const pid = Number(readFileSync(path.join(this.dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    pg('pg_ctl', ['-D', this.dir, '-w', '-m', mode, 'stop']);
    // Why wait: a copy of a running data dir names this postmaster in its postmaster.pid, and
    // PostgreSQL refuses to start on it while that pid still exists (seen: exiting/zombie).
    for (let i = 0; i < 200 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 50));
  }
  sql(q: string): string { return pg('psql', ['-h', this.sock, '-p', String(this.port), '-U', 'postgres', '-d', 'postgres', '-At', '-c', q]).trim(); }
  freeze(): number[] {
    const first = Number(readFileSync(path.join(this.dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(first, 'SIGSTOP');
    const frozen = new Set([first]);
    for (let round = 0; round < 10; round++) {
      const kids = spawnSync('pgrep', ['-P', String(first)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number).filter((p) => !frozen.has(p));
      if (!kids.length) break;
      for (const k of kids) { try { process.kill(k, 'SIGSTOP'); frozen.add(k); } catch { /* exited */ } }
    }
    return [...frozen];
  }
  log(): string { try { return readFileSync(path.join(this.sock, 'log'), 'utf8').split('\n').slice(-30).join('\n'); } catch { return '(no log)'; } }
}

const canPg = existsSync(path.join(PGBIN, 'initdb')) && hasCommand('psql');
const canRedis = hasCommand('redis-server') && hasCommand('redis-cli');

test('PostgreSQL 15: committed states restore and start, including a commit taken under load (crash-consistent)', { skip: !canPg && 'PostgreSQL 15 is not installed (apt-get install postgresql)', timeout: 300_000 }, async () => {
  const home = await tmpDir('dm-pg-');
  const sock = await tmpDir('dm-pgsock-');
  if (isRoot) sh('chown', ['postgres', sock]);
  const e = await Engine.open(home);
  let server: Pg | undefined;
  try {
    await e.createDot('app');
    const data = await e.workDir('app', 'users-db', { create: true });
    if (isRoot) sh('chown', ['postgres:postgres', data]);
    await fsp.chmod(data, 0o700);
    pg('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    server = new Pg(data, sock, await freePort());
    server.start();
    pg('pgbench', ['-h', sock, '-p', String(server.port), '-U', 'postgres', '-i', '-s', '2', '-q', 'postgres']);
    server.sql('CREATE TABLE marker(v int); INSERT INTO marker VALUES (1);');
    await server.stop();
    const v1 = await commit(e, 'app', { message: 'v1: 200k accounts, marker 1' });

    server.start();
    server.sql('UPDATE marker SET v = 2; CREATE TABLE extra AS SELECT generate_series(1, 1000) AS n;');
    await server.stop();
    assert.equal((await status(e, 'app')).dirty, true);
    const v2 = await commit(e, 'app', { message: 'v2' });

    await reset(e, 'app', v1.id);
    server = new Pg(await e.workDir('app', 'users-db'), sock, server.port);
    server.start();
    assert.equal(server.sql('SELECT v FROM marker'), '1');
    assert.equal(server.sql('SELECT count(*) FROM pgbench_accounts'), '200000');
    assert.equal(server.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'extra'"), '0');
    await server.stop();
    // Running PostgreSQL changed files (pid file, stats): undo must refuse to drop that silently.
    await assert.rejects(undo(e, 'app'), (err: any) => err.code === 'DIRTY_WORKING_STATE');
    await reset(e, 'app', v2.id, { force: true });

    // Under load: pgbench writes while we freeze the server (as docker pause does), commit, thaw.
    server = new Pg(await e.workDir('app', 'users-db'), sock, server.port);
    server.start();
    const [c, a] = asPg(path.join(PGBIN, 'pgbench'), ['-h', sock, '-p', String(server.port), '-U', 'postgres', '-c', '2', '-T', '4', 'postgres']);
    const load = spawn(c, a, { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 1500));
    // Freeze like the cgroup freezer docker pause uses: the postmaster first (no new backends),
    // then its children, listed again until no unfrozen one is left.
    const pids = server.freeze();
    let thawed = false;
    const thaw = async () => { if (!thawed) { thawed = true; for (const p of pids) { try { process.kill(p, 'SIGCONT'); } catch { /* gone */ } } } };
    let underLoad;
    try { underLoad = await commit(e, 'app', { message: 'under load', afterCapture: thaw }); } finally { await thaw(); }
    await new Promise((r) => load.once('exit', r));
    await server.stop('immediate');

    await checkout(e, 'app', 'crash-copy', { create: true, from: underLoad.id });
    const copy = await e.workDir('app', 'users-db');
    assert.notEqual(copy, server.dir);
    server = new Pg(copy, sock, server.port);
    server.start(); // crash recovery replays the WAL
    const sums = server.sql('SELECT (SELECT sum(abalance) FROM pgbench_accounts) || \',\' || (SELECT sum(bbalance) FROM pgbench_branches) || \',\' || (SELECT coalesce(sum(delta),0) FROM pgbench_history)');
    const [acc, br, hist] = sums.split(',').map(Number);
    assert.equal(acc, br, 'accounts and branches agree as of one instant');
    assert.equal(acc, hist, 'history agrees too');
    assert.equal(server.sql('SELECT v FROM marker'), '2');
    await server.stop();
    server = undefined;
  } finally {
    if (server) { try { await server.stop('immediate'); } catch { /* already down */ } }
    await e.close();
    await fsp.rm(home, { recursive: true, force: true });
    await fsp.rm(sock, { recursive: true, force: true });
  }
});

test('Redis: dump.rdb + appendonlydir restore to the committed keys', { skip: !canRedis && 'redis-server is not installed (apt-get install redis-server)', timeout: 120_000 }, async () => {
  const home = await tmpDir('dm-redis-');
  const e = await Engine.open(home);
  const port = await freePort();
  const cli = (...a: string[]) => sh('redis-cli', ['-p', String(port), ...a]).trim();
  const start = async (dir: string) => {
    sh('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--daemonize', 'yes', '--pidfile', path.join(dir, '..', `redis-${port}.pid`), '--logfile', '']);
    for (let i = 0; i < 100; i++) { try { if (cli('PING') === 'PONG') return; } catch { /* starting */ } await new Promise((r) => setTimeout(r, 50)); }
    throw new Error('redis did not start');
  };
  const stop = async () => { try { cli('SHUTDOWN', 'SAVE'); } catch { /* closes the connection */ } await new Promise((r) => setTimeout(r, 300)); };
  try {
    await e.createDot('app');
    const dir = await e.workDir('app', 'clicks-db', { create: true });
    await start(dir);
    sh('redis-cli', ['-p', String(port)], { input: Array.from({ length: 500 }, (_, i) => `SET click:${i} ${i},${i * 2}`).join('\n') + '\n' });
    cli('RPUSH', 'clicks', 'a', 'b', 'c');
    await stop();
    assert.ok(existsSync(path.join(dir, 'dump.rdb')));
    const v1 = await commit(e, 'app', { message: 'clicks v1' });
    await start(dir);
    cli('SET', 'click:1', 'changed');
    cli('DEL', 'clicks');
    await stop();
    await commit(e, 'app', { message: 'clicks v2' });
    await checkout(e, 'app', 'old', { create: true, from: v1.id });
    const old = await e.workDir('app', 'clicks-db');
    await start(old);
    assert.equal(cli('GET', 'click:1'), '1,2');
    assert.equal(cli('LRANGE', 'clicks', '0', '-1'), 'a\nb\nc');
    assert.equal(cli('DBSIZE'), '501');
    await stop();
    await checkout(e, 'app', 'master');
    await start(await e.workDir('app', 'clicks-db'));
    assert.equal(cli('GET', 'click:1'), 'changed');
    await stop();
  } finally {
    await stop().catch(() => {});
    await e.close();
    await fsp.rm(home, { recursive: true, force: true });
  }
});
