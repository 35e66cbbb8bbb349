/* wk_cmd_transform: `hookbridge transform`: raw events on stdin, one per
 * line, to webhook payloads on stdout (SPEC section 6). */
#include "wk_cmd_transform.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "wk_cmd.h"
#include "wk_routes.h"
#include "wk_transform.h"

/* SPEC section 3: chosen user + company properties together. */
#define TF_MAX_PROPS 10

static const char usage[] =
        "usage: hookbridge transform [--app-token T] [--topic NAME]\n"
        "                            [--user-prop P]... "
        "[--company-prop P]...\n"
        "       hookbridge transform -c FILE [--webhook NAME] "
        "[--topic NAME] [--app-token T]\n"
        "Reads raw events from stdin, one per line, and writes one line "
        "per event\nto stdout: the compact webhook payload, "
        "{\"skipped\":\"<reason>\"} or\n{\"invalid\":\"<reason>\"}. "
        "Exit status 0 unless stdin/stdout or the\nconfiguration fail.\n"
        "\n"
        "  -c, --config FILE     use FILE's extra event mappings and "
        "topic app_token\n"
        "      --webhook NAME    the chosen properties of this configured "
        "webhook;\n"
        "                        of an app's webhook, another app's events "
        "are\n"
        "                        skipped (it never receives them)\n"
        "      --topic NAME      the topic the events came from (default "
        "\"stdin\";\n"
        "                        with -c, its app_token; default: the "
        "first topic's)\n"
        "      --app-token T     app_token for events without "
        "context.app_token\n"
        "      --user-prop P     a chosen user property (repeatable)\n"
        "      --company-prop P  a chosen company property (repeatable)\n"
        "  -h, --help            this text\n";

typedef struct tf_opts_s {
        const char *config;
        const char *webhook;
        const char *topic;
        const char *app_token;
        const char *hook_app; /* --webhook's app_token, or NULL */
        const char **user;
        size_t user_count;
        const char **company;
        size_t company_count;
} tf_opts_t;

enum {
        TF_OPT_WEBHOOK = 256,
        TF_OPT_TOPIC,
        TF_OPT_APP_TOKEN,
        TF_OPT_USER,
        TF_OPT_COMPANY
};

static int tf_usage_error(const char *msg)
{
        if (msg)
                fprintf(stderr, "hookbridge transform: %s\n\n", msg);
        fputs(usage, stderr);
        return WK_EXIT_USAGE;
}

/* @returns -1 to go on, or the exit code. \p o's arrays hold argc. */
static int tf_parse_args(int argc, char **argv, tf_opts_t *o)
{
        static const struct option opts[] = {
                {"config", required_argument, NULL, 'c'},
                {"webhook", required_argument, NULL, TF_OPT_WEBHOOK},
                {"topic", required_argument, NULL, TF_OPT_TOPIC},
                {"app-token", required_argument, NULL, TF_OPT_APP_TOKEN},
                {"user-prop", required_argument, NULL, TF_OPT_USER},
                {"company-prop", required_argument, NULL, TF_OPT_COMPANY},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        int c;

        optind = 1;
        while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        o->config = optarg;
                        break;
                case TF_OPT_WEBHOOK:
                        o->webhook = optarg;
                        break;
                case TF_OPT_TOPIC:
                        o->topic = optarg;
                        break;
                case TF_OPT_APP_TOKEN:
                        o->app_token = optarg;
                        break;
                case TF_OPT_USER:
                        o->user[o->user_count++] = optarg;
                        break;
                case TF_OPT_COMPANY:
                        o->company[o->company_count++] = optarg;
                        break;
                case 'h':
                        fputs(usage, stdout);
                        return 0;
                default: /* getopt_long has said what was wrong */
                        return tf_usage_error(NULL);
                }
        }
        if (optind < argc)
                return tf_usage_error("unexpected argument");
        if (o->webhook && !o->config)
                return tf_usage_error("--webhook needs -c FILE");
        if (o->webhook && (o->user_count || o->company_count))
                return tf_usage_error("--webhook brings its own properties: "
                                      "drop --user-prop/--company-prop");
        if (o->user_count + o->company_count > TF_MAX_PROPS)
                return tf_usage_error("at most 10 --user-prop and "
                                      "--company-prop together");
        return -1;
}

/* Apply the configuration: mappings, properties, fallback app_token.
 * @returns 0, or -1 after printing why. */
