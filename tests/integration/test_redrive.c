/* Integration: `hookbridge redrive` against a real broker and an
 * in-process receiver. A worker dead-letters every delivery to two
 * failing webhooks (a: 500 for good, exhausted after two quick attempts
 * and one 250 ms retry tier; b: 400, permanent at once), plus
 * bad inputs and one value-omitted dead letter; then, the receiver fixed,
 * redrive's --dry-run counts are exact, its filters (--webhook, --app,
 * --reason, --from/--to) select exactly, an interrupted run resumed with
 * --state sends nothing twice, every sendable dead letter arrives signed
 * with its webhook-id (lost 0), a failure again leaves the dead-letter
 * topic as it was, and no group offset is touched. */
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

#include "hb_rec.h"
#include "hb_time.h"
#include "it_util.h"
#include "rx_receiver.h"
#include "wk_sample.h"

enum {
        N1 = 30,      /* events of phase 1 (dead-lettered before tb) */
        N2 = 30,      /* events of phase 2 (after tb) */
        N = N1 + N2,  /* each one dead-lettered for a and for b */
        BAD = 5,      /* bad inputs in phase 1 (no webhook) */
        PARTS = 3,    /* source partitions */
        DLT_PARTS = 2 /* dead-letter topic partitions */
};
#define SECRET "whsec_cmVkcml2ZS1pbnRlZ3JhdGlvbi1zZWNyZXQ="

/* Requests the receiver saw. */
typedef struct req_s {
        char path[8];
        char id[32];
        int verified;
        int status;
} req_t;

static struct {
        pthread_mutex_t lock;
        req_t *r;
        size_t n, cap;
} seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_request(const rx_request_t *req, void *opaque)
{
        (void)opaque;
        pthread_mutex_lock(&seen.lock);
        if (seen.n == seen.cap) {
                seen.cap = seen.cap ? seen.cap * 2 : 1024;
                seen.r = realloc(seen.r, seen.cap * sizeof(*seen.r));
        }
        snprintf(seen.r[seen.n].path, sizeof(seen.r[0].path), "%s", req->path);
        snprintf(seen.r[seen.n].id, sizeof(seen.r[0].id), "%s",
                 req->webhook_id);
        seen.r[seen.n].verified = req->verified;
        seen.r[seen.n].status = req->status;
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

/* 2xx requests for \p path of event \p i ("rd-<i>") from request \p from
 * on; *\p bad counts those whose signature did not verify. */
static int got(const char *path, int i, size_t from, int *bad)
{
        char id[32];
        int k = 0;

        snprintf(id, sizeof(id), "rd-%d", i);
        pthread_mutex_lock(&seen.lock);
        for (size_t r = from; r < seen.n; r++)
                if (!strcmp(seen.r[r].path, path) &&
                    !strcmp(seen.r[r].id, id) && seen.r[r].status == 200) {
                        k++;
                        if (bad && seen.r[r].verified != 1)
                                (*bad)++;
                }
        pthread_mutex_unlock(&seen.lock);
        return k;
}

/* Requests for \p path from \p from on (any status). */
static size_t count_path(const char *path, size_t from)
{
        size_t k = 0;

        pthread_mutex_lock(&seen.lock);
        for (size_t r = from; r < seen.n; r++)
                k += !strcmp(seen.r[r].path, path);
        pthread_mutex_unlock(&seen.lock);
        return k;
}

static int64_t wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
                execv(it_hookbridge(), (char *const *)argv);
                _exit(127);
        }
        return pid;
}

/* Wait for \p pid up to \p timeout_ms. @returns the exit code, or -1. */
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

static void read_file(const char *path, char *out, size_t size)
{
        int fd = open(path, O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, out, size - 1) : -1;

        out[n > 0 ? n : 0] = '\0';
        if (fd >= 0)
                close(fd);
}

