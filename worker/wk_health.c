/* wk_health: the deployment's delivery health, the Kafka side (see the
 * header): the topic made sure of, read (kc_store) and written
 * (wh_store), on a thread of its own. */
#include "wk_health.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hb_log.h"
#include "hb_time.h"
#include "kc_store.h"
#include "wh_store.h"

#define DEFAULT_PUBLISH_MS 3000
/* Every record is written again this often, whether it changed or not:
 * a replica's records must outlive the topic's retention while it runs. */
#define FULL_PUBLISH_MS (6LL * 3600 * 1000)
/* A topic set-up or reader that failed is tried again after this. */
#define RETRY_MS 5000
#define FLUSH_MS 10000
#define POLL_MS  100

struct wk_health_s {
        char replica[WK_HEALTH_NAME_MAX + 1];
        wk_health_acc_t *acc;
        wk_health_view_t *view;
        /* Kafka; NULL for a local health */
        wk_health_conf_t conf; /* its strings copied: the thread makes
                                  its reader when the topic is there */
        char *topic, *brokers;
        char **props; /* prop_count names, then prop_count values */
        wh_store_writer_t *writer;
        kc_store_reader_t *reader;
        int64_t end; /* the log's end when the reader started */
        pthread_t thread;
        int started;
        atomic_int stop;
        atomic_int caught_up;
        atomic_uint_fast64_t published, publish_errors;
        int topic_ready;
        int64_t next_publish_ms, next_full_ms, next_try_ms;
};

/* The accumulator's seed: what this replica last published of it. */
static int seed(void *opaque, const char *app, const char *id,
                wk_health_counts_t *c)
{
        wk_health_t *h = opaque;

        return wk_health_view_own(h->view, h->replica, app, id, c);
}

/* "<host>-<pid>-<8 hex>": unique to this process (a restarted replica is
 * a new one: its counts start at zero beside the old one's). */
static void make_replica_id(char *out, size_t size)
{
        char host[64] = "host";
        unsigned char rnd[4] = {0};
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        uint32_t r;

        if (fd >= 0) {
                if (read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd))
                        memset(rnd, 0, sizeof(rnd));
                close(fd);
        }
        r = ((uint32_t)rnd[0] << 24 | (uint32_t)rnd[1] << 16 |
             (uint32_t)rnd[2] << 8 | rnd[3]) ^
            (uint32_t)hb_time_now_ms();
        if (gethostname(host, sizeof(host)) != 0)
                snprintf(host, sizeof(host), "host");
        host[sizeof(host) - 1] = '\0';
        for (char *p = host; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
                        *p = '_';
        snprintf(out, size, "%s-%ld-%08x", host, (long)getpid(), r);
}

static wk_health_t *health_alloc(const char *replica, size_t max_entries)
{
        wk_health_t *h = calloc(1, sizeof(*h));

        if (!h)
                return NULL;
        if (replica && *replica)
                snprintf(h->replica, sizeof(h->replica), "%s", replica);
        else
                make_replica_id(h->replica, sizeof(h->replica));
        h->view = wk_health_view_new(max_entries);
        h->acc = wk_health_acc_new(max_entries, seed, h);
        if (!h->view || !h->acc) {
                wk_health_view_destroy(h->view);
                wk_health_acc_destroy(h->acc);
                free(h);
                return NULL;
        }
        return h;
}

wk_health_t *wk_health_new_local(const char *replica, size_t max_entries)
{
        wk_health_t *h = health_alloc(replica, max_entries);

        if (h)
                atomic_store(&h->caught_up, 1);
        return h;
}

/* The reader's callback: every replica's records, in log order. */
static void on_record(const kc_store_record_t *rec, void *opaque)
{
        wk_health_t *h = opaque;
        wk_health_rec_t r;
        void *mem = NULL;
        char why[128];

        if (!rec->value)
                return; /* a tombstone: nothing writes them */
        if (wk_health_rec_from_json(rec->value, rec->len, &r, &mem, why,
                                    sizeof(why)) == 0)
                wk_health_view_apply(h->view, &r);
        else
                hb_log(HB_LOG_DEBUG, "health: record skipped",
                       "topic=%s offset=%lld why=\"%s\"", h->topic,
                       (long long)rec->offset, why);
        free(mem);
}

