/* wk_cmd_replay: `hookbridge replay`: backfill a time window of the
 * configured topics to chosen webhooks outside the consumer group (whose
 * offsets are never touched), resumable through a state file. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <librdkafka/rdkafka.h>

#include "cfg.h"
#include "kc_consumer.h"
#include "kc_lag.h"
#include "wk_cmd.h"
#include "hb_log.h"
#include "hb_time.h"
#include "wk_worker.h"

/* How long the brokers get for the offset lookups. */
#define LOOKUP_TIMEOUT_MS 10000
/* The state file is rewritten at most this often (and at the end). */
#define SAVE_EVERY_MS 1000
/* Progress: a live line on a terminal, a log line otherwise. */
#define TTY_EVERY_MS 200
#define LOG_EVERY_MS 5000
/* Exit status after an interruption (128 + SIGINT, as shells report). */
#define EXIT_INTERRUPTED 130

static const char usage[] =
        "usage: hookbridge replay -c FILE --from TIME [--to TIME] "
        "[--topic T]...\n"
        "                         [--webhook NAME]... [--app T] [--rate N] "
        "[--dry-run]\n"
        "                         [--state FILE]\n"
        "Backfills the messages of a time window to webhooks, outside the\n"
        "consumer group: the live group's offsets are never read for it nor\n"
        "moved, so a running worker is not disturbed.\n"
        "\n"
        "  --from TIME     first message stamped at or after TIME\n"
        "  --to TIME       stop before the first message stamped at or\n"
        "                  after TIME (default: the log end when the\n"
        "                  replay starts, so it always finishes)\n"
        "  --topic T       a configured topic (repeatable; default: all)\n"
        "  --webhook NAME  deliver only to this webhook (repeatable;\n"
        "                  default: every enabled webhook)\n"
        "  --app T         only the events of app T (payload app_token): to\n"
        "                  T's webhooks and the operator webhooks; the other\n"
        "                  apps' events are skipped and counted\n"
        "  --rate N        take in at most N messages per second\n"
        "  --dry-run       transform and count what each webhook would\n"
        "                  get, per webhook and per type; deliver nothing\n"
        "  --state FILE    record progress in FILE; interrupted with "
        "Ctrl-C, run\n"
        "                  the same command again with the same --state "
        "FILE to\n"
        "                  continue without redelivering what finished "
        "(a\n"
        "                  relative TIME keeps the window of the first "
        "run)\n"
        "\n"
        "TIME: ISO-8601 (2024-03-01T12:00:00Z, 2024-03-01T14:00:00+02:00,\n"
        "2024-03-01 = midnight UTC), epoch milliseconds (1709294400000), or\n"
        "relative to now (-45s, -30m, -2h, -7d, -1h30m, now). Message\n"
        "timestamps are Kafka's (producer or broker time), looked up with\n"
        "the brokers' time index.\n"
        "\n"
        "Ctrl-C (SIGINT, SIGTERM) stops taking messages, lets in-flight\n"
        "deliveries finish (delivery.shutdown_timeout_ms) and saves the\n"
        "state; a second one abandons in-flight deliveries at once (they\n"
        "are delivered again on resume).\n"
        "Exit status: 0 done, 130 interrupted, 1 on errors, 64 on usage\n"
        "errors.\n";

/* One partition of the plan. */
typedef struct part_s {
        const char *topic; /* one of replay_t.topics */
        int32_t partition;
        int64_t first; /* the window's first offset (at the first run) */
        int64_t start; /* this run's first offset */
        int64_t end;   /* the window's end: stop before it */
        int64_t next;  /* finished prefix: everything before is done */
} part_t;

typedef struct replay_s {
        /* the command line */
        const char *from_arg, *to_arg; /* to_arg NULL: the log end */
        int64_t from_ms, to_ms;        /* to_ms -1: none */
        const char **topics;           /* owned copies */
        size_t topic_count;
        const char **webhooks; /* owned copies */
        size_t webhook_count;
        const char *app; /* --app, or NULL */
        double rate;
        int dry_run;
        const char *state_path;
        json_object *state; /* the state file read at start, or NULL */
        /* the plan; next moves under lock (worker callback vs display) */
        part_t *parts;
        size_t n;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int done; /* display thread: stop */
        int64_t saved_ms;
        int save_warned;
        wk_worker_t *w;
        int64_t started_ms; /* monotonic */
} replay_t;

static wk_worker_t *volatile replaying;
static volatile sig_atomic_t signals;

static void on_signal(int sig)
{
        wk_worker_t *w = replaying;

        (void)sig;
        signals++;
        if (w)
                wk_worker_stop(w); /* the second call abandons in-flight */
        if (signals >= 3 || (!w && signals >= 2))
                _exit(EXIT_INTERRUPTED);
}

static int left_ms(int64_t deadline)
{
        int64_t left = deadline - hb_time_mono_ms();

        return left < 1 ? 1 : (int)left;
}

