/* test_rec_oracle.c: the record decoder against jansson, differentially.
 *
 * A deterministic generator writes request records for the standard schema
 * (plus a list-of-strings field "tags"): valid ones in many spellings
 * (escapes, random Unicode, key order, whitespace, numbers in every form,
 * int64 and money edges), values the schema rejects, and mutations (byte
 * flips, truncations, inserted garbage, deletions, repeated slices).
 * Each line goes to json_loadb(JSON_REJECT_DUPLICATES) and to rec_decode:
 *
 *   jansson rejects                -> rec_decode rejects, except for the one
 *                                     legitimate difference, class J_RANGE:
 *                                     jansson refuses numbers beyond int64 or
 *                                     double ("too big integer", "real number
 *                                     overflow") that are valid JSON, which
 *                                     our decoder accepts in unknown keys;
 *   jansson accepts a line with a raw NUL byte
 *                                  -> rec_decode rejects: class J_NUL, a
 *                                     jansson bug (it skips a NUL right after
 *                                     a number or literal, akheron/jansson#331,
 *                                     JSONTestSuite n_multidigit_number_then_00)
 *                                     while RFC 8259 allows none anywhere;
 *   jansson accepts, not an object -> rec_decode rejects;
 *   jansson accepts an object      -> the oracle (tests/oracle/json_oracle.h,
 *                                     shared with fuzz_decoder_diff.c) applies
 *                                     the schema to jansson's values (dates.c
 *                                     and codes.c for dates and codes, an
 *                                     independent string-based conversion of
 *                                     the money text); rec_decode must agree
 *                                     on accept/reject and, when accepting,
 *                                     on every decoded value and the id; when
 *                                     rejecting, it must still offer the id.
 *
 * Besides, values the generator wrote knowing the schema rejects them (an
 * int beyond int64, money finer than cents, an unknown enum member, ...)
 * must be rejected whatever jansson says: this covers J_RANGE lines too.
 * Every class is counted and must have been exercised. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <jansson.h>

#include "buf.h"
/* helpers.h defines static helpers this file does not need (th_run, ...). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "helpers.h"
#pragma GCC diagnostic pop
#include "json_oracle.h"
#include "rec.h"

enum { RECORDS = 40000, SEED = 20260302 };

/* ---- a deterministic generator ------------------------------------------- */

typedef struct Rng {
    uint64_t s;
} Rng;

static uint64_t rnd(Rng *r) /* splitmix64 */
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t below(Rng *r, uint32_t n) { return (uint32_t)(rnd(r) % n); }
static bool chance(Rng *r, unsigned pct) { return below(r, 100) < pct; }

typedef struct Gen {
    Rng rng;
    Buf b;
    bool money_known;   /* the generator chose the price's cents ... */
    bool money_valid;   /*   and whether its spelling is whole cents */
    int64_t money;
    bool must_reject;   /* it wrote a value the schema rejects, whatever jansson says */
} Gen;

static void put(Gen *g, const char *s) { buf_puts(&g->b, s); }

static void ws(Gen *g)
{
    static const char sp[] = " \t\n\r";
    while (chance(&g->rng, 15)) buf_putc(&g->b, sp[below(&g->rng, 4)]);
}

static void put_u_escape(Gen *g, uint32_t u)
{
    char e[8];
    snprintf(e, sizeof e, chance(&g->rng, 50) ? "\\u%04x" : "\\u%04X", u);
    put(g, e);
}

/* Appends code point cp inside a JSON string, escaped or raw at random. */
static void put_char(Gen *g, uint32_t cp)
{
    Rng *r = &g->rng;
    if (cp == '"' || cp == '\\' || cp < 0x20 || chance(r, 12)) {
        const char *short_esc = cp == '"' ? "\\\"" : cp == '\\' ? "\\\\" : cp == '\n' ? "\\n"
                              : cp == '\t' ? "\\t" : cp == '/' ? "\\/" : cp == '\b' ? "\\b"
                              : cp == '\f' ? "\\f" : cp == '\r' ? "\\r" : NULL;
        if (short_esc && chance(r, 60)) put(g, short_esc);
        else if (cp < 0x10000) put_u_escape(g, cp);
        else {
            put_u_escape(g, 0xD800 + ((cp - 0x10000) >> 10));
            put_u_escape(g, 0xDC00 + ((cp - 0x10000) & 0x3FF));
        }
        return;
    }
    char u[4];
    int n;
    if (cp < 0x80) u[0] = (char)cp, n = 1;
    else if (cp < 0x800) u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    else if (cp < 0x10000)
        u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3F)),
        u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    else
        u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3F)),
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    buf_put(&g->b, u, (size_t)n);
}

