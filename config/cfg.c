/* cfg: hookbridge's configuration file (libconfig), loaded and validated. */
#include "cfg.h"

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "hb_types.h"

#define CFG_MAX_PROPS       10    /* user + company properties (SPEC 3) */
#define CFG_NAME_MAX        128   /* webhook names */
#define CFG_TOPIC_MAX       249   /* Kafka's limit on topic names */
#define CFG_SECRET_FILE_MAX 65536 /* a secret file larger is a mistake */
#define CFG_MSG_MAX         1024  /* one message, before "FILE:LINE: " */
#define CFG_CHUNK           4096  /* arena chunk */
#define CFG_MAX_OPTS        32    /* options per group (bit masks) */
/* Buffers for the names in messages, each roomy enough for the one
 * before it plus what is appended ("webhook 'crm'" -> "... events[3]."). */
#define CFG_WHO_MAX  (CFG_NAME_MAX + 24)
#define CFG_PATH_MAX (CFG_WHO_MAX + 48)
#define CFG_ELEM_MAX (CFG_PATH_MAX + 32)

/* Records are built in an arena owned by the cfg_t: one free per chunk. */
typedef struct cfg_chunk_s {
        struct cfg_chunk_s *next;
        size_t used;
        size_t cap;
        max_align_t mem[];
} cfg_chunk_t;

struct cfg_s {
        cfg_chunk_t *chunks;
        const char *path;
        cfg_kafka_t kafka;
        cfg_delivery_t delivery;
        cfg_webhook_t *webhooks;
        size_t webhook_count;
        cfg_mapping_t *mappings;
        size_t mapping_count;
        cfg_admin_t admin;
        cfg_log_t log;
};

/* One problem found while loading. */
typedef struct cfg_err_s {
        const char *file; /* libconfig's or the loader's, never freed here */
        unsigned line;
        int rank; /* 0: the main file, 1: an @include'd one */
        size_t seq;
        char *msg; /* a warning's starts with "warning: " */
} cfg_err_t;

/* State of one cfg_load*(): the cfg being built and the problems found. */
typedef struct cfg_loader_s {
        cfg_t *cfg;
        const char *name; /* file name for messages */
        cfg_err_t *errs;
        size_t err_count; /* problems: errors and warnings */
        size_t err_cap;
        size_t warn_count; /* of which warnings: they do not fail a load */
        int oom;
        const char **types; /* known webhook types: built-in + mappings */
        size_t type_count;
        rd_kafka_conf_t *rdconf; /* checks kafka.properties */
} cfg_loader_t;

/* Where a group sits, for messages: "<prefix><setting>: ..." and
 * "unknown setting 'x' <where>". */
typedef struct cfg_scope_s {
        const char *prefix;
        const char *where;
} cfg_scope_t;

/*
 * Options table (redis configs[] style): every scalar option of a group
 * with its type, bounds and default; CUSTOM ones are parsed by the
 * section's own code but listed here so unknown settings are caught and
 * "known:" lists are complete.
 */
typedef enum {
        CFG_OPT_INT,        /* int field, min..max */
        CFG_OPT_BOOL,       /* int field, 0/1 */
        CFG_OPT_STR,        /* const char * field, copied to the arena */
        CFG_OPT_CHOICE,     /* int (enum) field: values[i] for choices[i] */
        CFG_OPT_CHOICE_STR, /* const char * field: the choice itself */
        CFG_OPT_CUSTOM,
} cfg_opt_kind_t;

#define CFG_REQUIRED 0x1 /* missing is an error */
#define CFG_NONEMPTY 0x2 /* "" is an error */
#define CFG_NODEF    0x4 /* no default: the section fills it in */

typedef struct cfg_opt_s {
        const char *name;
        cfg_opt_kind_t kind;
        unsigned flags;
        size_t off;
        long long min;
        long long max;
        long long def; /* INT/BOOL value; CHOICE*: index in choices */
        const char *sdef;
        const char *const *choices; /* NULL-terminated */
        const int *values;
        const char *example; /* shown when a required setting is missing */
} cfg_opt_t;

#define CFG_INT(n, T, f, fl, lo, hi, d)                                     \
        {                                                                   \
                .name = (n), .kind = CFG_OPT_INT, .flags = (fl),            \
                .off = offsetof(T, f), .min = (lo), .max = (hi), .def = (d) \
        }
#define CFG_BOOL(n, T, f, d)                                              \
        {                                                                 \
                .name = (n), .kind = CFG_OPT_BOOL, .off = offsetof(T, f), \
                .def = (d)                                                \
        }
#define CFG_STR(n, T, f, fl, d, ex)                                 \
        {                                                           \
                .name = (n), .kind = CFG_OPT_STR, .flags = (fl),    \
                .off = offsetof(T, f), .sdef = (d), .example = (ex) \
        }
#define CFG_CHOICE(n, T, f, fl, names, vals, d)                              \
        {                                                                    \
                .name = (n), .kind = CFG_OPT_CHOICE, .flags = (fl),          \
                .off = offsetof(T, f), .choices = (names), .values = (vals), \
                .def = (d)                                                   \
        }
#define CFG_CHOICE_STR(n, T, f, names, d)                             \
        {                                                             \
                .name = (n), .kind = CFG_OPT_CHOICE_STR,              \
                .off = offsetof(T, f), .choices = (names), .def = (d) \
        }
#define CFG_CUSTOM(n, fl, ex)                                       \
        {                                                           \
                .name = (n), .kind = CFG_OPT_CUSTOM, .flags = (fl), \
                .example = (ex)                                     \
        }

/* Options are tracked in uint32_t bit masks. */
#define CFG_OPTS_FIT(t) (sizeof(t) / sizeof((t)[0]) <= CFG_MAX_OPTS + 1)

/* CHOICE options write enums through an int pointer. */
_Static_assert(sizeof(cfg_exhausted_t) == sizeof(int), "enum size");
_Static_assert(sizeof(cfg_sig_t) == sizeof(int), "enum size");
_Static_assert(sizeof(cfg_log_format_t) == sizeof(int), "enum size");

/* An events toggle: { type = "nps.score"; enabled = false; } */
typedef struct cfg_toggle_s {
        const char *type;
        int enabled;
} cfg_toggle_t;

static const char *const cfg_offset_resets[] = {"earliest", "latest", NULL};
static const char *const cfg_exhausted_names[] = {"dead_letter", "retry",
                                                  "drop", NULL};
static const int cfg_exhausted_values[] = {
        CFG_EXHAUSTED_DEAD_LETTER, CFG_EXHAUSTED_RETRY, CFG_EXHAUSTED_DROP};
static const char *const cfg_sig_names[] = {"standard", "userpilot", NULL};
static const int cfg_sig_values[] = {CFG_SIG_STANDARD, CFG_SIG_USERPILOT};
static const char *const cfg_level_names[] = {"error", "warn", "info", "debug",
                                              NULL};
static const int cfg_level_values[] = {3, 4, 6, 7};
static const char *const cfg_format_names[] = {"logfmt", "json", NULL};
static const int cfg_format_values[] = {CFG_LOG_LOGFMT, CFG_LOG_JSON};

static const cfg_opt_t cfg_top_opts[] = {
        CFG_CUSTOM("kafka", CFG_REQUIRED,
                   "kafka = { brokers = \"127.0.0.1:9092\"; "
                   "topics = ( \"events\" ); };"),
        CFG_CUSTOM("delivery", 0, NULL),
        CFG_CUSTOM("webhooks", CFG_REQUIRED,
                   "webhooks = ( { name = \"crm\"; "
                   "url = \"https://example.com/hook\"; "
                   "events = [ \"*\" ]; } );"),
        CFG_CUSTOM("mappings", 0, NULL),
        CFG_CUSTOM("admin", 0, NULL),
        CFG_CUSTOM("log", 0, NULL),
        {NULL},
};

static const cfg_opt_t cfg_kafka_opts[] = {
        CFG_STR("brokers", cfg_kafka_t, brokers, CFG_REQUIRED | CFG_NONEMPTY,
                NULL, "brokers = \"127.0.0.1:9092\";"),
        CFG_STR("group_id", cfg_kafka_t, group_id, CFG_NONEMPTY, "hookbridge",
                NULL),
        CFG_CUSTOM("topics", CFG_REQUIRED, "topics = ( \"events\" );"),
        CFG_CUSTOM("properties", 0, NULL),
        CFG_INT("commit_interval_ms", cfg_kafka_t, commit_interval_ms, 0, 10,
                600000, 1000),
        CFG_CHOICE_STR("auto_offset_reset", cfg_kafka_t, auto_offset_reset,
                       cfg_offset_resets, 0),
        {NULL},
};

static const cfg_opt_t cfg_topic_opts[] = {
        CFG_STR("name", cfg_topic_t, name, CFG_REQUIRED | CFG_NONEMPTY, NULL,
                "name = \"events\";"),
        CFG_STR("app_token", cfg_topic_t, app_token, CFG_NONEMPTY, NULL, NULL),
        {NULL},
};

static const cfg_opt_t cfg_delivery_opts[] = {
        CFG_INT("concurrency", cfg_delivery_t, concurrency, 0, 1, 4096, 64),
        CFG_INT("timeout_ms", cfg_delivery_t, timeout_ms, 0, 100, 600000,
                10000),
        CFG_INT("connect_timeout_ms", cfg_delivery_t, connect_timeout_ms, 0,
                100, 600000, 3000),
        CFG_CUSTOM("retry", 0, NULL),
        CFG_STR("dead_letter_topic", cfg_delivery_t, dead_letter_topic, 0, NULL,
                NULL),
        CFG_CHOICE("on_exhausted", cfg_delivery_t, on_exhausted, CFG_NODEF,
                   cfg_exhausted_names, cfg_exhausted_values, 0),
        CFG_INT("max_in_flight", cfg_delivery_t, max_in_flight, 0, 1, 1000000,
                10000),
        CFG_INT("max_in_flight_per_partition", cfg_delivery_t,
                max_in_flight_per_partition, 0, 1, 1000000, 2000),
        CFG_INT("shutdown_timeout_ms", cfg_delivery_t, shutdown_timeout_ms, 0,
                0, 3600000, 10000),
        CFG_INT("revoke_timeout_ms", cfg_delivery_t, revoke_timeout_ms, 0, 0,
                600000, 5000),
        CFG_INT("max_response_bytes", cfg_delivery_t, max_response_bytes, 0, 0,
                65536, 256),
        CFG_BOOL("https_only", cfg_delivery_t, https_only, 0),
        CFG_CUSTOM("circuit", 0, NULL),
        CFG_CUSTOM("allow_networks", 0, NULL),
        {NULL},
};

