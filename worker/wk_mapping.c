/* wk_mapping: the raw event name -> webhook type table (SPEC section 2's
 * rows, then the configured extra mappings) and its lookups. */
#include "wk_transform_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How much of a raw name an error quotes. */
#define XF_SNIP_LEN 64

typedef struct xf_builtin_s {
        const char *event;
        wk_xf_spec_t spec;
} xf_builtin_t;

/* SPEC section 2, in its order. */
static const xf_builtin_t xf_builtin[] = {
        {"Flow Started", {"flows.seen", "flow", "seen", "flow_id"}},
        {"Flow Completed", {"flows.completed", "flow", "completed", "flow_id"}},
        {"Flow Dismissed", {"flows.dismissed", "flow", "dismissed", "flow_id"}},
        {"Checklist Started",
         {"checklist.seen", "checklist", "seen", "checklist_id"}},
        {"Checklist Completed",
         {"checklist.completed", "checklist", "completed", "checklist_id"}},
        {"Checklist Dismissed",
         {"checklist.dismissed", "checklist", "dismissed", "checklist_id"}},
        {"NPS Score Submitted",
         {"nps.score", NULL, "score", NULL, WK_XF_NPS_SCORE}},
        {"NPS Feedback Submitted",
         {"nps.feedback", NULL, "feedback", NULL, WK_XF_NPS_FEEDBACK}},
        {"NPS Dismissed",
         {"nps.dismissed", NULL, "dismissed", NULL, WK_XF_NPS_PLAIN}},
        {"NPS Ask Later",
         {"nps.ask_later", NULL, "ask_later", NULL, WK_XF_NPS_PLAIN}},
        {"Feature Tag Clicked",
         {"feature_tag.clicked", "feature_tag", "clicked", "feature_tag_id"}},
        {"Feature Tag Hovered",
         {"feature_tag.hover", "feature_tag", "hover", "feature_tag_id"}},
        {"Feature Tag Text Input",
         {"feature_tag.text_input", "feature_tag", "text_input",
          "feature_tag_id"}},
        {"Form Submitted",
         {"forms.submitted", "forms", "submitted", "form_id"}},
        {"Button Tracked Event",
         {"button_tracked_event.occurred", "button_tracked_event", "occurred",
          "tracked_event_id"}},
};
#define XF_BUILTIN_COUNT (sizeof(xf_builtin) / sizeof(xf_builtin[0]))

const char *const wk_xf_nps_keys[4] = {"survey_question", "score",
                                       "follow_up_question", "feedback"};

typedef struct xf_row_s {
        const char *event;
        char *event_owned; /* NULL: event is a built-in literal */
        wk_xf_spec_t spec;
        char *spec_owned; /* the strings of a custom type, or NULL */
} xf_row_t;

struct wk_mapping_s {
        xf_row_t *rows; /* built-ins first, then added rows */
        size_t count;
        size_t cap;
};

wk_mapping_t *wk_mapping_new(void)
{
        wk_mapping_t *m = calloc(1, sizeof(*m));

        if (!m)
                goto err;
        m->cap = XF_BUILTIN_COUNT + 16;
        m->rows = calloc(m->cap, sizeof(*m->rows));
        if (!m->rows)
                goto err;
        for (size_t i = 0; i < XF_BUILTIN_COUNT; i++) {
                m->rows[i].event = xf_builtin[i].event;
                m->rows[i].spec = xf_builtin[i].spec;
        }
        m->count = XF_BUILTIN_COUNT;
        return m;
err:
        free(m);
        return NULL;
}

void wk_mapping_destroy(wk_mapping_t *m)
{
        if (!m)
                return;
        for (size_t i = 0; i < m->count; i++) {
                free(m->rows[i].event_owned);
                free(m->rows[i].spec_owned);
        }
        free(m->rows);
        free(m);
}

const wk_xf_spec_t *wk_mapping_find(const wk_mapping_t *m, const char *event,
                                    size_t len)
{
        /* Later rows are the added ones; a row's event is unique, so the
         * scan order does not matter. Fifteen-odd short compares. */
        for (size_t i = 0; i < m->count; i++) {
                const char *e = m->rows[i].event;
                if (e[0] == event[0] && !strncmp(e, event, len) &&
                    e[len] == '\0')
                        return &m->rows[i].spec;
        }
        return NULL;
}

