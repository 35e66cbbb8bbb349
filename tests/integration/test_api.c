/* Integration: the management API (SPEC §7) of a real `hookbridge run`
 * against the real broker: create / read / list / change / remove with
 * versions and If-Match, pagination, the per-app limit, another app's id,
 * rotate-secret, Send Test, and bad input of every kind (each rule of the
 * file, unknown fields, wrong types, bad JSON, a huge body, unknown
 * app or id, missing or wrong token): a problem document naming the field,
 * and nothing stored. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "it_util.h"
#include "rx_receiver.h"

#define TOKEN  "api-test-token-0123456789"
#define TOKEN2 "api-test-token-second-abcdef"
#define KEY    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define APP    "NX-api-a"
#define APP_B  "NX-api-b"
#define LIMIT  3 /* api.max_webhooks_per_app */

static pid_t worker;
static uint16_t port;
static char store_topic[96], log_path[300], cfg_path[256];
static rx_t *rx;

/* \p method \p path (on the API) with \p body (NULL: none), the bearer
 * \p token (NULL: none) and one more header \p hdr (NULL: none). */
static it_ans_t *call_as(const char *token, const char *method,
                         const char *path, const char *body, size_t body_len,
                         const char *hdr)
{
        static it_ans_t a;

        it_call(&a, port, token, method, path, body, body_len, hdr);
        return &a;
}

static it_ans_t *call(const char *method, const char *path, const char *body)
{
        return call_as(TOKEN, method, path, body, body ? strlen(body) : 0,
                       NULL);
}

/* A problem document of \p status that names \p field with a message
 * containing \p msg (NULL: any). */
static void expect_problem(const it_ans_t *a, long status, const char *field,
                           const char *msg)
{
        json_object *errs = NULL;
        size_t i, n;

        cr_assert_eq(a->status, status, "status %ld, not %ld: %s", a->status,
                     status, a->body);
        cr_assert(strstr(a->headers, "Content-Type: application/problem+json"),
                  "%s", a->headers);
        cr_assert_not_null(a->json, "not JSON: %s", a->body);
        cr_assert_eq(it_jint(a->json, "status"), status, "%s", a->body);
        cr_assert_not_null(it_jstr(a->json, "title"), "%s", a->body);
        if (!field)
                return;
        cr_assert(json_object_object_get_ex(a->json, "errors", &errs),
                  "no errors: %s", a->body);
        n = json_object_array_length(errs);
        for (i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(errs, i);
                if (!strcmp(it_jstr(e, "field"), field) &&
                    (!msg || strstr(it_jstr(e, "message"), msg)))
                        break;
        }
        cr_assert(i < n, "no error for %s (%s): %s", field, msg ? msg : "",
                  a->body);
}

/* What the receiver got last. */
static struct {
        pthread_mutex_t lock;
        int n, verified;
        char path[64], body[4096];
} got = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_rx(const rx_request_t *req, void *opaque)
{
        (void)opaque;
        pthread_mutex_lock(&got.lock);
        got.n++;
        got.verified = req->verified;
        snprintf(got.path, sizeof(got.path), "%s", req->path);
        snprintf(got.body, sizeof(got.body), "%.*s", (int)req->body_len,
                 req->body);
        pthread_mutex_unlock(&got.lock);
}

