/* wh_endpoint: one webhook's delivery settings, prepared for sending. */
#ifndef HB_WH_ENDPOINT_H
#define HB_WH_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

/**
 * A webhook ready to send to: URL, decoded signing keys, static header
 * list, timeouts and retry bounds, copied out of its cfg_webhook_t so it
 * outlives a configuration reload. Reference counted: a pool that has
 * delivered to it holds one reference (see wh_pool_sched.h).
 *
 * @remark describes a subscriber only: how its deliveries are scheduled,
 *         and what is learnt sending them, is the pool's.
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

/** @returns 1 when a reference besides the caller's exists (a pool
 *  forgets an endpoint nobody else holds), else 0. */
int wh_endpoint_shared(const wh_endpoint_t *ep);

/** @returns the webhook's own cap on requests in flight, <= 0: none. How
 *  deliveries are scheduled, and what is learnt sending them (circuit,
 *  410), is the pool's: wh_pool_circuit(), wh_pool_disabled(). */
int wh_endpoint_max_in_flight(const wh_endpoint_t *ep);

/** @returns the TLS settings (fields NULL when not configured). */
const cfg_tls_t *wh_endpoint_tls(const wh_endpoint_t *ep);

const char *wh_endpoint_name(const wh_endpoint_t *ep);
/** @returns the webhook's app_token (SPEC §5), NULL for an operator
 *  webhook. */
const char *wh_endpoint_app(const wh_endpoint_t *ep);
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
