/*
 * Tests for wh_endpoint and wh_pool against a real HTTP server on
 * 127.0.0.1: the receiver (rx_receiver) answers each request with the
 * next step of a script (status, Retry-After, delay, body size) and the
 * helpers below record what it received.
 */
#include <criterion/criterion.h>

#include <curl/curl.h>

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rx_receiver.h"
#include "wh_endpoint.h"
#include "wh_pool.h"
#include "wh_pool_sched.h"
#include "wh_sign.h"

#define SECRET      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SECRET_PREV "previous-raw-secret"
#define BODY        "{\"type\":\"flows.completed\",\"timestamp\":1679578625}"

/* --- the scripted server ----------------------------------------------- */

typedef struct step_s {
        int status;
        const char *retry_after; /* "date+N": an IMF-fixdate N s ahead */
        int delay_ms;
        size_t body_len; /* 0: "ok" */
        const char *location;
} step_t;

typedef struct srv_s {
        rx_t *rx;
        uint16_t port;
        char url[64];
        pthread_mutex_t mu;
        const step_t *steps; /* read as each request comes: a test may
                                still change a step after the start */
        size_t nsteps;
        size_t taken;       /* steps handed out */
        wh_key_t *key_prev; /* also verify with, or NULL */

        int requests;
        int verified;      /* signatures verified (rx_stats) */
        int verified_prev; /* ... with key_prev, checked here */
        int max_cur;       /* the most requests at once (rx_stats) */
        int connections;   /* TCP connections accepted (rx_stats) */
        /* the last request */
        char id[256], ts[64], sig[512], ct[128], ua[128], auth[128];
        char xsig[512], path[128];
        int has_expect;
        char body[4096];
        size_t body_len;
        /* the webhook-id of every request, in arrival order */
        char seen[256][16];
        double seen_at[256]; /* ... and when each came (CLOCK_MONOTONIC) */
        int nseen;
} srv_t;

/* The receiver asks for each request's answer: the next step. */
static int srv_step(const char *path, rx_step_t *out, void *opaque)
{
        srv_t *s = opaque;
        step_t st;
        int plus;

        (void)path;
        pthread_mutex_lock(&s->mu);
        st = s->steps[s->taken < s->nsteps ? s->taken : s->nsteps - 1];
        s->taken++;
        pthread_mutex_unlock(&s->mu);
        out->status = st.status;
        out->delay_ms = st.delay_ms;
        out->body_len = st.body_len;
        out->text = "ok";
        out->location = st.location;
        if (st.retry_after && sscanf(st.retry_after, "date+%d", &plus) == 1) {
                out->ra = RX_RA_DATE;
                out->ra_s = plus;
        } else if (st.retry_after) {
                out->ra = RX_RA_SECONDS;
                out->ra_s = (int)strtol(st.retry_after, NULL, 10);
        }
        return 1;
}

static void copy_hdr(const rx_request_t *req, const char *name, char *out,
                     size_t out_size)
{
        const char *v = rx_request_header(req, name);

        snprintf(out, out_size, "%s", v ? v : "");
}

/* The receiver hands over each request, before it answers. */
static void srv_record(const rx_request_t *req, void *opaque)
{
        srv_t *s = opaque;
        const char *b = req->body ? req->body : "";

        pthread_mutex_lock(&s->mu);
        s->requests++;
        copy_hdr(req, "webhook-id", s->id, sizeof(s->id));
        if (s->nseen < 256) {
                struct timespec now;

                clock_gettime(CLOCK_MONOTONIC, &now);
                s->seen_at[s->nseen] =
                        (double)now.tv_sec + (double)now.tv_nsec / 1e9;
                snprintf(s->seen[s->nseen++], sizeof(s->seen[0]), "%.15s",
                         s->id);
        }
        copy_hdr(req, "webhook-timestamp", s->ts, sizeof(s->ts));
        copy_hdr(req, "webhook-signature", s->sig, sizeof(s->sig));
        copy_hdr(req, "X-Signature", s->xsig, sizeof(s->xsig));
        copy_hdr(req, "Content-Type", s->ct, sizeof(s->ct));
        copy_hdr(req, "User-Agent", s->ua, sizeof(s->ua));
        copy_hdr(req, "Authorization", s->auth, sizeof(s->auth));
        s->has_expect = rx_request_header(req, "Expect") != NULL;
        snprintf(s->path, sizeof(s->path), "%s", req->path);
        s->body_len = req->body_len < sizeof(s->body) ? req->body_len
                                                      : sizeof(s->body);
        if (req->body_len)
                memcpy(s->body, req->body, s->body_len);
        /* The receiver checks one secret per path (srv_secret()); a
         * rotation's previous one is checked here. */
        if (s->key_prev)
                s->verified_prev += wh_verify_standard(
                        s->key_prev, s->id, s->ts, b, req->body_len, s->sig);
        pthread_mutex_unlock(&s->mu);
}

static srv_t *srv_start(const step_t *steps, size_t nsteps)
{
        srv_t *s = calloc(1, sizeof(*s));
        rx_conf_t conf = {0};
        char err[512];

        cr_assert_not_null(s);
        pthread_mutex_init(&s->mu, NULL);
        s->steps = steps;
        s->nsteps = nsteps;
        conf.cb = srv_record;
        conf.opaque = s;
        conf.step_cb = srv_step;
        conf.step_opaque = s;
        s->rx = rx_start(&conf, err, sizeof(err));
        cr_assert_not_null(s->rx, "receiver: %s", err);
        s->port = rx_port(s->rx);
        snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u/hook",
                 (unsigned)s->port);
        return s;
}

static void srv_stop(srv_t *s)
{
        rx_stop(s->rx);
        wh_key_destroy(s->key_prev);
        pthread_mutex_destroy(&s->mu);
        free(s);
}

/* A counter the server threads write, read under their lock. */
static int srv_get(srv_t *s, const int *field)
{
        rx_stats_t st;
        int n;

        rx_stats(s->rx, &st);
        pthread_mutex_lock(&s->mu);
        s->max_cur = st.max_in_flight;
        s->connections = (int)st.connections;
        s->verified = (int)st.verified;
        n = *field;
        pthread_mutex_unlock(&s->mu);
        return n;
}

/* The receiver verifies every request's signature with \p secret. */
static void srv_secret(srv_t *s, const char *secret, int userpilot)
{
        cr_assert_eq(rx_set_secret(s->rx, "*", secret, userpilot), 0);
}

static int srv_requests(srv_t *s)
{
        return srv_get(s, &s->requests);
}

/* --- the client side --------------------------------------------------- */

typedef struct outcome_s {
        int called;
        wh_outcome_t outcome;
        long status;
        int attempts;
        char error[512];
        char body[1024];
        size_t body_len;
        double done_s;
} outcome_t;

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_done(const wh_result_t *res, void *opaque)
{
        outcome_t *o = opaque;

        o->called++;
        o->outcome = res->outcome;
        o->status = res->status;
        o->attempts = res->attempts;
        snprintf(o->error, sizeof(o->error), "%s", res->error);
        o->body_len = res->body_start_len < sizeof(o->body)
                              ? res->body_start_len
                              : sizeof(o->body);
        memcpy(o->body, res->body_start, o->body_len);
        o->done_s = now_s();
}

static cfg_webhook_t webhook(const char *url)
{
        cfg_webhook_t wh;

        memset(&wh, 0, sizeof(wh));
        wh.name = "test";
        wh.url = url;
        wh.enabled = 1;
        wh.signature = CFG_SIG_STANDARD;
        wh.timeout_ms = 2000;
        wh.retry.initial_ms = 10;
        wh.retry.max_ms = 100;
        wh.retry.max_attempts = 3;
        return wh;
}

static wh_endpoint_t *endpoint(const cfg_webhook_t *wh)
{
        char err[256] = "";
        wh_endpoint_t *ep = wh_endpoint_new(wh, err, sizeof(err));

        cr_assert_not_null(ep, "wh_endpoint_new: %s", err);
        return ep;
}

static wh_pool_t *pool(int max_in_flight, int max_response_bytes)
{
        wh_pool_conf_t conf = {
                .max_in_flight = max_in_flight,
                .connect_timeout_ms = 1000,
                .max_response_bytes = max_response_bytes,
        };
        char err[256] = "";
        wh_pool_t *p = wh_pool_new(&conf, err, sizeof(err));

        cr_assert_not_null(p, "wh_pool_new: %s", err);
        return p;
}

/* Run the pool until nothing is pending or \p max_ms passed. */
static void drive(wh_pool_t *p, int max_ms)
{
        double end = now_s() + max_ms / 1000.0;

        while (wh_pool_pending(p) > 0 && now_s() < end)
                cr_assert_geq(wh_pool_run(p, 50, -1), 0);
}

/* One delivery to \p s through a fresh pool; the outcome in \p o. */
static double deliver(srv_t *s, const cfg_webhook_t *wh, outcome_t *o,
                      int max_ms)
{
        wh_endpoint_t *ep = endpoint(wh);
        wh_pool_t *p = pool(4, 0);
        double t0 = now_s();

        cr_assert_eq(wh_pool_submit(p, ep, "evt-1", BODY, strlen(BODY), 0,
                                    on_done, o),
                     0);
        wh_endpoint_unref(ep); /* the pool holds its own reference */
        cr_assert_eq(o->called, 0, "callback from inside wh_pool_submit");
        drive(p, max_ms);
        cr_assert_eq(wh_pool_pending(p), 0);
        cr_assert_eq(o->called, 1);
        wh_pool_destroy(p);
        (void)s;
        return o->done_s - t0;
}

/* --- wh_endpoint ------------------------------------------------------- */

static size_t slist_count(const struct curl_slist *l)
{
        size_t n = 0;

        for (; l; l = l->next)
                n++;
        return n;
}

static const char *slist_at(const struct curl_slist *l, size_t i)
{
        for (; l && i > 0; l = l->next)
                i--;
        return l ? l->data : NULL;
}

