/* wk_worker: the pipeline's wiring and lifecycle: consume -> transform ->
 * deliver to every subscribed webhook -> finish -> commit. */
#include "wk_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kc_consumer.h"
#include "wh_dlq.h"
#include "wh_pool.h"
#include "wk_log.h"
#include "wk_transform.h"

/* Messages taken from Kafka per loop turn before HTTP gets a turn. */
#define INTAKE_BATCH 256

/* One delivery of a message to one webhook. */
typedef struct wk_delivery_s {
        struct wk_msg_s *msg;
        size_t webhook;
        size_t body;
} wk_delivery_t;

/* One consumed message and what it still owes. Live messages are linked
 * so that abandoned ones can be freed at the end. */
typedef struct wk_msg_s {
        struct wk_worker_s *w;
        struct wk_msg_s *prev, *next;
        rd_kafka_message_t *rkm; /* owned; the raw value for dead letters */
        kc_ticket_t ticket;
        char *id;      /* webhook-id */
        char **bodies; /* one per distinct property set */
        size_t body_count;
        wk_delivery_t *deliveries; /* one per subscribed webhook */
        int owed; /* deliveries (or dead-letter writes) not finished */
} wk_msg_t;

struct wk_worker_s {
        cfg_t *cfg;
        wk_mapping_t *mapping;
        wh_endpoint_t **endpoints; /* one per configured webhook */
        size_t endpoint_count;
        kc_consumer_t *consumer;
        wh_pool_t *pool;
        wh_dlq_t *dlq;
        wk_msg_t *live; /* consumed, not finished */
        int wake[2];    /* self-pipe: Kafka queues, signals */
        volatile sig_atomic_t stop;
        wk_stats_t stats;
        pthread_mutex_t lock; /* guards published */
        wk_stats_t published;
};

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void msg_free(wk_msg_t *m)
{
        if (m->prev)
                m->prev->next = m->next;
        else
                m->w->live = m->next;
        if (m->next)
                m->next->prev = m->prev;
        free(m->deliveries);
        for (size_t i = 0; i < m->body_count; i++)
                free(m->bodies[i]);
        free(m->bodies);
        free(m->id);
        rd_kafka_message_destroy(m->rkm);
        free(m);
}

/* One delivery (or dead-letter write) of \p m ended: when it was the last
 * owed, the message is finished and its offset may be committed. */
static void msg_settle(wk_msg_t *m)
{
        wk_worker_t *w = m->w;

        if (--m->owed > 0)
                return;
        kc_consumer_done(w->consumer, &m->ticket);
        w->stats.finished++;
        msg_free(m);
}

static void dlq_done(int ok, const char *error, void *opaque);

/* Hand \p m (or one of its deliveries) to the dead-letter topic; the
 * owed count is settled when the broker acknowledges the write. */
static void dead_letter(wk_msg_t *m, const wh_dlq_record_t *tmpl)
{
        wk_worker_t *w = m->w;
        wh_dlq_record_t rec = *tmpl;

        rec.topic = rd_kafka_topic_name(m->rkm->rkt);
        rec.partition = m->rkm->partition;
        rec.offset = m->rkm->offset;
        rec.timestamp_ms = rd_kafka_message_timestamp(m->rkm, NULL);
        rec.key = m->rkm->key;
        rec.key_len = m->rkm->key_len;
        rec.value = m->rkm->payload;
        rec.value_len = m->rkm->len;
        if (wh_dlq_send(w->dlq, &rec, dlq_done, m) == 0)
                return;
        /* Not even queued (out of memory): the message stays unfinished,
         * so its offset is never committed and it comes back after a
         * restart. */
        wk_log(WK_LOG_ERR, "dead letter not written; message held",
               "topic=%s partition=%d offset=%lld", rec.topic,
               (int)rec.partition, (long long)rec.offset);
}

