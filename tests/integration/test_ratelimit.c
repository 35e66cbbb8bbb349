/* Integration: a webhook's rate_limit holds for the deployment (SPEC
 * §4b): one worker then two (50/s), three replicas then two (100/s),
 * each allowing its share of the source partitions, and the receiver
 * sees the limit throughout. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "it_util.h"
#include "rx_receiver.h"
#include "wk_sample.h"

#define RATE   50
#define EVENTS 3200

/* When each request came (it_now_ms). */
static struct {
        pthread_mutex_t lock;
        int64_t *at;
        size_t n, cap;
} seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_request(const rx_request_t *req, void *opaque)
{
        (void)req;
        (void)opaque;
        pthread_mutex_lock(&seen.lock);
        if (seen.n == seen.cap) {
                seen.cap = seen.cap ? seen.cap * 2 : 4096;
                seen.at = realloc(seen.at, seen.cap * sizeof(*seen.at));
        }
        seen.at[seen.n++] = it_now_ms();
        pthread_mutex_unlock(&seen.lock);
}

/* Requests in [from, to). */
static size_t between(int64_t from, int64_t to)
{
        size_t n = 0;

        pthread_mutex_lock(&seen.lock);
        for (size_t i = 0; i < seen.n; i++)
                n += seen.at[i] >= from && seen.at[i] < to;
        pthread_mutex_unlock(&seen.lock);
        return n;
}

static size_t total(void)
{
        size_t n;

        pthread_mutex_lock(&seen.lock);
        n = seen.n;
        pthread_mutex_unlock(&seen.lock);
        return n;
}

/* One delivery loop per process (threads = 1): the proofs count each
 * replica as one group member with its share of the rate (with the
 * CPUs' loops, three processes are six members). */
static void config(char *path, size_t size, const char *topic,
                   const char *group, uint16_t rx_port, int rate)
{
        char text[4096];

        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"%s\"; group_id = \"%s\";\n"
                 "  topics = ( \"%s\" ); commit_interval_ms = 200;\n"
                 "  properties = [ \"session.timeout.ms=6000\",\n"
                 "    \"heartbeat.interval.ms=500\" ]; };\n"
                 "delivery = { allow_networks = [ \"127.0.0.0/8\" ];\n"
                 "  max_in_flight = 100; max_in_flight_per_partition = 50;\n"
                 "  threads = 1;\n"
                 "  retry = { initial_ms = 100; max_ms = 5000; "
                 "max_attempts = 3; }; };\n"
                 "webhooks = (\n"
                 "  { name = \"limited\"; url = "
                 "\"http://127.0.0.1:%u/hook\";\n"
                 "    events = [ \"*\" ]; rate_limit = %d; }\n"
                 ");\nadmin = { listen = \"\"; };\n",
                 it_brokers(), group, topic, rx_port, rate);
        it_write_temp(text, path, size);
}

static void produce(const char *topic, int n, int partitions)
{
        rd_kafka_t *rk = it_producer();
        char raw[2048], id[64];

        for (int i = 0; i < n; i++) {
                snprintf(id, sizeof(id), "rl-%d", i);
                wk_sample_render((size_t)i % wk_sample_count(), id, i,
                                 1700000000000LL, raw, sizeof(raw));
                it_produce(rk, topic, i % partitions, id, raw, strlen(raw));
        }
        cr_assert_eq(rd_kafka_flush(rk, 30000), 0);
        rd_kafka_destroy(rk);
}

/* The rate over [from, from + ms), once that is past. */
static double rate_over(int64_t from, int ms)
{
        while (it_now_ms() < from + ms)
                usleep(100 * 1000);
        return (double)between(from, from + ms) * 1000.0 / ms;
}

