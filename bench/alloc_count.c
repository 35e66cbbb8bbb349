/* alloc_count: an LD_PRELOAD library that counts heap allocations
 * (malloc, calloc, realloc, the aligned ones) of a whole process, all
 * threads, and writes the totals to $HB_ALLOC_COUNT_OUT at exit. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

/* glibc's own entry points: no dlsym, which itself allocates */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *ptr, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *ptr);

static atomic_ullong n_alloc, n_free, n_bytes;

static void count(size_t bytes)
{
        atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&n_bytes, bytes, memory_order_relaxed);
}

void *malloc(size_t n)
{
        count(n);
        return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
        count(n * size);
        return __libc_calloc(n, size);
}

void *realloc(void *ptr, size_t n)
{
        count(n);
        return __libc_realloc(ptr, n);
}

void free(void *ptr)
{
        if (ptr)
                atomic_fetch_add_explicit(&n_free, 1, memory_order_relaxed);
        __libc_free(ptr);
}

int posix_memalign(void **out, size_t align, size_t n)
{
        void *p;

        count(n);
        p = __libc_memalign(align, n);
        if (!p)
                return 12; /* ENOMEM */
        *out = p;
        return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
        count(n);
        return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n)
{
        count(n);
        return __libc_memalign(align, n);
}

__attribute__((destructor)) static void report(void)
{
        const char *path = getenv("HB_ALLOC_COUNT_OUT");
        FILE *f;

        if (!path || !(f = fopen(path, "w")))
                return;
        fprintf(f, "{\"allocs\":%llu,\"frees\":%llu,\"bytes\":%llu}\n",
                (unsigned long long)atomic_load(&n_alloc),
                (unsigned long long)atomic_load(&n_free),
                (unsigned long long)atomic_load(&n_bytes));
        fclose(f);
}
