/* wk_json: strict JSON for raw events (the transformer's lexer): refuses
 * what json-c lets through, then builds the tree with json-c; and gives
 * back a number's text as it came. */
#include "wk_json.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wk_json_reason(char *r, size_t rsize, const char *fmt, ...)
{
        va_list ap;

        if (!r || !rsize)
                return;
        va_start(ap, fmt);
        vsnprintf(r, rsize, fmt, ap);
        va_end(ap);
}

/*
 * json-c is lenient where a bridge must not be: it accepts NaN,
 * Infinity and single-quoted strings (and would write NaN back out, which
 * is not JSON), does not reject overlong or surrogate UTF-8, lets raw
 * control bytes into strings, and clamps integers beyond 64 bits to the
 * nearest limit (silently changing ids). This lexer checks every token
 * (json-c checks the grammar), bounds the nesting before json-c allocates
 * for it, and finds the integers json-c cannot hold exactly: "-0" and
 * those outside int64/uint64. Those are parsed as doubles by appending a
 * '.', which json-c keeps as the number's text; as no JSON number ends in
 * '.', wk_json_num_text() recognises the mark and gives the digits as
 * they came.
 */

static int js_is_digit(unsigned char c)
{
        return c >= '0' && c <= '9';
}

static int js_is_ws(unsigned char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int js_is_hex(unsigned char c)
{
        return js_is_digit(c) || (c >= 'a' && c <= 'f') ||
               (c >= 'A' && c <= 'F');
}

/* @returns the length of the valid UTF-8 sequence (2-4 bytes) at \p s,
 * or 0 (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF). */
static size_t js_utf8_len(const unsigned char *s, size_t n)
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
static int js_int_needs_mark(const char *s, size_t n)
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

typedef struct js_lex_s {
        const char *buf;
        size_t len;
        char *out;      /* second pass: copy with marks, else NULL */
        size_t out_len; /* bytes written to out */
        size_t copied;  /* input bytes copied to out so far */
        size_t marks;   /* integers needing the '.' mark */
        size_t values;  /* values (not keys) when the grammar is right */
        int first;      /* first significant byte, 0: none */
} js_lex_t;

/* Scan one number at \p i; @returns the index after it or 0 on error. */
static size_t js_lex_number(js_lex_t *lx, size_t i)
{
        const unsigned char *b = (const unsigned char *)lx->buf;
        size_t n = lx->len;
        size_t start = i;
        int is_int = 1;

        if (b[i] == '-')
                i++;
        if (i >= n || !js_is_digit(b[i]))
                return 0;
        if (b[i] == '0') {
                i++;
        } else {
                while (i < n && js_is_digit(b[i]))
                        i++;
        }
        if (i < n && b[i] == '.') {
                is_int = 0;
                if (++i >= n || !js_is_digit(b[i]))
                        return 0;
                while (i < n && js_is_digit(b[i]))
                        i++;
        }
        if (i < n && (b[i] == 'e' || b[i] == 'E')) {
                is_int = 0;
                i++;
                if (i < n && (b[i] == '+' || b[i] == '-'))
                        i++;
                if (i >= n || !js_is_digit(b[i]))
                        return 0;
                while (i < n && js_is_digit(b[i]))
                        i++;
        }
        if (i < n &&
            (js_is_digit(b[i]) || b[i] == '.' || b[i] == '+' || b[i] == '-' ||
             (b[i] >= 'a' && b[i] <= 'z') || (b[i] >= 'A' && b[i] <= 'Z')))
                return 0;
        if (is_int && js_int_needs_mark(lx->buf + start, i - start)) {
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

/* Inside a string, the bytes not in this table are the end, an escape,
 * a control byte (not allowed) or the start of a UTF-8 sequence
 * (validated). */
const unsigned char wk_json_plain[256] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
        1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 '"' */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50 '\\' */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x70 */
};

/* 1 when \p s[0, n) starts with a backslash-u and four hex digits. */
static int js_is_u_escape(const unsigned char *s, size_t n)
{
        return n >= 6 && s[0] == '\\' && s[1] == 'u' && js_is_hex(s[2]) &&
               js_is_hex(s[3]) && js_is_hex(s[4]) && js_is_hex(s[5]);
}

/* The code unit of the escape js_is_u_escape() accepted at \p s. */
static unsigned js_u_value(const unsigned char *s)
{
        unsigned v = 0;

        for (int i = 2; i < 6; i++)
                v = v * 16 + (unsigned)(s[i] <= '9'   ? s[i] - '0'
                                        : s[i] <= 'F' ? s[i] - 'A' + 10
                                                      : s[i] - 'a' + 10);
        return v;
}

/* Scan the string opening at \p i. @returns the index after its closing
 * quote, or 0 with the reason. */
static size_t js_lex_string(const js_lex_t *lx, size_t i, char *reason,
                            size_t rsize)
{
        const unsigned char *b = (const unsigned char *)lx->buf;
        size_t n = lx->len;
        size_t j = i + 1;

        for (;;) {
                unsigned char e;
                size_t sl;

                while (j < n && wk_json_plain[b[j]])
                        j++;
                if (j >= n) {
                        wk_json_reason(
                                reason, rsize,
                                "not JSON: unterminated string at byte %zu", i);
                        return 0;
                }
                if (b[j] == '"')
                        return j + 1;
                if (b[j] == '\\') {
                        e = j + 1 < n ? b[j + 1] : 0;
                        if (e == 'u' && js_is_u_escape(b + j, n - j)) {
                                unsigned cu = js_u_value(b + j);
                                /* UTF-16 surrogates come in pairs: json-c
                                 * makes a lone one U+FFFD, so different
                                 * ids would become one */
                                if (cu >= 0xdc00 && cu <= 0xdfff)
                                        goto lone;
                                if (cu >= 0xd800 && cu <= 0xdbff) {
                                        unsigned lo;
                                        if (!js_is_u_escape(b + j + 6,
                                                            n - j - 6))
                                                goto lone;
                                        lo = js_u_value(b + j + 6);
                                        if (lo < 0xdc00 || lo > 0xdfff)
                                                goto lone;
                                        j += 6;
                                }
                                j += 6;
                                continue;
                        }
                        if (e && strchr("\"\\/bfnrt", (char)e)) {
                                j += 2;
                                continue;
                        }
                        wk_json_reason(reason, rsize,
                                       "not JSON: invalid escape in string at "
                                       "byte %zu",
                                       j);
                        return 0;
                lone:
                        wk_json_reason(reason, rsize,
                                       "not JSON: lone UTF-16 surrogate "
                                       "escape in string at byte %zu",
                                       j);
                        return 0;
                }
                if (b[j] < 0x20) {
                        wk_json_reason(
                                reason, rsize,
                                "not JSON: control character in string at "
                                "byte %zu",
                                j);
                        return 0;
                }
                sl = js_utf8_len(b + j, n - j);
                if (!sl) {
                        wk_json_reason(reason, rsize,
                                       "invalid UTF-8 at byte %zu", j);
                        return 0;
                }
                j += sl;
        }
}

/* @returns the index after the literal true/false/null at \p i, or 0. */
static size_t js_lex_literal(const js_lex_t *lx, size_t i)
{
        const unsigned char *b = (const unsigned char *)lx->buf;
        const char *w = b[i] == 't' ? "true" : b[i] == 'f' ? "false" : "null";
        size_t wl = strlen(w);
        size_t n = lx->len;

        if (n - i < wl || memcmp(b + i, w, wl))
                return 0;
        i += wl;
        if (i < n && ((b[i] >= 'a' && b[i] <= 'z') ||
                      (b[i] >= 'A' && b[i] <= 'Z') || js_is_digit(b[i])))
                return 0;
        return i;
}

/* @returns 0, or -1 with the reason. */
static int js_lex(js_lex_t *lx, char *reason, size_t rsize)
{
        const unsigned char *b = (const unsigned char *)lx->buf;
        size_t n = lx->len;
        size_t i = 0;
        int depth = 0;

        while (i < n) {
                unsigned char c = b[i];
                size_t j;

                if (js_is_ws(c)) {
                        i++;
                        continue;
                }
                if (!lx->first)
                        lx->first = c;
                switch (c) {
                case '{':
                case '[':
                        lx->values++;
                        if (++depth > WK_JSON_MAX_DEPTH) {
                                wk_json_reason(reason, rsize,
                                               "nesting too deep (more than %d "
                                               "levels) at byte %zu",
                                               WK_JSON_MAX_DEPTH, i);
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
                        lx->values--; /* the string before it was a key */
                        i++;
                        break;
                case ',':
                        i++;
                        break;
                case '"':
                        lx->values++;
                        i = js_lex_string(lx, i, reason, rsize);
                        if (!i)
                                return -1;
                        break;
                case 't':
                case 'f':
                case 'n':
                        j = js_lex_literal(lx, i);
                        if (!j)
                                goto unexpected;
                        lx->values++;
                        i = j;
                        break;
                default:
                        if (c == '-' || js_is_digit(c)) {
                                j = js_lex_number(lx, i);
                                if (!j) {
                                        wk_json_reason(
                                                reason, rsize,
                                                "not JSON: invalid number "
                                                "at byte %zu",
                                                i);
                                        return -1;
                                }
                                lx->values++;
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
                wk_json_reason(
                        reason, rsize,
                        "not JSON: unexpected character '%c' at byte %zu", b[i],
                        i);
        else
                wk_json_reason(reason, rsize,
                               "not JSON: unexpected byte 0x%02x at byte %zu",
                               b[i], i);
        return -1;
}

int wk_json_lex(const char *buf, size_t len, size_t *values)
{
        js_lex_t lx = {.buf = buf, .len = len};

        if (len >= INT_MAX / 2 || js_lex(&lx, NULL, 0) < 0 || lx.first != '{')
                return -1;
        *values = lx.values;
        return 0;
}

int wk_json_int_is_wide(const char *s, size_t n)
{
        return js_int_needs_mark(s, n);
}

/* One json-c tokener per thread, reset between messages: making one per
 * message was a tenth of the parse. Freed when its thread ends. */
static pthread_key_t js_tok_key;
static pthread_once_t js_tok_once = PTHREAD_ONCE_INIT;
static int js_tok_key_ok;

static void js_tok_free(void *tok)
{
        json_tokener_free(tok);
}

static void js_tok_init(void)
{
        js_tok_key_ok = pthread_key_create(&js_tok_key, js_tok_free) == 0;
}

/* @returns this thread's tokener, ready for a new text, or NULL (OOM). */
static struct json_tokener *js_tokener(void)
{
        struct json_tokener *tok;

        pthread_once(&js_tok_once, js_tok_init);
        if (!js_tok_key_ok)
                return NULL;
        tok = pthread_getspecific(js_tok_key);
        if (tok) {
                json_tokener_reset(tok);
                return tok;
        }
        tok = json_tokener_new_ex(WK_JSON_MAX_DEPTH + 1);
        if (!tok)
                return NULL;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        if (pthread_setspecific(js_tok_key, tok) != 0) {
                json_tokener_free(tok);
                return NULL;
        }
        return tok;
}

json_object *wk_json_parse(const char *buf, size_t len, char *reason,
                           size_t rsize)
{
        js_lex_t lx = {.buf = buf, .len = len};
        struct json_tokener *tok = NULL;
        json_object *root = NULL;
        enum json_tokener_error jerr;
        char *copy = NULL;
        size_t end;

        if (len >= INT_MAX / 2) {
                wk_json_reason(reason, rsize, "message too large (%zu bytes)",
                               len);
                return NULL;
        }
        if (js_lex(&lx, reason, rsize) < 0)
                return NULL;
        if (!lx.first) {
                wk_json_reason(reason, rsize, "not JSON: empty message");
                return NULL;
        }
        if (lx.first != '{') {
                wk_json_reason(reason, rsize, "not a JSON object");
                return NULL;
        }
        if (lx.marks) {
                copy = malloc(len + lx.marks);
                if (!copy)
                        goto oom;
                lx.out = copy;
                lx.marks = 0;
                if (js_lex(&lx, reason, rsize) < 0)
                        goto err;
                buf = copy;
                len = lx.out_len;
        }
        tok = js_tokener();
        if (!tok)
                goto oom;
        root = json_tokener_parse_ex(tok, buf, (int)len);
        jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_continue) {
                wk_json_reason(reason, rsize,
                               "not JSON: unexpected end of input");
                goto err;
        }
        if (jerr == json_tokener_error_depth) {
                wk_json_reason(reason, rsize,
                               "nesting too deep (more than %d "
                               "levels)",
                               WK_JSON_MAX_DEPTH);
                goto err;
        }
        if (jerr != json_tokener_success || !root) {
                /* Offsets count the '.' marks when there were any. */
                wk_json_reason(reason, rsize, "not JSON: %s at byte %zu",
                               json_tokener_error_desc(jerr),
                               json_tokener_get_parse_end(tok));
                goto err;
        }
        for (end = json_tokener_get_parse_end(tok); end < len; end++) {
                if (!js_is_ws((unsigned char)buf[end])) {
                        wk_json_reason(reason, rsize,
                                       "not JSON: trailing data at byte %zu",
                                       end);
                        goto err;
                }
        }
        if (!json_object_is_type(root, json_type_object)) {
                wk_json_reason(reason, rsize, "not a JSON object");
                goto err;
        }
        free(copy);
        return root;
oom:
        wk_json_reason(reason, rsize, "out of memory parsing %zu bytes", len);
err:
        json_object_put(root);
        free(copy);
        return NULL;
}

/* The text of a JSON number as it came. Integers are written in decimal
 * into \p tmp; doubles (and the marked wide integers) keep their source
 * text, which json-c stores as the double's userdata. */
wk_json_str_t wk_json_num_text(json_object *v, char *tmp, size_t tmpsize)
{
        wk_json_str_t s = {tmp, 0};

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
