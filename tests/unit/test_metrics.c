/* Unit tests: wk_metrics (Prometheus text exposition) and the metric names. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <criterion/criterion.h>

#include "wk_metrics.h"
#include "wk_metrics_names.h"

static char *render(wk_metrics_t *m)
{
        size_t len = 0;
        char *t = wk_metrics_render(m, &len);

        cr_assert_not_null(t);
        cr_assert_eq(strlen(t), len);
        return t;
}

/* The value written after "<series> " on its own line, or NULL. */
static const char *sample(const char *text, const char *series)
{
        size_t n = strlen(series);

        for (const char *p = text; p && *p; p = strchr(p, '\n')) {
                if (*p == '\n')
                        p++;
                if (!strncmp(p, series, n) && p[n] == ' ')
                        return p + n + 1;
        }
        return NULL;
}

static int has_line(const char *text, const char *line)
{
        size_t n = strlen(line);

        for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
                if ((p == text || p[-1] == '\n') && p[n] == '\n')
                        return 1;
        return 0;
}

static const char *const all_names[] = {
        WK_M_CONSUMED,
        WK_M_SKIPPED,
        WK_M_INVALID,
        WK_M_DELIVERIES,
        WK_M_ATTEMPTS,
        WK_M_ATTEMPT_SECONDS,
        WK_M_END_TO_END,
        WK_M_IN_FLIGHT_MSGS,
        WK_M_IN_FLIGHT_REQS,
        WK_M_PAUSED,
        WK_M_ASSIGNED,
        WK_M_DLQ_WRITES,
        WK_M_COMMITS,
        WK_M_REBALANCES,
        WK_M_CIRCUIT,
        WK_M_DISABLED,
        WK_M_LAG,
        WK_M_LAG_SECONDS,
        WK_M_TIER_WAITING,
        WK_M_TIER_OVERDUE,
        WK_M_UP,
        WK_M_BUILD_INFO,
};
#define N_NAMES (sizeof(all_names) / sizeof(all_names[0]))

Test(metrics, every_family_has_help_and_type_in_order)
{
        wk_metrics_t *m = wk_metrics_new();
        const char *prev = NULL;
        char line[160];
        char *t;

        t = render(m);
        cr_assert_str_eq(t, "", "an empty registry renders nothing");
        free(t);
        cr_assert_eq(wk_metrics_declare_all(m), 0);
        cr_assert_eq(wk_metrics_declare_all(m), -1, "declared twice");
        t = render(m);
        for (size_t i = 0; i < N_NAMES; i++) {
                const char *type =
                        strstr(all_names[i], "_seconds") &&
                                        strcmp(all_names[i],
                                               WK_M_LAG_SECONDS) &&
                                        strcmp(all_names[i], WK_M_TIER_OVERDUE)
                                ? "histogram"
                        : strstr(all_names[i], "_total") ? "counter"
                                                         : "gauge";
                const char *help, *typ;
                snprintf(line, sizeof(line), "# HELP %s ", all_names[i]);
                help = strstr(t, line);
                cr_assert_not_null(help, "%s", line);
                snprintf(line, sizeof(line), "# TYPE %s %s", all_names[i],
                         type);
                typ = strstr(t, line);
                cr_assert(has_line(t, line), "%s\n%s", line, t);
                cr_assert(help < typ, "HELP before TYPE for %s", all_names[i]);
                cr_assert(!prev || prev < help, "declaration order");
                prev = typ;
                cr_assert_eq(strncmp(all_names[i], "hookbridge_", 11), 0);
        }
        /* families without series have no samples */
        for (const char *p = t; *p; p = strchr(p, '\n') + 1)
                cr_assert_eq(*p, '#', "unexpected sample: %.60s", p);
        free(t);
        wk_metrics_destroy(m);
}

