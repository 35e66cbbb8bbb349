/* wk_cmd_lag: placeholder until the command lands. */
#include <stdio.h>

#include "wk_cmd.h"

int wk_cmd_lag(int argc, char **argv)
{
        (void)argc;
        (void)argv;
        fputs("hookbridge lag: not built yet\n", stderr);
        return 1;
}
