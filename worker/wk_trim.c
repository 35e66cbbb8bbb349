/* wk_trim: gives the heap's free pages back to the system (see the
 * header). */
#include "wk_trim.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/* How long the thread sleeps between looks at the stop flag. */
#define NAP_MS 100

struct wk_trim_s {
        pthread_t thread;
        int every_ms;
        atomic_int stop;
        atomic_uint trims;
};

static void *trim_main(void *arg)
{
        wk_trim_t *t = arg;
        const struct timespec nap = {0, NAP_MS * 1000000L};
        int slept = 0;

        while (!atomic_load(&t->stop)) {
                nanosleep(&nap, NULL);
                if ((slept += NAP_MS) < t->every_ms)
                        continue;
                slept = 0;
                malloc_trim(0);
                atomic_fetch_add(&t->trims, 1);
        }
        return NULL;
}

wk_trim_t *wk_trim_start(int every_ms)
{
        wk_trim_t *t = calloc(1, sizeof(*t));

        if (!t)
                return NULL;
        t->every_ms = every_ms > 0 ? every_ms : WK_TRIM_EVERY_MS;
        if (pthread_create(&t->thread, NULL, trim_main, t)) {
                free(t);
                return NULL;
        }
        return t;
}

unsigned wk_trim_stop(wk_trim_t *t)
{
        unsigned trims;

        if (!t)
                return 0;
        atomic_store(&t->stop, 1);
        pthread_join(t->thread, NULL);
        trims = atomic_load(&t->trims);
        free(t);
        return trims;
}