static int xf_type_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

int wk_mapping_add(wk_mapping_t *m, const char *event, const char *type,
                   char *errstr, size_t errstr_size)
{
        const wk_xf_spec_t *builtin = NULL;
        wk_xf_spec_t spec = {0};
        char *spec_owned = NULL;
        char *event_owned = NULL;
        xf_row_t *row = NULL;
        const char *dot;
        size_t tlen;

        if (!m || !event || !type) {
                snprintf(errstr, errstr_size, "mapping: missing argument");
                return -1;
        }
        if (!*event) {
                snprintf(errstr, errstr_size,
                         "mapping: the raw event name is empty");
                return -1;
        }
        tlen = strlen(type);
        dot = strchr(type, '.');
        for (size_t i = 0; i < tlen; i++) {
                if (!xf_type_char(type[i]))
                        dot = NULL;
        }
        if (!dot || dot == type || dot[1] == '\0') {
                snprintf(errstr, errstr_size,
                         "mapping '%.*s': webhook type '%.*s' must look "
                         "like <entity>.<action> (letters, digits, _ - .)",
                         XF_SNIP_LEN, event, XF_SNIP_LEN, type);
                return -1;
        }
        for (size_t i = 0; i < XF_BUILTIN_COUNT; i++) {
                if (!strcmp(xf_builtin[i].spec.type, type)) {
                        builtin = &xf_builtin[i].spec;
                        break;
                }
        }
        if (builtin) {
                spec = *builtin;
        } else {
                /* "type\0data_type\0action\0" in one block. */
                size_t plen = (size_t)(dot - type);
                spec_owned = malloc(2 * tlen + 2);
                if (!spec_owned)
                        goto err;
                memcpy(spec_owned, type, tlen + 1);
                memcpy(spec_owned + tlen + 1, type, plen);
                spec_owned[tlen + 1 + plen] = '\0';
                spec.type = spec_owned;
                spec.data_type = spec_owned + tlen + 1;
                spec.action = spec_owned + plen + 1; /* after the dot */
                spec.id_field = "id";
                spec.kind = WK_XF_ENTITY;
        }

        for (size_t i = 0; i < m->count; i++) {
                if (!strcmp(m->rows[i].event, event)) {
                        row = &m->rows[i];
                        break;
                }
        }
        if (!row) {
                if (m->count == m->cap) {
                        size_t cap = m->cap * 2;
                        xf_row_t *rows = realloc(m->rows, cap * sizeof(*rows));
                        if (!rows)
                                goto err;
                        m->rows = rows;
                        m->cap = cap;
                }
                event_owned = strdup(event);
                if (!event_owned)
                        goto err;
                row = &m->rows[m->count++];
                memset(row, 0, sizeof(*row));
                row->event = event_owned;
                row->event_owned = event_owned;
        }
        free(row->spec_owned);
        row->spec = spec;
        row->spec_owned = spec_owned;
        return 0;
err:
        free(spec_owned);
        free(event_owned);
        snprintf(errstr, errstr_size, "mapping: out of memory");
        return -1;
}

int wk_mapping_has_type(const wk_mapping_t *m, const char *type)
{
        if (!m || !type)
                return 0;
        for (size_t i = 0; i < m->count; i++) {
                if (!strcmp(m->rows[i].spec.type, type))
                        return 1;
        }
        return 0;
}

size_t wk_mapping_types(const wk_mapping_t *m, const char **types, size_t max)
{
        size_t n = 0;

        if (!m)
                return 0;
        for (size_t i = 0; i < m->count; i++) {
                const char *t = m->rows[i].spec.type;
                size_t j;
                for (j = 0; j < i; j++) {
                        if (!strcmp(m->rows[j].spec.type, t))
                                break;
                }
                if (j < i)
                        continue;
                if (types && n < max)
                        types[n] = t;
                n++;
        }
        return n;
}
