/* Tests for hb_time: the one ISO-8601 parser and the TIME arguments
 * (ISO-8601, epoch ms, relative). */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hb_time.h"

/* 2024-03-01T12:00:00Z */
#define T0 1709294400000LL
/* an arbitrary "now": 2025-06-15T08:30:00.500Z */
#define NOW 1749976200500LL

static int64_t parse_ok(const char *s)
{
        char errstr[256] = "";
        int64_t ms = -12345;

        cr_assert_eq(hb_time_parse(s, NOW, &ms, errstr, sizeof(errstr)), 0,
                     "'%s' refused: %s", s, errstr);
        return ms;
}

static void parse_bad(const char *s, const char *why)
{
        char errstr[256] = "";
        int64_t ms = -12345;

        cr_expect_eq(hb_time_parse(s, NOW, &ms, errstr, sizeof(errstr)), -1,
                     "'%s' accepted as %lld", s, (long long)ms);
        cr_expect_eq(ms, -12345, "'%s': output written on failure", s);
        cr_expect(strstr(errstr, why) != NULL, "'%s': error '%s' lacks '%s'", s,
                  errstr, why);
}

Test(time, iso_utc)
{
        cr_expect_eq(parse_ok("2024-03-01T12:00:00Z"), T0);
        cr_expect_eq(parse_ok("2024-03-01t12:00:00z"), T0);
        cr_expect_eq(parse_ok("2024-03-01 12:00:00Z"), T0);
        cr_expect_eq(parse_ok("2024-03-01T12:00Z"), T0);
        cr_expect_eq(parse_ok("1970-01-01T00:00:00Z"), 0);
        cr_expect_eq(parse_ok("2023-03-23T13:37:05Z"), 1679578625000LL);
}

Test(time, iso_offsets)
{
        cr_expect_eq(parse_ok("2024-03-01T14:00:00+02:00"), T0);
        cr_expect_eq(parse_ok("2024-03-01T14:00:00+0200"), T0);
        cr_expect_eq(parse_ok("2024-03-01T14:00:00+02"), T0);
        cr_expect_eq(parse_ok("2024-03-01T06:30:00-05:30"), T0);
        cr_expect_eq(parse_ok("2024-03-01T12:00:00+00:00"), T0);
        cr_expect_eq(parse_ok("2024-03-01T12:00:00-00:00"), T0);
        /* the offset moves the date across midnight */
        cr_expect_eq(parse_ok("2024-03-02T01:00:00+13:00"), T0);
        cr_expect_eq(parse_ok("2024-02-29T23:00:00-13:00"), T0);
}

Test(time, iso_fractions_floor_to_ms)
{
        cr_expect_eq(parse_ok("2024-03-01T12:00:00.5Z"), T0 + 500);
        cr_expect_eq(parse_ok("2024-03-01T12:00:00.25Z"), T0 + 250);
        cr_expect_eq(parse_ok("2024-03-01T12:00:00.123Z"), T0 + 123);
        cr_expect_eq(parse_ok("2024-03-01T12:00:00.123999999Z"), T0 + 123);
        cr_expect_eq(parse_ok("2024-03-01T12:00:00,750Z"), T0 + 750);
        cr_expect_eq(parse_ok("2024-03-01T14:00:00.001+02:00"), T0 + 1);
}

Test(time, bare_date_is_midnight_utc)
{
        cr_expect_eq(parse_ok("2024-03-01"), T0 - 12 * 3600 * 1000LL);
        cr_expect_eq(parse_ok("1970-01-01"), 0);
        cr_expect_eq(parse_ok("2024-02-29"), 1709164800000LL);
        cr_expect_eq(parse_ok("2000-02-29"), 951782400000LL);
        cr_expect_eq(parse_ok("9999-12-31"), 253402214400000LL);
}

Test(time, every_day_matches_timegm)
{
        /* Every day from 1970 to 2100 at 13:37:05 against the C library. */
        for (int64_t day = 0; day < 47847; day++) {
                time_t t = (time_t)(day * 86400 + 13 * 3600 + 37 * 60 + 5);
                struct tm tm;
                char s[64];
                gmtime_r(&t, &tm);
                strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
                cr_assert_eq(parse_ok(s), (int64_t)t * 1000, "%s", s);
        }
}

Test(time, epoch_ms)
{
        cr_expect_eq(parse_ok("1709294400000"), T0);
        cr_expect_eq(parse_ok("0"), 0);
        cr_expect_eq(parse_ok("000123"), 123);
        cr_expect_eq(parse_ok("253402300799999"), 253402300799999LL);
        parse_bad("253402300800000", "past year 9999");
        parse_bad("99999999999999999999999", "past year 9999");
}

