/* kc_tier: the retry tiers' consumer (SPEC §4a): a tier partition is held
 * (paused, its head record kept in hand) until that record is due, so no
 * record is delivered early and none is read twice; finished records are
 * committed in order, like the source topics'. */
#ifndef HB_KC_TIER_H
#define HB_KC_TIER_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "cfg.h"
#include "kc_tracker.h"

typedef struct kc_tier_s kc_tier_t;

/**
 * @brief Join \p group_id (cfg's brokers, kafka.properties apply) and
 *        subscribe to the \p n tier topics \p topics (tier i =
 *        \p topics[i]; copied).
 * @param max_per_partition  records of one partition handed out and not
 *        finished, at most (>= 1): the next one waits in hand meanwhile
 * @param wake_fd  write end of a pipe (or -1), poked when messages or
 *        group events are ready.
 * @returns NULL with the reason in \p errstr.
 */
kc_tier_t *kc_tier_new(const cfg_t *cfg, const char *group_id,
                       const char *const *topics, size_t n,
                       size_t max_per_partition, int wake_fd, char *errstr,
                       size_t errstr_size);

/**
 * @brief The next record due at \p now_ms (epoch ms), without blocking;
 *        serves rebalances and commits on the way. A record not due yet
 *        is kept and its partition paused until it is.
 * @returns a message (the caller owns it) with its ticket in \p ticket
 *          and its tier in \p tier, or NULL when none is due.
 */
rd_kafka_message_t *kc_tier_poll(kc_tier_t *t, int64_t now_ms,
                                 kc_ticket_t *ticket, int *tier);

/** @brief A record is finished (sent, moved to the next tier or the
 *  dead-letter topic, or counted and dropped). Stale tickets are
 *  ignored. */
void kc_tier_done(kc_tier_t *t, const kc_ticket_t *ticket);

/** @returns 1 while \p ticket's tier partition is still the one it was
 *  handed out for, 0 once it was revoked (a lost one too): the record is
 *  then its next owner's, and its outcome is not to be acted on. A
 *  ticket of a revoked partition stays stale when the partition (or its
 *  slot) is assigned again. */
int kc_tier_owns(const kc_tier_t *t, const kc_ticket_t *ticket);

/** @returns the earliest due time (epoch ms) of a record kept in hand,
 *  or -1: how long the caller may sleep. */
int64_t kc_tier_next_due(const kc_tier_t *t);

/** @brief Commit (asynchronously) what moved, on the commit interval. */
void kc_tier_tick(kc_tier_t *t);

/** @brief Commit what moved now. @returns 0, or -1 (logged). */
int kc_tier_commit_sync(kc_tier_t *t);

/** Called on a revoke (a lost one too) before the revoked partitions'
 *  finished offsets are committed: the caller's records of them still
 *  out are no longer its to act on (their next owner reads them). Their
 *  tickets are still current during the call (kc_tier_owns() answers 1)
 *  and stale from its return on. */
typedef void(kc_tier_revoke_cb_t)(const rd_kafka_topic_partition_list_t *p,
                                  void *opaque);

/** @brief Set the revoke hook (NULL: none). */
void kc_tier_set_revoke_cb(kc_tier_t *t, kc_tier_revoke_cb_t *cb, void *opaque);

/**
 * @brief Report revokes to the caller instead of acting on them at once
 *        (off by default, and again once kc_tier_destroy() begins), as
 *        kc_consumer_defer_revokes() does: a (non-lost) revoke waits,
 *        reported by kc_tier_revoke_pending(), until
 *        kc_tier_revoke_finish(); meanwhile no record of its partitions
 *        is handed out, and the caller can let those out finish first.
 */
void kc_tier_defer_revokes(kc_tier_t *t, int on);

/** @returns how many partitions a reported revoke takes away (0: none
 *  pending). */
size_t kc_tier_revoke_pending(const kc_tier_t *t);

/** @returns 1 when \p topic / \p partition is one of the pending
 *  revoke's partitions, 0 otherwise. */
int kc_tier_revoking(const kc_tier_t *t, const char *topic, int32_t partition);

/** @brief Complete the pending revoke (no-op when none): the revoke hook,
 *  commit what finished, let the partitions go. */
void kc_tier_revoke_finish(kc_tier_t *t);

/** One assigned tier partition, for metrics, /status and `lag`. */
typedef struct kc_tier_info_s {
        const char *topic; /**< valid until the next poll */
        int tier;
        int32_t partition;
        int64_t waiting;     /**< records not finished: log end - committed
                                  position (cached watermarks); 0 until
                                  a record is read after the
                                  assignment */
        size_t in_flight;    /**< handed out, not finished */
        size_t in_hand;      /**< read, kept until due (or room) */
        int64_t head_due_ms; /**< due time of the first kept, -1: none */
} kc_tier_info_t;

/** @returns the assigned partitions' count; up to \p max in \p out. */
size_t kc_tier_partitions(kc_tier_t *t, kc_tier_info_t *out, size_t max);

/** @returns records handed out and not finished, over all partitions. */
size_t kc_tier_pending(const kc_tier_t *t);

/** @brief Commit what finished, leave the group, free. NULL is a no-op. */
void kc_tier_destroy(kc_tier_t *t);

#endif
