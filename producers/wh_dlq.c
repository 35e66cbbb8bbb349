/* wh_dlq: the dead-letter topic: a durable hand-off for what cannot be
 * delivered (acks=all, idempotent; a write counts when acknowledged). */
#include "wh_dlq.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "hb_kconf.h"
#include "hb_log.h"

struct wh_dlq_s {
        rd_kafka_t *rk;
        rd_kafka_queue_t *queue;
        char *topic;
        size_t pending;
        int closing; /* destroy: reports no longer reach callers */
};

/* Per write: the caller's callback, until the delivery report. */
typedef struct pending_s {
        wh_dlq_cb_t *cb;
        void *opaque;
} pending_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        wh_dlq_t *d = opaque;
        pending_t *p = m->_private;

        (void)rk;
        d->pending--;
        if (m->err)
                hb_log(HB_LOG_ERR, "dead-letter write failed",
                       "topic=%s error=\"%s\"", d->topic,
                       rd_kafka_err2str(m->err));
        if (p && p->cb && !d->closing)
                p->cb(!m->err, m->err ? rd_kafka_err2str(m->err) : NULL,
                      p->opaque);
        free(p);
}

wh_dlq_t *wh_dlq_new(const cfg_t *cfg, int wake_fd, char *errstr,
                     size_t errstr_size)
{
        const cfg_delivery_t *del = cfg_delivery(cfg);
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        wh_dlq_t *d = calloc(1, sizeof(*d));
        char why[512];
        static const hb_kconf_kv_t defaults[] = {
                {"linger.ms", "5"},
                {"compression.type", "lz4"},
                {"client.id", "hookbridge-dlq"},
        };
        /* The guarantee: set after kafka.properties, so nothing there
         * can weaken it. */
        const hb_kconf_kv_t fixed[] = {
                {"acks", "all"},
                {"enable.idempotence", "true"},
                {"message.timeout.ms", "0"}, /* retry until acknowledged */
                {"bootstrap.servers", cfg_kafka(cfg)->brokers},
        };
        const hb_kconf_set_t set = {defaults,
                                    sizeof(defaults) / sizeof(defaults[0]),
                                    fixed, sizeof(fixed) / sizeof(fixed[0])};
        const cfg_kafka_t *k = cfg_kafka(cfg);

        if (!d || !conf || !del->dead_letter_topic) {
                snprintf(errstr, errstr_size,
                         d && conf ? "no delivery.dead_letter_topic"
                                   : "out of memory");
                goto err;
        }
        if (hb_kconf_apply(conf, &set, k->prop_names, k->prop_values,
                           k->prop_count, errstr, errstr_size) == -1)
                goto err;
        rd_kafka_conf_set_opaque(conf, d);
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        rd_kafka_conf_set_log_cb(conf, hb_kconf_log_cb);
        d->topic = strdup(del->dead_letter_topic);
        d->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
        if (!d->topic || !d->rk) {
                snprintf(errstr, errstr_size, "dead-letter producer: %s",
                         d->topic ? why : "out of memory");
                goto err;
        }
        /* @remark rd_kafka_new() took ownership of conf. */
        conf = NULL;
        d->queue = rd_kafka_queue_get_main(d->rk);
        if (wake_fd >= 0)
                rd_kafka_queue_io_event_enable(d->queue, wake_fd, "d", 1);
        return d;
err:
        if (conf)
                rd_kafka_conf_destroy(conf);
        if (d) {
                if (d->rk)
                        rd_kafka_destroy(d->rk);
                free(d->topic);
                free(d);
        }
        return NULL;
}

