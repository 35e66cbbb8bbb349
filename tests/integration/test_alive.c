/* Integration: the consumer stays in its group while HTTP is slow (issue
 * 11): a webhook whose answers hang longer than max.poll.interval.ms
 * saturates the pool, or holds the shutdown drain, and the worker is
 * neither dropped from the group nor refused its last commit. */
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

#define EVENTS 30

/* What the receiver saw: deliveries per path and event, slow ones
 * answered (or not yet). */
static struct {
        pthread_mutex_t lock;
        int fast[EVENTS], slow[EVENTS];
        int fast_total, slow_total;
        int hangs_left; /* slow answers still to hang */
        int hang_ms;
} rx_seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_request(const rx_request_t *req, void *opaque)
{
        const char *dash = strrchr(req->webhook_id, '-');
        int i = dash ? atoi(dash + 1) : -1;
        int slow = !strcmp(req->path, "/slow");

        (void)opaque;
        pthread_mutex_lock(&rx_seen.lock);
        if (i >= 0 && i < EVENTS && req->status / 100 == 2) {
                if (slow)
                        rx_seen.slow[i]++;
                else
                        rx_seen.fast[i]++;
        }
        if (slow)
                rx_seen.slow_total++;
        else
                rx_seen.fast_total++;
        pthread_mutex_unlock(&rx_seen.lock);
}

/* /slow: the first hangs_left answers come hang_ms late. */
static int step(const char *path, rx_step_t *st, void *opaque)
{
        (void)opaque;
        st->status = 200;
        if (strcmp(path, "/slow"))
                return 1;
        pthread_mutex_lock(&rx_seen.lock);
        if (rx_seen.hangs_left > 0) {
                rx_seen.hangs_left--;
                st->delay_ms = rx_seen.hang_ms;
        }
        pthread_mutex_unlock(&rx_seen.lock);
        return 1;
}

static rx_t *receiver(int hangs, int hang_ms)
{
        rx_conf_t c = {.cb = on_request, .step_cb = step};
        char err[256];
        rx_t *rx;

        pthread_mutex_lock(&rx_seen.lock);
        memset(rx_seen.fast, 0, sizeof(rx_seen.fast));
        memset(rx_seen.slow, 0, sizeof(rx_seen.slow));
        rx_seen.fast_total = rx_seen.slow_total = 0;
        rx_seen.hangs_left = hangs;
        rx_seen.hang_ms = hang_ms;
        pthread_mutex_unlock(&rx_seen.lock);
        rx = rx_start(&c, err, sizeof(err));
        cr_assert_not_null(rx, "%s", err);
        return rx;
}

/* Two connections, both of which /slow may take; librdkafka drops a
 * member that is not polled for 6 s. One delivery loop (threads = 1):
 * with more, concurrency 2 is split and the loop that owns the topic's
 * one partition has one connection. */
static void config(char *path, size_t size, const char *topic,
                   const char *group, uint16_t rx_port, uint16_t admin)
{
        char text[4096];

        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"%s\"; group_id = \"%s\";\n"
                 "  topics = ( \"%s\" ); commit_interval_ms = 100;\n"
                 "  properties = [ \"session.timeout.ms=6000\",\n"
                 "    \"heartbeat.interval.ms=500\",\n"
                 "    \"max.poll.interval.ms=6000\" ]; };\n"
                 "delivery = { allow_networks = [ \"127.0.0.0/8\" ];\n"
                 "  concurrency = 2; threads = 1; timeout_ms = 30000;\n"
                 "  shutdown_timeout_ms = 60000;\n"
                 "  retry = { initial_ms = 20; max_ms = 100; max_attempts = "
                 "2; }; };\n"
                 "webhooks = (\n"
                 "  { name = \"slow\"; url = \"http://127.0.0.1:%u/slow\";\n"
                 "    events = [ \"*\" ]; max_in_flight = 2; },\n"
                 "  { name = \"fast\"; url = \"http://127.0.0.1:%u/fast\";\n"
                 "    events = [ \"*\" ]; max_in_flight = 2; }\n"
                 ");\nadmin = { listen = \"127.0.0.1:%u\"; };\n",
                 it_brokers(), group, topic, rx_port, rx_port, admin);
        it_write_temp(text, path, size);
}

static void produce(const char *topic, const char *prefix, int n)
{
        rd_kafka_t *rk = it_producer();
        char raw[2048], id[64];

        for (int i = 0; i < n; i++) {
                snprintf(id, sizeof(id), "%s-%d", prefix, i);
                wk_sample_render((size_t)i % wk_sample_count(), id, i,
                                 1700000000000LL, raw, sizeof(raw));
                it_produce(rk, topic, 0, id, raw, strlen(raw));
        }
        cr_assert_eq(rd_kafka_flush(rk, 30000), 0);
        rd_kafka_destroy(rk);
}

static double metric(uint16_t admin, const char *series)
{
        static char body[1 << 16];

        if (it_http_get(admin, "/metrics", body, sizeof(body)) != 200)
                return -1;
        return it_metric(body, series);
}

