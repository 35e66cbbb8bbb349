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

/** @brief An empty registry. */
wk_metrics_t *wk_metrics_new(void);
void wk_metrics_destroy(wk_metrics_t *m);

/**
 * @brief Declare a family once, before use: \p name must start with
 *        "hookbridge_"; \p buckets (ascending upper bounds, seconds) only
 *        for histograms.
 * @returns 0, or -1 (bad name, already declared, out of memory).
 */
int wk_metrics_declare(wk_metrics_t *m, const char *name, wk_metric_type_t type,
                       const char *help, const double *buckets,
                       size_t bucket_count);

/**
 * @brief Add \p v to a counter, set a gauge, or observe a histogram
 *        value. \p labels is the label set as written between braces,
 *        e.g. "webhook=\"crm\",outcome=\"ok\"" (values escaped with
 *        wk_metrics_escape()), or "" for none. Undeclared names are
 *        ignored.
 */
void wk_metrics_add(wk_metrics_t *m, const char *name, const char *labels,
                    double v);
void wk_metrics_set(wk_metrics_t *m, const char *name, const char *labels,
                    double v);
void wk_metrics_observe(wk_metrics_t *m, const char *name, const char *labels,
                        double v);

/** @brief Drop every series of a gauge family (e.g. lag of partitions no
 *  longer assigned) before setting the current ones. */
void wk_metrics_clear(wk_metrics_t *m, const char *name);

/** @brief Escape a label value (\\, ", newline) into \p out.
 *  @returns \p out. */
char *wk_metrics_escape(const char *value, char *out, size_t out_size);

/** @returns the exposition text (malloc()ed, caller frees), its length
 *  in \p lenp. */
char *wk_metrics_render(wk_metrics_t *m, size_t *lenp);

#endif
