/* dm_demo: `hookbridge demo`: the real pipeline on librdkafka's in-process
 * mock cluster and the receiver (demo/receiver) on loopback; no services
 * needed. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "dm_demo.h"

#include "cfg.h"
#include "hb_log.h"
#include "rx_receiver.h"
#include "wk_cmd.h"
#include "wk_sample.h"
#include "wk_worker.h"

#define DEMO_TOPIC      "events"
#define DEMO_PARTITIONS 3
#define DEMO_SECRET     "whsec_ZGVtby1zZWNyZXQtZm9yLWhvb2ticmlkZ2U="
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

static void *run_worker(void *arg)
{
        wk_worker_run(arg);
        return NULL;
}

/* Produce one raw event of every kind, one skipped and one bad input. */
static int produce_events(const char *bootstraps, int *deliverable)
{
        char errstr[512], buf[2048], id[32];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        long long now = (long long)time(NULL) * 1000;
        const char *extra[] = {
                "{\"type\":\"identify\",\"userId\":\"1\"}",
                "{\"type\":\"track\",\"event\":\"Flow Completed\"",
        };
        int n = 0;

        rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, NULL, 0);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "demo: producer: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        for (size_t j = 0; j < 2 * wk_sample_count(); j++) {
                size_t i = j / 2;
                const char *app = j % 2 ? DEMO_APP_B : DEMO_APP_A;
                snprintf(id, sizeof(id), "demo-%s-%zu", app + 3, i + 1);
                wk_sample_render_app(i, app, id, 1000 + (long)i, now, buf,
                                     sizeof(buf));
                rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(DEMO_TOPIC),
                                  RD_KAFKA_V_KEY(id, strlen(id)),
                                  RD_KAFKA_V_VALUE(buf, strlen(buf)),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_END);
                n++;
        }
        for (size_t i = 0; i < 2; i++)
                rd_kafka_producev(
                        rk, RD_KAFKA_V_TOPIC(DEMO_TOPIC),
                        RD_KAFKA_V_VALUE((void *)extra[i], strlen(extra[i])),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_END);
        rd_kafka_flush(rk, 10000);
        rd_kafka_destroy(rk);
        *deliverable = n;
        printf("produced %d events (every kind, of app %s and of app %s, "
               "interleaved)\n+ 1 identify call + 1 malformed event to "
               "'%s' (%d partitions)\n",
               n, DEMO_APP_A, DEMO_APP_B, DEMO_TOPIC, DEMO_PARTITIONS);
        return 0;
}

/* Read back the group's committed offsets and the log ends.
 * @returns 1 when every partition is committed to its end. */
static int print_committed(const char *bootstraps)
{
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(DEMO_PARTITIONS);
        rd_kafka_t *rk;
        int all = 1;

        rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, NULL, 0);
        rd_kafka_conf_set(conf, "group.id", "hookbridge-demo", NULL, 0);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (!rk) {
                rd_kafka_conf_destroy(conf);
                rd_kafka_topic_partition_list_destroy(l);
                return 0;
        }
        for (int p = 0; p < DEMO_PARTITIONS; p++)
                rd_kafka_topic_partition_list_add(l, DEMO_TOPIC, p);
        rd_kafka_committed(rk, l, 5000);
        printf("\ncommitted offsets of group 'hookbridge-demo':\n");
        for (int i = 0; i < l->cnt; i++) {
                int64_t lo = 0, hi = 0;
                rd_kafka_query_watermark_offsets(rk, DEMO_TOPIC, i, &lo, &hi,
                                                 5000);
                printf("  %s[%d]  committed %lld  log end %lld%s\n", DEMO_TOPIC,
                       i, (long long)l->elems[i].offset, (long long)hi,
                       l->elems[i].offset == hi ? "" : "  (behind)");
                all &= l->elems[i].offset == hi;
        }
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return all;
}