Test(time, relative)
{
        cr_expect_eq(parse_ok("-45s"), NOW - 45000);
        cr_expect_eq(parse_ok("-30m"), NOW - 30 * 60000LL);
        cr_expect_eq(parse_ok("-2h"), NOW - 2 * 3600000LL);
        cr_expect_eq(parse_ok("-7d"), NOW - 7 * 86400000LL);
        cr_expect_eq(parse_ok("-1h30m"), NOW - 90 * 60000LL);
        cr_expect_eq(parse_ok("-1d2h3m4s"),
                     NOW - (86400 + 2 * 3600 + 3 * 60 + 4) * 1000LL);
        cr_expect_eq(parse_ok("-0s"), NOW);
        cr_expect_eq(parse_ok("now"), NOW);
}

Test(time, relative_refused)
{
        parse_bad("-", "needs a number and a unit");
        parse_bad("-2", "missing unit");
        parse_bad("-2w", "unknown unit");
        parse_bad("-2hh", "expected a number");
        parse_bad("-h", "expected a number");
        parse_bad("+2h", "write -2h");
        parse_bad("-2 h", "unknown unit");
        parse_bad("-100000d", "before 1970");
        parse_bad("-99999999999999999999d", "too large");
        parse_bad("-9999999999999d", "before 1970");
}

Test(time, iso_refused)
{
        parse_bad("", "empty");
        parse_bad("yesterday", "not a time");
        parse_bad("2024-3-01", "not a time");
        parse_bad("2024/03/01", "not a time");
        parse_bad("2024-13-01", "month out of range");
        parse_bad("2024-00-01", "month out of range");
        parse_bad("2024-02-30", "day out of range");
        parse_bad("2023-02-29", "day out of range");
        parse_bad("1900-02-29", "day out of range");
        parse_bad("2024-04-31", "day out of range");
        parse_bad("2024-03-00", "day out of range");
        parse_bad("2024-03-01T12:00:00", "no time zone");
        parse_bad("2024-03-01T12:00", "no time zone");
        parse_bad("2024-03-01T24:00:00Z", "out of range");
        parse_bad("2024-03-01T12:60:00Z", "out of range");
        parse_bad("2024-03-01T12:00:61Z", "out of range");
        parse_bad("2024-03-01T12Z", "HH:MM");
        parse_bad("2024-03-01T12:00:0Z", "seconds");
        parse_bad("2024-03-01T12:00:00.Z", "digits after");
        parse_bad("2024-03-01T12:00:00+2", "bad time zone");
        parse_bad("2024-03-01T12:00:00+24:00", "bad time zone");
        parse_bad("2024-03-01T12:00:00+02:60", "bad time zone");
        parse_bad("2024-03-01T12:00:00ZZ", "unexpected characters");
        parse_bad("2024-03-01T12:00:00Z ", "unexpected characters");
        parse_bad("2024-03-01X12:00:00Z", "expected 'T'");
        parse_bad("1969-12-31T23:59:59Z", "before 1970");
        parse_bad("1970-01-01T00:30:00+01:00", "before 1970");
        parse_bad("1969-12-31", "before 1970");
}

/* The one ISO-8601 parser, on its own (what the transformer calls). */
static int64_t iso_ok(const char *s)
{
        char errstr[128] = "";
        int64_t ms = -12345;

        cr_assert_eq(
                hb_time_iso_parse(s, strlen(s), &ms, errstr, sizeof(errstr)), 0,
                "'%s' refused: %s", s, errstr);
        return ms;
}

static void iso_bad(const char *s, size_t n, const char *why)
{
        char errstr[128] = "";
        int64_t ms = -12345;

        cr_expect_eq(hb_time_iso_parse(s, n, &ms, errstr, sizeof(errstr)), -1,
                     "'%.*s' accepted as %lld", (int)n, s, (long long)ms);
        cr_expect_eq(ms, -12345);
        cr_expect(strstr(errstr, why) != NULL, "'%.*s': error '%s' lacks '%s'",
                  (int)n, s, errstr, why);
        /* no buffer: still refused */
        cr_expect_eq(hb_time_iso_parse(s, n, &ms, NULL, 0), -1);
}

/* Where the transformer's parser and the TIME parser once disagreed:
 * zone-less times, second :60, dates before 1970. */
