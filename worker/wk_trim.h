/* wk_trim: gives the heap's free pages back to the system every few
 * seconds, on a thread of its own. The delivery loops, librdkafka's
 * threads and the listeners each allocate from their own malloc arena
 * and free what another allocated; the freed memory stays resident in the
 * middle of those arenas, where malloc's own trimming (the top of each
 * heap only) never reaches it. malloc_trim(0) walks every arena and
 * releases its whole free pages (~5 ms with 10,000 webhooks at 4,096 in
 * flight), off the delivery loops. */
#ifndef HB_WK_TRIM_H
#define HB_WK_TRIM_H

typedef struct wk_trim_s wk_trim_t;

/**
 * @brief A thread that calls malloc_trim(0) every \p every_ms (<= 0:
 *        WK_TRIM_EVERY_MS).
 * @returns the trimmer, or NULL (out of memory, no thread): the memory is
 *          then left as malloc keeps it; wk_trim_stop() takes NULL.
 */
wk_trim_t *wk_trim_start(int every_ms);

/** @brief Stop the thread (within ~100 ms) and free \p t.
 *  @returns how many times it trimmed (0 for NULL). */
unsigned wk_trim_stop(wk_trim_t *t);

#define WK_TRIM_EVERY_MS 5000

#endif
