/* wk_worker: the delivery loop and the pipeline's lifecycle: consume ->
 * transform -> deliver to every subscribed webhook -> finish -> commit.
 * What the loop publishes (metrics, /status, probes) is wk_status.c. */
#include "wk_worker.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hb_fmt.h"
#include "hb_log.h"
#include "hb_time.h"
#include "wk_health.h"
#include "wk_metrics_names.h"
#include "wk_redrive.h"
#include "wk_wake.h"
#include "wk_worker_int.h"

/* Messages taken from Kafka per loop turn before HTTP gets a turn: small,
 * so responses are collected and new requests sent while a backlog is
 * being taken in. */
#define INTAKE_BATCH 32
/* Deliveries ready and waiting for a connection, per connection, above
 * which intake waits while every connection is busy: work is taken from
 * Kafka as fast as it can be sent, not faster (the in-flight limits are
 * for what a failing webhook holds back, not for a healthy backlog). */
#define INTAKE_AHEAD 4

/*
 * Messages.
 */

static void msg_free(wk_msg_t *m)
{
        if (m->prev)
                m->prev->next = m->next;
        else
                m->w->live = m->next;
        if (m->next)
                m->next->prev = m->prev;
        for (size_t i = 0; i < m->delivery_count; i++) {
                wh_endpoint_unref(m->deliveries[i].ep);
                if (!m->packed)
                        free(m->labels[i]);
        }
        for (size_t i = 0; i < m->body_count; i++)
                free(m->bodies[i]);
        if (!m->packed) {
                free(m->labels);
                free(m->bodies);
                free(m->id);
        }
        free(m->deliveries);
        kc_msg_release(&m->in);
        free(m);
}

void wk_msg_settle(wk_msg_t *m)
{
        wk_worker_t *w = m->w;

        if (--m->owed > 0)
                return;
        kc_consumer_done(w->consumer, &m->in.ticket);
        w->stats.finished++;
        msg_free(m);
}

static void dlq_done(int ok, const char *error, void *opaque);

/* Is there a dead-letter topic to write to? */
static int has_dlt(const wk_worker_t *w)
{
        return w->dlq && wh_dlq_topic(w->dlq);
}

/* Does a failed delivery keep trying (no dead-letter topic, or
 * on_exhausted = "retry") rather than end? */
static int forever_policy(const wk_worker_t *w)
{
        cfg_exhausted_t oe = w->hooks->on_exhausted;

        return oe == CFG_EXHAUSTED_RETRY ||
               (!has_dlt(w) && oe != CFG_EXHAUSTED_DROP);
}

/* The source fields of \p rec: \p m as consumed. */
static void rec_source(const wk_msg_t *m, wh_dlq_record_t *rec)
{
        rec->topic = m->in.topic;
        rec->partition = m->in.partition;
        rec->offset = m->in.offset;
        rec->timestamp_ms = m->in.timestamp_ms;
        rec->key = m->in.key;
        rec->key_len = m->in.key_len;
        rec->value = m->in.value;
        rec->value_len = m->in.value_len;
}

/* Hand \p d's message (d->label NULL: the whole message, an invalid
 * event) or one delivery to the dead-letter topic; the owed count is
 * settled when the broker acknowledges the write. */
static void dead_letter(wk_delivery_t *d, const wh_dlq_record_t *tmpl)
{
        wk_msg_t *m = d->msg;
        wk_worker_t *w = m->w;
        wh_dlq_record_t rec = *tmpl;

        rec_source(m, &rec);
        /* redrive sends it with the same webhook-id (SPEC §4a) */
        rec.id = m->id;
        if (w->dlq && wh_dlq_send(w->dlq, &rec, dlq_done, d) == 0)
                return;
        /* Not even queued (out of memory): the message stays unfinished,
         * so its offset is never committed and it comes back after a
         * restart. */
        wk_metrics_add(w->metrics, WK_M_DLQ_WRITES, "result=\"error\"", 1);
        hb_log(HB_LOG_ERR, "dead letter not written; message held",
               "topic=%s partition=%d offset=%lld", rec.topic,
               (int)rec.partition, (long long)rec.offset);
}

static void count_outcome(wk_worker_t *w, const char *label,
                          const char *outcome);

static void dlq_done(int ok, const char *error, void *opaque)
{
        wk_delivery_t *d = opaque;
        wk_msg_t *m = d->msg;
        wk_worker_t *w = m->w;

        if (!ok) {
                /* Never lost: librdkafka already retried; the message
                 * stays unfinished (held back) and is redelivered. */
                wk_metrics_add(w->metrics, WK_M_DLQ_WRITES, "result=\"error\"",
                               1);
                hb_log(HB_LOG_ERR, "dead letter rejected; message held",
                       "topic=%s partition=%d offset=%lld error=\"%s\"",
                       m->in.topic, (int)m->in.partition,
                       (long long)m->in.offset, error ? error : "");
                return;
        }
        wk_metrics_add(w->metrics, WK_M_DLQ_WRITES, "result=\"ok\"", 1);
        if (d->label) {
                count_outcome(w, d->label, WK_M_OUTCOME_DEAD_LETTERED);
                wk_health_event(w->opts.health, wh_endpoint_app(d->ep),
                                wh_endpoint_name(d->ep),
                                WK_HEALTH_DEAD_LETTERED);
        }
        w->stats.dead_lettered++;
        wk_msg_settle(m);
}

