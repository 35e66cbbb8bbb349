/* wh_sign: webhook signatures (Standard Webhooks and Userpilot style). */

/* HMAC is computed from SHA256_CTX states prepared once per key (the
 * classic ipad/opad precomputation): signing then costs the hashing of
 * the message alone, with no allocation and no algorithm fetch, and is
 * safe from any number of threads. OpenSSL 3 marks the SHA256_* calls
 * deprecated (not removed); EVP_MAC would re-fetch SHA-256 and redo the
 * key schedule on every call, which was ~14% of a delivery's CPU. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "wh_sign.h"

#include "hb_base64.h"
#include "hb_fmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#define WH_SHA256_LEN 32
/* base64 of 32 bytes: 44 characters (plus the NUL hb_base64_encode writes) */
#define WH_SHA256_B64_LEN 44

struct wh_key_s {
        unsigned char *bytes; /* OPENSSL_malloc'd, cleansed on destroy */
        size_t len;
        /* SHA-256 after absorbing (key ^ ipad) and (key ^ opad): HMAC's
         * inner and outer hashes start from copies of these */
        SHA256_CTX inner, outer;
};

/* RFC 2104 with SHA-256: a key longer than the block is hashed first. */
static int hmac_prepare(wh_key_t *key)
{
        unsigned char k[SHA256_CBLOCK], pad[SHA256_CBLOCK];
        int ok;

        memset(k, 0, sizeof(k));
        if (key->len > SHA256_CBLOCK)
                SHA256(key->bytes, key->len, k);
        else
                memcpy(k, key->bytes, key->len);
        for (size_t i = 0; i < sizeof(pad); i++)
                pad[i] = k[i] ^ 0x36;
        ok = SHA256_Init(&key->inner) &&
             SHA256_Update(&key->inner, pad, sizeof(pad));
        for (size_t i = 0; i < sizeof(pad); i++)
                pad[i] = k[i] ^ 0x5c;
        ok = ok && SHA256_Init(&key->outer) &&
             SHA256_Update(&key->outer, pad, sizeof(pad));
        OPENSSL_cleanse(k, sizeof(k));
        OPENSSL_cleanse(pad, sizeof(pad));
        return ok ? 0 : -1;
}

static void set_err(char *errstr, size_t errstr_size, const char *msg)
{
        if (errstr && errstr_size > 0)
                snprintf(errstr, errstr_size, "%s", msg);
}

/* Decode the base64 after "whsec_" into a fresh buffer of exactly the
 * key's size. @returns it, or NULL. */
static unsigned char *b64_decode(const char *in, size_t in_len, size_t *out_len)
{
        unsigned char *out;

        if (hb_base64_decode(in, in_len, NULL, 0, out_len) == -1)
                return NULL;
        out = OPENSSL_malloc(*out_len);
        if (out && hb_base64_decode(in, in_len, out, *out_len, out_len) == -1) {
                OPENSSL_clear_free(out, *out_len);
                out = NULL;
        }
        return out;
}

wh_key_t *wh_key_new(const char *secret, char *errstr, size_t errstr_size)
{
        static const char prefix[] = "whsec_";
        wh_key_t *key = NULL;
        size_t slen;

        if (!secret || !*secret) {
                set_err(errstr, errstr_size, "secret is empty");
                return NULL;
        }
        key = OPENSSL_zalloc(sizeof(*key));
        if (!key) {
                set_err(errstr, errstr_size, "out of memory");
                goto err;
        }
        slen = strlen(secret);
        if (strncmp(secret, prefix, sizeof(prefix) - 1) == 0) {
                key->bytes = b64_decode(secret + sizeof(prefix) - 1,
                                        slen - (sizeof(prefix) - 1), &key->len);
                if (!key->bytes || key->len == 0) {
                        set_err(errstr, errstr_size,
                                "secret starts with \"whsec_\" but the rest "
                                "is not valid base64");
                        goto err;
                }
        } else {
                key->bytes = OPENSSL_malloc(slen);
                if (!key->bytes) {
                        set_err(errstr, errstr_size, "out of memory");
                        goto err;
                }
                memcpy(key->bytes, secret, slen);
                key->len = slen;
        }
        if (hmac_prepare(key) != 0) {
                set_err(errstr, errstr_size, "OpenSSL's SHA-256 failed");
                goto err;
        }
        return key;
err:
        wh_key_destroy(key);
        return NULL;
}

