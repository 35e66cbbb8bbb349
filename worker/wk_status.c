/* wk_status: what a worker's delivery loop publishes for the outside:
 * counters and gauges into its metrics registry, the /status document,
 * readiness and liveness for the admin listener, and the stats snapshot
 * other threads read. */
#include "wk_status.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <librdkafka/rdkafka.h>

#include "hb_fmt.h"
#include "hb_time.h"
#include "wk_health.h"
#include "wk_metrics_names.h"
#include "wk_worker_int.h"

/* How often gauges, lag and /status are refreshed. */
#define REFRESH_MS 1000
/* /healthz fails when the loop has not turned for this long. */
#define ALIVE_MS 30000

void wk_status_init(wk_status_t *st)
{
        pthread_condattr_t ca;

        pthread_mutex_init(&st->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&st->built, &ca);
        pthread_condattr_destroy(&ca);
        atomic_init(&st->asked_ms, 0);
        atomic_init(&st->waiting, 0);
}

void wk_status_fini(wk_status_t *st)
{
        free(st->document);
        st->document = NULL;
        pthread_cond_destroy(&st->built);
        pthread_mutex_destroy(&st->lock);
}

void wk_status_hook_label(char *out, size_t size, const char *name,
                          const char *app)
{
        char esc[2 * 128 + 8], aesc[2 * 128 + 8];

        wk_metrics_escape(name, esc, sizeof(esc));
        if (!app) {
                snprintf(out, size, "webhook=\"%s\"", esc);
                return;
        }
        wk_metrics_escape(app, aesc, sizeof(aesc));
        snprintf(out, size, "webhook=\"%s\",app=\"%s\"", esc, aesc);
}

/* The label of the last webhook that had an attempt on this thread: a
 * delivery loop's attempts mostly go to one webhook after another, and
 * escaping and joining its name and app each time was most of counting
 * an attempt. */
static _Thread_local struct {
        char name[128];
        char app[128];
        int valid, has_app;
        char hl[WK_STATUS_LABEL_MAX];
} last_hook;

/* \p ep's webhook label (wk_status_hook_label), from last_hook when it
 * is the same webhook. */
static const char *attempt_label(const wh_endpoint_t *ep)
{
        const char *name = wh_endpoint_name(ep), *app = wh_endpoint_app(ep);

        if (wh_endpoint_from_api(ep))
                return wk_hooks_api_label;
        if (!name)
                name = "";
        if (last_hook.valid && !strcmp(last_hook.name, name) &&
            last_hook.has_app == (app != NULL) &&
            (!app || !strcmp(last_hook.app, app)))
                return last_hook.hl;
        wk_status_hook_label(last_hook.hl, sizeof(last_hook.hl), name, app);
        last_hook.valid = strlen(name) < sizeof(last_hook.name) &&
                          (!app || strlen(app) < sizeof(last_hook.app));
        if (last_hook.valid) {
                strcpy(last_hook.name, name);
                strcpy(last_hook.app, app ? app : "");
                last_hook.has_app = app != NULL;
        }
        return last_hook.hl;
}

/* A gauge of this loop: its own value of a series several loops share
 * (wk_metrics_set_part), or the series itself for the only loop. */
static void gauge(const wk_worker_t *w, const char *name, const char *labels,
                  double v)
{
        if (w->opts.loops > 1)
                wk_metrics_set_part(w->metrics, w->opts.loop, name, labels, v);
        else
                wk_metrics_set(w->metrics, name, labels, v);
}

/* mark()/sweep() of this loop's gauges of \p name (see gauge()). */
static void gauge_mark(const wk_worker_t *w, const char *name)
{
        if (w->opts.loops > 1)
                wk_metrics_mark_part(w->metrics, w->opts.loop, name);
        else
                wk_metrics_mark(w->metrics, name);
}

static void gauge_sweep(const wk_worker_t *w, const char *name)
{
        if (w->opts.loops > 1)
                wk_metrics_sweep_part(w->metrics, w->opts.loop, name);
        else
                wk_metrics_sweep(w->metrics, name);
}

void wk_status_on_attempt(const wh_endpoint_t *ep, long status, double seconds,
                          int will_retry, void *opaque)
{
        wk_worker_t *w = opaque;
        char l[WK_STATUS_LABEL_MAX + 64];
        const char *hl = attempt_label(ep);

        (void)will_retry;
        hb_fmt_cat(l, sizeof(l), hl, ",result=\"",
                   wk_metrics_status_class(status), "\"", NULL);
        wk_metrics_add(w->metrics, WK_M_ATTEMPTS, l, 1);
        wk_metrics_observe(w->metrics, WK_M_ATTEMPT_SECONDS, hl, seconds);
}

