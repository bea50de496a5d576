// BLAKE3 in keyed mode, 32-byte output: the object ids of stores whose format says "blake3".
// Written for dmfs from the BLAKE3 specification (https://github.com/BLAKE3-team/BLAKE3-specs).
// Why here: SHA-256 was a quarter of a first commit's CPU even at SHA-NI speed; BLAKE3 hashes
// eight 1 KiB chunks of an object at once with AVX2 (the tree mode allows it), several times faster.
//
// The one-shot hash of n bytes: split into 1 KiB chunks, compress each chunk's 64-byte blocks
// into a chaining value (CV), then merge the CVs pairwise, level by level, into the root. Pairing
// from the left and carrying an odd last CV up a level builds the same left-filled tree as the
// specification's "largest power of two on the left" rule. Chunks and parents are both hashed
// eight at a time when the CPU has AVX2; the rest, and every root, go through the portable code.
#include "blake3.h"
#include <string.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DM_X86 1
#endif

enum { CHUNK_START = 1, CHUNK_END = 2, PARENT = 4, ROOT = 8, KEYED_HASH = 16 };
#define BLOCK_LEN 64
#define CHUNK_LEN 1024

static const uint32_t IV[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                               0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};

// Message word order of each of the 7 rounds: round r+1 takes word PERM[i] of round r, with
// PERM = {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8}.
static const uint8_t SCHEDULE[7][16] = {
  {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
  {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
  {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
  {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
  {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
  {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
  {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

static inline uint32_t load32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline void store32(uint8_t *p, uint32_t w) {
  p[0] = (uint8_t)w; p[1] = (uint8_t)(w >> 8); p[2] = (uint8_t)(w >> 16); p[3] = (uint8_t)(w >> 24);
}
static inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

#define G(a, b, c, d, x, y) do { \
  v[a] += v[b] + (x); v[d] = rotr(v[d] ^ v[a], 16); v[c] += v[d]; v[b] = rotr(v[b] ^ v[c], 12); \
  v[a] += v[b] + (y); v[d] = rotr(v[d] ^ v[a], 8);  v[c] += v[d]; v[b] = rotr(v[b] ^ v[c], 7); \
} while (0)

// One compression; cv becomes its output's first 8 words (the next CV, or the root hash).
static void compress(uint32_t cv[8], const uint8_t block[BLOCK_LEN], uint32_t block_len, uint64_t counter, uint32_t flags) {
  uint32_t m[16], v[16];
  for (int i = 0; i < 16; i++) m[i] = load32(block + 4 * i);
  for (int i = 0; i < 8; i++) v[i] = cv[i];
  v[8] = IV[0]; v[9] = IV[1]; v[10] = IV[2]; v[11] = IV[3];
  v[12] = (uint32_t)counter; v[13] = (uint32_t)(counter >> 32); v[14] = block_len; v[15] = flags;
  for (int r = 0; r < 7; r++) {
    const uint8_t *s = SCHEDULE[r];
    G(0, 4, 8, 12, m[s[0]], m[s[1]]);   G(1, 5, 9, 13, m[s[2]], m[s[3]]);
    G(2, 6, 10, 14, m[s[4]], m[s[5]]);  G(3, 7, 11, 15, m[s[6]], m[s[7]]);
    G(0, 5, 10, 15, m[s[8]], m[s[9]]);  G(1, 6, 11, 12, m[s[10]], m[s[11]]);
    G(2, 7, 8, 13, m[s[12]], m[s[13]]); G(3, 4, 9, 14, m[s[14]], m[s[15]]);
  }
  for (int i = 0; i < 8; i++) cv[i] = v[i] ^ v[i + 8];
}

// The CV of one chunk (at most CHUNK_LEN bytes; an empty input is one empty block).
static void chunk_cv(const uint32_t key[8], const uint8_t *in, size_t len, uint64_t counter, uint32_t flags, uint32_t out[8]) {
  size_t blocks = len == 0 ? 1 : (len + BLOCK_LEN - 1) / BLOCK_LEN;
  memcpy(out, key, 32);
  for (size_t b = 0; b < blocks; b++) {
    uint32_t f = KEYED_HASH | (b == 0 ? CHUNK_START : 0) | (b == blocks - 1 ? CHUNK_END | flags : 0);
    size_t n = b == blocks - 1 ? len - b * BLOCK_LEN : BLOCK_LEN;
    if (n == BLOCK_LEN) compress(out, in + b * BLOCK_LEN, BLOCK_LEN, counter, f);
    else {
      uint8_t last[BLOCK_LEN] = {0};
      memcpy(last, in + b * BLOCK_LEN, n);
      compress(out, last, (uint32_t)n, counter, f);
    }
  }
}

static void words_to_bytes(const uint32_t w[8], uint8_t out[32]) {
  for (int i = 0; i < 8; i++) store32(out + 4 * i, w[i]);
}

#ifdef DM_X86
// Eight compressions side by side: vector register i holds state word i of all eight inputs.
__attribute__((target("avx2"))) static inline __m256i rot16(__m256i x) {
  return _mm256_shuffle_epi8(x, _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13,
                                                 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13));
}
__attribute__((target("avx2"))) static inline __m256i rot8(__m256i x) {
  return _mm256_shuffle_epi8(x, _mm256_setr_epi8(1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12,
                                                 1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12));
}
#define ROTR8X(x, n) _mm256_or_si256(_mm256_srli_epi32((x), (n)), _mm256_slli_epi32((x), 32 - (n)))
#define ADD(a, b) _mm256_add_epi32(a, b)
#define XOR(a, b) _mm256_xor_si256(a, b)
#define G8(a, b, c, d, x, y) do { \
  v[a] = ADD(ADD(v[a], v[b]), x); v[d] = rot16(XOR(v[d], v[a])); v[c] = ADD(v[c], v[d]); v[b] = ROTR8X(XOR(v[b], v[c]), 12); \
  v[a] = ADD(ADD(v[a], v[b]), y); v[d] = rot8(XOR(v[d], v[a]));  v[c] = ADD(v[c], v[d]); v[b] = ROTR8X(XOR(v[b], v[c]), 7); \
} while (0)

// Transposes an 8x8 matrix of 32-bit words held as eight rows.
__attribute__((target("avx2"))) static inline void transpose8(__m256i r[8]) {
  __m256i t[8], u[8];
  for (int i = 0; i < 8; i += 2) { t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]); t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]); }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);     u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
    u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]); u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  for (int i = 0; i < 4; i++) { r[i] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x20); r[i + 4] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x31); }
}

