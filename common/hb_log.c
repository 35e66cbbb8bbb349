/* hb_log: one structured line per event worth a human's attention. */
#include "hb_log.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* Kept free at the end of a line for closing it when it is cut:
 * "\",\"truncated\":\"1\"}\n" is 19 bytes. */
#define TAIL       24
#define MAX_FIELDS 32
#define KEY_MAX    64

static int log_level = HB_LOG_INFO;
static int log_json;

void hb_log_setup(int level, int json)
{
        log_level = level;
        log_json = json;
}

int hb_log_enabled(int level)
{
        return level <= log_level;
}

static const char *level_name(int level)
{
        switch (level) {
        case HB_LOG_ERR:
                return "error";
        case HB_LOG_WARN:
                return "warn";
        case HB_LOG_INFO:
                return "info";
        default:
                return "debug";
        }
}

/* The line being built. Every append is a whole unit (an escape, a
 * character, a key): the first one that does not fit before TAIL makes
 * the line full, and nothing more is added but its closing. */
typedef struct out_s {
        char *buf;
        size_t cap; /* appends stop here; a log line keeps TAIL after it */
        size_t len;
        int full;
        int open; /* a quoted value is open: its '"' is owed */
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
        if (o->full || o->len + n > o->cap) {
                o->full = 1;
                return;
        }
        memcpy(o->buf + o->len, s, n);
        o->len += n;
}

/* Characters that are each a unit: as many as fit. */
static void put_run(out_t *o, const char *s, size_t n)
{
        size_t room;

        if (o->full)
                return;
        room = o->cap - o->len;
        if (n > room) {
                n = room;
                o->full = 1;
        }
        memcpy(o->buf + o->len, s, n);
        o->len += n;
}

static void put_str(out_t *o, const char *s)
{
        put(o, s, strlen(s));
}

/* The valid UTF-8 sequence at \p s (\p n bytes left): its length and code
 * point, or 0 (overlong, surrogate, past U+10FFFF, cut short). */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
        uint32_t c = s[0], min;
        size_t len;

        if (c < 0x80) {
                *cp = c;
                return 1;
        }
        if (c >= 0xc2 && c <= 0xdf) {
                len = 2, c &= 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
                len = 3, c &= 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4, c &= 0x07, min = 0x10000;
        } else {
                return 0;
        }
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = c << 6 | (s[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                return 0;
        *cp = c;
        return len;
}

/* Code points written \uXXXX: controls (C0, DEL, C1), the line and
 * paragraph separators (line ends to JavaScript), and the bidirectional
 * controls (they reorder what a terminal shows). */
static int shown_escaped(uint32_t cp)
{
        return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
               cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
               (cp >= 0x2066 && cp <= 0x2069);
}

/* \p s as the body of a quoted value, escaped as JSON (and logfmt) reads
 * it; invalid UTF-8 becomes U+FFFD, one per byte. \p text: for a
 * terminal instead (hb_log_printable): quotes and backslashes as they
 * are, a byte that is not UTF-8 as \xNN. */
static void put_escaped(out_t *o, const char *s, size_t n, int text)
{
        static const char hex[] = "0123456789abcdef";
        const unsigned char *u = (const unsigned char *)s;
        size_t i = 0, j, k;
        uint32_t cp;
        char e[6];

        while (i < n && !o->full) {
                /* the common case: a run of plain printable ASCII */
                for (j = i; j < n && u[j] >= 0x20 && u[j] < 0x7f &&
                            (text || (u[j] != '"' && u[j] != '\\'));
                     j++)
                        ;
                if (j > i) {
                        put_run(o, s + i, j - i);
                        i = j;
                        continue;
                }
                k = utf8_seq(u + i, n - i, &cp);
                if (!k && text) {
                        e[0] = '\\';
                        e[1] = 'x';
                        e[2] = hex[u[i] >> 4];
                        e[3] = hex[u[i] & 0xf];
                        put(o, e, 4);
                        i++;
                        continue;
                }
                if (!k) {
                        put(o, "\\ufffd", 6);
                        i++;
                        continue;
                }
                if (cp == '"' || cp == '\\') {
                        e[0] = '\\';
                        e[1] = (char)cp;
                        put(o, e, 2);
                } else if (cp == '\n') {
                        put(o, "\\n", 2);
                } else if (cp == '\r') {
                        put(o, "\\r", 2);
                } else if (cp == '\t') {
                        put(o, "\\t", 2);
                } else if (shown_escaped(cp)) {
                        e[0] = '\\';
                        e[1] = 'u';
                        e[2] = hex[cp >> 12 & 0xf];
                        e[3] = hex[cp >> 8 & 0xf];
                        e[4] = hex[cp >> 4 & 0xf];
                        e[5] = hex[cp & 0xf];
                        put(o, e, 6);
                } else {
                        put(o, s + i, k);
                }
                i += k;
        }
}

/* A logfmt value that needs no quotes: printable ASCII without blanks,
 * quotes, '=' or backslashes. */
static int bare_ok(const char *s, size_t n)
{
        if (!n)
                return 0;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c <= 0x20 || c >= 0x7f || c == '"' || c == '=' || c == '\\')
                        return 0;
        }
        return 1;
}