/* Every event reached both webhooks exactly once. */
static int all_once(int *dups)
{
        int done = 1;

        *dups = 0;
        pthread_mutex_lock(&rx_seen.lock);
        for (int i = 0; i < EVENTS; i++) {
                if (rx_seen.fast[i] < 1 || rx_seen.slow[i] < 1)
                        done = 0;
                *dups += (rx_seen.fast[i] > 1) + (rx_seen.slow[i] > 1);
        }
        pthread_mutex_unlock(&rx_seen.lock);
        return done;
}

/* The worker's log mentions librdkafka dropping it for not polling. */
static int log_says_max_poll(const char *log_path)
{
        char line[4096];
        FILE *f = fopen(log_path, "r");
        int found = 0;

        cr_assert_not_null(f);
        while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, "maximum poll interval") ||
                        strstr(line, "MAXPOLL") ||
                        strstr(line, "partition lost");
        fclose(f);
        return found;
}

/* Both connections hang 9 s on /slow: the pool is saturated and nothing
 * is taken from the consumer, which must still be served. */
Test(alive, saturated_pool_keeps_the_member, .timeout = 120)
{
        char topic[96], group[96], cfg[256], logp[300];
        uint16_t admin = it_free_port();
        rx_t *rx = receiver(2, 9000);
        int64_t deadline;
        double rebalances;
        pid_t pid;
        int dups = 0, st;

        it_unique("hb-alive", topic, sizeof(topic));
        it_unique("hb-alive-g", group, sizeof(group));
        it_create_topic(topic, 1);
        config(cfg, sizeof(cfg), topic, group, rx_port(rx), admin);
        snprintf(logp, sizeof(logp), "%s.log", cfg);
        pid = it_spawn_worker(cfg, logp);
        /* joined before anything hangs */
        deadline = it_now_ms() + 30000;
        while (metric(admin, "hookbridge_assigned_partitions") != 1) {
                cr_assert(it_now_ms() < deadline, "never assigned");
                usleep(100 * 1000);
        }
        rebalances = metric(admin, "hookbridge_rebalances_total");
        produce(topic, "alive", EVENTS);
        deadline = it_now_ms() + 60000;
        while (!all_once(&dups)) {
                cr_assert(it_now_ms() < deadline,
                          "not all delivered: fast %d slow %d requests",
                          rx_seen.fast_total, rx_seen.slow_total);
                usleep(100 * 1000);
        }
        cr_assert(it_wait_committed_to_end(group, topic, 1, 20000),
                  "not committed to the end");
        cr_expect_eq(metric(admin, "hookbridge_rebalances_total"), rebalances,
                     "a rebalance while /slow hung");
        st = it_stop_worker(pid, SIGTERM, 30000);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        all_once(&dups);
        cr_expect_eq(dups, 0, "%d deliveries repeated", dups);
        cr_expect_not(log_says_max_poll(logp),
                      "the worker was dropped from its group (see %s)", logp);
        rx_stop(rx);
}

/* SIGTERM while /slow hangs 10 s: the drain waits for it, and the group
 * must keep the member so that the last commit is taken. */
Test(alive, shutdown_drain_keeps_the_member, .timeout = 120)
{
        char topic[96], group[96], cfg[256], logp[300];
        uint16_t admin = it_free_port();
        rx_t *rx = receiver(EVENTS, 10000);
        int64_t deadline, end[1], got[1];
        rx_stats_t rs;
        pid_t pid;
        int st, dups = 0;

        it_unique("hb-alive", topic, sizeof(topic));
        it_unique("hb-alive-g", group, sizeof(group));
        it_create_topic(topic, 1);
        config(cfg, sizeof(cfg), topic, group, rx_port(rx), admin);
        snprintf(logp, sizeof(logp), "%s.log", cfg);
        pid = it_spawn_worker(cfg, logp);
        deadline = it_now_ms() + 30000;
        while (metric(admin, "hookbridge_assigned_partitions") != 1) {
                cr_assert(it_now_ms() < deadline, "never assigned");
                usleep(100 * 1000);
        }
        produce(topic, "alive", 2);
        /* both slow deliveries on the wire, hanging */
        deadline = it_now_ms() + 20000;
        for (rx_stats(rx, &rs); rs.in_flight < 2; rx_stats(rx, &rs)) {
                cr_assert(it_now_ms() < deadline, "/slow never hung");
                usleep(50 * 1000);
        }
        st = it_stop_worker(pid, SIGTERM, 60000);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        pthread_mutex_lock(&rx_seen.lock);
        cr_expect(rx_seen.slow[0] == 1 && rx_seen.slow[1] == 1,
                  "the drain did not wait for /slow");
        pthread_mutex_unlock(&rx_seen.lock);
        it_log_end(topic, 1, end);
        it_committed(group, topic, 1, got);
        cr_expect_eq(got[0], end[0], "committed %lld of %lld after the drain",
                     (long long)got[0], (long long)end[0]);
        cr_expect_not(log_says_max_poll(logp),
                      "the worker was dropped from its group (see %s)", logp);
        (void)dups;
        rx_stop(rx);
}
