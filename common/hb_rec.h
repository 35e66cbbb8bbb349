/* hb_rec: the hand-off record of dead letters and retry-tier records
 * (SPEC §4, §4a): what its Kafka headers carry, written and read in one
 * place. The value is the raw source message, as consumed: a tier record
 * is rendered again for its webhook when it is sent (see README,
 * "Delivery guarantees"). */
#ifndef HB_REC_H
#define HB_REC_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

/** Header names (all "hookbridge-" but the event id's). */
#define HB_REC_H_TOPIC     "hookbridge-source-topic"
#define HB_REC_H_PARTITION "hookbridge-source-partition"
#define HB_REC_H_OFFSET    "hookbridge-source-offset"
#define HB_REC_H_TIMESTAMP "hookbridge-source-timestamp"
#define HB_REC_H_REASON    "hookbridge-reason"
#define HB_REC_H_DETAIL    "hookbridge-detail"
#define HB_REC_H_WEBHOOK   "hookbridge-webhook"
#define HB_REC_H_APP       "hookbridge-app"
#define HB_REC_H_ID        "hookbridge-webhook-id"
#define HB_REC_H_STATUS    "hookbridge-status"
#define HB_REC_H_ERROR     "hookbridge-error"
#define HB_REC_H_ATTEMPTS  "hookbridge-attempts"
#define HB_REC_H_TIER      "hookbridge-tier"
#define HB_REC_H_DUE       "hookbridge-due"
#define HB_REC_H_OMITTED   "hookbridge-value-omitted"

/**
 * One record. Writing: every pointer is borrowed (copied by the writer).
 * Read by hb_rec_decode(): the strings are NUL-terminated copies and key
 * and value point into the message.
 */
typedef struct hb_rec_s {
        const char *topic; /**< source topic */
        int32_t partition;
        int64_t offset;
        int64_t timestamp_ms; /**< source message timestamp, or -1 */
        const void *key;
        size_t key_len;
        const void *value; /**< the raw source message */
        size_t value_len;
        const char *reason;  /**< "invalid", "exhausted", "permanent",
                                  "gone"; a tier record: why it waits
                                  ("retry", "circuit_open",
                                  "suspect", "rate_limited",
                                  "retry_after") */
        const char *detail;  /**< human text (the invalid reason, ...) */
        const char *webhook; /**< webhook name; NULL for bad inputs */
        const char *app;     /**< the webhook's app_token, NULL: operator */
        const char *id;      /**< the event's webhook-id, or NULL */
        long status;         /**< last HTTP status, 0: none */
        const char *error;   /**< last transport error, or NULL */
        int attempts;        /**< HTTP attempts made so far */
        int tier;            /**< tier record: its tier; -1 otherwise */
        int64_t due_ms;      /**< tier record: due (epoch ms); 0 otherwise */
        size_t omitted;      /**< value left out: its length; 0 otherwise */
} hb_rec_t;

/** @brief \p r = an empty record (tier -1, timestamp -1). */
void hb_rec_init(hb_rec_t *r);

/**
 * @brief The headers of \p r (fields 0/NULL are left out).
 * @returns new headers (the caller owns them), or NULL on out-of-memory.
 */
rd_kafka_headers_t *hb_rec_headers(const hb_rec_t *r);

/** @returns the size of \p r as written, headers included, roughly (a
 *  little more than the broker counts, never less). */
size_t hb_rec_size(const hb_rec_t *r);

/**
 * @brief Read the record of \p m (a dead letter or a tier record).
 * @param mem  set to what holds the decoded strings: free() it when done
 *             with \p out (key and value live as long as \p m).
 * @returns 0, or -1 on out-of-memory or when \p m has no
 *          HB_REC_H_TOPIC header (not a hookbridge record), with the
 *          reason in \p errstr.
 */
int hb_rec_decode(const rd_kafka_message_t *m, hb_rec_t *out, void **mem,
                  char *errstr, size_t errstr_size);

/** @returns the due time of a tier record (epoch ms), or -1 when \p m
 *  carries none (or an unreadable one). */
int64_t hb_rec_due_ms(const rd_kafka_message_t *m);

#endif
