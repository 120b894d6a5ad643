// Tally's LZ4 block encoder: output in the standard LZ4 block format (any LZ4 decoder, liblz4's
// LZ4_decompress_safe included, reads it), written for the ledger's blocks of JSON events.
//
// It is a greedy single-pass encoder like LZ4's fast mode, with two differences that suit
// megabyte blocks of repetitive JSON:
//   - the hash table has up to 65,536 entries (liblz4's default mode has 4,096), so a repeated
//     field is found again after many more distinct strings in between;
//   - an entry holds only the low 16 bits of a position. LZ4 offsets are at most 65,535, so the
//     candidate is "the position within the last 65,536 bytes with these low bits": a stale entry
//     only names a wrong candidate, which the 4-byte comparison rejects. Half the table size of
//     32-bit entries keeps it in the L2 cache, and no window check is needed.
// Positions are hashed over 5 bytes (4 for inputs under 16 KiB, where short matches matter more).
//
// The block format's end rules: the last 5 bytes are literals, and the last match starts at least
// 12 bytes before the end (https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md).
#include "CTallyShim.h"
#include <stdlib.h>
#include <string.h>

enum { MIN_MATCH = 4, LAST_LITERALS = 5, MATCH_START_LIMIT = 12, MAX_TABLE_BITS = 16, MIN_TABLE_BITS = 12,
       SKIP_SHIFT = 6 };

static inline uint32_t load32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t load64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/// Fibonacci hashing of the low `mask` bytes of `v` into `bits` bits.
static inline uint32_t slot(uint64_t v, uint64_t mask, int bits) {
    return (uint32_t)(((v & mask) * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

/// How many bytes a[0...] and b[0...] share, a running at most to `limit`.
static inline size_t shared_length(const uint8_t *a, const uint8_t *b, const uint8_t *limit) {
    const uint8_t *start = a;
    while (a + 8 <= limit) {
        uint64_t x = load64(a) ^ load64(b);
        if (x) return (size_t)(a - start) + (size_t)(__builtin_ctzll(x) >> 3);
        a += 8; b += 8;
    }
    while (a < limit && *a == *b) { a++; b++; }
    return (size_t)(a - start);
}

/// The bytes a length field of `n` takes beyond its token nibble (0 when n < 15).
static inline size_t extension_bytes(size_t n) { return n >= 15 ? (n - 15) / 255 + 1 : 0; }

static inline uint8_t *put_extension(uint8_t *op, size_t n) {
    if (n < 15) return op;
    n -= 15;
    while (n >= 255) { *op++ = 255; n -= 255; }
    *op++ = (uint8_t)n;
    return op;
}

size_t tally_lz4_compress(const uint8_t *src, size_t n, uint8_t *dst, size_t capacity) {
    if (n > 0x7E000000u) return 0;  // LZ4's own input limit
    const uint8_t *const end = src + n;
    const uint8_t *anchor = src;
    uint8_t *op = dst;
    uint8_t *const oend = dst + capacity;

    if (n > MATCH_START_LIMIT) {
        int bits = 32 - __builtin_clz((unsigned)n) - 2;
        if (bits > MAX_TABLE_BITS) bits = MAX_TABLE_BITS;
        if (bits < MIN_TABLE_BITS) bits = MIN_TABLE_BITS;
        const uint64_t mask = n < 16384 ? 0xFFFFFFFFull : 0xFFFFFFFFFFull;
        uint16_t small[1 << MIN_TABLE_BITS];
        uint16_t *table = small;
        if (bits > MIN_TABLE_BITS) {
            table = malloc(sizeof(uint16_t) << bits);
            if (!table) return 0;
        }
        memset(table, 0, sizeof(uint16_t) << bits);
        // Entry e at position p names p - (uint16_t)(p - e). Every entry stores a position before
        // the current one, so while p < 65,536 that is the stored position itself (>= src), and
        // afterwards it lies within the last 65,535 bytes: a candidate is never before src.
        const uint8_t *const match_start_limit = end - MATCH_START_LIMIT;
        const uint8_t *const match_end_limit = end - LAST_LITERALS;
        const uint8_t *ip = src + 1;
        const uint8_t *candidate;
        for (;;) {
            // Look for a 4-byte match, stepping further the longer nothing matches.
            unsigned attempts = 1u << SKIP_SHIFT, step = 1;
            for (;;) {
                uint32_t h = slot(load64(ip), mask, bits);
                candidate = ip - (uint16_t)((uint16_t)(ip - src) - table[h]);
                table[h] = (uint16_t)(ip - src);
                if (candidate != ip && load32(candidate) == load32(ip)) break;
                ip += step;
                step = attempts++ >> SKIP_SHIFT;
                if (ip > match_start_limit) goto last_literals;
            }
            while (ip > anchor && candidate > src && ip[-1] == candidate[-1]) { ip--; candidate--; }
            for (;;) {
                // A sequence: the literals since `anchor`, then the match at `ip`.
                size_t literals = (size_t)(ip - anchor);
                size_t length = MIN_MATCH + shared_length(ip + MIN_MATCH, candidate + MIN_MATCH, match_end_limit);
                size_t extra = length - MIN_MATCH;
                // At most 1 + (literals / 255 + 1) + literals + 2 + (extra / 255 + 1) bytes, and up to
                // 8 more for the short literal copy below (LZ4_compressBound(n) leaves 16 spare).
                size_t need = literals + literals / 255 + extra / 255 + 13;
                if ((size_t)(oend - op) < need) {
                    if (table != small) free(table);
                    return 0;
                }
                uint8_t *token = op++;
                op = put_extension(op, literals);
                // anchor + literals = ip <= end - 12: the 8- and 16-byte copies read within the input.
                if (literals <= 8) memcpy(op, anchor, 8);
                else if (literals <= 16) memcpy(op, anchor, 16);
                else memcpy(op, anchor, literals);
                op += literals;
                size_t offset = (size_t)(ip - candidate);
                op[0] = (uint8_t)offset;
                op[1] = (uint8_t)(offset >> 8);
                op = put_extension(op + 2, extra);
                *token = (uint8_t)((literals >= 15 ? 15 : literals) << 4 | (extra >= 15 ? 15 : extra));
                ip += length;
                anchor = ip;
                if (ip > match_start_limit) goto last_literals;
                // A match often follows a match at once.
                uint32_t h = slot(load64(ip), mask, bits);
                candidate = ip - (uint16_t)((uint16_t)(ip - src) - table[h]);
                table[h] = (uint16_t)(ip - src);
                if (candidate != ip && load32(candidate) == load32(ip)) continue;
                ip++;
                if (ip > match_start_limit) goto last_literals;
                break;
            }
        }
    last_literals:
        if (table != small) free(table);
    }
    {
        size_t literals = (size_t)(end - anchor);
        if ((size_t)(oend - op) < 1 + extension_bytes(literals) + literals) return 0;
        uint8_t *token = op++;
        op = put_extension(op, literals);
        *token = (uint8_t)((literals >= 15 ? 15 : literals) << 4);
        if (literals) memcpy(op, anchor, literals);
        op += literals;
    }
    return (size_t)(op - dst);
}
