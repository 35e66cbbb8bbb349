/* wk_transform_int: what the transformer's files share and nobody else
 * sees: a mapped type's rendering, and the fields of a parsed event that
 * wk_event.c fills and wk_render.c writes out. */
#ifndef HB_WK_TRANSFORM_INT_H
#define HB_WK_TRANSFORM_INT_H

#include <stddef.h>
#include <stdint.h>

#include "hb_types.h"
#include "wk_jdoc.h"
#include "wk_transform.h"

/** What a mapped raw event becomes: a built-in row of hb_types (SPEC
 *  section 2) or a configured type. */
typedef struct wk_xf_spec_s {
        const char *type;      /**< webhook type, "flows.seen" */
        const char *data_type; /**< NULL for NPS */
        const char *action;
        const char *id_field; /**< property holding data.id; NULL for NPS */
        hb_type_kind_t kind;  /**< how its data object renders */
} wk_xf_spec_t;

/** The NPS fields, in payload order; a score carries the first two. */
extern const char *const wk_xf_nps_keys[4];

/** @returns what raw event name \p event[0, len) maps to, or NULL. */
const wk_xf_spec_t *wk_mapping_find(const wk_mapping_t *m, const char *event,
                                    size_t len);

/** An event's fields. Strings point into the raw document (which the
 *  event holds) or into the event's arena; nothing points at the mapping
 *  or the message metadata, which may go away first (a reload). */
typedef struct wk_xf_fields_s {
        wk_jdoc_t *doc;
        hb_type_kind_t kind;
        int64_t timestamp;
        int has_company;
        wk_json_str_t type; /**< NUL-terminated, like id */
        wk_json_str_t data_type;
        wk_json_str_t action;
        wk_json_str_t id;
        wk_json_str_t app_token;
        wk_json_str_t hostname;
        wk_json_str_t pathname;
        wk_json_str_t user_id;
        wk_json_str_t company_id; /**< s NULL: no context.groupId */
        const wk_jv_t *entity_id;
        const wk_jv_t *nps[4]; /**< as wk_xf_nps_keys; NULL: absent */
        const wk_jv_t *traits; /**< NULL: none */
        const wk_jv_t *group;  /**< NULL: none */
        const wk_jv_t *name;
        const wk_jv_t *email;
        const wk_jv_t *company_name;
} wk_xf_fields_t;

/** The most strings one event copies into its arena: type, action,
 *  data.type, app token, id and hostname, one each (two to spare).
 *  One more is refused (wk_xf_keep_add), never written past the end. */
#define WK_XF_KEEP_MAX 8

/** The fields of an event being parsed whose text is copied into the
 *  event once the total size is known. */
typedef struct wk_xf_keep_s {
        struct {
                size_t field; /**< offset of the wk_json_str_t in
                                   wk_xf_fields_t */
                int lower;    /**< lower-cased on the copy */
        } v[WK_XF_KEEP_MAX];
        size_t n;
        int full; /**< an add was refused: the event must not be built */
} wk_xf_keep_t;

/**
 * @brief Note the field at offset \p field of wk_xf_fields_t for copying.
 * @returns 0, or -1 when WK_XF_KEEP_MAX fields are noted already: nothing
 *          is written and \p k->full is set, so the parse fails.
 */
int wk_xf_keep_add(wk_xf_keep_t *k, size_t field, int lower);

struct wk_event_s {
        wk_xf_fields_t f;
        char arena[]; /**< the strings copied for this event */
};

#endif
