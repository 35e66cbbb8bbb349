/* cfg_reload: which changed settings a reload (SIGHUP) cannot apply --
 * the RESTART_ONLY options of the table whose value differs. */
#include "cfg_int.h"

#include <stdio.h>
#include <string.h>

/* A group of options and where its record sits in a cfg_t. */
typedef struct cfg_rl_group_s {
        const char *prefix;
        const cfg_opt_t *opts;
        size_t off;
} cfg_rl_group_t;

static const cfg_rl_group_t cfg_rl_groups[] = {
        {"kafka.", cfg_kafka_opts, offsetof(struct cfg_s, kafka)},
        {"delivery.", cfg_delivery_opts, offsetof(struct cfg_s, delivery)},
        {"delivery.circuit.", cfg_circuit_opts,
         offsetof(struct cfg_s, delivery)},
        {"delivery.retry.", cfg_retry_opts,
         offsetof(struct cfg_s, delivery.retry)},
        {"delivery.retry.", cfg_tiers_opts,
         offsetof(struct cfg_s, delivery.tiers)},
        {"admin.", cfg_admin_opts, offsetof(struct cfg_s, admin)},
        {"api.", cfg_api_opts, offsetof(struct cfg_s, api)},
        {"log.", cfg_log_opts, offsetof(struct cfg_s, log)},
};

/* The names written so far, ", "-separated; "..." once full. */
typedef struct cfg_rl_out_s {
        char *buf;
        size_t size;
        size_t len;
        size_t count;
        int full;
} cfg_rl_out_t;

static void cfg_rl_add(cfg_rl_out_t *o, const char *prefix, const char *name)
{
        int n;

        o->count++;
        if (!o->buf || o->size == 0 || o->full)
                return;
        n = snprintf(o->buf + o->len, o->size - o->len, "%s%s%s",
                     o->len ? ", " : "", prefix, name);
        if (n >= 0 && (size_t)n < o->size - o->len) {
                o->len += (size_t)n;
                return;
        }
        /* Does not fit: drop whole names from the end until ", ..."
         * does. */
        o->full = 1;
        while (o->len > 0 && o->size - o->len < 6) {
                while (o->len > 0 && strncmp(o->buf + o->len - 1, ",", 1))
                        o->len--;
                if (o->len > 0)
                        o->len--; /* the ',' */
        }
        o->buf[o->len] = '\0';
        if (o->size - o->len >= 6 || (!o->len && o->size >= 4))
                snprintf(o->buf + o->len, o->size - o->len, "%s...",
                         o->len ? ", " : "");
}

static int cfg_rl_streq(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return !strcmp(a, b);
}

static int cfg_rl_lists_eq(const char *const *a, size_t na,
                           const char *const *b, size_t nb)
{
        if (na != nb)
                return 0;
        for (size_t i = 0; i < na; i++) {
                if (!cfg_rl_streq(a[i], b[i]))
                        return 0;
        }
        return 1;
}

/* The value of scalar option \p o in the records \p a and \p b. */
static int cfg_rl_opt_eq(const cfg_opt_t *o, const void *a, const void *b)
{
        const unsigned char *fa = (const unsigned char *)a + o->off;
        const unsigned char *fb = (const unsigned char *)b + o->off;

        switch (o->kind) {
        case CFG_OPT_INT:
        case CFG_OPT_BOOL:
        case CFG_OPT_CHOICE:
                return *(const int *)(const void *)fa ==
                       *(const int *)(const void *)fb;
        case CFG_OPT_STR:
        case CFG_OPT_CHOICE_STR:
                return cfg_rl_streq(*(const char *const *)(const void *)fa,
                                    *(const char *const *)(const void *)fb);
        case CFG_OPT_CUSTOM:
                break;
        }
        return 1;
}

