/* wk_loops: `hookbridge run`'s delivery loops (delivery.threads): N
 * workers (wk_worker.h), each today's loop with its own consumer -- a
 * member of the same group, so each has its own share of the partitions
 * and of the rate limits -- HTTP pool, retry tier and producer, on its
 * own thread; one metrics registry and one admin listener for them all
 * (/healthz: every loop turns; /readyz: one loop is ready and none waits
 * for the store or a broker; /status: the loops' documents merged). */
#ifndef HB_WK_LOOPS_H
#define HB_WK_LOOPS_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "wk_metrics.h"
#include "wk_worker.h"

typedef struct wk_loops_s wk_loops_t;

/** Most loops (as many as the shared registry has parts, and
 *  delivery.threads' bound); more are cut to it. */
#define WK_LOOPS_MAX WK_METRICS_MAX_PARTS

/**
 * @brief \p n loops (1..WK_LOOPS_MAX) of \p cfg with \p opts (its store and
 *        health shared, borrowed). With n = 1 the one worker is exactly
 *        wk_worker_new_ex()'s (its own registry and admin listener).
 * @remark takes ownership of \p cfg on success; on failure the caller
 *         keeps it.
 * @returns NULL with the reason in \p errstr.
 */
wk_loops_t *wk_loops_new(cfg_t *cfg, const wk_worker_opts_t *opts, int n,
                         char *errstr, size_t errstr_size);

/** @brief Run every loop until wk_loops_stop() (or one fails: then the
 *  others are stopped); each drains and commits as wk_worker_run() and
 *  logs "delivery loop stopped"; with n > 1 one "stopped" line then
 *  gives the process's counts (the sum).
 *  @returns 0 when every loop stopped cleanly, -1 otherwise. */
int wk_loops_run(wk_loops_t *l);

/** @brief wk_worker_stop() of every loop. Async-signal-safe. */
void wk_loops_stop(wk_loops_t *l);

/** @brief wk_worker_reload() of every loop. Async-signal-safe. */
void wk_loops_reload(wk_loops_t *l);

/** @returns the /status document the admin listener serves (malloc()ed;
 *  NULL: out of memory): with n > 1 every loop's merged (the first
 *  loop's, every assignment, the stats summed, "threads": n), read from
 *  all loops at once, so it waits WK_STATUS_WAIT_MS at most in all. Any
 *  thread but a loop's. */
char *wk_loops_status(wk_loops_t *l);

/** @returns loop \p i's worker (0..n-1; NULL otherwise), borrowed: for
 *  tests and reports, while \p l lives. */
wk_worker_t *wk_loops_worker(wk_loops_t *l, int i);

/** @returns the admin listener's port, 0 when it is off. */
uint16_t wk_loops_admin_port(const wk_loops_t *l);

/** @brief Free (after wk_loops_run() returned). NULL is a no-op. */
void wk_loops_destroy(wk_loops_t *l);

#endif
