/* wh_pool: the HTTP producer pool (libcurl multi): POST, retry, report. */
#ifndef HB_WH_POOL_H
#define HB_WH_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "wh_endpoint.h"

typedef struct wh_pool_s wh_pool_t;

typedef struct wh_pool_conf_s {
        int max_in_flight;      /**< concurrent HTTP requests, >= 1; each
                                     endpoint has its own cap besides
                                     (cfg_webhook_t.max_in_flight) */
        int connect_timeout_ms; /**< TCP+TLS connect; <= 0: 10 s */
        int max_response_bytes; /**< response body kept for reports;
                                     <= 0: 256 */
        /** circuit breaker per endpoint: this many consecutive failed
         *  attempts (transport errors, 408/425/429/5xx) open it for
         *  circuit_open_ms (<= 0: 30 s): no attempt starts, deliveries
         *  wait without counting attempts; then one probe decides (a
         *  success closes it, a failure opens it again). <= 0 turns it
         *  off. */
        int circuit_failures;
        int circuit_open_ms;
        /** SSRF guard (wh_guard.h) on every connection when set: a
         *  refused address fails the delivery as WH_OUT_PERMANENT */
        int ssrf_guard;
        const char *const *allow_networks; /**< CIDRs the guard allows */
        size_t allow_network_count;
        /** when set, only https:// is ever requested */
        int https_only;
} wh_pool_conf_t;

typedef enum {
        WH_OUT_OK = 0,    /**< a 2xx */
        WH_OUT_PERMANENT, /**< a permanent failure: 3xx, 4xx but
                               408/425/429 (410 Gone also disables the
                               endpoint), an address the SSRF guard
                               refused, an unusable URL or id */
        WH_OUT_EXHAUSTED, /**< retryable failures, max_attempts reached */
        WH_OUT_DISABLED,  /**< the endpoint is disabled (after a 410 Gone,
                               see wh_pool_disabled()): this delivery
                               was not sent (or not again), and waits for
                               nothing; a reload re-enables the webhook */
        WH_OUT_DEFERRED,  /**< WH_SUBMIT_DEFER only: handed back to wait
                               elsewhere (a retry tier) because the
                               endpoint's circuit is open (circuit_open 1,
                               no attempt made for it), it is suspect
                               and could not start it now (suspect 1,
                               no attempt made for it; not with
                               WH_SUBMIT_ONCE), its rate limit
                               would hold it longer than max_ms
                               (rate_limited 1) or a Retry-After
                               asked for longer than max_ms
                               (retry_after_ms) */
        WH_OUT_CANCELLED, /**< wh_pool_cancel(): not sent (or not again) */
} wh_outcome_t;

/** wh_pool_submit() flags. */
#define WH_SUBMIT_FOREVER 0x1 /**< never exhausted (see wh_pool_submit) */
#define WH_SUBMIT_DEFER                                  \
        0x2 /**< end as WH_OUT_DEFERRED rather than wait \
                 for an open circuit or a Retry-After    \
                 beyond max_ms */
#define WH_SUBMIT_ONCE                                    \
        0x4 /**< one attempt: a retryable failure ends it \
                 as WH_OUT_EXHAUSTED (a retry tier's      \
                 attempt) */

/** What became of a delivery; valid only during the callback. */
typedef struct wh_result_s {
        wh_outcome_t outcome;
        long status;       /**< last HTTP status, 0 when none */
        const char *error; /**< why the last attempt failed (transport
                                error, SSRF guard refusal) or why none
                                was made, or "" */
        int attempts;
        int64_t retry_after_ms; /**< the last response's Retry-After (429,
                                     503), -1: none */
        int circuit_open;       /**< WH_OUT_DEFERRED for an open circuit */
        int suspect;            /**< WH_OUT_DEFERRED for a suspect endpoint:
                                     its last attempt timed out or could
                                     not connect, and its one request was
                                     on the wire (or the suspects' share
                                     taken) */
        int rate_limited;       /**< WH_OUT_DEFERRED for the rate limit:
                                     it would have waited longer than
                                     retry.max_ms (retry_after_ms) */
        double last_attempt_s;  /**< duration of the final attempt */
        const char *body_start; /**< first bytes of the last response */
        size_t body_start_len;
} wh_result_t;

typedef void(wh_done_cb_t)(const wh_result_t *res, void *opaque);

/**
 * Called after every attempt (metrics): \p status is the HTTP status, or
 * 0 for a transport error or a connection the SSRF guard refused;
 * \p seconds the attempt's duration; \p will_retry 1 when the delivery
 * was scheduled for another attempt. Never called for deliveries that
 * waited (circuit open, cap reached) or ended without a request.
 */
typedef void(wh_attempt_cb_t)(const wh_endpoint_t *ep, long status,
                              double seconds, int will_retry, void *opaque);

/** One attempt as it ended (wh_pool_set_attempt_info_cb()); valid during
 *  the callback only. */
typedef struct wh_attempt_s {
        long status; /**< as for wh_attempt_cb_t */
        double seconds;
        int will_retry;
        const char *error;      /**< why it failed without a status, or "" */
        const char *body_start; /**< the response's first bytes */
        size_t body_start_len;
} wh_attempt_t;

/** Called after every attempt, as wh_attempt_cb_t, with the error and
 *  the response's start (the delivery health). */
typedef void(wh_attempt_info_cb_t)(const wh_endpoint_t *ep,
                                   const wh_attempt_t *a, void *opaque);

/** @brief A pool; NULL with the reason in \p errstr. */
wh_pool_t *wh_pool_new(const wh_pool_conf_t *conf, char *errstr,
                       size_t errstr_size);

