import * as fs from 'node:fs';
import * as path from 'node:path';
import { DmError } from '../contract/errors';
import type { CommitInfo, ProgressEvent } from '../contract/models';
import { Engine } from './store';
import { Commit, SubdotRoot, TakenInfo } from './model';
import { snapshotDir, scanDir } from './snapshot';
import { StatCache } from './stat-cache';
import { defaultAuthor } from './defaults';

/** Options of a commit. */
export interface CommitOptions {
  message: string;
  author?: string;
  metadata?: Record<string, string>;
  taken?: TakenInfo;
  onProgress?: (p: ProgressEvent) => void;
  /**
   * Called right after every subdot has been read, before objects are flushed and the ref moves.
   * The Docker layer unpauses containers here, so they are frozen only while data is read.
   */
  afterCapture?: () => Promise<void>;
}

export { defaultAuthor } from './defaults';

const META_KEY = /^[A-Za-z0-9_.-]{1,64}$/;
/** How long a commit runs before it counts its subdots' bytes for the progress total (DM_PROGRESS_TOTAL_MS). */
const totalAfterMs = (): number => Number(process.env.DM_PROGRESS_TOTAL_MS ?? 400);

/**
 * Commits every subdot of the dot's current branch at once.
 * Crash-safety order: chunks -> trees -> commit (flushed as packs) -> ref (CAS) -> reflog.
 */
export async function commit(engine: Engine, dot: string, opts: CommitOptions): Promise<CommitInfo> {
  if (typeof opts.message !== 'string' || opts.message.trim() === '') throw new DmError('INVALID_ARGUMENT', 'A commit needs a message.', 'Use dm commit -m "what this state is".');
  for (const [k, v] of Object.entries(opts.metadata ?? {})) {
    if (!META_KEY.test(k)) throw new DmError('INVALID_ARGUMENT', `Invalid metadata key ${JSON.stringify(k)}.`, 'Keys use letters, digits, "_", "-" and ".", at most 64 characters (-d key=value).');
    if (typeof v !== 'string' || v.length > 4096) throw new DmError('INVALID_ARGUMENT', `Metadata value for "${k}" is too long (at most 4096 characters).`);
  }
  await engine.requireDot(dot);
  return engine.withLock('commit ' + dot, async () => {
    const branch = await engine.currentBranch(dot);
    const head = await engine.requireBranch(dot, branch);
    const gen = (await engine.genOf(dot, branch))!;
    const root = engine.genDir(dot, gen);
    const subdots = await engine.subdotNames(dot, branch);
    const caches = await engine.readCache(dot, gen);
    const newCaches: Record<string, StatCache> = {};
    const skipped: string[] = [];
    const roots: Record<string, SubdotRoot> = {};
    // Why: files modified within the last 2 s could change again within the same mtime tick.
    const racyAfterNs = BigInt(Date.now() - 2000) * 1_000_000n;
    let done = 0;
    // Chunks being compressed for any subdot: a chunk two subdots share is compressed once.
    const compressing = new Set<string>();
    try {
      // Why all subdots at once: one subdot's many small files keep the main thread busy while
      // another's big files keep the workers busy (bench: uploads and PostgreSQL overlap).
      // Every snapshot runs to its end before an error is thrown: none may store after we gave up.
      // Progress names every subdot still being read. Why: naming the one whose bytes came last
      // made the line flicker between subdots read at once.
      const reading = new Set(subdots);
      let names = subdots.join(', ');
      // Progress counts the bytes read and the bytes the stat cache vouched for, against all
      // the subdots' bytes. Why a count of its own (as restic's scanner): the walk reads a
      // directory's files before it lists the next directory, so it would learn the total last.
      // Listing costs about 10 ms per 3,000 files, so a commit that is over sooner (no-op
      // commits) does not pay it; only the bar waits for it.
      let total: number | undefined;
      const report = (): void => opts.onProgress?.({ op: 'commit', phase: 'reading', subdot: names, doneBytes: done, totalBytes: total === undefined ? undefined : Math.max(total, done) });
      report();
      let captured = false;
      const counter = setTimeout(() => {
        void (async () => {
          let bytes = 0;
          for (const sub of subdots) bytes += (await dirUsage(path.join(root, sub), { stopped: () => captured })).bytes;
          if (!captured) { total = bytes; report(); }
        })().catch(() => undefined); // only progress: the commit's walk reports what is wrong
      }, totalAfterMs());
      const step = (n: number): void => { done += n; report(); };
      const results = await Promise.allSettled(subdots.map(async (sub) => {
        try {
          return await snapshotDir(path.join(root, sub), {
            chunkSize: engine.chunkSize, store: engine.objects, cache: caches[sub], racyAfterNs, level: engine.fmt.level, compressing,
            onBytes: step, onUnchanged: step,
          });
        } finally {
          reading.delete(sub);
          names = [...reading].join(', ');
          if (reading.size) report();
        }
      }));
      captured = true;
      clearTimeout(counter);
      subdots.forEach((sub, i) => {
        const r = results[i];
        if (r.status === 'rejected') throw r.reason;
        roots[sub] = r.value.root;
        newCaches[sub] = r.value.cache;
        for (const rel of r.value.skipped) skipped.push(`${sub}/${rel}`);
      });
    } finally {
      await opts.afterCapture?.();
    }
    opts.onProgress?.({ op: 'commit', phase: 'writing', doneBytes: done });
    // One flush for chunks, trees and the commit: a pack becomes visible whole (renamed after
    // fsync), and packs closed earlier for size are renamed before the last one, so the commit
    // is never visible before what it references.
    const parentDepth = head ? (((await engine.readCommit(head)) as any).depth ?? 1) : 0;
    const c: Commit & { depth: number } = {
      v: 1, parents: head ? [head] : [], subdots: roots, message: opts.message, author: opts.author ?? defaultAuthor(),
      time: new Date().toISOString(), metadata: opts.metadata ?? {}, taken: opts.taken ?? { how: 'direct' }, depth: parentDepth + 1,
    };
    const id = await engine.writeCommit(c);
    await engine.objects.flush();
    await engine.moveRef(dot, branch, head, id, 'commit', opts.message);
    // Why compare: rewriting megabytes of unchanged cache was a tenth of a no-op commit.
    if (!subdots.every((sub) => newCaches[sub].sameAs(caches[sub]))) await engine.writeCache(dot, gen, newCaches);
    await engine.logOp({ op: 'commit', dot, branch, from: head, to: id, summary: `commit ${id.slice(0, 12)} on ${dot}/${branch}: ${opts.message.split('\n')[0]}` });
    opts.onProgress?.({ op: 'commit', phase: 'done', doneBytes: done });
    const info = await engine.commitInfo(id, c);
    return skipped.length ? { ...info, skipped } : info;
  });
}

