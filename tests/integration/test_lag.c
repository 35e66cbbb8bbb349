/* Integration: `hookbridge lag` against a real broker: exact lags from
 * known commits, ages from known message timestamps, --max-lag exit
 * codes, a running worker (also on a transactional producer's topic), an
 * unreachable broker. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "it_util.h"
#include "rx_receiver.h"
#include "wk_sample.h"

static int64_t wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the binary with \p args (NULL-terminated, after "hookbridge"),
 * stdout into \p out, stderr into \p err; killed after \p timeout_ms.
 * @returns the exit status, or -1 when it had to be killed. */
static int run_hb(const char *const *args, char *out, size_t out_size,
                  char *err, size_t err_size, int timeout_ms)
{
        char opath[] = "/tmp/hb-lag-out-XXXXXX",
             epath[] = "/tmp/hb-lag-err-XXXXXX";
        int ofd = mkstemp(opath), efd = mkstemp(epath), status = -1;
        const char *argv[32] = {"hookbridge"};
        int64_t deadline = it_now_ms() + timeout_ms;
        ssize_t n;
        pid_t parent = getpid(), pid;

        cr_assert(ofd >= 0 && efd >= 0);
        for (int i = 0; args[i]; i++) {
                cr_assert(i < 30);
                argv[i + 1] = args[i];
        }
        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
                it_child_dies_with(parent, SIGKILL);
                dup2(ofd, STDOUT_FILENO);
                dup2(efd, STDERR_FILENO);
                execv(HB_BINARY_DIR "/hookbridge", (char *const *)argv);
                _exit(127);
        }
        for (;;) {
                if (waitpid(pid, &status, WNOHANG) == pid)
                        break;
                if (it_now_ms() > deadline) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &status, 0);
                        status = -1;
                        break;
                }
                usleep(20 * 1000);
        }
        n = pread(ofd, out, out_size - 1, 0);
        out[n > 0 ? n : 0] = '\0';
        n = pread(efd, err, err_size - 1, 0);
        err[n > 0 ? n : 0] = '\0';
        close(ofd);
        close(efd);
        unlink(opath);
        unlink(epath);
        if (status == -1 || !WIFEXITED(status))
                return -1;
        return WEXITSTATUS(status);
}

/* Commit \p offsets (< 0: leave alone) of partitions 0..n-1 for \p group
 * with a plain consumer that never joins. */
static void commit(const char *group, const char *topic, int n,
                   const int64_t *offsets)
{
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(n);
        rd_kafka_resp_err_t err;
        rd_kafka_t *rk;

        rd_kafka_conf_set(conf, "bootstrap.servers", it_brokers(), NULL, 0);
        rd_kafka_conf_set(conf, "group.id", group, NULL, 0);
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        cr_assert_not_null(rk, "%s", errstr);
        for (int i = 0; i < n; i++)
                if (offsets[i] >= 0)
                        rd_kafka_topic_partition_list_add(l, topic, i)->offset =
                                offsets[i];
        err = rd_kafka_commit(rk, l, 0);
        cr_assert_eq(err, 0, "commit: %s", rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_destroy(rk);
}

/* Produce \p n events to \p partition stamped ts0 + i seconds. */
static void produce_stamped(const char *topic, int32_t partition, int n,
                            int64_t ts0)
{
        rd_kafka_t *rk = it_producer();
        char raw[2048], id[64];
        rd_kafka_resp_err_t err;

        for (int i = 0; i < n; i++) {
                snprintf(id, sizeof(id), "lag-%d-%d", (int)partition, i);
                wk_sample_render((size_t)i % wk_sample_count(), id, i,
                                 ts0 + i * 1000LL, raw, sizeof(raw));
                err = rd_kafka_producev(
                        rk, RD_KAFKA_V_TOPIC(topic),
                        RD_KAFKA_V_PARTITION(partition),
                        RD_KAFKA_V_VALUE(raw, strlen(raw)),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_TIMESTAMP(ts0 + i * 1000LL), RD_KAFKA_V_END);
                cr_assert_eq(err, 0, "produce: %s", rd_kafka_err2str(err));
        }
        cr_assert_eq(rd_kafka_flush(rk, 30000), 0);
        rd_kafka_destroy(rk);
}

static void write_config(char *path, size_t size, const char *brokers,
                         const char *topic, const char *group,
                         const char *reset, uint16_t port)
{
        char text[2048];

        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"%s\"; group_id = \"%s\";\n"
                 "  topics = ( \"%s\" ); auto_offset_reset = \"%s\";\n"
                 "  commit_interval_ms = 100; };\n"
                 "delivery = { allow_networks = [ \"127.0.0.0/8\" ]; };\n"
                 "webhooks = ( { name = \"a\"; url = "
                 "\"http://127.0.0.1:%u/a\"; events = [ \"*\" ]; } );\n"
                 "admin = { listen = \"\"; };\n",
                 brokers, group, topic, reset, port ? port : 9);
        it_write_temp(text, path, size);
}

