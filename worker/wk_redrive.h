/* wk_redrive: the worker's redrive mode (SPEC §4a, `hookbridge redrive`):
 * each consumed message is a dead letter (common/hb_rec); the selected
 * ones are sent again to their own webhook, signed, with their
 * webhook-id, through the worker's pool. Bad inputs, value-omitted dead
 * letters and webhooks gone are reported, not sent; a delivery that fails
 * again is counted and its dead letter stays where it is (nothing is
 * written to Kafka). */
#ifndef HB_WK_REDRIVE_H
#define HB_WK_REDRIVE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "wk_worker_int.h"

/** Counts of a redrive. */
typedef struct wk_redrive_stats_s {
        uint64_t read;         /**< dead letters consumed */
        uint64_t not_selected; /**< left out by the selection */
        uint64_t selected;
        uint64_t sendable;   /**< submitted (a dry run: would be) */
        uint64_t delivered;  /**< 2xx */
        uint64_t failed;     /**< failed again: the dead letter stays */
        uint64_t bad_input;  /**< reason "invalid" or no webhook */
        uint64_t omitted;    /**< value left out: nothing to send */
        uint64_t no_webhook; /**< webhook not configured or disabled */
        uint64_t unsendable; /**< no longer parses, type switched off */
        uint64_t unreadable; /**< not a hookbridge record */
} wk_redrive_stats_t;

/** Which dead letters to send (every list empty: any). Borrowed for the
 *  worker's life. */
typedef struct wk_redrive_sel_s {
        const char *const *webhooks; /**< hookbridge-webhook values */
        size_t webhook_count;
        const char *app;            /**< the dead letter's app (its webhook's
                                         app_token when the header is absent) */
        const char *const *reasons; /**< hookbridge-reason values */
        size_t reason_count;
        wk_redrive_stats_t *stats; /**< the counts go here (the caller's;
                                        written by the worker's thread) */
} wk_redrive_sel_t;

typedef struct wk_redrive_s wk_redrive_t;

/** @returns redrive counts for selection \p sel, or NULL on OOM. */
wk_redrive_t *wk_redrive_new(const wk_redrive_sel_t *sel);

/** @brief Take dead letter \p m (linked in w->live, owing nothing yet):
 *  send it again or report it; it is settled when done. */
void wk_redrive_take(wk_worker_t *w, wk_msg_t *m);

/** @brief The table by webhook and reason to \p out. */
void wk_redrive_report(const wk_redrive_t *r, FILE *out);

/** @brief Free. NULL is a no-op. */
void wk_redrive_destroy(wk_redrive_t *r);

#endif
