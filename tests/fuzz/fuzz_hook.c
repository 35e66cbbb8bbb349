/* fuzz_hook: a webhook given as JSON, as a store record
 * (wk_hook_from_json) and as an API body (wk_hook_from_body): whatever
 * is accepted writes back (wk_hook_to_json, wk_hook_view with its
 * secret) to JSON that reads back to the same webhook; the same bytes as
 * a sealed secret (wk_unseal) are refused unless they are one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fz_util.h"
#include "wk_hook.h"
#include "wk_seal.h"

static const unsigned char fz_key[WK_SEAL_KEY_LEN] = {7, 7, 7};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int strv_eq(char *const *a, char *const *b, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(a[i], b[i]))
                        return 0;
        return 1;
}

/* The two webhooks say the same. */
static void fz_same(const wk_hook_t *a, const wk_hook_t *b)
{
        if (strcmp(a->app_token, b->app_token) || strcmp(a->name, b->name) ||
            strcmp(a->url, b->url) || a->enabled != b->enabled ||
            a->event_count != b->event_count ||
            a->user_prop_count != b->user_prop_count ||
            a->company_prop_count != b->company_prop_count ||
            a->header_count != b->header_count ||
            a->signature != b->signature || a->rate_limit != b->rate_limit ||
            !a->secret != !b->secret ||
            (a->secret && strcmp(a->secret, b->secret)) ||
            !strv_eq(a->user_props, b->user_props, a->user_prop_count) ||
            !strv_eq(a->company_props, b->company_props,
                     a->company_prop_count) ||
            !strv_eq(a->headers, b->headers, a->header_count))
                fz_fail("the webhook read back differs");
        for (size_t i = 0; i < a->event_count; i++)
                if (strcmp(a->events[i].type, b->events[i].type) ||
                    a->events[i].enabled != b->events[i].enabled)
                        fz_fail("events[%zu] read back differs", i);
}

/* The API's body: accepted, its view (with the secret, as a PATCH merges
 * it) reads back to the same webhook. */
static void fz_body(const char *text)
{
        json_object *o = json_tokener_parse(text), *view;
        char err[4096];
        wk_hook_t *h, *back;

        if (!o)
                return;
        h = wk_hook_from_body(o, "fz-id", "NX-fz", err, sizeof(err));
        json_object_put(o);
        if (!h) {
                if (!*err)
                        fz_fail("body refused without a reason");
                return;
        }
        view = wk_hook_view(h, 1);
        if (!view)
                fz_fail("accepted but no view");
        back = wk_hook_from_body(view, "fz-id", "NX-fz", err, sizeof(err));
        if (!back)
                fz_fail("view not read back: %s", err);
        fz_same(h, back);
        wk_hook_free(back);
        json_object_put(view);
        wk_hook_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char err[4096], *text, *open;
        wk_hook_t *h, *back;

        h = wk_hook_from_json((const char *)data, size, "fz-id", fz_key, err,
                              sizeof(err));
        if (!h && !*err)
                fz_fail("refused without a reason");
        if (h) {
                text = wk_hook_to_json(h, fz_key, err, sizeof(err));
                if (!text)
                        fz_fail("accepted but not written: %s", err);
                back = wk_hook_from_json(text, strlen(text), "fz-id", fz_key,
                                         err, sizeof(err));
                if (!back)
                        fz_fail("written but not read back: %s", err);
                fz_same(h, back);
                wk_hook_free(back);
                free(text);
                wk_hook_free(h);
        }
        text = fz_cstr(data, size);
        fz_body(text);
        open = wk_unseal(fz_key, text, "fz-id", err, sizeof(err));
        free(open);
        free(text);
        return 0;
}
