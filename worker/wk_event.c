/* wk_event: one raw message -> a checked, mapped event (SPEC sections 1
 * and 2): classifies it, reads and checks its fields, and keeps what the
 * renderer needs. */
#include "wk_transform_int.h"

#include "hb_http.h"
#include "hb_time.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* messageId becomes the webhook-id header: bounded, a header value. */
#define XF_MAX_ID_LEN 512
/* How much of a raw name a reason quotes. */
#define XF_SNIP_LEN 64

static int xf_is_digit(unsigned char c)
{
        return c >= '0' && c <= '9';
}

/*
 * Reasons
 */

/* Copy up to XF_SNIP_LEN bytes of a raw name for a reason: quotes,
 * backslashes and control characters (C0, DEL and C1: U+0080..U+009F)
 * become '?' (reasons end up in logfmt values, JSON strings and
 * terminals), other UTF-8 sequences stay whole. */
static const char *xf_snip(char *dst, size_t dsize, const char *s, size_t n)
{
        size_t o = 0;
        size_t i = 0;

        while (i < n && o + 4 < dsize && i < XF_SNIP_LEN) {
                unsigned char c = (unsigned char)s[i];
                size_t sl = 1;
                if (c >= 0xf0)
                        sl = 4;
                else if (c >= 0xe0)
                        sl = 3;
                else if (c >= 0xc0)
                        sl = 2;
                if (sl == 2 && c == 0xc2 && i + 1 < n &&
                    (unsigned char)s[i + 1] >= 0x80 &&
                    (unsigned char)s[i + 1] <= 0x9f) {
                        dst[o++] = '?';
                        i += 2;
                        continue;
                }
                if (sl > 1) {
                        if (i + sl > n || o + sl + 4 >= dsize)
                                break;
                        memcpy(dst + o, s + i, sl);
                        o += sl;
                        i += sl;
                        continue;
                }
                dst[o++] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
                                   ? '?'
                                   : (char)c;
                i++;
        }
        if (i < n && o + 3 < dsize) {
                memcpy(dst + o, "...", 3);
                o += 3;
        }
        dst[o] = '\0';
        return dst;
}

/* floor(a / b) for b > 0. */
static int64_t xf_floordiv(int64_t a, int64_t b)
{
        int64_t q = a / b;

        if (a % b < 0)
                q--;
        return q;
}

/*
 * Timestamps
 */

/* @returns 0 and the payload timestamp from the raw "timestamp", or -1
 * when it is missing or unparseable. */
static int xf_timestamp(const wk_jv_t *v, int64_t *secs)
{
        if (!v)
                return -1;
        if (wk_jv_is(v, WK_JV_INT)) {
                int64_t ms = wk_jv_int64(v);
                if (ms == INT64_MAX)
                        return -1; /* possibly clamped uint64 */
                *secs = xf_floordiv(ms, 1000);
                return 0;
        }
        if (wk_jv_is(v, WK_JV_DOUBLE)) {
                double ms = wk_jv_double(v);
                if (!isfinite(ms) || fabs(ms) > 9.0e18)
                        return -1;
                *secs = (int64_t)floor(ms / 1000.0);
                return 0;
        }
        if (wk_jv_is(v, WK_JV_STRING)) {
                wk_json_str_t s = wk_jv_text(v);
                size_t i = s.s[0] == '-';
                int64_t ms = 0;
                /* Epoch milliseconds written as a string. */
                if (s.n > i && s.n - i <= 18) {
                        for (; i < s.n && xf_is_digit((unsigned char)s.s[i]);
                             i++)
                                ms = ms * 10 + (s.s[i] - '0');
                        if (i == s.n) {
                                *secs = xf_floordiv(s.s[0] == '-' ? -ms : ms,
                                                    1000);
                                return 0;
                        }
                }
                /* ISO-8601 by the one parser's rules (hb_time.h) */
                if (hb_time_iso_parse(s.s, s.n, &ms, NULL, 0) == -1)
                        return -1;
                *secs = xf_floordiv(ms, 1000);
                return 0;
        }
        return -1;
}

/*
 * URLs: scheme://[userinfo@]host[:port][/path][?query][#fragment]
 */

/* @returns the index of the first of \p stops in s[i, n), or n. */
static size_t xf_until(const char *s, size_t i, size_t n, const char *stops)
{
        for (; i < n; i++) {
                /* \p stops is a literal: this unrolls, where strchr was a
                 * call per byte */
                for (const char *c = stops; *c; c++) {
                        if (s[i] == *c)
                                return i;
                }
        }
        return i;
}

