/* hb_types: the table of built-in webhook types (SPEC section 2). */
#include "hb_types.h"

#include <string.h>

/* SPEC section 2, in its order. */
static const hb_type_t hb_types[] = {
        {"Flow Started", "flows.seen", "flow", "seen", "flow_id",
         HB_TYPE_ENTITY},
        {"Flow Completed", "flows.completed", "flow", "completed", "flow_id",
         HB_TYPE_ENTITY},
        {"Flow Dismissed", "flows.dismissed", "flow", "dismissed", "flow_id",
         HB_TYPE_ENTITY},
        {"Checklist Started", "checklist.seen", "checklist", "seen",
         "checklist_id", HB_TYPE_ENTITY},
        {"Checklist Completed", "checklist.completed", "checklist", "completed",
         "checklist_id", HB_TYPE_ENTITY},
        {"Checklist Dismissed", "checklist.dismissed", "checklist", "dismissed",
         "checklist_id", HB_TYPE_ENTITY},
        {"NPS Score Submitted", "nps.score", NULL, "score", NULL,
         HB_TYPE_NPS_SCORE},
        {"NPS Feedback Submitted", "nps.feedback", NULL, "feedback", NULL,
         HB_TYPE_NPS_FEEDBACK},
        {"NPS Dismissed", "nps.dismissed", NULL, "dismissed", NULL,
         HB_TYPE_NPS_PLAIN},
        {"NPS Ask Later", "nps.ask_later", NULL, "ask_later", NULL,
         HB_TYPE_NPS_PLAIN},
        {"Feature Tag Clicked", "feature_tag.clicked", "feature_tag", "clicked",
         "feature_tag_id", HB_TYPE_ENTITY},
        {"Feature Tag Hovered", "feature_tag.hover", "feature_tag", "hover",
         "feature_tag_id", HB_TYPE_ENTITY},
        {"Feature Tag Text Input", "feature_tag.text_input", "feature_tag",
         "text_input", "feature_tag_id", HB_TYPE_ENTITY},
        {"Form Submitted", "forms.submitted", "forms", "submitted", "form_id",
         HB_TYPE_ENTITY},
        {"Button Tracked Event", "button_tracked_event.occurred",
         "button_tracked_event", "occurred", "tracked_event_id",
         HB_TYPE_ENTITY},
};
#define HB_TYPE_COUNT (sizeof(hb_types) / sizeof(hb_types[0]))

size_t hb_type_count(void)
{
        return HB_TYPE_COUNT;
}

const hb_type_t *hb_type_at(size_t i)
{
        return i < HB_TYPE_COUNT ? &hb_types[i] : NULL;
}

const hb_type_t *hb_type_find(const char *type)
{
        if (!type)
                return NULL;
        for (size_t i = 0; i < HB_TYPE_COUNT; i++) {
                if (!strcmp(hb_types[i].type, type))
                        return &hb_types[i];
        }
        return NULL;
}

const hb_type_t *hb_type_find_event(const char *event)
{
        if (!event)
                return NULL;
        for (size_t i = 0; i < HB_TYPE_COUNT; i++) {
                if (!strcmp(hb_types[i].event, event))
                        return &hb_types[i];
        }
        return NULL;
}

static int word_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '_';
}

int hb_type_name_ok(const char *type)
{
        const char *dot;

        if (!type || !(dot = strchr(type, '.')) || dot == type || !dot[1] ||
            strchr(dot + 1, '.'))
                return 0;
        for (const char *p = type; *p; p++) {
                if (p != dot && !word_char(*p))
                        return 0;
        }
        return 1;
}
