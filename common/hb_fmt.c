/* hb_fmt: an int64 in decimal and strings joined, as snprintf writes
 * them, for the per-delivery path. */
#include "hb_fmt.h"

#include <stdarg.h>
#include <string.h>

size_t hb_fmt_i64(char *out, int64_t v)
{
        char tmp[HB_FMT_I64_MAX];
        /* the magnitude, also of INT64_MIN */
        uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
        size_t n = 0, o = 0;

        do {
                tmp[n++] = (char)('0' + u % 10);
                u /= 10;
        } while (u);
        if (v < 0)
                out[o++] = '-';
        while (n)
                out[o++] = tmp[--n];
        out[o] = '\0';
        return o;
}

size_t hb_fmt_cat(char *out, size_t size, ...)
{
        va_list ap;
        const char *s;
        size_t total = 0;

        va_start(ap, size);
        while ((s = va_arg(ap, const char *)) != NULL) {
                size_t n = strlen(s);
                if (total + 1 < size) {
                        size_t room = size - 1 - total;
                        memcpy(out + total, s, n < room ? n : room);
                }
                total += n;
        }
        va_end(ap);
        if (size)
                out[total < size ? total : size - 1] = '\0';
        return total;
}
