/* Integration: issue 11's proof 1, "a sick tenth", against the shared
 * broker and the real binary. 1,000 webhooks, one per app; 1,000 events/s
 * spread over the apps (event k is app k mod 1,000's), so a tenth of the
 * deliveries go to the 100 that fall sick. Timeline, one worker, one
 * topic, production at a steady rate throughout:
 *
 *   10 s warm-up, all healthy (not measured);
 *   60 s baseline, all healthy: the 900 healthy webhooks' end-to-end
 *        latency (produce to arrival) and the source lag;
 *  180 s sick: hooks 0-49 answer 503, hooks 50-99 refuse connections
 *        (their receiver stopped, its port closed); the same figures;
 *   then they recover (503s turn into 200, the receiver starts again on
 *        the same port), production stops, and every delivery still owed
 *        arrives from the retry tiers.
 *
 * Retry schedule shortened: 3 quick attempts, then tiers 2s, 10s, 30s,
 * 60s, 60s, 60s (222 s together: a delivery first failing at the start of
 * the sickness would reach the dead-letter topic 42 s after the
 * recovery, which is longer than the circuits take to close again,
 * open_ms 5 s, so nothing is exhausted), and at most ~65 s after the
 * recovery every tier record has come due.
 *
 * Asserts: lost 0 (every produced event answered 2xx by its own webhook,
 * counted exactly by webhook-id), dead-lettered 0, no event to a sick
 * webhook produced during the sickness answered 2xx before the recovery
 * and every one of them after it, no delivery to another app's webhook;
 * the source lag (/metrics, sampled every second from the end of the
 * warm-up to the end of production) below 2 s; the healthy webhooks' p99
 * during the sickness within twice the baseline's plus SICK_P99_SLACK_MS
 * (250 ms), an allowance for the shared 2-core CI machine: its
 * neighbours moved a 10 s window's p99 between 20 ms and 411 ms within
 * one all-healthy minute (1-min load 6-16), and with 50 ms four runs
 * of seven would have failed on such minutes (p99 324, 229, 350 and 359
 * ms against baselines of 77.5, 56.7, 127.9 and 103.4 ms, the slow
 * seconds at different times in each, no worker log line near them)
 * while a quieter run had
 * the sick phase's p99 below the baseline's (46.6 vs 76.8 ms); the
 * failure this guards against, healthy deliveries held behind sick ones,
 * costs seconds. The median over each phase's 10 s windows of their p99
 * (which a few noisy windows do not move) is reported beside it, not
 * asserted. Reports every figure, the worker's CPU per 1,000 events in
 * each phase and its peak RSS (VmHWM) in one
 * line. A sanitizer build asserts all but the lag and latency (see
 * SANITIZED). HB_SICK_SECONDS / HB_SICK_BASE_SECONDS shorten the two
 * phases for a quick local look (the assertions stay). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>

#include "it_faults.h"
#include "it_util.h"
#include "rx_receiver.h"
#include "wk_sample.h"

#define HOOKS      1000
#define SICK_503   50  /* hooks 0..49 */
#define SICK       100 /* hooks 50..99 refuse connections */
#define RATE       1000
#define WARMUP_S   10
#define BASE_S     60
#define SICK_S     180
#define PARTITIONS 6
#define DRAIN_MS   150000
/* the tier gauge's refresh (1 s) and commit interval, with room */
#define TIERS_SETTLE_MS 10000
#define LAG_LIMIT_S     2.0
#define METRICS_SIZE    (16 * 1024 * 1024)

/* The allowance on top of 2x the baseline's p99 (see the header). */
#define SICK_P99_SLACK_MS 250.0

/* A sanitizer build (tests/run.sh runs the real-broker tests again with
 * build-asan's worker, and this runner is built alike): the worker costs
 * about twice the CPU per event (231 against 112 ms per 1,000 events
 * here), which the shared 2-core machine turns into latency (a run at
 * 1-min load 6-11: healthy p50 6.2 ms in the baseline, 38.5 ms while
 * sick, p99 1.5 s, source lag 2.9 s). There the run checks memory safety
 * and delivery (lost, dead letters, every sick delivery after the
 * recovery) with the phases shortened to 30 s and 60 s, and reports the
 * lag and latency without asserting them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define SCHEDULE "\"2s\", \"10s\", \"30s\", \"60s\", \"60s\", \"60s\""

/* One produced event; its webhook is hook (index mod HOOKS). */
typedef struct sk_event_s {
        int64_t produced_us; /* CLOCK_REALTIME, just before producing */
        int64_t first_ok_us; /* the first 2xx answer's arrival, 0: none */
        uint16_t ok, fail;
        uint8_t dlq; /* records in the dead-letter topic */
} sk_event_t;

