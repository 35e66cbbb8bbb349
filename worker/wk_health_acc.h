/* wk_health_acc: this replica's delivery health per webhook, accumulated
 * from its attempts, hand-offs, tier outcomes and dead letters, in a
 * bounded table; what changed since the last take is handed to the
 * publisher (wk_health). Thread-safe: the delivery loop notes, the
 * publisher takes. */
#ifndef HB_WK_HEALTH_ACC_H
#define HB_WK_HEALTH_ACC_H

#include <stddef.h>
#include <stdint.h>

#include "wk_health_rec.h"

typedef struct wk_health_acc_s wk_health_acc_t;

/** wk_health_acc_event()'s events (or-ed). */
#define WK_HEALTH_HANDED_OFF    0x1 /**< a delivery went to a retry tier */
#define WK_HEALTH_RESOLVED      0x2 /**< a tier record ended here */
#define WK_HEALTH_DEAD_LETTERED 0x4 /**< a dead letter was written */

/** A webhook new to the table (again, after an eviction) starts from
 *  what this replica last published of it: @returns 1 with \p c filled,
 *  0 to start from zero. Called with the table's lock held. */
typedef int(wk_health_seed_cb_t)(void *opaque, const char *app, const char *id,
                                 wk_health_counts_t *c);

/** One changed entry as taken (every string owned by it). */
typedef struct wk_health_snap_s {
        char *app;
        char *id;
        char *error; /**< or NULL */
        char *body;  /**< or NULL */
        wk_health_counts_t c;
} wk_health_snap_t;

/**
 * @brief A table of at most \p cap webhooks (0: 200,000). When it is
 *        full, a new webhook evicts the least recently changed one
 *        already taken (published), or else the least recently changed.
 * @param seed may be NULL
 * @returns it, or NULL (out of memory).
 */
wk_health_acc_t *wk_health_acc_new(size_t cap, wk_health_seed_cb_t *seed,
                                   void *opaque);

/**
 * @brief One attempt to webhook (\p app, \p id) ended with HTTP \p status
 *        (0: none) at \p now_ms: a 2xx counts delivered and is the last
 *        success, anything else counts failed and is the last failure,
 *        with \p error (may be NULL or "") and the response's first
 *        \p body_len bytes \p body (escaped, cut, see wk_health_escape()).
 */
void wk_health_acc_attempt(wk_health_acc_t *a, const char *app, const char *id,
                           long status, const char *error, const char *body,
                           size_t body_len, int64_t now_ms);

/** @brief Count \p events (WK_HEALTH_*) for webhook (\p app, \p id). */
void wk_health_acc_event(wk_health_acc_t *a, const char *app, const char *id,
                         unsigned events);

/** @brief The circuit (0 closed, 1 half-open, 2 open) and the 410 state
 *  of webhook (\p app, \p id) now; a webhook not in the table is added
 *  only when either is not the default (closed, enabled). */
void wk_health_acc_state(wk_health_acc_t *a, const char *app, const char *id,
                         int circuit, int disabled);

/**
 * @brief Take the entries changed since the last take (they count as
 *        published from now on).
 * @returns how many, in \p *out (wk_health_snaps_free() them); 0 with
 *          \p *out NULL when none changed (or out of memory: they stay
 *          changed).
 */
size_t wk_health_acc_take(wk_health_acc_t *a, wk_health_snap_t **out);

/** @brief Free what wk_health_acc_take() gave. */
void wk_health_snaps_free(wk_health_snap_t *s, size_t n);

/** @brief Count every entry changed (a failed publish, a periodic full
 *  one: records must outlive the topic's retention). */
void wk_health_acc_dirty_all(wk_health_acc_t *a);

/** @brief Entries held and evicted so far. */
void wk_health_acc_stats(wk_health_acc_t *a, size_t *entries,
                         uint64_t *evicted);

/** @brief Free. NULL is a no-op. */
void wk_health_acc_destroy(wk_health_acc_t *a);

#endif