static void dlq_done(int ok, const char *error, void *opaque)
{
        wk_msg_t *m = opaque;
        wk_worker_t *w = m->w;

        if (!ok) {
                /* Never lost: librdkafka already retried; the message
                 * stays unfinished (held back) and is redelivered. */
                wk_log(WK_LOG_ERR, "dead letter rejected; message held",
                       "topic=%s partition=%d offset=%lld error=\"%s\"",
                       rd_kafka_topic_name(m->rkm->rkt), (int)m->rkm->partition,
                       (long long)m->rkm->offset, error ? error : "");
                return;
        }
        w->stats.dead_lettered++;
        msg_settle(m);
}

static void delivery_done(const wh_result_t *res, void *opaque)
{
        wk_delivery_t *d = opaque;
        wk_msg_t *m = d->msg;
        wk_worker_t *w = m->w;
        const cfg_webhook_t *wh = cfg_webhook(w->cfg, d->webhook);
        const cfg_delivery_t *del = cfg_delivery(w->cfg);
        wh_dlq_record_t rec = {0};

        if (res->outcome == WH_OUT_OK) {
                w->stats.deliveries_ok++;
                msg_settle(m);
                return;
        }
        w->stats.deliveries_failed++;
        wk_log(WK_LOG_WARN, "delivery failed",
               "webhook=%s topic=%s partition=%d offset=%lld id=%s "
               "outcome=%s status=%ld attempts=%d error=\"%s\"",
               wh->name, rd_kafka_topic_name(m->rkm->rkt),
               (int)m->rkm->partition, (long long)m->rkm->offset, m->id,
               res->outcome == WH_OUT_PERMANENT ? "permanent" : "exhausted",
               res->status, res->attempts, res->error ? res->error : "");
        if (del->on_exhausted == CFG_EXHAUSTED_DROP || !w->dlq) {
                w->stats.dropped++;
                wk_log(WK_LOG_WARN, "delivery dropped (on_exhausted=drop)",
                       "webhook=%s id=%s", wh->name, m->id);
                msg_settle(m);
                return;
        }
        rec.reason =
                res->outcome == WH_OUT_PERMANENT ? "permanent" : "exhausted";
        rec.webhook = wh->name;
        rec.status = res->status;
        rec.error = res->error;
        rec.attempts = res->attempts;
        dead_letter(m, &rec);
}

/* Is webhook \p j's property set the same as webhook \p i's? */
static int same_props(const cfg_webhook_t *a, const cfg_webhook_t *b)
{
        if (a->user_prop_count != b->user_prop_count ||
            a->company_prop_count != b->company_prop_count)
                return 0;
        for (size_t i = 0; i < a->user_prop_count; i++)
                if (strcmp(a->user_props[i], b->user_props[i]))
                        return 0;
        for (size_t i = 0; i < a->company_prop_count; i++)
                if (strcmp(a->company_props[i], b->company_props[i]))
                        return 0;
        return 1;
}

/* Render the bodies \p m needs and submit one delivery per subscribed
 * webhook. @returns 0, or -1 on out-of-memory (m untouched then). */