typedef struct sk_s {
        fx_t *f;
        pthread_mutex_t lock; /* the ledger and the counters */
        sk_event_t *ev;
        size_t cap, n;
        size_t stray, misrouted, sick_ok_while_sick;
        size_t req_503, req_sick_after; /* answers: 503s, any after recovery */
        atomic_int sick;                /* the 503 hooks answer 503 */
        atomic_int stop;                /* the producer stops */
        int64_t sick_on_us;             /* when the sickness began (realtime) */
        int64_t recovered_us;           /* when it ended, 0 before */
        rd_kafka_t *rk;
        int produce_errors;
        char produce_error[256];
        pthread_t producer;
} sk_t;

static int64_t real_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The ledger index of webhook-id \p id ("<prefix>-<index>"), or -1. */
static long id_index(const sk_t *s, const char *id)
{
        const char *prefix = fx_topic(s->f);
        size_t plen = strlen(prefix);
        char *end;
        long v;

        if (strncmp(id, prefix, plen) || id[plen] != '-' || !id[plen + 1])
                return -1;
        v = strtol(id + plen + 1, &end, 10);
        return *end ? -1 : v;
}

/* The hook number of a receiver path ("/h0123"), or -1. */
static int path_hook(const char *path)
{
        char *end;
        long v;

        if (path[0] != '/' || !path[1] || !path[2])
                return -1;
        v = strtol(path + 2, &end, 10);
        return *end || v < 0 || v >= HOOKS ? -1 : (int)v;
}

static void on_request(const rx_request_t *req, void *opaque)
{
        sk_t *s = opaque;
        int64_t now = real_us();
        long i = id_index(s, req->webhook_id);
        int hook = path_hook(req->path);
        int ok = req->status / 100 == 2;

        pthread_mutex_lock(&s->lock);
        if (hook >= 0 && hook < SICK_503)
                s->req_503 += !ok;
        if (hook >= 0 && hook < SICK && s->recovered_us)
                s->req_sick_after++;
        if (ok && hook >= 0 && hook < SICK && atomic_load(&s->sick) &&
            now > s->sick_on_us + 100000)
                s->sick_ok_while_sick++;
        if (i < 0 || (size_t)i >= s->n) {
                s->stray++;
        } else {
                sk_event_t *e = &s->ev[i];
                if (hook != (int)(i % HOOKS))
                        s->misrouted++;
                if (ok) {
                        if (!e->ok)
                                e->first_ok_us = now;
                        e->ok++;
                } else {
                        e->fail++;
                }
        }
        pthread_mutex_unlock(&s->lock);
}

/* The 503 hooks' answer while they are sick (else the script's 200). */
static int sick_step(const char *path, rx_step_t *step, void *opaque)
{
        sk_t *s = opaque;

        (void)path;
        if (!atomic_load(&s->sick))
                return 0;
        step->status = 503;
        return 1;
}

static rx_t *receiver(sk_t *s, uint16_t port, int sick)
{
        rx_conf_t c = {.port = port,
                       .cb = on_request,
                       .opaque = s,
                       .step_cb = sick ? sick_step : NULL,
                       .step_opaque = s};
        char err[256];
        rx_t *rx = rx_start(&c, err, sizeof(err));

        cr_assert_not_null(rx, "receiver on port %u: %s", (unsigned)port, err);
        return rx;
}

/*
 * Producing: RATE events a second until told to stop.
 */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        sk_t *s = opaque;

        (void)rk;
        if (!m->err)
                return;
        pthread_mutex_lock(&s->lock);
        s->produce_errors++;
        snprintf(s->produce_error, sizeof(s->produce_error), "%s",
                 rd_kafka_err2str(m->err));
        pthread_mutex_unlock(&s->lock);
}

static rd_kafka_t *producer(sk_t *s)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[512];
        rd_kafka_t *rk;

        rd_kafka_conf_set(conf, "bootstrap.servers", it_brokers(), NULL, 0);
        rd_kafka_conf_set(conf, "enable.idempotence", "true", NULL, 0);
        rd_kafka_conf_set(conf, "linger.ms", "5", NULL, 0);
        rd_kafka_conf_set_opaque(conf, s);
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        cr_assert_not_null(rk, "producer: %s", errstr);
        return rk;
}

