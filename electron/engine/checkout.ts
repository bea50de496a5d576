import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { DmError } from '../contract/errors';
import { validateName, validateNewBranch } from '../contract/names';
import type { ProgressEvent } from '../contract/models';
import { Engine, Journal } from './store';
import { atomicWrite } from './fsutil';
import { buildGen, cacheGen } from './materialize-commit';

/** Result of a checkout. */
export interface CheckoutResult { dot: string; from: string; to: string; created: boolean; head: string | null }

/**
 * Switches the dot's current branch. Each branch keeps its own working state, so uncommitted
 * changes stay with their branch (Dotmesh behaviour) and switching is O(1) in data size.
 * With create, the new branch starts from the current branch's latest commit (or `from`).
 */
export async function checkout(engine: Engine, dot: string, branch: string, opts: { create?: boolean; from?: string; onProgress?: (p: ProgressEvent) => void } = {}): Promise<CheckoutResult> {
  validateName('branch', branch);
  await engine.requireDot(dot);
  return engine.withLock('checkout ' + dot + ' ' + branch, async () => {
    const current = await engine.currentBranch(dot);
    // A branch whose ref is damaged can still be checked out, to be repaired (dm reset --force).
    const head = await engine.peekRef(dot, branch);
    const exists = head !== undefined;
    if (!opts.create) {
      if (!exists) throw new DmError('BRANCH_NOT_FOUND', `Dot "${dot}" has no branch "${branch}".`, `Use "dm checkout -b ${branch}" to create it from the latest commit.`);
      if (branch !== current) {
        await atomicWrite(path.join(engine.dotDir(dot), 'HEAD'), branch + '\n');
        await engine.logOp({ op: 'checkout', dot, branch, fromBranch: current, summary: `checkout ${dot}: ${current} -> ${branch}` });
      }
      return { dot, from: current, to: branch, created: false, head: head ?? null };
    }
    if (exists) throw new DmError('BRANCH_EXISTS', `Dot "${dot}" already has a branch "${branch}".`, `Use "dm checkout ${branch}" to switch to it.`);
    validateNewBranch(branch);
    const start = opts.from ? await engine.resolveCommit(dot, opts.from) : ((await engine.readRef(dot, current)) ?? null);
    const { gen, files } = await buildGen(engine, dot, start, { extraSubdots: await engine.subdotNames(dot, current), onProgress: opts.onProgress, op: 'checkout' });
    const j: Journal = { op: 'create-branch', branch, gen, from: null, to: start, setHead: true };
    // Why a journal: ref, working link and HEAD change together; a crash in between is rolled forward.
    await atomicWrite(engine.journalPath(dot), JSON.stringify(j));
    await engine.applyJournal(dot, j);
    await engine.appendReflog(dot, branch, null, start, 'branch', `created from ${opts.from ?? current}`);
    await cacheGen(engine, dot, gen, files);
    await fsp.rm(engine.journalPath(dot), { force: true });
    await engine.logOp({ op: 'checkout', dot, branch, fromBranch: current, to: start, summary: `checkout -b ${branch} on ${dot} (from ${current})` });
    return { dot, from: current, to: branch, created: true, head: start };
  });
}

/** Creates a branch at a commit without switching to it. */
export async function createBranch(engine: Engine, dot: string, branch: string, from?: string, onProgress?: (p: ProgressEvent) => void): Promise<void> {
  validateNewBranch(branch);
  await engine.requireDot(dot);
  await engine.withLock('branch ' + dot + ' ' + branch, async () => {
    if ((await engine.readRef(dot, branch)) !== undefined) throw new DmError('BRANCH_EXISTS', `Dot "${dot}" already has a branch "${branch}".`);
    const current = await engine.currentBranch(dot);
    const start = from ? await engine.resolveCommit(dot, from) : ((await engine.readRef(dot, current)) ?? null);
    const { gen, files } = await buildGen(engine, dot, start, { extraSubdots: await engine.subdotNames(dot, current), onProgress, op: 'branch' });
    const j: Journal = { op: 'create-branch', branch, gen, from: null, to: start };
    await atomicWrite(engine.journalPath(dot), JSON.stringify(j));
    await engine.applyJournal(dot, j);
    await engine.appendReflog(dot, branch, null, start, 'branch', `created from ${from ?? current}`);
    await cacheGen(engine, dot, gen, files);
    await fsp.rm(engine.journalPath(dot), { force: true });
  });
}
