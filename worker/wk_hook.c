/* wk_hook: a webhook's JSON form, both ways (see the header). */
#include "wk_hook.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "hb_base64.h"

#include "hb_types.h"
#include "wk_json.h"

#define RATE_LIMIT_MAX 1000000
/* the previous secret is sealed bound to "<id>" PREV_AAD: it cannot be
 * passed off as the current one */
#define PREV_AAD "#previous"

/* Problems, one per line, into the caller's buffer. */
typedef struct probs_s {
        char *buf;
        size_t size, used;
        int n;
} probs_t;

__attribute__((format(printf, 2, 3))) static void prob(probs_t *p,
                                                       const char *fmt, ...)
{
        va_list ap;
        int w;

        p->n++;
        if (!p->buf || p->size == 0 || p->used + 1 >= p->size)
                return;
        if (p->used) {
                p->buf[p->used++] = '\n';
                p->buf[p->used] = '\0';
        }
        va_start(ap, fmt);
        w = vsnprintf(p->buf + p->used, p->size - p->used, fmt, ap);
        va_end(ap);
        if (w > 0)
                p->used += (size_t)w < p->size - p->used
                                   ? (size_t)w
                                   : p->size - p->used - 1;
}

static char **strv_dup(char *const *v, size_t n)
{
        char **out = calloc(n ? n : 1, sizeof(*out));

        for (size_t i = 0; out && i < n; i++) {
                if (!(out[i] = strdup(v[i]))) {
                        for (size_t j = 0; j < i; j++)
                                free(out[j]);
                        free(out);
                        return NULL;
                }
        }
        return out;
}

static void strv_free(char **v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                free(v[i]);
        free(v);
}

void wk_hook_free(wk_hook_t *h)
{
        if (!h)
                return;
        free(h->id);
        free(h->app_token);
        free(h->name);
        free(h->url);
        for (size_t i = 0; h->events && i < h->event_count; i++)
                free(h->events[i].type);
        free(h->events);
        strv_free(h->user_props, h->user_prop_count);
        strv_free(h->company_props, h->company_prop_count);
        if (h->secret) {
                explicit_bzero(h->secret, strlen(h->secret));
                free(h->secret);
        }
        if (h->secret_previous) {
                explicit_bzero(h->secret_previous, strlen(h->secret_previous));
                free(h->secret_previous);
        }
        strv_free(h->headers, h->header_count);
        free(h);
}

static int dup_str(char **dst, const char *src)
{
        *dst = NULL;
        if (!src)
                return 0;
        *dst = strdup(src);
        return *dst ? 0 : -1;
}

wk_hook_t *wk_hook_dup(const wk_hook_t *h)
{
        wk_hook_t *d = calloc(1, sizeof(*d));

        if (!d)
                return NULL;
        *d = *h;
        d->id = d->app_token = d->name = d->url = d->secret = NULL;
        d->secret_previous = NULL;
        d->events = NULL;
        d->user_props = d->company_props = d->headers = NULL;
        d->event_count = d->user_prop_count = d->company_prop_count =
                d->header_count = 0;
        if (dup_str(&d->id, h->id) || dup_str(&d->app_token, h->app_token) ||
            dup_str(&d->name, h->name) || dup_str(&d->url, h->url) ||
            dup_str(&d->secret, h->secret) ||
            dup_str(&d->secret_previous, h->secret_previous))
                goto err;
        d->events =
                calloc(h->event_count ? h->event_count : 1, sizeof(*d->events));
        if (!d->events)
                goto err;
        for (size_t i = 0; i < h->event_count; i++) {
                d->events[i].enabled = h->events[i].enabled;
                if (!(d->events[i].type = strdup(h->events[i].type)))
                        goto err;
                d->event_count++;
        }
        if (!(d->user_props = strv_dup(h->user_props, h->user_prop_count)))
                goto err;
        d->user_prop_count = h->user_prop_count;
        if (!(d->company_props =
                      strv_dup(h->company_props, h->company_prop_count)))
                goto err;
        d->company_prop_count = h->company_prop_count;
        if (!(d->headers = strv_dup(h->headers, h->header_count)))
                goto err;
        d->header_count = h->header_count;
        return d;
err:
        wk_hook_free(d);
        return NULL;
}

/* --- to JSON ------------------------------------------------------------ */