/* @returns 0 with the host (as written) and path, or -1 when \p u is not
 * an absolute URL, a scheme-relative one or an absolute path. */
static int xf_parse_url(const char *u, size_t n, wk_json_str_t *host,
                        wk_json_str_t *path)
{
        size_t i = 0;
        size_t a = 0; /* authority start, 0: none */
        size_t ae;
        size_t p;

        if (n &&
            ((u[0] >= 'a' && u[0] <= 'z') || (u[0] >= 'A' && u[0] <= 'Z'))) {
                while (i < n && ((u[i] >= 'a' && u[i] <= 'z') ||
                                 (u[i] >= 'A' && u[i] <= 'Z') ||
                                 xf_is_digit((unsigned char)u[i]) ||
                                 u[i] == '+' || u[i] == '-' || u[i] == '.'))
                        i++;
                if (n - i < 3 || memcmp(u + i, "://", 3))
                        return -1;
                a = i + 3;
        } else if (n >= 2 && u[0] == '/' && u[1] == '/') {
                a = 2;
        } else if (!n || u[0] != '/') {
                return -1;
        }
        host->s = u;
        host->n = 0;
        p = 0;
        if (a) {
                size_t hs = a;
                size_t he;
                ae = xf_until(u, a, n, "/?#");
                for (size_t k = a; k < ae; k++) {
                        if (u[k] == '@')
                                hs = k + 1;
                }
                if (hs < ae && u[hs] == '[') {
                        const char *rb = memchr(u + hs, ']', ae - hs);
                        he = rb ? (size_t)(rb - u) + 1 : ae;
                } else {
                        const char *colon = memchr(u + hs, ':', ae - hs);
                        he = colon ? (size_t)(colon - u) : ae;
                }
                host->s = u + hs;
                host->n = he - hs;
                p = ae;
        }
        path->s = u + p;
        path->n = xf_until(u, p, n, "?#") - p;
        return 0;
}

/*
 * Events
 */

/* The event under construction. */
typedef struct xf_draft_s {
        wk_xf_fields_t f;
        wk_xf_keep_t keep;
        int synth_id; /* the id is "<topic>-<partition>-<offset>" */
        char snip[XF_SNIP_LEN * 2];
} xf_draft_t;

int wk_xf_keep_add(wk_xf_keep_t *k, size_t field, int lower)
{
        if (k->n >= WK_XF_KEEP_MAX) {
                k->full = 1;
                return -1;
        }
        k->v[k->n].field = field;
        k->v[k->n].lower = lower;
        k->n++;
        return 0;
}

/* Copy \p field (one of d->f's) into the event; a refusal fails the
 * parse (wk_event_parse checks d->keep.full). */
static void xf_keep(xf_draft_t *d, wk_json_str_t *field, int lower)
{
        (void)wk_xf_keep_add(&d->keep, (size_t)((char *)field - (char *)&d->f),
                             lower);
}

static void xf_keep_literal(xf_draft_t *d, wk_json_str_t *field, const char *s)
{
        field->s = s;
        field->n = strlen(s);
        xf_keep(d, field, 0);
}

/* @returns the text of a string or number id (sets \p bad for other
 * types; s NULL when absent). */
static wk_json_str_t xf_id_text(const wk_jv_t *v, int *bad)
{
        wk_json_str_t none = {NULL, 0};

        *bad = 0;
        if (!v)
                return none;
        if (wk_jv_is(v, WK_JV_STRING) || wk_jv_is_number(v))
                return wk_jv_text(v);
        *bad = 1;
        return none;
}

/* Fetch an optional object member; @returns -1 when present but not an
 * object. */
static int xf_get_object(const wk_jv_t *parent, const char *key,
                         const wk_jv_t **out)
{
        const wk_jv_t *v = wk_jv_get(parent, key);

        *out = NULL;
        if (!v)
                return 0;
        if (!wk_jv_is(v, WK_JV_OBJECT))
                return -1;
        *out = v;
        return 0;
}

/* A track call with a mapped event? @returns WK_XF_OK with what it maps
 * to and its raw name, or the status and reason. */