static json_object *get(json_object *o, const char *key)
{
        json_object *v = NULL;

        cr_assert(json_object_object_get_ex(o, key, &v), "no '%s' in %s", key,
                  json_object_to_json_string(o));
        return v;
}

/* `lag --json`, parsed; asserts exit status \p want. */
static json_object *lag_json(const char *cfg, const char *max_lag, int want)
{
        static char out[65536], err[8192];
        const char *args[] = {
                "lag",   "-c", cfg, "--json", max_lag ? "--max-lag" : NULL,
                max_lag, NULL};
        int rc = run_hb(args, out, sizeof(out), err, sizeof(err), 30000);
        json_object *o;

        cr_assert_eq(rc, want, "lag exit %d, wanted %d; stderr: %s", rc, want,
                     err);
        o = json_tokener_parse(out);
        cr_assert_not_null(o, "not JSON: %s", out);
        return o;
}

static json_object *partition(json_object *doc, int i)
{
        json_object *parts = get(doc, "partitions");
        json_object *p;

        cr_assert(i < (int)json_object_array_length(parts));
        p = json_object_array_get_idx(parts, (size_t)i);
        cr_assert_eq(json_object_get_int(get(p, "partition")), i);
        return p;
}

Test(lag, exact_lags_ages_and_max_lag, .timeout = 60)
{
        enum { PARTS = 3 };
        static const int produced[PARTS] = {100, 50, 30};
        char topic[96], group[96], cfg[256], cfg_latest[256];
        int64_t ts0[PARTS], offsets[PARTS] = {40, 50, -1};
        int64_t now;
        json_object *doc, *p, *t;
        double secs, want;

        it_unique("hb-it-lag", topic, sizeof(topic));
        it_unique("hb-it-lag-group", group, sizeof(group));
        it_create_topic(topic, PARTS);
        now = wall_ms();
        /* Message i of partition p is stamped 2 h ago (+ p min) + i s. */
        for (int i = 0; i < PARTS; i++) {
                ts0[i] = now - 7200 * 1000LL + i * 60000LL;
                produce_stamped(topic, i, produced[i], ts0[i]);
        }
        commit(group, topic, PARTS, offsets);
        write_config(cfg, sizeof(cfg), it_brokers(), topic, group, "earliest",
                     0);

        doc = lag_json(cfg, NULL, 0);
        now = wall_ms();
        cr_assert_str_eq(json_object_get_string(get(doc, "group")), group);
        cr_assert_eq(json_object_array_length(get(doc, "partitions")), PARTS);
        /* p0: committed 40 of 100 */
        p = partition(doc, 0);
        cr_expect_str_eq(json_object_get_string(get(p, "topic")), topic);
        cr_expect_eq(json_object_get_int64(get(p, "committed")), 40);
        cr_expect_eq(json_object_get_int64(get(p, "log_end")), 100);
        cr_expect_eq(json_object_get_int64(get(p, "lag")), 60);
        secs = json_object_get_double(get(p, "lag_seconds"));
        want = (double)(now - (ts0[0] + 40 * 1000LL)) / 1000.0;
        cr_expect(secs >= 3590 && secs <= want + 1 && secs >= want - 30,
                  "p0 lag_seconds %.3f, expected about %.3f", secs, want);
        /* p1: committed to its end */
        p = partition(doc, 1);
        cr_expect_eq(json_object_get_int64(get(p, "committed")), 50);
        cr_expect_eq(json_object_get_int64(get(p, "log_end")), 50);
        cr_expect_eq(json_object_get_int64(get(p, "lag")), 0);
        cr_expect_eq(json_object_get_double(get(p, "lag_seconds")), 0.0);
        /* p2: nothing committed, auto_offset_reset earliest: all of it */
        p = partition(doc, 2);
        cr_expect(json_object_is_type(get(p, "committed"), json_type_null));
        cr_expect_eq(json_object_get_int64(get(p, "log_end")), 30);
        cr_expect_eq(json_object_get_int64(get(p, "lag")), 30);
        secs = json_object_get_double(get(p, "lag_seconds"));
        want = (double)(now - ts0[2]) / 1000.0;
        cr_expect(secs <= want + 1 && secs >= want - 30,
                  "p2 lag_seconds %.3f, expected about %.3f", secs, want);
        /* the topic: total lag, the oldest age */
        t = json_object_array_get_idx(get(doc, "topics"), 0);
        cr_expect_str_eq(json_object_get_string(get(t, "topic")), topic);
        cr_expect_eq(json_object_get_int64(get(t, "lag")), 90);
        cr_expect_eq(
                json_object_get_double(get(t, "max_lag_seconds")),
                json_object_get_double(get(partition(doc, 0), "lag_seconds")));
        json_object_put(doc);

        /* --max-lag: the largest partition lag is 60 */
        json_object_put(lag_json(cfg, "59", 2));
        json_object_put(lag_json(cfg, "60", 0));

        /* auto_offset_reset latest: an uncommitted partition has no lag */
        write_config(cfg_latest, sizeof(cfg_latest), it_brokers(), topic, group,
                     "latest", 0);
        doc = lag_json(cfg_latest, NULL, 0);
        p = partition(doc, 2);
        cr_expect_eq(json_object_get_int64(get(p, "lag")), 0);
        cr_expect_eq(json_object_get_double(get(p, "lag_seconds")), 0.0);
        cr_expect_eq(json_object_get_int64(get(partition(doc, 0), "lag")), 60);
        json_object_put(doc);

        /* committed to the end: no lag anywhere */
        offsets[0] = 100;
        offsets[2] = 30;
        commit(group, topic, PARTS, offsets);
        doc = lag_json(cfg, "0", 0);
        for (int i = 0; i < PARTS; i++) {
                p = partition(doc, i);
                cr_expect_eq(json_object_get_int64(get(p, "committed")),
                             produced[i]);
                cr_expect_eq(json_object_get_int64(get(p, "lag")), 0);
                cr_expect_eq(json_object_get_double(get(p, "lag_seconds")),
                             0.0);
        }
        t = json_object_array_get_idx(get(doc, "topics"), 0);
        cr_expect_eq(json_object_get_int64(get(t, "lag")), 0);
        json_object_put(doc);
}

