/* wk_transform: raw analytics event (Segment "track") -> webhook payload. */
#include "wk_transform.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Containers nested deeper than this (the root object counts) make the
 * message invalid: real events are a handful of levels deep, and the
 * bound keeps parsing and rendering stack use small. */
#define XF_MAX_DEPTH 64
/* messageId becomes the webhook-id header: bounded, no control bytes. */
#define XF_MAX_ID_LEN 512
/* How much of a raw name a reason quotes. */
#define XF_SNIP_LEN 64

/*
 * Mapping table
 */

/* How a webhook type renders its data object. */
typedef enum {
        XF_ENTITY = 0,   /* data.type, data.action, data.id */
        XF_NPS_SCORE,    /* data.action + survey_question, score */
        XF_NPS_FEEDBACK, /* ... + follow_up_question, feedback */
        XF_NPS_PLAIN,    /* data.action only */
} xf_kind_t;

typedef struct xf_spec_s {
        const char *type;
        const char *data_type; /* NULL for NPS */
        const char *action;
        const char *id_field; /* property holding data.id; NULL for NPS */
        xf_kind_t kind;
} xf_spec_t;

typedef struct xf_builtin_s {
        const char *event;
        xf_spec_t spec;
} xf_builtin_t;

/* SPEC section 2, in its order. */
static const xf_builtin_t xf_builtin[] = {
        {"Flow Started", {"flows.seen", "flow", "seen", "flow_id"}},
        {"Flow Completed", {"flows.completed", "flow", "completed", "flow_id"}},
        {"Flow Dismissed", {"flows.dismissed", "flow", "dismissed", "flow_id"}},
        {"Checklist Started",
         {"checklist.seen", "checklist", "seen", "checklist_id"}},
        {"Checklist Completed",
         {"checklist.completed", "checklist", "completed", "checklist_id"}},
        {"Checklist Dismissed",
         {"checklist.dismissed", "checklist", "dismissed", "checklist_id"}},
        {"NPS Score Submitted",
         {"nps.score", NULL, "score", NULL, XF_NPS_SCORE}},
        {"NPS Feedback Submitted",
         {"nps.feedback", NULL, "feedback", NULL, XF_NPS_FEEDBACK}},
        {"NPS Dismissed",
         {"nps.dismissed", NULL, "dismissed", NULL, XF_NPS_PLAIN}},
        {"NPS Ask Later",
         {"nps.ask_later", NULL, "ask_later", NULL, XF_NPS_PLAIN}},
        {"Feature Tag Clicked",
         {"feature_tag.clicked", "feature_tag", "clicked", "feature_tag_id"}},
        {"Feature Tag Hovered",
         {"feature_tag.hover", "feature_tag", "hover", "feature_tag_id"}},
        {"Feature Tag Text Input",
         {"feature_tag.text_input", "feature_tag", "text_input",
          "feature_tag_id"}},
        {"Form Submitted",
         {"forms.submitted", "forms", "submitted", "form_id"}},
        {"Button Tracked Event",
         {"button_tracked_event.occurred", "button_tracked_event", "occurred",
          "tracked_event_id"}},
};
#define XF_BUILTIN_COUNT (sizeof(xf_builtin) / sizeof(xf_builtin[0]))

/* The NPS fields, in payload order; a score carries the first two. */
static const char *const xf_nps_keys[4] = {"survey_question", "score",
                                           "follow_up_question", "feedback"};

typedef struct xf_row_s {
        const char *event;
        char *event_owned; /* NULL: event is a built-in literal */
        xf_spec_t spec;
        char *spec_owned; /* the strings of a custom type, or NULL */
} xf_row_t;

struct wk_mapping_s {
        xf_row_t *rows; /* built-ins first, then added rows */
        size_t count;
        size_t cap;
};

wk_mapping_t *wk_mapping_new(void)
{
        wk_mapping_t *m = calloc(1, sizeof(*m));

        if (!m)
                goto err;
        m->cap = XF_BUILTIN_COUNT + 16;
        m->rows = calloc(m->cap, sizeof(*m->rows));
        if (!m->rows)
                goto err;
        for (size_t i = 0; i < XF_BUILTIN_COUNT; i++) {
                m->rows[i].event = xf_builtin[i].event;
                m->rows[i].spec = xf_builtin[i].spec;
        }
        m->count = XF_BUILTIN_COUNT;
        return m;
err:
        free(m);
        return NULL;
}

void wk_mapping_destroy(wk_mapping_t *m)
{
        if (!m)
                return;
        for (size_t i = 0; i < m->count; i++) {
                free(m->rows[i].event_owned);
                free(m->rows[i].spec_owned);
        }
        free(m->rows);
        free(m);
}

static const xf_row_t *xf_row_find(const wk_mapping_t *m, const char *event,
                                   size_t len)
{
        /* Later rows are the added ones; a row's event is unique, so the
         * scan order does not matter. Fifteen-odd short compares. */
        for (size_t i = 0; i < m->count; i++) {
                const char *e = m->rows[i].event;
                if (e[0] == event[0] && !strncmp(e, event, len) &&
                    e[len] == '\0')
                        return &m->rows[i];
        }
        return NULL;
}

static int xf_type_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