/* Send one record (or apply it, locally). @returns 0, or -1. */
static int put(wk_health_t *h, const wk_health_rec_t *r)
{
        char key[3 * WK_HEALTH_NAME_MAX + 8], why[256];
        size_t kl = wk_health_rec_key(r, key, sizeof(key));
        char *json;
        int rc = -1;

        if (!h->writer) {
                wk_health_view_apply(h->view, r);
                return 0;
        }
        if (!kl)
                return 0; /* a name with the separator: not publishable */
        if (!(json = wk_health_rec_to_json(r)))
                return -1;
        rc = wh_store_send(h->writer, key, kl, json, strlen(json), why,
                           sizeof(why));
        if (rc == -1)
                hb_log(HB_LOG_WARN, "health: record not sent",
                       "topic=%s error=\"%s\"", h->topic, why);
        free(json);
        return rc;
}

/* Publish what changed, then a heartbeat (\p stopped: the last one). */
static void publish(wk_health_t *h, int stopped)
{
        wk_health_snap_t *s;
        size_t n = wk_health_acc_take(h->acc, &s), failed = 0;
        int64_t now = hb_time_now_ms();
        wk_health_rec_t hb = {.replica = h->replica,
                              .app = "",
                              .id = "",
                              .updated_ms = now,
                              .stopped = stopped};

        for (size_t i = 0; i < n; i++) {
                wk_health_rec_t r = {
                        .replica = h->replica,
                        .app = s[i].app,
                        .id = s[i].id,
                        .c = s[i].c,
                        .error = s[i].error,
                        .body = s[i].body,
                        .updated_ms = now,
                };
                failed += put(h, &r) == -1;
        }
        wk_health_snaps_free(s, n);
        failed += put(h, &hb) == -1;
        if (h->writer)
                failed += wh_store_flush(h->writer, FLUSH_MS);
        atomic_fetch_add(&h->published, n + 1);
        if (failed) {
                /* all again next time: the topic keeps the last of each */
                atomic_fetch_add(&h->publish_errors, failed);
                wk_health_acc_dirty_all(h->acc);
                hb_log(HB_LOG_WARN, "health: records not acknowledged",
                       "topic=%s failed=%zu", h->topic, failed);
        }
}

void wk_health_publish(wk_health_t *h)
{
        publish(h, 0);
}

/* The thread's set-up, tried until it works: the topic, the reader. */
static int kafka_up(wk_health_t *h)
{
        kc_store_conf_t rc = {
                .brokers = h->conf.brokers,
                .prop_names = h->conf.prop_names,
                .prop_values = h->conf.prop_values,
                .prop_count = h->conf.prop_count,
                .topic = h->topic,
        };
        char why[512];

        if (!h->topic_ready) {
                if (wh_store_writer_ensure_topic(h->writer, why, sizeof(why)) ==
                    -1) {
                        hb_log(HB_LOG_WARN,
                               "health: topic not there yet; trying again",
                               "topic=%s error=\"%s\"", h->topic, why);
                        return -1;
                }
                h->topic_ready = 1;
        }
        if (!(h->reader = kc_store_reader_new(&rc, why, sizeof(why))) ||
            kc_store_reader_end(h->reader, &h->end, FLUSH_MS, why,
                                sizeof(why)) == -1) {
                kc_store_reader_destroy(h->reader);
                h->reader = NULL;
                hb_log(HB_LOG_WARN, "health: reader not started; trying again",
                       "topic=%s error=\"%s\"", h->topic, why);
                return -1;
        }
        hb_log(HB_LOG_INFO, "health: reading and publishing",
               "topic=%s replica=%s end=%lld publish_ms=%d", h->topic,
               h->replica, (long long)h->end, h->conf.publish_ms);
        return 0;
}

static void *run(void *opaque)
{
        wk_health_t *h = opaque;

        while (!atomic_load(&h->stop)) {
                int64_t now = hb_time_mono_ms();

                if (!h->reader) {
                        if (now >= h->next_try_ms && kafka_up(h) == -1)
                                h->next_try_ms = now + RETRY_MS;
                        if (!h->reader) {
                                usleep(POLL_MS * 1000);
                                continue;
                        }
                }
                kc_store_reader_poll(h->reader, POLL_MS, on_record, h);
                if (!atomic_load(&h->caught_up) &&
                    kc_store_reader_position(h->reader) >= h->end)
                        atomic_store(&h->caught_up, 1);
                now = hb_time_mono_ms();
                if (now >= h->next_full_ms) {
                        if (h->next_full_ms)
                                wk_health_acc_dirty_all(h->acc);
                        h->next_full_ms = now + FULL_PUBLISH_MS;
                }
                if (now >= h->next_publish_ms) {
                        publish(h, 0);
                        h->next_publish_ms = now + h->conf.publish_ms;
                }
        }
        if (h->topic_ready)
                publish(h, 1);
        return NULL;
}

