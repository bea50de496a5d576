import { CODE_TYPE, ID_BYTES } from './objects';
import { digest, sha256 } from './digest';
import type { Codec } from './compress';
import type { PackLoc } from './pack-store';

/**
 * Pack index files: magic, format, count, entries sorted by id, then a 32-byte digest of all that:
 * SHA-256 in format 1 (indexes written before BLAKE3 digests; still read), keyed BLAKE3
 * (digest('pack index')) in format 2, which is what is written now.
 */
export const IDX_MAGIC = Buffer.from('DMIX');
/** Index format whose trailer is a SHA-256. */
export const IDX_FORMAT_SHA256 = 1;
/** Index format whose trailer is digest('pack index', ...). */
export const IDX_FORMAT_BLAKE3 = 2;
/** One index entry: id, type u8, codec u8, offset u64, stored length u32, raw length u32. */
export const IDX_ENTRY = ID_BYTES + 1 + 1 + 8 + 4 + 4;
const IDX_HEAD = 12;

/** True when `buf` is a whole, undamaged pack index (magic, length, checksum, known types). */
export function validIndex(buf: Buffer): boolean {
  if (buf.length < IDX_HEAD + 32 || !buf.subarray(0, 4).equals(IDX_MAGIC)) return false;
  const n = buf.readUInt32BE(8);
  const end = IDX_HEAD + n * IDX_ENTRY;
  if (buf.length !== end + 32) return false;
  const format = buf.readUInt32BE(4);
  const body = buf.subarray(0, end);
  const sum = format === IDX_FORMAT_BLAKE3 ? digest('pack index', body) : format === IDX_FORMAT_SHA256 ? sha256(body) : undefined;
  if (!sum || !sum.equals(buf.subarray(end))) return false;
  for (let o = IDX_HEAD + ID_BYTES; o < end; o += IDX_ENTRY) if (!CODE_TYPE[buf[o]]) return false;
  return true;
}

/** The object location stored at byte offset `o` of an index buffer. */
export function entryAt(buf: Buffer, o: number, pack: string): PackLoc {
  return {
    pack, type: CODE_TYPE[buf[o + ID_BYTES]], codec: buf[o + ID_BYTES + 1] as Codec,
    offset: Number(buf.readBigUInt64BE(o + ID_BYTES + 2)), stored: buf.readUInt32BE(o + ID_BYTES + 10), size: buf.readUInt32BE(o + ID_BYTES + 14),
  };
}

/** Lookups answered by binary search in the index files' bytes before the hash table is built. */
const LOOKUPS_BEFORE_TABLE = 256;

/**
 * Every pack's index in memory as the index files' own bytes (entries sorted by id), plus an
 * open-addressing hash table over them keyed by the ids' first 32 bits (ids are SHA-256, so
 * uniformly spread), built at the first lookup past LOOKUPS_BEFORE_TABLE. Why not a Map of id
 * strings: building one string and one object per stored object made every dm command spend
 * 0.15 s (100,000 objects) before doing anything. Why the table only then: a no-op commit or a
 * dm log looks up a few dozen ids, and building the table for the bench store's 30,000 objects
 * took 7-8 ms of its 0.25 s; a commit that reads data looks up every chunk.
 */
export class PackIndex {
  private packs: string[] = [];
  private bufs: Buffer[] = [];
  /** Global entry number of each pack's first entry (entries are numbered across packs in order). */
  private starts: number[] = [];
  private total = 0;
  /** Slot -> global entry number + 1 (0: empty). */
  private slots = new Int32Array(1024);
  /** Slot -> the entry id's first 32 bits (checked before comparing whole ids). */
  private keys = new Uint32Array(1024);
  private used = 0;
  private built = false;
  private lookups = 0;

  /** Number of distinct ids. */
  get size(): number { this.table(); return this.used; }

  /** Builds the hash table over every pack added so far (later packs are added to it). */
  private table(): void {
    if (this.built) return;
    this.built = true;
    if (this.total * 2 > this.slots.length) this.grow(this.total);
    for (let p = 0; p < this.bufs.length; p++) {
      const n = this.bufs[p].readUInt32BE(8);
      for (let i = 0; i < n; i++) this.insert(this.starts[p] + i, this.bufs[p], IDX_HEAD + i * IDX_ENTRY);
    }
  }

