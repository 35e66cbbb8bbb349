/* wh_dlq: the dead-letter topic: a durable hand-off for what cannot be
 * delivered (acks=all, idempotent; a write counts when acknowledged). */
#ifndef HB_WH_DLQ_H
#define HB_WH_DLQ_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

typedef struct wh_dlq_s wh_dlq_t;

/** What is written: the raw message plus headers naming where it came
 *  from and why it is here. Everything is copied by wh_dlq_send(). */
typedef struct wh_dlq_record_s {
        const char *topic;
        int32_t partition;
        int64_t offset;
        int64_t timestamp_ms; /**< source message timestamp, or -1 */
        const void *key;
        size_t key_len;
        const void *value;
        size_t value_len;
        const char *reason;  /**< "invalid", "exhausted", "permanent" */
        const char *detail;  /**< human text (the invalid reason, ...) */
        const char *webhook; /**< NULL for bad inputs */
        long status;         /**< last HTTP status, 0: none */
        const char *error;   /**< last transport error, or NULL */
        int attempts;
} wh_dlq_record_t;

/** Called once per send from wh_dlq_poll(): \p ok is 1 when the broker
 *  acknowledged the write; 0 with \p error when it failed for good. */
typedef void(wh_dlq_cb_t)(int ok, const char *error, void *opaque);

/**
 * @brief A producer for cfg's delivery.dead_letter_topic on cfg's
 *        brokers (kafka.properties apply).
 * @param wake_fd  write end of a pipe (or -1), poked when reports wait.
 * @returns NULL with the reason in \p errstr.
 */
wh_dlq_t *wh_dlq_new(const cfg_t *cfg, int wake_fd, char *errstr,
                     size_t errstr_size);

/** @brief Queue a write; \p cb runs from a later wh_dlq_poll().
 *  @returns 0, or -1 (logged) when it could not even be queued. */
int wh_dlq_send(wh_dlq_t *d, const wh_dlq_record_t *rec, wh_dlq_cb_t *cb,
                void *opaque);

/** @brief Serve delivery reports without blocking. */
void wh_dlq_poll(wh_dlq_t *d);

/** @returns writes queued and not yet reported. */
size_t wh_dlq_pending(const wh_dlq_t *d);

/** @returns the topic written to. */
const char *wh_dlq_topic(const wh_dlq_t *d);

/** @brief Wait up to \p timeout_ms for queued writes, then free (reports
 *  of writes still unacknowledged are not delivered). NULL is a no-op. */
void wh_dlq_destroy(wh_dlq_t *d, int timeout_ms);

#endif
