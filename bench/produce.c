/* bench-produce: fill a benchmark topic with realistic raw events (a
 * weighted mix of every SPEC section 2 kind, rendered by wk_sample), as
 * fast as possible (--count) or at a steady rate with the produce time in
 * each messageId (--rate, for the latency run). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "wk_sample.h"

/* How often each raw event occurs, per 100: hovers, clicks and flow
 * views dominate real product-analytics traffic; NPS answers are rare. */
static const struct {
        const char *name;
        int weight;
} mix[] = {
        {"Feature Tag Hovered", 18},   {"Feature Tag Clicked", 14},
        {"Flow Started", 14},          {"Button Tracked Event", 10},
        {"Flow Completed", 8},         {"Form Submitted", 6},
        {"Feature Tag Text Input", 5}, {"Flow Dismissed", 5},
        {"Checklist Started", 5},      {"Checklist Completed", 3},
        {"Checklist Dismissed", 3},    {"NPS Score Submitted", 3},
        {"NPS Dismissed", 3},          {"NPS Feedback Submitted", 2},
        {"NPS Ask Later", 1},
};

#define MIX_N (sizeof(mix) / sizeof(mix[0]))

typedef struct opts_s {
        const char *brokers;
        const char *topic;
        int partitions; /* > 0: create the topic first */
        long long count;
        int rate;
        double seconds;
        double warmup; /* seconds at --rate before the measured ones */
        unsigned long long seed;
        int apps; /* > 0: app_token bench-app-<n % apps>, in turn */
} opts_t;

static long long delivered, failed;
static char first_error[256];

static int64_t mono_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t real_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t next_rnd(uint64_t *s)
{
        uint64_t x = *s;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *s = x;
        return x;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        (void)rk;
        (void)opaque;
        if (!m->err) {
                delivered++;
                return;
        }
        if (!failed)
                snprintf(first_error, sizeof(first_error), "%s",
                         rd_kafka_err2str(m->err));
        failed++;
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
        char errstr[256];

        if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
                fprintf(stderr, "bench-produce: %s: %s\n", name, errstr);
                return -1;
        }
        return 0;
}

/* Partitions of \p topic with a leader, from fresh metadata; -1 on
 * error. */
static int partition_count(rd_kafka_t *rk, const char *topic)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        int n = -1;

        if (!rkt)
                return -1;
        if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == 0 && md->topic_cnt &&
            !md->topics[0].err) {
                n = 0;
                for (int i = 0; i < md->topics[0].partition_cnt; i++)
                        n += md->topics[0].partitions[i].leader >= 0;
        }
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return n;
}

/* Create \p topic with \p partitions (replication 1) and wait until
 * every partition has a leader. @returns 0 or -1. */
static int create_topic(rd_kafka_t *rk, const char *topic, int partitions)
{
        char errstr[256];
        rd_kafka_NewTopic_t *nt;
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_event_t *ev;
        const rd_kafka_CreateTopics_result_t *res;
        const rd_kafka_topic_result_t **tr;
        size_t n = 0;
        int rc = -1;

        nt = rd_kafka_NewTopic_new(topic, partitions, 1, errstr,
                                   sizeof(errstr));
        if (!nt) {
                fprintf(stderr, "bench-produce: %s\n", errstr);
                rd_kafka_queue_destroy(q);
                return -1;
        }
        rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
        ev = rd_kafka_queue_poll(q, 30000);
        res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
        if (!res) {
                fprintf(stderr, "bench-produce: CreateTopics: %s\n",
                        ev ? rd_kafka_event_error_string(ev) : "timed out");
                goto out;
        }
        tr = rd_kafka_CreateTopics_result_topics(res, &n);
        if (n != 1 || (rd_kafka_topic_result_error(tr[0]) &&
                       rd_kafka_topic_result_error(tr[0]) !=
                               RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)) {
                fprintf(stderr, "bench-produce: create %s: %s\n", topic,
                        n ? rd_kafka_topic_result_error_string(tr[0]) : "?");
                goto out;
        }
        for (int waited = 0; waited < 300; waited++) {
                int have = partition_count(rk, topic);
                if (have == partitions) {
                        rc = 0;
                        goto out;
                }
                if (have > partitions) {
                        fprintf(stderr,
                                "bench-produce: %s already has %d "
                                "partitions, not %d\n",
                                topic, have, partitions);
                        goto out;
                }
                struct timespec ts = {0, 100 * 1000000};
                nanosleep(&ts, NULL);
        }
        fprintf(stderr, "bench-produce: %s: partitions without a leader\n",
                topic);
out:
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_NewTopic_destroy(nt);
        rd_kafka_queue_destroy(q);
        return rc;
}

