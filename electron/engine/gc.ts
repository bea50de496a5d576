import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { GcReport } from '../contract/models';
import { Engine } from './store';
import { storeRoots, walkReachable } from './verify';
import { SMALL_PACKS_MAX } from './pack-store';
import { removeTree } from './fsutil';

/**
 * Removes objects no ref, reflog, operation-log entry or trashed ref reaches. With
 * emptyTrash, deleted dots and branches (and their working states) are purged first.
 * The only code that deletes stored data; runs under the exclusive store lock.
 */
export async function gc(engine: Engine, opts: { emptyTrash?: boolean } = {}): Promise<GcReport> {
  return engine.withLock('gc', async () => {
    // Why refuse: a damaged ref no longer says which commit it held, so what only it reached
    // cannot be told from garbage. Its error says how to put it back (dm reset --force).
    for (const dot of await engine.dotNames()) for (const b of await engine.branchNames(dot)) await engine.readRef(dot, b);
    let removedWorkDirs = 0;
    if (opts.emptyTrash) {
      const dirs = [path.join(engine.home, 'trash'), ...(await engine.dotNames()).map((d) => path.join(engine.dotDir(d), 'trash'))];
      for (const d of dirs) for (const t of await fsp.readdir(d).catch(() => [] as string[])) { await removeTree(path.join(d, t)); removedWorkDirs++; }
      // Why: once the trash is gone, undo entries pointing into it are no longer roots.
    }
    const roots = (await storeRoots(engine, { includeTrash: !opts.emptyTrash })).map((r) => r.id);
    const live = new Set<string>();
    await walkReachable(engine, roots, (id) => live.add(id));
    const packs = await engine.objects.packs();
    const toRewrite: string[] = [];
    const seen = new Set<string>();
    for (const p of packs) {
      const entries = await engine.objects.packEntries(p);
      let dead = false;
      for (const id of entries.keys()) { if (!live.has(id) || seen.has(id)) dead = true; seen.add(id); }
      if (dead) toRewrite.push(p);
    }
    // Past SMALL_PACKS_MAX small packs, gc merges them all into one (compaction after a write
    // merges only the smallest: see PackStore.compact).
    const small = (await engine.objects.smallPacks()).map((p) => p.pack).filter((p) => !toRewrite.includes(p));
    if (small.length > SMALL_PACKS_MAX) toRewrite.push(...small);
    let removedObjects = 0, freedBytes = 0;
    if (toRewrite.length) {
      const r = await engine.objects.rewrite(toRewrite, (id) => live.has(id));
      removedObjects = r.dropped;
      freedBytes = r.droppedBytes;
    }
    // Leftover temp files of killed writers (the lock guarantees no writer is active now).
    const packDir = path.join(engine.home, 'objects', 'packs');
    for (const n of await fsp.readdir(packDir).catch(() => [] as string[])) if (n.startsWith('.tmp-')) await fsp.rm(path.join(packDir, n), { force: true });
    return { removedObjects, freedBytes, keptObjects: live.size, packsRewritten: toRewrite.length, removedWorkDirs };
  });
}
