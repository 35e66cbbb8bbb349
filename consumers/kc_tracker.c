/* kc_tracker: per-partition finished-offset windows; the commit rule. */
#include "kc_tracker.h"

#include <stdlib.h>
#include <string.h>

#include "hb_hash.h"

/* One consumed message in a partition window. */
typedef struct entry_s {
        int64_t offset;
        int64_t ts; /* Kafka timestamp, -1: none */
        int done;
} entry_t;

/* A partition slot: a ring of entries [head_seq, tail_seq). A slot keeps
 * its index for life (tickets name it); freed slots are reused. */
typedef struct slot_s {
        char *topic; /* NULL: free slot */
        int32_t partition;
        uint32_t gen;
        entry_t *ring;
        uint64_t cap; /* power of two */
        uint64_t head_seq;
        uint64_t tail_seq;
        size_t pending;
        int64_t next_offset; /* after the last consumed, -1: none */
        int64_t committed;
        int paused;
        int lost; /* kept aside: not in tr->order (kc_tracker_lose) */
        /* lowest offset dropped untracked and not consumed again since;
         * -1: none (see kc_tracker_taint) */
        int64_t hole;
        /* where the fetch reached the end with nothing consumed since the
         * assignment; -1: not known (kc_tracker_at_end) */
        int64_t end_offset;
        uint32_t hnext; /* next slot in its hash chain, + 1; 0: end */
        uint32_t order; /* its index in tr->order while assigned */
} slot_t;

struct kc_tracker_s {
        slot_t *slots;
        size_t slot_count; /* slots in use or freed */
        size_t slot_cap;
        uint32_t *order; /* assigned slots, dense: kc_tracker_at() */
        size_t order_n;
        uint32_t *free; /* freed slots, a stack */
        size_t free_n;
        uint32_t *buckets; /* slot + 1 heading each chain; 0: empty */
        size_t bucket_n;   /* power of two, or 0 */
        size_t pending_total;
};

kc_tracker_t *kc_tracker_new(void)
{
        return calloc(1, sizeof(kc_tracker_t));
}

void kc_tracker_destroy(kc_tracker_t *tr)
{
        if (!tr)
                return;
        for (size_t i = 0; i < tr->slot_count; i++) {
                free(tr->slots[i].topic);
                free(tr->slots[i].ring);
        }
        free(tr->slots);
        free(tr->order);
        free(tr->free);
        free(tr->buckets);
        free(tr);
}

/* FNV-1a over the topic, then the partition mixed in. */
static size_t hash_of(const char *topic, int32_t partition)
{
        uint64_t h = hb_hash_fnv1a(HB_HASH_FNV1A_INIT, topic, strlen(topic));

        h ^= (uint64_t)(uint32_t)partition * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
        return (size_t)h;
}

static slot_t *find(const kc_tracker_t *tr, const char *topic,
                    int32_t partition)
{
        uint32_t i;

        if (!tr->bucket_n)
                return NULL;
        i = tr->buckets[hash_of(topic, partition) & (tr->bucket_n - 1)];
        while (i) {
                slot_t *s = &tr->slots[i - 1];
                if (s->partition == partition && !strcmp(s->topic, topic))
                        return s;
                i = s->hnext;
        }
        return NULL;
}

/* Link slot \p i into its chain. */
static void hash_link(kc_tracker_t *tr, uint32_t i)
{
        slot_t *s = &tr->slots[i];
        size_t b = hash_of(s->topic, s->partition) & (tr->bucket_n - 1);

        s->hnext = tr->buckets[b];
        tr->buckets[b] = i + 1;
}

static void hash_unlink(kc_tracker_t *tr, uint32_t i)
{
        slot_t *s = &tr->slots[i];
        uint32_t *at = &tr->buckets[hash_of(s->topic, s->partition) &
                                    (tr->bucket_n - 1)];

        while (*at && *at != i + 1)
                at = &tr->slots[*at - 1].hnext;
        if (*at)
                *at = s->hnext;
        s->hnext = 0;
}

/* Keep at least one bucket per assigned partition. @returns -1 on OOM. */
static int hash_fit(kc_tracker_t *tr, size_t want)
{
        size_t n = tr->bucket_n ? tr->bucket_n : 16;
        uint32_t *b;

        if (want <= tr->bucket_n)
                return 0;
        while (n < want)
                n *= 2;
        b = calloc(n, sizeof(*b));
        if (!b)
                return -1;
        free(tr->buckets);
        tr->buckets = b;
        tr->bucket_n = n;
        /* every live slot, kept lost ones too (not in tr->order) */
        for (size_t k = 0; k < tr->slot_count; k++)
                if (tr->slots[k].topic)
                        hash_link(tr, (uint32_t)k);
        return 0;
}

