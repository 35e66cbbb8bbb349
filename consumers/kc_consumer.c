/* kc_consumer: the Kafka side: group membership, fetching, flow control
 * and committing only what is finished. */
#include "kc_consumer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hb_kconf.h"
#include "hb_log.h"
#include "hb_time.h"
#include "kc_defer.h"
#include "kc_join.h"

/* A replay range: where to stop, and whether the log got there. */
typedef struct range_s {
        char *topic;
        int32_t partition;
        int64_t end;
        int reached; /* consumed up to end (or the range was empty) */
} range_t;

struct kc_consumer_s {
        rd_kafka_t *rk;
        rd_kafka_queue_t *queue; /* the consumer queue (io events on) */
        kc_tracker_t *tracker;
        int commit_interval_ms;
        size_t max_in_flight;
        size_t max_per_partition;
        int64_t next_commit_ms;
        int all_paused; /* every partition paused: total limit reached */
        /* When the total limit was reached (0: not reached). For a short
         * while the consumer simply stops taking messages, which lets
         * librdkafka's own prefetch limit hold fetching back; pausing
         * (which drops and refetches what was prefetched) comes only when
         * the limit holds longer than CAPPED_MS. */
        int64_t capped_since;
        kc_stats_t stats;
        /* ranges mode (replay): no group; progress to a callback */
        range_t *ranges;
        size_t range_count;
        kc_progress_cb_t *progress_cb;
        void *progress_opaque;
        kc_defer_t revoke; /* revokes the caller completes (kc_defer) */
        int cooperative;   /* the last protocol known (hb_kconf_cooperative) */
        /* broker reachability, from librdkafka's error callback */
        volatile int brokers_down;
        /* The group's join state, from librdkafka's cgrp debug lines
         * (consumer_log_cb, on librdkafka's threads) */
        kc_join_t join;
        int64_t next_probe_ms; /* brokers down: when to ask again */
        /* The consumer is served at least every KEEPALIVE_MS whatever
         * HTTP does (kc_consumer_keepalive): when it last was, and
         * whether every partition is paused for it (held). */
        int64_t last_poll_ms;
        int held;
};

/* Pause or resume one partition; keeps the paused count. */
static void set_paused(kc_consumer_t *c, const char *topic, int32_t part,
                       int pause)
{
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(1);

        rd_kafka_topic_partition_list_add(l, topic, part);
        if (pause)
                rd_kafka_pause_partitions(c->rk, l);
        else
                rd_kafka_resume_partitions(c->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
}

/* Pause/resume every assigned partition (the total in-flight limit). */
static void set_all_paused(kc_consumer_t *c, int pause)
{
        rd_kafka_topic_partition_list_t *l = NULL;

        if (rd_kafka_assignment(c->rk, &l) || !l)
                return;
        if (pause) {
                rd_kafka_pause_partitions(c->rk, l);
        } else {
                /* Partitions paused for their own limit stay paused. */
                kc_tracker_info_t in;
                for (size_t i = 0; kc_tracker_at(c->tracker, i, &in) == 0; i++)
                        if (!in.paused)
                                set_paused(c, in.topic, in.partition, 0);
        }
        rd_kafka_topic_partition_list_destroy(l);
        c->all_paused = pause;
}

/* How long an assignment waits to learn the committed offsets of the
 * partitions it gives back after a lost assignment (on_assign). */
#define LOST_QUERY_MS 5000

/* A message librdkafka handed out that is not tracked: until it (or a
 * later one) is consumed again, its partition's position does not tell
 * what is finished (skip_markers). */
static void untracked(kc_consumer_t *c, const rd_kafka_message_t *m)
{
        if (!m->err && m->rkt)
                kc_tracker_taint(c->tracker, rd_kafka_topic_name(m->rkt),
                                 m->partition, m->offset);
}

static void drop_untracked(kc_consumer_t *c, rd_kafka_message_t *m)
{
        untracked(c, m);
        rd_kafka_message_destroy(m);
}

/* Move the finished prefix of the partitions of \p only (NULL: all) past
 * offsets that carry no message: a transactional producer's commit and
 * abort markers (and the aborted records before an abort marker) are
 * never handed out, so without this the commit stays one short of the
 * log end for ever. The consumer's position is the offset after the last
 * record served, markers included; a partition with nothing unfinished
 * whose position lies past what it consumed finished everything before
 * that position. */
static void skip_markers(kc_consumer_t *c,
                         const rd_kafka_topic_partition_list_t *only)
{
        rd_kafka_topic_partition_list_t *l;
        kc_tracker_info_t in;

        if (c->ranges)
                return; /* a replay stops at its ranges' ends */
        l = rd_kafka_topic_partition_list_new(8);
        for (size_t i = 0; kc_tracker_at(c->tracker, i, &in) == 0; i++) {
                if (in.pending)
                        continue;
                if (only && !rd_kafka_topic_partition_list_find(only, in.topic,
                                                                in.partition))
                        continue;
                rd_kafka_topic_partition_list_add(l, in.topic, in.partition);
        }
        if (l->cnt && !rd_kafka_position(c->rk, l))
                for (int i = 0; i < l->cnt; i++)
                        if (!l->elems[i].err && l->elems[i].offset >= 0)
                                kc_tracker_skip_to(c->tracker,
                                                   l->elems[i].topic,
                                                   l->elems[i].partition,
                                                   l->elems[i].offset);
        rd_kafka_topic_partition_list_destroy(l);
}

/* librdkafka's log lines; the join state changes are followed (kc_join):
 * an offset commit sent during a join carries the old generation, the
 * join's answer makes it "Specified group generation id is not valid",
 * and librdkafka 2.0.2 then declares the whole assignment lost (#4059),
 * partitions that stay with this member included: they are fetched again
 * from the last commit. */
static void consumer_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                            const char *buf)
{
        kc_consumer_t *c = rd_kafka_opaque(rk);

        if (kc_join_log(c ? &c->join : NULL, level, fac, buf))
                hb_kconf_log_cb(rk, level, fac, buf);
}

