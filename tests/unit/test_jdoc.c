/* Tests for wk_jdoc: the document holds exactly what wk_json_parse()'s
 * json-c tree holds (values, member order, repeated names, numbers' text,
 * escapes), refuses exactly what it refuses with the same reason: edge
 * cases, then seeded mutations of the sample events. */
#include <criterion/criterion.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wk_jdoc.h"
#include "wk_json.h"
#include "wk_sample.h"

/* 1 when \p v holds what json-c's \p o does (\p why: the first
 * difference). */
static int same(const wk_jv_t *v, json_object *o, char *why, size_t wsize)
{
        char tmp[32];
        wk_json_str_t s;
        size_t i = 0;

        switch (json_object_get_type(o)) {
        case json_type_null:
                if (v->type == WK_JV_NULL)
                        return 1;
                break;
        case json_type_boolean:
                if (v->type == WK_JV_BOOL &&
                    v->truth == (json_object_get_boolean(o) ? 1 : 0))
                        return 1;
                break;
        case json_type_int:
        case json_type_double:
                s = wk_json_num_text(o, tmp, sizeof(tmp));
                if (v->type == (json_object_is_type(o, json_type_int)
                                        ? WK_JV_INT
                                        : WK_JV_DOUBLE) &&
                    v->n == s.n && !memcmp(v->s, s.s, s.n) &&
                    (v->type == WK_JV_DOUBLE ||
                     wk_jv_int64(v) == json_object_get_int64(o)) &&
                    (v->type == WK_JV_INT ||
                     !memcmp(&(double){wk_jv_double(v)},
                             &(double){json_object_get_double(o)},
                             sizeof(double))))
                        return 1;
                break;
        case json_type_string:
                if (v->type == WK_JV_STRING &&
                    v->n == (size_t)json_object_get_string_len(o) &&
                    !memcmp(v->s, json_object_get_string(o), v->n) &&
                    v->s[v->n] == '\0')
                        return 1;
                break;
        case json_type_object: {
                const wk_jv_t *e = wk_jv_first(v);
                if (v->type != WK_JV_OBJECT ||
                    v->n != (size_t)json_object_object_length(o))
                        break;
                json_object_object_foreach(o, k, m)
                {
                        if (e->kn != strlen(k) || strcmp(e->k, k)) {
                                snprintf(why, wsize,
                                         "member %zu is '%s', not '%s'", i,
                                         e->k, k);
                                return 0;
                        }
                        if (!same(e, m, why, wsize))
                                return 0;
                        if (wk_jv_get(v, k) != (m ? e : NULL)) {
                                snprintf(why, wsize, "get '%s'", k);
                                return 0;
                        }
                        e = wk_jv_next(e);
                        i++;
                }
                if (e == wk_jv_end(v))
                        return 1;
                break;
        }
        case json_type_array: {
                const wk_jv_t *e = wk_jv_first(v);
                if (v->type != WK_JV_ARRAY ||
                    v->n != json_object_array_length(o))
                        break;
                for (i = 0; i < v->n; i++, e = wk_jv_next(e)) {
                        if (!same(e, json_object_array_get_idx(o, i), why,
                                  wsize))
                                return 0;
                }
                if (e == wk_jv_end(v))
                        return 1;
                break;
        }
        }
        if (!*why)
                snprintf(why, wsize, "type %d (json-c %s), text '%.*s'",
                         v->type, json_type_to_name(json_object_get_type(o)),
                         v->s ? (int)v->n : 0, v->s ? v->s : "");
        return 0;
}

