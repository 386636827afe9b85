/* sha256.h: SHA-256 (FIPS 180-4) of a byte buffer, for the policy
 * checksums pcrvm --stats prints (pcr_policy_sha256): the same digest as
 * `sha256sum FILE.pcrb`. */
#ifndef PCR_SHA256_H
#define PCR_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { SHA256_BYTES = 32, SHA256_HEX = 65 };

/* Writes the digest of buf[0..len) to out (by the processor's SHA
 * instructions when it has them). */
void sha256_digest(const uint8_t *buf, size_t len, uint8_t out[SHA256_BYTES]);
/* The same by the portable code only (for tests that compare the two). */
void sha256_digest_portable(const uint8_t *buf, size_t len, uint8_t out[SHA256_BYTES]);
/* Whether sha256_digest uses the processor's SHA instructions here. */
bool sha256_hw(void);
/* Writes the digest as 64 lowercase hex digits plus NUL to hex. */
void sha256_hex(const uint8_t *buf, size_t len, char hex[SHA256_HEX]);

#endif
