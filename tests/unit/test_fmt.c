/* Tests for hb_fmt: the same text as snprintf, truncation included. */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hb_fmt.h"

Test(fmt, i64_as_printf)
{
        static const int64_t v[] = {0,         1,          -1,
                                    9,         10,         -10,
                                    123456789, 1700000000, -1700000000123,
                                    INT64_MAX, INT64_MIN,  INT64_MIN + 1};
        char a[HB_FMT_I64_MAX], b[64];

        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
                size_t n = hb_fmt_i64(a, v[i]);
                int m = snprintf(b, sizeof(b), "%" PRId64, v[i]);
                cr_expect_str_eq(a, b);
                cr_expect_eq(n, (size_t)m);
        }
}

/* snprintf, cut on purpose (no -Wformat-truncation for a v- call) */
static int cut(char *out, size_t size, const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(out, size, fmt, ap);
        va_end(ap);
        return n;
}

Test(fmt, cat_as_snprintf)
{
        static const char *const s[] = {
                "", "a", "webhook=\"crm\"", ",outcome=\"", "delivered", "\""};
        char a[32], b[32];

        for (size_t size = 0; size <= sizeof(a); size++) {
                size_t n;
                int m;
                memset(a, 'x', sizeof(a));
                memset(b, 'x', sizeof(b));
                n = hb_fmt_cat(a, size, s[0], s[1], s[2], s[3], s[4], s[5],
                               NULL);
                m = cut(b, size, "%s%s%s%s%s%s", s[0], s[1], s[2], s[3], s[4],
                        s[5]);
                cr_expect_eq(n, (size_t)m, "size %zu", size);
                cr_expect(!memcmp(a, b, sizeof(a)), "size %zu: '%.32s' '%.32s'",
                          size, a, b);
        }
        cr_expect_eq(hb_fmt_cat(a, sizeof(a), NULL), 0);
        cr_expect_str_eq(a, "");
}
