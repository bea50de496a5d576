import * as path from 'node:path';
import type { DiffResult, FileChange, SubdotDiff } from '../contract/models';
import { Engine } from './store';
import { Tree, TreeEntry, SubdotRoot } from './model';
import { snapshotDir } from './snapshot';
import { TreeLoader, treeLoader } from './materialize';

function entrySize(e: TreeEntry | undefined): number { return e && e.type === 'file' ? e.size : 0; }

function sameEntry(a: TreeEntry, b: TreeEntry): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'file' && b.type === 'file') return a.size === b.size && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.mtime === b.mtime && a.chunks.length === b.chunks.length && a.chunks.every((c, i) => c === b.chunks[i]);
  if (a.type === 'symlink' && b.type === 'symlink') return a.target === b.target && a.uid === b.uid && a.gid === b.gid;
  if (a.type === 'hardlink' && b.type === 'hardlink') return a.link === b.link;
  if (a.type === 'fifo' && b.type === 'fifo') return a.mode === b.mode && a.uid === b.uid && a.gid === b.gid;
  return false;
}

/** Lists every file (not directory) of a tree, for added/deleted subtrees. */
async function allFiles(load: TreeLoader, treeId: string, prefix: string, change: 'added' | 'deleted', out: FileChange[]): Promise<void> {
  const t = await load(treeId);
  for (const e of t.entries) {
    const p = prefix + e.name;
    if (e.type === 'dir') await allFiles(load, e.tree, p + '/', change, out);
    else out.push({ path: p, change, size: entrySize(e), type: e.type });
  }
}

/** Compares two trees; equal subtree ids are skipped without reading them. */
export async function diffTrees(loadA: TreeLoader, loadB: TreeLoader, a: string | undefined, b: string | undefined, prefix = '', out: FileChange[] = []): Promise<FileChange[]> {
  if (a === b) return out;
  if (!a) { if (b) await allFiles(loadB, b, prefix, 'added', out); return out; }
  if (!b) { await allFiles(loadA, a, prefix, 'deleted', out); return out; }
  const ta: Tree = await loadA(a);
  const tb: Tree = await loadB(b);
  const mb = new Map(tb.entries.map((e) => [e.name, e]));
  const ma = new Map(ta.entries.map((e) => [e.name, e]));
  for (const ea of ta.entries) {
    const eb = mb.get(ea.name);
    const p = prefix + ea.name;
    if (!eb) { if (ea.type === 'dir') await allFiles(loadA, ea.tree, p + '/', 'deleted', out); else out.push({ path: p, change: 'deleted', size: entrySize(ea), type: ea.type }); continue; }
    if (ea.type === 'dir' && eb.type === 'dir') { await diffTrees(loadA, loadB, ea.tree, eb.tree, p + '/', out); continue; }
    if (ea.type === 'dir') { await allFiles(loadA, ea.tree, p + '/', 'deleted', out); out.push({ path: p, change: 'added', size: entrySize(eb), type: eb.type }); continue; }
    if (eb.type === 'dir') { out.push({ path: p, change: 'deleted', size: entrySize(ea), type: ea.type }); await allFiles(loadB, eb.tree, p + '/', 'added', out); continue; }
    if (!sameEntry(ea, eb)) out.push({ path: p, change: 'modified', size: entrySize(eb), oldSize: entrySize(ea), type: eb.type });
  }
  for (const eb of tb.entries) {
    if (ma.has(eb.name)) continue;
    const p = prefix + eb.name;
    if (eb.type === 'dir') await allFiles(loadB, eb.tree, p + '/', 'added', out); else out.push({ path: p, change: 'added', size: entrySize(eb), type: eb.type });
  }
  return out;
}

function summarize(subdot: string, changes: FileChange[]): SubdotDiff {
  return {
    subdot, changes,
    added: changes.filter((c) => c.change === 'added').length,
    modified: changes.filter((c) => c.change === 'modified').length,
    deleted: changes.filter((c) => c.change === 'deleted').length,
    bytes: changes.reduce((s, c) => s + (c.change === 'deleted' ? c.oldSize ?? c.size : c.size), 0),
  };
}

