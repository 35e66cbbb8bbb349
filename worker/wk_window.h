/* wk_window: a window of offsets over the partitions of some topics, read
 * outside the consumer group by the worker in ranges mode; shared by
 * `replay` and `redrive`: the plan (--from/--to looked up with the
 * brokers' time index), the finished prefixes the worker reports, the
 * --state FILE that resumes it, the progress line, Ctrl-C, and the
 * worker's run over it. */
#ifndef HB_WK_WINDOW_H
#define HB_WK_WINDOW_H

#include <getopt.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "cfg.h"
#include "wk_worker.h"

/** Exit status after an interruption (128 + SIGINT, as shells report). */
#define WK_EXIT_INTERRUPTED 130

/** One partition of the plan. */
typedef struct wk_window_part_s {
        const char *topic; /**< one of wk_window_t.topics */
        int32_t partition;
        int64_t first; /**< the window's first offset (at the first run) */
        int64_t start; /**< this run's first offset */
        int64_t end;   /**< the window's end: stop before it */
        int64_t next;  /**< finished prefix: everything before is done */
} wk_window_part_t;

/** A window and its run. The command fills in the first block (the
 *  strings it adds with wk_window_add() are owned), the rest is the
 *  window's. */
typedef struct wk_window_s {
        const char *cmd;               /**< "replay", "redrive" */
        const char *from_arg, *to_arg; /**< NULL: log start / log end */
        const char **topics;
        size_t topic_count;
        const char **webhooks;
        size_t webhook_count;
        const char *app; /**< --app, or NULL */
        /** the command's other choices, saved in the state file and
         *  compared on resume (owned), or NULL */
        json_object *selection;
        const char *state_path;

        int64_t from_ms, to_ms; /**< to_ms -1: the log end */
        json_object *state;     /**< the state file read at start */
        wk_window_part_t *parts;
        size_t n;
        /* next moves under lock (worker callback vs display) */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int done; /* display thread: stop */
        int64_t saved_ms;
        int save_warned;
        wk_worker_t *w;
        int64_t started_ms; /* monotonic */
} wk_window_t;

#define WK_WINDOW_INIT(name)                                      \
        {                                                         \
                .cmd = (name), .lock = PTHREAD_MUTEX_INITIALIZER, \
                .cond = PTHREAD_COND_INITIALIZER, .to_ms = -1     \
        }

/** @brief Add a copy of \p s to \p v unless it is there.
 *  @returns 0, or -1 on out-of-memory. */
int wk_window_add(const char ***v, size_t *n, const char *s);

/** @brief Parse --rate \p arg (messages per second > 0) into \p rate.
 *  @returns 0, or -1 with the problem printed to stderr. */
int wk_window_rate_arg(const char *arg, double *rate);

/** The getopt_long() entries of the options `replay` and `redrive` share
 *  (wk_window_opt() handles them); a command lists them first, then its
 *  own, then the terminating zeros. */
/* clang-format off */
#define WK_WINDOW_LONGOPTS                             \
        {"config", required_argument, NULL, 'c'},      \
        {"from", required_argument, NULL, 'f'},        \
        {"to", required_argument, NULL, 't'},          \
        {"webhook", required_argument, NULL, 'w'},     \
        {"app", required_argument, NULL, 'a'},         \
        {"rate", required_argument, NULL, 'r'},        \
        {"dry-run", no_argument, NULL, 'n'},           \
        {"state", required_argument, NULL, 's'},       \
        {"help", no_argument, NULL, 'h'}
/* clang-format on */

/** What a command's shared options set (wk_window_opt()). */
typedef struct wk_window_args_s {
        const char *path; /**< -c FILE */
        double rate;      /**< --rate, 0: unlimited */
        int dry_run;      /**< --dry-run */
} wk_window_args_t;

/**
 * @brief Take option \p o (a WK_WINDOW_LONGOPTS letter) with \p arg into
 *        \p win and \p a.
 * @returns 1 when taken, 0 when \p o is not a shared option (the
 *          command's own), -1 when refused (the problem printed to
 *          stderr; an out-of-memory sets \p *code to 1).
 */
int wk_window_opt(wk_window_t *win, wk_window_args_t *a, int o, const char *arg,
                  int *code);

/**
 * @brief After the options: -c FILE given, no stray argument, --dry-run
 *        without --state (\p verb: what a dry run does not, "sends",
 *        "delivers"), \p usage printed after a usage problem.
 * @returns 0, or -1 with the problem printed to stderr.
 */
int wk_window_args_check(const wk_window_t *win, const wk_window_args_t *a,
                         int argc, char **argv, const char *verb,
                         const char *usage);

/** @brief Parse --from (none: 0, the log start) and --to (none: -1).
 *  @returns 0, or -1 with the reason in \p errstr. */
int wk_window_times(wk_window_t *win, char *errstr, size_t errstr_size);

/**
 * @brief Read the state file, when there is one, and check it belongs to
 *        this run (same times, topics, webhooks, app, selection); the window
 *        then is the saved one (a relative TIME stays put).
 * @returns 0, or -1 with the reason in \p errstr.
 */
int wk_window_state_load(wk_window_t *win, char *errstr, size_t errstr_size);

/** @brief Rewrite the state file atomically.
 *  @returns 0, or -1 with the reason in \p errstr. */
int wk_window_state_save(wk_window_t *win, char *errstr, size_t errstr_size);

/** @brief List the partitions of the topics and find each one's window
 *         (a resumed partition starts at its saved finished prefix).
 *  @returns 0, or -1 with the reason in \p errstr. */
int wk_window_plan(wk_window_t *win, const cfg_t *cfg, char *errstr,
                   size_t errstr_size);

/** @brief Offsets in the window (\p window), still to do at this run's
 *  start (\p todo), not finished now (\p left). Any may be NULL. */
void wk_window_totals(wk_window_t *win, uint64_t *window, uint64_t *todo,
                      uint64_t *left);

/** @brief SIGINT and SIGTERM stop the run (a second abandons in-flight
 *  deliveries, a third exits); SIGPIPE ignored. */
void wk_window_signals(void);

/** @returns the number of stop signals received so far. */
int wk_window_interrupted(void);

/**
 * @brief Run a worker over the plan with \p opts (the ranges, progress
 *        callback and its opaque are filled in here), with the progress
 *        line, and save the state at the end.
 * @param cfg     the worker's from here on (*cfg NULL after).
 * @param st      the worker's counts at the end.
 * @param report  when not NULL: set to wk_worker_report()'s text (free()).
 * @returns 0 done, 1 failed, 2 interrupted.
 */
int wk_window_run(wk_window_t *win, cfg_t **cfg, wk_worker_opts_t *opts,
                  wk_stats_t *st, char **report);

/** @brief Free what the window owns. */
void wk_window_fini(wk_window_t *win);

#endif
