/* Integration: GET /v1/apps/{app}/webhooks/{id}/health for the whole
 * deployment. Two `hookbridge run` in one group, each with the API on,
 * share a store webhook whose receiver fails some requests (503s retried
 * in the worker and in a retry tier, 400s dead-lettered at once); the
 * deliveries split between the two; then the health asked of either
 * replica gives the deployment's totals -- delivered = the receiver's 2xx,
 * failed = its other answers, dead-lettered = the dead-letter topic's
 * records, nothing left in retry -- within a few seconds, and another
 * app's path or an unknown id answers 404. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "it_util.h"
#include "rx_receiver.h"
#include "wk_sample.h"
#include "wk_store.h"

enum { N = 200, PARTS = 4, DLT_PARTS = 1 };
#define APP  "NX-health"
#define HOOK "wh-health-1"
/* bytes 0..31 */
#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static atomic_uint seq, ok_count, fail_count;

/* Every 5th request a 503 (retried), every 7th (not 5th) a 400
 * (permanent: dead-lettered), the rest 200. */
static int step(const char *path, rx_step_t *s, void *opaque)
{
        unsigned k = atomic_fetch_add(&seq, 1) + 1;

        (void)path;
        (void)opaque;
        s->status = k % 5 == 0 ? 503 : k % 7 == 0 ? 400 : 200;
        s->text = s->status == 503 ? "busy, try later\n" : NULL;
        return 1;
}

static void on_request(const rx_request_t *req, void *opaque)
{
        (void)opaque;
        if (req->status >= 200 && req->status <= 299)
                atomic_fetch_add(&ok_count, 1);
        else
                atomic_fetch_add(&fail_count, 1);
}

/* Field \p k of \p o as an integer, -1 when absent. */
static int64_t num(json_object *o, const char *k)
{
        json_object *f;

        return o && json_object_object_get_ex(o, k, &f)
                       ? json_object_get_int64(f)
                       : -1;
}

/* GET the health of HOOK under app \p app on \p port; the document (put
 * it) or NULL, the status in \p *status. */
static json_object *health(uint16_t port, const char *app, const char *id,
                           long *status)
{
        char path[256], body[16384];

        snprintf(path, sizeof(path), "/v1/apps/%s/webhooks/%s/health", app, id);
        *status = it_http_get(port, path, body, sizeof(body));
        return json_tokener_parse(body);
}

