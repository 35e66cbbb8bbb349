/* fuzz_sign: wh_key_new() on arbitrary secrets and wh_verify_standard()/
 * wh_verify_userpilot() on arbitrary header strings. Input: the secret,
 * a NUL byte, then the header (no NUL: the whole input is the header,
 * with a fixed secret). A header verifies only when it carries the real
 * signature, and what we sign always verifies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fz_util.h"
#include "wh_sign.h"

static const char fz_id[] = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
static const char fz_ts[] = "1674087231";
static const char fz_body[] = "{\"type\":\"flows.completed\",\"data\":{}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* @returns 1 when the space-separated \p header has the entry \p sig. */
static int fz_has_entry(const char *header, const char *sig)
{
        size_t n = strlen(sig);

        for (const char *p = header; (p = strstr(p, sig)) != NULL; p++) {
                if ((p == header || p[-1] == ' ') &&
                    (p[n] == '\0' || p[n] == ' '))
                        return 1;
        }
        return 0;
}

/*
 * Userpilot: when \p header verifies, one of its "t=<digits>" must come
 * with a "v1=" holding the HMAC for those digits (in any case).
 * @returns 1 when that holds, or when a t= cannot be re-signed here
 *          (leading zeros, more than 18 digits: not checked).
 */
static int fz_userpilot_explained(const wh_key_t *key, const char *header)
{
        size_t blen = sizeof(fz_body) - 1;
        char up[WH_SIGN_MAX];

        for (const char *t = header; (t = strstr(t, "t=")) != NULL; t++) {
                size_t k = strspn(t + 2, "0123456789");
                if (k == 0)
                        continue;
                if (k > 18 || (t[2] == '0' && k > 1))
                        return 1;
        }
        for (const char *t = header; (t = strstr(t, "t=")) != NULL; t++) {
                const char *hex;
                if (!strspn(t + 2, "0123456789"))
                        continue;
                if (wh_sign_userpilot(key, strtoll(t + 2, NULL, 10), fz_body,
                                      blen, up, sizeof(up)) < 0)
                        fz_fail("cannot sign for '%s'", t);
                hex = strstr(up, "v1=") + 3;
                for (const char *v = header; (v = strstr(v, "v1=")) != NULL;
                     v++) {
                        if (!strncasecmp(v + 3, hex, 64))
                                return 1;
                }
        }
        return 0;
}

static void fz_roundtrip(const wh_key_t *key, const char *header)
{
        char sig[WH_SIGN_MAX], up[WH_SIGN_MAX], both[3 * WH_SIGN_MAX];
        size_t blen = sizeof(fz_body) - 1;
        int n;

        n = wh_sign_standard(key, fz_id, 1674087231, fz_body, blen, sig,
                             sizeof(sig));
        FZ_CHECK(n == 47 && !strncmp(sig, "v1,", 3), "bad signature '%s'", sig);
        FZ_CHECK(wh_verify_standard(key, fz_id, fz_ts, fz_body, blen, sig) == 1,
                 "our own signature does not verify");
        if (strlen(header) < WH_SIGN_MAX) {
                /* a rotation: the real one among others */
                memcpy(both, header, strlen(header));
                both[strlen(header)] = ' ';
                memcpy(both + strlen(header) + 1, sig, (size_t)n + 1);
                FZ_CHECK(wh_verify_standard(key, fz_id, fz_ts, fz_body, blen,
                                            both) == 1,
                         "our signature after '%s' does not verify", header);
        }
        if (wh_verify_standard(key, fz_id, fz_ts, fz_body, blen, header))
                FZ_CHECK(fz_has_entry(header, sig),
                         "header '%s' verifies without the signature", header);
        /* Tampered inputs never verify. */
        FZ_CHECK(!wh_verify_standard(key, fz_id, "1674087232", fz_body, blen,
                                     sig),
                 "another timestamp verifies");
        FZ_CHECK(!wh_verify_standard(key, fz_id, fz_ts, fz_body, blen - 1, sig),
                 "a shorter body verifies");

        n = wh_sign_userpilot(key, 1674087231, fz_body, blen, up, sizeof(up));
        FZ_CHECK(n == 2 + 10 + 4 + 64, "bad userpilot signature '%s'", up);
        FZ_CHECK(wh_verify_userpilot(key, fz_body, blen, up) == 1,
                 "our userpilot signature does not verify");
        if (wh_verify_userpilot(key, fz_body, blen, header))
                FZ_CHECK(fz_userpilot_explained(key, header),
                         "userpilot header '%s' verifies without the "
                         "signature",
                         header);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *in = fz_cstr(data, size);
        const char *nul = memchr(data, '\0', size);
        const char *secret =
                nul ? in : "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        const char *header = nul ? in + (nul - (const char *)data) + 1 : in;
        char err[256];
        wh_key_t *key;

        memset(err, 'x', sizeof(err));
        key = wh_key_new(secret, err, sizeof(err));
        if (!key) {
                size_t n = strnlen(err, sizeof(err));
                FZ_CHECK(n < sizeof(err) && n > 0, "no error text");
                /* errors never quote the secret */
                FZ_CHECK(strlen(secret) < 8 || !strstr(err, secret),
                         "error text quotes the secret");
        } else {
                fz_roundtrip(key, header);
        }
        /* verification with a NULL key or id never matches */
        FZ_CHECK(!wh_verify_standard(NULL, fz_id, fz_ts, fz_body, 3, header),
                 "NULL key verifies");
        wh_key_destroy(key);
        free(in);
        return 0;
}
