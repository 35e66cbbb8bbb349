/* wk_cmd: the subcommands of the `hookbridge` binary. Each takes the
 * arguments after the program name (argv[0] is the command) and returns
 * the process exit code. */
#ifndef HB_WK_CMD_H
#define HB_WK_CMD_H

/** Exit code for a command-line usage error (sysexits EX_USAGE). */
#define WK_EXIT_USAGE 64

/** @brief `run -c FILE`: the worker. */
int wk_cmd_run(int argc, char **argv);

/** @brief `check-config -c FILE`: FILE:LINE: message per problem. */
int wk_cmd_check_config(int argc, char **argv);

/** @brief `send-test -c FILE --webhook NAME [--type TYPE]`. */
int wk_cmd_send_test(int argc, char **argv);

/** @brief `replay -c FILE --from TIME ...`: backfill outside the group. */
int wk_cmd_replay(int argc, char **argv);

/** @brief `redrive -c FILE [--webhook NAME]... ...`: send dead letters
 *  again, outside the group. */
int wk_cmd_redrive(int argc, char **argv);

/** @brief `lag -c FILE [--json] [--max-lag N]`. */
int wk_cmd_lag(int argc, char **argv);

/**
 * @brief Load a configuration for a command, printing every problem to
 *        stderr and applying its log settings.
 * @returns the configuration, or NULL (problems already printed).
 */
struct cfg_s *wk_cmd_load_config(const char *path);

#endif