/* Has the table in \p out a row with these first five columns? */
static int has_row(const char *out, const char *topic, const char *part,
                   const char *committed, const char *end, const char *lag)
{
        const char *want[5] = {topic, part, committed, end, lag};

        for (const char *l = out; l && *l; l = strchr(l, '\n')) {
                char cols[5][128];
                int i;
                if (*l == '\n')
                        l++;
                if (sscanf(l, "%127s %127s %127s %127s %127s", cols[0], cols[1],
                           cols[2], cols[3], cols[4]) != 5)
                        continue;
                for (i = 0; i < 5 && !strcmp(cols[i], want[i]); i++)
                        ;
                if (i == 5)
                        return 1;
        }
        return 0;
}

Test(lag, text_table, .timeout = 60)
{
        char topic[96], group[96], cfg[256], out[8192], err[4096];
        const char *args[] = {"lag", "-c", cfg, NULL};
        int64_t offsets[2] = {3, -1};

        it_unique("hb-it-lagtxt", topic, sizeof(topic));
        it_unique("hb-it-lagtxt-group", group, sizeof(group));
        it_create_topic(topic, 2);
        produce_stamped(topic, 0, 10, wall_ms() - 600000);
        commit(group, topic, 2, offsets);
        write_config(cfg, sizeof(cfg), it_brokers(), topic, group, "earliest",
                     0);
        cr_assert_eq(run_hb(args, out, sizeof(out), err, sizeof(err), 30000), 0,
                     "stderr: %s", err);
        cr_expect(strstr(out, "PARTITION") && strstr(out, "LAG-SECONDS"), "%s",
                  out);
        /* p0: committed 3, end 10, lag 7; p1: empty, nothing committed */
        cr_expect(has_row(out, topic, "0", "3", "10", "7"), "%s", out);
        cr_expect(has_row(out, topic, "1", "-", "0", "0"), "%s", out);
        cr_expect(strstr(out, "0.0\n") != NULL, "%s", out);
}

