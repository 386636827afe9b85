/* buf.h: a growable byte buffer (owned; free with buf_free). */
#ifndef PCR_BUF_H
#define PCR_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

typedef struct Buf {
    char *p;
    size_t n, cap;
} Buf;

void buf_reserve(Buf *b, size_t extra);
/* Makes room for exactly `extra` more bytes when there is less (no
 * doubling): for a buffer sized once whose bytes must not move later. */
void buf_reserve_exact(Buf *b, size_t extra);

/* Appending is the output's inner loop: inline, growing only when full. */
static inline void buf_put(Buf *b, const void *data, size_t n)
{
    if (b->cap - b->n < n) buf_reserve(b, n);
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static inline void buf_putc(Buf *b, char c)
{
    if (b->cap == b->n) buf_reserve(b, 1);
    b->p[b->n++] = c;
}

/* Whether some byte of the word x (8 bytes of a string) needs escaping in
 * JSON: a '"', a '\\' or a control character (bytes >= 0x80 never do).
 * The classic word tricks: some byte of x is below 0x20 iff
 * (x - 0x2020..) & ~x & 0x8080.. is not 0, and some byte is zero iff
 * (x - 0x0101..) & ~x & 0x8080.. is not 0, applied to x ^ '"'.. and
 * x ^ '\\'... Exact about whether such a byte exists (the bit set may
 * mark the wrong byte, which is not asked). */
static inline uint64_t buf_json_word_special(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
    return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & high;
}

/* Whether s[0..n), 8 <= n <= 16, has no byte to escape in JSON: its
 * first and last 8 bytes, overlapping, tested at once (SSE2: a 16-byte
 * vector, compared with '"', '\\' and 0x1f as the unsigned maximum of
 * a control byte), or as two words elsewhere. */
static inline bool buf_json_plain_8_16(const char *s, size_t n)
{
#if defined(__SSE2__)
    __m128i v = _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)(const void *)s),
                                   _mm_loadl_epi64((const __m128i *)(const void *)(s + n - 8)));
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                            _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                               _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v));
    return _mm_movemask_epi8(hit) == 0;
#else
    uint64_t x0, x1;
    memcpy(&x0, s, 8);
    memcpy(&x1, s + n - 8, 8);
    return !(buf_json_word_special(x0) | buf_json_word_special(x1));
#endif
}

void buf_puts(Buf *b, const char *s);
void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes, escapes; s must be UTF-8). */
void buf_put_json_str(Buf *b, const char *s, size_t n);
/* At most the bytes buf_put_json_str writes for s: n + 2 when no byte
 * needs escaping, else 6n + 2 (\u00XX is the longest escape). */
size_t buf_json_str_room(const char *s, size_t n);
void buf_put_u8(Buf *b, uint8_t v);
void buf_put_u16(Buf *b, uint16_t v); /* little-endian */
void buf_put_u32(Buf *b, uint32_t v); /* little-endian */
void buf_put_u64(Buf *b, uint64_t v); /* little-endian */
void buf_free(Buf *b);

#endif