/* Age in seconds of the oldest unfinished message of a partition. */
static double oldest_age(const kc_partition_info_t *p)
{
        return p->oldest_ts_ms > 0
                       ? (double)(hb_time_now_ms() - p->oldest_ts_ms) / 1000.0
                       : 0.0;
}

/* /status's entry for webhook \p i in force: a file webhook by name, a
 * store webhook by id (SPEC §7), each with its app. */
static json_object *hook_json(wk_worker_t *w, size_t i)
{
        hooks_t *h = w->hooks;
        const cfg_webhook_t *wh = cfg_webhook(h->cfg, i);
        json_object *j = json_object_new_object();
        char where[300];

        if (!wh_endpoint_origin(wh->url, where, sizeof(where)))
                snprintf(where, sizeof(where), "?");
        json_object_object_add(j, wh->from_api ? "id" : "name",
                               json_object_new_string(wh->name));
        json_object_object_add(
                j, "app_token",
                wh->app_token ? json_object_new_string(wh->app_token) : NULL);
        json_object_object_add(j, "endpoint", json_object_new_string(where));
        json_object_object_add(j, "enabled",
                               json_object_new_boolean(h->active[i]));
        json_object_object_add(
                j, "disabled_by_410",
                json_object_new_boolean(wh_pool_disabled(w->pool, h->eps[i])));
        json_object_object_add(
                j, "circuit",
                json_object_new_string((const char *[]){
                        "closed", "half-open",
                        "open"}[wh_pool_circuit(w->pool, h->eps[i])]));
        if (wh->from_api)
                json_object_object_add(j, "source",
                                       json_object_new_string("api"));
        return j;
}

/* The store's webhooks, walked once per refresh: counts for /status and
 * the metrics, the ones /status lists. */
typedef struct api_sum_s {
        size_t active, open, gone;
        int worst; /* the worst circuit */
        size_t listed[WK_STATUS_API_LISTED];
        size_t n_listed;
} api_sum_t;

/* Walk the store's webhooks once: their circuit and 410 state to the
 * health accumulator, counted, and at most WK_STATUS_API_LISTED chosen
 * for /status (those whose circuit is not closed or that a 410 disabled
 * first, then the first others). */
static void api_walk(wk_worker_t *w, api_sum_t *sum)
{
        hooks_t *h = w->hooks;

        memset(sum, 0, sizeof(*sum));
        for (size_t i = h->file_n; i < h->n; i++) {
                int c = wh_pool_circuit(w->pool, h->eps[i]);
                int d = wh_pool_disabled(w->pool, h->eps[i]);
                sum->active += h->active[i] != 0;
                sum->open += c != 0;
                sum->gone += d != 0;
                sum->worst = c > sum->worst ? c : sum->worst;
                wk_health_state(w->opts.health, wh_endpoint_app(h->eps[i]),
                                wh_endpoint_name(h->eps[i]), c, d);
                if ((c || d) && sum->n_listed < WK_STATUS_API_LISTED)
                        sum->listed[sum->n_listed++] = i;
        }
        for (size_t i = h->file_n;
             i < h->n && sum->n_listed < WK_STATUS_API_LISTED; i++)
                if (!wh_pool_circuit(w->pool, h->eps[i]) &&
                    !wh_pool_disabled(w->pool, h->eps[i]))
                        sum->listed[sum->n_listed++] = i;
}

/* The store's webhooks in /status: counted, and at most
 * WK_STATUS_API_LISTED listed after the file's (api_walk): bounded
 * however many there are (per-webhook detail is the API's health
 * resource). */
static void api_json(wk_worker_t *w, const api_sum_t *sum, json_object *o,
                     json_object *hooks)
{
        hooks_t *h = w->hooks;
        json_object *a;

        if (!w->opts.store)
                return;
        for (size_t k = 0; k < sum->n_listed; k++)
                json_object_array_add(hooks, hook_json(w, sum->listed[k]));
        a = json_object_new_object();
        json_object_object_add(a, "ready",
                               json_object_new_boolean(h->from_store));
        json_object_object_add(
                a, "count", json_object_new_int64((int64_t)(h->n - h->file_n)));
        json_object_object_add(a, "enabled",
                               json_object_new_int64((int64_t)sum->active));
        json_object_object_add(a, "circuit_not_closed",
                               json_object_new_int64((int64_t)sum->open));
        json_object_object_add(a, "disabled_by_410",
                               json_object_new_int64((int64_t)sum->gone));
        json_object_object_add(a, "listed",
                               json_object_new_int64((int64_t)sum->n_listed));
        json_object_object_add(o, "store_webhooks", a);
}

