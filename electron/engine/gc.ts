import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { GcReport } from '../contract/models';
import { Engine } from './store';
import { storeRoots, walkReachable } from './verify';

/** Packs under this size count as small. */
const SMALL_PACK = 8 * 1024 * 1024;
/** More small packs than this are merged by gc. */
const SMALL_PACKS_MAX = 16;

/**
 * Removes objects no ref, reflog, operation-log entry or trashed ref reaches. With
 * emptyTrash, deleted dots and branches (and their working states) are purged first.
 * The only code that deletes stored data; runs under the exclusive store lock.
 */
export async function gc(engine: Engine, opts: { emptyTrash?: boolean } = {}): Promise<GcReport> {
  return engine.withLock('gc', async () => {
    let removedWorkDirs = 0;
    if (opts.emptyTrash) {
      const dirs = [path.join(engine.home, 'trash'), ...(await engine.dotNames()).map((d) => path.join(engine.dotDir(d), 'trash'))];
      for (const d of dirs) for (const t of await fsp.readdir(d).catch(() => [] as string[])) { await fsp.rm(path.join(d, t), { recursive: true, force: true }); removedWorkDirs++; }
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
    // Every commit adds a small pack (its commit object and changed trees), and every command
    // loads every pack's index: past SMALL_PACKS_MAX small packs, gc merges them into one.
    const small: string[] = [];
    for (const p of packs) if (!toRewrite.includes(p) && (await fsp.stat(p)).size < SMALL_PACK) small.push(p);
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
