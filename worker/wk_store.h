/* wk_store: the webhook store, one replica of it: the state (webhook id
 * -> webhook and version) built by applying the records of the store
 * topic in log order with the same rule on every replica, the reader
 * that follows the topic (kc_store), the writer (wh_store) whose writes
 * return once this replica has applied them (read-your-writes).
 *
 * The rule. A record's version is its offset + 1 (unique, the same on
 * every replica, never reused: no ABA), 0 standing for "no webhook". A
 * record applies when its base version is the current version of its key
 * (0 when the key has no webhook), or when its base names a record this
 * replica never read because compaction removed it; any other record is
 * ignored. A
 * tombstone (no value) that applies removes the webhook; a value that
 * applies but cannot be read (bad JSON, a secret sealed with another
 * key) still takes the version, so the versions of every replica agree,
 * and leaves the key without a webhook (logged).
 *
 * Compaction keeps only the last record of a key, so the last record of
 * a key must be one that applied: a writer whose record was ignored (a
 * conflict) writes the current state again as a restatement (header
 * hookbridge-restate), which applies by the same rule but keeps the
 * version it restates, until one applies. A writer that dies in between
 * leaves its ignored record last: a replica reading that key's compacted
 * history alone would then apply it (a known limit; a later write of the
 * key repairs it). */
#ifndef HB_WK_STORE_H
#define HB_WK_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "wk_hook.h"

typedef struct wk_store_s wk_store_t;

/** What became of a record. */
typedef enum {
        WK_STORE_APPLIED = 0,
        WK_STORE_IGNORED, /**< its base was not the current version */
        WK_STORE_UNKNOWN, /**< not read yet, or too long ago to say */
} wk_store_outcome_t;

/** A write refused because its base was not the current version. */
#define WK_STORE_CONFLICT 1

typedef struct wk_store_conf_s {
        const char *brokers;
        const char *const *prop_names; /**< kafka.properties */
        const char *const *prop_values;
        size_t prop_count;
        const char *topic;        /**< api.store_topic */
        int replication_factor;   /**< of the topic when created */
        const unsigned char *key; /**< WK_SEAL_KEY_LEN bytes, copied */
        int write_timeout_ms;     /**< a write, read back (default 10000) */
} wk_store_conf_t;

/**
 * @brief Start a replica: the topic created when missing, its end asked
 *        of the broker, then a thread that reads it from the start and
 *        follows it. The replica is ready once it has read up to that
 *        end (wk_store_ready()).
 * @returns it, or NULL with the reason in \p errstr.
 */
wk_store_t *wk_store_new(const wk_store_conf_t *conf, char *errstr,
                         size_t errstr_size);

/** @brief A replica without Kafka (tests of the rule): records are
 *  given by wk_store_apply(); it is ready at once. */
wk_store_t *wk_store_new_local(const unsigned char key[WK_SEAL_KEY_LEN]);

/**
 * @brief Apply one record (the reader's thread does it for a Kafka
 *        replica): \p value NULL is a tombstone, \p base -1 a record
 *        without a base (ignored).
 * @returns what became of it.
 */
wk_store_outcome_t wk_store_apply(wk_store_t *s, const char *key,
                                  size_t key_len, const void *value, size_t len,
                                  int64_t base, int64_t offset);

/** @brief wk_store_apply() of a restatement (the hookbridge-restate
 *  header): applied by the same rule, it keeps the version it is based on
 *  instead of taking its own. */
wk_store_outcome_t wk_store_apply_restate(wk_store_t *s, const char *key,
                                          size_t key_len, const void *value,
                                          size_t len, int64_t base,
                                          int64_t offset);

/** @returns 1 once the replica has read the topic up to the end it had
 *  when it started (it then follows it), else 0. */
int wk_store_ready(wk_store_t *s);

/** @brief Wait up to \p timeout_ms for wk_store_ready(). @returns it. */
int wk_store_wait_ready(wk_store_t *s, int timeout_ms);

