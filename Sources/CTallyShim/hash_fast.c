// Hot-loop helpers for the ledger: SHA-256 of short concatenations without SHA256_Final's
// bookkeeping, and CRC-32 folding with carry-less multiplication. Both are checked against the
// reference paths (libcrypto's one-shot SHA-256, the table CRC-32) by TallyCoreTests.
#include "CTallyShim.h"
#include "pair_message.h"
#include <string.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>

// The SHA256_* entry points are deprecated in OpenSSL 3 in favour of EVP, whose per-call provider
// lookup costs more than hashing a 500-byte record; they remain part of the 3.x ABI.
#pragma clang diagnostic ignored "-Wdeprecated-declarations"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// --- SHA-256 -------------------------------------------------------------------------------
// The message is padded here (FIPS 180-4 §5.1.1) and handed to SHA256_Update in whole blocks
// only, so libcrypto runs its block function straight over the caller's bytes; the digest is
// read from the context's state words (SHA256_CTX.h), skipping SHA256_Final's copy and cleanse.

/// What SHA256_Init does, without its call and memset: the initial hash value (FIPS 180-4 §5.3.3)
/// and empty counters. Only SHA256_Update and the state words are used afterwards.
static inline void init_ctx(SHA256_CTX *c) {
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, iv, sizeof iv);
    c->Nl = 0; c->Nh = 0; c->num = 0; c->md_len = SHA256_DIGEST_LENGTH;
}

/// The state words, big-endian: the digest.
static inline void store_digest(const SHA256_CTX *c, uint8_t out[32]) {
    for (int i = 0; i < 8; i++) {
        uint32_t w = __builtin_bswap32(c->h[i]);
        memcpy(out + 4 * i, &w, 4);
    }
}

typedef struct {
    SHA256_CTX ctx;
    uint8_t stage[128];
    size_t staged;
    uint64_t total;
} tally_sha_stream;

static inline void stream_feed(tally_sha_stream *s, const uint8_t *p, size_t n) {
    s->total += n;
    if (s->staged) {
        size_t k = 64 - s->staged;
        if (k > n) k = n;
        memcpy(s->stage + s->staged, p, k);
        s->staged += k; p += k; n -= k;
        if (s->staged < 64) return;
        SHA256_Update(&s->ctx, s->stage, 64);
        s->staged = 0;
    }
    size_t whole = n & ~(size_t)63;
    if (whole) SHA256_Update(&s->ctx, p, whole);
    memcpy(s->stage, p + whole, n - whole);
    s->staged = n - whole;
}

static inline void stream_finish(tally_sha_stream *s, uint8_t out[32]) {
    size_t n = s->staged;
    uint64_t bits = s->total * 8;
    s->stage[n++] = 0x80;
    size_t end = n <= 56 ? 64 : 128;
    memset(s->stage + n, 0, end - 8 - n);
    for (int i = 0; i < 8; i++) s->stage[end - 1 - i] = (uint8_t)(bits >> (8 * i));
    SHA256_Update(&s->ctx, s->stage, end);
    store_digest(&s->ctx, out);
}

void tally_sha256_parts3(const void *a, size_t na, const void *b, size_t nb, const void *c, size_t nc,
                         uint8_t out[32]) {
    tally_sha_stream s;
    init_ctx(&s.ctx);
    s.staged = 0; s.total = 0;
    if (na) stream_feed(&s, a, na);
    if (nb) stream_feed(&s, b, nb);
    if (nc) stream_feed(&s, c, nc);
    stream_finish(&s, out);
}

void tally_sha256_pair(uint8_t prefix, const uint8_t left[32], const uint8_t right[32], uint8_t out[32]) {
    uint8_t m[128];
    tally_pair_message(m, prefix, left, right);
    SHA256_CTX ctx;
    init_ctx(&ctx);
    SHA256_Update(&ctx, m, 128);
    store_digest(&ctx, out);
}

// --- CRC-32 (IEEE 802.3, reflected 0xEDB88320) -------------------------------------------------
// Carry-less-multiply folding (Gopal et al., "Fast CRC Computation for Generic Polynomials Using
// PCLMULQDQ Instruction", Intel 2009). In the bit-reflected domain the constants are
// x^e mod P(x) for the fold distances: 4×128 bits in the main loop, 128 bits for the single fold,
// 64 bits for the last step, then a Barrett reduction with mu = floor(x^64 / P(x)). The values
// below are those residues (bit-reflected, shifted left by one): x^544, x^480 (4×128 ± 32), x^160,
// x^96 (128 ± 32), x^64, then P itself and mu; TallyCoreTests recomputes each from the polynomial.

