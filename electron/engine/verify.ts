import * as path from 'node:path';
import { promises as fsp } from 'node:fs';
import type { VerifyReport } from '../contract/models';
import { Engine } from './store';
import { scanPack } from './pack-store';
import { decode } from './compress';
import { objectId, isObjectId } from './objects';
import type { DmError } from '../contract/errors';
import { decodeCommit, decodeTree } from './model';

/** Every root the store has: branch heads, reflogs, the operation log and trashed refs, with their owners. */
export async function storeRoots(engine: Engine, opts: { includeTrash?: boolean } = {}): Promise<{ id: string; dot: string; branch: string }[]> {
  const roots: { id: string; dot: string; branch: string }[] = [];
  const addDotDir = async (dot: string, dir: string) => {
    for (const b of await fsp.readdir(path.join(dir, 'refs')).catch(() => [] as string[])) {
      const id = (await fsp.readFile(path.join(dir, 'refs', b), 'utf8').catch(() => '')).trim();
      if (id) roots.push({ id, dot, branch: b });
    }
    for (const b of await fsp.readdir(path.join(dir, 'logs')).catch(() => [] as string[])) {
      const s = await fsp.readFile(path.join(dir, 'logs', b), 'utf8').catch(() => '');
      for (const l of s.split('\n')) { try { const e = JSON.parse(l); if (e.to) roots.push({ id: e.to, dot, branch: b }); if (e.from) roots.push({ id: e.from, dot, branch: b }); } catch { /* torn line */ } }
    }
    if (opts.includeTrash !== false) {
      for (const t of await fsp.readdir(path.join(dir, 'trash')).catch(() => [] as string[])) {
        const id = (await fsp.readFile(path.join(dir, 'trash', t, 'ref'), 'utf8').catch(() => '')).trim();
        if (id) roots.push({ id, dot, branch: '(deleted) ' + t });
        const s = await fsp.readFile(path.join(dir, 'trash', t, 'log'), 'utf8').catch(() => '');
        for (const l of s.split('\n')) { try { const e = JSON.parse(l); if (e.to) roots.push({ id: e.to, dot, branch: '(deleted) ' + t }); } catch { /* torn */ } }
      }
    }
  };
  for (const d of await engine.dotNames()) await addDotDir(d, engine.dotDir(d));
  if (opts.includeTrash !== false) {
    for (const t of await fsp.readdir(path.join(engine.home, 'trash')).catch(() => [] as string[])) await addDotDir('(deleted) ' + t, path.join(engine.home, 'trash', t));
  }
  for (const op of await engine.ops()) {
    // Undo entries are roots only while undo could still use them: their dot exists, or its trash does.
    const trashKept = opts.includeTrash !== false && !!op.trash && (await fsp.stat(op.trash).then(() => true, () => false));
    const branchLives = (await engine.hasDot(op.dot)) && (!op.branch || (await engine.readRef(op.dot, op.branch).catch(() => undefined)) !== undefined);
    if (op.undone || !(branchLives || trashKept)) continue;
    if (op.from) roots.push({ id: op.from, dot: op.dot, branch: op.branch ?? '' });
    if (op.to) roots.push({ id: op.to, dot: op.dot, branch: op.branch ?? '' });
  }
  return roots;
}

/**
 * Walks everything reachable from `roots`, calling visit(id) once per object.
 * Returns ids that are referenced but missing or unreadable.
 */
export async function walkReachable(engine: Engine, roots: string[], visit: (id: string) => void, bad: Set<string> = new Set()): Promise<Set<string>> {
  const seen = new Set<string>();
  const missing = new Set<string>();
  const todo = [...roots];
  const treeTodo: string[] = [];
  while (todo.length) {
    const id = todo.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    if (!engine.objects.has(id) || bad.has(id)) { missing.add(id); continue; }
    visit(id);
    try {
      const c = decodeCommit(await engine.objects.get(id), id);
      todo.push(...c.parents);
      for (const r of Object.values(c.subdots)) treeTodo.push(r.tree);
    } catch { missing.add(id); }
  }
  while (treeTodo.length) {
    const id = treeTodo.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    if (!engine.objects.has(id) || bad.has(id)) { missing.add(id); continue; }
    visit(id);
    let t;
    try { t = decodeTree(await engine.objects.get(id), id); } catch { missing.add(id); continue; }
    for (const e of t.entries) {
      if (e.type === 'dir') treeTodo.push(e.tree);
      else if (e.type === 'file') for (const c of e.chunks) {
        if (seen.has(c)) continue;
        seen.add(c);
        if (!engine.objects.has(c) || bad.has(c)) missing.add(c); else visit(c);
      }
    }
  }
  return missing;
}

/** Re-hashes every stored object and checks that every branch reaches complete data. */
export async function verify(engine: Engine): Promise<VerifyReport> {
  // Under the lock: interrupted operations are completed first, and gc cannot run meanwhile.
  return engine.withLock('verify', () => verifyLocked(engine));
}

async function verifyLocked(engine: Engine): Promise<VerifyReport> {
  const report: VerifyReport = { ok: true, objects: 0, bytes: 0, damaged: [], missing: [], affected: [] };
  const bad = new Set<string>();
  for (const pack of await engine.objects.packs()) {
    for await (const r of scanPack(pack)) {
      if ('damage' in r) { report.damaged.push({ id: r.damage.id, pack: path.basename(pack), problem: r.damage.problem }); continue; }
      report.objects++;
      report.bytes += r.loc.size;
      let ok = false;
      try { const d = await decode(r.loc.codec, r.bytes); ok = d.length === r.loc.size && objectId(r.loc.type, d, engine.hash) === r.id; } catch { ok = false; }
      if (!ok) { bad.add(r.id); report.damaged.push({ id: r.id, pack: path.basename(pack), problem: `${r.loc.type} does not match its hash` }); }
    }
  }
  const roots = await storeRoots(engine);
  const byRoot = new Map<string, { dot: string; branch: string }[]>();
  for (const r of roots) byRoot.set(r.id, [...(byRoot.get(r.id) ?? []), r]);
  const allMissing = new Set<string>();
  let damagedRefs = 0;
  for (const [id, owners] of byRoot) {
    if (!isObjectId(id)) {
      // A ref that holds no commit id names no object: said as such, with how to repair it.
      for (const o of owners) {
        const hint = o.dot.startsWith('(deleted)') ? undefined : await engine.readRef(o.dot, o.branch).then(() => undefined, (e) => (e as DmError).hint);
        report.affected.push({ dot: o.dot, branch: o.branch, reason: `its ref is damaged (it holds no commit id)${hint ? `. ${hint}` : ''}` });
        damagedRefs++;
      }
      continue;
    }
    const missing = await walkReachable(engine, [id], () => {}, bad);
    if (missing.size) {
      for (const m of missing) allMissing.add(m);
      for (const o of owners) report.affected.push({ dot: o.dot, branch: o.branch, reason: `${missing.size} object(s) missing or damaged below commit ${id.slice(0, 12)}` });
    }
  }
  report.missing = [...allMissing].filter((m) => !bad.has(m));
  report.affected = report.affected.filter((a, i, arr) => arr.findIndex((b) => b.dot === a.dot && b.branch === a.branch) === i);
  report.ok = report.damaged.length === 0 && allMissing.size === 0 && damagedRefs === 0;
  return report;
}