/* Count one outcome of a delivery in the metrics. */
static void count_outcome(wk_worker_t *w, const char *label,
                          const char *outcome)
{
        char l[WK_STATUS_LABEL_MAX + 64];

        hb_fmt_cat(l, sizeof(l), label, ",outcome=\"", outcome, "\"", NULL);
        wk_metrics_add(w->metrics, WK_M_DELIVERIES, l, 1);
}

/* The retry tier refused the hand-off for good after it was queued (too
 * large for the tier topic after all): held, the message would never be
 * finished and its partition would commit no further; it goes where a
 * delivery that failed for good goes (the dead-letter topic, or dropped
 * as on_exhausted says; held only without either). */
static void tier_refused(wk_delivery_t *d, const char *error)
{
        wk_msg_t *m = d->msg;
        wk_worker_t *w = m->w;
        wh_dlq_record_t rec = {0};
        char detail[300];

        if (w->hooks->on_exhausted == CFG_EXHAUSTED_DROP) {
                w->stats.dropped++;
                count_outcome(w, d->label, "dropped");
                hb_log(HB_LOG_WARN,
                       "retry tier refused the delivery; dropped "
                       "(on_exhausted=drop)",
                       "topic=%s partition=%d offset=%lld error=\"%s\"",
                       m->in.topic, (int)m->in.partition,
                       (long long)m->in.offset, error ? error : "");
                wk_msg_settle(m);
                return;
        }
        if (!has_dlt(w)) {
                hb_log(HB_LOG_ERR, "retry tier write rejected; message held",
                       "topic=%s partition=%d offset=%lld error=\"%s\"",
                       m->in.topic, (int)m->in.partition,
                       (long long)m->in.offset, error ? error : "");
                return;
        }
        hb_log(HB_LOG_WARN,
               "retry tier refused the delivery; dead-lettering it",
               "topic=%s partition=%d offset=%lld error=\"%s\"", m->in.topic,
               (int)m->in.partition, (long long)m->in.offset,
               error ? error : "");
        snprintf(detail, sizeof(detail), "the retry tier refused it: %s",
                 error ? error : "");
        w->stats.deliveries_failed++;
        count_outcome(w, d->label, "exhausted");
        rec.reason = "exhausted";
        rec.detail = detail;
        rec.webhook = wh_endpoint_name(d->ep);
        rec.app = wh_endpoint_app(d->ep);
        dead_letter(d, &rec);
}

/* The hand-off to a retry tier was acknowledged: the message no longer
 * waits for this delivery (SPEC §4a). */
static void tier_done(int ok, const char *error, void *opaque)
{
        wk_delivery_t *d = opaque;
        wk_msg_t *m = d->msg;

        if (!ok) {
                tier_refused(d, error);
                return;
        }
        count_outcome(m->w, d->label, "tiered");
        wk_health_event(m->w->opts.health, wh_endpoint_app(d->ep),
                        wh_endpoint_name(d->ep), WK_HEALTH_HANDED_OFF);
        wk_msg_settle(m);
}

/* Hand \p d to retry tier \p tier. @returns 0, or -1 when it could not
 * be queued (too large for the tier topic, out of memory). */
static int hand_off(wk_delivery_t *d, const wh_result_t *res, int tier)
{
        wk_msg_t *m = d->msg;
        wh_dlq_record_t rec;

        hb_rec_init(&rec);
        rec_source(m, &rec);
        rec.reason = res->circuit_open                 ? "circuit_open"
                     : res->suspect                    ? "suspect"
                     : res->rate_limited               ? "rate_limited"
                     : res->outcome == WH_OUT_DEFERRED ? "retry_after"
                                                       : "retry";
        rec.webhook = wh_endpoint_name(d->ep);
        rec.app = wh_endpoint_app(d->ep);
        rec.id = m->id;
        rec.status = res->status;
        rec.error = res->error && *res->error ? res->error : NULL;
        rec.attempts = res->attempts;
        return wk_tier_handoff(m->w->tier, &rec, tier,
                               res->retry_after_ms > 0 ? res->retry_after_ms
                                                       : 0,
                               tier_done, d);
}

