/* hb_fmt: what the per-delivery path formats, without the printf engine
 * (a tenth of its own work went to snprintf): an int64 in decimal and
 * strings joined, with snprintf's results. */
#ifndef HB_FMT_H
#define HB_FMT_H

#include <stddef.h>
#include <stdint.h>

/** Room hb_fmt_i64() needs: "-9223372036854775808" and its NUL. */
#define HB_FMT_I64_MAX 21

/** @brief Write \p v in decimal (as "%" PRId64) and a NUL into \p out
 *         (HB_FMT_I64_MAX bytes). @returns the length written. */
size_t hb_fmt_i64(char *out, int64_t v);

/**
 * @brief Join the strings after \p size (up to a NULL) into \p out, as
 *        snprintf(out, size, "%s%s...", ...) does: cut to size - 1 bytes
 *        and NUL-terminated (nothing written when \p size is 0).
 * @returns the length of the whole join (>= size: it was cut).
 */
size_t hb_fmt_cat(char *out, size_t size, ...) __attribute__((sentinel));

#endif
