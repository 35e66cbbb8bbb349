/* cfg_report: the problems found while loading, recorded at their
 * setting and written out as sorted "FILE:LINE: message" lines. */
#include "cfg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- problems --------------------------------------------------------- */

unsigned cfg_line(const config_setting_t *s)
{
        unsigned line = s ? config_setting_source_line(s) : 0;

        return line ? line : 1;
}

/*
 * Record a problem at setting \p s (NULL: line 1 of the main file): an
 * error, or with \p warning one that does not fail the load. Every
 * message goes through here; control characters from the file are
 * replaced so that each problem stays on one line.
 */
__attribute__((format(printf, 6, 0))) static void
cfg_vreport(cfg_loader_t *ld, const config_setting_t *s, const char *file,
            unsigned line, int warning, const char *fmt, va_list ap)
{
        static const char wtag[] = "warning: ";
        char msg[sizeof(wtag) - 1 + CFG_MSG_MAX];
        size_t skip = warning ? sizeof(wtag) - 1 : 0;
        cfg_err_t *e;

        if (s) {
                file = config_setting_source_file(s);
                line = cfg_line(s);
        }

        memcpy(msg, wtag, skip);
        vsnprintf(msg + skip, sizeof(msg) - skip, fmt, ap);
        /* C1 (U+0080..U+009F, 0xc2 0x80..0x9f in UTF-8) too: one '?' */
        for (char *p = msg, *q = msg;; p++) {
                unsigned char c = (unsigned char)*p;
                if (c == 0xc2 && (unsigned char)p[1] >= 0x80 &&
                    (unsigned char)p[1] <= 0x9f) {
                        *q++ = '?';
                        p++;
                } else if ((c < 0x20 && c) || c == 0x7f) {
                        *q++ = '?';
                } else if (!(*q++ = *p)) {
                        break;
                }
        }
        if (ld->err_count == ld->err_cap) {
                size_t cap = ld->err_cap ? ld->err_cap * 2 : 16;
                cfg_err_t *errs = realloc(ld->errs, cap * sizeof(*errs));

                if (!errs) {
                        ld->oom = 1;
                        return;
                }
                ld->errs = errs;
                ld->err_cap = cap;
        }
        e = &ld->errs[ld->err_count];
        e->file = file ? file : ld->name;
        e->rank = strcmp(e->file, ld->name) != 0;
        e->line = line ? line : 1;
        e->seq = ld->err_count;
        e->msg = strdup(msg);
        if (!e->msg) {
                ld->oom = 1;
                return;
        }
        ld->err_count++;
        if (warning)
                ld->warn_count++;
}

__attribute__((format(printf, 3, 4))) void
cfg_report(cfg_loader_t *ld, const config_setting_t *s, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        cfg_vreport(ld, s, NULL, 1, 0, fmt, ap);
        va_end(ap);
}

/* A problem that does not stop the configuration from loading. */
__attribute__((format(printf, 3, 4))) void
cfg_warn(cfg_loader_t *ld, const config_setting_t *s, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        cfg_vreport(ld, s, NULL, 1, 1, fmt, ap);
        va_end(ap);
}

__attribute__((format(printf, 4, 5))) void cfg_report_at(cfg_loader_t *ld,
                                                         const char *file,
                                                         unsigned line,
                                                         const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        cfg_vreport(ld, NULL, file, line, 0, fmt, ap);
        va_end(ap);
}

const char *cfg_keep_name(cfg_loader_t *ld, const char *name)
{
        char **names;
        char *copy;

        names = realloc(ld->names, (ld->name_count + 1) * sizeof(*names));
        if (!names) {
                ld->oom = 1;
                return NULL;
        }
        ld->names = names;
        copy = strdup(name);
        if (!copy) {
                ld->oom = 1;
                return NULL;
        }
        ld->names[ld->name_count++] = copy;
        return copy;
}

