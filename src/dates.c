/* dates.c: civil-date arithmetic (Howard Hinnant's days_from_civil) and
 * strict ISO-8601 subset parsing. */
#include "dates.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "bytes.h"


/* date_from_ymd for years >= 1 in unsigned arithmetic: no branch on the
 * era's sign, divisions by constants only (the parsers' path). */
static inline int32_t days_from_ymd_pos(unsigned y, unsigned m, unsigned d)
{
    y -= m <= 2;
    unsigned era = y / 400, yoe = y - era * 400;
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe) - 719468;
}

int32_t date_from_ymd(int y, int m, int d)
{
    if (y >= 1) return days_from_ymd_pos((unsigned)y, (unsigned)m, (unsigned)d);
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* date_to_ymd for days >= -719468 (0000-03-01): Neri and Schneider's
 * "Euclidean affine functions" (2021), in unsigned 32-bit arithmetic with
 * multiplications and shifts only, over the year that starts in March. */
static inline void ymd_from_days_pos(uint32_t days, int *y, int *m, int *d)
{
    uint32_t n1 = 4 * (days + 719468) + 3;
    uint32_t century = n1 / 146097, in_century = n1 % 146097 / 4;
    uint64_t p2 = (uint64_t)2939745 * (4 * in_century + 3);
    uint32_t year = 100 * century + (uint32_t)(p2 >> 32);
    uint32_t day_of_year = (uint32_t)p2 / 2939745 / 4; /* from March 1 */
    uint32_t n3 = 2141 * day_of_year + 197913;
    uint32_t month = n3 >> 16, day = (n3 & 0xffff) / 2141;
    bool jan_feb = day_of_year >= 306;
    *y = (int)(year + jan_feb);
    *m = (int)(jan_feb ? month - 12 : month);
    *d = (int)day + 1;
}

void date_to_ymd(int32_t days, int *y, int *m, int *d)
{
    /* The fast path's 4 * (days + 719468) + 3 stays below 2^32 up to the
     * year 2,940,000 or so; 2^29 days is far inside that. */
    if (days >= -719468 && days < (1 << 29)) {
        ymd_from_days_pos((uint32_t)days, y, m, d);
        return;
    }
    /* Hinnant's civil_from_days, in 64 bits: days + 719468 may pass INT32_MAX. */
    int64_t z = (int64_t)days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

int date_weekday(int32_t days)
{
    /* 1970-01-01 was a Thursday (3 when Monday is 0). */
    int w = (int)((days % 7 + 7) % 7);
    return (w + 3) % 7;
}

static bool is_leap(unsigned y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* The digit at s[i] (0-9), or a value above 9 for any other byte. */
#define DIGIT(s, i) ((unsigned)(unsigned char)(s)[i] - '0')

/* Whether the bytes of x selected by mask (whole bytes) are all digits: a
 * byte is a digit iff its high nibble is 3 and stays 3 when 6 is added
 * (0x30-0x39). No carry crosses a byte that passes the first test. */
static inline bool all_digits(uint64_t x, uint64_t mask)
{
    const uint64_t hi = 0xF0F0F0F0F0F0F0F0u & mask, three = 0x3030303030303030u & mask;
    return (x & hi) == three && ((x + 0x0606060606060606u) & hi) == three;
}

/* Byte i of the result is 10 x (byte i of v) + (byte i + 1 of v): for v
 * holding one value 0-15 per byte, each two-digit number read at once
 * (at most 165, no carry between bytes). */
static inline uint64_t digit_pairs(uint64_t v) { return v * 10 + (v >> 8); }

/* Checks "YYYY-MM-" in x (the first 8 bytes, little-endian): digits at 0-3
 * and 5-6, '-' at 4 and 7; gives the year and the month. */
static inline bool year_month(uint64_t x, unsigned *y, unsigned *m)
{
    const uint64_t digit_bytes = 0x00FFFF00FFFFFFFFu, dashes = 0x2D00002D00000000u;
    if ((x & ~digit_bytes) != dashes || !all_digits(x, digit_bytes)) return false;
    uint64_t p = digit_pairs(x & 0x0F0F0F0F0F0F0F0Fu); /* a digit's low nibble is its value */
    *y = (unsigned)(p & 0xFF) * 100 + (unsigned)(p >> 16 & 0xFF);
    *m = (unsigned)(p >> 40 & 0xFF);
    return true;
}

/* The day number of y-m-d after checking it: years 1900-2999, real month
 * lengths. */
static inline bool ymd_day(unsigned y, unsigned m, unsigned d, int32_t *out)
{
    static const unsigned char len[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < DATE_MIN_YEAR || y > DATE_MAX_YEAR || m - 1 > 11 || d - 1 > 30) return false;
    if (d > len[m] && !(m == 2 && d == 29 && is_leap(y))) return false;
    *out = days_from_ymd_pos(y, m, d);
    return true;
}

/* Two digits at s[i], or -1. */
static inline int two_digits(const char *s, int i)
{
    unsigned a = DIGIT(s, i), b = DIGIT(s, i + 1);
    return a > 9 || b > 9 ? -1 : (int)(a * 10 + b);
}

/* Parses "YYYY-MM-DD" at s (10 bytes readable): one fixed shape, every
 * check of date_parse, no loop. */
static inline bool parse_ymd(const char *s, int32_t *out)
{
    unsigned y, m;
    int d = two_digits(s, 8);
    return year_month(bytes_le64(s), &y, &m) && d >= 0 && ymd_day(y, m, (unsigned)d, out);
}

bool date_parse(const char *s, size_t n, int32_t *out)
{
    return n == 10 && parse_ymd(s, out);
}

bool datetime_parse(const char *s, size_t n, int64_t *out, bool *had_time)
{
    int32_t day;
    if (n == 10) {
        if (!parse_ymd(s, &day)) return false;
        *out = (int64_t)day * SECONDS_PER_DAY;
        if (had_time) *had_time = false;
        return true;
    }
    if (n != 16 && n != 19) return false;
    /* Bytes 8-15, "DDTHH:MM", as one word: digits at 0-1, 3-4 and 6-7,
     * 'T' at 2, ':' at 5. */
    const uint64_t digit_bytes = 0xFFFF00FFFF00FFFFu, marks = 0x00003A0000540000u;
    uint64_t t = bytes_le64(s + 8);
    unsigned y, m;
    if (!year_month(bytes_le64(s), &y, &m) || (t & ~digit_bytes) != marks || !all_digits(t, digit_bytes))
        return false;
    uint64_t p = digit_pairs(t & 0x0F0F0F0F0F0F0F0Fu);
    unsigned hh = (unsigned)(p >> 24 & 0xFF), mm = (unsigned)(p >> 48 & 0xFF);
    int ss = 0;
    if (n == 19) {
        if (s[16] != ':') return false;
        ss = two_digits(s, 17);
    }
    if (!ymd_day(y, m, (unsigned)(p & 0xFF), &day) || ss < 0 || hh > 23 || mm > 59 || ss > 59) return false;
    *out = (int64_t)day * SECONDS_PER_DAY + hh * 3600 + mm * 60 + ss;
    if (had_time) *had_time = true;
    return true;
}

#undef DIGIT

/* Writes v as exactly `width` decimal digits (v is reduced modulo 10^width). */
static void put_digits(char *buf, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        buf[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void date_format(int32_t days, char *buf)
{
    int y, m, d;
    date_to_ymd(days, &y, &m, &d);
    put_digits(buf, (unsigned)(y < 0 ? 0 : y), 4);
    buf[4] = '-';
    put_digits(buf + 5, (unsigned)m, 2);
    buf[7] = '-';
    put_digits(buf + 8, (unsigned)d, 2);
    buf[10] = '\0';
}

void datetime_format(int64_t secs, char *buf)
{
    int64_t day = secs >= 0 ? secs / SECONDS_PER_DAY : -((-secs + SECONDS_PER_DAY - 1) / SECONDS_PER_DAY);
    int64_t rem = secs - day * SECONDS_PER_DAY;
    date_format((int32_t)day, buf);
    buf[10] = 'T';
    put_digits(buf + 11, (unsigned)(rem / 3600), 2);
    buf[13] = ':';
    put_digits(buf + 14, (unsigned)(rem % 3600 / 60), 2);
    buf[16] = '\0';
}

static bool is_holiday(int32_t day, const Holidays *h)
{
    if (!h) return false;
    uint32_t lo = 0, hi = h->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (h->days[mid] < day) lo = mid + 1;
        else hi = mid;
    }
    return lo < h->n && h->days[lo] == day;
}

bool date_is_business_day(int32_t day, const Holidays *h)
{
    return date_weekday(day) < 5 && !is_holiday(day, h);
}

void date_holidays_index(Holidays *h)
{
    free(h->weekday_before);
    h->weekday_before = xmalloc(((size_t)h->n + 1) * sizeof *h->weekday_before);
    h->weekday_before[0] = 0;
    for (uint32_t i = 0; i < h->n; i++)
        h->weekday_before[i + 1] = h->weekday_before[i] + (date_weekday(h->days[i]) < 5);
    free(h->by_day);
    h->by_day = NULL;
    h->by_day_len = 0;
    if (h->n == 0 || (int64_t)h->days[h->n - 1] - h->days[0] >= DATE_BY_DAY_MAX) return;
    /* H(d) for d from the first holiday to the day after the last. */
    h->by_day_first = h->days[0];
    h->by_day_len = (uint32_t)(h->days[h->n - 1] - h->days[0]) + 1;
    h->by_day = xmalloc(((size_t)h->by_day_len + 1) * sizeof *h->by_day);
    uint32_t i = 0;
    for (uint32_t k = 0; k <= h->by_day_len; k++) {
        while (i < h->n && h->days[i] < h->by_day_first + (int32_t)k) i++;
        h->by_day[k] = h->weekday_before[i];
    }
}

void date_holidays_free_index(Holidays *h)
{
    free(h->weekday_before);
    h->weekday_before = NULL;
    free(h->by_day);
    h->by_day = NULL;
    h->by_day_len = 0;
}

/* Weekdays among the day numbers before d, counted from a fixed origin:
 * with m = d + 3 (1970-01-01, day 0, was a Thursday) every m divisible by
 * 7 is a Monday, so a whole week contributes 5 and a partial week
 * min(m mod 7, 5). W(d) for short; W(b) - W(a) counts the weekdays in
 * [a, b). */
static int64_t weekdays_before(int64_t d)
{
    int64_t m = d + 3;
    int64_t q = m >= 0 ? m / 7 : -((-m + 6) / 7);
    int64_t r = m - q * 7;
    return q * 5 + (r < 5 ? r : 5);
}

/* The smallest d with W(d) >= x: in each week W climbs by one on Tuesday
 * to Saturday's m (r = 1..5) and stays flat over Saturday to Monday, so
 * x = 5q + r (0 <= r < 5) is first reached at m = 7q + r when r > 0 and
 * at the flat stretch's start, m = 7q - 2, when r = 0. */
static int64_t first_day_with_weekdays(int64_t x)
{
    int64_t q = x >= 0 ? x / 5 : -((-x + 4) / 5);
    int64_t r = x - q * 5;
    return (r ? 7 * q + r : 7 * q - 2) - 3;
}

/* The largest d with W(d) <= x: m = 7q + r for x = 5q + r (0 <= r < 5),
 * the step after it reaching x + 1. */
static int64_t last_day_with_weekdays(int64_t x)
{
    int64_t q = x >= 0 ? x / 5 : -((-x + 4) / 5);
    int64_t r = x - q * 5;
    return 7 * q + r - 3;
}

/* Index of the first holiday >= day. */
static uint32_t holidays_before(const Holidays *h, int64_t day)
{
    uint32_t lo = 0, hi = h->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (h->days[mid] < day) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* H(d): the holidays before day d that fall on a weekday (0 without an
 * indexed calendar). Business days in [a, b) are W(b) - W(a) - (H(b) - H(a)). */
static int64_t weekday_holidays_before(const Holidays *h, int64_t d)
{
    if (!h || !h->n) return 0;
    if (h->by_day) {
        /* d - by_day_first in 0..by_day_len: one load; before it none,
         * after it all. */
        int64_t k = d - h->by_day_first;
        if (k <= 0) return 0;
        return k <= (int64_t)h->by_day_len ? h->by_day[k] : h->weekday_before[h->n];
    }
    return h->weekday_before[holidays_before(h, d)];
}

/* Business days in the day numbers [a, b) (0 when b <= a). */
static int64_t business_between(const Holidays *h, int64_t a, int64_t b)
{
    if (b <= a) return 0;
    return weekdays_before(b) - weekdays_before(a) - (weekday_holidays_before(h, b) - weekday_holidays_before(h, a));
}

enum { BUSINESS_GUESSES = 4 }; /* rounds of guessing before the binary search */

int32_t date_add_business_days(int32_t day, int32_t n, const Holidays *h)
{
    if (n == 0) return day;
    if (h && h->n && !h->weekday_before) {
        /* No index: step day by day (used only before an engine exists). */
        int step = n > 0 ? 1 : -1;
        int32_t left = n > 0 ? n : -n;
        while (left > 0) {
            day += step;
            if (date_is_business_day(day, h)) left--;
        }
        return day;
    }
    /* With B(d) = W(d) - H(d), the business days before d: moving forward
     * the answer is the smallest d with B(d + 1) >= B(day + 1) + n, moving
     * back the largest d with B(d) <= B(day) - |n|. Guess it with the
     * holidays counted so far (hc) as if no other came: every day the guess
     * passes over falls short, and each holiday the guess crosses moves it
     * on. One round when no holiday is crossed (nearly always), a few when
     * some are; after BUSINESS_GUESSES rounds (a calendar dense with
     * holidays) a binary search from the last guess finishes: every 7 days
     * hold 5 weekdays and at most h->n holidays, so the answer lies within
     * span days, and the cost stays O(log(|n| + h->n) x log h->n). */
    int64_t k = n > 0 ? n : -(int64_t)n;
    int64_t span = (k + (h ? h->n : 0)) * 7 / 5 + 7;
    if (n > 0) {
        int64_t hc = weekday_holidays_before(h, (int64_t)day + 1);
        int64_t target = weekdays_before((int64_t)day + 1) - hc + n;
        int64_t d = day + 1;
        for (int round = 0; round < BUSINESS_GUESSES; round++) {
            d = first_day_with_weekdays(target + hc) - 1;
            int64_t hd = weekday_holidays_before(h, d + 1);
            if (hd == hc) return (int32_t)d;
            hc = hd;
        }
        /* The smallest d' >= d with business_between(day + 1, d' + 1) >= k. */
        int64_t lo = d, hi = (int64_t)day + span;
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (business_between(h, (int64_t)day + 1, mid + 1) >= k) hi = mid;
            else lo = mid + 1;
        }
        return (int32_t)lo;
    }
    int64_t hc = weekday_holidays_before(h, day);
    int64_t target = weekdays_before(day) - hc + n; /* n < 0 */
    int64_t d = (int64_t)day - 1;
    for (int round = 0; round < BUSINESS_GUESSES; round++) {
        d = last_day_with_weekdays(target + hc);
        int64_t hd = weekday_holidays_before(h, d);
        if (hd == hc) return (int32_t)d;
        hc = hd;
    }
    /* The largest d' <= d with business_between(d', day) >= k. */
    int64_t lo = (int64_t)day - span, hi = d;
    while (lo < hi) {
        int64_t mid = hi - (hi - lo) / 2;
        if (business_between(h, mid, day) >= k) lo = mid;
        else hi = mid - 1;
    }
    return (int32_t)lo;
}
