/* test_core.c: dates, business days, code shapes, code keys and sets. */
#include <criterion/criterion.h>
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
    Holidays h = {hol, 1};
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
    cr_assert_eq(code_key_system(K(SYS_REV, "0172")), SYS_REV);
}

Test(codes, prefix_intervals_cover_each_length)
{
    const char *p = "C50";
    CodeSet s = {0};
    for (size_t len = 3; len <= CODE_MAX_CHARS; len++)
        code_set_add(&s, code_prefix_lo(SYS_ICD10, p, 3, len), code_prefix_hi(SYS_ICD10, p, 3, len));
    code_set_normalize(&s);
    cr_assert(code_ranges_contain(s.r, s.n, K(SYS_ICD10, "C50")));
    cr_assert(code_ranges_contain(s.r, s.n, K(SYS_ICD10, "C50.911")));
    cr_assert(code_ranges_contain(s.r, s.n, K(SYS_ICD10, "C50.9")));
    cr_assert_not(code_ranges_contain(s.r, s.n, K(SYS_ICD10, "C51.0")));
    cr_assert_not(code_ranges_contain(s.r, s.n, K(SYS_ICD10, "C49.9")));
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
    code_set_add(&a, K(SYS_ICD10, "A00.9"), K(SYS_ICD10, "A00.9"));
    code_set_add(&a, K(SYS_ICD10, "A00.A"), K(SYS_ICD10, "A00.F")); /* '9' is followed by 'A' */
    code_set_normalize(&a);
    cr_assert_eq(a.n, 3, "got %zu ranges", a.n);
    cr_assert_eq(a.r[0].lo, K(SYS_CPT, "70551"));
    cr_assert_eq(a.r[0].hi, K(SYS_CPT, "70552"));
    cr_assert_eq(a.r[1].lo, K(SYS_CPT, "70559"));
    cr_assert_eq(a.r[2].lo, K(SYS_ICD10, "A00.9"));
    cr_assert_eq(a.r[2].hi, K(SYS_ICD10, "A00.F"));
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

    /* The codes after a prefix block follow it directly. */
    CodeKey hi = code_prefix_hi(SYS_ICD10, "C50", 3, 5);
    code_set_add(&a, code_prefix_lo(SYS_ICD10, "C50", 3, 5), hi);
    code_set_add(&a, K(SYS_ICD10, "C5100"), K(SYS_ICD10, "C5100"));
    code_set_normalize(&a);
    cr_assert_eq(a.n, 1, "C50?? and C5100 are adjacent");
    code_set_free(&a);
}
