/* wk_api_hooks: the webhook resources of the management API (see the
 * header): one app's webhooks in the store, validated by the file's
 * rules (wk_hook_from_body), versions as ETags, secrets shown once. */
#include "wk_api_hooks.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "hb_log.h"
#include "hb_time.h"
#include "wk_hook.h"
#include "wk_sendtest.h"
#include "wk_store.h"

#define LIST_DEFAULT 50
#define LIST_MAX     200
#define ERRS_MAX     8192
/* a Send Test waits at most this for the answer (the listener gives a
 * request a minute) */
#define WK_API_TEST_MAX_MS 30000

/* Creates and changes of this replica one at a time, so that the
 * per-app limit and the name check see each other's writes (writers on
 * two replicas can still race past them: the store keeps both). */
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

/* --- helpers ------------------------------------------------------------ */

/* A new webhook id: "wh_" + 12 hex digits of the time in ms + 20 of
 * random, URL-safe and in creation order (this replica's: the time part
 * is made to increase, by 1 ms for ids made within one). @returns 0 or
 * -1. */
static int new_id(char out[36])
{
        static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
        static uint64_t last;
        static const char hex[] = "0123456789abcdef";
        unsigned char rnd[10];
        uint64_t ms = (uint64_t)hb_time_now_ms();

        pthread_mutex_lock(&lock);
        if (ms <= last)
                ms = last + 1;
        last = ms;
        pthread_mutex_unlock(&lock);

        if (RAND_bytes(rnd, sizeof(rnd)) != 1)
                return -1;
        memcpy(out, "wh_", 3);
        for (int i = 0; i < 12; i++)
                out[3 + i] = hex[(ms >> (4 * (11 - i))) & 0xf];
        for (int i = 0; i < 10; i++) {
                out[15 + 2 * i] = hex[rnd[i] >> 4];
                out[16 + 2 * i] = hex[rnd[i] & 0xf];
        }
        out[35] = '\0';
        return 0;
}

/* The answer for webhook \p h at \p version: its view, id, app,
 * version, whether it signs, the end of a rotation; \p secret_once: the
 * secret hookbridge just made (shown this once). */
static json_object *representation(const wk_hook_t *h, int64_t version,
                                   const char *secret_once)
{
        json_object *o = wk_hook_view(h, 0);

        if (!o)
                return NULL;
        json_object_object_add(o, "id", json_object_new_string(h->id));
        json_object_object_add(o, "app_token",
                               json_object_new_string(h->app_token));
        json_object_object_add(o, "version", json_object_new_int64(version));
        json_object_object_add(o, "signed",
                               json_object_new_boolean(h->secret != NULL));
        if (h->secret_previous &&
            h->secret_previous_until_ms > hb_time_now_ms())
                json_object_object_add(
                        o, "previous_secret_until_ms",
                        json_object_new_int64(h->secret_previous_until_ms));
        if (secret_once)
                json_object_object_add(o, "secret",
                                       json_object_new_string(secret_once));
        return o;
}

static void etag(wk_api_resp_t *resp, int64_t version)
{
        char v[32];

        snprintf(v, sizeof(v), "\"%" PRId64 "\"", version);
        wk_api_header(resp, "ETag", v);
}

/* The webhook of the path ({app}, {id}) with its version, or NULL with a
 * 404 answered (also for an id of another app: SPEC §7). */
static wk_hook_t *path_hook(const wk_api_env_t *env, const wk_api_req_t *req,
                            wk_api_resp_t *resp, int64_t *version)
{
        wk_hook_t *h = wk_store_get(env->store, req->id, version);

        if (h && h->app_token && !strcmp(h->app_token, req->app))
                return h;
        wk_hook_free(h);
        wk_api_problem(resp, 404, NULL, "no such webhook in this app", NULL);
        return NULL;
}

/* If-Match against \p version: 0 when it holds or is absent, -1 with 412
 * (or 400 for a malformed one) answered. */
static int if_match(const wk_api_req_t *req, int64_t version,
                    wk_api_resp_t *resp)
{
        const char *m = req->if_match, *p;
        char *end;
        long long v;

        if (!m || !strcmp(m, "*"))
                return 0;
        p = m + (*m == '"');
        v = strtoll(p, &end, 10);
        if (end == p || v < 0 ||
            (*m == '"' ? strcmp(end, "\"") : *end != '\0')) {
                wk_api_problem(resp, 400, NULL,
                               "If-Match is the webhook's ETag, e.g. \"42\"",
                               "If-Match: expected \"<version>\"");
                return -1;
        }
        if (v == version)
                return 0;
        wk_api_problem(resp, 412, NULL,
                       "the webhook has changed since that version; GET it "
                       "again and retry with its ETag",
                       NULL);
        etag(resp, version);
        return -1;
}

