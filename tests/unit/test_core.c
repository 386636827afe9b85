/* test_core.c: dates, business days, code shapes, code keys and sets. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "codes.h"
#include "dates.h"

static int32_t D(const char *s)
{
    int32_t d;
    cr_assert(date_parse(s, strlen(s), &d), "date %s", s);
    return d;
}

Test(dates, parse_is_strict)
{
    int32_t d;
    cr_assert(date_parse("2024-02-29", 10, &d));
    cr_assert_not(date_parse("2023-02-29", 10, &d), "not a leap year");
    cr_assert_not(date_parse("2026-13-45", 10, &d));
    cr_assert_not(date_parse("2026-04-31", 10, &d));
    cr_assert_not(date_parse("2026-4-01", 9, &d));
    cr_assert_not(date_parse("2026/04/01", 10, &d));
    cr_assert_not(date_parse("1899-12-31", 10, &d), "below the supported years");
    cr_assert_eq(D("1970-01-01"), 0);
    cr_assert_eq(D("2000-03-01") - D("2000-02-28"), 2, "2000 is a leap year");
}

Test(dates, datetime_forms)
{
    int64_t t;
    bool had;
    cr_assert(datetime_parse("2026-03-02T08:30", 16, &t, &had));
    cr_assert(had);
    cr_assert_eq(t, (int64_t)D("2026-03-02") * 86400 + 8 * 3600 + 30 * 60);
    cr_assert(datetime_parse("2026-03-02T08:30:15", 19, &t, NULL));
    cr_assert(datetime_parse("2026-03-02", 10, &t, &had));
    cr_assert_not(had);
    cr_assert_not(datetime_parse("2026-03-02T24:00", 16, &t, NULL));
    cr_assert_not(datetime_parse("2026-03-02 08:30", 16, &t, NULL));
    char buf[20];
    datetime_format((int64_t)D("2026-02-27") * 86400 + 23 * 3600 + 5 * 60, buf);
    cr_assert_str_eq(buf, "2026-02-27T23:05");
    date_format(D("2031-12-09"), buf);
    cr_assert_str_eq(buf, "2031-12-09");
}

Test(dates, weekdays_and_business_days)
{
    cr_assert_eq(date_weekday(D("2026-11-24")), 1, "a Tuesday");
    cr_assert_eq(date_weekday(D("1970-01-01")), 3, "a Thursday");
    /* Friday + 1 business day is Monday. */
    cr_assert_eq(date_add_business_days(D("2026-03-06"), 1, NULL), D("2026-03-09"));
    /* Monday - 1 business day is the Friday before. */
    cr_assert_eq(date_add_business_days(D("2026-03-09"), -1, NULL), D("2026-03-06"));
    int32_t hol[] = {D("2026-02-16")};
    Holidays h = {.days = hol, .n = 1};
    cr_assert_eq(date_add_business_days(D("2026-02-18"), -2, &h), D("2026-02-13"),
                 "skips Presidents Day and the weekend");
    cr_assert_eq(date_add_business_days(D("2026-02-18"), -2, NULL), D("2026-02-16"));
    cr_assert_not(date_is_business_day(D("2026-02-16"), &h));
    cr_assert_eq(date_add_business_days(D("2026-02-18"), 0, &h), D("2026-02-18"));
}

static CodeKey K(CodeSystem sys, const char *s)
{
    char norm[8];
    size_t n;
    const char *why = NULL;
    cr_assert(code_normalize(sys, s, strlen(s), norm, &n, &why), "%s: %s", s, why);
    return code_key(sys, norm, n);
}

/* The key of text that need not be a well-formed code of sys (0163Z). */
static CodeKey R(CodeSystem sys, const char *s) { return code_key(sys, s, strlen(s)); }

