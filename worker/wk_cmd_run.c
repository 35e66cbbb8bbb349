/* wk_cmd_run: `hookbridge run` and `hookbridge check-config`. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "hb_cpus.h"
#include "hb_log.h"
#include "wk_api.h"
#include "wk_cmd.h"
#include "wk_health.h"
#include "wk_loops.h"
#include "wk_portal_api.h"
#include "wk_routes.h"
#include "wk_store.h"
#include "wk_trim.h"
#include "wk_watch.h"
#include "wk_worker.h"

static wk_loops_t *running;

static void on_signal(int sig)
{
        if (!running)
                return;
        if (sig == SIGHUP)
                wk_loops_reload(running);
        else
                wk_loops_stop(running);
}

/* Parse "-c FILE" / "--config FILE" (and --help) for a command.
 * @returns the path, or NULL after printing usage. */
static const char *config_arg(int argc, char **argv, const char *usage,
                              int *exit_code)
{
        static const struct option opts[] = {
                {"config", required_argument, NULL, 'c'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *path = NULL;
        int o;

        optind = 1;
        while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                switch (o) {
                case 'c':
                        path = optarg;
                        break;
                case 'h':
                        fputs(usage, stdout);
                        *exit_code = 0;
                        return NULL;
                default:
                        fputs(usage, stderr);
                        *exit_code = WK_EXIT_USAGE;
                        return NULL;
                }
        }
        if (!path || optind < argc) {
                fprintf(stderr, "%s%s",
                        path ? "unexpected argument\n" : "missing -c FILE\n",
                        usage);
                *exit_code = WK_EXIT_USAGE;
                return NULL;
        }
        return path;
}

cfg_t *wk_cmd_load_config(const char *path)
{
        char errs[16384];
        cfg_t *cfg = cfg_load(path, errs, sizeof(errs));

        if (!cfg) {
                fputs(errs, stderr);
                if (*errs && errs[strlen(errs) - 1] != '\n')
                        fputc('\n', stderr);
                return NULL;
        }
        /* warnings (e.g. a secret file others can read) on success */
        if (*errs) {
                fputs(errs, stderr);
                if (errs[strlen(errs) - 1] != '\n')
                        fputc('\n', stderr);
        }
        hb_log_setup(cfg_log(cfg)->level, cfg_log(cfg)->format == CFG_LOG_JSON);
        return cfg;
}

int wk_cmd_check_config(int argc, char **argv)
{
        static const char usage[] =
                "usage: hookbridge check-config -c FILE\n"
                "Validates FILE; prints FILE:LINE: message for each "
                "problem.\nExit status: 0 valid, 1 invalid.\n";
        int code = 1;
        const char *path = config_arg(argc, argv, usage, &code);
        char errstr[64];
        size_t n, ops = 0;
        wk_routes_t *r;
        int *all;
        cfg_t *cfg;

        if (!path)
                return code;
        cfg = wk_cmd_load_config(path);
        if (!cfg)
                return 1;
        n = cfg_webhook_count(cfg);
        all = malloc((n ? n : 1) * sizeof(*all));
        for (size_t i = 0; all && i < n; i++) {
                all[i] = 1;
                ops += !cfg_webhook(cfg, i)->app_token;
        }
        /* the apps as the routing table counts them, disabled webhooks
         * too */
        r = all ? wk_routes_new(cfg, all, errstr, sizeof(errstr)) : NULL;
        if (r)
                printf("%s: OK (%zu topic(s), %zu webhook(s): %zu of %zu "
                       "app(s), %zu operator(s))\n",
                       path, cfg_kafka(cfg)->topic_count, n, n - ops,
                       wk_routes_app_count(r), ops);
        else
                printf("%s: OK (%zu topic(s), %zu webhook(s))\n", path,
                       cfg_kafka(cfg)->topic_count, n);
        wk_routes_destroy(r);
        free(all);
        cfg_destroy(cfg);
        return 0;
}

/* The management API and its store (SPEC §7), when api.listen is set. */
typedef struct api_parts_s {
        cfg_t *cfg; /* the API's own copy: reloads replace the worker's */
        wk_store_t *store;
        wk_health_t *health; /* the deployment's delivery health */
        wk_api_t *api;
} api_parts_t;

static void api_stop(api_parts_t *p)
{
        wk_api_stop(p->api);
        /* after the worker: its last counts go out with a last heartbeat */
        wk_health_destroy(p->health);
        wk_store_destroy(p->store);
        cfg_destroy(p->cfg);
        memset(p, 0, sizeof(*p));
}

/* The store (created and followed; the worker and /readyz wait for it
 * to catch up, nothing here does), then the listener. */
static int api_start(const char *path, const cfg_t *cfg, api_parts_t *p,
                     char *errstr, size_t errstr_size)
{
        const cfg_kafka_t *k = cfg_kafka(cfg);
        const cfg_api_t *a = cfg_api(cfg);
        wk_store_conf_t sc = {.brokers = k->brokers,
                              .prop_names = k->prop_names,
                              .prop_values = k->prop_values,
                              .prop_count = k->prop_count,
                              .topic = a->store_topic,
                              .replication_factor = a->store_replication_factor,
                              .key = a->secret_key};
        char htopic[512];
        /* the health topic beside the store's (wk_health.h) */
        wk_health_conf_t hc = {.brokers = k->brokers,
                               .prop_names = k->prop_names,
                               .prop_values = k->prop_values,
                               .prop_count = k->prop_count,
                               .topic = htopic,
                               .replication_factor =
                                       a->store_replication_factor};
        wk_api_conf_t ac = {0};
        wk_watch_t *watch = NULL;
        char errs[4096];

        /* the same file, read again (warnings were shown the first time) */
        p->cfg = cfg_load(path, errs, sizeof(errs));
        if (!p->cfg) {
                /* errs may be longer than errstr: cut to fit */
                snprintf(errstr, errstr_size, "api: %.*s",
                         (int)(errstr_size > 6 ? errstr_size - 6 : 0), errs);
                return -1;
        }
        /* a step that stalls says so every 5 s (an unexplained stall
         * after "store topic created" was seen under heavy load) */
        watch = wk_watch_start("api", 5000);
        wk_watch_step(watch, "the store: its topic, its end offset");
        p->store = wk_store_new(&sc, errstr, errstr_size);
        if (!p->store)
                goto err;
        snprintf(htopic, sizeof(htopic), "%s.health", a->store_topic);
        wk_watch_step(watch, "the health topic's writer and thread");
        p->health = wk_health_new(&hc, errstr, errstr_size);
        if (!p->health)
                goto err;
        ac.health = p->health;
        ac.cfg = p->cfg;
        ac.store = p->store;
        /* portal tokens (wk_portal_api): this deployment's, one app each */
        ac.portal_verify = wk_portal_api_verify;
        ac.portal_opaque = (void *)cfg_api(p->cfg);
        wk_watch_step(watch, "the listener");
        p->api = wk_api_start(&ac, errstr, errstr_size);
        if (!p->api)
                goto err;
        wk_watch_stop(watch);
        if (cfg_api(p->cfg)->open)
                hb_log(HB_LOG_WARN,
                       "api listener open to the network without a token "
                       "(api.allow_open)",
                       "hint=\"anyone who reaches it can change the "
                       "webhooks; set api.token_env\"");
        hb_log(HB_LOG_INFO, "api: listening", "api_port=%u store_topic=%s",
               (unsigned)wk_api_port(p->api), a->store_topic);
        return 0;
err:
        wk_watch_stop(watch);
        api_stop(p);
        return -1;
}

int wk_cmd_run(int argc, char **argv)
{
        static const char usage[] =
                "usage: hookbridge run -c FILE\n"
                "Runs the worker: consumes the configured topics, delivers "
                "to the\nsubscribed webhooks, commits offsets only after "
                "2xx (or a dead-letter\nwrite). SIGTERM/SIGINT: drain "
                "for delivery.shutdown_timeout_ms, commit,\nleave the "
                "group; a second signal stops at once. SIGHUP: reload the\n"
                "webhooks from FILE (an invalid file is rejected, the "
                "running\nconfiguration kept).\n";
        int code = 1;
        const char *path = config_arg(argc, argv, usage, &code);
        wk_worker_opts_t opts = {0};
        struct sigaction sa;
        char errstr[1024];
        api_parts_t api = {0};
        wk_watch_t *watch;
        wk_trim_t *trim;
        cfg_t *cfg;
        wk_loops_t *w;
        int rc, threads;

        if (!path)
                return code;
        cfg = wk_cmd_load_config(path);
        if (!cfg)
                return 1;
        if (cfg_api(cfg)->listen &&
            api_start(path, cfg, &api, errstr, sizeof(errstr)) == -1) {
                fprintf(stderr, "hookbridge: %s\n", errstr);
                cfg_destroy(cfg);
                return 1;
        }
        opts.store = api.store;
        opts.health = api.health;
        /* delivery.threads = 0: the CPUs the process may use */
        threads = cfg_delivery(cfg)->threads;
        if (threads <= 0)
                threads = hb_cpus_available(NULL);
        if (threads > WK_LOOPS_MAX)
                threads = WK_LOOPS_MAX;
        if (threads > 1)
                hb_log(HB_LOG_INFO, "delivery loops", "threads=%d auto=%d",
                       threads, cfg_delivery(cfg)->threads == 0);
        watch = wk_watch_start("worker", 5000);
        wk_watch_step(watch, "the worker's set-up");
        w = wk_loops_new(cfg, &opts, threads, errstr, sizeof(errstr));
        wk_watch_stop(watch);
        if (!w) {
                fprintf(stderr, "hookbridge: %s\n", errstr);
                api_stop(&api);
                cfg_destroy(cfg);
                return 1;
        }
        /* @remark the loops own cfg now. */
        cfg = NULL;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        running = w;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        trim = wk_trim_start(0);
        rc = wk_loops_run(w);
        wk_trim_stop(trim);
        running = NULL;
        /* the API answers until the workers are gone: they lend the API
         * nothing they free first */
        wk_loops_destroy(w);
        api_stop(&api);
        return rc == 0 ? 0 : 1;
}
