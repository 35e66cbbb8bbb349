/* wk_worker: the pipeline's wiring and lifecycle: consume -> transform ->
 * deliver to every subscribed webhook -> finish -> commit. */
#ifndef HB_WK_WORKER_H
#define HB_WK_WORKER_H

#include <stddef.h>
#include <stdint.h>

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
        uint64_t finished;          /**< messages fully done */
        uint64_t commits;
        size_t in_flight;           /**< messages consumed, not finished */
} wk_stats_t;

/**
 * @brief Build the pipeline for \p cfg: consumer (joins the group),
 *        producer pool, dead-letter producer when configured.
 * @remark takes ownership of \p cfg on success (freed by
 *         wk_worker_destroy()); on failure the caller keeps it.
 * @returns NULL with the reason in \p errstr.
 */
wk_worker_t *wk_worker_new(cfg_t *cfg, char *errstr, size_t errstr_size);

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

/** @brief Snapshot of the counters (thread-safe). */
void wk_worker_stats(wk_worker_t *w, wk_stats_t *out);

/** @brief Free (after wk_worker_run() returned). NULL is a no-op. */
void wk_worker_destroy(wk_worker_t *w);

#endif