/* Room for one more slot in every per-slot array. */
static int slots_fit(kc_tracker_t *tr)
{
        size_t ncap;
        slot_t *s;
        uint32_t *o, *f;

        if (tr->slot_count < tr->slot_cap)
                return 0;
        ncap = tr->slot_cap ? tr->slot_cap * 2 : 16;
        s = realloc(tr->slots, ncap * sizeof(*s));
        if (!s)
                return -1;
        tr->slots = s;
        o = realloc(tr->order, ncap * sizeof(*o));
        if (!o)
                return -1;
        tr->order = o;
        f = realloc(tr->free, ncap * sizeof(*f));
        if (!f)
                return -1;
        tr->free = f;
        tr->slot_cap = ncap;
        return 0;
}

/* Forget a slot's window and free it; its generation moves on so tickets
 * go stale. */
static void slot_release(kc_tracker_t *tr, slot_t *s)
{
        uint32_t i = (uint32_t)(s - tr->slots);
        uint32_t last;

        tr->pending_total -= s->pending;
        hash_unlink(tr, i);
        if (!s->lost) {
                /* swap the last assigned slot into this one's place */
                last = tr->order[--tr->order_n];
                tr->order[s->order] = last;
                tr->slots[last].order = s->order;
        }
        s->lost = 0;
        free(s->topic);
        free(s->ring);
        s->topic = NULL;
        s->ring = NULL;
        s->cap = 0;
        s->head_seq = s->tail_seq = 0;
        s->pending = 0;
        s->paused = 0;
        s->gen++;
        tr->free[tr->free_n++] = i;
}

int kc_tracker_assign(kc_tracker_t *tr, const char *topic, int32_t partition)
{
        slot_t *s = find(tr, topic, partition);
        char *name = strdup(topic);
        uint32_t i;

        if (!name)
                return -1;
        if (s)
                slot_release(tr, s);
        if (hash_fit(tr, tr->order_n + 1) == -1 || slots_fit(tr) == -1) {
                free(name);
                return -1;
        }
        if (tr->free_n) {
                i = tr->free[--tr->free_n];
        } else {
                i = (uint32_t)tr->slot_count++;
                memset(&tr->slots[i], 0, sizeof(tr->slots[i]));
        }
        s = &tr->slots[i];
        s->topic = name;
        s->partition = partition;
        s->next_offset = -1;
        s->committed = -1;
        s->hole = -1;
        s->end_offset = -1;
        s->order = (uint32_t)tr->order_n;
        tr->order[tr->order_n++] = i;
        hash_link(tr, i);
        return 0;
}

void kc_tracker_revoke(kc_tracker_t *tr, const char *topic, int32_t partition)
{
        slot_t *s = find(tr, topic, partition);

        if (s)
                slot_release(tr, s);
}

void kc_tracker_lose(kc_tracker_t *tr, const char *topic, int32_t partition)
{
        slot_t *s = find(tr, topic, partition);
        uint32_t last;

        if (!s || s->lost)
                return;
        last = tr->order[--tr->order_n];
        tr->order[s->order] = last;
        tr->slots[last].order = s->order;
        s->lost = 1;
        s->paused = 0; /* not ours to resume */
        s->committed = -1;
        s->end_offset = -1; /* the group may move on meanwhile */
}

int kc_tracker_is_lost(const kc_tracker_t *tr, const char *topic,
                       int32_t partition)
{
        const slot_t *s = find(tr, topic, partition);

        return s && s->lost;
}

int kc_tracker_current(const kc_tracker_t *tr, const kc_ticket_t *t)
{
        const slot_t *s;

        if (t->slot >= tr->slot_count)
                return 0;
        s = &tr->slots[t->slot];
        return s->topic && s->gen == t->gen;
}

static int64_t slot_committable(const slot_t *s);

int kc_tracker_restore(kc_tracker_t *tr, const char *topic, int32_t partition,
                       int64_t committed, int64_t *resume)
{
        slot_t *s = find(tr, topic, partition);
        int64_t done;

        *resume = -1;
        if (s && s->lost) {
                done = slot_committable(s);
                if (done >= 0 && committed <= done) {
                        s->lost = 0;
                        s->order = (uint32_t)tr->order_n;
                        tr->order[tr->order_n++] = (uint32_t)(s - tr->slots);
                        *resume = s->next_offset;
                        return 1;
                }
        }
        return kc_tracker_assign(tr, topic, partition) == -1 ? -1 : 0;
}

/* Double the ring, keeping entries at seq % cap. */
static int grow(slot_t *s)
{
        uint64_t ncap = s->cap ? s->cap * 2 : 64;
        entry_t *n = malloc(ncap * sizeof(*n));

        if (!n)
                return -1;
        for (uint64_t q = s->head_seq; q < s->tail_seq; q++)
                n[q & (ncap - 1)] = s->ring[q & (s->cap - 1)];
        free(s->ring);
        s->ring = n;
        s->cap = ncap;
        return 0;
}