Test(time, iso_one_rule_for_zoneless_leap_second_and_pre_1970)
{
        /* a date and time without a zone: refused by both users */
        iso_bad("2024-03-01T12:00:00", 19, "no time zone");
        iso_bad("2024-03-01 12:00", 16, "no time zone");
        iso_bad("2024-03-01T12:00:00.5", 21, "no time zone");
        parse_bad("2024-03-01 12:00:00", "no time zone");
        /* a leap second: the next minute's first second, for both */
        cr_expect_eq(iso_ok("2016-12-31T23:59:60Z"), 1483228800000LL);
        cr_expect_eq(iso_ok("2016-12-31T23:59:60.999Z"), 1483228800999LL);
        cr_expect_eq(iso_ok("2017-01-01T05:29:60+05:30"), 1483228800000LL);
        cr_expect_eq(parse_ok("2016-12-31T23:59:60Z"), 1483228800000LL);
        iso_bad("2016-12-31T23:59:61Z", 20, "out of range");
        /* before 1970: parsed (events keep them); TIME refuses them */
        cr_expect_eq(iso_ok("1969-12-31T23:59:59Z"), -1000);
        cr_expect_eq(iso_ok("1969-12-31T23:59:59.5Z"), -500);
        cr_expect_eq(iso_ok("1969-12-31T23:59:59.0005Z"), -1000);
        cr_expect_eq(iso_ok("1900-01-01T00:00:00Z"), -2208988800000LL);
        cr_expect_eq(iso_ok("0000-01-01"), -62167219200000LL);
        cr_expect_eq(iso_ok("1970-01-01T00:30:00+01:00"), -1800000);
        parse_bad("1969-12-31T23:59:59Z", "before 1970");
}

Test(time, iso_reads_only_its_length)
{
        /* a JSON string's text is not NUL-terminated */
        cr_expect_eq(hb_time_iso_parse("2024-03-01T12:00:00Zjunk", 20,
                                       &(int64_t){0}, NULL, 0),
                     0);
        int64_t ms = 0;
        cr_expect_eq(hb_time_iso_parse("2024-03-01junk", 10, &ms, NULL, 0), 0);
        cr_expect_eq(ms, T0 - 12 * 3600 * 1000LL);
        /* cut anywhere inside: refused, never read past n */
        static const char full[] = "2024-03-01T12:00:00.250+02:00";
        for (size_t n = 0; n < sizeof(full) - 1; n++) {
                char *copy = malloc(n ? n : 1); /* exact size for ASan */
                memcpy(copy, full, n);
                int r = hb_time_iso_parse(copy, n, &ms, NULL, 0);
                /* whole at 10 (a bare date) and 26 (a +HH zone) */
                cr_expect_eq(r, n == 10 || n == 26 ? 0 : -1, "length %zu", n);
                free(copy);
        }
        /* a NUL inside is a character like any other: refused */
        iso_bad("2024-03-01T12:00:00Z\0", 21, "unexpected characters");
        iso_bad("2024-03-01\0", 11, "expected 'T'");
}

Test(time, errors_name_the_input)
{
        char errstr[256];
        int64_t ms;

        cr_assert_eq(
                hb_time_parse("2024-13-01", NOW, &ms, errstr, sizeof(errstr)),
                -1);
        cr_expect_str_eq(errstr, "TIME '2024-13-01': month out of range");
        /* a small buffer is cut, never overrun */
        cr_assert_eq(hb_time_parse("junk", NOW, &ms, errstr, 8), -1);
        cr_expect_str_eq(errstr, "TIME 'j");
        cr_assert_eq(hb_time_parse(NULL, NOW, &ms, errstr, sizeof(errstr)), -1);
}

Test(time, format_round_trips)
{
        static const int64_t v[] = {
                0,  T0, T0 + 1, T0 + 999, 951782400000LL, 253402300799999LL,
                NOW};
        char s[64];

        cr_expect_str_eq(hb_time_format(T0, s, sizeof(s)),
                         "2024-03-01T12:00:00Z");
        cr_expect_str_eq(hb_time_format(T0 + 250, s, sizeof(s)),
                         "2024-03-01T12:00:00.250Z");
        cr_expect_str_eq(hb_time_format(0, s, sizeof(s)),
                         "1970-01-01T00:00:00Z");
        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
                cr_expect_eq(parse_ok(hb_time_format(v[i], s, sizeof(s))), v[i],
                             "%s", s);
}

Test(time, now_is_the_wall_clock)
{
        int64_t a = (int64_t)time(NULL) * 1000;
        int64_t n = hb_time_now_ms();

        cr_expect(n >= a && n < a + 2000);
}
