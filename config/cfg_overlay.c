/* cfg_overlay: a configuration that is a loaded one plus webhooks given
 * as data (the store's, SPEC §7), sharing the loaded one's settings by a
 * reference, so that the worker compiles both kinds alike. */
#include "cfg_int.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Where cfg_s's reference count lies, which the copy below leaves out. */
static const size_t refs_at = offsetof(cfg_t, refs);
static const size_t refs_end = offsetof(cfg_t, refs) + sizeof(_Atomic int);

cfg_t *cfg_overlay_new(cfg_t *base, size_t hint)
{
        cfg_t *ov = calloc(1, sizeof(*ov));
        size_t cap = base->webhook_count + hint;

        if (!ov)
                return NULL;
        /* the settings are base's: its records, pointing into its arena
         * (whatever cfg_s holds, so nothing added to it is forgotten),
         * all but its reference count, which other delivery loops may be
         * changing meanwhile (cfg_ref) */
        memcpy(ov, base, refs_at);
        memcpy((char *)ov + refs_end, (const char *)base + refs_end,
               sizeof(*ov) - refs_end);
        ov->chunks = NULL;
        atomic_init(&ov->refs, 0);
        ov->webhooks = malloc((cap ? cap : 1) * sizeof(*ov->webhooks));
        if (!ov->webhooks) {
                free(ov);
                return NULL;
        }
        ov->heap_webhooks = 1;
        ov->webhook_cap = cap ? cap : 1;
        if (base->webhook_count) /* "webhooks = ( );": base's is NULL */
                memcpy(ov->webhooks, base->webhooks,
                       base->webhook_count * sizeof(*ov->webhooks));
        ov->webhook_count = base->webhook_count;
        atomic_fetch_add(&base->refs, 1);
        ov->parent = base;
        return ov;
}

cfg_t *cfg_ref(cfg_t *cfg)
{
        atomic_fetch_add(&cfg->refs, 1);
        return cfg;
}

/* A copy of the \p n strings of \p v in the arena (NULL when n is 0). */
static const char *const *dup_list(cfg_loader_t *ld, const char *const *v,
                                   size_t n, int borrow)
{
        const char **out;

        if (!n)
                return NULL;
        out = ld_alloc(ld, n + 1, sizeof(*out));
        for (size_t i = 0; out && i < n; i++)
                out[i] = borrow ? v[i] : ld_strdup(ld, v[i]);
        if (out)
                out[n] = NULL;
        return out;
}

static const char *dup_opt(cfg_loader_t *ld, const char *s)
{
        return s ? ld_strdup(ld, s) : NULL;
}

/* The lists' arrays, and the strings unless borrowed. */
static void copy_lists(cfg_loader_t *ld, cfg_webhook_t *c,
                       const cfg_webhook_t *wh, int borrow)
{
        c->events = dup_list(ld, wh->events, wh->event_count, borrow);
        c->user_props =
                dup_list(ld, wh->user_props, wh->user_prop_count, borrow);
        c->company_props =
                dup_list(ld, wh->company_props, wh->company_prop_count, borrow);
        c->headers = dup_list(ld, wh->headers, wh->header_count, borrow);
}

int cfg_overlay_add(cfg_t *ov, const cfg_webhook_t *wh, int borrow)
{
        cfg_loader_t ld = {.cfg = ov};
        const cfg_delivery_t *d = &ov->delivery;
        cfg_webhook_t c = *wh;

        if (ov->webhook_count == ov->webhook_cap) {
                size_t cap = ov->webhook_cap * 2;
                cfg_webhook_t *n = realloc(ov->webhooks, cap * sizeof(*n));

                if (!n)
                        return -1;
                ov->webhooks = n;
                ov->webhook_cap = cap;
        }
        copy_lists(&ld, &c, wh, borrow);
        if (!borrow) {
                c.name = dup_opt(&ld, wh->name);
                c.app_token = dup_opt(&ld, wh->app_token);
                c.url = dup_opt(&ld, wh->url);
                c.secret = dup_opt(&ld, wh->secret);
                c.secret_previous = dup_opt(&ld, wh->secret_previous);
                c.tls.ca_file = dup_opt(&ld, wh->tls.ca_file);
                c.tls.client_cert = dup_opt(&ld, wh->tls.client_cert);
                c.tls.client_key = dup_opt(&ld, wh->tls.client_key);
        }
        if (ld.oom)
                return -1; /* what was taken of the arena stays unused */
        if (c.timeout_ms <= 0)
                c.timeout_ms = d->timeout_ms;
        if (c.retry.max_attempts <= 0)
                c.retry = d->retry;
        if (c.max_in_flight <= 0)
                c.max_in_flight =
                        d->concurrency / 2 > 0 ? d->concurrency / 2 : 1;
        ov->webhooks[ov->webhook_count++] = c;
        return 0;
}
