/* wh_dlq: the durable hand-off producer: dead letters and retry-tier
 * records (SPEC §4, §4a), acks=all and idempotent; a write counts only
 * when the broker acknowledged it, and a failed write is tried again
 * until it is. Each record is sized to what its topic accepts. */
#ifndef HB_WH_DLQ_H
#define HB_WH_DLQ_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "hb_rec.h"

typedef struct wh_dlq_s wh_dlq_t;

/** What is written: the raw message plus headers naming where it came
 *  from and why it is here (hb_rec.h). Everything is copied. */
typedef hb_rec_t wh_dlq_record_t;

/** Called once per send from wh_dlq_poll(), when the broker acknowledged
 *  the write (\p ok 1). A write the broker refuses is retried with
 *  backoff, loudly, so \p ok is never 0 today; callers keep handling it
 *  as "held". */
typedef void(wh_dlq_cb_t)(int ok, const char *error, void *opaque);

/** Where wh_dlq_new_ex() writes. */
typedef struct wh_dlq_conf_s {
        const char *dead_letter_topic;  /**< NULL: none */
        const char *const *tier_topics; /**< tier i's topic, in order */
        size_t tier_count;              /**< 0: no tiers */
        const int64_t *tier_delay_ms;   /**< tier i's delay (retention) */
        int tier_partitions;            /**< tier topics created when
                                             missing with this many
                                             partitions; <= 0: never
                                             created */
        int replication_factor;         /**< of created topics; <= 0:
                                             the broker's default */
} wh_dlq_conf_t;

/**
 * @brief A producer for cfg's delivery.dead_letter_topic on cfg's
 *        brokers (kafka.properties apply).
 * @param wake_fd  write end of a pipe (or -1), poked when reports wait.
 * @returns NULL with the reason in \p errstr.
 */
wh_dlq_t *wh_dlq_new(const cfg_t *cfg, int wake_fd, char *errstr,
                     size_t errstr_size);

/**
 * @brief A producer for the topics of \p conf (copied). From the first
 *        wh_dlq_poll() on, in the background: tier topics missing are
 *        created (CreateTopics) and every topic's max.message.bytes is
 *        read (DescribeConfigs), asked again every 30 s until answered.
 * @returns NULL with the reason in \p errstr.
 */
wh_dlq_t *wh_dlq_new_ex(const cfg_t *cfg, const wh_dlq_conf_t *conf,
                        int wake_fd, char *errstr, size_t errstr_size);

/**
 * @brief Queue a dead letter; \p cb runs from a later wh_dlq_poll().
 *
 * A record larger than the dead-letter topic accepts (its
 * max.message.bytes, or the producer's message.max.bytes when smaller or
 * while the topic's is not known yet) goes without its value, with a
 * hookbridge-value-omitted header (the source topic keeps the bytes for
 * its retention): a record that can never be written never holds a
 * partition. \p rec's tier fields are ignored.
 *
 * @returns 0, or -1 (logged) when it could not even be queued (no
 *          dead-letter topic, out of memory).
 */
int wh_dlq_send(wh_dlq_t *d, const wh_dlq_record_t *rec, wh_dlq_cb_t *cb,
                void *opaque);

/** @brief wh_dlq_send() to the topic of tier \p rec->tier (its due time
 *  in \p rec->due_ms). A record too large for the tier topic is refused
 *  (-1): the caller dead-letters it instead. */
int wh_dlq_send_tier(wh_dlq_t *d, const wh_dlq_record_t *rec, wh_dlq_cb_t *cb,
                     void *opaque);

/** @brief Serve delivery reports, write retries and the topic set-up
 *  without blocking. */
void wh_dlq_poll(wh_dlq_t *d);

/** @returns writes queued and not yet reported. */
size_t wh_dlq_pending(const wh_dlq_t *d);

/** @returns writes refused by the broker and waiting to be tried again
 *  (counted in wh_dlq_pending() too). */
size_t wh_dlq_retrying(const wh_dlq_t *d);

/** @returns the dead-letter topic, or NULL. */
const char *wh_dlq_topic(const wh_dlq_t *d);

/** @returns the topic of tier \p tier, or NULL. */
const char *wh_dlq_tier_topic(const wh_dlq_t *d, int tier);

/**
 * @returns the largest record (hb_rec_size()) written whole to the
 *          dead-letter topic (\p tier -1) or tier \p tier's topic now.
 */
size_t wh_dlq_max_record(const wh_dlq_t *d, int tier);

/** @returns 1 once the topic set-up (creation, limits) was answered. */
int wh_dlq_ready(const wh_dlq_t *d);

/** @brief Wait up to \p timeout_ms for queued writes, then free (reports
 *  of writes still unacknowledged are not delivered). NULL is a no-op. */
void wh_dlq_destroy(wh_dlq_t *d, int timeout_ms);

#endif
