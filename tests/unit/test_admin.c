/* Unit tests: wk_admin, the admin listener, driven with libcurl on loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "wk_admin.h"
#include "wk_metrics.h"
#include "wk_metrics_names.h"

/* One response: status, body (truncated to fit), a few headers. */
typedef struct {
        long code;
        char body[16384];
        size_t len;
        char ctype[128];
        char www_auth[128];
        char allow[64];
} resp_t;

static size_t on_body(char *p, size_t s, size_t n, void *ud)
{
        resp_t *r = ud;
        size_t k = s * n;

        if (k > sizeof(r->body) - 1 - r->len)
                k = sizeof(r->body) - 1 - r->len;
        memcpy(r->body + r->len, p, k);
        r->len += k;
        r->body[r->len] = '\0';
        return s * n;
}

/* Keep "Name: value" of a header we look at, value trimmed. */
static void keep(const char *line, size_t len, const char *name, char *out,
                 size_t out_size)
{
        size_t nl = strlen(name), vl;

        if (len <= nl + 1 || strncasecmp(line, name, nl) || line[nl] != ':')
                return;
        line += nl + 1;
        len -= nl + 1;
        while (len && *line == ' ')
                line++, len--;
        while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
                len--;
        vl = len < out_size - 1 ? len : out_size - 1;
        memcpy(out, line, vl);
        out[vl] = '\0';
}

static size_t on_header(char *p, size_t s, size_t n, void *ud)
{
        resp_t *r = ud;

        keep(p, s * n, "Content-Type", r->ctype, sizeof(r->ctype));
        keep(p, s * n, "WWW-Authenticate", r->www_auth, sizeof(r->www_auth));
        keep(p, s * n, "Allow", r->allow, sizeof(r->allow));
        return s * n;
}

/* \p method on http://HOST:PORT/PATH with optional header lines
 * (separated by '\n'). */
static long http(const char *host, uint16_t port, const char *method,
                 const char *path, const char *header, resp_t *r)
{
        CURL *c = curl_easy_init();
        struct curl_slist *h = NULL;
        char url[128];

        memset(r, 0, sizeof(*r));
        cr_assert_not_null(c);
        snprintf(url, sizeof(url), "http://%s:%u%s", host, (unsigned)port,
                 path);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
        if (!strcmp(method, "HEAD"))
                curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        else if (!strcmp(method, "POST"))
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"a\":1}");
        else if (strcmp(method, "GET") != 0)
                curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        for (const char *p = header; p && *p;) {
                char line[256];
                size_t n = strcspn(p, "\n");
                snprintf(line, sizeof(line), "%.*s", (int)n, p);
                h = curl_slist_append(h, line);
                p += n + (p[n] == '\n');
        }
        if (h)
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        return r->code;
}

static long get(uint16_t port, const char *path, const char *header, resp_t *r)
{
        return http("127.0.0.1", port, "GET", path, header, r);
}

/* The probes, as the worker would answer them. */
static int alive_v = 1, ready_v = 0;

static int p_alive(void *o)
{
        return o == &alive_v ? alive_v : 0; /* opaque passed through */
}

static int p_ready(void *o, char *why, size_t n)
{
        (void)o;
        if (!ready_v)
                snprintf(why, n, "no partitions assigned");
        return ready_v;
}

static char *p_status(void *o)
{
        (void)o;
        return strdup("{\"version\":\"test\",\"partitions\":[]}");
}

static const wk_admin_probe_t probe = {p_alive, p_ready, p_status, &alive_v};

static wk_metrics_t *metrics(void)
{
        wk_metrics_t *m = wk_metrics_new();

        cr_assert_not_null(m);
        cr_assert_eq(wk_metrics_declare_all(m), 0);
        wk_metrics_set(m, WK_M_UP, "", 1);
        wk_metrics_add(m, WK_M_DELIVERIES, "webhook=\"crm\",outcome=\"ok\"", 7);
        return m;
}