Test(ratelimit, one_then_two_workers_hold_the_deployment_limit, .timeout = 240)
{
        char topic[96], group[96], cfg[256], log1[300], log2[300];
        rx_conf_t rc = {.cb = on_request};
        char err[256];
        rx_t *rx = rx_start(&rc, err, sizeof(err));
        pid_t w1, w2;
        int64_t start, deadline;
        double one, two;

        cr_assert_not_null(rx, "%s", err);
        it_unique("hb-rl", topic, sizeof(topic));
        it_unique("hb-rl-g", group, sizeof(group));
        it_create_topic(topic, 4);
        produce(topic, EVENTS, 4);
        config(cfg, sizeof(cfg), topic, group, rx_port(rx), RATE);
        snprintf(log1, sizeof(log1), "%s.1.log", cfg);
        snprintf(log2, sizeof(log2), "%s.2.log", cfg);

        w1 = it_spawn_worker(cfg, log1);
        deadline = it_now_ms() + 30000;
        while (total() == 0) {
                cr_assert(it_now_ms() < deadline, "nothing delivered");
                usleep(50 * 1000);
        }
        start = it_now_ms();
        one = rate_over(start + 2000, 20000);

        w2 = it_spawn_worker(cfg, log2);
        /* the second joins, the partitions split: shares 1/2 each */
        two = rate_over(it_now_ms() + 10000, 20000);
        cr_assert(total() < EVENTS, "ran out of events: %zu", total());

        cr_assert_eq(it_stop_worker(w2, SIGTERM, 30000) & 0xff7f, 0);
        cr_assert_eq(it_stop_worker(w1, SIGTERM, 30000) & 0xff7f, 0);
        rx_stop(rx);
        fprintf(stderr,
                "rate_limit %d: one worker %.1f/s, two workers %.1f/s "
                "(20 s windows)\n",
                RATE, one, two);
        cr_expect(one >= RATE * 0.9 && one <= RATE * 1.1,
                  "one worker: %.1f/s for rate_limit %d", one, RATE);
        cr_expect(two >= RATE * 0.9 && two <= RATE * 1.1,
                  "two workers: %.1f/s for rate_limit %d (see %s, %s)", two,
                  RATE, log1, log2);
}

/* Proof 4 of issue 11: three replicas share rate_limit = 100 (6
 * partitions, 2 each, 33.3/s each), then one leaves (3 each, 50/s each);
 * the receiver sees 100/s +- 10% over a minute before and after. */
#define RATE3   100
#define EVENTS3 24000

/* The webhook-id of each request, in arrival order (beside seen.at). */
static struct {
        pthread_mutex_t lock;
        char (*id)[32];
        int64_t *at;
        size_t n, cap;
} ids = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_request3(const rx_request_t *req, void *opaque)
{
        (void)opaque;
        pthread_mutex_lock(&ids.lock);
        if (ids.n == ids.cap) {
                ids.cap = ids.cap ? ids.cap * 2 : 16384;
                ids.id = realloc(ids.id, ids.cap * sizeof(*ids.id));
                ids.at = realloc(ids.at, ids.cap * sizeof(*ids.at));
        }
        snprintf(ids.id[ids.n], sizeof(ids.id[ids.n]), "%s", req->webhook_id);
        ids.at[ids.n++] = it_now_ms();
        pthread_mutex_unlock(&ids.lock);
        on_request(req, opaque);
}

/* Event number of "rl-N", or -1. */
static long event_no(const char *id)
{
        char *end;
        long n;

        if (strncmp(id, "rl-", 3))
                return -1;
        n = strtol(id + 3, &end, 10);
        return *end || n < 0 || n >= EVENTS3 ? -1 : n;
}

/* Requests in [from, to): \p twice gets those whose event was already
 * seen within the window, \p before those whose event was seen before
 * \p from. */
static void dups_in(int64_t from, int64_t to, size_t *twice, size_t *before)
{
        unsigned char *mark = calloc(EVENTS3, 1); /* 1: before, 2: in */

        cr_assert_not_null(mark);
        *twice = *before = 0;
        pthread_mutex_lock(&ids.lock);
        for (size_t i = 0; i < ids.n && ids.at[i] < to; i++) {
                long e = event_no(ids.id[i]);
                int in = ids.at[i] >= from;

                if (e < 0)
                        continue;
                if (in && mark[e] == 2)
                        (*twice)++;
                else if (in && mark[e] == 1)
                        (*before)++;
                if (!mark[e] || in)
                        mark[e] = in ? 2 : 1;
        }
        pthread_mutex_unlock(&ids.lock);
        free(mark);
}

/* 1 when the last "share of the partitions" line of \p log_path says
 * \p share (e.g. "0.3333"). */
static int log_share_is(const char *log_path, const char *share)
{
        FILE *f = fopen(log_path, "r");
        char line[2048];
        int is = 0;

        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f))
                if (strstr(line, "share of the partitions"))
                        is = strstr(line, share) != NULL;
        fclose(f);
        return is;
}

