/* Integration: operating the worker against a real broker: /metrics
 * matches what the receiver saw, /readyz and /status, SIGHUP reloads,
 * 410 Gone disables a webhook, the admin listener without a token. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "it_util.h"
#include "rx_receiver.h"
#include "wk_sample.h"

/* Requests per path and answer class, from the receiver thread. */
static struct {
        pthread_mutex_t lock;
        int ok[2];   /* 2xx for /a, /b */
        int fail[2]; /* anything else */
} rx_seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_request(const rx_request_t *req, void *opaque)
{
        int i = !strcmp(req->path, "/b");

        (void)opaque;
        pthread_mutex_lock(&rx_seen.lock);
        if (req->status / 100 == 2)
                rx_seen.ok[i]++;
        else
                rx_seen.fail[i]++;
        pthread_mutex_unlock(&rx_seen.lock);
}

static int seen_ok(int i)
{
        int n;

        pthread_mutex_lock(&rx_seen.lock);
        n = rx_seen.ok[i];
        pthread_mutex_unlock(&rx_seen.lock);
        return n;
}

static rx_t *receiver(void)
{
        rx_conf_t c = {.cb = on_request};
        char err[256];
        rx_t *rx = rx_start(&c, err, sizeof(err));

        cr_assert_not_null(rx, "%s", err);
        return rx;
}

/* A config with webhook a (events_a) and b (nps.*), admin on \p admin,
 * the delivery loops \p threads says ("threads = N;", "": the default). */
static void config_loops(char *path, size_t size, const char *topic,
                         const char *group, uint16_t rx_port, uint16_t admin,
                         const char *events_a, const char *extra,
                         const char *threads)
{
        char text[4096];

        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"%s\"; group_id = \"%s\";\n"
                 "  topics = ( \"%s\" ); commit_interval_ms = 100; };\n"
                 "delivery = { allow_networks = [ \"127.0.0.0/8\" ];\n"
                 "  retry = { initial_ms = 20; max_ms = 100; max_attempts = "
                 "2; }; %s %s };\n"
                 "webhooks = (\n"
                 "  { name = \"a\"; url = \"http://127.0.0.1:%u/a\";\n"
                 "    events = [ %s ];\n"
                 "    secret = \"whsec_c2VjcmV0LW9mLXRoZS1vcGVyYXRlLXRlc3Q=\"; "
                 "},\n"
                 "  { name = \"b\"; url = \"http://127.0.0.1:%u/b\";\n"
                 "    events = [ \"nps.score\", \"nps.feedback\" ]; }\n"
                 ");\nadmin = { listen = \"127.0.0.1:%u\"; };\n",
                 it_brokers(), group, topic, extra, threads, rx_port, events_a,
                 rx_port, admin);
        it_write_temp(text, path, size);
}

/* config_loops() with the loops HB_TEST_THREADS says (the default
 * without it). */
static void config(char *path, size_t size, const char *topic,
                   const char *group, uint16_t rx_port, uint16_t admin,
                   const char *events_a, const char *extra)
{
        config_loops(path, size, topic, group, rx_port, admin, events_a, extra,
                     it_threads_setting());
}

/* Produce \p n events of sample kind \p kind with ids "<prefix>-<i>". */
static void produce(const char *topic, const char *prefix, size_t kind, int n)
{
        rd_kafka_t *rk = it_producer();
        char raw[2048], id[64];

        for (int i = 0; i < n; i++) {
                snprintf(id, sizeof(id), "%s-%d", prefix, i);
                wk_sample_render(kind, id, i, 1700000000000LL, raw,
                                 sizeof(raw));
                it_produce(rk, topic, -1, id, raw, strlen(raw));
        }
        cr_assert_eq(rd_kafka_flush(rk, 30000), 0);
        rd_kafka_destroy(rk);
}

/* Poll \p cond (which says in \p saw what it saw) every 100 ms until it
 * holds; after \p timeout_ms fail, naming \p what and the last sight. */
