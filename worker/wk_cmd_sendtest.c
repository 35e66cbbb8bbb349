/* wk_cmd_sendtest: `hookbridge send-test`: one signed sample event to one
 * webhook, reporting status, time and the start of the response. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "hb_log.h"
#include "wh_pool.h"
#include "wk_cmd.h"
#include "wk_sample.h"
#include "wk_transform.h"

static const char usage[] =
        "usage: hookbridge send-test -c FILE --webhook NAME [--type TYPE]\n"
        "Sends one sample event of TYPE (default: the first type the "
        "webhook\nreceives) to the webhook, signed as a real delivery, "
        "once (no retries),\nand reports the status, the time taken and "
        "the first bytes of the\nresponse. Exit status 0 on a 2xx.\n";

/* Find a sample whose mapped type is \p type; render it into \p ev. */
static int sample_for(const wk_mapping_t *m, const cfg_t *cfg,
                      const cfg_webhook_t *wh, const char *type,
                      wk_event_t **ev)
{
        const cfg_topic_t *t = &cfg_kafka(cfg)->topics[0];
        wk_msgmeta_t meta = {.topic = t->name,
                             .timestamp_ms = (int64_t)time(NULL) * 1000,
                             .topic_app_token = t->app_token};
        char raw[2048], id[64], reason[256];

        for (size_t i = 0; i < wk_sample_count(); i++) {
                snprintf(id, sizeof(id), "send-test-%lld-%zu",
                         (long long)time(NULL), i);
                /* the webhook's own app's event (SPEC §5): an operator
                 * webhook gets the demo app's */
                wk_sample_render_app(
                        i, wh->app_token ? wh->app_token : WK_SAMPLE_APP, id, 1,
                        meta.timestamp_ms, raw, sizeof(raw));
                if (wk_event_parse(m, raw, strlen(raw), &meta, ev, reason,
                                   sizeof(reason)) != WK_XF_OK)
                        continue;
                if (type ? !strcmp(wk_event_type(*ev), type)
                         : cfg_webhook_wants(wh, wk_event_type(*ev)))
                        return 0;
                wk_event_destroy(*ev);
                *ev = NULL;
        }
        return -1;
}

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

/* The report, from the pool's callback. */
typedef struct report_s {
        int done;
        int ok;
} report_t;

/* What the receiver sent (its body, curl's error text with its
 * certificate's names) is printed with control bytes escaped: it cannot
 * set the terminal's title, clear the screen or print a line of its own.
 * 200 bytes of body, each at most \xNN or \uXXXX. */
static void on_done(const wh_result_t *res, void *opaque)
{
        report_t *r = opaque;
        char shown[200 * 6 + 1];

        r->done = 1;
        r->ok = res->outcome == WH_OUT_OK;
        if (res->status)
                printf("status: %ld\n", res->status);
        else
                printf("status: no response (%s)\n",
                       hb_log_printable(shown, sizeof(shown),
                                        res->error ? res->error : "",
                                        res->error ? strlen(res->error) : 0));
        printf("time: %.0f ms\n", res->last_attempt_s * 1000.0);
        printf("response: %s\n",
               res->body_start_len
                       ? hb_log_printable(shown, sizeof(shown), res->body_start,
                                          res->body_start_len)
                       : "(empty)");
        printf("result: %s\n", r->ok ? "OK" : "FAILED");
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
        cfg_webhook_t once;
        wk_mapping_t *map = NULL;
        wk_event_t *ev = NULL;
        wh_endpoint_t *ep = NULL;
        wh_pool_t *pool = NULL;
        wh_pool_conf_t pc = {.max_in_flight = 1, .max_response_bytes = 200};
        report_t rep = {0};
        char *body = NULL, at[300];
        size_t len;
        int o, rc = 1;

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
        map = wk_mapping_new();
        if (!map) {
                fprintf(stderr, "send-test: out of memory\n");
                goto out;
        }
        for (size_t i = 0; i < cfg_mapping_count(cfg); i++)
                if (wk_mapping_add(map, cfg_mapping(cfg, i)->event,
                                   cfg_mapping(cfg, i)->type, errstr,
                                   sizeof(errstr)) == -1) {
                        fprintf(stderr, "send-test: mappings: %s\n", errstr);
                        goto out;
                }
        if (sample_for(map, cfg, wh, type, &ev) == -1) {
                fprintf(stderr,
                        "send-test: no sample event of type '%s'; types: "
                        "flows.seen, flows.completed, nps.score, ...\n",
                        type ? type : "(any the webhook receives)");
                goto out;
        }
        body = wk_event_render(ev, wh->user_props, wh->user_prop_count,
                               wh->company_props, wh->company_prop_count, &len);
        if (!body) {
                fprintf(stderr, "send-test: out of memory rendering the "
                                "event\n");
                goto out;
        }
        /* One attempt: a test reports what happened, it does not retry. */
        once = *wh;
        once.retry.max_attempts = 1;
        ep = wh_endpoint_new(&once, errstr, sizeof(errstr));
        pc.connect_timeout_ms = cfg_delivery(cfg)->connect_timeout_ms;
        /* the same SSRF guard as a real delivery */
        pc.ssrf_guard = 1;
        pc.https_only = cfg_delivery(cfg)->https_only;
        pc.allow_networks = cfg_delivery(cfg)->allow_networks;
        pc.allow_network_count = cfg_delivery(cfg)->allow_network_count;
        pool = ep ? wh_pool_new(&pc, errstr, sizeof(errstr)) : NULL;
        if (!pool) {
                fprintf(stderr, "send-test: %s\n", errstr);
                goto out;
        }
        printf("POST %s (webhook %s, %s%s)\nwebhook-id: %s\ntype: %s\n"
               "body: %s\n",
               where(wh->url, at, sizeof(at)), wh->name,
               wh->app_token ? "app " : "an operator webhook",
               wh->app_token ? wh->app_token : "", wk_event_id(ev),
               wk_event_type(ev), body);
        if (wh_pool_submit(pool, ep, wk_event_id(ev), body, len, 0, on_done,
                           &rep) == -1) {
                /* the pool refuses only when out of memory (an id it
                 * cannot send is reported through on_done) */
                fprintf(stderr, "send-test: the request could not be queued: "
                                "out of memory\n");
                goto out;
        }
        while (!rep.done)
                if (wh_pool_run(pool, 1000, -1) == -1)
                        break;
        rc = rep.ok ? 0 : 1;
out:
        wh_pool_destroy(pool);
        wh_endpoint_unref(ep);
        free(body);
        wk_event_destroy(ev);
        wk_mapping_destroy(map);
        cfg_destroy(cfg);
        return rc;
}
