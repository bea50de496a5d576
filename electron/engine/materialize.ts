import { promises as fsp, BigIntStats } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ObjectStore, objectId } from './objects';
import { SubdotRoot, Tree, TreeEntry, Meta, decodeTree, safeRelPath } from './model';
import { cacheHit, entryStat } from './snapshot';
import { StatCache, StatCacheEntry } from './stat-cache';
import { setTimesNs } from './native';
import { DmError } from '../contract/errors';
import { crashPoint } from './crash';
import { openDirect } from './direct-io';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
/** Bytes of consecutive chunks read and written together (one pread, one write). */
const RUN_BYTES = 2 * 1024 * 1024;
/** Runs in flight per file (decompressed, verified and written by the worker pool). */
const RUN_WINDOW = 4;
/** Runs in flight in all, whatever the number of files (bounds the workers' buffers: RUN_BYTES each). */
const RUN_LIMIT = 16;
/**
 * Files written at once. Small files are a chain of metadata calls each (create, truncate,
 * close, chown, chmod, times), so more files at once keep the workers busier: checkout -b of
 * the 1.85 GiB bench state, alternating, 12 files 4.09-4.71 s against 4 files 4.27-5.20 s
 * (medians 4.50 and 4.85; DM_FILE_WINDOW to try others). 16 and 32 did not do better: creating
 * files in one directory spins on its lock.
 */
const FILE_WINDOW = Number(process.env.DM_FILE_WINDOW) || 12;
/** Files at least this big are also opened with O_DIRECT (direct-io.ts) for their aligned runs. */
const DIRECT_MIN = 1024 * 1024;

/** Loads trees: from a snapshot's in-memory map first, then the store. */
export type TreeLoader = (id: string) => Promise<Tree>;

/** A TreeLoader over a store (and optional in-memory trees from a dry-run snapshot). */
export function treeLoader(store: ObjectStore, extra?: Map<string, Buffer>): TreeLoader {
  return async (id) => decodeTree(extra?.get(id) ?? (await store.get(id)), id);
}

/** Where unchanged files can be taken from instead of being written again. */
export interface ReuseSource { dir: string; cache: StatCache }

/** Options for materialize. */
export interface MaterializeOptions {
  chunkSize: number;
  reuse?: ReuseSource;
  onBytes?: (n: number) => void;
}

async function applyMeta(p: string, m: Meta, isLink = false): Promise<void> {
  if (isRoot) await fsp.lchown(p, m.uid, m.gid);
  if (!isLink) await fsp.chmod(p, m.mode);
  const ns = BigInt(m.mtime);
  await setTimesNs(p, ns, ns);
}

/** Runs `fn` when fewer than `n` others run (a counting semaphore). */
function gate(n: number): <R>(fn: () => Promise<R>) => Promise<R> {
  let free = n;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (free > 0) free--; else await new Promise<void>((r) => waiting.push(r));
    try { return await fn(); } finally { const next = waiting.shift(); if (next) next(); else free++; }
  };
}

async function limit<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  const worker = async () => { while (i < items.length) { const t = items[i++]; await fn(t); } };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

/**
 * Writes a subdot's committed state into `dest` (which must not exist yet).
 * Files unchanged since the reuse source's stat cache are hard-linked from it instead of
 * written (checkout writes only what differs); the caller discards the reuse source after.
 * Returns the files written (path, chunks), for statCacheFor().
 */