static void wait_for(int (*cond)(void *, char *, size_t), void *arg,
                     int timeout_ms, const char *what)
{
        int64_t deadline = it_now_ms() + timeout_ms;
        char saw[512] = "";

        while (!cond(arg, saw, sizeof(saw))) {
                cr_assert(it_now_ms() < deadline,
                          "waited %d ms for %s; last saw: %s", timeout_ms, what,
                          saw);
                usleep(100 * 1000);
        }
}

/* Wait until \p group committed every partition of \p topic to its end;
 * else fail with the offsets seen and the worker's log. */
static void wait_committed(const char *group, const char *topic, int n,
                           int timeout_ms, const char *logp)
{
        int64_t end[8], com[8];
        char saw[256] = "";
        size_t len = 0;

        cr_assert(n <= 8);
        if (it_wait_committed_to_end(group, topic, n, timeout_ms))
                return;
        it_log_end(topic, n, end);
        it_committed(group, topic, n, com);
        for (int i = 0; i < n && len < sizeof(saw); i++)
                len += (size_t)snprintf(saw + len, sizeof(saw) - len,
                                        " p%d committed %lld of end %lld", i,
                                        (long long)com[i], (long long)end[i]);
        cr_assert_fail("waited %d ms for group %s to commit %s to the end:%s "
                       "(log %s)",
                       timeout_ms, group, topic, saw, logp);
}

/* The worker's log \p path holds \p needle (a wait_for condition). */
typedef struct log_want_s {
        const char *path, *needle;
} log_want_t;

static int log_has(void *arg, char *saw, size_t saw_size)
{
        static char buf[1 << 16];
        const log_want_t *w = arg;
        FILE *f = fopen(w->path, "r");
        size_t n = 0;

        if (f) {
                n = fread(buf, 1, sizeof(buf) - 1, f);
                fclose(f);
        }
        buf[n] = '\0';
        snprintf(saw, saw_size, "no '%s' in %s (%zu bytes)", w->needle, w->path,
                 n);
        return strstr(buf, w->needle) != NULL;
}

static void wait_log(const char *path, const char *needle, int timeout_ms)
{
        log_want_t w = {path, needle};

        wait_for(log_has, &w, timeout_ms, needle);
}

/* How many hookbridge_consumer_lag series of \p body are not 0. */
static int lag_left(const char *body)
{
        static const char fam[] = "hookbridge_consumer_lag{";
        int n = 0;

        for (const char *l = body; l && *l; l = strchr(l, '\n')) {
                const char *v;
                if (*l == '\n')
                        l++;
                if (strncmp(l, fam, sizeof(fam) - 1) != 0)
                        continue;
                v = strstr(l, "} ");
                n += v && strtod(v + 2, NULL) != 0;
        }
        return n;
}

/* The gauges are refreshed once a second by each delivery loop: settled
 * when they (lag too) show the end, not a refresh from before it. */
static int metrics_settled(void *arg, char *saw, size_t saw_size)
{
        static char body[1 << 16];
        uint16_t port = *(uint16_t *)arg;
        long code = it_http_get(port, "/metrics", body, sizeof(body));
        double in_flight = it_metric(body, "hookbridge_in_flight_messages");
        double assigned = it_metric(body, "hookbridge_assigned_partitions");
        double consumed = it_metric(body, "hookbridge_events_consumed_total");

        int lagging = lag_left(body);

        snprintf(saw, saw_size,
                 "/metrics %ld: in_flight %g (want 0), assigned %g (want 2), "
                 "consumed %g (want 150), partitions lagging %d (want 0)",
                 code, in_flight, assigned, consumed, lagging);
        return code == 200 && in_flight == 0 && assigned == 2 &&
               consumed == 150 && lagging == 0;
}

