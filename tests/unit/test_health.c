/* Tests for deployment-wide delivery health without Kafka: one replica's
 * accumulation (wk_health_acc), the record's key and JSON
 * (wk_health_rec), and the view that sums every replica's records
 * (wk_health_view): two replicas merged, the bounds and their evictions. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wk_api_health.h"
#include "wk_health.h"
#include "wk_health_acc.h"
#include "wk_health_rec.h"
#include "wk_health_view.h"
#include "rx_receiver.h"
#include "wh_pool.h"

#define NOW 1796136324000LL

/* Publish what \p a changed as replica \p replica into \p v, through the
 * JSON a record carries. @returns how many records. */
static size_t publish(wk_health_acc_t *a, const char *replica,
                      wk_health_view_t *v, int64_t now)
{
        wk_health_snap_t *s;
        size_t n = wk_health_acc_take(a, &s);
        wk_health_rec_t hb = {.replica = replica, .app = "", .id = ""};

        for (size_t i = 0; i < n; i++) {
                wk_health_rec_t r =
                                        {
                                                .replica = replica,
                                                .app = s[i].app,
                                                .id = s[i].id,
                                                .c = s[i].c,
                                                .error = s[i].error,
                                                .body = s[i].body,
                                                .updated_ms = now,
                                        },
                                back;
                char *j = wk_health_rec_to_json(&r), err[128];
                void *mem;
                cr_assert(j);
                cr_assert_eq(wk_health_rec_from_json(j, strlen(j), &back, &mem,
                                                     err, sizeof(err)),
                             0, "%s: %s", j, err);
                wk_health_view_apply(v, &back);
                free(mem);
                free(j);
        }
        wk_health_snaps_free(s, n);
        hb.updated_ms = now;
        wk_health_view_apply(v, &hb);
        return n;
}

