/* serve_auth.h: CDS Hooks client authentication for `pcrvm serve`: the
 * EHR's `Authorization: Bearer JWT`, checked against an allow-list of
 * issuers whose keys (JWK Sets) are read from disk (docs/crd.md,
 * "Authenticating the EHR").
 *
 * A token passes when it is a compact JWS whose header names an algorithm
 * we verify (ES384, RS384, HS256) and whose payload's `iss` is an allowed
 * issuer with a key (by `kid`, or the issuer's only key) of the algorithm's
 * type that verifies the signature; `exp` (not past), `iat` (not in the
 * future) with AUTH_LEEWAY seconds for clock skew; `aud` the endpoint
 * called under the public URL; and `jti` not seen before from that issuer
 * while its token is unexpired. Thread-safe: auth_check may run on every
 * worker while auth_reload swaps the keys. */
#ifndef PCR_TOOLS_SERVE_AUTH_H
#define PCR_TOOLS_SERVE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum { AUTH_LEEWAY = 60 };

typedef struct Auth Auth;

/* A checker for the service published at public_url (the scheme, host and
 * any path prefix under which the EHR reaches /cds-services, as in
 * "https://payer.example.com"; a trailing '/' is dropped). NULL when out of
 * memory. */
Auth *auth_new(const char *public_url);
void auth_free(Auth *a);

/* Allows issuer iss, with the keys of the JWK Set in file jwks (read by
 * auth_reload). false when iss is already listed or out of memory. */
bool auth_add_issuer(Auth *a, const char *iss, const char *jwks);

/* Reads every issuer's JWK Set again; on success the new keys replace the
 * old ones at once. On failure the old keys stay and err says which file
 * and why. The first call loads them. */
bool auth_reload(Auth *a, char *err, size_t errlen);

/* Checks header, the value of the Authorization header (NULL: absent), for
 * a request to path (as "/cds-services/pcr-order-sign") at time now.
 * Returns true when the token passes (its jti is then remembered);
 * otherwise why says why, in a sentence fit for the 401 answer. */
bool auth_check(Auth *a, const char *header, const char *path, time_t now, char *why,
                size_t whylen);

#endif
