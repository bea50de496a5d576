#!/usr/bin/env node
// Dotdesk benchmark: the dm engine against restic, borg and cp -a, in one run,
// on the same generated PostgreSQL + Redis + uploads data. See bench/README.md.
//
//   node bench/run.mjs [--scale full|small|both] [--regen] [--dir DIR]
//                      [--tools dm,restic,borg,cp] [--repeat N] [--keep] [--timeout-min N]
//
// Plain Node ESM on purpose: no build step, so the restic/borg/cp parts run
// even while the dm CLI is not built yet (dm cells then say "error: ...").

import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
// DOTDESK_BENCH_DM_CLI points at another build of the CLI (or a stand-in when testing the harness).
const DM_CLI = process.env.DOTDESK_BENCH_DM_CLI ? path.resolve(process.env.DOTDESK_BENCH_DM_CLI) : path.join(ROOT, 'dist', 'electron', 'cli', 'main.js');
/**
 * How dm is started: as users start it, through the checkout's bin/dm next to the build (a shell
 * launcher since 2026-12-02); a build without one (older, or a stand-in) runs as `node CLI`.
 */
const DM_RUN = (() => {
  const launcher = path.join(path.dirname(DM_CLI), '..', '..', '..', 'bin', 'dm');
  try { if (fs.readFileSync(launcher, 'utf8').startsWith('#!/bin/sh')) return { cmd: launcher, args: [] }; } catch {}
  return { cmd: process.execPath, args: [DM_CLI] };
})();
const PG_BIN = '/usr/lib/postgresql/15/bin';
const TIME_BIN = '/usr/bin/time';
const SUBDOTS = ['users-db', 'clicks-db', 'uploads'];
const DOT = 'bench';
const MB = 1024 * 1024;
// Bump when the generated data changes shape, so old work dirs are regenerated.
const GEN_VERSION = 1;

const SCALES = {
  small: { pgScale: 5, pgbenchSec: 10, redisKeys: 10_000, smallFiles: 200, largeFiles: 2, addUploads: 5, removeUploads: 1 },
  full: { pgScale: 50, pgbenchSec: 20, redisKeys: 100_000, smallFiles: 2000, largeFiles: 20, addUploads: 50, removeUploads: 10 },
};
const REDIS_REWRITE_FRACTION = 0.02;
/** No-op commits timed back to back per tool and pass; the median counts (see the no-op step). */
const NOOP_RUNS = 5;
const BORG_COMPRESSION = 'zstd,3';
const RESTIC_COMPRESSION = 'auto';

// ---------------------------------------------------------------- arguments

function usage(msg) { const e = new Error(msg); e.usage = true; return e; }

function parseArgs(argv) {
  const o = {
    scale: 'full', regen: false, keep: false, timeoutMin: 12, repeat: 1,
    dir: process.env.DOTDESK_BENCH_DIR || '/var/tmp/dotdesk-bench',
    tools: ['dm', 'restic', 'borg', 'cp'],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      if (i + 1 >= argv.length) throw usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--regen') o.regen = true;
    else if (a === '--keep') o.keep = true;
    else if (a.startsWith('--scale')) o.scale = val();
    else if (a.startsWith('--dir')) o.dir = val();
    else if (a.startsWith('--tools')) o.tools = val().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a.startsWith('--timeout-min')) o.timeoutMin = Number(val());
    else if (a.startsWith('--repeat')) o.repeat = Number(val());
    else if (a === '-h' || a === '--help') {
      console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 7).join('\n').replace(/^\/\/ ?/gm, ''));
      process.exit(0);
    } else throw usage(`unknown argument ${a} (try --help)`);
  }
  if (!(Number.isInteger(o.repeat) && o.repeat >= 1)) throw usage('--repeat needs a whole number >= 1');
  if (!(o.timeoutMin > 0)) throw usage('--timeout-min needs a positive number');
  if (!['small', 'full', 'both'].includes(o.scale)) throw usage(`--scale must be small, full or both, not ${o.scale}`);
  for (const t of o.tools) if (!['dm', 'restic', 'borg', 'cp'].includes(t)) throw usage(`unknown tool ${t}`);
  return o;
}

// ---------------------------------------------------------------- logging

const T0 = Date.now();
let logFile = null;
function stamp() { return `[${((Date.now() - T0) / 1000).toFixed(1).padStart(6)}s]`; }
function log(msg) {
  const line = `${stamp()} ${msg}`;
  console.log(line);
  if (logFile) fs.appendFileSync(logFile, line + '\n');
}
function logDetail(msg) { if (logFile) fs.appendFileSync(logFile, `${stamp()}   ${msg}\n`); }
function tail(s, n = 600) { s = String(s || '').trim(); return s.length > n ? '…' + s.slice(-n) : s; }
function firstLine(s) { return String(s || '').trim().split('\n').filter(Boolean).pop() || ''; }

// ---------------------------------------------------------------- processes

let commandTimeoutMs = 12 * 60 * 1000;

