/* dm_demo: `hookbridge demo`: the real pipeline on librdkafka's in-process
 * mock cluster and the receiver (demo/receiver) on loopback; the webhooks
 * are created through the management API, their store a real one on the
 * mock cluster; no services needed. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "dm_demo.h"

#include "dm_http.h"
#include "dm_kafka.h"
#include "dm_stack.h"
#include "hb_base64.h"
#include "hb_log.h"
#include "hb_time.h"
#include "rx_receiver.h"
#include "wk_cmd.h"

#define DEMO_STORE_TOPIC "hookbridge.webhooks"
#define DEMO_TOKEN_ENV   "HOOKBRIDGE_API_TOKEN"
#define DEMO_KEY_ENV     "HOOKBRIDGE_SECRET_KEY"
#define DEMO_UP_SECRET   "demo-userpilot-secret"
/* Two apps (SPEC §5): every kind of event of each, interleaved in one
 * topic; each app's webhook has a receiver path of its own. */
#define DEMO_APP_A  "NX-acme"
#define DEMO_APP_B  "NX-globex"
#define DEMO_PATH_A "/acme/crm"
#define DEMO_PATH_B "/globex/nps"

/* Requests of each app's path carrying its app's payloads, and those
 * whose payload is of another app than the path's (must stay 0); read by
 * the main thread while the receiver's may still count. */
static atomic_ulong per_app[2], foreign;

/* Does \p s (\p n bytes) contain \p needle? */
static int contains(const char *s, size_t n, const char *needle)
{
        size_t k = strlen(needle);

        for (size_t i = 0; i + k <= n; i++)
                if (!memcmp(s + i, needle, k))
                        return 1;
        return 0;
}

/* Print each request as the receiver answers it (its threads, one at a
 * time); the receiver counts and verifies. */
static void on_request(const rx_request_t *req, void *opaque)
{
        int b = !strcmp(req->path, DEMO_PATH_B);
        char mine[64];

        (void)opaque;
        snprintf(mine, sizeof(mine), "\"app_token\":\"%s\"",
                 b ? DEMO_APP_B : DEMO_APP_A);
        if (contains(req->body, req->body_len, mine))
                per_app[b]++;
        else
                foreign++;
        printf("\n<- POST %s  (answered %d)\n", req->path, req->status);
        printf("   webhook-id: %s\n", req->webhook_id);
        if (*req->webhook_ts)
                printf("   webhook-timestamp: %s\n", req->webhook_ts);
        printf("   signature: %s  [%s]\n", req->signature,
               req->verified == 1   ? "verified"
               : req->verified == 0 ? "DOES NOT VERIFY"
                                    : "no secret");
        printf("   %.*s\n", (int)req->body_len, req->body);
        fflush(stdout);
}

/* A fresh API token (hex) and secret key (32 bytes, base64) in the
 * environment the configuration names, before any thread starts. */
static int make_keys(void)
{
        unsigned char raw[32];
        char hex[2 * sizeof(raw) + 1], b64[64];

        if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
                return -1;
        for (size_t i = 0; i < sizeof(raw); i++)
                snprintf(hex + 2 * i, 3, "%02x", raw[i]);
        if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw) ||
            !hb_base64_encode(raw, sizeof(raw), b64, sizeof(b64)))
                return -1;
        return setenv(DEMO_TOKEN_ENV, hex, 1) || setenv(DEMO_KEY_ENV, b64, 1)
                       ? -1
                       : 0;
}

/* One management API request, printed; @returns its status, -1 when it
 * got none. \p id / \p secret: the answer's, when asked (malloc()ed). */
static long api_call(uint16_t port, const char *method, const char *path,
                     const char *body, char **id, char **secret)
{
        char url[512], errstr[512];
        dm_request_t r = {method,         url, body, getenv(DEMO_TOKEN_ENV),
                          DEMO_TOKEN_ENV, 1};
        dm_answer_t a;
        json_object *o, *v;
        long status;

        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port,
                 path);
        if (dm_http(&r, &a, errstr, sizeof(errstr)) == -1) {
                fprintf(stderr, "demo: %s\n", errstr);
                return -1;
        }
        status = a.status;
        o = a.body ? json_tokener_parse(a.body) : NULL;
        if (id && o && json_object_object_get_ex(o, "id", &v))
                *id = strdup(json_object_get_string(v));
        if (secret && o && json_object_object_get_ex(o, "secret", &v))
                *secret = strdup(json_object_get_string(v));
        json_object_put(o);
        dm_answer_free(&a);
        return status;
}

/* GET an admin path until \p ok says yes or \p ms pass; the last answer
 * printed when \p print. @returns 1 when it said yes. */
