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
 *
 * Lookups by (topic, partition) are hashed, walks by index are O(1), and
 * no accessor taking a const tracker writes to it: a reader on another
 * thread needs only the caller's lock, not the tracker's cooperation.
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
 * @brief A partition's assignment was lost (librdkafka gives it up without
 *        a commit, e.g. after a commit refused for an old generation):
 *        its window is kept aside, out of the walks and the count, with
 *        its tickets still good, in case the group gives it back
 *        (kc_tracker_restore()). kc_tracker_assign() and
 *        kc_tracker_revoke() drop a kept window.
 */
void kc_tracker_lose(kc_tracker_t *tr, const char *topic, int32_t partition);

/** @returns 1 when a lost partition's window is kept (kc_tracker_lose()). */
int kc_tracker_is_lost(const kc_tracker_t *tr, const char *topic,
                       int32_t partition);

/**
 * @brief The group gave a lost partition back: take its kept window up
 *        again when \p committed (the group's committed offset now, -1:
 *        none) has not moved past what the window finished, so nothing
 *        it finished is done again; otherwise (someone else committed
 *        further) drop it and track the partition afresh.
 * @returns 1 with the offset after the last message it consumed in
 *          \p resume (-1: none; fetch from there, not the commit), 0 when
 *          tracked afresh (or no window was kept), -1 on out-of-memory.
 */
int kc_tracker_restore(kc_tracker_t *tr, const char *topic, int32_t partition,
                       int64_t committed, int64_t *resume);

/**
 * @brief Record a consumed message as unfinished (\p timestamp_ms: its
 *        Kafka timestamp, -1 when none).
 * @returns 0 and the ticket in \p out, or -1 when the partition is not
 *          assigned or on out-of-memory.
 */
int kc_tracker_add(kc_tracker_t *tr, const char *topic, int32_t partition,
                   int64_t offset, int64_t timestamp_ms, kc_ticket_t *out);

/** @brief Mark a message finished.
 *  @returns 1 when applied, 0 when the ticket was stale or already done. */
int kc_tracker_done(kc_tracker_t *tr, const kc_ticket_t *t);

/** @returns 1 while \p t's partition is still the one it was given for
 *  (not revoked since; a lost one not yet let go counts), 0 otherwise. */
int kc_tracker_current(const kc_tracker_t *tr, const kc_ticket_t *t);

/** @returns the committable offset of a partition, or -1 when nothing
 *  has been consumed since it was assigned (or it is not assigned). */
int64_t kc_tracker_committable(const kc_tracker_t *tr, const char *topic,
                               int32_t partition);

/** @returns unfinished messages of one partition (0 when unassigned). */
size_t kc_tracker_pending(const kc_tracker_t *tr, const char *topic,
                          int32_t partition);

/** @returns unfinished messages over all partitions. */
size_t kc_tracker_pending_total(const kc_tracker_t *tr);

/** @returns the number of assigned partitions. O(1). */
size_t kc_tracker_count(const kc_tracker_t *tr);

/** One assigned partition, as kc_tracker_at() reports it. */
typedef struct kc_tracker_info_s {
        const char *topic; /**< valid until the partition is revoked */
        int32_t partition;
        uint32_t slot;       /**< its slot (kc_tracker_slot()) */
        int64_t committable; /**< -1: nothing consumed */
        int64_t committed;   /**< last marked committed, -1: none */
        size_t pending;      /**< unfinished messages */
        int paused;
        /** timestamp (ms) of the oldest unfinished message, the first in
         *  consumption order; -1: none unfinished or none carried one */
        int64_t oldest_ts_ms;
        /** where the fetch reached the partition's end while nothing was
         *  consumed since the assignment (kc_tracker_at_end()), -1: not
         *  known. For display only: never committable. */
        int64_t end_offset;
} kc_tracker_info_t;

/**
 * @brief Walk assigned partitions: \p i in [0, kc_tracker_count()), in
 *        no particular order (a revoke may reorder the rest). O(1).
 * @returns 0 with the partition in \p out, or -1 when \p i is past the
 *          end.
 */
int kc_tracker_at(const kc_tracker_t *tr, size_t i, kc_tracker_info_t *out);

/**
 * @brief The partition behind a (fresh) ticket's slot, with its
 *        unfinished count and paused flag.
 * @returns the topic, or NULL when the slot is free.
 */
const char *kc_tracker_slot(const kc_tracker_t *tr, uint32_t slot,
                            int32_t *partition, size_t *pending, int *paused);

/** @brief Remember whether a partition's fetching is paused. */
void kc_tracker_set_paused(kc_tracker_t *tr, uint32_t slot, int paused);

/**
 * @brief Offsets before \p offset carried nothing to do: the consumer's
 *        position passed them without handing out a message (transaction
 *        markers, aborted transactions). Applies only while the partition
 *        has no unfinished message, \p offset lies past what it consumed
 *        and no message dropped untracked (kc_tracker_taint()) waits to
 *        be consumed again; its committable offset becomes \p offset.
 * @returns 1 when applied, 0 otherwise.
 */
int kc_tracker_skip_to(kc_tracker_t *tr, const char *topic, int32_t partition,
                       int64_t offset);

/** @brief The message at \p offset was handed out by Kafka but not
 *  tracked (dropped, or handed back by a seek): the position may lie past
 *  it, so kc_tracker_skip_to() stays off until a message at or after
 *  \p offset is added (or the partition is assigned again). */
void kc_tracker_taint(kc_tracker_t *tr, const char *topic, int32_t partition,
                      int64_t offset);

/**
 * @brief The fetch reached the partition's end at \p offset (librdkafka's
 *        partition EOF). Remembered (kc_tracker_info_t.end_offset) only
 *        while nothing was consumed since the assignment and no message
 *        was dropped untracked (kc_tracker_taint()): the fetch then began
 *        at the group's committed offset and found nothing to do up to
 *        \p offset, so that is where the group stands. For lag displays
 *        only: it changes neither the committable offset nor a commit.
 *        Forgotten by kc_tracker_assign(), kc_tracker_revoke() and
 *        kc_tracker_lose().
 * @returns 1 when remembered, 0 otherwise.
 */
int kc_tracker_at_end(kc_tracker_t *tr, const char *topic, int32_t partition,
                      int64_t offset);

/** @brief Note that \p offset was committed for a partition (so the next
 *  collection skips it when nothing moved). */
void kc_tracker_set_committed(kc_tracker_t *tr, const char *topic,
                              int32_t partition, int64_t offset);

#endif
