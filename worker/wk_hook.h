/* wk_hook: a webhook given as data (the store's records, later the API's
 * bodies): its JSON form with json-c, both ways, checked by the file's
 * rules (cfg_rule_*), its secret sealed (wk_seal) in the record. */
#ifndef HB_WK_HOOK_H
#define HB_WK_HOOK_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "cfg.h"
#include "wk_seal.h"

/** One entry of events: a type ("*": every type) switched on or off. */
typedef struct wk_hook_event_s {
        char *type;
        int enabled;
} wk_hook_event_t;

/** A webhook of the store; every pointer is owned by it. */
typedef struct wk_hook_s {
        char *id;        /**< the record key; not in the JSON */
        char *app_token; /**< the app it belongs to (required) */
        char *name;
        char *url;
        int enabled;
        wk_hook_event_t *events;
        size_t event_count;
        char **user_props;
        size_t user_prop_count;
        char **company_props;
        size_t company_prop_count;
        char *secret; /**< plaintext in memory, NULL: unsigned */
        /** the secret before a rotation, also signed with until
         *  secret_previous_until_ms (unix ms); NULL: none */
        char *secret_previous;
        int64_t secret_previous_until_ms;
        cfg_sig_t signature;
        char **headers; /**< "Name: value" */
        size_t header_count;
        int rate_limit; /**< requests per second, 0: none */
} wk_hook_t;

/** The record format written; a record of another is refused. */
#define WK_HOOK_FORMAT 1

/**
 * @brief The record value of \p h: {"format":1, ..., "secret_sealed":
 *        "v1...."} with the secret sealed under \p key for \p h->id.
 * @returns the JSON text (malloc()ed), or NULL with the reason.
 */
char *wk_hook_to_json(const wk_hook_t *h,
                      const unsigned char key[WK_SEAL_KEY_LEN], char *errstr,
                      size_t errstr_size);

/**
 * @brief Read a record value (\p json[0, len)) for webhook \p id: every
 *        field checked by the file's rules, an unknown field or a wrong
 *        type refused, the secret unsealed with \p key.
 * @returns the webhook (wk_hook_free() it), or NULL with every problem in
 *          \p errstr, one per line, each naming its field.
 */
wk_hook_t *wk_hook_from_json(const char *json, size_t len, const char *id,
                             const unsigned char key[WK_SEAL_KEY_LEN],
                             char *errstr, size_t errstr_size);

/**
 * @brief Read a webhook as the management API takes it (SPEC §7): the
 *        members of \p body are name, url, enabled, events,
 *        user_properties, company_properties, secret (plaintext),
 *        signature, headers, rate_limit, checked by the same rules as
 *        wk_hook_from_json() (the file's, cfg_rule_*); the webhook gets
 *        \p id and \p app (from the path). id, app_token and version
 *        are refused as read-only, any other member as unknown.
 * @returns the webhook, or NULL with every problem in \p errstr, one per
 *          line, each "<field>: <message>" (field as "events[2].type").
 */
wk_hook_t *wk_hook_from_body(json_object *body, const char *id, const char *app,
                             char *errstr, size_t errstr_size);

/**
 * @brief The public view of \p h: the members wk_hook_from_body() takes,
 *        the secret left out ("signed": whether it has one). With
 *        \p secret, "secret" is added too (only to build a merge that
 *        never leaves the process: PATCH).
 * @returns a new object (json_object_put() it), or NULL.
 */
json_object *wk_hook_view(const wk_hook_t *h, int secret);

/** Room for a secret wk_hook_secret_new() makes, with its NUL. */
#define WK_HOOK_SECRET_LEN (6 + 44 + 1)

/** @brief A new signing secret: "whsec_" + base64 of 32 bytes from
 *  OpenSSL's RAND_bytes. @returns 0, or -1 (no random bytes). */
int wk_hook_secret_new(char out[WK_HOOK_SECRET_LEN]);

/** @returns a deep copy of \p h, or NULL (out of memory). */
wk_hook_t *wk_hook_dup(const wk_hook_t *h);

/** @brief Free (the secret wiped first). NULL is a no-op. */
void wk_hook_free(wk_hook_t *h);

#endif