Test(codes, shapes)
{
    char norm[8];
    size_t n;
    const char *why;
    cr_assert(code_normalize(SYS_CPT, "0213T", 5, norm, &n, &why));
    cr_assert_not(code_normalize(SYS_CPT, "7055", 4, norm, &n, &why));
    cr_assert_not(code_normalize(SYS_CPT, "7055X", 5, norm, &n, &why));
    cr_assert(code_normalize(SYS_HCPCS, "s2083", 5, norm, &n, &why));
    cr_assert_str_eq(norm, "S2083");
    cr_assert_not(code_normalize(SYS_HCPCS, "12345", 5, norm, &n, &why));
    cr_assert(code_normalize(SYS_REV, "172", 3, norm, &n, &why));
    cr_assert_str_eq(norm, "0172");
    cr_assert(code_normalize(SYS_ICD10, "C50.911", 7, norm, &n, &why));
    cr_assert_str_eq(norm, "C50911");
    cr_assert_not(code_normalize(SYS_ICD10, "C5.0911", 7, norm, &n, &why), "dot after 2 chars");
    cr_assert_not(code_normalize(SYS_ICD10, "C50.", 4, norm, &n, &why));
    cr_assert_not(code_normalize(SYS_ICD10, "C50.91123", 9, norm, &n, &why), "too long");
    cr_assert_not(code_normalize(SYS_POS, "2", 1, norm, &n, &why));
}

Test(codes, inference)
{
    unsigned all = SYS_BIT(SYS_CPT) | SYS_BIT(SYS_HCPCS) | SYS_BIT(SYS_REV);
    cr_assert_eq(code_infer_system("70551", 5, all), SYS_CPT);
    cr_assert_eq(code_infer_system("0213T", 5, all), SYS_CPT);
    cr_assert_eq(code_infer_system("E0601", 5, all), SYS_HCPCS);
    cr_assert_eq(code_infer_system("0172", 4, all), SYS_REV);
    cr_assert_eq(code_infer_system("7055", 4, SYS_BIT(SYS_CPT)), SYS_NONE);
    cr_assert_eq(code_infer_system("XYZ", 3, all), SYS_NONE);
}

Test(codes, keys_order_ranges_by_length_and_text)
{
    CodeKey lo = K(SYS_CPT, "0213T"), hi = K(SYS_CPT, "0218T");
    cr_assert(lo < K(SYS_CPT, "0215T") && K(SYS_CPT, "0215T") < hi);
    cr_assert(K(SYS_CPT, "0219T") > hi);
    /* A shorter ICD-10 code never falls inside a range of longer ones. */
    CodeKey a = K(SYS_ICD10, "Z68.35"), b = K(SYS_ICD10, "Z68.45");
    CodeKey shorter = K(SYS_ICD10, "Z684");
    cr_assert(shorter < a || shorter > b);
    cr_assert(K(SYS_HCPCS, "E0601") != K(SYS_CPT, "70551"));
    char buf[8];
    code_key_format(K(SYS_ICD10, "c50.911"), buf);
    cr_assert_str_eq(buf, "C50911");
    code_key_format(K(SYS_CPT, "0213T"), buf);
    cr_assert_str_eq(buf, "0213T");
    cr_assert_eq(code_key_system(K(SYS_REV, "0172")), SYS_REV);
}

static bool in_range(const char *lo, const char *hi, const char *code)
{
    CodeRange r = {K(SYS_CPT, lo), K(SYS_CPT, hi)};
    return code_ranges_contain(&r, 1, K(SYS_CPT, code));
}

/* A range holds the codes of its ends' shape between them, and no code of
 * another shape: Category II codes (4 digits and F) are not in a range of
 * 5-digit codes, nor 5-digit anesthesia codes in a range of Category III
 * codes (4 digits and T). */