Test(operate, metrics_readyz_status_match_the_receiver, .timeout = 240)
{
        static char body[1 << 16];
        char topic[96], group[96], cfg[256], logp[300], series[256];
        uint16_t admin = it_free_port();
        rx_t *rx = receiver();
        pid_t pid;
        int st;

        it_unique("hb-it-op", topic, sizeof(topic));
        it_unique("hb-it-op-g", group, sizeof(group));
        it_create_topic(topic, 2);
        config(cfg, sizeof(cfg), topic, group, rx_port(rx), admin, "\"*\"", "");
        produce(topic, "m", 1, 100); /* Flow Completed: a only */
        produce(topic, "n", 6, 50);  /* NPS Score: a and b */
        snprintf(logp, sizeof(logp), "%s.log", cfg);
        pid = it_spawn_worker(cfg, logp);
        wait_committed(group, topic, 2, 60000, logp);
        wait_for(metrics_settled, &admin, 30000, "metrics settle");

        cr_assert_eq(it_http_get(admin, "/metrics", body, sizeof(body)), 200);
        cr_assert_eq(it_metric(body, "hookbridge_deliveries_total{webhook="
                                     "\"a\",outcome=\"ok\"}"),
                     seen_ok(0), "%s", body);
        cr_assert_eq(it_metric(body, "hookbridge_deliveries_total{webhook="
                                     "\"b\",outcome=\"ok\"}"),
                     seen_ok(1));
        cr_assert_eq(seen_ok(0), 150);
        cr_assert_eq(seen_ok(1), 50);
        cr_assert_eq(it_metric(body, "hookbridge_events_consumed_total"), 150);
        cr_assert(it_metric(body, "hookbridge_assigned_partitions") == 2);
        for (int p = 0; p < 2; p++) {
                snprintf(series, sizeof(series),
                         "hookbridge_consumer_lag{topic=\"%s\","
                         "partition=\"%d\"}",
                         topic, p);
                cr_assert_eq(it_metric(body, series), 0, "%s", series);
        }
        cr_assert(strstr(body, "hookbridge_attempt_duration_seconds_bucket"
                               "{webhook=\"a\",le=\"+Inf\"} 150"),
                  "%s", body);
        if (system("command -v promtool >/dev/null 2>&1") == 0) {
                char mpath[300], cmd[400];
                FILE *f;
                snprintf(mpath, sizeof(mpath), "%s.metrics", cfg);
                f = fopen(mpath, "w");
                fputs(body, f);
                fclose(f);
                snprintf(cmd, sizeof(cmd), "promtool check metrics < %s",
                         mpath);
                cr_assert_eq(system(cmd), 0, "promtool rejected /metrics");
        }

        cr_assert_eq(it_http_get(admin, "/healthz", body, sizeof(body)), 200);
        cr_assert_eq(it_http_get(admin, "/readyz", body, sizeof(body)), 200,
                     "%s", body);
        cr_assert_eq(it_http_get(admin, "/status", body, sizeof(body)), 200);
        cr_assert(strstr(body, "\"assignment\"") && strstr(body, topic));
        /* never a secret, never a full URL */
        cr_assert_null(strstr(body, "c2VjcmV0"));
        cr_assert_null(strstr(body, "/a\""));

        st = it_stop_worker(pid, SIGTERM, 30000);
        cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "worker stop: status %d (log %s)", st, logp);
        rx_stop(rx);
}

/* /status \p body's partitions: 1 when there is one and every "lag" is
 * 0, 0 otherwise. */
static int status_lags(const char *body)
{
        json_object *o = json_tokener_parse(body), *parts = NULL;
        int ok = 0;

        if (o && json_object_object_get_ex(o, "assignment", &parts) &&
            json_object_is_type(parts, json_type_array)) {
                size_t n = json_object_array_length(parts);
                ok = n > 0;
                for (size_t i = 0; i < n; i++)
                        if (it_jint(json_object_array_get_idx(parts, i),
                                    "lag") != 0)
                                ok = 0;
        }
        json_object_put(o);
        return ok;
}

/* One group member's admin port, and the topic it consumes. */
typedef struct member_want_s {
        uint16_t admin;
        const char *topic;
} member_want_t;

/* The member's /metrics settled on one partition of the quiet topic:
 * nothing in flight, its partition's lag 0. */
