/* kc_tracker: per-partition finished-offset windows; the commit rule. */
#include "kc_tracker.h"

#include <stdlib.h>
#include <string.h>

/* One consumed message in a partition window. */
typedef struct entry_s {
        int64_t offset;
        int done;
} entry_t;

/* A partition slot: a ring of entries [head_seq, tail_seq). */
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
} slot_t;

struct kc_tracker_s {
        slot_t *slots;
        size_t slot_count;
        size_t pending_total;
        size_t last_hit; /* lookup cache: partitions arrive in runs */
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
        free(tr);
}

static slot_t *find(const kc_tracker_t *tr, const char *topic,
                    int32_t partition)
{
        kc_tracker_t *mtr = (kc_tracker_t *)tr;

        if (tr->last_hit < tr->slot_count) {
                slot_t *s = &tr->slots[tr->last_hit];
                if (s->topic && s->partition == partition &&
                    !strcmp(s->topic, topic))
                        return s;
        }
        for (size_t i = 0; i < tr->slot_count; i++) {
                slot_t *s = &tr->slots[i];
                if (s->topic && s->partition == partition &&
                    !strcmp(s->topic, topic)) {
                        mtr->last_hit = i;
                        return s;
                }
        }
        return NULL;
}

/* Forget a slot's window; its generation moves on so tickets go stale. */
static void slot_clear(kc_tracker_t *tr, slot_t *s)
{
        tr->pending_total -= s->pending;
        free(s->topic);
        free(s->ring);
        s->topic = NULL;
        s->ring = NULL;
        s->cap = 0;
        s->head_seq = s->tail_seq = 0;
        s->pending = 0;
        s->paused = 0;
        s->gen++;
}

int kc_tracker_assign(kc_tracker_t *tr, const char *topic, int32_t partition)
{
        slot_t *s = find(tr, topic, partition);

        if (s)
                slot_clear(tr, s);
        else {
                for (size_t i = 0; i < tr->slot_count && !s; i++)
                        if (!tr->slots[i].topic)
                                s = &tr->slots[i];
        }
        if (!s) {
                slot_t *n =
                        realloc(tr->slots, (tr->slot_count + 1) * sizeof(*n));
                if (!n)
                        return -1;
                tr->slots = n;
                s = &tr->slots[tr->slot_count++];
                memset(s, 0, sizeof(*s));
        }
        s->topic = strdup(topic);
        if (!s->topic)
                return -1;
        s->partition = partition;
        s->next_offset = -1;
        s->committed = -1;
        return 0;
}

void kc_tracker_revoke(kc_tracker_t *tr, const char *topic, int32_t partition)
{
        slot_t *s = find(tr, topic, partition);

        if (s)
                slot_clear(tr, s);
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
                   int64_t offset, kc_ticket_t *out)
{
        slot_t *s = find(tr, topic, partition);
        entry_t *e;

        if (!s)
                return -1;
        if (s->tail_seq - s->head_seq == s->cap && grow(s) == -1)
                return -1;
        e = &s->ring[s->tail_seq & (s->cap - 1)];
        e->offset = offset;
        e->done = 0;
        out->slot = (uint32_t)(s - tr->slots);
        out->gen = s->gen;
        out->seq = s->tail_seq++;
        s->pending++;
        tr->pending_total++;
        s->next_offset = offset + 1;
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
        size_t n = 0;

        for (size_t i = 0; i < tr->slot_count; i++)
                n += tr->slots[i].topic != NULL;
        return n;
}

const char *kc_tracker_at(const kc_tracker_t *tr, size_t i, int32_t *partition,
                          int64_t *committable, int64_t *committed,
                          size_t *pending)
{
        for (size_t k = 0; k < tr->slot_count; k++) {
                const slot_t *s = &tr->slots[k];
                if (!s->topic)
                        continue;
                if (i-- > 0)
                        continue;
                *partition = s->partition;
                *committable = slot_committable(s);
                *committed = s->committed;
                *pending = s->pending;
                return s->topic;
        }
        return NULL;
}

int kc_tracker_at_paused(const kc_tracker_t *tr, size_t i)
{
        for (size_t k = 0; k < tr->slot_count; k++) {
                if (!tr->slots[k].topic)
                        continue;
                if (i-- == 0)
                        return tr->slots[k].paused;
        }
        return 0;
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