static wk_xf_status_t xf_classify(const wk_mapping_t *m, const wk_jv_t *root,
                                  xf_draft_t *d, const wk_xf_spec_t **specp,
                                  wk_json_str_t *event, char *reason,
                                  size_t rsize)
{
        const wk_jv_t *v = wk_jv_get(root, "type");
        wk_json_str_t s;

        if (!v) {
                wk_json_reason(reason, rsize, "missing type");
                return WK_XF_INVALID;
        }
        if (!wk_jv_is(v, WK_JV_STRING)) {
                wk_json_reason(reason, rsize, "type must be a string");
                return WK_XF_INVALID;
        }
        s = wk_jv_text(v);
        if (s.n != 5 || memcmp(s.s, "track", 5)) {
                wk_json_reason(reason, rsize, "type '%s' is not a track call",
                               xf_snip(d->snip, sizeof(d->snip), s.s, s.n));
                return WK_XF_SKIPPED;
        }
        v = wk_jv_get(root, "event");
        if (!v) {
                wk_json_reason(reason, rsize, "missing event");
                return WK_XF_INVALID;
        }
        if (!wk_jv_is(v, WK_JV_STRING) || !v->n) {
                wk_json_reason(reason, rsize,
                               "event must be a non-empty string");
                return WK_XF_INVALID;
        }
        s = wk_jv_text(v);
        *event = s;
        *specp = strlen(s.s) == s.n ? wk_mapping_find(m, s.s, s.n) : NULL;
        if (!*specp) {
                wk_json_reason(reason, rsize, "unmapped event '%s'",
                               xf_snip(d->snip, sizeof(d->snip), s.s, s.n));
                return WK_XF_SKIPPED;
        }
        return WK_XF_OK;
}

/* The type's names and data.id or the NPS fields. @returns 0 or -1. */
static int xf_what(const wk_xf_spec_t *sp, wk_json_str_t event,
                   const wk_jv_t *props, xf_draft_t *d, char *reason,
                   size_t rsize)
{
        d->f.kind = sp->kind;
        xf_keep_literal(d, &d->f.type, sp->type);
        xf_keep_literal(d, &d->f.action, sp->action);
        if (sp->kind != HB_TYPE_ENTITY) {
                size_t k = sp->kind == HB_TYPE_NPS_SCORE      ? 2
                           : sp->kind == HB_TYPE_NPS_FEEDBACK ? 4
                                                              : 0;
                for (size_t i = 0; i < k; i++)
                        d->f.nps[i] = wk_jv_get(props, wk_xf_nps_keys[i]);
                return 0;
        }
        xf_keep_literal(d, &d->f.data_type, sp->data_type);
        d->f.entity_id = wk_jv_get(props, sp->id_field);
        if (!d->f.entity_id) {
                wk_json_reason(
                        reason, rsize, "missing properties.%s for %s",
                        sp->id_field,
                        xf_snip(d->snip, sizeof(d->snip), event.s, event.n));
                return -1;
        }
        if (!wk_jv_is(d->f.entity_id, WK_JV_STRING) &&
            !wk_jv_is_number(d->f.entity_id)) {
                wk_json_reason(reason, rsize,
                               "properties.%s must be a string or number",
                               sp->id_field);
                return -1;
        }
        return 0;
}

/* The user and the company. @returns 0 or -1. */
static int xf_who(const wk_jv_t *root, const wk_jv_t *context, xf_draft_t *d,
                  char *reason, size_t rsize)
{
        int bad;

        d->f.user_id = xf_id_text(wk_jv_get(root, "userId"), &bad);
        if (bad) {
                wk_json_reason(reason, rsize,
                               "userId must be a string or number");
                return -1;
        }
        if (!d->f.user_id.s || !d->f.user_id.n) {
                wk_json_reason(reason, rsize, "%s",
                               d->f.user_id.s ? "empty userId"
                                              : "missing userId");
                return -1;
        }
        d->f.name = wk_jv_get(d->f.traits, "name");
        d->f.email = wk_jv_get(d->f.traits, "email");

        d->f.company_id = xf_id_text(wk_jv_get(context, "groupId"), &bad);
        if (bad) {
                wk_json_reason(reason, rsize,
                               "context.groupId must be a string or number");
                return -1;
        }
        d->f.company_name = wk_jv_get(d->f.group, "name");
        d->f.has_company = d->f.company_id.s != NULL;
        if (d->f.group) {
                /* A group with any non-null member is a company. */
                for (const wk_jv_t *e = wk_jv_first(d->f.group),
                                   *end = wk_jv_end(d->f.group);
                     e < end && !d->f.has_company; e = wk_jv_next(e))
                        d->f.has_company = e->type != WK_JV_NULL;
        }
        return 0;
}

