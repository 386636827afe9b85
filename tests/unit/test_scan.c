/* test_scan.c: the decoder's multi-byte scanning paths (scan.h) and its
 * field table (rec.c), at the edges where a word-at-a-time scan or a hash
 * could go wrong:
 *   - the byte, SWAR and SSE2 scans agree for every length 0..40 at every
 *     alignment, with every kind of stop byte at every position;
 *   - strings of every length 0..40 at every alignment decode to the same
 *     bytes with an escape, a UTF-8 sequence, an invalid byte or a control
 *     character at every offset, with the same messages;
 *   - keys that share a slot of the field table with a field, or differ
 *     from a field's name in one byte, are unknown keys, never the field. */
#include <criterion/criterion.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "helpers.h"
#pragma GCC diagnostic pop
#include "rec.h"
#include "scan.h"

/* ---- the scans ----------------------------------------------------------- */

/* Bytes that stop a scan, and plain bytes next to them in value. */
static const uint8_t stops[] = {'"', '\\', 0x00, 0x01, 0x0a, 0x1f, 0x80, 0xbf, 0xc3, 0xe2, 0xf0, 0xff};
static const uint8_t fill[] = {' ', '!', '#', '[', ']', 'a', '~', 0x7f, '0', 'Z'};

static void check_scans(const uint8_t *p, const uint8_t *end, const char *what)
{
    const uint8_t *want = scan_plain_bytes(p, end);
    const uint8_t *swar = scan_plain_swar(p, end);
    cr_assert_eq(swar, want, "%s: SWAR scan stops at %td, bytes at %td", what, swar - p, want - p);
#if SCAN_HAVE_SSE2
    const uint8_t *sse = scan_plain_sse2(p, end);
    cr_assert_eq(sse, want, "%s: SSE2 scan stops at %td, bytes at %td", what, sse - p, want - p);
    if (end - p >= 16) { /* each of the 16 bytes flagged exactly when it is not plain */
        unsigned bits = scan_stops16(p);
        for (int i = 0; i < 16; i++)
            cr_assert_eq(bits >> i & 1, !scan_is_plain(p[i]), "%s: scan_stops16 bit %d", what, i);
    }
#endif
    cr_assert_eq(scan_plain(p, end), want, "%s: scan_plain", what);
}

Test(scan, every_length_offset_and_stop_byte_agree)
{
    uint8_t buf[96];
    for (size_t len = 0; len <= 40; len++)
        for (size_t off = 0; off < 16; off++) {
            uint8_t *p = buf + off;
            char what[96];
            /* bytes past the end stop a scan: one that read them would differ */
            memset(buf, '"', sizeof buf);
            for (size_t i = 0; i < len; i++) p[i] = fill[(i + off) % sizeof fill];
            snprintf(what, sizeof what, "len %zu off %zu plain", len, off);
            check_scans(p, p + len, what);
            for (size_t at = 0; at < len; at++)
                for (size_t s = 0; s < sizeof stops; s++) {
                    uint8_t keep = p[at];
                    p[at] = stops[s];
                    snprintf(what, sizeof what, "len %zu off %zu byte 0x%02x at %zu", len, off,
                             stops[s], at);
                    check_scans(p, p + len, what);
                    if (at + 1 < len) { /* a second stop after the first changes nothing */
                        uint8_t keep2 = p[len - 1];
                        p[len - 1] = '"';
                        check_scans(p, p + len, what);
                        p[len - 1] = keep2;
                    }
                    p[at] = keep;
                }
        }
}

Test(scan, every_byte_value)
{
    uint8_t buf[40];
    for (unsigned c = 0; c < 256; c++)
        for (size_t at = 0; at < sizeof buf; at++) {
            memset(buf, 'x', sizeof buf);
            buf[at] = (uint8_t)c;
            char what[64];
            snprintf(what, sizeof what, "byte 0x%02x at %zu", c, at);
            check_scans(buf, buf + sizeof buf, what);
            cr_assert_eq(scan_plain_bytes(buf, buf + sizeof buf) == buf + at,
                         !(c >= 0x20 && c < 0x80 && c != '"' && c != '\\'), "%s", what);
        }
}

/* ---- strings through the decoder ------------------------------------------ */

typedef struct Fx {
    Prog *p;
    RecDecoder *d;
    uint32_t plan;
} Fx;