  /** Finds an id by binary search in each pack's sorted entries, in the order the packs were added. */
  private search(id: Buffer): [number, number] | undefined {
    for (let p = 0; p < this.bufs.length; p++) {
      const buf = this.bufs[p];
      let lo = 0, hi = buf.readUInt32BE(8) - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const o = IDX_HEAD + mid * IDX_ENTRY;
        const c = buf.compare(id, 0, ID_BYTES, o, o + ID_BYTES);
        if (c === 0) return [p, o];
        if (c < 0) lo = mid + 1; else hi = mid - 1;
      }
    }
    return undefined;
  }

  /** Adds a pack's validated index buffer (validIndex); ids already present keep their first location. */
  add(pack: string, buf: Buffer): void {
    const n = buf.readUInt32BE(8);
    const first = this.total;
    this.packs.push(pack);
    this.bufs.push(buf);
    this.starts.push(first);
    this.total += n;
    if (!this.built) return;
    if ((this.used + n) * 2 > this.slots.length) this.grow(this.used + n);
    for (let i = 0; i < n; i++) this.insert(first + i, buf, IDX_HEAD + i * IDX_ENTRY);
  }

  private grow(want: number): void {
    let cap = this.slots.length;
    while (want * 2 > cap) cap *= 2;
    const old = this.slots;
    this.slots = new Int32Array(cap);
    this.keys = new Uint32Array(cap);
    this.used = 0;
    for (let s = 0; s < old.length; s++) if (old[s]) {
      const e = old[s] - 1;
      const p = this.packOfEntry(e);
      this.insert(e, this.bufs[p], IDX_HEAD + (e - this.starts[p]) * IDX_ENTRY);
    }
  }

  private insert(entry: number, buf: Buffer, o: number): void {
    const key = ((buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]) >>> 0;
    const mask = this.slots.length - 1;
    for (let s = key & mask; ; s = (s + 1) & mask) {
      if (this.slots[s] === 0) { this.slots[s] = entry + 1; this.keys[s] = key; this.used++; return; }
      if (this.keys[s] === key) {
        const e = this.slots[s] - 1;
        const p = this.packOfEntry(e);
        if (this.bufs[p].compare(buf, o, o + ID_BYTES, IDX_HEAD + (e - this.starts[p]) * IDX_ENTRY, IDX_HEAD + (e - this.starts[p]) * IDX_ENTRY + ID_BYTES) === 0) return;
      }
    }
  }

  private packOfEntry(e: number): number {
    let lo = 0, hi = this.starts.length - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (this.starts[mid] <= e) lo = mid; else hi = mid - 1; }
    return lo;
  }

  /** Pack number and byte offset of an id's entry, or undefined. */
  private find(id: string): [number, number] | undefined {
    if (id.length !== ID_BYTES * 2) return undefined;
    if (!this.built && ++this.lookups > LOOKUPS_BEFORE_TABLE) this.table();
    if (!this.built) {
      const bytes = Buffer.from(id, 'hex');
      // As the table's lookup: lower-case hex only.
      return bytes.length === ID_BYTES && bytes.toString('hex') === id ? this.search(bytes) : undefined;
    }
    const key = parseInt(id.slice(0, 8), 16) >>> 0;
    const mask = this.slots.length - 1;
    for (let s = key & mask; this.slots[s] !== 0; s = (s + 1) & mask) {
      if (this.keys[s] !== key) continue;
      const e = this.slots[s] - 1;
      const p = this.packOfEntry(e);
      const o = IDX_HEAD + (e - this.starts[p]) * IDX_ENTRY;
      if (this.bufs[p].toString('hex', o, o + ID_BYTES) === id) return [p, o];
    }
    return undefined;
  }

  has(id: string): boolean { return this.find(id) !== undefined; }

  get(id: string): PackLoc | undefined {
    const f = this.find(id);
    return f && entryAt(this.bufs[f[0]], f[1], this.packs[f[0]]);
  }

  /** Every distinct id (first location wins, as in get()). */
  *ids(): Iterable<string> {
    this.table();
    for (let s = 0; s < this.slots.length; s++) if (this.slots[s]) {
      const e = this.slots[s] - 1;
      const p = this.packOfEntry(e);
      const o = IDX_HEAD + (e - this.starts[p]) * IDX_ENTRY;
      yield this.bufs[p].toString('hex', o, o + ID_BYTES);
    }
  }
}