/* Add a copy of \p s to \p v unless it is there.
 * @returns 0, or -1 on OOM. */
static int add_unique(const char ***v, size_t *n, const char *s)
{
        const char **nv;
        char *copy;

        for (size_t i = 0; i < *n; i++)
                if (!strcmp((*v)[i], s))
                        return 0;
        nv = realloc(*v, (*n + 1) * sizeof(*nv));
        if (!nv)
                return -1;
        *v = nv;
        copy = strdup(s);
        if (!copy)
                return -1;
        nv[(*n)++] = copy;
        return 0;
}

static void free_strings(const char **v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free((char *)v[i]);
        free(v);
}

/*
 * The state file.
 */

/* Does JSON array \p a hold exactly the strings of \p v (as sets)? */
static int same_set(json_object *a, const char **v, size_t n)
{
        size_t len;

        if (!a || !json_object_is_type(a, json_type_array))
                return 0;
        len = json_object_array_length(a);
        if (len != n)
                return 0;
        for (size_t i = 0; i < n; i++) {
                size_t j;
                for (j = 0; j < len; j++) {
                        json_object *e = json_object_array_get_idx(a, j);
                        if (json_object_is_type(e, json_type_string) &&
                            !strcmp(json_object_get_string(e), v[i]))
                                break;
                }
                if (j == len)
                        return 0;
        }
        return 1;
}

/* Same TIME as in the state: as written, or the same instant. */
static int same_time(json_object *st, const char *key, const char *arg,
                     int64_t ms)
{
        json_object *s = NULL, *m = NULL;
        char k[16];

        json_object_object_get_ex(st, key, &s);
        snprintf(k, sizeof(k), "%s_ms", key);
        json_object_object_get_ex(st, k, &m);
        if (!arg)
                return !s || json_object_is_type(s, json_type_null);
        if (!s || !json_object_is_type(s, json_type_string))
                return 0;
        return !strcmp(json_object_get_string(s), arg) ||
               (m && json_object_get_int64(m) == ms);
}

/* The --app of a state file ("null" when none: files written before
 * --app have none either). */
static const char *state_app(json_object *st)
{
        json_object *a = NULL;

        json_object_object_get_ex(st, "app", &a);
        return a && json_object_is_type(a, json_type_string)
                       ? json_object_get_string(a)
                       : "null";
}

static int same_app(json_object *st, const char *app)
{
        json_object *a = NULL;

        json_object_object_get_ex(st, "app", &a);
        if (!a || json_object_is_type(a, json_type_null))
                return !app;
        return app && json_object_is_type(a, json_type_string) &&
               !strcmp(json_object_get_string(a), app);
}

/* Read the state file, when there is one, and check it belongs to this
 * replay; the window then is the saved one. @returns 0 (rp->state set
 * when a file was read), or -1 with the reason in \p errstr. */
static int state_load(replay_t *rp, char *errstr, size_t errstr_size)
{
        json_object *st, *v = NULL;
        char a[64], b[64];

        if (!rp->state_path || access(rp->state_path, F_OK) == -1)
                return 0;
        st = json_object_from_file(rp->state_path);
        if (!st || !json_object_is_type(st, json_type_object) ||
            !json_object_object_get_ex(st, "partitions", &v) ||
            !json_object_is_type(v, json_type_array) ||
            !json_object_object_get_ex(st, "from_ms", &v)) {
                snprintf(errstr, errstr_size,
                         "--state %s: not a replay state file (%s); "
                         "delete it or choose another",
                         rp->state_path,
                         st                         ? "fields missing"
                         : json_util_get_last_err() ? json_util_get_last_err()
                                                    : "unreadable");
                json_object_put(st);
                return -1;
        }
        if (!same_time(st, "from", rp->from_arg, rp->from_ms) ||
            !same_time(st, "to", rp->to_arg, rp->to_ms) ||
            !json_object_object_get_ex(st, "topics", &v) ||
            !same_set(v, rp->topics, rp->topic_count) ||
            !json_object_object_get_ex(st, "webhooks", &v) ||
            !same_set(v, rp->webhooks, rp->webhook_count) ||
            !same_app(st, rp->app)) {
                json_object *f = NULL, *t = NULL, *tp = NULL, *wh = NULL;
                json_object_object_get_ex(st, "from", &f);
                json_object_object_get_ex(st, "to", &t);
                json_object_object_get_ex(st, "topics", &tp);
                json_object_object_get_ex(st, "webhooks", &wh);
                snprintf(errstr, errstr_size,
                         "--state %s belongs to another replay (from %s, "
                         "to %s, topics %s, webhooks %s, app %s): give the "
                         "same --from, --to, --topic, --webhook and --app "
                         "to continue it, or use another --state file",
                         rp->state_path, json_object_get_string(f),
                         t ? json_object_get_string(t) : "null",
                         json_object_to_json_string_ext(tp,
                                                        JSON_C_TO_STRING_PLAIN),
                         json_object_to_json_string_ext(wh,
                                                        JSON_C_TO_STRING_PLAIN),
                         state_app(st));
                json_object_put(st);
                return -1;
        }
        /* The window of the first run: a relative TIME stays put. */
        json_object_object_get_ex(st, "from_ms", &v);
        rp->from_ms = json_object_get_int64(v);
        rp->to_ms = -1;
        if (json_object_object_get_ex(st, "to_ms", &v) && v)
                rp->to_ms = json_object_get_int64(v);
        rp->state = st;
        hb_log(HB_LOG_INFO, "replay: resuming from the state file",
               "state=%s from=%s to=%s", rp->state_path,
               hb_time_format(rp->from_ms, a, sizeof(a)),
               rp->to_ms >= 0 ? hb_time_format(rp->to_ms, b, sizeof(b))
                              : "log-end");
        return 0;
}