static int fan_out(wk_worker_t *w, wk_msg_t *m, const wk_event_t *ev)
{
        size_t n = cfg_webhook_count(w->cfg);
        const char *type = wk_event_type(ev);
        size_t *body_of = calloc(n ? n : 1, sizeof(*body_of));
        int forever =
                cfg_delivery(w->cfg)->on_exhausted == CFG_EXHAUSTED_RETRY ||
                (!w->dlq &&
                 cfg_delivery(w->cfg)->on_exhausted != CFG_EXHAUSTED_DROP);

        m->bodies = calloc(n ? n : 1, sizeof(*m->bodies));
        m->deliveries = calloc(n ? n : 1, sizeof(*m->deliveries));
        m->id = strdup(wk_event_id(ev));
        if (!body_of || !m->bodies || !m->deliveries || !m->id)
                goto err;
        for (size_t i = 0; i < n; i++) {
                const cfg_webhook_t *wh = cfg_webhook(w->cfg, i);
                size_t b;
                size_t len;
                if (!cfg_webhook_wants(wh, type))
                        continue;
                for (b = 0; b < i; b++)
                        if (body_of[b] &&
                            same_props(cfg_webhook(w->cfg, b), wh))
                                break;
                if (b < i) {
                        body_of[i] = body_of[b];
                        continue;
                }
                m->bodies[m->body_count] = wk_event_render(
                        ev, wh->user_props, wh->user_prop_count,
                        wh->company_props, wh->company_prop_count, &len);
                if (!m->bodies[m->body_count])
                        goto err;
                body_of[i] = ++m->body_count; /* 1-based; 0 = none */
        }
        /* Hold one "owed" while submitting so a synchronous failure
         * cannot finish the message under our feet. */
        m->owed = 1;
        for (size_t i = 0, k = 0; i < n; i++) {
                wk_delivery_t *d;
                const char *body;
                if (!body_of[i])
                        continue;
                d = &m->deliveries[k++];
                d->msg = m;
                d->webhook = i;
                d->body = body_of[i] - 1;
                body = m->bodies[d->body];
                m->owed++;
                if (wh_pool_submit(w->pool, w->endpoints[i], m->id, body,
                                   strlen(body), forever, delivery_done,
                                   d) == -1) {
                        m->owed--;
                        goto err_submitted;
                }
        }
        free(body_of);
        msg_settle(m);
        return 0;
err_submitted:
        /* Some deliveries are out: keep the message unfinished (held
         * back, redelivered after a restart) rather than lose any. */
        wk_log(WK_LOG_ERR, "out of memory submitting deliveries", "id=%s",
               m->id);
        free(body_of);
        return 0;
err:
        free(body_of);
        return -1;
}

static void handle(wk_worker_t *w, rd_kafka_message_t *rkm,
                   const kc_ticket_t *ticket)
{
        const char *topic = rd_kafka_topic_name(rkm->rkt);
        wk_msgmeta_t meta = {
                .topic = topic,
                .partition = rkm->partition,
                .offset = rkm->offset,
                .timestamp_ms = rd_kafka_message_timestamp(rkm, NULL),
                .topic_app_token = cfg_topic_app_token(w->cfg, topic),
        };
        wk_event_t *ev = NULL;
        char reason[256];
        wk_xf_status_t st;
        wk_msg_t *m = calloc(1, sizeof(*m));

        w->stats.consumed++;
        if (!m) {
                /* Left unfinished: redelivered after a restart. */
                rd_kafka_message_destroy(rkm);
                return;
        }
        m->w = w;
        m->rkm = rkm;
        m->ticket = *ticket;
        m->next = w->live;
        if (w->live)
                w->live->prev = m;
        w->live = m;
        st = wk_event_parse(w->mapping, rkm->payload ? rkm->payload : "",
                            rkm->len, &meta, &ev, reason, sizeof(reason));
        if (st == WK_XF_SKIPPED) {
                w->stats.skipped++;
                wk_log(WK_LOG_DEBUG, "skipped",
                       "topic=%s partition=%d offset=%lld reason=\"%s\"", topic,
                       (int)rkm->partition, (long long)rkm->offset, reason);
                m->owed = 1;
                msg_settle(m);
                return;
        }
        if (st == WK_XF_INVALID) {
                wh_dlq_record_t rec = {.reason = "invalid", .detail = reason};
                w->stats.invalid++;
                wk_log(WK_LOG_WARN, "invalid event",
                       "topic=%s partition=%d offset=%lld reason=\"%s\"", topic,
                       (int)rkm->partition, (long long)rkm->offset, reason);
                m->owed = 1;
                if (w->dlq)
                        dead_letter(m, &rec);
                else
                        msg_settle(m);
                return;
        }
        if (fan_out(w, m, ev) == -1) {
                wk_log(WK_LOG_ERR, "out of memory rendering payloads",
                       "topic=%s partition=%d offset=%lld", topic,
                       (int)rkm->partition, (long long)rkm->offset);
                msg_free(m);
        }
        wk_event_destroy(ev);
}

