/* wh_dlq: the durable hand-off producer for dead letters and retry-tier
 * records (acks=all, idempotent; a write counts when acknowledged). */
#include "wh_dlq.h"
#include "wh_topic.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "hb_kconf.h"
#include "hb_log.h"
#include "hb_time.h"

/* The broker's default max.message.bytes: the limit assumed until the
 * topic's own is known. */
#define BROKER_DEFAULT_MAX 1048588
/* Room left under a limit for the batch header. */
#define BATCH_MARGIN 512
/* Topic set-up is asked again after a failure 1 s later, doubling up to
 * this: a topic just created is often not yet known to DescribeConfigs
 * (for tens of seconds on a loaded broker), and a dead-letter topic may
 * be created by hand after the start; until the set-up ends the tier
 * consumer does not start, so the cap stays short. */
#define SETUP_RETRY_MS 5000
/* Admin requests' timeout. */
#define ADMIN_TIMEOUT_MS 10000
/* A refused write is tried again after 1 s, doubling up to this. */
#define RETRY_MAX_MS 30000
/* Tier topics keep their records at least a week. */
#define MIN_RETENTION_MS (7LL * 24 * 3600 * 1000)

/* One topic written to: index 0 the dead-letter topic, 1 + i tier i. */
typedef struct topic_s {
        char *name;       /* NULL: none */
        int64_t delay_ms; /* tiers: the delay, for retention */
        size_t max_bytes; /* its max.message.bytes, 0: not known */
} topic_t;

/* Per write: the caller's callback, until the delivery report. */
typedef struct pending_s {
        wh_dlq_cb_t *cb;
        void *opaque;
        size_t topic; /* index into topics */
        int tries;
} pending_t;

/* A write the broker refused, waiting to be tried again. */
typedef struct retry_s {
        struct retry_s *next;
        pending_t *p;
        void *key, *value;
        size_t key_len, value_len;
        rd_kafka_headers_t *headers;
        int64_t due_ms; /* monotonic */
} retry_t;

struct wh_dlq_s {
        rd_kafka_t *rk;
        rd_kafka_queue_t *queue;
        rd_kafka_queue_t *admin; /* results of the set-up requests */
        topic_t *topics;
        size_t ntopics;
        int tier_partitions, replication;
        size_t client_max; /* the producer's message.max.bytes */
        size_t pending;
        retry_t *retries;
        size_t retrying;
        int setup;             /* 0 idle, 1 creating, 2 describing */
        int ready;             /* limits known */
        int64_t next_setup_ms; /* monotonic */
        int setup_tries;       /* failed set-ups so far */
        int closing;           /* destroy: reports no longer reach callers */
};

static size_t limit_of(const wh_dlq_t *d, size_t ti)
{
        size_t lim = d->topics[ti].max_bytes ? d->topics[ti].max_bytes
                                             : BROKER_DEFAULT_MAX;

        if (d->client_max && d->client_max < lim)
                lim = d->client_max;
        return lim > BATCH_MARGIN ? lim - BATCH_MARGIN : 0;
}

size_t wh_dlq_max_record(const wh_dlq_t *d, int tier)
{
        size_t ti = tier < 0 ? 0 : (size_t)tier + 1;

        return ti < d->ntopics ? limit_of(d, ti) : 0;
}

static int is_size_error(rd_kafka_resp_err_t err)
{
        return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
               err == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE;
}

/* Produce to topic \p ti. @remark on success the headers are librdkafka's.
 */