/* Commit the partitions of \p only (NULL: all) whose finished prefix
 * moved. Marks them committed first; a failed commit un-marks them. */
static int commit_moved(kc_consumer_t *c,
                        const rd_kafka_topic_partition_list_t *only, int async)
{
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_resp_err_t err;
        kc_tracker_info_t in;
        int rc = 0;

        /* A commit sent now would race the join (and lose the whole
         * assignment): the next tick after it sends it. The synchronous
         * ones (revoke, shutdown) run where the generation is current. */
        if (async && !c->ranges && kc_join_busy(&c->join))
                return 0;
        skip_markers(c, only);
        l = rd_kafka_topic_partition_list_new(8);
        for (size_t i = 0; kc_tracker_at(c->tracker, i, &in) == 0; i++) {
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
                kc_tracker_set_committed(c->tracker, l->elems[i].topic,
                                         l->elems[i].partition,
                                         l->elems[i].offset);
        if (c->ranges) {
                /* Replays never touch the group: progress goes out. */
                for (int i = 0; i < l->cnt; i++)
                        if (c->progress_cb)
                                c->progress_cb(l->elems[i].topic,
                                               l->elems[i].partition,
                                               l->elems[i].offset,
                                               c->progress_opaque);
                goto out;
        }
        err = rd_kafka_commit(c->rk, l, async);
        if (!async) {
                /* A synchronous commit also reports through the commit
                 * callback when one is set; count it here only on
                 * failure paths that callback cannot see. */
                if (err) {
                        hb_log(HB_LOG_WARN, "commit failed",
                               "error=\"%s\" partitions=%d",
                               rd_kafka_err2str(err), l->cnt);
                        rc = -1;
                }
        } else if (err) {
                hb_log(HB_LOG_WARN, "commit not sent", "error=\"%s\"",
                       rd_kafka_err2str(err));
                rc = -1;
        }
        if (rc == -1) {
                for (int i = 0; i < l->cnt; i++)
                        kc_tracker_set_committed(c->tracker, l->elems[i].topic,
                                                 l->elems[i].partition, -1);
                c->stats.commit_errors++;
        }
out:
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
}

static void offset_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *offsets,
                             void *opaque)
{
        kc_consumer_t *c = opaque;

        (void)rk;
        if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
                return;
        if (!err) {
                c->stats.commits++;
                c->brokers_down = 0; /* a broker answered */
                for (int i = 0; offsets && i < offsets->cnt; i++)
                        hb_log(HB_LOG_DEBUG, "committed",
                               "topic=%s partition=%d offset=%lld",
                               offsets->elems[i].topic,
                               (int)offsets->elems[i].partition,
                               (long long)offsets->elems[i].offset);
                return;
        }
        c->stats.commit_errors++;
        hb_log(HB_LOG_WARN, "commit failed; will retry", "error=\"%s\"",
               rd_kafka_err2str(err));
        /* Un-mark so the next tick commits these offsets again. */
        for (int i = 0; offsets && i < offsets->cnt; i++)
                kc_tracker_set_committed(c->tracker, offsets->elems[i].topic,
                                         offsets->elems[i].partition, -1);
}

/* The group's committed offsets of the partitions of \p parts whose
 * window was kept when their assignment was lost; NULL when none was (or
 * the question failed: those are then tracked afresh). */