static void put_value(out_t *o, const char *v, size_t n, int quoted)
{
        if (!log_json && !quoted && bare_ok(v, n)) {
                put_run(o, v, n);
                return;
        }
        put(o, "\"", 1);
        if (o->full)
                return;
        o->open = 1;
        put_escaped(o, v, n, 0);
        put(o, "\"", 1);
        if (!o->full)
                o->open = 0;
}

/* The closing a cut line is owed, in the room TAIL kept. */
static void finish(out_t *o)
{
        const char *mark = log_json ? ",\"truncated\":\"1\"" : " truncated=1";
        size_t n;

        if (o->open)
                o->buf[o->len++] = '"';
        if (o->full) {
                n = strlen(mark);
                memcpy(o->buf + o->len, mark, n);
                o->len += n;
        }
        if (log_json)
                o->buf[o->len++] = '}';
        o->buf[o->len++] = '\n';
}

/* render() hands snprintf one conversion at a time, rebuilt from the
 * caller's format (which the compiler checked against the arguments). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

enum { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_J, LEN_T, LEN_BIG_L };

/* The printf text \p f (\p n bytes) rendered with the next arguments of
 * \p ap into \p out (cut to \p size). @returns its length, or -1 at a
 * conversion this logger does not read (the arguments after it cannot be
 * found then): %n, %ls, %lc. */
