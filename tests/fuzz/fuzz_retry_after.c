/* fuzz_retry_after: wh_retry_after_parse() on arbitrary header values,
 * against a few clocks; a delay is never negative nor above the week the
 * parser caps at, and delta-seconds agree with a plain reference. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fz_util.h"
#include "wh_retry.h"

/* wh_retry.c caps every Retry-After at a week. */
#define FZ_MAX_MS ((int64_t)7 * 86400 * 1000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Delta-seconds by the book: 1*DIGIT between optional blanks (and a
 * trailing CR/LF, which the parser also tolerates). @returns 1 and the
 * capped delay, or 0 when \p s is not delta-seconds. */
static int fz_ref_delta(const char *s, int64_t *ms)
{
        const char *b = s, *e = s + strlen(s);
        int64_t v = 0;

        while (b < e && (*b == ' ' || *b == '\t'))
                b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
                         e[-1] == '\n'))
                e--;
        if (b == e || *b < '0' || *b > '9')
                return 0;
        for (const char *p = b; p < e; p++) {
                if (*p < '0' || *p > '9')
                        return 0;
                if (v < 7 * 86400)
                        v = v * 10 + (*p - '0');
        }
        *ms = (v > 7 * 86400 ? 7 * 86400 : v) * 1000;
        return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* the epoch, "now" (Nov 2023), a leap day, 2099 and a far date */
        static const time_t nows[] = {0, 1700000000, 1709164800, 4102444799,
                                      253402300799};
        char *s = fz_cstr(data, size);
        int64_t ref = -1, ms;
        int is_delta = fz_ref_delta(s, &ref);

        for (size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
                int r;

                ms = -42;
                r = wh_retry_after_parse(s, nows[i], &ms);
                FZ_CHECK(r == 0 || r == -1, "returned %d", r);
                if (r == -1) {
                        FZ_CHECK(!is_delta, "delta-seconds '%s' rejected", s);
                        continue;
                }
                FZ_CHECK(ms >= 0 && ms <= FZ_MAX_MS,
                         "delay %lld ms out of [0, a week] for '%s'",
                         (long long)ms, s);
                FZ_CHECK(ms % 1000 == 0, "delay %lld ms is not whole seconds",
                         (long long)ms);
                if (is_delta)
                        FZ_CHECK(ms == ref, "'%s' gives %lld ms, expected %lld",
                                 s, (long long)ms, (long long)ref);
        }
        /* The date forms are ASCII; anything else must be refused. */
        for (size_t i = 0; i < size; i++) {
                if (data[i] >= 0x80 || (data[i] < 0x20 && data[i] != '\t' &&
                                        data[i] != '\r' && data[i] != '\n')) {
                        if (memchr(s, '\0', size) == NULL)
                                FZ_CHECK(wh_retry_after_parse(s, 1700000000,
                                                              &ms) == -1,
                                         "a value with byte 0x%02x accepted",
                                         data[i]);
                        break;
                }
        }
        free(s);
        return 0;
}
