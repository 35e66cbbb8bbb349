/* Unit tests: wk_api, the management API's listener, on loopback with a
 * local store (no Kafka): tokens, the Host and Origin checks of a
 * listener without a token, body limits, 404/405, problem documents, and
 * a store that refuses writes. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "cfg.h"
#include "wk_api.h"
#include "wk_store.h"

static const unsigned char key[WK_SEAL_KEY_LEN] = {1, 2, 3};

typedef struct env_s {
        cfg_t *cfg;
        wk_store_t *store;
        wk_api_t *api;
        uint16_t port;
} env_t;

static env_t start(const char *api_extra)
{
        char text[1024], err[4096];
        wk_api_conf_t ac = {0};
        env_t e = {0};

        setenv("HB_T_API_KEY",
               "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1);
        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"127.0.0.1:1\"; topics = ( \"e\" ); "
                 "};\nwebhooks = ( );\napi = { listen = \"127.0.0.1:0\"; "
                 "secret_key_env = \"HB_T_API_KEY\"; %s };\n",
                 api_extra);
        e.cfg = cfg_load_string(text, "t.cfg", err, sizeof(err));
        cr_assert_not_null(e.cfg, "%s", err);
        e.store = wk_store_new_local(key);
        cr_assert_not_null(e.store);
        ac.cfg = e.cfg;
        ac.store = e.store;
        ac.threads = 2;
        e.api = wk_api_start(&ac, err, sizeof(err));
        cr_assert_not_null(e.api, "%s", err);
        e.port = wk_api_port(e.api);
        cr_assert(e.port > 0);
        return e;
}

static void stop(env_t *e)
{
        wk_api_stop(e->api);
        wk_store_destroy(e->store);
        cfg_destroy(e->cfg);
}

typedef struct ans_s {
        long status;
        char body[8192], headers[4096];
        json_object *json;
} ans_t;

static size_t on_data(char *p, size_t sz, size_t n, void *opaque)
{
        char *buf = opaque; /* body or headers: both 4096+ */
        size_t len = strlen(buf), add = sz * n;

        if (len + add >= 4096)
                add = 4095 - len;
        memcpy(buf + len, p, add);
        buf[len + add] = '\0';
        return sz * n;
}

/* \p method \p path with \p body (NULL: none) and up to two headers. */
static ans_t req(const env_t *e, const char *method, const char *path,
                 const char *body, const char *h1, const char *h2)
{
        ans_t a = {0};
        struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
        char url[256];
        CURL *c = curl_easy_init();

        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", e->port, path);
        curl_easy_setopt(c, CURLOPT_URL, url);
        if (!strcmp(method, "HEAD"))
                curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        else
                curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, a.body);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, a.headers);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
        if (h1)
                hl = curl_slist_append(hl, h1);
        if (h2)
                hl = curl_slist_append(hl, h2);
        if (body)
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
        curl_slist_free_all(hl);
        curl_easy_cleanup(c);
        a.json = json_tokener_parse(a.body);
        return a;
}

static void expect_problem(ans_t *a, long status, const char *field)
{
        json_object *v = NULL;

        cr_expect_eq(a->status, status, "%ld: %s", a->status, a->body);
        cr_expect(strstr(a->headers, "Content-Type: application/problem+json"),
                  "%s", a->headers);
        cr_assert_not_null(a->json, "%s", a->body);
        cr_expect(json_object_object_get_ex(a->json, "status", &v) &&
                          json_object_get_int(v) == status,
                  "%s", a->body);
        if (field)
                cr_expect(strstr(a->body, field), "no %s in %s", field,
                          a->body);
        json_object_put(a->json);
}

#define LIST "/v1/apps/NX-a/webhooks"

Test(api_listen, tokens_any_of_several)
{
        env_t e = start("token = ( \"first-token-0123456\", "
                        "\"second-token-0123456\" );");
        ans_t a;

        a = req(&e, "GET", LIST, NULL, NULL, NULL);
        cr_expect(strstr(a.headers, "WWW-Authenticate: Bearer"), "%s",
                  a.headers);
        expect_problem(&a, 401, NULL);
        a = req(&e, "GET", LIST, NULL, "Authorization: Bearer nope", NULL);
        expect_problem(&a, 401, NULL);
        a = req(&e, "GET", LIST, NULL,
                "Authorization: Bearer first-token-012345", NULL);
        expect_problem(&a, 401, NULL);
        a = req(&e, "GET", LIST, NULL,
                "Authorization: bearer   second-token-0123456", NULL);
        cr_expect_eq(a.status, 200, "%s", a.body);
        json_object_put(a.json);
        a = req(&e, "GET", LIST, NULL,
                "Authorization: Bearer first-token-0123456", NULL);
        cr_expect_str_eq(a.body, "{\"data\":[],\"next\":null}");
        json_object_put(a.json);
        /* with a token, another page's Origin is the token's business */
        a = req(&e, "GET", LIST, NULL,
                "Authorization: Bearer first-token-0123456",
                "Origin: https://evil.example");
        cr_expect_eq(a.status, 200, "%s", a.body);
        json_object_put(a.json);
        stop(&e);
}