Test(metrics, declare_validates)
{
        wk_metrics_t *m = wk_metrics_new();
        const double up[] = {1, 2, 3}, down[] = {1, 3, 2}, dup[] = {1, 1};
        const double nan_b[] = {1, NAN}, inf_b[] = {1, INFINITY};
        double many[WK_METRICS_MAX_BUCKETS + 1];

        for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
                many[i] = (double)i;
        cr_assert_eq(wk_metrics_declare(m, "hookbridge_a_total",
                                        WK_METRIC_COUNTER, "A.", NULL, 0),
                     0);
        cr_assert_eq(wk_metrics_declare(m, "hookbridge_a_total",
                                        WK_METRIC_GAUGE, "A.", NULL, 0),
                     -1, "already declared");
        cr_assert_eq(wk_metrics_declare(m, "other_total", WK_METRIC_COUNTER, "",
                                        NULL, 0),
                     -1, "prefix");
        cr_assert_eq(wk_metrics_declare(m, "hookbridge_a-b", WK_METRIC_GAUGE,
                                        "", NULL, 0),
                     -1, "charset");
        cr_assert_eq(wk_metrics_declare(m, "hookbridge_a b", WK_METRIC_GAUGE,
                                        "", NULL, 0),
                     -1, "charset");
        cr_assert_eq(wk_metrics_declare(m, "hookbridge_h1", WK_METRIC_HISTOGRAM,
                                        "", down, 3),
                     -1, "descending bounds");
        cr_assert_eq(wk_metrics_declare(m, "hookbridge_h1", WK_METRIC_HISTOGRAM,
                                        "", dup, 2),
                     -1, "repeated bound");
        cr_assert_eq(wk_metrics_declare(m, "hookbridge_h1", WK_METRIC_HISTOGRAM,
                                        "", nan_b, 2),
                     -1, "NaN bound");
        cr_assert_eq(wk_metrics_declare(m, "hookbridge_h1", WK_METRIC_HISTOGRAM,
                                        "", inf_b, 2),
                     -1, "+Inf is implied, not declared");
        cr_assert_eq(wk_metrics_declare(m, "hookbridge_h1", WK_METRIC_HISTOGRAM,
                                        "", many, WK_METRICS_MAX_BUCKETS + 1),
                     -1, "too many bounds");
        cr_assert_eq(wk_metrics_declare(m, "hookbridge_h1", WK_METRIC_HISTOGRAM,
                                        "", NULL, 2),
                     -1, "no bounds given");
        cr_assert_eq(wk_metrics_declare(m, "hookbridge_h1", WK_METRIC_HISTOGRAM,
                                        "", up, 3),
                     0);
        cr_assert_eq(wk_metrics_declare(m, "hookbridge_h2", WK_METRIC_HISTOGRAM,
                                        NULL, NULL, 0),
                     0, "only +Inf is a valid histogram");
        cr_assert_eq(wk_metrics_declare(NULL, "hookbridge_x", WK_METRIC_GAUGE,
                                        "", NULL, 0),
                     -1);
        wk_metrics_destroy(m);
}

Test(metrics, label_values_and_help_are_escaped)
{
        wk_metrics_t *m = wk_metrics_new();
        char esc[64], l[128], small[4];
        char *t;

        cr_assert_str_eq(wk_metrics_escape("a\"b\\c\nd", esc, sizeof(esc)),
                         "a\\\"b\\\\c\\nd");
        cr_assert_str_eq(wk_metrics_escape("plain", esc, sizeof(esc)), "plain");
        /* truncation never splits an escape */
        cr_assert_str_eq(wk_metrics_escape("a\"b", small, 3), "a");
        cr_assert_str_eq(wk_metrics_escape("a\"b", small, 4), "a\\\"");
        cr_assert_str_eq(wk_metrics_escape("abcdef", small, 4), "abc");

        wk_metrics_declare(m, "hookbridge_x_total", WK_METRIC_COUNTER,
                           "Line one\\two\nthree.", NULL, 0);
        snprintf(l, sizeof(l), "webhook=\"%s\"",
                 wk_metrics_escape("a\"b\\c\nd", esc, sizeof(esc)));
        wk_metrics_add(m, "hookbridge_x_total", l, 2);
        wk_metrics_add(m, "hookbridge_x_total", l, 3);
        t = render(m);
        cr_assert(has_line(t, "# HELP hookbridge_x_total Line "
                              "one\\\\two\\nthree."),
                  "%s", t);
        cr_assert(has_line(t, "hookbridge_x_total{webhook=\"a\\\"b\\\\c\\nd\"} "
                              "5"),
                  "%s", t);
        free(t);
        wk_metrics_destroy(m);
}

Test(metrics, labels_helper)
{
        char l[64];

        cr_assert_eq(wk_metrics_labels(l, sizeof(l), "topic", "ev\"s",
                                       "partition", "3", NULL),
                     0);
        cr_assert_str_eq(l, "topic=\"ev\\\"s\",partition=\"3\"");
        cr_assert_eq(wk_metrics_labels(l, sizeof(l), NULL), 0);
        cr_assert_str_eq(l, "");
        cr_assert_eq(wk_metrics_labels(l, sizeof(l), "bad-name", "x", NULL),
                     -1);
        cr_assert_str_eq(l, "");
        cr_assert_eq(wk_metrics_labels(l, sizeof(l), "__reserved", "x", NULL),
                     -1);
        cr_assert_eq(wk_metrics_labels(l, sizeof(l), "k", NULL, NULL), -1,
                     "a name without a value");
        cr_assert_eq(wk_metrics_labels(l, 12, "webhook", "crm", NULL), -1,
                     "does not fit");
        cr_assert_str_eq(l, "");
        cr_assert_eq(wk_metrics_labels(l, 14, "webhook", "crm", NULL), 0);
        cr_assert_str_eq(l, "webhook=\"crm\"");
}

