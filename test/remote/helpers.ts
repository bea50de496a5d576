/** Helpers for the remote tests: a real hub process, dm processes on separate stores, raw HTTP. */
import { spawn, ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as http from 'node:http';
import { randomBytes } from 'node:crypto';

/** Project root (dist/test/remote -> ../../..). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
/** The dm command as users run it (bin/dm, which runs the built CLI in dist/). */
const DM = path.join(ROOT, 'bin', 'dm');
const HUB = path.join(ROOT, 'dist', 'hub', 'main.js');

const made: string[] = [];
// Why at exit: hubs and stores of a file are used across its tests; each test file is its own
// process, so its directories go when it ends (hubs were stopped by then, in after()).
process.on('exit', () => { for (const d of made) rmSync(d, { recursive: true, force: true }); });

/** A fresh temporary directory, removed when the test process exits. */
export function tmp(prefix = 'dm-remote-'): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}

/** A hub running as a child process on 127.0.0.1 with a random port. */
export interface Hub { port: number; url: string; data: string; proc: ChildProcess; log: () => string; stop: () => Promise<void> }

/** Starts a hub process and waits until it listens. */
export async function startHub(data = path.join(tmp('dm-hub-'), 'hub'), args: string[] = []): Promise<Hub> {
  const proc = spawn(process.execPath, [HUB, '--data', data, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c) => (out += c));
  proc.stderr!.on('data', (c) => (out += c));
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('hub did not start: ' + out)), 15_000);
    const check = () => { const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out); if (m) { clearTimeout(t); resolve(Number(m[1])); } };
    proc.stdout!.on('data', check);
    proc.on('exit', (c) => reject(new Error(`hub exited ${c}: ${out}`)));
  });
  return {
    port, url: `http://127.0.0.1:${port}`, data, proc, log: () => out,
    stop: () => new Promise((r) => { if (proc.exitCode !== null) return r(); proc.once('exit', () => r()); proc.kill('SIGTERM'); }),
  };
}

/** Result of a raw HTTP request. */
export interface Resp { status: number; body: Buffer; json: any }

/** A raw HTTP request to the hub (for hostile requests and permission checks). */
export function request(port: number, method: string, p: string, opts: { key?: string; body?: Buffer | string; headers?: Record<string, string> } = {}): Promise<Resp> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
    const req = http.request({ host: '127.0.0.1', port, method, path: p, agent: false, headers: { ...(opts.key ? { Authorization: `Bearer ${opts.key}` } : {}), ...(body ? { 'Content-Length': String(body.length) } : {}), ...(opts.headers ?? {}) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => { const b = Buffer.concat(parts); let j: any; try { j = JSON.parse(b.toString('utf8')); } catch { j = undefined; } resolve({ status: res.statusCode ?? 0, body: b, json: j }); });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

/** Creates a hub user through the sign-up API; returns the API key. */
export async function signup(hub: Hub, user: string): Promise<string> {
  const r = await request(hub.port, 'POST', '/api/v1/users', { body: JSON.stringify({ user, password: 'password-' + user }), headers: { 'Content-Type': 'application/json' } });
  if (r.status !== 201) throw new Error(`signup ${user}: ${r.status} ${r.body}`);
  return r.json.apiKey;
}

/** Result of a dm process. */
export interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; json: any }

/** Runs dm on a store (DM_HOME) as a child process. */
export function dm(home: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(DM, args, { env: { ...process.env, DM_HOME: home, DM_DOCKER: '0', DM_DEBUG: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('error', reject);
    p.on('close', (code, signal) => { let json: any; try { json = JSON.parse(stdout); } catch { json = undefined; } resolve({ code, signal, stdout, stderr, json }); });
  });
}

/** Runs dm and fails the test unless it exits 0. */
export async function dmOk(home: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const r = await dm(home, args, env);
  if (r.code !== 0) throw new Error(`dm ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Writes a file into a subdot of a dot (creating the subdot), via "dm dot path". */
export async function writeData(home: string, dot: string, subdot: string, file: string, data: Buffer | string): Promise<void> {
  const dir = (await dmOk(home, ['dot', 'path', dot, subdot])).stdout.trim();
  await fsp.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
  await fsp.writeFile(path.join(dir, file), data);
}

/** Reads a file of a subdot of the current branch. */
export async function readData(home: string, dot: string, subdot: string, file: string): Promise<Buffer> {
  const dir = (await dmOk(home, ['dot', 'path', dot, subdot])).stdout.trim();
  return fsp.readFile(path.join(dir, file));
}

/** Random (incompressible) bytes. */
export function random(n: number): Buffer { return randomBytes(n); }

/** Every file under a directory with its size (to show that a refused request changed nothing). */
export async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await fsp.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(`${path.relative(dir, p)} ${(await fsp.stat(p)).size}`);
    }
  };
  await walk(dir);
  return out.sort();
}

/** A store with a remote "hub" for `user` (`env` applies when the store is made: DM_HASH). */
export async function storeWithRemote(hub: Hub, key: string, user: string, env: Record<string, string> = {}): Promise<string> {
  const home = path.join(tmp('dm-store-'), 'store');
  await dmOk(home, ['remote', 'add', 'hub', `${user}@127.0.0.1:${hub.port}`], { DM_API_KEY: key, ...env });
  return home;
}