static int admin_wait(uint16_t port, const char *path,
                      int (*ok)(const dm_answer_t *), int ms, int print)
{
        char url[256], errstr[512];
        dm_request_t r = {"GET", url, NULL, NULL, NULL, 0};
        int64_t end = hb_time_mono_ms() + ms;
        dm_answer_t a;
        int yes = 0;

        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port,
                 path);
        while (!yes && hb_time_mono_ms() < end) {
                if (dm_http(&r, &a, errstr, sizeof(errstr)) == 0) {
                        yes = ok(&a);
                        dm_answer_free(&a);
                }
                if (!yes)
                        usleep(50 * 1000);
        }
        if (print) {
                r.print = 1;
                if (dm_http(&r, &a, errstr, sizeof(errstr)) == 0)
                        dm_answer_free(&a);
        }
        return yes;
}

static int is_200(const dm_answer_t *a)
{
        return a->status == 200;
}

/* /status: both store webhooks are in the worker's tables, enabled. */
static int both_routed(const dm_answer_t *a)
{
        json_object *o = a->body ? json_tokener_parse(a->body) : NULL, *s, *e;
        int yes = o && json_object_object_get_ex(o, "store_webhooks", &s) &&
                  json_object_object_get_ex(s, "enabled", &e) &&
                  json_object_get_int(e) == 2;

        json_object_put(o);
        return yes;
}

/* The two apps' webhooks, created through the API; the generated secret
 * of the first given to the receiver. @returns 0, or -1. */
static int create_hooks(uint16_t port, unsigned rx_port, rx_t *rx)
{
        char body[1024], path[256], *id = NULL, *secret = NULL;
        int ok;

        printf("\ncreating the webhooks through the management API "
               "(%s holds the\noperator token generated for this run):\n",
               DEMO_TOKEN_ENV);
        snprintf(body, sizeof(body),
                 "{\"name\":\"acme-crm\",\"url\":\"http://127.0.0.1:%u"
                 "%s\",\"events\":[\"*\"],\"user_properties\":[\"plan\"],"
                 "\"company_properties\":[\"industry\"]}",
                 rx_port, DEMO_PATH_A);
        ok = api_call(port, "POST", "/v1/apps/" DEMO_APP_A "/webhooks", body,
                      &id, &secret) == 201 &&
             id && secret && rx_set_secret(rx, DEMO_PATH_A, secret, 0) == 0;
        snprintf(body, sizeof(body),
                 "{\"name\":\"globex-nps\",\"url\":\"http://127.0.0.1:%u"
                 "%s\",\"events\":[\"nps.score\",\"nps.feedback\"],"
                 "\"signature\":\"userpilot\",\"secret\":\"%s\"}",
                 rx_port, DEMO_PATH_B, DEMO_UP_SECRET);
        ok = ok && api_call(port, "POST", "/v1/apps/" DEMO_APP_B "/webhooks",
                            body, NULL, NULL) == 201;
        /* another app's path does not reach it */
        if (ok) {
                snprintf(path, sizeof(path),
                         "/v1/apps/" DEMO_APP_B "/webhooks/%s", id);
                ok = api_call(port, "GET", path, NULL, NULL, NULL) == 404;
        }
        free(id);
        free(secret);
        if (!ok)
                fprintf(stderr, "demo: the API did not answer as expected\n");
        return ok ? 0 : -1;
}

static void usage_exit_text(const char *arg, int *code)
{
        fputs("usage: hookbridge demo\nRuns the whole pipeline on "
              "librdkafka's in-process mock cluster and a\nbuilt-in "
              "receiver on 127.0.0.1: creates two apps' webhooks through "
              "the\nmanagement API, produces both apps' events, then prints "
              "what was\ndelivered and committed. Needs no services.\n",
              strcmp(arg, "--help") ? stderr : stdout);
        *code = strcmp(arg, "--help") ? WK_EXIT_USAGE : 0;
}

