import { DmError } from '../contract/errors';
import { CODE_TYPE, ID_BYTES, ObjectType, TYPE_CODE, objectId, HashName } from '../engine/objects';
import { decode, Codec } from '../engine/compress';

/**
 * One object as it travels (hub transfers and bundles): the same record as in a pack file,
 * header = type u8, id 32, codec u8, raw length u32, stored length u32; then the stored bytes.
 * Why the pack format: objects are sent exactly as stored (already compressed), never re-encoded.
 */
export interface WireObject { type: ObjectType; id: string; codec: Codec; size: number; bytes: Buffer }

/** Length of a record header. */
export const RECORD_HEADER = 1 + ID_BYTES + 1 + 4 + 4;
/** Largest object accepted from outside (chunks are 256 KiB by default; trees of huge directories are bigger). */
export const MAX_OBJECT_BYTES = 64 * 1024 * 1024;

/** Serializes one record header (the stored bytes follow it). */
export function recordHeader(o: Omit<WireObject, 'bytes'> & { stored: number }): Buffer {
  const h = Buffer.alloc(RECORD_HEADER);
  h.writeUInt8(TYPE_CODE[o.type], 0);
  h.write(o.id, 1, 'hex');
  h.writeUInt8(o.codec, 1 + ID_BYTES);
  h.writeUInt32BE(o.size, 2 + ID_BYTES);
  h.writeUInt32BE(o.stored, 6 + ID_BYTES);
  return h;
}

/** Checks an object's content against its id (of `hash`); returns the raw bytes (for trees and commits). */
export async function verifyWire(o: WireObject, hash: HashName, what = 'object'): Promise<Buffer> {
  let data: Buffer;
  try { data = await decode(o.codec, o.bytes); } catch { throw new DmError('STORE_CORRUPT', `Received ${what} ${o.id.slice(0, 12)} has damaged compressed data.`, 'The transfer or file is damaged; nothing was kept from it.'); }
  if (data.length !== o.size || objectId(o.type, data, hash) !== o.id) throw new DmError('STORE_CORRUPT', `Received ${what} ${o.id.slice(0, 12)} does not match its hash.`, 'The transfer or file is damaged; nothing was kept from it.', { id: o.id });
  return data;
}

/**
 * Reads records one by one from a byte stream without holding more than one object in memory.
 * `limit` caps the total bytes read (TOO_LARGE beyond it). `onBytes` reports progress.
 * Stops at `end` bytes when given (bundles have a trailer after the records).
 */
export class RecordReader {
  private bufs: Buffer[] = [];
  private have = 0;
  private done = false;
  private it: AsyncIterator<Buffer | string>;
  /** Bytes consumed so far. */
  consumed = 0;

  constructor(src: AsyncIterable<Buffer | string>, private readonly opts: { limit?: number; onBytes?: (n: number) => void; bad?: (msg: string) => DmError } = {}) {
    this.it = src[Symbol.asyncIterator]();
  }

  private bad(msg: string): DmError { return this.opts.bad ? this.opts.bad(msg) : new DmError('STORE_CORRUPT', msg, 'The transfer was damaged; retry it.'); }

  /** Makes at least n bytes available; false when the stream ends first. */
  private async fill(n: number): Promise<boolean> {
    while (this.have < n && !this.done) {
      const r = await this.it.next();
      if (r.done) { this.done = true; break; }
      const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      this.bufs.push(b);
      this.have += b.length;
      this.opts.onBytes?.(b.length);
      if (this.opts.limit !== undefined && this.consumed + this.have > this.opts.limit) throw new DmError('TOO_LARGE', `More than ${this.opts.limit} bytes were sent.`, 'Send smaller batches.');
    }
    return this.have >= n;
  }

  /** Takes exactly n bytes (throws when the stream ends first). */
  async take(n: number, what = 'data'): Promise<Buffer> {
    if (!(await this.fill(n))) throw this.bad(`The stream ended in the middle of ${what} (truncated).`);
    let out: Buffer;
    if (this.bufs[0].length >= n) {
      out = this.bufs[0].subarray(0, n);
      if (this.bufs[0].length === n) this.bufs.shift(); else this.bufs[0] = this.bufs[0].subarray(n);
    } else {
      const all = Buffer.concat(this.bufs);
      out = all.subarray(0, n);
      this.bufs = all.length > n ? [all.subarray(n)] : [];
    }
    this.have -= n;
    this.consumed += n;
    return out;
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> { return !(await this.fill(1)); }

  /** The next record, or undefined at the end of the stream. */
  async next(): Promise<WireObject | undefined> {
    if (await this.atEnd()) return undefined;
    return this.record();
  }

  /**
   * Reads one record (the stream must hold one). Its bytes are a copy, unless `copy` is false:
   * then they may be a view of the stream's buffer, for callers that copy them at once.
   */
  async record(copy = true): Promise<WireObject> {
    const h = await this.take(RECORD_HEADER, 'a record header');
    const type = CODE_TYPE[h.readUInt8(0)];
    const id = h.toString('hex', 1, 1 + ID_BYTES);
    const codec = h.readUInt8(1 + ID_BYTES);
    const size = h.readUInt32BE(2 + ID_BYTES);
    const stored = h.readUInt32BE(6 + ID_BYTES);
    if (!type || (codec !== 0 && codec !== 1)) throw this.bad(`A record has an unknown type or codec (${h.readUInt8(0)}/${codec}).`);
    if (size > MAX_OBJECT_BYTES || stored > MAX_OBJECT_BYTES) throw new DmError('TOO_LARGE', `Object ${id.slice(0, 12)} claims ${Math.max(size, stored)} bytes (at most ${MAX_OBJECT_BYTES}).`, 'The data comes from a damaged or hostile source and was refused.');
    if (codec === 0 && size !== stored) throw this.bad(`Object ${id.slice(0, 12)} has inconsistent lengths.`);
    const view = await this.take(stored, `object ${id.slice(0, 12)}`);
    const bytes = copy ? Buffer.from(view) : view;
    return { type, id, codec: codec as Codec, size, bytes };
  }
}
