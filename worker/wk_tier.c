/* wk_tier: the worker's side of the retry tiers: hand-offs to a tier, due
 * tier records sent again and moved on (see wk_tier.h). */
#include "wk_tier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_log.h"
#include "hb_rec.h"
#include "hb_sched.h"
#include "hb_time.h"
#include "kc_tier.h"
#include "wk_health.h"
#include "wk_redeliver.h"
#include "wk_metrics_names.h"
#include "wk_routes.h"

/* Tier records of one tier partition out at once (taken, not finished). */
#define MAX_PER_PARTITION 64
/* The tier consumer is made again this long after a failure. */
#define CONSUMER_RETRY_MS 5000
/* Tier partitions looked at for the view. */
#define MAX_VIEW_PARTS 512

/* What a taken record is waiting for. */
enum { IT_SENDING, IT_MOVING, IT_DEAD };

/* One tier record taken from kc_tier, until it is finished. */
typedef struct item_s {
        struct wk_tier_s *t;
        struct item_s *prev, *next;
        rd_kafka_message_t *m; /* owned: rec's key and value point here */
        kc_ticket_t ticket;
        int tier;
        hb_rec_t rec;
        void *mem;         /* rec's strings */
        wk_rd_t rd;        /* the delivery made of rec */
        wh_endpoint_t *ep; /* own reference while sending */
        char *label;       /* metric label of the webhook, or NULL */
        int state;
        /* a request or a write is out: its callback comes. Whether its
         * partition is still ours is kc_tier_owns()'s to say. */
        int busy;
} item_t;

struct wk_tier_s {
        wk_tier_env_t env;
        hb_sched_t sched;
        char **topics;
        char *group;
        const cfg_t *cfg; /* the start's: Kafka settings (restart only) */
        kc_tier_t *kt;    /* NULL until the topics exist */
        int64_t next_try_ms;
        item_t *live;
        size_t pending;
        wk_tier_stats_t stats;
        kc_tier_info_t parts[MAX_VIEW_PARTS];
};

/*
 * Set-up.
 */

/* The tier topics' names of \p cfg, \p n of them (NULL on out-of-memory;
 * \p n 0 and NULL when there are none). */
static char **topic_names(const cfg_t *cfg, size_t *n)
{
        const cfg_tiers_t *ti = &cfg_delivery(cfg)->tiers;
        char **out;

        *n = ti->schedule.n;
        if (!*n)
                return NULL;
        out = calloc(*n, sizeof(*out));
        for (size_t i = 0; out && i < *n; i++) {
                char name[512];
                if (!hb_sched_topic(&ti->schedule, ti->topic_prefix, (int)i,
                                    name, sizeof(name)) ||
                    !(out[i] = strdup(name))) {
                        for (size_t j = 0; j < i; j++)
                                free(out[j]);
                        free(out);
                        return NULL;
                }
        }
        return out;
}

static void names_free(char **names, size_t n)
{
        for (size_t i = 0; names && i < n; i++)
                free(names[i]);
        free(names);
}

wh_dlq_t *wk_tier_producer_new(const cfg_t *cfg, int wake_fd, char *errstr,
                               size_t errstr_size)
{
        const cfg_delivery_t *del = cfg_delivery(cfg);
        size_t n;
        char **names = topic_names(cfg, &n);
        wh_dlq_conf_t conf = {
                .dead_letter_topic = del->dead_letter_topic,
                .tier_topics = (const char *const *)names,
                .tier_count = n,
                .tier_delay_ms = del->tiers.schedule.delay_ms,
                .tier_partitions = del->tiers.partitions,
                .replication_factor = -1,
        };
        wh_dlq_t *d;

        if (errstr_size)
                errstr[0] = '\0';
        if (del->tiers.schedule.n && !names) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        if (!del->dead_letter_topic && !n)
                return NULL;
        d = wh_dlq_new_ex(cfg, &conf, wake_fd, errstr, errstr_size);
        names_free(names, n);
        return d;
}

