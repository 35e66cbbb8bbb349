/* kc_lag: the configured group's lag asked of the brokers (not of a
 * running consumer): committed offsets, log ends and the age of the
 * oldest unconsumed message, per partition of the configured topics. */
#include "kc_lag.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kc_consumer.h"
#include "hb_kconf.h"
#include "hb_log.h"
#include "hb_rec.h"
#include "hb_time.h"
#include "kc_offsets.h"

/* The lag query never waits less than this for the timestamps. */
#define MIN_FETCH_MS 1000

struct kc_lag_s {
        rd_kafka_t *group_rk; /* group.id = the group; never subscribes */
        rd_kafka_t *fetch_rk; /* assign() outside the group: timestamps */
        char *group;
        char **topics;
        size_t topic_count;
        int reset_latest; /* auto_offset_reset = latest */
        kc_lag_partition_t *parts;
        size_t n, cap;
};

/* librdkafka's last complaint, for "cannot reach the broker" errors. */
static pthread_mutex_t last_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_error[512];

/* Milliseconds left until \p deadline, at least 1. */
static int left_ms(int64_t deadline)
{
        int64_t left = deadline - hb_time_mono_ms();

        return left < 1 ? 1 : left > 3600000 ? 3600000 : (int)left;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
        (void)rk;
        if (level <= 4) {
                pthread_mutex_lock(&last_lock);
                snprintf(last_error, sizeof(last_error), "%s", buf);
                pthread_mutex_unlock(&last_lock);
        }
        hb_log(HB_LOG_DEBUG, "librdkafka", "facility=%s detail=\"%s\"", fac,
               buf);
}

void kc_lag_client_error(char *out, size_t out_size)
{
        pthread_mutex_lock(&last_lock);
        snprintf(out, out_size, "%s", last_error);
        pthread_mutex_unlock(&last_lock);
}

/* A consumer handle that never subscribes nor commits. \p group_id NULL:
 * none. \p extra: more fixed settings (\p nextra of them). */
static rd_kafka_t *client_new(const cfg_t *cfg, const char *group_id,
                              const hb_kconf_kv_t *extra, size_t nextra,
                              char *errstr, size_t errstr_size)
{
        const cfg_kafka_t *k = cfg_kafka(cfg);
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        char why[512];
        static const hb_kconf_kv_t defaults[] = {
                {"client.id", "hookbridge-lookup"},
        };
        /* What makes these handles harmless is set after kafka.properties
         * (TLS, SASL, ...), so it cannot be overridden; group.id last,
         * when there is one. \p extra follows as a list of its own. */
        const hb_kconf_kv_t fixed[] = {
                {"enable.auto.commit", "false"},
                {"enable.auto.offset.store", "false"},
                {"allow.auto.create.topics", "false"},
                {"bootstrap.servers", k->brokers},
                {"group.id", group_id},
        };
        const size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
        const hb_kconf_set_t set = {
                .defaults = defaults,
                .ndefaults = sizeof(defaults) / sizeof(defaults[0]),
                .fixed = fixed,
                .nfixed = group_id ? nfixed : nfixed - 1,
                .more = extra,
                .nmore = nextra,
        };

        if (!conf) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        if (hb_kconf_apply(conf, &set, k->prop_names, k->prop_values,
                           k->prop_count, errstr, errstr_size) == -1)
                goto err;
        rd_kafka_conf_set_log_cb(conf, log_cb);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
        if (!rk) {
                snprintf(errstr, errstr_size, "kafka: %s", why);
                goto err;
        }
        /* @remark rd_kafka_new() took ownership of conf. */
        return rk;
err:
        rd_kafka_conf_destroy(conf);
        return NULL;
}

rd_kafka_t *kc_lag_client_new(const cfg_t *cfg, char *errstr,
                              size_t errstr_size)
{
        return client_new(cfg, NULL, NULL, 0, errstr, errstr_size);
}

