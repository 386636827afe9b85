/* test_rec.c: the record decoder (rec.h) on the standard request schema:
 * every field type's accepted and rejected values with their exact
 * messages, the JSON grammar, strings, UTF-8, limits and id recovery. */
#include <criterion/criterion.h>
#include <stdarg.h>

#include "codes.h"
#include "dates.h"
/* helpers.h defines static helpers this file does not need (th_run, ...). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "helpers.h"
#pragma GCC diagnostic pop
#include "rec.h"

/* A decoder over th_std_prog(), plus a list-of-strings field "tags". */
typedef struct Fx {
    Prog *p;
    RecDecoder *d;
} Fx;

static Fx fx_new(void)
{
    Fx fx;
    fx.p = th_std_prog();
    uint32_t tags = th_field(fx.p, "tags", VT_LIST, 0);
    fx.p->fields[tags].elem = VT_STRING;
    fx.d = rec_decoder_new(fx.p);
    cr_assert_not_null(fx.d);
    return fx;
}

static void fx_free(Fx *fx)
{
    rec_decoder_free(fx->d);
    th_prog_free(fx->p);
}

static uint32_t fld(Fx *fx, const char *name) { return th_field_index(fx->p, name); }

/* The required fields, then extra members (which may be empty). */
#define BASE "\"id\":\"r1\",\"payer\":\"acme\",\"service_date\":\"2026-03-02\""

/* What a code that fits none of code(CPT, HCPCS, REV) is told. */
#define FORMS "(CPT: 5 characters: 5 digits, or 4 digits and F, T or U; HCPCS: a letter A-V and 4 digits; revenue: 4 digits in 0001, 0022-0024, 0100-0999, 1000-1005, 2100-2109 or 3100-3109)"

static const Record *dec_n(Fx *fx, const char *line, size_t n, uint64_t recno)
{
    return rec_decode(fx->d, line, n, recno);
}

static const Record *dec(Fx *fx, const char *line) { return dec_n(fx, line, strlen(line), 1); }

/* {BASE, extra} */
static const Record *dec_with(Fx *fx, const char *extra)
{
    char line[4096];
    snprintf(line, sizeof line, "{" BASE "%s%s}", *extra ? "," : "", extra);
    return dec(fx, line);
}

static void expect_ok(Fx *fx, const char *line)
{
    const Record *r = dec(fx, line);
    cr_assert_not_null(r, "rejected %s: %s", line, rec_error(fx->d));
}

static void expect_err(Fx *fx, const char *line, const char *msg)
{
    const Record *r = dec(fx, line);
    cr_assert_null(r, "accepted %s", line);
    cr_assert_str_eq(rec_error(fx->d), msg, "for %s\n got  %s\n want %s", line, rec_error(fx->d), msg);
}

static const Record *ok_with(Fx *fx, const char *extra)
{
    const Record *r = dec_with(fx, extra);
    cr_assert_not_null(r, "rejected {%s}: %s", extra, rec_error(fx->d));
    return r;
}

static void err_with(Fx *fx, const char *extra, const char *msg)
{
    const Record *r = dec_with(fx, extra);
    cr_assert_null(r, "accepted {%s}", extra);
    cr_assert_str_eq(rec_error(fx->d), msg, "for {%s}\n got  %s\n want %s", extra, rec_error(fx->d), msg);
}

static bool has(const Record *r, uint32_t f) { return r->present >> f & 1; }

static void assert_str(const char *s, uint32_t n, const char *want)
{
    cr_assert_eq(n, strlen(want), "length %u, want %zu", n, strlen(want));
    cr_assert(memcmp(s, want, n) == 0, "got %.*s, want %s", (int)n, s, want);
}

static CodeKey key_of(CodeSystem sys, const char *norm)
{
    return code_key(sys, norm, strlen(norm));
}

/* ---- a whole record ------------------------------------------------------ */

Test(rec, full_record_decodes_every_type)
{
    Fx fx = fx_new();
    const Record *r = dec(&fx,
        "{\"id\":\"req-1\",\"payer\":\"acme\",\"plan\":\"commercial\",\"network\":\"in\","
        "\"setting\":\"outpatient\",\"admitted_from_er\":true,\"stay_hours\":48,"
        "\"code\":\"70551\",\"diagnoses\":[\"C50.911\",\"Z6835\"],\"price\":1000.5,"
        "\"service_date\":\"2026-03-02\",\"requested_at\":\"2026-02-20T08:30\","
        "\"tags\":[\"a\",\"b\"],\"emergent\":false}");
    cr_assert_not_null(r, "%s", rec_error(fx.d));
    assert_str(r->v[fld(&fx, "id")].s, r->v[fld(&fx, "id")].n, "req-1");
    assert_str(r->v[fld(&fx, "plan")].s, r->v[fld(&fx, "plan")].n, "commercial");
    cr_assert_eq(r->v[fld(&fx, "network")].i, 0);
    cr_assert_eq(r->v[fld(&fx, "setting")].i, 1);
    cr_assert_eq(r->v[fld(&fx, "admitted_from_er")].i, 1);
    cr_assert_eq(r->v[fld(&fx, "emergent")].i, 0);
    cr_assert(has(r, fld(&fx, "emergent")));
    cr_assert_eq(r->v[fld(&fx, "stay_hours")].i, 48);
    cr_assert_eq((CodeKey)r->v[fld(&fx, "code")].i, key_of(SYS_CPT, "70551"));
    cr_assert_eq(r->v[fld(&fx, "price")].i, 100050);
    cr_assert_eq(r->v[fld(&fx, "service_date")].i, date_from_ymd(2026, 3, 2));
    cr_assert_eq(r->v[fld(&fx, "requested_at")].i,
                 (int64_t)date_from_ymd(2026, 2, 20) * 86400 + 8 * 3600 + 30 * 60);
    cr_assert_eq(r->date_only, 0);
    RecVal dx = r->v[fld(&fx, "diagnoses")];
    cr_assert_eq(dx.n, 2);
    cr_assert_eq((CodeKey)r->items[dx.i].i, key_of(SYS_ICD10, "C50911"));
    cr_assert_eq((CodeKey)r->items[dx.i + 1].i, key_of(SYS_ICD10, "Z6835"));
    RecVal tags = r->v[fld(&fx, "tags")];
    cr_assert_eq(tags.n, 2);
    assert_str(r->items[tags.i].s, r->items[tags.i].n, "a");
    assert_str(r->items[tags.i + 1].s, r->items[tags.i + 1].n, "b");
    cr_assert_eq(r->nitems, 4);
    cr_assert(!has(r, fld(&fx, "units")));
    cr_assert(!has(r, fld(&fx, "medicare_primary")), "defaults are not applied by the decoder");
    cr_assert(r->has_id);
    assert_str(r->id, r->id_len, "req-1");
    fx_free(&fx);
}

Test(rec, null_is_absent)
{
    Fx fx = fx_new();
    const Record *r = ok_with(&fx, "\"units\":null,\"code\":null,\"diagnoses\":null,\"setting\":null");
    cr_assert(!has(r, fld(&fx, "units")));
    cr_assert(!has(r, fld(&fx, "code")));
    cr_assert(!has(r, fld(&fx, "diagnoses")));
    cr_assert(!has(r, fld(&fx, "setting")));
    cr_assert(has(r, fld(&fx, "payer")));
    fx_free(&fx);
}

/* A bare date in a datetime field is its midnight, marked date_only so that
 * `timely` knows only the day; the mark does not outlive the record. */
