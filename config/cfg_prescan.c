/* cfg_prescan: what libconfig 1.5 would get wrong, found in the text
 * before it reads it -- an @include of something that is not a small
 * regular file (its scanner exits the process when a read fails),
 * integers it would cut to 32 bits, \x00 escapes that cut a string
 * short -- and the size caps. It follows libconfig's scanner
 * (scanner.l) for comments, strings, @include lines and numbers. */
#include "cfg_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *cfg_read_text(const char *path, size_t *len, const char **why)
{
        struct stat st;
        char *buf = NULL;
        size_t n = 0;
        int fd;

        *why = NULL;
        /* O_NONBLOCK: a FIFO must not hang the load (it is refused) */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) != 0) {
                *why = strerror(errno);
                goto err;
        }
        if (S_ISDIR(st.st_mode)) {
                *why = "is a directory";
                goto err;
        }
        if (!S_ISREG(st.st_mode)) {
                *why = "is not a regular file";
                goto err;
        }
        if (st.st_size > CFG_FILE_MAX) {
                *why = "is larger than 1 MiB, hookbridge's limit";
                goto err;
        }
        buf = malloc((size_t)st.st_size + 2);
        if (!buf) {
                *why = "out of memory";
                goto err;
        }
        /* one byte more than its size: a file that grows, or a pseudo
         * file (/proc/self/environ says 0 bytes), shows as a mismatch */
        while (n < (size_t)st.st_size + 1) {
                ssize_t r = read(fd, buf + n, (size_t)st.st_size + 1 - n);

                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        *why = strerror(errno);
                        goto err;
                }
                if (r == 0)
                        break;
                n += (size_t)r;
        }
        if (n != (size_t)st.st_size) {
                *why = "changed size while read, or is not an ordinary file "
                       "(e.g. under /proc or /sys)";
                goto err;
        }
        if (memchr(buf, '\0', n)) {
                *why = "holds a NUL byte";
                goto err;
        }
        buf[n] = '\0';
        close(fd);
        *len = n;
        return buf;
err:
        free(buf);
        if (fd >= 0)
                close(fd);
        return NULL;
}

/* One text being scanned. */
typedef struct cfg_ps_s {
        cfg_loader_t *ld;
        const char *file; /* for messages: lives until they are written */
        int depth;        /* 0: the main file */
} cfg_ps_t;

static int cfg_ps_digit(char c)
{
        return c >= '0' && c <= '9';
}

static int cfg_ps_xdigit(char c)
{
        return cfg_ps_digit(c) || (c >= 'a' && c <= 'f') ||
               (c >= 'A' && c <= 'F');
}

static size_t cfg_ps_digits(const char *p, const char *end)
{
        size_t n = 0;

        while (p + n < end && cfg_ps_digit(p[n]))
                n++;
        return n;
}

/* The length of libconfig's {float} at \p p (0: none). */
static size_t cfg_ps_float(const char *p, const char *end)
{
        const char *s = p, *q;
        size_t a = 0, b = 0, d;

        if (s < end && (*s == '-' || *s == '+'))
                s++;
        /* [0-9]*\.[0-9]*([eE][-+]?[0-9]+)? */
        q = s + cfg_ps_digits(s, end);
        if (q < end && *q == '.') {
                q++;
                q += cfg_ps_digits(q, end);
                a = (size_t)(q - p);
                if (q < end && (*q == 'e' || *q == 'E')) {
                        const char *e = q + 1;

                        if (e < end && (*e == '-' || *e == '+'))
                                e++;
                        d = cfg_ps_digits(e, end);
                        if (d)
                                a = (size_t)(e + d - p);
                }
        }
        /* [0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+ */
        d = cfg_ps_digits(s, end);
        if (d) {
                q = s + d;
                if (q < end && *q == '.') {
                        q++;
                        q += cfg_ps_digits(q, end);
                }
                if (q < end && (*q == 'e' || *q == 'E')) {
                        const char *e = q + 1;

                        if (e < end && (*e == '-' || *e == '+'))
                                e++;
                        d = cfg_ps_digits(e, end);
                        if (d)
                                b = (size_t)(e + d - p);
                }
        }
        return a > b ? a : b;
}

/*
 * The number token at \p p, as libconfig's scanner takes it (the longest
 * of {integer}, {integer64}, {hex}, {hex64}, {float}), checked: an
 * integer libconfig would cut to 32 bits, or one beyond 64, is reported.
 * @returns its length (0: not a number).
 */
