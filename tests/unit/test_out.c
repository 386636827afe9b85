/* test_out.c: the decision writer's pieces against plain reference code:
 * JSON string escaping, the fixed-shape date and datetime parsers,
 * business-day arithmetic (every start day of several years, holidays and
 * weekends), and the lines an engine writes (ids to escape, routing by
 * payer, the pre-rendered "none" line). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dates.h"
#include "helpers.h"
#include "out.h"
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
        /* the room reserved for it is enough, and exact for a plain string */
        size_t room = buf_json_str_room(s, n);
        cr_assert(want.n <= room && (want.n != n + 2 || room == n + 2), "case %d: %zu bytes, room %zu", t,
                  want.n, room);
    }
    buf_free(&got);
    buf_free(&want);
}

/* ---- dates ----------------------------------------------------------------- */

static int ref_month_len(int y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : len[m - 1];
}

/* The strict shape, checked one rule at a time. */
static bool ref_date_valid(const char *s, size_t n)
{
    if (n != 10 || s[4] != '-' || s[7] != '-') return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return false;
    int y = atoi(s), m = (s[5] - '0') * 10 + s[6] - '0', d = (s[8] - '0') * 10 + s[9] - '0';
    return y >= DATE_MIN_YEAR && y <= DATE_MAX_YEAR && m >= 1 && m <= 12 && d >= 1 && d <= ref_month_len(y, m);
}

Test(dates, every_day_of_the_supported_years_parses_to_the_next_number)
{
    int32_t want = -1;
    char s[48];
    int32_t d;
    snprintf(s, sizeof s, "%04d-%02d-%02d", 1899, 12, 31);
    cr_assert_not(date_parse(s, 10, &d));
    for (int y = DATE_MIN_YEAR; y <= DATE_MAX_YEAR; y++) {
        for (int m = 1; m <= 12; m++) {
            for (int day = 1; day <= ref_month_len(y, m); day++) {
                snprintf(s, sizeof s, "%04d-%02d-%02d", y, m, day);
                cr_assert(date_parse(s, 10, &d), "%s", s);
                if (want != -1) cr_assert_eq(d, want, "%s", s);
                cr_assert_eq(d, date_from_ymd(y, m, day), "%s", s);
                want = d + 1;
                int yy, mm, dd;
                date_to_ymd(d, &yy, &mm, &dd);
                cr_assert(yy == y && mm == m && dd == day, "%s", s);
            }
        }
    }
    snprintf(s, sizeof s, "%04d-%02d-%02d", 3000, 1, 1);
    cr_assert_not(date_parse(s, 10, &d));
    cr_assert_eq(date_from_ymd(1970, 1, 1), 0);
    cr_assert_eq(date_from_ymd(1, 1, 1), -719162);
    cr_assert_eq(date_from_ymd(0, 3, 1), -719468, "years before 1 keep the general formula");
}

Test(dates, impossible_and_malformed_dates_are_refused_as_the_reference_says)
{
    static const char bytes[] = {'0', '1', '2', '3', '9', '/', ':', '-', 'a', 'T', ' ', '0' - 1, '9' + 1, '\0', (char)0xff};
    static const char *const base[] = {"2024-02-29", "2023-02-28", "1900-02-28", "2000-02-29", "2999-12-31",
                                       "2026-04-30", "2026-11-30", "2026-01-31", "1900-01-01"};
    char s[48];
    int32_t d;
    for (size_t b = 0; b < sizeof base / sizeof base[0]; b++) {
        for (int i = 0; i < 10; i++) {
            for (size_t k = 0; k < sizeof bytes; k++) {
                memcpy(s, base[b], 10);
                s[i] = bytes[k];
                cr_assert_eq(date_parse(s, 10, &d), ref_date_valid(s, 10), "%.10s", s);
            }
        }
        cr_assert_not(date_parse(base[b], 9, &d));
        cr_assert_not(date_parse(base[b], 11, &d));
    }
    /* Every month 00-13 and day 00-39 of leap and common years. */
    static const int years[] = {1900, 1999, 2000, 2024, 2026, 2100, 2400, 2999};
    for (size_t y = 0; y < sizeof years / sizeof years[0]; y++)
        for (int m = 0; m <= 13; m++)
            for (int day = 0; day <= 39; day++) {
                snprintf(s, sizeof s, "%04d-%02d-%02d", years[y], m, day);
                cr_assert_eq(date_parse(s, 10, &d), ref_date_valid(s, 10), "%s", s);
            }
}