static const cfg_opt_t cfg_circuit_opts[] = {
        CFG_INT("failures", cfg_delivery_t, circuit_failures, 0, 0, 10000, 5),
        CFG_INT("open_ms", cfg_delivery_t, circuit_open_ms, 0, 100, 3600000,
                30000),
        {NULL},
};

static const cfg_opt_t cfg_tls_opts[] = {
        CFG_STR("ca_file", cfg_tls_t, ca_file, CFG_NONEMPTY, NULL, NULL),
        CFG_STR("client_cert", cfg_tls_t, client_cert, CFG_NONEMPTY, NULL,
                NULL),
        CFG_STR("client_key", cfg_tls_t, client_key, CFG_NONEMPTY, NULL, NULL),
        {NULL},
};

static const cfg_opt_t cfg_retry_opts[] = {
        CFG_INT("initial_ms", cfg_retry_t, initial_ms, 0, 1, 3600000, 500),
        CFG_INT("max_ms", cfg_retry_t, max_ms, 0, 1, 86400000, 60000),
        CFG_INT("max_attempts", cfg_retry_t, max_attempts, 0, 1, 1000, 8),
        {NULL},
};

static const cfg_opt_t cfg_webhook_opts[] = {
        CFG_CUSTOM("name", CFG_REQUIRED, "name = \"crm\";"),
        CFG_CUSTOM("url", CFG_REQUIRED, "url = \"https://example.com/hook\";"),
        CFG_BOOL("enabled", cfg_webhook_t, enabled, 1),
        CFG_CUSTOM("events", CFG_REQUIRED,
                   "events = [ \"flows.completed\" ]; (or [ \"*\" ] for "
                   "every type)"),
        CFG_CUSTOM("user_properties", 0, NULL),
        CFG_CUSTOM("company_properties", 0, NULL),
        CFG_CUSTOM("secret", 0, NULL),
        CFG_CUSTOM("secret_env", 0, NULL),
        CFG_CUSTOM("secret_file", 0, NULL),
        CFG_CUSTOM("previous_secret", 0, NULL),
        CFG_CUSTOM("previous_secret_env", 0, NULL),
        CFG_CUSTOM("previous_secret_file", 0, NULL),
        CFG_CHOICE("signature", cfg_webhook_t, signature, 0, cfg_sig_names,
                   cfg_sig_values, 0),
        CFG_CUSTOM("headers", 0, NULL),
        CFG_INT("timeout_ms", cfg_webhook_t, timeout_ms, CFG_NODEF, 100, 600000,
                0),
        CFG_CUSTOM("retry", 0, NULL),
        CFG_CUSTOM("tls", 0, NULL),
        CFG_INT("max_in_flight", cfg_webhook_t, max_in_flight, CFG_NODEF, 1,
                4096, 0),
        {NULL},
};

static const cfg_opt_t cfg_toggle_opts[] = {
        CFG_STR("type", cfg_toggle_t, type, CFG_REQUIRED | CFG_NONEMPTY, NULL,
                "type = \"nps.score\";"),
        CFG_BOOL("enabled", cfg_toggle_t, enabled, 1),
        {NULL},
};

static const cfg_opt_t cfg_mapping_opts[] = {
        CFG_STR("event", cfg_mapping_t, event, CFG_REQUIRED | CFG_NONEMPTY,
                NULL, "event = \"Trial Started\";"),
        CFG_STR("type", cfg_mapping_t, type, CFG_REQUIRED | CFG_NONEMPTY, NULL,
                "type = \"trial.started\";"),
        {NULL},
};

static const cfg_opt_t cfg_admin_opts[] = {
        CFG_STR("listen", cfg_admin_t, listen, 0, "127.0.0.1:9464", NULL),
        CFG_CUSTOM("token", 0, NULL),
        CFG_CUSTOM("token_env", 0, NULL),
        {NULL},
};

static const cfg_opt_t cfg_log_opts[] = {
        CFG_CHOICE("level", cfg_log_t, level, 0, cfg_level_names,
                   cfg_level_values, 2),
        CFG_CHOICE("format", cfg_log_t, format, 0, cfg_format_names,
                   cfg_format_values, 0),
        {NULL},
};

_Static_assert(CFG_OPTS_FIT(cfg_webhook_opts), "too many options");
_Static_assert(CFG_OPTS_FIT(cfg_delivery_opts), "too many options");
_Static_assert(CFG_OPTS_FIT(cfg_kafka_opts), "too many options");

/* librdkafka properties hookbridge sets itself. */
static const struct {
        const char *key;
        const char *fix;
} cfg_owned_props[] = {
        {"bootstrap.servers", "set kafka.brokers instead"},
        {"metadata.broker.list", "set kafka.brokers instead"},
        {"group.id", "set kafka.group_id instead"},
        {"enable.auto.commit",
         "hookbridge commits offsets itself, once deliveries are done"},
        {"enable.auto.offset.store",
         "hookbridge stores offsets itself, once deliveries are done"},
        {"auto.commit.interval.ms", "set kafka.commit_interval_ms instead"},
        {"auto.offset.reset", "set kafka.auto_offset_reset instead"},
};

/* Request headers hookbridge writes itself (SPEC section 4). */
static const char *const cfg_owned_headers[] = {
        "Host",        "Content-Type", "Content-Length",    "Transfer-Encoding",
        "User-Agent",  "webhook-id",   "webhook-timestamp", "webhook-signature",
        "X-Signature", "Expect",
};

/* --- arena ------------------------------------------------------------ */

static void *cfg_alloc(cfg_t *cfg, size_t n, size_t size)
{
        const size_t unit = sizeof(max_align_t);
        cfg_chunk_t *c = cfg->chunks;
        size_t bytes;
        void *p;

        if (size && n > SIZE_MAX / size)
                return NULL;
        bytes = n * size;
        if (bytes == 0)
                bytes = 1;
        if (bytes > SIZE_MAX - unit - sizeof(*c))
                return NULL;
        bytes = (bytes + unit - 1) / unit * unit;
        if (!c || c->cap - c->used < bytes) {
                size_t cap = bytes > CFG_CHUNK ? bytes : CFG_CHUNK;

                c = calloc(1, sizeof(*c) + cap);
                if (!c)
                        return NULL;
                c->cap = cap;
                c->next = cfg->chunks;
                cfg->chunks = c;
        }
        p = (unsigned char *)c->mem + c->used;
        c->used += bytes;
        return p;
}

static void *ld_alloc(cfg_loader_t *ld, size_t n, size_t size)
{
        void *p = cfg_alloc(ld->cfg, n, size);

        if (!p)
                ld->oom = 1;
        return p;
}

static char *ld_strndup(cfg_loader_t *ld, const char *s, size_t len)
{
        char *p = ld_alloc(ld, len + 1, 1);

        if (p) {
                memcpy(p, s, len);
                p[len] = '\0';
        }
        return p;
}

static char *ld_strdup(cfg_loader_t *ld, const char *s)
{
        return ld_strndup(ld, s, strlen(s));
}

/* --- problems --------------------------------------------------------- */