/* Run to the end; the output (stdout + stderr) into \p out. */
static int run_hb(const char *const *args, char *out, size_t size,
                  int timeout_ms)
{
        char path[] = "/tmp/hb-redrive-out-XXXXXX";
        int fd = mkstemp(path), rc;

        cr_assert(fd >= 0);
        close(fd);
        rc = wait_hb(spawn_hb(args, path), timeout_ms);
        read_file(path, out, size);
        unlink(path);
        return rc;
}

/* The number after \p label at the start of a summary line. */
static long count_of(const char *out, const char *label)
{
        char pat[64];
        const char *s;

        snprintf(pat, sizeof(pat), "\n  %s ", label);
        s = strstr(out, pat);
        if (!s)
                return -1;
        s += strlen(pat);
        while (*s == ' ')
                s++;
        return strtol(s, NULL, 10);
}

/* The table's row (webhook, reason): column \p col (0 selected, 1
 * sendable, 2 delivered, 3 failed, 4 not-sent); -1 when absent. */
static long row_of(const char *out, const char *webhook, const char *reason,
                   int col)
{
        const char *s = strstr(out, "by webhook and reason:");

        for (s = s ? strstr(s, "\n  ") : NULL; s; s = strstr(s + 1, "\n  ")) {
                char w[64], r[64];
                long v[5];
                if (sscanf(s + 3, "%63s %63s %ld %ld %ld %ld %ld", w, r, &v[0],
                           &v[1], &v[2], &v[3], &v[4]) == 7 &&
                    !strcmp(w, webhook) && !strcmp(r, reason))
                        return v[col];
        }
        return -1;
}

typedef struct fixture_s {
        char topic[96], dlt[112], group[128], cfg[256], tb[32];
        rx_t *rx;
} fixture_t;

static void produce_events(rd_kafka_t *rk, const fixture_t *f, int from, int to)
{
        char raw[2048], id[32], key[32];

        for (int i = from; i < to; i++) {
                snprintf(id, sizeof(id), "rd-%d", i);
                snprintf(key, sizeof(key), "user-%d", i);
                wk_sample_render((size_t)i % wk_sample_count(), id, i,
                                 wall_ms(), raw, sizeof(raw));
                it_produce(rk, f->topic, i % PARTS, key, raw, strlen(raw));
        }
        cr_assert_eq(rd_kafka_flush(rk, 30000), 0);
}

static void wait_dlt(const fixture_t *f, uint64_t want)
{
        int64_t deadline = it_now_ms() + 90000;

        while (it_log_total(f->dlt, DLT_PARTS) < want && it_now_ms() < deadline)
                usleep(100 * 1000);
        cr_assert_eq(it_log_total(f->dlt, DLT_PARTS), want,
                     "dead letters: %llu, expected %llu",
                     (unsigned long long)it_log_total(f->dlt, DLT_PARTS),
                     (unsigned long long)want);
}

/* The dead letter of a 2 MiB event the worker could not store: headers
 * only, as wh_dlq writes it (hookbridge-value-omitted). */
static void produce_omitted(rd_kafka_t *rk, const fixture_t *f)
{
        hb_rec_t r;
        rd_kafka_headers_t *h;
        rd_kafka_resp_err_t err;

        hb_rec_init(&r);
        r.topic = f->topic;
        r.partition = 0;
        r.offset = 999999;
        r.reason = "exhausted";
        r.webhook = "a";
        r.id = "rd-omitted";
        r.status = 500;
        r.attempts = 2;
        r.omitted = 2 * 1024 * 1024;
        h = hb_rec_headers(&r);
        cr_assert_not_null(h);
        err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(f->dlt),
                                RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_HEADERS(h),
                                RD_KAFKA_V_END);
        cr_assert_eq(err, 0, "%s", rd_kafka_err2str(err));
        cr_assert_eq(rd_kafka_flush(rk, 30000), 0);
}

