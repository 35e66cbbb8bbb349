/* wk_wake: the worker's self-pipe, which Kafka queues, the dead-letter
 * producer and signal handlers write to wake the loop's wait. */
#ifndef HB_WK_WAKE_H
#define HB_WK_WAKE_H

#include <stddef.h>

/**
 * @brief Open the pipe: \p fds[0] to read (the loop waits on it), \p fds[1]
 *        to write. Both ends are non-blocking (wk_wake_drain() reads until
 *        empty; a full pipe must not block a signal handler) and
 *        close-on-exec, from their creation (pipe2), not set afterwards.
 * @returns 0, or -1 with \p fds both -1 and the reason in \p errstr.
 */
int wk_wake_open(int fds[2], char *errstr, size_t errstr_size);

/** @brief Read whatever is pending on \p rfd; returns at once when it is
 *  empty. */
void wk_wake_drain(int rfd);

/** @brief Write \p c to \p wfd; a full pipe is fine (a wake-up is pending
 *  anyway). Async-signal-safe. */
void wk_wake_signal(int wfd, char c);

/** @brief Close the ends still open (>= 0) and set them to -1. */
void wk_wake_close(int fds[2]);

#endif
