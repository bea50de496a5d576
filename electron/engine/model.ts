import { canonicalJson, isObjectId } from './objects';
import { DmError } from '../contract/errors';

/** Owner, permission bits and mtime (nanoseconds since the epoch, as a decimal string). */
export interface Meta { mode: number; uid: number; gid: number; mtime: string }

/** A regular file: its content is the concatenation of its chunks. */
export interface FileEntry extends Meta { name: string; type: 'file'; size: number; chunks: string[] }
/** A directory (its content is another tree object). */
export interface DirEntry extends Meta { name: string; type: 'dir'; tree: string }
/** A symbolic link (target kept as written, never followed). */
export interface SymlinkEntry extends Meta { name: string; type: 'symlink'; target: string }
/** A second name of a file seen earlier in the same subdot (path relative to the subdot root). */
export interface HardlinkEntry { name: string; type: 'hardlink'; link: string }
/** A named pipe. */
export interface FifoEntry extends Meta { name: string; type: 'fifo' }
/** One entry of a directory tree. */
export type TreeEntry = FileEntry | DirEntry | SymlinkEntry | HardlinkEntry | FifoEntry;

/** A directory listing, entries sorted by name. */
export interface Tree { v: 1; entries: TreeEntry[] }

/** The root directory of one subdot inside a commit, with totals for display. */
export interface SubdotRoot extends Meta { tree: string; files: number; bytes: number }

/** How a commit was taken (Docker issue): containers paused, nothing running, Docker unreachable, or direct. */
export interface TakenInfo { how: 'paused' | 'nothing-running' | 'docker-unreachable' | 'direct'; containers?: string[] }

/** A commit: every subdot of a dot at one instant, with message, author, time and free metadata. */
export interface Commit {
  v: 1;
  parents: string[];
  subdots: Record<string, SubdotRoot>;
  message: string;
  author: string;
  time: string;
  metadata: Record<string, string>;
  taken?: TakenInfo;
}

/** Deterministic bytes of a tree. */
export function encodeTree(t: Tree): Buffer {
  return Buffer.from(canonicalJson(t));
}

/** Deterministic bytes of a commit. */
export function encodeCommit(c: Commit): Buffer {
  return Buffer.from(canonicalJson(c));
}

/** Parses and checks a tree object (objects may come from bundles and hubs: never trust them). */
export function decodeTree(buf: Buffer, id = '?'): Tree {
  let t: Tree;
  try { t = JSON.parse(buf.toString('utf8')); } catch { throw bad('tree', id, 'not JSON'); }
  if (!t || t.v !== 1 || !Array.isArray(t.entries)) throw bad('tree', id, 'wrong shape');
  for (const e of t.entries) {
    if (!e || typeof e.name !== 'string' || !safeName(e.name)) throw new DmError('UNSAFE_PATH', `Tree ${id.slice(0, 12)} has an unsafe entry name ${JSON.stringify(e?.name)}.`, 'The data comes from a damaged or hostile source and was refused.');
    if (e.type === 'file') { if (!Array.isArray(e.chunks) || !e.chunks.every(isObjectId) || !(e.size >= 0)) throw bad('tree', id, `bad file entry ${e.name}`); }
    else if (e.type === 'dir') { if (!isObjectId(e.tree)) throw bad('tree', id, `bad dir entry ${e.name}`); }
    else if (e.type === 'symlink') { if (typeof e.target !== 'string') throw bad('tree', id, `bad symlink ${e.name}`); }
    else if (e.type === 'hardlink') { if (typeof e.link !== 'string' || !safeRelPath(e.link)) throw new DmError('UNSAFE_PATH', `Hard link ${e.name} points outside its subdot.`, 'The data was refused.'); }
    else if (e.type !== 'fifo') throw bad('tree', id, `unknown entry type ${(e as any).type}`);
  }
  return t;
}

/** Parses and checks a commit object. */
export function decodeCommit(buf: Buffer, id = '?'): Commit {
  let c: Commit;
  try { c = JSON.parse(buf.toString('utf8')); } catch { throw bad('commit', id, 'not JSON'); }
  if (!c || c.v !== 1 || !Array.isArray(c.parents) || typeof c.subdots !== 'object' || typeof c.message !== 'string') throw bad('commit', id, 'wrong shape');
  for (const [name, r] of Object.entries(c.subdots)) {
    if (!safeName(name) || !r || !isObjectId(r.tree)) throw bad('commit', id, `bad subdot ${name}`);
  }
  return c;
}

/** A single path component that cannot escape its directory. */
export function safeName(n: string): boolean {
  return n.length > 0 && n.length <= 255 && n !== '.' && n !== '..' && !n.includes('/') && !n.includes('\0');
}

/** A relative path made of safe components. */
export function safeRelPath(p: string): boolean {
  return p.length > 0 && !p.startsWith('/') && p.split('/').every(safeName);
}

function bad(kind: string, id: string, why: string): DmError {
  return new DmError('STORE_CORRUPT', `The ${kind} object ${id.slice(0, 12)} is malformed (${why}).`, 'Run "dm verify"; if the object came from a bundle or hub, the source is damaged.');
}
