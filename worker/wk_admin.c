/* wk_admin: the worker's admin listener (libmicrohttpd): /metrics,
 * /healthz, /readyz, /status. */
#include "wk_admin.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "cfg.h"
#include "hb_log.h"
#include "hb_time.h"

/* Scrapers and probes, not the public. A client that opens connections
 * and dribbles bytes must not take /healthz down (a liveness probe that
 * fails gets the pod restarted), so:
 * - one client address (IPv6: one /64) holds at most ADMIN_PER_ADDR_LIMIT
 *   connections; more are refused at once;
 * - at ADMIN_CONN_LIMIT connections, a new one closes, of the address
 *   holding the most connections, the one that has waited longest without
 *   a response being sent (so a probe from another address gets in, and
 *   is not the one closed by the next comers, however fast they come);
 * - a connection gets ADMIN_REQUEST_MAX_MS for one request, from its
 *   opening or the end of its previous request to the end of the
 *   response, whatever it sends meanwhile (the idle timeout alone
 *   restarts with every byte). */
#define ADMIN_CONN_LIMIT     64u
#define ADMIN_PER_ADDR_LIMIT 8u
#define ADMIN_REQUEST_MAX_MS 10000
#define ADMIN_IDLE_TIMEOUT_S 10u
/* closings libmicrohttpd has not yet seen, on top of the limit */
#define ADMIN_SLOTS      (ADMIN_CONN_LIMIT + 64u)
#define ADMIN_REAP_EVERY 250 /* ms */
#define WHO_LEN          9   /* family byte + IPv4 address or IPv6 /64 */

/* One open connection, as the guard sees it. */
typedef struct conn_slot_s {
        int used;
        int closing; /* shut down by the guard, not yet closed */
        int busy;    /* a response is queued and being sent */
        int fd;
        int64_t since_ms; /* opened, or its last request completed */
        unsigned char who[WHO_LEN];
} conn_slot_t;

struct wk_admin_s {
        struct MHD_Daemon *mhd;
        wk_metrics_t *metrics; /* borrowed */
        wk_admin_probe_t probe;
        int has_token;
        /* only the token's digest is kept: compared in constant time,
         * whatever the length of what a client sends */
        unsigned char token_md[SHA256_DIGEST_LENGTH];
        uint16_t port;
        /* the address listened on (16 bytes, IPv4 mapped), unless a
         * wildcard: what a Host may name besides loopback */
        int has_listen_addr;
        unsigned char listen_addr[16];
        atomic_int started;
        char start_err[160]; /* libmicrohttpd's reason, while starting */
        /* the connection guard (libmicrohttpd's thread and the reaper) */
        pthread_mutex_t lock;
        pthread_cond_t wake;
        pthread_t reaper;
        int reaper_started;
        int stopping;
        conn_slot_t slots[ADMIN_SLOTS];
};

/* The client's address as the limit counts it: IPv4 (also mapped into
 * IPv6) whole, IPv6 by its /64 (one host gets a /64 as easily as one
 * address). */
static void client_key(const struct sockaddr *sa, unsigned char *who)
{
        memset(who, 0, WHO_LEN);
        if (sa && sa->sa_family == AF_INET) {
                who[0] = 4;
                memcpy(who + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        } else if (sa && sa->sa_family == AF_INET6) {
                const struct in6_addr *a6 =
                        &((const struct sockaddr_in6 *)sa)->sin6_addr;
                if (IN6_IS_ADDR_V4MAPPED(a6)) {
                        who[0] = 4;
                        memcpy(who + 1, a6->s6_addr + 12, 4);
                } else {
                        who[0] = 6;
                        memcpy(who + 1, a6->s6_addr, 8);
                }
        }
}

/* Close \p c's connection: libmicrohttpd sees it end and cleans up (its
 * CLOSED notification, taken under the same lock, comes before the fd is
 * closed, so the fd is still this connection's). Under a->lock. */
static void slot_close(conn_slot_t *c)
{
        shutdown(c->fd, SHUT_RDWR);
        c->closing = 1;
}

/* The connection to close for a newcomer from \p who: of the address
 * with the most live connections (the newcomer counted), the one waiting
 * longest without a response; NULL when every one is answering. Under
 * a->lock. */
static conn_slot_t *pick_victim(wk_admin_t *a, const unsigned char *who)
{
        conn_slot_t *victim = NULL;
        unsigned most = 0;

        for (size_t i = 0; i < ADMIN_SLOTS; i++) {
                conn_slot_t *c = &a->slots[i];
                unsigned n = !memcmp(c->who, who, WHO_LEN);
                if (!c->used || c->closing || c->busy)
                        continue;
                for (size_t j = 0; j < ADMIN_SLOTS; j++) {
                        const conn_slot_t *d = &a->slots[j];
                        n += d->used && !d->closing &&
                             !memcmp(d->who, c->who, WHO_LEN);
                }
                if (n > most || (n == most && c->since_ms < victim->since_ms)) {
                        victim = c;
                        most = n;
                }
        }
        return victim;
}

/* libmicrohttpd's accept policy: refuse a client address over its limit;
 * at the total limit, close a connection of the address holding most. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr,
                                 socklen_t addrlen)
{
        wk_admin_t *a = cls;
        unsigned char who[WHO_LEN];
        unsigned same = 0, live = 0, used = 0;

        (void)addrlen;
        client_key(addr, who);
        pthread_mutex_lock(&a->lock);
        for (size_t i = 0; i < ADMIN_SLOTS; i++) {
                conn_slot_t *c = &a->slots[i];
                if (!c->used)
                        continue;
                used++;
                same += !memcmp(c->who, who, WHO_LEN);
                live += !c->closing;
        }
        if (same >= ADMIN_PER_ADDR_LIMIT || used >= ADMIN_SLOTS) {
                pthread_mutex_unlock(&a->lock);
                return MHD_NO;
        }
        if (live >= ADMIN_CONN_LIMIT) {
                conn_slot_t *victim = pick_victim(a, who);
                if (!victim) {
                        pthread_mutex_unlock(&a->lock);
                        return MHD_NO; /* all are answering: not for long */
                }
                slot_close(victim);
        }
        pthread_mutex_unlock(&a->lock);
        return MHD_YES;
}

