import * as fs from 'node:fs';
import type * as Crypto from 'node:crypto';
import { blake3 } from './native';

// Checksums and names that are not object ids, random names, and SHA-256 for the stores that
// need it. Why not node:crypto throughout: loading it (and the stream modules it pulls in) was
// about 10 ms of every dm command; a no-op commit without it and without stdio streams took
// 176.4 ms against 192.5 ms (20 alternating rounds).

let crypto: typeof Crypto | undefined;
/** node:crypto, loaded on first use. */
function nodeCrypto(): typeof Crypto {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (crypto ??= require('node:crypto') as typeof Crypto);
}

const keys = new Map<string, Buffer>();
/** The BLAKE3 key for `purpose`: "dotdesk <purpose>" in UTF-8, zero-padded to 32 bytes. */
export function keyFor(purpose: string): Buffer {
  let key = keys.get(purpose);
  if (!key) { key = Buffer.alloc(32); key.write(`dotdesk ${purpose}`); keys.set(purpose, key); }
  return key;
}

/**
 * A 32-byte digest of `parts` for `purpose` (pack index trailers, pack names, directory scan
 * signatures): keyed BLAKE3 with keyFor(purpose).
 */
export function digest(purpose: string, ...parts: (Uint8Array | string)[]): Buffer {
  const key = keyFor(purpose);
  const data = parts.length === 1 && typeof parts[0] !== 'string' ? parts[0] : Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
  const out = Buffer.allocUnsafe(32);
  blake3(key, data, out, 0);
  return out;
}

/** SHA-256 of `parts` (sha256 stores' object ids, pack indexes written before BLAKE3 trailers). */
export function sha256(...parts: (Uint8Array | string)[]): Buffer {
  const h = nodeCrypto().createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** `bytes` random bytes as hex, for unique names: /dev/urandom where there is one, else node:crypto. */
export function randomHex(bytes: number): string {
  const b = Buffer.alloc(bytes);
  try {
    const fd = fs.openSync('/dev/urandom', 'r');
    try { if (fs.readSync(fd, b, 0, bytes, null) === bytes) return b.toString('hex'); } finally { fs.closeSync(fd); }
  } catch { /* no /dev/urandom (Windows) */ }
  return nodeCrypto().randomBytes(bytes).toString('hex');
}
