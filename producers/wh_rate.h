/* wh_rate: the token bucket behind a webhook's rate_limit (SPEC §4b):
 * requests per second, a quarter of a second of burst (at least one). */
#ifndef HB_WH_RATE_H
#define HB_WH_RATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct wh_rate_s {
        double rate;     /**< requests per second; <= 0: unlimited */
        double burst;    /**< tokens the bucket holds at most */
        double tokens;   /**< as of last_ms */
        int64_t last_ms; /**< monotonic; 0: never refilled */
} wh_rate_t;

/** @brief A full bucket for \p per_second requests (<= 0: unlimited). */
void wh_rate_init(wh_rate_t *r, double per_second);

/** @brief Change the rate at \p now_ms (what was earned so far is kept,
 *  up to the new burst). */
void wh_rate_set(wh_rate_t *r, double per_second, int64_t now_ms);

/** @returns how long (ms) until \p n more requests may start at
 *  \p now_ms: 0 when they may now (always, unlimited), else at least 1. */
int64_t wh_rate_wait(const wh_rate_t *r, int64_t now_ms, size_t n);

/** @brief One request starts at \p now_ms (takes a token; the bucket
 *  may go below zero when the caller did not wait). */
void wh_rate_take(wh_rate_t *r, int64_t now_ms);

#endif