export async function materialize(store: ObjectStore, root: SubdotRoot, dest: string, opts: MaterializeOptions): Promise<MaterializedFile[]> {
  const load = treeLoader(store);
  const zeroId = objectId('chunk', Buffer.alloc(opts.chunkSize));
  /** Raw size of a chunk, from the store's index. */
  const sizeOf = (id: string): number => {
    const info = store.info(id);
    if (!info) throw new DmError('OBJECT_MISSING', `Object ${id.slice(0, 12)} is missing from the store.`, 'Run "dm verify" to see what is affected.', { id });
    return info.size;
  };
  const files: { abs: string; rel: string; e: Extract<TreeEntry, { type: 'file' }> }[] = [];
  const links: { abs: string; e: Extract<TreeEntry, { type: 'hardlink' }> }[] = [];
  const dirs: { abs: string; m: Meta }[] = [];
  const others: { abs: string; e: TreeEntry }[] = [];

  // Pass 1: directories (owner-writable while we fill them), and the list of everything else.
  const walk = async (treeId: string, abs: string, rel: string) => {
    const t = await load(treeId);
    for (const e of t.entries) {
      const a = path.join(abs, e.name);
      const r = rel ? rel + '/' + e.name : e.name;
      if (e.type === 'dir') { await fsp.mkdir(a, { mode: 0o700 }); dirs.push({ abs: a, m: e }); await walk(e.tree, a, r); }
      else if (e.type === 'file') files.push({ abs: a, rel: r, e });
      else if (e.type === 'hardlink') links.push({ abs: a, e });
      else others.push({ abs: a, e });
    }
  };
  await fsp.mkdir(dest, { mode: 0o700 });
  await walk(root.tree, dest, '');

  // Pass 2: file contents.
  const runGate = gate(RUN_LIMIT);
  /** Stat cache entries of files created whole by a worker (see statCacheFor). */
  const created = new Map<string, StatCacheEntry>();
  await limit(files, FILE_WINDOW, async ({ abs, rel, e }) => {
    const src = opts.reuse && path.join(opts.reuse.dir, rel);
    const known = opts.reuse?.cache.get(rel);
    if (src && known && known.chunks.length === e.chunks.length && known.chunks.every((c, i) => c === e.chunks[i])) {
      let st: BigIntStats | undefined;
      try { st = await fsp.lstat(src, { bigint: true }); } catch { st = undefined; }
      if (st && st.isFile() && cacheHit(known, entryStat('', st))) {
        await fsp.link(src, abs);
        await applyMeta(abs, e);
        return;
      }
    }
    // Where each chunk goes: after the chunks before it, whatever size they have (a commit
    // pulled from a store with another chunk size is placed right).
    const offsets = new Array<number>(e.chunks.length + 1);
    offsets[0] = 0;
    for (let i = 0; i < e.chunks.length; i++) offsets[i + 1] = offsets[i] + sizeOf(e.chunks[i]);
    if (offsets[e.chunks.length] !== e.size) {
      throw new DmError('STORE_CORRUPT', `The chunks of ${rel} add up to ${offsets[e.chunks.length]} bytes, not the ${e.size} its tree records.`, 'Run "dm verify"; restore the state from a hub or bundle if you have one.');
    }
    // A small file whose chunks lie back to back in one pack is created whole by a chunk worker.
    if (store.createFile && e.size < DIRECT_MIN && !e.chunks.includes(zeroId)) {
      const st = await runGate(() => store.createFile!(e.chunks, abs, { mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, chown: isRoot }));
      if (st) {
        opts.onBytes?.(e.size);
        const [size, mtime, ctime, ino, mode, uid, gid] = st;
        if (Number(size) === e.size) created.set(rel, { size: e.size, mtime, ctime, ino, mode, uid, gid, chunks: e.chunks });
        crashPoint('materialize:file');
        return;
      }
    }
    const fh = await fsp.open(abs, 'wx', 0o600);
    let direct: fsp.FileHandle | undefined;
    try {
      direct = e.size >= DIRECT_MIN ? await openDirect(abs) : undefined;
      // Runs of consecutive non-zero chunks, read together and written with one write each.
      const runs: [number, number][] = [];
      for (let i = 0; i < e.chunks.length; i++) {
        if (e.chunks[i] === zeroId) continue;
        const last = runs.at(-1);
        if (last && last[1] === i && offsets[i + 1] - offsets[last[0]] <= RUN_BYTES) last[1] = i + 1; else runs.push([i, i + 1]);
      }
      await limit(runs, RUN_WINDOW, ([a, b]) => runGate(async () => {
        const ids = e.chunks.slice(a, b);
        if (store.writePieces) {
          await store.writePieces(ids, fh.fd, offsets[a], direct?.fd);
          opts.onBytes?.(offsets[b] - offsets[a]);
          return;
        }
        const datas = await Promise.all(ids.map((id) => store.get(id)));
        await fh.writev(datas, offsets[a]);
        opts.onBytes?.(datas.reduce((n, d) => n + d.length, 0));
      }));
      // Why truncate: all-zero chunks are not written (sparse), so the length is set explicitly.
      await fh.truncate(e.size);
    } finally {
      await direct?.close();
      await fh.close();
    }
    await applyMeta(abs, e);
    crashPoint('materialize:file');
  });

  // Pass 3: symlinks, fifos, hard links (their first name exists now).
  for (const { abs, e } of others) {
    if (e.type === 'symlink') { await fsp.symlink(e.target, abs); await applyMeta(abs, e, true); }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    else if (e.type === 'fifo') { await promisify((require('node:child_process') as typeof import('node:child_process')).execFile)('mkfifo', ['-m', (e.mode & 0o777).toString(8), abs]); await applyMeta(abs, e); }
  }
  for (const { abs, e } of links) {
    if (!safeRelPath(e.link)) throw new DmError('UNSAFE_PATH', `Hard link ${abs} points outside its subdot.`);
    await fsp.link(path.join(dest, e.link), abs);
  }

  // Pass 4: directory metadata, deepest first (adding entries changes a directory's mtime).
  for (const { abs, m } of dirs.reverse()) await applyMeta(abs, m);
  await applyMeta(dest, root);

  // Why not for hard-linked files: linking a name to a file changes its ctime.
  for (const { e } of links) created.delete(e.link);
  return files.map(({ rel, e }) => [rel, e.chunks, created.get(rel)] as MaterializedFile);
}

/** A file materialize() wrote: its path, chunks and, when a worker created it, its stat cache entry. */
export type MaterializedFile = [string, string[], StatCacheEntry?];

/**
 * Builds the stat cache of a materialized directory. Call it after any old directory sharing
 * inodes with it is gone: removing a hard link changes the inode's ctime.
 */
export async function statCacheFor(dest: string, files: MaterializedFile[]): Promise<StatCache> {
  const cache = new StatCache();
  const rest = files.filter(([rel, , known]) => { if (known) cache.set(rel, known); return !known; });
  await limit(rest, 16, async ([rel, chunks]) => {
    const st = await fsp.lstat(path.join(dest, rel), { bigint: true });
    cache.set(rel, { size: Number(st.size), mtime: st.mtimeNs.toString(), ctime: st.ctimeNs.toString(), ino: st.ino.toString(), mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), chunks });
  });
  return cache;
}