int wk_mapping_add(wk_mapping_t *m, const char *event, const char *type,
                   char *errstr, size_t errstr_size)
{
        const xf_spec_t *builtin = NULL;
        xf_spec_t spec = {0};
        char *spec_owned = NULL;
        char *event_owned = NULL;
        xf_row_t *row = NULL;
        const char *dot;
        size_t tlen;

        if (!m || !event || !type) {
                snprintf(errstr, errstr_size, "mapping: missing argument");
                return -1;
        }
        if (!*event) {
                snprintf(errstr, errstr_size,
                         "mapping: the raw event name is empty");
                return -1;
        }
        tlen = strlen(type);
        dot = strchr(type, '.');
        for (size_t i = 0; i < tlen; i++) {
                if (!xf_type_char(type[i]))
                        dot = NULL;
        }
        if (!dot || dot == type || dot[1] == '\0') {
                snprintf(errstr, errstr_size,
                         "mapping '%.*s': webhook type '%.*s' must look "
                         "like <entity>.<action> (letters, digits, _ - .)",
                         XF_SNIP_LEN, event, XF_SNIP_LEN, type);
                return -1;
        }
        for (size_t i = 0; i < XF_BUILTIN_COUNT; i++) {
                if (!strcmp(xf_builtin[i].spec.type, type)) {
                        builtin = &xf_builtin[i].spec;
                        break;
                }
        }
        if (builtin) {
                spec = *builtin;
        } else {
                /* "type\0data_type\0action\0" in one block. */
                size_t plen = (size_t)(dot - type);
                spec_owned = malloc(2 * tlen + 2);
                if (!spec_owned)
                        goto err;
                memcpy(spec_owned, type, tlen + 1);
                memcpy(spec_owned + tlen + 1, type, plen);
                spec_owned[tlen + 1 + plen] = '\0';
                spec.type = spec_owned;
                spec.data_type = spec_owned + tlen + 1;
                spec.action = spec_owned + plen + 1; /* after the dot */
                spec.id_field = "id";
                spec.kind = XF_ENTITY;
        }

        for (size_t i = 0; i < m->count; i++) {
                if (!strcmp(m->rows[i].event, event)) {
                        row = &m->rows[i];
                        break;
                }
        }
        if (!row) {
                if (m->count == m->cap) {
                        size_t cap = m->cap * 2;
                        xf_row_t *rows = realloc(m->rows, cap * sizeof(*rows));
                        if (!rows)
                                goto err;
                        m->rows = rows;
                        m->cap = cap;
                }
                event_owned = strdup(event);
                if (!event_owned)
                        goto err;
                row = &m->rows[m->count++];
                memset(row, 0, sizeof(*row));
                row->event = event_owned;
                row->event_owned = event_owned;
        }
        free(row->spec_owned);
        row->spec = spec;
        row->spec_owned = spec_owned;
        return 0;
err:
        free(spec_owned);
        free(event_owned);
        snprintf(errstr, errstr_size, "mapping: out of memory");
        return -1;
}

int wk_mapping_has_type(const wk_mapping_t *m, const char *type)
{
        if (!m || !type)
                return 0;
        for (size_t i = 0; i < m->count; i++) {
                if (!strcmp(m->rows[i].spec.type, type))
                        return 1;
        }
        return 0;
}

size_t wk_mapping_types(const wk_mapping_t *m, const char **types, size_t max)
{
        size_t n = 0;

        if (!m)
                return 0;
        for (size_t i = 0; i < m->count; i++) {
                const char *t = m->rows[i].spec.type;
                size_t j;
                for (j = 0; j < i; j++) {
                        if (!strcmp(m->rows[j].spec.type, t))
                                break;
                }
                if (j < i)
                        continue;
                if (types && n < max)
                        types[n] = t;
                n++;
        }
        return n;
}

/*
 * Reasons
 */

