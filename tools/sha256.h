/* sha256.h: SHA-256 (FIPS 180-4) of a byte buffer, for the checksums that
 * `pcrvm serve` reports of the policy bytes it loaded. */
#ifndef PCR_TOOLS_SHA256_H
#define PCR_TOOLS_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* Writes the digest of buf[0..len) as 64 lowercase hex digits and a NUL
 * into hex (65 bytes). */
void sha256_hex(const uint8_t *buf, size_t len, char hex[65]);

#endif