static size_t cfg_ps_number(cfg_ps_t *ps, const char *p, const char *end,
                            unsigned line)
{
        const char *s = p;
        size_t ilen = 0, hlen = 0, flen, sign = 0, n, lsuf = 0;
        int hex = 0;

        if (s < end && (*s == '-' || *s == '+'))
                s++, sign = 1;
        n = cfg_ps_digits(s, end);
        if (n)
                ilen = sign + n;
        if (!sign && end - p > 2 && p[0] == '0' &&
            (p[1] == 'x' || p[1] == 'X') && cfg_ps_xdigit(p[2])) {
                hlen = 2;
                while (p + hlen < end && cfg_ps_xdigit(p[hlen]))
                        hlen++;
        }
        flen = cfg_ps_float(p, end);
        if (hlen > ilen) {
                ilen = hlen;
                hex = 1;
        }
        if (ilen && p + ilen < end && p[ilen] == 'L') {
                lsuf = 1;
                if (p + ilen + 1 < end && p[ilen + 1] == 'L')
                        lsuf = 2;
        }
        if (flen >= ilen + lsuf)
                return flen; /* a float (or not a number: 0) */
        {
                char digits[64];
                const char *d = hex ? p + 2 : s;
                size_t dn = hex ? ilen - 2 : n;
                int wide = lsuf > 0, too_big;

                while (dn > 1 && *d == '0')
                        d++, dn--; /* leading zeros say nothing */
                if (hex) {
                        /* libconfig: strtoul() into an int without L */
                        too_big = wide ? dn > 16
                                       : dn > 8 || (dn == 8 && *d > '7');
                } else if (dn >= sizeof(digits)) {
                        too_big = 1;
                } else {
                        long long v;

                        memcpy(digits, d, dn);
                        digits[dn] = '\0';
                        errno = 0;
                        v = strtoll(digits, NULL, 10);
                        if (sign && *p == '-')
                                v = -v; /* LLONG_MIN reads as ERANGE: fine */
                        too_big = errno == ERANGE ||
                                  (!wide && (v > INT_MAX || v < INT_MIN));
                }
                if (too_big)
                        cfg_report_at(
                                ps->ld, ps->file, line,
                                "the integer %.*s is out of range: "
                                "libconfig would cut it to %s bits; "
                                "%s",
                                (int)(ilen + lsuf > 40 ? 40 : ilen + lsuf), p,
                                wide ? "64" : "32",
                                wide ? "write a smaller one"
                                     : "write a smaller one, or add L "
                                       "for a 64-bit integer");
        }
        return ilen + lsuf;
}

static int cfg_ps_scan(cfg_ps_t *ps, const char *text, size_t len);

/* The file \p path of an @include at \p line: read and scanned the way
 * libconfig will (a relative path is taken from the working directory,
 * as libconfig 1.5 does without an include directory). */
static void cfg_ps_include(cfg_ps_t *ps, const char *path, unsigned line)
{
        cfg_loader_t *ld = ps->ld;
        cfg_ps_t sub = {ld, NULL, ps->depth + 1};
        const char *why;
        size_t len = 0;
        char *buf;

        if (++ld->include_count > CFG_INCLUDE_MAX) {
                if (ld->include_count == CFG_INCLUDE_MAX + 1)
                        cfg_report_at(ld, ps->file, line,
                                      "@include: more than %d includes in "
                                      "all; hookbridge's limit",
                                      CFG_INCLUDE_MAX);
                return;
        }
        if (ps->depth + 1 > CFG_INCLUDE_DEPTH) {
                cfg_report_at(ld, ps->file, line,
                              "@include: nested more than %d deep",
                              CFG_INCLUDE_DEPTH);
                return;
        }
        buf = cfg_read_text(path, &len, &why);
        if (!buf) {
                cfg_report_at(ld, ps->file, line,
                              "@include \"%.256s\": cannot use it: %s", path,
                              why);
                return;
        }
        ld->text_total += len;
        if (ld->text_total > CFG_TOTAL_MAX) {
                cfg_report_at(ld, ps->file, line,
                              "@include \"%.256s\": the files together are "
                              "larger than %d MiB, hookbridge's limit",
                              path, CFG_TOTAL_MAX >> 20);
                free(buf);
                return;
        }
        sub.file = cfg_keep_name(ld, path);
        if (sub.file)
                cfg_ps_scan(&sub, buf, len);
        free(buf);
}

