/* wh_retry: what an HTTP outcome means, and how long to wait (SPEC §4). */
#include "wh_retry.h"

#include <string.h>

/*
 * Longest Retry-After honoured, in seconds. The caller caps every delay
 * at its retry.max_ms anyway; this only keeps the arithmetic far from
 * overflow whatever a server sends.
 */
#define WH_RETRY_AFTER_MAX_S (7 * 86400)

wh_class_t wh_retry_classify(long status)
{
        if (status >= 200 && status <= 299)
                return WH_CLASS_OK;
        if (status == 0 || status == 408 || status == 425 || status == 429 ||
            (status >= 500 && status <= 599))
                return WH_CLASS_RETRY;
        return WH_CLASS_PERMANENT;
}

int64_t wh_retry_backoff_ms(int attempt, int initial_ms, int max_ms,
                            uint32_t rnd)
{
        int64_t base, half;

        if (max_ms <= 0)
                return 0;
        if (initial_ms < 1)
                initial_ms = 1;
        if (attempt < 1)
                attempt = 1;
        /* initial_ms < 2^31, so a shift of at most 31 stays below 2^62 */
        if (attempt - 1 >= 31)
                base = max_ms;
        else
                base = (int64_t)initial_ms << (attempt - 1);
        if (base > max_ms)
                base = max_ms;
        /* equal jitter: [base/2, base/2 + base/2], never above base */
        half = base / 2;
        return half + (int64_t)(rnd % (uint64_t)(half + 1));
}

/* --- Retry-After ------------------------------------------------------ */

static const char *const day_short[7] = {"Sun", "Mon", "Tue", "Wed",
                                         "Thu", "Fri", "Sat"};
static const char *const day_long[7] = {"Sunday",    "Monday",   "Tuesday",
                                        "Wednesday", "Thursday", "Friday",
                                        "Saturday"};
static const char *const month_name[12] = {"Jan", "Feb", "Mar", "Apr",
                                           "May", "Jun", "Jul", "Aug",
                                           "Sep", "Oct", "Nov", "Dec"};

/* A cursor over the value being parsed; every helper advances it only on
 * success. */
struct cur {
        const char *p;
        const char *end;
};

static int lit(struct cur *c, const char *s)
{
        size_t n = strlen(s);

        if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
                return -1;
        c->p += n;
        return 0;
}

/* Exactly \p n digits. */
static int digits(struct cur *c, int n, int *out)
{
        int v = 0;

        if (c->end - c->p < n)
                return -1;
        for (int i = 0; i < n; i++) {
                if (c->p[i] < '0' || c->p[i] > '9')
                        return -1;
                v = v * 10 + (c->p[i] - '0');
        }
        c->p += n;
        *out = v;
        return 0;
}

/* One of \p names (HTTP-date names are case-sensitive, RFC 9110 5.6.7). */
static int name_of(struct cur *c, const char *const *names, int count, int *out)
{
        for (int i = 0; i < count; i++) {
                if (lit(c, names[i]) == 0) {
                        *out = i;
                        return 0;
                }
        }
        return -1;
}

/* "HH:MM:SS" */
static int hms(struct cur *c, struct tm *tm)
{
        if (digits(c, 2, &tm->tm_hour) || lit(c, ":") ||
            digits(c, 2, &tm->tm_min) || lit(c, ":") ||
            digits(c, 2, &tm->tm_sec))
                return -1;
        return 0;
}

