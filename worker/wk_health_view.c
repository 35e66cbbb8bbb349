/* wk_health_view: every replica's health records, summed per webhook (see
 * the header). Webhooks in a hash by "app<US>id", each with its replicas'
 * records; the records in a list from the least to the most recently
 * updated, for eviction; the replicas in a short list. */
#include "wk_health_view.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_hash.h"
#include "wk_lru.h"

#define DEFAULT_CAP     200000
#define INITIAL_BUCKETS 256

typedef struct replica_s {
        struct replica_s *next;
        char *name;
        int64_t alive_ms; /* its last heartbeat's time, 0: none */
        int stopped;
        size_t refs; /* records of it */
} replica_t;

struct node_s;

typedef struct entry_s {
        struct node_s *node;
        replica_t *rep;
        struct entry_s *sibling; /* the node's next record */
        wk_lru_link_t link;      /* the update list */
        wk_health_counts_t c;
        int64_t updated_ms;
} entry_t;

/* One webhook. */
typedef struct node_s {
        struct node_s *chain;
        char *key; /* app, 0x1f, id */
        size_t app_len;
        uint64_t hash;
        entry_t *entries;
        /* the latest failure any replica reported: kept when its record
         * is replaced or evicted */
        int64_t last_failure_ms;
        long last_failure_status;
        char *error, *body;
} node_t;

struct wk_health_view_s {
        pthread_mutex_t lock;
        node_t **buckets;
        size_t nbuckets, nodes, n, cap, nreplicas;
        wk_lru_t updated; /* records from the least recently updated */
        replica_t *replicas;
        uint64_t evicted;
};

/* FNV-1a of the key as stored: app, 0x1f, id. */
static uint64_t hash_of(const char *app, const char *id)
{
        uint64_t h = hb_hash_fnv1a(HB_HASH_FNV1A_INIT, app, strlen(app));

        h = hb_hash_fnv1a(h, "\x1f", 1);
        return hb_hash_fnv1a(h, id, strlen(id));
}

wk_health_view_t *wk_health_view_new(size_t cap)
{
        wk_health_view_t *v = calloc(1, sizeof(*v));

        if (!v)
                return NULL;
        v->nbuckets = INITIAL_BUCKETS;
        v->buckets = calloc(v->nbuckets, sizeof(*v->buckets));
        if (!v->buckets) {
                free(v);
                return NULL;
        }
        v->cap = cap ? cap : DEFAULT_CAP;
        pthread_mutex_init(&v->lock, NULL);
        return v;
}

/* Lock held. Replica \p name, made when \p make (NULL: none, or out of
 * memory). */
static replica_t *replica_get(wk_health_view_t *v, const char *name, int make)
{
        replica_t *r;

        for (r = v->replicas; r; r = r->next)
                if (!strcmp(r->name, name))
                        return r;
        if (!make || !(r = calloc(1, sizeof(*r))))
                return NULL;
        if (!(r->name = strdup(name))) {
                free(r);
                return NULL;
        }
        r->next = v->replicas;
        v->replicas = r;
        v->nreplicas++;
        return r;
}

/* Lock held. Free \p r when nothing refers to it and it never sent a
 * heartbeat (a heartbeat's replica stays: one per replica started within
 * the topic's retention). */
static void replica_put(wk_health_view_t *v, replica_t *r)
{
        replica_t **pp = &v->replicas;

        if (r->refs || r->alive_ms)
                return;
        while (*pp != r)
                pp = &(*pp)->next;
        *pp = r->next;
        v->nreplicas--;
        free(r->name);
        free(r);
}

static node_t *node_lookup(const wk_health_view_t *v, const char *app,
                           const char *id)
{
        uint64_t h = hash_of(app, id);
        size_t al = strlen(app);

        for (node_t *n = v->buckets[h & (v->nbuckets - 1)]; n; n = n->chain)
                if (n->hash == h && n->app_len == al &&
                    !memcmp(n->key, app, al) && !strcmp(n->key + al + 1, id))
                        return n;
        return NULL;
}

