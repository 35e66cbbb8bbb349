/* wk_api_health: the health resource of the management API (see the
 * header). */
#include "wk_api_health.h"

#include <stdio.h>
#include <string.h>

#include "wk_health.h"
#include "wk_store.h"

/* Unix seconds with milliseconds, as a JSON number written exactly
 * ("1796144353.262", not the double's 1796144353.2620001). */
static json_object *seconds(int64_t ms)
{
        char text[32];

        snprintf(text, sizeof(text), "%lld.%03lld", (long long)(ms / 1000),
                 (long long)(ms % 1000));
        return json_object_new_double_s((double)ms / 1000.0, text);
}

json_object *wk_api_health_doc(const char *app, const char *id,
                               const wk_health_sum_t *s, int complete)
{
        json_object *o = json_object_new_object(), *t, *f, *c, *r;
        const char *circuit = s->open        ? "open"
                              : s->half_open ? "half-open"
                                             : "closed";

        if (!o)
                return NULL;
        json_object_object_add(o, "id", json_object_new_string(id));
        json_object_object_add(o, "app_token", json_object_new_string(app));
        json_object_object_add(o, "delivered",
                               json_object_new_int64((int64_t)s->delivered));
        json_object_object_add(o, "failed",
                               json_object_new_int64((int64_t)s->failed));
        json_object_object_add(o, "in_retry",
                               json_object_new_int64((int64_t)s->in_retry));
        json_object_object_add(
                o, "dead_lettered",
                json_object_new_int64((int64_t)s->dead_lettered));
        t = NULL;
        if (s->last_success_ms > 0 && (t = json_object_new_object()))
                json_object_object_add(t, "at", seconds(s->last_success_ms));
        json_object_object_add(o, "last_success", t);
        f = NULL;
        if (s->last_failure_ms > 0 && (f = json_object_new_object())) {
                json_object_object_add(f, "at", seconds(s->last_failure_ms));
                json_object_object_add(
                        f, "status",
                        s->last_failure_status
                                ? json_object_new_int(
                                          (int)s->last_failure_status)
                                : NULL);
                json_object_object_add(
                        f, "error",
                        *s->error ? json_object_new_string(s->error) : NULL);
                json_object_object_add(
                        f, "response_start",
                        *s->body ? json_object_new_string(s->body) : NULL);
        }
        json_object_object_add(o, "last_failure", f);
        json_object_object_add(o, "circuit", json_object_new_string(circuit));
        if ((c = json_object_new_object())) {
                json_object_object_add(c, "open",
                                       json_object_new_int64((int64_t)s->open));
                json_object_object_add(
                        c, "half_open",
                        json_object_new_int64((int64_t)s->half_open));
        }
        json_object_object_add(o, "circuit_replicas", c);
        json_object_object_add(o, "disabled_by_410",
                               json_object_new_boolean(s->disabled > 0));
        if ((r = json_object_new_object())) {
                json_object_object_add(
                        r, "reporting",
                        json_object_new_int64((int64_t)s->replicas));
                json_object_object_add(
                        r, "alive", json_object_new_int64((int64_t)s->alive));
        }
        json_object_object_add(o, "replicas", r);
        json_object_object_add(o, "complete",
                               json_object_new_boolean(complete));
        return o;
}

void wk_api_health_get(const wk_api_env_t *env, const wk_api_req_t *req,
                       wk_api_resp_t *resp)
{
        wk_hook_t *h = wk_store_get(env->store, req->id, NULL);
        wk_health_t *health = env->health;
        wk_health_sum_t s;
        json_object *o;
        char detail[512];
        int mine = h && h->app_token && !strcmp(h->app_token, req->app);

        wk_hook_free(h);
        if (!mine) {
                /* under another app's path an id answers 404 (SPEC §7) */
                snprintf(detail, sizeof(detail), "app %s has no webhook %s",
                         req->app, req->id);
                wk_api_problem(resp, 404, "Not Found", detail, NULL);
                return;
        }
        if (!health) {
                wk_api_problem(resp, 503, "Service Unavailable",
                               "delivery health is not running", NULL);
                return;
        }
        wk_health_get(health, req->app, req->id, &s);
        o = wk_api_health_doc(req->app, req->id, &s,
                              wk_health_caught_up(health));
        if (!o) {
                wk_api_problem(resp, 500, "Internal Server Error",
                               "out of memory", NULL);
                return;
        }
        wk_api_json(resp, 200, o);
}
