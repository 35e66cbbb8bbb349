/* wk_jdoc: a raw event's JSON as a read-only tree in one allocation,
 * with exactly the values wk_json_parse()'s json-c tree would hold. Part
 * of the transformer (wk_transform.h); not used elsewhere. */
#ifndef HB_WK_JDOC_H
#define HB_WK_JDOC_H

#include <stddef.h>
#include <stdint.h>

#include "wk_json.h"

typedef enum wk_jv_type_e {
        WK_JV_NULL,
        WK_JV_BOOL,
        WK_JV_INT,    /**< json-c's int: fits int64 or uint64 */
        WK_JV_DOUBLE, /**< json-c's double, wide integers and "-0" too */
        WK_JV_STRING,
        WK_JV_OBJECT,
        WK_JV_ARRAY,
} wk_jv_type_t;

/** One value. A container's members follow it; wk_jv_end() is past its
 *  last. Object members have distinct names (a repeated name keeps its
 *  first place and its last value, as in json-c). */
typedef struct wk_jv_s {
        const char *s; /**< string: its bytes, NUL-terminated (may hold
                            escaped NULs); number: its text as it came
                            (not terminated) */
        const char *k; /**< member name, NUL-terminated; "" otherwise */
        uint32_t n;    /**< string, number: bytes; container: members */
        uint32_t kn;   /**< bytes of k */
        uint32_t skip; /**< values in this one's subtree, itself included */
        uint8_t type;  /**< wk_jv_type_t */
        uint8_t truth; /**< a boolean's value */
} wk_jv_t;

typedef struct wk_jdoc_s wk_jdoc_t;

/**
 * @brief Parse \p buf[0, len) as wk_json_parse() does (the same checks,
 *        the same reasons), into one allocation.
 * @returns the document (free with wk_jdoc_free()), or NULL with the
 *          reason in \p reason.
 */
wk_jdoc_t *wk_jdoc_parse(const char *buf, size_t len, char *reason,
                         size_t reason_size);

/** @returns the root object of \p d. */
const wk_jv_t *wk_jdoc_root(const wk_jdoc_t *d);

void wk_jdoc_free(wk_jdoc_t *d);

/** @returns member \p key[0, kn) of \p obj, or NULL (a JSON null, no
 *  \p obj, not an object and a missing member are alike: absent). */
const wk_jv_t *wk_jv_getn(const wk_jv_t *obj, const char *key, size_t kn);

/** wk_jv_getn() of a C string (a literal's length is folded). */
static inline const wk_jv_t *wk_jv_get(const wk_jv_t *obj, const char *key)
{
        return wk_jv_getn(obj, key, __builtin_strlen(key));
}

/** @returns the first member of \p v (end: wk_jv_end(v)). */
static inline const wk_jv_t *wk_jv_first(const wk_jv_t *v)
{
        return v + 1;
}

/** @returns past the last member of \p v. */
static inline const wk_jv_t *wk_jv_end(const wk_jv_t *v)
{
        return v + v->skip;
}

/** @returns the member after \p v. */
static inline const wk_jv_t *wk_jv_next(const wk_jv_t *v)
{
        return v + v->skip;
}

static inline int wk_jv_is(const wk_jv_t *v, wk_jv_type_t t)
{
        return v && v->type == t;
}

/** @returns 1 when \p v is a JSON number. */
static inline int wk_jv_is_number(const wk_jv_t *v)
{
        return v && (v->type == WK_JV_INT || v->type == WK_JV_DOUBLE);
}

/** @returns a string's bytes or a number's text. */
static inline wk_json_str_t wk_jv_text(const wk_jv_t *v)
{
        wk_json_str_t s = {v->s, v->n};
        return s;
}

/** @returns an integer's value as json-c's json_object_get_int64() gives
 *  it (INT64_MAX for those above). */
int64_t wk_jv_int64(const wk_jv_t *v);

/** @returns a number's value as a double (strtod of its text). */
double wk_jv_double(const wk_jv_t *v);

#endif
