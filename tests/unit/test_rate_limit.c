/* Unit tests: a webhook's rate_limit (SPEC §4b): wh_rate (the token
 * bucket), wk_share_of (this replica's share of the partitions) and the
 * pool holding an endpoint to its share, against a loopback receiver. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "hb_time.h"
#include "rx_receiver.h"
#include "wh_pool.h"
#include "wh_rate.h"
#include "wk_share.h"

/* Start what the bucket allows every \p step_ms for \p ms. */
static long run(wh_rate_t *r, int64_t ms, int step_ms)
{
        long n = 0;

        for (int64_t now = 1000; now <= 1000 + ms; now += step_ms)
                while (wh_rate_wait(r, now, 1) == 0) {
                        wh_rate_take(r, now);
                        if (++n > 1000000)
                                return n;
                }
        return n;
}

Test(rate_limit, unlimited_never_waits)
{
        wh_rate_t r;

        wh_rate_init(&r, 0);
        cr_assert_eq(wh_rate_wait(&r, 5, 1000), 0);
        wh_rate_take(&r, 5);
        cr_assert_eq(wh_rate_wait(&r, 5, 1), 0);
}

Test(rate_limit, steady_rate_and_small_burst)
{
        wh_rate_t r;
        long n;

        wh_rate_init(&r, 50);
        n = run(&r, 20000, 7);
        /* 50/s for 20 s, plus the burst (12.5) */
        cr_assert(n >= 1000 && n <= 1014, "took %ld in 20 s at 50/s", n);
        wh_rate_init(&r, 2);
        n = run(&r, 10000, 3);
        cr_assert(n >= 20 && n <= 22, "took %ld in 10 s at 2/s", n);
}

Test(rate_limit, wait_says_when)
{
        wh_rate_t r;

        wh_rate_init(&r, 4); /* burst: 1 */
        cr_assert_eq(wh_rate_wait(&r, 1000, 1), 0);
        wh_rate_take(&r, 1000);
        cr_assert_eq(wh_rate_wait(&r, 1000, 1), 250);
        cr_assert_eq(wh_rate_wait(&r, 1125, 1), 125);
        /* four more: a second */
        cr_assert_eq(wh_rate_wait(&r, 1000, 4), 1000);
        cr_assert_eq(wh_rate_wait(&r, 1250, 1), 0);
}

Test(rate_limit, set_keeps_what_was_earned)
{
        wh_rate_t r;

        wh_rate_init(&r, 100); /* burst 25 */
        for (int i = 0; i < 25; i++)
                wh_rate_take(&r, 1000);
        cr_assert_gt(wh_rate_wait(&r, 1000, 1), 0);
        /* halved: the empty bucket stays empty, refills at 50/s */
        wh_rate_set(&r, 50, 1000);
        cr_assert_eq(wh_rate_wait(&r, 1000, 1), 20);
        cr_assert_eq(wh_rate_wait(&r, 1020, 1), 0);
}

Test(rate_limit, share_of_the_partitions)
{
        cr_assert_float_eq(wk_share_of(2, 4), 0.5, 1e-9);
        cr_assert_float_eq(wk_share_of(1, 3), 1.0 / 3, 1e-9);
        cr_assert_float_eq(wk_share_of(6, 6), 1.0, 1e-9);
        cr_assert_float_eq(wk_share_of(0, 0), 1.0, 1e-9);
        /* none assigned: one partition's worth, never 0 (unlimited) */
        cr_assert_float_eq(wk_share_of(0, 8), 0.125, 1e-9);
        /* more than known (metadata behind a topic's growth) */
        cr_assert_float_eq(wk_share_of(5, 4), 1.0, 1e-9);
        /* two replicas of four partitions sum to the whole */
        cr_assert_float_eq(wk_share_of(3, 4) + wk_share_of(1, 4), 1.0, 1e-9);
}

/* --- the pool ---------------------------------------------------------- */

typedef struct tally_s {
        int ok, deferred, rate_limited, other;
        int64_t max_wait_ms;
} tally_t;

static void on_done(const wh_result_t *res, void *opaque)
{
        tally_t *t = opaque;

        if (res->outcome == WH_OUT_OK) {
                t->ok++;
        } else if (res->outcome == WH_OUT_DEFERRED) {
                t->deferred++;
                t->rate_limited += res->rate_limited;
                if (res->retry_after_ms > t->max_wait_ms)
                        t->max_wait_ms = res->retry_after_ms;
        } else {
                t->other++;
        }
}

