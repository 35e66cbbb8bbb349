/* bench-kafka-read: the Kafka read limit. A plain librdkafka consumer
 * reads every partition of a topic from the beginning to the end and does
 * nothing else with the messages. With --latency it is instead the Kafka
 * part of the latency run: it reads from the end until SIGTERM and reports
 * percentiles of now - the produce time bench-produce --rate wrote into
 * each messageId ("lat-<ns>-<n>"). --work-us N spends N microseconds of
 * CPU on each message (a stand-in for a consumer's own work) and --set
 * NAME=VALUE sets a librdkafka property: together they show how the
 * prefetch settings pace a consumer that is slower than Kafka (the time
 * it waited inside poll() is in the result). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
        (void)sig;
        stop = 1;
}

static int64_t real_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

        return (x > y) - (x < y);
}

/* The produce time in a raw event's "messageId":"lat-<ns>-..", or -1. */
static int64_t stamp_of(const char *p, size_t len)
{
        static const char key[] = "\"messageId\":\"lat-";
        size_t klen = sizeof(key) - 1;

        for (size_t i = 0; i + klen < len; i++)
                if (p[i] == '"' && !memcmp(p + i, key, klen)) {
                        int64_t ns = 0;
                        for (i += klen; i < len && p[i] >= '0' && p[i] <= '9';
                             i++)
                                ns = ns * 10 + (p[i] - '0');
                        return ns;
                }
        return -1;
}

/* --latency: read from the end until SIGTERM. @returns the exit code. */
static int latency(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
        int64_t *v = NULL;
        size_t n = 0, cap = 0;
        double sum = 0;
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        for (int i = 0; i < parts->cnt; i++)
                parts->elems[i].offset = RD_KAFKA_OFFSET_END;
        if (rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                fprintf(stderr, "bench-kafka-read: assign failed\n");
                return 1;
        }
        while (!stop) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                int64_t ns;
                if (!m)
                        continue;
                ns = m->err ? -1 : stamp_of(m->payload, m->len);
                if (ns > 0) {
                        if (n == cap) {
                                size_t c = cap ? cap * 2 : 65536;
                                int64_t *p = realloc(v, c * sizeof(*p));
                                if (!p) {
                                        rd_kafka_message_destroy(m);
                                        break;
                                }
                                v = p;
                                cap = c;
                        }
                        v[n++] = real_ns() - ns;
                }
                rd_kafka_message_destroy(m);
        }
        qsort(v, n, sizeof(*v), cmp_i64);
        for (size_t i = 0; i < n; i++)
                sum += (double)v[i];
#define Q(q) (n ? (double)v[(size_t)((q) * (double)(n - 1) + 0.5)] / 1e6 : -1.0)
        printf("{\"samples\":%zu,\"mean_ms\":%.3f,\"p50_ms\":%.3f,"
               "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,"
               "\"max_ms\":%.3f}\n",
               n, n ? sum / (double)n / 1e6 : -1.0, Q(0.50), Q(0.90), Q(0.99),
               Q(0.999), Q(1.0));
#undef Q
        free(v);
        return 0;
}

static int64_t mono_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
        char errstr[256];

        if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
                fprintf(stderr, "bench-kafka-read: %s: %s\n", name, errstr);
                return -1;
        }
        return 0;
}

static void usage(FILE *f)
{
        fputs("usage: bench-kafka-read --brokers B --topic T [--timeout S]\n"
              "         [--latency] [--work-us N] [--set NAME=VALUE]...\n"
              "Reads T from the beginning to the end of every partition;\n"
              "prints one JSON line: events, bytes, seconds, events_per_s.\n"
              "--latency: reads from the end until SIGTERM; prints "
              "percentiles of\nthe time since the produce time in "
              "messageId lat-<ns>-<n>.\n"
              "--work-us N: spin N microseconds per message; --set: a "
              "librdkafka\nproperty. poll_wait_s: time spent inside "
              "poll() (waiting for messages).\n",
              f);
}

