/* wh_store: the writing side of the webhook store (api.store_topic): the
 * topic created when missing (one partition, compacted), and one record
 * written at a time, synchronously, so that the caller learns its offset
 * and can wait for the store's reader to reach it. */
#ifndef HB_WH_STORE_H
#define HB_WH_STORE_H

#include <stddef.h>
#include <stdint.h>

/** The header every store record carries: the version (offset) of the
 *  state it was written against, in decimal; 0 for a create. */
#define WH_STORE_BASE_HEADER "hookbridge-base"
/** On a restatement (wh_store_write()'s \p restate): "1". */
#define WH_STORE_RESTATE_HEADER "hookbridge-restate"

typedef struct wh_store_writer_s wh_store_writer_t;

typedef struct wh_store_conf_s {
        const char *brokers;
        /** kafka.properties (TLS, SASL, ...), applied as for every client */
        const char *const *prop_names;
        const char *const *prop_values;
        size_t prop_count;
        const char *topic;      /**< api.store_topic */
        int replication_factor; /**< of the topic when created; <= 0: the
                                     broker's default */
        int timeout_ms;         /**< a write's limit (default 10000) */
        /** the topic's configs when created, name/value pairs
         *  (config[2i], config[2i+1]); none: cleanup.policy=compact */
        const char *const *topic_config;
        size_t topic_config_count; /**< pairs */
} wh_store_conf_t;

/** @brief A producer for \p conf->topic (\p conf is copied).
 *  @returns it, or NULL with the reason in \p errstr. */
wh_store_writer_t *wh_store_writer_new(const wh_store_conf_t *conf,
                                       char *errstr, size_t errstr_size);

/**
 * @brief Create the topic when it is missing: one partition (the one
 *        total order every replica applies), cleanup.policy=compact;
 *        a topic the cluster's metadata lists is taken as it is.
 * @returns 0 when it exists, -1 with the reason in \p errstr.
 */
int wh_store_writer_ensure_topic(wh_store_writer_t *w, char *errstr,
                                 size_t errstr_size);

/**
 * @brief Write one record and wait for the broker's acknowledgement.
 *        Thread-safe (writes are serialized).
 * @param key    the webhook id (NUL-terminated)
 * @param value  the record's value, or NULL for a tombstone
 * @param base   the version the write is based on (WH_STORE_BASE_HEADER)
 * @param restate 1: the record restates the current state (it carries
 *               WH_STORE_RESTATE_HEADER), see wk_store.h
 * @param offset where the record landed
 * @returns 0, or -1 with the reason in \p errstr.
 */
int wh_store_write(wh_store_writer_t *w, const char *key, const void *value,
                   size_t len, int64_t base, int restate, int64_t *offset,
                   char *errstr, size_t errstr_size);

/**
 * @brief Queue one record (copied) without waiting: many in flight at once
 *        (another topic's records that need no read-back, e.g. the
 *        delivery health). \p value NULL: a tombstone. Not to be mixed
 *        with wh_store_write() from another thread.
 * @returns 0, or -1 with the reason in \p errstr.
 */
int wh_store_send(wh_store_writer_t *w, const void *key, size_t key_len,
                  const void *value, size_t len, char *errstr,
                  size_t errstr_size);

/**
 * @brief Wait up to \p timeout_ms for every record wh_store_send() queued.
 * @returns how many of them failed (or are still unanswered) since the
 *          last flush: 0 when all were acknowledged.
 */
size_t wh_store_flush(wh_store_writer_t *w, int timeout_ms);

/** @brief Free (after flushing what is queued). NULL is a no-op. */
void wh_store_writer_destroy(wh_store_writer_t *w);

#endif
