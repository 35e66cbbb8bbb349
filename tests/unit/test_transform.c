/* Tests for wk_transform (raw event -> payload) and `hookbridge transform`:
 * every shared vector, then the edges the vectors do not reach. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hb_types.h"
#include "wk_cmd.h"
#include "wk_cmd_transform.h"
#include "wk_sample.h"
#include "wk_transform.h"
#include "wk_transform_int.h"

/*
 * JSON helpers
 */

/* Strictly parse \p s; NULL when it is not exactly one JSON value. */
static json_object *strict_parse(const char *s, size_t n)
{
        struct json_tokener *tok = json_tokener_new_ex(128);
        json_object *o;

        json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                                            JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, s, (int)n);
        if (o && json_tokener_get_parse_end(tok) != n) {
                json_object_put(o);
                o = NULL;
        }
        json_tokener_free(tok);
        return o;
}

/* Equal as JSON values, object key order aside. An integer never equals
 * a double: "an integer stays an integer". */
static int json_equal(json_object *a, json_object *b)
{
        enum json_type t = json_object_get_type(a);

        if (t != json_object_get_type(b))
                return 0;
        switch (t) {
        case json_type_null:
                return 1;
        case json_type_boolean:
                return json_object_get_boolean(a) == json_object_get_boolean(b);
        case json_type_int:
                return json_object_get_int64(a) == json_object_get_int64(b) &&
                       json_object_get_uint64(a) == json_object_get_uint64(b);
        case json_type_double:
                return json_object_get_double(a) == json_object_get_double(b);
        case json_type_string:
                return json_object_get_string_len(a) ==
                               json_object_get_string_len(b) &&
                       !memcmp(json_object_get_string(a),
                               json_object_get_string(b),
                               (size_t)json_object_get_string_len(a));
        case json_type_array:
                if (json_object_array_length(a) != json_object_array_length(b))
                        return 0;
                for (size_t i = 0; i < json_object_array_length(a); i++) {
                        if (!json_equal(json_object_array_get_idx(a, i),
                                        json_object_array_get_idx(b, i)))
                                return 0;
                }
                return 1;
        case json_type_object: {
                if (json_object_object_length(a) !=
                    json_object_object_length(b))
                        return 0;
                json_object_iter it;
                json_object_object_foreachC(a, it)
                {
                        json_object *bv;
                        if (!json_object_object_get_ex(b, it.key, &bv) ||
                            !json_equal(it.val, bv))
                                return 0;
                }
                return 1;
        }
        }
        return 0;
}

/* 1 when every object in \p a lists its keys in the order \p b does
 * (call after json_equal); the first difference goes to \p where. */
static int same_key_order(json_object *a, json_object *b, const char *path,
                          char *where, size_t wsize)
{
        char sub[512];

        if (json_object_is_type(a, json_type_array)) {
                for (size_t i = 0; i < json_object_array_length(a); i++) {
                        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
                        if (!same_key_order(json_object_array_get_idx(a, i),
                                            json_object_array_get_idx(b, i),
                                            sub, where, wsize))
                                return 0;
                }
                return 1;
        }
        if (!json_object_is_type(a, json_type_object))
                return 1;
        struct lh_entry *ea = lh_table_head(json_object_get_object(a));
        struct lh_entry *eb = lh_table_head(json_object_get_object(b));
        for (; ea && eb; ea = lh_entry_next(ea), eb = lh_entry_next(eb)) {
                const char *ka = lh_entry_k(ea);
                if (strcmp(ka, (const char *)lh_entry_k(eb))) {
                        snprintf(where, wsize,
                                 "%s: key '%s' where '%s' was "
                                 "expected",
                                 path, ka, (const char *)lh_entry_k(eb));
                        return 0;
                }
                snprintf(sub, sizeof(sub), "%s.%s", path, ka);
                if (!same_key_order(lh_entry_v(ea), lh_entry_v(eb), sub, where,
                                    wsize))
                        return 0;
        }
        return 1;
}

/* Member at a dotted path ("data.user.user_id"), or NULL. */
static json_object *jget(json_object *o, const char *path)
{
        char key[128];

        while (o && *path) {
                const char *dot = strchr(path, '.');
                size_t n = dot ? (size_t)(dot - path) : strlen(path);
                snprintf(key, sizeof(key), "%.*s", (int)n, path);
                if (!json_object_object_get_ex(o, key, &o))
                        return NULL;
                path += n + (dot != NULL);
        }
        return o;
}

/* Apply an RFC 7386 merge patch (null deletes) to \p target. */
static void merge_patch(json_object *target, json_object *patch)
{
        json_object_iter it;

        json_object_object_foreachC(patch, it)
        {
                json_object *cur;
                if (!it.val) {
                        json_object_object_del(target, it.key);
                } else if (json_object_is_type(it.val, json_type_object) &&
                           json_object_object_get_ex(target, it.key, &cur) &&
                           json_object_is_type(cur, json_type_object)) {
                        merge_patch(cur, it.val);
                } else {
                        json_object_object_add(target, it.key,
                                               json_object_get(it.val));
                }
        }
}

/*
 * Running the transformer
 */

static const char base_event[] =
        "{\"type\":\"track\",\"event\":\"Flow Completed\","
        "\"messageId\":\"m-1\",\"timestamp\":\"2023-03-23T13:37:05.000Z\","
        "\"userId\":\"1\",\"context\":{\"app_token\":\"NX-1\","
        "\"page\":{\"url\":\"https://demo.userpilot.io/dashboard\"},"
        "\"traits\":{\"name\":\"John Doe\",\"email\":\"john@userpilot.co\","
        "\"plan\":\"pro\"},\"groupId\":\"1\",\"group\":{\"name\":"
        "\"Userpilot\",\"industry\":\"SaaS\"}},"
        "\"properties\":{\"flow_id\":1}}";

#define BASE_TS 1679578625

