// SHA-256 of two independent messages at once with the x86 SHA extensions (SHA-NI).
//
// sha256rnds2 runs two rounds per instruction, but each depends on the one before: one message
// at a time leaves the SHA unit waiting on that latency. Interleaving the rounds of two messages
// fills those gaps, so the ledger hashes its records (leaves, SHA-256(0x00 ‖ record)) two by two.
// The round structure (state kept as ABEF/CDGH, message schedule with sha256msg1/msg2) follows
// Intel's description of the SHA extensions; the constants are FIPS 180-4 §4.2.2. Checked against
// libcrypto's SHA-256 on every length by TallyCoreTests.
#include "CTallyShim.h"
#include "pair_message.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include <cpuid.h>

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define TGT __attribute__((target("sha,sse4.1,ssse3")))

TGT static inline void to_lanes(const uint32_t h[8], __m128i *abef, __m128i *cdgh) {
    __m128i t = _mm_loadu_si128((const __m128i *)h);
    __m128i s1 = _mm_loadu_si128((const __m128i *)(h + 4));
    t = _mm_shuffle_epi32(t, 0xB1);
    s1 = _mm_shuffle_epi32(s1, 0x1B);
    *abef = _mm_alignr_epi8(t, s1, 8);
    *cdgh = _mm_blend_epi16(s1, t, 0xF0);
}
TGT static inline void from_lanes(__m128i abef, __m128i cdgh, uint32_t h[8]) {
    __m128i t = _mm_shuffle_epi32(abef, 0x1B);
    cdgh = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)h, _mm_blend_epi16(t, cdgh, 0xF0));
    _mm_storeu_si128((__m128i *)(h + 4), _mm_alignr_epi8(cdgh, t, 8));
}

// One block for each of two independent states, interleaved so that the two dependency chains of
// sha256rnds2 overlap.
TGT static inline void blocks2(__m128i *a0, __m128i *c0, const uint8_t *p0, __m128i *a1, __m128i *c1, const uint8_t *p1) {
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i x0 = *a0, y0 = *c0, x1 = *a1, y1 = *c1;
    __m128i m0[4], m1[4];
    _Pragma("clang loop unroll(full)")
    for (int g = 0; g < 16; g++) {
        if (g < 4) {
            m0[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p0 + 16 * g)), bswap);
            m1[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p1 + 16 * g)), bswap);
        }
        __m128i k = _mm_loadu_si128((const __m128i *)(K256 + 4 * g));
        __m128i w0 = _mm_add_epi32(m0[g & 3], k), w1 = _mm_add_epi32(m1[g & 3], k);
        y0 = _mm_sha256rnds2_epu32(y0, x0, w0);
        y1 = _mm_sha256rnds2_epu32(y1, x1, w1);
        if (g >= 3 && g < 15) {
            int n = (g + 1) & 3, c = g & 3, p = (g - 1) & 3;
            m0[n] = _mm_sha256msg2_epu32(_mm_add_epi32(m0[n], _mm_alignr_epi8(m0[c], m0[p], 4)), m0[c]);
            m1[n] = _mm_sha256msg2_epu32(_mm_add_epi32(m1[n], _mm_alignr_epi8(m1[c], m1[p], 4)), m1[c]);
        }
        x0 = _mm_sha256rnds2_epu32(x0, y0, _mm_shuffle_epi32(w0, 0x0E));
        x1 = _mm_sha256rnds2_epu32(x1, y1, _mm_shuffle_epi32(w1, 0x0E));
        if (g >= 1 && g < 13) {
            int p = (g - 1) & 3, c = g & 3;
            m0[p] = _mm_sha256msg1_epu32(m0[p], m0[c]);
            m1[p] = _mm_sha256msg1_epu32(m1[p], m1[c]);
        }
    }
    *a0 = _mm_add_epi32(*a0, x0); *c0 = _mm_add_epi32(*c0, y0);
    *a1 = _mm_add_epi32(*a1, x1); *c1 = _mm_add_epi32(*c1, y1);
}
TGT static inline void block1(__m128i *a0, __m128i *c0, const uint8_t *p0) {
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i x0 = *a0, y0 = *c0;
    __m128i m0[4];
    _Pragma("clang loop unroll(full)")
    for (int g = 0; g < 16; g++) {
        if (g < 4) m0[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p0 + 16 * g)), bswap);
        __m128i k = _mm_loadu_si128((const __m128i *)(K256 + 4 * g));
        __m128i w0 = _mm_add_epi32(m0[g & 3], k);
        y0 = _mm_sha256rnds2_epu32(y0, x0, w0);
        if (g >= 3 && g < 15) {
            int n = (g + 1) & 3, c = g & 3, p = (g - 1) & 3;
            m0[n] = _mm_sha256msg2_epu32(_mm_add_epi32(m0[n], _mm_alignr_epi8(m0[c], m0[p], 4)), m0[c]);
        }
        x0 = _mm_sha256rnds2_epu32(x0, y0, _mm_shuffle_epi32(w0, 0x0E));
        if (g >= 1 && g < 13) {
            int p = (g - 1) & 3, c = g & 3;
            m0[p] = _mm_sha256msg1_epu32(m0[p], m0[c]);
        }
    }
    *a0 = _mm_add_epi32(*a0, x0); *c0 = _mm_add_epi32(*c0, y0);
}