static void xf_reason(char *r, size_t rsize, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void xf_reason(char *r, size_t rsize, const char *fmt, ...)
{
        va_list ap;

        if (!r || !rsize)
                return;
        va_start(ap, fmt);
        vsnprintf(r, rsize, fmt, ap);
        va_end(ap);
}

/* Copy up to XF_SNIP_LEN bytes of a raw name for a reason: quotes,
 * backslashes and control bytes become '?' (reasons end up in logfmt
 * values and JSON strings), UTF-8 sequences stay whole. */
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

/*
 * Strict JSON pre-pass
 *
 * json-c is lenient where a bridge must not be: it accepts NaN,
 * Infinity and single-quoted strings (and would write NaN back out, which
 * is not JSON), does not reject overlong or surrogate UTF-8, lets raw
 * control bytes into strings, and clamps integers beyond 64 bits to the
 * nearest limit (silently changing ids). This lexer checks every token
 * (json-c checks the grammar), bounds the nesting before json-c allocates
 * for it, and finds the integers json-c cannot hold exactly: "-0" and
 * those outside int64/uint64. Those are parsed as doubles by appending a
 * '.', which json-c keeps as the number's text; as no JSON number ends in
 * '.', the renderer recognises the mark and writes the digits as they
 * came.
 */

static int xf_is_digit(unsigned char c)
{
        return c >= '0' && c <= '9';
}

static int xf_is_ws(unsigned char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int xf_is_hex(unsigned char c)
{
        return xf_is_digit(c) || (c >= 'a' && c <= 'f') ||
               (c >= 'A' && c <= 'F');
}

/* @returns the length of the valid UTF-8 sequence (2-4 bytes) at \p s,
 * or 0 (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF). */
static size_t xf_utf8_len(const unsigned char *s, size_t n)
{
        unsigned char c = s[0];
        unsigned char lo = 0x80;
        unsigned char hi = 0xbf;
        size_t len;

        if (c >= 0xc2 && c <= 0xdf) {
                len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
                len = 3;
                if (c == 0xe0)
                        lo = 0xa0;
                else if (c == 0xed)
                        hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4;
                if (c == 0xf0)
                        lo = 0x90;
                else if (c == 0xf4)
                        hi = 0x8f;
        } else {
                return 0;
        }
        if (n < len || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++) {
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        }
        return len;
}

/* 1 when the integer literal \p s (JSON grammar, no fraction/exponent)
 * has no exact int64/uint64 value in json-c, or is "-0". */
static int xf_int_needs_mark(const char *s, size_t n)
{
        int neg = s[0] == '-';
        const char *d = s + neg;
        size_t nd = n - (size_t)neg;

        if (neg) {
                if (nd == 1 && d[0] == '0')
                        return 1;
                return nd > 19 ||
                       (nd == 19 && memcmp(d, "9223372036854775808", 19) > 0);
        }
        return nd > 20 ||
               (nd == 20 && memcmp(d, "18446744073709551615", 20) > 0);
}

typedef struct xf_lex_s {
        const char *buf;
        size_t len;
        char *out;      /* second pass: copy with marks, else NULL */
        size_t out_len; /* bytes written to out */
        size_t copied;  /* input bytes copied to out so far */
        size_t marks;   /* integers needing the '.' mark */
        int first;      /* first significant byte, 0: none */
} xf_lex_t;

/* Scan one number at \p i; @returns the index after it or 0 on error. */
static size_t xf_lex_number(xf_lex_t *lx, size_t i)
{
        const unsigned char *b = (const unsigned char *)lx->buf;
        size_t n = lx->len;
        size_t start = i;
        int is_int = 1;

        if (b[i] == '-')
                i++;
        if (i >= n || !xf_is_digit(b[i]))
                return 0;
        if (b[i] == '0') {
                i++;
        } else {
                while (i < n && xf_is_digit(b[i]))
                        i++;
        }
        if (i < n && b[i] == '.') {
                is_int = 0;
                if (++i >= n || !xf_is_digit(b[i]))
                        return 0;
                while (i < n && xf_is_digit(b[i]))
                        i++;
        }
        if (i < n && (b[i] == 'e' || b[i] == 'E')) {
                is_int = 0;
                i++;
                if (i < n && (b[i] == '+' || b[i] == '-'))
                        i++;
                if (i >= n || !xf_is_digit(b[i]))
                        return 0;
                while (i < n && xf_is_digit(b[i]))
                        i++;
        }
        if (i < n &&
            (xf_is_digit(b[i]) || b[i] == '.' || b[i] == '+' || b[i] == '-' ||
             (b[i] >= 'a' && b[i] <= 'z') || (b[i] >= 'A' && b[i] <= 'Z')))
                return 0;
        if (is_int && xf_int_needs_mark(lx->buf + start, i - start)) {
                lx->marks++;
                if (lx->out) {
                        memcpy(lx->out + lx->out_len, lx->buf + lx->copied,
                               i - lx->copied);
                        lx->out_len += i - lx->copied;
                        lx->out[lx->out_len++] = '.';
                        lx->copied = i;
                }
        }
        return i;
}

/* Bytes that can be skipped inside a string: printable ASCII but '"'
 * and '\\'. The rest are the end, an escape, a control byte (not
 * allowed) or the start of a UTF-8 sequence (validated). */
static const unsigned char xf_str_plain[256] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
        1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 '"' */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50 '\\' */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x70 */
};

/* Scan the string opening at \p i. @returns the index after its closing
 * quote, or 0 with the reason. */
static size_t xf_lex_string(const xf_lex_t *lx, size_t i, char *reason,
                            size_t rsize)
{
        const unsigned char *b = (const unsigned char *)lx->buf;
        size_t n = lx->len;
        size_t j = i + 1;

        for (;;) {
                unsigned char e;
                size_t sl;

                while (j < n && xf_str_plain[b[j]])
                        j++;
                if (j >= n) {
                        xf_reason(reason, rsize,
                                  "not JSON: unterminated string at byte %zu",
                                  i);
                        return 0;
                }
                if (b[j] == '"')
                        return j + 1;
                if (b[j] == '\\') {
                        e = j + 1 < n ? b[j + 1] : 0;
                        if (e == 'u' && n - j > 5 && xf_is_hex(b[j + 2]) &&
                            xf_is_hex(b[j + 3]) && xf_is_hex(b[j + 4]) &&
                            xf_is_hex(b[j + 5])) {
                                j += 6;
                                continue;
                        }
                        if (e && strchr("\"\\/bfnrt", (char)e)) {
                                j += 2;
                                continue;
                        }
                        xf_reason(reason, rsize,
                                  "not JSON: invalid escape in string at "
                                  "byte %zu",
                                  j);
                        return 0;
                }
                if (b[j] < 0x20) {
                        xf_reason(reason, rsize,
                                  "not JSON: control character in string at "
                                  "byte %zu",
                                  j);
                        return 0;
                }
                sl = xf_utf8_len(b + j, n - j);
                if (!sl) {
                        xf_reason(reason, rsize, "invalid UTF-8 at byte %zu",
                                  j);
                        return 0;
                }
                j += sl;
        }
}

/* @returns the index after the literal true/false/null at \p i, or 0. */
static size_t xf_lex_literal(const xf_lex_t *lx, size_t i)
{
        const unsigned char *b = (const unsigned char *)lx->buf;
        const char *w = b[i] == 't' ? "true" : b[i] == 'f' ? "false" : "null";
        size_t wl = strlen(w);
        size_t n = lx->len;

        if (n - i < wl || memcmp(b + i, w, wl))
                return 0;
        i += wl;
        if (i < n && ((b[i] >= 'a' && b[i] <= 'z') ||
                      (b[i] >= 'A' && b[i] <= 'Z') || xf_is_digit(b[i])))
                return 0;
        return i;
}

/* @returns 0, or -1 with the reason. */
static int xf_lex(xf_lex_t *lx, char *reason, size_t rsize)
{
        const unsigned char *b = (const unsigned char *)lx->buf;
        size_t n = lx->len;
        size_t i = 0;
        int depth = 0;

        while (i < n) {
                unsigned char c = b[i];
                size_t j;

                if (xf_is_ws(c)) {
                        i++;
                        continue;
                }
                if (!lx->first)
                        lx->first = c;
                switch (c) {
                case '{':
                case '[':
                        if (++depth > XF_MAX_DEPTH) {
                                xf_reason(reason, rsize,
                                          "nesting too deep (more than %d "
                                          "levels) at byte %zu",
                                          XF_MAX_DEPTH, i);
                                return -1;
                        }
                        i++;
                        break;
                case '}':
                case ']':
                        if (depth > 0)
                                depth--;
                        i++;
                        break;
                case ':':
                case ',':
                        i++;
                        break;
                case '"':
                        i = xf_lex_string(lx, i, reason, rsize);
                        if (!i)
                                return -1;
                        break;
                case 't':
                case 'f':
                case 'n':
                        j = xf_lex_literal(lx, i);
                        if (!j)
                                goto unexpected;
                        i = j;
                        break;
                default:
                        if (c == '-' || xf_is_digit(c)) {
                                j = xf_lex_number(lx, i);
                                if (!j) {
                                        xf_reason(reason, rsize,
                                                  "not JSON: invalid number "
                                                  "at byte %zu",
                                                  i);
                                        return -1;
                                }
                                i = j;
                                break;
                        }
                        goto unexpected;
                }
        }
        if (lx->out) {
                memcpy(lx->out + lx->out_len, lx->buf + lx->copied,
                       n - lx->copied);
                lx->out_len += n - lx->copied;
        }
        return 0;
unexpected:
        if (b[i] > 0x20 && b[i] < 0x7f && b[i] != '\\')
                xf_reason(reason, rsize,
                          "not JSON: unexpected character '%c' at byte %zu",
                          b[i], i);
        else
                xf_reason(reason, rsize,
                          "not JSON: unexpected byte 0x%02x at byte %zu", b[i],
                          i);
        return -1;
}

/* One json-c tokener per thread, reset between messages: making one per
 * message was a tenth of the parse. Freed when its thread ends. */
static pthread_key_t xf_tok_key;
static pthread_once_t xf_tok_once = PTHREAD_ONCE_INIT;
static int xf_tok_key_ok;

static void xf_tok_free(void *tok)
{
        json_tokener_free(tok);
}

static void xf_tok_init(void)
{
        xf_tok_key_ok = pthread_key_create(&xf_tok_key, xf_tok_free) == 0;
}

/* @returns this thread's tokener, ready for a new text, or NULL (OOM). */
static struct json_tokener *xf_tokener(void)
{
        struct json_tokener *tok;

        pthread_once(&xf_tok_once, xf_tok_init);
        if (!xf_tok_key_ok)
                return NULL;
        tok = pthread_getspecific(xf_tok_key);
        if (tok) {
                json_tokener_reset(tok);
                return tok;
        }
        tok = json_tokener_new_ex(XF_MAX_DEPTH + 1);
        if (!tok)
                return NULL;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        if (pthread_setspecific(xf_tok_key, tok) != 0) {
                json_tokener_free(tok);
                return NULL;
        }
        return tok;
}

/* @returns the parsed object (caller owns it), or NULL with the reason. */
static json_object *xf_json_parse(const char *buf, size_t len, char *reason,
                                  size_t rsize)
{
        xf_lex_t lx = {.buf = buf, .len = len};
        struct json_tokener *tok = NULL;
        json_object *root = NULL;
        enum json_tokener_error jerr;
        char *copy = NULL;
        size_t end;

        if (len >= INT_MAX / 2) {
                xf_reason(reason, rsize, "message too large (%zu bytes)", len);
                return NULL;
        }
        if (xf_lex(&lx, reason, rsize) < 0)
                return NULL;
        if (!lx.first) {
                xf_reason(reason, rsize, "not JSON: empty message");
                return NULL;
        }
        if (lx.first != '{') {
                xf_reason(reason, rsize, "not a JSON object");
                return NULL;
        }
        if (lx.marks) {
                copy = malloc(len + lx.marks);
                if (!copy)
                        goto oom;
                lx.out = copy;
                lx.marks = 0;
                if (xf_lex(&lx, reason, rsize) < 0)
                        goto err;
                buf = copy;
                len = lx.out_len;
        }
        tok = xf_tokener();
        if (!tok)
                goto oom;
        root = json_tokener_parse_ex(tok, buf, (int)len);
        jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_continue) {
                xf_reason(reason, rsize, "not JSON: unexpected end of input");
                goto err;
        }
        if (jerr == json_tokener_error_depth) {
                xf_reason(reason, rsize,
                          "nesting too deep (more than %d "
                          "levels)",
                          XF_MAX_DEPTH);
                goto err;
        }
        if (jerr != json_tokener_success || !root) {
                /* Offsets count the '.' marks when there were any. */
                xf_reason(reason, rsize, "not JSON: %s at byte %zu",
                          json_tokener_error_desc(jerr),
                          json_tokener_get_parse_end(tok));
                goto err;
        }
        for (end = json_tokener_get_parse_end(tok); end < len; end++) {
                if (!xf_is_ws((unsigned char)buf[end])) {
                        xf_reason(reason, rsize,
                                  "not JSON: trailing data at byte %zu", end);
                        goto err;
                }
        }
        if (!json_object_is_type(root, json_type_object)) {
                xf_reason(reason, rsize, "not a JSON object");
                goto err;
        }
        free(copy);
        return root;
oom:
        xf_reason(reason, rsize, "out of memory parsing %zu bytes", len);
err:
        json_object_put(root);
        free(copy);
        return NULL;
}

