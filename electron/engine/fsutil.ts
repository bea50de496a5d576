import { promises as fsp, constants as C } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { crashPoint } from './crash';

/** True when the path exists (lstat, does not follow symlinks). */
export async function exists(p: string): Promise<boolean> {
  try { await fsp.lstat(p); return true; } catch (e) { if (isNotFound(e)) return false; throw e; }
}

/** True for ENOENT/ENOTDIR errors. */
export function isNotFound(e: unknown): boolean {
  const c = (e as NodeJS.ErrnoException)?.code;
  return c === 'ENOENT' || c === 'ENOTDIR';
}

/** fsyncs a directory so that renames and creations inside it are durable. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await fsp.open(dir, C.O_RDONLY | C.O_DIRECTORY);
    await fh.sync();
  } catch (e) {
    // Why: some filesystems refuse fsync on directories (EINVAL); durability is best effort there.
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL' && (e as NodeJS.ErrnoException).code !== 'EISDIR') throw e;
  } finally {
    await fh?.close();
  }
}

/** A unique temporary name next to `target` (same directory, so rename is atomic). */
export function tmpNameFor(target: string): string {
  return path.join(path.dirname(target), `.tmp-${path.basename(target)}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Writes a file atomically: temp -> fsync -> rename -> fsync dir.
 * Why: a reader (or a crash) never sees a half-written file under its final name.
 */
export async function atomicWrite(target: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = tmpNameFor(target);
  const fh = await fsp.open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    crashPoint('atomicWrite:written ' + path.basename(target));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fsp.rename(tmp, target);
    crashPoint('atomicWrite:renamed ' + path.basename(target));
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(path.dirname(target));
}

/** Appends one line durably (used for reflogs and the operation log). */
export async function appendLine(file: string, line: string): Promise<void> {
  const fh = await fsp.open(file, 'a', 0o644);
  try {
    crashPoint('appendLine ' + path.basename(file));
    await fh.write(line.endsWith('\n') ? line : line + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Reads a file as UTF-8, or returns undefined when it does not exist. */
export async function readIfExists(p: string): Promise<string | undefined> {
  try { return await fsp.readFile(p, 'utf8'); } catch (e) { if (isNotFound(e)) return undefined; throw e; }
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

/** mkdir -p. */
export async function mkdirp(p: string, mode?: number): Promise<void> {
  await fsp.mkdir(p, { recursive: true, mode });
}
