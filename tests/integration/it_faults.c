/* it_faults: bookkeeping for the fault-injection suite ("nothing lost"):
 * a ledger of the events a scenario produced, what the receiver answered
 * for each, what reached the dead-letter topic, the workers it ran, and
 * the one line of figures it ends with. Also a broker of its own that can
 * be stopped and restarted with its data. */
#include "it_faults.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <criterion/criterion.h>

#include "it_util.h"
#include "wk_sample.h"

#define FX_MAX_WORKERS 32
#define FX_MAX_PATHS   8
#define FX_MAX_MSG     (4 * 1024 * 1024)
#define FX_CLOSE_FDS   4096

extern char **environ;

/* Answers per receiver path. */
typedef struct fx_path_s {
        char path[32];
        size_t ok, fail;
} fx_path_t;

struct fx_s {
        char name[48];
        char prefix[96]; /* ids are "<prefix>-<index>" */
        char topic[128];
        char group[128];
        char dlq[128];
        char dir[64];
        char cfg[128];
        uint16_t admin_port;
        char retry[256];   /* delivery.retry's settings, "": the default */
        char circuit[128]; /* delivery.circuit's settings, "": the suite's */

        pthread_mutex_t lock; /* ledger, paths, counters */
        fx_event_t *ev;
        size_t cap, n;
        size_t requests, stray, stray_dlq;
        fx_path_t paths[FX_MAX_PATHS];
        size_t npaths;

        rx_t *rx;
        rd_kafka_t *rk; /* the producer, made on first use */
        int produce_errors;
        char produce_error[256];

        pid_t workers[FX_MAX_WORKERS];
        int running[FX_MAX_WORKERS];
        size_t nworkers;

        pthread_t stream;
        int streaming;
        size_t stream_count;
        int stream_rate;
        const int *stream_kinds;
        size_t stream_nkinds;
};

/*
 * Scenario.
 */

fx_t *fx_new(const char *scenario, size_t capacity)
{
        fx_t *f = calloc(1, sizeof(*f));
        char base[64];

        cr_assert_not_null(f);
        snprintf(f->name, sizeof(f->name), "%s", scenario);
        snprintf(base, sizeof(base), "hb-fx-%s", scenario);
        it_unique(base, f->prefix, sizeof(f->prefix));
        snprintf(f->topic, sizeof(f->topic), "%s", f->prefix);
        snprintf(f->group, sizeof(f->group), "%s-g", f->prefix);
        snprintf(f->dlq, sizeof(f->dlq), "%s-dlq", f->prefix);
        snprintf(f->dir, sizeof(f->dir), "/tmp/hb-faults-XXXXXX");
        cr_assert_not_null(mkdtemp(f->dir), "mkdtemp: %s", strerror(errno));
        snprintf(f->cfg, sizeof(f->cfg), "%s/worker.cfg", f->dir);
        pthread_mutex_init(&f->lock, NULL);
        f->cap = capacity;
        f->ev = calloc(capacity ? capacity : 1, sizeof(*f->ev));
        cr_assert_not_null(f->ev);
        return f;
}

static void remove_dir(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        char path[512];

        if (!d)
                return;
        while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                unlink(path);
        }
        closedir(d);
        rmdir(dir);
}

void fx_destroy(fx_t *f)
{
        if (!f)
                return;
        if (f->streaming)
                fx_stream_join(f);
        for (size_t i = 0; i < f->nworkers; i++)
                if (f->running[i])
                        fx_kill(f, f->workers[i]);
        fx_receiver_stop(f);
        if (f->rk) {
                rd_kafka_flush(f->rk, 5000);
                rd_kafka_destroy(f->rk);
        }
        if (!getenv("HB_FAULT_KEEP"))
                remove_dir(f->dir);
        pthread_mutex_destroy(&f->lock);
        free(f->ev);
        free(f);
}

const char *fx_topic(const fx_t *f)
{
        return f->topic;
}

const char *fx_group(const fx_t *f)
{
        return f->group;
}

const char *fx_dlq(const fx_t *f)
{
        return f->dlq;
}

const char *fx_dir(const fx_t *f)
{
        return f->dir;
}

const char *fx_config(const fx_t *f)
{
        return f->cfg;
}

/* Create \p topic with max.message.bytes raised to FX_MAX_MSG. */
static void create_topic(const char *topic, int partitions)
{
        char size[32];

        snprintf(size, sizeof(size), "%d", FX_MAX_MSG);
        it_create_topic_with(topic, partitions, "max.message.bytes", size);
}

void fx_create_topics(fx_t *f, int partitions)
{
        create_topic(f->topic, partitions);
        create_topic(f->dlq, 1);
}

/*
 * Receiver.
 */

/* Count one answer on \p path; lock held. */
static void count_path(fx_t *f, const char *path, int ok)
{
        size_t i;

        for (i = 0; i < f->npaths; i++)
                if (!strcmp(f->paths[i].path, path))
                        break;
        if (i == f->npaths) {
                if (f->npaths == FX_MAX_PATHS)
                        return;
                snprintf(f->paths[i].path, sizeof(f->paths[i].path), "%s",
                         path);
                f->npaths++;
        }
        if (ok)
                f->paths[i].ok++;
        else
                f->paths[i].fail++;
}