Test(health, two_replicas_sum_to_the_deployment)
{
        wk_health_acc_t *a = wk_health_acc_new(0, NULL, NULL);
        wk_health_acc_t *b = wk_health_acc_new(0, NULL, NULL);
        wk_health_view_t *v = wk_health_view_new(0);
        wk_health_sum_t s;

        /* A: 7 delivered, 3 failed (the last a 503 at NOW+10), 2 handed
         * to a tier; B: 5 delivered, 1 failed (a 500 at NOW+20, the
         * latest), resolves 1 of A's hand-offs and dead-letters it; B's
         * circuit is open */
        for (int i = 0; i < 7; i++)
                wk_health_acc_attempt(a, "NX-acme", "wh_1", 200, NULL, NULL, 0,
                                      NOW + i);
        for (int i = 0; i < 3; i++)
                wk_health_acc_attempt(a, "NX-acme", "wh_1", 503, "", "busy", 4,
                                      NOW + 8 + i);
        wk_health_acc_event(a, "NX-acme", "wh_1", WK_HEALTH_HANDED_OFF);
        wk_health_acc_event(a, "NX-acme", "wh_1", WK_HEALTH_HANDED_OFF);
        for (int i = 0; i < 5; i++)
                wk_health_acc_attempt(b, "NX-acme", "wh_1", 204, NULL, NULL, 0,
                                      NOW + 11 + i);
        wk_health_acc_attempt(b, "NX-acme", "wh_1", 500, "boom",
                              "oops\n\x01\"x\\", 9, NOW + 20);
        wk_health_acc_event(b, "NX-acme", "wh_1",
                            WK_HEALTH_RESOLVED | WK_HEALTH_DEAD_LETTERED);
        wk_health_acc_state(b, "NX-acme", "wh_1", 2, 0);
        /* another app's webhook of the same id is another webhook */
        wk_health_acc_attempt(b, "NX-globex", "wh_1", 200, NULL, NULL, 0, NOW);

        cr_assert_eq(publish(a, "A", v, NOW + 30), 1);
        cr_assert_eq(publish(b, "B", v, NOW + 30), 2);
        cr_assert_eq(wk_health_view_sum(v, "NX-acme", "wh_1", NOW + 40, &s), 1);
        cr_assert_eq(s.delivered, 12);
        cr_assert_eq(s.failed, 4);
        cr_assert_eq(s.handed_off, 2);
        cr_assert_eq(s.resolved, 1);
        cr_assert_eq(s.in_retry, 1);
        cr_assert_eq(s.dead_lettered, 1);
        cr_assert_eq(s.last_success_ms, NOW + 15);
        cr_assert_eq(s.last_failure_ms, NOW + 20);
        cr_assert_eq(s.last_failure_status, 500);
        cr_assert_str_eq(s.error, "boom");
        cr_assert_str_eq(s.body, "oops\\x0a\\x01\"x\\\\");
        cr_assert_eq(s.replicas, 2);
        cr_assert_eq(s.alive, 2);
        cr_assert_eq(s.open, 1);
        cr_assert_eq(s.half_open, 0);
        cr_assert_eq(s.disabled, 0);
        cr_assert_eq(wk_health_view_sum(v, "NX-globex", "wh_1", NOW, &s), 1);
        cr_assert_eq(s.delivered, 1);
        cr_assert_eq(s.failed, 0);
        cr_assert_eq(wk_health_view_sum(v, "NX-other", "wh_1", NOW, &s), 0);
        cr_assert_eq(s.delivered, 0);

        /* nothing changed: nothing to publish; A's later record replaces
         * its earlier one (counts are totals, not increments) */
        cr_assert_eq(publish(a, "A", v, NOW + 31), 0);
        wk_health_acc_attempt(a, "NX-acme", "wh_1", 200, NULL, NULL, 0,
                              NOW + 50);
        wk_health_acc_event(a, "NX-acme", "wh_1", WK_HEALTH_RESOLVED);
        cr_assert_eq(publish(a, "A", v, NOW + 60), 1);
        wk_health_view_sum(v, "NX-acme", "wh_1", NOW + 60, &s);
        cr_assert_eq(s.delivered, 13);
        cr_assert_eq(s.in_retry, 0);
        cr_assert_eq(s.last_success_ms, NOW + 50);
        /* the latest failure stays B's */
        cr_assert_eq(s.last_failure_status, 500);

        /* B stops (or goes silent): its circuit no longer counts, its
         * counts still do */
        wk_health_view_apply(v, &(wk_health_rec_t){.replica = "B",
                                                   .app = "",
                                                   .id = "",
                                                   .updated_ms = NOW + 61,
                                                   .stopped = 1});
        wk_health_view_sum(v, "NX-acme", "wh_1", NOW + 62, &s);
        cr_assert_eq(s.open, 0);
        cr_assert_eq(s.alive, 1);
        cr_assert_eq(s.delivered, 13);
        wk_health_view_sum(v, "NX-acme", "wh_1", NOW + 60 + WK_HEALTH_ALIVE_MS,
                           &s);
        cr_assert_eq(s.alive, 0);

        wk_health_acc_destroy(a);
        wk_health_acc_destroy(b);
        wk_health_view_destroy(v);
}

Test(health, in_retry_never_below_zero)
{
        wk_health_acc_t *b = wk_health_acc_new(0, NULL, NULL);
        wk_health_view_t *v = wk_health_view_new(0);
        wk_health_sum_t s;

        /* B resolved a hand-off whose replica has not published yet */
        wk_health_acc_event(b, "NX-acme", "wh_1", WK_HEALTH_RESOLVED);
        publish(b, "B", v, NOW);
        wk_health_view_sum(v, "NX-acme", "wh_1", NOW, &s);
        cr_assert_eq(s.resolved, 1);
        cr_assert_eq(s.in_retry, 0);
        wk_health_acc_destroy(b);
        wk_health_view_destroy(v);
}

Test(health, state_alone_adds_only_what_is_not_the_default)
{
        wk_health_acc_t *a = wk_health_acc_new(0, NULL, NULL);
        wk_health_snap_t *s;
        size_t n, entries;
        uint64_t evicted;

        wk_health_acc_state(a, "NX-acme", "wh_1", 0, 0);
        wk_health_acc_stats(a, &entries, &evicted);
        cr_assert_eq(entries, 0);
        wk_health_acc_state(a, "NX-acme", "wh_1", 0, 1);
        n = wk_health_acc_take(a, &s);
        cr_assert_eq(n, 1);
        cr_assert_eq(s[0].c.disabled, 1);
        wk_health_snaps_free(s, n);
        /* the same state again is no change */
        wk_health_acc_state(a, "NX-acme", "wh_1", 0, 1);
        cr_assert_eq(wk_health_acc_take(a, &s), 0);
        wk_health_acc_state(a, "NX-acme", "wh_1", 2, 1);
        n = wk_health_acc_take(a, &s);
        cr_assert_eq(n, 1);
        cr_assert_eq(s[0].c.circuit, 2);
        wk_health_snaps_free(s, n);
        wk_health_acc_destroy(a);
}