static void *produce_main(void *arg)
{
        sk_t *s = arg;
        int64_t start = it_now_ms();
        char raw[2048], id[160], app[32];

        for (size_t k = 0; k < s->cap && !atomic_load(&s->stop); k++) {
                int64_t due = start + (int64_t)k * 1000 / RATE, now, at;
                rd_kafka_resp_err_t err;
                int len;

                while ((now = it_now_ms()) < due)
                        rd_kafka_poll(s->rk, (int)(due - now));
                snprintf(id, sizeof(id), "%s-%zu", fx_topic(s->f), k);
                snprintf(app, sizeof(app), "sk-app-%04zu", k % HOOKS);
                pthread_mutex_lock(&s->lock);
                memset(&s->ev[k], 0, sizeof(s->ev[k]));
                s->ev[k].produced_us = at = real_us();
                s->n = k + 1;
                pthread_mutex_unlock(&s->lock);
                len = wk_sample_render_app(k % wk_sample_count(), app, id,
                                           (long)(k % 5000) + 1, at / 1000, raw,
                                           sizeof(raw));
                do {
                        err = len > 0 && (size_t)len < sizeof(raw)
                                      ? rd_kafka_producev(
                                                s->rk,
                                                RD_KAFKA_V_TOPIC(
                                                        fx_topic(s->f)),
                                                RD_KAFKA_V_KEY(id, strlen(id)),
                                                RD_KAFKA_V_VALUE(raw,
                                                                 (size_t)len),
                                                RD_KAFKA_V_MSGFLAGS(
                                                        RD_KAFKA_MSG_F_COPY),
                                                RD_KAFKA_V_END)
                                      : RD_KAFKA_RESP_ERR__BAD_MSG;
                        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                rd_kafka_poll(s->rk, 10);
                } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
                if (err) {
                        pthread_mutex_lock(&s->lock);
                        s->produce_errors++;
                        snprintf(s->produce_error, sizeof(s->produce_error),
                                 "%s", rd_kafka_err2str(err));
                        pthread_mutex_unlock(&s->lock);
                }
                rd_kafka_poll(s->rk, 0);
        }
        rd_kafka_flush(s->rk, 60000);
        return NULL;
}

/*
 * The worker's configuration: 1,000 webhooks, one per app.
 */

static void write_config(sk_t *s, uint16_t healthy, uint16_t sick503,
                         uint16_t refused, uint16_t admin)
{
        FILE *fp = fopen(fx_config(s->f), "w");

        cr_assert_not_null(fp, "%s", fx_config(s->f));
        fprintf(fp,
                "kafka = { brokers = \"%s\"; group_id = \"%s\";\n"
                "  topics = ( \"%s\" ); commit_interval_ms = 200;\n"
                "  auto_offset_reset = \"earliest\"; };\n"
                "delivery = { concurrency = 64; timeout_ms = 10000;\n"
                "  connect_timeout_ms = 3000; max_in_flight = 10000;\n"
                "  dead_letter_topic = \"%s\";\n"
                "  retry = { initial_ms = 100; max_ms = 2000; "
                "max_attempts = 3;\n"
                "    schedule = [ %s ]; tier_partitions = 6; };\n"
                "  circuit = { failures = 5; open_ms = 5000; };\n"
                "  allow_networks = [ \"127.0.0.0/8\" ];\n"
                "  shutdown_timeout_ms = 5000; };\n"
                "webhooks = (\n",
                it_brokers(), fx_group(s->f), fx_topic(s->f), fx_dlq(s->f),
                SCHEDULE);
        for (int i = 0; i < HOOKS; i++) {
                uint16_t port = i < SICK_503 ? sick503
                                : i < SICK   ? refused
                                             : healthy;
                char kind = i < SICK_503 ? 's' : i < SICK ? 'r' : 'h';
                fprintf(fp,
                        "  { name = \"w%04d\"; app_token = \"sk-app-%04d\";"
                        " url = \"http://127.0.0.1:%u/%c%04d\";"
                        " events = [ \"*\" ]; }%s\n",
                        i, i, (unsigned)port, kind, i,
                        i + 1 < HOOKS ? "," : "");
        }
        fprintf(fp,
                ");\nadmin = { listen = \"127.0.0.1:%u\"; };\n"
                "log = { level = \"info\"; };\n",
                (unsigned)admin);
        cr_assert_eq(fclose(fp), 0);
}

