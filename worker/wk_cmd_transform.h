/* wk_cmd_transform: `hookbridge transform`: raw events on stdin, one per
 * line, to webhook payloads on stdout (SPEC section 6). */
#ifndef HB_WK_CMD_TRANSFORM_H
#define HB_WK_CMD_TRANSFORM_H

/**
 * @brief `transform [-c FILE [--webhook NAME]] [--topic NAME]
 *        [--app-token T] [--user-prop P]... [--company-prop P]...`
 *
 * Writes one line per input line: the compact payload,
 * {"skipped":"<reason>"} or {"invalid":"<reason>"}. With -c the file's
 * extra mappings apply and the app_token of --topic (default: the first
 * configured topic) is the fallback; --webhook takes its chosen
 * properties. Each line's metadata: topic --topic or "stdin", partition
 * 0, offset = line number - 1, message timestamp = now.
 *
 * @param argv argv[0] is "transform".
 * @returns the exit code: 0 (bad lines included), 1 on a configuration
 *          or I/O error, WK_EXIT_USAGE (64) on a usage error.
 */
int wk_cmd_transform(int argc, char **argv);

#endif
