/* Integration: webhooks of the store delivered by two workers in one
 * group (SPEC §7) against a real broker: each worker (in this process)
 * with its own store replica on one store topic; a webhook created on one
 * is delivered by whichever owns the partition, an event toggled off on
 * the other stops, a delete stops it, each within 2 s; both restarted
 * come back to the same state; a replica started later has every webhook
 * before /readyz says ready. First with the records written by
 * wk_store_put (as the API does), then the same through the HTTP API of
 * two `hookbridge run`, with concurrent PATCHes on one If-Match (one 200,
 * one 412), the metric series bounded, and a SIGHUP that keeps the
 * store's webhooks. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "cfg.h"
#include "it_util.h"
#include "rx_receiver.h"
#include "wk_hook.h"
#include "wk_sample.h"
#include "wk_store.h"
#include "wk_worker.h"

enum { PARTS = 4, MAXEV = 4096, HOOKS = 3, BULK = 300 };

static const unsigned char key[WK_SEAL_KEY_LEN] = {
        3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3,
        2, 3, 8, 4, 6, 2, 6, 4, 3, 3, 8, 3, 2, 7, 9, 5};

static const char *const paths[HOOKS] = {"/w1", "/w2", "/bulk"};
static const char *const hook_app[HOOKS] = {"NX-r1", "NX-r2", "NX-bulk"};

/* The events produced (by sequence number) and what each path got. */
static struct {
        pthread_mutex_t lock;
        int app[MAXEV];  /* 0: NX-r1, 1: NX-r2 */
        int type[MAXEV]; /* 0: flows.completed, 1: nps.score */
        unsigned got[HOOKS][MAXEV];
        unsigned foreign, unknown;
        int next;
} ev = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_request(const rx_request_t *req, void *opaque)
{
        int h, i = -1;

        (void)opaque;
        for (h = 0; h < HOOKS; h++)
                if (!strcmp(req->path, paths[h]))
                        break;
        if (sscanf(req->webhook_id, "rep-%d", &i) != 1 || i < 0 || i >= MAXEV)
                i = -1;
        pthread_mutex_lock(&ev.lock);
        if (h == HOOKS || i < 0 || i >= ev.next)
                ev.unknown++;
        else if (h == 2 || strcmp(hook_app[h], ev.app[i] ? "NX-r2" : "NX-r1"))
                ev.foreign++;
        else
                ev.got[h][i]++;
        pthread_mutex_unlock(&ev.lock);
}

/* One replica: a store and a worker running in a thread. */
typedef struct replica_s {
        wk_store_t *s;
        wk_worker_t *w;
        pthread_t th;
        uint16_t port; /* admin: /readyz, /status */
        int rc;
} replica_t;

static char topic[96], group[96], store_topic[96];
static uint16_t rx_port_;

static void *run(void *arg)
{
        replica_t *r = arg;

        r->rc = wk_worker_run(r->w);
        return NULL;
}

static void start(replica_t *r)
{
        wk_store_conf_t sc = {.brokers = it_brokers(),
                              .topic = store_topic,
                              .replication_factor = 1,
                              .key = key};
        char text[2048], err[4096];
        cfg_t *cfg;
        wk_worker_opts_t o = {0};

        memset(r, 0, sizeof(*r));
        r->port = it_free_port();
        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"%s\"; group_id = \"%s\";\n"
                 "  topics = ( \"%s\" ); commit_interval_ms = 100; };\n"
                 "delivery = { allow_networks = [ \"127.0.0.0/8\" ];\n"
                 "  retry = { initial_ms = 50; max_ms = 500; max_attempts = "
                 "5; schedule = [ ]; }; };\n"
                 "webhooks = ( { name = \"file\"; app_token = \"NX-file\"; "
                 "url = \"http://127.0.0.1:%u/file\"; events = [ \"*\" ]; } "
                 ");\nadmin = { listen = \"127.0.0.1:%u\"; };\n",
                 it_brokers(), group, topic, rx_port_, r->port);
        cfg = cfg_load_string(text, "replica.cfg", err, sizeof(err));
        cr_assert(cfg, "%s", err);
        r->s = wk_store_new(&sc, err, sizeof(err));
        cr_assert(r->s, "wk_store_new: %s", err);
        o.store = r->s;
        r->w = wk_worker_new_ex(cfg, &o, err, sizeof(err));
        cr_assert(r->w, "wk_worker_new_ex: %s", err);
        cr_assert_eq(pthread_create(&r->th, NULL, run, r), 0);
}