static rd_kafka_resp_err_t produce(wh_dlq_t *d, pending_t *p, const void *key,
                                   size_t key_len, const void *value,
                                   size_t value_len, rd_kafka_headers_t *h)
{
        return rd_kafka_producev(
                d->rk, RD_KAFKA_V_TOPIC(d->topics[p->topic].name),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(key, key_len),
                RD_KAFKA_V_VALUE((void *)value, value_len),
                RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
}

/* Add hookbridge-value-omitted to \p h: the value goes without its bytes.
 */
static void mark_omitted(rd_kafka_headers_t *h, size_t len)
{
        char num[32];

        rd_kafka_header_remove(h, HB_REC_H_OMITTED);
        snprintf(num, sizeof(num), "%zu", len);
        rd_kafka_header_add(h, HB_REC_H_OMITTED, -1, num, -1);
}

static void report(wh_dlq_t *d, pending_t *p, int ok, const char *error)
{
        d->pending--;
        if (p->cb && !d->closing)
                p->cb(ok, error, p->opaque);
        free(p);
}

/* Keep a copy of a write to try again later (\p h, NULL or its headers,
 * becomes the retry's). @returns 0, or -1 when out of memory (\p h is
 * then destroyed, nothing kept). */
static int keep(wh_dlq_t *d, pending_t *p, const void *key, size_t key_len,
                const void *value, size_t value_len, rd_kafka_headers_t *h,
                const char *error)
{
        retry_t *r = calloc(1, sizeof(*r));
        int64_t backoff = 1000;

        for (int i = 1; i < p->tries && backoff < RETRY_MAX_MS; i++)
                backoff *= 2;
        if (backoff > RETRY_MAX_MS)
                backoff = RETRY_MAX_MS;
        if (r && key_len)
                r->key = malloc(key_len);
        if (r && value_len)
                r->value = malloc(value_len);
        if (!r || (key_len && !r->key) || (value_len && !r->value)) {
                if (r) {
                        free(r->key);
                        free(r->value);
                        free(r);
                }
                if (h)
                        rd_kafka_headers_destroy(h);
                hb_log(HB_LOG_ERR, "hand-off failed; out of memory", "topic=%s",
                       d->topics[p->topic].name);
                return -1;
        }
        if (key_len)
                memcpy(r->key, key, key_len);
        if (value_len)
                memcpy(r->value, value, value_len);
        r->key_len = key_len;
        r->value_len = value_len;
        r->headers = h;
        r->p = p;
        r->due_ms = hb_time_mono_ms() + backoff;
        r->next = d->retries;
        d->retries = r;
        d->retrying++;
        hb_log(HB_LOG_ERR, "hand-off write refused; trying again",
               "topic=%s error=\"%s\" tries=%d retry_in_ms=%lld",
               d->topics[p->topic].name, error, p->tries, (long long)backoff);
        return 0;
}

/* Keep a copy of a write the broker refused to try again later. */
static void schedule_retry(wh_dlq_t *d, pending_t *p,
                           const rd_kafka_message_t *m, const char *error)
{
        rd_kafka_headers_t *h = NULL, *copy = NULL;

        if (!rd_kafka_message_headers(m, &h) && h &&
            !(copy = rd_kafka_headers_copy(h))) {
                hb_log(HB_LOG_ERR, "hand-off failed; out of memory", "topic=%s",
                       d->topics[p->topic].name);
                report(d, p, 0, "out of memory");
                return;
        }
        /* Cannot even keep it: the caller holds the message. */
        if (keep(d, p, m->key, m->key_len, m->payload, m->len, copy, error))
                report(d, p, 0, "out of memory");
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        wh_dlq_t *d = opaque;
        pending_t *p = m->_private;
        rd_kafka_headers_t *h = NULL, *copy;

        (void)rk;
        if (!p)
                return;
        if (!m->err) {
                report(d, p, 1, NULL);
                return;
        }
        if (d->closing) {
                report(d, p, 0, rd_kafka_err2str(m->err));
                return;
        }
        if (is_size_error(m->err) && p->topic == 0 && m->len &&
            !rd_kafka_message_headers(m, &h) && h &&
            (copy = rd_kafka_headers_copy(h))) {
                /* Larger than the topic takes after all: it goes without
                 * its bytes rather than hold its partition for ever. */
                hb_log(HB_LOG_WARN, "dead letter too large; value omitted",
                       "topic=%s bytes=%zu error=\"%s\"", d->topics[0].name,
                       m->len, rd_kafka_err2str(m->err));
                mark_omitted(copy, m->len);
                if (!produce(d, p, m->key, m->key_len, NULL, 0, copy))
                        return;
                rd_kafka_headers_destroy(copy);
        }
        if (is_size_error(m->err) && p->topic > 0) {
                hb_log(HB_LOG_WARN, "tier record too large for its topic",
                       "topic=%s bytes=%zu", d->topics[p->topic].name, m->len);
                report(d, p, 0, rd_kafka_err2str(m->err));
                return;
        }
        p->tries++;
        schedule_retry(d, p, m, rd_kafka_err2str(m->err));
}

/* Tries again the refused writes that are due. */
static void run_retries(wh_dlq_t *d)
{
        int64_t now = hb_time_mono_ms();
        retry_t **rp = &d->retries;

        while (*rp) {
                retry_t *r = *rp;
                rd_kafka_resp_err_t err;
                if (r->due_ms > now) {
                        rp = &r->next;
                        continue;
                }
                err = produce(d, r->p, r->key, r->key_len, r->value,
                              r->value_len, r->headers);
                if (err) {
                        /* queue full or the like: later */
                        r->due_ms = now + 1000;
                        rp = &r->next;
                        continue;
                }
                *rp = r->next;
                d->retrying--;
                free(r->key);
                free(r->value);
                free(r);
        }
}

/*
 * Topic set-up: create the tier topics when missing, read every topic's
 * max.message.bytes.
 */

static void setup_failed(wh_dlq_t *d, const char *what, const char *why)
{
        int64_t backoff = 1000;

        for (int i = 0; i < d->setup_tries && backoff < SETUP_RETRY_MS; i++)
                backoff *= 2;
        if (backoff > SETUP_RETRY_MS)
                backoff = SETUP_RETRY_MS;
        d->setup_tries++;
        hb_log(HB_LOG_WARN, "hand-off topics: set-up incomplete; asking again",
               "step=%s error=\"%s\" retry_in_ms=%lld", what, why,
               (long long)backoff);
        d->setup = 0;
        d->next_setup_ms = hb_time_mono_ms() + backoff;
}

static void describe(wh_dlq_t *d)
{
        rd_kafka_ConfigResource_t *res[1 + 64];
        rd_kafka_AdminOptions_t *o =
                rd_kafka_AdminOptions_new(d->rk, RD_KAFKA_ADMIN_OP_ANY);
        size_t n = 0;
        char why[256];

        rd_kafka_AdminOptions_set_request_timeout(o, ADMIN_TIMEOUT_MS, why,
                                                  sizeof(why));
        for (size_t i = 0; i < d->ntopics && n < 65; i++)
                if (d->topics[i].name)
                        res[n++] = rd_kafka_ConfigResource_new(
                                RD_KAFKA_RESOURCE_TOPIC, d->topics[i].name);
        d->setup = 2;
        rd_kafka_DescribeConfigs(d->rk, res, n, o, d->admin);
        rd_kafka_ConfigResource_destroy_array(res, n);
        rd_kafka_AdminOptions_destroy(o);
}

static void create(wh_dlq_t *d)
{
        wh_topic_spec_t specs[64];
        char num[64][32], why[256] = "";
        const char *conf[64][2];
        size_t n = 0;

        if (d->tier_partitions <= 0 || d->ntopics < 2) {
                describe(d);
                return;
        }
        for (size_t i = 1; i < d->ntopics && n < 64; i++) {
                int64_t keep = d->topics[i].delay_ms * 4;

                snprintf(num[n], sizeof(num[n]), "%lld",
                         (long long)(keep > MIN_RETENTION_MS
                                             ? keep
                                             : MIN_RETENTION_MS));
                conf[n][0] = "retention.ms";
                conf[n][1] = num[n];
                specs[n] =
                        (wh_topic_spec_t){d->topics[i].name, d->tier_partitions,
                                          d->replication, conf[n], 1};
                n++;
        }
        d->setup = 1;
        if (wh_topic_create(d->rk, d->admin, specs, n, ADMIN_TIMEOUT_MS, why,
                            sizeof(why)) == 0)
                setup_failed(d, "create", why);
}

static void tier_created(const char *name, void *opaque)
{
        const wh_dlq_t *d = opaque;

        hb_log(HB_LOG_INFO, "retry tier topic created",
               "topic=%s partitions=%d", name, d->tier_partitions);
}

static void on_created(wh_dlq_t *d, rd_kafka_event_t *ev)
{
        char why[512];

        if (wh_topic_created(ev, tier_created, d, why, sizeof(why)) == -1) {
                setup_failed(d, "create", why);
                return;
        }
        describe(d);
}

static void on_described(wh_dlq_t *d, rd_kafka_event_t *ev)
{
        const rd_kafka_DescribeConfigs_result_t *res =
                rd_kafka_event_DescribeConfigs_result(ev);
        const rd_kafka_ConfigResource_t **rs;
        size_t n = 0;

        if (rd_kafka_event_error(ev) || !res) {
                setup_failed(d, "describe",
                             rd_kafka_event_error_string(ev)
                                     ? rd_kafka_event_error_string(ev)
                                     : "no result");
                return;
        }
        rs = rd_kafka_DescribeConfigs_result_resources(res, &n);
        for (size_t i = 0; i < n; i++) {
                const char *name = rd_kafka_ConfigResource_name(rs[i]);
                const rd_kafka_ConfigEntry_t **ce;
                size_t nc = 0;
                if (rd_kafka_ConfigResource_error(rs[i])) {
                        setup_failed(
                                d, "describe",
                                rd_kafka_ConfigResource_error_string(rs[i]));
                        return;
                }
                ce = rd_kafka_ConfigResource_configs(rs[i], &nc);
                for (size_t c = 0; c < nc; c++) {
                        const char *v;
                        if (strcmp(rd_kafka_ConfigEntry_name(ce[c]),
                                   "max.message.bytes"))
                                continue;
                        v = rd_kafka_ConfigEntry_value(ce[c]);
                        for (size_t t = 0; v && t < d->ntopics; t++)
                                if (d->topics[t].name &&
                                    !strcmp(d->topics[t].name, name))
                                        d->topics[t].max_bytes =
                                                (size_t)strtoull(v, NULL, 10);
                }
        }
        d->setup = 0;
        d->ready = 1;
        for (size_t t = 0; t < d->ntopics; t++)
                if (d->topics[t].name)
                        hb_log(HB_LOG_INFO, "hand-off topic ready",
                               "topic=%s max_message_bytes=%zu "
                               "max_record=%zu",
                               d->topics[t].name, d->topics[t].max_bytes,
                               limit_of(d, t));
}

static void run_setup(wh_dlq_t *d)
{
        rd_kafka_event_t *ev;

        while ((ev = rd_kafka_queue_poll(d->admin, 0))) {
                if (rd_kafka_event_type(ev) ==
                    RD_KAFKA_EVENT_CREATETOPICS_RESULT)
                        on_created(d, ev);
                else if (rd_kafka_event_type(ev) ==
                         RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT)
                        on_described(d, ev);
                rd_kafka_event_destroy(ev);
        }
        if (!d->ready && !d->setup && hb_time_mono_ms() >= d->next_setup_ms)
                create(d);
}

/*
 * Life cycle.
 */

wh_dlq_t *wh_dlq_new(const cfg_t *cfg, int wake_fd, char *errstr,
                     size_t errstr_size)
{
        wh_dlq_conf_t conf = {.dead_letter_topic =
                                      cfg_delivery(cfg)->dead_letter_topic};

        if (!conf.dead_letter_topic) {
                snprintf(errstr, errstr_size, "no delivery.dead_letter_topic");
                return NULL;
        }
        return wh_dlq_new_ex(cfg, &conf, wake_fd, errstr, errstr_size);
}

wh_dlq_t *wh_dlq_new_ex(const cfg_t *cfg, const wh_dlq_conf_t *c, int wake_fd,
                        char *errstr, size_t errstr_size)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        wh_dlq_t *d = calloc(1, sizeof(*d));
        char why[512], num[32];
        size_t num_size = sizeof(num);
        static const hb_kconf_kv_t defaults[] = {
                /* Nobody waits on a hand-off but its source message: a
                 * batch of 100 ms. At 5 ms a failing tenth of a 30k/s
                 * drain sent ~100 produce requests a second of a few
                 * records per partition, each batch paying lz4's set-up
                 * (an 80 KB context) here and a request in the broker:
                 * ~25 us of this producer's thread per record, against
                 * ~2.5 us at 100 ms (README, "A sick tenth"). */
                {"linger.ms", "100"},
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

        if (!d || !conf) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        if (!c->dead_letter_topic && !c->tier_count) {
                snprintf(errstr, errstr_size,
                         "no dead-letter topic and no retry tiers");
                goto err;
        }
        d->ntopics = 1 + c->tier_count;
        d->topics = calloc(d->ntopics, sizeof(*d->topics));
        if (!d->topics)
                goto oom;
        if (c->dead_letter_topic &&
            !(d->topics[0].name = strdup(c->dead_letter_topic)))
                goto oom;
        for (size_t i = 0; i < c->tier_count; i++) {
                d->topics[1 + i].name = strdup(c->tier_topics[i]);
                d->topics[1 + i].delay_ms =
                        c->tier_delay_ms ? c->tier_delay_ms[i] : 0;
                if (!d->topics[1 + i].name)
                        goto oom;
        }
        d->tier_partitions = c->tier_partitions;
        d->replication = c->replication_factor;
        if (hb_kconf_apply(conf, &set, k->prop_names, k->prop_values,
                           k->prop_count, errstr, errstr_size) == -1)
                goto err;
        if (rd_kafka_conf_get(conf, "message.max.bytes", num, &num_size) ==
            RD_KAFKA_CONF_OK)
                d->client_max = (size_t)strtoull(num, NULL, 10);
        rd_kafka_conf_set_opaque(conf, d);
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        rd_kafka_conf_set_log_cb(conf, hb_kconf_log_cb);
        d->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
        if (!d->rk) {
                snprintf(errstr, errstr_size, "hand-off producer: %s", why);
                goto err;
        }
        /* @remark rd_kafka_new() took ownership of conf. */
        conf = NULL;
        d->queue = rd_kafka_queue_get_main(d->rk);
        d->admin = rd_kafka_queue_new(d->rk);
        if (wake_fd >= 0) {
                rd_kafka_queue_io_event_enable(d->queue, wake_fd, "d", 1);
                rd_kafka_queue_io_event_enable(d->admin, wake_fd, "a", 1);
        }
        return d;
oom:
        snprintf(errstr, errstr_size, "out of memory");
err:
        if (conf)
                rd_kafka_conf_destroy(conf);
        if (d) {
                if (d->rk)
                        rd_kafka_destroy(d->rk);
                for (size_t i = 0; d->topics && i < d->ntopics; i++)
                        free(d->topics[i].name);
                free(d->topics);
                free(d);
        }
        return NULL;
}

/* Queue \p rec to topic \p ti. */
static int send_to(wh_dlq_t *d, size_t ti, const hb_rec_t *rec, wh_dlq_cb_t *cb,
                   void *opaque)
{
        hb_rec_t r = *rec;
        rd_kafka_headers_t *h;
        pending_t *p;
        rd_kafka_resp_err_t err;
        const char *topic = ti < d->ntopics ? d->topics[ti].name : NULL;

        if (!topic) {
                hb_log(HB_LOG_ERR, "hand-off not queued: no such topic",
                       "tier=%d", (int)ti - 1);
                return -1;
        }
        if (hb_rec_size(&r) > limit_of(d, ti)) {
                if (ti > 0) {
                        hb_log(HB_LOG_WARN,
                               "tier record too large for its topic",
                               "topic=%s bytes=%zu max=%zu", topic,
                               hb_rec_size(&r), limit_of(d, ti));
                        return -1;
                }
                /* Larger than the dead-letter topic takes: where it came
                 * from and why, without its bytes (the source topic keeps
                 * them for its retention). */
                r.omitted = r.value_len;
                r.value = NULL;
                r.value_len = 0;
        }
        h = hb_rec_headers(&r);
        p = calloc(1, sizeof(*p));
        if (!h || !p) {
                free(p);
                if (h)
                        rd_kafka_headers_destroy(h);
                return -1;
        }
        p->cb = cb;
        p->opaque = opaque;
        p->topic = ti;
        /* @remark on success rd_kafka_producev() owns the headers. */
        err = produce(d, p, r.key, r.key_len, r.value, r.value_len, h);
        if (is_size_error(err) && r.value_len && ti == 0) {
                /* Larger than the producer may send (message.max.bytes):
                 * the same, without the value. The headers are still
                 * ours. */
                mark_omitted(h, r.value_len);
                r.value = NULL;
                r.value_len = 0;
                err = produce(d, p, r.key, r.key_len, NULL, 0, h);
        }
        if (err && !is_size_error(err)) {
                /* Not queued now (the producer's queue full, ...): kept
                 * and tried again with backoff, like a refused write.
                 * @remark keep() takes the headers, even when it fails. */
                p->tries = 1;
                if (keep(d, p, r.key, r.key_len, r.value, r.value_len, h,
                         rd_kafka_err2str(err)) == -1) {
                        free(p);
                        return -1;
                }
                err = RD_KAFKA_RESP_ERR_NO_ERROR;
        }
        if (err) {
                /* too large for good: the caller dead-letters a tier
                 * record */
                hb_log(HB_LOG_ERR, "hand-off not queued",
                       "topic=%s error=\"%s\"", topic, rd_kafka_err2str(err));
                rd_kafka_headers_destroy(h);
                free(p);
                return -1;
        }
        d->pending++;
        return 0;
}

int wh_dlq_send(wh_dlq_t *d, const wh_dlq_record_t *rec, wh_dlq_cb_t *cb,
                void *opaque)
{
        hb_rec_t r = *rec;

        r.tier = -1;
        r.due_ms = 0;
        return send_to(d, 0, &r, cb, opaque);
}

int wh_dlq_send_tier(wh_dlq_t *d, const wh_dlq_record_t *rec, wh_dlq_cb_t *cb,
                     void *opaque)
{
        if (rec->tier < 0)
                return -1;
        return send_to(d, (size_t)rec->tier + 1, rec, cb, opaque);
}

void wh_dlq_poll(wh_dlq_t *d)
{
        rd_kafka_poll(d->rk, 0);
        if (d->retries)
                run_retries(d);
        run_setup(d);
}

size_t wh_dlq_pending(const wh_dlq_t *d)
{
        return d->pending;
}

size_t wh_dlq_retrying(const wh_dlq_t *d)
{
        return d->retrying;
}

const char *wh_dlq_topic(const wh_dlq_t *d)
{
        return d->topics[0].name;
}

const char *wh_dlq_tier_topic(const wh_dlq_t *d, int tier)
{
        return tier >= 0 && (size_t)tier + 1 < d->ntopics
                       ? d->topics[tier + 1].name
                       : NULL;
}

int wh_dlq_ready(const wh_dlq_t *d)
{
        return d->ready;
}

void wh_dlq_destroy(wh_dlq_t *d, int timeout_ms)
{
        rd_kafka_event_t *ev;

        if (!d)
                return;
        rd_kafka_flush(d->rk, timeout_ms);
        rd_kafka_queue_destroy(d->queue);
        while ((ev = rd_kafka_queue_poll(d->admin, 0)))
                rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(d->admin);
        d->closing = 1;
        /* Unacknowledged writes are purged; their pending_t go with the
         * delivery reports librdkafka still makes on destroy. */
        rd_kafka_purge(d->rk,
                       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(d->rk, 0);
        rd_kafka_destroy(d->rk);
        while (d->retries) {
                retry_t *r = d->retries;
                d->retries = r->next;
                free(r->p);
                free(r->key);
                free(r->value);
                if (r->headers)
                        rd_kafka_headers_destroy(r->headers);
                free(r);
        }
        for (size_t i = 0; i < d->ntopics; i++)
                free(d->topics[i].name);
        free(d->topics);
        free(d);
}