Test(dates, datetimes_check_every_part)
{
    int64_t t;
    bool had;
    char s[64];
    int32_t day;
    cr_assert(date_parse("2026-03-02", 10, &day));
    for (int hh = 0; hh <= 25; hh++)
        for (int mm = 0; mm <= 61; mm += 1) {
            snprintf(s, sizeof s, "2026-03-02T%02d:%02d", hh, mm);
            bool ok = hh <= 23 && mm <= 59;
            cr_assert_eq(datetime_parse(s, 16, &t, &had), ok, "%s", s);
            if (ok) cr_assert(had && t == (int64_t)day * 86400 + hh * 3600 + mm * 60, "%s", s);
            snprintf(s, sizeof s, "2026-03-02T%02d:%02d:%02d", hh, mm, 61 - mm);
            ok = ok && 61 - mm <= 59;
            cr_assert_eq(datetime_parse(s, 19, &t, NULL), ok, "%s", s);
            if (ok) cr_assert_eq(t, (int64_t)day * 86400 + hh * 3600 + mm * 60 + 61 - mm, "%s", s);
        }
    static const char *const bad[] = {"2026-03-02 08:30", "2026-03-02T08-30", "2026-03-02T0a:30",
                                      "2026-03-02T08:3a", "2026-03-02T08:30:1x", "2026-03-02T08:30-15",
                                      "2026-02-30T08:30", "2026-03-02t08:30", "2026-03-02T08:30:15Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(datetime_parse(bad[i], strlen(bad[i]), &t, NULL), "%s", bad[i]);
    cr_assert_not(datetime_parse("2026-03-02T08", 13, &t, NULL));
    cr_assert(datetime_parse("2026-03-02", 10, &t, &had));
    cr_assert(!had && t == (int64_t)day * 86400);
}

/* ---- business days ------------------------------------------------------- */

static bool ref_business(int32_t d, const int32_t *hol, size_t n)
{
    if (date_weekday(d) >= 5) return false;
    for (size_t i = 0; i < n; i++)
        if (hol[i] == d) return false;
    return true;
}

/* n business days from day, one day at a time. */
static int32_t ref_add(int32_t day, int32_t n, const int32_t *hol, size_t nh)
{
    int step = n > 0 ? 1 : -1;
    for (int32_t left = n > 0 ? n : -n; left > 0;) {
        day += step;
        if (ref_business(day, hol, nh)) left--;
    }
    return day;
}

static int32_t D(const char *s)
{
    int32_t d;
    cr_assert(date_parse(s, strlen(s), &d), "date %s", s);
    return d;
}

/* Checks every start day in [from, through] and every n in [-span, span]
 * against the reference, with and without the calendar's index. */
static void check_calendar(const int32_t *hol, uint32_t nh, int32_t from, int32_t through, int32_t span)
{
    Holidays h = {.days = hol, .n = nh};
    Holidays hi = {.days = hol, .n = nh};
    date_holidays_index(&hi);
    for (int32_t day = from; day <= through; day++) {
        for (int32_t n = -span; n <= span; n++) {
            int32_t want = n ? ref_add(day, n, hol, nh) : day;
            int32_t got = date_add_business_days(day, n, &hi);
            cr_assert_eq(got, want, "day %d %+d: %d, want %d", day, n, got, want);
            if (!nh) cr_assert_eq(date_add_business_days(day, n, NULL), want, "no calendar");
            else cr_assert_eq(date_add_business_days(day, n, &h), want, "unindexed");
        }
    }
    date_holidays_free_index(&hi);
}

Test(business_days, every_start_day_of_four_years_with_holidays)
{
    /* US federal holidays of 2023-2025 (some observed on a Friday or a
     * Monday), a run of consecutive holidays, and holidays on weekends. */
    static const char *const names[] = {
        "2023-01-02", "2023-01-16", "2023-05-29", "2023-07-04", "2023-09-04", "2023-11-23",
        "2023-11-24", "2023-12-24", "2023-12-25", "2023-12-26", "2023-12-27", "2024-01-01",
        "2024-01-15", "2024-05-27", "2024-06-19", "2024-07-04", "2024-09-02", "2024-11-28",
        "2024-12-25", "2025-01-01", "2025-01-20", "2025-05-26", "2025-07-04", "2025-07-05",
        "2025-07-06", "2025-07-07", "2025-09-01", "2025-11-27", "2025-12-25"};
    int32_t hol[sizeof names / sizeof names[0]];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) hol[i] = D(names[i]);
    check_calendar(hol, sizeof hol / sizeof hol[0], D("2022-11-01"), D("2026-02-28"), 25);
}

