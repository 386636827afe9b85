/* serve_auth.c: the EHR's JWT bearer token (serve_auth.h). Signatures are
 * verified with OpenSSL 3 (libcrypto); keys come from JWK Sets on disk,
 * never from the network (a `jku` header is ignored). */
#include "serve_auth.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { AUTH_MAX_TOKEN = 16384, AUTH_MAX_ISSUERS = 256 };

typedef enum AuthKind { AUTH_RSA, AUTH_EC384, AUTH_OCT } AuthKind;

typedef struct AuthKey {
    char *kid;            /* NULL when the JWK has none */
    AuthKind kind;
    EVP_PKEY *pkey;       /* RSA and EC keys */
    unsigned char *secret; /* oct keys: nsecret bytes */
    size_t nsecret;
} AuthKey;

/* One issuer's keys, as read from its file. */
typedef struct AuthKeys {
    AuthKey *k;
    size_t n;
} AuthKeys;

typedef struct AuthIssuer {
    char *iss, *file;
    AuthKeys keys; /* guarded by Auth.keys_mu */
} AuthIssuer;

/* A remembered jti: the hash of (iss, jti) and when its token expires. */
typedef struct AuthSeen {
    uint64_t h;
    long long exp;
} AuthSeen;

struct Auth {
    char *url; /* public URL, no trailing '/' */
    AuthIssuer iss[AUTH_MAX_ISSUERS];
    size_t niss;
    pthread_rwlock_t keys_mu; /* readers: auth_check; writer: auth_reload's swap */
    pthread_mutex_t seen_mu;  /* guards seen, cap, used */
    AuthSeen *seen;           /* open addressing; h == 0 is an empty slot */
    size_t cap, used;
};

/* ---- base64url and JSON -------------------------------------------------- */

/* Decodes base64url (no padding) s[0..n) into a malloc'ed buffer. */
static unsigned char *auth_b64url(const char *s, size_t n, size_t *out_n)
{
    unsigned char *out = malloc(n * 3 / 4 + 3);
    if (!out) return NULL;
    uint32_t acc = 0;
    int bits = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int v = c >= 'A' && c <= 'Z'   ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '-'             ? 62
                : c == '_'             ? 63
                                       : -1;
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[k++] = (unsigned char)(acc >> bits);
        }
    }
    if (bits >= 6) { /* one character left over: not base64 */
        free(out);
        return NULL;
    }
    *out_n = k;
    return out;
}

