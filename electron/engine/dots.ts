import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { DmError, toErrorInfo, type ErrorInfo } from '../contract/errors';
import type { DotSummary, DotDetails, CommitInfo, DiffResult } from '../contract/models';
import { Engine, isDamagedRef } from './store';
import { mkdirp, fsyncDir } from './fsutil';
import { dirUsage } from './commit';
import { statusWithUsage, type SubdotUsage } from './diff';
import { listBranches } from './branch';

/** The working state's changes and sizes, or the error that kept the changes from being computed. */
async function statusOrError(engine: Engine, dot: string): Promise<{ status: DiffResult | null; usage?: Record<string, SubdotUsage>; statusError?: ErrorInfo }> {
  try { return await statusWithUsage(engine, dot); } catch (e) {
    // Only what is wrong with the files themselves; a broken store or a bug still fails the call.
    const info = toErrorInfo(e);
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof DmError ? e.code === 'UNSUPPORTED_FILE' || e.code === 'PERMISSION_DENIED' : code === 'EACCES' || code === 'EPERM') return { status: null, statusError: info };
    throw e;
  }
}

function summaryOf(dot: string, current: string | undefined, parts: { branch: string; head: string | null; depth: number; bytes: number; subdots: string[] }, st?: { status: DiffResult | null; statusError?: ErrorInfo }): DotSummary {
  let dirtyBytes = 0, dirtyFiles = 0;
  for (const s of st?.status?.subdots ?? []) { dirtyBytes += s.bytes; dirtyFiles += s.changes.length; }
  return {
    name: dot, current: dot === current, branch: parts.branch, head: parts.head, commits: parts.depth, bytes: parts.bytes,
    dirtyBytes, dirtyFiles, ...(st?.statusError ? { statusError: st.statusError } : {}), subdots: parts.subdots, containers: [],
  };
}

async function summaryParts(engine: Engine, dot: string): Promise<{ branch: string; head: string | null; depth: number; root: string; subdots: string[]; refError?: ErrorInfo }> {
  await engine.requireDot(dot);
  const branch = await engine.currentBranch(dot);
  let head: string | null;
  // A damaged ref: the dot is still listed, with the error and how to repair it, instead of
  // failing the whole list (and the app's sidebar) on one file.
  try { head = (await engine.readRef(dot, branch)) ?? null; } catch (e) {
    if (!isDamagedRef(e)) throw e;
    return { branch, head: null, depth: 0, root: await engine.workRoot(dot, branch), subdots: await engine.subdotNames(dot, branch), refError: toErrorInfo(e) };
  }
  return { branch, head, depth: head ? (await engine.commitInfo(head)).depth : 0, root: await engine.workRoot(dot, branch), subdots: await engine.subdotNames(dot, branch) };
}

/** Summary of one dot (containers are filled in by the Docker layer). */
export async function dotSummary(engine: Engine, dot: string, current?: string, opts: { dirty?: boolean } = {}): Promise<DotSummary> {
  const p = await summaryParts(engine, dot);
  const st = p.refError ? { status: null, statusError: p.refError } : opts.dirty === false ? undefined : await statusOrError(engine, dot);
  // The status walk counted the sizes; without it (not asked for, or it failed) they are walked.
  const bytes = st?.usage ? Object.values(st.usage).reduce((n, u) => n + u.bytes, 0) : (await dirUsage(p.root)).bytes;
  return summaryOf(dot, current, { ...p, bytes }, st);
}

/** All dots. */
export async function listDots(engine: Engine, opts: { dirty?: boolean } = {}): Promise<DotSummary[]> {
  const current = await engine.currentDot();
  const out: DotSummary[] = [];
  for (const d of await engine.dotNames()) {
    if (!(await engine.hasDot(d))) continue;
    out.push(await dotSummary(engine, d, current, opts));
  }
  return out;
}

/** Everything about one dot, with its uncommitted changes: one walk of its files gives both. */
export async function showDot(engine: Engine, dot: string): Promise<DotDetails> {
  const p = await summaryParts(engine, dot);
  const st: Awaited<ReturnType<typeof statusOrError>> = p.refError ? { status: null, statusError: p.refError } : await statusOrError(engine, dot);
  const subdotInfo = [];
  let bytes = 0;
  for (const name of p.subdots) {
    const u = st.usage?.[name] ?? (await dirUsage(path.join(p.root, name)));
    bytes += u.bytes;
    subdotInfo.push({ name, path: await fsp.realpath(path.join(p.root, name)), bytes: u.bytes, files: u.files, containers: [] });
  }
  const s = summaryOf(dot, await engine.currentDot(), { ...p, bytes }, st);
  return { ...s, subdotInfo, branches: await listBranches(engine, dot), created: await engine.dotCreated(dot), status: st.status };
}

/**
 * Deletes a dot: it moves to the store's trash (undo restores it; gc keeps its data until
 * "dm gc --empty-trash"). Never deletes data outright.
 */
export async function deleteDot(engine: Engine, dot: string): Promise<{ trash: string }> {
  await engine.requireDot(dot);
  return engine.withLock('dot delete ' + dot, async () => {
    const trash = path.join(engine.home, 'trash', `${dot}-${Date.now()}`);
    await mkdirp(path.dirname(trash));
    await fsp.rename(engine.dotDir(dot), trash);
    await fsyncDir(path.join(engine.home, 'dots'));
    if ((await engine.currentDot()) === undefined) await fsp.rm(path.join(engine.home, 'current'), { force: true });
    await engine.logOp({ op: 'dot-delete', dot, trash, summary: `delete dot ${dot}` });
    return { trash };
  });
}

/** Restores a deleted dot from the trash (used by undo). */
export async function restoreDot(engine: Engine, dot: string, trash: string): Promise<void> {
  if (await engine.hasDot(dot)) throw new DmError('DOT_EXISTS', `A dot "${dot}" exists again; the deleted one stays in ${trash}.`);
  await fsp.rename(trash, engine.dotDir(dot));
}

/** Commit history of a branch (first parents), newest first. */
export async function log(engine: Engine, dot: string, opts: { branch?: string; limit?: number; offset?: number } = {}): Promise<CommitInfo[]> {
  await engine.requireDot(dot);
  const branch = opts.branch ?? (await engine.currentBranch(dot));
  let id = await engine.requireBranch(dot, branch);
  const out: CommitInfo[] = [];
  const limit = opts.limit ?? Infinity;
  let skip = opts.offset ?? 0;
  // Skipping goes through the parent cache (commits are immutable), so paging deep into a long
  // history reads only the commits of the page asked for.
  while (id && skip > 0) {
    let parent = engine.firstParent.get(id);
    if (parent === undefined) { parent = (await engine.readCommit(id)).parents[0] ?? null; engine.firstParent.set(id, parent); }
    id = parent;
    skip--;
  }
  while (id && out.length < limit) {
    const c = await engine.readCommit(id);
    engine.firstParent.set(id, c.parents[0] ?? null);
    out.push(await engine.commitInfo(id, c));
    id = c.parents[0] ?? null;
  }
  return out;
}