static uint32_t random_cp(Rng *r)
{
    switch (below(r, 10)) {
    case 0: return below(r, 0x20);                 /* controls: escaped */
    case 1: return 0x80 + below(r, 0x780);         /* 2-byte */
    case 2: {
        uint32_t c = 0x800 + below(r, 0xF800);     /* 3-byte, no surrogates */
        return c >= 0xD800 && c <= 0xDFFF ? c - 0x800 : c;
    }
    case 3: return 0x10000 + below(r, 0x100000);   /* 4-byte */
    case 4: return chance(r, 50) ? 0xFFFF : 0x10FFFF;
    default: return 0x20 + below(r, 0x5F);         /* printable ASCII */
    }
}

/* A JSON string of random Unicode; now and then something invalid. */
static void random_string(Gen *g, unsigned maxlen)
{
    Rng *r = &g->rng;
    put(g, "\"");
    unsigned n = below(r, maxlen + 1);
    for (unsigned i = 0; i < n; i++) {
        if (chance(r, 1)) {
            static const char *const bad[] = {
                "\\u0000", "\\ud800", "\\udc00", "\\udfff", "\\udbff", "\\ud800\\u0041", "\\udbff\\udbff", "\\u12", "\\x",
                "\xed\xa0\x80", "\xed\xbf\xbf", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf",
                "\xe0\x9f\xbf", "\xf0\x80\x80\xaf", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80",
                "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xfe", "\xff", "\x80", "\xbf", "\xc3",
                "\xe2\x82", "\xf0\x9f\x98", "\xc3\x28", "\xe2\x28\xa1", "\x01", "\x1f", "\x7f"};
            put(g, bad[below(r, sizeof bad / sizeof bad[0])]);
        } else {
            put_char(g, random_cp(r));
        }
    }
    put(g, "\"");
}

/* Writes ASCII text s as a JSON string, escaping some characters. */
static void text(Gen *g, const char *s)
{
    put(g, "\"");
    for (; *s; s++) put_char(g, (uint8_t)*s);
    put(g, "\"");
}

static void key(Gen *g, const char *k)
{
    ws(g);
    text(g, k);
    ws(g);
    put(g, ":");
    ws(g);
}

static void put_i64(Gen *g, int64_t v)
{
    char s[32];
    snprintf(s, sizeof s, "%lld", (long long)v);
    put(g, s);
}

static void random_int(Gen *g)
{
    Rng *r = &g->rng;
    static const char *const edge[] = {"9223372036854775807", "-9223372036854775808",
                                       "9223372036854775806", "-9223372036854775807", "0", "-0", "1", "-1"};
    static const char *const bad[] = {"9223372036854775808", "-9223372036854775809",
                                      "18446744073709551615", "10000000000000000000", "5.0", "1e3",
                                      "5.5", "-0.0", "\"5\"", "true", "100000000000000000000000000000"};
    if (chance(r, 20)) put(g, edge[below(r, sizeof edge / sizeof edge[0])]);
    else if (chance(r, 12)) g->must_reject = true, put(g, bad[below(r, sizeof bad / sizeof bad[0])]);
    else if (chance(r, 50)) put_i64(g, (int64_t)below(r, 2000) - 1000);
    else put_i64(g, (int64_t)rnd(r));
}

