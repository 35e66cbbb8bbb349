/* wk_json: strict JSON for raw events: a lexer that refuses what json-c
 * lets through, json-c for the tree, and the text of a number as it came.
 * Part of the transformer (wk_transform.h); not used elsewhere. */
#ifndef HB_WK_JSON_H
#define HB_WK_JSON_H

#include <json-c/json.h>
#include <stddef.h>

/** Containers nested deeper than this (the root object counts) make the
 *  message invalid: real events are a handful of levels deep, and the
 *  bound keeps parsing and rendering stack use small. */
#define WK_JSON_MAX_DEPTH 64

/** A piece of text, not necessarily NUL-terminated. */
typedef struct wk_json_str_s {
        const char *s; /**< NULL: absent */
        size_t n;
} wk_json_str_t;

/** Bytes that stand for themselves inside a JSON string: printable ASCII
 *  but '"' and '\\' (the lexer skips them, the renderer copies them). */
extern const unsigned char wk_json_plain[256];

/**
 * @brief Parse \p buf[0, len) as one strict JSON object (RFC 8259 with
 *        valid UTF-8, no control bytes in strings, nothing after it,
 *        nesting bounded by WK_JSON_MAX_DEPTH).
 * @returns the tree (caller owns it, frees it with json_object_put()), or
 *          NULL with the reason in \p reason.
 */
json_object *wk_json_parse(const char *buf, size_t len, char *reason,
                           size_t reason_size);

/**
 * @brief The first half of wk_json_parse() (for wk_jdoc): check every
 *        token of \p buf[0, len) and the nesting bound, and count the
 *        values (not the keys) it holds, exact when the grammar is right.
 * @returns 0 when the tokens are valid and the first is '{', else -1
 *          (wk_json_parse() says why).
 */
int wk_json_lex(const char *buf, size_t len, size_t *values);

/** @returns 1 when the JSON integer \p s[0, n) has no exact int64/uint64
 *  value in json-c, or is "-0": json-c holds it as a double. */
int wk_json_int_is_wide(const char *s, size_t n);

/**
 * @brief The text of a number of a tree from wk_json_parse(), as it came
 *        (every digit of a 64-bit or wider integer, a double's source).
 *        An integer is written into \p tmp (32 bytes are enough).
 */
wk_json_str_t wk_json_num_text(json_object *v, char *tmp, size_t tmpsize);

/** @returns member \p key of \p obj, or NULL (a JSON null, no \p obj and
 *  a missing member are alike: absent). */
static inline json_object *wk_json_get(json_object *obj, const char *key)
{
        json_object *v = NULL;

        if (!obj || !json_object_object_get_ex(obj, key, &v))
                return NULL;
        return v;
}

/** @returns 1 when \p v is a JSON number. */
static inline int wk_json_is_number(json_object *v)
{
        return json_object_is_type(v, json_type_int) ||
               json_object_is_type(v, json_type_double);
}

/** @returns the bytes of the string \p v (NUL-terminated; may hold NULs
 *  from escaped NULs). */
static inline wk_json_str_t wk_json_text(json_object *v)
{
        wk_json_str_t s = {json_object_get_string(v),
                           (size_t)json_object_get_string_len(v)};
        return s;
}

/** @brief Write a bad input's reason, printf-style, into \p r (of
 *  \p rsize bytes; NULL or 0: nothing is written). Shared by the lexer
 *  and the mapping of one event. */
void wk_json_reason(char *r, size_t rsize, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