static void delivery_done(const wh_result_t *res, void *opaque)
{
        wk_delivery_t *d = opaque;
        wk_msg_t *m = d->msg;
        wk_worker_t *w = m->w;
        cfg_exhausted_t on_exhausted = w->hooks->on_exhausted;
        const char *name = wh_endpoint_name(d->ep);
        const char *app = wh_endpoint_app(d->ep);
        wh_dlq_record_t rec = {0};
        int64_t ts;

        if (res->outcome == WH_OUT_OK) {
                w->stats.deliveries_ok++;
                count_outcome(w, d->label, "ok");
                ts = m->in.timestamp_ms;
                if (ts > 0)
                        wk_metrics_observe(w->metrics, WK_M_END_TO_END, "",
                                           (double)(hb_time_now_ms() - ts) /
                                                   1000.0);
                wk_msg_settle(m);
                return;
        }
        if (!kc_consumer_owns(w->consumer, &m->in.ticket)) {
                /* Its partition was revoked meanwhile (after
                 * revoke_timeout_ms): the next owner reads the message
                 * again and delivers it; a hand-off or a dead letter
                 * made here too would be made twice. */
                hb_log(HB_LOG_INFO,
                       "delivery not handed off: its partition was "
                       "revoked; left to the next owner",
                       "webhook=%s topic=%s partition=%d offset=%lld", name,
                       m->in.topic, (int)m->in.partition,
                       (long long)m->in.offset);
                wk_msg_settle(m);
                return;
        }
        if (w->tier) {
                int tier = wk_tier_first(w->tier, res, forever_policy(w));
                if (tier >= 0 && hand_off(d, res, tier) == 0)
                        return;
        }
        if (res->outcome == WH_OUT_DISABLED ||
            (res->outcome == WH_OUT_PERMANENT && res->status == 410)) {
                /* The webhook was disabled (410 Gone): it receives
                 * nothing and holds nothing back until a reload; with a
                 * dead-letter topic its deliveries wait there (reason
                 * "gone") for a redrive (D3) instead of being lost. */
                count_outcome(w, d->label,
                              res->outcome == WH_OUT_PERMANENT ? "permanent"
                                                               : "disabled");
                if (has_dlt(w) && on_exhausted != CFG_EXHAUSTED_DROP) {
                        rec.reason = "gone";
                        rec.webhook = name;
                        rec.app = app;
                        rec.status = res->status;
                        rec.error = res->error;
                        rec.attempts = res->attempts;
                        dead_letter(d, &rec);
                        return;
                }
                wk_msg_settle(m);
                return;
        }
        if (res->outcome != WH_OUT_PERMANENT &&
            res->outcome != WH_OUT_EXHAUSTED &&
            res->outcome != WH_OUT_DEFERRED) {
                count_outcome(w, d->label, "disabled");
                wk_msg_settle(m);
                return;
        }
        w->stats.deliveries_failed++;
        hb_log(HB_LOG_WARN, "delivery failed",
               "webhook=%s app=%s topic=%s partition=%d offset=%lld "
               "id=\"%s\" outcome=%s status=%ld attempts=%d error=\"%s\"",
               name, app ? app : "", m->in.topic, (int)m->in.partition,
               (long long)m->in.offset, m->id,
               res->outcome == WH_OUT_PERMANENT ? "permanent" : "exhausted",
               res->status, res->attempts, res->error ? res->error : "");
        if (on_exhausted != CFG_EXHAUSTED_DROP && !has_dlt(w)) {
                /* Never dropped unless the configuration says so: held
                 * (unfinished, uncommitted) until a restart. */
                hb_log(HB_LOG_ERR,
                       "delivery failed for good and there is no "
                       "dead-letter topic; message held",
                       "webhook=%s app=%s id=\"%s\"", name, app ? app : "",
                       m->id);
                return;
        }
        if (on_exhausted == CFG_EXHAUSTED_DROP) {
                w->stats.dropped++;
                count_outcome(w, d->label, "dropped");
                hb_log(HB_LOG_WARN, "delivery dropped (on_exhausted=drop)",
                       "webhook=%s app=%s id=\"%s\"", name, app ? app : "",
                       m->id);
                wk_msg_settle(m);
                return;
        }
        count_outcome(w, d->label,
                      res->outcome == WH_OUT_PERMANENT ? "permanent"
                                                       : "exhausted");
        rec.reason =
                res->outcome == WH_OUT_PERMANENT ? "permanent" : "exhausted";
        rec.webhook = name;
        rec.app = app;
        rec.status = res->status;
        rec.error = res->error;
        rec.attempts = res->attempts;
        dead_letter(d, &rec);
}

/* Count a would-be delivery (dry runs and reports). */
static void count_type(wk_worker_t *w, const char *type)
{
        type_count_t *t;

        for (size_t i = 0; i < w->per_type_n; i++)
                if (!strcmp(w->per_type[i].type, type)) {
                        w->per_type[i].n++;
                        return;
                }
        t = realloc(w->per_type, (w->per_type_n + 1) * sizeof(*t));
        if (!t)
                return;
        w->per_type = t;
        t[w->per_type_n].type = strdup(type);
        t[w->per_type_n].n = 1;
        if (t[w->per_type_n].type)
                w->per_type_n++;
}

/* Count a delivery to webhook \p hook (an index into the webhooks in
 * force) named \p name. */