wk_tier_t *wk_tier_new(const cfg_t *cfg, const wk_tier_env_t *env, char *errstr,
                       size_t errstr_size)
{
        const cfg_delivery_t *del = cfg_delivery(cfg);
        const char *group = cfg_kafka(cfg)->group_id;
        wk_tier_t *t;
        size_t n, len;

        if (errstr_size)
                errstr[0] = '\0';
        if (!del->tiers.schedule.n)
                return NULL;
        if (!env->dlq) {
                snprintf(errstr, errstr_size, "retry tiers need a producer");
                return NULL;
        }
        t = calloc(1, sizeof(*t));
        if (!t)
                goto oom;
        t->env = *env;
        t->sched = del->tiers.schedule;
        t->cfg = cfg;
        t->topics = topic_names(cfg, &n);
        len = strlen(group) + sizeof(".tiers");
        t->group = malloc(len);
        if (!t->topics || !t->group)
                goto oom;
        snprintf(t->group, len, "%s.tiers", group);
        return t;
oom:
        snprintf(errstr, errstr_size, "out of memory");
        wk_tier_destroy(t);
        return NULL;
}

static kc_tier_revoke_cb_t revoked;

/* The tier consumer, once the producer made sure the topics exist. */
static int consumer_up(wk_tier_t *t)
{
        char why[512];
        int64_t now = hb_time_mono_ms();

        if (t->kt)
                return 0;
        if (now < t->next_try_ms || !wh_dlq_ready(t->env.dlq))
                return -1;
        t->kt = kc_tier_new(t->cfg, t->group, (const char *const *)t->topics,
                            t->sched.n, MAX_PER_PARTITION, t->env.wake_fd, why,
                            sizeof(why));
        if (!t->kt) {
                t->next_try_ms = now + CONSUMER_RETRY_MS;
                hb_log(HB_LOG_ERR,
                       "retry tiers: consumer not started; "
                       "trying again",
                       "group=%s error=\"%s\"", t->group, why);
                return -1;
        }
        kc_tier_defer_revokes(t->kt, 1);
        kc_tier_set_revoke_cb(t->kt, revoked, t);
        hb_log(HB_LOG_INFO, "retry tiers: consuming", "group=%s tiers=%zu",
               t->group, t->sched.n);
        return 0;
}

/*
 * Hand-offs from the source.
 */

int wk_tier_first(const wk_tier_t *t, const wh_result_t *res, int forever)
{
        if (res->outcome != WH_OUT_EXHAUSTED &&
            res->outcome != WH_OUT_DEFERRED &&
            !(forever && res->outcome == WH_OUT_PERMANENT))
                return -1;
        return hb_sched_next(&t->sched, 0,
                             res->retry_after_ms > 0 ? res->retry_after_ms : 0);
}

/* Due time of a record written to \p tier now, waiting \p wait_ms at
 * least. */
static int64_t due_of(const wk_tier_t *t, int tier, int64_t wait_ms)
{
        int64_t now = hb_time_now_ms();
        int64_t due = hb_sched_due(&t->sched, tier, now);

        return wait_ms > 0 && now + wait_ms > due ? now + wait_ms : due;
}

int wk_tier_handoff(wk_tier_t *t, wh_dlq_record_t *rec, int tier,
                    int64_t wait_ms, wh_dlq_cb_t *cb, void *opaque)
{
        rec->tier = tier;
        rec->due_ms = due_of(t, tier, wait_ms);
        if (wh_dlq_send_tier(t->env.dlq, rec, cb, opaque) == -1)
                return -1;
        t->stats.handed_off++;
        return 0;
}

/*
 * Tier records.
 */

/* The configuration in force (the worker's, after any reload). */
static const cfg_delivery_t *current(const wk_tier_t *t)
{
        const cfg_t *cfg = NULL;
        const wk_mapping_t *mp = NULL;
        wk_tier_hook_t hk;

        t->env.lookup(t->env.opaque, "", NULL, &cfg, &mp, &hk);
        return cfg_delivery(cfg);
}

/* Does a record that no tier takes have somewhere to go (the
 * dead-letter topic, or dropped as on_exhausted says)? Without, it is
 * held, as a source message is: never lost. */
static int can_dead_letter(const wk_tier_t *t)
{
        const cfg_delivery_t *del = current(t);

        return del->dead_letter_topic ||
               del->on_exhausted == CFG_EXHAUSTED_DROP;
}

static void count(wk_tier_t *t, const char *label, const char *outcome)
{
        char l[400];

        snprintf(l, sizeof(l), "%s,outcome=\"%s\"",
                 label ? label : "webhook=\"\"", outcome);
        wk_metrics_add(t->env.metrics, WK_M_DELIVERIES, l, 1);
}

