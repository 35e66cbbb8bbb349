/* wk_sendtest: Send Test (SPEC §5): one signed sample event of a chosen
 * type to one webhook, once, with the status, time and start of the
 * answer -- what `hookbridge send-test` prints and the API's POST
 * .../test answers. */
#ifndef HB_WK_SENDTEST_H
#define HB_WK_SENDTEST_H

#include <stddef.h>

#include "cfg.h"

/** Bytes of the answer's body kept (before escaping). */
#define WK_SENDTEST_BODY_MAX 200

/** What was sent and what came back. */
typedef struct wk_sendtest_s {
        char event_id[64];
        char type[64];
        char *payload; /**< the body sent (malloc()ed; wk_sendtest_clear()) */
        long status;   /**< HTTP status, 0: no response */
        /** curl's error text when there was no response, escaped
         *  (hb_log_printable): it may carry a certificate's names */
        char error[256 * 6];
        double seconds; /**< the attempt's time */
        /** the first WK_SENDTEST_BODY_MAX bytes of the answer's body,
         *  control bytes escaped (hb_log_printable); "" when empty */
        char response[WK_SENDTEST_BODY_MAX * 6 + 1];
        int ok; /**< a 2xx */
} wk_sendtest_t;

/** No sample event of the type asked for (or none the webhook takes). */
#define WK_SENDTEST_NO_SAMPLE 1

/**
 * @brief Send one sample event to \p wh (a webhook of \p cfg, or one
 *        built like it: a store webhook) as a real delivery would --
 *        signed, with its headers, the same SSRF guard -- once, no retry.
 * @param type  the webhook type to send; NULL: the first the webhook
 *              receives
 * @param max_ms  a cap on the request's time-out (0: the webhook's)
 * @param before  called once the event is ready, before it is sent
 *                (\p r has event_id, type and payload), or NULL
 * @returns 0 once sent (whatever came back: see \p r->ok),
 *          WK_SENDTEST_NO_SAMPLE, or -1 with the reason in \p errstr.
 */
int wk_sendtest_run(const cfg_t *cfg, const cfg_webhook_t *wh, const char *type,
                    int max_ms,
                    void (*before)(const wk_sendtest_t *r, void *opaque),
                    void *opaque, wk_sendtest_t *r, char *errstr,
                    size_t errstr_size);

/** @brief Free what \p r holds. */
void wk_sendtest_clear(wk_sendtest_t *r);

#endif
