/* Tests for wk_portal_api without a listener: the portal-token handler
 * (201 with token, url, expires_at; ttl bounds; unknown fields), the
 * verify hook the API's auth calls (this deployment's key only), the
 * file handler's status, headers and body. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cfg.h"
#include "wk_portal_api.h"
#include "wk_portal_token.h"

#define KEY_A "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
#define KEY_B "IB8eHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE="

static cfg_t *load(const char *key, const char *frames)
{
        char text[2048], err[4096];
        cfg_t *cfg;

        setenv("HB_TEST_PORTAL_KEY", key, 1);
        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"127.0.0.1:1\"; group_id = \"g\"; "
                 "topics = ( \"t\" ); };\n"
                 "webhooks = ( );\n"
                 "api = { listen = \"127.0.0.1:0\"; "
                 "secret_key_env = \"HB_TEST_PORTAL_KEY\"; %s };\n",
                 frames);
        cfg = cfg_load_string(text, "test.cfg", err, sizeof(err));
        cr_assert_not_null(cfg, "%s", err);
        return cfg;
}

static void resp_free(wk_api_resp_t *r)
{
        free(r->body);
        for (size_t i = 0; i < r->hdr_count; i++) {
                free(r->hdr_name[i]);
                free(r->hdr_value[i]);
        }
        memset(r, 0, sizeof(*r));
}

static const char *hdr(const wk_api_resp_t *r, const char *name)
{
        for (size_t i = 0; i < r->hdr_count; i++)
                if (!strcasecmp(r->hdr_name[i], name))
                        return r->hdr_value[i];
        return NULL;
}

static json_object *mint(cfg_t *cfg, const char *app, const char *body,
                         unsigned want)
{
        wk_api_env_t env = {.cfg = cfg};
        wk_api_req_t req = {.method = "POST",
                            .path = "/v1/apps/x/portal-token",
                            .app = app,
                            .body = body,
                            .body_len = strlen(body)};
        wk_api_resp_t resp = {0};
        json_object *o;

        wk_portal_api_token(&env, &req, &resp);
        cr_assert_eq(resp.status, want, "%u: %.*s", resp.status, (int)resp.len,
                     resp.body);
        o = json_tokener_parse(resp.body);
        cr_assert_not_null(o);
        resp_free(&resp);
        return o;
}

Test(portal_api, mints_a_token_the_verify_hook_takes_for_its_app)
{
        cfg_t *cfg = load(KEY_A, "");
        json_object *o = mint(cfg, "NX-acme", "", 201), *v;
        const char *tok, *url;
        char app[CFG_APP_TOKEN_MAX + 1], want_url[400];
        int64_t now = (int64_t)time(NULL), exp;

        cr_assert(json_object_object_get_ex(o, "token", &v));
        tok = json_object_get_string(v);
        cr_assert(json_object_object_get_ex(o, "url", &v));
        url = json_object_get_string(v);
        snprintf(want_url, sizeof(want_url), "/portal/#token=%s", tok);
        cr_assert_str_eq(url, want_url);
        cr_assert(json_object_object_get_ex(o, "expires_at", &v));
        exp = json_object_get_int64(v);
        cr_assert(exp > now + 3590 && exp <= now + 3601, "%lld",
                  (long long)exp);
        cr_assert_eq(wk_portal_api_verify((void *)cfg_api(cfg), tok, app,
                                          sizeof(app)),
                     1);
        cr_assert_str_eq(app, "NX-acme");
        cr_assert_eq(wk_portal_api_verify((void *)cfg_api(cfg),
                                          "an-operator-token-0123456789", app,
                                          sizeof(app)),
                     0);
        json_object_put(o);
        cfg_destroy(cfg);
}

Test(portal_api, another_deployments_key_refuses_the_token)
{
        cfg_t *a = load(KEY_A, ""), *b;
        json_object *o = mint(a, "NX-acme", "", 201), *v;
        char tok[WK_PORTAL_TOKEN_MAX], app[CFG_APP_TOKEN_MAX + 1];

        cr_assert(json_object_object_get_ex(o, "token", &v));
        snprintf(tok, sizeof(tok), "%s", json_object_get_string(v));
        json_object_put(o);
        b = load(KEY_B, "");
        cr_assert_eq(
                wk_portal_api_verify((void *)cfg_api(b), tok, app, sizeof(app)),
                0);
        cr_assert_eq(
                wk_portal_api_verify((void *)cfg_api(a), tok, app, sizeof(app)),
                1);
        cfg_destroy(a);
        cfg_destroy(b);
}

Test(portal_api, ttl_is_bounded_and_the_body_checked)
{
        cfg_t *cfg = load(KEY_A, "");
        json_object *o = mint(cfg, "NX-acme", "{\"ttl\": 120}", 201), *v;
        int64_t now = (int64_t)time(NULL);

        cr_assert(json_object_object_get_ex(o, "expires_at", &v));
        cr_assert(json_object_get_int64(v) <= now + 121);
        json_object_put(o);
        json_object_put(mint(cfg, "NX-acme", "{\"ttl\": 3601}", 422));
        json_object_put(mint(cfg, "NX-acme", "{\"ttl\": 59}", 422));
        json_object_put(mint(cfg, "NX-acme", "{\"ttl\": \"60\"}", 422));
        json_object_put(mint(cfg, "NX-acme", "{\"app\": \"NX-b\"}", 422));
        json_object_put(mint(cfg, "NX-acme", "[1]", 400));
        cfg_destroy(cfg);
}

static void get(cfg_t *cfg, const char *path, wk_api_resp_t *resp)
{
        wk_api_env_t env = {.cfg = cfg};
        wk_api_req_t req = {.method = "GET", .path = path, .body = ""};

        memset(resp, 0, sizeof(*resp));
        wk_portal_api_file(&env, &req, resp);
}

Test(portal_api, files_carry_the_headers_of_the_configuration)
{
        cfg_t *cfg =
                load(KEY_A, "frame_ancestors = \"https://app.example.com\";");
        wk_api_resp_t r;
        const char *csp;

        get(cfg, "/portal/", &r);
        cr_assert_eq(r.status, 200);
        cr_assert_str_eq(r.type, "text/html; charset=utf-8");
        cr_assert(strstr(r.body, "<script type=\"module\" src=\"portal.js\">"));
        csp = hdr(&r, "Content-Security-Policy");
        cr_assert_not_null(csp);
        cr_assert(strstr(csp, "frame-ancestors https://app.example.com"), "%s",
                  csp);
        cr_assert_str_eq(hdr(&r, "X-Content-Type-Options"), "nosniff");
        cr_assert_str_eq(hdr(&r, "Referrer-Policy"), "no-referrer");
        cr_assert_not_null(hdr(&r, "ETag"));
        cr_assert_null(hdr(&r, "X-Frame-Options"));
        resp_free(&r);
        get(cfg, "/portal/nope.js", &r);
        cr_assert_eq(r.status, 404);
        resp_free(&r);
        get(cfg, "/portal", &r);
        cr_assert_eq(r.status, 301);
        cr_assert_str_eq(hdr(&r, "Location"), "/portal/");
        resp_free(&r);
        cfg_destroy(cfg);
}
