/* wk_receiver: a loopback webhook subscriber (libmicrohttpd) that records
 * every request, verifies signatures and injects faults. */
#include "wk_receiver.h"

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

#include "wh_sign.h"
#include "hb_log.h"
#include "hb_time.h"

#define RX_BODY_MAX       (8u * 1024 * 1024) /* larger: 413 */
#define RX_THREADS        2
#define RX_CONN_LIMIT     1024
#define RX_CONN_TIMEOUT_S 120 /* idle keep-alive connections */
#define RX_STEP_MAX       128 /* longest step text */
#define RX_DELAY_MAX_MS   600000
#define RX_RA_MAX_S       86400
#define RX_CONTROL_PREFIX "/_control/"

/* One step of a fault script. */
typedef struct rx_step_s {
        int status;     /* 0: drop the connection */
        int delay_ms;   /* answer this late (the connection is suspended) */
        int ra;         /* Retry-After seconds, -1: no header */
        int ra_date;    /* 1: Retry-After as the HTTP-date now + ra */
        unsigned count; /* taken this many times before the next step */
} rx_step_t;

typedef struct rx_script_s {
        struct rx_script_s *next;
        char *path;
        rx_step_t *steps;
        size_t n;
        size_t at;     /* the step the next request takes */
        unsigned used; /* how often steps[at] was taken */
} rx_script_t;

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
        int delayed; /* suspended; answer when resumed */
        rx_step_t step;
} rx_req_t;

struct wk_rx_s {
        struct MHD_Daemon *mhd;
        uint16_t port;
        int control;
        wk_rx_cb_t *cb;
        void *opaque;
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
 * Scripts
 */

/* Parse a whole decimal in [lo, hi] from s (NUL-terminated). */
static int parse_num(const char *s, long lo, long hi, int *out)
{
        char *end;
        long v;

        if (*s < '0' || *s > '9')
                return -1;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || *end || v < lo || v > hi)
                return -1;
        *out = (int)v;
        return 0;
}

/* One step, "HEAD[:OPT]...[*N]", in a writable buffer. */
static int parse_step(char *s, rx_step_t *st)
{
        char *star, *opt, *next;
        int n;

        st->status = 200;
        st->delay_ms = 0;
        st->ra = -1;
        st->ra_date = 0;
        st->count = 1;

        star = strrchr(s, '*');
        if (star) {
                *star = '\0';
                if (parse_num(star + 1, 1, 1000000000, &n) == -1)
                        return -1;
                st->count = (unsigned)n;
        }
        next = strchr(s, ':');
        if (next)
                *next++ = '\0';
        if (!strcmp(s, "drop"))
                st->status = 0;
        else if (!strncmp(s, "delay=", 6)) {
                if (parse_num(s + 6, 0, RX_DELAY_MAX_MS, &st->delay_ms))
                        return -1;
        } else if (parse_num(s, 200, 599, &st->status))
                return -1;

        while ((opt = next)) {
                next = strchr(opt, ':');
                if (next)
                        *next++ = '\0';
                if (!strncmp(opt, "delay=", 6)) {
                        if (parse_num(opt + 6, 0, RX_DELAY_MAX_MS,
                                      &st->delay_ms))
                                return -1;
                } else if (!strcmp(opt, "ra=date")) {
                        st->ra = 0;
                        st->ra_date = 1;
                } else if (!strncmp(opt, "ra=date+", 8)) {
                        if (parse_num(opt + 8, 0, RX_RA_MAX_S, &st->ra))
                                return -1;
                        st->ra_date = 1;
                } else if (!strncmp(opt, "ra=", 3)) {
                        if (parse_num(opt + 3, 0, RX_RA_MAX_S, &st->ra))
                                return -1;
                } else {
                        return -1;
                }
        }
        return 0;
}

