/* wk_portal_token: minting and checking the portal's app-scoped tokens
 * (see the header for the format). */
#include "wk_portal_token.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "hb_base64.h"

#define PREFIX    "hbpt1."
#define DOMAIN    "hookbridge portal-token v1"
#define NONCE_LEN 16
#define MAC_LEN   32
#define HEAD_LEN  (8 + NONCE_LEN)
#define BODY_MAX  (HEAD_LEN + CFG_APP_TOKEN_MAX)

/* The token-signing key: HMAC(key, DOMAIN), so that the store's sealing
 * key never signs anything itself. */
static int derive(const unsigned char key[WK_SEAL_KEY_LEN],
                  unsigned char k[MAC_LEN])
{
        unsigned int n = 0;

        return HMAC(EVP_sha256(), key, WK_SEAL_KEY_LEN,
                    (const unsigned char *)DOMAIN, sizeof(DOMAIN) - 1, k, &n) &&
                               n == MAC_LEN
                       ? 0
                       : -1;
}

static int mac(const unsigned char key[WK_SEAL_KEY_LEN], const char *s,
               size_t n, unsigned char out[MAC_LEN])
{
        unsigned char k[MAC_LEN];
        unsigned int len = 0;
        int ok = derive(key, k) == 0 &&
                 HMAC(EVP_sha256(), k, MAC_LEN, (const unsigned char *)s, n,
                      out, &len) &&
                 len == MAC_LEN;

        OPENSSL_cleanse(k, sizeof(k));
        return ok ? 0 : -1;
}

/* base64url without padding of in[0, n) at out; returns its length, or 0
 * when out_size is too small. */
static size_t b64url_encode(const unsigned char *in, size_t n, char *out,
                            size_t out_size)
{
        size_t len = hb_base64_encode(in, n, out, out_size);

        while (len > 0 && out[len - 1] == '=')
                out[--len] = '\0';
        for (size_t i = 0; i < len; i++)
                out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
        return len;
}

/* Decode base64url in[0, n) (no padding, no '+' or '/'). */
static int b64url_decode(const char *in, size_t n, unsigned char *out,
                         size_t out_size, size_t *out_len)
{
        char buf[HB_BASE64_ENCODED_LEN(BODY_MAX) + 4];

        if (n == 0 || n + 3 > sizeof(buf))
                return -1;
        for (size_t i = 0; i < n; i++) {
                char c = in[i];
                if (c == '+' || c == '/' || c == '=')
                        return -1;
                buf[i] = c == '-' ? '+' : c == '_' ? '/' : c;
        }
        while (n % 4)
                buf[n++] = '=';
        return hb_base64_decode(buf, n, out, out_size, out_len);
}

static void put_be64(unsigned char *p, uint64_t v)
{
        for (int i = 7; i >= 0; i--, v >>= 8)
                p[i] = (unsigned char)(v & 0xff);
}

static uint64_t get_be64(const unsigned char *p)
{
        uint64_t v = 0;

        for (int i = 0; i < 8; i++)
                v = v << 8 | p[i];
        return v;
}

int wk_portal_token_is(const char *token)
{
        return token && !strncmp(token, PREFIX, sizeof(PREFIX) - 1);
}

