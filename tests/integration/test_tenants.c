/* Integration: tenant isolation (SPEC §5) against a real Kafka broker, the
 * real `hookbridge` binary and a receiver on loopback: three apps' events
 * interleaved in one topic, a webhook per app and an operator webhook;
 * each app's webhook gets exactly its app's payloads, the operator's all;
 * then `replay --app` sends one app's again, to its webhooks only; and a
 * SIGHUP that gives a webhook to another app routes by the new file. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "hb_rec.h"
#include "it_util.h"
#include "rx_receiver.h"
#include "wk_sample.h"

enum { N = 2400, PARTS = 4, HOOKS = 4 };

/* The receivers: one path per webhook; the app whose payloads it may
 * get (NULL: the operator's, every app's). */
static const char *const paths[HOOKS] = {"/a", "/b", "/c", "/ops"};
static const char *apps[HOOKS] = {"NX-a", "NX-b", "NX-c", NULL};

/* What each receiver got: per event index, how many times; and the
 * payloads of another app (must stay 0). */
static struct {
        pthread_mutex_t lock;
        unsigned got[HOOKS][N];
        unsigned foreign[HOOKS];
        unsigned unknown;
        /* /b's 2xx answers, by the payload's app: NX-b's, NX-d's */
        unsigned b_ok[2];
} rx_seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_request(const rx_request_t *req, void *opaque)
{
        json_object *o = json_tokener_parse(req->body), *v;
        const char *app = NULL;
        int h, i = -1;

        (void)opaque;
        for (h = 0; h < HOOKS; h++)
                if (!strcmp(req->path, paths[h]))
                        break;
        if (o && json_object_object_get_ex(o, "app_token", &v))
                app = json_object_get_string(v);
        if (sscanf(req->webhook_id, "ten-%d", &i) != 1 || i < 0 || i >= N)
                i = -1;
        pthread_mutex_lock(&rx_seen.lock);
        if (h == 1 && app && req->status / 100 == 2)
                rx_seen.b_ok[!strcmp(app, "NX-d")] +=
                        !strcmp(app, "NX-b") || !strcmp(app, "NX-d");
        if (h == HOOKS || i < 0 || !app)
                rx_seen.unknown++;
        else if (apps[h] && strcmp(apps[h], app))
                rx_seen.foreign[h]++;
        else
                rx_seen.got[h][i]++;
        pthread_mutex_unlock(&rx_seen.lock);
        json_object_put(o);
}

/* Event i's app: A, B, C (from the topic's app_token: no
 * context.app_token), D (no webhook of its own), interleaved. */
static const char *app_of(int i)
{
        static const char *const a[] = {"NX-a", "NX-b", "NX-c", "NX-d"};
        return a[i % 4];
}

/* Raw event i: a sample of every kind, of app_of(i). */
static void raw_event(int i, char *out, size_t size)
{
        static const char tok[] = "\"app_token\":\"NX-demo0001\",";
        char id[32], s[2048], *p;
        int n;

        snprintf(id, sizeof(id), "ten-%d", i);
        cr_assert_gt(wk_sample_render((size_t)i % wk_sample_count(), id, i,
                                      1700000000000LL + i, s, sizeof(s)),
                     0);
        p = strstr(s, tok);
        cr_assert_not_null(p);
        *p = '\0';
        if (i % 4 == 2) /* app C: the topic's app_token */
                n = snprintf(out, size, "%s%s", s, p + strlen(tok));
        else
                n = snprintf(out, size, "%s\"app_token\":\"%s\",%s", s,
                             app_of(i), p + strlen(tok));
        /* (checked: -O2 sees it could be cut, -Werror=format-truncation) */
        cr_assert(n > 0 && (size_t)n < size, "event %d cut", i);
}

/* The configuration: webhooks a, c of apps NX-a, NX-c, b of \p b_app,
 * and ops, the operator's; the topic's app_token is NX-c; \p admin: the
 * admin listener ("": none). */
/* Settings added to write_cfg()'s delivery group. */
static const char *cfg_delivery_extra = "";