/* Writes cents c as a JSON number in one of many exact spellings. */
static void money_spelling(Gen *g, int64_t c)
{
    Rng *r = &g->rng;
    char digits[24], out[96];
    uint64_t mag = c < 0 ? 0 - (uint64_t)c : (uint64_t)c;
    snprintf(digits, sizeof digits, "%llu", (unsigned long long)mag);
    const char *sign = c < 0 ? "-" : chance(r, 5) ? "-" : ""; /* "-0" spellings of zero */
    if (c > 0) sign = "";
    size_t nd = strlen(digits);
    switch (below(r, 4)) {
    case 0: { /* I.FF, I.F, I or I.FF000 */
        char ip[24], fp[3];
        if (nd <= 2) {
            snprintf(ip, sizeof ip, "0");
            fp[0] = nd == 2 ? digits[0] : '0';
            fp[1] = digits[nd - 1];
        } else {
            snprintf(ip, sizeof ip, "%.*s", (int)(nd - 2), digits);
            fp[0] = digits[nd - 2];
            fp[1] = digits[nd - 1];
        }
        fp[2] = '\0';
        unsigned form = below(r, 4);
        if (form == 0 && strcmp(fp, "00") == 0) snprintf(out, sizeof out, "%s%s", sign, ip);
        else if (form == 1 && fp[1] == '0') snprintf(out, sizeof out, "%s%s.%c", sign, ip, fp[0]);
        else if (form == 2) snprintf(out, sizeof out, "%s%s.%s000", sign, ip, fp);
        else snprintf(out, sizeof out, "%s%s.%s", sign, ip, fp);
        break;
    }
    default: { /* d.ddd e N: the digits with the point moved */
        size_t p = 1 + below(r, (uint32_t)nd);
        long exp = (long)(nd - p) - 2;
        const char *e = chance(r, 50) ? "e" : "E";
        const char *plus = exp >= 0 && chance(r, 50) ? "+" : "";
        if (p == nd) snprintf(out, sizeof out, "%s%s%s%s%ld", sign, digits, e, plus, exp);
        else snprintf(out, sizeof out, "%s%.*s.%s%s%s%ld", sign, (int)p, digits, digits + p, e, plus, exp);
        break;
    }
    }
    put(g, out);
}

static void random_money(Gen *g)
{
    Rng *r = &g->rng;
    g->money_known = true;
    g->money_valid = true;
    switch (below(r, 8)) {
    case 0: g->money = INT64_MAX - (int64_t)below(r, 3); break;
    case 1: g->money = -INT64_MAX + (int64_t)below(r, 3); break;
    case 2: g->money = 0; break;
    case 3: g->money = (int64_t)(rnd(r) >> 1) * (chance(r, 50) ? 1 : -1); break;
    default: g->money = (int64_t)below(r, 10000000) - 100000; break;
    }
    if (chance(r, 85)) {
        money_spelling(g, g->money);
        return;
    }
    g->money_valid = false; /* not whole cents, or out of range */
    g->must_reject = true;
    static const char *const bad[] = {"1000.005", "0.001", "1e-3", "-12.345", "1e17", "-1e17",
                                      "92233720368547758.08", "-92233720368547758.08", "1.0000000000000000001",
                                      "\"10.00\"", "true", "12.34567e2", "1e400", "99999999999999999999"};
    put(g, bad[below(r, sizeof bad / sizeof bad[0])]);
}

static void random_date(Gen *g, bool with_time)
{
    Rng *r = &g->rng;
    char s[40];
    int y = 1900 + (int)below(r, 1100), m = 1 + (int)below(r, 12), d = 1 + (int)below(r, 28);
    if (chance(r, 5)) { /* possibly impossible */
        y = 1890 + (int)below(r, 1120);
        m = (int)below(r, 14);
        d = (int)below(r, 33);
    }
    int k = snprintf(s, sizeof s, "%04d-%02d-%02d", y, m, d);
    if (with_time && chance(r, 70)) {
        int hh = (int)below(r, chance(r, 5) ? 30 : 24), mm = (int)below(r, 60);
        k += snprintf(s + k, sizeof s - (size_t)k, "T%02d:%02d", hh, mm);
        if (chance(r, 50)) snprintf(s + k, sizeof s - (size_t)k, ":%02d", (int)below(r, 62));
    }
    if (chance(r, 2)) s[below(r, (uint32_t)strlen(s))] = (char)('0' + below(r, 43));
    text(g, s);
}

