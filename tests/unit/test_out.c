/* test_out.c: the decision writer's pieces against plain reference code:
 * JSON string escaping, and the lines an engine writes (ids to escape,
 * routing by payer, the pre-rendered "none" line). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "helpers.h"
#include "pcr/pcr.h"

/* ---- JSON strings ---------------------------------------------------------- */

/* The escaping rules, one byte at a time (the definition). */
static void ref_json_str(Buf *b, const char *s, size_t n)
{
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[8];
        if (c == '"') buf_puts(b, "\\\"");
        else if (c == '\\') buf_puts(b, "\\\\");
        else if (c == '\n') buf_puts(b, "\\n");
        else if (c == '\t') buf_puts(b, "\\t");
        else if (c == '\r') buf_puts(b, "\\r");
        else if (c < 0x20) snprintf(e, sizeof e, "\\u%04x", c), buf_puts(b, e);
        else buf_putc(b, (char)c);
    }
    buf_putc(b, '"');
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005u + 1442695040888963407u;
    return *s >> 33;
}

Test(json_str, every_special_byte_at_every_position_of_short_strings)
{
    /* Bytes next to the ones that need escaping, and UTF-8. */
    static const unsigned char alpha[] = {'a', 'Z', '0', ' ', '!', '#', '[', ']', 0x7f, 0x80, 0xc3, 0xa9,
                                          0xff, '"', '\\', '\n', '\t', '\r', 0x00, 0x01, 0x1f, 0x21, 0x5b, 0x5d};
    char s[40];
    Buf got = {0}, want = {0};
    for (size_t n = 0; n <= 33; n++) {
        for (size_t pos = 0; pos < (n ? n : 1); pos++) {
            for (size_t k = 0; k < sizeof alpha; k++) {
                for (size_t i = 0; i < n; i++) s[i] = (char)('a' + (i % 26));
                if (n) s[pos] = (char)alpha[k];
                got.n = want.n = 0;
                buf_put_json_str(&got, s, n);
                ref_json_str(&want, s, n);
                cr_assert(got.n == want.n && memcmp(got.p, want.p, got.n) == 0,
                          "length %zu, byte 0x%02x at %zu: %.*s, want %.*s", n, alpha[k], pos, (int)got.n,
                          got.p, (int)want.n, want.p);
            }
        }
    }
    buf_free(&got);
    buf_free(&want);
}

Test(json_str, random_strings_and_appending_to_a_full_buffer)
{
    uint64_t seed = 12345;
    char s[300];
    Buf got = {0}, want = {0};
    for (int t = 0; t < 20000; t++) {
        size_t n = lcg(&seed) % sizeof s;
        unsigned mode = (unsigned)(lcg(&seed) % 4); /* plain text more often than not */
        for (size_t i = 0; i < n; i++) {
            unsigned r = (unsigned)lcg(&seed);
            s[i] = (char)(mode == 0 ? r & 0xff : ' ' + r % 95);
            if (mode == 1 && r % 97 == 0) s[i] = '"';
        }
        /* A small buffer, nearly full: the writer must grow it itself. */
        buf_free(&got);
        buf_reserve(&got, 1);
        got.n = got.cap - (size_t)(lcg(&seed) % 3);
        size_t base = got.n;
        memset(got.p, 'x', base);
        want.n = 0;
        buf_put_json_str(&got, s, n);
        ref_json_str(&want, s, n);
        cr_assert_eq(got.n - base, want.n, "case %d: length %zu", t, n);
        cr_assert(memcmp(got.p + base, want.p, want.n) == 0, "case %d", t);
    }
    buf_free(&got);
    buf_free(&want);
}

/* ---- lines ----------------------------------------------------------------- */

static const char two_payers_src[] =
    "use std.request\n"
    "policy out { payer \"healthlink-east\", \"ok\" title \"Out\" version \"2\" effective 2026-01-01\n"
    "             reviewer \"Plan \\\"A\\\"\" }\n"
    "codeset mri \"MRI\" { CPT 70551..70553 }\n"
    "rule mri_pa \"MRI \\\"brain\\\"\" { when code in mri require prior_auth deadline 2 business_days before service }\n";

static const char *eval(pcr_engine *e, const char *rec, size_t *n, pcr_decision_kind *k)
{
    const char *line;
    pcr_engine_eval(e, rec, strlen(rec), 1, &line, n, k);
    return line;
}

Test(lines, ids_are_escaped_and_routing_compares_whole_payers)
{
    pcr_engine *e = th_engine("out.pcr", two_payers_src);
    cr_assert_not_null(e);
    static const char *const ids[] = {"r1", "plain-id-longer-than-eight", "q\\\"uote", "back\\\\slash",
                                      "tab\\tnew\\nline", "ctl\\u0001x", "\\u00e9t\\u00e9", ""};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char rec[512];
        snprintf(rec, sizeof rec,
                 "{\"id\":\"%s\",\"payer\":\"healthlink-east\",\"code\":\"70551\",\"service_date\":\"2026-03-09\"}",
                 ids[i]);
        size_t n;
        pcr_decision_kind k;
        const char *line = eval(e, rec, &n, &k);
        cr_assert_eq(k, PCR_DEC_PRIOR_AUTH, "%.*s", (int)n, line);
        json_error_t jerr;
        json_t *got = json_loadb(line, n, 0, &jerr);
        cr_assert_not_null(got, "%.*s: %s", (int)n, line, jerr.text);
        json_t *in = json_loads(rec, 0, &jerr);
        cr_assert_not_null(in);
        cr_assert(json_equal(json_object_get(got, "id"), json_object_get(in, "id")), "%.*s", (int)n, line);
        cr_assert_str_eq(json_string_value(json_object_get(got, "reviewer")), "Plan \"A\"");
        cr_assert_str_eq(json_string_value(json_object_get(got, "deadline")), "2026-03-05");
        json_decref(got);
        json_decref(in);
    }
    /* Payers that share their first 8 bytes, or differ only in length. */
    static const char *const other[] = {"healthlink-west", "healthli", "healthlink-east ", "o", "ok!", "OK"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        char rec[256];
        snprintf(rec, sizeof rec, "{\"id\":\"x\",\"payer\":\"%s\",\"code\":\"70551\",\"service_date\":\"2026-03-09\"}",
                 other[i]);
        size_t n;
        pcr_decision_kind k;
        const char *line = eval(e, rec, &n, &k);
        cr_assert_eq(k, PCR_DEC_NO_POLICY, "payer %s: %.*s", other[i], (int)n, line);
    }
    size_t n;
    pcr_decision_kind k;
    const char *line =
        eval(e, "{\"id\":\"n\",\"payer\":\"ok\",\"code\":\"99213\",\"service_date\":\"2026-03-09\"}", &n, &k);
    const char want[] = "{\"id\":\"n\",\"decision\":\"none\",\"policy\":\"out@2\",\"reviewer\":null,"
                        "\"deadline\":null,\"timely\":null,\"rules\":[],\"reasons\":[],\"obligations\":[],"
                        "\"possible\":[],\"missing\":[]}\n";
    cr_assert_eq(k, PCR_DEC_NONE);
    cr_assert(n == strlen(want) && memcmp(line, want, n) == 0, "%.*s", (int)n, line);
    line = eval(e, "{\"id\":\"o\",\"payer\":\"ok\",\"code\":\"99213\",\"service_date\":\"2025-12-31\"}", &n, &k);
    cr_assert_eq(k, PCR_DEC_NO_POLICY, "before the window: %.*s", (int)n, line);
    pcr_engine_free(e);
}
