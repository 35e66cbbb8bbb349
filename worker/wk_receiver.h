/* wk_receiver: a loopback webhook subscriber (libmicrohttpd) that records
 * every request, verifies signatures and injects faults. The `demo`
 * command and the test receiver (tests/receiver) are built on it. */
#ifndef HB_WK_RECEIVER_H
#define HB_WK_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

typedef struct wk_rx_s wk_rx_t;

/** One received request, valid only during the callback. */
typedef struct wk_rx_request_s {
        const char *path;
        const char *webhook_id; /**< "" when absent */
        const char *webhook_ts; /**< "" when absent */
        const char *signature;  /**< webhook-signature or X-Signature */
        int verified;           /**< 1 ok, 0 bad, -1 no secret known */
        const char *body;
        size_t body_len;
        const char *headers_json; /**< all headers as a JSON object text */
        int status;               /**< what the receiver answered; 0: the
                                       connection was dropped */
        uint64_t seq;             /**< 1, 2, ... in arrival order */
} wk_rx_request_t;

typedef void(wk_rx_cb_t)(const wk_rx_request_t *req, void *opaque);

typedef struct wk_rx_conf_s {
        const char *bind;        /**< "127.0.0.1" (default when NULL) */
        uint16_t port;           /**< 0: an ephemeral port */
        const char *record_path; /**< JSON lines file, or NULL */
        wk_rx_cb_t *cb;          /**< called for each request, or NULL */
        void *opaque;
        /**
         * Nonzero: also serve the control endpoint, never recorded nor
         * counted: `PUT /_control/script?path=P` (body: a script, see
         * wk_rx_set_script()), `PUT /_control/secret?path=P[&scheme=
         * userpilot]` (body: a secret, empty removes it) and
         * `GET /_control/count` (the count as text). 400 on a bad
         * script or secret, 404 on anything else under /_control/.
         */
        int control;
} wk_rx_conf_t;

/**
 * @brief Start serving: libmicrohttpd with an epoll thread pool of two,
 *        up to 1024 connections; delays suspend the connection, so a
 *        delayed request holds no thread.
 * @returns the receiver, or NULL with the reason in \p errstr.
 */
wk_rx_t *wk_rx_start(const wk_rx_conf_t *conf, char *errstr,
                     size_t errstr_size);

/** @returns the port it listens on. */
uint16_t wk_rx_port(const wk_rx_t *rx);

/**
 * @brief Secret used to verify requests under \p path (exact match, or
 *        "*" for any path without its own); \p userpilot selects the
 *        X-Signature scheme. A NULL or "" \p secret removes it.
 * @returns 0, or -1 when the secret does not decode.
 */
int wk_rx_set_secret(wk_rx_t *rx, const char *path, const char *secret,
                     int userpilot);

/**
 * @brief Fault script for \p path ("*": any path without its own): a
 *        comma-separated list of steps taken in turn for successive
 *        requests, the last one repeating: "200", "500", "503:ra=2"
 *        (Retry-After: 2), "429:ra=date+2" (Retry-After as the HTTP-date
 *        two seconds from now),
 *        "delay=1500" (then 200), "200:delay=100", "drop" (close the
 *        connection without an answer), "500*20" (a step 20 times).
 *        "" or NULL resets to "200".
 * @returns 0, or -1 with a malformed script.
 */
int wk_rx_set_script(wk_rx_t *rx, const char *path, const char *script);

/** @returns requests received so far (all paths). */
uint64_t wk_rx_count(const wk_rx_t *rx);

/** @brief Stop serving and free. NULL is a no-op. */
void wk_rx_stop(wk_rx_t *rx);

#endif
