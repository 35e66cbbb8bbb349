/* Tests for hb_log: every value escaped by the logger itself, in logfmt and
 * JSON, one line per call whatever the values hold. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "hb_log.h"

#define MAX_PAIRS 40

/* One parsed line: its keys and their decoded values. */
typedef struct {
        int n;
        char key[MAX_PAIRS][80];
        char val[MAX_PAIRS][8192];
} line_t;

/* stderr into a file while a test logs (hb_log write()s to fd 2). */
static int saved_fd = -1;
static FILE *capture_file;

static void capture(void)
{
        fflush(stderr);
        capture_file = tmpfile();
        cr_assert_not_null(capture_file);
        saved_fd = dup(STDERR_FILENO);
        cr_assert_neq(saved_fd, -1);
        cr_assert_neq(dup2(fileno(capture_file), STDERR_FILENO), -1);
}

/* What was logged since capture(); stderr is restored. */
static char *read_stderr(void)
{
        static char buf[1 << 17];
        size_t n;

        fflush(stderr);
        dup2(saved_fd, STDERR_FILENO);
        close(saved_fd);
        rewind(capture_file);
        n = fread(buf, 1, sizeof(buf) - 1, capture_file);
        buf[n] = '\0';
        fclose(capture_file);
        return buf;
}

static size_t count_lines(const char *s)
{
        size_t n = 0;

        for (; *s; s++)
                n += *s == '\n';
        return n;
}

/* Append code point \p cp as UTF-8. */
static size_t put_utf8(char *o, uint32_t cp)
{
        if (cp < 0x80) {
                o[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                o[0] = (char)(0xc0 | cp >> 6);
                o[1] = (char)(0x80 | (cp & 0x3f));
                return 2;
        }
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
}

/* A quoted string at \p p ("..."), JSON escapes decoded into \p out.
 * Fails the test on a raw control byte, DEL, a C1 character or a bad
 * escape. @returns the byte after the closing quote. */
static const char *quoted(const char *p, char *out, size_t size)
{
        size_t o = 0;

        cr_assert_eq(*p, '"', "expected a quote at '%.20s'", p);
        for (p++; *p != '"'; p++) {
                unsigned char c = (unsigned char)*p;
                cr_assert(c >= 0x20 && c != 0x7f, "raw control 0x%02x", c);
                cr_assert(!(c == 0xc2 && (unsigned char)p[1] >= 0x80 &&
                            (unsigned char)p[1] <= 0x9f),
                          "raw C1 character");
                cr_assert_lt(o + 4, size);
                if (c != '\\') {
                        out[o++] = (char)c;
                        continue;
                }
                switch (*++p) {
                case '"':
                case '\\':
                case '/':
                        out[o++] = *p;
                        break;
                case 'n':
                        out[o++] = '\n';
                        break;
                case 'r':
                        out[o++] = '\r';
                        break;
                case 't':
                        out[o++] = '\t';
                        break;
                case 'u': {
                        unsigned cp;
                        cr_assert_eq(sscanf(p + 1, "%4x", &cp), 1);
                        p += 4;
                        o += put_utf8(out + o, cp);
                        break;
                }
                default:
                        cr_assert_fail("bad escape \\%c", *p);
                }
        }
        out[o] = '\0';
        return p + 1;
}

static void add_pair(line_t *l, const char *k, size_t kn)
{
        cr_assert_lt(l->n, MAX_PAIRS);
        cr_assert_lt(kn, sizeof(l->key[0]));
        memcpy(l->key[l->n], k, kn);
        l->key[l->n][kn] = '\0';
        for (int i = 0; i < l->n; i++)
                cr_assert_str_neq(l->key[i], l->key[l->n], "key %s twice",
                                  l->key[i]);
}

/* A logfmt line: key=bare or key="quoted", one blank apart, then '\n'. */
static const char *parse_logfmt(const char *p, line_t *l)
{
        memset(l, 0, sizeof(*l));
        for (;;) {
                const char *k = p;
                while (*p && *p != '=' && *p != ' ' && *p != '\n')
                        p++;
                cr_assert_eq(*p, '=', "no '=' after '%.*s'", (int)(p - k), k);
                cr_assert_gt(p - k, 0, "empty key");
                add_pair(l, k, (size_t)(p - k));
                p++;
                if (*p == '"') {
                        p = quoted(p, l->val[l->n], sizeof(l->val[0]));
                } else {
                        size_t n = 0;
                        while ((unsigned char)*p > 0x20 &&
                               (unsigned char)*p < 0x7f && *p != '"' &&
                               *p != '=' && *p != '\\')
                                l->val[l->n][n++] = *p++;
                        cr_assert_gt(n, 0, "empty bare value");
                }
                l->n++;
                if (*p == '\n')
                        return p + 1;
                cr_assert_eq(*p, ' ', "junk after a value: '%.20s'", p);
                p++;
        }
}

/* A JSON line of string members, keys unique, then '\n'; checked by
 * json-c (strict, UTF-8 validated) as well. */
static const char *parse_json(const char *p, line_t *l)
{
        const char *start = p, *nl = strchr(p, '\n');
        json_tokener *tok = json_tokener_new();
        json_object *o;

        cr_assert_not_null(nl);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                                            JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, start, (int)(nl - start));
        cr_assert_not_null(o, "json-c: %s in %.*s",
                           json_tokener_error_desc(json_tokener_get_error(tok)),
                           (int)(nl - start), start);
        cr_assert(json_object_is_type(o, json_type_object));
        json_object_put(o);
        json_tokener_free(tok);

        memset(l, 0, sizeof(*l));
        cr_assert_eq(*p++, '{');
        for (;;) {
                char k[80];
                const char *q = quoted(p, k, sizeof(k));
                add_pair(l, k, strlen(k));
                cr_assert_eq(*q, ':');
                p = quoted(q + 1, l->val[l->n], sizeof(l->val[0]));
                l->n++;
                if (*p == '}')
                        break;
                cr_assert_eq(*p++, ',', "'%.20s'", p - 1);
        }
        cr_assert_eq(p[1], '\n');
        return p + 2;
}