static void setup(void)
{
        char topic[96], group[96], text[2048];
        rx_conf_t rc = {.cb = on_rx};
        char err[256];
        int64_t deadline;

        it_unique("api-ev", topic, sizeof(topic));
        it_unique("api-g", group, sizeof(group));
        it_unique("api-store", store_topic, sizeof(store_topic));
        it_create_topic(topic, 1);
        rx = rx_start(&rc, err, sizeof(err));
        cr_assert_not_null(rx, "%s", err);
        port = it_free_port();
        setenv("HB_TEST_API_KEY", KEY, 1);
        setenv("HB_TEST_API_TOKENS", TOKEN "\n" TOKEN2 "\n", 1);
        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"%s\"; group_id = \"%s\";\n"
                 "  topics = ( \"%s\" ); };\n"
                 "delivery = { allow_networks = [ \"127.0.0.0/8\" ];\n"
                 "  retry = { schedule = [ ]; }; };\n"
                 "webhooks = ( );\n"
                 "admin = { listen = \"127.0.0.1:0\"; };\n"
                 "api = { listen = \"127.0.0.1:%u\";\n"
                 "  token_env = \"HB_TEST_API_TOKENS\";\n"
                 "  secret_key_env = \"HB_TEST_API_KEY\";\n"
                 "  store_topic = \"%s\"; store_replication_factor = 1;\n"
                 "  max_webhooks_per_app = %d; rotation_grace = \"1h\"; };\n",
                 it_brokers(), group, topic, port, store_topic, LIMIT);
        it_write_temp(text, cfg_path, sizeof(cfg_path));
        snprintf(log_path, sizeof(log_path), "%s.log", cfg_path);
        worker = it_spawn_worker(cfg_path, log_path);
        /* up once the store has caught up: 200 to a list */
        deadline = it_now_ms() + 60000;
        while (it_now_ms() < deadline) {
                if (call("GET", "/v1/apps/" APP "/webhooks", NULL)->status ==
                    200)
                        return;
                it_sleep_ms(100);
        }
        {
                /* what the worker said, to tell a slow broker from a hang */
                char tail[4096] = "";
                FILE *f = fopen(log_path, "r");
                size_t n = 0;

                if (f) {
                        fseek(f, -(long)sizeof(tail) + 1, SEEK_END);
                        n = fread(tail, 1, sizeof(tail) - 1, f);
                        tail[n] = '\0';
                        fclose(f);
                }
                cr_assert_fail("the API did not answer within 60 s; %s "
                               "ends:\n%s",
                               log_path, tail);
        }
}

static void teardown(void)
{
        int st = it_stop_worker(worker, SIGTERM, 30000);

        cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the worker did not stop cleanly (%d); see %s", st, log_path);
        rx_stop(rx);
        unlink(cfg_path);
}

TestSuite(api, .init = setup, .fini = teardown, .timeout = 240);

/* POST a valid webhook called \p name to \p app; @returns its id
 * (static) and its version in \p *version. */
static const char *create(const char *app, const char *name, int64_t *version)
{
        static char id[64];
        char path[128], body[512];
        it_ans_t *a;

        snprintf(path, sizeof(path), "/v1/apps/%s/webhooks", app);
        snprintf(body, sizeof(body),
                 "{\"name\":\"%s\",\"url\":\"http://127.0.0.1:%u/%s\","
                 "\"events\":[\"flows.completed\",{\"type\":\"nps.score\","
                 "\"enabled\":false}],\"user_properties\":[\"email\"]}",
                 name, rx_port(rx), name);
        a = call("POST", path, body);
        cr_assert_eq(a->status, 201, "%ld %s", a->status, a->body);
        snprintf(id, sizeof(id), "%s", it_jstr(a->json, "id"));
        if (version)
                *version = it_jint(a->json, "version");
        return id;
}

/* How many webhooks the list of \p app shows (every page). */
static int count(const char *app)
{
        char path[256];
        it_ans_t *a;

        snprintf(path, sizeof(path), "/v1/apps/%s/webhooks?limit=200", app);
        a = call("GET", path, NULL);
        cr_assert_eq(a->status, 200, "%s", a->body);
        return (int)json_object_array_length(
                json_object_object_get(a->json, "data"));
}

static int64_t store_end(void)
{
        int64_t end;

        it_log_end(store_topic, 1, &end);
        return end;
}