// A message of up to three parts (a ‖ b ‖ c), read block by block: blocks wholly inside b are
// read in place; the blocks after them (the rest of b, c and the padding of FIPS 180-4 §5.1.1) are
// assembled once, up front, when they fit in `tail`; any other block is assembled when it is read.
typedef struct {
    const uint8_t *a, *b, *c;
    size_t na, nb, nc, total, blocks, done;
    size_t first_in_place, end_in_place;  // blocks [first, end) lie wholly inside b
    int tail_ready;                       // blocks from end_in_place on are in `tail`
    uint8_t tmp[64];
    uint8_t tail[192];
} cursor;

/// Bytes [s, s + 64) of a ‖ b ‖ c ‖ 0x80 ‖ 0... ‖ 64-bit big-endian bit length, into t.
__attribute__((noinline)) static void assemble(  // the rare path, kept out of the round loop
    const cursor *k, size_t s, uint8_t *t) {
    size_t o = 0, e = s + 64, lo, hi, ab = k->na + k->nb;
    lo = s; hi = e < k->na ? e : k->na;
    if (lo < hi) { memcpy(t, k->a + lo, hi - lo); o += hi - lo; }
    lo = s > k->na ? s : k->na; hi = e < ab ? e : ab;
    if (lo < hi) { memcpy(t + o, k->b + (lo - k->na), hi - lo); o += hi - lo; }
    lo = s > ab ? s : ab; hi = e < k->total ? e : k->total;
    if (lo < hi) { memcpy(t + o, k->c + (lo - ab), hi - lo); o += hi - lo; }
    if (o < 64) {
        memset(t + o, 0, 64 - o);
        if (s + o == k->total) t[o] = 0x80;
        if (s + 64 == k->blocks * 64) {
            uint64_t bits = (uint64_t)k->total * 8;
            for (int i = 0; i < 8; i++) t[63 - i] = (uint8_t)(bits >> (8 * i));
        }
    }
}

static inline void cursor_init(cursor *k, const void *a, size_t na, const void *b, size_t nb, const void *c, size_t nc) {
    k->a = (const uint8_t *)a; k->b = (const uint8_t *)b; k->c = (const uint8_t *)c;
    k->na = na; k->nb = nb; k->nc = nc;
    k->total = na + nb + nc; k->done = 0;
    k->blocks = (k->total + 9 + 63) / 64;
    k->first_in_place = (na + 63) / 64;
    k->end_in_place = (na + nb) / 64;
    if (k->end_in_place < k->first_in_place) k->end_in_place = k->first_in_place;
    // From end_in_place * 64 (never inside a) on: the rest of b, c, then the padding.
    size_t start = k->end_in_place * 64, count = (k->blocks - k->end_in_place) * 64;
    k->tail_ready = start <= k->total && count <= sizeof k->tail;  // it holds the message's end
    if (k->tail_ready) {
        uint8_t *t = k->tail;
        size_t ab = na + nb, o = 0;
        if (start < ab) { memcpy(t, k->b + (start - na), ab - start); o = ab - start; }
        if (nc) { size_t from = start > ab ? start - ab : 0; memcpy(t + o, k->c + from, nc - from); o += nc - from; }
        memset(t + o, 0, count - o);
        t[o] = 0x80;
        uint64_t bits = (uint64_t)k->total * 8;
        for (int i = 0; i < 8; i++) t[count - 1 - i] = (uint8_t)(bits >> (8 * i));
    }
}