/* The ledger index of webhook-id / messageId text \p id, or -1. */
static long id_index(const fx_t *f, const char *id, size_t len)
{
        size_t plen = strlen(f->prefix);
        unsigned long v = 0;
        size_t k;

        if (len <= plen + 1 || strncmp(id, f->prefix, plen) || id[plen] != '-')
                return -1;
        for (k = plen + 1; k < len && id[k] >= '0' && id[k] <= '9'; k++)
                v = v * 10 + (unsigned long)(id[k] - '0');
        if (k != len || k == plen + 1)
                return -1;
        return (long)v;
}

static void on_request(const rx_request_t *req, void *opaque)
{
        fx_t *f = opaque;
        int ok = req->status / 100 == 2;
        long i = id_index(f, req->webhook_id, strlen(req->webhook_id));

        pthread_mutex_lock(&f->lock);
        f->requests++;
        count_path(f, req->path, ok);
        if (i >= 0 && (size_t)i < f->n) {
                if (ok)
                        f->ev[i].ok++;
                else
                        f->ev[i].fail++;
        } else {
                f->stray++;
        }
        pthread_mutex_unlock(&f->lock);
}

rx_t *fx_receiver(fx_t *f, uint16_t port)
{
        rx_conf_t c = {.port = port, .cb = on_request, .opaque = f};
        char err[256];

        cr_assert_null(f->rx, "a receiver is running already");
        f->rx = rx_start(&c, err, sizeof(err));
        cr_assert_not_null(f->rx, "receiver: %s", err);
        return f->rx;
}

void fx_receiver_stop(fx_t *f)
{
        rx_stop(f->rx);
        f->rx = NULL;
}

/*
 * Configuration and workers.
 */

void fx_write_config(fx_t *f, uint16_t rx_port, const char *delivery,
                     const char *kafka, const fx_hook_t *hooks, size_t n)
{
        char text[8192], admin[32] = "";
        size_t len;
        FILE *fp;

        if (f->admin_port)
                snprintf(admin, sizeof(admin), "127.0.0.1:%u",
                         (unsigned)f->admin_port);
        len = (size_t)snprintf(
                text, sizeof(text),
                "kafka = { brokers = \"%s\"; group_id = \"%s\";\n"
                "  topics = ( { name = \"%s\"; app_token = \"NX-faults\"; "
                "} );\n"
                "  commit_interval_ms = 100;\n  %s\n};\n"
                "delivery = {\n  allow_networks = [ \"127.0.0.0/8\" ];\n"
                "  dead_letter_topic = \"%s\";\n"
                "  concurrency = 16; connect_timeout_ms = 1000; "
                "timeout_ms = 5000;\n"
                "  retry = { %s };\n"
                "  circuit = { %s };\n"
                "  shutdown_timeout_ms = 3000; revoke_timeout_ms = 2000;\n"
                "  %s\n  %s\n};\nwebhooks = (\n",
                it_brokers(), f->group, f->topic,
                kafka ? kafka
                      : "properties = [ \"session.timeout.ms=6000\", "
                        "\"heartbeat.interval.ms=500\" ];",
                f->dlq,
                *f->retry ? f->retry
                          : "initial_ms = 50; max_ms = 500; max_attempts = 50; "
                            "schedule = [ ];",
                *f->circuit ? f->circuit : "failures = 5; open_ms = 1000;",
                delivery ? delivery : "", it_threads_setting());
        for (size_t i = 0; i < n && len < sizeof(text); i++) {
                char url[256];
                /* a path on the receiver, or a whole URL */
                if (!strncmp(hooks[i].path, "http", 4))
                        snprintf(url, sizeof(url), "%s", hooks[i].path);
                else
                        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s",
                                 (unsigned)rx_port, hooks[i].path);
                len += (size_t)snprintf(text + len, sizeof(text) - len,
                                        "  { name = \"%s\"; url = \"%s\";\n"
                                        "    events = %s; %s }%s\n",
                                        hooks[i].name, url, hooks[i].events,
                                        hooks[i].extra ? hooks[i].extra : "",
                                        i + 1 < n ? "," : "");
        }
        if (len < sizeof(text))
                len += (size_t)snprintf(text + len, sizeof(text) - len,
                                        ");\nadmin = { listen = \"%s\"; };\n"
                                        "log = { level = \"info\"; };\n",
                                        admin);
        cr_assert(len < sizeof(text), "configuration text too long");
        fp = fopen(f->cfg, "w");
        cr_assert_not_null(fp, "%s: %s", f->cfg, strerror(errno));
        fputs(text, fp);
        fclose(fp);
}

void fx_set_admin(fx_t *f, uint16_t port)
{
        f->admin_port = port;
}

void fx_set_retry(fx_t *f, const char *retry)
{
        snprintf(f->retry, sizeof(f->retry), "%s", retry ? retry : "");
}

void fx_set_circuit(fx_t *f, const char *circuit)
{
        snprintf(f->circuit, sizeof(f->circuit), "%s", circuit ? circuit : "");
}