Test(api, create_read_change_remove)
{
        char path[256], etag[64];
        int64_t v0, v1;
        const char *s;
        it_ans_t *a;

        a = call("POST", "/v1/apps/" APP "/webhooks",
                 "{\"name\":\"crm\",\"url\":\"https://example.com/hook\","
                 "\"events\":[\"flows.completed\"],\"user_properties\":"
                 "[\"email\",\"plan\"],\"company_properties\":[\"tier\"],"
                 "\"headers\":[\"X-Team: growth\"],\"rate_limit\":5}");
        cr_assert_eq(a->status, 201, "%s", a->body);
        char id[64];
        snprintf(id, sizeof(id), "%s", it_jstr(a->json, "id"));
        v0 = it_jint(a->json, "version");
        cr_expect(!strncmp(id, "wh_", 3) && strlen(id) == 35, "%s", id);
        cr_expect(v0 > 0);
        s = it_jstr(a->json, "secret");
        cr_assert_not_null(s, "a generated secret is shown once: %s", a->body);
        cr_expect(!strncmp(s, "whsec_", 6) && strlen(s) == 50, "%s", s);
        cr_expect_str_eq(it_jstr(a->json, "app_token"), APP);
        snprintf(etag, sizeof(etag), "ETag: \"%lld\"", (long long)v0);
        cr_expect(strstr(a->headers, etag), "%s", a->headers);
        cr_expect(strstr(a->headers, "Location: /v1/apps/" APP "/webhooks/"),
                  "%s", a->headers);

        snprintf(path, sizeof(path), "/v1/apps/" APP "/webhooks/%s", id);
        a = call("GET", path, NULL);
        cr_assert_eq(a->status, 200, "%s", a->body);
        cr_expect_null(it_jstr(a->json, "secret"), "never again: %s", a->body);
        cr_expect_null(strstr(a->body, "whsec_"), "%s", a->body);
        cr_expect_str_eq(it_jstr(a->json, "name"), "crm");
        cr_expect_str_eq(it_jstr(a->json, "signed"), "true");
        cr_expect_eq(it_jint(a->json, "rate_limit"), 5);
        cr_expect_eq(it_jint(a->json, "version"), v0);
        cr_expect(strstr(a->headers, etag), "%s", a->headers);

        /* a change on the current version */
        snprintf(etag, sizeof(etag), "If-Match: \"%lld\"", (long long)v0);
        a = call_as(TOKEN, "PATCH", path,
                    "{\"enabled\":false,\"events\":[\"*\",{\"type\":"
                    "\"nps.score\",\"enabled\":false}]}",
                    strlen("{\"enabled\":false,\"events\":[\"*\",{\"type\":"
                           "\"nps.score\",\"enabled\":false}]}"),
                    etag);
        cr_assert_eq(a->status, 200, "%s", a->body);
        v1 = it_jint(a->json, "version");
        cr_expect_gt(v1, v0);
        cr_expect_str_eq(it_jstr(a->json, "enabled"), "false");
        cr_expect_str_eq(it_jstr(a->json, "name"), "crm", "merged: %s",
                         a->body);
        cr_expect_eq(it_jint(a->json, "rate_limit"), 5, "merged: %s", a->body);
        cr_expect_null(strstr(a->body, "whsec_"), "%s", a->body);

        /* the same If-Match again: stale, 412, nothing changed */
        a = call_as(TOKEN, "PATCH", path, "{\"enabled\":true}", 16, etag);
        expect_problem(a, 412, NULL, NULL);
        a = call("GET", path, NULL);
        cr_expect_eq(it_jint(a->json, "version"), v1);
        cr_expect_str_eq(it_jstr(a->json, "enabled"), "false");
        a = call_as(TOKEN, "DELETE", path, NULL, 0, etag);
        expect_problem(a, 412, NULL, NULL);
        a = call_as(TOKEN, "PATCH", path, "{\"enabled\":true}", 16,
                    "If-Match: yesterday");
        expect_problem(a, 400, "If-Match", NULL);

        /* a webhook of the API always signs: its secret is never removed */
        expect_problem(call("PATCH", path, "{\"secret\":null}"), 422, "secret",
                       "cannot be removed");
        a = call("GET", path, NULL);
        cr_expect_str_eq(it_jstr(a->json, "signed"), "true");
        cr_expect_eq(it_jint(a->json, "version"), v1);

        cr_expect_eq(count(APP), 1);
        a = call("DELETE", path, NULL);
        cr_assert_eq(a->status, 204, "%s", a->body);
        cr_expect_str_empty(a->body);
        expect_problem(call("GET", path, NULL), 404, NULL, NULL);
        expect_problem(call("DELETE", path, NULL), 404, NULL, NULL);
        cr_expect_eq(count(APP), 0);

        /* "secret": null is none: one is made and shown */
        a = call("POST", "/v1/apps/" APP "/webhooks",
                 "{\"name\":\"crm2\",\"url\":\"https://example.com/hook\","
                 "\"events\":[\"*\"],\"secret\":null}");
        cr_assert_eq(a->status, 201, "%s", a->body);
        cr_expect(it_jstr(a->json, "secret") &&
                          !strncmp(it_jstr(a->json, "secret"), "whsec_", 6),
                  "%s", a->body);
        cr_expect_str_eq(it_jstr(a->json, "signed"), "true");
}