Test(health_api, two_workers_report_the_deployments_totals, .timeout = 600)
{
        rx_conf_t rc = {.cb = on_request, .step_cb = step};
        char topic[128], store[160], dlt[160], group[160], keyf[256];
        char cfg[2][256], log[2][256], text[4096], err[512], raw[2048];
        uint16_t api[2], admin[2];
        pid_t w[2];
        rx_t *rx;
        wk_store_t *s;
        rd_kafka_t *rk;
        int64_t t0, v = 0, ms = -1;
        unsigned char key[WK_SEAL_KEY_LEN];
        wk_hook_event_t evs[] = {{"*", 1}};
        wk_hook_t hook;
        json_object *doc[2] = {NULL, NULL};

        rx = rx_start(&rc, err, sizeof(err));
        cr_assert(rx, "receiver: %s", err);
        it_unique("hb-health-api", topic, sizeof(topic));
        snprintf(store, sizeof(store), "%s.webhooks", topic);
        snprintf(dlt, sizeof(dlt), "%s-dlq", topic);
        snprintf(group, sizeof(group), "%s-g", topic);
        it_create_topic(topic, PARTS);
        it_create_topic(dlt, DLT_PARTS);
        it_write_temp(KEY_B64 "\n", keyf, sizeof(keyf));
        for (int i = 0; i < 2; i++) {
                api[i] = it_free_port();
                admin[i] = it_free_port();
                snprintf(text, sizeof(text),
                         "kafka = { brokers = \"%s\"; group_id = \"%s\";\n"
                         "  topics = ( \"%s\" ); commit_interval_ms = 100; "
                         "};\n"
                         "delivery = { allow_networks = [ \"127.0.0.0/8\" "
                         "];\n"
                         "  concurrency = 4; dead_letter_topic = \"%s\";\n"
                         "  circuit = { failures = 0; };\n"
                         "  retry = { initial_ms = 10; max_ms = 20; "
                         "max_attempts = 2;\n"
                         "            schedule = [ \"250ms\" ]; }; };\n"
                         "webhooks = ( );\n"
                         "admin = { listen = \"127.0.0.1:%u\"; };\n"
                         "api = { listen = \"127.0.0.1:%u\";\n"
                         "  secret_key_file = \"%s\"; store_topic = \"%s\";\n"
                         "  store_replication_factor = 1; };\n",
                         it_brokers(), group, topic, dlt, admin[i], api[i],
                         keyf, store);
                it_write_temp(text, cfg[i], sizeof(cfg[i]));
                snprintf(log[i], sizeof(log[i]), "/tmp/hb-health-api-%d-%d.log",
                         (int)getpid(), i);
        }
        /* the webhook, written to the store as the API would */
        for (int i = 0; i < WK_SEAL_KEY_LEN; i++)
                key[i] = (unsigned char)i;
        {
                wk_store_conf_t sc = {.brokers = it_brokers(),
                                      .topic = store,
                                      .replication_factor = 1,
                                      .key = key};
                char url[128];
                snprintf(url, sizeof(url), "http://127.0.0.1:%u/h",
                         rx_port(rx));
                hook = (wk_hook_t){.id = HOOK,
                                   .app_token = APP,
                                   .name = "health",
                                   .url = url,
                                   .enabled = 1,
                                   .events = evs,
                                   .event_count = 1};
                s = wk_store_new(&sc, err, sizeof(err));
                cr_assert(s, "store: %s", err);
                cr_assert(wk_store_wait_ready(s, 30000));
                cr_assert_eq(wk_store_put(s, &hook, 0, &v, err, sizeof(err)), 0,
                             "put: %s", err);
        }
        w[0] = it_spawn_worker(cfg[0], log[0]);
        w[1] = it_spawn_worker(cfg[1], log[1]);
        t0 = it_now_ms();
        cr_assert(it_wait_ready(admin[0], 60000) >= 0 &&
                          it_wait_ready(admin[1],
                                        (int)(60000 - (it_now_ms() - t0))) >= 0,
                  "workers not ready; see %s, %s", log[0], log[1]);

        rk = it_producer();
        for (int i = 0; i < N; i++) {
                char id[32], k[32];
                snprintf(id, sizeof(id), "hh-%d", i);
                snprintf(k, sizeof(k), "user-%d", i);
                wk_sample_render_app((size_t)i % wk_sample_count(), APP, id, i,
                                     1796136324000LL + i, raw, sizeof(raw));
                it_produce(rk, topic, i % PARTS, k, raw, strlen(raw));
        }
        cr_assert_eq(rd_kafka_flush(rk, 30000), 0);
        rd_kafka_destroy(rk);
        cr_assert(it_wait_committed_to_end(group, topic, PARTS, 120000),
                  "not every event finished; see %s, %s", log[0], log[1]);

        /* then the health, asked of either replica, within seconds */
        t0 = it_now_ms();
        while (it_now_ms() - t0 < 30000) {
                long st[2];
                int same = 1;
                uint64_t ok = atomic_load(&ok_count);
                uint64_t bad = atomic_load(&fail_count);
                uint64_t dead = it_log_total(dlt, DLT_PARTS);
                for (int i = 0; i < 2; i++) {
                        json_object_put(doc[i]);
                        doc[i] = health(api[i], APP, HOOK, &st[i]);
                        same &= st[i] == 200 &&
                                num(doc[i], "delivered") == (int64_t)ok &&
                                num(doc[i], "failed") == (int64_t)bad &&
                                num(doc[i], "dead_lettered") == (int64_t)dead &&
                                num(doc[i], "in_retry") == 0;
                }
                if (same) {
                        ms = it_now_ms() - t0;
                        break;
                }
                usleep(200 * 1000);
        }
        cr_log_info("receiver: %u 2xx, %u failed; dead letters %llu; "
                    "A: %s; B: %s",
                    atomic_load(&ok_count), atomic_load(&fail_count),
                    (unsigned long long)it_log_total(dlt, DLT_PARTS),
                    doc[0] ? json_object_to_json_string(doc[0]) : "-",
                    doc[1] ? json_object_to_json_string(doc[1]) : "-");
        cr_assert_neq(ms, -1,
                      "the replicas' health never matched the "
                      "receiver's counts");
        cr_log_info("health: both replicas gave the totals %lld ms after "
                    "the last commit",
                    (long long)ms);
        for (int i = 0; i < 2; i++) {
                json_object *r, *f;
                cr_assert(json_object_object_get_ex(doc[i], "replicas", &r));
                cr_expect_eq(num(r, "reporting"), 2,
                             "the deliveries did not split between the two");
                cr_expect_eq(num(r, "alive"), 2);
                cr_assert(
                        json_object_object_get_ex(doc[i], "last_failure", &f) &&
                        f);
                cr_expect(num(f, "status") == 503 || num(f, "status") == 400);
        }
        cr_expect_gt(atomic_load(&ok_count), N / 2);
        cr_expect_gt(it_log_total(dlt, DLT_PARTS), 0);
        cr_expect_gt(atomic_load(&fail_count), it_log_total(dlt, DLT_PARTS),
                     "some 503s were retried");

        /* the bounds' metrics: one webhook here, two replicas' records of
         * it in the view, nothing evicted */
        {
                static char metrics[1 << 18];
                /* refreshed once a second */
                t0 = it_now_ms();
                do {
                        usleep(100 * 1000);
                        cr_assert_eq(it_http_get(admin[0], "/metrics", metrics,
                                                 sizeof(metrics)),
                                     200);
                } while (it_metric(metrics, "hookbridge_health_entries{"
                                            "table=\"view\"}") < 2 &&
                         it_now_ms() - t0 < 10000);
                cr_expect_eq(it_metric(metrics, "hookbridge_health_entries{"
                                                "table=\"own\"}"),
                             1);
                cr_expect_eq(it_metric(metrics, "hookbridge_health_entries{"
                                                "table=\"view\"}"),
                             2);
                cr_expect_leq(it_metric(metrics, "hookbridge_health_evictions_"
                                                 "total{table=\"view\"}"),
                              0);
                cr_expect_leq(it_metric(metrics, "hookbridge_health_publish_"
                                                 "errors_total"),
                              0);
        }
        /* another app's path, an unknown id: 404 */
        {
                long st;
                json_object_put(health(api[0], "NX-other", HOOK, &st));
                cr_expect_eq(st, 404);
                json_object_put(health(api[1], APP, "wh-nope", &st));
                cr_expect_eq(st, 404);
        }
        json_object_put(doc[0]);
        json_object_put(doc[1]);
        cr_expect_eq(it_stop_worker(w[0], SIGTERM, 60000), 0);
        cr_expect_eq(it_stop_worker(w[1], SIGTERM, 60000), 0);
        wk_store_destroy(s);
        rx_stop(rx);
}
