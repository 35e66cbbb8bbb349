/* Unit tests: wh_pool's delivery policy against a loopback receiver:
 * per-webhook caps, circuit breaker, 410 Gone, SSRF guard, attempt hook. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "wh_pool.h"
#include "rx_receiver.h"

static rx_t *rx;

static void setup(void)
{
        rx_conf_t c = {0};
        char err[256];

        rx = rx_start(&c, err, sizeof(err));
        cr_assert_not_null(rx, "%s", err);
}

static void teardown(void)
{
        rx_stop(rx);
}

TestSuite(policy, .init = setup, .fini = teardown, .timeout = 120);

static int64_t ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An endpoint for path \p path of the receiver. */
static wh_endpoint_t *endpoint(const char *name, const char *path, int cap,
                               int attempts)
{
        char url[128], err[256];
        cfg_webhook_t wh = {0};
        wh_endpoint_t *ep;

        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", rx_port(rx), path);
        wh.name = name;
        wh.url = url;
        wh.enabled = 1;
        wh.timeout_ms = 30000; /* none of these tests is about a time-out */
        wh.retry.initial_ms = 10;
        wh.retry.max_ms = 50;
        wh.retry.max_attempts = attempts;
        wh.max_in_flight = cap;
        ep = wh_endpoint_new(&wh, err, sizeof(err));
        cr_assert_not_null(ep, "%s", err);
        return ep;
}

static wh_pool_t *pool(int failures, int open_ms, int guard)
{
        const char *allow[] = {"127.0.0.0/8"};
        wh_pool_conf_t c = {.max_in_flight = 8,
                            .circuit_failures = failures,
                            .circuit_open_ms = open_ms,
                            .ssrf_guard = 1,
                            .allow_networks = guard ? NULL : allow,
                            .allow_network_count = guard ? 0 : 1};
        char err[256];
        wh_pool_t *p = wh_pool_new(&c, err, sizeof(err));

        cr_assert_not_null(p, "%s", err);
        return p;
}

/* Outcome and completion time of one delivery. */
typedef struct done_s {
        int n;
        wh_outcome_t outcome;
        long status;
        int64_t at;
        char error[256];
} done_t;

static void on_done(const wh_result_t *r, void *opaque)
{
        done_t *d = opaque;

        d->n++;
        d->outcome = r->outcome;
        d->status = r->status;
        d->at = ms();
        snprintf(d->error, sizeof(d->error), "%s", r->error);
}

static void run_until(wh_pool_t *p, const done_t *d, size_t n, int ms_max)
{
        int64_t deadline = ms() + ms_max;

        for (;;) {
                size_t all = 0;
                for (size_t i = 0; i < n; i++)
                        all += d[i].n == 1;
                if (all == n || ms() > deadline)
                        break;
                wh_pool_run(p, 20, -1);
        }
}

Test(policy, a_hanging_webhook_does_not_hold_back_another)
{
        wh_pool_t *p = pool(0, 0, 0);
        wh_endpoint_t *slow = endpoint("slow", "/slow", 2, 1);
        wh_endpoint_t *fast = endpoint("fast", "/fast", 2, 1);
        done_t ds[6] = {0}, df[20] = {0};

        /* 4 s: the 20 fast ones have that long, even on a loaded machine */
        cr_assert_eq(rx_set_script(rx, "/slow", "200:delay=4000"), 0);
        for (int i = 0; i < 6; i++)
                wh_pool_submit(p, slow, "s", "{}", 2, 0, on_done, &ds[i]);
        for (int i = 0; i < 20; i++)
                wh_pool_submit(p, fast, "f", "{}", 2, 0, on_done, &df[i]);
        run_until(p, df, 20, 30000);
        for (int i = 0; i < 20; i++)
                cr_assert_eq(df[i].outcome, WH_OUT_OK);
        /* The slow one took only its 2 slots: the fast one finished
         * before even the first slow answer came back. */
        for (int i = 0; i < 6; i++)
                cr_assert_eq(ds[i].n, 0, "a slow answer came first");
        run_until(p, ds, 6, 60000);
        for (int i = 0; i < 6; i++)
                cr_assert_eq(ds[i].outcome, WH_OUT_OK);
        wh_pool_destroy(p);
        wh_endpoint_unref(slow);
        wh_endpoint_unref(fast);
}

static int attempts_seen;

static void on_attempt(const wh_endpoint_t *ep, long status, double secs,
                       int will_retry, void *opaque)
{
        (void)ep;
        (void)status;
        (void)secs;
        (void)will_retry;
        (void)opaque;
        attempts_seen++;
}