/* The app's webhooks; -1 with 503 answered. */
static long app_refs(const wk_api_env_t *env, const wk_api_req_t *req,
                     wk_api_resp_t *resp, wk_store_ref_t **refs)
{
        long n = wk_store_app_refs(env->store, req->app, refs);

        if (n < 0)
                wk_api_problem(resp, 503, NULL, "out of memory", NULL);
        return n;
}

/* Another webhook of the app called \p name (not \p id): 409 answered. */
static int name_taken(const wk_store_ref_t *refs, long n, const char *name,
                      const char *id, wk_api_resp_t *resp)
{
        for (long i = 0; i < n; i++) {
                if (strcmp(refs[i].name, name) ||
                    (id && !strcmp(refs[i].id, id)))
                        continue;
                wk_api_problem(resp, 409, NULL,
                               "webhook names are unique within an app",
                               "name: already used by another webhook of "
                               "this app");
                return 1;
        }
        return 0;
}

/* A store write's result: 0 ok; else answered (409, 412, 503). */
static int write_result(int rc, const char *err, const wk_api_req_t *req,
                        wk_api_resp_t *resp)
{
        if (rc == 0)
                return 0;
        if (rc == WK_STORE_CONFLICT) {
                if (req->if_match)
                        wk_api_problem(resp, 412, NULL,
                                       "the webhook changed meanwhile; GET "
                                       "it again and retry",
                                       NULL);
                else
                        wk_api_problem(resp, 409, NULL,
                                       "another change of this webhook came "
                                       "first; GET it again and retry",
                                       NULL);
                return -1;
        }
        hb_log(HB_LOG_WARN, "api: store write failed", "app=%s error=\"%s\"",
               req->app, err);
        wk_api_problem(resp, 503, NULL, "the store did not take the change",
                       NULL);
        return -1;
}

/* --- handlers ----------------------------------------------------------- */

void wk_api_hooks_list(const wk_api_env_t *env, const wk_api_req_t *req,
                       wk_api_resp_t *resp)
{
        const char *ls = wk_api_query(req, "limit");
        const char *after = wk_api_query(req, "after");
        wk_store_ref_t *refs = NULL;
        json_object *o, *data;
        long n, i, limit = LIST_DEFAULT, shown = 0;
        char *end, *last = NULL;

        if (ls) {
                limit = strtol(ls, &end, 10);
                if (end == ls || *end || limit < 1 || limit > LIST_MAX) {
                        wk_api_problem(resp, 400, NULL,
                                       "limit is 1 to 200 (default 50)",
                                       "limit: expected 1 to 200");
                        return;
                }
        }
        if ((n = app_refs(env, req, resp, &refs)) < 0)
                return;
        o = json_object_new_object();
        data = json_object_new_array();
        for (i = 0; o && data && i < n && shown < limit; i++) {
                int64_t v;
                wk_hook_t *h;

                if (after && strcmp(refs[i].id, after) <= 0)
                        continue;
                h = wk_store_get(env->store, refs[i].id, &v);
                if (!h)
                        continue; /* removed meanwhile */
                json_object_array_add(data, representation(h, v, NULL));
                free(last);
                last = strdup(h->id);
                wk_hook_free(h);
                shown++;
        }
        /* more after this page (sorted: every ref left is past it): the
         * cursor is its last id */
        json_object_object_add(o, "data", data);
        json_object_object_add(
                o, "next", i < n && last ? json_object_new_string(last) : NULL);
        free(last);
        wk_store_refs_free(refs, n);
        wk_api_json(resp, 200, o);
}

