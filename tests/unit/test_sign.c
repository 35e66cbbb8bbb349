/* Tests for wh_sign: Standard Webhooks and Userpilot signatures. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "wh_sign.h"

#define SW_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SW_ID     "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SW_TS     1614265330
#define SW_BODY   "{\"test\": 2432232314}"
#define SW_SIG    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static wh_key_t *key_or_die(const char *secret)
{
        char err[256] = "";
        wh_key_t *key = wh_key_new(secret, err, sizeof(err));

        cr_assert_not_null(key, "wh_key_new: %s", err);
        return key;
}

Test(sign, standard_webhooks_published_example)
{
        wh_key_t *key = key_or_die(SW_SECRET);
        char out[WH_SIGN_MAX];
        int n = wh_sign_standard(key, SW_ID, SW_TS, SW_BODY, strlen(SW_BODY),
                                 out, sizeof(out));

        cr_assert_eq(n, (int)strlen(SW_SIG));
        cr_assert_str_eq(out, SW_SIG);
        wh_key_destroy(key);
}

Test(sign, standard_verify_example_and_rotation_list)
{
        wh_key_t *key = key_or_die(SW_SECRET);
        const char *b = SW_BODY;
        size_t bl = strlen(b);

        cr_assert_eq(
                wh_verify_standard(key, SW_ID, "1614265330", b, bl, SW_SIG), 1);
        /* several entries, the matching one anywhere in the list */
        cr_assert_eq(wh_verify_standard(
                             key, SW_ID, "1614265330", b, bl,
                             "v1,Zm9vYmFyYmF6Zm9vYmFyYmF6Zm9vYmFyYmF6Zm9vYmE= "
                             "v2,xyz " SW_SIG),
                     1);
        cr_assert_eq(wh_verify_standard(key, SW_ID, "1614265330", b, bl,
                                        SW_SIG " v1,AAAA"),
                     1);
        /* tampering with anything signed breaks it */
        cr_assert_eq(
                wh_verify_standard(key, SW_ID, "1614265331", b, bl, SW_SIG), 0);
        cr_assert_eq(wh_verify_standard(key, "msg_other", "1614265330", b, bl,
                                        SW_SIG),
                     0);
        cr_assert_eq(
                wh_verify_standard(key, SW_ID, "1614265330", b, bl - 1, SW_SIG),
                0);
        /* wrong version prefix, truncated, empty */
        cr_assert_eq(wh_verify_standard(
                             key, SW_ID, "1614265330", b, bl,
                             "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
                     0);
        cr_assert_eq(wh_verify_standard(key, SW_ID, "1614265330", b, bl,
                                        "v1,g0hM9SsE"),
                     0);
        cr_assert_eq(wh_verify_standard(key, SW_ID, "1614265330", b, bl, ""),
                     0);
        wh_key_destroy(key);
}

Test(sign, whsec_padding_and_raw_equivalence)
{
        /* "hello" is aGVsbG8= in base64: padded, unpadded and raw keys
         * must all sign identically */
        wh_key_t *padded = key_or_die("whsec_aGVsbG8=");
        wh_key_t *bare = key_or_die("whsec_aGVsbG8");
        wh_key_t *raw = key_or_die("hello");
        wh_key_t *other = key_or_die("hellO");
        char a[WH_SIGN_MAX], b[WH_SIGN_MAX], c[WH_SIGN_MAX], d[WH_SIGN_MAX];

        cr_assert_gt(wh_sign_standard(padded, "id", 1, "{}", 2, a, sizeof(a)),
                     0);
        cr_assert_gt(wh_sign_standard(bare, "id", 1, "{}", 2, b, sizeof(b)), 0);
        cr_assert_gt(wh_sign_standard(raw, "id", 1, "{}", 2, c, sizeof(c)), 0);
        cr_assert_gt(wh_sign_standard(other, "id", 1, "{}", 2, d, sizeof(d)),
                     0);
        cr_assert_str_eq(a, b);
        cr_assert_str_eq(a, c);
        cr_assert_str_neq(a, d);
        wh_key_destroy(padded);
        wh_key_destroy(bare);
        wh_key_destroy(raw);
        wh_key_destroy(other);
}

Test(sign, raw_secret_known_value)
{
        /* openssl: printf 'id1.100.' | openssl dgst -sha256 -hmac k -binary
         * | base64 */
        wh_key_t *key = key_or_die("k");
        char out[WH_SIGN_MAX];

        cr_assert_gt(
                wh_sign_standard(key, "id1", 100, NULL, 0, out, sizeof(out)),
                0);
        cr_assert_str_eq(out,
                         "v1,84+xv/e/F6N/P6Bs60ZMRo+4I8jhhf3yyVWnvCgo8lw=");
        wh_key_destroy(key);
}

Test(sign, bad_secrets_are_rejected_without_echo)
{
        const char *bad[] = {
                "",        "whsec_",     "whsec_not base64!",
                "whsec_A", "whsec_QQ=a", "whsec_TOPSECRET*",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char err[256] = "";
                wh_key_t *key = wh_key_new(bad[i], err, sizeof(err));

                cr_expect_null(key, "accepted \"%s\"", bad[i]);
                cr_expect_neq(err[0], '\0');
                cr_expect_null(strstr(err, "TOPSECRET"));
                wh_key_destroy(key);
        }
        cr_assert_null(wh_key_new(NULL, NULL, 0));
        wh_key_destroy(NULL);
}