void wh_key_destroy(wh_key_t *key)
{
        if (!key)
                return;
        if (key->bytes)
                OPENSSL_clear_free(key->bytes, key->len);
        OPENSSL_clear_free(key, sizeof(*key)); /* the pad states too */
}

/* One piece of the signed message. */
struct piece {
        const void *p;
        size_t n;
};

/*
 * HMAC-SHA256 of the concatenation of \p pieces, fed piece by piece so the
 * body is never copied. \p md receives WH_SHA256_LEN bytes.
 */
static int hmac_pieces(const wh_key_t *key, const struct piece *pieces,
                       size_t count, unsigned char *md)
{
        SHA256_CTX c = key->inner;
        unsigned char ih[SHA256_DIGEST_LENGTH];
        int ok = 1;

        for (size_t i = 0; i < count; i++) {
                if (pieces[i].n > 0)
                        ok = ok && SHA256_Update(&c, pieces[i].p, pieces[i].n);
        }
        ok = ok && SHA256_Final(ih, &c);
        c = key->outer;
        ok = ok && SHA256_Update(&c, ih, sizeof(ih)) && SHA256_Final(md, &c);
        OPENSSL_cleanse(&c, sizeof(c));
        OPENSSL_cleanse(ih, sizeof(ih));
        return ok ? 0 : -1;
}

/* Standard Webhooks: base64(HMAC("<id>.<ts>.<body>")) into b64 (45 B). */
static int standard_b64(const wh_key_t *key, const char *id, size_t id_len,
                        const char *ts, size_t ts_len, const char *body,
                        size_t body_len, char *b64)
{
        unsigned char md[WH_SHA256_LEN];
        struct piece pieces[5] = {
                {id, id_len}, {".", 1},         {ts, ts_len},
                {".", 1},     {body, body_len},
        };
        int n;

        if (hmac_pieces(key, pieces, 5, md) != 0)
                return -1;
        n = (int)hb_base64_encode(md, WH_SHA256_LEN, b64,
                                  WH_SHA256_B64_LEN + 1);
        OPENSSL_cleanse(md, sizeof(md));
        return n == WH_SHA256_B64_LEN ? 0 : -1;
}

/* Userpilot: lowercase hex(HMAC("<body>.<ts>")) into hex (65 B). */
static int userpilot_hex(const wh_key_t *key, const char *ts, size_t ts_len,
                         const char *body, size_t body_len, char *hex)
{
        static const char digits[] = "0123456789abcdef";
        unsigned char md[WH_SHA256_LEN];
        struct piece pieces[3] = {
                {body, body_len},
                {".", 1},
                {ts, ts_len},
        };

        if (hmac_pieces(key, pieces, 3, md) != 0)
                return -1;
        for (size_t i = 0; i < WH_SHA256_LEN; i++) {
                hex[2 * i] = digits[md[i] >> 4];
                hex[2 * i + 1] = digits[md[i] & 0xf];
        }
        hex[2 * WH_SHA256_LEN] = '\0';
        OPENSSL_cleanse(md, sizeof(md));
        return 0;
}

int wh_sign_standard(const wh_key_t *key, const char *id, int64_t ts,
                     const char *body, size_t body_len, char *out,
                     size_t out_size)
{
        char tsbuf[HB_FMT_I64_MAX], b64[WH_SHA256_B64_LEN + 1];
        size_t tslen, n;

        if (!key || !id || !out || (!body && body_len > 0))
                return -1;
        tslen = hb_fmt_i64(tsbuf, ts);
        if (standard_b64(key, id, strlen(id), tsbuf, tslen, body ? body : "",
                         body_len, b64) != 0)
                return -1;
        n = hb_fmt_cat(out, out_size, "v1,", b64, NULL);
        if (n >= out_size)
                return -1;
        return (int)n;
}

int wh_sign_userpilot(const wh_key_t *key, int64_t ts, const char *body,
                      size_t body_len, char *out, size_t out_size)
{
        char tsbuf[HB_FMT_I64_MAX], hex[2 * WH_SHA256_LEN + 1];
        size_t tslen, n;

        if (!key || !out || (!body && body_len > 0))
                return -1;
        tslen = hb_fmt_i64(tsbuf, ts);
        if (userpilot_hex(key, tsbuf, tslen, body ? body : "", body_len, hex) !=
            0)
                return -1;
        n = hb_fmt_cat(out, out_size, "t=", tsbuf, ",v1=", hex, NULL);
        if (n >= out_size)
                return -1;
        return (int)n;
}

