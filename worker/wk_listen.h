/* wk_listen: what the admin listener and the management API share: a
 * libmicrohttpd listener on a numeric address with its connection guard,
 * bearer tokens compared in constant time, the Host check against DNS
 * rebinding, and the response headers every answer carries. */
#ifndef HB_WK_LISTEN_H
#define HB_WK_LISTEN_H

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

typedef struct wk_listen_s wk_listen_t;

typedef struct wk_listen_conf_s {
        const char *what;   /**< "admin.listen", "api.listen": messages */
        const char *listen; /**< as cfg_listen_parse() takes it */
        /** bearer tokens, any of which is accepted (copied as digests);
         *  none: wk_listen_authorized() says yes to all */
        const char *const *tokens;
        size_t token_count;
        MHD_AccessHandlerCallback handler; /**< libmicrohttpd's, as is */
        void *opaque;                      /**< the handler's cls */
        /** called when a request ends (answered or not), after the
         *  guard's own bookkeeping: free what the handler kept in
         *  \p *con_cls. NULL: nothing to free */
        void (*completed)(void *opaque, void **con_cls);
        /** threads answering: 0 or 1, one (requests answered in turn);
         *  more for handlers that block (the API waits for the store) */
        unsigned threads;
        /** one request's time, from the connection's opening or the end
         *  of its previous request to the end of the response, whatever
         *  the client sends meanwhile; 0: 10 s */
        int request_max_ms;
        /** connections one client address (IPv6: one /64) may hold; 0: 8
         *  (scrapers and probes); the API, which serves the portal to
         *  browsers (6 connections each, several behind one NAT), more;
         *  at most the listener's total of 64 */
        unsigned per_addr_limit;
        /** set to the listener before its threads start (NULL on
         *  failure), for a handler whose opaque holds it: assigning
         *  wk_listen_start()'s result there would race with a request
         *  that comes at once (ThreadSanitizer). NULL: not set */
        struct wk_listen_s **self;
} wk_listen_conf_t;

/**
 * @brief Listen and serve with \p conf->handler. The guard: one client
 *        address (IPv6: one /64) holds at most per_addr_limit (8)
 *        connections; at 64, a
 *        newcomer closes the connection of the address holding the most
 *        that has waited longest without a response; a request gets
 *        request_max_ms.
 * @returns NULL with the reason in \p errstr (bad address, bind failed).
 */
wk_listen_t *wk_listen_start(const wk_listen_conf_t *conf, char *errstr,
                             size_t errstr_size);

/** @returns the port listened on (useful with port 0). */
uint16_t wk_listen_port(const wk_listen_t *l);

/** @brief Stop and free. NULL is a no-op. */
void wk_listen_stop(wk_listen_t *l);

/** @returns 1 when tokens were configured. */
int wk_listen_has_token(const wk_listen_t *l);

/** @returns the token of "Authorization: Bearer TOKEN" (scheme in any
 *  case, RFC 6750), or NULL. */
const char *wk_listen_bearer(struct MHD_Connection *conn);

/** @returns 1 when \p token is one of the configured ones (every one is
 *  compared, in constant time whatever the length sent). */
int wk_listen_token_ok(const wk_listen_t *l, const char *token);

/** @returns 1 without tokens, else wk_listen_token_ok() of the bearer. */
int wk_listen_authorized(const wk_listen_t *l, struct MHD_Connection *conn);

/**
 * @brief Whether the request says it is meant for this listener: its
 *        Host names loopback (localhost, 127.0.0.0/8, [::1]), the address
 *        listened on, or the one the connection came in on (a wildcard
 *        listener); no Host (HTTP/1.0) too. What a listener without a
 *        token answers: a page whose name was rebound to 127.0.0.1 sends
 *        its own name and is refused.
 */
int wk_listen_host_allowed(const wk_listen_t *l, struct MHD_Connection *conn);

/** @brief A response is about to be queued: the connection is not closed
 *  to make room while it is sent (its time still runs). */
void wk_listen_busy(wk_listen_t *l, struct MHD_Connection *conn);

/**
 * @brief A response of \p body (\p owned: malloc()ed, then freed by
 *        libmicrohttpd, also on failure) with Content-Type \p type (none
 *        when NULL),
 *        Cache-Control: no-store and X-Content-Type-Options: nosniff.
 * @returns it (MHD_destroy_response() after queueing), or NULL.
 */
struct MHD_Response *wk_listen_response(const char *type, char *body,
                                        size_t len, int owned);

#endif