/* Requests the receiver answered, for the running-worker test. */
static volatile int received;

static void on_request(const rx_request_t *req, void *opaque)
{
        (void)req;
        (void)opaque;
        __atomic_add_fetch(&received, 1, __ATOMIC_SEQ_CST);
}

Test(lag, while_a_worker_runs, .timeout = 60)
{
        char topic[96], group[96], cfg[256], logpath[300];
        rx_conf_t rc = {.cb = on_request};
        char errstr[256];
        rx_t *rx = rx_start(&rc, errstr, sizeof(errstr));
        json_object *doc;
        pid_t pid;
        int status;

        cr_assert_not_null(rx, "%s", errstr);
        it_unique("hb-it-lagrun", topic, sizeof(topic));
        it_unique("hb-it-lagrun-group", group, sizeof(group));
        it_create_topic(topic, 2);
        produce_stamped(topic, 0, 20, wall_ms() - 60000);
        produce_stamped(topic, 1, 10, wall_ms() - 60000);
        write_config(cfg, sizeof(cfg), it_brokers(), topic, group, "earliest",
                     rx_port(rx));
        snprintf(logpath, sizeof(logpath), "%s.log", cfg);
        pid = it_spawn_worker(cfg, logpath);
        cr_assert(it_wait_committed_to_end(group, topic, 2, 40000),
                  "worker did not catch up (log: %s)", logpath);
        /* The worker is a member of the group now; lag only reads. */
        doc = lag_json(cfg, "0", 0);
        for (int i = 0; i < 2; i++) {
                json_object *p = partition(doc, i);
                cr_expect_eq(json_object_get_int64(get(p, "committed")),
                             i == 0 ? 20 : 10);
                cr_expect_eq(json_object_get_int64(get(p, "lag")), 0);
        }
        json_object_put(doc);
        status = it_stop_worker(pid, SIGTERM, 20000);
        cr_expect(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "worker did not stop cleanly (log: %s)", logpath);
        cr_expect(received >= 30);
        rx_stop(rx);
}

/* Event ids the transactional test's receiver saw, by number: "txn-K". */
enum { TXN_IDS = 64 };
static volatile int txn_seen[TXN_IDS];
static volatile int txn_other;