static int member_settled(void *arg, char *saw, size_t saw_size)
{
        static char body[1 << 16];
        const member_want_t *w = arg;
        long code = it_http_get(w->admin, "/metrics", body, sizeof(body));
        double in_flight = it_metric(body, "hookbridge_in_flight_messages");
        double assigned = it_metric(body, "hookbridge_assigned_partitions");
        double lag = it_metric_family(body, "hookbridge_consumer_lag", 1);
        int lagging = lag_left(body);

        snprintf(saw, saw_size,
                 "/metrics of :%u %ld: in_flight %g (want 0), assigned %g "
                 "(want 1), lag %g over %d partitions (want 0)",
                 (unsigned)w->admin, code, in_flight, assigned, lag, lagging);
        return code == 200 && in_flight == 0 && assigned == 1 && lagging == 0 &&
               strstr(body, w->topic) != NULL;
}

/* A member that joins the group once every event is delivered and
 * committed takes over a partition it has read nothing from: on a quiet
 * topic its hookbridge_consumer_lag (and /status "lag") must say 0, the
 * group's position, not the partition's whole history counted from the
 * log start until a new event arrives (issue 15's note). Two processes
 * of one loop each make the join order certain; the same happens to a
 * second delivery loop joining late (delivery.threads = 2). */
Test(operate, lag_of_a_partition_taken_over_on_a_quiet_topic_is_0,
     .timeout = 240)
{
        static char body[1 << 16];
        /* logp: room for all of cfg (gcc -O2's -Wformat-truncation
         * bounds cfg[i] by the whole array) */
        char topic[96], group[96], cfg[2][256], logp[2][sizeof(cfg) + 8];
        uint16_t admin[2] = {it_free_port(), it_free_port()};
        rx_t *rx = receiver();
        member_want_t want[2];
        pid_t pid[2];
        int st;

        it_unique("hb-it-lag", topic, sizeof(topic));
        it_unique("hb-it-lag-g", group, sizeof(group));
        it_create_topic(topic, 2);
        for (int i = 0; i < 2; i++) {
                config_loops(cfg[i], sizeof(cfg[i]), topic, group, rx_port(rx),
                             admin[i], "\"*\"", "", "threads = 1;");
                snprintf(logp[i], sizeof(logp[i]), "%s.log", cfg[i]);
                want[i] = (member_want_t){admin[i], topic};
        }
        produce(topic, "q", 1, 60); /* Flow Completed: a only */
        pid[0] = it_spawn_worker(cfg[0], logp[0]);
        wait_committed(group, topic, 2, 60000, logp[0]);
        cr_assert_eq(seen_ok(0), 60);

        /* the second member takes one partition over; nothing new comes */
        pid[1] = it_spawn_worker(cfg[1], logp[1]);
        wait_for(member_settled, &want[1], 30000,
                 "the joining member's lag 0 on its partition");
        wait_for(member_settled, &want[0], 30000,
                 "the first member's lag 0 on the partition it kept");
        cr_assert_eq(it_http_get(admin[1], "/status", body, sizeof(body)), 200);
        cr_assert(status_lags(body) == 1, "%s", body);
        cr_assert_eq(seen_ok(0), 60, "nothing delivered twice");
        /* the group's offsets are still the log end */
        wait_committed(group, topic, 2, 10000, logp[1]);

        for (int i = 1; i >= 0; i--) {
                st = it_stop_worker(pid[i], SIGTERM, 30000);
                cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                          "worker %d stop: status %d (log %s)", i, st, logp[i]);
        }
        rx_stop(rx);
}

static int a_got(void *arg, char *saw, size_t saw_size)
{
        int ok = seen_ok(0);

        snprintf(saw, saw_size, "%d of %d deliveries to a answered 2xx", ok,
                 *(int *)arg);
        return ok >= *(int *)arg;
}