/* An @include line at \p p (the start of a line), as libconfig's
 * include_open ^[ \t]*@include[ \t]+\" takes it: @returns the length of
 * "...@include \"" (0: not one). */
static size_t cfg_ps_include_open(const char *p, const char *end)
{
        const char *q = p;

        while (q < end && (*q == ' ' || *q == '\t'))
                q++;
        if ((size_t)(end - q) < 8 || memcmp(q, "@include", 8))
                return 0;
        q += 8;
        if (q >= end || (*q != ' ' && *q != '\t'))
                return 0;
        while (q < end && (*q == ' ' || *q == '\t'))
                q++;
        if (q >= end || *q != '"')
                return 0;
        return (size_t)(q + 1 - p);
}

/* Scan one text; @returns -1 when out of memory. */
static int cfg_ps_scan(cfg_ps_t *ps, const char *text, size_t len)
{
        const char *p = text, *end = text + len;
        unsigned line = 1;
        int bol = 1;

        while (p < end && !ps->ld->oom) {
                size_t n;

                if (*p == '\n') {
                        line++;
                        p++;
                        bol = 1;
                        continue;
                }
                if (bol && (n = cfg_ps_include_open(p, end)) > 0) {
                        /* <INCLUDE>: \\ and \" are escapes, a lone \ is
                         * dropped; the path ends at the next " */
                        char *path = malloc((size_t)(end - p) + 1);
                        unsigned at = line;
                        size_t k = 0;

                        if (!path) {
                                ps->ld->oom = 1;
                                return -1;
                        }
                        for (p += n; p < end && *p != '"'; p++) {
                                if (*p == '\\' && p + 1 < end &&
                                    (p[1] == '\\' || p[1] == '"'))
                                        path[k++] = *++p;
                                else if (*p != '\\')
                                        path[k++] = *p;
                                if (*p == '\n')
                                        line++;
                        }
                        path[k] = '\0';
                        if (p < end) {
                                p++;
                                cfg_ps_include(ps, path, at);
                        }
                        free(path);
                        bol = 0;
                        continue;
                }
                bol = 0;
                if (*p == '/' && p + 1 < end && p[1] == '*') {
                        for (p += 2; p < end; p++) {
                                if (*p == '*' && p + 1 < end && p[1] == '/') {
                                        p += 2;
                                        break;
                                }
                                if (*p == '\n')
                                        line++;
                        }
                } else if (*p == '#' ||
                           (*p == '/' && p + 1 < end && p[1] == '/')) {
                        while (p < end && *p != '\n')
                                p++;
                } else if (*p == '"') {
                        for (p++; p < end && *p != '"'; p++) {
                                if (*p == '\n')
                                        line++;
                                if (*p != '\\' || p + 1 >= end)
                                        continue;
                                if ((p[1] == 'x' || p[1] == 'X') &&
                                    end - p >= 4 && cfg_ps_xdigit(p[2]) &&
                                    cfg_ps_xdigit(p[3])) {
                                        if (p[2] == '0' && p[3] == '0')
                                                cfg_report_at(
                                                        ps->ld, ps->file, line,
                                                        "a string holds \\x00 "
                                                        "(NUL), which would "
                                                        "cut it short; remove "
                                                        "it");
                                        p += 3;
                                } else if (strchr("nrtf\\\"", p[1])) {
                                        p++;
                                }
                        }
                        if (p < end)
                                p++;
                } else if ((*p >= 'A' && *p <= 'Z') ||
                           (*p >= 'a' && *p <= 'z') || *p == '*') {
                        for (p++; p < end &&
                                  (cfg_word_char(*p) || *p == '-' || *p == '*');
                             p++)
                                ;
                } else if ((n = cfg_ps_number(ps, p, end, line)) > 0) {
                        p += n;
                } else {
                        p++;
                }
        }
        return ps->ld->oom ? -1 : 0;
}

int cfg_prescan(cfg_loader_t *ld, const char *text, size_t len)
{
        cfg_ps_t ps = {ld, ld->name, 0};
        size_t before = ld->err_count;

        if (len > CFG_FILE_MAX) {
                cfg_report_at(ld, ld->name, 1,
                              "the file is larger than 1 MiB, hookbridge's "
                              "limit (libconfig takes quadratic time over "
                              "long strings)");
                return -1;
        }
        ld->text_total = len;
        if (cfg_ps_scan(&ps, text, len) != 0)
                return -1;
        return ld->err_count > before ? -1 : 0;
}
