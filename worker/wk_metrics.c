/* wk_metrics: counters, gauges and histograms with labels, rendered in
 * the Prometheus text exposition format. Thread-safe: the worker thread
 * updates, the admin thread renders (holding the mutex only to copy the
 * values, never while formatting or writing). */
#include "wk_metrics.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_hash.h"

#define TABLE_INITIAL 256 /* hash slots; doubles when series outnumber it */

/* One labelled series of a family, allocated in one block: the struct,
 * then the histogram's per-bound counts, then the label text. */
typedef struct series_s {
        struct series_s *next;   /* hash chain */
        struct series_s *f_next; /* family order */
        struct family_s *fam;
        uint64_t hash;
        const char *labels; /* points into the same block */
        int stale;          /* set by mark(), cleared by any update */
        double value;       /* counter, gauge; histogram sum */
        /* a gauge set by parts (wk_metrics_set_part): each part's value,
         * those set and those marked stale (bits); value is their sum
         * (or their max) */
        double *part;
        uint64_t part_on, part_stale;
        uint64_t count;     /* histogram observations */
        uint64_t buckets[]; /* histogram, per bound, not cumulative */
} series_t;

typedef struct family_s {
        struct family_s *next;
        char *name;
        char *help;
        wk_metric_type_t type;
        double *bounds;
        size_t bound_count;
        int part_max; /* parts: value is the max of theirs, not the sum */
        series_t *series, *series_tail;
} family_t;

struct wk_metrics_s {
        pthread_mutex_t lock;
        family_t *families, *families_tail;
        series_t **table;
        size_t table_size; /* a power of two */
        size_t series_count;
        series_t *last; /* updates come in runs of the same series */
        int parts;      /* wk_metrics_parts(), 0: none */
};

/* FNV-1a over name, a separator no metric name holds, and labels. */
static uint64_t key_hash(const char *name, const char *labels)
{
        uint64_t h = hb_hash_fnv1a(HB_HASH_FNV1A_INIT, name, strlen(name));

        h = hb_hash_fnv1a(h, "\xff", 1);
        return hb_hash_fnv1a(h, labels, strlen(labels));
}

wk_metrics_t *wk_metrics_new(void)
{
        wk_metrics_t *m = calloc(1, sizeof(*m));

        if (!m)
                return NULL;
        m->table = calloc(TABLE_INITIAL, sizeof(*m->table));
        if (!m->table)
                goto err;
        m->table_size = TABLE_INITIAL;
        if (pthread_mutex_init(&m->lock, NULL) != 0)
                goto err;
        return m;
err:
        free(m->table);
        free(m);
        return NULL;
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
                        free(s->part);
                        free(s);
                }
                free(f->name);
                free(f->help);
                free(f->bounds);
                free(f);
        }
        free(m->table);
        pthread_mutex_destroy(&m->lock);
        free(m);
}

/* Lock held. A handful of families: a list is enough (only a series'
 * first use looks a family up). */
