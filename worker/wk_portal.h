/* wk_portal: what the API listener answers under /portal/: the portal's
 * embedded files (portal/ in the repository, wk_embed), the list of
 * webhook types the page offers, and the headers every answer there
 * carries (a strict Content-Security-Policy whose frame-ancestors is
 * api.frame_ancestors, nosniff, no referrer, revalidated caching). Kept
 * free of libmicrohttpd: the listener copies the answer out. */
#ifndef HB_WK_PORTAL_H
#define HB_WK_PORTAL_H

#include <stddef.h>

/** The path prefix the portal is served under. */
#define WK_PORTAL_PREFIX "/portal/"

/** One answer under /portal/. */
typedef struct wk_portal_answer_s {
        int status; /**< 200, 301, 304, 404 or 405 */
        /** the body (static: embedded or built once; never freed) */
        const unsigned char *body;
        size_t len;
        const char *content_type;
        const char *location; /**< 301 only: where to */
        char etag[24];        /**< "\"<hex>\"", also on 304 */
} wk_portal_answer_t;

/** The most headers wk_portal_headers() writes. */
#define WK_PORTAL_HEADER_MAX 5

typedef struct wk_portal_header_s {
        const char *name, *value;
} wk_portal_header_t;

/**
 * @brief Whether \p path (without the query) is the portal's: "/portal"
 *        or under "/portal/".
 */
int wk_portal_path(const char *path);

/**
 * @brief Answer \p method \p path (without the query): "/portal" is sent
 *        to "/portal/" (301), "/portal/" is portal/index.html,
 *        "/portal/types.json" the built-in webhook types (hb_types) as a
 *        JSON array, "/portal/NAME" the embedded file portal/NAME (no
 *        '/' in NAME, so nothing else of the binary's files is reachable);
 *        GET and HEAD only (else 405). With \p if_none_match equal to the
 *        file's ETag, 304.
 * @remark Thread-safe; nothing to free.
 */
void wk_portal_answer(const char *method, const char *path,
                      const char *if_none_match, wk_portal_answer_t *out);

/**
 * @brief The headers every portal answer carries, into \p h (room for
 *        WK_PORTAL_HEADER_MAX): Content-Security-Policy ("default-src
 *        'self'; script-src 'self'; style-src 'self'; ...; frame-ancestors
 *        <\p frame_ancestors>", written into \p csp),
 *        X-Content-Type-Options nosniff, Referrer-Policy no-referrer,
 *        Cache-Control no-cache (revalidated with the ETag), and
 *        X-Frame-Options DENY when \p frame_ancestors is "'none'" (for
 *        browsers without frame-ancestors).
 * @param frame_ancestors api.frame_ancestors (checked by the
 *        configuration: no ';', ',', quote or line break); NULL: 'none'.
 * @returns the number of headers written, or 0 when \p csp is too small.
 */
size_t wk_portal_headers(const char *frame_ancestors, char *csp,
                         size_t csp_size, wk_portal_header_t *h);

#endif