static void count_webhook(wk_worker_t *w, size_t hook, const char *name)
{
        /* the counters are the first configuration's, in its order: the
         * same index unless a reload moved the webhooks (a scan of every
         * name per delivery took 13% of the loop with 10,000 webhooks) */
        if (hook < w->per_webhook_n &&
            !strcmp(w->per_webhook_name[hook], name)) {
                w->per_webhook[hook]++;
                return;
        }
        for (size_t i = 0; i < w->per_webhook_n; i++)
                if (!strcmp(w->per_webhook_name[i], name)) {
                        w->per_webhook[i]++;
                        return;
                }
}

/* Hand one delivery of \p m (body \p body) to webhook \p hook of the
 * webhooks in force. @returns 0, or -1 on out-of-memory. */
static int submit(wk_worker_t *w, wk_msg_t *m, size_t hook, const char *body,
                  int forever)
{
        hooks_t *h = w->hooks;
        wk_delivery_t *d = &m->deliveries[m->delivery_count];
        size_t ll = strlen(h->labels[hook]) + 1;

        /* room for it was made by msg_pack() */
        m->labels[m->delivery_count] =
                memcpy(m->label_next, h->labels[hook], ll);
        m->label_next += ll;
        d->msg = m;
        d->ep = wh_endpoint_ref(h->eps[hook]);
        d->label = m->labels[m->delivery_count];
        m->delivery_count++;
        m->owed++;
        if (wh_pool_submit(w->pool, d->ep, m->id, body, strlen(body), forever,
                           delivery_done, d) == -1) {
                m->owed--;
                return -1;
        }
        return 0;
}

/*
 * One allocation for what \p m needs to send to the first \p n routes of
 * \p rs (none: only the id): the deliveries first (freed as
 * m->deliveries), then the body and label pointers, the id \p id and
 * room for the labels submit() copies. @returns 0, or -1 on
 * out-of-memory.
 */
static int msg_pack(wk_msg_t *m, const hooks_t *h, const wk_routeset_t *rs,
                    size_t n, const char *id)
{
        size_t nb = n ? rs->prop_count : 0, id_len = strlen(id);
        size_t room = n * sizeof(wk_delivery_t) + (nb + n) * sizeof(char *) +
                      id_len + 1;
        char *s;

        for (size_t i = 0; i < n; i++)
                room += strlen(h->labels[rs->routes[i].hook]) + 1;
        if (!(m->deliveries = malloc(room)))
                return -1;
        m->packed = 1;
        m->bodies = (char **)(void *)(m->deliveries + n);
        m->labels = m->bodies + nb;
        s = (char *)(m->labels + n);
        m->id = memcpy(s, id, id_len + 1);
        m->label_next = s + id_len + 1;
        return 0;
}

/* Fan-out: the routing table names the webhooks subscribed to the
 * event's type and the distinct property sets they choose; render one
 * body per set, then submit one delivery per webhook. @returns 0, or -1
 * on out-of-memory before anything was submitted (the caller frees m). */
static int fan_out(wk_worker_t *w, wk_msg_t *m, const wk_event_t *ev)
{
        hooks_t *h = w->hooks;
        const char *type = wk_event_type(ev);
        size_t app_len;
        const char *app = wk_event_app(ev, &app_len);
        /* the event's own app's webhooks and the operator webhooks: never
         * another app's (SPEC §5) */
        const wk_routeset_t *rs = wk_routes_find(h->routes, app, app_len, type);
        size_t n = rs->route_count;
        /* with retry tiers nothing waits here for long: an open circuit
         * or a long Retry-After hands the delivery to a tier (SPEC §4a) */
        int forever = w->tier             ? WH_SUBMIT_DEFER
                      : forever_policy(w) ? WH_SUBMIT_FOREVER
                                          : 0;

        if (msg_pack(m, h, rs, w->opts.dry_run ? 0 : n, wk_event_id(ev)) != 0)
                return -1;
        if (w->opts.app && (strlen(w->opts.app) != app_len ||
                            memcmp(w->opts.app, app, app_len))) {
                /* replay --app: another app's event, skipped and counted */
                w->stats.other_app++;
                w->stats.skipped++;
                wk_metrics_add(w->metrics, WK_M_SKIPPED, "", 1);
                m->owed = 1;
                wk_msg_settle(m);
                return 0;
        }
        count_type(w, type);
        for (size_t i = 0; i < n; i++)
                count_webhook(w, rs->routes[i].hook,
                              wh_endpoint_name(h->eps[rs->routes[i].hook]));
        if (w->opts.dry_run)
                n = 0;
        for (size_t b = 0; n && b < rs->prop_count; b++) {
                const wk_props_t *p = &rs->props[b];
                size_t len;
                m->bodies[b] =
                        wk_event_render(ev, p->user, p->user_count, p->company,
                                        p->company_count, &len);
                if (!m->bodies[b])
                        return -1;
                m->body_count++;
        }
        /* Hold one "owed" while submitting so that no callback can finish
         * the message under our feet. */
        m->owed = 1;
        for (size_t i = 0; i < n; i++) {
                const wk_route_t *rt = &rs->routes[i];
                if (submit(w, m, rt->hook, m->bodies[rt->body], forever) ==
                    -1) {
                        /* Some deliveries are out: keep the message
                         * unfinished (held back, redelivered after a
                         * restart) rather than lose any. */
                        hb_log(HB_LOG_ERR,
                               "out of memory submitting deliveries",
                               "id=\"%s\"", m->id);
                        return 0;
                }
        }
        wk_msg_settle(m);
        return 0;
}

