/* wk_cmd_replay: `hookbridge replay`: backfill a time window of the
 * configured topics to chosen webhooks outside the consumer group (whose
 * offsets are never touched), resumable through a state file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "hb_log.h"
#include "hb_time.h"
#include "wk_cmd.h"
#include "wk_window.h"
#include "wk_worker.h"

static const char usage[] =
        "usage: hookbridge replay -c FILE --from TIME [--to TIME] "
        "[--topic T]...\n"
        "                         [--webhook NAME]... [--app T] [--rate N] "
        "[--dry-run]\n"
        "                         [--state FILE]\n"
        "Backfills the messages of a time window to webhooks, outside the\n"
        "consumer group: the live group's offsets are never read for it nor\n"
        "moved, so a running worker is not disturbed.\n"
        "\n"
        "  --from TIME     first message stamped at or after TIME\n"
        "  --to TIME       stop before the first message stamped at or\n"
        "                  after TIME (default: the log end when the\n"
        "                  replay starts, so it always finishes)\n"
        "  --topic T       a configured topic (repeatable; default: all)\n"
        "  --webhook NAME  deliver only to this webhook (repeatable;\n"
        "                  default: every enabled webhook)\n"
        "  --app T         only the events of app T (payload app_token): to\n"
        "                  T's webhooks and the operator webhooks; the other\n"
        "                  apps' events are skipped and counted\n"
        "  --rate N        take in at most N messages per second\n"
        "  --dry-run       transform and count what each webhook would\n"
        "                  get, per webhook and per type; deliver nothing\n"
        "  --state FILE    record progress in FILE; interrupted with "
        "Ctrl-C, run\n"
        "                  the same command again with the same --state "
        "FILE to\n"
        "                  continue without redelivering what finished "
        "(a\n"
        "                  relative TIME keeps the window of the first "
        "run)\n"
        "\n"
        "TIME: ISO-8601 (2024-03-01T12:00:00Z, 2024-03-01T14:00:00+02:00,\n"
        "2024-03-01 = midnight UTC), epoch milliseconds (1709294400000), or\n"
        "relative to now (-45s, -30m, -2h, -7d, -1h30m, now). Message\n"
        "timestamps are Kafka's (producer or broker time), looked up with\n"
        "the brokers' time index.\n"
        "\n"
        "Ctrl-C (SIGINT, SIGTERM) stops taking messages, lets in-flight\n"
        "deliveries finish (delivery.shutdown_timeout_ms) and saves the\n"
        "state; a second one abandons in-flight deliveries at once (they\n"
        "are delivered again on resume).\n"
        "Exit status: 0 done, 130 interrupted, 1 on errors, 64 on usage\n"
        "errors.\n";

/* The command line's replay: its window and what it does over it. */
typedef struct replay_s {
        wk_window_t win;
        wk_window_args_t args; /* -c, --rate, --dry-run */
} replay_t;

static void summary(replay_t *rp, const wk_stats_t *st, int outcome,
                    double secs)
{
        wk_window_t *win = &rp->win;
        uint64_t window = 0, left = 0;
        char a[64], b[64];

        wk_window_totals(win, &window, NULL, &left);
        printf("replay %s: %s .. %s\n",
               outcome == 0   ? "done"
               : outcome == 1 ? "failed"
                              : "interrupted",
               hb_time_format(rp->win.from_ms, a, sizeof(a)),
               rp->win.to_ms >= 0 ? hb_time_format(rp->win.to_ms, b, sizeof(b))
                                  : "log end at the first run");
        printf("  %-15s %llu in %zu partition(s), %llu left\n", "window",
               (unsigned long long)window, win->n, (unsigned long long)left);
        printf("  %-15s %llu\n", "consumed", (unsigned long long)st->consumed);
        if (!rp->args.dry_run) {
                printf("  %-15s %llu\n", "delivered",
                       (unsigned long long)st->deliveries_ok);
                printf("  %-15s %llu\n", "dead-lettered",
                       (unsigned long long)st->dead_lettered);
                printf("  %-15s %llu (dropped %llu)\n", "failed",
                       (unsigned long long)st->deliveries_failed,
                       (unsigned long long)st->dropped);
        }
        printf("  %-15s %llu\n", "skipped", (unsigned long long)st->skipped);
        if (rp->win.app)
                printf("  %-15s %llu (of the skipped)\n", "other apps",
                       (unsigned long long)st->other_app);
        printf("  %-15s %llu\n", "invalid", (unsigned long long)st->invalid);
        printf("  %-15s %.1f s\n", "elapsed", secs);
        if (outcome == 2 && rp->win.state_path)
                printf("continue with the same command and --state %s\n",
                       rp->win.state_path);
        else if (outcome == 2)
                printf("no --state FILE: running it again starts over\n");
}