static unsigned cfg_line(const config_setting_t *s)
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
__attribute__((format(printf, 4, 0))) static void
cfg_vreport(cfg_loader_t *ld, const config_setting_t *s, int warning,
            const char *fmt, va_list ap)
{
        static const char wtag[] = "warning: ";
        char msg[sizeof(wtag) - 1 + CFG_MSG_MAX];
        const char *file = s ? config_setting_source_file(s) : NULL;
        size_t skip = warning ? sizeof(wtag) - 1 : 0;
        cfg_err_t *e;

        memcpy(msg, wtag, skip);
        vsnprintf(msg + skip, sizeof(msg) - skip, fmt, ap);
        for (char *p = msg; *p; p++) {
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = '?';
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
        e->line = cfg_line(s);
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

__attribute__((format(printf, 3, 4))) static void
cfg_report(cfg_loader_t *ld, const config_setting_t *s, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        cfg_vreport(ld, s, 0, fmt, ap);
        va_end(ap);
}

/* A problem that does not stop the configuration from loading. */
__attribute__((format(printf, 3, 4))) static void
cfg_warn(cfg_loader_t *ld, const config_setting_t *s, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        cfg_vreport(ld, s, 1, fmt, ap);
        va_end(ap);
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
static void cfg_errs_write(cfg_loader_t *ld, char *out, size_t size)
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

/* --- small helpers ---------------------------------------------------- */

static const char *cfg_type_name(const config_setting_t *s)
{
        switch (config_setting_type(s)) {
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
                return "an integer";
        case CONFIG_TYPE_FLOAT:
                return "a float";
        case CONFIG_TYPE_STRING:
                return "a string";
        case CONFIG_TYPE_BOOL:
                return "a boolean";
        case CONFIG_TYPE_ARRAY:
                return "an array [ ... ]";
        case CONFIG_TYPE_LIST:
                return "a list ( ... )";
        case CONFIG_TYPE_GROUP:
                return "a group { ... }";
        default:
                return "something else";
        }
}

static int cfg_is_seq(const config_setting_t *s)
{
        return config_setting_is_array(s) || config_setting_is_list(s);
}

static const config_setting_t *cfg_member(const config_setting_t *g,
                                          const char *name)
{
        if (!g || !config_setting_is_group(g))
                return NULL;
        return config_setting_get_member(g, name);
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
static void cfg_join(char *buf, size_t size, const char *const *names, size_t n,
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
static const char *cfg_suggest(const char *word, const char *const *cands,
                               size_t n)
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

static int cfg_word_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '_';
}

/* Kafka's rule for topic names: 1..249 of [A-Za-z0-9._-]. */
static int cfg_topic_name_ok(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > CFG_TOPIC_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
                return 0;
        for (; *s; s++) {
                if (!cfg_word_char(*s) && *s != '.' && *s != '-')
                        return 0;
        }
        return 1;
}

/* "word.word": what a webhook type looks like. */
static int cfg_type_name_ok(const char *s)
{
        const char *dot = strchr(s, '.');

        if (!dot || dot == s || !dot[1] || strchr(dot + 1, '.'))
                return 0;
        for (; *s; s++) {
                if (*s != '.' && !cfg_word_char(*s))
                        return 0;
        }
        return 1;
}

/* RFC 9110 token characters (header names). */
static int cfg_tchar(char c)
{
        return cfg_word_char(c) || (c && strchr("!#$%&'*+-.^`|~", c));
}

/* --- the options table at work ---------------------------------------- */

static uint32_t cfg_opt_bit(const cfg_opt_t *opts, const char *name)
{
        for (size_t i = 0; opts[i].name; i++) {
                if (!strcmp(opts[i].name, name))
                        return UINT32_C(1) << i;
        }
        return 0;
}

static void cfg_report_unknown(cfg_loader_t *ld, const config_setting_t *m,
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

/* Parse one present setting \p m of option \p o into \p rec.
 * @returns 0 when it is valid, -1 (reported) otherwise. */
static int cfg_opt_parse(cfg_loader_t *ld, const config_setting_t *m,
                         const cfg_scope_t *sc, const cfg_opt_t *o, void *rec)
{
        unsigned char *field = (unsigned char *)rec + o->off;
        char list[256];
        const char *s;
        long long v;
        size_t i;

        switch (o->kind) {
        case CFG_OPT_INT:
                if (config_setting_type(m) == CONFIG_TYPE_INT)
                        v = config_setting_get_int(m);
                else if (config_setting_type(m) == CONFIG_TYPE_INT64)
                        v = config_setting_get_int64(m);
                else {
                        cfg_report(ld, m, "%s%s: expected an integer, got %s",
                                   sc->prefix, o->name, cfg_type_name(m));
                        return -1;
                }
                if (v < o->min || v > o->max) {
                        cfg_report(ld, m,
                                   "%s%s: %lld is out of range; use a value "
                                   "from %lld to %lld",
                                   sc->prefix, o->name, v, o->min, o->max);
                        return -1;
                }
                *(int *)(void *)field = (int)v;
                return 0;
        case CFG_OPT_BOOL:
                if (config_setting_type(m) != CONFIG_TYPE_BOOL) {
                        cfg_report(ld, m,
                                   "%s%s: expected true or false, got %s",
                                   sc->prefix, o->name, cfg_type_name(m));
                        return -1;
                }
                *(int *)(void *)field = config_setting_get_bool(m) ? 1 : 0;
                return 0;
        case CFG_OPT_STR:
                s = config_setting_get_string(m);
                if (!s) {
                        cfg_report(ld, m, "%s%s: expected a string, got %s",
                                   sc->prefix, o->name, cfg_type_name(m));
                        return -1;
                }
                if (!*s && (o->flags & CFG_NONEMPTY)) {
                        cfg_report(ld, m, "%s%s: must not be empty", sc->prefix,
                                   o->name);
                        return -1;
                }
                *(const char **)(void *)field = ld_strdup(ld, s);
                return 0;
        case CFG_OPT_CHOICE:
        case CFG_OPT_CHOICE_STR:
                cfg_join(list, sizeof(list), o->choices, SIZE_MAX, "\"");
                s = config_setting_get_string(m);
                if (!s) {
                        cfg_report(ld, m, "%s%s: expected one of %s, got %s",
                                   sc->prefix, o->name, list, cfg_type_name(m));
                        return -1;
                }
                for (i = 0; o->choices[i]; i++) {
                        if (!strcmp(s, o->choices[i]))
                                break;
                }
                if (!o->choices[i]) {
                        cfg_report(ld, m, "%s%s: \"%.64s\" is not one of %s",
                                   sc->prefix, o->name, s, list);
                        return -1;
                }
                if (o->kind == CFG_OPT_CHOICE)
                        *(int *)(void *)field = o->values[i];
                else
                        *(const char **)(void *)field = o->choices[i];
                return 0;
        case CFG_OPT_CUSTOM:
                break;
        }
        return 0;
}

static void cfg_opt_default(const cfg_opt_t *o, void *rec)
{
        unsigned char *field = (unsigned char *)rec + o->off;

        switch (o->kind) {
        case CFG_OPT_INT:
        case CFG_OPT_BOOL:
                *(int *)(void *)field = (int)o->def;
                break;
        case CFG_OPT_STR:
                *(const char **)(void *)field = o->sdef;
                break;
        case CFG_OPT_CHOICE:
                *(int *)(void *)field = o->values[o->def];
                break;
        case CFG_OPT_CHOICE_STR:
                *(const char **)(void *)field = o->choices[o->def];
                break;
        case CFG_OPT_CUSTOM:
                break;
        }
}

/*
 * Parse the settings of group \p g (NULL: absent, defaults only) that
 * \p opts describes into \p rec: unknown settings, wrong types, bounds and
 * missing required settings are reported. With \p defaults, options not
 * set (or set wrongly) get their default unless CFG_NODEF.
 *
 * @returns a bit per option (by table index) set to a valid value; the
 *          ones present but invalid go to \p *bad when not NULL.
 */
static uint32_t cfg_parse_opts(cfg_loader_t *ld, const config_setting_t *g,
                               const cfg_scope_t *sc, const cfg_opt_t *opts,
                               void *rec, int defaults, uint32_t *bad)
{
        uint32_t set = 0, wrong = 0;
        int len = g ? config_setting_length(g) : 0;

        for (int i = 0; i < len; i++) {
                const config_setting_t *m = config_setting_get_elem(g, i);
                const char *name = config_setting_name(m);
                size_t k;

                for (k = 0; opts[k].name; k++) {
                        if (!strcmp(opts[k].name, name))
                                break;
                }
                if (!opts[k].name) {
                        cfg_report_unknown(ld, m, sc, opts);
                        continue;
                }
                if (opts[k].kind == CFG_OPT_CUSTOM)
                        continue;
                if (cfg_opt_parse(ld, m, sc, &opts[k], rec) == 0)
                        set |= UINT32_C(1) << k;
                else
                        wrong |= UINT32_C(1) << k;
        }
        for (size_t k = 0; opts[k].name; k++) {
                const cfg_opt_t *o = &opts[k];

                if (set & (UINT32_C(1) << k))
                        continue;
                if (g && (o->flags & CFG_REQUIRED) &&
                    !config_setting_get_member(g, o->name)) {
                        if (o->example)
                                cfg_report(ld, g,
                                           "%s%s: required setting is "
                                           "missing; add e.g. %s",
                                           sc->prefix, o->name, o->example);
                        else
                                cfg_report(ld, g,
                                           "%s%s: required setting is missing",
                                           sc->prefix, o->name);
                }
                if (defaults && !(o->flags & CFG_NODEF) &&
                    o->kind != CFG_OPT_CUSTOM)
                        cfg_opt_default(o, rec);
        }
        if (bad)
                *bad = wrong;
        return set;
}

/* @returns \p s when it is a group, else NULL (reported when present). */
static const config_setting_t *cfg_group(cfg_loader_t *ld,
                                         const config_setting_t *s,
                                         const char *path, const char *eg)
{
        if (!s || config_setting_is_group(s))
                return s;
        cfg_report(ld, s, "%s: expected a group %s, got %s", path, eg,
                   cfg_type_name(s));
        return NULL;
}

/* @returns \p s when it is a list or array, else NULL (reported). */
static const config_setting_t *cfg_seq(cfg_loader_t *ld,
                                       const config_setting_t *s,
                                       const char *path, const char *eg)
{
        if (!s || cfg_is_seq(s))
                return s;
        cfg_report(ld, s, "%s: expected a list %s, got %s", path, eg,
                   cfg_type_name(s));
        return NULL;
}

/* The string of list element \p e, or NULL (reported). */
static const char *cfg_elem_str(cfg_loader_t *ld, const config_setting_t *e,
                                const char *path, int i)
{
        const char *s = config_setting_get_string(e);

        if (!s) {
                cfg_report(ld, e, "%s[%d]: expected a string, got %s", path, i,
                           cfg_type_name(e));
                return NULL;
        }
        if (!*s) {
                cfg_report(ld, e, "%s[%d]: must not be empty", path, i);
                return NULL;
        }
        return s;
}

/* --- retry ------------------------------------------------------------ */

/*
 * initial_ms <= max_ms, reported at whichever of the two \p g sets (\p set
 * bits), \p other saying where the value not set there comes from.
 */
static void cfg_retry_check(cfg_loader_t *ld, const config_setting_t *g,
                            const char *prefix, const cfg_retry_t *r,
                            uint32_t set, uint32_t bad, const char *other)
{
        uint32_t bi = cfg_opt_bit(cfg_retry_opts, "initial_ms");
        uint32_t bm = cfg_opt_bit(cfg_retry_opts, "max_ms");

        if ((bad & (bi | bm)) || r->initial_ms <= r->max_ms)
                return;
        if (set & bm)
                cfg_report(ld, cfg_member(g, "max_ms"),
                           "%smax_ms: %d is below initial_ms (%d%s); raise "
                           "max_ms or lower initial_ms",
                           prefix, r->max_ms, r->initial_ms,
                           (set & bi) ? "" : other);
        else
                cfg_report(ld, (set & bi) ? cfg_member(g, "initial_ms") : g,
                           "%sinitial_ms: %d is above max_ms (%d%s); lower "
                           "initial_ms or raise max_ms",
                           prefix, r->initial_ms, r->max_ms, other);
}

/* --- kafka ------------------------------------------------------------ */

static void cfg_parse_topics(cfg_loader_t *ld, const config_setting_t *s)
{
        cfg_kafka_t *k = &ld->cfg->kafka;
        cfg_topic_t *topics;
        int n;

        s = cfg_seq(ld, s, "kafka.topics",
                    "( \"events\", { name = \"x\"; app_token = \"...\"; } )");
        if (!s)
                return;
        n = config_setting_length(s);
        if (n == 0) {
                cfg_report(ld, s,
                           "kafka.topics: is empty; list at least one topic, "
                           "e.g. topics = ( \"events\" );");
                return;
        }
        topics = ld_alloc(ld, (size_t)n, sizeof(*topics));
        if (!topics)
                return;
        k->topics = topics;
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, i);
                const config_setting_t *at = e;
                cfg_topic_t t = {NULL, NULL};
                char prefix[64], where[64]; /* "kafka.topics[%d]." */
                size_t j;

                if (config_setting_type(e) == CONFIG_TYPE_STRING) {
                        t.name = ld_strdup(ld, config_setting_get_string(e));
                } else if (config_setting_is_group(e)) {
                        snprintf(prefix, sizeof(prefix), "kafka.topics[%d].",
                                 i);
                        snprintf(where, sizeof(where), "in kafka.topics[%d]",
                                 i);
                        cfg_scope_t sc = {prefix, where};
                        cfg_parse_opts(ld, e, &sc, cfg_topic_opts, &t, 1, NULL);
                        at = cfg_member(e, "name");
                } else {
                        cfg_report(ld, e,
                                   "kafka.topics[%d]: expected a topic name "
                                   "or { name = \"...\"; app_token = "
                                   "\"...\"; }, got %s",
                                   i, cfg_type_name(e));
                        continue;
                }
                if (!t.name)
                        continue;
                if (!cfg_topic_name_ok(t.name)) {
                        cfg_report(ld, at,
                                   "kafka.topics[%d]: '%.64s' is not a valid "
                                   "Kafka topic name; use 1 to 249 of "
                                   "A-Z a-z 0-9 . _ -",
                                   i, t.name);
                        continue;
                }
                for (j = 0; j < k->topic_count; j++) {
                        if (!strcmp(topics[j].name, t.name))
                                break;
                }
                if (j < k->topic_count) {
                        cfg_report(ld, at,
                                   "kafka.topics[%d]: topic '%s' is listed "
                                   "twice; keep one entry",
                                   i, t.name);
                        continue;
                }
                topics[k->topic_count++] = t;
        }
}

/* Check one librdkafka property with librdkafka itself. */
static void cfg_check_rdkafka_prop(cfg_loader_t *ld, const config_setting_t *e,
                                   int i, const char *key, const char *value)
{
        char errstr[512];
        rd_kafka_conf_res_t res;

        if (!ld->rdconf)
                ld->rdconf = rd_kafka_conf_new();
        if (!ld->rdconf) {
                ld->oom = 1;
                return;
        }
        res = rd_kafka_conf_set(ld->rdconf, key, value, errstr, sizeof(errstr));
        /* librdkafka's text may quote the value, which may be a password:
         * it is not passed on. */
        if (res == RD_KAFKA_CONF_UNKNOWN)
                cfg_report(ld, e,
                           "kafka.properties[%d]: '%s' is not a librdkafka "
                           "configuration property (see librdkafka's "
                           "CONFIGURATION.md)",
                           i, key);
        else if (res != RD_KAFKA_CONF_OK)
                cfg_report(ld, e,
                           "kafka.properties[%d]: librdkafka rejects the "
                           "value given for '%s'; check it against "
                           "librdkafka's CONFIGURATION.md",
                           i, key);
}

static void cfg_parse_properties(cfg_loader_t *ld, const config_setting_t *s)
{
        cfg_kafka_t *k = &ld->cfg->kafka;
        const char **names, **values;
        int n;

        s = cfg_seq(ld, s, "kafka.properties", "[ \"security.protocol=SSL\" ]");
        if (!s)
                return;
        n = config_setting_length(s);
        names = ld_alloc(ld, (size_t)n + 1, sizeof(*names));
        values = ld_alloc(ld, (size_t)n + 1, sizeof(*values));
        if (!names || !values)
                return;
        k->prop_names = names;
        k->prop_values = values;
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, i);
                const char *str = cfg_elem_str(ld, e, "kafka.properties", i);
                const char *eq;
                char *key;
                size_t j;

                if (!str)
                        continue;
                /* Never quote str: values may be passwords. */
                eq = strchr(str, '=');
                if (!eq || eq == str) {
                        cfg_report(ld, e,
                                   "kafka.properties[%d]: expected "
                                   "\"key=value\", e.g. "
                                   "\"security.protocol=SSL\"",
                                   i);
                        continue;
                }
                key = ld_strndup(ld, str, (size_t)(eq - str));
                if (!key)
                        return;
                for (j = 0; key[j]; j++) {
                        if (!cfg_word_char(key[j]) && key[j] != '.' &&
                            key[j] != '-')
                                break;
                }
                if (key[j]) {
                        cfg_report(ld, e,
                                   "kafka.properties[%d]: the key before '=' "
                                   "may only hold A-Z a-z 0-9 . _ -",
                                   i);
                        continue;
                }
                for (j = 0;
                     j < sizeof(cfg_owned_props) / sizeof(cfg_owned_props[0]);
                     j++) {
                        if (!strcmp(key, cfg_owned_props[j].key))
                                break;
                }
                if (j < sizeof(cfg_owned_props) / sizeof(cfg_owned_props[0])) {
                        cfg_report(ld, e,
                                   "kafka.properties[%d]: '%s' is set by "
                                   "hookbridge; %s",
                                   i, key, cfg_owned_props[j].fix);
                        continue;
                }
                for (j = 0; j < k->prop_count; j++) {
                        if (!strcmp(names[j], key))
                                break;
                }
                if (j < k->prop_count) {
                        cfg_report(ld, e,
                                   "kafka.properties[%d]: '%s' is set twice; "
                                   "keep one entry",
                                   i, key);
                        continue;
                }
                cfg_check_rdkafka_prop(ld, e, i, key, eq + 1);
                names[k->prop_count] = key;
                values[k->prop_count] = ld_strdup(ld, eq + 1);
                k->prop_count++;
        }
}

static void cfg_parse_kafka(cfg_loader_t *ld, const config_setting_t *g)
{
        static const cfg_scope_t sc = {"kafka.", "in kafka"};

        g = cfg_group(ld, g, "kafka", "{ brokers = \"...\"; topics = ...; }");
        cfg_parse_opts(ld, g, &sc, cfg_kafka_opts, &ld->cfg->kafka, 1, NULL);
        cfg_parse_topics(ld, cfg_member(g, "topics"));
        cfg_parse_properties(ld, cfg_member(g, "properties"));
}

/* --- delivery --------------------------------------------------------- */

static void cfg_parse_circuit(cfg_loader_t *ld, const config_setting_t *g)
{
        static const cfg_scope_t sc = {"delivery.circuit.",
                                       "in delivery.circuit"};

        g = cfg_group(ld, g, "delivery.circuit",
                      "{ failures = 5; open_ms = 30000; }");
        cfg_parse_opts(ld, g, &sc, cfg_circuit_opts, &ld->cfg->delivery, 1,
                       NULL);
}

/*
 * "a.b.c.d[/n]" or "v6[/n]": a CIDR the SSRF guard may allow; a bare
 * address stands for /32 or /128. The prefix is 1 to 3 digits only (no
 * sign or blanks, which strtol would let through), 0..32 or 0..128.
 */
int cfg_cidr_parse(const char *s, uint8_t addr[16], int *bits)
{
        char buf[64];
        const char *slash;
        size_t len;
        struct in_addr v4;
        int is4, b;

        if (!s)
                return -1;
        slash = strchr(s, '/');
        len = slash ? (size_t)(slash - s) : strlen(s);
        if (len == 0 || len >= sizeof(buf))
                return -1;
        memcpy(buf, s, len);
        buf[len] = '\0';
        memset(addr, 0, 16);
        if (inet_pton(AF_INET, buf, &v4) == 1) {
                addr[10] = addr[11] = 0xff;
                memcpy(addr + 12, &v4, 4);
                is4 = 1;
        } else if (inet_pton(AF_INET6, buf, addr) == 1) {
                is4 = 0;
        } else {
                return -1;
        }
        b = is4 ? 32 : 128;
        if (slash) {
                /* digits only: no sign, no blanks, at most three */
                const char *d = slash + 1;
                size_t n = strlen(d);

                if (n == 0 || n > 3 || strspn(d, "0123456789") != n)
                        return -1;
                b = atoi(d);
                if (b > (is4 ? 32 : 128))
                        return -1;
        }
        *bits = b + (is4 ? 96 : 0);
        return 0;
}

static void cfg_parse_networks(cfg_loader_t *ld, const config_setting_t *s)
{
        cfg_delivery_t *d = &ld->cfg->delivery;
        const char **out;
        int n;

        s = cfg_seq(ld, s, "delivery.allow_networks",
                    "[ \"127.0.0.0/8\", \"::1/128\" ]");
        if (!s)
                return;
        n = config_setting_length(s);
        out = ld_alloc(ld, (size_t)n + 1, sizeof(*out));
        if (!out)
                return;
        d->allow_networks = out;
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, i);
                const char *c =
                        cfg_elem_str(ld, e, "delivery.allow_networks", i);
                uint8_t a[16];
                int bits;

                if (!c)
                        continue;
                if (cfg_cidr_parse(c, a, &bits) != 0) {
                        cfg_report(ld, e,
                                   "delivery.allow_networks[%d]: '%.64s' is "
                                   "not a CIDR; write e.g. \"127.0.0.0/8\", "
                                   "\"10.1.2.3\" or \"::1/128\"",
                                   i, c);
                        continue;
                }
                out[d->allow_network_count++] = ld_strdup(ld, c);
        }
}