static void grow(wk_health_view_t *v)
{
        size_t nb = v->nbuckets * 2;
        node_t **b = calloc(nb, sizeof(*b));

        if (!b)
                return;
        for (size_t i = 0; i < v->nbuckets; i++)
                for (node_t *n = v->buckets[i], *next; n; n = next) {
                        next = n->chain;
                        n->chain = b[n->hash & (nb - 1)];
                        b[n->hash & (nb - 1)] = n;
                }
        free(v->buckets);
        v->buckets = b;
        v->nbuckets = nb;
}

static node_t *node_make(wk_health_view_t *v, const char *app, const char *id)
{
        size_t al = strlen(app), il = strlen(id);
        node_t *n = calloc(1, sizeof(*n));

        if (!n || !(n->key = malloc(al + il + 2))) {
                free(n);
                return NULL;
        }
        memcpy(n->key, app, al);
        n->key[al] = '\x1f';
        memcpy(n->key + al + 1, id, il + 1);
        n->app_len = al;
        n->hash = hash_of(app, id);
        n->chain = v->buckets[n->hash & (v->nbuckets - 1)];
        v->buckets[n->hash & (v->nbuckets - 1)] = n;
        if (++v->nodes > v->nbuckets)
                grow(v);
        return n;
}

static void node_free(wk_health_view_t *v, node_t *n)
{
        node_t **pp = &v->buckets[n->hash & (v->nbuckets - 1)];

        while (*pp != n)
                pp = &(*pp)->chain;
        *pp = n->chain;
        v->nodes--;
        free(n->key);
        free(n->error);
        free(n->body);
        free(n);
}

/* Lock held. Evict the least recently updated record (its webhook goes
 * with its last record). */
static void evict_oldest(wk_health_view_t *v)
{
        entry_t *e = WK_LRU_ENTRY(v->updated.oldest, entry_t, link), **pp;
        node_t *n;

        if (!e)
                return;
        n = e->node;
        for (pp = &n->entries; *pp != e; pp = &(*pp)->sibling)
                ;
        *pp = e->sibling;
        wk_lru_remove(&v->updated, &e->link);
        e->rep->refs--;
        replica_put(v, e->rep);
        if (!n->entries)
                node_free(v, n);
        free(e);
        v->n--;
        v->evicted++;
}

/* Lock held. \p n's latest failure, when \p r's is later. */
static void note_failure(node_t *n, const wk_health_rec_t *r)
{
        if (r->c.last_failure_ms <= n->last_failure_ms)
                return;
        free(n->error);
        free(n->body);
        n->last_failure_ms = r->c.last_failure_ms;
        n->last_failure_status = r->c.last_failure_status;
        n->error = r->error && *r->error ? strdup(r->error) : NULL;
        n->body = r->body && *r->body ? strdup(r->body) : NULL;
}

void wk_health_view_apply(wk_health_view_t *v, const wk_health_rec_t *r)
{
        const char *app = r->app ? r->app : "";
        replica_t *rep;
        node_t *n;
        entry_t *e = NULL;

        if (!r->replica || !*r->replica || !r->id)
                return;
        pthread_mutex_lock(&v->lock);
        if (!*r->id) {
                if ((rep = replica_get(v, r->replica, 1))) {
                        if (r->updated_ms > rep->alive_ms)
                                rep->alive_ms = r->updated_ms;
                        rep->stopped = r->stopped;
                }
                goto out;
        }
        n = node_lookup(v, app, r->id);
        rep = replica_get(v, r->replica, 1);
        for (e = n ? n->entries : NULL; e && e->rep != rep; e = e->sibling)
                ;
        if (!e) {
                if (!rep)
                        goto out;
                /* room first: the eviction may free n (its last record) */
                rep->refs++;
                if (v->n >= v->cap)
                        evict_oldest(v);
                n = node_lookup(v, app, r->id);
                if (!n && !(n = node_make(v, app, r->id))) {
                        rep->refs--;
                        replica_put(v, rep);
                        goto out;
                }
                if (!(e = calloc(1, sizeof(*e)))) {
                        rep->refs--;
                        replica_put(v, rep);
                        if (!n->entries)
                                node_free(v, n);
                        goto out;
                }
                e->node = n;
                e->rep = rep;
                e->sibling = n->entries;
                n->entries = e;
                v->n++;
        }
        wk_lru_touch(&v->updated, &e->link);
        e->c = r->c;
        e->updated_ms = r->updated_ms;
        note_failure(n, r);
out:
        pthread_mutex_unlock(&v->lock);
}

