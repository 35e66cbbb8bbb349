/* hb_log: one structured line per event worth a human's attention. */
#include "hb_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

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

/* Append \p s to buf as a JSON string body (no quotes). */
static size_t json_escape(char *buf, size_t size, size_t off, const char *s,
                          size_t n)
{
        for (size_t i = 0; i < n && off + 7 < size; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '"' || c == '\\') {
                        buf[off++] = '\\';
                        buf[off++] = (char)c;
                } else if (c < 0x20) {
                        off += (size_t)snprintf(buf + off, size - off,
                                                "\\u%04x", c);
                } else {
                        buf[off++] = (char)c;
                }
        }
        return off;
}

/* Turn logfmt pairs (k=v, k="v w") into ,"k":"v" members. */
static size_t logfmt_to_json(char *buf, size_t size, size_t off, const char *kv)
{
        const char *p = kv;
        while (*p && off + 16 < size) {
                while (*p == ' ')
                        p++;
                const char *eq = strchr(p, '=');
                if (!*p || !eq)
                        break;
                off += (size_t)snprintf(buf + off, size - off, ",\"");
                off = json_escape(buf, size, off, p, (size_t)(eq - p));
                off += (size_t)snprintf(buf + off, size - off, "\":\"");
                p = eq + 1;
                if (*p == '"') {
                        const char *v = ++p;
                        while (*p && *p != '"') {
                                if (*p == '\\' && p[1])
                                        p++;
                                p++;
                        }
                        off = json_escape(buf, size, off, v, (size_t)(p - v));
                        if (*p == '"')
                                p++;
                } else {
                        const char *v = p;
                        while (*p && *p != ' ')
                                p++;
                        off = json_escape(buf, size, off, v, (size_t)(p - v));
                }
                if (off + 2 < size)
                        buf[off++] = '"';
        }
        return off;
}

void hb_log(int level, const char *msg, const char *fmt, ...)
{
        char kv[2048], line[4096], ts[64];
        struct timeval tv;
        struct tm tm;
        va_list ap;
        size_t off;

        if (!hb_log_enabled(level))
                return;
        /* no fields: skip vsnprintf, an empty format trips clang's
         * -Wformat-zero-length */
        kv[0] = '\0';
        if (fmt) {
                va_start(ap, fmt);
                vsnprintf(kv, sizeof(kv), fmt, ap);
                va_end(ap);
        }

        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));

        if (log_json) {
                off = (size_t)snprintf(line, sizeof(line),
                                       "{\"ts\":\"%s\",\"level\":\"%s\","
                                       "\"msg\":\"",
                                       ts, level_name(level));
                off = json_escape(line, sizeof(line), off, msg, strlen(msg));
                off += (size_t)snprintf(line + off, sizeof(line) - off, "\"");
                off = logfmt_to_json(line, sizeof(line), off, kv);
                off += (size_t)snprintf(line + off, sizeof(line) - off, "}\n");
        } else {
                off = (size_t)snprintf(
                        line, sizeof(line), "ts=%s level=%s msg=\"%s\"%s%s\n",
                        ts, level_name(level), msg, *kv ? " " : "", kv);
        }
        if (off >= sizeof(line)) {
                off = sizeof(line) - 1;
                line[off - 1] = '\n';
        }
        if (write(STDERR_FILENO, line, off) < 0)
                return;
}

const char *hb_log_quote(char *buf, size_t size, const char *s)
{
        size_t o = 0;

        for (; *s && o + 3 < size; s++) {
                if (*s == '"' || *s == '\\')
                        buf[o++] = '\\';
                buf[o++] = *s;
        }
        buf[o] = '\0';
        return buf;
}

void hb_log_librdkafka(int level, const char *fac, const char *buf)
{
        char q[1024];
        int lvl = level <= 3   ? HB_LOG_ERR
                  : level <= 4 ? HB_LOG_WARN
                               : HB_LOG_DEBUG;

        if (!hb_log_enabled(lvl))
                return;
        hb_log(lvl, "librdkafka", "facility=%s detail=\"%s\"", fac ? fac : "-",
               hb_log_quote(q, sizeof(q), buf ? buf : ""));
}
