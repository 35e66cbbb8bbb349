/* Tests for hb_log: librdkafka's lines as structured log lines. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <stdio.h>
#include <string.h>

#include "hb_log.h"

static char *read_stderr(void)
{
        static char buf[4096];
        FILE *f = cr_get_redirected_stderr();
        size_t n;

        fflush(stderr);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        return buf;
}

Test(log, librdkafka_lines_are_structured_and_quoted,
     .init = cr_redirect_stderr)
{
        char *out;

        hb_log_setup(HB_LOG_INFO, 0);
        hb_log_librdkafka(4, "CONFWARN", "property \"x\" is ignored");
        hb_log_librdkafka(3, "FAIL", "broker down");
        /* librdkafka's debug and info lines stay below the threshold */
        hb_log_librdkafka(7, "FETCH", "noise");
        hb_log_librdkafka(6, "INFO", "noise");
        out = read_stderr();
        cr_expect_not_null(strstr(out, "level=warn msg=\"librdkafka\" "
                                       "facility=CONFWARN detail=\"property "
                                       "\\\"x\\\" is ignored\""),
                           "%s", out);
        cr_expect_not_null(strstr(out, "level=error msg=\"librdkafka\" "
                                       "facility=FAIL detail=\"broker down\""),
                           "%s", out);
        cr_expect_null(strstr(out, "noise"), "%s", out);
}
