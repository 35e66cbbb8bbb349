/* wk_embed: lookup in the table of embedded files (see the header). */
#include "wk_embed.h"

#include <string.h>

const unsigned char *wk_embed_find(const char *name, size_t *len)
{
        for (size_t i = 0; name && i < wk_embed_count; i++) {
                if (strcmp(wk_embed_files[i].name, name) == 0) {
                        if (len)
                                *len = wk_embed_files[i].len;
                        return wk_embed_files[i].data;
                }
        }
        return NULL;
}

static const struct {
        const char *ext, *type;
} types[] = {
        {".json", "application/json"},
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
};

const char *wk_embed_type(const char *name)
{
        const char *dot = name ? strrchr(name, '.') : NULL;

        if (dot && !strchr(dot, '/'))
                for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
                        if (strcmp(dot, types[i].ext) == 0)
                                return types[i].type;
        return "application/octet-stream";
}
