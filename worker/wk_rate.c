/* wk_rate: the token bucket behind `replay --rate`. */
#include "wk_rate.h"

void wk_rate_init(wk_rate_t *r, double per_second)
{
        r->rate = per_second;
        r->tokens = 0;
        r->last_ms = 0;
}

int wk_rate_allowance(wk_rate_t *r, int64_t now_ms, int max, int *wait_ms)
{
        /* one second of burst, but never less than one event: below one
         * per second the bucket would never hold a whole token */
        double cap = r->rate > 1.0 ? r->rate : 1.0;
        double wait;

        if (r->rate <= 0)
                return max;
        if (!r->last_ms)
                r->last_ms = now_ms;
        r->tokens += (double)(now_ms - r->last_ms) * r->rate / 1000.0;
        r->last_ms = now_ms;
        if (r->tokens > cap)
                r->tokens = cap;
        if (r->tokens >= 1.0)
                return r->tokens > max ? max : (int)r->tokens;
        /* bounded before the conversion: tiny rates wait for days */
        wait = (1.0 - r->tokens) * 1000.0 / r->rate + 1.0;
        *wait_ms = wait < 1000.0 ? (int)wait : 1000;
        return 0;
}

void wk_rate_take(wk_rate_t *r, int n)
{
        if (r->rate > 0)
                r->tokens -= n;
}
