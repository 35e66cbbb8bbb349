/* wk_listen: the listener the admin endpoints and the management API
 * share (see the header): bind, connection guard, bearer tokens, Host
 * check. */
#include "wk_listen.h"

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

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "cfg.h"
#include "hb_log.h"
#include "hb_time.h"

/* Scrapers, probes and the product's backend, not the public. A client that
 * opens connections and dribbles bytes must not take /healthz down (a liveness
 * probe that fails gets the pod restarted), so:
 * - one client address (IPv6: one /64) holds at most LISTEN_PER_ADDR_LIMIT
 *   connections (or the conf's per_addr_limit); more are refused at once;
 * - at LISTEN_CONN_LIMIT connections, a new one closes, of the address
 *   holding the most connections, the one that has waited longest without
 *   a response being sent (so a probe from another address gets in, and
 *   is not the one closed by the next comers, however fast they come);
 * - a connection gets LISTEN_REQUEST_MAX_MS for one request, from its
 *   opening or the end of its previous request to the end of the
 *   response, whatever it sends meanwhile (the idle timeout alone
 *   restarts with every byte). */
#define LISTEN_CONN_LIMIT     64u
#define LISTEN_PER_ADDR_LIMIT 8u
#define LISTEN_REQUEST_MAX_MS 10000 /* unless the conf says */
#define LISTEN_IDLE_TIMEOUT_S 10u
/* closings libmicrohttpd has not yet seen, on top of the limit */
#define LISTEN_SLOTS      (LISTEN_CONN_LIMIT + 64u)
#define LISTEN_REAP_EVERY 250 /* ms */
#define WHO_LEN           9   /* family byte + IPv4 address or IPv6 /64 */

/* One open connection, as the guard sees it. */
typedef struct conn_slot_s {
        int used;
        int closing; /* shut down by the guard, not yet closed */
        int busy;    /* a response is queued and being sent */
        int fd;
        int64_t since_ms; /* opened, or its last request completed */
        unsigned char who[WHO_LEN];
} conn_slot_t;

struct wk_listen_s {
        struct MHD_Daemon *mhd;
        wk_listen_conf_t conf; /* what, listen and tokens not kept */
        unsigned per_addr;     /* connections one address may hold */
        /* only the tokens' digests are kept: compared in constant time,
         * whatever the length of what a client sends */
        unsigned char (*token_md)[SHA256_DIGEST_LENGTH];
        size_t token_count;
        int request_max_ms;
        uint16_t port;
        /* the address listened on (16 bytes, IPv4 mapped), unless a
         * wildcard: what a Host may name besides loopback */
        int has_listen_addr;
        unsigned char listen_addr[16];
        atomic_int started;
        char start_err[160]; /* libmicrohttpd's reason, while starting */
        /* the connection guard (libmicrohttpd's threads and the reaper) */
        pthread_mutex_t lock;
        pthread_cond_t wake;
        pthread_t reaper;
        int reaper_started;
        int stopping;
        conn_slot_t slots[LISTEN_SLOTS];
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
 * closed, so the fd is still this connection's). Under l->lock. */
static void slot_close(conn_slot_t *c)
{
        shutdown(c->fd, SHUT_RDWR);
        c->closing = 1;
}

/* The connection to close for a newcomer from \p who: of the address
 * with the most live connections (the newcomer counted), the one waiting
 * longest without a response; NULL when every one is answering. Under
 * l->lock. */
static conn_slot_t *pick_victim(wk_listen_t *l, const unsigned char *who)
{
        conn_slot_t *victim = NULL;
        unsigned most = 0;

        for (size_t i = 0; i < LISTEN_SLOTS; i++) {
                conn_slot_t *c = &l->slots[i];
                unsigned n = !memcmp(c->who, who, WHO_LEN);
                if (!c->used || c->closing || c->busy)
                        continue;
                for (size_t j = 0; j < LISTEN_SLOTS; j++) {
                        const conn_slot_t *d = &l->slots[j];
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
        wk_listen_t *l = cls;
        unsigned char who[WHO_LEN];
        unsigned same = 0, live = 0, used = 0;

        (void)addrlen;
        client_key(addr, who);
        pthread_mutex_lock(&l->lock);
        for (size_t i = 0; i < LISTEN_SLOTS; i++) {
                conn_slot_t *c = &l->slots[i];
                if (!c->used)
                        continue;
                used++;
                same += !memcmp(c->who, who, WHO_LEN);
                live += !c->closing;
        }
        if (same >= l->per_addr || used >= LISTEN_SLOTS) {
                pthread_mutex_unlock(&l->lock);
                return MHD_NO;
        }
        if (live >= LISTEN_CONN_LIMIT) {
                conn_slot_t *victim = pick_victim(l, who);
                if (!victim) {
                        pthread_mutex_unlock(&l->lock);
                        return MHD_NO; /* all are answering: not for long */
                }
                slot_close(victim);
        }
        pthread_mutex_unlock(&l->lock);
        return MHD_YES;
}

static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
        wk_listen_t *l = cls;
        const union MHD_ConnectionInfo *fd, *addr;
        conn_slot_t *c = *socket_context;

        if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
                if (c) {
                        pthread_mutex_lock(&l->lock);
                        c->used = 0;
                        pthread_mutex_unlock(&l->lock);
                }
                return;
        }
        fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        addr = MHD_get_connection_info(conn,
                                       MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (!fd)
                return;
        pthread_mutex_lock(&l->lock);
        for (size_t i = 0; i < LISTEN_SLOTS && !c; i++)
                if (!l->slots[i].used)
                        c = &l->slots[i];
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
        pthread_mutex_unlock(&l->lock);
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
        wk_listen_t *l = cls;
        conn_slot_t *c = slot_of(conn);

        (void)toe;
        if (c) {
                pthread_mutex_lock(&l->lock);
                c->busy = 0;
                c->since_ms = hb_time_mono_ms();
                pthread_mutex_unlock(&l->lock);
        }
        if (l->conf.completed)
                l->conf.completed(l->conf.opaque, con_cls);
}

/* Closes every connection past its LISTEN_REQUEST_MAX_MS. */
static void *reaper_main(void *opaque)
{
        wk_listen_t *l = opaque;
        struct timespec until;

        pthread_mutex_lock(&l->lock);
        while (!l->stopping) {
                int64_t now = hb_time_mono_ms();
                for (size_t i = 0; i < LISTEN_SLOTS; i++) {
                        conn_slot_t *c = &l->slots[i];
                        if (c->used && !c->closing &&
                            now - c->since_ms >= l->request_max_ms)
                                slot_close(c);
                }
                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_nsec += LISTEN_REAP_EVERY * 1000000L;
                if (until.tv_nsec >= 1000000000L) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&l->wake, &l->lock, &until);
        }
        pthread_mutex_unlock(&l->lock);
        return NULL;
}

/* libmicrohttpd's own messages: the reason a start failed, later debug
 * lines (a client that misbehaves is not worth more). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
        wk_listen_t *l = cls;
        char line[200];
        size_t n;

        if (!atomic_load(&l->started)) {
                /* only the starting thread logs before the start ends */
                vsnprintf(l->start_err, sizeof(l->start_err), fmt, ap);
                n = strlen(l->start_err);
                while (n > 0 && (l->start_err[n - 1] == '\n' ||
                                 l->start_err[n - 1] == ' '))
                        l->start_err[--n] = '\0';
                return;
        }
        vsnprintf(line, sizeof(line), fmt, ap);
        n = strlen(line);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
                line[--n] = '\0';
        hb_log(HB_LOG_DEBUG, "listener: libmicrohttpd", "detail=\"%s\"", line);
}

