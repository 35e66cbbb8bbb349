/* kc_tier: the retry tiers' consumer: hold a partition until its head
 * record is due, commit what finished (see kc_tier.h). */
#include "kc_tier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_kconf.h"
#include "hb_log.h"
#include "hb_rec.h"
#include "hb_time.h"
#include "kc_defer.h"
#include "kc_join.h"

/* One assigned tier partition. Records read but not handed out wait in
 * `hand`, in offset order: the head is not due yet, or the partition has
 * max_per_partition records out. Pausing makes librdkafka drop what it
 * prefetched and fetch again from after the last record read, so `next`
 * (the offset after the last record read) tells a record read twice. */
typedef struct part_s {
        char *topic;
        int32_t partition;
        int tier;
        rd_kafka_message_t **hand;
        size_t head, count, cap; /* ring buffer */
        int64_t next;            /* -1: nothing read yet */
        int paused;
} part_t;

struct kc_tier_s {
        rd_kafka_t *rk;
        int cooperative; /* the last protocol known (hb_kconf_cooperative) */
        rd_kafka_queue_t *queue;
        kc_tracker_t *tracker;
        char **topics;
        size_t ntopics;
        part_t *parts;
        size_t nparts, capparts;
        size_t max_per_partition;
        int commit_interval_ms;
        int64_t next_commit_ms;
        uint64_t joins;
        kc_join_t join; /* async commits wait while a join is under way */
        kc_tier_revoke_cb_t *revoke_cb;
        void *revoke_opaque;
        kc_defer_t revoke; /* revokes the caller completes (kc_defer) */
};

static int tier_of(const kc_tier_t *t, const char *topic)
{
        for (size_t i = 0; i < t->ntopics; i++)
                if (!strcmp(t->topics[i], topic))
                        return (int)i;
        return -1;
}

static part_t *find(kc_tier_t *t, const char *topic, int32_t partition)
{
        for (size_t i = 0; i < t->nparts; i++)
                if (t->parts[i].partition == partition &&
                    !strcmp(t->parts[i].topic, topic))
                        return &t->parts[i];
        return NULL;
}

static void set_paused(kc_tier_t *t, part_t *p, int pause)
{
        rd_kafka_topic_partition_list_t *l;

        if (p->paused == pause)
                return;
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
        if (pause)
                rd_kafka_pause_partitions(t->rk, l);
        else
                rd_kafka_resume_partitions(t->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        p->paused = pause;
}

/* Keep \p m in hand. @returns 0, or -1 on out-of-memory. */
static int hand_push(part_t *p, rd_kafka_message_t *m)
{
        if (p->count == p->cap) {
                size_t cap = p->cap ? p->cap * 2 : 8;
                rd_kafka_message_t **nh = malloc(cap * sizeof(*nh));
                if (!nh)
                        return -1;
                for (size_t i = 0; i < p->count; i++)
                        nh[i] = p->hand[(p->head + i) % p->cap];
                free(p->hand);
                p->hand = nh;
                p->head = 0;
                p->cap = cap;
        }
        p->hand[(p->head + p->count) % p->cap] = m;
        p->count++;
        return 0;
}

static rd_kafka_message_t *hand_peek(const part_t *p)
{
        return p->count ? p->hand[p->head] : NULL;
}

static rd_kafka_message_t *hand_pop(part_t *p)
{
        rd_kafka_message_t *m = hand_peek(p);

        if (m) {
                p->head = (p->head + 1) % p->cap;
                p->count--;
        }
        return m;
}

static void part_drop(kc_tier_t *t, size_t i)
{
        part_t *p = &t->parts[i];
        rd_kafka_message_t *m;

        while ((m = hand_pop(p)))
                rd_kafka_message_destroy(m);
        free(p->hand);
        free(p->topic);
        t->parts[i] = t->parts[--t->nparts];
}

/* A record's due time; one without a readable one is due at once (the
 * caller decides what it is). */
static int64_t due_of(const rd_kafka_message_t *m)
{
        int64_t due = hb_rec_due_ms(m);

        return due < 0 ? 0 : due;
}

/*
 * Commits (the rule of kc_consumer: only the finished prefix).
 */

static int commit_moved(kc_tier_t *t,
                        const rd_kafka_topic_partition_list_t *only, int async)
{
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(8);
        size_t n = kc_tracker_count(t->tracker);
        rd_kafka_resp_err_t err;
        int rc = 0;

        /* A commit sent during a join carries the old generation and is
         * refused, and librdkafka 2.0.2 then declares the whole
         * assignment lost (#4059): the tier records in hand and in
         * flight are read again by their next owner and sent twice. The
         * next tick after the join sends it; the synchronous ones
         * (revoke, shutdown) run where the generation is current. */
        if (async && kc_join_busy(&t->join)) {
                rd_kafka_topic_partition_list_destroy(l);
                return 0;
        }
        for (size_t i = 0; i < n; i++) {
                kc_tracker_info_t in;
                if (kc_tracker_at(t->tracker, i, &in) == -1)
                        break;
                if (in.committable < 0 || in.committable == in.committed)
                        continue;
                if (only && !rd_kafka_topic_partition_list_find(only, in.topic,
                                                                in.partition))
                        continue;
                rd_kafka_topic_partition_list_add(l, in.topic, in.partition)
                        ->offset = in.committable;
        }
        if (l->cnt == 0)
                goto out;
        for (int i = 0; i < l->cnt; i++)
                kc_tracker_set_committed(t->tracker, l->elems[i].topic,
                                         l->elems[i].partition,
                                         l->elems[i].offset);
        err = rd_kafka_commit(t->rk, l, async);
        if (err) {
                hb_log(HB_LOG_WARN, "tier commit failed", "error=\"%s\"",
                       rd_kafka_err2str(err));
                for (int i = 0; i < l->cnt; i++)
                        kc_tracker_set_committed(t->tracker, l->elems[i].topic,
                                                 l->elems[i].partition, -1);
                rc = -1;
        }
out:
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
}

static void offset_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *offsets,
                             void *opaque)
{
        kc_tier_t *t = opaque;

        (void)rk;
        if (!err || err == RD_KAFKA_RESP_ERR__NO_OFFSET)
                return;
        hb_log(HB_LOG_WARN, "tier commit failed; will retry", "error=\"%s\"",
               rd_kafka_err2str(err));
        for (int i = 0; offsets && i < offsets->cnt; i++)
                kc_tracker_set_committed(t->tracker, offsets->elems[i].topic,
                                         offsets->elems[i].partition, -1);
}

