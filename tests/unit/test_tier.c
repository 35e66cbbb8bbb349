/* Tests for kc_tier, the retry tiers' consumer, on librdkafka's mock
 * cluster: records handed out only once due, each once and in offset
 * order per partition, a partition's records out at once bounded, and
 * what finished committed. */
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
#include "kc_tier.h"

#define TIER0 "t.retry-0-1s"
#define TIER1 "t.retry-1-2s"
#define PARTS 2

static rd_kafka_t *mrk;
static rd_kafka_mock_cluster_t *mc;
static cfg_t *cfg;

static void up(void)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char why[256], text[1024], errs[2048];

        rd_kafka_conf_set(conf, "log_level", "0", why, sizeof(why));
        mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
        cr_assert_not_null(mrk, "%s", why);
        mc = rd_kafka_mock_cluster_new(mrk, 1);
        cr_assert_not_null(mc);
        rd_kafka_mock_topic_create(mc, TIER0, PARTS, 1);
        rd_kafka_mock_topic_create(mc, TIER1, PARTS, 1);
        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"%s\"; topics = ( \"events\" );\n"
                 "  commit_interval_ms = 100;\n"
                 "  properties = [ \"log_level=0\", "
                 "\"session.timeout.ms=6000\",\n"
                 "    \"heartbeat.interval.ms=500\" ]; };\n"
                 "webhooks = ( { name = \"crm\"; url = "
                 "\"https://example.com/h\"; events = [ \"*\" ]; } );\n",
                 rd_kafka_mock_cluster_bootstraps(mc));
        cfg = cfg_load_string(text, "t.cfg", errs, sizeof(errs));
        cr_assert_not_null(cfg, "%s", errs);
}

static void down(void)
{
        cfg_destroy(cfg);
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(mrk);
}

/* Write a tier record of \p topic/\p partition due at \p due with value
 * "<seq>". */
static void put(rd_kafka_t *p, const char *topic, int partition, int64_t due,
                int seq)
{
        hb_rec_t r;
        char v[32];
        rd_kafka_headers_t *h;

        hb_rec_init(&r);
        r.topic = "events";
        r.tier = 0;
        r.due_ms = due;
        h = hb_rec_headers(&r);
        snprintf(v, sizeof(v), "%d", seq);
        cr_assert_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
                                       RD_KAFKA_V_PARTITION(partition),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_VALUE(v, strlen(v)),
                                       RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END),
                     0);
}

static rd_kafka_t *producer(void)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char why[256];
        rd_kafka_t *p;

        rd_kafka_conf_set(conf, "bootstrap.servers",
                          rd_kafka_mock_cluster_bootstraps(mc), why,
                          sizeof(why));
        rd_kafka_conf_set(conf, "log_level", "0", why, sizeof(why));
        p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
        cr_assert_not_null(p, "%s", why);
        return p;
}

static kc_tier_t *tiers(const char *group, size_t max_per_partition)
{
        static const char *const topics[] = {TIER0, TIER1};
        char errstr[512];
        kc_tier_t *t = kc_tier_new(cfg, group, topics, 2, max_per_partition, -1,
                                   errstr, sizeof(errstr));

        cr_assert_not_null(t, "%s", errstr);
        return t;
}

TestSuite(tier, .init = up, .fini = down, .timeout = 90);

/* Records come out once due, each once, in offset order per partition;
 * what is not due holds its partition, not the others. */