static void stop(replica_t *r)
{
        wk_worker_stop(r->w);
        pthread_join(r->th, NULL);
        cr_expect_eq(r->rc, 0);
        wk_worker_destroy(r->w);
        wk_store_destroy(r->s);
}

/* Does /status of \p r list store webhook \p id? */
static int lists(const replica_t *r, const char *id)
{
        static char body[1 << 20];
        char needle[96];

        snprintf(needle, sizeof(needle), "\"id\":\"%s\"", id);
        return it_http_get(r->port, "/status", body, sizeof(body)) == 200 &&
               strstr(body, needle);
}

/* Wait up to 2 s for /status of \p r to list \p id (\p want 1) or not
 * (0). @returns the ms it took, or -1. */
static int64_t wait_listed(const replica_t *r, const char *id, int want)
{
        int64_t t0 = it_now_ms();

        while (it_now_ms() - t0 < 2000) {
                if (lists(r, id) == want)
                        return it_now_ms() - t0;
                it_sleep_ms(5);
        }
        return -1;
}

/* Webhook \p id of \p app to \p path: "*" on, \p off switched off (NULL:
 * none). */
static wk_hook_t hook(const char *id, const char *app, const char *path,
                      const char *off, char *url, size_t url_size)
{
        static wk_hook_event_t evs[2][2] = {{{"*", 1}, {NULL, 0}},
                                            {{"*", 1}, {NULL, 0}}};
        static int turn;
        wk_hook_event_t *e = evs[turn++ & 1];

        snprintf(url, url_size, "http://127.0.0.1:%u%s", rx_port_, path);
        e[1].type = (char *)off;
        return (wk_hook_t){.id = (char *)id,
                           .app_token = (char *)app,
                           .name = (char *)id,
                           .url = url,
                           .enabled = 1,
                           .events = e,
                           .event_count = off ? 2 : 1,
                           .secret = "whsec_c2VjcmV0LXJlcGxpY2Fz"};
}

static void put(wk_store_t *s, const char *id, const char *app,
                const char *path, const char *off)
{
        char url[128], err[512];
        wk_hook_t h = hook(id, app, path, off, url, sizeof(url));
        int64_t v;

        cr_assert_eq(wk_store_put(s, &h, wk_store_version(s, id), &v, err,
                                  sizeof(err)),
                     0, "put %s: %s", id, err);
}

static size_t sample_of(const char *event_name)
{
        for (size_t i = 0; i < wk_sample_count(); i++)
                if (!strcmp(wk_sample_event_name(i), event_name))
                        return i;
        cr_assert_fail("no sample '%s'", event_name);
        return 0;
}

/* Produce \p n events: the apps NX-r1, NX-r2 and the types
 * flows.completed, nps.score in turn, over every partition. @returns the
 * first one's sequence number. */
static int produce(int n)
{
        rd_kafka_t *rk = it_producer();
        size_t flows = sample_of("Flow Completed"),
               nps = sample_of("NPS Score "
                               "Submitted");
        int first = ev.next;
        char raw[2048], id[32];

        for (int k = 0; k < n; k++) {
                int i = ev.next, app = k & 1, type = (k >> 1) & 1;
                cr_assert_lt(i, MAXEV);
                snprintf(id, sizeof(id), "rep-%d", i);
                cr_assert_gt(wk_sample_render_app(type ? nps : flows,
                                                  app ? "NX-r2" : "NX-r1", id,
                                                  i, 1700000000000LL + i, raw,
                                                  sizeof(raw)),
                             0);
                pthread_mutex_lock(&ev.lock);
                ev.app[i] = app;
                ev.type[i] = type;
                ev.next++;
                pthread_mutex_unlock(&ev.lock);
                it_produce(rk, topic, k % PARTS, id, raw, strlen(raw));
        }
        cr_assert_eq(rd_kafka_flush(rk, 30000), 0);
        rd_kafka_destroy(rk);
        return first;
}