/* @returns 1 when the document of \p buf[0, len) agrees with json-c's. */
static int agrees(const char *buf, size_t len, char *why, size_t wsize)
{
        char r1[256] = "", r2[256] = "";
        wk_jdoc_t *d = wk_jdoc_parse(buf, len, r1, sizeof(r1));
        json_object *o = wk_json_parse(buf, len, r2, sizeof(r2));
        int ok;

        why[0] = '\0';
        if (!d || !o) {
                ok = !d && !o && !strcmp(r1, r2);
                if (!ok)
                        snprintf(why, wsize, "doc %s '%s', json-c %s '%s'",
                                 d ? "took it" : "refused", r1,
                                 o ? "took it" : "refused", r2);
        } else {
                ok = same(wk_jdoc_root(d), o, why, wsize);
        }
        wk_jdoc_free(d);
        json_object_put(o);
        return ok;
}

#define AGREES(s)                                                         \
        do {                                                              \
                char why_[512];                                           \
                cr_expect(agrees((s), sizeof(s) - 1, why_, sizeof(why_)), \
                          "%s: %s", (s), why_);                           \
        } while (0)

Test(jdoc, the_values_json_c_holds)
{
        AGREES("{}");
        AGREES(" {\"a\" : [ ] , \"b\" :{ } } \n");
        AGREES("{\"a\":null,\"b\":true,\"c\":false,\"d\":[null,true,false]}");
        AGREES("{\"a\":\"\",\"\":1}");
        AGREES("{\"a\":[[[]],{},[{}]],\"b\":{\"c\":{\"d\":[1,{\"e\":2}]}}}");
        AGREES("{\"a\":\"caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac\"}");
        AGREES("{\"e\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}");
        AGREES("{\"u\":\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\\u0001\\u001f\"}");
        AGREES("{\"u\":\"x\\u0000y\",\"v\":\"\\u0000\"}");
        AGREES("{\"\\u0061\\u0062\":1,\"\\n\":2}");
}

Test(jdoc, numbers_as_json_c_holds_them)
{
        AGREES("{\"a\":0,\"b\":-1,\"c\":123456789,\"d\":-0}");
        AGREES("{\"a\":9223372036854775807,\"b\":9223372036854775808}");
        AGREES("{\"a\":18446744073709551615,\"b\":18446744073709551616}");
        AGREES("{\"a\":-9223372036854775808,\"b\":-9223372036854775809}");
        AGREES("{\"a\":123456789012345678901234567890}");
        AGREES("{\"a\":1.0,\"b\":1E5,\"c\":0.1e+2,\"d\":-2.5e-3,\"e\":1e400}");
        AGREES("{\"a\":-1e400,\"b\":1e-400,\"c\":0.000000000000000000001}");
        AGREES("{\"a\":[0,-0,0.0,-0.0,1e0]}");
}

Test(jdoc, repeated_and_odd_names_as_json_c_keeps_them)
{
        /* json-c: a repeated name keeps its first place, its last value */
        AGREES("{\"a\":1,\"b\":2,\"a\":3}");
        AGREES("{\"a\":1,\"a\":null}");
        AGREES("{\"a\":null,\"a\":1}");
        AGREES("{\"o\":{\"x\":{\"y\":1},\"x\":[2]}}");
        /* json-c cuts a name at an escaped NUL */
        AGREES("{\"a\\u0000b\":1,\"a\":2}");
        AGREES("{\"a\\u0000b\":1}");
        AGREES("{\"A\":1,\"a\":2}");
}

Test(jdoc, large_objects_and_arrays)
{
        static char buf[1 << 16];
        size_t n = 0;

        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{");
        for (int i = 0; i < 500; i++)
                n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                                      "%s\"k%d\":[%d,\"s%d\",{}]", i ? "," : "",
                                      i % 300, i, i);
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "}");
        {
                char why[512];
                cr_expect(agrees(buf, n, why, sizeof(why)), "%s", why);
        }
        n = 0;
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{\"a\":[");
        for (int i = 0; i < 2000; i++)
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%d",
                                      i ? "," : "", i);
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "]}");
        {
                char why[512];
                cr_expect(agrees(buf, n, why, sizeof(why)), "%s", why);
        }
}

