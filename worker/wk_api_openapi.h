/* wk_api_openapi: GET /v1/openapi.json, the management API's OpenAPI 3
 * document (worker/openapi.json, embedded in the binary by hb_embed). */
#ifndef HB_WK_API_OPENAPI_H
#define HB_WK_API_OPENAPI_H

#include "wk_api.h"

/** The document, byte for byte as in the repository (public: no token). */
wk_api_handler_t wk_api_openapi;

#endif
