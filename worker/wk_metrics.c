/* wk_metrics: counters, gauges and histograms with labels, rendered in
 * the Prometheus text exposition format. Thread-safe: the worker thread
 * updates, the admin thread renders. */
#include "wk_metrics.h"

#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERIES_BUCKETS 1024 /* hash table size (chained) */
#define MAX_BUCKETS    32   /* histogram upper bounds */

/* One labelled series of a family. */
typedef struct series_s {
        struct series_s *next;   /* hash chain */
        struct series_s *f_next; /* family order */
        struct family_s *fam;
        char *labels;
        double value;                  /* counter/gauge; histogram sum */
        uint64_t count;                /* histogram */
        uint64_t buckets[MAX_BUCKETS]; /* histogram, not cumulative */
} series_t;

typedef struct family_s {
        struct family_s *next;
        char *name;
        char *help;
        wk_metric_type_t type;
        double bounds[MAX_BUCKETS];
        size_t bound_count;
        series_t *series, *series_tail;
} family_t;

struct wk_metrics_s {
        pthread_mutex_t lock;
        family_t *families, *families_tail;
        series_t *table[SERIES_BUCKETS];
        /* last lookup: updates come in runs of the same series */
        series_t *last;
};

static uint64_t hash2(const char *a, const char *b)
{
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */

        for (; *a; a++)
                h = (h ^ (unsigned char)*a) * 1099511628211ULL;
        h = (h ^ '{') * 1099511628211ULL;
        for (; *b; b++)
                h = (h ^ (unsigned char)*b) * 1099511628211ULL;
        return h;
}

wk_metrics_t *wk_metrics_new(void)
{
        wk_metrics_t *m = calloc(1, sizeof(*m));

        if (m)
                pthread_mutex_init(&m->lock, NULL);
        return m;
}

void wk_metrics_destroy(wk_metrics_t *m)
{
        family_t *f, *fn;

        if (!m)
                return;
        for (f = m->families; f; f = fn) {
                series_t *s, *sn;
                fn = f->next;
                for (s = f->series; s; s = sn) {
                        sn = s->f_next;
                        free(s->labels);
                        free(s);
                }
                free(f->name);
                free(f->help);
                free(f);
        }
        pthread_mutex_destroy(&m->lock);
        free(m);
}

static family_t *family_find(const wk_metrics_t *m, const char *name)
{
        for (family_t *f = m->families; f; f = f->next)
                if (!strcmp(f->name, name))
                        return f;
        return NULL;
}

int wk_metrics_declare(wk_metrics_t *m, const char *name, wk_metric_type_t type,
                       const char *help, const double *buckets,
                       size_t bucket_count)
{
        family_t *f;
        int rc = -1;

        if (strncmp(name, "hookbridge_", 11) || bucket_count > MAX_BUCKETS)
                return -1;
        pthread_mutex_lock(&m->lock);
        if (family_find(m, name))
                goto out;
        f = calloc(1, sizeof(*f));
        if (!f)
                goto out;
        f->name = strdup(name);
        f->help = strdup(help ? help : "");
        if (!f->name || !f->help) {
                free(f->name);
                free(f->help);
                free(f);
                goto out;
        }
        f->type = type;
        if (type == WK_METRIC_HISTOGRAM) {
                memcpy(f->bounds, buckets, bucket_count * sizeof(double));
                f->bound_count = bucket_count;
        }
        if (m->families_tail)
                m->families_tail->next = f;
        else
                m->families = f;
        m->families_tail = f;
        rc = 0;
out:
        pthread_mutex_unlock(&m->lock);
        return rc;
}

/* The series name{labels}, created on first use. Lock held. */
static series_t *series_get(wk_metrics_t *m, const char *name,
                            const char *labels)
{
        uint64_t h;
        series_t *s;
        family_t *f;

        if (m->last && !strcmp(m->last->labels, labels) &&
            !strcmp(m->last->fam->name, name))
                return m->last;
        h = hash2(name, labels) % SERIES_BUCKETS;
        for (s = m->table[h]; s; s = s->next)
                if (!strcmp(s->labels, labels) && !strcmp(s->fam->name, name))
                        return m->last = s;
        f = family_find(m, name);
        if (!f)
                return NULL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->labels = strdup(labels);
        if (!s->labels) {
                free(s);
                return NULL;
        }
        s->fam = f;
        s->next = m->table[h];
        m->table[h] = s;
        if (f->series_tail)
                f->series_tail->f_next = s;
        else
                f->series = s;
        f->series_tail = s;
        return m->last = s;
}

void wk_metrics_add(wk_metrics_t *m, const char *name, const char *labels,
                    double v)
{
        series_t *s;

        if (!m)
                return;
        pthread_mutex_lock(&m->lock);
        s = series_get(m, name, labels);
        if (s && s->fam->type != WK_METRIC_HISTOGRAM)
                s->value += v;
        pthread_mutex_unlock(&m->lock);
}

void wk_metrics_set(wk_metrics_t *m, const char *name, const char *labels,
                    double v)
{
        series_t *s;

        if (!m)
                return;
        pthread_mutex_lock(&m->lock);
        s = series_get(m, name, labels);
        if (s && s->fam->type == WK_METRIC_GAUGE)
                s->value = v;
        pthread_mutex_unlock(&m->lock);
}

