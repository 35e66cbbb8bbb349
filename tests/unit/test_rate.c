/* Unit tests: wk_rate, the token bucket of `replay --rate`. */
#include <criterion/criterion.h>

#include "wk_rate.h"

/* Take what is allowed every \p step_ms for \p ms; @returns how many. */
static long run(wk_rate_t *r, int64_t ms, int step_ms)
{
        long taken = 0;

        for (int64_t now = 1000; now <= 1000 + ms; now += step_ms) {
                int wait = -1;
                int n = wk_rate_allowance(r, now, 32, &wait);
                if (n == 0)
                        cr_assert(wait >= 1 && wait <= 1000,
                                  "wait %d ms at rate %g", wait, r->rate);
                wk_rate_take(r, n);
                taken += n;
        }
        return taken;
}

Test(rate, unlimited)
{
        wk_rate_t r;

        wk_rate_init(&r, 0);
        cr_assert_eq(run(&r, 100, 10), 11 * 32);
}

Test(rate, steady_rate)
{
        wk_rate_t r;
        long n;

        wk_rate_init(&r, 100);
        n = run(&r, 10000, 5);
        cr_assert(n >= 990 && n <= 1101, "took %ld in 10 s at 100/s", n);
}

/* Below one event per second the bucket used to be capped below one
 * token, so nothing was ever taken. */
Test(rate, below_one_per_second)
{
        wk_rate_t r;
        long n;

        wk_rate_init(&r, 0.5);
        n = run(&r, 10000, 100);
        cr_assert(n >= 4 && n <= 6, "took %ld in 10 s at 0.5/s", n);
}

/* A tiny rate: the wait to the next token is seconds past INT_MAX ms
 * (the double -> int conversion overflowed); callers get a bounded wait
 * and look again. */
Test(rate, tiny_rate_waits_are_bounded)
{
        wk_rate_t r;
        int wait = -1;

        wk_rate_init(&r, 1e-9);
        cr_assert_eq(wk_rate_allowance(&r, 1000, 32, &wait), 0);
        cr_assert(wait >= 1 && wait <= 1000, "wait %d", wait);
        cr_assert_eq(wk_rate_allowance(&r, 5000, 32, &wait), 0);
        cr_assert(wait >= 1 && wait <= 1000, "wait %d", wait);
}