/* The view as a seed: a webhook evicted from the accumulator starts
 * again from what its replica published. */
static int seed(void *opaque, const char *app, const char *id,
                wk_health_counts_t *c)
{
        return wk_health_view_own(opaque, "A", app, id, c);
}

Test(health, accumulator_bound_evicts_published_first_and_reseeds)
{
        wk_health_view_t *v = wk_health_view_new(0);
        wk_health_acc_t *a = wk_health_acc_new(3, seed, v);
        wk_health_snap_t *s;
        wk_health_sum_t sum;
        size_t entries, n;
        uint64_t evicted;
        char id[16];

        for (int i = 0; i < 3; i++) {
                snprintf(id, sizeof(id), "wh_%d", i);
                for (int k = 0; k <= i; k++)
                        wk_health_acc_attempt(a, "NX", id, 200, NULL, NULL, 0,
                                              NOW);
        }
        cr_assert_eq(publish(a, "A", v, NOW), 3);
        /* wh_1 changes again: unpublished; a fourth webhook evicts the
         * oldest published one, wh_0, not wh_1 */
        wk_health_acc_attempt(a, "NX", "wh_1", 500, "x", NULL, 0, NOW + 1);
        wk_health_acc_attempt(a, "NX", "wh_3", 200, NULL, NULL, 0, NOW + 2);
        wk_health_acc_stats(a, &entries, &evicted);
        cr_assert_eq(entries, 3);
        cr_assert_eq(evicted, 1);
        n = wk_health_acc_take(a, &s);
        cr_assert_eq(n, 2); /* wh_1 and wh_3 */
        for (size_t i = 0; i < n; i++)
                cr_assert(strcmp(s[i].id, "wh_0"));
        wk_health_snaps_free(s, n);
        /* wh_0 comes back: it goes on from the 1 it had published */
        wk_health_acc_attempt(a, "NX", "wh_0", 200, NULL, NULL, 0, NOW + 3);
        publish(a, "A", v, NOW + 3);
        wk_health_view_sum(v, "NX", "wh_0", NOW + 3, &sum);
        cr_assert_eq(sum.delivered, 2);
        wk_health_acc_destroy(a);
        wk_health_view_destroy(v);
}

Test(health, view_bound_evicts_the_least_recently_updated)
{
        wk_health_view_t *v = wk_health_view_new(4);
        wk_health_sum_t s;
        size_t records, webhooks, replicas;
        uint64_t evicted;
        char id[16];

        /* 3 webhooks x 2 replicas = 6 records into room for 4 */
        for (int i = 0; i < 3; i++)
                for (int r = 0; r < 2; r++) {
                        snprintf(id, sizeof(id), "wh_%d", i);
                        wk_health_view_apply(
                                v, &(wk_health_rec_t){.replica = r ? "B" : "A",
                                                      .app = "NX",
                                                      .id = id,
                                                      .c = {.delivered = 10},
                                                      .updated_ms = NOW + i});
                }
        wk_health_view_stats(v, &records, &webhooks, &replicas, &evicted);
        cr_assert_eq(records, 4);
        cr_assert_eq(webhooks, 2); /* wh_0 went with its last record */
        cr_assert_eq(evicted, 2);
        cr_assert_eq(wk_health_view_sum(v, "NX", "wh_0", NOW, &s), 0);
        wk_health_view_sum(v, "NX", "wh_2", NOW, &s);
        cr_assert_eq(s.delivered, 20);
        /* a replaced record is the most recently updated: wh_1 of A is
         * updated, so B's wh_1 goes next */
        wk_health_view_apply(v, &(wk_health_rec_t){.replica = "A",
                                                   .app = "NX",
                                                   .id = "wh_1",
                                                   .c = {.delivered = 11},
                                                   .updated_ms = NOW + 5});
        wk_health_view_apply(v, &(wk_health_rec_t){.replica = "C",
                                                   .app = "NX",
                                                   .id = "wh_9",
                                                   .c = {.delivered = 1},
                                                   .updated_ms = NOW + 6});
        wk_health_view_sum(v, "NX", "wh_1", NOW, &s);
        cr_assert_eq(s.delivered, 11);
        cr_assert_eq(s.replicas, 1);
        wk_health_view_stats(v, &records, &webhooks, &replicas, &evicted);
        cr_assert_eq(records, 4);
        cr_assert_eq(evicted, 3);
        cr_assert_eq(replicas, 3);
        wk_health_view_destroy(v);
}

