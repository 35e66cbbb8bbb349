/* wk_routes: one configuration's webhooks compiled for the hot path. */
#include "wk_routes.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_hash.h"

/* One set and the arrays its public view points to. */
typedef struct rset_s {
        const char *type; /* the configuration's string; NULL: other */
        wk_routeset_t view;
        wk_route_t *routes;
        wk_props_t *props;
} rset_t;

/* One app's table: the webhooks of the app and the operator webhooks,
 * by type. The operators' own table (app NULL) serves the events of an
 * app no webhook names. */
typedef struct rtab_s {
        const char *app; /* the configuration's string; NULL: operators */
        size_t app_len;
        const size_t *members; /* the webhooks it routes to, in order */
        size_t member_n;
        rset_t *sets; /* the named types */
        size_t n, cap;
        rset_t other;    /* every type no member names */
        uint32_t *index; /* open addressing: set + 1; 0: empty */
        size_t index_n;  /* power of two, > 2 * n */
} rtab_t;

struct wk_routes_s {
        rtab_t ops;        /* operator webhooks only */
        rtab_t *apps;      /* one per app some active webhook names */
        size_t app_n;      /* (each app's members point into members) */
        uint32_t *app_idx; /* open addressing: app + 1; 0: empty */
        size_t app_idx_n;  /* power of two, > 2 * app_n */
        size_t *members;   /* every table's member lists, back to back */
        const cfg_topic_t *topics; /* the configuration's */
        size_t topic_count;
};

/* FNV-1a over \p len bytes of \p p. */
static size_t hash_bytes(const void *p, size_t len)
{
        uint64_t h = hb_hash_fnv1a(HB_HASH_FNV1A_INIT, p, len);

        return (size_t)(h ^ (h >> 31));
}

/* --- types within one table ------------------------------------------- */

/* @returns the slot holding \p type, or the empty one where it goes. */
static uint32_t *slot_of(const rtab_t *t, const char *type)
{
        size_t i = hash_bytes(type, strlen(type)) & (t->index_n - 1);

        for (;; i = (i + 1) & (t->index_n - 1)) {
                uint32_t *s = &t->index[i];
                if (!*s || !strcmp(t->sets[*s - 1].type, type))
                        return s;
        }
}

static int index_fit(rtab_t *t)
{
        size_t n = t->index_n ? t->index_n : 16;
        uint32_t *old = t->index;
        size_t old_n = t->index_n;

        if (2 * (t->n + 1) < t->index_n)
                return 0;
        while (2 * (t->n + 1) >= n)
                n *= 2;
        t->index = calloc(n, sizeof(*t->index));
        if (!t->index) {
                t->index = old;
                return -1;
        }
        t->index_n = n;
        for (size_t i = 0; i < old_n; i++)
                if (old[i])
                        *slot_of(t, t->sets[old[i] - 1].type) = old[i];
        free(old);
        return 0;
}

