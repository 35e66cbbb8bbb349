/* wk_admin: the worker's admin listener (libmicrohttpd): /metrics,
 * /healthz, /readyz, /status. */
#include "wk_admin.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

struct wk_admin_s {
        struct MHD_Daemon *mhd;
        wk_metrics_t *metrics;
        wk_admin_probe_t probe;
        char *token;
        uint16_t port;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
                             const char *type, char *body, size_t len,
                             int owned)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(
                len, body,
                owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ret;

        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, "Content-Type", type);
        MHD_add_response_header(r, "Cache-Control", "no-store");
        if (status == MHD_HTTP_UNAUTHORIZED)
                MHD_add_response_header(r, "WWW-Authenticate",
                                        "Bearer realm=\"hookbridge\"");
        if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
                MHD_add_response_header(r, "Allow", "GET, HEAD");
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

/* "Authorization: Bearer TOKEN", compared in constant time. */
static int authorized(const wk_admin_t *a, struct MHD_Connection *conn)
{
        const char *h;
        size_t tl, hl;

        if (!a->token)
                return 1;
        h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                        MHD_HTTP_HEADER_AUTHORIZATION);
        if (!h || strncmp(h, "Bearer ", 7))
                return 0;
        h += 7;
        tl = strlen(a->token);
        hl = strlen(h);
        return hl == tl && CRYPTO_memcmp(h, a->token, tl) == 0;
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
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
                return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                            "method not allowed\n");
        if (!strcmp(url, "/healthz"))
                return a->probe.alive && !a->probe.alive(a->probe.opaque)
                               ? text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                                      "stalled\n")
                               : text(conn, MHD_HTTP_OK, "ok\n");
        if (!authorized(a, conn))
                return text(conn, MHD_HTTP_UNAUTHORIZED, "unauthorized\n");
        if (!strcmp(url, "/metrics")) {
                size_t len = 0;
                char *body = wk_metrics_render(a->metrics, &len);
                if (!body)
                        return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                    "out of memory\n");
                return reply(conn, MHD_HTTP_OK,
                             "text/plain; version=0.0.4; charset=utf-8", body,
                             len, 1);
        }
        if (!strcmp(url, "/readyz")) {
                why[0] = '\0';
                if (!a->probe.ready ||
                    a->probe.ready(a->probe.opaque, why, sizeof(why)))
                        return text(conn, MHD_HTTP_OK, "ready\n");
                snprintf(msg, sizeof(msg), "not ready: %s\n", why);
                return text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
        }
        if (!strcmp(url, "/status")) {
                char *body = a->probe.status ? a->probe.status(a->probe.opaque)
                                             : strdup("{}");
                if (!body)
                        return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                    "out of memory\n");
                return reply(conn, MHD_HTTP_OK, "application/json", body,
                             strlen(body), 1);
        }
        return text(conn, MHD_HTTP_NOT_FOUND,
                    "not found: try /metrics /healthz /readyz /status\n");
}

/* "host:port" or "[v6]:port" into \p ss. @returns 0 or -1. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss,
                        int *v6)
{
        char host[128];
        const char *colon;
        char *end;
        long port;
        size_t hl;

        memset(ss, 0, sizeof(*ss));
        if (*listen == '[') {
                const char *rb = strchr(listen, ']');
                if (!rb || rb[1] != ':')
                        return -1;
                hl = (size_t)(rb - listen - 1);
                if (hl >= sizeof(host))
                        return -1;
                memcpy(host, listen + 1, hl);
                host[hl] = '\0';
                colon = rb + 1;
        } else {
                colon = strrchr(listen, ':');
                if (!colon)
                        return -1;
                hl = (size_t)(colon - listen);
                if (hl >= sizeof(host))
                        return -1;
                memcpy(host, listen, hl);
                host[hl] = '\0';
        }
        port = strtol(colon + 1, &end, 10);
        if (*end || end == colon + 1 || port < 0 || port > 65535)
                return -1;
        if (!strcmp(host, "localhost"))
                snprintf(host, sizeof(host), "127.0.0.1");
        if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) ==
            1) {
                ((struct sockaddr_in *)ss)->sin_family = AF_INET;
                ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
                *v6 = 0;
                return 0;
        }
        if (inet_pton(AF_INET6, host,
                      &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
                ((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
                ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
                *v6 = 1;
                return 0;
        }
        return -1;
}

wk_admin_t *wk_admin_start(const char *listen, const char *token,
                           wk_metrics_t *metrics, const wk_admin_probe_t *probe,
                           char *errstr, size_t errstr_size)
{
        wk_admin_t *a = calloc(1, sizeof(*a));
        struct sockaddr_storage ss;
        const union MHD_DaemonInfo *info;
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
        int v6 = 0;

        if (!a) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        if (parse_listen(listen, &ss, &v6) == -1) {
                snprintf(errstr, errstr_size,
                         "admin.listen: '%s' is not host:port (e.g. "
                         "127.0.0.1:9464 or [::1]:9464)",
                         listen);
                goto err;
        }
        a->metrics = metrics;
        a->probe = *probe;
        if (token && *token && !(a->token = strdup(token))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        if (v6)
                flags |= MHD_USE_IPv6;
        a->mhd = MHD_start_daemon(
                flags, 0, NULL, NULL, on_request, a, MHD_OPTION_SOCK_ADDR,
                (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 64u,
                MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
        if (!a->mhd) {
                snprintf(errstr, errstr_size,
                         "admin.listen: cannot listen on %s (in use, or not "
                         "an address of this host)",
                         listen);
                goto err;
        }
        info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_BIND_PORT);
        a->port = info ? info->port : 0;
        return a;
err:
        free(a->token);
        free(a);
        return NULL;
}

uint16_t wk_admin_port(const wk_admin_t *a)
{
        return a->port;
}

void wk_admin_stop(wk_admin_t *a)
{
        if (!a)
                return;
        MHD_stop_daemon(a->mhd);
        if (a->token)
                OPENSSL_cleanse(a->token, strlen(a->token));
        free(a->token);
        free(a);
}
