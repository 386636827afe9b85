/* buf.h: a growable byte buffer (owned; free with buf_free). */
#ifndef PCR_BUF_H
#define PCR_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct Buf {
    char *p;
    size_t n, cap;
} Buf;

void buf_reserve(Buf *b, size_t extra);

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

void buf_puts(Buf *b, const char *s);
void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes, escapes; s must be UTF-8). */
void buf_put_json_str(Buf *b, const char *s, size_t n);
void buf_put_u8(Buf *b, uint8_t v);
void buf_put_u16(Buf *b, uint16_t v); /* little-endian */
void buf_put_u32(Buf *b, uint32_t v); /* little-endian */
void buf_put_u64(Buf *b, uint64_t v); /* little-endian */
void buf_free(Buf *b);

#endif