static void item_free(item_t *it)
{
        wk_tier_t *t = it->t;

        if (it->prev)
                it->prev->next = it->next;
        else
                t->live = it->next;
        if (it->next)
                it->next->prev = it->prev;
        t->pending--;
        wh_endpoint_unref(it->ep);
        free(it->label);
        wk_redeliver_free(&it->rd);
        free(it->mem);
        rd_kafka_message_destroy(it->m);
        free(it);
}

/* Is \p it's tier partition still ours (not revoked since it was
 * taken)? */
static int owned(const item_t *it)
{
        return kc_tier_owns(it->t->kt, &it->ticket);
}

/* kc_tier let \p parts go (a revoke, or the assignment lost): their
 * records still out are the next owner's, who reads them again. One
 * waiting on nothing (held) is let go now; one with a request or a write
 * out when that ends, its outcome not acted on (a move or a dead letter
 * made by both owners would be made twice): its ticket goes stale as
 * this returns, and its callback finds it no longer owned. Those of an
 * earlier revoke (stale already) are not counted again. */
static void revoked(const rd_kafka_topic_partition_list_t *parts, void *opaque)
{
        wk_tier_t *t = opaque;
        item_t *it, *next;
        size_t n = 0;

        for (it = t->live; it; it = next) {
                next = it->next;
                if (!owned(it) ||
                    !rd_kafka_topic_partition_list_find(
                            parts, rd_kafka_topic_name(it->m->rkt),
                            it->m->partition))
                        continue;
                n++;
                if (!it->busy)
                        item_free(it);
        }
        if (n)
                hb_log(HB_LOG_INFO,
                       "retry tiers: records of revoked partitions left "
                       "to their next owner",
                       "records=%zu", n);
}

/* \p it's delivery ended here (delivered, dead-lettered, dropped or
 * discarded): no longer in retry for the health (wk_health.h). */
static void resolved(item_t *it, int dead)
{
        wk_health_event(it->t->env.health, it->rec.app, it->rec.webhook,
                        WK_HEALTH_RESOLVED |
                                (dead ? WK_HEALTH_DEAD_LETTERED : 0));
}

/* \p it is finished: its offset may be committed. */
static void finish(item_t *it)
{
        if (it->t->kt)
                kc_tier_done(it->t->kt, &it->ticket);
        item_free(it);
}

static void move_dead(item_t *it, const char *reason, const char *detail,
                      const wh_result_t *res);

static void written(int ok, const char *error, void *opaque)
{
        item_t *it = opaque;
        wk_tier_t *t = it->t;
        char detail[300];

        it->busy = 0;
        if (!ok && !owned(it)) {
                /* its next owner reads it again */
                item_free(it);
                return;
        }
        if (!ok && it->state == IT_MOVING && can_dead_letter(t)) {
                /* The next tier refused it for good (too large for that
                 * topic after all): held, it would stay unfinished for
                 * ever and its tier partition would commit no further;
                 * it goes to the dead-letter topic instead. */
                snprintf(detail, sizeof(detail),
                         "the next retry tier refused the record: %s",
                         error ? error : "");
                hb_log(HB_LOG_WARN,
                       "retry tiers: next tier refused the record; "
                       "dead-lettering it",
                       "topic=%s offset=%lld error=\"%s\"",
                       rd_kafka_topic_name(it->m->rkt),
                       (long long)it->m->offset, error ? error : "");
                move_dead(it, "exhausted", detail, NULL);
                return;
        }
        if (!ok) {
                /* not finished: it comes back after a restart or a
                 * rebalance */
                hb_log(HB_LOG_ERR, "retry tiers: write rejected; record held",
                       "topic=%s offset=%lld error=\"%s\"",
                       rd_kafka_topic_name(it->m->rkt),
                       (long long)it->m->offset, error ? error : "");
                return;
        }
        if (it->state == IT_DEAD) {
                t->stats.dead_lettered++;
                count(t, it->label, WK_M_OUTCOME_DEAD_LETTERED);
                resolved(it, 1);
        } else {
                t->stats.moved++;
        }
        finish(it);
}

/* The record as read, for a write elsewhere. */
static hb_rec_t next_rec(const item_t *it, const wh_result_t *res)
{
        hb_rec_t r = it->rec;

        if (res) {
                r.attempts += res->attempts;
                if (res->attempts > 0 || res->status) {
                        r.status = res->status;
                        r.error = res->error && *res->error ? res->error : NULL;
                }
        }
        r.detail = NULL;
        r.omitted = 0;
        return r;
}

