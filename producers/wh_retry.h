/* wh_retry: what an HTTP outcome means, and how long to wait (SPEC §4). */
#ifndef HB_WH_RETRY_H
#define HB_WH_RETRY_H

#include <stdint.h>
#include <time.h>

typedef enum {
        WH_CLASS_OK = 0,    /**< any 2xx */
        WH_CLASS_RETRY,     /**< connection error, timeout, 408/425/429/5xx */
        WH_CLASS_PERMANENT, /**< any other status (3xx, other 4xx) */
} wh_class_t;

/** @brief Classify a response status; \p status 0 means the transfer
 *  failed before a response (connect error, timeout, reset). */
wh_class_t wh_retry_classify(long status);

/**
 * @brief Backoff before attempt \p attempt + 1 (\p attempt >= 1 attempts
 *        made): exponential from \p initial_ms, capped at \p max_ms, with
 *        "equal jitter" (half fixed, half drawn from \p rnd).
 */
int64_t wh_retry_backoff_ms(int attempt, int initial_ms, int max_ms,
                            uint32_t rnd);

/**
 * @brief Parse a Retry-After value: delta seconds or an HTTP-date
 *        (RFC 9110: IMF-fixdate, RFC 850, asctime, read by curl_getdate()
 *        and so as leniently as curl reads dates), relative to \p now.
 * @returns 0 with the delay (>= 0, a past date is 0) in \p ms_out, or -1
 *          when the value is not valid.
 */
int wh_retry_after_parse(const char *value, time_t now, int64_t *ms_out);

#endif