/* The saved partition \p topic/\p partition, or NULL. */
static json_object *state_part(const replay_t *rp, const char *topic,
                               int32_t partition)
{
        json_object *arr = NULL;

        if (!rp->state ||
            !json_object_object_get_ex(rp->state, "partitions", &arr))
                return NULL;
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
                json_object *p = json_object_array_get_idx(arr, i), *t, *n;
                if (json_object_object_get_ex(p, "topic", &t) &&
                    json_object_object_get_ex(p, "partition", &n) &&
                    !strcmp(json_object_get_string(t), topic) &&
                    json_object_get_int(n) == partition)
                        return p;
        }
        return NULL;
}

static int64_t get_i64(json_object *o, const char *key, int64_t dflt)
{
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) ||
            !json_object_is_type(v, json_type_int))
                return dflt;
        return json_object_get_int64(v);
}

static json_object *strings_json(const char **v, size_t n)
{
        json_object *a = json_object_new_array();

        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

/* Rewrite the state file atomically (temporary file, fsync, rename).
 * @returns 0, or -1 with the reason in \p errstr. */
static int state_save(replay_t *rp, char *errstr, size_t errstr_size)
{
        json_object *o = json_object_new_object();
        json_object *parts = json_object_new_array();
        size_t tmp_len = strlen(rp->state_path) + 8;
        char *tmp = malloc(tmp_len);
        const char *text;
        int fd = -1, rc = -1;
        size_t len;

        if (!tmp) {
                snprintf(errstr, errstr_size, "out of memory");
                goto out;
        }
        json_object_object_add(o, "from", json_object_new_string(rp->from_arg));
        json_object_object_add(o, "to",
                               rp->to_arg ? json_object_new_string(rp->to_arg)
                                          : NULL);
        json_object_object_add(o, "from_ms",
                               json_object_new_int64(rp->from_ms));
        json_object_object_add(o, "to_ms",
                               rp->to_ms >= 0 ? json_object_new_int64(rp->to_ms)
                                              : NULL);
        json_object_object_add(o, "topics",
                               strings_json(rp->topics, rp->topic_count));
        json_object_object_add(o, "webhooks",
                               strings_json(rp->webhooks, rp->webhook_count));
        json_object_object_add(
                o, "app", rp->app ? json_object_new_string(rp->app) : NULL);
        pthread_mutex_lock(&rp->lock);
        for (size_t i = 0; i < rp->n; i++) {
                const part_t *p = &rp->parts[i];
                json_object *j = json_object_new_object();
                json_object_object_add(j, "topic",
                                       json_object_new_string(p->topic));
                json_object_object_add(j, "partition",
                                       json_object_new_int(p->partition));
                json_object_object_add(j, "start",
                                       json_object_new_int64(p->first));
                json_object_object_add(j, "next",
                                       json_object_new_int64(p->next));
                json_object_object_add(j, "end", json_object_new_int64(p->end));
                json_object_array_add(parts, j);
        }
        pthread_mutex_unlock(&rp->lock);
        json_object_object_add(o, "partitions", parts);
        text = json_object_to_json_string_ext(
                o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                           JSON_C_TO_STRING_NOSLASHESCAPE);
        len = strlen(text);
        snprintf(tmp, tmp_len, "%s.tmp", rp->state_path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd == -1 || write(fd, text, len) != (ssize_t)len ||
            write(fd, "\n", 1) != 1 || fsync(fd) == -1) {
                snprintf(errstr, errstr_size, "--state %s: %s", tmp,
                         strerror(errno));
                goto out;
        }
        if (close(fd) == -1 || rename(tmp, rp->state_path) == -1) {
                fd = -1;
                snprintf(errstr, errstr_size, "--state %s: %s", rp->state_path,
                         strerror(errno));
                goto out;
        }
        fd = -1;
        rc = 0;
out:
        if (fd != -1) {
                close(fd);
                unlink(tmp);
        }
        free(tmp);
        json_object_put(o);
        return rc;
}

/* Worker callback (its thread): a partition's finished prefix moved. */
static void on_progress(const char *topic, int32_t partition, int64_t offset,
                        void *opaque)
{
        replay_t *rp = opaque;
        char errstr[512];

        pthread_mutex_lock(&rp->lock);
        for (size_t i = 0; i < rp->n; i++) {
                part_t *p = &rp->parts[i];
                if (p->partition == partition && !strcmp(p->topic, topic)) {
                        if (offset > p->next)
                                p->next = offset > p->end ? p->end : offset;
                        break;
                }
        }
        pthread_mutex_unlock(&rp->lock);
        if (!rp->state_path || hb_time_mono_ms() - rp->saved_ms < SAVE_EVERY_MS)
                return;
        rp->saved_ms = hb_time_mono_ms();
        if (state_save(rp, errstr, sizeof(errstr)) == -1 && !rp->save_warned) {
                rp->save_warned = 1;
                hb_log(HB_LOG_ERR,
                       "replay: state not saved; a resume would redeliver",
                       "error=\"%s\"", errstr);
        }
}

/*
 * The plan: offsets of the window per partition.
 */

/* offsets_for_times(\p ms) for every partition into \p out (-1: no
 * message at or after \p ms). */
static int offsets_at(rd_kafka_t *rk, const replay_t *rp, int64_t ms,
                      int64_t *out, int64_t deadline, char *errstr,
                      size_t errstr_size)
{
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new((int)rp->n);
        rd_kafka_resp_err_t err;
        int rc = -1;

        for (size_t i = 0; i < rp->n; i++)
                rd_kafka_topic_partition_list_add(l, rp->parts[i].topic,
                                                  rp->parts[i].partition)
                        ->offset = ms;
        err = rd_kafka_offsets_for_times(rk, l, left_ms(deadline));
        if (err) {
                snprintf(errstr, errstr_size, "offsets for times: %s",
                         rd_kafka_err2str(err));
                goto out;
        }
        for (size_t i = 0; i < rp->n; i++) {
                rd_kafka_topic_partition_t *e = &l->elems[i];
                if (e->err) {
                        snprintf(errstr, errstr_size,
                                 "offsets for times of %s/%d: %s", e->topic,
                                 (int)e->partition, rd_kafka_err2str(e->err));
                        goto out;
                }
                out[i] = e->offset;
        }
        rc = 0;
out:
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
}

/* List the partitions and find each one's window:
 * [first at or after --from, first at or after --to) or, without --to,
 * up to the log end now; a partition with nothing at or after --from is
 * empty (at its log end). A resumed partition keeps its saved end and
 * starts at its saved finished prefix. */
static int plan(replay_t *rp, const cfg_t *cfg, char *errstr,
                size_t errstr_size)
{
        int64_t deadline = hb_time_mono_ms() + LOOKUP_TIMEOUT_MS;
        rd_kafka_t *rk = kc_lag_client_new(cfg, errstr, errstr_size);
        int64_t *from = NULL, *to = NULL;
        size_t cap = 0;
        int rc = -1;

        if (!rk)
                return -1;
        for (size_t t = 0; t < rp->topic_count; t++) {
                int n = kc_lag_partition_count(rk, rp->topics[t],
                                               left_ms(deadline), errstr,
                                               errstr_size);
                part_t *np;
                if (n < 0)
                        goto out;
                cap += (size_t)n;
                np = realloc(rp->parts, (cap ? cap : 1) * sizeof(*np));
                if (!np)
                        goto oom;
                rp->parts = np;
                for (int i = 0; i < n; i++) {
                        part_t *p = &rp->parts[rp->n++];
                        memset(p, 0, sizeof(*p));
                        p->topic = rp->topics[t];
                        p->partition = i;
                }
        }
        from = calloc(rp->n ? rp->n : 1, sizeof(*from));
        to = calloc(rp->n ? rp->n : 1, sizeof(*to));
        if (!from || !to)
                goto oom;
        if (rp->n && offsets_at(rk, rp, rp->from_ms, from, deadline, errstr,
                                errstr_size) == -1)
                goto out;
        if (rp->n && rp->to_ms >= 0 &&
            offsets_at(rk, rp, rp->to_ms, to, deadline, errstr, errstr_size) ==
                    -1)
                goto out;
        for (size_t i = 0; i < rp->n; i++) {
                part_t *p = &rp->parts[i];
                json_object *saved = state_part(rp, p->topic, p->partition);
                int64_t lo, hi;
                rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
                        rk, p->topic, p->partition, &lo, &hi,
                        left_ms(deadline));
                if (err) {
                        snprintf(errstr, errstr_size, "log end of %s/%d: %s",
                                 p->topic, (int)p->partition,
                                 rd_kafka_err2str(err));
                        goto out;
                }
                p->start = from[i] >= 0 ? from[i] : hi;
                p->end = rp->to_ms < 0 ? hi : to[i] >= 0 ? to[i] : hi;
                if (p->end < p->start)
                        p->end = p->start;
                p->first = p->start;
                if (saved) {
                        p->end = get_i64(saved, "end", p->end);
                        p->first = get_i64(saved, "start", p->start);
                        p->next = get_i64(saved, "next", p->start);
                        if (p->next > p->start)
                                p->start = p->next;
                        if (p->start > p->end)
                                p->start = p->end;
                        if (p->first > p->start)
                                p->first = p->start;
                }
                p->next = p->start;
        }
        rc = 0;
        goto out;
oom:
        snprintf(errstr, errstr_size, "out of memory");
out:
        free(from);
        free(to);
        rd_kafka_destroy(rk);
        return rc;
}

