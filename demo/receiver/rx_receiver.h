/* rx_receiver: a loopback webhook subscriber (libmicrohttpd) that records
 * every request, verifies and counts signatures and injects faults. The
 * `demo` command, the test receiver (tests/receiver, hb-receiver) and the
 * tests are built on it. It sees producers/ (wh_sign) and below, never
 * worker/. */
#ifndef HB_RX_RECEIVER_H
#define HB_RX_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

typedef struct rx_s rx_t;

/** One received request, valid only during the callback. */
typedef struct rx_request_s {
        const char *path;
        const char *webhook_id; /**< "" when absent */
        const char *webhook_ts; /**< "" when absent */
        const char *signature;  /**< webhook-signature or X-Signature */
        int verified;           /**< 1 ok, 0 bad, -1 no secret known */
        const char *body;
        size_t body_len;
        const char *headers_json; /**< all headers as a JSON object text */
        int status;               /**< what the receiver answers; 0: the
                                       connection is dropped */
        uint64_t seq;             /**< 1, 2, ... in arrival order */
        void *conn_;              /**< private: for rx_request_header() */
} rx_request_t;

/** @returns the value of header \p name (any case) of \p req, NULL when
 *  absent. During the callback only. */
const char *rx_request_header(const rx_request_t *req, const char *name);

typedef void(rx_cb_t)(const rx_request_t *req, void *opaque);

/** Retry-After in an answer. */
typedef enum rx_ra_e {
        RX_RA_NONE = 0,
        RX_RA_SECONDS, /**< "Retry-After: ra_s" */
        RX_RA_DATE,    /**< the HTTP-date ra_s seconds from now */
} rx_ra_t;

/** One answer of a fault script (rx_set_script() writes them as text). */
typedef struct rx_step_s {
        int status;           /**< 200..599; 0: drop the connection */
        int delay_ms;         /**< answer this late */
        rx_ra_t ra;           /**< Retry-After, with ra_s */
        int ra_s;             /**< seconds */
        unsigned count;       /**< taken this many times (0: once) */
        size_t body_len;      /**< answer this many bytes, 'a'..'z' over
                                   and over; 0: a short text */
        const char *text;     /**< that short text, or NULL: "ok\n",
                                   "injected fault\n" */
        const char *location; /**< a Location header, or NULL */
} rx_step_t;

/**
 * Choose the answer to a request in code instead of a script: fill
 * *\p step (zeroed but for count 1) and return 1, or 0 to take the
 * script's step. Called on the receiver's threads, no lock held, before
 * the request callback; \p step->text and ->location are copied.
 */
typedef int(rx_step_cb_t)(const char *path, rx_step_t *step, void *opaque);

typedef struct rx_conf_s {
        const char *bind;        /**< "127.0.0.1" (default when NULL) */
        uint16_t port;           /**< 0: an ephemeral port */
        const char *record_path; /**< JSON lines file, or NULL */
        rx_cb_t *cb;             /**< called for each request, or NULL */
        void *opaque;
        rx_step_cb_t *step_cb; /**< or NULL: the scripts decide */
        void *step_opaque;
        /**
         * Nonzero: also serve the control endpoint, never recorded nor
         * counted: `PUT /_control/script?path=P` (body: a script, see
         * rx_set_script()), `PUT /_control/secret?path=P[&scheme=
         * userpilot]` (body: a secret, empty removes it) and
         * `GET /_control/count` (the count as text). 400 on a bad
         * script or secret, 404 on anything else under /_control/.
         */
        int control;
} rx_conf_t;

/**
 * @brief Start serving: libmicrohttpd with an epoll thread pool of two,
 *        up to 1024 connections; delays suspend the connection, so a
 *        delayed request holds no thread.
 * @returns the receiver, or NULL with the reason in \p errstr.
 */
rx_t *rx_start(const rx_conf_t *conf, char *errstr, size_t errstr_size);

/** @returns the port it listens on. */
uint16_t rx_port(const rx_t *rx);

/**
 * @brief Secret used to verify requests under \p path (exact match, or
 *        "*" for any path without its own); \p userpilot selects the
 *        X-Signature scheme. A NULL or "" \p secret removes it.
 * @returns 0, or -1 when the secret does not decode.
 */
int rx_set_secret(rx_t *rx, const char *path, const char *secret,
                  int userpilot);

/**
 * @brief Fault script for \p path ("*": any path without its own): a
 *        comma-separated list of steps taken in turn for successive
 *        requests, the last one repeating: "200", "500", "503:ra=2"
 *        (Retry-After: 2), "429:ra=date+2" (Retry-After as the HTTP-date
 *        two seconds from now), "delay=1500" (then 200),
 *        "200:delay=100", "200:body=65536" (that many bytes), "drop"
 *        (close the connection without an answer), "500*20" (a step 20
 *        times). "" or NULL resets to "200".
 * @returns 0, or -1 with a malformed script.
 */
int rx_set_script(rx_t *rx, const char *path, const char *script);

/** @brief rx_set_script() with the \p n steps written out (copied). */
int rx_set_steps(rx_t *rx, const char *path, const rx_step_t *steps, size_t n);

/** @returns requests received so far (all paths). */
uint64_t rx_count(const rx_t *rx);

/** What the receiver has seen, control requests aside. */
typedef struct rx_stats_s {
        uint64_t requests;    /**< as rx_count() */
        uint64_t connections; /**< TCP connections accepted */
        uint64_t verified;    /**< requests whose signature verified */
        uint64_t unverified;  /**< a secret known, but no signature or a
                                   bad one */
        int in_flight;        /**< requests received, not yet answered */
        int max_in_flight;    /**< the most at once */
} rx_stats_t;

/** @brief Fill \p out. */
void rx_stats(const rx_t *rx, rx_stats_t *out);

/** @brief Stop serving and free. NULL is a no-op. */
void rx_stop(rx_t *rx);

#endif