Test(metrics, numbers_are_clean)
{
        wk_metrics_t *m = wk_metrics_new();
        static const struct {
                const char *labels;
                double v;
                const char *want;
        } cases[] = {
                {"c=\"int\"", 42, "42"},
                {"c=\"big\"", 123456789012345.0, "123456789012345"},
                {"c=\"1e15\"", 1e15, "1000000000000000"},
                {"c=\"zero\"", 0, "0"},
                {"c=\"negzero\"", -0.0, "0"},
                {"c=\"neg\"", -2.5, "-2.5"},
                {"c=\"tenth\"", 0.1, "0.1"},
                {"c=\"third\"", 1.0 / 3.0, "0.3333333333333333"},
                {"c=\"small\"", 0.005, "0.005"},
                {"c=\"inf\"", INFINITY, "+Inf"},
                {"c=\"ninf\"", -INFINITY, "-Inf"},
                {"c=\"nan\"", NAN, "NaN"},
        };
        char series[64];
        char *t;

        wk_metrics_declare(m, "hookbridge_g", WK_METRIC_GAUGE, "G.", NULL, 0);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                wk_metrics_set(m, "hookbridge_g", cases[i].labels, cases[i].v);
        t = render(m);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const char *v;
                snprintf(series, sizeof(series), "hookbridge_g{%s}",
                         cases[i].labels);
                v = sample(t, series);
                cr_assert_not_null(v, "%s missing:\n%s", series, t);
                cr_assert_eq(strncmp(v, cases[i].want, strlen(cases[i].want)),
                             0, "%s: want %s, got %.24s", series, cases[i].want,
                             v);
                cr_assert_eq(v[strlen(cases[i].want)], '\n', "%s: got %.24s",
                             series, v);
        }
        free(t);
        wk_metrics_destroy(m);
}

Test(metrics, types_are_respected)
{
        wk_metrics_t *m = wk_metrics_new();
        const double b[] = {1};
        double v;

        wk_metrics_declare(m, "hookbridge_c_total", WK_METRIC_COUNTER, "", NULL,
                           0);
        wk_metrics_declare(m, "hookbridge_g", WK_METRIC_GAUGE, "", NULL, 0);
        wk_metrics_declare(m, "hookbridge_h", WK_METRIC_HISTOGRAM, "", b, 1);
        wk_metrics_add(m, "hookbridge_c_total", "", 2);
        wk_metrics_add(m, "hookbridge_c_total", "", -1); /* never goes down */
        wk_metrics_add(m, "hookbridge_c_total", "", NAN);
        wk_metrics_set(m, "hookbridge_c_total", "", 100); /* not a gauge */
        wk_metrics_observe(m, "hookbridge_c_total", "", 1);
        cr_assert_eq(wk_metrics_value(m, "hookbridge_c_total", "", &v), 0);
        cr_assert_eq(v, 2);

        wk_metrics_set(m, "hookbridge_g", "", 5);
        wk_metrics_add(m, "hookbridge_g", "", -2); /* gauges go both ways */
        wk_metrics_observe(m, "hookbridge_g", "", 100);
        cr_assert_eq(wk_metrics_value(m, "hookbridge_g", "", &v), 0);
        cr_assert_eq(v, 3);

        wk_metrics_observe(m, "hookbridge_h", "", 0.5);
        wk_metrics_observe(m, "hookbridge_h", "", NAN);
        wk_metrics_add(m, "hookbridge_h", "", 7);
        wk_metrics_set(m, "hookbridge_h", "", 7);
        cr_assert_eq(wk_metrics_value(m, "hookbridge_h", "", &v), 0);
        cr_assert_eq(v, 1, "histogram value is its count");

        wk_metrics_add(m, "hookbridge_undeclared", "", 1);
        cr_assert_eq(wk_metrics_value(m, "hookbridge_undeclared", "", &v), -1);
        cr_assert_eq(wk_metrics_value(m, "hookbridge_g", "x=\"1\"", &v), -1);

        /* NULL registry: updates are no-ops, rendering fails cleanly */
        wk_metrics_add(NULL, "hookbridge_g", "", 1);
        wk_metrics_set(NULL, "hookbridge_g", "", 1);
        wk_metrics_observe(NULL, "hookbridge_h", "", 1);
        wk_metrics_clear(NULL, "hookbridge_g");
        cr_assert_null(wk_metrics_render(NULL, NULL));
        wk_metrics_destroy(m);
        wk_metrics_destroy(NULL);
}