Test(admin, endpoints_without_token)
{
        wk_metrics_t *m = metrics();
        char err[256] = "";
        static resp_t r;
        wk_admin_t *a;
        uint16_t port;

        a = wk_admin_start("127.0.0.1:0", NULL, m, &probe, err, sizeof(err));
        cr_assert_not_null(a, "%s", err);
        port = wk_admin_port(a);
        cr_assert_neq(port, 0);

        cr_assert_eq(get(port, "/metrics", NULL, &r), 200);
        cr_assert_eq(strncmp(r.ctype, "text/plain; version=0.0.4", 25), 0, "%s",
                     r.ctype);
        cr_assert(strstr(r.body, "\nhookbridge_up 1\n"), "%s", r.body);
        cr_assert(strstr(r.body, "hookbridge_deliveries_total{webhook=\"crm\","
                                 "outcome=\"ok\"} 7\n"),
                  "%s", r.body);
        cr_assert(strstr(r.body, "# TYPE hookbridge_consumer_lag gauge\n"));
        /* the scrape sees live values */
        wk_metrics_add(m, WK_M_CONSUMED, "", 3);
        cr_assert_eq(get(port, "/metrics?x=1", NULL, &r), 200);
        cr_assert(strstr(r.body, "\nhookbridge_events_consumed_total 3\n"));

        cr_assert_eq(get(port, "/healthz", NULL, &r), 200);
        cr_assert_str_eq(r.body, "ok\n");
        alive_v = 0;
        cr_assert_eq(get(port, "/healthz", NULL, &r), 503);
        alive_v = 1;

        cr_assert_eq(get(port, "/readyz", NULL, &r), 503);
        cr_assert(strstr(r.body, "no partitions assigned"), "%s", r.body);
        ready_v = 1;
        cr_assert_eq(get(port, "/readyz", NULL, &r), 200);
        cr_assert_str_eq(r.body, "ready\n");

        cr_assert_eq(get(port, "/status", NULL, &r), 200);
        cr_assert_str_eq(r.ctype, "application/json");
        cr_assert_str_eq(r.body, "{\"version\":\"test\",\"partitions\":[]}");

        cr_assert_eq(get(port, "/nope", NULL, &r), 404);
        cr_assert_eq(get(port, "/", NULL, &r), 404);
        cr_assert_eq(get(port, "/metrics/", NULL, &r), 404);
        /* a token sent where none is configured is harmless */
        cr_assert_eq(get(port, "/status", "Authorization: Bearer x", &r), 200);
        wk_admin_stop(a);
        wk_metrics_destroy(m);
}

Test(admin, methods_other_than_get_are_405)
{
        wk_metrics_t *m = metrics();
        static const char *const methods[] = {"POST", "PUT", "DELETE", "PATCH",
                                              "OPTIONS"};
        char err[256] = "";
        static resp_t r;
        wk_admin_t *a;
        uint16_t port;

        a = wk_admin_start("127.0.0.1:0", NULL, m, &probe, err, sizeof(err));
        cr_assert_not_null(a, "%s", err);
        port = wk_admin_port(a);
        for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
                cr_assert_eq(http("127.0.0.1", port, methods[i], "/metrics",
                                  NULL, &r),
                             405, "%s", methods[i]);
                cr_assert_str_eq(r.allow, "GET, HEAD", "%s", methods[i]);
                cr_assert_eq(http("127.0.0.1", port, methods[i], "/healthz",
                                  NULL, &r),
                             405, "%s", methods[i]);
        }
        /* HEAD is GET without the body */
        cr_assert_eq(http("127.0.0.1", port, "HEAD", "/metrics", NULL, &r),
                     200);
        cr_assert_eq(r.len, 0);
        cr_assert_eq(strncmp(r.ctype, "text/plain; version=0.0.4", 25), 0);
        /* still serving after the refused ones */
        cr_assert_eq(get(port, "/healthz", NULL, &r), 200);
        wk_admin_stop(a);
        wk_metrics_destroy(m);
}

