import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { DmError } from '../contract/errors';
import type { ProgressEvent } from '../contract/models';
import { Engine, Journal } from '../engine/store';
import { atomicWrite } from '../engine/fsutil';
import { buildGen, cacheGen } from '../engine/materialize-commit';
import { diffTrees, workingRoots } from '../engine/diff';
import { treeLoader } from '../engine/materialize';

/** Number of uncommitted file changes in a branch's working state (any branch, not only the current one). */
export async function dirtyFiles(engine: Engine, dot: string, branch: string): Promise<number> {
  const head = await engine.readRef(dot, branch);
  const from = head ? (await engine.readCommit(head)).subdots : {};
  const w = await workingRoots(engine, dot, branch);
  const loadA = treeLoader(engine.objects);
  const loadB = treeLoader(engine.objects, w.trees);
  let n = 0;
  for (const sub of new Set([...Object.keys(from), ...Object.keys(w.roots)])) {
    const a = from[sub], b = w.roots[sub];
    n += (await diffTrees(loadA, loadB, a?.tree, b?.tree)).length;
    if (a && b && (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid)) n++;
  }
  return n;
}

/** True when commit a is b or one of its ancestors. */
export async function isAncestor(engine: Engine, a: string, b: string): Promise<boolean> {
  const seen = new Set<string>();
  const todo = [b];
  while (todo.length) {
    const id = todo.pop()!;
    if (id === a) return true;
    if (seen.has(id) || !engine.objects.has(id)) continue;
    seen.add(id);
    todo.push(...(await engine.readCommit(id)).parents);
  }
  return false;
}

/** Result of moving a branch. */
export interface MoveResult { from: string | null; to: string; discarded: number; trashed?: string }

/**
 * Moves a branch (current or not) from `expected` to `to` and rebuilds its working state, like
 * reset: uncommitted work is refused unless `force`, which sets it aside in the dot's trash
 * (undo brings it back for the current branch). Callers hold the lock and stop containers.
 */
export async function moveBranch(engine: Engine, dot: string, branch: string, expected: string | null, to: string, opts: { force?: boolean; op: 'pull' | 'import'; onProgress?: (p: ProgressEvent) => void }): Promise<MoveResult> {
  return engine.withLock(`${opts.op} ${dot} ${branch}`, async () => {
    const from = await engine.requireBranch(dot, branch);
    if (from !== expected) throw new DmError('CONCURRENT_UPDATE', `Branch "${branch}" of dot "${dot}" moved while this ${opts.op} ran.`, 'Run it again.');
    const dirty = await dirtyFiles(engine, dot, branch);
    if (dirty && !opts.force) {
      throw new DmError('DIRTY_WORKING_STATE', `Branch "${branch}" of dot "${dot}" has ${dirty} uncommitted change(s); the ${opts.op} would overwrite them.`, 'Commit them first (dm commit -m ...), or add --force: the working state is then kept in the trash and "dm undo" brings it back.');
    }
    const oldGen = (await engine.genOf(dot, branch))!;
    const { gen, files } = await buildGen(engine, dot, to, { reuseGen: dirty ? undefined : oldGen, extraSubdots: await engine.subdotNames(dot, branch), onProgress: opts.onProgress, op: opts.op });
    const trashOld = dirty ? path.join(engine.dotDir(dot), 'trash', `work-${branch}-${Date.now()}`) : undefined;
    const j: Journal = { op: 'reset', branch, gen, oldGen, from, to, trashOld };
    // Why a journal: ref and working link move together; a crash in between is rolled forward.
    await atomicWrite(engine.journalPath(dot), JSON.stringify(j));
    await engine.applyJournal(dot, j);
    await engine.appendReflog(dot, branch, from, to, opts.op, `${opts.op} to ${to.slice(0, 12)}`);
    await cacheGen(engine, dot, gen, files);
    await fsp.rm(engine.journalPath(dot), { force: true });
    if ((await engine.currentBranch(dot)) === branch) {
      await engine.logOp({ op: 'pull', dot, branch, from, to, trash: trashOld, summary: `${opts.op} ${dot}/${branch}: ${from?.slice(0, 12) ?? '(none)'} -> ${to.slice(0, 12)}` });
    }
    return { from, to, discarded: dirty, trashed: trashOld };
  });
}
