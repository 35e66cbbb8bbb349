/* wk_routes: one configuration's webhooks compiled for the hot path. */
#include "wk_routes.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One set and the arrays its public view points to. */
typedef struct rset_s {
        const char *type; /* the configuration's string; NULL: other */
        wk_routeset_t view;
        wk_route_t *routes;
        wk_props_t *props;
} rset_t;

struct wk_routes_s {
        rset_t *sets; /* the named types */
        size_t n, cap;
        rset_t other;              /* every type no webhook names */
        uint32_t *index;           /* open addressing: set + 1; 0: empty */
        size_t index_n;            /* power of two, > 2 * n */
        const cfg_topic_t *topics; /* the configuration's */
        size_t topic_count;
};

/* The key's hash. Tenants: (app, type) mixed here. */
static size_t key_hash(const char *type)
{
        uint64_t h = 1469598103934665603ULL;

        for (const unsigned char *p = (const unsigned char *)type; *p; p++)
                h = (h ^ *p) * 1099511628211ULL;
        return (size_t)(h ^ (h >> 31));
}

/* @returns the slot holding \p type, or the empty one where it goes. */
static uint32_t *slot_of(const wk_routes_t *r, const char *type)
{
        size_t i = key_hash(type) & (r->index_n - 1);

        for (;; i = (i + 1) & (r->index_n - 1)) {
                uint32_t *s = &r->index[i];
                if (!*s || !strcmp(r->sets[*s - 1].type, type))
                        return s;
        }
}

static int index_fit(wk_routes_t *r)
{
        size_t n = r->index_n ? r->index_n : 16;
        uint32_t *old = r->index;
        size_t old_n = r->index_n;

        if (2 * (r->n + 1) < r->index_n)
                return 0;
        while (2 * (r->n + 1) >= n)
                n *= 2;
        r->index = calloc(n, sizeof(*r->index));
        if (!r->index) {
                r->index = old;
                return -1;
        }
        r->index_n = n;
        for (size_t i = 0; i < old_n; i++)
                if (old[i])
                        *slot_of(r, r->sets[old[i] - 1].type) = old[i];
        free(old);
        return 0;
}

/* A named type, once. @returns -1 on out-of-memory. */
static int add_type(wk_routes_t *r, const char *type)
{
        uint32_t *s;

        if (index_fit(r) == -1)
                return -1;
        s = slot_of(r, type);
        if (*s)
                return 0;
        if (r->n == r->cap) {
                size_t ncap = r->cap ? r->cap * 2 : 16;
                rset_t *n = realloc(r->sets, ncap * sizeof(*n));
                if (!n)
                        return -1;
                r->sets = n;
                r->cap = ncap;
        }
        memset(&r->sets[r->n], 0, sizeof(r->sets[r->n]));
        r->sets[r->n].type = type;
        *s = (uint32_t)++r->n;
        return 0;
}

/* Does \p wh take events of \p type (NULL: those of the "*" set)? */
static int wants(const cfg_webhook_t *wh, const char *type)
{
        for (size_t i = 0; i < wh->event_count; i++)
                if (!strcmp(wh->events[i], "*") ||
                    (type && !strcmp(wh->events[i], type)))
                        return 1;
        return 0;
}

static int same_props(const wk_props_t *p, const cfg_webhook_t *wh)
{
        if (p->user_count != wh->user_prop_count ||
            p->company_count != wh->company_prop_count)
                return 0;
        for (size_t i = 0; i < p->user_count; i++)
                if (strcmp(p->user[i], wh->user_props[i]))
                        return 0;
        for (size_t i = 0; i < p->company_count; i++)
                if (strcmp(p->company[i], wh->company_props[i]))
                        return 0;
        return 1;
}

/* Fill one set: the active webhooks that want its type, in order. */
static int fill(rset_t *s, const cfg_t *cfg, const int *active)
{
        size_t n = cfg_webhook_count(cfg), routes = 0;

        for (size_t i = 0; i < n; i++) {
                const cfg_webhook_t *wh = cfg_webhook(cfg, i);
                if ((active ? active[i] : wh->enabled) && wants(wh, s->type))
                        routes++;
        }
        s->routes = calloc(routes ? routes : 1, sizeof(*s->routes));
        s->props = calloc(routes ? routes : 1, sizeof(*s->props));
        if (!s->routes || !s->props)
                return -1;
        for (size_t i = 0; i < n; i++) {
                const cfg_webhook_t *wh = cfg_webhook(cfg, i);
                wk_route_t *rt;
                size_t b;
                if (!(active ? active[i] : wh->enabled) || !wants(wh, s->type))
                        continue;
                for (b = 0; b < s->view.prop_count; b++)
                        if (same_props(&s->props[b], wh))
                                break;
                if (b == s->view.prop_count) {
                        s->props[b] = (wk_props_t){
                                wh->user_props, wh->user_prop_count,
                                wh->company_props, wh->company_prop_count};
                        s->view.prop_count++;
                }
                rt = &s->routes[s->view.route_count++];
                rt->hook = i;
                rt->body = b;
        }
        s->view.routes = s->routes;
        s->view.props = s->props;
        return 0;
}

wk_routes_t *wk_routes_new(const cfg_t *cfg, const int *active, char *errstr,
                           size_t errstr_size)
{
        wk_routes_t *r = calloc(1, sizeof(*r));
        size_t n = cfg_webhook_count(cfg);

        if (!r || index_fit(r) == -1)
                goto oom;
        for (size_t i = 0; i < n; i++) {
                const cfg_webhook_t *wh = cfg_webhook(cfg, i);
                if (!(active ? active[i] : wh->enabled))
                        continue;
                for (size_t e = 0; e < wh->event_count; e++)
                        if (strcmp(wh->events[e], "*") &&
                            add_type(r, wh->events[e]) == -1)
                                goto oom;
        }
        for (size_t i = 0; i < r->n; i++)
                if (fill(&r->sets[i], cfg, active) == -1)
                        goto oom;
        if (fill(&r->other, cfg, active) == -1)
                goto oom;
        r->topics = cfg_kafka(cfg)->topics;
        r->topic_count = cfg_kafka(cfg)->topic_count;
        return r;
oom:
        snprintf(errstr, errstr_size, "out of memory");
        wk_routes_destroy(r);
        return NULL;
}

const wk_routeset_t *wk_routes_find(const wk_routes_t *r, const char *type)
{
        uint32_t s = *slot_of(r, type);

        return s ? &r->sets[s - 1].view : &r->other.view;
}

const char *wk_routes_app_token(const wk_routes_t *r, const char *topic)
{
        /* a handful of topics: a scan beats a hash */
        for (size_t i = 0; topic && i < r->topic_count; i++)
                if (!strcmp(r->topics[i].name, topic))
                        return r->topics[i].app_token;
        return NULL;
}

size_t wk_routes_set_count(const wk_routes_t *r)
{
        return r->n + 1;
}

void wk_routes_destroy(wk_routes_t *r)
{
        if (!r)
                return;
        for (size_t i = 0; i < r->n; i++) {
                free(r->sets[i].routes);
                free(r->sets[i].props);
        }
        free(r->other.routes);
        free(r->other.props);
        free(r->sets);
        free(r->index);
        free(r);
}
