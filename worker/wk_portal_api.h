/* wk_portal_api: the portal on the API listener: its files under
 * /portal/ (wk_portal), POST /v1/apps/{app}/portal-token (operator
 * tokens only: mints a wk_portal_token for the app), and the check the
 * API's auth calls for a bearer that is not an operator token. */
#ifndef HB_WK_PORTAL_API_H
#define HB_WK_PORTAL_API_H

#include <stddef.h>

#include "wk_api.h"

/** GET/HEAD /portal, /portal/ and /portal/NAME (a WK_API_PUBLIC route). */
void wk_portal_api_file(const wk_api_env_t *env, const wk_api_req_t *req,
                        wk_api_resp_t *resp);

/**
 * POST /v1/apps/{app}/portal-token (a WK_API_OPERATOR route): body empty
 * or {"ttl": seconds} (60 to 3600, default 3600) → 201 {"token", "url":
 * "/portal/#token=...", "expires_at": unix seconds, "app_token"}.
 */
void wk_portal_api_token(const wk_api_env_t *env, const wk_api_req_t *req,
                         wk_api_resp_t *resp);

/**
 * @brief A wk_api_verify_fn: \p opaque is the cfg_api_t of the listener
 *        (its secret_key); 1 with the token's app in \p app when \p token
 *        is a valid, unexpired portal token of this deployment, else 0.
 */
int wk_portal_api_verify(void *opaque, const char *token, char *app,
                         size_t app_size);

#endif
