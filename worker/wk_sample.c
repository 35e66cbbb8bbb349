/* wk_sample: realistic raw events of every SPEC section 2 kind, for
 * `demo`, `send-test` and benchmarks. */
#include "wk_sample.h"

#include <stdio.h>

/* Raw event name and its "properties" object. */
static const char *const samples[][2] = {
        {"Flow Started", "{\"flow_id\":1}"},
        {"Flow Completed", "{\"flow_id\":1}"},
        {"Flow Dismissed", "{\"flow_id\":2}"},
        {"Checklist Started", "{\"checklist_id\":\"onboarding\"}"},
        {"Checklist Completed", "{\"checklist_id\":\"onboarding\"}"},
        {"Checklist Dismissed", "{\"checklist_id\":7}"},
        {"NPS Score Submitted",
         "{\"survey_question\":\"How likely is it that you would recommend "
         "us to a friend?\",\"score\":9}"},
        {"NPS Feedback Submitted",
         "{\"survey_question\":\"How likely is it that you would recommend "
         "us to a friend?\",\"score\":10,\"follow_up_question\":\"Why did "
         "you choose this score?\",\"feedback\":\"Great product\"}"},
        {"NPS Dismissed", "{}"},
        {"NPS Ask Later", "{}"},
        {"Feature Tag Clicked", "{\"feature_tag_id\":11}"},
        {"Feature Tag Hovered", "{\"feature_tag_id\":12}"},
        {"Feature Tag Text Input", "{\"feature_tag_id\":13}"},
        {"Form Submitted", "{\"form_id\":21}"},
        {"Button Tracked Event", "{\"tracked_event_id\":31}"},
};

#define SAMPLE_COUNT (sizeof(samples) / sizeof(samples[0]))

size_t wk_sample_count(void)
{
        return SAMPLE_COUNT;
}

const char *wk_sample_event_name(size_t i)
{
        return i < SAMPLE_COUNT ? samples[i][0] : NULL;
}

int wk_sample_render(size_t i, const char *message_id, long user,
                     long long timestamp_ms, char *out, size_t out_size)
{
        if (i >= SAMPLE_COUNT)
                return -1;
        return snprintf(
                out, out_size,
                "{\"type\":\"track\",\"event\":\"%s\",\"messageId\":\"%s\","
                "\"timestamp\":%lld,\"userId\":\"%ld\",\"context\":{"
                "\"app_token\":\"NX-demo0001\",\"page\":{\"url\":"
                "\"https://app.example.com/dashboard?tab=1\"},\"traits\":{"
                "\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\","
                "\"plan\":\"pro\",\"seats\":12,\"beta\":true},\"groupId\":"
                "\"42\",\"group\":{\"name\":\"Analytical Engines\","
                "\"industry\":\"SaaS\",\"employees\":45}},\"properties\":%s}",
                samples[i][0], message_id, timestamp_ms, user, samples[i][1]);
}