int dm_cmd_demo(int argc, char **argv)
{
        char errstr[1024], cfgtext[4096];
        rx_conf_t rxc = {.cb = on_request};
        rx_stats_t st = {0};
        rd_kafka_conf_t *conf;
        rd_kafka_t *mrk = NULL;
        rd_kafka_mock_cluster_t *mc = NULL;
        const char *boot;
        dm_stack_t *hb = NULL;
        rx_t *rx = NULL;
        int deliverable, ok = 0, code;
        uint64_t expected;
        int64_t t0;
        time_t deadline;

        if (argc > 1) {
                usage_exit_text(argv[1], &code);
                return code;
        }
        hb_log_setup(HB_LOG_WARN, 0);
        if (make_keys() == -1) {
                fprintf(stderr, "demo: no random bytes\n");
                return 1;
        }

        rx = rx_start(&rxc, errstr, sizeof(errstr));
        if (!rx) {
                fprintf(stderr, "demo: receiver: %s\n", errstr);
                goto out;
        }
        rx_set_secret(rx, DEMO_PATH_B, DEMO_UP_SECRET, 1);

        conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
        mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!mrk) {
                rd_kafka_conf_destroy(conf);
                fprintf(stderr, "demo: %s\n", errstr);
                goto out;
        }
        mc = rd_kafka_mock_cluster_new(mrk, 1);
        if (!mc) {
                fprintf(stderr, "demo: could not start the mock cluster\n");
                goto out;
        }
        boot = rd_kafka_mock_cluster_bootstraps(mc);
        /* CreateTopics times out on the mock: both topics made by its
         * API (the store takes a topic that exists as it is) */
        rd_kafka_mock_topic_create(mc, DM_TOPIC, DM_PARTITIONS, 1);
        rd_kafka_mock_topic_create(mc, DEMO_STORE_TOPIC, 1, 1);
        printf("embedded Kafka (librdkafka mock cluster) at %s:\n"
               "  '%s' (%d partitions) for the events, '%s' (1 partition)\n"
               "  for the webhook store\n"
               "built-in receiver at http://127.0.0.1:%u\n",
               boot, DM_TOPIC, DM_PARTITIONS, DEMO_STORE_TOPIC, rx_port(rx));

        snprintf(cfgtext, sizeof(cfgtext),
                 "kafka = { brokers = \"%s\"; group_id = \"" DM_GROUP "\";\n"
                 "  topics = ( { name = \"" DM_TOPIC "\"; } );\n"
                 "  commit_interval_ms = 200;\n"
                 "  properties = [ \"log_level=3\" ]; };\n"
                 "delivery = { concurrency = 8; shutdown_timeout_ms = 5000;\n"
                 "  allow_networks = [ \"127.0.0.0/8\" ];\n"
                 "  retry = { initial_ms = 100; max_ms = 1000; "
                 "max_attempts = 3; }; };\n"
                 "api = { listen = \"127.0.0.1:0\"; store_topic = "
                 "\"" DEMO_STORE_TOPIC "\";\n"
                 "  token_env = \"" DEMO_TOKEN_ENV "\"; secret_key_env = "
                 "\"" DEMO_KEY_ENV "\"; };\n"
                 "webhooks = ( );\n"
                 "admin = { listen = \"127.0.0.1:0\"; };\n"
                 "log = { level = \"warn\"; };\n",
                 boot);
        t0 = hb_time_mono_ms();
        hb = dm_stack_start(cfgtext, errstr, sizeof(errstr));
        if (!hb) {
                fprintf(stderr, "demo: %s\n", errstr);
                goto out;
        }
        printf("hookbridge: worker (no webhooks in its file), management "
               "API on\n  http://127.0.0.1:%u, admin listener on "
               "http://127.0.0.1:%u\n",
               dm_stack_api_port(hb), dm_stack_admin_port(hb));
        fflush(stdout);
        /* ready: partitions assigned, the store read to its end */
        if (!admin_wait(dm_stack_admin_port(hb), "/readyz", is_200, 60000, 1)) {
                fprintf(stderr, "demo: the worker did not become ready\n");
                goto out;
        }
        printf("(ready %lld ms after start)\n",
               (long long)(hb_time_mono_ms() - t0));
        if (create_hooks(dm_stack_api_port(hb), rx_port(rx), rx) == -1)
                goto out;
        t0 = hb_time_mono_ms();
        if (!admin_wait(dm_stack_admin_port(hb), "/status", both_routed, 60000,
                        0)) {
                fprintf(stderr, "demo: the worker did not take the "
                                "store's webhooks\n");
                goto out;
        }
        printf("\nworker: both webhooks in its routing tables %lld ms after "
               "the last write\n  (/status: store_webhooks.enabled = 2)\n",
               (long long)(hb_time_mono_ms() - t0));
        fflush(stdout);

        deliverable = dm_produce_events(boot, DEMO_APP_A, DEMO_APP_B);
        if (deliverable == -1)
                goto out;
        /* acme-crm gets acme's every kind, globex-nps globex's two NPS
         * kinds; neither ever gets the other app's. */
        expected = (uint64_t)deliverable / 2 + 2;
        deadline = time(NULL) + 60;
        while (time(NULL) < deadline && rx_count(rx) < expected)
                usleep(50 * 1000);
        /* Let a commit interval pass, then stop (which commits too). */
        usleep(500 * 1000);
        dm_stack_stop(hb);
        hb = NULL;
        rx_stats(rx, &st);

        ok = dm_print_committed(boot);
        printf("\ndelivered %llu of %llu expected webhook calls, %llu "
               "signatures verified;\n%s got %lu of %s's events, %s %lu of "
               "%s's, %lu of another app;\nthe identify call was skipped, "
               "the malformed event counted invalid;\n%s\n",
               (unsigned long long)st.requests, (unsigned long long)expected,
               (unsigned long long)st.verified, DEMO_PATH_A,
               atomic_load(&per_app[0]), DEMO_APP_A, DEMO_PATH_B,
               atomic_load(&per_app[1]), DEMO_APP_B, atomic_load(&foreign),
               ok ? "every offset is committed: the pipeline works end to "
                    "end."
                  : "NOT every offset is committed.");
        ok = ok && st.requests == expected && st.verified == expected &&
             atomic_load(&per_app[0]) == expected - 2 &&
             atomic_load(&per_app[1]) == 2 && atomic_load(&foreign) == 0;
out:
        dm_stack_stop(hb);
        rx_stop(rx);
        if (mc)
                rd_kafka_mock_cluster_destroy(mc);
        if (mrk)
                rd_kafka_destroy(mrk);
        return ok ? 0 : 1;
}
