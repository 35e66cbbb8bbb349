/* rx_receiver: a loopback webhook subscriber (libmicrohttpd) that records
 * every request, verifies and counts signatures and injects faults. */
#include "rx_receiver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "hb_log.h"
#include "hb_time.h"
#include "rx_script.h"
#include "wh_sign.h"

#define RX_BODY_MAX       (8u * 1024 * 1024) /* larger: 413 */
#define RX_THREADS        2
#define RX_CONN_LIMIT     1024
#define RX_CONN_TIMEOUT_S 120 /* idle keep-alive connections */
#define RX_CONTROL_PREFIX "/_control/"

typedef struct rx_secret_s {
        struct rx_secret_s *next;
        char *path;
        wh_key_t *key;
        int userpilot;
} rx_secret_t;

/* A suspended connection waiting for its delay to pass. */
typedef struct rx_delay_s {
        struct rx_delay_s *next;
        struct MHD_Connection *conn;
        int64_t due_ms; /* CLOCK_MONOTONIC */
} rx_delay_t;

/* Per-request state, MHD's *con_cls; freed by on_completed(). */
typedef struct rx_req_s {
        char *body;
        size_t len;
        size_t cap;
        int too_large;
        int delayed;   /* suspended; answer when resumed */
        int in_flight; /* counted in rx->in_flight until answered */
        rx_step_t step;
        char *text, *location; /* step.text, step.location: ours */
} rx_req_t;

struct rx_s {
        struct MHD_Daemon *mhd;
        uint16_t port;
        int control;
        rx_cb_t *cb;
        void *opaque;
        rx_step_cb_t *step_cb;
        void *step_opaque;
        union {
                struct sockaddr sa;
                struct sockaddr_in in4;
                struct sockaddr_in6 in6;
        } addr;

        /* Record file, sequence numbers and the callback: one at a time,
         * so lines and callbacks come in seq order. */
        pthread_mutex_t rec_lock;
        FILE *rec;
        uint64_t seq;
        atomic_uint_least64_t count;
        atomic_uint_least64_t connections;
        atomic_uint_least64_t verified, unverified;
        atomic_int in_flight, max_in_flight;

        pthread_mutex_t conf_lock; /* scripts and secrets */
        rx_script_t *scripts;
        rx_secret_t *secrets;

        /* Delays: the timer thread resumes suspended connections when
         * they are due. Suspending rather than sleeping keeps the two
         * pool threads free for every other connection. */
        pthread_mutex_t delay_lock;
        pthread_cond_t delay_cond;
        rx_delay_t *delays; /* sorted by due_ms */
        int stopping;
        pthread_t timer;

        atomic_int started;  /* MHD log lines go to start_err until then */
        char start_err[256]; /* libmicrohttpd's last word while starting */
};