static void handle(wk_worker_t *w, const kc_msg_t *in)
{
        wk_msgmeta_t meta = {
                .topic = in->topic,
                .partition = in->partition,
                .offset = in->offset,
                .timestamp_ms = in->timestamp_ms,
                .topic_app_token =
                        wk_routes_app_token(w->hooks->routes, in->topic),
        };
        wk_event_t *ev = NULL;
        char reason[256];
        wk_xf_status_t st;
        wk_msg_t *m = calloc(1, sizeof(*m));

        w->stats.consumed++;
        wk_metrics_add(w->metrics, WK_M_CONSUMED, "", 1);
        if (!m) {
                /* Left unfinished: redelivered after a restart. */
                kc_msg_t gone = *in;
                kc_msg_release(&gone);
                return;
        }
        m->w = w;
        m->in = *in;
        m->next = w->live;
        if (w->live)
                w->live->prev = m;
        w->live = m;
        if (w->redrive) {
                wk_redrive_take(w, m);
                return;
        }
        st = wk_event_parse(w->hooks->mapping,
                            in->value ? (const char *)in->value : "",
                            in->value_len, &meta, &ev, reason, sizeof(reason));
        if (st == WK_XF_SKIPPED) {
                w->stats.skipped++;
                wk_metrics_add(w->metrics, WK_M_SKIPPED, "", 1);
                hb_log(HB_LOG_DEBUG, "skipped",
                       "topic=%s partition=%d offset=%lld reason=\"%s\"",
                       in->topic, (int)in->partition, (long long)in->offset,
                       reason);
                m->owed = 1;
                wk_msg_settle(m);
                return;
        }
        if (st == WK_XF_INVALID) {
                wh_dlq_record_t rec = {.reason = "invalid", .detail = reason};
                w->stats.invalid++;
                wk_metrics_add(w->metrics, WK_M_INVALID, "", 1);
                hb_log(HB_LOG_WARN, "invalid event",
                       "topic=%s partition=%d offset=%lld reason=\"%s\"",
                       in->topic, (int)in->partition, (long long)in->offset,
                       reason);
                m->owed = 1;
                m->whole.msg = m;
                if (has_dlt(w) && !w->opts.dry_run)
                        dead_letter(&m->whole, &rec);
                else
                        wk_msg_settle(m);
                return;
        }
        if (fan_out(w, m, ev) == -1) {
                hb_log(HB_LOG_ERR, "out of memory rendering payloads",
                       "topic=%s partition=%d offset=%lld", in->topic,
                       (int)in->partition, (long long)in->offset);
                msg_free(m);
        }
        wk_event_destroy(ev);
}

/*
 * Revoke.
 */

/* A revoke is pending (of source or tier partitions): let the in-flight
 * work of its partitions finish, within delivery.revoke_timeout_ms (a
 * second stop ends the wait). The caller then lets the consumers commit
 * what finished and let go. */
static void await_revoked(wk_worker_t *w)
{
        int64_t deadline = hb_time_mono_ms() +
                           cfg_delivery(w->hooks->cfg)->revoke_timeout_ms;

        for (;;) {
                size_t held = 0;
                for (wk_msg_t *m = w->live; m; m = m->next)
                        held += kc_consumer_revoking(w->consumer, m->in.topic,
                                                     m->in.partition);
                held += wk_tier_revoke_held(w->tier);
                if (!held || hb_time_mono_ms() >= deadline || w->stop > 1)
                        return;
                if (w->dlq)
                        wh_dlq_poll(w->dlq);
                kc_consumer_keepalive(w->consumer);
                wk_tier_keepalive(w->tier);
                wh_pool_run(w->pool, 50, -1);
        }
}

static void drain_wake(wk_worker_t *w)
{
        wk_wake_drain(w->wake[0]);
}

/*
 * Life cycle.
 */

/* wk_tier's view of the webhooks in force (see wk_tier_lookup_cb_t). */
static int tier_lookup(void *opaque, const char *name, const char *app,
                       const cfg_t **cfg, const wk_mapping_t **mapping,
                       wk_tier_hook_t *out)
{
        wk_worker_t *w = opaque;
        hooks_t *h = w->hooks;

        long i = wk_hooks_find(h, name);
        const cfg_webhook_t *wh;

        *cfg = h->cfg;
        *mapping = h->mapping;
        if (i < 0)
                return -1;
        wh = cfg_webhook(h->cfg, (size_t)i);
        /* the same name, another app's (or the operator's) since a
         * reload: not the webhook the record is for */
        if (!app != !wh->app_token || (app && strcmp(app, wh->app_token)))
                return -1;
        out->ep = h->eps[i];
        out->wh = wh;
        out->label = h->labels[i];
        out->active = h->active[i];
        return 0;
}

