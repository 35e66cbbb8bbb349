/* Integration: `hookbridge replay` against a real broker and an
 * in-process receiver: a time window selects exactly its events, only
 * the chosen webhooks get them, the live group's offsets stay put, an
 * interrupted replay resumes without redelivering, --dry-run counts. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "cfg.h"
#include "it_util.h"
#include "rx_receiver.h"
#include "wk_sample.h"
#include "hb_time.h"
#include "wk_transform.h"

enum {
        N = 600,         /* events produced, stamped 5 h ago .. 1 h ago */
        PARTS = 3,       /* event i goes to partition i % PARTS */
        STEP_MS = 24000, /* 4 h / N between events */
        CONCURRENCY = 4, /* delivery.concurrency of the configuration */
};

/* The window the tests replay: events 300..449 (2 h .. 3 h after the
 * first one). */
#define WIN_FIRST 300
#define WIN_END   450

/* Deliveries the receiver saw: path and webhook-id. */
static struct {
        pthread_mutex_t lock;
        char (*path)[8];
        char (*id)[32];
        size_t n, cap;
} seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_request(const rx_request_t *req, void *opaque)
{
        (void)opaque;
        pthread_mutex_lock(&seen.lock);
        if (seen.n == seen.cap) {
                seen.cap = seen.cap ? seen.cap * 2 : 1024;
                seen.path = realloc(seen.path, seen.cap * sizeof(*seen.path));
                seen.id = realloc(seen.id, seen.cap * sizeof(*seen.id));
        }
        snprintf(seen.path[seen.n], sizeof(seen.path[0]), "%s", req->path);
        snprintf(seen.id[seen.n], sizeof(seen.id[0]), "%s", req->webhook_id);
        seen.n++;
        pthread_mutex_unlock(&seen.lock);
}

static size_t seen_count(void)
{
        size_t n;

        pthread_mutex_lock(&seen.lock);
        n = seen.n;
        pthread_mutex_unlock(&seen.lock);
        return n;
}

/* How often \p path got event \p i ("rp-<i>"), from delivery \p from on. */
static int got(const char *path, int i, size_t from)
{
        char id[32];
        int k = 0;

        snprintf(id, sizeof(id), "rp-%d", i);
        pthread_mutex_lock(&seen.lock);
        for (size_t r = from; r < seen.n; r++)
                k += !strcmp(seen.path[r], path) && !strcmp(seen.id[r], id);
        pthread_mutex_unlock(&seen.lock);
        return k;
}

static int64_t wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One replay setup: a topic of N stamped events, a configuration with
 * webhooks a (every type) and b (a few types), a receiver. */
typedef struct fixture_s {
        char topic[96], group[128], cfg[256];
        int64_t ts0; /* stamp of event 0 */
        rx_t *rx;
        cfg_t *config;
} fixture_t;