/**
 * Total bytes and files of a directory tree (regular files, lstat sizes; a file with several
 * names counts once, as a commit stores it once). Stops early, with what it has, once `stopped()`.
 */
export async function dirUsage(dir: string, opts: { stopped?: () => boolean } = {}): Promise<{ bytes: number; files: number }> {
  let bytes = 0, files = 0, seen = 0;
  const linked = new Set<string>();
  // Why synchronous (as snapshotDir, and with its directory scan): dm list sums every dot's
  // files, and a promise round trip per lstat made it wait 0.2 s on 3,000 files; yielding now
  // and then keeps the app responsive.
  const walk = async (d: string): Promise<void> => {
    let ents: { name: string; mode: number; size: number; nlink?: number; dev?: number; ino?: string }[];
    try { ents = scanDir(d); } catch (e) {
      // A name that is not UTF-8 (which a commit refuses) still counts here; a folder that is
      // gone or unreadable counts nothing.
      if ((e as { code?: string }).code !== 'UNSUPPORTED_FILE') return;
      ents = [];
      for (const x of fs.readdirSync(d, { encoding: 'buffer' })) {
        const st = fs.lstatSync(Buffer.concat([Buffer.from(d + '/'), x]), { throwIfNoEntry: false });
        if (st) ents.push({ name: x.toString('utf8'), mode: st.mode, size: st.size });
      }
    }
    for (const e of ents) {
      if (opts.stopped?.()) return;
      if (++seen % 2048 === 0) await new Promise((r) => setImmediate(r));
      const type = e.mode & 0o170000;
      if (type === 0o040000) await walk(d + '/' + e.name);
      else if (type === 0o100000) {
        if (e.nlink !== undefined && e.nlink > 1) {
          const key = `${e.dev}:${e.ino}`;
          if (linked.has(key)) continue;
          linked.add(key);
        }
        files++;
        bytes += e.size;
      }
    }
  };
  await walk(dir);
  return { bytes, files };
}