static Fx fx_new(void)
{
    Fx fx;
    fx.p = th_std_prog();
    th_field(fx.p, "a_field_name_longer_than_sixteen_bytes", VT_INT, 0);
    th_field(fx.p, "u", VT_INT, 0);
    th_field(fx.p, "abc", VT_INT, 0);
    th_field(fx.p, "abcdefgh", VT_INT, 0);
    fx.d = rec_decoder_new(fx.p);
    cr_assert_not_null(fx.d);
    fx.plan = th_field_index(fx.p, "plan");
    return fx;
}

static void fx_free(Fx *fx)
{
    rec_decoder_free(fx->d);
    th_prog_free(fx->p);
}

/* Decodes {"id":"r1","payer":"acme","service_date":"2026-03-02",
 * "plan":<pad spaces>"<body>"} from a buffer at offset off; *value_at is
 * the 1-based byte of the body's first byte. */
static const Record *dec_plan(Fx *fx, const char *body, size_t n, size_t pad, size_t off,
                              size_t *value_at)
{
    static char buf[512];
    static const char head[] = "{\"id\":\"r1\",\"payer\":\"acme\",\"service_date\":\"2026-03-02\","
                               "\"plan\":";
    char *line = buf + off;
    size_t k = 0;
    memcpy(line, head, sizeof head - 1);
    k += sizeof head - 1;
    memset(line + k, ' ', pad);
    k += pad;
    line[k++] = '"';
    *value_at = k + 1;
    memcpy(line + k, body, n);
    k += n;
    line[k++] = '"';
    line[k++] = '}';
    return rec_decode(fx->d, line, k, 1);
}

static void plain_body(char *b, size_t len, size_t seed)
{
    for (size_t i = 0; i < len; i++) b[i] = (char)fill[(i * 7 + seed) % sizeof fill];
}

/* A string of length len whose byte at is replaced by insert (escaped
 * form), decoding to want. */
static void expect_string(Fx *fx, const char *body, size_t n, const char *want, size_t wn,
                          const char *what)
{
    for (size_t pad = 0; pad < 8; pad++)
        for (size_t off = 0; off < 8; off++) {
            size_t at;
            const Record *r = dec_plan(fx, body, n, pad, off, &at);
            cr_assert_not_null(r, "%s (pad %zu off %zu): %s", what, pad, off, rec_error(fx->d));
            const RecVal *v = &r->v[fx->plan];
            cr_assert_eq(v->n, wn, "%s: length %u, want %zu", what, v->n, wn);
            cr_assert(memcmp(v->s, want, wn) == 0, "%s: value %.*s", what, (int)v->n, v->s);
        }
}

static void expect_error(Fx *fx, const char *body, size_t n, size_t bad, const char *fmt,
                         const char *what)
{
    for (size_t pad = 0; pad < 8; pad++)
        for (size_t off = 0; off < 8; off++) {
            size_t at;
            const Record *r = dec_plan(fx, body, n, pad, off, &at);
            cr_assert_null(r, "%s: accepted", what);
            char want[256];
            snprintf(want, sizeof want, fmt, at + bad);
            cr_assert_str_eq(rec_error(fx->d), want, "%s", what);
        }
}