/* What a hook is owed of event i: a bit per path (1 /w1, 2 /w2). */
typedef int(owed_fn)(int app, int type);

/* Wait for events [first, ev.next) to reach what they are owed, then a
 * little more; check nothing else came. */
static void check(const char *phase, int first, owed_fn *owed)
{
        int64_t t0 = it_now_ms();
        unsigned want = 0, have = 0, extra = 0;

        for (;;) {
                want = have = extra = 0;
                pthread_mutex_lock(&ev.lock);
                for (int i = first; i < ev.next; i++)
                        for (int h = 0; h < 2; h++) {
                                int o = owed(ev.app[i], ev.type[i]) >> h & 1;
                                want += (unsigned)o;
                                have += o && ev.got[h][i];
                                extra += !o && ev.got[h][i];
                        }
                pthread_mutex_unlock(&ev.lock);
                if (have == want || it_now_ms() - t0 > 60000)
                        break;
                it_sleep_ms(20);
        }
        it_sleep_ms(500); /* what should not come has had its chance */
        pthread_mutex_lock(&ev.lock);
        extra = 0;
        for (int i = first; i < ev.next; i++)
                for (int h = 0; h < HOOKS; h++) {
                        int o = h < 2 && (owed(ev.app[i], ev.type[i]) >> h & 1);
                        if (!o && ev.got[h][i])
                                extra++;
                        cr_expect(!o || ev.got[h][i],
                                  "%s: event %d (app %d type %d) never "
                                  "reached %s",
                                  phase, i, ev.app[i], ev.type[i], paths[h]);
                }
        cr_expect_eq(ev.foreign, 0, "%s: %u payloads of another app", phase,
                     ev.foreign);
        cr_expect_eq(ev.unknown, 0, "%s: %u requests not ours", phase,
                     ev.unknown);
        pthread_mutex_unlock(&ev.lock);
        cr_expect_eq(extra, 0, "%s: %u deliveries not owed", phase, extra);
        cr_log_info("%s: %u of %u deliveries owed, %u not owed, %lld ms", phase,
                    have, want, extra, (long long)(it_now_ms() - t0));
}

static int owed_created(int app, int type)
{
        (void)type;
        return app ? 2 : 1; /* w1: NX-r1's, w2: NX-r2's */
}

static int owed_toggled(int app, int type)
{
        /* w1: nps.score off; w2: flows.completed off */
        return app ? (type == 1 ? 2 : 0) : (type == 0 ? 1 : 0);
}

static int owed_deleted(int app, int type)
{
        return app && type == 1 ? 2 : 0; /* w1 gone */
}

