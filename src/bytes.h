/* bytes.h: several bytes of a string read at once, as one word.
 *
 * bytes_le64 and bytes_le32 load 8 or 4 bytes from any address (no
 * alignment needed) as a little-endian number: byte 0 is the lowest, on
 * every machine. Code that tests bytes by their place in a word (the date
 * reader, the payer router, the decoder's key compare) reads through these
 * so it means the same on a big-endian machine. */
#ifndef PCR_BYTES_H
#define PCR_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint64_t bytes_le64(const char *s)
{
    uint64_t x;
    memcpy(&x, s, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}

static inline uint64_t bytes_le32(const char *s)
{
    uint32_t x;
    memcpy(&x, s, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap32(x);
#endif
    return x;
}

#endif
