/* kc_store: the store topic's reader (see the header). */
#include "kc_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "hb_kconf.h"
#include "hb_log.h"
#include "kc_offsets.h"

#define BATCH 500

struct kc_store_reader_s {
        rd_kafka_t *rk;
        rd_kafka_queue_t *q;
        char *topic;
        int64_t position;
};

kc_store_reader_t *kc_store_reader_new(const kc_store_conf_t *c, char *errstr,
                                       size_t errstr_size)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        kc_store_reader_t *r = calloc(1, sizeof(*r));
        rd_kafka_topic_partition_list_t *tp = NULL;
        rd_kafka_resp_err_t err;
        char why[512];
        static const hb_kconf_kv_t defaults[] = {
                {"client.id", "hookbridge-store-reader"},
                /* the prefetch while loading: 100,000 webhooks (a fresh
                 * replica, 2 cores under load) load in 2.7-3.2 s with 105
                 * MiB RSS at 16 MiB, 2.4-5.6 s with 150 MiB at librdkafka's
                 * 64 MiB, 4.9 s with 90 MiB at 8 MiB */
                {"queued.max.messages.kbytes", "16384"},
        };
        /* A change reaches every replica within 2 s: the broker answers
         * a fetch within 100 ms when nothing is new. */
        const hb_kconf_kv_t fixed[] = {
                {"enable.auto.commit", "false"},
                {"enable.auto.offset.store", "false"},
                {"allow.auto.create.topics", "false"},
                {"enable.partition.eof", "true"},
                {"fetch.wait.max.ms", "100"},
                {"auto.offset.reset", "earliest"},
                {"bootstrap.servers", c->brokers},
                /* assign() needs one; never joined (no subscribe) and
                 * nothing committed */
                {"group.id", "hookbridge-store-reader"},
        };
        const hb_kconf_set_t set = {defaults,
                                    sizeof(defaults) / sizeof(defaults[0]),
                                    fixed, sizeof(fixed) / sizeof(fixed[0])};

        if (!r || !conf || !c->topic || !c->brokers) {
                snprintf(errstr, errstr_size,
                         !r || !conf ? "out of memory"
                                     : "store: no topic or no brokers");
                goto err;
        }
        if (!(r->topic = strdup(c->topic))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        if (hb_kconf_apply(conf, &set, c->prop_names, c->prop_values,
                           c->prop_count, errstr, errstr_size) == -1)
                goto err;
        rd_kafka_conf_set_log_cb(conf, hb_kconf_log_cb);
        r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
        if (!r->rk) {
                snprintf(errstr, errstr_size, "store reader: %s", why);
                goto err;
        }
        /* @remark rd_kafka_new() took ownership of conf. */
        conf = NULL;
        tp = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(tp, r->topic, 0)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        err = rd_kafka_assign(r->rk, tp);
        rd_kafka_topic_partition_list_destroy(tp);
        if (err) {
                snprintf(errstr, errstr_size, "store reader: assign: %s",
                         rd_kafka_err2str(err));
                goto err;
        }
        r->q = rd_kafka_queue_get_consumer(r->rk);
        return r;
err:
        if (conf)
                rd_kafka_conf_destroy(conf);
        if (r) {
                if (r->rk)
                        rd_kafka_destroy(r->rk);
                free(r->topic);
                free(r);
        }
        return NULL;
}

int kc_store_reader_end(kc_store_reader_t *r, int64_t *end, int timeout_ms,
                        char *errstr, size_t errstr_size)
{
        /* within timeout_ms (kc_offsets): a broker slow to answer stalled
         * the start-up for over a minute when it was not kept to */
        rd_kafka_resp_err_t err = kc_offsets_watermarks(r->rk, r->topic, 0,
                                                        NULL, end, timeout_ms);

        if (err) {
                snprintf(errstr, errstr_size, "store reader: the end of %s: %s",
                         r->topic, rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

/* Whether \p m carries "hookbridge-restate: 1". */
static int restate_of(const rd_kafka_message_t *m)
{
        rd_kafka_headers_t *h = NULL;
        const void *v = NULL;
        size_t n = 0;

        return !rd_kafka_message_headers(m, &h) && h &&
               !rd_kafka_header_get_last(h, "hookbridge-restate", &v, &n) &&
               v && n == 1 && *(const char *)v == '1';
}

/* The base header of \p m, or -1. */
static int64_t base_of(const rd_kafka_message_t *m)
{
        rd_kafka_headers_t *h = NULL;
        const void *v = NULL;
        size_t n = 0;
        char num[24];
        char *endp;
        long long b;

        if (rd_kafka_message_headers(m, &h) || !h ||
            rd_kafka_header_get_last(h, "hookbridge-base", &v, &n) || !v ||
            n == 0 || n >= sizeof(num))
                return -1;
        memcpy(num, v, n);
        num[n] = '\0';
        b = strtoll(num, &endp, 10);
        if (*endp || b < 0 || num[0] < '0' || num[0] > '9')
                return -1;
        return b;
}

int kc_store_reader_poll(kc_store_reader_t *r, int timeout_ms,
                         kc_store_record_cb_t *cb, void *opaque)
{
        rd_kafka_message_t *m;
        int given = 0;

        /* the first one waits, the rest of a batch is what is there: a
         * record is applied as soon as it arrives */
        for (int i = 0; i < BATCH &&
                        (m = rd_kafka_consume_queue(r->q, i ? 0 : timeout_ms));
             i++) {

                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        if (m->offset > r->position)
                                r->position = m->offset;
                } else if (m->err) {
                        hb_log(HB_LOG_WARN, "store reader: consume error",
                               "topic=%s error=\"%s\"", r->topic,
                               rd_kafka_message_errstr(m));
                } else {
                        kc_store_record_t rec = {
                                .key = m->key,
                                .key_len = m->key_len,
                                .value = m->payload,
                                .len = m->len,
                                .base = base_of(m),
                                .restate = restate_of(m),
                                .offset = m->offset,
                        };
                        cb(&rec, opaque);
                        given++;
                        r->position = m->offset + 1;
                }
                rd_kafka_message_destroy(m);
        }
        return given;
}

int64_t kc_store_reader_position(const kc_store_reader_t *r)
{
        return r->position;
}

void kc_store_reader_destroy(kc_store_reader_t *r)
{
        if (!r)
                return;
        rd_kafka_queue_destroy(r->q);
        rd_kafka_consumer_close(r->rk);
        rd_kafka_destroy(r->rk);
        free(r->topic);
        free(r);
}
