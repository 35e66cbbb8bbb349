/* Tests for hb_http: the one header check (names, values, the headers
 * hookbridge owns) and the modules that use it agreeing. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "hb_http.h"
#include "wh_endpoint.h"
#include <curl/curl.h>

#define OK(s)  cr_expect(hb_http_value_ok(s, strlen(s)), "'%s' refused", s)
#define BAD(s) cr_expect(!hb_http_value_ok(s, strlen(s)), "'%s' accepted", s)

Test(http, field_values)
{
        OK("");
        OK("x");
        OK("Bearer abc.def");
        OK("a\tb c");
        OK("caf\xc3\xa9"); /* obs-text: bytes >= 0x80 */
        OK("!\"#~");
        BAD(" x");
        BAD("x ");
        BAD("\tx");
        BAD("x\t");
        BAD(" ");
        BAD("a\r\nX-Evil: 1");
        BAD("a\nb");
        BAD("a\rb");
        BAD("a\x01");
        BAD("a\x7f");
        BAD("\x1f");
        /* C1 controls in UTF-8 are controls too: CSI, NEL, U+0080 */
        BAD("a\xc2\x9b[2J");
        BAD("a\xc2\x85"
            "b");
        BAD("\xc2\x80");
        BAD("a\xc2\x9f");
        OK("a\xc2\xa0"
           "b");            /* U+00A0, the first after C1 */
        OK("\xe2\x82\xac"); /* a 0x82 continuation byte */
        OK("\xc2");         /* a lone lead byte: obs-text */
        /* the length is the value's: a NUL inside is a control byte */
        cr_expect(!hb_http_value_ok("a\0b", 3));
        cr_expect(hb_http_value_ok("ab \r\n", 2));
}

Test(http, names_and_owned_headers)
{
        for (int c = 1; c < 256; c++) {
                int want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') ||
                           strchr("!#$%&'*+-.^_`|~", c) != NULL;
                cr_expect_eq(hb_http_tchar((char)c), want, "0x%02x", c);
        }
        cr_expect(!hb_http_tchar('\0'));
        cr_expect(hb_http_owned_header("content-TYPE", 12));
        cr_expect(hb_http_owned_header("Webhook-Signature", 17));
        cr_expect(hb_http_owned_header("x-signaturexyz", 11));
        cr_expect(!hb_http_owned_header("X-Signatur", 10));
        cr_expect(!hb_http_owned_header("Authorization", 13));
}

Test(http, header_lines)
{
        static const struct {
                const char *line;
                hb_hdr_problem_t want;
        } cases[] = {
                {"Authorization: Bearer x", HB_HDR_OK},
                {"X-A:b", HB_HDR_OK},
                {"X-A:  b c  ", HB_HDR_OK}, /* the blanks around are OWS */
                {"X-A: b\r\nX-B: c", HB_HDR_LINE_BREAK},
                {"X-A: b\n", HB_HDR_LINE_BREAK},
                {"X-A b", HB_HDR_NO_COLON},
                {": b", HB_HDR_EMPTY_NAME},
                {"X A: b", HB_HDR_BAD_NAME},
                {"X(A): b", HB_HDR_BAD_NAME},
                {"X-A\t: b", HB_HDR_BAD_NAME},
                {"host: evil", HB_HDR_OWNED},
                {"Webhook-Id: 1", HB_HDR_OWNED},
                {"X-A:", HB_HDR_EMPTY_VALUE},
                {"X-A: \t ", HB_HDR_EMPTY_VALUE},
                {"X-A: b\x01", HB_HDR_BAD_VALUE},
                {"X-A: b\x7f c", HB_HDR_BAD_VALUE},
                {"X-A: b\xc2\x9b"
                 "2J",
                 HB_HDR_BAD_VALUE},
                {"X-A: b\xc2\x85", HB_HDR_BAD_VALUE},
        };
        size_t nlen = 99, at = 99;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                cr_expect_eq(hb_http_header_check(cases[i].line, NULL, NULL),
                             cases[i].want, "'%s'", cases[i].line);
        cr_expect_eq(hb_http_header_check("X(A): b", &nlen, &at),
                     HB_HDR_BAD_NAME);
        cr_expect_eq(nlen, 4);
        cr_expect_eq(at, 1);
}