Test(api, pages_and_the_per_app_limit)
{
        char ids[LIMIT][64], path[256], next[64];
        it_ans_t *a;

        for (int i = 0; i < LIMIT; i++) {
                char name[16];
                snprintf(name, sizeof(name), "h%d", i);
                snprintf(ids[i], sizeof(ids[i]), "%s", create(APP, name, NULL));
        }
        /* the limit: a problem naming app_token, nothing stored */
        a = call("POST", "/v1/apps/" APP "/webhooks",
                 "{\"name\":\"one-more\",\"url\":\"https://example.com/x\","
                 "\"events\":[\"*\"]}");
        expect_problem(a, 409, "app_token", "api.max_webhooks_per_app");
        /* names are unique within an app, not across apps */
        a = call("POST", "/v1/apps/" APP_B "/webhooks",
                 "{\"name\":\"h0\",\"url\":\"https://example.com/x\","
                 "\"events\":[\"*\"]}");
        cr_assert_eq(a->status, 201, "%s", a->body);
        a = call("POST", "/v1/apps/" APP_B "/webhooks",
                 "{\"name\":\"h0\",\"url\":\"https://example.com/y\","
                 "\"events\":[\"*\"]}");
        expect_problem(a, 409, "name", "already used");

        /* in creation order (the ids are), 2 a page */
        a = call("GET", "/v1/apps/" APP "/webhooks?limit=2", NULL);
        cr_assert_eq(a->status, 200, "%s", a->body);
        json_object *data = json_object_object_get(a->json, "data");
        cr_assert_eq(json_object_array_length(data), 2, "%s", a->body);
        cr_expect_str_eq(it_jstr(json_object_array_get_idx(data, 0), "id"),
                         ids[0]);
        cr_expect_str_eq(it_jstr(json_object_array_get_idx(data, 1), "id"),
                         ids[1]);
        cr_assert_not_null(it_jstr(a->json, "next"), "%s", a->body);
        snprintf(next, sizeof(next), "%s", it_jstr(a->json, "next"));
        cr_expect_str_eq(next, ids[1]);
        snprintf(path, sizeof(path),
                 "/v1/apps/" APP "/webhooks?limit=2&after=%s", next);
        a = call("GET", path, NULL);
        data = json_object_object_get(a->json, "data");
        cr_assert_eq(json_object_array_length(data), 1, "%s", a->body);
        cr_expect_str_eq(it_jstr(json_object_array_get_idx(data, 0), "id"),
                         ids[2]);
        cr_expect_null(it_jstr(a->json, "next"), "last page: %s", a->body);
        cr_expect_null(strstr(a->body, "whsec_"), "%s", a->body);

        expect_problem(call("GET", "/v1/apps/" APP "/webhooks?limit=0", NULL),
                       400, "limit", NULL);
        expect_problem(call("GET", "/v1/apps/" APP "/webhooks?limit=201", NULL),
                       400, "limit", NULL);
        expect_problem(call("GET", "/v1/apps/" APP "/webhooks?limit=x", NULL),
                       400, "limit", NULL);
}

Test(api, another_apps_id_is_not_found)
{
        const char *id = create(APP, "mine", NULL);
        char path[256];

        snprintf(path, sizeof(path), "/v1/apps/" APP_B "/webhooks/%s", id);
        expect_problem(call("GET", path, NULL), 404, NULL, NULL);
        expect_problem(call("PATCH", path, "{\"enabled\":false}"), 404, NULL,
                       NULL);
        expect_problem(call("DELETE", path, NULL), 404, NULL, NULL);
        snprintf(path, sizeof(path),
                 "/v1/apps/" APP_B "/webhooks/%s/rotate-secret", id);
        expect_problem(call("POST", path, NULL), 404, NULL, NULL);
        cr_expect_eq(count(APP_B), 0);
        cr_expect_eq(count(APP), 1);
        snprintf(path, sizeof(path), "/v1/apps/" APP "/webhooks/%s", id);
        cr_expect_eq(call("GET", path, NULL)->status, 200);
        expect_problem(call("GET", "/v1/apps/" APP "/webhooks/wh_nope", NULL),
                       404, NULL, NULL);
}

/* One bad body: the status, the field named, a part of its message. */
typedef struct bad_s {
        const char *body;
        long status;
        const char *field;
        const char *msg;
} bad_t;

