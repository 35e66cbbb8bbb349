/* kc_join: a consumer group member's join state, followed through
 * librdkafka's cgrp debug lines, so that asynchronous offset commits wait
 * while a join is under way (shared by kc_consumer and kc_tier). */
#ifndef HB_KC_JOIN_H
#define HB_KC_JOIN_H

#include <stdatomic.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

/** How long async commits wait for a join to finish before they go out
 *  anyway (a join state line missed must not stop committing). */
#define KC_JOIN_HOLD_MAX_MS 30000

/** The join state (zeroed: steady). Written from librdkafka's threads
 *  (the log callback), read from the caller's. */
typedef struct kc_join_s {
        atomic_int joining;         /**< 1 while a join is under way */
        atomic_llong joining_since; /**< when it began (monotonic ms) */
} kc_join_t;

/**
 * @brief Add "cgrp" to \p conf's debug setting (whatever kafka.properties
 *        asked for stays): the join state lines kc_join_log() reads.
 * @returns 0, or -1 with the reason in \p errstr.
 */
int kc_join_debug_conf(rd_kafka_conf_t *conf, char *errstr, size_t errstr_size);

/**
 * @brief Follow one librdkafka log line (from the client's log callback):
 *        "Group "g" changed join state wait-join -> steady" and the like.
 * @returns 1 when the line should be logged (level <= 6, or debug level
 *          on): the cgrp debug lines asked for here are not.
 */
int kc_join_log(kc_join_t *j, int level, const char *fac, const char *buf);

/** @returns 1 while a join is under way (for at most
 *  KC_JOIN_HOLD_MAX_MS): an async commit sent now would carry the old
 *  generation, be refused, and librdkafka 2.0.2 would then declare the
 *  whole assignment lost (#4059). */
int kc_join_busy(kc_join_t *j);

#endif