/* context.app_token, else the topic's. @returns 0 or -1. */
static int xf_app_token(const wk_jv_t *context, const wk_msgmeta_t *meta,
                        xf_draft_t *d, char *reason, size_t rsize)
{
        const wk_jv_t *v = wk_jv_get(context, "app_token");

        if (v && !wk_jv_is(v, WK_JV_STRING)) {
                wk_json_reason(reason, rsize,
                               "context.app_token must be a string");
                return -1;
        }
        if (v && v->n) {
                d->f.app_token = wk_jv_text(v);
                return 0;
        }
        if (meta->topic_app_token && *meta->topic_app_token) {
                xf_keep_literal(d, &d->f.app_token, meta->topic_app_token);
                return 0;
        }
        wk_json_reason(reason, rsize,
                       "no app_token: set context.app_token or the topic's "
                       "app_token");
        return -1;
}

/* messageId: it becomes the webhook-id header, so it must be a header
 * value (hb_http_value_ok) and bounded. @returns 0 or -1. */
static int xf_message_id(const wk_jv_t *root, xf_draft_t *d, char *reason,
                         size_t rsize)
{
        const wk_jv_t *v = wk_jv_get(root, "messageId");

        if (!v || (wk_jv_is(v, WK_JV_STRING) && !v->n)) {
                d->synth_id = 1;
                return 0;
        }
        if (wk_jv_is(v, WK_JV_STRING)) {
                d->f.id = wk_jv_text(v);
        } else if (wk_jv_is_number(v)) {
                d->f.id = wk_jv_text(v); /* copied: a C string */
                xf_keep(d, &d->f.id, 0);
        } else {
                wk_json_reason(reason, rsize, "messageId must be a string");
                return -1;
        }
        if (d->f.id.n > XF_MAX_ID_LEN) {
                wk_json_reason(reason, rsize, "messageId longer than %d bytes",
                               XF_MAX_ID_LEN);
                return -1;
        }
        if (!hb_http_value_ok(d->f.id.s, d->f.id.n)) {
                wk_json_reason(reason, rsize,
                               "messageId is not a header value: control "
                               "characters, or blanks at an end");
                return -1;
        }
        return 0;
}

/* data.hostname and data.pathname from context.page. */
static void xf_where(const wk_jv_t *page, xf_draft_t *d)
{
        const wk_jv_t *v = wk_jv_get(page, "url");
        wk_json_str_t *host = &d->f.hostname;
        wk_json_str_t *path = &d->f.pathname;
        wk_json_str_t s;

        if (wk_jv_is(v, WK_JV_STRING)) {
                s = wk_jv_text(v);
                if (xf_parse_url(s.s, s.n, host, path) == 0)
                        goto done;
        }
        host->s = "";
        host->n = 0;
        path->s = "";
        path->n = 0;
        v = wk_jv_get(page, "path");
        if (wk_jv_is(v, WK_JV_STRING)) {
                s = wk_jv_text(v);
                path->s = s.s;
                path->n = xf_until(s.s, 0, s.n, "?#");
        }
done:
        if (!path->n) {
                path->s = "/";
                path->n = 1;
        }
        if (host->n)
                xf_keep(d, host, 1);
}

/* @returns the payload timestamp: the event's, else the message's. */
static int64_t xf_when(const wk_jv_t *root, const wk_msgmeta_t *meta)
{
        int64_t ts;

        if (xf_timestamp(wk_jv_get(root, "timestamp"), &ts) == 0)
                return ts;
        if (meta->timestamp_ms >= 0)
                return xf_floordiv(meta->timestamp_ms, 1000);
        return (int64_t)time(NULL);
}