#define OKURL "\"url\":\"https://example.com/hook\""
#define OKEV  "\"events\":[\"*\"]"

/* Every rule of the file's webhooks (SPEC §5), as the API takes them;
 * the messages are the file's (cfg_rule_*). */
static const bad_t bads[] = {
        /* the url */
        {"{\"name\":\"a\",\"url\":\"ftp://example.com/x\"," OKEV "}", 422,
         "url", "http:// or https://"},
        {"{\"name\":\"a\",\"url\":\"https://\"," OKEV "}", 422, "url", NULL},
        {"{\"name\":\"a\",\"url\":\"https://exa mple.com/\"," OKEV "}", 422,
         "url", NULL},
        /* the name */
        {"{\"name\":\"bad name\"," OKURL "," OKEV "}", 422, "name",
         "use 1 to 128 of A-Z a-z 0-9 _ . -"},
        {"{\"name\":\"\"," OKURL "," OKEV "}", 422, "name", NULL},
        {"{" OKURL "," OKEV "}", 422, "name", "is required"},
        /* properties: at most 10 together, each once */
        {"{\"name\":\"a\"," OKURL "," OKEV ",\"user_properties\":[\"p1\","
         "\"p2\",\"p3\",\"p4\",\"p5\",\"p6\"],\"company_properties\":[\"c1\","
         "\"c2\",\"c3\",\"c4\",\"c5\"]}",
         422, "user_properties", "chooses 11 properties; at most 10"},
        {"{\"name\":\"a\"," OKURL "," OKEV ",\"user_properties\":[\"e\","
         "\"e\"]}",
         422, "user_properties[1]", "listed twice"},
        /* headers */
        {"{\"name\":\"a\"," OKURL "," OKEV ",\"headers\":[\"Host: x\"]}", 422,
         "headers[0]", "set by hookbridge"},
        {"{\"name\":\"a\"," OKURL "," OKEV ",\"headers\":[\"no colon\"]}", 422,
         "headers[0]", NULL},
        {"{\"name\":\"a\"," OKURL "," OKEV ",\"headers\":[\"X-A: b\\r\\nX-C: "
         "d\"]}",
         422, "headers[0]", NULL},
        /* the secret */
        {"{\"name\":\"a\"," OKURL "," OKEV ",\"secret\":\"whsec_!!!\"}", 422,
         "secret", "not valid base64"},
        {"{\"name\":\"a\"," OKURL "," OKEV ",\"secret\":\"\"}", 422, "secret",
         NULL},
        /* events */
        {"{\"name\":\"a\"," OKURL ",\"events\":[]}", 422, "events", "is empty"},
        {"{\"name\":\"a\"," OKURL "}", 422, "events", "is required"},
        {"{\"name\":\"a\"," OKURL ",\"events\":[\"flows.nope\"]}", 422,
         "events[0]", "unknown webhook type"},
        {"{\"name\":\"a\"," OKURL ",\"events\":[\"*\",\"*\"]}", 422,
         "events[1]", "listed twice"},
        {"{\"name\":\"a\"," OKURL ",\"events\":[{\"type\":\"*\",\"on\":1}]}",
         422, "events[0]", "unknown field"},
        /* the signature, rate_limit */
        {"{\"name\":\"a\"," OKURL "," OKEV ",\"signature\":\"hmac\"}", 422,
         "signature", NULL},
        {"{\"name\":\"a\"," OKURL "," OKEV ",\"rate_limit\":-1}", 422,
         "rate_limit", "0 to 1000000"},
        /* unknown and read-only fields */
        {"{\"name\":\"a\"," OKURL "," OKEV ",\"colour\":\"red\"}", 422,
         "colour", "unknown field"},
        {"{\"name\":\"a\"," OKURL "," OKEV ",\"id\":\"wh_mine\"}", 422, "id",
         "read-only"},
        {"{\"name\":\"a\"," OKURL "," OKEV ",\"app_token\":\"NX-other\"}", 422,
         "app_token", "read-only"},
        /* wrong types */
        {"{\"name\":1," OKURL "," OKEV "}", 422, "name", "expected a string"},
        {"{\"name\":\"a\",\"url\":[]," OKEV "}", 422, "url",
         "expected a string"},
        {"{\"name\":\"a\"," OKURL "," OKEV ",\"enabled\":\"yes\"}", 422,
         "enabled", "true or false"},
        {"{\"name\":\"a\"," OKURL ",\"events\":\"*\"}", 422, "events",
         "expected a list"},
        {"{\"name\":\"a\"," OKURL "," OKEV ",\"user_properties\":[1]}", 422,
         "user_properties[0]", "expected a string"},
        {"{\"name\":\"a\"," OKURL "," OKEV ",\"rate_limit\":\"5\"}", 422,
         "rate_limit", NULL},
        {"{\"name\":\"a\"," OKURL "," OKEV ",\"headers\":{}}", 422, "headers",
         NULL},
        /* not a JSON object */
        {"{\"name\":\"a\",", 400, "body", "not a JSON object"},
        {"[1,2]", 400, "body", NULL},
        {"\"x\"", 400, "body", NULL},
        {"{\"name\":\"a\"} trailing", 400, "body", NULL},
        {"", 400, "body", "required"},
};

