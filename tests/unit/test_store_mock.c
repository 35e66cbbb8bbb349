/* Tests of the webhook store (wk_store, its writer and reader) on
 * librdkafka's mock cluster, as `hookbridge demo` runs it: a store topic
 * that exists is taken without CreateTopics (which never gets an answer
 * there), writes are read back, a second replica loads them from the
 * start and is ready only then; the reader's ask for the topic's end
 * keeps to its time-out when the broker is slow to answer. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "hb_log.h"
#include "hb_time.h"
#include "kc_store.h"
#include "wk_store.h"

#define TOPIC "hookbridge.webhooks"

static const unsigned char key[WK_SEAL_KEY_LEN] = {7};
static const char *const props[] = {"log_level"}, *const vals[] = {"0"};
static rd_kafka_t *mrk;
static rd_kafka_mock_cluster_t *mc;

static void up(void)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char why[256];

        hb_log_setup(HB_LOG_ERR, 0);
        rd_kafka_conf_set(conf, "log_level", "0", why, sizeof(why));
        mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
        cr_assert_not_null(mrk, "%s", why);
        mc = rd_kafka_mock_cluster_new(mrk, 1);
        cr_assert_not_null(mc);
        /* the mock's own API makes the topic (one partition) */
        cr_assert_eq(rd_kafka_mock_topic_create(mc, TOPIC, 1, 1), 0);
}

static void down(void)
{
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(mrk);
}

static wk_store_t *replica(void)
{
        wk_store_conf_t sc = {.brokers = rd_kafka_mock_cluster_bootstraps(mc),
                              .prop_names = props,
                              .prop_values = vals,
                              .prop_count = 1,
                              .topic = TOPIC,
                              .replication_factor = 1,
                              .key = key};
        char errstr[512] = "";
        int64_t t0 = hb_time_mono_ms();
        wk_store_t *s = wk_store_new(&sc, errstr, sizeof(errstr));

        cr_assert_not_null(s, "wk_store_new: %s", errstr);
        /* CreateTopics would have waited ADMIN_TIMEOUT_MS (10 s), then
         * failed */
        cr_assert_lt(hb_time_mono_ms() - t0, 5000);
        return s;
}

Test(store_mock, existing_topic_taken_writes_read_back, .init = up,
     .fini = down, .timeout = 60)
{
        wk_hook_event_t ev[] = {{"*", 1}};
        wk_hook_t h = {.id = "wh_1",
                       .app_token = "NX-acme",
                       .name = "crm",
                       .url = "http://127.0.0.1:9/h",
                       .enabled = 1,
                       .events = ev,
                       .event_count = 1,
                       .secret = "whsec_ZGVtby1zZWNyZXQtZm9yLWhvb2ticmlkZ2U="};
        wk_store_t *a = replica(), *b;
        int64_t v1 = 0, v2 = 0, v = 0;
        char errstr[512] = "";
        wk_hook_t *got;

        cr_assert(wk_store_wait_ready(a, 10000));
        cr_assert_eq(wk_store_put(a, &h, 0, &v1, errstr, sizeof(errstr)), 0,
                     "%s", errstr);
        h.url = "http://127.0.0.1:9/h2";
        cr_assert_eq(wk_store_put(a, &h, v1, &v2, errstr, sizeof(errstr)), 0,
                     "%s", errstr);
        /* a write on a stale version loses, as on a real broker */
        cr_assert_eq(wk_store_put(a, &h, v1, &v, errstr, sizeof(errstr)),
                     WK_STORE_CONFLICT);

        /* a second replica reads the topic from its start */
        b = replica();
        cr_assert(wk_store_wait_ready(b, 10000));
        cr_assert_eq(wk_store_count(b), 1);
        got = wk_store_get(b, "wh_1", &v);
        cr_assert_not_null(got);
        cr_assert_eq(v, v2);
        cr_assert_str_eq(got->url, "http://127.0.0.1:9/h2");
        cr_assert_str_eq(got->secret, h.secret);
        wk_hook_free(got);
        wk_store_destroy(b);
        wk_store_destroy(a);
}

/* The start-up stall: rd_kafka_query_watermark_offsets() waited for the
 * broker's answer whatever its time-out said (before librdkafka 2.3.0).
 * The broker answers after 20 s: a 1 s ask gives up within a few seconds
 * (before the fix: the answer, after the 20 s). */
Test(store_mock, end_keeps_to_its_timeout_when_the_broker_is_slow, .init = up,
     .fini = down, .timeout = 120)
{
        kc_store_conf_t c = {.brokers = rd_kafka_mock_cluster_bootstraps(mc),
                             .prop_names = props,
                             .prop_values = vals,
                             .prop_count = 1,
                             .topic = TOPIC};
        char why[512] = "";
        kc_store_reader_t *r = kc_store_reader_new(&c, why, sizeof(why));
        int64_t end = -1, t0, ms;
        int rc;

        cr_assert_not_null(r, "%s", why);
        /* the leader known first, as after the topic's creation */
        cr_assert_eq(kc_store_reader_end(r, &end, 10000, why, sizeof(why)), 0,
                     "%s", why);
        cr_expect_eq(end, 0);
        cr_assert_eq(rd_kafka_mock_broker_set_rtt(mc, 1, 20000), 0);
        t0 = hb_time_mono_ms();
        rc = kc_store_reader_end(r, &end, 1000, why, sizeof(why));
        ms = hb_time_mono_ms() - t0;
        cr_log_info("a 1 s ask of a broker answering after 20 s: rc %d in "
                    "%lld ms (%s)",
                    rc, (long long)ms, why);
        cr_expect_eq(rc, -1, "an answer after %lld ms", (long long)ms);
        cr_expect(strstr(why, TOPIC), "%s", why);
        /* generous: 2 cores shared by several sessions */
        cr_expect_lt(ms, 8000, "the 1 s ask took %lld ms", (long long)ms);
        rd_kafka_mock_broker_set_rtt(mc, 1, 0);
        kc_store_reader_destroy(r);
}
