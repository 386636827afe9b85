/* buf.c: growable byte buffers. */
#include "buf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

void buf_reserve(Buf *b, size_t extra)
{
    if (b->cap - b->n >= extra) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->n < extra) cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

void buf_reserve_exact(Buf *b, size_t extra)
{
    if (b->cap - b->n >= extra) return;
    b->p = xrealloc(b->p, b->n + extra);
    b->cap = b->n + extra;
}

void buf_puts(Buf *b, const char *s) { buf_put(b, s, strlen(s)); }

void buf_printf(Buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    /* Most results fit a small stack buffer; a longer one is formatted again
     * into room reserved for it. */
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n > 0 && (size_t)n < sizeof small) {
        buf_put(b, small, (size_t)n);
    } else if (n > 0) {
        buf_reserve(b, (size_t)n + 1);
        vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
        b->n += (size_t)n;
    }
    va_end(ap);
}

/* Whether s[0..n) goes into a JSON string as it is (no byte to escape). */
static bool json_plain(const char *s, size_t n)
{
    uint64_t x, hit = 0;
    if (n < 8) {
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c < 0x20 || c == '"' || c == '\\') return false;
        }
        return true;
    }
    for (size_t i = 0; i + 8 < n; i += 8) {
        memcpy(&x, s + i, 8);
        hit |= buf_json_word_special(x);
    }
    memcpy(&x, s + n - 8, 8); /* the last 8 bytes, overlapping the loop's */
    return !(hit | buf_json_word_special(x));
}

/* buf_put_json_str for a string with a byte to escape (the rare case),
 * apart so that the common path stays small. */
__attribute__((noinline)) static void put_json_escaped(Buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    buf_reserve(b, n + 2);
    b->p[b->n++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            buf_putc(b, '\\');
            buf_putc(b, (char)c);
        } else if (c < 0x20) {
            switch (c) {
            case '\n': buf_put(b, "\\n", 2); break;
            case '\t': buf_put(b, "\\t", 2); break;
            case '\r': buf_put(b, "\\r", 2); break;
            default: {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                buf_put(b, e, 6);
            }
            }
        } else {
            buf_putc(b, (char)c);
        }
    }
    buf_putc(b, '"');
}

void buf_put_json_str(Buf *b, const char *s, size_t n)
{
    if (n >= 8 && n <= 16) {
        /* Ids and codes: two words, overlapping, cover the string; both
         * are tested and both are the copy. */
        uint64_t x0, x1;
        if (!buf_json_plain_8_16(s, n)) {
            put_json_escaped(b, s, n);
            return;
        }
        memcpy(&x0, s, 8);
        memcpy(&x1, s + n - 8, 8);
        if (b->cap - b->n < n + 2) buf_reserve(b, n + 2);
        char *w = b->p + b->n;
        w[0] = '"';
        memcpy(w + 1, &x0, 8);
        memcpy(w + 1 + n - 8, &x1, 8);
        w[n + 1] = '"';
        b->n += n + 2;
        return;
    }
    if (!json_plain(s, n)) {
        put_json_escaped(b, s, n);
        return;
    }
    /* A plain string: the text between two quotes. */
    if (b->cap - b->n < n + 2) buf_reserve(b, n + 2);
    char *w = b->p + b->n;
    w[0] = '"';
    memcpy(w + 1, s, n);
    w[n + 1] = '"';
    b->n += n + 2;
}

size_t buf_json_str_room(const char *s, size_t n) { return json_plain(s, n) ? n + 2 : 6 * n + 2; }

void buf_put_u8(Buf *b, uint8_t v) { buf_putc(b, (char)v); }

void buf_put_u16(Buf *b, uint16_t v)
{
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    buf_put(b, x, 2);
}

void buf_put_u32(Buf *b, uint32_t v)
{
    unsigned char x[4];
    for (int i = 0; i < 4; i++) x[i] = (unsigned char)(v >> (8 * i));
    buf_put(b, x, 4);
}

void buf_put_u64(Buf *b, uint64_t v)
{
    unsigned char x[8];
    for (int i = 0; i < 8; i++) x[i] = (unsigned char)(v >> (8 * i));
    buf_put(b, x, 8);
}

void buf_free(Buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}