static int tf_configure(const cfg_t *cfg, tf_opts_t *o, wk_mapping_t *map)
{
        const cfg_kafka_t *k = cfg_kafka(cfg);
        char err[512];

        for (size_t i = 0; i < cfg_mapping_count(cfg); i++) {
                const cfg_mapping_t *mp = cfg_mapping(cfg, i);
                if (wk_mapping_add(map, mp->event, mp->type, err, sizeof(err)) <
                    0) {
                        fprintf(stderr, "hookbridge transform: %s: %s\n",
                                o->config, err);
                        return -1;
                }
        }
        if (o->webhook) {
                const cfg_webhook_t *wh = cfg_webhook_find(cfg, o->webhook);
                if (!wh) {
                        fprintf(stderr,
                                "hookbridge transform: no webhook named "
                                "'%s' in %s\n",
                                o->webhook, o->config);
                        return -1;
                }
                /* The cfg_t outlives the loop: borrow its arrays. */
                o->user = (const char **)wh->user_props;
                o->user_count = wh->user_prop_count;
                o->company = (const char **)wh->company_props;
                o->company_count = wh->company_prop_count;
                o->hook_app = wh->app_token;
        }
        if (o->app_token)
                return 0;
        if (o->topic) {
                size_t i;
                for (i = 0; i < k->topic_count; i++) {
                        if (!strcmp(k->topics[i].name, o->topic))
                                break;
                }
                if (i == k->topic_count) {
                        fprintf(stderr,
                                "hookbridge transform: no topic named '%s' "
                                "in %s\n",
                                o->topic, o->config);
                        return -1;
                }
                o->app_token = k->topics[i].app_token;
        } else if (k->topic_count) {
                o->app_token = k->topics[0].app_token;
        }
        return 0;
}

/* {"<key>":"<text>"} with the text escaped as a JSON string. */
static void tf_put_status(FILE *out, const char *key, const char *text)
{
        fprintf(out, "{\"%s\":\"", key);
        for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(out, "\\%c", *p);
                else if (*p < 0x20)
                        fprintf(out, "\\u%04x", *p);
                else
                        fputc(*p, out);
        }
        fputs("\"}\n", out);
}

static int64_t tf_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* @returns 0, or -1 on out-of-memory (printed). */
static int tf_line(const wk_mapping_t *map, const tf_opts_t *o,
                   const char *line, size_t len, int64_t offset)
{
        wk_msgmeta_t meta = {
                .topic = o->topic ? o->topic : "stdin",
                .partition = 0,
                .offset = offset,
                .timestamp_ms = tf_now_ms(),
                .topic_app_token = o->app_token,
        };
        wk_event_t *ev = NULL;
        char reason[512];
        wk_xf_status_t st;
        const char *app;
        char *body;
        size_t blen = 0, app_len;

        st = wk_event_parse(map, line, len, &meta, &ev, reason, sizeof(reason));
        if (st != WK_XF_OK) {
                tf_put_status(stdout,
                              st == WK_XF_SKIPPED ? "skipped" : "invalid",
                              reason);
                return 0;
        }
        app = wk_event_app(ev, &app_len);
        if (!wk_routes_app_ok(o->hook_app, app, app_len)) {
                /* what the webhook would get: nothing (SPEC §5) */
                snprintf(reason, sizeof(reason),
                         "another app's event: webhook %s belongs to app %s",
                         o->webhook, o->hook_app);
                wk_event_destroy(ev);
                tf_put_status(stdout, "skipped", reason);
                return 0;
        }
        body = wk_event_render(ev, o->user, o->user_count, o->company,
                               o->company_count, &blen);
        wk_event_destroy(ev);
        if (!body) {
                fprintf(stderr,
                        "hookbridge transform: out of memory at "
                        "line %lld\n",
                        (long long)offset + 1);
                return -1;
        }
        fwrite(body, 1, blen, stdout);
        fputc('\n', stdout);
        free(body);
        return 0;
}

int wk_cmd_transform(int argc, char **argv)
{
        tf_opts_t o = {0};
        const char **user = calloc((size_t)argc + 1, sizeof(*user));
        const char **company = calloc((size_t)argc + 1, sizeof(*company));
        wk_mapping_t *map = NULL;
        cfg_t *cfg = NULL;
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        int64_t lineno = 0;
        int rc = 1;

        if (!user || !company) {
                fputs("hookbridge transform: out of memory\n", stderr);
                goto out;
        }
        o.user = user;
        o.company = company;
        rc = tf_parse_args(argc, argv, &o);
        if (rc >= 0)
                goto out;
        rc = 1;
        map = wk_mapping_new();
        if (!map) {
                fputs("hookbridge transform: out of memory\n", stderr);
                goto out;
        }
        if (o.config) {
                cfg = wk_cmd_load_config(o.config);
                if (!cfg || tf_configure(cfg, &o, map) < 0)
                        goto out;
        }
        while ((n = getline(&line, &cap, stdin)) != -1) {
                size_t len = (size_t)n;
                if (len && line[len - 1] == '\n')
                        len--;
                if (tf_line(map, &o, line, len, lineno++) < 0)
                        goto out;
        }
        if (ferror(stdin)) {
                perror("hookbridge transform: reading stdin");
                goto out;
        }
        if (fflush(stdout) == EOF || ferror(stdout)) {
                perror("hookbridge transform: writing stdout");
                goto out;
        }
        rc = 0;
out:
        free(line);
        cfg_destroy(cfg);
        wk_mapping_destroy(map);
        free(user);
        free(company);
        return rc;
}