// Hashes eight inputs of `blocks` whole blocks each into eight CVs (out: 8 x 32 bytes). Input k
// uses counter + k when inc is set (chunks), else counter (parents).
__attribute__((target("avx2"))) static void hash8(const uint8_t *const in[8], size_t blocks, const uint32_t key[8], uint64_t counter, int inc,
                                                  uint32_t flags, uint32_t flag_start, uint32_t flag_end, uint8_t *out) {
  __m256i h[8], m[16], v[16];
  for (int i = 0; i < 8; i++) h[i] = _mm256_set1_epi32((int)key[i]);
  uint32_t lo[8], hi[8];
  for (int k = 0; k < 8; k++) { uint64_t c = counter + (inc ? (uint64_t)k : 0); lo[k] = (uint32_t)c; hi[k] = (uint32_t)(c >> 32); }
  const __m256i ctr_lo = _mm256_loadu_si256((const __m256i *)lo), ctr_hi = _mm256_loadu_si256((const __m256i *)hi);
  for (size_t b = 0; b < blocks; b++) {
    for (int k = 0; k < 8; k++) {
      m[k] = _mm256_loadu_si256((const __m256i *)(in[k] + b * BLOCK_LEN));
      m[k + 8] = _mm256_loadu_si256((const __m256i *)(in[k] + b * BLOCK_LEN + 32));
    }
    transpose8(m);
    transpose8(m + 8);
    uint32_t f = flags | (b == 0 ? flag_start : 0) | (b == blocks - 1 ? flag_end : 0);
    for (int i = 0; i < 8; i++) v[i] = h[i];
    for (int i = 0; i < 4; i++) v[8 + i] = _mm256_set1_epi32((int)IV[i]);
    v[12] = ctr_lo; v[13] = ctr_hi; v[14] = _mm256_set1_epi32(BLOCK_LEN); v[15] = _mm256_set1_epi32((int)f);
    for (int r = 0; r < 7; r++) {
      const uint8_t *s = SCHEDULE[r];
      G8(0, 4, 8, 12, m[s[0]], m[s[1]]);   G8(1, 5, 9, 13, m[s[2]], m[s[3]]);
      G8(2, 6, 10, 14, m[s[4]], m[s[5]]);  G8(3, 7, 11, 15, m[s[6]], m[s[7]]);
      G8(0, 5, 10, 15, m[s[8]], m[s[9]]);  G8(1, 6, 11, 12, m[s[10]], m[s[11]]);
      G8(2, 7, 8, 13, m[s[12]], m[s[13]]); G8(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++) h[i] = XOR(v[i], v[i + 8]);
  }
  transpose8(h);
  for (int k = 0; k < 8; k++) _mm256_storeu_si256((__m256i *)(out + 32 * k), h[k]);
}

// Sixteen compressions side by side with AVX-512: one 64-byte block of an input is one register,
// and the rotations are single instructions.
#define ADD16(a, b) _mm512_add_epi32(a, b)
#define XOR16(a, b) _mm512_xor_si512(a, b)
#define G16(a, b, c, d, x, y) do { \
  v[a] = ADD16(ADD16(v[a], v[b]), x); v[d] = _mm512_ror_epi32(XOR16(v[d], v[a]), 16); v[c] = ADD16(v[c], v[d]); v[b] = _mm512_ror_epi32(XOR16(v[b], v[c]), 12); \
  v[a] = ADD16(ADD16(v[a], v[b]), y); v[d] = _mm512_ror_epi32(XOR16(v[d], v[a]), 8);  v[c] = ADD16(v[c], v[d]); v[b] = _mm512_ror_epi32(XOR16(v[b], v[c]), 7); \
} while (0)