Test(codes, ranges_hold_one_shape)
{
    cr_assert(in_range("30400", "30462", "30410"));
    cr_assert_not(in_range("30400", "30462", "3044F"));
    cr_assert_not(in_range("30000", "30999", "3006F"));
    cr_assert_not(in_range("30000", "30999", "3099F"));
    cr_assert(in_range("0163T", "0165T", "0164T"));
    cr_assert(in_range("0163T", "0165T", "0163T"));
    cr_assert(in_range("0163T", "0165T", "0165T"));
    cr_assert_not(in_range("0163T", "0165T", "01650"));
    cr_assert_not(in_range("0163T", "0165T", "01640"));
    cr_assert_not(in_range("0163T", "0165T", "01659"));
    cr_assert_not(in_range("0163T", "0165T", "0166T"));
    /* a bare key interval holds its class between the ends as text;
     * code_set_add_range (below) keeps the letter both ends share */
    cr_assert(in_range("0163T", "0165T", "0164F"));
}

static bool in_set_of(const CodeSet *s, CodeSystem sys, const char *code)
{
    return code_ranges_contain(s->r, s->n, K(sys, code));
}

/* A letter both ends of a range have in one position, past their common
 * prefix, is in every code of the range; letters the ends do not share
 * run through A-Z. */
Test(codes, ranges_keep_the_letters_their_ends_share)
{
    CodeSet s = {0};
    cr_assert(code_set_add_range(&s, K(SYS_CPT, "0163T"), K(SYS_CPT, "0165T"), 100));
    code_set_normalize(&s);
    cr_assert_eq(s.n, 3, "0163T, 0164T, 0165T: not adjacent keys");
    cr_assert(in_set_of(&s, SYS_CPT, "0163T") && in_set_of(&s, SYS_CPT, "0164T") &&
              in_set_of(&s, SYS_CPT, "0165T"));
    cr_assert_not(in_set_of(&s, SYS_CPT, "0164F"));
    cr_assert_not(in_set_of(&s, SYS_CPT, "0163U"));
    cr_assert_not(code_ranges_contain(s.r, s.n, R(SYS_CPT, "0165A")));
    code_set_free(&s);

    /* the shared letter is the first character: one interval */
    cr_assert(code_set_add_range(&s, K(SYS_HCPCS, "A0021"), K(SYS_HCPCS, "A0999"), 1));
    cr_assert_eq(s.n, 1);
    code_set_free(&s);

    /* letters that differ are free: B5555 is between A0021 and C0010 */
    cr_assert(code_set_add_range(&s, K(SYS_HCPCS, "A0021"), K(SYS_HCPCS, "C0010"), 1));
    cr_assert(in_set_of(&s, SYS_HCPCS, "B5555"));
    code_set_free(&s);

    /* a shared letter at the end of an ICD-10 range: S72.001A..S72.999A */
    cr_assert(code_set_add_range(&s, K(SYS_ICD10, "S72001A"), K(SYS_ICD10, "S72999A"), 1000));
    code_set_normalize(&s);
    cr_assert_eq(s.n, 999);
    cr_assert(in_set_of(&s, SYS_ICD10, "S72500A"));
    cr_assert_not(in_set_of(&s, SYS_ICD10, "S72500B"));
    cr_assert_not(in_set_of(&s, SYS_ICD10, "S72000A"));
    code_set_free(&s);

    /* positions after the last shared letter are free: A1B0..A3B9 is
     * A1B0-A1B9, A2B0-A2B9, A3B0-A3B9 */
    cr_assert(code_set_add_range(&s, K(SYS_ICD10, "A1B0"), K(SYS_ICD10, "A3B9"), 3));
    code_set_normalize(&s);
    cr_assert_eq(s.n, 3);
    cr_assert(in_set_of(&s, SYS_ICD10, "A2B7"));
    cr_assert_not(in_set_of(&s, SYS_ICD10, "A2C7"));
    code_set_free(&s);

    /* over the limit: stops after max intervals and says so */
    cr_assert_not(code_set_add_range(&s, K(SYS_ICD10, "S72001A"), K(SYS_ICD10, "S72999A"), 998));
    cr_assert_eq(s.n, 998);
    code_set_free(&s);
    cr_assert_not(code_set_add_range(&s, K(SYS_CPT, "70551"), K(SYS_CPT, "70553"), 0));
    code_set_free(&s);
}

/* A small deterministic generator (xorshift64*). */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* A random code of length n whose position i is a letter when bit i of
 * shape is set. */
