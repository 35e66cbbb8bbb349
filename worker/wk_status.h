/* wk_status: what a worker's delivery loop publishes for the outside:
 * counters and gauges into its metrics registry, the /status document,
 * readiness and liveness for the admin listener, and the stats snapshot
 * other threads read. The loop calls it; nothing here changes delivery. */
#ifndef HB_WK_STATUS_H
#define HB_WK_STATUS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "kc_consumer.h"
#include "wh_endpoint.h"
#include "wk_admin.h"
#include "wk_worker.h"

/* Webhooks of the store listed in /status (the others counted). */
#define WK_STATUS_API_LISTED 100

/* /readyz's reason when the loop has no partitions (and nothing else
 * keeps it from being ready): with several loops, not the process's
 * reason (wk_loops.c). */
#define WK_STATUS_NO_PARTITIONS "no partitions assigned"

/* /status is built while it was asked for in the last WATCHED_MS; one
 * older than the last refresh is rebuilt for its reader, who waits up to
 * WAIT_MS (ms). */
#define WK_STATUS_WATCHED_MS 30000
#define WK_STATUS_WAIT_MS    2000

/* Partitions reported in lag metrics and /status. */
#define WK_STATUS_MAX_PARTS 1024

/**
 * A worker's published state, one per worker (inside it). Only
 * wk_status.c touches the fields: the loop's thread writes them, \p lock
 * guards what other threads read (stats, document, readiness).
 */
typedef struct wk_status_s {
        /* consumer counters last seen, for the metrics' increments */
        uint64_t commits, commit_errors, rebalances;
        /* the delivery health's counters last seen (own, view, errors) */
        uint64_t health_evicted[2], health_errors;
        int64_t next_refresh_ms; /* the once-a-second part's next turn */
        pthread_mutex_t lock;    /* guards published, document, ready */
        wk_stats_t published;
        char *document;       /* /status; NULL before the first refresh */
        int64_t document_ms;  /* when it was built (monotonic) */
        int64_t refresh_ms;   /* when the last refresh ran */
        pthread_cond_t built; /* signalled when a document is built */
        /* when another thread last asked for the document (monotonic
         * ms), and how many wait for a fresh one now: the refresh builds
         * the document only while it is being read (with 10,000 webhooks
         * it was ~15% of the loop's CPU, read or not) */
        atomic_llong asked_ms;
        atomic_int waiting;
        int ready;
        char not_ready[128];
        /* the refresh's scratch: per worker, never shared (bug 10) */
        kc_partition_info_t parts[WK_STATUS_MAX_PARTS];
} wk_status_t;

/** @brief Set up \p st (zeroed by the caller). */
void wk_status_init(wk_status_t *st);

/** @brief Free what \p st holds (not \p st itself). */
void wk_status_fini(wk_status_t *st);

/**
 * @brief Every loop turn, on the loop's thread: commit and rebalance
 *        counters and the stats snapshot; once a second, and at once
 *        when a reader waits for a fresh /status, also
 *        wk_status_refresh().
 */
void wk_status_publish(wk_worker_t *w);

/**
 * @brief The once-a-second part now, on the loop's thread: gauges, lag
 *        per partition, circuits, readiness, and the /status document
 *        when there is none yet or it was asked for in the last
 *        WK_STATUS_WATCHED_MS.
 */
void wk_status_refresh(wk_worker_t *w);

/** @brief The stats as last published. Any thread. */
void wk_status_stats(wk_worker_t *w, wk_stats_t *out);

/** @returns a malloc()ed copy of the /status document of the last
 *  refresh ("{}" before the first), or NULL on out-of-memory. Any thread
 *  but the loop's: when the last refresh built none (nobody had asked
 *  for WK_STATUS_WATCHED_MS), it waits up to WK_STATUS_WAIT_MS for the
 *  loop's next turn to build one, and returns the older one after that. */
char *wk_status_document(wk_worker_t *w);

/**
 * @brief wk_status_document() in two steps, for a reader of several
 *        loops (wk_loops.c): ask every loop, then collect from each, so
 *        that the loops build their documents at the same time and the
 *        read waits WK_STATUS_WAIT_MS at most in all, not per loop.
 *        Ask: the loop's next turn builds a document (any thread but
 *        the loop's).
 * @returns 1 when the document in hand is stale and the loop was asked
 *          for a fresh one, 0 otherwise; pass it to wk_status_collect(),
 *          which must follow (it ends the wait the ask began).
 */
int wk_status_ask(wk_worker_t *w);

/** @returns a malloc()ed copy of the document (as wk_status_document()),
 *  waiting for the fresh one asked for (\p asked: wk_status_ask()'s
 *  answer) until \p until_ms (hb_time_mono_ms()) at most. */
char *wk_status_collect(wk_worker_t *w, int asked, int64_t until_ms);

/** @brief The admin listener's probes (/healthz, /readyz, /status) of
 *  \p w. */
void wk_status_probe(wk_worker_t *w, wk_admin_probe_t *out);

/** @brief The pool's attempt callback (\p opaque: the worker): attempts
 *  by result class and their durations, per webhook. */
/** Room for a label of wk_status_hook_label() (names and app_tokens are
 *  at most 128 characters, each escaped character at most 2). */
#define WK_STATUS_LABEL_MAX 600

/**
 * @brief The metric labels of one webhook's per-webhook series:
 *        webhook="<name>", then ,app="<app_token>" for an app's webhook
 *        (none for an operator webhook), escaped.
 */
void wk_status_hook_label(char *out, size_t size, const char *name,
                          const char *app);

void wk_status_on_attempt(const wh_endpoint_t *ep, long status, double seconds,
                          int will_retry, void *opaque);

#endif
