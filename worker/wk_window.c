/* wk_window: a window of offsets read outside the group, its state file
 * and progress; shared by replay and redrive (see wk_window.h). */
#include "wk_window.h"

#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "hb_log.h"
#include "hb_time.h"
#include "kc_consumer.h"
#include "kc_lag.h"
#include "kc_offsets.h"

/* How long the brokers get for the offset lookups. */
#define LOOKUP_TIMEOUT_MS 10000
/* The state file is rewritten at most this often (and at the end). */
#define SAVE_EVERY_MS 1000
/* Progress: a live line on a terminal, a log line otherwise. */
#define TTY_EVERY_MS 200
#define LOG_EVERY_MS 5000

static wk_worker_t *volatile running;
static volatile sig_atomic_t signals;

static void on_signal(int sig)
{
        wk_worker_t *w = running;

        (void)sig;
        signals++;
        if (w)
                wk_worker_stop(w); /* the second call abandons in-flight */
        if (signals >= 3 || (!w && signals >= 2))
                _exit(WK_EXIT_INTERRUPTED);
}

static int left_ms(int64_t deadline)
{
        int64_t left = deadline - hb_time_mono_ms();

        return left < 1 ? 1 : (int)left;
}

int wk_window_add(const char ***v, size_t *n, const char *s)
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

/* The state's "selection" (absent: none) is \p sel's? */
static int same_selection(json_object *st, json_object *sel)
{
        json_object *v = NULL;

        if (!json_object_object_get_ex(st, "selection", &v) || !v)
                return !sel;
        return sel && json_object_equal(v, sel);
}

int wk_window_state_load(wk_window_t *win, char *errstr, size_t errstr_size)
{
        json_object *st, *v = NULL;
        char a[64], b[64];

        if (!win->state_path || access(win->state_path, F_OK) == -1)
                return 0;
        st = json_object_from_file(win->state_path);
        if (!st || !json_object_is_type(st, json_type_object) ||
            !json_object_object_get_ex(st, "partitions", &v) ||
            !json_object_is_type(v, json_type_array) ||
            !json_object_object_get_ex(st, "from_ms", &v)) {
                snprintf(errstr, errstr_size,
                         "--state %s: not a %s state file (%s); "
                         "delete it or choose another",
                         win->state_path, win->cmd,
                         st                         ? "fields missing"
                         : json_util_get_last_err() ? json_util_get_last_err()
                                                    : "unreadable");
                json_object_put(st);
                return -1;
        }
        if (!same_time(st, "from", win->from_arg, win->from_ms) ||
            !same_time(st, "to", win->to_arg, win->to_ms) ||
            !json_object_object_get_ex(st, "topics", &v) ||
            !same_set(v, win->topics, win->topic_count) ||
            !json_object_object_get_ex(st, "webhooks", &v) ||
            !same_set(v, win->webhooks, win->webhook_count) ||
            !same_app(st, win->app) || !same_selection(st, win->selection)) {
                json_object *f = NULL, *t = NULL, *tp = NULL, *wh = NULL,
                            *sel = NULL;
                json_object_object_get_ex(st, "from", &f);
                json_object_object_get_ex(st, "to", &t);
                json_object_object_get_ex(st, "topics", &tp);
                json_object_object_get_ex(st, "webhooks", &wh);
                json_object_object_get_ex(st, "selection", &sel);
                snprintf(errstr, errstr_size,
                         "--state %s belongs to another %s (from %s, "
                         "to %s, topics %s, webhooks %s, app %s%s%s): give the "
                         "same --from, --to, %s, --webhook and --app to "
                         "continue it, or use another --state file",
                         win->state_path, win->cmd,
                         f ? json_object_get_string(f) : "null",
                         t ? json_object_get_string(t) : "null",
                         json_object_to_json_string_ext(tp,
                                                        JSON_C_TO_STRING_PLAIN),
                         json_object_to_json_string_ext(wh,
                                                        JSON_C_TO_STRING_PLAIN),
                         state_app(st), sel ? ", " : "",
                         sel ? json_object_to_json_string_ext(
                                       sel, JSON_C_TO_STRING_PLAIN)
                             : "",
                         win->selection ? "--reason" : "--topic");
                json_object_put(st);
                return -1;
        }
        /* The window of the first run: a relative TIME stays put. */
        json_object_object_get_ex(st, "from_ms", &v);
        win->from_ms = json_object_get_int64(v);
        win->to_ms = -1;
        if (json_object_object_get_ex(st, "to_ms", &v) && v)
                win->to_ms = json_object_get_int64(v);
        win->state = st;
        hb_log(HB_LOG_INFO, "resuming from the state file",
               "command=%s state=%s from=%s to=%s", win->cmd, win->state_path,
               hb_time_format(win->from_ms, a, sizeof(a)),
               win->to_ms >= 0 ? hb_time_format(win->to_ms, b, sizeof(b))
                               : "log-end");
        return 0;
}

