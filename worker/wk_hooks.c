/* wk_hooks: the webhooks in force (hooks_t) -- compiled from the file's
 * configuration plus the store's webhooks (SPEC §7), rebuilt on SIGHUP and
 * when the store changes, the endpoints of unchanged webhooks kept (their
 * circuit, in-flight counts and rate limits with them), the deliveries of
 * removed, disabled or moved ones released. */
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_hash.h"
#include "hb_log.h"
#include "hb_time.h"
#include "hb_types.h"
#include "wk_store.h"
#include "wk_worker_int.h"

/* Store rebuilds: at most one per this long, or four times what the last
 * took when that is longer (a burst of records is one rebuild, never one
 * per record), but never more than MAX_GAP_MS apart while changes wait:
 * a change is delivered within 2 s. */
#define MIN_GAP_MS 250
#define MAX_GAP_MS 1000
/* With this many store webhooks, the memory of a replaced set is given
 * back at once (the heap would keep it: RSS grew by a set per rebuild). */
#define TRIM_AT 10000

/* The metric labels of every webhook of the store (bounded: SPEC §7); a
 * value no file webhook's name can take. */
const char wk_hooks_api_label[] = "webhook=\"(api)\"";

/*
 * The set.
 */

void wk_hooks_free(hooks_t *h)
{
        if (!h)
                return;
        for (size_t i = 0; i < h->n; i++) {
                wh_endpoint_unref(h->eps[i]);
                if (h->labels[i] != wk_hooks_api_label)
                        free(h->labels[i]);
        }
        free(h->eps);
        free(h->active);
        free(h->labels);
        free(h->versions);
        free(h->by_name);
        wk_mapping_destroy(h->mapping);
        wk_routes_destroy(h->routes); /* points into cfg: first */
        if (h->cfg != h->file)
                cfg_destroy(h->cfg);
        cfg_destroy(h->file);
        /* after the overlay, which points into them */
        for (size_t i = 0; i < h->held_n; i++)
                wk_store_unhold(h->held[i]);
        free(h->held);
        free(h);
}

static size_t name_hash(const char *s)
{
        uint64_t x = hb_hash_fnv1a(HB_HASH_FNV1A_INIT, s, strlen(s));

        return (size_t)(x ^ (x >> 29));
}

/* @returns the slot of \p name in h->by_name: its index + 1, or 0. */
static uint32_t *name_slot(const hooks_t *h, const char *name)
{
        size_t i = name_hash(name) & (h->by_name_n - 1);

        for (;; i = (i + 1) & (h->by_name_n - 1)) {
                uint32_t *s = &h->by_name[i];
                if (!*s || !strcmp(cfg_webhook(h->cfg, *s - 1)->name, name))
                        return s;
        }
}

long wk_hooks_find(const hooks_t *h, const char *name)
{
        uint32_t s = name && h->by_name_n ? *name_slot(h, name) : 0;

        return s ? (long)s - 1 : -1;
}

/* Is webhook \p name among the --webhook selection? */
static int selected(const wk_worker_opts_t *o, const char *name)
{
        if (!o->webhooks)
                return 1;
        for (size_t i = 0; i < o->webhook_count; i++)
                if (!strcmp(o->webhooks[i], name))
                        return 1;
        return 0;
}

/*
 * The store's webhooks as the file's.
 */

/* What the walk of the store builds. */
typedef struct walk_s {
        cfg_t *ov;
        int64_t *versions;      /* per webhook added */
        wk_store_held_t **held; /* per webhook added: what it points to */
        size_t n, cap;
        const char **known; /* every webhook type: built-in + mappings */
        size_t known_n;
        int64_t now_ms;
        int64_t expires_ms; /* the earliest rotation end still ahead */
        int oom;
} walk_t;

static int str_eq(const char *a, const char *b)
{
        return a == b || (a && b && !strcmp(a, b));
}

/* Webhook \p h's events as the file's loader writes them: the types
 * switched on; "*" on with some types off is every known type but
 * those. @returns how many went to \p out (room for known_n + count). */