void wk_api_hooks_create(const wk_api_env_t *env, const wk_api_req_t *req,
                         wk_api_resp_t *resp)
{
        const cfg_api_t *ac = cfg_api(env->cfg);
        json_object *body = wk_api_body(req, resp);
        char id[36], secret[WK_HOOK_SECRET_LEN], errs[ERRS_MAX];
        char loc[128 + CFG_APP_TOKEN_MAX];
        wk_store_ref_t *refs = NULL;
        wk_hook_t *h = NULL;
        const char *made = NULL;
        json_object *sv = NULL;
        int64_t version = 0;
        long n = -1;
        int rc, given;

        if (!body)
                return;
        if (!json_object_is_type(body, json_type_object)) {
                wk_api_problem(resp, 400, NULL, "the body is a JSON object",
                               "body: expected a JSON object");
                goto out;
        }
        /* none given (or null): one is made, and shown this once */
        given = json_object_object_get_ex(body, "secret", &sv) && sv;
        if (new_id(id) == -1 || (!given && wk_hook_secret_new(secret) == -1)) {
                wk_api_problem(resp, 503, NULL, "no random bytes", NULL);
                goto out;
        }
        if (!given) {
                json_object_object_add(body, "secret",
                                       json_object_new_string(secret));
                made = secret;
        }
        h = wk_hook_from_body(body, id, req->app, errs, sizeof(errs));
        if (!h) {
                wk_api_problem(resp, 422, NULL, "the webhook is not valid",
                               errs);
                goto out;
        }
        pthread_mutex_lock(&write_lock);
        if ((n = app_refs(env, req, resp, &refs)) < 0) {
                pthread_mutex_unlock(&write_lock);
                goto out;
        }
        if (n >= ac->max_webhooks_per_app) {
                snprintf(errs, sizeof(errs),
                         "app_token: has %ld webhooks, the most "
                         "api.max_webhooks_per_app allows",
                         n);
                wk_api_problem(resp, 409, NULL,
                               "the app has as many webhooks as it may", errs);
                pthread_mutex_unlock(&write_lock);
                goto out;
        }
        if (name_taken(refs, n, h->name, NULL, resp)) {
                pthread_mutex_unlock(&write_lock);
                goto out;
        }
        rc = wk_store_put(env->store, h, 0, &version, errs, sizeof(errs));
        pthread_mutex_unlock(&write_lock);
        if (write_result(rc, errs, req, resp))
                goto out;
        hb_log(HB_LOG_INFO, "api: webhook created", "app=%s id=%s version=%lld",
               h->app_token, h->id, (long long)version);
        snprintf(loc, sizeof(loc), "/v1/apps/%s/webhooks/%s", req->app, id);
        wk_api_json(resp, 201, representation(h, version, made));
        wk_api_header(resp, "Location", loc);
        etag(resp, version);
out:
        explicit_bzero(secret, sizeof(secret));
        wk_store_refs_free(refs, n);
        wk_hook_free(h);
        json_object_put(body);
}

void wk_api_hooks_get(const wk_api_env_t *env, const wk_api_req_t *req,
                      wk_api_resp_t *resp)
{
        int64_t version = 0;
        wk_hook_t *h = path_hook(env, req, resp, &version);

        if (!h)
                return;
        wk_api_json(resp, 200, representation(h, version, NULL));
        etag(resp, version);
        wk_hook_free(h);
}

void wk_api_hooks_patch(const wk_api_env_t *env, const wk_api_req_t *req,
                        wk_api_resp_t *resp)
{
        json_object *body = NULL, *merged = NULL, *v0 = NULL;
        wk_store_ref_t *refs = NULL;
        wk_hook_t *cur = NULL, *h = NULL;
        int64_t version = 0, nv = 0;
        char errs[ERRS_MAX];
        long n = -1;
        int rc;

        if (!(cur = path_hook(env, req, resp, &version)) ||
            if_match(req, version, resp) || !(body = wk_api_body(req, resp)))
                goto out;
        if (!json_object_is_type(body, json_type_object)) {
                wk_api_problem(resp, 400, NULL, "the body is a JSON object",
                               "body: expected a JSON object");
                goto out;
        }
        /* a webhook of the API always signs (SPEC §7): its secret is
         * changed, never removed */
        if (json_object_object_get_ex(body, "secret", &v0) && !v0) {
                wk_api_problem(resp, 422, NULL, "the change is not valid",
                               "secret: cannot be removed; give a new one "
                               "or POST .../rotate-secret");
                goto out;
        }
        /* the webhook as it is (its secret too, in memory only) with the
         * fields given replacing its own, checked as a whole */
        merged = wk_hook_view(cur, 1);
        if (!merged) {
                wk_api_problem(resp, 503, NULL, "out of memory", NULL);
                goto out;
        }
        json_object_object_foreach(body, k, v)
        {
                json_object_object_add(merged, k, json_object_get(v));
        }
        h = wk_hook_from_body(merged, cur->id, req->app, errs, sizeof(errs));
        if (!h) {
                wk_api_problem(resp, 422, NULL, "the change is not valid",
                               errs);
                goto out;
        }
        /* a rotation under way goes on */
        if (cur->secret_previous && h->secret &&
            !(h->secret_previous = strdup(cur->secret_previous))) {
                wk_api_problem(resp, 503, NULL, "out of memory", NULL);
                goto out;
        }
        h->secret_previous_until_ms = cur->secret_previous_until_ms;
        pthread_mutex_lock(&write_lock);
        if (strcmp(h->name, cur->name) &&
            ((n = app_refs(env, req, resp, &refs)) < 0 ||
             name_taken(refs, n, h->name, h->id, resp))) {
                pthread_mutex_unlock(&write_lock);
                goto out;
        }
        rc = wk_store_put(env->store, h, version, &nv, errs, sizeof(errs));
        pthread_mutex_unlock(&write_lock);
        if (write_result(rc, errs, req, resp))
                goto out;
        hb_log(HB_LOG_INFO, "api: webhook changed", "app=%s id=%s version=%lld",
               h->app_token, h->id, (long long)nv);
        wk_api_json(resp, 200, representation(h, nv, NULL));
        etag(resp, nv);
out:
        wk_store_refs_free(refs, n);
        json_object_put(merged);
        json_object_put(body);
        wk_hook_free(h);
        wk_hook_free(cur);
}