/* A JSON object from base64url text, or NULL. */
static json_t *auth_b64_json(const char *s, size_t n)
{
    size_t len = 0;
    unsigned char *raw = auth_b64url(s, n, &len);
    if (!raw) return NULL;
    json_t *o = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (o && !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static const char *auth_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* ---- keys ------------------------------------------------------------------ */

static void auth_keys_free(AuthKeys *ks)
{
    for (size_t i = 0; i < ks->n; i++) {
        free(ks->k[i].kid);
        EVP_PKEY_free(ks->k[i].pkey);
        if (ks->k[i].secret) OPENSSL_cleanse(ks->k[i].secret, ks->k[i].nsecret);
        free(ks->k[i].secret);
    }
    free(ks->k);
    ks->k = NULL;
    ks->n = 0;
}

/* The big-endian bytes of JWK member name as a BIGNUM, or NULL. */
static BIGNUM *auth_jwk_bn(json_t *jwk, const char *name)
{
    const char *v = auth_str(jwk, name);
    size_t n = 0;
    unsigned char *raw = v ? auth_b64url(v, strlen(v), &n) : NULL;
    BIGNUM *bn = raw && n ? BN_bin2bn(raw, (int)n, NULL) : NULL;
    free(raw);
    return bn;
}

/* An RSA public key from a JWK's n and e. */
static EVP_PKEY *auth_rsa_key(json_t *jwk)
{
    BIGNUM *n = auth_jwk_bn(jwk, "n"), *e = auth_jwk_bn(jwk, "e");
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    if (n && e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) &&
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    if (pkey && EVP_PKEY_get_bits(pkey) < 2048) { /* RFC 7518 3.3 */
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

/* A P-384 public key from a JWK's x and y (48 bytes each). */
static EVP_PKEY *auth_ec_key(json_t *jwk)
{
    const char *xs = auth_str(jwk, "x"), *ys = auth_str(jwk, "y");
    size_t nx = 0, ny = 0;
    unsigned char *x = xs ? auth_b64url(xs, strlen(xs), &nx) : NULL;
    unsigned char *y = ys ? auth_b64url(ys, strlen(ys), &ny) : NULL;
    EVP_PKEY *pkey = NULL;
    if (x && y && nx == 48 && ny == 48) {
        unsigned char pub[97];
        pub[0] = 0x04; /* uncompressed point */
        memcpy(pub + 1, x, 48);
        memcpy(pub + 49, y, 48);
        char group[] = "P-384";
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
            OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub),
            OSSL_PARAM_construct_end(),
        };
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
            pkey = NULL;
        EVP_PKEY_CTX_free(ctx);
    }
    free(x);
    free(y);
    return pkey;
}

/* One JWK into *k; false with why when it is not a key we use. */
static bool auth_jwk(json_t *jwk, AuthKey *k, const char **why)
{
    const char *kty = auth_str(jwk, "kty");
    const char *use = auth_str(jwk, "use");
    memset(k, 0, sizeof *k);
    if (use && strcmp(use, "sig") != 0) {
        *why = "a key whose \"use\" is not \"sig\"";
        return false;
    }
    if (kty && strcmp(kty, "RSA") == 0) {
        k->kind = AUTH_RSA;
        k->pkey = auth_rsa_key(jwk);
        *why = "an RSA key without a usable n and e of at least 2048 bits";
    } else if (kty && strcmp(kty, "EC") == 0) {
        const char *crv = auth_str(jwk, "crv");
        k->kind = AUTH_EC384;
        k->pkey = crv && strcmp(crv, "P-384") == 0 ? auth_ec_key(jwk) : NULL;
        *why = "an EC key that is not a P-384 point (crv, x, y)";
    } else if (kty && strcmp(kty, "oct") == 0) {
        const char *kv = auth_str(jwk, "k");
        k->kind = AUTH_OCT;
        k->secret = kv ? auth_b64url(kv, strlen(kv), &k->nsecret) : NULL;
        if (k->secret && k->nsecret < 32) { /* RFC 7518 3.2: at least the hash size */
            OPENSSL_cleanse(k->secret, k->nsecret);
            free(k->secret);
            k->secret = NULL;
        }
        *why = "an oct key without a base64url k of at least 32 bytes";
        if (k->secret) goto kid;
        return false;
    } else {
        *why = "a key whose kty is not RSA, EC or oct";
        return false;
    }
    if (!k->pkey) return false;
kid:;
    const char *kid = auth_str(jwk, "kid");
    if (kid && !(k->kid = strdup(kid))) {
        *why = "out of memory";
        return false;
    }
    return true;
}

/* Reads the JWK Set in file into *ks. */
static bool auth_read_jwks(const char *file, AuthKeys *ks, char *err, size_t errlen)
{
    json_error_t je;
    json_t *set = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
    if (!set) {
        snprintf(err, errlen, "%s: %s", file, je.text);
        return false;
    }
    json_t *keys = json_object_get(set, "keys");
    size_t n = json_array_size(keys);
    if (!json_is_array(keys) || n == 0) {
        snprintf(err, errlen, "%s: not a JWK Set (no \"keys\" array with a key)", file);
        json_decref(set);
        return false;
    }
    ks->k = calloc(n, sizeof *ks->k);
    ks->n = 0;
    bool ok = ks->k != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        const char *why = "not an object";
        json_t *jwk = json_array_get(keys, i);
        ok = json_is_object(jwk) && auth_jwk(jwk, &ks->k[i], &why);
        if (ok) ks->n++;
        else snprintf(err, errlen, "%s: key %zu: %s", file, i + 1, why);
    }
    json_decref(set);
    if (!ok) auth_keys_free(ks);
    return ok;
}

Auth *auth_new(const char *public_url)
{
    Auth *a = calloc(1, sizeof *a);
    if (!a || !(a->url = strdup(public_url))) {
        free(a);
        return NULL;
    }
    size_t n = strlen(a->url);
    while (n && a->url[n - 1] == '/') a->url[--n] = '\0';
    pthread_rwlock_init(&a->keys_mu, NULL);
    pthread_mutex_init(&a->seen_mu, NULL);
    return a;
}

void auth_free(Auth *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->niss; i++) {
        free(a->iss[i].iss);
        free(a->iss[i].file);
        auth_keys_free(&a->iss[i].keys);
    }
    pthread_rwlock_destroy(&a->keys_mu);
    pthread_mutex_destroy(&a->seen_mu);
    free(a->seen);
    free(a->url);
    free(a);
}

