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

/** Called on a (non-lost) revoke before the revoked partitions' finished
 *  offsets are committed: the place to let their in-flight deliveries
 *  finish, within a bound. */
typedef void(kc_revoke_cb_t)(const rd_kafka_topic_partition_list_t *parts,
                             void *opaque);

/** @brief Set the revoke hook (NULL: none). */
void kc_consumer_set_revoke_cb(kc_consumer_t *c, kc_revoke_cb_t *cb,
                               void *opaque);

/** @returns 0 while librdkafka reports every broker down (since the
 *  last message or successful request), 1 otherwise. */
int kc_consumer_broker_up(const kc_consumer_t *c);

/**
 * @brief Take the next message without blocking; serves rebalances and
 *        commit results on the way. Fetching pauses on its own while the
 *        in-flight limits are reached.
 * @returns a message (caller owns it: rd_kafka_message_destroy()) whose
 *          ticket is in \p ticket, or NULL when none is ready.
 */
rd_kafka_message_t *kc_consumer_poll(kc_consumer_t *c, kc_ticket_t *ticket);

/** @brief Wait up to \p timeout_ms for something to do and serve group
 *  events (for callers with nothing else to wait on). */
void kc_consumer_wait(kc_consumer_t *c, int timeout_ms);

/** @brief A message is finished: every delivery it owed is done.
 *  Stale tickets (partition revoked since) are ignored. */
void kc_consumer_done(kc_consumer_t *c, const kc_ticket_t *ticket);

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