void wk_api_hooks_delete(const wk_api_env_t *env, const wk_api_req_t *req,
                         wk_api_resp_t *resp)
{
        int64_t version = 0, nv = 0;
        wk_hook_t *cur = path_hook(env, req, resp, &version);
        char errs[1024];
        int rc;

        if (!cur || if_match(req, version, resp))
                goto out;
        rc = wk_store_delete(env->store, cur->id, version, &nv, errs,
                             sizeof(errs));
        if (write_result(rc, errs, req, resp))
                goto out;
        hb_log(HB_LOG_INFO, "api: webhook removed", "app=%s id=%s",
               cur->app_token, cur->id);
        wk_api_status(resp, 204);
out:
        wk_hook_free(cur);
}

/* A store webhook as the file's loader would have written it, for Send
 * Test: its id as name, the delivery defaults; \p evs (room for its
 * events + 1) gets the types switched on ("*" when every one is). */
static void as_webhook(const cfg_t *cfg, const wk_hook_t *h, const char **evs,
                       cfg_webhook_t *c)
{
        const cfg_delivery_t *d = cfg_delivery(cfg);
        int64_t now = hb_time_now_ms();

        memset(c, 0, sizeof(*c));
        c->name = h->id;
        c->app_token = h->app_token;
        c->url = h->url;
        c->enabled = 1; /* a disabled webhook can be tested */
        for (size_t i = 0; i < h->event_count; i++) {
                if (!h->events[i].enabled)
                        continue;
                if (!strcmp(h->events[i].type, "*")) {
                        evs[0] = "*";
                        c->event_count = 1;
                        break;
                }
                evs[c->event_count++] = h->events[i].type;
        }
        c->events = evs;
        c->user_props = (const char *const *)h->user_props;
        c->user_prop_count = h->user_prop_count;
        c->company_props = (const char *const *)h->company_props;
        c->company_prop_count = h->company_prop_count;
        c->secret = h->secret;
        /* signed as a real delivery is: both secrets during a rotation */
        if (h->secret_previous && now < h->secret_previous_until_ms)
                c->secret_previous = h->secret_previous;
        c->signature = h->signature;
        c->headers = (const char *const *)h->headers;
        c->header_count = h->header_count;
        c->timeout_ms = d->timeout_ms;
        c->retry = d->retry;
        c->max_in_flight = 1;
}