static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
        wk_admin_t *a = cls;
        const union MHD_ConnectionInfo *fd, *addr;
        conn_slot_t *c = *socket_context;

        if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
                if (c) {
                        pthread_mutex_lock(&a->lock);
                        c->used = 0;
                        pthread_mutex_unlock(&a->lock);
                }
                return;
        }
        fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        addr = MHD_get_connection_info(conn,
                                       MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (!fd)
                return;
        pthread_mutex_lock(&a->lock);
        for (size_t i = 0; i < ADMIN_SLOTS && !c; i++)
                if (!a->slots[i].used)
                        c = &a->slots[i];
        if (c) {
                memset(c, 0, sizeof(*c));
                c->used = 1;
                c->fd = fd->connect_fd;
                c->since_ms = hb_time_mono_ms();
                client_key(addr ? addr->client_addr : NULL, c->who);
                *socket_context = c;
        } else {
                shutdown(fd->connect_fd, SHUT_RDWR); /* never: see on_accept */
        }
        pthread_mutex_unlock(&a->lock);
}

static conn_slot_t *slot_of(struct MHD_Connection *conn)
{
        const union MHD_ConnectionInfo *i = MHD_get_connection_info(
                conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

        return i ? i->socket_context : NULL;
}

/* A request ended (answered or not): the connection's next one starts
 * its own time. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        wk_admin_t *a = cls;
        conn_slot_t *c = slot_of(conn);

        (void)con_cls;
        (void)toe;
        if (!c)
                return;
        pthread_mutex_lock(&a->lock);
        c->busy = 0;
        c->since_ms = hb_time_mono_ms();
        pthread_mutex_unlock(&a->lock);
}

/* Closes every connection past its ADMIN_REQUEST_MAX_MS. */
static void *reaper_main(void *opaque)
{
        wk_admin_t *a = opaque;
        struct timespec until;

        pthread_mutex_lock(&a->lock);
        while (!a->stopping) {
                int64_t now = hb_time_mono_ms();
                for (size_t i = 0; i < ADMIN_SLOTS; i++) {
                        conn_slot_t *c = &a->slots[i];
                        if (c->used && !c->closing &&
                            now - c->since_ms >= ADMIN_REQUEST_MAX_MS)
                                slot_close(c);
                }
                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_nsec += ADMIN_REAP_EVERY * 1000000L;
                if (until.tv_nsec >= 1000000000L) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&a->wake, &a->lock, &until);
        }
        pthread_mutex_unlock(&a->lock);
        return NULL;
}

/* libmicrohttpd's own messages: the reason a start failed, later debug
 * lines (a client that misbehaves is not worth more). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
        wk_admin_t *a = cls;
        char line[200];
        size_t n;

        if (!atomic_load(&a->started)) {
                /* only the starting thread logs before the start ends */
                vsnprintf(a->start_err, sizeof(a->start_err), fmt, ap);
                n = strlen(a->start_err);
                while (n > 0 && (a->start_err[n - 1] == '\n' ||
                                 a->start_err[n - 1] == ' '))
                        a->start_err[--n] = '\0';
                return;
        }
        vsnprintf(line, sizeof(line), fmt, ap);
        n = strlen(line);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
                line[--n] = '\0';
        hb_log(HB_LOG_DEBUG, "admin: libmicrohttpd", "detail=\"%s\"", line);
}

