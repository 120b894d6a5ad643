// Recognises ledger events that are already in canonical form (docs/LEDGER-FORMAT.md §2.1), so
// `ledger append` can copy them verbatim. Conservative: 1 means "valid event, canonical form equals
// the input"; 0 only means "take the full canonicaliser" (which rebuilds or rejects with a precise error).
//
// Two passes over the input: a vector pass rejects any backslash, control byte (< 0x20) or non-ASCII
// byte anywhere (such inputs always take the full path), so strings are then plain quote-to-quote runs.
// For lines up to 4 KiB the same pass records where the quotes are (one bit per byte), and the
// structural pass jumps from an opening quote to the next set bit; longer lines find each closing
// quote sixteen bytes at a time.
#include "CTallyShim.h"
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum { QUOTE_MAP_BYTES = 4096 };

typedef struct {
    const uint8_t *p;
    size_t n;
    size_t i;
    int depth;
    int max_depth;
    int saw_type;
    const uint64_t *quotes;  // bit i of word i / 64: p[i] is a quote (NULL: scan for quotes)
} scan_t;

static int value(scan_t *s);

/// No backslash, control byte or non-ASCII byte anywhere in p[0..n) (n <= QUOTE_MAP_BYTES), and
/// where the quotes are: quotes[w] bit b set when p[64 * w + b] is '"'.
static int plain_ascii_quotes(const uint8_t *p, size_t n, uint64_t *quotes) {
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i space = _mm_set1_epi8(0x20), backslash = _mm_set1_epi8('\\'), quote = _mm_set1_epi8('"');
    __m128i bad = _mm_setzero_si128();
    for (; i + 64 <= n; i += 64) {
        uint64_t word = 0;
        for (int k = 0; k < 4; k++) {
            __m128i x = _mm_loadu_si128((const __m128i *)(p + i + 16 * k));
            bad = _mm_or_si128(bad, _mm_or_si128(_mm_cmplt_epi8(x, space), _mm_cmpeq_epi8(x, backslash)));
            word |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, quote)) << (16 * k);
        }
        quotes[i / 64] = word;
    }
    if (_mm_movemask_epi8(bad) != 0) return 0;
#endif
    if (i < n) memset(quotes + i / 64, 0, ((n - 1) / 64 - i / 64 + 1) * sizeof *quotes);
    for (; i < n; i++) {
        uint8_t b = p[i];
        if (b < 0x20 || b >= 0x80 || b == '\\') return 0;
        quotes[i / 64] |= (uint64_t)(b == '"') << (i % 64);
    }
    return 1;
}

/// No backslash, control byte or non-ASCII byte anywhere in p[0..n).
static int plain_ascii(const uint8_t *p, size_t n) {
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i space = _mm_set1_epi8(0x20), backslash = _mm_set1_epi8('\\');
    __m128i bad = _mm_setzero_si128();
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(p + i));
        // Signed compare: bytes 0x80..0xFF are negative, so "< 0x20" also catches non-ASCII.
        bad = _mm_or_si128(bad, _mm_or_si128(_mm_cmplt_epi8(x, space), _mm_cmpeq_epi8(x, backslash)));
    }
    if (_mm_movemask_epi8(bad) != 0) return 0;
#endif
    for (; i < n; i++) {
        uint8_t b = p[i];
        if (b < 0x20 || b >= 0x80 || b == '\\') return 0;
    }
    return 1;
}

/// p[i] is an opening quote; moves past the closing one (the input is known to hold no escapes).
static inline int string(scan_t *s) {
    const uint8_t *p = s->p;
    size_t n = s->n, i = s->i + 1;
    if (s->quotes) {
        if (i >= n) return 0;
        size_t w = i / 64;
        uint64_t m = s->quotes[w] >> (i % 64) << (i % 64);  // quotes at i and after, in this word
        size_t last = (n - 1) / 64;
        while (m == 0) {
            if (++w > last) return 0;
            m = s->quotes[w];
        }
        s->i = w * 64 + (size_t)__builtin_ctzll(m) + 1;
        return 1;
    }
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    for (; i + 16 <= n; i += 16) {
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + i)), quote));
        if (m != 0) {
            s->i = i + (size_t)__builtin_ctz(m) + 1;
            return 1;
        }
    }
#endif
    for (; i < n; i++) {
        if (p[i] == '"') {
            s->i = i + 1;
            return 1;
        }
    }
    return 0;
}