/* Allocate the event with its arena and copy the pending strings. */
static wk_event_t *xf_event_new(const xf_draft_t *d, const wk_msgmeta_t *meta)
{
        const char *topic = meta->topic ? meta->topic : "";
        size_t synth = d->synth_id ? strlen(topic) + 48 : 0;
        size_t size = synth;
        wk_event_t *ev;
        char *p;

        for (size_t i = 0; i < d->keep.n; i++) {
                const wk_json_str_t *src =
                        (const wk_json_str_t *)((const char *)&d->f +
                                                d->keep.v[i].field);
                size += src->n + 1;
        }
        ev = malloc(sizeof(*ev) + size);
        if (!ev)
                return NULL;
        ev->f = d->f;
        p = ev->arena;
        for (size_t i = 0; i < d->keep.n; i++) {
                wk_json_str_t *dst =
                        (wk_json_str_t *)((char *)&ev->f + d->keep.v[i].field);
                for (size_t k = 0; k < dst->n; k++) {
                        char c = dst->s[k];
                        if (d->keep.v[i].lower && c >= 'A' && c <= 'Z')
                                c = (char)(c - 'A' + 'a');
                        p[k] = c;
                }
                p[dst->n] = '\0';
                dst->s = p;
                p += dst->n + 1;
        }
        if (synth) {
                int r = snprintf(p, synth, "%s-%" PRId32 "-%" PRId64, topic,
                                 meta->partition, meta->offset);
                ev->f.id.s = p;
                ev->f.id.n = r > 0 ? (size_t)r : 0;
        }
        return ev;
}

wk_xf_status_t wk_event_parse(const wk_mapping_t *m, const char *buf,
                              size_t len, const wk_msgmeta_t *meta,
                              wk_event_t **evp, char *reason,
                              size_t reason_size)
{
        xf_draft_t d;
        wk_jdoc_t *doc;
        const wk_jv_t *root, *context, *props, *page;
        const wk_xf_spec_t *spec = NULL;
        wk_json_str_t event = {NULL, 0};
        wk_xf_status_t st;
        const char *bad = NULL;

        if (evp)
                *evp = NULL;
        if (!m || !meta || !evp || (!buf && len)) {
                wk_json_reason(reason, reason_size, "internal: bad arguments");
                return WK_XF_INVALID;
        }
        doc = wk_jdoc_parse(buf ? buf : "", len, reason, reason_size);
        if (!doc)
                return WK_XF_INVALID;
        root = wk_jdoc_root(doc);
        memset(&d, 0, sizeof(d));
        st = xf_classify(m, root, &d, &spec, &event, reason, reason_size);
        if (st != WK_XF_OK)
                goto err;
        st = WK_XF_INVALID;

        if (xf_get_object(root, "context", &context) < 0)
                bad = "context";
        else if (xf_get_object(root, "properties", &props) < 0)
                bad = "properties";
        else if (xf_get_object(context, "traits", &d.f.traits) < 0)
                bad = "context.traits";
        else if (xf_get_object(context, "group", &d.f.group) < 0)
                bad = "context.group";
        else if (xf_get_object(context, "page", &page) < 0)
                bad = "context.page";
        if (bad) {
                wk_json_reason(reason, reason_size, "%s must be an object",
                               bad);
                goto err;
        }
        if (xf_who(root, context, &d, reason, reason_size) < 0 ||
            xf_what(spec, event, props, &d, reason, reason_size) < 0 ||
            xf_app_token(context, meta, &d, reason, reason_size) < 0 ||
            xf_message_id(root, &d, reason, reason_size) < 0)
                goto err;
        d.f.timestamp = xf_when(root, meta);
        xf_where(page, &d);

        if (d.keep.full) {
                /* a new field was kept without raising WK_XF_KEEP_MAX */
                wk_json_reason(reason, reason_size,
                               "internal: more than %d fields to copy",
                               WK_XF_KEEP_MAX);
                goto err;
        }
        d.f.doc = doc;
        *evp = xf_event_new(&d, meta);
        if (!*evp) {
                wk_json_reason(reason, reason_size, "out of memory");
                goto err;
        }
        return WK_XF_OK;
err:
        wk_jdoc_free(doc);
        return st;
}

const char *wk_event_type(const wk_event_t *ev)
{
        return ev->f.type.s;
}

const char *wk_event_id(const wk_event_t *ev)
{
        return ev->f.id.s;
}

const char *wk_event_app(const wk_event_t *ev, size_t *lenp)
{
        *lenp = ev->f.app_token.n;
        return ev->f.app_token.s;
}

int64_t wk_event_timestamp(const wk_event_t *ev)
{
        return ev->f.timestamp;
}

void wk_event_destroy(wk_event_t *ev)
{
        if (!ev)
                return;
        wk_jdoc_free(ev->f.doc);
        free(ev);
}
