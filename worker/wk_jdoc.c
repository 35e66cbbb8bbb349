/* wk_jdoc: a raw event's JSON as a read-only tree in one allocation: the
 * values in document order, then a copy of the text whose strings are
 * decoded in place. Built straight from the strict lexer's tokens; what
 * that path does not take (a grammar error, a repeated or NUL-holding
 * member name, an object of more than JD_MAX_MEMBERS) goes through
 * wk_json_parse() and its json-c tree is copied, so the reasons and the
 * values are json-c's in every case. */
#include "wk_jdoc.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

/* Repeated names are looked for pairwise: bounded per object. */
#define JD_MAX_MEMBERS 64

struct wk_jdoc_s {
        size_t count;
        wk_jv_t v[];
};

const wk_jv_t *wk_jdoc_root(const wk_jdoc_t *d)
{
        return d->v;
}

void wk_jdoc_free(wk_jdoc_t *d)
{
        free(d);
}

const wk_jv_t *wk_jv_getn(const wk_jv_t *obj, const char *key, size_t kn)
{
        if (!obj || obj->type != WK_JV_OBJECT)
                return NULL;
        for (const wk_jv_t *c = wk_jv_first(obj), *e = wk_jv_end(obj); c < e;
             c = wk_jv_next(c)) {
                if (c->kn == kn && !memcmp(c->k, key, kn))
                        return c->type == WK_JV_NULL ? NULL : c;
        }
        return NULL;
}

int64_t wk_jv_int64(const wk_jv_t *v)
{
        uint64_t u = 0;
        size_t i = v->n && v->s[0] == '-';

        for (; i < v->n; i++) {
                unsigned d = (unsigned)(v->s[i] - '0');
                if (u > (UINT64_MAX - d) / 10)
                        return INT64_MAX;
                u = u * 10 + d;
        }
        if (v->n && v->s[0] == '-')
                return u > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)u;
        return u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u;
}

double wk_jv_double(const wk_jv_t *v)
{
        return strtod(v->s, NULL);
}

/*
 * The direct path
 */

static int jd_hex(unsigned char c)
{
        return c <= '9' ? c - '0' : c <= 'F' ? c - 'A' + 10 : c - 'a' + 10;
}

static unsigned jd_u(const char *s)
{
        const unsigned char *u = (const unsigned char *)s;

        return (unsigned)(jd_hex(u[0]) << 12 | jd_hex(u[1]) << 8 |
                          jd_hex(u[2]) << 4 | jd_hex(u[3]));
}

/* Decode the (lexed, so valid) string whose opening quote is t[i] in
 * place, NUL-terminated; @returns the index after its closing quote.
 * *\p nul: set when it holds an (escaped) NUL. */