static void random_code(uint64_t *s, char *c, size_t n, unsigned shape)
{
    for (size_t i = 0; i < n; i++)
        c[i] = (shape >> i) & 1 ? (char)('A' + rnd(s) % 26) : (char)('0' + rnd(s) % 10);
    c[n] = '\0';
}

static int sign(int x) { return (x > 0) - (x < 0); }

/* Within one system, length and shape, key order is text order; a key
 * interval whose ends share a shape holds exactly the codes of that shape
 * between them as text; keys print back as their codes. */
Test(codes, key_order_within_a_shape_is_text_order)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 1 + rnd(&seed) % CODE_MAX_CHARS;
        unsigned shape = (unsigned)(rnd(&seed) & ((1u << n) - 1));
        char a[8], b[8], x[8], f[8];
        random_code(&seed, a, n, shape);
        random_code(&seed, b, n, shape);
        CodeKey ka = code_key(SYS_ICD10, a, n), kb = code_key(SYS_ICD10, b, n);
        cr_assert_eq(ka < kb ? -1 : ka > kb, sign(strcmp(a, b)), "%s vs %s", a, b);
        cr_assert_eq(code_key_format(ka, f), n);
        cr_assert_str_eq(f, a);
        /* a code of the same or any shape, of length n or another */
        size_t m = rnd(&seed) % 4 == 0 ? 1 + rnd(&seed) % CODE_MAX_CHARS : n;
        unsigned xshape = (unsigned)(rnd(&seed) & ((1u << m) - 1));
        if (m == n && rnd(&seed) % 2) xshape = shape;
        random_code(&seed, x, m, xshape);
        const char *lo = strcmp(a, b) <= 0 ? a : b, *hi = lo == a ? b : a;
        CodeRange r = {code_key(SYS_ICD10, lo, n), code_key(SYS_ICD10, hi, n)};
        bool want = m == n && xshape == shape && strcmp(lo, x) <= 0 && strcmp(x, hi) <= 0;
        cr_assert_eq(code_ranges_contain(&r, 1, code_key(SYS_ICD10, x, m)), want, "%s in %s..%s",
                     x, lo, hi);
    }
}

/* The next code in text order among codes of one shape, by hand. */
static bool text_next(char *c, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        bool letter = c[i] >= 'A';
        if (c[i] != (letter ? 'Z' : '9')) {
            c[i]++;
            return true;
        }
        c[i] = letter ? 'A' : '0';
    }
    return false;
}

Test(codes, next_and_prev_stay_in_the_shape)
{
    uint64_t seed = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 1 + rnd(&seed) % CODE_MAX_CHARS;
        unsigned shape = (unsigned)(rnd(&seed) & ((1u << n) - 1));
        char c[8], want[8], got[8];
        random_code(&seed, c, n, shape);
        /* push some codes to the carries */
        for (size_t i = n; i-- > 0 && rnd(&seed) % 2;) c[i] = (shape >> i) & 1 ? 'Z' : '9';
        CodeKey k = code_key(SYS_CPT, c, n);
        memcpy(want, c, n + 1);
        bool ok;
        CodeKey next = code_key_next(k, &ok);
        cr_assert_eq(ok, text_next(want, n), "%s", c);
        if (!ok) continue;
        code_key_format(next, got);
        cr_assert_str_eq(got, want, "after %s", c);
        cr_assert_eq(next, code_key(SYS_CPT, want, n));
        cr_assert_eq(code_key_prev(next, &ok), k, "before %s", want);
        cr_assert(ok);
    }
    bool ok;
    code_key_next(K(SYS_CPT, "99999"), &ok);
    cr_assert_not(ok, "99999 is the last 5-digit code");
    code_key_prev(K(SYS_CPT, "0000F"), &ok);
    cr_assert(ok, "0000E comes before 0000F");
    code_key_prev(R(SYS_CPT, "0000A"), &ok);
    cr_assert_not(ok, "0000A is the first code of its shape");
    char buf[8];
    code_key_format(code_key_next(R(SYS_CPT, "0163Z"), &ok), buf);
    cr_assert_str_eq(buf, "0164A");
    code_key_format(code_key_prev(K(SYS_CPT, "30000"), &ok), buf);
    cr_assert_str_eq(buf, "29999");
}

