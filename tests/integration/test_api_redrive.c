/* Integration: POST /v1/apps/{app}/webhooks/{id}/redrive (SPEC §7, §4a)
 * on a real `hookbridge run` against the real broker: two apps' webhooks
 * (created through the API) fail, their deliveries are dead-lettered;
 * once they answer again, a dry run counts this webhook's dead letters
 * and sends nothing, another app's path answers 404, bad bodies 400, and
 * the redrive (202, in the background) delivers each of this webhook's
 * dead letters once and none of the other's. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "it_util.h"
#include "rx_receiver.h"
#include "wk_sample.h"

#define TOKEN "api-redrive-token-0123456789"
#define KEY   "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define APP   "NX-rd-a"
#define APP_B "NX-rd-b"

enum { NA = 20, NB = 10 };

static uint16_t port;
static rx_t *rx;

/* 2xx answers on /a and /b, and all requests. */
static struct {
        pthread_mutex_t lock;
        unsigned ok[2], all[2];
} seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_rx(const rx_request_t *req, void *opaque)
{
        int i = !strcmp(req->path, "/b");

        (void)opaque;
        pthread_mutex_lock(&seen.lock);
        seen.all[i]++;
        seen.ok[i] += req->status / 100 == 2;
        pthread_mutex_unlock(&seen.lock);
}

static unsigned ok_of(int i)
{
        unsigned n;

        pthread_mutex_lock(&seen.lock);
        n = seen.ok[i];
        pthread_mutex_unlock(&seen.lock);
        return n;
}

static it_ans_t *call(const char *method, const char *path, const char *body)
{
        static it_ans_t a;

        it_call(&a, port, TOKEN, method, path, body, body ? strlen(body) : 0,
                NULL);
        return &a;
}

/* Create webhook \p name of \p app on the receiver's /\p name. */
static void create(const char *app, const char *name, char *id, size_t size)
{
        char path[128], body[512];
        json_object *v;
        it_ans_t *a;

        snprintf(path, sizeof(path), "/v1/apps/%s/webhooks", app);
        snprintf(body, sizeof(body),
                 "{\"name\":\"%s\",\"url\":\"http://127.0.0.1:%u/%s\","
                 "\"events\":[\"*\"]}",
                 name, rx_port(rx), name);
        a = call("POST", path, body);
        cr_assert_eq(a->status, 201, "%ld %s", a->status, a->body);
        cr_assert(json_object_object_get_ex(a->json, "id", &v));
        snprintf(id, size, "%s", json_object_get_string(v));
}

static void produce(const char *topic, const char *app, int n, int base)
{
        rd_kafka_t *rk = it_producer();
        char raw[2048], mid[64];

        for (int i = 0; i < n; i++) {
                snprintf(mid, sizeof(mid), "rd-%d", base + i);
                cr_assert_gt(wk_sample_render_app((size_t)i % wk_sample_count(),
                                                  app, mid, i, 1700000000000LL,
                                                  raw, sizeof(raw)),
                             0);
                it_produce(rk, topic, 0, mid, raw, strlen(raw));
        }
        cr_assert_eq(rd_kafka_flush(rk, 30000), 0);
        rd_kafka_destroy(rk);
}

/* Lines of \p path holding \p needle. */
static int log_count(const char *path, const char *needle)
{
        char line[4096];
        FILE *f = fopen(path, "r");
        int n = 0;

        while (f && fgets(line, sizeof(line), f))
                n += strstr(line, needle) != NULL;
        if (f)
                fclose(f);
        return n;
}

