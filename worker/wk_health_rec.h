/* wk_health_rec: one replica's delivery health of one webhook, the unit
 * the health topic carries: its counts, last success and failure, circuit
 * and 410 state; its record key and its JSON value, both ways. */
#ifndef HB_WK_HEALTH_REC_H
#define HB_WK_HEALTH_REC_H

#include <stddef.h>
#include <stdint.h>

/** Bytes of a failure's error kept (cut beyond). */
#define WK_HEALTH_ERROR_MAX 128
/** Bytes of a failed response's start kept, once escaped (cut beyond). */
#define WK_HEALTH_BODY_MAX 256
/** A replica id, an app_token or a webhook id: at most this long. */
#define WK_HEALTH_NAME_MAX 160

/** What one replica saw of one webhook since it started. */
typedef struct wk_health_counts_s {
        uint64_t delivered;       /**< attempts answered 2xx */
        uint64_t failed;          /**< attempts without a 2xx */
        uint64_t handed_off;      /**< deliveries handed to a retry tier */
        uint64_t resolved;        /**< tier records that ended here */
        uint64_t dead_lettered;   /**< deliveries written as dead letters */
        int64_t last_success_ms;  /**< unix ms, 0: none */
        int64_t last_failure_ms;  /**< unix ms, 0: none */
        long last_failure_status; /**< 0: no HTTP status */
        int circuit;              /**< 0 closed, 1 half-open, 2 open */
        int disabled;             /**< by a 410 Gone */
} wk_health_counts_t;

/** One record: who, of what, and what it saw. Strings are borrowed. A
 *  record with the id "" is the replica's own (a heartbeat): it says the
 *  replica was alive at updated_ms, or that it stopped. */
typedef struct wk_health_rec_s {
        const char *replica;
        const char *app; /**< "" for an operator webhook (and a heartbeat) */
        const char *id;  /**< the webhook's id (a file webhook's name) */
        wk_health_counts_t c;
        const char *error;  /**< the last failure's error, or NULL */
        const char *body;   /**< its response start (escaped), or NULL */
        int64_t updated_ms; /**< when the replica published it */
        int stopped;        /**< a heartbeat: the replica stopped */
} wk_health_rec_t;

/**
 * @brief The record key: replica, app and id joined by the unit
 *        separator (0x1f), which none of them may contain; a heartbeat's
 *        is the replica alone.
 * @returns its length, or 0 when it does not fit \p size.
 */
size_t wk_health_rec_key(const wk_health_rec_t *r, char *out, size_t size);

/** @returns the JSON value of \p r (malloc()ed), or NULL (out of
 *  memory). */
char *wk_health_rec_to_json(const wk_health_rec_t *r);

/**
 * @brief Read a record value. The strings of \p out point into \p *mem
 *        (free() it, also on failure).
 * @returns 0, or -1 with the reason in \p errstr.
 */
int wk_health_rec_from_json(const char *json, size_t len, wk_health_rec_t *out,
                            void **mem, char *errstr, size_t errstr_size);

/**
 * @brief A response's first bytes as text: printable ASCII kept, "\\"
 *        as "\\\\", any other byte as "\\xNN"; at most
 *        WK_HEALTH_BODY_MAX bytes out (no escape cut in half).
 * @returns the length written to \p out (\p size > WK_HEALTH_BODY_MAX).
 */
size_t wk_health_escape(const char *in, size_t len, char *out, size_t size);

#endif