Test(admin, bearer_token)
{
        wk_metrics_t *m = metrics();
        static const char *const guarded[] = {"/metrics", "/readyz", "/status",
                                              "/nope"};
        static const char *const wrong[] = {
                "Authorization: Bearer wrong",
                "Authorization: Bearer s3cre",
                "Authorization: Bearer s3cret-and-more",
                "Authorization: Bearer ",
                "Authorization: Basic czNjcmV0",
                "Authorization: s3cret",
                "X-Token: s3cret",
        };
        char err[256] = "";
        static resp_t r;
        wk_admin_t *a;
        uint16_t port;

        ready_v = 1;
        a = wk_admin_start("127.0.0.1:0", "s3cret", m, &probe, err,
                           sizeof(err));
        cr_assert_not_null(a, "%s", err);
        port = wk_admin_port(a);
        for (size_t i = 0; i < sizeof(guarded) / sizeof(guarded[0]); i++) {
                cr_assert_eq(get(port, guarded[i], NULL, &r), 401, "%s",
                             guarded[i]);
                cr_assert_eq(strncmp(r.www_auth, "Bearer", 6), 0, "%s: '%s'",
                             guarded[i], r.www_auth);
                cr_assert_null(strstr(r.body, "hookbridge_"), "no leak");
                for (size_t j = 0; j < sizeof(wrong) / sizeof(wrong[0]); j++)
                        cr_assert_eq(get(port, guarded[i], wrong[j], &r), 401,
                                     "%s with %s", guarded[i], wrong[j]);
        }
        cr_assert_eq(get(port, "/metrics", "Authorization: Bearer s3cret", &r),
                     200);
        cr_assert(strstr(r.body, "hookbridge_up 1"), "%s", r.body);
        cr_assert_eq(get(port, "/readyz", "Authorization: Bearer s3cret", &r),
                     200);
        cr_assert_eq(get(port, "/status", "Authorization: Bearer s3cret", &r),
                     200);
        cr_assert_eq(get(port, "/nope", "Authorization: Bearer s3cret", &r),
                     404);
        /* the scheme is case-insensitive (RFC 6750 / 9110) */
        cr_assert_eq(get(port, "/metrics", "Authorization: bearer s3cret", &r),
                     200);
        /* liveness needs no token, and says the truth */
        cr_assert_eq(get(port, "/healthz", NULL, &r), 200);
        alive_v = 0;
        cr_assert_eq(get(port, "/healthz", NULL, &r), 503);
        wk_admin_stop(a);

        /* an empty token means none */
        a = wk_admin_start("127.0.0.1:0", "", m, &probe, err, sizeof(err));
        cr_assert_not_null(a, "%s", err);
        cr_assert_eq(get(wk_admin_port(a), "/metrics", NULL, &r), 200);
        wk_admin_stop(a);
        wk_metrics_destroy(m);
}

Test(admin, null_probe_means_alive_ready_and_empty_status)
{
        wk_metrics_t *m = metrics();
        wk_admin_probe_t none = {0};
        char err[256] = "";
        static resp_t r;
        wk_admin_t *a;

        a = wk_admin_start("localhost:0", NULL, m, NULL, err, sizeof(err));
        cr_assert_not_null(a, "%s", err);
        cr_assert_eq(get(wk_admin_port(a), "/healthz", NULL, &r), 200);
        cr_assert_eq(get(wk_admin_port(a), "/readyz", NULL, &r), 200);
        cr_assert_eq(get(wk_admin_port(a), "/status", NULL, &r), 200);
        cr_assert_str_eq(r.body, "{}");
        wk_admin_stop(a);
        a = wk_admin_start("127.0.0.1:0", NULL, m, &none, err, sizeof(err));
        cr_assert_not_null(a, "%s", err);
        cr_assert_eq(get(wk_admin_port(a), "/readyz", NULL, &r), 200);
        wk_admin_stop(a);
        wk_admin_stop(NULL);
        cr_assert_eq(wk_admin_port(NULL), 0);
        wk_metrics_destroy(m);
}

Test(admin, bad_listen_strings_are_errors)
{
        wk_metrics_t *m = metrics();
        static const char *const bad[] = {
                "",
                "nonsense",
                "127.0.0.1",
                "127.0.0.1:",
                ":9464",
                "127.0.0.1:99999",
                "127.0.0.1:65536",
                "127.0.0.1:-1",
                "127.0.0.1:+80",
                "127.0.0.1: 80",
                "127.0.0.1:80x",
                "127.0.0.1:0x50",
                "127.0.0.1:000009464",
                "256.0.0.1:9464",
                "example.com:80",
                "::1:9464",
                "[::1:9464",
                "[::1]9464",
                "[::1]:",
                "[]:9464",
                "[127.0.0.1]:9464",
                "[fe80::1%lo]:9464",
        };
        char err[256];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err[0] = '\0';
                cr_expect_null(wk_admin_start(bad[i], NULL, m, &probe, err,
                                              sizeof(err)),
                               "'%s' accepted", bad[i]);
                cr_expect(strstr(err, "admin.listen") != NULL, "'%s': %s",
                          bad[i], err);
                cr_expect(strstr(err, bad[i]) != NULL, "'%s' not named: %s",
                          bad[i], err);
        }
        err[0] = '\0';
        cr_expect_null(wk_admin_start(NULL, NULL, m, &probe, err, sizeof(err)));
        cr_expect(strstr(err, "admin.listen") != NULL, "%s", err);
        wk_metrics_destroy(m);
}