// Transposes a 16x16 matrix of 32-bit words held as sixteen rows: first 4x4 blocks of words
// within each 128-bit lane, then the 4x4 matrix of 128-bit lanes.
__attribute__((target("avx512f"))) static inline void transpose16(__m512i r[16]) {
  __m512i u[16];
  for (int g = 0; g < 16; g += 4) {
    __m512i t0 = _mm512_unpacklo_epi32(r[g], r[g + 1]), t1 = _mm512_unpackhi_epi32(r[g], r[g + 1]);
    __m512i t2 = _mm512_unpacklo_epi32(r[g + 2], r[g + 3]), t3 = _mm512_unpackhi_epi32(r[g + 2], r[g + 3]);
    // u[g + j], lane L: word 4L + j of rows g..g+3
    u[g] = _mm512_unpacklo_epi64(t0, t2); u[g + 1] = _mm512_unpackhi_epi64(t0, t2);
    u[g + 2] = _mm512_unpacklo_epi64(t1, t3); u[g + 3] = _mm512_unpackhi_epi64(t1, t3);
  }
  for (int j = 0; j < 4; j++) {
    __m512i x0 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x44), x1 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xEE);
    __m512i x2 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x44), x3 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xEE);
    r[j] = _mm512_shuffle_i32x4(x0, x2, 0x88); r[4 + j] = _mm512_shuffle_i32x4(x0, x2, 0xDD);
    r[8 + j] = _mm512_shuffle_i32x4(x1, x3, 0x88); r[12 + j] = _mm512_shuffle_i32x4(x1, x3, 0xDD);
  }
}

