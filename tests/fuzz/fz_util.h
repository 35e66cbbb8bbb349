/* fz_util: checks shared by the libFuzzer harnesses in tests/fuzz/. */
#ifndef HB_FZ_UTIL_H
#define HB_FZ_UTIL_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/**
 * @brief Report a broken invariant on stderr and abort(), which libFuzzer
 *        records as a crash (and saves the input).
 */
void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));

/** Abort with a message when \p cond does not hold. */
#define FZ_CHECK(cond, ...)                   \
        do {                                  \
                if (!(cond))                  \
                        fz_fail(__VA_ARGS__); \
        } while (0)

/** @returns a malloc()ed NUL-terminated copy of \p data (aborts on OOM). */
char *fz_cstr(const uint8_t *data, size_t size);

/** @returns 1 when \p s[0, n) is valid UTF-8 (RFC 3629), else 0. */
int fz_utf8_valid(const char *s, size_t n);

/** @returns 1 when \p s[0, n) holds a control character: C0, DEL, or C1
 *           (U+0080..U+009F) in UTF-8. */
int fz_has_ctl(const char *s, size_t n);

/** @returns 1 when \p s[0, n) may be sent as a header value (RFC 9110
 *           field-value): no control character but a tab, and no blank at
 *           either end. */
int fz_header_value_ok(const char *s, size_t n);

/**
 * @brief Parse \p s[0, n) as strict JSON (no trailing data, valid UTF-8).
 * @returns the value (caller puts it), or NULL when it is not JSON.
 */
json_object *fz_json_strict(const char *s, size_t n);

/**
 * @brief Append \p s[0, n) to \p out as the inside of a JSON string:
 *        valid UTF-8 is kept, '"', '\\', control bytes and bytes that are
 *        not UTF-8 become \u00XX (an invalid byte becomes U+00XX).
 * @returns the bytes written; \p out must hold 6 * n.
 */
size_t fz_json_escape(char *out, const char *s, size_t n);

#endif