/* Keys between codes (the index stores key + 1 and key - 1) print '?'
 * where they have no character, and step to the nearest codes. */
Test(codes, keys_between_codes)
{
    CodeKey after = K(SYS_CPT, "70559") + 1, before = K(SYS_CPT, "70560") - 1;
    cr_assert(K(SYS_CPT, "70559") < after && after < before && before < K(SYS_CPT, "70560"));
    char buf[8];
    cr_assert_eq(code_key_format(before, buf), 5);
    cr_assert_str_eq(buf, "7055?");
    bool ok;
    for (int i = 0; i < 2; i++) {
        CodeKey k = i ? before : after;
        cr_assert_eq(code_key_next(k, &ok), K(SYS_CPT, "70560"));
        cr_assert(ok);
        cr_assert_eq(code_key_prev(k, &ok), K(SYS_CPT, "70559"));
        cr_assert(ok);
    }
    CodeKey z = R(SYS_CPT, "0165Z") + 1, a = R(SYS_CPT, "0166A") - 1;
    code_key_format(a, buf);
    cr_assert_str_eq(buf, "0166?");
    cr_assert_eq(code_key_next(z, &ok), R(SYS_CPT, "0166A"));
    cr_assert_eq(code_key_prev(z, &ok), R(SYS_CPT, "0165Z"));
    cr_assert_eq(code_key_next(a, &ok), R(SYS_CPT, "0166A"));
    cr_assert_eq(code_key_prev(a, &ok), R(SYS_CPT, "0165Z"));
    /* a damaged length never writes more than CODE_MAX_CHARS */
    CodeKey bad = K(SYS_CPT, "70551") | (CodeKey)0xF << 56;
    cr_assert_eq(code_key_format(bad, buf), CODE_MAX_CHARS);
    cr_assert_eq(strlen(buf), CODE_MAX_CHARS);
}

static bool in_set(const CodeSet *s, const char *code)
{
    return code_ranges_contain(s->r, s->n, K(SYS_ICD10, code));
}

Test(codes, prefix_intervals_cover_each_length_and_shape)
{
    CodeSet s = {0};
    code_set_add_prefix(&s, SYS_ICD10, "C50", 3);
    cr_assert_eq(s.n, 31, "one interval per length and shape of the free positions");
    for (size_t i = 1; i < s.n; i++) cr_assert_lt(s.r[i - 1].hi, s.r[i].lo, "in key order");
    code_set_normalize(&s);
    cr_assert_eq(s.n, 31, "no two of them are adjacent");
    const char *in[] = {"C50", "C50.9", "C50.A", "C50.911", "C50.A1", "C50.1A", "C50.ZZZZ",
                        "C50.0000", "C50.9999", "C50.A0B1", "C50.0"};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) cr_assert(in_set(&s, in[i]), "%s", in[i]);
    const char *out[] = {"C51", "C51.0", "C49.9", "C49.ZZZZ", "C4A", "C4A.0", "B50.911",
                         "D50.0", "C51.0000", "C60"};
    for (size_t i = 0; i < sizeof out / sizeof *out; i++)
        cr_assert_not(in_set(&s, out[i]), "%s", out[i]);
    cr_assert_not(code_ranges_contain(s.r, s.n, K(SYS_CPT, "70551")));
    code_set_free(&s);

    /* a longer prefix: 2^(8-4) - 1 intervals */
    code_set_add_prefix(&s, SYS_ICD10, "E113", 4);
    cr_assert_eq(s.n, 15);
    code_set_normalize(&s);
    cr_assert(in_set(&s, "E11.3"));
    cr_assert(in_set(&s, "E11.3599"));
    cr_assert(in_set(&s, "E11.3A"));
    cr_assert_not(in_set(&s, "E11.4"));
    cr_assert_not(in_set(&s, "E11"));
    code_set_free(&s);

    /* neighbouring prefixes merge per length and shape: still 31 intervals */
    code_set_add_prefix(&s, SYS_ICD10, "C50", 3);
    code_set_add_prefix(&s, SYS_ICD10, "C51", 3);
    code_set_normalize(&s);
    cr_assert_eq(s.n, 31);
    cr_assert(in_set(&s, "C51.A1") && in_set(&s, "C50.Z9"));
    code_set_free(&s);
}

