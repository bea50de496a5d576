import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync, SpawnOptions } from 'node:child_process';
import * as net from 'node:net';

/** Repository root (tests run from dist/test/...). */
export const ROOT = path.resolve(__dirname, '..', '..');
/** The dm launcher. */
export const DM = path.join(ROOT, 'bin', 'dm');

/** A temporary directory (mode 0755 so database users can traverse it). */
export async function tmpDir(prefix: string): Promise<string> {
  const d = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  await fsp.chmod(d, 0o755);
  return d;
}

/** Runs dm synchronously with a store; returns status, stdout, stderr. */
export function dm(home: string, args: string[], opts: { env?: Record<string, string>; input?: string } = {}): { code: number; out: string; err: string } {
  const r = spawnSync(DM, args, { env: { ...process.env, DM_HOME: home, DM_AUTHOR: 'tester', ...opts.env }, encoding: 'utf8', input: opts.input, timeout: 300_000 });
  return { code: r.status ?? (r.signal ? 128 : 1), out: r.stdout, err: r.stderr };
}

/** Runs dm and fails the test with its stderr when it does not exit 0. */
export function dmOk(home: string, args: string[], env?: Record<string, string>): string {
  const r = dm(home, args, { env });
  if (r.code !== 0) throw new Error(`dm ${args.join(' ')} exited ${r.code}: ${r.err}`);
  return r.out;
}

/** Runs a command; throws with its output on failure. */
export function sh(cmd: string, args: string[], opts: SpawnOptions & { input?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, ...opts } as any);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return String(r.stdout);
}

/** True when a command exists. */
export function hasCommand(c: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${c}`]).status === 0;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

export { spawn };

/**
 * Counts fdatasync calls made through any FileHandle (fs.promises) until restore() is called.
 * `dir` is a writable directory for the probe file that reaches FileHandle's prototype.
 */
export async function countDatasyncs(dir: string): Promise<{ count(): number; restore(): void }> {
  const probePath = path.join(dir, '.datasync-probe');
  const probe = await fsp.open(probePath, 'w');
  const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
  await probe.close();
  await fsp.rm(probePath);
  const datasync = proto.datasync;
  let calls = 0;
  proto.datasync = function (this: unknown) { calls++; return datasync.call(this); };
  return { count: () => calls, restore: () => { proto.datasync = datasync; } };
}