static void publish(wk_worker_t *w)
{
        kc_stats_t ks;

        kc_consumer_stats(w->consumer, &ks);
        w->stats.commits = ks.commits;
        w->stats.in_flight = ks.pending;
        pthread_mutex_lock(&w->lock);
        w->published = w->stats;
        pthread_mutex_unlock(&w->lock);
}

static void drain_wake(wk_worker_t *w)
{
        char buf[256];

        while (read(w->wake[0], buf, sizeof(buf)) > 0)
                ;
}

/* Build one endpoint per configured webhook. */
static int endpoints_build(wk_worker_t *w, char *errstr, size_t errstr_size)
{
        size_t n = cfg_webhook_count(w->cfg);
        char why[256];

        w->endpoints = calloc(n ? n : 1, sizeof(*w->endpoints));
        if (!w->endpoints) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        for (size_t i = 0; i < n; i++) {
                const cfg_webhook_t *wh = cfg_webhook(w->cfg, i);
                w->endpoints[i] = wh_endpoint_new(wh, why, sizeof(why));
                if (!w->endpoints[i]) {
                        snprintf(errstr, errstr_size, "webhook '%s': %s",
                                 wh->name, why);
                        return -1;
                }
                w->endpoint_count++;
        }
        return 0;
}

wk_worker_t *wk_worker_new(cfg_t *cfg, char *errstr, size_t errstr_size)
{
        wk_worker_t *w = calloc(1, sizeof(*w));
        const cfg_delivery_t *del = cfg_delivery(cfg);
        wh_pool_conf_t pconf = {
                .max_in_flight = del->concurrency,
                .connect_timeout_ms = del->connect_timeout_ms,
                .max_response_bytes = 256,
        };
        char why[512];

        if (!w) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        w->wake[0] = w->wake[1] = -1;
        pthread_mutex_init(&w->lock, NULL);
        w->cfg = cfg;
        if (pipe(w->wake) == -1) {
                snprintf(errstr, errstr_size, "pipe: %s", strerror(errno));
                goto err;
        }
        for (int i = 0; i < 2; i++) {
                fcntl(w->wake[i], F_SETFL, O_NONBLOCK);
                fcntl(w->wake[i], F_SETFD, FD_CLOEXEC);
        }
        w->mapping = wk_mapping_new();
        if (!w->mapping) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        for (size_t i = 0; i < cfg_mapping_count(cfg); i++) {
                const cfg_mapping_t *mp = cfg_mapping(cfg, i);
                if (wk_mapping_add(w->mapping, mp->event, mp->type, why,
                                   sizeof(why)) == -1) {
                        snprintf(errstr, errstr_size, "mappings: %s", why);
                        goto err;
                }
        }
        if (endpoints_build(w, errstr, errstr_size) == -1)
                goto err;
        w->pool = wh_pool_new(&pconf, errstr, errstr_size);
        if (!w->pool)
                goto err;
        if (del->dead_letter_topic &&
            del->on_exhausted != CFG_EXHAUSTED_RETRY) {
                w->dlq = wh_dlq_new(cfg, w->wake[1], errstr, errstr_size);
                if (!w->dlq)
                        goto err;
        }
        w->consumer = kc_consumer_new(cfg, w->wake[1], errstr, errstr_size);
        if (!w->consumer)
                goto err;
        return w;
err:
        /* @remark on failure the caller keeps cfg. */
        w->cfg = NULL;
        wk_worker_destroy(w);
        return NULL;
}

void wk_worker_stop(wk_worker_t *w)
{
        char c = 's';

        w->stop++;
        if (write(w->wake[1], &c, 1) < 0) {
                /* Full pipe: a wake-up is pending anyway. */
        }
}

