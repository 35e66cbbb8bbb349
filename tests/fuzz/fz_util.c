/* fz_util: checks shared by the libFuzzer harnesses in tests/fuzz/. */
#include "fz_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fz_fail(const char *fmt, ...)
{
        va_list ap;

        fputs("fuzz invariant broken: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        abort();
}

char *fz_cstr(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);

        if (!s)
                fz_fail("out of memory copying %zu bytes", size);
        if (size)
                memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

/* @returns the length of the UTF-8 sequence at \p s, or 0. */
static size_t fz_utf8_seq(const unsigned char *s, size_t n)
{
        unsigned char c = s[0], lo = 0x80, hi = 0xbf;
        size_t len;

        if (c < 0x80)
                return 1;
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

int fz_utf8_valid(const char *s, size_t n)
{
        const unsigned char *u = (const unsigned char *)s;

        for (size_t i = 0; i < n;) {
                size_t l = fz_utf8_seq(u + i, n - i);
                if (!l)
                        return 0;
                i += l;
        }
        return 1;
}

static int fz_ctl_in(const char *s, size_t n, int tab_ok)
{
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if ((c < 0x20 && !(tab_ok && c == '\t')) || c == 0x7f)
                        return 1;
                /* C1 (U+0080..U+009F) in UTF-8 */
                if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
                    (unsigned char)s[i + 1] <= 0x9f)
                        return 1;
        }
        return 0;
}

int fz_has_ctl(const char *s, size_t n)
{
        return fz_ctl_in(s, n, 0);
}

int fz_header_value_ok(const char *s, size_t n)
{
        if (n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' ||
                  s[n - 1] == '\t'))
                return 0;
        return !fz_ctl_in(s, n, 1);
}

json_object *fz_json_strict(const char *s, size_t n)
{
        struct json_tokener *tok = json_tokener_new_ex(256);
        json_object *v;

        if (!tok)
                fz_fail("out of memory (json tokener)");
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                                            JSON_TOKENER_VALIDATE_UTF8);
        v = json_tokener_parse_ex(tok, s, (int)n);
        if (json_tokener_get_error(tok) != json_tokener_success ||
            json_tokener_get_parse_end(tok) != n) {
                json_object_put(v);
                v = NULL;
        }
        json_tokener_free(tok);
        return v;
}

size_t fz_json_escape(char *out, const char *s, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        const unsigned char *u = (const unsigned char *)s;
        size_t o = 0;

        for (size_t i = 0; i < n;) {
                size_t l = fz_utf8_seq(u + i, n - i);
                if (l > 1 || (l == 1 && u[i] >= 0x20 && u[i] != 0x7f &&
                              u[i] != '"' && u[i] != '\\')) {
                        memcpy(out + o, s + i, l);
                        o += l;
                        i += l;
                        continue;
                }
                memcpy(out + o, "\\u00", 4);
                out[o + 4] = hex[u[i] >> 4];
                out[o + 5] = hex[u[i] & 15];
                o += 6;
                i++;
        }
        return o;
}
