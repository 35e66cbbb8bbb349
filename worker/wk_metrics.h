/* wk_metrics: counters, gauges and histograms with labels, rendered in
 * the Prometheus text exposition format. Thread-safe: the worker thread
 * updates, the admin thread renders. */
#ifndef HB_WK_METRICS_H
#define HB_WK_METRICS_H

#include <stddef.h>

typedef struct wk_metrics_s wk_metrics_t;

typedef enum {
        WK_METRIC_COUNTER = 0,
        WK_METRIC_GAUGE,
        WK_METRIC_HISTOGRAM,
} wk_metric_type_t;

/** Most upper bounds a histogram family may declare (+Inf is implied). */
#define WK_METRICS_MAX_BUCKETS 64

/** @brief An empty registry.
 *  @returns NULL when out of memory. */
wk_metrics_t *wk_metrics_new(void);

/** @brief Free the registry and every series. NULL is a no-op. */
void wk_metrics_destroy(wk_metrics_t *m);

/**
 * @brief Declare a family once, before use: \p name must start with
 *        "hookbridge_" and be a valid Prometheus metric name; \p buckets
 *        (finite, strictly ascending upper bounds, at most
 *        WK_METRICS_MAX_BUCKETS; +Inf is implied) only for histograms.
 *        \p help is one line of text (escaped when rendered).
 * @returns 0, or -1 (bad name or buckets, already declared, out of
 *          memory).
 */
int wk_metrics_declare(wk_metrics_t *m, const char *name, wk_metric_type_t type,
                       const char *help, const double *buckets,
                       size_t bucket_count);

/**
 * @brief Add \p v to a counter or a gauge, set a gauge, or observe a
 *        histogram value. \p labels is the label set as written between
 *        braces, e.g. "webhook=\"crm\",outcome=\"ok\"" (values escaped
 *        with wk_metrics_escape(), or built with wk_metrics_labels()), or
 *        "" for none; each distinct string is its own series, created on
 *        first use. Undeclared names, a call that does not fit the
 *        family's type, a negative or NaN add to a counter and a NaN
 *        observation are ignored. O(1) (hash lookup under one mutex,
 *        which a scrape holds only while it copies the values).
 */
void wk_metrics_add(wk_metrics_t *m, const char *name, const char *labels,
                    double v);
void wk_metrics_set(wk_metrics_t *m, const char *name, const char *labels,
                    double v);
void wk_metrics_observe(wk_metrics_t *m, const char *name, const char *labels,
                        double v);

/** @brief Drop every series of a family (e.g. lag of partitions no
 *  longer assigned). A scrape between this and the next set() sees the
 *  family empty; wk_metrics_mark() / wk_metrics_sweep() avoid that. */
void wk_metrics_clear(wk_metrics_t *m, const char *name);

/**
 * @brief Refresh a family without a gap: mark() flags every series of
 *        \p name as stale (they still render with their last values);
 *        any add/set/observe of a series unflags it; sweep() drops the
 *        series still flagged. Use around a periodic re-publication of,
 *        e.g., per-partition lag so partitions no longer assigned vanish
 *        while a concurrent scrape never sees the family empty.
 */
void wk_metrics_mark(wk_metrics_t *m, const char *name);
void wk_metrics_sweep(wk_metrics_t *m, const char *name);

/** Most parts a registry's gauges may be set by. */
#define WK_METRICS_MAX_PARTS 64

/**
 * @brief Gauges set by parts: several delivery loops share one registry
 *        and each sets its own value of a series (its partitions' lag,
 *        its in-flight count, its view of a circuit); the series shows
 *        the sum of the parts' values (the max for a family given to
 *        wk_metrics_part_max(), e.g. a circuit's state), exactly one
 *        series as with one loop. wk_metrics_parts() says how many
 *        parts there are (1..WK_METRICS_MAX_PARTS), once, before use;
 *        set_part() sets part \p part's value; mark_part() and
 *        sweep_part() are mark() and sweep() of that part's values
 *        only: a series goes when no part has a value left.
 *        Don't mix them with mark()/sweep() on one family.
 * @returns 0, or -1 (bad count, undeclared family).
 */
int wk_metrics_parts(wk_metrics_t *m, int n);
int wk_metrics_part_max(wk_metrics_t *m, const char *name);
void wk_metrics_set_part(wk_metrics_t *m, int part, const char *name,
                         const char *labels, double v);
void wk_metrics_mark_part(wk_metrics_t *m, int part, const char *name);
void wk_metrics_sweep_part(wk_metrics_t *m, int part, const char *name);

/** @brief Escape a label value (\\, ", newline) into \p out, truncated
 *  (never inside an escape) to fit \p out_size.
 *  @returns \p out. */
char *wk_metrics_escape(const char *value, char *out, size_t out_size);

/**
 * @brief Build a label set from name/value pairs ending with NULL, values
 *        escaped: wk_metrics_labels(l, sizeof(l), "topic", t, "partition",
 *        "3", NULL) gives topic="t",partition="3".
 * @returns 0, or -1 when it does not fit \p out_size (then \p out is "").
 */
int wk_metrics_labels(char *out, size_t out_size, ...)
        __attribute__((sentinel));

/**
 * @brief The current value of one series: a counter's or gauge's value,
 *        a histogram's observation count. For tests and /status.
 * @returns 0 with the value in \p vp, or -1 when the series does not
 *          exist (yet).
 */
int wk_metrics_value(wk_metrics_t *m, const char *name, const char *labels,
                     double *vp);

/** @brief Takes the next piece of the exposition text (whole lines of
 *  one family, \p len bytes, not NUL-terminated: a family in one piece,
 *  or in several of ~64 KiB when it is larger).
 *  @returns 0 to go on, -1 to stop. */
typedef int wk_metrics_write_cb_t(const char *text, size_t len, void *opaque);

/**
 * @brief Write the exposition text (format 0.0.4; families in declaration
 *        order, series in creation order) to \p cb, piece by piece.
 *        The values are those of one instant: a copy taken under the
 *        registry's mutex, which is released before any text is formatted
 *        or written, so a slow (or blocked) writer never holds up
 *        wk_metrics_add() and the others on the delivery thread. No
 *        more than one piece of text is held at a time.
 * @returns 0, or -1 when out of memory or when \p cb returned -1.
 */
int wk_metrics_write(wk_metrics_t *m, wk_metrics_write_cb_t *cb, void *opaque);

/** @returns the exposition text (as wk_metrics_write() writes it),
 *  malloc()ed (caller frees), its length in \p lenp; NULL when out of
 *  memory. */
char *wk_metrics_render(wk_metrics_t *m, size_t *lenp);

#endif