/* A code (c, 16 bytes) and now and then its system's name (sys_out, 8 bytes;
 * usually the right one). */
static void random_code(Rng *r, char *c, char *sys_out)
{
    static const char *const sysname[] = {"CPT", "HCPCS", "REV"};
    unsigned sys = below(r, 3);
    switch (sys) {
    case 0:
        snprintf(c, 16, "%04u%c", below(r, 10000), "0123456789FTUft"[below(r, 15)]);
        break;
    case 1: snprintf(c, 16, "%c%04u", "ABCJKLSjsx"[below(r, 10)], below(r, 10000)); break;
    default:
        if (chance(r, 30)) snprintf(c, 16, "%03u", below(r, 1000));
        else snprintf(c, 16, "%04u", below(r, 10000));
    }
    if (chance(r, 5)) {
        static const char *const bad[] = {"7055", "7055X", "", "ABCDE", "705511", "C50.9", "1234T5"};
        snprintf(c, 16, "%s", bad[below(r, sizeof bad / sizeof bad[0])]);
    }
    sys_out[0] = '\0';
    if (chance(r, 40)) snprintf(sys_out, 8, "%s", chance(r, 85) ? sysname[sys] : sysname[below(r, 3)]);
}

static void random_icd10(Gen *g)
{
    Rng *r = &g->rng;
    static const char alnum[] = "0123456789ABCDEFGHJKLMNPQRSTVWXYZabz";
    char c[16];
    size_t k = 0;
    c[k++] = (char)('A' + below(r, 26));
    c[k++] = (char)('0' + below(r, 10));
    c[k++] = alnum[below(r, sizeof alnum - 1)];
    unsigned more = below(r, 5);
    if (more && chance(r, 60)) c[k++] = '.';
    for (unsigned i = 0; i < more; i++) c[k++] = alnum[below(r, sizeof alnum - 1)];
    c[k] = '\0';
    if (chance(r, 4)) {
        static const char *const bad[] = {"C5", "C50.", "1AB", "C5.09", "C50.91123", ""};
        snprintf(c, sizeof c, "%s", bad[below(r, sizeof bad / sizeof bad[0])]);
    }
    text(g, c);
}

static void random_json(Gen *g, int depth);

static void random_number(Gen *g)
{
    Rng *r = &g->rng;
    static const char *const num[] = {"0", "-0", "1.5", "-2.5e-3", "1E+2", "6.02e23",
                                      "123456789012345678901234567890", "1e400", "-1e400", "1e-400",
                                      "9223372036854775807", "9223372036854775808", "-9223372036854775809",
                                      "0.0000000000000000000000001", "1.7976931348623157e308"};
    if (chance(r, 50)) put(g, num[below(r, sizeof num / sizeof num[0])]);
    else {
        int64_t v = (int64_t)rnd(r); /* two statements: the order of the draws is fixed */
        put_i64(g, v >> below(r, 64));
    }
}

static void random_json(Gen *g, int depth)
{
    Rng *r = &g->rng;
    unsigned k = depth > 4 ? below(r, 5) : below(r, 7);
    switch (k) {
    case 0: random_string(g, 8); break;
    case 1: random_number(g); break;
    case 2: put(g, "true"); break;
    case 3: put(g, "false"); break;
    case 4: put(g, "null"); break;
    case 5: {
        put(g, "[");
        unsigned n = below(r, 4);
        for (unsigned i = 0; i < n; i++) {
            if (i) put(g, ",");
            ws(g);
            random_json(g, depth + 1);
            ws(g);
        }
        put(g, "]");
        break;
    }
    default: {
        put(g, "{");
        unsigned n = below(r, 4);
        for (unsigned i = 0; i < n; i++) {
            if (i) put(g, ",");
            ws(g);
            if (chance(r, 50)) random_string(g, 3);
            else text(g, (const char *[]){"a", "b", "id", "code"}[below(r, 4)]);
            ws(g);
            put(g, ":");
            ws(g);
            random_json(g, depth + 1);
        }
        put(g, "}");
    }
    }
}

