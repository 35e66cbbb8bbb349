/* wk_admin: the worker's admin listener (libmicrohttpd): /metrics,
 * /healthz, /readyz, /status. */
#ifndef HB_WK_ADMIN_H
#define HB_WK_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "wk_metrics.h"

typedef struct wk_admin_s wk_admin_t;

/**
 * What the admin thread asks the worker; each callback must be
 * thread-safe (the worker publishes snapshots under a lock).
 */
typedef struct wk_admin_probe_s {
        /** 1 when the loop turned recently (healthz) */
        int (*alive)(void *opaque);
        /** 1 when partitions are assigned and the broker reachable; when
         *  0, a short reason into \p why (readyz) */
        int (*ready)(void *opaque, char *why, size_t why_size);
        /** malloc()ed JSON document for /status (never a secret) */
        char *(*status)(void *opaque);
        void *opaque;
} wk_admin_probe_t;

/**
 * @brief Listen on \p listen (numeric "127.0.0.1:9464", "0.0.0.0:9464",
 *        "[::1]:9464", "localhost:9464"; port 0 picks a free one) and
 *        serve, to GET (and HEAD; other methods get 405):
 *        /metrics (\p metrics rendered, text format 0.0.4), /healthz
 *        (200 "ok", 503 when probe->alive says 0), /readyz (200 "ready",
 *        503 with probe->ready's reason), /status (probe->status JSON),
 *        404 elsewhere. With \p token, every path but /healthz requires
 *        "Authorization: Bearer TOKEN" (compared in constant time; 401
 *        with WWW-Authenticate otherwise). Without \p token, every path
 *        but /healthz answers only a Host naming loopback (localhost,
 *        127.0.0.0/8, [::1]), the address listened on or the one the
 *        connection came in on (or no Host at all): 421 otherwise (DNS
 *        rebinding). A NULL \p probe or callback counts as alive, ready
 *        and "{}".
 * @remark \p metrics and \p probe->opaque are borrowed for the
 *         listener's life; \p probe and \p token are copied.
 * @returns NULL with the reason in \p errstr (bad address, bind failed).
 */
wk_admin_t *wk_admin_start(const char *listen, const char *token,
                           wk_metrics_t *metrics, const wk_admin_probe_t *probe,
                           char *errstr, size_t errstr_size);

/** @returns the port listened on (useful with port 0). */
uint16_t wk_admin_port(const wk_admin_t *a);

/** @brief Stop and free. NULL is a no-op. */
void wk_admin_stop(wk_admin_t *a);

#endif