Test(api_listen, without_a_token_host_and_origin_are_checked)
{
        env_t e = start("");
        char same[64];
        ans_t a;

        a = req(&e, "GET", LIST, NULL, NULL, NULL);
        cr_expect_eq(a.status, 200, "%s", a.body);
        json_object_put(a.json);
        /* DNS rebinding: another name in Host */
        a = req(&e, "GET", LIST, NULL, "Host: evil.example", NULL);
        expect_problem(&a, 421, NULL);
        /* CSRF: a page elsewhere posting through a browser here */
        a = req(&e, "POST", LIST "/wh_x/rotate-secret", NULL,
                "Origin: https://evil.example", NULL);
        expect_problem(&a, 403, NULL);
        a = req(&e, "POST", LIST, "{}", "Origin: null", NULL);
        expect_problem(&a, 403, NULL);
        snprintf(same, sizeof(same), "Origin: http://127.0.0.1:%u", e.port);
        a = req(&e, "GET", LIST, NULL, same, NULL);
        cr_expect_eq(a.status, 200, "same origin: %s", a.body);
        json_object_put(a.json);
        stop(&e);
}

Test(api_listen, paths_methods_and_bodies)
{
        env_t e = start("");
        char *big = malloc(70001);
        ans_t a;

        a = req(&e, "GET", "/v1/nope", NULL, NULL, NULL);
        expect_problem(&a, 404, NULL);
        a = req(&e, "GET", "/v1/apps/NX-a/webhooks/", NULL, NULL, NULL);
        expect_problem(&a, 404, NULL);
        a = req(&e, "PUT", LIST, "{}", NULL, NULL);
        cr_expect(strstr(a.headers, "Allow: GET, POST"), "%s", a.headers);
        expect_problem(&a, 405, NULL);
        a = req(&e, "DELETE", LIST "/wh_x/test", NULL, NULL, NULL);
        cr_expect(strstr(a.headers, "Allow: POST"), "%s", a.headers);
        expect_problem(&a, 405, NULL);
        a = req(&e, "GET", "/v1/apps/a%20b/webhooks", NULL, NULL, NULL);
        expect_problem(&a, 404, "\"field\":\"app_token\"");
        a = req(&e, "GET", LIST "/wh_none", NULL, NULL, NULL);
        expect_problem(&a, 404, NULL);
        /* HEAD is GET without the body */
        a = req(&e, "HEAD", LIST, NULL, NULL, NULL);
        cr_expect_eq(a.status, 200);
        json_object_put(a.json);
        cr_assert_not_null(big);
        memset(big, 'x', 70000);
        big[70000] = '\0';
        a = req(&e, "POST", LIST, big, NULL, NULL);
        expect_problem(&a, 413, NULL);
        a = req(&e, "POST", LIST, big, "Transfer-Encoding: chunked", NULL);
        expect_problem(&a, 413, NULL);
        free(big);
        a = req(&e, "POST", LIST, "{\"name\": ", NULL, NULL);
        expect_problem(&a, 400, "\"field\":\"body\"");
        a = req(&e, "POST", LIST, "{\"name\":\"a\",\"url\":\"ftp://x\"}", NULL,
                NULL);
        expect_problem(&a, 422, "\"field\":\"url\"");
        cr_expect(strstr(a.body, "\"field\":\"events\""), "%s", a.body);
        stop(&e);
}

Test(api_listen, a_store_that_refuses_writes_is_a_503_and_no_secret_leaks)
{
        env_t e = start("");
        ans_t a;

        /* a local store cannot write: the create fails after validation */
        a = req(&e, "POST", LIST,
                "{\"name\":\"a\",\"url\":\"https://example.com/h\","
                "\"events\":[\"*\"],\"secret\":\"whsec_MTIzNDU2Nzg5MDEyMzQ1Ng=="
                "\"}",
                NULL, NULL);
        cr_expect_null(strstr(a.body, "whsec_"), "%s", a.body);
        expect_problem(&a, 503, NULL);
        a = req(&e, "GET", LIST, NULL, NULL, NULL);
        cr_expect_str_eq(a.body, "{\"data\":[],\"next\":null}");
        json_object_put(a.json);
        stop(&e);
}
