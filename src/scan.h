/* scan.h: finding, several bytes at a time, the first byte of a JSON string
 * that needs a closer look.
 *
 * A byte of a string's body is plain when it stands for itself: printable
 * ASCII other than '"' and '\\'. Every other byte -- the closing quote, a
 * backslash, a control character (which must be escaped) or the first byte
 * of a UTF-8 sequence -- stops the scan, and the decoder (rec.c) looks at it
 * one byte at a time. Most strings of a record are plain up to their
 * closing quote, so one scan finds their end.
 *
 * Three versions give the same answer (tests/unit/test_scan.c checks every
 * length and offset): scan_plain_bytes one byte at a time, scan_plain_swar
 * eight at a time in a 64-bit word (portable C), and scan_plain_sse2 sixteen
 * at a time where SSE2 is available (always on x86_64). scan_plain is the
 * fastest one the build has. None reads outside [p, end). */
#ifndef PCR_SCAN_H
#define PCR_SCAN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define SCAN_HAVE_SSE2 1
#else
#define SCAN_HAVE_SSE2 0
#endif

/* True when byte c stands for itself inside a JSON string. */
static inline bool scan_is_plain(uint8_t c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

/* The first byte in [p, end) that is not plain, or end. */
static inline const uint8_t *scan_plain_bytes(const uint8_t *p, const uint8_t *end)
{
    while (p < end && scan_is_plain(*p)) p++;
    return p;
}

/* Eight bytes at a time: below(x, n) flags the bytes of x below n (n <=
 * 0x80). Its borrows can flag a byte more significant than a true one but
 * never a less significant one, so on a little-endian machine the lowest
 * flag always marks the first byte that is '"', '\\', a control character or
 * not ASCII (bytes >= 0x80 are flagged by their top bit, and below()
 * ignores them through its ~x term). Elsewhere it scans byte by byte. */
static inline const uint8_t *scan_plain_swar(const uint8_t *p, const uint8_t *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
#define SCAN_BELOW(x, n) (((x) - ones * (n)) & ~(x) & high)
    while (end - p >= 8) {
        uint64_t w, m;
        memcpy(&w, p, 8);
        m = SCAN_BELOW(w ^ ones * '"', 1) | SCAN_BELOW(w ^ ones * '\\', 1) | SCAN_BELOW(w, 0x20) |
            (w & high);
        if (m) return p + ((unsigned)__builtin_ctzll(m) >> 3);
        p += 8;
    }
#undef SCAN_BELOW
#endif
    return scan_plain_bytes(p, end);
}

#if SCAN_HAVE_SSE2
/* The bytes of the 16 at p (all of them readable) that are not plain, as
 * bits (bit i: byte i). A signed compare with 0x20 flags both the control
 * characters and the bytes >= 0x80 (negative as int8). */
static inline unsigned scan_stops16(const uint8_t *p)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                          _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                             _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
    return (unsigned)_mm_movemask_epi8(m);
}

/* Sixteen bytes at a time (scan_stops16). The last fewer than sixteen
 * bytes go to the SWAR scan. */
static inline const uint8_t *scan_plain_sse2(const uint8_t *p, const uint8_t *end)
{
    while (end - p >= 16) {
        unsigned bits = scan_stops16(p);
        if (bits) return p + __builtin_ctz(bits);
        p += 16;
    }
    return scan_plain_swar(p, end);
}
#endif

/* The first byte in [p, end) that is not plain, or end: the fastest scan of
 * this build. */
static inline const uint8_t *scan_plain(const uint8_t *p, const uint8_t *end)
{
#if SCAN_HAVE_SSE2
    return scan_plain_sse2(p, end);
#else
    return scan_plain_swar(p, end);
#endif
}

#endif