/* The RESTART_ONLY settings the table calls CUSTOM. */
static int cfg_rl_custom_eq(const char *path, const cfg_t *a, const cfg_t *b)
{
        const cfg_kafka_t *ka = &a->kafka, *kb = &b->kafka;

        if (!strcmp(path, "kafka.properties"))
                return cfg_rl_lists_eq(ka->prop_names, ka->prop_count,
                                       kb->prop_names, kb->prop_count) &&
                       cfg_rl_lists_eq(ka->prop_values, ka->prop_count,
                                       kb->prop_values, kb->prop_count);
        if (!strcmp(path, "delivery.allow_networks"))
                return cfg_rl_lists_eq(a->delivery.allow_networks,
                                       a->delivery.allow_network_count,
                                       b->delivery.allow_networks,
                                       b->delivery.allow_network_count);
        if (!strcmp(path, "delivery.retry.schedule")) {
                const hb_sched_t *sa = &a->delivery.tiers.schedule;
                const hb_sched_t *sb = &b->delivery.tiers.schedule;
                if (sa->n != sb->n)
                        return 0;
                for (size_t i = 0; i < sa->n; i++)
                        if (sa->delay_ms[i] != sb->delay_ms[i])
                                return 0;
                return 1;
        }
        /* token and token_env both end in admin.token: compared once,
         * under "token" */
        if (!strcmp(path, "admin.token"))
                return cfg_rl_streq(a->admin.token, b->admin.token);
        /* likewise api.token, api.token_env and api.token_file: all are
         * api.tokens, compared under "token"; the two key settings under
         * "secret_key_env" */
        if (!strcmp(path, "api.token"))
                return cfg_rl_lists_eq(a->api.tokens, a->api.token_count,
                                       b->api.tokens, b->api.token_count);
        if (!strcmp(path, "api.secret_key_env"))
                return a->api.have_secret_key == b->api.have_secret_key &&
                       !memcmp(a->api.secret_key, b->api.secret_key,
                               sizeof(a->api.secret_key));
        if (!strcmp(path, "api.rotation_grace"))
                return a->api.rotation_grace_ms == b->api.rotation_grace_ms;
        return 1;
}

size_t cfg_reload_diff(const cfg_t *old, const cfg_t *cur, char *buf,
                       size_t size)
{
        cfg_rl_out_t o = {buf, size, 0, 0, 0};
        size_t i;

        if (buf && size)
                buf[0] = '\0';
        if (!old || !cur)
                return 0;
        for (size_t g = 0; g < sizeof(cfg_rl_groups) / sizeof(cfg_rl_groups[0]);
             g++) {
                const cfg_rl_group_t *gr = &cfg_rl_groups[g];
                const void *ra = (const unsigned char *)old + gr->off;
                const void *rb = (const unsigned char *)cur + gr->off;

                for (const cfg_opt_t *op = gr->opts; op->name; op++) {
                        char path[96];
                        int same;

                        if (!(op->flags & CFG_RESTART_ONLY))
                                continue;
                        snprintf(path, sizeof(path), "%s%s", gr->prefix,
                                 op->name);
                        same = op->kind == CFG_OPT_CUSTOM
                                       ? cfg_rl_custom_eq(path, old, cur)
                                       : cfg_rl_opt_eq(op, ra, rb);
                        if (!same)
                                cfg_rl_add(&o, gr->prefix, op->name);
                }
        }
        /* kafka.topics: the names are RESTART_ONLY (the subscription),
         * the app_token of each is reloadable. */
        if (old->kafka.topic_count != cur->kafka.topic_count) {
                cfg_rl_add(&o, "kafka.topics", "");
        } else {
                for (i = 0; i < old->kafka.topic_count; i++) {
                        if (!cfg_rl_streq(old->kafka.topics[i].name,
                                          cur->kafka.topics[i].name))
                                break;
                }
                if (i < old->kafka.topic_count)
                        cfg_rl_add(&o, "kafka.topics", "");
        }
        return o.count;
}