Test(jdoc, what_json_c_refuses_with_its_reason)
{
        AGREES("");
        AGREES("   ");
        AGREES("[]");
        AGREES("\"a\"");
        AGREES("1");
        AGREES("{");
        AGREES("}");
        AGREES("{\"a\"}");
        AGREES("{\"a\":}");
        AGREES("{\"a\":1,}");
        AGREES("{\"a\":[1,]}");
        AGREES("{\"a\":[,1]}");
        AGREES("{,\"a\":1}");
        AGREES("{\"a\":1 \"b\":2}");
        AGREES("{\"a\" 1}");
        AGREES("{\"a\"::1}");
        AGREES("{\"a\":1}}");
        AGREES("{\"a\":1}x");
        AGREES("{\"a\":1} {}");
        AGREES("{\"a\":[1}");
        AGREES("{\"a\":{]}");
        AGREES("{1:2}");
        AGREES("{null:2}");
        AGREES("{\"a\":01}");
        AGREES("{\"a\":1.}");
        AGREES("{\"a\":.5}");
        AGREES("{\"a\":+1}");
        AGREES("{\"a\":NaN}");
        AGREES("{\"a\":tru}");
        AGREES("{\"a\":nulls}");
        AGREES("{'a':1}");
        AGREES("{\"a\":\"\\x\"}");
        AGREES("{\"a\":\"\\ud800\"}");
        AGREES("{\"a\":\"\xff\"}");
        AGREES("{\"a\":\"\x01\"}");
        AGREES("{\"a\":\"unterminated}");
}

Test(jdoc, nesting_bound)
{
        char buf[512];
        size_t n = 0;

        for (int depth = WK_JSON_MAX_DEPTH - 1; depth <= WK_JSON_MAX_DEPTH + 1;
             depth++) {
                char why[512];
                n = 0;
                buf[n++] = '{';
                memcpy(buf + n, "\"a\":", 4);
                n += 4;
                for (int i = 1; i < depth; i++)
                        buf[n++] = '[';
                for (int i = 1; i < depth; i++)
                        buf[n++] = ']';
                buf[n++] = '}';
                cr_expect(agrees(buf, n, why, sizeof(why)), "depth %d: %s",
                          depth, why);
        }
}

/* Mutations of the sample events: bytes replaced, inserted or deleted,
 * drawn from what JSON is made of. */
Test(jdoc, mutated_samples_agree)
{
        static const char alphabet[] = "{}[]:,\"\\ 0123456789-+.eEtfnul"
                                       "abu\x00\x1f\xc3\xa9\xed\xa0\x80";
        unsigned long long seed = 0x15c0ffeeULL;
        size_t failures = 0;
        char why[512];

        for (size_t round = 0; round < 30000; round++) {
                char base[2048], buf[2100];
                int len = wk_sample_render(round % wk_sample_count(), "m-1",
                                           (long)round, 1700000000000LL, base,
                                           sizeof(base));
                size_t n;
                cr_assert(len > 0 && (size_t)len < sizeof(base));
                memcpy(buf, base, (size_t)len);
                n = (size_t)len;
                for (int k = 0, edits = 1 + (int)(round % 3); k < edits; k++) {
                        size_t at, op;
                        char c;
                        seed = seed * 6364136223846793005ULL +
                               1442695040888963407ULL;
                        at = (size_t)(seed >> 33) % n;
                        op = (size_t)(seed >> 20) % 3;
                        c = alphabet[(seed >> 40) % (sizeof(alphabet) - 1)];
                        if (op == 0) {
                                buf[at] = c;
                        } else if (op == 1 && n + 1 < sizeof(buf)) {
                                memmove(buf + at + 1, buf + at, n - at);
                                buf[at] = c;
                                n++;
                        } else if (n > 1) {
                                memmove(buf + at, buf + at + 1, n - at - 1);
                                n--;
                        }
                }
                if (!agrees(buf, n, why, sizeof(why)) && failures++ < 5)
                        cr_expect(0, "round %zu: '%.*s': %s", round, (int)n,
                                  buf, why);
        }
        cr_expect_eq(failures, 0, "%zu mutations disagree", failures);
}