Test(api_replicas, two_workers_follow_the_store, .timeout = 600)
{
        rx_conf_t rc = {.cb = on_request};
        char err[256], id[32], body[1 << 16];
        rx_t *rx = rx_start(&rc, err, sizeof(err));
        replica_t a, b, c;
        int64_t t0, ms, ms2;
        int first;

        cr_assert_not_null(rx, "receiver: %s", err);
        rx_port_ = rx_port(rx);
        it_unique("hb-it-rep", topic, sizeof(topic));
        it_unique("hb-it-rep-g", group, sizeof(group));
        it_unique("hb-it-rep-store", store_topic, sizeof(store_topic));
        it_create_topic(topic, PARTS);
        start(&a);
        start(&b);
        cr_assert_geq(it_wait_ready(a.port, 120000), 0, "A never ready");
        cr_assert_geq(it_wait_ready(b.port, 120000), 0, "B never ready");

        /* created on A (w1) and on B (w2): on both replicas within 2 s */
        t0 = it_now_ms();
        put(a.s, "wh-r1", "NX-r1", "/w1", NULL);
        put(b.s, "wh-r2", "NX-r2", "/w2", NULL);
        ms = wait_listed(&b, "wh-r1", 1);
        ms2 = wait_listed(&a, "wh-r2", 1);
        cr_log_info("created: w1 in force on B after %lld ms, w2 on A after "
                    "%lld ms (from the first write)",
                    (long long)ms, (long long)ms2);
        cr_expect(ms >= 0 && ms2 >= 0, "a create not in force within 2 s");
        /* each its own too (the store topic may hold the other's write
         * first, so seeing it says nothing of one's own) */
        cr_expect(wait_listed(&a, "wh-r1", 1) >= 0 &&
                          wait_listed(&b, "wh-r2", 1) >= 0,
                  "a create not in force on its own replica within 2 s");
        it_sleep_ms((int)(2000 - (it_now_ms() - t0) > 0
                                  ? 2000 - (it_now_ms() - t0)
                                  : 0));
        first = produce(64);
        check("created", first, owed_created);

        /* an event toggled off on the other replica: stops within 2 s */
        put(b.s, "wh-r1", "NX-r1", "/w1", "nps.score");
        put(a.s, "wh-r2", "NX-r2", "/w2", "flows.completed");
        it_sleep_ms(2000);
        first = produce(64);
        check("toggled", first, owed_toggled);

        /* deleted: stops within 2 s */
        t0 = it_now_ms();
        cr_assert_eq(wk_store_delete(b.s, "wh-r1",
                                     wk_store_version(b.s, "wh-r1"), &ms, err,
                                     sizeof(err)),
                     0, "%s", err);
        ms = wait_listed(&a, "wh-r1", 0);
        cr_log_info("deleted on B: gone from A after %lld ms", (long long)ms);
        cr_expect_geq(ms, 0, "a delete not in force within 2 s");
        it_sleep_ms((int)(2000 - (it_now_ms() - t0) > 0
                                  ? 2000 - (it_now_ms() - t0)
                                  : 0));
        first = produce(64);
        check("deleted", first, owed_deleted);

        /* both restarted: the same state */
        stop(&a);
        stop(&b);
        start(&a);
        start(&b);
        cr_assert_geq(it_wait_ready(a.port, 120000), 0, "A never ready again");
        cr_assert_geq(it_wait_ready(b.port, 120000), 0, "B never ready again");
        cr_expect(lists(&a, "wh-r2") && lists(&b, "wh-r2"));
        cr_expect(!lists(&a, "wh-r1") && !lists(&b, "wh-r1"));
        first = produce(64);
        check("restarted", first, owed_deleted);

        /* a replica started later: every webhook in force before it is
         * ready */
        for (int i = 0; i < BULK; i++) {
                snprintf(id, sizeof(id), "wh-bulk-%d", i);
                put(a.s, id, "NX-bulk", "/bulk", NULL);
        }
        start(&c);
        ms = it_wait_ready(c.port, 120000);
        cr_assert_geq(ms, 0, "C never ready");
        cr_expect(wk_store_ready(c.s));
        cr_expect_eq(wk_store_count(c.s), BULK + 1);
        cr_assert_eq(it_http_get(c.port, "/status", body, sizeof(body)), 200);
        snprintf(id, sizeof(id), "\"count\":%d", BULK + 1);
        cr_expect(strstr(body, id), "C ready without every webhook: %.300s",
                  strstr(body, "store_webhooks")
                          ? strstr(body, "store_webhooks")
                          : body);
        cr_log_info("late replica: ready after %lld ms with %zu webhooks",
                    (long long)ms, wk_store_count(c.s));
        first = produce(64);
        check("three replicas", first, owed_deleted);
        stop(&c);
        stop(&a);
        stop(&b);
        rx_stop(rx);
}