Test(policy, circuit_opens_then_one_probe_closes_it)
{
        const int open_ms = 400;
        wh_pool_t *p = pool(3, open_ms, 0);
        wh_endpoint_t *ep = endpoint("cb", "/cb", 0, 1000);
        done_t d = {0};
        uint64_t before;
        int64_t opened_after = 0, end;

        wh_pool_set_attempt_cb(p, on_attempt, NULL);
        cr_assert_eq(rx_set_script(rx, "/cb", "500"), 0);
        wh_pool_submit(p, ep, "x", "{}", 2, 0, on_done, &d);
        /* Three failures open the circuit; opened_after is a time before
         * the run that opened it (the pool's clock is the same). */
        for (end = ms() + 30000; wh_pool_circuit(p, ep) != 2;) {
                cr_assert_lt(ms(), end,
                             "the circuit did not open within 30 s "
                             "(%d attempts seen)",
                             attempts_seen);
                opened_after = ms();
                wh_pool_run(p, 10, -1);
        }
        cr_assert_eq(attempts_seen, 3);
        before = rx_count(rx);
        cr_assert_eq(before, 3, "the receiver saw %llu requests",
                     (unsigned long long)before);
        /* The server recovers at once, unknown to the pool: while the
         * circuit stays open nothing reaches the server, however slowly
         * the open period is watched (a probe would have left it
         * half-open or closed, not open). */
        cr_assert_eq(rx_set_script(rx, "/cb", "200"), 0);
        for (end = ms() + 30000; wh_pool_circuit(p, ep) == 2;) {
                cr_assert_eq(rx_count(rx), before,
                             "a request reached the server while the "
                             "circuit was open");
                cr_assert_lt(ms(), end, "the circuit stayed open 30 s");
                wh_pool_run(p, 10, -1);
        }
        /* After open_ms one probe closes it. */
        run_until(p, &d, 1, 30000);
        cr_assert_eq(d.n, 1, "no outcome within 30 s of the half-open");
        cr_assert_eq(d.outcome, WH_OUT_OK, "%s", d.error);
        cr_assert_geq(d.at - opened_after, open_ms,
                      "the probe ended %lld ms after the circuit opened",
                      (long long)(d.at - opened_after));
        cr_assert_eq(wh_pool_circuit(p, ep), 0);
        cr_assert_eq(rx_count(rx), before + 1);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
}

Test(policy, gone_disables_the_endpoint)
{
        wh_pool_t *p = pool(0, 0, 0);
        wh_endpoint_t *ep = endpoint("gone", "/gone", 1, 3);
        done_t d[5] = {0};

        cr_assert_eq(rx_set_script(rx, "/gone", "410"), 0);
        for (int i = 0; i < 5; i++)
                wh_pool_submit(p, ep, "g", "{}", 2, 0, on_done, &d[i]);
        run_until(p, d, 5, 5000);
        cr_assert_eq(d[0].outcome, WH_OUT_PERMANENT);
        cr_assert_eq(d[0].status, 410);
        cr_assert_eq(wh_pool_disabled(p, ep), 1);
        /* cap 1: the others never went out */
        for (int i = 1; i < 5; i++)
                cr_assert_eq(d[i].outcome, WH_OUT_DISABLED);
        cr_assert_eq(rx_count(rx), 1);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
}

Test(policy, ssrf_guard_refuses_loopback_unless_allowed)
{
        wh_pool_t *p = pool(0, 0, 1); /* no allow-list */
        wh_endpoint_t *ep = endpoint("ssrf", "/ssrf", 0, 5);
        done_t d = {0};
        char url[128], err[256];
        cfg_webhook_t wh = {.name = "byname",
                            .url = url,
                            .timeout_ms = 2000,
                            .retry = {10, 50, 5}};
        wh_endpoint_t *byname;
        done_t d2 = {0};

        wh_pool_submit(p, ep, "s", "{}", 2, 1 /* forever */, on_done, &d);
        run_until(p, &d, 1, 5000);
        cr_assert_eq(d.outcome, WH_OUT_PERMANENT);
        cr_assert(strstr(d.error, "loopback") &&
                          strstr(d.error, "allow_networks"),
                  "%s", d.error);
        cr_assert_eq(rx_count(rx), 0);

        /* A name that resolves to loopback is refused just the same. */
        snprintf(url, sizeof(url), "http://localhost:%u/ssrf", rx_port(rx));
        byname = wh_endpoint_new(&wh, err, sizeof(err));
        cr_assert_not_null(byname, "%s", err);
        wh_pool_submit(p, byname, "s", "{}", 2, 0, on_done, &d2);
        run_until(p, &d2, 1, 5000);
        cr_assert_eq(d2.outcome, WH_OUT_PERMANENT, "%s", d2.error);
        cr_assert_eq(rx_count(rx), 0);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
        wh_endpoint_unref(byname);
}

