/* dm_kafka: the demo's events and committed offsets (see the header). */
#include "dm_kafka.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "wk_sample.h"

int dm_produce_events(const char *bootstraps, const char *app_a,
                      const char *app_b)
{
        char errstr[512], buf[2048], id[32];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        long long now = (long long)time(NULL) * 1000;
        const char *extra[] = {
                "{\"type\":\"identify\",\"userId\":\"1\"}",
                "{\"type\":\"track\",\"event\":\"Flow Completed\"",
        };
        int n = 0;

        rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, NULL, 0);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "demo: producer: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        /* said first: the worker delivers while they are produced */
        printf("\nproducing %zu events (every kind, of app %s and of app "
               "%s, interleaved)\n+ 1 identify call + 1 malformed event to "
               "'%s' (%d partitions)\n",
               2 * wk_sample_count(), app_a, app_b, DM_TOPIC, DM_PARTITIONS);
        fflush(stdout);
        for (size_t j = 0; j < 2 * wk_sample_count(); j++) {
                size_t i = j / 2;
                const char *app = j % 2 ? app_b : app_a;
                snprintf(id, sizeof(id), "demo-%s-%zu", app + 3, i + 1);
                wk_sample_render_app(i, app, id, 1000 + (long)i, now, buf,
                                     sizeof(buf));
                rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(DM_TOPIC),
                                  RD_KAFKA_V_KEY(id, strlen(id)),
                                  RD_KAFKA_V_VALUE(buf, strlen(buf)),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_END);
                n++;
        }
        for (size_t i = 0; i < 2; i++)
                rd_kafka_producev(
                        rk, RD_KAFKA_V_TOPIC(DM_TOPIC),
                        RD_KAFKA_V_VALUE((void *)extra[i], strlen(extra[i])),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_END);
        if (rd_kafka_flush(rk, 10000)) {
                fprintf(stderr, "demo: the events were not all produced\n");
                n = -1;
        }
        rd_kafka_destroy(rk);
        return n;
}

int dm_print_committed(const char *bootstraps)
{
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(DM_PARTITIONS);
        rd_kafka_t *rk;
        int all = 1;

        rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, NULL, 0);
        rd_kafka_conf_set(conf, "group.id", DM_GROUP, NULL, 0);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (!rk) {
                rd_kafka_conf_destroy(conf);
                rd_kafka_topic_partition_list_destroy(l);
                return 0;
        }
        for (int p = 0; p < DM_PARTITIONS; p++)
                rd_kafka_topic_partition_list_add(l, DM_TOPIC, p);
        rd_kafka_committed(rk, l, 5000);
        printf("\ncommitted offsets of group '%s':\n", DM_GROUP);
        for (int i = 0; i < l->cnt; i++) {
                int64_t lo = 0, hi = 0;
                rd_kafka_query_watermark_offsets(rk, DM_TOPIC, i, &lo, &hi,
                                                 5000);
                printf("  %s[%d]  committed %lld  log end %lld%s\n", DM_TOPIC,
                       i, (long long)l->elems[i].offset, (long long)hi,
                       l->elems[i].offset == hi ? "" : "  (behind)");
                all &= l->elems[i].offset == hi;
        }
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return all;
}
