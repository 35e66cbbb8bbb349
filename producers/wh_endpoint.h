/* wh_endpoint: one webhook's delivery settings, prepared for sending. */
#ifndef HB_WH_ENDPOINT_H
#define HB_WH_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

/**
 * A webhook ready to send to: URL, decoded signing keys, static header
 * list, timeouts and retry bounds, copied out of its cfg_webhook_t so it
 * outlives a configuration reload. Reference counted: every delivery in
 * flight holds a reference.
 */
typedef struct wh_endpoint_s wh_endpoint_t;

/**
 * @brief Prepare \p wh (everything is copied; \p wh may go after).
 * @returns a new endpoint with one reference, or NULL with the reason in
 *          \p errstr.
 */
wh_endpoint_t *wh_endpoint_new(const cfg_webhook_t *wh, char *errstr,
                               size_t errstr_size);
wh_endpoint_t *wh_endpoint_ref(wh_endpoint_t *ep);
/** @brief Drop a reference; frees on the last. NULL is a no-op. */
void wh_endpoint_unref(wh_endpoint_t *ep);

/**
 * Delivery state of an endpoint, kept on the endpoint so that it lasts
 * across deliveries (and across pools: the circuit and the 410 mark stay
 * with the endpoint until a reload makes a new one).
 *
 * @remark read and written by wh_pool only, from its thread; everyone
 *         else asks wh_endpoint_circuit() and wh_endpoint_disabled(). The
 *         queue and list fields belong to the one pool that has
 *         deliveries of this endpoint (wh_pool_submit() refuses a second
 *         pool meanwhile); they are empty whenever it has none.
 */
typedef struct wh_ep_state_s {
        int max_in_flight; /**< own cap (cfg), <= 0: none */
        int in_flight;     /**< requests on the wire now */

        /* wh_pool's scheduling, see wh_pool.c */
        void *owner;       /**< the pool holding deliveries, or NULL */
        size_t deliveries; /**< in that pool, not yet reported */
        void *queue_head;  /**< FIFO of deliveries ready to start */
        void *queue_tail;
        int listed;          /**< 0, or which list of the pool holds it */
        wh_endpoint_t *prev; /**< links in that list */
        wh_endpoint_t *next;

        /* circuit breaker */
        int failures;       /**< consecutive failed attempts */
        int circuit;        /**< 0 closed, 1 half-open, 2 open */
        int64_t open_until; /**< monotonic ms, while open */
        int probing;        /**< half-open: the probe is on the wire */

        int disabled; /**< 410 Gone seen: until a reload */
} wh_ep_state_t;

/** @returns the endpoint's delivery state (for wh_pool). */
wh_ep_state_t *wh_endpoint_state(wh_endpoint_t *ep);

/**
 * @returns the circuit breaker's state: 0 closed, 1 half-open (the open
 *          period is over: the next attempt is the one probe), 2 open (no
 *          attempt starts).
 */
int wh_endpoint_circuit(const wh_endpoint_t *ep);

/** @returns 1 when the endpoint is disabled (a 410 Gone), else 0. */
int wh_endpoint_disabled(const wh_endpoint_t *ep);

/**
 * @brief Disable (\p disabled 1) or re-enable (0) the endpoint. wh_pool
 *        disables an endpoint by itself on a 410 Gone; its deliveries
 *        then end with WH_OUT_DISABLED, without a request.
 */
void wh_endpoint_set_disabled(wh_endpoint_t *ep, int disabled);

/** @returns the TLS settings (fields NULL when not configured). */
const cfg_tls_t *wh_endpoint_tls(const wh_endpoint_t *ep);

const char *wh_endpoint_name(const wh_endpoint_t *ep);
const char *wh_endpoint_url(const wh_endpoint_t *ep);

/**
 * @brief Where \p url points, for people: "scheme://host[:port]", without
 *        the path, query or credentials (they may carry secrets).
 * @returns \p out, or NULL when \p url does not parse (\p out untouched).
 */
const char *wh_endpoint_origin(const char *url, char *out, size_t size);
int wh_endpoint_timeout_ms(const wh_endpoint_t *ep);
const cfg_retry_t *wh_endpoint_retry(const wh_endpoint_t *ep);

/**
 * @brief The complete header list for one attempt: Content-Type,
 *        User-Agent, webhook-id, signature headers for \p ts, then the
 *        static headers.
 * @returns a curl_slist (as void * so this header needs no curl.h; caller
 *          frees with curl_slist_free_all), or NULL on out-of-memory.
 */
void *wh_endpoint_headers(const wh_endpoint_t *ep, const char *id, int64_t ts,
                          const char *body, size_t body_len);

#endif