static const char *get(const line_t *l, const char *key)
{
        for (int i = 0; i < l->n; i++)
                if (!strcmp(l->key[i], key))
                        return l->val[i];
        return NULL;
}

/* What a receiver put into its certificate's CN, as curl quotes it: a
 * quote and a newline (a forged line), ESC (terminal), C1 CSI and NEL, a
 * backslash, DEL, U+2028, a bidi override, and bytes that are not UTF-8. */
static const char hostile[] =
        "SSL: no alternative certificate subject name matches target host "
        "name 'x'; cn=\"evil\" level=error msg=\"forged\"\n"
        "ts=2026-01-01T00:00:00.000Z level=error msg=\"forged\" "
        "admin=\"\x1b]0;pwned\x07\x1b[2J\" csi=\xc2\x9b nel=\xc2\x85 "
        "bs=\\ del=\x7f ls=\xe2\x80\xa8 rlo=\xe2\x80\xae bad=\xff\xc0\xaf"
        " cut=\xe2\x82 ok=\xc3\xa9";

/* The same, decoded as a reader should see it. */
static const char hostile_read[] =
        "SSL: no alternative certificate subject name matches target host "
        "name 'x'; cn=\"evil\" level=error msg=\"forged\"\n"
        "ts=2026-01-01T00:00:00.000Z level=error msg=\"forged\" "
        "admin=\"\x1b]0;pwned\x07\x1b[2J\" csi=\xc2\x9b nel=\xc2\x85 "
        "bs=\\ del=\x7f ls=\xe2\x80\xa8 rlo=\xe2\x80\xae "
        "bad=\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
        " cut=\xef\xbf\xbd\xef\xbf\xbd ok=\xc3\xa9";

static void log_hostile(void)
{
        /* the delivery-failed line, a multi-line "reload rejected", and
         * librdkafka's reason */
        hb_log(HB_LOG_WARN, "delivery failed",
               "webhook=%s topic=%s partition=%d offset=%lld id=\"%s\" "
               "outcome=%s status=%ld attempts=%d error=\"%s\"",
               "crm", "events", 3, 42LL, "id\" level=error", "exhausted", 0L, 5,
               hostile);
        hb_log(HB_LOG_ERR, "reload rejected; keeping the running configuration",
               "file=%s problems=\"%s\"", "/etc/hb.cfg",
               "/etc/hb.cfg:3: webhook \"a\": x\n/etc/hb.cfg:9: \"b\"\n"
               "/etc/hb.cfg:12: c\n");
        hb_log_librdkafka(3, "FAIL", hostile);
}