static size_t jd_string(char *t, size_t i, wk_jv_t *v, int *nul)
{
        const unsigned char *u = (const unsigned char *)t;
        size_t r = i + 1;
        size_t w = r;

        for (;;) {
                size_t run = r;
                unsigned cp;
                while (u[r] >= 0x80 || wk_json_plain[u[r]])
                        r++;
                if (w != run)
                        memmove(t + w, t + run, r - run);
                w += r - run;
                if (t[r] == '"')
                        break;
                switch (t[r + 1]) { /* t[r] is the backslash */
                case 'b':
                        t[w++] = '\b';
                        break;
                case 'f':
                        t[w++] = '\f';
                        break;
                case 'n':
                        t[w++] = '\n';
                        break;
                case 'r':
                        t[w++] = '\r';
                        break;
                case 't':
                        t[w++] = '\t';
                        break;
                case 'u':
                        cp = jd_u(t + r + 2);
                        if (cp >= 0xd800 && cp <= 0xdbff) {
                                /* the lexer saw its low half */
                                cp = 0x10000 + ((cp - 0xd800) << 10) +
                                     (jd_u(t + r + 8) - 0xdc00);
                                r += 6;
                        }
                        r += 4;
                        *nul |= cp == 0;
                        if (cp < 0x80) {
                                t[w++] = (char)cp;
                        } else if (cp < 0x800) {
                                t[w++] = (char)(0xc0 | cp >> 6);
                                t[w++] = (char)(0x80 | (cp & 0x3f));
                        } else if (cp < 0x10000) {
                                t[w++] = (char)(0xe0 | cp >> 12);
                                t[w++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                                t[w++] = (char)(0x80 | (cp & 0x3f));
                        } else {
                                t[w++] = (char)(0xf0 | cp >> 18);
                                t[w++] = (char)(0x80 | ((cp >> 12) & 0x3f));
                                t[w++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                                t[w++] = (char)(0x80 | (cp & 0x3f));
                        }
                        break;
                default: /* '"', '\\', '/' */
                        t[w++] = t[r + 1];
                }
                r += 2;
        }
        t[w] = '\0';
        v->s = t + i + 1;
        v->n = (uint32_t)(w - i - 1);
        return r + 1;
}

static int jd_is_ws(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* 1 when the members of object \p o have distinct names. */
static int jd_names_distinct(const wk_jv_t *o)
{
        for (const wk_jv_t *a = wk_jv_first(o), *e = wk_jv_end(o); a < e;
             a = wk_jv_next(a)) {
                for (const wk_jv_t *b = wk_jv_next(a); b < e;
                     b = wk_jv_next(b)) {
                        if (a->kn == b->kn && !memcmp(a->k, b->k, a->kn))
                                return 0;
                }
        }
        return 1;
}

enum { JD_VALUE, JD_FIRST_VALUE, JD_KEY, JD_FIRST_KEY, JD_AFTER };

/* Build \p d's values from its text \p t[0, len) (every token lexed).
 * @returns 0, or -1 when the direct path does not take it. */
static int jd_build(wk_jdoc_t *d, char *t, size_t len)
{
        uint32_t open[WK_JSON_MAX_DEPTH + 1]; /* containers being filled */
        size_t depth = 0;
        size_t next = 0;
        size_t i = 0;
        int state = JD_VALUE;
        int nul = 0;
        wk_jv_t key = {.k = ""};

        for (;;) {
                wk_jv_t *v;
                char c;
                while (i < len && jd_is_ws(t[i]))
                        i++;
                if (i >= len)
                        return -1;
                c = t[i];
                if (state == JD_FIRST_KEY || state == JD_KEY) {
                        if (c == '}' && state == JD_FIRST_KEY)
                                goto close;
                        if (c != '"')
                                return -1;
                        nul = 0;
                        i = jd_string(t, i, &key, &nul);
                        if (nul)
                                return -1; /* json-c cuts it at the NUL */
                        key.k = key.s;
                        key.kn = key.n;
                        while (i < len && jd_is_ws(t[i]))
                                i++;
                        if (i >= len || t[i] != ':')
                                return -1;
                        i++;
                        state = JD_VALUE;
                        continue;
                }
                if (state == JD_AFTER) {
                        wk_jv_t *top = &d->v[open[depth - 1]];
                        if (c == ',') {
                                i++;
                                state = top->type == WK_JV_OBJECT ? JD_KEY
                                                                  : JD_VALUE;
                                continue;
                        }
                        if (c != (top->type == WK_JV_OBJECT ? '}' : ']'))
                                return -1;
                        goto close;
                }
                if (c == ']' && state == JD_FIRST_VALUE)
                        goto close;
                /* a value */
                if (next >= d->count || (next == 0 && c != '{'))
                        return -1;
                v = &d->v[next];
                memset(v, 0, sizeof(*v));
                v->k = key.k;
                v->kn = key.kn;
                v->skip = 1;
                key.k = "";
                key.kn = 0;
                if (depth)
                        d->v[open[depth - 1]].n++;
                switch (c) {
                case '{':
                case '[':
                        v->type = c == '{' ? WK_JV_OBJECT : WK_JV_ARRAY;
                        open[depth++] = (uint32_t)next;
                        i++;
                        state = c == '{' ? JD_FIRST_KEY : JD_FIRST_VALUE;
                        next++;
                        continue;
                case '"':
                        v->type = WK_JV_STRING;
                        i = jd_string(t, i, v, &nul);
                        break;
                case 't':
                        v->type = WK_JV_BOOL;
                        v->truth = 1;
                        i += 4;
                        break;
                case 'f':
                        v->type = WK_JV_BOOL;
                        i += 5;
                        break;
                case 'n':
                        v->type = WK_JV_NULL;
                        i += 4;
                        break;
                default: {
                        size_t s = i;
                        int is_int = 1;
                        while (i < len &&
                               ((t[i] >= '0' && t[i] <= '9') || t[i] == '-' ||
                                t[i] == '+' || t[i] == '.' || t[i] == 'e' ||
                                t[i] == 'E')) {
                                if (t[i] == '.' || t[i] == 'e' || t[i] == 'E')
                                        is_int = 0;
                                i++;
                        }
                        if (i == s)
                                return -1;
                        v->s = t + s;
                        v->n = (uint32_t)(i - s);
                        v->type = is_int && !wk_json_int_is_wide(v->s, v->n)
                                          ? WK_JV_INT
                                          : WK_JV_DOUBLE;
                }
                }
                next++;
                state = JD_AFTER;
                continue;
        close:
                i++;
                v = &d->v[open[--depth]];
                v->skip = (uint32_t)(next - open[depth]);
                if (v->type == WK_JV_OBJECT &&
                    (v->n > JD_MAX_MEMBERS || !jd_names_distinct(v)))
                        return -1;
                if (!depth)
                        break;
                state = JD_AFTER;
        }
        while (i < len && jd_is_ws(t[i]))
                i++;
        return i == len ? 0 : -1;
}

/*
 * The json-c path: its tree copied
 */

/* Count the values under \p o and the bytes their texts take. */
static void jd_measure(json_object *o, size_t *values, size_t *bytes)
{
        char tmp[32];

        (*values)++;
        switch (json_object_get_type(o)) {
        case json_type_object: {
                json_object_object_foreach(o, k, m)
                {
                        *bytes += strlen(k) + 1;
                        jd_measure(m, values, bytes);
                }
                break;
        }
        case json_type_array:
                for (size_t i = 0, n = json_object_array_length(o); i < n; i++)
                        jd_measure(json_object_array_get_idx(o, i), values,
                                   bytes);
                break;
        case json_type_string:
                *bytes += (size_t)json_object_get_string_len(o) + 1;
                break;
        case json_type_int:
        case json_type_double:
                *bytes += wk_json_num_text(o, tmp, sizeof(tmp)).n + 1;
                break;
        default:
                break;
        }
}

/* Copy \p n bytes of \p s to *\p p, NUL-terminated; @returns the copy. */
static const char *jd_copy(char **p, const char *s, size_t n)
{
        char *c = *p;

        memcpy(c, s, n);
        c[n] = '\0';
        *p += n + 1;
        return c;
}

/* Write \p o as d->v[*next] on (its members after it). */
static void jd_fill(wk_jdoc_t *d, size_t *next, char **p, json_object *o,
                    const char *key)
{
        wk_jv_t *v = &d->v[(*next)++];
        size_t at = (size_t)(v - d->v);
        char tmp[32];
        wk_json_str_t s;

        memset(v, 0, sizeof(*v));
        v->k = key ? jd_copy(p, key, strlen(key)) : "";
        v->kn = (uint32_t)strlen(v->k);
        switch (json_object_get_type(o)) {
        case json_type_null:
                v->type = WK_JV_NULL;
                break;
        case json_type_boolean:
                v->type = WK_JV_BOOL;
                v->truth = json_object_get_boolean(o) ? 1 : 0;
                break;
        case json_type_int:
        case json_type_double:
                v->type = json_object_is_type(o, json_type_int) ? WK_JV_INT
                                                                : WK_JV_DOUBLE;
                s = wk_json_num_text(o, tmp, sizeof(tmp));
                v->s = jd_copy(p, s.s, s.n);
                v->n = (uint32_t)s.n;
                break;
        case json_type_string:
                v->type = WK_JV_STRING;
                v->n = (uint32_t)json_object_get_string_len(o);
                v->s = jd_copy(p, json_object_get_string(o), v->n);
                break;
        case json_type_object: {
                v->type = WK_JV_OBJECT;
                json_object_object_foreach(o, k, m)
                {
                        jd_fill(d, next, p, m, k);
                        d->v[at].n++;
                }
                break;
        }
        case json_type_array:
                v->type = WK_JV_ARRAY;
                for (size_t i = 0, n = json_object_array_length(o); i < n;
                     i++) {
                        jd_fill(d, next, p, json_object_array_get_idx(o, i),
                                NULL);
                        d->v[at].n++;
                }
                break;
        }
        d->v[at].skip = (uint32_t)(*next - at);
}

static wk_jdoc_t *jd_from_tree(json_object *root)
{
        size_t values = 0, bytes = 0, next = 0;
        wk_jdoc_t *d;
        char *p;

        jd_measure(root, &values, &bytes);
        d = malloc(sizeof(*d) + values * sizeof(wk_jv_t) + bytes);
        if (!d)
                return NULL;
        d->count = values;
        p = (char *)(d->v + values);
        jd_fill(d, &next, &p, root, NULL);
        return d;
}

wk_jdoc_t *wk_jdoc_parse(const char *buf, size_t len, char *reason,
                         size_t reason_size)
{
        size_t values;
        json_object *root;
        wk_jdoc_t *d;

        if (!buf)
                buf = "";
        if (wk_json_lex(buf, len, &values) == 0 && values &&
            values < UINT32_MAX) {
                d = malloc(sizeof(*d) + values * sizeof(wk_jv_t) + len + 1);
                if (d) {
                        char *t = (char *)(d->v + values);
                        d->count = values;
                        memcpy(t, buf, len);
                        t[len] = '\0';
                        if (jd_build(d, t, len) == 0)
                                return d;
                        free(d);
                }
        }
        root = wk_json_parse(buf, len, reason, reason_size);
        if (!root)
                return NULL;
        d = jd_from_tree(root);
        json_object_put(root);
        if (!d)
                wk_json_reason(reason, reason_size,
                               "out of memory parsing %zu bytes", len);
        return d;
}
