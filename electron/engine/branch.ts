import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { DmError, toErrorInfo } from '../contract/errors';
import { validateName } from '../contract/names';
import type { BranchInfo } from '../contract/models';
import { Engine, isDamagedRef } from './store';
import { mkdirp, fsyncDir, atomicSymlink, removeTree } from './fsutil';

/** Branches of a dot with their heads and commit counts. */
export async function listBranches(engine: Engine, dot: string): Promise<BranchInfo[]> {
  await engine.requireDot(dot);
  const current = await engine.currentBranch(dot);
  const out: BranchInfo[] = [];
  for (const name of await engine.branchNames(dot)) {
    let head: string | null;
    try { head = (await engine.readRef(dot, name)) ?? null; } catch (e) {
      if (!isDamagedRef(e)) throw e;
      out.push({ name, current: name === current, head: null, commits: 0, damaged: toErrorInfo(e) });
      continue;
    }
    out.push({ name, current: name === current, head, commits: head ? (await engine.commitInfo(head)).depth : 0 });
  }
  return out;
}

/**
 * Deletes a branch. Its ref, reflog and working state move to the dot's trash (so "dm undo"
 * restores it and gc keeps its commits until the trash is emptied).
 */
export async function deleteBranch(engine: Engine, dot: string, branch: string): Promise<{ trash: string }> {
  validateName('branch', branch);
  await engine.requireDot(dot);
  return engine.withLock('branch -d ' + dot + ' ' + branch, async () => {
    await engine.requireBranch(dot, branch);
    if ((await engine.currentBranch(dot)) === branch) throw new DmError('BRANCH_IS_CURRENT', `"${branch}" is the current branch of "${dot}".`, 'Check out another branch first (dm checkout master).');
    const trash = path.join(engine.dotDir(dot), 'trash', `branch-${branch}-${Date.now()}`);
    await mkdirp(trash);
    const gen = await engine.genOf(dot, branch);
    // Why this order: the ref goes last, so an interrupted delete leaves a branch that still works.
    if (gen) await fsp.rename(engine.genDir(dot, gen), path.join(trash, 'work'));
    await fsp.rm(engine.workLink(dot, branch), { force: true });
    await fsp.rename(engine.logPath(dot, branch), path.join(trash, 'log')).catch(() => {});
    await fsp.rename(engine.refPath(dot, branch), path.join(trash, 'ref'));
    await fsyncDir(path.join(engine.dotDir(dot), 'refs'));
    await engine.logOp({ op: 'branch-delete', dot, branch, trash, summary: `delete branch ${branch} of ${dot}` });
    return { trash };
  });
}

/** Restores a deleted branch from the trash (used by undo). */
export async function restoreBranch(engine: Engine, dot: string, branch: string, trash: string): Promise<void> {
  if ((await engine.readRef(dot, branch)) !== undefined) throw new DmError('BRANCH_EXISTS', `A branch "${branch}" exists again in "${dot}"; the deleted one stays in ${trash}.`);
  const gen = 'restored-' + Date.now().toString(36);
  await fsp.rename(path.join(trash, 'work'), engine.genDir(dot, gen)).catch(async () => { await mkdirp(engine.genDir(dot, gen)); });
  await fsp.rename(path.join(trash, 'log'), engine.logPath(dot, branch)).catch(() => {});
  await atomicSymlink(path.join('..', 'gens', gen), engine.workLink(dot, branch));
  await fsp.rename(path.join(trash, 'ref'), engine.refPath(dot, branch));
  await removeTree(trash);
}