bool auth_add_issuer(Auth *a, const char *iss, const char *jwks)
{
    for (size_t i = 0; i < a->niss; i++)
        if (strcmp(a->iss[i].iss, iss) == 0) return false;
    if (a->niss == AUTH_MAX_ISSUERS) return false;
    AuthIssuer *is = &a->iss[a->niss];
    is->iss = strdup(iss);
    is->file = strdup(jwks);
    if (!is->iss || !is->file) {
        free(is->iss);
        free(is->file);
        return false;
    }
    a->niss++;
    return true;
}

bool auth_reload(Auth *a, char *err, size_t errlen)
{
    AuthKeys fresh[AUTH_MAX_ISSUERS];
    size_t i = 0;
    for (; i < a->niss; i++)
        if (!auth_read_jwks(a->iss[i].file, &fresh[i], err, errlen)) break;
    if (i < a->niss) {
        while (i-- > 0) auth_keys_free(&fresh[i]);
        return false;
    }
    pthread_rwlock_wrlock(&a->keys_mu);
    for (i = 0; i < a->niss; i++) {
        AuthKeys old = a->iss[i].keys;
        a->iss[i].keys = fresh[i];
        fresh[i] = old;
    }
    pthread_rwlock_unlock(&a->keys_mu);
    for (i = 0; i < a->niss; i++) auth_keys_free(&fresh[i]);
    return true;
}

/* ---- signatures ------------------------------------------------------------- */

/* Whether sig verifies data under key k (its kind matched to the token's
 * alg: HS256, RS384 or ES384). */
static bool auth_verify(const AuthKey *k, const unsigned char *data, size_t n,
                        const unsigned char *sig, size_t nsig)
{
    if (k->kind == AUTH_OCT) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int nmac = 0;
        if (!HMAC(EVP_sha256(), k->secret, (int)k->nsecret, data, n, mac, &nmac)) return false;
        return nmac == nsig && CRYPTO_memcmp(mac, sig, nmac) == 0;
    }
    unsigned char *der = NULL;
    int nder = 0;
    const unsigned char *vsig = sig;
    size_t vn = nsig;
    if (k->kind == AUTH_EC384) { /* JWS: r || s, 48 bytes each; OpenSSL: DER */
        if (nsig != 96) return false;
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, 48, NULL), *s = BN_bin2bn(sig + 48, 48, NULL);
        if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
            BN_free(r);
            BN_free(s);
            ECDSA_SIG_free(es);
            return false;
        }
        nder = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        if (nder <= 0) return false;
        vsig = der;
        vn = (size_t)nder;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, k->pkey) == 1 &&
              EVP_DigestVerify(md, vsig, vn, data, n) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    return ok;
}

/* ---- replay ------------------------------------------------------------------ */

static uint64_t auth_hash(const char *iss, const char *jti)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = iss; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *p = jti; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h ? h : 1;
}

/* Inserts h into a table of cap slots (a power of two, not full). */
static void auth_seen_put(AuthSeen *t, size_t cap, uint64_t h, long long exp)
{
    size_t i = (size_t)h & (cap - 1);
    while (t[i].h) i = (i + 1) & (cap - 1);
    t[i].h = h;
    t[i].exp = exp;
}

