/* Tests for the hand-off producer (wh_dlq) and its record (hb_rec) on
 * librdkafka's mock cluster: dead letters and tier records written with
 * their headers and read back, records sized to what a topic takes, and
 * refused writes tried again until acknowledged. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "cfg.h"
#include "hb_rec.h"
#include "hb_time.h"
#include "wh_dlq.h"

#define DLQ   "t.dlq"
#define TIER0 "t.retry-0-5s"
#define TIER1 "t.retry-1-5m"

static rd_kafka_t *mrk;
static rd_kafka_mock_cluster_t *mc;

static void mock_up(void)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char why[256];

        rd_kafka_conf_set(conf, "log_level", "0", why, sizeof(why));
        mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
        cr_assert_not_null(mrk, "%s", why);
        mc = rd_kafka_mock_cluster_new(mrk, 1);
        cr_assert_not_null(mc);
        rd_kafka_mock_topic_create(mc, DLQ, 1, 1);
        rd_kafka_mock_topic_create(mc, TIER0, 2, 1);
        rd_kafka_mock_topic_create(mc, TIER1, 2, 1);
}

static void mock_down(void)
{
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(mrk);
}

static cfg_t *config(const char *props)
{
        char text[2048], errs[4096];
        cfg_t *cfg;

        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"%s\"; topics = ( \"events\" );\n"
                 "  properties = [ \"log_level=0\" %s ]; };\n"
                 "delivery = { dead_letter_topic = \"" DLQ "\"; };\n"
                 "webhooks = ( { name = \"crm\"; url = "
                 "\"https://example.com/h\"; events = [ \"*\" ]; } );\n",
                 rd_kafka_mock_cluster_bootstraps(mc), props ? props : "");
        cfg = cfg_load_string(text, "t.cfg", errs, sizeof(errs));
        cr_assert_not_null(cfg, "%s", errs);
        return cfg;
}

static wh_dlq_t *handoff(cfg_t *cfg)
{
        static const char *const tiers[] = {TIER0, TIER1};
        static const int64_t delays[] = {5000, 300000};
        wh_dlq_conf_t c = {.dead_letter_topic = DLQ,
                           .tier_topics = tiers,
                           .tier_count = 2,
                           .tier_delay_ms = delays,
                           .tier_partitions = 2};
        char errstr[512];
        wh_dlq_t *d = wh_dlq_new_ex(cfg, &c, -1, errstr, sizeof(errstr));

        cr_assert_not_null(d, "%s", errstr);
        return d;
}

typedef struct acks_s {
        int ok, failed;
} acks_t;

static void on_ack(int ok, const char *error, void *opaque)
{
        acks_t *a = opaque;

        (void)error;
        if (ok)
                a->ok++;
        else
                a->failed++;
}

static void wait_acks(wh_dlq_t *d, acks_t *a, int n, int timeout_ms)
{
        int64_t end = hb_time_mono_ms() + timeout_ms;

        while (a->ok + a->failed < n && hb_time_mono_ms() < end) {
                wh_dlq_poll(d);
                usleep(10000);
        }
        cr_assert_eq(a->ok + a->failed, n, "acks %d+%d of %d", a->ok, a->failed,
                     n);
}

/* Read \p n records of \p topic (all partitions) from the start. */
static size_t read_topic(const char *topic, int partitions,
                         rd_kafka_message_t **out, size_t n)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(partitions);
        char why[256];
        rd_kafka_t *rk;
        size_t got = 0;
        int64_t end = hb_time_mono_ms() + 10000;

        rd_kafka_conf_set(conf, "bootstrap.servers",
                          rd_kafka_mock_cluster_bootstraps(mc), why,
                          sizeof(why));
        rd_kafka_conf_set(conf, "group.id", "reader", why, sizeof(why));
        rd_kafka_conf_set(conf, "log_level", "0", why, sizeof(why));
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
        cr_assert_not_null(rk, "%s", why);
        for (int p = 0; p < partitions; p++)
                rd_kafka_topic_partition_list_add(l, topic, p)->offset =
                        RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        while (got < n && hb_time_mono_ms() < end) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                if (!m)
                        continue;
                if (m->err) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                /* detached from the handle: headers copied by
                 * rd_kafka_message_detach_headers() not needed, the
                 * message stays valid until destroyed */
                out[got++] = m;
        }
        /* the messages keep the handle alive: destroy them first */
        cr_assert_eq(got, n, "%zu of %zu records in %s", got, n, topic);
        rd_kafka_consumer_close(rk);
        return (size_t)(uintptr_t)rk; /* the caller destroys it */
}