/* WH_SUBMIT_DEFER (retry tiers, SPEC §4a): a delivery never waits for an
 * open circuit, neither queued when it opens nor submitted while it is
 * open, and is handed back without an attempt; one without the flag
 * still waits. */
Test(policy, deferred_deliveries_do_not_wait_for_an_open_circuit)
{
        wh_pool_t *p = pool(2, 5000, 0);
        wh_endpoint_t *ep = endpoint("df", "/df", 1, 2);
        done_t d[4] = {0}, late = {0}, waits = {0};

        cr_assert_eq(rx_set_script(rx, "/df", "503"), 0);
        /* cap 1: two failed attempts open it; the rest are queued or
         * wait for a retry */
        for (int i = 0; i < 4; i++)
                wh_pool_submit(p, ep, "d", "{}", 2, WH_SUBMIT_DEFER, on_done,
                               &d[i]);
        run_until(p, d, 4, 3000);
        cr_assert_eq(wh_pool_circuit(p, ep), 2);
        cr_assert_eq(rx_count(rx), 2);
        for (int i = 0; i < 4; i++) {
                cr_assert_eq(d[i].n, 1, "d[%d] waited for the circuit", i);
                cr_assert(d[i].outcome == WH_OUT_DEFERRED ||
                          (i == 0 && d[i].outcome == WH_OUT_EXHAUSTED));
        }
        /* submitted while open: handed back at once, no request */
        wh_pool_submit(p, ep, "l", "{}", 2, WH_SUBMIT_DEFER, on_done, &late);
        wh_pool_submit(p, ep, "w", "{}", 2, 0, on_done, &waits);
        run_until(p, &late, 1, 1000);
        cr_assert_eq(late.outcome, WH_OUT_DEFERRED);
        cr_assert(strstr(late.error, "circuit open") != NULL, "%s", late.error);
        wh_pool_run(p, 100, -1);
        cr_assert_eq(waits.n, 0, "the one without the flag waits");
        cr_assert_eq(rx_count(rx), 2);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
}

/* What a hand-back said: attempts used and why. */
typedef struct back_s {
        done_t d;
        int attempts, suspect, circuit_open;
} back_t;

static void on_back(const wh_result_t *r, void *opaque)
{
        back_t *b = opaque;

        b->attempts = r->attempts;
        b->suspect = r->suspect;
        b->circuit_open = r->circuit_open;
        on_done(r, &b->d);
}

/* Issue 11, a hanging subscriber: once an endpoint is suspect (an
 * attempt timed out), its WH_SUBMIT_DEFER deliveries do not wait for a
 * turn behind its one request: those queued when the time-out ends are
 * handed back then, one submitted while its request is on the wire at
 * once, all without an attempt; WH_SUBMIT_ONCE (a tier's attempt) and
 * no flag still wait. */
Test(policy, suspect_endpoint_hands_back_what_would_wait)
{
        wh_pool_t *p = pool(0, 0, 0);
        char url[128], err[256];
        cfg_webhook_t wh = {0};
        wh_endpoint_t *ep;
        back_t a = {0}, q[3] = {0}, late = {0}, once = {0}, plain = {0};
        int64_t t0;

        snprintf(url, sizeof(url), "http://127.0.0.1:%u/hang", rx_port(rx));
        wh.name = "hang";
        wh.url = url;
        wh.enabled = 1;
        wh.timeout_ms = 400;
        wh.retry.initial_ms = 10;
        wh.retry.max_ms = 50;
        wh.retry.max_attempts = 2;
        wh.max_in_flight = 1;
        ep = wh_endpoint_new(&wh, err, sizeof(err));
        cr_assert_not_null(ep, "%s", err);
        cr_assert_eq(rx_set_script(rx, "/hang", "200:delay=5000"), 0);
        /* cap 1: a on the wire, q[] queued behind it */
        t0 = ms();
        wh_pool_submit(p, ep, "a", "{}", 2, WH_SUBMIT_DEFER, on_back, &a);
        for (int i = 0; i < 3; i++)
                wh_pool_submit(p, ep, "q", "{}", 2, WH_SUBMIT_DEFER, on_back,
                               &q[i]);
        run_until(p, &q[0].d, 1, 3000);
        run_until(p, &q[2].d, 1, 1000);
        for (int i = 0; i < 3; i++) {
                cr_assert_eq(q[i].d.outcome, WH_OUT_DEFERRED);
                cr_assert(q[i].suspect && !q[i].circuit_open);
                cr_assert_eq(q[i].attempts, 0);
                /* at a's time-out, not one time-out each after it */
                cr_assert_lt(q[i].d.at - t0, 1000, "q[%d] after %lld ms", i,
                             (long long)(q[i].d.at - t0));
        }
        cr_assert(strstr(q[0].d.error, "suspect") != NULL, "%s", q[0].d.error);
        /* a's retry (due 10-50 ms after its time-out) goes on the wire */
        for (int64_t end = ms() + 1000;
             wh_pool_running_to(p, ep) == 0 && ms() < end;)
                wh_pool_run(p, 10, -1);
        cr_assert(a.d.n == 0 && wh_pool_running_to(p, ep) == 1,
                  "a's retry is not on the wire");
        /* a's second attempt is on the wire: a new one goes back at once,
         * a tier's attempt and one without the flag wait */
        wh_pool_submit(p, ep, "l", "{}", 2, WH_SUBMIT_DEFER, on_back, &late);
        wh_pool_submit(p, ep, "o", "{}", 2, WH_SUBMIT_DEFER | WH_SUBMIT_ONCE,
                       on_back, &once);
        wh_pool_submit(p, ep, "w", "{}", 2, 0, on_back, &plain);
        run_until(p, &late.d, 1, 200);
        cr_assert_eq(late.d.outcome, WH_OUT_DEFERRED);
        cr_assert(late.suspect && late.attempts == 0);
        cr_assert(once.d.n == 0 && plain.d.n == 0, "once %d, plain %d",
                  once.d.n, plain.d.n);
        /* a itself used its attempts (the pool's own retries) */
        run_until(p, &a.d, 1, 3000);
        cr_assert_eq(a.d.outcome, WH_OUT_EXHAUSTED);
        cr_assert_eq(a.attempts, 2);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
}

