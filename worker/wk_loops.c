/* wk_loops: the delivery loops of `hookbridge run` (delivery.threads),
 * each a worker on its own thread, and what they share: one metrics
 * registry, one admin listener whose probes cover every loop. */
#include "wk_loops.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "hb_log.h"
#include "hb_time.h"
#include "wk_admin.h"
#include "wk_metrics.h"
#include "wk_metrics_names.h"
#include "wk_status.h"

typedef struct loop_s {
        struct wk_loops_s *l;
        wk_worker_t *w;
        wk_admin_probe_t probe; /* the worker's own (wk_status_probe) */
        pthread_t thread;
        int started;
        int rc;
} loop_t;

struct wk_loops_s {
        loop_t *loops;
        int n;
        wk_metrics_t *metrics; /* shared; NULL with one loop */
        wk_admin_t *admin;     /* one for all; NULL with one loop */
};

/*
 * The probes of every loop.
 */

static int all_alive(void *opaque)
{
        wk_loops_t *l = opaque;

        for (int i = 0; i < l->n; i++)
                if (!l->loops[i].probe.alive(l->loops[i].probe.opaque))
                        return 0;
        return 1;
}

/* Ready when one loop is and none is kept from it by more than having
 * no partitions (with more loops than partitions some have none): a
 * broker or the store away is the process's reason as soon as one loop
 * sees it. */
static int any_ready(void *opaque, char *why, size_t why_size)
{
        wk_loops_t *l = opaque;
        char other[128];
        int ready = 0;

        *why = '\0';
        for (int i = 0; i < l->n; i++) {
                const wk_admin_probe_t *p = &l->loops[i].probe;
                if (p->ready(p->opaque, other, sizeof(other))) {
                        ready = 1;
                        continue;
                }
                if (strcmp(other, WK_STATUS_NO_PARTITIONS) != 0) {
                        snprintf(why, why_size, "%s", other);
                        return 0;
                }
                if (!*why)
                        snprintf(why, why_size, "%s", other);
        }
        return ready;
}

/* Add \p from's integer members to \p into's of the same name. */
static void sum_stats(json_object *into, json_object *from)
{
        json_object_object_foreach(from, k, v)
        {
                json_object *t;
                if (!json_object_is_type(v, json_type_int) ||
                    !json_object_object_get_ex(into, k, &t) ||
                    !json_object_is_type(t, json_type_int))
                        continue;
                json_object_set_int64(t, json_object_get_int64(t) +
                                                 json_object_get_int64(v));
        }
}

/* The first loop's document, with every loop's assignment, the stats
 * summed and "threads": N (what a webhook's circuit is, is the first
 * loop's view: each loop has its own). Every loop is asked before any
 * is waited for: each may wait WK_STATUS_WAIT_MS for its loop's next
 * turn, and asked in turn 4 loops took up to 8 s. */