Test(health, a_bounded_view_holds_200k_records)
{
        wk_health_view_t *v = wk_health_view_new(0);
        size_t records, webhooks, replicas;
        uint64_t evicted;
        char id[32];

        for (int i = 0; i < 210000; i++) {
                snprintf(id, sizeof(id), "wh_%d", i);
                wk_health_view_apply(
                        v, &(wk_health_rec_t){.replica = i & 1 ? "B" : "A",
                                              .app = "NX",
                                              .id = id,
                                              .c = {.delivered = 1},
                                              .updated_ms = NOW});
        }
        wk_health_view_stats(v, &records, &webhooks, &replicas, &evicted);
        cr_assert_eq(records, 200000);
        cr_assert_eq(webhooks, 200000);
        cr_assert_eq(evicted, 10000);
        wk_health_view_destroy(v);
}

Test(health, records_key_and_bad_json)
{
        wk_health_rec_t r = {.replica = "A", .app = "NX", .id = "wh_1"}, back;
        char key[512], err[128];
        void *mem;

        cr_assert_eq(wk_health_rec_key(&r, key, sizeof(key)), 9);
        cr_assert_eq(memcmp(key, "A\x1fNX\x1fwh_1", 9), 0);
        r.id = "";
        cr_assert_eq(wk_health_rec_key(&r, key, sizeof(key)), 1);
        r.id = "a\x1f";
        cr_assert_eq(wk_health_rec_key(&r, key, sizeof(key)), 0);
        cr_assert_eq(
                wk_health_rec_from_json("[]", 2, &back, &mem, err, sizeof(err)),
                -1);
        free(mem);
        cr_assert_eq(wk_health_rec_from_json("{\"format\":2}", 12, &back, &mem,
                                             err, sizeof(err)),
                     -1);
        free(mem);
        {
                const char *j = "{\"format\":1,\"replica\":\"A\",\"app\":\"\","
                                "\"id\":\"x\",\"delivered\":-1}";
                cr_assert_eq(wk_health_rec_from_json(j, strlen(j), &back, &mem,
                                                     err, sizeof(err)),
                             -1);
                cr_assert(strstr(err, "delivered"));
                free(mem);
        }
}

Test(health, escape_is_bounded_and_whole)
{
        char big[1000], out[WK_HEALTH_BODY_MAX + 1];
        size_t n;

        memset(big, 0x01, sizeof(big));
        n = wk_health_escape(big, sizeof(big), out, sizeof(out));
        cr_assert_eq(n, WK_HEALTH_BODY_MAX);
        cr_assert_eq(n % 4, 0); /* whole \xNN escapes */
        n = wk_health_escape("ok", 2, out, sizeof(out));
        cr_assert_str_eq(out, "ok");
        cr_assert_eq(n, 2);
}

Test(health, local_health_and_the_api_document)
{
        wk_health_t *h = wk_health_new_local("A", 0);
        wk_health_sum_t s;
        json_object *o, *f;
        const char *text;

        wk_health_attempt(h, "NX", "wh_1", 200, NULL, NULL, 0);
        wk_health_attempt(h, "NX", "wh_1", 0, "Connection refused", NULL, 0);
        wk_health_state(h, "NX", "wh_1", 1, 0);
        cr_assert_eq(wk_health_get(h, "NX", "wh_1", &s), 0);
        wk_health_publish(h);
        cr_assert_eq(wk_health_get(h, "NX", "wh_1", &s), 1);
        cr_assert(wk_health_caught_up(h));
        o = wk_api_health_doc("NX", "wh_1", &s, 1);
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        cr_log_info("%s", text);
        cr_assert(strstr(text, "\"delivered\":1,\"failed\":1,\"in_retry\":0,"
                               "\"dead_lettered\":0"),
                  "%s", text);
        /* no HTTP status: null; the circuit: the worst alive */
        cr_assert(strstr(text, "\"status\":null,\"error\":\"Connection "
                               "refused\",\"response_start\":null"),
                  "%s", text);
        cr_assert(strstr(text, "\"circuit\":\"half-open\""), "%s", text);
        cr_assert(strstr(text, "\"replicas\":{\"reporting\":1,\"alive\":1}"),
                  "%s", text);
        cr_assert(json_object_object_get_ex(o, "last_failure", &f));
        /* times in unix seconds with exactly three decimals */
        cr_assert(json_object_object_get_ex(f, "at", &f));
        text = json_object_to_json_string(f);
        cr_assert(strchr(text, '.') && strlen(strchr(text, '.')) == 4, "%s",
                  text);
        json_object_put(o);
        /* nothing yet: zeros and nulls, not an error */
        memset(&s, 0, sizeof(s));
        o = wk_api_health_doc("NX", "wh_2", &s, 0);
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        cr_assert(strstr(text, "\"last_success\":null,\"last_failure\":null"),
                  "%s", text);
        cr_assert(strstr(text, "\"circuit\":\"closed\""), "%s", text);
        cr_assert(strstr(text, "\"complete\":false"), "%s", text);
        json_object_put(o);
        wk_health_destroy(h);
}