static rd_kafka_topic_partition_list_t *
lost_committed(kc_consumer_t *c, const rd_kafka_topic_partition_list_t *parts)
{
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(parts->cnt);
        rd_kafka_resp_err_t err;

        for (int i = 0; i < parts->cnt; i++)
                if (kc_tracker_is_lost(c->tracker, parts->elems[i].topic,
                                       parts->elems[i].partition))
                        rd_kafka_topic_partition_list_add(
                                l, parts->elems[i].topic,
                                parts->elems[i].partition);
        if (l->cnt == 0) {
                rd_kafka_topic_partition_list_destroy(l);
                return NULL;
        }
        err = rd_kafka_committed(c->rk, l, LOST_QUERY_MS);
        if (err) {
                hb_log(HB_LOG_WARN,
                       "cannot read the committed offsets of partitions "
                       "given back; tracking them afresh",
                       "error=\"%s\" partitions=%d", rd_kafka_err2str(err),
                       l->cnt);
                rd_kafka_topic_partition_list_destroy(l);
                return NULL;
        }
        return l;
}

/* Track \p parts. A partition given back after its assignment was lost
 * (librdkafka 2.0.2 declares everything lost when a commit meets a
 * rebalance's new generation, #4059), with nobody having committed past
 * what this worker finished, takes up its kept window and fetches on
 * from after what it consumed (its offset in \p parts is set): its
 * in-flight work carries on and nothing is delivered twice. */
static void on_assign(kc_consumer_t *c, rd_kafka_topic_partition_list_t *parts)
{
        rd_kafka_topic_partition_list_t *held = lost_committed(c, parts);

        for (int i = 0; i < parts->cnt; i++) {
                rd_kafka_topic_partition_t *p = &parts->elems[i];
                rd_kafka_topic_partition_t *h =
                        held ? rd_kafka_topic_partition_list_find(
                                       held, p->topic, p->partition)
                             : NULL;
                int64_t committed =
                        h && !h->err && h->offset >= 0 ? h->offset : -1;
                int64_t resume = -1;
                int rc;

                if (h && !h->err)
                        rc = kc_tracker_restore(c->tracker, p->topic,
                                                p->partition, committed,
                                                &resume);
                else
                        rc = kc_tracker_assign(c->tracker, p->topic,
                                               p->partition);
                if (rc == -1)
                        hb_log(HB_LOG_ERR, "out of memory", "topic=%s",
                               p->topic);
                if (rc == 1 && resume >= 0) {
                        p->offset = resume;
                        hb_log(HB_LOG_INFO, "partition assigned",
                               "topic=%s partition=%d resumed=%lld "
                               "committed=%lld",
                               p->topic, (int)p->partition, (long long)resume,
                               (long long)committed);
                        continue;
                }
                hb_log(HB_LOG_INFO, "partition assigned",
                       "topic=%s partition=%d", p->topic, (int)p->partition);
        }
        if (held)
                rd_kafka_topic_partition_list_destroy(held);
}

/* Commit what finished of \p parts and forget them; a lost assignment
 * commits nothing (the group moved on) and keeps the windows aside in
 * case the group gives them back (on_assign). */
static void on_revoke(kc_consumer_t *c, rd_kafka_topic_partition_list_t *parts,
                      int lost)
{
        if (!lost)
                commit_moved(c, parts, 0);
        for (int i = 0; i < parts->cnt; i++) {
                rd_kafka_topic_partition_t *p = &parts->elems[i];
                size_t pend =
                        kc_tracker_pending(c->tracker, p->topic, p->partition);
                if (lost) {
                        kc_tracker_lose(c->tracker, p->topic, p->partition);
                        hb_log(HB_LOG_INFO, "partition lost",
                               "topic=%s partition=%d in_flight=%zu", p->topic,
                               (int)p->partition, pend);
                        continue;
                }
                kc_tracker_revoke(c->tracker, p->topic, p->partition);
                hb_log(HB_LOG_INFO, "partition revoked",
                       "topic=%s partition=%d abandoned=%zu", p->topic,
                       (int)p->partition, pend);
        }
}