/* Queue \p body (\p owned: malloc()ed, freed by libmicrohttpd). */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
                             const char *type, char *body, size_t len,
                             int owned)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(
                len, body,
                owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ret;

        if (!r) {
                if (owned)
                        free(body);
                return MHD_NO;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
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

/* "Authorization: Bearer TOKEN" (scheme case-insensitive, RFC 6750). */
static int authorized(const wk_admin_t *a, struct MHD_Connection *conn)
{
        unsigned char md[SHA256_DIGEST_LENGTH];
        const char *h;

        if (!a->has_token)
                return 1;
        h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                        MHD_HTTP_HEADER_AUTHORIZATION);
        if (!h || strncasecmp(h, "Bearer ", 7) != 0)
                return 0;
        for (h += 7; *h == ' '; h++)
                ;
        SHA256((const unsigned char *)h, strlen(h), md);
        return CRYPTO_memcmp(md, a->token_md, sizeof(md)) == 0;
}

/* \p addr (16 bytes, IPv4 as ::ffff:a.b.c.d) is loopback. */
static int addr_loopback(const unsigned char *addr)
{
        static const unsigned char one[16] = {[15] = 1};
        static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};

        return !memcmp(addr, one, 16) ||
               (!memcmp(addr, mapped, 12) && addr[12] == 127);
}

/* \p sa as 16 bytes, IPv4 mapped. @returns 0 or -1. */
static int addr_of(const struct sockaddr *sa, unsigned char *addr)
{
        memset(addr, 0, 16);
        if (sa->sa_family == AF_INET) {
                addr[10] = addr[11] = 0xff;
                memcpy(addr + 12, &((const struct sockaddr_in *)sa)->sin_addr,
                       4);
                return 0;
        }
        if (sa->sa_family == AF_INET6) {
                memcpy(addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
                return 0;
        }
        return -1;
}

/* A Host header: "name", "a.b.c.d" or "[v6]", then ":port" or nothing.
 * @returns 1 for "localhost" (\p addr untouched), 2 for an address (into
 *          \p addr, IPv4 mapped), 0 for anything else (another name). */
static int host_parse(const char *h, unsigned char *addr)
{
        char host[INET6_ADDRSTRLEN + 1];
        const char *end, *port;
        int v6 = h[0] == '[';
        size_t hl;

        if (v6) {
                end = strchr(h, ']');
                if (!end)
                        return 0;
                h++;
                port = end + 1;
        } else {
                end = strchr(h, ':');
                if (!end)
                        end = h + strlen(h);
                port = end;
        }
        if (*port == ':')
                port += 1 + strspn(port + 1, "0123456789");
        if (*port)
                return 0;
        hl = (size_t)(end - h);
        if (hl == 0 || hl >= sizeof(host))
                return 0;
        memcpy(host, h, hl);
        host[hl] = '\0';
        if (v6)
                return inet_pton(AF_INET6, host, addr) == 1 ? 2 : 0;
        if (!strcasecmp(host, "localhost") || !strcasecmp(host, "localhost."))
                return 1;
        memset(addr, 0, 16);
        addr[10] = addr[11] = 0xff;
        return inet_pton(AF_INET, host, addr + 12) == 1 ? 2 : 0;
}

/* Without a token, a request must say it is meant for this listener: its
 * Host names loopback (localhost, 127.0.0.0/8, [::1]), the address
 * listened on, or the address the connection came in on (a wildcard
 * listener). A page that a browser on this host loaded from elsewhere and
 * whose name was rebound to 127.0.0.1 sends its own name, and is refused.
 * A request without Host (HTTP/1.0; libmicrohttpd refuses an HTTP/1.1
 * one) does not come from a browser. */
static int host_allowed(const wk_admin_t *a, struct MHD_Connection *conn)
{
        const union MHD_ConnectionInfo *fd;
        struct sockaddr_storage local;
        socklen_t len = sizeof(local);
        unsigned char addr[16], here[16];
        const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_HOST);
        int kind;

        if (!h)
                return 1;
        kind = host_parse(h, addr);
        if (kind != 2)
                return kind == 1;
        if (addr_loopback(addr))
                return 1;
        if (a->has_listen_addr && !memcmp(addr, a->listen_addr, 16))
                return 1;
        fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        return fd &&
               !getsockname(fd->connect_fd, (struct sockaddr *)&local, &len) &&
               !addr_of((struct sockaddr *)&local, here) &&
               !memcmp(addr, here, 16);
}