Test(api_redrive, one_webhooks_dead_letters_in_a_window, .timeout = 240)
{
        char topic[96], group[96], store[96], dlq[96], text[3072];
        char cfg[256], logp[300], err[256], ida[64], idb[64], path[256];
        rx_conf_t rc = {.cb = on_rx};
        int64_t deadline, end[1];
        unsigned a_before;
        pid_t w;
        it_ans_t *a;
        int st;

        it_unique("rd-ev", topic, sizeof(topic));
        it_unique("rd-g", group, sizeof(group));
        it_unique("rd-store", store, sizeof(store));
        it_unique("rd-dlq", dlq, sizeof(dlq));
        it_create_topic(topic, 1);
        it_create_topic(dlq, 1);
        rx = rx_start(&rc, err, sizeof(err));
        cr_assert_not_null(rx, "%s", err);
        cr_assert_eq(rx_set_script(rx, "*", "500"), 0);
        port = it_free_port();
        setenv("HB_TEST_RD_KEY", KEY, 1);
        setenv("HB_TEST_RD_TOKENS", TOKEN "\n", 1);
        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"%s\"; group_id = \"%s\";\n"
                 "  topics = ( \"%s\" ); commit_interval_ms = 100; };\n"
                 "delivery = { allow_networks = [ \"127.0.0.0/8\" ];\n"
                 "  dead_letter_topic = \"%s\";\n"
                 "  circuit = { failures = 0; };\n"
                 "  retry = { initial_ms = 50; max_ms = 100; "
                 "max_attempts = 2; schedule = [ ]; }; };\n"
                 "webhooks = ( );\n"
                 "admin = { listen = \"\"; };\n"
                 "api = { listen = \"127.0.0.1:%u\";\n"
                 "  token_env = \"HB_TEST_RD_TOKENS\";\n"
                 "  secret_key_env = \"HB_TEST_RD_KEY\";\n"
                 "  store_topic = \"%s\"; store_replication_factor = 1; };\n",
                 it_brokers(), group, topic, dlq, port, store);
        it_write_temp(text, cfg, sizeof(cfg));
        snprintf(logp, sizeof(logp), "%s.log", cfg);
        w = it_spawn_worker(cfg, logp);
        deadline = it_now_ms() + 60000;
        while (call("GET", "/v1/apps/" APP "/webhooks", NULL)->status != 200) {
                cr_assert(it_now_ms() < deadline, "API not up (log %s)", logp);
                it_sleep_ms(100);
        }
        create(APP, "a", ida, sizeof(ida));
        create(APP_B, "b", idb, sizeof(idb));
        it_sleep_ms(2500); /* in force within 2 s (SPEC §7) */
        produce(topic, APP, NA, 0);
        produce(topic, APP_B, NB, NA);
        /* every delivery failed for good: dead letters */
        deadline = it_now_ms() + 60000;
        do {
                it_log_end(dlq, 1, end);
                if (end[0] >= NA + NB)
                        break;
                it_sleep_ms(200);
        } while (it_now_ms() < deadline);
        cr_assert_eq(end[0], NA + NB, "%lld dead letters (log %s)",
                     (long long)end[0], logp);
        cr_assert_eq(ok_of(0) + ok_of(1), 0);
        cr_assert_eq(rx_set_script(rx, "*", "200"), 0);

        /* bad bodies, another app's path, an unknown id */
        snprintf(path, sizeof(path), "/v1/apps/" APP "/webhooks/%s/redrive",
                 ida);
        a = call("POST", path, "{\"frm\":1}");
        cr_expect_eq(a->status, 422, "%s", a->body);
        cr_expect(strstr(a->body, "frm"), "%s", a->body);
        a = call("POST", path, "{\"dry_run\":\"yes\"}");
        cr_expect_eq(a->status, 422, "%s", a->body);
        a = call("POST", path, "{\"from\":\"yesterday-ish\"}");
        cr_expect_eq(a->status, 422, "%s", a->body);
        a = call("POST", path, "[1]");
        cr_expect_eq(a->status, 400, "%s", a->body);
        snprintf(path, sizeof(path), "/v1/apps/" APP_B "/webhooks/%s/redrive",
                 ida);
        a = call("POST", path, "{}");
        cr_expect_eq(a->status, 404, "another app's id: %s", a->body);

        /* a dry run counts a's 20 and sends nothing */
        snprintf(path, sizeof(path), "/v1/apps/" APP "/webhooks/%s/redrive",
                 ida);
        a = call("POST", path, "{\"dry_run\":true,\"from\":\"-1h\"}");
        cr_assert_eq(a->status, 200, "%s", a->body);
        cr_expect_eq(it_jint(a->json, "window"), NA + NB, "%s", a->body);
        cr_expect_eq(it_jint(a->json, "selected"), NA, "%s", a->body);
        cr_expect_eq(it_jint(a->json, "would_send"), NA, "%s", a->body);
        it_sleep_ms(500);
        cr_assert_eq(ok_of(0), 0, "a dry run sent %u", ok_of(0));

        /* the redrive: 202, then each of a's once, none of b's */
        a = call("POST", path, NULL);
        cr_assert_eq(a->status, 202, "%s", a->body);
        cr_expect_eq(it_jint(a->json, "window"), NA + NB, "%s", a->body);
        deadline = it_now_ms() + 60000;
        while (log_count(logp, "api redrive done") < 1) {
                cr_assert(it_now_ms() < deadline, "not done (log %s)", logp);
                it_sleep_ms(100);
        }
        a_before = ok_of(0);
        cr_expect_eq(a_before, NA, "a got %u of %d", a_before, NA);
        cr_expect_eq(ok_of(1), 0, "b got %u", ok_of(1));
        cr_expect_eq(log_count(logp, "delivered=20 failed=0"), 1, "log %s",
                     logp);
        fprintf(stderr,
                "api redrive: %d + %d dead letters; dry run would send %d, "
                "sent nothing; redrive delivered %u to a, %u to b\n",
                NA, NB, NA, a_before, ok_of(1));
        st = it_stop_worker(w, SIGTERM, 30000);
        cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the worker did not stop cleanly (log %s)", logp);
        rx_stop(rx);
}
