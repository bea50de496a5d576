import { DmError } from '../contract/errors';
import { Tree, TreeEntry, decodeTree, decodeCommit, Commit } from '../engine/model';

/** Loads the raw bytes of a tree (received ones first, then the local store). */
export type RawLoader = (id: string) => Promise<Buffer>;

/** Parses a tree from outside and refuses duplicate names (a name that is both a symlink and a directory). */
export function checkedTree(buf: Buffer, id: string): Tree {
  const t = decodeTree(buf, id);
  const names = new Set<string>();
  for (const e of t.entries) {
    if (names.has(e.name)) throw new DmError('UNSAFE_PATH', `Tree ${id.slice(0, 12)} has the name ${JSON.stringify(e.name)} twice.`, 'The data comes from a damaged or hostile source and was refused.');
    names.add(e.name);
  }
  return t;
}

/** Parses a commit from outside. */
export function checkedCommit(buf: Buffer, id: string): Commit {
  const c = decodeCommit(buf, id);
  if (!c.parents.every((p) => typeof p === 'string' && /^[0-9a-f]{64}$/.test(p))) throw new DmError('STORE_CORRUPT', `Commit ${id.slice(0, 12)} has malformed parents.`);
  return c;
}

/** Ids an object refers to (what must exist before it is accepted). */
export function dependencies(type: 'chunk' | 'tree' | 'commit', data: Buffer, id: string): string[] {
  if (type === 'chunk') return [];
  if (type === 'commit') { const c = checkedCommit(data, id); return [...c.parents, ...Object.values(c.subdots).map((r) => r.tree)]; }
  const out: string[] = [];
  for (const e of checkedTree(data, id).entries) {
    if (e.type === 'dir') out.push(e.tree);
    else if (e.type === 'file') out.push(...e.chunks);
  }
  return out;
}

/**
 * Checks that a subdot's tree cannot write outside the subdot when materialized: entry names
 * are single safe components (decodeTree), no name appears twice, and every hard link names a
 * regular file reached through directories only (never through a symlink, which could point
 * anywhere on the receiving machine).
 */
export async function validateSubdot(load: RawLoader, rootTree: string, subdot: string, seenTrees: Map<string, Map<string, string>> = new Map()): Promise<void> {
  // path -> kind, for every entry of the subdot
  const kinds = new Map<string, string>();
  const links: { at: string; link: string }[] = [];
  const walk = async (treeId: string, prefix: string, depth: number) => {
    if (depth > 4096) throw new DmError('UNSAFE_PATH', `Subdot ${subdot} nests directories deeper than 4096 levels.`);
    const t = checkedTree(await load(treeId), treeId);
    for (const e of t.entries as TreeEntry[]) {
      const p = prefix ? prefix + '/' + e.name : e.name;
      kinds.set(p, e.type);
      if (e.type === 'dir') await walk(e.tree, p, depth + 1);
      else if (e.type === 'hardlink') links.push({ at: p, link: e.link });
    }
  };
  void seenTrees;
  await walk(rootTree, '', 0);
  for (const l of links) {
    const parts = l.link.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (kinds.get(dir) !== 'dir') throw new DmError('UNSAFE_PATH', `Hard link ${subdot}/${l.at} goes through ${JSON.stringify(dir)}, which is not a directory of the subdot.`, 'The data comes from a damaged or hostile source and was refused.');
    }
    if (kinds.get(l.link) !== 'file') throw new DmError('UNSAFE_PATH', `Hard link ${subdot}/${l.at} does not name a file of the subdot (${JSON.stringify(l.link)}).`, 'The data comes from a damaged or hostile source and was refused.');
  }
}

/** Validates every subdot of a commit (see validateSubdot). */
export async function validateCommit(load: RawLoader, commitId: string): Promise<Commit> {
  const c = checkedCommit(await load(commitId), commitId);
  for (const [name, r] of Object.entries(c.subdots)) await validateSubdot(load, r.tree, name);
  return c;
}