/* The base event with a merge patch applied, as text (caller frees). */
static char *event_with(const char *patch)
{
        json_object *o = json_tokener_parse(base_event);
        json_object *p = json_tokener_parse(patch);
        char *s;

        cr_assert_not_null(p, "bad test patch: %s", patch);
        merge_patch(o, p);
        s = strdup(json_object_to_json_string_ext(
                o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        json_object_put(p);
        return s;
}

typedef struct result_s {
        wk_xf_status_t st;
        char reason[256];
        char id[600];
        char type[128];
        int64_t ts;
        char *body; /* OK only */
        size_t len;
        json_object *json; /* body, parsed */
} result_t;

static wk_msgmeta_t default_meta(void)
{
        wk_msgmeta_t meta = {.topic = "events",
                             .partition = 3,
                             .offset = 42,
                             .timestamp_ms = 1700000000123,
                             .topic_app_token = NULL};
        return meta;
}

static void result_free(result_t *r)
{
        free(r->body);
        json_object_put(r->json);
        memset(r, 0, sizeof(*r));
}

/* Parse \p raw and render it with the given properties. */
static void run_full(result_t *r, const wk_mapping_t *m, const char *raw,
                     size_t len, const wk_msgmeta_t *meta,
                     const char *const *up, size_t upn, const char *const *cp,
                     size_t cpn)
{
        wk_event_t *ev = (wk_event_t *)1;

        memset(r, 0, sizeof(*r));
        r->st = wk_event_parse(m, raw, len, meta, &ev, r->reason,
                               sizeof(r->reason));
        if (r->st != WK_XF_OK) {
                cr_assert_null(ev, "no event on %d", r->st);
                cr_assert(r->reason[0], "a reason is given");
                return;
        }
        cr_assert_not_null(ev);
        snprintf(r->id, sizeof(r->id), "%s", wk_event_id(ev));
        snprintf(r->type, sizeof(r->type), "%s", wk_event_type(ev));
        r->ts = wk_event_timestamp(ev);
        r->body = wk_event_render(ev, up, upn, cp, cpn, &r->len);
        cr_assert_not_null(r->body);
        cr_assert_eq(strlen(r->body), r->len);
        r->json = strict_parse(r->body, r->len);
        cr_assert_not_null(r->json, "the body is strict JSON: %s", r->body);
        cr_assert_eq(json_object_get_int64(jget(r->json, "timestamp")), r->ts);
        cr_assert_str_eq(json_object_get_string(jget(r->json, "type")),
                         r->type);
        wk_event_destroy(ev);
}

static void run_raw(result_t *r, const char *raw, size_t len)
{
        wk_mapping_t *m = wk_mapping_new();
        wk_msgmeta_t meta = default_meta();

        run_full(r, m, raw, len, &meta, NULL, 0, NULL, 0);
        wk_mapping_destroy(m);
}

static void run_str(result_t *r, const char *raw)
{
        run_raw(r, raw, strlen(raw));
}

/* Run the base event patched with \p patch. */
static void run_patch(result_t *r, const char *patch)
{
        char *raw = event_with(patch);

        run_str(r, raw);
        free(raw);
}

static const char *jstr(result_t *r, const char *path)
{
        json_object *v = jget(r->json, path);

        cr_assert_not_null(v, "%s present in %s", path, r->body);
        return json_object_get_string(v);
}

#define assert_ok(r)                                                        \
        cr_assert_eq((r)->st, WK_XF_OK, "expected OK, got %d: %s", (r)->st, \
                     (r)->reason)
#define assert_invalid(r, needle)                                              \
        do {                                                                   \
                cr_assert_eq((r)->st, WK_XF_INVALID,                           \
                             "expected INVALID, got %d (%s)", (r)->st,         \
                             (r)->body ? (r)->body : (r)->reason);             \
                cr_assert(strstr((r)->reason, (needle)),                       \
                          "reason '%s' mentions '%s'", (r)->reason, (needle)); \
        } while (0)
#define assert_body_has(r, text)                                        \
        cr_assert(strstr((r)->body, (text)), "body has %s: %s", (text), \
                  (r)->body)

/*
 * The shared vectors
 */

static const char **string_array(json_object *arr, size_t *n)
{
        const char **v;

        *n = arr ? json_object_array_length(arr) : 0;
        v = calloc(*n + 1, sizeof(*v));
        for (size_t i = 0; i < *n; i++)
                v[i] = json_object_get_string(
                        json_object_array_get_idx(arr, i));
        return v;
}

/* @returns 1 when the vector in \p path passes; complains otherwise. */
static int run_vector(const char *path, wk_mapping_t *m)
{
        json_object *vec = json_object_from_file(path);
        json_object *raw, *expect, *tok, *v;
        const char **up, **cp;
        size_t upn, cpn;
        const char *text;
        wk_msgmeta_t meta = default_meta();
        result_t r;
        char where[512] = "";
        int ok = 0;

        cr_assert_not_null(vec, "%s parses", path);
        cr_assert(json_object_object_get_ex(vec, "raw", &raw), "%s", path);
        cr_assert(json_object_object_get_ex(vec, "expect", &expect), "%s",
                  path);
        if (json_object_object_get_ex(vec, "topic_app_token", &tok))
                meta.topic_app_token = json_object_get_string(tok);
        json_object_object_get_ex(vec, "user_properties", &v);
        up = string_array(v, &upn);
        v = NULL;
        json_object_object_get_ex(vec, "company_properties", &v);
        cp = string_array(v, &cpn);
        text = json_object_is_type(raw, json_type_string)
                       ? json_object_get_string(raw)
                       : json_object_to_json_string_ext(
                                 raw, JSON_C_TO_STRING_PLAIN |
                                              JSON_C_TO_STRING_NOSLASHESCAPE);

        run_full(&r, m, text, strlen(text), &meta, up, upn, cp, cpn);
        if (json_object_object_get_ex(expect, "skipped", NULL)) {
                ok = r.st == WK_XF_SKIPPED;
                cr_expect(ok, "%s: expected skipped, got %d (%s)", path, r.st,
                          r.body ? r.body : r.reason);
        } else if (json_object_object_get_ex(expect, "invalid", NULL)) {
                ok = r.st == WK_XF_INVALID;
                cr_expect(ok, "%s: expected invalid, got %d (%s)", path, r.st,
                          r.body ? r.body : r.reason);
        } else if (r.st != WK_XF_OK) {
                cr_expect(0, "%s: expected a payload, got %d: %s", path, r.st,
                          r.reason);
        } else if (!json_equal(r.json, expect)) {
                cr_expect(0, "%s: payload differs:\n got  %s\n want %s", path,
                          r.body,
                          json_object_to_json_string_ext(
                                  expect, JSON_C_TO_STRING_PLAIN));
        } else if (!same_key_order(r.json, expect, "$", where, sizeof(where))) {
                cr_expect(0, "%s: key order: %s\n got %s", path, where, r.body);
        } else {
                ok = 1;
        }
        result_free(&r);
        free(up);
        free(cp);
        json_object_put(vec);
        return ok;
}

Test(transform_vectors, every_shared_vector)
{
        glob_t g;
        wk_mapping_t *m = wk_mapping_new();
        size_t pass = 0;

        cr_assert_eq(glob(HB_SOURCE_DIR "/tests/vectors/*.json", 0, NULL, &g),
                     0, "vectors found");
        cr_assert_geq(g.gl_pathc, 25);
        for (size_t i = 0; i < g.gl_pathc; i++)
                pass += (size_t)run_vector(g.gl_pathv[i], m);
        cr_assert_eq(pass, g.gl_pathc, "%zu of %zu vectors pass", pass,
                     g.gl_pathc);
        globfree(&g);
        wk_mapping_destroy(m);
}

/*
 * Numbers keep every digit and their form
 */

Test(transform_numbers, ids_keep_all_64_bits)
{
        static const char *const ids[] = {
                "9007199254740993",
                "18446744073709551615",
                "9223372036854775807",
                "9223372036854775808",
                "-9223372036854775808",
                "0",
                "-1",
        };
        result_t r;
        char patch[128];

        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
                char want[64];
                snprintf(patch, sizeof(patch),
                         "{\"properties\":{\"flow_id\":%s}}", ids[i]);
                run_patch(&r, patch);
                assert_ok(&r);
                snprintf(want, sizeof(want), "\"id\":%s,", ids[i]);
                assert_body_has(&r, want);
                cr_assert(json_object_is_type(jget(r.json, "data.id"),
                                              json_type_int));
                result_free(&r);
        }
}

Test(transform_numbers, wider_than_64_bits_and_minus_zero_kept_verbatim)
{
        /* json-c alone would clamp these to the nearest 64-bit limit */
        static const char *const nums[] = {
                "18446744073709551616", "-9223372036854775809",
                "123456789012345678901234567890", "-0",
                "99999999999999999999999999999999999999999999"};
        result_t r;

        for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
                char raw[1024], want[128];
                snprintf(raw, sizeof(raw),
                         "{\"type\":\"track\",\"event\":\"Flow Completed\","
                         "\"userId\":%s,\"context\":{\"app_token\":\"t\","
                         "\"traits\":{\"big\":[%s,{\"x\":%s}]}},"
                         "\"properties\":{\"flow_id\":%s}}",
                         nums[i], nums[i], nums[i], nums[i]);
                wk_mapping_t *m = wk_mapping_new();
                wk_msgmeta_t meta = default_meta();
                const char *up[] = {"big"};
                run_full(&r, m, raw, strlen(raw), &meta, up, 1, NULL, 0);
                wk_mapping_destroy(m);
                assert_ok(&r);
                snprintf(want, sizeof(want), "\"id\":%s,", nums[i]);
                assert_body_has(&r, want);
                snprintf(want, sizeof(want), "\"user_id\":\"%s\"", nums[i]);
                assert_body_has(&r, want);
                snprintf(want, sizeof(want), "\"big\":[%s,{\"x\":%s}]", nums[i],
                         nums[i]);
                assert_body_has(&r, want);
                result_free(&r);
        }
}

Test(transform_numbers, doubles_keep_their_text)
{
        static const char *const nums[] = {
                "1.50",  "1.0",  "2.5E-3",
                "1e400", "-0.0", "3.14159265358979323846264338327950288"};
        result_t r;

        for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
                char raw[1024], want[128];
                snprintf(raw, sizeof(raw),
                         "{\"type\":\"track\",\"event\":\"NPS Score "
                         "Submitted\",\"userId\":\"u\",\"context\":{"
                         "\"app_token\":\"t\",\"traits\":{\"f\":%s}},"
                         "\"properties\":{\"score\":%s}}",
                         nums[i], nums[i]);
                wk_mapping_t *m = wk_mapping_new();
                wk_msgmeta_t meta = default_meta();
                const char *up[] = {"f"};
                run_full(&r, m, raw, strlen(raw), &meta, up, 1, NULL, 0);
                wk_mapping_destroy(m);
                assert_ok(&r);
                snprintf(want, sizeof(want), "\"score\":%s,", nums[i]);
                assert_body_has(&r, want);
                snprintf(want, sizeof(want), "\"f\":%s}", nums[i]);
                assert_body_has(&r, want);
                result_free(&r);
        }
}

Test(transform_numbers, non_json_numbers_are_invalid)
{
        static const char *const bad[] = {"NaN",  "Infinity", "-Infinity", "01",
                                          "1.",   ".5",       "+1",        "1e",
                                          "0x10", "1.5.2",    "- 1"};
        result_t r;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char raw[256];
                snprintf(raw, sizeof(raw),
                         "{\"type\":\"track\",\"event\":\"Flow Completed\","
                         "\"userId\":\"1\",\"properties\":{\"flow_id\":%s}}",
                         bad[i]);
                run_str(&r, raw);
                cr_assert_eq(r.st, WK_XF_INVALID, "%s is not JSON", bad[i]);
                cr_assert(strstr(r.reason, "not JSON"), "%s: %s", bad[i],
                          r.reason);
                result_free(&r);
        }
}

/*
 * Strings: no escaped '/', UTF-8 as UTF-8, escapes decoded
 */

Test(transform_strings, slashes_unescaped_and_utf8_raw)
{
        result_t r;
        const char *raw =
                "{\"type\":\"track\",\"event\":\"Flow Completed\","
                "\"userId\":\"a\\/b\",\"context\":{\"app_token\":\"t\","
                "\"traits\":{\"name\":\"J\\u00f6rg \xf0\x9f\x98\x80 "
                "\\ud83d\\ude00\",\"email\":\"x/y@z\",\"q\":\"say \\\"hi\\\""
                "\\n\\t\\u0001\"},\"page\":{\"url\":\"https://h.io/a/b\"}},"
                "\"properties\":{\"flow_id\":\"f/1\"}}";
        const char *up[] = {"q"};
        wk_mapping_t *m = wk_mapping_new();
        wk_msgmeta_t meta = default_meta();

        run_full(&r, m, raw, strlen(raw), &meta, up, 1, NULL, 0);
        wk_mapping_destroy(m);
        assert_ok(&r);
        cr_assert_null(strstr(r.body, "\\/"), "no escaped slash: %s", r.body);
        assert_body_has(&r, "\"user_id\":\"a/b\"");
        assert_body_has(&r, "\"id\":\"f/1\"");
        assert_body_has(&r, "\"pathname\":\"/a/b\"");
        assert_body_has(&r, "\"name\":\"J\xc3\xb6rg \xf0\x9f\x98\x80 "
                            "\xf0\x9f\x98\x80\"");
        assert_body_has(&r, "\"q\":\"say \\\"hi\\\"\\n\\t\\u0001\"");
        result_free(&r);
}