int kc_tracker_add(kc_tracker_t *tr, const char *topic, int32_t partition,
                   int64_t offset, int64_t timestamp_ms, kc_ticket_t *out)
{
        slot_t *s = find(tr, topic, partition);
        entry_t *e;

        if (!s || s->lost)
                return -1;
        if (s->tail_seq - s->head_seq == s->cap && grow(s) == -1)
                return -1;
        e = &s->ring[s->tail_seq & (s->cap - 1)];
        e->offset = offset;
        e->ts = timestamp_ms;
        e->done = 0;
        out->slot = (uint32_t)(s - tr->slots);
        out->gen = s->gen;
        out->seq = s->tail_seq++;
        s->pending++;
        tr->pending_total++;
        s->next_offset = offset + 1;
        if (s->hole >= 0 && offset >= s->hole)
                s->hole = -1; /* consumed again (or past it) */
        return 0;
}

int kc_tracker_done(kc_tracker_t *tr, const kc_ticket_t *t)
{
        slot_t *s;
        entry_t *e;

        if (t->slot >= tr->slot_count)
                return 0;
        s = &tr->slots[t->slot];
        if (!s->topic || s->gen != t->gen || t->seq < s->head_seq ||
            t->seq >= s->tail_seq)
                return 0;
        e = &s->ring[t->seq & (s->cap - 1)];
        if (e->done)
                return 0;
        e->done = 1;
        s->pending--;
        tr->pending_total--;
        /* Advance over the finished prefix. */
        while (s->head_seq < s->tail_seq &&
               s->ring[s->head_seq & (s->cap - 1)].done)
                s->head_seq++;
        return 1;
}

static int64_t slot_committable(const slot_t *s)
{
        if (s->head_seq < s->tail_seq)
                return s->ring[s->head_seq & (s->cap - 1)].offset;
        return s->next_offset;
}

int64_t kc_tracker_committable(const kc_tracker_t *tr, const char *topic,
                               int32_t partition)
{
        const slot_t *s = find(tr, topic, partition);

        return s ? slot_committable(s) : -1;
}

size_t kc_tracker_pending(const kc_tracker_t *tr, const char *topic,
                          int32_t partition)
{
        const slot_t *s = find(tr, topic, partition);

        return s ? s->pending : 0;
}

size_t kc_tracker_pending_total(const kc_tracker_t *tr)
{
        return tr->pending_total;
}

size_t kc_tracker_count(const kc_tracker_t *tr)
{
        return tr->order_n;
}

int kc_tracker_at(const kc_tracker_t *tr, size_t i, kc_tracker_info_t *out)
{
        const slot_t *s;

        if (i >= tr->order_n)
                return -1;
        s = &tr->slots[tr->order[i]];
        out->topic = s->topic;
        out->partition = s->partition;
        out->slot = tr->order[i];
        out->committable = slot_committable(s);
        out->committed = s->committed;
        out->pending = s->pending;
        out->paused = s->paused;
        /* the head entry is the oldest unfinished one when any is */
        out->oldest_ts_ms = s->head_seq < s->tail_seq
                                    ? s->ring[s->head_seq & (s->cap - 1)].ts
                                    : -1;
        out->end_offset = s->end_offset;
        return 0;
}

int kc_tracker_skip_to(kc_tracker_t *tr, const char *topic, int32_t partition,
                       int64_t offset)
{
        slot_t *s = find(tr, topic, partition);

        if (!s || s->hole >= 0 || s->pending || offset < 0 ||
            offset <= s->next_offset)
                return 0;
        /* no entry is unfinished: the window may be emptied */
        s->head_seq = s->tail_seq;
        s->next_offset = offset;
        return 1;
}

void kc_tracker_taint(kc_tracker_t *tr, const char *topic, int32_t partition,
                      int64_t offset)
{
        slot_t *s = find(tr, topic, partition);

        if (s && (s->hole < 0 || offset < s->hole))
                s->hole = offset < 0 ? 0 : offset;
}

int kc_tracker_at_end(kc_tracker_t *tr, const char *topic, int32_t partition,
                      int64_t offset)
{
        slot_t *s = find(tr, topic, partition);

        /* A restored window (kc_tracker_restore) has consumed something:
         * its committable offset says more than an end reached. */
        if (!s || s->lost || s->next_offset >= 0 || s->hole >= 0 || offset < 0)
                return 0;
        s->end_offset = offset;
        return 1;
}

void kc_tracker_set_committed(kc_tracker_t *tr, const char *topic,
                              int32_t partition, int64_t offset)
{
        slot_t *s = find(tr, topic, partition);

        if (s)
                s->committed = offset;
}

const char *kc_tracker_slot(const kc_tracker_t *tr, uint32_t slot,
                            int32_t *partition, size_t *pending, int *paused)
{
        const slot_t *s;

        if (slot >= tr->slot_count || !tr->slots[slot].topic)
                return NULL;
        s = &tr->slots[slot];
        *partition = s->partition;
        *pending = s->pending;
        *paused = s->paused;
        return s->topic;
}

void kc_tracker_set_paused(kc_tracker_t *tr, uint32_t slot, int paused)
{
        if (slot < tr->slot_count)
                tr->slots[slot].paused = paused;
}
