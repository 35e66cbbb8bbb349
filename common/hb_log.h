/* hb_log: one structured line per event worth a human's attention. */
#ifndef HB_LOG_H
#define HB_LOG_H

#include <stddef.h>

#define HB_LOG_ERR   3
#define HB_LOG_WARN  4
#define HB_LOG_INFO  6
#define HB_LOG_DEBUG 7

/** @brief Threshold and format (0 logfmt, 1 JSON lines); default info,
 *  logfmt. Call before other threads log. */
void hb_log_setup(int level, int json);

/** @returns 1 when \p level would be written. */
int hb_log_enabled(int level);

/**
 * @brief Write one line to stderr: time, level, \p msg, then the fields
 *        printf-formatted from \p fmt as logfmt pairs ("topic=%s
 *        partition=%d"); a value with spaces is written k="v w" by the
 *        caller. Thread-safe (one write()).
 */
/** @brief Escape \p s for a quoted logfmt value (k="%s"): backslash
 *  before '"' and '\\', cut to fit. @returns \p buf. */
const char *hb_log_quote(char *buf, size_t size, const char *s);

void hb_log(int level, const char *msg, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/**
 * @brief One librdkafka log line (its log_cb: syslog \p level, facility,
 *        text) as a structured "librdkafka" line: levels 0-3 as errors, 4
 *        as warnings, the rest as debug.
 */
void hb_log_librdkafka(int level, const char *fac, const char *buf);

#endif