/* To the tier after it->tier (or the one due no earlier than a
 * Retry-After); after the last, as on_exhausted says. */
static void move_next(item_t *it, const wh_result_t *res, int past_last_ok)
{
        wk_tier_t *t = it->t;
        hb_rec_t r = next_rec(it, res);
        int64_t ra = res && res->retry_after_ms > 0 ? res->retry_after_ms : 0;
        int next = hb_sched_next(&t->sched, it->tier + 1, ra);

        if (next < 0) {
                const cfg_delivery_t *del = current(t);
                if (del->on_exhausted == CFG_EXHAUSTED_DROP) {
                        t->stats.dropped++;
                        count(t, it->label, WK_M_OUTCOME_DROPPED);
                        resolved(it, 0);
                        hb_log(HB_LOG_WARN,
                               "delivery dropped after the last retry tier "
                               "(on_exhausted=drop)",
                               "webhook=%s id=\"%s\"", r.webhook,
                               r.id ? r.id : "");
                        finish(it);
                        return;
                }
                if (past_last_ok && del->dead_letter_topic &&
                    del->on_exhausted == CFG_EXHAUSTED_DEAD_LETTER) {
                        move_dead(it, "exhausted", NULL, res);
                        return;
                }
                next = (int)t->sched.n - 1; /* never dropped: wait again */
        }
        it->state = IT_MOVING;
        r.reason = res && res->circuit_open ? "circuit_open"
                   : ra > 0                 ? "retry_after"
                                            : "retry";
        r.tier = next;
        r.due_ms = due_of(t, next, ra);
        it->busy = 1;
        if (wh_dlq_send_tier(t->env.dlq, &r, written, it) == 0)
                return;
        it->busy = 0;
        if (!can_dead_letter(t)) {
                hb_log(HB_LOG_ERR, "retry tiers: record not moved; held",
                       "webhook=%s id=\"%s\" tier=%d", r.webhook,
                       r.id ? r.id : "", next);
                return;
        }
        /* not even queued (too large for that tier's topic): the
         * dead-letter topic takes it (without its value if need be) */
        hb_log(HB_LOG_WARN,
               "retry tiers: record not moved to the next tier; "
               "dead-lettering it",
               "webhook=%s id=\"%s\" tier=%d", r.webhook, r.id ? r.id : "",
               next);
        move_dead(it, "exhausted", "the next retry tier refused the record",
                  res);
}

/* To the dead-letter topic with \p reason; without one, "gone" and
 * "invalid" end here counted (as the source's do), anything else waits
 * in the last tier. */
static void move_dead(item_t *it, const char *reason, const char *detail,
                      const wh_result_t *res)
{
        wk_tier_t *t = it->t;
        hb_rec_t r = next_rec(it, res);
        const cfg_delivery_t *del = current(t);
        if (!del->dead_letter_topic ||
            del->on_exhausted == CFG_EXHAUSTED_DROP) {
                if (strcmp(reason, "gone") && strcmp(reason, "invalid") &&
                    del->on_exhausted != CFG_EXHAUSTED_DROP) {
                        move_next(it, res, 0);
                        return;
                }
                t->stats.dropped++;
                count(t, it->label,
                      !strcmp(reason, "gone") ? WK_M_OUTCOME_DISABLED
                                              : WK_M_OUTCOME_DROPPED);
                resolved(it, 0);
                finish(it);
                return;
        }
        it->state = IT_DEAD;
        r.reason = reason;
        r.detail = detail;
        r.tier = -1;
        r.due_ms = 0;
        it->busy = 1;
        if (wh_dlq_send(t->env.dlq, &r, written, it) == 0)
                return;
        it->busy = 0;
        hb_log(HB_LOG_ERR, "retry tiers: dead letter not written; held",
               "webhook=%s id=\"%s\"", r.webhook, r.id ? r.id : "");
}

static void discard(item_t *it, const char *why);

