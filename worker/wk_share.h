/* wk_share: this replica's share of the source partitions, which is its
 * share of every webhook's rate_limit (SPEC §4b): re-computed on every
 * rebalance from the assignment and the topics' partition counts. */
#ifndef HB_WK_SHARE_H
#define HB_WK_SHARE_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "kc_consumer.h"
#include "wh_pool.h"

/**
 * @returns the share of \p total partitions that \p assigned of them
 *          are: assigned / total, in (0, 1]. No partition known (total 0)
 *          is all of it (1); none assigned is one partition's worth
 *          (1 / total), so that the tier records this replica may still
 *          send are not held at zero.
 */
double wk_share_of(size_t assigned, size_t total);

/** What wk_share_update() last saw. Zero it to start. */
typedef struct wk_share_s {
        uint64_t rebalances; /**< the consumer's count then */
        size_t assigned;     /**< partitions assigned then */
        size_t total;        /**< partitions of the subscribed topics */
        double share;        /**< 0: not computed yet */
        int64_t retry_ms;    /**< metadata failed: ask again then */
} wk_share_t;

/**
 * @brief After a rebalance (or a revoke completed): count the subscribed
 *        topics' partitions (a metadata request, up to 2 s) and give
 *        \p pool the new share (wh_pool_set_rate_share). Cheap otherwise.
 *        A failed metadata request keeps the share and is asked again
 *        5 s later.
 */
void wk_share_update(wk_share_t *s, kc_consumer_t *c, const cfg_t *cfg,
                     wh_pool_t *pool);

#endif