/* In a child between fork() and exec(): no descriptor of the test process
 * (receiver sockets, Criterion's pipes) may outlive it in the child. */
static void close_inherited(void)
{
        for (int fd = 3; fd < FX_CLOSE_FDS; fd++)
                close(fd);
}

/* Has the worker logging to \p log said "worker started"? wk_cmd_run
 * installs its SIGTERM/SIGHUP handlers just before: a signal sent earlier
 * would kill it (the default action) instead of stopping it. */
static int logged_started(const char *log)
{
        char line[4096];
        int found = 0;
        FILE *fp = fopen(log, "r");

        if (!fp)
                return 0;
        while (!found && fgets(line, sizeof(line), fp))
                found = strstr(line, "worker started") != NULL;
        fclose(fp);
        return found;
}

pid_t fx_spawn(fx_t *f)
{
        const char *bin = it_hookbridge();
        char log[160];
        pid_t parent = getpid(), pid;
        int64_t deadline;

        cr_assert(f->nworkers < FX_MAX_WORKERS, "too many workers");
        snprintf(log, sizeof(log), "%s/worker-%zu.log", f->dir, f->nworkers);
        pid = fork();
        cr_assert(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
                int fd;
                /* dies with the test, should an assertion end it first */
                it_child_dies_with(parent, SIGKILL);
                close_inherited();
                fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                        close(fd);
                }
                execl(bin, "hookbridge", "run", "-c", f->cfg, (char *)NULL);
                _exit(127);
        }
        f->workers[f->nworkers] = pid;
        f->running[f->nworkers] = 1;
        f->nworkers++;
        deadline = it_now_ms() + 30000;
        while (!logged_started(log)) {
                cr_assert(fx_alive(pid),
                          "worker %d exited at start-up (log %s)", (int)pid,
                          log);
                cr_assert(it_now_ms() < deadline,
                          "worker %d did not log \"worker started\" within "
                          "30 s (log %s)",
                          (int)pid, log);
                usleep(20 * 1000);
        }
        return pid;
}

static void forget_worker(fx_t *f, pid_t pid)
{
        for (size_t i = 0; i < f->nworkers; i++)
                if (f->workers[i] == pid)
                        f->running[i] = 0;
}

void fx_kill(fx_t *f, pid_t pid)
{
        int status;

        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        forget_worker(f, pid);
}

int fx_stop_status(fx_t *f, pid_t pid, int timeout_ms)
{
        int status = it_stop_worker(pid, SIGTERM, timeout_ms);

        forget_worker(f, pid);
        return status;
}

void fx_stop(fx_t *f, pid_t pid, int timeout_ms)
{
        int status = fx_stop_status(f, pid, timeout_ms);

        cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "worker %d did not stop cleanly on SIGTERM (status %d; "
                  "logs in %s)",
                  (int)pid, status, f->dir);
}

int fx_alive(pid_t pid)
{
        int status;

        return waitpid(pid, &status, WNOHANG) == 0;
}

long fx_peak_rss_kib(pid_t pid)
{
        char path[64], line[256];
        long kib = -1;
        FILE *fp;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        fp = fopen(path, "r");
        if (!fp)
                return -1;
        while (fgets(line, sizeof(line), fp))
                if (!strncmp(line, "VmHWM:", 6))
                        kib = strtol(line + 6, NULL, 10);
        fclose(fp);
        return kib;
}

/*
 * Producing.
 */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        fx_t *f = opaque;
        size_t i = (size_t)(uintptr_t)m->_private;

        (void)rk;
        pthread_mutex_lock(&f->lock);
        if (m->err) {
                f->produce_errors++;
                snprintf(f->produce_error, sizeof(f->produce_error), "%s",
                         rd_kafka_err2str(m->err));
        } else if (i < f->n) {
                f->ev[i].partition = m->partition;
                f->ev[i].offset = m->offset;
        }
        pthread_mutex_unlock(&f->lock);
}

static rd_kafka_t *producer(fx_t *f)
{
        char errstr[512], size[32];
        rd_kafka_conf_t *conf;

        if (f->rk)
                return f->rk;
        conf = rd_kafka_conf_new();
        snprintf(size, sizeof(size), "%d", FX_MAX_MSG + 65536);
        rd_kafka_conf_set(conf, "bootstrap.servers", it_brokers(), NULL, 0);
        rd_kafka_conf_set(conf, "enable.idempotence", "true", NULL, 0);
        rd_kafka_conf_set(conf, "linger.ms", "5", NULL, 0);
        rd_kafka_conf_set(conf, "message.max.bytes", size, NULL, 0);
        rd_kafka_conf_set_opaque(conf, f);
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        f->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        cr_assert_not_null(f->rk, "producer: %s", errstr);
        return f->rk;
}

/* A ledger entry for a new event; no assertion (stream thread). */
static long new_event(fx_t *f, int kind)
{
        long i = -1;

        pthread_mutex_lock(&f->lock);
        if (f->n < f->cap) {
                i = (long)f->n;
                memset(&f->ev[i], 0, sizeof(f->ev[i]));
                f->ev[i].partition = -1;
                f->ev[i].offset = -1;
                f->ev[i].kind = kind;
                f->n++;
        }
        pthread_mutex_unlock(&f->lock);
        return i;
}