/* A named type, once. @returns -1 on out-of-memory. */
static int add_type(rtab_t *t, const char *type)
{
        uint32_t *s;

        if (index_fit(t) == -1)
                return -1;
        s = slot_of(t, type);
        if (*s)
                return 0;
        if (t->n == t->cap) {
                size_t ncap = t->cap ? t->cap * 2 : 4;
                rset_t *n = realloc(t->sets, ncap * sizeof(*n));
                if (!n)
                        return -1;
                t->sets = n;
                t->cap = ncap;
        }
        memset(&t->sets[t->n], 0, sizeof(t->sets[t->n]));
        t->sets[t->n].type = type;
        *s = (uint32_t)++t->n;
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

/* Fill one set: the table's members that want its type, in order. */
static int fill(rset_t *s, const rtab_t *t, const cfg_t *cfg)
{
        size_t routes = 0;

        for (size_t m = 0; m < t->member_n; m++)
                if (wants(cfg_webhook(cfg, t->members[m]), s->type))
                        routes++;
        s->routes = calloc(routes ? routes : 1, sizeof(*s->routes));
        s->props = calloc(routes ? routes : 1, sizeof(*s->props));
        if (!s->routes || !s->props)
                return -1;
        for (size_t m = 0; m < t->member_n; m++) {
                const cfg_webhook_t *wh = cfg_webhook(cfg, t->members[m]);
                wk_route_t *rt;
                size_t b;
                if (!wants(wh, s->type))
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
                rt->hook = t->members[m];
                rt->body = b;
        }
        if (s->view.prop_count < routes) {
                /* most sets share a few property sets: give back the rest
                 * (100,000 webhooks over 10,000 apps: 17 MiB) */
                wk_props_t *p =
                        realloc(s->props,
                                (s->view.prop_count ? s->view.prop_count : 1) *
                                        sizeof(*p));
                if (p)
                        s->props = p;
        }
        s->view.routes = s->routes;
        s->view.props = s->props;
        return 0;
}

/* Compile one table from its members. @returns -1 on out-of-memory. */
static int tab_build(rtab_t *t, const cfg_t *cfg)
{
        if (index_fit(t) == -1)
                return -1;
        for (size_t m = 0; m < t->member_n; m++) {
                const cfg_webhook_t *wh = cfg_webhook(cfg, t->members[m]);
                for (size_t e = 0; e < wh->event_count; e++)
                        if (strcmp(wh->events[e], "*") &&
                            add_type(t, wh->events[e]) == -1)
                                return -1;
        }
        if (t->n && t->n < t->cap) {
                rset_t *n = realloc(t->sets, t->n * sizeof(*n));
                if (n) {
                        t->sets = n;
                        t->cap = t->n;
                }
        }
        for (size_t i = 0; i < t->n; i++)
                if (fill(&t->sets[i], t, cfg) == -1)
                        return -1;
        return fill(&t->other, t, cfg);
}

static void tab_free(rtab_t *t)
{
        for (size_t i = 0; i < t->n; i++) {
                free(t->sets[i].routes);
                free(t->sets[i].props);
        }
        free(t->other.routes);
        free(t->other.props);
        free(t->sets);
        free(t->index);
}

static const wk_routeset_t *tab_find(const rtab_t *t, const char *type)
{
        uint32_t s = *slot_of(t, type);

        return s ? &t->sets[s - 1].view : &t->other.view;
}

/* --- apps ------------------------------------------------------------- */

/* @returns the slot holding app \p app (\p len bytes), or the empty one
 *          where it goes. */
static uint32_t *app_slot(const wk_routes_t *r, const char *app, size_t len)
{
        size_t i = hash_bytes(app, len) & (r->app_idx_n - 1);

        for (;; i = (i + 1) & (r->app_idx_n - 1)) {
                uint32_t *s = &r->app_idx[i];
                const rtab_t *t;
                if (!*s)
                        return s;
                t = &r->apps[*s - 1];
                if (t->app_len == len && !memcmp(t->app, app, len))
                        return s;
        }
}

static int is_active(const cfg_t *cfg, const int *active, size_t i)
{
        return active ? active[i] : cfg_webhook(cfg, i)->enabled;
}

wk_routes_t *wk_routes_new(const cfg_t *cfg, const int *active, char *errstr,
                           size_t errstr_size)
{
        wk_routes_t *r = calloc(1, sizeof(*r));
        size_t n = cfg_webhook_count(cfg), ops = 0, own = 0, at;
        size_t *owner = NULL; /* per webhook: app + 1; 0: operator */
        size_t *fill_at = NULL;

        if (!r)
                goto oom;
        owner = calloc(n ? n : 1, sizeof(*owner));
        r->apps = calloc(n ? n : 1, sizeof(*r->apps));
        r->app_idx_n = 16;
        while (r->app_idx_n <= 2 * n)
                r->app_idx_n *= 2;
        r->app_idx = calloc(r->app_idx_n, sizeof(*r->app_idx));
        if (!owner || !r->apps || !r->app_idx)
                goto oom;
        /* Who owns each active webhook; the apps, in order of first use. */
        for (size_t i = 0; i < n; i++) {
                const char *app = cfg_webhook(cfg, i)->app_token;
                uint32_t *s;
                if (!is_active(cfg, active, i))
                        continue;
                if (!app) {
                        ops++;
                        continue;
                }
                own++;
                s = app_slot(r, app, strlen(app));
                if (!*s) {
                        r->apps[r->app_n].app = app;
                        r->apps[r->app_n].app_len = strlen(app);
                        *s = (uint32_t)++r->app_n;
                }
                owner[i] = *s;
        }
        /* Member lists: the operators', then each app's own webhooks
         * merged with the operators' in configuration order. */
        r->members = calloc(ops + own + r->app_n * ops + 1, sizeof(size_t));
        fill_at = calloc(r->app_n + 1, sizeof(*fill_at));
        if (!r->members || !fill_at)
                goto oom;
        for (size_t i = 0; i < n; i++)
                if (is_active(cfg, active, i) && owner[i])
                        r->apps[owner[i] - 1].member_n++;
        at = 0;
        r->ops.members = r->members;
        for (size_t i = 0; i < n; i++)
                if (is_active(cfg, active, i) && !owner[i])
                        r->members[at++] = i;
        r->ops.member_n = ops;
        for (size_t a = 0; a < r->app_n; a++) {
                r->apps[a].members = r->members + at;
                fill_at[a] = at;
                r->apps[a].member_n += ops;
                at += r->apps[a].member_n;
        }
        for (size_t i = 0; i < n; i++) {
                if (!is_active(cfg, active, i))
                        continue;
                if (owner[i]) {
                        r->members[fill_at[owner[i] - 1]++] = i;
                        continue;
                }
                for (size_t a = 0; a < r->app_n; a++)
                        r->members[fill_at[a]++] = i;
        }
        if (tab_build(&r->ops, cfg) == -1)
                goto oom;
        for (size_t a = 0; a < r->app_n; a++)
                if (tab_build(&r->apps[a], cfg) == -1)
                        goto oom;
        r->topics = cfg_kafka(cfg)->topics;
        r->topic_count = cfg_kafka(cfg)->topic_count;
        free(owner);
        free(fill_at);
        return r;
oom:
        snprintf(errstr, errstr_size, "out of memory");
        free(owner);
        free(fill_at);
        wk_routes_destroy(r);
        return NULL;
}

const wk_routeset_t *wk_routes_find(const wk_routes_t *r, const char *app,
                                    size_t app_len, const char *type)
{
        uint32_t s = app && r->app_n ? *app_slot(r, app, app_len) : 0;

        return tab_find(s ? &r->apps[s - 1] : &r->ops, type);
}

const char *wk_routes_app_token(const wk_routes_t *r, const char *topic)
{
        /* a handful of topics: a scan beats a hash */
        for (size_t i = 0; topic && i < r->topic_count; i++)
                if (!strcmp(r->topics[i].name, topic))
                        return r->topics[i].app_token;
        return NULL;
}

int wk_routes_app_ok(const char *hook_app, const char *app, size_t app_len)
{
        return !hook_app || (app && strlen(hook_app) == app_len &&
                             !memcmp(hook_app, app, app_len));
}

size_t wk_routes_app_count(const wk_routes_t *r)
{
        return r->app_n;
}

size_t wk_routes_set_count(const wk_routes_t *r)
{
        size_t n = r->ops.n + 1;

        for (size_t a = 0; a < r->app_n; a++)
                n += r->apps[a].n + 1;
        return n;
}

void wk_routes_destroy(wk_routes_t *r)
{
        if (!r)
                return;
        tab_free(&r->ops);
        for (size_t a = 0; r->apps && a < r->app_n; a++)
                tab_free(&r->apps[a]);
        free(r->apps);
        free(r->app_idx);
        free(r->members);
        free(r);
}
