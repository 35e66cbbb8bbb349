/* hb_sched: the retry schedule (see hb_sched.h). */
#include "hb_sched.h"

#include <stdio.h>
#include <string.h>

#define MS_PER_S   1000LL
#define MS_PER_MIN (60 * MS_PER_S)
#define MS_PER_H   (60 * MS_PER_MIN)
#define MS_PER_DAY (24 * MS_PER_H)
#define MAX_DELAY  (30 * MS_PER_DAY)

int hb_sched_parse_delay(const char *s, int64_t *ms, char *errstr,
                         size_t errstr_size)
{
        const char *p = s;
        int64_t total = 0;

        if (!s || !*s) {
                snprintf(errstr, errstr_size,
                         "empty delay (write e.g. \"5s\", \"30m\", \"2h\")");
                return -1;
        }
        while (*p) {
                int64_t v = 0, unit;
                const char *start = p;
                while (*p >= '0' && *p <= '9') {
                        v = v * 10 + (*p++ - '0');
                        if (v > MAX_DELAY)
                                goto too_long;
                }
                if (p == start) {
                        snprintf(errstr, errstr_size,
                                 "'%s': expected a number at '%s' (write "
                                 "e.g. \"5s\", \"30m\", \"2h\")",
                                 s, p);
                        return -1;
                }
                if (p[0] == 'm' && p[1] == 's') {
                        unit = 1;
                        p += 2;
                } else if (*p == 's') {
                        unit = MS_PER_S;
                        p++;
                } else if (*p == 'm') {
                        unit = MS_PER_MIN;
                        p++;
                } else if (*p == 'h') {
                        unit = MS_PER_H;
                        p++;
                } else if (*p == 'd') {
                        unit = MS_PER_DAY;
                        p++;
                } else {
                        snprintf(errstr, errstr_size,
                                 "'%s': a number needs a unit: ms, s, m, h "
                                 "or d",
                                 s);
                        return -1;
                }
                total += v * unit;
                if (total > MAX_DELAY)
                        goto too_long;
        }
        if (total < 1) {
                snprintf(errstr, errstr_size, "'%s': a delay must be > 0", s);
                return -1;
        }
        *ms = total;
        return 0;
too_long:
        snprintf(errstr, errstr_size, "'%s': longer than 30 days", s);
        return -1;
}

/* "5s", "30m", "10h", "1d", "1h30m", "250ms": the shortest exact form. */
static void label_of(int64_t ms, char *out, size_t size)
{
        static const struct {
                int64_t ms;
                const char *unit;
        } units[] = {{MS_PER_DAY, "d"},
                     {MS_PER_H, "h"},
                     {MS_PER_MIN, "m"},
                     {MS_PER_S, "s"},
                     {1, "ms"}};
        size_t used = 0;

        out[0] = '\0';
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && ms; i++) {
                int64_t v = ms / units[i].ms;
                if (!v)
                        continue;
                ms -= v * units[i].ms;
                if (used < size)
                        used += (size_t)snprintf(out + used, size - used,
                                                 "%lld%s", (long long)v,
                                                 units[i].unit);
        }
}

int hb_sched_parse(hb_sched_t *out, const char *const *items, size_t n,
                   char *errstr, size_t errstr_size)
{
        if (n < 1 || n > HB_SCHED_MAX) {
                snprintf(errstr, errstr_size,
                         "a schedule has 1 to %d delays, not %zu", HB_SCHED_MAX,
                         n);
                return -1;
        }
        memset(out, 0, sizeof(*out));
        for (size_t i = 0; i < n; i++) {
                /* "schedule[i]: " then the delay's own reason after it */
                int at = snprintf(errstr, errstr_size, "schedule[%zu]: ", i);

                if (at < 0 || (size_t)at >= errstr_size)
                        at = 0;
                if (hb_sched_parse_delay(items[i], &out->delay_ms[i],
                                         errstr + at, errstr_size - at) == -1)
                        return -1;
                label_of(out->delay_ms[i], out->label[i],
                         sizeof(out->label[i]));
        }
        out->n = n;
        return 0;
}

void hb_sched_default(hb_sched_t *out)
{
        static const char *const d[] = HB_SCHED_DEFAULT;
        /* room for hb_sched_parse's longest message ("schedule[N]: " and
         * its 200-byte reason), or -O3 sees the truncation (Release) */
        char why[256];

        hb_sched_parse(out, d, sizeof(d) / sizeof(d[0]), why, sizeof(why));
}

int hb_sched_next(const hb_sched_t *s, int from, int64_t wait_ms)
{
        if (from < 0)
                from = 0;
        if ((size_t)from >= s->n)
                return -1;
        for (size_t i = (size_t)from; i < s->n; i++)
                if (s->delay_ms[i] >= wait_ms)
                        return (int)i;
        return (int)s->n - 1;
}

int64_t hb_sched_due(const hb_sched_t *s, int tier, int64_t now_ms)
{
        if (tier < 0 || (size_t)tier >= s->n)
                return now_ms;
        return now_ms + s->delay_ms[tier];
}

int64_t hb_sched_wait(int64_t due_ms, int64_t now_ms)
{
        return due_ms > now_ms ? due_ms - now_ms : 0;
}

char *hb_sched_topic(const hb_sched_t *s, const char *prefix, int tier,
                     char *out, size_t size)
{
        int n;

        if (tier < 0 || (size_t)tier >= s->n)
                return NULL;
        n = snprintf(out, size, "%s-%d-%s", prefix, tier, s->label[tier]);
        return n < 0 || (size_t)n >= size ? NULL : out;
}

int hb_sched_tier_of(const hb_sched_t *s, const char *prefix, const char *topic)
{
        char name[512];

        for (size_t i = 0; i < s->n; i++)
                if (hb_sched_topic(s, prefix, (int)i, name, sizeof(name)) &&
                    !strcmp(name, topic))
                        return (int)i;
        return -1;
}