static void cfg_parse_delivery(cfg_loader_t *ld, const config_setting_t *g)
{
        static const cfg_scope_t sc = {"delivery.", "in delivery"};
        static const cfg_scope_t rsc = {"delivery.retry.", "in delivery.retry"};
        cfg_delivery_t *d = &ld->cfg->delivery;
        const config_setting_t *r, *m;
        uint32_t set, bad, rset, rbad;

        g = cfg_group(ld, g, "delivery", "{ concurrency = 64; ... }");
        set = cfg_parse_opts(ld, g, &sc, cfg_delivery_opts, d, 1, &bad);

        r = cfg_group(ld, cfg_member(g, "retry"), "delivery.retry",
                      "{ initial_ms = 500; max_ms = 60000; max_attempts = 8; "
                      "}");
        rset = cfg_parse_opts(ld, r, &rsc, cfg_retry_opts, &d->retry, 1, &rbad);
        cfg_retry_check(ld, r, rsc.prefix, &d->retry, rset, rbad,
                        ", the default");
        cfg_parse_circuit(ld, cfg_member(g, "circuit"));
        cfg_parse_networks(ld, cfg_member(g, "allow_networks"));

        m = cfg_member(g, "dead_letter_topic");
        if (d->dead_letter_topic && !*d->dead_letter_topic)
                d->dead_letter_topic = NULL; /* "" written for "none" */
        if (d->dead_letter_topic) {
                const cfg_kafka_t *k = &ld->cfg->kafka;

                if (!cfg_topic_name_ok(d->dead_letter_topic)) {
                        cfg_report(ld, m,
                                   "delivery.dead_letter_topic: '%.64s' is "
                                   "not a valid Kafka topic name; use 1 to "
                                   "249 of A-Z a-z 0-9 . _ -",
                                   d->dead_letter_topic);
                }
                for (size_t i = 0; i < k->topic_count; i++) {
                        if (!strcmp(k->topics[i].name, d->dead_letter_topic))
                                cfg_report(ld, m,
                                           "delivery.dead_letter_topic: '%s' "
                                           "is also in kafka.topics; "
                                           "dead letters would be consumed "
                                           "again, use a topic of its own",
                                           d->dead_letter_topic);
                }
        }

        m = cfg_member(g, "on_exhausted");
        if (set & cfg_opt_bit(cfg_delivery_opts, "on_exhausted")) {
                if (d->on_exhausted == CFG_EXHAUSTED_DEAD_LETTER &&
                    !d->dead_letter_topic)
                        cfg_report(ld, m,
                                   "delivery.on_exhausted: \"dead_letter\" "
                                   "needs delivery.dead_letter_topic; set "
                                   "one, or choose \"retry\" or \"drop\"");
        } else {
                d->on_exhausted = d->dead_letter_topic
                                          ? CFG_EXHAUSTED_DEAD_LETTER
                                          : CFG_EXHAUSTED_RETRY;
        }

        if (!(bad & (cfg_opt_bit(cfg_delivery_opts, "max_in_flight") |
                     cfg_opt_bit(cfg_delivery_opts,
                                 "max_in_flight_per_partition"))) &&
            d->max_in_flight_per_partition > d->max_in_flight) {
                m = cfg_member(g, "max_in_flight_per_partition");
                cfg_report(ld, m ? m : cfg_member(g, "max_in_flight"),
                           "delivery.max_in_flight_per_partition: %d is "
                           "above max_in_flight (%d); lower it or raise "
                           "max_in_flight",
                           d->max_in_flight_per_partition, d->max_in_flight);
        }
}