static int64_t last_retry_after;
static int last_attempts;

static void on_done_ra(const wh_result_t *r, void *opaque)
{
        last_retry_after = r->retry_after_ms;
        last_attempts = r->attempts;
        on_done(r, opaque);
}

/* A Retry-After beyond max_ms hands a WH_SUBMIT_DEFER delivery back
 * (with the wait asked) after one attempt; WH_SUBMIT_ONCE makes one
 * attempt only. */
Test(policy, long_retry_after_and_once)
{
        wh_pool_t *p = pool(0, 0, 0);
        wh_endpoint_t *ep = endpoint("ra", "/ra", 1, 5);
        done_t a = {0}, b = {0};

        cr_assert_eq(rx_set_script(rx, "/ra", "503:ra=30"), 0);
        wh_pool_submit(p, ep, "a", "{}", 2, WH_SUBMIT_DEFER, on_done_ra, &a);
        run_until(p, &a, 1, 3000);
        cr_assert_eq(a.outcome, WH_OUT_DEFERRED);
        cr_assert_eq(last_retry_after, 30000);
        cr_assert_eq(last_attempts, 1);
        cr_assert_eq(rx_set_script(rx, "/ra", "500"), 0);
        wh_pool_submit(p, ep, "b", "{}", 2, WH_SUBMIT_DEFER | WH_SUBMIT_ONCE,
                       on_done_ra, &b);
        run_until(p, &b, 1, 3000);
        cr_assert_eq(b.outcome, WH_OUT_EXHAUSTED);
        cr_assert_eq(last_attempts, 1);
        cr_assert_eq(last_retry_after, -1);
        cr_assert_eq(rx_count(rx), 2);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
}

/* wh_pool_cancel() (a reload disabled the webhook, issue 11 D2): what
 * waits for a retry or a slot ends as WH_OUT_CANCELLED at once, and no
 * request is made for it any more. */
Test(policy, cancel_ends_what_waits)
{
        wh_pool_t *p = pool(0, 0, 0);
        wh_endpoint_t *ep = endpoint("cx", "/cx", 1, 1000);
        done_t d[3] = {0};
        size_t before;

        cr_assert_eq(rx_set_script(rx, "/cx", "503"), 0);
        for (int i = 0; i < 3; i++)
                wh_pool_submit(p, ep, "c", "{}", 2, 0, on_done, &d[i]);
        for (int64_t end = ms() + 500; ms() < end;)
                wh_pool_run(p, 10, -1);
        cr_assert(rx_count(rx) >= 2, "retried");
        cr_assert_eq(wh_pool_cancel(p, ep), 3);
        run_until(p, d, 3, 2000);
        before = rx_count(rx);
        for (int i = 0; i < 3; i++)
                cr_assert_eq(d[i].outcome, WH_OUT_CANCELLED, "d[%d]: %d", i,
                             d[i].outcome);
        for (int64_t end = ms() + 300; ms() < end;)
                wh_pool_run(p, 10, -1);
        cr_assert_eq(rx_count(rx), before, "asked again after the cancel");
        cr_assert_eq(wh_pool_cancel(p, ep), 0);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
}
