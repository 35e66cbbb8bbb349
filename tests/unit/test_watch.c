/* Tests for wk_watch: a start-up step that goes on is said every few
 * seconds (here every 100 ms), one that ends at once is not. */
#include <criterion/criterion.h>

#include <time.h>

#include "hb_log.h"
#include "wk_watch.h"

static void sleep_ms(int ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
}

Test(watch, a_step_that_goes_on_is_said, .timeout = 30)
{
        wk_watch_t *w = wk_watch_start("test", 100);
        unsigned said;

        hb_log_setup(HB_LOG_INFO, 0);
        cr_assert_not_null(w);
        wk_watch_step(w, "the slow one");
        sleep_ms(700);
        said = wk_watch_stop(w);
        /* about 6; fewer when the machine is busy */
        cr_expect_geq(said, 2, "said %u times in 700 ms", said);
        cr_expect_leq(said, 7, "said %u times in 700 ms", said);
}

Test(watch, a_quick_step_and_none_are_not, .timeout = 30)
{
        wk_watch_t *w = wk_watch_start("test", 500);

        cr_assert_not_null(w);
        sleep_ms(700); /* no step under way */
        wk_watch_step(w, "a quick one");
        cr_expect_eq(wk_watch_stop(w), 0);
        cr_expect_eq(wk_watch_stop(NULL), 0);
        wk_watch_step(NULL, "nothing");
}