int main(int argc, char **argv)
{
        static const struct option lo[] = {
                {"brokers", required_argument, NULL, 'b'},
                {"topic", required_argument, NULL, 't'},
                {"timeout", required_argument, NULL, 'T'},
                {"latency", no_argument, NULL, 'L'},
                {"work-us", required_argument, NULL, 'w'},
                {"set", required_argument, NULL, 's'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *brokers = NULL, *topic = NULL;
        double timeout_s = 600;
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_partition_list_t *parts = NULL;
        rd_kafka_topic_t *rkt = NULL;
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        char errstr[512];
        long long events = 0, bytes = 0;
        int64_t t0, t_end, deadline;
        int nparts, eofs = 0, rc = 1, c, lat = 0;
        char *eof_seen = NULL;
        const char *sets[32];
        int nsets = 0;
        int64_t work_ns = 0, poll_ns = 0;

        while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
                switch (c) {
                case 'b':
                        brokers = optarg;
                        break;
                case 't':
                        topic = optarg;
                        break;
                case 'T':
                        timeout_s = atof(optarg);
                        break;
                case 'L':
                        lat = 1;
                        break;
                case 'w':
                        work_ns = (int64_t)(atof(optarg) * 1000);
                        break;
                case 's':
                        if (nsets == (int)(sizeof(sets) / sizeof(sets[0])) ||
                            !strchr(optarg, '=')) {
                                usage(stderr);
                                return 2;
                        }
                        sets[nsets++] = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (!brokers || !topic || optind < argc) {
                usage(stderr);
                return 2;
        }

        conf = rd_kafka_conf_new();
        if (conf_set(conf, "bootstrap.servers", brokers) ||
            conf_set(conf, "group.id", "hookbridge-bench-read") ||
            conf_set(conf, "client.id", "hookbridge-bench-read") ||
            conf_set(conf, "enable.auto.commit", "false") ||
            conf_set(conf, "enable.partition.eof", "true")) {
                rd_kafka_conf_destroy(conf);
                return 1;
        }
        for (int i = 0; i < nsets; i++) {
                char name[128];
                const char *eq = strchr(sets[i], '=');
                size_t len = (size_t)(eq - sets[i]);

                if (len >= sizeof(name)) {
                        fprintf(stderr,
                                "bench-kafka-read: --set %s: name too long\n",
                                sets[i]);
                        rd_kafka_conf_destroy(conf);
                        return 2;
                }
                memcpy(name, sets[i], len);
                name[len] = '\0';
                if (conf_set(conf, name, eq + 1)) {
                        rd_kafka_conf_destroy(conf);
                        return 1;
                }
        }
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "bench-kafka-read: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return 1;
        }
        /* @remark rd_kafka_new() took ownership of conf. */
        conf = NULL;
        rd_kafka_poll_set_consumer(rk);

        rkt = rd_kafka_topic_new(rk, topic, NULL);
        if (!rkt || rd_kafka_metadata(rk, 0, rkt, &md, 10000) != 0 ||
            md->topic_cnt != 1 || md->topics[0].err ||
            md->topics[0].partition_cnt < 1) {
                fprintf(stderr, "bench-kafka-read: no metadata for %s\n",
                        topic);
                goto out;
        }
        nparts = md->topics[0].partition_cnt;
        eof_seen = calloc((size_t)nparts, 1);
        parts = rd_kafka_topic_partition_list_new(nparts);
        if (!eof_seen || !parts)
                goto out;
        for (int i = 0; i < nparts; i++)
                rd_kafka_topic_partition_list_add(parts, topic, i)->offset =
                        RD_KAFKA_OFFSET_BEGINNING;

        if (lat) {
                rc = latency(rk, parts);
                goto out;
        }
        t0 = mono_ns();
        deadline = t0 + (int64_t)(timeout_s * 1e9);
        if (rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                fprintf(stderr, "bench-kafka-read: assign failed\n");
                goto out;
        }
        t_end = t0;
        while (eofs < nparts) {
                int64_t before = mono_ns(), after;
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

                after = mono_ns();
                poll_ns += after - before;
                if (after > deadline) {
                        fprintf(stderr, "bench-kafka-read: timed out\n");
                        if (m)
                                rd_kafka_message_destroy(m);
                        goto out;
                }
                if (!m)
                        continue;
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        if (m->partition >= 0 && m->partition < nparts &&
                            !eof_seen[m->partition]) {
                                eof_seen[m->partition] = 1;
                                eofs++;
                        }
                } else if (m->err) {
                        fprintf(stderr, "bench-kafka-read: %s\n",
                                rd_kafka_message_errstr(m));
                } else {
                        events++;
                        bytes += (long long)m->len;
                        while (work_ns && mono_ns() - after < work_ns)
                                ;
                        t_end = mono_ns();
                }
                rd_kafka_message_destroy(m);
        }
        {
                double s = (double)(t_end - t0) / 1e9;
                if (s <= 0)
                        s = 1e-9;
                printf("{\"events\":%lld,\"bytes\":%lld,\"partitions\":%d,"
                       "\"seconds\":%.3f,\"events_per_s\":%.0f,"
                       "\"mb_per_s\":%.1f,\"poll_wait_s\":%.3f}\n",
                       events, bytes, nparts, s, (double)events / s,
                       (double)bytes / s / 1e6, (double)poll_ns / 1e9);
        }
        rc = 0;
out:
        if (parts)
                rd_kafka_topic_partition_list_destroy(parts);
        free(eof_seen);
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return rc;
}