/* --- mappings --------------------------------------------------------- */

static void cfg_parse_mappings(cfg_loader_t *ld, const config_setting_t *s)
{
        cfg_t *cfg = ld->cfg;
        int n;

        ld->types = ld_alloc(ld,
                             hb_type_count() +
                                     (s && cfg_is_seq(s)
                                              ? (size_t)config_setting_length(s)
                                              : 0),
                             sizeof(*ld->types));
        if (!ld->types)
                return;
        /* the built-in types of SPEC section 2 (common/hb_types.c) */
        for (size_t i = 0; i < hb_type_count(); i++)
                ld->types[ld->type_count++] = hb_type_at(i)->type;

        s = cfg_seq(ld, s, "mappings",
                    "( { event = \"Trial Started\"; type = "
                    "\"trial.started\"; } )");
        if (!s)
                return;
        n = config_setting_length(s);
        cfg->mappings = ld_alloc(ld, (size_t)n, sizeof(*cfg->mappings));
        if (!cfg->mappings)
                return;
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, i);
                cfg_mapping_t mp = {NULL, NULL};
                char prefix[64], where[64]; /* "mappings[%d]." */
                uint32_t set;
                size_t j;

                if (!config_setting_is_group(e)) {
                        cfg_report(ld, e,
                                   "mappings[%d]: expected { event = "
                                   "\"...\"; type = \"word.word\"; }, got %s",
                                   i, cfg_type_name(e));
                        continue;
                }
                snprintf(prefix, sizeof(prefix), "mappings[%d].", i);
                snprintf(where, sizeof(where), "in mappings[%d]", i);
                cfg_scope_t sc = {prefix, where};
                set = cfg_parse_opts(ld, e, &sc, cfg_mapping_opts, &mp, 1,
                                     NULL);
                if (set != (cfg_opt_bit(cfg_mapping_opts, "event") |
                            cfg_opt_bit(cfg_mapping_opts, "type")))
                        continue;
                if (!cfg_type_name_ok(mp.type)) {
                        cfg_report(ld, cfg_member(e, "type"),
                                   "mappings[%d].type: '%.64s' is not a "
                                   "webhook type; write it as word.word, "
                                   "e.g. \"trial.started\"",
                                   i, mp.type);
                        continue;
                }
                for (j = 0; j < cfg->mapping_count; j++) {
                        if (!strcmp(cfg->mappings[j].event, mp.event))
                                break;
                }
                if (j < cfg->mapping_count) {
                        cfg_report(ld, cfg_member(e, "event"),
                                   "mappings[%d].event: '%.64s' is mapped "
                                   "twice; keep one entry",
                                   i, mp.event);
                        continue;
                }
                cfg->mappings[cfg->mapping_count++] = mp;
                for (j = 0; j < ld->type_count; j++) {
                        if (!strcmp(ld->types[j], mp.type))
                                break;
                }
                if (j == ld->type_count)
                        ld->types[ld->type_count++] = mp.type;
        }
}

/* --- webhooks --------------------------------------------------------- */

/* One webhook being parsed: names for messages. */
typedef struct cfg_wh_ctx_s {
        const config_setting_t *g;
        char who[CFG_WHO_MAX];        /* "webhook 'crm'" or "webhooks[2]" */
        char prefix[CFG_WHO_MAX + 2]; /* who + " " */
} cfg_wh_ctx_t;

static int cfg_type_known(const cfg_loader_t *ld, const char *type)
{
        for (size_t i = 0; i < ld->type_count; i++) {
                if (!strcmp(ld->types[i], type))
                        return 1;
        }
        return 0;
}

/* An unknown webhook type: the likely one, else every known one. */
static void cfg_report_type(cfg_loader_t *ld, const config_setting_t *at,
                            const char *path, int i, const char *type)
{
        const char *hint = cfg_suggest(type, ld->types, ld->type_count);
        char known[1024];

        if (hint) {
                cfg_report(ld, at,
                           "%s[%d]: unknown webhook type '%.64s'; did you "
                           "mean '%s'?",
                           path, i, type, hint);
                return;
        }
        cfg_join(known, sizeof(known), ld->types, ld->type_count, "");
        cfg_report(ld, at,
                   "%s[%d]: unknown webhook type '%.64s'; known: *, %s "
                   "(more can be added under mappings)",
                   path, i, type, known);
}

/*
 * events: strings switch a type on, { type; enabled = false; } switches it
 * off, "*" is every type. The record keeps only what is switched on: when
 * "*" is on and some types are off, "*" is written out as every known type
 * (built-in + mappings) but those, which is exactly what
 * cfg_webhook_wants() then answers for every type the transformer can
 * produce.
 */
static void cfg_parse_events(cfg_loader_t *ld, cfg_wh_ctx_t *w,
                             cfg_webhook_t *wh)
{
        const config_setting_t *s = cfg_member(w->g, "events");
        struct {
                const char *type;
                int on;
                const config_setting_t *at;
        } * ent;
        size_t count = 0, out_n = 0, off_n = 0;
        char path[CFG_PATH_MAX];
        const char **out;
        int n, star = 0;

        snprintf(path, sizeof(path), "%sevents", w->prefix);
        s = cfg_seq(ld, s, path,
                    "( \"flows.completed\", { type = \"nps.score\"; enabled "
                    "= false; } )");
        if (!s)
                return;
        n = config_setting_length(s);
        if (n == 0) {
                cfg_report(ld, s,
                           "%s: is empty; list the webhook types to send, "
                           "e.g. [ \"flows.completed\" ], or [ \"*\" ] for "
                           "every type",
                           path);
                return;
        }
        ent = ld_alloc(ld, (size_t)n, sizeof(*ent));
        if (!ent)
                return;
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, i);
                const config_setting_t *at = e;
                cfg_toggle_t t = {NULL, 1};
                size_t j;

                if (config_setting_type(e) == CONFIG_TYPE_STRING) {
                        t.type = config_setting_get_string(e);
                        if (!*t.type) {
                                cfg_report(ld, e, "%s[%d]: must not be empty",
                                           path, i);
                                continue;
                        }
                } else if (config_setting_is_group(e)) {
                        char prefix[CFG_ELEM_MAX];
                        char in[CFG_ELEM_MAX];
                        cfg_scope_t sc = {prefix, in};

                        snprintf(prefix, sizeof(prefix), "%s[%d].", path, i);
                        snprintf(in, sizeof(in), "in %s[%d]", path, i);
                        if (!(cfg_parse_opts(ld, e, &sc, cfg_toggle_opts, &t, 1,
                                             NULL) &
                              cfg_opt_bit(cfg_toggle_opts, "type")))
                                continue;
                        at = cfg_member(e, "type");
                } else {
                        cfg_report(ld, e,
                                   "%s[%d]: expected a webhook type or { type "
                                   "= \"...\"; enabled = false; }, got %s",
                                   path, i, cfg_type_name(e));
                        continue;
                }
                if (strcmp(t.type, "*") && !cfg_type_known(ld, t.type)) {
                        cfg_report_type(ld, at, path, i, t.type);
                        continue;
                }
                for (j = 0; j < count; j++) {
                        if (!strcmp(ent[j].type, t.type))
                                break;
                }
                if (j < count) {
                        cfg_report(ld, at,
                                   "%s[%d]: '%s' is listed twice (first at "
                                   "line %u); keep one entry",
                                   path, i, t.type, cfg_line(ent[j].at));
                        continue;
                }
                ent[count].type = t.type;
                ent[count].on = t.enabled;
                ent[count].at = at;
                count++;
                if (!strcmp(t.type, "*"))
                        star = t.enabled;
                else if (!t.enabled)
                        off_n++;
        }

        out = ld_alloc(ld, ld->type_count + count + 1, sizeof(*out));
        if (!out)
                return;
        if (star && off_n == 0) {
                out[out_n++] = "*";
        } else if (star) {
                for (size_t i = 0; i < ld->type_count; i++) {
                        size_t j;

                        for (j = 0; j < count; j++) {
                                if (!ent[j].on &&
                                    !strcmp(ent[j].type, ld->types[i]))
                                        break;
                        }
                        if (j == count)
                                out[out_n++] = ld->types[i];
                }
        } else {
                for (size_t i = 0; i < count; i++) {
                        if (ent[i].on)
                                out[out_n++] = ent[i].type;
                }
        }
        for (size_t i = 0; i < out_n; i++) {
                out[i] = ld_strdup(ld, out[i]);
                if (!out[i])
                        return;
        }
        wh->events = out;
        wh->event_count = out_n;
}

static size_t cfg_parse_props(cfg_loader_t *ld, cfg_wh_ctx_t *w,
                              const char *name, const char *const **outp)
{
        const config_setting_t *s = cfg_member(w->g, name);
        char path[CFG_PATH_MAX];
        const char **out;
        size_t count = 0;
        int n;

        snprintf(path, sizeof(path), "%s%s", w->prefix, name);
        s = cfg_seq(ld, s, path, "[ \"plan\", \"role\" ]");
        if (!s)
                return 0;
        n = config_setting_length(s);
        out = ld_alloc(ld, (size_t)n + 1, sizeof(*out));
        if (!out)
                return 0;
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, i);
                const char *p = cfg_elem_str(ld, e, path, i);
                size_t j;

                if (!p)
                        continue;
                for (j = 0; j < count; j++) {
                        if (!strcmp(out[j], p))
                                break;
                }
                if (j < count) {
                        cfg_report(ld, e,
                                   "%s[%d]: '%.64s' is listed twice; keep one "
                                   "entry",
                                   path, i, p);
                        continue;
                }
                out[count++] = ld_strdup(ld, p);
        }
        *outp = out;
        return count;
}