static size_t events_on(const walk_t *wk, const wk_hook_t *h, const char **out)
{
        size_t n = 0, off = 0;
        int star = 0;

        for (size_t i = 0; i < h->event_count; i++) {
                if (!strcmp(h->events[i].type, "*"))
                        star = h->events[i].enabled;
                else if (!h->events[i].enabled)
                        off++;
        }
        if (star && !off) {
                out[n++] = "*";
                return n;
        }
        if (!star) {
                for (size_t i = 0; i < h->event_count; i++)
                        if (h->events[i].enabled &&
                            strcmp(h->events[i].type, "*"))
                                out[n++] = h->events[i].type;
                return n;
        }
        for (size_t k = 0; k < wk->known_n; k++) {
                size_t i;
                for (i = 0; i < h->event_count; i++)
                        if (!h->events[i].enabled &&
                            !strcmp(h->events[i].type, wk->known[k]))
                                break;
                if (i == h->event_count)
                        out[n++] = wk->known[k];
        }
        return n;
}

/* wk_store_each()'s callback: one store webhook into the overlay. */
static int add_stored(const wk_hook_t *h, int64_t version, wk_store_pin_t *pin,
                      void *opaque)
{
        walk_t *wk = opaque;
        const char *evs_small[64], **evs = evs_small;
        size_t room = wk->known_n + h->event_count + 1;
        cfg_webhook_t c = {0};

        if (wk->n == wk->cap) {
                size_t cap = wk->cap ? wk->cap * 2 : 1024;
                int64_t *v = realloc(wk->versions, cap * sizeof(*v));
                wk_store_held_t **hd;
                if (v)
                        wk->versions = v;
                hd = realloc(wk->held, cap * sizeof(*hd));
                if (hd)
                        wk->held = hd;
                if (!v || !hd)
                        goto oom;
                wk->cap = cap;
        }
        /* the overlay points into the webhook as the store holds it: no
         * copy (100,000 webhooks: 45 MiB less per set) */
        if (!(wk->held[wk->n] = wk_store_hold(pin)))
                goto oom;
        if (room > 64 && !(evs = malloc(room * sizeof(*evs))))
                goto oom;
        c.name = h->id; /* SPEC §7: named by its id in logs and metrics */
        c.app_token = h->app_token;
        c.url = h->url;
        c.enabled = h->enabled;
        c.events = evs;
        c.event_count = events_on(wk, h, evs);
        c.user_props = (const char *const *)h->user_props;
        c.user_prop_count = h->user_prop_count;
        c.company_props = (const char *const *)h->company_props;
        c.company_prop_count = h->company_prop_count;
        c.secret = h->secret;
        if (h->secret_previous && h->secret_previous_until_ms > wk->now_ms) {
                /* a rotation: the old one signs too until then (SPEC §7);
                 * the set is rebuilt when the first such time comes */
                c.secret_previous = h->secret_previous;
                if (!wk->expires_ms ||
                    h->secret_previous_until_ms < wk->expires_ms)
                        wk->expires_ms = h->secret_previous_until_ms;
        }
        c.signature = h->signature;
        c.headers = (const char *const *)h->headers;
        c.header_count = h->header_count;
        c.rate_limit = h->rate_limit;
        c.from_api = 1;
        /* timeout, retry, in-flight cap: the delivery defaults (0) */
        if (cfg_overlay_add(wk->ov, &c, 1) == -1) {
                if (evs != evs_small)
                        free(evs);
                wk_store_unhold(wk->held[wk->n]);
                goto oom;
        }
        if (evs != evs_small)
                free(evs);
        wk->versions[wk->n++] = version;
        return 0;
oom:
        wk->oom = 1;
        return 1;
}

/* Every webhook type an event can have: the built-in ones and those
 * mappings add, once each. @returns NULL on out-of-memory. */
static const char **known_types(const cfg_t *file, size_t *n)
{
        size_t max = hb_type_count() + cfg_mapping_count(file);
        const char **k = malloc((max ? max : 1) * sizeof(*k));

        *n = 0;
        if (!k)
                return NULL;
        for (size_t i = 0; i < hb_type_count(); i++)
                k[(*n)++] = hb_type_at(i)->type;
        for (size_t i = 0; i < cfg_mapping_count(file); i++) {
                const char *t = cfg_mapping(file, i)->type;
                size_t j;
                for (j = 0; j < *n && strcmp(k[j], t); j++)
                        ;
                if (j == *n)
                        k[(*n)++] = t;
        }
        return k;
}

/* \p file with the store's webhooks: an overlay (cfg_overlay_new), their
 * versions in \p *versions. @returns NULL on out-of-memory. */
/* \p h's file configuration with the store's webhooks: an overlay
 * (cfg_overlay_new) into h->cfg, their versions and holds into \p h.
 * @returns 0, or -1 on out-of-memory. */
