/* wk_portal: the portal's files and headers under /portal/ (see the
 * header). */
#include "wk_portal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hb_hash.h"
#include "hb_types.h"
#include "wk_embed.h"

#define TYPES_JSON_MAX 4096
#define NAME_MAX_LEN   64

static char types_json[TYPES_JSON_MAX];
static size_t types_len;
static pthread_once_t types_once = PTHREAD_ONCE_INIT;

/* ["flows.seen", ...]: the built-in types need no escaping
 * (hb_type_name_ok). */
static void build_types(void)
{
        size_t n = 0;

        types_json[n++] = '[';
        for (size_t i = 0; i < hb_type_count(); i++) {
                const char *t = hb_type_at(i)->type;
                int w = snprintf(types_json + n, sizeof(types_json) - n,
                                 "%s\"%s\"", i ? "," : "", t);
                if (w < 0 || (size_t)w >= sizeof(types_json) - n - 1)
                        break; /* not with the built-in table */
                n += (size_t)w;
        }
        types_json[n++] = ']';
        types_json[n] = '\0';
        types_len = n;
}

int wk_portal_path(const char *path)
{
        return path &&
               (!strcmp(path, "/portal") ||
                !strncmp(path, WK_PORTAL_PREFIX, sizeof(WK_PORTAL_PREFIX) - 1));
}

/* FNV-1a, 64 bits: a validator for the cache, not a secret. */
static void etag_of(const unsigned char *p, size_t n, char *out, size_t size)
{
        uint64_t h = hb_hash_fnv1a(HB_HASH_FNV1A_INIT, p, n);

        snprintf(out, size, "\"%016llx\"", (unsigned long long)h);
}

/* The file NAME of portal/ (one path segment of safe characters). */
static const unsigned char *find(const char *name, size_t *len)
{
        char full[sizeof("portal/") + NAME_MAX_LEN];
        size_t n = strlen(name);

        if (n == 0 || n > NAME_MAX_LEN || name[0] == '.' ||
            strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789._-") != n)
                return NULL;
        snprintf(full, sizeof(full), "portal/%s", name);
        return wk_embed_find(full, len);
}

void wk_portal_answer(const char *method, const char *path,
                      const char *if_none_match, wk_portal_answer_t *out)
{
        const char *name;

        memset(out, 0, sizeof(*out));
        out->content_type = "text/plain; charset=utf-8";
        if (!wk_portal_path(path)) {
                out->status = 404;
                return;
        }
        if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
                out->status = 405;
                return;
        }
        if (!strcmp(path, "/portal")) {
                out->status = 301;
                out->location = WK_PORTAL_PREFIX;
                return;
        }
        name = path + sizeof(WK_PORTAL_PREFIX) - 1;
        if (!*name)
                name = "index.html";
        if (!strcmp(name, "types.json")) {
                pthread_once(&types_once, build_types);
                out->body = (const unsigned char *)types_json;
                out->len = types_len;
                out->content_type = "application/json";
        } else if ((out->body = find(name, &out->len))) {
                out->content_type = wk_embed_type(name);
        } else {
                out->status = 404;
                return;
        }
        etag_of(out->body, out->len, out->etag, sizeof(out->etag));
        out->status = 200;
        if (if_none_match && !strcmp(if_none_match, out->etag)) {
                out->status = 304;
                out->body = NULL;
                out->len = 0;
        }
}

size_t wk_portal_headers(const char *frame_ancestors, char *csp,
                         size_t csp_size, wk_portal_header_t *h)
{
        size_t n = 0;
        int w;

        if (!frame_ancestors)
                frame_ancestors = "'none'";
        /* everything from this origin only, nothing inline; the page
         * talks to the API beside it (connect-src) and submits nowhere */
        w = snprintf(csp, csp_size,
                     "default-src 'self'; script-src 'self'; style-src "
                     "'self'; img-src 'self'; connect-src 'self'; "
                     "object-src 'none'; base-uri 'none'; form-action "
                     "'none'; frame-ancestors %s",
                     frame_ancestors);
        if (w < 0 || (size_t)w >= csp_size)
                return 0;
        h[n++] = (wk_portal_header_t){"Content-Security-Policy", csp};
        h[n++] = (wk_portal_header_t){"X-Content-Type-Options", "nosniff"};
        h[n++] = (wk_portal_header_t){"Referrer-Policy", "no-referrer"};
        h[n++] = (wk_portal_header_t){"Cache-Control", "no-cache"};
        if (!strcmp(frame_ancestors, "'none'"))
                h[n++] = (wk_portal_header_t){"X-Frame-Options", "DENY"};
        return n;
}