Test(scan, strings_of_every_length_with_escapes_and_utf8_at_every_offset)
{
    Fx fx = fx_new();
    static const struct {
        const char *esc, *out;
    } escs[] = {{"\\n", "\n"},          {"\\\"", "\""},         {"\\\\", "\\"},
                {"\\/", "/"},           {"\\u00e9", "\xc3\xa9"}, {"\\u20ac", "\xe2\x82\xac"},
                {"\\ud83d\\ude00", "\xf0\x9f\x98\x80"}};
    static const char *const utf8[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc2\x80",
                                       "\xef\xbf\xbf"};
    char body[96], want[96], what[128];
    for (size_t len = 0; len <= 40; len++) {
        plain_body(body, len, len);
        snprintf(what, sizeof what, "plain, length %zu", len);
        expect_string(&fx, body, len, body, len, what);
        for (size_t at = 0; at <= len; at++) {
            for (size_t e = 0; e < sizeof escs / sizeof escs[0]; e++) {
                size_t el = strlen(escs[e].esc), ol = strlen(escs[e].out);
                plain_body(body, len, len);
                memmove(body + at + el, body + at, len - at);
                memcpy(body + at, escs[e].esc, el);
                plain_body(want, len, len);
                memmove(want + at + ol, want + at, len - at);
                memcpy(want + at, escs[e].out, ol);
                snprintf(what, sizeof what, "escape %s at %zu of %zu", escs[e].esc, at, len);
                expect_string(&fx, body, len + el, want, len + ol, what);
            }
            for (size_t u = 0; u < sizeof utf8 / sizeof utf8[0]; u++) {
                size_t ul = strlen(utf8[u]);
                plain_body(body, len, len);
                memmove(body + at + ul, body + at, len - at);
                memcpy(body + at, utf8[u], ul);
                snprintf(what, sizeof what, "UTF-8 %zu bytes at %zu of %zu", ul, at, len);
                expect_string(&fx, body, len + ul, body, len + ul, what);
                /* the same after an escape: copied to the scratch buffer */
                memmove(body + 2, body, len + ul);
                memcpy(body, "\\t", 2);
                memcpy(want, "\t", 1);
                memcpy(want + 1, body + 2, len + ul);
                expect_string(&fx, body, len + ul + 2, want, len + ul + 1, what);
            }
            if (at == len) continue;
            /* a bad byte at `at`: a lone continuation byte, a truncated
             * sequence, a control character */
            plain_body(body, len, len);
            body[at] = (char)0x80;
            snprintf(what, sizeof what, "0x80 at %zu of %zu", at, len);
            expect_error(&fx, body, len, at, "record 1: invalid UTF-8 at byte %zu", what);
            body[at] = (char)0xe2; /* needs two continuation bytes: the next is plain */
            expect_error(&fx, body, len, at, "record 1: invalid UTF-8 at byte %zu", what);
            body[at] = 0x1f;
            snprintf(what, sizeof what, "0x1f at %zu of %zu", at, len);
            expect_error(&fx, body, len, at,
                         "record 1: invalid JSON at byte %zu: control character 0x1F in a string "
                         "(it must be escaped)",
                         what);
        }
    }
    fx_free(&fx);
}

/* ---- keys ----------------------------------------------------------------- */

/* Decodes the base record plus "key": 1 in strict mode; true when the key
 * was taken for a field (no "unknown field" error). */
static bool key_is_field(Fx *fx, const char *key, size_t n)
{
    char line[512];
    int k = snprintf(line, sizeof line,
                     "{\"id\":\"r1\",\"payer\":\"acme\",\"service_date\":\"2026-03-02\",\"%.*s\":1}",
                     (int)n, key);
    rec_decoder_set_strict(fx->d, true);
    const Record *r = rec_decode(fx->d, line, (size_t)k, 1);
    rec_decoder_set_strict(fx->d, false);
    return r || strncmp(rec_error(fx->d), "record 1: unknown field '", 25) != 0;
}

static bool is_field_name(const Prog *p, const char *s, size_t n)
{
    for (uint32_t f = 0; f < p->nfields; f++)
        if (p->strlens[p->fields[f].name] == n && memcmp(p->strs[p->fields[f].name], s, n) == 0)
            return true;
    return false;
}

Test(scan, every_field_is_found_and_near_misses_are_not)
{
    Fx fx = fx_new();
    for (uint32_t f = 0; f < fx.p->nfields; f++) {
        const char *name = fx.p->strs[fx.p->fields[f].name];
        size_t n = strlen(name);
        cr_assert(key_is_field(&fx, name, n), "field %s not found", name);
        char key[64];
        for (size_t i = 0; i < n; i++) { /* one byte changed, at every position */
            memcpy(key, name, n);
            key[i] = key[i] == 'q' ? 'j' : 'q';
            if (!is_field_name(fx.p, key, n))
                cr_assert(!key_is_field(&fx, key, n), "%.*s taken for %s", (int)n, key, name);
        }
        memcpy(key, name, n); /* one byte longer or shorter */
        key[n] = 'x';
        cr_assert(!key_is_field(&fx, key, n + 1), "%.*s taken for a field", (int)n + 1, key);
        if (n > 1 && !is_field_name(fx.p, name, n - 1))
            cr_assert(!key_is_field(&fx, name, n - 1), "%.*s taken for a field", (int)n - 1, name);
    }
    fx_free(&fx);
}

/* Random keys until every field's slot has been hit by at least one key
 * that is not a field: each such key must be unknown. */
