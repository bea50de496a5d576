import { promises as fsp, BigIntStats } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ObjectStore, objectId } from './objects';
import { SubdotRoot, Tree, TreeEntry, Meta, decodeTree, safeRelPath } from './model';
import { cacheHit, entryStat } from './snapshot';
import { StatCache, StatCacheEntry } from './stat-cache';
import { setTimesNs, allocate } from './native';
import { DmError } from '../contract/errors';
import { crashPoint } from './crash';
import { openDirect } from './direct-io';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
/** Bytes of consecutive chunks read and written together (one pread, one write). */
const RUN_BYTES = 2 * 1024 * 1024;
/** Runs in flight per file (decompressed, verified and written by the worker pool). */
const RUN_WINDOW = 4;
/**
 * Runs in flight per file whose blocks were reserved (fallocate). Why 2: a direct write into
 * reserved blocks turns its part of the file's one unwritten extent into a written one, and
 * writes that finish out of order leave the file with more extents than the 4 its inode holds.
 * ext4 then moves them into a block of their own, and frees that block again once they merge
 * back. On a filesystem mounted with online discard (-o discard) every freed block is a discard
 * request: on the bench machine 56-103 of them per checkout of v2, and the virtual disk stalled
 * every write behind one for up to 520 ms (block trace). With 2 runs in flight a file has at
 * most 4 extents while it is written (written, pending, written, unwritten rest): 3-10 discards.
 */
const RESERVED_RUN_WINDOW = 2;
/**
 * Limits shared by every materialize() running in this process (buildGen writes all subdots at
 * once), so the process as a whole keeps the workers and the disk busy without flooding them.
 */
const lanes = {
  /** Runs in flight in all (bounds the workers' buffers: RUN_BYTES each). */
  runs: gate(16),
  /**
   * Big files written at once, biggest first, each with RESERVED_RUN_WINDOW runs in flight
   * (RUN_WINDOW where its blocks could not be reserved). Why a lane of their own: small files
   * are a chain of metadata calls each (create, write, chown, chmod, times) that leaves the disk
   * idle, and big files keep it busy meanwhile. Why 5: with
   * 2 runs per file that keeps about as many runs in flight as 3 files with 4 did (10 against
   * 12); 3 files with 2 runs were a little slower, 8 files no faster (bench/README.md).
   */
  big: gate(Number(process.env.DM_BIG_WINDOW) || 5, true),
  /**
   * Small files created at once. More keep the workers busier, but files created at once in one
   * directory wait on its lock (16 and 32 did no better than 12 when every file shared a lane).
   */
  small: gate(Number(process.env.DM_FILE_WINDOW) || 8),
};
/**
 * Bytes written directly after which a background flush starts (see writeBehind): never by
 * default, every DM_FLUSH_MB MiB when set. Why never: on the bench machine (a VM whose disk is
 * the host's page cache) a flush stops every write in flight until the host has written back
 * what it holds, 0.15-0.3 s each, and the workers wait meanwhile; the final syncfs then has
 * less to wait for, but not as much less. checkout -b of the bench's v2, 14 interleaved rounds:
 * 3.36 s median without against 3.77 s with a flush every 256 MiB (faster in 9, slower in 4).
 */
const flushEvery = (): number => (Number(process.env.DM_FLUSH_MB) > 0 ? Number(process.env.DM_FLUSH_MB) * 1024 * 1024 : Infinity);
let flushDue = 0;
const flushes = new Set<Promise<void>>();
/**
 * Counts bytes written past the page cache and, every flushEvery() of them, asks the disk to
 * make them durable (fdatasync of the file just written) in the background, so a disk with a
 * big volatile cache gets them while the rest is still being written. The final syncfs of
 * buildGen makes everything durable either way.
 */
function writeBehind(file: string, bytes: number): void {
  flushDue += bytes;
  if (flushDue < flushEvery()) return;
  flushDue = 0;
  const p: Promise<void> = fsp.open(file, 'r').then(async (h) => { try { await h.datasync(); } finally { await h.close(); } })
    .catch(() => undefined) // only a head start: the journal's fsync still flushes everything
    .finally(() => flushes.delete(p));
  flushes.add(p);
}
/** Waits for the background flushes materialize() started. */
export async function flushed(): Promise<void> {
  while (flushes.size) await Promise.all([...flushes]);
}
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

