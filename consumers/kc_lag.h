/* kc_lag: the configured group's lag asked of the brokers (not of a
 * running consumer): committed offsets, log ends and the age of the
 * oldest unconsumed message, per partition of the configured topics.
 * Also the short-lived lookup clients `replay` uses. */
#ifndef HB_KC_LAG_H
#define HB_KC_LAG_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "cfg.h"

typedef struct kc_lag_s kc_lag_t;

/** One partition's lag (a value record, owned by the kc_lag_t). */
typedef struct kc_lag_partition_s {
        const char *topic; /**< valid until the next query or destroy */
        int32_t partition;
        int64_t committed; /**< the group's committed offset, -1: none */
        int64_t log_start; /**< low watermark */
        int64_t log_end;   /**< high watermark (last stable offset) */
        /** where the group consumes next: the committed offset; with
         *  none (or one out of the log's range) where auto_offset_reset
         *  sends a consumer: log_start for earliest, log_end for latest */
        int64_t position;
        int64_t lag; /**< messages: log_end - position, >= 0 */
        /** age in seconds of the oldest unconsumed message (now minus
         *  the timestamp of the first message at or after position); 0
         *  when lag is 0; -1 when it could not be read in time */
        double lag_seconds;
        int64_t oldest_ms; /**< that message's timestamp, -1: none */
        /** a retry tier record's due time (its hookbridge-due header,
         *  epoch ms), -1: none (not a tier record, or nothing waiting) */
        int64_t due_ms;
} kc_lag_partition_t;

/**
 * @brief Clients for lag queries of \p cfg's group and topics: one
 *        consumer handle with group.id = the configured group that never
 *        subscribes (reads committed offsets only), one outside the
 *        group that reads single messages for their timestamps. Neither
 *        joins, commits nor moves anything. Connects lazily.
 * @remark \p cfg is not kept: what is needed is copied.
 * @returns NULL with the reason in \p errstr.
 */
kc_lag_t *kc_lag_new(const cfg_t *cfg, char *errstr, size_t errstr_size);

/**
 * @brief kc_lag_new() for the retry tiers of \p cfg (SPEC §4a): the
 *        group "<kafka.group_id>.tiers" on the \p n tier topics
 *        \p topics (copied), from the log start when nothing is
 *        committed, as the tier consumer starts.
 */
kc_lag_t *kc_lag_new_tiers(const cfg_t *cfg, const char *const *topics,
                           size_t n, char *errstr, size_t errstr_size);

/**
 * @brief Ask the brokers: metadata (every partition of every configured
 *        topic), committed offsets, watermarks, then one message per
 *        lagging partition for its timestamp. Blocks for at most about
 *        \p timeout_ms.
 * @param out  set to the partitions (topics in configuration order,
 *             partitions ascending), owned by \p l until the next query.
 * @returns the number of partitions, or -1 with the reason in \p errstr
 *          (a broker not reachable in time says so, with librdkafka's
 *          last complaint).
 */
int kc_lag_query(kc_lag_t *l, int timeout_ms, const kc_lag_partition_t **out,
                 char *errstr, size_t errstr_size);

/** @brief Free. NULL is a no-op. */
void kc_lag_destroy(kc_lag_t *l);

/**
 * @brief A short-lived consumer handle for lookups (metadata,
 *        watermarks, offsets for times) with \p cfg's brokers and
 *        kafka.properties, in no group; librdkafka's log goes to hb_log
 *        at debug level, its last warning to kc_lag_client_error().
 * @returns NULL with the reason in \p errstr.
 */
rd_kafka_t *kc_lag_client_new(const cfg_t *cfg, char *errstr,
                              size_t errstr_size);

/** @brief The last warning librdkafka logged on any kc_lag client
 *  ("" when none): why a broker could not be reached. Thread-safe. */
void kc_lag_client_error(char *out, size_t out_size);

/**
 * @brief Number of partitions of \p topic (metadata request).
 * @returns the count, or -1 with the reason in \p errstr ("topic does
 *          not exist", or a broker not reachable within \p timeout_ms).
 */
int kc_lag_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms,
                           char *errstr, size_t errstr_size);

#endif