Test(rec, bare_date_in_a_datetime_field)
{
    Fx fx = fx_new();
    uint32_t f = fld(&fx, "requested_at");
    const Record *r = ok_with(&fx, "\"requested_at\":\"2026-02-20\"");
    cr_assert_eq(r->v[f].i, (int64_t)date_from_ymd(2026, 2, 20) * 86400);
    cr_assert_eq(r->date_only, (uint64_t)1 << f);
    r = ok_with(&fx, "\"requested_at\":\"2026-02-20T00:00\"");
    cr_assert_eq(r->v[f].i, (int64_t)date_from_ymd(2026, 2, 20) * 86400);
    cr_assert_eq(r->date_only, 0);
    r = ok_with(&fx, "\"requested_at\":\"2026-02-20\"");
    cr_assert_eq(r->date_only, (uint64_t)1 << f);
    r = ok_with(&fx, "\"units\":1");
    cr_assert_eq(r->date_only, 0);
    fx_free(&fx);
}

Test(rec, missing_required_fields)
{
    Fx fx = fx_new();
    expect_err(&fx, "{\"id\":\"a\",\"service_date\":\"2026-03-02\"}",
               "record 1: field 'payer': missing (required)");
    expect_err(&fx, "{\"id\":\"a\",\"payer\":null,\"service_date\":\"2026-03-02\"}",
               "record 1: field 'payer': null, but the field is required");
    expect_err(&fx, "{}", "record 1: field 'id': missing (required)");
    static const char nodate[] = "{\"id\":\"a\",\"payer\":\"p\"}";
    cr_assert_null(dec_n(&fx, nodate, strlen(nodate), 9));
    cr_assert_str_eq(rec_error(fx.d), "record 9: field 'service_date': missing (required)");
    fx_free(&fx);
}

/* ---- bool, int, money ---------------------------------------------------- */

Test(rec, bools)
{
    Fx fx = fx_new();
    cr_assert_eq(ok_with(&fx, "\"emergent\":true")->v[fld(&fx, "emergent")].i, 1);
    cr_assert_eq(ok_with(&fx, "\"emergent\":false")->v[fld(&fx, "emergent")].i, 0);
    err_with(&fx, "\"emergent\":\"yes\"",
             "record 1: field 'emergent': expected true or false, got \"yes\"");
    err_with(&fx, "\"emergent\":1", "record 1: field 'emergent': expected true or false, got 1");
    err_with(&fx, "\"emergent\":[]", "record 1: field 'emergent': expected true or false, got an array");
    err_with(&fx, "\"emergent\":{}", "record 1: field 'emergent': expected true or false, got an object");
    fx_free(&fx);
}

Test(rec, ints)
{
    Fx fx = fx_new();
    uint32_t u = fld(&fx, "units");
    cr_assert_eq(ok_with(&fx, "\"units\":5")->v[u].i, 5);
    cr_assert_eq(ok_with(&fx, "\"units\":-5")->v[u].i, -5);
    cr_assert_eq(ok_with(&fx, "\"units\":0")->v[u].i, 0);
    cr_assert_eq(ok_with(&fx, "\"units\":-0")->v[u].i, 0);
    cr_assert_eq(ok_with(&fx, "\"units\":9223372036854775807")->v[u].i, INT64_MAX);
    cr_assert_eq(ok_with(&fx, "\"units\":-9223372036854775808")->v[u].i, INT64_MIN);
    err_with(&fx, "\"units\":\"abc\"", "record 1: field 'units': expected integer, got \"abc\"");
    err_with(&fx, "\"units\":5.0", "record 1: field 'units': expected integer, got 5.0");
    err_with(&fx, "\"units\":1e3", "record 1: field 'units': expected integer, got 1e3");
    err_with(&fx, "\"units\":5.5", "record 1: field 'units': expected integer, got 5.5");
    err_with(&fx, "\"units\":true", "record 1: field 'units': expected integer, got true");
    err_with(&fx, "\"units\":9223372036854775808",
             "record 1: field 'units': integer out of range, got 9223372036854775808");
    err_with(&fx, "\"units\":-9223372036854775809",
             "record 1: field 'units': integer out of range, got -9223372036854775809");
    err_with(&fx, "\"units\":123456789012345678901234567890123456789012345",
             "record 1: field 'units': integer out of range, got "
             "1234567890123456789012345678901234567890...");
    fx_free(&fx);
}

Test(rec, money_is_exact)
{
    Fx fx = fx_new();
    uint32_t m = fld(&fx, "price");
    cr_assert_eq(ok_with(&fx, "\"price\":1000")->v[m].i, 100000);
    cr_assert_eq(ok_with(&fx, "\"price\":1000.5")->v[m].i, 100050);
    cr_assert_eq(ok_with(&fx, "\"price\":1000.50")->v[m].i, 100050);
    cr_assert_eq(ok_with(&fx, "\"price\":1000.500")->v[m].i, 100050);
    cr_assert_eq(ok_with(&fx, "\"price\":1e3")->v[m].i, 100000);
    cr_assert_eq(ok_with(&fx, "\"price\":1.5E+2")->v[m].i, 15000);
    cr_assert_eq(ok_with(&fx, "\"price\":12300e-4")->v[m].i, 123);
    cr_assert_eq(ok_with(&fx, "\"price\":0.01")->v[m].i, 1);
    cr_assert_eq(ok_with(&fx, "\"price\":-12.34")->v[m].i, -1234);
    cr_assert_eq(ok_with(&fx, "\"price\":-0.0")->v[m].i, 0);
    cr_assert_eq(ok_with(&fx, "\"price\":0e999999999999")->v[m].i, 0);
    cr_assert_eq(ok_with(&fx, "\"price\":0.000")->v[m].i, 0);
    cr_assert_eq(ok_with(&fx, "\"price\":92233720368547758.07")->v[m].i, INT64_MAX);
    cr_assert_eq(ok_with(&fx, "\"price\":-92233720368547758.07")->v[m].i, -INT64_MAX);
    err_with(&fx, "\"price\":1000.005", "record 1: field 'price': more than 2 decimal places, got 1000.005");
    err_with(&fx, "\"price\":1e-3", "record 1: field 'price': more than 2 decimal places, got 1e-3");
    err_with(&fx, "\"price\":1e-99999999999",
             "record 1: field 'price': more than 2 decimal places, got 1e-99999999999");
    err_with(&fx, "\"price\":92233720368547758.08",
             "record 1: field 'price': amount out of range, got 92233720368547758.08");
    err_with(&fx, "\"price\":1e17", "record 1: field 'price': amount out of range, got 1e17");
    err_with(&fx, "\"price\":1e400", "record 1: field 'price': amount out of range, got 1e400");
    err_with(&fx, "\"price\":\"1000.50\"",
             "record 1: field 'price': expected money as a JSON number, got \"1000.50\"");
    fx_free(&fx);
}

/* ---- strings ------------------------------------------------------------- */

