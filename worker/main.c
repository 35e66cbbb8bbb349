/* hookbridge: Kafka -> webhook bridge. main() only dispatches. */
#include <stdio.h>
#include <string.h>

#include "dm_demo.h"
#include "wk_cmd.h"
#include "wk_cmd_transform.h"

static const char usage[] =
        "usage: hookbridge <command> [options]\n"
        "\n"
        "commands:\n"
        "  run -c FILE            run the worker (default when only -c "
        "is given)\n"
        "  check-config -c FILE   validate a configuration; FILE:LINE: "
        "message per problem\n"
        "  transform [...]        map raw events on stdin to payloads on "
        "stdout\n"
        "  send-test -c FILE --webhook NAME [--type TYPE]\n"
        "                         send a signed sample event to one "
        "webhook\n"
        "  replay -c FILE --from TIME [--to TIME] [--topic T]... "
        "[--webhook NAME]...\n"
        "         [--rate N] [--dry-run] [--state FILE]\n"
        "                         backfill a time window to webhooks, "
        "outside the group\n"
        "  redrive -c FILE [--webhook NAME|ID]... [--app T] [--reason R]...\n"
        "          [--from TIME] [--to TIME] [--rate N] [--dry-run] "
        "[--state FILE]\n"
        "                         send dead letters again, outside the "
        "group\n"
        "  lag -c FILE [--json] [--max-lag N]\n"
        "                         consumer lag of the group per "
        "partition\n"
        "  demo                   the whole pipeline on an embedded Kafka "
        "and receiver\n"
        "\n"
        "  hookbridge --version | --help | <command> --help\n";

int main(int argc, char **argv)
{
        const char *cmd = argc > 1 ? argv[1] : NULL;

        if (!cmd || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
                fputs(usage, cmd ? stdout : stderr);
                return cmd ? 0 : WK_EXIT_USAGE;
        }
        if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
                printf("hookbridge %s\n", HB_VERSION);
                return 0;
        }
        if (!strcmp(cmd, "-c") || !strncmp(cmd, "--config", 8))
                return wk_cmd_run(argc, argv); /* argv[0] stands for run */
        if (!strcmp(cmd, "run"))
                return wk_cmd_run(argc - 1, argv + 1);
        if (!strcmp(cmd, "check-config"))
                return wk_cmd_check_config(argc - 1, argv + 1);
        if (!strcmp(cmd, "transform"))
                return wk_cmd_transform(argc - 1, argv + 1);
        if (!strcmp(cmd, "send-test"))
                return wk_cmd_send_test(argc - 1, argv + 1);
        if (!strcmp(cmd, "replay"))
                return wk_cmd_replay(argc - 1, argv + 1);
        if (!strcmp(cmd, "redrive"))
                return wk_cmd_redrive(argc - 1, argv + 1);
        if (!strcmp(cmd, "lag"))
                return wk_cmd_lag(argc - 1, argv + 1);
        if (!strcmp(cmd, "demo"))
                return dm_cmd_demo(argc - 1, argv + 1);
        fprintf(stderr, "hookbridge: unknown command '%s'\n\n%s", cmd, usage);
        return WK_EXIT_USAGE;
}