static void write_cfg(char *text, size_t size, const char *topic,
                      const char *group, unsigned port, const char *b_app,
                      const char *admin)
{
        snprintf(text, size,
                 "kafka = { brokers = \"%s\"; group_id = \"%s\";\n"
                 "  topics = ( { name = \"%s\"; app_token = \"NX-c\"; } );\n"
                 "  commit_interval_ms = 100; };\n"
                 "delivery = { allow_networks = [ \"127.0.0.0/8\" ];\n"
                 "  concurrency = 32; retry = { initial_ms = 50; max_ms = "
                 "500; max_attempts = 5; schedule = [ ]; }; %s };\n"
                 "webhooks = (\n"
                 "  { name = \"a\"; app_token = \"NX-a\"; url = "
                 "\"http://127.0.0.1:%u/a\"; events = [ \"*\" ]; },\n"
                 "  { name = \"b\"; app_token = \"%s\"; url = "
                 "\"http://127.0.0.1:%u/b\"; events = [ \"*\" ]; },\n"
                 "  { name = \"c\"; app_token = \"NX-c\"; url = "
                 "\"http://127.0.0.1:%u/c\"; events = [ \"*\" ]; },\n"
                 "  { name = \"ops\"; url = \"http://127.0.0.1:%u/ops\"; "
                 "events = [ \"*\" ]; }\n"
                 ");\nadmin = { listen = \"%s\"; };\n",
                 it_brokers(), group, topic, cfg_delivery_extra, port, b_app,
                 port, port, port, admin);
}

/* Produce the N events, interleaved by key. */
static void produce_all(const char *topic)
{
        char raw[2048], key[32];
        rd_kafka_t *rk = it_producer();

        for (int i = 0; i < N; i++) {
                raw_event(i, raw, sizeof(raw));
                snprintf(key, sizeof(key), "user-%d", i % 50);
                it_produce(rk, topic, -1, key, raw, strlen(raw));
        }
        cr_assert_eq(rd_kafka_flush(rk, 30000), 0);
        rd_kafka_destroy(rk);
}

/* What each receiver got against what it is owed: event i is owed to
 * webhook h when it is of h's app (or h is the operator's) and of \p only
 * (NULL: any app). @returns what the operator webhook was owed. */
static unsigned check(const char *phase, const char *only)
{
        unsigned want[HOOKS] = {0}, have[HOOKS] = {0}, dup[HOOKS] = {0};

        pthread_mutex_lock(&rx_seen.lock);
        for (int h = 0; h < HOOKS; h++) {
                for (int i = 0; i < N; i++) {
                        int owed = (!only || !strcmp(only, app_of(i))) &&
                                   (!apps[h] || !strcmp(apps[h], app_of(i)));
                        want[h] += (unsigned)owed;
                        have[h] += rx_seen.got[h][i] ? 1 : 0;
                        dup[h] += rx_seen.got[h][i] > 1 ? rx_seen.got[h][i] - 1
                                                        : 0;
                        cr_expect_eq(rx_seen.got[h][i] > 0, owed,
                                     "%s: %s: event %d (app %s) %s", phase,
                                     paths[h], i, app_of(i),
                                     owed ? "never received" : "received");
                }
                cr_log_info("%s: %s (app %s): %u of %u events, %u "
                            "duplicates, %u of another app",
                            phase, paths[h], apps[h] ? apps[h] : "*operator*",
                            have[h], want[h], dup[h], rx_seen.foreign[h]);
                cr_expect_eq(rx_seen.foreign[h], 0,
                             "%s: %s got %u payloads of another app", phase,
                             paths[h], rx_seen.foreign[h]);
                cr_expect_eq(have[h], want[h], "%s: %s", phase, paths[h]);
        }
        cr_expect_eq(rx_seen.unknown, 0, "%s: %u requests not ours", phase,
                     rx_seen.unknown);
        pthread_mutex_unlock(&rx_seen.lock);
        return want[HOOKS - 1];
}