/* Standard base64, '=' padding optional: what wh_key_new() accepts. */
static int cfg_base64_ok(const char *s)
{
        size_t n = strlen(s), pad = 0;

        while (n > 0 && s[n - 1] == '=') {
                n--;
                pad++;
        }
        if (n == 0 || pad > 2 || n % 4 == 1)
                return 0;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (!cfg_word_char(c) && c != '+' && c != '/')
                        return 0;
                if (c == '_')
                        return 0;
        }
        return 1;
}

/*
 * Warn when a file holding a secret (\p what: the setting naming it) can
 * be read or written by users other than its owner. \p mode: its
 * st_mode. Only the path is shown, never the content.
 */
static void cfg_warn_mode(cfg_loader_t *ld, const config_setting_t *at,
                          const char *prefix, const char *what,
                          const char *path, mode_t mode)
{
        if (mode & 077)
                cfg_warn(ld, at,
                         "%s%s '%.256s' is readable by other users (mode "
                         "%04o); chmod 600 it",
                         prefix, what, path, (unsigned)(mode & 07777));
}

/*
 * Read a secret file: the whole content, trailing CR/LF stripped. The
 * buffer holding it is wiped before it is freed. \p *mode: the file's
 * st_mode (0 when unknown).
 * @returns the secret in the arena, or NULL with *why set (errno text or
 *          a reason); never the content.
 */
static const char *cfg_read_secret_file(cfg_loader_t *ld, const char *path,
                                        const char **why, mode_t *mode)
{
        char *buf = NULL;
        const char *out = NULL;
        struct stat st;
        size_t len = 0;
        FILE *fp;

        *mode = 0;
        fp = fopen(path, "re");
        if (!fp) {
                *why = strerror(errno);
                return NULL;
        }
        if (fstat(fileno(fp), &st) == 0) {
                if (S_ISDIR(st.st_mode)) {
                        *why = "is a directory";
                        goto err;
                }
                *mode = st.st_mode;
        }
        buf = malloc(CFG_SECRET_FILE_MAX + 1);
        if (!buf) {
                ld->oom = 1;
                *why = "out of memory";
                goto err;
        }
        len = fread(buf, 1, CFG_SECRET_FILE_MAX + 1, fp);
        if (ferror(fp)) {
                *why = "read error";
                goto err;
        }
        if (len > CFG_SECRET_FILE_MAX) {
                *why = "is larger than 64 KiB";
                goto err;
        }
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
                len--;
        if (len == 0) {
                *why = "is empty";
                goto err;
        }
        if (memchr(buf, '\0', len)) {
                *why = "holds a NUL byte";
                goto err;
        }
        out = ld_strndup(ld, buf, len);
        if (!out)
                *why = "out of memory";
err:
        if (buf) {
                explicit_bzero(buf, CFG_SECRET_FILE_MAX + 1);
                free(buf);
        }
        fclose(fp);
        return out;
}

static int cfg_env_name_ok(const char *s)
{
        if (!*s || (*s >= '0' && *s <= '9'))
                return 0;
        for (; *s; s++) {
                if (!cfg_word_char(*s))
                        return 0;
        }
        return 1;
}

/*
 * One secret given one of three ways: names[0] (in the file), names[1]
 * (environment variable), names[2] (file). Never quotes the secret.
 * @returns the secret (arena) or NULL; *atp: the setting it came from.
 */
static const char *cfg_parse_secret(cfg_loader_t *ld, cfg_wh_ctx_t *w,
                                    const char *const names[3],
                                    const config_setting_t **atp)
{
        const config_setting_t *m[3], *at = NULL;
        const char *s, *secret = NULL, *why = NULL;
        int count = 0, which = -1;
        mode_t mode;

        *atp = NULL;
        for (int i = 0; i < 3; i++) {
                m[i] = cfg_member(w->g, names[i]);
                if (m[i]) {
                        count++;
                        if (!at || cfg_line(m[i]) >= cfg_line(at))
                                at = m[i];
                        which = i;
                }
        }
        if (count == 0)
                return NULL;
        *atp = at;
        if (count > 1) {
                cfg_report(ld, at, "%s%s: set only one of %s, %s and %s",
                           w->prefix, config_setting_name(at), names[0],
                           names[1], names[2]);
                return NULL;
        }
        s = config_setting_get_string(at);
        if (!s) {
                cfg_report(ld, at, "%s%s: expected a string, got %s", w->prefix,
                           names[which], cfg_type_name(at));
                return NULL;
        }
        if (!*s) {
                cfg_report(ld, at,
                           "%s%s: must not be empty; remove it to send "
                           "unsigned requests",
                           w->prefix, names[which]);
                return NULL;
        }
        switch (which) {
        case 0:
                secret = s;
                break;
        case 1:
                if (!cfg_env_name_ok(s)) {
                        cfg_report(ld, at,
                                   "%s%s: '%.64s' is not an environment "
                                   "variable name; use A-Z a-z 0-9 _",
                                   w->prefix, names[which], s);
                        return NULL;
                }
                secret = getenv(s);
                if (!secret) {
                        cfg_report(ld, at,
                                   "%s%s: environment variable %s is not "
                                   "set; export it before starting "
                                   "hookbridge",
                                   w->prefix, names[which], s);
                        return NULL;
                }
                if (!*secret) {
                        cfg_report(ld, at,
                                   "%s%s: environment variable %s is empty",
                                   w->prefix, names[which], s);
                        return NULL;
                }
                break;
        case 2:
                secret = cfg_read_secret_file(ld, s, &why, &mode);
                if (!secret) {
                        cfg_report(ld, at, "%s%s: cannot use '%.256s': %s",
                                   w->prefix, names[which], s, why);
                        return NULL;
                }
                cfg_warn_mode(ld, at, w->prefix, names[which], s, mode);
                break;
        }
        if (!strncmp(secret, "whsec_", 6) && !cfg_base64_ok(secret + 6)) {
                cfg_report(ld, at,
                           "%s%s: the secret starts with \"whsec_\" but the "
                           "rest is not valid base64",
                           w->prefix, names[which]);
                return NULL;
        }
        return which == 2 ? secret : ld_strdup(ld, secret);
}

static void cfg_parse_secrets(cfg_loader_t *ld, cfg_wh_ctx_t *w,
                              cfg_webhook_t *wh)
{
        static const char *const cur[3] = {"secret", "secret_env",
                                           "secret_file"};
        static const char *const prev[3] = {"previous_secret",
                                            "previous_secret_env",
                                            "previous_secret_file"};
        const config_setting_t *cur_at, *prev_at;

        wh->secret = cfg_parse_secret(ld, w, cur, &cur_at);
        wh->secret_previous = cfg_parse_secret(ld, w, prev, &prev_at);
        if (prev_at && !cur_at)
                cfg_report(ld, prev_at,
                           "%s%s: a previous secret needs a current one; add "
                           "secret, secret_env or secret_file",
                           w->prefix, config_setting_name(prev_at));
}

/*
 * A file the HTTP layer will read later: it must be readable now (it is
 * opened, not read: O_NONBLOCK so that a FIFO does not hang the load).
 * @returns its st_mode, or 0 when it is unset or not usable (reported).
 */
static mode_t cfg_check_file(cfg_loader_t *ld, const config_setting_t *at,
                             const char *what, const char *path)
{
        struct stat st;
        int fd, err;

        if (!path)
                return 0;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) != 0) {
                err = errno;
                if (fd >= 0)
                        close(fd);
                cfg_report(ld, at, "%s: cannot read '%.256s': %s", what, path,
                           strerror(err));
                return 0;
        }
        close(fd);
        if (S_ISDIR(st.st_mode)) {
                cfg_report(ld, at, "%s: cannot read '%.256s': is a directory",
                           what, path);
                return 0;
        }
        return st.st_mode;
}

static void cfg_parse_tls(cfg_loader_t *ld, cfg_wh_ctx_t *w, cfg_webhook_t *wh)
{
        const config_setting_t *g = cfg_member(w->g, "tls");
        char path[CFG_PATH_MAX], prefix[CFG_PATH_MAX], where[CFG_PATH_MAX];
        char what[CFG_PATH_MAX + 16];
        mode_t mode;

        snprintf(path, sizeof(path), "%stls", w->prefix);
        g = cfg_group(ld, g, path,
                      "{ ca_file = \"...\"; client_cert = \"...\"; "
                      "client_key = \"...\"; }");
        if (!g)
                return;
        snprintf(prefix, sizeof(prefix), "%stls.", w->prefix);
        snprintf(where, sizeof(where), "in %s tls", w->who);
        cfg_scope_t sc = {prefix, where};
        cfg_parse_opts(ld, g, &sc, cfg_tls_opts, &wh->tls, 1, NULL);
        snprintf(what, sizeof(what), "%sca_file", prefix);
        cfg_check_file(ld, cfg_member(g, "ca_file"), what, wh->tls.ca_file);
        snprintf(what, sizeof(what), "%sclient_cert", prefix);
        cfg_check_file(ld, cfg_member(g, "client_cert"), what,
                       wh->tls.client_cert);
        snprintf(what, sizeof(what), "%sclient_key", prefix);
        mode = cfg_check_file(ld, cfg_member(g, "client_key"), what,
                              wh->tls.client_key);
        /* A private key is a secret like secret_file: same warning. */
        cfg_warn_mode(ld, cfg_member(g, "client_key"), prefix, "client_key",
                      wh->tls.client_key, mode);
        if (!wh->tls.client_cert != !wh->tls.client_key)
                cfg_report(ld, g,
                           "%s: client_cert and client_key go together; "
                           "set both or neither",
                           path);
        if (wh->url && strncasecmp(wh->url, "https://", 8))
                cfg_report(ld, g,
                           "%s: TLS settings on an http:// url; use "
                           "https://",
                           path);
}

