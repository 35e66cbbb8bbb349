/* wh_topic: topics hookbridge creates when they are missing (the retry
 * tiers, the webhook store), one CreateTopics path for all of them: the
 * request built from a spec, the answer read the same way ("already
 * exists" is success). */
#ifndef HB_WH_TOPIC_H
#define HB_WH_TOPIC_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

/** One topic to create. */
typedef struct wh_topic_spec_s {
        const char *name;
        int partitions;
        int replication; /**< <= 0: the broker's default */
        /** topic configs as name/value pairs: config[2i], config[2i+1] */
        const char *const *config;
        size_t nconfig; /**< pairs */
} wh_topic_spec_t;

/**
 * @brief Ask (asynchronously) for the \p n topics of \p specs on \p rk's
 *        cluster; the CreateTopics result event arrives on \p q.
 * @returns how many requests were sent (a spec librdkafka refuses is
 *          skipped, and \p errstr then says why).
 */
size_t wh_topic_create(rd_kafka_t *rk, rd_kafka_queue_t *q,
                       const wh_topic_spec_t *specs, size_t n, int timeout_ms,
                       char *errstr, size_t errstr_size);

/** Called for each topic that the result says was created now. */
typedef void wh_topic_created_cb_t(const char *name, void *opaque);

/**
 * @brief Read a CreateTopics result event.
 * @returns 0 when each topic was created (\p cb called, may be NULL) or
 *          already existed, -1 with the first error in \p errstr.
 */
int wh_topic_created(rd_kafka_event_t *ev, wh_topic_created_cb_t *cb,
                     void *opaque, char *errstr, size_t errstr_size);

/**
 * @brief wh_topic_create() then wait for its answer (at most
 *        \p timeout_ms plus a little).
 * @returns 0 when every topic exists, -1 with the reason in \p errstr.
 */
int wh_topic_ensure(rd_kafka_t *rk, const wh_topic_spec_t *specs, size_t n,
                    int timeout_ms, wh_topic_created_cb_t *cb, void *opaque,
                    char *errstr, size_t errstr_size);

#endif