/* "cannot reach ..." with librdkafka's last complaint. */
static void unreachable(rd_kafka_t *rk, rd_kafka_resp_err_t err, int timeout_ms,
                        char *errstr, size_t errstr_size)
{
        char last[512];
        char *brokers = NULL;
        size_t len = 0;
        const rd_kafka_conf_t *conf = rd_kafka_conf(rk);

        kc_lag_client_error(last, sizeof(last));
        if (rd_kafka_conf_get(conf, "bootstrap.servers", NULL, &len) ==
                    RD_KAFKA_CONF_OK &&
            (brokers = malloc(len ? len : 1)))
                rd_kafka_conf_get(conf, "bootstrap.servers", brokers, &len);
        snprintf(errstr, errstr_size,
                 "cannot reach Kafka at %s within %g s (%s%s%s)",
                 brokers ? brokers : "?", timeout_ms / 1000.0,
                 rd_kafka_err2str(err), *last ? "; last error: " : "", last);
        free(brokers);
}

int kc_lag_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms,
                           char *errstr, size_t errstr_size)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        rd_kafka_resp_err_t err;
        int n = -1;

        if (!rkt) {
                snprintf(errstr, errstr_size, "topic '%s': %s", topic,
                         rd_kafka_err2str(rd_kafka_last_error()));
                return -1;
        }
        err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
        if (err == RD_KAFKA_RESP_ERR__TRANSPORT ||
            err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
                unreachable(rk, err, timeout_ms, errstr, errstr_size);
        } else if (err) {
                snprintf(errstr, errstr_size, "metadata of topic '%s': %s",
                         topic, rd_kafka_err2str(err));
        } else if (md->topic_cnt != 1) {
                snprintf(errstr, errstr_size, "metadata of topic '%s': none",
                         topic);
        } else if (md->topics[0].err ==
                   RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                snprintf(errstr, errstr_size, "topic '%s' does not exist",
                         topic);
        } else if (md->topics[0].err) {
                snprintf(errstr, errstr_size, "topic '%s': %s", topic,
                         rd_kafka_err2str(md->topics[0].err));
        } else {
                n = md->topics[0].partition_cnt;
        }
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return n;
}

/* The lag of \p gid on \p topics (\p n), from where \p latest says. */
static kc_lag_t *lag_new(const cfg_t *cfg, const char *gid,
                         const char *const *topics, size_t n, int latest,
                         char *errstr, size_t errstr_size)
{
        kc_lag_t *l = calloc(1, sizeof(*l));
        char group[96];
        /* One message per partition is all a lag query reads. */
        static const hb_kconf_kv_t fetch_extra[] = {
                {"enable.partition.eof", "true"},
                {"auto.offset.reset", "earliest"},
                {"fetch.wait.max.ms", "100"},
                {"max.partition.fetch.bytes", "1024"},
                {"queued.min.messages", "1"},
        };
        const size_t nextra = sizeof(fetch_extra) / sizeof(fetch_extra[0]);

        if (!l)
                goto oom;
        l->group = strdup(gid);
        l->topics = calloc(n ? n : 1, sizeof(*l->topics));
        if (!l->group || !l->topics)
                goto oom;
        for (size_t i = 0; i < n; i++) {
                l->topics[i] = strdup(topics[i]);
                if (!l->topics[i])
                        goto oom;
                l->topic_count++;
        }
        l->reset_latest = latest;
        l->group_rk = client_new(cfg, gid, NULL, 0, errstr, errstr_size);
        if (!l->group_rk)
                goto err;
        /* assign() wants a group.id on the handle; this one is never
         * joined nor committed to (like kc_consumer_new_ranges()). */
        snprintf(group, sizeof(group), "hookbridge-lag-%ld", (long)getpid());
        l->fetch_rk = client_new(cfg, group, fetch_extra, nextra, errstr,
                                 errstr_size);
        if (!l->fetch_rk)
                goto err;
        return l;
oom:
        snprintf(errstr, errstr_size, "out of memory");
err:
        kc_lag_destroy(l);
        return NULL;
}

kc_lag_t *kc_lag_new(const cfg_t *cfg, char *errstr, size_t errstr_size)
{
        const cfg_kafka_t *k = cfg_kafka(cfg);
        const char **names =
                calloc(k->topic_count ? k->topic_count : 1, sizeof(*names));
        kc_lag_t *l;

        if (!names) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        for (size_t i = 0; i < k->topic_count; i++)
                names[i] = k->topics[i].name;
        l = lag_new(cfg, k->group_id, names, k->topic_count,
                    k->auto_offset_reset &&
                            (!strcmp(k->auto_offset_reset, "latest") ||
                             !strcmp(k->auto_offset_reset, "largest") ||
                             !strcmp(k->auto_offset_reset, "end")),
                    errstr, errstr_size);
        free(names);
        return l;
}

