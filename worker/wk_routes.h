/* wk_routes: one configuration's webhooks compiled for the hot path:
 * (app, webhook type) -> the webhooks subscribed to it (that app's and the
 * operator webhooks), with the distinct property sets (one rendered body
 * each) worked out in advance. */
#ifndef HB_WK_ROUTES_H
#define HB_WK_ROUTES_H

#include <stddef.h>

#include "cfg.h"

typedef struct wk_routes_s wk_routes_t;

/** One property set: the body rendered once per message for every
 *  subscribed webhook that chooses exactly these properties. Points into
 *  the configuration the table was built from. */
typedef struct wk_props_s {
        const char *const *user;
        size_t user_count;
        const char *const *company;
        size_t company_count;
} wk_props_t;

/** One subscribed webhook. */
typedef struct wk_route_s {
        size_t hook; /**< the webhook's index in the configuration */
        size_t body; /**< its property set: an index into props */
} wk_route_t;

/** Where the events of one webhook type go. */
typedef struct wk_routeset_s {
        const wk_route_t *routes; /**< configuration order */
        size_t route_count;
        const wk_props_t *props; /**< in order of first use by routes */
        size_t prop_count;
} wk_routeset_t;

/**
 * @brief Compile \p cfg's webhooks, per app (SPEC §5, "Tenants"): an app
 *        some webhook names (app_token) gets a table of its own webhooks
 *        and the operator webhooks (no app_token); every other app the
 *        operator webhooks' table. In each, every type some member lists
 *        by name gets its own set, every other type the set of the
 *        members on "*". Building is linear in the webhooks (times the
 *        operator webhooks, which join every app's table).
 * @param active  per webhook (configuration order): non-zero when it
 *                takes part (enabled and selected); NULL: the enabled
 *                ones.
 * @remark the table points into \p cfg: free it first.
 * @returns the table, or NULL (out of memory) with the reason in
 *          \p errstr.
 */
wk_routes_t *wk_routes_new(const cfg_t *cfg, const int *active, char *errstr,
                           size_t errstr_size);

/**
 * @brief Where events of app \p app and webhook type \p type go: that
 *        app's webhooks subscribed to \p type and the operator webhooks
 *        subscribed to it, in configuration order; never another app's.
 *        Two hash lookups (the app, then the type).
 * @param app      the event's payload app_token (\p app_len bytes, which
 *                 are compared as they are: a NUL inside never matches a
 *                 configured token); NULL: the operator webhooks only.
 * @returns the set (never NULL; an empty one when no webhook wants it),
 *          valid until wk_routes_destroy().
 */
const wk_routeset_t *wk_routes_find(const wk_routes_t *r, const char *app,
                                    size_t app_len, const char *type);

/**
 * @brief The app_token of the messages of \p topic (kafka.topics), which
 *        the payload of an event without context.app_token carries (and
 *        which wk_routes_find() is then asked with).
 * @returns the token (the configuration's string), or NULL when \p topic
 *          has none.
 */
const char *wk_routes_app_token(const wk_routes_t *r, const char *topic);

/**
 * @brief The rule the table is built by, for one webhook: may an event of
 *        app \p app (\p app_len bytes, compared as they are) reach a
 *        webhook of app \p hook_app (NULL: an operator webhook)? For the
 *        paths that deliver to a webhook they have already chosen (retry
 *        tiers after a reload, replay, send-test, transform).
 * @returns 1 when it may.
 */
int wk_routes_app_ok(const char *hook_app, const char *app, size_t app_len);

/** @returns how many apps have a table of their own (those some active
 *  webhook names). */
size_t wk_routes_app_count(const wk_routes_t *r);

/** @returns how many distinct sets the tables hold together (per table:
 *  its named types, plus the one for every other type; the operators'
 *  table counts too). */
size_t wk_routes_set_count(const wk_routes_t *r);

/** @brief Free. NULL is a no-op. */
void wk_routes_destroy(wk_routes_t *r);

#endif