/* Wait up to \p timeout_ms until each of the \p n logs says \p share. */
static int wait_shares(char logs[][300], int n, const char *share,
                       int timeout_ms)
{
        int64_t deadline = it_now_ms() + timeout_ms;

        for (;;) {
                int all = 1;

                for (int i = 0; i < n; i++)
                        all = all && log_share_is(logs[i], share);
                if (all)
                        return 1;
                if (it_now_ms() >= deadline)
                        return 0;
                usleep(100 * 1000);
        }
}

#define WINDOW_MS 60000
#define SETTLE_MS 3000

Test(ratelimit, three_replicas_then_two_hold_the_deployment_limit,
     .timeout = 270)
{
        char topic[96], group[96], cfg[256], logs[3][300];
        rx_conf_t rc = {.cb = on_request3};
        char err[256];
        rx_t *rx = rx_start(&rc, err, sizeof(err));
        pid_t w[3];
        int64_t t0 = it_now_ms(), from3, from2;
        double three, two;
        size_t twice3, before3, twice2, before2;

        cr_assert_not_null(rx, "%s", err);
        it_unique("hb-rl3", topic, sizeof(topic));
        it_unique("hb-rl3-g", group, sizeof(group));
        it_create_topic(topic, 6);
        produce(topic, EVENTS3, 6);
        config(cfg, sizeof(cfg), topic, group, rx_port(rx), RATE3);
        for (int i = 0; i < 3; i++) {
                snprintf(logs[i], sizeof(logs[i]), "%s.%d.log", cfg, i + 1);
                w[i] = it_spawn_worker(cfg, logs[i]);
        }
        /* all three in: 2 partitions of 6 each */
        cr_assert(wait_shares(logs, 3, "0.3333", 40000),
                  "three replicas never held 2 of 6 each (see %s, %s, %s)",
                  logs[0], logs[1], logs[2]);
        from3 = it_now_ms() + SETTLE_MS;
        three = rate_over(from3, WINDOW_MS);
        cr_assert(wait_shares(logs, 3, "0.3333", 0),
                  "a rebalance during the three-replica window");

        cr_assert_eq(it_stop_worker(w[2], SIGTERM, 30000) & 0xff7f, 0);
        /* the two left: 3 partitions of 6 each */
        cr_assert(wait_shares(logs, 2, "0.5000", 30000),
                  "two replicas never held 3 of 6 each (see %s, %s)", logs[0],
                  logs[1]);
        from2 = it_now_ms() + SETTLE_MS;
        two = rate_over(from2, WINDOW_MS);
        cr_assert(wait_shares(logs, 2, "0.5000", 0),
                  "a rebalance during the two-replica window");
        cr_assert(total() < EVENTS3, "ran out of events: %zu", total());

        cr_assert_eq(it_stop_worker(w[1], SIGTERM, 30000) & 0xff7f, 0);
        cr_assert_eq(it_stop_worker(w[0], SIGTERM, 30000) & 0xff7f, 0);
        rx_stop(rx);
        dups_in(from3, from3 + WINDOW_MS, &twice3, &before3);
        dups_in(from2, from2 + WINDOW_MS, &twice2, &before2);
        cr_log_info("rate_limit %d, 6 partitions: three replicas %.1f/s, "
                    "then two %.1f/s (%d s windows); repeats within the "
                    "windows %zu, %zu; of deliveries before them %zu, %zu; "
                    "%zu requests in %.0f s",
                    RATE3, three, two, WINDOW_MS / 1000, twice3, twice2,
                    before3, before2, total(),
                    (double)(it_now_ms() - t0) / 1000.0);
        cr_expect(three >= RATE3 * 0.9 && three <= RATE3 * 1.1,
                  "three replicas: %.1f/s for rate_limit %d (see %s, %s, %s)",
                  three, RATE3, logs[0], logs[1], logs[2]);
        cr_expect(two >= RATE3 * 0.9 && two <= RATE3 * 1.1,
                  "two replicas: %.1f/s for rate_limit %d (see %s, %s)", two,
                  RATE3, logs[0], logs[1]);
        cr_expect(twice3 == 0 && twice2 == 0 && before3 == 0 && before2 == 0,
                  "duplicates in the windows: within %zu, %zu; of earlier "
                  "deliveries %zu, %zu",
                  twice3, twice2, before3, before2);
}
