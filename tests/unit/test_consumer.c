/* Unit tests: kc_consumer without a broker (shutdown must not wait for a
 * group join that cannot happen) and against librdkafka's mock cluster
 * (brokers going down and coming back). */
#include <stdio.h>

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "cfg.h"
#include "hb_time.h"
#include "kc_consumer.h"

/* Port 1 on loopback: nothing listens, every connection is refused. */
static const char *no_broker_cfg =
        "kafka = { brokers = \"127.0.0.1:1\"; group_id = \"g\";\n"
        "  topics = ( { name = \"events\"; app_token = \"NX-t\"; } ); };\n"
        "webhooks = (\n"
        "  { name = \"crm\"; url = \"https://example.com/hook\";\n"
        "    events = [ \"*\" ]; }\n"
        ");\n";

Test(consumer, destroy_without_broker_does_not_wait_for_a_join)
{
        char errs[4096];
        cfg_t *cfg =
                cfg_load_string(no_broker_cfg, "t.cfg", errs, sizeof(errs));
        kc_consumer_t *c;
        kc_msg_t in;
        int64_t start, took;

        cr_assert_not_null(cfg, "%s", errs);
        c = kc_consumer_new(cfg, -1, errs, sizeof(errs));
        cr_assert_not_null(c, "%s", errs);
        /* a worker that ran a moment and never reached a broker */
        start = hb_time_mono_ms();
        while (hb_time_mono_ms() - start < 500) {
                if (kc_consumer_poll(c, &in))
                        kc_msg_release(&in);
                kc_consumer_wait(c, 50);
        }
        start = hb_time_mono_ms();
        kc_consumer_destroy(c);
        took = hb_time_mono_ms() - start;
        cr_assert_lt(took, 3000, "kc_consumer_destroy took %lld ms",
                     (long long)took);
        cfg_destroy(cfg);
}

/* Poll and tick \p c for up to \p ms or until \p until(c) holds.
 * @returns 1 when it did. */
static int serve_until(kc_consumer_t *c, int64_t ms,
                       int (*until)(kc_consumer_t *c))
{
        int64_t end = hb_time_mono_ms() + ms;
        kc_msg_t in;

        while (hb_time_mono_ms() < end) {
                if (kc_consumer_poll(c, &in))
                        kc_msg_release(&in);
                kc_consumer_tick(c);
                if (until(c))
                        return 1;
                kc_consumer_wait(c, 20);
        }
        return until(c);
}

static int assigned(kc_consumer_t *c)
{
        kc_stats_t st;

        kc_consumer_stats(c, &st);
        return st.assigned > 0;
}

static int down(kc_consumer_t *c)
{
        return !kc_consumer_broker_up(c);
}

static int up(kc_consumer_t *c)
{
        return kc_consumer_broker_up(c);
}

/* /readyz stayed 503 on a quiet topic after the brokers came back: only
 * a consumed message cleared "every broker down". */
Test(consumer, brokers_back_on_a_quiet_topic_is_seen, .timeout = 90)
{
        char errs[4096], text[1024], why[256];
        rd_kafka_conf_t *mconf = rd_kafka_conf_new();
        rd_kafka_t *mrk;
        rd_kafka_mock_cluster_t *mc;
        kc_consumer_t *c;
        cfg_t *cfg;

        cr_assert_eq(rd_kafka_conf_set(mconf, "test.mock.num.brokers", "1", why,
                                       sizeof(why)),
                     RD_KAFKA_CONF_OK, "%s", why);
        mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, why, sizeof(why));
        cr_assert_not_null(mrk, "%s", why);
        mc = rd_kafka_handle_mock_cluster(mrk);
        cr_assert_not_null(mc);
        cr_assert_eq(rd_kafka_mock_topic_create(mc, "events", 1, 1), 0);
        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"%s\"; group_id = \"g\";\n"
                 "  topics = ( { name = \"events\"; app_token = \"NX-t\"; } "
                 "); };\n"
                 "webhooks = (\n"
                 "  { name = \"crm\"; url = \"https://example.com/hook\";\n"
                 "    events = [ \"*\" ]; }\n"
                 ");\n",
                 rd_kafka_mock_cluster_bootstraps(mc));
        cfg = cfg_load_string(text, "t.cfg", errs, sizeof(errs));
        cr_assert_not_null(cfg, "%s", errs);
        c = kc_consumer_new(cfg, -1, errs, sizeof(errs));
        cr_assert_not_null(c, "%s", errs);
        cr_assert(serve_until(c, 30000, assigned), "never assigned");

        rd_kafka_mock_broker_set_down(mc, 1);
        cr_assert(serve_until(c, 30000, down), "brokers never seen down");
        rd_kafka_mock_broker_set_up(mc, 1);
        /* nothing is produced: no message can say the brokers are back */
        cr_assert(serve_until(c, 15000, up),
                  "brokers still seen down 15 s after they came back");

        kc_consumer_destroy(c);
        cfg_destroy(cfg);
        rd_kafka_destroy(mrk);
}