static void set_err(char *errstr, size_t errstr_size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void set_err(char *errstr, size_t errstr_size, const char *fmt, ...)
{
        va_list ap;

        if (!errstr || errstr_size == 0)
                return;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
}

/*
 * Scripts (rx_script.c)
 */

static int is_blank(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int rx_set_steps(rx_t *rx, const char *path, const rx_step_t *steps, size_t n)
{
        int rc;

        if (!rx || !path)
                return -1;
        pthread_mutex_lock(&rx->conf_lock);
        rc = rx_script_set(&rx->scripts, path, steps, n);
        pthread_mutex_unlock(&rx->conf_lock);
        return rc;
}

int rx_set_script(rx_t *rx, const char *path, const char *script)
{
        size_t n = 0;
        rx_step_t *steps;
        int rc;

        if (!rx || !path)
                return -1;
        steps = rx_script_parse(script, &n);
        if (!steps)
                return -1;
        rc = rx_set_steps(rx, path, steps, n);
        free(steps);
        return rc;
}

/*
 * Secrets
 */

static void secret_free(rx_secret_t *s)
{
        if (!s)
                return;
        free(s->path);
        wh_key_destroy(s->key);
        free(s);
}

int rx_set_secret(rx_t *rx, const char *path, const char *secret, int userpilot)
{
        rx_secret_t *s = NULL, **pp;
        char err[128];

        if (!rx || !path)
                return -1;
        if (secret && *secret) {
                s = calloc(1, sizeof(*s));
                if (!s)
                        return -1;
                s->path = strdup(path);
                s->key = wh_key_new(secret, err, sizeof(err));
                s->userpilot = userpilot;
                if (!s->path || !s->key) {
                        secret_free(s);
                        return -1;
                }
        }

        pthread_mutex_lock(&rx->conf_lock);
        for (pp = &rx->secrets; *pp; pp = &(*pp)->next)
                if (!strcmp((*pp)->path, path))
                        break;
        if (*pp) {
                rx_secret_t *old = *pp;

                *pp = old->next;
                secret_free(old);
        }
        if (s) {
                s->next = rx->secrets;
                rx->secrets = s;
        }
        pthread_mutex_unlock(&rx->conf_lock);
        return 0;
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
        const char *v =
                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
        return v ? v : "";
}

const char *rx_request_header(const rx_request_t *req, const char *name)
{
        if (!req || !req->conn_ || !name)
                return NULL;
        return MHD_lookup_connection_value(req->conn_, MHD_HEADER_KIND, name);
}

/*
 * Verify the request's signature against the secret for \p path;
 * conf_lock held. Sets *sig to the signature header it looked at.
 */
static int verify(rx_t *rx, struct MHD_Connection *conn, const char *path,
                  const rx_req_t *rq, const char **sig)
{
        const char *std = header(conn, "webhook-signature");
        const char *up = header(conn, "X-Signature");
        rx_secret_t *s, *any = NULL;
        const char *body = rq->body ? rq->body : "";

        for (s = rx->secrets; s; s = s->next) {
                if (!strcmp(s->path, path))
                        break;
                if (!strcmp(s->path, "*"))
                        any = s;
        }
        if (!s)
                s = any;
        if (!s) {
                *sig = *std ? std : up;
                return -1;
        }
        if (s->userpilot) {
                *sig = up;
                return *up ? wh_verify_userpilot(s->key, body, rq->len, up) : 0;
        }
        *sig = std;
        if (!*std)
                return 0;
        return wh_verify_standard(s->key, header(conn, "webhook-id"),
                                  header(conn, "webhook-timestamp"), body,
                                  rq->len, std);
}

/*
 * Recording
 */

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind,
                                  const char *key, const char *value)
{
        json_object *hdrs = cls, *old;

        (void)kind;
        if (!key)
                return MHD_YES;
        if (!value)
                value = "";
        /* A repeated header: join the values as one list, as RFC 9110
         * allows for most fields. */
        if (json_object_object_get_ex(hdrs, key, &old)) {
                const char *prev = json_object_get_string(old);
                size_t len = strlen(prev) + 2 + strlen(value) + 1;
                char *joined = malloc(len);

                if (joined) {
                        snprintf(joined, len, "%s, %s", prev, value);
                        json_object_object_add(hdrs, key,
                                               json_object_new_string(joined));
                        free(joined);
                }
                return MHD_YES;
        }
        json_object_object_add(hdrs, key, json_object_new_string(value));
        return MHD_YES;
}

/* Record one request and hand it to the callback, under rec_lock. */
static void record(rx_t *rx, struct MHD_Connection *conn, const char *path,
                   const rx_req_t *rq, int status, int verified,
                   const char *sig)
{
        const int flags =
                JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
        json_object *hdrs = json_object_new_object(), *line = NULL;
        const char *body = rq->body ? rq->body : "";
        rx_request_t req = {0};
        int64_t received = hb_time_now_ms();

        if (!hdrs)
                return;
        MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header, hdrs);

        req.path = path;
        req.webhook_id = header(conn, "webhook-id");
        req.webhook_ts = header(conn, "webhook-timestamp");
        req.signature = sig;
        req.verified = verified;
        req.body = body;
        req.body_len = rq->len;
        req.headers_json = json_object_to_json_string_ext(hdrs, flags);
        req.status = status;
        req.conn_ = conn;

        pthread_mutex_lock(&rx->rec_lock);
        req.seq = ++rx->seq;
        atomic_store(&rx->count, req.seq);
        if (rx->rec)
                line = json_object_new_object();
        if (line) {
                size_t len;
                const char *text;

                json_object_object_add(line, "seq",
                                       json_object_new_uint64(req.seq));
                json_object_object_add(line, "path",
                                       json_object_new_string(path));
                json_object_object_add(line, "webhook_id",
                                       json_object_new_string(req.webhook_id));
                json_object_object_add(line, "webhook_timestamp",
                                       json_object_new_string(req.webhook_ts));
                json_object_object_add(line, "signature",
                                       json_object_new_string(sig));
                json_object_object_add(
                        line, "verified",
                        verified < 0 ? NULL
                                     : json_object_new_boolean(verified));
                json_object_object_add(line, "status",
                                       json_object_new_int(status));
                json_object_object_add(line, "headers", json_object_get(hdrs));
                json_object_object_add(
                        line, "body",
                        json_object_new_string_len(body, (int)rq->len));
                json_object_object_add(line, "received_ms",
                                       json_object_new_int64(received));
                text = json_object_to_json_string_length(line, flags, &len);
                if (text) {
                        fwrite(text, 1, len, rx->rec);
                        fputc('\n', rx->rec);
                        fflush(rx->rec);
                }
        }
        if (rx->cb)
                rx->cb(&req, rx->opaque);
        pthread_mutex_unlock(&rx->rec_lock);

        json_object_put(line);
        json_object_put(hdrs);
}