static int cfg_err_cmp(const void *a, const void *b)
{
        const cfg_err_t *x = a, *y = b;
        int c;

        if (x->rank != y->rank)
                return x->rank - y->rank;
        c = strcmp(x->file, y->file);
        if (c)
                return c;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Write the problems, in file order, one per line into \p out. When they
 * do not fit, whole lines are dropped from the end and "..." marks it.
 */
void cfg_errs_write(cfg_loader_t *ld, char *out, size_t size)
{
        size_t len = 0;

        if (!out || size == 0)
                return;
        out[0] = '\0';
        if (ld->err_count > 1)
                qsort(ld->errs, ld->err_count, sizeof(*ld->errs), cfg_err_cmp);
        for (size_t i = 0; i < ld->err_count + (ld->oom ? 1 : 0); i++) {
                char line[CFG_MSG_MAX + 600];
                int n;

                if (i < ld->err_count)
                        n = snprintf(line, sizeof(line), "%s%.512s:%u: %s",
                                     len ? "\n" : "", ld->errs[i].file,
                                     ld->errs[i].line, ld->errs[i].msg);
                else
                        n = snprintf(line, sizeof(line),
                                     "%s%.512s:1: out of memory",
                                     len ? "\n" : "", ld->name);
                if (n < 0)
                        continue;
                if ((size_t)n > sizeof(line) - 1)
                        n = (int)sizeof(line) - 1;
                if (len + (size_t)n < size) {
                        memcpy(out + len, line, (size_t)n + 1);
                        len += (size_t)n;
                        continue;
                }
                /* Does not fit: drop whole lines to end with "..." on a
                 * line of its own; cut the first line when even it does
                 * not fit. */
                if (len == 0)
                        memcpy(out, line, size > 4 ? size - 4 : 0);
                while (len > 0 && len + 4 >= size) {
                        while (len > 0 && out[len - 1] != '\n')
                                len--;
                        if (len > 0)
                                len--; /* the '\n' itself */
                }
                if (len == 0) {
                        len = size > 4 ? size - 4 : 0;
                        snprintf(out + len, size - len, "...");
                } else {
                        snprintf(out + len, size - len, "\n...");
                }
                return;
        }
}

/* A growing string in a fixed buffer; silently truncates. */
typedef struct cfg_sb_s {
        char *buf;
        size_t size;
        size_t len;
} cfg_sb_t;

static void cfg_sb_add(cfg_sb_t *sb, const char *s)
{
        size_t n = strlen(s);

        if (sb->len + 1 >= sb->size)
                return;
        if (n > sb->size - sb->len - 1)
                n = sb->size - sb->len - 1;
        memcpy(sb->buf + sb->len, s, n);
        sb->len += n;
        sb->buf[sb->len] = '\0';
}

/* "a, b, c" from a NULL-terminated or counted list. */
void cfg_join(char *buf, size_t size, const char *const *names, size_t n,
              const char *quote)
{
        cfg_sb_t sb = {buf, size, 0};

        buf[0] = '\0';
        for (size_t i = 0; i < n && names[i]; i++) {
                if (i)
                        cfg_sb_add(&sb, ", ");
                cfg_sb_add(&sb, quote);
                cfg_sb_add(&sb, names[i]);
                cfg_sb_add(&sb, quote);
        }
}

static char cfg_lower(char c)
{
        return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Edit distance, for "did you mean" (short words only). */
static size_t cfg_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b), row[65];

        if (la > 64 || lb > 64)
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t diag = row[0];

                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t up = row[j], best = diag;

                        if (cfg_lower(a[i - 1]) != cfg_lower(b[j - 1]))
                                best++;
                        if (up + 1 < best)
                                best = up + 1;
                        if (row[j - 1] + 1 < best)
                                best = row[j - 1] + 1;
                        diag = up;
                        row[j] = best;
                }
        }
        return row[lb];
}

/* The closest of \p cands to \p word when it is close enough, or NULL. */
const char *cfg_suggest(const char *word, const char *const *cands, size_t n)
{
        size_t len = strlen(word), best = SIZE_MAX;
        size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
        const char *pick = NULL;

        for (size_t i = 0; i < n && cands[i]; i++) {
                size_t d = cfg_distance(word, cands[i]);

                if (d < best) {
                        best = d;
                        pick = cands[i];
                }
        }
        return best <= limit ? pick : NULL;
}

void cfg_report_unknown(cfg_loader_t *ld, const config_setting_t *m,
                        const cfg_scope_t *sc, const cfg_opt_t *opts)
{
        const char *names[CFG_MAX_OPTS + 1];
        const char *name = config_setting_name(m), *hint;
        char known[512];
        size_t n = 0;

        for (; opts[n].name && n < CFG_MAX_OPTS; n++)
                names[n] = opts[n].name;
        names[n] = NULL;
        cfg_join(known, sizeof(known), names, n, "");
        hint = cfg_suggest(name, names, n);
        if (hint)
                cfg_report(ld, m,
                           "unknown setting '%.64s' %s; known: %s; did you "
                           "mean '%s'?",
                           name, sc->where, known, hint);
        else
                cfg_report(ld, m, "unknown setting '%.64s' %s; known: %s", name,
                           sc->where, known);
}
