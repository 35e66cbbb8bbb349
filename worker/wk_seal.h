/* wk_seal: a webhook's secret sealed for the store topic with
 * AES-256-GCM (OpenSSL EVP): a 32-byte key given in base64, a random
 * 96-bit nonce per seal, the webhook id as additional data so that a
 * sealed secret cannot be moved to another webhook's record. */
#ifndef HB_WK_SEAL_H
#define HB_WK_SEAL_H

#include <stddef.h>

#define WK_SEAL_KEY_LEN 32

/**
 * @brief Decode the key: base64 (hb_base64) of exactly 32 bytes;
 *        trailing CR/LF (a key file's line end) is ignored.
 * @returns 0, or -1 with the reason in \p errstr (never the key).
 */
int wk_seal_key_parse(const char *b64, unsigned char key[WK_SEAL_KEY_LEN],
                      char *errstr, size_t errstr_size);

/**
 * @brief Seal \p plain (NUL-terminated) bound to \p aad (e.g. the
 *        webhook id; may be "").
 * @returns "v1." + base64(nonce | ciphertext | tag), malloc()ed, or NULL
 *          with the reason in \p errstr.
 */
char *wk_seal(const unsigned char key[WK_SEAL_KEY_LEN], const char *plain,
              const char *aad, char *errstr, size_t errstr_size);

/**
 * @brief Open what wk_seal() made with the same key and \p aad.
 * @returns the plaintext, malloc()ed (wipe it with explicit_bzero before
 *          free), or NULL with the reason in \p errstr: a changed byte, a
 *          wrong key or another \p aad is refused.
 */
char *wk_unseal(const unsigned char key[WK_SEAL_KEY_LEN], const char *sealed,
                const char *aad, char *errstr, size_t errstr_size);

#endif
