/* wk_store: one replica of the webhook store (see the header). */
#include "wk_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hb_hash.h"
#include "hb_log.h"
#include "hb_time.h"
#include "kc_store.h"
#include "wh_store.h"

#define RING 4096 /* outcomes kept for writers waiting on their record */
/* Start-up: the topic's end offset asked for up to END_WAIT_MS (a topic
 * just created may take a moment to be known), each ask within
 * END_TRY_MS, the wait logged every WAIT_LOG_MS. */
#define END_WAIT_MS 15000
#define END_TRY_MS  5000
#define WAIT_LOG_MS 3000

/* A webhook someone outside holds (wk_store_hold): freed by the last of
 * the store and its holders. */
struct wk_store_held_s {
        _Atomic int refs;
        wk_hook_t *hook;
};

typedef struct entry_s {
        struct entry_s *next;
        char *id;
        wk_hook_t *hook; /* NULL: the record could not be read */
        int64_t version;
        wk_store_held_t *held; /* hook is shared with holders, or NULL */
} entry_t;

static void held_drop(wk_store_held_t *hd)
{
        if (atomic_fetch_sub(&hd->refs, 1) == 1) {
                wk_hook_free(hd->hook);
                free(hd);
        }
}

/* The entry lets go of its webhook (replaced, removed, destroyed). */
static void drop_hook(entry_t *e)
{
        if (e->held)
                held_drop(e->held); /* the holders' now, or freed */
        else
                wk_hook_free(e->hook);
        e->held = NULL;
        e->hook = NULL;
}

typedef struct gap_s {
        int64_t lo, hi; /* offsets never read: compacted away */
} gap_t;

struct wk_store_s {
        pthread_mutex_t lock;
        pthread_cond_t cond; /* position moved, or ready */
        entry_t **buckets;
        size_t nbuckets, count, hooks;
        gap_t *gaps;
        size_t ngaps, gap_cap;
        int64_t last; /* the last offset applied, -1 before any */
        struct {
                int64_t offset;
                wk_store_outcome_t what;
        } ring[RING];
        int64_t position; /* next offset to read */
        int64_t end0;     /* the log's end when the replica started */
        int ready;
        unsigned char key[WK_SEAL_KEY_LEN];
        int write_timeout_ms;
        /* a Kafka replica */
        kc_store_reader_t *reader;
        wh_store_writer_t *writer;
        pthread_t thread;
        int started;
        int stop; /* __atomic */
        /* bumped by every record that applied (wk_store_generation) */
        _Atomic uint64_t generation;
};

/* --- the state ---------------------------------------------------------- */

static uint64_t hash(const char *s, size_t n)
{
        return hb_hash_fnv1a(HB_HASH_FNV1A_INIT, s, n);
}

static entry_t **slot(wk_store_t *s, const char *id, size_t n)
{
        entry_t **e = &s->buckets[hash(id, n) & (s->nbuckets - 1)];

        while (*e && !(strlen((*e)->id) == n && !memcmp((*e)->id, id, n)))
                e = &(*e)->next;
        return e;
}

static void grow(wk_store_t *s)
{
        size_t nb = s->nbuckets * 2;
        entry_t **b = calloc(nb, sizeof(*b));

        if (!b)
                return; /* longer chains, still correct */
        for (size_t i = 0; i < s->nbuckets; i++) {
                entry_t *e = s->buckets[i], *next;

                for (; e; e = next) {
                        size_t k = hash(e->id, strlen(e->id)) & (nb - 1);

                        next = e->next;
                        e->next = b[k];
                        b[k] = e;
                }
        }
        free(s->buckets);
        s->buckets = b;
        s->nbuckets = nb;
}

/* Whether \p off lies in an offset range this replica never read. */
static int in_gap(const wk_store_t *s, int64_t off)
{
        size_t lo = 0, hi = s->ngaps;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;

                if (s->gaps[mid].hi < off)
                        lo = mid + 1;
                else if (s->gaps[mid].lo > off)
                        hi = mid;
                else
                        return 1;
        }
        return 0;
}