static void setup_fixture(fixture_t *f, const char *name)
{
        rx_conf_t rc = {.cb = on_request};
        char errstr[4096], text[4096], raw[2048], id[32], key[32];
        rd_kafka_t *rk;

        f->rx = rx_start(&rc, errstr, sizeof(errstr));
        cr_assert_not_null(f->rx, "receiver: %s", errstr);
        it_unique(name, f->topic, sizeof(f->topic));
        snprintf(f->group, sizeof(f->group), "%s-live", f->topic);
        it_create_topic(f->topic, PARTS);
        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"%s\"; group_id = \"%s\";\n"
                 "  topics = ( { name = \"%s\"; app_token = \"NX-rp\"; } );\n"
                 "  commit_interval_ms = 100; };\n"
                 "delivery = { allow_networks = [ \"127.0.0.0/8\" ];\n"
                 "  concurrency = %d; };\n"
                 "webhooks = (\n"
                 "  { name = \"a\"; url = \"http://127.0.0.1:%u/a\";\n"
                 "    events = [ \"*\" ]; },\n"
                 "  { name = \"b\"; url = \"http://127.0.0.1:%u/b\";\n"
                 "    events = [ \"flows.completed\", \"nps.score\", "
                 "\"forms.submitted\" ]; }\n"
                 ");\nadmin = { listen = \"\"; };\n",
                 it_brokers(), f->group, f->topic, CONCURRENCY, rx_port(f->rx),
                 rx_port(f->rx));
        it_write_temp(text, f->cfg, sizeof(f->cfg));
        f->config = cfg_load(f->cfg, errstr, sizeof(errstr));
        cr_assert_not_null(f->config, "config: %s", errstr);

        /* Kafka timestamps and raw event timestamps alike: 5 h ago, then
         * every STEP_MS, in order within each partition. */
        f->ts0 = wall_ms() - 5 * 3600 * 1000LL;
        rk = it_producer();
        for (int i = 0; i < N; i++) {
                int64_t ts = f->ts0 + (int64_t)i * STEP_MS;
                rd_kafka_resp_err_t err;
                snprintf(id, sizeof(id), "rp-%d", i);
                snprintf(key, sizeof(key), "user-%d", i);
                wk_sample_render((size_t)i % wk_sample_count(), id, i, ts, raw,
                                 sizeof(raw));
                err = rd_kafka_producev(
                        rk, RD_KAFKA_V_TOPIC(f->topic),
                        RD_KAFKA_V_PARTITION(i % PARTS),
                        RD_KAFKA_V_KEY(key, strlen(key)),
                        RD_KAFKA_V_VALUE(raw, strlen(raw)),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_END);
                cr_assert_eq(err, 0, "produce: %s", rd_kafka_err2str(err));
                rd_kafka_poll(rk, 0);
        }
        cr_assert_eq(rd_kafka_flush(rk, 30000), 0);
        rd_kafka_destroy(rk);
}

static void teardown_fixture(fixture_t *f)
{
        rx_stop(f->rx);
        cfg_destroy(f->config);
}

/* --from as ISO-8601 with an offset, --to as epoch milliseconds. */
static void window_args(const fixture_t *f, char *from, size_t from_size,
                        char *to, size_t to_size)
{
        int64_t from_ms = f->ts0 + (int64_t)WIN_FIRST * STEP_MS;
        char iso[64];

        /* the same instant written in UTC+02:00 */
        hb_time_format(from_ms + 2 * 3600 * 1000LL, iso, sizeof(iso));
        cr_assert(strlen(iso) > 1 && iso[strlen(iso) - 1] == 'Z');
        iso[strlen(iso) - 1] = '\0';
        snprintf(from, from_size, "%s+02:00", iso);
        snprintf(to, to_size, "%lld",
                 (long long)(f->ts0 + (int64_t)WIN_END * STEP_MS));
}

/* Does webhook \p w (0 a, 1 b) want event \p i? Its type by the real
 * transformer, the subscription by the real configuration. */
static const char *event_type(int i, char *buf, size_t size)
{
        wk_mapping_t *map = wk_mapping_new();
        wk_msgmeta_t meta = {.topic = "t", .timestamp_ms = 0};
        wk_event_t *ev = NULL;
        char raw[2048], id[32], why[256];

        snprintf(id, sizeof(id), "rp-%d", i);
        wk_sample_render((size_t)i % wk_sample_count(), id, i, 1, raw,
                         sizeof(raw));
        cr_assert_eq(wk_event_parse(map, raw, strlen(raw), &meta, &ev, why,
                                    sizeof(why)),
                     WK_XF_OK, "%s", why);
        snprintf(buf, size, "%s", wk_event_type(ev));
        wk_event_destroy(ev);
        wk_mapping_destroy(map);
        return buf;
}

static int wants(const fixture_t *f, int w, int i)
{
        char type[64];

        return cfg_webhook_wants(cfg_webhook(f->config, (size_t)w),
                                 event_type(i, type, sizeof(type)));
}

