/** Helpers shared by the Docker tests: protocol calls over a unix socket, commands, skips. */
import * as http from 'node:http';
import * as path from 'node:path';
import { spawn, spawnSync, execFile, ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const pexec = promisify(execFile);

/** POSTs one plugin-protocol call to a unix socket; returns HTTP status and parsed JSON body. */
export function pluginCall(socket: string, method: string, body?: unknown): Promise<{ status: number; json: any; contentType?: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request({ socketPath: socket, path: method, method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => {
        const s = Buffer.concat(parts).toString('utf8');
        let json: any;
        try { json = JSON.parse(s); } catch { json = s; }
        resolve({ status: res.statusCode ?? 0, json, contentType: res.headers['content-type'] });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** Why Docker tests cannot run here, or null when a daemon answers. */
export function dockerSkipReason(): string | null {
  const r = spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 });
  if (r.error) return 'docker is not installed (run scripts/ensure-docker.sh)';
  if (r.status !== 0) return 'docker info failed: no Docker engine answers (run scripts/ensure-docker.sh)';
  return null;
}

/** True when a local image exists. */
export function hasImage(ref: string): boolean {
  return spawnSync('docker', ['image', 'inspect', ref], { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

/** Runs a command; resolves with stdout/stderr, rejects with both in the message. */
export async function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeout?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  try {
    return await pexec(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, timeout: opts.timeout ?? 120_000, maxBuffer: 32 << 20 });
  } catch (e: any) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${e.code}): ${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
}

/**
 * Waits until `fn` returns a truthy value (polling), or throws after `ms`. Each attempt is raced
 * against the deadline, so an attempt that never settles cannot hang the test.
 */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 30_000, every = 200): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    try {
      const v = await Promise.race([fn(), new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error('attempt did not finish')), Math.max(1, Math.min(10_000, end - Date.now()))); }) /* one hung attempt cannot use up the whole wait */]);
      if (v) return v;
    } catch (e) { last = e; } finally { clearTimeout(timer); }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ': ' + (last as Error).message : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/**
 * One HTTP request with a hard timeout (node:http, a fresh connection each time). Why not fetch:
 * a fetch to a port Docker publishes before the app listens was seen never settling here.
 */
export function httpRequest(url: string, opts: { method?: string; body?: Buffer | string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: { ...(opts.headers ?? {}), Connection: 'close' }, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 15_000, () => req.destroy(new Error(`${opts.method ?? 'GET'} ${url}: no answer within ${opts.timeoutMs ?? 15_000} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The repository root (this file runs from dist/test/docker). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
/** The compiled dm CLI. */
export const DM_CLI = path.join(ROOT, 'dist', 'electron', 'cli', 'main.js');

/** A `dm serve` child process on the real plugin socket (so dockerd finds driver "dm"). */
export interface ServeProc { proc: ChildProcess; output: () => string; stop(signal?: NodeJS.Signals): Promise<number | null> }

/** Starts `dm serve -v` with the given environment and waits until it listens. */
export async function startServeProc(env: NodeJS.ProcessEnv): Promise<ServeProc> {
  const proc = spawn(process.execPath, [DM_CLI, 'serve', '-v'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c) => { out += c; });
  proc.stderr!.on('data', (c) => { out += c; });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  await Promise.race([
    waitFor('dm serve to listen', async () => out.includes('listening on'), 15_000, 50),
    exited.then((code) => { throw new Error(`dm serve exited (${code}):\n${out}`); }),
  ]);
  return {
    proc, output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') { if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal); return exited; },
  };
}

/**
 * Waits (up to `ms`) until no other dm volume driver answers on the real socket: another test
 * file or helper may be using it. Returns false when it is still taken.
 */
export async function waitSocketFree(socket: string, ms = 180_000): Promise<boolean> {
  const { probeSocket } = await import('../../electron/docker/plugin');
  const end = Date.now() + ms;
  let said = false;
  for (;;) {
    if ((await probeSocket(socket).catch(() => 'absent')) !== 'live') return true;
    if (Date.now() > end) return false;
    if (!said) { said = true; process.stderr.write(`# another dm volume driver serves ${socket}; waiting up to ${ms / 1000} s for it to stop\n`); }
    await new Promise((r) => setTimeout(r, 500));
  }
}