static void note_offset(wk_store_t *s, int64_t off)
{
        if (off > s->last + 1) {
                if (s->ngaps == s->gap_cap) {
                        size_t cap = s->gap_cap ? s->gap_cap * 2 : 16;
                        gap_t *g = realloc(s->gaps, cap * sizeof(*g));

                        if (g) {
                                s->gaps = g;
                                s->gap_cap = cap;
                        }
                }
                if (s->ngaps < s->gap_cap)
                        s->gaps[s->ngaps++] = (gap_t){s->last + 1, off - 1};
        }
        if (off > s->last)
                s->last = off;
}

static void remember(wk_store_t *s, int64_t off, wk_store_outcome_t what)
{
        s->ring[off % RING].offset = off;
        s->ring[off % RING].what = what;
}

static wk_store_outcome_t apply(wk_store_t *s, const char *key, size_t key_len,
                                const void *value, size_t len, int64_t base,
                                int64_t offset, int restate)
{
        wk_store_outcome_t what = WK_STORE_IGNORED;
        entry_t **e, *en;
        int64_t cur;
        char idbuf[256], why[1024];

        pthread_mutex_lock(&s->lock);
        if (offset <= s->last && s->last >= 0) {
                /* read twice (a reader restarted): the first time counts */
                pthread_mutex_unlock(&s->lock);
                return wk_store_outcome(s, offset);
        }
        note_offset(s, offset);
        if (!key || key_len == 0 || key_len >= sizeof(idbuf) ||
            memchr(key, '\0', key_len) || base < 0) {
                hb_log(HB_LOG_WARN,
                       "store: record without a key or a base "
                       "version ignored",
                       "offset=%lld", (long long)offset);
                goto out;
        }
        memcpy(idbuf, key, key_len);
        idbuf[key_len] = '\0';
        e = slot(s, idbuf, key_len);
        cur = *e ? (*e)->version : 0;
        if (base != cur && !(base > 0 && in_gap(s, base - 1))) {
                hb_log(HB_LOG_INFO,
                       "store: record ignored: its base is not "
                       "the current version",
                       "id=%s offset=%lld base=%lld current=%lld", idbuf,
                       (long long)offset, (long long)base, (long long)cur);
                goto out;
        }
        what = WK_STORE_APPLIED;
        if (!value) {
                if ((en = *e)) {
                        *e = en->next;
                        if (en->hook)
                                s->hooks--;
                        drop_hook(en);
                        free(en->id);
                        free(en);
                        s->count--;
                }
                goto out;
        }
        if (!(en = *e)) {
                if (s->count >= s->nbuckets)
                        grow(s);
                e = slot(s, idbuf, key_len);
                en = calloc(1, sizeof(*en));
                if (!en || !(en->id = strdup(idbuf))) {
                        /* the replica can no longer agree: say so loudly */
                        hb_log(HB_LOG_ERR,
                               "store: out of memory applying "
                               "a record",
                               "id=%s offset=%lld", idbuf, (long long)offset);
                        free(en);
                        goto out;
                }
                *e = en;
                s->count++;
        }
        if (en->hook)
                s->hooks--;
        drop_hook(en);
        /* a restatement keeps the version it restates */
        en->version = restate ? base : offset + 1;
        en->hook =
                wk_hook_from_json(value, len, idbuf, s->key, why, sizeof(why));
        if (en->hook)
                s->hooks++;
        else
                hb_log(HB_LOG_ERR,
                       "store: record applied but unreadable; "
                       "the webhook is off until rewritten",
                       "id=%s offset=%lld error=\"%s\"", idbuf,
                       (long long)offset, why);
out:
        if (what == WK_STORE_APPLIED)
                atomic_fetch_add(&s->generation, 1);
        remember(s, offset, what);
        pthread_mutex_unlock(&s->lock);
        return what;
}

wk_store_outcome_t wk_store_apply(wk_store_t *s, const char *key,
                                  size_t key_len, const void *value, size_t len,
                                  int64_t base, int64_t offset)
{
        return apply(s, key, key_len, value, len, base, offset, 0);
}