Test(business_days, long_moves_and_no_calendar)
{
    static const int32_t none[1] = {0};
    check_calendar(none, 0, D("1999-12-20"), D("2000-03-10"), 400);
    int32_t hol[] = {D("2026-02-16"), D("2026-02-17"), D("2026-02-18"), D("2026-02-19"), D("2026-02-20"),
                     D("2026-02-23")};
    check_calendar(hol, sizeof hol / sizeof hol[0], D("2026-01-20"), D("2026-03-20"), 60);
    /* Every weekday of two months a holiday: more holidays crossed than a
     * few rounds of guessing settle, so the binary search finishes. */
    int32_t dense[64];
    uint32_t nd = 0;
    for (int32_t d = D("2026-02-01"); d <= D("2026-03-31"); d++)
        if (date_weekday(d) < 5) dense[nd++] = d;
    check_calendar(dense, nd, D("2026-01-01"), D("2026-05-10"), 45);
    /* Before 1970 (negative day numbers) and around a holiday on day 0. */
    int32_t early[] = {D("1969-12-31"), D("1970-01-01"), D("1970-01-02")};
    check_calendar(early, 3, D("1969-11-01"), D("1970-02-28"), 30);
}

/* ---- lines ----------------------------------------------------------------- */

static const char two_payers_src[] =
    "use std.request\n"
    "policy out { payer \"healthlink-east\", \"ok\", \"abc\", \"abcde\", \"a-payer-name-of-24-bytes\" title \"Out\" version \"2\" effective 2026-01-01\n"
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
    static const char *const other[] = {"healthlink-west", "healthli", "healthlink-east ", "o", "ok!", "OK",
                                        "abd", "bbc", "ab", "abcdf", "abcd", "Abcde", "a-payer-name-of-24-bytez",
                                        "a-payer-name-of-24-Bytes", "b-payer-name-of-24-bytes", "a-payer-NAME-of-24-bytes", ""};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        char rec[256];
        snprintf(rec, sizeof rec, "{\"id\":\"x\",\"payer\":\"%s\",\"code\":\"70551\",\"service_date\":\"2026-03-09\"}",
                 other[i]);
        size_t n;
        pcr_decision_kind k;
        const char *line = eval(e, rec, &n, &k);
        cr_assert_eq(k, PCR_DEC_NO_POLICY, "payer %s: %.*s", other[i], (int)n, line);
    }
    static const char *const mine[] = {"healthlink-east", "ok", "abc", "abcde", "a-payer-name-of-24-bytes"};
    for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++) {
        char rec[256];
        snprintf(rec, sizeof rec, "{\"id\":\"x\",\"payer\":\"%s\",\"code\":\"70551\",\"service_date\":\"2026-03-09\"}",
                 mine[i]);
        size_t n;
        pcr_decision_kind k;
        const char *line = eval(e, rec, &n, &k);
        cr_assert_eq(k, PCR_DEC_PRIOR_AUTH, "payer %s: %.*s", mine[i], (int)n, line);
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

/* ---- the id fast path and date formatting --------------------------------- */

/* Every id length from 0 to 24 (the fast path takes 1 to 16 bytes), with
 * each byte that needs escaping, and a multi-byte character, at every
 * position, on a decided line and on a "none" line: the line's id is the
 * record's id, and the rest of the line is what a plain id gets. */
Test(lines, ids_of_every_length_with_a_byte_to_escape_at_every_position)
{
    pcr_engine *e = th_engine("out.pcr", two_payers_src);
    cr_assert_not_null(e);
    /* The byte as JSON in the record, and what the id holds. */
    static const char *const esc[] = {"\\\"", "\\\\", "\\n", "\\u0001", "\\u001f", "\\u00e9", "\\u007f", "x"};
    static const char *const code[] = {"70551", "99213"};
    for (size_t c = 0; c < 2; c++) {
        for (int len = 0; len <= 24; len++) {
            for (int at = -1; at < len; at++) {
                for (size_t k = 0; k < sizeof esc / sizeof esc[0]; k++) {
                    if (at < 0 && k) break;
                    char id[256] = "", rec[512];
                    size_t w = 0;
                    for (int i = 0; i < len; i++) {
                        if (i == at) w += (size_t)snprintf(id + w, sizeof id - w, "%s", esc[k]);
                        else id[w++] = (char)('a' + i % 26);
                    }
                    id[w] = '\0';
                    snprintf(rec, sizeof rec,
                             "{\"id\":\"%s\",\"payer\":\"ok\",\"code\":\"%s\",\"service_date\":\"2026-03-09\"}", id,
                             code[c]);
                    size_t n;
                    pcr_decision_kind kind;
                    const char *line = eval(e, rec, &n, &kind);
                    cr_assert_eq(kind, c ? PCR_DEC_NONE : PCR_DEC_PRIOR_AUTH, "%.*s", (int)n, line);
                    cr_assert(n > 0 && line[n - 1] == '\n' && memchr(line, '\n', n) == line + n - 1);
                    json_error_t jerr;
                    json_t *got = json_loadb(line, n, 0, &jerr), *in = json_loads(rec, 0, &jerr);
                    cr_assert_not_null(got, "%.*s: %s", (int)n, line, jerr.text);
                    cr_assert(json_equal(json_object_get(got, "id"), json_object_get(in, "id")), "%s -> %.*s",
                              rec, (int)n, line);
                    /* The same line as with the id "x", but for the id. */
                    json_object_set_new(got, "id", json_string("x"));
                    char plain[512];
                    snprintf(plain, sizeof plain,
                             "{\"id\":\"x\",\"payer\":\"ok\",\"code\":\"%s\",\"service_date\":\"2026-03-09\"}", code[c]);
                    size_t pn;
                    const char *pl = eval(e, plain, &pn, &kind);
                    json_t *want = json_loadb(pl, pn, 0, &jerr);
                    cr_assert(json_equal(got, want), "%s -> %.*s", rec, (int)n, line);
                    json_decref(got);
                    json_decref(in);
                    json_decref(want);
                }
            }
        }
    }
    pcr_engine_free(e);
}

/* Hinnant's civil_from_days in signed arithmetic: the definition the fast
 * path must agree with. */
static void ref_ymd(int32_t days, int *y, int *m, int *d)
{
    long z = (long)days + 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

Test(dates, day_numbers_to_dates_agree_with_the_reference_everywhere)
{
    int32_t from[] = {-800000, (1 << 29) - 400000, INT32_MIN, INT32_MAX - 400000};
    for (size_t r = 0; r < sizeof from / sizeof from[0]; r++) {
        int32_t lo = from[r], hi = r ? from[r] + 400000 : 1300000;
        if (r == 2) hi = INT32_MIN + 400000;
        for (int32_t day = lo; day < hi; day++) {
            int y, m, d, wy, wm, wd;
            date_to_ymd(day, &y, &m, &d);
            ref_ymd(day, &wy, &wm, &wd);
            cr_assert(y == wy && m == wm && d == wd, "day %d: %d-%d-%d, want %d-%d-%d", day, y, m, d, wy, wm, wd);
        }
    }
}

/* ---- routing: hashed chains in policy order --------------------------------- */

/* 200 payers in three policies (more payers than chains, so chains hold
 * several), one payer in two of them with adjacent windows: every payer
 * goes to its policy on every date, in and out of the windows, through the
 * engine and through a clone of it. */
Test(lines, many_payers_route_to_their_policy_in_every_window)
{
    char src[3][8192];
    for (int k = 0; k < 3; k++) {
        int w = snprintf(src[k], sizeof src[k], "use std.request\npolicy pol%d { payer ", k);
        for (int i = k; i < 200; i += 3)
            w += snprintf(src[k] + w, sizeof src[k] - (size_t)w, "%s\"payer-%d%s\"", i == k ? "" : ", ", i,
                          i % 7 ? "" : "-with-a-long-name");
        if (k == 2) w += snprintf(src[k] + w, sizeof src[k] - (size_t)w, ", \"payer-0-with-a-long-name\"");
        snprintf(src[k] + w, sizeof src[k] - (size_t)w,
                 " title \"P\" version \"1\" effective %s }\n"
                 "codeset mri \"MRI\" { CPT 70551 }\n"
                 "rule r \"R\" { when code in mri require prior_auth }\n",
                 k == 0 ? "2026-01-01 through 2026-06-30" : k == 1 ? "2026-01-01" : "2026-07-01");
    }
    pcr_engine *e = pcr_engine_new();
    for (int k = 0; k < 3; k++) {
        char name[32], err[256];
        snprintf(name, sizeof name, "pol%d.pcr", k);
        pcr_policy *p = th_compile(name, src[k]);
        cr_assert_not_null(p, "%s", src[k]);
        cr_assert_eq(pcr_engine_add(e, p, err, sizeof err), PCR_OK, "%s", err);
    }
    pcr_engine *c = pcr_engine_clone(e);
    static const char *const days[] = {"2025-12-31", "2026-03-01", "2026-06-30", "2026-07-01", "2027-01-01"};
    for (int which = 0; which < 2; which++) {
        for (int i = 0; i < 201; i++) {
            for (size_t d = 0; d < sizeof days / sizeof days[0]; d++) {
                char rec[256], payer[64];
                if (i < 200) snprintf(payer, sizeof payer, "payer-%d%s", i, i % 7 ? "" : "-with-a-long-name");
                else snprintf(payer, sizeof payer, "payer-0-with-a-long-name");
                snprintf(rec, sizeof rec, "{\"id\":\"x\",\"payer\":\"%s\",\"code\":\"70551\",\"service_date\":\"%s\"}",
                         payer, days[d]);
                int k = i < 200 ? i % 3 : 2;
                /* payer-0-...: pol0 through June, pol2 from July */
                bool open = k == 1 ? d > 0 : k == 0 ? d > 0 && d < 3 : d >= 3;
                if (i == 0 || i == 200) k = d < 3 ? 0 : 2, open = d > 0;
                size_t n;
                pcr_decision_kind kind;
                const char *line = eval(which ? c : e, rec, &n, &kind);
                if (!open) {
                    cr_assert_eq(kind, PCR_DEC_NO_POLICY, "%s: %.*s", rec, (int)n, line);
                    continue;
                }
                char want[32];
                snprintf(want, sizeof want, "\"policy\":\"pol%d@1\"", k);
                cr_assert_eq(kind, PCR_DEC_PRIOR_AUTH, "%s: %.*s", rec, (int)n, line);
                char copy[1024];
                snprintf(copy, sizeof copy, "%.*s", (int)n, line);
                cr_assert_not_null(strstr(copy, want), "%s: %s, want %s", rec, copy, want);
            }
        }
    }
    pcr_engine_free(c);
    pcr_engine_free(e);
}

/* ---- business days: the per-day table and the binary search ---------------- */

/* A calendar spanning fewer than DATE_BY_DAY_MAX days gets the per-day
 * table, a longer one only the binary search: both agree with stepping
 * day by day, from days before, inside and after the calendar. */
Test(business_days, the_per_day_table_and_the_search_agree_with_stepping)
{
    static int32_t days[3000];
    int32_t spans[] = {4000, DATE_BY_DAY_MAX - 1, DATE_BY_DAY_MAX, 3 * DATE_BY_DAY_MAX};
    uint64_t seed = 99;
    for (size_t s = 0; s < sizeof spans / sizeof spans[0]; s++) {
        uint32_t n = 0;
        int32_t first = 19000;
        days[n++] = first;
        for (int32_t d = first; n < 2999;) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            d += 1 + (int32_t)((seed >> 33) % (uint64_t)(spans[s] / 1500));
            if (d >= first + spans[s] - 1) break;
            days[n++] = d;
        }
        days[n++] = first + spans[s] - 1; /* the span is exactly spans[s] days */
        Holidays plain = {.days = days, .n = n};
        Holidays fast = {.days = days, .n = n};
        date_holidays_index(&fast);
        cr_assert_eq(fast.by_day != NULL, spans[s] <= DATE_BY_DAY_MAX, "span %d", spans[s]);
        for (int i = 0; i < 3000; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            int32_t day = first - 100 + (int32_t)((seed >> 33) % (uint64_t)(spans[s] + 200));
            if (i % 10 == 0) day = first + spans[s] - 30 + i % 60; /* around the last holiday */
            int32_t k = (int32_t)((seed >> 13) % 200) - 100;
            int32_t want = date_add_business_days(day, k, &plain);
            int32_t got = date_add_business_days(day, k, &fast);
            cr_assert_eq(got, want, "span %d, day %d %+d: %d, stepping gives %d", spans[s], day, k, got, want);
        }
        date_holidays_free_index(&fast);
    }
}

/* Deadlines as written on a line, against snprintf over the reference
 * date: every day of 1900-2999 as a date, and a datetime in it. */
Test(dates, deadlines_format_as_snprintf_says)
{
    uint64_t seed = 5;
    for (int32_t day = date_from_ymd(1900, 1, 1); day <= date_from_ymd(2999, 12, 31); day++) {
        int y, m, d;
        ref_ymd(day, &y, &m, &d);
        char want[64], got[OUT_DEADLINE_MAX];
        snprintf(want, sizeof want, "%04d-%02d-%02d", y, m, d);
        size_t n = out_format_deadline(got, true, day);
        cr_assert(n == strlen(want) && strcmp(got, want) == 0, "day %d: %s, want %s", day, got, want);
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        int64_t sec = (int64_t)((seed >> 33) % SECONDS_PER_DAY);
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d", y, m, d, (int)(sec / 3600), (int)(sec % 3600 / 60));
        n = out_format_deadline(got, false, (int64_t)day * SECONDS_PER_DAY + sec);
        cr_assert(n == strlen(want) && strcmp(got, want) == 0, "day %d + %llds: %s, want %s", day, (long long)sec, got,
                  want);
    }
}

/* ---- lines of one rule and one obligation ---------------------------------- */

static const char solo_src[] =
    "use std.request\n"
    "policy solo { payer \"with\" title \"Solo\" version \"3\" effective 2026-01-01 reviewer \"Plan \\\"S\\\"\" }\n"
    "codeset h \"H\" { CPT 70551 }\n"
    "codeset d \"D\" { CPT 70552 }\n"
    "codeset n \"N\" { CPT 70553 }\n"
    "codeset v \"V\" { CPT 70554 }\n"
    "rule hours \"Hours\" { when code in h require prior_auth deadline 72 hours before service }\n"
    "rule days \"Days\" { when code in d require notification deadline 2 days after service }\n"
    "rule nodeadline \"None\" { when code in n require prior_auth }\n"
    "rule two \"Two\" { when code in v require prior_auth reviewer \"eviCore\", \"AIM\" deadline 1 business_day before service }\n";

static const char solo_bare_src[] =
    "use std.request\n"
    "policy bare { payer \"without\" title \"Bare\" version \"1\" effective 2026-01-01 }\n"
    "codeset h \"H\" { CPT 70551 }\n"
    "rule hours \"Hours\" { when code in h require prior_auth deadline 72 hours before service }\n";

/* The JSON value of a reviewer list: null, a string, or an array. */
static json_t *reviewers_json(const char *const *r, size_t n)
{
    if (n == 0) return json_null();
    if (n == 1) return json_string(r[0]);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_string(r[i]));
    return a;
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }
static json_t *timely_json(int t) { return t < 0 ? json_null() : json_boolean(t); }

