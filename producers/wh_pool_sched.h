/* wh_pool_sched: what a pool keeps per endpoint (private to wh_pool.c and
 * its tests): the endpoint's queue and place in the turn, its requests on
 * the wire, its circuit breaker and its 410 mark. */
#ifndef HB_WH_POOL_SCHED_H
#define HB_WH_POOL_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "wh_pool.h"
#include "wh_rate.h"

/**
 * One endpoint as one pool schedules it. Created at the endpoint's first
 * submit; it lasts as long as someone besides the pool holds the endpoint
 * (so the circuit and the 410 mark outlive the deliveries, until a reload
 * makes a new endpoint), and goes at the pool's next sweep once nobody
 * does and no delivery of it is left.
 *
 * @remark read and written by the pool's thread only.
 */
typedef struct wh_sched_s {
        wh_endpoint_t *ep; /**< the pool's one reference */
        int max_in_flight; /**< the endpoint's own cap, <= 0: none */
        int in_flight;     /**< requests on the wire now */
        size_t deliveries; /**< submitted, not yet reported */
        struct wh_delivery_s *queue_head; /**< FIFO ready to start */
        struct wh_delivery_s *queue_tail;
        int listed; /**< 0, or which list of the pool holds it */
        struct wh_sched_s *prev, *next; /**< links in that list */

        /* circuit breaker */
        int failures;       /**< consecutive failed attempts */
        int circuit;        /**< 0 closed, 1 half-open, 2 open */
        int64_t open_until; /**< monotonic ms, while open */
        int probing;        /**< half-open: the probe is on the wire */

        /* health (wh_pool.c WH_SUSPECT_SHARE) */
        int suspect;        /**< last attempt timed out or could not connect */
        int64_t busy_since; /**< monotonic ms: in_flight left 0 or an
                                 attempt ended, whichever is later */

        int disabled;  /**< 410 Gone seen (or wh_pool_set_disabled()) */
        int cancelled; /**< wh_pool_cancel(): a reload let it go */

        /* rate limit (SPEC §4b) */
        int rate_limit;   /**< the endpoint's, for the deployment; 0 none */
        wh_rate_t rate;   /**< this pool's share of it */
        size_t queue_len; /**< deliveries in queue_head..queue_tail */
} wh_sched_t;

/** @returns what \p p keeps for \p ep, or NULL when it keeps nothing (no
 *  delivery of \p ep was ever submitted to \p p, or it was swept). */
wh_sched_t *wh_pool_sched(const wh_pool_t *p, const wh_endpoint_t *ep);

/**
 * @brief Disable (\p disabled 1) or re-enable (0) \p ep in \p p, as a 410
 *        Gone does (what a reload amounts to, for tests): its deliveries
 *        end with WH_OUT_DISABLED from the next wh_pool_run().
 * @returns 0, or -1 on out-of-memory.
 */
int wh_pool_set_disabled(wh_pool_t *p, wh_endpoint_t *ep, int disabled);

#endif