/*
 * HTTP
 */

/* Queue \p r (NULL: out of memory) with \p status and the headers. */
static enum MHD_Result send_response(struct MHD_Connection *conn, int status,
                                     struct MHD_Response *r, int text,
                                     const char *retry_after,
                                     const char *location)
{
        enum MHD_Result ret;

        if (!r)
                return MHD_NO;
        if (text)
                MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                        "text/plain");
        if (retry_after)
                MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER,
                                        retry_after);
        if (location)
                MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
        ret = MHD_queue_response(conn, (unsigned)status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, int status,
                                 const char *text, const char *retry_after,
                                 const char *location)
{
        /* No body is allowed with these. */
        if (status == 204 || status == 304)
                text = "";
        return send_response(
                conn, status,
                MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                MHD_RESPMEM_MUST_COPY),
                *text != '\0', retry_after, location);
}

/* The request is answered (or dropped): no longer in flight. */
static void answered(rx_t *rx, rx_req_t *rq)
{
        if (rq->in_flight) {
                rq->in_flight = 0;
                atomic_fetch_sub(&rx->in_flight, 1);
        }
}

/* Answer as the request's step says. */
static enum MHD_Result answer(rx_t *rx, struct MHD_Connection *conn,
                              rx_req_t *rq)
{
        const rx_step_t *st = &rq->step;
        struct MHD_Response *r;
        char ra[64];
        char *out;

        answered(rx, rq);
        if (st->status == 0)
                return MHD_NO; /* drop: MHD closes without an answer */
        if (st->ra == RX_RA_DATE) {
                time_t t = time(NULL) + st->ra_s;
                struct tm tm;

                gmtime_r(&t, &tm);
                strftime(ra, sizeof(ra), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        } else if (st->ra == RX_RA_SECONDS) {
                snprintf(ra, sizeof(ra), "%d", st->ra_s);
        }
        if (st->body_len == 0 || st->status == 204 || st->status == 304)
                return send_text(conn, st->status,
                                 rq->text            ? rq->text
                                 : st->status == 413 ? "body too large\n"
                                 : st->status < 300  ? "ok\n"
                                                     : "injected fault\n",
                                 st->ra != RX_RA_NONE ? ra : NULL,
                                 rq->location);
        out = malloc(st->body_len);
        if (!out)
                return MHD_NO;
        for (size_t i = 0; i < st->body_len; i++)
                out[i] = (char)('a' + i % 26);
        r = MHD_create_response_from_buffer(st->body_len, out,
                                            MHD_RESPMEM_MUST_FREE);
        if (!r)
                free(out);
        return send_response(conn, st->status, r, 1,
                             st->ra != RX_RA_NONE ? ra : NULL, rq->location);
}

/* Suspend \p conn for \p ms; 0 when the receiver is stopping. */
static int schedule(rx_t *rx, struct MHD_Connection *conn, int ms)
{
        rx_delay_t *d = malloc(sizeof(*d)), **pp;

        if (!d)
                return 0;
        d->conn = conn;
        d->due_ms = hb_time_mono_ms() + ms;

        pthread_mutex_lock(&rx->delay_lock);
        if (rx->stopping) {
                pthread_mutex_unlock(&rx->delay_lock);
                free(d);
                return 0;
        }
        /* Suspend before the timer can see it: resume must follow. */
        MHD_suspend_connection(conn);
        for (pp = &rx->delays; *pp && (*pp)->due_ms <= d->due_ms;
             pp = &(*pp)->next)
                ;
        d->next = *pp;
        *pp = d;
        pthread_cond_signal(&rx->delay_cond);
        pthread_mutex_unlock(&rx->delay_lock);
        return 1;
}

static void *timer_main(void *arg)
{
        rx_t *rx = arg;

        pthread_mutex_lock(&rx->delay_lock);
        for (;;) {
                rx_delay_t *d = rx->delays;

                if (d && (rx->stopping || d->due_ms <= hb_time_mono_ms())) {
                        rx->delays = d->next;
                        /* Not under delay_lock: schedule() takes MHD's
                         * lock inside ours. */
                        pthread_mutex_unlock(&rx->delay_lock);
                        MHD_resume_connection(d->conn);
                        free(d);
                        pthread_mutex_lock(&rx->delay_lock);
                        continue;
                }
                if (rx->stopping)
                        break;
                if (!d) {
                        pthread_cond_wait(&rx->delay_cond, &rx->delay_lock);
                } else {
                        struct timespec ts = {
                                .tv_sec = (time_t)(d->due_ms / 1000),
                                .tv_nsec = (long)(d->due_ms % 1000) * 1000000};

                        pthread_cond_timedwait(&rx->delay_cond, &rx->delay_lock,
                                               &ts);
                }
        }
        pthread_mutex_unlock(&rx->delay_lock);
        return NULL;
}

static enum MHD_Result control(rx_t *rx, struct MHD_Connection *conn,
                               const char *url, const char *method,
                               const rx_req_t *rq)
{
        const char *what = url + strlen(RX_CONTROL_PREFIX);
        const char *path = MHD_lookup_connection_value(
                conn, MHD_GET_ARGUMENT_KIND, "path");
        const char *scheme = MHD_lookup_connection_value(
                conn, MHD_GET_ARGUMENT_KIND, "scheme");
        int put = !strcmp(method, "PUT") || !strcmp(method, "POST");
        char text[64];

        if (!strcmp(what, "count") && !strcmp(method, "GET")) {
                snprintf(text, sizeof(text), "%" PRIu64 "\n",
                         (uint64_t)atomic_load(&rx->count));
                return send_text(conn, 200, text, NULL, NULL);
        }
        if (!put || (strcmp(what, "script") && strcmp(what, "secret")))
                return send_text(conn, 404, "unknown control request\n", NULL,
                                 NULL);
        if (!path || !*path)
                return send_text(conn, 400, "missing ?path=\n", NULL, NULL);
        if (rq->too_large)
                return send_text(conn, 413, "body too large\n", NULL, NULL);
        if (!strcmp(what, "script")) {
                if (rx_set_script(rx, path, rq->body) == -1)
                        return send_text(conn, 400, "bad script\n", NULL, NULL);
        } else {
                char *secret = rq->body ? rq->body : (char *)"";
                size_t n = rq->len;

                /* "echo secret | curl --data-binary @-" adds a newline */
                while (n > 0 && is_blank(secret[n - 1]))
                        secret[--n] = '\0';
                if (rx_set_secret(rx, path, secret,
                                  scheme && !strcmp(scheme, "userpilot")) == -1)
                        return send_text(conn, 400, "bad secret\n", NULL, NULL);
        }
        return send_text(conn, 200, "ok\n", NULL, NULL);
}

/* Keep the body, NUL-terminated; past RX_BODY_MAX only note it. */
static void body_append(rx_req_t *rq, const char *data, size_t n)
{
        if (rq->too_large)
                return;
        if (n > RX_BODY_MAX - rq->len) {
                rq->too_large = 1;
                free(rq->body);
                rq->body = NULL;
                rq->len = rq->cap = 0;
                return;
        }
        if (rq->len + n + 1 > rq->cap) {
                size_t cap = rq->cap ? rq->cap : 4096;
                char *p;

                while (cap < rq->len + n + 1)
                        cap *= 2;
                p = realloc(rq->body, cap);
                if (!p) {
                        rq->too_large = 1; /* answered 413 all the same */
                        return;
                }
                rq->body = p;
                rq->cap = cap;
        }
        memcpy(rq->body + rq->len, data, n);
        rq->len += n;
        rq->body[rq->len] = '\0';
}

static void count_in_flight(rx_t *rx, rx_req_t *rq)
{
        int n = atomic_fetch_add(&rx->in_flight, 1) + 1;
        int max = atomic_load(&rx->max_in_flight);

        rq->in_flight = 1;
        while (n > max &&
               !atomic_compare_exchange_weak(&rx->max_in_flight, &max, n))
                ;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
        rx_t *rx = cls;
        rx_req_t *rq = *con_cls;
        const char *sig = "";
        int verified, stepped = 1;

        (void)version;
        if (!rq) {
                rq = calloc(1, sizeof(*rq));
                if (!rq)
                        return MHD_NO;
                *con_cls = rq;
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                body_append(rq, upload_data, *upload_data_size);
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (rq->delayed) /* resumed by the timer */
                return answer(rx, conn, rq);
        if (rx->control &&
            !strncmp(url, RX_CONTROL_PREFIX, strlen(RX_CONTROL_PREFIX)))
                return control(rx, conn, url, method, rq);

        rq->step = (rx_step_t){.count = 1};
        if (rq->too_large) /* not a script step: the sender is at fault */
                rq->step.status = 413;
        else if (!rx->step_cb || !rx->step_cb(url, &rq->step, rx->step_opaque))
                stepped = 0;
        pthread_mutex_lock(&rx->conf_lock);
        if (!stepped)
                rq->step = rx_script_take(rx->scripts, url);
        /* copies: the script may change before a delayed answer */
        if (rq->step.text)
                rq->text = strdup(rq->step.text);
        if (rq->step.location)
                rq->location = strdup(rq->step.location);
        rq->step.text = rq->step.location = NULL;
        verified = verify(rx, conn, url, rq, &sig);
        pthread_mutex_unlock(&rx->conf_lock);
        if (verified == 1)
                atomic_fetch_add(&rx->verified, 1);
        else if (verified == 0)
                atomic_fetch_add(&rx->unverified, 1);
        count_in_flight(rx, rq);

        record(rx, conn, url, rq, rq->step.status, verified, sig);

        if (rq->step.delay_ms > 0 && schedule(rx, conn, rq->step.delay_ms)) {
                rq->delayed = 1;
                return MHD_YES;
        }
        return answer(rx, conn, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        rx_req_t *rq = *con_cls;

        (void)conn;
        (void)toe;
        if (rq) {
                answered(cls, rq); /* never answered: dropped or stopped */
                free(rq->text);
                free(rq->location);
                free(rq->body);
                free(rq);
                *con_cls = NULL;
        }
}

static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
        rx_t *rx = cls;

        (void)conn;
        (void)socket_context;
        if (toe == MHD_CONNECTION_NOTIFY_STARTED)
                atomic_fetch_add(&rx->connections, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
        rx_t *rx = cls;
        char line[256];
        size_t n;

        if (!atomic_load(&rx->started)) {
                /* only the starting thread logs before the start ends */
                vsnprintf(rx->start_err, sizeof(rx->start_err), fmt, ap);
                n = strlen(rx->start_err);
                while (n > 0 && is_blank(rx->start_err[n - 1]))
                        rx->start_err[--n] = '\0';
                return;
        }
        vsnprintf(line, sizeof(line), fmt, ap);
        n = strlen(line);
        while (n > 0 && is_blank(line[n - 1]))
                line[--n] = '\0';
        for (char *c = line; *c; c++)
                if (*c == '"')
                        *c = '\'';
        hb_log(HB_LOG_DEBUG, "receiver: libmicrohttpd", "detail=\"%s\"", line);
}

/* Fill rx->addr from "ADDR" and \p port; *v6 set for an IPv6 address. */
static int parse_bind(rx_t *rx, const char *bind, uint16_t port, int *v6)
{
        memset(&rx->addr, 0, sizeof(rx->addr));
        if (inet_pton(AF_INET, bind, &rx->addr.in4.sin_addr) == 1) {
                rx->addr.in4.sin_family = AF_INET;
                rx->addr.in4.sin_port = htons(port);
                *v6 = 0;
                return 0;
        }
        if (inet_pton(AF_INET6, bind, &rx->addr.in6.sin6_addr) == 1) {
                rx->addr.in6.sin6_family = AF_INET6;
                rx->addr.in6.sin6_port = htons(port);
                *v6 = 1;
                return 0;
        }
        return -1;
}

rx_t *rx_start(const rx_conf_t *conf, char *errstr, size_t errstr_size)
{
        rx_t *rx = NULL;
        const char *bind = conf && conf->bind ? conf->bind : "127.0.0.1";
        const union MHD_DaemonInfo *info;
        unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD |
                         MHD_USE_INTERNAL_POLLING_THREAD |
                         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
        int v6 = 0, locks = 0, timer = 0;
        pthread_condattr_t ca;

        if (!conf) {
                set_err(errstr, errstr_size, "receiver: no configuration");
                return NULL;
        }
        rx = calloc(1, sizeof(*rx));
        if (!rx) {
                set_err(errstr, errstr_size, "receiver: out of memory");
                return NULL;
        }
        rx->cb = conf->cb;
        rx->opaque = conf->opaque;
        rx->control = conf->control;
        rx->step_cb = conf->step_cb;
        rx->step_opaque = conf->step_opaque;
        atomic_init(&rx->count, 0);
        atomic_init(&rx->connections, 0);
        atomic_init(&rx->verified, 0);
        atomic_init(&rx->unverified, 0);
        atomic_init(&rx->in_flight, 0);
        atomic_init(&rx->max_in_flight, 0);
        atomic_init(&rx->started, 0);

        if (parse_bind(rx, bind, conf->port, &v6) == -1) {
                set_err(errstr, errstr_size,
                        "receiver: bind address \"%s\" is not an IPv4 or "
                        "IPv6 address",
                        bind);
                goto err;
        }
        if (v6)
                flags |= MHD_USE_IPv6;

        pthread_mutex_init(&rx->rec_lock, NULL);
        pthread_mutex_init(&rx->conf_lock, NULL);
        pthread_mutex_init(&rx->delay_lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&rx->delay_cond, &ca);
        pthread_condattr_destroy(&ca);
        locks = 1;

        if (conf->record_path) {
                rx->rec = fopen(conf->record_path, "a");
                if (!rx->rec) {
                        set_err(errstr, errstr_size,
                                "receiver: cannot open record file %s: %s",
                                conf->record_path, strerror(errno));
                        goto err;
                }
        }

        if (pthread_create(&rx->timer, NULL, timer_main, rx) != 0) {
                set_err(errstr, errstr_size,
                        "receiver: cannot start the timer thread");
                goto err;
        }
        timer = 1;

        rx->mhd = MHD_start_daemon(
                flags, conf->port, NULL, NULL, on_request, rx,
                MHD_OPTION_SOCK_ADDR, &rx->addr.sa, MHD_OPTION_THREAD_POOL_SIZE,
                (unsigned)RX_THREADS, MHD_OPTION_CONNECTION_LIMIT,
                (unsigned)RX_CONN_LIMIT, MHD_OPTION_LISTEN_BACKLOG_SIZE,
                (unsigned)RX_CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
                (unsigned)RX_CONN_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED,
                on_completed, rx, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
                rx, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, rx, MHD_OPTION_END);
        if (!rx->mhd) {
                set_err(errstr, errstr_size,
                        "receiver: cannot listen on %s:%u: %s", bind,
                        (unsigned)conf->port,
                        rx->start_err[0] ? rx->start_err
                                         : "libmicrohttpd "
                                           "failed to start");
                goto err;
        }
        atomic_store(&rx->started, 1);

        info = MHD_get_daemon_info(rx->mhd, MHD_DAEMON_INFO_BIND_PORT);
        rx->port = info ? info->port : conf->port;
        if (rx->port == 0) {
                set_err(errstr, errstr_size,
                        "receiver: cannot tell which port it listens on");
                goto err;
        }
        return rx;

err:
        if (rx->mhd)
                MHD_stop_daemon(rx->mhd);
        if (timer) {
                pthread_mutex_lock(&rx->delay_lock);
                rx->stopping = 1;
                pthread_cond_signal(&rx->delay_cond);
                pthread_mutex_unlock(&rx->delay_lock);
                pthread_join(rx->timer, NULL);
        }
        if (rx->rec)
                fclose(rx->rec);
        if (locks) {
                pthread_mutex_destroy(&rx->rec_lock);
                pthread_mutex_destroy(&rx->conf_lock);
                pthread_mutex_destroy(&rx->delay_lock);
                pthread_cond_destroy(&rx->delay_cond);
        }
        free(rx);
        return NULL;
}

uint16_t rx_port(const rx_t *rx)
{
        return rx ? rx->port : 0;
}

uint64_t rx_count(const rx_t *rx)
{
        return rx ? (uint64_t)atomic_load(&rx->count) : 0;
}

void rx_stats(const rx_t *rx, rx_stats_t *out)
{
        if (!out)
                return;
        *out = (rx_stats_t){0};
        if (!rx)
                return;
        out->requests = (uint64_t)atomic_load(&rx->count);
        out->connections = (uint64_t)atomic_load(&rx->connections);
        out->verified = (uint64_t)atomic_load(&rx->verified);
        out->unverified = (uint64_t)atomic_load(&rx->unverified);
        out->in_flight = atomic_load(&rx->in_flight);
        out->max_in_flight = atomic_load(&rx->max_in_flight);
}

void rx_stop(rx_t *rx)
{
        if (!rx)
                return;
        /* Resume every suspended connection first: MHD refuses to stop
         * with one still suspended. Past this point nothing suspends. */
        pthread_mutex_lock(&rx->delay_lock);
        rx->stopping = 1;
        pthread_cond_signal(&rx->delay_cond);
        pthread_mutex_unlock(&rx->delay_lock);
        pthread_join(rx->timer, NULL);
        MHD_stop_daemon(rx->mhd);

        rx_script_free_all(rx->scripts);
        while (rx->secrets) {
                rx_secret_t *s = rx->secrets;

                rx->secrets = s->next;
                secret_free(s);
        }
        if (rx->rec)
                fclose(rx->rec);
        pthread_mutex_destroy(&rx->rec_lock);
        pthread_mutex_destroy(&rx->conf_lock);
        pthread_mutex_destroy(&rx->delay_lock);
        pthread_cond_destroy(&rx->delay_cond);
        free(rx);
}
