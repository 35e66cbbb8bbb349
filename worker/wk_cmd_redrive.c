/* wk_cmd_redrive: `hookbridge redrive`: send the chosen dead letters of
 * the dead-letter topic again (SPEC §4a, §6), outside the consumer group
 * (the window, --state FILE and progress of replay: wk_window), each to
 * its own webhook through the worker's pool (wk_redrive). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "hb_log.h"
#include "hb_time.h"
#include "wk_cmd.h"
#include "wk_redrive.h"
#include "wk_window.h"
#include "wk_worker.h"

/* Exit status: a delivery failed again / something selected cannot be
 * sent (see the usage). */
#define EXIT_FAILED_AGAIN 2
#define EXIT_NOT_SENDABLE 3

static const char usage[] =
        "usage: hookbridge redrive -c FILE [--webhook NAME|ID]... [--app T]\n"
        "                          [--reason R]... [--from TIME] [--to TIME]\n"
        "                          [--rate N] [--dry-run] [--state FILE]\n"
        "Sends the dead letters of delivery.dead_letter_topic again, each to\n"
        "its own webhook as the configuration has it now (URL, secret,\n"
        "properties), signed, with its webhook-id. Outside the consumer\n"
        "group: no group offset is read or moved, and nothing is written to\n"
        "Kafka (a dead letter stays in the dead-letter topic, sent or not).\n"
        "\n"
        "  --webhook NAME|ID  only the dead letters of this webhook "
        "(repeatable)\n"
        "  --app T            only those of app T (their webhook's "
        "app_token)\n"
        "  --reason R         only those dead-lettered for R (repeatable):\n"
        "                     exhausted, permanent, gone, invalid\n"
        "  --from TIME        dead-lettered at or after TIME (default: the\n"
        "                     topic's start)\n"
        "  --to TIME          dead-lettered before TIME (default: the log "
        "end\n"
        "                     when the redrive starts)\n"
        "  --rate N           take in at most N dead letters per second (a\n"
        "                     recovering subscriber is not flooded)\n"
        "  --dry-run          count what would be sent, by webhook and "
        "reason;\n"
        "                     send nothing\n"
        "  --state FILE       record progress in FILE; interrupted, run the\n"
        "                     same command again with the same --state FILE\n"
        "                     to continue without sending again what "
        "finished\n"
        "\n"
        "Reported, never sent: bad inputs (reason invalid: the event itself\n"
        "was wrong), dead letters whose value was left out (too large for\n"
        "the dead-letter topic), those of a webhook no longer configured or\n"
        "disabled, and those no longer valid under the current mapping.\n"
        "A delivery that fails again (after the webhook's retries) is\n"
        "counted as failed; its dead letter stays where it is, and a later\n"
        "redrive without that --state FILE sends it again.\n"
        "TIME: as for replay (ISO-8601, epoch ms, -2h, now); the dead\n"
        "letters' own Kafka timestamps (when they were dead-lettered).\n"
        "\n"
        "Exit status: 0 every selected dead letter that can be sent was\n"
        "delivered (bad inputs are only reported); 2 some failed again; 3\n"
        "none failed but some cannot be sent (value left out, webhook gone,\n"
        "no longer valid); 1 on errors; 64 on usage errors; 130\n"
        "interrupted.\n";

static const char *const reasons_known[] = {"exhausted", "permanent", "gone",
                                            "invalid"};

typedef struct redrive_s {
        wk_window_t win;
        const char **reasons; /* owned copies */
        size_t reason_count;
        wk_window_args_t args; /* -c, --rate, --dry-run */
        wk_redrive_stats_t st;
} redrive_t;

static int known_reason(const char *r)
{
        for (size_t i = 0; i < sizeof(reasons_known) / sizeof(*reasons_known);
             i++)
                if (!strcmp(reasons_known[i], r))
                        return 1;
        return 0;
}