/* Two webhooks that fail for good, N events each, bad inputs and a
 * value-omitted dead letter: 2N + BAD + 1 dead letters, those of phase
 * 2 after f->tb. */
static void setup_fixture(fixture_t *f)
{
        rx_conf_t rc = {.cb = on_request};
        char errstr[4096], text[4096], log[256];
        rd_kafka_t *rk;
        pid_t worker;
        int64_t tb;

        f->rx = rx_start(&rc, errstr, sizeof(errstr));
        cr_assert_not_null(f->rx, "receiver: %s", errstr);
        cr_assert_eq(rx_set_secret(f->rx, "*", SECRET, 0), 0);
        cr_assert_eq(rx_set_script(f->rx, "/a", "500"), 0);
        cr_assert_eq(rx_set_script(f->rx, "/b", "400"), 0);
        it_unique("redrive", f->topic, sizeof(f->topic));
        snprintf(f->dlt, sizeof(f->dlt), "%s-dlq", f->topic);
        snprintf(f->group, sizeof(f->group), "%s-live", f->topic);
        it_create_topic(f->topic, PARTS);
        it_create_topic(f->dlt, DLT_PARTS);
        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"%s\"; group_id = \"%s\";\n"
                 "  topics = ( \"%s\" ); commit_interval_ms = 100; };\n"
                 "delivery = { allow_networks = [ \"127.0.0.0/8\" ];\n"
                 "  concurrency = 4; dead_letter_topic = \"%s\";\n"
                 "  circuit = { failures = 0; };\n"
                 "  retry = { initial_ms = 10; max_ms = 20; "
                 "max_attempts = 2;\n"
                 "            schedule = [ \"250ms\" ]; }; };\n"
                 "webhooks = (\n"
                 "  { name = \"a\"; app_token = \"%s\";\n"
                 "    url = \"http://127.0.0.1:%u/a\";\n"
                 "    events = [ \"*\" ]; secret = \"%s\"; },\n"
                 "  { name = \"b\"; url = \"http://127.0.0.1:%u/b\";\n"
                 "    events = [ \"*\" ]; secret = \"%s\"; }\n"
                 ");\nadmin = { listen = \"\"; };\n",
                 it_brokers(), f->group, f->topic, f->dlt, WK_SAMPLE_APP,
                 rx_port(f->rx), SECRET, rx_port(f->rx), SECRET);
        it_write_temp(text, f->cfg, sizeof(f->cfg));

        rk = it_producer();
        produce_omitted(rk, f);
        snprintf(log, sizeof(log), "/tmp/hb-redrive-worker-%d.log",
                 (int)getpid());
        worker = it_spawn_worker(f->cfg, log);
        produce_events(rk, f, 0, N1);
        for (int i = 0; i < BAD; i++)
                it_produce(rk, f->topic, i % PARTS, NULL, "not json", 8);
        cr_assert_eq(rd_kafka_flush(rk, 30000), 0);
        wait_dlt(f, 1 + 2 * N1 + BAD);
        /* the boundary: every later dead letter is stamped after it */
        usleep(1100 * 1000);
        tb = wall_ms();
        snprintf(f->tb, sizeof(f->tb), "%lld", (long long)tb);
        usleep(200 * 1000);
        produce_events(rk, f, N1, N);
        wait_dlt(f, 1 + 2 * N + BAD);
        rd_kafka_destroy(rk);
        cr_assert_eq(it_stop_worker(worker, SIGTERM, 30000), 0);
        cr_assert(it_wait_committed_to_end(f->group, f->topic, PARTS, 10000));
        /* the receiver works again */
        cr_assert_eq(rx_set_script(f->rx, "*", "200"), 0);
        cr_assert_eq(rx_set_script(f->rx, "/a", "200"), 0);
        cr_assert_eq(rx_set_script(f->rx, "/b", "200"), 0);
}