Test(admin, bind_failure_is_an_error)
{
        wk_metrics_t *m = metrics();
        char err[256] = "", listen[64];
        wk_admin_t *a, *b;

        a = wk_admin_start("127.0.0.1:0", NULL, m, &probe, err, sizeof(err));
        cr_assert_not_null(a, "%s", err);
        snprintf(listen, sizeof(listen), "127.0.0.1:%u",
                 (unsigned)wk_admin_port(a));
        err[0] = '\0';
        b = wk_admin_start(listen, NULL, m, &probe, err, sizeof(err));
        cr_assert_null(b, "two listeners on %s", listen);
        cr_assert(strstr(err, "admin.listen: cannot listen on") != NULL, "%s",
                  err);
        cr_assert(strstr(err, listen) != NULL, "%s", err);
        wk_admin_stop(a);
        /* an address this host does not have */
        err[0] = '\0';
        cr_assert_null(wk_admin_start("192.0.2.1:0", NULL, m, &probe, err,
                                      sizeof(err)));
        cr_assert(strstr(err, "cannot listen on 192.0.2.1:0") != NULL, "%s",
                  err);
        wk_metrics_destroy(m);
}

static int have_ipv6_loopback(void)
{
        struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
        int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;

        if (fd == -1)
                return 0;
        sa.sin6_addr = in6addr_loopback;
        ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        close(fd);
        return ok;
}

Test(admin, ipv6_loopback)
{
        wk_metrics_t *m;
        char err[256] = "";
        static resp_t r;
        wk_admin_t *a;

        if (!have_ipv6_loopback())
                cr_skip_test("no IPv6 loopback here");
        m = metrics();
        a = wk_admin_start("[::1]:0", NULL, m, &probe, err, sizeof(err));
        cr_assert_not_null(a, "%s", err);
        cr_assert_eq(
                http("[::1]", wk_admin_port(a), "GET", "/metrics", NULL, &r),
                200);
        cr_assert(strstr(r.body, "hookbridge_up 1"), "%s", r.body);
        wk_admin_stop(a);
        wk_metrics_destroy(m);
}

/* --- Host: DNS rebinding ------------------------------------------------ */

/* Without a token, only a Host naming loopback or the listener is
 * answered: a page whose name was rebound to 127.0.0.1 sends its own. */
Test(admin, without_a_token_only_a_host_naming_loopback_is_answered)
{
        static const char *const good[] = {
                "localhost:%u",  "LocalHost",
                "localhost.:%u", "127.0.0.1",
                "127.9.8.7:%u",  "[::1]:%u",
                "[::1]",         "[::ffff:127.0.0.1]:%u"};
        static const char *const bad[] = {"evil.example:%u",
                                          "attacker.test",
                                          "127.0.0.1.nip.io:%u",
                                          "localhost.evil.example:%u",
                                          "10.0.0.1:%u",
                                          "[::2]:%u",
                                          "[fe80::1]",
                                          "127.0.0.1:%u:1",
                                          "127.0.0.1:x",
                                          "[::1]x",
                                          "127.1:%u",
                                          "0x7f.0.0.1:%u",
                                          "2130706433:%u",
                                          "0.0.0.0:%u"};
        static const char *const paths[] = {"/metrics", "/readyz", "/status",
                                            "/nope"};
        wk_metrics_t *m = metrics();
        char err[256] = "", hdr[128], host[64];
        static resp_t r;
        wk_admin_t *a;
        uint16_t port;

        a = wk_admin_start("127.0.0.1:0", NULL, m, &probe, err, sizeof(err));
        cr_assert_not_null(a, "%s", err);
        port = wk_admin_port(a);
        for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
                snprintf(host, sizeof(host), good[i], (unsigned)port);
                snprintf(hdr, sizeof(hdr), "Host: %s", host);
                cr_expect_eq(get(port, "/status", hdr, &r), 200, "%s", host);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                snprintf(host, sizeof(host), bad[i], (unsigned)port);
                snprintf(hdr, sizeof(hdr), "Host: %s", host);
                for (size_t j = 0; j < sizeof(paths) / sizeof(*paths); j++) {
                        cr_expect_eq(get(port, paths[j], hdr, &r), 421, "%s %s",
                                     host, paths[j]);
                        cr_expect(strstr(r.body, "misdirected request: the "
                                                 "Host header does not name "
                                                 "this listener"),
                                  "%s", r.body);
                        cr_expect(!strstr(r.body, host), "%s", r.body);
                }
                /* liveness stays open to anyone */
                cr_expect_eq(get(port, "/healthz", hdr, &r), 200, "%s", host);
        }
        wk_admin_stop(a);
        wk_metrics_destroy(m);
}