Test(api, bad_input_is_a_problem_naming_the_field_and_stores_nothing)
{
        const char *id = create(APP, "keep", NULL);
        char path[256], *huge;
        int64_t end0 = store_end(), v0;
        it_ans_t *a;

        snprintf(path, sizeof(path), "/v1/apps/" APP "/webhooks/%s", id);
        v0 = it_jint(call("GET", path, NULL)->json, "version");
        for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
                const bad_t *b = &bads[i];

                a = call_as(TOKEN, "POST", "/v1/apps/" APP "/webhooks", b->body,
                            strlen(b->body), NULL);
                expect_problem(a, b->status, b->field, b->msg);
                /* the same as a change of the kept webhook (the fields a
                 * create needs are there already) */
                if (b->status == 422 && strstr(b->body, OKURL) &&
                    strstr(b->body, "\"name\":\"a\"") &&
                    strcmp(b->field, "name") && strcmp(b->field, "events")) {
                        a = call_as(TOKEN, "PATCH", path, b->body,
                                    strlen(b->body), NULL);
                        expect_problem(a, 422, b->field, b->msg);
                }
        }
        /* a body over 64 KiB: 413 (by its Content-Length, and without) */
        huge = malloc(70000);
        cr_assert_not_null(huge);
        memset(huge, ' ', 70000);
        huge[0] = '{';
        huge[69999] = '}';
        a = call_as(TOKEN, "POST", "/v1/apps/" APP "/webhooks", huge, 70000,
                    NULL);
        expect_problem(a, 413, NULL, NULL);
        a = call_as(TOKEN, "POST", "/v1/apps/" APP "/webhooks", huge, 70000,
                    "Transfer-Encoding: chunked");
        expect_problem(a, 413, NULL, NULL);
        a = call_as(TOKEN, "PATCH", path, huge, 70000, NULL);
        expect_problem(a, 413, NULL, NULL);
        free(huge);
        /* the app of the path */
        expect_problem(call("POST", "/v1/apps/bad%20app/webhooks",
                            "{\"name\":\"a\"," OKURL "," OKEV "}"),
                       404, "app_token", NULL);
        /* nothing stored: not a record written, the list as it was */
        cr_expect_eq(store_end(), end0, "records were written");
        cr_expect_eq(count(APP), 1);
        cr_expect_eq(it_jint(call("GET", path, NULL)->json, "version"), v0);
}

