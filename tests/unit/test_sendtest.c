/* Unit tests: `hookbridge send-test`'s report, against a loopback receiver
 * that answers what a hostile one would, and its failure paths (through
 * link-time wrappers of wh_pool_submit and wk_mapping_add, see
 * CMakeLists.txt). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "wh_pool.h"
#include "wk_cmd.h"
#include "wk_transform.h"

/* --- fault injection: -Wl,--wrap makes send-test call these ------------ */

static int fail_submit, fail_mapping;

int __real_wh_pool_submit(wh_pool_t *p, wh_endpoint_t *ep, const char *id,
                          const char *body, size_t body_len, int forever,
                          wh_done_cb_t *cb, void *opaque);
int __wrap_wh_pool_submit(wh_pool_t *p, wh_endpoint_t *ep, const char *id,
                          const char *body, size_t body_len, int forever,
                          wh_done_cb_t *cb, void *opaque);
int __real_wk_mapping_add(wk_mapping_t *m, const char *event, const char *type,
                          char *errstr, size_t errstr_size);
int __wrap_wk_mapping_add(wk_mapping_t *m, const char *event, const char *type,
                          char *errstr, size_t errstr_size);

int __wrap_wh_pool_submit(wh_pool_t *p, wh_endpoint_t *ep, const char *id,
                          const char *body, size_t body_len, int forever,
                          wh_done_cb_t *cb, void *opaque)
{
        if (fail_submit)
                return -1; /* what an out-of-memory submit returns */
        return __real_wh_pool_submit(p, ep, id, body, body_len, forever, cb,
                                     opaque);
}

int __wrap_wk_mapping_add(wk_mapping_t *m, const char *event, const char *type,
                          char *errstr, size_t errstr_size)
{
        if (fail_mapping) {
                snprintf(errstr, errstr_size, "mapping '%s': injected failure",
                         event);
                return -1;
        }
        return __real_wk_mapping_add(m, event, type, errstr, errstr_size);
}

/* One HTTP exchange on a raw socket: read the request, send \p answer. */
typedef struct {
        int lfd;
        const char *answer;
        size_t answer_len;
} server_t;

static void *serve_one(void *opaque)
{
        server_t *s = opaque;
        char req[16384];
        size_t got = 0;
        int fd = accept(s->lfd, NULL, NULL);

        if (fd == -1)
                return NULL;
        /* the headers, then as many body bytes as Content-Length says */
        for (;;) {
                ssize_t n = read(fd, req + got, sizeof(req) - 1 - got);
                char *end, *cl;
                if (n <= 0)
                        break;
                got += (size_t)n;
                req[got] = '\0';
                end = strstr(req, "\r\n\r\n");
                if (!end)
                        continue;
                cl = strstr(req, "\r\nContent-Length:"); /* curl's case */
                if (!cl ||
                    got >= (size_t)(end + 4 - req) + strtoul(cl + 17, NULL, 10))
                        break;
        }
        if (write(fd, s->answer, s->answer_len) < 0)
                perror("write");
        close(fd);
        return NULL;
}