/* With a token, the token decides, whatever the Host. */
Test(admin, with_a_token_any_host_is_answered)
{
        wk_metrics_t *m = metrics();
        char err[256] = "";
        static resp_t r;
        wk_admin_t *a;
        uint16_t port;

        a = wk_admin_start("127.0.0.1:0", "s3cret", m, &probe, err,
                           sizeof(err));
        cr_assert_not_null(a, "%s", err);
        port = wk_admin_port(a);
        cr_expect_eq(get(port, "/status",
                         "Host: evil.example\nAuthorization: Bearer s3cret",
                         &r),
                     200);
        cr_expect_eq(get(port, "/status", "Host: evil.example", &r), 401);
        wk_admin_stop(a);
        wk_metrics_destroy(m);
}

/* An HTTP/1.0 request without Host: not a browser's. */
Test(admin, an_http10_request_without_host_is_answered)
{
        static const char req[] = "GET /status HTTP/1.0\r\n\r\n";
        wk_metrics_t *m = metrics();
        struct sockaddr_in to = {.sin_family = AF_INET};
        char err[256] = "", buf[256];
        wk_admin_t *a;
        ssize_t n;
        int fd;

        a = wk_admin_start("127.0.0.1:0", NULL, m, &probe, err, sizeof(err));
        cr_assert_not_null(a, "%s", err);
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to.sin_port = htons(wk_admin_port(a));
        fd = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert_neq(fd, -1);
        cr_assert_eq(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
        cr_assert_eq(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL),
                     (ssize_t)sizeof(req) - 1);
        n = recv(fd, buf, sizeof(buf) - 1, MSG_WAITALL);
        buf[n > 0 ? n : 0] = '\0';
        cr_expect(!strncmp(buf, "HTTP/1.0 200", 12) ||
                          !strncmp(buf, "HTTP/1.1 200", 12),
                  "%s", buf);
        close(fd);
        wk_admin_stop(a);
        wk_metrics_destroy(m);
}

/* A wildcard listener also answers a Host naming the address the
 * connection came in on (a scraper or probe using the pod's address). */
Test(admin, a_wildcard_listener_answers_its_own_address)
{
        struct ifaddrs *ifs = NULL;
        char ip[INET_ADDRSTRLEN] = "", err[256] = "", hdr[128];
        wk_metrics_t *m;
        static resp_t r;
        wk_admin_t *a;
        uint16_t port;

        if (getifaddrs(&ifs) == 0) {
                for (struct ifaddrs *i = ifs; i && !ip[0]; i = i->ifa_next) {
                        const struct sockaddr_in *sa =
                                (const struct sockaddr_in *)i->ifa_addr;
                        if (sa && sa->sin_family == AF_INET &&
                            (ntohl(sa->sin_addr.s_addr) >> 24) != 127)
                                inet_ntop(AF_INET, &sa->sin_addr, ip,
                                          sizeof(ip));
                }
                freeifaddrs(ifs);
        }
        if (!ip[0])
                cr_skip_test("no IPv4 address beyond loopback here");
        m = metrics();
        a = wk_admin_start("0.0.0.0:0", NULL, m, &probe, err, sizeof(err));
        cr_assert_not_null(a, "%s", err);
        port = wk_admin_port(a);
        cr_expect_eq(http(ip, port, "GET", "/status", NULL, &r), 200, "%s", ip);
        cr_expect_eq(get(port, "/status", NULL, &r), 200);
        snprintf(hdr, sizeof(hdr), "Host: %s:%u", ip, (unsigned)port);
        cr_expect_eq(get(port, "/status", hdr, &r), 421,
                     "%s named over loopback", ip);
        cr_expect_eq(http(ip, port, "GET", "/status", "Host: evil.example", &r),
                     421);
        wk_admin_stop(a);
        wk_metrics_destroy(m);
}

