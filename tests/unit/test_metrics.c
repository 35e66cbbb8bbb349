/* Unit tests: wk_metrics (Prometheus exposition) and the admin listener. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "wk_admin.h"
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

Test(metrics, counters_gauges_and_escaping)
{
        wk_metrics_t *m = wk_metrics_new();
        char esc[64], l[128];
        char *t;

        cr_assert_eq(wk_metrics_declare(m, "hookbridge_x_total",
                                        WK_METRIC_COUNTER, "X.", NULL, 0),
                     0);
        cr_assert_eq(wk_metrics_declare(m, "hookbridge_x_total",
                                        WK_METRIC_COUNTER, "X.", NULL, 0),
                     -1);
        cr_assert_eq(wk_metrics_declare(m, "other_name", WK_METRIC_GAUGE, "",
                                        NULL, 0),
                     -1);
        wk_metrics_declare(m, "hookbridge_g", WK_METRIC_GAUGE, "G.", NULL, 0);
        snprintf(l, sizeof(l), "webhook=\"%s\"",
                 wk_metrics_escape("a\"b\\c\nd", esc, sizeof(esc)));
        wk_metrics_add(m, "hookbridge_x_total", l, 2);
        wk_metrics_add(m, "hookbridge_x_total", l, 3);
        wk_metrics_add(m, "hookbridge_undeclared", "", 1);
        wk_metrics_set(m, "hookbridge_g", "", 7.5);
        t = render(m);
        cr_assert(strstr(t, "# TYPE hookbridge_x_total counter\n"));
        cr_assert(strstr(t, "hookbridge_x_total{webhook=\"a\\\"b\\\\c\\nd\"} "
                            "5\n"),
                  "%s", t);
        cr_assert(strstr(t, "hookbridge_g 7.5\n"), "%s", t);
        cr_assert_null(strstr(t, "undeclared"));
        free(t);
        wk_metrics_clear(m, "hookbridge_g");
        t = render(m);
        cr_assert_null(strstr(t, "hookbridge_g 7.5"));
        free(t);
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
        wk_metrics_observe(m, "hookbridge_h", "w=\"a\"", 5);
        wk_metrics_observe(m, "hookbridge_h", "w=\"a\"", 50);
        t = render(m);
        cr_assert(strstr(t, "hookbridge_h_bucket{w=\"a\",le=\"0."
                            "10000000000000001\"} 1\n") ||
                          strstr(t,
                                 "hookbridge_h_bucket{w=\"a\",le=\"0.1\"} 1\n"),
                  "%s", t);
        cr_assert(strstr(t, "hookbridge_h_bucket{w=\"a\",le=\"1\"} 2\n"), "%s",
                  t);
        cr_assert(strstr(t, "hookbridge_h_bucket{w=\"a\",le=\"10\"} 3\n"));
        cr_assert(strstr(t, "hookbridge_h_bucket{w=\"a\",le=\"+Inf\"} 4\n"));
        cr_assert(strstr(t, "hookbridge_h_count{w=\"a\"} 4\n"));
        cr_assert(strstr(t, "hookbridge_h_sum{w=\"a\"} 55.55"), "%s", t);
        free(t);
        wk_metrics_destroy(m);
}

static void *bump(void *arg)
{
        for (int i = 0; i < 100000; i++)
                wk_metrics_add(arg, WK_M_CONSUMED, "", 1);
        return NULL;
}

Test(metrics, concurrent_updates_add_up_and_names_declare)
{
        wk_metrics_t *m = wk_metrics_new();
        pthread_t a, b;
        char *t;

        cr_assert_eq(wk_metrics_declare_all(m), 0);
        pthread_create(&a, NULL, bump, m);
        pthread_create(&b, NULL, bump, m);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        t = render(m);
        cr_assert(strstr(t, WK_M_CONSUMED " 200000\n"), "%s", t);
        free(t);
        wk_metrics_destroy(m);
}

Test(metrics, exposition_passes_promtool_when_installed)
{
        wk_metrics_t *m = wk_metrics_new();
        char path[] = "/tmp/hb-metrics-XXXXXX", cmd[256];
        char *t;
        FILE *f;
        int fd;

        if (system("command -v promtool >/dev/null 2>&1") != 0)
                cr_skip_test("promtool is not installed (Debian: prometheus)");
        wk_metrics_declare_all(m);
        wk_metrics_add(m, WK_M_DELIVERIES, "webhook=\"a\",outcome=\"ok\"", 3);
        wk_metrics_observe(m, WK_M_ATTEMPT_SECONDS, "webhook=\"a\"", 0.02);
        wk_metrics_observe(m, WK_M_END_TO_END, "", 0.2);
        wk_metrics_set(m, WK_M_LAG, "topic=\"e\",partition=\"0\"", 12);
        wk_metrics_set(m, WK_M_UP, "", 1);
        t = render(m);
        fd = mkstemp(path);
        f = fdopen(fd, "w");
        fputs(t, f);
        fclose(f);
        snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
        cr_assert_eq(system(cmd), 0, "promtool rejected:\n%s", t);
        unlink(path);
        free(t);
        wk_metrics_destroy(m);
}

/* --- admin listener ---------------------------------------------------- */

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
        strncat(ud, p, s * n < 4000 ? s * n : 4000);
        return s * n;
}