Test(tier, held_until_due_each_once_in_order)
{
        rd_kafka_t *p = producer();
        int64_t now = hb_time_now_ms(), end;
        /* due offsets, per record: partition 0 of tier 0 has a record due
         * in 2 s at its head, so partition 1's due ones go first */
        static const struct {
                const char *topic;
                int part;
                int64_t in_ms;
        } recs[] = {
                {TIER0, 0, 2000}, {TIER0, 0, 0},    {TIER0, 0, 2100},
                {TIER0, 1, 0},    {TIER0, 1, 0},    {TIER0, 1, 1000},
                {TIER1, 0, 3000}, {TIER1, 1, -500}, {TIER1, 1, 3000},
        };
        const size_t n = sizeof(recs) / sizeof(recs[0]);
        int seen[16] = {0};
        int64_t last_off[2][PARTS] = {{-1, -1}, {-1, -1}};
        size_t got = 0;
        kc_tier_t *t;

        for (size_t i = 0; i < n; i++)
                put(p, recs[i].topic, recs[i].part, now + recs[i].in_ms,
                    (int)i);
        cr_assert_eq(rd_kafka_flush(p, 10000), 0);
        t = tiers("g1", 100);
        end = hb_time_mono_ms() + 40000;
        while (got < n && hb_time_mono_ms() < end) {
                kc_ticket_t tk;
                int tier = -1;
                rd_kafka_message_t *m =
                        kc_tier_poll(t, hb_time_now_ms(), &tk, &tier);
                char v[16];
                int seq;
                if (!m) {
                        usleep(20000);
                        continue;
                }
                snprintf(v, sizeof(v), "%.*s", (int)m->len,
                         (const char *)m->payload);
                seq = atoi(v);
                cr_assert_lt((size_t)seq, n);
                seen[seq]++;
                cr_expect_eq(tier, !strcmp(recs[seq].topic, TIER1));
                cr_expect_geq(
                        hb_time_now_ms(), now + recs[seq].in_ms,
                        "record %d out %lld ms early", seq,
                        (long long)(now + recs[seq].in_ms - hb_time_now_ms()));
                cr_expect_gt(m->offset, last_off[tier][m->partition],
                             "offset order");
                last_off[tier][m->partition] = m->offset;
                if (seq == 1)
                        /* behind a head due in 2 s: held with it */
                        cr_expect_geq(hb_time_now_ms(), now + 2000);
                got++;
                kc_tier_done(t, &tk);
                rd_kafka_message_destroy(m);
        }
        cr_assert_eq(got, n, "%zu of %zu handed out", got, n);
        /* nothing more (none twice) for a while */
        end = hb_time_mono_ms() + 1500;
        while (hb_time_mono_ms() < end) {
                kc_ticket_t tk;
                int tier;
                rd_kafka_message_t *m =
                        kc_tier_poll(t, hb_time_now_ms(), &tk, &tier);
                cr_expect_null(m, "a record came out twice");
                if (m)
                        rd_kafka_message_destroy(m);
                usleep(20000);
        }
        for (size_t i = 0; i < n; i++)
                cr_expect_eq(seen[i], 1, "record %zu seen %d times", i,
                             seen[i]);
        cr_expect_eq(kc_tier_next_due(t), -1);
        cr_expect_eq(kc_tier_pending(t), 0);
        cr_expect_eq(kc_tier_commit_sync(t), 0);
        kc_tier_destroy(t);

        /* all finished and committed: the group gets nothing again */
        t = tiers("g1", 100);
        end = hb_time_mono_ms() + 30000;
        while (hb_time_mono_ms() < end) {
                kc_tier_info_t info[8];
                kc_ticket_t tk;
                int tier;
                rd_kafka_message_t *m =
                        kc_tier_poll(t, hb_time_now_ms(), &tk, &tier);
                cr_expect_null(m, "a committed record came back");
                if (m)
                        rd_kafka_message_destroy(m);
                if (kc_tier_partitions(t, info, 8) == 2 * PARTS)
                        break;
                usleep(50000);
        }
        cr_assert_eq(kc_tier_pending(t), 0);
        end = hb_time_mono_ms() + 2000;
        while (hb_time_mono_ms() < end) {
                kc_ticket_t tk;
                int tier;
                rd_kafka_message_t *m =
                        kc_tier_poll(t, hb_time_now_ms(), &tk, &tier);
                cr_expect_null(m, "a committed record came back");
                if (m)
                        rd_kafka_message_destroy(m);
                usleep(50000);
        }
        kc_tier_destroy(t);
        rd_kafka_destroy(p);
}

/* At most max_per_partition records of a partition are out; the rest wait
 * in hand (and show as such), and what was not finished comes back to
 * the next member. */
Test(tier, bounded_per_partition_and_unfinished_come_back)
{
        rd_kafka_t *p = producer();
        int64_t now = hb_time_now_ms(), end;
        kc_tier_t *t;
        kc_ticket_t tk[4];
        rd_kafka_message_t *m[4];
        int got = 0, tier;
        kc_tier_info_t info[8];
        size_t np, in_hand = 0;

        for (int i = 0; i < 4; i++)
                put(p, TIER0, 0, now - 10, i);
        cr_assert_eq(rd_kafka_flush(p, 10000), 0);
        t = tiers("g2", 2);
        end = hb_time_mono_ms() + 30000;
        while (got < 2 && hb_time_mono_ms() < end) {
                m[got] = kc_tier_poll(t, hb_time_now_ms(), &tk[got], &tier);
                if (m[got])
                        got++;
                else
                        usleep(20000);
        }
        cr_assert_eq(got, 2);
        /* the third waits for room */
        end = hb_time_mono_ms() + 1000;
        while (hb_time_mono_ms() < end) {
                kc_ticket_t x;
                rd_kafka_message_t *o =
                        kc_tier_poll(t, hb_time_now_ms(), &x, &tier);
                cr_assert_null(o, "more than 2 out");
                usleep(20000);
        }
        np = kc_tier_partitions(t, info, 8);
        for (size_t i = 0; i < np; i++) {
                if (strcmp(info[i].topic, TIER0) || info[i].partition != 0)
                        continue;
                in_hand = info[i].in_hand;
                cr_expect_eq(info[i].in_flight, 2);
                cr_expect_eq(info[i].waiting, 4);
                cr_expect_leq(info[i].head_due_ms, now);
        }
        cr_expect_geq(in_hand, 1);
        /* one finished: room for the third */
        kc_tier_done(t, &tk[0]);
        rd_kafka_message_destroy(m[0]);
        end = hb_time_mono_ms() + 5000;
        m[2] = NULL;
        while (!m[2] && hb_time_mono_ms() < end)
                m[2] = kc_tier_poll(t, hb_time_now_ms(), &tk[2], &tier);
        cr_assert_not_null(m[2]);
        cr_expect_eq(m[2]->offset, 2);
        /* the second and third stay unfinished: a new member gets them */
        rd_kafka_message_destroy(m[1]);
        rd_kafka_message_destroy(m[2]);
        kc_tier_destroy(t);
        t = tiers("g2", 10);
        got = 0;
        end = hb_time_mono_ms() + 30000;
        while (got < 3 && hb_time_mono_ms() < end) {
                kc_ticket_t x;
                rd_kafka_message_t *o =
                        kc_tier_poll(t, hb_time_now_ms(), &x, &tier);
                if (!o) {
                        usleep(20000);
                        continue;
                }
                cr_expect_eq(o->offset, 1 + got, "from the first unfinished");
                got++;
                kc_tier_done(t, &x);
                rd_kafka_message_destroy(o);
        }
        cr_expect_eq(got, 3, "got %d", got);
        kc_tier_destroy(t);
        rd_kafka_destroy(p);
}