static void on_txn_request(const rx_request_t *req, void *opaque)
{
        int k = -1, n = 0;

        (void)opaque;
        if (sscanf(req->webhook_id, "txn-%d%n", &k, &n) == 1 &&
            req->webhook_id[n] == '\0' && k >= 0 && k < TXN_IDS)
                __atomic_add_fetch(&txn_seen[k], 1, __ATOMIC_SEQ_CST);
        else
                __atomic_add_fetch(&txn_other, 1, __ATOMIC_SEQ_CST);
}

/* One transaction of events txn-FIRST .. txn-(FIRST+N-1) to \p partition,
 * committed or aborted. */
static void txn_produce(rd_kafka_t *rk, const char *topic, int32_t partition,
                        int first, int n, int commit_it)
{
        char raw[2048], id[64];
        rd_kafka_error_t *error;

        error = rd_kafka_begin_transaction(rk);
        cr_assert_null(error, "begin: %s", rd_kafka_error_string(error));
        for (int k = first; k < first + n; k++) {
                snprintf(id, sizeof(id), "txn-%d", k);
                wk_sample_render((size_t)k % wk_sample_count(), id, k,
                                 wall_ms(), raw, sizeof(raw));
                it_produce(rk, topic, partition, NULL, raw, strlen(raw));
        }
        /* written first, so an abort leaves them in the log */
        cr_assert_eq(rd_kafka_flush(rk, 30000), 0);
        error = commit_it ? rd_kafka_commit_transaction(rk, 30000)
                          : rd_kafka_abort_transaction(rk, 30000);
        cr_assert_null(error, "%s: %s", commit_it ? "commit" : "abort",
                       rd_kafka_error_string(error));
}

/* D5 of issue 11: a transactional producer's commit (and abort) markers
 * take offsets no consumer is handed. The worker's commit goes past them
 * once everything before them is finished: lag 0, --max-lag 0 clears,
 * every committed event is delivered and no aborted one. */
