/* Unit tests: wk_trim (the heap's free pages back to the system). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "wk_trim.h"

#if defined(__SANITIZE_ADDRESS__)
#define HB_TEST_OWN_MALLOC 1 /* ASan's allocator, not glibc's */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HB_TEST_OWN_MALLOC 1
#endif
#endif

enum { BLOCKS = 65536, BLOCK = 1024, KEEP_EVERY = 32 };

static int64_t mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#ifndef HB_TEST_OWN_MALLOC
/* This process's resident memory, in KiB. */
static long rss_kib(void)
{
        long pages = 0, resident = 0;
        FILE *f = fopen("/proc/self/statm", "r");

        cr_assert_not_null(f);
        cr_assert_eq(fscanf(f, "%ld %ld", &pages, &resident), 2);
        fclose(f);
        return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* What a delivery loop leaves: 64 MiB in small blocks allocated on a
 * thread of its own (its own arena), all freed but every 32nd, so that
 * none of it is at the top of a heap, where malloc trims by itself. */
static void *fragment(void *arg)
{
        char **kept = arg;
        char **all = malloc(BLOCKS * sizeof(*all));

        cr_assert_not_null(all);
        for (int i = 0; i < BLOCKS; i++) {
                all[i] = malloc(BLOCK);
                cr_assert_not_null(all[i]);
                memset(all[i], 0x5a, BLOCK); /* resident */
        }
        for (int i = 0; i < BLOCKS; i++) {
                if (i % KEEP_EVERY == KEEP_EVERY - 1)
                        kept[i / KEEP_EVERY] = all[i];
                else
                        free(all[i]);
        }
        free(all);
        return NULL;
}
#endif

Test(trim, gives_freed_pages_back)
{
#ifdef HB_TEST_OWN_MALLOC
        cr_skip_test("a sanitizer's allocator: malloc_trim has no glibc "
                     "arenas to trim");
#else
        char **kept = calloc(BLOCKS / KEEP_EVERY, sizeof(*kept));
        long before, after;
        int64_t deadline;
        pthread_t th;
        wk_trim_t *t;
        unsigned trims;

        cr_assert_not_null(kept);
        cr_assert_eq(pthread_create(&th, NULL, fragment, kept), 0);
        pthread_join(th, NULL);
        before = rss_kib();
        t = wk_trim_start(100);
        cr_assert_not_null(t);
        /* about 62 MiB freed; at least half of it back within 3 s */
        deadline = mono_ms() + 3000;
        do {
                usleep(50 * 1000);
                after = rss_kib();
        } while (before - after < 31 * 1024 && mono_ms() < deadline);
        trims = wk_trim_stop(t);
        cr_expect_geq(trims, 1u);
        cr_expect_geq(before - after, 31 * 1024,
                      "resident %ld KiB before, %ld KiB after %u trims", before,
                      after, trims);
        for (int i = 0; i < BLOCKS / KEEP_EVERY; i++)
                free(kept[i]);
        free(kept);
#endif
}

/* Stopping does not wait out the period. */
Test(trim, stops_at_once)
{
        int64_t t0;
        wk_trim_t *t = wk_trim_start(60000);

        cr_assert_not_null(t);
        usleep(20 * 1000);
        t0 = mono_ms();
        cr_expect_eq(wk_trim_stop(t), 0u);
        cr_expect_lt(mono_ms() - t0, 1000);
        cr_expect_eq(wk_trim_stop(NULL), 0u);
}