/* Build the /status document (never a secret: URLs show scheme, host and
 * port). */
/* curl_version() writes its answer into one static buffer each time it
 * is called: two workers in one process (the API's redrive runs one) raced
 * on it. It is read once. */
static char curl_ver[256];
static pthread_once_t curl_ver_once = PTHREAD_ONCE_INIT;

static void curl_ver_read(void)
{
        snprintf(curl_ver, sizeof(curl_ver), "%s", curl_version());
}

static char *status_json(wk_worker_t *w, const kc_partition_info_t *pi,
                         size_t np, const kc_stats_t *ks, const api_sum_t *sum)
{
        json_object *o = json_object_new_object();
        json_object *parts = json_object_new_array();
        json_object *hooks = json_object_new_array();
        json_object *st = json_object_new_object();
        hooks_t *h = w->hooks;
        char *out;

        json_object_object_add(o, "version",
                               json_object_new_string(HB_VERSION));
        json_object_object_add(o, "librdkafka",
                               json_object_new_string(rd_kafka_version_str()));
        pthread_once(&curl_ver_once, curl_ver_read);
        json_object_object_add(o, "libcurl", json_object_new_string(curl_ver));
        json_object_object_add(
                o, "group",
                json_object_new_string(cfg_kafka(h->cfg)->group_id));
        json_object_object_add(
                o, "mode",
                json_object_new_string(w->opts.ranges ? "replay" : "group"));
        for (size_t i = 0; i < np; i++) {
                json_object *p = json_object_new_object();
                json_object_object_add(p, "topic",
                                       json_object_new_string(pi[i].topic));
                json_object_object_add(p, "partition",
                                       json_object_new_int(pi[i].partition));
                json_object_object_add(p, "committed",
                                       json_object_new_int64(pi[i].committed));
                json_object_object_add(
                        p, "finished",
                        json_object_new_int64(pi[i].committable));
                json_object_object_add(p, "log_end",
                                       json_object_new_int64(pi[i].log_end));
                json_object_object_add(p, "lag",
                                       json_object_new_int64(pi[i].lag));
                json_object_object_add(
                        p, "in_flight",
                        json_object_new_int64((int64_t)pi[i].pending));
                json_object_object_add(p, "paused",
                                       json_object_new_boolean(pi[i].paused));
                json_object_array_add(parts, p);
        }
        json_object_object_add(o, "assignment", parts);
        for (size_t i = 0; i < h->file_n; i++)
                json_object_array_add(hooks, hook_json(w, i));
        api_json(w, sum, o, hooks);
        json_object_object_add(o, "webhooks", hooks);
        json_object_object_add(
                st, "consumed",
                json_object_new_int64((int64_t)w->stats.consumed));
        json_object_object_add(
                st, "skipped",
                json_object_new_int64((int64_t)w->stats.skipped));
        json_object_object_add(
                st, "invalid",
                json_object_new_int64((int64_t)w->stats.invalid));
        json_object_object_add(
                st, "delivered",
                json_object_new_int64((int64_t)w->stats.deliveries_ok));
        json_object_object_add(
                st, "dead_lettered",
                json_object_new_int64((int64_t)w->stats.dead_lettered));
        json_object_object_add(
                st, "dropped",
                json_object_new_int64((int64_t)w->stats.dropped));
        json_object_object_add(st, "commits",
                               json_object_new_int64((int64_t)ks->commits));
        json_object_object_add(st, "rebalances",
                               json_object_new_int64((int64_t)ks->rebalances));
        json_object_object_add(o, "stats", st);
        out = strdup(json_object_to_json_string_ext(
                o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return out;
}

/* The delivery health's bounds: entries held, evictions, publish
 * errors (counters as increments of what it counts). */
static void health_metrics(wk_worker_t *w)
{
        static const char *const table[] = {"table=\"own\"", "table=\"view\""};
        wk_status_t *st = &w->status;
        wk_health_stats_t hs;
        uint64_t ev[2];

        wk_health_stats(w->opts.health, &hs);
        ev[0] = hs.own_evicted;
        ev[1] = hs.records_evicted;
        wk_metrics_set(w->metrics, WK_M_HEALTH_ENTRIES, table[0],
                       (double)hs.own);
        wk_metrics_set(w->metrics, WK_M_HEALTH_ENTRIES, table[1],
                       (double)hs.records);
        for (int i = 0; i < 2; i++) {
                wk_metrics_add(w->metrics, WK_M_HEALTH_EVICTED, table[i],
                               (double)(ev[i] - st->health_evicted[i]));
                st->health_evicted[i] = ev[i];
        }
        wk_metrics_add(w->metrics, WK_M_HEALTH_ERRORS, "",
                       (double)(hs.publish_errors - st->health_errors));
        st->health_errors = hs.publish_errors;
}

void wk_status_refresh(wk_worker_t *w)
{
        wk_status_t *st = &w->status;
        kc_partition_info_t *pi = st->parts;
        kc_stats_t ks;
        size_t np, paused = 0;
        char l[400], esc[256];
        char *status = NULL;
        hooks_t *h = w->hooks;
        api_sum_t sum;
        int ready, store_wait;
        int64_t now;

        kc_consumer_stats(w->consumer, &ks);
        np = kc_consumer_partitions(w->consumer, pi, WK_STATUS_MAX_PARTS);
        if (np > WK_STATUS_MAX_PARTS)
                np = WK_STATUS_MAX_PARTS;
        /* mark/sweep: a scrape never sees the family empty, and series of
         * partitions no longer assigned go away */
        gauge_mark(w, WK_M_LAG);
        gauge_mark(w, WK_M_LAG_SECONDS);
        for (size_t i = 0; i < np; i++) {
                wk_metrics_escape(pi[i].topic, esc, sizeof(esc));
                snprintf(l, sizeof(l), "topic=\"%s\",partition=\"%d\"", esc,
                         (int)pi[i].partition);
                gauge(w, WK_M_LAG, l, (double)pi[i].lag);
                gauge(w, WK_M_LAG_SECONDS, l,
                      pi[i].lag > 0 ? oldest_age(&pi[i]) : 0.0);
                paused += pi[i].paused != 0;
        }
        gauge_sweep(w, WK_M_LAG);
        gauge_sweep(w, WK_M_LAG_SECONDS);
        gauge(w, WK_M_ASSIGNED, "", (double)np);
        gauge(w, WK_M_PAUSED, "", (double)paused);
        gauge(w, WK_M_IN_FLIGHT_MSGS, "", (double)ks.pending);
        gauge(w, WK_M_IN_FLIGHT_REQS, "", (double)wh_pool_running(w->pool));
        gauge_mark(w, WK_M_CIRCUIT);
        gauge_mark(w, WK_M_DISABLED);
        for (size_t i = 0; i < h->file_n; i++) {
                int circuit = wh_pool_circuit(w->pool, h->eps[i]);
                int disabled = wh_pool_disabled(w->pool, h->eps[i]);
                gauge(w, WK_M_CIRCUIT, h->labels[i], circuit);
                gauge(w, WK_M_DISABLED, h->labels[i], disabled);
                wk_health_state(w->opts.health, wh_endpoint_app(h->eps[i]),
                                wh_endpoint_name(h->eps[i]), circuit, disabled);
        }
        api_walk(w, &sum);
        if (h->n > h->file_n) {
                /* the store's webhooks share one series: the worst
                 * circuit among them, how many a 410 disabled */
                gauge(w, WK_M_CIRCUIT, wk_hooks_api_label, sum.worst);
                gauge(w, WK_M_DISABLED, wk_hooks_api_label, (double)sum.gone);
        }
        gauge_sweep(w, WK_M_CIRCUIT);
        gauge_sweep(w, WK_M_DISABLED);
        /* the delivery health is the process's: counted by one loop */
        if (w->opts.health && w->opts.loop == 0)
                health_metrics(w);
        if (w->tier) {
                /* the retry tiers (SPEC §4a): what waits, how late */
                wk_tier_view_t tv[HB_SCHED_MAX];
                size_t nt = wk_tier_view(w->tier, tv, HB_SCHED_MAX);
                for (size_t i = 0; i < nt && i < HB_SCHED_MAX; i++) {
                        wk_metrics_escape(tv[i].topic, esc, sizeof(esc));
                        snprintf(l, sizeof(l), "topic=\"%s\"", esc);
                        gauge(w, WK_M_TIER_WAITING, l, (double)tv[i].waiting);
                        gauge(w, WK_M_TIER_OVERDUE, l,
                              (double)tv[i].overdue_ms / 1000.0);
                }
        }
        store_wait = w->opts.store && !h->from_store;
        ready = np > 0 && kc_consumer_broker_up(w->consumer) && !store_wait;
        /* only the loop's thread writes st->document: read unlocked */
        now = hb_time_mono_ms();
        if (!st->document || atomic_load(&st->waiting) > 0 ||
            now - (int64_t)atomic_load(&st->asked_ms) <= WK_STATUS_WATCHED_MS)
                status = status_json(w, pi, np, &ks, &sum);
        pthread_mutex_lock(&st->lock);
        if (status) {
                free(st->document);
                st->document = status;
                st->document_ms = now;
                pthread_cond_broadcast(&st->built);
        }
        st->refresh_ms = now;
        st->ready = ready;
        snprintf(st->not_ready, sizeof(st->not_ready), "%s",
                 store_wait ? "webhook store not caught up"
                 : !kc_consumer_broker_up(w->consumer)
                         ? "no Kafka broker reachable"
                         : WK_STATUS_NO_PARTITIONS);
        pthread_mutex_unlock(&st->lock);
}

void wk_status_publish(wk_worker_t *w)
{
        wk_status_t *st = &w->status;
        kc_stats_t ks;

        kc_consumer_stats(w->consumer, &ks);
        if (ks.commits != st->commits)
                wk_metrics_add(w->metrics, WK_M_COMMITS, "result=\"ok\"",
                               (double)(ks.commits - st->commits));
        if (ks.commit_errors != st->commit_errors)
                wk_metrics_add(w->metrics, WK_M_COMMITS, "result=\"error\"",
                               (double)(ks.commit_errors - st->commit_errors));
        if (ks.rebalances != st->rebalances)
                wk_metrics_add(w->metrics, WK_M_REBALANCES, "",
                               (double)(ks.rebalances - st->rebalances));
        st->commits = ks.commits;
        st->commit_errors = ks.commit_errors;
        st->rebalances = ks.rebalances;
        pthread_mutex_lock(&st->lock);
        st->published = w->stats;
        st->published.commits = ks.commits;
        st->published.in_flight = ks.pending;
        pthread_mutex_unlock(&st->lock);
        if (hb_time_mono_ms() >= st->next_refresh_ms ||
            atomic_load(&st->waiting) > 0) {
                st->next_refresh_ms = hb_time_mono_ms() + REFRESH_MS;
                wk_status_refresh(w);
        }
}

void wk_status_stats(wk_worker_t *w, wk_stats_t *out)
{
        pthread_mutex_lock(&w->status.lock);
        *out = w->status.published;
        pthread_mutex_unlock(&w->status.lock);
}

int wk_status_ask(wk_worker_t *w)
{
        wk_status_t *st = &w->status;
        int stale;

        atomic_store(&st->asked_ms, hb_time_mono_ms());
        pthread_mutex_lock(&st->lock);
        stale = st->document && st->document_ms < st->refresh_ms;
        if (stale)
                atomic_fetch_add(&st->waiting, 1);
        pthread_mutex_unlock(&st->lock);
        return stale;
}

char *wk_status_collect(wk_worker_t *w, int asked, int64_t until_ms)
{
        wk_status_t *st = &w->status;
        char *s;

        pthread_mutex_lock(&st->lock);
        if (asked) {
                int64_t left;

                while (st->document_ms < st->refresh_ms &&
                       (left = until_ms - hb_time_mono_ms()) > 0) {
                        struct timespec ts;

                        clock_gettime(CLOCK_MONOTONIC, &ts);
                        ts.tv_sec += left / 1000;
                        ts.tv_nsec += (left % 1000) * 1000000L;
                        if (ts.tv_nsec >= 1000000000L) {
                                ts.tv_sec++;
                                ts.tv_nsec -= 1000000000L;
                        }
                        pthread_cond_timedwait(&st->built, &st->lock, &ts);
                }
                atomic_fetch_sub(&st->waiting, 1);
        }
        s = strdup(st->document ? st->document : "{}");
        pthread_mutex_unlock(&st->lock);
        return s;
}

char *wk_status_document(wk_worker_t *w)
{
        int asked = wk_status_ask(w);

        return wk_status_collect(w, asked,
                                 hb_time_mono_ms() + WK_STATUS_WAIT_MS);
}

static int probe_alive(void *opaque)
{
        wk_worker_t *w = opaque;

        return hb_time_mono_ms() - atomic_load(&w->loop_ms) < ALIVE_MS;
}

static int probe_ready(void *opaque, char *why, size_t why_size)
{
        wk_worker_t *w = opaque;
        int ready;

        pthread_mutex_lock(&w->status.lock);
        ready = w->status.ready;
        snprintf(why, why_size, "%s", w->status.not_ready);
        pthread_mutex_unlock(&w->status.lock);
        return ready;
}

static char *probe_status(void *opaque)
{
        return wk_status_document(opaque);
}

void wk_status_probe(wk_worker_t *w, wk_admin_probe_t *out)
{
        out->alive = probe_alive;
        out->ready = probe_ready;
        out->status = probe_status;
        out->opaque = w;
}
