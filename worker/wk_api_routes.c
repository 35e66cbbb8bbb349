/* wk_api_routes: the management API's route table (SPEC §7): each path,
 * its method and the handler (declared in the handler's own header). A
 * helper adding a resource adds its lines here. */
#include "wk_api.h"
#include "wk_api_health.h"
#include "wk_api_hooks.h"
#include "wk_api_openapi.h"
#include "wk_api_redrive.h"
#include "wk_portal_api.h"

const wk_api_route_t wk_api_routes[] = {
        {"GET", "/v1/apps/{app}/webhooks", wk_api_hooks_list, 0},
        {"POST", "/v1/apps/{app}/webhooks", wk_api_hooks_create, 0},
        {"GET", "/v1/apps/{app}/webhooks/{id}", wk_api_hooks_get, 0},
        {"PATCH", "/v1/apps/{app}/webhooks/{id}", wk_api_hooks_patch, 0},
        {"DELETE", "/v1/apps/{app}/webhooks/{id}", wk_api_hooks_delete, 0},
        {"POST", "/v1/apps/{app}/webhooks/{id}/test", wk_api_hooks_test, 0},
        {"POST", "/v1/apps/{app}/webhooks/{id}/rotate-secret",
         wk_api_hooks_rotate, 0},
        {"GET", "/v1/apps/{app}/webhooks/{id}/health", wk_api_health_get, 0},
        {"POST", "/v1/apps/{app}/webhooks/{id}/redrive", wk_api_redrive, 0},
        {"POST", "/v1/apps/{app}/portal-token", wk_portal_api_token,
         WK_API_OPERATOR},
        {"GET", "/portal", wk_portal_api_file, WK_API_PUBLIC},
        {"GET", "/portal/*", wk_portal_api_file, WK_API_PUBLIC},
        {"GET", "/v1/openapi.json", wk_api_openapi, WK_API_PUBLIC},
        {NULL, NULL, NULL, 0},
};
