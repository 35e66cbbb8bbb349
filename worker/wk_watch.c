/* wk_watch: a start-up step's watchman (see the header). */
#include "wk_watch.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hb_log.h"
#include "hb_time.h"

struct wk_watch_s {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        pthread_t thread;
        char what[64];
        const char *step; /* NULL: none under way */
        int64_t step_ms;  /* when it began (monotonic) */
        int every_ms, stop;
        unsigned said;
};

static void *watch(void *arg)
{
        wk_watch_t *w = arg;

        pthread_mutex_lock(&w->lock);
        while (!w->stop) {
                struct timespec ts;
                int64_t now;

                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_sec += w->every_ms / 1000;
                ts.tv_nsec += (long)(w->every_ms % 1000) * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&w->cond, &w->lock, &ts);
                now = hb_time_mono_ms();
                if (!w->stop && w->step && now - w->step_ms >= w->every_ms) {
                        hb_log(HB_LOG_WARN, "start-up: still waiting",
                               "what=%s step=\"%s\" waited_ms=%lld", w->what,
                               w->step, (long long)(now - w->step_ms));
                        w->said++;
                }
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

wk_watch_t *wk_watch_start(const char *what, int every_ms)
{
        wk_watch_t *w = calloc(1, sizeof(*w));
        pthread_condattr_t ca;

        if (!w)
                return NULL;
        snprintf(w->what, sizeof(w->what), "%s", what);
        w->every_ms = every_ms > 0 ? every_ms : 5000;
        pthread_mutex_init(&w->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&w->cond, &ca);
        pthread_condattr_destroy(&ca);
        if (pthread_create(&w->thread, NULL, watch, w)) {
                pthread_cond_destroy(&w->cond);
                pthread_mutex_destroy(&w->lock);
                free(w);
                return NULL;
        }
        return w;
}

void wk_watch_step(wk_watch_t *w, const char *step)
{
        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        w->step = step;
        w->step_ms = hb_time_mono_ms();
        pthread_mutex_unlock(&w->lock);
}

unsigned wk_watch_stop(wk_watch_t *w)
{
        unsigned said;

        if (!w)
                return 0;
        pthread_mutex_lock(&w->lock);
        w->stop = 1;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
        said = w->said;
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return said;
}
