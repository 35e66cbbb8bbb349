/* Tests for wk_embed: the files hb_embed() compiles into the binary are
 * there byte for byte, found by their repository path, with a content
 * type from their extension. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wk_embed.h"

static char *slurp(const char *rel, size_t *len)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", HB_SOURCE_DIR, rel);
        FILE *f = fopen(path, "rb");
        cr_assert(f, "%s", path);
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *buf = malloc((size_t)n + 1);
        cr_assert(buf);
        cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        *len = (size_t)n;
        return buf;
}

Test(embed, every_embedded_file_is_the_repository_file_byte_for_byte)
{
        cr_assert_gt(wk_embed_count, 0);
        for (size_t i = 0; i < wk_embed_count; i++) {
                size_t want_len, len = 0;
                char *want = slurp(wk_embed_files[i].name, &want_len);
                const unsigned char *got =
                        wk_embed_find(wk_embed_files[i].name, &len);

                cr_assert(got, "%s", wk_embed_files[i].name);
                cr_expect_eq(len, want_len, "%s", wk_embed_files[i].name);
                cr_expect(memcmp(got, want, len) == 0, "%s",
                          wk_embed_files[i].name);
                cr_expect_eq(got[len], 0, "NUL after %s",
                             wk_embed_files[i].name);
                free(want);
        }
}

Test(embed, the_openapi_document_is_embedded)
{
        size_t len = 0;
        const unsigned char *doc = wk_embed_find("worker/openapi.json", &len);

        cr_assert(doc);
        cr_expect_gt(len, 0);
        cr_expect(strstr((const char *)doc, "\"openapi\""));
        cr_expect_eq(strlen((const char *)doc), len);
}

Test(embed, only_exact_names_are_found)
{
        size_t len = 7;

        cr_expect_null(wk_embed_find("openapi.json", &len));
        cr_expect_null(wk_embed_find("/worker/openapi.json", &len));
        cr_expect_null(wk_embed_find("worker/../worker/openapi.json", &len));
        cr_expect_null(wk_embed_find("worker/openapi.jso", &len));
        cr_expect_null(wk_embed_find("", &len));
        cr_expect_null(wk_embed_find(NULL, &len));
        cr_expect_eq(len, 7, "len untouched when not found");
        cr_expect_not_null(wk_embed_find("worker/openapi.json", NULL));
}

Test(embed, content_type_by_extension)
{
        cr_expect_str_eq(wk_embed_type("worker/openapi.json"),
                         "application/json");
        cr_expect_str_eq(wk_embed_type("portal/index.html"),
                         "text/html; charset=utf-8");
        cr_expect_str_eq(wk_embed_type("portal/app.js"),
                         "text/javascript; charset=utf-8");
        cr_expect_str_eq(wk_embed_type("portal/style.css"),
                         "text/css; charset=utf-8");
        cr_expect_str_eq(wk_embed_type("portal/shot.png"), "image/png");
        cr_expect_str_eq(wk_embed_type("portal/logo.svg"), "image/svg+xml");
        cr_expect_str_eq(wk_embed_type("portal.d/README"),
                         "application/octet-stream");
        cr_expect_str_eq(wk_embed_type("x.JSONX"), "application/octet-stream");
        cr_expect_str_eq(wk_embed_type(NULL), "application/octet-stream");
}