/**
 * @brief Queue one delivery: POST \p body to \p ep, retrying retryable
 *        failures with backoff (and Retry-After) per the endpoint's retry
 *        bounds, then call \p cb exactly once with the outcome.
 *
 * Requests start from wh_pool_run(), never from here: at most
 * max_in_flight in the pool and the endpoint's own max_in_flight for
 * \p ep, endpoints taking turns for free slots, each endpoint's
 * deliveries in the order they became ready. A delivery for a disabled
 * endpoint ends as WH_OUT_DISABLED from the next wh_pool_run().
 *
 * @param flags  WH_SUBMIT_*, 0 for none. WH_SUBMIT_FOREVER (1, so a
 *                 boolean "forever" still reads right): a delivery that
 *                 reached max_attempts keeps retrying at the maximum
 *                 backoff and never reports WH_OUT_EXHAUSTED (the
 *                 no-dead-letter policy), and a permanent HTTP failure is
 *                 retried the same way; an address the SSRF guard
 *                 refuses, an invalid id and a disabled endpoint still
 *                 end it. WH_SUBMIT_DEFER, WH_SUBMIT_ONCE: see them.
 *
 * @remark \p body is borrowed: it must stay valid until \p cb has run.
 *         The pool takes its own reference on \p ep, and keeps what it
 *         learns about it (circuit, 410) while anyone else holds \p ep:
 *         until a reload makes a new endpoint. Pools are independent:
 *         each keeps its own turn, cap count and circuit for \p ep.
 * @returns 0, or -1 on out-of-memory or bad arguments.
 */
int wh_pool_submit(wh_pool_t *p, wh_endpoint_t *ep, const char *id,
                   const char *body, size_t body_len, int flags,
                   wh_done_cb_t *cb, void *opaque);

/**
 * @brief Run transfers and timers: waits up to \p timeout_ms for network
 *        activity, a due retry, wh_pool_wakeup(), or \p extra_fd (>= 0)
 *        becoming readable; then performs what is ready and calls the
 *        callbacks of finished deliveries (from this thread).
 * @returns the number of callbacks made, or -1 on a fatal curl error.
 */
int wh_pool_run(wh_pool_t *p, int timeout_ms, int extra_fd);

/** @brief Make a wh_pool_run() waiting in another thread return early.
 *  Async-signal-safe. */
void wh_pool_wakeup(wh_pool_t *p);

/**
 * @brief This pool's share of every endpoint's rate_limit (SPEC §4b:
 *        the share of the source partitions this replica owns), in
 *        (0, 1]; 1 until set. Endpoints over their share wait in the pool
 *        (their turn skipped until a token is due); a WH_SUBMIT_DEFER
 *        delivery that would wait longer than its endpoint's
 *        retry.max_ms ends as WH_OUT_DEFERRED (rate_limited) instead.
 */
void wh_pool_set_rate_share(wh_pool_t *p, double share);

/** @brief Set the per-attempt hook (metrics); NULL: none. */
void wh_pool_set_attempt_cb(wh_pool_t *p, wh_attempt_cb_t *cb, void *opaque);

/** @brief Set the second per-attempt hook, called after the first, with
 *  the attempt's error and response start; NULL: none. */
void wh_pool_set_attempt_info_cb(wh_pool_t *p, wh_attempt_info_cb_t *cb,
                                 void *opaque);

/** @returns deliveries ready for an attempt and waiting for a free slot
 *  (not those on the wire or waiting for a retry): how far submitting is
 *  ahead of sending. */
size_t wh_pool_queued(const wh_pool_t *p);

/** @returns 1 when every connection is busy and at least \p per_slot
 *  deliveries per connection already wait for one: what is submitted now
 *  only queues. */
int wh_pool_saturated(const wh_pool_t *p, size_t per_slot);

/** @returns HTTP requests on the wire now. */
size_t wh_pool_running(const wh_pool_t *p);

/** @returns deliveries submitted and not yet reported (including those
 *  waiting for a retry). */
size_t wh_pool_pending(const wh_pool_t *p);

/**
 * @returns the circuit breaker's state for \p ep in \p p: 0 closed (also
 *          when \p p never had a delivery of it), 1 half-open (the open
 *          period is over: the next attempt is the one probe), 2 open (no
 *          attempt starts).
 */
int wh_pool_circuit(const wh_pool_t *p, const wh_endpoint_t *ep);

/**
 * @brief A reload disabled or removed \p ep: every delivery of it that
 *        waits (queued, or for a retry) ends as WH_OUT_CANCELLED from the
 *        next wh_pool_run(), and so does one on the wire when it fails;
 *        one on the wire that succeeds reports WH_OUT_OK. \p ep is not
 *        used again (the worker submits to its successor).
 * @returns its deliveries not yet reported (0: nothing held).
 */
size_t wh_pool_cancel(wh_pool_t *p, const wh_endpoint_t *ep);

/** @returns 1 when \p p disabled \p ep (a 410 Gone: its deliveries end
 *  with WH_OUT_DISABLED, without a request, until a reload makes a new
 *  endpoint), else 0. */
int wh_pool_disabled(const wh_pool_t *p, const wh_endpoint_t *ep);

/** @returns requests to \p ep on the wire now. */
size_t wh_pool_running_to(const wh_pool_t *p, const wh_endpoint_t *ep);

/**
 * @brief Abandon every pending delivery without calling callbacks (the
 *        worker commits only what finished, so abandoned messages are
 *        redelivered), then free. NULL is a no-op.
 */
void wh_pool_destroy(wh_pool_t *p);

#endif
