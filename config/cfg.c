/* cfg: the loaded configuration -- its memory (one arena, wiped on
 * destroy) and the read-only accessors of cfg.h. */
#include "cfg_int.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* --- arena ------------------------------------------------------------ */

static void *cfg_alloc(cfg_t *cfg, size_t n, size_t size)
{
        const size_t unit = sizeof(max_align_t);
        cfg_chunk_t *c = cfg->chunks;
        size_t bytes;
        void *p;

        if (size && n > SIZE_MAX / size)
                return NULL;
        bytes = n * size;
        if (bytes == 0)
                bytes = 1;
        if (bytes > SIZE_MAX - unit - sizeof(*c))
                return NULL;
        bytes = (bytes + unit - 1) / unit * unit;
        if (!c || c->cap - c->used < bytes) {
                size_t cap = bytes > CFG_CHUNK ? bytes : CFG_CHUNK;

                c = calloc(1, sizeof(*c) + cap);
                if (!c)
                        return NULL;
                c->cap = cap;
                c->next = cfg->chunks;
                cfg->chunks = c;
        }
        p = (unsigned char *)c->mem + c->used;
        c->used += bytes;
        return p;
}

void *ld_alloc(cfg_loader_t *ld, size_t n, size_t size)
{
        void *p = cfg_alloc(ld->cfg, n, size);

        if (!p)
                ld->oom = 1;
        return p;
}

char *ld_strndup(cfg_loader_t *ld, const char *s, size_t len)
{
        char *p = ld_alloc(ld, len + 1, 1);

        if (p) {
                memcpy(p, s, len);
                p[len] = '\0';
        }
        return p;
}

char *ld_strdup(cfg_loader_t *ld, const char *s)
{
        return ld_strndup(ld, s, strlen(s));
}

void cfg_destroy(cfg_t *cfg)
{
        cfg_chunk_t *c, *next;

        if (!cfg || atomic_fetch_sub(&cfg->refs, 1) > 0)
                return;
        /* The arena holds the secrets: wipe it. */
        for (c = cfg->chunks; c; c = next) {
                next = c->next;
                explicit_bzero(c->mem, c->cap);
                free(c);
        }
        if (cfg->heap_webhooks)
                free(cfg->webhooks);
        cfg_destroy(cfg->parent);
        explicit_bzero(&cfg->api, sizeof(cfg->api)); /* the key */
        free(cfg);
}

/* --- accessors -------------------------------------------------------- */

const char *cfg_path(const cfg_t *cfg)
{
        return cfg->path;
}

const cfg_kafka_t *cfg_kafka(const cfg_t *cfg)
{
        return &cfg->kafka;
}

const cfg_delivery_t *cfg_delivery(const cfg_t *cfg)
{
        return &cfg->delivery;
}

const cfg_admin_t *cfg_admin(const cfg_t *cfg)
{
        return &cfg->admin;
}

const cfg_api_t *cfg_api(const cfg_t *cfg)
{
        return &cfg->api;
}

const cfg_log_t *cfg_log(const cfg_t *cfg)
{
        return &cfg->log;
}

size_t cfg_webhook_count(const cfg_t *cfg)
{
        return cfg->webhook_count;
}

const cfg_webhook_t *cfg_webhook(const cfg_t *cfg, size_t i)
{
        return i < cfg->webhook_count ? &cfg->webhooks[i] : NULL;
}

const cfg_webhook_t *cfg_webhook_find(const cfg_t *cfg, const char *name)
{
        if (!name)
                return NULL;
        for (size_t i = 0; i < cfg->webhook_count; i++) {
                if (!strcmp(cfg->webhooks[i].name, name))
                        return &cfg->webhooks[i];
        }
        return NULL;
}

int cfg_webhook_wants(const cfg_webhook_t *wh, const char *type)
{
        if (!wh || !type || !wh->enabled)
                return 0;
        for (size_t i = 0; i < wh->event_count; i++) {
                if (!strcmp(wh->events[i], "*") || !strcmp(wh->events[i], type))
                        return 1;
        }
        return 0;
}

size_t cfg_mapping_count(const cfg_t *cfg)
{
        return cfg->mapping_count;
}

const cfg_mapping_t *cfg_mapping(const cfg_t *cfg, size_t i)
{
        return i < cfg->mapping_count ? &cfg->mappings[i] : NULL;
}

const char *cfg_topic_app_token(const cfg_t *cfg, const char *topic)
{
        if (!topic)
                return NULL;
        for (size_t i = 0; i < cfg->kafka.topic_count; i++) {
                if (!strcmp(cfg->kafka.topics[i].name, topic))
                        return cfg->kafka.topics[i].app_token;
        }
        return NULL;
}
