/* wh_sign: webhook signatures (Standard Webhooks and Userpilot style). */
#ifndef HB_WH_SIGN_H
#define HB_WH_SIGN_H

#include <stddef.h>
#include <stdint.h>

/** A signing key decoded from a configured secret. */
typedef struct wh_key_s wh_key_t;

/** Longest header value wh_sign_*() writes, NUL included. */
#define WH_SIGN_MAX 128

/**
 * @brief Decode a secret: "whsec_<base64>" is base64-decoded to the key,
 *        anything else is used as raw bytes.
 * @returns the key, or NULL with the reason in \p errstr (never the
 *          secret itself).
 */
wh_key_t *wh_key_new(const char *secret, char *errstr, size_t errstr_size);
void wh_key_destroy(wh_key_t *key);

/**
 * @brief Standard Webhooks: writes "v1,<base64 HMAC-SHA256 over
 *        "<id>.<ts>.<body>">" into \p out (>= WH_SIGN_MAX bytes).
 * @returns length written, or -1.
 */
int wh_sign_standard(const wh_key_t *key, const char *id, int64_t ts,
                     const char *body, size_t body_len, char *out,
                     size_t out_size);

/**
 * @brief Userpilot style: writes "t=<ts>,v1=<hex HMAC-SHA256 over
 *        "<body>.<ts>">" into \p out (>= WH_SIGN_MAX bytes).
 * @returns length written, or -1.
 */
int wh_sign_userpilot(const wh_key_t *key, int64_t ts, const char *body,
                      size_t body_len, char *out, size_t out_size);

/**
 * @brief Check a received webhook-signature header (space-separated
 *        "v1,<b64>" list) against \p key, in constant time per entry.
 * @returns 1 when one entry matches, 0 otherwise.
 */
int wh_verify_standard(const wh_key_t *key, const char *id, const char *ts,
                       const char *body, size_t body_len, const char *header);

/** @brief Check a received X-Signature header ("t=..,v1=<hex>").
 *  @returns 1 when it matches, 0 otherwise. */
int wh_verify_userpilot(const wh_key_t *key, const char *body, size_t body_len,
                        const char *header);

#endif