Test(transform_strings, invalid_utf8_is_invalid)
{
        static const char *const bad[] = {
                "\xff",
                "\xc0\xaf", /* overlong '/' */
                "\xed\xa0\x80",
                /* surrogate */ "\xf4\x90\x80\x80", /* > U+10FFFF */
                "\xe2\x82",
                /* truncated */ "\x80",
        };
        result_t r;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char *raw;
                char patch[64];
                snprintf(patch, sizeof(patch),
                         "{\"context\":{\"traits\":{\"name\":\"@@\"}}}");
                raw = event_with(patch);
                char *at = strstr(raw, "@@");
                char buf[1024];
                snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - raw), raw,
                         bad[i], at + 2);
                run_str(&r, buf);
                assert_invalid(&r, "UTF-8");
                result_free(&r);
                free(raw);
        }
}

Test(transform_strings, control_characters_and_bad_escapes_are_invalid)
{
        result_t r;

        run_str(&r, "{\"type\":\"track\",\"event\":\"Flow\tCompleted\"}");
        assert_invalid(&r, "control character");
        run_str(&r, "{\"type\":\"track\",\"event\":\"\\x41\"}");
        assert_invalid(&r, "escape");
        run_str(&r, "{\"type\":\"track\",\"event\":\"\\u12\"}");
        assert_invalid(&r, "escape");
        run_str(&r, "{'type':'track'}");
        assert_invalid(&r, "not JSON");
}

/* A lone UTF-16 surrogate escape has no character: json-c would make it
 * U+FFFD, so "a\ud800" and "a\udbff" would be the same webhook-id.
 * Refused wherever it stands; a pair is one character. */
Test(transform_strings, lone_surrogate_escapes_are_invalid)
{
        static const char *const lone[] = {
                "a\\ud800",        /* high, at the end */
                "\\ud800b",        /* high, then a character */
                "a\\udbff\\u0041", /* high, then an escape not low */
                "a\\ud800\\ud800", /* two highs */
                "a\\udc00",        /* low alone */
                "\\uDFFFa",        /* low alone, upper case */
                "a\\ude00\\ud83d", /* a pair the wrong way round */
                "a\\ud800\\n",     /* high, then another escape */
        };
        static const struct {
                const char *esc, *utf8;
        } pairs[] = {
                {"\\ud83d\\ude00", "\xf0\x9f\x98\x80"},
                {"\\uD800\\uDC00", "\xf0\x90\x80\x80"},
                {"\\udbff\\udfff", "\xf4\x8f\xbf\xbf"},
                {"\\ud7ff", "\xed\x9f\xbf"},
                {"\\ue000", "\xee\x80\x80"},
        };
        char raw[512];
        result_t r;

        for (size_t i = 0; i < sizeof(lone) / sizeof(*lone); i++) {
                /* in the messageId, in another value, in a key */
                snprintf(raw, sizeof(raw),
                         "{\"type\":\"track\",\"event\":\"Flow Completed\","
                         "\"messageId\":\"%s\",\"userId\":\"1\","
                         "\"context\":{\"app_token\":\"t\"},"
                         "\"properties\":{\"flow_id\":1}}",
                         lone[i]);
                run_str(&r, raw);
                assert_invalid(&r, "lone UTF-16 surrogate");
                snprintf(raw, sizeof(raw),
                         "{\"type\":\"track\",\"event\":\"Flow Completed\","
                         "\"userId\":\"1\",\"context\":{\"app_token\":\"t\","
                         "\"traits\":{\"name\":\"%s\"}},"
                         "\"properties\":{\"flow_id\":1}}",
                         lone[i]);
                run_str(&r, raw);
                assert_invalid(&r, "lone UTF-16 surrogate");
                snprintf(raw, sizeof(raw),
                         "{\"type\":\"track\",\"event\":\"Flow Completed\","
                         "\"userId\":\"1\",\"context\":{\"app_token\":\"t\"},"
                         "\"properties\":{\"flow_id\":1,\"%s\":2}}",
                         lone[i]);
                run_str(&r, raw);
                assert_invalid(&r, "lone UTF-16 surrogate");
        }
        for (size_t i = 0; i < sizeof(pairs) / sizeof(*pairs); i++) {
                char want[64];
                snprintf(raw, sizeof(raw),
                         "{\"type\":\"track\",\"event\":\"Flow Completed\","
                         "\"messageId\":\"m%s\",\"userId\":\"1\","
                         "\"context\":{\"app_token\":\"t\"},"
                         "\"properties\":{\"flow_id\":1}}",
                         pairs[i].esc);
                run_str(&r, raw);
                assert_ok(&r);
                snprintf(want, sizeof(want), "m%s", pairs[i].utf8);
                cr_expect_str_eq(r.id, want, "%s", pairs[i].esc);
                result_free(&r);
        }
}

/* A reason quotes a raw name: a C1 control in it (CSI, NEL) is replaced
 * like a C0 one, so a log line or terminal never receives it. */
Test(transform_strings, reasons_never_carry_c1_controls)
{
        static const char *const names[] = {"Flow\\u009b2JCompleted",
                                            "Flow\xc2\x9b"
                                            "2J",
                                            "Flow\\u0085Completed", "\\u0080",
                                            "a\\u001b[2Jb"};
        char raw[512];
        result_t r;

        for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
                snprintf(raw, sizeof(raw),
                         "{\"type\":\"track\",\"event\":\"%s\","
                         "\"userId\":\"1\",\"context\":{\"app_token\":\"t\"}}",
                         names[i]);
                run_str(&r, raw);
                cr_expect_eq(r.st, WK_XF_SKIPPED, "%s: %d %s", names[i], r.st,
                             r.reason);
                cr_expect(strstr(r.reason, "unmapped event '"), "%s", r.reason);
                cr_expect(strchr(r.reason, '?'), "%s", r.reason);
                for (const unsigned char *p = (const unsigned char *)r.reason;
                     *p; p++)
                        cr_expect(*p >= 0x20 && *p != 0x7f &&
                                          !(p[0] == 0xc2 && p[1] >= 0x80 &&
                                            p[1] <= 0x9f),
                                  "%s: control byte 0x%02x in '%s'", names[i],
                                  *p, r.reason);
                result_free(&r);
                snprintf(raw, sizeof(raw), "{\"type\":\"%s\",\"event\":\"x\"}",
                         names[i]);
                run_str(&r, raw);
                cr_expect_eq(r.st, WK_XF_SKIPPED);
                cr_expect(strstr(r.reason, "' is not a track call") &&
                                  !strstr(r.reason, "\xc2\x9b") &&
                                  !strstr(r.reason, "\xc2\x85") &&
                                  !strstr(r.reason, "\xc2\x80"),
                          "%s", r.reason);
                result_free(&r);
        }
}

/*
 * Not JSON, not an object, too deep, trailing data
 */

Test(transform_json, deep_nesting_is_invalid_not_a_crash)
{
        size_t depth = 10000;
        char *raw = malloc(depth * 2 + 64);
        size_t n = 0;
        result_t r;

        n += (size_t)snprintf(raw, 64, "{\"type\":\"track\",\"x\":");
        memset(raw + n, '[', depth);
        n += depth;
        run_raw(&r, raw, n);
        assert_invalid(&r, "nesting too deep");
        memset(raw + n, ']', depth);
        n += depth;
        raw[n++] = '}';
        run_raw(&r, raw, n);
        assert_invalid(&r, "nesting too deep");
        /* An array at the top: not an object, however deep. */
        memset(raw, '[', depth);
        run_raw(&r, raw, depth);
        cr_assert_eq(r.st, WK_XF_INVALID);
        free(raw);
}

/* An event whose traits.deep holds \p arrays nested arrays around an
 * object: root, context, traits, the arrays and that object are
 * arrays + 4 levels. */
static size_t deep_event(char *raw, size_t size, int arrays)
{
        size_t n = (size_t)snprintf(
                raw, size,
                "{\"type\":\"track\",\"event\":\"Flow Completed\","
                "\"userId\":\"1\",\"properties\":{\"flow_id\":1},"
                "\"context\":{\"app_token\":\"t\",\"traits\":{\"deep\":");

        for (int i = 0; i < arrays; i++)
                raw[n++] = '[';
        n += (size_t)snprintf(raw + n, size - n, "{\"k\":1}");
        for (int i = 0; i < arrays; i++)
                raw[n++] = ']';
        n += (size_t)snprintf(raw + n, size - n, "}}}");
        return n;
}

Test(transform_json, nesting_up_to_64_levels_is_fine)
{
        char raw[1024];
        size_t n;
        result_t r;
        const char *up[] = {"deep"};
        wk_mapping_t *m = wk_mapping_new();
        wk_msgmeta_t meta = default_meta();

        n = deep_event(raw, sizeof(raw), 60);
        run_full(&r, m, raw, n, &meta, up, 1, NULL, 0);
        assert_ok(&r);
        assert_body_has(&r, "[[[[{\"k\":1}]]]]");
        result_free(&r);
        /* one more level is refused */
        n = deep_event(raw, sizeof(raw), 61);
        run_full(&r, m, raw, n, &meta, up, 1, NULL, 0);
        assert_invalid(&r, "nesting too deep");
        wk_mapping_destroy(m);
}

