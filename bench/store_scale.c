/* store_scale: how the worker's tables scale with the store (issue 12's
 * scale figures, a benchmark, not a test): N webhooks over A apps applied
 * to a local replica (the apply rule, JSON, unsealing: a fresh replica's
 * load without Kafka's read), then the worker's set built from them
 * (wk_hooks_new) and rebuilt after one webhook's change, with the time of
 * each, the endpoints kept, the RSS, and the cost of one routing lookup.
 *
 * Usage: bench-store-scale [N [A [REBUILDS]]] (default 100000 10000 5)
 *
 * For a real replica (bench/store_scale.sh): `--fill BROKERS TOPIC [N
 * [A]]` writes the same N webhooks as creates (hookbridge-base 0) to the
 * store topic on a broker, the topic created as hookbridge creates it
 * (wh_store) when missing, many records in flight; `--key` prints the
 * key their secrets are sealed with, in base64 (api.secret_key_file). */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "cfg.h"
#include "hb_base64.h"
#include "hb_log.h"
#include "wh_store.h"
#include "wk_hook.h"
#include "wk_store.h"
#include "wk_worker_int.h"

static const unsigned char key[WK_SEAL_KEY_LEN] = {42};

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* VmRSS (or \p what of /proc/self/status) in MiB. */
static double status_mib(const char *what)
{
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        double kb = 0;

        while (f && fgets(line, sizeof(line), f))
                if (!strncmp(line, what, strlen(what)))
                        kb = strtod(line + strlen(what), NULL);
        if (f)
                fclose(f);
        return kb / 1024.0;
}

static int64_t off;

static double rss_mib(void)
{
        return status_mib("VmRSS:");
}

/* The record of webhook \p i of app \p app (\p url_gen: a different
 * URL), its id in \p id; malloc()ed. */
static char *record(long i, long app, int url_gen, char id[32])
{
        static char *ups[] = {"plan", "email"}, *cps[] = {"size"};
        static char *hdrs[] = {"X-Team: growth"};
        wk_hook_event_t evs[] = {{"flows.completed", 1},
                                 {"checklist.completed", 1},
                                 {"nps.score", i % 3 != 0}};
        char tok[32], url[96], err[256], *j;
        wk_hook_t h = {.id = id,
                       .app_token = tok,
                       .name = id,
                       .url = url,
                       .enabled = 1,
                       .events = evs,
                       .event_count = 3,
                       .user_props = ups,
                       .user_prop_count = 2,
                       .company_props = cps,
                       .company_prop_count = 1,
                       .secret = "whsec_c2VjcmV0LXN0b3JlLWJlbmNo",
                       .headers = hdrs,
                       .header_count = 1};

        snprintf(id, 32, "wh_%08ld", i);
        snprintf(tok, sizeof(tok), "NX-%06ld", app);
        snprintf(url, sizeof(url), "https://app-%ld.example.com/hook/%ld/%d",
                 app, i, url_gen);
        j = wk_hook_to_json(&h, key, err, sizeof(err));
        if (!j) {
                fprintf(stderr, "webhook %ld: %s\n", i, err);
                exit(1);
        }
        return j;
}

/* Webhook \p i of app \p app applied to the local replica \p s. */
static void put(wk_store_t *s, long i, long app, int url_gen)
{
        char id[32], *j = record(i, app, url_gen, id);

        if (wk_store_apply(s, id, strlen(id), j, strlen(j),
                           wk_store_version(s, id),
                           off++) != WK_STORE_APPLIED) {
                fprintf(stderr, "put %ld: ignored\n", i);
                exit(1);
        }
        free(j);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
        (void)rk;
        if (m->err)
                ++*(long *)opaque;
}

