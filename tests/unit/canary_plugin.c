/* canary_plugin: a shared library that says when it is loaded -- its
 * constructor creates the file $HB_TEST_CANARY -- so a test can tell
 * whether plugin.library.paths made anything load it. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void canary_loaded(void)
{
        const char *path = getenv("HB_TEST_CANARY");
        int fd;

        if (!path || !*path)
                return;
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0)
                close(fd);
}