static int with_store(hooks_t *h, wk_store_t *store)
{
        walk_t wk = {.now_ms = hb_time_now_ms()};

        wk.known = known_types(h->file, &wk.known_n);
        wk.ov = wk.known ? cfg_overlay_new(h->file, wk_store_count(store))
                         : NULL;
        if (!wk.ov) {
                free(wk.known);
                return -1;
        }
        wk_store_each(store, add_stored, &wk, &h->store_gen);
        free(wk.known);
        h->versions = wk.versions;
        h->held = wk.held;
        h->held_n = wk.n;
        if (wk.oom) {
                cfg_destroy(wk.ov);
                return -1;
        }
        h->cfg = wk.ov;
        h->expires_ms = wk.expires_ms;
        return 0;
}

/*
 * Building.
 */

static int same_list(const char *const *a, size_t an, const char *const *b,
                     size_t bn)
{
        if (an != bn)
                return 0;
        for (size_t i = 0; i < an; i++)
                if (strcmp(a[i], b[i]))
                        return 0;
        return 1;
}

/* Would \p a and \p b make the same endpoint (what wh_endpoint_new()
 * copies)? Events, properties and enabled are routing, not the
 * endpoint's. */
static int same_endpoint(const cfg_webhook_t *a, const cfg_webhook_t *b)
{
        return !strcmp(a->name, b->name) &&
               str_eq(a->app_token, b->app_token) && !strcmp(a->url, b->url) &&
               str_eq(a->secret, b->secret) &&
               str_eq(a->secret_previous, b->secret_previous) &&
               a->signature == b->signature &&
               same_list(a->headers, a->header_count, b->headers,
                         b->header_count) &&
               a->timeout_ms == b->timeout_ms &&
               !memcmp(&a->retry, &b->retry, sizeof(a->retry)) &&
               str_eq(a->tls.ca_file, b->tls.ca_file) &&
               str_eq(a->tls.client_cert, b->tls.client_cert) &&
               str_eq(a->tls.client_key, b->tls.client_key) &&
               a->max_in_flight == b->max_in_flight &&
               a->rate_limit == b->rate_limit && a->from_api == b->from_api;
}

/* The endpoint webhook \p i of \p h may take over from \p old, or NULL
 * (a new one is made). Kept: an unchanged webhook's that no reload
 * cancels (active before and not after) and, on a reload, none disabled
 * by a 410 (a reload re-enables: SPEC §4) -- a store change keeps that
 * too, unless it is a change of this very webhook. */
static wh_endpoint_t *reusable(const hooks_t *h, size_t i, const hooks_t *old,
                               const wh_pool_t *pool, int reload)
{
        const cfg_webhook_t *wh = cfg_webhook(h->cfg, i);
        long j = old ? wk_hooks_find(old, wh->name) : -1;
        int64_t v_now = i >= h->file_n ? h->versions[i - h->file_n] : 0;
        int64_t v_old;

        if (j < 0 || !same_endpoint(cfg_webhook(old->cfg, (size_t)j), wh))
                return NULL;
        if (old->active[j] && !h->active[i])
                return NULL; /* cancelled by release_dropped() */
        v_old = (size_t)j >= old->file_n
                        ? old->versions[(size_t)j - old->file_n]
                        : 0;
        if (pool && wh_pool_disabled(pool, old->eps[j]) &&
            (reload || v_now != v_old))
                return NULL;
        return old->eps[j];
}

