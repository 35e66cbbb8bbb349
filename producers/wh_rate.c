/* wh_rate: the token bucket behind a webhook's rate_limit (SPEC §4b). */
#include "wh_rate.h"

#include <math.h>

/* Tokens at \p now_ms. */
static double tokens_at(const wh_rate_t *r, int64_t now_ms)
{
        double t = r->tokens;

        if (now_ms > r->last_ms)
                t += (double)(now_ms - r->last_ms) * r->rate / 1000.0;
        return t > r->burst ? r->burst : t;
}

void wh_rate_init(wh_rate_t *r, double per_second)
{
        r->rate = per_second > 0 ? per_second : 0;
        /* A quarter of a second: a loop woken that much late (a loaded
         * machine) still sends at the rate; with a tenth, two workers at
         * 25/s each measured 47/s for 50. */
        r->burst = r->rate / 4.0 < 1.0 ? 1.0 : r->rate / 4.0;
        r->tokens = r->burst;
        r->last_ms = 0;
}

void wh_rate_set(wh_rate_t *r, double per_second, int64_t now_ms)
{
        int had = r->rate > 0;
        double t = had ? tokens_at(r, now_ms) : 0;

        wh_rate_init(r, per_second);
        if (had && t < r->burst)
                r->tokens = t; /* keep a debt or a part-filled bucket */
        r->last_ms = now_ms;
}

int64_t wh_rate_wait(const wh_rate_t *r, int64_t now_ms, size_t n)
{
        double missing;

        if (r->rate <= 0 || n == 0)
                return 0;
        missing = (double)n - tokens_at(r, now_ms);
        if (missing <= 0)
                return 0;
        return (int64_t)ceil(missing * 1000.0 / r->rate);
}

void wh_rate_take(wh_rate_t *r, int64_t now_ms)
{
        if (r->rate <= 0)
                return;
        r->tokens = tokens_at(r, now_ms) - 1.0;
        r->last_ms = now_ms;
}
