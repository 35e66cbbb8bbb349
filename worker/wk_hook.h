/* wk_hook: a webhook given as data (the store's records, later the API's
 * bodies): its JSON form with json-c, both ways, checked by the file's
 * rules (cfg_rule_*), its secret sealed (wk_seal) in the record. */
#ifndef HB_WK_HOOK_H
#define HB_WK_HOOK_H

#include <stddef.h>

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

/** @returns a deep copy of \p h, or NULL (out of memory). */
wk_hook_t *wk_hook_dup(const wk_hook_t *h);

/** @brief Free (the secret wiped first). NULL is a no-op. */
void wk_hook_free(wk_hook_t *h);

#endif