Test(codes, union_and_difference)
{
    CodeSet a = {0}, b = {0}, u = {0}, d = {0};
    code_set_add(&a, K(SYS_CPT, "70551"), K(SYS_CPT, "70553"));
    code_set_add(&a, K(SYS_CPT, "72141"), K(SYS_CPT, "72158"));
    code_set_normalize(&a);
    code_set_add(&b, K(SYS_CPT, "70552"), K(SYS_CPT, "70552"));
    code_set_add(&b, K(SYS_CPT, "72158"), K(SYS_CPT, "72160"));
    code_set_normalize(&b);
    code_set_diff(&d, &a, &b);
    cr_assert(code_ranges_contain(d.r, d.n, K(SYS_CPT, "70551")));
    cr_assert_not(code_ranges_contain(d.r, d.n, K(SYS_CPT, "70552")));
    cr_assert(code_ranges_contain(d.r, d.n, K(SYS_CPT, "70553")));
    cr_assert(code_ranges_contain(d.r, d.n, K(SYS_CPT, "72157")));
    cr_assert_not(code_ranges_contain(d.r, d.n, K(SYS_CPT, "72158")));
    code_set_union(&u, &a, &b);
    cr_assert(code_ranges_contain(u.r, u.n, K(SYS_CPT, "72160")));
    cr_assert_eq(u.n, 2, "adjacent and overlapping intervals merge");
    code_set_free(&a);
    code_set_free(&b);
    code_set_free(&u);
    code_set_free(&d);
}

