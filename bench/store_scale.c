/* store_scale: how the worker's tables scale with the store (issue 12's
 * scale figures, a benchmark, not a test): N webhooks over A apps applied
 * to a local replica (the apply rule, JSON, unsealing: a fresh replica's
 * load without Kafka's read), then the worker's set built from them
 * (wk_hooks_new) and rebuilt after one webhook's change, with the time of
 * each, the endpoints kept, the RSS, and the cost of one routing lookup.
 *
 * Usage: bench-store-scale [N [A [REBUILDS]]] (default 100000 10000 5) */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "hb_log.h"
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

/* Webhook \p i of app \p app (\p url_gen: a different URL). */
static void put(wk_store_t *s, long i, long app, int url_gen)
{
        static char *ups[] = {"plan", "email"}, *cps[] = {"size"};
        static char *hdrs[] = {"X-Team: growth"};
        wk_hook_event_t evs[] = {{"flows.completed", 1},
                                 {"checklist.completed", 1},
                                 {"nps.score", i % 3 != 0}};
        char id[32], tok[32], url[96], err[256], *j;
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

        snprintf(id, sizeof(id), "wh_%08ld", i);
        snprintf(tok, sizeof(tok), "NX-%06ld", app);
        snprintf(url, sizeof(url), "https://app-%ld.example.com/hook/%ld/%d",
                 app, i, url_gen);
        j = wk_hook_to_json(&h, key, err, sizeof(err));
        if (!j || wk_store_apply(s, id, strlen(id), j, strlen(j),
                                 wk_store_version(s, id),
                                 off++) != WK_STORE_APPLIED) {
                fprintf(stderr, "put %ld: %s\n", i, j ? "ignored" : err);
                exit(1);
        }
        free(j);
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

int main(int argc, char **argv)
{
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
