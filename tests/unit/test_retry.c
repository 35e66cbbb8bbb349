/* Tests for wh_retry: classification, backoff, Retry-After. */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdint.h>

#include "wh_retry.h"

/* Sun, 06 Nov 1994 08:49:37 GMT */
#define T1994 ((time_t)784111777)
/* 2025-01-01 00:00:00 GMT */
#define Y2025 ((time_t)1735689600)

Test(retry, classify)
{
        static const long ok[] = {200, 201, 202, 204, 299};
        static const long retry[] = {0, 408, 425, 429, 500, 502, 503, 504, 599};
        static const long perm[] = {100, 101, 199, 300, 301, 302, 304, 307,
                                    308, 400, 401, 403, 404, 409, 410, 413,
                                    422, 426, 451, 499, 600, 999, -1};

        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
                cr_expect_eq(wh_retry_classify(ok[i]), WH_CLASS_OK, "%ld",
                             ok[i]);
        for (size_t i = 0; i < sizeof(retry) / sizeof(retry[0]); i++)
                cr_expect_eq(wh_retry_classify(retry[i]), WH_CLASS_RETRY, "%ld",
                             retry[i]);
        for (size_t i = 0; i < sizeof(perm) / sizeof(perm[0]); i++)
                cr_expect_eq(wh_retry_classify(perm[i]), WH_CLASS_PERMANENT,
                             "%ld", perm[i]);
}

Test(retry, backoff_exponential_with_equal_jitter)
{
        /* rnd 0 gives the low end (base/2), a huge rnd stays <= base */
        cr_expect_eq(wh_retry_backoff_ms(1, 100, 10000, 0), 50);
        cr_expect_eq(wh_retry_backoff_ms(2, 100, 10000, 0), 100);
        cr_expect_eq(wh_retry_backoff_ms(3, 100, 10000, 0), 200);
        cr_expect_eq(wh_retry_backoff_ms(4, 100, 10000, 0), 400);
        /* rnd % (base/2 + 1): the top of the range is base itself */
        cr_expect_eq(wh_retry_backoff_ms(1, 100, 10000, 50), 100);
        cr_expect_eq(wh_retry_backoff_ms(1, 100, 10000, 51), 50);
        cr_expect_eq(wh_retry_backoff_ms(3, 100, 10000, 200), 400);
        /* capped at max */
        cr_expect_eq(wh_retry_backoff_ms(8, 100, 10000, 0), 5000);
        cr_expect_eq(wh_retry_backoff_ms(8, 100, 10000, 5000), 10000);
        /* odd bases: never above the base */
        cr_expect_eq(wh_retry_backoff_ms(1, 5, 10000, 2), 4);
        cr_expect_eq(wh_retry_backoff_ms(1, 1, 10000, 0), 0);
        cr_expect_eq(wh_retry_backoff_ms(1, 1, 10000, 1), 0);
}

Test(retry, backoff_bounds_for_every_attempt_and_rnd)
{
        static const uint32_t rnds[] = {
                0, 1, 2, 12345, 0x7fffffffu, 0x80000000u, UINT32_MAX};
        static const int attempts[] = {1,  2,  10, 30, 31,   32,
                                       33, 63, 64, 65, 1000, INT_MAX};

        for (size_t a = 0; a < sizeof(attempts) / sizeof(attempts[0]); a++) {
                for (size_t r = 0; r < sizeof(rnds) / sizeof(rnds[0]); r++) {
                        int64_t ms = wh_retry_backoff_ms(attempts[a], 250,
                                                         60000, rnds[r]);
                        int64_t base = attempts[a] >= 10
                                               ? 60000
                                               : (int64_t)250
                                                         << (attempts[a] - 1);

                        if (base > 60000)
                                base = 60000;
                        cr_expect_leq(ms, base, "attempt %d rnd %u",
                                      attempts[a], rnds[r]);
                        cr_expect_geq(ms, base / 2, "attempt %d rnd %u",
                                      attempts[a], rnds[r]);
                }
        }
        /* extremes of the bounds themselves */
        cr_expect_leq(
                wh_retry_backoff_ms(INT_MAX, INT_MAX, INT_MAX, UINT32_MAX),
                INT_MAX);
        cr_expect_geq(wh_retry_backoff_ms(INT_MAX, INT_MAX, INT_MAX, 0),
                      INT_MAX / 2);
        cr_expect_leq(wh_retry_backoff_ms(5, 1000, 300, UINT32_MAX), 300);
        cr_expect_eq(wh_retry_backoff_ms(0, 100, 1000, 0), 50);
        cr_expect_eq(wh_retry_backoff_ms(-7, 100, 1000, 0), 50);
}

static int64_t ra(const char *v, time_t now)
{
        int64_t ms = -12345;

        cr_assert_eq(wh_retry_after_parse(v, now, &ms), 0, "rejected \"%s\"",
                     v);
        return ms;
}

static void ra_bad(const char *v)
{
        int64_t ms = -12345;

        cr_expect_eq(wh_retry_after_parse(v, T1994, &ms), -1, "accepted \"%s\"",
                     v);
}

Test(retry, retry_after_delta_seconds)
{
        cr_expect_eq(ra("0", 0), 0);
        cr_expect_eq(ra("1", 0), 1000);
        cr_expect_eq(ra("120", 0), 120000);
        cr_expect_eq(ra("  7\t", 0), 7000);
        cr_expect_eq(ra("3\r\n", 0), 3000);
        cr_expect_eq(ra("0007", 0), 7000);
        /* absurd values are capped, not overflowed */
        cr_expect_eq(ra("99999999999999999999999999999999", 0),
                     7 * 86400 * 1000LL);
        cr_expect_eq(ra("18446744073709551617", 0), 7 * 86400 * 1000LL);
        ra_bad("");
        ra_bad("   ");
        ra_bad("-1");
        ra_bad("+5");
        ra_bad("1.5");
        ra_bad("5s");
        ra_bad("1 2");
        ra_bad("0x10");
        ra_bad("soon");
        cr_expect_eq(wh_retry_after_parse(NULL, 0, NULL), -1);
}