Test(redrive, end_to_end, .timeout = 600)
{
        fixture_t f = {0};
        char out[65536], state[] = "/tmp/hb-redrive-state-XXXXXX", outp[64];
        int64_t live[PARTS], live_after[PARTS], dl_group[DLT_PARTS];
        uint64_t dl_before;
        size_t mark;
        int rc, bad = 0;

        setup_fixture(&f);
        dl_before = it_log_total(f.dlt, DLT_PARTS);
        it_committed(f.group, f.topic, PARTS, live);
        /* the failing phase: a got every event three times (two quick
         * attempts, one in the retry tier, then dead-lettered), b once
         * (400: permanent, at once) */
        cr_expect_eq(count_path("/a", 0), 3 * N, "a: %zu failed attempts",
                     count_path("/a", 0));
        cr_expect_eq(count_path("/b", 0), N, "b: %zu failed attempts",
                     count_path("/b", 0));
        mark = seen_count();

        /* --dry-run: exact counts, nothing sent */
        {
                const char *args[] = {"redrive", "-c", f.cfg, "--dry-run",
                                      NULL};
                rc = run_hb(args, out, sizeof(out), 60000);
                cr_expect_eq(rc, 3, "exit %d (value omitted: 3)\n%s", rc, out);
                cr_log_info("the dry run:\n%s", out);
                cr_expect_eq(count_of(out, "read"), 2 * N + BAD + 1, "%s", out);
                cr_expect_eq(count_of(out, "selected"), 2 * N + BAD + 1);
                cr_expect_eq(count_of(out, "would send"), 2 * N, "%s", out);
                cr_expect_eq(count_of(out, "bad inputs"), BAD);
                cr_expect_eq(count_of(out, "value omitted"), 1);
                cr_expect_eq(row_of(out, "a", "exhausted", 0), N + 1, "%s",
                             out);
                cr_expect_eq(row_of(out, "a", "exhausted", 1), N);
                cr_expect_eq(row_of(out, "a", "exhausted", 4), 1);
                cr_expect_eq(row_of(out, "b", "permanent", 1), N);
                cr_expect_eq(row_of(out, "-", "invalid", 0), BAD);
                cr_expect_eq(row_of(out, "-", "invalid", 1), 0);
                cr_expect_eq(seen_count(), mark, "a dry run sent something");
        }
        /* filters, as dry runs */
        {
                const char *w[] = {"redrive",   "-c", f.cfg, "--dry-run",
                                   "--webhook", "b",  NULL};
                const char *from[] = {"redrive", "-c", f.cfg, "--dry-run",
                                      "--from",  f.tb, NULL};
                const char *to[] = {"redrive", "-c", f.cfg, "--dry-run",
                                    "--to",    f.tb, NULL};
                const char *why[] = {"redrive",  "-c",      f.cfg, "--dry-run",
                                     "--reason", "invalid", NULL};
                const char *app[] = {"redrive",   "-c",    f.cfg,
                                     "--dry-run", "--app", WK_SAMPLE_APP,
                                     NULL};
                const char *both[] = {"redrive",   "-c",        f.cfg,
                                      "--dry-run", "--webhook", "a",
                                      "--reason",  "exhausted", "--from",
                                      f.tb,        NULL};

                rc = run_hb(w, out, sizeof(out), 60000);
                cr_expect_eq(rc, 0, "exit %d\n%s", rc, out);
                cr_expect_eq(count_of(out, "selected"), N, "%s", out);
                cr_expect_eq(count_of(out, "would send"), N);
                cr_expect_eq(row_of(out, "a", "exhausted", 0), -1);

                rc = run_hb(from, out, sizeof(out), 60000);
                cr_expect_eq(rc, 0, "exit %d\n%s", rc, out);
                cr_expect_eq(count_of(out, "read"), 2 * N2, "%s", out);
                cr_expect_eq(count_of(out, "would send"), 2 * N2);
                cr_expect_eq(count_of(out, "bad inputs"), 0);

                rc = run_hb(to, out, sizeof(out), 60000);
                cr_expect_eq(rc, 3, "exit %d\n%s", rc, out);
                cr_expect_eq(count_of(out, "read"), 2 * N1 + BAD + 1, "%s",
                             out);
                cr_expect_eq(count_of(out, "would send"), 2 * N1);

                rc = run_hb(why, out, sizeof(out), 60000);
                cr_expect_eq(rc, 0, "exit %d\n%s", rc, out);
                cr_expect_eq(count_of(out, "selected"), BAD, "%s", out);
                cr_expect_eq(count_of(out, "bad inputs"), BAD);
                cr_expect_eq(count_of(out, "would send"), 0);

                rc = run_hb(app, out, sizeof(out), 60000);
                cr_expect_eq(rc, 3, "exit %d\n%s", rc, out);
                cr_expect_eq(count_of(out, "selected"), N + 1, "%s", out);
                cr_expect_eq(count_of(out, "would send"), N);

                rc = run_hb(both, out, sizeof(out), 60000);
                cr_expect_eq(rc, 0, "exit %d\n%s", rc, out);
                cr_expect_eq(count_of(out, "selected"), N2, "%s", out);
                cr_expect_eq(count_of(out, "would send"), N2);
                cr_expect_eq(seen_count(), mark, "a dry run sent something");
        }

        /* --webhook a with --state, interrupted, then resumed: each of
         * a's N dead letters delivered once, signed, same webhook-id */
        {
                int fd = mkstemp(state);
                const char *args[] = {"redrive", "-c",     f.cfg, "--webhook",
                                      "a",       "--rate", "20",  "--state",
                                      state,     NULL};
                int64_t t0;
                pid_t pid;

                cr_assert(fd >= 0);
                close(fd);
                unlink(state); /* a new run: no file yet */
                snprintf(outp, sizeof(outp), "/tmp/hb-redrive-int-%d",
                         (int)getpid());
                pid = spawn_hb(args, outp);
                t0 = it_now_ms();
                while (count_path("/a", mark) < 10 && it_now_ms() - t0 < 30000)
                        usleep(10 * 1000);
                kill(pid, SIGINT);
                rc = wait_hb(pid, 30000);
                read_file(outp, out, sizeof(out));
                unlink(outp);
                cr_expect_eq(rc, 130, "exit %d\n%s", rc, out);
                cr_assert(count_path("/a", mark) < N,
                          "the interrupted run sent all %zu",
                          count_path("/a", mark));
                cr_log_info("interrupted after %zu of %d",
                            count_path("/a", mark), N);
                rc = run_hb(args, out, sizeof(out), 60000);
                /* 3 when this run met the value-omitted one */
                cr_expect(rc == 0 || rc == 3, "exit %d\n%s", rc, out);
                for (int i = 0; i < N; i++)
                        cr_expect_eq(got("/a", i, mark, &bad), 1,
                                     "a, event %d: %d deliveries", i,
                                     got("/a", i, mark, NULL));
                cr_expect_eq(count_path("/a", mark), N,
                             "a: %zu requests for %d dead letters",
                             count_path("/a", mark), N);
                cr_expect_eq(bad, 0, "%d unverified signatures", bad);
                unlink(state);
        }

        /* b in two windows (--from tb, --to tb): each once */
        {
                const char *late[] = {"redrive", "-c",     f.cfg, "--webhook",
                                      "b",       "--from", f.tb,  NULL};
                const char *early[] = {"redrive", "-c",   f.cfg, "--webhook",
                                       "b",       "--to", f.tb,  NULL};
                size_t mb = seen_count();

                rc = run_hb(late, out, sizeof(out), 60000);
                cr_expect_eq(rc, 0, "exit %d\n%s", rc, out);
                cr_expect_eq(count_of(out, "delivered"), N2, "%s", out);
                rc = run_hb(early, out, sizeof(out), 60000);
                cr_expect_eq(rc, 0, "exit %d\n%s", rc, out);
                cr_expect_eq(count_of(out, "delivered"), N1, "%s", out);
                for (int i = 0; i < N; i++)
                        cr_expect_eq(got("/b", i, mb, &bad), 1,
                                     "b, event %d: %d deliveries", i,
                                     got("/b", i, mb, NULL));
                cr_expect_eq(count_path("/b", mb), N);
                cr_expect_eq(bad, 0, "%d unverified signatures", bad);
        }

        /* failing again: counted, exit 2, the dead-letter topic as it was */
        {
                const char *args[] = {
                        "redrive",  "-c",        f.cfg,    "--webhook", "b",
                        "--reason", "permanent", "--from", f.tb,        NULL};

                cr_assert_eq(rx_set_script(f.rx, "/b", "503"), 0);
                rc = run_hb(args, out, sizeof(out), 60000);
                cr_expect_eq(rc, 2, "exit %d\n%s", rc, out);
                cr_expect_eq(count_of(out, "failed"), N2, "%s", out);
                cr_expect_eq(count_of(out, "delivered"), 0);
                cr_expect_eq(row_of(out, "b", "permanent", 3), N2, "%s", out);
        }

        /* lost 0, no duplicates written, no group offsets moved */
        cr_expect_eq(it_log_total(f.dlt, DLT_PARTS), dl_before,
                     "redrive wrote to the dead-letter topic");
        it_committed(f.group, f.topic, PARTS, live_after);
        for (int i = 0; i < PARTS; i++)
                cr_expect_eq(live_after[i], live[i], "live group moved");
        it_committed(f.group, f.dlt, DLT_PARTS, dl_group);
        for (int i = 0; i < DLT_PARTS; i++)
                cr_expect_eq(dl_group[i], -1001,
                             "offset committed on the dead-letter topic");
        printf("redrive: %d dead letters per webhook; a and b each got "
               "every one once after the fix (lost 0, duplicates 0), "
               "%d bad inputs and 1 value-omitted reported\n",
               N, BAD);
        rx_stop(f.rx);
}

