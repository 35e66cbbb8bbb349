/* wh_retry: what an HTTP outcome means, and how long to wait (SPEC §4). */
#include "wh_retry.h"

#include <string.h>

#include <curl/curl.h>

/*
 * Longest Retry-After honoured, in seconds. The caller caps every delay
 * at its retry.max_ms anyway; this only keeps the arithmetic far from
 * overflow whatever a server sends.
 */
#define WH_RETRY_AFTER_MAX_S (7 * 86400)

wh_class_t wh_retry_classify(long status)
{
        if (status >= 200 && status <= 299)
                return WH_CLASS_OK;
        if (status == 0 || status == 408 || status == 425 || status == 429 ||
            (status >= 500 && status <= 599))
                return WH_CLASS_RETRY;
        return WH_CLASS_PERMANENT;
}

int64_t wh_retry_backoff_ms(int attempt, int initial_ms, int max_ms,
                            uint32_t rnd)
{
        int64_t base, half;

        if (max_ms <= 0)
                return 0;
        if (initial_ms < 1)
                initial_ms = 1;
        if (attempt < 1)
                attempt = 1;
        /* initial_ms < 2^31, so a shift of at most 31 stays below 2^62 */
        if (attempt - 1 >= 31)
                base = max_ms;
        else
                base = (int64_t)initial_ms << (attempt - 1);
        if (base > max_ms)
                base = max_ms;
        /* equal jitter: [base/2, base/2 + base/2], never above base */
        half = base / 2;
        return half + (int64_t)(rnd % (uint64_t)(half + 1));
}

/* --- Retry-After ------------------------------------------------------ */

int wh_retry_after_parse(const char *value, time_t now, int64_t *ms_out)
{
        const char *b, *e;
        char date[128];
        time_t t;

        if (!value || !ms_out)
                return -1;
        /* optional whitespace around the field value */
        b = value;
        e = value + strlen(value);
        while (b < e && (*b == ' ' || *b == '\t'))
                b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
                         e[-1] == '\n'))
                e--;
        if (b == e)
                return -1;

        if (*b >= '0' && *b <= '9') {
                /* delta-seconds = 1*DIGIT; saturate instead of overflow */
                int64_t s = 0;

                for (const char *q = b; q < e; q++) {
                        if (*q < '0' || *q > '9')
                                return -1;
                        if (s < WH_RETRY_AFTER_MAX_S)
                                s = s * 10 + (*q - '0');
                }
                if (s > WH_RETRY_AFTER_MAX_S)
                        s = WH_RETRY_AFTER_MAX_S;
                *ms_out = s * 1000;
                return 0;
        }

        /*
         * An HTTP-date, read by curl_getdate(): the three forms of RFC
         * 9110 5.6.7 and the spellings curl tolerates besides (as RFC 9110
         * asks of recipients). It skips bytes it does not know, so what
         * is not printable ASCII is refused first; a date is short.
         */
        if ((size_t)(e - b) >= sizeof(date))
                return -1;
        for (const char *q = b; q < e; q++) {
                unsigned char c = (unsigned char)*q;
                if ((c < 0x20 && c != '\t') || c >= 0x7f)
                        return -1;
        }
        memcpy(date, b, (size_t)(e - b));
        date[e - b] = '\0';
        t = curl_getdate(date, NULL);
        if (t == (time_t)-1)
                return -1;
        if (t <= now) {
                *ms_out = 0;
        } else {
                int64_t d = (int64_t)t - (int64_t)now;
                if (d > WH_RETRY_AFTER_MAX_S)
                        d = WH_RETRY_AFTER_MAX_S;
                *ms_out = d * 1000;
        }
        return 0;
}