void wk_metrics_observe(wk_metrics_t *m, const char *name, const char *labels,
                        double v)
{
        series_t *s;

        if (!m)
                return;
        pthread_mutex_lock(&m->lock);
        s = series_get(m, name, labels);
        if (s && s->fam->type == WK_METRIC_HISTOGRAM) {
                size_t i = 0;
                while (i < s->fam->bound_count && v > s->fam->bounds[i])
                        i++;
                if (i < s->fam->bound_count)
                        s->buckets[i]++;
                s->count++;
                s->value += v;
        }
        pthread_mutex_unlock(&m->lock);
}

void wk_metrics_clear(wk_metrics_t *m, const char *name)
{
        family_t *f;

        if (!m)
                return;
        pthread_mutex_lock(&m->lock);
        f = family_find(m, name);
        if (f) {
                series_t *s, *sn;
                for (s = f->series; s; s = sn) {
                        series_t **pp;
                        sn = s->f_next;
                        pp = &m->table[hash2(name, s->labels) % SERIES_BUCKETS];
                        while (*pp != s)
                                pp = &(*pp)->next;
                        *pp = s->next;
                        free(s->labels);
                        free(s);
                }
                f->series = f->series_tail = NULL;
                m->last = NULL;
        }
        pthread_mutex_unlock(&m->lock);
}

char *wk_metrics_escape(const char *value, char *out, size_t out_size)
{
        size_t o = 0;

        for (; *value && o + 3 < out_size; value++) {
                if (*value == '\\' || *value == '"') {
                        out[o++] = '\\';
                        out[o++] = *value;
                } else if (*value == '\n') {
                        out[o++] = '\\';
                        out[o++] = 'n';
                } else {
                        out[o++] = *value;
                }
        }
        out[o] = '\0';
        return out;
}

/* A growing text buffer for rendering. */
typedef struct buf_s {
        char *p;
        size_t len, cap;
        int oom;
} buf_t;

static void put(buf_t *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void put(buf_t *b, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (b->oom)
                return;
        for (;;) {
                va_start(ap, fmt);
                n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
                va_end(ap);
                if (n < 0) {
                        b->oom = 1;
                        return;
                }
                if ((size_t)n < b->cap - b->len) {
                        b->len += (size_t)n;
                        return;
                }
                char *np = realloc(b->p, b->cap * 2 + (size_t)n);
                if (!np) {
                        b->oom = 1;
                        return;
                }
                b->p = np;
                b->cap = b->cap * 2 + (size_t)n;
        }
}

/* Numbers: integers without exponent, others in the shortest form that
 * reads back the same. */
static void num(char *out, size_t size, double v)
{
        if (isinf(v))
                snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
        else if (v == floor(v) && fabs(v) < 1e15)
                snprintf(out, size, "%.0f", v);
        else
                for (int prec = 15; prec <= 17; prec++) {
                        snprintf(out, size, "%.*g", prec, v);
                        if (strtod(out, NULL) == v)
                                break;
                }
}

char *wk_metrics_render(wk_metrics_t *m, size_t *lenp)
{
        static const char *const types[] = {"counter", "gauge", "histogram"};
        buf_t b = {.cap = 4096};
        char v[64], le[64];

        b.p = malloc(b.cap);
        if (!b.p)
                return NULL;
        b.p[0] = '\0';
        pthread_mutex_lock(&m->lock);
        for (family_t *f = m->families; f; f = f->next) {
                put(&b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help,
                    f->name, types[f->type]);
                for (series_t *s = f->series; s; s = s->f_next) {
                        const char *sep = *s->labels ? "," : "";
                        if (f->type != WK_METRIC_HISTOGRAM) {
                                num(v, sizeof(v), s->value);
                                put(&b, "%s%s%s%s %s\n", f->name,
                                    *s->labels ? "{" : "", s->labels,
                                    *s->labels ? "}" : "", v);
                                continue;
                        }
                        uint64_t cum = 0;
                        for (size_t i = 0; i < f->bound_count; i++) {
                                cum += s->buckets[i];
                                num(le, sizeof(le), f->bounds[i]);
                                put(&b, "%s_bucket{%s%sle=\"%s\"} %llu\n",
                                    f->name, s->labels, sep, le,
                                    (unsigned long long)cum);
                        }
                        put(&b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", f->name,
                            s->labels, sep, (unsigned long long)s->count);
                        num(v, sizeof(v), s->value);
                        put(&b, "%s_sum%s%s%s %s\n", f->name,
                            *s->labels ? "{" : "", s->labels,
                            *s->labels ? "}" : "", v);
                        put(&b, "%s_count%s%s%s %llu\n", f->name,
                            *s->labels ? "{" : "", s->labels,
                            *s->labels ? "}" : "",
                            (unsigned long long)s->count);
                }
        }
        pthread_mutex_unlock(&m->lock);
        if (b.oom) {
                free(b.p);
                return NULL;
        }
        *lenp = b.len;
        return b.p;
}
