import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { DmError } from '../contract/errors';
import type { ProgressEvent } from '../contract/models';
import { Engine, Journal, isDamagedRef } from './store';
import { atomicWrite } from './fsutil';
import { buildGen, cacheGen } from './materialize-commit';
import { status } from './diff';

/** Result of a reset. */
export interface ResetResult { dot: string; branch: string; from: string | null; to: string; discarded: number; trashed?: string }

/**
 * Moves the current branch to a commit and makes the working state match it.
 * Refuses to drop uncommitted changes unless `force`; even then the old working state
 * is kept in the dot's trash so "dm undo" brings it back. Commits left behind stay
 * reachable through the reflog.
 */
export async function reset(engine: Engine, dot: string, spec: string, opts: { force?: boolean; onProgress?: (p: ProgressEvent) => void; op?: 'reset' | 'pull' } = {}): Promise<ResetResult> {
  await engine.requireDot(dot);
  return engine.withLock('reset ' + dot, async () => {
    const branch = await engine.currentBranch(dot);
    let from: string | null;
    try { from = await engine.requireBranch(dot, branch); } catch (e) {
      if (!isDamagedRef(e) || !opts.force || opts.op === 'pull') throw e;
      // A ref that holds no commit id: --force puts the commit asked for in its place and leaves
      // the working state as it is (nothing in it is touched); what differs from that commit
      // then shows as uncommitted changes. The reflog records the repair.
      const to = await engine.resolveCommit(dot, spec);
      await engine.writeRef(dot, branch, to);
      await engine.appendReflog(dot, branch, null, to, 'repair', `damaged ref set to ${to.slice(0, 12)}`);
      return { dot, branch, from: null, to, discarded: 0 };
    }
    const to = await engine.resolveCommit(dot, spec);
    const st = await status(engine, dot);
    const dirtyFiles = st.subdots.reduce((n, s) => n + s.changes.length, 0);
    if (st.dirty && !opts.force) {
      throw new DmError('DIRTY_WORKING_STATE', `Branch "${branch}" of dot "${dot}" has ${dirtyFiles} uncommitted change(s).`, 'Commit them first (dm commit -m ...), or use --force: the working state is then kept in the trash and "dm undo" brings it back.');
    }
    const oldGen = (await engine.genOf(dot, branch))!;
    const { gen, files } = await buildGen(engine, dot, to, {
      // Why reuse only a clean old gen: hard-linked files are shared until the old gen is removed.
      reuseGen: st.dirty ? undefined : oldGen,
      extraSubdots: await engine.subdotNames(dot, branch), onProgress: opts.onProgress, op: opts.op ?? 'reset',
    });
    const trashOld = st.dirty ? path.join(engine.dotDir(dot), 'trash', `work-${branch}-${Date.now()}`) : undefined;
    const j: Journal = { op: 'reset', branch, gen, oldGen, from, to, trashOld };
    // Why a journal: ref and working link move together; a crash in between is rolled forward.
    await atomicWrite(engine.journalPath(dot), JSON.stringify(j));
    await engine.applyJournal(dot, j);
    await engine.appendReflog(dot, branch, from, to, opts.op ?? 'reset', `${opts.op ?? 'reset'} to ${to.slice(0, 12)}`);
    await cacheGen(engine, dot, gen, files);
    await fsp.rm(engine.journalPath(dot), { force: true });
    await engine.logOp({ op: opts.op ?? 'reset', dot, branch, from, to, trash: trashOld, summary: `${opts.op ?? 'reset'} ${dot}/${branch}: ${from?.slice(0, 12) ?? '(none)'} -> ${to.slice(0, 12)}` });
    return { dot, branch, from, to, discarded: st.dirty ? dirtyFiles : 0, trashed: trashOld };
  });
}
