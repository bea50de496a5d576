// BLAKE3, keyed mode, 32-byte output (see blake3.c).
#ifndef DM_BLAKE3_H
#define DM_BLAKE3_H
#include <stddef.h>
#include <stdint.h>
// Writes the keyed BLAKE3 hash of in[0..len) to out. Returns 0, or -1 when memory ran out.
int dm_blake3_keyed(const uint8_t key[32], const uint8_t *in, size_t len, uint8_t out[32]);
#endif