static int alive(const replica_t *r, int64_t now_ms)
{
        return r->alive_ms && !r->stopped &&
               now_ms - r->alive_ms < WK_HEALTH_ALIVE_MS;
}

int wk_health_view_sum(wk_health_view_t *v, const char *app, const char *id,
                       int64_t now_ms, wk_health_sum_t *out)
{
        node_t *n;

        memset(out, 0, sizeof(*out));
        pthread_mutex_lock(&v->lock);
        n = node_lookup(v, app ? app : "", id);
        for (entry_t *e = n ? n->entries : NULL; e; e = e->sibling) {
                out->delivered += e->c.delivered;
                out->failed += e->c.failed;
                out->dead_lettered += e->c.dead_lettered;
                out->handed_off += e->c.handed_off;
                out->resolved += e->c.resolved;
                if (e->c.last_success_ms > out->last_success_ms)
                        out->last_success_ms = e->c.last_success_ms;
                if (e->updated_ms > out->updated_ms)
                        out->updated_ms = e->updated_ms;
                out->replicas++;
                if (!alive(e->rep, now_ms))
                        continue;
                out->alive++;
                out->open += e->c.circuit == 2;
                out->half_open += e->c.circuit == 1;
                out->disabled += e->c.disabled != 0;
        }
        if (n) {
                out->last_failure_ms = n->last_failure_ms;
                out->last_failure_status = n->last_failure_status;
                snprintf(out->error, sizeof(out->error), "%s",
                         n->error ? n->error : "");
                snprintf(out->body, sizeof(out->body), "%s",
                         n->body ? n->body : "");
        }
        out->in_retry = out->handed_off > out->resolved
                                ? out->handed_off - out->resolved
                                : 0;
        pthread_mutex_unlock(&v->lock);
        return n != NULL;
}

int wk_health_view_own(wk_health_view_t *v, const char *replica,
                       const char *app, const char *id, wk_health_counts_t *out)
{
        node_t *n;
        int found = 0;

        pthread_mutex_lock(&v->lock);
        n = node_lookup(v, app ? app : "", id);
        for (entry_t *e = n ? n->entries : NULL; e; e = e->sibling)
                if (!strcmp(e->rep->name, replica)) {
                        *out = e->c;
                        found = 1;
                        break;
                }
        pthread_mutex_unlock(&v->lock);
        return found;
}

void wk_health_view_stats(wk_health_view_t *v, size_t *records,
                          size_t *webhooks, size_t *replicas, uint64_t *evicted)
{
        pthread_mutex_lock(&v->lock);
        *records = v->n;
        *webhooks = v->nodes;
        *replicas = v->nreplicas;
        *evicted = v->evicted;
        pthread_mutex_unlock(&v->lock);
}

void wk_health_view_destroy(wk_health_view_t *v)
{
        if (!v)
                return;
        while (v->updated.oldest)
                evict_oldest(v);
        while (v->replicas) {
                replica_t *r = v->replicas;
                v->replicas = r->next;
                free(r->name);
                free(r);
        }
        free(v->buckets);
        pthread_mutex_destroy(&v->lock);
        free(v);
}