static int is_blank(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Parse a comma-separated script into a fresh array of steps. */
static rx_step_t *parse_script(const char *script, size_t *n_out)
{
        rx_step_t *steps = NULL;
        size_t n = 0, cap = 1;
        const char *p = script;
        char buf[RX_STEP_MAX];

        for (const char *c = script; *c; c++)
                if (*c == ',')
                        cap++;
        steps = calloc(cap, sizeof(*steps));
        if (!steps)
                return NULL;

        for (;;) {
                const char *end = strchr(p, ',');
                const char *b = p, *e = end ? end : p + strlen(p);
                size_t len;

                while (b < e && is_blank(*b))
                        b++;
                while (e > b && is_blank(e[-1]))
                        e--;
                len = (size_t)(e - b);
                if (len == 0 || len >= sizeof(buf))
                        goto err;
                memcpy(buf, b, len);
                buf[len] = '\0';
                if (parse_step(buf, &steps[n++]) == -1)
                        goto err;
                if (!end)
                        break;
                p = end + 1;
        }
        *n_out = n;
        return steps;

err:
        free(steps);
        return NULL;
}

static void script_free(rx_script_t *s)
{
        if (!s)
                return;
        free(s->path);
        free(s->steps);
        free(s);
}

int wk_rx_set_script(wk_rx_t *rx, const char *path, const char *script)
{
        rx_script_t *s, **pp;
        int all_blank = 1;

        if (!rx || !path)
                return -1;
        for (const char *c = script; c && *c; c++)
                if (!is_blank(*c))
                        all_blank = 0;
        if (all_blank)
                script = "200";

        s = calloc(1, sizeof(*s));
        if (!s)
                return -1;
        s->path = strdup(path);
        s->steps = parse_script(script, &s->n);
        if (!s->path || !s->steps) {
                script_free(s);
                return -1;
        }

        pthread_mutex_lock(&rx->conf_lock);
        for (pp = &rx->scripts; *pp; pp = &(*pp)->next)
                if (!strcmp((*pp)->path, path))
                        break;
        if (*pp) {
                rx_script_t *old = *pp;

                s->next = old->next;
                *pp = s;
                script_free(old);
        } else {
                *pp = s;
        }
        pthread_mutex_unlock(&rx->conf_lock);
        return 0;
}

/* The step for the next request on \p path; conf_lock held. */
static rx_step_t take_step(wk_rx_t *rx, const char *path)
{
        static const rx_step_t ok = {200, 0, -1, 0, 1};
        rx_script_t *s, *any = NULL;
        rx_step_t st;

        for (s = rx->scripts; s; s = s->next) {
                if (!strcmp(s->path, path))
                        break;
                if (!strcmp(s->path, "*"))
                        any = s;
        }
        if (!s)
                s = any;
        if (!s)
                return ok;
        st = s->steps[s->at];
        if (s->at + 1 < s->n && ++s->used >= st.count) {
                s->at++;
                s->used = 0;
        }
        return st;
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

int wk_rx_set_secret(wk_rx_t *rx, const char *path, const char *secret,
                     int userpilot)
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

/*
 * Verify the request's signature against the secret for \p path;
 * conf_lock held. Sets *sig to the signature header it looked at.
 */
static int verify(wk_rx_t *rx, struct MHD_Connection *conn, const char *path,
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
static void record(wk_rx_t *rx, struct MHD_Connection *conn, const char *path,
                   const rx_req_t *rq, int status, int verified,
                   const char *sig)
{
        const int flags =
                JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
        json_object *hdrs = json_object_new_object(), *line = NULL;
        const char *body = rq->body ? rq->body : "";
        wk_rx_request_t req = {0};
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

static enum MHD_Result send_text(struct MHD_Connection *conn, int status,
                                 const char *text, const char *retry_after)
{
        struct MHD_Response *r;
        enum MHD_Result ret;

        /* No body is allowed with these. */
        if (status == 204 || status == 304)
                text = "";
        r = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                            MHD_RESPMEM_MUST_COPY);
        if (!r)
                return MHD_NO;
        if (*text)
                MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                        "text/plain");
        if (retry_after)
                MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER,
                                        retry_after);
        ret = MHD_queue_response(conn, (unsigned)status, r);
        MHD_destroy_response(r);
        return ret;
}

/* Answer as the request's step says. */
static enum MHD_Result answer(struct MHD_Connection *conn, const rx_req_t *rq)
{
        const rx_step_t *st = &rq->step;
        char ra[64];

        if (st->status == 0)
                return MHD_NO; /* drop: MHD closes without an answer */
        if (st->ra >= 0 && st->ra_date) {
                time_t t = time(NULL) + st->ra;
                struct tm tm;

                gmtime_r(&t, &tm);
                strftime(ra, sizeof(ra), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        } else if (st->ra >= 0) {
                snprintf(ra, sizeof(ra), "%d", st->ra);
        }
        return send_text(conn, st->status,
                         st->status == 413  ? "body too large\n"
                         : st->status < 300 ? "ok\n"
                                            : "injected fault\n",
                         st->ra >= 0 ? ra : NULL);
}

/* Suspend \p conn for \p ms; 0 when the receiver is stopping. */
static int schedule(wk_rx_t *rx, struct MHD_Connection *conn, int ms)
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
        wk_rx_t *rx = arg;

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

static enum MHD_Result control(wk_rx_t *rx, struct MHD_Connection *conn,
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
                return send_text(conn, 200, text, NULL);
        }
        if (!put || (strcmp(what, "script") && strcmp(what, "secret")))
                return send_text(conn, 404, "unknown control request\n", NULL);
        if (!path || !*path)
                return send_text(conn, 400, "missing ?path=\n", NULL);
        if (rq->too_large)
                return send_text(conn, 413, "body too large\n", NULL);
        if (!strcmp(what, "script")) {
                if (wk_rx_set_script(rx, path, rq->body) == -1)
                        return send_text(conn, 400, "bad script\n", NULL);
        } else {
                char *secret = rq->body ? rq->body : (char *)"";
                size_t n = rq->len;

                /* "echo secret | curl --data-binary @-" adds a newline */
                while (n > 0 && is_blank(secret[n - 1]))
                        secret[--n] = '\0';
                if (wk_rx_set_secret(rx, path, secret,
                                     scheme && !strcmp(scheme, "userpilot")) ==
                    -1)
                        return send_text(conn, 400, "bad secret\n", NULL);
        }
        return send_text(conn, 200, "ok\n", NULL);
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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
        wk_rx_t *rx = cls;
        rx_req_t *rq = *con_cls;
        const char *sig = "";
        int verified;

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
                return answer(conn, rq);
        if (rx->control &&
            !strncmp(url, RX_CONTROL_PREFIX, strlen(RX_CONTROL_PREFIX)))
                return control(rx, conn, url, method, rq);

        pthread_mutex_lock(&rx->conf_lock);
        if (rq->too_large) {
                /* Not a script step: the sender is at fault. */
                rq->step = (rx_step_t){413, 0, -1, 0, 1};
        } else {
                rq->step = take_step(rx, url);
        }
        verified = verify(rx, conn, url, rq, &sig);
        pthread_mutex_unlock(&rx->conf_lock);

        record(rx, conn, url, rq, rq->step.status, verified, sig);

        if (rq->step.delay_ms > 0 && schedule(rx, conn, rq->step.delay_ms)) {
                rq->delayed = 1;
                return MHD_YES;
        }
        return answer(conn, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        rx_req_t *rq = *con_cls;

        (void)cls;
        (void)conn;
        (void)toe;
        if (rq) {
                free(rq->body);
                free(rq);
                *con_cls = NULL;
        }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
        wk_rx_t *rx = cls;
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
static int parse_bind(wk_rx_t *rx, const char *bind, uint16_t port, int *v6)
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

wk_rx_t *wk_rx_start(const wk_rx_conf_t *conf, char *errstr, size_t errstr_size)
{
        wk_rx_t *rx = NULL;
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
        atomic_init(&rx->count, 0);
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
                on_completed, rx, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, rx,
                MHD_OPTION_END);
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

uint16_t wk_rx_port(const wk_rx_t *rx)
{
        return rx ? rx->port : 0;
}

uint64_t wk_rx_count(const wk_rx_t *rx)
{
        return rx ? (uint64_t)atomic_load(&rx->count) : 0;
}

void wk_rx_stop(wk_rx_t *rx)
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

        while (rx->scripts) {
                rx_script_t *s = rx->scripts;

                rx->scripts = s->next;
                script_free(s);
        }
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