void wk_worker_stats(wk_worker_t *w, wk_stats_t *out)
{
        pthread_mutex_lock(&w->lock);
        *out = w->published;
        pthread_mutex_unlock(&w->lock);
}

int wk_worker_run(wk_worker_t *w)
{
        int64_t deadline;
        int rc = 0;

        wk_log(WK_LOG_INFO, "worker started",
               "group=%s topics=%zu webhooks=%zu dead_letter=%s",
               cfg_kafka(w->cfg)->group_id, cfg_kafka(w->cfg)->topic_count,
               w->endpoint_count, w->dlq ? wh_dlq_topic(w->dlq) : "-");
        while (!w->stop) {
                int taken = 0;
                kc_ticket_t ticket;
                rd_kafka_message_t *rkm;

                drain_wake(w);
                while (taken < INTAKE_BATCH &&
                       (rkm = kc_consumer_poll(w->consumer, &ticket))) {
                        handle(w, rkm, &ticket);
                        taken++;
                }
                if (w->dlq)
                        wh_dlq_poll(w->dlq);
                kc_consumer_tick(w->consumer);
                publish(w);
                if (wh_pool_run(w->pool, taken ? 0 : 100, w->wake[0]) == -1) {
                        wk_log(WK_LOG_ERR, "HTTP pool failed", "%s", "");
                        rc = -1;
                        break;
                }
        }

        /* Drain: no more intake; let in-flight work finish in time. */
        deadline = now_ms() + cfg_delivery(w->cfg)->shutdown_timeout_ms;
        wk_log(WK_LOG_INFO, "stopping: draining in-flight deliveries",
               "pending=%zu timeout_ms=%d", wh_pool_pending(w->pool),
               cfg_delivery(w->cfg)->shutdown_timeout_ms);
        while (w->stop < 2 && now_ms() < deadline &&
               (wh_pool_pending(w->pool) > 0 ||
                (w->dlq && wh_dlq_pending(w->dlq) > 0))) {
                drain_wake(w);
                if (w->dlq)
                        wh_dlq_poll(w->dlq);
                if (wh_pool_run(w->pool, 50, w->wake[0]) == -1)
                        break;
        }
        publish(w);
        if (kc_consumer_commit_sync(w->consumer) == 0)
                publish(w);
        wk_log(WK_LOG_INFO, "stopped",
               "abandoned=%zu delivered=%llu dead_lettered=%llu",
               wh_pool_pending(w->pool),
               (unsigned long long)w->stats.deliveries_ok,
               (unsigned long long)w->stats.dead_lettered);
        return rc;
}

void wk_worker_destroy(wk_worker_t *w)
{
        if (!w)
                return;
        /* Consumer first: commits what finished and leaves the group
         * while the abandoned messages are still unfinished. */
        kc_consumer_destroy(w->consumer);
        wh_dlq_destroy(w->dlq, 0);
        /* Abandoned deliveries: their messages are never finished, so
         * freeing them here loses nothing (they were not committed). */
        wh_pool_destroy(w->pool);
        while (w->live)
                msg_free(w->live);
        for (size_t i = 0; i < w->endpoint_count; i++)
                wh_endpoint_unref(w->endpoints[i]);
        free(w->endpoints);
        wk_mapping_destroy(w->mapping);
        for (int i = 0; i < 2; i++)
                if (w->wake[i] >= 0)
                        close(w->wake[i]);
        pthread_mutex_destroy(&w->lock);
        cfg_destroy(w->cfg);
        free(w);
}

wk_worker_t *wk_worker_new_ex(cfg_t *cfg, const wk_worker_opts_t *opts,
                              char *errstr, size_t errstr_size)
{
        (void)opts;
        return wk_worker_new(cfg, errstr, errstr_size);
}

void wk_worker_reload(wk_worker_t *w)
{
        (void)w;
}

void wk_worker_report(wk_worker_t *w, FILE *out)
{
        (void)w;
        (void)out;
}