static inline int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/// Numbers whose text is their canonical form: integers of at most 21 digits (not -0), and decimals
/// I.F with F not ending in 0 where I has at most 21 digits, or I is 0 and F starts with at most five
/// zeros. Anything with an exponent takes the full path.
static int number(scan_t *s) {
    const uint8_t *p = s->p;
    size_t n = s->n, i = s->i;
    int negative = 0;
    if (p[i] == '-') { negative = 1; i++; }
    size_t int_start = i;
    if (i >= n || !is_digit(p[i])) return 0;
    int zero_int = p[i] == '0';
    if (zero_int) i++;
    else while (i < n && is_digit(p[i])) i++;
    size_t int_len = i - int_start;
    if (i < n && p[i] == '.') {
        i++;
        size_t frac_start = i;
        while (i < n && is_digit(p[i])) i++;
        if (i == frac_start || p[i - 1] == '0') return 0;
        if (zero_int) {
            size_t zeros = 0;
            while (p[frac_start + zeros] == '0') zeros++;  // ends: the fraction's last digit is not 0
            if (zeros > 5) return 0;
        } else if (int_len > 21) {
            return 0;
        }
    } else if ((zero_int && negative) || int_len > 21) {
        return 0;
    }
    if (i < n && (p[i] | 0x20) == 'e') return 0;
    s->i = i;
    return 1;
}

/// value(), with strings and numbers (most values) handled without the call.
static inline int member_value(scan_t *s) {
    if (s->i >= s->n) return 0;
    uint8_t c = s->p[s->i];
    if (c == '"') return string(s);
    if (is_digit(c)) return number(s);
    return value(s);
}

static int literal(scan_t *s, const char *text, size_t len) {
    if (s->i + len > s->n || memcmp(s->p + s->i, text, len) != 0) return 0;
    s->i += len;
    return 1;
}

static int object(scan_t *s, int top) {
    const uint8_t *p = s->p;
    size_t n = s->n;
    if (++s->depth > s->max_depth) return 0;
    s->i++;  // {
    if (s->i >= n) return 0;
    if (p[s->i] == '}') { s->i++; s->depth--; return 1; }
    size_t prev_start = 0, prev_len = 0;
    int first = 1;
    for (;;) {
        if (s->i >= n || p[s->i] != '"') return 0;
        size_t key_start = s->i + 1;
        if (!string(s)) return 0;
        size_t key_len = s->i - 1 - key_start;
        if (!first) {
            // Strictly increasing by unsigned bytes, shorter first on a common prefix (rules out
            // duplicates too). Inline: keys are short and usually differ early.
            size_t m = key_len < prev_len ? key_len : prev_len, j = 0;
            while (j < m && p[key_start + j] == p[prev_start + j]) j++;
            if (j < m ? p[key_start + j] < p[prev_start + j] : key_len <= prev_len) return 0;
        }
        first = 0;
        prev_start = key_start;
        prev_len = key_len;
        if (s->i >= n || p[s->i] != ':') return 0;
        s->i++;
        if (top && key_len == 4 && memcmp(p + key_start, "type", 4) == 0) {
            if (s->i >= n || p[s->i] != '"') return 0;
            s->saw_type = 1;
        }
        if (!member_value(s) || s->i >= n) return 0;
        uint8_t c = p[s->i++];
        if (c == ',') continue;
        if (c == '}') { s->depth--; return 1; }
        return 0;
    }
}

static int array(scan_t *s) {
    const uint8_t *p = s->p;
    size_t n = s->n;
    if (++s->depth > s->max_depth) return 0;
    s->i++;  // [
    if (s->i >= n) return 0;
    if (p[s->i] == ']') { s->i++; s->depth--; return 1; }
    for (;;) {
        if (!member_value(s) || s->i >= n) return 0;
        uint8_t c = p[s->i++];
        if (c == ',') continue;
        if (c == ']') { s->depth--; return 1; }
        return 0;
    }
}

static int value(scan_t *s) {
    if (s->i >= s->n) return 0;
    switch (s->p[s->i]) {
    case '{': return object(s, 0);
    case '[': return array(s);
    case '"': return string(s);
    case 't': return literal(s, "true", 4);
    case 'f': return literal(s, "false", 5);
    case 'n': return literal(s, "null", 4);
    case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
        return number(s);
    default: return 0;
    }
}

int tally_is_canonical_event(const uint8_t *p, size_t n, int max_depth) {
    if (n < 2 || p[0] != '{') return 0;
    uint64_t quotes[QUOTE_MAP_BYTES / 64];
    scan_t s = {p, n, 0, 0, max_depth, 0, NULL};
    if (n <= QUOTE_MAP_BYTES) {
        if (!plain_ascii_quotes(p, n, quotes)) return 0;
        s.quotes = quotes;
    } else if (!plain_ascii(p, n)) {
        return 0;
    }
    return object(&s, 1) && s.i == n && s.saw_type;
}
