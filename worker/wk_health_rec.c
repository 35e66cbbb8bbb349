/* wk_health_rec: the health topic's record, key and JSON (see the
 * header). */
#include "wk_health_rec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#define FORMAT 1
#define SEP    '\x1f'

static const char *const circuits[] = {"closed", "half-open", "open"};

/* Is \p s a usable name (non-NULL, short, no separator)? */
static int name_ok(const char *s, int empty_ok)
{
        size_t n;

        if (!s)
                return 0;
        n = strlen(s);
        return (n || empty_ok) && n <= WK_HEALTH_NAME_MAX && !strchr(s, SEP);
}

size_t wk_health_rec_key(const wk_health_rec_t *r, char *out, size_t size)
{
        int n;

        if (!name_ok(r->replica, 0) || !name_ok(r->app, 1) ||
            !name_ok(r->id, 1))
                return 0;
        if (!*r->id)
                n = snprintf(out, size, "%s", r->replica);
        else
                n = snprintf(out, size, "%s%c%s%c%s", r->replica, SEP, r->app,
                             SEP, r->id);
        return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

static void add_u64(json_object *o, const char *k, uint64_t v)
{
        json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

char *wk_health_rec_to_json(const wk_health_rec_t *r)
{
        json_object *o = json_object_new_object();
        const wk_health_counts_t *c = &r->c;
        char *out;

        if (!o)
                return NULL;
        json_object_object_add(o, "format", json_object_new_int(FORMAT));
        json_object_object_add(o, "replica",
                               json_object_new_string(r->replica));
        json_object_object_add(o, "app", json_object_new_string(r->app));
        json_object_object_add(o, "id", json_object_new_string(r->id));
        add_u64(o, "delivered", c->delivered);
        add_u64(o, "failed", c->failed);
        add_u64(o, "handed_off", c->handed_off);
        add_u64(o, "resolved", c->resolved);
        add_u64(o, "dead_lettered", c->dead_lettered);
        json_object_object_add(o, "last_success_ms",
                               json_object_new_int64(c->last_success_ms));
        json_object_object_add(o, "last_failure_ms",
                               json_object_new_int64(c->last_failure_ms));
        json_object_object_add(o, "last_failure_status",
                               json_object_new_int64(c->last_failure_status));
        if (r->error)
                json_object_object_add(o, "last_failure_error",
                                       json_object_new_string(r->error));
        if (r->body)
                json_object_object_add(o, "last_failure_response",
                                       json_object_new_string(r->body));
        json_object_object_add(
                o, "circuit",
                json_object_new_string(
                        circuits[c->circuit >= 0 && c->circuit <= 2 ? c->circuit
                                                                    : 0]));
        json_object_object_add(o, "disabled_by_410",
                               json_object_new_boolean(c->disabled));
        json_object_object_add(o, "updated_ms",
                               json_object_new_int64(r->updated_ms));
        if (r->stopped)
                json_object_object_add(o, "stopped",
                                       json_object_new_boolean(1));
        out = strdup(json_object_to_json_string_ext(
                o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return out;
}

/* Field \p k of \p o as a non-negative integer into \p *v (absent: 0).
 * @returns 0, or -1 when it is there and not one. */
static int get_int(json_object *o, const char *k, int64_t *v)
{
        json_object *f;

        *v = 0;
        if (!json_object_object_get_ex(o, k, &f))
                return 0;
        if (!json_object_is_type(f, json_type_int))
                return -1;
        *v = json_object_get_int64(f);
        return *v < 0 ? -1 : 0;
}

/* Field \p k of \p o as a string, or NULL (absent or another type). */
static const char *get_str(json_object *o, const char *k)
{
        json_object *f;

        if (!json_object_object_get_ex(o, k, &f) ||
            !json_object_is_type(f, json_type_string))
                return NULL;
        return json_object_get_string(f);
}

/* Copy \p s (cut to \p max bytes) to \p *at, moving it on. */
static const char *put(char **at, const char *s, size_t max)
{
        size_t n;
        char *d = *at;

        if (!s)
                return NULL;
        n = strlen(s);
        if (n > max)
                n = max;
        memcpy(d, s, n);
        d[n] = '\0';
        *at = d + n + 1;
        return d;
}

int wk_health_rec_from_json(const char *json, size_t len, wk_health_rec_t *out,
                            void **mem, char *errstr, size_t errstr_size)
{
        json_tokener *tok = json_tokener_new();
        json_object *o = NULL, *f;
        const char *replica, *app, *id, *err, *body, *circ;
        int64_t v[9];
        static const char *const ints[] = {
                "delivered",       "failed",
                "handed_off",      "resolved",
                "dead_lettered",   "last_success_ms",
                "last_failure_ms", "last_failure_status",
                "updated_ms"};
        char *at;
        int rc = -1;

        *mem = NULL;
        memset(out, 0, sizeof(*out));
        if (!tok) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        o = json_tokener_parse_ex(tok, json, (int)len);
        if (!o || json_tokener_get_error(tok) != json_tokener_success ||
            !json_object_is_type(o, json_type_object)) {
                snprintf(errstr, errstr_size, "not a JSON object");
                goto out;
        }
        if (!json_object_object_get_ex(o, "format", &f) ||
            json_object_get_int(f) != FORMAT) {
                snprintf(errstr, errstr_size, "format: not %d", FORMAT);
                goto out;
        }
        replica = get_str(o, "replica");
        app = get_str(o, "app");
        id = get_str(o, "id");
        if (!name_ok(replica, 0) || !name_ok(app, 1) || !name_ok(id, 1)) {
                snprintf(errstr, errstr_size,
                         "replica, app or id missing or unusable");
                goto out;
        }
        for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
                if (get_int(o, ints[i], &v[i]) == -1) {
                        snprintf(errstr, errstr_size,
                                 "%s: not a non-negative integer", ints[i]);
                        goto out;
                }
        err = get_str(o, "last_failure_error");
        body = get_str(o, "last_failure_response");
        *mem = malloc(strlen(replica) + strlen(app) + strlen(id) +
                      WK_HEALTH_ERROR_MAX + WK_HEALTH_BODY_MAX + 5);
        if (!*mem) {
                snprintf(errstr, errstr_size, "out of memory");
                goto out;
        }
        at = *mem;
        out->replica = put(&at, replica, WK_HEALTH_NAME_MAX);
        out->app = put(&at, app, WK_HEALTH_NAME_MAX);
        out->id = put(&at, id, WK_HEALTH_NAME_MAX);
        out->error = put(&at, err, WK_HEALTH_ERROR_MAX);
        out->body = put(&at, body, WK_HEALTH_BODY_MAX);
        out->c.delivered = (uint64_t)v[0];
        out->c.failed = (uint64_t)v[1];
        out->c.handed_off = (uint64_t)v[2];
        out->c.resolved = (uint64_t)v[3];
        out->c.dead_lettered = (uint64_t)v[4];
        out->c.last_success_ms = v[5];
        out->c.last_failure_ms = v[6];
        out->c.last_failure_status = (long)v[7];
        out->updated_ms = v[8];
        circ = get_str(o, "circuit");
        for (int i = 0; circ && i < 3; i++)
                if (!strcmp(circ, circuits[i]))
                        out->c.circuit = i;
        out->c.disabled = json_object_object_get_ex(o, "disabled_by_410", &f) &&
                          json_object_get_boolean(f);
        out->stopped = json_object_object_get_ex(o, "stopped", &f) &&
                       json_object_get_boolean(f);
        rc = 0;
out:
        json_object_put(o);
        json_tokener_free(tok);
        return rc;
}

size_t wk_health_escape(const char *in, size_t len, char *out, size_t size)
{
        static const char hex[] = "0123456789abcdef";
        size_t o = 0, max = size - 1 < WK_HEALTH_BODY_MAX ? size - 1
                                                          : WK_HEALTH_BODY_MAX;

        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char)in[i];
                if (ch == '\\') {
                        if (o + 2 > max)
                                break;
                        out[o++] = '\\';
                        out[o++] = '\\';
                } else if (ch >= 0x20 && ch < 0x7f) {
                        if (o + 1 > max)
                                break;
                        out[o++] = (char)ch;
                } else {
                        if (o + 4 > max)
                                break;
                        out[o++] = '\\';
                        out[o++] = 'x';
                        out[o++] = hex[ch >> 4];
                        out[o++] = hex[ch & 15];
                }
        }
        out[o] = '\0';
        return o;
}