static void done(const wh_result_t *res, void *opaque)
{
        *(int *)opaque = res->outcome == WH_OUT_OK ? 1 : -1;
}

/* The pool's attempt-info hook feeds the health: a 500 with a body then a
 * 200 (one delivery, two attempts), then a connection refused. */
Test(health, the_pools_attempts_reach_the_health)
{
        rx_conf_t rc = {0};
        char err[256], url[64];
        rx_t *rx = rx_start(&rc, err, sizeof(err));
        wh_pool_conf_t pc = {.max_in_flight = 2, .connect_timeout_ms = 1000};
        wh_pool_t *p = wh_pool_new(&pc, err, sizeof(err));
        wk_health_t *h = wk_health_new_local("A", 0);
        cfg_webhook_t wh = {0};
        wh_endpoint_t *ep;
        wk_health_sum_t s;
        int outcome = 0;

        cr_assert(rx && p && h, "%s", err);
        cr_assert_eq(rx_set_script(rx, "/h", "500,200"), 0);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/h", rx_port(rx));
        wh.name = "wh_1";
        wh.app_token = "NX-acme";
        wh.url = url;
        wh.enabled = 1;
        wh.signature = CFG_SIG_STANDARD;
        wh.timeout_ms = 2000;
        wh.retry.initial_ms = 10;
        wh.retry.max_ms = 20;
        wh.retry.max_attempts = 3;
        ep = wh_endpoint_new(&wh, err, sizeof(err));
        cr_assert(ep, "%s", err);
        wh_pool_set_attempt_info_cb(p, wk_health_on_attempt, h);
        cr_assert_eq(wh_pool_submit(p, ep, "evt-1", "{}", 2, 0, done, &outcome),
                     0);
        for (int i = 0; i < 200 && wh_pool_pending(p); i++)
                cr_assert_geq(wh_pool_run(p, 50, -1), 0);
        cr_assert_eq(outcome, 1);
        wh_endpoint_unref(ep);
        wk_health_publish(h);
        cr_assert_eq(wk_health_get(h, "NX-acme", "wh_1", &s), 1);
        cr_expect_eq(s.delivered, 1);
        cr_expect_eq(s.failed, 1);
        cr_expect_eq(s.last_failure_status, 500);
        cr_expect_str_eq(s.body, "injected fault\\x0a");
        cr_expect_geq(s.last_success_ms, s.last_failure_ms);

        /* nothing listens there: no status, the transport's error */
        rx_stop(rx);
        wh.retry.max_attempts = 1;
        ep = wh_endpoint_new(&wh, err, sizeof(err));
        cr_assert(ep, "%s", err);
        outcome = 0;
        cr_assert_eq(wh_pool_submit(p, ep, "evt-2", "{}", 2, 0, done, &outcome),
                     0);
        for (int i = 0; i < 200 && wh_pool_pending(p); i++)
                cr_assert_geq(wh_pool_run(p, 50, -1), 0);
        wh_endpoint_unref(ep);
        wk_health_publish(h);
        wk_health_get(h, "NX-acme", "wh_1", &s);
        cr_expect_eq(s.failed, 2);
        cr_expect_eq(s.last_failure_status, 0);
        cr_expect_neq(s.error[0], '\0');
        cr_log_info("a refused connection: \"%s\"", s.error);
        wh_pool_destroy(p);
        wk_health_destroy(h);
}