/* Hand revoked partitions back to the group. */
static void unassign(kc_consumer_t *c, rd_kafka_topic_partition_list_t *parts)
{
        rd_kafka_error_t *error = NULL;
        rd_kafka_resp_err_t aerr = 0;

        if (hb_kconf_cooperative(c->rk, &c->cooperative))
                error = rd_kafka_incremental_unassign(c->rk, parts);
        else
                aerr = rd_kafka_assign(c->rk, NULL);
        if (error) {
                hb_log(HB_LOG_ERR, "rebalance failed", "error=\"%s\"",
                       rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        } else if (aerr) {
                hb_log(HB_LOG_ERR, "rebalance failed", "error=\"%s\"",
                       rd_kafka_err2str(aerr));
        }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
        kc_consumer_t *c = opaque;
        /* not known yet when a member is closed before its first join
         * completed: eager (assign) then, which a protocol of NONE
         * takes */
        int coop = hb_kconf_cooperative(rk, &c->cooperative);
        rd_kafka_error_t *error = NULL;
        rd_kafka_resp_err_t aerr = 0;
        int lost;

        c->stats.rebalances++;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                c->brokers_down = 0; /* the coordinator answered */
                on_assign(c, parts);
                if (coop)
                        error = rd_kafka_incremental_assign(rk, parts);
                else
                        aerr = rd_kafka_assign(rk, parts);
                /* librdkafka keeps a partition's pause flag across revoke
                 * and assign: one we paused before it was revoked would
                 * come back paused, with a fresh (unpaused) tracker slot,
                 * and never be resumed. */
                if (!error && !aerr)
                        rd_kafka_resume_partitions(rk, parts);
                if (error) {
                        hb_log(HB_LOG_ERR, "rebalance failed", "error=\"%s\"",
                               rd_kafka_error_string(error));
                        rd_kafka_error_destroy(error);
                } else if (aerr) {
                        hb_log(HB_LOG_ERR, "rebalance failed", "error=\"%s\"",
                               rd_kafka_err2str(aerr));
                }
        } else {
                lost = rd_kafka_assignment_lost(rk);
                /* The caller lets these partitions' in-flight work finish,
                 * then kc_consumer_revoke_finish() commits and
                 * unassigns (librdkafka waits for that call). */
                if (!lost && kc_defer_take(&c->revoke, parts))
                        return;
                on_revoke(c, parts, lost);
                unassign(c, parts);
        }
        /* Partitions kept across a cooperative rebalance stay paused in
         * librdkafka: resume them (the next poll re-applies the total
         * limit) rather than forget that they were paused. */
        if (c->all_paused)
                set_all_paused(c, 0);
}

void kc_consumer_defer_revokes(kc_consumer_t *c, int on)
{
        c->revoke.on = on;
}

size_t kc_consumer_revoke_pending(const kc_consumer_t *c)
{
        return kc_defer_pending(&c->revoke);
}

int kc_consumer_revoking(const kc_consumer_t *c, const char *topic,
                         int32_t partition)
{
        return kc_defer_has(&c->revoke, topic, partition);
}

