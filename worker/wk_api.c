/* wk_api: the management API's listener -- authentication, bodies,
 * routing and answers (see the header). */
#include "wk_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "hb_log.h"
#include "hb_time.h"
#include "wk_json.h"
#include "wk_listen.h"
#include "wk_store.h"

/* A request may wait for the store (a write read back, up to 10 s) or a
 * Send Test (its time-out, capped at WK_API_TEST_MAX_MS by the handler):
 * a minute each, and several answered at once. */
#define API_REQUEST_MAX_MS 60000
#define API_THREADS        4
/* the portal's browsers open 6 connections each, and users behind one
 * NAT share an address: 8 (the admin listener's) stalled the second */
#define API_PER_ADDR_LIMIT 32u
#define API_APP_MAX        (CFG_APP_TOKEN_MAX + 1)

struct wk_api_s {
        wk_listen_t *listen;
        wk_api_env_t env;
        wk_api_verify_fn *portal_verify;
        void *portal_opaque;
};

/* One request being read. */
typedef struct api_conn_s {
        char *body;
        size_t len;
        int too_big;
        int64_t t0_ms;
} api_conn_t;

/* --- answers ------------------------------------------------------------ */

static const char *phrase(unsigned status)
{
        switch (status) {
        case 400:
                return "Bad Request";
        case 401:
                return "Unauthorized";
        case 403:
                return "Forbidden";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 409:
                return "Conflict";
        case 412:
                return "Precondition Failed";
        case 413:
                return "Content Too Large";
        case 415:
                return "Unsupported Media Type";
        case 421:
                return "Misdirected Request";
        case 422:
                return "Unprocessable Content";
        case 428:
                return "Precondition Required";
        case 500:
                return "Internal Server Error";
        case 501:
                return "Not Implemented";
        case 502:
                return "Bad Gateway";
        case 503:
                return "Service Unavailable";
        default:
                return "Error";
        }
}

static void resp_set(wk_api_resp_t *resp, unsigned status, const char *type,
                     const char *text)
{
        free(resp->body);
        resp->status = status;
        resp->type = type;
        resp->body = strdup(text);
        resp->len = resp->body ? strlen(resp->body) : 0;
}