static void sent(const wh_result_t *res, void *opaque)
{
        item_t *it = opaque;
        wk_tier_t *t = it->t;
        const cfg_delivery_t *del;
        int forever;

        it->busy = 0;
        if (res->outcome != WH_OUT_OK && !owned(it)) {
                /* revoked meanwhile: its next owner sends it again */
                item_free(it);
                return;
        }
        switch (res->outcome) {
        case WH_OUT_OK:
                t->stats.delivered++;
                count(t, it->label, WK_M_OUTCOME_OK);
                resolved(it, 0);
                if (it->rec.timestamp_ms > 0)
                        wk_metrics_observe(t->env.metrics, WK_M_END_TO_END, "",
                                           (double)(hb_time_now_ms() -
                                                    it->rec.timestamp_ms) /
                                                   1000.0);
                finish(it);
                return;
        case WH_OUT_DISABLED:
                move_dead(it, "gone", res->error, res);
                return;
        case WH_OUT_CANCELLED:
                discard(it, "webhook disabled by a reload");
                return;
        case WH_OUT_PERMANENT:
                del = current(t);
                forever = del->on_exhausted == CFG_EXHAUSTED_RETRY ||
                          (!del->dead_letter_topic &&
                           del->on_exhausted != CFG_EXHAUSTED_DROP);
                if (res->status == 410)
                        move_dead(it, "gone", NULL, res);
                else if (forever)
                        move_next(it, res, 0);
                else
                        move_dead(it, "permanent", NULL, res);
                return;
        case WH_OUT_EXHAUSTED:
        case WH_OUT_DEFERRED:
        default:
                move_next(it, res, 1);
                return;
        }
}

/* A webhook gone from the configuration or disabled: not sent. */
static void discard(item_t *it, const char *why)
{
        wk_tier_t *t = it->t;

        t->stats.discarded++;
        count(t, it->label, "discarded");
        resolved(it, 0);
        hb_log(HB_LOG_INFO, "retry tiers: record not sent",
               "webhook=%s id=\"%s\" why=\"%s\"",
               it->rec.webhook ? it->rec.webhook : "",
               it->rec.id ? it->rec.id : "", why);
        finish(it);
}

/* Send \p it again as the configuration in force has its webhook. */
static void take(wk_tier_t *t, item_t *it)
{
        const cfg_t *cfg = NULL;
        const wk_mapping_t *mp = NULL;
        wk_tier_hook_t hk = {0};
        char why[256];
        int found;

        if (hb_rec_decode(it->m, &it->rec, &it->mem, why, sizeof(why)) == -1 ||
            !it->rec.webhook) {
                hb_log(HB_LOG_WARN, "retry tiers: not a tier record; skipped",
                       "topic=%s partition=%d offset=%lld why=\"%s\"",
                       rd_kafka_topic_name(it->m->rkt), (int)it->m->partition,
                       (long long)it->m->offset, it->mem ? "no webhook" : why);
                finish(it);
                return;
        }
        found = t->env.lookup(t->env.opaque, it->rec.webhook, it->rec.app, &cfg,
                              &mp, &hk);
        if (found == 0 && hk.label)
                it->label = strdup(hk.label);
        if (found != 0) {
                discard(it, "no such webhook any more");
                return;
        }
        if (!hk.active) {
                discard(it, "webhook disabled");
                return;
        }
        if (wh_pool_disabled(t->env.pool, hk.ep)) {
                move_dead(it, "gone", "webhook disabled after 410 Gone", NULL);
                return;
        }
        if (wh_pool_circuit(t->env.pool, hk.ep) == 2) {
                /* Its circuit is still open: the pool would hand it back
                 * without an attempt (README, "Why a record whose circuit
                 * is open moves on"); it moves on now, without parsing
                 * and rendering the event first. */
                wh_result_t res = {.outcome = WH_OUT_DEFERRED,
                                   .circuit_open = 1,
                                   .retry_after_ms = -1};
                move_next(it, &res, 1);
                return;
        }
        switch (wk_redeliver_render(cfg, mp, hk.wh, &it->rec, &it->rd, why,
                                    sizeof(why))) {
        case WK_RD_OK:
                break;
        case WK_RD_INVALID:
                /* the mapping changed since the hand-off */
                move_dead(it, "invalid", why, NULL);
                return;
        case WK_RD_TYPE_OFF:
                discard(it, "event type switched off");
                return;
        case WK_RD_OTHER_APP:
                /* a reload gave the webhook to another app (or the
                 * topic's app_token changed): never another app's event */
                discard(it, "webhook of another app now");
                return;
        case WK_RD_NOMEM:
        default:
                /* held, unfinished: read again after a restart */
                hb_log(HB_LOG_ERR,
                       "out of memory rendering a tier record; "
                       "record held",
                       "webhook=%s", it->rec.webhook);
                return;
        }
        it->ep = wh_endpoint_ref(hk.ep);
        it->state = IT_SENDING;
        it->busy = 1;
        if (wh_pool_submit(t->env.pool, it->ep, it->rd.id, it->rd.body,
                           it->rd.len, WH_SUBMIT_DEFER | WH_SUBMIT_ONCE, sent,
                           it) == -1) {
                it->busy = 0;
                hb_log(HB_LOG_ERR, "retry tiers: not submitted; record held",
                       "webhook=%s", it->rec.webhook);
        }
}

