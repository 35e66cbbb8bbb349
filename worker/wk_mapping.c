/* wk_mapping: the raw event name -> webhook type table (SPEC section 2's
 * rows from hb_types, then the configured extra mappings) and its
 * lookups. */
#include "wk_transform_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How much of a raw name an error quotes. */
#define XF_SNIP_LEN 64

/* A built-in row of hb_types (SPEC section 2) as the mapping renders
 * it. */
static wk_xf_spec_t xf_spec_of(const hb_type_t *t)
{
        wk_xf_spec_t spec = {t->type, t->data_type, t->action, t->id_field,
                             t->kind};

        return spec;
}

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
        m->cap = hb_type_count() + 16;
        m->rows = calloc(m->cap, sizeof(*m->rows));
        if (!m->rows)
                goto err;
        for (size_t i = 0; i < hb_type_count(); i++) {
                m->rows[i].event = hb_type_at(i)->event;
                m->rows[i].spec = xf_spec_of(hb_type_at(i));
        }
        m->count = hb_type_count();
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

int wk_mapping_add(wk_mapping_t *m, const char *event, const char *type,
                   char *errstr, size_t errstr_size)
{
        const hb_type_t *builtin;
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
        if (!hb_type_name_ok(type)) {
                snprintf(errstr, errstr_size,
                         "mapping '%.*s': webhook type '%.*s' must look "
                         "like <entity>.<action> (two words of letters, "
                         "digits and _ around one dot)",
                         XF_SNIP_LEN, event, XF_SNIP_LEN, type);
                return -1;
        }
        tlen = strlen(type);
        dot = strchr(type, '.');
        builtin = hb_type_find(type);
        if (builtin) {
                spec = xf_spec_of(builtin);
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
                spec.kind = HB_TYPE_ENTITY;
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
