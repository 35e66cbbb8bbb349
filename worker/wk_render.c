/* wk_render: a parsed event -> the compact webhook payload (SPEC section
 * 3) for one webhook's chosen properties. Written by hand rather than
 * from the read-only document, so one event can be rendered from several
 * threads at once and without allocating per member. */
#include "wk_transform_int.h"

#include "hb_fmt.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct xf_buf_s {
        char *p;
        size_t len;
        size_t cap; /* always > len: room for the final NUL */
        int oom;
} xf_buf_t;

static int xf_grow(xf_buf_t *b, size_t need)
{
        size_t cap = b->cap ? b->cap : 512;
        char *p;

        if (b->oom)
                return -1;
        while (cap - b->len <= need) {
                if (cap > SIZE_MAX / 2)
                        goto oom;
                cap *= 2;
        }
        p = realloc(b->p, cap);
        if (!p)
                goto oom;
        b->p = p;
        b->cap = cap;
        return 0;
oom:
        b->oom = 1;
        return -1;
}

static void xf_put(xf_buf_t *b, const char *s, size_t n)
{
        if (b->cap - b->len <= n && xf_grow(b, n) < 0)
                return;
        memcpy(b->p + b->len, s, n);
        b->len += n;
}

#define XF_PUTS(b, lit) xf_put((b), (lit), sizeof(lit) - 1)

/* A JSON string: '"', '\\' and control bytes escaped, '/' and UTF-8 as
 * they are (the input was validated as UTF-8). */
static void xf_put_str(xf_buf_t *b, const char *s, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        size_t run = 0;

        XF_PUTS(b, "\"");
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                char esc[6];
                if (c >= 0x80 || wk_json_plain[c])
                        continue;
                xf_put(b, s + run, i - run);
                run = i + 1;
                switch (c) {
                case '"':
                        XF_PUTS(b, "\\\"");
                        break;
                case '\\':
                        XF_PUTS(b, "\\\\");
                        break;
                case '\n':
                        XF_PUTS(b, "\\n");
                        break;
                case '\r':
                        XF_PUTS(b, "\\r");
                        break;
                case '\t':
                        XF_PUTS(b, "\\t");
                        break;
                case '\b':
                        XF_PUTS(b, "\\b");
                        break;
                case '\f':
                        XF_PUTS(b, "\\f");
                        break;
                default:
                        memcpy(esc, "\\u00", 4);
                        esc[4] = hex[c >> 4];
                        esc[5] = hex[c & 15];
                        xf_put(b, esc, 6);
                }
        }
        xf_put(b, s + run, n - run);
        XF_PUTS(b, "\"");
}

static void xf_put_xstr(xf_buf_t *b, wk_json_str_t s)
{
        xf_put_str(b, s.s, s.n);
}

/* A key and its ':' after a ',' (or '{' when \p first). */
static void xf_put_key(xf_buf_t *b, const char *key, int first)
{
        if (!first)
                XF_PUTS(b, ",");
        xf_put_str(b, key, strlen(key));
        XF_PUTS(b, ":");
}

/* Any value of the raw document, compact; nesting is bounded by the
 * parse. */
static void xf_put_value(xf_buf_t *b, const wk_jv_t *v)
{
        int first = 1;

        switch (v ? v->type : WK_JV_NULL) {
        case WK_JV_NULL:
                XF_PUTS(b, "null");
                break;
        case WK_JV_BOOL:
                if (v->truth)
                        XF_PUTS(b, "true");
                else
                        XF_PUTS(b, "false");
                break;
        case WK_JV_INT:
        case WK_JV_DOUBLE:
                xf_put(b, v->s, v->n);
                break;
        case WK_JV_STRING:
                xf_put_str(b, v->s, v->n);
                break;
        case WK_JV_OBJECT:
                XF_PUTS(b, "{");
                for (const wk_jv_t *e = wk_jv_first(v), *end = wk_jv_end(v);
                     e < end; e = wk_jv_next(e)) {
                        if (!first)
                                XF_PUTS(b, ",");
                        xf_put_str(b, e->k, e->kn);
                        XF_PUTS(b, ":");
                        xf_put_value(b, e);
                        first = 0;
                }
                XF_PUTS(b, "}");
                break;
        case WK_JV_ARRAY:
                XF_PUTS(b, "[");
                for (const wk_jv_t *e = wk_jv_first(v), *end = wk_jv_end(v);
                     e < end; e = wk_jv_next(e)) {
                        if (!first)
                                XF_PUTS(b, ",");
                        xf_put_value(b, e);
                        first = 0;
                }
                XF_PUTS(b, "]");
                break;
        }
}

