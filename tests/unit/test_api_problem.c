/* Tests for wk_api_problem: the management API's RFC 9457 documents are
 * valid JSON and valid UTF-8 whatever the messages quote -- a value cut
 * inside a character by a message's "%.64s", or bytes from the path. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "wk_api.h"
#include "wk_hook.h"
#include "wk_json.h"

/* The body of \p resp parsed by the API's own strict reader (which
 * refuses what is not UTF-8); the test fails when it does not parse. */
static json_object *parsed(const wk_api_resp_t *resp)
{
        char why[256] = "";
        json_object *o = wk_json_parse(resp->body, resp->len, why, sizeof(why));

        cr_assert_not_null(o, "%s: %.*s", why, (int)resp->len, resp->body);
        return o;
}

static void resp_free(wk_api_resp_t *resp)
{
        free(resp->body);
        for (size_t i = 0; i < resp->hdr_count; i++) {
                free(resp->hdr_name[i]);
                free(resp->hdr_value[i]);
        }
}

/* Found by schemathesis (tests/api/run.sh): an unknown event type of 4-byte
 * characters, quoted by wk_hook's "%.64s", ended the 422 mid-character. */
Test(api_problem, a_message_cut_inside_a_character_is_still_utf8)
{
        char body[512], type[81];
        char errs[4096];
        wk_api_resp_t resp = {0};
        json_object *b, *o, *e;
        wk_hook_t *h;

        /* "x" and U+1F60D (4 bytes) 19 times: 64 bytes end inside one */
        type[0] = 'x';
        for (int i = 0; i < 19; i++)
                memcpy(type + 1 + 4 * i, "\xf0\x9f\x98\x8d", 4);
        type[77] = '\0';
        snprintf(body, sizeof(body),
                 "{\"name\": \"a\", \"url\": \"https://x.example/\", "
                 "\"events\": [\"%s\"]}",
                 type);
        b = json_tokener_parse(body);
        cr_assert_not_null(b);
        h = wk_hook_from_body(b, "wh_1", "NX-a", errs, sizeof(errs));
        cr_assert_null(h);
        wk_api_problem(&resp, 422, NULL, "the webhook is not valid", errs);
        cr_assert_eq(resp.status, 422);
        o = parsed(&resp);
        cr_assert(json_object_object_get_ex(o, "errors", &e));
        cr_expect_str_eq(json_object_get_string(json_object_object_get(
                                 json_object_array_get_idx(e, 0), "field")),
                         "events[0]");
        json_object_put(o);
        json_object_put(b);
        resp_free(&resp);
}

Test(api_problem, bytes_that_are_not_utf8_in_detail_and_fields)
{
        wk_api_resp_t resp = {0};
        json_object *o;

        wk_api_problem(&resp, 404, NULL, "app a has no webhook \xf0\x28\xff",
                       "id: \xc3 is not one\nbody: \xe2\x82");
        o = parsed(&resp);
        cr_expect_eq(
                json_object_array_length(json_object_object_get(o, "errors")),
                2);
        cr_expect_str_eq(
                json_object_get_string(json_object_object_get(o, "title")),
                "Not Found");
        json_object_put(o);
        resp_free(&resp);
}

Test(api_problem, valid_text_is_kept_as_it_is)
{
        wk_api_resp_t resp = {0};
        json_object *o, *e;

        wk_api_problem(&resp, 422, NULL, "caf\xc3\xa9 \"quoted\"",
                       "url: must start with http:// or https://");
        o = parsed(&resp);
        cr_expect_str_eq(
                json_object_get_string(json_object_object_get(o, "detail")),
                "caf\xc3\xa9 \"quoted\"");
        e = json_object_array_get_idx(json_object_object_get(o, "errors"), 0);
        cr_expect_str_eq(
                json_object_get_string(json_object_object_get(e, "field")),
                "url");
        cr_expect_str_eq(
                json_object_get_string(json_object_object_get(e, "message")),
                "must start with http:// or https://");
        json_object_put(o);
        resp_free(&resp);
}
