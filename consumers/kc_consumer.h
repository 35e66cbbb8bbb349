/* kc_consumer: the Kafka side: group membership, fetching, flow control
 * and committing only what is finished. */
#ifndef HB_KC_CONSUMER_H
#define HB_KC_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "cfg.h"
#include "kc_tracker.h"

typedef struct kc_consumer_s kc_consumer_t;

/** Counters for metrics and reports (monotonic since start). */
typedef struct kc_stats_s {
        uint64_t consumed;
        uint64_t commits; /**< commit requests that succeeded */
        uint64_t commit_errors;
        uint64_t rebalances;
        size_t assigned; /**< partitions currently assigned */
        size_t paused;   /**< partitions currently paused */
        size_t pending;  /**< consumed messages not finished */
} kc_stats_t;

/**
 * @brief Join the configured group and subscribe to its topics
 *        (cooperative-sticky unless kafka.properties says otherwise; no
 *        auto-commit: offsets are committed by this module, only up to
 *        the finished prefix of each partition).
 *
 * @param wake_fd  write end of a pipe (or -1): a byte is written when
 *                 messages or group events become ready, so a caller
 *                 blocked elsewhere (curl_multi_poll) can wake up.
 * @returns the consumer, or NULL with the reason in \p errstr.
 */
kc_consumer_t *kc_consumer_new(const cfg_t *cfg, int wake_fd, char *errstr,
                               size_t errstr_size);

/** One partition's slice of the log, for replays: [start, end). */
typedef struct kc_range_s {
        const char *topic;
        int32_t partition;
        int64_t start; /**< first offset to consume */
        int64_t end;   /**< stop before this offset */
} kc_range_t;

/** Progress of a ranges consumer: \p offset is the partition's new
 *  finished prefix (everything before it is done). */
typedef void(kc_progress_cb_t)(const char *topic, int32_t partition,
                               int64_t offset, void *opaque);

/**
 * @brief A consumer outside any group for replays: assigns \p ranges
 *        directly (never joins or commits to the configured group), and
 *        reports finished prefixes to \p cb instead of committing, on the
 *        commit interval and when done. Empty ranges are finished at once.
 * @remark \p ranges is copied.
 * @returns NULL with the reason in \p errstr.
 */
kc_consumer_t *kc_consumer_new_ranges(const cfg_t *cfg,
                                      const kc_range_t *ranges, size_t n,
                                      kc_progress_cb_t *cb, void *opaque,
                                      int wake_fd, char *errstr,
                                      size_t errstr_size);

/** @returns 1 when a ranges consumer has consumed every range to its end
 *  and every message is finished; 0 otherwise (always 0 in a group). */
int kc_consumer_finished(const kc_consumer_t *c);

/**
 * @brief Report revokes to the caller instead of acting on them at once
 *        (the worker's loop; off by default and while the consumer is
 *        being destroyed). A (non-lost) revoke then waits, reported by
 *        kc_consumer_revoke_pending(), until kc_consumer_revoke_finish():
 *        meanwhile kc_consumer_poll() hands out nothing, so the caller
 *        can let the revoked partitions' in-flight work finish first.
 *        A lost assignment is never reported: nothing of it may be
 *        committed, so it is forgotten at once.
 */
void kc_consumer_defer_revokes(kc_consumer_t *c, int on);

/** @returns how many partitions a reported revoke takes away (0: none
 *  pending). */
size_t kc_consumer_revoke_pending(const kc_consumer_t *c);

/** @returns 1 when (\p topic, \p partition) is among the pending
 *  revoke's partitions, 0 otherwise. */
int kc_consumer_revoking(const kc_consumer_t *c, const char *topic,
                         int32_t partition);

/**
 * @brief Complete the pending revoke (no-op when none): commit what
 *        finished of its partitions (synchronously), forget them (their
 *        outstanding tickets go stale) and hand them back to the group.
 */
void kc_consumer_revoke_finish(kc_consumer_t *c);

/** @returns 0 while librdkafka reports every broker down (since then no
 *  message, commit, assignment nor metadata answer came: while down,
 *  kc_consumer_tick() asks for metadata every 2 s), 1 otherwise. */
int kc_consumer_broker_up(const kc_consumer_t *c);

/**
 * One consumed message, as the consumer hands it out: plain fields that
 * point into librdkafka's buffers (nothing is copied), valid until
 * kc_msg_release(). A plain value otherwise: copy it into whatever holds
 * the message while its work is owed.
 */