/* Queue one message; waits while the queue is full. */
static rd_kafka_resp_err_t send_one(fx_t *f, size_t i, const char *key,
                                    const void *value, size_t len)
{
        rd_kafka_resp_err_t err;

        for (;;) {
                err = rd_kafka_producev(
                        f->rk, RD_KAFKA_V_TOPIC(f->topic),
                        RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                        RD_KAFKA_V_VALUE((void *)value, len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_OPAQUE((void *)(uintptr_t)i),
                        RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(f->rk, 100);
        }
        rd_kafka_poll(f->rk, 0);
        return err;
}

/* Render and queue a sample event. @returns its index, -1 on error. */
static long produce_good(fx_t *f, int kind)
{
        char raw[2048], id[160];
        long i = new_event(f, kind);
        struct timespec ts;

        if (i < 0)
                return -1;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(id, sizeof(id), "%s-%ld", f->prefix, i);
        wk_sample_render((size_t)kind, id, i,
                         (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
                         raw, sizeof(raw));
        if (send_one(f, (size_t)i, id, raw, strlen(raw)) != 0) {
                pthread_mutex_lock(&f->lock);
                f->produce_errors++;
                snprintf(f->produce_error, sizeof(f->produce_error),
                         "not queued");
                pthread_mutex_unlock(&f->lock);
        }
        return i;
}

void fx_next_id(fx_t *f, char *out, size_t size)
{
        pthread_mutex_lock(&f->lock);
        snprintf(out, size, "%s-%zu", f->prefix, f->n);
        pthread_mutex_unlock(&f->lock);
}

size_t fx_produce_good(fx_t *f, int kind)
{
        long i;

        producer(f);
        i = produce_good(f, kind);
        cr_assert(i >= 0, "ledger full (%zu events)", f->cap);
        return (size_t)i;
}

size_t fx_produce_bad(fx_t *f, const char *key, const void *value, size_t len)
{
        long i;
        rd_kafka_resp_err_t err;

        producer(f);
        i = new_event(f, -1);
        cr_assert(i >= 0, "ledger full (%zu events)", f->cap);
        err = send_one(f, (size_t)i, key, value, len);
        cr_assert_eq(err, 0, "produce: %s", rd_kafka_err2str(err));
        return (size_t)i;
}

void fx_flush(fx_t *f)
{
        producer(f);
        cr_assert_eq(rd_kafka_flush(f->rk, 60000), 0,
                     "producer did not flush in 60 s");
        pthread_mutex_lock(&f->lock);
        cr_assert_eq(f->produce_errors, 0, "%d produce errors, last: %s",
                     f->produce_errors, f->produce_error);
        pthread_mutex_unlock(&f->lock);
}

void fx_produce_mix(fx_t *f, int n)
{
        for (int i = 0; i < n; i++)
                fx_produce_good(f, i % (int)wk_sample_count());
        fx_flush(f);
}

static void *stream_main(void *arg)
{
        fx_t *f = arg;
        int64_t start = it_now_ms();

        for (size_t k = 0; k < f->stream_count; k++) {
                int64_t due = start + (int64_t)k * 1000 / f->stream_rate;
                int kind = f->stream_kinds
                                   ? f->stream_kinds[k % f->stream_nkinds]
                                   : (int)(k % wk_sample_count());
                int64_t now;

                while ((now = it_now_ms()) < due)
                        rd_kafka_poll(f->rk, (int)(due - now));
                if (produce_good(f, kind) < 0)
                        break;
        }
        rd_kafka_flush(f->rk, 120000);
        return NULL;
}

void fx_stream_start(fx_t *f, size_t count, int per_second, const int *kinds,
                     size_t nkinds)
{
        cr_assert(!f->streaming && per_second > 0);
        producer(f);
        f->stream_count = count;
        f->stream_rate = per_second;
        f->stream_kinds = kinds;
        f->stream_nkinds = nkinds;
        cr_assert_eq(pthread_create(&f->stream, NULL, stream_main, f), 0);
        f->streaming = 1;
}

void fx_stream_join(fx_t *f)
{
        if (!f->streaming)
                return;
        pthread_join(f->stream, NULL);
        f->streaming = 0;
        fx_flush(f);
}

/*
 * What happened so far.
 */

size_t fx_produced(fx_t *f)
{
        size_t n;

        pthread_mutex_lock(&f->lock);
        n = f->n;
        pthread_mutex_unlock(&f->lock);
        return n;
}

size_t fx_delivered(fx_t *f)
{
        size_t n = 0;

        pthread_mutex_lock(&f->lock);
        for (size_t i = 0; i < f->n; i++)
                n += f->ev[i].ok > 0;
        pthread_mutex_unlock(&f->lock);
        return n;
}

size_t fx_requests(fx_t *f)
{
        size_t n;

        pthread_mutex_lock(&f->lock);
        n = f->requests;
        pthread_mutex_unlock(&f->lock);
        return n;
}

void fx_path_counts(fx_t *f, const char *path, size_t *ok, size_t *fail)
{
        *ok = *fail = 0;
        pthread_mutex_lock(&f->lock);
        for (size_t i = 0; i < f->npaths; i++)
                if (!strcmp(f->paths[i].path, path)) {
                        *ok = f->paths[i].ok;
                        *fail = f->paths[i].fail;
                }
        pthread_mutex_unlock(&f->lock);
}

void fx_wait_delivered(fx_t *f, size_t n, int timeout_ms)
{
        int64_t deadline = it_now_ms() + timeout_ms;
        size_t got;

        while ((got = fx_delivered(f)) < n) {
                cr_assert(it_now_ms() < deadline,
                          "%s: only %zu of %zu ids delivered after %d ms "
                          "(logs in %s)",
                          f->name, got, n, timeout_ms, f->dir);
                usleep(20 * 1000);
        }
}

fx_event_t fx_event(fx_t *f, size_t i)
{
        fx_event_t e;

        pthread_mutex_lock(&f->lock);
        cr_assert(i < f->n);
        e = f->ev[i];
        pthread_mutex_unlock(&f->lock);
        return e;
}

void fx_wait_committed(fx_t *f, int partitions, int timeout_ms)
{
        int64_t end[64], com[64];

        if (it_wait_committed_to_end(f->group, f->topic, partitions,
                                     timeout_ms))
                return;
        it_log_end(f->topic, partitions, end);
        it_committed(f->group, f->topic, partitions, com);
        for (int i = 0; i < partitions; i++)
                cr_log_error("%s: partition %d committed %lld log end %lld",
                             f->name, i, (long long)com[i], (long long)end[i]);
        cr_assert_fail("%s: committed offsets did not reach the log end in "
                       "%d ms (worker logs in %s)",
                       f->name, timeout_ms, f->dir);
}

/*
 * Dead letters.
 */

/* Header \p name of \p h as text. @returns 0, or -1 when absent. */
static int header_text(rd_kafka_headers_t *h, const char *name, char *out,
                       size_t size)
{
        const void *v;
        size_t len;

        if (!h || rd_kafka_header_get_last(h, name, &v, &len) != 0 || !v)
                return -1;
        if (len >= size)
                len = size - 1;
        memcpy(out, v, len);
        out[len] = '\0';
        return 0;
}

/* The ledger index a dead letter stands for, or -1; lock held. */
static long dlq_index(fx_t *f, const rd_kafka_message_t *m)
{
        rd_kafka_headers_t *h = NULL;
        char topic[160], part[32], off[32];
        const char *p, *end;
        size_t plen = strlen(f->prefix);

        if (rd_kafka_message_headers(m, &h) == 0 &&
            header_text(h, "hookbridge-source-topic", topic, sizeof(topic)) ==
                    0 &&
            header_text(h, "hookbridge-source-partition", part, sizeof(part)) ==
                    0 &&
            header_text(h, "hookbridge-source-offset", off, sizeof(off)) == 0 &&
            !strcmp(topic, f->topic)) {
                long pa = strtol(part, NULL, 10);
                long long of = strtoll(off, NULL, 10);
                for (size_t i = 0; i < f->n; i++)
                        if (f->ev[i].partition == pa && f->ev[i].offset == of)
                                return (long)i;
        }
        /* Not found by where it came from: by its messageId. */
        if (!m->payload)
                return -1;
        p = m->payload;
        end = p + m->len;
        while ((p = memchr(p, f->prefix[0], (size_t)(end - p)))) {
                if ((size_t)(end - p) > plen && !memcmp(p, f->prefix, plen) &&
                    p[plen] == '-') {
                        const char *q = p + plen + 1;
                        while (q < end && *q >= '0' && *q <= '9')
                                q++;
                        return id_index(f, p, (size_t)(q - p));
                }
                p++;
        }
        return -1;
}

int64_t fx_wait_dlq(fx_t *f, int64_t n, int timeout_ms)
{
        int64_t end[1] = {0}, deadline = it_now_ms() + timeout_ms;

        do {
                it_log_end(fx_dlq(f), 1, end);
                if (end[0] >= n)
                        break;
                usleep(200 * 1000);
        } while (it_now_ms() < deadline);
        return end[0];
}

void fx_scan_dlq(fx_t *f)
{
        char errstr[512], group[160];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        rd_kafka_topic_partition_list_t *l;
        int64_t lo, hi, deadline = it_now_ms() + 60000, next;
        rd_kafka_resp_err_t err;

        snprintf(group, sizeof(group), "%s-dlqscan", f->group);
        rd_kafka_conf_set(conf, "bootstrap.servers", it_brokers(), NULL, 0);
        rd_kafka_conf_set(conf, "group.id", group, NULL, 0);
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
        rd_kafka_conf_set(conf, "fetch.message.max.bytes", "8388608", NULL, 0);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        cr_assert_not_null(rk, "dead-letter reader: %s", errstr);
        /* The dead-letter topic has one partition (fx_create_topics). */
        err = rd_kafka_query_watermark_offsets(rk, f->dlq, 0, &lo, &hi, 10000);
        cr_assert_eq(err, 0, "watermarks of %s: %s", f->dlq,
                     rd_kafka_err2str(err));
        /* read from the start again: counted afresh, not on top of an
         * earlier scan's counts */
        pthread_mutex_lock(&f->lock);
        for (size_t i = 0; i < f->n; i++)
                f->ev[i].dlq = 0;
        f->stray_dlq = 0;
        pthread_mutex_unlock(&f->lock);
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, f->dlq, 0)->offset = lo;
        cr_assert_eq(rd_kafka_assign(rk, l), 0);
        rd_kafka_topic_partition_list_destroy(l);
        next = lo;
        while (next < hi) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
                long i;

                cr_assert(it_now_ms() < deadline,
                          "dead-letter topic %s read to %lld of %lld only",
                          f->dlq, (long long)next, (long long)hi);
                if (!m)
                        continue;
                if (m->err) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                next = m->offset + 1;
                pthread_mutex_lock(&f->lock);
                i = dlq_index(f, m);
                if (i >= 0 && (size_t)i < f->n) {
                        rd_kafka_headers_t *h = NULL;
                        f->ev[i].dlq++;
                        if (rd_kafka_message_headers(m, &h) == 0)
                                header_text(h, "hookbridge-reason",
                                            f->ev[i].reason,
                                            sizeof(f->ev[i].reason));
                } else {
                        f->stray_dlq++;
                }
                pthread_mutex_unlock(&f->lock);
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
}

/*
 * Figures.
 */

size_t fx_log_count(fx_t *f, const char *text)
{
        char path[160], line[4096];
        size_t n = 0;

        for (size_t i = 0; i < f->nworkers; i++) {
                FILE *fp;
                snprintf(path, sizeof(path), "%s/worker-%zu.log", f->dir, i);
                fp = fopen(path, "r");
                if (!fp)
                        continue;
                while (fgets(line, sizeof(line), fp))
                        n += strstr(line, text) != NULL;
                fclose(fp);
        }
        return n;
}

/* Lost events whose offset the group never committed. */
static size_t lost_uncommitted(fx_t *f)
{
        int64_t com[64];
        int parts = 0;
        size_t n = 0;

        pthread_mutex_lock(&f->lock);
        for (size_t i = 0; i < f->n; i++)
                if (f->ev[i].partition >= parts)
                        parts = f->ev[i].partition + 1;
        pthread_mutex_unlock(&f->lock);
        if (parts <= 0 || parts > 64)
                return 0;
        it_committed(f->group, f->topic, parts, com);
        pthread_mutex_lock(&f->lock);
        for (size_t i = 0; i < f->n; i++) {
                const fx_event_t *e = &f->ev[i];
                if (e->ok || e->dlq || e->partition < 0)
                        continue;
                n += com[e->partition] < 0 || e->offset >= com[e->partition];
        }
        pthread_mutex_unlock(&f->lock);
        return n;
}

fx_figures_t fx_report(fx_t *f, const char *extra)
{
        fx_figures_t g = {0};
        char line[768];
        size_t len;
        const char *out = getenv("HB_FAULT_REPORT");
        size_t stray, stray_dlq;

        g.dropped = fx_log_count(f, "delivery dropped");
        pthread_mutex_lock(&f->lock);
        g.produced = f->n;
        for (size_t i = 0; i < f->n; i++) {
                const fx_event_t *e = &f->ev[i];
                g.delivered += e->ok > 0;
                g.duplicates += e->ok > 1 ? (size_t)e->ok - 1 : 0;
                g.dead_lettered += e->dlq > 0;
                g.lost += e->ok == 0 && e->dlq == 0;
                g.bad += e->kind < 0;
                g.bad_delivered += e->kind < 0 && e->ok > 0;
        }
        stray = f->stray;
        stray_dlq = f->stray_dlq;
        pthread_mutex_unlock(&f->lock);
        len = (size_t)snprintf(
                line, sizeof(line),
                "scenario=%s produced=%zu delivered=%zu duplicates=%zu "
                "dead_lettered=%zu dropped=%zu lost=%zu",
                f->name, g.produced, g.delivered, g.duplicates, g.dead_lettered,
                g.dropped, g.lost);
        if (g.lost && len < sizeof(line))
                /* of the lost, those never committed come back after a
                 * restart (held, or stuck); the rest are gone for good */
                len += (size_t)snprintf(line + len, sizeof(line) - len,
                                        " lost_uncommitted=%zu",
                                        lost_uncommitted(f));
        if (extra && len < sizeof(line))
                snprintf(line + len, sizeof(line) - len, " %s", extra);
        printf("%s\n", line);
        fflush(stdout);
        cr_log_info("%s (bad inputs %zu, requests with unknown ids %zu, "
                    "dead letters of unknown origin %zu)",
                    line, g.bad, stray, stray_dlq);
        if (out && *out) {
                FILE *fp = fopen(out, "a");
                if (fp) {
                        fprintf(fp, "%s\n", line);
                        fclose(fp);
                }
        }
        return g;
}

void fx_assert_nothing_lost(fx_t *f, const fx_figures_t *g)
{
        size_t shown = 0;

        if (g->lost) {
                pthread_mutex_lock(&f->lock);
                for (size_t i = 0; i < f->n && shown < 10; i++) {
                        const fx_event_t *e = &f->ev[i];
                        if (e->ok || e->dlq)
                                continue;
                        cr_log_error("%s: lost %s-%zu (kind %d, partition %d "
                                     "offset %lld, %d failed answers)",
                                     f->name, f->prefix, i, e->kind,
                                     (int)e->partition, (long long)e->offset,
                                     e->fail);
                        shown++;
                }
                pthread_mutex_unlock(&f->lock);
        }
        cr_expect_eq(g->dropped, 0, "%s: %zu deliveries dropped (logs in %s)",
                     f->name, g->dropped, f->dir);
        cr_expect_eq(g->bad_delivered, 0, "%s: %zu bad inputs delivered",
                     f->name, g->bad_delivered);
        cr_assert_eq(g->lost, 0,
                     "%s: %zu of %zu events neither delivered nor "
                     "dead-lettered (logs in %s)",
                     f->name, g->lost, g->produced, f->dir);
        cr_assert_eq(g->dropped, 0);
        cr_assert_eq(g->bad_delivered, 0);
}

/* Can \p port be bound on 127.0.0.1 now? */
static int port_free(uint16_t port)
{
        struct sockaddr_in a = {.sin_family = AF_INET};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(port);
        ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        if (fd >= 0)
                close(fd);
        return ok;
}

uint16_t fx_stable_port(void)
{
        static unsigned seed;
        unsigned lo = 20000, hi = 32768; /* hi: the ephemeral range's start */
        FILE *fp = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

        if (fp) {
                if (fscanf(fp, "%u", &hi) != 1)
                        hi = 32768;
                fclose(fp);
        }
        if (hi > 65535)
                hi = 65535;
        if (hi < lo + 1000)
                lo = 1024;
        if (!seed)
                seed = (unsigned)getpid() ^ (unsigned)it_now_ms();
        for (int i = 0; i < 1000; i++) {
                uint16_t port =
                        (uint16_t)(lo + (unsigned)rand_r(&seed) % (hi - lo));

                if (port_free(port))
                        return port;
        }
        cr_assert_fail("no free port in [%u, %u) on 127.0.0.1", lo, hi);
        return 0;
}

/*
 * A broker of one's own.
 */

/* The java command line of the broker, kept from before it was halted. */
static struct {
        char buf[8192];
        char *argv[128];
        pid_t child;   /* when resumed by us: our child, reaped by us */
        int lock_fd;   /* held from start to remove, 0: none */
        uint16_t port; /* its ports, picked by fx_broker_start() */
        uint16_t ctrl;
} broker;

/* Run `kafka.sh CMD` with our ports and state, never an outside broker.
 * @returns its exit status, -1 on time-out. */
static int kafka_sh(const char *script, const char *cmd, const char *state,
                    int timeout_ms)
{
        static char *envp[512];
        static char port_env[64], ctrl_env[64], state_env[300];
        size_t n = 0;
        int64_t deadline = it_now_ms() + timeout_ms;
        int status;
        pid_t pid;

        snprintf(port_env, sizeof(port_env), "HB_KAFKA_PORT=%u",
                 (unsigned)broker.port);
        snprintf(ctrl_env, sizeof(ctrl_env), "HB_KAFKA_CONTROLLER_PORT=%u",
                 (unsigned)broker.ctrl);
        snprintf(state_env, sizeof(state_env), "HB_KAFKA_STATE=%s", state);
        for (char **e = environ; *e && n < 500; e++)
                if (strncmp(*e, "HOOKBRIDGE_TEST_BROKERS=", 24) &&
                    strncmp(*e, "HB_KAFKA_", 9))
                        envp[n++] = *e;
        envp[n++] = port_env;
        envp[n++] = ctrl_env;
        envp[n++] = state_env;
        envp[n] = NULL;
        pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                close_inherited();
                execle("/bin/bash", "bash", script, cmd, (char *)NULL, envp);
                _exit(127);
        }
        while (it_now_ms() < deadline) {
                if (waitpid(pid, &status, WNOHANG) == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
                usleep(50 * 1000);
        }
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
}

static pid_t broker_pid(const char *state)
{
        char path[300], text[32] = "";
        FILE *fp;

        snprintf(path, sizeof(path), "%s/kafka.pid", state);
        fp = fopen(path, "r");
        if (!fp)
                return -1;
        if (!fgets(text, sizeof(text), fp))
                text[0] = '\0';
        fclose(fp);
        return text[0] ? (pid_t)strtol(text, NULL, 10) : -1;
}

/* Does a broker answer a metadata request on 127.0.0.1:\p port? */
static int broker_answers(uint16_t port)
{
        char errstr[256], addr[64];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_t *rk;
        int ok;

        snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)port);
        rd_kafka_conf_set(conf, "bootstrap.servers", addr, NULL, 0);
        rd_kafka_conf_set(conf, "log_level", "0", NULL, 0);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk)
                return 0;
        ok = rd_kafka_metadata(rk, 1, NULL, &md, 2000) == 0;
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_destroy(rk);
        return ok;
}