Test(transform_json, trailing_data_and_nul_bytes_are_invalid)
{
        static const char ok_obj[] =
                "{\"type\":\"track\",\"event\":\"Flow Completed\","
                "\"userId\":\"1\",\"context\":{\"app_token\":\"t\"},"
                "\"properties\":{\"flow_id\":1}}";
        char buf[512];
        size_t n = sizeof(ok_obj) - 1;
        result_t r;

        /* trailing whitespace is fine */
        snprintf(buf, sizeof(buf), "%s \r\n\t ", ok_obj);
        run_str(&r, buf);
        assert_ok(&r);
        result_free(&r);
        /* a second object, garbage, a NUL terminator counted in len */
        snprintf(buf, sizeof(buf), "%s{}", ok_obj);
        run_str(&r, buf);
        assert_invalid(&r, "not JSON");
        snprintf(buf, sizeof(buf), "%s x", ok_obj);
        run_str(&r, buf);
        assert_invalid(&r, "not JSON");
        run_raw(&r, ok_obj, n + 1);
        assert_invalid(&r, "0x00");
        /* a NUL inside a string */
        memcpy(buf, ok_obj, n);
        buf[strstr(ok_obj, "Flow") - ok_obj + 2] = '\0';
        run_raw(&r, buf, n);
        assert_invalid(&r, "control character");
        /* empty, blank, truncated, scalars, arrays */
        run_raw(&r, "", 0);
        assert_invalid(&r, "empty");
        run_str(&r, "  \n");
        assert_invalid(&r, "empty");
        run_str(&r, "{\"type\":\"track\"");
        assert_invalid(&r, "not JSON");
        run_str(&r, "\"track\"");
        assert_invalid(&r, "not a JSON object");
        run_str(&r, "42");
        assert_invalid(&r, "not a JSON object");
        run_str(&r, "null");
        assert_invalid(&r, "not a JSON object");
        run_str(&r, "{\"a\":1,}");
        assert_invalid(&r, "not JSON");
        run_str(&r, "{\"a\" 1}");
        assert_invalid(&r, "not JSON");
        run_str(&r, "/* c */{}");
        assert_invalid(&r, "not JSON");
}

Test(transform_json, one_mebibyte_value)
{
        size_t big = 1 << 20;
        char *raw = malloc(big + 512);
        size_t n;
        result_t r;
        const char *up[] = {"blob"};
        wk_mapping_t *m = wk_mapping_new();
        wk_msgmeta_t meta = default_meta();

        n = (size_t)snprintf(raw, 512,
                             "{\"type\":\"track\",\"event\":\"Flow "
                             "Completed\",\"userId\":\"1\",\"properties\":"
                             "{\"flow_id\":1},\"context\":{\"app_token\":"
                             "\"t\",\"traits\":{\"blob\":\"");
        for (size_t i = 0; i < big; i++)
                raw[n++] = (char)('a' + i % 26);
        n += (size_t)snprintf(raw + n, 512, "\"}}}");
        run_full(&r, m, raw, n, &meta, up, 1, NULL, 0);
        assert_ok(&r);
        cr_assert_eq(json_object_get_string_len(jget(r.json, "data.user.blob")),
                     (int)big);
        cr_assert_gt(r.len, big);
        result_free(&r);
        wk_mapping_destroy(m);
        free(raw);
}

/*
 * Timestamps
 */

static int64_t ts_of(const char *json_value)
{
        result_t r;
        char patch[256];
        int64_t ts;

        snprintf(patch, sizeof(patch), "{\"timestamp\":%s}", json_value);
        run_patch(&r, patch);
        assert_ok(&r);
        ts = r.ts;
        result_free(&r);
        return ts;
}

Test(transform_time, iso_offsets_and_fractions)
{
        cr_assert_eq(ts_of("\"2023-03-23T13:37:05Z\""), BASE_TS);
        cr_assert_eq(ts_of("\"2023-03-23T13:37:05.999999999Z\""), BASE_TS);
        cr_assert_eq(ts_of("\"2023-03-23T15:37:05+02:00\""), BASE_TS);
        cr_assert_eq(ts_of("\"2023-03-23T15:37:05.5+0200\""), BASE_TS);
        cr_assert_eq(ts_of("\"2023-03-23T08:07:05-05:30\""), BASE_TS);
        cr_assert_eq(ts_of("\"2023-03-23T08:07:05.75-05:30\""), BASE_TS);
        cr_assert_eq(ts_of("\"2023-03-23t13:37:05z\""), BASE_TS);
        cr_assert_eq(ts_of("\"2023-03-23 13:37:05Z\""), BASE_TS);
        cr_assert_eq(ts_of("\"2023-03-23T13:37:05,5+00\""), BASE_TS);
        cr_assert_eq(ts_of("\"2023-03-24T00:07:05+10:30\""), BASE_TS);
        cr_assert_eq(ts_of("\"2023-03-23T18:37:05+05\""), BASE_TS);
        cr_assert_eq(ts_of("\"2023-03-23T19:07:05+0530\""), BASE_TS);
        cr_assert_eq(ts_of("\"2023-03-23T13:37:05-00:00\""), BASE_TS);
        cr_assert_eq(ts_of("\"2023-03-23T13:37Z\""), BASE_TS - 5);
        cr_assert_eq(ts_of("\"2023-03-23\""), BASE_TS - 49025);
        cr_assert_eq(ts_of("\"2024-02-29T00:00:00Z\""), 1709164800);
        cr_assert_eq(ts_of("\"1970-01-01T00:00:00Z\""), 0);
        /* before the epoch: floor, not truncation toward zero */
        cr_assert_eq(ts_of("\"1969-12-31T23:59:59.5Z\""), -1);
        cr_assert_eq(ts_of("\"1900-01-01T00:00:00Z\""), -2208988800LL);
        /* a leap second is the next minute's first second */
        cr_assert_eq(ts_of("\"2016-12-31T23:59:60Z\""), 1483228800);
        cr_assert_eq(ts_of("\"2017-01-01T05:29:60.5+05:30\""), 1483228800);
}

Test(transform_time, epoch_milliseconds)
{
        cr_assert_eq(ts_of("1679578625999"), BASE_TS);
        cr_assert_eq(ts_of("1679578625000"), BASE_TS);
        cr_assert_eq(ts_of("1679578625999.9"), BASE_TS);
        cr_assert_eq(ts_of("\"1679578625999\""), BASE_TS);
        cr_assert_eq(ts_of("0"), 0);
        cr_assert_eq(ts_of("-1"), -1);
        cr_assert_eq(ts_of("-1000"), -1);
        cr_assert_eq(ts_of("-1001"), -2);
}