static rx_t *receiver(char *url, size_t size)
{
        rx_conf_t c = {0};
        char err[256];
        rx_t *rx = rx_start(&c, err, sizeof(err));

        cr_assert_not_null(rx, "%s", err);
        snprintf(url, size, "http://127.0.0.1:%u/hook", rx_port(rx));
        return rx;
}

static wh_endpoint_t *endpoint(const char *url, int rate, int max_ms)
{
        cfg_webhook_t wh;
        char err[256];
        wh_endpoint_t *ep;

        memset(&wh, 0, sizeof(wh));
        wh.name = "limited";
        wh.url = url;
        wh.enabled = 1;
        wh.timeout_ms = 2000;
        wh.retry.initial_ms = 10;
        wh.retry.max_ms = max_ms;
        wh.retry.max_attempts = 3;
        wh.rate_limit = rate;
        ep = wh_endpoint_new(&wh, err, sizeof(err));
        cr_assert_not_null(ep, "%s", err);
        return ep;
}

static wh_pool_t *pool(void)
{
        wh_pool_conf_t conf = {.max_in_flight = 8, .connect_timeout_ms = 1000};
        char err[256];
        wh_pool_t *p = wh_pool_new(&conf, err, sizeof(err));

        cr_assert_not_null(p, "%s", err);
        return p;
}

/* Submit \p n and run until done. @returns the seconds it took. */
static double deliver(wh_pool_t *p, wh_endpoint_t *ep, int n, int flags,
                      tally_t *t)
{
        int64_t start = hb_time_mono_ms();

        for (int i = 0; i < n; i++) {
                char id[32];
                snprintf(id, sizeof(id), "evt-%d", i);
                cr_assert_eq(
                        wh_pool_submit(p, ep, id, "{}", 2, flags, on_done, t),
                        0);
        }
        while (wh_pool_pending(p) > 0 && hb_time_mono_ms() - start < 30000)
                cr_assert_geq(wh_pool_run(p, 50, -1), 0);
        return (double)(hb_time_mono_ms() - start) / 1000.0;
}

/* 60 requests at 20/s: about 3 s, never faster, none dropped. */
Test(rate_limit, pool_holds_the_endpoint_to_its_limit, .timeout = 60)
{
        char url[64];
        rx_t *rx = receiver(url, sizeof(url));
        wh_endpoint_t *ep = endpoint(url, 20, 60000);
        wh_pool_t *p = pool();
        tally_t t = {0};
        double s = deliver(p, ep, 60, 0, &t);

        cr_expect_eq(t.ok, 60, "ok %d other %d", t.ok, t.other);
        /* 5 tokens of burst, then 55 at 20/s: 2.75 s */
        cr_expect(s >= 2.6 && s <= 3.5, "60 at 20/s took %.2f s", s);
        cr_expect_eq(rx_count(rx), 60);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
        rx_stop(rx);
}

/* Half the partitions: half the limit. */
Test(rate_limit, pool_share_halves_the_rate, .timeout = 60)
{
        char url[64];
        rx_t *rx = receiver(url, sizeof(url));
        wh_endpoint_t *ep = endpoint(url, 40, 60000);
        wh_pool_t *p = pool();
        tally_t t = {0};
        double s;

        wh_pool_set_rate_share(p, 0.5);
        s = deliver(p, ep, 40, 0, &t);
        cr_expect_eq(t.ok, 40);
        /* 5 of burst, 35 at 20/s: 1.75 s */
        cr_expect(s >= 1.6 && s <= 2.5, "40 at 40/s * 0.5 took %.2f s", s);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
        rx_stop(rx);
}

/* A deferrable delivery that would wait longer than the quick retries
 * (max_ms 500) is handed back for the first retry tier, with the wait;
 * those within it are sent. */
Test(rate_limit, long_wait_is_handed_back, .timeout = 60)
{
        char url[64];
        rx_t *rx = receiver(url, sizeof(url));
        wh_endpoint_t *ep = endpoint(url, 10, 500);
        wh_pool_t *p = pool();
        tally_t t = {0};

        deliver(p, ep, 30, WH_SUBMIT_DEFER, &t);
        /* 2.5 of burst, then 0.5 s at 10/s: about 7 sent */
        cr_expect(t.ok >= 5 && t.ok <= 9, "sent %d", t.ok);
        cr_expect_eq(t.ok + t.deferred, 30, "ok %d deferred %d other %d", t.ok,
                     t.deferred, t.other);
        cr_expect_eq(t.rate_limited, t.deferred);
        cr_expect(t.max_wait_ms > 500 && t.max_wait_ms <= 3000,
                  "waits up to %lld ms", (long long)t.max_wait_ms);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
        rx_stop(rx);
}
