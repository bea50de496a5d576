/**
 * BLAKE3 in keyed mode with a 32-byte output, in portable TypeScript: what hashes object ids of
 * "blake3" stores where the native helper (native/blake3.c) is not built. It is slow (80 MB/s
 * here, against 7.1 GB/s for the helper), so without the helper new stores use sha256 (see
 * newStoreHash in store.ts); this keeps blake3 stores readable and writable everywhere.
 * Both follow the BLAKE3 specification and are tested against the reference `b3sum`.
 */

const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const CHUNK_START = 1, CHUNK_END = 2, PARENT = 4, ROOT = 8, KEYED_HASH = 16;
const BLOCK_LEN = 64, CHUNK_LEN = 1024;
/** Message word order of each round: round r+1 takes word PERM[i] of round r. */
const PERM = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
const SCHEDULE: number[][] = [[...Array(16).keys()]];
for (let r = 1; r < 7; r++) SCHEDULE.push(PERM.map((p) => SCHEDULE[r - 1][p]));

const v = new Uint32Array(16);
const m = new Uint32Array(16);
const block = new Uint8Array(BLOCK_LEN);
const blockView = new DataView(block.buffer);

function g(a: number, b: number, c: number, d: number, x: number, y: number): void {
  v[a] = v[a] + v[b] + x; let t = v[d] ^ v[a]; v[d] = (t >>> 16) | (t << 16);
  v[c] = v[c] + v[d]; t = v[b] ^ v[c]; v[b] = (t >>> 12) | (t << 20);
  v[a] = v[a] + v[b] + y; t = v[d] ^ v[a]; v[d] = (t >>> 8) | (t << 24);
  v[c] = v[c] + v[d]; t = v[b] ^ v[c]; v[b] = (t >>> 7) | (t << 25);
}

/** Compresses `len` bytes (at most 64, zero-padded) of `src` at `at` into cv, in place. */
function compress(cv: Uint32Array, src: Uint8Array, at: number, len: number, counter: number, flags: number): void {
  block.fill(0);
  block.set(src.subarray(at, at + len));
  for (let i = 0; i < 16; i++) m[i] = blockView.getUint32(4 * i, true);
  v.set(cv);
  v[8] = IV[0]; v[9] = IV[1]; v[10] = IV[2]; v[11] = IV[3];
  v[12] = counter >>> 0; v[13] = Math.floor(counter / 2 ** 32); v[14] = len; v[15] = flags;
  for (const s of SCHEDULE) {
    g(0, 4, 8, 12, m[s[0]], m[s[1]]); g(1, 5, 9, 13, m[s[2]], m[s[3]]);
    g(2, 6, 10, 14, m[s[4]], m[s[5]]); g(3, 7, 11, 15, m[s[6]], m[s[7]]);
    g(0, 5, 10, 15, m[s[8]], m[s[9]]); g(1, 6, 11, 12, m[s[10]], m[s[11]]);
    g(2, 7, 8, 13, m[s[12]], m[s[13]]); g(3, 4, 9, 14, m[s[14]], m[s[15]]);
  }
  for (let i = 0; i < 8; i++) cv[i] = v[i] ^ v[i + 8];
}

/** The chaining value of chunk `index` (its bytes are data[at, at + len)). */
function chunkCv(key: Uint32Array, data: Uint8Array, at: number, len: number, index: number, root: boolean): Uint32Array {
  const cv = Uint32Array.from(key);
  const blocks = Math.max(1, Math.ceil(len / BLOCK_LEN));
  for (let b = 0; b < blocks; b++) {
    const last = b === blocks - 1;
    const flags = KEYED_HASH | (b === 0 ? CHUNK_START : 0) | (last ? CHUNK_END | (root ? ROOT : 0) : 0);
    compress(cv, data, at + b * BLOCK_LEN, last ? len - b * BLOCK_LEN : BLOCK_LEN, index, flags);
  }
  return cv;
}

/** Writes the keyed BLAKE3 hash of `data` (key: 32 bytes) to out[outStart, outStart + 32). */
export function blake3Keyed(keyBytes: Uint8Array, data: Uint8Array, out: Uint8Array, outStart: number): void {
  const kv = new DataView(keyBytes.buffer, keyBytes.byteOffset, 32);
  const key = new Uint32Array(8);
  for (let i = 0; i < 8; i++) key[i] = kv.getUint32(4 * i, true);
  let root: Uint32Array;
  if (data.length <= CHUNK_LEN) root = chunkCv(key, data, 0, data.length, 0, true);
  else {
    // Chunk CVs, then parents level by level (pairing from the left, an odd last one carried up:
    // the same left-filled tree as the specification's).
    let level: Uint32Array[] = [];
    for (let c = 0; c * CHUNK_LEN < data.length; c++) level.push(chunkCv(key, data, c * CHUNK_LEN, Math.min(CHUNK_LEN, data.length - c * CHUNK_LEN), c, false));
    const pair = new Uint8Array(BLOCK_LEN);
    const pairView = new DataView(pair.buffer);
    const parent = (l: Uint32Array, r: Uint32Array, flags: number): Uint32Array => {
      for (let i = 0; i < 8; i++) { pairView.setUint32(4 * i, l[i], true); pairView.setUint32(32 + 4 * i, r[i], true); }
      const cv = Uint32Array.from(key);
      compress(cv, pair, 0, BLOCK_LEN, 0, KEYED_HASH | PARENT | flags);
      return cv;
    };
    while (level.length > 2) {
      const next: Uint32Array[] = [];
      for (let i = 0; i + 1 < level.length; i += 2) next.push(parent(level[i], level[i + 1], 0));
      if (level.length % 2) next.push(level[level.length - 1]);
      level = next;
    }
    root = parent(level[0], level[1], ROOT);
  }
  const ov = new DataView(out.buffer, out.byteOffset + outStart, 32);
  for (let i = 0; i < 8; i++) ov.setUint32(4 * i, root[i], true);
}