/* --- slow clients --------------------------------------------------------- */

#define SLOW_MAX 256

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A connection to 127.0.0.1:\p port from 127.0.0.\p src, the start of a
 * request sent; -1 on failure. */
static int slow_connect(uint16_t port, int src)
{
        static const char start[] = "GET /status HTTP/1.1\r\n"
                                    "Host: 127.0.0.1\r\nX-Slow: ";
        struct sockaddr_in from = {.sin_family = AF_INET};
        struct sockaddr_in to = {.sin_family = AF_INET};
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        if (fd == -1)
                return -1;
        from.sin_addr.s_addr = htonl(0x7f000000u | (unsigned)src);
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to.sin_port = htons(port);
        if (bind(fd, (struct sockaddr *)&from, sizeof(from)) == -1 ||
            connect(fd, (struct sockaddr *)&to, sizeof(to)) == -1 ||
            send(fd, start, sizeof(start) - 1, MSG_NOSIGNAL) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* 1 while \p fd is open (no EOF, no reset), without blocking. */
static int still_open(int fd)
{
        char c;
        ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* n connections spread over source addresses 127.0.0.first..first+nsrc-1,
 * each dribbling one header byte every every_ms (never finishing the
 * request), reopened as soon as the listener closes one. */
typedef struct {
        uint16_t port;
        int n, first, nsrc, every_ms;
        atomic_int stop;
        int fd[SLOW_MAX];
        int64_t opened[SLOW_MAX];
        atomic_int max_kept;  /* most open for over a second at once */
        atomic_long reopened; /* connections the listener closed */
} slow_t;

static void *slow_main(void *opaque)
{
        slow_t *s = opaque;

        for (int i = 0; i < s->n; i++)
                s->fd[i] = -1;
        while (!atomic_load(&s->stop)) {
                int64_t now = now_ms();
                int kept = 0;
                for (int i = 0; i < s->n; i++) {
                        if (s->fd[i] != -1 &&
                            (!still_open(s->fd[i]) ||
                             send(s->fd[i], "a", 1,
                                  MSG_NOSIGNAL | MSG_DONTWAIT) < 0)) {
                                close(s->fd[i]);
                                s->fd[i] = -1;
                                atomic_fetch_add(&s->reopened, 1);
                        }
                        if (s->fd[i] == -1) {
                                s->fd[i] = slow_connect(s->port,
                                                        s->first + i % s->nsrc);
                                s->opened[i] = now;
                        } else if (now - s->opened[i] > 1000) {
                                kept++;
                        }
                }
                if (kept > atomic_load(&s->max_kept))
                        atomic_store(&s->max_kept, kept);
                usleep((useconds_t)s->every_ms * 1000);
        }
        for (int i = 0; i < s->n; i++)
                if (s->fd[i] != -1)
                        close(s->fd[i]);
        return NULL;
}

/* GET /healthz from 127.0.0.\p src: the status, the time taken. */
static long probe_from(uint16_t port, const char *src, long *ms)
{
        CURL *c = curl_easy_init();
        static resp_t r;
        char url[64];
        int64_t t0 = now_ms();

        memset(&r, 0, sizeof(r));
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz",
                 (unsigned)port);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(c, CURLOPT_INTERFACE, src);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
        curl_easy_cleanup(c);
        *ms = (long)(now_ms() - t0);
        return r.code;
}

/* 200 slow connections from \p nsrc addresses; /healthz from another
 * address answers every time within 1 s. */
static void healthz_under_slow_clients(int nsrc, int max_kept)
{
        wk_metrics_t *m = metrics();
        static slow_t s;
        char err[256] = "";
        pthread_t th;
        wk_admin_t *a;
        long worst = 0, ms;

        alive_v = 1;
        a = wk_admin_start("127.0.0.1:0", NULL, m, &probe, err, sizeof(err));
        cr_assert_not_null(a, "%s", err);
        memset(&s, 0, sizeof(s));
        s.port = wk_admin_port(a);
        s.n = 200;
        s.first = 10;
        s.nsrc = nsrc;
        s.every_ms = 200;
        cr_assert_eq(pthread_create(&th, NULL, slow_main, &s), 0);
        usleep(1500 * 1000); /* all 200 tried, the kept ones settled */
        for (int i = 0; i < 12; i++) {
                long code = probe_from(s.port, "127.0.0.2", &ms);
                cr_expect_eq(code, 200, "probe %d: %ld after %ld ms", i, code,
                             ms);
                if (ms > worst)
                        worst = ms;
                usleep(250 * 1000);
        }
        atomic_store(&s.stop, 1);
        pthread_join(th, NULL);
        cr_log_info("%d addresses: slowest /healthz %ld ms, %d slow "
                    "connections kept at most, %ld closed by the listener",
                    nsrc, worst, atomic_load(&s.max_kept),
                    atomic_load(&s.reopened));
        cr_expect_lt(worst, 1000, "slowest /healthz: %ld ms", worst);
        cr_expect_leq(atomic_load(&s.max_kept), max_kept);
        wk_admin_stop(a);
        wk_metrics_destroy(m);
}

Test(admin, healthz_answers_under_200_slow_connections_from_one_address)
{
        healthz_under_slow_clients(1, 8);
}

Test(admin, healthz_answers_under_200_slow_connections_from_25_addresses)
{
        healthz_under_slow_clients(25, 64);
}

/* A request half sent from an address of its own is not the one closed
 * to make room for the slow comers, however many arrive meanwhile: the
 * closed ones are taken from the addresses holding the most. */
Test(admin, a_half_sent_request_from_another_address_survives_the_churn)
{
        wk_metrics_t *m = metrics();
        static slow_t s;
        char err[256] = "", buf[512];
        pthread_t th;
        wk_admin_t *a;
        ssize_t n;
        int fd;

        a = wk_admin_start("127.0.0.1:0", NULL, m, &probe, err, sizeof(err));
        cr_assert_not_null(a, "%s", err);
        memset(&s, 0, sizeof(s));
        s.port = wk_admin_port(a);
        s.n = 200;
        s.first = 10;
        s.nsrc = 25;
        s.every_ms = 100;
        fd = slow_connect(s.port, 2);
        cr_assert_neq(fd, -1);
        cr_assert_eq(pthread_create(&th, NULL, slow_main, &s), 0);
        /* some hundred connections opened and closed, however slowly */
        for (int64_t t0 = now_ms();
             atomic_load(&s.reopened) <= 200 && now_ms() - t0 < 30000;)
                usleep(100 * 1000);
        cr_expect(still_open(fd), "the half-sent request was closed");
        n = send(fd, "a\r\n\r\n", 5, MSG_NOSIGNAL);
        cr_expect_eq(n, 5);
        {
                struct timeval tv = {.tv_sec = 3};
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        }
        n = recv(fd, buf, sizeof(buf) - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        atomic_store(&s.stop, 1);
        pthread_join(th, NULL);
        cr_log_info("%ld connections closed by the listener meanwhile",
                    atomic_load(&s.reopened));
        cr_expect_gt(atomic_load(&s.reopened), 200);
        cr_expect(!strncmp(buf, "HTTP/1.1 200", 12), "answer: '%.40s'", buf);
        close(fd);
        wk_admin_stop(a);
        wk_metrics_destroy(m);
}

/* One byte every 500 ms keeps the idle timeout from ever firing: the whole
 * request is still bounded. */
Test(admin, a_dribbled_request_is_closed_after_its_time, .timeout = 60)
{
        wk_metrics_t *m = metrics();
        char err[256] = "";
        wk_admin_t *a;
        int64_t t0;
        int fd;

        a = wk_admin_start("127.0.0.1:0", NULL, m, &probe, err, sizeof(err));
        cr_assert_not_null(a, "%s", err);
        fd = slow_connect(wk_admin_port(a), 1);
        cr_assert_neq(fd, -1);
        t0 = now_ms();
        while (still_open(fd) && now_ms() - t0 < 14000) {
                send(fd, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                usleep(500 * 1000);
        }
        cr_log_info("dribbled request closed after %lld ms",
                    (long long)(now_ms() - t0));
        cr_expect_lt(now_ms() - t0, 12000, "still open after %lld ms",
                     (long long)(now_ms() - t0));
        cr_expect_geq(now_ms() - t0, 9000);
        close(fd);
        wk_admin_stop(a);
        wk_metrics_destroy(m);
}