// hash8() for sixteen inputs.
__attribute__((target("avx512f"))) static void hash16(const uint8_t *const in[16], size_t blocks, const uint32_t key[8], uint64_t counter, int inc,
                                                      uint32_t flags, uint32_t flag_start, uint32_t flag_end, uint8_t *out) {
  __m512i h[16], m[16], v[16];
  for (int i = 0; i < 8; i++) h[i] = _mm512_set1_epi32((int)key[i]);
  uint32_t lo[16], hi[16];
  for (int k = 0; k < 16; k++) { uint64_t c = counter + (inc ? (uint64_t)k : 0); lo[k] = (uint32_t)c; hi[k] = (uint32_t)(c >> 32); }
  const __m512i ctr_lo = _mm512_loadu_si512(lo), ctr_hi = _mm512_loadu_si512(hi);
  for (size_t b = 0; b < blocks; b++) {
    for (int k = 0; k < 16; k++) m[k] = _mm512_loadu_si512(in[k] + b * BLOCK_LEN);
    transpose16(m);
    uint32_t f = flags | (b == 0 ? flag_start : 0) | (b == blocks - 1 ? flag_end : 0);
    for (int i = 0; i < 8; i++) v[i] = h[i];
    for (int i = 0; i < 4; i++) v[8 + i] = _mm512_set1_epi32((int)IV[i]);
    v[12] = ctr_lo; v[13] = ctr_hi; v[14] = _mm512_set1_epi32(BLOCK_LEN); v[15] = _mm512_set1_epi32((int)f);
    for (int r = 0; r < 7; r++) {
      const uint8_t *s = SCHEDULE[r];
      G16(0, 4, 8, 12, m[s[0]], m[s[1]]);   G16(1, 5, 9, 13, m[s[2]], m[s[3]]);
      G16(2, 6, 10, 14, m[s[4]], m[s[5]]);  G16(3, 7, 11, 15, m[s[6]], m[s[7]]);
      G16(0, 5, 10, 15, m[s[8]], m[s[9]]);  G16(1, 6, 11, 12, m[s[10]], m[s[11]]);
      G16(2, 7, 8, 13, m[s[12]], m[s[13]]); G16(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++) h[i] = XOR16(v[i], v[i + 8]);
  }
  for (int i = 8; i < 16; i++) h[i] = _mm512_setzero_si512();
  transpose16(h);
  for (int k = 0; k < 16; k++) _mm256_storeu_si256((__m256i *)(out + 32 * k), _mm512_castsi512_si256(h[k]));
}

// 2: AVX-512F, 1: AVX2, 0: neither. Worked out once; a race between threads writes the same value.
static int simd_level(void) {
  static int cached = -1;
  if (cached < 0) { __builtin_cpu_init(); cached = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0; }
  return cached;
}
#endif

// CVs of `n` inputs of `blocks` whole blocks each, `stride` bytes apart, into out (32 bytes each).
static void hash_many(const uint8_t *in, size_t stride, size_t n, size_t blocks, const uint32_t key[8], uint64_t counter, int inc,
                      uint32_t flags, uint32_t flag_start, uint32_t flag_end, uint8_t *out) {
  size_t k = 0;
#ifdef DM_X86
  int level = simd_level();
  if (level >= 2) {
    for (; k + 16 <= n; k += 16) {
      const uint8_t *p[16];
      for (int j = 0; j < 16; j++) p[j] = in + (k + j) * stride;
      hash16(p, blocks, key, counter + (inc ? k : 0), inc, flags, flag_start, flag_end, out + 32 * k);
    }
  }
  if (level >= 1) {
    for (; k + 8 <= n; k += 8) {
      const uint8_t *p[8];
      for (int j = 0; j < 8; j++) p[j] = in + (k + j) * stride;
      hash8(p, blocks, key, counter + (inc ? k : 0), inc, flags, flag_start, flag_end, out + 32 * k);
    }
  }
#endif
  for (; k < n; k++) {
    uint32_t cv[8];
    memcpy(cv, key, 32);
    for (size_t b = 0; b < blocks; b++) {
      uint32_t f = flags | (b == 0 ? flag_start : 0) | (b == blocks - 1 ? flag_end : 0);
      compress(cv, in + k * stride + b * BLOCK_LEN, BLOCK_LEN, counter + (inc ? k : 0), f);
    }
    words_to_bytes(cv, out + 32 * k);
  }
}

int dm_blake3_keyed(const uint8_t key_bytes[32], const uint8_t *in, size_t len, uint8_t out[32]) {
  uint32_t key[8], cv[8];
  for (int i = 0; i < 8; i++) key[i] = load32(key_bytes + 4 * i);
  if (len <= CHUNK_LEN) {
    chunk_cv(key, in, len, 0, ROOT, cv);
    words_to_bytes(cv, out);
    return 0;
  }
  // Whole chunks go through hash_many (a store's 256 KiB chunk is 16 batches of 16); a partial
  // last one through chunk_cv. With more than one chunk, no chunk is the root.
  size_t chunks = (len + CHUNK_LEN - 1) / CHUNK_LEN, full = len / CHUNK_LEN;
  uint8_t stack_cvs[256 * 32];
  uint8_t *cvs = chunks <= 256 ? stack_cvs : malloc(chunks * 32);
  if (!cvs) return -1;
  hash_many(in, CHUNK_LEN, full, CHUNK_LEN / BLOCK_LEN, key, 0, 1, KEYED_HASH, CHUNK_START, CHUNK_END, cvs);
  for (size_t c = full; c < chunks; c++) {
    chunk_cv(key, in + c * CHUNK_LEN, (c + 1) * CHUNK_LEN <= len ? CHUNK_LEN : len - c * CHUNK_LEN, c, 0, cv);
    words_to_bytes(cv, cvs + 32 * c);
  }
  // Parents, level by level: each reads two adjacent CVs and writes one further left, so the
  // level can be rewritten in place (hash8 loads all its inputs before it stores).
  size_t n = chunks;
  while (n > 2) {
    size_t pairs = n / 2;
    hash_many(cvs, 64, pairs, 1, key, 0, 0, KEYED_HASH | PARENT, 0, 0, cvs);
    if (n & 1) memmove(cvs + 32 * pairs, cvs + 32 * (n - 1), 32);
    n = pairs + (n & 1);
  }
  for (int i = 0; i < 8; i++) cv[i] = key[i];
  compress(cv, cvs, BLOCK_LEN, 0, KEYED_HASH | PARENT | ROOT);
  words_to_bytes(cv, out);
  if (cvs != stack_cvs) free(cvs);
  return 0;
}