/* Nested arrays and objects around the depth limit. */
static void deep_json(Gen *g)
{
    int n = REC_MAX_DEPTH - 2 + (int)below(&g->rng, 5);
    uint64_t kinds = rnd(&g->rng);
    for (int i = 0; i < n; i++) put(g, kinds >> (i % 64) & 1 ? "{\"k\":" : "[");
    put(g, "0");
    for (int i = n - 1; i >= 0; i--) put(g, kinds >> (i % 64) & 1 ? "}" : "]");
}

typedef void (*Member)(Gen *g, const char *name);

static void m_string(Gen *g, const char *k) { key(g, k); random_string(g, 12); }
static void m_bool(Gen *g, const char *k)
{
    key(g, k);
    static const char *const v[] = {"true", "false", "null", "1", "\"true\"", "0"};
    unsigned pick = below(&g->rng, chance(&g->rng, 90) ? 3 : 6);
    g->must_reject |= pick >= 3;
    put(g, v[pick]);
}
static void m_int(Gen *g, const char *k) { key(g, k); random_int(g); }

static void m_enum(Gen *g, const char *k, const char *const *members, unsigned n)
{
    key(g, k);
    if (chance(&g->rng, 93)) text(g, members[below(&g->rng, n)]);
    else if (chance(&g->rng, 50)) g->must_reject = true, text(g, chance(&g->rng, 50) ? "Inpatient" : "outpt");
    else if (chance(&g->rng, 50)) g->must_reject = true, put(g, "1");
    else put(g, "null");
}

static const char *const settings[] = {"inpatient", "outpatient", "ambulatory_surgery", "office", "home",
                                       "emergency", "observation", "skilled_nursing", "rehabilitation",
                                       "ltac", "hospice", "residential", "partial_hospital",
                                       "intensive_outpatient", "ambulance"};
static const char *const networks[] = {"in", "out"};
static const char *const admissions[] = {"elective", "emergency", "urgent", "maternity", "newborn", "transfer"};
static const char *const deliveries[] = {"vaginal", "cesarean"};

