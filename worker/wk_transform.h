/* wk_transform: raw analytics event (Segment "track") -> webhook payload. */
#ifndef HB_WK_TRANSFORM_H
#define HB_WK_TRANSFORM_H

#include <stddef.h>
#include <stdint.h>

/** Raw event name -> webhook type table: the built-in SPEC section 2 rows
 *  plus configured extras (which may override built-ins). */
typedef struct wk_mapping_s wk_mapping_t;

/** A parsed, mapped event, ready to be rendered once per property set. */
typedef struct wk_event_s wk_event_t;

typedef enum {
        WK_XF_OK = 0,  /**< a deliverable event */
        WK_XF_SKIPPED, /**< not a track call, or an unmapped event name */
        WK_XF_INVALID, /**< bad input: not JSON, not an object, lacks data */
} wk_xf_status_t;

/** Where a raw message came from (fallbacks in SPEC section 1). */
typedef struct wk_msgmeta_s {
        const char *topic;
        int32_t partition;
        int64_t offset;
        int64_t timestamp_ms;        /**< Kafka message timestamp, or -1 */
        const char *topic_app_token; /**< configured for the topic, or NULL */
} wk_msgmeta_t;

/** @brief A mapping table holding the built-in rows. */
wk_mapping_t *wk_mapping_new(void);

/**
 * @brief Add or override raw \p event -> webhook \p type. A type outside
 *        the built-in table renders data.type/data.action from the parts
 *        before/after its first '.', and data.id from properties.id.
 * @returns 0, or -1 with the reason in \p errstr.
 */
int wk_mapping_add(wk_mapping_t *m, const char *event, const char *type,
                   char *errstr, size_t errstr_size);

/** @returns 1 when \p type is a webhook type some row maps to. */
int wk_mapping_has_type(const wk_mapping_t *m, const char *type);

/** @returns the number of distinct webhook types, and writes up to \p max
 *  of them (built-in order first) to \p types. */
size_t wk_mapping_types(const wk_mapping_t *m, const char **types, size_t max);

void wk_mapping_destroy(wk_mapping_t *m);

/**
 * @brief Parse and map one raw message value.
 *
 * @param evp     on WK_XF_OK, receives the event (caller owns it, frees
 *                it with wk_event_destroy()); otherwise set to NULL.
 * @param reason  on SKIPPED/INVALID, a short human reason naming the
 *                field ("missing userId", "not JSON: unexpected end ...").
 */
wk_xf_status_t wk_event_parse(const wk_mapping_t *m, const char *buf,
                              size_t len, const wk_msgmeta_t *meta,
                              wk_event_t **evp, char *reason,
                              size_t reason_size);

/** @returns the webhook type ("flows.completed"). */
const char *wk_event_type(const wk_event_t *ev);
/** @returns the event id: messageId, or "<topic>-<partition>-<offset>". */
const char *wk_event_id(const wk_event_t *ev);
/**
 * @brief The payload's app_token (SPEC §1: context.app_token, else the
 *        topic's), which decides the webhooks it may reach (SPEC §5).
 * @param lenp  its length in bytes: the text is not necessarily
 *              NUL-terminated and may hold a NUL (a JSON "\u0000").
 */
const char *wk_event_app(const wk_event_t *ev, size_t *lenp);
/** @returns the payload timestamp, unix seconds. */
int64_t wk_event_timestamp(const wk_event_t *ev);

/**
 * @brief Render the compact payload for one webhook's chosen properties.
 * @returns a malloc()ed NUL-terminated body (caller frees), length in
 *          \p lenp; NULL only on out-of-memory.
 */
char *wk_event_render(const wk_event_t *ev, const char *const *user_props,
                      size_t user_prop_count, const char *const *company_props,
                      size_t company_prop_count, size_t *lenp);

void wk_event_destroy(wk_event_t *ev);

#endif
