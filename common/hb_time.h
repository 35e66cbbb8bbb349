/* hb_time: the clocks, the one ISO-8601 parser (TIME arguments and event
 * timestamps) and the TIME arguments of the command line (replay
 * --from/--to): ISO-8601, epoch milliseconds or relative to now. */
#ifndef HB_TIME_H
#define HB_TIME_H

#include <stddef.h>
#include <stdint.h>

/**
 * @brief Parse an ISO-8601 / RFC 3339 timestamp \p s[0, n) (no NUL
 *        needed) into epoch milliseconds (UTC): the one parser of the
 *        command line's TIME and of the raw events' "timestamp".
 *
 * The rules:
 *  - `YYYY-MM-DD`, then optionally `T` (or `t`, or a space) and
 *    `HH:MM[:SS[.fraction]]` (`,` for `.` too); fractions of any length
 *    are cut to milliseconds (floor);
 *  - a time must carry its zone: `Z` (`z`), `+HH:MM`, `+HHMM` or `+HH`
 *    (or `-`), offsets up to 23:59. Without one ISO-8601 means the
 *    writer's local time, which is not known here: refused, not guessed;
 *  - a bare date is midnight UTC of that day;
 *  - second 60 (a leap second, RFC 3339) is the first second of the next
 *    minute: POSIX time has no leap seconds;
 *  - years 0000 to 9999, before 1970 too (a negative result).
 *
 * @returns 0 with the time in \p out_ms, or -1 with the reason (without
 *          the input) in \p errstr (which may be NULL).
 */
int hb_time_iso_parse(const char *s, size_t n, int64_t *out_ms, char *errstr,
                      size_t errstr_size);

/**
 * @brief Parse a TIME into epoch milliseconds (UTC).
 *
 * Accepted forms:
 *  - ISO-8601 as hb_time_iso_parse() reads it: `2024-03-01T12:00:00Z`,
 *    `2024-03-01T12:00:00.250+02:00`, `2024-03-01T12:00+0200`,
 *    `2024-03-01 12:00:00Z`, a bare date `2024-03-01` (midnight UTC);
 *  - epoch milliseconds: all digits (`1709294400000`);
 *  - relative to \p now_ms: `-45s`, `-30m`, `-2h`, `-7d`, or a sum of
 *    them (`-1h30m`); and `now`.
 *
 * Times before 1970 are refused (Kafka's timestamp lookups give negative
 * values a meaning of their own).
 *
 * @returns 0 with the time in \p out_ms, or -1 with the reason in
 *          \p errstr.
 */
int hb_time_parse(const char *s, int64_t now_ms, int64_t *out_ms, char *errstr,
                  size_t errstr_size);

/**
 * @brief Format epoch milliseconds as `2024-03-01T12:00:00.250Z` (the
 *        fraction only when it is not zero).
 * @returns \p out.
 */
char *hb_time_format(int64_t ms, char *out, size_t out_size);

/** @returns the wall clock in epoch milliseconds. */
int64_t hb_time_now_ms(void);

/** @returns a monotonic clock in milliseconds (for timeouts and rates). */
int64_t hb_time_mono_ms(void);

#endif
