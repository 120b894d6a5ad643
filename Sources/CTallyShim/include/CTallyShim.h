#ifndef C_TALLY_SHIM_H
#define C_TALLY_SHIM_H
#include <stddef.h>
#include <stdint.h>

/// Small C helpers for things Swift cannot import (macros, variadic functions).
/// Returns the OpenSSL version number (OPENSSL_VERSION_NUMBER is a macro).
unsigned long tally_openssl_version_number(void);

/// glibc's memmem (a GNU extension, not visible to Swift's Glibc module): the first occurrence of
/// needle in haystack, or NULL.
const void *tally_memmem(const void *haystack, size_t haystack_len, const void *needle, size_t needle_len);

/// SHA-256(a ‖ b ‖ c) into out (32 bytes); any part may be empty (length 0).
void tally_sha256_parts3(const void *a, size_t na, const void *b, size_t nb, const void *c, size_t nc,
                         uint8_t out[32]);
/// SHA-256(prefix ‖ left ‖ right) for two 32-byte hashes (Merkle nodes, the chain).
void tally_sha256_pair(uint8_t prefix, const uint8_t left[32], const uint8_t right[32], uint8_t out[32]);
/// HMAC-SHA256(key, msg) into out (32 bytes), RFC 2104 over tally_sha256_parts3.
void tally_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len, uint8_t out[32]);
/// Advances the CRC-32 register *reg (already inverted, zlib convention inside) over a prefix of
/// p[0..n) with carry-less multiplication; returns how many bytes it consumed (a multiple of 16,
/// or 0 when the CPU lacks PCLMULQDQ or n < 64). The caller finishes the rest with a table.
size_t tally_crc32_fold(uint32_t *reg, const uint8_t *p, size_t n);
/// The folding constants, for the test that recomputes them: x^544, x^480, x^160, x^96, x^64 mod P,
/// P and mu, each bit-reflected as the code uses them.
void tally_crc32_fold_constants(uint64_t out[7]);
/// 1 when tally_crc32_fold can run on this CPU.
int tally_crc32_fold_available(void);

/// 1 when p[0..n) is a ledger event (a JSON object with a string "type") already in canonical form
/// (docs/LEDGER-FORMAT.md §2.1), with nesting at most max_depth; 0 means "canonicalise it fully"
/// (inputs with escapes, non-ASCII bytes, exponents or whitespace always get 0).
int tally_is_canonical_event(const uint8_t *p, size_t n, int max_depth);

/// Compresses src[0..n) into one standard LZ4 block at dst (capacity bytes; LZ4_compressBound(n)
/// always suffices) with Tally's own encoder (lz4_block.c); returns the block's length, or 0 when
/// capacity is too small or n exceeds LZ4's input limit. Any LZ4 block decoder reads the result.
size_t tally_lz4_compress(const uint8_t *src, size_t n, uint8_t *dst, size_t capacity);

/// SHA-256(a0 ‖ b0 ‖ c0) into out0 and SHA-256(a1 ‖ b1 ‖ c1) into out1, the two interleaved on the
/// SHA extensions when the CPU has them (sha256_x2.c), else one after the other.
void tally_sha256_parts3_x2(const void *a0, size_t na0, const void *b0, size_t nb0, const void *c0, size_t nc0, uint8_t out0[32],
                            const void *a1, size_t na1, const void *b1, size_t nb1, const void *c1, size_t nc1, uint8_t out1[32]);
/// tally_sha256_pair of two pairs at once (interleaved like tally_sha256_parts3_x2).
void tally_sha256_pair_x2(uint8_t p0, const uint8_t l0[32], const uint8_t r0[32], uint8_t out0[32],
                          uint8_t p1, const uint8_t l1[32], const uint8_t r1[32], uint8_t out1[32]);
/// 1 when tally_sha256_parts3_x2 and tally_sha256_pair_x2 interleave on the SHA extensions.
int tally_sha256_x2_available(void);

#endif
