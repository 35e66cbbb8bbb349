/* wk_api_hooks: the webhook resources of the management API (SPEC §7):
 * create, list, read, change, remove, Send Test, rotate-secret. */
#ifndef HB_WK_API_HOOKS_H
#define HB_WK_API_HOOKS_H

#include "wk_api.h"

wk_api_handler_t wk_api_hooks_list;   /**< GET .../webhooks */
wk_api_handler_t wk_api_hooks_create; /**< POST .../webhooks */
wk_api_handler_t wk_api_hooks_get;    /**< GET .../webhooks/{id} */
wk_api_handler_t wk_api_hooks_patch;  /**< PATCH .../webhooks/{id} */
wk_api_handler_t wk_api_hooks_delete; /**< DELETE .../webhooks/{id} */
wk_api_handler_t wk_api_hooks_test;   /**< POST .../{id}/test */
wk_api_handler_t wk_api_hooks_rotate; /**< POST .../{id}/rotate-secret */

#endif
