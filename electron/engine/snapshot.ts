import { promises as fsp, BigIntStats } from 'node:fs';
import * as path from 'node:path';
import { DmError } from '../contract/errors';
import { ObjectStore, objectId } from './objects';
import { Tree, TreeEntry, SubdotRoot, encodeTree } from './model';

/** What we knew about a file when we last read it: if its stat is unchanged, its chunks are too. */
export interface StatCacheEntry { size: number; mtime: string; ctime: string; ino: string; mode: number; uid: number; gid: number; chunks: string[] }
/** Path (relative to the subdot root) -> cache entry. Rebuildable: losing it only costs re-reading. */
export type StatCache = Map<string, StatCacheEntry>;

/** Progress of a long operation (commit, checkout, transfer). */
export interface Progress { phase: string; doneBytes: number; totalBytes?: number; doneFiles?: number; totalFiles?: number; subdot?: string }
/** Receives progress updates. */
export type ProgressFn = (p: Progress) => void;

/** Options for snapshotDir. */
export interface SnapshotOptions {
  chunkSize: number;
  /** When set, new chunks and trees are written to it; when null, only ids are computed (status/diff). */
  store: ObjectStore | null;
  cache?: StatCache;
  /** Files modified at or after this time (ns) are not cached: they could change again within the same clock tick. */
  racyAfterNs?: bigint;
  onBytes?: (n: number, file: string) => void;
}

