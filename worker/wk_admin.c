/* wk_admin: the worker's admin listener (libmicrohttpd): /metrics,
 * /healthz, /readyz, /status. */
#include "wk_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "wk_listen.h"

struct wk_admin_s {
        wk_listen_t *listen;
        wk_metrics_t *metrics; /* borrowed */
        wk_admin_probe_t probe;
};

/* Queue \p body (\p owned: malloc()ed, freed by libmicrohttpd). */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
                             const char *type, char *body, size_t len,
                             int owned)
{
        struct MHD_Response *r = wk_listen_response(type, body, len, owned);
        enum MHD_Result ret;

        if (!r)
                return MHD_NO;
        if (status == MHD_HTTP_UNAUTHORIZED)
                MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                        "Bearer realm=\"hookbridge\"");
        if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
                MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        ret = MHD_queue_response(conn, status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned status,
                            const char *s)
{
        return reply(conn, status, "text/plain; charset=utf-8", (char *)s,
                     strlen(s), 0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
        wk_admin_t *a = cls;
        char why[160], msg[200];

        (void)version;
        (void)upload_data;
        (void)con_cls;
        if (*upload_data_size) {
                *upload_data_size = 0; /* bodies are ignored */
                return MHD_YES;
        }
        wk_listen_busy(a->listen, conn);
        /* HEAD too: what serves GET serves HEAD (RFC 9110 9.3.2);
         * libmicrohttpd leaves the body out. */
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
            strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
                return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                            "method not allowed\n");
        /* liveness stays open: orchestrators probe it without secrets */
        if (!strcmp(url, "/healthz"))
                return a->probe.alive && !a->probe.alive(a->probe.opaque)
                               ? text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                                      "stalled\n")
                               : text(conn, MHD_HTTP_OK, "ok\n");
        if (!wk_listen_has_token(a->listen) &&
            !wk_listen_host_allowed(a->listen, conn))
                return text(conn, MHD_HTTP_MISDIRECTED_REQUEST,
                            "misdirected request: the Host header does not "
                            "name this listener; without admin.token only "
                            "localhost, 127.0.0.1, [::1] or the listener's "
                            "own address are answered\n");
        if (!wk_listen_authorized(a->listen, conn))
                return text(conn, MHD_HTTP_UNAUTHORIZED, "unauthorized\n");
        if (!strcmp(url, "/metrics")) {
                size_t len = 0;
                char *body = wk_metrics_render(a->metrics, &len);
                if (!body)
                        return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                    "cannot render the metrics\n");
                return reply(conn, MHD_HTTP_OK,
                             "text/plain; version=0.0.4; charset=utf-8", body,
                             len, 1);
        }
        if (!strcmp(url, "/readyz")) {
                why[0] = '\0';
                if (!a->probe.ready ||
                    a->probe.ready(a->probe.opaque, why, sizeof(why)))
                        return text(conn, MHD_HTTP_OK, "ready\n");
                snprintf(msg, sizeof(msg), "not ready: %s\n",
                         why[0] ? why : "unknown");
                return text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
        }
        if (!strcmp(url, "/status")) {
                char *body = a->probe.status ? a->probe.status(a->probe.opaque)
                                             : strdup("{}");
                if (!body)
                        return text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                                    "status unavailable\n");
                return reply(conn, MHD_HTTP_OK, "application/json", body,
                             strlen(body), 1);
        }
        return text(conn, MHD_HTTP_NOT_FOUND,
                    "not found: try /metrics /healthz /readyz /status\n");
}

wk_admin_t *wk_admin_start(const char *listen, const char *token,
                           wk_metrics_t *metrics, const wk_admin_probe_t *probe,
                           char *errstr, size_t errstr_size)
{
        const char *tokens[1] = {token};
        wk_listen_conf_t lc = {.what = "admin.listen",
                               .listen = listen,
                               .tokens = tokens,
                               .token_count = token && *token ? 1 : 0,
                               .handler = on_request};
        wk_admin_t *a = calloc(1, sizeof(*a));

        if (!a) {
                snprintf(errstr, errstr_size, "admin: out of memory");
                return NULL;
        }
        a->metrics = metrics;
        if (probe)
                a->probe = *probe;
        lc.opaque = a;
        lc.self = &a->listen;
        if (!wk_listen_start(&lc, errstr, errstr_size)) {
                free(a);
                return NULL;
        }
        return a;
}

uint16_t wk_admin_port(const wk_admin_t *a)
{
        return a ? wk_listen_port(a->listen) : 0;
}

void wk_admin_stop(wk_admin_t *a)
{
        if (!a)
                return;
        wk_listen_stop(a->listen);
        free(a);
}