/*
 * The command.
 */

static int parse_args(int argc, char **argv, replay_t *rp, const char **path,
                      int *code)
{
        static const struct option opts[] = {
                WK_WINDOW_LONGOPTS,
                {"topic", required_argument, NULL, 'T'},
                {NULL, 0, NULL, 0},
        };
        int o, r;

        *code = WK_EXIT_USAGE;
        optind = 1;
        while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                r = wk_window_opt(&rp->win, &rp->args, o, optarg, code);
                if (r == -1)
                        return -1;
                if (r)
                        continue;
                switch (o) {
                case 'T':
                        if (wk_window_add(&rp->win.topics, &rp->win.topic_count,
                                          optarg) == -1) {
                                fputs("out of memory\n", stderr);
                                *code = 1;
                                return -1;
                        }
                        break;
                case 'h':
                        fputs(usage, stdout);
                        *code = 0;
                        return -1;
                default:
                        fputs(usage, stderr);
                        return -1;
                }
        }
        if (wk_window_args_check(&rp->win, &rp->args, argc, argv, "delivers",
                                 usage) == -1)
                return -1;
        if (!rp->win.from_arg) {
                fprintf(stderr, "missing --from TIME\n%s", usage);
                return -1;
        }
        *path = rp->args.path;
        return 0;
}

/* Times, topics and webhooks against the configuration. */
static int check_args(replay_t *rp, const cfg_t *cfg, char *errstr,
                      size_t errstr_size)
{
        const cfg_kafka_t *k = cfg_kafka(cfg);

        if (wk_window_times(&rp->win, errstr, errstr_size) == -1)
                return -1;
        for (size_t i = 0; i < rp->win.topic_count; i++) {
                size_t t;
                for (t = 0; t < k->topic_count; t++)
                        if (!strcmp(k->topics[t].name, rp->win.topics[i]))
                                break;
                if (t == k->topic_count) {
                        snprintf(errstr, errstr_size,
                                 "--topic %s: not in kafka.topics of %s",
                                 rp->win.topics[i], cfg_path(cfg));
                        return -1;
                }
        }
        if (!rp->win.topic_count)
                for (size_t t = 0; t < k->topic_count; t++)
                        if (wk_window_add(&rp->win.topics, &rp->win.topic_count,
                                          k->topics[t].name) == -1) {
                                snprintf(errstr, errstr_size, "out of memory");
                                return -1;
                        }
        for (size_t i = 0; i < rp->win.webhook_count; i++) {
                const cfg_webhook_t *wh =
                        cfg_webhook_find(cfg, rp->win.webhooks[i]);
                if (!wh || !wh->enabled) {
                        snprintf(errstr, errstr_size, "--webhook %s: %s in %s",
                                 rp->win.webhooks[i],
                                 wh ? "disabled (enabled = false)"
                                    : "no webhook of that name",
                                 cfg_path(cfg));
                        return -1;
                }
                if (rp->win.app && wh->app_token &&
                    strcmp(wh->app_token, rp->win.app)) {
                        snprintf(errstr, errstr_size,
                                 "--webhook %s: a webhook of app %s, which "
                                 "never receives the events of --app %s",
                                 rp->win.webhooks[i], wh->app_token,
                                 rp->win.app);
                        return -1;
                }
        }
        return 0;
}

