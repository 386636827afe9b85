/* dates.h: civil dates, datetimes and business days.
 *
 * A date is the number of days since 1970-01-01 (proleptic Gregorian), a
 * datetime the number of seconds since 1970-01-01T00:00 (no time zones: the
 * request's local time). Parsing is strict: exactly YYYY-MM-DD, years
 * 1900-2999, real month lengths. */
#ifndef PCR_DATES_H
#define PCR_DATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    DATE_MIN_YEAR = 1900,
    DATE_MAX_YEAR = 2999,
    SECONDS_PER_DAY = 86400,
};

/* Days since 1970-01-01 for a valid y/m/d (no validation). */
int32_t date_from_ymd(int y, int m, int d);
void date_to_ymd(int32_t days, int *y, int *m, int *d);
/* 0 = Monday ... 6 = Sunday. */
int date_weekday(int32_t days);

/* Parses exactly "YYYY-MM-DD" (n bytes, no NUL needed). Returns false on any
 * deviation, including impossible days such as 2026-02-30. No loop: the
 * shape is checked as one 8-byte word and two digits. */
bool date_parse(const char *s, size_t n, int32_t *out);
/* Parses "YYYY-MM-DDTHH:MM", "YYYY-MM-DDTHH:MM:SS" or a bare date (midnight).
 * Sets *had_time to whether a time part was present (may be NULL). */
bool datetime_parse(const char *s, size_t n, int64_t *out, bool *had_time);

/* Writes "YYYY-MM-DD" plus NUL into buf (at least 11 bytes). */
void date_format(int32_t days, char *buf);
/* Writes "YYYY-MM-DDTHH:MM" plus NUL into buf (at least 17 bytes). */
void datetime_format(int64_t secs, char *buf);

/* A set of holidays: sorted, distinct day numbers. days is not owned.
 * weekday_before, when built (date_holidays_index), is owned: entry i
 * counts the holidays among days[0..i) that fall on a weekday (n + 1
 * entries), so the business days before a date are whole weeks' arithmetic
 * and one binary search. */
typedef struct Holidays {
    const int32_t *days;
    uint32_t n;
    uint32_t *weekday_before; /* NULL: not built (business days then step day by day) */
    /* Built with weekday_before when the calendar spans at most
     * DATE_BY_DAY_MAX days (owned; NULL otherwise): by_day[k] is H(d) for
     * d = by_day_first + k, k in 0..by_day_len, so H is one load there
     * rather than a binary search. */
    uint32_t *by_day;
    int32_t by_day_first;
    uint32_t by_day_len;
} Holidays;

enum { DATE_BY_DAY_MAX = 1 << 18 }; /* days: 1 MiB of table at most */

/* Builds h->weekday_before (O(n)) and h->by_day (O(the days spanned)),
 * which h owns; free them with date_holidays_free_index. */
void date_holidays_index(Holidays *h);
void date_holidays_free_index(Holidays *h);

bool date_is_business_day(int32_t day, const Holidays *h);
/* Moves n business days from day: n > 0 forward, n < 0 backward, skipping
 * weekends and holidays. n == 0 returns day unchanged. With an indexed
 * calendar (or none) it is computed, not stepped: O(log h->n) per holiday
 * crossed, at most O(log(|n| + h->n) * log h->n), whatever |n|. */
int32_t date_add_business_days(int32_t day, int32_t n, const Holidays *h);

#endif
