/* Tests of the webhook store (wk_store, its writer and reader) on
 * librdkafka's mock cluster, as `hookbridge demo` runs it: a store topic
 * that exists is taken without CreateTopics (which never gets an answer
 * there), writes are read back, a second replica loads them from the
 * start and is ready only then. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "hb_log.h"
#include "hb_time.h"
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