hooks_t *wk_hooks_new(cfg_t *file, const wk_hooks_ctx_t *x, char *errstr,
                      size_t errstr_size)
{
        hooks_t *h = calloc(1, sizeof(*h));
        const wk_worker_opts_t *o = x->opts;
        char why[256], label[WK_STATUS_LABEL_MAX];
        size_t n;

        if (!h)
                goto oom;
        h->file = file;
        h->cfg = file;
        h->file_n = cfg_webhook_count(file);
        if (o->store && x->with_store) {
                if (with_store(h, o->store) == -1)
                        goto oom;
                h->from_store = 1;
        }
        n = h->n = cfg_webhook_count(h->cfg);
        h->eps = calloc(n ? n : 1, sizeof(*h->eps));
        h->active = calloc(n ? n : 1, sizeof(*h->active));
        h->labels = calloc(n ? n : 1, sizeof(*h->labels));
        h->mapping = wk_mapping_new();
        h->by_name_n = 16;
        while (h->by_name_n <= 2 * n)
                h->by_name_n *= 2;
        h->by_name = calloc(h->by_name_n, sizeof(*h->by_name));
        if (!h->eps || !h->active || !h->labels || !h->mapping || !h->by_name)
                goto oom;
        for (size_t i = 0; i < cfg_mapping_count(h->cfg); i++) {
                const cfg_mapping_t *mp = cfg_mapping(h->cfg, i);
                if (wk_mapping_add(h->mapping, mp->event, mp->type, why,
                                   sizeof(why)) == -1) {
                        snprintf(errstr, errstr_size, "mappings: %s", why);
                        goto err;
                }
        }
        for (size_t i = 0; i < n; i++) {
                const cfg_webhook_t *wh = cfg_webhook(h->cfg, i);
                uint32_t *s = name_slot(h, wh->name);
                wh_endpoint_t *ep;

                h->active[i] = wh->enabled && selected(o, wh->name);
                if (*s) {
                        /* a store id that is a file webhook's name: the
                         * file's keeps it (names are unique in the file) */
                        h->active[i] = 0;
                        hb_log(HB_LOG_WARN,
                               "webhook of the store ignored: its id is the "
                               "name of a webhook of the file",
                               "webhook=%s", wh->name);
                } else {
                        *s = (uint32_t)i + 1;
                }
                ep = reusable(h, i, x->old, x->pool, x->reload);
                h->eps[i] = ep ? wh_endpoint_ref(ep)
                               : wh_endpoint_new(wh, why, sizeof(why));
                if (!h->eps[i]) {
                        snprintf(errstr, errstr_size, "webhook '%s': %s",
                                 wh->name, why);
                        if (!wh->from_api)
                                goto err;
                        /* one bad record does not stop the others */
                        h->active[i] = 0;
                        hb_log(HB_LOG_ERR, "webhook of the store not usable",
                               "webhook=%s error=\"%s\"", wh->name, why);
                        if (!(h->eps[i] = wh_endpoint_new(
                                      &(cfg_webhook_t){.name = wh->name,
                                                       .url = "https://"
                                                              "invalid./",
                                                       .from_api = 1},
                                      why, sizeof(why))))
                                goto oom;
                }
                if (wh->from_api) {
                        h->labels[i] = (char *)wk_hooks_api_label;
                        continue;
                }
                wk_status_hook_label(label, sizeof(label), wh->name,
                                     wh->app_token);
                h->labels[i] = strdup(label);
                if (!h->labels[i])
                        goto oom;
        }
        for (size_t i = 0; i < o->webhook_count; i++)
                if (wk_hooks_find(h, o->webhooks[i]) < 0) {
                        snprintf(errstr, errstr_size,
                                 "no webhook named '%s' in the "
                                 "configuration",
                                 o->webhooks[i]);
                        goto err;
                }
        h->routes = wk_routes_new(h->cfg, h->active, errstr, errstr_size);
        if (!h->routes)
                goto err;
        h->on_exhausted = cfg_delivery(h->cfg)->on_exhausted;
        return h;
oom:
        snprintf(errstr, errstr_size, "out of memory");
err:
        if (h) {
                if (h->cfg == file)
                        h->cfg = NULL;
                h->file = NULL; /* the caller keeps file on failure */
        }
        wk_hooks_free(h);
        return NULL;
}

/*
 * Replacing the set.
 */

/* A reload disabled or removed webhooks of \p old: what their deliveries
 * still wait for ends now (WH_OUT_CANCELLED, counted "disabled", the
 * messages settled), so they hold nothing back (SPEC §5; issue 11 D2:
 * before, they kept retrying until a restart). So does a webhook the
 * reload gave to another app (an operator webhook included): its
 * deliveries are of events it may no longer get (SPEC §5: never another
 * app's event), and the pool cancels by endpoint, so the new app's own
 * events it still owed go too; one made an operator webhook keeps
 * them. */
static void release_dropped(wk_worker_t *w, const hooks_t *old,
                            const hooks_t *cur)
{
        for (size_t i = 0; i < old->n; i++) {
                const char *name = wh_endpoint_name(old->eps[i]);
                const char *app = wh_endpoint_app(old->eps[i]), *now = NULL;
                long j;
                size_t held;
                int kept;
                if (!old->active[i])
                        continue;
                j = wk_hooks_find(cur, name);
                kept = j >= 0 && cur->active[j];
                if (kept)
                        now = wh_endpoint_app(cur->eps[j]);
                if (kept && (!now || (app && !strcmp(app, now))))
                        continue;
                held = wh_pool_cancel(w->pool, old->eps[i]);
                if (held && kept)
                        hb_log(HB_LOG_INFO,
                               "webhook given to another app by the reload; "
                               "releasing its deliveries",
                               "webhook=%s app=%s app_now=%s deliveries=%zu",
                               name, app ? app : "", now, held);
                else if (held)
                        hb_log(HB_LOG_INFO,
                               "webhook disabled by the reload; releasing "
                               "its deliveries",
                               "webhook=%s app=%s deliveries=%zu", name,
                               app ? app : "", held);
        }
}