Test(endpoint, headers_standard_with_rotation)
{
        static const char *const statics[] = {"Authorization: Bearer t0k",
                                              "X-Tenant: 42"};
        cfg_webhook_t wh = webhook("http://127.0.0.1:1/x");
        wh_endpoint_t *ep;
        struct curl_slist *l;
        char sig[WH_SIGN_MAX], prev[WH_SIGN_MAX], line[512];
        wh_key_t *k = wh_key_new(SECRET, NULL, 0);
        wh_key_t *kp = wh_key_new(SECRET_PREV, NULL, 0);

        wh.secret = SECRET;
        wh.secret_previous = SECRET_PREV;
        wh.headers = statics;
        wh.header_count = 2;
        ep = endpoint(&wh);
        cr_assert_str_eq(wh_endpoint_name(ep), "test");
        cr_assert_str_eq(wh_endpoint_url(ep), "http://127.0.0.1:1/x");
        cr_assert_eq(wh_endpoint_timeout_ms(ep), 2000);
        cr_assert_eq(wh_endpoint_retry(ep)->max_attempts, 3);

        l = wh_endpoint_headers(ep, "msg_1", 1614265330, BODY, strlen(BODY));
        cr_assert_not_null(l);
        wh_sign_standard(k, "msg_1", 1614265330, BODY, strlen(BODY), sig,
                         sizeof(sig));
        wh_sign_standard(kp, "msg_1", 1614265330, BODY, strlen(BODY), prev,
                         sizeof(prev));
        snprintf(line, sizeof(line), "webhook-signature: %s %s", sig, prev);
        cr_assert_eq(slist_count(l), 8);
        cr_expect_str_eq(slist_at(l, 0), "Content-Type: application/json");
        cr_expect_str_eq(slist_at(l, 1), "User-Agent: hookbridge/" HB_VERSION);
        cr_expect_str_eq(slist_at(l, 2), "Expect:");
        cr_expect_str_eq(slist_at(l, 3), "webhook-id: msg_1");
        cr_expect_str_eq(slist_at(l, 4), "webhook-timestamp: 1614265330");
        cr_expect_str_eq(slist_at(l, 5), line);
        cr_expect_str_eq(slist_at(l, 6), "Authorization: Bearer t0k");
        cr_expect_str_eq(slist_at(l, 7), "X-Tenant: 42");
        curl_slist_free_all(l);

        /* the id goes into a header: no CR/LF smuggling */
        cr_expect_null(wh_endpoint_headers(ep, "a\r\nX-Evil: 1", 1, "", 0));
        cr_expect_null(wh_endpoint_headers(ep, "", 1, "", 0));

        cr_assert_eq(wh_endpoint_ref(ep), ep);
        wh_endpoint_unref(ep);
        wh_endpoint_unref(ep);
        wh_endpoint_unref(NULL);
        wh_key_destroy(k);
        wh_key_destroy(kp);
}

/* The pool's per-attempt list (wh_endpoint_attempt_lines, then the
 * endpoint's static list, nothing allocated) is wh_endpoint_headers()'s. */
static void expect_same_lines(const wh_endpoint_t *ep, const char *id,
                              int64_t ts)
{
        struct curl_slist *l =
                wh_endpoint_headers(ep, id, ts, BODY, strlen(BODY));
        const struct curl_slist *st = wh_endpoint_static_headers(ep);
        wh_attempt_lines_t al;
        char id_line[64];
        size_t i;

        snprintf(id_line, sizeof(id_line), WH_ID_LINE_PREFIX "%s", id);
        cr_assert_not_null(l);
        cr_assert_eq(wh_endpoint_attempt_lines(ep, id_line, ts, BODY,
                                               strlen(BODY), &al),
                     0);
        cr_assert_eq(al.count + slist_count(st), slist_count(l));
        for (i = 0; i < al.count; i++)
                cr_expect_str_eq(al.line[i], slist_at(l, i));
        for (; st; st = st->next, i++)
                cr_expect_str_eq(st->data, slist_at(l, i));
        curl_slist_free_all(l);
}

Test(endpoint, attempt_lines_are_the_header_list)
{
        static const char *const statics[] = {"Authorization: Bearer t0k",
                                              "X-Tenant: 42"};
        cfg_webhook_t wh = webhook("http://127.0.0.1:1/x");
        wh_endpoint_t *ep;
        wh_attempt_lines_t al;

        ep = endpoint(&wh); /* unsigned, no static headers */
        cr_expect_null(wh_endpoint_static_headers(ep));
        expect_same_lines(ep, "id-1", 7);
        wh_endpoint_unref(ep);

        wh.secret = SECRET;
        wh.secret_previous = SECRET_PREV;
        wh.headers = statics;
        wh.header_count = 2;
        ep = endpoint(&wh);
        expect_same_lines(ep, "msg_1", 1614265330);
        expect_same_lines(ep, "m\t1 2", 1700000000);
        /* the id goes into a header: no CR/LF smuggling, not empty, and
         * the line must be a webhook-id line */
        cr_expect_eq(wh_endpoint_attempt_lines(ep, "webhook-id: a\r\nX: 1", 1,
                                               "", 0, &al),
                     -1);
        cr_expect_eq(
                wh_endpoint_attempt_lines(ep, "webhook-id: ", 1, "", 0, &al),
                -1);
        cr_expect_eq(wh_endpoint_attempt_lines(ep, "msg_1", 1, "", 0, &al), -1);
        wh_endpoint_unref(ep);

        wh.signature = CFG_SIG_USERPILOT;
        ep = endpoint(&wh);
        expect_same_lines(ep, "id-9", 1700000000);
        wh_endpoint_unref(ep);
}

Test(endpoint, headers_unsigned_and_userpilot)
{
        cfg_webhook_t wh = webhook("http://127.0.0.1:1/x");
        wh_endpoint_t *ep;
        struct curl_slist *l;
        wh_key_t *k = wh_key_new("up-secret", NULL, 0);
        wh_key_t *kp = wh_key_new("up-old", NULL, 0);

        ep = endpoint(&wh);
        l = wh_endpoint_headers(ep, "id-9", 7, "{}", 2);
        cr_assert_eq(slist_count(l), 5);
        cr_expect_str_eq(slist_at(l, 4), "webhook-timestamp: 7");
        curl_slist_free_all(l);
        wh_endpoint_unref(ep);

        wh.signature = CFG_SIG_USERPILOT;
        wh.secret = "up-secret";
        wh.secret_previous = "up-old";
        ep = endpoint(&wh);
        l = wh_endpoint_headers(ep, "id-9", 1700000000, "{}", 2);
        cr_assert_eq(slist_count(l), 5);
        cr_expect_str_eq(slist_at(l, 3), "webhook-id: id-9");
        cr_assert_eq(
                strncmp(slist_at(l, 4), "X-Signature: t=1700000000,v1=", 29),
                0);
        cr_expect_eq(wh_verify_userpilot(k, "{}", 2, slist_at(l, 4) + 13), 1);
        cr_expect_eq(wh_verify_userpilot(kp, "{}", 2, slist_at(l, 4) + 13), 1);
        curl_slist_free_all(l);
        wh_endpoint_unref(ep);
        wh_key_destroy(k);
        wh_key_destroy(kp);
}

Test(endpoint, rejects_bad_configuration)
{
        static const char *const bad_headers[] = {
                "NoColon",         ": empty-name",
                "Bad Name: x",     "X-Ok: a\r\nX-Evil: 1",
                "content-type: x", "Webhook-Signature: forged",
                "Host: evil",      "User-Agent: other",
        };
        cfg_webhook_t wh = webhook("http://127.0.0.1:1/x");
        char err[256];

        for (size_t i = 0; i < sizeof(bad_headers) / sizeof(*bad_headers);
             i++) {
                cfg_webhook_t w = wh;

                w.headers = &bad_headers[i];
                w.header_count = 1;
                err[0] = '\0';
                cr_expect_null(wh_endpoint_new(&w, err, sizeof(err)), "%s",
                               bad_headers[i]);
                cr_expect_neq(err[0], '\0');
        }
        {
                cfg_webhook_t w = wh;
                w.secret = "whsec_%%%SECRETVALUE";
                cr_expect_null(wh_endpoint_new(&w, err, sizeof(err)));
                cr_expect_null(strstr(err, "SECRETVALUE"), "%s", err);
        }
        {
                cfg_webhook_t w = wh;
                w.url = "";
                cr_expect_null(wh_endpoint_new(&w, err, sizeof(err)));
        }
        {
                cfg_webhook_t w = wh;
                w.retry.max_attempts = 0;
                cr_expect_null(wh_endpoint_new(&w, err, sizeof(err)));
        }
        {
                cfg_webhook_t w = wh;
                w.secret_previous = "x";
                cr_expect_null(wh_endpoint_new(&w, err, sizeof(err)));
        }
}

/* --- wh_pool ------------------------------------------------------------ */

Test(pool, ok_first_attempt_headers_and_signature)
{
        static const step_t steps[] = {{200}};
        static const char *const statics[] = {"Authorization: Bearer t0k"};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        outcome_t o = {0};
        long now = (long)time(NULL);

        srv_secret(s, SECRET, 0);
        wh.secret = SECRET;
        wh.headers = statics;
        wh.header_count = 1;
        deliver(s, &wh, &o, 5000);

        cr_expect_eq(o.outcome, WH_OUT_OK);
        cr_expect_eq(o.status, 200);
        cr_expect_eq(o.attempts, 1);
        cr_expect_str_eq(o.error, "");
        cr_expect_eq(o.body_len, 2);
        cr_expect_eq(memcmp(o.body, "ok", 2), 0);
        cr_expect_eq(srv_requests(s), 1);
        cr_expect_eq(srv_get(s, &s->verified), 1,
                     "signature did not verify: %s", s->sig);
        cr_expect_str_eq(s->path, "/hook");
        cr_expect_str_eq(s->id, "evt-1");
        cr_expect_str_eq(s->ct, "application/json");
        cr_expect_str_eq(s->ua, "hookbridge/" HB_VERSION);
        cr_expect_str_eq(s->auth, "Bearer t0k");
        cr_expect_eq(s->has_expect, 0);
        cr_expect_str_eq(s->xsig, "");
        cr_expect_leq(labs(atol(s->ts) - now), 5);
        cr_expect_eq(s->body_len, strlen(BODY));
        cr_expect_eq(memcmp(s->body, BODY, strlen(BODY)), 0);
        srv_stop(s);
}

