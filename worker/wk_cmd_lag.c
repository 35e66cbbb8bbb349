/* wk_cmd_lag: `hookbridge lag`: the configured group's lag per partition,
 * in messages and seconds, asked of the brokers (a worker need not run). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cfg.h"
#include "hb_sched.h"
#include "hb_time.h"
#include "kc_lag.h"
#include "wk_cmd.h"

/* How long the brokers get to answer everything. */
#define LAG_TIMEOUT_MS 10000

static const char usage[] =
        "usage: hookbridge lag -c FILE [--json] [--max-lag N]\n"
        "Consumer lag of the configured group (kafka.group_id) on every\n"
        "partition of the configured topics, asked of the brokers: works\n"
        "whether or not a worker runs, and changes nothing.\n"
        "\n"
        "  committed    the group's committed offset (- when none)\n"
        "  log_end      the partition's log-end offset\n"
        "  lag          messages not consumed yet: log_end - committed;\n"
        "               with nothing committed (or an offset the log no\n"
        "               longer has) from where kafka.auto_offset_reset\n"
        "               starts a consumer: the log start for earliest\n"
        "               (the default), the log end for latest (lag 0)\n"
        "  lag_seconds  age of the oldest unconsumed message: now minus\n"
        "               the timestamp of the message at that position\n"
        "               (0 when lag is 0; - when it could not be read)\n"
        "\n"
        "  --json       one JSON document: {\"group\", \"partitions\":\n"
        "               [{topic, partition, committed, log_end, lag,\n"
        "               lag_seconds}], \"topics\": [{topic, lag,\n"
        "               max_lag_seconds}]} (null for - above)\n"
        "  --max-lag N  exit 2 when any partition's lag exceeds N\n"
        "               messages\n"
        "\n"
        "With retry tiers (delivery.retry.schedule), also per tier topic\n"
        "the records waiting (its group <group_id>.tiers: log end -\n"
        "committed) and how long the oldest one waiting has been due\n"
        "(overdue_seconds, 0 when none is due yet). --max-lag looks at\n"
        "the source topics only.\n"
        "\n"
        "Exit status: 0, 2 over --max-lag, 1 on errors (a broker not\n"
        "reachable within 10 s included), 64 on usage errors.\n";

/* Per-topic totals. */
typedef struct topic_sum_s {
        const char *topic;
        int64_t lag;
        double max_lag_seconds; /* -1: unknown for some partition */
} topic_sum_t;

static size_t sum_topics(const kc_lag_partition_t *p, size_t n,
                         topic_sum_t *out)
{
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
                if (!k || strcmp(out[k - 1].topic, p[i].topic)) {
                        out[k].topic = p[i].topic;
                        out[k].lag = 0;
                        out[k].max_lag_seconds = 0;
                        k++;
                }
                out[k - 1].lag += p[i].lag;
                if (p[i].lag_seconds < 0 && out[k - 1].max_lag_seconds == 0)
                        out[k - 1].max_lag_seconds = -1; /* unknown so far */
                else if (p[i].lag_seconds > out[k - 1].max_lag_seconds)
                        out[k - 1].max_lag_seconds = p[i].lag_seconds;
        }
        return k;
}

/* One retry tier: what waits in it and how late its oldest is. */
typedef struct tier_sum_s {
        const char *topic;
        int64_t waiting;
        double overdue_s;
} tier_sum_t;

/* The tiers' lag, summed per tier topic into \p out (at most
 * HB_SCHED_MAX). @returns how many, or -1 when they could not be read
 * (logged to stderr; not created yet, say). */
static int tier_lag(const cfg_t *cfg, kc_lag_t **lp, tier_sum_t *out)
{
        const cfg_tiers_t *ti = &cfg_delivery(cfg)->tiers;
        /* the names outlive the call: out[] points at them */
        static char names[HB_SCHED_MAX][256];
        char errstr[512];
        const char *np[HB_SCHED_MAX];
        const kc_lag_partition_t *p;
        int64_t now = hb_time_now_ms();
        int n;

        for (size_t i = 0; i < ti->schedule.n; i++) {
                if (!hb_sched_topic(&ti->schedule, ti->topic_prefix, (int)i,
                                    names[i], sizeof(names[i])))
                        return -1;
                np[i] = names[i];
                out[i].topic = np[i];
                out[i].waiting = 0;
                out[i].overdue_s = 0;
        }
        *lp = kc_lag_new_tiers(cfg, np, ti->schedule.n, errstr, sizeof(errstr));
        if (!*lp || (n = kc_lag_query(*lp, LAG_TIMEOUT_MS, &p, errstr,
                                      sizeof(errstr))) < 0) {
                fprintf(stderr, "hookbridge lag: retry tiers: %s\n", errstr);
                return -1;
        }
        for (int i = 0; i < n; i++)
                for (size_t t = 0; t < ti->schedule.n; t++) {
                        if (strcmp(p[i].topic, out[t].topic))
                                continue;
                        out[t].waiting += p[i].lag;
                        if (p[i].lag > 0 && p[i].due_ms >= 0 &&
                            p[i].due_ms < now &&
                            (double)(now - p[i].due_ms) / 1000.0 >
                                    out[t].overdue_s)
                                out[t].overdue_s =
                                        (double)(now - p[i].due_ms) / 1000.0;
                }
        return (int)ti->schedule.n;
}