static int is_leap(int y)
{
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int tm_valid(const struct tm *tm)
{
        static const int mdays[12] = {31, 28, 31, 30, 31, 30,
                                      31, 31, 30, 31, 30, 31};
        int year = tm->tm_year + 1900, dim;

        if (tm->tm_mon < 0 || tm->tm_mon > 11)
                return 0;
        dim = mdays[tm->tm_mon] + (tm->tm_mon == 1 && is_leap(year));
        return tm->tm_mday >= 1 && tm->tm_mday <= dim && tm->tm_hour <= 23 &&
               tm->tm_min <= 59 && tm->tm_sec <= 60;
}

/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
static int parse_imf(struct cur c, struct tm *tm)
{
        int wday, year;

        if (name_of(&c, day_short, 7, &wday) || lit(&c, ", ") ||
            digits(&c, 2, &tm->tm_mday) || lit(&c, " ") ||
            name_of(&c, month_name, 12, &tm->tm_mon) || lit(&c, " ") ||
            digits(&c, 4, &year) || lit(&c, " ") || hms(&c, tm) ||
            lit(&c, " GMT") || c.p != c.end)
                return -1;
        tm->tm_year = year - 1900;
        return 0;
}

/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
static int parse_rfc850(struct cur c, struct tm *tm, time_t now)
{
        struct tm now_tm;
        int wday, yy, year, century;

        if (name_of(&c, day_long, 7, &wday) || lit(&c, ", ") ||
            digits(&c, 2, &tm->tm_mday) || lit(&c, "-") ||
            name_of(&c, month_name, 12, &tm->tm_mon) || lit(&c, "-") ||
            digits(&c, 2, &yy) || lit(&c, " ") || hms(&c, tm) ||
            lit(&c, " GMT") || c.p != c.end)
                return -1;
        /* RFC 9110 5.6.7: a two-digit year more than 50 years in the
         * future is the most recent past year with those digits */
        if (!gmtime_r(&now, &now_tm))
                return -1;
        century = (now_tm.tm_year + 1900) / 100 * 100;
        year = century + yy;
        if (year > now_tm.tm_year + 1900 + 50)
                year -= 100;
        tm->tm_year = year - 1900;
        return 0;
}

/* asctime: "Sun Nov  6 08:49:37 1994" */
static int parse_asctime(struct cur c, struct tm *tm)
{
        int wday, year;

        if (name_of(&c, day_short, 7, &wday) || lit(&c, " ") ||
            name_of(&c, month_name, 12, &tm->tm_mon) || lit(&c, " "))
                return -1;
        if (c.p < c.end && *c.p == ' ') {
                c.p++;
                if (digits(&c, 1, &tm->tm_mday))
                        return -1;
        } else if (digits(&c, 2, &tm->tm_mday)) {
                return -1;
        }
        if (lit(&c, " ") || hms(&c, tm) || lit(&c, " ") ||
            digits(&c, 4, &year) || c.p != c.end)
                return -1;
        tm->tm_year = year - 1900;
        return 0;
}

int wh_retry_after_parse(const char *value, time_t now, int64_t *ms_out)
{
        struct cur c;
        struct tm tm;
        time_t t;

        if (!value || !ms_out)
                return -1;
        /* optional whitespace around the field value */
        c.p = value;
        c.end = value + strlen(value);
        while (c.p < c.end && (*c.p == ' ' || *c.p == '\t'))
                c.p++;
        while (c.end > c.p && (c.end[-1] == ' ' || c.end[-1] == '\t' ||
                               c.end[-1] == '\r' || c.end[-1] == '\n'))
                c.end--;
        if (c.p == c.end)
                return -1;

        if (*c.p >= '0' && *c.p <= '9') {
                /* delta-seconds = 1*DIGIT; saturate instead of overflow */
                int64_t s = 0;

                for (const char *q = c.p; q < c.end; q++) {
                        if (*q < '0' || *q > '9')
                                return -1;
                        if (s < WH_RETRY_AFTER_MAX_S)
                                s = s * 10 + (*q - '0');
                }
                if (s > WH_RETRY_AFTER_MAX_S)
                        s = WH_RETRY_AFTER_MAX_S;
                *ms_out = s * 1000;
                return 0;
        }

        memset(&tm, 0, sizeof(tm));
        if (parse_imf(c, &tm) != 0 && parse_rfc850(c, &tm, now) != 0 &&
            parse_asctime(c, &tm) != 0)
                return -1;
        if (!tm_valid(&tm))
                return -1;
        if (tm.tm_sec == 60)
                tm.tm_sec = 59;
        t = timegm(&tm);
        if (t == (time_t)-1)
                return -1;
        if (t <= now) {
                *ms_out = 0;
        } else {
                int64_t d = (int64_t)t - (int64_t)now;
                if (d > WH_RETRY_AFTER_MAX_S)
                        d = WH_RETRY_AFTER_MAX_S;
                *ms_out = d * 1000;
        }
        return 0;
}
