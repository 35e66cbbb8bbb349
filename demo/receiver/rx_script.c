/* rx_script: the receiver's fault scripts: the step syntax
 * ("500*3,503:ra=2,200") and, per path, which step the next request
 * takes. */
#include "rx_script.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RX_STEP_MAX     128 /* longest step text */
#define RX_DELAY_MAX_MS 600000
#define RX_RA_MAX_S     86400
#define RX_BODY_OUT_MAX (64 * 1024 * 1024) /* longest answer body= */

struct rx_script_s {
        struct rx_script_s *next;
        char *path;
        rx_step_t *steps; /* texts, locations: one allocation each, ours */
        size_t n;
        size_t at;     /* the step the next request takes */
        unsigned used; /* how often steps[at] was taken */
};

/* Parse a whole decimal in [lo, hi] from s (NUL-terminated). */
static int parse_num(const char *s, long lo, long hi, long *out)
{
        char *end;
        long v;

        if (*s < '0' || *s > '9')
                return -1;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || *end || v < lo || v > hi)
                return -1;
        *out = v;
        return 0;
}

static int parse_int(const char *s, long lo, long hi, int *out)
{
        long v;

        if (parse_num(s, lo, hi, &v) == -1)
                return -1;
        *out = (int)v;
        return 0;
}

/* One step, "HEAD[:OPT]...[*N]", in a writable buffer. */
static int parse_step(char *s, rx_step_t *st)
{
        char *star, *opt, *next;
        long n;

        *st = (rx_step_t){.status = 200, .count = 1};
        star = strrchr(s, '*');
        if (star) {
                *star = '\0';
                if (parse_num(star + 1, 1, 1000000000, &n) == -1)
                        return -1;
                st->count = (unsigned)n;
        }
        next = strchr(s, ':');
        if (next)
                *next++ = '\0';
        if (!strcmp(s, "drop"))
                st->status = 0;
        else if (!strncmp(s, "delay=", 6)) {
                if (parse_int(s + 6, 0, RX_DELAY_MAX_MS, &st->delay_ms))
                        return -1;
        } else if (parse_int(s, 200, 599, &st->status))
                return -1;

        while ((opt = next)) {
                next = strchr(opt, ':');
                if (next)
                        *next++ = '\0';
                if (!strncmp(opt, "delay=", 6)) {
                        if (parse_int(opt + 6, 0, RX_DELAY_MAX_MS,
                                      &st->delay_ms))
                                return -1;
                } else if (!strcmp(opt, "ra=date")) {
                        st->ra = RX_RA_DATE;
                        st->ra_s = 0;
                } else if (!strncmp(opt, "ra=date+", 8)) {
                        if (parse_int(opt + 8, 0, RX_RA_MAX_S, &st->ra_s))
                                return -1;
                        st->ra = RX_RA_DATE;
                } else if (!strncmp(opt, "ra=", 3)) {
                        if (parse_int(opt + 3, 0, RX_RA_MAX_S, &st->ra_s))
                                return -1;
                        st->ra = RX_RA_SECONDS;
                } else if (!strncmp(opt, "body=", 5)) {
                        if (parse_num(opt + 5, 0, RX_BODY_OUT_MAX, &n))
                                return -1;
                        st->body_len = (size_t)n;
                } else {
                        return -1;
                }
        }
        return 0;
}

static int is_blank(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

rx_step_t *rx_script_parse(const char *script, size_t *n_out)
{
        rx_step_t *steps = NULL;
        size_t n = 0, cap = 1;
        const char *p = script ? script : "";
        char buf[RX_STEP_MAX];
        int all_blank = 1;

        for (const char *c = p; *c; c++)
                if (!is_blank(*c))
                        all_blank = 0;
        if (all_blank)
                p = "200";
        for (const char *c = p; *c; c++)
                if (*c == ',')
                        cap++;
        steps = calloc(cap, sizeof(*steps));
        if (!steps)
                return NULL;

        for (;;) {
                const char *end = strchr(p, ',');
                const char *b = p, *e = end ? end : p + strlen(p);
                size_t len;

                while (b < e && is_blank(*b))
                        b++;
                while (e > b && is_blank(e[-1]))
                        e--;
                len = (size_t)(e - b);
                if (len == 0 || len >= sizeof(buf))
                        goto err;
                memcpy(buf, b, len);
                buf[len] = '\0';
                if (parse_step(buf, &steps[n++]) == -1)
                        goto err;
                if (!end)
                        break;
                p = end + 1;
        }
        *n_out = n;
        return steps;

err:
        free(steps);
        return NULL;
}

static void script_free(rx_script_t *s)
{
        if (!s)
                return;
        for (size_t i = 0; s->steps && i < s->n; i++) {
                free((char *)s->steps[i].text);
                free((char *)s->steps[i].location);
        }
        free(s->path);
        free(s->steps);
        free(s);
}

int rx_script_set(rx_script_t **list, const char *path, const rx_step_t *steps,
                  size_t n)
{
        rx_script_t *s, **pp;

        if (!list || !path || !steps || n == 0)
                return -1;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -1;
        s->path = strdup(path);
        s->steps = calloc(n, sizeof(*s->steps));
        if (!s->path || !s->steps) {
                script_free(s);
                return -1;
        }
        s->n = n;
        for (size_t i = 0; i < n; i++) {
                s->steps[i] = steps[i];
                if (s->steps[i].count == 0)
                        s->steps[i].count = 1;
                s->steps[i].text = NULL;
                s->steps[i].location = NULL;
                if ((steps[i].text &&
                     !(s->steps[i].text = strdup(steps[i].text))) ||
                    (steps[i].location &&
                     !(s->steps[i].location = strdup(steps[i].location)))) {
                        script_free(s);
                        return -1;
                }
        }

        for (pp = list; *pp; pp = &(*pp)->next)
                if (!strcmp((*pp)->path, path))
                        break;
        if (*pp) {
                rx_script_t *old = *pp;

                s->next = old->next;
                *pp = s;
                script_free(old);
        } else {
                *pp = s;
        }
        return 0;
}

rx_step_t rx_script_take(rx_script_t *list, const char *path)
{
        static const rx_step_t ok = {.status = 200, .count = 1};
        rx_script_t *s, *any = NULL;
        rx_step_t st;

        for (s = list; s; s = s->next) {
                if (!strcmp(s->path, path))
                        break;
                if (!strcmp(s->path, "*"))
                        any = s;
        }
        if (!s)
                s = any;
        if (!s)
                return ok;
        st = s->steps[s->at];
        if (s->at + 1 < s->n && ++s->used >= st.count) {
                s->at++;
                s->used = 0;
        }
        return st;
}

void rx_script_free_all(rx_script_t *list)
{
        while (list) {
                rx_script_t *s = list;

                list = s->next;
                script_free(s);
        }
}