static family_t *family_find(const wk_metrics_t *m, const char *name)
{
        for (family_t *f = m->families; f; f = f->next)
                if (!strcmp(f->name, name))
                        return f;
        return NULL;
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
static int name_ok(const char *name)
{
        if (strncmp(name, "hookbridge_", 11) != 0)
                return 0;
        for (const char *p = name; *p; p++) {
                int alpha = (*p >= 'a' && *p <= 'z') ||
                            (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':';
                if (!alpha && !(p > name && *p >= '0' && *p <= '9'))
                        return 0;
        }
        return 1;
}

static int buckets_ok(const double *b, size_t n)
{
        if (n > WK_METRICS_MAX_BUCKETS || (n && !b))
                return 0;
        for (size_t i = 0; i < n; i++)
                if (!isfinite(b[i]) || (i && b[i] <= b[i - 1]))
                        return 0;
        return 1;
}

int wk_metrics_declare(wk_metrics_t *m, const char *name, wk_metric_type_t type,
                       const char *help, const double *buckets,
                       size_t bucket_count)
{
        family_t *f = NULL;
        int rc = -1;

        if (!m || !name || !name_ok(name) || type < WK_METRIC_COUNTER ||
            type > WK_METRIC_HISTOGRAM)
                return -1;
        if (type != WK_METRIC_HISTOGRAM)
                bucket_count = 0;
        else if (!buckets_ok(buckets, bucket_count))
                return -1;
        pthread_mutex_lock(&m->lock);
        if (family_find(m, name))
                goto out;
        f = calloc(1, sizeof(*f));
        if (!f)
                goto out;
        f->name = strdup(name);
        f->help = strdup(help ? help : "");
        if (bucket_count)
                f->bounds = malloc(bucket_count * sizeof(*f->bounds));
        if (!f->name || !f->help || (bucket_count && !f->bounds))
                goto out;
        if (bucket_count)
                memcpy(f->bounds, buckets, bucket_count * sizeof(*f->bounds));
        f->bound_count = bucket_count;
        f->type = type;
        if (m->families_tail)
                m->families_tail->next = f;
        else
                m->families = f;
        m->families_tail = f;
        f = NULL; /* @remark the registry owns it now */
        rc = 0;
out:
        pthread_mutex_unlock(&m->lock);
        if (f) {
                free(f->name);
                free(f->help);
                free(f->bounds);
                free(f);
        }
        return rc;
}

/* Lock held. */
static series_t *series_find(const wk_metrics_t *m, const char *name,
                             const char *labels, uint64_t h)
{
        for (series_t *s = m->table[h & (m->table_size - 1)]; s; s = s->next)
                if (s->hash == h && !strcmp(s->labels, labels) &&
                    !strcmp(s->fam->name, name))
                        return s;
        return NULL;
}

/* Lock held. Double the table; on failure keep the longer chains. */
static void table_grow(wk_metrics_t *m)
{
        size_t size = m->table_size * 2;
        series_t **t = calloc(size, sizeof(*t));

        if (!t)
                return;
        for (size_t i = 0; i < m->table_size; i++) {
                series_t *s, *sn;
                for (s = m->table[i]; s; s = sn) {
                        sn = s->next;
                        s->next = t[s->hash & (size - 1)];
                        t[s->hash & (size - 1)] = s;
                }
        }
        free(m->table);
        m->table = t;
        m->table_size = size;
}

/* The series name{labels}, created on first use. Lock held.
 * @returns NULL for an undeclared name or out of memory. */
static series_t *series_get(wk_metrics_t *m, const char *name,
                            const char *labels)
{
        uint64_t h;
        series_t *s;
        family_t *f;
        size_t ll, nb;

        if (m->last && !strcmp(m->last->labels, labels) &&
            !strcmp(m->last->fam->name, name))
                return m->last;
        h = key_hash(name, labels);
        s = series_find(m, name, labels, h);
        if (s)
                return m->last = s;
        f = family_find(m, name);
        if (!f)
                return NULL;
        ll = strlen(labels);
        nb = f->bound_count;
        s = calloc(1, sizeof(*s) + nb * sizeof(s->buckets[0]) + ll + 1);
        if (!s)
                return NULL;
        memcpy((char *)&s->buckets[nb], labels, ll + 1);
        s->labels = (const char *)&s->buckets[nb];
        s->fam = f;
        s->hash = h;
        s->next = m->table[h & (m->table_size - 1)];
        m->table[h & (m->table_size - 1)] = s;
        if (f->series_tail)
                f->series_tail->f_next = s;
        else
                f->series = s;
        f->series_tail = s;
        if (++m->series_count > m->table_size)
                table_grow(m);
        return m->last = s;
}

void wk_metrics_add(wk_metrics_t *m, const char *name, const char *labels,
                    double v)
{
        series_t *s;

        if (!m || !name || !labels || isnan(v))
                return;
        pthread_mutex_lock(&m->lock);
        s = series_get(m, name, labels);
        if (s && (s->fam->type == WK_METRIC_GAUGE ||
                  (s->fam->type == WK_METRIC_COUNTER && v >= 0))) {
                s->value += v;
                s->stale = 0;
        }
        pthread_mutex_unlock(&m->lock);
}

void wk_metrics_set(wk_metrics_t *m, const char *name, const char *labels,
                    double v)
{
        series_t *s;

        if (!m || !name || !labels)
                return;
        pthread_mutex_lock(&m->lock);
        s = series_get(m, name, labels);
        if (s && s->fam->type == WK_METRIC_GAUGE) {
                s->value = v;
                s->stale = 0;
        }
        pthread_mutex_unlock(&m->lock);
}

void wk_metrics_observe(wk_metrics_t *m, const char *name, const char *labels,
                        double v)
{
        series_t *s;

        if (!m || !name || !labels || isnan(v))
                return;
        pthread_mutex_lock(&m->lock);
        s = series_get(m, name, labels);
        if (s && s->fam->type == WK_METRIC_HISTOGRAM) {
                const family_t *f = s->fam;
                size_t i = 0;
                /* at most a dozen bounds: a scan beats a bisection */
                while (i < f->bound_count && v > f->bounds[i])
                        i++;
                if (i < f->bound_count)
                        s->buckets[i]++;
                s->count++;
                s->value += v;
                s->stale = 0;
        }
        pthread_mutex_unlock(&m->lock);
}

/* Lock held. Unlink \p s from its hash chain. */
static void chain_unlink(wk_metrics_t *m, const series_t *s)
{
        series_t **pp = &m->table[s->hash & (m->table_size - 1)];

        while (*pp && *pp != s)
                pp = &(*pp)->next;
        if (*pp)
                *pp = s->next;
}

/* Lock held. Free the family's series (only the stale ones with
 * \p stale_only), keeping the order of the others. */
static void family_drop(wk_metrics_t *m, family_t *f, int stale_only)
{
        series_t **pp = &f->series;

        f->series_tail = NULL;
        while (*pp) {
                series_t *s = *pp;
                if (stale_only && !s->stale) {
                        f->series_tail = s;
                        pp = &s->f_next;
                        continue;
                }
                *pp = s->f_next;
                chain_unlink(m, s);
                m->series_count--;
                free(s->part);
                free(s);
        }
        m->last = NULL;
}

void wk_metrics_clear(wk_metrics_t *m, const char *name)
{
        family_t *f;

        if (!m || !name)
                return;
        pthread_mutex_lock(&m->lock);
        f = family_find(m, name);
        if (f)
                family_drop(m, f, 0);
        pthread_mutex_unlock(&m->lock);
}

void wk_metrics_mark(wk_metrics_t *m, const char *name)
{
        family_t *f;

        if (!m || !name)
                return;
        pthread_mutex_lock(&m->lock);
        f = family_find(m, name);
        for (series_t *s = f ? f->series : NULL; s; s = s->f_next)
                s->stale = 1;
        pthread_mutex_unlock(&m->lock);
}

void wk_metrics_sweep(wk_metrics_t *m, const char *name)
{
        family_t *f;

        if (!m || !name)
                return;
        pthread_mutex_lock(&m->lock);
        f = family_find(m, name);
        if (f)
                family_drop(m, f, 1);
        pthread_mutex_unlock(&m->lock);
}

/* --- gauges set by parts --------------------------------------------- */

int wk_metrics_parts(wk_metrics_t *m, int n)
{
        if (!m || n < 1 || n > WK_METRICS_MAX_PARTS)
                return -1;
        pthread_mutex_lock(&m->lock);
        m->parts = n;
        pthread_mutex_unlock(&m->lock);
        return 0;
}

int wk_metrics_part_max(wk_metrics_t *m, const char *name)
{
        family_t *f;

        if (!m || !name)
                return -1;
        pthread_mutex_lock(&m->lock);
        f = family_find(m, name);
        if (f)
                f->part_max = 1;
        pthread_mutex_unlock(&m->lock);
        return f ? 0 : -1;
}

/* Lock held. The series' value from its parts'. */
static void part_fold(series_t *s)
{
        int first = 1;

        s->value = 0;
        for (int k = 0; k < 64; k++) {
                if (!(s->part_on & (UINT64_C(1) << k)))
                        continue;
                if (!s->fam->part_max)
                        s->value += s->part[k];
                else if (first || s->part[k] > s->value)
                        s->value = s->part[k];
                first = 0;
        }
}

void wk_metrics_set_part(wk_metrics_t *m, int part, const char *name,
                         const char *labels, double v)
{
        series_t *s;
        uint64_t bit;

        if (!m || !name || !labels || part < 0 || part >= m->parts)
                return;
        bit = UINT64_C(1) << part;
        pthread_mutex_lock(&m->lock);
        s = series_get(m, name, labels);
        if (s && s->fam->type == WK_METRIC_GAUGE &&
            (s->part || (s->part = calloc((size_t)m->parts, sizeof(double))))) {
                s->part[part] = v;
                s->part_on |= bit;
                s->part_stale &= ~bit;
                s->stale = 0;
                part_fold(s);
        }
        pthread_mutex_unlock(&m->lock);
}

void wk_metrics_mark_part(wk_metrics_t *m, int part, const char *name)
{
        family_t *f;
        uint64_t bit;

        if (!m || !name || part < 0 || part >= m->parts)
                return;
        bit = UINT64_C(1) << part;
        pthread_mutex_lock(&m->lock);
        f = family_find(m, name);
        for (series_t *s = f ? f->series : NULL; s; s = s->f_next)
                if (s->part_on & bit)
                        s->part_stale |= bit;
        pthread_mutex_unlock(&m->lock);
}

void wk_metrics_sweep_part(wk_metrics_t *m, int part, const char *name)
{
        family_t *f;
        uint64_t bit;
        int drop = 0;

        if (!m || !name || part < 0 || part >= m->parts)
                return;
        bit = UINT64_C(1) << part;
        pthread_mutex_lock(&m->lock);
        f = family_find(m, name);
        for (series_t *s = f ? f->series : NULL; s; s = s->f_next) {
                if (!(s->part_stale & bit))
                        continue;
                s->part_on &= ~bit;
                s->part_stale &= ~bit;
                part_fold(s);
                /* no part has it any more: it goes (family_drop takes
                 * the series flagged stale) */
                if (!s->part_on) {
                        s->stale = 1;
                        drop = 1;
                }
        }
        if (drop)
                family_drop(m, f, 1);
        pthread_mutex_unlock(&m->lock);
}

char *wk_metrics_escape(const char *value, char *out, size_t out_size)
{
        size_t o = 0;

        if (!out_size)
                return out;
        for (; value && *value; value++) {
                const char *rep = *value == '\\'   ? "\\\\"
                                  : *value == '"'  ? "\\\""
                                  : *value == '\n' ? "\\n"
                                                   : NULL;
                size_t n = rep ? 2 : 1;
                if (o + n >= out_size)
                        break;
                if (rep) {
                        out[o++] = rep[0];
                        out[o++] = rep[1];
                } else {
                        out[o++] = *value;
                }
        }
        out[o] = '\0';
        return out;
}

/* The length of \p v once escaped. */
static size_t escaped_len(const char *v)
{
        size_t n = 0;

        for (; *v; v++)
                n += (*v == '\\' || *v == '"' || *v == '\n') ? 2 : 1;
        return n;
}

/* A label name: [a-zA-Z_][a-zA-Z0-9_]*, not reserved ("__" prefix). */
static int label_name_ok(const char *n)
{
        if (!*n || (n[0] == '_' && n[1] == '_'))
                return 0;
        for (const char *p = n; *p; p++) {
                int alpha = (*p >= 'a' && *p <= 'z') ||
                            (*p >= 'A' && *p <= 'Z') || *p == '_';
                if (!alpha && !(p > n && *p >= '0' && *p <= '9'))
                        return 0;
        }
        return 1;
}

int wk_metrics_labels(char *out, size_t out_size, ...)
{
        va_list ap;
        const char *k, *v;
        size_t o = 0;
        int rc = 0;

        if (!out_size)
                return -1;
        out[0] = '\0';
        va_start(ap, out_size);
        while ((k = va_arg(ap, const char *)) != NULL) {
                v = va_arg(ap, const char *);
                size_t kl = strlen(k), el;
                /* [,]k="<escaped>" and the terminating NUL */
                if (!v || !label_name_ok(k) ||
                    o + (o > 0) + kl + 2 + escaped_len(v) + 1 >= out_size) {
                        rc = -1;
                        break;
                }
                if (o > 0)
                        out[o++] = ',';
                memcpy(out + o, k, kl);
                o += kl;
                out[o++] = '=';
                out[o++] = '"';
                wk_metrics_escape(v, out + o, out_size - o);
                el = strlen(out + o);
                o += el;
                out[o++] = '"';
                out[o] = '\0';
        }
        va_end(ap);
        if (rc == -1)
                out[0] = '\0';
        return rc;
}

int wk_metrics_value(wk_metrics_t *m, const char *name, const char *labels,
                     double *vp)
{
        series_t *s;
        int rc = -1;

        if (!m || !name || !labels)
                return -1;
        pthread_mutex_lock(&m->lock);
        s = series_find(m, name, labels, key_hash(name, labels));
        if (s) {
                *vp = s->fam->type == WK_METRIC_HISTOGRAM ? (double)s->count
                                                          : s->value;
                rc = 0;
        }
        pthread_mutex_unlock(&m->lock);
        return rc;
}

/* --- rendering -------------------------------------------------------- */

/* A growing text buffer. */
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

        while (!b->oom) {
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
                size_t cap = b->cap * 2 + (size_t)n;
                char *np = realloc(b->p, cap);
                if (!np) {
                        b->oom = 1;
                        return;
                }
                b->p = np;
                b->cap = cap;
        }
}

/* HELP text: backslash and newline escaped. */
static void put_help(buf_t *b, const char *help)
{
        char chunk[256];
        size_t o = 0;

        for (; *help; help++) {
                if (o + 3 > sizeof(chunk)) {
                        put(b, "%.*s", (int)o, chunk);
                        o = 0;
                }
                if (*help == '\\' || *help == '\n') {
                        chunk[o++] = '\\';
                        chunk[o++] = *help == '\n' ? 'n' : '\\';
                } else {
                        chunk[o++] = *help;
                }
        }
        put(b, "%.*s", (int)o, chunk);
}

/* A sample value: integers without exponent or fraction, NaN and +-Inf
 * as Prometheus spells them, others in the shortest form that reads
 * back to the same double. */
static void num(char *out, size_t size, double v)
{
        if (isnan(v))
                snprintf(out, size, "NaN");
        else if (isinf(v))
                snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
        else if (v == floor(v) && fabs(v) < 1e18)
                snprintf(out, size, "%.0f", v == 0 ? 0.0 : v); /* no -0 */
        else
                for (int prec = 15; prec <= 17; prec++) {
                        snprintf(out, size, "%.*g", prec, v);
                        if (strtod(out, NULL) == v)
                                break;
                }
}

/* --- the snapshot a scrape formats ------------------------------------ */

/* One series as it was when the snapshot was taken. */
typedef struct snap_series_s {
        const char *labels;      /* into snap_t.labels */
        const uint64_t *buckets; /* into snap_t.buckets, bound_count */
        double value;
        uint64_t count;
} snap_series_t;

/* Every family's series, copied under the lock so that formatting and
 * writing happen without it. A family itself (name, help, type, bounds)
 * never changes after wk_metrics_declare() and lives until
 * wk_metrics_destroy(): the snapshot points to it. */
typedef struct snap_s {
        size_t nf, ns;
        const family_t **fams; /* nf */
        size_t *fam_ns;        /* nf: how many of ser are the family's */
        snap_series_t *ser;    /* ns, family after family */
        uint64_t *buckets;
        char *labels;
} snap_t;

static void snap_free(snap_t *sn)
{
        free(sn->fams);
        free(sn->fam_ns);
        free(sn->ser);
        free(sn->buckets);
        free(sn->labels);
}

/* Lock held. @returns 0, or -1 when out of memory. O(series); copies,
 * never formats. */
static int snap_take(const wk_metrics_t *m, snap_t *sn)
{
        size_t nf = 0, ns = 0, nb = 0, nl = 0, f_i = 0, s_i = 0, b_o = 0,
               l_o = 0;

        for (const family_t *f = m->families; f; f = f->next, nf++)
                for (const series_t *s = f->series; s; s = s->f_next) {
                        ns++;
                        nb += f->bound_count;
                        nl += strlen(s->labels) + 1;
                }
        memset(sn, 0, sizeof(*sn));
        sn->fams = malloc((nf ? nf : 1) * sizeof(*sn->fams));
        sn->fam_ns = malloc((nf ? nf : 1) * sizeof(*sn->fam_ns));
        sn->ser = malloc((ns ? ns : 1) * sizeof(*sn->ser));
        sn->buckets = malloc((nb ? nb : 1) * sizeof(*sn->buckets));
        sn->labels = malloc(nl ? nl : 1);
        if (!sn->fams || !sn->fam_ns || !sn->ser || !sn->buckets ||
            !sn->labels) {
                snap_free(sn);
                return -1;
        }
        for (const family_t *f = m->families; f; f = f->next, f_i++) {
                sn->fams[f_i] = f;
                sn->fam_ns[f_i] = 0;
                for (const series_t *s = f->series; s; s = s->f_next) {
                        snap_series_t *o = &sn->ser[s_i++];
                        size_t ll = strlen(s->labels) + 1;

                        memcpy(sn->labels + l_o, s->labels, ll);
                        o->labels = sn->labels + l_o;
                        l_o += ll;
                        memcpy(sn->buckets + b_o, s->buckets,
                               f->bound_count * sizeof(*sn->buckets));
                        o->buckets = sn->buckets + b_o;
                        b_o += f->bound_count;
                        o->value = s->value;
                        o->count = s->count;
                        sn->fam_ns[f_i]++;
                }
        }
        sn->nf = nf;
        sn->ns = ns;
        return 0;
}

/* The text is handed on in pieces of whole lines once this much has
 * built up, not a family at a time: with 10,000 webhooks one histogram
 * family is ~17 MB of text, which a scrape held in a buffer of its own
 * beside the document (wk_metrics_render()). */
#define PIECE_MAX (64 * 1024)

/* Hands \p b's text to \p cb and empties it. @returns cb's answer, -1 when
 * out of memory. */
static int flush(buf_t *b, wk_metrics_write_cb_t *cb, void *opaque)
{
        int rc = b->oom ? -1 : cb(b->p, b->len, opaque);

        b->len = 0;
        return rc;
}

/* One family's text, handed to \p cb in pieces of up to ~PIECE_MAX.
 * @returns 0, or -1 when out of memory or \p cb said stop. */
static int render_family(buf_t *b, const family_t *f, const snap_series_t *ser,
                         size_t n, wk_metrics_write_cb_t *cb, void *opaque)
{
        static const char *const types[] = {"counter", "gauge", "histogram"};
        char v[64], le[64];

        put(b, "# HELP %s ", f->name);
        put_help(b, f->help);
        put(b, "\n# TYPE %s %s\n", f->name, types[f->type]);
        for (const snap_series_t *s = ser; s < ser + n; s++) {
                const char *l = s->labels;
                const char *lb = *l ? "{" : "", *rb = *l ? "}" : "";
                const char *sep = *l ? "," : "";
                uint64_t cum = 0;

                if (b->len >= PIECE_MAX && flush(b, cb, opaque) != 0)
                        return -1;
                if (f->type != WK_METRIC_HISTOGRAM) {
                        num(v, sizeof(v), s->value);
                        put(b, "%s%s%s%s %s\n", f->name, lb, l, rb, v);
                        continue;
                }
                for (size_t i = 0; i < f->bound_count; i++) {
                        cum += s->buckets[i];
                        num(le, sizeof(le), f->bounds[i]);
                        put(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", f->name, l,
                            sep, le, (unsigned long long)cum);
                }
                put(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", f->name, l, sep,
                    (unsigned long long)s->count);
                num(v, sizeof(v), s->value);
                put(b, "%s_sum%s%s%s %s\n", f->name, lb, l, rb, v);
                put(b, "%s_count%s%s%s %llu\n", f->name, lb, l, rb,
                    (unsigned long long)s->count);
        }
        return flush(b, cb, opaque);
}

int wk_metrics_write(wk_metrics_t *m, wk_metrics_write_cb_t *cb, void *opaque)
{
        buf_t b = {.cap = 4096};
        snap_t sn;
        size_t s_i = 0;
        int rc;

        if (!m || !cb)
                return -1;
        pthread_mutex_lock(&m->lock);
        rc = snap_take(m, &sn);
        pthread_mutex_unlock(&m->lock);
        if (rc != 0)
                return -1;
        /* from here on without the lock: the delivery thread's updates go
         * on while this formats and \p cb writes */
        b.p = malloc(b.cap);
        if (!b.p)
                rc = -1;
        for (size_t f_i = 0; f_i < sn.nf && rc == 0; f_i++) {
                rc = render_family(&b, sn.fams[f_i], sn.ser + s_i,
                                   sn.fam_ns[f_i], cb, opaque);
                s_i += sn.fam_ns[f_i];
        }
        free(b.p);
        snap_free(&sn);
        return rc == 0 ? 0 : -1;
}

/* wk_metrics_render()'s writer: appends to a buf_t. */
static int append(const char *text, size_t len, void *opaque)
{
        buf_t *b = opaque;

        if (len > INT_MAX)
                return -1;
        put(b, "%.*s", (int)len, text);
        return b->oom ? -1 : 0;
}

char *wk_metrics_render(wk_metrics_t *m, size_t *lenp)
{
        buf_t b = {.cap = 4096};

        if (!m)
                return NULL;
        b.p = malloc(b.cap);
        if (!b.p)
                return NULL;
        b.p[0] = '\0';
        if (wk_metrics_write(m, append, &b) != 0) {
                free(b.p);
                return NULL;
        }
        if (lenp)
                *lenp = b.len;
        return b.p;
}
