/* wk_api_openapi: the OpenAPI document served from the binary (see the
 * header). */
#include "wk_api_openapi.h"

#include <stdlib.h>
#include <string.h>

#include "wk_embed.h"

#define DOC "worker/openapi.json"

void wk_api_openapi(const wk_api_env_t *env, const wk_api_req_t *req,
                    wk_api_resp_t *resp)
{
        size_t len = 0;
        const unsigned char *doc = wk_embed_find(DOC, &len);
        char *body;

        (void)env;
        (void)req;
        if (!doc) {
                wk_api_problem(resp, 500, NULL,
                               DOC " is not embedded in this binary", NULL);
                return;
        }
        if (!(body = malloc(len + 1))) {
                wk_api_problem(resp, 500, NULL, "out of memory", NULL);
                return;
        }
        memcpy(body, doc, len + 1);
        free(resp->body);
        resp->status = 200;
        resp->body = body;
        resp->len = len;
        resp->type = wk_embed_type(DOC);
}