static int parse_args(int argc, char **argv, redrive_t *rd, const char **path,
                      int *code)
{
        static const struct option opts[] = {
                WK_WINDOW_LONGOPTS,
                {"reason", required_argument, NULL, 'R'},
                {NULL, 0, NULL, 0},
        };
        int o, r;

        *code = WK_EXIT_USAGE;
        optind = 1;
        while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                r = wk_window_opt(&rd->win, &rd->args, o, optarg, code);
                if (r == -1)
                        return -1;
                if (r)
                        continue;
                switch (o) {
                case 'R':
                        if (!known_reason(optarg)) {
                                fprintf(stderr,
                                        "--reason: '%s' is not a dead-letter "
                                        "reason (exhausted, permanent, gone, "
                                        "invalid)\n",
                                        optarg);
                                return -1;
                        }
                        if (wk_window_add(&rd->reasons, &rd->reason_count,
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
        if (wk_window_args_check(&rd->win, &rd->args, argc, argv, "sends",
                                 usage) == -1)
                return -1;
        *path = rd->args.path;
        return 0;
}

/* Times, the dead-letter topic and the webhooks against the
 * configuration; the state's selection. */
static int check_args(redrive_t *rd, const cfg_t *cfg, char *errstr,
                      size_t errstr_size)
{
        const char *dlt = cfg_delivery(cfg)->dead_letter_topic;
        json_object *sel, *rs;

        if (wk_window_times(&rd->win, errstr, errstr_size) == -1)
                return -1;
        if (!dlt || !*dlt) {
                snprintf(errstr, errstr_size,
                         "%s has no delivery.dead_letter_topic: there are no "
                         "dead letters to redrive",
                         cfg_path(cfg));
                return -1;
        }
        for (size_t i = 0; i < rd->win.webhook_count; i++) {
                const cfg_webhook_t *wh =
                        cfg_webhook_find(cfg, rd->win.webhooks[i]);
                if (!wh) {
                        snprintf(errstr, errstr_size,
                                 "--webhook %s: no webhook of that name in "
                                 "%s (its dead letters could not be sent)",
                                 rd->win.webhooks[i], cfg_path(cfg));
                        return -1;
                }
                if (rd->win.app &&
                    (!wh->app_token || strcmp(wh->app_token, rd->win.app))) {
                        snprintf(errstr, errstr_size,
                                 "--webhook %s: a webhook of %s%s, not of "
                                 "--app %s: nothing would be selected",
                                 rd->win.webhooks[i],
                                 wh->app_token ? "app " : "no app (operator)",
                                 wh->app_token ? wh->app_token : "",
                                 rd->win.app);
                        return -1;
                }
        }
        if (wk_window_add(&rd->win.topics, &rd->win.topic_count, dlt) == -1)
                goto oom;
        sel = json_object_new_object();
        rs = json_object_new_array();
        if (!sel || !rs) {
                json_object_put(sel);
                json_object_put(rs);
                goto oom;
        }
        for (size_t i = 0; i < rd->reason_count; i++)
                json_object_array_add(rs,
                                      json_object_new_string(rd->reasons[i]));
        json_object_object_add(sel, "reasons", rs);
        rd->win.selection = sel;
        return 0;
oom:
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
}

static void announce(redrive_t *rd)
{
        uint64_t window = 0, todo = 0;
        char a[64], b[64], hooks[256], why[128];
        size_t used = 0, wused = 0;

        wk_window_totals(&rd->win, &window, &todo, NULL);
        hooks[0] = why[0] = '\0';
        for (size_t i = 0; i < rd->win.webhook_count && used < sizeof(hooks);
             i++)
                used += (size_t)snprintf(hooks + used, sizeof(hooks) - used,
                                         "%s%s", i ? "," : "",
                                         rd->win.webhooks[i]);
        for (size_t i = 0; i < rd->reason_count && wused < sizeof(why); i++)
                wused += (size_t)snprintf(why + wused, sizeof(why) - wused,
                                          "%s%s", i ? "," : "", rd->reasons[i]);
        hb_log(HB_LOG_INFO, "redrive planned",
               "topic=%s from=%s to=%s partitions=%zu window=%llu "
               "to_do=%llu webhooks=%s app=%s reasons=%s rate=%g dry_run=%d "
               "state=%s",
               rd->win.topics[0], hb_time_format(rd->win.from_ms, a, sizeof(a)),
               rd->win.to_ms >= 0 ? hb_time_format(rd->win.to_ms, b, sizeof(b))
                                  : "log-end",
               rd->win.n, (unsigned long long)window, (unsigned long long)todo,
               rd->win.webhook_count ? hooks : "all",
               rd->win.app ? rd->win.app : "all",
               rd->reason_count ? why : "all", rd->args.rate, rd->args.dry_run,
               rd->win.state_path ? rd->win.state_path : "-");
}

static void line(const char *label, uint64_t n, const char *note)
{
        printf("  %-15s %llu%s%s\n", label, (unsigned long long)n,
               note ? "  " : "", note ? note : "");
}

static void summary(redrive_t *rd, int outcome, double secs)
{
        const wk_redrive_stats_t *st = &rd->st;
        uint64_t window = 0, left = 0;
        char a[64], b[64];

        wk_window_totals(&rd->win, &window, NULL, &left);
        printf("redrive%s %s: %s .. %s\n", rd->args.dry_run ? " (dry run)" : "",
               outcome == 0   ? "done"
               : outcome == 1 ? "failed"
                              : "interrupted",
               rd->win.from_arg ? hb_time_format(rd->win.from_ms, a, sizeof(a))
                                : "the topic's start",
               rd->win.to_ms >= 0 ? hb_time_format(rd->win.to_ms, b, sizeof(b))
                                  : "log end at the first run");
        printf("  %-15s %llu in %zu partition(s) of %s, %llu left\n", "window",
               (unsigned long long)window, rd->win.n, rd->win.topics[0],
               (unsigned long long)left);
        line("read", st->read, NULL);
        line("selected", st->selected, NULL);
        if (rd->args.dry_run) {
                line("would send", st->sendable, NULL);
        } else {
                line("delivered", st->delivered, NULL);
                line("failed", st->failed,
                     st->failed ? "(failed again: still dead letters)" : NULL);
        }
        line("bad inputs", st->bad_input, "(reported, not sent)");
        line("value omitted", st->omitted, "(too large: nothing to send)");
        line("webhook gone", st->no_webhook, "(not configured or disabled)");
        line("not valid now", st->unsendable,
             "(mapping, event types or app changed)");
        if (st->unreadable)
                line("unreadable", st->unreadable,
                     "(not hookbridge dead letters)");
        printf("  %-15s %.1f s\n", "elapsed", secs);
        if (outcome == 2 && rd->win.state_path)
                printf("continue with the same command and --state %s\n",
                       rd->win.state_path);
        else if (outcome == 2)
                printf("no --state FILE: running it again starts over\n");
}

/* The exit status of a finished (or interrupted) run. */
static int exit_code(const redrive_t *rd, int outcome)
{
        if (outcome == 1)
                return 1;
        if (outcome == 2)
                return WK_EXIT_INTERRUPTED;
        if (rd->st.failed)
                return EXIT_FAILED_AGAIN;
        if (rd->st.omitted || rd->st.no_webhook || rd->st.unsendable)
                return EXIT_NOT_SENDABLE;
        return 0;
}

static int run_worker(redrive_t *rd, cfg_t **cfg)
{
        wk_redrive_sel_t sel = {
                .webhooks = rd->win.webhooks,
                .webhook_count = rd->win.webhook_count,
                .app = rd->win.app,
                .reasons = rd->reasons,
                .reason_count = rd->reason_count,
                .stats = &rd->st,
        };
        wk_worker_opts_t opts = {
                .redrive = &sel,
                .rate = rd->args.rate,
                .dry_run = rd->args.dry_run,
                .no_admin = 1,
        };
        wk_stats_t st;
        char *report = NULL;
        int outcome = wk_window_run(&rd->win, cfg, &opts, &st, &report);

        summary(rd, outcome,
                (double)(hb_time_mono_ms() - rd->win.started_ms) / 1000.0);
        if (report)
                fputs(report, stdout);
        free(report);
        return outcome;
}

int wk_cmd_redrive(int argc, char **argv)
{
        redrive_t rd = {.win = WK_WINDOW_INIT("redrive")};
        const char *path = NULL;
        char errstr[2048];
        cfg_t *cfg = NULL;
        uint64_t todo = 0;
        int code = 1;

        if (parse_args(argc, argv, &rd, &path, &code) == -1)
                goto out;
        code = 1;
        cfg = wk_cmd_load_config(path);
        if (!cfg)
                goto out;
        if (check_args(&rd, cfg, errstr, sizeof(errstr)) == -1 ||
            wk_window_state_load(&rd.win, errstr, sizeof(errstr)) == -1)
                goto err;
        wk_window_signals();
        if (wk_window_plan(&rd.win, cfg, errstr, sizeof(errstr)) == -1)
                goto err;
        if (rd.win.state_path &&
            wk_window_state_save(&rd.win, errstr, sizeof(errstr)) == -1)
                goto err;
        announce(&rd);
        wk_window_totals(&rd.win, NULL, &todo, NULL);
        if (wk_window_interrupted()) {
                code = WK_EXIT_INTERRUPTED;
                goto out;
        }
        if (todo == 0) {
                summary(&rd, 0, 0);
                code = 0;
                goto out;
        }
        code = exit_code(&rd, run_worker(&rd, &cfg));
        goto out;
err:
        fprintf(stderr, "hookbridge redrive: %s\n", errstr);
        code = 1;
out:
        fflush(stdout);
        cfg_destroy(cfg);
        wk_window_fini(&rd.win);
        for (size_t i = 0; i < rd.reason_count; i++)
                free((char *)rd.reasons[i]);
        free(rd.reasons);
        return code;
}