/* One request record, members in random order. */
static void random_record(Gen *g)
{
    Rng *r = &g->rng;
    enum { NSLOTS = 28 };
    unsigned order[NSLOTS];
    char code[16], code_sys[8];
    random_code(r, code, code_sys);
    for (unsigned i = 0; i < NSLOTS; i++) order[i] = i;
    for (unsigned i = NSLOTS - 1; i > 0; i--) {
        unsigned j = below(r, i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    g->money_known = false;
    ws(g);
    put(g, "{");
    bool first = true;
    for (unsigned s = 0; s < NSLOTS; s++) {
        unsigned slot = order[s];
        /* id, payer, service_date nearly always; the rest now and then */
        bool want = slot < 3 ? chance(r, 98) : chance(r, slot < 20 ? 45 : 12);
        if (!want) continue;
        if (!first) put(g, ",");
        first = false;
        switch (slot) {
        case 0: m_string(g, "id"); break;
        case 1: m_string(g, "payer"); break;
        case 2: key(g, "service_date"); random_date(g, false); break;
        case 3: m_string(g, "plan"); break;
        case 4: m_enum(g, "network", networks, 2); break;
        case 5: m_enum(g, "setting", settings, 15); break;
        case 6: m_enum(g, "admission", admissions, 6); break;
        case 7: m_bool(g, "admitted_from_er"); break;
        case 8: m_enum(g, "delivery", deliveries, 2); break;
        case 9: m_int(g, "stay_hours"); break;
        case 10: key(g, "code"); text(g, code); break;
        case 11: {
            key(g, "diagnoses");
            put(g, "[");
            unsigned n = below(r, 5);
            for (unsigned i = 0; i < n; i++) {
                if (i) put(g, ",");
                ws(g);
                random_icd10(g);
                ws(g);
            }
            put(g, "]");
            break;
        }
        case 12: m_int(g, "units"); break;
        case 13: key(g, "price"); random_money(g); break;
        case 14: m_int(g, "visit_number"); break;
        case 15: m_string(g, "state"); break;
        case 16: m_int(g, "member_age"); break;
        case 17: m_bool(g, chance(r, 50) ? "medicare_primary" : "medicare_exhausted"); break;
        case 18: m_bool(g, chance(r, 50) ? "clinical_trial" : "emergent"); break;
        case 19: key(g, "requested_at"); random_date(g, true); break;
        case 20: {
            key(g, "tags");
            put(g, "[");
            /* now and then right at REC_MAX_ITEMS, counting the diagnoses */
            unsigned n = chance(r, 3) ? REC_MAX_ITEMS - 4 + below(r, 8) : below(r, 4);
            for (unsigned i = 0; i < n; i++) {
                if (i) put(g, ",");
                if (n > 100) put(g, "\"t\"");
                else random_string(g, 6);
            }
            put(g, "]");
            break;
        }
        case 21: /* the tag of code, before or after it */
            key(g, "code_system");
            if (code_sys[0] || chance(r, 20)) text(g, code_sys[0] ? code_sys : "ICD10");
            else put(g, "null");
            break;
        case 22: key(g, chance(r, 50) ? "vendor" : "Code"); random_json(g, 0); break;
        case 23: { /* an unknown key of random Unicode */
            random_string(g, 5);
            put(g, ":");
            random_json(g, 0);
            break;
        }
        case 24: key(g, "deep"); deep_json(g); break;
        case 25: key(g, "n"); random_number(g); break;
        case 26: { /* many keys around the limit */
            key(g, "many");
            put(g, "{");
            unsigned n = 200 + below(r, 80);
            for (unsigned i = 0; i < n; i++) {
                char k[32];
                snprintf(k, sizeof k, "%s\"k%u\":%u", i ? "," : "", i, i);
                put(g, k);
            }
            put(g, "}");
            break;
        }
        default: /* a known key spelled with escapes */
            put(g, chance(r, 50) ? "\"pl\\u0061n\":\"x\"" : "\"st\\u0061te\":null");
            break;
        }
        ws(g);
    }
    put(g, "}");
    ws(g);
}

/* Damages the line in place: flips, truncations, garbage, deletions. */
static bool mutate(Gen *g)
{
    Rng *r = &g->rng;
    Buf *b = &g->b;
    if (b->n == 0) return false;
    static const char *const junk[] = {",", "}", "{", "[", "]", "\"", ":", "\\", "null", " ", "\\u",
                                       "\xff", "\xc3", "\xed\xa0\x80", "\xef\xbb\xbf", "0", "-", "e",
                                       "\"id\":\"dup\",", "\"code\":1,", "\x00", "\r\n", "1e999"};
    size_t at = below(r, (uint32_t)b->n);
    switch (below(r, 5)) {
    case 0: /* flip a byte */
        b->p[at] = chance(r, 50) ? (char)rnd(r) : junk[below(r, 10)][0];
        break;
    case 1: /* truncate */
        b->n = at;
        break;
    case 2: { /* insert garbage */
        const char *j = junk[below(r, sizeof junk / sizeof junk[0])];
        size_t jn = j[0] ? strlen(j) : 1;
        buf_reserve(b, jn);
        memmove(b->p + at + jn, b->p + at, b->n - at);
        memcpy(b->p + at, j, jn);
        b->n += jn;
        break;
    }
    case 3: /* delete a byte */
        memmove(b->p + at, b->p + at + 1, b->n - at - 1);
        b->n--;
        break;
    default: { /* repeat a slice (duplicate keys, among others) */
        char slice[40];
        size_t len = 1 + below(r, sizeof slice);
        if (at + len > b->n) len = b->n - at;
        memcpy(slice, b->p + at, len);
        size_t to = below(r, (uint32_t)b->n + 1);
        buf_reserve(b, len);
        memmove(b->p + to + len, b->p + to, b->n - to);
        memcpy(b->p + to, slice, len);
        b->n += len;
    }
    }
    return true;
}

static void special_line(Gen *g)
{
    static const char *const lines[] = {"", " ", "\r", "\t \r", "[]", "[{\"id\":\"a\"}]", "1", "\"x\"",
                                        "null", "true", "{}", "{\"id\":\"a\"}",
                                        "\xef\xbb\xbf{\"id\":\"a\",\"payer\":\"p\",\"service_date\":\"2026-03-02\"}",
                                        "{\"id\":\"a\",\"payer\":\"p\",\"service_date\":\"2026-03-02\"}\r",
                                        "{\"id\":\"a\",\"payer\":\"p\",\"service_date\":\"2026-03-02\"} {}"};
    put(g, lines[below(&g->rng, sizeof lines / sizeof lines[0])]);
}

/* ---- comparing ----------------------------------------------------------- */

static bool utf8_ok(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n); /* NULL for invalid UTF-8 */
    bool ok = j != NULL;
    json_decref(j);
    return ok;
}

typedef struct Counts {
    unsigned valid_same, invalid_schema, jansson_reject, j_range_we_accept, j_range_we_reject,
        not_object, mutated, generated_money, must_reject, j_nul;
} Counts;

static const char *show_line(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F && c != '\\') out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o] = '\0';
    return out;
}