/*
 * The same through the HTTP API of two `hookbridge run`.
 */

#define TOKEN  "replicas-test-token-0123456789"
#define KEYB64 "AwEEAQUJAgYFAwUICQcJAwIDCAQGAgYEAwMIAwIHCQU="

/* One `hookbridge run` with the API. */
typedef struct proc_s {
        pid_t pid;
        uint16_t api, admin;
        char cfg[256], log[300];
} proc_t;

static void spawn(proc_t *p)
{
        char text[2048];

        p->api = it_free_port();
        p->admin = it_free_port();
        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"%s\"; group_id = \"%s\";\n"
                 "  topics = ( \"%s\" ); commit_interval_ms = 100; };\n"
                 "delivery = { allow_networks = [ \"127.0.0.0/8\" ];\n"
                 "  retry = { initial_ms = 50; max_ms = 500; max_attempts = "
                 "5; schedule = [ ]; }; };\n"
                 "webhooks = ( );\n"
                 "admin = { listen = \"127.0.0.1:%u\"; };\n"
                 "api = { listen = \"127.0.0.1:%u\";\n"
                 "  token_env = \"HB_TEST_REP_TOKEN\";\n"
                 "  secret_key_env = \"HB_TEST_REP_KEY\";\n"
                 "  store_topic = \"%s\"; store_replication_factor = 1; };\n",
                 it_brokers(), group, topic, p->admin, p->api, store_topic);
        it_write_temp(text, p->cfg, sizeof(p->cfg));
        snprintf(p->log, sizeof(p->log), "%s.log", p->cfg);
        p->pid = it_spawn_worker(p->cfg, p->log);
}

static void reap(proc_t *p)
{
        int st = it_stop_worker(p->pid, SIGTERM, 30000);

        cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "worker did not stop cleanly; see %s", p->log);
}

/* \p method \p path on \p p's API with \p body (NULL: none) and, when
 * \p if_match is given, an If-Match header. */
static void api(const proc_t *p, const char *method, const char *path,
                const char *body, const char *if_match, it_ans_t *r)
{
        char line[128];

        if (if_match)
                snprintf(line, sizeof(line), "If-Match: %s", if_match);
        it_call(r, p->api, TOKEN, method, path, body, body ? strlen(body) : 0,
                if_match ? line : NULL);
}

/* The id of a created webhook (from its answer). */
static void id_of(const it_ans_t *r, char *id, size_t size)
{
        const char *v = it_jstr(r->json, "id");

        cr_assert_not_null(v, "%s", r->body);
        snprintf(id, size, "%s", v);
}

/* Wait up to 2 s for /status of \p p to list \p id (\p want 1) or not. */
static int64_t proc_listed(const proc_t *p, const char *id, int want)
{
        static char body[1 << 20];
        int64_t t0 = it_now_ms();
        char needle[96];

        snprintf(needle, sizeof(needle), "\"id\":\"%s\"", id);
        while (it_now_ms() - t0 < 2000) {
                if (it_http_get(p->admin, "/status", body, sizeof(body)) ==
                            200 &&
                    !strstr(body, needle) == !want)
                        return it_now_ms() - t0;
                it_sleep_ms(5);
        }
        return -1;
}

/* One of two concurrent PATCHes. */
typedef struct patch_s {
        const proc_t *p;
        const char *path, *body, *if_match;
        pthread_barrier_t *go;
        it_ans_t r;
} patch_t;

static void *patch(void *arg)
{
        patch_t *x = arg;

        pthread_barrier_wait(x->go);
        api(x->p, "PATCH", x->path, x->body, x->if_match, &x->r);
        return NULL;
}

static void sleep_rest(int64_t t0, int ms)
{
        int64_t left = ms - (it_now_ms() - t0);

        if (left > 0)
                it_sleep_ms((int)left);
}