Test(codes, adjacent_codes_merge_and_differences_end_on_codes)
{
    CodeSet a = {0}, b = {0}, d = {0};
    code_set_add(&a, K(SYS_CPT, "70551"), K(SYS_CPT, "70551"));
    code_set_add(&a, K(SYS_CPT, "70552"), K(SYS_CPT, "70552"));
    code_set_add(&a, K(SYS_CPT, "70559"), K(SYS_CPT, "70559"));
    code_set_add(&a, K(SYS_CPT, "70560"), K(SYS_CPT, "70561")); /* 70559 is followed by 70560 */
    code_set_add(&a, R(SYS_CPT, "0163Z"), R(SYS_CPT, "0163Z"));
    code_set_add(&a, R(SYS_CPT, "0164A"), R(SYS_CPT, "0164A")); /* 0163Z by 0164A */
    code_set_add(&a, K(SYS_ICD10, "A00.9"), K(SYS_ICD10, "A00.9"));
    code_set_add(&a, K(SYS_ICD10, "A00.A"), K(SYS_ICD10, "A00.F")); /* another shape */
    code_set_add(&a, K(SYS_ICD10, "A00.G"), K(SYS_ICD10, "A00.G"));
    code_set_normalize(&a);
    cr_assert_eq(a.n, 5, "got %zu ranges", a.n);
    cr_assert_eq(a.r[0].lo, K(SYS_CPT, "70551"));
    cr_assert_eq(a.r[0].hi, K(SYS_CPT, "70552"));
    cr_assert_eq(a.r[1].lo, K(SYS_CPT, "70559"));
    cr_assert_eq(a.r[1].hi, K(SYS_CPT, "70561"));
    cr_assert_eq(a.r[2].lo, R(SYS_CPT, "0163Z"));
    cr_assert_eq(a.r[2].hi, R(SYS_CPT, "0164A"));
    cr_assert_eq(a.r[3].lo, K(SYS_ICD10, "A00.9"));
    cr_assert_eq(a.r[3].hi, K(SYS_ICD10, "A00.9"), "A00.9 and A00.A differ in shape");
    cr_assert_eq(a.r[4].lo, K(SYS_ICD10, "A00.A"));
    cr_assert_eq(a.r[4].hi, K(SYS_ICD10, "A00.G"));
    code_set_free(&a);

    /* 30462 and 3046F are not neighbours: they differ in shape */
    code_set_add(&a, K(SYS_CPT, "30400"), K(SYS_CPT, "30462"));
    code_set_add(&a, K(SYS_CPT, "3046F"), K(SYS_CPT, "3046F"));
    code_set_normalize(&a);
    cr_assert_eq(a.n, 2);
    code_set_free(&a);

    code_set_add(&a, K(SYS_CPT, "70550"), K(SYS_CPT, "70559"));
    code_set_add(&b, K(SYS_CPT, "70550"), K(SYS_CPT, "70550"));
    code_set_add(&b, K(SYS_CPT, "70554"), K(SYS_CPT, "70559"));
    code_set_diff(&d, &a, &b);
    cr_assert_eq(d.n, 1);
    cr_assert_eq(d.r[0].lo, K(SYS_CPT, "70551"), "the difference starts on a real code");
    cr_assert_eq(d.r[0].hi, K(SYS_CPT, "70553"), "and ends on one");
    code_set_free(&a);
    code_set_free(&b);
    code_set_free(&d);

    /* Differences end on codes of the interval's shape: the code before
     * 0500U is 0500T, the one after it 0500V. */
    code_set_add(&a, K(SYS_CPT, "0001U"), K(SYS_CPT, "0999U"));
    code_set_add(&b, K(SYS_CPT, "0500U"), K(SYS_CPT, "0500U"));
    code_set_add(&b, K(SYS_CPT, "05000"), K(SYS_CPT, "05999")); /* another shape: no effect */
    code_set_normalize(&b);
    code_set_diff(&d, &a, &b);
    cr_assert_eq(d.n, 2);
    char lo[8], hi[8];
    code_key_format(d.r[0].hi, hi);
    code_key_format(d.r[1].lo, lo);
    cr_assert_str_eq(hi, "0500T");
    cr_assert_str_eq(lo, "0500V");
    cr_assert_eq(d.r[0].lo, K(SYS_CPT, "0001U"));
    cr_assert_eq(d.r[1].hi, K(SYS_CPT, "0999U"));
    code_set_free(&a);
    code_set_free(&b);
    code_set_free(&d);

    /* The codes after a prefix's block follow it directly. */
    code_set_add_prefix(&a, SYS_ICD10, "C50", 3);
    code_set_add(&a, K(SYS_ICD10, "C5100"), K(SYS_ICD10, "C5100"));
    code_set_add(&a, K(SYS_ICD10, "C51A0"), K(SYS_ICD10, "C51A0"));
    code_set_normalize(&a);
    cr_assert_eq(a.n, 31, "C5099 and C5100 are adjacent, C50Z9 and C51A0 too");
    cr_assert(code_ranges_contain(a.r, a.n, K(SYS_ICD10, "C5100")));
    cr_assert_not(code_ranges_contain(a.r, a.n, K(SYS_ICD10, "C5101")));
    code_set_free(&a);

    /* A difference with a prefix leaves whole codes on both sides. */
    code_set_add(&a, K(SYS_ICD10, "C4900"), K(SYS_ICD10, "C5199"));
    code_set_normalize(&a);
    code_set_add_prefix(&b, SYS_ICD10, "C50", 3);
    code_set_normalize(&b);
    code_set_diff(&d, &a, &b);
    cr_assert_eq(d.n, 2);
    cr_assert_eq(d.r[0].hi, K(SYS_ICD10, "C4999"));
    cr_assert_eq(d.r[1].lo, K(SYS_ICD10, "C5100"));
    code_set_free(&a);
    code_set_free(&b);
    code_set_free(&d);
}
