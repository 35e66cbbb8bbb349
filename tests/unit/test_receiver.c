/* Tests for rx_receiver: scripts, signatures, recording, control, load. All
 * traffic stays on 127.0.0.1 (libcurl, proxies off). */
#include <criterion/criterion.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wh_sign.h"
#include "rx_receiver.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

/* What the callback saw; it runs on the receiver's threads. */
static struct {
        pthread_mutex_t lock;
        int calls;
        uint64_t last_seq;
        int last_verified;
        int last_status;
        int seq_in_order;
        char last_path[64];
} seen = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 1, ""};

static rx_t *rx;
static char record_path[] = "/tmp/hb-test-receiver-XXXXXX";

typedef struct resp_s {
        CURLcode rc;
        long status;
        double secs;
        char retry_after[128];
        char body[256];
        size_t body_len;
} resp_t;

static void on_req(const rx_request_t *req, void *opaque)
{
        (void)opaque;
        pthread_mutex_lock(&seen.lock);
        seen.calls++;
        if (req->seq != seen.last_seq + 1)
                seen.seq_in_order = 0;
        seen.last_seq = req->seq;
        seen.last_verified = req->verified;
        seen.last_status = req->status;
        snprintf(seen.last_path, sizeof(seen.last_path), "%s", req->path);
        pthread_mutex_unlock(&seen.lock);
}

static void start_rx(int control)
{
        rx_conf_t conf = {
                .record_path = record_path, .cb = on_req, .control = control};
        char err[256] = "";
        int fd = mkstemp(record_path);

        cr_assert(fd >= 0);
        close(fd);
        rx = rx_start(&conf, err, sizeof(err));
        cr_assert_not_null(rx, "rx_start: %s", err);
        cr_assert_neq(rx_port(rx), 0);
}

static void setup(void)
{
        curl_global_init(CURL_GLOBAL_DEFAULT);
        start_rx(0);
}

static void setup_control(void)
{
        curl_global_init(CURL_GLOBAL_DEFAULT);
        start_rx(1);
}

static void teardown(void)
{
        rx_stop(rx);
        rx = NULL;
        unlink(record_path);
        curl_global_cleanup();
}

static size_t on_header(char *buf, size_t size, size_t n, void *opaque)
{
        resp_t *r = opaque;
        size_t len = size * n;
        static const char name[] = "Retry-After:";

        if (len > sizeof(name) - 1 &&
            !strncasecmp(buf, name, sizeof(name) - 1)) {
                const char *v = buf + sizeof(name) - 1;
                size_t vl = len - (sizeof(name) - 1);

                while (vl > 0 && *v == ' ') {
                        v++;
                        vl--;
                }
                while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
                        vl--;
                if (vl >= sizeof(r->retry_after))
                        vl = sizeof(r->retry_after) - 1;
                memcpy(r->retry_after, v, vl);
                r->retry_after[vl] = '\0';
        }
        return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *opaque)
{
        resp_t *r = opaque;
        size_t len = size * n, room = sizeof(r->body) - 1 - r->body_len;

        memcpy(r->body + r->body_len, buf, len < room ? len : room);
        r->body_len += len < room ? len : room;
        r->body[r->body_len] = '\0';
        return len;
}

static CURL *easy_for(resp_t *r, const char *method, const char *path,
                      const char *body, size_t body_len,
                      struct curl_slist *hdrs)
{
        CURL *c = curl_easy_init();
        char url[256];

        cr_assert_not_null(c);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s",
                 (unsigned)rx_port(rx), path);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROXY, "");
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
        if (body) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                                 (curl_off_t)body_len);
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        }
        if (method)
                curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        if (hdrs)
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        return c;
}

/* One request on a fresh connection (a reused one that gets no answer is
 * retried by libcurl on its own, which would hide a "drop"). */