static json_object *strv_json(char *const *v, size_t n)
{
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < n; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

/* The fields a stored record and the API's view of \p h share: name,
 * url, enabled, events, properties, signature, headers, rate_limit. */
static void add_fields(json_object *o, const wk_hook_t *h)
{
        json_object *ev;

        json_object_object_add(o, "name", json_object_new_string(h->name));
        json_object_object_add(o, "url", json_object_new_string(h->url));
        json_object_object_add(o, "enabled",
                               json_object_new_boolean(h->enabled));
        ev = json_object_new_array();
        for (size_t i = 0; ev && i < h->event_count; i++) {
                json_object *e = json_object_new_object();

                json_object_object_add(
                        e, "type", json_object_new_string(h->events[i].type));
                json_object_object_add(
                        e, "enabled",
                        json_object_new_boolean(h->events[i].enabled));
                json_object_array_add(ev, e);
        }
        json_object_object_add(o, "events", ev);
        json_object_object_add(o, "user_properties",
                               strv_json(h->user_props, h->user_prop_count));
        json_object_object_add(
                o, "company_properties",
                strv_json(h->company_props, h->company_prop_count));
        json_object_object_add(
                o, "signature",
                json_object_new_string(h->signature == CFG_SIG_USERPILOT
                                               ? "userpilot"
                                               : "standard"));
        json_object_object_add(o, "headers",
                               strv_json(h->headers, h->header_count));
        json_object_object_add(o, "rate_limit",
                               json_object_new_int(h->rate_limit));
}

char *wk_hook_to_json(const wk_hook_t *h,
                      const unsigned char key[WK_SEAL_KEY_LEN], char *errstr,
                      size_t errstr_size)
{
        json_object *o = json_object_new_object();
        char *sealed = NULL, *out = NULL;

        if (!o) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        json_object_object_add(o, "format",
                               json_object_new_int(WK_HOOK_FORMAT));
        json_object_object_add(o, "app_token",
                               json_object_new_string(h->app_token));
        add_fields(o, h);
        if (h->secret) {
                sealed = wk_seal(key, h->secret, h->id ? h->id : "", errstr,
                                 errstr_size);
                if (!sealed)
                        goto out;
                json_object_object_add(o, "secret_sealed",
                                       json_object_new_string(sealed));
        }
        if (h->secret_previous) {
                char aad[300];

                free(sealed);
                snprintf(aad, sizeof(aad), "%s" PREV_AAD, h->id ? h->id : "");
                sealed = wk_seal(key, h->secret_previous, aad, errstr,
                                 errstr_size);
                if (!sealed)
                        goto out;
                json_object_object_add(o, "secret_previous_sealed",
                                       json_object_new_string(sealed));
                json_object_object_add(
                        o, "secret_previous_until_ms",
                        json_object_new_int64(h->secret_previous_until_ms));
        }
        out = strdup(json_object_to_json_string_ext(
                o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        if (!out)
                snprintf(errstr, errstr_size, "out of memory");
out:
        free(sealed);
        json_object_put(o);
        return out;
}

/* --- from JSON ---------------------------------------------------------- */

/* The members of a record, and of an API body. */
static const char *const rec_fields[] = {
        "format",
        "app_token",
        "name",
        "url",
        "enabled",
        "events",
        "user_properties",
        "company_properties",
        "secret_sealed",
        "secret_previous_sealed",
        "secret_previous_until_ms",
        "signature",
        "headers",
        "rate_limit",
        NULL,
};
static const char *const body_fields[] = {
        "name",
        "url",
        "enabled",
        "events",
        "user_properties",
        "company_properties",
        "secret",
        "signature",
        "headers",
        "rate_limit",
        NULL,
};
static const char *const body_readonly[] = {
        "id", "app_token", "version", "signed", "previous_secret_until_ms",
        NULL};

static int in_list(const char *const *l, const char *k)
{
        for (size_t i = 0; l[i]; i++)
                if (!strcmp(l[i], k))
                        return 1;
        return 0;
}

/* A string member; NULL when absent (reported when \p required) or not a
 * string (reported). */
static const char *get_str(json_object *o, const char *f, int required,
                           probs_t *p)
{
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, f, &v) || !v) {
                if (required)
                        prob(p, "%s: is required", f);
                return NULL;
        }
        if (!json_object_is_type(v, json_type_string)) {
                prob(p, "%s: expected a string", f);
                return NULL;
        }
        return json_object_get_string(v);
}

/* A list of strings: each non-empty, listed once, and \p check'ed
 * (cfg_rule_header) when given. @returns 0, -1 out of memory. */
static int get_strv(json_object *o, const char *f, probs_t *p, int headers,
                    char ***outp, size_t *np)
{
        json_object *a = NULL;
        size_t n;

        *outp = calloc(1, sizeof(char *));
        *np = 0;
        if (!*outp)
                return -1;
        if (!json_object_object_get_ex(o, f, &a) || !a)
                return 0;
        if (!json_object_is_type(a, json_type_array)) {
                prob(p, "%s: expected a list of strings", f);
                return 0;
        }
        n = json_object_array_length(a);
        free(*outp);
        if (!(*outp = calloc(n ? n : 1, sizeof(char *))))
                return -1;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                const char *s, *why;
                char msg[512];
                size_t j;

                if (!json_object_is_type(e, json_type_string)) {
                        prob(p, "%s[%zu]: expected a string", f, i);
                        continue;
                }
                s = json_object_get_string(e);
                if (!*s) {
                        prob(p, "%s[%zu]: must not be empty", f, i);
                        continue;
                }
                if (headers &&
                    (why = cfg_rule_header(s, msg, sizeof(msg))) != NULL) {
                        prob(p, "%s[%zu]: %s", f, i, why);
                        continue;
                }
                for (j = 0; !headers && j < *np; j++)
                        if (!strcmp((*outp)[j], s))
                                break;
                if (!headers && j < *np) {
                        prob(p,
                             "%s[%zu]: '%.64s' is listed twice; keep one "
                             "entry",
                             f, i, s);
                        continue;
                }
                if (!((*outp)[*np] = strdup(s)))
                        return -1;
                (*np)++;
        }
        return 0;
}