/* A response is about to be queued: the connection is not closed to make
 * room while it is sent (its time still runs). */
static void mark_busy(wk_admin_t *a, struct MHD_Connection *conn)
{
        conn_slot_t *c = slot_of(conn);

        if (!c)
                return;
        pthread_mutex_lock(&a->lock);
        c->busy = 1;
        pthread_mutex_unlock(&a->lock);
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
        mark_busy(a, conn);
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
        if (!a->has_token && !host_allowed(a, conn))
                return text(conn, MHD_HTTP_MISDIRECTED_REQUEST,
                            "misdirected request: the Host header does not "
                            "name this listener; without admin.token only "
                            "localhost, 127.0.0.1, [::1] or the listener's "
                            "own address are answered\n");
        if (!authorized(a, conn))
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
        wk_admin_t *a = NULL;
        struct sockaddr_storage ss;
        const union MHD_DaemonInfo *info;
        unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD |
                         MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
        char why[128];
        int v6;

        if (cfg_listen_parse(listen, &ss, why, sizeof(why)) == -1) {
                snprintf(errstr, errstr_size,
                         "admin.listen: '%.64s' is not an address:port "
                         "(%s; e.g. 127.0.0.1:9464, 0.0.0.0:9464 or "
                         "[::1]:9464)",
                         listen ? listen : "(null)", why);
                return NULL;
        }
        v6 = ss.ss_family == AF_INET6;
        a = calloc(1, sizeof(*a));
        if (!a) {
                snprintf(errstr, errstr_size, "admin: out of memory");
                return NULL;
        }
        a->metrics = metrics;
        if (probe)
                a->probe = *probe;
        if (token && *token) {
                SHA256((const unsigned char *)token, strlen(token),
                       a->token_md);
                a->has_token = 1;
        }
        if (!addr_of((struct sockaddr *)&ss, a->listen_addr)) {
                static const unsigned char any4[16] = {
                        [10] = 0xff, [11] = 0xff};
                static const unsigned char any6[16] = {0};
                a->has_listen_addr = memcmp(a->listen_addr, any4, 16) &&
                                     memcmp(a->listen_addr, any6, 16);
        }
        atomic_init(&a->started, 0);
        pthread_mutex_init(&a->lock, NULL);
        {
                pthread_condattr_t ca;
                pthread_condattr_init(&ca);
                pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
                pthread_cond_init(&a->wake, &ca);
                pthread_condattr_destroy(&ca);
        }
        if (v6)
                flags |= MHD_USE_IPv6;
        /* the port argument only names the port in libmicrohttpd's
         * messages: the address given wins */
        a->mhd = MHD_start_daemon(
                flags,
                v6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                   : ntohs(((struct sockaddr_in *)&ss)->sin_port),
                on_accept, a, on_request, a, MHD_OPTION_SOCK_ADDR,
                (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
                ADMIN_SLOTS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                ADMIN_PER_ADDR_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
                ADMIN_IDLE_TIMEOUT_S, MHD_OPTION_NOTIFY_CONNECTION,
                on_connection, a, MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
                MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, a, MHD_OPTION_END);
        if (!a->mhd) {
                snprintf(errstr, errstr_size,
                         "admin.listen: cannot listen on %.64s: %s", listen,
                         a->start_err[0] ? a->start_err
                                         : "libmicrohttpd failed to start");
                goto err;
        }
        atomic_store(&a->started, 1);
        if (pthread_create(&a->reaper, NULL, reaper_main, a) != 0) {
                snprintf(errstr, errstr_size,
                         "admin.listen: cannot start a thread");
                goto err;
        }
        a->reaper_started = 1;
        info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_BIND_PORT);
        a->port = info ? info->port : 0;
        if (!a->port) {
                snprintf(errstr, errstr_size,
                         "admin.listen: cannot tell which port %.64s got",
                         listen);
                goto err;
        }
        return a;
err:
        wk_admin_stop(a);
        return NULL;
}

uint16_t wk_admin_port(const wk_admin_t *a)
{
        return a ? a->port : 0;
}

void wk_admin_stop(wk_admin_t *a)
{
        if (!a)
                return;
        if (a->reaper_started) {
                pthread_mutex_lock(&a->lock);
                a->stopping = 1;
                pthread_cond_signal(&a->wake);
                pthread_mutex_unlock(&a->lock);
                pthread_join(a->reaper, NULL);
        }
        if (a->mhd)
                MHD_stop_daemon(a->mhd);
        pthread_cond_destroy(&a->wake);
        pthread_mutex_destroy(&a->lock);
        OPENSSL_cleanse(a->token_md, sizeof(a->token_md));
        free(a);
}