Test(pool, rotation_sends_both_signatures)
{
        static const step_t steps[] = {{200}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        outcome_t o = {0};

        srv_secret(s, SECRET, 0);
        s->key_prev = wh_key_new(SECRET_PREV, NULL, 0);
        wh.secret = SECRET;
        wh.secret_previous = SECRET_PREV;
        deliver(s, &wh, &o, 5000);
        cr_expect_eq(o.outcome, WH_OUT_OK);
        cr_expect_eq(srv_get(s, &s->verified), 1);
        cr_expect_eq(srv_get(s, &s->verified_prev), 1);
        cr_expect_not_null(strchr(s->sig, ' '));
        srv_stop(s);
}

Test(pool, userpilot_signature)
{
        static const step_t steps[] = {{204}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        outcome_t o = {0};

        srv_secret(s, "up-secret", 1);
        wh.secret = "up-secret";
        wh.signature = CFG_SIG_USERPILOT;
        deliver(s, &wh, &o, 5000);
        cr_expect_eq(o.outcome, WH_OUT_OK);
        cr_expect_eq(o.status, 204);
        cr_expect_eq(srv_get(s, &s->verified), 1, "X-Signature: %s", s->xsig);
        cr_expect_str_eq(s->id, "evt-1");
        cr_expect_str_eq(s->ts, "");
        cr_expect_str_eq(s->sig, "");
        srv_stop(s);
}

Test(pool, retries_500_then_ok)
{
        static const step_t steps[] = {{500}, {500}, {200}};
        srv_t *s = srv_start(steps, 3);
        cfg_webhook_t wh = webhook(s->url);
        outcome_t o = {0};

        srv_secret(s, SECRET, 0);
        wh.secret = SECRET;
        deliver(s, &wh, &o, 5000);
        cr_expect_eq(o.outcome, WH_OUT_OK);
        cr_expect_eq(o.attempts, 3);
        cr_expect_eq(srv_requests(s), 3);
        cr_expect_eq(srv_get(s, &s->verified), 3); /* every attempt signed */
        srv_stop(s);
}

Test(pool, retry_after_seconds_honoured)
{
        static const step_t steps[] = {{503, "1"}, {200}};
        srv_t *s = srv_start(steps, 2);
        cfg_webhook_t wh = webhook(s->url);
        outcome_t o = {0};
        double t;

        wh.retry.max_ms = 5000;
        t = deliver(s, &wh, &o, 5000);
        cr_expect_eq(o.outcome, WH_OUT_OK);
        cr_expect_eq(o.attempts, 2);
        cr_expect_geq(t, 0.95, "retried after %.3fs", t);
        cr_expect_lt(t, 3.0);
        srv_stop(s);
}

Test(pool, retry_after_date_on_429_honoured)
{
        static const step_t steps[] = {{429, "date+2"}, {200}};
        srv_t *s = srv_start(steps, 2);
        cfg_webhook_t wh = webhook(s->url);
        outcome_t o = {0};
        double t;

        wh.retry.max_ms = 5000;
        t = deliver(s, &wh, &o, 6000);
        cr_expect_eq(o.outcome, WH_OUT_OK);
        cr_expect_eq(o.attempts, 2);
        /* whole-second dates: between 1 and 2 s from the response */
        cr_expect_geq(t, 0.95, "retried after %.3fs", t);
        cr_expect_lt(t, 3.5);
        srv_stop(s);
}

Test(pool, retry_after_capped_by_max_ms)
{
        static const step_t steps[] = {{503, "30"}, {200}};
        srv_t *s = srv_start(steps, 2);
        cfg_webhook_t wh = webhook(s->url);
        outcome_t o = {0};
        double t;

        wh.retry.max_ms = 200;
        t = deliver(s, &wh, &o, 5000);
        cr_expect_eq(o.outcome, WH_OUT_OK);
        cr_expect_eq(o.attempts, 2);
        cr_expect_geq(t, 0.19);
        cr_expect_lt(t, 2.0, "took %.3fs", t);
        srv_stop(s);
}

Test(pool, retry_after_ignored_on_500)
{
        static const step_t steps[] = {{500, "30"}, {200}};
        srv_t *s = srv_start(steps, 2);
        cfg_webhook_t wh = webhook(s->url);
        outcome_t o = {0};
        double t;

        wh.retry.max_ms = 5000;
        t = deliver(s, &wh, &o, 5000);
        cr_expect_eq(o.outcome, WH_OUT_OK);
        cr_expect_lt(t, 1.0, "took %.3fs", t);
        srv_stop(s);
}

Test(pool, permanent_400_and_410)
{
        static const step_t s400[] = {{400}}, s410[] = {{410}};
        const step_t *scripts[] = {s400, s410};
        const long want[] = {400, 410};

        for (int i = 0; i < 2; i++) {
                srv_t *s = srv_start(scripts[i], 1);
                cfg_webhook_t wh = webhook(s->url);
                outcome_t o = {0};

                deliver(s, &wh, &o, 5000);
                cr_expect_eq(o.outcome, WH_OUT_PERMANENT);
                cr_expect_eq(o.status, want[i]);
                cr_expect_eq(o.attempts, 1);
                cr_expect_eq(srv_requests(s), 1);
                srv_stop(s);
        }
}

Test(pool, redirect_is_permanent_not_followed)
{
        static step_t steps[] = {{302, NULL, 0, 0, NULL}};
        srv_t *s;
        cfg_webhook_t wh;
        outcome_t o = {0};
        char loc[96];

        s = srv_start(steps, 1);
        snprintf(loc, sizeof(loc), "http://127.0.0.1:%u/elsewhere",
                 (unsigned)s->port);
        steps[0].location = loc;
        wh = webhook(s->url);
        deliver(s, &wh, &o, 5000);
        cr_expect_eq(o.outcome, WH_OUT_PERMANENT);
        cr_expect_eq(o.status, 302);
        cr_expect_eq(o.attempts, 1);
        cr_expect_eq(srv_requests(s), 1);
        cr_expect_str_eq(s->path, "/hook");
        srv_stop(s);
}

Test(pool, connection_refused_exhausts)
{
        /* bound but never listening: connect() is refused */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa;
        socklen_t len = sizeof(sa);
        char url[64];
        cfg_webhook_t wh;
        outcome_t o = {0};

        cr_assert_geq(fd, 0);
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook",
                 (unsigned)ntohs(sa.sin_port));
        wh = webhook(url);
        deliver(NULL, &wh, &o, 5000);
        close(fd);
        cr_expect_eq(o.outcome, WH_OUT_EXHAUSTED);
        cr_expect_eq(o.attempts, 3);
        cr_expect_eq(o.status, 0);
        cr_expect_neq(o.error[0], '\0');
        cr_expect_not_null(strstr(o.error, "onnect"), "error: %s", o.error);
}

Test(pool, timeout_is_retried)
{
        static const step_t steps[] = {{200, NULL, 1500}, {200}};
        srv_t *s = srv_start(steps, 2);
        cfg_webhook_t wh = webhook(s->url);
        outcome_t o = {0};
        double t;

        wh.timeout_ms = 300;
        t = deliver(s, &wh, &o, 5000);
        cr_expect_eq(o.outcome, WH_OUT_OK);
        cr_expect_eq(o.attempts, 2);
        cr_expect_geq(t, 0.29);
        cr_expect_lt(t, 1.4, "took %.3fs", t);
        srv_stop(s);
}

Test(pool, timeout_error_text)
{
        static const step_t steps[] = {{200, NULL, 1000}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        outcome_t o = {0};

        wh.timeout_ms = 150;
        wh.retry.max_attempts = 1;
        deliver(s, &wh, &o, 5000);
        cr_expect_eq(o.outcome, WH_OUT_EXHAUSTED);
        cr_expect_eq(o.attempts, 1);
        /* curl_easy_strerror + the error buffer's detail */
        cr_expect_not_null(strstr(o.error, "Timeout was reached: "), "%s",
                           o.error);
        srv_stop(s);
}

static int cb_calls;

static void count_cb(const wh_result_t *res, void *opaque)
{
        (void)res;
        (void)opaque;
        cb_calls++;
}

Test(pool, forever_never_reports_and_destroy_abandons)
{
        static const step_t s500[] = {{500}}, s400[] = {{400}};
        srv_t *a = srv_start(s500, 1), *b = srv_start(s400, 1);
        cfg_webhook_t wa = webhook(a->url), wb = webhook(b->url);
        wh_endpoint_t *ea, *eb;
        wh_pool_t *p = pool(2, 0);
        double end;

        wa.retry.max_attempts = 2;
        wa.retry.max_ms = 50;
        wb.retry.max_attempts = 2;
        wb.retry.max_ms = 50;
        ea = endpoint(&wa);
        eb = endpoint(&wb);
        cb_calls = 0;
        cr_assert_eq(wh_pool_submit(p, ea, "f1", BODY, strlen(BODY), 1,
                                    count_cb, NULL),
                     0);
        cr_assert_eq(wh_pool_submit(p, eb, "f2", BODY, strlen(BODY), 1,
                                    count_cb, NULL),
                     0);
        wh_endpoint_unref(ea);
        wh_endpoint_unref(eb);
        end = now_s() + 0.8;
        while (now_s() < end)
                cr_assert_geq(wh_pool_run(p, 20, -1), 0);
        cr_expect_eq(cb_calls, 0);
        cr_expect_eq(wh_pool_pending(p), 2);
        /* well past max_attempts, at about max_ms apart */
        cr_expect_gt(srv_requests(a), 4);
        cr_expect_gt(srv_requests(b), 4);
        wh_pool_destroy(p);
        cr_expect_eq(cb_calls, 0);
        srv_stop(a);
        srv_stop(b);
}

Test(pool, max_in_flight_queues_fifo_and_reuses_connections)
{
        static const step_t steps[] = {{200, NULL, 30}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        wh_endpoint_t *ep = endpoint(&wh);
        wh_pool_t *p = pool(2, 0);
        outcome_t o[20];

        memset(o, 0, sizeof(o));
        for (int i = 0; i < 20; i++) {
                char id[16];

                snprintf(id, sizeof(id), "evt-%d", i);
                cr_assert_eq(wh_pool_submit(p, ep, id, BODY, strlen(BODY), 0,
                                            on_done, &o[i]),
                             0);
        }
        wh_endpoint_unref(ep);
        cr_assert_eq(wh_pool_pending(p), 20);
        drive(p, 10000);
        cr_assert_eq(wh_pool_pending(p), 0);
        for (int i = 0; i < 20; i++) {
                cr_expect_eq(o[i].called, 1, "delivery %d", i);
                cr_expect_eq(o[i].outcome, WH_OUT_OK, "delivery %d", i);
                cr_expect_eq(o[i].attempts, 1, "delivery %d", i);
        }
        cr_expect_eq(srv_requests(s), 20);
        cr_expect_leq(srv_get(s, &s->max_cur), 2, "%d requests at once",
                      srv_get(s, &s->max_cur));
        cr_expect_geq(srv_get(s, &s->max_cur), 1);
        /* keep-alive: the two connections carry all twenty requests */
        cr_expect_leq(srv_get(s, &s->connections), 2, "%d connections",
                      srv_get(s, &s->connections));
        wh_pool_destroy(p);
        srv_stop(s);
}

/* More hosts (here ports) than slots: each host keeps its idle
 * connection while the others are used, instead of the cache (once only
 * max_in_flight connections) closing one host's to open another's: 40
 * requests over 4 ports with 2 in flight took ~40 connections (a TLS
 * handshake each in real life). */
Test(pool, more_hosts_than_slots_keep_their_connections)
{
        static const step_t steps[] = {{200, NULL, 5}};
        srv_t *s[4];
        wh_endpoint_t *ep[4];
        wh_pool_t *p = pool(2, 0);
        outcome_t o[40];
        int conns = 0;

        memset(o, 0, sizeof(o));
        for (int i = 0; i < 4; i++) {
                cfg_webhook_t wh;

                s[i] = srv_start(steps, 1);
                wh = webhook(s[i]->url);
                ep[i] = endpoint(&wh);
        }
        /* in rounds, so every host is used again after the others */
        for (int i = 0; i < 40; i++) {
                char id[16];

                snprintf(id, sizeof(id), "evt-%d", i);
                cr_assert_eq(wh_pool_submit(p, ep[i % 4], id, BODY,
                                            strlen(BODY), 0, on_done, &o[i]),
                             0);
                if (i % 4 == 3)
                        drive(p, 10000);
        }
        cr_assert_eq(wh_pool_pending(p), 0);
        for (int i = 0; i < 40; i++)
                cr_expect_eq(o[i].outcome, WH_OUT_OK, "delivery %d", i);
        for (int i = 0; i < 4; i++) {
                cr_expect_eq(srv_requests(s[i]), 10, "host %d", i);
                conns += srv_get(s[i], &s[i]->connections);
        }
        /* at most two at once per host (in flight): 8 at most in all */
        cr_expect_leq(conns, 8, "%d connections for 40 requests", conns);
        wh_pool_destroy(p);
        for (int i = 0; i < 4; i++) {
                wh_endpoint_unref(ep[i]);
                srv_stop(s[i]);
        }
}

Test(pool, large_response_truncated)
{
        static const step_t steps[] = {{200, NULL, 0, 1000000}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        wh_endpoint_t *ep = endpoint(&wh);
        wh_pool_t *p = pool(1, 64);
        outcome_t o = {0};

        cr_assert_eq(wh_pool_submit(p, ep, "big", BODY, strlen(BODY), 0,
                                    on_done, &o),
                     0);
        wh_endpoint_unref(ep);
        drive(p, 5000);
        cr_assert_eq(o.called, 1);
        cr_expect_eq(o.outcome, WH_OUT_OK);
        cr_expect_eq(o.body_len, 64);
        for (size_t i = 0; i < o.body_len; i++)
                cr_expect_eq(o.body[i], (char)('a' + i % 26), "byte %zu", i);
        wh_pool_destroy(p);
        srv_stop(s);
}

/* The whole body a callback saw checked against the server's pattern. */
typedef struct body_check_s {
        int called;
        size_t len;
        size_t bad; /* bytes off the pattern */
} body_check_t;

static void on_done_check_body(const wh_result_t *res, void *opaque)
{
        body_check_t *c = opaque;

        c->called++;
        c->len = res->body_start_len;
        for (size_t i = 0; i < res->body_start_len; i++)
                c->bad += res->body_start[i] != (char)('a' + i % 26);
}

Test(pool, response_buffer_grows_to_the_cap)
{
        static const step_t steps[] = {{200, NULL, 0, 100000}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        wh_endpoint_t *ep = endpoint(&wh);
        wh_pool_t *p = pool(1, 65536);
        body_check_t c = {0};

        cr_assert_eq(wh_pool_submit(p, ep, "grow", BODY, strlen(BODY), 0,
                                    on_done_check_body, &c),
                     0);
        wh_endpoint_unref(ep);
        for (double end = now_s() + 5; c.called == 0 && now_s() < end;)
                cr_assert_geq(wh_pool_run(p, 100, -1), 0);
        cr_assert_eq(c.called, 1);
        cr_expect_eq(c.len, 65536);
        cr_expect_eq(c.bad, 0);
        wh_pool_destroy(p);
        srv_stop(s);
}

/* Bytes glibc's allocator has handed out. */
static size_t heap_in_use(void)
{
        struct mallinfo2 mi = mallinfo2();

        return mi.uordblks + mi.hblkhd;
}

Test(pool, waiting_deliveries_hold_no_response_buffer)
{
        /* bug: every submit allocated max_response_bytes at once, so a
         * backlog for a blocked webhook cost up to 64 KiB a delivery
         * (10,000 held messages x 3 webhooks: 1.9 GiB) */
        enum { N = 2000 };
        cfg_webhook_t wh = webhook("http://127.0.0.1:9/never-sent");
        wh_endpoint_t *ep = endpoint(&wh);
        wh_pool_t *p = pool(1, 65536);
        outcome_t o = {0};
        size_t before, per;
        char *probe;

        /* a sanitizer's or valgrind's allocator is not glibc's: nothing
         * to measure with then */
        before = heap_in_use();
        probe = malloc(1 << 20);
        cr_assert_not_null(probe);
        memset(probe, 1, 1 << 20);
        if (heap_in_use() < before + (1 << 20)) {
                free(probe);
                wh_pool_destroy(p);
                wh_endpoint_unref(ep);
                cr_skip_test("mallinfo2() does not see this allocator");
        }
        free(probe);

        before = heap_in_use();
        for (int i = 0; i < N; i++)
                cr_assert_eq(wh_pool_submit(p, ep, "held", BODY, strlen(BODY),
                                            0, on_done, &o),
                             0);
        per = (heap_in_use() - before) / N;
        cr_expect_eq(wh_pool_queued(p), N);
        cr_expect_lt(per, 2048, "%zu bytes per waiting delivery", per);
        wh_pool_destroy(p); /* abandons them: no callback */
        cr_expect_eq(o.called, 0);
        wh_endpoint_unref(ep);
}

Test(pool, default_response_bytes_is_256)
{
        static const step_t steps[] = {{500, NULL, 0, 5000}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        outcome_t o = {0};

        wh.retry.max_attempts = 1;
        deliver(s, &wh, &o, 5000);
        cr_expect_eq(o.outcome, WH_OUT_EXHAUSTED);
        cr_expect_eq(o.status, 500);
        cr_expect_eq(o.body_len, 256);
        srv_stop(s);
}

Test(pool, invalid_id_is_permanent_without_sending)
{
        static const step_t steps[] = {{200}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        wh_endpoint_t *ep = endpoint(&wh);
        wh_pool_t *p = pool(1, 0);
        outcome_t o = {0};

        cr_assert_eq(wh_pool_submit(p, ep, "a\r\nX-Evil: 1", BODY, strlen(BODY),
                                    1, on_done, &o),
                     0);
        wh_endpoint_unref(ep);
        cr_expect_eq(o.called, 0);
        drive(p, 2000);
        cr_assert_eq(o.called, 1);
        cr_expect_eq(o.outcome, WH_OUT_PERMANENT);
        cr_expect_eq(srv_requests(s), 0);
        wh_pool_destroy(p);
        srv_stop(s);
}

static void *wake_later(void *arg)
{
        usleep(100 * 1000);
        wh_pool_wakeup(arg);
        return NULL;
}

Test(pool, wakeup_and_extra_fd_end_the_wait)
{
        wh_pool_t *p = pool(1, 0);
        pthread_t th;
        int fds[2];
        double t0;

        cr_assert_eq(pthread_create(&th, NULL, wake_later, p), 0);
        t0 = now_s();
        cr_expect_eq(wh_pool_run(p, 5000, -1), 0);
        cr_expect_lt(now_s() - t0, 2.0);
        pthread_join(th, NULL);

        cr_assert_eq(pipe(fds), 0);
        cr_assert_eq(write(fds[1], "x", 1), 1);
        t0 = now_s();
        cr_expect_eq(wh_pool_run(p, 5000, fds[0]), 0);
        cr_expect_lt(now_s() - t0, 2.0);
        close(fds[0]);
        close(fds[1]);

        /* nothing to do: the full timeout */
        t0 = now_s();
        cr_expect_eq(wh_pool_run(p, 100, -1), 0);
        cr_expect_geq(now_s() - t0, 0.09);
        wh_pool_destroy(p);
        wh_pool_destroy(NULL);
}

Test(pool, destroy_with_transfers_in_flight)
{
        static const step_t steps[] = {{200, NULL, 500}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        wh_endpoint_t *ep = endpoint(&wh);
        wh_pool_t *p = pool(2, 0);

        cb_calls = 0;
        for (int i = 0; i < 5; i++)
                cr_assert_eq(wh_pool_submit(p, ep, "x", BODY, strlen(BODY), 0,
                                            count_cb, NULL),
                             0);
        wh_endpoint_unref(ep);
        for (int i = 0; i < 5; i++)
                wh_pool_run(p, 20, -1);
        cr_expect_eq(wh_pool_pending(p), 5);
        wh_pool_destroy(p);
        cr_expect_eq(cb_calls, 0);
        srv_stop(s);
}

Test(pool, new_rejects_bad_conf)
{
        wh_pool_conf_t conf = {0};
        char err[128] = "";

        cr_expect_null(wh_pool_new(&conf, err, sizeof(err)));
        cr_expect_neq(err[0], '\0');
        cr_expect_null(wh_pool_new(NULL, err, sizeof(err)));
}

Test(pool, many_retries_through_the_timer_heap)
{
        /* the first 30 requests fail, everything after succeeds: with 30
         * deliveries submitted at once, every first attempt (FIFO) gets a
         * 500 and every retry, drawn from the heap at jittered times, a
         * 200 */
        static step_t steps[31];
        srv_t *s;
        cfg_webhook_t wh;
        wh_endpoint_t *ep;
        wh_pool_t *p = pool(4, 0);
        outcome_t o[30];
        int total = 0;

        for (int i = 0; i < 30; i++)
                steps[i].status = 500;
        steps[30].status = 200;
        s = srv_start(steps, 31);
        wh = webhook(s->url);
        wh.retry.initial_ms = 40;
        wh.retry.max_ms = 400;
        ep = endpoint(&wh);
        memset(o, 0, sizeof(o));
        for (int i = 0; i < 30; i++)
                cr_assert_eq(wh_pool_submit(p, ep, "r", BODY, strlen(BODY), 0,
                                            on_done, &o[i]),
                             0);
        wh_endpoint_unref(ep);
        drive(p, 10000);
        cr_assert_eq(wh_pool_pending(p), 0);
        /* Every delivery ends with exactly one 200 and every 500 costs
         * one retry: 60 attempts in all. (Which delivery gets which 500
         * is a race: a retry started after the last first attempt can
         * still reach the server before it.) */
        for (int i = 0; i < 30; i++) {
                cr_expect_eq(o[i].called, 1, "delivery %d", i);
                cr_expect_eq(o[i].outcome, WH_OUT_OK, "delivery %d", i);
                cr_expect_geq(o[i].attempts, 1, "delivery %d", i);
                total += o[i].attempts;
        }
        cr_expect_eq(total, 60);
        cr_expect_eq(srv_requests(s), 60);
        wh_pool_destroy(p);
        srv_stop(s);
}

/* --- delivery policy: caps, circuit breaker, 410, guard, hooks ---------- */

static wh_pool_t *pool_with(const wh_pool_conf_t *conf)
{
        char err[256] = "";
        wh_pool_t *p = wh_pool_new(conf, err, sizeof(err));

        cr_assert_not_null(p, "wh_pool_new: %s", err);
        return p;
}

/* Run the pool until every one of \p o[0..n) was called or \p max_ms. */
static void drive_until(wh_pool_t *p, const outcome_t *o, int n, int max_ms)
{
        double end = now_s() + max_ms / 1000.0;

        for (;;) {
                int done = 0;

                for (int i = 0; i < n; i++)
                        done += o[i].called > 0;
                if (done == n || now_s() >= end)
                        return;
                cr_assert_geq(wh_pool_run(p, 20, -1), 0);
        }
}

/* Run the pool for \p ms whatever happens. */
static void drive_for(wh_pool_t *p, int ms)
{
        double end = now_s() + ms / 1000.0;

        while (now_s() < end)
                cr_assert_geq(wh_pool_run(p, 10, -1), 0);
}

static int count_called(const outcome_t *o, int n)
{
        int c = 0;

        for (int i = 0; i < n; i++)
                c += o[i].called;
        return c;
}

/* Every attempt the hook saw, in order. */
typedef struct attempts_s {
        int n;
        long status[64];
        int will_retry[64];
        double seconds[64];
        const wh_endpoint_t *ep[64];
} attempts_t;

static void on_attempt(const wh_endpoint_t *ep, long status, double seconds,
                       int will_retry, void *opaque)
{
        attempts_t *a = opaque;

        if (a->n < 64) {
                a->ep[a->n] = ep;
                a->status[a->n] = status;
                a->seconds[a->n] = seconds;
                a->will_retry[a->n] = will_retry;
        }
        a->n++;
}

Test(policy, saturated_when_every_slot_is_busy_and_enough_wait, .timeout = 30)
{
        static const step_t steps[] = {{200, NULL, 500}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        wh_pool_conf_t conf = {.max_in_flight = 2};
        wh_pool_t *p = pool_with(&conf);
        wh_endpoint_t *ep;
        outcome_t o[10];

        wh.max_in_flight = 0;
        ep = endpoint(&wh);
        memset(o, 0, sizeof(o));
        for (int i = 0; i < 10; i++)
                cr_assert_eq(wh_pool_submit(p, ep, "x", BODY, strlen(BODY), 0,
                                            on_done, &o[i]),
                             0);
        /* nothing on the wire yet: free slots */
        cr_expect(!wh_pool_saturated(p, 1));
        cr_assert_geq(wh_pool_run(p, 0, -1), 0);
        /* 2 on the wire for 500 ms, 8 waiting: 4 per slot, not 5 */
        cr_expect_eq(wh_pool_running(p), 2);
        cr_expect_eq(wh_pool_queued(p), 8);
        cr_expect(wh_pool_saturated(p, 4));
        cr_expect(!wh_pool_saturated(p, 5));
        drive_until(p, o, 10, 10000);
        cr_expect(!wh_pool_saturated(p, 0));
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
        srv_stop(s);
}

Test(policy, hanging_webhook_keeps_to_its_cap, .timeout = 30)
{
        static const step_t slow_steps[] = {{200, NULL, 2000}};
        static const step_t fast_steps[] = {{200}};
        srv_t *slow = srv_start(slow_steps, 1),
              *fast = srv_start(fast_steps, 1);
        cfg_webhook_t ws = webhook(slow->url), wf = webhook(fast->url);
        wh_pool_conf_t conf = {.max_in_flight = 4};
        wh_pool_t *p = pool_with(&conf);
        wh_endpoint_t *es, *ef;
        outcome_t os[6], of[20];
        double t0, fast_done = 0;

        ws.timeout_ms = 10000;
        ws.max_in_flight = 2;
        wf.max_in_flight = 0; /* no own cap: the pool's 4 */
        es = endpoint(&ws);
        ef = endpoint(&wf);
        memset(os, 0, sizeof(os));
        memset(of, 0, sizeof(of));
        /* the slow one first: it would take every slot without its cap */
        for (int i = 0; i < 6; i++)
                cr_assert_eq(wh_pool_submit(p, es, "slow", BODY, strlen(BODY),
                                            0, on_done, &os[i]),
                             0);
        for (int i = 0; i < 20; i++)
                cr_assert_eq(wh_pool_submit(p, ef, "fast", BODY, strlen(BODY),
                                            0, on_done, &of[i]),
                             0);
        /* all 26 wait for a slot until a run starts some */
        cr_expect_eq(wh_pool_queued(p), 26);
        t0 = now_s();
        cr_assert_geq(wh_pool_run(p, 0, -1), 0);
        cr_expect_eq(wh_pool_running_to(p, es), 2);
        cr_expect_eq(wh_pool_queued(p) + wh_pool_running(p) +
                             (size_t)count_called(of, 20) +
                             (size_t)count_called(os, 6),
                     26);
        drive_until(p, of, 20, 5000);
        for (int i = 0; i < 20; i++) {
                cr_expect_eq(of[i].outcome, WH_OUT_OK, "fast %d", i);
                if (of[i].done_s - t0 > fast_done)
                        fast_done = of[i].done_s - t0;
        }
        cr_expect_lt(fast_done, 1.5, "the fast webhook took %.3fs", fast_done);
        /* meanwhile the slow one held exactly its two slots (the second
         * request may still be on its way to the handler) */
        while (srv_requests(slow) < 2 && now_s() - t0 < 1.5)
                cr_assert_geq(wh_pool_run(p, 10, -1), 0);
        cr_expect_eq(count_called(os, 6), 0);
        cr_expect_eq(wh_pool_running(p), 2);
        /* a webhook held at its own cap leaves slots free: not saturated
         * however many of its deliveries wait */
        cr_expect(!wh_pool_saturated(p, 1));
        cr_expect_eq(srv_requests(slow), 2);
        cr_expect_eq(srv_get(slow, &slow->max_cur), 2);
        drive_until(p, os, 6, 15000);
        for (int i = 0; i < 6; i++)
                cr_expect_eq(os[i].outcome, WH_OUT_OK, "slow %d", i);
        cr_expect_eq(srv_get(slow, &slow->max_cur), 2);
        cr_expect_eq(wh_pool_running(p), 0);
        cr_expect_eq(wh_pool_pending(p), 0);
        cr_expect_eq(wh_pool_queued(p), 0);
        wh_pool_destroy(p);
        wh_endpoint_unref(es);
        wh_endpoint_unref(ef);
        srv_stop(slow);
        srv_stop(fast);
}

Test(policy, endpoints_take_turns_for_the_slots, .timeout = 60)
{
        static const step_t steps[] = {{200}};
        srv_t *s = srv_start(steps, 1);
        char ua[96], ub[96];
        cfg_webhook_t wa, wb;
        wh_pool_conf_t conf = {.max_in_flight = 1};
        wh_pool_t *p = pool_with(&conf);
        wh_endpoint_t *ea, *eb;
        static outcome_t oa[200];
        outcome_t ob[10];
        int n = 0;

        /* one slot, no own caps: only the turn-taking keeps b from
         * waiting behind the 200 deliveries a had queued first */
        snprintf(ua, sizeof(ua), "http://127.0.0.1:%u/a", (unsigned)s->port);
        snprintf(ub, sizeof(ub), "http://127.0.0.1:%u/b", (unsigned)s->port);
        wa = webhook(ua);
        wb = webhook(ub);
        wa.name = "a";
        wb.name = "b";
        ea = endpoint(&wa);
        eb = endpoint(&wb);
        memset(oa, 0, sizeof(oa));
        memset(ob, 0, sizeof(ob));
        for (int i = 0; i < 200; i++) {
                char id[16];

                snprintf(id, sizeof(id), "a%d", i);
                cr_assert_eq(
                        wh_pool_submit(p, ea, id, "{}", 2, 0, on_done, &oa[i]),
                        0);
        }
        for (int i = 0; i < 10; i++) {
                char id[16];

                snprintf(id, sizeof(id), "b%d", i);
                cr_assert_eq(
                        wh_pool_submit(p, eb, id, "{}", 2, 0, on_done, &ob[i]),
                        0);
        }
        drive(p, 30000);
        cr_assert_eq(count_called(oa, 200) + count_called(ob, 10), 210);
        cr_assert_eq(srv_requests(s), 210);
        /* a, b, a, b, ... while both have deliveries, then the rest of a;
         * each webhook's in the order they were submitted */
        for (int i = 0; i < 10; i++) {
                char want[16];

                snprintf(want, sizeof(want), "a%d", i);
                cr_expect_str_eq(s->seen[n], want, "request %d", n);
                n++;
                snprintf(want, sizeof(want), "b%d", i);
                cr_expect_str_eq(s->seen[n], want, "request %d", n);
                n++;
        }
        for (int i = 10; i < 200; i++, n++) {
                char want[16];

                snprintf(want, sizeof(want), "a%d", i);
                cr_expect_str_eq(s->seen[n], want, "request %d", n);
        }
        wh_pool_destroy(p);
        wh_endpoint_unref(ea);
        wh_endpoint_unref(eb);
        srv_stop(s);
}

Test(policy, circuit_opens_waits_and_probes_once, .timeout = 120)
{
        /* four failures, then the receiver is back */
        static const step_t steps[] = {{500}, {500}, {500}, {500}, {200}};
        srv_t *s = srv_start(steps, 5);
        cfg_webhook_t wh = webhook(s->url);
        wh_pool_conf_t conf = {.max_in_flight = 1,
                               .circuit_failures = 3,
                               .circuit_open_ms = 500};
        wh_pool_t *p = pool_with(&conf);
        wh_endpoint_t *ep;
        attempts_t at = {0};
        outcome_t o[5];
        double t, opened_after = 0;
        int total = 0;

        wh.retry.initial_ms = 10;
        wh.retry.max_ms = 20;
        wh.retry.max_attempts = 100;
        ep = endpoint(&wh);
        wh_pool_set_attempt_cb(p, on_attempt, &at);
        memset(o, 0, sizeof(o));
        for (int i = 0; i < 5; i++)
                cr_assert_eq(wh_pool_submit(p, ep, "cb", BODY, strlen(BODY), 0,
                                            on_done, &o[i]),
                             0);
        /* three failed attempts in a row open it; opened_after is a time
         * before the run that opened it (the pool's clock is the same) */
        t = now_s() + 30;
        while (wh_pool_circuit(p, ep) != 2 && now_s() < t) {
                opened_after = now_s();
                cr_assert_geq(wh_pool_run(p, 10, -1), 0);
        }
        cr_assert_eq(wh_pool_circuit(p, ep), 2);
        cr_expect_eq(srv_requests(s), 3);
        cr_expect_eq(at.n, 3);
        /* open: nothing reaches the receiver, nothing fails, however
         * slowly it is watched (after each run that leaves it open: the
         * probe leaves it half-open until its answer) */
        t = now_s() + 30;
        while (srv_requests(s) < 4 && now_s() < t) {
                if (wh_pool_circuit(p, ep) == 2) {
                        cr_expect_eq(count_called(o, 5), 0);
                        cr_expect_eq(wh_pool_running(p), 0);
                }
                cr_assert_geq(wh_pool_run(p, 10, -1), 0);
        }
        /* then one probe, no earlier than open_ms after the opening,
         * which fails: open again (for open_ms from its answer, which
         * came after the request: the next probe no earlier than open_ms
         * after it), one request more */
        cr_assert_eq(srv_requests(s), 4);
        cr_expect_geq(s->seen_at[3] - opened_after, 0.499,
                      "the first probe came %.3f s after the opening",
                      s->seen_at[3] - opened_after);
        t = now_s() + 30;
        while (at.n < 4 && now_s() < t)
                cr_assert_geq(wh_pool_run(p, 10, -1), 0);
        cr_assert_eq(at.n, 4);
        cr_expect(wh_pool_circuit(p, ep) == 2 || now_s() - s->seen_at[3] >= 0.5,
                  "the failed probe did not open it again");
        while (srv_requests(s) < 5 && now_s() < t) {
                if (wh_pool_circuit(p, ep) == 2)
                        cr_expect_eq(count_called(o, 5), 0);
                cr_assert_geq(wh_pool_run(p, 10, -1), 0);
        }
        cr_assert_geq(srv_requests(s), 5);
        cr_expect_geq(s->seen_at[4] - s->seen_at[3], 0.499,
                      "the second probe came %.3f s after the first",
                      s->seen_at[4] - s->seen_at[3]);
        /* the next probe succeeds: closed, everything goes out */
        drive_until(p, o, 5, 30000);
        cr_expect_eq(wh_pool_circuit(p, ep), 0);
        for (int i = 0; i < 5; i++) {
                cr_expect_eq(o[i].outcome, WH_OUT_OK, "delivery %d", i);
                total += o[i].attempts;
        }
        /* waiting while open is not an attempt */
        cr_expect_eq(srv_requests(s), 9);
        cr_expect_eq(total, 9);
        cr_expect_eq(at.n, 9);
        for (int i = 0; i < 4; i++) {
                cr_expect_eq(at.status[i], 500);
                cr_expect_eq(at.will_retry[i], 1);
        }
        for (int i = 4; i < 9; i++) {
                cr_expect_eq(at.status[i], 200);
                cr_expect_eq(at.will_retry[i], 0);
        }
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
        srv_stop(s);
}

Test(policy, half_open_lets_exactly_one_probe_out, .timeout = 30)
{
        static const step_t steps[] = {{503}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        wh_pool_conf_t conf = {.max_in_flight = 8,
                               .circuit_failures = 2,
                               .circuit_open_ms = 300};
        wh_pool_t *p = pool_with(&conf);
        wh_endpoint_t *ep;
        outcome_t o[6];
        double t;
        int first;

        wh.retry.initial_ms = 10;
        wh.retry.max_ms = 20;
        wh.retry.max_attempts = 100;
        ep = endpoint(&wh);
        memset(o, 0, sizeof(o));
        for (int i = 0; i < 6; i++)
                cr_assert_eq(wh_pool_submit(p, ep, "x", BODY, strlen(BODY), 0,
                                            on_done, &o[i]),
                             0);
        /* all six go out at once (no own cap) and fail: open */
        t = now_s() + 3;
        while (wh_pool_circuit(p, ep) != 2 && now_s() < t)
                cr_assert_geq(wh_pool_run(p, 10, -1), 0);
        cr_assert_eq(wh_pool_circuit(p, ep), 2);
        drive_for(p, 100);
        first = srv_requests(s);
        /* six, or a few more when a quick retry beat the second failure
         * (a loaded machine, ASan): what matters is one probe below */
        cr_expect_geq(first, 6);
        /* the open period ends without the pool running: half-open */
        usleep(300 * 1000);
        cr_expect_eq(wh_pool_circuit(p, ep), 1);
        /* six deliveries wait, one probe goes, fails, opens it again */
        drive_for(p, 150);
        cr_expect_eq(srv_requests(s), first + 1);
        cr_expect_eq(wh_pool_circuit(p, ep), 2);
        cr_expect_eq(count_called(o, 6), 0);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
        srv_stop(s);
}

Test(policy, circuit_counts_consecutive_failures_only)
{
        /* a 400 is an answer: the streak starts again */
        static const step_t steps[] = {{500}, {500}, {400}, {500},
                                       {500}, {400}, {200}};
        srv_t *s = srv_start(steps, 7);
        cfg_webhook_t wh = webhook(s->url);
        wh_pool_conf_t conf = {.max_in_flight = 1,
                               .circuit_failures = 3,
                               .circuit_open_ms = 60000};
        wh_pool_t *p = pool_with(&conf);
        wh_endpoint_t *ep;
        outcome_t o[3];

        wh.retry.max_attempts = 10;
        ep = endpoint(&wh);
        memset(o, 0, sizeof(o));
        for (int i = 0; i < 3; i++)
                cr_assert_eq(wh_pool_submit(p, ep, "x", BODY, strlen(BODY), 0,
                                            on_done, &o[i]),
                             0);
        drive_until(p, o, 3, 5000);
        cr_expect_eq(count_called(o, 3), 3);
        cr_expect_eq(srv_requests(s), 7);
        cr_expect_eq(wh_pool_circuit(p, ep), 0);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
        srv_stop(s);
}

Test(policy, breaker_off_never_opens)
{
        static const step_t steps[] = {{500}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        wh_pool_conf_t conf = {.max_in_flight = 2, .circuit_failures = 0};
        wh_pool_t *p = pool_with(&conf);
        wh_endpoint_t *ep;
        outcome_t o = {0};

        wh.retry.max_attempts = 8;
        wh.retry.max_ms = 20;
        ep = endpoint(&wh);
        cr_assert_eq(
                wh_pool_submit(p, ep, "x", BODY, strlen(BODY), 0, on_done, &o),
                0);
        drive_until(p, &o, 1, 5000);
        cr_expect_eq(o.outcome, WH_OUT_EXHAUSTED);
        cr_expect_eq(o.attempts, 8);
        cr_expect_eq(wh_pool_circuit(p, ep), 0);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
        srv_stop(s);
}

Test(policy, gone_disables_the_endpoint, .timeout = 30)
{
        /* the first request fails (its delivery then waits 5 s for a
         * retry), the second is a 410 */
        static const step_t steps[] = {{500}, {410}, {200}};
        srv_t *s = srv_start(steps, 3);
        cfg_webhook_t wh = webhook(s->url);
        wh_pool_conf_t conf = {.max_in_flight = 4};
        wh_pool_t *p = pool_with(&conf);
        wh_endpoint_t *ep;
        outcome_t o[5], late = {0}, again = {0};
        double t0;

        wh.max_in_flight = 1;
        wh.retry.initial_ms = 5000;
        wh.retry.max_ms = 5000;
        ep = endpoint(&wh);
        memset(o, 0, sizeof(o));
        for (int i = 0; i < 5; i++)
                cr_assert_eq(wh_pool_submit(p, ep, "g", BODY, strlen(BODY),
                                            i == 4, on_done, &o[i]),
                             0);
        t0 = now_s();
        drive_until(p, o, 5, 3000);
        cr_expect_lt(now_s() - t0, 2.0, "the waiting retry was not ended");
        cr_expect_eq(wh_pool_disabled(p, ep), 1);
        /* the 410 itself: permanent with its status */
        cr_expect_eq(o[1].outcome, WH_OUT_PERMANENT);
        cr_expect_eq(o[1].status, 410);
        cr_expect_eq(o[1].attempts, 1);
        /* the one waiting for its retry, and those never sent */
        cr_expect_eq(o[0].outcome, WH_OUT_DISABLED);
        cr_expect_eq(o[0].attempts, 1);
        for (int i = 2; i < 5; i++) {
                cr_expect_eq(o[i].outcome, WH_OUT_DISABLED, "delivery %d", i);
                cr_expect_eq(o[i].attempts, 0);
                cr_expect_not_null(strstr(o[i].error, "410"), "%s", o[i].error);
        }
        cr_expect_eq(srv_requests(s), 2);

        /* later deliveries end at once, from the next run, unsent */
        cr_assert_eq(wh_pool_submit(p, ep, "late", BODY, strlen(BODY), 1,
                                    on_done, &late),
                     0);
        cr_expect_eq(late.called, 0, "callback from inside submit");
        cr_expect_eq(wh_pool_run(p, 1000, -1), 1);
        cr_expect_eq(late.outcome, WH_OUT_DISABLED);
        cr_expect_eq(srv_requests(s), 2);

        /* re-enabled (what a reload amounts to): sent again */
        cr_assert_eq(wh_pool_set_disabled(p, ep, 0), 0);
        cr_expect_eq(wh_pool_disabled(p, ep), 0);
        cr_assert_eq(wh_pool_submit(p, ep, "again", BODY, strlen(BODY), 0,
                                    on_done, &again),
                     0);
        drive_until(p, &again, 1, 3000);
        cr_expect_eq(again.outcome, WH_OUT_OK);
        cr_expect_eq(srv_requests(s), 3);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
        srv_stop(s);
}

Test(policy, gone_with_forever_is_disabled_not_retried)
{
        static const step_t steps[] = {{410}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        wh_pool_conf_t conf = {.max_in_flight = 1};
        wh_pool_t *p = pool_with(&conf);
        wh_endpoint_t *ep;
        outcome_t o = {0};

        wh.retry.max_ms = 60000;
        ep = endpoint(&wh);
        cr_assert_eq(
                wh_pool_submit(p, ep, "f", BODY, strlen(BODY), 1, on_done, &o),
                0);
        drive_until(p, &o, 1, 3000);
        cr_expect_eq(o.outcome, WH_OUT_DISABLED);
        cr_expect_eq(o.status, 410);
        cr_expect_eq(srv_requests(s), 1);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
        srv_stop(s);
}

Test(policy, disabled_by_hand_sends_nothing)
{
        static const step_t steps[] = {{200}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        wh_pool_conf_t conf = {.max_in_flight = 1};
        wh_pool_t *p = pool_with(&conf);
        wh_endpoint_t *ep = endpoint(&wh);
        outcome_t o[3];

        memset(o, 0, sizeof(o));
        for (int i = 0; i < 3; i++)
                cr_assert_eq(wh_pool_submit(p, ep, "d", BODY, strlen(BODY), 0,
                                            on_done, &o[i]),
                             0);
        cr_assert_eq(wh_pool_set_disabled(p, ep, 1), 0);
        drive_until(p, o, 3, 3000);
        for (int i = 0; i < 3; i++)
                cr_expect_eq(o[i].outcome, WH_OUT_DISABLED);
        cr_expect_eq(srv_requests(s), 0);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
        srv_stop(s);
}

Test(policy, attempt_hook_sees_every_attempt)
{
        static const step_t steps[] = {{500}, {503, "0"}, {204}};
        srv_t *s = srv_start(steps, 3);
        cfg_webhook_t wh = webhook(s->url);
        wh_pool_conf_t conf = {.max_in_flight = 1};
        wh_pool_t *p = pool_with(&conf);
        wh_endpoint_t *ep = endpoint(&wh);
        attempts_t at = {0};
        outcome_t o = {0};

        wh_pool_set_attempt_cb(p, on_attempt, &at);
        cr_assert_eq(
                wh_pool_submit(p, ep, "h", BODY, strlen(BODY), 0, on_done, &o),
                0);
        drive_until(p, &o, 1, 3000);
        cr_expect_eq(o.outcome, WH_OUT_OK);
        cr_assert_eq(at.n, 3);
        cr_expect_eq(at.status[0], 500);
        cr_expect_eq(at.status[1], 503);
        cr_expect_eq(at.status[2], 204);
        cr_expect_eq(at.will_retry[0], 1);
        cr_expect_eq(at.will_retry[1], 1);
        cr_expect_eq(at.will_retry[2], 0);
        for (int i = 0; i < 3; i++) {
                cr_expect_eq(at.ep[i], ep);
                cr_expect(at.seconds[i] > 0 && at.seconds[i] < 2.0);
        }
        /* the last one of max_attempts: no retry */
        {
                static const step_t s500[] = {{500}};
                srv_t *s2 = srv_start(s500, 1);
                cfg_webhook_t w2 = webhook(s2->url);
                wh_endpoint_t *e2;
                outcome_t o2 = {0};

                w2.retry.max_attempts = 2;
                e2 = endpoint(&w2);
                at.n = 0;
                cr_assert_eq(wh_pool_submit(p, e2, "h", BODY, strlen(BODY), 0,
                                            on_done, &o2),
                             0);
                drive_until(p, &o2, 1, 3000);
                cr_expect_eq(o2.outcome, WH_OUT_EXHAUSTED);
                cr_assert_eq(at.n, 2);
                cr_expect_eq(at.will_retry[0], 1);
                cr_expect_eq(at.will_retry[1], 0);
                wh_endpoint_unref(e2);
                srv_stop(s2);
        }
        wh_pool_set_attempt_cb(p, NULL, NULL);
        wh_pool_set_attempt_cb(NULL, on_attempt, &at);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
        srv_stop(s);
}

Test(policy, attempt_hook_transport_error_is_status_0)
{
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa;
        socklen_t len = sizeof(sa);
        char url[64];
        cfg_webhook_t wh;
        wh_pool_conf_t conf = {.max_in_flight = 1};
        wh_pool_t *p = pool_with(&conf);
        wh_endpoint_t *ep;
        attempts_t at = {0};
        outcome_t o = {0};

        /* bound, never listening: refused */
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook",
                 (unsigned)ntohs(sa.sin_port));
        wh = webhook(url);
        wh.retry.max_attempts = 1;
        ep = endpoint(&wh);
        wh_pool_set_attempt_cb(p, on_attempt, &at);
        cr_assert_eq(
                wh_pool_submit(p, ep, "t", BODY, strlen(BODY), 0, on_done, &o),
                0);
        drive_until(p, &o, 1, 3000);
        close(fd);
        cr_expect_eq(o.outcome, WH_OUT_EXHAUSTED);
        cr_assert_eq(at.n, 1);
        cr_expect_eq(at.status[0], 0);
        cr_expect_eq(at.will_retry[0], 0);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
}

Test(policy, ssrf_guard_refuses_unless_allowed)
{
        static const step_t steps[] = {{200}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        const char *allow[] = {"127.0.0.0/8"};
        wh_pool_conf_t conf = {.max_in_flight = 2, .ssrf_guard = 1};
        wh_pool_t *p = pool_with(&conf);
        wh_endpoint_t *ep = endpoint(&wh);
        attempts_t at = {0};
        outcome_t o = {0}, ok = {0};

        wh_pool_set_attempt_cb(p, on_attempt, &at);
        /* forever: still not retried, the address will not change its
         * kind */
        cr_assert_eq(
                wh_pool_submit(p, ep, "r", BODY, strlen(BODY), 1, on_done, &o),
                0);
        drive_until(p, &o, 1, 3000);
        cr_expect_eq(o.outcome, WH_OUT_PERMANENT);
        cr_expect_eq(o.attempts, 1);
        cr_expect_eq(o.status, 0);
        cr_expect_not_null(strstr(o.error, "127.0.0.1 is a loopback address; "
                                           "allow it with "
                                           "delivery.allow_networks"),
                           "%s", o.error);
        cr_expect_eq(srv_requests(s), 0);
        cr_expect_eq(at.n, 1);
        cr_expect_eq(at.status[0], 0);
        wh_pool_destroy(p);

        conf.allow_networks = allow;
        conf.allow_network_count = 1;
        p = pool_with(&conf);
        cr_assert_eq(
                wh_pool_submit(p, ep, "r", BODY, strlen(BODY), 0, on_done, &ok),
                0);
        drive_until(p, &ok, 1, 3000);
        cr_expect_eq(ok.outcome, WH_OUT_OK, "%s", ok.error);
        cr_expect_eq(srv_requests(s), 1);
        wh_pool_destroy(p);

        {
                const char *bad[] = {"127.0.0.0/99"};
                char err[256] = "";

                conf.allow_networks = bad;
                cr_expect_null(wh_pool_new(&conf, err, sizeof(err)));
                cr_expect_not_null(strstr(err, "is not a CIDR"), "%s", err);
        }
        wh_endpoint_unref(ep);
        srv_stop(s);
}

Test(policy, refused_probe_does_not_wedge_the_circuit, .timeout = 30)
{
        /* an endpoint whose circuit is half-open when the guard refuses
         * its probe (its name now resolves elsewhere): later deliveries
         * must still be tried */
        static const step_t steps[] = {{200}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        wh_pool_conf_t conf = {.max_in_flight = 2,
                               .ssrf_guard = 1,
                               .circuit_failures = 1,
                               .circuit_open_ms = 50};
        wh_pool_t *p = pool_with(&conf);
        wh_endpoint_t *ep = endpoint(&wh);
        wh_sched_t *st;
        outcome_t o[2];

        memset(o, 0, sizeof(o));
        for (int i = 0; i < 2; i++)
                cr_assert_eq(wh_pool_submit(p, ep, "p", BODY, strlen(BODY), 0,
                                            on_done, &o[i]),
                             0);
        /* as if it had failed and the open period were over */
        st = wh_pool_sched(p, ep);
        cr_assert_not_null(st);
        st->circuit = 2;
        st->failures = 1;
        st->open_until = 0;
        drive_until(p, o, 2, 3000);
        cr_expect_eq(o[0].outcome, WH_OUT_PERMANENT);
        cr_expect_eq(o[1].outcome, WH_OUT_PERMANENT);
        cr_expect_eq(st->probing, 0);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
        srv_stop(s);
}

Test(policy, https_only_refuses_http)
{
        static const step_t steps[] = {{200}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        wh_pool_conf_t conf = {.max_in_flight = 1, .https_only = 1};
        wh_pool_t *p = pool_with(&conf);
        wh_endpoint_t *ep = endpoint(&wh);
        outcome_t o = {0};

        cr_assert_eq(
                wh_pool_submit(p, ep, "h", BODY, strlen(BODY), 1, on_done, &o),
                0);
        drive_until(p, &o, 1, 3000);
        cr_expect_eq(o.outcome, WH_OUT_PERMANENT);
        cr_expect_eq(o.attempts, 1);
        cr_expect_not_null(strstr(o.error, "http"), "%s", o.error);
        cr_expect_eq(srv_requests(s), 0);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
        srv_stop(s);
}

Test(policy, proxy_from_the_environment_is_ignored)
{
        static const step_t steps[] = {{200}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        outcome_t o = {0};

        /* a proxy that does not exist: the delivery would fail through it
         * (and the guard would see the proxy, not the webhook) */
        setenv("http_proxy", "http://127.0.0.1:1", 1);
        setenv("HTTPS_PROXY", "http://127.0.0.1:1", 1);
        setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
        deliver(s, &wh, &o, 5000);
        cr_expect_eq(o.outcome, WH_OUT_OK, "%s", o.error);
        cr_expect_eq(srv_requests(s), 1);
        srv_stop(s);
}

Test(policy, pools_schedule_an_endpoint_independently)
{
        /* the scheduling state is each pool's own: a second pool may take
         * deliveries of an endpoint the first still has */
        static const step_t steps[] = {{200}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        wh_pool_conf_t conf = {.max_in_flight = 1};
        wh_pool_t *p1 = pool_with(&conf), *p2 = pool_with(&conf);
        wh_endpoint_t *ep = endpoint(&wh);
        outcome_t o1 = {0}, o2 = {0};

        cr_assert_eq(wh_pool_submit(p1, ep, "1", BODY, strlen(BODY), 0, on_done,
                                    &o1),
                     0);
        cr_assert_eq(wh_pool_submit(p2, ep, "2", BODY, strlen(BODY), 0, on_done,
                                    &o2),
                     0);
        cr_expect_eq(wh_pool_queued(p1), 1);
        cr_expect_eq(wh_pool_queued(p2), 1);
        /* a mark in one pool is not the other's */
        cr_assert_eq(wh_pool_set_disabled(p1, ep, 1), 0);
        cr_expect_eq(wh_pool_disabled(p2, ep), 0);
        cr_assert_eq(wh_pool_set_disabled(p1, ep, 0), 0);
        drive_until(p1, &o1, 1, 3000);
        drive_until(p2, &o2, 1, 3000);
        cr_expect_eq(o1.outcome, WH_OUT_OK);
        cr_expect_eq(o2.outcome, WH_OUT_OK);
        wh_pool_destroy(p1);
        wh_pool_destroy(p2);
        wh_endpoint_unref(ep);
        srv_stop(s);
}

Test(policy, endpoint_outlives_a_pool_with_queued_deliveries, .timeout = 30)
{
        static const step_t steps[] = {{200, NULL, 300}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        wh_pool_conf_t conf = {.max_in_flight = 1};
        wh_pool_t *p = pool_with(&conf);
        wh_endpoint_t *ep;
        outcome_t o[4], after = {0};

        /* below its own cap, the pool full: queued and in the turn */
        wh.max_in_flight = 2;
        ep = endpoint(&wh);
        memset(o, 0, sizeof(o));
        for (int i = 0; i < 4; i++)
                cr_assert_eq(wh_pool_submit(p, ep, "q", BODY, strlen(BODY), 0,
                                            on_done, &o[i]),
                             0);
        drive_for(p, 50); /* one on the wire, three queued */
        cr_expect_eq(wh_pool_running(p), 1);
        cr_expect_neq(wh_pool_sched(p, ep)->listed, 0);
        wh_pool_destroy(p);
        cr_expect_eq(count_called(o, 4), 0);

        /* nothing of that pool is left on the endpoint */
        p = pool_with(&conf);
        cr_expect_null(wh_pool_sched(p, ep));
        cr_assert_eq(wh_pool_submit(p, ep, "q", BODY, strlen(BODY), 0, on_done,
                                    &after),
                     0);
        drive_until(p, &after, 1, 3000);
        cr_expect_eq(after.outcome, WH_OUT_OK);
        wh_pool_destroy(p);
        wh_endpoint_unref(ep);
        srv_stop(s);
}

Test(policy, what_the_pool_learnt_lasts_while_the_endpoint_is_held,
     .timeout = 30)
{
        /* the 410 mark outlives the deliveries while the worker holds the
         * endpoint; once nobody does, the pool forgets it (and drops its
         * reference: ASan/valgrind see no leak) */
        static const step_t steps[] = {{410}};
        srv_t *s = srv_start(steps, 1);
        cfg_webhook_t wh = webhook(s->url);
        wh_pool_conf_t conf = {.max_in_flight = 1};
        wh_pool_t *p = pool_with(&conf);
        wh_endpoint_t *ep = endpoint(&wh), *gone;
        outcome_t o = {0}, late = {0};

        cr_assert_eq(
                wh_pool_submit(p, ep, "g", BODY, strlen(BODY), 0, on_done, &o),
                0);
        drive_until(p, &o, 1, 3000);
        cr_expect_eq(o.status, 410);
        drive_for(p, 1200); /* a sweep or more */
        cr_expect_eq(wh_pool_disabled(p, ep), 1);
        cr_assert_eq(wh_pool_submit(p, ep, "late", BODY, strlen(BODY), 0,
                                    on_done, &late),
                     0);
        drive_until(p, &late, 1, 3000);
        cr_expect_eq(late.outcome, WH_OUT_DISABLED);
        cr_expect_eq(srv_requests(s), 1);

        gone = ep;
        wh_endpoint_unref(ep); /* a reload: the pool holds the last one */
        drive_for(p, 1200);
        cr_expect_null(wh_pool_sched(p, gone)); /* compares the address */
        wh_pool_destroy(p);
        srv_stop(s);
}

/*
 * Issue 11's sick run in small: 8 of 16 endpoints hang (no answer before
 * their 1 s time-out), each with many deliveries, all at the endpoint cap
 * of half the slots. Without a limit on suspect endpoints every slot ends
 * up on a hanging one after each time-out and the healthy 8 wait for all
 * 80 hanging deliveries (~10 s); with it the hanging ones keep to one
 * request each and a quarter of the slots once they time out, and the
 * healthy ones are all delivered while the hanging ones still wait.
 */
Test(policy, hanging_endpoints_do_not_starve_the_healthy, .timeout = 60)
{
        static const step_t hang_steps[] = {{200, NULL, 30000}};
        static const step_t fast_steps[] = {{200}};
        enum { NH = 8, NF = 8, PER_H = 10, PER_F = 20 };
        srv_t *hang = srv_start(hang_steps, 1),
              *fast = srv_start(fast_steps, 1);
        wh_pool_conf_t conf = {.max_in_flight = 8};
        wh_pool_t *p = pool_with(&conf);
        wh_endpoint_t *eh[NH], *ef[NF];
        static outcome_t oh[NH * PER_H], of[NF * PER_F];
        char url[128];
        double t0;

        memset(oh, 0, sizeof(oh));
        memset(of, 0, sizeof(of));
        for (int i = 0; i < NH; i++) {
                cfg_webhook_t wh;

                snprintf(url, sizeof(url), "%s%d", hang->url, i);
                wh = webhook(url);
                wh.timeout_ms = 1000;
                wh.retry.max_attempts = 1;
                wh.max_in_flight = 4;
                eh[i] = endpoint(&wh);
        }
        for (int i = 0; i < NF; i++) {
                cfg_webhook_t wh;

                snprintf(url, sizeof(url), "%s%d", fast->url, i);
                wh = webhook(url);
                wh.max_in_flight = 4;
                ef[i] = endpoint(&wh);
        }
        /* the hanging ones first: they take the first turns */
        for (int k = 0; k < PER_H; k++)
                for (int i = 0; i < NH; i++)
                        cr_assert_eq(wh_pool_submit(p, eh[i], "h", BODY,
                                                    strlen(BODY), 0, on_done,
                                                    &oh[k * NH + i]),
                                     0);
        for (int k = 0; k < PER_F; k++)
                for (int i = 0; i < NF; i++)
                        cr_assert_eq(wh_pool_submit(p, ef[i], "f", BODY,
                                                    strlen(BODY), 0, on_done,
                                                    &of[k * NF + i]),
                                     0);
        t0 = now_s();
        drive_until(p, of, NF * PER_F, 5000);
        cr_expect_eq(count_called(of, NF * PER_F), NF * PER_F,
                     "healthy delivered in %.1f s: %d of %d", now_s() - t0,
                     count_called(of, NF * PER_F), NF * PER_F);
        for (int i = 0; i < NF * PER_F; i++)
                cr_expect_eq(of[i].outcome, WH_OUT_OK);
        /* the hanging ones timed out, some still wait: they kept to their
         * share (2 of 8 slots), one request each */
        cr_expect_lt(count_called(oh, NH * PER_H), NH * PER_H);
        cr_expect_leq(wh_pool_running(p), 8);
        wh_pool_destroy(p);
        for (int i = 0; i < NH; i++)
                wh_endpoint_unref(eh[i]);
        for (int i = 0; i < NF; i++)
                wh_endpoint_unref(ef[i]);
        srv_stop(hang);
        srv_stop(fast);
}