wk_worker_t *wk_worker_new(cfg_t *cfg, char *errstr, size_t errstr_size)
{
        wk_worker_opts_t none = {0};

        return wk_worker_new_ex(cfg, &none, errstr, errstr_size);
}

wk_worker_t *wk_worker_new_ex(cfg_t *cfg, const wk_worker_opts_t *opts,
                              char *errstr, size_t errstr_size)
{
        wk_worker_t *w = calloc(1, sizeof(*w));
        const cfg_delivery_t *del = cfg_delivery(cfg);
        const cfg_admin_t *adm = cfg_admin(cfg);
        wh_pool_conf_t pconf = {
                .max_in_flight = del->concurrency,
                .connect_timeout_ms = del->connect_timeout_ms,
                .max_response_bytes = del->max_response_bytes,
                .circuit_failures = del->circuit_failures,
                .circuit_open_ms = del->circuit_open_ms,
                .allow_networks = del->allow_networks,
                .allow_network_count = del->allow_network_count,
                .ssrf_guard = 1,
                .https_only = del->https_only,
        };
        wk_admin_probe_t probe;

        /* one of several loops: its share of the connections (at least
         * 1), so that the process keeps to delivery.concurrency */
        if (opts->loops > 1)
                pconf.max_in_flight = del->concurrency / opts->loops > 0
                                              ? del->concurrency / opts->loops
                                              : 1;
        if (!w) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        w->opts = *opts;
        wk_rate_init(&w->rate, opts->rate);
        w->wake[0] = w->wake[1] = -1;
        wk_status_init(&w->status);
        atomic_store(&w->loop_ms, hb_time_mono_ms());
        if (wk_wake_open(w->wake, errstr, errstr_size) == -1)
                goto err;
        if (opts->metrics) {
                w->metrics = opts->metrics;
        } else {
                w->own_metrics = 1;
                w->metrics = wk_metrics_new();
                if (!w->metrics || wk_metrics_declare_all(w->metrics) == -1) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto err;
                }
        }
        /* the store's webhooks come once it is ready (wk_hooks_follow) */
        w->hooks = wk_hooks_new(cfg_ref(cfg), &(wk_hooks_ctx_t){.opts = opts},
                                errstr, errstr_size);
        if (!w->hooks) {
                cfg_destroy(cfg); /* the reference taken: the caller's stays */
                goto err;
        }
        w->start_cfg = cfg;
        w->per_webhook_n = w->hooks->n;
        w->per_webhook = calloc(w->hooks->n + 1, sizeof(*w->per_webhook));
        w->per_webhook_name = calloc(w->hooks->n + 1, sizeof(char *));
        if (!w->per_webhook || !w->per_webhook_name) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        for (size_t i = 0; i < w->hooks->n; i++) {
                w->per_webhook_name[i] = strdup(cfg_webhook(cfg, i)->name);
                if (!w->per_webhook_name[i]) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto err;
                }
        }
        w->pool = wh_pool_new(&pconf, errstr, errstr_size);
        if (!w->pool)
                goto err;
        wh_pool_set_attempt_cb(w->pool, wk_status_on_attempt, w);
        if (opts->health)
                wh_pool_set_attempt_info_cb(w->pool, wk_health_on_attempt,
                                            opts->health);
        if (!opts->dry_run && !opts->ranges && del->tiers.schedule.n) {
                /* retry tiers (SPEC §4a); replay keeps in-worker retries */
                wk_tier_env_t env = {
                        .pool = w->pool,
                        .metrics = w->metrics,
                        .lookup = tier_lookup,
                        .opaque = w,
                        .wake_fd = w->wake[1],
                        .health = opts->health,
                };
                w->dlq = wk_tier_producer_new(cfg, w->wake[1], errstr,
                                              errstr_size);
                if (!w->dlq)
                        goto err;
                env.dlq = w->dlq;
                w->tier = wk_tier_new(cfg, &env, errstr, errstr_size);
                if (!w->tier)
                        goto err;
        } else if (del->dead_letter_topic && !opts->dry_run && !opts->redrive) {
                w->dlq = wh_dlq_new(cfg, w->wake[1], errstr, errstr_size);
                if (!w->dlq)
                        goto err;
        }
        if (opts->redrive) {
                w->redrive = wk_redrive_new(opts->redrive);
                if (!w->redrive) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto err;
                }
        }
        if (opts->ranges)
                w->consumer = kc_consumer_new_ranges(
                        cfg, opts->ranges, opts->range_count, opts->on_progress,
                        opts->opaque, w->wake[1], errstr, errstr_size);
        else
                w->consumer =
                        kc_consumer_new(cfg, w->wake[1], errstr, errstr_size);
        if (!w->consumer)
                goto err;
        kc_consumer_defer_revokes(w->consumer, 1);
        if (adm->listen && *adm->listen && !opts->no_admin) {
                wk_status_probe(w, &probe);
                w->admin = wk_admin_start(adm->listen, adm->token, w->metrics,
                                          &probe, errstr, errstr_size);
                if (!w->admin)
                        goto err;
                if (adm->open)
                        hb_log(HB_LOG_WARN,
                               "admin listener open to the network without "
                               "a token (admin.allow_open)",
                               "listen=%s hint=\"/status and /metrics answer "
                               "anyone who reaches it; set admin.token_env\"",
                               adm->listen);
        }
        wk_metrics_set(w->metrics, WK_M_UP, "", 1);
        wk_metrics_set(w->metrics, WK_M_BUILD_INFO,
                       "version=\"" HB_VERSION "\"", 1);
        return w;