Test(api, tokens_paths_and_methods)
{
        it_ans_t *a;

        a = call_as(NULL, "GET", "/v1/apps/" APP "/webhooks", NULL, 0, NULL);
        expect_problem(a, 401, NULL, NULL);
        cr_expect(strstr(a->headers, "WWW-Authenticate: Bearer"), "%s",
                  a->headers);
        a = call_as("api-test-token-0123456788", "GET",
                    "/v1/apps/" APP "/webhooks", NULL, 0, NULL);
        expect_problem(a, 401, NULL, NULL);
        a = call_as(TOKEN "x", "GET", "/v1/apps/" APP "/webhooks", NULL, 0,
                    NULL);
        expect_problem(a, 401, NULL, NULL);
        a = call_as(NULL, "POST", "/v1/apps/" APP "/webhooks",
                    "{\"name\":\"a\"," OKURL "," OKEV "}",
                    strlen("{\"name\":\"a\"," OKURL "," OKEV "}"),
                    "Authorization: Basic dXNlcjpwYXNz");
        expect_problem(a, 401, NULL, NULL);
        /* a path unknown is 401 without a token too: nothing is told */
        a = call_as(NULL, "GET", "/v1/nothing", NULL, 0, NULL);
        expect_problem(a, 401, NULL, NULL);
        /* the second token of api.token_env works as the first */
        a = call_as(TOKEN2, "GET", "/v1/apps/" APP "/webhooks", NULL, 0, NULL);
        cr_expect_eq(a->status, 200, "%s", a->body);
        cr_expect_eq(count(APP), 0, "nothing was created");
        expect_problem(call("GET", "/v1/nothing", NULL), 404, NULL, NULL);
        a = call("PUT", "/v1/apps/" APP "/webhooks", "{}");
        expect_problem(a, 405, NULL, NULL);
        cr_expect(strstr(a->headers, "Allow: GET, POST"), "%s", a->headers);
        a = call("POST", "/v1/apps/" APP "/webhooks/wh_x/test/more", "{}");
        expect_problem(a, 404, NULL, NULL);
        /* the log never holds a token or a secret */
        {
                FILE *f = fopen(log_path, "r");
                char line[8192];
                cr_assert_not_null(f);
                while (fgets(line, sizeof(line), f)) {
                        cr_expect_null(strstr(line, TOKEN), "%s", line);
                        cr_expect_null(strstr(line, "whsec_"), "%s", line);
                }
                fclose(f);
        }
}

Test(api, rotate_secret_shows_the_new_one_once)
{
        int64_t v0, t0 = (int64_t)time(NULL) * 1000;
        const char *id = create(APP, "rot", &v0);
        char path[256], first[64];
        it_ans_t *a;

        snprintf(path, sizeof(path),
                 "/v1/apps/" APP "/webhooks/%s/rotate-secret", id);
        a = call("POST", path, NULL);
        cr_assert_eq(a->status, 200, "%s", a->body);
        cr_assert_not_null(it_jstr(a->json, "secret"), "%s", a->body);
        snprintf(first, sizeof(first), "%s", it_jstr(a->json, "secret"));
        cr_expect(!strncmp(first, "whsec_", 6), "%s", first);
        cr_expect_gt(it_jint(a->json, "version"), v0);
        /* the old one signs for api.rotation_grace (1 h here) */
        cr_expect(it_jint(a->json, "previous_secret_until_ms") >=
                                  t0 + 3600000 &&
                          it_jint(a->json, "previous_secret_until_ms") <=
                                  t0 + 3600000 + 60000,
                  "%s", a->body);
        a = call("POST", path, NULL);
        cr_assert_eq(a->status, 200, "%s", a->body);
        cr_expect_str_neq(it_jstr(a->json, "secret"), first);
        a = call("POST", path, "{\"secret\":\"whsec_AAAA\"}");
        expect_problem(a, 400, "body", NULL);
        snprintf(path, sizeof(path), "/v1/apps/" APP "/webhooks/%s", id);
        a = call("GET", path, NULL);
        cr_expect_null(strstr(a->body, "whsec_"), "%s", a->body);
        cr_expect_gt(it_jint(a->json, "previous_secret_until_ms"), t0);
}

