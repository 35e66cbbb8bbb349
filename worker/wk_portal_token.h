/* wk_portal_token: the portal's short-lived, app-scoped tokens, minted by
 * the operator API and verified by the API's auth: HMAC-SHA256 (OpenSSL)
 * with a key derived from the API's secret key for this use alone, over
 * the app, the expiry and a random nonce; written in base64url. */
#ifndef HB_WK_PORTAL_TOKEN_H
#define HB_WK_PORTAL_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "wk_seal.h"

/** The longest a portal token may live (and the default lifetime). */
#define WK_PORTAL_TOKEN_MAX_TTL_S 3600

/** Room enough for any token (with its NUL): CFG_APP_TOKEN_MAX apps. */
#define WK_PORTAL_TOKEN_MAX 320

/**
 * @brief Mint a token for \p app valid from \p now_s (unix seconds) for
 *        \p ttl_s seconds.
 *
 * The token is "hbpt1." + base64url(expiry (8 bytes, big-endian) | nonce
 * (16 random bytes) | app) + "." + base64url(HMAC-SHA256(k, everything
 * before that last dot)), where k = HMAC-SHA256(\p key, "hookbridge
 * portal-token v1"): the API's secret key itself never signs anything,
 * and a token means nothing to another deployment's key.
 *
 * @param key the API's secret key (api.secret_key_*, 32 bytes).
 * @param app the app (cfg_app_token_ok()).
 * @param ttl_s 1 to WK_PORTAL_TOKEN_MAX_TTL_S.
 * @param out room for WK_PORTAL_TOKEN_MAX bytes.
 * @param expires_at if not NULL, gets now_s + ttl_s.
 * @returns 0, or -1 with the reason in \p errstr.
 */
int wk_portal_token_mint(const unsigned char key[WK_SEAL_KEY_LEN],
                         const char *app, int ttl_s, int64_t now_s, char *out,
                         size_t out_size, int64_t *expires_at, char *errstr,
                         size_t errstr_size);

/**
 * @brief Check a token: minted with \p key, not expired at \p now_s, not
 *        living longer than WK_PORTAL_TOKEN_MAX_TTL_S from now (a token
 *        from a clock far ahead is refused too), signature compared in
 *        constant time.
 * @param app_out gets the app it was minted for (room for
 *        CFG_APP_TOKEN_MAX + 1 bytes).
 * @param expires_at if not NULL, gets its expiry (unix seconds).
 * @returns 0, or -1 with the reason in \p errstr ("expired", "bad
 *          signature", "malformed"); nothing is written to \p app_out then.
 */
int wk_portal_token_verify(const unsigned char key[WK_SEAL_KEY_LEN],
                           const char *token, int64_t now_s, char *app_out,
                           size_t app_out_size, int64_t *expires_at,
                           char *errstr, size_t errstr_size);

/**
 * @brief Whether \p token is a portal token at all (its prefix): the API's
 *        auth tells a portal token from an operator token with it.
 */
int wk_portal_token_is(const char *token);

#endif