wk_store_outcome_t wk_store_apply_restate(wk_store_t *s, const char *key,
                                          size_t key_len, const void *value,
                                          size_t len, int64_t base,
                                          int64_t offset)
{
        return apply(s, key, key_len, value, len, base, offset, 1);
}

wk_store_outcome_t wk_store_outcome(wk_store_t *s, int64_t offset)
{
        wk_store_outcome_t what = WK_STORE_UNKNOWN;

        pthread_mutex_lock(&s->lock);
        if (offset >= 0 && s->ring[offset % RING].offset == offset &&
            offset <= s->last)
                what = s->ring[offset % RING].what;
        pthread_mutex_unlock(&s->lock);
        return what;
}

wk_hook_t *wk_store_get(wk_store_t *s, const char *id, int64_t *version)
{
        wk_hook_t *h = NULL;
        entry_t *e;

        pthread_mutex_lock(&s->lock);
        e = *slot(s, id, strlen(id));
        if (e && e->hook) {
                h = wk_hook_dup(e->hook);
                if (version)
                        *version = e->version;
        }
        pthread_mutex_unlock(&s->lock);
        return h;
}

int64_t wk_store_version(wk_store_t *s, const char *id)
{
        int64_t v;
        entry_t *e;

        pthread_mutex_lock(&s->lock);
        e = *slot(s, id, strlen(id));
        v = e ? e->version : 0;
        pthread_mutex_unlock(&s->lock);
        return v;
}

size_t wk_store_count(wk_store_t *s)
{
        size_t n;

        pthread_mutex_lock(&s->lock);
        n = s->hooks;
        pthread_mutex_unlock(&s->lock);
        return n;
}

int64_t wk_store_position(wk_store_t *s)
{
        int64_t p;

        pthread_mutex_lock(&s->lock);
        p = s->position;
        pthread_mutex_unlock(&s->lock);
        return p;
}

int wk_store_ready(wk_store_t *s)
{
        int r;

        pthread_mutex_lock(&s->lock);
        r = s->ready;
        pthread_mutex_unlock(&s->lock);
        return r;
}

static void deadline_ts(struct timespec *ts, int ms)
{
        clock_gettime(CLOCK_MONOTONIC, ts);
        ts->tv_sec += ms / 1000;
        ts->tv_nsec += (long)(ms % 1000) * 1000000L;
        if (ts->tv_nsec >= 1000000000L) {
                ts->tv_sec++;
                ts->tv_nsec -= 1000000000L;
        }
}

int wk_store_wait_ready(wk_store_t *s, int timeout_ms)
{
        struct timespec ts;
        int r;

        deadline_ts(&ts, timeout_ms);
        pthread_mutex_lock(&s->lock);
        while (!s->ready &&
               pthread_cond_timedwait(&s->cond, &s->lock, &ts) != ETIMEDOUT)
                ;
        r = s->ready;
        pthread_mutex_unlock(&s->lock);
        return r;
}

/* --- life cycle --------------------------------------------------------- */

static wk_store_t *alloc_store(const unsigned char *key)
{
        wk_store_t *s = calloc(1, sizeof(*s));
        pthread_condattr_t ca;

        if (!s)
                return NULL;
        s->nbuckets = 64;
        s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
        if (!s->buckets) {
                free(s);
                return NULL;
        }
        for (size_t i = 0; i < RING; i++)
                s->ring[i].offset = -1;
        s->last = -1;
        s->write_timeout_ms = 10000;
        if (key)
                memcpy(s->key, key, WK_SEAL_KEY_LEN);
        pthread_mutex_init(&s->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&s->cond, &ca);
        pthread_condattr_destroy(&ca);
        return s;
}

wk_store_t *wk_store_new_local(const unsigned char key[WK_SEAL_KEY_LEN])
{
        wk_store_t *s = alloc_store(key);

        if (s)
                s->ready = 1;
        return s;
}