int wh_verify_standard(const wh_key_t *key, const char *id, const char *ts,
                       const char *body, size_t body_len, const char *header)
{
        char expect[WH_SHA256_B64_LEN + 1];
        const char *p;
        int match = 0;

        if (!key || !id || !ts || !header || (!body && body_len > 0))
                return 0;
        if (standard_b64(key, id, strlen(id), ts, strlen(ts), body ? body : "",
                         body_len, expect) != 0)
                return 0;
        /* "v1,<b64> v1,<b64> ...": every entry is checked, so the time
         * taken does not depend on which one matched */
        p = header;
        while (*p) {
                const char *end;
                size_t n;

                while (*p == ' ')
                        p++;
                end = p;
                while (*end && *end != ' ')
                        end++;
                n = (size_t)(end - p);
                if (n == 3 + WH_SHA256_B64_LEN && memcmp(p, "v1,", 3) == 0 &&
                    CRYPTO_memcmp(p + 3, expect, WH_SHA256_B64_LEN) == 0)
                        match = 1;
                p = end;
        }
        OPENSSL_cleanse(expect, sizeof(expect));
        return match;
}

static int hex_val(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/*
 * One X-Signature entry: "t=<digits>,v1=<hex>[,v1=<hex>...]". Compares
 * the decoded bytes, so hex case does not matter.
 */
static int verify_userpilot_entry(const wh_key_t *key, const char *body,
                                  size_t body_len, const char *p,
                                  const char *end)
{
        char expect_hex[2 * WH_SHA256_LEN + 1];
        unsigned char expect[WH_SHA256_LEN], got[WH_SHA256_LEN];
        const char *ts = NULL;
        size_t ts_len = 0;
        int match = 0;

        /* first pass: the timestamp */
        for (const char *q = p; q < end;) {
                const char *f = q;
                while (q < end && *q != ',')
                        q++;
                if (q - f > 2 && f[0] == 't' && f[1] == '=') {
                        ts = f + 2;
                        ts_len = (size_t)(q - f - 2);
                }
                if (q < end)
                        q++;
        }
        if (!ts || ts_len > 20)
                return 0;
        for (size_t i = 0; i < ts_len; i++) {
                if (ts[i] < '0' || ts[i] > '9')
                        return 0;
        }
        if (userpilot_hex(key, ts, ts_len, body, body_len, expect_hex) != 0)
                return 0;
        for (size_t i = 0; i < WH_SHA256_LEN; i++)
                expect[i] = (unsigned char)(hex_val(expect_hex[2 * i]) << 4 |
                                            hex_val(expect_hex[2 * i + 1]));
        /* second pass: every v1= */
        for (const char *q = p; q < end;) {
                const char *f = q;
                int ok = 1;

                while (q < end && *q != ',')
                        q++;
                if (q - f == 3 + 2 * WH_SHA256_LEN &&
                    memcmp(f, "v1=", 3) == 0) {
                        for (size_t i = 0; i < WH_SHA256_LEN; i++) {
                                int hi = hex_val(f[3 + 2 * i]);
                                int lo = hex_val(f[3 + 2 * i + 1]);
                                if (hi < 0 || lo < 0)
                                        ok = 0;
                                got[i] = (unsigned char)((hi & 0xf) << 4 |
                                                         (lo & 0xf));
                        }
                        if (ok && CRYPTO_memcmp(got, expect, sizeof(got)) == 0)
                                match = 1;
                }
                if (q < end)
                        q++;
        }
        OPENSSL_cleanse(expect_hex, sizeof(expect_hex));
        OPENSSL_cleanse(expect, sizeof(expect));
        return match;
}

int wh_verify_userpilot(const wh_key_t *key, const char *body, size_t body_len,
                        const char *header)
{
        const char *p;
        int match = 0;

        if (!key || !header || (!body && body_len > 0))
                return 0;
        if (!body)
                body = "";
        /* space-separated entries (two during a secret rotation) */
        p = header;
        while (*p) {
                const char *end;

                while (*p == ' ')
                        p++;
                end = p;
                while (*end && *end != ' ')
                        end++;
                if (end > p &&
                    verify_userpilot_entry(key, body, body_len, p, end))
                        match = 1;
                p = end;
        }
        return match;
}