void wk_api_json(wk_api_resp_t *resp, unsigned status, json_object *o)
{
        if (!o) {
                wk_api_problem(resp, 500, NULL, "out of memory", NULL);
                return;
        }
        resp_set(resp, status, "application/json",
                 json_object_to_json_string_ext(
                         o, JSON_C_TO_STRING_PLAIN |
                                    JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

/* \p s[0, n) as a JSON string that is valid UTF-8 whatever it holds (a
 * value a message cut inside a character with "%.64s", bytes from the
 * path): hb_log_printable's \xNN for a byte that is not UTF-8, \uXXXX
 * for controls; other text as it is. */
static json_object *text(const char *s, size_t n)
{
        size_t size = 6 * n + 1; /* "\u00XX" for each byte at most */
        char *buf = malloc(size);
        json_object *o;

        if (!buf)
                return NULL;
        o = json_object_new_string(hb_log_printable(buf, size, s, n));
        free(buf);
        return o;
}

void wk_api_problem(wk_api_resp_t *resp, unsigned status, const char *title,
                    const char *detail, const char *fields)
{
        json_object *o = json_object_new_object(), *errs;

        if (!o) {
                resp_set(resp, 500, "text/plain; charset=utf-8",
                         "out of memory\n");
                return;
        }
        json_object_object_add(o, "type",
                               json_object_new_string("about:blank"));
        json_object_object_add(
                o, "title",
                json_object_new_string(title ? title : phrase(status)));
        json_object_object_add(o, "status", json_object_new_int((int)status));
        if (detail)
                json_object_object_add(o, "detail",
                                       text(detail, strlen(detail)));
        if (fields && *fields) {
                errs = json_object_new_array();
                for (const char *l = fields; errs && *l;) {
                        size_t n = strcspn(l, "\n");
                        const char *sep = memchr(l, ':', n);
                        json_object *e = json_object_new_object();

                        /* "field: message"; a line without a field names
                         * the body */
                        if (sep && sep[1] == ' ' &&
                            !memchr(l, ' ', (size_t)(sep - l))) {
                                json_object_object_add(
                                        e, "field", text(l, (size_t)(sep - l)));
                                json_object_object_add(
                                        e, "message",
                                        text(sep + 2,
                                             n - (size_t)(sep + 2 - l)));
                        } else {
                                json_object_object_add(
                                        e, "field",
                                        json_object_new_string("body"));
                                json_object_object_add(e, "message",
                                                       text(l, n));
                        }
                        json_object_array_add(errs, e);
                        l += n;
                        l += *l == '\n';
                }
                json_object_object_add(o, "errors", errs);
        }
        resp_set(resp, status, "application/problem+json",
                 json_object_to_json_string_ext(
                         o, JSON_C_TO_STRING_PLAIN |
                                    JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

void wk_api_status(wk_api_resp_t *resp, unsigned status)
{
        resp_set(resp, status, NULL, "");
}

void wk_api_header(wk_api_resp_t *resp, const char *name, const char *value)
{
        size_t i = resp->hdr_count;

        if (i >= sizeof(resp->hdr_name) / sizeof(resp->hdr_name[0]))
                return;
        resp->hdr_name[i] = strdup(name);
        resp->hdr_value[i] = strdup(value);
        if (!resp->hdr_name[i] || !resp->hdr_value[i]) {
                free(resp->hdr_name[i]);
                free(resp->hdr_value[i]);
                return;
        }
        resp->hdr_count++;
}

const char *wk_api_query(const wk_api_req_t *req, const char *name)
{
        return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
                                           name);
}

json_object *wk_api_body(const wk_api_req_t *req, wk_api_resp_t *resp)
{
        char reason[256], detail[320];
        json_object *o;

        if (!req->body_len) {
                wk_api_problem(resp, 400, NULL,
                               "the request needs a JSON object as its body",
                               "body: is required");
                return NULL;
        }
        o = wk_json_parse(req->body, req->body_len, reason, sizeof(reason));
        if (!o) {
                snprintf(detail, sizeof(detail), "body: not a JSON object: %s",
                         reason);
                wk_api_problem(resp, 400, NULL,
                               "the body is not a valid JSON object", detail);
        }
        return o;
}

/* --- routing ------------------------------------------------------------ */

/* Whether \p path matches \p pat; the captures go into \p req (copied
 * into \p buf, which must be as long as \p path). */
static int match(const char *pat, const char *path, wk_api_req_t *req,
                 char *buf)
{
        const char *p = pat, *s = path;
        char *out = buf;

        req->app = req->id = req->rest = NULL;
        while (*p) {
                if (*p == '*' && !p[1]) {
                        req->rest = s;
                        return 1;
                }
                if (*p == '{') {
                        const char *pe = strchr(p, '}');
                        size_t n = strcspn(s, "/");

                        if (!pe || n == 0)
                                return 0;
                        memcpy(out, s, n);
                        out[n] = '\0';
                        if (!strncmp(p, "{app}", 5))
                                req->app = out;
                        else
                                req->id = out;
                        out += n + 1;
                        s += n;
                        p = pe + 1;
                        continue;
                }
                if (*p != *s)
                        return 0;
                p++;
                s++;
        }
        return *s == '\0';
}

/* The authority of the request: 1 an operator, 2 a portal token (its app
 * into \p app), 0 none. */
static int authority(const wk_api_t *api, struct MHD_Connection *conn,
                     char *app, size_t app_size)
{
        const char *bearer;

        if (!wk_listen_has_token(api->listen))
                return 1;
        bearer = wk_listen_bearer(conn);
        if (!bearer)
                return 0;
        if (wk_listen_token_ok(api->listen, bearer))
                return 1;
        if (api->portal_verify &&
            api->portal_verify(api->portal_opaque, bearer, app, app_size) == 1)
                return 2;
        return 0;
}

static void route(wk_api_t *api, wk_api_req_t *req, wk_api_resp_t *resp)
{
        const wk_api_route_t *hit = NULL, *path_hit = NULL;
        char *buf = malloc(strlen(req->path) + 1);
        char allow[128] = "", scope[API_APP_MAX];
        const char *method = req->method;
        int who;

        if (!buf) {
                wk_api_problem(resp, 500, NULL, "out of memory", NULL);
                return;
        }
        if (!strcmp(method, MHD_HTTP_METHOD_HEAD))
                method = MHD_HTTP_METHOD_GET; /* libmicrohttpd drops the body */
        for (const wk_api_route_t *r = wk_api_routes; r->method; r++) {
                wk_api_req_t probe = *req;

                if (!match(r->pattern, req->path, &probe, buf))
                        continue;
                if (!path_hit)
                        path_hit = r;
                if (!strstr(allow, r->method)) {
                        size_t n = strlen(allow);

                        snprintf(allow + n, sizeof(allow) - n, "%s%s",
                                 n ? ", " : "", r->method);
                }
                if (!hit && !strcmp(r->method, method))
                        hit = r;
        }
        if (!(hit ? hit : path_hit) ||
            !((hit ? hit : path_hit)->flags & WK_API_PUBLIC)) {
                who = authority(api, req->conn, scope, sizeof(scope));
                if (!who) {
                        wk_api_problem(resp, 401, NULL,
                                       wk_listen_bearer(req->conn)
                                               ? "the bearer token is not "
                                                 "valid here"
                                               : "an Authorization: Bearer "
                                                 "token is required",
                                       NULL);
                        goto out;
                }
                req->scope_app = who == 2 ? scope : NULL;
        }
        if (!path_hit) {
                wk_api_problem(resp, 404, NULL, "no such resource", NULL);
                goto out;
        }
        if (!hit) {
                wk_api_problem(resp, 405, NULL,
                               "the resource does not take this method", NULL);
                wk_api_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
                goto out;
        }
        match(hit->pattern, req->path, req, buf);
        if (req->app && !cfg_app_token_ok(req->app)) {
                wk_api_problem(resp, 404, NULL, "no such app",
                               "app_token: use 1 to 128 of A-Z a-z 0-9 - . "
                               "_ ~");
                goto out;
        }
        if (req->scope_app && ((hit->flags & WK_API_OPERATOR) || !req->app ||
                               strcmp(req->app, req->scope_app))) {
                wk_api_problem(resp, 403, NULL,
                               "this token reaches one app's webhooks only",
                               NULL);
                goto out;
        }
        /* a replica that has not read the whole store yet would answer
         * from an old state (and write on old versions) */
        if (!(hit->flags & WK_API_PUBLIC) && !wk_store_ready(api->env.store)) {
                wk_api_problem(resp, 503, NULL,
                               "the webhook store is not caught up yet; "
                               "retry in a moment",
                               NULL);
                wk_api_header(resp, "Retry-After", "1");
                goto out;
        }
        hit->handler(&api->env, req, resp);
        if (!resp->body)
                wk_api_problem(resp, 500, NULL, "the handler gave no answer",
                               NULL);
out:
        free(buf);
}

/* --- libmicrohttpd ------------------------------------------------------ */

static enum MHD_Result send_resp(wk_api_t *api, struct MHD_Connection *conn,
                                 wk_api_resp_t *resp)
{
        struct MHD_Response *r;
        enum MHD_Result ret;

        wk_listen_busy(api->listen, conn);
        r = wk_listen_response(resp->type, resp->body ? resp->body : (char *)"",
                               resp->len, resp->body != NULL);
        resp->body = NULL; /* libmicrohttpd's now */
        for (size_t i = 0; i < resp->hdr_count; i++) {
                /* a handler's own header replaces the listener's default
                 * (the portal's Cache-Control: no-cache, not no-store) */
                const char *dflt =
                        r ? MHD_get_response_header(r, resp->hdr_name[i])
                          : NULL;
                if (dflt)
                        MHD_del_response_header(r, resp->hdr_name[i], dflt);
                if (r)
                        MHD_add_response_header(r, resp->hdr_name[i],
                                                resp->hdr_value[i]);
                free(resp->hdr_name[i]);
                free(resp->hdr_value[i]);
        }
        resp->hdr_count = 0;
        if (!r)
                return MHD_NO;
        if (resp->status == MHD_HTTP_UNAUTHORIZED)
                MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                        "Bearer realm=\"hookbridge\"");
        ret = MHD_queue_response(conn, resp->status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result answer_problem(wk_api_t *api,
                                      struct MHD_Connection *conn,
                                      unsigned status, const char *detail)
{
        wk_api_resp_t resp = {0};

        wk_api_problem(&resp, status, NULL, detail, NULL);
        return send_resp(api, conn, &resp);
}

/* No Origin (not a browser's cross-origin request), or the origin of
 * this listener as the Host header names it: a page elsewhere cannot have
 * a browser on this host post to a listener without a token (CSRF). */
static int same_origin(struct MHD_Connection *conn)
{
        const char *o =
                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
        const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_HOST);

        if (!o)
                return 1;
        if (!h)
                return 0;
        if (!strncasecmp(o, "http://", 7))
                o += 7;
        else if (!strncasecmp(o, "https://", 8))
                o += 8;
        else
                return 0; /* "null" and the like */
        return !strcasecmp(o, h);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
        wk_api_t *api = cls;
        api_conn_t *c = *con_cls;
        wk_api_resp_t resp = {0};
        wk_api_req_t req = {0};
        enum MHD_Result ret;
        const char *cl;

        (void)version;
        if (!c) {
                c = calloc(1, sizeof(*c));
                if (!c)
                        return MHD_NO;
                c->t0_ms = hb_time_mono_ms();
                *con_cls = c;
                cl = MHD_lookup_connection_value(
                        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (cl && strtoull(cl, NULL, 10) > WK_API_BODY_MAX)
                        return answer_problem(api, conn, 413,
                                              "a request body is at most "
                                              "65536 bytes");
                return MHD_YES;
        }
        if (*upload_data_size) {
                size_t n = *upload_data_size;

                *upload_data_size = 0;
                if (c->too_big || c->len + n > WK_API_BODY_MAX) {
                        c->too_big = 1; /* read and dropped */
                        return MHD_YES;
                }
                char *b = realloc(c->body, c->len + n + 1);
                if (!b)
                        return MHD_NO;
                memcpy(b + c->len, upload_data, n);
                c->body = b;
                c->len += n;
                c->body[c->len] = '\0';
                return MHD_YES;
        }
        if (c->too_big)
                return answer_problem(api, conn, 413,
                                      "a request body is at most 65536 "
                                      "bytes");
        if (!wk_listen_has_token(api->listen) &&
            !wk_listen_host_allowed(api->listen, conn))
                return answer_problem(api, conn, 421,
                                      "the Host header does not name this "
                                      "listener; without api.token only "
                                      "localhost, 127.0.0.1, [::1] or the "
                                      "listener's own address are answered");
        if (!wk_listen_has_token(api->listen) && !same_origin(conn))
                return answer_problem(api, conn, 403,
                                      "a request from another origin (a web "
                                      "page's) is refused: without api.token "
                                      "anyone's browser could change the "
                                      "webhooks");
        req.method = method;
        req.path = url;
        req.body = c->body ? c->body : "";
        req.body_len = c->len;
        req.if_match = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_IF_MATCH);
        req.conn = conn;
        route(api, &req, &resp);
        hb_log(HB_LOG_INFO, "api: request",
               "method=%s path=\"%.200s\" status=%u ms=%lld", method, url,
               resp.status, (long long)(hb_time_mono_ms() - c->t0_ms));
        ret = send_resp(api, conn, &resp);
        return ret;
}

static void on_completed(void *opaque, void **con_cls)
{
        api_conn_t *c = *con_cls;

        (void)opaque;
        if (!c)
                return;
        free(c->body);
        free(c);
        *con_cls = NULL;
}

wk_api_t *wk_api_start(const wk_api_conf_t *conf, char *errstr,
                       size_t errstr_size)
{
        const cfg_api_t *ac = cfg_api(conf->cfg);
        wk_listen_conf_t lc = {.what = "api.listen",
                               .listen = ac->listen,
                               .tokens = ac->tokens,
                               .token_count = ac->token_count,
                               .handler = on_request,
                               .completed = on_completed,
                               .threads = conf->threads > 0
                                                  ? (unsigned)conf->threads
                                                  : API_THREADS,
                               .request_max_ms = API_REQUEST_MAX_MS,
                               .per_addr_limit = API_PER_ADDR_LIMIT};
        wk_api_t *api;

        if (!conf->store) {
                snprintf(errstr, errstr_size, "api: no store");
                return NULL;
        }
        api = calloc(1, sizeof(*api));
        if (!api) {
                snprintf(errstr, errstr_size, "api: out of memory");
                return NULL;
        }
        api->env.cfg = conf->cfg;
        api->env.store = conf->store;
        api->env.health = conf->health;
        api->env.worker = conf->worker;
        api->portal_verify = conf->portal_verify;
        api->portal_opaque = conf->portal_opaque;
        lc.opaque = api;
        lc.self = &api->listen;
        if (!wk_listen_start(&lc, errstr, errstr_size)) {
                free(api);
                return NULL;
        }
        return api;
}

uint16_t wk_api_port(const wk_api_t *api)
{
        return api ? wk_listen_port(api->listen) : 0;
}

void wk_api_stop(wk_api_t *api)
{
        if (!api)
                return;
        wk_listen_stop(api->listen);
        free(api);
}