/** Reads the current branch's working state without storing anything (ids only, stat cache used). */
export async function workingRoots(engine: Engine, dot: string, branch: string): Promise<{ roots: Record<string, SubdotRoot>; trees: Map<string, Buffer> }> {
  const gen = (await engine.genOf(dot, branch))!;
  const caches = await engine.readCache(dot, gen);
  const roots: Record<string, SubdotRoot> = {};
  const trees = new Map<string, Buffer>();
  for (const sub of await engine.subdotNames(dot, branch)) {
    const r = await snapshotDir(path.join(engine.genDir(dot, gen), sub), { chunkSize: engine.chunkSize, store: null, hash: engine.hash, cache: caches[sub], treesIn: engine.objects });
    roots[sub] = r.root;
    for (const [k, v] of r.trees) trees.set(k, v);
  }
  return { roots, trees };
}

/**
 * Differences per subdot between two commits, or between a commit and the working state
 * (to = undefined). Only files are listed; directories follow from their paths.
 */
export async function diff(engine: Engine, dot: string, fromSpec?: string, toSpec?: string): Promise<DiffResult> {
  return (await diffWith(engine, dot, fromSpec, toSpec)).result;
}

/** Files and bytes of a subdot's working state (regular files; a hard-linked file once). */
export interface SubdotUsage { files: number; bytes: number }

/**
 * Status, and what the walk it takes counted on the way: the files and bytes of each subdot's
 * working state (what dirUsage would count, without walking the files a second time).
 */
export async function statusWithUsage(engine: Engine, dot: string): Promise<{ status: DiffResult; usage: Record<string, SubdotUsage> }> {
  const { result, toRoots } = await diffWith(engine, dot);
  const usage: Record<string, SubdotUsage> = {};
  for (const [sub, r] of Object.entries(toRoots)) usage[sub] = { files: r.files, bytes: r.bytes };
  return { status: result, usage };
}

async function diffWith(engine: Engine, dot: string, fromSpec?: string, toSpec?: string): Promise<{ result: DiffResult; toRoots: Record<string, SubdotRoot> }> {
  await engine.requireDot(dot);
  const branch = await engine.currentBranch(dot);
  const from = fromSpec ? await engine.resolveCommit(dot, fromSpec) : ((await engine.readRef(dot, branch)) ?? null);
  const fromRoots = from ? (await engine.readCommit(from)).subdots : {};
  let toRoots: Record<string, SubdotRoot>;
  let loadB: TreeLoader;
  let to: string | null = null;
  if (toSpec) {
    to = await engine.resolveCommit(dot, toSpec);
    toRoots = (await engine.readCommit(to)).subdots;
    loadB = treeLoader(engine.objects);
  } else {
    const w = await workingRoots(engine, dot, branch);
    toRoots = w.roots;
    loadB = treeLoader(engine.objects, w.trees);
  }
  const loadA = treeLoader(engine.objects);
  const subdots: SubdotDiff[] = [];
  for (const sub of [...new Set([...Object.keys(fromRoots), ...Object.keys(toRoots)])].sort()) {
    const a = fromRoots[sub], b = toRoots[sub];
    const changes = await diffTrees(loadA, loadB, a?.tree, b?.tree);
    // The subdot root's own metadata (e.g. PostgreSQL's 0700 data dir) counts too.
    if (a && b && changes.length === 0 && (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid)) changes.push({ path: '.', change: 'modified', size: 0, type: 'dir' });
    subdots.push(summarize(sub, changes));
  }
  return { result: { from, to, dirty: subdots.some((s) => s.changes.length > 0), subdots }, toRoots };
}

/** Status: the working state of the current branch against its head commit. */
export async function status(engine: Engine, dot: string): Promise<DiffResult> {
  return diff(engine, dot);
}
