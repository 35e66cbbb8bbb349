/* hb_log: one structured line per event worth a human's attention. */
#ifndef HB_LOG_H
#define HB_LOG_H

#include <stddef.h>

#define HB_LOG_ERR   3
#define HB_LOG_WARN  4
#define HB_LOG_INFO  6
#define HB_LOG_DEBUG 7

/** Longest line written, newline included; a longer one is cut (see
 *  hb_log). */
#define HB_LOG_LINE_MAX 4096

/** @brief Threshold and format (0 logfmt, 1 JSON lines); default info,
 *  logfmt. Call before other threads log. */
void hb_log_setup(int level, int json);

/** @returns 1 when \p level would be written. */
int hb_log_enabled(int level);

/**
 * @brief Write one line to stderr: time, level, \p msg, then the fields of
 *        \p fmt. Thread-safe (one write()).
 *
 * \p fmt is a list of space-separated fields "key=VALUE": the key is
 * [A-Za-z0-9_.-] written in the format itself, VALUE is printf text (one
 * or more conversions and/or literal text, no space) or "..." (quoted in
 * the format: may hold spaces), e.g.
 * "topic=%s partition=%d error=\"%s\"". The logger renders each VALUE and
 * escapes it itself, in both formats: a caller never quotes or escapes
 * (and must not: its escapes would be escaped again), so no value, whoever
 * wrote it (a receiver's TLS certificate, a broker, an event), can end a
 * line, start a field or add a key.
 *
 * logfmt: a value of printable ASCII without space, '"', '=' or '\\' is
 * written bare (unless quoted in the format), anything else "quoted"
 * with JSON's escapes: \" \\ \n \r \t, \u00XX for other C0 controls, DEL
 * and C1 (U+0080-U+009F), \uXXXX for U+2028/U+2029 and the bidirectional
 * controls, \ufffd for each byte that is not valid UTF-8. JSON: one object
 * {"ts","level","msg",fields...} with every value a string escaped the
 * same way. A key that repeats an earlier one (or ts, level, msg) becomes
 * key_N (N its position), so a JSON line never has a duplicate key; a
 * token that is not key=VALUE is kept as the value of "fmt_error". A line
 * longer than HB_LOG_LINE_MAX is cut between two characters and still
 * well formed, marked truncated=1 (logfmt) or "truncated":"1" (JSON).
 */
void hb_log(int level, const char *msg, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/**
 * @brief \p s (\p n bytes, NULs included) made safe for a terminal, as
 *        text: C0 controls, DEL, C1, U+2028/U+2029 and the bidirectional
 *        controls written \n \r \t or \uXXXX, a byte that is not UTF-8
 *        as \xNN; quotes and backslashes as they are. Cut between two
 *        characters to fit \p size. For what a peer sent (a receiver's
 *        response) before it is printed.
 * @returns \p buf.
 */
const char *hb_log_printable(char *buf, size_t size, const char *s, size_t n);

/**
 * @brief One librdkafka log line (its log_cb: syslog \p level, facility,
 *        text) as a structured "librdkafka" line: levels 0-3 as errors, 4
 *        as warnings, the rest as debug.
 */
void hb_log_librdkafka(int level, const char *fac, const char *buf);

#endif