Test(api_replicas, two_workers_through_the_api, .timeout = 600)
{
        rx_conf_t rc = {.cb = on_request};
        char err[256], w1[64], w2[64], p1[160], p2[160], body[512];
        rx_t *rx = rx_start(&rc, err, sizeof(err));
        proc_t a, b;
        it_ans_t r = {0};
        int64_t t0, ms, ms2;
        int first, wins = 0, stale = 0;

        cr_assert_not_null(rx, "receiver: %s", err);
        rx_port_ = rx_port(rx);
        setenv("HB_TEST_REP_TOKEN", TOKEN, 1);
        setenv("HB_TEST_REP_KEY", KEYB64, 1);
        it_unique("hb-it-repapi", topic, sizeof(topic));
        it_unique("hb-it-repapi-g", group, sizeof(group));
        it_unique("hb-it-repapi-store", store_topic, sizeof(store_topic));
        it_create_topic(topic, PARTS);
        spawn(&a);
        spawn(&b);
        cr_assert_geq(it_wait_ready(a.admin, 120000), 0, "A never ready: %s",
                      a.log);
        cr_assert_geq(it_wait_ready(b.admin, 120000), 0, "B never ready: %s",
                      b.log);

        /* created on A, created on B: in force on both within 2 s */
        t0 = it_now_ms();
        snprintf(body, sizeof(body),
                 "{\"name\":\"one\",\"url\":\"http://127.0.0.1:%u/w1\","
                 "\"events\":[\"*\"]}",
                 rx_port_);
        api(&a, "POST", "/v1/apps/NX-r1/webhooks", body, NULL, &r);
        cr_assert_eq(r.status, 201, "%s", r.body);
        id_of(&r, w1, sizeof(w1));
        snprintf(body, sizeof(body),
                 "{\"name\":\"two\",\"url\":\"http://127.0.0.1:%u/w2\","
                 "\"events\":[\"*\"]}",
                 rx_port_);
        api(&b, "POST", "/v1/apps/NX-r2/webhooks", body, NULL, &r);
        cr_assert_eq(r.status, 201, "%s", r.body);
        id_of(&r, w2, sizeof(w2));
        ms = proc_listed(&b, w1, 1);
        ms2 = proc_listed(&a, w2, 1);
        cr_log_info("API: created on A, in force on B after %lld ms; created "
                    "on B, on A after %lld ms",
                    (long long)ms, (long long)ms2);
        cr_expect(ms >= 0 && ms2 >= 0, "a create not in force within 2 s");
        sleep_rest(t0, 2000);
        first = produce(64);
        check("API created", first, owed_created);

        /* toggled on the other replica (w1's nps.score off on B); two
         * PATCHes of w2 with the same If-Match at once, one on each: one
         * wins (flows.completed off), the other gets 412 */
        snprintf(p1, sizeof(p1), "/v1/apps/NX-r1/webhooks/%s", w1);
        snprintf(p2, sizeof(p2), "/v1/apps/NX-r2/webhooks/%s", w2);
        api(&b, "PATCH", p1,
            "{\"events\":[\"*\",{\"type\":\"nps.score\",\"enabled\":false}]}",
            NULL, &r);
        cr_assert_eq(r.status, 200, "%s", r.body);
        api(&a, "GET", p2, NULL, NULL, &r);
        cr_assert_eq(r.status, 200, "%s", r.body);
        for (int round = 0; round < 5; round++) {
                pthread_barrier_t go;
                pthread_t ta, tb;
                char tag[64];
                patch_t x = {&a, p2,
                             "{\"events\":[\"*\",{\"type\":\"flows.completed\","
                             "\"enabled\":false}]}",
                             tag, &go};
                patch_t y = x;

                /* the ETag as B has it (A's write read back on B first) */
                api(&b, "GET", p2, NULL, NULL, &r);
                cr_assert_eq(r.status, 200, "%s", r.body);
                snprintf(tag, sizeof(tag), "%s", r.etag);
                y.p = &b;
                pthread_barrier_init(&go, NULL, 2);
                pthread_create(&ta, NULL, patch, &x);
                pthread_create(&tb, NULL, patch, &y);
                pthread_join(ta, NULL);
                pthread_join(tb, NULL);
                pthread_barrier_destroy(&go);
                cr_expect((x.r.status == 200 && y.r.status == 412) ||
                                  (x.r.status == 412 && y.r.status == 200),
                          "round %d: A %ld (%s), B %ld (%s)", round, x.r.status,
                          x.r.body, y.r.status, y.r.body);
                wins += (x.r.status == 200) + (y.r.status == 200);
                stale += (x.r.status == 412) + (y.r.status == 412);
                it_ans_free(&x.r);
                it_ans_free(&y.r);
                /* both replicas agree on the winner's version */
                t0 = it_now_ms();
                do {
                        static it_ans_t ra, rb;
                        api(&a, "GET", p2, NULL, NULL, &ra);
                        api(&b, "GET", p2, NULL, NULL, &rb);
                        if (!strcmp(ra.etag, rb.etag) && strcmp(ra.etag, tag))
                                break;
                        it_sleep_ms(20);
                } while (it_now_ms() - t0 < 2000);
                cr_expect_lt(it_now_ms() - t0, 2000,
                             "round %d: the replicas disagree", round);
        }
        cr_log_info("API: concurrent PATCHes with one If-Match: %d won, %d "
                    "got 412 (5 rounds)",
                    wins, stale);
        t0 = it_now_ms();
        sleep_rest(t0, 2000);
        first = produce(64);
        check("API toggled", first, owed_toggled);

        /* deleted on A: gone from B within 2 s, nothing delivered */
        t0 = it_now_ms();
        api(&a, "DELETE", p1, NULL, NULL, &r);
        cr_assert_eq(r.status, 204, "%s", r.body);
        ms = proc_listed(&b, w1, 0);
        cr_log_info("API: deleted on A, gone from B after %lld ms",
                    (long long)ms);
        cr_expect_geq(ms, 0, "a delete not in force within 2 s");
        sleep_rest(t0, 2000);
        first = produce(64);
        check("API deleted", first, owed_deleted);

        /* both restarted: the same state */
        reap(&a);
        reap(&b);
        spawn(&a);
        spawn(&b);
        cr_assert_geq(it_wait_ready(a.admin, 120000), 0, "A never ready: %s",
                      a.log);
        cr_assert_geq(it_wait_ready(b.admin, 120000), 0, "B never ready: %s",
                      b.log);
        api(&b, "GET", p1, NULL, NULL, &r);
        cr_expect_eq(r.status, 404, "%s", r.body);
        api(&a, "GET", p2, NULL, NULL, &r);
        cr_expect_eq(r.status, 200, "%s", r.body);
        cr_expect(strstr(r.body, "flows.completed"), "%s", r.body);
        first = produce(64);
        check("API restarted", first, owed_deleted);

        /* metric series stay bounded: the store's webhooks share
         * webhook="(api)", none has a series of its own */
        {
                static char m[1 << 20];
                cr_assert_eq(it_http_get(a.admin, "/metrics", m, sizeof(m)),
                             200);
                cr_expect(strstr(m, "webhook=\"(api)\""), "no (api) series");
                cr_expect_null(strstr(m, "webhook=\"wh_"),
                               "a store webhook's own series");
        }

        /* SIGHUP reloads the file and keeps the store's webhooks */
        cr_assert_eq(kill(a.pid, SIGHUP), 0);
        cr_assert_eq(kill(b.pid, SIGHUP), 0);
        it_sleep_ms(1500);
        cr_expect_geq(proc_listed(&a, w2, 1), 0, "w2 gone from A by SIGHUP");
        cr_expect_geq(proc_listed(&b, w2, 1), 0, "w2 gone from B by SIGHUP");
        first = produce(64);
        check("API after SIGHUP", first, owed_deleted);
        reap(&a);
        reap(&b);
        it_ans_free(&r);
        rx_stop(rx);
}