static void check_hostile(const line_t *l)
{
        cr_assert_str_eq(get(l, "level"), "warn");
        cr_assert_str_eq(get(l, "msg"), "delivery failed");
        cr_assert_str_eq(get(l, "error"), hostile_read);
        cr_assert_str_eq(get(l, "id"), "id\" level=error");
        cr_assert_str_eq(get(l, "partition"), "3");
        cr_assert_str_eq(get(l, "offset"), "42");
        cr_assert_str_eq(get(l, "attempts"), "5");
        cr_assert_eq(l->n, 12, "%d keys", l->n);
}

Test(log, hostile_values_stay_in_one_logfmt_line)
{
        static line_t l;
        const char *out, *p;

        hb_log_setup(HB_LOG_INFO, 0);
        capture();
        log_hostile();
        out = read_stderr();
        cr_assert_eq(count_lines(out), 3, "%s", out);
        p = parse_logfmt(out, &l);
        check_hostile(&l);
        p = parse_logfmt(p, &l);
        cr_assert_str_eq(get(&l, "problems"),
                         "/etc/hb.cfg:3: webhook \"a\": x\n/etc/hb.cfg:9: "
                         "\"b\"\n/etc/hb.cfg:12: c\n");
        p = parse_logfmt(p, &l);
        cr_assert_str_eq(get(&l, "detail"), hostile_read);
        cr_assert_eq(l.n, 5);
        cr_assert_eq(*p, '\0');
}

Test(log, hostile_values_stay_in_one_json_line)
{
        static line_t l;
        const char *out, *p;

        hb_log_setup(HB_LOG_INFO, 1);
        capture();
        log_hostile();
        out = read_stderr();
        cr_assert_eq(count_lines(out), 3, "%s", out);
        p = parse_json(out, &l);
        check_hostile(&l);
        p = parse_json(p, &l);
        cr_assert_str_eq(get(&l, "problems"),
                         "/etc/hb.cfg:3: webhook \"a\": x\n/etc/hb.cfg:9: "
                         "\"b\"\n/etc/hb.cfg:12: c\n");
        p = parse_json(p, &l);
        cr_assert_str_eq(get(&l, "detail"), hostile_read);
        cr_assert_eq(*p, '\0');
}

/* Cut at every position of a value full of escapes and multi-byte
 * characters: the line stays within 4 KiB, well formed and marked. */
static void cut_lines(int json)
{
        static char big[6000];
        static line_t l;
        const char unit[] = "\"\n\x01\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                            "\xc2\x9b\xff\\a";
        size_t n = 0;

        while (n + sizeof(unit) < sizeof(big)) {
                memcpy(big + n, unit, sizeof(unit) - 1);
                n += sizeof(unit) - 1;
        }
        big[n] = '\0';
        hb_log_setup(HB_LOG_INFO, json);
        for (int pad = 0; pad < 40; pad++) {
                capture();
                hb_log(HB_LOG_ERR, "cut", "pad=%.*s big=%s after=%d", pad,
                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", big,
                       7);
                const char *out = read_stderr();
                size_t len = strlen(out);
                cr_assert_leq(len, HB_LOG_LINE_MAX, "pad %d: %zu bytes", pad,
                              len);
                cr_assert_gt(len, HB_LOG_LINE_MAX - 40, "pad %d: %zu", pad,
                             len);
                cr_assert_eq(count_lines(out), 1);
                if (json)
                        parse_json(out, &l);
                else
                        parse_logfmt(out, &l);
                cr_assert_str_eq(get(&l, "truncated"), "1", "pad %d", pad);
                cr_assert_null(get(&l, "after"));
                cr_assert_eq(strncmp(get(&l, "big"), "\"\n\x01\xc3\xa9", 5), 0);
        }
}

Test(log, a_cut_json_line_is_still_json)
{
        cut_lines(1);
}

Test(log, a_cut_logfmt_line_is_still_logfmt)
{
        cut_lines(0);
}

Test(log, values_are_rendered_like_printf)
{
        static line_t l;
        const char *out;

        hb_log_setup(HB_LOG_DEBUG, 0);
        capture();
        hb_log(HB_LOG_DEBUG, "numbers",
               "d=%d neg=%d ld=%ld lld=%lld u=%u zu=%zu x=%x f=%.1f g=%g "
               "w=%5.1f star=%.*s null=%s pct=%d%% lit=1 mix=%s:%d "
               "note=\"a b c\" empty=\"%s\" bare=%s",
               7, -3, 123456789L, -9000000000LL, 4000000000u, (size_t)42, 255,
               2.25, 0.5, 3.14159, 3, "abcdef",
               getenv("HB_TEST_NOT_SET_ANYWHERE"), 50, "host", 80, "", "x y");
        out = read_stderr();
        cr_assert_eq(count_lines(out), 1, "%s", out);
        /* logfmt as it always was for plain values */
        cr_assert(strstr(out, " d=7 neg=-3 ld=123456789 lld=-9000000000 "
                              "u=4000000000 zu=42 x=ff f=2.2 g=0.5 w="
                              "\"  3.1\" star=abc null=(null) pct=50% lit=1 "
                              "mix=host:80 note=\"a b c\" empty=\"\" "
                              "bare=\"x y\"\n"),
                  "%s", out);
        parse_logfmt(out, &l);
        cr_assert_str_eq(get(&l, "msg"), "numbers");
}