/* A webhook the endpoint takes, but for what a test sets. */
static cfg_webhook_t webhook(void)
{
        cfg_webhook_t w;

        memset(&w, 0, sizeof(w));
        w.name = "a";
        w.url = "http://127.0.0.1:1/";
        w.enabled = 1;
        w.signature = CFG_SIG_STANDARD;
        w.timeout_ms = 1000;
        w.retry.initial_ms = w.retry.max_ms = 1;
        w.retry.max_attempts = 1;
        return w;
}

/* A static header loads from the file exactly when the endpoint takes it
 * (the API hands the endpoint webhooks that never went through the file:
 * both must ask the same check). */
Test(http, config_and_endpoint_agree_on_static_headers)
{
        static const char *const lines[] = {
                "Authorization: Bearer x",
                "X-A:  b c  ",
                "X-A: b\tc",
                "X-A: caf\xc3\xa9",
                "X-A b",
                ": b",
                "X A: b",
                "X(A): b",
                "Host: evil",
                "user-agent: x",
                "X-A:",
                "X-A:   ",
                "X-A: b\x01",
                "X-A: b\x7f",
                "X-A: b\x1b[2J",
                "X-A: b\xc2\x9b[2J",
                "X-A: b\xc2\x85"
                "c",
        };
        char text[1024], errs[4096], err[256];
        size_t loads = 0;

        for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
                cfg_webhook_t w;
                wh_endpoint_t *ep;
                cfg_t *cfg;

                /* libconfig strings: written with \x escapes */
                char esc[128];
                size_t o = 0;
                for (const char *c = lines[i]; *c && o + 5 < sizeof(esc); c++)
                        o += (size_t)snprintf(esc + o, sizeof(esc) - o,
                                              "\\x%02x", (unsigned char)*c);
                esc[o] = '\0';
                snprintf(text, sizeof(text),
                         "kafka = { brokers = \"127.0.0.1:9092\"; "
                         "topics = ( \"events\" ); };\n"
                         "webhooks = ( { name = \"a\"; url = \"http://a/\"; "
                         "events = [ \"*\" ]; headers = [ \"%s\" ]; } );\n",
                         esc);
                cfg = cfg_load_string(text, "t.cfg", errs, sizeof(errs));

                w = webhook();
                w.headers = &lines[i];
                w.header_count = 1;
                ep = wh_endpoint_new(&w, err, sizeof(err));

                cr_expect_eq(cfg != NULL, ep != NULL,
                             "'%s': config %s, endpoint %s (%s%s)", lines[i],
                             cfg ? "loads" : "refuses",
                             ep ? "takes it" : "refuses", errs, ep ? "" : err);
                loads += cfg != NULL;
                cfg_destroy(cfg);
                wh_endpoint_unref(ep);
        }
        cr_expect_eq(loads, 4, "both sides of the rule were tried");
}

/* The endpoint asks the same check of the webhook-id it is handed. */
Test(http, endpoint_refuses_an_id_that_is_no_header_value)
{
        static const char *const bad[] = {" m-1",
                                          "m-1 ",
                                          "m\t",
                                          "m\r\n1",
                                          "m\x7f",
                                          "",
                                          "m\xc2\x9b"
                                          "1",
                                          "m\xc2\x85"
                                          "1"};
        cfg_webhook_t w;
        wh_endpoint_t *ep;
        char err[256];
        void *h;

        w = webhook();
        ep = wh_endpoint_new(&w, err, sizeof(err));
        cr_assert_not_null(ep, "%s", err);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                cr_expect_null(wh_endpoint_headers(ep, bad[i], 1, "{}", 2),
                               "'%s' taken", bad[i]);
        h = wh_endpoint_headers(ep, "m\t1 2", 1, "{}", 2);
        cr_expect_not_null(h);
        curl_slist_free_all(h);
        wh_endpoint_unref(ep);
}
