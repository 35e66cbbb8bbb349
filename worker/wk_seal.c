/* wk_seal: AES-256-GCM sealing of secrets for the store (see the header). */
#include "wk_seal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hb_base64.h"

#define NONCE_LEN 12
#define TAG_LEN   16
#define PREFIX    "v1."

int wk_seal_key_parse(const char *b64, unsigned char key[WK_SEAL_KEY_LEN],
                      char *errstr, size_t errstr_size)
{
        unsigned char buf[HB_BASE64_DECODED_MAX(64)];
        size_t n = strlen(b64), got = 0;

        while (n > 0 && (b64[n - 1] == '\n' || b64[n - 1] == '\r'))
                n--;
        if (n > 64 || hb_base64_decode(b64, n, buf, sizeof(buf), &got) == -1 ||
            got != WK_SEAL_KEY_LEN) {
                explicit_bzero(buf, sizeof(buf));
                snprintf(errstr, errstr_size,
                         "the secret key must be 32 bytes written in base64 "
                         "(44 characters, e.g. from `openssl rand -base64 "
                         "32`)");
                return -1;
        }
        memcpy(key, buf, WK_SEAL_KEY_LEN);
        explicit_bzero(buf, sizeof(buf));
        return 0;
}

char *wk_seal(const unsigned char key[WK_SEAL_KEY_LEN], const char *plain,
              const char *aad, char *errstr, size_t errstr_size)
{
        size_t plen = strlen(plain), blen = NONCE_LEN + plen + TAG_LEN;
        unsigned char *buf = malloc(blen);
        size_t olen = sizeof(PREFIX) - 1 + HB_BASE64_ENCODED_LEN(blen) + 1;
        char *out = malloc(olen);
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        int len = 0, fin = 0;

        if (!buf || !out || !ctx) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        if (RAND_bytes(buf, NONCE_LEN) != 1 ||
            EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) !=
                    1 ||
            EVP_EncryptInit_ex(ctx, NULL, NULL, key, buf) != 1 ||
            EVP_EncryptUpdate(ctx, NULL, &len, (const unsigned char *)aad,
                              (int)strlen(aad)) != 1 ||
            EVP_EncryptUpdate(ctx, buf + NONCE_LEN, &len,
                              (const unsigned char *)plain, (int)plen) != 1 ||
            EVP_EncryptFinal_ex(ctx, buf + NONCE_LEN + len, &fin) != 1 ||
            (size_t)(len + fin) != plen ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
                                buf + NONCE_LEN + plen) != 1) {
                snprintf(errstr, errstr_size, "AES-256-GCM seal failed");
                goto err;
        }
        memcpy(out, PREFIX, sizeof(PREFIX) - 1);
        hb_base64_encode(buf, blen, out + sizeof(PREFIX) - 1,
                         olen - (sizeof(PREFIX) - 1));
        EVP_CIPHER_CTX_free(ctx);
        explicit_bzero(buf, blen);
        free(buf);
        return out;
err:
        EVP_CIPHER_CTX_free(ctx);
        if (buf)
                explicit_bzero(buf, blen);
        free(buf);
        free(out);
        return NULL;
}

char *wk_unseal(const unsigned char key[WK_SEAL_KEY_LEN], const char *sealed,
                const char *aad, char *errstr, size_t errstr_size)
{
        size_t slen, blen = 0, plen = 0;
        unsigned char *buf = NULL;
        char *out = NULL;
        EVP_CIPHER_CTX *ctx = NULL;
        int len = 0, fin = 0;

        if (strncmp(sealed, PREFIX, sizeof(PREFIX) - 1)) {
                snprintf(errstr, errstr_size,
                         "sealed secret: not in the v1 format");
                return NULL;
        }
        sealed += sizeof(PREFIX) - 1;
        slen = strlen(sealed);
        buf = malloc(HB_BASE64_DECODED_MAX(slen) + 1);
        if (!buf) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        if (hb_base64_decode(sealed, slen, buf, HB_BASE64_DECODED_MAX(slen),
                             &blen) == -1 ||
            blen < NONCE_LEN + TAG_LEN) {
                snprintf(errstr, errstr_size,
                         "sealed secret: not valid base64 or too short");
                goto err;
        }
        /* one text per sealed secret: a decoder that ignores the unused
         * bits of the last character would let a changed text pass */
        out = malloc(slen + 1);
        if (!out) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        if (hb_base64_encode(buf, blen, out, slen + 1) != slen ||
            strcmp(out, sealed)) {
                snprintf(errstr, errstr_size,
                         "sealed secret: refused (not as sealed)");
                goto err;
        }
        free(out);
        plen = blen - NONCE_LEN - TAG_LEN;
        out = malloc(plen + 1);
        ctx = EVP_CIPHER_CTX_new();
        if (!out || !ctx) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) !=
                    1 ||
            EVP_DecryptInit_ex(ctx, NULL, NULL, key, buf) != 1 ||
            EVP_DecryptUpdate(ctx, NULL, &len, (const unsigned char *)aad,
                              (int)strlen(aad)) != 1 ||
            EVP_DecryptUpdate(ctx, (unsigned char *)out, &len, buf + NONCE_LEN,
                              (int)plen) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
                                buf + NONCE_LEN + plen) != 1 ||
            EVP_DecryptFinal_ex(ctx, (unsigned char *)out + len, &fin) != 1) {
                snprintf(errstr, errstr_size,
                         "sealed secret: refused (changed, or sealed with "
                         "another key or for another webhook)");
                goto err;
        }
        out[plen] = '\0';
        if (memchr(out, '\0', plen)) {
                snprintf(errstr, errstr_size, "sealed secret: holds a NUL");
                goto err;
        }
        EVP_CIPHER_CTX_free(ctx);
        explicit_bzero(buf, blen);
        free(buf);
        return out;
err:
        EVP_CIPHER_CTX_free(ctx);
        if (out) {
                explicit_bzero(out, plen + 1);
                free(out);
        }
        explicit_bzero(buf, blen);
        free(buf);
        return NULL;
}