static int get_events(json_object *o, probs_t *p, wk_hook_t *h)
{
        json_object *a = NULL;
        size_t n;

        if (!json_object_object_get_ex(o, "events", &a) || !a) {
                prob(p, "events: is required; list the webhook types to "
                        "send, e.g. [\"flows.completed\"], or [\"*\"]");
                return 0;
        }
        if (!json_object_is_type(a, json_type_array)) {
                prob(p, "events: expected a list");
                return 0;
        }
        n = json_object_array_length(a);
        if (n == 0) {
                prob(p, "events: is empty; list the webhook types to send, "
                        "e.g. [\"flows.completed\"], or [\"*\"] for every "
                        "type");
                return 0;
        }
        if (!(h->events = calloc(n, sizeof(*h->events))))
                return -1;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i), *t = NULL,
                            *en = NULL;
                const char *type = NULL;
                int on = 1, bad = 0;
                size_t j;

                if (json_object_is_type(e, json_type_string)) {
                        type = json_object_get_string(e);
                } else if (json_object_is_type(e, json_type_object)) {
                        json_object_object_foreach(e, k, v)
                        {
                                (void)v;
                                if (strcmp(k, "type") && strcmp(k, "enabled")) {
                                        prob(p,
                                             "events[%zu]: unknown field "
                                             "'%.64s'; known: type, enabled",
                                             i, k);
                                        bad = 1;
                                }
                        }
                        json_object_object_get_ex(e, "type", &t);
                        json_object_object_get_ex(e, "enabled", &en);
                        if (!t || !json_object_is_type(t, json_type_string)) {
                                prob(p, "events[%zu].type: expected a string",
                                     i);
                                continue;
                        }
                        type = json_object_get_string(t);
                        if (en && !json_object_is_type(en, json_type_boolean)) {
                                prob(p,
                                     "events[%zu].enabled: expected true or "
                                     "false",
                                     i);
                                continue;
                        }
                        if (en)
                                on = json_object_get_boolean(en);
                } else {
                        prob(p,
                             "events[%zu]: expected a webhook type or "
                             "{\"type\": \"...\", \"enabled\": false}",
                             i);
                        continue;
                }
                if (bad)
                        continue;
                if (!*type) {
                        prob(p, "events[%zu]: must not be empty", i);
                        continue;
                }
                if (strcmp(type, "*") && !hb_type_find(type)) {
                        prob(p, "events[%zu]: unknown webhook type '%.64s'", i,
                             type);
                        continue;
                }
                for (j = 0; j < h->event_count; j++)
                        if (!strcmp(h->events[j].type, type))
                                break;
                if (j < h->event_count) {
                        prob(p,
                             "events[%zu]: '%.64s' is listed twice; keep one "
                             "entry",
                             i, type);
                        continue;
                }
                if (!(h->events[h->event_count].type = strdup(type)))
                        return -1;
                h->events[h->event_count++].enabled = on;
        }
        return 0;
}