int wk_portal_token_mint(const unsigned char key[WK_SEAL_KEY_LEN],
                         const char *app, int ttl_s, int64_t now_s, char *out,
                         size_t out_size, int64_t *expires_at, char *errstr,
                         size_t errstr_size)
{
        unsigned char body[BODY_MAX], sig[MAC_LEN];
        size_t alen = app ? strlen(app) : 0, len, n;

        if (!app || !cfg_app_token_ok(app)) {
                snprintf(errstr, errstr_size,
                         "app: use 1 to %d of A-Z a-z 0-9 - . _ ~",
                         CFG_APP_TOKEN_MAX);
                return -1;
        }
        if (ttl_s < 1 || ttl_s > WK_PORTAL_TOKEN_MAX_TTL_S) {
                snprintf(errstr, errstr_size,
                         "ttl: use 1 to %d seconds (got %d)",
                         WK_PORTAL_TOKEN_MAX_TTL_S, ttl_s);
                return -1;
        }
        if (out_size < WK_PORTAL_TOKEN_MAX) {
                snprintf(errstr, errstr_size, "no room for the token");
                return -1;
        }
        put_be64(body, (uint64_t)(now_s + ttl_s));
        if (RAND_bytes(body + 8, NONCE_LEN) != 1) {
                snprintf(errstr, errstr_size, "no random bytes (OpenSSL)");
                return -1;
        }
        memcpy(body + HEAD_LEN, app, alen);
        memcpy(out, PREFIX, sizeof(PREFIX) - 1);
        len = sizeof(PREFIX) - 1;
        n = b64url_encode(body, HEAD_LEN + alen, out + len, out_size - len);
        len += n;
        if (n == 0 || len + 1 >= out_size || mac(key, out, len, sig) == -1) {
                snprintf(errstr, errstr_size, "cannot sign the token");
                return -1;
        }
        out[len++] = '.';
        if (b64url_encode(sig, MAC_LEN, out + len, out_size - len) == 0) {
                snprintf(errstr, errstr_size, "no room for the token");
                return -1;
        }
        if (expires_at)
                *expires_at = now_s + ttl_s;
        return 0;
}

int wk_portal_token_verify(const unsigned char key[WK_SEAL_KEY_LEN],
                           const char *token, int64_t now_s, char *app_out,
                           size_t app_out_size, int64_t *expires_at,
                           char *errstr, size_t errstr_size)
{
        unsigned char body[BODY_MAX + 2], want[MAC_LEN];
        char want_text[HB_BASE64_ENCODED_LEN(MAC_LEN) + 1];
        const char *dot;
        size_t tlen, blen = 0, plen = sizeof(PREFIX) - 1, wlen;
        int64_t exp;

        if (!wk_portal_token_is(token) ||
            (tlen = strlen(token)) >= WK_PORTAL_TOKEN_MAX ||
            !(dot = strrchr(token, '.')) || dot < token + plen ||
            mac(key, token, (size_t)(dot - token), want) == -1 ||
            (wlen = b64url_encode(want, MAC_LEN, want_text,
                                  sizeof(want_text))) == 0) {
                snprintf(errstr, errstr_size, "malformed");
                return -1;
        }
        /* the signature first, as text (one spelling only), in constant
         * time: nothing of an unsigned body is looked at */
        if (tlen - (size_t)(dot + 1 - token) != wlen ||
            CRYPTO_memcmp(want_text, dot + 1, wlen) != 0) {
                snprintf(errstr, errstr_size, "bad signature");
                return -1;
        }
        if (b64url_decode(token + plen, (size_t)(dot - token) - plen, body,
                          sizeof(body), &blen) == -1 ||
            blen <= HEAD_LEN || blen > BODY_MAX ||
            blen - HEAD_LEN + 1 > app_out_size) {
                snprintf(errstr, errstr_size, "malformed");
                return -1;
        }
        exp = (int64_t)get_be64(body);
        if (exp <= now_s) {
                snprintf(errstr, errstr_size, "expired");
                return -1;
        }
        if (exp - now_s > WK_PORTAL_TOKEN_MAX_TTL_S) {
                snprintf(errstr, errstr_size, "expiry too far ahead");
                return -1;
        }
        memcpy(app_out, body + HEAD_LEN, blen - HEAD_LEN);
        app_out[blen - HEAD_LEN] = '\0';
        if (!cfg_app_token_ok(app_out)) {
                app_out[0] = '\0';
                snprintf(errstr, errstr_size, "malformed");
                return -1;
        }
        if (expires_at)
                *expires_at = exp;
        return 0;
}
