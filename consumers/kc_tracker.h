/* kc_tracker: per-partition finished-offset windows; the commit rule. */
#ifndef HB_KC_TRACKER_H
#define HB_KC_TRACKER_H

#include <stddef.h>
#include <stdint.h>

/**
 * For every assigned partition, the consumed messages still owed work, in
 * consumption order. A partition's committable offset is the offset of its
 * oldest unfinished message, or (all finished) the offset after the last
 * one consumed: the contiguous finished prefix, whatever order the
 * deliveries finish in and whatever gaps compaction leaves in offsets.
 */
typedef struct kc_tracker_s kc_tracker_t;

/** Names one consumed message; a plain value, copied freely. A ticket
 *  from before a partition's revoke/reassign is stale and ignored. */
typedef struct kc_ticket_s {
        uint32_t slot; /**< partition slot */
        uint32_t gen;  /**< the slot's generation when it was issued */
        uint64_t seq;  /**< position in that partition's window */
} kc_ticket_t;

kc_tracker_t *kc_tracker_new(void);
void kc_tracker_destroy(kc_tracker_t *tr);

/** @brief Start tracking a partition afresh (drops any old window).
 *  @returns 0, or -1 on out-of-memory. */
int kc_tracker_assign(kc_tracker_t *tr, const char *topic, int32_t partition);

/** @brief Stop tracking a partition: outstanding tickets become stale. */
void kc_tracker_revoke(kc_tracker_t *tr, const char *topic, int32_t partition);

/**
 * @brief Record a consumed message as unfinished.
 * @returns 0 and the ticket in \p out, or -1 when the partition is not
 *          assigned or on out-of-memory.
 */
int kc_tracker_add(kc_tracker_t *tr, const char *topic, int32_t partition,
                   int64_t offset, kc_ticket_t *out);

/** @brief Mark a message finished.
 *  @returns 1 when applied, 0 when the ticket was stale or already done. */
int kc_tracker_done(kc_tracker_t *tr, const kc_ticket_t *t);

/** @returns the committable offset of a partition, or -1 when nothing
 *  has been consumed since it was assigned (or it is not assigned). */
int64_t kc_tracker_committable(const kc_tracker_t *tr, const char *topic,
                               int32_t partition);

/** @returns unfinished messages of one partition (0 when unassigned). */
size_t kc_tracker_pending(const kc_tracker_t *tr, const char *topic,
                          int32_t partition);

/** @returns unfinished messages over all partitions. */
size_t kc_tracker_pending_total(const kc_tracker_t *tr);

/** @returns the number of assigned partitions. */
size_t kc_tracker_count(const kc_tracker_t *tr);

/**
 * @brief Walk assigned partitions: \p i in [0, kc_tracker_count()).
 * @returns topic name, partition in \p partition, committable offset in
 *          \p committable (-1 when nothing consumed), the offset last
 *          marked committed in \p committed (-1 when none), unfinished
 *          count in \p pending.
 */
const char *kc_tracker_at(const kc_tracker_t *tr, size_t i, int32_t *partition,
                          int64_t *committable, int64_t *committed,
                          size_t *pending);

/**
 * @brief The partition behind a (fresh) ticket's slot, with its
 *        unfinished count and paused flag.
 * @returns the topic, or NULL when the slot is free.
 */
const char *kc_tracker_slot(const kc_tracker_t *tr, uint32_t slot,
                            int32_t *partition, size_t *pending, int *paused);

/** @brief Remember whether a partition's fetching is paused. */
void kc_tracker_set_paused(kc_tracker_t *tr, uint32_t slot, int paused);

/** @returns the paused flag of the \p i-th assigned partition (the
 *  order of kc_tracker_at()). */
int kc_tracker_at_paused(const kc_tracker_t *tr, size_t i);

/** @brief Note that \p offset was committed for a partition (so the next
 *  collection skips it when nothing moved). */
void kc_tracker_set_committed(kc_tracker_t *tr, const char *topic,
                              int32_t partition, int64_t offset);

#endif