const char *wk_listen_bearer(struct MHD_Connection *conn)
{
        const char *h = MHD_lookup_connection_value(
                conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

        if (!h || strncasecmp(h, "Bearer ", 7) != 0)
                return NULL;
        for (h += 7; *h == ' '; h++)
                ;
        return h;
}

int wk_listen_token_ok(const wk_listen_t *l, const char *token)
{
        unsigned char md[SHA256_DIGEST_LENGTH];
        int ok = 0;

        if (!token)
                return 0;
        SHA256((const unsigned char *)token, strlen(token), md);
        /* every one compared: which token matched takes no other time */
        for (size_t i = 0; i < l->token_count; i++)
                ok |= CRYPTO_memcmp(md, l->token_md[i], sizeof(md)) == 0;
        OPENSSL_cleanse(md, sizeof(md));
        return ok;
}

int wk_listen_has_token(const wk_listen_t *l)
{
        return l->token_count > 0;
}

int wk_listen_authorized(const wk_listen_t *l, struct MHD_Connection *conn)
{
        if (!l->token_count)
                return 1;
        return wk_listen_token_ok(l, wk_listen_bearer(conn));
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

int wk_listen_host_allowed(const wk_listen_t *l, struct MHD_Connection *conn)
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
        if (l->has_listen_addr && !memcmp(addr, l->listen_addr, 16))
                return 1;
        fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        return fd &&
               !getsockname(fd->connect_fd, (struct sockaddr *)&local, &len) &&
               !addr_of((struct sockaddr *)&local, here) &&
               !memcmp(addr, here, 16);
}

void wk_listen_busy(wk_listen_t *l, struct MHD_Connection *conn)
{
        conn_slot_t *c = slot_of(conn);

        if (!c)
                return;
        pthread_mutex_lock(&l->lock);
        c->busy = 1;
        pthread_mutex_unlock(&l->lock);
}

struct MHD_Response *wk_listen_response(const char *type, char *body,
                                        size_t len, int owned)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(
                len, body,
                owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);

        if (!r) {
                if (owned)
                        free(body);
                return NULL;
        }
        if (type)
                MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        return r;
}