/* Rebuilds the table with cap slots, dropping tokens expired before now. */
static bool auth_seen_rebuild(Auth *a, size_t cap, long long now)
{
    AuthSeen *t = calloc(cap, sizeof *t);
    if (!t) return false;
    size_t used = 0;
    for (size_t i = 0; i < a->cap; i++)
        if (a->seen[i].h && a->seen[i].exp + AUTH_LEEWAY >= now) {
            auth_seen_put(t, cap, a->seen[i].h, a->seen[i].exp);
            used++;
        }
    free(a->seen);
    a->seen = t;
    a->cap = cap;
    a->used = used;
    return true;
}

/* Remembers (iss, jti) until exp; false when it was seen already (or
 * there is no memory to remember it: refused rather than unchecked). */
static bool auth_first_use(Auth *a, const char *iss, const char *jti, long long exp,
                           long long now)
{
    uint64_t h = auth_hash(iss, jti);
    pthread_mutex_lock(&a->seen_mu);
    bool ok = true;
    if (a->cap == 0 || (a->used + 1) * 2 > a->cap) { /* at most half full */
        size_t cap = a->cap ? a->cap : 1024;
        size_t live = 0;
        for (size_t i = 0; i < a->cap; i++) live += a->seen[i].h && a->seen[i].exp + AUTH_LEEWAY >= now;
        while ((live + 1) * 4 > cap) cap *= 2; /* at most a quarter full after */
        ok = auth_seen_rebuild(a, cap, now);
    }
    if (ok) {
        size_t i = (size_t)h & (a->cap - 1);
        for (; a->seen[i].h; i = (i + 1) & (a->cap - 1))
            if (a->seen[i].h == h) {
                ok = false;
                break;
            }
        if (ok) {
            a->seen[i].h = h;
            a->seen[i].exp = exp;
            a->used++;
        }
    }
    pthread_mutex_unlock(&a->seen_mu);
    return ok;
}

/* ---- the check ----------------------------------------------------------------- */

/* Whether the token's aud (a string or an array of them) names the
 * endpoint: the public URL followed by path, or by /cds-services. */
static bool auth_aud_ok(const Auth *a, json_t *aud, const char *path)
{
    size_t nu = strlen(a->url);
    json_t *one = aud;
    for (size_t i = 0;; i++) {
        if (json_is_array(aud)) one = json_array_get(aud, i);
        else if (i > 0) return false;
        const char *s = json_string_value(one);
        if (!one) return false;
        if (s && strncmp(s, a->url, nu) == 0) {
            const char *rest = s + nu;
            size_t nr = strlen(rest);
            while (nr && rest[nr - 1] == '/') nr--;
            if ((nr == strlen(path) && strncmp(rest, path, nr) == 0) ||
                (nr == 13 && strncmp(rest, "/cds-services", 13) == 0))
                return true;
        }
    }
}

static bool auth_fail(char *why, size_t n, const char *msg)
{
    snprintf(why, n, "%s", msg);
    return false;
}

/* The checks after the signature: times, audience, jti. */
static bool auth_claims(Auth *a, json_t *claims, const char *iss, const char *path, time_t now,
                        char *why, size_t n)
{
    json_t *exp = json_object_get(claims, "exp"), *iat = json_object_get(claims, "iat");
    if (!json_is_number(exp)) return auth_fail(why, n, "the token has no exp");
    if (!json_is_number(iat)) return auth_fail(why, n, "the token has no iat");
    long long e = (long long)json_number_value(exp), t = (long long)json_number_value(iat);
    if (e + AUTH_LEEWAY < (long long)now) return auth_fail(why, n, "the token has expired (exp)");
    if (t - AUTH_LEEWAY > (long long)now)
        return auth_fail(why, n, "the token was issued in the future (iat)");
    if (!auth_aud_ok(a, json_object_get(claims, "aud"), path))
        return auth_fail(why, n, "the token's aud is not this service's URL");
    const char *jti = auth_str(claims, "jti");
    if (!jti || !*jti) return auth_fail(why, n, "the token has no jti");
    if (!auth_first_use(a, iss, jti, e, (long long)now))
        return auth_fail(why, n, "the token was used before (jti)");
    return true;
}