/** Runs a command; resolves {code, stdout, stderr, sec}; rejects on non-zero exit unless allowFail. */
function sh(cmd, args = [], opts = {}) {
  const { cwd, env, allowFail = false, input, timeoutMs = commandTimeoutMs, quiet = false } = opts;
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    if (!quiet) logDetail(`$ ${[cmd, ...args].map(q).join(' ')}${cwd ? `   (in ${cwd})` : ''}`);
    let child;
    try {
      // detached: own process group, so a timeout kills the whole tree.
      child = spawn(cmd, args, { cwd, env: env ? { ...process.env, ...env } : process.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    } catch (e) { reject(e); return; }
    let out = '', err = '';
    const cap = (s, d) => { s += d; return s.length > 200_000 ? s.slice(-100_000) : s; };
    child.stdout.on('data', (d) => { out = cap(out, d.toString()); });
    child.stderr.on('data', (d) => { err = cap(err, d.toString()); });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; try { process.kill(-child.pid, 'SIGKILL'); } catch {} }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(new Error(`${cmd}: ${e.message}`)); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const sec = Number(process.hrtime.bigint() - t) / 1e9;
      const r = { code: code ?? -1, signal, stdout: out, stderr: err, sec };
      if (!quiet) logDetail(`  -> exit ${code}${signal ? ' ' + signal : ''} in ${sec.toFixed(2)}s${err.trim() ? '; stderr: ' + tail(err, 300).replace(/\n/g, ' | ') : ''}`);
      if (timedOut) return reject(new Error(`timed out after ${Math.round(timeoutMs / 1000)}s: ${cmd} ${args.join(' ')}`));
      if (code !== 0 && !allowFail) {
        const why = firstLine(err) || firstLine(out) || `exit ${code}${signal ? ' (' + signal + ')' : ''}`;
        return reject(new Error(`${path.basename(cmd)} exited ${code ?? signal}: ${why}`));
      }
      resolve(r);
    });
    if (input != null) child.stdin.end(input); else child.stdin.end();
  });
}
function q(s) { return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${String(s).replace(/'/g, `'\\''`)}'`; }

/**
 * Runs one measured command under /usr/bin/time -f '%e %M'.
 * Wall time comes from our own clock (finer than %e); peak RSS from %M (KiB).
 * First waits until free page reporting has gone quiet (settleMemory), so memory freed
 * by earlier steps is handed back before the clock starts, whichever tool is next.
 */
async function timed(cmd, args, opts = {}) {
  await settleMemory();
  const tf = path.join(os.tmpdir(), `dotdesk-bench-time-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  try {
    const busy0 = busyCpuSec();
    const r = await sh(TIME_BIN, ['-f', '%e %M %U %S', '-o', tf, cmd, ...args], opts);
    const busy = busyCpuSec() - busy0;
    const last = firstLine(fs.readFileSync(tf, 'utf8'));
    const [e, m, u, sy] = last.split(/\s+/).map(Number);
    const cpuSec = Number.isFinite(u + sy) ? u + sy : null;
    // CPU the rest of the machine burnt meanwhile (another build or test): explains noisy wall times.
    const otherCpuSec = busy != null && cpuSec != null ? Math.max(0, busy - cpuSec) : null;
    return { sec: r.sec, timeSec: e, rssMB: Number.isFinite(m) ? m / 1024 : null, cpuSec, otherCpuSec, stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(tf, { force: true });
  }
}

/** Busy CPU seconds of the whole machine so far, from /proc/stat (USER_HZ = 100 on Linux). */
function busyCpuSec() {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait.
    return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100;
  } catch { return null; }
}

function which(cmd) {
  for (const d of (process.env.PATH || '').split(':')) {
    const p = path.join(d, cmd);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch {}
  }
  return null;
}

async function duBytes(p) {
  const r = await sh('du', ['-sb', p], { quiet: true });
  return Number(r.stdout.split(/\s+/)[0]);
}

async function rmrf(p) { await fsp.rm(p, { recursive: true, force: true }); }

/** Writeback of earlier ops must not land on the next op's clock. */
async function syncDisks() { await sh('sync', [], { quiet: true }); }

/** Reads every file under the dirs once so the measured op reads from page cache, like every other tool. */
async function warm(dirs) {
  const ds = dirs.filter((d) => fs.existsSync(d));
  if (!ds.length) return;
  await sh('sh', ['-c', 'find "$@" -type f -print0 | xargs -0 -r cat > /dev/null', 'warm', ...ds], { quiet: true });
}

async function prepare(inputDirs) {
  await warm(inputDirs);
  await syncDisks();
}

// ---------------------------------------------------------------- memory state
//
// On a VM with virtio free page reporting the guest hands freed memory back to the
// hypervisor about 2 s after it is freed (more passes of 2 s for gigabytes). Pages
// handed back are "cold": the first write into them faults in the hypervisor, and
// writing new page-cache data into cold memory was measured 6-12x slower than into
// memory freed a moment ago (dd of 1.8 GB: 4.4 s vs 0.35-0.8 s). A tool timed right
// after a big deletion (or after another tool's exit) would write into hot pages and
// look faster. So before every timed command we wait until reporting has gone quiet.
// That is not the whole cure: part of freed page cache was still hot long after reporting
// had stopped (cp -a of 1.9 GB after 35 s idle: 1.7 s, next copies 3-5 s), so the bench
// also frees no big data between setup and its last timed command (restored trees are
// deleted at the end, rsync writes v2 in place).

const REPORTED_KIB = '/sys/module/page_reporting/parameters/reported_kib';
const SETTLE_QUIET_MS = 3000;      // reporting passes run every 2 s (2.0-2.5 s apart measured) while work is left
const SETTLE_MIN_REPORT_KIB = 32 * 1024; // less per pass is the background trickle of a quiet machine
const SETTLE_MAX_MS = 60_000;
const SETTLE_FIXED_MS = 12_000;    // without the counter: 1.8 GB freed here was all reported after 11 s
const memSettle = { mode: null, waits: 0, sec: 0, timeouts: 0 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** 'counter' (reporting with a reported_kib counter to watch), 'fixed' (reporting, no counter) or 'none'. */
function reportingMode() {
  if (memSettle.mode) return memSettle.mode;
  let reporting = false;
  try {
    const d = '/sys/bus/virtio/drivers/virtio_balloon';
    for (const n of fs.readdirSync(d).filter((x) => x.startsWith('virtio'))) {
      // Feature bit 5 is VIRTIO_BALLOON_F_REPORTING; the file lists bits as '0'/'1' from bit 0.
      if (fs.readFileSync(path.join(d, n, 'features'), 'utf8')[5] === '1') reporting = true;
    }
  } catch {}
  memSettle.mode = !reporting ? 'none' : fs.existsSync(REPORTED_KIB) ? 'counter' : 'fixed';
  return memSettle.mode;
}

function reportedKib() { return Number(fs.readFileSync(REPORTED_KIB, 'utf8')); }

/** Waits until freed memory has been handed back to the hypervisor (see above); returns the seconds waited. */
async function settleMemory() {
  const mode = reportingMode();
  if (mode === 'none') return 0;
  const t0 = Date.now();
  let reported = 0;
  if (mode === 'fixed') await sleep(SETTLE_FIXED_MS);
  else {
    let last = reportedKib(), quietSince = t0;
    while (Date.now() - quietSince < SETTLE_QUIET_MS) {
      if (Date.now() - t0 > SETTLE_MAX_MS) { memSettle.timeouts++; log(`warning: free page reporting still busy after ${SETTLE_MAX_MS / 1000} s; timing anyway`); break; }
      await sleep(250);
      const v = reportedKib();
      if (v - last >= SETTLE_MIN_REPORT_KIB) { quietSince = Date.now(); reported += v - last; }
      last = v;
    }
  }
  const sec = (Date.now() - t0) / 1000;
  memSettle.waits++; memSettle.sec += sec;
  logDetail(`memory settled in ${sec.toFixed(1)} s (${mode}${reported ? `; ${(reported / 1024).toFixed(0)} MB handed back meanwhile` : ''})`);
  return sec;
}

/**
 * Speed of writing new data into the page cache (no fsync): 512 MB into a new file in dir,
 * first into cold memory, then again right after deleting it (into the pages just freed).
 * A machine characteristic for the report header; not part of any tool's time.
 */
async function pageCacheWriteSpeed(dir) {
  const size = 512 * MB, buf = crypto.randomBytes(4 * MB);
  const once = () => {
    const f = path.join(dir, `.page-cache-probe-${process.pid}`);
    const t = process.hrtime.bigint();
    const fd = fs.openSync(f, 'w');
    try { for (let off = 0; off < size; off += buf.length) fs.writeSync(fd, buf); } finally { fs.closeSync(fd); }
    const sec = Number(process.hrtime.bigint() - t) / 1e9;
    fs.rmSync(f, { force: true });
    return size / MB / sec;
  };
  await settleMemory();
  const cold = once();
  const hot = once();
  await settleMemory();
  return { coldMBs: cold, justFreedMBs: hot };
}

/**
 * The floor of a durable checkout of v2 (bench/pipeline-floor.mjs): v2's chunks, compressed as a
 * dm store holds them and kept in memory, decoded by two threads and written into `dest`, then
 * synced; no pack reads, planning or metadata. A reference, not any tool's time: where it takes
 * longer than a third of restic's restore, so does any checkout that is on disk when it returns.
 * Null when it fails (it needs the checkout's node_modules and about 1 GB of memory).
 */
async function checkoutFloorProbe(src, dest) {
  await prepare([src]);
  try {
    const r = await sh(process.execPath, ['--max-old-space-size=4096', path.join(ROOT, 'bench', 'pipeline-floor.mjs'), src, dest, '--json'], { quiet: true });
    const j = JSON.parse(firstLine(r.stdout));
    return { writeSec: j.writeSec, syncSec: j.syncSec, totalSec: j.totalSec };
  } catch (e) { log(`checkout floor probe failed: ${e.message}`); return null; }
}

/**
 * This machine's floor for a restore that is on disk when it returns: `bytes` written with dd
 * (O_DIRECT, so the page cache costs nothing), once as they are and once with an fsync at the
 * end. A reference, not any tool's time. Why: dm's checkout makes its new working directory
 * durable before switching it in (crash safety), while restic's restore and cp -a never flush;
 * where the durable write alone takes longer than a third of restic's restore, the 3x target
 * is out of reach for any checkout that is on disk when it returns. Null where dd or O_DIRECT
 * is missing (tmpfs).
 */
async function durableWriteProbe(dir, bytes) {
  const f = path.join(dir, `.durable-write-probe-${process.pid}`);
  const once = async (extra) => {
    await syncDisks();
    try {
      return (await timed('dd', ['if=/dev/zero', `of=${f}`, 'bs=8M', `count=${Math.ceil(bytes / (8 * MB))}`, 'oflag=direct', ...extra], { quiet: true })).sec;
    } finally { fs.rmSync(f, { force: true }); }
  };
  try { return { unflushedSec: await once([]), durableSec: await once(['conv=fsync']) }; } catch { return null; }
}

/**
 * The filesystem holding `dir`, for the report header: its type and the mount options that
 * change write costs (online discard: every freed block is a discard request). From findmnt;
 * `stat -f` where findmnt is missing (it names ext4 "ext2/ext3", the magic number they share).
 */
async function fsDescription(dir) {
  try {
    const [type, options = ''] = firstLine((await sh('findmnt', ['-n', '-o', 'FSTYPE,OPTIONS', '--target', dir], { quiet: true })).stdout).split(/\s+/);
    const notable = options.split(',').filter((o) => ['discard', 'sync', 'dirsync', 'nobarrier'].includes(o) || o.startsWith('data=') || o.startsWith('commit='));
    return type + (notable.length ? ` (${notable.join(', ')})` : '');
  } catch {}
  try { return firstLine((await sh('stat', ['-f', '-c', '%T', dir], { quiet: true })).stdout); } catch { return null; }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// ---------------------------------------------------------------- tools

const APT_PACKAGES = {
  restic: { check: () => which('restic'), pkg: 'restic' },
  borg: { check: () => which('borg'), pkg: 'borgbackup' },
  time: { check: () => fs.existsSync(TIME_BIN) && TIME_BIN, pkg: 'time' },
  rsync: { check: () => which('rsync'), pkg: 'rsync' },
  postgresql: { check: () => fs.existsSync(path.join(PG_BIN, 'pgbench')) && PG_BIN, pkg: 'postgresql-15 postgresql-contrib-15' },
  redis: { check: () => which('redis-server'), pkg: 'redis-server' },
};

async function ensureTools(needed) {
  const missing = needed.filter((n) => !APT_PACKAGES[n].check());
  if (!missing.length) return [];
  const pkgs = missing.flatMap((n) => APT_PACKAGES[n].pkg.split(' '));
  if (process.getuid && process.getuid() !== 0) throw new Error(`missing ${missing.join(', ')}; install Debian packages: ${pkgs.join(' ')}`);
  log(`installing missing tools with apt-get: ${pkgs.join(' ')}`);
  if (missing.includes('postgresql')) {
    // Why: the Debian package would otherwise create and start a "main" cluster we do not want.
    fs.mkdirSync('/etc/postgresql-common/createcluster.d', { recursive: true });
    fs.writeFileSync('/etc/postgresql-common/createcluster.d/dotdesk-bench.conf', 'create_main_cluster = false\n');
  }
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await sh('apt-get', ['update', '-q'], { env, timeoutMs: 600_000 });
  await sh('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...pkgs], { env, timeoutMs: 900_000 });
  const still = missing.filter((n) => !APT_PACKAGES[n].check());
  if (still.length) throw new Error(`still missing after apt-get: ${still.join(', ')}`);
  log(`installed with apt-get: ${pkgs.join(' ')}`);
  return pkgs;
}

async function versions() {
  const v = { node: process.version };
  const get = async (k, cmd, args) => { try { v[k] = firstLine((await sh(cmd, args, { quiet: true, allowFail: true })).stdout); } catch { v[k] = null; } };
  await get('restic', 'restic', ['version']);
  await get('borg', 'borg', ['--version']);
  await get('postgres', path.join(PG_BIN, 'postgres'), ['--version']);
  await get('redis', 'redis-server', ['--version']);
  await get('kernel', 'uname', ['-sr']);
  if (fs.existsSync(DM_CLI)) await get('dm', DM_RUN.cmd, [...DM_RUN.args, 'version']);
  return v;
}

// ---------------------------------------------------------------- data: PostgreSQL

async function pgStart(dataDir) {
  const sockDir = fs.mkdtempSync('/tmp/dotdesk-bench-pg-');
  await sh('chown', ['postgres:postgres', sockDir]);
  const port = await freePort();
  const logPath = path.join(sockDir, 'server.log');
  await sh('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, 'pg_ctl'), '-D', dataDir, '-l', logPath, '-w', '-t', '300',
    '-o', `-k ${sockDir} -p ${port} -h ''`, 'start']);
  return { dataDir, sockDir, port };
}

async function pgStop(pg, mode = 'fast') {
  try {
    await sh('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, 'pg_ctl'), '-D', pg.dataDir, '-m', mode, '-w', '-t', '300', 'stop']);
  } finally {
    await rmrf(pg.sockDir);
  }
}

async function pgbench(pg, args) {
  return sh(path.join(PG_BIN, 'pgbench'), ['-h', pg.sockDir, '-p', String(pg.port), '-U', 'postgres', ...args, 'postgres'], { timeoutMs: 1_800_000 });
}

async function genPostgresV1(dir, p) {
  fs.mkdirSync(dir, { recursive: true });
  await sh('chown', ['postgres:postgres', dir]);
  fs.chmodSync(dir, 0o700);
  await sh('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, 'initdb'), '-D', dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-instructions']);
  const pg = await pgStart(dir);
  try {
    log(`gen: pgbench -i -s ${p.pgScale}`);
    await pgbench(pg, ['-i', '-q', '-s', String(p.pgScale)]);
  } catch (e) {
    await pgStop(pg, 'immediate').catch(() => {});
    throw e;
  }
  await pgStop(pg);
}

async function genPostgresV2(dir, p) {
  const pg = await pgStart(dir);
  try {
    log(`gen: pgbench -c 2 -j 2 -T ${p.pgbenchSec}`);
    const r = await pgbench(pg, ['-c', '2', '-j', '2', '-T', String(p.pgbenchSec)]);
    const tps = /tps = ([\d.]+)/.exec(r.stdout);
    if (tps) log(`gen: pgbench ${tps[1]} tps`);
  } catch (e) {
    await pgStop(pg, 'immediate').catch(() => {});
    throw e;
  }
  await pgStop(pg);
}

// ---------------------------------------------------------------- data: Redis

function respEncode(args) {
  const parts = [`*${args.length}\r\n`];
  const bufs = [];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(`$${b.length}\r\n`);
    bufs.push(Buffer.from(parts.join('')), b, Buffer.from('\r\n'));
    parts.length = 0;
  }
  return Buffer.concat(bufs);
}

/** A minimal pipelining RESP client: enough for SET/PING/SHUTDOWN whose replies are one line each. */
class Redis {
  constructor(sockPath) { this.sockPath = sockPath; }
  connect() {
    return new Promise((resolve, reject) => {
      this.sock = net.createConnection(this.sockPath, () => resolve(this));
      this.sock.once('error', reject);
    });
  }
  /** Sends commands pipelined, waits for one line of reply per command, throws on an error reply. */
  batch(cmds) {
    return new Promise((resolve, reject) => {
      let want = cmds.length, buf = '';
      const onData = (d) => {
        buf += d.toString('latin1');
        let i;
        while (want > 0 && (i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i); buf = buf.slice(i + 1); want--;
          if (line.startsWith('-')) { cleanup(); reject(new Error(`redis: ${line.trim()}`)); return; }
        }
        if (want === 0) { cleanup(); resolve(); }
      };
      const onErr = (e) => { cleanup(); reject(e); };
      const cleanup = () => { this.sock.off('data', onData); this.sock.off('error', onErr); };
      this.sock.on('data', onData);
      this.sock.on('error', onErr);
      this.sock.write(Buffer.concat(cmds.map(respEncode)));
    });
  }
  shutdownSave() {
    return new Promise((resolve) => {
      this.sock.once('close', resolve);
      this.sock.on('error', () => {});
      this.sock.write(respEncode(['SHUTDOWN', 'SAVE']));
    });
  }
}

async function redisStart(dir) {
  const sockDir = fs.mkdtempSync('/tmp/dotdesk-bench-redis-');
  const sockPath = path.join(sockDir, 'redis.sock');
  const child = spawn('redis-server', ['--dir', dir, '--appendonly', 'yes', '--port', '0', '--unixsocket', sockPath, '--unixsocketperm', '700',
    '--save', '', '--daemonize', 'no', '--logfile', path.join(sockDir, 'redis.log')], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  let dead = false; exited.then(() => { dead = true; });
  const t = Date.now();
  for (;;) {
    if (dead) throw new Error(`redis-server exited at start: ${tail(fs.readFileSync(path.join(sockDir, 'redis.log'), 'utf8'), 300)}`);
    if (fs.existsSync(sockPath)) {
      try {
        const c = await new Redis(sockPath).connect();
        await c.batch([['PING']]);
        return { child, exited, sockDir, client: c };
      } catch (e) {
        // Why: while loading a big AOF Redis answers -LOADING; retry until ready.
        if (!/LOADING|ECONNREFUSED|ENOENT/.test(String(e.message))) throw e;
      }
    }
    if (Date.now() - t > 300_000) { child.kill('SIGKILL'); throw new Error('redis-server did not start in 300 s'); }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function redisStop(r) {
  await r.client.shutdownSave();
  const code = await r.exited;
  await rmrf(r.sockDir);
  if (code !== 0) throw new Error(`redis-server exited ${code} on SHUTDOWN SAVE`);
}

function clickValue(rng) {
  // ~1 KB of random base64: incompressible-ish like real payloads, mildly compressible like text.
  const n = 540 + Math.floor(rng() * 460);
  return crypto.randomBytes(n).toString('base64');
}

async function redisFill(r, keys, rng) {
  const B = 2000;
  for (let i = 0; i < keys.length; i += B) {
    await r.client.batch(keys.slice(i, i + B).map((k) => ['SET', k, clickValue(rng)]));
  }
}

async function genRedisV1(dir, p, rng) {
  fs.mkdirSync(dir, { recursive: true });
  const r = await redisStart(dir);
  try {
    log(`gen: redis SET ${p.redisKeys} keys (~1 KB random values, pipelined)`);
    const keys = Array.from({ length: p.redisKeys }, (_, i) => `click:${String(i).padStart(8, '0')}`);
    await redisFill(r, keys, rng);
  } catch (e) { r.child.kill('SIGKILL'); throw e; }
  await redisStop(r);
}

async function genRedisV2(dir, p, rng) {
  const r = await redisStart(dir);
  const n = Math.round(p.redisKeys * REDIS_REWRITE_FRACTION);
  try {
    log(`gen: redis rewrite ${n} keys (${REDIS_REWRITE_FRACTION * 100}%)`);
    const keys = new Set();
    while (keys.size < n) keys.add(`click:${String(Math.floor(rng() * p.redisKeys)).padStart(8, '0')}`);
    await redisFill(r, [...keys], rng);
  } catch (e) { r.child.kill('SIGKILL'); throw e; }
  await redisStop(r);
}

// ---------------------------------------------------------------- data: uploads

function mulberry32(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const JPEG_HEAD = Buffer.from('ffd8ffe000104a46494600010101004800480000', 'hex');
function fakeJpeg(size) {
  const b = crypto.randomBytes(size);
  JPEG_HEAD.copy(b, 0);
  b[size - 2] = 0xff; b[size - 1] = 0xd9;
  return b;
}

function writeSmallUpload(dir, rng, year) {
  const month = String(1 + Math.floor(rng() * 12)).padStart(2, '0');
  const d = path.join(dir, String(year), month);
  fs.mkdirSync(d, { recursive: true });
  const name = `img-${crypto.randomBytes(6).toString('hex')}.jpg`;
  fs.writeFileSync(path.join(d, name), fakeJpeg(1024 + Math.floor(rng() * 49 * 1024)));
}

async function genUploadsV1(dir, p, rng) {
  log(`gen: uploads: ${p.smallFiles} files of 1-50 KB, ${p.largeFiles} of 5-20 MB`);
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < p.smallFiles; i++) writeSmallUpload(dir, rng, 2024);
  const vd = path.join(dir, 'video');
  fs.mkdirSync(vd, { recursive: true });
  for (let i = 0; i < p.largeFiles; i++) {
    const size = 5 * MB + Math.floor(rng() * 15 * MB);
    const f = path.join(vd, `clip-${String(i).padStart(3, '0')}.mp4`);
    const fd = fs.openSync(f, 'w');
    for (let off = 0; off < size; off += 4 * MB) fs.writeSync(fd, crypto.randomBytes(Math.min(4 * MB, size - off)));
    fs.closeSync(fd);
  }
  // A web server's uploads belong to www-data (33): ownership must survive every tool.
  await sh('chown', ['-R', '33:33', dir]);
}

async function genUploadsV2(dir, p, rng) {
  log(`gen: uploads: +${p.addUploads} files, -${p.removeUploads}`);
  const all = [];
  for (const m of fs.readdirSync(path.join(dir, '2024')).sort()) {
    for (const f of fs.readdirSync(path.join(dir, '2024', m)).sort()) all.push(path.join(dir, '2024', m, f));
  }
  for (let i = 0; i < p.removeUploads && all.length; i++) fs.rmSync(all.splice(Math.floor(rng() * all.length), 1)[0]);
  for (let i = 0; i < p.addUploads; i++) writeSmallUpload(dir, rng, 2025);
  await sh('chown', ['-R', '33:33', dir]);
}

// ---------------------------------------------------------------- data: driver

async function ensureData(scale, base, regen) {
  const p = SCALES[scale];
  const dataDir = path.join(base, 'data');
  const manifestPath = path.join(dataDir, 'manifest.json');
  if (!regen && fs.existsSync(manifestPath)) {
    const m = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
    if (m.genVersion === GEN_VERSION && JSON.stringify(m.params) === JSON.stringify(p)) {
      log(`data: reusing ${dataDir} (generated ${m.generatedAt}; --regen to redo)`);
      return { v1: path.join(dataDir, 'v1'), v2: path.join(dataDir, 'v2'), manifest: m, generated: false };
    }
    log('data: parameters changed since last generation, regenerating');
  }
  const t = Date.now();
  const tmp = path.join(base, 'data.tmp');
  await rmrf(tmp); await rmrf(dataDir);
  const v1 = path.join(tmp, 'v1'), v2 = path.join(tmp, 'v2');
  fs.mkdirSync(v1, { recursive: true });
  const rng = mulberry32(scale === 'full' ? 50 : 5);
  log(`data: generating ${scale} scale into ${dataDir}`);
  await genPostgresV1(path.join(v1, 'users-db'), p);
  await genRedisV1(path.join(v1, 'clicks-db'), p, rng);
  await genUploadsV1(path.join(v1, 'uploads'), p, rng);
  log('gen: cp -a v1 v2');
  await sh('cp', ['-a', v1, v2]);
  await genPostgresV2(path.join(v2, 'users-db'), p);
  await genRedisV2(path.join(v2, 'clicks-db'), p, rng);
  await genUploadsV2(path.join(v2, 'uploads'), p, rng);
  const m = { genVersion: GEN_VERSION, scale, params: p, generatedAt: new Date().toISOString(), generationSec: (Date.now() - t) / 1000, bytes: {} };
  for (const v of ['v1', 'v2']) {
    m.bytes[v] = { total: await duBytes(path.join(tmp, v)) };
    for (const s of SUBDOTS) m.bytes[v][s] = await duBytes(path.join(tmp, v, s));
  }
  fs.writeFileSync(path.join(tmp, 'manifest.json'), JSON.stringify(m, null, 2));
  // Why: rename last, so an interrupted generation is never mistaken for a complete one.
  fs.renameSync(tmp, dataDir);
  log(`data: generated in ${m.generationSec.toFixed(0)} s: v1 ${fmtBytes(m.bytes.v1.total)}, v2 ${fmtBytes(m.bytes.v2.total)}`);
  return { v1: path.join(dataDir, 'v1'), v2: path.join(dataDir, 'v2'), manifest: m, generated: true };
}

// ---------------------------------------------------------------- verification

/** Compares content (diff -r) and metadata (owner, mode, size, file mtime) of two trees. */
async function verifyTree(expected, actual) {
  const problems = [];
  if (!fs.existsSync(actual)) return { ok: false, problems: [`missing ${actual}`] };
  const d = await sh('diff', ['-rq', '--no-dereference', expected, actual], { allowFail: true, quiet: true });
  if (d.code !== 0) problems.push(`content: ${tail(d.stdout || d.stderr, 200).split('\n')[0]} (${(d.stdout.match(/\n/g) || []).length} lines of diff)`);
  const listing = async (dir) => (await sh('find', [dir, '-printf', '%P\t%y\t%U:%G\t%m\t%s\t%T@\n'], { quiet: true })).stdout
    .split('\n').filter(Boolean)
    // Why: a directory's size and mtime legitimately change while a tool fills it; compare files' only.
    .map((l) => { const f = l.split('\t'); return f[1] === 'd' ? [f[0], f[1], f[2], f[3]].join('\t') : l; })
    .sort();
  const [a, b] = [await listing(expected), await listing(actual)];
  const sb = new Set(b);
  const bad = a.filter((l) => !sb.has(l));
  if (bad.length || a.length !== b.length) problems.push(`metadata: ${bad.length} of ${a.length} entries differ${bad.length ? ', e.g. ' + bad[0].replace(/\t/g, ' ') : ''}`);
  return { ok: problems.length === 0, problems };
}

/** A restored PostgreSQL data dir must start: the real test of owners, modes and consistency. */
async function pgStartCheck(dir) {
  const pg = await pgStart(dir);
  await pgStop(pg);
  return true;
}

async function verifyRestore(v2, root) {
  const out = { ok: true, problems: [] };
  for (const s of SUBDOTS) {
    const r = await verifyTree(path.join(v2, s), path.join(root[s] ?? path.join(root, s)));
    if (!r.ok) { out.ok = false; out.problems.push(...r.problems.map((x) => `${s}: ${x}`)); }
  }
  return out;
}

// ---------------------------------------------------------------- the tools under test

/** Starts Dotdesk without a window (`npm start`'s bridge) on a store; dm run against that store attaches to it. */
async function startDotdesk(home) {
  const cli = path.join(path.dirname(DM_CLI), '..', 'bridge', 'cli.js');
  if (!fs.existsSync(cli)) throw new Error(`${path.relative(ROOT, cli)} missing`);
  const child = spawn(process.execPath, [cli, '--json', '--no-plugin'], { cwd: ROOT, env: { ...process.env, ...dmEnv(home), DM_DOCKER: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stderr.on('data', (b) => { err += b; });
  const exited = new Promise((r) => child.once('exit', r));
  await Promise.race([
    new Promise((resolve) => child.stdout.on('data', (b) => { out += b; if (out.includes('\n')) resolve(); })),
    exited.then((code) => { throw new Error(`Dotdesk exited ${code}: ${err.trim()}`); }),
  ]);
  return {
    pid: child.pid,
    rssMB: () => { try { return Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024; } catch { return null; } },
    stop: async () => { child.kill('SIGTERM'); await exited; },
  };
}

/** CPU seconds (user + system) a process has used so far. */
function procCpuSec(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

// DM_DOCKER=0, as for the attached app: no container mounts the bench's data, and otherwise a
// Docker engine that happens to run on the machine (the tests start one) costs every dm commit a
// query of its containers: a no-op commit took 190.8 ms against 181.5 ms (15 alternating rounds).
function dmEnv(home) { return { DM_HOME: home, DM_AUTHOR: 'bench', DM_DOCKER: '0' }; }
function dm(home, args, opts = {}) { return sh(DM_RUN.cmd, [...DM_RUN.args, ...args], { cwd: ROOT, env: dmEnv(home), ...opts }); }
function dmTimed(home, args) { return timed(DM_RUN.cmd, [...DM_RUN.args, ...args], { cwd: ROOT, env: dmEnv(home) }); }
async function dmPath(home, dot, sub) {
  const p = firstLine((await dm(home, ['dot', 'path', dot, sub])).stdout);
  if (!path.isAbsolute(p)) throw new Error(`dm dot path printed ${JSON.stringify(p)}, not an absolute path`);
  return p;
}
async function dmPaths(home, dot) { const o = {}; for (const s of SUBDOTS) o[s] = await dmPath(home, dot, s); return o; }

const resticEnv = (cacheDir) => ({ RESTIC_PASSWORD: 'bench', RESTIC_CACHE_DIR: cacheDir });
const borgEnv = (baseDir) => ({
  BORG_PASSPHRASE: 'bench', BORG_BASE_DIR: baseDir,
  BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes', BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
});

// ---------------------------------------------------------------- one scale

async function runScale(scale, opts) {
  const p = SCALES[scale];
  const base = path.join(opts.dir, scale);
  fs.mkdirSync(base, { recursive: true });
  const tScale = Date.now();
  const data = await ensureData(scale, base, opts.regen);
  const genSec = (Date.now() - tScale) / 1000;
  const tBench = Date.now();
  const settle0 = { waits: memSettle.waits, sec: memSettle.sec, timeouts: memSettle.timeouts };
  const passes = [];
  // Passes keep their directories until the last one has run, when the disk has room (a pass
  // leaves about 8x the data: working dirs, staging tree, repositories, four restores and the
  // checkout floor's tree). Why: the
  // 13 GB a pass deletes at full scale would slow the next pass's file creation (this ext4 skips
  // inodes freed in the last minutes when it allocates one) and hand its memory back to the
  // hypervisor, and the tool timed first in each op (dm) would pay most of it.
  const perPass = 8 * data.manifest.bytes.v1.total;
  const room = (() => { try { const f = fs.statfsSync(base); return f.bavail * f.bsize; } catch { return 0; } })();
  const keepAll = opts.repeat > 1 && room > opts.repeat * perPass * 1.2;
  if (opts.repeat > 1 && !keepAll) log(`note: ${fmtBytes(room)} free, under ${fmtBytes(opts.repeat * perPass * 1.2)}: each pass's directories are deleted before the next pass`);
  const runs = [];
  for (let i = 1; i <= opts.repeat; i++) {
    if (opts.repeat > 1) log(`--- pass ${i} of ${opts.repeat} ---`);
    const run = path.join(base, opts.repeat > 1 ? `run-${i}` : 'run');
    runs.push(run);
    passes.push(await runPass(data, run, opts));
    if (!opts.keep && !keepAll) await rmrf(run);
  }
  if (!opts.keep && keepAll) for (const r of runs) await rmrf(r);
  const res = mergePasses(passes);
  if (keepAll) res.notes.push('Passes kept their directories until the last pass had run (no pass deleted data before the next one).');
  if (opts.keep) res.notes.push(`repositories and working dirs kept in ${base}/run*`);
  return {
    scale, params: p, dataDir: path.dirname(data.v1), data: data.manifest.bytes, dataGenerated: data.generated,
    generationSec: data.generated ? data.manifest.generationSec : 0, setupSec: genSec, benchSec: (Date.now() - tBench) / 1000,
    passes: opts.repeat, ...res,
    memorySettle: { mode: reportingMode(), waits: memSettle.waits - settle0.waits, sec: memSettle.sec - settle0.sec, timeouts: memSettle.timeouts - settle0.timeouts },
  };
}

function median(xs) { const a = [...xs].sort((x, y) => x - y); const m = a.length >> 1; return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2; }

/** With --repeat N: median wall and CPU time, max RSS; a restore check fails if it failed in any pass. */
function mergePasses(passes) {
  if (passes.length === 1) return passes[0];
  const ops = {};
  for (const pass of passes) {
    for (const [id, o] of Object.entries(pass.ops)) {
      ops[id] ??= { id, label: o.label, results: {} };
      for (const [tool, c] of Object.entries(o.results)) (ops[id].results[tool] ??= []).push(c);
    }
  }
  for (const o of Object.values(ops)) {
    for (const [tool, cells] of Object.entries(o.results)) {
      const ok = cells.filter((c) => !c.error);
      if (!ok.length) { o.results[tool] = cells[0]; continue; }
      const num = (k, f) => { const v = ok.map((c) => c[k]).filter((x) => x != null); return v.length ? f(v) : null; };
      const m = { sec: median(ok.map((c) => c.sec)), rssMB: num('rssMB', (v) => Math.max(...v)), cpuSec: num('cpuSec', median), otherCpuSec: num('otherCpuSec', median), samples: ok.map((c) => c.sec) };
      const bad = ok.find((c) => c.verified && !c.verified.ok);
      if (ok[0].verified) m.verified = bad ? bad.verified : ok[0].verified;
      if (ok.length < cells.length) m.failedPasses = cells.filter((c) => c.error).map((c) => c.error);
      o.results[tool] = m;
    }
  }
  const verified = {};
  for (const pass of passes) for (const [t, v] of Object.entries(pass.verified)) if (!verified[t] || !v.ok) verified[t] = v;
  const last = passes[passes.length - 1];
  const tinys = passes.map((x) => x.tinySwitch).filter((x) => x.master != null);
  const tinySwitch = tinys.length ? { master: median(tinys.map((x) => x.master)), other: median(tinys.map((x) => x.other)) } : last.tinySwitch;
  return { ...last, ops, verified, tinySwitch, notes: [...new Set(passes.flatMap((x) => x.notes))], probesMs: passes.flatMap((x) => x.probesMs), durableWrites: passes.flatMap((x) => x.durableWrites ?? []), floors: passes.flatMap((x) => x.floors ?? []) };
}

/**
 * A fixed CPU workload (SHA-256 of 64 MiB, best of 3), timed at the start of every pass. Why:
 * this VM's speed changes by about 15 % from minute to minute, for every tool alike; the probe
 * tells a slow pass from a slow tool.
 */
let probeBuf;
function cpuProbeMs() {
  // Kept for the whole run: the bench frees nothing big before a timed command (see above).
  const buf = (probeBuf ??= Buffer.alloc(64 * 1024 * 1024, 7));
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = process.hrtime.bigint();
    crypto.createHash('sha256').update(buf).digest();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e6);
  }
  return best;
}

/** One full sequence (setup, commits, materialise, switch, sizes) in a fresh run dir. */
async function runPass(data, run, opts) {
  const { v1, v2 } = data;
  await rmrf(run);
  fs.mkdirSync(run, { recursive: true });
  const probeMs = cpuProbeMs();
  log(`CPU probe (SHA-256 of 64 MiB): ${probeMs.toFixed(1)} ms`);

  const want = new Set(opts.tools);
  const ops = {};
  const notes = [];
  const op = (id, label) => (ops[id] ??= { id, label, results: {} });
  /** Runs one tool's step; any failure becomes "error: …" in its cell and the run goes on. */
  async function measure(id, label, tool, fn) {
    const cell = op(id, label).results;
    if (!want.has(tool)) return;
    if (broken[tool]) { cell[tool] = { error: broken[tool] }; return; }
    try {
      const r = await fn();
      cell[tool] = { sec: r.sec, rssMB: r.rssMB, cpuSec: r.cpuSec, otherCpuSec: r.otherCpuSec };
      if (r.extra) Object.assign(cell[tool], r.extra);
      log(`${label.padEnd(24)} ${tool.padEnd(7)} ${r.sec.toFixed(2).padStart(8)} s  ${r.rssMB != null ? r.rssMB.toFixed(0).padStart(5) + ' MB' : ''}${r.cpuSec != null ? `  cpu ${r.cpuSec.toFixed(2)} s` : ''}${r.otherCpuSec > 0.25 * r.sec ? `  (others busy: ${r.otherCpuSec.toFixed(1)} cpu-s)` : ''}`);
    } catch (e) {
      cell[tool] = { error: String(e.message || e) };
      log(`${label.padEnd(22)} ${tool.padEnd(7)} error: ${e.message}`);
    }
  }
  const broken = {};

  // ---- setup (not timed): dm working dirs, restic/borg staging dir, empty repos
  const dmHome = path.join(run, 'dm-home');
  const src = path.join(run, 'src');
  const resticRepo = path.join(run, 'restic-repo');
  const borgRepo = path.join(run, 'borg-repo');
  const rEnv = resticEnv(path.join(run, 'restic-cache'));
  const bEnv = borgEnv(path.join(run, 'borg-base'));
  let dmWork = null;

  if (want.has('dm')) {
    try {
      if (!fs.existsSync(DM_CLI)) throw new Error(`dm CLI not built (${path.relative(ROOT, DM_CLI)} missing; npm run build)`);
      fs.mkdirSync(dmHome, { recursive: true });
      await dm(dmHome, ['init', DOT]);
      dmWork = await dmPaths(dmHome, DOT);
      for (const s of SUBDOTS) await sh('cp', ['-a', `${v1}/${s}/.`, dmWork[s]]);
    } catch (e) { broken.dm = `setup: ${e.message}`; log(`dm: ${broken.dm}`); }
  }
  if (want.has('restic') || want.has('borg')) {
    // One staging tree for restic and borg: both back up the same path, so each finds
    // its parent snapshot / files cache exactly as in real use.
    await sh('cp', ['-a', v1, src]);
  }
  if (want.has('restic')) {
    try { await sh('restic', ['init', '-q', '--repo', resticRepo, '--repository-version', '2'], { env: rEnv }); } catch (e) { broken.restic = `init: ${e.message}`; }
  }
  if (want.has('borg')) {
    try { await sh('borg', ['init', '-e', 'none', borgRepo], { env: bEnv }); } catch (e) { broken.borg = `init: ${e.message}`; }
  }

  const resticBackup = async () => {
    await prepare([src]);
    return timed('restic', ['backup', '-q', '--repo', resticRepo, '--compression', RESTIC_COMPRESSION, ...SUBDOTS], { cwd: src, env: rEnv });
  };
  let borgN = 0;
  const borgCreate = async () => {
    await prepare([src]);
    return timed('borg', ['create', '--compression', BORG_COMPRESSION, `${borgRepo}::a${++borgN}`, ...SUBDOTS], { cwd: src, env: bEnv });
  };
  const dmCommit = (msg) => async () => {
    await prepare(Object.values(dmWork));
    return dmTimed(dmHome, ['commit', '-m', msg]);
  };

  // ---- 1. first commit of v1
  const FIRST = ['first', 'first commit (v1)'];
  await measure(...FIRST, 'dm', dmCommit('v1'));
  await measure(...FIRST, 'restic', resticBackup);
  await measure(...FIRST, 'borg', borgCreate);

  // ---- 2. no-op commit (v1 again, unchanged)
  const NOOP = ['noop', 'no-op commit (v1 again)'];
  // Why NOOP_RUNS back to back, the median counting (for every tool alike): a no-op takes dm
  // about 0.2 s, and one timing of it varied by a fifth from pass to pass on the bench machine
  // (0.17-0.23 s), more than the margin the ratio is judged by. Each run is a real no-op commit
  // (backup) of the same unchanged data, as the first one is.
  const repeated = (tool, fn) => async () => {
    const runs = [];
    for (let i = 0; i < NOOP_RUNS; i++) runs.push(await fn(i));
    log(`  ${tool} no-op runs: ${runs.map((r) => r.sec.toFixed(3)).join(', ')} s`);
    const mid = [...runs].sort((a, b) => a.sec - b.sec)[runs.length >> 1];
    return { ...mid, rssMB: Math.max(...runs.map((r) => r.rssMB ?? 0)), extra: { ...mid.extra, noopSamples: runs.map((r) => r.sec) } };
  };
  await measure(...NOOP, 'dm', repeated('dm', (i) => dmCommit(`v1 again${i ? ` (${i + 1})` : ''}`)()));
  // The same no-op commit with Dotdesk already running on the store (the app, `npm start`,
  // `dm serve --ui`), which is how the app's users run dm: it attaches to the running service.
  // Three commits in a row, the median counts: the first one after the app starts also pays for
  // compiling the commit code (logged), which an app that has been open has done long before.
  // The service's CPU time is added to dm's (it is not "other processes").
  await measure('noop-attached', 'no-op commit, attached', 'dm', async () => {
    const app = await startDotdesk(dmHome);
    try {
      await dm(dmHome, ['list']); // as the open app has: the store is loaded
      const runs = [];
      for (let i = 0; i < 3; i++) {
        const cpu0 = procCpuSec(app.pid);
        const r = await dmCommit(`v1 again, attached ${i + 1}`)();
        const appCpu = procCpuSec(app.pid) - cpu0;
        if (!/\[commit\] /.test(r.stderr)) throw new Error('dm did not attach to the running Dotdesk (no progress from it)');
        runs.push({ ...r, cpuSec: r.cpuSec + appCpu, otherCpuSec: Math.max(0, (r.otherCpuSec ?? 0) - appCpu), appCpuSec: appCpu });
      }
      log(`  attached no-op commits: ${runs.map((r) => r.sec.toFixed(3)).join(', ')} s (first one right after the app started)`);
      const mid = [...runs].sort((a, b) => a.sec - b.sec)[1];
      return { ...mid, rssMB: Math.max(...runs.map((r) => r.rssMB ?? 0)), extra: { attachedSamples: runs.map((r) => r.sec), appCpuSec: mid.appCpuSec, appRssMB: app.rssMB() } };
    } finally { await app.stop(); }
  });
  await measure(...NOOP, 'restic', repeated('restic', resticBackup));
  await measure(...NOOP, 'borg', repeated('borg', borgCreate));

  // ---- 3. incremental: v2 after v1 (the rsync into place is not timed). --inplace: rsync's
  // default writes each changed file anew and renames it over the old one, which frees the old
  // one's page cache (about 1.2 GB per tree at full scale) right before dm's commit; in place,
  // the cached pages are overwritten (as PostgreSQL does). Only files gone in v2 are freed (PG:
  // about 320 MB of WAL segments per tree).
  if (want.has('dm') && !broken.dm) {
    try { for (const s of SUBDOTS) await sh('rsync', ['-a', '--inplace', '--delete', `${v2}/${s}/`, `${dmWork[s]}/`]); } catch (e) { broken.dm = `rsync v2: ${e.message}`; }
  }
  if (want.has('restic') || want.has('borg')) {
    for (const s of SUBDOTS) await sh('rsync', ['-a', '--inplace', '--delete', `${v2}/${s}/`, `${src}/${s}/`]);
  }
  const INCR = ['incr', 'incremental (v2)'];
  await measure(...INCR, 'dm', dmCommit('v2'));
  await measure(...INCR, 'restic', resticBackup);
  await measure(...INCR, 'borg', borgCreate);

  // ---- 4. materialise the latest commit (v2) into an empty directory
  const MAT = ['materialise', 'materialise (v2)'];
  const verified = {};
  await measure(...MAT, 'dm', async () => {
    await prepare([path.join(dmHome, 'objects')]);
    const r = await dmTimed(dmHome, ['checkout', '-b', 'restore-test']);
    const paths = await dmPaths(dmHome, DOT);
    for (const s of SUBDOTS) if (paths[s] === dmWork[s]) throw new Error(`checkout -b kept the old working dir for ${s}`);
    verified.dm = await verifyRestore(v2, paths);
    return { ...r, extra: { verified: verified.dm } };
  });
  // Restored trees stay with the run dir: deleting one frees about 2 GB of page cache, and the
  // next timed command would write into those just-freed (hot) pages.
  const restoreTarget = (tool) => { const d = path.join(run, `restore-${tool}`); fs.mkdirSync(d, { recursive: true }); return d; };
  const check = async (tool, dir) => {
    verified[tool] = await verifyRestore(v2, dir);
    // PostgreSQL must start on what the tool restored (owner postgres, mode 0700, all files).
    try { await pgStartCheck(path.join(dir, 'users-db')); verified[tool].pgStarts = true; } catch (e) { verified[tool].pgStarts = false; verified[tool].ok = false; verified[tool].problems.push(`PostgreSQL does not start: ${e.message}`); }
    return verified[tool];
  };
  await measure(...MAT, 'restic', async () => {
    const t = restoreTarget('restic');
    await prepare([resticRepo]);
    const r = await timed('restic', ['restore', 'latest', '-q', '--repo', resticRepo, '--target', t], { env: rEnv });
    return { ...r, extra: { verified: await check('restic', t) } };
  });
  await measure(...MAT, 'borg', async () => {
    const t = restoreTarget('borg');
    await prepare([borgRepo]);
    const r = await timed('borg', ['extract', `${borgRepo}::a${borgN}`], { cwd: t, env: bEnv });
    return { ...r, extra: { verified: await check('borg', t) } };
  });
  // cp -a copies the same state (v2) that the tools restore, so the bytes are equal.
  await measure(...MAT, 'cp', async () => {
    const t = path.join(run, 'restore-cp');
    await prepare([v2]);
    const r = await timed('cp', ['-a', v2, t]);
    return { ...r, extra: { verified: await check('cp', t) } };
  });
  const durableWrite = await durableWriteProbe(run, data.manifest.bytes.v2.total);
  if (durableWrite) log(`durable write of v2's ${fmtBytes(data.manifest.bytes.v2.total)} (dd, O_DIRECT): ${durableWrite.durableSec.toFixed(2)} s with fsync, ${durableWrite.unflushedSec.toFixed(2)} s without (reference)`);
  // Kept in the run dir like the restored trees (deleting it would free memory for the next step).
  const floor = await checkoutFloorProbe(v2, path.join(run, 'restore-floor'));
  if (floor) log(`floor of a durable checkout of v2 (bench/pipeline-floor.mjs): ${floor.totalSec.toFixed(2)} s = writing ${floor.writeSec.toFixed(2)} s + sync ${floor.syncSec.toFixed(2)} s (reference)`);
  // ---- 5. branch switch (dm only): both branches exist; also on a 1-file dot for scale-independence
  const SW1 = ['switch-master', 'switch -> master'];
  const SW2 = ['switch-back', 'switch -> restore-test'];
  await measure(...SW1, 'dm', async () => { await syncDisks(); return dmTimed(dmHome, ['checkout', 'master']); });
  await measure(...SW2, 'dm', async () => { await syncDisks(); return dmTimed(dmHome, ['checkout', 'restore-test']); });
  const tiny = {};
  if (want.has('dm') && !broken.dm) {
    try {
      const th = path.join(run, 'dm-home-tiny');
      fs.mkdirSync(th, { recursive: true });
      await dm(th, ['init', 'tiny']);
      fs.writeFileSync(path.join(await dmPath(th, 'tiny', 'uploads'), 'one.txt'), 'one small file\n');
      await dm(th, ['commit', '-m', 'tiny']);
      await dm(th, ['checkout', '-b', 'other']);
      await syncDisks();
      tiny.master = (await dmTimed(th, ['checkout', 'master'])).sec;
      await syncDisks();
      tiny.other = (await dmTimed(th, ['checkout', 'other'])).sec;
      log(`${'switch on a 1-file dot'.padEnd(24)} dm      ${tiny.master.toFixed(2).padStart(8)} s / ${tiny.other.toFixed(2)} s`);
    } catch (e) { tiny.error = String(e.message); log(`switch on a 1-file dot: error: ${e.message}`); }
  }

  // ---- reference: the cost of starting each CLI at all (part of every number above)
  const START = ['startup', 'CLI start (version)'];
  await measure(...START, 'dm', () => dmTimed(dmHome, ['version']));
  await measure(...START, 'restic', () => timed('restic', ['version'], { env: rEnv }));
  await measure(...START, 'borg', () => timed('borg', ['--version'], { env: bEnv }));

  // ---- 6. store size
  const store = {};
  const size = async (tool, p) => {
    if (!want.has(tool)) return;
    try { store[tool] = fs.existsSync(p) ? { bytes: await duBytes(p) } : { error: broken[tool] || `${p} missing` }; } catch (e) { store[tool] = { error: e.message }; }
  };
  await size('dm', path.join(dmHome, 'objects'));
  await size('restic', resticRepo);
  await size('borg', borgRepo);
  const side = {};
  if (want.has('dm') && fs.existsSync(dmHome)) side.dmHomeTotal = await duBytes(dmHome);
  if (fs.existsSync(path.join(run, 'restic-cache'))) side.resticCache = await duBytes(path.join(run, 'restic-cache'));
  if (fs.existsSync(path.join(run, 'borg-base'))) side.borgCache = await duBytes(path.join(run, 'borg-base'));
  if (want.has('cp')) store.cp = { bytes: data.manifest.bytes.v1.total + data.manifest.bytes.v2.total, note: 'v1 + v2 as two plain copies' };

  // dm's restored PostgreSQL must start too; checked last because starting it dirties the working dir.
  if (verified.dm && dmWork) {
    try {
      const p2 = await dmPath(dmHome, DOT, 'users-db');
      await pgStartCheck(p2); verified.dm.pgStarts = true;
    } catch (e) { verified.dm.pgStarts = false; verified.dm.ok = false; verified.dm.problems.push(`PostgreSQL does not start: ${e.message}`); }
  }
  let dmList = null;
  if (want.has('dm') && !broken.dm) { try { dmList = JSON.parse((await dm(dmHome, ['list', '--json'], { allowFail: true })).stdout); } catch {} }
  // Nothing is timed after this point. The restored trees go with the run dir.

  return { ops, verified, tinySwitch: tiny, store, sideSizes: side, dmList, notes, probesMs: [probeMs], durableWrites: durableWrite ? [durableWrite] : [], floors: floor ? [floor] : [] };
}

// ---------------------------------------------------------------- targets and report

function ratio(a, b) { return a && b && a.sec != null && b.sec != null && b.sec > 0 ? a.sec / b.sec : null; }

function evaluate(res, other) {
  const o = res.ops;
  const dm = (id) => o[id]?.results.dm;
  const t = {};
  const speed = (id, x) => {
    const r = ratio(o[id]?.results.restic, dm(id));
    return { text: `>= ${x}x faster than restic`, status: r == null ? 'not measured' : r >= x ? 'met' : 'missed', value: r };
  };
  t.first = speed('first', 3);
  t.noop = speed('noop', 5);
  {
    // Against restic's no-op commit: restic has no running service to attach to.
    const r = ratio(o.noop?.results.restic, dm('noop-attached'));
    t.noopAttached = { text: '>= 5x faster than restic', status: r == null ? 'not measured' : r >= 5 ? 'met' : 'missed', value: r };
  }
  t.incr = speed('incr', 2);
  {
    const r = ratio(o.materialise?.results.restic, dm('materialise'));
    const c = ratio(o.materialise?.results.cp, dm('materialise'));
    const v = res.verified.dm;
    let status = r == null || c == null ? 'not measured' : r >= 3 && c >= 1 ? 'met' : 'missed';
    if (status === 'met' && v && !v.ok) status = 'missed (restore differs)';
    t.materialise = { text: '>= 3x faster than restic restore, <= cp -a', status, value: r, vsCp: c };
  }
  {
    // Independent of data size: the switch on this dot is within 1.5x (or +0.2 s) of the same
    // switch on a 1-file dot, and (when the other scale was run) of the other scale's switch.
    const sw = ['switch-master', 'switch-back'].map((id) => dm(id)?.sec).filter((x) => x != null);
    const tinyMax = res.tinySwitch?.master != null ? Math.max(res.tinySwitch.master, res.tinySwitch.other) : null;
    const near = (a, b) => a <= Math.max(1.5 * b, b + 0.2);
    let status = 'not measured';
    if (sw.length === 2 && tinyMax != null) status = near(Math.max(...sw), tinyMax) ? 'met' : 'missed';
    const otherSw = other && ['switch-master', 'switch-back'].map((id) => other.ops[id]?.results.dm?.sec).filter((x) => x != null);
    if (status === 'met' && otherSw?.length === 2) {
      const [a, b] = [Math.max(...sw), Math.max(...otherSw)];
      if (!near(Math.max(a, b), Math.min(a, b))) status = 'missed';
    }
    t.switch = { text: `independent of data size (vs 1-file dot${otherSw?.length ? ' and other scale' : ''})`, status, value: sw.length ? Math.max(...sw) : null, tinyMax };
  }
  {
    const a = res.store.dm?.bytes, b = res.store.restic?.bytes;
    t.store = { text: "<= restic's repository", status: a == null || b == null ? 'not measured' : a <= b ? 'met' : 'missed', value: a && b ? a / b : null };
  }
  {
    const rss = ['first', 'noop', 'incr', 'materialise', 'switch-master', 'switch-back'].map((id) => dm(id)?.rssMB).filter((x) => x != null);
    t.memory = { text: 'dm commit/checkout peak RSS < 300 MB', status: rss.length ? (Math.max(...rss) < 300 ? 'met' : 'missed') : 'not measured', value: rss.length ? Math.max(...rss) : null };
  }
  return t;
}

function fmtBytes(n) {
  if (n == null) return '—';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i >= 2 ? 1 : 0)} ${u[i]}`;
}
function cellTime(c) {
  if (!c) return '—';
  if (c.error) return 'error: ' + (c.error.length > 26 ? c.error.slice(0, 25) + '…' : c.error);
  const bad = c.verified && !c.verified.ok ? ' (!)' : '';
  return `${c.sec.toFixed(2)} s${busy(c) ? '~' : ''}${bad}`;
}
/** Other processes used more than a quarter of a core on average while this op ran. */
function busy(c) { return c && c.otherCpuSec != null && c.sec > 0 && c.otherCpuSec > 0.25 * c.sec; }
function cellRss(c) { return c && !c.error && c.rssMB != null ? `${c.rssMB.toFixed(0)} MB` : '—'; }
function cellRatio(r, store = false) {
  if (r == null) return '—';
  if (store) return `${r.toFixed(2)}x size`;
  return r >= 1 ? `${r.toFixed(2)}x faster` : `${(1 / r).toFixed(2)}x slower`;
}

function table(rows) {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => String(c).padEnd(w[i])).join(' | ').trimEnd();
  return [line(rows[0]), w.map((x) => '-'.repeat(x)).join('-|-'), ...rows.slice(1).map(line)].join('\n');
}

function report(res, targets) {
  const o = res.ops;
  const hdr = ['operation', 'dm', 'restic', 'borg', 'cp -a', 'dm vs restic', 'dm vs borg', 'RSS dm', 'RSS restic', 'RSS borg', 'RSS cp', 'target', 'status'];
  const rows = [hdr];
  const T = (k) => targets[k] ? [targets[k].text, targets[k].status] : ['', ''];
  const opRow = (id, tk) => {
    const r = o[id]?.results || {};
    rows.push([o[id]?.label ?? id, cellTime(r.dm), cellTime(r.restic), cellTime(r.borg), cellTime(r.cp),
      cellRatio(ratio(r.restic, r.dm)), cellRatio(ratio(r.borg, r.dm)),
      cellRss(r.dm), cellRss(r.restic), cellRss(r.borg), cellRss(r.cp), ...(tk ? T(tk) : ['', ''])]);
  };
  opRow('first', 'first'); opRow('noop', 'noop');
  if (o['noop-attached']) {
    const r = o['noop-attached'].results.dm;
    const ra = ratio(o.noop?.results.restic, r);
    rows.push(['  same, dm attached to running Dotdesk', cellTime(r), '(as above)', '', '', cellRatio(ra), '', cellRss(r), '', '', '', ...T('noopAttached')]);
  }
  opRow('incr', 'incr'); opRow('materialise', 'materialise');
  opRow('switch-master', 'switch'); opRow('switch-back', null);
  const tn = res.tinySwitch;
  if (tn && tn.master != null) rows.push(['  same switch, 1-file dot', `${Math.max(tn.master, tn.other).toFixed(2)} s`, '—', '—', '—', '—', '—', '', '', '', '', '', '']);
  if (o.startup) { opRow('startup', null); rows[rows.length - 1][11] = '(reference, no target)'; }
  const s = res.store;
  const sb = (t) => s[t]?.error ? cellTime(s[t]) : fmtBytes(s[t]?.bytes);
  const sr = (a, b) => (s[a]?.bytes && s[b]?.bytes ? s[a].bytes / s[b].bytes : null);
  rows.push(['store size (3 snapshots)', sb('dm'), sb('restic'), sb('borg'), s.cp ? fmtBytes(s.cp.bytes) + '*' : '—',
    cellRatio(sr('dm', 'restic'), true), cellRatio(sr('dm', 'borg'), true), '', '', '', '', ...T('store')]);
  const mem = targets.memory;
  rows.push(['peak RSS dm commit/checkout', mem.value != null ? `${mem.value.toFixed(0)} MB` : '—', '', '', '', '', '', '', '', '', '', mem.text, mem.status]);
  const lines = [];
  lines.push('');
  lines.push(`=== Dotdesk bench, scale ${res.scale}: v1 ${fmtBytes(res.data.v1.total)} (PG ${fmtBytes(res.data.v1['users-db'])}, Redis ${fmtBytes(res.data.v1['clicks-db'])}, uploads ${fmtBytes(res.data.v1.uploads)}), v2 ${fmtBytes(res.data.v2.total)} ===`);
  const m = res.machine;
  if (m) lines.push(`machine: ${m.cores} cores, ${fmtBytes(m.memBytes)} RAM${m.fs ? ', ' + m.fs : ''}; new page-cache writes: ${m.pageCacheWriteMBs.toFixed(0)} MB/s (into just-freed memory: ${m.pageCacheWriteJustFreedMBs.toFixed(0)} MB/s)`);
  lines.push(table(rows));
  lines.push('');
  const cpuRows = [['CPU s (user+sys)', 'dm', 'restic', 'borg', 'cp -a', 'other processes, cpu-s (dm/restic/borg/cp)']];
  for (const id of ['first', 'noop', 'noop-attached', 'incr', 'materialise', 'switch-master', 'switch-back', 'startup']) {
    if (!o[id]) continue;
    const r = o[id]?.results || {};
    const c = (t) => (r[t] && !r[t].error && r[t].cpuSec != null ? r[t].cpuSec.toFixed(2) : '—');
    const b = (t) => (r[t] && !r[t].error && r[t].otherCpuSec != null ? r[t].otherCpuSec.toFixed(1) : '—');
    cpuRows.push([o[id]?.label ?? id, c('dm'), c('restic'), c('borg'), c('cp'), ['dm', 'restic', 'borg', 'cp'].map(b).join(' / ')]);
  }
  lines.push('');
  lines.push(table(cpuRows));
  lines.push('');
  lines.push(`restic: repository v2, --compression ${RESTIC_COMPRESSION} (default); borg: -e none, --compression ${BORG_COMPRESSION}; * cp -a store = v1 + v2 as two plain copies.`);
  lines.push(res.passes > 1 ? `Each time is the median of ${res.passes} passes (fresh repositories each pass); RSS is the max.` : 'One pass: each tool and op ran once (--repeat N for medians).');
  const anyBusy = Object.values(o).some((op) => Object.values(op.results).some(busy));
  if (anyBusy) lines.push('~ other processes on this machine used over a quarter of a core while that op ran: its wall time is inflated; compare CPU seconds too, or rerun on a quiet machine.');
  lines.push('Page caches are not dropped (not reliably possible here). Before every timed op its input (source tree or repository) is read once with cat, so every tool reads from page cache equally, and `sync` runs so no op pays for an earlier op\'s writeback.');
  const ms = res.memorySettle;
  if (ms && ms.mode !== 'none') lines.push(`Freed memory is handed back to the hypervisor here (free page reporting) and writes into it are then slower: before every timed op the bench waited until reporting had gone quiet (${ms.waits} waits, ${ms.sec.toFixed(0)} s in all${ms.mode === 'fixed' ? `, ${SETTLE_FIXED_MS / 1000} s each` : ''}${ms.timeouts ? `; ${ms.timeouts} gave up after ${SETTLE_MAX_MS / 1000} s` : ''}), and no big data is deleted between setup and the last timed op (restored trees go at the end; v2 is rsynced in place), so no tool writes into memory another step has just freed.`);
  lines.push('Materialise restores the latest state (v2) for every tool; the cp -a peer copies v2 too, so all write the same bytes. Each restore is checked with diff -r plus owner/mode/size/mtime, and PostgreSQL must start on it.');
  for (const [tool, v] of Object.entries(res.verified)) {
    lines.push(`  restore check ${tool}: ${v.ok ? 'identical' : 'DIFFERS: ' + v.problems.join('; ')}${v.pgStarts ? ', PostgreSQL starts' : ''}`);
  }
  if (res.durableWrites?.length) {
    const dw = res.durableWrites, rs = o.materialise?.results.restic?.sec;
    lines.push(`Durable write of v2's bytes on this machine (dd oflag=direct, bs=8M; median of ${dw.length}): ${median(dw.map((x) => x.durableSec)).toFixed(2)} s with conv=fsync, ${median(dw.map((x) => x.unflushedSec)).toFixed(2)} s without. dm's checkout syncs the new working directory before it becomes the working state, so a power cut never leaves it torn; restic's restore and cp -a do not flush.${rs ? ` A third of restic's restore: ${(rs / 3).toFixed(2)} s.` : ''}`);
  }
  if (res.floors?.length) {
    const f = res.floors, rs = o.materialise?.results.restic?.sec;
    lines.push(`Floor of a durable checkout of v2 (bench/pipeline-floor.mjs: its chunks decoded from memory by 2 threads and written, then synced; no pack reads, planning or metadata; median of ${f.length}): ${median(f.map((x) => x.totalSec)).toFixed(2)} s = writing ${median(f.map((x) => x.writeSec)).toFixed(2)} s + sync ${median(f.map((x) => x.syncSec)).toFixed(2)} s (passes ${f.map((x) => x.totalSec.toFixed(2)).join(', ')}).${rs ? ` A third of restic's restore: ${(rs / 3).toFixed(2)} s.` : ''}`);
  }
  // One line per distinct error, naming the ops it hit (a broken setup fails every op alike).
  const errs = new Map();
  for (const op of Object.values(o)) {
    for (const [tool, c] of Object.entries(op.results)) {
      if (!c.error) continue;
      const k = `${tool}: ${c.error}`;
      errs.set(k, [...(errs.get(k) || []), op.label]);
    }
  }
  if (errs.size) { lines.push('Errors:'); for (const [k, ops] of errs) lines.push(`  ${k}  [${ops.join(', ')}]`); }
  if (res.sideSizes.resticCache != null || res.sideSizes.borgCache != null) {
    lines.push(`Outside the repositories: restic cache ${fmtBytes(res.sideSizes.resticCache)}, borg cache ${fmtBytes(res.sideSizes.borgCache)}${res.sideSizes.dmHomeTotal != null ? `, DM_HOME total (objects + working dirs) ${fmtBytes(res.sideSizes.dmHomeTotal)}` : ''}.`);
  }
  if (res.probesMs?.length) lines.push(`CPU probe at the start of each pass (SHA-256 of 64 MiB, lower is faster): ${res.probesMs.map((x) => x.toFixed(1)).join(' / ')} ms.`);
  lines.push(`Time: data ${res.dataGenerated ? `generated in ${res.generationSec.toFixed(0)} s` : 'reused'}, benchmark ${res.benchSec.toFixed(0)} s.`);
  for (const n of res.notes) lines.push(n);
  return lines.join('\n');
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  commandTimeoutMs = opts.timeoutMin * 60 * 1000;
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.mkdirSync(opts.dir, { recursive: true });
  logFile = path.join(RESULTS_DIR, 'last.log');
  fs.writeFileSync(logFile, '');
  if (process.getuid && process.getuid() !== 0) log('warning: not root: generating the PostgreSQL data (owned by postgres) needs root');
  const needed = ['time', 'rsync', 'postgresql', 'redis'];
  if (opts.tools.includes('restic')) needed.push('restic');
  if (opts.tools.includes('borg')) needed.push('borg');
  const installed = await ensureTools(needed);
  const vers = await versions();
  const pcw = await pageCacheWriteSpeed(opts.dir);
  log(`work dir ${opts.dir}; ${os.cpus().length} cores, ${fmtBytes(os.totalmem())} RAM; new page-cache writes: ${pcw.coldMBs.toFixed(0)} MB/s (into just-freed memory: ${pcw.justFreedMBs.toFixed(0)} MB/s; free page reporting: ${reportingMode()}); ${vers.restic}; ${vers.borg}`);
  const scales = opts.scale === 'both' ? ['small', 'full'] : [opts.scale];
  const prev = {};
  for (const s of ['small', 'full']) {
    try { prev[s] = JSON.parse(fs.readFileSync(path.join(RESULTS_DIR, `last-${s}.json`), 'utf8')); } catch {}
  }
  const out = { startedAt: new Date(T0).toISOString(), machine: { cores: os.cpus().length, memBytes: os.totalmem(), fs: null, pageCacheWriteMBs: pcw.coldMBs, pageCacheWriteJustFreedMBs: pcw.justFreedMBs, freePageReporting: reportingMode() }, versions: vers, installedWithApt: installed, args: opts, scales: {} };
  out.machine.fs = await fsDescription(opts.dir);
  const reports = [];
  let dmBuild = null;
  try { const st = fs.statSync(DM_CLI); dmBuild = { cli: DM_CLI, mtimeMs: st.mtimeMs }; } catch {}
  try { if (dmBuild) dmBuild.gitHead = firstLine((await sh('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { quiet: true, allowFail: true })).stdout) || null; } catch {}
  out.dmBuild = dmBuild;
  for (const s of scales) {
    log(`=== scale ${s} ===`);
    let res;
    try {
      res = await runScale(s, opts);
    } catch (e) {
      log(`scale ${s} failed: ${e.stack || e.message}`);
      out.scales[s] = { error: String(e.message || e) };
      continue;
    }
    const otherName = s === 'small' ? 'full' : 'small';
    res.dmBuild = dmBuild;
    res.machine = out.machine;
    // The other scale's switch time only means something if it came from the same dm build.
    const prevOk = prev[otherName]?.ops && JSON.stringify(prev[otherName].dmBuild) === JSON.stringify(dmBuild);
    const other = out.scales[otherName]?.ops ? out.scales[otherName] : prevOk ? prev[otherName] : null;
    res.targets = evaluate(res, other);
    out.scales[s] = res;
    fs.writeFileSync(path.join(RESULTS_DIR, `last-${s}.json`), JSON.stringify(res, null, 2));
    const rep = report(res, res.targets);
    if (other?.ops) {
      const sw = (r) => Math.max(...['switch-master', 'switch-back'].map((id) => r.ops[id]?.results.dm?.sec ?? NaN));
      const a = sw(res), b = sw(other);
      const from = out.scales[otherName]?.ops ? 'this run' : `bench/results/last-${otherName}.json, same dm build`;
      reports.push(rep + (Number.isFinite(a) && Number.isFinite(b) ? `\nBranch switch across scales: ${s} ${a.toFixed(2)} s on ${fmtBytes(res.data.v2.total)} vs ${otherName} ${b.toFixed(2)} s on ${fmtBytes(other.data.v2.total)} (${from}).` : ''));
    } else reports.push(rep);
  }
  out.totalSec = (Date.now() - T0) / 1000;
  fs.writeFileSync(path.join(RESULTS_DIR, 'last.json'), JSON.stringify(out, null, 2));
  for (const r of reports) console.log(r);
  console.log(`\nTotal wall time ${out.totalSec.toFixed(0)} s (${(out.totalSec / 60).toFixed(1)} min). Results: ${path.relative(ROOT, path.join(RESULTS_DIR, 'last.json'))}; command log: ${path.relative(ROOT, logFile)}.`);
  if (Object.values(out.scales).some((s) => s.error)) process.exitCode = 1;
}

main().catch((e) => {
  // Usage errors get one line; anything else is a harness bug and keeps its stack.
  console.error(e.usage ? `bench: ${e.message}` : e.stack || e.message);
  process.exit(e.usage ? 2 : 1);
});