Test(log, keys_never_repeat)
{
        static line_t l;
        const char *out, *p;

        hb_log_setup(HB_LOG_INFO, 1);
        capture();
        hb_log(HB_LOG_INFO, "dups",
               "a=%d a=%d msg=%s level=%s ts=%s truncated=%s a_2=%d %s x=%d", 1,
               2, "m", "l", "t", "u", 3, "no key", 4);
        hb_log_setup(HB_LOG_INFO, 0);
        hb_log(HB_LOG_INFO, "dups", "a=%d a=%d msg=%s %s", 1, 2, "m", "k=v");
        out = read_stderr();
        cr_assert_eq(count_lines(out), 2, "%s", out);
        p = parse_json(out, &l); /* fails on a repeated key */
        cr_assert_str_eq(get(&l, "a"), "1");
        cr_assert_str_eq(get(&l, "a_2"), "2");
        cr_assert_str_eq(get(&l, "msg"), "dups");
        cr_assert_str_eq(get(&l, "x"), "4", "%s", out);
        cr_assert_str_eq(get(&l, "fmt_error"), "no key");
        p = parse_logfmt(p, &l);
        cr_assert_str_eq(get(&l, "a_2"), "2");
        cr_assert_str_eq(get(&l, "msg"), "dups");
        cr_assert_str_eq(get(&l, "fmt_error"), "k=v");
}

Test(log, librdkafka_lines_are_structured_and_quoted)
{
        char *out;

        hb_log_setup(HB_LOG_INFO, 0);
        capture();
        hb_log_librdkafka(4, "CONFWARN", "property \"x\" is ignored");
        hb_log_librdkafka(3, "FAIL", "broker down");
        /* librdkafka's debug and info lines stay below the threshold */
        hb_log_librdkafka(7, "FETCH", "noise");
        hb_log_librdkafka(6, "INFO", "noise");
        hb_log(HB_LOG_ERR, "no fields", NULL);
        out = read_stderr();
        cr_expect_not_null(strstr(out, "level=warn msg=\"librdkafka\" "
                                       "facility=CONFWARN detail=\"property "
                                       "\\\"x\\\" is ignored\""),
                           "%s", out);
        cr_expect_not_null(strstr(out, "level=error msg=\"librdkafka\" "
                                       "facility=FAIL detail=\"broker down\""),
                           "%s", out);
        cr_expect_not_null(strstr(out, "level=error msg=\"no fields\"\n"));
        cr_expect_null(strstr(out, "noise"), "%s", out);
}

Test(log, printable_escapes_controls_for_a_terminal)
{
        static const char in[] = "a\"b\\c\x1b[2J\n\r\t\x7f\xc2\x9b\xc3\xa9"
                                 "\xff\x00\xe2\x80\xae\xf0\x9f\x98\x80";
        char out[256], small[9];

        cr_assert_str_eq(hb_log_printable(out, sizeof(out), in, sizeof(in) - 1),
                         "a\"b\\c\\u001b[2J\\n\\r\\t\\u007f\\u009b\xc3\xa9\\xff"
                         "\\u0000\\u202e\xf0\x9f\x98\x80");
        /* cut between two characters, never inside an escape */
        cr_assert_str_eq(hb_log_printable(small, sizeof(small), "abc\x1b[x", 6),
                         "abc");
        cr_assert_str_eq(
                hb_log_printable(small, sizeof(small), "ab\xc3\xa9xyzw", 8),
                "ab\xc3\xa9xyzw");
        cr_assert_str_eq(hb_log_printable(small, 5, "ab\xc3\xa9xyzw", 8),
                         "ab\xc3\xa9");
        cr_assert_str_eq(hb_log_printable(small, 4, "ab\xc3\xa9xyzw", 8), "ab");
}