kc_lag_t *kc_lag_new_tiers(const cfg_t *cfg, const char *const *topics,
                           size_t n, char *errstr, size_t errstr_size)
{
        const char *gid = cfg_kafka(cfg)->group_id;
        size_t len = strlen(gid) + sizeof(".tiers");
        char *group = malloc(len);
        kc_lag_t *l;

        if (!group) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        snprintf(group, len, "%s.tiers", gid);
        l = lag_new(cfg, group, topics, n, 0, errstr, errstr_size);
        free(group);
        return l;
}

void kc_lag_destroy(kc_lag_t *l)
{
        if (!l)
                return;
        if (l->fetch_rk)
                rd_kafka_destroy(l->fetch_rk);
        if (l->group_rk)
                rd_kafka_destroy(l->group_rk);
        for (size_t i = 0; i < l->topic_count; i++)
                free(l->topics[i]);
        free(l->topics);
        free(l->group);
        free(l->parts);
        free(l);
}

/* Append a partition entry. @returns it, or NULL when out of memory. */
static kc_lag_partition_t *add_part(kc_lag_t *l, const char *topic,
                                    int32_t partition)
{
        kc_lag_partition_t *p;

        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 64;
                p = realloc(l->parts, cap * sizeof(*p));
                if (!p)
                        return NULL;
                l->parts = p;
                l->cap = cap;
        }
        p = &l->parts[l->n++];
        memset(p, 0, sizeof(*p));
        p->topic = topic;
        p->partition = partition;
        p->committed = -1;
        p->oldest_ms = -1;
        p->due_ms = -1;
        return p;
}

static kc_lag_partition_t *find_part(kc_lag_t *l, const char *topic,
                                     int32_t partition)
{
        for (size_t i = 0; i < l->n; i++)
                if (l->parts[i].partition == partition &&
                    !strcmp(l->parts[i].topic, topic))
                        return &l->parts[i];
        return NULL;
}

/* Committed offsets of the group for every partition. */
static int read_committed(kc_lag_t *l, int64_t deadline, char *errstr,
                          size_t errstr_size)
{
        rd_kafka_topic_partition_list_t *tl =
                rd_kafka_topic_partition_list_new((int)l->n);
        rd_kafka_resp_err_t err;
        int rc = -1;

        for (size_t i = 0; i < l->n; i++)
                rd_kafka_topic_partition_list_add(tl, l->parts[i].topic,
                                                  l->parts[i].partition);
        err = rd_kafka_committed(l->group_rk, tl, left_ms(deadline));
        if (err == RD_KAFKA_RESP_ERR__TRANSPORT ||
            err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
                snprintf(errstr, errstr_size,
                         "committed offsets of group '%s': no answer from "
                         "the group coordinator in time (%s)",
                         l->group, rd_kafka_err2str(err));
                goto out;
        }
        if (err) {
                snprintf(errstr, errstr_size,
                         "committed offsets of group '%s': %s", l->group,
                         rd_kafka_err2str(err));
                goto out;
        }
        for (int i = 0; i < tl->cnt; i++) {
                rd_kafka_topic_partition_t *e = &tl->elems[i];
                kc_lag_partition_t *p = find_part(l, e->topic, e->partition);
                if (e->err) {
                        snprintf(errstr, errstr_size,
                                 "committed offset of group '%s' for %s/%d: "
                                 "%s",
                                 l->group, e->topic, (int)e->partition,
                                 rd_kafka_err2str(e->err));
                        goto out;
                }
                if (p)
                        p->committed = e->offset >= 0 ? e->offset : -1;
        }
        rc = 0;
out:
        rd_kafka_topic_partition_list_destroy(tl);
        return rc;
}

/* Read the first message at or after each lagging partition's position
 * for its timestamp, outside the group. What is not read in time keeps
 * lag_seconds -1. */
