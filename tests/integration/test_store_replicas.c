/* Integration: the webhook store (wk_store) against a real broker: two
 * replicas on one topic (a write on A visible on B within 2 s, read-your-
 * writes on the writer), concurrent writes on the same base version (one
 * applied, the other a conflict, ignored alike by both), tombstones, and
 * a replica started later that loads everything before it is ready. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>

#include "it_util.h"
#include "wk_store.h"

static const unsigned char key[WK_SEAL_KEY_LEN] = {
        9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4,
        3, 2, 1, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8};

static wk_store_t *replica(const char *topic)
{
        wk_store_conf_t c = {.brokers = it_brokers(),
                             .topic = topic,
                             .replication_factor = 1,
                             .key = key};
        char err[512];
        wk_store_t *s = wk_store_new(&c, err, sizeof(err));

        cr_assert(s, "wk_store_new: %s", err);
        return s;
}

/* A webhook \p id of app NX-store named \p name (with a secret). */
static wk_hook_t hook(const char *id, const char *name)
{
        static wk_hook_event_t evs[] = {{"*", 1}};

        return (wk_hook_t){.id = (char *)id,
                           .app_token = "NX-store",
                           .name = (char *)name,
                           .url = "https://example.com/hook",
                           .enabled = 1,
                           .events = evs,
                           .event_count = 1,
                           .secret = "whsec_c2VjcmV0LXN0b3Jl"};
}

/* Wait up to \p ms for \p s to hold \p id at \p version (0: to hold none).
 * @returns the milliseconds it took, or -1. */
static int64_t wait_version(wk_store_t *s, const char *id, int64_t version,
                            int ms)
{
        int64_t t0 = it_now_ms();

        while (it_now_ms() - t0 < ms) {
                if (wk_store_version(s, id) == version)
                        return it_now_ms() - t0;
                struct timespec ts = {0, 5 * 1000000L};
                nanosleep(&ts, NULL);
        }
        return -1;
}

static const char *name_of(wk_store_t *s, const char *id, char *buf,
                           size_t size)
{
        wk_hook_t *h = wk_store_get(s, id, NULL);

        if (!h)
                return "(none)";
        snprintf(buf, size, "%s", h->name);
        wk_hook_free(h);
        return buf;
}

/* The topic as created: one partition, cleanup.policy=compact. */
static void check_topic(const char *topic)
{
        rd_kafka_t *rk = it_producer();
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
        rd_kafka_ConfigResource_t *res =
                rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_event_t *ev;
        const rd_kafka_ConfigResource_t **rs;
        const rd_kafka_ConfigEntry_t **ce;
        size_t n = 0, nc = 0;
        const char *policy = NULL;

        cr_assert_eq(rd_kafka_metadata(rk, 0, t, &md, 10000), 0);
        cr_assert_eq(md->topic_cnt, 1);
        cr_expect_eq(md->topics[0].partition_cnt, 1);
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(t);
        rd_kafka_DescribeConfigs(rk, &res, 1, NULL, q);
        ev = rd_kafka_queue_poll(q, 10000);
        cr_assert(ev);
        rs = rd_kafka_DescribeConfigs_result_resources(
                rd_kafka_event_DescribeConfigs_result(ev), &n);
        cr_assert_eq(n, 1);
        ce = rd_kafka_ConfigResource_configs(rs[0], &nc);
        for (size_t i = 0; i < nc; i++)
                if (!strcmp(rd_kafka_ConfigEntry_name(ce[i]), "cleanup.policy"))
                        policy = rd_kafka_ConfigEntry_value(ce[i]);
        cr_expect_str_eq(policy ? policy : "(none)", "compact");
        rd_kafka_event_destroy(ev);
        rd_kafka_ConfigResource_destroy(res);
        rd_kafka_queue_destroy(q);
        rd_kafka_destroy(rk);
}

/* One of two concurrent writers. */
typedef struct racer_s {
        wk_store_t *s;
        const char *id, *name;
        int64_t base, version;
        int rc;
        pthread_barrier_t *go;
        char err[512];
} racer_t;

