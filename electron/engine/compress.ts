import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';

/** Codec of a stored object: 0 = stored as is (incompressible), 1 = zstd. */
export type Codec = 0 | 1;

/** Compresses on libuv's thread pool (both cores work); keeps the raw bytes when zstd does not help. */
export async function encode(data: Uint8Array, level: number): Promise<{ codec: Codec; bytes: Buffer }> {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < 64) return { codec: 0, bytes: buf };
  const z = await zstdCompress(buf, level);
  // Why: incompressible data (JPEG uploads) would grow; storing it raw also makes reads cheaper.
  if (z.length >= buf.length - buf.length / 32) return { codec: 0, bytes: buf };
  return { codec: 1, bytes: z };
}

/** Reverses encode(). */
export async function decode(codec: number, bytes: Buffer): Promise<Buffer> {
  if (codec === 0) return bytes;
  if (codec === 1) return zstdDecompress(bytes);
  throw new Error(`unknown codec ${codec}`);
}