Test(metrics, histogram_buckets_are_cumulative)
{
        wk_metrics_t *m = wk_metrics_new();
        const double b[] = {0.1, 1, 10};
        char *t;

        wk_metrics_declare(m, "hookbridge_h", WK_METRIC_HISTOGRAM, "H.", b, 3);
        wk_metrics_observe(m, "hookbridge_h", "w=\"a\"", 0.05);
        wk_metrics_observe(m, "hookbridge_h", "w=\"a\"", 0.5);
        wk_metrics_observe(m, "hookbridge_h", "w=\"a\"", 1); /* le: <= */
        wk_metrics_observe(m, "hookbridge_h", "w=\"a\"", 5);
        wk_metrics_observe(m, "hookbridge_h", "w=\"a\"", 50);
        wk_metrics_observe(m, "hookbridge_h", "", 2);
        t = render(m);
        cr_assert(has_line(t, "# TYPE hookbridge_h histogram"), "%s", t);
        cr_assert(has_line(t, "hookbridge_h_bucket{w=\"a\",le=\"0.1\"} 1"),
                  "%s", t);
        cr_assert(has_line(t, "hookbridge_h_bucket{w=\"a\",le=\"1\"} 3"), "%s",
                  t);
        cr_assert(has_line(t, "hookbridge_h_bucket{w=\"a\",le=\"10\"} 4"), "%s",
                  t);
        cr_assert(has_line(t, "hookbridge_h_bucket{w=\"a\",le=\"+Inf\"} 5"),
                  "%s", t);
        cr_assert(has_line(t, "hookbridge_h_sum{w=\"a\"} 56.55"), "%s", t);
        cr_assert(has_line(t, "hookbridge_h_count{w=\"a\"} 5"), "%s", t);
        /* without labels: le alone, bare _sum and _count */
        cr_assert(has_line(t, "hookbridge_h_bucket{le=\"1\"} 0"), "%s", t);
        cr_assert(has_line(t, "hookbridge_h_bucket{le=\"10\"} 1"), "%s", t);
        cr_assert(has_line(t, "hookbridge_h_bucket{le=\"+Inf\"} 1"), "%s", t);
        cr_assert(has_line(t, "hookbridge_h_sum 2"), "%s", t);
        cr_assert(has_line(t, "hookbridge_h_count 1"), "%s", t);
        /* bucket lines of a series come in ascending le, +Inf last */
        cr_assert(strstr(t, "w=\"a\",le=\"0.1\"") <
                  strstr(t, "w=\"a\",le=\"1\""));
        cr_assert(strstr(t, "w=\"a\",le=\"10\"") <
                  strstr(t, "w=\"a\",le=\"+Inf\""));
        free(t);
        wk_metrics_destroy(m);
}