Test(lag, transactional_topic_commits_past_markers, .timeout = 90)
{
        char topic[96], group[96], cfg[256], logpath[300], txid[96];
        char errstr[512];
        rx_conf_t rc = {.cb = on_txn_request};
        rx_t *rx = rx_start(&rc, errstr, sizeof(errstr));
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_error_t *error;
        int64_t end[2], committed[2];
        json_object *doc;
        rd_kafka_t *rk;
        pid_t pid;
        int status, ok;

        cr_assert_not_null(rx, "%s", errstr);
        it_unique("hb-it-lagtxn", topic, sizeof(topic));
        it_unique("hb-it-lagtxn-group", group, sizeof(group));
        it_unique("hb-it-lagtxn-tx", txid, sizeof(txid));
        it_create_topic(topic, 2);
        cr_assert_eq(rd_kafka_conf_set(conf, "bootstrap.servers", it_brokers(),
                                       errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK, "%s", errstr);
        cr_assert_eq(rd_kafka_conf_set(conf, "transactional.id", txid, errstr,
                                       sizeof(errstr)),
                     RD_KAFKA_CONF_OK, "%s", errstr);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        cr_assert_not_null(rk, "%s", errstr);
        error = rd_kafka_init_transactions(rk, 30000);
        cr_assert_null(error, "init: %s", rd_kafka_error_string(error));
        /* p0: 10 committed, 5 aborted, 10 committed; p1: 8 committed */
        txn_produce(rk, topic, 0, 0, 10, 1);
        txn_produce(rk, topic, 0, 10, 5, 0);
        txn_produce(rk, topic, 0, 15, 10, 1);
        txn_produce(rk, topic, 1, 25, 8, 1);
        rd_kafka_destroy(rk);
        /* 25 records and 3 markers; 8 records and 1 marker. The commit
         * returns once the coordinator has decided; it writes the markers
         * to the partitions after that, and until then a read-committed
         * end (what the watermark query gives) stays at the open
         * transaction's first offset: wait for them. */
        for (int64_t deadline = wall_ms() + 20000;;) {
                it_log_end(topic, 2, end);
                if ((end[0] == 28 && end[1] == 9) || wall_ms() > deadline)
                        break;
                usleep(100 * 1000);
        }
        cr_assert_eq(end[0], 28, "p0 ends at %lld", (long long)end[0]);
        cr_assert_eq(end[1], 9, "p1 ends at %lld", (long long)end[1]);

        write_config(cfg, sizeof(cfg), it_brokers(), topic, group, "earliest",
                     rx_port(rx));
        snprintf(logpath, sizeof(logpath), "%s.log", cfg);
        pid = it_spawn_worker(cfg, logpath);
        ok = it_wait_committed_to_end(group, topic, 2, 40000);
        it_committed(group, topic, 2, committed);
        cr_assert(ok,
                  "committed %lld/%lld and %lld/%lld: not past the last "
                  "transaction marker (log: %s)",
                  (long long)committed[0], (long long)end[0],
                  (long long)committed[1], (long long)end[1], logpath);
        doc = lag_json(cfg, "0", 0);
        for (int i = 0; i < 2; i++)
                cr_expect_eq(
                        json_object_get_int64(get(partition(doc, i), "lag")),
                        0);
        json_object_put(doc);
        status = it_stop_worker(pid, SIGTERM, 20000);
        cr_expect(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "worker did not stop cleanly (log: %s)", logpath);
        rx_stop(rx);
        /* nothing skipped, nothing of the aborted transaction sent */
        for (int k = 0; k < 33; k++) {
                if (k >= 10 && k < 15)
                        cr_expect_eq(txn_seen[k], 0, "aborted txn-%d sent", k);
                else
                        cr_expect(txn_seen[k] >= 1, "txn-%d not delivered", k);
        }
        cr_expect_eq(txn_other, 0);
}

Test(lag, unreachable_broker_and_missing_topic, .timeout = 60)
{
        char cfg[256], brokers[64], topic[96], out[4096], err[4096];
        const char *args[] = {"lag", "-c", cfg, NULL};
        int64_t t0;
        int rc;

        /* A port nobody listens on: a clear error within the bound. */
        snprintf(brokers, sizeof(brokers), "127.0.0.1:%u", it_free_port());
        write_config(cfg, sizeof(cfg), brokers, "events", "g", "earliest", 0);
        t0 = it_now_ms();
        rc = run_hb(args, out, sizeof(out), err, sizeof(err), 30000);
        cr_expect_eq(rc, 1, "exit %d; stderr: %s", rc, err);
        cr_expect(it_now_ms() - t0 < 15000, "took %lld ms",
                  (long long)(it_now_ms() - t0));
        cr_expect(strstr(err, "cannot reach Kafka at 127.0.0.1:") != NULL,
                  "stderr: %s", err);
        cr_expect_str_eq(out, "");

        it_unique("hb-it-lag-missing", topic, sizeof(topic));
        write_config(cfg, sizeof(cfg), it_brokers(), topic, "g", "earliest", 0);
        rc = run_hb(args, out, sizeof(out), err, sizeof(err), 30000);
        cr_expect_eq(rc, 1, "exit %d; stderr: %s", rc, err);
        cr_expect(strstr(err, "does not exist") != NULL, "stderr: %s", err);
}

Test(lag, usage_errors)
{
        char out[4096], err[4096];
        const char *no_cfg[] = {"lag", NULL};
        const char *bad_max[] = {"lag",       "-c", "/nonexistent",
                                 "--max-lag", "-3", NULL};
        const char *help[] = {"lag", "--help", NULL};

        cr_expect_eq(run_hb(no_cfg, out, sizeof(out), err, sizeof(err), 5000),
                     64);
        cr_expect_eq(run_hb(bad_max, out, sizeof(out), err, sizeof(err), 5000),
                     64);
        cr_expect_eq(run_hb(help, out, sizeof(out), err, sizeof(err), 5000), 0);
        cr_expect(strstr(out, "auto_offset_reset") != NULL);
}
