import * as fs from 'node:fs';
import * as path from 'node:path';
import { blake3Keyed } from './blake3';

interface DmfsAddon {
  lutimesNs(p: string, atimeNs: bigint, mtimeNs: bigint): void;
  futimesNs?(fd: number, atimeNs: bigint, mtimeNs: bigint): void;
  copyBytes?(target: Uint8Array, targetStart: number, source: Uint8Array): void;
  allocate?(fd: number, offset: number, length: number): boolean;
  /** A directory's sorted entries with their lstat (see scan_dir in native/dmfs.c). */
  scanDir?: ScanFn;
  blake3?(key: Uint8Array, data: Uint8Array, out: Uint8Array, outStart: number): void;
  /** syncfs(2) of the filesystem holding the path, on the thread pool (Linux). */
  syncFs?(p: string): Promise<void>;
}

/** The addon's directory scan: names and strs are joined with "/"; `bad` is a name that is not UTF-8. */
export type ScanFn = (dir: string) => { names: string; nums: Float64Array; strs: string } | { bad: Buffer };

let addon: DmfsAddon | null | undefined;

/** Finds the project root (the folder with binding.gyp) above this file. */
function projectRoot(): string | undefined {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'binding.gyp'))) return dir;
    dir = path.dirname(dir);
  }
  return undefined;
}

/** The native helper when it was built (npm install runs node-gyp), else null. */
export function dmfs(): DmfsAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  // DM_NATIVE_ADDON=none: run without it (tests of the fallbacks).
  if (process.env.DM_NATIVE_ADDON === 'none') return addon;
  const candidates = [process.env.DM_NATIVE_ADDON, projectRoot() && path.join(projectRoot()!, 'build', 'Release', 'dmfs.node'), (process as any).resourcesPath && path.join((process as any).resourcesPath, 'dmfs.node')];
  for (const c of candidates) {
    if (c && fs.existsSync(c)) {
      // Native addons can only be loaded with require().
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      try { addon = require(c) as DmfsAddon; break; } catch { /* try the next one */ }
    }
  }
  return addon;
}

/**
 * Sets atime/mtime with nanosecond precision without following symlinks.
 * Why sync: a single metadata syscall of a few microseconds; an async hop would cost more than the call.
 */
export async function setTimesNs(p: string, atimeNs: bigint, mtimeNs: bigint): Promise<void> {
  const a = dmfs();
  if (a) { a.lutimesNs(p, atimeNs, mtimeNs); return; }
  // Fallback without the addon: microsecond-ish precision through Node's double seconds.
  await fs.promises.lutimes(p, Number(atimeNs) / 1e9, Number(mtimeNs) / 1e9);
}

/** setTimesNs() on an open file (synchronous: it runs in a chunk worker, between other calls on the descriptor). */
export function setFdTimesNsSync(fd: number, atimeNs: bigint, mtimeNs: bigint): void {
  const a = dmfs();
  if (a?.futimesNs) { a.futimesNs(fd, atimeNs, mtimeNs); return; }
  fs.futimesSync(fd, Number(atimeNs) / 1e9, Number(mtimeNs) / 1e9);
}

/**
 * Copies `source` into `target` at `targetStart` with the native helper's plain memmove, else
 * with Buffer#copy. Why: from shared memory (the chunk workers' blocks) Buffer#copy is V8's
 * slower relaxed memmove.
 */
export function copyBytes(target: Buffer, targetStart: number, source: Buffer): void {
  const a = dmfs();
  if (a?.copyBytes) a.copyBytes(target, targetStart, source);
  else source.copy(target, targetStart);
}

/**
 * Reserves the blocks of a byte range of an open file, which grows to cover it (fallocate).
 * Returns false, having done nothing, without the addon or where the filesystem cannot.
 * Throws what fallocate says otherwise (ENOSPC: the data would not fit).
 */
export function allocate(fd: number, offset: number, length: number): boolean {
  const a = dmfs();
  return a?.allocate ? a.allocate(fd, offset, length) : false;
}

/**
 * Writes the keyed BLAKE3 hash of `data` to out[outStart, +32): with the native helper (AVX-512
 * or AVX2 where the CPU has them, 7.1 GB/s per core here), else in TypeScript (blake3.ts).
 */
export function blake3(key: Uint8Array, data: Uint8Array, out: Uint8Array, outStart: number): void {
  const a = dmfs();
  if (a?.blake3) a.blake3(key, data, out, outStart);
  else blake3Keyed(key, data, out, outStart);
}

/**
 * Makes everything under `dir` durable: its files' data, their names and the directories
 * themselves. With the native helper one syncfs(2) of the filesystem; without it, an fsync of
 * every file and directory under `dir` (a few at a time).
 */
export async function syncTree(dir: string): Promise<void> {
  const a = dmfs();
  if (a?.syncFs) { await a.syncFs(dir); return; }
  const paths: { p: string; dir: boolean }[] = [];
  const walk = (d: string): void => {
    paths.push({ p: d, dir: true });
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (e.isFile()) paths.push({ p: path.join(d, e.name), dir: false });
    }
  };
  walk(dir);
  let next = 0;
  const one = async (): Promise<void> => {
    while (next < paths.length) {
      const { p, dir: isDir } = paths[next++];
      try {
        const h = await fs.promises.open(p, 'r');
        try { await h.sync(); } finally { await h.close(); }
      } catch (e) {
        // Why only files must sync: Windows cannot open a directory, nor fsync one.
        if (!isDir) throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, paths.length) }, one));
}