Test(scan, keys_that_share_a_fields_slot_are_unknown)
{
    Fx fx = fx_new();
    uint32_t nf = fx.p->nfields, hit = 0;
    bool done[PCR_MAX_FIELDS] = {false};
    uint64_t x = 0x2545F4914F6CDD1Dull;
    for (long tries = 0; hit < nf && tries < 20000000; tries++) {
        char key[48];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint32_t f = (uint32_t)(x % nf);
        const char *name = fx.p->strs[fx.p->fields[f].name];
        size_t n = strlen(name);
        /* same length, mostly the same bytes: the field's own first and
         * last bytes with one or two changed, or a random key */
        memcpy(key, name, n);
        key[(x >> 8) % n] = (char)('a' + (x >> 16) % 26);
        key[(x >> 24) % n] = (char)('a' + (x >> 32) % 26);
        if ((x >> 40) % 4 == 0)
            for (size_t i = 0; i < n; i++) key[i] = (char)('a' + (x >> (i % 60)) % 26);
        if (is_field_name(fx.p, key, n)) continue;
        uint32_t slot = rec_key_slot(fx.d, key, n);
        for (uint32_t g = 0; g < nf; g++) {
            const char *gn = fx.p->strs[fx.p->fields[g].name];
            if (done[g] || rec_key_slot(fx.d, gn, strlen(gn)) != slot) continue;
            cr_assert(!key_is_field(&fx, key, n), "%.*s (slot %u of %s) taken for a field",
                      (int)n, key, slot, gn);
            done[g] = true;
            hit++;
        }
    }
    cr_assert_eq(hit, nf, "only %u of %u fields' slots were hit", hit, nf);
    fx_free(&fx);
}

/* ---- codes ---------------------------------------------------------------- */

#include "codes.h"

/* code_parse against code_normalize + code_key on one string. */
static void check_code(CodeSystem sys, const char *s, size_t n)
{
    char norm[CODE_MAX_CHARS + 1];
    size_t k = 0;
    const char *why1 = NULL, *why2 = NULL;
    bool ok1 = code_normalize(sys, s, n, norm, &k, &why1);
    CodeKey key = 0;
    bool ok2 = code_parse(sys, s, n, &key, &why2);
    cr_assert_eq(ok2, ok1, "system %d, \"%.*s\": code_parse says %d", sys, (int)n, s, ok2);
    CodeKey key3 = 0;
    cr_assert_eq(code_parse(sys, s, n, &key3, NULL), ok1, "system %d, \"%.*s\" without why", sys,
                 (int)n, s);
    if (ok1) cr_assert_eq(key3, key);
    if (ok1)
        cr_assert_eq(key, code_key(sys, norm, k), "system %d, \"%.*s\": keys differ", sys, (int)n,
                     s);
    else
        cr_assert_str_eq(why2, why1, "system %d, \"%.*s\"", sys, (int)n, s);
}

/* Calls fn(s, n, ctx) with every string of 0 to max (at most 15)
 * characters over alpha. */
static void each_string(const char *alpha, size_t max, void (*fn)(const char *s, size_t n, void *ctx),
                        void *ctx)
{
    size_t a = strlen(alpha);
    char s[16];
    for (size_t n = 0; n <= max && n < sizeof s; n++) {
        size_t total = 1;
        for (size_t i = 0; i < n; i++) total *= a;
        for (size_t x = 0; x < total; x++) {
            size_t y = x;
            for (size_t i = 0; i < n; i++, y /= a) s[i] = alpha[y % a];
            fn(s, n, ctx);
        }
    }
}

/* check_code for the system *ctx (each_string's callback). */
static void check_code_in(const char *s, size_t n, void *ctx)
{
    check_code(*(const CodeSystem *)ctx, s, n);
}

Test(scan, code_parse_agrees_with_normalize_and_key)
{
    static const char alpha[] = "019AFTUVWZaf.x";
    enum { A = sizeof alpha - 1 };
    char s[16];
    for (int sys = SYS_CPT; sys < SYS_COUNT; sys++) {
        /* every string of up to 5 characters over alpha */
        CodeSystem cs = (CodeSystem)sys;
        each_string(alpha, 5, check_code_in, &cs);
        /* longer ones at random, mostly shaped like ICD-10 codes */
        uint64_t r = 0x9E3779B97F4A7C15ull * (uint64_t)sys;
        for (int t = 0; t < 200000; t++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            size_t n = 6 + r % 5;
            for (size_t i = 0; i < n; i++) {
                uint64_t v = r >> (6 * i % 58);
                s[i] = i == 0 ? "AZOz9"[v % 5] : i == 1 ? "09A"[v % 3] : alpha[v % A];
            }
            if ((r >> 60) & 1) s[3] = '.';
            check_code((CodeSystem)sys, s, n);
        }
    }
}

