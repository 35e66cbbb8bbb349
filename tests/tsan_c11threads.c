/* tsan_c11threads: linked into the ThreadSanitizer build only (HB_TSAN).
 *
 * Debian's librdkafka uses glibc's C11 threads (thrd_create, mtx_lock,
 * cnd_wait, call_once). The TSan runtimes here (gcc 12, clang 14) intercept
 * the pthread functions but not these, and glibc implements them by calling
 * its pthread internals directly: TSan never learns of librdkafka's threads
 * (the first malloc() in one of them crashes inside the TSan allocator,
 * google/sanitizers#1195 and #1603) nor of its locks (every librdkafka
 * handoff would look like a race). librdkafka's own answer is a build
 * without C11 threads (confluentinc/librdkafka#2541); we cannot rebuild the
 * distribution's library, so the executable defines the C11 functions
 * itself on top of the public pthread ones, which TSan does intercept. The
 * dynamic linker binds librdkafka's references to the executable's
 * definitions first. glibc's mtx_t, cnd_t and once_flag are pthread's
 * types by another name, so the casts below are what glibc itself does. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t");
_Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag");
_Static_assert(sizeof(thrd_t) == sizeof(pthread_t), "thrd_t");

typedef struct tramp_s {
        thrd_start_t func;
        void *arg;
} tramp_t;

static int map_err(int err)
{
        switch (err) {
        case 0:
                return thrd_success;
        case ENOMEM:
                return thrd_nomem;
        case EBUSY:
                return thrd_busy;
        case ETIMEDOUT:
                return thrd_timedout;
        default:
                return thrd_error;
        }
}

static void *tramp_run(void *p)
{
        tramp_t t = *(tramp_t *)p;

        free(p);
        return (void *)(intptr_t)t.func(t.arg);
}

int thrd_create(thrd_t *thr, thrd_start_t func, void *arg)
{
        tramp_t *t = malloc(sizeof(*t));
        int err;

        if (!t)
                return thrd_nomem;
        t->func = func;
        t->arg = arg;
        err = pthread_create(thr, NULL, tramp_run, t);
        if (err)
                free(t);
        return map_err(err);
}

int thrd_join(thrd_t thr, int *res)
{
        void *ret;
        int err = pthread_join(thr, &ret);

        if (!err && res)
                *res = (int)(intptr_t)ret;
        return map_err(err);
}

int thrd_detach(thrd_t thr)
{
        return map_err(pthread_detach(thr));
}

void thrd_exit(int res)
{
        pthread_exit((void *)(intptr_t)res);
}

int mtx_init(mtx_t *mtx, int type)
{
        pthread_mutexattr_t attr;
        int err;

        pthread_mutexattr_init(&attr);
        if (type & mtx_recursive)
                pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
        err = pthread_mutex_init((pthread_mutex_t *)mtx, &attr);
        pthread_mutexattr_destroy(&attr);
        return map_err(err);
}

int mtx_lock(mtx_t *mtx)
{
        return map_err(pthread_mutex_lock((pthread_mutex_t *)mtx));
}

int mtx_trylock(mtx_t *mtx)
{
        return map_err(pthread_mutex_trylock((pthread_mutex_t *)mtx));
}

int mtx_timedlock(mtx_t *restrict mtx, const struct timespec *restrict ts)
{
        return map_err(pthread_mutex_timedlock((pthread_mutex_t *)mtx, ts));
}

int mtx_unlock(mtx_t *mtx)
{
        return map_err(pthread_mutex_unlock((pthread_mutex_t *)mtx));
}

void mtx_destroy(mtx_t *mtx)
{
        pthread_mutex_destroy((pthread_mutex_t *)mtx);
}

int cnd_init(cnd_t *cond)
{
        return map_err(pthread_cond_init((pthread_cond_t *)cond, NULL));
}

int cnd_signal(cnd_t *cond)
{
        return map_err(pthread_cond_signal((pthread_cond_t *)cond));
}

int cnd_broadcast(cnd_t *cond)
{
        return map_err(pthread_cond_broadcast((pthread_cond_t *)cond));
}

int cnd_wait(cnd_t *cond, mtx_t *mtx)
{
        return map_err(pthread_cond_wait((pthread_cond_t *)cond,
                                         (pthread_mutex_t *)mtx));
}

int cnd_timedwait(cnd_t *restrict cond, mtx_t *restrict mtx,
                  const struct timespec *restrict ts)
{
        return map_err(pthread_cond_timedwait((pthread_cond_t *)cond,
                                              (pthread_mutex_t *)mtx, ts));
}

void cnd_destroy(cnd_t *cond)
{
        pthread_cond_destroy((pthread_cond_t *)cond);
}

void call_once(once_flag *flag, void (*func)(void))
{
        pthread_once((pthread_once_t *)flag, func);
}
