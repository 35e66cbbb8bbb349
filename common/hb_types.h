/* hb_types: the built-in webhook types of SPEC section 2, the one table
 * that both the configuration (which types a webhook may subscribe to) and
 * the transformer (raw event name -> webhook payload) read. */
#ifndef HB_TYPES_H
#define HB_TYPES_H

#include <stddef.h>

/** How a webhook type renders its data object. */
typedef enum {
        HB_TYPE_ENTITY = 0,   /**< data.type, data.action, data.id */
        HB_TYPE_NPS_SCORE,    /**< data.action + survey_question, score */
        HB_TYPE_NPS_FEEDBACK, /**< ... + follow_up_question, feedback */
        HB_TYPE_NPS_PLAIN,    /**< data.action only */
} hb_type_kind_t;

/** One built-in row: a raw event name and the webhook it becomes. */
typedef struct hb_type_s {
        const char *event;     /**< raw event name, e.g. "Flow Started" */
        const char *type;      /**< webhook type, e.g. "flows.seen" */
        const char *data_type; /**< data.type; NULL for NPS */
        const char *action;    /**< data.action */
        const char *id_field;  /**< property holding data.id; NULL for NPS */
        hb_type_kind_t kind;
} hb_type_t;

/** @returns how many built-in rows there are. */
size_t hb_type_count(void);

/** @returns built-in row \p i (SPEC order), or NULL past the end. */
const hb_type_t *hb_type_at(size_t i);

/** @returns the built-in row whose webhook type is \p type, or NULL. */
const hb_type_t *hb_type_find(const char *type);

/** @returns the built-in row for raw event name \p event, or NULL. */
const hb_type_t *hb_type_find_event(const char *event);

/** @returns 1 when \p type is written as a webhook type may be, the way
 *           every built-in one is: `<entity>.<action>`, two non-empty
 *           words of A-Z a-z 0-9 _ around one dot ("trial.started");
 *           else 0. The configuration's mappings and the transformer's
 *           added rows (data.type and data.action) both hold to it. */
int hb_type_name_ok(const char *type);

#endif