wk_listen_t *wk_listen_start(const wk_listen_conf_t *conf, char *errstr,
                             size_t errstr_size)
{
        const char *what = conf->what ? conf->what : "listen";
        wk_listen_t *l = NULL;
        struct sockaddr_storage ss;
        const union MHD_DaemonInfo *info;
        unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD |
                         MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
        unsigned threads = conf->threads > 1 ? conf->threads : 0;
        char why[128];
        int v6;

        if (cfg_listen_parse(conf->listen, &ss, why, sizeof(why)) == -1) {
                snprintf(errstr, errstr_size,
                         "%s: '%.64s' is not an address:port "
                         "(%s; e.g. 127.0.0.1:9464, 0.0.0.0:9464 or "
                         "[::1]:9464)",
                         what, conf->listen ? conf->listen : "(null)", why);
                return NULL;
        }
        v6 = ss.ss_family == AF_INET6;
        l = calloc(1, sizeof(*l));
        if (l && conf->token_count)
                l->token_md = calloc(conf->token_count, sizeof(*l->token_md));
        if (!l || (conf->token_count && !l->token_md)) {
                free(l);
                snprintf(errstr, errstr_size, "%s: out of memory", what);
                return NULL;
        }
        l->conf = *conf;
        l->conf.what = l->conf.listen = NULL;
        l->conf.tokens = NULL;
        l->per_addr = conf->per_addr_limit == 0 ? LISTEN_PER_ADDR_LIMIT
                      : conf->per_addr_limit > LISTEN_CONN_LIMIT
                              ? LISTEN_CONN_LIMIT
                              : conf->per_addr_limit;
        l->request_max_ms = conf->request_max_ms > 0 ? conf->request_max_ms
                                                     : LISTEN_REQUEST_MAX_MS;
        for (size_t i = 0; i < conf->token_count; i++) {
                if (!conf->tokens[i] || !*conf->tokens[i])
                        continue;
                SHA256((const unsigned char *)conf->tokens[i],
                       strlen(conf->tokens[i]), l->token_md[l->token_count++]);
        }
        if (!addr_of((struct sockaddr *)&ss, l->listen_addr)) {
                static const unsigned char any4[16] = {
                        [10] = 0xff, [11] = 0xff};
                static const unsigned char any6[16] = {0};
                l->has_listen_addr = memcmp(l->listen_addr, any4, 16) &&
                                     memcmp(l->listen_addr, any6, 16);
        }
        atomic_init(&l->started, 0);
        pthread_mutex_init(&l->lock, NULL);
        {
                pthread_condattr_t ca;
                pthread_condattr_init(&ca);
                pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
                pthread_cond_init(&l->wake, &ca);
                pthread_condattr_destroy(&ca);
        }
        if (v6)
                flags |= MHD_USE_IPv6;
        if (conf->self)
                *conf->self = l; /* before any request can read it */
        /* the port argument only names the port in libmicrohttpd's
         * messages: the address given wins */
        l->mhd = MHD_start_daemon(
                flags,
                v6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                   : ntohs(((struct sockaddr_in *)&ss)->sin_port),
                on_accept, l, conf->handler, conf->opaque, MHD_OPTION_SOCK_ADDR,
                (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
                LISTEN_SLOTS, MHD_OPTION_PER_IP_CONNECTION_LIMIT, l->per_addr,
                MHD_OPTION_CONNECTION_TIMEOUT, LISTEN_IDLE_TIMEOUT_S,
                MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
                MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
                MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, l,
                MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_END);
        if (!l->mhd) {
                snprintf(errstr, errstr_size, "%s: cannot listen on %.64s: %s",
                         what, conf->listen,
                         l->start_err[0] ? l->start_err
                                         : "libmicrohttpd failed to start");
                goto err;
        }
        atomic_store(&l->started, 1);
        if (pthread_create(&l->reaper, NULL, reaper_main, l) != 0) {
                snprintf(errstr, errstr_size, "%s: cannot start a thread",
                         what);
                goto err;
        }
        l->reaper_started = 1;
        info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_BIND_PORT);
        l->port = info ? info->port : 0;
        if (!l->port) {
                snprintf(errstr, errstr_size,
                         "%s: cannot tell which port %.64s got", what,
                         conf->listen);
                goto err;
        }
        return l;
err:
        wk_listen_stop(l); /* its threads are gone: no request reads self */
        if (conf->self)
                *conf->self = NULL;
        return NULL;
}

uint16_t wk_listen_port(const wk_listen_t *l)
{
        return l ? l->port : 0;
}

void wk_listen_stop(wk_listen_t *l)
{
        if (!l)
                return;
        if (l->reaper_started) {
                pthread_mutex_lock(&l->lock);
                l->stopping = 1;
                pthread_cond_signal(&l->wake);
                pthread_mutex_unlock(&l->lock);
                pthread_join(l->reaper, NULL);
        }
        if (l->mhd)
                MHD_stop_daemon(l->mhd);
        pthread_cond_destroy(&l->wake);
        pthread_mutex_destroy(&l->lock);
        if (l->token_md) {
                OPENSSL_cleanse(l->token_md,
                                l->token_count * sizeof(*l->token_md));
                free(l->token_md);
        }
        free(l);
}
