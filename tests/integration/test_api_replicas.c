/* Integration: webhooks of the store delivered by two workers in one
 * group (SPEC §7) against a real broker: each worker (in this process)
 * with its own store replica on one store topic; a webhook created on one
 * is delivered by whichever owns the partition, an event toggled off on
 * the other stops, a delete stops it, each within 2 s; both restarted
 * come back to the same state; a replica started later has every webhook
 * before /readyz says ready. The records are written with wk_store_put,
 * as the API does. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

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

static void sleep_ms(int ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
}

/* Wait up to \p ms for /readyz of \p r to answer 200. @returns the ms it
 * took, or -1. */
static int64_t wait_ready(const replica_t *r, int ms)
{
        int64_t t0 = it_now_ms();
        char body[512];

        while (it_now_ms() - t0 < ms) {
                if (it_http_get(r->port, "/readyz", body, sizeof(body)) == 200)
                        return it_now_ms() - t0;
                sleep_ms(10);
        }
        return -1;
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
                sleep_ms(5);
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
                sleep_ms(20);
        }
        sleep_ms(500); /* what should not come has had its chance */
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
        cr_assert_geq(wait_ready(&a, 120000), 0, "A never ready");
        cr_assert_geq(wait_ready(&b, 120000), 0, "B never ready");

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
        cr_expect(lists(&a, "wh-r1") && lists(&b, "wh-r2"));
        sleep_ms((int)(2000 - (it_now_ms() - t0) > 0 ? 2000 - (it_now_ms() - t0)
                                                     : 0));
        first = produce(64);
        check("created", first, owed_created);

        /* an event toggled off on the other replica: stops within 2 s */
        put(b.s, "wh-r1", "NX-r1", "/w1", "nps.score");
        put(a.s, "wh-r2", "NX-r2", "/w2", "flows.completed");
        sleep_ms(2000);
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
        sleep_ms((int)(2000 - (it_now_ms() - t0) > 0 ? 2000 - (it_now_ms() - t0)
                                                     : 0));
        first = produce(64);
        check("deleted", first, owed_deleted);

        /* both restarted: the same state */
        stop(&a);
        stop(&b);
        start(&a);
        start(&b);
        cr_assert_geq(wait_ready(&a, 120000), 0, "A never ready again");
        cr_assert_geq(wait_ready(&b, 120000), 0, "B never ready again");
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
        ms = wait_ready(&c, 120000);
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