/* The chosen properties of \p from, in the order chosen; names already
 * written (\p fixed), repeated or missing are left out. */
static void xf_put_chosen(xf_buf_t *b, const wk_jv_t *from,
                          const char *const *names, size_t count,
                          const char *const *fixed, size_t nfixed, int *first)
{
        for (size_t i = 0; i < count; i++) {
                const char *name = names[i];
                const wk_jv_t *v;
                size_t j;
                if (!name)
                        continue;
                for (j = 0; j < nfixed; j++) {
                        if (!strcmp(fixed[j], name))
                                break;
                }
                if (j < nfixed)
                        continue;
                for (j = 0; j < i; j++) {
                        if (names[j] && !strcmp(names[j], name))
                                break;
                }
                if (j < i)
                        continue;
                v = wk_jv_get(from, name);
                if (!v)
                        continue;
                xf_put_key(b, name, *first);
                xf_put_value(b, v);
                *first = 0;
        }
}

char *wk_event_render(const wk_event_t *ev, const char *const *user_props,
                      size_t user_prop_count, const char *const *company_props,
                      size_t company_prop_count, size_t *lenp)
{
        static const char *const user_fixed[] = {"user_id", "name", "email"};
        static const char *const company_fixed[] = {"id", "name"};
        xf_buf_t b = {0};
        char tmp[HB_FMT_I64_MAX];
        int first;

        if (xf_grow(&b, 512) < 0)
                return NULL;
        XF_PUTS(&b, "{\"type\":");
        xf_put_xstr(&b, ev->f.type);
        XF_PUTS(&b, ",\"timestamp\":");
        xf_put(&b, tmp, hb_fmt_i64(tmp, ev->f.timestamp));
        XF_PUTS(&b, ",\"app_token\":");
        xf_put_xstr(&b, ev->f.app_token);
        XF_PUTS(&b, ",\"data\":{");
        if (ev->f.kind == HB_TYPE_ENTITY) {
                XF_PUTS(&b, "\"type\":");
                xf_put_xstr(&b, ev->f.data_type);
                XF_PUTS(&b, ",");
        }
        XF_PUTS(&b, "\"action\":");
        xf_put_xstr(&b, ev->f.action);
        if (ev->f.kind == HB_TYPE_ENTITY) {
                XF_PUTS(&b, ",\"id\":");
                xf_put_value(&b, ev->f.entity_id);
        }
        for (size_t i = 0; i < 4; i++) {
                if (!ev->f.nps[i])
                        continue;
                xf_put_key(&b, wk_xf_nps_keys[i], 0);
                xf_put_value(&b, ev->f.nps[i]);
        }
        XF_PUTS(&b, ",\"hostname\":");
        xf_put_xstr(&b, ev->f.hostname);
        XF_PUTS(&b, ",\"pathname\":");
        xf_put_xstr(&b, ev->f.pathname);
        XF_PUTS(&b, ",\"user\":{\"user_id\":");
        xf_put_xstr(&b, ev->f.user_id);
        if (ev->f.name) {
                XF_PUTS(&b, ",\"name\":");
                xf_put_value(&b, ev->f.name);
        }
        if (ev->f.email) {
                XF_PUTS(&b, ",\"email\":");
                xf_put_value(&b, ev->f.email);
        }
        first = 0;
        if (ev->f.traits)
                xf_put_chosen(&b, ev->f.traits, user_props, user_prop_count,
                              user_fixed, 3, &first);
        XF_PUTS(&b, "}");
        if (ev->f.has_company) {
                XF_PUTS(&b, ",\"company\":{");
                first = 1;
                if (ev->f.company_id.s) {
                        XF_PUTS(&b, "\"id\":");
                        xf_put_xstr(&b, ev->f.company_id);
                        first = 0;
                }
                if (ev->f.company_name) {
                        xf_put_key(&b, "name", first);
                        xf_put_value(&b, ev->f.company_name);
                        first = 0;
                }
                if (ev->f.group)
                        xf_put_chosen(&b, ev->f.group, company_props,
                                      company_prop_count, company_fixed, 2,
                                      &first);
                XF_PUTS(&b, "}");
        }
        XF_PUTS(&b, "}}");
        if (b.oom) {
                free(b.p);
                return NULL;
        }
        b.p[b.len] = '\0';
        if (lenp)
                *lenp = b.len;
        return b.p;
}
