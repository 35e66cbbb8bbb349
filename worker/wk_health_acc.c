/* wk_health_acc: this replica's per-webhook health table (see the
 * header). A hash of entries by "app<US>id" and a list from the least
 * to the most recently changed, for eviction. */
#include "wk_health_acc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hb_hash.h"
#include "wk_lru.h"

#define DEFAULT_CAP     200000
#define INITIAL_BUCKETS 256
/* Entries looked at from the oldest for one already published before
 * the oldest is evicted whatever it holds. */
#define EVICT_SCAN 64

typedef struct entry_s {
        struct entry_s *chain; /* hash bucket */
        wk_lru_link_t link;    /* the change list */
        char *key;             /* app, 0x1f, id */
        size_t app_len;
        uint64_t hash;
        int dirty; /* changed since the last take */
        wk_health_counts_t c;
        char *error, *body; /* the last failure's, or NULL */
} entry_t;

struct wk_health_acc_s {
        pthread_mutex_t lock;
        entry_t **buckets;
        size_t nbuckets, n, cap;
        wk_lru_t changed; /* from the least recently changed */
        uint64_t evicted;
        wk_health_seed_cb_t *seed;
        void *opaque;
};

/* FNV-1a of the key as stored: app, 0x1f, id. */
static uint64_t hash_of(const char *app, const char *id)
{
        uint64_t h = hb_hash_fnv1a(HB_HASH_FNV1A_INIT, app, strlen(app));

        h = hb_hash_fnv1a(h, "\x1f", 1);
        return hb_hash_fnv1a(h, id, strlen(id));
}

wk_health_acc_t *wk_health_acc_new(size_t cap, wk_health_seed_cb_t *seed,
                                   void *opaque)
{
        wk_health_acc_t *a = calloc(1, sizeof(*a));

        if (!a)
                return NULL;
        a->nbuckets = INITIAL_BUCKETS;
        a->buckets = calloc(a->nbuckets, sizeof(*a->buckets));
        if (!a->buckets) {
                free(a);
                return NULL;
        }
        a->cap = cap ? cap : DEFAULT_CAP;
        a->seed = seed;
        a->opaque = opaque;
        pthread_mutex_init(&a->lock, NULL);
        return a;
}

/* The entry of a change-list link (NULL for NULL). */
static entry_t *of(wk_lru_link_t *l)
{
        return WK_LRU_ENTRY(l, entry_t, link);
}

static void entry_free(entry_t *e)
{
        free(e->key);
        free(e->error);
        free(e->body);
        free(e);
}

/* Lock held. Remove \p e from the table and free it. */
static void evict(wk_health_acc_t *a, entry_t *e)
{
        entry_t **pp = &a->buckets[e->hash & (a->nbuckets - 1)];

        while (*pp != e)
                pp = &(*pp)->chain;
        *pp = e->chain;
        wk_lru_remove(&a->changed, &e->link);
        entry_free(e);
        a->n--;
        a->evicted++;
}

/* Lock held. Make room for one more when the table is full. */
static void make_room(wk_health_acc_t *a)
{
        entry_t *e = of(a->changed.oldest);

        if (a->n < a->cap || !e)
                return;
        for (int i = 0; e && i < EVICT_SCAN; i++, e = of(e->link.newer))
                if (!e->dirty) {
                        evict(a, e);
                        return;
                }
        evict(a, of(a->changed.oldest));
}

/* Lock held. Double the buckets (nothing happens on out-of-memory). */
static void grow(wk_health_acc_t *a)
{
        size_t nb = a->nbuckets * 2;
        entry_t **b = calloc(nb, sizeof(*b));

        if (!b)
                return;
        for (size_t i = 0; i < a->nbuckets; i++)
                for (entry_t *e = a->buckets[i], *next; e; e = next) {
                        next = e->chain;
                        e->chain = b[e->hash & (nb - 1)];
                        b[e->hash & (nb - 1)] = e;
                }
        free(a->buckets);
        a->buckets = b;
        a->nbuckets = nb;
}

/* Lock held. The entry of (\p app, \p id), or NULL. */
static entry_t *lookup(const wk_health_acc_t *a, const char *app,
                       const char *id)
{
        uint64_t h = hash_of(app, id);
        size_t al = strlen(app);
        entry_t *e;

        for (e = a->buckets[h & (a->nbuckets - 1)]; e; e = e->chain)
                if (e->hash == h && e->app_len == al &&
                    !memcmp(e->key, app, al) && !strcmp(e->key + al + 1, id))
                        return e;
        return NULL;
}

/* Lock held. The entry of (\p app, \p id), made when missing (NULL on
 * out-of-memory), marked changed and newest. */
static entry_t *find(wk_health_acc_t *a, const char *app, const char *id)
{
        uint64_t h;
        size_t al, il;
        entry_t *e;

        if (!app)
                app = "";
        if (!id)
                return NULL;
        h = hash_of(app, id);
        al = strlen(app);
        il = strlen(id);
        e = lookup(a, app, id);
        if (!e) {
                make_room(a);
                if (!(e = calloc(1, sizeof(*e))) ||
                    !(e->key = malloc(al + il + 2))) {
                        free(e);
                        return NULL;
                }
                memcpy(e->key, app, al);
                e->key[al] = '\x1f';
                memcpy(e->key + al + 1, id, il + 1);
                e->app_len = al;
                e->hash = h;
                if (a->seed)
                        a->seed(a->opaque, app, id, &e->c);
                e->chain = a->buckets[h & (a->nbuckets - 1)];
                a->buckets[h & (a->nbuckets - 1)] = e;
                a->n++;
                if (a->n > a->nbuckets)
                        grow(a);
        }
        wk_lru_touch(&a->changed, &e->link);
        e->dirty = 1;
        return e;
}