/* Where the webhook comes from: a store record (format, app_token and
 * sealed secrets in it) or an API body (app_token from the path, the
 * secret in plaintext). */
typedef struct src_s {
        int body;
        const char *id, *app;
        const unsigned char *key;
} src_t;

/* secret_sealed and the previous secret of a record. @returns -1 out of
 * memory, else 0. */
static int get_sealed(json_object *o, const src_t *src, wk_hook_t *h,
                      probs_t *p)
{
        const char *s, *why, *id = src->id ? src->id : "";
        json_object *v = NULL;
        char why2[256], aad[300];

        if ((s = get_str(o, "secret_sealed", 0, p))) {
                h->secret = wk_unseal(src->key, s, id, why2, sizeof(why2));
                if (!h->secret)
                        prob(p, "secret_sealed: %s", why2);
                else if ((why = cfg_rule_secret(h->secret)))
                        prob(p, "secret: %s", why);
        }
        if (!(s = get_str(o, "secret_previous_sealed", 0, p)))
                return 0;
        snprintf(aad, sizeof(aad), "%s" PREV_AAD, id);
        h->secret_previous = wk_unseal(src->key, s, aad, why2, sizeof(why2));
        if (!h->secret_previous)
                prob(p, "secret_previous_sealed: %s", why2);
        else if ((why = cfg_rule_secret(h->secret_previous)))
                prob(p, "secret_previous: %s", why);
        if (!json_object_object_get_ex(o, "secret_previous_until_ms", &v) ||
            !json_object_is_type(v, json_type_int) ||
            json_object_get_int64(v) < 0)
                prob(p, "secret_previous_until_ms: expected unix "
                        "milliseconds");
        else
                h->secret_previous_until_ms = json_object_get_int64(v);
        return 0;
}

/* The fields of \p o into \p h; @returns -1 out of memory, else 0 (the
 * problems in \p p). */