/* The decoder with its fast paths (r, err) and without them (g, gerr)
 * agree on the verdict, the message and every value. */
static void same_as_general(const Prog *p, const Record *r, const char *err, const Record *g,
                            const char *gerr, const char *ln)
{
    cr_assert_str_eq(err, gerr, "fast and general paths differ on %s", ln);
    cr_assert_eq(r == NULL, g == NULL, "fast and general verdicts differ on %s", ln);
    if (!r) return;
    cr_assert(r->present == g->present && r->none == g->none && r->date_only == g->date_only &&
              r->nitems == g->nitems, "fast and general records differ on %s", ln);
    for (uint32_t f = 0; f < p->nfields; f++) {
        if (!(r->present >> f & 1)) continue;
        const RecVal *a = &r->v[f], *b = &g->v[f];
        bool text = p->fields[f].type == VT_STRING || p->fields[f].type == VT_CODE;
        cr_assert(a->i == b->i && a->n == b->n && (!text || memcmp(a->s, b->s, a->n) == 0),
                  "fast and general values of field %u differ on %s", f, ln);
    }
    for (uint32_t i = 0; i < r->nitems; i++)
        cr_assert(r->items[i].i == g->items[i].i && r->items[i].n == g->items[i].n &&
                  memcmp(r->items[i].s, g->items[i].s, r->items[i].n) == 0,
                  "fast and general list elements differ on %s", ln);
}

