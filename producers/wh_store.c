/* wh_store: the store topic's producer (see the header). */
#include "wh_store.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "hb_kconf.h"
#include "hb_log.h"
#include "wh_topic.h"

#define ADMIN_TIMEOUT_MS 10000

struct wh_store_writer_s {
        rd_kafka_t *rk;
        char *topic;
        int replication;
        int timeout_ms;
        pthread_mutex_t lock; /* one write at a time */
        char **topic_config;  /* owned pairs, or NULL */
        size_t topic_config_count;
        size_t sent_failed; /* wh_store_send()'s, since the last flush */
};

/* The answer to one write, filled by the delivery report. */
typedef struct result_s {
        int done;
        rd_kafka_resp_err_t err;
        int64_t offset;
} result_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        result_t *r = m->_private;
        wh_store_writer_t *w = opaque;

        (void)rk;
        if (!r) {
                /* wh_store_send()'s: counted for wh_store_flush() */
                if (m->err && w)
                        w->sent_failed++;
                return;
        }
        r->err = m->err;
        r->offset = m->offset;
        r->done = 1;
}

static void config_free(wh_store_writer_t *w)
{
        for (size_t i = 0; w->topic_config && i < 2 * w->topic_config_count;
             i++)
                free(w->topic_config[i]);
        free(w->topic_config);
        w->topic_config = NULL;
}

wh_store_writer_t *wh_store_writer_new(const wh_store_conf_t *c, char *errstr,
                                       size_t errstr_size)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        wh_store_writer_t *w = calloc(1, sizeof(*w));
        char why[512], tmo[32];
        static const hb_kconf_kv_t defaults[] = {
                {"client.id", "hookbridge-store"},
        };
        const hb_kconf_kv_t fixed[] = {
                {"acks", "all"},
                {"enable.idempotence", "true"},
                {"linger.ms", "0"},
                {"message.timeout.ms", tmo},
                {"bootstrap.servers", c->brokers},
        };
        const hb_kconf_set_t set = {defaults,
                                    sizeof(defaults) / sizeof(defaults[0]),
                                    fixed, sizeof(fixed) / sizeof(fixed[0])};

        if (!w || !conf || !c->topic || !c->brokers) {
                snprintf(errstr, errstr_size,
                         !w || !conf ? "out of memory"
                                     : "store: no topic or no brokers");
                goto err;
        }
        w->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 10000;
        snprintf(tmo, sizeof(tmo), "%d", w->timeout_ms);
        w->replication = c->replication_factor;
        pthread_mutex_init(&w->lock, NULL);
        if (!(w->topic = strdup(c->topic))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        if (c->topic_config_count) {
                w->topic_config =
                        calloc(2 * c->topic_config_count, sizeof(char *));
                if (!w->topic_config) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto err;
                }
                w->topic_config_count = c->topic_config_count;
                for (size_t i = 0; i < 2 * c->topic_config_count; i++)
                        if (!(w->topic_config[i] =
                                      strdup(c->topic_config[i]))) {
                                snprintf(errstr, errstr_size, "out of memory");
                                goto err;
                        }
        }
        if (hb_kconf_apply(conf, &set, c->prop_names, c->prop_values,
                           c->prop_count, errstr, errstr_size) == -1)
                goto err;
        rd_kafka_conf_set_opaque(conf, w);
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        rd_kafka_conf_set_log_cb(conf, hb_kconf_log_cb);
        w->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
        if (!w->rk) {
                snprintf(errstr, errstr_size, "store producer: %s", why);
                goto err;
        }
        /* @remark rd_kafka_new() took ownership of conf. */
        return w;
err:
        if (conf)
                rd_kafka_conf_destroy(conf);
        if (w) {
                config_free(w);
                free(w->topic);
                free(w);
        }
        return NULL;
}

static void created(const char *name, void *opaque)
{
        const wh_store_writer_t *w = opaque;
        const char *policy = "compact";

        for (size_t i = 0; i < w->topic_config_count; i++)
                if (!strcmp(w->topic_config[2 * i], "cleanup.policy"))
                        policy = w->topic_config[2 * i + 1];
        hb_log(HB_LOG_INFO, "store topic created",
               "topic=%s partitions=1 cleanup_policy=%s", name, policy);
}

/* Whether the cluster's metadata lists \p topic: 1 yes, 0 no, -1 no
 * answer. Every topic is asked for, as one topic's metadata request may
 * create it with the broker's defaults (auto.create.topics.enable). */
static int topic_listed(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
        const struct rd_kafka_metadata *md = NULL;
        int found = 0;

        if (rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms))
                return -1;
        for (int i = 0; i < md->topic_cnt && !found; i++)
                found = !strcmp(md->topics[i].topic, topic) &&
                        !md->topics[i].err;
        rd_kafka_metadata_destroy(md);
        return found;
}

