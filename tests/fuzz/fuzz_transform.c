/* fuzz_transform: wk_event_parse() + wk_event_render() on arbitrary bytes,
 * checking what the rest of hookbridge relies on: a payload is strict
 * JSON whose type/timestamp are the event's, the event id can go into an
 * HTTP header, and every reason is printable UTF-8. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_util.h"
#include "wk_transform.h"

static wk_mapping_t *fz_map;

/* The property sets a webhook might choose: none, overlapping with the
 * fixed members and repeated, and the maximum of 10. */
static const char *const fz_user_a[] = {"plan",    "name", "email",
                                        "user_id", "plan", "tags"};
static const char *const fz_company_a[] = {"industry", "id", "name"};
static const char *const fz_user_b[] = {"seats", "beta",     "created_at",
                                        "role",  "\xc3\xa9", ""};
static const char *const fz_company_b[] = {"employees", "plan", "a", "b"};

typedef struct fz_props_s {
        const char *const *user;
        size_t user_count;
        const char *const *company;
        size_t company_count;
} fz_props_t;

static const fz_props_t fz_sets[] = {
        {NULL, 0, NULL, 0},
        {fz_user_a, 6, fz_company_a, 3},
        {fz_user_b, 6, fz_company_b, 4},
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        char err[256];

        (void)argc;
        (void)argv;
        fz_map = wk_mapping_new();
        if (!fz_map ||
            wk_mapping_add(fz_map, "Trial Started", "trial.started", err,
                           sizeof(err)) < 0 ||
            wk_mapping_add(fz_map, "Legacy Done", "flows.completed", err,
                           sizeof(err)) < 0)
                fz_fail("mapping setup failed");
        return 0;
}

static void fz_check_reason(const char *reason, size_t rsize)
{
        size_t n = strnlen(reason, rsize);

        FZ_CHECK(n < rsize, "reason is not NUL-terminated");
        FZ_CHECK(n > 0, "empty reason");
        FZ_CHECK(fz_utf8_valid(reason, n), "reason is not UTF-8: %s", reason);
        FZ_CHECK(!fz_has_ctl(reason, n), "control byte in reason: %s", reason);
}

/* One rendered payload: strict JSON with the event's type/timestamp. */
static void fz_check_body(const wk_event_t *ev, const char *body, size_t len)
{
        json_object *root, *v, *data, *user;
        const char *s;

        FZ_CHECK(strlen(body) == len, "NUL inside the payload");
        root = fz_json_strict(body, len);
        FZ_CHECK(root, "payload is not strict JSON: %s", body);
        FZ_CHECK(json_object_is_type(root, json_type_object),
                 "payload is not an object");
        FZ_CHECK(json_object_object_get_ex(root, "type", &v) &&
                         !strcmp(json_object_get_string(v), wk_event_type(ev)),
                 "payload type differs from the event's");
        FZ_CHECK(json_object_object_get_ex(root, "timestamp", &v) &&
                         json_object_is_type(v, json_type_int) &&
                         json_object_get_int64(v) == wk_event_timestamp(ev),
                 "payload timestamp differs from the event's");
        FZ_CHECK(json_object_object_get_ex(root, "app_token", &v) &&
                         json_object_is_type(v, json_type_string) &&
                         json_object_get_string_len(v) > 0,
                 "payload without app_token");
        FZ_CHECK(json_object_object_get_ex(root, "data", &data) &&
                         json_object_is_type(data, json_type_object),
                 "payload without data");
        FZ_CHECK(json_object_object_get_ex(data, "hostname", &v) &&
                         json_object_is_type(v, json_type_string),
                 "payload without data.hostname");
        for (s = json_object_get_string(v); *s; s++)
                FZ_CHECK(!(*s >= 'A' && *s <= 'Z'), "upper-case data.hostname");
        /* context.page.path is taken as written (SPEC section 1), so a
         * pathname need not start with '/'; fuzz_url checks URLs. */
        FZ_CHECK(json_object_object_get_ex(data, "pathname", &v) &&
                         json_object_is_type(v, json_type_string) &&
                         json_object_get_string_len(v) > 0,
                 "empty data.pathname");
        FZ_CHECK(!strpbrk(json_object_get_string(v), "?#"),
                 "data.pathname keeps a query or fragment");
        FZ_CHECK(json_object_object_get_ex(data, "user", &user) &&
                         json_object_object_get_ex(user, "user_id", &v) &&
                         json_object_is_type(v, json_type_string) &&
                         json_object_get_string_len(v) > 0,
                 "payload without data.user.user_id");
        json_object_put(root);
}

static void fz_one(const uint8_t *data, size_t size, const char *token,
                   int64_t ts_ms)
{
        wk_msgmeta_t meta = {.topic = "events",
                             .partition = 3,
                             .offset = 1234567,
                             .timestamp_ms = ts_ms,
                             .topic_app_token = token};
        char reason[256];
        wk_event_t *ev = (wk_event_t *)1;
        wk_xf_status_t st;
        const char *id;

        memset(reason, 'x', sizeof(reason));
        st = wk_event_parse(fz_map, (const char *)data, size, &meta, &ev,
                            reason, sizeof(reason));
        if (st != WK_XF_OK) {
                FZ_CHECK(st == WK_XF_SKIPPED || st == WK_XF_INVALID,
                         "unknown status %d", (int)st);
                FZ_CHECK(ev == NULL, "no event but *evp set");
                fz_check_reason(reason, sizeof(reason));
                return;
        }
        FZ_CHECK(ev, "WK_XF_OK without an event");
        FZ_CHECK(wk_mapping_has_type(fz_map, wk_event_type(ev)),
                 "event type '%s' is not a mapped type", wk_event_type(ev));
        id = wk_event_id(ev);
        FZ_CHECK(id && *id, "empty event id");
        /* it becomes the webhook-id header: a field value (a tab inside
         * is one; C0, DEL and C1 are not; no blank at an end) */
        FZ_CHECK(fz_header_value_ok(id, strlen(id)),
                 "event id is not a header value");
        FZ_CHECK(strlen(id) <= 512, "event id longer than 512 bytes");
        FZ_CHECK(fz_utf8_valid(id, strlen(id)), "event id is not UTF-8");
        for (size_t i = 0; i < sizeof(fz_sets) / sizeof(fz_sets[0]); i++) {
                const fz_props_t *p = &fz_sets[i];
                size_t len = 0, len2 = 0;
                char *body =
                        wk_event_render(ev, p->user, p->user_count, p->company,
                                        p->company_count, &len);
                char *again =
                        wk_event_render(ev, p->user, p->user_count, p->company,
                                        p->company_count, &len2);

                FZ_CHECK(body && again, "render returned NULL");
                FZ_CHECK(len == len2 && !memcmp(body, again, len),
                         "two renders of one event differ");
                fz_check_body(ev, body, len);
                free(body);
                free(again);
        }
        wk_event_destroy(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* With the topic's app_token and a message timestamp, then
         * without either: the fallbacks of SPEC section 1. */
        fz_one(data, size, "NX-topic", 1679578625123LL);
        fz_one(data, size, NULL, -1);
        return 0;
}
