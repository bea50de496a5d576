import { createHash } from 'node:crypto';

/** The three kinds of immutable objects: file content chunks, directory trees, commits. */
export type ObjectType = 'chunk' | 'tree' | 'commit';

/** Numeric codes of object types inside packs and bundles. */
export const TYPE_CODE: Record<ObjectType, number> = { chunk: 1, tree: 2, commit: 3 };
/** Reverse of TYPE_CODE. */
export const CODE_TYPE: Record<number, ObjectType> = { 1: 'chunk', 2: 'tree', 3: 'commit' };

/** Length in bytes of an object id (SHA-256). */
export const ID_BYTES = 32;

/** A record's header in a pack: type u8, id, codec u8, raw size u32, stored size u32 (big-endian). */
export const REC_HEADER = 1 + ID_BYTES + 1 + 4 + 4;

/**
 * The id of an object: SHA-256 over "<type> <length>\0" + content (as git does),
 * so a chunk can never be mistaken for a tree or commit with the same bytes.
 */
export function objectId(type: ObjectType, data: Uint8Array): string {
  return objectIdBytes(type, data).toString('hex');
}

/** objectId() as 32 raw bytes (the chunk workers pass ids around in this form). */
export function objectIdBytes(type: ObjectType, data: Uint8Array): Buffer {
  return createHash('sha256').update(`${type} ${data.length}\0`).update(data).digest();
}

/** True for a 64-hex-digit object id. */
export function isObjectId(s: unknown): s is string {
  return typeof s === 'string' && /^[0-9a-f]{64}$/.test(s);
}

/** Where one stored object lives (for stores that keep objects in packs). */
export interface ObjectInfo {
  id: string;
  type: ObjectType;
  /** Uncompressed size in bytes. */
  size: number;
}

/**
 * The content-addressed object store every engine operation goes through.
 * Implementations: PackStore (disk, packs) and MemoryStore (tests, scratch).
 * They pass one shared test suite (object-store.suite.ts).
 */
export interface ObjectStore {
  /** True when the object is stored (or staged in the current write batch). */
  has(id: string): boolean;
  /** Type and size of a stored object, or undefined. */
  info(id: string): ObjectInfo | undefined;
  /** Reads an object and verifies its hash; throws OBJECT_MISSING / STORE_CORRUPT. */
  get(id: string): Promise<Buffer>;
  /** Stores an object (deduplicated) and returns its id. Durable only after flush(). */
  put(type: ObjectType, data: Uint8Array, knownId?: string): Promise<string>;
  /**
   * Writes consecutive chunks back to back into the open file `fd` from `position`, verifying
   * each (stores that keep objects in packs do it in the chunk workers). `directFd` is the same
   * file opened with O_DIRECT, for the parts that can bypass the page cache.
   */
  writePieces?(ids: string[], fd: number, position: number, directFd?: number): Promise<void>;
  /** Optional: gets ready for writePieces/createFile calls (starts the workers that serve them). */
  prepareWrites?(): void;
  /**
   * Optional: creates a file holding the chunks `ids` with its metadata set and returns its
   * stat (size, mtime ns, ctime ns, inode, mode, uid, gid), or undefined, having done nothing,
   * when this store cannot for these chunks (see PackStore.createFile).
   */
  createFile?(ids: string[], abs: string, meta: { mode: number; uid: number; gid: number; mtime: string; chown: boolean }): Promise<[string, string, string, string, number, number, number] | undefined>;
  /** Stores objects already encoded (codec 0 raw, 1 zstd) whose ids were computed from their raw bytes. */
  putTrustedMany?(objs: { id: string; type: ObjectType; codec: 0 | 1; size: number; bytes: Buffer }[]): Promise<void>;
  /** Makes every put so far durable (pack written, fsynced, renamed, indexed). */
  flush(): Promise<void>;
  /** Every stored object id. */
  ids(): Iterable<string>;
  /** Releases file handles. */
  close(): Promise<void>;
}

/** Deterministic JSON: object keys sorted, no whitespace. Identical states give identical bytes. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new Error('non-finite number in object');
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) {
    // Why: chunk lists are long arrays of strings, and JSON.stringify writes them identically in one call.
    if (v.every((x) => typeof x === 'string')) return JSON.stringify(v);
    return '[' + v.map(canonicalJson).join(',') + ']';
  }
  const o = v as Record<string, unknown>;
  let out = '{';
  for (const [k, head] of sortedKeys(Object.keys(o))) {
    const x = o[k];
    if (x === undefined) continue;
    if (out.length > 1) out += ',';
    out += head + (typeof x === 'string' ? JSON.stringify(x) : canonicalJson(x));
  }
  return out + '}';
}

/** Key lists seen so far -> the keys sorted, each with its '"key":' text (trees repeat a few shapes thousands of times). */
const shapes = new Map<string, [string, string][]>();
function sortedKeys(keys: string[]): [string, string][] {
  const shape = keys.join('\u0000');
  let sorted = shapes.get(shape);
  if (!sorted) {
    sorted = [...keys].sort().map((k) => [k, JSON.stringify(k) + ':'] as [string, string]);
    if (shapes.size < 256) shapes.set(shape, sorted);
  }
  return sorted;
}