/* Every deadline kind (datetime, date, none, business days) with every
 * timely (on time, late, unknown), with rule, policy and no reviewers: the
 * line is the decision pcr_engine_decision describes, key by key. */
Test(lines, one_rule_one_obligation_lines_say_what_the_decision_says)
{
    pcr_engine *e = th_engine("solo.pcr", solo_src);
    cr_assert_not_null(e);
    pcr_policy *bare = th_compile("bare.pcr", solo_bare_src);
    char err[256];
    cr_assert_eq(pcr_engine_add(e, bare, err, sizeof err), PCR_OK, "%s", err);
    static const char *const recs[] = {
        "\"payer\":\"with\",\"code\":\"70551\"", "\"payer\":\"with\",\"code\":\"70552\"",
        "\"payer\":\"with\",\"code\":\"70553\"", "\"payer\":\"with\",\"code\":\"70554\"",
        "\"payer\":\"without\",\"code\":\"70551\""};
    static const char *const asked[] = {"", ",\"requested_at\":\"2026-02-20T09:30\"",
                                        ",\"requested_at\":\"2026-03-01T23:59\"", ",\"requested_at\":\"2026-02-27\""};
    size_t checked = 0;
    for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++) {
        for (size_t a = 0; a < sizeof asked / sizeof asked[0]; a++) {
            for (int day = 2; day <= 9; day += 7) {
                char rec[512];
                snprintf(rec, sizeof rec, "{\"id\":\"s%zu-%zu\",%s,\"service_date\":\"2026-03-0%d\"%s}", i, a, recs[i], day,
                         asked[a]);
                size_t n;
                pcr_decision_kind k;
                const char *line = eval(e, rec, &n, &k);
                pcr_decision d;
                cr_assert_eq(pcr_engine_decision(e, &d), PCR_OK);
                cr_assert(k == PCR_DEC_PRIOR_AUTH || k == PCR_DEC_NOTIFICATION, "%s: %.*s", rec, (int)n, line);
                cr_assert_eq(d.nrules, 1);
                cr_assert_eq(d.nobligations, 1);
                json_error_t jerr;
                json_t *got = json_loadb(line, n, 0, &jerr);
                cr_assert_not_null(got, "%.*s: %s", (int)n, line, jerr.text);
                cr_assert(n > 0 && line[n - 1] == '\n' && memchr(line, '\n', n) == line + n - 1);
                json_t *want = json_object();
                json_object_set_new(want, "id", json_string(d.id));
                json_object_set_new(want, "decision", json_string(pcr_decision_name(d.kind)));
                json_object_set_new(want, "policy", json_string(d.policy));
                json_object_set_new(want, "reviewer", reviewers_json(d.reviewers, d.nreviewers));
                json_object_set_new(want, "deadline", str_or_null(d.deadline));
                json_object_set_new(want, "timely", timely_json(d.timely));
                json_object_set_new(want, "rules", json_pack("[s]", d.rules[0]));
                json_object_set(want, "reasons", json_object_get(got, "reasons"));
                const pcr_obligation *ob = &d.obligations[0];
                json_t *o = json_object();
                json_object_set_new(o, "outcome", json_string(pcr_outcome_name(ob->outcome)));
                json_object_set_new(o, "reviewer", reviewers_json(ob->reviewers, ob->nreviewers));
                json_object_set_new(o, "deadline", str_or_null(ob->deadline));
                json_object_set_new(o, "timely", timely_json(ob->timely));
                json_object_set_new(o, "rules", json_pack("[s]", ob->rules[0]));
                json_object_set(o, "citations", json_object_get(json_array_get(json_object_get(got, "obligations"), 0),
                                                                "citations"));
                json_object_set_new(want, "obligations", json_pack("[o]", o));
                json_object_set_new(want, "possible", json_array());
                json_object_set_new(want, "missing", json_array());
                cr_assert(json_equal(got, want), "%s:\n%.*s", rec, (int)n, line);
                /* and the keys in the documented order */
                static const char *const order[] = {"{\"id\":", ",\"decision\":", ",\"policy\":", ",\"reviewer\":",
                                                    ",\"deadline\":", ",\"timely\":", ",\"rules\":[", ",\"reasons\":[",
                                                    ",\"obligations\":[{\"outcome\":", ",\"reviewer\":", ",\"deadline\":",
                                                    ",\"timely\":", ",\"rules\":[", ",\"citations\":[",
                                                    "],\"possible\":[],\"missing\":[]}\n"};
                char copy[2048];
                snprintf(copy, sizeof copy, "%.*s", (int)n, line);
                const char *at = copy;
                for (size_t q = 0; q < sizeof order / sizeof order[0]; q++) {
                    const char *f = strstr(at, order[q]);
                    cr_assert_not_null(f, "%s: no %s after %s", copy, order[q], at);
                    at = f + strlen(order[q]);
                }
                json_decref(got);
                json_decref(want);
                checked++;
            }
        }
    }
    cr_assert_eq(checked, 40);
    pcr_engine_free(e);
}