static void announce(replay_t *rp)
{
        uint64_t window = 0, todo = 0;
        char a[64], b[64], hooks[256];
        size_t used = 0;

        wk_window_totals(&rp->win, &window, &todo, NULL);
        hooks[0] = '\0';
        for (size_t i = 0; i < rp->win.webhook_count && used < sizeof(hooks);
             i++)
                used += (size_t)snprintf(hooks + used, sizeof(hooks) - used,
                                         "%s%s", i ? "," : "",
                                         rp->win.webhooks[i]);
        hb_log(HB_LOG_INFO, "replay planned",
               "from=%s to=%s partitions=%zu window=%llu to_do=%llu "
               "webhooks=%s app=%s rate=%g dry_run=%d state=%s",
               hb_time_format(rp->win.from_ms, a, sizeof(a)),
               rp->win.to_ms >= 0 ? hb_time_format(rp->win.to_ms, b, sizeof(b))
                                  : "log-end",
               rp->win.n, (unsigned long long)window, (unsigned long long)todo,
               rp->win.webhook_count ? hooks : "all-enabled",
               rp->win.app ? rp->win.app : "all", rp->args.rate,
               rp->args.dry_run, rp->win.state_path ? rp->win.state_path : "-");
}

/* Run the worker over the plan. @returns the outcome: 0 done, 1 failed,
 * 2 interrupted. \p cfg is the worker's from here on. */
static int run_worker(replay_t *rp, cfg_t **cfg)
{
        wk_worker_opts_t opts = {
                .webhooks = rp->win.webhook_count ? rp->win.webhooks : NULL,
                .webhook_count = rp->win.webhook_count,
                .app = rp->win.app,
                .rate = rp->args.rate,
                .dry_run = rp->args.dry_run,
                .no_admin = 1,
        };
        wk_stats_t st;
        char *report = NULL;
        int outcome = wk_window_run(&rp->win, cfg, &opts, &st,
                                    rp->args.dry_run ? &report : NULL);

        summary(rp, &st, outcome,
                (double)(hb_time_mono_ms() - rp->win.started_ms) / 1000.0);
        if (report)
                fputs(report, stdout);
        free(report);
        return outcome;
}

int wk_cmd_replay(int argc, char **argv)
{
        replay_t rp = {.win = WK_WINDOW_INIT("replay")};
        const char *path = NULL;
        char errstr[2048];
        cfg_t *cfg = NULL;
        uint64_t todo = 0;
        int code = 1, outcome;

        if (parse_args(argc, argv, &rp, &path, &code) == -1)
                goto out;
        code = 1;
        cfg = wk_cmd_load_config(path);
        if (!cfg)
                goto out;
        if (check_args(&rp, cfg, errstr, sizeof(errstr)) == -1 ||
            wk_window_state_load(&rp.win, errstr, sizeof(errstr)) == -1)
                goto err;
        wk_window_signals();
        if (wk_window_plan(&rp.win, cfg, errstr, sizeof(errstr)) == -1)
                goto err;
        if (rp.win.state_path &&
            wk_window_state_save(&rp.win, errstr, sizeof(errstr)) == -1)
                goto err;
        announce(&rp);
        wk_window_totals(&rp.win, NULL, &todo, NULL);
        if (wk_window_interrupted()) {
                code = WK_EXIT_INTERRUPTED;
                goto out;
        }
        if (todo == 0) {
                wk_stats_t none = {0};
                summary(&rp, &none, 0, 0);
                code = 0;
                goto out;
        }
        outcome = run_worker(&rp, &cfg);
        code = outcome == 0 ? 0 : outcome == 2 ? WK_EXIT_INTERRUPTED : 1;
        goto out;
err:
        fprintf(stderr, "hookbridge replay: %s\n", errstr);
        code = 1;
out:
        fflush(stdout);
        cfg_destroy(cfg);
        wk_window_fini(&rp.win);
        return code;
}