static char *merged_status(void *opaque)
{
        wk_loops_t *l = opaque;
        json_object *base = NULL, *parts, *stats;
        int asked[WK_LOOPS_MAX];
        char *out = NULL;
        int64_t until;

        for (int i = 0; i < l->n; i++)
                asked[i] = wk_status_ask(l->loops[i].w);
        until = hb_time_mono_ms() + WK_STATUS_WAIT_MS;
        for (int i = 0; i < l->n; i++) {
                char *doc = wk_status_collect(l->loops[i].w, asked[i], until);
                json_object *o = doc ? json_tokener_parse(doc) : NULL;
                json_object *p, *s;

                free(doc);
                if (!o || !json_object_is_type(o, json_type_object)) {
                        json_object_put(o);
                        continue;
                }
                if (!base) {
                        base = o;
                        continue;
                }
                if (json_object_object_get_ex(base, "assignment", &parts) &&
                    json_object_object_get_ex(o, "assignment", &p) &&
                    json_object_is_type(p, json_type_array))
                        for (size_t k = 0; k < json_object_array_length(p); k++)
                                json_object_array_add(
                                        parts,
                                        json_object_get(
                                                json_object_array_get_idx(p,
                                                                          k)));
                if (json_object_object_get_ex(base, "stats", &stats) &&
                    json_object_object_get_ex(o, "stats", &s))
                        sum_stats(stats, s);
                json_object_put(o);
        }
        if (!base)
                return strdup("{}");
        json_object_object_add(base, "threads", json_object_new_int(l->n));
        out = strdup(json_object_to_json_string_ext(
                base, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(base);
        return out;
}

/*
 * Life cycle.
 */

static int admin_start(wk_loops_t *l, const cfg_t *cfg, char *errstr,
                       size_t errstr_size)
{
        const cfg_admin_t *adm = cfg_admin(cfg);
        wk_admin_probe_t probe = {.alive = all_alive,
                                  .ready = any_ready,
                                  .status = merged_status,
                                  .opaque = l};

        l->admin = wk_admin_start(adm->listen, adm->token, l->metrics, &probe,
                                  errstr, errstr_size);
        if (!l->admin)
                return -1;
        /* the loops' own "worker started" lines say admin_port=0 */
        hb_log(HB_LOG_INFO, "admin listener of the delivery loops",
               "admin_port=%u threads=%d", (unsigned)wk_admin_port(l->admin),
               l->n);
        if (adm->open)
                hb_log(HB_LOG_WARN,
                       "admin listener open to the network without a token "
                       "(admin.allow_open)",
                       "listen=%s hint=\"/status and /metrics answer "
                       "anyone who reaches it; set admin.token_env\"",
                       adm->listen);
        return 0;
}

/* The registry of \p n loops: the gauges each loop publishes are set
 * by parts (wk_metrics_parts), shown as one series; a partition's lag,
 * a circuit's state, how late a tier is: the max of the loops' values
 * (one loop has the partition; each has its own view of a circuit),
 * counts (assigned, paused, in flight, waiting): their sum. */
static wk_metrics_t *shared_metrics(int n)
{
        static const char *const max_of[] = {
                WK_M_LAG,      WK_M_LAG_SECONDS,  WK_M_CIRCUIT,
                WK_M_DISABLED, WK_M_TIER_OVERDUE,
        };
        wk_metrics_t *m = wk_metrics_new();

        if (!m || wk_metrics_declare_all(m) == -1 ||
            wk_metrics_parts(m, n) == -1)
                goto err;
        for (size_t i = 0; i < sizeof(max_of) / sizeof(max_of[0]); i++)
                if (wk_metrics_part_max(m, max_of[i]) == -1)
                        goto err;
        return m;
err:
        wk_metrics_destroy(m);
        return NULL;
}

wk_loops_t *wk_loops_new(cfg_t *cfg, const wk_worker_opts_t *opts, int n,
                         char *errstr, size_t errstr_size)
{
        wk_loops_t *l = calloc(1, sizeof(*l));
        const cfg_admin_t *adm = cfg_admin(cfg);
        int admin_on;

        if (n < 1)
                n = 1;
        if (n > WK_LOOPS_MAX)
                n = WK_LOOPS_MAX;
        if (!l || !(l->loops = calloc((size_t)n, sizeof(*l->loops)))) {
                free(l);
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        l->n = n;
        admin_on = adm->listen && *adm->listen && !opts->no_admin;
        if (n > 1 && !(l->metrics = shared_metrics(n))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        for (int i = 0; i < n; i++) {
                wk_worker_opts_t o = *opts;
                cfg_t *c = i == 0 ? cfg : cfg_ref(cfg);

                if (n > 1) {
                        o.metrics = l->metrics;
                        o.loop = i;
                        o.loops = n;
                        o.no_admin = 1;
                }
                l->loops[i].l = l;
                l->loops[i].w = wk_worker_new_ex(c, &o, errstr, errstr_size);
                if (!l->loops[i].w) {
                        if (i > 0)
                                cfg_destroy(c);
                        goto err;
                }
                wk_status_probe(l->loops[i].w, &l->loops[i].probe);
        }
        if (n > 1 && admin_on && admin_start(l, cfg, errstr, errstr_size) == -1)
                goto err;
        return l;
err:
        /* the first worker owns cfg once made: the caller's is given back
         * by taking one more reference before it goes */
        if (l->loops[0].w)
                cfg_ref(cfg);
        wk_loops_destroy(l);
        return NULL;
}

static void *loop_main(void *opaque)
{
        loop_t *lp = opaque;

        lp->rc = wk_worker_run(lp->w);
        if (lp->rc != 0)
                wk_loops_stop(lp->l);
        return NULL;
}

/* The process's "stopped" line: every loop's counts summed (each loop
 * logged its own as "delivery loop stopped"). */
static void log_stopped(wk_loops_t *l)
{
        wk_stats_t sum = {0}, s;

        for (int i = 0; i < l->n; i++) {
                wk_worker_stats(l->loops[i].w, &s);
                sum.abandoned += s.abandoned;
                sum.consumed += s.consumed;
                sum.deliveries_ok += s.deliveries_ok;
                sum.dead_lettered += s.dead_lettered;
                sum.invalid += s.invalid;
                sum.skipped += s.skipped;
        }
        wk_worker_log_stopped(&sum, -1, l->n);
}

int wk_loops_run(wk_loops_t *l)
{
        int rc;

        for (int i = 1; i < l->n; i++) {
                if (pthread_create(&l->loops[i].thread, NULL, loop_main,
                                   &l->loops[i]) != 0) {
                        hb_log(HB_LOG_ERR, "delivery loop not started",
                               "loop=%d", i);
                        l->loops[i].rc = -1;
                        wk_loops_stop(l);
                        break;
                }
                l->loops[i].started = 1;
        }
        loop_main(&l->loops[0]);
        rc = l->loops[0].rc;
        for (int i = 1; i < l->n; i++) {
                if (l->loops[i].started)
                        pthread_join(l->loops[i].thread, NULL);
                if (l->loops[i].rc != 0)
                        rc = -1;
        }
        if (l->n > 1)
                log_stopped(l);
        return rc;
}

void wk_loops_stop(wk_loops_t *l)
{
        for (int i = 0; i < l->n; i++)
                if (l->loops[i].w)
                        wk_worker_stop(l->loops[i].w);
}

void wk_loops_reload(wk_loops_t *l)
{
        for (int i = 0; i < l->n; i++)
                if (l->loops[i].w)
                        wk_worker_reload(l->loops[i].w);
}

char *wk_loops_status(wk_loops_t *l)
{
        return l->n > 1 ? merged_status(l) : wk_status_document(l->loops[0].w);
}

wk_worker_t *wk_loops_worker(wk_loops_t *l, int i)
{
        return i >= 0 && i < l->n ? l->loops[i].w : NULL;
}

uint16_t wk_loops_admin_port(const wk_loops_t *l)
{
        return l->n > 1 ? wk_admin_port(l->admin)
                        : wk_worker_admin_port(l->loops[0].w);
}

static void *destroy_main(void *opaque)
{
        wk_worker_destroy(opaque);
        return NULL;
}

void wk_loops_destroy(wk_loops_t *l)
{
        pthread_t th[WK_LOOPS_MAX];
        int on_thread[WK_LOOPS_MAX] = {0};

        if (!l)
                return;
        /* the listener asks the workers: it goes first */
        wk_admin_stop(l->admin);
        /* Every loop's worker at once, each closing its consumer (leaving
         * the group) on its own thread. One after another, a consumer's
         * close waited for the rebalance the previous one's leaving had
         * begun, which the consumers not yet closed (polled by nobody)
         * held up: the process hung after "stopped" until killed (1 of
         * 20 start/stop runs with threads = 2 under ASan, test_operate
         * under TSan). */
        for (int i = 1; i < l->n; i++)
                on_thread[i] = l->loops[i].w &&
                               pthread_create(&th[i], NULL, destroy_main,
                                              l->loops[i].w) == 0;
        for (int i = 0; i < l->n; i++)
                if (!on_thread[i])
                        wk_worker_destroy(l->loops[i].w);
        for (int i = 1; i < l->n; i++)
                if (on_thread[i])
                        pthread_join(th[i], NULL);
        wk_metrics_destroy(l->metrics);
        free(l->loops);
        free(l);
}
