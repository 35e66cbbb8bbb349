/* wk_cmd_replay: placeholder until the command lands. */
#include <stdio.h>

#include "wk_cmd.h"

int wk_cmd_replay(int argc, char **argv)
{
        (void)argc;
        (void)argv;
        fputs("hookbridge replay: not built yet\n", stderr);
        return 1;
}
