/* wk_api: the management API's listener (SPEC §7): authentication,
 * request bodies, the route table and the answers (JSON, RFC 9457
 * problem documents). The handlers live in their own files
 * (wk_api_hooks.c, ...) and are listed in wk_api_routes.c. */
#ifndef HB_WK_API_H
#define HB_WK_API_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "cfg.h"

struct wk_store_s;
struct MHD_Connection;

typedef struct wk_api_s wk_api_t;

/** The largest request body taken (SPEC §7); more: 413. */
#define WK_API_BODY_MAX (64 * 1024)

/**
 * @brief Verifies a bearer that is not an operator token (a portal
 *        token, interface 6): 1 with the app it is for in \p app (at most
 *        \p app_size bytes with the NUL), 0 when it is not one.
 */
typedef int wk_api_verify_fn(void *opaque, const char *token, char *app,
                             size_t app_size);

/** What every handler may use; borrowed for the API's life. */
typedef struct wk_api_env_s {
        /** the configuration the API started with (its own copy: the
         *  worker's is replaced by reloads); api.* is cfg_api(cfg) */
        const cfg_t *cfg;
        struct wk_store_s *store; /**< the webhook store (never NULL) */
        /** the delivery health view (the health helper's), or NULL */
        void *health;
        /** what the worker lends the API (redrive, ...), or NULL */
        void *worker;
} wk_api_env_t;

/** One request, as a handler sees it. Strings live until it returns. */
typedef struct wk_api_req_s {
        const char *method;
        const char *path;
        const char *app;  /**< {app} of the path, or NULL */
        const char *id;   /**< {id} of the path, or NULL */
        const char *rest; /**< what a pattern's trailing "*" matched */
        const char *body; /**< NUL-terminated; "" when none */
        size_t body_len;
        const char *if_match; /**< the If-Match header, or NULL */
        /** NULL: an operator token (every app); else the one app a
         *  portal token reaches (the router checks {app} is it) */
        const char *scope_app;
        struct MHD_Connection *conn; /**< for wk_api_query() */
} wk_api_req_t;

/** The answer a handler builds with the functions below. */
typedef struct wk_api_resp_s {
        unsigned status;
        char *body; /**< malloc()ed */
        size_t len;
        const char *type; /**< Content-Type (a literal); NULL: none */
        /** extra headers (ETag, Location, Allow, CSP...), copied */
        char *hdr_name[6], *hdr_value[6];
        size_t hdr_count;
} wk_api_resp_t;

typedef void wk_api_handler_t(const wk_api_env_t *env, const wk_api_req_t *req,
                              wk_api_resp_t *resp);

/** A route: \p method and \p pattern ("/v1/apps/{app}/webhooks/{id}";
 *  {app} and {id} take one segment each, a last "*" the rest). */
typedef struct wk_api_route_s {
        const char *method;
        const char *pattern;
        wk_api_handler_t *handler;
        unsigned flags;
} wk_api_route_t;

#define WK_API_PUBLIC   0x1 /**< no token asked (openapi.json, /portal/) */
#define WK_API_OPERATOR 0x2 /**< operator tokens only (portal-token) */

/** The table (wk_api_routes.c), ended by a NULL method. */
extern const wk_api_route_t wk_api_routes[];

typedef struct wk_api_conf_s {
        const cfg_t *cfg; /**< borrowed: api.*, listen and tokens */
        struct wk_store_s *store;
        void *health, *worker;
        wk_api_verify_fn *portal_verify; /**< NULL: operator tokens only */
        void *portal_opaque;
        int threads; /**< answering threads; 0: 4 */
} wk_api_conf_t;

/**
 * @brief Listen on api.listen and answer by the route table: a token
 *        (an operator one, or a portal token for the path's app) unless
 *        the listener has none (then a Host naming this listener, as the
 *        admin listener), a body of at most WK_API_BODY_MAX bytes, 404
 *        and 405 problems for unknown paths and methods.
 * @returns NULL with the reason in \p errstr.
 */
wk_api_t *wk_api_start(const wk_api_conf_t *conf, char *errstr,
                       size_t errstr_size);

/** @returns the port listened on (api.listen's port 0 picks one). */
uint16_t wk_api_port(const wk_api_t *api);

/** @brief Stop and free. NULL is a no-op. */
void wk_api_stop(wk_api_t *api);

/* --- building answers -------------------------------------------------- */

/** @brief \p o (taken, json_object_put() here) as the JSON body. */
void wk_api_json(wk_api_resp_t *resp, unsigned status, json_object *o);

/**
 * @brief An RFC 9457 problem document: {"type": "about:blank", "title",
 *        "status", "detail", "errors": [{"field", "message"}...]}, the
 *        errors read from \p fields: lines "field: message" (as
 *        wk_hook_from_body() writes them), NULL for none.
 */
void wk_api_problem(wk_api_resp_t *resp, unsigned status, const char *title,
                    const char *detail, const char *fields);

/** @brief An answer without a body (204). */
void wk_api_status(wk_api_resp_t *resp, unsigned status);

/** @brief Add a response header (copied; at most 6). */
void wk_api_header(wk_api_resp_t *resp, const char *name, const char *value);

/** @returns query argument \p name of \p req, or NULL. */
const char *wk_api_query(const wk_api_req_t *req, const char *name);

/**
 * @brief The body of \p req as a JSON object, or NULL with a 400 problem
 *        already in \p resp (not JSON, not an object, trailing bytes).
 */
json_object *wk_api_body(const wk_api_req_t *req, wk_api_resp_t *resp);

#endif