/**
 * Runs `fn` when fewer than `n` others run (a counting semaphore). Waiting calls start first
 * come first served or, for a gate made `bySize`, highest `priority` first.
 */
type Gate = <R>(fn: () => Promise<R>, priority?: number) => Promise<R>;
function gate(n: number, bySize = false): Gate {
  let free = n;
  const waiting: { priority: number; start: () => void }[] = [];
  const next = (): void => {
    if (!waiting.length) { free++; return; }
    let best = 0;
    if (bySize) for (let i = 1; i < waiting.length; i++) if (waiting[i].priority > waiting[best].priority) best = i;
    waiting.splice(best, 1)[0].start();
  };
  return async (fn, priority = 0) => {
    if (free > 0) free--; else await new Promise<void>((start) => waiting.push({ priority, start }));
    try { return await fn(); } finally { next(); }
  };
}

/**
 * Runs `fn` on every item, `n` at a time. After a failure no further item starts, and the
 * failure is thrown once every started call has ended. Why wait: a run still writing through
 * a descriptor that its file's cleanup closed would write into whatever reuses the number.
 */
async function limit<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (i < items.length && !failed) {
      const t = items[i++];
      try { await fn(t); } catch (error) { failed ??= { error }; }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failed) throw failed.error;
}

/**
 * Writes a subdot's committed state into `dest` (which must not exist yet).
 * Files unchanged since the reuse source's stat cache are hard-linked from it instead of
 * written (checkout writes only what differs); the caller discards the reuse source after.
 * Returns the files written (path, chunks), for statCacheFor().
 */
export async function materialize(store: ObjectStore, root: SubdotRoot, dest: string, opts: MaterializeOptions): Promise<MaterializedFile[]> {
  const load = treeLoader(store);
  const zeroId = objectId('chunk', Buffer.alloc(opts.chunkSize), store.hash);
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
  /** Stat cache entries of files created whole by a worker (see statCacheFor). */
  const created = new Map<string, StatCacheEntry>();
  const runGate = lanes.runs;
  const writeFile = async ({ abs, rel, e }: (typeof files)[number]): Promise<void> => {
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
      // Blocks reserved first, range by range (all-zero chunks stay holes): direct writes into
      // reserved blocks run side by side, into new ones they wait for each other (native.ts).
      let reserved = false;
      if (direct) {
        for (let k = 0; k < runs.length;) {
          let m = k + 1;
          while (m < runs.length && runs[m][0] === runs[m - 1][1]) m++;
          if (!allocate(fh.fd, offsets[runs[k][0]], offsets[runs[m - 1][1]] - offsets[runs[k][0]])) break;
          reserved = true;
          k = m;
        }
      }
      await limit(runs, reserved ? RESERVED_RUN_WINDOW : RUN_WINDOW, ([a, b]) => runGate(async () => {
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
      if (direct) writeBehind(abs, e.size);
    } finally {
      await direct?.close();
      await fh.close();
    }
    await applyMeta(abs, e);
    crashPoint('materialize:file');
  };
  // Big files biggest first (also across subdots: the lane orders by size), as the last one to
  // finish sets the end; small ones fill in.
  const big = files.filter((f) => f.e.size >= DIRECT_MIN);
  const small = files.filter((f) => f.e.size < DIRECT_MIN);
  let failed: { error: unknown } | undefined;
  const run = (lane: Gate, f: (typeof files)[number]): Promise<void> => lane(async () => {
    if (failed) return; // after a failure, queued files are not started
    try { await writeFile(f); } catch (error) { failed ??= { error }; }
  }, lane === lanes.big ? f.e.size : 0);
  await Promise.all([...big.map((f) => run(lanes.big, f)), ...small.map((f) => run(lanes.small, f))]);
  if (failed) throw failed.error;

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