static void read_oldest(kc_lag_t *l, int64_t deadline)
{
        rd_kafka_topic_partition_list_t *tl =
                rd_kafka_topic_partition_list_new(8);
        unsigned char *waiting = calloc(l->n, 1);
        size_t want = 0;
        rd_kafka_resp_err_t err;

        if (!waiting)
                goto out;
        for (size_t i = 0; i < l->n; i++) {
                kc_lag_partition_t *p = &l->parts[i];
                if (p->lag <= 0)
                        continue;
                p->lag_seconds = -1;
                waiting[i] = 1;
                rd_kafka_topic_partition_list_add(tl, p->topic, p->partition)
                        ->offset = p->position;
                want++;
        }
        if (!want)
                goto out;
        err = rd_kafka_assign(l->fetch_rk, tl);
        if (err) {
                hb_log(HB_LOG_WARN, "lag: cannot read timestamps",
                       "error=\"%s\"", rd_kafka_err2str(err));
                goto out;
        }
        if (deadline - hb_time_mono_ms() < MIN_FETCH_MS)
                deadline = hb_time_mono_ms() + MIN_FETCH_MS;
        while (want > 0 && hb_time_mono_ms() < deadline) {
                rd_kafka_message_t *m =
                        rd_kafka_consumer_poll(l->fetch_rk, 100);
                kc_lag_partition_t *p;
                int64_t ts;
                size_t i;
                if (!m)
                        continue;
                p = m->rkt ? find_part(l, rd_kafka_topic_name(m->rkt),
                                       m->partition)
                           : NULL;
                i = p ? (size_t)(p - l->parts) : 0;
                if (!p || !waiting[i] || m->offset < p->position) {
                        /* not asked for, already answered, or stale */
                } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        /* Nothing readable up to the end (transaction
                         * markers, an open transaction): no age. */
                        waiting[i] = 0;
                        want--;
                } else if (!m->err) {
                        p->due_ms = hb_rec_due_ms(m);
                        ts = rd_kafka_message_timestamp(m, NULL);
                        if (ts >= 0) {
                                int64_t now = hb_time_now_ms();
                                p->oldest_ms = ts;
                                p->lag_seconds =
                                        ts < now ? (double)(now - ts) / 1000.0
                                                 : 0.0;
                        }
                        waiting[i] = 0;
                        want--;
                } else {
                        hb_log(HB_LOG_DEBUG, "lag: fetch error",
                               "topic=%s partition=%d error=\"%s\"", p->topic,
                               (int)p->partition, rd_kafka_message_errstr(m));
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_assign(l->fetch_rk, NULL);
out:
        free(waiting);
        rd_kafka_topic_partition_list_destroy(tl);
}

int kc_lag_query(kc_lag_t *l, int timeout_ms, const kc_lag_partition_t **out,
                 char *errstr, size_t errstr_size)
{
        int64_t deadline = hb_time_mono_ms() + timeout_ms;

        l->n = 0;
        for (size_t t = 0; t < l->topic_count; t++) {
                int n = kc_lag_partition_count(l->group_rk, l->topics[t],
                                               left_ms(deadline), errstr,
                                               errstr_size);
                if (n < 0)
                        return -1;
                for (int i = 0; i < n; i++)
                        if (!add_part(l, l->topics[t], i)) {
                                snprintf(errstr, errstr_size, "out of memory");
                                return -1;
                        }
        }
        if (l->n == 0) {
                *out = l->parts;
                return 0;
        }
        if (read_committed(l, deadline, errstr, errstr_size) == -1)
                return -1;
        for (size_t i = 0; i < l->n; i++) {
                kc_lag_partition_t *p = &l->parts[i];
                int64_t lo = -1, hi = -1;
                rd_kafka_resp_err_t err = kc_offsets_watermarks(
                        l->group_rk, p->topic, p->partition, &lo, &hi,
                        left_ms(deadline));
                if (err) {
                        snprintf(errstr, errstr_size, "log end of %s/%d: %s",
                                 p->topic, (int)p->partition,
                                 rd_kafka_err2str(err));
                        return -1;
                }
                p->log_start = lo;
                p->log_end = hi;
                /* A consumer resumes at its committed offset; without
                 * one, or with one the log no longer (or never) had, it
                 * goes where auto.offset.reset says. */
                if (p->committed >= 0 && p->committed >= lo &&
                    p->committed <= hi)
                        p->position = p->committed;
                else
                        p->position = l->reset_latest ? hi : lo;
                p->lag = hi > p->position ? hi - p->position : 0;
                p->lag_seconds = 0;
        }
        read_oldest(l, deadline);
        *out = l->parts;
        return (int)l->n;
}