Test(tenants, each_app_gets_its_own_events_the_operator_all, .timeout = 240)
{
        char topic[96], group[96], cfgpath[256], text[4096];
        char logpath[300], errstr[256];
        rx_conf_t c = {.cb = on_request};
        rx_t *rx = rx_start(&c, errstr, sizeof(errstr));
        char outpath[300], cmd[1024], report[8192];
        FILE *out;
        size_t got;
        pid_t pid;
        int status;

        cr_assert_not_null(rx, "receiver: %s", errstr);
        it_unique("hb-it-ten", topic, sizeof(topic));
        it_unique("hb-it-ten-group", group, sizeof(group));
        it_create_topic(topic, PARTS);
        write_cfg(text, sizeof(text), topic, group, rx_port(rx), "NX-b", "");
        it_write_temp(text, cfgpath, sizeof(cfgpath));

        produce_all(topic);

        snprintf(logpath, sizeof(logpath), "%s.log", cfgpath);
        pid = it_spawn_worker(cfgpath, logpath);
        cr_assert(it_wait_committed_to_end(group, topic, PARTS, 120000),
                  "offsets did not reach the log end (worker log: %s)",
                  logpath);
        status = it_stop_worker(pid, SIGTERM, 30000);
        cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "worker did not stop cleanly (log: %s)", logpath);

        /* Every commit came after its 2xx: all are here now. */
        cr_expect_eq(check("live", NULL), N);

        /* replay --app NX-b: B's events again, to B's webhook and the
         * operator's; the others' skipped and counted */
        memset(rx_seen.got, 0, sizeof(rx_seen.got));
        snprintf(outpath, sizeof(outpath), "%s.replay", cfgpath);
        snprintf(cmd, sizeof(cmd),
                 "'%s' replay -c '%s' --from 0 --app NX-b > '%s' 2>&1",
                 it_hookbridge(), cfgpath, outpath);
        status = system(cmd);
        out = fopen(outpath, "r");
        cr_assert_not_null(out);
        got = fread(report, 1, sizeof(report) - 1, out);
        report[got] = '\0';
        fclose(out);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", report);
        cr_expect(strstr(report, "  other apps      1800 (of the skipped)\n"),
                  "%s", report);
        cr_expect(strstr(report, "  delivered       1200\n"), "%s", report);
        cr_expect_eq(check("replay --app NX-b", "NX-b"), N / 4);
        rx_stop(rx);
}

/* Does the file \p path contain \p needle? */
static int log_has(const char *path, const char *needle)
{
        static char buf[1 << 20];
        FILE *f = fopen(path, "r");
        size_t n;

        if (!f)
                return 0;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        return strstr(buf, needle) != NULL;
}

static void wait_log(const char *path, const char *needle, int timeout_ms)
{
        int64_t deadline = it_now_ms() + timeout_ms;

        while (!log_has(path, needle) && it_now_ms() < deadline)
                usleep(50 * 1000);
        cr_assert(log_has(path, needle), "no '%s' in %s", needle, path);
}

/* SIGHUP reloads app_token (SPEC §5): webhook b moves from app NX-b to
 * NX-d; the next events reach it by the new file, never NX-b's. */
Test(tenants, a_reload_gives_a_webhook_to_another_app, .timeout = 240)
{
        char topic[96], group[96], cfgpath[256], text[4096], logpath[300];
        char errstr[256], listen[64];
        static char body[1 << 18];
        uint16_t admin = it_free_port();
        rx_conf_t c = {.cb = on_request};
        rx_t *rx = rx_start(&c, errstr, sizeof(errstr));
        FILE *f;
        pid_t pid;
        int status;

        cr_assert_not_null(rx, "receiver: %s", errstr);
        it_unique("hb-it-ten-rl", topic, sizeof(topic));
        it_unique("hb-it-ten-rl-group", group, sizeof(group));
        it_create_topic(topic, PARTS);
        snprintf(listen, sizeof(listen), "127.0.0.1:%u", admin);
        write_cfg(text, sizeof(text), topic, group, rx_port(rx), "NX-b",
                  listen);
        it_write_temp(text, cfgpath, sizeof(cfgpath));
        snprintf(logpath, sizeof(logpath), "%s.log", cfgpath);
        pid = it_spawn_worker(cfgpath, logpath);
        wait_log(logpath, "worker started", 30000);

        produce_all(topic);
        cr_assert(it_wait_committed_to_end(group, topic, PARTS, 120000),
                  "not committed (log %s)", logpath);
        cr_expect_eq(check("before the reload", NULL), N);

        write_cfg(text, sizeof(text), topic, group, rx_port(rx), "NX-d",
                  listen);
        f = fopen(cfgpath, "w");
        cr_assert_not_null(f);
        fputs(text, f);
        fclose(f);
        kill(pid, SIGHUP);
        wait_log(logpath, "configuration reloaded", 10000);
        pthread_mutex_lock(&rx_seen.lock);
        memset(rx_seen.got, 0, sizeof(rx_seen.got));
        apps[1] = "NX-d";
        pthread_mutex_unlock(&rx_seen.lock);

        produce_all(topic);
        cr_assert(it_wait_committed_to_end(group, topic, PARTS, 120000),
                  "not committed (log %s)", logpath);
        cr_expect_eq(check("after the reload", NULL), N);

        /* /status and the per-webhook series name b's app, old and new;
         * an operator webhook's carry no app */
        cr_assert_eq(it_http_get(admin, "/status", body, sizeof(body)), 200);
        cr_expect(strstr(body, "\"name\":\"b\",\"app_token\":\"NX-d\""), "%s",
                  body);
        cr_expect(strstr(body, "\"name\":\"ops\",\"app_token\":null"), "%s",
                  body);
        cr_assert_eq(it_http_get(admin, "/metrics", body, sizeof(body)), 200);
        for (int k = 0; k < 3; k++) {
                static const char *const series[] = {
                        "hookbridge_deliveries_total{webhook=\"b\",app=\"NX-"
                        "b\","
                        "outcome=\"ok\"}",
                        "hookbridge_deliveries_total{webhook=\"b\",app=\"NX-"
                        "d\","
                        "outcome=\"ok\"}",
                        "hookbridge_deliveries_total{webhook=\"ops\","
                        "outcome=\"ok\"}",
                };
                double v = it_metric(body, series[k]);
                cr_log_info("%s %.0f", series[k], v);
                cr_expect_eq(v, k < 2 ? N / 4 : 2 * N, "%s", series[k]);
        }
        status = it_stop_worker(pid, SIGTERM, 30000);
        cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "worker did not stop cleanly (log: %s)", logpath);
        rx_stop(rx);
}