static int terminate(pid_t pid, int timeout_ms);

/* Another run of this suite from the same build directory would use the
 * same state: one at a time, the others wait. */
static void broker_lock(const char *state)
{
        char path[300];
        int64_t deadline = it_now_ms() + 240000;
        int fd;

        snprintf(path, sizeof(path), "%s.fx.lock", state);
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
        while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
                cr_assert(it_now_ms() < deadline,
                          "waited 240 s for %s (another run's broker)", path);
                usleep(200 * 1000);
        }
        broker.lock_fd = fd + 1;
}

static void broker_stop(const char *script, const char *state)
{
        if (broker.child > 0)
                terminate(broker.child, 30000);
        kafka_sh(script, "stop", state, 60000);
}

uint16_t fx_broker_start(const char *script, const char *state)
{
        int rc = -1;

        broker_lock(state);
        /* A previous run that died leaves its broker: ours, by state
         * (kafka.sh stop finds it by its pid file, whatever its ports). */
        broker_stop(script, state);
        /* Free ports now may be taken before the broker binds them (by
         * another test picking too): kafka.sh then refuses, try others. */
        for (int attempt = 0; attempt < 3 && rc != 0; attempt++) {
                broker.port = fx_stable_port();
                do
                        broker.ctrl = fx_stable_port();
                while (broker.ctrl == broker.port);
                rc = kafka_sh(script, "start", state, 180000);
        }
        cr_assert_eq(rc, 0,
                     "kafka.sh start on ports %u and %u failed (%d); see %s",
                     (unsigned)broker.port, (unsigned)broker.ctrl, rc, state);
        broker.child = 0;
        return broker.port;
}