/* Every byte value at every position of valid codes of each shape:
 * code_parse's byte table (codes.c char_values) against code_normalize. */
Test(scan, code_parse_every_byte_at_every_position)
{
    static const struct {
        CodeSystem sys;
        const char *code;
    } base[] = {{SYS_CPT, "70551"}, {SYS_CPT, "0213T"}, {SYS_HCPCS, "J0696"},
                {SYS_ICD10, "S09.07"}, {SYS_ICD10, "M48061"}, {SYS_ICD10, "Z00.00XA"},
                {SYS_REV, "0450"}, {SYS_POS, "22"}};
    char s[16];
    for (size_t b = 0; b < sizeof base / sizeof *base; b++) {
        size_t n = strlen(base[b].code);
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < 256; c++) {
                memcpy(s, base[b].code, n);
                s[i] = (char)c;
                check_code(base[b].sys, s, n);
            }
    }
}

/* code_system_from_name is exact: each name gives its system, and every
 * other spelling (a byte changed, case, a prefix, an extension) none. */
Test(scan, code_system_names_are_exact)
{
    char s[16];
    for (int sys = SYS_CPT; sys < SYS_COUNT; sys++) {
        const char *name = code_system_name((CodeSystem)sys);
        size_t n = strlen(name);
        cr_assert_eq(code_system_from_name(name, n), (CodeSystem)sys, "%s", name);
        for (size_t k = 0; k < n; k++) cr_assert_eq(code_system_from_name(name, k), SYS_NONE);
        memcpy(s, name, n);
        s[n] = 'X';
        cr_assert_eq(code_system_from_name(s, n + 1), SYS_NONE, "%s + X", name);
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < 256; c++) {
                memcpy(s, name, n);
                if ((uint8_t)s[i] == c) continue;
                s[i] = (char)c;
                cr_assert_eq(code_system_from_name(s, n), SYS_NONE, "%s, byte %zu = %d", name, i, c);
            }
    }
}

/* code_infer_parse against what it is documented to do: the first system
 * of the order CPT, HCPCS, REV, POS, ICD-10-CM among those allowed whose
 * code_parse accepts the text (REV only with 4 digits), for every mask of
 * allowed systems, every string of up to 5 characters over an alphabet of
 * digits, letters and a dot, and every byte at every position of codes
 * of 5 characters. */
static void check_infer(const char *s, size_t n, void *ctx)
{
    (void)ctx;
    static const CodeSystem order[] = {SYS_CPT, SYS_HCPCS, SYS_REV, SYS_POS, SYS_ICD10};
    for (unsigned allowed = 0; allowed < 1u << SYS_COUNT; allowed += 2) {
        CodeSystem want = SYS_NONE;
        CodeKey want_key = 0, key = 0;
        for (size_t i = 0; i < sizeof order / sizeof *order && want == SYS_NONE; i++) {
            CodeSystem sys = order[i];
            if (!(allowed & SYS_BIT(sys)) || (sys == SYS_REV && n == 3)) continue;
            if (code_parse(sys, s, n, &want_key, NULL)) want = sys;
        }
        CodeSystem got = code_infer_parse(s, n, allowed, &key);
        cr_assert_eq(got, want, "\"%.*s\", systems 0x%x: %d, not %d", (int)n, s, allowed, got, want);
        if (want != SYS_NONE) cr_assert_eq(key, want_key, "\"%.*s\": keys differ", (int)n, s);
    }
}

Test(scan, code_infer_parse_takes_the_first_system_that_fits)
{
    char s[8];
    each_string("019AFTUVWZaf.", 5, check_infer, NULL);
    static const char *const codes[] = {"70551", "0213T", "E0601", "j0696", "I50.9", "0450", "11"};
    for (size_t c = 0; c < sizeof codes / sizeof *codes; c++)
        for (size_t at = 0; at < strlen(codes[c]); at++)
            for (int b = 0; b < 256; b++) {
                memcpy(s, codes[c], strlen(codes[c]));
                s[at] = (char)b;
                check_infer(s, strlen(codes[c]), NULL);
            }
}
