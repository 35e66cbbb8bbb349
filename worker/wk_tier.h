/* wk_tier: the worker's side of the retry tiers (SPEC §4a): hand a failed
 * delivery to the tier topic of its next delay, take due tier records
 * (kc_tier), send them again through the same pool, and move each on:
 * finished when delivered, to the next tier, or to the dead-letter topic
 * after the last. */
#ifndef HB_WK_TIER_H
#define HB_WK_TIER_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "wh_dlq.h"
#include "wh_pool.h"
#include "wk_metrics.h"
#include "wk_transform.h"

typedef struct wk_tier_s wk_tier_t;

/** A webhook as the configuration in force has it (the worker's, after
 *  any reload). Everything is borrowed for the call. */
typedef struct wk_tier_hook_s {
        wh_endpoint_t *ep;
        const cfg_webhook_t *wh;
        const char *label; /**< metric label: webhook="name" */
        int active;        /**< enabled (and selected) */
} wk_tier_hook_t;

/** The worker's configuration in force: its cfg and mapping, and the
 *  webhook named \p name of app \p app (NULL: an operator webhook) in
 *  \p out: a tier record is the webhook's of its app, never one of
 *  another app (or the operator's) given the same name since.
 *  @returns 0, or -1 when no webhook is that one (the cfg and mapping
 *  are set either way). */
typedef int(wk_tier_lookup_cb_t)(void *opaque, const char *name,
                                 const char *app, const cfg_t **cfg,
                                 const wk_mapping_t **mapping,
                                 wk_tier_hook_t *out);

/** What the tiers share with the worker (all borrowed, outliving it). */
typedef struct wk_tier_env_s {
        wh_pool_t *pool;
        wh_dlq_t *dlq; /**< made by wk_tier_producer_new() */
        wk_metrics_t *metrics;
        wk_tier_lookup_cb_t *lookup;
        void *opaque;
        int wake_fd; /**< poked when tier records or group events wait */
        /** where a tier record's end is noted (wk_health.h), or NULL */
        struct wk_health_s *health;
} wk_tier_env_t;

/** Counts since the start. */
typedef struct wk_tier_stats_s {
        uint64_t handed_off;    /**< source deliveries written to a tier */
        uint64_t delivered;     /**< tier records delivered (2xx) */
        uint64_t moved;         /**< tier records moved to a later tier */
        uint64_t dead_lettered; /**< tier records dead-lettered */
        uint64_t discarded;     /**< webhook deleted/disabled: not sent */
        uint64_t dropped;       /**< on_exhausted = "drop" */
} wk_tier_stats_t;

/**
 * @brief The hand-off producer: \p cfg's dead-letter topic (if any) and,
 *        with a schedule, its tier topics (created when missing).
 * @returns NULL with the reason in \p errstr (also when there is neither
 *          a dead-letter topic nor a tier: then \p errstr is "").
 */
wh_dlq_t *wk_tier_producer_new(const cfg_t *cfg, int wake_fd, char *errstr,
                               size_t errstr_size);

/**
 * @brief The tiers of \p cfg (delivery.retry.schedule; NULL with "" in
 *        \p errstr when it has none). The tier consumer joins
 *        "<kafka.group_id>.tiers" once the producer's topic set-up was
 *        answered (the topics exist).
 */
wk_tier_t *wk_tier_new(const cfg_t *cfg, const wk_tier_env_t *env, char *errstr,
                       size_t errstr_size);

/**
 * @brief Where a source delivery that ended with \p res goes: its first
 *        tier (-1: none, it ends as before). WH_OUT_EXHAUSTED and
 *        WH_OUT_DEFERRED go to a tier, WH_OUT_PERMANENT only when
 *        \p forever (no dead-letter topic, or on_exhausted = "retry").
 */
int wk_tier_first(const wk_tier_t *t, const wh_result_t *res, int forever);

/**
 * @brief Write \p rec (the source fields, webhook, app, id, attempts and
 *        last status/error filled in) to tier \p tier, due after its
 *        delay (or the Retry-After \p wait_ms asked, when longer);
 *        \p cb runs from wh_dlq_poll() once the broker acknowledged it.
 * @returns 0, or -1 when it could not be queued (too large for the tier
 *          topic, out of memory): the caller dead-letters it instead.
 */
int wk_tier_handoff(wk_tier_t *t, wh_dlq_record_t *rec, int tier,
                    int64_t wait_ms, wh_dlq_cb_t *cb, void *opaque);

/** @brief Take due tier records while the pool has room (\p per_slot as
 *  for wh_pool_saturated()) and submit them; commit what finished. */
void wk_tier_run(wk_tier_t *t, size_t per_slot);

/** @brief Serve the tier consumer's group without taking a record (the
 *  pool saturated, a revoke or the shutdown drain waiting for HTTP);
 *  wk_tier_run() calls it when the pool is saturated. NULL: no-op. */
void wk_tier_keepalive(wk_tier_t *t);

/** @returns how many tier partitions a revoke reported by the tier
 *  consumer takes away (0: none pending; NULL: 0). The caller lets
 *  their records out finish (wk_tier_revoke_held()), within a bound,
 *  then calls wk_tier_revoke_finish(). */
size_t wk_tier_revoke_pending(const wk_tier_t *t);

/** @returns records of the pending revoke's partitions with a request or
 *  a write out (0 when none is pending). */
size_t wk_tier_revoke_held(const wk_tier_t *t);

/** @brief Complete the pending revoke (NULL, none: no-op): what finished
 *  is committed, and what is still out is left to the partitions' next
 *  owner (its outcome is not acted on: no move or dead letter made
 *  twice). */
void wk_tier_revoke_finish(wk_tier_t *t);

/** @returns tier records taken and not finished. */
size_t wk_tier_pending(const wk_tier_t *t);

/** @brief Counts so far. */
void wk_tier_stats(const wk_tier_t *t, wk_tier_stats_t *out);

/** Records of one tier, for /metrics and /status. */
typedef struct wk_tier_view_s {
        const char *topic;
        int64_t waiting;    /**< in this replica's tier partitions */
        int64_t overdue_ms; /**< the oldest due one kept, 0: none */
} wk_tier_view_t;

/** @returns the number of tiers; up to \p max in \p out. */
size_t wk_tier_view(wk_tier_t *t, wk_tier_view_t *out, size_t max);

/** @brief Free every tier record taken (the pool and the producer that
 *  held them are gone, their callbacks never come), commit what
 *  finished, leave the group. NULL is a no-op. */
void wk_tier_destroy(wk_tier_t *t);

#endif
