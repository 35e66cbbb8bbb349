/* kc_store: the reading side of the webhook store (api.store_topic):
 * partition 0 read from its first offset outside any consumer group,
 * record by record in log order, with the log's end asked of the broker
 * so that the store can tell when it has caught up. */
#ifndef HB_KC_STORE_H
#define HB_KC_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct kc_store_reader_s kc_store_reader_t;

typedef struct kc_store_conf_s {
        const char *brokers;
        /** kafka.properties (TLS, SASL, ...), applied as for every client */
        const char *const *prop_names;
        const char *const *prop_values;
        size_t prop_count;
        const char *topic;
} kc_store_conf_t;

/** One record, valid during the callback only. */
typedef struct kc_store_record_s {
        const char *key; /**< not NUL-terminated */
        size_t key_len;
        const void *value; /**< NULL: a tombstone */
        size_t len;
        /** the WH_STORE-style base header ("hookbridge-base"), or -1 when
         *  the record has none or it is not a number */
        int64_t base;
        int restate; /**< the "hookbridge-restate: 1" header is there */
        int64_t offset;
} kc_store_record_t;

typedef void kc_store_record_cb_t(const kc_store_record_t *rec, void *opaque);

/** @brief A reader of \p conf->topic (copied), from its start.
 *  @returns it, or NULL with the reason in \p errstr. */
kc_store_reader_t *kc_store_reader_new(const kc_store_conf_t *conf,
                                       char *errstr, size_t errstr_size);

/**
 * @brief The end of the log now (the high watermark: the offset the
 *        next record will get), asked of the broker within
 *        \p timeout_ms (kept to, a slow broker's answer too).
 * @returns 0, or -1 with the reason in \p errstr.
 */
int kc_store_reader_end(kc_store_reader_t *r, int64_t *end, int timeout_ms,
                        char *errstr, size_t errstr_size);

/**
 * @brief Read what arrives within \p timeout_ms (at most a batch),
 *        calling \p cb for each record in log order.
 * @returns how many records were given to \p cb; a consume error is
 *          logged and counted as none.
 */
int kc_store_reader_poll(kc_store_reader_t *r, int timeout_ms,
                         kc_store_record_cb_t *cb, void *opaque);

/** @returns the offset of the next record to read: one past the last read,
 *  or the end of the log once it was reached (compaction may leave gaps). */
int64_t kc_store_reader_position(const kc_store_reader_t *r);

/** @brief Close and free. NULL is a no-op. */
void kc_store_reader_destroy(kc_store_reader_t *r);

#endif
