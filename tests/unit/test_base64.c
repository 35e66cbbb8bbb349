/* Tests for hb_base64: the one base64 codec (signing keys, their check in
 * the configuration, signatures). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "hb_base64.h"
#include "wh_sign.h"

/* RFC 4648 section 10. */
static const char *const rfc[][2] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
};

Test(base64, rfc4648_vectors_encode)
{
        char out[16];

        for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
                size_t n = strlen(rfc[i][0]);
                cr_expect_eq(hb_base64_encode((const unsigned char *)rfc[i][0],
                                              n, out, sizeof(out)),
                             strlen(rfc[i][1]));
                cr_expect_str_eq(out, rfc[i][1]);
                cr_expect_eq(HB_BASE64_ENCODED_LEN(n), strlen(rfc[i][1]));
        }
}

Test(base64, rfc4648_vectors_decode_with_and_without_padding)
{
        unsigned char out[16];
        size_t len;

        for (size_t i = 1; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
                const char *b = rfc[i][1];
                size_t n = strlen(b), bare = n;
                while (bare > 0 && b[bare - 1] == '=')
                        bare--;
                cr_assert_eq(hb_base64_decode(b, n, out, sizeof(out), &len), 0,
                             "%s", b);
                cr_expect_eq(len, strlen(rfc[i][0]));
                cr_expect_eq(memcmp(out, rfc[i][0], len), 0, "%s", b);
                cr_expect(len <= HB_BASE64_DECODED_MAX(n));
                /* padding is optional */
                cr_assert_eq(hb_base64_decode(b, bare, out, sizeof(out), &len),
                             0, "%.*s", (int)bare, b);
                cr_expect_eq(len, strlen(rfc[i][0]));
                cr_expect_eq(memcmp(out, rfc[i][0], len), 0);
                /* checking only: the same answer */
                len = 0;
                cr_expect_eq(hb_base64_decode(b, n, NULL, 0, &len), 0);
                cr_expect_eq(len, strlen(rfc[i][0]));
        }
}

Test(base64, round_trips_every_byte_and_length)
{
        unsigned char in[300], back[300];
        char enc[HB_BASE64_ENCODED_LEN(300) + 1];
        size_t len;

        for (size_t i = 0; i < sizeof(in); i++)
                in[i] = (unsigned char)(i * 7 + 3);
        for (size_t n = 1; n <= sizeof(in); n++) {
                size_t e = hb_base64_encode(in, n, enc, sizeof(enc));
                cr_assert_eq(e, HB_BASE64_ENCODED_LEN(n));
                cr_assert_eq(hb_base64_decode(enc, e, back, sizeof(back), &len),
                             0);
                cr_assert_eq(len, n);
                cr_assert_eq(memcmp(in, back, n), 0, "length %zu", n);
        }
}

Test(base64, refuses_what_is_not_standard_base64)
{
        static const char *const bad[] = {
                "",       "=",         "==",     "Zg===",  "Z",
                "Zm9vY",  "Zm9vY===",  "Zm 9v",  "Zm9v\n", " Zm9v",
                "Zm=9v",  "Zg==Zg==",  "Zm9v-_", "Zm9v_w", "Zm9v-w",
                "Zm9v*w", "Zm9v\x80w", "Zm9v.w",
        };
        unsigned char out[16];
        size_t len = 12345;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                cr_expect_eq(hb_base64_decode(bad[i], strlen(bad[i]), out,
                                              sizeof(out), &len),
                             -1, "'%s' accepted", bad[i]);
                cr_expect_eq(
                        hb_base64_decode(bad[i], strlen(bad[i]), NULL, 0, &len),
                        -1, "'%s' accepted (check only)", bad[i]);
        }
        cr_expect_eq(len, 12345);
        /* a NUL inside is not base64 either */
        cr_expect_eq(hb_base64_decode("Zm\0v", 4, out, sizeof(out), &len), -1);
}

Test(base64, never_writes_past_the_room_given)
{
        unsigned char out[8];
        char enc[8];
        size_t len;

        memset(out, 0xaa, sizeof(out));
        /* "foobar" needs 6 bytes */
        cr_expect_eq(hb_base64_decode("Zm9vYmFy", 8, out, 5, &len), -1);
        cr_expect_eq(out[0], 0xaa);
        cr_expect_eq(hb_base64_decode("Zm9vYmFy", 8, out, 6, &len), 0);
        cr_expect_eq(out[6], 0xaa);
        /* "foobar" encodes to 8 characters and a NUL */
        cr_expect_eq(
                hb_base64_encode((const unsigned char *)"foobar", 6, enc, 8),
                0);
        cr_expect_str_eq(enc, "");
        char exact[9];
        cr_expect_eq(hb_base64_encode((const unsigned char *)"fooba", 5, exact,
                                      sizeof(exact)),
                     8);
        cr_expect_str_eq(exact, "Zm9vYmE=");
}

/* The configuration's check of a "whsec_" secret and the signer's decoding
 * of it are one codec: a secret loads exactly when it gives a key. */
Test(base64, config_and_signer_agree_on_whsec_secrets)
{
        static const char *const secrets[] = {
                "whsec_aGVsbG8=", "whsec_aGVsbG8",  "whsec_aGVsbA==",
                "whsec_aGVsbA",   "whsec_aGVsbA=",  "whsec_MfKQ9r8G+/==",
                "whsec_",         "whsec_=",        "whsec_A",
                "whsec_QQ=a",     "whsec_aGVs bG8", "whsec_aGVsbG8===",
                "whsec_aGV-bG8",  "whsec_aGV_bG8",  "whsec_aGVsbG8\t",
                "not-base64-raw",
        };
        char text[512], errs[4096], kerr[256];
        size_t loads = 0;

        for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
                cfg_t *cfg;
                wh_key_t *key;

                snprintf(text, sizeof(text),
                         "kafka = { brokers = \"127.0.0.1:9092\"; "
                         "topics = ( \"events\" ); };\n"
                         "webhooks = ( { name = \"a\"; url = \"http://a/\"; "
                         "events = [ \"*\" ]; secret_env = "
                         "\"HB_TEST_B64\"; } );\n");
                setenv("HB_TEST_B64", secrets[i], 1);
                cfg = cfg_load_string(text, "t.cfg", errs, sizeof(errs));
                key = wh_key_new(secrets[i], kerr, sizeof(kerr));
                cr_expect_eq(cfg != NULL, key != NULL,
                             "'%s': config %s, signer %s (%s%s)", secrets[i],
                             cfg ? "loads" : "refuses",
                             key ? "decodes" : "refuses", errs, kerr);
                loads += cfg != NULL;
                cfg_destroy(cfg);
                wh_key_destroy(key);
        }
        unsetenv("HB_TEST_B64");
        cr_expect_eq(loads, 7, "both sides of the rule were tried");
}