Test(rec, string_escapes)
{
    Fx fx = fx_new();
    uint32_t s = fld(&fx, "state");
    const Record *r = ok_with(&fx, "\"state\":\"q\\\"b\\\\s\\/b\\bf\\fn\\nr\\rt\\t\"");
    assert_str(r->v[s].s, r->v[s].n, "q\"b\\s/b\bf\fn\nr\rt\t");
    r = ok_with(&fx, "\"state\":\"\\u00e9\\u00C9\\u20ac\\uFFFF\"");
    assert_str(r->v[s].s, r->v[s].n, "\xc3\xa9\xc3\x89\xe2\x82\xac\xef\xbf\xbf");
    r = ok_with(&fx, "\"state\":\"\\ud83d\\ude00 \\uDBFF\\uDFFF\"");
    assert_str(r->v[s].s, r->v[s].n, "\xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
    r = ok_with(&fx, "\"state\":\"\"");
    cr_assert_eq(r->v[s].n, 0);
    cr_assert(has(r, s));
    fx_free(&fx);
}

/* "{" BASE "," is 54 bytes and "state":" 9 more: the string's contents
 * start at byte 64. */
Test(rec, string_escape_errors)
{
    Fx fx = fx_new();
    err_with(&fx, "\"state\":\"\\ud800\"", "record 1: invalid JSON at byte 64: unpaired surrogate \\ud800");
    err_with(&fx, "\"state\":\"\\udc00x\"", "record 1: invalid JSON at byte 64: unpaired surrogate \\udc00");
    err_with(&fx, "\"state\":\"\\uD800\\u0041\"",
             "record 1: invalid JSON at byte 64: unpaired surrogate \\uD800");
    err_with(&fx, "\"state\":\"\\ud800\\ud800\"",
             "record 1: invalid JSON at byte 64: unpaired surrogate \\ud800");
    err_with(&fx, "\"state\":\"ab\\u0000\"",
             "record 1: string contains \\u0000 at byte 66 (NUL is not allowed)");
    err_with(&fx, "\"state\":\"\\x\"", "record 1: invalid JSON at byte 64: invalid escape \\x");
    err_with(&fx, "\"state\":\"\\u12\"",
             "record 1: invalid JSON at byte 64: \\u must be followed by 4 hex digits");
    err_with(&fx, "\"state\":\"\\u12g4\"",
             "record 1: invalid JSON at byte 64: \\u must be followed by 4 hex digits");
    err_with(&fx, "\"state\":\"a\tb\"",
             "record 1: invalid JSON at byte 65: control character 0x09 in a string (it must be escaped)");
    expect_err(&fx, "{\"id\":\"abc",
               "record 1: invalid JSON at byte 11: unexpected end of line in the string that starts at byte 7");
    expect_err(&fx, "{\"id\":\"abc\\",
               "record 1: invalid JSON at byte 12: unexpected end of line, expected an escape after '\\'");
    fx_free(&fx);
}

Test(rec, utf8_is_strict)
{
    Fx fx = fx_new();
    uint32_t s = fld(&fx, "state");
    const Record *r = ok_with(&fx, "\"state\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\xed\x9f\xbf\"");
    assert_str(r->v[s].s, r->v[s].n, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\xed\x9f\xbf");
    static const char *const bad[] = {
        "\xc0\xaf",         /* overlong '/' */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\xaf",     /* overlong 3-byte */
        "\xe0\x9f\xbf",     /* overlong 3-byte, highest */
        "\xf0\x8f\xbf\xbf", /* overlong 4-byte */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xed\xbf\xbf",     /* surrogate U+DFFF */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80", /* lead byte beyond U+10FFFF */
        "\xff",
        "\x80",             /* stray continuation */
        "\xc3",             /* truncated before the quote */
        "\xe2\x82",
        "\xc3\x28",         /* bad continuation */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char extra[64];
        snprintf(extra, sizeof extra, "\"state\":\"ab%s\"", bad[i]);
        err_with(&fx, extra, "record 1: invalid UTF-8 at byte 66");
    }
    fx_free(&fx);
}

Test(rec, strings_reject_wrong_types)
{
    Fx fx = fx_new();
    err_with(&fx, "\"state\":5", "record 1: field 'state': expected string, got 5");
    err_with(&fx, "\"state\":false", "record 1: field 'state': expected string, got false");
    fx_free(&fx);
}

/* Values in messages are JSON-escaped and cut after 40 bytes. */
Test(rec, quoted_values_are_escaped_and_cut)
{
    Fx fx = fx_new();
    err_with(&fx, "\"requested_at\":\"a\\\"b\\n\\u0001\"",
             "record 1: field 'requested_at': expected datetime YYYY-MM-DD[THH:MM[:SS]], got \"a\\\"b\\n\\u0001\"");
    err_with(&fx, "\"requested_at\":\"0123456789012345678901234567890123456789X\"",
             "record 1: field 'requested_at': expected datetime YYYY-MM-DD[THH:MM[:SS]], got "
             "\"0123456789012345678901234567890123456789...\"");
    /* 39 bytes, then a 2-byte character across the cut: it is left out whole */
    err_with(&fx, "\"requested_at\":\"012345678901234567890123456789012345678\xc3\xa9\"",
             "record 1: field 'requested_at': expected datetime YYYY-MM-DD[THH:MM[:SS]], got "
             "\"012345678901234567890123456789012345678...\"");
    /* exactly 40 bytes: no cut */
    err_with(&fx, "\"requested_at\":\"0123456789012345678901234567890123456789\"",
             "record 1: field 'requested_at': expected datetime YYYY-MM-DD[THH:MM[:SS]], got "
             "\"0123456789012345678901234567890123456789\"");
    fx_free(&fx);
}

/* ---- dates --------------------------------------------------------------- */

Test(rec, dates)
{
    Fx fx = fx_new();
    uint32_t sd = fld(&fx, "service_date"), ra = fld(&fx, "requested_at");
    const Record *r = dec(&fx, "{\"id\":\"a\",\"payer\":\"p\",\"service_date\":\"2024-02-29\"}");
    cr_assert_not_null(r);
    cr_assert_eq(r->v[sd].i, date_from_ymd(2024, 2, 29));
    expect_err(&fx, "{\"id\":\"a\",\"payer\":\"p\",\"service_date\":\"2026-13-45\"}",
               "record 1: field 'service_date': expected date YYYY-MM-DD, got \"2026-13-45\"");
    static const char feb30[] = "{\"id\":\"a\",\"payer\":\"p\",\"service_date\":\"2026-02-30\"}";
    cr_assert_null(dec_n(&fx, feb30, strlen(feb30), 17));
    cr_assert_str_eq(rec_error(fx.d),
                     "record 17: field 'service_date': expected date YYYY-MM-DD, got \"2026-02-30\"");
    expect_err(&fx, "{\"id\":\"a\",\"payer\":\"p\",\"service_date\":20260302}",
               "record 1: field 'service_date': expected date YYYY-MM-DD, got 20260302");
    expect_err(&fx, "{\"id\":\"a\",\"payer\":\"p\",\"service_date\":\"2026-3-2\"}",
               "record 1: field 'service_date': expected date YYYY-MM-DD, got \"2026-3-2\"");
    int64_t day = (int64_t)date_from_ymd(2026, 2, 20) * 86400;
    cr_assert_eq(ok_with(&fx, "\"requested_at\":\"2026-02-20\"")->v[ra].i, day);
    cr_assert_eq(ok_with(&fx, "\"requested_at\":\"2026-02-20T23:59\"")->v[ra].i, day + 23 * 3600 + 59 * 60);
    cr_assert_eq(ok_with(&fx, "\"requested_at\":\"2026-02-20T00:00:07\"")->v[ra].i, day + 7);
    err_with(&fx, "\"requested_at\":\"2026-02-20 08:00\"",
             "record 1: field 'requested_at': expected datetime YYYY-MM-DD[THH:MM[:SS]], got \"2026-02-20 08:00\"");
    err_with(&fx, "\"requested_at\":\"2026-02-20T24:00\"",
             "record 1: field 'requested_at': expected datetime YYYY-MM-DD[THH:MM[:SS]], got \"2026-02-20T24:00\"");
    fx_free(&fx);
}

/* ---- enums --------------------------------------------------------------- */

Test(rec, enums)
{
    Fx fx = fx_new();
    uint32_t st = fld(&fx, "setting"), nw = fld(&fx, "network");
    cr_assert_eq(ok_with(&fx, "\"setting\":\"inpatient\"")->v[st].i, 0);
    cr_assert_eq(ok_with(&fx, "\"setting\":\"ambulance\"")->v[st].i, 14);
    cr_assert_eq(ok_with(&fx, "\"setting\":\"o\\u0066fice\"")->v[st].i, 3);
    cr_assert_eq(ok_with(&fx, "\"network\":\"out\"")->v[nw].i, 1);
    /* the members of another enum field are not members of this one */
    err_with(&fx, "\"network\":\"office\"",
             "record 1: field 'network': unknown value \"office\" (expected one of in, out)");
    err_with(&fx, "\"setting\":\"outpt\"",
             "record 1: field 'setting': unknown value \"outpt\" (expected one of inpatient, "
             "outpatient, ambulatory_surgery, office, home, emergency, observation, skilled_nursing, "
             "rehabilitation, ltac, ...)");
    err_with(&fx, "\"setting\":\"Inpatient\"",
             "record 1: field 'setting': unknown value \"Inpatient\" (expected one of inpatient, "
             "outpatient, ambulatory_surgery, office, home, emergency, observation, skilled_nursing, "
             "rehabilitation, ltac, ...)");
    err_with(&fx, "\"network\":1", "record 1: field 'network': expected one of in, out, got 1");
    err_with(&fx, "\"delivery\":\"\"",
             "record 1: field 'delivery': unknown value \"\" (expected one of vaginal, cesarean)");
    fx_free(&fx);
}

/* ---- codes --------------------------------------------------------------- */

Test(rec, codes_inferred_from_shape)
{
    Fx fx = fx_new();
    uint32_t c = fld(&fx, "code");
    const Record *r = ok_with(&fx, "\"code\":\"70551\"");
    cr_assert_eq((CodeKey)r->v[c].i, key_of(SYS_CPT, "70551"));
    assert_str(r->v[c].s, r->v[c].n, "70551");
    cr_assert_eq((CodeKey)ok_with(&fx, "\"code\":\"0213t\"")->v[c].i, key_of(SYS_CPT, "0213T"));
    cr_assert_eq((CodeKey)ok_with(&fx, "\"code\":\"j1234\"")->v[c].i, key_of(SYS_HCPCS, "J1234"));
    cr_assert_eq((CodeKey)ok_with(&fx, "\"code\":\"0450\"")->v[c].i, key_of(SYS_REV, "0450"));
    err_with(&fx, "\"code\":\"705\"", "record 1: field 'code': \"705\" is not a CPT, HCPCS or revenue code " FORMS);
    err_with(&fx, "\"code\":\"7055X\"", "record 1: field 'code': \"7055X\" is not a CPT, HCPCS or revenue code " FORMS);
    err_with(&fx, "\"code\":\"\"", "record 1: field 'code': \"\" is not a CPT, HCPCS or revenue code " FORMS);
    /* a CPT code with a digit dropped is not a revenue code NUBC assigns */
    err_with(&fx, "\"code\":\"6993\"", "record 1: field 'code': \"6993\" is not a CPT, HCPCS or revenue code " FORMS);
    err_with(&fx, "\"code\":70551", "record 1: field 'code': expected code string, got 70551");
    fx_free(&fx);
}

Test(rec, code_system_tag_before_or_after)
{
    Fx fx = fx_new();
    uint32_t c = fld(&fx, "code");
    CodeKey rev = key_of(SYS_REV, "0450");
    cr_assert_eq((CodeKey)ok_with(&fx, "\"code_system\":\"REV\",\"code\":\"450\"")->v[c].i, rev);
    cr_assert_eq((CodeKey)ok_with(&fx, "\"code\":\"450\",\"code_system\":\"REV\"")->v[c].i, rev);
    /* with a tag, "0450" is whatever the tag says */
    err_with(&fx, "\"code\":\"0450\",\"code_system\":\"CPT\"",
             "record 1: field 'code': \"0450\" is not a valid CPT code: a CPT code is 5 characters: "
             "5 digits, or 4 digits and F, T or U");
    err_with(&fx, "\"code_system\":\"CPT\",\"code\":\"7055X\"",
             "record 1: field 'code': \"7055X\" is not a valid CPT code: a CPT code is 5 characters: "
             "5 digits, or 4 digits and F, T or U");
    err_with(&fx, "\"code\":\"70551\",\"code_system\":\"HCPCS\"",
             "record 1: field 'code': \"70551\" is not a valid HCPCS code: a HCPCS Level II code is "
             "a letter A-V and 4 digits");
    /* a null tag is no tag */
    cr_assert_eq((CodeKey)ok_with(&fx, "\"code\":\"70551\",\"code_system\":null")->v[c].i,
                 key_of(SYS_CPT, "70551"));
    /* the tag alone decodes as an enum */
    const Record *r = ok_with(&fx, "\"code_system\":\"HCPCS\"");
    cr_assert(!has(r, c));
    cr_assert_eq(r->v[fld(&fx, "code_system")].i, 1);
    err_with(&fx, "\"code\":\"70551\",\"code_system\":\"ICD10\"",
             "record 1: field 'code_system': unknown value \"ICD10\" (expected one of CPT, HCPCS, REV)");
    fx_free(&fx);
}

/* A tag enum member that names no system the code field accepts. */
Test(rec, code_tag_outside_the_fields_systems)
{
    Prog *p = th_std_prog();
    static const char *const sys[] = {"CPT", "POS", "other", NULL};
    uint32_t tag = th_enum(p, "sys2", sys, 0);
    uint32_t c = th_field(p, "code2", VT_CODE, 0);
    p->fields[c].systems = SYS_BIT(SYS_CPT);
    p->fields[c].tag_field = tag;
    RecDecoder *d = rec_decoder_new(p);
    const char *l1 = "{" BASE ",\"code2\":\"70551\",\"sys2\":\"POS\"}";
    cr_assert_null(rec_decode(d, l1, strlen(l1), 3));
    cr_assert_str_eq(rec_error(d), "record 3: field 'code2': 'sys2' is POS, not one of the field's systems (CPT)");
    const char *l2 = "{" BASE ",\"code2\":\"70551\",\"sys2\":\"other\"}";
    cr_assert_null(rec_decode(d, l2, strlen(l2), 3));
    cr_assert_str_eq(rec_error(d), "record 3: field 'code2': 'sys2' is other, not one of the field's systems (CPT)");
    /* one system and no tag: the code must have its shape, with the reason */
    const char *l3 = "{" BASE ",\"code2\":\"7055\"}";
    cr_assert_null(rec_decode(d, l3, strlen(l3), 3));
    cr_assert_str_eq(rec_error(d), "record 3: field 'code2': \"7055\" is not a valid CPT code: a CPT "
                                   "code is 5 characters: 5 digits, or 4 digits and F, T or U");
    rec_decoder_free(d);
    th_prog_free(p);
}

Test(rec, icd10_lists_with_and_without_dots)
{
    Fx fx = fx_new();
    uint32_t dx = fld(&fx, "diagnoses");
    const Record *r = ok_with(&fx, "\"diagnoses\":[\"C50.911\",\"C50911\",\"z68.35\",\"A00\",\"E11.9\"]");
    RecVal v = r->v[dx];
    cr_assert_eq(v.n, 5);
    cr_assert_eq((CodeKey)r->items[v.i].i, key_of(SYS_ICD10, "C50911"));
    cr_assert_eq((CodeKey)r->items[v.i + 1].i, key_of(SYS_ICD10, "C50911"));
    cr_assert_eq((CodeKey)r->items[v.i + 2].i, key_of(SYS_ICD10, "Z6835"));
    cr_assert_eq((CodeKey)r->items[v.i + 3].i, key_of(SYS_ICD10, "A00"));
    cr_assert_eq((CodeKey)r->items[v.i + 4].i, key_of(SYS_ICD10, "E119"));
    assert_str(r->items[v.i].s, r->items[v.i].n, "C50.911");
    /* [] says what null says: no diagnosis applies */
    r = ok_with(&fx, "\"diagnoses\":[ ]");
    cr_assert_not(has(r, dx));
    cr_assert(r->none >> dx & 1);
    r = ok_with(&fx, "\"diagnoses\":null");
    cr_assert_not(has(r, dx));
    cr_assert(r->none >> dx & 1);
    r = ok_with(&fx, "\"code\":\"70551\"");
    cr_assert_not(r->none >> dx & 1);
    const char *icd = "an ICD-10-CM code is a letter, a digit, a letter or digit, then up to 4 more "
                      "(dot optional after the third)";
    char want[512];
    snprintf(want, sizeof want, "record 1: field 'diagnoses': element 2: \"C5\" is not a valid ICD10 code: %s", icd);
    err_with(&fx, "\"diagnoses\":[\"C50.911\",\"C5\"]", want);
    snprintf(want, sizeof want, "record 1: field 'diagnoses': element 1: \"C509.11\" is not a valid ICD10 code: %s", icd);
    err_with(&fx, "\"diagnoses\":[\"C509.11\"]", want);
    err_with(&fx, "\"diagnoses\":[\"C50.911\",7]",
             "record 1: field 'diagnoses': element 2: expected code string, got 7");
    err_with(&fx, "\"diagnoses\":[null]", "record 1: field 'diagnoses': element 1: expected code string, got null");
    err_with(&fx, "\"diagnoses\":\"C50.911\"",
             "record 1: field 'diagnoses': expected array of code strings, got \"C50.911\"");
    err_with(&fx, "\"tags\":{}", "record 1: field 'tags': expected array of strings, got an object");
    err_with(&fx, "\"tags\":[\"a\",[]]", "record 1: field 'tags': element 2: expected string, got an array");
    err_with(&fx, "\"diagnoses\":[\"A00\",]", "record 1: invalid JSON at byte 74: expected a value");
    err_with(&fx, "\"diagnoses\":[\"A00\" \"B00\"]", "record 1: invalid JSON at byte 74: expected ',' or ']'");
    fx_free(&fx);
}

/* A list of codes whose elements are {"system", "code"} objects (the peer
 * benchmark's records), mixed with bare code strings. */
Test(rec, code_list_elements_as_objects)
{
    Fx fx = fx_new();
    rec_decoder_free(fx.d);
    uint32_t cs = th_field(fx.p, "codes", VT_LIST, 0);
    fx.p->fields[cs].elem = VT_CODE;
    fx.p->fields[cs].systems = SYS_BIT(SYS_CPT) | SYS_BIT(SYS_HCPCS);
    fx.d = rec_decoder_new(fx.p);
    cr_assert_not_null(fx.d);
    const Record *r = ok_with(&fx, "\"codes\":[{\"system\":\"HCPCS\",\"code\":\"j9035\"},"
                                   "{\"code\":\"70551\"},\"K0813\",{ \"code\" : \"0213T\", "
                                   "\"system\" : \"CPT\", \"note\": {\"a\": [1, {}]} }]");
    RecVal v = r->v[cs];
    cr_assert(has(r, cs));
    cr_assert_eq(v.n, 4);
    cr_assert_eq((CodeKey)r->items[v.i].i, key_of(SYS_HCPCS, "J9035"));
    cr_assert_eq((CodeKey)r->items[v.i + 1].i, key_of(SYS_CPT, "70551"));
    cr_assert_eq((CodeKey)r->items[v.i + 2].i, key_of(SYS_HCPCS, "K0813"));
    cr_assert_eq((CodeKey)r->items[v.i + 3].i, key_of(SYS_CPT, "0213T"));
    assert_str(r->items[v.i].s, r->items[v.i].n, "j9035");
    /* an escaped code is read like any string */
    r = ok_with(&fx, "\"codes\":[{\"code\":\"7055\\u0031\",\"system\":\"CPT\"}]");
    cr_assert_eq((CodeKey)r->items[r->v[cs].i].i, key_of(SYS_CPT, "70551"));
    /* the system given decides the shape the code must have */
    err_with(&fx, "\"codes\":[{\"system\":\"HCPCS\",\"code\":\"70551\"}]",
             "record 1: field 'codes': element 1: \"70551\" is not a valid HCPCS code: a HCPCS Level "
             "II code is a letter A-V and 4 digits");
    err_with(&fx, "\"codes\":[\"70551\",{\"system\":\"ICD10\",\"code\":\"C50.9\"}]",
             "record 1: field 'codes': element 2: system \"ICD10\" is not one of the field's systems "
             "(CPT or HCPCS)");
    err_with(&fx, "\"codes\":[{\"system\":\"CPT\"}]",
             "record 1: field 'codes': element 1: object without \"code\"");
    err_with(&fx, "\"codes\":[{\"code\":70551}]",
             "record 1: field 'codes': element 1: 'code': expected a string, got 70551");
    err_with(&fx, "\"codes\":[{\"code\":\"70551\",\"system\":null}]",
             "record 1: field 'codes': element 1: 'system': expected a string, got null");
    err_with(&fx, "\"codes\":[{\"code\":\"70551\",\"code\":\"70552\"}]",
             "record 1: field 'codes': element 1: duplicate key \"code\"");
    err_with(&fx, "\"codes\":[{\"system\":\"CPT\",\"code\":\"70551\",\"system\":\"CPT\"}]",
             "record 1: field 'codes': element 1: duplicate key \"system\"");
    err_with(&fx, "\"codes\":[{\"code\":\"70551\",\"c\\u006fde\":\"70552\"}]",
             "record 1: field 'codes': element 1: duplicate key \"code\"");
    err_with(&fx, "\"codes\":[{\"note\":1,\"code\":\"70551\",\"note\":2}]",
             "record 1: field 'codes': element 1: duplicate key \"note\"");
    /* each element is an object of its own: the same keys again are fine */
    ok_with(&fx, "\"codes\":[{\"note\":1,\"code\":\"70551\",\"system\":\"CPT\"},"
                 "{\"note\":1,\"code\":\"70552\",\"system\":\"CPT\"}]");
    err_with(&fx, "\"codes\":[{\"code\":\"70551\" \"system\":\"CPT\"}]",
             "record 1: invalid JSON at byte 80: expected ',' or '}'");
    err_with(&fx, "\"codes\":[{\"code\":\"70551\"]",
             "record 1: invalid JSON at byte 79: expected ',' or '}'");
    /* a list of strings still takes only strings */
    err_with(&fx, "\"tags\":[{\"code\":\"70551\"}]",
             "record 1: field 'tags': element 1: expected string, got an object");
    fx_free(&fx);
}

static void put_list(char *out, size_t cap, const char *key, int n)
{
    size_t o = (size_t)snprintf(out, cap, "{" BASE ",\"%s\":[", key);
    for (int i = 0; i < n; i++) o += (size_t)snprintf(out + o, cap - o, "%s\"A%02d\"", i ? "," : "", i % 100);
    snprintf(out + o, cap - o, "]}");
}

Test(rec, list_items_limit_counts_all_lists)
{
    Fx fx = fx_new();
    size_t cap = 16 * REC_MAX_ITEMS + 256;
    char *line = malloc(cap);
    put_list(line, cap, "tags", REC_MAX_ITEMS);
    const Record *r = dec(&fx, line);
    cr_assert_not_null(r, "%s", rec_error(fx.d));
    cr_assert_eq(r->nitems, REC_MAX_ITEMS);
    put_list(line, cap, "tags", REC_MAX_ITEMS + 1);
    expect_err(&fx, line, "record 1: field 'tags': more than 1024 list elements in the record");
    /* 1000 tags and 25 diagnoses: 1025 together */
    size_t o = (size_t)snprintf(line, cap, "{" BASE ",\"diagnoses\":[");
    for (int i = 0; i < 25; i++) o += (size_t)snprintf(line + o, cap - o, "%s\"A00\"", i ? "," : "");
    o += (size_t)snprintf(line + o, cap - o, "],\"tags\":[");
    for (int i = 0; i < 1000; i++) o += (size_t)snprintf(line + o, cap - o, "%s\"t\"", i ? "," : "");
    snprintf(line + o, cap - o, "]}");
    expect_err(&fx, line, "record 1: field 'tags': more than 1024 list elements in the record");
    free(line);
    fx_free(&fx);
}

/* ---- the JSON grammar ---------------------------------------------------- */

Test(rec, not_an_object)
{
    Fx fx = fx_new();
    expect_err(&fx, "", "record 1: empty line (expected a JSON object)");
    expect_err(&fx, " \t \r", "record 1: empty line (expected a JSON object)");
    expect_err(&fx, "[]", "record 1: not a JSON object");
    expect_err(&fx, "[{\"id\":\"a\"}]", "record 1: not a JSON object");
    expect_err(&fx, "5", "record 1: not a JSON object");
    expect_err(&fx, "\"x\"", "record 1: not a JSON object");
    expect_err(&fx, "null", "record 1: not a JSON object");
    expect_err(&fx, "id=5", "record 1: not a JSON object");
    cr_assert_null(rec_decode(fx.d, NULL, 0, 4));
    cr_assert_str_eq(rec_error(fx.d), "record 4: empty line (expected a JSON object)");
    fx_free(&fx);
}

Test(rec, byte_order_mark_is_malformed)
{
    Fx fx = fx_new();
    expect_err(&fx, "\xef\xbb\xbf{" BASE "}",
               "record 1: byte order mark (U+FEFF) at byte 1: records are UTF-8 without one");
    expect_err(&fx, "  \xef\xbb\xbf{" BASE "}",
               "record 1: byte order mark (U+FEFF) at byte 3: records are UTF-8 without one");
    /* the id is still recovered */
    cr_assert(rec_partial(fx.d)->has_id);
    assert_str(rec_partial(fx.d)->id, rec_partial(fx.d)->id_len, "r1");
    fx_free(&fx);
}

Test(rec, whitespace_and_crlf)
{
    Fx fx = fx_new();
    expect_ok(&fx, "{" BASE "}\r");
    expect_ok(&fx, " \t{ \"id\" : \"a\" ,\n\"payer\"\r:\"p\", \"service_date\":\"2026-03-02\" } \r");
    expect_ok(&fx, "{" BASE ",\"x\":[ ],\"y\":{ },\"z\":[ 1 , { \"a\" : [ ] } ] }");
    fx_free(&fx);
}

Test(rec, grammar_errors_name_the_byte)
{
    Fx fx = fx_new();
    expect_err(&fx, "{\"id\":\"a\" \"payer\":\"p\"}", "record 1: invalid JSON at byte 11: expected ',' or '}'");
    expect_err(&fx, "{\"id\" \"a\"}", "record 1: invalid JSON at byte 7: expected ':'");
    expect_err(&fx, "{id:\"a\"}", "record 1: invalid JSON at byte 2: expected a string key or '}'");
    expect_err(&fx, "{\"id\":\"a\",}", "record 1: invalid JSON at byte 11: expected a string key");
    expect_err(&fx, "{\"id\":}", "record 1: invalid JSON at byte 7: expected a value");
    expect_err(&fx, "{\"id\":\"a\"", "record 1: invalid JSON at byte 10: unexpected end of line, expected ',' or '}'");
    expect_err(&fx, "{", "record 1: invalid JSON at byte 2: unexpected end of line, expected a string key or '}'");
    expect_err(&fx, "{\"id\":", "record 1: invalid JSON at byte 7: unexpected end of line, expected a value");
    expect_err(&fx, "{" BASE "} x", "record 1: invalid JSON at byte 56: unexpected data after the object");
    expect_err(&fx, "{" BASE "}{}", "record 1: invalid JSON at byte 55: unexpected data after the object");
    err_with(&fx, "\"x\":tru", "record 1: invalid JSON at byte 59: expected a value");
    err_with(&fx, "\"x\":nul", "record 1: invalid JSON at byte 59: expected a value");
    err_with(&fx, "\"x\":True", "record 1: invalid JSON at byte 59: expected a value");
    err_with(&fx, "\"x\":truex", "record 1: invalid JSON at byte 63: expected ',' or '}'");
    err_with(&fx, "\"x\":'a'", "record 1: invalid JSON at byte 59: expected a value");
    err_with(&fx, "\"x\":[1,]", "record 1: invalid JSON at byte 62: expected a value");
    err_with(&fx, "\"x\":[1 2]", "record 1: invalid JSON at byte 62: expected ',' or ']'");
    err_with(&fx, "\"x\":{\"a\"}", "record 1: invalid JSON at byte 63: expected ':'");
    err_with(&fx, "\"x\":{\"a\":1,}", "record 1: invalid JSON at byte 66: expected a string key");
    err_with(&fx, "\"x\":{1:2}", "record 1: invalid JSON at byte 60: expected a string key or '}'");
    err_with(&fx, "\"x\":[}", "record 1: invalid JSON at byte 60: expected a value");
    err_with(&fx, "\"x\":{]", "record 1: invalid JSON at byte 60: expected a string key or '}'");
    fx_free(&fx);
}

Test(rec, number_grammar)
{
    Fx fx = fx_new();
    expect_ok(&fx, "{" BASE ",\"a\":0,\"b\":-0.0e-0,\"c\":1E+9,\"d\":12.5e3,\"e\":-1}");
    err_with(&fx, "\"x\":01", "record 1: invalid JSON at byte 60: numbers cannot have leading zeros");
    err_with(&fx, "\"x\":-", "record 1: invalid JSON at byte 60: expected a digit after '-'");
    err_with(&fx, "\"x\":-a", "record 1: invalid JSON at byte 60: expected a digit after '-'");
    err_with(&fx, "\"x\":1.", "record 1: invalid JSON at byte 61: expected a digit after '.'");
    err_with(&fx, "\"x\":1.e5", "record 1: invalid JSON at byte 61: expected a digit after '.'");
    err_with(&fx, "\"x\":1e", "record 1: invalid JSON at byte 61: expected a digit in the exponent");
    err_with(&fx, "\"x\":1e+", "record 1: invalid JSON at byte 62: expected a digit in the exponent");
    err_with(&fx, "\"x\":.5", "record 1: invalid JSON at byte 59: expected a value");
    err_with(&fx, "\"x\":+1", "record 1: invalid JSON at byte 59: expected a value");
    err_with(&fx, "\"x\":0x10", "record 1: invalid JSON at byte 60: expected ',' or '}'");
    err_with(&fx, "\"units\":1.5.2", "record 1: field 'units': expected integer, got 1.5");
    fx_free(&fx);
}

Test(rec, huge_numbers_in_unknown_keys_are_valid_json)
{
    Fx fx = fx_new();
    expect_ok(&fx, "{" BASE ",\"big\":123456789012345678901234567890123456789012345678901234567890,"
                   "\"exp\":1e999999999999999999999,\"tiny\":-1.5e-999999999999,\"edge\":-9223372036854775809}");
    fx_free(&fx);
}

Test(rec, nul_byte_in_the_line)
{
    Fx fx = fx_new();
    static const char a[] = "{\"id\":\"a\0b\",\"payer\":\"p\",\"service_date\":\"2026-03-02\"}";
    cr_assert_null(dec_n(&fx, a, sizeof a - 1, 1));
    cr_assert_str_eq(rec_error(fx.d),
                     "record 1: invalid JSON at byte 9: control character 0x00 in a string (it must be escaped)");
    static const char b[] = "{\"id\":\"a\",\0\"payer\":\"p\"}";
    cr_assert_null(dec_n(&fx, b, sizeof b - 1, 1));
    cr_assert_str_eq(rec_error(fx.d), "record 1: invalid JSON at byte 11: expected a string key");
    cr_assert(rec_partial(fx.d)->has_id);
    static const char c[] = "{" BASE "}\0";
    cr_assert_null(dec_n(&fx, c, sizeof c - 1, 1));
    cr_assert_str_eq(rec_error(fx.d), "record 1: invalid JSON at byte 55: unexpected data after the object");
    fx_free(&fx);
}

/* ---- keys ---------------------------------------------------------------- */

Test(rec, duplicate_keys)
{
    Fx fx = fx_new();
    err_with(&fx, "\"code\":\"70551\",\"code\":\"70552\"", "record 1: duplicate key \"code\"");
    err_with(&fx, "\"code\":null,\"code\":\"70552\"", "record 1: duplicate key \"code\"");
    /* a field given as null or as [] is read: twice each, so that the
     * second time the decoder knows the key order */
    for (int i = 0; i < 2; i++) {
        err_with(&fx, "\"units\":null,\"state\":\"NY\",\"units\":1", "record 1: duplicate key \"units\"");
        err_with(&fx, "\"diagnoses\":[],\"state\":\"NY\",\"diagnoses\":[\"I10\"]",
                 "record 1: duplicate key \"diagnoses\"");
        err_with(&fx, "\"units\": null,\"units\":1", "record 1: duplicate key \"units\"");
    }
    err_with(&fx, "\"c\\u006fde\":\"70551\",\"code\":\"70552\"", "record 1: duplicate key \"code\"");
    err_with(&fx, "\"extra\":1,\"extra\":1", "record 1: duplicate key \"extra\"");
    err_with(&fx, "\"e\\\"x\":1,\"e\\u0022x\":2", "record 1: duplicate key \"e\\\"x\"");
    err_with(&fx, "\"id\":\"again\"", "record 1: duplicate key \"id\"");
    /* the key is a duplicate before its value is looked at */
    err_with(&fx, "\"service_date\":\"not a date\"", "record 1: duplicate key \"service_date\"");
    err_with(&fx, "\"meta\":{\"a\":1,\"b\":{\"a\":2},\"a\":3}", "record 1: duplicate key \"a\" inside \"meta\"");
    /* equal keys in different objects are fine, and so are keys equal to values */
    const Record *r = ok_with(&fx, "\"meta\":[{\"a\":1},{\"a\":2,\"b\":{\"a\":3}}],\"a\":{\"meta\":\"a\"},\"x\":\"x\"");
    cr_assert_not_null(r);
    fx_free(&fx);
}

Test(rec, unknown_keys_are_validated_and_skipped)
{
    Fx fx = fx_new();
    const Record *r = ok_with(&fx, "\"vendor\":{\"k\":[1,-2.5e3,\"s\\u00e9\",true,false,null,{}]},\"note\":\"x\"");
    cr_assert_eq(r->present, (1ull << fld(&fx, "id")) | (1ull << fld(&fx, "payer")) |
                                 (1ull << fld(&fx, "service_date")));
    err_with(&fx, "\"vendor\":{\"k\":[\"\xff\"]}", "record 1: invalid UTF-8 at byte 71");
    err_with(&fx, "\"vendor\":[\"\\u0000\"]", "record 1: string contains \\u0000 at byte 66 (NUL is not allowed)");
    /* keys are unescaped and compared exactly: "Code" is unknown */
    r = ok_with(&fx, "\"Code\":\"whatever\"");
    cr_assert(!has(r, fld(&fx, "code")));
    fx_free(&fx);
}

Test(rec, nesting_depth_limit)
{
    Fx fx = fx_new();
    /* arrays only: [[[...]]] */
    char *line = malloc(2 * 100 + 128);
    for (int depth = REC_MAX_DEPTH - 1; depth <= REC_MAX_DEPTH + 1; depth++) {
        size_t o = (size_t)sprintf(line, "{" BASE ",\"deep\":");
        for (int i = 0; i < depth; i++) line[o++] = '[';
        for (int i = 0; i < depth; i++) line[o++] = ']';
        line[o++] = '}';
        line[o] = '\0';
        const Record *r = dec(&fx, line);
        if (depth <= REC_MAX_DEPTH) {
            cr_assert_not_null(r, "depth %d: %s", depth, rec_error(fx.d));
        } else {
            cr_assert_null(r);
            /* "deep": ends at byte 61, so the 65th '[' is byte 126 */
            cr_assert_str_eq(rec_error(fx.d), "record 1: invalid JSON at byte 126: nesting deeper than 64 levels");
        }
    }
    free(line);
    /* objects and arrays mixed: {"k":[{"k":[ ... */
    size_t cap = 8 * 100 + 128;
    line = malloc(cap);
    for (int depth = REC_MAX_DEPTH; depth <= REC_MAX_DEPTH + 1; depth++) {
        size_t o = (size_t)sprintf(line, "{" BASE ",\"deep\":");
        for (int i = 0; i < depth; i++) o += (size_t)sprintf(line + o, i % 2 ? "[" : "{\"k\":");
        for (int i = depth - 1; i >= 0; i--) line[o++] = i % 2 ? ']' : '}';
        line[o++] = '}';
        line[o] = '\0';
        const Record *r = dec(&fx, line);
        if (depth == REC_MAX_DEPTH) cr_assert_not_null(r, "%s", rec_error(fx.d));
        else cr_assert(r == NULL && strstr(rec_error(fx.d), "nesting deeper than 64 levels"));
    }
    free(line);
    fx_free(&fx);
}

Test(rec, key_count_limit_includes_nested_keys)
{
    Fx fx = fx_new();
    size_t cap = 16 * 300 + 256;
    char *line = malloc(cap);
    /* 3 base keys + 253 = 256 */
    size_t o = (size_t)snprintf(line, cap, "{" BASE);
    for (int i = 0; i < REC_MAX_KEYS - 3; i++) o += (size_t)snprintf(line + o, cap - o, ",\"k%d\":%d", i, i);
    snprintf(line + o, cap - o, "}");
    expect_ok(&fx, line);
    o = (size_t)snprintf(line, cap, "{" BASE);
    for (int i = 0; i < REC_MAX_KEYS - 2; i++) o += (size_t)snprintf(line + o, cap - o, ",\"k%d\":%d", i, i);
    snprintf(line + o, cap - o, "}");
    expect_err(&fx, line, "record 1: more than 256 keys");
    o = (size_t)snprintf(line, cap, "{" BASE ",\"m\":{");
    for (int i = 0; i < REC_MAX_KEYS - 3; i++) o += (size_t)snprintf(line + o, cap - o, "%s\"k%d\":%d", i ? "," : "", i, i);
    snprintf(line + o, cap - o, "}}");
    expect_err(&fx, line, "record 1: more than 256 keys");
    free(line);
    fx_free(&fx);
}

/* ---- limits, reuse, ids -------------------------------------------------- */

Test(rec, line_length_limit)
{
    Fx fx = fx_new();
    size_t n = REC_MAX_LINE + 1;
    char *line = malloc(n);
    int k = snprintf(line, n, "{" BASE ",\"pad\":\"");
    memset(line + k, 'x', n - (size_t)k - 2);
    memcpy(line + n - 2, "\"}", 2);
    cr_assert_null(dec_n(&fx, line, n, 2));
    cr_assert_str_eq(rec_error(fx.d), "record 2: line is 1048577 bytes, longer than the limit of 1048576");
    cr_assert(rec_partial(fx.d)->has_id);
    assert_str(rec_partial(fx.d)->id, rec_partial(fx.d)->id_len, "r1");
    /* one byte less is accepted */
    line[n - 3] = '"';
    line[n - 2] = '}';
    const Record *r = dec_n(&fx, line, n - 1, 3);
    cr_assert_not_null(r, "%s", rec_error(fx.d));
    free(line);
    fx_free(&fx);
}

Test(rec, values_survive_until_the_next_decode_and_buffers_are_reused)
{
    Fx fx = fx_new();
    uint32_t st = fld(&fx, "state");
    char big[8000];
    int k = snprintf(big, sizeof big, "{" BASE ",\"state\":\"");
    memset(big + k, 'y', 6000);
    snprintf(big + k + 6000, sizeof big - (size_t)k - 6000, "\"}");
    const Record *r = dec(&fx, big);
    cr_assert_not_null(r);
    cr_assert_eq(r->v[st].n, 6000);
    r = ok_with(&fx, "\"state\":\"IL\"");
    assert_str(r->v[st].s, r->v[st].n, "IL");
    assert_str(r->id, r->id_len, "r1");
    cr_assert(!has(r, fld(&fx, "units")), "presence is reset per record");
    fx_free(&fx);
}

Test(rec, id_is_recovered_after_an_early_error)
{
    Fx fx = fx_new();
    const Record *p;
    expect_err(&fx, "{\"units\":\"abc\",\"id\":\"r9\",\"payer\":\"p\"}",
               "record 1: field 'units': expected integer, got \"abc\"");
    p = rec_partial(fx.d);
    cr_assert(p->has_id);
    assert_str(p->id, p->id_len, "r9");
    /* after a syntax error, with escapes in the key and the id */
    expect_err(&fx, "{\"x\":tru, \"vendor\":{\"id\":\"nested\"}, \"i\\u0064\" : \"r\\u00e9\" , \"y\":[",
               "record 1: invalid JSON at byte 6: expected a value");
    p = rec_partial(fx.d);
    cr_assert(p->has_id);
    assert_str(p->id, p->id_len, "r\xc3\xa9");
    /* an id read before the error is kept */
    expect_err(&fx, "{\"id\":\"first\",\"units\":1.5}", "record 1: field 'units': expected integer, got 1.5");
    assert_str(rec_partial(fx.d)->id, rec_partial(fx.d)->id_len, "first");
    /* only a top-level string id counts */
    expect_err(&fx, "{\"vendor\":{\"id\":\"nested\"},\"units\":\"a\"}",
               "record 1: field 'units': expected integer, got \"a\"");
    cr_assert(!rec_partial(fx.d)->has_id);
    expect_err(&fx, "{\"units\":\"a\",\"id\":17}", "record 1: field 'units': expected integer, got \"a\"");
    cr_assert(!rec_partial(fx.d)->has_id);
    expect_err(&fx, "{\"units\":\"a\",\"note\":\"id\",\"x\":\"}\",\"id\":\"r2\"}",
               "record 1: field 'units': expected integer, got \"a\"");
    assert_str(rec_partial(fx.d)->id, rec_partial(fx.d)->id_len, "r2");
    /* an id that is itself broken is not recovered */
    expect_err(&fx, "{\"units\":\"a\",\"id\":\"bad\xff\"}", "record 1: field 'units': expected integer, got \"a\"");
    cr_assert(!rec_partial(fx.d)->has_id);
    expect_err(&fx, "[{\"id\":\"r1\"}]", "record 1: not a JSON object");
    cr_assert(!rec_partial(fx.d)->has_id);
    /* an error after a successful decode does not leave the old id */
    ok_with(&fx, "");
    expect_err(&fx, "{", "record 1: invalid JSON at byte 2: unexpected end of line, expected a string key or '}'");
    cr_assert(!rec_partial(fx.d)->has_id);
    fx_free(&fx);
}

Test(rec, id_recovered_from_a_duplicate_key_error)
{
    Fx fx = fx_new();
    expect_err(&fx, "{\"id\":\"one\",\"id\":\"two\"}", "record 1: duplicate key \"id\"");
    assert_str(rec_partial(fx.d)->id, rec_partial(fx.d)->id_len, "one");
    fx_free(&fx);
}

Test(rec, decoder_rejects_an_oversized_schema)
{
    Prog *p = th_std_prog();
    char name[16];
    while (p->nfields <= PCR_MAX_FIELDS) {
        snprintf(name, sizeof name, "f%u", p->nfields);
        th_field(p, name, VT_INT, 0);
    }
    cr_assert_null(rec_decoder_new(p));
    th_prog_free(p);
}

/* A schema of exactly 64 fields: the last one's presence bit is bit 63. */
Test(rec, sixty_four_fields)
{
    Prog *p = th_std_prog();
    char name[16];
    while (p->nfields < PCR_MAX_FIELDS) {
        snprintf(name, sizeof name, "f%u", p->nfields);
        th_field(p, name, VT_INT, PF_REQUIRED);
    }
    RecDecoder *d = rec_decoder_new(p);
    cr_assert_not_null(d);
    char line[4096];
    size_t o = (size_t)snprintf(line, sizeof line, "{" BASE);
    for (uint32_t f = 0; f < p->nfields; f++)
        if (p->fields[f].type == VT_INT && p->strs[p->fields[f].name][0] == 'f')
            o += (size_t)snprintf(line + o, sizeof line - o, ",\"f%u\":%u", f, f);
    snprintf(line + o, sizeof line - o, "}");
    const Record *r = rec_decode(d, line, strlen(line), 1);
    cr_assert_not_null(r, "%s", rec_error(d));
    cr_assert(r->present >> 63 & 1);
    cr_assert_eq(r->v[63].i, 63);
    /* drop the last one: it is required */
    char *cut = strstr(line, ",\"f63\":63");
    memmove(cut, cut + 9, strlen(cut + 9) + 1);
    cr_assert_null(rec_decode(d, line, strlen(line), 1));
    cr_assert_str_eq(rec_error(d), "record 1: field 'f63': missing (required)");
    rec_decoder_free(d);
    th_prog_free(p);
}

/* A time of service must fall on service_date (in either key order, with
 * the check made only when a record has both). */
Test(rec, service_at_on_service_date)
{
    Fx fx = fx_new();
    ok_with(&fx, "\"service_at\":\"2026-03-02T23:59:59\"");
    ok_with(&fx, "\"service_at\":\"2026-03-02\"");
    err_with(&fx, "\"service_at\":\"2026-03-03T00:00\"",
             "record 1: field 'service_at': 2026-03-03T00:00 is not on service_date 2026-03-02");
    err_with(&fx, "\"service_at\":\"2026-03-01T23:59\"",
             "record 1: field 'service_at': 2026-03-01T23:59 is not on service_date 2026-03-02");
    expect_err(&fx, "{\"service_at\":\"2026-03-01\",\"id\":\"r\",\"payer\":\"p\",\"service_date\":\"2026-03-02\"}",
               "record 1: field 'service_at': 2026-03-01T00:00 is not on service_date 2026-03-02");
    fx_free(&fx);
}