Test(metrics, worker_buckets_render_as_declared)
{
        wk_metrics_t *m = wk_metrics_new();
        static const char *const attempt_le[] = {
                "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                "0.5",   "1",    "2.5",   "5",    "10",  "30"};
        static const char *const e2e_le[] = {
                "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
                "2.5",  "5",     "10",   "30",  "60",   "300"};
        char line[160];
        char *t;

        wk_metrics_declare_all(m);
        wk_metrics_observe(m, WK_M_ATTEMPT_SECONDS, "webhook=\"crm\"", 0.003);
        wk_metrics_observe(m, WK_M_END_TO_END, "", 400);
        t = render(m);
        for (size_t i = 0; i < sizeof(attempt_le) / sizeof(*attempt_le); i++) {
                snprintf(line, sizeof(line),
                         WK_M_ATTEMPT_SECONDS
                         "_bucket{webhook=\"crm\",le=\"%s\"} 1",
                         attempt_le[i]);
                cr_assert(has_line(t, line), "%s\n%s", line, t);
        }
        for (size_t i = 0; i < sizeof(e2e_le) / sizeof(*e2e_le); i++) {
                snprintf(line, sizeof(line),
                         WK_M_END_TO_END "_bucket{le=\"%s\"} 0", e2e_le[i]);
                cr_assert(has_line(t, line), "%s\n%s", line, t);
        }
        cr_assert(has_line(t, WK_M_END_TO_END "_bucket{le=\"+Inf\"} 1"));
        free(t);
        wk_metrics_destroy(m);
}

Test(metrics, clear_and_mark_sweep)
{
        wk_metrics_t *m = wk_metrics_new();
        double v;
        char *t;

        wk_metrics_declare(m, "hookbridge_lag", WK_METRIC_GAUGE, "", NULL, 0);
        wk_metrics_declare(m, "hookbridge_other", WK_METRIC_GAUGE, "", NULL, 0);
        wk_metrics_set(m, "hookbridge_lag", "p=\"0\"", 10);
        wk_metrics_set(m, "hookbridge_lag", "p=\"1\"", 11);
        wk_metrics_set(m, "hookbridge_lag", "p=\"2\"", 12);
        wk_metrics_set(m, "hookbridge_other", "", 1);

        /* mark: everything still renders until the sweep */
        wk_metrics_mark(m, "hookbridge_lag");
        wk_metrics_set(m, "hookbridge_lag", "p=\"2\"", 22);
        wk_metrics_set(m, "hookbridge_lag", "p=\"3\"", 23);
        t = render(m);
        cr_assert(has_line(t, "hookbridge_lag{p=\"0\"} 10"), "%s", t);
        cr_assert(has_line(t, "hookbridge_lag{p=\"2\"} 22"), "%s", t);
        free(t);
        wk_metrics_sweep(m, "hookbridge_lag");
        t = render(m);
        cr_assert_null(strstr(t, "p=\"0\""), "%s", t);
        cr_assert_null(strstr(t, "p=\"1\""), "%s", t);
        cr_assert(has_line(t, "hookbridge_lag{p=\"2\"} 22"), "%s", t);
        cr_assert(has_line(t, "hookbridge_lag{p=\"3\"} 23"), "%s", t);
        cr_assert(strstr(t, "p=\"2\"") < strstr(t, "p=\"3\""), "order kept");
        cr_assert(has_line(t, "hookbridge_other 1"), "other family kept");
        free(t);
        /* a swept series comes back fresh when set again */
        wk_metrics_set(m, "hookbridge_lag", "p=\"0\"", 5);
        cr_assert_eq(wk_metrics_value(m, "hookbridge_lag", "p=\"0\"", &v), 0);
        cr_assert_eq(v, 5);

        wk_metrics_clear(m, "hookbridge_lag");
        t = render(m);
        cr_assert_null(strstr(t, "hookbridge_lag{"), "%s", t);
        cr_assert(has_line(t, "# TYPE hookbridge_lag gauge"), "%s", t);
        cr_assert(has_line(t, "hookbridge_other 1"), "%s", t);
        free(t);
        cr_assert_eq(wk_metrics_value(m, "hookbridge_lag", "p=\"2\"", &v), -1);
        wk_metrics_clear(m, "hookbridge_undeclared"); /* no-op */
        wk_metrics_set(m, "hookbridge_lag", "p=\"9\"", 9);
        t = render(m);
        cr_assert(has_line(t, "hookbridge_lag{p=\"9\"} 9"), "%s", t);
        free(t);
        wk_metrics_destroy(m);
}

Test(metrics, many_series_grow_the_table)
{
        enum { SERIES = 20000 };
        wk_metrics_t *m = wk_metrics_new();
        char l[64];
        double v;
        char *t;

        wk_metrics_declare(m, "hookbridge_n_total", WK_METRIC_COUNTER, "", NULL,
                           0);
        wk_metrics_declare(m, "hookbridge_g", WK_METRIC_GAUGE, "", NULL, 0);
        for (int round = 0; round < 2; round++)
                for (int i = 0; i < SERIES; i++) {
                        snprintf(l, sizeof(l), "i=\"%d\"", i);
                        wk_metrics_add(m, "hookbridge_n_total", l, i);
                        wk_metrics_set(m, "hookbridge_g", l, -i);
                }
        for (int i = 0; i < SERIES; i += 97) {
                snprintf(l, sizeof(l), "i=\"%d\"", i);
                cr_assert_eq(wk_metrics_value(m, "hookbridge_n_total", l, &v),
                             0, "%s", l);
                cr_assert_eq(v, 2.0 * i);
                cr_assert_eq(wk_metrics_value(m, "hookbridge_g", l, &v), 0);
                cr_assert_eq(v, -i);
        }
        wk_metrics_clear(m, "hookbridge_g");
        cr_assert_eq(wk_metrics_value(m, "hookbridge_g", "i=\"5\"", &v), -1);
        cr_assert_eq(wk_metrics_value(m, "hookbridge_n_total", "i=\"5\"", &v),
                     0);
        t = render(m);
        cr_assert(has_line(t, "hookbridge_n_total{i=\"19999\"} 39998"));
        free(t);
        wk_metrics_destroy(m);
}

typedef struct {
        wk_metrics_t *m;
        int id;
} worker_arg_t;

static void *bump(void *p)
{
        const worker_arg_t *a = p;
        char l[64];

        for (int i = 0; i < 100000; i++) {
                wk_metrics_add(a->m, WK_M_CONSUMED, "", 1);
                snprintf(l, sizeof(l), "webhook=\"w%d\",outcome=\"ok\"", i % 3);
                wk_metrics_add(a->m, WK_M_DELIVERIES, l, 1);
                wk_metrics_observe(a->m, WK_M_END_TO_END, "", 0.2);
                if (i % 1000 == 0) {
                        /* gauge churn under a concurrent scrape */
                        wk_metrics_mark(a->m, WK_M_LAG);
                        snprintf(l, sizeof(l), "topic=\"t\",partition=\"%d\"",
                                 a->id);
                        wk_metrics_set(a->m, WK_M_LAG, l, i);
                        wk_metrics_sweep(a->m, WK_M_LAG);
                }
        }
        return NULL;
}

static atomic_int scraping = 1;

static void *scrape(void *p)
{
        while (atomic_load(&scraping)) {
                size_t len;
                free(wk_metrics_render(p, &len));
        }
        return NULL;
}

Test(metrics, concurrent_updates_add_up)
{
        wk_metrics_t *m = wk_metrics_new();
        worker_arg_t a0 = {m, 0}, a1 = {m, 1};
        pthread_t t0, t1, r;
        double v, sum = 0;
        char l[64];
        char *t;

        cr_assert_eq(wk_metrics_declare_all(m), 0);
        pthread_create(&r, NULL, scrape, m);
        pthread_create(&t0, NULL, bump, &a0);
        pthread_create(&t1, NULL, bump, &a1);
        pthread_join(t0, NULL);
        pthread_join(t1, NULL);
        atomic_store(&scraping, 0);
        pthread_join(r, NULL);
        t = render(m);
        cr_assert(has_line(t, WK_M_CONSUMED " 200000"), "%s", t);
        cr_assert(has_line(t, WK_M_END_TO_END "_count 200000"), "%s", t);
        cr_assert(has_line(t, WK_M_END_TO_END "_bucket{le=\"0.25\"} 200000"));
        cr_assert(has_line(t, WK_M_END_TO_END "_bucket{le=\"0.1\"} 0"));
        free(t);
        for (int i = 0; i < 3; i++) {
                snprintf(l, sizeof(l), "webhook=\"w%d\",outcome=\"ok\"", i);
                cr_assert_eq(wk_metrics_value(m, WK_M_DELIVERIES, l, &v), 0);
                sum += v;
        }
        cr_assert_eq(sum, 200000);
        wk_metrics_destroy(m);
}

Test(metrics, status_class)
{
        cr_assert_str_eq(wk_metrics_status_class(0), "error");
        cr_assert_str_eq(wk_metrics_status_class(-1), "error");
        cr_assert_str_eq(wk_metrics_status_class(99), "error");
        cr_assert_str_eq(wk_metrics_status_class(100), "1xx");
        cr_assert_str_eq(wk_metrics_status_class(200), "2xx");
        cr_assert_str_eq(wk_metrics_status_class(204), "2xx");
        cr_assert_str_eq(wk_metrics_status_class(302), "3xx");
        cr_assert_str_eq(wk_metrics_status_class(410), "4xx");
        cr_assert_str_eq(wk_metrics_status_class(599), "5xx");
        cr_assert_str_eq(wk_metrics_status_class(600), "error");
}

Test(metrics, exposition_passes_promtool_when_installed)
{
        wk_metrics_t *m = wk_metrics_new();
        char l[160];
        char *t;
        FILE *p;
        int st;

        if (system("command -v promtool >/dev/null 2>&1") != 0)
                cr_skip_test("promtool is not installed (Debian: prometheus)");
        cr_assert_eq(wk_metrics_declare_all(m), 0);
        wk_metrics_add(m, WK_M_CONSUMED, "", 10);
        wk_metrics_add(m, WK_M_SKIPPED, "", 1);
        wk_metrics_add(m, WK_M_INVALID, "", 1);
        wk_metrics_labels(l, sizeof(l), "webhook", "crm \"eu\"\\1\nx",
                          "outcome", WK_M_OUTCOME_OK, NULL);
        wk_metrics_add(m, WK_M_DELIVERIES, l, 3);
        wk_metrics_labels(l, sizeof(l), "webhook", "crm", "outcome",
                          WK_M_OUTCOME_DEAD_LETTERED, NULL);
        wk_metrics_add(m, WK_M_DELIVERIES, l, 1);
        wk_metrics_labels(l, sizeof(l), "webhook", "crm", "result",
                          wk_metrics_status_class(503), NULL);
        wk_metrics_add(m, WK_M_ATTEMPTS, l, 2);
        wk_metrics_observe(m, WK_M_ATTEMPT_SECONDS, "webhook=\"crm\"", 0.02);
        wk_metrics_observe(m, WK_M_ATTEMPT_SECONDS, "webhook=\"b\"", 31);
        wk_metrics_observe(m, WK_M_END_TO_END, "", 0.2);
        wk_metrics_set(m, WK_M_IN_FLIGHT_MSGS, "", 4);
        wk_metrics_set(m, WK_M_IN_FLIGHT_REQS, "", 2);
        wk_metrics_set(m, WK_M_PAUSED, "", 0);
        wk_metrics_set(m, WK_M_ASSIGNED, "", 6);
        wk_metrics_add(m, WK_M_DLQ_WRITES, "result=\"ok\"", 1);
        wk_metrics_add(m, WK_M_COMMITS, "result=\"error\"", 1);
        wk_metrics_add(m, WK_M_REBALANCES, "", 2);
        wk_metrics_set(m, WK_M_CIRCUIT, "webhook=\"crm\"",
                       WK_M_CIRCUIT_HALF_OPEN);
        wk_metrics_set(m, WK_M_DISABLED, "webhook=\"crm\"", 0);
        wk_metrics_set(m, WK_M_LAG, "topic=\"events\",partition=\"0\"", 12);
        wk_metrics_set(m, WK_M_LAG_SECONDS, "topic=\"events\",partition=\"0\"",
                       1.5);
        wk_metrics_set(m, WK_M_UP, "", 1);
        wk_metrics_set(m, WK_M_BUILD_INFO, "version=\"0.1.0\"", 1);
        t = render(m);
        p = popen("promtool check metrics >&2", "w");
        cr_assert_not_null(p);
        fputs(t, p);
        st = pclose(p);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "promtool check metrics exited %d on:\n%s",
                  WIFEXITED(st) ? WEXITSTATUS(st) : -1, t);
        free(t);
        wk_metrics_destroy(m);
}

