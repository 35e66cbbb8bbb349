/* wk_health: delivery health for the whole deployment (SPEC §7's GET
 * .../health). Each replica accumulates its own per-webhook health
 * (wk_health_acc) from the delivery loop's hooks, publishes what changed
 * every few seconds to a compacted topic (one partition, key = replica +
 * webhook), and reads that topic from the start (kc_store's reader) into
 * a view of every replica's records (wk_health_view), which the API sums.
 * A thread of its own does the Kafka side; the hooks only take a lock. */
#ifndef HB_WK_HEALTH_H
#define HB_WK_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "wh_pool.h"
#include "wk_health_acc.h"
#include "wk_health_view.h"

typedef struct wk_health_s wk_health_t;

/** The topic's retention when hookbridge creates it: 7 days. */
#define WK_HEALTH_RETENTION_MS (7LL * 24 * 3600 * 1000)

typedef struct wk_health_conf_s {
        const char *brokers;
        const char *const *prop_names; /**< kafka.properties */
        const char *const *prop_values;
        size_t prop_count;
        const char *topic;      /**< e.g. "<api.store_topic>.health" */
        int replication_factor; /**< of the topic when created */
        int publish_ms;         /**< how often changes go out; 0: 3000 */
        size_t max_entries;     /**< each table's bound; 0: 200,000 */
        const char *replica;    /**< NULL: "<host>-<pid>-<random>" */
} wk_health_conf_t;

/**
 * @brief Start: the tables, then a thread that makes sure the topic
 *        exists (compact,delete, retention 7 days; tried again while the
 *        broker says no), reads it from the start and publishes this
 *        replica's changes every \p conf->publish_ms. Never waits for
 *        Kafka.
 * @returns it, or NULL with the reason in \p errstr.
 */
wk_health_t *wk_health_new(const wk_health_conf_t *conf, char *errstr,
                           size_t errstr_size);

/** @brief Without Kafka (tests): wk_health_publish() puts the changes
 *  straight into the view. */
wk_health_t *wk_health_new_local(const char *replica, size_t max_entries);

/** @brief The pool's attempt-info callback (\p opaque: the health). */
void wk_health_on_attempt(const wh_endpoint_t *ep, const wh_attempt_t *a,
                          void *opaque);

/** @brief One attempt to webhook (\p app, \p id) at the wall clock now
 *  (see wk_health_acc_attempt()). NULL \p h: no-op. */
void wk_health_attempt(wk_health_t *h, const char *app, const char *id,
                       long status, const char *error, const char *body,
                       size_t body_len);

/** @brief Count \p events (WK_HEALTH_HANDED_OFF, ...) of webhook
 *  (\p app (NULL: an operator webhook), \p id). NULL \p h: no-op. */
void wk_health_event(wk_health_t *h, const char *app, const char *id,
                     unsigned events);

/** @brief The circuit and 410 state of a webhook now (see
 *  wk_health_acc_state()). NULL \p h: no-op. */
void wk_health_state(wk_health_t *h, const char *app, const char *id,
                     int circuit, int disabled);

/** @brief Publish the changes now (the thread does it every publish_ms;
 *  a local health applies them to its view). */
void wk_health_publish(wk_health_t *h);

/**
 * @brief Webhook (\p app, \p id) over the deployment (wk_health_view_sum()
 *        at the wall clock now).
 * @returns 1 when any replica has a record of it, else 0.
 */
int wk_health_get(wk_health_t *h, const char *app, const char *id,
                  wk_health_sum_t *out);

/** @returns 1 once the topic was read up to the end it had when the
 *  reader started (a local health: at once). */
int wk_health_caught_up(wk_health_t *h);

/** @returns this replica's id. */
const char *wk_health_replica(const wk_health_t *h);

/** Bounds and what they cost, for logs and tests. */
typedef struct wk_health_stats_s {
        size_t own;               /**< this replica's webhooks */
        uint64_t own_evicted;     /**< evicted from that table */
        size_t records;           /**< (replica, webhook) records viewed */
        size_t webhooks;          /**< webhooks viewed */
        size_t replicas;          /**< replicas known */
        uint64_t records_evicted; /**< evicted from the view */
        uint64_t published;       /**< records written */
        uint64_t publish_errors;  /**< records not acknowledged */
} wk_health_stats_t;

/** @brief The counts now. */
void wk_health_stats(wk_health_t *h, wk_health_stats_t *out);

/** @brief Stop the thread after a last publish (saying this replica
 *  stopped), close the clients, free. NULL is a no-op. */
void wk_health_destroy(wk_health_t *h);

#endif