/* --fill: \p n webhooks over \p apps written to \p topic as creates. */
static int fill(const char *brokers, const char *topic, long n, long apps)
{
        wh_store_conf_t wc = {
                .brokers = brokers, .topic = topic, .replication_factor = 1};
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char err[512];
        wh_store_writer_t *w = wh_store_writer_new(&wc, err, sizeof(err));
        rd_kafka_t *rk;
        long failed = 0;
        double t0 = now_ms();

        if (!w || wh_store_writer_ensure_topic(w, err, sizeof(err)) == -1) {
                fprintf(stderr, "store topic %s: %s\n", topic, err);
                return 1;
        }
        wh_store_writer_destroy(w);
        rd_kafka_conf_set(conf, "bootstrap.servers", brokers, NULL, 0);
        /* the writer's guarantees (wh_store), in bulk */
        rd_kafka_conf_set(conf, "acks", "all", NULL, 0);
        rd_kafka_conf_set(conf, "enable.idempotence", "true", NULL, 0);
        rd_kafka_conf_set(conf, "linger.ms", "20", NULL, 0);
        rd_kafka_conf_set(conf, "compression.type", "lz4", NULL, 0);
        rd_kafka_conf_set_opaque(conf, &failed);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        if (!rk) {
                fprintf(stderr, "producer: %s\n", err);
                return 1;
        }
        for (long i = 0; i < n; i++) {
                char id[32], *j = record(i, i % apps, 0, id);
                rd_kafka_headers_t *h = rd_kafka_headers_new(1);
                rd_kafka_resp_err_t e;

                rd_kafka_header_add(h, WH_STORE_BASE_HEADER, -1, "0", 1);
                while ((e = rd_kafka_producev(
                                rk, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_KEY(id, strlen(id)),
                                RD_KAFKA_V_VALUE(j, strlen(j)),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END)) ==
                       RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        rd_kafka_poll(rk, 50);
                if (e) {
                        fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
                        rd_kafka_headers_destroy(h);
                        failed++;
                }
                free(j);
                rd_kafka_poll(rk, 0);
        }
        rd_kafka_flush(rk, 60000);
        failed += rd_kafka_outq_len(rk);
        rd_kafka_destroy(rk);
        printf("{\"webhooks\":%ld,\"apps\":%ld,\"failed\":%ld,"
               "\"seconds\":%.3f}\n",
               n, apps, failed, (now_ms() - t0) / 1e3);
        return failed ? 1 : 0;
}

static hooks_t *build(cfg_t *file, wk_worker_opts_t *o, const hooks_t *old)
{
        wk_hooks_ctx_t x = {.opts = o, .old = old, .with_store = 1};
        char err[512];
        hooks_t *h = wk_hooks_new(cfg_ref(file), &x, err, sizeof(err));

        if (!h) {
                fprintf(stderr, "wk_hooks_new: %s\n", err);
                exit(1);
        }
        return h;
}

/* --key: the sealing key in base64. */
static int print_key(void)
{
        char b64[64];

        hb_base64_encode(key, sizeof(key), b64, sizeof(b64));
        printf("%s\n", b64);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc > 1 && !strcmp(argv[1], "--key"))
                return print_key();
        if (argc > 3 && !strcmp(argv[1], "--fill")) {
                hb_log_setup(HB_LOG_WARN, 0);
                return fill(argv[2], argv[3], argc > 4 ? atol(argv[4]) : 100000,
                            argc > 5 ? atol(argv[5]) : 10000);
        }
        long n = argc > 1 ? atol(argv[1]) : 100000;
        long apps = argc > 2 ? atol(argv[2]) : 10000;
        int rebuilds = argc > 3 ? atoi(argv[3]) : 5;
        static const char text[] =
                "kafka = { brokers = \"127.0.0.1:1\"; group_id = \"g\";\n"
                "  topics = ( \"events\" ); };\n"
                "webhooks = ( { name = \"ops\"; url = "
                "\"https://ops.example.com/\"; events = [ \"*\" ]; } );\n";
        char err[1024];
        cfg_t *file = cfg_load_string(text, "bench.cfg", err, sizeof(err));
        wk_store_t *s = wk_store_new_local(key);
        wk_worker_opts_t o = {.store = s};
        double t0, rss0 = rss_mib(), best = 1e18, sum = 0, look;
        hooks_t *h;
        size_t kept = 0, routed = 0;

        hb_log_setup(HB_LOG_WARN, 0);
        if (!file || !s || n < 1 || apps < 1) {
                fprintf(stderr, "setup: %s\n", file ? "bad arguments" : err);
                return 1;
        }
        t0 = now_ms();
        for (long i = 0; i < n; i++)
                put(s, i, i % apps, 0);
        printf("store: %ld webhooks over %ld apps applied in %.0f ms "
               "(%.1f us each); RSS %.1f MiB (+%.1f)\n",
               n, apps, now_ms() - t0, (now_ms() - t0) * 1e3 / (double)n,
               rss_mib(), rss_mib() - rss0);
        rss0 = rss_mib();
        t0 = now_ms();
        h = build(file, &o, NULL);
        printf("first build: %.0f ms, %zu webhooks, %zu apps' tables, "
               "%zu sets; RSS %.1f MiB (+%.1f)\n",
               now_ms() - t0, h->n, wk_routes_app_count(h->routes),
               wk_routes_set_count(h->routes), rss_mib(), rss_mib() - rss0);
        for (int r = 0; r < rebuilds; r++) {
                hooks_t *nh;
                double ms;
                put(s, r, r % apps, r + 1); /* one webhook's URL changes */
                t0 = now_ms();
                nh = build(file, &o, h);
                ms = now_ms() - t0;
                kept = 0;
                for (size_t i = 0; i < nh->n; i++) {
                        long j =
                                wk_hooks_find(h, cfg_webhook(nh->cfg, i)->name);
                        kept += j >= 0 && h->eps[j] == nh->eps[i];
                }
                wk_hooks_free(h);
                malloc_trim(0); /* as wk_hooks_follow() does */
                h = nh;
                sum += ms;
                best = ms < best ? ms : best;
        }
        if (rebuilds > 0)
                printf("rebuild after one change: best %.0f ms, mean %.0f ms "
                       "(%d); endpoints kept %zu of %zu; RSS %.1f MiB (peak "
                       "%.1f)\n",
                       best, sum / rebuilds, rebuilds, kept, h->n, rss_mib(),
                       status_mib("VmHWM:"));
        t0 = now_ms();
        for (long i = 0; i < 1000000; i++) {
                char tok[32];
                snprintf(tok, sizeof(tok), "NX-%06ld", (i * 7919) % apps);
                routed +=
                        wk_routes_find(h->routes, tok, strlen(tok),
                                       i & 1 ? "flows.completed" : "nps.score")
                                ->route_count;
        }
        look = (now_ms() - t0) * 1e6 / 1e6;
        printf("routing lookup (app + type, incl. formatting the token): "
               "%.0f ns; %.1f webhooks per event\n",
               look, (double)routed / 1e6);
        wk_hooks_free(h);
        cfg_destroy(file);
        wk_store_destroy(s);
        return 0;
}