Test(retry, retry_after_imf_fixdate)
{
        cr_expect_eq(ra("Sun, 06 Nov 1994 08:49:37 GMT", T1994 - 30), 30000);
        cr_expect_eq(ra("Sun, 06 Nov 1994 08:49:37 GMT", T1994), 0);
        /* a date in the past means "now" */
        cr_expect_eq(ra("Sun, 06 Nov 1994 08:49:37 GMT", T1994 + 3600), 0);
        cr_expect_eq(ra(" Sun, 06 Nov 1994 08:49:38 GMT ", T1994), 1000);
        cr_expect_eq(ra("Sun, 06 Nov 1994 08:49:38 GMT\r\n", T1994), 1000);
        /* leap day, and a far future date is capped */
        cr_expect_eq(ra("Thu, 29 Feb 2024 12:00:00 GMT", 1709208000 - 2), 2000);
        cr_expect_eq(ra("Fri, 01 Jan 2100 00:00:00 GMT", T1994),
                     7 * 86400 * 1000LL);
        /* what is not a date at all */
        ra_bad("Sun, 06 Now 1994 08:49:37 GMT");
        ra_bad("Sun, 32 Nov 1994 08:49:37 GMT");
        ra_bad("Sun, 06 Nov 1994 24:49:37 GMT");
        ra_bad("Sun, 06 Nov 1994 08:60:37 GMT");
        ra_bad("Sux, 06 Nov 1994 08:49:37 GMT");
        ra_bad("Sun, 06 Nov 08:49:37 GMT"); /* no year */
        ra_bad("Nov 1994");
        ra_bad("GMT");
}

Test(retry, retry_after_dates_are_read_as_curl_reads_them)
{
        /* curl_getdate() is lenient where RFC 9110 5.6.7 lets a recipient
         * be: these spellings mean the date they look like */
        cr_expect_eq(ra("sun, 06 nov 1994 08:49:37 gmt", T1994 - 1), 1000);
        cr_expect_eq(ra("Sun, 6 Nov 1994 08:49:37 GMT", T1994 - 1), 1000);
        cr_expect_eq(ra("Sun, 06 Nov 1994 08:49:37", T1994 - 1), 1000);
        cr_expect_eq(ra("Sun, 06 Nov 1994 08:49:37 UTC", T1994 - 1), 1000);
        cr_expect_eq(ra("Sun, 06 Nov 94 08:49:37 GMT", T1994 - 1), 1000);
        cr_expect_eq(ra("Sunday, 06-Nov-1994 08:49:37 GMT", T1994 - 1), 1000);
        /* another zone is honoured */
        cr_expect_eq(ra("Sun, 06 Nov 1994 08:49:37 PST", T1994), 8 * 3600000LL);
}

/* Bytes curl_getdate() would skip over: the value is refused instead. */
Test(retry, retry_after_date_with_foreign_bytes_is_refused)
{
        ra_bad("\x80Sun, 06 Nov 1994 08:49:37 GMT");
        ra_bad("Sun, 06 Nov 1994 08:49:37 GMT\x01");
        ra_bad("Sun, 06\x7f Nov 1994 08:49:37 GMT");
        ra_bad("Sun, 06 Nov 1994\r\n08:49:37 GMT");
        ra_bad("Sun, 06 Nov 1994 \xc3\xa9 08:49:37 GMT");
        /* a value longer than any date */
        ra_bad("Sun, 06 Nov 1994 08:49:37 GMT                                "
               "                                                            "
               "                                                     GMT");
}

Test(retry, retry_after_rfc850)
{
        cr_expect_eq(ra("Sunday, 06-Nov-94 08:49:37 GMT", T1994 - 5), 5000);
        cr_expect_eq(ra("Sunday, 06-Nov-94 08:49:37 GMT", T1994 + 5), 0);
        /* two-digit years as curl reads them: 71-99 are 19xx, 00-70 20xx
         * (RFC 9110 would read 75 as 2075 from 2025; either way a date
         * that far off is either past or capped) */
        cr_expect_eq(ra("Wednesday, 01-Jan-25 00:00:10 GMT", Y2025), 10000);
        cr_expect_eq(ra("Thursday, 01-Jan-69 00:00:00 GMT", Y2025),
                     7 * 86400 * 1000LL);
        cr_expect_eq(ra("Monday, 01-Jan-75 00:00:00 GMT", Y2025), 0);
        cr_expect_eq(ra("Thursday, 01-Jan-76 00:00:00 GMT", Y2025), 0);
        ra_bad("Funday, 06-Nov-94 08:49:37 GMT");
}

Test(retry, retry_after_asctime)
{
        cr_expect_eq(ra("Sun Nov  6 08:49:37 1994", T1994 - 1), 1000);
        cr_expect_eq(ra("Sun Nov 06 08:49:37 1994", T1994 - 1), 1000);
        cr_expect_eq(ra("Tue Nov  8 08:49:37 1994", T1994), 2 * 86400000LL);
        cr_expect_eq(ra("Sun Nov 6 08:49:37 1994", T1994 - 1), 1000);
        ra_bad("Sun Nox  6 08:49:37 1994");
}
