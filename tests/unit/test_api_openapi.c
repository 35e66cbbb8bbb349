/* Tests for the OpenAPI document (worker/openapi.json, served by
 * wk_api_openapi): it names exactly the routes of wk_api_routes (the
 * portal's pages aside) and every call of SPEC §7's table, so a route
 * added or removed without the document fails here, not only in
 * tests/api/run.sh's schemathesis run. */
#include <criterion/criterion.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "wk_api.h"
#include "wk_embed.h"

static json_object *doc_paths(json_object **doc)
{
        size_t len = 0;
        const unsigned char *text = wk_embed_find("worker/openapi.json", &len);
        json_object *paths = NULL;

        cr_assert_not_null(text);
        *doc = json_tokener_parse((const char *)text);
        cr_assert_not_null(*doc, "worker/openapi.json is not JSON");
        cr_assert(json_object_object_get_ex(*doc, "paths", &paths));
        return paths;
}

/* \p pattern of a route as the document writes it ({app} is {app_token}). */
static void doc_path(const char *pattern, char *out, size_t size)
{
        const char *app = strstr(pattern, "{app}");

        if (app)
                snprintf(out, size, "%.*s{app_token}%s", (int)(app - pattern),
                         pattern, app + 5);
        else
                snprintf(out, size, "%s", pattern);
}

static void lower(const char *s, char *out, size_t size)
{
        size_t i = 0;

        for (; s[i] && i + 1 < size; i++)
                out[i] = (char)tolower((unsigned char)s[i]);
        out[i] = '\0';
}

static int is_portal(const wk_api_route_t *r)
{
        return !strncmp(r->pattern, "/portal", 7);
}

Test(api_openapi, every_route_is_in_the_document)
{
        json_object *doc, *paths = doc_paths(&doc), *item, *op;
        char path[256], method[16];

        for (const wk_api_route_t *r = wk_api_routes; r->method; r++) {
                if (is_portal(r))
                        continue;
                doc_path(r->pattern, path, sizeof(path));
                lower(r->method, method, sizeof(method));
                cr_assert(json_object_object_get_ex(paths, path, &item),
                          "%s is not in worker/openapi.json", path);
                cr_expect(json_object_object_get_ex(item, method, &op),
                          "%s %s is not in worker/openapi.json", r->method,
                          path);
        }
        json_object_put(doc);
}

Test(api_openapi, every_operation_of_the_document_is_routed)
{
        static const char *const methods[] = {"get",   "post",   "put",
                                              "patch", "delete", NULL};
        json_object *doc, *paths = doc_paths(&doc);
        char path[256], method[16];
        int ops = 0;

        json_object_object_foreach(paths, p, item)
        {
                for (size_t m = 0; methods[m]; m++) {
                        int found = 0;

                        if (!json_object_object_get_ex(item, methods[m], NULL))
                                continue;
                        ops++;
                        for (const wk_api_route_t *r = wk_api_routes;
                             r->method && !found; r++) {
                                doc_path(r->pattern, path, sizeof(path));
                                lower(r->method, method, sizeof(method));
                                found = !strcmp(path, p) &&
                                        !strcmp(method, methods[m]);
                        }
                        cr_expect(found, "%s %s is documented, not routed",
                                  methods[m], p);
                }
        }
        cr_expect_eq(ops, 11, "SPEC 7 has 11 calls; the document %d", ops);
        json_object_put(doc);
}

Test(api_openapi, spec_7s_table_is_there)
{
        static const char *const calls[][2] = {
                {"post", "/v1/apps/{app_token}/webhooks"},
                {"get", "/v1/apps/{app_token}/webhooks"},
                {"get", "/v1/apps/{app_token}/webhooks/{id}"},
                {"patch", "/v1/apps/{app_token}/webhooks/{id}"},
                {"delete", "/v1/apps/{app_token}/webhooks/{id}"},
                {"post", "/v1/apps/{app_token}/webhooks/{id}/test"},
                {"post", "/v1/apps/{app_token}/webhooks/{id}/rotate-secret"},
                {"get", "/v1/apps/{app_token}/webhooks/{id}/health"},
                {"post", "/v1/apps/{app_token}/webhooks/{id}/redrive"},
                {"post", "/v1/apps/{app_token}/portal-token"},
                {"get", "/v1/openapi.json"},
        };
        json_object *doc, *paths = doc_paths(&doc), *item;

        for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
                cr_assert(json_object_object_get_ex(paths, calls[i][1], &item),
                          "%s", calls[i][1]);
                cr_expect(json_object_object_get_ex(item, calls[i][0], NULL),
                          "%s %s", calls[i][0], calls[i][1]);
        }
        json_object_put(doc);
}