static uint16_t listen_loopback(int *lfd)
{
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t len = sizeof(sa);

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *lfd = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert_neq(*lfd, -1);
        cr_assert_eq(bind(*lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        cr_assert_eq(listen(*lfd, 4), 0);
        cr_assert_eq(getsockname(*lfd, (struct sockaddr *)&sa, &len), 0);
        return ntohs(sa.sin_port);
}

/* Read what \p f holds into \p out (\p size bytes), closing \p f. */
static char *slurp(FILE *f, char *out, size_t size)
{
        size_t n;

        rewind(f);
        n = fread(out, 1, size - 1, f);
        out[n] = '\0';
        fclose(f);
        return out;
}

/* Settings added to the webhook crm (tenants' tests). */
static const char *hook_extra = "";

/* Run send-test against a receiver answering \p answer (NULL: one that
 * listens but never answers; send-test must not have sent anything), with
 * \p extra appended to the configuration; its stdout, its stderr in
 * *\p errp. */
static char *send_test_ex(const char *answer, size_t answer_len,
                          const char *extra, int *rc, const char **errp)
{
        static char out[65536], err[65536];
        char cfg[] = "/tmp/hb_sendtest_XXXXXX";
        server_t s = {.answer = answer, .answer_len = answer_len};
        uint16_t port = listen_loopback(&s.lfd);
        pthread_t th;
        FILE *f, *cap, *ecap;
        int cfd, saved, esaved;

        cfd = mkstemp(cfg);
        cr_assert_neq(cfd, -1);
        f = fdopen(cfd, "w");
        fprintf(f,
                "kafka = { brokers = \"127.0.0.1:1\";\n"
                "  topics = ( { name = \"events\"; app_token = \"NX-t\"; } ); "
                "};\n"
                "delivery = { allow_networks = [ \"127.0.0.0/8\" ]; "
                "timeout_ms = 5000; };\n"
                "webhooks = ( { name = \"crm\"; url = "
                "\"http://127.0.0.1:%u/hook\"; events = [ \"*\" ]; %s } );\n"
                "%s",
                (unsigned)port, hook_extra, extra ? extra : "");
        fclose(f);
        if (answer)
                cr_assert_eq(pthread_create(&th, NULL, serve_one, &s), 0);

        char *argv[] = {"send-test", "-c", cfg, "--webhook", "crm", NULL};
        fflush(stdout);
        fflush(stderr);
        cap = tmpfile();
        ecap = tmpfile();
        saved = dup(STDOUT_FILENO);
        esaved = dup(STDERR_FILENO);
        dup2(fileno(cap), STDOUT_FILENO);
        dup2(fileno(ecap), STDERR_FILENO);
        *rc = wk_cmd_send_test(5, argv);
        fflush(stdout);
        fflush(stderr);
        dup2(saved, STDOUT_FILENO);
        dup2(esaved, STDERR_FILENO);
        close(saved);
        close(esaved);
        if (answer)
                pthread_join(th, NULL);
        close(s.lfd);
        unlink(cfg);
        if (errp)
                *errp = slurp(ecap, err, sizeof(err));
        else
                fclose(ecap);
        return slurp(cap, out, sizeof(out));
}

static char *send_test(const char *answer, size_t answer_len, int *rc)
{
        return send_test_ex(answer, answer_len, NULL, rc, NULL);
}

/* A receiver that sets the terminal's title, clears the screen and prints
 * a result of its own, with C1 controls and bytes that are not UTF-8. */
static const char hostile_body[] = "\x1b]0;pwned\x07\x1b[2J\x1b[H"
                                   "\nresult: OK\r\n\xc2\x9b"
                                   "31mred\xc2\x85"
                                   "x\xff\x00z\xe2\x80\xae"
                                   "end";

Test(sendtest, the_response_body_is_printed_escaped)
{
        char answer[512];
        const char *out, *p;
        int n, rc, results = 0;

        n = snprintf(answer, sizeof(answer),
                     "HTTP/1.1 500 Internal Server Error\r\n"
                     "Content-Type: text/plain\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     sizeof(hostile_body) - 1);
        memcpy(answer + n, hostile_body, sizeof(hostile_body) - 1);
        out = send_test(answer, (size_t)n + sizeof(hostile_body) - 1, &rc);
        cr_assert_eq(rc, 1, "%s", out);
        for (p = out; *p; p++) {
                unsigned char c = (unsigned char)*p;
                cr_assert(c >= 0x20 || c == '\n', "control 0x%02x in:\n%s", c,
                          out);
                cr_assert(c != 0x7f && c != 0xff);
                cr_assert(!(c == 0xc2 && (unsigned char)p[1] >= 0x80 &&
                            (unsigned char)p[1] <= 0x9f),
                          "C1 in:\n%s", out);
                cr_assert(!(c == 0xe2 && (unsigned char)p[1] == 0x80 &&
                            (unsigned char)p[2] == 0xae),
                          "RLO in:\n%s", out);
        }
        for (p = out; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (!strncmp(p, "result:", 7)) {
                        results++;
                        cr_assert_eq(strncmp(p, "result: FAILED\n", 15), 0,
                                     "%s", out);
                }
        cr_assert_eq(results, 1, "%s", out);
        cr_assert(strstr(out, "status: 500\n"), "%s", out);
        cr_assert(strstr(out, "response: \\u001b]0;pwned\\u0007\\u001b[2J"
                              "\\u001b[H\\nresult: OK\\r\\n\\u009b31mred"
                              "\\u0085x\\xff\\u0000z\\u202eend\n"),
                  "%s", out);
}

Test(sendtest, a_plain_body_is_printed_as_it_is)
{
        static const char body[] = "{\"ok\":true,\"n\":\"caf\xc3\xa9\\\"\"}";
        char answer[512];
        const char *out;
        int n, rc;

        n = snprintf(answer, sizeof(answer),
                     "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     strlen(body), body);
        out = send_test(answer, (size_t)n, &rc);
        cr_assert_eq(rc, 0, "%s", out);
        cr_assert(strstr(out,
                         "response: {\"ok\":true,\"n\":\"caf\xc3\xa9\\\"\"}\n"),
                  "%s", out);
        cr_assert(strstr(out, "result: OK\n"), "%s", out);
}

/* Bug 9: a delivery that cannot be queued ended send-test with status 1
 * and nothing said. */
Test(sendtest, a_failing_submit_says_why_and_exits_non_zero)
{
        const char *out, *err;
        int rc;

        fail_submit = 1;
        out = send_test_ex(NULL, 0, NULL, &rc, &err);
        cr_expect_neq(rc, 0);
        cr_expect(strstr(err, "send-test: the request could not be queued"),
                  "stderr:\n%s", err);
        cr_expect(strstr(err, "out of memory"), "stderr:\n%s", err);
        cr_expect_null(strstr(out, "result:"), "%s", out);
}

/* Bug 9: a mapping the transformer refused was skipped, and the event
 * sent as if it had been configured. */
Test(sendtest, a_refused_mapping_says_why_and_sends_nothing)
{
        const char *out, *err;
        int rc;

        fail_mapping = 1;
        out = send_test_ex(NULL, 0,
                           "mappings = ( { event = \"Trial Started\"; "
                           "type = \"trial.started\"; } );\n",
                           &rc, &err);
        cr_expect_neq(rc, 0);
        cr_expect(strstr(err, "send-test: mappings: mapping 'Trial Started': "
                              "injected failure\n"),
                  "stderr:\n%s", err);
        cr_expect_null(strstr(out, "POST "), "sent anyway:\n%s", out);
}

/* Tenants (SPEC §5): the sample is an event of the webhook's own app; an
 * operator webhook's is the demo app's. */
Test(sendtest, the_sample_is_an_event_of_the_webhooks_app)
{
        static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                                 "Connection: close\r\n\r\n";
        const char *out;
        int rc;

        hook_extra = "app_token = \"NX-own\";";
        out = send_test(ok, sizeof(ok) - 1, &rc);
        hook_extra = "";
        cr_assert_eq(rc, 0, "%s", out);
        cr_expect(strstr(out, "(webhook crm, app NX-own)\n"), "%s", out);
        cr_expect(strstr(out, "\"app_token\":\"NX-own\""), "%s", out);
        cr_expect(!strstr(out, "NX-demo0001"), "%s", out);

        out = send_test(ok, sizeof(ok) - 1, &rc);
        cr_assert_eq(rc, 0, "%s", out);
        cr_expect(strstr(out, "(webhook crm, an operator webhook)\n"), "%s",
                  out);
        cr_expect(strstr(out, "\"app_token\":\"NX-demo0001\""), "%s", out);
}