/* Keep the command line of the running broker, for fx_broker_resume(). */
static void keep_cmdline(pid_t pid)
{
        char path[64];
        size_t len, argc = 0;
        FILE *fp;

        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        fp = fopen(path, "r");
        cr_assert_not_null(fp, "broker pid %d: %s", (int)pid, strerror(errno));
        len = fread(broker.buf, 1, sizeof(broker.buf) - 1, fp);
        fclose(fp);
        broker.buf[len] = '\0';
        for (size_t i = 0; i < len && argc + 1 < 128;
             i += strlen(broker.buf + i) + 1)
                broker.argv[argc++] = broker.buf + i;
        broker.argv[argc] = NULL;
        cr_assert(argc > 2 &&
                          strstr(broker.argv[argc - 1], "server.properties"),
                  "pid %d does not look like our broker", (int)pid);
}

/* SIGTERM \p pid and wait for it to go (reaping it when it is ours). */
static int terminate(pid_t pid, int timeout_ms)
{
        int64_t deadline = it_now_ms() + timeout_ms;
        int status;

        kill(pid, SIGTERM);
        while (it_now_ms() < deadline) {
                if (pid == broker.child) {
                        if (waitpid(pid, &status, WNOHANG) == pid) {
                                broker.child = 0;
                                return 0;
                        }
                } else if (kill(pid, 0) == -1 && errno == ESRCH) {
                        return 0;
                }
                usleep(50 * 1000);
        }
        kill(pid, SIGKILL);
        if (pid == broker.child) {
                waitpid(pid, &status, 0);
                broker.child = 0;
        }
        return -1;
}