/*
 * /metrics.
 */

typedef struct sk_metrics_s {
        double lag_s;    /* the largest hookbridge_consumer_lag_seconds */
        double in_tiers; /* hookbridge_retry_tier_records together */
} sk_metrics_t;

static int scrape(uint16_t admin, char *body, sk_metrics_t *m)
{
        if (it_http_get(admin, "/metrics", body, METRICS_SIZE) != 200)
                return -1;
        m->lag_s = it_metric_family(body, "hookbridge_consumer_lag_seconds", 0);
        m->in_tiers =
                it_metric_family(body, "hookbridge_retry_tier_records", 1);
        return 0;
}

/* Has the tier group (<group>.tiers) committed every partition of every
 * tier (SCHEDULE's, tier_partitions 6) to its log end (a partition never
 * written to has nothing to commit) within 10 s? Their topics name the
 * delays the shortest way: 60 s is "1m". */
static int tiers_committed(sk_t *s)
{
        static const char *const delays[] = {"2s", "10s", "30s",
                                             "1m", "1m",  "1m"};
        char group[200], topic[300];
        int64_t deadline = it_now_ms() + 10000, behind;
        int short_of;

        snprintf(group, sizeof(group), "%s.tiers", fx_group(s->f));
        do {
                short_of = 0;
                behind = 0;
                for (int i = 0; i < 6; i++) {
                        snprintf(topic, sizeof(topic), "%s.retry-%d-%s",
                                 fx_group(s->f), i, delays[i]);
                        short_of += it_behind_end(group, topic, 6, &behind);
                }
                if (!short_of)
                        return 1;
                usleep(200 * 1000);
        } while (it_now_ms() < deadline);
        cr_log_error("%d tier partitions short of their end, %lld records",
                     short_of, (long long)behind);
        return 0;
}

/*
 * Dead letters (none expected: read only when the topic has any).
 */

static size_t scan_dlq(sk_t *s)
{
        char errstr[512], group[200];
        const char *prefix = fx_topic(s->f);
        size_t plen = strlen(prefix), records = 0;
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *l;
        int64_t lo, hi, next, deadline = it_now_ms() + 60000;
        rd_kafka_t *rk;

        snprintf(group, sizeof(group), "%s-dlqscan", fx_group(s->f));
        rd_kafka_conf_set(conf, "bootstrap.servers", it_brokers(), NULL, 0);
        rd_kafka_conf_set(conf, "group.id", group, NULL, 0);
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        cr_assert_not_null(rk, "dead-letter reader: %s", errstr);
        cr_assert_eq(rd_kafka_query_watermark_offsets(rk, fx_dlq(s->f), 0, &lo,
                                                      &hi, 10000),
                     0);
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, fx_dlq(s->f), 0)->offset = lo;
        cr_assert_eq(rd_kafka_assign(rk, l), 0);
        rd_kafka_topic_partition_list_destroy(l);
        for (next = lo; next < hi && it_now_ms() < deadline;) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
                const char *p, *end;
                if (!m)
                        continue;
                if (m->err || !m->payload) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                next = m->offset + 1;
                records++;
                /* the raw event's messageId: "<prefix>-<index>" */
                p = m->payload;
                end = p + m->len;
                while ((p = memchr(p, prefix[0], (size_t)(end - p)))) {
                        if ((size_t)(end - p) > plen + 1 &&
                            !memcmp(p, prefix, plen) && p[plen] == '-') {
                                size_t v = 0;
                                const char *q = p + plen + 1;
                                for (; q < end && *q >= '0' && *q <= '9'; q++)
                                        v = v * 10 + (size_t)(*q - '0');
                                pthread_mutex_lock(&s->lock);
                                if (v < s->n && s->ev[v].dlq < 255)
                                        s->ev[v].dlq++;
                                pthread_mutex_unlock(&s->lock);
                                break;
                        }
                        p++;
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return records;
}

/*
 * Figures.
 */

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

        return (x > y) - (x < y);
}

typedef struct sk_lat_s {
        size_t n, missing;
        double p50_ms, p99_ms, p999_ms, max_ms;
} sk_lat_t;