Test(rec_oracle, agrees_with_jansson)
{
    Prog *p = th_std_prog();
    uint32_t tags = th_field(p, "tags", VT_LIST, 0);
    p->fields[tags].elem = VT_STRING;
    uint32_t price = th_field_index(p, "price");
    RecDecoder *d = rec_decoder_new(p);
    RecDecoder *slow = rec_decoder_new(p); /* the fast paths off: must agree with d */
    rec_decoder_set_fast(slow, false);
    Gen g = {{SEED}, {0}, false, false, 0, false};
    Counts c = {0};
    char *ln = malloc(1 << 16), msg[256];
    for (uint64_t rec = 1; rec <= RECORDS; rec++) {
        g.b.n = 0;
        g.money_known = false;
        g.must_reject = false;
        bool mutated = false;
        if (chance(&g.rng, 3)) {
            special_line(&g);
        } else {
            random_record(&g);
            if (chance(&g.rng, 35)) {
                mutated = mutate(&g);
                if (chance(&g.rng, 30)) mutate(&g);
            }
        }
        c.mutated += mutated;
        const char *line = g.b.p ? g.b.p : "";
        size_t len = g.b.n;
        show_line(line, len, ln, 3000);

        const Record *r = rec_decode(d, line, len, rec);
        const char *err = rec_error(d);
        same_as_general(p, r, err, rec_decode(slow, line, len, rec), rec_error(slow), ln);
        if (!r) {
            char prefix[40];
            snprintf(prefix, sizeof prefix, "record %llu: ", (unsigned long long)rec);
            cr_assert(strncmp(err, prefix, strlen(prefix)) == 0 && strlen(err) > strlen(prefix), "bad error %s", err);
            cr_assert(utf8_ok(err, strlen(err)), "error text is not UTF-8: %s", ln);
        }
        if (!mutated && g.must_reject) {
            cr_assert_null(r, "accepted a value the schema rejects: %s", ln);
            c.must_reject++;
        }
        json_error_t je;
        json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
        if (!root) {
            if (json_error_code(&je) == json_error_numeric_overflow) {
                /* J_RANGE: valid JSON jansson cannot represent; no verdict */
                if (r) c.j_range_we_accept++;
                else c.j_range_we_reject++;
                continue;
            }
            cr_assert_null(r, "jansson rejects (%s at %d) but rec_decode accepts: %s", je.text, je.position, ln);
            c.jansson_reject++;
            continue;
        }
        JoWant w;
        jo_want_from(p, root, line, len, &w);
        cr_assert(!w.bug[0], "oracle: %s in %s", w.bug, ln);
        cr_assert(!w.unjudged, "oracle: number too long: %s", ln);
        if (memchr(line, '\0', len)) {
            cr_assert_null(r, "rec_decode accepts a raw NUL byte: %s", ln);
            c.j_nul++;
        } else if (!json_is_object(root)) {
            cr_assert_null(r, "rec_decode accepts a non-object: %s", ln);
            c.not_object++;
        } else if (w.ok) {
            cr_assert(mutated || !g.must_reject, "oracle: accepts what the generator knows is bad: %s", ln);
            cr_assert_not_null(r, "rec_decode rejects a valid record: %s\n  %s", ln, err);
            const char *diff = jo_compare(p, r, &w, msg, sizeof msg);
            cr_assert_null(diff, "%s: %s", diff, ln);
            diff = jo_check_id(r, &w);
            cr_assert_null(diff, "%s: %s", diff, ln);
            if (!mutated && g.money_known) {
                /* the generator's own value, chosen before it was spelled */
                cr_assert(g.money_valid, "generated an invalid price, accepted: %s", ln);
                cr_assert(r->present >> price & 1);
                cr_assert_eq(r->v[price].i, g.money, "price %lld, generated %lld: %s",
                             (long long)r->v[price].i, (long long)g.money, ln);
                c.generated_money++;
            }
            c.valid_same++;
        } else {
            cr_assert_null(r, "rec_decode accepts what the schema rejects (%s): %s", w.why, ln);
            const char *diff = jo_check_id(rec_partial(d), &w);
            cr_assert_null(diff, "%s: %s", diff, ln);
            c.invalid_schema++;
        }
        json_decref(root);
    }
    cr_log_info("rec oracle: %u records (%u mutated): %u valid and equal, %u rejected by the schema, "
                "%u rejected by jansson, %u not objects, %u generated prices checked, %u known-bad "
                "values rejected; J_RANGE: %u we accept, %u we reject; J_NUL: %u",
                RECORDS, c.mutated, c.valid_same, c.invalid_schema, c.jansson_reject, c.not_object,
                c.generated_money, c.must_reject, c.j_range_we_accept, c.j_range_we_reject, c.j_nul);
    /* every class must have been exercised, or the test proves little */
    cr_assert_gt(c.valid_same, RECORDS / 10);
    cr_assert_gt(c.invalid_schema, RECORDS / 20);
    cr_assert_gt(c.jansson_reject, RECORDS / 20);
    cr_assert_gt(c.not_object, 10);
    cr_assert_gt(c.generated_money, 100);
    cr_assert_gt(c.must_reject, 100);
    cr_assert_gt(c.j_range_we_accept, 10);
    cr_assert_gt(c.j_range_we_reject, 10);
    free(ln);
    buf_free(&g.b);
    rec_decoder_free(d);
    rec_decoder_free(slow);
    th_prog_free(p);
}