/* Start `hookbridge ARGS...`; stdout and stderr to \p out_path. */
static pid_t spawn_hb(const char *const *args, const char *out_path)
{
        const char *argv[32] = {"hookbridge"};
        pid_t parent = getpid(), pid;

        for (int i = 0; args[i]; i++) {
                cr_assert(i < 30);
                argv[i + 1] = args[i];
        }
        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
                it_child_dies_with(parent, SIGKILL);
                int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                        close(fd);
                }
                execv(HB_BINARY_DIR "/hookbridge", (char *const *)argv);
                _exit(127);
        }
        return pid;
}

/* Wait for \p pid up to \p timeout_ms. @returns the exit code, or -1
 * (killed after the time-out, or died of a signal). */
static int wait_hb(pid_t pid, int timeout_ms)
{
        int64_t deadline = it_now_ms() + timeout_ms;
        int status;

        while (it_now_ms() < deadline) {
                if (waitpid(pid, &status, WNOHANG) == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
                usleep(20 * 1000);
        }
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
}

/* Run to the end; the output (stdout + stderr) into \p out. */
static int run_hb(const char *const *args, char *out, size_t size,
                  int timeout_ms)
{
        char path[] = "/tmp/hb-replay-out-XXXXXX";
        int fd = mkstemp(path), rc;
        ssize_t n;

        cr_assert(fd >= 0);
        close(fd);
        rc = wait_hb(spawn_hb(args, path), timeout_ms);
        fd = open(path, O_RDONLY);
        n = fd >= 0 ? read(fd, out, size - 1) : -1;
        out[n > 0 ? n : 0] = '\0';
        if (fd >= 0)
                close(fd);
        unlink(path);
        return rc;
}

/* The count after \p label on a line of \p out ("  a   150"), -1 when
 * absent. \p section: search after this text. */
static long count_after(const char *out, const char *section, const char *label)
{
        const char *s = strstr(out, section);
        size_t n = strlen(label);

        /* (no pattern buffer to format: any label length works) */
        for (s = s ? strstr(s, "\n  ") : NULL; s; s = strstr(s + 1, "\n  "))
                if (!strncmp(s + 3, label, n) && s[3 + n] == ' ')
                        return strtol(s + 3 + n + 1, NULL, 10);
        return -1;
}

static void live_commit(const fixture_t *f, const int64_t *offsets)
{
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(PARTS);
        rd_kafka_resp_err_t err;
        rd_kafka_t *rk;

        rd_kafka_conf_set(conf, "bootstrap.servers", it_brokers(), NULL, 0);
        rd_kafka_conf_set(conf, "group.id", f->group, NULL, 0);
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        cr_assert_not_null(rk, "%s", errstr);
        for (int i = 0; i < PARTS; i++)
                if (offsets[i] >= 0)
                        rd_kafka_topic_partition_list_add(l, f->topic, i)
                                ->offset = offsets[i];
        err = rd_kafka_commit(rk, l, 0);
        cr_assert_eq(err, 0, "commit: %s", rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_destroy(rk);
}

Test(replay, window_to_the_chosen_webhook_only, .timeout = 60)
{
        fixture_t f;
        char from[64], to[64], out[16384];
        int64_t live[PARTS] = {17, 5, -1}, after[PARTS];
        int rc;

        setup_fixture(&f, "hb-it-replay-win");
        /* The live group has a position; the replay must not move it. */
        live_commit(&f, live);
        window_args(&f, from, sizeof(from), to, sizeof(to));
        {
                const char *args[] = {"replay", "-c",   f.cfg, "--from",
                                      from,     "--to", to,    "--webhook",
                                      "a",      NULL};
                rc = run_hb(args, out, sizeof(out), 45000);
        }
        cr_assert_eq(rc, 0, "replay exit %d:\n%s", rc, out);
        /* Everything delivered was answered before the command returned. */
        for (int i = 0; i < N; i++) {
                int in = i >= WIN_FIRST && i < WIN_END;
                cr_expect_eq(got("/a", i, 0) > 0, in,
                             "event %d (%s the window): /a got it %d times", i,
                             in ? "in" : "outside", got("/a", i, 0));
                cr_expect_eq(got("/b", i, 0), 0,
                             "event %d went to /b, not chosen", i);
        }
        cr_expect_eq(seen_count(), (size_t)(WIN_END - WIN_FIRST),
                     "%zu deliveries for a window of %d", seen_count(),
                     WIN_END - WIN_FIRST);
        cr_expect(strstr(out, "replay done:") != NULL, "%s", out);
        cr_expect_eq(count_after(out, "replay done:", "consumed       "),
                     WIN_END - WIN_FIRST, "%s", out);
        cr_expect_eq(count_after(out, "replay done:", "delivered      "),
                     WIN_END - WIN_FIRST, "%s", out);
        it_committed(f.group, f.topic, PARTS, after);
        for (int i = 0; i < PARTS; i++)
                cr_expect_eq(after[i], live[i] >= 0 ? live[i] : -1001,
                             "live group's offset of partition %d moved: "
                             "%lld -> %lld",
                             i, (long long)live[i], (long long)after[i]);
        teardown_fixture(&f);
}

Test(replay, interrupted_replay_resumes_without_redelivering, .timeout = 60)
{
        fixture_t f;
        char from[64], to[64], state[256], out[16384], logpath[300];
        int64_t live[PARTS] = {3, -1, 250}, after[PARTS];
        size_t first_run, dup = 0, missing = 0, owed_total = 0;
        json_object *st, *parts;
        int rc, fd;
        pid_t pid;

        setup_fixture(&f, "hb-it-replay-resume");
        live_commit(&f, live);
        window_args(&f, from, sizeof(from), to, sizeof(to));
        snprintf(state, sizeof(state), "/tmp/hb-replay-state-XXXXXX");
        fd = mkstemp(state);
        cr_assert(fd >= 0);
        close(fd);
        unlink(state); /* a fresh replay: no state file yet */
        snprintf(logpath, sizeof(logpath), "%s.log", state);
        {
                /* both webhooks; slow enough to be interrupted */
                const char *args[] = {"replay", "-c",      f.cfg, "--from",
                                      from,     "--to",    to,    "--rate",
                                      "40",     "--state", state, NULL};
                int64_t deadline = it_now_ms() + 20000;
                pid = spawn_hb(args, logpath);
                while (seen_count() < 60 && it_now_ms() < deadline)
                        usleep(10 * 1000);
                cr_assert(seen_count() >= 60, "only %zu deliveries (log: %s)",
                          seen_count(), logpath);
                kill(pid, SIGINT);
                rc = wait_hb(pid, 20000);
                cr_assert_eq(rc, 130, "interrupted replay exit %d (log: %s)",
                             rc, logpath);
                first_run = seen_count();
                for (int i = WIN_FIRST; i < WIN_END; i++)
                        owed_total +=
                                (size_t)(wants(&f, 0, i) + wants(&f, 1, i));
                cr_assert(first_run < owed_total,
                          "not interrupted: %zu of %zu deliveries", first_run,
                          owed_total);
                /* The same command again continues. */
                rc = run_hb(args, out, sizeof(out), 40000);
                cr_assert_eq(rc, 0, "resumed replay exit %d:\n%s", rc, out);
        }
        for (int i = 0; i < N; i++) {
                for (int w = 0; w < 2; w++) {
                        const char *path = w ? "/b" : "/a";
                        int owed = i >= WIN_FIRST && i < WIN_END &&
                                   wants(&f, w, i);
                        int total = got(path, i, 0);
                        cr_expect(owed ? total >= 1 : total == 0,
                                  "%s got event %d %d times (owed: %d)", path,
                                  i, total, owed);
                        missing += owed && !total;
                        /* delivered in the first run and again after */
                        if (got(path, i, first_run) &&
                            got(path, i, 0) > got(path, i, first_run))
                                dup++;
                }
        }
        cr_expect_eq(missing, 0);
        cr_expect(dup <= CONCURRENCY,
                  "%zu deliveries of the first run redelivered (at most the "
                  "%d in flight may be)",
                  dup, CONCURRENCY);
        cr_log_info("first run %zu deliveries, total %zu, redelivered %zu",
                    first_run, seen_count(), dup);

        /* The state says everything finished; a third run does nothing. */
        st = json_object_from_file(state);
        cr_assert_not_null(st, "state file %s unreadable", state);
        cr_assert(json_object_object_get_ex(st, "partitions", &parts));
        cr_assert_eq(json_object_array_length(parts), PARTS);
        for (size_t i = 0; i < PARTS; i++) {
                json_object *p = json_object_array_get_idx(parts, i), *next,
                            *end;
                cr_assert(json_object_object_get_ex(p, "next", &next) &&
                          json_object_object_get_ex(p, "end", &end));
                cr_expect_eq(json_object_get_int64(next),
                             json_object_get_int64(end));
        }
        json_object_put(st);
        {
                const char *args[] = {"replay", "-c",      f.cfg, "--from",
                                      from,     "--to",    to,    "--rate",
                                      "40",     "--state", state, NULL};
                size_t before = seen_count();
                rc = run_hb(args, out, sizeof(out), 30000);
                cr_expect_eq(rc, 0, "%s", out);
                cr_expect_eq(seen_count(), before);
        }
        /* Another window with the same state file is refused. */
        {
                const char *args[] = {"replay", "-c",      f.cfg, "--from",
                                      from,     "--state", state, NULL};
                rc = run_hb(args, out, sizeof(out), 30000);
                cr_expect_eq(rc, 1, "%s", out);
                cr_expect(strstr(out, "belongs to another replay") != NULL,
                          "%s", out);
        }
        it_committed(f.group, f.topic, PARTS, after);
        for (int i = 0; i < PARTS; i++)
                cr_expect_eq(after[i], live[i] >= 0 ? live[i] : -1001,
                             "live group's offset of partition %d moved", i);
        unlink(state);
        unlink(logpath);
        teardown_fixture(&f);
}

Test(replay, dry_run_counts_per_webhook_and_type, .timeout = 60)
{
        fixture_t f;
        char from[64], to[64], out[16384], type[64];
        long want_a = 0, want_b = 0;
        struct {
                char type[64];
                long n;
        } types[32];
        size_t nt = 0;
        int rc;

        setup_fixture(&f, "hb-it-replay-dry");
        window_args(&f, from, sizeof(from), to, sizeof(to));
        for (int i = WIN_FIRST; i < WIN_END; i++) {
                size_t t;
                want_a += wants(&f, 0, i);
                want_b += wants(&f, 1, i);
                event_type(i, type, sizeof(type));
                for (t = 0; t < nt && strcmp(types[t].type, type); t++)
                        ;
                if (t == nt) {
                        cr_assert(nt < 32);
                        snprintf(types[nt].type, sizeof(types[0].type), "%s",
                                 type);
                        types[nt++].n = 0;
                }
                types[t].n++;
        }
        cr_assert(want_b > 0 && want_b < want_a);
        {
                const char *args[] = {"replay", "-c",        f.cfg,
                                      "--from", from,        "--to",
                                      to,       "--dry-run", NULL};
                rc = run_hb(args, out, sizeof(out), 45000);
        }
        cr_assert_eq(rc, 0, "dry run exit %d:\n%s", rc, out);
        cr_expect_eq(count_after(out, "per webhook", "a"), want_a, "%s", out);
        cr_expect_eq(count_after(out, "per webhook", "b"), want_b, "%s", out);
        for (size_t t = 0; t < nt; t++)
                cr_expect_eq(
                        count_after(out, "per webhook type", types[t].type),
                        types[t].n, "type %s:\n%s", types[t].type, out);
        cr_expect_eq(count_after(out, "replay done:", "consumed       "),
                     WIN_END - WIN_FIRST, "%s", out);
        /* Nothing was delivered. */
        usleep(200 * 1000);
        cr_expect_eq(seen_count(), 0);

        /* Only the chosen webhook is counted. */
        {
                const char *args[] = {"replay",    "-c",   f.cfg, "--from",
                                      from,        "--to", to,    "--dry-run",
                                      "--webhook", "b",    NULL};
                rc = run_hb(args, out, sizeof(out), 45000);
        }
        cr_assert_eq(rc, 0, "%s", out);
        cr_expect_eq(count_after(out, "per webhook", "a"), 0, "%s", out);
        cr_expect_eq(count_after(out, "per webhook", "b"), want_b, "%s", out);
        cr_expect_eq(seen_count(), 0);
        teardown_fixture(&f);
}

Test(replay, empty_windows_and_bad_arguments, .timeout = 60)
{
        fixture_t f;
        char out[16384], after_last[32], tiny_to[32];
        int rc;

        setup_fixture(&f, "hb-it-replay-empty");
        /* After the last event: every partition empty, done at once. */
        snprintf(after_last, sizeof(after_last), "%lld",
                 (long long)(f.ts0 + (int64_t)N * STEP_MS));
        {
                const char *args[] = {"replay", "-c",       f.cfg,
                                      "--from", after_last, NULL};
                rc = run_hb(args, out, sizeof(out), 30000);
        }
        cr_expect_eq(rc, 0, "%s", out);
        cr_expect_eq(count_after(out, "replay done:", "window         "), 0,
                     "%s", out);
        /* Between two events: nothing either. */
        snprintf(after_last, sizeof(after_last), "%lld",
                 (long long)(f.ts0 + 1000));
        snprintf(tiny_to, sizeof(tiny_to), "%lld", (long long)(f.ts0 + 2000));
        {
                const char *args[] = {"replay",   "-c",   f.cfg,   "--from",
                                      after_last, "--to", tiny_to, NULL};
                rc = run_hb(args, out, sizeof(out), 30000);
        }
        cr_expect_eq(rc, 0, "%s", out);
        cr_expect_eq(count_after(out, "replay done:", "window         "), 0,
                     "%s", out);
        cr_expect_eq(seen_count(), 0);
        /* Refused before anything starts. */
        {
                const char *args[] = {"replay", "-c",   f.cfg, "--from",
                                      "-1h",    "--to", "-2h", NULL};
                rc = run_hb(args, out, sizeof(out), 30000);
                cr_expect_eq(rc, 1, "%s", out);
                cr_expect(strstr(out, "must be later") != NULL, "%s", out);
        }
        {
                const char *args[] = {"replay", "-c",        f.cfg,
                                      "--from", "yesterday", NULL};
                rc = run_hb(args, out, sizeof(out), 30000);
                cr_expect_eq(rc, 1, "%s", out);
                cr_expect(strstr(out, "TIME 'yesterday'") != NULL, "%s", out);
        }
        {
                const char *args[] = {"replay", "-c",        f.cfg,  "--from",
                                      "-1h",    "--webhook", "nope", NULL};
                rc = run_hb(args, out, sizeof(out), 30000);
                cr_expect_eq(rc, 1, "%s", out);
                cr_expect(strstr(out, "--webhook nope") != NULL, "%s", out);
        }
        {
                const char *args[] = {"replay", "-c",      f.cfg,   "--from",
                                      "-1h",    "--topic", "other", NULL};
                rc = run_hb(args, out, sizeof(out), 30000);
                cr_expect_eq(rc, 1, "%s", out);
                cr_expect(strstr(out, "not in kafka.topics") != NULL, "%s",
                          out);
        }
        {
                const char *args[] = {"replay",  "-c",     f.cfg,
                                      "--from",  "-1h",    "--dry-run",
                                      "--state", "/tmp/x", NULL};
                rc = run_hb(args, out, sizeof(out), 30000);
                cr_expect_eq(rc, 64, "%s", out);
        }
        {
                const char *args[] = {"replay", "-c", f.cfg, NULL};
                rc = run_hb(args, out, sizeof(out), 30000);
                cr_expect_eq(rc, 64, "%s", out);
                cr_expect(strstr(out, "missing --from") != NULL, "%s", out);
        }
        cr_expect_eq(seen_count(), 0);
        teardown_fixture(&f);
}

/* @returns 1 once the file \p path holds \p needle, 0 after \p timeout_ms. */
static int log_within(const char *path, const char *needle, int timeout_ms)
{
        static char buf[1 << 16];
        int64_t deadline = it_now_ms() + timeout_ms;

        for (;;) {
                FILE *f = fopen(path, "r");
                size_t n = 0;

                if (f) {
                        n = fread(buf, 1, sizeof(buf) - 1, f);
                        fclose(f);
                }
                buf[n] = '\0';
                if (strstr(buf, needle))
                        return 1;
                if (it_now_ms() > deadline)
                        return 0;
                usleep(20 * 1000);
        }
}

Test(replay, second_signal_abandons_in_flight_and_they_come_again,
     .timeout = 60)
{
        fixture_t f;
        char from[64], to[64], state[256], out[16384], logpath[300];
        const char *args[] = {"replay", "-c",      f.cfg, "--from",
                              from,     "--to",    to,    "--webhook",
                              "a",      "--state", state, NULL};
        size_t extra = 0, first_run;
        int64_t t0;
        int rc, fd;
        pid_t pid;

        setup_fixture(&f, "hb-it-replay-abandon");
        window_args(&f, from, sizeof(from), to, sizeof(to));
        snprintf(state, sizeof(state), "/tmp/hb-replay-state-XXXXXX");
        fd = mkstemp(state);
        cr_assert(fd >= 0);
        close(fd);
        unlink(state);
        snprintf(logpath, sizeof(logpath), "%s.log", state);
        /* 40 quick answers, then every request hangs for 20 s. */
        cr_assert_eq(rx_set_script(f.rx, "/a", "200*40,delay=20000"), 0);
        pid = spawn_hb(args, logpath);
        t0 = it_now_ms();
        while (seen_count() < 41 && it_now_ms() - t0 < 20000)
                usleep(10 * 1000);
        cr_assert(seen_count() >= 41, "only %zu deliveries (log: %s)",
                  seen_count(), logpath);
        usleep(300 * 1000);
        /* The first signal drains (would wait for the hung requests), the
         * second abandons them at once. */
        kill(pid, SIGINT);
        /* handled (it drains) before the second: two SIGINTs pending at
         * once would be one */
        cr_assert(log_within(logpath, "stopping: draining", 30000),
                  "no 'stopping: draining' 30 s after SIGINT (log: %s)",
                  logpath);
        t0 = it_now_ms();
        kill(pid, SIGINT);
        rc = wait_hb(pid, 10000);
        cr_assert_eq(rc, 130, "exit %d (log: %s)", rc, logpath);
        cr_expect(it_now_ms() - t0 < 3000, "second signal took %lld ms",
                  (long long)(it_now_ms() - t0));
        first_run = seen_count();

        cr_assert_eq(rx_set_script(f.rx, "/a", "200"), 0);
        rc = run_hb(args, out, sizeof(out), 40000);
        cr_assert_eq(rc, 0, "resumed replay exit %d:\n%s", rc, out);
        for (int i = 0; i < N; i++) {
                int in = i >= WIN_FIRST && i < WIN_END, k = got("/a", i, 0);
                cr_expect(in ? k >= 1 : k == 0, "event %d: %d deliveries", i,
                          k);
                extra += k > 1 ? (size_t)(k - 1) : 0;
        }
        /* only what was in flight when abandoned comes again */
        cr_expect(extra >= 1 && extra <= CONCURRENCY,
                  "%zu redelivered (first run %zu requests)", extra, first_run);
        cr_log_info("first run %zu requests, redelivered %zu", first_run,
                    extra);
        unlink(state);
        unlink(logpath);
        teardown_fixture(&f);
}