/* Produce one event; waits while the local queue is full. \p steady: 1
 * stamps the produce time into the messageId, 2 marks a warm-up event. */
static int produce_one(rd_kafka_t *rk, const opts_t *o, uint64_t *rnd,
                       const int *pick, long long seq, int steady)
{
        char id[64], key[24], value[2048];
        long user = (long)(next_rnd(rnd) % 200000) + 1;
        size_t kind = (size_t)pick[next_rnd(rnd) % 100];
        int64_t now = real_ns();
        int len;
        rd_kafka_resp_err_t err;

        if (steady == 1) {
                /* the sink reads the produce time back from webhook-id */
                snprintf(id, sizeof(id), "lat-%" PRId64 "-%lld", now, seq);
        } else if (steady == 2) {
                snprintf(id, sizeof(id), "warm-%lld", seq);
        } else {
                uint64_t a = next_rnd(rnd), b = next_rnd(rnd);
                snprintf(id, sizeof(id), "%08x-%04x-4%03x-a%03x-%012llx",
                         (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
                         (unsigned)a & 0xfff, (unsigned)(b >> 52) & 0xfff,
                         (unsigned long long)(b & 0xffffffffffffULL));
        }
        snprintf(key, sizeof(key), "%ld", user);
        if (o->apps > 0) {
                char app[32];
                snprintf(app, sizeof(app), "bench-app-%04lld", seq % o->apps);
                len = wk_sample_render_app(kind, app, id, user,
                                           (long long)(now / 1000000), value,
                                           sizeof(value));
        } else {
                len = wk_sample_render(kind, id, user,
                                       (long long)(now / 1000000), value,
                                       sizeof(value));
        }
        if (len < 0 || (size_t)len >= sizeof(value)) {
                fprintf(stderr, "bench-produce: sample %zu does not fit\n",
                        kind);
                return -1;
        }
        for (;;) {
                err = rd_kafka_producev(
                        rk, RD_KAFKA_V_TOPIC(o->topic),
                        RD_KAFKA_V_KEY(key, strlen(key)),
                        RD_KAFKA_V_VALUE(value, (size_t)len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(rk, 10);
        }
        if (err) {
                fprintf(stderr, "bench-produce: produce: %s\n",
                        rd_kafka_err2str(err));
                return -1;
        }
        return len;
}

static void usage(FILE *f)
{
        fputs("usage: bench-produce --brokers B --topic T [--partitions P]\n"
              "         [--count N | --rate R --seconds S [--warmup W]]\n"
              "         [--seed X] [--apps A]\n"
              "Creates T when --partitions is given. --rate: R events/s, "
              "the first\nW seconds with messageId warm-<n>, then S seconds "
              "with lat-<ns>-<n>\n(the produce time, CLOCK_REALTIME). "
              "Prints one JSON line: produced\n(not counting warm-up), "
              "bytes, seconds. --apps: event n of app bench-app-<n mod A> "
              "(4 digits).\n",
              f);
}

static int parse_opts(int argc, char **argv, opts_t *o)
{
        static const struct option lo[] = {
                {"brokers", required_argument, NULL, 'b'},
                {"topic", required_argument, NULL, 't'},
                {"partitions", required_argument, NULL, 'p'},
                {"count", required_argument, NULL, 'n'},
                {"rate", required_argument, NULL, 'r'},
                {"seconds", required_argument, NULL, 's'},
                {"warmup", required_argument, NULL, 'w'},
                {"seed", required_argument, NULL, 'S'},
                {"apps", required_argument, NULL, 'A'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
                switch (c) {
                case 'b':
                        o->brokers = optarg;
                        break;
                case 't':
                        o->topic = optarg;
                        break;
                case 'p':
                        o->partitions = atoi(optarg);
                        break;
                case 'n':
                        o->count = atoll(optarg);
                        break;
                case 'r':
                        o->rate = atoi(optarg);
                        break;
                case 's':
                        o->seconds = atof(optarg);
                        break;
                case 'w':
                        o->warmup = atof(optarg);
                        break;
                case 'S':
                        o->seed = strtoull(optarg, NULL, 10);
                        break;
                case 'A':
                        o->apps = atoi(optarg);
                        break;
                case 'h':
                        usage(stdout);
                        exit(0);
                default:
                        usage(stderr);
                        return -1;
                }
        }
        /* neither --count nor --rate: only create the topic */
        if (!o->brokers || !o->topic || optind < argc ||
            (o->count > 0 && o->rate > 0) ||
            (o->count <= 0 && o->rate <= 0 && o->partitions <= 0) ||
            (o->rate > 0 && o->seconds <= 0)) {
                usage(stderr);
                return -1;
        }
        return 0;
}

int main(int argc, char **argv)
{
        opts_t o = {.seed = 42};
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        char errstr[512];
        int pick[100];
        uint64_t rnd;
        long long seq = 0, bytes = 0, warm = 0;
        int64_t t0, t1;
        int steady, rc = 1, k = 0;

        if (parse_opts(argc, argv, &o) == -1)
                return 2;
        steady = o.rate > 0;
        rnd = o.seed ? o.seed : 42;
        for (size_t i = 0; i < MIX_N; i++) {
                size_t s;
                for (s = 0; s < wk_sample_count(); s++)
                        if (!strcmp(wk_sample_event_name(s), mix[i].name))
                                break;
                if (s == wk_sample_count()) {
                        fprintf(stderr, "bench-produce: no sample '%s'\n",
                                mix[i].name);
                        return 1;
                }
                for (int w = 0; w < mix[i].weight && k < 100; w++)
                        pick[k++] = (int)s;
        }
        if (k != 100) {
                fprintf(stderr, "bench-produce: weights do not add to 100\n");
                return 1;
        }

        conf = rd_kafka_conf_new();
        if (conf_set(conf, "bootstrap.servers", o.brokers) ||
            conf_set(conf, "client.id", "hookbridge-bench-produce") ||
            conf_set(conf, "linger.ms", steady ? "1" : "20") ||
            conf_set(conf, "batch.size", "1000000") ||
            conf_set(conf, "batch.num.messages", "10000") ||
            conf_set(conf, "queue.buffering.max.messages", "500000") ||
            conf_set(conf, "queue.buffering.max.kbytes", "1048576")) {
                rd_kafka_conf_destroy(conf);
                return 1;
        }
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "bench-produce: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return 1;
        }
        /* @remark rd_kafka_new() took ownership of conf. */
        conf = NULL;
        if (o.partitions > 0 && create_topic(rk, o.topic, o.partitions) == -1)
                goto out;

        t0 = mono_ns();
        if (!steady) {
                for (seq = 0; seq < o.count; seq++) {
                        int len = produce_one(rk, &o, &rnd, pick, seq, 0);
                        if (len < 0)
                                goto out;
                        bytes += len;
                        if ((seq & 1023) == 0)
                                rd_kafka_poll(rk, 0);
                }
        } else {
                int64_t start = t0;
                int64_t end;
                /* warm-up first: the producer's connections, the worker's
                 * and the sink's are up before anything is measured */
                t0 += (int64_t)(o.warmup * 1e9);
                end = t0 + (int64_t)(o.seconds * 1e9);
                for (;;) {
                        int64_t now = mono_ns();
                        long long due;
                        struct timespec ts = {0, 500 * 1000};
                        if (now >= end)
                                break;
                        due = (long long)((double)(now - start) * o.rate / 1e9);
                        while (seq <= due) {
                                int w = now < t0;
                                int len = produce_one(rk, &o, &rnd, pick, seq,
                                                      w ? 2 : 1);
                                if (len < 0)
                                        goto out;
                                if (w)
                                        warm++;
                                else
                                        bytes += len;
                                seq++;
                        }
                        rd_kafka_poll(rk, 0);
                        nanosleep(&ts, NULL);
                }
        }
        t1 = mono_ns();
        if (rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                fprintf(stderr, "bench-produce: flush timed out\n");
                goto out;
        }
        if (failed) {
                fprintf(stderr, "bench-produce: %lld deliveries failed: %s\n",
                        failed, first_error);
                goto out;
        }
        /* warm-up events are not counted: "produced" was measured */
        printf("{\"produced\":%lld,\"warmup\":%lld,\"bytes\":%lld,"
               "\"seconds\":%.3f,\"seconds_acked\":%.3f}\n",
               delivered - warm, warm, bytes, (double)(t1 - t0) / 1e9,
               (double)(mono_ns() - t0) / 1e9);
        rc = 0;
out:
        rd_kafka_destroy(rk);
        return rc;
}