void wk_tier_run(wk_tier_t *t, size_t per_slot)
{
        rd_kafka_message_t *m;
        kc_ticket_t ticket;
        int tier;

        if (consumer_up(t) == -1)
                return;
        while (!wh_pool_saturated(t->env.pool, per_slot) &&
               (m = kc_tier_poll(t->kt, hb_time_now_ms(), &ticket, &tier))) {
                item_t *it = calloc(1, sizeof(*it));
                if (!it) {
                        /* unfinished: read again after a restart */
                        rd_kafka_message_destroy(m);
                        break;
                }
                it->t = t;
                it->m = m;
                it->ticket = ticket;
                it->tier = tier;
                it->next = t->live;
                if (t->live)
                        t->live->prev = it;
                t->live = it;
                t->pending++;
                take(t, it);
        }
        if (wh_pool_saturated(t->env.pool, per_slot))
                wk_tier_keepalive(t);
        kc_tier_tick(t->kt);
}

void wk_tier_keepalive(wk_tier_t *t)
{
        kc_ticket_t ticket;
        int tier;

        /* No record is due before -1: polling takes none (what it reads
         * is kept in hand, its partition paused) but serves the group,
         * so librdkafka does not drop the member (max.poll.interval.ms)
         * while HTTP is slow. */
        if (t && t->kt)
                (void)kc_tier_poll(t->kt, -1, &ticket, &tier);
}

size_t wk_tier_revoke_pending(const wk_tier_t *t)
{
        return t && t->kt ? kc_tier_revoke_pending(t->kt) : 0;
}

size_t wk_tier_revoke_held(const wk_tier_t *t)
{
        size_t n = 0;

        if (!wk_tier_revoke_pending(t))
                return 0;
        for (const item_t *it = t->live; it; it = it->next)
                n += it->busy && owned(it) &&
                     kc_tier_revoking(t->kt, rd_kafka_topic_name(it->m->rkt),
                                      it->m->partition);
        return n;
}

void wk_tier_revoke_finish(wk_tier_t *t)
{
        if (t && t->kt)
                kc_tier_revoke_finish(t->kt);
}

size_t wk_tier_pending(const wk_tier_t *t)
{
        return t->pending;
}

void wk_tier_stats(const wk_tier_t *t, wk_tier_stats_t *out)
{
        *out = t->stats;
}

size_t wk_tier_view(wk_tier_t *t, wk_tier_view_t *out, size_t max)
{
        size_t np, n = t->sched.n < max ? t->sched.n : max;
        int64_t now = hb_time_now_ms();

        for (size_t i = 0; i < n; i++) {
                out[i].topic = t->topics[i];
                out[i].waiting = 0;
                out[i].overdue_ms = 0;
        }
        if (!t->kt)
                return t->sched.n;
        np = kc_tier_partitions(t->kt, t->parts, MAX_VIEW_PARTS);
        if (np > MAX_VIEW_PARTS)
                np = MAX_VIEW_PARTS;
        for (size_t i = 0; i < np; i++) {
                const kc_tier_info_t *p = &t->parts[i];
                if (p->tier < 0 || (size_t)p->tier >= n)
                        continue;
                out[p->tier].waiting += p->waiting;
                if (p->head_due_ms >= 0 && p->head_due_ms < now &&
                    now - p->head_due_ms > out[p->tier].overdue_ms)
                        out[p->tier].overdue_ms = now - p->head_due_ms;
        }
        return t->sched.n;
}

void wk_tier_destroy(wk_tier_t *t)
{
        if (!t)
                return;
        /* never finished: read again by the next owner */
        while (t->live)
                item_free(t->live);
        kc_tier_destroy(t->kt);
        names_free(t->topics, t->sched.n);
        free(t->group);
        free(t);
}
