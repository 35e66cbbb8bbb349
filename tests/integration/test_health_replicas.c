/* Integration: deployment-wide delivery health against a real broker.
 * Two replicas' wk_health on one health topic (created compact,delete
 * with a retention): what each accumulates is published and summed by
 * both within seconds, a replica started later loads it all, a stopped
 * replica's circuit no longer counts while its counts still do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>

#include "it_util.h"
#include "wk_health.h"

static wk_health_t *replica(const char *topic, const char *id)
{
        wk_health_conf_t c = {.brokers = it_brokers(),
                              .topic = topic,
                              .replication_factor = 1,
                              .replica = id};
        char err[512];
        wk_health_t *h = wk_health_new(&c, err, sizeof(err));

        cr_assert(h, "wk_health_new: %s", err);
        return h;
}

/* Wait up to \p ms until \p h sums (\p app, \p id) to \p delivered
 * delivered and \p failed failed. @returns the milliseconds it took, or
 * -1 (\p out: the last sum). */
static int64_t wait_sum(wk_health_t *h, const char *app, const char *id,
                        uint64_t delivered, uint64_t failed, int ms,
                        wk_health_sum_t *out)
{
        int64_t t0 = it_now_ms();

        while (it_now_ms() - t0 < ms) {
                wk_health_get(h, app, id, out);
                if (out->delivered == delivered && out->failed == failed)
                        return it_now_ms() - t0;
                struct timespec ts = {0, 20 * 1000000L};
                nanosleep(&ts, NULL);
        }
        return -1;
}

/* Topic config \p name of \p topic into \p out. */
static void topic_config(const char *topic, const char *name, char *out,
                         size_t size)
{
        rd_kafka_t *rk = it_producer();
        rd_kafka_ConfigResource_t *res =
                rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        const rd_kafka_ConfigResource_t **rs;
        const rd_kafka_ConfigEntry_t **ce;
        rd_kafka_event_t *ev;
        size_t n = 0, nc = 0;

        snprintf(out, size, "(none)");
        rd_kafka_DescribeConfigs(rk, &res, 1, NULL, q);
        ev = rd_kafka_queue_poll(q, 10000);
        cr_assert(ev);
        rs = rd_kafka_DescribeConfigs_result_resources(
                rd_kafka_event_DescribeConfigs_result(ev), &n);
        cr_assert_eq(n, 1);
        ce = rd_kafka_ConfigResource_configs(rs[0], &nc);
        for (size_t i = 0; i < nc; i++)
                if (!strcmp(rd_kafka_ConfigEntry_name(ce[i]), name))
                        snprintf(out, size, "%s",
                                 rd_kafka_ConfigEntry_value(ce[i]));
        rd_kafka_event_destroy(ev);
        rd_kafka_ConfigResource_destroy(res);
        rd_kafka_queue_destroy(q);
        rd_kafka_destroy(rk);
}

Test(health, two_replicas_share_health_through_kafka, .timeout = 240)
{
        char topic[128], conf[128];
        wk_health_t *a, *b, *c;
        wk_health_sum_t s;
        wk_health_stats_t st;
        int64_t ms;

        it_unique("hb-health", topic, sizeof(topic));
        a = replica(topic, "A");
        b = replica(topic, "B");
        /* A: 30 attempts, 10 of them 503s, 4 deliveries handed to a
         * tier; B: 20 attempts, the last 5 failed (a 500 with a body),
         * 3 of A's hand-offs resolved, one of them dead-lettered; B's
         * circuit open. Another app's webhook of the same id apart. */
        for (int i = 0; i < 30; i++)
                wk_health_attempt(a, "NX-h", "wh_1", i % 3 ? 200 : 503, NULL,
                                  "busy", 4);
        for (int i = 0; i < 4; i++)
                wk_health_event(a, "NX-h", "wh_1", WK_HEALTH_HANDED_OFF);
        struct timespec gap = {0, 5 * 1000000L};
        nanosleep(&gap, NULL);
        for (int i = 0; i < 20; i++)
                wk_health_attempt(b, "NX-h", "wh_1", i < 15 ? 204 : 500,
                                  i < 15 ? NULL : "", "{\"error\":\"db\"}\n",
                                  15);
        wk_health_event(b, "NX-h", "wh_1", WK_HEALTH_RESOLVED);
        wk_health_event(b, "NX-h", "wh_1", WK_HEALTH_RESOLVED);
        wk_health_event(b, "NX-h", "wh_1",
                        WK_HEALTH_RESOLVED | WK_HEALTH_DEAD_LETTERED);
        wk_health_state(b, "NX-h", "wh_1", 2, 0);
        wk_health_attempt(b, "NX-other", "wh_1", 200, NULL, NULL, 0);

        /* both see the deployment's totals within a few seconds */
        ms = wait_sum(a, "NX-h", "wh_1", 20 + 15, 10 + 5, 15000, &s);
        cr_assert_neq(ms, -1, "A: delivered %llu failed %llu",
                      (unsigned long long)s.delivered,
                      (unsigned long long)s.failed);
        cr_log_info("health: A saw the deployment's totals after %lld ms",
                    (long long)ms);
        ms = wait_sum(b, "NX-h", "wh_1", 35, 15, 15000, &s);
        cr_assert_neq(ms, -1);
        cr_log_info("health: B saw them after %lld ms", (long long)ms);
        cr_expect_eq(s.in_retry, 1);
        cr_expect_eq(s.dead_lettered, 1);
        cr_expect_eq(s.last_failure_status, 500);
        cr_expect_str_eq(s.body, "{\"error\":\"db\"}\\x0a");
        cr_expect_eq(s.replicas, 2);
        cr_expect_eq(s.alive, 2);
        cr_expect_eq(s.open, 1);
        cr_expect_gt(s.last_success_ms, 0);
        cr_expect_gt(s.last_failure_ms, 0);
        wk_health_get(a, "NX-other", "wh_1", &s);
        cr_expect_eq(s.delivered, 1);
        cr_expect_eq(s.replicas, 1);

        /* the topic as created */
        topic_config(topic, "cleanup.policy", conf, sizeof(conf));
        cr_expect_str_eq(conf, "compact,delete");
        topic_config(topic, "retention.ms", conf, sizeof(conf));
        cr_expect_str_eq(conf, "604800000");

        /* a replica started later loads it all */
        c = replica(topic, "C");
        ms = wait_sum(c, "NX-h", "wh_1", 35, 15, 15000, &s);
        cr_assert_neq(ms, -1);
        cr_expect(wk_health_caught_up(c));
        cr_log_info("health: a later replica loaded them in %lld ms",
                    (long long)ms);

        /* B stops: its last heartbeat says so; its counts stay, its open
         * circuit no longer counts */
        wk_health_destroy(b);
        for (int i = 0; i < 500; i++) {
                wk_health_get(a, "NX-h", "wh_1", &s);
                if (s.alive == 1)
                        break;
                nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
        }
        cr_expect_eq(s.alive, 1);
        cr_expect_eq(s.open, 0);
        cr_expect_eq(s.delivered, 35);
        wk_health_stats(a, &st);
        cr_expect_eq(st.records_evicted, 0);
        cr_expect_eq(st.publish_errors, 0);
        cr_expect_geq(st.replicas, 3);
        wk_health_destroy(a);
        wk_health_destroy(c);
}
