/* wk_rate: the token bucket behind `replay --rate` (events per second,
 * one second of burst). */
#ifndef HB_WK_RATE_H
#define HB_WK_RATE_H

#include <stdint.h>

typedef struct wk_rate_s {
        double rate;     /**< events per second; <= 0: unlimited */
        double tokens;   /**< events that may be taken now */
        int64_t last_ms; /**< when tokens was last refilled, 0: never */
} wk_rate_t;

/** @brief A bucket for \p per_second events (<= 0: unlimited). */
void wk_rate_init(wk_rate_t *r, double per_second);

/**
 * @brief How many events may be taken at \p now_ms (monotonic), at most
 *        \p max.
 * @returns that count; when 0, \p wait_ms is set to how long until one
 *          may (at least 1 ms, at most a second: callers look again).
 */
int wk_rate_allowance(wk_rate_t *r, int64_t now_ms, int max, int *wait_ms);

/** @brief \p n events were taken. */
void wk_rate_take(wk_rate_t *r, int n);

#endif
