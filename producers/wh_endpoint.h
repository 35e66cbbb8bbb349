/* wh_endpoint: one webhook's delivery settings, prepared for sending. */
#ifndef HB_WH_ENDPOINT_H
#define HB_WH_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "wh_sign.h"

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

/** @returns the webhook's rate_limit (requests per second for the whole
 *  deployment), 0: none. */
int wh_endpoint_rate_limit(const wh_endpoint_t *ep);

/** @returns the TLS settings (fields NULL when not configured). */
const cfg_tls_t *wh_endpoint_tls(const wh_endpoint_t *ep);

const char *wh_endpoint_name(const wh_endpoint_t *ep);
/** @returns the webhook's app_token (SPEC §5), NULL for an operator
 *  webhook. */
const char *wh_endpoint_app(const wh_endpoint_t *ep);
const char *wh_endpoint_url(const wh_endpoint_t *ep);
/** @returns 1 for a webhook of the store (cfg_webhook_t.from_api). */
int wh_endpoint_from_api(const wh_endpoint_t *ep);

/**
 * @brief Where \p url points, for people: "scheme://host[:port]", without
 *        the path, query or credentials (they may carry secrets).
 * @returns \p out, or NULL when \p url does not parse (\p out untouched).
 */
const char *wh_endpoint_origin(const char *url, char *out, size_t size);
int wh_endpoint_timeout_ms(const wh_endpoint_t *ep);
const cfg_retry_t *wh_endpoint_retry(const wh_endpoint_t *ep);

/** The first bytes of the webhook-id header line. */
#define WH_ID_LINE_PREFIX "webhook-id: "
/** Per-attempt lines' room: "webhook-timestamp: " and a 64-bit number;
 *  a signature header name and two signatures (a rotation) */
#define WH_TS_LINE_MAX  48
#define WH_SIG_LINE_MAX (32 + 2 * WH_SIGN_MAX)
/** Most lines before the static headers (wh_endpoint_attempt_lines). */
#define WH_ATTEMPT_LINES_MAX 6

/** One attempt's own header lines, built without allocating. */
typedef struct wh_attempt_lines_s {
        const char *line[WH_ATTEMPT_LINES_MAX]; /**< in order */
        size_t count;
        char ts[WH_TS_LINE_MAX];   /**< storage behind a line */
        char sig[WH_SIG_LINE_MAX]; /**< storage behind a line */
} wh_attempt_lines_t;

/**
 * @brief The lines of one attempt's header list that come before the
 *        static headers: Content-Type, User-Agent, "Expect:", \p id_line,
 *        then the signature headers for \p ts. Nothing is allocated: the
 *        lines point to constants, to \p id_line and into \p out.
 * @param id_line  WH_ID_LINE_PREFIX followed by the event id; borrowed
 *                 as long as \p out is used
 * @returns 0, or -1 when the id is empty or not a header value, or the
 *          signature fails.
 */
int wh_endpoint_attempt_lines(const wh_endpoint_t *ep, const char *id_line,
                              int64_t ts, const char *body, size_t body_len,
                              wh_attempt_lines_t *out);

/**
 * @returns the static header lines as a curl_slist built once (as void *
 *          so this header needs no curl.h; owned by \p ep, never
 *          modified: an attempt's list may end with it), NULL when the
 *          webhook has none.
 */
void *wh_endpoint_static_headers(const wh_endpoint_t *ep);

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