// Inlined: a call here, between the rounds, makes the compiler spill the message words of both lanes.
__attribute__((always_inline)) static inline const uint8_t *cursor_next(cursor *k) {
    size_t i = k->done++;
    if (i >= k->first_in_place && i < k->end_in_place) return k->b + (i * 64 - k->na);
    if (i >= k->end_in_place && k->tail_ready) return k->tail + (i - k->end_in_place) * 64;
    assemble(k, i * 64, k->tmp);
    return k->tmp;
}
static const uint32_t IV[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
static inline void put_digest(__m128i abef, __m128i cdgh, uint8_t out[32]) {
    uint32_t h[8]; from_lanes(abef, cdgh, h);
    for (int i = 0; i < 8; i++) { uint32_t w = __builtin_bswap32(h[i]); memcpy(out + 4 * i, &w, 4); }
}

/// SHA-256(a ‖ b ‖ c) of two messages at once (see the file comment).
TGT static void x2(const void *a0, size_t na0, const void *b0, size_t nb0, const void *c0, size_t nc0, uint8_t out0[32],
                   const void *a1, size_t na1, const void *b1, size_t nb1, const void *c1, size_t nc1, uint8_t out1[32]) {
    cursor k0, k1;
    cursor_init(&k0, a0, na0, b0, nb0, c0, nc0);
    cursor_init(&k1, a1, na1, b1, nb1, c1, nc1);
    __m128i x0, y0, x1, y1;
    to_lanes(IV, &x0, &y0);
    to_lanes(IV, &x1, &y1);
    size_t both = k0.blocks < k1.blocks ? k0.blocks : k1.blocks;
    for (size_t i = 0; i < both; i++) {
        const uint8_t *p0 = cursor_next(&k0);
        const uint8_t *p1 = cursor_next(&k1);
        blocks2(&x0, &y0, p0, &x1, &y1, p1);
    }
    while (k0.done < k0.blocks) block1(&x0, &y0, cursor_next(&k0));
    while (k1.done < k1.blocks) block1(&x1, &y1, cursor_next(&k1));
    put_digest(x0, y0, out0);
    put_digest(x1, y1, out1);
}

/// SHA-256(prefix ‖ left ‖ right) of two pairs at once.
TGT static void pair_x2(uint8_t p0, const uint8_t l0[32], const uint8_t r0[32], uint8_t out0[32],
                        uint8_t p1, const uint8_t l1[32], const uint8_t r1[32], uint8_t out1[32]) {
    uint8_t m0[128], m1[128];
    tally_pair_message(m0, p0, l0, r0);
    tally_pair_message(m1, p1, l1, r1);
    __m128i x0, y0, x1, y1;
    to_lanes(IV, &x0, &y0);
    to_lanes(IV, &x1, &y1);
    blocks2(&x0, &y0, m0, &x1, &y1, m1);
    blocks2(&x0, &y0, m0 + 64, &x1, &y1, m1 + 64);
    put_digest(x0, y0, out0);
    put_digest(x1, y1, out1);
}

/// 1 when the CPU has the SHA extensions, SSSE3 and SSE4.1 (CPUID leaf 1 ECX bits 9 and 19, leaf 7
/// EBX bit 29). Asked once: CPUID traps to the hypervisor in a VM.
static int detect(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) || !(c & (1u << 19))) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 29) & 1;
}

int tally_sha256_x2_available(void) {
    static int known = -1;  // a CPU property, the same whichever thread computes it first
    int v = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (v < 0) { v = detect(); __atomic_store_n(&known, v, __ATOMIC_RELAXED); }
    return v;
}

void tally_sha256_parts3_x2(const void *a0, size_t na0, const void *b0, size_t nb0, const void *c0, size_t nc0, uint8_t out0[32],
                            const void *a1, size_t na1, const void *b1, size_t nb1, const void *c1, size_t nc1, uint8_t out1[32]) {
    if (tally_sha256_x2_available()) {
        x2(a0, na0, b0, nb0, c0, nc0, out0, a1, na1, b1, nb1, c1, nc1, out1);
    } else {
        tally_sha256_parts3(a0, na0, b0, nb0, c0, nc0, out0);
        tally_sha256_parts3(a1, na1, b1, nb1, c1, nc1, out1);
    }
}

void tally_sha256_pair_x2(uint8_t p0, const uint8_t l0[32], const uint8_t r0[32], uint8_t out0[32],
                          uint8_t p1, const uint8_t l1[32], const uint8_t r1[32], uint8_t out1[32]) {
    if (tally_sha256_x2_available()) {
        pair_x2(p0, l0, r0, out0, p1, l1, r1, out1);
    } else {
        tally_sha256_pair(p0, l0, r0, out0);
        tally_sha256_pair(p1, l1, r1, out1);
    }
}

#else

int tally_sha256_x2_available(void) { return 0; }

void tally_sha256_pair_x2(uint8_t p0, const uint8_t l0[32], const uint8_t r0[32], uint8_t out0[32],
                          uint8_t p1, const uint8_t l1[32], const uint8_t r1[32], uint8_t out1[32]) {
    tally_sha256_pair(p0, l0, r0, out0);
    tally_sha256_pair(p1, l1, r1, out1);
}

void tally_sha256_parts3_x2(const void *a0, size_t na0, const void *b0, size_t nb0, const void *c0, size_t nc0, uint8_t out0[32],
                            const void *a1, size_t na1, const void *b1, size_t nb1, const void *c1, size_t nc1, uint8_t out1[32]) {
    tally_sha256_parts3(a0, na0, b0, nb0, c0, nc0, out0);
    tally_sha256_parts3(a1, na1, b1, nb1, c1, nc1, out1);
}

#endif