static void on_record(const kc_store_record_t *rec, void *opaque)
{
        apply(opaque, rec->key, rec->key_len, rec->value, rec->len, rec->base,
              rec->offset, rec->restate);
}

static void *follow(void *arg)
{
        wk_store_t *s = arg;
        int64_t t0 = hb_time_mono_ms();

        while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
                int64_t pos;

                kc_store_reader_poll(s->reader, 100, on_record, s);
                pos = kc_store_reader_position(s->reader);
                pthread_mutex_lock(&s->lock);
                if (pos > s->position)
                        s->position = pos;
                if (!s->ready && s->position >= s->end0) {
                        s->ready = 1;
                        hb_log(HB_LOG_INFO, "store: caught up",
                               "records=%lld webhooks=%zu ms=%lld",
                               (long long)s->end0, s->hooks,
                               (long long)(hb_time_mono_ms() - t0));
                }
                pthread_cond_broadcast(&s->cond);
                pthread_mutex_unlock(&s->lock);
        }
        return NULL;
}

wk_store_t *wk_store_new(const wk_store_conf_t *c, char *errstr,
                         size_t errstr_size)
{
        wh_store_conf_t wc = {c->brokers,         c->prop_names,
                              c->prop_values,     c->prop_count,
                              c->topic,           c->replication_factor,
                              c->write_timeout_ms};
        kc_store_conf_t rc = {c->brokers, c->prop_names, c->prop_values,
                              c->prop_count, c->topic};
        wk_store_t *s = alloc_store(c->key);
        int64_t t0 = hb_time_mono_ms(), next_log = t0 + WAIT_LOG_MS;
        char why[512];

        if (!s) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        if (c->write_timeout_ms > 0)
                s->write_timeout_ms = c->write_timeout_ms;
        if (!(s->writer = wh_store_writer_new(&wc, errstr, errstr_size)) ||
            wh_store_writer_ensure_topic(s->writer, errstr, errstr_size) ==
                    -1 ||
            !(s->reader = kc_store_reader_new(&rc, errstr, errstr_size)))
                goto err;
        /* a topic just created may take a moment to be known: asked
         * again until the deadline (each ask within END_TRY_MS), what it
         * waits for said every WAIT_LOG_MS */
        for (int tries = 1;; tries++) {
                int64_t now;

                if (kc_store_reader_end(s->reader, &s->end0, END_TRY_MS, why,
                                        sizeof(why)) == 0)
                        break;
                now = hb_time_mono_ms();
                if (now >= t0 + END_WAIT_MS) {
                        snprintf(errstr, errstr_size,
                                 "%s (no end offset after %lld ms, %d tries)",
                                 why, (long long)(now - t0), tries);
                        goto err;
                }
                if (now >= next_log) {
                        hb_log(HB_LOG_WARN,
                               "store: waiting for the topic's end offset",
                               "topic=%s waited_ms=%lld tries=%d "
                               "error=\"%s\"",
                               c->topic, (long long)(now - t0), tries, why);
                        next_log = now + WAIT_LOG_MS;
                }
                struct timespec ts = {0, 200 * 1000000L};
                nanosleep(&ts, NULL);
        }
        if (pthread_create(&s->thread, NULL, follow, s)) {
                snprintf(errstr, errstr_size, "store: cannot start a thread");
                goto err;
        }
        s->started = 1;
        return s;
err:
        wk_store_destroy(s);
        return NULL;
}

/* Wait until this replica has read \p offset; @returns its outcome. */
static wk_store_outcome_t read_back(wk_store_t *s, int64_t offset)
{
        struct timespec ts;

        deadline_ts(&ts, s->write_timeout_ms);
        pthread_mutex_lock(&s->lock);
        while (s->position <= offset &&
               pthread_cond_timedwait(&s->cond, &s->lock, &ts) != ETIMEDOUT)
                ;
        pthread_mutex_unlock(&s->lock);
        return wk_store_outcome(s, offset);
}