static resp_t request(const char *method, const char *path, const char *body,
                      struct curl_slist *hdrs)
{
        resp_t r = {0};
        CURL *c =
                easy_for(&r, method, path, body, body ? strlen(body) : 0, hdrs);

        r.rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
        curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r.secs);
        curl_easy_cleanup(c);
        return r;
}

static resp_t post(const char *path, const char *body)
{
        return request(NULL, path, body ? body : "{}", NULL);
}

static long status_of(const char *path)
{
        resp_t r = post(path, "{}");

        cr_assert_eq(r.rc, CURLE_OK, "%s: %s", path, curl_easy_strerror(r.rc));
        return r.status;
}

TestSuite(receiver, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(receiver_control, .init = setup_control, .fini = teardown,
          .timeout = 60);

Test(receiver, default_is_200_on_an_ephemeral_loopback_port)
{
        cr_assert_eq(status_of("/anything"), 200);
        cr_assert_eq(rx_count(rx), 1);
}

Test(receiver, script_advances_and_repeats_the_last_step)
{
        resp_t r;

        cr_assert_eq(rx_set_script(rx, "/a", "500,503:ra=2,201"), 0);
        cr_assert_eq(status_of("/a"), 500);
        r = post("/a", "{}");
        cr_assert_eq(r.status, 503);
        cr_assert_str_eq(r.retry_after, "2");
        cr_assert_eq(status_of("/a"), 201);
        cr_assert_eq(status_of("/a"), 201);
        cr_assert_eq(status_of("/a"), 201);
        /* other paths are not affected */
        cr_assert_eq(status_of("/b"), 200);
        /* setting a script again starts it over */
        cr_assert_eq(rx_set_script(rx, "/a", "500,201"), 0);
        cr_assert_eq(status_of("/a"), 500);
}

Test(receiver, repeat_count_and_wildcard)
{
        cr_assert_eq(rx_set_script(rx, "/a", " 500*3 , 429 ,200\n"), 0);
        cr_assert_eq(status_of("/a"), 500);
        cr_assert_eq(status_of("/a"), 500);
        cr_assert_eq(status_of("/a"), 500);
        cr_assert_eq(status_of("/a"), 429);
        cr_assert_eq(status_of("/a"), 200);

        cr_assert_eq(rx_set_script(rx, "*", "502"), 0);
        cr_assert_eq(status_of("/other"), 502);
        cr_assert_eq(status_of("/a"), 200); /* its own script wins */
        /* the last step repeats even with a count */
        cr_assert_eq(rx_set_script(rx, "/c", "410*2"), 0);
        for (int i = 0; i < 4; i++)
                cr_assert_eq(status_of("/c"), 410);
        /* reset */
        cr_assert_eq(rx_set_script(rx, "*", ""), 0);
        cr_assert_eq(status_of("/other"), 200);
        cr_assert_eq(rx_set_script(rx, "/c", NULL), 0);
        cr_assert_eq(status_of("/c"), 200);
}

Test(receiver, retry_after_as_http_date)
{
        resp_t r;
        time_t when, now;

        cr_assert_eq(rx_set_script(rx, "/d", "429:ra=date+2"), 0);
        now = time(NULL);
        r = post("/d", "{}");
        cr_assert_eq(r.status, 429);
        cr_assert(strstr(r.retry_after, " GMT") != NULL, "Retry-After: %s",
                  r.retry_after);
        when = curl_getdate(r.retry_after, NULL);
        cr_assert(when >= now + 1 && when <= now + 4,
                  "Retry-After %s is %ld s from now", r.retry_after,
                  (long)(when - now));
}

Test(receiver, malformed_scripts_are_refused)
{
        static const char *bad[] = {
                "abc",      "500,",         ",500",          "99",
                "600",      "500*0",        "500*x",         "delay=",
                "delay=-1", "200:foo",      "200:ra",        "ra=2",
                "503:ra=x", "429:ra=date+", "drop:ra=y",     "2OO",
                "500**2",   "200:",         "delay=9999999",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                cr_assert_eq(rx_set_script(rx, "/x", bad[i]), -1,
                             "accepted \"%s\"", bad[i]);
        cr_assert_eq(rx_set_script(rx, "/x",
                                   "200,500,503:ra=2,429:ra=date+2,"
                                   "delay=1500,200:delay=100,drop,"
                                   "500*20,drop:delay=5,204:ra=0*2"),
                     0);
}

Test(receiver, drop_closes_without_an_answer)
{
        resp_t r;

        cr_assert_eq(rx_set_script(rx, "/drop", "drop,200"), 0);
        r = post("/drop", "{}");
        cr_assert_neq(r.rc, CURLE_OK);
        cr_assert_eq(r.status, 0);
        cr_assert_eq(status_of("/drop"), 200);
        cr_assert_eq(rx_count(rx), 2);
        pthread_mutex_lock(&seen.lock);
        cr_assert_eq(seen.calls, 2);
        pthread_mutex_unlock(&seen.lock);
}

typedef struct slow_s {
        const char *path;
        resp_t r;
} slow_t;

static void *slow_main(void *arg)
{
        slow_t *s = arg;

        s->r = post(s->path, "{}");
        return NULL;
}

static double mono_secs(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(receiver, delay_holds_the_answer_but_no_thread)
{
        enum { N = 6 };
        slow_t slow[N];
        pthread_t th[N];
        double t0, fast, total;
        resp_t r;

        cr_assert_eq(rx_set_script(rx, "/slow", "delay=600"), 0);
        cr_assert_eq(rx_set_script(rx, "/late", "503:delay=300:ra=1"), 0);
        r = post("/late", "{}");
        cr_assert_eq(r.status, 503);
        cr_assert_str_eq(r.retry_after, "1");
        cr_assert(r.secs >= 0.29, "answered after %.3f s", r.secs);

        /* more delayed requests than pool threads, then a quick one */
        t0 = mono_secs();
        for (int i = 0; i < N; i++) {
                slow[i].path = "/slow";
                cr_assert_eq(pthread_create(&th[i], NULL, slow_main, &slow[i]),
                             0);
        }
        usleep(100 * 1000);
        r = post("/fast", "{}");
        fast = r.secs;
        cr_assert_eq(r.status, 200);
        for (int i = 0; i < N; i++)
                pthread_join(th[i], NULL);
        total = mono_secs() - t0;
        for (int i = 0; i < N; i++) {
                cr_assert_eq(slow[i].r.status, 200);
                cr_assert(slow[i].r.secs >= 0.59, "slow after %.3f s",
                          slow[i].r.secs);
        }
        cr_assert(fast < 0.3, "a quick request waited %.3f s", fast);
        cr_assert(total < 1.5, "%d delays of 0.6 s took %.3f s", N, total);
}

/* A request signed as the producers sign it. */
static resp_t signed_post(const char *path, const char *body,
                          const char *sign_with, int userpilot, int tamper)
{
        char err[128], sig[WH_SIGN_MAX], hdr[WH_SIGN_MAX + 64];
        wh_key_t *key = wh_key_new(sign_with, err, sizeof(err));
        struct curl_slist *hdrs = NULL;
        int64_t ts = (int64_t)time(NULL);
        resp_t r;

        cr_assert_not_null(key, "wh_key_new: %s", err);
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        hdrs = curl_slist_append(hdrs, "webhook-id: msg_1");
        if (userpilot) {
                cr_assert(wh_sign_userpilot(key, ts, body, strlen(body), sig,
                                            sizeof(sig)) > 0);
                snprintf(hdr, sizeof(hdr), "X-Signature: %s", sig);
        } else {
                snprintf(hdr, sizeof(hdr), "webhook-timestamp: %lld",
                         (long long)ts);
                hdrs = curl_slist_append(hdrs, hdr);
                cr_assert(wh_sign_standard(key, "msg_1", ts, body, strlen(body),
                                           sig, sizeof(sig)) > 0);
                snprintf(hdr, sizeof(hdr), "webhook-signature: %s", sig);
        }
        hdrs = curl_slist_append(hdrs, hdr);
        r = request(NULL, path, tamper ? "{\"tampered\":1}" : body, hdrs);
        curl_slist_free_all(hdrs);
        wh_key_destroy(key);
        return r;
}

static int last_verified(void)
{
        int v;

        pthread_mutex_lock(&seen.lock);
        v = seen.last_verified;
        pthread_mutex_unlock(&seen.lock);
        return v;
}

Test(receiver, standard_signatures_are_verified)
{
        const char *body = "{\"type\":\"flows.completed\",\"timestamp\":1}";

        cr_assert_eq(rx_set_secret(rx, "/s", SECRET, 0), 0);
        cr_assert_eq(signed_post("/s", body, SECRET, 0, 0).status, 200);
        cr_assert_eq(last_verified(), 1);
        signed_post("/s", body, SECRET, 0, 1);
        cr_assert_eq(last_verified(), 0);
        signed_post("/s", body, "another-secret", 0, 0);
        cr_assert_eq(last_verified(), 0);
        post("/s", body); /* unsigned */
        cr_assert_eq(last_verified(), 0);
        /* a path with no secret */
        signed_post("/nosecret", body, SECRET, 0, 0);
        cr_assert_eq(last_verified(), -1);
        /* "*" covers the rest; a removed secret is gone */
        cr_assert_eq(rx_set_secret(rx, "*", SECRET, 0), 0);
        signed_post("/nosecret", body, SECRET, 0, 0);
        cr_assert_eq(last_verified(), 1);
        cr_assert_eq(rx_set_secret(rx, "*", NULL, 0), 0);
        signed_post("/nosecret", body, SECRET, 0, 0);
        cr_assert_eq(last_verified(), -1);
}

Test(receiver, stats_count_signatures_verified_and_not)
{
        const char *body = "{\"type\":\"flows.completed\",\"timestamp\":1}";
        rx_stats_t st;

        cr_assert_eq(rx_set_secret(rx, "/s", SECRET, 0), 0);
        cr_assert_eq(rx_set_secret(rx, "/u", "plain-secret", 1), 0);
        signed_post("/s", body, SECRET, 0, 0);
        signed_post("/u", body, "plain-secret", 1, 0);
        signed_post("/s", body, SECRET, 0, 1);           /* tampered */
        signed_post("/s", body, "another-secret", 0, 0); /* wrong key */
        post("/u", body);                                /* unsigned */
        signed_post("/nosecret", body, SECRET, 0, 0);    /* not checked */
        rx_stats(rx, &st);
        cr_assert_eq(st.requests, 6);
        cr_assert_eq(st.verified, 2);
        cr_assert_eq(st.unverified, 3);
}

Test(receiver, userpilot_signatures_are_verified)
{
        const char *body = "{\"type\":\"nps.score\"}";

        cr_assert_eq(rx_set_secret(rx, "/u", "plain-secret", 1), 0);
        signed_post("/u", body, "plain-secret", 1, 0);
        cr_assert_eq(last_verified(), 1);
        signed_post("/u", body, "plain-secret", 1, 1);
        cr_assert_eq(last_verified(), 0);
        /* a standard signature is not what this path expects */
        signed_post("/u", body, "plain-secret", 0, 0);
        cr_assert_eq(last_verified(), 0);
}

Test(receiver, bad_secret_is_refused)
{
        cr_assert_eq(rx_set_secret(rx, "/s", "whsec_%%%not-base64", 0), -1);
}

/* Read the record file: one parsed object per line. */
static int read_record(json_object **lines, int max)
{
        FILE *f = fopen(record_path, "r");
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        int n = 0;

        cr_assert_not_null(f);
        while ((len = getline(&line, &cap, f)) > 0) {
                cr_assert(n < max);
                cr_assert_eq(line[len - 1], '\n', "unterminated line");
                line[len - 1] = '\0';
                lines[n] = json_tokener_parse(line);
                cr_assert_not_null(lines[n], "not JSON: %s", line);
                n++;
        }
        free(line);
        fclose(f);
        return n;
}

static json_object *field(json_object *o, const char *name)
{
        json_object *v = NULL;

        cr_assert(json_object_object_get_ex(o, name, &v), "no \"%s\"", name);
        return v;
}

Test(receiver, record_lines_are_json_with_the_body_intact)
{
        /* quotes, escapes, a slash, non-ASCII, a control character */
        const char *body = "{\"a\":\"x\\\"y\",\"url\":\"https://e.io/p\","
                           "\"name\":\"Zo\xc3\xab \xe2\x9c\x93\"}\n\t\x01end";
        json_object *lines[8], *h;
        int64_t now = (int64_t)time(NULL) * 1000;
        int n;

        cr_assert_eq(rx_set_script(rx, "/r", "200,drop,503"), 0);
        cr_assert_eq(rx_set_secret(rx, "/r", SECRET, 0), 0);
        signed_post("/r", body, SECRET, 0, 0);
        post("/r", "second");
        post("/r", "third");
        n = read_record(lines, 8);
        cr_assert_eq(n, 3);

        cr_assert_eq(json_object_get_int(field(lines[0], "seq")), 1);
        cr_assert_str_eq(json_object_get_string(field(lines[0], "path")), "/r");
        cr_assert_str_eq(json_object_get_string(field(lines[0], "webhook_id")),
                         "msg_1");
        cr_assert_neq(strlen(json_object_get_string(
                              field(lines[0], "webhook_timestamp"))),
                      0);
        cr_assert_eq(
                strncmp(json_object_get_string(field(lines[0], "signature")),
                        "v1,", 3),
                0);
        cr_assert(json_object_is_type(field(lines[0], "verified"),
                                      json_type_boolean));
        cr_assert(json_object_get_boolean(field(lines[0], "verified")));
        cr_assert_eq(json_object_get_int(field(lines[0], "status")), 200);
        cr_assert_str_eq(json_object_get_string(field(lines[0], "body")), body);
        h = field(lines[0], "headers");
        cr_assert(json_object_is_type(h, json_type_object));
        cr_assert_str_eq(json_object_get_string(field(h, "Content-Type")),
                         "application/json");
        cr_assert(json_object_get_int64(field(lines[0], "received_ms")) >=
                  now - 5000);

        cr_assert_eq(json_object_get_int(field(lines[1], "seq")), 2);
        cr_assert_eq(json_object_get_int(field(lines[1], "status")), 0);
        cr_assert_str_eq(json_object_get_string(field(lines[1], "body")),
                         "second");
        /* unsigned on a path with a secret: false; no secret: null */
        cr_assert_eq(json_object_get_boolean(field(lines[1], "verified")), 0);
        cr_assert_eq(json_object_get_int(field(lines[2], "status")), 503);
        for (int i = 0; i < n; i++)
                json_object_put(lines[i]);

        cr_assert_eq(rx_set_secret(rx, "/r", NULL, 0), 0);
        post("/r", "fourth");
        n = read_record(lines, 8);
        cr_assert_eq(n, 4);
        cr_assert(json_object_is_type(field(lines[3], "verified"),
                                      json_type_null));
        for (int i = 0; i < n; i++)
                json_object_put(lines[i]);
}

Test(receiver, callback_and_count)
{
        for (int i = 0; i < 5; i++)
                cr_assert_eq(status_of(i % 2 ? "/odd" : "/even"), 200);
        request("GET", "/get", NULL, NULL);
        cr_assert_eq(rx_count(rx), 6);
        pthread_mutex_lock(&seen.lock);
        cr_assert_eq(seen.calls, 6);
        cr_assert_eq(seen.last_seq, 6);
        cr_assert(seen.seq_in_order);
        cr_assert_str_eq(seen.last_path, "/get");
        cr_assert_eq(seen.last_status, 200);
        pthread_mutex_unlock(&seen.lock);
        /* without the control flag, /_control/ is an ordinary path */
        cr_assert_eq(request("GET", "/_control/count", NULL, NULL).status, 200);
        cr_assert_eq(rx_count(rx), 7);
}

Test(receiver, body_over_8_mib_is_413)
{
        size_t len = 8u * 1024 * 1024 + 1;
        char *big = malloc(len);
        resp_t r = {0};
        CURL *c;
        json_object *lines[2];

        cr_assert_not_null(big);
        memset(big, 'x', len);
        c = easy_for(&r, NULL, "/big", big, len, NULL);
        r.rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
        curl_easy_cleanup(c);
        free(big);
        cr_assert_eq(r.rc, CURLE_OK, "%s", curl_easy_strerror(r.rc));
        cr_assert_eq(r.status, 413);
        cr_assert_eq(read_record(lines, 2), 1);
        cr_assert_eq(json_object_get_int(field(lines[0], "status")), 413);
        json_object_put(lines[0]);
        /* exactly the cap is fine */
        big = malloc(len - 1);
        cr_assert_not_null(big);
        memset(big, 'y', len - 1);
        memset(&r, 0, sizeof(r));
        c = easy_for(&r, NULL, "/big", big, len - 1, NULL);
        r.rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
        curl_easy_cleanup(c);
        free(big);
        cr_assert_eq(r.status, 200);
}

Test(receiver, many_keep_alive_connections)
{
        enum { CONNS = 200, ROUNDS = 3 };
        CURLM *m = curl_multi_init();
        CURL *e[CONNS];
        resp_t r[CONNS];
        int running, left, ok = 0;
        CURLMsg *msg;

        cr_assert_not_null(m);
        curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)CONNS);
        for (int i = 0; i < CONNS; i++)
                e[i] = easy_for(&r[i], NULL, "/load", "{\"n\":1}", 7, NULL);
        for (int round = 0; round < ROUNDS; round++) {
                int handles = 0;
                for (int i = 0; i < CONNS; i++) {
                        memset(&r[i], 0, sizeof(r[i]));
                        curl_multi_add_handle(m, e[i]);
                        handles++;
                }
                do {
                        cr_assert_eq(curl_multi_perform(m, &running), CURLM_OK);
                        if (running)
                                curl_multi_poll(m, NULL, 0, 100, NULL);
                        while ((msg = curl_multi_info_read(m, &left))) {
                                long st = 0;

                                if (msg->msg != CURLMSG_DONE)
                                        continue;
                                curl_easy_getinfo(msg->easy_handle,
                                                  CURLINFO_RESPONSE_CODE, &st);
                                if (msg->data.result == CURLE_OK && st == 200)
                                        ok++;
                                curl_multi_remove_handle(m, msg->easy_handle);
                                handles--;
                        }
                        /* Finished transfers stay queued for info_read:
                         * loop until both are empty. */
                        curl_multi_perform(m, &running);
                } while (handles > 0);
        }
        for (int i = 0; i < CONNS; i++)
                curl_easy_cleanup(e[i]);
        curl_multi_cleanup(m);
        cr_assert_eq(ok, CONNS * ROUNDS);
        cr_assert_eq(rx_count(rx), (uint64_t)(CONNS * ROUNDS));
}

Test(receiver, start_errors_are_reported)
{
        rx_conf_t conf = {.bind = "not-an-address"};
        char err[256] = "";

        cr_assert_null(rx_start(&conf, err, sizeof(err)));
        cr_assert(strstr(err, "not-an-address") != NULL, "%s", err);
        /* the port is taken by the fixture's receiver */
        conf.bind = NULL;
        conf.port = rx_port(rx);
        err[0] = '\0';
        cr_assert_null(rx_start(&conf, err, sizeof(err)));
        cr_assert_neq(err[0], '\0');
        conf.port = 0;
        conf.record_path = "/nonexistent-dir/record.jsonl";
        cr_assert_null(rx_start(&conf, err, sizeof(err)));
        cr_assert(strstr(err, "record") != NULL, "%s", err);
        rx_stop(NULL);
}

Test(receiver, stop_with_requests_still_delayed)
{
        slow_t slow[3];
        pthread_t th[3];

        cr_assert_eq(rx_set_script(rx, "*", "delay=5000"), 0);
        for (int i = 0; i < 3; i++) {
                slow[i].path = "/slow";
                pthread_create(&th[i], NULL, slow_main, &slow[i]);
        }
        while (rx_count(rx) < 3)
                usleep(10 * 1000);
        rx_stop(rx); /* must not wait 5 s nor crash */
        rx = NULL;
        for (int i = 0; i < 3; i++)
                pthread_join(th[i], NULL);
        for (int i = 0; i < 3; i++)
                cr_assert(slow[i].r.secs < 4.0);
}

Test(receiver_control, script_secret_and_count_over_http)
{
        resp_t r;

        r = request("PUT", "/_control/script?path=/c", "503:ra=1,200\n", NULL);
        cr_assert_eq(r.status, 200, "%s", r.body);
        r = post("/c", "{}");
        cr_assert_eq(r.status, 503);
        cr_assert_str_eq(r.retry_after, "1");
        cr_assert_eq(status_of("/c"), 200);

        r = request("GET", "/_control/count", NULL, NULL);
        cr_assert_eq(r.status, 200);
        cr_assert_str_eq(r.body, "2\n");
        cr_assert_eq(rx_count(rx), 2); /* control is not counted */

        /* a path with a query string needs escaping; "*" works too */
        r = request("PUT", "/_control/script?path=%2A", "404", NULL);
        cr_assert_eq(r.status, 200);
        cr_assert_eq(status_of("/elsewhere"), 404);

        cr_assert_eq(
                request("PUT", "/_control/script?path=/c", "5OO", NULL).status,
                400);
        cr_assert_eq(request("PUT", "/_control/script", "500", NULL).status,
                     400);
        cr_assert_eq(request("GET", "/_control/nope", NULL, NULL).status, 404);

        r = request("PUT", "/_control/secret?path=/s", SECRET "\n", NULL);
        cr_assert_eq(r.status, 200);
        cr_assert_eq(rx_set_script(rx, "*", ""), 0);
        signed_post("/s", "{}", SECRET, 0, 0);
        cr_assert_eq(last_verified(), 1);
        r = request("PUT", "/_control/secret?path=/u&scheme=userpilot",
                    "up-secret", NULL);
        cr_assert_eq(r.status, 200);
        signed_post("/u", "{}", "up-secret", 1, 0);
        cr_assert_eq(last_verified(), 1);
        r = request("PUT", "/_control/secret?path=/u", "", NULL);
        cr_assert_eq(r.status, 200);
        signed_post("/u", "{}", "up-secret", 1, 0);
        cr_assert_eq(last_verified(), -1);
        cr_assert_eq(
                request("PUT", "/_control/secret?path=/s", "whsec_%%%", NULL)
                        .status,
                400);

        /* control requests leave no record */
        {
                json_object *lines[16];
                int n = read_record(lines, 16);

                cr_assert_eq((uint64_t)n, rx_count(rx));
                for (int i = 0; i < n; i++) {
                        cr_assert_neq(strncmp(json_object_get_string(
                                                      field(lines[i], "path")),
                                              "/_control/", 10),
                                      0);
                        json_object_put(lines[i]);
                }
        }
}
