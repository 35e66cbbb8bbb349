/* Tests for hb_sched: the retry schedule's delays, tiers and due times. */
#include <criterion/criterion.h>

#include <string.h>

#include "hb_sched.h"

static int64_t delay_ok(const char *s)
{
        char errstr[256] = "";
        int64_t ms = -1;

        cr_assert_eq(hb_sched_parse_delay(s, &ms, errstr, sizeof(errstr)), 0,
                     "'%s' refused: %s", s, errstr);
        return ms;
}

static void delay_bad(const char *s, const char *why)
{
        char errstr[256] = "";
        int64_t ms = -7;

        cr_expect_eq(hb_sched_parse_delay(s, &ms, errstr, sizeof(errstr)), -1,
                     "'%s' accepted", s);
        cr_expect_eq(ms, -7, "'%s': written on failure", s);
        cr_expect(strstr(errstr, why), "'%s': '%s' lacks '%s'", s, errstr, why);
}

Test(sched, delays)
{
        cr_expect_eq(delay_ok("5s"), 5000);
        cr_expect_eq(delay_ok("5m"), 300000);
        cr_expect_eq(delay_ok("30m"), 1800000);
        cr_expect_eq(delay_ok("2h"), 7200000);
        cr_expect_eq(delay_ok("10h"), 36000000);
        cr_expect_eq(delay_ok("1d"), 86400000);
        cr_expect_eq(delay_ok("250ms"), 250);
        cr_expect_eq(delay_ok("1h30m"), 5400000);
        cr_expect_eq(delay_ok("30d"), 30LL * 86400000);
}

Test(sched, bad_delays)
{
        delay_bad("", "empty");
        delay_bad("5", "unit");
        delay_bad("s", "number");
        delay_bad("5x", "unit");
        delay_bad("-5s", "number");
        delay_bad("0s", "> 0");
        delay_bad("31d", "30 days");
        delay_bad("99999999999999999999s", "30 days");
        delay_bad("5s ", "number");
}

Test(sched, default_is_svix)
{
        hb_sched_t s;
        static const int64_t want[] = {5000,     300000,   1800000, 7200000,
                                       18000000, 36000000, 36000000};

        hb_sched_default(&s);
        cr_assert_eq(s.n, 7);
        for (size_t i = 0; i < 7; i++)
                cr_expect_eq(s.delay_ms[i], want[i], "tier %zu", i);
        cr_expect_str_eq(s.label[0], "5s");
        cr_expect_str_eq(s.label[2], "30m");
        cr_expect_str_eq(s.label[6], "10h");
}

Test(sched, parse_errors_name_the_item)
{
        hb_sched_t s;
        char errstr[256];
        const char *bad[] = {"5s", "soon"};
        const char *many[HB_SCHED_MAX + 1];

        cr_expect_eq(hb_sched_parse(&s, bad, 2, errstr, sizeof(errstr)), -1);
        cr_expect(strstr(errstr, "schedule[1]"), "%s", errstr);
        cr_expect_eq(hb_sched_parse(&s, bad, 0, errstr, sizeof(errstr)), -1);
        for (size_t i = 0; i <= HB_SCHED_MAX; i++)
                many[i] = "1s";
        cr_expect_eq(hb_sched_parse(&s, many, HB_SCHED_MAX + 1, errstr,
                                    sizeof(errstr)),
                     -1);
        cr_expect_eq(
                hb_sched_parse(&s, many, HB_SCHED_MAX, errstr, sizeof(errstr)),
                0);
}

Test(sched, labels_are_normalised)
{
        hb_sched_t s;
        char errstr[256];
        const char *in[] = {"90s", "60m", "1h30m", "1500ms"};

        cr_assert_eq(hb_sched_parse(&s, in, 4, errstr, sizeof(errstr)), 0);
        cr_expect_str_eq(s.label[0], "1m30s");
        cr_expect_str_eq(s.label[1], "1h");
        cr_expect_str_eq(s.label[2], "1h30m");
        cr_expect_str_eq(s.label[3], "1s500ms");
}

Test(sched, next_tier)
{
        hb_sched_t s;

        hb_sched_default(&s);
        /* after the quick attempts: the first tier */
        cr_expect_eq(hb_sched_next(&s, 0, 0), 0);
        /* a failed tier attempt: the next one */
        cr_expect_eq(hb_sched_next(&s, 3, 0), 3);
        /* after the last tier: the dead-letter topic */
        cr_expect_eq(hb_sched_next(&s, 7, 0), -1);
        cr_expect_eq(hb_sched_next(&s, 99, 0), -1);
        /* Retry-After: the first tier due no earlier */
        cr_expect_eq(hb_sched_next(&s, 0, 3600 * 1000), 3); /* 2h */
        cr_expect_eq(hb_sched_next(&s, 0, 300 * 1000), 1);  /* 5m exactly */
        cr_expect_eq(hb_sched_next(&s, 0, 301 * 1000), 2);  /* 30m */
        cr_expect_eq(hb_sched_next(&s, 4, 60 * 1000), 4);   /* never back */
        /* longer than any tier: the last */
        cr_expect_eq(hb_sched_next(&s, 0, 48LL * 3600 * 1000), 6);
        cr_expect_eq(hb_sched_next(&s, -3, 0), 0);
}

Test(sched, due_and_wait)
{
        hb_sched_t s;

        hb_sched_default(&s);
        cr_expect_eq(hb_sched_due(&s, 0, 1000000), 1005000);
        cr_expect_eq(hb_sched_due(&s, 6, 0), 36000000);
        cr_expect_eq(hb_sched_due(&s, 9, 42), 42);
        cr_expect_eq(hb_sched_wait(1005000, 1000000), 5000);
        cr_expect_eq(hb_sched_wait(1000000, 1005000), 0);
        cr_expect_eq(hb_sched_wait(7, 7), 0);
}

Test(sched, topic_names)
{
        hb_sched_t s;
        char name[64], tiny[8];

        hb_sched_default(&s);
        cr_expect_str_eq(hb_sched_topic(&s, "hb.retry", 0, name, sizeof(name)),
                         "hb.retry-0-5s");
        cr_expect_str_eq(hb_sched_topic(&s, "hb.retry", 5, name, sizeof(name)),
                         "hb.retry-5-10h");
        cr_expect_str_eq(hb_sched_topic(&s, "hb.retry", 6, name, sizeof(name)),
                         "hb.retry-6-10h");
        cr_expect_null(hb_sched_topic(&s, "hb.retry", 7, name, sizeof(name)));
        cr_expect_null(hb_sched_topic(&s, "hb.retry", 0, tiny, sizeof(tiny)));
        cr_expect_eq(hb_sched_tier_of(&s, "hb.retry", "hb.retry-6-10h"), 6);
        cr_expect_eq(hb_sched_tier_of(&s, "hb.retry", "hb.retry-2-30m"), 2);
        cr_expect_eq(hb_sched_tier_of(&s, "hb.retry", "hb.retry-2-5m"), -1);
        cr_expect_eq(hb_sched_tier_of(&s, "hb.retry", "events"), -1);
}
