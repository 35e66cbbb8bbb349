/* Tests for wk_portal: the embedded page and its files under /portal/,
 * nothing else of the binary's files, the types list, ETags, and the
 * headers (CSP with api.frame_ancestors). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_types.h"
#include "wk_portal.h"

/* The repository's file \p path, read whole. */
static char *slurp(const char *path, size_t *len)
{
        char full[512];
        FILE *f;
        char *buf;
        long n;

        snprintf(full, sizeof(full), "%s/%s", HB_SOURCE_DIR, path);
        f = fopen(full, "rb");
        cr_assert(f, "%s", full);
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        rewind(f);
        buf = malloc((size_t)n + 1);
        cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        buf[n] = '\0';
        *len = (size_t)n;
        return buf;
}

static void expect_file(const char *url, const char *file, const char *type)
{
        wk_portal_answer_t a;
        size_t n;
        char *want = slurp(file, &n);

        wk_portal_answer("GET", url, NULL, &a);
        cr_assert_eq(a.status, 200, "%s", url);
        cr_assert_str_eq(a.content_type, type, "%s", url);
        cr_assert_eq(a.len, n, "%s", url);
        cr_assert(!memcmp(a.body, want, n), "%s differs from %s", url, file);
        cr_assert_eq(a.etag[0], '"');
        free(want);
}

Test(portal, serves_the_page_and_its_files)
{
        expect_file("/portal/", "portal/index.html",
                    "text/html; charset=utf-8");
        expect_file("/portal/index.html", "portal/index.html",
                    "text/html; charset=utf-8");
        expect_file("/portal/portal.js", "portal/portal.js",
                    "text/javascript; charset=utf-8");
        expect_file("/portal/api.js", "portal/api.js",
                    "text/javascript; charset=utf-8");
        expect_file("/portal/portal.css", "portal/portal.css",
                    "text/css; charset=utf-8");
}

Test(portal, the_page_has_no_inline_script_or_style)
{
        size_t n;
        char *html = slurp("portal/index.html", &n);

        cr_assert_null(strstr(html, "<style"));
        cr_assert_null(strstr(html, "style="));
        for (char *p = html; (p = strstr(p, " on")); p++) {
                size_t w = strspn(p + 3, "abcdefghijklmnopqrstuvwxyz");
                cr_assert(!(w > 0 && p[3 + w] == '='),
                          "an inline event handler: %.30s", p);
        }
        for (char *p = html; (p = strstr(p, "<script")); p++)
                cr_assert(!strncmp(p, "<script type=\"module\" src=", 26),
                          "a script without src: %.40s", p);
        cr_assert_null(strstr(html, "http://"), "nothing from elsewhere");
        cr_assert_null(strstr(html, "src=\"http"), "nothing from elsewhere");
        cr_assert_null(strstr(html, "href=\"http"), "nothing from elsewhere");
        free(html);
}

Test(portal, nothing_else_is_reachable)
{
        static const char *paths[] = {
                "/portal/../worker/openapi.json",
                "/portal/%2e%2e/worker/openapi.json",
                "/portal/worker/openapi.json",
                "/portal/.hidden",
                "/portal/nope.js",
                "/portal//index.html",
                "/portalx",
                "/v1/openapi.json",
        };
        wk_portal_answer_t a;

        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                wk_portal_answer("GET", paths[i], NULL, &a);
                cr_assert_eq(a.status, 404, "%s: %d", paths[i], a.status);
                cr_assert_null(a.body);
        }
        wk_portal_answer("POST", "/portal/", NULL, &a);
        cr_assert_eq(a.status, 405);
        wk_portal_answer("GET", "/portal", NULL, &a);
        cr_assert_eq(a.status, 301);
        cr_assert_str_eq(a.location, "/portal/");
        wk_portal_answer("HEAD", "/portal/", NULL, &a);
        cr_assert_eq(a.status, 200);
}

Test(portal, types_are_the_built_in_ones)
{
        wk_portal_answer_t a;
        char want[4096];
        size_t n = 0;

        n += (size_t)snprintf(want + n, sizeof(want) - n, "[");
        for (size_t i = 0; i < hb_type_count(); i++)
                n += (size_t)snprintf(want + n, sizeof(want) - n, "%s\"%s\"",
                                      i ? "," : "", hb_type_at(i)->type);
        snprintf(want + n, sizeof(want) - n, "]");
        wk_portal_answer("GET", "/portal/types.json", NULL, &a);
        cr_assert_eq(a.status, 200);
        cr_assert_str_eq(a.content_type, "application/json");
        cr_assert_eq(a.len, strlen(want));
        cr_assert(!memcmp(a.body, want, a.len), "%.*s", (int)a.len, a.body);
}

Test(portal, a_matching_etag_is_304)
{
        wk_portal_answer_t a, b;
        char tag[sizeof(a.etag)];

        wk_portal_answer("GET", "/portal/portal.css", NULL, &a);
        memcpy(tag, a.etag, sizeof(tag));
        wk_portal_answer("GET", "/portal/portal.css", tag, &b);
        cr_assert_eq(b.status, 304);
        cr_assert_str_eq(b.etag, tag);
        cr_assert_eq(b.len, 0);
        wk_portal_answer("GET", "/portal/portal.css", "\"0\"", &b);
        cr_assert_eq(b.status, 200);
        wk_portal_answer("GET", "/portal/portal.js", NULL, &b);
        cr_assert_str_neq(b.etag, tag, "each file its own tag");
}

Test(portal, headers_carry_the_csp_with_frame_ancestors)
{
        wk_portal_header_t h[WK_PORTAL_HEADER_MAX];
        char csp[512];
        size_t n = wk_portal_headers("https://app.example.com", csp,
                                     sizeof(csp), h);
        int have_xfo = 0;

        cr_assert_eq(n, 4);
        cr_assert_str_eq(h[0].name, "Content-Security-Policy");
        cr_assert(strstr(h[0].value, "default-src 'self'"));
        cr_assert(strstr(h[0].value, "script-src 'self';"));
        cr_assert(strstr(h[0].value, "style-src 'self';"));
        cr_assert_null(strstr(h[0].value, "unsafe"));
        cr_assert(strstr(h[0].value,
                         "; frame-ancestors https://app.example.com"));
        cr_assert_str_eq(h[1].name, "X-Content-Type-Options");
        cr_assert_str_eq(h[1].value, "nosniff");
        cr_assert_str_eq(h[2].name, "Referrer-Policy");
        cr_assert_str_eq(h[2].value, "no-referrer");
        cr_assert_str_eq(h[3].name, "Cache-Control");
        n = wk_portal_headers(NULL, csp, sizeof(csp), h);
        cr_assert_eq(n, 5);
        for (size_t i = 0; i < n; i++)
                have_xfo |= !strcmp(h[i].name, "X-Frame-Options") &&
                            !strcmp(h[i].value, "DENY");
        cr_assert(have_xfo);
        cr_assert(strstr(h[0].value, "frame-ancestors 'none'"));
        cr_assert_eq(wk_portal_headers("x", csp, 20, h), 0);
}