/* The healthy webhooks' latency for events produced in [from, to). */
static sk_lat_t healthy_latency(sk_t *s, int64_t from, int64_t to)
{
        int64_t *v = malloc(s->n * sizeof(*v));
        sk_lat_t r = {0};

        cr_assert_not_null(v);
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n; i++) {
                const sk_event_t *e = &s->ev[i];
                if (i % HOOKS < SICK || e->produced_us < from ||
                    e->produced_us >= to)
                        continue;
                if (e->ok)
                        v[r.n++] = e->first_ok_us - e->produced_us;
                else
                        r.missing++;
        }
        pthread_mutex_unlock(&s->lock);
        if (r.n) {
                qsort(v, r.n, sizeof(*v), cmp_i64);
                r.p50_ms = (double)v[r.n * 50 / 100] / 1000.0;
                r.p99_ms = (double)v[r.n * 99 / 100] / 1000.0;
                r.p999_ms = (double)v[r.n * 999 / 1000] / 1000.0;
                r.max_ms = (double)v[r.n - 1] / 1000.0;
        }
        free(v);
        return r;
}

#define WINDOW_US   10000000 /* 10 s */
#define MAX_WINDOWS 64

/* The healthy p99 (ms) of each whole 10 s of production in [from, to)
 * into \p out, and as "a,b,c" into \p text. @returns how many. */