static int write_rec(wk_store_t *s, const char *id, const char *value,
                     size_t len, int64_t base, int restate, int64_t *version,
                     char *errstr, size_t errstr_size)
{
        int64_t off = -1;

        if (!s->writer) {
                snprintf(errstr, errstr_size, "store: a local replica");
                return -1;
        }
        if (wh_store_write(s->writer, id, value, len, base, restate, &off,
                           errstr, errstr_size) == -1)
                return -1;
        *version = off + 1;
        switch (read_back(s, off)) {
        case WK_STORE_APPLIED:
                return 0;
        case WK_STORE_IGNORED:
                return WK_STORE_CONFLICT;
        default:
                snprintf(errstr, errstr_size,
                         "store: the record at offset %lld was not read back "
                         "within %d ms",
                         (long long)off, s->write_timeout_ms);
                return -1;
        }
}

/*
 * After our record of \p id was ignored it is the last of its key, and
 * compaction would keep it alone: a replica reading the compacted log
 * would then apply it (its base is gone). So the loser writes the
 * current state again as a restatement (same content, same version)
 * until one is applied or another applied record follows ours.
 */
static void restate_after_conflict(wk_store_t *s, const char *id)
{
        for (int attempt = 0; attempt < 5; attempt++) {
                char err[512], *json = NULL;
                int64_t cur = 0, v;
                int unreadable = 0, rc;
                wk_hook_t *h = NULL;
                entry_t *e;

                pthread_mutex_lock(&s->lock);
                e = *slot(s, id, strlen(id));
                if (e) {
                        cur = e->version;
                        if (e->hook)
                                h = wk_hook_dup(e->hook);
                        else
                                unreadable = 1;
                }
                pthread_mutex_unlock(&s->lock);
                if (unreadable || (e && !h)) {
                        hb_log(HB_LOG_WARN,
                               "store: cannot restate after a "
                               "conflict",
                               "id=%s", id);
                        return;
                }
                if (h) {
                        json = wk_hook_to_json(h, s->key, err, sizeof(err));
                        wk_hook_free(h);
                        if (!json)
                                return;
                }
                rc = write_rec(s, id, json, json ? strlen(json) : 0, cur, 1, &v,
                               err, sizeof(err));
                free(json);
                if (rc == 0)
                        return;
                if (rc == -1) {
                        hb_log(HB_LOG_WARN, "store: restatement failed",
                               "id=%s error=\"%s\"", id, err);
                        return;
                }
        }
        hb_log(HB_LOG_WARN, "store: restatement kept losing", "id=%s", id);
}

static int write_checked(wk_store_t *s, const char *id, const char *value,
                         size_t len, int64_t base, int64_t *version,
                         char *errstr, size_t errstr_size)
{
        int rc = write_rec(s, id, value, len, base, 0, version, errstr,
                           errstr_size);

        if (rc == WK_STORE_CONFLICT)
                restate_after_conflict(s, id);
        return rc;
}

int wk_store_put(wk_store_t *s, const wk_hook_t *h, int64_t base,
                 int64_t *version, char *errstr, size_t errstr_size)
{
        char *json, why[1024];
        wk_hook_t *back;
        int rc;

        if (!h->id || !*h->id || strlen(h->id) >= 256) {
                snprintf(errstr, errstr_size, "id: 1 to 255 bytes");
                return -1;
        }
        json = wk_hook_to_json(h, s->key, errstr, errstr_size);
        if (!json)
                return -1;
        /* every replica must be able to read what is written */
        back = wk_hook_from_json(json, strlen(json), h->id, s->key, why,
                                 sizeof(why));
        if (!back) {
                snprintf(errstr, errstr_size, "%s", why);
                free(json);
                return -1;
        }
        wk_hook_free(back);
        rc = write_checked(s, h->id, json, strlen(json), base, version, errstr,
                           errstr_size);
        free(json);
        return rc;
}

int wk_store_delete(wk_store_t *s, const char *id, int64_t base,
                    int64_t *version, char *errstr, size_t errstr_size)
{
        return write_checked(s, id, NULL, 0, base, version, errstr,
                             errstr_size);
}

