/* sha256.h: SHA-256 (FIPS 180-4) of a byte buffer, for the policy
 * checksums pcrvm --stats prints (pcr_policy_sha256): the same digest as
 * `sha256sum FILE.pcrb`. */
#ifndef PCR_SHA256_H
#define PCR_SHA256_H

#include <stddef.h>
#include <stdint.h>

enum { SHA256_BYTES = 32, SHA256_HEX = 65 };

/* Writes the digest of buf[0..len) to out. */
void sha256_digest(const uint8_t *buf, size_t len, uint8_t out[SHA256_BYTES]);
/* Writes the digest as 64 lowercase hex digits plus NUL to hex. */
void sha256_hex(const uint8_t *buf, size_t len, char hex[SHA256_HEX]);

#endif