static void done_reading(size_t handle, rd_kafka_message_t **m, size_t n)
{
        for (size_t i = 0; i < n; i++)
                rd_kafka_message_destroy(m[i]);
        rd_kafka_destroy((rd_kafka_t *)(uintptr_t)handle);
}

TestSuite(handoff, .init = mock_up, .fini = mock_down, .timeout = 60);

Test(handoff, dead_letter_and_tier_records_read_back)
{
        cfg_t *cfg = config(NULL);
        wh_dlq_t *d = handoff(cfg);
        acks_t a = {0};
        hb_rec_t r, got;
        rd_kafka_message_t *m[1];
        size_t h;
        void *mem;
        char errstr[256];

        hb_rec_init(&r);
        r.topic = "events";
        r.partition = 3;
        r.offset = 1234567890123LL;
        r.timestamp_ms = 1700000000123LL;
        r.key = "k1";
        r.key_len = 2;
        r.value = "{\"type\":\"track\"}";
        r.value_len = strlen(r.value);
        r.reason = "exhausted";
        r.webhook = "crm";
        r.app = "NX-1";
        r.id = "evt-1";
        r.status = 503;
        r.error = "HTTP 503";
        r.attempts = 3;
        cr_assert_eq(wh_dlq_send(d, &r, on_ack, &a), 0);
        r.tier = 1;
        r.due_ms = 1700000300123LL;
        r.reason = "retry";
        cr_assert_eq(wh_dlq_send_tier(d, &r, on_ack, &a), 0);
        r.tier = 5;
        cr_expect_eq(wh_dlq_send_tier(d, &r, on_ack, &a), -1, "no tier 5");
        wait_acks(d, &a, 2, 20000);
        cr_expect_eq(a.ok, 2);
        cr_expect_eq(wh_dlq_pending(d), 0);

        h = read_topic(DLQ, 1, m, 1);
        cr_assert_eq(hb_rec_decode(m[0], &got, &mem, errstr, sizeof(errstr)), 0,
                     "%s", errstr);
        cr_expect_str_eq(got.topic, "events");
        cr_expect_eq(got.partition, 3);
        cr_expect_eq(got.offset, 1234567890123LL);
        cr_expect_eq(got.timestamp_ms, 1700000000123LL);
        cr_expect_str_eq(got.reason, "exhausted");
        cr_expect_str_eq(got.webhook, "crm");
        cr_expect_str_eq(got.app, "NX-1");
        cr_expect_str_eq(got.id, "evt-1");
        cr_expect_eq(got.status, 503);
        cr_expect_str_eq(got.error, "HTTP 503");
        cr_expect_eq(got.attempts, 3);
        cr_expect_eq(got.tier, -1, "a dead letter has no tier");
        cr_expect_eq(got.due_ms, 0);
        cr_expect_eq(got.value_len, r.value_len);
        cr_expect(!memcmp(got.value, r.value, r.value_len));
        cr_expect_eq(got.key_len, 2);
        cr_expect_null(got.detail);
        cr_expect_eq(hb_rec_due_ms(m[0]), -1);
        free(mem);
        done_reading(h, m, 1);

        h = read_topic(TIER1, 2, m, 1);
        cr_assert_eq(hb_rec_decode(m[0], &got, &mem, errstr, sizeof(errstr)),
                     0);
        cr_expect_eq(got.tier, 1);
        cr_expect_eq(got.due_ms, 1700000300123LL);
        cr_expect_eq(hb_rec_due_ms(m[0]), 1700000300123LL);
        cr_expect_str_eq(got.reason, "retry");
        cr_expect_str_eq(got.id, "evt-1");
        cr_expect_eq(got.value_len, r.value_len);
        free(mem);
        done_reading(h, m, 1);
        wh_dlq_destroy(d, 1000);
        cfg_destroy(cfg);
}

/* D4: a dead letter larger than its topic takes goes without its value
 * (and is written), never refused for ever. */