Test(operate, sighup_reloads_webhooks_and_rejects_a_bad_file, .timeout = 240)
{
        char topic[96], group[96], cfg[256], logp[300], text[4096];
        uint16_t admin = it_free_port();
        rx_t *rx = receiver();
        int want;
        pid_t pid;
        FILE *f;
        int st;

        it_unique("hb-it-hup", topic, sizeof(topic));
        it_unique("hb-it-hup-g", group, sizeof(group));
        it_create_topic(topic, 1);
        config(cfg, sizeof(cfg), topic, group, rx_port(rx), admin,
               "\"flows.completed\"", "");
        snprintf(logp, sizeof(logp), "%s.log", cfg);
        pid = it_spawn_worker(cfg, logp);
        produce(topic, "f1", 1, 10); /* Flow Completed: a */
        produce(topic, "c1", 4, 10); /* Checklist Completed: not a, yet */
        want = 10;
        wait_for(a_got, &want, 30000, "first flows");
        wait_committed(group, topic, 1, 30000, logp);
        cr_assert_eq(seen_ok(0), 10);

        /* A broken file is rejected; the worker keeps going. */
        f = fopen(cfg, "r");
        cr_assert_eq(fread(text, 1, sizeof(text) - 1, f) > 0, 1);
        fclose(f);
        f = fopen(cfg, "w");
        fputs("webhooks = ( oops", f);
        fclose(f);
        kill(pid, SIGHUP);
        /* handled before the good file comes (two SIGHUPs pending at
         * once would be one) */
        wait_log(logp, "reload rejected", 30000);
        cr_assert_eq(waitpid(pid, &st, WNOHANG), 0,
                     "worker died on a bad reload (log %s)", logp);

        /* The good file, now with every type: checklists arrive.
         * config() writes a new temp file: move it over the watched one. */
        {
                char fresh[256];
                config(fresh, sizeof(fresh), topic, group, rx_port(rx), admin,
                       "\"*\"", "");
                cr_assert_eq(rename(fresh, cfg), 0);
        }
        kill(pid, SIGHUP);
        /* applied before the checklists are produced: else the old
         * webhooks could take them */
        wait_log(logp, "configuration reloaded", 30000);
        produce(topic, "c2", 4, 10);
        want = 20;
        wait_for(a_got, &want, 30000, "checklists after reload");
        wait_committed(group, topic, 1, 30000, logp);
        st = it_stop_worker(pid, SIGTERM, 30000);
        cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "worker stop: status %d (log %s)", st, logp);
        rx_stop(rx);
}

/* /metrics shows webhook a disabled and every event dead-lettered. */
static int gone_settled(void *arg, char *saw, size_t saw_size)
{
        static char body[1 << 16];
        uint16_t port = *(uint16_t *)arg;
        long code = it_http_get(port, "/metrics", body, sizeof(body));
        double disabled =
                it_metric(body, "hookbridge_webhook_disabled{webhook=\"a\"}");
        double dlq = it_metric(body, "hookbridge_dead_letter_writes_total{"
                                     "result=\"ok\"}");

        snprintf(saw, saw_size,
                 "/metrics %ld: disabled{a} %g (want 1), dead-letter "
                 "writes ok %g (want 20)",
                 code, disabled, dlq);
        return code == 200 && disabled == 1 && dlq == 20;
}

Test(operate, gone_410_disables_the_webhook_loudly, .timeout = 240)
{
        static char body[1 << 16];
        char topic[96], group[96], dlq[96], cfg[256], logp[300], extra[256];
        uint16_t admin = it_free_port();
        rx_t *rx = receiver();
        pid_t pid;
        int st;

        it_unique("hb-it-410", topic, sizeof(topic));
        it_unique("hb-it-410-g", group, sizeof(group));
        it_unique("hb-it-410-dlq", dlq, sizeof(dlq));
        it_create_topic(topic, 1);
        it_create_topic(dlq, 1);
        snprintf(extra, sizeof(extra), "dead_letter_topic = \"%s\";", dlq);
        config(cfg, sizeof(cfg), topic, group, rx_port(rx), admin, "\"*\"",
               extra);
        cr_assert_eq(rx_set_script(rx, "/a", "410"), 0);
        produce(topic, "g", 1, 20);
        snprintf(logp, sizeof(logp), "%s.log", cfg);
        pid = it_spawn_worker(cfg, logp);
        /* Disabled: holds nothing back, so everything gets committed. */
        wait_committed(group, topic, 1, 60000, logp);
        /* the gauges refresh every second or so */
        wait_for(gone_settled, &admin, 30000,
                 "webhook a disabled, 20 "
                 "dead letters");
        cr_assert_eq(it_http_get(admin, "/metrics", body, sizeof(body)), 200);
        cr_assert_eq(it_metric(body, "hookbridge_webhook_disabled{webhook="
                                     "\"a\"}"),
                     1, "%s", body);
        /* The ones that met the 410 went to the dead-letter topic, and
         * so did every later one, never sent (D3 of issue 11: they were
         * counted "disabled" and lost before). */
        cr_assert(it_metric(body, "hookbridge_deliveries_total{webhook="
                                  "\"a\",outcome=\"permanent\"}") >= 1);
        cr_assert_eq(it_metric(body, "hookbridge_dead_letter_writes_total{"
                                     "result=\"ok\"}"),
                     20, "%s", body);
        /* ... and each acknowledged one is counted as dead-lettered */
        cr_assert_eq(it_metric(body, "hookbridge_deliveries_total{webhook="
                                     "\"a\",outcome=\"dead_lettered\"}"),
                     it_metric(body, "hookbridge_dead_letter_writes_total{"
                                     "result=\"ok\"}"),
                     "%s", body);
        st = it_stop_worker(pid, SIGTERM, 30000);
        cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "worker stop: status %d (log %s)", st, logp);
        {
                char cmd[512];
                snprintf(cmd, sizeof(cmd),
                         "grep -q 'webhook disabled after 410 Gone' %s", logp);
                cr_assert_eq(system(cmd), 0, "no loud log line in %s", logp);
        }
        rx_stop(rx);
}