typedef struct kc_msg_s {
        const char *topic;
        int32_t partition;
        int64_t offset;
        const void *key; /**< NULL: no key */
        size_t key_len;
        const void *value; /**< NULL: a tombstone */
        size_t value_len;
        int64_t timestamp_ms; /**< the Kafka timestamp, -1: none */
        kc_ticket_t ticket;   /**< for kc_consumer_done() */
        void *priv;           /**< the consumer's: do not touch */
} kc_msg_t;

/** @returns the message's header count. */
size_t kc_msg_header_count(const kc_msg_t *m);

/** @brief Header \p i of \p m: name, value (NULL for a null value) and
 *  size, valid until kc_msg_release(). @returns 0, or -1 past the end. */
int kc_msg_header(const kc_msg_t *m, size_t i, const char **name,
                  const void **value, size_t *size);

/** @returns librdkafka's message behind \p m (for hb_rec_decode()), valid
 *  until kc_msg_release(); NULL once released. */
const rd_kafka_message_t *kc_msg_raw(const kc_msg_t *m);

/** @brief Give the message's buffers back (its ticket stays usable).
 *  A released or zeroed record is a no-op. */
void kc_msg_release(kc_msg_t *m);

/**
 * @brief Take the next message without blocking; serves rebalances and
 *        commit results on the way. Fetching pauses on its own while the
 *        in-flight limits are reached; nothing is handed out while a
 *        revoke is pending (kc_consumer_defer_revokes()).
 * @returns 1 with the message in \p out (release it with
 *          kc_msg_release()), or 0 when none is ready.
 */
int kc_consumer_poll(kc_consumer_t *c, kc_msg_t *out);

/** @brief Wait up to \p timeout_ms for something to do and serve group
 *  events (for callers with nothing else to wait on). */
void kc_consumer_wait(kc_consumer_t *c, int timeout_ms);

/**
 * @brief Serve the consumer when it was not polled for a second (the pool
 *        saturated, the total limit reached, a revoke or a shutdown
 *        waiting for HTTP): every partition is paused and the consumer
 *        polled, which takes no message but serves the group and keeps
 *        max.poll.interval.ms from expiring. The next kc_consumer_poll()
 *        resumes them. Cheap; kc_consumer_tick() calls it too.
 */
void kc_consumer_keepalive(kc_consumer_t *c);

/** @brief A message is finished: every delivery it owed is done.
 *  Stale tickets (partition revoked since) are ignored. */
void kc_consumer_done(kc_consumer_t *c, const kc_ticket_t *ticket);

/** @returns 1 while \p ticket's partition is still this member's, 0 once
 *  it was revoked: its next owner reads the message again, so what this
 *  member has out of it must not be handed off (it would be twice). */
int kc_consumer_owns(const kc_consumer_t *c, const kc_ticket_t *ticket);

/** @brief Commit (asynchronously) what moved, when the commit interval
 *  has passed. Cheap to call on every loop. */
void kc_consumer_tick(kc_consumer_t *c);

/** @brief Commit what moved now, synchronously.
 *  @returns 0, or -1 when the commit failed (logged). */
int kc_consumer_commit_sync(kc_consumer_t *c);

/** One assigned partition, for lag metrics and /status. */
typedef struct kc_partition_info_s {
        const char *topic; /**< valid until the next poll */
        int32_t partition;
        int64_t committable;  /**< finished prefix, -1: nothing consumed */
        int64_t committed;    /**< last committed by us, -1: none yet */
        int64_t log_end;      /**< high watermark last seen, -1: unknown */
        int64_t lag;          /**< log_end - committed position, >= 0 */
        size_t pending;       /**< consumed, unfinished */
        int64_t oldest_ts_ms; /**< timestamp of the oldest unfinished, -1 */
        int paused;
} kc_partition_info_t;

/**
 * @brief The assigned partitions (cached watermarks, no broker request).
 * @returns how many there are; up to \p max written to \p out.
 */
size_t kc_consumer_partitions(kc_consumer_t *c, kc_partition_info_t *out,
                              size_t max);

/** @returns the counters. */
void kc_consumer_stats(const kc_consumer_t *c, kc_stats_t *out);

/** @returns the librdkafka handle (for metadata and watermark queries). */
rd_kafka_t *kc_consumer_handle(kc_consumer_t *c);

/**
 * @brief Commit what finished, leave the group, free. Unfinished messages
 *        are not committed: the next owner gets them again. NULL is a
 *        no-op.
 */
void kc_consumer_destroy(kc_consumer_t *c);

#endif
