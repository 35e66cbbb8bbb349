/* wk_api_health: GET /v1/apps/{app_token}/webhooks/{id}/health (SPEC §7):
 * a store webhook's delivery health over the whole deployment
 * (wk_health), as JSON; 404 for an id that is not a webhook of that
 * app. */
#ifndef HB_WK_API_HEALTH_H
#define HB_WK_API_HEALTH_H

#include <json-c/json.h>

#include "wk_api.h"
#include "wk_health_view.h"

wk_api_handler_t wk_api_health_get; /**< GET .../webhooks/{id}/health */

/**
 * @brief The health document of webhook \p id of app \p app: counts,
 *        last success and failure (times in unix seconds with
 *        milliseconds), the circuit (the worst of the replicas alive),
 *        disabled-by-410, the replicas reporting, and \p complete (this
 *        replica has read the whole health topic).
 * @returns it (json_object_put() it), or NULL (out of memory).
 */
json_object *wk_api_health_doc(const char *app, const char *id,
                               const wk_health_sum_t *s, int complete);

#endif
