/* wk_worker: the pipeline's wiring and lifecycle: consume -> transform ->
 * deliver to every subscribed webhook -> finish -> commit. */
#ifndef HB_WK_WORKER_H
#define HB_WK_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cfg.h"

typedef struct wk_worker_s wk_worker_t;

/** Counters since start, for metrics, reports and tests. */
typedef struct wk_stats_s {
        uint64_t consumed;
        uint64_t skipped;
        uint64_t invalid;
        uint64_t deliveries_ok;
        uint64_t deliveries_failed; /**< permanent or exhausted */
        uint64_t dead_lettered;
        uint64_t dropped;
        uint64_t finished; /**< messages fully done */
        /** events of an app other than wk_worker_opts_t.app: finished
         *  without a delivery (also counted in skipped) */
        uint64_t other_app;
        uint64_t commits;
        size_t in_flight; /**< messages consumed, not finished */
        /** deliveries still in flight when wk_worker_run() returned
         *  (given up at the end of the drain) */
        size_t abandoned;
} wk_stats_t;

/**
 * @brief The "stopped" line of \p s: a loop's when \p loop >= 0 and
 *        there are \p loops > 1 ("delivery loop stopped", loop=N), the
 *        process's otherwise ("stopped", with threads=N when
 *        \p loops > 1): abandoned, consumed, delivered, dead_lettered,
 *        invalid, skipped.
 */
void wk_worker_log_stopped(const wk_stats_t *s, int loop, int loops);

/**
 * @brief Build the pipeline for \p cfg: consumer (joins the group),
 *        producer pool, dead-letter producer when configured.
 * @remark takes ownership of \p cfg on success (freed by
 *         wk_worker_destroy()); on failure the caller keeps it.
 * @returns NULL with the reason in \p errstr.
 */
wk_worker_t *wk_worker_new(cfg_t *cfg, char *errstr, size_t errstr_size);

/** Options for wk_worker_new_ex(); zeroed = the plain worker. */
typedef struct wk_worker_opts_s {
        /** replay: consume these ranges outside the group (see
         *  kc_consumer_new_ranges()); run returns when all are done */
        const struct kc_range_s *ranges;
        size_t range_count;
        /** replay: finished prefixes, for resumable state */
        void (*on_progress)(const char *topic, int32_t partition,
                            int64_t offset, void *opaque);
        void *opaque;
        /** deliver only to these webhooks (names); NULL: every enabled */
        const char *const *webhooks;
        size_t webhook_count;
        /** deliver only the events of this app (payload app_token, byte
         *  for byte; replay --app), to its webhooks and the operator
         *  webhooks; NULL: every app's */
        const char *app;
        double rate;  /**< events per second taken in; 0: unlimited */
        int dry_run;  /**< transform and count, deliver nothing */
        int no_admin; /**< do not start the admin listener */
        /** redrive (with ranges): the messages are dead letters, each
         *  sent again to its own webhook when selected (wk_redrive.h);
         *  nothing is written to Kafka */
        const struct wk_redrive_sel_s *redrive;
        /** the deployment's delivery health (wk_health.h), borrowed:
         *  every attempt, hand-off, tier outcome and dead letter and the
         *  circuit and 410 states are noted there; NULL: none */
        struct wk_health_s *health;
        /** the webhook store (SPEC §7; borrowed, outlives the worker):
         *  its webhooks are delivered like the file's, changes followed
         *  within 2 s; NULL: the file's webhooks only */
        struct wk_store_s *store;
        /** one of several delivery loops of a process (wk_loops.h): the
         *  registry they share (borrowed; NULL: the worker's own), this
         *  loop's index and their count (0 or 1: the only one). The
         *  loop's gauges then carry loop="INDEX" and it takes its share
         *  of delivery.concurrency. */
        struct wk_metrics_s *metrics;
        int loop, loops;
} wk_worker_opts_t;

/** @brief wk_worker_new() with options (replays, filters, dry runs).
 *  @remark same ownership of \p cfg as wk_worker_new(). */
wk_worker_t *wk_worker_new_ex(cfg_t *cfg, const wk_worker_opts_t *opts,
                              char *errstr, size_t errstr_size);

/**
 * @brief Counts of a dry run (or of deliveries made): per webhook \p i
 *        (config order) and webhook type. Writes a table to \p out.
 */
void wk_worker_report(wk_worker_t *w, FILE *out);

/**
 * @brief Run until wk_worker_stop(): then stop consuming, let in-flight
 *        deliveries finish for up to delivery.shutdown_timeout_ms,
 *        commit what finished and leave the group.
 * @returns 0 on a clean stop, -1 on a fatal error (logged).
 */
int wk_worker_run(wk_worker_t *w);

/** @brief Ask wk_worker_run() to stop. Async-signal-safe and
 *  thread-safe. A second call abandons in-flight work at once. */
void wk_worker_stop(wk_worker_t *w);

/** @brief Re-read the webhooks from the configuration file (SIGHUP)
 *  without dropping in-flight work; an invalid file is rejected (logged)
 *  and the running configuration kept. Async-signal-safe. */
void wk_worker_reload(wk_worker_t *w);

/** @returns the admin listener's port (admin.listen's port 0 picks a
 *  free one), 0 when it is off. Thread-safe once wk_worker_new()
 *  returned. */
uint16_t wk_worker_admin_port(const wk_worker_t *w);

/** @brief Snapshot of the counters (thread-safe). */
void wk_worker_stats(wk_worker_t *w, wk_stats_t *out);

/** @brief Free (after wk_worker_run() returned). NULL is a no-op. */
void wk_worker_destroy(wk_worker_t *w);

#endif