/*
 * Progress and summary.
 */

/* "1:02:03" or "2:03". */
static void fmt_duration(char *out, size_t size, double s)
{
        long t = s < 0 ? 0 : s > 359999999 ? 359999999 : (long)(s + 0.5);

        if (t >= 3600)
                snprintf(out, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60,
                         t % 60);
        else
                snprintf(out, size, "%ld:%02ld", t / 60, t % 60);
}

/* Totals: the whole window, what this run started with, and the
 * finished prefix per topic: into \p out for a terminal, else logged
 * as a "replay progress" line (the logger escapes the topic names). */
static void progress_line(replay_t *rp, char *out, size_t size, int tty)
{
        wk_stats_t st;
        uint64_t window = 0, before = 0, todo = 0, done;
        double secs = (double)(hb_time_mono_ms() - rp->started_ms) / 1000.0;
        double rate, pct;
        char eta[32], topics[512];
        size_t used = 0;

        wk_worker_stats(rp->w, &st);
        topics[0] = '\0';
        pthread_mutex_lock(&rp->lock);
        for (size_t t = 0; t < rp->topic_count; t++) {
                uint64_t tw = 0, tf = 0;
                for (size_t i = 0; i < rp->n; i++) {
                        const part_t *p = &rp->parts[i];
                        if (p->topic != rp->topics[t])
                                continue;
                        tw += (uint64_t)(p->end - p->first);
                        tf += (uint64_t)(p->next - p->first);
                }
                if (used < sizeof(topics))
                        used += (size_t)snprintf(
                                topics + used, sizeof(topics) - used,
                                "%s%s %.0f%%", t ? (tty ? ", " : " ") : "",
                                rp->topics[t],
                                tw ? 100.0 * (double)tf / (double)tw : 100.0);
        }
        for (size_t i = 0; i < rp->n; i++) {
                const part_t *p = &rp->parts[i];
                window += (uint64_t)(p->end - p->first);
                before += (uint64_t)(p->start - p->first);
                todo += (uint64_t)(p->end - p->start);
        }
        pthread_mutex_unlock(&rp->lock);
        done = before + (st.consumed < todo ? st.consumed : todo);
        rate = secs > 0 ? (double)st.consumed / secs : 0;
        pct = window ? 100.0 * (double)done / (double)window : 100.0;
        if (rate > 0)
                fmt_duration(eta, sizeof(eta),
                             (double)(todo - (done - before)) / rate);
        else
                snprintf(eta, sizeof(eta), "?");
        if (tty)
                snprintf(out, size,
                         "replay %5.1f%%  %llu/%llu messages  %.0f/s  ETA %s"
                         "  [%s]",
                         pct, (unsigned long long)done,
                         (unsigned long long)window, rate, eta, topics);
        else
                hb_log(HB_LOG_INFO, "replay progress",
                       "done=%llu window=%llu percent=%.1f rate=%.1f "
                       "eta=%s delivered=%llu in_flight=%zu "
                       "finished=\"%s\"",
                       (unsigned long long)done, (unsigned long long)window,
                       pct, rate, eta, (unsigned long long)st.deliveries_ok,
                       st.in_flight, topics);
}