Test(api, send_test_reports_what_the_receiver_answered)
{
        char path[256], secret[64], hook[512];
        rx_step_t hostile = {.status = 500,
                             .count = 1,
                             .text = "\x1b]0;pwned\x07 no\r\nresult: OK"};
        it_ans_t *a;
        char id[64];

        snprintf(hook, sizeof(hook),
                 "{\"name\":\"st\",\"url\":\"http://127.0.0.1:%u/st\","
                 "\"events\":[{\"type\":\"nps.score\",\"enabled\":false},"
                 "\"flows.completed\"],\"user_properties\":[\"email\"]}",
                 rx_port(rx));
        a = call("POST", "/v1/apps/" APP "/webhooks", hook);
        cr_assert_eq(a->status, 201, "%s", a->body);
        snprintf(id, sizeof(id), "%s", it_jstr(a->json, "id"));
        snprintf(path, sizeof(path), "/v1/apps/" APP "/webhooks/%s/test", id);
        snprintf(secret, sizeof(secret), "%s", it_jstr(a->json, "secret"));
        cr_assert_eq(rx_set_secret(rx, "/st", secret, 0), 0);

        /* the first type it receives, signed as a delivery is */
        a = call("POST", path, NULL);
        cr_assert_eq(a->status, 200, "%s", a->body);
        cr_expect_str_eq(it_jstr(a->json, "type"), "flows.completed", "%s",
                         a->body);
        cr_expect_str_eq(it_jstr(a->json, "ok"), "true", "%s", a->body);
        cr_expect_eq(it_jint(a->json, "status"), 200, "%s", a->body);
        cr_expect_geq(it_jint(a->json, "time_ms"), 0);
        /* escaped as send-test prints it: a newline is \n */
        cr_expect_str_eq(it_jstr(a->json, "response"), "ok\\n", "%s", a->body);
        pthread_mutex_lock(&got.lock);
        cr_expect_eq(got.n, 1);
        cr_expect_str_eq(got.path, "/st");
        cr_expect_eq(got.verified, 1, "signed with the webhook's secret");
        cr_expect(strstr(got.body, "\"app_token\":\"" APP "\""), "%s",
                  got.body);
        pthread_mutex_unlock(&got.lock);

        /* a type of one's choice */
        a = call("POST", path, "{\"type\":\"nps.score\"}");
        cr_assert_eq(a->status, 200, "%s", a->body);
        cr_expect_str_eq(it_jstr(a->json, "type"), "nps.score");
        expect_problem(call("POST", path, "{\"type\":\"flows.nope\"}"), 422,
                       "type", "no sample event");
        expect_problem(call("POST", path, "{\"type\":5}"), 422, "type",
                       "expected a string");
        expect_problem(call("POST", path, "{\"colour\":1}"), 422, "colour",
                       "unknown field");

        /* a hostile answer comes back escaped */
        cr_assert_eq(rx_set_steps(rx, "/st", &hostile, 1), 0);
        a = call("POST", path, NULL);
        cr_assert_eq(a->status, 200, "%s", a->body);
        cr_expect_str_eq(it_jstr(a->json, "ok"), "false");
        cr_expect_eq(it_jint(a->json, "status"), 500);
        cr_expect_null(strchr(it_jstr(a->json, "response"), '\x1b'), "%s",
                       a->body);
        cr_expect_null(strchr(it_jstr(a->json, "response"), '\n'), "%s",
                       a->body);
        cr_expect(strstr(it_jstr(a->json, "response"), "\\u001b]0;pwned"), "%s",
                  a->body);
        rx_set_script(rx, "/st", NULL);

        /* after a rotation it is signed with the new secret too */
        snprintf(path, sizeof(path),
                 "/v1/apps/" APP "/webhooks/%s/rotate-secret", id);
        a = call("POST", path, NULL);
        cr_assert_eq(a->status, 200, "%s", a->body);
        cr_assert_eq(rx_set_secret(rx, "/st", it_jstr(a->json, "secret"), 0),
                     0);
        snprintf(path, sizeof(path), "/v1/apps/" APP "/webhooks/%s/test", id);
        a = call("POST", path, NULL);
        cr_expect_str_eq(it_jstr(a->json, "ok"), "true", "%s", a->body);
        pthread_mutex_lock(&got.lock);
        cr_expect_eq(got.verified, 1, "signed with the new secret");
        pthread_mutex_unlock(&got.lock);

        /* no one listening: no status, curl's reason */
        snprintf(hook, sizeof(hook), "{\"url\":\"http://127.0.0.1:%u/x\"}",
                 it_free_port());
        snprintf(path, sizeof(path), "/v1/apps/" APP "/webhooks/%s", id);
        a = call("PATCH", path, hook);
        cr_assert_eq(a->status, 200, "%s", a->body);
        snprintf(path, sizeof(path), "/v1/apps/" APP "/webhooks/%s/test", id);
        a = call("POST", path, NULL);
        cr_assert_eq(a->status, 200, "%s", a->body);
        cr_expect_str_eq(it_jstr(a->json, "ok"), "false");
        cr_expect_null(it_jstr(a->json, "status"), "%s", a->body);
        cr_expect(it_jstr(a->json, "error") && *it_jstr(a->json, "error"), "%s",
                  a->body);
        cr_expect_null(strstr(a->body, "whsec_"), "%s", a->body);
}
