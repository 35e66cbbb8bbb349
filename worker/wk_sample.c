/* wk_sample: realistic raw events of every built-in webhook type (the rows
 * of hb_types, SPEC section 2), for `demo`, `send-test` and benchmarks. */
#include "wk_sample.h"

#include <stdio.h>

#include "hb_types.h"

#define NPS_QUESTION                                                       \
        "\"survey_question\":\"How likely is it that you would recommend " \
        "us to a friend?\""

/* The "properties" of sample \p i (built-in row \p t) into \p out: what
 * its kind reads (SPEC section 2). Entity ids alternate between numbers
 * and strings, the two JSON types data.id keeps. */
static void sample_properties(size_t i, const hb_type_t *t, char *out,
                              size_t size)
{
        switch (t->kind) {
        case HB_TYPE_ENTITY:
                if (i % 2)
                        snprintf(out, size, "{\"%s\":\"%s-%zu\"}", t->id_field,
                                 t->data_type, i + 1);
                else
                        snprintf(out, size, "{\"%s\":%zu}", t->id_field, i + 1);
                return;
        case HB_TYPE_NPS_SCORE:
                snprintf(out, size, "{" NPS_QUESTION ",\"score\":9}");
                return;
        case HB_TYPE_NPS_FEEDBACK:
                snprintf(out, size,
                         "{" NPS_QUESTION ",\"score\":10,\"follow_up_question\""
                         ":\"Why did you choose this score?\",\"feedback\":"
                         "\"Great product\"}");
                return;
        case HB_TYPE_NPS_PLAIN:
                break;
        }
        snprintf(out, size, "{}");
}

size_t wk_sample_count(void)
{
        return hb_type_count();
}

const char *wk_sample_event_name(size_t i)
{
        const hb_type_t *t = hb_type_at(i);

        return t ? t->event : NULL;
}

int wk_sample_render(size_t i, const char *message_id, long user,
                     long long timestamp_ms, char *out, size_t out_size)
{
        return wk_sample_render_app(i, WK_SAMPLE_APP, message_id, user,
                                    timestamp_ms, out, out_size);
}

int wk_sample_render_app(size_t i, const char *app, const char *message_id,
                         long user, long long timestamp_ms, char *out,
                         size_t out_size)
{
        const hb_type_t *t = hb_type_at(i);
        char props[512];

        if (!t)
                return -1;
        sample_properties(i, t, props, sizeof(props));
        return snprintf(
                out, out_size,
                "{\"type\":\"track\",\"event\":\"%s\",\"messageId\":\"%s\","
                "\"timestamp\":%lld,\"userId\":\"%ld\",\"context\":{"
                "\"app_token\":\"%s\",\"page\":{\"url\":"
                "\"https://app.example.com/dashboard?tab=1\"},\"traits\":{"
                "\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\","
                "\"plan\":\"pro\",\"seats\":12,\"beta\":true},\"groupId\":"
                "\"42\",\"group\":{\"name\":\"Analytical Engines\","
                "\"industry\":\"SaaS\",\"employees\":45}},\"properties\":%s}",
                t->event, message_id, timestamp_ms, user, app, props);
}