/* --- the admin listener without a token -------------------------------- */

/* A config with one webhook and admin = { ADMIN }. */
static void admin_config(char *path, size_t size, const char *topic,
                         const char *group, const char *admin)
{
        char text[2048];

        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"%s\"; group_id = \"%s\";\n"
                 "  topics = ( \"%s\" ); };\n"
                 "webhooks = (\n"
                 "  { name = \"a\"; url = \"http://127.0.0.1:9/a\";\n"
                 "    events = [ \"*\" ]; }\n"
                 ");\nadmin = { %s };\n",
                 it_brokers(), group, topic, admin);
        it_write_temp(text, path, size);
}

/* GET \p path from 127.0.0.1:\p port with "Host: \p host": the status. */
static int get_with_host(uint16_t port, const char *path, const char *host)
{
        struct sockaddr_in to = {.sin_family = AF_INET};
        char req[256], buf[512];
        ssize_t n;
        int fd, code = 0;

        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to.sin_port = htons(port);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd == -1)
                return 0;
        snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                 path, host);
        if (connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0 &&
            send(fd, req, strlen(req), MSG_NOSIGNAL) > 0 &&
            (n = recv(fd, buf, sizeof(buf) - 1, MSG_WAITALL)) > 12) {
                buf[n] = '\0';
                sscanf(buf, "HTTP/1.%*c %d", &code);
        }
        close(fd);
        return code;
}

static int healthz_answers(void *arg, char *saw, size_t saw_size)
{
        char body[64];
        long code =
                it_http_get(*(uint16_t *)arg, "/healthz", body, sizeof(body));

        snprintf(saw, saw_size, "/healthz answered %ld (0: no answer)", code);
        return code == 200;
}

/* Without a token: a listener beyond loopback is refused (FILE:LINE)
 * unless admin.allow_open, which warns; and only a Host naming loopback
 * or the listener is answered (DNS rebinding). */