/* --- following the store ----------------------------------------------- */

uint64_t wk_store_generation(wk_store_t *s)
{
        return atomic_load(&s->generation);
}

long wk_store_each(wk_store_t *s, wk_store_each_cb_t *cb, void *opaque,
                   uint64_t *generation)
{
        long n = 0;

        pthread_mutex_lock(&s->lock);
        if (generation)
                *generation = atomic_load(&s->generation);
        for (size_t i = 0; i < s->nbuckets && n >= 0; i++)
                for (entry_t *e = s->buckets[i]; e; e = e->next) {
                        if (!e->hook)
                                continue;
                        if (cb(e->hook, e->version, (wk_store_pin_t *)e,
                               opaque)) {
                                n = -1;
                                break;
                        }
                        n++;
                }
        pthread_mutex_unlock(&s->lock);
        return n;
}

/* --- one app's webhooks (the management API) --------------------------- */

static int ref_cmp(const void *a, const void *b)
{
        return strcmp(((const wk_store_ref_t *)a)->id,
                      ((const wk_store_ref_t *)b)->id);
}

long wk_store_app_refs(wk_store_t *s, const char *app, wk_store_ref_t **out)
{
        wk_store_ref_t *r = NULL;
        size_t n = 0, cap = 0;
        int oom = 0;

        *out = NULL;
        /* a walk of every webhook: an app's list is not indexed (the API
         * is not a hot path; 100,000 webhooks take a few ms) */
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->nbuckets && !oom; i++)
                for (entry_t *e = s->buckets[i]; e && !oom; e = e->next) {
                        if (!e->hook || !e->hook->app_token ||
                            strcmp(e->hook->app_token, app))
                                continue;
                        if (n == cap) {
                                size_t c = cap ? cap * 2 : 16;
                                wk_store_ref_t *g = realloc(r, c * sizeof(*g));
                                if (!g) {
                                        oom = 1;
                                        break;
                                }
                                r = g;
                                cap = c;
                        }
                        r[n].id = strdup(e->id);
                        r[n].name = strdup(e->hook->name ? e->hook->name : "");
                        r[n].version = e->version;
                        n++;
                        oom = !r[n - 1].id || !r[n - 1].name;
                }
        pthread_mutex_unlock(&s->lock);
        if (oom) {
                wk_store_refs_free(r, (long)n);
                return -1;
        }
        if (n)
                qsort(r, n, sizeof(*r), ref_cmp);
        *out = r;
        return (long)n;
}

void wk_store_refs_free(wk_store_ref_t *refs, long n)
{
        for (long i = 0; refs && i < n; i++) {
                free(refs[i].id);
                free(refs[i].name);
        }
        free(refs);
}

wk_store_held_t *wk_store_hold(wk_store_pin_t *pin)
{
        entry_t *e = (entry_t *)pin;

        if (!e->held) {
                if (!(e->held = malloc(sizeof(*e->held))))
                        return NULL;
                atomic_init(&e->held->refs, 1); /* the store's */
                e->held->hook = e->hook;
        }
        atomic_fetch_add(&e->held->refs, 1);
        return e->held;
}

const wk_hook_t *wk_store_held_hook(const wk_store_held_t *hd)
{
        return hd->hook;
}

void wk_store_unhold(wk_store_held_t *hd)
{
        if (hd)
                held_drop(hd);
}

void wk_store_destroy(wk_store_t *s)
{
        if (!s)
                return;
        if (s->started) {
                __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
                pthread_join(s->thread, NULL);
        }
        kc_store_reader_destroy(s->reader);
        wh_store_writer_destroy(s->writer);
        for (size_t i = 0; i < s->nbuckets; i++) {
                entry_t *e = s->buckets[i], *next;

                for (; e; e = next) {
                        next = e->next;
                        drop_hook(e);
                        free(e->id);
                        free(e);
                }
        }
        free(s->buckets);
        free(s->gaps);
        explicit_bzero(s->key, sizeof(s->key));
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        free(s);
}