/** The result of reading one subdot directory. */
export interface SnapshotResult {
  root: SubdotRoot;
  /** Trees built by this snapshot (id -> bytes); with store=null they exist only here. */
  trees: Map<string, Buffer>;
  cache: StatCache;
  /** Files read (not served by the stat cache) and their bytes. */
  readFiles: number;
  readBytes: number;
  skipped: string[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** How many chunk writes may be in flight at once (bounds memory: chunks are small). */
const MAX_INFLIGHT = 64;

/** Converts lstat results to our metadata fields. */
export function metaOf(st: BigIntStats): { mode: number; uid: number; gid: number; mtime: string } {
  return { mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), mtime: st.mtimeNs.toString() };
}

/** True when a stat matches a cache entry exactly (size, mtime, ctime, inode, mode, owner). */
export function cacheHit(e: StatCacheEntry | undefined, st: BigIntStats): boolean {
  return !!e && e.size === Number(st.size) && e.mtime === st.mtimeNs.toString() && e.ctime === st.ctimeNs.toString() && e.ino === st.ino.toString()
    && e.mode === Number(st.mode & 0o7777n) && e.uid === Number(st.uid) && e.gid === Number(st.gid);
}

/** Names of a directory, sorted bytewise; refuses names that are not valid UTF-8 instead of mangling them. */
async function sortedNames(dir: string): Promise<string[]> {
  const raw = await fsp.readdir(dir, { encoding: 'buffer' });
  const names = raw.map((b) => {
    try { return utf8.decode(b); } catch {
      throw new DmError('UNSUPPORTED_FILE', `A file name in ${dir} is not valid UTF-8 (${b.toString('hex')}).`, 'Rename the file; Dotdesk stores UTF-8 names only.');
    }
  });
  return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Reads a subdot directory into tree objects (one per directory) and chunk lists.
 * Files whose stat matches the cache are not read again (like git's index).
 */
export async function snapshotDir(rootDir: string, opts: SnapshotOptions): Promise<SnapshotResult> {
  const { chunkSize, store } = opts;
  const oldCache = opts.cache ?? new Map();
  const cache: StatCache = new Map();
  const trees = new Map<string, Buffer>();
  const inodes = new Map<string, string>();
  const skipped: string[] = [];
  const inflight: Promise<unknown>[] = [];
  let readFiles = 0, readBytes = 0, files = 0, bytes = 0;

  const putChunk = async (data: Buffer): Promise<string> => {
    const id = objectId('chunk', data);
    if (store && !store.has(id)) {
      inflight.push(store.put('chunk', data, id));
      if (inflight.length >= MAX_INFLIGHT) await Promise.all(inflight.splice(0, inflight.length / 2));
    }
    return id;
  };

  const readFile = async (abs: string, rel: string, size: number): Promise<string[]> => {
    const chunks: string[] = [];
    const fh = await fsp.open(abs, 'r');
    try {
      const block = Math.max(chunkSize, Math.floor((1024 * 1024) / chunkSize) * chunkSize);
      let pos = 0;
      for (;;) {
        // Why a new buffer per block: chunks are handed to async compression and must not be overwritten.
        const buf = Buffer.allocUnsafe(block);
        const { bytesRead } = await fh.read(buf, 0, block, pos);
        if (bytesRead === 0) break;
        for (let o = 0; o < bytesRead; o += chunkSize) chunks.push(await putChunk(buf.subarray(o, Math.min(o + chunkSize, bytesRead))));
        pos += bytesRead;
        opts.onBytes?.(bytesRead, rel);
        if (bytesRead < block && pos >= size) break;
      }
      readBytes += pos;
    } finally {
      await fh.close();
    }
    readFiles++;
    return chunks;
  };

  const putTree = async (t: Tree): Promise<string> => {
    const buf = encodeTree(t);
    const id = objectId('tree', buf);
    trees.set(id, buf);
    if (store) await store.put('tree', buf, id);
    return id;
  };

  const walk = async (absDir: string, relDir: string): Promise<string> => {
    const entries: TreeEntry[] = [];
    for (const name of await sortedNames(absDir)) {
      const abs = path.join(absDir, name);
      const rel = relDir ? relDir + '/' + name : name;
      let st: BigIntStats;
      try { st = await fsp.lstat(abs, { bigint: true }); } catch (e) { if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; throw e; }
      const meta = metaOf(st);
      if (st.isDirectory()) {
        entries.push({ name, type: 'dir', ...meta, tree: await walk(abs, rel) });
      } else if (st.isSymbolicLink()) {
        entries.push({ name, type: 'symlink', ...meta, target: await fsp.readlink(abs) });
      } else if (st.isFile()) {
        if (st.nlink > 1n) {
          const key = `${st.dev}:${st.ino}`;
          const first = inodes.get(key);
          if (first !== undefined) { entries.push({ name, type: 'hardlink', link: first }); continue; }
          inodes.set(key, rel);
        }
        const size = Number(st.size);
        const old = oldCache.get(rel);
        let chunks: string[];
        if (cacheHit(old, st)) chunks = old!.chunks;
        else {
          chunks = await readFile(abs, rel, size);
          const after = await fsp.lstat(abs, { bigint: true });
          // Why: a file that changed while we read it may be torn; record it but never trust the cache for it.
          if (!cacheHit({ size, ...meta, ctime: st.ctimeNs.toString(), ino: st.ino.toString(), chunks }, after)) { files++; bytes += size; entries.push({ name, type: 'file', ...meta, size, chunks }); continue; }
        }
        const racy = opts.racyAfterNs !== undefined && st.mtimeNs >= opts.racyAfterNs;
        if (!racy) cache.set(rel, { size, ...meta, ctime: st.ctimeNs.toString(), ino: st.ino.toString(), chunks });
        files++;
        bytes += size;
        entries.push({ name, type: 'file', ...meta, size, chunks });
      } else if (st.isFIFO()) {
        entries.push({ name, type: 'fifo', ...meta });
      } else {
        // Sockets and device nodes are runtime objects, not data: skipped and reported.
        skipped.push(rel);
      }
    }
    return putTree({ v: 1, entries });
  };

  const rootSt = await fsp.lstat(rootDir, { bigint: true });
  if (!rootSt.isDirectory()) throw new DmError('UNSUPPORTED_FILE', `${rootDir} is not a directory.`);
  const tree = await walk(rootDir, '');
  await Promise.all(inflight);
  return { root: { ...metaOf(rootSt), tree, files, bytes }, trees, cache, readFiles, readBytes, skipped };
}

/** Serializes a stat cache for disk. */
export function encodeCache(c: StatCache): string {
  return JSON.stringify({ v: 1, entries: [...c] });
}

/** Parses a stat cache; a damaged cache is simply empty (it is rebuildable). */
export function decodeCache(s: string | undefined): StatCache {
  if (!s) return new Map();
  try {
    const j = JSON.parse(s);
    if (j.v !== 1 || !Array.isArray(j.entries)) return new Map();
    return new Map(j.entries);
  } catch { return new Map(); }
}
