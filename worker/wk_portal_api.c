/* wk_portal_api: the portal's handlers on the API listener (see the
 * header). */
#include "wk_portal_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "hb_log.h"
#include "wk_portal.h"
#include "wk_portal_token.h"

#define TTL_MIN 60

void wk_portal_api_file(const wk_api_env_t *env, const wk_api_req_t *req,
                        wk_api_resp_t *resp)
{
        const cfg_api_t *api = cfg_api(env->cfg);
        const char *inm = req->conn ? MHD_lookup_connection_value(
                                              req->conn, MHD_HEADER_KIND,
                                              MHD_HTTP_HEADER_IF_NONE_MATCH)
                                    : NULL;
        wk_portal_header_t h[WK_PORTAL_HEADER_MAX];
        wk_portal_answer_t a;
        char csp[512];
        size_t n;

        wk_portal_answer(req->method, req->path, inm, &a);
        if (a.status == 404 || a.status == 405) {
                wk_api_problem(resp, (unsigned)a.status, NULL,
                               a.status == 404 ? "no such file of the portal"
                                               : "the portal's files are "
                                                 "read with GET",
                               NULL);
                if (a.status == 405)
                        wk_api_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
                return;
        }
        n = wk_portal_headers(api ? api->frame_ancestors : NULL, csp,
                              sizeof(csp), h);
        if (n == 0) {
                wk_api_problem(resp, 500, NULL,
                               "api.frame_ancestors is too long", NULL);
                return;
        }
        resp->body = malloc(a.len + 1);
        if (!resp->body) {
                wk_api_problem(resp, 500, NULL, "out of memory", NULL);
                return;
        }
        if (a.len)
                memcpy(resp->body, a.body, a.len);
        resp->body[a.len] = '\0';
        resp->len = a.len;
        resp->status = (unsigned)a.status;
        resp->type = a.content_type;
        for (size_t i = 0; i < n; i++)
                wk_api_header(resp, h[i].name, h[i].value);
        if (a.status == 301)
                wk_api_header(resp, MHD_HTTP_HEADER_LOCATION, a.location);
        else if (a.etag[0])
                wk_api_header(resp, MHD_HTTP_HEADER_ETAG, a.etag);
}

/* The lifetime asked in \p req's body ({"ttl": s}; empty: the longest),
 * or -1 with a problem in \p resp. */
static int ttl_of(const wk_api_req_t *req, wk_api_resp_t *resp)
{
        json_object *o, *v = NULL;
        int ttl = WK_PORTAL_TOKEN_MAX_TTL_S, bad = 0;
        char why[160];

        if (!req->body_len)
                return ttl;
        if (!(o = wk_api_body(req, resp)))
                return -1;
        json_object_object_foreach(o, k, val)
        {
                if (strcmp(k, "ttl")) {
                        snprintf(why, sizeof(why),
                                 "%.40s: unknown field (the body is "
                                 "{\"ttl\": seconds} or empty)",
                                 k);
                        bad = 1;
                        break;
                }
                v = val;
        }
        if (!bad && v) {
                int64_t t = json_object_get_int64(v);
                if (!json_object_is_type(v, json_type_int) || t < TTL_MIN ||
                    t > WK_PORTAL_TOKEN_MAX_TTL_S) {
                        snprintf(why, sizeof(why),
                                 "ttl: a whole number of seconds from %d to "
                                 "%d",
                                 TTL_MIN, WK_PORTAL_TOKEN_MAX_TTL_S);
                        bad = 1;
                } else {
                        ttl = (int)t;
                }
        }
        json_object_put(o);
        if (bad) {
                wk_api_problem(resp, 422, NULL, "the request is not valid",
                               why);
                return -1;
        }
        return ttl;
}

void wk_portal_api_token(const wk_api_env_t *env, const wk_api_req_t *req,
                         wk_api_resp_t *resp)
{
        const cfg_api_t *api = cfg_api(env->cfg);
        char tok[WK_PORTAL_TOKEN_MAX], url[WK_PORTAL_TOKEN_MAX + 32], err[160];
        int64_t exp = 0;
        json_object *o;
        int ttl;

        if (!api || !api->have_secret_key) {
                wk_api_problem(resp, 500, NULL,
                               "no api secret key to sign portal tokens with",
                               NULL);
                return;
        }
        if ((ttl = ttl_of(req, resp)) == -1)
                return;
        if (wk_portal_token_mint(api->secret_key, req->app, ttl, time(NULL),
                                 tok, sizeof(tok), &exp, err,
                                 sizeof(err)) == -1) {
                wk_api_problem(resp, 500, NULL, err, NULL);
                return;
        }
        snprintf(url, sizeof(url), WK_PORTAL_PREFIX "#token=%s", tok);
        o = json_object_new_object();
        json_object_object_add(o, "token", json_object_new_string(tok));
        json_object_object_add(o, "url", json_object_new_string(url));
        json_object_object_add(o, "expires_at", json_object_new_int64(exp));
        json_object_object_add(o, "app_token",
                               json_object_new_string(req->app));
        wk_api_json(resp, 201, o);
        wk_api_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        explicit_bzero(tok, sizeof(tok));
        explicit_bzero(url, sizeof(url));
        hb_log(HB_LOG_INFO, "portal token minted", "app=%s ttl_s=%d", req->app,
               ttl);
}

int wk_portal_api_verify(void *opaque, const char *token, char *app,
                         size_t app_size)
{
        const cfg_api_t *api = opaque;
        char err[64];

        if (!api || !api->have_secret_key || !wk_portal_token_is(token))
                return 0;
        return wk_portal_token_verify(api->secret_key, token, time(NULL), app,
                                      app_size, NULL, err, sizeof(err)) == 0;
}