void fx_broker_halt(const char *state)
{
        pid_t pid = broker_pid(state);

        cr_assert(pid > 0, "no broker pid in %s", state);
        keep_cmdline(pid);
        cr_assert_eq(terminate(pid, 30000), 0,
                     "broker %d did not stop in 30 s on SIGTERM", (int)pid);
}

void fx_broker_resume(const char *state)
{
        uint16_t port = broker.port;
        char out[300], pidpath[300];
        pid_t parent = getpid(), pid;
        int64_t deadline;
        FILE *fp;

        cr_assert_not_null(broker.argv[0], "fx_broker_halt() first");
        snprintf(out, sizeof(out), "%s/kafka.out", state);
        snprintf(pidpath, sizeof(pidpath), "%s/kafka.pid", state);
        pid = fork();
        cr_assert(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
                int fd;
                /* stopped with the test, should an assertion end it */
                it_child_dies_with(parent, SIGTERM);
                close_inherited();
                fd = open("/dev/null", O_RDONLY);
                if (fd >= 0) {
                        dup2(fd, STDIN_FILENO);
                        close(fd);
                }
                fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                        close(fd);
                }
                execvp(broker.argv[0], broker.argv);
                _exit(127);
        }
        broker.child = pid;
        fp = fopen(pidpath, "w");
        cr_assert_not_null(fp, "%s: %s", pidpath, strerror(errno));
        fprintf(fp, "%d\n", (int)pid);
        fclose(fp);
        deadline = it_now_ms() + 90000;
        while (!broker_answers(port)) {
                cr_assert(fx_alive(pid), "the resumed broker exited (see %s)",
                          out);
                cr_assert(it_now_ms() < deadline,
                          "the resumed broker does not answer on port %u",
                          (unsigned)port);
                usleep(200 * 1000);
        }
}

void fx_broker_remove(const char *script, const char *state)
{
        if (!broker.lock_fd)
                return; /* never started (or another run holds it) */
        broker_stop(script, state);
        close(broker.lock_fd - 1);
        broker.lock_fd = 0;
}