void wk_api_hooks_test(const wk_api_env_t *env, const wk_api_req_t *req,
                       wk_api_resp_t *resp)
{
        int64_t version = 0;
        wk_hook_t *h = path_hook(env, req, resp, &version);
        const char *type = NULL, **evs = NULL;
        json_object *body = NULL, *o;
        char errs[1024];
        cfg_webhook_t wh;
        wk_sendtest_t r;
        int rc;

        memset(&r, 0, sizeof(r));
        if (!h)
                return;
        if (req->body_len) {
                json_object *t = NULL;

                if (!(body = wk_api_body(req, resp)))
                        goto out;
                if (!json_object_is_type(body, json_type_object)) {
                        wk_api_problem(resp, 400, NULL,
                                       "the body is a JSON object",
                                       "body: expected a JSON object");
                        goto out;
                }
                json_object_object_foreach(body, k, v)
                {
                        (void)v;
                        if (strcmp(k, "type")) {
                                snprintf(errs, sizeof(errs),
                                         "%.64s: unknown field; known: type",
                                         k);
                                wk_api_problem(resp, 422, NULL,
                                               "the test is not valid", errs);
                                goto out;
                        }
                }
                if (json_object_object_get_ex(body, "type", &t) && t) {
                        if (!json_object_is_type(t, json_type_string)) {
                                wk_api_problem(resp, 422, NULL,
                                               "the test is not valid",
                                               "type: expected a string");
                                goto out;
                        }
                        type = json_object_get_string(t);
                }
        }
        if (!(evs = calloc(h->event_count + 1, sizeof(*evs)))) {
                wk_api_problem(resp, 503, NULL, "out of memory", NULL);
                goto out;
        }
        as_webhook(env->cfg, h, evs, &wh);
        rc = wk_sendtest_run(env->cfg, &wh, type, WK_API_TEST_MAX_MS, NULL,
                             NULL, &r, errs, sizeof(errs));
        if (rc == WK_SENDTEST_NO_SAMPLE) {
                char field[1100];

                snprintf(field, sizeof(field), "type: %s", errs);
                wk_api_problem(resp, 422, NULL,
                               "there is no sample event of that type", field);
                goto out;
        }
        if (rc) {
                wk_api_problem(resp, 503, NULL, errs, NULL);
                goto out;
        }
        o = json_object_new_object();
        json_object_object_add(o, "event_id",
                               json_object_new_string(r.event_id));
        json_object_object_add(o, "type", json_object_new_string(r.type));
        json_object_object_add(o, "ok", json_object_new_boolean(r.ok));
        json_object_object_add(o, "status",
                               r.status ? json_object_new_int((int)r.status)
                                        : NULL);
        if (!r.status)
                json_object_object_add(o, "error",
                                       json_object_new_string(r.error));
        json_object_object_add(
                o, "time_ms",
                json_object_new_int64((int64_t)(r.seconds * 1000.0 + 0.5)));
        json_object_object_add(o, "response",
                               json_object_new_string(r.response));
        json_object_object_add(o, "payload", json_object_new_string(r.payload));
        hb_log(HB_LOG_INFO, "api: send test", "app=%s id=%s type=%s status=%ld",
               h->app_token, h->id, r.type, r.status);
        wk_api_json(resp, 200, o);
out:
        wk_sendtest_clear(&r);
        free(evs);
        json_object_put(body);
        wk_hook_free(h);
}

void wk_api_hooks_rotate(const wk_api_env_t *env, const wk_api_req_t *req,
                         wk_api_resp_t *resp)
{
        const cfg_api_t *ac = cfg_api(env->cfg);
        int64_t version = 0, nv = 0;
        wk_hook_t *cur = path_hook(env, req, resp, &version), *h = NULL;
        char secret[WK_HOOK_SECRET_LEN], errs[1024];
        json_object *o;
        int rc;

        if (!cur || if_match(req, version, resp))
                goto out;
        if (req->body_len) {
                wk_api_problem(resp, 400, NULL,
                               "rotate-secret takes no body: hookbridge makes "
                               "the new secret",
                               "body: expected none");
                goto out;
        }
        if (wk_hook_secret_new(secret) == -1 || !(h = wk_hook_dup(cur))) {
                wk_api_problem(resp, 503, NULL, "no random bytes", NULL);
                goto out;
        }
        /* the old secret keeps signing for api.rotation_grace */
        if (h->secret_previous) {
                explicit_bzero(h->secret_previous, strlen(h->secret_previous));
                free(h->secret_previous);
        }
        h->secret_previous = h->secret;
        h->secret_previous_until_ms =
                h->secret ? hb_time_now_ms() + ac->rotation_grace_ms : 0;
        if (!(h->secret = strdup(secret))) {
                wk_api_problem(resp, 503, NULL, "out of memory", NULL);
                goto out;
        }
        rc = wk_store_put(env->store, h, version, &nv, errs, sizeof(errs));
        if (write_result(rc, errs, req, resp))
                goto out;
        hb_log(HB_LOG_INFO, "api: secret rotated", "app=%s id=%s version=%lld",
               h->app_token, h->id, (long long)nv);
        o = representation(h, nv, secret);
        wk_api_json(resp, 200, o);
        etag(resp, nv);
out:
        explicit_bzero(secret, sizeof(secret));
        wk_hook_free(h);
        wk_hook_free(cur);
}
