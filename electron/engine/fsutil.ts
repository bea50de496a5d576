import * as fs from 'node:fs';
import { promises as fsp, constants as C } from 'node:fs';
import * as path from 'node:path';
import type * as ChildProcess from 'node:child_process';
import { randomHex } from './digest';
import { crashPoint } from './crash';
import { DmError } from '../contract/errors';

/*
 * Why the small metadata calls here are synchronous: each promise-based call is a round trip
 * through libuv's thread pool, 66-300 us on the bench machine against a few microseconds for the
 * call itself, and a no-op commit made 97 of them one after another. Only fsync, which waits for
 * the disk, still runs in the pool (see fsyncFd).
 */

/** True when the path exists (lstat, does not follow symlinks). */
export async function exists(p: string): Promise<boolean> {
  try { fs.lstatSync(p); return true; } catch (e) { if (isNotFound(e)) return false; throw e; }
}

/** fsync of an open descriptor, in the thread pool (it waits for the disk). */
export function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (e) => (e ? reject(e) : resolve())));
}

/**
 * Removes a directory tree (nothing when it is gone). Why not fsp.rm alone: Node's recursive rm
 * builds absolute paths, and a tree deeper than PATH_MAX (an app can make one; an uncommittable
 * working state can hold one) fails with ENAMETOOLONG; rm(1) walks with openat and removes it.
 * A folder its owner may not write or list (a read-only folder a commit recorded, mode 0555 or
 * 0000, checked out by a user who is not root) is given u+rwx first; a tree of another user
 * fails with PERMISSION_DENIED.
 */
export async function removeTree(dir: string): Promise<void> {
  try { await rmTree(dir); return; } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code !== 'EACCES' && code !== 'EPERM') || process.platform === 'win32') throw e;
  }
  // chmod -R changes a folder before it lists it, and ignores the symlinks it meets inside.
  await runTool('chmod', ['-R', 'u+rwx', '--', dir]).catch(() => { /* what it could not change, rm reports */ });
  try { await rmTree(dir); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw permissionDenied('remove', (e as NodeJS.ErrnoException).path ?? dir);
    throw e;
  }
}

async function rmTree(dir: string): Promise<void> {
  try { await fsp.rm(dir, { recursive: true, force: true }); return; } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENAMETOOLONG' || process.platform === 'win32') throw e;
  }
  await runTool('rm', ['-rf', '--', dir]);
}

/**
 * Runs a system tool; its error carries the tool's stderr. Why child_process is required here
 * and not imported: it loads net, dgram and the stream modules at every dm command's start, while
 * only a rare fallback runs a tool (a no-op commit of the bench's v1: 0.185 against 0.169 CPU-s).
 */
function runTool(cmd: string, args: string[]): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { execFile } = require('node:child_process') as typeof ChildProcess;
  return new Promise<void>((resolve, reject) => execFile(cmd, args, (err, _out, stderr) => (err ? reject(new Error(`${cmd} ${args.at(-1)}: ${stderr.trim() || err.message}`)) : resolve())));
}

/**
 * The PERMISSION_DENIED error for a path this process may not read or remove (inside `inDir`,
 * when given), naming its owner and mode when lstat can see them.
 */
export function permissionDenied(verb: 'read' | 'remove', p: string | undefined, inDir?: string): DmError {
  const rel = p && inDir && p.startsWith(inDir + '/') ? p.slice(inDir.length + 1) : p;
  const where = rel ? (inDir && rel !== p ? `${rel} in ${inDir}` : rel) : `a file in ${inDir ?? 'the store'}`;
  const me = typeof process.getuid === 'function' ? process.getuid() : undefined;
  let owner = '';
  let mine = false;
  try {
    const st = p ? fs.lstatSync(p) : undefined;
    if (st) { owner = ` (owner uid ${st.uid}, gid ${st.gid}, mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`; mine = st.uid === me; }
  } catch { /* the owner is only a help */ }
  const hint = mine
    ? `It is yours but not ${verb === 'read' ? 'readable' : 'writable'}: chmod -R u+rwX "${p}".`
    : `Files a container wrote as another user need dm to run as root (sudo dm ...), as the Docker volume driver does${verb === 'read' ? ', or to be made readable (chmod -R a+rX)' : ''}.`;
  return new DmError('PERMISSION_DENIED', `Dotdesk (running as ${me === undefined ? 'this user' : `uid ${me}`}) may not ${verb} ${where}${owner}.`, hint, p ? { path: p } : undefined);
}

/** True for ENOENT/ENOTDIR errors. */
export function isNotFound(e: unknown): boolean {
  const c = (e as NodeJS.ErrnoException)?.code;
  return c === 'ENOENT' || c === 'ENOTDIR';
}

/** fsyncs a directory so that renames and creations inside it are durable. */
export async function fsyncDir(dir: string): Promise<void> {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, C.O_RDONLY | C.O_DIRECTORY);
    await fsyncFd(fd);
  } catch (e) {
    // Why: some filesystems refuse fsync on directories (EINVAL); durability is best effort there.
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL' && (e as NodeJS.ErrnoException).code !== 'EISDIR') throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** A unique temporary name next to `target` (same directory, so rename is atomic). */
export function tmpNameFor(target: string): string {
  return path.join(path.dirname(target), `.tmp-${path.basename(target)}-${process.pid}-${randomHex(4)}`);
}

/**
 * Writes a file atomically: temp -> fsync -> rename -> fsync dir.
 * Why: a reader (or a crash) never sees a half-written file under its final name.
 */
export async function atomicWrite(target: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = tmpNameFor(target);
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.writeFileSync(fd, data);
    crashPoint('atomicWrite:written ' + path.basename(target));
    await fsyncFd(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, target);
    crashPoint('atomicWrite:renamed ' + path.basename(target));
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  await fsyncDir(path.dirname(target));
}

/** Appends one line durably (used for reflogs and the operation log). */
export async function appendLine(file: string, line: string): Promise<void> {
  const fd = fs.openSync(file, 'a', 0o644);
  try {
    crashPoint('appendLine ' + path.basename(file));
    fs.writeSync(fd, line.endsWith('\n') ? line : line + '\n');
    await fsyncFd(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads a file as UTF-8, or returns undefined when it does not exist. */
export async function readIfExists(p: string): Promise<string | undefined> {
  try { return fs.readFileSync(p, 'utf8'); } catch (e) { if (isNotFound(e)) return undefined; throw e; }
}

/** Atomically points symlink `link` at `target` (create temp link, rename over). */
export async function atomicSymlink(target: string, link: string): Promise<void> {
  const tmp = tmpNameFor(link);
  await fsp.symlink(target, tmp);
  crashPoint('atomicSymlink ' + path.basename(link));
  try {
    await fsp.rename(tmp, link);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(path.dirname(link));
}

/** A directory's names, or none when it cannot be read. */
export function readdirOrEmpty(dir: string): string[] {
  try { return fs.readdirSync(dir); } catch { return []; }
}

/** mkdir -p. */
export async function mkdirp(p: string, mode?: number): Promise<void> {
  fs.mkdirSync(p, { recursive: true, mode });
}