void kc_consumer_revoke_finish(kc_consumer_t *c)
{
        rd_kafka_topic_partition_list_t *parts = kc_defer_release(&c->revoke);

        if (!parts)
                return;
        on_revoke(c, parts, 0);
        unassign(c, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        if (c->all_paused)
                set_all_paused(c, 0);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
        kc_consumer_t *c = opaque;

        (void)rk;
        if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
                c->brokers_down = 1;
        hb_log(err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ? HB_LOG_ERR
                                                          : HB_LOG_WARN,
               "kafka error", "error=%s detail=\"%s\"", rd_kafka_err2name(err),
               reason);
}

/* The handle and its settings, shared by the group and ranges modes. */
static kc_consumer_t *consumer_create(const cfg_t *cfg, const char *group_id,
                                      int wake_fd, char *errstr,
                                      size_t errstr_size)
{
        const cfg_kafka_t *k = cfg_kafka(cfg);
        const cfg_delivery_t *d = cfg_delivery(cfg);
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        kc_consumer_t *c = calloc(1, sizeof(*c));
        char why[512];
        /* What kafka.properties may change ... */
        static const hb_kconf_kv_t defaults[] = {
                {"client.id", "hookbridge"},
                {"fetch.wait.max.ms", "50"},
                /* Prefetch. librdkafka before 2.2 stops fetching for the
                 * rest of a second once this much is queued (#2879; 2.2
                 * made it fetch.queue.backoff.ms): the queue must hold a
                 * second of intake or the loop waits for it. A plain
                 * consumer able to take 100k events/s (bench-kafka-read
                 * --work-us 10) gets 25-27k/s of 450-byte events with
                 * 8 MB, waiting in poll() 6-8 s of 11-12, 40-41k/s with
                 * 16 MB. Fetches of 256 KB per partition (1 MB by
                 * default) keep the overshoot past the limit small: peak
                 * RSS draining to one webhook 44-49 -> 45-46 MiB. */
                {"queued.max.messages.kbytes", "16384"},
                {"max.partition.fetch.bytes", "262144"},
        };
        /* ... and what the commit protocol needs (set last, so it wins). */
        const hb_kconf_kv_t fixed[] = {
                {"enable.auto.commit", "false"},
                {"enable.auto.offset.store", "false"},
                /* a partition's end tells where the group stands on a
                 * partition read nothing from (consumer_event) */
                {"enable.partition.eof", "true"},
                {"partition.assignment.strategy", "cooperative-sticky"},
                {"bootstrap.servers", k->brokers},
                {"group.id", group_id},
                {"auto.offset.reset", k->auto_offset_reset},
        };
        const hb_kconf_set_t set = {defaults,
                                    sizeof(defaults) / sizeof(defaults[0]),
                                    fixed, sizeof(fixed) / sizeof(fixed[0])};

        if (!c || !conf) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        c->tracker = kc_tracker_new();
        if (!c->tracker) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        c->commit_interval_ms = k->commit_interval_ms;
        c->max_in_flight = (size_t)d->max_in_flight;
        c->max_per_partition = (size_t)d->max_in_flight_per_partition;

        if (hb_kconf_apply(conf, &set, k->prop_names, k->prop_values,
                           k->prop_count, errstr, errstr_size) == -1)
                goto err;
        if (kc_join_debug_conf(conf, errstr, errstr_size) == -1)
                goto err;
        rd_kafka_conf_set_opaque(conf, c);
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
        rd_kafka_conf_set_offset_commit_cb(conf, offset_commit_cb);
        rd_kafka_conf_set_error_cb(conf, error_cb);
        rd_kafka_conf_set_log_cb(conf, consumer_log_cb);

        c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
        if (!c->rk) {
                snprintf(errstr, errstr_size, "kafka: %s", why);
                goto err;
        }
        /* @remark rd_kafka_new() took ownership of conf. */
        conf = NULL;
        rd_kafka_poll_set_consumer(c->rk);
        c->queue = rd_kafka_queue_get_consumer(c->rk);
        if (wake_fd >= 0)
                rd_kafka_queue_io_event_enable(c->queue, wake_fd, "k", 1);
        return c;
err:
        if (conf)
                rd_kafka_conf_destroy(conf);
        if (c) {
                kc_tracker_destroy(c->tracker);
                free(c);
        }
        return NULL;
}

/* Free what consumer_create() and the constructors made. */
static void consumer_free(kc_consumer_t *c)
{
        kc_defer_clear(&c->revoke);
        if (c->queue)
                rd_kafka_queue_destroy(c->queue);
        if (c->rk)
                rd_kafka_destroy(c->rk);
        for (size_t i = 0; i < c->range_count; i++)
                free(c->ranges[i].topic);
        free(c->ranges);
        kc_tracker_destroy(c->tracker);
        free(c);
}

kc_consumer_t *kc_consumer_new(const cfg_t *cfg, int wake_fd, char *errstr,
                               size_t errstr_size)
{
        const cfg_kafka_t *k = cfg_kafka(cfg);
        rd_kafka_topic_partition_list_t *topics;
        rd_kafka_resp_err_t err;
        kc_consumer_t *c =
                consumer_create(cfg, k->group_id, wake_fd, errstr, errstr_size);

        if (!c)
                return NULL;
        topics = rd_kafka_topic_partition_list_new((int)k->topic_count);
        for (size_t i = 0; i < k->topic_count; i++)
                rd_kafka_topic_partition_list_add(topics, k->topics[i].name,
                                                  RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(c->rk, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (err) {
                snprintf(errstr, errstr_size, "kafka: subscribe: %s",
                         rd_kafka_err2str(err));
                consumer_free(c);
                return NULL;
        }
        return c;
}

kc_consumer_t *kc_consumer_new_ranges(const cfg_t *cfg,
                                      const kc_range_t *ranges, size_t n,
                                      kc_progress_cb_t *cb, void *opaque,
                                      int wake_fd, char *errstr,
                                      size_t errstr_size)
{
        char group[96];
        rd_kafka_topic_partition_list_t *l = NULL;
        rd_kafka_resp_err_t err;
        kc_consumer_t *c;

        /* Never joined nor committed to: assign() needs no group, but
         * librdkafka wants a group.id on a consumer handle. */
        snprintf(group, sizeof(group), "hookbridge-replay-%ld", (long)getpid());
        c = consumer_create(cfg, group, wake_fd, errstr, errstr_size);
        if (!c)
                return NULL;
        c->progress_cb = cb;
        c->progress_opaque = opaque;
        c->ranges = calloc(n ? n : 1, sizeof(*c->ranges));
        l = rd_kafka_topic_partition_list_new((int)n);
        if (!c->ranges || !l) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        for (size_t i = 0; i < n; i++) {
                range_t *r = &c->ranges[c->range_count];
                r->topic = strdup(ranges[i].topic);
                if (!r->topic) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto err;
                }
                r->partition = ranges[i].partition;
                r->end = ranges[i].end;
                c->range_count++;
                if (ranges[i].start >= ranges[i].end) {
                        r->reached = 1;
                        continue;
                }
                if (kc_tracker_assign(c->tracker, r->topic, r->partition) ==
                    -1) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto err;
                }
                rd_kafka_topic_partition_list_add(l, r->topic, r->partition)
                        ->offset = ranges[i].start;
        }
        err = rd_kafka_assign(c->rk, l);
        if (err) {
                snprintf(errstr, errstr_size, "kafka: assign: %s",
                         rd_kafka_err2str(err));
                goto err;
        }
        rd_kafka_topic_partition_list_destroy(l);
        return c;
err:
        if (l)
                rd_kafka_topic_partition_list_destroy(l);
        consumer_free(c);
        return NULL;
}

/* Ranges mode: \p m lies at or past its range's end? Pauses a partition
 * once it got there. @returns 1 when \p m is not to be processed. */
static int range_past_end(kc_consumer_t *c, const rd_kafka_message_t *m)
{
        const char *topic = rd_kafka_topic_name(m->rkt);

        for (size_t i = 0; i < c->range_count; i++) {
                range_t *r = &c->ranges[i];
                if (r->partition != m->partition || strcmp(r->topic, topic))
                        continue;
                if (m->offset + 1 >= r->end && !r->reached) {
                        r->reached = 1;
                        set_paused(c, r->topic, r->partition, 1);
                }
                return m->offset >= r->end;
        }
        return 1;
}

int kc_consumer_finished(const kc_consumer_t *c)
{
        if (!c->ranges || kc_tracker_pending_total(c->tracker) > 0)
                return 0;
        for (size_t i = 0; i < c->range_count; i++)
                if (!c->ranges[i].reached)
                        return 0;
        return 1;
}

int kc_consumer_broker_up(const kc_consumer_t *c)
{
        return !c->brokers_down;
}

/* Stop taking messages for up to this long at the total in-flight limit
 * before pausing every partition (which keeps group events served). */
#define CAPPED_MS 5000

/* librdkafka leaves the group when the application does not poll within
 * max.poll.interval.ms: whatever HTTP does, the consumer is served at
 * least this often (kc_consumer_keepalive). */
#define KEEPALIVE_MS 1000

/* While every broker is reported down: ask one (metadata) this often,
 * waiting at most PROBE_WAIT_MS, so a quiet topic's readiness comes back
 * with the brokers. */
#define PROBE_EVERY_MS 2000
#define PROBE_WAIT_MS  500

/* An event rd_kafka_consumer_poll() returned in place of a message. A
 * partition's end (enable.partition.eof; once per end reached, so cheap:
 * a busy partition's fetches stop at its end only while the loop keeps
 * up) tells where the group stands on a partition nothing was consumed
 * from since its assignment: its fetch began at the committed offset
 * (or where auto.offset.reset sent it) and met nothing before the end.
 * kc_consumer_partitions() counts its lag from there, not from the log
 * start; it is never committed (a commit is the finished prefix, and
 * the group already holds that offset). */
static void consumer_event(kc_consumer_t *c, const rd_kafka_message_t *m)
{
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                hb_log(HB_LOG_WARN, "kafka consumer error",
                       "topic=%s partition=%d error=\"%s\"",
                       m->rkt ? rd_kafka_topic_name(m->rkt) : "-",
                       (int)m->partition, rd_kafka_message_errstr(m));
                return;
        }
        if (m->rkt &&
            !kc_consumer_revoking(c, rd_kafka_topic_name(m->rkt), m->partition))
                kc_tracker_at_end(c->tracker, rd_kafka_topic_name(m->rkt),
                                  m->partition, m->offset);
}