Test(transform_time, missing_or_unparseable_falls_back_to_kafka_time)
{
        static const char *const bad[] = {
                "null",
                "\"yesterday\"",
                "\"2023-02-30T00:00:00Z\"",
                "\"2023-03-23T25:00:00Z\"",
                "\"2023-03-23T13:37:05+24:00\"",
                "\"2023-03-23T13:37:05Zjunk\"",
                "\"2023-03-23T13:37:05.Z\"",
                "\"2023-03-23T13:37:05+05:\"",
                "\"2023-03-23T13:37:05+5\"",
                "\"2023-03-23T13:37:05+05:3\"",
                /* no zone: the writer's local time, unknown here */
                "\"2023-03-23T13:37:05\"",
                "\"2023-03-23 13:37:05\"",
                "\"2023-03-23T13:37\"",
                "\"2023-03-23T13:37:61Z\"",
                "\"23-03-23T13:37:05Z\"",
                "\"2023-3-23T13:37:05Z\"",
                "true",
                "{}",
                "1e300",
                "123456789012345678901234567890",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                cr_assert_eq(ts_of(bad[i]), 1700000000, "%s", bad[i]);

        /* no Kafka timestamp either: now */
        result_t r;
        char *raw = event_with("{\"timestamp\":null}");
        wk_mapping_t *m = wk_mapping_new();
        wk_msgmeta_t meta = default_meta();
        int64_t before = (int64_t)time(NULL);
        meta.timestamp_ms = -1;
        run_full(&r, m, raw, strlen(raw), &meta, NULL, 0, NULL, 0);
        assert_ok(&r);
        cr_assert(r.ts >= before && r.ts <= (int64_t)time(NULL) + 1);
        result_free(&r);
        /* a Kafka timestamp is floored too */
        meta.timestamp_ms = 1679578625999;
        run_full(&r, m, raw, strlen(raw), &meta, NULL, 0, NULL, 0);
        cr_assert_eq(r.ts, BASE_TS);
        result_free(&r);
        wk_mapping_destroy(m);
        free(raw);
}

/*
 * Ids, users, app tokens
 */

Test(transform_fields, message_id_fallback_and_checks)
{
        result_t r;
        char patch[1024];

        run_patch(&r, "{}");
        cr_assert_str_eq(r.id, "m-1");
        result_free(&r);
        run_patch(&r, "{\"messageId\":null}");
        cr_assert_str_eq(r.id, "events-3-42");
        result_free(&r);
        run_patch(&r, "{\"messageId\":\"\"}");
        cr_assert_str_eq(r.id, "events-3-42");
        result_free(&r);
        run_patch(&r, "{\"messageId\":12345678901234567890}");
        cr_assert_str_eq(r.id, "12345678901234567890");
        result_free(&r);
        /* the id is a header value: no CR/LF smuggling, bounded */
        run_patch(&r, "{\"messageId\":\"a\\r\\nX-Evil: 1\"}");
        assert_invalid(&r, "messageId");
        run_patch(&r, "{\"messageId\":{\"a\":1}}");
        assert_invalid(&r, "messageId");
        /* blanks at an end: a receiver strips them from the header, so
         * the id it checks the signature with would not be the signed
         * one; a tab inside is a header value's */
        run_patch(&r, "{\"messageId\":\" m-1\"}");
        assert_invalid(&r, "messageId is not a header value");
        run_patch(&r, "{\"messageId\":\"m-1\\t\"}");
        assert_invalid(&r, "messageId is not a header value");
        run_patch(&r, "{\"messageId\":\"m\\u007f1\"}");
        assert_invalid(&r, "messageId is not a header value");
        /* C1 controls like C0: CSI (escaped or raw UTF-8), NEL, U+0080 */
        run_patch(&r, "{\"messageId\":\"m\\u009b2J\"}");
        assert_invalid(&r, "messageId is not a header value");
        run_patch(&r, "{\"messageId\":\"m\xc2\x9b"
                      "2J\"}");
        assert_invalid(&r, "messageId is not a header value");
        run_patch(&r, "{\"messageId\":\"m\\u00851\"}");
        assert_invalid(&r, "messageId is not a header value");
        run_patch(&r, "{\"messageId\":\"\\u0080\"}");
        assert_invalid(&r, "messageId is not a header value");
        run_patch(&r, "{\"messageId\":\"m\\u009f\"}");
        assert_invalid(&r, "messageId is not a header value");
        /* U+00A0 and beyond are text */
        run_patch(&r, "{\"messageId\":\"m\\u00a0\\u00e91\"}");
        cr_assert_str_eq(r.id, "m\xc2\xa0\xc3\xa9"
                               "1");
        result_free(&r);
        run_patch(&r, "{\"messageId\":\"m\\t1 2\"}");
        cr_assert_str_eq(r.id, "m\t1 2");
        result_free(&r);
        snprintf(patch, sizeof(patch), "{\"messageId\":\"%0600d\"}", 7);
        run_patch(&r, patch);
        assert_invalid(&r, "messageId");

        /* no topic in the metadata */
        char *raw = event_with("{\"messageId\":null}");
        wk_mapping_t *m = wk_mapping_new();
        wk_msgmeta_t meta = default_meta();
        meta.topic = NULL;
        run_full(&r, m, raw, strlen(raw), &meta, NULL, 0, NULL, 0);
        cr_assert_str_eq(r.id, "-3-42");
        result_free(&r);
        wk_mapping_destroy(m);
        free(raw);
}

Test(transform_fields, user_id_forms)
{
        result_t r;

        run_patch(&r, "{\"userId\":1234}");
        cr_assert_str_eq(jstr(&r, "data.user.user_id"), "1234");
        result_free(&r);
        run_patch(&r, "{\"userId\":18446744073709551615}");
        cr_assert_str_eq(jstr(&r, "data.user.user_id"), "18446744073709551615");
        result_free(&r);
        run_patch(&r, "{\"userId\":-9223372036854775808}");
        cr_assert_str_eq(jstr(&r, "data.user.user_id"), "-9223372036854775808");
        result_free(&r);
        run_patch(&r, "{\"userId\":9007199254740993}");
        cr_assert_str_eq(jstr(&r, "data.user.user_id"), "9007199254740993");
        result_free(&r);
        run_patch(&r, "{\"userId\":\"u-\\u00e9\"}");
        cr_assert_str_eq(jstr(&r, "data.user.user_id"), "u-\xc3\xa9");
        result_free(&r);

        run_patch(&r, "{\"userId\":{\"id\":1}}");
        assert_invalid(&r, "userId must be a string or number");
        run_patch(&r, "{\"userId\":true}");
        assert_invalid(&r, "userId must be a string or number");
        run_patch(&r, "{\"userId\":[1]}");
        assert_invalid(&r, "userId must be a string or number");
        run_patch(&r, "{\"userId\":null}");
        assert_invalid(&r, "missing userId");
        run_patch(&r, "{\"userId\":\"\"}");
        assert_invalid(&r, "userId");
}

Test(transform_fields, app_token_sources)
{
        result_t r;
        char *raw = event_with("{\"context\":{\"app_token\":null}}");
        wk_mapping_t *m = wk_mapping_new();
        wk_msgmeta_t meta = default_meta();

        /* the event's own token wins over the topic's */
        run_patch(&r, "{}");
        cr_assert_str_eq(jstr(&r, "app_token"), "NX-1");
        result_free(&r);
        meta.topic_app_token = "NX-topic";
        run_full(&r, m, raw, strlen(raw), &meta, NULL, 0, NULL, 0);
        assert_ok(&r);
        cr_assert_str_eq(jstr(&r, "app_token"), "NX-topic");
        result_free(&r);
        /* neither */
        meta.topic_app_token = NULL;
        run_full(&r, m, raw, strlen(raw), &meta, NULL, 0, NULL, 0);
        assert_invalid(&r, "no app_token");
        meta.topic_app_token = "";
        run_full(&r, m, raw, strlen(raw), &meta, NULL, 0, NULL, 0);
        assert_invalid(&r, "no app_token");
        run_patch(&r, "{\"context\":{\"app_token\":42}}");
        assert_invalid(&r, "context.app_token must be a string");
        wk_mapping_destroy(m);
        free(raw);
}

Test(transform_fields, envelope_shapes)
{
        result_t r;

        run_patch(&r, "{\"type\":\"identify\"}");
        cr_assert_eq(r.st, WK_XF_SKIPPED);
        cr_assert_str_eq(r.reason, "type 'identify' is not a track call");
        run_patch(&r, "{\"event\":\"Invoice Paid\"}");
        cr_assert_eq(r.st, WK_XF_SKIPPED);
        cr_assert_str_eq(r.reason, "unmapped event 'Invoice Paid'");
        /* a reason quotes raw text safely */
        run_patch(&r, "{\"event\":\"a\\\"b\\\\c\\nd\"}");
        cr_assert_eq(r.st, WK_XF_SKIPPED);
        cr_assert_str_eq(r.reason, "unmapped event 'a?b?c?d'");
        run_patch(&r, "{\"type\":null}");
        assert_invalid(&r, "missing type");
        run_patch(&r, "{\"type\":1}");
        assert_invalid(&r, "type must be a string");
        run_patch(&r, "{\"event\":null}");
        assert_invalid(&r, "missing event");
        run_patch(&r, "{\"event\":[]}");
        assert_invalid(&r, "event must be");
        run_patch(&r, "{\"context\":[]}");
        assert_invalid(&r, "context must be an object");
        run_patch(&r, "{\"properties\":\"x\"}");
        assert_invalid(&r, "properties must be an object");
        run_patch(&r, "{\"context\":{\"traits\":1}}");
        assert_invalid(&r, "context.traits");
        run_patch(&r, "{\"context\":{\"group\":\"x\"}}");
        assert_invalid(&r, "context.group");
        run_patch(&r, "{\"context\":{\"groupId\":{}}}");
        assert_invalid(&r, "context.groupId");
        run_patch(&r, "{\"properties\":{\"flow_id\":null}}");
        assert_invalid(&r, "missing properties.flow_id for Flow Completed");
        run_patch(&r, "{\"properties\":{\"flow_id\":[1]}}");
        assert_invalid(&r, "properties.flow_id must be a string or number");
        /* nulls are absent; skipping is decided before what is missing */
        run_patch(&r, "{\"type\":\"page\",\"userId\":null}");
        cr_assert_eq(r.st, WK_XF_SKIPPED);
}

/*
 * Pages, users, companies
 */

static void url_case(const char *url, const char *host, const char *path)
{
        result_t r;
        char patch[512];

        snprintf(patch, sizeof(patch),
                 "{\"context\":{\"page\":{\"url\":\"%s\",\"path\":"
                 "\"/from-path?x\"}}}",
                 url);
        run_patch(&r, patch);
        assert_ok(&r);
        cr_assert_str_eq(jstr(&r, "data.hostname"), host, "%s", url);
        cr_assert_str_eq(jstr(&r, "data.pathname"), path, "%s", url);
        result_free(&r);
}

Test(transform_page, urls)
{
        url_case("https://Demo.Userpilot.IO:8443/settings/billing?tab=2#plans",
                 "demo.userpilot.io", "/settings/billing");
        url_case("https://app.example.com", "app.example.com", "/");
        url_case("https://app.example.com?x=1", "app.example.com", "/");
        url_case("https://app.example.com#top", "app.example.com", "/");
        url_case("https://u:p@Host.COM:80/a", "host.com", "/a");
        url_case("http://[::1]:8080/x/y", "[::1]", "/x/y");
        url_case("http://[2001:DB8::1]/", "[2001:db8::1]", "/");
        url_case("//cdn.example.com/a.js", "cdn.example.com", "/a.js");
        url_case("/relative/only?q", "", "/relative/only");
        url_case("HTTPS://X.Y/%7Euser/a%20b", "x.y", "/%7Euser/a%20b");
        /* not a URL: page.path instead */
        url_case("not a url", "", "/from-path");
        url_case("", "", "/from-path");
}

Test(transform_page, path_fallbacks)
{
        result_t r;

        run_patch(&r, "{\"context\":{\"page\":{\"url\":null,\"path\":"
                      "\"/onboarding\"}}}");
        cr_assert_str_eq(jstr(&r, "data.hostname"), "");
        cr_assert_str_eq(jstr(&r, "data.pathname"), "/onboarding");
        result_free(&r);
        run_patch(&r, "{\"context\":{\"page\":null}}");
        cr_assert_str_eq(jstr(&r, "data.hostname"), "");
        cr_assert_str_eq(jstr(&r, "data.pathname"), "/");
        result_free(&r);
        run_patch(&r, "{\"context\":{\"page\":{\"url\":7}}}");
        cr_assert_str_eq(jstr(&r, "data.pathname"), "/");
        result_free(&r);
}

Test(transform_props, chosen_order_types_and_duplicates)
{
        const char *raw =
                "{\"type\":\"track\",\"event\":\"Flow Completed\","
                "\"userId\":\"1\",\"properties\":{\"flow_id\":1},"
                "\"context\":{\"app_token\":\"t\",\"traits\":{\"name\":"
                "\"N\",\"email\":\"E\",\"a\":1,\"b\":\"two\",\"c\":null,"
                "\"d\":{\"z\":1,\"y\":[true,false,null]},\"e\":1.50},"
                "\"groupId\":7,\"group\":{\"name\":\"G\",\"id\":\"not "
                "me\",\"size\":3,\"plan\":\"x\"}}}";
        /* chosen out of stored order; repeats, fixed names, missing and
         * null ones do not appear */
        const char *up[] = {"e", "d", "name",    "a", "missing",
                            "c", "a", "user_id", "b"};
        const char *cp[] = {"plan", "id", "name", "size"};
        wk_mapping_t *m = wk_mapping_new();
        wk_msgmeta_t meta = default_meta();
        result_t r;

        run_full(&r, m, raw, strlen(raw), &meta, up, 9, cp, 4);
        assert_ok(&r);
        assert_body_has(&r, "\"user\":{\"user_id\":\"1\",\"name\":\"N\","
                            "\"email\":\"E\",\"e\":1.50,\"d\":{\"z\":1,"
                            "\"y\":[true,false,null]},\"a\":1,\"b\":\"two\"}");
        assert_body_has(&r, "\"company\":{\"id\":\"7\",\"name\":\"G\","
                            "\"plan\":\"x\",\"size\":3}}");
        result_free(&r);

        /* no properties chosen */
        run_full(&r, m, raw, strlen(raw), &meta, NULL, 0, NULL, 0);
        assert_body_has(&r, "\"user\":{\"user_id\":\"1\",\"name\":\"N\","
                            "\"email\":\"E\"}");
        result_free(&r);
        wk_mapping_destroy(m);
}

Test(transform_props, company_shapes)
{
        result_t r;
        const char *cp[] = {"industry"};
        wk_mapping_t *m = wk_mapping_new();
        wk_msgmeta_t meta = default_meta();
        char *raw;

        /* a group without groupId */
        raw = event_with("{\"context\":{\"groupId\":null}}");
        run_full(&r, m, raw, strlen(raw), &meta, NULL, 0, cp, 1);
        assert_body_has(&r, "\"company\":{\"name\":\"Userpilot\","
                            "\"industry\":\"SaaS\"}");
        result_free(&r);
        free(raw);
        /* ... and without its name: the first chosen opens the object */
        raw = event_with("{\"context\":{\"groupId\":null,\"group\":{"
                         "\"name\":null}}}");
        run_full(&r, m, raw, strlen(raw), &meta, NULL, 0, cp, 1);
        assert_body_has(&r, "\"company\":{\"industry\":\"SaaS\"}");
        result_free(&r);
        free(raw);
        /* a groupId without group */
        raw = event_with("{\"context\":{\"group\":null}}");
        run_full(&r, m, raw, strlen(raw), &meta, NULL, 0, cp, 1);
        assert_body_has(&r, "\"company\":{\"id\":\"1\"}");
        result_free(&r);
        free(raw);
        /* neither, or an empty group, or one of nulls: no company */
        raw = event_with("{\"context\":{\"groupId\":null,\"group\":{"
                         "\"name\":null,\"industry\":null}}}");
        run_full(&r, m, raw, strlen(raw), &meta, NULL, 0, cp, 1);
        cr_assert_null(jget(r.json, "data.company"), "%s", r.body);
        result_free(&r);
        free(raw);
        raw = event_with("{\"context\":{\"groupId\":null,\"group\":"
                         "{\"name\":null,\"industry\":null}}}");
        /* merge-patch nulls delete: put explicit nulls back by hand */
        char nulls[2048];
        char *at = strstr(raw, "\"group\":{}");
        cr_assert_not_null(at, "%s", raw);
        snprintf(nulls, sizeof(nulls),
                 "%.*s\"group\":{\"name\":null,"
                 "\"x\":null}%s",
                 (int)(at - raw), raw, at + 10);
        run_full(&r, m, nulls, strlen(nulls), &meta, NULL, 0, cp, 1);
        assert_ok(&r);
        cr_assert_null(jget(r.json, "data.company"), "%s", r.body);
        result_free(&r);
        free(raw);
        /* no traits at all: user has only user_id */
        raw = event_with("{\"context\":{\"traits\":null}}");
        run_full(&r, m, raw, strlen(raw), &meta, cp, 1, NULL, 0);
        assert_body_has(&r, "\"user\":{\"user_id\":\"1\"}");
        result_free(&r);
        free(raw);
        wk_mapping_destroy(m);
}

Test(transform_props, renders_differ_only_in_chosen_properties)
{
        char *raw = event_with("{}");
        wk_mapping_t *m = wk_mapping_new();
        wk_msgmeta_t meta = default_meta();
        wk_event_t *ev = NULL;
        char reason[256];
        const char *up[] = {"plan"};
        size_t l1, l2;

        cr_assert_eq(wk_event_parse(m, raw, strlen(raw), &meta, &ev, reason,
                                    sizeof(reason)),
                     WK_XF_OK);
        char *a = wk_event_render(ev, NULL, 0, NULL, 0, &l1);
        char *b = wk_event_render(ev, up, 1, NULL, 0, &l2);
        char *c = wk_event_render(ev, NULL, 0, NULL, 0, NULL);
        cr_assert_str_eq(a, c, "rendering is repeatable");
        cr_assert_eq(l2, l1 + strlen(",\"plan\":\"pro\""));
        cr_assert(strstr(b, "\"email\":\"john@userpilot.co\",\"plan\":"
                            "\"pro\"}"));
        free(a);
        free(b);
        free(c);
        wk_event_destroy(ev);
        wk_event_destroy(NULL);
        wk_mapping_destroy(m);
        free(raw);
}

/*
 * NPS
 */

Test(transform_nps, fields_omitted_when_absent)
{
        result_t r;

        run_patch(&r, "{\"event\":\"NPS Feedback Submitted\",\"properties\":"
                      "{\"flow_id\":null,\"score\":0,\"feedback\":null}}");
        assert_ok(&r);
        assert_body_has(&r, "\"data\":{\"action\":\"feedback\",\"score\":0,"
                            "\"hostname\"");
        cr_assert_null(jget(r.json, "data.id"));
        cr_assert_null(jget(r.json, "data.type"));
        result_free(&r);
        run_patch(&r, "{\"event\":\"NPS Dismissed\",\"properties\":{"
                      "\"score\":3,\"survey_question\":\"q\"}}");
        assert_body_has(&r, "\"data\":{\"action\":\"dismissed\","
                            "\"hostname\"");
        cr_assert_str_eq(r.type, "nps.dismissed");
        result_free(&r);
        /* no properties at all */
        run_patch(&r, "{\"event\":\"NPS Score Submitted\",\"properties\":"
                      "null}");
        assert_body_has(&r, "\"data\":{\"action\":\"score\",\"hostname\"");
        result_free(&r);
}

/*
 * Mappings
 */

Test(transform_mapping, builtin_types)
{
        wk_mapping_t *m = wk_mapping_new();
        const char *types[32];
        size_t n = wk_mapping_types(m, types, 32);

        cr_assert_eq(n, 15);
        cr_assert_str_eq(types[0], "flows.seen");
        cr_assert_str_eq(types[14], "button_tracked_event.occurred");
        cr_assert_eq(wk_mapping_types(m, types, 2), 15);
        cr_assert_eq(wk_mapping_types(m, NULL, 0), 15);
        cr_assert(wk_mapping_has_type(m, "nps.ask_later"));
        cr_assert_not(wk_mapping_has_type(m, "nps.later"));
        wk_mapping_destroy(m);
        wk_mapping_destroy(NULL);
}

Test(transform_mapping, extra_mappings_override_and_add)
{
        wk_mapping_t *m = wk_mapping_new();
        wk_msgmeta_t meta = default_meta();
        char err[256];
        result_t r;
        char *raw;
        const char *types[32];

        /* an added vocabulary onto a built-in type renders like it */
        cr_assert_eq(wk_mapping_add(m, "Tour Finished", "flows.completed", err,
                                    sizeof(err)),
                     0, "%s", err);
        raw = event_with("{\"event\":\"Tour Finished\"}");
        run_full(&r, m, raw, strlen(raw), &meta, NULL, 0, NULL, 0);
        assert_ok(&r);
        cr_assert_str_eq(r.type, "flows.completed");
        cr_assert_str_eq(jstr(&r, "data.type"), "flow");
        cr_assert_eq(json_object_get_int(jget(r.json, "data.id")), 1);
        result_free(&r);
        free(raw);

        /* a new type: data.type/action split at its '.', id from
         * properties.id */
        cr_assert_eq(wk_mapping_add(m, "Invoice Paid", "invoice.paid", err,
                                    sizeof(err)),
                     0, "%s", err);
        raw = event_with("{\"event\":\"Invoice Paid\",\"properties\":{"
                         "\"id\":\"inv_9\"}}");
        run_full(&r, m, raw, strlen(raw), &meta, NULL, 0, NULL, 0);
        assert_ok(&r);
        cr_assert_str_eq(r.type, "invoice.paid");
        assert_body_has(&r, "\"data\":{\"type\":\"invoice\",\"action\":"
                            "\"paid\",\"id\":\"inv_9\",");
        result_free(&r);
        free(raw);
        raw = event_with("{\"event\":\"Invoice Paid\"}");
        run_full(&r, m, raw, strlen(raw), &meta, NULL, 0, NULL, 0);
        assert_invalid(&r, "missing properties.id for Invoice Paid");
        free(raw);

        /* overriding a built-in row */
        cr_assert_eq(wk_mapping_add(m, "Flow Completed", "flows.finished", err,
                                    sizeof(err)),
                     0);
        cr_assert_eq(wk_mapping_add(m, "Flow Completed", "flow.done", err,
                                    sizeof(err)),
                     0);
        raw = event_with("{\"properties\":{\"id\":5}}");
        run_full(&r, m, raw, strlen(raw), &meta, NULL, 0, NULL, 0);
        assert_ok(&r);
        cr_assert_str_eq(r.type, "flow.done");
        assert_body_has(&r, "\"data\":{\"type\":\"flow\",\"action\":"
                            "\"done\",\"id\":5,");
        result_free(&r);
        free(raw);
        /* an NPS type keeps its NPS shape */
        cr_assert_eq(
                wk_mapping_add(m, "Survey Done", "nps.score", err, sizeof(err)),
                0);
        raw = event_with("{\"event\":\"Survey Done\",\"properties\":{"
                         "\"score\":9}}");
        run_full(&r, m, raw, strlen(raw), &meta, NULL, 0, NULL, 0);
        assert_body_has(&r, "\"data\":{\"action\":\"score\",\"score\":9,");
        result_free(&r);
        free(raw);

        /* types: built-in order (flows.completed now only via the added
         * "Tour Finished"), then the new ones */
        size_t n = wk_mapping_types(m, types, 32);
        cr_assert_eq(n, 17);
        cr_assert_str_eq(types[1], "flow.done");
        cr_assert_str_eq(types[15], "flows.completed");
        cr_assert_str_eq(types[16], "invoice.paid");
        cr_assert(wk_mapping_has_type(m, "flow.done"));
        cr_assert_not(wk_mapping_has_type(m, "flows.finished"));

        /* bad rows */
        cr_assert_eq(wk_mapping_add(m, "X", "nodot", err, sizeof(err)), -1);
        cr_assert(strstr(err, "nodot"), "%s", err);
        cr_assert_eq(wk_mapping_add(m, "X", ".a", err, sizeof(err)), -1);
        cr_assert_eq(wk_mapping_add(m, "X", "a.", err, sizeof(err)), -1);
        cr_assert_eq(wk_mapping_add(m, "X", "a b.c", err, sizeof(err)), -1);
        cr_assert_eq(wk_mapping_add(m, "X", "a.\"c", err, sizeof(err)), -1);
        /* the configuration's rule (hb_type_name_ok): one dot, no '-' */
        cr_assert_eq(wk_mapping_add(m, "X", "billing.invoice.paid", err,
                                    sizeof(err)),
                     -1);
        cr_assert_eq(wk_mapping_add(m, "X", "in-voice.paid", err, sizeof(err)),
                     -1);
        cr_assert_eq(wk_mapping_add(m, "", "a.b", err, sizeof(err)), -1);
        wk_mapping_destroy(m);
}

Test(transform_mapping, events_outlive_their_mapping)
{
        wk_mapping_t *m = wk_mapping_new();
        wk_msgmeta_t meta = default_meta();
        char err[128], reason[128];
        wk_event_t *ev = NULL;
        char *raw = event_with("{\"event\":\"X\",\"properties\":{\"id\":1}}");
        char *body;

        cr_assert_eq(wk_mapping_add(m, "X", "custom.thing", err, sizeof(err)),
                     0);
        meta.topic_app_token = "tok";
        cr_assert_eq(wk_event_parse(m, raw, strlen(raw), &meta, &ev, reason,
                                    sizeof(reason)),
                     WK_XF_OK, "%s", reason);
        wk_mapping_destroy(m);
        cr_assert_str_eq(wk_event_type(ev), "custom.thing");
        body = wk_event_render(ev, NULL, 0, NULL, 0, NULL);
        cr_assert(strstr(body, "\"type\":\"custom\",\"action\":\"thing\""));
        free(body);
        wk_event_destroy(ev);
        free(raw);
}

/*
 * `hookbridge transform`
 */

/* Run the command with \p input on stdin; stdout/stderr captured. */
static int run_cmd(char **argv, const char *input, char *out, size_t out_size,
                   char *errbuf, size_t err_size)
{
        char in_path[] = "/tmp/hb-xf-in-XXXXXX";
        char out_path[] = "/tmp/hb-xf-out-XXXXXX";
        char err_path[] = "/tmp/hb-xf-err-XXXXXX";
        int in = mkstemp(in_path), o = mkstemp(out_path), e = mkstemp(err_path);
        int argc = 0;
        int rc;
        ssize_t n;

        cr_assert(in >= 0 && o >= 0 && e >= 0);
        cr_assert_eq(write(in, input, strlen(input)), (ssize_t)strlen(input));
        lseek(in, 0, SEEK_SET);
        fflush(stdout);
        fflush(stderr);
        int save_in = dup(0), save_out = dup(1), save_err = dup(2);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        clearerr(stdin);
        while (argv[argc])
                argc++;
        rc = wk_cmd_transform(argc, argv);
        fflush(stdout);
        fflush(stderr);
        dup2(save_in, 0);
        dup2(save_out, 1);
        dup2(save_err, 2);
        close(save_in);
        close(save_out);
        close(save_err);
        clearerr(stdin);
        n = pread(o, out, out_size - 1, 0);
        out[n > 0 ? n : 0] = '\0';
        n = pread(e, errbuf, err_size - 1, 0);
        errbuf[n > 0 ? n : 0] = '\0';
        close(in);
        close(o);
        close(e);
        unlink(in_path);
        unlink(out_path);
        unlink(err_path);
        return rc;
}

static char cmd_out[1 << 16], cmd_err[1 << 16];

Test(transform_cmd, lines_in_lines_out)
{
        char *ok = event_with("{\"context\":{\"app_token\":null}}");
        char input[4096];
        char *argv[] = {"transform",   "--app-token", "NX-cli",
                        "--user-prop", "plan",        "--company-prop",
                        "industry",    "--topic",     "tp",
                        NULL};

        snprintf(input, sizeof(input),
                 "%s\n"
                 "{\"type\":\"identify\"}\n"
                 "\n"
                 "{\"type\":\"track\",\"event\":\"Flow Completed\"}\n"
                 "{\"type\":\"track\",\"event\":\"Flow Completed\","
                 "\"userId\":1,\"properties\":{\"flow_id\":1}}\n"
                 "not json \"quoted\"\n"
                 "%s",
                 ok, ok); /* the last line has no newline */
        free(ok);
        cr_assert_eq(run_cmd(argv, input, cmd_out, sizeof(cmd_out), cmd_err,
                             sizeof(cmd_err)),
                     0, "stderr: %s", cmd_err);

        char *lines[16];
        size_t n = 0;
        for (char *l = cmd_out, *nl; *l && n < 16; l = nl + 1) {
                nl = strchr(l, '\n');
                cr_assert_not_null(nl, "every line ends: %s", l);
                *nl = '\0';
                lines[n++] = l;
        }
        cr_assert_eq(n, 7, "one line per input: %s", cmd_out);
        for (size_t i = 0; i < n; i++) {
                json_object *j = strict_parse(lines[i], strlen(lines[i]));
                cr_assert_not_null(j, "line %zu is JSON: %s", i, lines[i]);
                json_object_put(j);
        }
        cr_assert(strstr(lines[0], "\"app_token\":\"NX-cli\""), "%s", lines[0]);
        cr_assert(strstr(lines[0], "\"plan\":\"pro\"}"), "%s", lines[0]);
        cr_assert(strstr(lines[0], "\"industry\":\"SaaS\"}"), "%s", lines[0]);
        cr_assert_str_eq(lines[1], "{\"skipped\":\"type 'identify' is not a "
                                   "track call\"}");
        cr_assert_str_eq(lines[2], "{\"invalid\":\"not JSON: empty "
                                   "message\"}");
        cr_assert_str_eq(lines[3], "{\"invalid\":\"missing userId\"}");
        /* no messageId: topic-0-<line number - 1>; app token from CLI */
        cr_assert(strstr(lines[4], "\"app_token\":\"NX-cli\""), "%s", lines[4]);
        cr_assert(strncmp(lines[5], "{\"invalid\":\"not JSON: ", 22) == 0, "%s",
                  lines[5]);
        cr_assert(strstr(lines[6], "\"plan\":\"pro\"}"), "%s", lines[6]);
}

/* Tenants (SPEC §5): with --webhook of an app, another app's events are
 * what the webhook would get: nothing; an operator webhook gets all. */
Test(transform_cmd, a_webhooks_app_decides_what_it_would_get)
{
        char cfgp[] = "/tmp/hb-xf-cfg-XXXXXX";
        int fd = mkstemp(cfgp);
        static const char text[] =
                "kafka = { brokers = \"127.0.0.1:1\";\n"
                "  topics = ( { name = \"t\"; app_token = \"NX-b\"; } ); };\n"
                "webhooks = (\n"
                "  { name = \"a\"; app_token = \"NX-a\"; url = "
                "\"https://example.com/a\"; events = [ \"*\" ]; },\n"
                "  { name = \"ops\"; url = \"https://example.com/o\"; "
                "events = [ \"*\" ]; } );\n";
        char input[4096];
        char *a[] = {"transform", "-c", cfgp, "--webhook", "a", NULL};
        char *ops[] = {"transform", "-c", cfgp, "--webhook", "ops", NULL};
        static const char ev[] =
                "{\"type\":\"track\",\"event\":\"Flow Completed\","
                "\"userId\":\"1\",\"properties\":{\"flow_id\":1}";

        cr_assert(fd >= 0);
        cr_assert_eq(write(fd, text, sizeof(text) - 1),
                     (ssize_t)sizeof(text) - 1);
        close(fd);
        /* app A's, app B's (the topic's), and "NX-a" with a NUL after */
        snprintf(input, sizeof(input),
                 "%s,\"context\":{\"app_token\":\"NX-a\"}}\n"
                 "%s}\n"
                 "%s,\"context\":{\"app_token\":\"NX-a\\u0000x\"}}\n",
                 ev, ev, ev);
        cr_assert_eq(run_cmd(a, input, cmd_out, sizeof(cmd_out), cmd_err,
                             sizeof(cmd_err)),
                     0, "%s", cmd_err);
        cr_assert(strstr(cmd_out, "\"app_token\":\"NX-a\","), "%s", cmd_out);
        cr_assert(strstr(cmd_out, "\n{\"skipped\":\"another app's event: "
                                  "webhook a belongs to app NX-a\"}\n{"
                                  "\"skipped\":\"another app's event: "
                                  "webhook a belongs to app NX-a\"}\n"),
                  "%s", cmd_out);
        cr_assert_eq(run_cmd(ops, input, cmd_out, sizeof(cmd_out), cmd_err,
                             sizeof(cmd_err)),
                     0, "%s", cmd_err);
        cr_assert(!strstr(cmd_out, "skipped"), "%s", cmd_out);
        cr_assert(strstr(cmd_out, "\"app_token\":\"NX-b\","), "%s", cmd_out);
        unlink(cfgp);
}

Test(transform_cmd, usage_and_errors)
{
        char *help[] = {"transform", "--help", NULL};
        char *bogus[] = {"transform", "--bogus", NULL};
        char *extra[] = {"transform", "file.json", NULL};
        char *nocfg[] = {"transform", "--webhook", "w", NULL};
        char *many[] = {"transform", "--user-prop",    "a", "--user-prop",
                        "b",         "--user-prop",    "c", "--user-prop",
                        "d",         "--user-prop",    "e", "--user-prop",
                        "f",         "--user-prop",    "g", "--user-prop",
                        "h",         "--user-prop",    "i", "--company-prop",
                        "j",         "--company-prop", "k", NULL};
        char *missing[] = {"transform", "-c", "/nonexistent/hb.cfg", NULL};

        cr_assert_eq(run_cmd(help, "", cmd_out, sizeof(cmd_out), cmd_err,
                             sizeof(cmd_err)),
                     0);
        cr_assert(strstr(cmd_out, "usage: hookbridge transform"));
        cr_assert_eq(run_cmd(bogus, "", cmd_out, sizeof(cmd_out), cmd_err,
                             sizeof(cmd_err)),
                     WK_EXIT_USAGE);
        cr_assert(strstr(cmd_err, "bogus"), "%s", cmd_err);
        cr_assert(strstr(cmd_err, "usage:"), "%s", cmd_err);
        cr_assert_str_eq(cmd_out, "");
        cr_assert_eq(run_cmd(extra, "", cmd_out, sizeof(cmd_out), cmd_err,
                             sizeof(cmd_err)),
                     WK_EXIT_USAGE);
        cr_assert_eq(run_cmd(nocfg, "", cmd_out, sizeof(cmd_out), cmd_err,
                             sizeof(cmd_err)),
                     WK_EXIT_USAGE);
        cr_assert(strstr(cmd_err, "-c FILE"), "%s", cmd_err);
        cr_assert_eq(run_cmd(many, "", cmd_out, sizeof(cmd_out), cmd_err,
                             sizeof(cmd_err)),
                     WK_EXIT_USAGE);
        cr_assert(strstr(cmd_err, "at most 10"), "%s", cmd_err);
        cr_assert_eq(run_cmd(missing, "", cmd_out, sizeof(cmd_out), cmd_err,
                             sizeof(cmd_err)),
                     1);
        cr_assert_neq(cmd_err[0], '\0');
}

/*
 * One list of the built-in webhook types (hb_types)
 */

/* The mapping's built-ins and the samples are hb_types' rows: every row
 * maps, renders as its row says, and has a sample that reaches it. */
Test(transform_types, mapping_and_samples_are_the_hb_types_rows)
{
        wk_mapping_t *m = wk_mapping_new();
        wk_msgmeta_t meta = default_meta();

        cr_assert_eq(wk_sample_count(), hb_type_count());
        for (size_t i = 0; i < hb_type_count(); i++) {
                const hb_type_t *t = hb_type_at(i);
                char raw[2048];
                json_object *id;
                result_t r;
                int n;

                cr_expect(wk_mapping_has_type(m, t->type), "%s", t->type);
                cr_expect_str_eq(wk_sample_event_name(i), t->event);
                n = wk_sample_render(i, "s-1", 7, 1700000000000LL, raw,
                                     sizeof(raw));
                cr_assert(n > 0 && (size_t)n < sizeof(raw));
                run_full(&r, m, raw, (size_t)n, &meta, NULL, 0, NULL, 0);
                assert_ok(&r);
                cr_expect_str_eq(r.type, t->type);
                cr_expect_str_eq(jstr(&r, "data.action"), t->action);
                id = jget(r.json, "data.id");
                if (t->kind == HB_TYPE_ENTITY) {
                        cr_expect_str_eq(jstr(&r, "data.type"), t->data_type);
                        cr_expect_not_null(id, "%s has data.id", t->type);
                } else {
                        cr_expect_null(jget(r.json, "data.type"));
                        cr_expect_null(id, "%s has no data.id", t->type);
                }
                if (t->kind == HB_TYPE_NPS_SCORE ||
                    t->kind == HB_TYPE_NPS_FEEDBACK)
                        cr_expect_not_null(jget(r.json, "data.score"));
                if (t->kind == HB_TYPE_NPS_FEEDBACK)
                        cr_expect_not_null(jget(r.json, "data.feedback"));
                result_free(&r);
        }
        cr_expect_null(wk_sample_event_name(hb_type_count()));
        cr_expect_eq(wk_sample_render(hb_type_count(), "s", 1, 1, NULL, 0), -1);
        wk_mapping_destroy(m);
}

/*
 * The fields an event copies (bug 4: xf_keep filled an 8-slot array with
 * no bound)
 */

Test(transform_keep, a_field_past_the_bound_is_refused_not_written)
{
        struct {
                wk_xf_keep_t k;
                unsigned char after[64];
        } t;

        memset(&t, 0, sizeof(t));
        memset(t.after, 0xa5, sizeof(t.after));
        for (size_t i = 0; i < WK_XF_KEEP_MAX; i++)
                cr_assert_eq(wk_xf_keep_add(&t.k, i * 16, (int)(i & 1)), 0);
        cr_assert_eq(t.k.full, 0);
        cr_assert_eq(wk_xf_keep_add(&t.k, 999, 1), -1);
        cr_assert_eq(wk_xf_keep_add(&t.k, 998, 0), -1);
        cr_assert_eq(t.k.full, 1);
        cr_assert_eq(t.k.n, WK_XF_KEEP_MAX);
        for (size_t i = 0; i < WK_XF_KEEP_MAX; i++) {
                cr_expect_eq(t.k.v[i].field, i * 16);
                cr_expect_eq(t.k.v[i].lower, (int)(i & 1));
        }
        for (size_t i = 0; i < sizeof(t.after); i++)
                cr_assert_eq(t.after[i], 0xa5, "byte %zu after the list", i);
}

/* The event that keeps the most: every copied field at once, within the
 * bound. */
Test(transform_keep, an_event_keeping_every_field_fits)
{
        char *raw = event_with("{\"messageId\":77,\"userId\":12,"
                               "\"context\":{\"app_token\":null,"
                               "\"groupId\":34,\"page\":{\"url\":"
                               "\"https://Demo.Example.COM/x\"}}}");
        wk_mapping_t *m = wk_mapping_new();
        wk_msgmeta_t meta = default_meta();
        result_t r;

        meta.topic_app_token = "NX-topic";
        run_full(&r, m, raw, strlen(raw), &meta, NULL, 0, NULL, 0);
        assert_ok(&r);
        cr_expect_str_eq(r.id, "77");
        cr_expect_str_eq(jstr(&r, "data.user.user_id"), "12");
        cr_expect_str_eq(jstr(&r, "data.company.id"), "34");
        cr_expect_str_eq(jstr(&r, "app_token"), "NX-topic");
        cr_expect_str_eq(jstr(&r, "data.hostname"), "demo.example.com");
        cr_expect_str_eq(jstr(&r, "data.type"), "flow");
        result_free(&r);
        wk_mapping_destroy(m);
        free(raw);
}