/*
 * Field helpers
 */

typedef struct xf_str_s {
        const char *s; /* NULL: absent */
        size_t n;
} xf_str_t;

/* @returns member \p key of \p obj; a JSON null counts as absent. */
static json_object *xf_get(json_object *obj, const char *key)
{
        json_object *v = NULL;

        if (!obj || !json_object_object_get_ex(obj, key, &v))
                return NULL;
        return v;
}

static int xf_is_number(json_object *v)
{
        return json_object_is_type(v, json_type_int) ||
               json_object_is_type(v, json_type_double);
}

static xf_str_t xf_jstr(json_object *v)
{
        xf_str_t s = {json_object_get_string(v),
                      (size_t)json_object_get_string_len(v)};
        return s;
}

/* The text of a JSON number as it came. Integers are written in decimal
 * into \p tmp; doubles (and the marked wide integers) keep their source
 * text, which json-c stores as the double's userdata. */
static xf_str_t xf_num_text(json_object *v, char *tmp, size_t tmpsize)
{
        xf_str_t s = {tmp, 0};

        if (json_object_is_type(v, json_type_int)) {
                int64_t i = json_object_get_int64(v);
                int r;
                if (i == INT64_MAX)
                        r = snprintf(tmp, tmpsize, "%" PRIu64,
                                     json_object_get_uint64(v));
                else
                        r = snprintf(tmp, tmpsize, "%" PRId64, i);
                s.n = r > 0 ? (size_t)r : 0;
                return s;
        }
        s.s = json_object_get_userdata(v);
        if (s.s) {
                s.n = strlen(s.s);
                if (s.n > 1 && s.s[s.n - 1] == '.')
                        s.n--; /* the wide-integer mark */
                return s;
        }
        /* Not from the tokener: cannot happen, but stay valid JSON. */
        double d = json_object_get_double(v);
        int r = isfinite(d) ? snprintf(tmp, tmpsize, "%.17g", d)
                            : snprintf(tmp, tmpsize, "null");
        s.s = tmp;
        s.n = r > 0 ? (size_t)r : 0;
        return s;
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

static int xf_digits(const char *s, size_t n, int *out)
{
        int v = 0;

        for (size_t i = 0; i < n; i++) {
                if (!xf_is_digit((unsigned char)s[i]))
                        return -1;
                v = v * 10 + (s[i] - '0');
        }
        *out = v;
        return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t xf_days_from_civil(int64_t y, int m, int d)
{
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        int64_t yoe = y - era * 400;
        int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

        return era * 146097 + doe - 719468;
}

static int xf_month_days(int y, int m)
{
        static const int days[12] = {31, 28, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31};
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

        return days[m - 1] + (m == 2 && leap);
}

/*
 * ISO-8601 / RFC 3339: YYYY-MM-DD[(T|t|
 * )hh:mm[:ss[(.|,)f+]][Z|z|(+|-)hh[[:]mm]]] A time without an offset is taken
 * as UTC. @returns 0 and the unix seconds (floored), or -1.
 */
static int xf_parse_iso(const char *s, size_t n, int64_t *secs)
{
        int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0;
        size_t i;

        if (n < 10 || xf_digits(s, 4, &y) || s[4] != '-' ||
            xf_digits(s + 5, 2, &mo) || s[7] != '-' || xf_digits(s + 8, 2, &d))
                return -1;
        i = 10;
        if (i < n) {
                if ((s[i] != 'T' && s[i] != 't' && s[i] != ' ') || n - i < 6 ||
                    xf_digits(s + i + 1, 2, &h) || s[i + 3] != ':' ||
                    xf_digits(s + i + 4, 2, &mi))
                        return -1;
                i += 6;
                if (i < n && s[i] == ':') {
                        if (n - i < 3 || xf_digits(s + i + 1, 2, &sec))
                                return -1;
                        i += 3;
                        if (i < n && (s[i] == '.' || s[i] == ',')) {
                                size_t f = ++i;
                                while (i < n &&
                                       xf_is_digit((unsigned char)s[i]))
                                        i++;
                                if (i == f)
                                        return -1;
                        }
                }
                if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
                        i++;
                } else if (i < n && (s[i] == '+' || s[i] == '-')) {
                        sign = s[i] == '-' ? -1 : 1;
                        if (n - i < 3 || xf_digits(s + i + 1, 2, &oh))
                                return -1;
                        i += 3;
                        if (i < n) {
                                i += s[i] == ':';
                                if (n - i != 2 || xf_digits(s + i, 2, &om))
                                        return -1;
                                i += 2;
                        }
                }
        }
        if (i != n || mo < 1 || mo > 12 || d < 1 || d > xf_month_days(y, mo) ||
            h > 23 || mi > 59 || sec > 60 || oh > 23 || om > 59)
                return -1;
        /* Offsets are whole minutes and the fraction is dropped from a
         * non-negative second count, so this is already the floor. */
        *secs = xf_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
                sec - sign * (oh * 3600 + om * 60);
        return 0;
}

/* @returns 0 and the payload timestamp from the raw "timestamp", or -1
 * when it is missing or unparseable. */
static int xf_timestamp(json_object *v, int64_t *secs)
{
        if (!v)
                return -1;
        if (json_object_is_type(v, json_type_int)) {
                int64_t ms = json_object_get_int64(v);
                if (ms == INT64_MAX)
                        return -1; /* possibly clamped uint64 */
                *secs = xf_floordiv(ms, 1000);
                return 0;
        }
        if (json_object_is_type(v, json_type_double)) {
                double ms = json_object_get_double(v);
                if (!isfinite(ms) || fabs(ms) > 9.0e18)
                        return -1;
                *secs = (int64_t)floor(ms / 1000.0);
                return 0;
        }
        if (json_object_is_type(v, json_type_string)) {
                xf_str_t s = xf_jstr(v);
                size_t i = s.s[0] == '-';
                /* Epoch milliseconds written as a string. */
                if (s.n > i && s.n - i <= 18) {
                        int64_t ms = 0;
                        for (; i < s.n && xf_is_digit((unsigned char)s.s[i]);
                             i++)
                                ms = ms * 10 + (s.s[i] - '0');
                        if (i == s.n) {
                                *secs = xf_floordiv(s.s[0] == '-' ? -ms : ms,
                                                    1000);
                                return 0;
                        }
                }
                return xf_parse_iso(s.s, s.n, secs);
        }
        return -1;
}

/*
 * URLs: scheme://[userinfo@]host[:port][/path][?query][#fragment]
 */

/* @returns the index of the first of \p stops in s[i, n), or n. */
static size_t xf_until(const char *s, size_t i, size_t n, const char *stops)
{
        while (i < n && !(s[i] && strchr(stops, s[i])))
                i++;
        return i;
}

/* @returns 0 with the host (as written) and path, or -1 when \p u is not
 * an absolute URL, a scheme-relative one or an absolute path. */
static int xf_parse_url(const char *u, size_t n, xf_str_t *host, xf_str_t *path)
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

/* An event's fields. Strings point into the raw tree (which the event
 * holds) or into the event's arena; nothing points at the mapping or the
 * message metadata, which may go away first (a reload). */
typedef struct xf_fields_s {
        json_object *root;
        xf_kind_t kind;
        int64_t timestamp;
        int has_company;
        xf_str_t type; /* NUL-terminated, like id */
        xf_str_t data_type;
        xf_str_t action;
        xf_str_t id;
        xf_str_t app_token;
        xf_str_t hostname;
        xf_str_t pathname;
        xf_str_t user_id;
        xf_str_t company_id; /* s NULL: no context.groupId */
        json_object *entity_id;
        json_object *nps[4]; /* as xf_nps_keys; NULL: absent */
        json_object *traits; /* NULL: none */
        json_object *group;  /* NULL: none */
        json_object *name;
        json_object *email;
        json_object *company_name;
} xf_fields_t;

struct wk_event_s {
        xf_fields_t f;
        char arena[]; /* the strings copied for this event */
};

/* A field whose text is copied into the arena once its size is known. */
typedef struct xf_pending_s {
        size_t field; /* offset of the xf_str_t in xf_fields_t */
        int lower;
} xf_pending_t;

/* The event under construction. */
typedef struct xf_draft_s {
        xf_fields_t f;
        xf_pending_t pend[8];
        size_t npend;
        int synth_id; /* the id is "<topic>-<partition>-<offset>" */
        char user_tmp[32];
        char company_tmp[32];
        char id_tmp[32];
        char snip[XF_SNIP_LEN * 2];
} xf_draft_t;

/* Copy \p field (one of d->f's) into the event. */
static void xf_keep(xf_draft_t *d, xf_str_t *field, int lower)
{
        d->pend[d->npend].field = (size_t)((char *)field - (char *)&d->f);
        d->pend[d->npend].lower = lower;
        d->npend++;
}

static void xf_keep_literal(xf_draft_t *d, xf_str_t *field, const char *s)
{
        field->s = s;
        field->n = strlen(s);
        xf_keep(d, field, 0);
}

/* @returns the text of a string or number id (sets \p bad for other
 * types; s NULL when absent). Numbers are written into \p tmp. */
static xf_str_t xf_id_text(json_object *v, char *tmp, size_t tmpsize, int *bad)
{
        xf_str_t none = {NULL, 0};

        *bad = 0;
        if (!v)
                return none;
        if (json_object_is_type(v, json_type_string))
                return xf_jstr(v);
        if (xf_is_number(v))
                return xf_num_text(v, tmp, tmpsize);
        *bad = 1;
        return none;
}

/* Fetch an optional object member; @returns -1 when present but not an
 * object. */
static int xf_get_object(json_object *parent, const char *key,
                         json_object **out)
{
        json_object *v = xf_get(parent, key);

        *out = NULL;
        if (!v)
                return 0;
        if (!json_object_is_type(v, json_type_object))
                return -1;
        *out = v;
        return 0;
}

/* A track call with a mapped event? @returns WK_XF_OK and the row, or
 * the status and reason. */
static wk_xf_status_t xf_classify(const wk_mapping_t *m, json_object *root,
                                  xf_draft_t *d, const xf_row_t **rowp,
                                  char *reason, size_t rsize)
{
        json_object *v = xf_get(root, "type");
        xf_str_t s;

        if (!v) {
                xf_reason(reason, rsize, "missing type");
                return WK_XF_INVALID;
        }
        if (!json_object_is_type(v, json_type_string)) {
                xf_reason(reason, rsize, "type must be a string");
                return WK_XF_INVALID;
        }
        s = xf_jstr(v);
        if (s.n != 5 || memcmp(s.s, "track", 5)) {
                xf_reason(reason, rsize, "type '%s' is not a track call",
                          xf_snip(d->snip, sizeof(d->snip), s.s, s.n));
                return WK_XF_SKIPPED;
        }
        v = xf_get(root, "event");
        if (!v) {
                xf_reason(reason, rsize, "missing event");
                return WK_XF_INVALID;
        }
        if (!json_object_is_type(v, json_type_string) ||
            !json_object_get_string_len(v)) {
                xf_reason(reason, rsize, "event must be a non-empty string");
                return WK_XF_INVALID;
        }
        s = xf_jstr(v);
        *rowp = strlen(s.s) == s.n ? xf_row_find(m, s.s, s.n) : NULL;
        if (!*rowp) {
                xf_reason(reason, rsize, "unmapped event '%s'",
                          xf_snip(d->snip, sizeof(d->snip), s.s, s.n));
                return WK_XF_SKIPPED;
        }
        return WK_XF_OK;
}

/* The type's names and data.id or the NPS fields. @returns 0 or -1. */
static int xf_what(const xf_row_t *row, json_object *props, xf_draft_t *d,
                   char *reason, size_t rsize)
{
        const xf_spec_t *sp = &row->spec;

        d->f.kind = sp->kind;
        xf_keep_literal(d, &d->f.type, sp->type);
        xf_keep_literal(d, &d->f.action, sp->action);
        if (sp->kind != XF_ENTITY) {
                size_t k = sp->kind == XF_NPS_SCORE      ? 2
                           : sp->kind == XF_NPS_FEEDBACK ? 4
                                                         : 0;
                for (size_t i = 0; i < k; i++)
                        d->f.nps[i] = xf_get(props, xf_nps_keys[i]);
                return 0;
        }
        xf_keep_literal(d, &d->f.data_type, sp->data_type);
        d->f.entity_id = xf_get(props, sp->id_field);
        if (!d->f.entity_id) {
                xf_reason(reason, rsize, "missing properties.%s for %s",
                          sp->id_field,
                          xf_snip(d->snip, sizeof(d->snip), row->event,
                                  strlen(row->event)));
                return -1;
        }
        if (!json_object_is_type(d->f.entity_id, json_type_string) &&
            !xf_is_number(d->f.entity_id)) {
                xf_reason(reason, rsize,
                          "properties.%s must be a string or number",
                          sp->id_field);
                return -1;
        }
        return 0;
}

/* The user and the company. @returns 0 or -1. */
static int xf_who(json_object *root, json_object *context, xf_draft_t *d,
                  char *reason, size_t rsize)
{
        int bad;

        d->f.user_id = xf_id_text(xf_get(root, "userId"), d->user_tmp,
                                  sizeof(d->user_tmp), &bad);
        if (bad) {
                xf_reason(reason, rsize, "userId must be a string or number");
                return -1;
        }
        if (!d->f.user_id.s || !d->f.user_id.n) {
                xf_reason(reason, rsize, "%s",
                          d->f.user_id.s ? "empty userId" : "missing userId");
                return -1;
        }
        if (d->f.user_id.s == d->user_tmp)
                xf_keep(d, &d->f.user_id, 0);
        d->f.name = xf_get(d->f.traits, "name");
        d->f.email = xf_get(d->f.traits, "email");

        d->f.company_id = xf_id_text(xf_get(context, "groupId"), d->company_tmp,
                                     sizeof(d->company_tmp), &bad);
        if (bad) {
                xf_reason(reason, rsize,
                          "context.groupId must be a string or number");
                return -1;
        }
        if (d->f.company_id.s == d->company_tmp)
                xf_keep(d, &d->f.company_id, 0);
        d->f.company_name = xf_get(d->f.group, "name");
        d->f.has_company = d->f.company_id.s != NULL;
        if (d->f.group) {
                /* A group with any non-null member is a company. */
                for (struct lh_entry *e =
                             lh_table_head(json_object_get_object(d->f.group));
                     e && !d->f.has_company; e = lh_entry_next(e))
                        d->f.has_company = lh_entry_v(e) != NULL;
        }
        return 0;
}

/* context.app_token, else the topic's. @returns 0 or -1. */
static int xf_app_token(json_object *context, const wk_msgmeta_t *meta,
                        xf_draft_t *d, char *reason, size_t rsize)
{
        json_object *v = xf_get(context, "app_token");

        if (v && !json_object_is_type(v, json_type_string)) {
                xf_reason(reason, rsize, "context.app_token must be a string");
                return -1;
        }
        if (v && json_object_get_string_len(v)) {
                d->f.app_token = xf_jstr(v);
                return 0;
        }
        if (meta->topic_app_token && *meta->topic_app_token) {
                xf_keep_literal(d, &d->f.app_token, meta->topic_app_token);
                return 0;
        }
        xf_reason(reason, rsize,
                  "no app_token: set context.app_token or the topic's "
                  "app_token");
        return -1;
}

/* messageId: it becomes the webhook-id header, so it must be printable
 * and bounded. @returns 0 or -1. */
static int xf_message_id(json_object *root, xf_draft_t *d, char *reason,
                         size_t rsize)
{
        json_object *v = xf_get(root, "messageId");

        if (!v || (json_object_is_type(v, json_type_string) &&
                   !json_object_get_string_len(v))) {
                d->synth_id = 1;
                return 0;
        }
        if (json_object_is_type(v, json_type_string)) {
                d->f.id = xf_jstr(v);
        } else if (xf_is_number(v)) {
                d->f.id = xf_num_text(v, d->id_tmp, sizeof(d->id_tmp));
                xf_keep(d, &d->f.id, 0);
        } else {
                xf_reason(reason, rsize, "messageId must be a string");
                return -1;
        }
        if (d->f.id.n > XF_MAX_ID_LEN) {
                xf_reason(reason, rsize, "messageId longer than %d bytes",
                          XF_MAX_ID_LEN);
                return -1;
        }
        for (size_t i = 0; i < d->f.id.n; i++) {
                unsigned char c = (unsigned char)d->f.id.s[i];
                if (c < 0x20 || c == 0x7f) {
                        xf_reason(reason, rsize,
                                  "messageId contains control characters");
                        return -1;
                }
        }
        return 0;
}

/* data.hostname and data.pathname from context.page. */
static void xf_where(json_object *page, xf_draft_t *d)
{
        json_object *v = xf_get(page, "url");
        xf_str_t *host = &d->f.hostname;
        xf_str_t *path = &d->f.pathname;
        xf_str_t s;

        if (v && json_object_is_type(v, json_type_string)) {
                s = xf_jstr(v);
                if (xf_parse_url(s.s, s.n, host, path) == 0)
                        goto done;
        }
        host->s = "";
        host->n = 0;
        path->s = "";
        path->n = 0;
        v = xf_get(page, "path");
        if (v && json_object_is_type(v, json_type_string)) {
                s = xf_jstr(v);
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
static int64_t xf_when(json_object *root, const wk_msgmeta_t *meta)
{
        int64_t ts;

        if (xf_timestamp(xf_get(root, "timestamp"), &ts) == 0)
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

        for (size_t i = 0; i < d->npend; i++) {
                const xf_str_t *src = (const xf_str_t *)((const char *)&d->f +
                                                         d->pend[i].field);
                size += src->n + 1;
        }
        ev = malloc(sizeof(*ev) + size);
        if (!ev)
                return NULL;
        ev->f = d->f;
        p = ev->arena;
        for (size_t i = 0; i < d->npend; i++) {
                xf_str_t *dst = (xf_str_t *)((char *)&ev->f + d->pend[i].field);
                for (size_t k = 0; k < dst->n; k++) {
                        char c = dst->s[k];
                        if (d->pend[i].lower && c >= 'A' && c <= 'Z')
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
        json_object *root, *context, *props, *page;
        const xf_row_t *row = NULL;
        wk_xf_status_t st;
        const char *bad = NULL;

        if (evp)
                *evp = NULL;
        if (!m || !meta || !evp || (!buf && len)) {
                xf_reason(reason, reason_size, "internal: bad arguments");
                return WK_XF_INVALID;
        }
        root = xf_json_parse(buf ? buf : "", len, reason, reason_size);
        if (!root)
                return WK_XF_INVALID;
        memset(&d, 0, sizeof(d));
        st = xf_classify(m, root, &d, &row, reason, reason_size);
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
                xf_reason(reason, reason_size, "%s must be an object", bad);
                goto err;
        }
        if (xf_who(root, context, &d, reason, reason_size) < 0 ||
            xf_what(row, props, &d, reason, reason_size) < 0 ||
            xf_app_token(context, meta, &d, reason, reason_size) < 0 ||
            xf_message_id(root, &d, reason, reason_size) < 0)
                goto err;
        d.f.timestamp = xf_when(root, meta);
        xf_where(page, &d);

        d.f.root = root;
        *evp = xf_event_new(&d, meta);
        if (!*evp) {
                xf_reason(reason, reason_size, "out of memory");
                goto err;
        }
        return WK_XF_OK;
err:
        json_object_put(root);
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

int64_t wk_event_timestamp(const wk_event_t *ev)
{
        return ev->f.timestamp;
}

void wk_event_destroy(wk_event_t *ev)
{
        if (!ev)
                return;
        json_object_put(ev->f.root);
        free(ev);
}

/*
 * Rendering: written by hand rather than through a json-c tree, so one
 * event can be rendered from several threads at once (json-c caches a
 * serialisation inside each object and its reference counts are not
 * atomic) and without allocating per member.
 */

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
                if (c >= 0x80 || xf_str_plain[c])
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

static void xf_put_xstr(xf_buf_t *b, xf_str_t s)
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

/* Any value of the raw tree, compact; nesting is bounded by the parse. */
static void xf_put_value(xf_buf_t *b, json_object *v)
{
        char tmp[32];
        xf_str_t s;
        int first = 1;

        switch (json_object_get_type(v)) {
        case json_type_null:
                XF_PUTS(b, "null");
                break;
        case json_type_boolean:
                if (json_object_get_boolean(v))
                        XF_PUTS(b, "true");
                else
                        XF_PUTS(b, "false");
                break;
        case json_type_int:
        case json_type_double:
                s = xf_num_text(v, tmp, sizeof(tmp));
                xf_put(b, s.s, s.n);
                break;
        case json_type_string:
                xf_put_xstr(b, xf_jstr(v));
                break;
        case json_type_object:
                XF_PUTS(b, "{");
                for (struct lh_entry *e =
                             lh_table_head(json_object_get_object(v));
                     e; e = lh_entry_next(e)) {
                        xf_put_key(b, (const char *)lh_entry_k(e), first);
                        xf_put_value(b, (json_object *)lh_entry_v(e));
                        first = 0;
                }
                XF_PUTS(b, "}");
                break;
        case json_type_array:
                XF_PUTS(b, "[");
                for (size_t i = 0, n = json_object_array_length(v); i < n;
                     i++) {
                        if (i)
                                XF_PUTS(b, ",");
                        xf_put_value(b, json_object_array_get_idx(v, i));
                }
                XF_PUTS(b, "]");
                break;
        }
}

/* The chosen properties of \p from, in the order chosen; names already
 * written (\p fixed), repeated or missing are left out. */
static void xf_put_chosen(xf_buf_t *b, json_object *from,
                          const char *const *names, size_t count,
                          const char *const *fixed, size_t nfixed, int *first)
{
        for (size_t i = 0; i < count; i++) {
                const char *name = names[i];
                json_object *v;
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
                v = xf_get(from, name);
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
        char tmp[32];
        int first;
        int n;

        if (xf_grow(&b, 512) < 0)
                return NULL;
        XF_PUTS(&b, "{\"type\":");
        xf_put_xstr(&b, ev->f.type);
        n = snprintf(tmp, sizeof(tmp), ",\"timestamp\":%" PRId64,
                     ev->f.timestamp);
        xf_put(&b, tmp, (size_t)n);
        XF_PUTS(&b, ",\"app_token\":");
        xf_put_xstr(&b, ev->f.app_token);
        XF_PUTS(&b, ",\"data\":{");
        if (ev->f.kind == XF_ENTITY) {
                XF_PUTS(&b, "\"type\":");
                xf_put_xstr(&b, ev->f.data_type);
                XF_PUTS(&b, ",");
        }
        XF_PUTS(&b, "\"action\":");
        xf_put_xstr(&b, ev->f.action);
        if (ev->f.kind == XF_ENTITY) {
                XF_PUTS(&b, ",\"id\":");
                xf_put_value(&b, ev->f.entity_id);
        }
        for (size_t i = 0; i < 4; i++) {
                if (!ev->f.nps[i])
                        continue;
                xf_put_key(&b, xf_nps_keys[i], 0);
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
