import * as fs from 'node:fs';
import { promises as fsp, BigIntStats } from 'node:fs';
import { digest } from './digest';
import { DmError } from '../contract/errors';
import { ObjectStore, objectId, HashName } from './objects';
import { chunkPool, BLOCK_SIZE, type Hashed } from './chunk-pool';
import { decode } from './compress';
import { dmfs, ScanFn } from './native';
import { Tree, TreeEntry, SubdotRoot, encodeTree } from './model';
import { StatCache, StatCacheEntry, DirRecord, entriesOf, sameRecord } from './stat-cache';
import { isNotFound, permissionDenied } from './fsutil';

/** Progress of a long operation (commit, checkout, transfer). */
export interface Progress { phase: string; doneBytes: number; totalBytes?: number; doneFiles?: number; totalFiles?: number; subdot?: string }
/** Receives progress updates. */
export type ProgressFn = (p: Progress) => void;

/** Options for snapshotDir. */
export interface SnapshotOptions {
  chunkSize: number;
  /** When set, new chunks and trees are written to it; when null, only ids are computed (status/diff). */
  store: ObjectStore | null;
  /** How ids are computed: the store's hash (required with store=null, which has none to ask). */
  hash?: HashName;
  cache?: StatCache;
  /** Files modified at or after this time (ns) are not cached: they could change again within the same clock tick. */
  racyAfterNs?: bigint;
  onBytes?: (n: number, file: string) => void;
  /** Bytes of files the stat cache vouched for (not read), as the walk passes them. */
  onUnchanged?: (n: number) => void;
  /** zstd level of new chunks (the store's, from store.json). */
  level?: number;
  /**
   * Ids of chunks chosen for storing whose compression is under way; pass one set to snapshots
   * that run at the same time, so a chunk they share is compressed once.
   */
  compressing?: Set<string>;
  /**
   * With store=null (status, diff): where the trees of earlier commits are. A directory whose
   * scan matches its cache record then reuses that record's tree, as a commit does, instead of
   * looking at each entry and encoding it again (dm list and the app ask for status after every
   * change).
   */
  treesIn?: { has(id: string): boolean };
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
/** Files up to this size are read with synchronous calls (see readSmallFile). */
const SMALL_FILE = 256 * 1024;
/** Files read at once (their blocks are hashed and compressed by the worker pool meanwhile). */
const FILES_AT_ONCE = 8;

/** A counting semaphore. */
class Limiter {
  private waiting: (() => void)[] = [];
  constructor(private free: number) {}
  acquire(): Promise<void> {
    if (this.free > 0) { this.free--; return Promise.resolve(); }
    return new Promise((r) => this.waiting.push(r));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next(); else this.free++;
  }
}

/** Converts lstat results to our metadata fields. */
export function metaOf(st: EntryStat): { mode: number; uid: number; gid: number; mtime: string } {
  return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
}

/** What the walk needs of a directory entry's lstat; times (ns) and the inode as decimal strings, as the cache keeps them. */
export interface EntryStat { name: string; mode: number; uid: number; gid: number; nlink: number; size: number; dev: number; mtime: string; ctime: string; ino: string }

/** An lstat result as an EntryStat. */
export function entryStat(name: string, st: BigIntStats): EntryStat {
  return {
    name, mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid), nlink: Number(st.nlink), size: Number(st.size), dev: Number(st.dev),
    mtime: st.mtimeNs.toString(), ctime: st.ctimeNs.toString(), ino: st.ino.toString(),
  };
}

/** True when a stat matches a cache entry exactly (size, mtime, ctime, inode, mode, owner). */
export function cacheHit(e: StatCacheEntry | undefined, st: EntryStat): boolean {
  if (!e) return false;
  return e.size === st.size && e.mtime === st.mtime && e.ctime === st.ctime && e.ino === st.ino && e.mode === (st.mode & 0o7777) && e.uid === st.uid && e.gid === st.gid;
}