static void cfg_parse_headers(cfg_loader_t *ld, cfg_wh_ctx_t *w,
                              cfg_webhook_t *wh)
{
        const config_setting_t *s = cfg_member(w->g, "headers");
        char path[CFG_PATH_MAX];
        const char **out;
        int n;

        snprintf(path, sizeof(path), "%sheaders", w->prefix);
        s = cfg_seq(ld, s, path, "[ \"Authorization: Bearer ...\" ]");
        if (!s)
                return;
        n = config_setting_length(s);
        out = ld_alloc(ld, (size_t)n + 1, sizeof(*out));
        if (!out)
                return;
        wh->headers = out;
        /* Values are never quoted: they are often credentials. */
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, i);
                const char *h = cfg_elem_str(ld, e, path, i), *colon, *v;
                size_t nlen, j;

                if (!h)
                        continue;
                if (strpbrk(h, "\r\n")) {
                        cfg_report(ld, e,
                                   "%s[%d]: contains CR or LF; write one "
                                   "\"Name: value\" per string",
                                   path, i);
                        continue;
                }
                colon = strchr(h, ':');
                if (!colon) {
                        cfg_report(ld, e,
                                   "%s[%d]: expected \"Name: value\" (no "
                                   "':' found)",
                                   path, i);
                        continue;
                }
                nlen = (size_t)(colon - h);
                if (nlen == 0) {
                        cfg_report(ld, e,
                                   "%s[%d]: the header name before ':' is "
                                   "empty; expected \"Name: value\"",
                                   path, i);
                        continue;
                }
                for (j = 0; j < nlen && cfg_tchar(h[j]); j++)
                        ;
                if (j < nlen) {
                        cfg_report(ld, e,
                                   "%s[%d]: the header name has a character "
                                   "HTTP does not allow in names (%s at "
                                   "position %zu); use letters, digits and "
                                   "!#$%%&'*+-.^_`|~",
                                   path, i,
                                   h[j] == ' ' || h[j] == '\t' ? "a blank"
                                                               : "one",
                                   j + 1);
                        continue;
                }
                for (j = 0; j < sizeof(cfg_owned_headers) /
                                        sizeof(cfg_owned_headers[0]);
                     j++) {
                        if (strlen(cfg_owned_headers[j]) == nlen &&
                            !strncasecmp(h, cfg_owned_headers[j], nlen))
                                break;
                }
                if (j <
                    sizeof(cfg_owned_headers) / sizeof(cfg_owned_headers[0])) {
                        cfg_report(ld, e,
                                   "%s[%d]: '%.*s' is set by hookbridge; "
                                   "remove it",
                                   path, i, (int)nlen, h);
                        continue;
                }
                for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
                        ;
                if (!*v) {
                        cfg_report(ld, e, "%s[%d]: '%.*s' has an empty value",
                                   path, i, (int)nlen, h);
                        continue;
                }
                for (; *v; v++) {
                        if (((unsigned char)*v < 0x20 && *v != '\t') ||
                            *v == 0x7f)
                                break;
                }
                if (*v) {
                        cfg_report(ld, e,
                                   "%s[%d]: the value of '%.*s' holds a "
                                   "control character",
                                   path, i, (int)nlen, h);
                        continue;
                }
                out[wh->header_count++] = ld_strdup(ld, h);
        }
}

/* @returns what is wrong with \p url, or NULL. Never quotes it: URLs
 *          may carry tokens. */
static const char *cfg_url_problem(const char *url)
{
        const char *host;

        if (!strncasecmp(url, "http://", 7))
                host = url + 7;
        else if (!strncasecmp(url, "https://", 8))
                host = url + 8;
        else
                return "must start with http:// or https://";
        for (const char *p = url; *p; p++) {
                if ((unsigned char)*p <= 0x20 || *p == 0x7f)
                        return "must not hold spaces, CR/LF or other control "
                               "characters; percent-encode them";
        }
        if (!*host || strchr("/?#:", *host))
                return "has no host after the scheme";
        return NULL;
}

static void cfg_parse_webhook(cfg_loader_t *ld, const config_setting_t *g,
                              int idx, cfg_webhook_t *wh)
{
        const cfg_delivery_t *d = &ld->cfg->delivery;
        const config_setting_t *m, *r;
        cfg_wh_ctx_t w;
        const char *name;
        uint32_t set, rset, rbad;
        size_t nprops;

        w.g = g;
        m = cfg_member(g, "name");
        name = m ? config_setting_get_string(m) : NULL;
        if (name && *name)
                snprintf(w.who, sizeof(w.who), "webhook '%.*s'", CFG_NAME_MAX,
                         name);
        else
                snprintf(w.who, sizeof(w.who), "webhooks[%d]", idx);
        snprintf(w.prefix, sizeof(w.prefix), "%s ", w.who);
        wh->line = (int)cfg_line(g);

        if (m && !name) {
                cfg_report(ld, m, "%sname: expected a string, got %s", w.prefix,
                           cfg_type_name(m));
        } else if (m && !*name) {
                cfg_report(ld, m, "%sname: must not be empty", w.prefix);
        } else if (m) {
                size_t len = strlen(name), j;

                for (j = 0; j < len; j++) {
                        if (!cfg_word_char(name[j]) && name[j] != '.' &&
                            name[j] != '-')
                                break;
                }
                if (j < len || len > CFG_NAME_MAX)
                        cfg_report(ld, m,
                                   "%sname: use 1 to %d of A-Z a-z 0-9 _ . -",
                                   w.prefix, CFG_NAME_MAX);
                for (j = 0; j < ld->cfg->webhook_count; j++) {
                        const cfg_webhook_t *o = &ld->cfg->webhooks[j];

                        if (o->name && !strcmp(o->name, name))
                                break;
                }
                if (j < ld->cfg->webhook_count)
                        cfg_report(ld, m,
                                   "%sname: already used by the webhook at "
                                   "line %d; webhook names must be unique",
                                   w.prefix, ld->cfg->webhooks[j].line);
                wh->name = ld_strdup(ld, name);
        }

        char where[CFG_WHO_MAX + 4];
        snprintf(where, sizeof(where), "in %s", w.who);
        cfg_scope_t sc = {w.prefix, where};
        set = cfg_parse_opts(ld, g, &sc, cfg_webhook_opts, wh, 1, NULL);

        m = cfg_member(g, "url");
        if (m) {
                const char *url = config_setting_get_string(m), *why;

                if (!url)
                        cfg_report(ld, m, "%surl: expected a string, got %s",
                                   w.prefix, cfg_type_name(m));
                else if ((why = cfg_url_problem(url)) != NULL)
                        cfg_report(ld, m, "%surl: %s", w.prefix, why);
                else
                        wh->url = ld_strdup(ld, url);
        }

        cfg_parse_events(ld, &w, wh);

        wh->user_prop_count =
                cfg_parse_props(ld, &w, "user_properties", &wh->user_props);
        wh->company_prop_count = cfg_parse_props(ld, &w, "company_properties",
                                                 &wh->company_props);
        nprops = wh->user_prop_count + wh->company_prop_count;
        if (nprops > CFG_MAX_PROPS) {
                m = cfg_member(g, "company_properties");
                if (!m || wh->company_prop_count == 0)
                        m = cfg_member(g, "user_properties");
                cfg_report(ld, m,
                           "%s chooses %zu properties; at most %d "
                           "(user_properties + company_properties) are "
                           "allowed",
                           w.who, nprops, CFG_MAX_PROPS);
        }

        cfg_parse_secrets(ld, &w, wh);
        if ((set & cfg_opt_bit(cfg_webhook_opts, "signature")) &&
            wh->signature == CFG_SIG_USERPILOT && !wh->secret &&
            !cfg_member(g, "secret") && !cfg_member(g, "secret_env") &&
            !cfg_member(g, "secret_file"))
                cfg_report(ld, cfg_member(g, "signature"),
                           "%ssignature: \"userpilot\" needs a secret; add "
                           "secret, secret_env or secret_file",
                           w.prefix);

        cfg_parse_headers(ld, &w, wh);
        cfg_parse_tls(ld, &w, wh);
        if (d->https_only && wh->url && strncasecmp(wh->url, "https://", 8))
                cfg_report(ld, cfg_member(g, "url"),
                           "%surl: must be https:// (delivery.https_only = "
                           "true)",
                           w.prefix);
        if (!(set & cfg_opt_bit(cfg_webhook_opts, "max_in_flight")))
                wh->max_in_flight =
                        d->concurrency / 2 > 0 ? d->concurrency / 2 : 1;
        else if (wh->max_in_flight > d->concurrency)
                cfg_report(ld, cfg_member(g, "max_in_flight"),
                           "%smax_in_flight: %d is above "
                           "delivery.concurrency (%d); lower it or raise "
                           "concurrency",
                           w.prefix, wh->max_in_flight, d->concurrency);

        if (!(set & cfg_opt_bit(cfg_webhook_opts, "timeout_ms")))
                wh->timeout_ms = d->timeout_ms;

        wh->retry = d->retry;
        char rpath[CFG_PATH_MAX], rprefix[CFG_PATH_MAX], rwhere[CFG_PATH_MAX];
        snprintf(rpath, sizeof(rpath), "%sretry", w.prefix);
        snprintf(rprefix, sizeof(rprefix), "%sretry.", w.prefix);
        snprintf(rwhere, sizeof(rwhere), "in %s retry", w.who);
        r = cfg_group(ld, cfg_member(g, "retry"), rpath,
                      "{ initial_ms = ...; max_ms = ...; max_attempts = ...; "
                      "}");
        if (r) {
                cfg_scope_t rsc = {rprefix, rwhere};
                rset = cfg_parse_opts(ld, r, &rsc, cfg_retry_opts, &wh->retry,
                                      0, &rbad);
                if (rset & (cfg_opt_bit(cfg_retry_opts, "initial_ms") |
                            cfg_opt_bit(cfg_retry_opts, "max_ms")))
                        cfg_retry_check(ld, r, rprefix, &wh->retry, rset, rbad,
                                        ", from delivery.retry");
        }
}

static void cfg_parse_webhooks(cfg_loader_t *ld, const config_setting_t *s)
{
        cfg_t *cfg = ld->cfg;
        int n;

        s = cfg_seq(ld, s, "webhooks",
                    "( { name = \"crm\"; url = \"https://...\"; events = [ "
                    "\"*\" ]; } )");
        if (!s)
                return;
        n = config_setting_length(s);
        if (n == 0) {
                cfg_report(ld, s,
                           "webhooks: is empty; add at least one webhook, "
                           "e.g. ( { name = \"crm\"; url = "
                           "\"https://example.com/hook\"; events = [ \"*\" ]; "
                           "} )");
                return;
        }
        cfg->webhooks = ld_alloc(ld, (size_t)n, sizeof(*cfg->webhooks));
        if (!cfg->webhooks)
                return;
        for (int i = 0; i < n && !ld->oom; i++) {
                const config_setting_t *e = config_setting_get_elem(s, i);

                if (!config_setting_is_group(e)) {
                        cfg_report(ld, e,
                                   "webhooks[%d]: expected a group { name = "
                                   "\"...\"; url = \"...\"; ... }, got %s",
                                   i, cfg_type_name(e));
                        continue;
                }
                cfg_parse_webhook(ld, e, i, &cfg->webhooks[cfg->webhook_count]);
                cfg->webhook_count++;
        }
}