static void *race(void *arg)
{
        racer_t *r = arg;
        wk_hook_t h = hook(r->id, r->name);

        pthread_barrier_wait(r->go);
        r->rc = wk_store_put(r->s, &h, r->base, &r->version, r->err,
                             sizeof(r->err));
        return NULL;
}

Test(store, two_replicas_conflicts_tombstones_late_replica, .timeout = 240)
{
        char topic[128], buf[64], buf2[64], err[512];
        wk_store_t *a, *b, *c;
        int64_t v1 = 0, v, ms, worst = 0, t0;
        wk_hook_t h = hook("wh-1", "first");
        wk_hook_t *got;
        int wins_a = 0, wins_b = 0;

        it_unique("hb-store", topic, sizeof(topic));
        a = replica(topic);
        b = replica(topic);
        cr_assert(wk_store_wait_ready(a, 10000));
        cr_assert(wk_store_wait_ready(b, 10000));
        check_topic(topic);

        /* a write on A: applied on A when it returns, on B within 2 s */
        ms = it_now_ms();
        cr_assert_eq(wk_store_put(a, &h, 0, &v1, err, sizeof(err)), 0, "%s",
                     err);
        fprintf(stderr, "store: a write on A returned after %lld ms\n",
                (long long)(it_now_ms() - ms));
        cr_expect_eq(wk_store_version(a, "wh-1"), v1, "read-your-writes");
        ms = wait_version(b, "wh-1", v1, 2000);
        cr_assert_geq(ms, 0, "not on B within 2 s");
        fprintf(stderr, "store: A's write visible on B after %lld ms\n",
                (long long)ms);
        got = wk_store_get(b, "wh-1", &v);
        cr_assert(got);
        cr_expect_eq(v, v1);
        cr_expect_str_eq(got->secret, "whsec_c2VjcmV0LXN0b3Jl");
        cr_expect_str_eq(got->app_token, "NX-store");
        wk_hook_free(got);
        /* a create of an existing id is a conflict */
        cr_expect_eq(wk_store_put(b, &h, 0, &v, err, sizeof(err)),
                     WK_STORE_CONFLICT);

        /* concurrent writes on the same base: one wins, alike on both */
        for (int round = 0; round < 10; round++) {
                pthread_barrier_t go;
                pthread_t ta, tb;
                int64_t base = wk_store_version(a, "wh-1");
                char na[32], nb[32];
                racer_t ra = {a, "wh-1", na, base, 0, -1, &go, ""};
                racer_t rb = {b, "wh-1", nb, base, 0, -1, &go, ""};
                racer_t *win, *lose;

                cr_assert_eq(wait_version(b, "wh-1", base, 2000) >= 0, 1);
                snprintf(na, sizeof(na), "from-a-%d", round);
                snprintf(nb, sizeof(nb), "from-b-%d", round);
                pthread_barrier_init(&go, NULL, 2);
                pthread_create(&ta, NULL, race, &ra);
                pthread_create(&tb, NULL, race, &rb);
                pthread_join(ta, NULL);
                pthread_join(tb, NULL);
                pthread_barrier_destroy(&go);
                cr_assert(ra.rc >= 0 && rb.rc >= 0, "a: %s b: %s", ra.err,
                          rb.err);
                cr_assert_eq(ra.rc + rb.rc, 1,
                             "round %d: exactly one conflict (a %d, b %d)",
                             round, ra.rc, rb.rc);
                win = ra.rc == 0 ? &ra : &rb;
                lose = ra.rc == 0 ? &rb : &ra;
                wins_a += ra.rc == 0;
                wins_b += rb.rc == 0;
                cr_expect_lt(win->version, lose->version,
                             "the first in the log wins");
                /* both replicas: the winner's, the loser's ignored */
                cr_assert_geq(wait_version(a, "wh-1", win->version, 2000), 0);
                cr_assert_geq(wait_version(b, "wh-1", win->version, 2000), 0);
                while (wk_store_position(a) < lose->version ||
                       wk_store_position(b) < lose->version)
                        nanosleep(&(struct timespec){0, 5000000L}, NULL);
                cr_expect_str_eq(name_of(a, "wh-1", buf, sizeof(buf)),
                                 win->name);
                cr_expect_str_eq(name_of(b, "wh-1", buf2, sizeof(buf2)),
                                 win->name);
                cr_expect_eq(wk_store_outcome(a, lose->version - 1),
                             WK_STORE_IGNORED);
                cr_expect_eq(wk_store_outcome(b, lose->version - 1),
                             WK_STORE_IGNORED);
                /* the loser restated: the key's last record applied, the
                 * winner's version kept (what compaction would leave) */
                while (wk_store_position(a) != wk_store_position(b))
                        nanosleep(&(struct timespec){0, 5000000L}, NULL);
                cr_expect_gt(wk_store_position(a), lose->version);
                cr_expect_eq(wk_store_outcome(a, wk_store_position(a) - 1),
                             WK_STORE_APPLIED);
                cr_expect_eq(wk_store_outcome(b, wk_store_position(b) - 1),
                             WK_STORE_APPLIED);
                cr_expect_eq(wk_store_version(a, "wh-1"), win->version);
                cr_expect_eq(wk_store_version(b, "wh-1"), win->version);
        }
        fprintf(stderr, "store: 10 races: A won %d, B won %d\n", wins_a,
                wins_b);

        /* a tombstone on B removes it on both; a stale one is a conflict */
        v = wk_store_version(b, "wh-1");
        cr_expect_eq(wk_store_delete(b, "wh-1", v - 1, &v1, err, sizeof(err)),
                     WK_STORE_CONFLICT);
        cr_assert_eq(wk_store_delete(b, "wh-1", v, &v1, err, sizeof(err)), 0,
                     "%s", err);
        cr_expect_null(wk_store_get(b, "wh-1", NULL));
        ms = wait_version(a, "wh-1", 0, 2000);
        cr_assert_geq(ms, 0, "tombstone not on A within 2 s");
        cr_expect_null(wk_store_get(a, "wh-1", NULL));

        /* more webhooks, some changed, some deleted, then a late replica */
        t0 = it_now_ms();
        for (int i = 0; i < 300; i++) {
                char id[32];
                wk_hook_t w;

                snprintf(id, sizeof(id), "wh-many-%d", i);
                w = hook(id, "many");
                cr_assert_eq(wk_store_put(i % 2 ? a : b, &w, 0, &v, err,
                                          sizeof(err)),
                             0, "%s", err);
                if (i % 3 == 0) {
                        w.name = "changed";
                        cr_assert_eq(
                                wk_store_put(a, &w, v, &v, err, sizeof(err)), 0,
                                "%s", err);
                }
                if (i % 5 == 0)
                        cr_assert_eq(
                                wk_store_delete(a, id, v, &v, err, sizeof(err)),
                                0, "%s", err);
        }
        fprintf(stderr, "store: 460 writes read back in %lld ms\n",
                (long long)(it_now_ms() - t0));
        cr_assert_geq(wait_version(b, "wh-many-299",
                                   wk_store_version(a, "wh-many-299"), 2000),
                      0);
        t0 = it_now_ms();
        c = replica(topic);
        cr_expect_eq(wk_store_count(c) <= wk_store_count(a), 1);
        cr_assert(wk_store_wait_ready(c, 10000));
        fprintf(stderr,
                "store: late replica ready after %lld ms with %zu webhooks "
                "(A %zu, B %zu)\n",
                (long long)(it_now_ms() - t0), wk_store_count(c),
                wk_store_count(a), wk_store_count(b));
        /* everything loaded by the time it says ready */
        cr_expect_eq(wk_store_count(c), 240);
        cr_expect_eq(wk_store_count(a), 240);
        cr_expect_eq(wk_store_count(b), 240);
        for (int i = 0; i < 300; i++) {
                char id[32];

                snprintf(id, sizeof(id), "wh-many-%d", i);
                v = wk_store_version(a, id);
                if (wk_store_version(c, id) != v ||
                    wk_store_version(b, id) != v)
                        worst++;
                cr_expect_str_eq(name_of(c, id, buf, sizeof(buf)),
                                 name_of(a, id, buf2, sizeof(buf2)));
        }
        cr_expect_eq(worst, 0, "%lld ids differ in version", (long long)worst);
        wk_store_destroy(c);
        wk_store_destroy(b);
        wk_store_destroy(a);
}