err:
        /* @remark on failure the caller keeps cfg (the hooks' own
         * reference goes with them). */
        w->start_cfg = NULL;
        wk_worker_destroy(w);
        return NULL;
}

void wk_worker_stop(wk_worker_t *w)
{
        w->stop++;
        wk_wake_signal(w->wake[1], 's');
}

void wk_worker_reload(wk_worker_t *w)
{
        w->reload = 1;
        wk_wake_signal(w->wake[1], 'r');
}

void wk_worker_stats(wk_worker_t *w, wk_stats_t *out)
{
        wk_status_stats(w, out);
}

uint16_t wk_worker_admin_port(const wk_worker_t *w)
{
        return wk_admin_port(w->admin);
}

void wk_worker_report(wk_worker_t *w, FILE *out)
{
        if (w->redrive) {
                wk_redrive_report(w->redrive, out);
                return;
        }
        fprintf(out, "per webhook%s:\n", w->opts.dry_run ? " (dry run)" : "");
        for (size_t i = 0; i < w->per_webhook_n; i++)
                fprintf(out, "  %-24s %llu\n", w->per_webhook_name[i],
                        (unsigned long long)w->per_webhook[i]);
        fprintf(out, "per webhook type (events):\n");
        for (size_t i = 0; i < w->per_type_n; i++)
                fprintf(out, "  %-32s %llu\n", w->per_type[i].type,
                        (unsigned long long)w->per_type[i].n);
}

int wk_worker_run(wk_worker_t *w)
{
        int64_t deadline;
        int rc = 0;

        /* admin_port: the one listened on (admin.listen's port 0 asks
         * for a free one); 0 when the listener is off */
        hb_log(HB_LOG_INFO, "worker started",
               "group=%s topics=%zu webhooks=%zu dead_letter=%s mode=%s "
               "admin_port=%u",
               cfg_kafka(w->hooks->cfg)->group_id,
               cfg_kafka(w->hooks->cfg)->topic_count, w->hooks->n,
               has_dlt(w) ? wh_dlq_topic(w->dlq) : "-",
               w->redrive       ? "redrive"
               : w->opts.ranges ? "replay"
                                : "group",
               (unsigned)wk_admin_port(w->admin));
        while (!w->stop) {
                int taken = 0, wait_ms = 100;
                int allowed = wk_rate_allowance(&w->rate, hb_time_mono_ms(),
                                                INTAKE_BATCH, &wait_ms);
                kc_msg_t in;

                atomic_store(&w->loop_ms, hb_time_mono_ms());
                drain_wake(w);
                if (atomic_exchange(&w->reload, 0))
                        wk_hooks_reload(w);
                wk_hooks_follow(w);
                /* What the consumer reported: a revoke waits for the
                 * revoked partitions' in-flight work, within a bound,
                 * then commits what finished and lets them go. */
                if (kc_consumer_revoke_pending(w->consumer) ||
                    wk_tier_revoke_pending(w->tier)) {
                        await_revoked(w);
                        kc_consumer_revoke_finish(w->consumer);
                        wk_tier_revoke_finish(w->tier);
                }
                /* with a store, nothing is taken in before its webhooks
                 * are (an event would miss them: SPEC §7) */
                while (taken < allowed &&
                       (!w->opts.store || w->hooks->from_store) &&
                       !wh_pool_saturated(w->pool, INTAKE_AHEAD) &&
                       kc_consumer_poll(w->consumer, &in)) {
                        handle(w, &in);
                        taken++;
                }
                wk_rate_take(&w->rate, taken);
                if (kc_consumer_revoke_pending(w->consumer))
                        continue; /* act on it now, at the top */
                /* nor a tier record: its webhook may be one of the
                 * store's, which the lookup would not find yet (and the
                 * record would be discarded as of a deleted webhook) */
                if (w->tier && (!w->opts.store || w->hooks->from_store))
                        wk_tier_run(w->tier, INTAKE_AHEAD);
                else if (w->tier)
                        wk_tier_keepalive(w->tier);
                if (w->dlq)
                        wh_dlq_poll(w->dlq);
                kc_consumer_tick(w->consumer);
                if (!w->opts.ranges)
                        wk_share_update(&w->share, w->consumer, w->hooks->cfg,
                                        w->pool);
                wk_status_publish(w);
                if (w->opts.ranges && kc_consumer_finished(w->consumer))
                        break;
                if (wh_pool_run(w->pool, taken ? 0 : wait_ms, w->wake[0]) ==
                    -1) {
                        hb_log(HB_LOG_ERR, "HTTP pool failed", NULL);
                        rc = -1;
                        break;
                }
        }

        /* Stopping: a revoke reported meanwhile gets no wait (the drain
         * below has shutdown_timeout_ms for everything). */
        kc_consumer_revoke_finish(w->consumer);
        wk_tier_revoke_finish(w->tier);
        /* Drain: no more intake; let in-flight work finish in time. */
        deadline = hb_time_mono_ms() +
                   cfg_delivery(w->hooks->cfg)->shutdown_timeout_ms;
        if (wh_pool_pending(w->pool) > 0)
                hb_log(HB_LOG_INFO, "stopping: draining in-flight deliveries",
                       "pending=%zu timeout_ms=%d", wh_pool_pending(w->pool),
                       cfg_delivery(w->hooks->cfg)->shutdown_timeout_ms);
        while (w->stop < 2 && hb_time_mono_ms() < deadline &&
               (wh_pool_pending(w->pool) > 0 ||
                (w->dlq && wh_dlq_pending(w->dlq) > 0))) {
                atomic_store(&w->loop_ms, hb_time_mono_ms());
                drain_wake(w);
                if (w->dlq)
                        wh_dlq_poll(w->dlq);
                /* The group stays served however long HTTP takes (a
                 * member that stops polling is dropped, and its commit
                 * below refused); a revoke gets no wait here. */
                kc_consumer_revoke_finish(w->consumer);
                wk_tier_revoke_finish(w->tier);
                kc_consumer_keepalive(w->consumer);
                wk_tier_keepalive(w->tier);
                if (wh_pool_run(w->pool, 50, w->wake[0]) == -1)
                        break;
        }
        kc_consumer_commit_sync(w->consumer);
        w->stats.abandoned = wh_pool_pending(w->pool);
        wk_status_publish(w);
        wk_worker_log_stopped(&w->stats, w->opts.loop, w->opts.loops);
        return rc;
}

