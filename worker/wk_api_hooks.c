/* wk_api_hooks: the webhook resources of the management API (see the
 * header). */
#include "wk_api_hooks.h"

static void not_yet(const wk_api_env_t *env, const wk_api_req_t *req,
                    wk_api_resp_t *resp)
{
        (void)env;
        (void)req;
        wk_api_problem(resp, 501, "Not Implemented", "not implemented yet",
                       NULL);
}

void wk_api_hooks_list(const wk_api_env_t *env, const wk_api_req_t *req,
                       wk_api_resp_t *resp)
{
        not_yet(env, req, resp);
}

void wk_api_hooks_create(const wk_api_env_t *env, const wk_api_req_t *req,
                         wk_api_resp_t *resp)
{
        not_yet(env, req, resp);
}

void wk_api_hooks_get(const wk_api_env_t *env, const wk_api_req_t *req,
                      wk_api_resp_t *resp)
{
        not_yet(env, req, resp);
}

void wk_api_hooks_patch(const wk_api_env_t *env, const wk_api_req_t *req,
                        wk_api_resp_t *resp)
{
        not_yet(env, req, resp);
}

void wk_api_hooks_delete(const wk_api_env_t *env, const wk_api_req_t *req,
                         wk_api_resp_t *resp)
{
        not_yet(env, req, resp);
}

void wk_api_hooks_test(const wk_api_env_t *env, const wk_api_req_t *req,
                       wk_api_resp_t *resp)
{
        not_yet(env, req, resp);
}

void wk_api_hooks_rotate(const wk_api_env_t *env, const wk_api_req_t *req,
                         wk_api_resp_t *resp)
{
        not_yet(env, req, resp);
}