wk_health_t *wk_health_new(const wk_health_conf_t *conf, char *errstr,
                           size_t errstr_size)
{
        static const char *const topic_conf[] = {
                "cleanup.policy", "compact,delete", "retention.ms",
                "604800000", /* WK_HEALTH_RETENTION_MS */
                /* compaction and deletion work on closed segments */
                "segment.ms", "3600000"};
        wk_health_t *h;
        wh_store_conf_t wc = {
                .brokers = conf->brokers,
                .prop_names = conf->prop_names,
                .prop_values = conf->prop_values,
                .prop_count = conf->prop_count,
                .topic = conf->topic,
                .replication_factor = conf->replication_factor,
                .timeout_ms = FLUSH_MS,
                .topic_config = topic_conf,
                .topic_config_count = 3,
        };

        if (!conf->brokers || !conf->topic || !*conf->topic) {
                snprintf(errstr, errstr_size, "health: no brokers or topic");
                return NULL;
        }
        if (!(h = health_alloc(conf->replica, conf->max_entries))) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        h->conf = *conf;
        if (h->conf.publish_ms <= 0)
                h->conf.publish_ms = DEFAULT_PUBLISH_MS;
        if (!(h->topic = strdup(conf->topic))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        h->conf.topic = h->topic;
        if (!(h->brokers = strdup(conf->brokers)) ||
            (conf->prop_count &&
             !(h->props = calloc(2 * conf->prop_count, sizeof(char *))))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        for (size_t i = 0; i < conf->prop_count; i++)
                if (!(h->props[i] = strdup(conf->prop_names[i])) ||
                    !(h->props[conf->prop_count + i] =
                              strdup(conf->prop_values[i]))) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto err;
                }
        h->conf.brokers = h->brokers;
        h->conf.prop_names = (const char *const *)h->props;
        h->conf.prop_values =
                (const char *const *)(h->props ? h->props + conf->prop_count
                                               : NULL);
        h->conf.replica = NULL;
        if (!(h->writer = wh_store_writer_new(&wc, errstr, errstr_size)))
                goto err;
        if (pthread_create(&h->thread, NULL, run, h) != 0) {
                snprintf(errstr, errstr_size, "health: no thread");
                goto err;
        }
        h->started = 1;
        return h;
err:
        wk_health_destroy(h);
        return NULL;
}

void wk_health_on_attempt(const wh_endpoint_t *ep, const wh_attempt_t *a,
                          void *opaque)
{
        wk_health_attempt(opaque, wh_endpoint_app(ep), wh_endpoint_name(ep),
                          a->status, a->error, a->body_start,
                          a->body_start_len);
}

void wk_health_attempt(wk_health_t *h, const char *app, const char *id,
                       long status, const char *error, const char *body,
                       size_t body_len)
{
        if (h && id)
                wk_health_acc_attempt(h->acc, app, id, status, error, body,
                                      body_len, hb_time_now_ms());
}

void wk_health_event(wk_health_t *h, const char *app, const char *id,
                     unsigned events)
{
        if (h && id)
                wk_health_acc_event(h->acc, app, id, events);
}

void wk_health_state(wk_health_t *h, const char *app, const char *id,
                     int circuit, int disabled)
{
        if (h && id)
                wk_health_acc_state(h->acc, app, id, circuit, disabled);
}

int wk_health_get(wk_health_t *h, const char *app, const char *id,
                  wk_health_sum_t *out)
{
        return wk_health_view_sum(h->view, app, id, hb_time_now_ms(), out);
}

int wk_health_caught_up(wk_health_t *h)
{
        return atomic_load(&h->caught_up);
}

const char *wk_health_replica(const wk_health_t *h)
{
        return h->replica;
}

void wk_health_stats(wk_health_t *h, wk_health_stats_t *out)
{
        memset(out, 0, sizeof(*out));
        wk_health_acc_stats(h->acc, &out->own, &out->own_evicted);
        wk_health_view_stats(h->view, &out->records, &out->webhooks,
                             &out->replicas, &out->records_evicted);
        out->published = atomic_load(&h->published);
        out->publish_errors = atomic_load(&h->publish_errors);
}

void wk_health_destroy(wk_health_t *h)
{
        if (!h)
                return;
        if (h->started) {
                atomic_store(&h->stop, 1);
                pthread_join(h->thread, NULL);
        }
        kc_store_reader_destroy(h->reader);
        wh_store_writer_destroy(h->writer);
        wk_health_acc_destroy(h->acc);
        wk_health_view_destroy(h->view);
        for (size_t i = 0; h->props && i < 2 * h->conf.prop_count; i++)
                free(h->props[i]);
        free(h->props);
        free(h->brokers);
        free(h->topic);
        free(h);
}