/* rd_kafka_consumer_poll(), noting that the consumer was served. */
static rd_kafka_message_t *consumer_poll(kc_consumer_t *c, int timeout_ms)
{
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout_ms);

        c->last_poll_ms = hb_time_mono_ms();
        return m;
}

size_t kc_msg_header_count(const kc_msg_t *m)
{
        rd_kafka_headers_t *h = NULL;

        if (!m->priv || rd_kafka_message_headers(m->priv, &h) || !h)
                return 0;
        return rd_kafka_header_cnt(h);
}

int kc_msg_header(const kc_msg_t *m, size_t i, const char **name,
                  const void **value, size_t *size)
{
        rd_kafka_headers_t *h = NULL;

        if (!m->priv || rd_kafka_message_headers(m->priv, &h) || !h)
                return -1;
        return rd_kafka_header_get_all(h, i, name, value, size) ? -1 : 0;
}

const rd_kafka_message_t *kc_msg_raw(const kc_msg_t *m)
{
        return m->priv;
}

void kc_msg_release(kc_msg_t *m)
{
        if (!m->priv)
                return;
        rd_kafka_message_destroy(m->priv);
        m->priv = NULL;
        m->topic = NULL;
        m->key = m->value = NULL;
        m->key_len = m->value_len = 0;
}