/* --- admin, log ------------------------------------------------------- */

/* "IPv4:port", "localhost:port" or "[IPv6]:port", port 1..65535: what
 * the admin listener can bind (names other than localhost are not). */
static int cfg_listen_ok(const char *s)
{
        const char *colon = strrchr(s, ':');
        unsigned char addr[16];
        char host[64];
        size_t hl;
        long port = 0;

        if (!colon || colon == s || !colon[1])
                return 0;
        for (const char *p = colon + 1; *p; p++) {
                if (*p < '0' || *p > '9' || port > 65535)
                        return 0;
                port = port * 10 + (*p - '0');
        }
        if (port < 1 || port > 65535)
                return 0;
        hl = (size_t)(colon - s);
        if (s[0] == '[') {
                if (hl < 3 || s[hl - 1] != ']' || hl - 2 >= sizeof(host))
                        return 0;
                memcpy(host, s + 1, hl - 2);
                host[hl - 2] = '\0';
                return inet_pton(AF_INET6, host, addr) == 1;
        }
        if (hl >= sizeof(host))
                return 0;
        memcpy(host, s, hl);
        host[hl] = '\0';
        return !strcmp(host, "localhost") ||
               inet_pton(AF_INET, host, addr) == 1;
}

/* admin.token or admin.token_env; never printed. */
static void cfg_parse_admin_token(cfg_loader_t *ld, const config_setting_t *g,
                                  cfg_admin_t *a)
{
        const config_setting_t *t = cfg_member(g, "token");
        const config_setting_t *te = cfg_member(g, "token_env");
        const char *v;

        if (t && te) {
                cfg_report(ld, te,
                           "admin: token and token_env both set; keep one");
                return;
        }
        if (t) {
                v = config_setting_get_string(t);
                if (!v || !*v)
                        cfg_report(ld, t,
                                   "admin.token: expected a non-empty "
                                   "string");
                else
                        a->token = ld_strdup(ld, v);
        }
        if (te) {
                const char *name = config_setting_get_string(te);
                if (!name || !*name) {
                        cfg_report(ld, te,
                                   "admin.token_env: expected the name of "
                                   "an environment variable");
                        return;
                }
                if (!cfg_env_name_ok(name)) {
                        cfg_report(ld, te,
                                   "admin.token_env: '%.64s' is not an "
                                   "environment variable name; use A-Z a-z "
                                   "0-9 _",
                                   name);
                        return;
                }
                v = getenv(name);
                if (!v || !*v)
                        cfg_report(ld, te,
                                   "admin.token_env: environment variable "
                                   "%.64s is not set or empty",
                                   name);
                else
                        a->token = ld_strdup(ld, v);
        }
}

static void cfg_parse_admin(cfg_loader_t *ld, const config_setting_t *g)
{
        static const cfg_scope_t sc = {"admin.", "in admin"};
        cfg_admin_t *a = &ld->cfg->admin;

        g = cfg_group(ld, g, "admin", "{ listen = \"127.0.0.1:9464\"; }");
        cfg_parse_opts(ld, g, &sc, cfg_admin_opts, a, 1, NULL);
        cfg_parse_admin_token(ld, g, a);
        if (a->listen && *a->listen && !cfg_listen_ok(a->listen))
                cfg_report(ld, cfg_member(g, "listen"),
                           "admin.listen: '%.64s' is not \"host:port\"; "
                           "write e.g. \"127.0.0.1:9464\", or \"\" to turn "
                           "the listener off",
                           a->listen);
}

static void cfg_parse_log(cfg_loader_t *ld, const config_setting_t *g)
{
        static const cfg_scope_t sc = {"log.", "in log"};

        g = cfg_group(ld, g, "log", "{ level = \"info\"; }");
        cfg_parse_opts(ld, g, &sc, cfg_log_opts, &ld->cfg->log, 1, NULL);
}

/* --- loading ---------------------------------------------------------- */

static void cfg_build(cfg_loader_t *ld, const config_setting_t *root)
{
        static const cfg_scope_t sc = {"", "at the top level"};

        cfg_parse_opts(ld, root, &sc, cfg_top_opts, NULL, 0, NULL);
        cfg_parse_kafka(ld, cfg_member(root, "kafka"));
        cfg_parse_delivery(ld, cfg_member(root, "delivery"));
        cfg_parse_mappings(ld, cfg_member(root, "mappings"));
        cfg_parse_webhooks(ld, cfg_member(root, "webhooks"));
        cfg_parse_admin(ld, cfg_member(root, "admin"));
        cfg_parse_log(ld, cfg_member(root, "log"));
}

/* A libconfig read failure as a problem. */
static void cfg_report_read(cfg_loader_t *ld, const config_t *lc,
                            const char *path)
{
        const char *file = config_error_file(lc);
        char msg[CFG_MSG_MAX];
        cfg_err_t *e;

        if (config_error_type(lc) == CONFIG_ERR_FILE_IO && !file) {
                /* libconfig does not say why: find out. */
                struct stat st;
                FILE *fp = NULL;
                int err = EIO;

                if (path && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
                        err = EISDIR;
                else if (path && !(fp = fopen(path, "re")))
                        err = errno;
                if (fp)
                        fclose(fp);
                snprintf(msg, sizeof(msg), "cannot read the file: %s",
                         strerror(err));
        } else {
                snprintf(msg, sizeof(msg), "%s",
                         config_error_text(lc) ? config_error_text(lc)
                                               : "syntax error");
        }
        cfg_report(ld, NULL, "%s", msg);
        if (ld->err_count > 0 && file) {
                e = &ld->errs[ld->err_count - 1];
                e->file = file;
                e->rank = strcmp(file, ld->name) != 0;
        }
        if (ld->err_count > 0 && config_error_line(lc) > 0)
                ld->errs[ld->err_count - 1].line =
                        (unsigned)config_error_line(lc);
}

static cfg_t *cfg_load_common(const char *path, const char *text,
                              const char *name, char *errstr,
                              size_t errstr_size)
{
        cfg_loader_t ld;
        config_t lc;
        cfg_t *cfg = NULL;
        int ok;

        memset(&ld, 0, sizeof(ld));
        ld.name = name;
        config_init(&lc);
        if (errstr && errstr_size > 0)
                errstr[0] = '\0';

        cfg = calloc(1, sizeof(*cfg));
        if (!cfg) {
                ld.oom = 1;
                goto err;
        }
        ld.cfg = cfg;
        cfg->path = ld_strdup(&ld, name);
        if (!cfg->path)
                goto err;

        ok = path ? config_read_file(&lc, path) : config_read_string(&lc, text);
        if (!ok) {
                cfg_report_read(&ld, &lc, path);
                goto err;
        }
        cfg_build(&ld, config_root_setting(&lc));
        if (!ld.oom && ld.err_count == ld.warn_count)
                goto out; /* loaded; what is left to say are warnings */
err:
        cfg_destroy(cfg);
        cfg = NULL;
out:
        cfg_errs_write(&ld, errstr, errstr_size);
        config_destroy(&lc);
        if (ld.rdconf)
                rd_kafka_conf_destroy(ld.rdconf);
        for (size_t i = 0; i < ld.err_count; i++)
                free(ld.errs[i].msg);
        free(ld.errs);
        return cfg;
}

cfg_t *cfg_load(const char *path, char *errstr, size_t errstr_size)
{
        if (!path || !*path) {
                if (errstr && errstr_size > 0)
                        snprintf(errstr, errstr_size,
                                 "no configuration file given");
                return NULL;
        }
        return cfg_load_common(path, NULL, path, errstr, errstr_size);
}

cfg_t *cfg_load_string(const char *text, const char *name, char *errstr,
                       size_t errstr_size)
{
        return cfg_load_common(NULL, text ? text : "",
                               name && *name ? name : "<string>", errstr,
                               errstr_size);
}

void cfg_destroy(cfg_t *cfg)
{
        cfg_chunk_t *c, *next;

        if (!cfg)
                return;
        /* The arena holds the secrets: wipe it. */
        for (c = cfg->chunks; c; c = next) {
                next = c->next;
                explicit_bzero(c->mem, c->cap);
                free(c);
        }
        free(cfg);
}

/* --- accessors -------------------------------------------------------- */

const char *cfg_path(const cfg_t *cfg)
{
        return cfg->path;
}

const cfg_kafka_t *cfg_kafka(const cfg_t *cfg)
{
        return &cfg->kafka;
}

const cfg_delivery_t *cfg_delivery(const cfg_t *cfg)
{
        return &cfg->delivery;
}

const cfg_admin_t *cfg_admin(const cfg_t *cfg)
{
        return &cfg->admin;
}

const cfg_log_t *cfg_log(const cfg_t *cfg)
{
        return &cfg->log;
}

size_t cfg_webhook_count(const cfg_t *cfg)
{
        return cfg->webhook_count;
}

const cfg_webhook_t *cfg_webhook(const cfg_t *cfg, size_t i)
{
        return i < cfg->webhook_count ? &cfg->webhooks[i] : NULL;
}

const cfg_webhook_t *cfg_webhook_find(const cfg_t *cfg, const char *name)
{
        if (!name)
                return NULL;
        for (size_t i = 0; i < cfg->webhook_count; i++) {
                if (!strcmp(cfg->webhooks[i].name, name))
                        return &cfg->webhooks[i];
        }
        return NULL;
}

int cfg_webhook_wants(const cfg_webhook_t *wh, const char *type)
{
        if (!wh || !type || !wh->enabled)
                return 0;
        for (size_t i = 0; i < wh->event_count; i++) {
                if (!strcmp(wh->events[i], "*") || !strcmp(wh->events[i], type))
                        return 1;
        }
        return 0;
}

size_t cfg_mapping_count(const cfg_t *cfg)
{
        return cfg->mapping_count;
}

const cfg_mapping_t *cfg_mapping(const cfg_t *cfg, size_t i)
{
        return i < cfg->mapping_count ? &cfg->mappings[i] : NULL;
}

const char *cfg_topic_app_token(const cfg_t *cfg, const char *topic)
{
        if (!topic)
                return NULL;
        for (size_t i = 0; i < cfg->kafka.topic_count; i++) {
                if (!strcmp(cfg->kafka.topics[i].name, topic))
                        return cfg->kafka.topics[i].app_token;
        }
        return NULL;
}