bool auth_check(Auth *a, const char *header, const char *path, time_t now, char *why,
                size_t whylen)
{
    if (!header) return auth_fail(why, whylen, "no Authorization header (Bearer JWT)");
    if (strncasecmp(header, "Bearer ", 7) != 0)
        return auth_fail(why, whylen, "the Authorization header is not a Bearer token");
    const char *tok = header + 7;
    while (*tok == ' ') tok++;
    size_t tn = strlen(tok);
    const char *d1 = memchr(tok, '.', tn);
    const char *d2 = d1 ? memchr(d1 + 1, '.', tn - (size_t)(d1 + 1 - tok)) : NULL;
    if (tn > AUTH_MAX_TOKEN || !d2 || memchr(d2 + 1, '.', tn - (size_t)(d2 + 1 - tok)))
        return auth_fail(why, whylen, "the token is not a compact JWS (header.payload.signature)");
    json_t *hdr = auth_b64_json(tok, (size_t)(d1 - tok));
    json_t *claims = auth_b64_json(d1 + 1, (size_t)(d2 - d1 - 1));
    size_t nsig = 0;
    unsigned char *sig = auth_b64url(d2 + 1, tn - (size_t)(d2 + 1 - tok), &nsig);
    bool ok = false;
    const char *alg = auth_str(hdr, "alg"), *typ = auth_str(hdr, "typ");
    const char *iss = auth_str(claims, "iss"), *kid = auth_str(hdr, "kid");
    AuthKind kind = AUTH_OCT;
    if (!hdr || !claims || !sig) {
        auth_fail(why, whylen, "the token's parts are not base64url JSON");
    } else if (!alg || !(strcmp(alg, "ES384") == 0 || strcmp(alg, "RS384") == 0 ||
                         strcmp(alg, "HS256") == 0)) {
        auth_fail(why, whylen, "the token's alg is not ES384, RS384 or HS256");
    } else if (typ && strcmp(typ, "JWT") != 0) {
        auth_fail(why, whylen, "the token's typ is not JWT");
    } else if (json_object_get(hdr, "crit")) {
        auth_fail(why, whylen, "the token has critical header parameters (crit)");
    } else if (!iss) {
        auth_fail(why, whylen, "the token has no iss");
    } else {
        kind = alg[0] == 'E' ? AUTH_EC384 : alg[0] == 'R' ? AUTH_RSA : AUTH_OCT;
        const AuthIssuer *is = NULL;
        for (size_t i = 0; i < a->niss && !is; i++)
            if (strcmp(a->iss[i].iss, iss) == 0) is = &a->iss[i];
        pthread_rwlock_rdlock(&a->keys_mu);
        const AuthKey *key = NULL;
        size_t nkind = 0;
        for (size_t i = 0; is && i < is->keys.n; i++) {
            const AuthKey *k = &is->keys.k[i];
            if (k->kind != kind) continue;
            nkind++;
            if (kid ? (k->kid && strcmp(k->kid, kid) == 0) : nkind == 1) key = k;
        }
        if (!kid && nkind > 1) key = NULL; /* which one? */
        if (!is) {
            auth_fail(why, whylen, "the token's iss is not an allowed issuer");
        } else if (!key) {
            auth_fail(why, whylen, kid ? "no key of the issuer has the token's kid and alg"
                                       : "the token has no kid and the issuer has several keys");
        } else {
            ok = auth_verify(key, (const unsigned char *)tok, (size_t)(d2 - tok), sig, nsig);
            if (!ok) auth_fail(why, whylen, "the token's signature does not verify");
        }
        pthread_rwlock_unlock(&a->keys_mu);
        if (ok) ok = auth_claims(a, claims, iss, path, now, why, whylen);
    }
    json_decref(hdr);
    json_decref(claims);
    free(sig);
    return ok;
}