/* Put \p h in force in place of the current set. */
static void replace(wk_worker_t *w, hooks_t *h)
{
        release_dropped(w, w->hooks, h);
        wk_hooks_free(w->hooks);
        w->hooks = h;
        /* /status names the webhooks: refreshed at the next publish, not
         * up to a second later */
        w->status.next_refresh_ms = 0;
}

void wk_hooks_reload(wk_worker_t *w)
{
        char errs[16384], waits[512];
        const char *path = cfg_path(w->hooks->cfg);
        cfg_t *cfg = cfg_load(path, errs, sizeof(errs));
        wk_hooks_ctx_t x = {.opts = &w->opts,
                            .old = w->hooks,
                            .pool = w->pool,
                            .reload = 1,
                            .with_store = w->hooks->from_store};
        hooks_t *h;

        if (!cfg) {
                hb_log(HB_LOG_ERR,
                       "reload rejected; keeping the running configuration",
                       "file=%s problems=\"%s\"", path, errs);
                return;
        }
        if (*errs)
                hb_log(HB_LOG_WARN, "configuration warnings",
                       "file=%s "
                       "warnings=\"%s\"",
                       path, errs);
        h = wk_hooks_new(cfg, &x, errs, sizeof(errs));
        if (!h) {
                hb_log(HB_LOG_ERR,
                       "reload rejected; keeping the running configuration",
                       "file=%s problems=\"%s\"", path, errs);
                cfg_destroy(cfg);
                return;
        }
        /* path belongs to the old configuration: log before freeing.
         * The changed settings this reload does not apply are named. */
        if (cfg_reload_diff(w->hooks->cfg, cfg, waits, sizeof(waits)) > 0)
                hb_log(HB_LOG_INFO, "configuration reloaded",
                       "file=%s webhooks=%zu restart_pending=\"%s\" "
                       "note=\"these changed settings apply on restart\"",
                       path, h->n, waits);
        else
                hb_log(HB_LOG_INFO, "configuration reloaded",
                       "file=%s webhooks=%zu", path, h->n);
        replace(w, h);
}

int wk_hooks_follow(wk_worker_t *w)
{
        wk_store_t *s = w->opts.store;
        hooks_t *h = w->hooks, *nh;
        int64_t t0 = hb_time_mono_ms(), ms;
        wk_hooks_ctx_t x = {
                .opts = &w->opts, .old = h, .pool = w->pool, .with_store = 1};
        char err[512];

        if (!s)
                return 0;
        if (!h->from_store) {
                /* the first build waits for the whole store (SPEC §7) */
                if (!wk_store_ready(s))
                        return 0;
        } else if (wk_store_generation(s) == h->store_gen &&
                   !(h->expires_ms && hb_time_now_ms() >= h->expires_ms)) {
                return 0;
        } else if (t0 < w->hooks_next_ms) {
                return 0;
        }
        nh = wk_hooks_new(cfg_ref(h->file), &x, err, sizeof(err));
        if (!nh) {
                cfg_destroy(h->file); /* the reference taken above */
                hb_log(HB_LOG_ERR,
                       "webhooks of the store not applied; trying again",
                       "error=\"%s\"", err);
                w->hooks_next_ms = t0 + MAX_GAP_MS;
                return 0;
        }
        ms = hb_time_mono_ms() - t0;
        hb_log(h->from_store ? HB_LOG_DEBUG : HB_LOG_INFO,
               "webhooks of the store applied",
               "webhooks=%zu store=%zu generation=%llu ms=%lld", nh->n,
               nh->n - nh->file_n, (unsigned long long)nh->store_gen,
               (long long)ms);
        replace(w, nh);
        if (nh->n - nh->file_n >= TRIM_AT)
                malloc_trim(0); /* the old set's pages back to the system */
        ms = hb_time_mono_ms() - t0;
        w->hooks_next_ms =
                t0 + (4 * ms > MIN_GAP_MS
                              ? (4 * ms < MAX_GAP_MS ? 4 * ms : MAX_GAP_MS)
                              : MIN_GAP_MS);
        return 1;
}