const S_IFMT = 0o170000, S_IFDIR = 0o040000, S_IFLNK = 0o120000, S_IFREG = 0o100000, S_IFIFO = 0o010000;

function notUtf8(dir: string, b: Buffer): DmError {
  return new DmError('UNSUPPORTED_FILE', `A file name in ${dir} is not valid UTF-8 (${b.toString('hex')}).`, 'Rename the file; Dotdesk stores UTF-8 names only.');
}

/** A directory as the addon's scan gives it: names and strs joined with "/", six numbers per entry (see EntryStat). */
export interface RawScan { names: string; nums: Float64Array; strs: string }

/**
 * A directory's entries sorted bytewise with their lstat, as one RawScan; refuses names that
 * are not valid UTF-8 instead of mangling them, and leaves out entries gone before their lstat.
 * Why the addon's scanDir: one call per directory, with fstatat on its descriptor, instead of
 * an lstatSync per entry, which cost 8-12 us each (a path walk and a BigIntStats of 14 BigInts)
 * against 1.7 us for the call itself (bench machine: 3,300 entries of a no-op commit).
 * Without the addon: readdir and lstat, put in the same form.
 */
export function rawScan(dir: string, scan: ScanFn | null = dmfs()?.scanDir ?? null): RawScan {
  if (scan) {
    const r = scan(dir);
    if ('bad' in r) throw notUtf8(dir, r.bad);
    return r;
  }
  const names = fs.readdirSync(dir, { encoding: 'buffer' }).map((b) => {
    try { return utf8.decode(b); } catch { throw notUtf8(dir, b); }
  }).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const kept: string[] = [], nums: number[] = [], strs: string[] = [];
  for (const name of names) {
    const st = fs.lstatSync(dir + '/' + name, { bigint: true, throwIfNoEntry: false });
    if (!st) continue;
    kept.push(name);
    nums.push(Number(st.mode), Number(st.uid), Number(st.gid), Number(st.nlink), Number(st.size), Number(st.dev));
    strs.push(st.mtimeNs.toString(), st.ctimeNs.toString(), st.ino.toString());
  }
  return { names: kept.join('/'), nums: Float64Array.from(nums), strs: strs.join('/') };
}

/** The entries of a RawScan. */
export function scanEntries(r: RawScan): EntryStat[] {
  const { nums } = r;
  const count = nums.length / 6;
  if (count === 0) return [];
  const names = r.names.split('/'), strs = r.strs.split('/');
  const out: EntryStat[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const k = i * 6, t = i * 3;
    out[i] = { name: names[i], mode: nums[k], uid: nums[k + 1], gid: nums[k + 2], nlink: nums[k + 3], size: nums[k + 4], dev: nums[k + 5], mtime: strs[t], ctime: strs[t + 1], ino: strs[t + 2] };
  }
  return out;
}

/** A directory's entries sorted bytewise with their lstat (see rawScan). */
export function scanDir(dir: string, scan: ScanFn | null = dmfs()?.scanDir ?? null): EntryStat[] {
  return scanEntries(rawScan(dir, scan));
}

/** A hash of everything a scan says (names, modes, owners, links, sizes, devices, times, inodes). */
function scanHash(r: RawScan): string {
  return digest('scan', r.names, '\0', r.strs, new Uint8Array(r.nums.buffer, r.nums.byteOffset, r.nums.byteLength)).toString('base64');
}

/**
 * Reads a subdot directory into tree objects (one per directory) and chunk lists.
 * Files whose stat matches the cache are not read again (like git's index).
 */
