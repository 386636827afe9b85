/* dates.c: civil-date arithmetic (Howard Hinnant's days_from_civil) and
 * strict ISO-8601 subset parsing. */
#include "dates.h"

#include <stdlib.h>

#include "arena.h"


int32_t date_from_ymd(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void date_to_ymd(int32_t days, int *y, int *m, int *d)
{
    int z = days + 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

int date_weekday(int32_t days)
{
    /* 1970-01-01 was a Thursday (3 when Monday is 0). */
    int w = (int)((days % 7 + 7) % 7);
    return (w + 3) % 7;
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static int month_days(int y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : len[m - 1];
}

bool date_parse(const char *s, size_t n, int32_t *out)
{
    int y, m, d;
    if (n != 10 || s[4] != '-' || s[7] != '-') return false;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d)) return false;
    if (y < DATE_MIN_YEAR || y > DATE_MAX_YEAR || m < 1 || m > 12) return false;
    if (d < 1 || d > month_days(y, m)) return false;
    *out = date_from_ymd(y, m, d);
    return true;
}

bool datetime_parse(const char *s, size_t n, int64_t *out, bool *had_time)
{
    int32_t day;
    int hh, mm, ss = 0;
    if (n == 10) {
        if (!date_parse(s, n, &day)) return false;
        *out = (int64_t)day * SECONDS_PER_DAY;
        if (had_time) *had_time = false;
        return true;
    }
    if (n != 16 && n != 19) return false;
    if (!date_parse(s, 10, &day) || s[10] != 'T' || s[13] != ':') return false;
    if (!digits(s + 11, 2, &hh) || !digits(s + 14, 2, &mm)) return false;
    if (n == 19 && (s[16] != ':' || !digits(s + 17, 2, &ss))) return false;
    if (hh > 23 || mm > 59 || ss > 59) return false;
    *out = (int64_t)day * SECONDS_PER_DAY + hh * 3600 + mm * 60 + ss;
    if (had_time) *had_time = true;
    return true;
}

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
}

void date_holidays_free_index(Holidays *h)
{
    free(h->weekday_before);
    h->weekday_before = NULL;
}

/* Weekdays in the day numbers [m0, d) for a fixed origin: with m = d + 3
 * (1970-01-01, day 0, was a Thursday) every m divisible by 7 is a Monday,
 * so a week contributes 5 and a partial week min(m mod 7, 5). */
static int64_t weekdays_before(int32_t d)
{
    int64_t m = (int64_t)d + 3;
    int64_t q = m >= 0 ? m / 7 : -((-m + 6) / 7);
    int64_t r = m - q * 7;
    return q * 5 + (r < 5 ? r : 5);
}

/* Index of the first holiday >= day. */
static uint32_t holidays_before(const Holidays *h, int32_t day)
{
    uint32_t lo = 0, hi = h->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (h->days[mid] < day) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Business days in the day numbers [a, b) (0 when b <= a). */
static int64_t business_between(const Holidays *h, int32_t a, int32_t b)
{
    if (b <= a) return 0;
    int64_t n = weekdays_before(b) - weekdays_before(a);
    if (h && h->n) n -= (int64_t)h->weekday_before[holidays_before(h, b)] -
                       (int64_t)h->weekday_before[holidays_before(h, a)];
    return n;
}

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
    /* Every 7 days hold 5 weekdays, and at most h->n of those are holidays:
     * the answer lies within `span` days. Binary search on the count. */
    int64_t k = n > 0 ? n : -(int64_t)n;
    int64_t span = (k + (h ? h->n : 0)) * 7 / 5 + 7;
    if (n > 0) {
        /* The smallest d > day with business_between(day + 1, d + 1) == k. */
        int64_t lo = (int64_t)day + 1, hi = (int64_t)day + span;
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (business_between(h, day + 1, (int32_t)mid + 1) >= k) hi = mid;
            else lo = mid + 1;
        }
        return (int32_t)lo;
    }
    /* The largest d < day with business_between(d, day) == k. */
    int64_t lo = (int64_t)day - span, hi = (int64_t)day - 1;
    while (lo < hi) {
        int64_t mid = hi - (hi - lo) / 2;
        if (business_between(h, (int32_t)mid, day) >= k) lo = mid;
        else hi = mid - 1;
    }
    return (int32_t)lo;
}