#if defined(__x86_64__)
static const uint64_t k_fold4_lo = 0x154442bd4ULL, k_fold4_hi = 0x1c6e41596ULL;
static const uint64_t k_fold1_lo = 0x1751997d0ULL, k_fold1_hi = 0x0ccaa009eULL;
static const uint64_t k_fold64 = 0x163cd6124ULL;
static const uint64_t k_poly = 0x1db710641ULL, k_mu = 0x1f7011641ULL;

__attribute__((target("pclmul,sse4.1")))
static inline __m128i fold(__m128i acc, __m128i k, __m128i next) {
    __m128i lo = _mm_clmulepi64_si128(acc, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(acc, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

__attribute__((target("pclmul,sse4.1")))
static uint32_t crc_fold(uint32_t reg, const uint8_t *p, size_t n) {
    // n is a multiple of 16 and at least 64.
    const __m128i k4 = _mm_set_epi64x((long long)k_fold4_hi, (long long)k_fold4_lo);
    const __m128i k1 = _mm_set_epi64x((long long)k_fold1_hi, (long long)k_fold1_lo);
    __m128i x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi32_si128((int)reg));
    __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
    p += 64; n -= 64;
    while (n >= 64) {
        x0 = fold(x0, k4, _mm_loadu_si128((const __m128i *)p));
        x1 = fold(x1, k4, _mm_loadu_si128((const __m128i *)(p + 16)));
        x2 = fold(x2, k4, _mm_loadu_si128((const __m128i *)(p + 32)));
        x3 = fold(x3, k4, _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64; n -= 64;
    }
    x0 = fold(x0, k1, x1);
    x0 = fold(x0, k1, x2);
    x0 = fold(x0, k1, x3);
    while (n >= 16) {
        x0 = fold(x0, k1, _mm_loadu_si128((const __m128i *)p));
        p += 16; n -= 16;
    }
    // 128 → 64 bits.
    const __m128i low32 = _mm_setr_epi32(-1, 0, -1, 0);
    __m128i t = _mm_clmulepi64_si128(x0, k1, 0x10);
    x0 = _mm_xor_si128(_mm_srli_si128(x0, 8), t);
    // 64 → 32 bits.
    const __m128i k64 = _mm_set_epi64x(0, (long long)k_fold64);
    t = _mm_srli_si128(x0, 4);
    x0 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x0, low32), k64, 0x00), t);
    // Barrett reduction.
    const __m128i pm = _mm_set_epi64x((long long)k_mu, (long long)k_poly);
    t = _mm_clmulepi64_si128(_mm_and_si128(x0, low32), pm, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), pm, 0x00);
    x0 = _mm_xor_si128(x0, t);
    return (uint32_t)_mm_extract_epi32(x0, 1);
}
#endif

size_t tally_crc32_fold(uint32_t *reg, const uint8_t *p, size_t n) {
#if defined(__x86_64__)
    if (n < 64 || !tally_crc32_fold_available()) return 0;
    size_t m = n & ~(size_t)15;
    *reg = crc_fold(*reg, p, m);
    return m;
#else
    (void)reg; (void)p; (void)n;
    return 0;
#endif
}

void tally_crc32_fold_constants(uint64_t out[7]) {
#if defined(__x86_64__)
    out[0] = k_fold4_lo; out[1] = k_fold4_hi; out[2] = k_fold1_lo; out[3] = k_fold1_hi;
    out[4] = k_fold64; out[5] = k_poly; out[6] = k_mu;
#else
    memset(out, 0, 7 * sizeof(uint64_t));
#endif
}

int tally_crc32_fold_available(void) {
#if defined(__x86_64__)
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#else
    return 0;
#endif
}

// --- HMAC-SHA256 (RFC 2104) ------------------------------------------------------------------
// On the SHA-256 helper above: libcrypto's one-shot HMAC() looks the MAC and digest up through the
// provider layer on every call, which costs more than the two hashes of a SigV4 signature.

void tally_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len, uint8_t out[32]) {
    uint8_t k[64], pad[64], inner[32];
    memset(k, 0, sizeof k);
    if (key_len > 64) tally_sha256_parts3(key, key_len, NULL, 0, NULL, 0, k);
    else if (key_len) memcpy(k, key, key_len);
    for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x36;
    tally_sha256_parts3(pad, 64, msg, msg_len, NULL, 0, inner);
    for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x5c;
    tally_sha256_parts3(pad, 64, inner, 32, NULL, 0, out);
    // The key and its pads are secrets (derived signing keys): wipe them.
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(inner, sizeof inner);
}