export async function snapshotDir(rootDir: string, opts: SnapshotOptions): Promise<SnapshotResult> {
  try { return await walkSnapshot(rootDir, opts); } catch (e) {
    // A path longer than the system opens (PATH_MAX) cannot be read, so it cannot be stored:
    // said as such, with a stable code, instead of an internal "scandir: File name too long".
    if ((e as NodeJS.ErrnoException).code === 'ENAMETOOLONG') {
      const p = (e as NodeJS.ErrnoException).path;
      const rel = p?.startsWith(rootDir + '/') ? p.slice(rootDir.length + 1) : p;
      const shown = rel && (rel.length > 120 ? `${rel.slice(0, 60)}…${rel.slice(-60)}` : rel);
      throw new DmError('UNSUPPORTED_FILE', `A path in ${rootDir} is longer than this system can open${p ? ` (${Buffer.byteLength(p)} bytes: ${shown})` : ''}.`, 'Shorten the names of its folders: paths must stay under 4,096 bytes on Linux.');
    }
    // A file or folder this user may not read (a container's process wrote it as another user,
    // often with mode 0700): said with its path, owner and mode instead of an internal
    // "scandir: Permission denied" that names nothing.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw permissionDenied('read', (e as NodeJS.ErrnoException).path, rootDir);
    throw e;
  }
}