static int parse(json_object *o, const src_t *src, wk_hook_t *h, probs_t *p)
{
        json_object *v;
        const char *s, *why;
        char msg[512];

        if (!json_object_is_type(o, json_type_object)) {
                prob(p, "body: expected a JSON object");
                return 0;
        }
        json_object_object_foreach(o, k, val)
        {
                (void)val;
                if (src->body && in_list(body_readonly, k))
                        prob(p, "%.64s: is read-only", k);
                else if (!in_list(src->body ? body_fields : rec_fields, k))
                        prob(p, "%.64s: unknown field", k);
        }
        if (!src->body && (!json_object_object_get_ex(o, "format", &v) ||
                           !json_object_is_type(v, json_type_int) ||
                           json_object_get_int64(v) != WK_HOOK_FORMAT))
                prob(p, "format: expected %d", WK_HOOK_FORMAT);
        if (dup_str(&h->id, src->id))
                return -1;
        if (src->body) {
                if (!src->app || !cfg_app_token_ok(src->app))
                        prob(p,
                             "app_token: use 1 to %d of A-Z a-z 0-9 - . "
                             "_ ~",
                             CFG_APP_TOKEN_MAX);
                else if (dup_str(&h->app_token, src->app))
                        return -1;
        } else if ((s = get_str(o, "app_token", 1, p)) &&
                   !cfg_app_token_ok(s)) {
                prob(p, "app_token: use 1 to %d of A-Z a-z 0-9 - . _ ~",
                     CFG_APP_TOKEN_MAX);
        } else if (s && dup_str(&h->app_token, s)) {
                return -1;
        }
        if ((s = get_str(o, "name", 1, p)) && (why = cfg_rule_name(s)))
                prob(p, "name: %s", why);
        else if (s && dup_str(&h->name, s))
                return -1;
        if ((s = get_str(o, "url", 1, p)) && (why = cfg_rule_url(s)))
                prob(p, "url: %s", why);
        else if (s && dup_str(&h->url, s))
                return -1;
        h->enabled = 1;
        if (json_object_object_get_ex(o, "enabled", &v) && v) {
                if (!json_object_is_type(v, json_type_boolean))
                        prob(p, "enabled: expected true or false");
                else
                        h->enabled = json_object_get_boolean(v);
        }
        if (get_events(o, p, h) ||
            get_strv(o, "user_properties", p, 0, &h->user_props,
                     &h->user_prop_count) ||
            get_strv(o, "company_properties", p, 0, &h->company_props,
                     &h->company_prop_count) ||
            get_strv(o, "headers", p, 1, &h->headers, &h->header_count))
                return -1;
        if ((why = cfg_rule_props(h->user_prop_count + h->company_prop_count,
                                  msg, sizeof(msg))))
                prob(p, "user_properties: %s", why);
        if (src->body) {
                if ((s = get_str(o, "secret", 0, p)) &&
                    (why = cfg_rule_secret(s)))
                        prob(p, "secret: %s", why);
                else if (s && dup_str(&h->secret, s))
                        return -1;
        } else if (get_sealed(o, src, h, p) == -1) {
                return -1;
        }
        if ((s = get_str(o, "signature", 0, p))) {
                if (!strcmp(s, "userpilot"))
                        h->signature = CFG_SIG_USERPILOT;
                else if (strcmp(s, "standard"))
                        prob(p, "signature: expected \"standard\" or "
                                "\"userpilot\"");
        }
        if (h->signature == CFG_SIG_USERPILOT && !h->secret)
                prob(p, "signature: \"userpilot\" needs a secret");
        if (json_object_object_get_ex(o, "rate_limit", &v) && v) {
                int64_t r = json_object_is_type(v, json_type_int)
                                    ? json_object_get_int64(v)
                                    : -1;

                if (r < 0 || r > RATE_LIMIT_MAX)
                        prob(p,
                             "rate_limit: expected 0 to %d requests per "
                             "second",
                             RATE_LIMIT_MAX);
                else
                        h->rate_limit = (int)r;
        }
        return 0;
}

static wk_hook_t *parse_new(json_object *o, const src_t *src, char *errstr,
                            size_t errstr_size)
{
        probs_t p = {errstr, errstr_size, 0, 0};
        wk_hook_t *h = calloc(1, sizeof(*h));

        if (errstr_size)
                errstr[0] = '\0';
        if (!h || parse(o, src, h, &p) == -1) {
                wk_hook_free(h);
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        if (p.n) {
                wk_hook_free(h);
                return NULL;
        }
        return h;
}

wk_hook_t *wk_hook_from_json(const char *json, size_t len, const char *id,
                             const unsigned char key[WK_SEAL_KEY_LEN],
                             char *errstr, size_t errstr_size)
{
        src_t src = {0, id, NULL, key};
        char reason[256];
        json_object *o;
        wk_hook_t *h;

        o = wk_json_parse(json, len, reason, sizeof(reason));
        if (!o) {
                snprintf(errstr, errstr_size, "not a JSON object: %s", reason);
                return NULL;
        }
        h = parse_new(o, &src, errstr, errstr_size);
        json_object_put(o);
        return h;
}

wk_hook_t *wk_hook_from_body(json_object *body, const char *id, const char *app,
                             char *errstr, size_t errstr_size)
{
        src_t src = {1, id, app, NULL};

        return parse_new(body, &src, errstr, errstr_size);
}

json_object *wk_hook_view(const wk_hook_t *h, int secret)
{
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        add_fields(o, h);
        if (secret && h->secret)
                json_object_object_add(o, "secret",
                                       json_object_new_string(h->secret));
        return o;
}

int wk_hook_secret_new(char out[WK_HOOK_SECRET_LEN])
{
        unsigned char key[32];
        int rc = -1;

        memcpy(out, "whsec_", 6);
        if (RAND_bytes(key, sizeof(key)) == 1 &&
            hb_base64_encode(key, sizeof(key), out + 6,
                             WK_HOOK_SECRET_LEN - 6) == 44)
                rc = 0;
        OPENSSL_cleanse(key, sizeof(key));
        if (rc)
                out[0] = '\0';
        return rc;
}