Test(sign, output_buffer_too_small)
{
        wh_key_t *key = key_or_die(SW_SECRET);
        char out[16];

        cr_assert_eq(wh_sign_standard(key, SW_ID, SW_TS, SW_BODY,
                                      strlen(SW_BODY), out, sizeof(out)),
                     -1);
        cr_assert_eq(wh_sign_userpilot(key, SW_TS, SW_BODY, strlen(SW_BODY),
                                       out, sizeof(out)),
                     -1);
        wh_key_destroy(key);
}

Test(sign, userpilot_known_values)
{
        /* printf '%s' '{"test": 2432232314}.1614265330' |
         *      openssl dgst -sha256 -hmac my-raw-secret */
        wh_key_t *raw = key_or_die("my-raw-secret");
        wh_key_t *sw = key_or_die(SW_SECRET);
        char out[WH_SIGN_MAX];
        int n;

        n = wh_sign_userpilot(raw, SW_TS, SW_BODY, strlen(SW_BODY), out,
                              sizeof(out));
        cr_assert_str_eq(out, "t=1614265330,v1=565dd8515b81989cf3ab887c62bb7f"
                              "d397cd85a247f68bc1aeef17230a366805");
        cr_assert_eq(n, (int)strlen(out));
        wh_sign_userpilot(sw, SW_TS, SW_BODY, strlen(SW_BODY), out,
                          sizeof(out));
        cr_assert_str_eq(out, "t=1614265330,v1=64549519e439f881ebffa58fad50be"
                              "f3e2e995e1da486a24e3d361a3351b94d4");
        wh_key_destroy(raw);
        wh_key_destroy(sw);
}

Test(sign, userpilot_verify)
{
        wh_key_t *key = key_or_die("my-raw-secret");
        wh_key_t *prev = key_or_die("old-secret");
        const char *b = SW_BODY;
        size_t bl = strlen(b);
        char cur[WH_SIGN_MAX], old[WH_SIGN_MAX], both[2 * WH_SIGN_MAX];
        char upper[WH_SIGN_MAX];

        wh_sign_userpilot(key, 1700000000, b, bl, cur, sizeof(cur));
        wh_sign_userpilot(prev, 1700000000, b, bl, old, sizeof(old));
        cr_assert_eq(wh_verify_userpilot(key, b, bl, cur), 1);
        cr_assert_eq(wh_verify_userpilot(key, b, bl, old), 0);
        cr_assert_eq(wh_verify_userpilot(prev, b, bl, old), 1);
        /* rotation: both entries, space-separated */
        snprintf(both, sizeof(both), "%s %s", old, cur);
        cr_assert_eq(wh_verify_userpilot(key, b, bl, both), 1);
        cr_assert_eq(wh_verify_userpilot(prev, b, bl, both), 1);
        /* hex case does not matter */
        snprintf(upper, sizeof(upper), "%s", cur);
        for (char *c = strstr(upper, "v1=") + 3; *c; c++) {
                if (*c >= 'a' && *c <= 'f')
                        *c = (char)(*c - 'a' + 'A');
        }
        cr_assert_eq(wh_verify_userpilot(key, b, bl, upper), 1);
        /* body or timestamp changed */
        cr_assert_eq(wh_verify_userpilot(key, b, bl - 1, cur), 0);
        cur[3] = cur[3] == '1' ? '2' : '1'; /* t=1700... -> t=1200... */
        cr_assert_eq(wh_verify_userpilot(key, b, bl, cur), 0);
        cr_assert_eq(wh_verify_userpilot(key, b, bl, "t=1,v1=zz"), 0);
        cr_assert_eq(wh_verify_userpilot(key, b, bl, "v1=00"), 0);
        cr_assert_eq(wh_verify_userpilot(key, b, bl, ""), 0);
        wh_key_destroy(key);
        wh_key_destroy(prev);
}

/* The prepared ipad/opad states against OpenSSL's one-shot HMAC(), for
 * keys around the 64-byte block (a longer key is hashed first). */
Test(sign, prepared_hmac_matches_openssl_for_every_key_length)
{
        static const size_t lens[] = {1, 31, 32, 63, 64, 65, 131, 200};
        const char *body = "{\"type\":\"flows.completed\"}";
        char secret[256], out[WH_SIGN_MAX], expect[WH_SIGN_MAX];
        char msg[128];

        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
                unsigned char md[32];
                unsigned int md_len = 0;
                wh_key_t *key;
                int n;

                for (size_t j = 0; j < lens[i]; j++)
                        secret[j] = (char)('!' + (j * 7 + i) % 90);
                secret[lens[i]] = '\0';
                key = key_or_die(secret);
                n = snprintf(msg, sizeof(msg), "id-%zu.1700000000.%s", i, body);
                cr_assert_not_null(HMAC(EVP_sha256(), secret, (int)lens[i],
                                        (const unsigned char *)msg, (size_t)n,
                                        md, &md_len));
                memcpy(expect, "v1,", 3);
                EVP_EncodeBlock((unsigned char *)expect + 3, md, 32);
                snprintf(msg, sizeof(msg), "id-%zu", i);
                cr_assert_gt(wh_sign_standard(key, msg, 1700000000, body,
                                              strlen(body), out, sizeof(out)),
                             0);
                cr_expect_str_eq(out, expect, "key of %zu bytes", lens[i]);
                wh_key_destroy(key);
        }
}