/* The saved partition \p topic/\p partition, or NULL. */
static json_object *state_part(const wk_window_t *win, const char *topic,
                               int32_t partition)
{
        json_object *arr = NULL;

        if (!win->state ||
            !json_object_object_get_ex(win->state, "partitions", &arr))
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
int wk_window_state_save(wk_window_t *win, char *errstr, size_t errstr_size)
{
        json_object *o = json_object_new_object();
        json_object *parts = json_object_new_array();
        size_t tmp_len = strlen(win->state_path) + 8;
        char *tmp = malloc(tmp_len);
        const char *text;
        int fd = -1, rc = -1;
        size_t len;

        if (!tmp) {
                snprintf(errstr, errstr_size, "out of memory");
                goto out;
        }
        json_object_object_add(o, "command", json_object_new_string(win->cmd));
        json_object_object_add(
                o, "from",
                win->from_arg ? json_object_new_string(win->from_arg) : NULL);
        json_object_object_add(o, "to",
                               win->to_arg ? json_object_new_string(win->to_arg)
                                           : NULL);
        json_object_object_add(o, "from_ms",
                               json_object_new_int64(win->from_ms));
        json_object_object_add(
                o, "to_ms",
                win->to_ms >= 0 ? json_object_new_int64(win->to_ms) : NULL);
        json_object_object_add(o, "topics",
                               strings_json(win->topics, win->topic_count));
        json_object_object_add(o, "webhooks",
                               strings_json(win->webhooks, win->webhook_count));
        json_object_object_add(
                o, "app", win->app ? json_object_new_string(win->app) : NULL);
        if (win->selection)
                json_object_object_add(o, "selection",
                                       json_object_get(win->selection));
        pthread_mutex_lock(&win->lock);
        for (size_t i = 0; i < win->n; i++) {
                const wk_window_part_t *p = &win->parts[i];
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
        pthread_mutex_unlock(&win->lock);
        json_object_object_add(o, "partitions", parts);
        text = json_object_to_json_string_ext(
                o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                           JSON_C_TO_STRING_NOSLASHESCAPE);
        len = strlen(text);
        snprintf(tmp, tmp_len, "%s.tmp", win->state_path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd == -1 || write(fd, text, len) != (ssize_t)len ||
            write(fd, "\n", 1) != 1 || fsync(fd) == -1) {
                snprintf(errstr, errstr_size, "--state %s: %s", tmp,
                         strerror(errno));
                goto out;
        }
        if (close(fd) == -1 || rename(tmp, win->state_path) == -1) {
                fd = -1;
                snprintf(errstr, errstr_size, "--state %s: %s", win->state_path,
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
        wk_window_t *win = opaque;
        char errstr[512];

        pthread_mutex_lock(&win->lock);
        for (size_t i = 0; i < win->n; i++) {
                wk_window_part_t *p = &win->parts[i];
                if (p->partition == partition && !strcmp(p->topic, topic)) {
                        if (offset > p->next)
                                p->next = offset > p->end ? p->end : offset;
                        break;
                }
        }
        pthread_mutex_unlock(&win->lock);
        if (!win->state_path ||
            hb_time_mono_ms() - win->saved_ms < SAVE_EVERY_MS)
                return;
        win->saved_ms = hb_time_mono_ms();
        if (wk_window_state_save(win, errstr, sizeof(errstr)) == -1 &&
            !win->save_warned) {
                win->save_warned = 1;
                hb_log(HB_LOG_ERR, "state not saved; a resume would redeliver",
                       "command=%s error=\"%s\"", win->cmd, errstr);
        }
}

/*
 * The plan: offsets of the window per partition.
 */

/* offsets_for_times(\p ms) for every partition into \p out (-1: no
 * message at or after \p ms). */
static int offsets_at(rd_kafka_t *rk, const wk_window_t *win, int64_t ms,
                      int64_t *out, int64_t deadline, char *errstr,
                      size_t errstr_size)
{
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new((int)win->n);
        rd_kafka_resp_err_t err;
        int rc = -1;

        for (size_t i = 0; i < win->n; i++)
                rd_kafka_topic_partition_list_add(l, win->parts[i].topic,
                                                  win->parts[i].partition)
                        ->offset = ms;
        err = rd_kafka_offsets_for_times(rk, l, left_ms(deadline));
        if (err) {
                snprintf(errstr, errstr_size, "offsets for times: %s",
                         rd_kafka_err2str(err));
                goto out;
        }
        for (size_t i = 0; i < win->n; i++) {
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
int wk_window_plan(wk_window_t *win, const cfg_t *cfg, char *errstr,
                   size_t errstr_size)
{
        int64_t deadline = hb_time_mono_ms() + LOOKUP_TIMEOUT_MS;
        rd_kafka_t *rk = kc_lag_client_new(cfg, errstr, errstr_size);
        int64_t *from = NULL, *to = NULL;
        size_t cap = 0;
        int rc = -1;

        if (!rk)
                return -1;
        for (size_t t = 0; t < win->topic_count; t++) {
                int n = kc_lag_partition_count(rk, win->topics[t],
                                               left_ms(deadline), errstr,
                                               errstr_size);
                wk_window_part_t *np;
                if (n < 0)
                        goto out;
                cap += (size_t)n;
                np = realloc(win->parts, (cap ? cap : 1) * sizeof(*np));
                if (!np)
                        goto oom;
                win->parts = np;
                for (int i = 0; i < n; i++) {
                        wk_window_part_t *p = &win->parts[win->n++];
                        memset(p, 0, sizeof(*p));
                        p->topic = win->topics[t];
                        p->partition = i;
                }
        }
        from = calloc(win->n ? win->n : 1, sizeof(*from));
        to = calloc(win->n ? win->n : 1, sizeof(*to));
        if (!from || !to)
                goto oom;
        if (win->n && offsets_at(rk, win, win->from_ms, from, deadline, errstr,
                                 errstr_size) == -1)
                goto out;
        if (win->n && win->to_ms >= 0 &&
            offsets_at(rk, win, win->to_ms, to, deadline, errstr,
                       errstr_size) == -1)
                goto out;
        for (size_t i = 0; i < win->n; i++) {
                wk_window_part_t *p = &win->parts[i];
                json_object *saved = state_part(win, p->topic, p->partition);
                int64_t lo, hi;
                rd_kafka_resp_err_t err =
                        kc_offsets_watermarks(rk, p->topic, p->partition, &lo,
                                              &hi, left_ms(deadline));
                if (err) {
                        snprintf(errstr, errstr_size, "log end of %s/%d: %s",
                                 p->topic, (int)p->partition,
                                 rd_kafka_err2str(err));
                        goto out;
                }
                p->start = from[i] >= 0 ? from[i] : hi;
                p->end = win->to_ms < 0 ? hi : to[i] >= 0 ? to[i] : hi;
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
 * Progress.
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
 * as a "progress" line (the logger escapes the topic names). */
static void progress_line(wk_window_t *win, char *out, size_t size, int tty)
{
        wk_stats_t st;
        uint64_t window = 0, before = 0, todo = 0, done;
        double secs = (double)(hb_time_mono_ms() - win->started_ms) / 1000.0;
        double rate, pct;
        char eta[32], topics[512];
        size_t used = 0;

        wk_worker_stats(win->w, &st);
        topics[0] = '\0';
        pthread_mutex_lock(&win->lock);
        for (size_t t = 0; t < win->topic_count; t++) {
                uint64_t tw = 0, tf = 0;
                for (size_t i = 0; i < win->n; i++) {
                        const wk_window_part_t *p = &win->parts[i];
                        if (p->topic != win->topics[t])
                                continue;
                        tw += (uint64_t)(p->end - p->first);
                        tf += (uint64_t)(p->next - p->first);
                }
                if (used < sizeof(topics))
                        used += (size_t)snprintf(
                                topics + used, sizeof(topics) - used,
                                "%s%s %.0f%%", t ? (tty ? ", " : " ") : "",
                                win->topics[t],
                                tw ? 100.0 * (double)tf / (double)tw : 100.0);
        }
        for (size_t i = 0; i < win->n; i++) {
                const wk_window_part_t *p = &win->parts[i];
                window += (uint64_t)(p->end - p->first);
                before += (uint64_t)(p->start - p->first);
                todo += (uint64_t)(p->end - p->start);
        }
        pthread_mutex_unlock(&win->lock);
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
                         "%s %5.1f%%  %llu/%llu messages  %.0f/s  ETA %s"
                         "  [%s]",
                         win->cmd, pct, (unsigned long long)done,
                         (unsigned long long)window, rate, eta, topics);
        else
                hb_log(HB_LOG_INFO, "progress",
                       "command=%s done=%llu window=%llu percent=%.1f "
                       "rate=%.1f "
                       "eta=%s delivered=%llu in_flight=%zu "
                       "finished=\"%s\"",
                       win->cmd, (unsigned long long)done,
                       (unsigned long long)window, pct, rate, eta,
                       (unsigned long long)st.deliveries_ok, st.in_flight,
                       topics);
}

static void *display_main(void *opaque)
{
        wk_window_t *win = opaque;
        int tty = isatty(STDERR_FILENO);
        int every = tty ? TTY_EVERY_MS : LOG_EVERY_MS;
        char line[1024];

        pthread_mutex_lock(&win->lock);
        while (!win->done) {
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_sec += every / 1000;
                until.tv_nsec += (long)(every % 1000) * 1000000L;
                if (until.tv_nsec >= 1000000000L) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&win->cond, &win->lock, &until);
                if (win->done)
                        break;
                pthread_mutex_unlock(&win->lock);
                progress_line(win, line, sizeof(line), tty);
                /* The cursor goes back to column 0: a log line the
                 * worker writes meanwhile replaces the progress line
                 * instead of being glued to its end. */
                if (tty)
                        fprintf(stderr, "\r%s\033[K\r", line);
                pthread_mutex_lock(&win->lock);
        }
        pthread_mutex_unlock(&win->lock);
        if (tty) {
                progress_line(win, line, sizeof(line), tty);
                fprintf(stderr, "\r%s\033[K\n", line);
        }
        return NULL;
}

int wk_window_run(wk_window_t *win, cfg_t **cfg, wk_worker_opts_t *opts,
                  wk_stats_t *st, char **report)
{
        kc_range_t *ranges = calloc(win->n ? win->n : 1, sizeof(*ranges));
        char errstr[1024];
        pthread_t display;
        size_t report_len = 0;
        int rc, outcome, complete = 1;

        memset(st, 0, sizeof(*st));
        if (report)
                *report = NULL;
        if (!ranges) {
                fprintf(stderr, "hookbridge %s: out of memory\n", win->cmd);
                return 1;
        }
        for (size_t i = 0; i < win->n; i++) {
                ranges[i].topic = win->parts[i].topic;
                ranges[i].partition = win->parts[i].partition;
                ranges[i].start = win->parts[i].start;
                ranges[i].end = win->parts[i].end;
        }
        opts->ranges = ranges;
        opts->range_count = win->n;
        opts->on_progress = on_progress;
        opts->opaque = win;
        win->w = wk_worker_new_ex(*cfg, opts, errstr, sizeof(errstr));
        free(ranges); /* @remark the consumer copied them */
        opts->ranges = NULL;
        if (!win->w) {
                fprintf(stderr, "hookbridge %s: %s\n", win->cmd, errstr);
                return 1;
        }
        /* @remark the worker owns cfg now. */
        *cfg = NULL;
        win->started_ms = hb_time_mono_ms();
        running = win->w;
        if (signals)
                wk_worker_stop(win->w);
        if (pthread_create(&display, NULL, display_main, win) != 0) {
                fprintf(stderr,
                        "hookbridge %s: cannot start the progress display\n",
                        win->cmd);
                win->done = 1;
        }
        rc = wk_worker_run(win->w);
        pthread_mutex_lock(&win->lock);
        if (!win->done) {
                win->done = 1;
                pthread_cond_signal(&win->cond);
                pthread_mutex_unlock(&win->lock);
                pthread_join(display, NULL);
        } else {
                pthread_mutex_unlock(&win->lock);
        }
        wk_worker_stats(win->w, st);
        if (report) {
                FILE *f = open_memstream(report, &report_len);
                if (f) {
                        wk_worker_report(win->w, f);
                        fclose(f);
                }
        }
        running = NULL;
        if (st->in_flight > 0)
                hb_log(HB_LOG_INFO, "in-flight deliveries abandoned",
                       "command=%s in_flight=%zu "
                       "note=\"delivered again on resume\"",
                       win->cmd, st->in_flight);
        /* Destroying reports the last finished prefixes, if any. */
        wk_worker_destroy(win->w);
        win->w = NULL;
        if (rc == 0 && !signals)
                /* The worker returns by itself only when every range is
                 * consumed and finished (some offsets may carry no
                 * message: transaction markers, compaction). */
                for (size_t i = 0; i < win->n; i++)
                        win->parts[i].next = win->parts[i].end;
        for (size_t i = 0; i < win->n; i++)
                complete &= win->parts[i].next >= win->parts[i].end;
        outcome = rc == -1 ? 1 : complete ? 0 : 2;
        if (win->state_path &&
            wk_window_state_save(win, errstr, sizeof(errstr)) == -1) {
                fprintf(stderr, "hookbridge %s: %s\n", win->cmd, errstr);
                outcome = 1;
        }
        return outcome;
}

int wk_window_rate_arg(const char *arg, double *rate)
{
        char *end;

        errno = 0;
        *rate = strtod(arg, &end);
        if (errno || end == arg || *end || !isfinite(*rate) || *rate <= 0) {
                fprintf(stderr,
                        "--rate: '%s' is not a number of messages per "
                        "second > 0\n",
                        arg);
                return -1;
        }
        return 0;
}

int wk_window_opt(wk_window_t *win, wk_window_args_t *a, int o, const char *arg,
                  int *code)
{
        switch (o) {
        case 'c':
                a->path = arg;
                return 1;
        case 'f':
                win->from_arg = arg;
                return 1;
        case 't':
                win->to_arg = arg;
                return 1;
        case 'w':
                if (!*arg) {
                        fputs("--webhook: an empty name\n", stderr);
                        return -1;
                }
                if (wk_window_add(&win->webhooks, &win->webhook_count, arg) ==
                    -1) {
                        fputs("out of memory\n", stderr);
                        *code = 1;
                        return -1;
                }
                return 1;
        case 'a':
                if (!cfg_app_token_ok(arg)) {
                        fprintf(stderr,
                                "--app: '%s' is not an app_token (1 to %d of "
                                "A-Z a-z 0-9 - . _ ~)\n",
                                arg, CFG_APP_TOKEN_MAX);
                        return -1;
                }
                win->app = arg;
                return 1;
        case 'r':
                return wk_window_rate_arg(arg, &a->rate) == -1 ? -1 : 1;
        case 'n':
                a->dry_run = 1;
                return 1;
        case 's':
                win->state_path = arg;
                return 1;
        default:
                return 0;
        }
}

int wk_window_args_check(const wk_window_t *win, const wk_window_args_t *a,
                         int argc, char **argv, const char *verb,
                         const char *usage)
{
        if (optind < argc) {
                fprintf(stderr, "unexpected argument '%s'\n%s", argv[optind],
                        usage);
                return -1;
        }
        if (!a->path) {
                fprintf(stderr, "missing -c FILE\n%s", usage);
                return -1;
        }
        if (a->dry_run && win->state_path) {
                fprintf(stderr,
                        "--dry-run %s nothing, so there is nothing to "
                        "resume: leave out --state\n",
                        verb);
                return -1;
        }
        return 0;
}

int wk_window_times(wk_window_t *win, char *errstr, size_t errstr_size)
{
        int64_t now = hb_time_now_ms();

        win->from_ms = 0;
        win->to_ms = -1;
        if (win->from_arg && hb_time_parse(win->from_arg, now, &win->from_ms,
                                           errstr, errstr_size) == -1)
                return -1;
        if (win->to_arg && hb_time_parse(win->to_arg, now, &win->to_ms, errstr,
                                         errstr_size) == -1)
                return -1;
        if (win->to_arg && win->to_ms <= win->from_ms) {
                snprintf(errstr, errstr_size,
                         "--to (%s) must be later than --from (%s)",
                         win->to_arg,
                         win->from_arg ? win->from_arg : "the log start");
                return -1;
        }
        return 0;
}

void wk_window_totals(wk_window_t *win, uint64_t *window, uint64_t *todo,
                      uint64_t *left)
{
        uint64_t w = 0, t = 0, l = 0;

        pthread_mutex_lock(&win->lock);
        for (size_t i = 0; i < win->n; i++) {
                const wk_window_part_t *p = &win->parts[i];
                w += (uint64_t)(p->end - p->first);
                t += (uint64_t)(p->end - p->start);
                l += (uint64_t)(p->end - p->next);
        }
        pthread_mutex_unlock(&win->lock);
        if (window)
                *window = w;
        if (todo)
                *todo = t;
        if (left)
                *left = l;
}

void wk_window_signals(void)
{
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
}

int wk_window_interrupted(void)
{
        return (int)signals;
}

void wk_window_fini(wk_window_t *win)
{
        free_strings(win->topics, win->topic_count);
        free_strings(win->webhooks, win->webhook_count);
        json_object_put(win->selection);
        json_object_put(win->state);
        free(win->parts);
        win->topics = win->webhooks = NULL;
        win->topic_count = win->webhook_count = 0;
        win->selection = win->state = NULL;
        win->parts = NULL;
        win->n = 0;
}