void wk_worker_log_stopped(const wk_stats_t *s, int loop, int loops)
{
        /* abandoned first: tests/docker/run.sh looks for
         * "msg":"stopped","abandoned":"0" */
#define STOPPED_COUNTS                                                   \
        "abandoned=%zu consumed=%llu delivered=%llu dead_lettered=%llu " \
        "invalid=%llu skipped=%llu"
#define STOPPED_ARGS                                   \
        s->abandoned, (unsigned long long)s->consumed, \
                (unsigned long long)s->deliveries_ok,  \
                (unsigned long long)s->dead_lettered,  \
                (unsigned long long)s->invalid, (unsigned long long)s->skipped
        if (loops <= 1)
                hb_log(HB_LOG_INFO, "stopped", STOPPED_COUNTS, STOPPED_ARGS);
        else if (loop >= 0)
                hb_log(HB_LOG_INFO, "delivery loop stopped",
                       STOPPED_COUNTS " loop=%d", STOPPED_ARGS, loop);
        else
                hb_log(HB_LOG_INFO, "stopped", STOPPED_COUNTS " threads=%d",
                       STOPPED_ARGS, loops);
#undef STOPPED_COUNTS
#undef STOPPED_ARGS
}

void wk_worker_destroy(wk_worker_t *w)
{
        if (!w)
                return;
        wk_admin_stop(w->admin);
        wh_dlq_destroy(w->dlq, 0);
        /* Abandoned deliveries: their messages are never finished, so
         * freeing them here loses nothing (they were not committed). They
         * go before the consumer: rd_kafka_destroy() waits until every
         * message it handed out is destroyed. */
        wh_pool_destroy(w->pool);
        while (w->live)
                msg_free(w->live);
        /* its records' HTTP and writes went with the pool and producer */
        wk_tier_destroy(w->tier);
        /* Commits what finished (the freed messages stay unfinished in
         * its tracker) and leaves the group. */
        kc_consumer_destroy(w->consumer);
        wk_hooks_free(w->hooks);
        for (size_t i = 0; i < w->per_type_n; i++)
                free(w->per_type[i].type);
        free(w->per_type);
        free(w->per_webhook);
        for (size_t i = 0; w->per_webhook_name && i < w->per_webhook_n; i++)
                free(w->per_webhook_name[i]);
        free(w->per_webhook_name);
        wk_redrive_destroy(w->redrive);
        if (w->own_metrics)
                wk_metrics_destroy(w->metrics);
        wk_wake_close(w->wake);
        wk_status_fini(&w->status);
        cfg_destroy(w->start_cfg);
        free(w);
}
