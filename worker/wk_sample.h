/* wk_sample: realistic raw events of every SPEC section 2 kind, for
 * `demo`, `send-test` and benchmarks. */
#ifndef HB_WK_SAMPLE_H
#define HB_WK_SAMPLE_H

#include <stddef.h>

/** @returns the number of built-in sample kinds (one per raw event). */
size_t wk_sample_count(void);

/** @returns the raw event name of sample \p i ("Flow Completed"). */
const char *wk_sample_event_name(size_t i);

/**
 * @brief Write sample \p i as a raw Segment "track" event (compact JSON)
 *        with the given messageId, userId number and epoch-ms timestamp.
 * @returns the length written (as snprintf), or -1 when \p i is out of
 *          range.
 */
int wk_sample_render(size_t i, const char *message_id, long user,
                     long long timestamp_ms, char *out, size_t out_size);

/** The app_token of wk_sample_render()'s samples. */
#define WK_SAMPLE_APP "NX-demo0001"

/**
 * @brief wk_sample_render() for app \p app (its context.app_token):
 *        an app_token of the configuration's syntax (cfg_app_token_ok),
 *        which needs no JSON escaping.
 */
int wk_sample_render_app(size_t i, const char *app, const char *message_id,
                         long user, long long timestamp_ms, char *out,
                         size_t out_size);

#endif
