/* fuzz_url: the transformer's URL handling (internal to wk_transform.c),
 * reached through events whose context.page.url is the fuzz input; then
 * the SSRF guard's CIDR parsing (wh_guard_new) on the same bytes, one
 * CIDR per line. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_util.h"
#include "wh_guard.h"
#include "wk_transform.h"

/* CIDRs read from one input, at most. */
#define FZ_MAX_CIDRS 8

static wk_mapping_t *fz_map;

static const char fz_head[] =
        "{\"type\":\"track\",\"event\":\"Flow Completed\",\"userId\":\"u1\","
        "\"properties\":{\"flow_id\":1},\"context\":{\"app_token\":\"NX-1\","
        "\"page\":{\"path\":\"/from-path?q\",\"url\":\"";
static const char fz_tail[] = "\"}}}";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        fz_map = wk_mapping_new();
        if (!fz_map)
                fz_fail("out of memory (mapping)");
        return 0;
}

/* @returns 1 when \p needle[0, n) occurs in \p hay[0, hn). */
static int fz_contains(const char *hay, size_t hn, const char *needle, size_t n)
{
        if (!n)
                return 1;
        for (size_t i = 0; i + n <= hn; i++) {
                if (!memcmp(hay + i, needle, n))
                        return 1;
        }
        return 0;
}

static void fz_url(const uint8_t *data, size_t size)
{
        wk_msgmeta_t meta = {.topic = "events", .timestamp_ms = 0};
        size_t hl = sizeof(fz_head) - 1, tl = sizeof(fz_tail) - 1;
        char *raw = malloc(hl + 6 * size + tl);
        char *lower;
        char reason[256];
        wk_event_t *ev = NULL;
        json_object *root, *d, *host, *path, *in, *v;
        const char *h, *p, *url;
        size_t n, hn, pn, un;
        char *body;

        if (!raw)
                fz_fail("out of memory");
        memcpy(raw, fz_head, hl);
        n = hl + fz_json_escape(raw + hl, (const char *)data, size);
        memcpy(raw + n, fz_tail, tl);
        n += tl;
        /* Everything but the URL is a valid event: it must map. */
        /* The url as the transformer sees it (invalid bytes are U+00XX). */
        in = fz_json_strict(raw, n);
        FZ_CHECK(in && json_object_object_get_ex(in, "context", &v) &&
                         json_object_object_get_ex(v, "page", &v) &&
                         json_object_object_get_ex(v, "url", &v),
                 "the harness built an invalid event");
        url = json_object_get_string(v);
        un = (size_t)json_object_get_string_len(v);
        lower = malloc(un + 1);
        if (!lower)
                fz_fail("out of memory");
        FZ_CHECK(wk_event_parse(fz_map, raw, n, &meta, &ev, reason,
                                sizeof(reason)) == WK_XF_OK,
                 "event with a fuzzed url rejected: %s", reason);
        body = wk_event_render(ev, NULL, 0, NULL, 0, &n);
        FZ_CHECK(body, "render returned NULL");
        root = fz_json_strict(body, n);
        FZ_CHECK(root, "payload is not strict JSON: %s", body);
        FZ_CHECK(json_object_object_get_ex(root, "data", &d) &&
                         json_object_object_get_ex(d, "hostname", &host) &&
                         json_object_object_get_ex(d, "pathname", &path),
                 "payload without hostname/pathname");
        h = json_object_get_string(host);
        hn = (size_t)json_object_get_string_len(host);
        p = json_object_get_string(path);
        pn = (size_t)json_object_get_string_len(path);
        FZ_CHECK(pn >= 1 && p[0] == '/', "pathname does not start with '/'");
        FZ_CHECK(!memchr(p, '?', pn) && !memchr(p, '#', pn),
                 "pathname keeps a query or fragment");
        FZ_CHECK(!memchr(h, '/', hn) && !memchr(h, '?', hn) &&
                         !memchr(h, '#', hn) && !memchr(h, '@', hn),
                 "hostname holds / ? # or @");
        for (size_t i = 0; i < hn; i++)
                FZ_CHECK(!(h[i] >= 'A' && h[i] <= 'Z'),
                         "hostname is not lower-cased");
        /* Both come from the URL (as lower-cased for the host), or the
         * pathname from context.page.path when the URL was unusable. */
        for (size_t i = 0; i < un; i++) {
                char c = url[i];
                lower[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
        }
        FZ_CHECK(fz_contains(lower, un, h, hn),
                 "hostname is not part of the url");
        FZ_CHECK(pn == 1 || fz_contains(url, un, p, pn) ||
                         (pn == 10 && !memcmp(p, "/from-path", 10)),
                 "pathname is neither from the url nor the path");
        if (hn)
                FZ_CHECK(pn == 1 || fz_contains(url, un, p, pn),
                         "host from the url but the path from elsewhere");
        json_object_put(root);
        json_object_put(in);
        free(body);
        wk_event_destroy(ev);
        free(lower);
        free(raw);
}

/* The guard on a few addresses, to exercise the prefixes it built. */
static void fz_guard_probe(const wh_guard_t *g)
{
        static const char *const v4[] = {"127.0.0.1", "10.1.2.3", "8.8.8.8",
                                         "0.0.0.0", "255.255.255.255"};
        static const char *const v6[] = {"::1", "::ffff:127.0.0.1",
                                         "2001:4860::8888", "fe80::1",
                                         "64:ff9b::a00:1"};
        char why[256];

        for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
                struct sockaddr_in s4 = {.sin_family = AF_INET};
                inet_pton(AF_INET, v4[i], &s4.sin_addr);
                if (wh_guard_check(g, (const struct sockaddr *)&s4, sizeof(s4),
                                   why, sizeof(why)) < 0)
                        FZ_CHECK(strnlen(why, sizeof(why)) < sizeof(why),
                                 "unterminated reason");
        }
        for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
                struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
                inet_pton(AF_INET6, v6[i], &s6.sin6_addr);
                if (wh_guard_check(g, (const struct sockaddr *)&s6, sizeof(s6),
                                   why, sizeof(why)) < 0)
                        FZ_CHECK(strnlen(why, sizeof(why)) < sizeof(why),
                                 "unterminated reason");
        }
}

static void fz_cidrs(const uint8_t *data, size_t size)
{
        char *text = fz_cstr(data, size);
        const char *list[FZ_MAX_CIDRS];
        size_t count = 0;
        char err[256];
        wh_guard_t *g;

        for (char *p = text; p && count < FZ_MAX_CIDRS;) {
                char *nl = strchr(p, '\n');
                if (nl)
                        *nl = '\0';
                list[count++] = p;
                p = nl ? nl + 1 : NULL;
        }
        memset(err, 'x', sizeof(err));
        g = wh_guard_new(list, count, err, sizeof(err));
        if (g)
                fz_guard_probe(g);
        else
                FZ_CHECK(strnlen(err, sizeof(err)) < sizeof(err),
                         "unterminated error");
        wh_guard_destroy(g);
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        fz_url(data, size);
        fz_cidrs(data, size);
        return 0;
}
