/* wk_health_view: the deployment's delivery health, built from every
 * replica's records of the health topic (wk_health_rec): the last record
 * of each (replica, webhook) kept in a bounded table, summed per webhook
 * on demand. Thread-safe: the topic's reader applies, the API reads. */
#ifndef HB_WK_HEALTH_VIEW_H
#define HB_WK_HEALTH_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "wk_health_rec.h"

typedef struct wk_health_view_s wk_health_view_t;

/** A replica whose last heartbeat is older than this (or that said it
 *  stopped) no longer counts for the circuit and 410 states. */
#define WK_HEALTH_ALIVE_MS 30000

/** One webhook over every replica. */
typedef struct wk_health_sum_s {
        uint64_t delivered;      /**< attempts answered 2xx */
        uint64_t failed;         /**< attempts without a 2xx */
        uint64_t dead_lettered;  /**< dead letters written */
        uint64_t handed_off;     /**< deliveries handed to a retry tier */
        uint64_t resolved;       /**< tier records that ended */
        uint64_t in_retry;       /**< handed_off - resolved, 0 if below */
        int64_t last_success_ms; /**< the latest over replicas, 0: none */
        int64_t last_failure_ms; /**< the latest over replicas, 0: none */
        long last_failure_status;
        char error[WK_HEALTH_ERROR_MAX + 1]; /**< of the latest failure */
        char body[WK_HEALTH_BODY_MAX + 1];   /**< its response start */
        size_t replicas;    /**< replicas with a record of it */
        size_t alive;       /**< of them, alive (heartbeat) */
        size_t open;        /**< alive replicas whose circuit is open */
        size_t half_open;   /**< ... half-open */
        size_t disabled;    /**< alive replicas that disabled it (410) */
        int64_t updated_ms; /**< the newest record's */
} wk_health_sum_t;

/** @brief A view of at most \p cap (replica, webhook) records (0:
 *  200,000); when full, the least recently updated one is evicted.
 *  @returns it, or NULL (out of memory). */
wk_health_view_t *wk_health_view_new(size_t cap);

/** @brief Apply \p r: it replaces the record of its (replica, webhook),
 *  or is its replica's heartbeat. */
void wk_health_view_apply(wk_health_view_t *v, const wk_health_rec_t *r);

/**
 * @brief Webhook (\p app, \p id) over every replica, the circuit and 410
 *        states over those alive at \p now_ms (unix ms).
 * @returns 1 when a replica has a record of it, 0 when none (\p out all
 *          zeros).
 */
int wk_health_view_sum(wk_health_view_t *v, const char *app, const char *id,
                       int64_t now_ms, wk_health_sum_t *out);

/** @returns 1 with \p out filled when replica \p replica has a record of
 *  (\p app, \p id), else 0. */
int wk_health_view_own(wk_health_view_t *v, const char *replica,
                       const char *app, const char *id,
                       wk_health_counts_t *out);

/** @brief Records held, webhooks, replicas known, records evicted. */
void wk_health_view_stats(wk_health_view_t *v, size_t *records,
                          size_t *webhooks, size_t *replicas,
                          uint64_t *evicted);

/** @brief Free. NULL is a no-op. */
void wk_health_view_destroy(wk_health_view_t *v);

#endif