static int render(const char *f, size_t n, va_list *ap, char *out, size_t size,
                  size_t *len)
{
        size_t o = 0, i = 0;

        while (i < n) {
                char spec[48];
                size_t sl = 0;
                int lm = LEN_NONE, w = 0;

                if (f[i] != '%' || (i + 1 < n && f[i + 1] == '%')) {
                        if (o + 1 < size)
                                out[o++] = f[i];
                        i += f[i] == '%' ? 2 : 1;
                        continue;
                }
                spec[sl++] = f[i++];
                while (i < n && strchr("-+ #0", f[i]) && sl < 8)
                        spec[sl++] = f[i++];
                for (int part = 0; part < 2; part++) {
                        if (part == 1) {
                                if (i >= n || f[i] != '.')
                                        break;
                                spec[sl++] = f[i++];
                        }
                        if (i < n && f[i] == '*') {
                                sl += (size_t)snprintf(spec + sl,
                                                       sizeof(spec) - sl, "%d",
                                                       va_arg(*ap, int));
                                i++;
                        } else {
                                while (i < n && f[i] >= '0' && f[i] <= '9' &&
                                       sl < 30)
                                        spec[sl++] = f[i++];
                        }
                }
                if (i < n && f[i] == 'h') {
                        lm = i + 1 < n && f[i + 1] == 'h' ? LEN_HH : LEN_H;
                } else if (i < n && f[i] == 'l') {
                        lm = i + 1 < n && f[i + 1] == 'l' ? LEN_LL : LEN_L;
                } else if (i < n && f[i] == 'z') {
                        lm = LEN_Z;
                } else if (i < n && f[i] == 'j') {
                        lm = LEN_J;
                } else if (i < n && f[i] == 't') {
                        lm = LEN_T;
                } else if (i < n && f[i] == 'L') {
                        lm = LEN_BIG_L;
                }
                for (int k = lm == LEN_HH || lm == LEN_LL ? 2
                             : lm                         ? 1
                                                          : 0;
                     k > 0; k--)
                        spec[sl++] = f[i++];
                if (i >= n)
                        return -1;
                spec[sl++] = f[i];
                spec[sl] = '\0';
                char *dst = out + o;
                size_t room = size - o;
                switch (f[i++]) {
                case 'd':
                case 'i':
                        w = lm == LEN_L    ? snprintf(dst, room, spec,
                                                      va_arg(*ap, long))
                            : lm == LEN_LL ? snprintf(dst, room, spec,
                                                      va_arg(*ap, long long))
                            : lm == LEN_Z  ? snprintf(dst, room, spec,
                                                      va_arg(*ap, ssize_t))
                            : lm == LEN_J  ? snprintf(dst, room, spec,
                                                      va_arg(*ap, intmax_t))
                            : lm == LEN_T  ? snprintf(dst, room, spec,
                                                      va_arg(*ap, ptrdiff_t))
                                           : snprintf(dst, room, spec,
                                                      va_arg(*ap, int));
                        break;
                case 'u':
                case 'o':
                case 'x':
                case 'X':
                        w = lm == LEN_L ? snprintf(dst, room, spec,
                                                   va_arg(*ap, unsigned long))
                            : lm == LEN_LL
                                    ? snprintf(dst, room, spec,
                                               va_arg(*ap, unsigned long long))
                            : lm == LEN_Z ? snprintf(dst, room, spec,
                                                     va_arg(*ap, size_t))
                            : lm == LEN_J ? snprintf(dst, room, spec,
                                                     va_arg(*ap, uintmax_t))
                            : lm == LEN_T ? snprintf(dst, room, spec,
                                                     va_arg(*ap, ptrdiff_t))
                                          : snprintf(dst, room, spec,
                                                     va_arg(*ap, unsigned));
                        break;
                case 'e':
                case 'E':
                case 'f':
                case 'F':
                case 'g':
                case 'G':
                case 'a':
                case 'A':
                        w = lm == LEN_BIG_L ? snprintf(dst, room, spec,
                                                       va_arg(*ap, long double))
                                            : snprintf(dst, room, spec,
                                                       va_arg(*ap, double));
                        break;
                case 'c':
                        if (lm)
                                return -1;
                        w = snprintf(dst, room, spec, va_arg(*ap, int));
                        break;
                case 'p':
                        w = snprintf(dst, room, spec, va_arg(*ap, void *));
                        break;
                case 's': {
                        const char *s;
                        if (lm)
                                return -1;
                        s = va_arg(*ap, const char *);
                        w = snprintf(dst, room, spec, s ? s : "(null)");
                        break;
                }
                default:
                        return -1;
                }
                if (w > 0)
                        o += (size_t)w < room ? (size_t)w : room - 1;
        }
        out[o] = '\0';
        *len = o;
        return 0;
}

#pragma GCC diagnostic pop

static int key_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

typedef struct keys_s {
        char name[MAX_FIELDS][KEY_MAX + 16];
        int n;
} keys_t;

static int key_taken(const keys_t *ks, const char *k)
{
        static const char *const fixed[] = {"ts", "level", "msg", "truncated"};

        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
                if (!strcmp(k, fixed[i]))
                        return 1;
        for (int i = 0; i < ks->n; i++)
                if (!strcmp(k, ks->name[i]))
                        return 1;
        return 0;
}

