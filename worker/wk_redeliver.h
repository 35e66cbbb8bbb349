/* wk_redeliver: a hand-off record (a retry-tier record or a dead letter,
 * common/hb_rec) turned back into a delivery: its raw source message
 * parsed with the mapping in force, checked against the webhook's event
 * types, rendered for the webhook's chosen properties, with the record's
 * webhook-id. Shared by the retry tiers (wk_tier.c) and redrive. */
#ifndef HB_WK_REDELIVER_H
#define HB_WK_REDELIVER_H

#include <stddef.h>

#include "cfg.h"
#include "hb_rec.h"
#include "wk_transform.h"

/** What became of a record. */
typedef enum {
        WK_RD_OK,        /**< body and id ready to send */
        WK_RD_INVALID,   /**< the source message no longer parses (the
                              mapping changed since), reason in why */
        WK_RD_TYPE_OFF,  /**< the webhook no longer takes its type */
        WK_RD_OTHER_APP, /**< the event is another app's than the
                              webhook's now (a reload moved the webhook,
                              or the topic's app_token changed): never
                              sent (SPEC §5) */
        WK_RD_NOMEM,     /**< out of memory */
} wk_rd_status_t;

/** A delivery made from a record (owned, freed by wk_redeliver_free()). */
typedef struct wk_rd_s {
        char *body; /**< the payload for the webhook */
        size_t len;
        char *id; /**< webhook-id: the record's, else the event's */
} wk_rd_t;

/**
 * @brief Render record \p rec for webhook \p wh of configuration \p cfg
 *        (its topics' app tokens) with mapping \p mp.
 * @returns WK_RD_OK with \p out filled in; otherwise \p out is empty and
 *          \p why says what (WK_RD_INVALID).
 */
wk_rd_status_t wk_redeliver_render(const cfg_t *cfg, const wk_mapping_t *mp,
                                   const cfg_webhook_t *wh, const hb_rec_t *rec,
                                   wk_rd_t *out, char *why, size_t why_size);

/** @brief Free what \p d holds (and empty it). */
void wk_redeliver_free(wk_rd_t *d);

#endif