static json_object *seconds_json(double s)
{
        char buf[64];

        if (s < 0)
                return NULL;
        snprintf(buf, sizeof(buf), "%.3f", s);
        return json_object_new_double_s(s, buf);
}

static void print_json(const char *group, const kc_lag_partition_t *p, size_t n,
                       const topic_sum_t *t, size_t nt, const tier_sum_t *ts,
                       int ntiers)
{
        json_object *o = json_object_new_object();
        json_object *parts = json_object_new_array();
        json_object *topics = json_object_new_array();

        json_object_object_add(o, "group", json_object_new_string(group));
        for (size_t i = 0; i < n; i++) {
                json_object *j = json_object_new_object();
                json_object_object_add(j, "topic",
                                       json_object_new_string(p[i].topic));
                json_object_object_add(j, "partition",
                                       json_object_new_int(p[i].partition));
                json_object_object_add(
                        j, "committed",
                        p[i].committed >= 0
                                ? json_object_new_int64(p[i].committed)
                                : NULL);
                json_object_object_add(j, "log_start",
                                       json_object_new_int64(p[i].log_start));
                json_object_object_add(j, "log_end",
                                       json_object_new_int64(p[i].log_end));
                json_object_object_add(j, "lag",
                                       json_object_new_int64(p[i].lag));
                json_object_object_add(j, "lag_seconds",
                                       seconds_json(p[i].lag_seconds));
                json_object_array_add(parts, j);
        }
        json_object_object_add(o, "partitions", parts);
        for (size_t i = 0; i < nt; i++) {
                json_object *j = json_object_new_object();
                json_object_object_add(j, "topic",
                                       json_object_new_string(t[i].topic));
                json_object_object_add(j, "lag",
                                       json_object_new_int64(t[i].lag));
                json_object_object_add(j, "max_lag_seconds",
                                       seconds_json(t[i].max_lag_seconds));
                json_object_array_add(topics, j);
        }
        json_object_object_add(o, "topics", topics);
        if (ntiers >= 0) {
                json_object *tiers = json_object_new_array();
                for (int i = 0; i < ntiers; i++) {
                        json_object *j = json_object_new_object();
                        json_object_object_add(
                                j, "topic",
                                json_object_new_string(ts[i].topic));
                        json_object_object_add(
                                j, "waiting",
                                json_object_new_int64(ts[i].waiting));
                        json_object_object_add(j, "overdue_seconds",
                                               seconds_json(ts[i].overdue_s));
                        json_object_array_add(tiers, j);
                }
                json_object_object_add(o, "tiers", tiers);
        }
        puts(json_object_to_json_string_ext(
                o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                           JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

static void print_seconds(char *out, size_t size, double s)
{
        if (s < 0)
                snprintf(out, size, "-");
        else
                snprintf(out, size, "%.1f", s);
}

static void print_text(const char *group, const kc_lag_partition_t *p, size_t n,
                       const topic_sum_t *t, size_t nt, const tier_sum_t *ts,
                       int ntiers)
{
        int w = 5; /* "TOPIC" */
        char com[32], secs[32];

        for (size_t i = 0; i < n; i++)
                if ((int)strlen(p[i].topic) > w)
                        w = (int)strlen(p[i].topic);
        for (int i = 0; i < ntiers; i++)
                if ((int)strlen(ts[i].topic) > w)
                        w = (int)strlen(ts[i].topic);
        printf("group %s\n\n", group);
        printf("%-*s %9s %12s %12s %10s %12s\n", w, "TOPIC", "PARTITION",
               "COMMITTED", "LOG-END", "LAG", "LAG-SECONDS");
        for (size_t i = 0; i < n; i++) {
                if (p[i].committed >= 0)
                        snprintf(com, sizeof(com), "%lld",
                                 (long long)p[i].committed);
                else
                        snprintf(com, sizeof(com), "-");
                print_seconds(secs, sizeof(secs), p[i].lag_seconds);
                printf("%-*s %9d %12s %12lld %10lld %12s\n", w, p[i].topic,
                       (int)p[i].partition, com, (long long)p[i].log_end,
                       (long long)p[i].lag, secs);
        }
        printf("\n%-*s %10s %16s\n", w, "TOPIC", "LAG", "MAX-LAG-SECONDS");
        for (size_t i = 0; i < nt; i++) {
                print_seconds(secs, sizeof(secs), t[i].max_lag_seconds);
                printf("%-*s %10lld %16s\n", w, t[i].topic, (long long)t[i].lag,
                       secs);
        }
        if (ntiers > 0)
                printf("\n%-*s %10s %16s\n", w, "RETRY TIER", "WAITING",
                       "OVERDUE-SECONDS");
        for (int i = 0; i < ntiers; i++) {
                print_seconds(secs, sizeof(secs), ts[i].overdue_s);
                printf("%-*s %10lld %16s\n", w, ts[i].topic,
                       (long long)ts[i].waiting, secs);
        }
}

int wk_cmd_lag(int argc, char **argv)
{
        static const struct option opts[] = {
                {"config", required_argument, NULL, 'c'},
                {"json", no_argument, NULL, 'j'},
                {"max-lag", required_argument, NULL, 'm'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *path = NULL;
        int json = 0, o, rc = 1, n;
        long long max_lag = -1;
        char errstr[1024], *end;
        cfg_t *cfg = NULL;
        kc_lag_t *l = NULL, *tl = NULL;
        tier_sum_t tiers[HB_SCHED_MAX];
        int ntiers = -1;
        const kc_lag_partition_t *parts;
        topic_sum_t *sums = NULL;
        size_t nt, over = 0;

        optind = 1;
        while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                switch (o) {
                case 'c':
                        path = optarg;
                        break;
                case 'j':
                        json = 1;
                        break;
                case 'm':
                        errno = 0;
                        max_lag = strtoll(optarg, &end, 10);
                        if (errno || end == optarg || *end || max_lag < 0) {
                                fprintf(stderr,
                                        "--max-lag: '%s' is not a number "
                                        "of messages >= 0\n",
                                        optarg);
                                return WK_EXIT_USAGE;
                        }
                        break;
                case 'h':
                        fputs(usage, stdout);
                        return 0;
                default:
                        fputs(usage, stderr);
                        return WK_EXIT_USAGE;
                }
        }
        if (!path || optind < argc) {
                fprintf(stderr, "%s%s",
                        path ? "unexpected argument\n" : "missing -c FILE\n",
                        usage);
                return WK_EXIT_USAGE;
        }
        cfg = wk_cmd_load_config(path);
        if (!cfg)
                return 1;
        l = kc_lag_new(cfg, errstr, sizeof(errstr));
        if (!l)
                goto err;
        n = kc_lag_query(l, LAG_TIMEOUT_MS, &parts, errstr, sizeof(errstr));
        if (n < 0)
                goto err;
        sums = calloc(n ? (size_t)n : 1, sizeof(*sums));
        if (!sums) {
                snprintf(errstr, sizeof(errstr), "out of memory");
                goto err;
        }
        nt = sum_topics(parts, (size_t)n, sums);
        if (cfg_delivery(cfg)->tiers.schedule.n)
                ntiers = tier_lag(cfg, &tl, tiers);
        if (json)
                print_json(cfg_kafka(cfg)->group_id, parts, (size_t)n, sums, nt,
                           tiers, ntiers);
        else
                print_text(cfg_kafka(cfg)->group_id, parts, (size_t)n, sums, nt,
                           tiers, ntiers);
        fflush(stdout);
        for (int i = 0; max_lag >= 0 && i < n; i++)
                over += parts[i].lag > max_lag;
        if (over)
                fprintf(stderr,
                        "hookbridge lag: %zu partition(s) over --max-lag "
                        "%lld\n",
                        over, max_lag);
        rc = over ? 2 : 0;
        goto out;
err:
        fprintf(stderr, "hookbridge lag: %s\n", errstr);
        rc = 1;
out:
        free(sums);
        kc_lag_destroy(tl);
        kc_lag_destroy(l);
        cfg_destroy(cfg);
        return rc;
}