/**
 * @brief Write \p h (under \p h->id) based on version \p base (0: a
 *        create) and wait until this replica has read it back.
 * @returns 0 with its version in \p *version, WK_STORE_CONFLICT when the
 *          record was ignored (\p *version: the record's own version), or -1
 *          with the reason in \p errstr (invalid, Kafka, timeout).
 */
int wk_store_put(wk_store_t *s, const wk_hook_t *h, int64_t base,
                 int64_t *version, char *errstr, size_t errstr_size);

/** @brief A tombstone for \p id based on \p base; as wk_store_put(). */
int wk_store_delete(wk_store_t *s, const char *id, int64_t base,
                    int64_t *version, char *errstr, size_t errstr_size);

/** @returns a copy of webhook \p id (wk_hook_free() it) with its version
 *  in \p *version (may be NULL), or NULL when there is none. */
wk_hook_t *wk_store_get(wk_store_t *s, const char *id, int64_t *version);

/** @returns the current version of \p id: 0 when it has no webhook. */
int64_t wk_store_version(wk_store_t *s, const char *id);

/** @returns what became of the record at \p offset on this replica. */
wk_store_outcome_t wk_store_outcome(wk_store_t *s, int64_t offset);

/** @returns how many webhooks the replica holds. */
size_t wk_store_count(wk_store_t *s);

/** @returns the offset of the next record this replica will read. */
int64_t wk_store_position(wk_store_t *s);

/* --- following the store (the worker's tables) ------------------------- */

/** @returns a counter bumped by every record that applied (a change of
 *  some webhook): equal values mean the same state. Lock-free, any
 *  thread; cheap enough for every turn of a loop. */
uint64_t wk_store_generation(wk_store_t *s);

/** Where wk_store_each() is: for wk_store_hold(), during the call only. */
typedef struct wk_store_pin_s wk_store_pin_t;

/** Called by wk_store_each() for one webhook, under the store's lock:
 *  \p h is valid only during the call, unless held (wk_store_hold()).
 *  A non-zero return stops the walk. */
typedef int(wk_store_each_cb_t)(const wk_hook_t *h, int64_t version,
                                wk_store_pin_t *pin, void *opaque);

/**
 * @brief Call \p cb for every webhook held (not the unreadable records),
 *        in no particular order, under the lock: a consistent state,
 *        whose generation goes to \p *generation (may be NULL). Records
 *        wait meanwhile, so \p cb must be quick.
 * @returns the number of webhooks walked, or -1 when \p cb stopped it.
 */
long wk_store_each(wk_store_t *s, wk_store_each_cb_t *cb, void *opaque,
                   uint64_t *generation);

/* --- one app's webhooks (the management API) --------------------------- */

/** A webhook of an app, as wk_store_app_refs() lists it. */
typedef struct wk_store_ref_s {
        char *id;
        char *name;
        int64_t version;
} wk_store_ref_t;

/**
 * @brief The webhooks of app \p app (not the unreadable records), sorted
 *        by id (bytewise), from one consistent state.
 * @returns how many (their refs in \p *out, wk_store_refs_free() them),
 *          or -1 out of memory.
 */
long wk_store_app_refs(wk_store_t *s, const char *app, wk_store_ref_t **out);

/** @brief Free what wk_store_app_refs() gave. */
void wk_store_refs_free(wk_store_ref_t *refs, long n);

/** A webhook of the store kept as it was, without a copy (the worker's
 *  tables point into it): a record replacing it does not free it. */
typedef struct wk_store_held_s wk_store_held_t;

/** @brief From a wk_store_each() callback: hold its webhook (\p pin)
 *  until wk_store_unhold(). @returns the hold, or NULL (out of memory). */
wk_store_held_t *wk_store_hold(wk_store_pin_t *pin);

/** @returns the webhook held (read-only, never changed). */
const wk_hook_t *wk_store_held_hook(const wk_store_held_t *hd);

/** @brief Let go (any thread; the last holder frees). NULL is a
 *  no-op. */
void wk_store_unhold(wk_store_held_t *hd);

/** @brief Stop the thread, close the clients, free. NULL is a no-op. */
void wk_store_destroy(wk_store_t *s);

#endif
