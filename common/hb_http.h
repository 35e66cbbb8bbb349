/* hb_http: what an HTTP request header may hold (RFC 9110), the one check
 * that the configuration (static headers), the endpoint (before a
 * request) and the transformer (messageId, sent as webhook-id) apply, and
 * the headers hookbridge writes itself. */
#ifndef HB_HTTP_H
#define HB_HTTP_H

#include <stddef.h>

/** @returns 1 when \p c may stand in a header name (an RFC 9110 tchar:
 *           letters, digits and !#$%&'*+-.^_`|~), else 0. */
int hb_http_tchar(char c);

/**
 * @brief Check a header value \p v[0, n) (no NUL needed) against RFC
 *        9110's field-value: visible ASCII and bytes >= 0x80, with
 *        spaces and tabs between them but not at either end (a receiver
 *        strips those, so the value it saw would not be the one signed).
 *        No other control byte (CR, LF, NUL, ...), no DEL and no C1
 *        control in UTF-8 (U+0080..U+009F: bytes 0xc2 0x80..0x9f, e.g.
 *        CSI, NEL), so a value can never end the header or start
 *        another, nor drive a terminal that shows it.
 * @returns 1 when it is one (the empty value too), else 0.
 */
int hb_http_value_ok(const char *v, size_t n);

/** @returns 1 when \p name[0, n) is a header hookbridge writes on every
 *           delivery (any case), so a static header may not repeat it. */
int hb_http_owned_header(const char *name, size_t n);

/** What is wrong with a static header line, first problem first. */
typedef enum {
        HB_HDR_OK = 0,
        HB_HDR_LINE_BREAK,  /**< a CR or LF anywhere */
        HB_HDR_NO_COLON,    /**< not "Name: value" */
        HB_HDR_EMPTY_NAME,  /**< nothing before the ':' */
        HB_HDR_BAD_NAME,    /**< a name byte that is not a tchar */
        HB_HDR_OWNED,       /**< a header hookbridge writes itself */
        HB_HDR_EMPTY_VALUE, /**< only blanks after the ':' */
        HB_HDR_BAD_VALUE,   /**< not a field value (hb_http_value_ok) */
} hb_hdr_problem_t;

/**
 * @brief Check a static header line "Name: value" (a webhook's `headers`,
 *        from the file or the API): a token name that hookbridge does not
 *        write itself, then a non-empty field value once the blanks
 *        around it are set aside. (curl would take "Name:" as "remove
 *        this header", so an empty value is refused too.)
 * @param name_len the length of the name (up to the ':'), when there is
 *        one; may be NULL.
 * @param at where the first bad name byte is (with HB_HDR_BAD_NAME);
 *        may be NULL.
 * @returns HB_HDR_OK, or the first problem found.
 */
hb_hdr_problem_t hb_http_header_check(const char *line, size_t *name_len,
                                      size_t *at);

#endif
