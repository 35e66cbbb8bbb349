/* wk_embed: files of the repository compiled into the binary (the
 * OpenAPI document, the portal's pages), found by name. The table is
 * generated at build time by hb_embed() in CMakeLists.txt
 * (worker/wk_embed.cmake); a file's name is its path in the repository,
 * e.g. "worker/openapi.json" or "portal/index.html". */
#ifndef HB_WK_EMBED_H
#define HB_WK_EMBED_H

#include <stddef.h>

/** One embedded file: its bytes, followed by a NUL not counted in len. */
typedef struct wk_embed_file_s {
        const char *name;
        const unsigned char *data;
        size_t len;
} wk_embed_file_t;

/* The generated table (wk_embed_files.c in the build directory). */
extern const wk_embed_file_t wk_embed_files[];
extern const size_t wk_embed_count;

/**
 * @brief The embedded file named \p name (exact match, e.g.
 *        "portal/app.js").
 * @returns its bytes (NUL-terminated, so text can be parsed as a string)
 *          and its length in \p *len (if not NULL), or NULL when no file
 *          has that name.
 */
const unsigned char *wk_embed_find(const char *name, size_t *len);

/**
 * @brief The Content-Type to serve \p name with, from its extension
 *        (.json, .html, .css, .js, .svg, .png, .ico, .txt);
 *        "application/octet-stream" for any other.
 */
const char *wk_embed_type(const char *name);

#endif
