/* wk_cmd_sendtest: `hookbridge send-test`: the command line of Send Test
 * (wk_sendtest): one signed sample event to one webhook, reporting
 * status, time and the start of the response. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "wh_pool.h"
#include "wk_cmd.h"
#include "wk_sendtest.h"

static const char usage[] =
        "usage: hookbridge send-test -c FILE --webhook NAME [--type TYPE]\n"
        "Sends one sample event of TYPE (default: the first type the "
        "webhook\nreceives) to the webhook, signed as a real delivery, "
        "once (no retries),\nand reports the status, the time taken and "
        "the first bytes of the\nresponse. Exit status 0 on a 2xx.\n";

/* scheme://host[:port]/... of \p url: paths and queries carry tokens
 * (Slack-style hooks), so they are never printed. */
static const char *where(const char *url, char *out, size_t size)
{
        size_t n;

        if (!wh_endpoint_origin(url, out, size)) {
                snprintf(out, size, "(the configured url)");
                return out;
        }
        n = strlen(out);
        snprintf(out + n, size - n, "/...");
        return out;
}

/* What is sent, before it is. */
static void on_before(const wk_sendtest_t *r, void *opaque)
{
        const cfg_webhook_t *wh = opaque;
        char at[300];

        printf("POST %s (webhook %s, %s%s)\nwebhook-id: %s\ntype: %s\n"
               "body: %s\n",
               where(wh->url, at, sizeof(at)), wh->name,
               wh->app_token ? "app " : "an operator webhook",
               wh->app_token ? wh->app_token : "", r->event_id, r->type,
               r->payload);
        fflush(stdout);
}

int wk_cmd_send_test(int argc, char **argv)
{
        static const struct option opts[] = {
                {"config", required_argument, NULL, 'c'},
                {"webhook", required_argument, NULL, 'w'},
                {"type", required_argument, NULL, 't'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *path = NULL, *name = NULL, *type = NULL;
        char errstr[512];
        cfg_t *cfg = NULL;
        const cfg_webhook_t *wh;
        wk_sendtest_t r;
        int o, rc = 1, sent;

        optind = 1;
        while ((o = getopt_long(argc, argv, "c:w:t:h", opts, NULL)) != -1) {
                switch (o) {
                case 'c':
                        path = optarg;
                        break;
                case 'w':
                        name = optarg;
                        break;
                case 't':
                        type = optarg;
                        break;
                case 'h':
                        fputs(usage, stdout);
                        return 0;
                default:
                        fputs(usage, stderr);
                        return WK_EXIT_USAGE;
                }
        }
        if (!path || !name || optind < argc) {
                fputs(usage, stderr);
                return WK_EXIT_USAGE;
        }
        cfg = wk_cmd_load_config(path);
        if (!cfg)
                return 1;
        wh = cfg_webhook_find(cfg, name);
        if (!wh) {
                fprintf(stderr, "send-test: no webhook named '%s' in %s\n",
                        name, path);
                goto out;
        }
        sent = wk_sendtest_run(cfg, wh, type, 0, on_before, (void *)wh, &r,
                               errstr, sizeof(errstr));
        if (sent != 0) {
                fprintf(stderr, "send-test: %s\n", errstr);
                wk_sendtest_clear(&r);
                goto out;
        }
        if (r.status)
                printf("status: %ld\n", r.status);
        else
                printf("status: no response (%s)\n", r.error);
        printf("time: %.0f ms\n", r.seconds * 1000.0);
        printf("response: %s\n", r.response[0] ? r.response : "(empty)");
        printf("result: %s\n", r.ok ? "OK" : "FAILED");
        rc = r.ok ? 0 : 1;
        wk_sendtest_clear(&r);
out:
        cfg_destroy(cfg);
        return rc;
}