/* --- a scrape does not hold up the delivery thread (bug 7) ------------ */

typedef struct scrape_ctx_s {
        wk_metrics_t *m;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        int started; /* the writer has its first piece */
        int added;   /* the adder's wk_metrics_add() returned */
        int added_while_writing;
        int calls;
} scrape_ctx_t;

static void *add_during_scrape(void *p)
{
        scrape_ctx_t *c = p;

        pthread_mutex_lock(&c->mu);
        while (!c->started)
                pthread_cond_wait(&c->cv, &c->mu);
        pthread_mutex_unlock(&c->mu);
        /* the scrape is in its writer now: this must not wait for it */
        wk_metrics_add(c->m, WK_M_CONSUMED, "", 1);
        wk_metrics_set(c->m, WK_M_LAG, "topic=\"t\",partition=\"0\"", 7);
        wk_metrics_observe(c->m, WK_M_END_TO_END, "", 0.2);
        pthread_mutex_lock(&c->mu);
        c->added = 1;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        return NULL;
}

/* A writer that blocks until the adder is done: with the registry's
 * mutex held across it the adder cannot be, and the bounded wait (far
 * longer than an add takes) ends with added_while_writing 0. */
static int blocking_writer(const char *text, size_t len, void *opaque)
{
        scrape_ctx_t *c = opaque;
        struct timespec until;

        (void)text;
        (void)len;
        pthread_mutex_lock(&c->mu);
        if (c->calls++ == 0) {
                c->started = 1;
                pthread_cond_broadcast(&c->cv);
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_sec += 5;
                while (!c->added &&
                       pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
                        ;
                c->added_while_writing = c->added;
        }
        pthread_mutex_unlock(&c->mu);
        return 0;
}

Test(metrics, a_blocked_scrape_writer_does_not_stall_updates, .timeout = 30)
{
        scrape_ctx_t c = {.m = wk_metrics_new()};
        pthread_t t;
        double v;

        cr_assert_not_null(c.m);
        cr_assert_eq(wk_metrics_declare_all(c.m), 0);
        wk_metrics_add(c.m, WK_M_CONSUMED, "", 41);
        pthread_mutex_init(&c.mu, NULL);
        pthread_cond_init(&c.cv, NULL);
        cr_assert_eq(pthread_create(&t, NULL, add_during_scrape, &c), 0);
        cr_assert_eq(wk_metrics_write(c.m, blocking_writer, &c), 0);
        pthread_join(t, NULL);
        cr_expect_eq(c.added_while_writing, 1,
                     "wk_metrics_add() waited for the scrape's writer");
        cr_expect_gt(c.calls, 1); /* one call per family */
        cr_assert_eq(wk_metrics_value(c.m, WK_M_CONSUMED, "", &v), 0);
        cr_expect_eq(v, 42);
        pthread_cond_destroy(&c.cv);
        pthread_mutex_destroy(&c.mu);
        wk_metrics_destroy(c.m);
}

static int collect(const char *text, size_t len, void *opaque)
{
        FILE *f = opaque;

        return fwrite(text, 1, len, f) == len ? 0 : -1;
}

static int stop_at_once(const char *text, size_t len, void *opaque)
{
        (void)text;
        (void)len;
        ++*(int *)opaque;
        return -1;
}

Test(metrics, write_gives_what_render_gives)
{
        wk_metrics_t *m = wk_metrics_new();
        char *t, *w = NULL;
        size_t wlen = 0;
        FILE *f;
        int calls = 0;

        cr_assert_eq(wk_metrics_declare_all(m), 0);
        wk_metrics_add(m, WK_M_CONSUMED, "", 3);
        wk_metrics_observe(m, WK_M_END_TO_END, "", 0.2);
        wk_metrics_set(m, WK_M_LAG, "topic=\"t\",partition=\"1\"", 5);
        t = render(m);
        f = open_memstream(&w, &wlen);
        cr_assert_not_null(f);
        cr_assert_eq(wk_metrics_write(m, collect, f), 0);
        fclose(f);
        cr_expect_eq(wlen, strlen(t));
        cr_expect_str_eq(w, t);
        /* a writer's -1 ends the scrape */
        cr_expect_eq(wk_metrics_write(m, stop_at_once, &calls), -1);
        cr_expect_eq(calls, 1);
        cr_expect_eq(wk_metrics_write(NULL, collect, NULL), -1);
        cr_expect_eq(wk_metrics_write(m, NULL, NULL), -1);
        free(w);
        free(t);
        wk_metrics_destroy(m);
}

/* wk_metrics_write()'s pieces, as many as came and the largest. */
typedef struct pieces_s {
        FILE *f;
        int n;
        size_t max;
        int whole_lines;
} pieces_t;

static int count_piece(const char *text, size_t len, void *opaque)
{
        pieces_t *p = opaque;

        p->n++;
        if (len > p->max)
                p->max = len;
        if (len == 0 || text[len - 1] != '\n')
                p->whole_lines = 0;
        return fwrite(text, 1, len, p->f) == len ? 0 : -1;
}

/* A family of many series (a histogram per webhook, with 10,000
 * webhooks ~17 MB) comes in pieces of whole lines of ~64 KiB, not one
 * buffer of it all; together they are the document. */
Test(metrics, large_family_written_in_pieces)
{
        static const double b[] = {0.01, 0.1, 1, 10};
        wk_metrics_t *m = wk_metrics_new();
        pieces_t p = {.whole_lines = 1};
        char labels[64], *t, *w = NULL;
        size_t wlen = 0;

        cr_assert_eq(wk_metrics_declare(m, "hookbridge_big_seconds",
                                        WK_METRIC_HISTOGRAM, "many series", b,
                                        4),
                     0);
        for (int i = 0; i < 5000; i++) {
                snprintf(labels, sizeof(labels), "webhook=\"wh-%05d\"", i);
                wk_metrics_observe(m, "hookbridge_big_seconds", labels, 0.5);
        }
        t = render(m);
        cr_assert_gt(strlen(t), (size_t)4 * 64 * 1024, "%zu bytes", strlen(t));
        p.f = open_memstream(&w, &wlen);
        cr_assert_not_null(p.f);
        cr_assert_eq(wk_metrics_write(m, count_piece, &p), 0);
        fclose(p.f);
        cr_expect_str_eq(w, t);
        cr_expect_geq(p.n, 4, "%d pieces for %zu bytes", p.n, wlen);
        cr_expect_leq(p.max, (size_t)64 * 1024 + 1024, "largest %zu", p.max);
        cr_expect(p.whole_lines, "a piece ended inside a line");
        free(w);
        free(t);
        wk_metrics_destroy(m);
}

/* Gauges set by parts (several delivery loops, one registry): one series,
 * the sum (or the max) of the parts' values; a part's sweep takes only
 * its own values, and a series goes with the last part's. */
Test(metrics, gauges_set_by_parts)
{
        wk_metrics_t *m = wk_metrics_new();
        double v;
        char *t;

        cr_assert_not_null(m);
        cr_assert_eq(wk_metrics_declare(m, "hookbridge_n", WK_METRIC_GAUGE, "n",
                                        NULL, 0),
                     0);
        cr_assert_eq(wk_metrics_declare(m, "hookbridge_worst", WK_METRIC_GAUGE,
                                        "w", NULL, 0),
                     0);
        cr_assert_eq(wk_metrics_parts(m, 0), -1);
        cr_assert_eq(wk_metrics_parts(m, WK_METRICS_MAX_PARTS + 1), -1);
        cr_assert_eq(wk_metrics_parts(m, 3), 0);
        cr_assert_eq(wk_metrics_part_max(m, "hookbridge_nope"), -1);
        cr_assert_eq(wk_metrics_part_max(m, "hookbridge_worst"), 0);

        wk_metrics_set_part(m, 0, "hookbridge_n", "p=\"0\"", 2);
        wk_metrics_set_part(m, 1, "hookbridge_n", "p=\"0\"", 5);
        wk_metrics_set_part(m, 2, "hookbridge_n", "p=\"1\"", 7);
        wk_metrics_set_part(m, 3, "hookbridge_n", "p=\"1\"", 100); /* no */
        wk_metrics_set_part(m, 0, "hookbridge_worst", "", 1);
        wk_metrics_set_part(m, 1, "hookbridge_worst", "", 2);
        wk_metrics_set_part(m, 2, "hookbridge_worst", "", 0);
        cr_assert_eq(wk_metrics_value(m, "hookbridge_n", "p=\"0\"", &v), 0);
        cr_assert_eq(v, 7, "the sum");
        cr_assert_eq(wk_metrics_value(m, "hookbridge_n", "p=\"1\"", &v), 0);
        cr_assert_eq(v, 7);
        cr_assert_eq(wk_metrics_value(m, "hookbridge_worst", "", &v), 0);
        cr_assert_eq(v, 2, "the max");
        t = render(m);
        cr_assert(has_line(t, "hookbridge_n{p=\"0\"} 7"), "%s", t);
        free(t);

        /* part 1 no longer has p="0": its value goes, part 0's stays */
        wk_metrics_mark_part(m, 1, "hookbridge_n");
        wk_metrics_sweep_part(m, 1, "hookbridge_n");
        cr_assert_eq(wk_metrics_value(m, "hookbridge_n", "p=\"0\"", &v), 0);
        cr_assert_eq(v, 2);
        cr_assert_eq(wk_metrics_value(m, "hookbridge_n", "p=\"1\"", &v), 0);
        cr_assert_eq(v, 7, "another part's series untouched");
        /* a part sets again between mark and sweep: kept */
        wk_metrics_mark_part(m, 2, "hookbridge_n");
        wk_metrics_set_part(m, 2, "hookbridge_n", "p=\"1\"", 8);
        wk_metrics_sweep_part(m, 2, "hookbridge_n");
        cr_assert_eq(wk_metrics_value(m, "hookbridge_n", "p=\"1\"", &v), 0);
        cr_assert_eq(v, 8);
        /* the last part's value gone: the series goes */
        wk_metrics_mark_part(m, 2, "hookbridge_n");
        wk_metrics_sweep_part(m, 2, "hookbridge_n");
        cr_assert_eq(wk_metrics_value(m, "hookbridge_n", "p=\"1\"", &v), -1);
        wk_metrics_mark_part(m, 1, "hookbridge_worst");
        wk_metrics_sweep_part(m, 1, "hookbridge_worst");
        cr_assert_eq(wk_metrics_value(m, "hookbridge_worst", "", &v), 0);
        cr_assert_eq(v, 1, "the max of those left");
        wk_metrics_destroy(m);
}
