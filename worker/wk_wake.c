/* wk_wake: the worker's self-pipe, which Kafka queues, the dead-letter
 * producer and signal handlers write to wake the loop's wait. */
#define _GNU_SOURCE /* pipe2 */
#include "wk_wake.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int wk_wake_open(int fds[2], char *errstr, size_t errstr_size)
{
        if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) {
                snprintf(errstr, errstr_size, "pipe: %s", strerror(errno));
                fds[0] = fds[1] = -1;
                return -1;
        }
        return 0;
}

void wk_wake_drain(int rfd)
{
        char buf[256];

        while (read(rfd, buf, sizeof(buf)) > 0)
                ;
}

void wk_wake_signal(int wfd, char c)
{
        if (write(wfd, &c, 1) < 0) {
                /* Full pipe: a wake-up is pending anyway. */
        }
}

void wk_wake_close(int fds[2])
{
        for (int i = 0; i < 2; i++) {
                if (fds[i] >= 0)
                        close(fds[i]);
                fds[i] = -1;
        }
}