static void *display_main(void *opaque)
{
        replay_t *rp = opaque;
        int tty = isatty(STDERR_FILENO);
        int every = tty ? TTY_EVERY_MS : LOG_EVERY_MS;
        char line[1024];

        pthread_mutex_lock(&rp->lock);
        while (!rp->done) {
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_sec += every / 1000;
                until.tv_nsec += (long)(every % 1000) * 1000000L;
                if (until.tv_nsec >= 1000000000L) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&rp->cond, &rp->lock, &until);
                if (rp->done)
                        break;
                pthread_mutex_unlock(&rp->lock);
                progress_line(rp, line, sizeof(line), tty);
                /* The cursor goes back to column 0: a log line the
                 * worker writes meanwhile replaces the progress line
                 * instead of being glued to its end. */
                if (tty)
                        fprintf(stderr, "\r%s\033[K\r", line);
                pthread_mutex_lock(&rp->lock);
        }
        pthread_mutex_unlock(&rp->lock);
        if (tty) {
                progress_line(rp, line, sizeof(line), tty);
                fprintf(stderr, "\r%s\033[K\n", line);
        }
        return NULL;
}

static void summary(replay_t *rp, const wk_stats_t *st, int outcome,
                    double secs)
{
        uint64_t window = 0, left = 0;
        char a[64], b[64];

        for (size_t i = 0; i < rp->n; i++) {
                window += (uint64_t)(rp->parts[i].end - rp->parts[i].first);
                left += (uint64_t)(rp->parts[i].end - rp->parts[i].next);
        }
        printf("replay %s: %s .. %s\n",
               outcome == 0   ? "done"
               : outcome == 1 ? "failed"
                              : "interrupted",
               hb_time_format(rp->from_ms, a, sizeof(a)),
               rp->to_ms >= 0 ? hb_time_format(rp->to_ms, b, sizeof(b))
                              : "log end at the first run");
        printf("  %-15s %llu in %zu partition(s), %llu left\n", "window",
               (unsigned long long)window, rp->n, (unsigned long long)left);
        printf("  %-15s %llu\n", "consumed", (unsigned long long)st->consumed);
        if (!rp->dry_run) {
                printf("  %-15s %llu\n", "delivered",
                       (unsigned long long)st->deliveries_ok);
                printf("  %-15s %llu\n", "dead-lettered",
                       (unsigned long long)st->dead_lettered);
                printf("  %-15s %llu (dropped %llu)\n", "failed",
                       (unsigned long long)st->deliveries_failed,
                       (unsigned long long)st->dropped);
        }
        printf("  %-15s %llu\n", "skipped", (unsigned long long)st->skipped);
        if (rp->app)
                printf("  %-15s %llu (of the skipped)\n", "other apps",
                       (unsigned long long)st->other_app);
        printf("  %-15s %llu\n", "invalid", (unsigned long long)st->invalid);
        printf("  %-15s %.1f s\n", "elapsed", secs);
        if (outcome == 2 && rp->state_path)
                printf("continue with the same command and --state %s\n",
                       rp->state_path);
        else if (outcome == 2)
                printf("no --state FILE: running it again starts over\n");
}