/* A rule's fragments are rendered the first time a line names it: the
 * lines must not depend on which rules came first, nor on where in the
 * fragment text each rule's parts were written. Every record is
 * decided by three engines: one in the batch's order, one in the reverse
 * order, and the first again once it has named every rule; each line must
 * be the same in all three. */
static const char lazy_src[] =
    "use std.request\n"
    "policy lazy { payer \"lazy\" title \"Lazy\" version \"2\" effective 2026-01-01 reviewer \"Plan UM\"\n"
    "  source \"list.txt\" \"The list\" source \"memo.txt\" \"A memo\" }\n"
    "codeset a \"A\" { CPT 70551..70553 }\n"
    "codeset b \"B\" { CPT 70552 70554 }\n"
    "codeset c \"C\" { HCPCS E0100..E0199 }\n"
    "rule img \"Imaging\" { cite \"list.txt\" section \"Imaging, \\\"MRI\\\"\" cite \"memo.txt\"\n"
    "  when code in a require prior_auth reviewer \"eviCore\" deadline 3 business_days before service }\n"
    "rule adult \"Adults\" { cite \"list.txt\" section \"Adults\"\n"
    "  when code in a and member_age >= 18 require notification deadline 2 days after service }\n"
    "rule both \"Both\" { cite \"memo.txt\" when code in b unless emergent require prior_auth\n"
    "  reviewer \"AIM\", \"Carelon\" deadline 72 hours before service }\n"
    "rule dme \"DME\" { when code in c require not_covered }\n"
    "rule dme_adult \"DME adults\" { cite \"list.txt\" when code in c and member_age >= 65 require prior_auth }\n";

