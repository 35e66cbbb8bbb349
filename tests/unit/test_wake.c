/* Unit tests: wk_wake, the worker's self-pipe (bug 5: both ends
 * non-blocking and close-on-exec). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "wk_wake.h"

Test(wake, both_ends_non_blocking_and_close_on_exec)
{
        int fds[2] = {-1, -1};
        char err[128] = "";

        cr_assert_eq(wk_wake_open(fds, err, sizeof(err)), 0, "%s", err);
        for (int i = 0; i < 2; i++) {
                int fl = fcntl(fds[i], F_GETFL), fd = fcntl(fds[i], F_GETFD);

                cr_assert_neq(fl, -1);
                cr_assert_neq(fd, -1);
                cr_expect(fl & O_NONBLOCK, "end %d blocks", i);
                cr_expect(fd & FD_CLOEXEC, "end %d is inherited by exec", i);
        }
        wk_wake_close(fds);
        cr_expect_eq(fds[0], -1);
        cr_expect_eq(fds[1], -1);
}

/* What the flags are for: a full pipe does not block the writer (a
 * signal handler), an empty one does not block the drain. The timeout
 * ends the test if either blocks. */
Test(wake, full_and_empty_pipe_never_block, .timeout = 10)
{
        int fds[2];
        char err[128] = "", c;

        cr_assert_eq(wk_wake_open(fds, err, sizeof(err)), 0, "%s", err);
        cr_assert(fcntl(fds[1], F_GETFL) & O_NONBLOCK);
        wk_wake_drain(fds[0]); /* empty */
        /* far more than a pipe holds (64 KiB on Linux, 1 MiB at most
         * by default) */
        for (int i = 0; i < (2 << 20); i++)
                wk_wake_signal(fds[1], 'x');
        cr_expect_eq(write(fds[1], "x", 1), -1);
        cr_expect(errno == EAGAIN || errno == EWOULDBLOCK);
        wk_wake_drain(fds[0]);
        cr_expect_eq(read(fds[0], &c, 1), -1, "the drain left bytes");
        cr_expect(errno == EAGAIN || errno == EWOULDBLOCK);
        wk_wake_signal(fds[1], 's');
        cr_expect_eq(read(fds[0], &c, 1), 1);
        cr_expect_eq(c, 's');
        wk_wake_close(fds);
}

Test(wake, close_skips_ends_not_open)
{
        int fds[2] = {-1, -1};

        wk_wake_close(fds); /* nothing to close: no error, no crash */
        cr_expect_eq(fds[0], -1);
}