static size_t window_p99s(sk_t *s, int64_t from, int64_t to, double *out,
                          char *text, size_t size)
{
        size_t n = 0, len = 0;

        text[0] = '\0';
        for (int64_t t = from; t + WINDOW_US <= to && n < MAX_WINDOWS;
             t += WINDOW_US) {
                out[n] = healthy_latency(s, t, t + WINDOW_US).p99_ms;
                if (len < size)
                        len += (size_t)snprintf(text + len, size - len,
                                                "%s%.0f", n ? "," : "", out[n]);
                n++;
        }
        return n;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

/* The median of \p v[0..n) (sorted in place), 0 for none. */
static double median(double *v, size_t n)
{
        if (!n)
                return 0;
        qsort(v, n, sizeof(*v), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static size_t delivered(sk_t *s)
{
        size_t n = 0;

        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n; i++)
                n += s->ev[i].ok > 0;
        pthread_mutex_unlock(&s->lock);
        return n;
}

/* CPU seconds (user + system) \p pid used so far, -1 if unknown. */
static double cpu_seconds(pid_t pid)
{
        char path[64], buf[1024], *p;
        unsigned long long ut, st;
        size_t n;
        FILE *fp;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        fp = fopen(path, "r");
        if (!fp)
                return -1;
        n = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
        buf[n] = '\0';
        /* after "(comm)": state, then fields 4..13, utime and stime */
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 2,
                         "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                         "%llu %llu",
                         &ut, &st) != 2)
                return -1;
        return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* With $HB_SICK_DUMP: every event's produce time, first 2xx and hook,
 * one line each, for a closer look at where a tail comes from. */
static void dump(sk_t *s)
{
        const char *path = getenv("HB_SICK_DUMP");
        FILE *fp = path && *path ? fopen(path, "w") : NULL;

        if (!fp)
                return;
        pthread_mutex_lock(&s->lock);
        fprintf(fp, "# sick_on_us=%lld recovered_us=%lld\n",
                (long long)s->sick_on_us, (long long)s->recovered_us);
        for (size_t i = 0; i < s->n; i++)
                fprintf(fp, "%lld %lld %zu %u\n",
                        (long long)s->ev[i].produced_us,
                        (long long)s->ev[i].first_ok_us, i % HOOKS,
                        (unsigned)s->ev[i].ok);
        pthread_mutex_unlock(&s->lock);
        fclose(fp);
}

/* The figures line, also appended to $HB_FAULT_REPORT when set (as the
 * fault suite's). */
static void report(const char *line)
{
        const char *out = getenv("HB_FAULT_REPORT");
        FILE *fp = out && *out ? fopen(out, "a") : NULL;

        if (fp) {
                fprintf(fp, "%s\n", line);
                fclose(fp);
        }
}

static int env_seconds(const char *name, int dflt)
{
        const char *v = getenv(name);

        return v && atoi(v) > 0 ? atoi(v) : dflt;
}

Test(sick, a_sick_tenth, .timeout = 720)
{
        const int base_s =
                env_seconds("HB_SICK_BASE_SECONDS", SANITIZED ? 30 : BASE_S);
        const int sick_s =
                env_seconds("HB_SICK_SECONDS", SANITIZED ? 60 : SICK_S);
        sk_t s = {.lock = PTHREAD_MUTEX_INITIALIZER};
        uint16_t refused_port = fx_stable_port(), admin = fx_stable_port();
        rx_t *rx_h, *rx_s, *rx_r;
        char *body = malloc(METRICS_SIZE);
        double lag_base = 0, lag_sick = 0, tiers_peak = 0, tiers_end = -1;
        double tiers_at_done = -1;
        int64_t settle_from, tiers_settle_ms;
        int tiers_done;
        int64_t t0, base_from_us, deadline, committed[PARTITIONS];
        int64_t log_end[PARTITIONS], dlq_end[1];
        size_t produced, got, dups = 0, dead = 0, lost = 0, late_bad = 0;
        size_t sick_events = 0, dlq_records = 0, scrapes_failed = 0;
        int64_t sick_last_us = 0; /* after the recovery */
        sk_lat_t base, sick;
        sk_metrics_t m;
        double allowed, load[3] = {0};
        char windows_base[256], windows_sick[512];
        double w_base[MAX_WINDOWS], w_sick[MAX_WINDOWS], med_base, med_sick;
        size_t nw_base, nw_sick, dropped;
        double cpu[3] = {-1, -1, -1}; /* baseline, sickness, recovery */
        size_t cpu_n[3] = {0};
        long rss;
        pid_t w;
        int done;

        cr_assert_not_null(body);
        s.f = fx_new("sick_tenth", 0);
        s.cap = (size_t)RATE * (WARMUP_S + base_s + sick_s + 10);
        s.ev = calloc(s.cap, sizeof(*s.ev));
        cr_assert_not_null(s.ev);
        fx_create_topics(s.f, PARTITIONS);
        rx_h = receiver(&s, 0, 0);
        rx_s = receiver(&s, 0, 1);
        rx_r = receiver(&s, refused_port, 0);
        write_config(&s, rx_port(rx_h), rx_port(rx_s), refused_port, admin);
        w = fx_spawn(s.f);
        s.rk = producer(&s);
        t0 = it_now_ms();
        cr_assert_eq(pthread_create(&s.producer, NULL, produce_main, &s), 0);

        /* warm-up, baseline, sickness: a scrape a second */
        base_from_us = real_us() + (int64_t)WARMUP_S * 1000000;
        for (int64_t tick = t0 + 1000;; tick += 1000) {
                int64_t el;
                while (it_now_ms() < tick)
                        usleep(20 * 1000);
                if (tick < it_now_ms() - 1000) /* a slow scrape */
                        tick = it_now_ms();
                el = it_now_ms() - t0;
                if (!s.sick_on_us && el >= (WARMUP_S + base_s) * 1000) {
                        /* the refusing ones' port closes first, so that
                         * nothing produced from now on can get a 2xx */
                        rx_stop(rx_r);
                        rx_r = NULL;
                        pthread_mutex_lock(&s.lock);
                        s.sick_on_us = real_us();
                        cpu_n[1] = s.n;
                        pthread_mutex_unlock(&s.lock);
                        cpu[1] = cpu_seconds(w);
                        atomic_store(&s.sick, 1);
                }
                if (el >= (WARMUP_S + base_s + sick_s) * 1000)
                        break;
                if (el < WARMUP_S * 1000)
                        continue;
                if (cpu[0] < 0) {
                        cpu[0] = cpu_seconds(w);
                        cpu_n[0] = s.n;
                }
                if (scrape(admin, body, &m) != 0) {
                        scrapes_failed++;
                        continue;
                }
                if (s.sick_on_us) {
                        if (m.lag_s > lag_sick)
                                lag_sick = m.lag_s;
                } else if (m.lag_s > lag_base) {
                        lag_base = m.lag_s;
                }
                if (m.in_tiers > tiers_peak)
                        tiers_peak = m.in_tiers;
        }
        /* recovery: 200 again, the refusing ones' receiver back on its
         * port; production stops */
        pthread_mutex_lock(&s.lock);
        s.recovered_us = real_us();
        cpu_n[2] = s.n;
        pthread_mutex_unlock(&s.lock);
        cpu[2] = cpu_seconds(w);
        atomic_store(&s.sick, 0);
        rx_r = receiver(&s, refused_port, 0);
        atomic_store(&s.stop, 1);
        pthread_join(s.producer, NULL);
        produced = s.n;
        cr_assert_eq(s.produce_errors, 0, "%d produce errors, last: %s",
                     s.produce_errors, s.produce_error);

        /* every delivery owed arrives, the tiers' from their next due
         * time */
        deadline = it_now_ms() + DRAIN_MS;
        while ((got = delivered(&s)) < produced && it_now_ms() < deadline) {
                if (scrape(admin, body, &m) == 0 && m.in_tiers > tiers_peak)
                        tiers_peak = m.in_tiers;
                sleep(1);
        }
        done = it_wait_committed_to_end(fx_group(s.f), fx_topic(s.f),
                                        PARTITIONS, 30000);
        /* the gauge as the delivery's end finds it (its refresh is once
         * a second, the tier commits every commit_interval_ms), then
         * until it is 0, bounded; and every tier partition committed to
         * its end */
        if (scrape(admin, body, &m) == 0)
                tiers_at_done = m.in_tiers;
        settle_from = it_now_ms();
        do {
                if (scrape(admin, body, &m) == 0)
                        tiers_end = m.in_tiers;
                if (tiers_end == 0)
                        break;
                usleep(100 * 1000);
        } while (it_now_ms() < settle_from + TIERS_SETTLE_MS);
        tiers_settle_ms = it_now_ms() - settle_from;
        tiers_done = tiers_committed(&s);
        rss = fx_peak_rss_kib(w);
        it_log_end(fx_dlq(s.f), 1, dlq_end);
        if (dlq_end[0] > 0)
                dlq_records = scan_dlq(&s);

        base = healthy_latency(&s, base_from_us, s.sick_on_us);
        sick = healthy_latency(&s, s.sick_on_us, s.recovered_us);
        pthread_mutex_lock(&s.lock);
        for (size_t i = 0; i < s.n; i++) {
                const sk_event_t *e = &s.ev[i];
                dups += e->ok > 1 ? e->ok - 1u : 0;
                dead += e->dlq > 0;
                lost += !e->ok && !e->dlq;
                if (i % HOOKS >= SICK || e->produced_us < s.sick_on_us)
                        continue;
                sick_events++;
                if (!e->ok || e->first_ok_us < s.recovered_us)
                        late_bad++;
                else if (e->first_ok_us - s.recovered_us > sick_last_us)
                        sick_last_us = e->first_ok_us - s.recovered_us;
        }
        pthread_mutex_unlock(&s.lock);
        dump(&s);
        dropped = fx_log_count(s.f, "delivery dropped");
        nw_base = window_p99s(&s, base_from_us, s.sick_on_us, w_base,
                              windows_base, sizeof(windows_base));
        nw_sick = window_p99s(&s, s.sick_on_us, s.recovered_us, w_sick,
                              windows_sick, sizeof(windows_sick));
        med_base = median(w_base, nw_base);
        med_sick = median(w_sick, nw_sick);
        getloadavg(load, 3);
        allowed = 2.0 * base.p99_ms + SICK_P99_SLACK_MS;
        {
                char line[3072];
                snprintf(
                        line, sizeof(line),
                        "scenario=sick_tenth sanitized=%d dropped=%zu hooks=%d "
                        "sick=%d(503:%d "
                        "refused:%d) rate=%d/s warmup_s=%d base_s=%d "
                        "sick_s=%d produced=%zu delivered=%zu "
                        "duplicates=%zu in_tiers_at_done=%.0f "
                        "in_tiers_end=%.0f in_tiers_settle_ms=%lld "
                        "tiers_committed_to_end=%d "
                        "in_tiers_peak=%.0f dead_lettered=%zu "
                        "dlq_records=%zu lost=%zu sick_events=%zu "
                        "sick_not_after_recovery=%zu "
                        "sick_last_after_recovery_s=%.1f "
                        "sick_2xx_while_sick=%zu requests_503=%zu "
                        "sick_requests_after_recovery=%zu misrouted=%zu "
                        "stray=%zu base_p50_ms=%.1f base_p99_ms=%.1f "
                        "base_p999_ms=%.1f base_n=%zu sick_p50_ms=%.1f "
                        "sick_p99_ms=%.1f sick_p999_ms=%.1f "
                        "sick_max_ms=%.1f sick_n=%zu p99_allowed_ms=%.1f "
                        "lag_base_max_s=%.2f lag_sick_max_s=%.2f "
                        "scrapes_failed=%zu peak_rss_mib=%.1f "
                        "committed_to_end=%d load=%.2f/%.2f/%.2f "
                        "worker_cpu_ms_per_1k_base=%.0f "
                        "worker_cpu_ms_per_1k_sick=%.0f "
                        "base_p99_ms_by_10s=%s sick_p99_ms_by_10s=%s "
                        "base_p99_10s_median_ms=%.1f "
                        "sick_p99_10s_median_ms=%.1f",
                        SANITIZED, dropped, HOOKS, SICK, SICK_503,
                        SICK - SICK_503, RATE, WARMUP_S, base_s, sick_s,
                        produced, delivered(&s), dups, tiers_at_done, tiers_end,
                        (long long)tiers_settle_ms, tiers_done, tiers_peak,
                        dead, dlq_records, lost, sick_events, late_bad,
                        (double)sick_last_us / 1e6, s.sick_ok_while_sick,
                        s.req_503, s.req_sick_after, s.misrouted, s.stray,
                        base.p50_ms, base.p99_ms, base.p999_ms, base.n,
                        sick.p50_ms, sick.p99_ms, sick.p999_ms, sick.max_ms,
                        sick.n, allowed, lag_base, lag_sick, scrapes_failed,
                        (double)rss / 1024.0, done, load[0], load[1], load[2],
                        (cpu[1] - cpu[0]) * 1e6 /
                                (double)(cpu_n[1] - cpu_n[0] +
                                         !(cpu_n[1] - cpu_n[0])),
                        (cpu[2] - cpu[1]) * 1e6 /
                                (double)(cpu_n[2] - cpu_n[1] +
                                         !(cpu_n[2] - cpu_n[1])),
                        windows_base, windows_sick, med_base, med_sick);
                cr_log_info("%s", line);
                fprintf(stderr, "%s\n", line);
                report(line);
        }

        cr_expect_eq(lost, 0, "%zu events lost (logs in %s)", lost,
                     fx_dir(s.f));
        cr_expect_eq(dropped, 0, "%zu deliveries dropped", dropped);
        cr_expect_eq(dead, 0, "%zu events dead-lettered", dead);
        cr_expect_eq(dlq_end[0], 0, "%lld dead letters", (long long)dlq_end[0]);
        cr_expect_eq(s.misrouted, 0, "deliveries to another app's webhook");
        cr_expect_eq(late_bad, 0,
                     "%zu of %zu events to sick webhooks not answered 2xx "
                     "after the recovery",
                     late_bad, sick_events);
        cr_expect_eq(s.sick_ok_while_sick, 0);
        cr_expect(sick_events > 0 && s.req_503 > 0);
        cr_expect(done, "the source's committed offsets did not reach its "
                        "log end");
        cr_expect(base.n > 0 && base.missing == 0 && sick.missing == 0);
        cr_expect_eq(tiers_end, 0,
                     "hookbridge_retry_tier_records %.0f, not 0, %d ms "
                     "after every delivery arrived",
                     tiers_end, TIERS_SETTLE_MS);
        cr_expect(tiers_done, "a tier partition's committed offset did not "
                              "reach its log end");
        if (!SANITIZED) {
                cr_expect(lag_base < LAG_LIMIT_S && lag_sick < LAG_LIMIT_S,
                          "source lag %.2f s (baseline) / %.2f s (sick), "
                          "limit %.1f",
                          lag_base, lag_sick, LAG_LIMIT_S);
                cr_expect(sick.p99_ms <= allowed,
                          "healthy p99 %.1f ms while sick, baseline %.1f ms "
                          "(allowed %.1f)",
                          sick.p99_ms, base.p99_ms, allowed);
        }
        cr_expect(scrapes_failed < 10, "%zu /metrics scrapes failed",
                  scrapes_failed);
        if (!done) {
                it_log_end(fx_topic(s.f), PARTITIONS, log_end);
                it_committed(fx_group(s.f), fx_topic(s.f), PARTITIONS,
                             committed);
                for (int p = 0; p < PARTITIONS; p++)
                        cr_log_error("partition %d committed %lld end %lld", p,
                                     (long long)committed[p],
                                     (long long)log_end[p]);
        }
        fx_stop(s.f, w, 30000);
        rx_stop(rx_h);
        rx_stop(rx_s);
        rx_stop(rx_r);
        rd_kafka_destroy(s.rk);
        fx_destroy(s.f);
        free(s.ev);
        free(body);
}