Test(handoff, oversized_dead_letter_goes_without_its_value)
{
        cfg_t *cfg = config(", \"message.max.bytes=3000000\"");
        wh_dlq_t *d = handoff(cfg);
        acks_t a = {0};
        hb_rec_t r, got;
        size_t big = 2 * 1024 * 1024, h;
        char *value = malloc(big), errstr[256];
        rd_kafka_message_t *m[2];
        void *mem;

        cr_assert_not_null(value);
        memset(value, 'x', big);
        /* until the topic's limit is known: the broker's default */
        cr_expect_leq(wh_dlq_max_record(d, -1), 1048588);
        hb_rec_init(&r);
        r.topic = "events";
        r.reason = "exhausted";
        r.webhook = "crm";
        r.value = value;
        r.value_len = big;
        cr_assert_eq(wh_dlq_send(d, &r, on_ack, &a), 0);
        /* a tier record that large: refused, the caller dead-letters */
        r.tier = 0;
        r.due_ms = 1;
        cr_expect_eq(wh_dlq_send_tier(d, &r, on_ack, &a), -1);
        /* a small one right behind it is written whole */
        r.value = "{}";
        r.value_len = 2;
        cr_assert_eq(wh_dlq_send(d, &r, on_ack, &a), 0);
        wait_acks(d, &a, 2, 20000);
        cr_expect_eq(a.ok, 2);
        h = read_topic(DLQ, 1, m, 2);
        cr_assert_eq(hb_rec_decode(m[0], &got, &mem, errstr, sizeof(errstr)),
                     0);
        cr_expect_eq(got.omitted, big);
        cr_expect_eq(got.value_len, 0);
        cr_expect_str_eq(got.webhook, "crm");
        free(mem);
        cr_assert_eq(hb_rec_decode(m[1], &got, &mem, errstr, sizeof(errstr)),
                     0);
        cr_expect_eq(got.omitted, 0);
        cr_expect_eq(got.value_len, 2);
        free(mem);
        done_reading(h, m, 2);
        free(value);
        wh_dlq_destroy(d, 1000);
        cfg_destroy(cfg);
}

/* A write the broker refuses is tried again until acknowledged, and only
 * then reported. */
Test(handoff, refused_write_is_tried_again)
{
        cfg_t *cfg = config(NULL);
        wh_dlq_t *d = handoff(cfg);
        acks_t a = {0};
        hb_rec_t r;
        int64_t end;
        size_t seen_retrying = 0, h;
        rd_kafka_message_t *m[1];

        /* let the producer connect first (idempotent: its producer id) */
        hb_rec_init(&r);
        r.topic = "events";
        r.reason = "exhausted";
        r.value = "{}";
        r.value_len = 2;
        cr_assert_eq(wh_dlq_send(d, &r, on_ack, &a), 0);
        wait_acks(d, &a, 1, 20000);
        rd_kafka_mock_push_request_errors(
                mc, 0 /* Produce */, 1,
                RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
        r.reason = "permanent";
        cr_assert_eq(wh_dlq_send(d, &r, on_ack, &a), 0);
        end = hb_time_mono_ms() + 20000;
        while (a.ok + a.failed < 2 && hb_time_mono_ms() < end) {
                wh_dlq_poll(d);
                if (wh_dlq_retrying(d) > seen_retrying)
                        seen_retrying = wh_dlq_retrying(d);
                usleep(10000);
        }
        cr_expect_eq(seen_retrying, 1, "the refused write waited to retry");
        cr_expect_eq(a.ok, 2);
        cr_expect_eq(a.failed, 0);
        cr_expect_eq(wh_dlq_pending(d), 0);
        h = read_topic(DLQ, 1, m, 1);
        done_reading(h, m, 1);
        wh_dlq_destroy(d, 1000);
        cfg_destroy(cfg);
}

/* A write the producer could not even queue (its queue full) used to be
 * refused at once (-1): the worker then held the message until a
 * restart. It is kept and tried again until acknowledged. */
Test(handoff, write_not_queued_is_tried_again)
{
        cfg_t *cfg = config(", \"queue.buffering.max.messages=1\", "
                            "\"linger.ms=200\"");
        wh_dlq_t *d = handoff(cfg);
        acks_t a = {0};
        hb_rec_t r;
        size_t h;
        rd_kafka_message_t *m[3];

        hb_rec_init(&r);
        r.topic = "events";
        r.reason = "exhausted";
        r.value = "{}";
        r.value_len = 2;
        /* one queued, two more while it lingers: the queue is full */
        for (int i = 0; i < 3; i++)
                cr_assert_eq(wh_dlq_send(d, &r, on_ack, &a), 0, "send %d", i);
        cr_expect_geq(wh_dlq_retrying(d), 1, "nothing waited to retry");
        wait_acks(d, &a, 3, 30000);
        cr_expect_eq(a.ok, 3);
        cr_expect_eq(wh_dlq_pending(d), 0);
        cr_expect_eq(wh_dlq_retrying(d), 0);
        h = read_topic(DLQ, 1, m, 3);
        done_reading(h, m, 3);
        wh_dlq_destroy(d, 1000);
        cfg_destroy(cfg);
}