Test(lines, the_lines_do_not_depend_on_which_rules_were_named_first)
{
    static const char *const codes[] = {"\"70551\"", "\"70552\"", "\"70553\"", "\"70554\"",
                                        "\"E0100\",\"code_system\":\"HCPCS\"", "\"99213\""};
    static const char *const more[] = {"", ",\"member_age\":17", ",\"member_age\":40", ",\"member_age\":70",
                                       ",\"emergent\":true", ",\"emergent\":false,\"member_age\":30"};
    enum { N = (sizeof codes / sizeof codes[0]) * (sizeof more / sizeof more[0]) };
    char recs[N][256];
    size_t n = 0;
    for (size_t c = 0; c < sizeof codes / sizeof codes[0]; c++)
        for (size_t m = 0; m < sizeof more / sizeof more[0]; m++, n++)
            snprintf(recs[n], sizeof recs[n],
                     "{\"id\":\"r%zu\",\"payer\":\"lazy\",\"code\":%s,\"service_date\":\"2026-03-04\","
                     "\"requested_at\":\"2026-02-20T09:30\"%s}",
                     n, codes[c], more[m]);
    pcr_engine *fwd = th_engine("lazy.pcr", lazy_src), *rev = th_engine("lazy.pcr", lazy_src);
    cr_assert(fwd && rev);
    char *want[N];
    size_t decided = 0, several = 0, possible = 0;
    for (size_t i = 0; i < N; i++) {
        size_t len;
        pcr_decision_kind k;
        const char *line = eval(fwd, recs[i], &len, &k);
        want[i] = strndup(line, len);
        pcr_decision d;
        cr_assert_eq(pcr_engine_decision(fwd, &d), PCR_OK);
        decided += d.nrules > 0;
        several += d.nobligations > 1;
        possible += d.npossible > 0;
    }
    /* most records are decided, some with several obligations, some left open */
    cr_assert(decided > N / 2 && several > 0 && possible > 0, "%zu decided, %zu with several, %zu open", decided,
              several, possible);
    for (size_t i = N; i-- > 0;) {
        size_t len;
        pcr_decision_kind k;
        const char *line = eval(rev, recs[i], &len, &k);
        cr_assert(len == strlen(want[i]) && memcmp(line, want[i], len) == 0, "reversed:\n%.*s\nwant\n%s", (int)len,
                  line, want[i]);
    }
    for (size_t i = 0; i < N; i++) {
        size_t len;
        pcr_decision_kind k;
        const char *line = eval(fwd, recs[i], &len, &k);
        cr_assert(len == strlen(want[i]) && memcmp(line, want[i], len) == 0, "again:\n%.*s\nwant\n%s", (int)len,
                  line, want[i]);
        free(want[i]);
    }
    pcr_engine_free(fwd);
    pcr_engine_free(rev);
}