/* Let \p parts go: what finished of them committed (unless \p lost: the
 * group moved on), the caller told first (revoke_cb), what is in hand
 * dropped. */
static void revoke_now(kc_tier_t *t, rd_kafka_topic_partition_list_t *parts,
                       int lost)
{
        rd_kafka_error_t *error = NULL;

        if (t->revoke_cb)
                t->revoke_cb(parts, t->revoke_opaque);
        if (!lost)
                commit_moved(t, parts, 0);
        for (int i = 0; i < parts->cnt; i++) {
                rd_kafka_topic_partition_t *e = &parts->elems[i];
                size_t pend =
                        kc_tracker_pending(t->tracker, e->topic, e->partition);
                for (size_t j = 0; j < t->nparts; j++)
                        if (t->parts[j].partition == e->partition &&
                            !strcmp(t->parts[j].topic, e->topic)) {
                                part_drop(t, j);
                                break;
                        }
                kc_tracker_revoke(t->tracker, e->topic, e->partition);
                hb_log(HB_LOG_INFO,
                       lost ? "tier partition lost" : "tier partition revoked",
                       "topic=%s partition=%d abandoned=%zu", e->topic,
                       (int)e->partition, pend);
        }
        if (hb_kconf_cooperative(t->rk, &t->cooperative))
                error = rd_kafka_incremental_unassign(t->rk, parts);
        else
                rd_kafka_assign(t->rk, NULL);
        if (error) {
                hb_log(HB_LOG_ERR, "tier rebalance failed", "error=\"%s\"",
                       rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
        kc_tier_t *t = opaque;
        int coop = hb_kconf_cooperative(rk, &t->cooperative);
        rd_kafka_error_t *error = NULL;

        t->joins++;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                for (int i = 0; i < parts->cnt; i++) {
                        rd_kafka_topic_partition_t *e = &parts->elems[i];
                        part_t *p;
                        if (find(t, e->topic, e->partition))
                                continue;
                        if (t->nparts == t->capparts) {
                                size_t cap = t->capparts ? t->capparts * 2 : 8;
                                part_t *np =
                                        realloc(t->parts, cap * sizeof(*np));
                                if (!np)
                                        continue;
                                t->parts = np;
                                t->capparts = cap;
                        }
                        p = &t->parts[t->nparts];
                        memset(p, 0, sizeof(*p));
                        p->topic = strdup(e->topic);
                        if (!p->topic ||
                            kc_tracker_assign(t->tracker, e->topic,
                                              e->partition) == -1) {
                                free(p->topic);
                                hb_log(HB_LOG_ERR, "out of memory", "topic=%s",
                                       e->topic);
                                continue;
                        }
                        p->partition = e->partition;
                        p->tier = tier_of(t, e->topic);
                        p->next = -1;
                        t->nparts++;
                        hb_log(HB_LOG_INFO, "tier partition assigned",
                               "topic=%s partition=%d", e->topic,
                               (int)e->partition);
                }
                if (coop)
                        error = rd_kafka_incremental_assign(rk, parts);
                else
                        rd_kafka_assign(rk, parts);
                /* a partition paused before a revoke comes back paused */
                rd_kafka_resume_partitions(rk, parts);
        } else {
                int lost = rd_kafka_assignment_lost(rk);
                /* The caller lets the revoked partitions' records out
                 * finish (kc_tier_revoke_finish()); acting on them once
                 * the next owner reads them too would repeat their
                 * outcome (issue 11: a dead letter written twice). */
                if (!lost && kc_defer_take(&t->revoke, parts))
                        return;
                revoke_now(t, parts, lost);
        }
        if (error) {
                hb_log(HB_LOG_ERR, "tier rebalance failed", "error=\"%s\"",
                       rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
}

/* librdkafka's lines, the join state changes followed (kc_join). */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
        kc_tier_t *t = rd_kafka_opaque(rk);

        if (kc_join_log(t ? &t->join : NULL, level, fac, buf))
                hb_kconf_log_cb(rk, level, fac, buf);
}

/*
 * Life cycle.
 */

kc_tier_t *kc_tier_new(const cfg_t *cfg, const char *group_id,
                       const char *const *topics, size_t n,
                       size_t max_per_partition, int wake_fd, char *errstr,
                       size_t errstr_size)
{
        const cfg_kafka_t *k = cfg_kafka(cfg);
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        kc_tier_t *t = calloc(1, sizeof(*t));
        rd_kafka_topic_partition_list_t *sub = NULL;
        rd_kafka_resp_err_t err;
        char why[512];
        static const hb_kconf_kv_t defaults[] = {
                {"client.id", "hookbridge-tiers"},
                {"fetch.wait.max.ms", "100"},
                /* records wait for hours: little prefetch is needed */
                {"queued.max.messages.kbytes", "1024"},
        };
        const hb_kconf_kv_t fixed[] = {
                {"enable.auto.commit", "false"},
                {"enable.auto.offset.store", "false"},
                {"enable.partition.eof", "false"},
                {"partition.assignment.strategy", "cooperative-sticky"},
                {"bootstrap.servers", k->brokers},
                {"group.id", group_id},
                {"auto.offset.reset", "earliest"},
        };
        const hb_kconf_set_t set = {defaults,
                                    sizeof(defaults) / sizeof(defaults[0]),
                                    fixed, sizeof(fixed) / sizeof(fixed[0])};

        if (!t || !conf || !(t->tracker = kc_tracker_new()) ||
            !(t->topics = calloc(n ? n : 1, sizeof(*t->topics))))
                goto oom;
        for (size_t i = 0; i < n; i++) {
                t->topics[i] = strdup(topics[i]);
                if (!t->topics[i])
                        goto oom;
                t->ntopics++;
        }
        t->max_per_partition = max_per_partition ? max_per_partition : 1;
        t->commit_interval_ms = k->commit_interval_ms;
        if (hb_kconf_apply(conf, &set, k->prop_names, k->prop_values,
                           k->prop_count, errstr, errstr_size) == -1 ||
            kc_join_debug_conf(conf, errstr, errstr_size) == -1)
                goto err;
        rd_kafka_conf_set_opaque(conf, t);
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
        rd_kafka_conf_set_offset_commit_cb(conf, offset_commit_cb);
        rd_kafka_conf_set_log_cb(conf, log_cb);
        t->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
        if (!t->rk) {
                snprintf(errstr, errstr_size, "tier consumer: %s", why);
                goto err;
        }
        /* @remark rd_kafka_new() took ownership of conf. */
        conf = NULL;
        rd_kafka_poll_set_consumer(t->rk);
        t->queue = rd_kafka_queue_get_consumer(t->rk);
        if (wake_fd >= 0)
                rd_kafka_queue_io_event_enable(t->queue, wake_fd, "t", 1);
        sub = rd_kafka_topic_partition_list_new((int)n);
        for (size_t i = 0; i < n; i++)
                rd_kafka_topic_partition_list_add(sub, topics[i],
                                                  RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(t->rk, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        if (err) {
                snprintf(errstr, errstr_size, "tier consumer: subscribe: %s",
                         rd_kafka_err2str(err));
                goto err;
        }
        return t;
oom:
        snprintf(errstr, errstr_size, "out of memory");
err:
        if (conf)
                rd_kafka_conf_destroy(conf);
        if (t && t->rk) {
                /* destroy without the join dance: nothing was assigned */
                if (t->queue)
                        rd_kafka_queue_destroy(t->queue);
                rd_kafka_destroy(t->rk);
                t->rk = NULL;
        }
        if (t) {
                for (size_t i = 0; i < t->ntopics; i++)
                        free(t->topics[i]);
                free(t->topics);
                kc_tracker_destroy(t->tracker);
                free(t);
        }
        return NULL;
}

/* Hand out \p m of \p p. @returns m, or NULL when it is not ours. */
static rd_kafka_message_t *hand_out(kc_tier_t *t, part_t *p,
                                    rd_kafka_message_t *m, kc_ticket_t *ticket,
                                    int *tier)
{
        if (kc_tracker_add(t->tracker, p->topic, p->partition, m->offset, -1,
                           ticket) == -1) {
                rd_kafka_message_destroy(m);
                return NULL;
        }
        *tier = p->tier;
        return m;
}

/* May \p p hand out its next record at \p now? */
static int can_go(const kc_tier_t *t, const part_t *p,
                  const rd_kafka_message_t *m, int64_t now)
{
        return due_of(m) <= now &&
               kc_tracker_pending(t->tracker, p->topic, p->partition) <
                       t->max_per_partition;
}

rd_kafka_message_t *kc_tier_poll(kc_tier_t *t, int64_t now_ms,
                                 kc_ticket_t *ticket, int *tier)
{
        rd_kafka_message_t *m;

        /* Records in hand first: they are older than anything fetched. */
        for (size_t i = 0; i < t->nparts; i++) {
                part_t *p = &t->parts[i];
                m = hand_peek(p);
                if (!m || !can_go(t, p, m, now_ms) ||
                    kc_defer_has(&t->revoke, p->topic, p->partition))
                        continue;
                hand_pop(p);
                if (!p->count)
                        set_paused(t, p, 0);
                m = hand_out(t, p, m, ticket, tier);
                if (m)
                        return m;
        }
        for (;;) {
                part_t *p;
                m = rd_kafka_consumer_poll(t->rk, 0);
                if (!m)
                        return NULL;
                if (m->err) {
                        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                hb_log(HB_LOG_WARN, "tier consumer error",
                                       "topic=%s partition=%d error=\"%s\"",
                                       m->rkt ? rd_kafka_topic_name(m->rkt)
                                              : "-",
                                       (int)m->partition,
                                       rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                        continue;
                }
                p = find(t, rd_kafka_topic_name(m->rkt), m->partition);
                if (!p || (p->next >= 0 && m->offset < p->next) ||
                    kc_defer_has(&t->revoke, p->topic, p->partition)) {
                        /* not ours any more (or being revoked: the next
                         * owner reads it), or read again after a pause:
                         * the copy in hand (or handed out) is the one */
                        rd_kafka_message_destroy(m);
                        continue;
                }
                p->next = m->offset + 1;
                if (!p->count && can_go(t, p, m, now_ms)) {
                        m = hand_out(t, p, m, ticket, tier);
                        if (m)
                                return m;
                        continue;
                }
                if (hand_push(p, m) == -1) {
                        /* read again after a resume: next goes back */
                        hb_log(HB_LOG_ERR, "out of memory", "topic=%s",
                               p->topic);
                        rd_kafka_message_destroy(m);
                        p->next = -1;
                }
                set_paused(t, p, 1);
        }
}

void kc_tier_done(kc_tier_t *t, const kc_ticket_t *ticket)
{
        kc_tracker_done(t->tracker, ticket);
}

int kc_tier_owns(const kc_tier_t *t, const kc_ticket_t *ticket)
{
        return kc_tracker_current(t->tracker, ticket);
}

int64_t kc_tier_next_due(const kc_tier_t *t)
{
        int64_t best = -1;

        for (size_t i = 0; i < t->nparts; i++) {
                const rd_kafka_message_t *m = hand_peek(&t->parts[i]);
                int64_t due;
                if (!m)
                        continue;
                due = due_of(m);
                if (best < 0 || due < best)
                        best = due;
        }
        return best;
}

void kc_tier_tick(kc_tier_t *t)
{
        int64_t now = hb_time_mono_ms();

        if (now < t->next_commit_ms)
                return;
        t->next_commit_ms = now + t->commit_interval_ms;
        commit_moved(t, NULL, 1);
}

int kc_tier_commit_sync(kc_tier_t *t)
{
        return commit_moved(t, NULL, 0);
}

void kc_tier_set_revoke_cb(kc_tier_t *t, kc_tier_revoke_cb_t *cb, void *opaque)
{
        t->revoke_cb = cb;
        t->revoke_opaque = opaque;
}

void kc_tier_defer_revokes(kc_tier_t *t, int on)
{
        t->revoke.on = on;
}

size_t kc_tier_revoke_pending(const kc_tier_t *t)
{
        return kc_defer_pending(&t->revoke);
}

int kc_tier_revoking(const kc_tier_t *t, const char *topic, int32_t partition)
{
        return kc_defer_has(&t->revoke, topic, partition);
}

void kc_tier_revoke_finish(kc_tier_t *t)
{
        rd_kafka_topic_partition_list_t *parts = kc_defer_release(&t->revoke);

        if (!parts)
                return;
        revoke_now(t, parts, 0);
        rd_kafka_topic_partition_list_destroy(parts);
}

size_t kc_tier_partitions(kc_tier_t *t, kc_tier_info_t *out, size_t max)
{
        for (size_t i = 0; i < t->nparts && i < max; i++) {
                part_t *p = &t->parts[i];
                kc_tier_info_t *o = &out[i];
                int64_t lo = -1, hi = -1, committable = -1, committed = -1;
                int64_t pos;
                size_t pend = 0;
                const rd_kafka_message_t *m = hand_peek(p);
                for (size_t j = 0; j < kc_tracker_count(t->tracker); j++) {
                        kc_tracker_info_t in;
                        if (kc_tracker_at(t->tracker, j, &in) == -1)
                                break;
                        if (in.partition == p->partition &&
                            !strcmp(in.topic, p->topic)) {
                                committable = in.committable;
                                committed = in.committed;
                                pend = in.pending;
                                break;
                        }
                }
                o->topic = p->topic;
                o->tier = p->tier;
                o->partition = p->partition;
                o->in_flight = pend;
                o->in_hand = p->count;
                o->head_due_ms = m ? due_of(m) : -1;
                if (rd_kafka_get_watermark_offsets(t->rk, p->topic,
                                                   p->partition, &lo, &hi))
                        hi = -1;
                pos = committed >= 0 ? committed : committable;
                if (pos < 0 && p->next >= 0)
                        pos = p->next - (int64_t)p->count - (int64_t)pend;
                /* Nothing read since the assignment: the fetch starts at
                 * the group's committed offset, which this member has
                 * not learnt. The log start is not it: a partition
                 * drained before a restart or a rebalance would count
                 * every record it ever held, for as long as no new one
                 * comes (issue 11). A record waiting there is read
                 * within a fetch and counted from then on. */
                o->waiting = hi >= 0 && pos >= 0 && hi > pos ? hi - pos : 0;
        }
        return t->nparts;
}

size_t kc_tier_pending(const kc_tier_t *t)
{
        return kc_tracker_pending_total(t->tracker);
}

void kc_tier_destroy(kc_tier_t *t)
{
        rd_kafka_resp_err_t err;

        if (!t)
                return;
        /* From here on revokes (those of the close below) act at once. */
        t->revoke.on = 0;
        kc_tier_revoke_finish(t);
        kc_tier_commit_sync(t);
        if (t->joins == 0) {
                /* librdkafka 2.0.2's sticky assignor asserts when a
                 * consumer closes before its first join completed (see
                 * kc_consumer_destroy()): let it finish, bounded. */
                int64_t deadline = hb_time_mono_ms() + 10000;
                while (t->joins == 0 && hb_time_mono_ms() < deadline) {
                        rd_kafka_message_t *m =
                                rd_kafka_consumer_poll(t->rk, 100);
                        if (m)
                                rd_kafka_message_destroy(m);
                }
        }
        while (t->nparts)
                part_drop(t, 0);
        err = rd_kafka_consumer_close(t->rk);
        if (err)
                hb_log(HB_LOG_WARN, "tier consumer close", "error=\"%s\"",
                       rd_kafka_err2str(err));
        while (t->nparts)
                part_drop(t, 0);
        rd_kafka_queue_destroy(t->queue);
        rd_kafka_destroy(t->rk);
        for (size_t i = 0; i < t->ntopics; i++)
                free(t->topics[i]);
        free(t->topics);
        kc_tracker_destroy(t->tracker);
        free(t->parts);
        free(t);
}