/*
 * The command.
 */

static int parse_args(int argc, char **argv, replay_t *rp, const char **path,
                      int *code)
{
        static const struct option opts[] = {
                {"config", required_argument, NULL, 'c'},
                {"from", required_argument, NULL, 'f'},
                {"to", required_argument, NULL, 't'},
                {"topic", required_argument, NULL, 'T'},
                {"webhook", required_argument, NULL, 'w'},
                {"app", required_argument, NULL, 'a'},
                {"rate", required_argument, NULL, 'r'},
                {"dry-run", no_argument, NULL, 'n'},
                {"state", required_argument, NULL, 's'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        char *end;
        int o;

        *code = WK_EXIT_USAGE;
        optind = 1;
        while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                switch (o) {
                case 'c':
                        *path = optarg;
                        break;
                case 'f':
                        rp->from_arg = optarg;
                        break;
                case 't':
                        rp->to_arg = optarg;
                        break;
                case 'T':
                case 'w':
                        if (add_unique(o == 'T' ? &rp->topics : &rp->webhooks,
                                       o == 'T' ? &rp->topic_count
                                                : &rp->webhook_count,
                                       optarg) == -1) {
                                fputs("out of memory\n", stderr);
                                *code = 1;
                                return -1;
                        }
                        break;
                case 'r':
                        errno = 0;
                        rp->rate = strtod(optarg, &end);
                        if (errno || end == optarg || *end ||
                            !isfinite(rp->rate) || rp->rate <= 0) {
                                fprintf(stderr,
                                        "--rate: '%s' is not a number of "
                                        "messages per second > 0\n",
                                        optarg);
                                return -1;
                        }
                        break;
                case 'a':
                        if (!cfg_app_token_ok(optarg)) {
                                fprintf(stderr,
                                        "--app: not an app_token (1 to %d "
                                        "of A-Z a-z 0-9 - . _ ~)\n",
                                        CFG_APP_TOKEN_MAX);
                                return -1;
                        }
                        rp->app = optarg;
                        break;
                case 'n':
                        rp->dry_run = 1;
                        break;
                case 's':
                        rp->state_path = optarg;
                        break;
                case 'h':
                        fputs(usage, stdout);
                        *code = 0;
                        return -1;
                default:
                        fputs(usage, stderr);
                        return -1;
                }
        }
        if (!*path || !rp->from_arg || optind < argc) {
                fprintf(stderr, "%s%s",
                        optind < argc ? "unexpected argument\n"
                        : !*path      ? "missing -c FILE\n"
                                      : "missing --from TIME\n",
                        usage);
                return -1;
        }
        if (rp->dry_run && rp->state_path) {
                fputs("--dry-run delivers nothing, so there is nothing to "
                      "resume: leave out --state\n",
                      stderr);
                return -1;
        }
        return 0;
}

/* Times, topics and webhooks against the configuration. */
static int check_args(replay_t *rp, const cfg_t *cfg, char *errstr,
                      size_t errstr_size)
{
        const cfg_kafka_t *k = cfg_kafka(cfg);
        int64_t now = hb_time_now_ms();

        if (hb_time_parse(rp->from_arg, now, &rp->from_ms, errstr,
                          errstr_size) == -1)
                return -1;
        rp->to_ms = -1;
        if (rp->to_arg && hb_time_parse(rp->to_arg, now, &rp->to_ms, errstr,
                                        errstr_size) == -1)
                return -1;
        if (rp->to_arg && rp->to_ms <= rp->from_ms) {
                snprintf(errstr, errstr_size,
                         "--to (%s) must be later than --from (%s)", rp->to_arg,
                         rp->from_arg);
                return -1;
        }
        for (size_t i = 0; i < rp->topic_count; i++) {
                size_t t;
                for (t = 0; t < k->topic_count; t++)
                        if (!strcmp(k->topics[t].name, rp->topics[i]))
                                break;
                if (t == k->topic_count) {
                        snprintf(errstr, errstr_size,
                                 "--topic %s: not in kafka.topics of %s",
                                 rp->topics[i], cfg_path(cfg));
                        return -1;
                }
        }
        if (!rp->topic_count)
                for (size_t t = 0; t < k->topic_count; t++)
                        if (add_unique(&rp->topics, &rp->topic_count,
                                       k->topics[t].name) == -1) {
                                snprintf(errstr, errstr_size, "out of memory");
                                return -1;
                        }
        for (size_t i = 0; i < rp->webhook_count; i++) {
                const cfg_webhook_t *wh =
                        cfg_webhook_find(cfg, rp->webhooks[i]);
                if (!wh || !wh->enabled) {
                        snprintf(errstr, errstr_size, "--webhook %s: %s in %s",
                                 rp->webhooks[i],
                                 wh ? "disabled (enabled = false)"
                                    : "no webhook of that name",
                                 cfg_path(cfg));
                        return -1;
                }
                if (rp->app && wh->app_token &&
                    strcmp(wh->app_token, rp->app)) {
                        snprintf(errstr, errstr_size,
                                 "--webhook %s: a webhook of app %s, which "
                                 "never receives the events of --app %s",
                                 rp->webhooks[i], wh->app_token, rp->app);
                        return -1;
                }
        }
        return 0;
}

static void announce(const replay_t *rp)
{
        uint64_t window = 0, todo = 0;
        char a[64], b[64], hooks[256];
        size_t used = 0;

        for (size_t i = 0; i < rp->n; i++) {
                window += (uint64_t)(rp->parts[i].end - rp->parts[i].first);
                todo += (uint64_t)(rp->parts[i].end - rp->parts[i].start);
        }
        hooks[0] = '\0';
        for (size_t i = 0; i < rp->webhook_count && used < sizeof(hooks); i++)
                used += (size_t)snprintf(hooks + used, sizeof(hooks) - used,
                                         "%s%s", i ? "," : "", rp->webhooks[i]);
        hb_log(HB_LOG_INFO, "replay planned",
               "from=%s to=%s partitions=%zu window=%llu to_do=%llu "
               "webhooks=%s app=%s rate=%g dry_run=%d state=%s",
               hb_time_format(rp->from_ms, a, sizeof(a)),
               rp->to_ms >= 0 ? hb_time_format(rp->to_ms, b, sizeof(b))
                              : "log-end",
               rp->n, (unsigned long long)window, (unsigned long long)todo,
               rp->webhook_count ? hooks : "all-enabled",
               rp->app ? rp->app : "all", rp->rate, rp->dry_run,
               rp->state_path ? rp->state_path : "-");
}

/* Run the worker over the plan. @returns the outcome: 0 done, 1 failed,
 * 2 interrupted. \p cfg is the worker's from here on. */
static int run_worker(replay_t *rp, cfg_t **cfg)
{
        kc_range_t *ranges = calloc(rp->n, sizeof(*ranges));
        wk_worker_opts_t opts = {
                .ranges = ranges,
                .range_count = rp->n,
                .on_progress = on_progress,
                .opaque = rp,
                .webhooks = rp->webhook_count ? rp->webhooks : NULL,
                .webhook_count = rp->webhook_count,
                .app = rp->app,
                .rate = rp->rate,
                .dry_run = rp->dry_run,
                .no_admin = 1,
        };
        char errstr[1024];
        wk_stats_t st;
        pthread_t display;
        char *report = NULL;
        size_t report_len = 0;
        int rc, outcome, complete = 1;

        if (!ranges) {
                fputs("hookbridge replay: out of memory\n", stderr);
                return 1;
        }
        for (size_t i = 0; i < rp->n; i++) {
                ranges[i].topic = rp->parts[i].topic;
                ranges[i].partition = rp->parts[i].partition;
                ranges[i].start = rp->parts[i].start;
                ranges[i].end = rp->parts[i].end;
        }
        rp->w = wk_worker_new_ex(*cfg, &opts, errstr, sizeof(errstr));
        free(ranges); /* @remark the consumer copied them */
        if (!rp->w) {
                fprintf(stderr, "hookbridge replay: %s\n", errstr);
                return 1;
        }
        /* @remark the worker owns cfg now. */
        *cfg = NULL;
        rp->started_ms = hb_time_mono_ms();
        replaying = rp->w;
        if (signals)
                wk_worker_stop(rp->w);
        if (pthread_create(&display, NULL, display_main, rp) != 0) {
                fputs("hookbridge replay: cannot start the progress "
                      "display\n",
                      stderr);
                rp->done = 1;
        }
        rc = wk_worker_run(rp->w);
        pthread_mutex_lock(&rp->lock);
        if (!rp->done) {
                rp->done = 1;
                pthread_cond_signal(&rp->cond);
                pthread_mutex_unlock(&rp->lock);
                pthread_join(display, NULL);
        } else {
                pthread_mutex_unlock(&rp->lock);
        }
        wk_worker_stats(rp->w, &st);
        if (rp->dry_run) {
                /* printed after the summary */
                FILE *f = open_memstream(&report, &report_len);
                if (f) {
                        wk_worker_report(rp->w, f);
                        fclose(f);
                }
        }
        replaying = NULL;
        if (st.in_flight > 0)
                hb_log(HB_LOG_INFO, "replay: in-flight deliveries abandoned",
                       "in_flight=%zu note=\"delivered again on resume\"",
                       st.in_flight);
        /* Destroying reports the last finished prefixes, if any. */
        wk_worker_destroy(rp->w);
        rp->w = NULL;
        if (rc == 0 && !signals)
                /* The worker returns by itself only when every range is
                 * consumed and finished (some offsets may carry no
                 * message: transaction markers, compaction). */
                for (size_t i = 0; i < rp->n; i++)
                        rp->parts[i].next = rp->parts[i].end;
        for (size_t i = 0; i < rp->n; i++)
                complete &= rp->parts[i].next >= rp->parts[i].end;
        outcome = rc == -1 ? 1 : complete ? 0 : 2;
        if (rp->state_path && state_save(rp, errstr, sizeof(errstr)) == -1) {
                fprintf(stderr, "hookbridge replay: %s\n", errstr);
                outcome = 1;
        }
        summary(rp, &st, outcome,
                (double)(hb_time_mono_ms() - rp->started_ms) / 1000.0);
        if (report)
                fputs(report, stdout);
        free(report);
        return outcome;
}

int wk_cmd_replay(int argc, char **argv)
{
        replay_t rp = {.lock = PTHREAD_MUTEX_INITIALIZER,
                       .cond = PTHREAD_COND_INITIALIZER};
        const char *path = NULL;
        char errstr[2048];
        cfg_t *cfg = NULL;
        struct sigaction sa;
        uint64_t todo = 0;
        int code = 1, outcome;

        if (parse_args(argc, argv, &rp, &path, &code) == -1)
                goto out;
        code = 1;
        cfg = wk_cmd_load_config(path);
        if (!cfg)
                goto out;
        if (check_args(&rp, cfg, errstr, sizeof(errstr)) == -1 ||
            state_load(&rp, errstr, sizeof(errstr)) == -1)
                goto err;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        if (plan(&rp, cfg, errstr, sizeof(errstr)) == -1)
                goto err;
        if (rp.state_path && state_save(&rp, errstr, sizeof(errstr)) == -1)
                goto err;
        announce(&rp);
        for (size_t i = 0; i < rp.n; i++)
                todo += (uint64_t)(rp.parts[i].end - rp.parts[i].start);
        if (signals) {
                code = EXIT_INTERRUPTED;
                goto out;
        }
        if (todo == 0) {
                wk_stats_t none = {0};
                summary(&rp, &none, 0, 0);
                code = 0;
                goto out;
        }
        outcome = run_worker(&rp, &cfg);
        code = outcome == 0 ? 0 : outcome == 2 ? EXIT_INTERRUPTED : 1;
        goto out;
err:
        fprintf(stderr, "hookbridge replay: %s\n", errstr);
        code = 1;
out:
        fflush(stdout);
        cfg_destroy(cfg);
        json_object_put(rp.state);
        free(rp.parts);
        free_strings(rp.topics, rp.topic_count);
        free_strings(rp.webhooks, rp.webhook_count);
        return code;
}
