/* wk_cmd_run: `hookbridge run` and `hookbridge check-config`. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "wk_cmd.h"
#include "hb_log.h"
#include "wk_routes.h"
#include "wk_worker.h"

static wk_worker_t *running;

static void on_signal(int sig)
{
        if (!running)
                return;
        if (sig == SIGHUP)
                wk_worker_reload(running);
        else
                wk_worker_stop(running);
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
        struct sigaction sa;
        char errstr[1024];
        cfg_t *cfg;
        wk_worker_t *w;
        int rc;

        if (!path)
                return code;
        cfg = wk_cmd_load_config(path);
        if (!cfg)
                return 1;
        w = wk_worker_new(cfg, errstr, sizeof(errstr));
        if (!w) {
                fprintf(stderr, "hookbridge: %s\n", errstr);
                cfg_destroy(cfg);
                return 1;
        }
        /* @remark the worker owns cfg now. */
        cfg = NULL;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        running = w;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        rc = wk_worker_run(w);
        running = NULL;
        wk_worker_destroy(w);
        return rc == 0 ? 0 : 1;
}