int kc_consumer_poll(kc_consumer_t *c, kc_msg_t *out)
{
        rd_kafka_message_t *m;
        const char *topic;
        int64_t ts;
        int32_t part;
        size_t pend;
        int paused;

        if (kc_defer_pending(&c->revoke))
                return 0;
        if (c->held) {
                /* paused only to serve the consumer: take messages
                 * again (the total limit is applied next) */
                c->held = 0;
                if (c->all_paused &&
                    kc_tracker_pending_total(c->tracker) < c->max_in_flight)
                        set_all_paused(c, 0);
        }
        if (kc_tracker_pending_total(c->tracker) >= c->max_in_flight) {
                if (!c->capped_since)
                        c->capped_since = hb_time_mono_ms();
                if (hb_time_mono_ms() - c->capped_since < CAPPED_MS)
                        return 0;
                if (!c->all_paused)
                        set_all_paused(c, 1);
        }
        for (;;) {
                m = consumer_poll(c, 0);
                if (!m)
                        return 0;
                if (!m->err)
                        break;
                consumer_event(c, m);
                rd_kafka_message_destroy(m);
        }
        c->brokers_down = 0;
        if (c->ranges && range_past_end(c, m)) {
                rd_kafka_message_destroy(m);
                return 0;
        }
        topic = rd_kafka_topic_name(m->rkt);
        ts = rd_kafka_message_timestamp(m, NULL);
        /* Not ours any more (revoked between fetch and poll, or being
         * revoked: the poll that served the revoke may return one): let
         * the new owner have it. */
        if (kc_consumer_revoking(c, topic, m->partition) ||
            kc_tracker_add(c->tracker, topic, m->partition, m->offset, ts,
                           &out->ticket) == -1) {
                drop_untracked(c, m);
                return 0;
        }
        c->stats.consumed++;
        kc_tracker_slot(c->tracker, out->ticket.slot, &part, &pend, &paused);
        if (pend >= c->max_per_partition) {
                kc_tracker_set_paused(c->tracker, out->ticket.slot, 1);
                set_paused(c, topic, m->partition, 1);
        }
        out->topic = topic;
        out->partition = m->partition;
        out->offset = m->offset;
        out->key = m->key;
        out->key_len = m->key_len;
        out->value = m->payload;
        out->value_len = m->len;
        out->timestamp_ms = ts;
        out->priv = m;
        return 1;
}

void kc_consumer_wait(kc_consumer_t *c, int timeout_ms)
{
        rd_kafka_message_t *m = consumer_poll(c, timeout_ms);

        /* Only used while nothing is consumed (shutdown): a message that
         * slips through is not tracked and so will be redelivered. */
        if (m && m->err) {
                consumer_event(c, m);
                rd_kafka_message_destroy(m);
        } else if (m) {
                drop_untracked(c, m);
        }
}

/* A message taken while serving the consumer (it slipped past the
 * pause): not handed out, so the partition goes back to it; the resume
 * fetches it again. */
static void hand_back(kc_consumer_t *c, const rd_kafka_message_t *m)
{
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(1);
        rd_kafka_error_t *error;

        untracked(c, m);
        rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt),
                                          m->partition)
                ->offset = m->offset;
        error = rd_kafka_seek_partitions(c->rk, l, 0);
        if (error)
                rd_kafka_error_destroy(error);
        rd_kafka_topic_partition_list_destroy(l);
}

void kc_consumer_keepalive(kc_consumer_t *c)
{
        rd_kafka_message_t *m;

        if (hb_time_mono_ms() - c->last_poll_ms < KEEPALIVE_MS)
                return;
        for (int i = 0; i < 1000; i++) {
                /* Paused, polling takes no message: it serves the group
                 * (heartbeats, rebalances, commit results) and tells
                 * librdkafka the application is alive. A rebalance
                 * served here may resume partitions: pause them again. */
                if (!c->all_paused) {
                        set_all_paused(c, 1);
                        c->held = 1;
                }
                m = consumer_poll(c, 0);
                if (!m)
                        break;
                if (!m->err)
                        hand_back(c, m);
                else
                        consumer_event(c, m);
                rd_kafka_message_destroy(m);
        }
}

/* Every broker was reported down: has one answered since? A quiet topic
 * brings no message to say so. */
static void probe_brokers(kc_consumer_t *c, int64_t now)
{
        const struct rd_kafka_metadata *md = NULL;

        if (!c->brokers_down || now < c->next_probe_ms)
                return;
        c->next_probe_ms = now + PROBE_EVERY_MS;
        if (rd_kafka_metadata(c->rk, 0, NULL, &md, PROBE_WAIT_MS) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
                c->brokers_down = 0;
                hb_log(HB_LOG_INFO, "kafka brokers reachable again", NULL);
        }
        if (md)
                rd_kafka_metadata_destroy(md);
}

int kc_consumer_owns(const kc_consumer_t *c, const kc_ticket_t *ticket)
{
        return kc_tracker_current(c->tracker, ticket);
}

void kc_consumer_done(kc_consumer_t *c, const kc_ticket_t *ticket)
{
        int32_t part;
        size_t pend;
        int paused;
        const char *topic;

        if (!kc_tracker_done(c->tracker, ticket))
                return;
        topic = kc_tracker_slot(c->tracker, ticket->slot, &part, &pend,
                                &paused);
        /* Resume a partition once it drained to half its limit. */
        if (topic && paused && pend <= c->max_per_partition / 2) {
                kc_tracker_set_paused(c->tracker, ticket->slot, 0);
                if (!c->all_paused)
                        set_paused(c, topic, part, 0);
        }
        if (kc_tracker_pending_total(c->tracker) <= c->max_in_flight * 3 / 4) {
                c->capped_since = 0;
                if (c->all_paused)
                        set_all_paused(c, 0);
        }
}