int dm_cmd_demo(int argc, char **argv)
{
        char errstr[1024], cfgtext[4096];
        rx_conf_t rxc = {.cb = on_request};
        rx_stats_t st = {0};
        rd_kafka_conf_t *conf;
        rd_kafka_t *mrk = NULL;
        rd_kafka_mock_cluster_t *mc = NULL;
        rx_t *rx = NULL;
        wk_worker_t *w = NULL;
        cfg_t *cfg = NULL;
        pthread_t th;
        int deliverable = 0, ok = 0;
        uint64_t expected;
        time_t deadline;

        if (argc > 1) {
                fputs("usage: hookbridge demo\nRuns the whole pipeline on "
                      "librdkafka's in-process mock cluster and a\nbuilt-in "
                      "receiver on 127.0.0.1, then prints what was delivered "
                      "and\ncommitted. Needs no services.\n",
                      strcmp(argv[1], "--help") ? stderr : stdout);
                return strcmp(argv[1], "--help") ? WK_EXIT_USAGE : 0;
        }
        hb_log_setup(HB_LOG_WARN, 0);

        rx = rx_start(&rxc, errstr, sizeof(errstr));
        if (!rx) {
                fprintf(stderr, "demo: receiver: %s\n", errstr);
                goto out;
        }
        rx_set_secret(rx, DEMO_PATH_A, DEMO_SECRET, 0);
        rx_set_secret(rx, DEMO_PATH_B, "demo-userpilot-secret", 1);

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
        rd_kafka_mock_topic_create(mc, DEMO_TOPIC, DEMO_PARTITIONS, 1);
        printf("embedded Kafka (librdkafka mock cluster) at %s\n"
               "built-in receiver at http://127.0.0.1:%u\n",
               rd_kafka_mock_cluster_bootstraps(mc), rx_port(rx));
        if (produce_events(rd_kafka_mock_cluster_bootstraps(mc),
                           &deliverable) == -1)
                goto out;

        snprintf(cfgtext, sizeof(cfgtext),
                 "kafka = { brokers = \"%s\"; group_id = "
                 "\"hookbridge-demo\";\n"
                 "  topics = ( { name = \"%s\"; } ); commit_interval_ms = "
                 "200; };\n"
                 "delivery = { concurrency = 8; shutdown_timeout_ms = 5000;\n"
                 "  allow_networks = [ \"127.0.0.0/8\" ];\n"
                 "  retry = { initial_ms = 100; max_ms = 1000; "
                 "max_attempts = 3; }; };\n"
                 "webhooks = (\n"
                 "  { name = \"acme-crm\"; app_token = \"" DEMO_APP_A "\";\n"
                 "    url = \"http://127.0.0.1:%u" DEMO_PATH_A "\";\n"
                 "    events = [ \"*\" ]; secret = \"%s\";\n"
                 "    user_properties = [ \"plan\" ]; company_properties = "
                 "[ \"industry\" ]; },\n"
                 "  { name = \"globex-nps\"; app_token = \"" DEMO_APP_B "\";\n"
                 "    url = \"http://127.0.0.1:%u" DEMO_PATH_B "\";\n"
                 "    events = [ \"nps.score\", \"nps.feedback\" ];\n"
                 "    signature = \"userpilot\"; secret = "
                 "\"demo-userpilot-secret\"; }\n"
                 ");\nadmin = { listen = \"\"; };\n"
                 "log = { level = \"warn\"; };\n",
                 rd_kafka_mock_cluster_bootstraps(mc), DEMO_TOPIC, rx_port(rx),
                 DEMO_SECRET, rx_port(rx));
        cfg = cfg_load_string(cfgtext, "demo.cfg", errstr, sizeof(errstr));
        if (!cfg) {
                fprintf(stderr, "demo: configuration: %s\n", errstr);
                goto out;
        }
        w = wk_worker_new(cfg, errstr, sizeof(errstr));
        if (!w) {
                fprintf(stderr, "demo: worker: %s\n", errstr);
                goto out;
        }
        /* @remark the worker owns cfg now. */
        cfg = NULL;
        printf("worker: 2 webhooks: 'acme-crm' (app %s: every type, "
               "Standard Webhooks\n        signature), 'globex-nps' (app %s: "
               "nps.score + nps.feedback,\n        Userpilot X-Signature)\n",
               DEMO_APP_A, DEMO_APP_B);
        fflush(stdout);
        if (pthread_create(&th, NULL, run_worker, w)) {
                fprintf(stderr, "demo: cannot start the worker thread\n");
                goto out;
        }

        /* acme-crm gets acme's every kind, globex-nps globex's two NPS
         * kinds; neither ever gets the other app's. */
        expected = (uint64_t)deliverable / 2 + 2;
        deadline = time(NULL) + 60;
        while (time(NULL) < deadline && rx_count(rx) < expected)
                usleep(50 * 1000);
        /* Let a commit interval pass, then stop (which commits too). */
        usleep(500 * 1000);
        wk_worker_stop(w);
        pthread_join(th, NULL);
        wk_worker_destroy(w);
        w = NULL;
        rx_stats(rx, &st);

        ok = print_committed(rd_kafka_mock_cluster_bootstraps(mc));
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
             atomic_load(&foreign) == 0;
out:
        wk_worker_destroy(w);
        cfg_destroy(cfg);
        rx_stop(rx);
        if (mc)
                rd_kafka_mock_cluster_destroy(mc);
        if (mrk)
                rd_kafka_destroy(mrk);
        return ok ? 0 : 1;
}