/* \p s cut to \p max bytes, as a new string (NULL for "" or none). */
static char *cut_dup(const char *s, size_t max)
{
        size_t n;
        char *d;

        if (!s || !*s)
                return NULL;
        n = strnlen(s, max);
        if (!(d = malloc(n + 1)))
                return NULL;
        memcpy(d, s, n);
        d[n] = '\0';
        return d;
}

void wk_health_acc_attempt(wk_health_acc_t *a, const char *app, const char *id,
                           long status, const char *error, const char *body,
                           size_t body_len, int64_t now_ms)
{
        char esc[WK_HEALTH_BODY_MAX + 1];
        entry_t *e;

        pthread_mutex_lock(&a->lock);
        e = find(a, app, id);
        if (e && status >= 200 && status <= 299) {
                e->c.delivered++;
                e->c.last_success_ms = now_ms;
        } else if (e) {
                e->c.failed++;
                e->c.last_failure_ms = now_ms;
                e->c.last_failure_status = status;
                free(e->error);
                free(e->body);
                e->error = cut_dup(error, WK_HEALTH_ERROR_MAX);
                e->body = NULL;
                if (body && body_len) {
                        wk_health_escape(body, body_len, esc, sizeof(esc));
                        e->body = cut_dup(esc, WK_HEALTH_BODY_MAX);
                }
        }
        pthread_mutex_unlock(&a->lock);
}

void wk_health_acc_event(wk_health_acc_t *a, const char *app, const char *id,
                         unsigned events)
{
        entry_t *e;

        pthread_mutex_lock(&a->lock);
        e = find(a, app, id);
        if (e) {
                e->c.handed_off += (events & WK_HEALTH_HANDED_OFF) != 0;
                e->c.resolved += (events & WK_HEALTH_RESOLVED) != 0;
                e->c.dead_lettered += (events & WK_HEALTH_DEAD_LETTERED) != 0;
        }
        pthread_mutex_unlock(&a->lock);
}

void wk_health_acc_state(wk_health_acc_t *a, const char *app, const char *id,
                         int circuit, int disabled)
{
        entry_t *e;

        if (!id)
                return;
        disabled = disabled != 0;
        pthread_mutex_lock(&a->lock);
        /* unchanged: not marked (a lookup only) */
        e = lookup(a, app ? app : "", id);
        if (e ? e->c.circuit != circuit || e->c.disabled != disabled
              : circuit != 0 || disabled) {
                e = find(a, app, id);
                if (e) {
                        e->c.circuit = circuit;
                        e->c.disabled = disabled;
                }
        }
        pthread_mutex_unlock(&a->lock);
}

void wk_health_snaps_free(wk_health_snap_t *s, size_t n)
{
        for (size_t i = 0; s && i < n; i++) {
                free(s[i].app);
                free(s[i].error);
                free(s[i].body);
        }
        free(s);
}

size_t wk_health_acc_take(wk_health_acc_t *a, wk_health_snap_t **out)
{
        wk_health_snap_t *s;
        size_t n = 0, k = 0;

        *out = NULL;
        pthread_mutex_lock(&a->lock);
        for (entry_t *e = of(a->changed.oldest); e; e = of(e->link.newer))
                n += e->dirty;
        s = n ? calloc(n, sizeof(*s)) : NULL;
        for (entry_t *e = of(a->changed.oldest); s && e;
             e = of(e->link.newer)) {
                wk_health_snap_t *t = &s[k];
                if (!e->dirty)
                        continue;
                /* one allocation: app, NUL, id (the key split) */
                if (!(t->app = strdup(e->key)) ||
                    (e->error && !(t->error = strdup(e->error))) ||
                    (e->body && !(t->body = strdup(e->body)))) {
                        wk_health_snaps_free(s, k + 1);
                        s = NULL;
                        break;
                }
                t->app[e->app_len] = '\0';
                t->id = t->app + e->app_len + 1;
                t->c = e->c;
                k++;
        }
        if (s)
                for (entry_t *e = of(a->changed.oldest); e;
                     e = of(e->link.newer))
                        e->dirty = 0;
        pthread_mutex_unlock(&a->lock);
        *out = s;
        return s ? k : 0;
}

void wk_health_acc_dirty_all(wk_health_acc_t *a)
{
        pthread_mutex_lock(&a->lock);
        for (entry_t *e = of(a->changed.oldest); e; e = of(e->link.newer))
                e->dirty = 1;
        pthread_mutex_unlock(&a->lock);
}

void wk_health_acc_stats(wk_health_acc_t *a, size_t *entries, uint64_t *evicted)
{
        pthread_mutex_lock(&a->lock);
        *entries = a->n;
        *evicted = a->evicted;
        pthread_mutex_unlock(&a->lock);
}

void wk_health_acc_destroy(wk_health_acc_t *a)
{
        if (!a)
                return;
        for (size_t i = 0; i < a->nbuckets; i++)
                for (entry_t *e = a->buckets[i], *next; e; e = next) {
                        next = e->chain;
                        entry_free(e);
                }
        free(a->buckets);
        pthread_mutex_destroy(&a->lock);
        free(a);
}