/* A state file of another selection is refused, naming the difference. */
Test(redrive, state_of_another_selection, .timeout = 120)
{
        fixture_t f = {0};
        char text[2048], out[16384], state[320];
        const char *first[] = {"redrive", "-c",      f.cfg, "--reason",
                               "gone",    "--state", state, NULL};
        const char *other[] = {"redrive", "-c",      f.cfg, "--reason",
                               "invalid", "--state", state, NULL};
        int rc;

        it_unique("redrive-st", f.topic, sizeof(f.topic));
        snprintf(f.dlt, sizeof(f.dlt), "%s-dlq", f.topic);
        it_create_topic(f.topic, 1);
        it_create_topic(f.dlt, 1);
        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"%s\"; group_id = \"%s-g\";\n"
                 "  topics = ( \"%s\" ); };\n"
                 "delivery = { allow_networks = [ \"127.0.0.0/8\" ];\n"
                 "  dead_letter_topic = \"%s\"; };\n"
                 "webhooks = ( { name = \"a\"; url = "
                 "\"http://127.0.0.1:9/a\"; events = [ \"*\" ]; } );\n"
                 "admin = { listen = \"\"; };\n",
                 it_brokers(), f.topic, f.topic, f.dlt);
        it_write_temp(text, f.cfg, sizeof(f.cfg));
        snprintf(state, sizeof(state), "%s.state", f.cfg);
        rc = run_hb(first, out, sizeof(out), 30000);
        cr_expect_eq(rc, 0, "exit %d\n%s", rc, out);
        rc = run_hb(other, out, sizeof(out), 30000);
        cr_expect_eq(rc, 1, "exit %d\n%s", rc, out);
        cr_expect(strstr(out, "belongs to another redrive") != NULL, "%s", out);
        cr_expect(strstr(out, "--reason") != NULL, "%s", out);
        unlink(state);
}
