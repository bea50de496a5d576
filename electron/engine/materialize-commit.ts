import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ProgressEvent } from '../contract/models';
import { Engine, newGenId } from './store';
import { materialize, statCacheFor, MaterializedFile, flushed } from './materialize';
import { StatCache } from './stat-cache';
import { syncTree } from './native';
import { removeTree } from './fsutil';

/**
 * Builds a new working directory generation for a commit (or an empty one for null),
 * reusing unchanged files of `reuseGen` by hard link when given. Returns the gen id and
 * the files written, for the stat cache. Nothing points at the new gen yet: a crash
 * leaves an orphan that recovery removes.
 */
export async function buildGen(engine: Engine, dot: string, commitId: string | null, opts: { reuseGen?: string; extraSubdots?: string[]; onProgress?: (p: ProgressEvent) => void; op: string }): Promise<{ gen: string; files: Record<string, MaterializedFile[]> }> {
  const gen = newGenId();
  const root = engine.genDir(dot, gen);
  try {
    return await fillGen(engine, dot, commitId, root, gen, opts);
  } catch (e) {
    // Why remove it here: nothing points at it yet, and a half-written working state holds its
    // space (all that was left, when the disk filled up) until the next operation's recovery.
    await removeTree(root).catch(() => { /* recovery removes it then */ });
    throw e;
  }
}

async function fillGen(engine: Engine, dot: string, commitId: string | null, root: string, gen: string, opts: Parameters<typeof buildGen>[3]): Promise<{ gen: string; files: Record<string, MaterializedFile[]> }> {
  await fsp.mkdir(root, { recursive: true });
  const files: Record<string, MaterializedFile[]> = {};
  const reuseCaches = opts.reuseGen ? await engine.readCache(dot, opts.reuseGen) : {};
  let done = 0;
  let total = 0;
  if (commitId) {
    engine.objects.prepareWrites?.();
    const c = await engine.readCommit(commitId);
    for (const r of Object.values(c.subdots)) total += r.bytes;
    // All subdots at once: materialize() shares its limits across calls, so the small files of
    // one are created while the big files of another are written.
    const results = await Promise.allSettled(Object.entries(c.subdots).map(async ([sub, r]) => {
      opts.onProgress?.({ op: opts.op, phase: 'writing', subdot: sub, doneBytes: done, totalBytes: total });
      files[sub] = await materialize(engine.objects, r, path.join(root, sub), {
        chunkSize: engine.chunkSize,
        reuse: opts.reuseGen ? { dir: path.join(engine.genDir(dot, opts.reuseGen), sub), cache: reuseCaches[sub] ?? new Map() } : undefined,
        onBytes: (n) => { done += n; opts.onProgress?.({ op: opts.op, phase: 'writing', subdot: sub, doneBytes: done, totalBytes: total }); },
      });
    }));
    // Why settle all first: the caller removes the gen on failure, which must not race writes.
    await flushed();
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }
  // Subdots Docker already uses but that are not in the commit stay mountable (empty).
  for (const sub of opts.extraSubdots ?? []) if (!files[sub]) { await fsp.mkdir(path.join(root, sub), { recursive: true, mode: 0o755 }); files[sub] = []; }
  // Why: the caller makes this gen the working state, and its stat cache then vouches for every
  // file in it. Small files were written through the page cache; after a power cut they could be
  // torn or empty while the cache says they hold the commit, and the next commit would trust it.
  if (commitId) {
    opts.onProgress?.({ op: opts.op, phase: 'flushing', doneBytes: done, totalBytes: total });
    await syncTree(root);
  }
  return { gen, files };
}

/** Writes the stat cache for a gen from buildGen's file list. */
export async function cacheGen(engine: Engine, dot: string, gen: string, files: Record<string, MaterializedFile[]>): Promise<void> {
  const caches: Record<string, StatCache> = {};
  for (const [sub, list] of Object.entries(files)) caches[sub] = await statCacheFor(path.join(engine.genDir(dot, gen), sub), list);
  await engine.writeCache(dot, gen, caches);
}