static long get(uint16_t port, const char *path, const char *auth, char *body)
{
        CURL *c = curl_easy_init();
        struct curl_slist *h = NULL;
        char url[128];
        long code = 0;

        body[0] = '\0';
        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROXY, "");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
        if (auth) {
                h = curl_slist_append(h, auth);
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        }
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        return code;
}

static int alive_v = 1, ready_v;

static int p_alive(void *o)
{
        (void)o;
        return alive_v;
}

static int p_ready(void *o, char *why, size_t n)
{
        (void)o;
        snprintf(why, n, "no partitions assigned");
        return ready_v;
}

static char *p_status(void *o)
{
        (void)o;
        return strdup("{\"version\":\"test\"}");
}

Test(admin, endpoints_probes_and_token)
{
        wk_metrics_t *m = wk_metrics_new();
        wk_admin_probe_t pr = {p_alive, p_ready, p_status, NULL};
        char err[256];
        static char body[8192];
        wk_admin_t *a;
        uint16_t port;

        wk_metrics_declare_all(m);
        wk_metrics_set(m, WK_M_UP, "", 1);
        a = wk_admin_start("127.0.0.1:0", NULL, m, &pr, err, sizeof(err));
        cr_assert_not_null(a, "%s", err);
        port = wk_admin_port(a);
        cr_assert_eq(get(port, "/metrics", NULL, body), 200);
        cr_assert(strstr(body, "hookbridge_up 1\n"), "%s", body);
        cr_assert_eq(get(port, "/healthz", NULL, body), 200);
        alive_v = 0;
        cr_assert_eq(get(port, "/healthz", NULL, body), 503);
        cr_assert_eq(get(port, "/readyz", NULL, body), 503);
        cr_assert(strstr(body, "no partitions assigned"));
        ready_v = 1;
        cr_assert_eq(get(port, "/readyz", NULL, body), 200);
        cr_assert_eq(get(port, "/status", NULL, body), 200);
        cr_assert_str_eq(body, "{\"version\":\"test\"}");
        cr_assert_eq(get(port, "/nope", NULL, body), 404);
        wk_admin_stop(a);

        a = wk_admin_start("127.0.0.1:0", "s3cret", m, &pr, err, sizeof(err));
        cr_assert_not_null(a, "%s", err);
        port = wk_admin_port(a);
        cr_assert_eq(get(port, "/metrics", NULL, body), 401);
        cr_assert_eq(get(port, "/metrics", "Authorization: Bearer wrong", body),
                     401);
        cr_assert_eq(
                get(port, "/metrics", "Authorization: Bearer s3cret", body),
                200);
        cr_assert_eq(get(port, "/healthz", NULL, body), 503); /* alive=0 */
        wk_admin_stop(a);
        wk_admin_stop(NULL);
        wk_metrics_destroy(m);
}

Test(admin, bad_listen_addresses_are_errors)
{
        wk_metrics_t *m = wk_metrics_new();
        wk_admin_probe_t pr = {0};
        const char *bad[] = {"nonsense", "127.0.0.1", "127.0.0.1:99999",
                             "[::1:9464", "example.com:80"};
        char err[256];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err[0] = '\0';
                cr_expect_null(
                        wk_admin_start(bad[i], NULL, m, &pr, err, sizeof(err)),
                        "%s", bad[i]);
                cr_expect(strstr(err, "admin.listen") != NULL, "%s", err);
        }
        wk_metrics_destroy(m);
}
