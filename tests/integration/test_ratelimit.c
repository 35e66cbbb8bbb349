/* Integration: a webhook's rate_limit holds for the deployment (SPEC
 * §4b): one worker, then two in the group, each allowing its share of
 * the source partitions, and the receiver sees ~50/s throughout. */
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

static void config(char *path, size_t size, const char *topic,
                   const char *group, uint16_t rx_port)
{
        char text[4096];

        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"%s\"; group_id = \"%s\";\n"
                 "  topics = ( \"%s\" ); commit_interval_ms = 200;\n"
                 "  properties = [ \"session.timeout.ms=6000\",\n"
                 "    \"heartbeat.interval.ms=500\" ]; };\n"
                 "delivery = { allow_networks = [ \"127.0.0.0/8\" ];\n"
                 "  max_in_flight = 100; max_in_flight_per_partition = 50;\n"
                 "  retry = { initial_ms = 100; max_ms = 5000; "
                 "max_attempts = 3; }; };\n"
                 "webhooks = (\n"
                 "  { name = \"limited\"; url = "
                 "\"http://127.0.0.1:%u/hook\";\n"
                 "    events = [ \"*\" ]; rate_limit = %d; }\n"
                 ");\nadmin = { listen = \"\"; };\n",
                 it_brokers(), group, topic, rx_port, RATE);
        it_write_temp(text, path, size);
}

static void produce(const char *topic, int n)
{
        rd_kafka_t *rk = it_producer();
        char raw[2048], id[64];

        for (int i = 0; i < n; i++) {
                snprintf(id, sizeof(id), "rl-%d", i);
                wk_sample_render((size_t)i % wk_sample_count(), id, i,
                                 1700000000000LL, raw, sizeof(raw));
                it_produce(rk, topic, i % 4, id, raw, strlen(raw));
        }
        cr_assert_eq(rd_kafka_flush(rk, 30000), 0);
        rd_kafka_destroy(rk);
}

/* The rate seen over [from, from + 20 s), once that is past. */
static double rate_over_20s(int64_t from)
{
        while (it_now_ms() < from + 20000)
                usleep(100 * 1000);
        return (double)between(from, from + 20000) / 20.0;
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
        produce(topic, EVENTS);
        config(cfg, sizeof(cfg), topic, group, rx_port(rx));
        snprintf(log1, sizeof(log1), "%s.1.log", cfg);
        snprintf(log2, sizeof(log2), "%s.2.log", cfg);

        w1 = it_spawn_worker(cfg, log1);
        deadline = it_now_ms() + 30000;
        while (total() == 0) {
                cr_assert(it_now_ms() < deadline, "nothing delivered");
                usleep(50 * 1000);
        }
        start = it_now_ms();
        one = rate_over_20s(start + 2000);

        w2 = it_spawn_worker(cfg, log2);
        /* the second joins, the partitions split: shares 1/2 each */
        two = rate_over_20s(it_now_ms() + 10000);
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