/* The fields of \p fmt, each value rendered, then escaped. */
static void put_fields(out_t *o, const char *fmt, va_list *ap)
{
        keys_t ks;
        const char *p = fmt;

        ks.n = 0;
        while (*p && !o->full) {
                char v[HB_LOG_LINE_MAX], key[KEY_MAX + 16], base[KEY_MAX + 16];
                const char *k, *f;
                size_t kn, fn, vn;
                int quoted = 0;

                while (*p == ' ')
                        p++;
                if (!*p)
                        break;
                for (k = p; key_char(*p); p++)
                        ;
                kn = (size_t)(p - k);
                if (kn == 0 || kn > KEY_MAX || *p != '=') {
                        /* not key=VALUE: the token is the value */
                        for (p = f = k; *p && *p != ' '; p++)
                                ;
                        snprintf(key, sizeof(key), "fmt_error");
                } else {
                        snprintf(key, sizeof(key), "%.*s", (int)kn, k);
                        if (*++p == '"') {
                                quoted = 1;
                                for (f = ++p; *p && *p != '"'; p++)
                                        ;
                        } else {
                                for (f = p; *p && *p != ' '; p++)
                                        ;
                        }
                }
                fn = (size_t)(p - f);
                if (quoted && *p == '"')
                        p++;
                if (ks.n == MAX_FIELDS) {
                        o->full = 1; /* no caller has that many */
                        return;
                }
                if (render(f, fn, ap, v, sizeof(v), &vn) == -1) {
                        snprintf(key, sizeof(key), "fmt_error");
                        snprintf(v, sizeof(v), "unknown conversion");
                        vn = strlen(v);
                        p = ""; /* the arguments are lost from here */
                }
                /* a key said twice would make two JSON members of one
                 * name: the later one gets its position as a suffix */
                snprintf(base, sizeof(base), "%s", key);
                for (int dup = ks.n + 1; key_taken(&ks, key); dup++)
                        snprintf(key, sizeof(key), "%.*s_%d", KEY_MAX, base,
                                 dup);
                snprintf(ks.name[ks.n++], sizeof(ks.name[0]), "%s", key);
                if (log_json) {
                        put(o, ",\"", 2);
                        put_str(o, key);
                        put(o, "\":", 2);
                } else {
                        put(o, " ", 1);
                        put_str(o, key);
                        put(o, "=", 1);
                }
                put_value(o, v, vn, quoted);
        }
}

void hb_log(int level, const char *msg, const char *fmt, ...)
{
        char line[HB_LOG_LINE_MAX], ts[64];
        out_t o = {line, sizeof(line) - TAIL, 0, 0, 0};
        struct timeval tv;
        struct tm tm;
        va_list ap;

        if (!hb_log_enabled(level))
                return;
        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));

        if (log_json) {
                put_str(&o, "{\"ts\":\"");
                put_str(&o, ts);
                put_str(&o, "\",\"level\":\"");
                put_str(&o, level_name(level));
                put_str(&o, "\",\"msg\":");
        } else {
                put_str(&o, "ts=");
                put_str(&o, ts);
                put_str(&o, " level=");
                put_str(&o, level_name(level));
                put_str(&o, " msg=");
        }
        put_value(&o, msg ? msg : "", msg ? strlen(msg) : 0, 1);
        if (fmt) {
                va_start(ap, fmt);
                put_fields(&o, fmt, &ap);
                va_end(ap);
        }
        finish(&o);
        if (write(STDERR_FILENO, o.buf, o.len) < 0)
                return;
}

void hb_log_librdkafka(int level, const char *fac, const char *buf)
{
        int lvl = level <= 3   ? HB_LOG_ERR
                  : level <= 4 ? HB_LOG_WARN
                               : HB_LOG_DEBUG;

        hb_log(lvl, "librdkafka", "facility=%s detail=\"%s\"", fac ? fac : "-",
               buf ? buf : "");
}

const char *hb_log_printable(char *buf, size_t size, const char *s, size_t n)
{
        out_t o = {buf, size ? size - 1 : 0, 0, 0, 0};

        if (!size)
                return buf;
        put_escaped(&o, s, n, 1);
        buf[o.len] = '\0';
        return buf;
}
