// Internal to CTallyShim: the padded message of SHA-256(prefix ‖ left ‖ right) for two 32-byte
// values (Merkle nodes, the chain link), shared by hash_fast.c and sha256_x2.c.
#ifndef TALLY_PAIR_MESSAGE_H
#define TALLY_PAIR_MESSAGE_H
#include <stdint.h>
#include <string.h>

/// 65 bytes of message + 0x80 + zeros + 64-bit big-endian bit length = exactly two blocks.
static inline void tally_pair_message(uint8_t m[128], uint8_t prefix, const uint8_t left[32], const uint8_t right[32]) {
    m[0] = prefix;
    memcpy(m + 1, left, 32);
    memcpy(m + 33, right, 32);
    m[65] = 0x80;
    memset(m + 66, 0, 60);
    m[126] = (uint8_t)((65 * 8) >> 8);
    m[127] = (uint8_t)(65 * 8);
}

#endif