/* A dead letter names its webhook's app (hookbridge-app, SPEC §4, §5):
 * webhook a answers 400, so each of NX-a's events is dead-lettered for
 * it, and only NX-a's. */
Test(tenants, dead_letters_name_the_webhooks_app, .timeout = 240)
{
        char topic[96], group[96], dlq[96], cfgpath[256], text[4096];
        char logpath[300], errstr[512], extra[160];
        rx_conf_t c = {.cb = on_request};
        rx_t *rx = rx_start(&c, errstr, sizeof(errstr));
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_t *rk;
        int64_t deadline;
        int n = 0, bad = 0, status;
        pid_t pid;

        cr_assert_not_null(rx, "receiver: %s", errstr);
        cr_assert_eq(rx_set_script(rx, "/a", "400"), 0);
        it_unique("hb-it-ten-dl", topic, sizeof(topic));
        it_unique("hb-it-ten-dl-group", group, sizeof(group));
        it_unique("hb-it-ten-dlq", dlq, sizeof(dlq));
        it_create_topic(topic, PARTS);
        it_create_topic(dlq, 1);
        snprintf(extra, sizeof(extra), "dead_letter_topic = \"%s\";", dlq);
        cfg_delivery_extra = extra;
        write_cfg(text, sizeof(text), topic, group, rx_port(rx), "NX-b", "");
        it_write_temp(text, cfgpath, sizeof(cfgpath));
        snprintf(logpath, sizeof(logpath), "%s.log", cfgpath);
        pid = it_spawn_worker(cfgpath, logpath);
        produce_all(topic);
        cr_assert(it_wait_committed_to_end(group, topic, PARTS, 120000),
                  "not committed (log %s)", logpath);
        status = it_stop_worker(pid, SIGTERM, 30000);
        cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "worker did not stop cleanly (log: %s)", logpath);
        cr_expect_eq(check("400 at /a", NULL), N);

        rd_kafka_conf_set(conf, "bootstrap.servers", it_brokers(), NULL, 0);
        rd_kafka_conf_set(conf, "group.id", group, NULL, 0);
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        cr_assert_not_null(rk, "%s", errstr);
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, dlq, 0)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        cr_assert_eq(rd_kafka_assign(rk, l), 0);
        rd_kafka_topic_partition_list_destroy(l);
        deadline = it_now_ms() + 30000;
        while (n < N / 4 && it_now_ms() < deadline) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
                hb_rec_t r;
                void *mem = NULL;
                char value[4096];
                if (!m)
                        continue;
                if (m->err) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                n++;
                cr_assert_eq(hb_rec_decode(m, &r, &mem, errstr, sizeof(errstr)),
                             0, "%s", errstr);
                snprintf(value, sizeof(value), "%.*s", (int)r.value_len,
                         (const char *)r.value);
                if (!r.webhook || strcmp(r.webhook, "a") || !r.app ||
                    strcmp(r.app, "NX-a") ||
                    !strstr(value, "\"app_token\":\"NX-a\""))
                        bad++;
                free(mem);
                rd_kafka_message_destroy(m);
        }
        cr_log_info("dead letters: %d (webhook a, app NX-a), %d otherwise", n,
                    bad);
        cr_expect_eq(n, N / 4);
        cr_expect_eq(bad, 0);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        rx_stop(rx);
}