int wh_store_writer_ensure_topic(wh_store_writer_t *w, char *errstr,
                                 size_t errstr_size)
{
        static const char *const conf[] = {"cleanup.policy", "compact"};
        wh_topic_spec_t spec = {w->topic, 1, w->replication, conf, 1};

        /* a topic that exists needs no CreateTopics: a principal without
         * that right can use it, and so can librdkafka's mock cluster,
         * where CreateTopics times out waiting for a controller */
        if (topic_listed(w->rk, w->topic, ADMIN_TIMEOUT_MS) == 1)
                return 0;
        if (w->topic_config_count) {
                spec.config = (const char *const *)w->topic_config;
                spec.nconfig = w->topic_config_count;
        }

        return wh_topic_ensure(w->rk, &spec, 1, ADMIN_TIMEOUT_MS, created, w,
                               errstr, errstr_size);
}

int wh_store_write(wh_store_writer_t *w, const char *key, const void *value,
                   size_t len, int64_t base, int restate, int64_t *offset,
                   char *errstr, size_t errstr_size)
{
        result_t r = {0, RD_KAFKA_RESP_ERR_NO_ERROR, -1};
        rd_kafka_headers_t *h = rd_kafka_headers_new(2);
        rd_kafka_resp_err_t err;
        char num[32];

        if (!h) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        snprintf(num, sizeof(num), "%" PRId64, base);
        rd_kafka_header_add(h, WH_STORE_BASE_HEADER, -1, num, -1);
        if (restate)
                rd_kafka_header_add(h, WH_STORE_RESTATE_HEADER, -1, "1", 1);
        pthread_mutex_lock(&w->lock);
        err = rd_kafka_producev(
                w->rk, RD_KAFKA_V_TOPIC(w->topic), RD_KAFKA_V_PARTITION(0),
                RD_KAFKA_V_KEY(key, strlen(key)),
                RD_KAFKA_V_VALUE((void *)value, value ? len : 0),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
                RD_KAFKA_V_OPAQUE(&r), RD_KAFKA_V_END);
        if (err) {
                pthread_mutex_unlock(&w->lock);
                rd_kafka_headers_destroy(h);
                snprintf(errstr, errstr_size, "store write: %s",
                         rd_kafka_err2str(err));
                return -1;
        }
        /* @remark producev() took the headers. message.timeout.ms bounds
         * the wait: the report always comes, and r lives until then. */
        while (!r.done)
                rd_kafka_poll(w->rk, 50);
        pthread_mutex_unlock(&w->lock);
        if (r.err) {
                snprintf(errstr, errstr_size, "store write: %s",
                         rd_kafka_err2str(r.err));
                return -1;
        }
        *offset = r.offset;
        return 0;
}

int wh_store_send(wh_store_writer_t *w, const void *key, size_t key_len,
                  const void *value, size_t len, char *errstr,
                  size_t errstr_size)
{
        rd_kafka_resp_err_t err = rd_kafka_producev(
                w->rk, RD_KAFKA_V_TOPIC(w->topic), RD_KAFKA_V_PARTITION(0),
                RD_KAFKA_V_KEY((void *)key, key_len),
                RD_KAFKA_V_VALUE((void *)value, value ? len : 0),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);

        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                /* room comes as the broker answers */
                rd_kafka_poll(w->rk, 100);
                err = rd_kafka_producev(
                        w->rk, RD_KAFKA_V_TOPIC(w->topic),
                        RD_KAFKA_V_PARTITION(0),
                        RD_KAFKA_V_KEY((void *)key, key_len),
                        RD_KAFKA_V_VALUE((void *)value, value ? len : 0),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_END);
        }
        if (err) {
                snprintf(errstr, errstr_size, "%s: %s", w->topic,
                         rd_kafka_err2str(err));
                return -1;
        }
        rd_kafka_poll(w->rk, 0);
        return 0;
}

size_t wh_store_flush(wh_store_writer_t *w, int timeout_ms)
{
        size_t failed;

        rd_kafka_flush(w->rk, timeout_ms);
        failed = w->sent_failed + (size_t)rd_kafka_outq_len(w->rk);
        w->sent_failed = 0;
        return failed;
}

void wh_store_writer_destroy(wh_store_writer_t *w)
{
        if (!w)
                return;
        rd_kafka_flush(w->rk, 5000);
        rd_kafka_destroy(w->rk);
        pthread_mutex_destroy(&w->lock);
        config_free(w);
        free(w->topic);
        free(w);
}