Test(operate, admin_without_token_open_listener_and_host_check, .timeout = 240)
{
        char topic[96], group[96], cfg[256], logp[300], admin[128];
        char text[8192];
        uint16_t port = it_free_port();
        FILE *f;
        size_t n;
        pid_t pid;
        int st = -1;

        it_unique("hb-it-adm", topic, sizeof(topic));
        it_unique("hb-it-adm-g", group, sizeof(group));
        it_create_topic(topic, 1);

        /* 0.0.0.0 without a token: the worker does not start */
        snprintf(admin, sizeof(admin), "listen = \"0.0.0.0:%u\";",
                 (unsigned)port);
        admin_config(cfg, sizeof(cfg), topic, group, admin);
        snprintf(logp, sizeof(logp), "%s.log", cfg);
        pid = it_spawn_worker(cfg, logp);
        for (int64_t end = it_now_ms() + 20000; it_now_ms() < end;) {
                if (waitpid(pid, &st, WNOHANG) == pid)
                        break;
                st = -1;
                usleep(50 * 1000);
        }
        if (st == -1)
                it_stop_worker(pid, SIGKILL, 5000);
        cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) != 0,
                  "the worker started with an open admin listener (status "
                  "%d after 20 s, log %s)",
                  st, logp);
        f = fopen(logp, "r");
        cr_assert_not_null(f);
        n = fread(text, 1, sizeof(text) - 1, f);
        text[n] = '\0';
        fclose(f);
        cr_assert(strstr(text, ":7: admin.listen: '0.0.0.0:") &&
                          strstr(text, "is not a loopback address") &&
                          strstr(text, "admin.allow_open = true"),
                  "%s", text);

        /* allowed: it starts, warns, and checks the Host */
        snprintf(admin, sizeof(admin),
                 "listen = \"0.0.0.0:%u\"; allow_open = true;", (unsigned)port);
        admin_config(cfg, sizeof(cfg), topic, group, admin);
        snprintf(logp, sizeof(logp), "%s.log", cfg);
        pid = it_spawn_worker(cfg, logp);
        wait_for(healthz_answers, &port, 30000, "admin listener answers");
        f = fopen(logp, "r");
        cr_assert_not_null(f);
        n = fread(text, 1, sizeof(text) - 1, f);
        text[n] = '\0';
        fclose(f);
        cr_assert(strstr(text, "level=warn") &&
                          strstr(text, "admin listener open to the network "
                                       "without a token"),
                  "%s", text);
        snprintf(admin, sizeof(admin), "127.0.0.1:%u", (unsigned)port);
        cr_expect_eq(get_with_host(port, "/status", admin), 200);
        snprintf(admin, sizeof(admin), "localhost:%u", (unsigned)port);
        cr_expect_eq(get_with_host(port, "/metrics", admin), 200);
        snprintf(admin, sizeof(admin), "rebind.example:%u", (unsigned)port);
        cr_expect_eq(get_with_host(port, "/status", admin), 421);
        cr_expect_eq(get_with_host(port, "/metrics", admin), 421);
        cr_expect_eq(get_with_host(port, "/readyz", admin), 421);
        cr_expect_eq(get_with_host(port, "/healthz", admin), 200);
        st = it_stop_worker(pid, SIGTERM, 30000);
        cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "worker stop: status %d (log %s)", st, logp);
}

/* A test ended early (an assertion, Criterion's time-out) must not leave
 * the worker it started running: it_spawn_worker()'s child dies with the
 * process that started it. Before it_child_dies_with(), the orphan kept
 * running (and consuming) until the machine was rebooted. */
Test(operate, a_worker_dies_with_the_test_that_started_it, .timeout = 30)
{
        char script[64] = "/tmp/hb-orphan-XXXXXX";
        int fd = mkstemp(script), pfd[2];
        pid_t middle, worker = 0;
        int64_t deadline;
        int status;

        cr_assert(fd >= 0);
        cr_assert(dprintf(fd, "#!/bin/sh\nexec sleep 30\n") > 0);
        close(fd);
        cr_assert(chmod(script, 0700) == 0);
        cr_assert(pipe(pfd) == 0);
        middle = fork(); /* stands for the test process */
        cr_assert(middle >= 0);
        if (middle == 0) {
                pid_t p;
                setenv("HB_TEST_HOOKBRIDGE", script, 1);
                p = it_spawn_worker("/dev/null", "/dev/null");
                if (write(pfd[1], &p, sizeof(p)) != sizeof(p))
                        _exit(1);
                _exit(0); /* the "test" ends, its worker still running */
        }
        close(pfd[1]);
        cr_assert(read(pfd[0], &worker, sizeof(worker)) == sizeof(worker));
        close(pfd[0]);
        cr_assert(waitpid(middle, &status, 0) == middle);
        deadline = it_now_ms() + 5000;
        while (kill(worker, 0) == 0 && it_now_ms() < deadline)
                usleep(20 * 1000);
        unlink(script);
        cr_assert(kill(worker, 0) == -1,
                  "worker %d outlived the process that started it",
                  (int)worker);
}