/* A reload that gives webhook b (answering 503, its deliveries retried
 * and held) to another app releases what it held of the old app's
 * events: after the reload b answers 200, and none of NX-b's events ever
 * gets one, while NX-d's next events all do. */
Test(tenants, a_reload_to_another_app_releases_the_old_apps_deliveries,
     .timeout = 240)
{
        char topic[96], group[96], cfgpath[256], text[4096], logpath[300];
        char errstr[256];
        rx_conf_t c = {.cb = on_request};
        rx_t *rx = rx_start(&c, errstr, sizeof(errstr));
        int64_t deadline;
        unsigned tried = 0, ops = 0;
        FILE *f;
        pid_t pid;
        int status;

        cr_assert_not_null(rx, "receiver: %s", errstr);
        cr_assert_eq(rx_set_script(rx, "/b", "503"), 0);
        it_unique("hb-it-ten-rel", topic, sizeof(topic));
        it_unique("hb-it-ten-rel-group", group, sizeof(group));
        it_create_topic(topic, PARTS);
        /* no circuit breaker: b is asked again and again */
        cfg_delivery_extra =
                "on_exhausted = \"retry\"; circuit = { failures = 0; };";
        write_cfg(text, sizeof(text), topic, group, rx_port(rx), "NX-b", "");
        it_write_temp(text, cfgpath, sizeof(cfgpath));
        snprintf(logpath, sizeof(logpath), "%s.log", cfgpath);
        pid = it_spawn_worker(cfgpath, logpath);
        wait_log(logpath, "worker started", 30000);
        produce_all(topic);
        /* the first events all consumed (the operator has them all) and
         * NX-b's asked of b (as many at once as its max_in_flight),
         * answered 503, held and retried */
        deadline = it_now_ms() + 60000;
        while ((tried < 8 || ops < N) && it_now_ms() < deadline) {
                usleep(100 * 1000);
                pthread_mutex_lock(&rx_seen.lock);
                tried = ops = 0;
                for (int i = 0; i < N; i++) {
                        tried += rx_seen.got[1][i] > 0;
                        ops += rx_seen.got[3][i] > 0;
                }
                pthread_mutex_unlock(&rx_seen.lock);
        }
        cr_assert_geq(tried, 8);
        cr_assert_eq(ops, N);
        cr_log_info("before the reload b was asked %u of NX-b's events "
                    "(503)",
                    tried);

        write_cfg(text, sizeof(text), topic, group, rx_port(rx), "NX-d", "");
        f = fopen(cfgpath, "w");
        cr_assert_not_null(f);
        fputs(text, f);
        fclose(f);
        kill(pid, SIGHUP);
        wait_log(logpath, "configuration reloaded", 10000);
        /* A request of NX-b's the reload cancelled may already be on the
         * wire: let the receiver answer it 503 before b answers 200 (it
         * counted as "NX-b's event got a 2xx" in 1 of ~10 loaded runs). */
        usleep(500 * 1000);
        cr_assert_eq(rx_set_script(rx, "/b", "200"), 0);
        produce_all(topic);
        cr_assert(it_wait_committed_to_end(group, topic, PARTS, 120000),
                  "not committed (log %s)", logpath);
        usleep(1500 * 1000); /* room for a retry that should not come */
        pthread_mutex_lock(&rx_seen.lock);
        cr_log_info("after the reload /b answered 2xx to %u of NX-b's "
                    "events and %u of NX-d's",
                    rx_seen.b_ok[0], rx_seen.b_ok[1]);
        cr_expect_eq(rx_seen.b_ok[0], 0);
        cr_expect_eq(rx_seen.b_ok[1], N / 4);
        pthread_mutex_unlock(&rx_seen.lock);
        cr_expect(log_has(logpath, "webhook given to another app by the "
                                   "reload; releasing its deliveries"),
                  "log %s", logpath);
        status = it_stop_worker(pid, SIGTERM, 30000);
        cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "worker did not stop cleanly (log: %s)", logpath);
        rx_stop(rx);
}
