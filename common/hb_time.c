/* hb_time: the clocks, the one ISO-8601 parser (TIME arguments and event
 * timestamps) and the TIME arguments of the command line (replay
 * --from/--to): ISO-8601, epoch milliseconds or relative to now. */
#include "hb_time.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MS_PER_S   1000LL
#define MS_PER_MIN (60 * MS_PER_S)
#define MS_PER_H   (60 * MS_PER_MIN)
#define MS_PER_DAY (24 * MS_PER_H)
/* 9999-12-31T23:59:59.999Z: the last instant ISO-8601 years can write. */
#define MAX_MS 253402300799999LL

static int is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* Read exactly \p n digits at \p *p (before \p e) into \p out; advances
 * \p *p. @returns 0, or -1 when fewer digits are there. */
static int digits(const char **p, const char *e, int n, int *out)
{
        int v = 0;

        if (e - *p < n)
                return -1;
        for (int i = 0; i < n; i++) {
                if (!is_digit((*p)[i]))
                        return -1;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *out = v;
        return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil; no time zone database, no timegm()). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
        int64_t era, yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = y - era * 400;
        doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil(). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
        int64_t era, doe, yoe, doy, mp;

        z += 719468;
        era = (z >= 0 ? z : z - 146096) / 146097;
        doe = z - era * 146097;
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        *d = (int)(doy - (153 * mp + 2) / 5 + 1);
        *m = (int)(mp < 10 ? mp + 3 : mp - 9);
        *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int y, int m)
{
        static const int dim[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

        return m == 2 && leap ? 29 : dim[m - 1];
}

static int fail(char *errstr, size_t errstr_size, const char *s,
                const char *why)
{
        snprintf(errstr, errstr_size, "TIME '%s': %s", s, why);
        return -1;
}

/* -2h, -30m, -7d, -45s, or a sum (-1h30m). */
static int parse_relative(const char *s, int64_t now_ms, int64_t *out_ms,
                          char *errstr, size_t errstr_size)
{
        const char *p = s + 1;
        int64_t back = 0;

        if (!*p)
                return fail(errstr, errstr_size, s,
                            "a relative time needs a number and a unit "
                            "(-45s, -30m, -2h, -7d)");
        while (*p) {
                int64_t n = 0, unit;
                if (!is_digit(*p))
                        return fail(errstr, errstr_size, s,
                                    "expected a number (relative times are "
                                    "like -45s, -30m, -2h, -7d)");
                while (is_digit(*p)) {
                        if (n > (MAX_MS - (*p - '0')) / 10)
                                return fail(errstr, errstr_size, s,
                                            "number too large");
                        n = n * 10 + (*p++ - '0');
                }
                switch (*p) {
                case 's':
                        unit = MS_PER_S;
                        break;
                case 'm':
                        unit = MS_PER_MIN;
                        break;
                case 'h':
                        unit = MS_PER_H;
                        break;
                case 'd':
                        unit = MS_PER_DAY;
                        break;
                case '\0':
                        return fail(errstr, errstr_size, s,
                                    "missing unit: s, m, h or d");
                default:
                        return fail(errstr, errstr_size, s,
                                    "unknown unit: use s, m, h or d");
                }
                p++;
                if (n > (MAX_MS - back) / unit)
                        return fail(errstr, errstr_size, s,
                                    "goes back before 1970");
                back += n * unit;
        }
        if (back > now_ms)
                return fail(errstr, errstr_size, s, "goes back before 1970");
        *out_ms = now_ms - back;
        return 0;
}

/* All digits: epoch milliseconds. */
static int parse_epoch_ms(const char *s, int64_t *out_ms, char *errstr,
                          size_t errstr_size)
{
        int64_t v = 0;

        for (const char *p = s; *p; p++) {
                if (v > (MAX_MS - (*p - '0')) / 10)
                        return fail(errstr, errstr_size, s,
                                    "epoch milliseconds past year 9999");
                v = v * 10 + (*p - '0');
        }
        *out_ms = v;
        return 0;
}

/* Time zone designator in [*pp, e): Z, +HH:MM, +HHMM, +HH (or -). Offset
 * in ms east of UTC into \p off_ms. */
static int parse_zone(const char **pp, const char *e, int64_t *off_ms)
{
        const char *p = *pp;
        int sign, hh, mm = 0;

        if (p < e && (*p == 'Z' || *p == 'z')) {
                *off_ms = 0;
                *pp = p + 1;
                return 0;
        }
        if (p == e || (*p != '+' && *p != '-'))
                return -1;
        sign = *p++ == '-' ? -1 : 1;
        if (digits(&p, e, 2, &hh) == -1)
                return -1;
        if (p < e && *p == ':') {
                p++;
                if (digits(&p, e, 2, &mm) == -1)
                        return -1;
        } else if (p < e && is_digit(*p) && digits(&p, e, 2, &mm) == -1) {
                return -1;
        }
        if (hh > 23 || mm > 59)
                return -1;
        *off_ms = sign * (hh * MS_PER_H + mm * MS_PER_MIN);
        *pp = p;
        return 0;
}

static int iso_fail(char *errstr, size_t errstr_size, const char *why)
{
        if (errstr && errstr_size > 0)
                snprintf(errstr, errstr_size, "%s", why);
        return -1;
}

int hb_time_iso_parse(const char *s, size_t n, int64_t *out_ms, char *errstr,
                      size_t errstr_size)
{
        const char *p = s, *e = s + n;
        int y, mo, d, hh = 0, mi = 0, ss = 0, ms = 0;
        int64_t off = 0;

        if (digits(&p, e, 4, &y) == -1 || p == e || *p++ != '-' ||
            digits(&p, e, 2, &mo) == -1 || p == e || *p++ != '-' ||
            digits(&p, e, 2, &d) == -1)
                return iso_fail(errstr, errstr_size,
                                "not a time: use ISO-8601 "
                                "(2024-03-01T12:00:00Z, 2024-03-01)");
        if (mo < 1 || mo > 12)
                return iso_fail(errstr, errstr_size, "month out of range");
        if (d < 1 || d > days_in_month(y, mo))
                return iso_fail(errstr, errstr_size, "day out of range");
        if (p < e) {
                if (*p != 'T' && *p != 't' && *p != ' ')
                        return iso_fail(errstr, errstr_size,
                                        "expected 'T' between date and time");
                p++;
                if (digits(&p, e, 2, &hh) == -1 || p == e || *p++ != ':' ||
                    digits(&p, e, 2, &mi) == -1)
                        return iso_fail(errstr, errstr_size,
                                        "expected a time as HH:MM[:SS]");
                if (p < e && *p == ':') {
                        p++;
                        if (digits(&p, e, 2, &ss) == -1)
                                return iso_fail(errstr, errstr_size,
                                                "expected seconds as SS");
                        if (p < e && (*p == '.' || *p == ',')) {
                                int scale = 100;
                                p++;
                                if (p == e || !is_digit(*p))
                                        return iso_fail(errstr, errstr_size,
                                                        "expected digits "
                                                        "after the decimal "
                                                        "point");
                                for (; p < e && is_digit(*p); p++, scale /= 10)
                                        ms += (*p - '0') * scale;
                        }
                }
                /* :60 is a leap second (RFC 3339); POSIX time has none,
                 * so it is the first second of the next minute. */
                if (hh > 23 || mi > 59 || ss > 60)
                        return iso_fail(errstr, errstr_size,
                                        "time of day out of range");
                if (p == e)
                        return iso_fail(errstr, errstr_size,
                                        "no time zone: add Z for UTC or an "
                                        "offset such as +02:00");
                if (parse_zone(&p, e, &off) == -1)
                        return iso_fail(errstr, errstr_size,
                                        "bad time zone: use Z, +HH:MM or "
                                        "-HH:MM");
                if (p < e)
                        return iso_fail(errstr, errstr_size,
                                        "unexpected characters after the "
                                        "time");
        }
        *out_ms = days_from_civil(y, mo, d) * MS_PER_DAY + hh * MS_PER_H +
                  mi * MS_PER_MIN + ss * MS_PER_S + ms - off;
        return 0;
}

/* An ISO-8601 TIME: hb_time_iso_parse(), then 1970 or later. */
static int parse_iso(const char *s, int64_t *out_ms, char *errstr,
                     size_t errstr_size)
{
        char why[128];
        int64_t t;

        if (hb_time_iso_parse(s, strlen(s), &t, why, sizeof(why)) == -1)
                return fail(errstr, errstr_size, s,
                            strncmp(why, "not a time", 10)
                                    ? why
                                    : "not a time: use ISO-8601 "
                                      "(2024-03-01T12:00:00Z, 2024-03-01), "
                                      "epoch milliseconds or -2h/-30m/-7d");
        if (t < 0)
                return fail(errstr, errstr_size, s, "before 1970");
        *out_ms = t;
        return 0;
}

int hb_time_parse(const char *s, int64_t now_ms, int64_t *out_ms, char *errstr,
                  size_t errstr_size)
{
        size_t len;
        int all_digits = 1;

        if (!s || !*s)
                return fail(errstr, errstr_size, s ? s : "",
                            "empty (use ISO-8601, epoch milliseconds or "
                            "-2h/-30m/-7d)");
        if (!strcmp(s, "now")) {
                *out_ms = now_ms;
                return 0;
        }
        if (s[0] == '-')
                return parse_relative(s, now_ms, out_ms, errstr, errstr_size);
        if (s[0] == '+')
                return fail(errstr, errstr_size, s,
                            "relative times count back from now: "
                            "write -2h, not +2h");
        len = strlen(s);
        for (size_t i = 0; i < len; i++)
                all_digits &= is_digit(s[i]);
        if (all_digits)
                return parse_epoch_ms(s, out_ms, errstr, errstr_size);
        return parse_iso(s, out_ms, errstr, errstr_size);
}

char *hb_time_format(int64_t ms, char *out, size_t out_size)
{
        int64_t days = ms / MS_PER_DAY, rem = ms % MS_PER_DAY, y;
        int m, d;

        if (rem < 0) {
                rem += MS_PER_DAY;
                days--;
        }
        civil_from_days(days, &y, &m, &d);
        if (rem % MS_PER_S)
                snprintf(out, out_size, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
                         (long long)y, m, d, (int)(rem / MS_PER_H),
                         (int)(rem / MS_PER_MIN % 60),
                         (int)(rem / MS_PER_S % 60), (int)(rem % MS_PER_S));
        else
                snprintf(out, out_size, "%04lld-%02d-%02dT%02d:%02d:%02dZ",
                         (long long)y, m, d, (int)(rem / MS_PER_H),
                         (int)(rem / MS_PER_MIN % 60),
                         (int)(rem / MS_PER_S % 60));
        return out;
}

static int64_t clock_ms(clockid_t clock)
{
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t hb_time_now_ms(void)
{
        return clock_ms(CLOCK_REALTIME);
}

int64_t hb_time_mono_ms(void)
{
        return clock_ms(CLOCK_MONOTONIC);
}