int wh_dlq_send(wh_dlq_t *d, const wh_dlq_record_t *rec, wh_dlq_cb_t *cb,
                void *opaque)
{
        rd_kafka_headers_t *h = rd_kafka_headers_new(10);
        pending_t *p = malloc(sizeof(*p));
        char num[32];
        rd_kafka_resp_err_t err;

        if (!h || !p) {
                free(p);
                if (h)
                        rd_kafka_headers_destroy(h);
                return -1;
        }
        p->cb = cb;
        p->opaque = opaque;
        rd_kafka_header_add(h, "hookbridge-source-topic", -1, rec->topic, -1);
        snprintf(num, sizeof(num), "%d", (int)rec->partition);
        rd_kafka_header_add(h, "hookbridge-source-partition", -1, num, -1);
        snprintf(num, sizeof(num), "%" PRId64, rec->offset);
        rd_kafka_header_add(h, "hookbridge-source-offset", -1, num, -1);
        rd_kafka_header_add(h, "hookbridge-reason", -1, rec->reason, -1);
        if (rec->detail)
                rd_kafka_header_add(h, "hookbridge-detail", -1, rec->detail,
                                    -1);
        if (rec->webhook)
                rd_kafka_header_add(h, "hookbridge-webhook", -1, rec->webhook,
                                    -1);
        if (rec->status) {
                snprintf(num, sizeof(num), "%ld", rec->status);
                rd_kafka_header_add(h, "hookbridge-status", -1, num, -1);
        }
        if (rec->error && *rec->error)
                rd_kafka_header_add(h, "hookbridge-error", -1, rec->error, -1);
        if (rec->attempts) {
                snprintf(num, sizeof(num), "%d", rec->attempts);
                rd_kafka_header_add(h, "hookbridge-attempts", -1, num, -1);
        }

        /* @remark on success rd_kafka_producev() owns the headers. */
        err = rd_kafka_producev(
                d->rk, RD_KAFKA_V_TOPIC(d->topic),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(rec->key, rec->key_len),
                RD_KAFKA_V_VALUE((void *)rec->value, rec->value_len),
                RD_KAFKA_V_TIMESTAMP(rec->timestamp_ms > 0 ? rec->timestamp_ms
                                                           : 0),
                RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && rec->value_len) {
                /* Larger than a message may be: hand off where it came
                 * from and why, without its bytes (the source topic keeps
                 * them for its retention). The headers are still ours. */
                snprintf(num, sizeof(num), "%zu", rec->value_len);
                rd_kafka_header_add(h, "hookbridge-value-omitted", -1, num, -1);
                err = rd_kafka_producev(
                        d->rk, RD_KAFKA_V_TOPIC(d->topic),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_KEY(rec->key, rec->key_len),
                        RD_KAFKA_V_VALUE(NULL, 0),
                        RD_KAFKA_V_TIMESTAMP(
                                rec->timestamp_ms > 0 ? rec->timestamp_ms : 0),
                        RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(p),
                        RD_KAFKA_V_END);
        }
        if (err) {
                hb_log(HB_LOG_ERR, "dead-letter write not queued",
                       "topic=%s error=\"%s\"", d->topic,
                       rd_kafka_err2str(err));
                rd_kafka_headers_destroy(h);
                free(p);
                return -1;
        }
        d->pending++;
        return 0;
}

void wh_dlq_poll(wh_dlq_t *d)
{
        rd_kafka_poll(d->rk, 0);
}

size_t wh_dlq_pending(const wh_dlq_t *d)
{
        return d->pending;
}

const char *wh_dlq_topic(const wh_dlq_t *d)
{
        return d->topic;
}

void wh_dlq_destroy(wh_dlq_t *d, int timeout_ms)
{
        if (!d)
                return;
        rd_kafka_flush(d->rk, timeout_ms);
        rd_kafka_queue_destroy(d->queue);
        d->closing = 1;
        /* Unacknowledged writes are purged; their pending_t go with the
         * delivery reports librdkafka still makes on destroy. */
        rd_kafka_purge(d->rk,
                       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(d->rk, 0);
        rd_kafka_destroy(d->rk);
        free(d->topic);
        free(d);
}
