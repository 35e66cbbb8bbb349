/* kc_defer: a revoke reported to the caller instead of acted on at once,
 * so that the revoked partitions' in-flight work can finish before their
 * offsets are committed and they are let go (shared by kc_consumer and
 * kc_tier). librdkafka waits for the unassign meanwhile. */
#ifndef HB_KC_DEFER_H
#define HB_KC_DEFER_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

/** Zeroed: revokes act at once. */
typedef struct kc_defer_s {
        int on;                                 /**< defer revokes */
        rd_kafka_topic_partition_list_t *parts; /**< pending, or NULL */
} kc_defer_t;

/**
 * @brief Keep a (non-lost) revoke of \p parts for later, when deferring
 *        is on and none is pending already.
 * @returns 1 when kept (the rebalance callback returns without
 *          unassigning), 0 when the caller must act on it now.
 */
int kc_defer_take(kc_defer_t *d, const rd_kafka_topic_partition_list_t *parts);

/** @returns how many partitions the pending revoke takes (0: none). */
size_t kc_defer_pending(const kc_defer_t *d);

/** @returns 1 when \p topic / \p partition is one of the pending
 *  revoke's, 0 otherwise. */
int kc_defer_has(const kc_defer_t *d, const char *topic, int32_t partition);

/** @returns the pending revoke's partitions (the caller destroys them),
 *  no longer pending; NULL when none. */
rd_kafka_topic_partition_list_t *kc_defer_release(kc_defer_t *d);

/** @brief Forget a pending revoke (at destroy). */
void kc_defer_clear(kc_defer_t *d);

#endif /* HB_KC_DEFER_H */