void kc_consumer_tick(kc_consumer_t *c)
{
        int64_t now = hb_time_mono_ms();

        kc_consumer_keepalive(c);
        probe_brokers(c, now);
        if (now < c->next_commit_ms)
                return;
        c->next_commit_ms = now + c->commit_interval_ms;
        commit_moved(c, NULL, 1);
        /* A range may end in offsets that carry no message (transaction
         * markers, compaction): the position tells it got there. */
        for (size_t i = 0; i < c->range_count; i++) {
                range_t *r = &c->ranges[i];
                rd_kafka_topic_partition_list_t *l;
                if (r->reached)
                        continue;
                l = rd_kafka_topic_partition_list_new(1);
                rd_kafka_topic_partition_list_add(l, r->topic, r->partition);
                if (!rd_kafka_position(c->rk, l) &&
                    l->elems[0].offset >= r->end)
                        r->reached = 1;
                rd_kafka_topic_partition_list_destroy(l);
        }
}

int kc_consumer_commit_sync(kc_consumer_t *c)
{
        return commit_moved(c, NULL, 0);
}

size_t kc_consumer_partitions(kc_consumer_t *c, kc_partition_info_t *out,
                              size_t max)
{
        size_t n = kc_tracker_count(c->tracker);
        kc_tracker_info_t in;

        for (size_t i = 0; i < max && kc_tracker_at(c->tracker, i, &in) == 0;
             i++) {
                kc_partition_info_t *p = &out[i];
                int64_t lo = -1, hi = -1, pos;
                p->topic = in.topic;
                p->partition = in.partition;
                p->committable = in.committable;
                p->committed = in.committed;
                p->pending = in.pending;
                p->oldest_ts_ms = in.oldest_ts_ms;
                p->paused = in.paused || c->all_paused;
                if (rd_kafka_get_watermark_offsets(c->rk, p->topic,
                                                   p->partition, &lo, &hi) != 0)
                        hi = -1;
                p->log_end = hi;
                pos = p->committed >= 0 ? p->committed : p->committable;
                /* Nothing consumed since the assignment: where the fetch
                 * found the end (the group's committed offset, or past
                 * it over offsets that carry no message), else (no end
                 * reached yet: a backlog, or no fetch answered) the log
                 * start. */
                if (pos < 0)
                        pos = in.end_offset;
                if (pos < 0)
                        pos = lo >= 0 ? lo : hi;
                p->lag = hi >= 0 && pos >= 0 && hi > pos ? hi - pos : 0;
        }
        return n;
}

void kc_consumer_stats(const kc_consumer_t *c, kc_stats_t *out)
{
        *out = c->stats;
        out->assigned = kc_tracker_count(c->tracker);
        out->pending = kc_tracker_pending_total(c->tracker);
}

rd_kafka_t *kc_consumer_handle(kc_consumer_t *c)
{
        return c->rk;
}

/* Can a first join be under way? librdkafka picks the assignor (whose
 * state its 2.0.2 sticky assignor asserts on at close) only on a JoinGroup
 * answer, which also names the member: with no member id and every broker
 * down, no answer has come nor can come. */
static int join_possible(const kc_consumer_t *c)
{
        char *id = rd_kafka_memberid(c->rk);
        int named = id && *id;

        if (id)
                rd_kafka_mem_free(c->rk, id);
        return named || !c->brokers_down;
}

void kc_consumer_destroy(kc_consumer_t *c)
{
        rd_kafka_resp_err_t err;

        if (!c)
                return;
        /* From here on revokes (those of the close below) act at once. */
        c->revoke.on = 0;
        kc_consumer_revoke_finish(c);
        kc_consumer_commit_sync(c);
        if (!c->ranges && c->stats.rebalances == 0 && join_possible(c)) {
                /* Stopped in the middle of the first join. librdkafka
                 * 2.0.2 asserts in its sticky assignor when such a
                 * consumer is closed or destroyed
                 * (rd_kafka_sticky_assignor_state_destroy), so let the
                 * join finish first (bounded). Messages polled here are
                 * not tracked, so never committed: nothing is lost. A
                 * consumer that never reached a broker closes at once. */
                int64_t deadline = hb_time_mono_ms() + 10000;
                while (c->stats.rebalances == 0 &&
                       hb_time_mono_ms() < deadline) {
                        rd_kafka_message_t *m =
                                rd_kafka_consumer_poll(c->rk, 100);
                        if (m)
                                drop_untracked(c, m);
                }
        }
        /* Leaves the group; the revoke callback commits nothing new. */
        err = rd_kafka_consumer_close(c->rk);
        if (err)
                hb_log(HB_LOG_WARN, "consumer close", "error=\"%s\"",
                       rd_kafka_err2str(err));
        consumer_free(c);
}