async function walkSnapshot(rootDir: string, opts: SnapshotOptions): Promise<SnapshotResult> {
  const { chunkSize, store } = opts;
  const hash = store?.hash ?? opts.hash;
  if (!hash) throw new Error('snapshotDir: store=null needs opts.hash');
  const treesIn = store ?? opts.treesIn;
  const oldCache = opts.cache ?? new StatCache();
  const cache = new StatCache();
  const trees = new Map<string, Buffer>();
  const inodes = new Map<string, string>();
  const skipped: string[] = [];
  let readFiles = 0, readBytes = 0, files_ = 0, bytes = 0, statted = 0;

  const pool = chunkPool();
  const level = opts.level ?? 3;
  const block = Math.max(chunkSize, Math.floor(BLOCK_SIZE / chunkSize) * chunkSize);
  /** Chunks chosen for storing whose compression is under way (a duplicate elsewhere waits for none). */
  const pending = opts.compressing ?? new Set<string>();
  const tasks: Promise<unknown>[] = [];
  const files = new Limiter(FILES_AT_ONCE);

  /**
   * Once a worker has hashed the block `ab` (the job `hashing`, see ChunkPool.hash), has the
   * chunks the store lacks compressed and stored. The block is cut in `chunkSize` pieces, or at
   * `ends`. Gives back `reserved` of the budget, and the block, when done or failed.
   */
  const processBlock = async (ab: SharedArrayBuffer, hashing: Promise<Hashed>, reserved: number, ends?: Uint32Array): Promise<string[]> => {
    try {
      let hashed: Hashed;
      // A job that failed (a read error, a worker that died) is over: its block is free again.
      // Why: the pool and the workers keep every buffer until it is recycled or forgotten.
      try { hashed = await hashing; } catch (e) { pool.recycle(ab); throw e; }
      const { job, ids, len } = hashed;
      const which: number[] = [];
      if (store) for (let i = 0; i < ids.length; i++) if (!pending.has(ids[i]) && !store.has(ids[i])) { pending.add(ids[i]); which.push(i); }
      const { chunks: encoded, block: back } = await pool.compress(job, which, level);
      try {
        if (!store || encoded.length === 0) return ids;
        const sizeOf = (i: number): number => (ends ? ends[i] - (i ? ends[i - 1] : 0) : Math.min(chunkSize, len - i * chunkSize));
        const objs = encoded.map((c) => ({ id: ids[c.index], type: 'chunk' as const, codec: c.codec, size: sizeOf(c.index), bytes: c.bytes }));
        const stored = store.putTrustedMany ? store.putTrustedMany(objs) : Promise.all(objs.map(async (o) => store.put('chunk', await decode(o.codec, o.bytes), o.id)));
        for (const o of objs) pending.delete(o.id);
        // Why wait: the stored bytes live in the block, which is reused once they are written.
        await stored;
        return ids;
      } finally {
        pool.recycle(back);
      }
    } finally {
      pool.release(reserved);
    }
  };

  /**
   * Reads a file in blocks and hands each to the pool without waiting for it: the returned
   * promise gives the chunk ids once every block is done. Records what was actually read:
   * a file that shrinks or grows meanwhile keeps chunk boundaries at fixed offsets.
   */
  const readFile = async (abs: string, rel: string, size: number): Promise<{ parts: Promise<string[]>[]; read: number }> => {
    const parts: Promise<string[]>[] = [];
    await files.acquire();
    let pos = 0;
    try {
      const fh = await fsp.open(abs, 'r');
      try {
        for (;;) {
          const want = Math.min(block, Math.max(chunkSize, Math.ceil((size - pos) / chunkSize) * chunkSize));
          await pool.reserve(want);
          const ab = pool.buffer(want);
          // A worker reads the block and hashes it; the next block starts once it is read.
          const { read, hashed } = pool.readAndHash(hash, ab, fh.fd, pos, want, chunkSize);
          const part = processBlock(ab, hashed, want);
          part.catch(() => {});
          parts.push(part);
          const bytesRead = await read;
          // A file whose size is a multiple of the block size ends with an empty read (a part without chunks).
          if (bytesRead === 0) break;
          pos += bytesRead;
          opts.onBytes?.(bytesRead, rel);
          // A short read is the end of the file (the worker reads until the block is full).
          if (bytesRead < want) break;
        }
      } finally {
        await fh.close();
      }
    } finally {
      files.release();
    }
    readBytes += pos;
    readFiles++;
    return { parts, read: pos };
  };

  /**
   * Small files are read back to back into one block, which is hashed and stored as a whole
   * once it is full or the walk waits for its files (see flushBatch). Why: a block per file
   * cost each file two round trips to a worker and a whole block of the memory budget, so
   * folders of small files kept the workers waiting (2,000 uploads: workers a third busy).
   */
  let batch: { ab: SharedArrayBuffer; used: number; ends: number[]; files: { first: number; count: number; done: (ids: string[]) => void; fail: (e: unknown) => void }[] } | undefined;
  /** Small files being read (between their start and their place in the batch), and whether a flush waits for them. */
  let readingSmall = 0, flushWanted = false;
  /** Set when the walk failed (see the end of snapshotDir). */
  let abandoned: { e: unknown } | undefined;
  /** Hands the batch to the pool once every small file being read has its place in it. */
  const requestFlush = (): void => {
    if (readingSmall === 0) flushBatch(); else flushWanted = true;
  };
  /** Gives a batch's buffer and budget back unread; its files, if any, fail with `e`. */
  const dropBatch = (b: NonNullable<typeof batch>, e?: unknown): void => {
    for (const f of b.files) f.fail(e);
    pool.recycle(b.ab);
    pool.release(BLOCK_SIZE);
  };
  /** Hands the batch of small files to the pool (without waiting for it). */
  const flushBatch = (): void => {
    const b = batch;
    if (!b) return;
    batch = undefined;
    if (b.used === 0) { dropBatch(b); return; }
    const ends = Uint32Array.from(b.ends);
    const part = processBlock(b.ab, pool.hash(hash, b.ab, b.used, chunkSize, ends), BLOCK_SIZE, ends);
    part.then((ids) => { for (const f of b.files) f.done(ids.slice(f.first, f.first + f.count)); }, (e) => { for (const f of b.files) f.fail(e); });
  };

  /**
   * Reads a small file (at most BLOCK_SIZE bytes) with synchronous calls into the batch: from the
   * page cache that takes microseconds, while each promise-based call costs the main thread far
   * more (2,000 uploads: 0.4 s). The stat after reading comes from the open descriptor. Reads at
   * most the size lstat gave (a file that grew meanwhile is not cached, so it is read again).
   */
  const readSmallFile = async (abs: string, rel: string, size: number): Promise<{ parts: Promise<string[]>[]; read: number; after: BigIntStats }> => {
    readingSmall++;
    try {
      return await readSmallInto(abs, rel, size);
    } finally {
      if (--readingSmall === 0 && flushWanted) { flushWanted = false; flushBatch(); }
    }
  };
  /** The batch, when `size` more bytes fit in it (a batch they do not fit is handed over). */
  const batchFor = (size: number): typeof batch => {
    if (batch && batch.used + size > BLOCK_SIZE) flushBatch();
    return batch;
  };
  const readSmallInto = async (abs: string, rel: string, size: number): Promise<{ parts: Promise<string[]>[]; read: number; after: BigIntStats }> => {
    let b = batchFor(size);
    if (!b) {
      // Why reserve: a folder of a million small files must not be read into memory at once.
      await pool.reserve(BLOCK_SIZE);
      // The walk failed meanwhile: nothing more is read or stored.
      if (abandoned) { pool.release(BLOCK_SIZE); throw abandoned.e; }
      // Another file may have started a batch while this one waited: then this one joins it.
      b = batchFor(size);
      if (b) pool.release(BLOCK_SIZE);
      else b = batch = { ab: pool.buffer(BLOCK_SIZE), used: 0, ends: [], files: [] };
    }
    let read = 0;
    let after: BigIntStats;
    const fd = fs.openSync(abs, 'r');
    try {
      read = fs.readSync(fd, new Uint8Array(b.ab, b.used, size), 0, size, 0);
      after = fs.fstatSync(fd, { bigint: true });
    } finally {
      fs.closeSync(fd);
    }
    readFiles++;
    readBytes += read;
    opts.onBytes?.(read, rel);
    if (read === 0) return { parts: [], read, after };
    const first = b.ends.length;
    for (let at = 0; at < read; at += chunkSize) b.ends.push(b.used + Math.min(at + chunkSize, read));
    b.used += read;
    const part = new Promise<string[]>((done, fail) => b.files.push({ first, count: b.ends.length - first, done, fail }));
    part.catch(() => {});
    return { parts: [part], read, after };
  };

  /** True when a file was modified so recently that it could change again within the same mtime tick. */
  const racyAfter = opts.racyAfterNs?.toString();
  // Compared as decimal strings (no leading zeros; a negative mtime is before any threshold),
  // instead of parsing a BigInt per file.
  const isRacy = (st: EntryStat): boolean => racyAfter !== undefined && st.mtime[0] !== '-'
    && (st.mtime.length > racyAfter.length || (st.mtime.length === racyAfter.length && st.mtime >= racyAfter));

  /**
   * Reads a file; its entry goes into `rec` when the cache may trust it, else `rec` may not be
   * reused whole. Null when the file was removed after the directory was listed: a running app
   * makes and removes temporary files (PostgreSQL and Redis as they start), and the state read
   * is then the one without it.
   */
  const fileEntry = async (abs: string, rel: string, name: string, st: EntryStat, rec: DirRecord, mine: Map<string, StatCacheEntry>): Promise<TreeEntry | null> => {
    const meta = metaOf(st);
    let parts: Promise<string[]>[], read: number, after: BigIntStats;
    try {
      if (st.size <= SMALL_FILE) ({ parts, read, after } = await readSmallFile(abs, rel, st.size));
      else {
        ({ parts, read } = await readFile(abs, rel, st.size));
        after = await fsp.lstat(abs, { bigint: true });
      }
    } catch (e) {
      if (!isNotFound(e)) throw e;
      // Other names of the file were recorded as links to this one, which the tree would lack.
      if (st.nlink > 1) throw new DmError('CONCURRENT_UPDATE', `${rel} was removed while it was being read, and other names in ${rootDir} link to it.`, 'Retry once the app has stopped changing its files (or let Docker pause it: run the app under Docker with dm volumes).');
      rec.scan = '';
      return null;
    }
    const chunks = (await Promise.all(parts)).flat();
    const key = { size: read, ...meta, ctime: st.ctime, ino: st.ino, chunks };
    // Why: a file that changed while we read it may be torn; record it but never trust the cache for it.
    if (!isRacy(st) && read === st.size && cacheHit(key, entryStat(name, after))) mine.set(name, key);
    else rec.scan = '';
    files_++;
    bytes += read;
    rec.files++;
    rec.bytes += read;
    return { name, type: 'file', ...meta, size: read, chunks };
  };

  const putTree = async (t: Tree): Promise<string> => {
    const buf = encodeTree(t);
    const id = objectId('tree', buf, hash);
    trees.set(id, buf);
    if (store) await store.put('tree', buf, id);
    return id;
  };

  /**
   * The first name seen of a file with several hard links ('' when `rel` is that name, and
   * from then on it is). Later names are stored as links to it.
   */
  const firstName = (key: string, rel: string): string => {
    const first = inodes.get(key);
    if (first === undefined) { inodes.set(key, rel); return ''; }
    return first === rel ? '' : first;
  };
  /** The names of a directory's hard-linked files with the names they link to, as a record keeps them. */
  const linksKey = (links: [string, string][]): string => (links.length ? JSON.stringify(links) : '');
  /** Walked entries, for yielding to the event loop now and then. */
  let nextYield = 2048;
  /** A directory's tree id; null for a subdirectory removed after its parent was listed (see fileEntry). */
  const walk = async (absDir: string, relDir: string): Promise<string | null> => {
    // Why synchronous: an lstat answered from the inode cache takes microseconds, a promise
    // round trip through the thread pool far longer (3,000 files: 0.3 s of a no-op commit).
    let raw: ReturnType<typeof rawScan>;
    try { raw = rawScan(absDir); } catch (e) {
      if (relDir && isNotFound(e)) return null;
      // The addon's errors carry no path; the message of snapshotDir names this one.
      if (['ENAMETOOLONG', 'EACCES', 'EPERM'].includes((e as NodeJS.ErrnoException).code ?? '')) (e as NodeJS.ErrnoException).path ??= absDir;
      throw e;
    }
    // Yielding now and then keeps the app's event loop responsive on huge trees.
    if ((statted += raw.nums.length / 6) >= nextYield) { nextYield = statted + 2048; await new Promise((r) => setImmediate(r)); }
    const scan = treesIn ? scanHash(raw) : '';
    const last = oldCache.dirs.get(relDir);
    /** Trees of subdirectories already walked (when the record looked reusable). */
    let known: Map<string, string | null> | undefined;
    const relOf = (name: string): string => (relDir ? relDir + '/' + name : name);
    if (last && scan && last.scan === scan && treesIn!.has(last.tree)) {
      // Nothing in this directory changed: only its subdirectories may have, and which name of a
      // hard-linked file comes first (that depends on the rest of the walk). When they give what
      // they gave before, so does this directory, and no entry is looked at one by one. Walked
      // in the order of the full walk below, which gets the subdirectories' trees from here.
      known = new Map();
      const links: [string, string][] = [];
      const { nums, names } = raw;
      let strs: string[] | undefined;
      let at = 0, whole = true;
      for (let k = 0; k < nums.length && whole; k += 6) {
        let end = names.indexOf('/', at);
        if (end < 0) end = names.length;
        const type = nums[k] & S_IFMT;
        if (type === S_IFDIR) {
          const name = names.slice(at, end);
          known.set(name, await walk(absDir + '/' + name, relOf(name)));
        } else if (type === S_IFREG) {
          if (nums[k + 3] > 1) {
            const name = names.slice(at, end);
            strs ??= raw.strs.split('/');
            links.push([name, firstName(`${nums[k + 5]}:${strs[(k / 6) * 3 + 2]}`, relOf(name))]);
          }
        } else if (type !== S_IFLNK && type !== S_IFIFO) {
          // Skipped entries (sockets, devices) are reported at every walk.
          whole = false;
        }
        at = end + 1;
      }
      if (whole && [...known.values()].join(' ') === last.subs && linksKey(links) === last.links) {
        cache.dirs.set(relDir, last);
        files_ += last.files;
        bytes += last.bytes;
        if (last.bytes) opts.onUnchanged?.(last.bytes);
        return last.tree;
      }
    }
    const before = last ? entriesOf(last) : undefined;
    const mine = new Map<string, StatCacheEntry>();
    // Why no scan without a store: a tree encoded for status alone is not stored.
    const rec: DirRecord = { scan: store ? scan : '', subs: '', links: '', tree: '', files: 0, bytes: 0, entries: mine };
    const subs: string[] = [];
    const links: [string, string][] = [];
    const entries: (TreeEntry | Promise<TreeEntry | null>)[] = [];
    /** True once a file of this directory is being read (its entry is a promise). */
    let pending = false;
    for (const st of scanEntries(raw)) {
      const name = st.name;
      const abs = absDir + '/' + name;
      const rel = relOf(name);
      const meta = metaOf(st);
      const type = st.mode & S_IFMT;
      if (type === S_IFDIR) {
        const tree = known?.has(name) ? known.get(name)! : await walk(abs, rel);
        if (tree === null) { rec.scan = ''; continue; }
        subs.push(tree);
        entries.push({ name, type: 'dir', ...meta, tree });
      } else if (type === S_IFLNK) {
        let target: string;
        try { target = fs.readlinkSync(abs); } catch (e) {
          if (!isNotFound(e)) throw e;
          rec.scan = '';
          continue;
        }
        entries.push({ name, type: 'symlink', ...meta, target });
      } else if (type === S_IFREG) {
        if (st.nlink > 1) {
          const first = firstName(`${st.dev}:${st.ino}`, rel);
          links.push([name, first]);
          if (first) { entries.push({ name, type: 'hardlink', link: first }); continue; }
        }
        const size = st.size;
        const old = before?.get(name);
        if (cacheHit(old, st)) {
          if (isRacy(st)) rec.scan = ''; else mine.set(name, old!);
          files_++;
          bytes += size;
          rec.files++;
          rec.bytes += size;
          if (size) opts.onUnchanged?.(size);
          entries.push({ name, type: 'file', ...meta, size, chunks: old!.chunks });
        } else {
          const e = fileEntry(abs, rel, name, st, rec, mine);
          e.catch(() => {});
          tasks.push(e);
          entries.push(e);
          pending = true;
        }
      } else if (type === S_IFIFO) {
        entries.push({ name, type: 'fifo', ...meta });
      } else {
        // Sockets and device nodes are runtime objects, not data: skipped and reported.
        skipped.push(rel);
      }
    }
    // Its files' chunk ids come from the batch: hand it over before waiting for them.
    if (pending) requestFlush();
    // Why only when something is pending: Promise.all makes a promise per element, and on a
    // commit of 3,000 files that was 6,000 promises (each one also seen by the lock's
    // async-context hooks) for values that were all there.
    rec.tree = await putTree({ v: 1, entries: pending ? (await Promise.all(entries)).filter((e): e is TreeEntry => e !== null) : (entries as TreeEntry[]) });
    rec.subs = subs.join(' ');
    rec.links = linksKey(links);
    // The old record when nothing in it changed, so that an unchanged cache is not written again.
    cache.dirs.set(relDir, last && sameRecord(last, rec) ? last : rec);
    return rec.tree;
  };

  const rootSt = await fsp.lstat(rootDir, { bigint: true });
  if (!rootSt.isDirectory()) throw new DmError('UNSUPPORTED_FILE', `${rootDir} is not a directory.`);
  let tree: string;
  try {
    tree = (await walk(rootDir, ''))!; // the root is never left out (walk rethrows for it)
  } catch (e) {
    // Why: blocks already handed to workers must not be stored after the caller gave up. The
    // batch not handed over yet is dropped.
    abandoned = { e };
    const b = batch;
    batch = undefined;
    if (b) dropBatch(b, e);
    await Promise.allSettled(tasks);
    throw e;
  }
  return { root: { ...metaOf(entryStat('', rootSt)), tree, files: files_, bytes }, trees, cache, readFiles, readBytes, skipped };
}
