import type { Compressor, Decompressor } from 'zstd-napi';

/**
 * zstd-napi, loaded on first use. Why: loading its native module costs every command about
 * 9 ms, and many (a no-op commit, list, log of raw objects) never compress anything.
 */
let zstd: typeof import('zstd-napi') | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lib = (): typeof import('zstd-napi') => (zstd ??= require('zstd-napi') as typeof import('zstd-napi'));

/** Codec of a stored object: 0 = stored as is (incompressible), 1 = zstd. */
export type Codec = 0 | 1;

const compressors = new Map<number, Compressor>();
let decompressor: Decompressor | undefined;

/**
 * Objects smaller than this (commits, most trees) are stored as they are. Why: zstd saves a few
 * hundred bytes on them at most, and reading a compressed one makes a command that only reads
 * commits (a no-op commit, log) load the zstd module first (9 ms).
 */
export const STORE_RAW_BELOW = 1024;

/**
 * Compresses on the calling thread; keeps the raw bytes when zstd does not help.
 * Bulk chunk data goes through the worker pool (chunk-pool.ts), which applies the same rule.
 */
export function encodeSync(data: Uint8Array, level: number): { codec: Codec; bytes: Buffer } {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < STORE_RAW_BELOW) return { codec: 0, bytes: buf };
  let c = compressors.get(level);
  if (!c) { c = new (lib().Compressor)(); c.setParameters({ compressionLevel: level, checksumFlag: true }); compressors.set(level, c); }
  const z = c.compress(buf);
  return worthCompressing(buf.length, z.length) ? { codec: 1, bytes: z } : { codec: 0, bytes: buf };
}

/**
 * The one rule for keeping zstd output (here and in the chunk workers): it must save at least
 * 1/32. Why: incompressible data (JPEG uploads) would grow; storing it raw also makes reads cheaper.
 */
export function worthCompressing(rawLength: number, compressedLength: number): boolean {
  return rawLength >= 64 && compressedLength < rawLength - rawLength / 32;
}

/**
 * The zstd level for a chunk of bulk data, given how well the chunk before it in the same block
 * compressed (stored / raw size; 0 when there was none). Data that compresses poorly (random
 * values, like Redis's) gains nothing from the store's level over level 1: on the bench's
 * Redis data level 2 took 449 ms against 286 ms at level 1 for 156.9 against 157.3 MB, while
 * PostgreSQL's pages (20:1) are 4 MB smaller at level 2 than at 1.
 */
export function levelFor(storeLevel: number, lastRatio: number): number {
  return lastRatio > 0.5 && storeLevel > 1 ? 1 : storeLevel;
}

/** encodeSync() behind a promise (kept for callers that await). */
export async function encode(data: Uint8Array, level: number): Promise<{ codec: Codec; bytes: Buffer }> {
  return encodeSync(data, level);
}

/** Reverses encode(). */
export async function decode(codec: number, bytes: Buffer): Promise<Buffer> {
  if (codec === 0) return bytes;
  if (codec === 1) return (decompressor ??= new (lib().Decompressor)()).decompress(bytes);
  throw new Error(`unknown codec ${codec}`);
}
