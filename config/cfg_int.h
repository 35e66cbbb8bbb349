/* cfg_int: what the files of config/ share and nothing outside reads --
 * the cfg_t's body, the loader's state and the option table's types. */
#ifndef HB_CFG_INT_H
#define HB_CFG_INT_H

#include <libconfig.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cfg.h"

#define CFG_MAX_PROPS       10    /* user + company properties (SPEC 3) */
#define CFG_NAME_MAX        128   /* webhook names */
#define CFG_TOPIC_MAX       249   /* Kafka's limit on topic names */
#define CFG_SECRET_FILE_MAX 65536 /* a secret file larger is a mistake */
#define CFG_MSG_MAX         1024  /* one message, before "FILE:LINE: " */
#define CFG_CHUNK           4096  /* arena chunk */
#define CFG_MAX_OPTS        32    /* options per group (bit masks) */
/* What the loader reads: each file at most CFG_FILE_MAX (libconfig's
 * scanner takes quadratic time over a long string: 8 MB took 23 s), all
 * of them together CFG_TOTAL_MAX, at most CFG_INCLUDE_MAX @includes in
 * all, nested at most CFG_INCLUDE_DEPTH deep (libconfig 1.5's limit). */
#define CFG_FILE_MAX      (1024 * 1024)
#define CFG_TOTAL_MAX     (4 * 1024 * 1024)
#define CFG_INCLUDE_MAX   64
#define CFG_INCLUDE_DEPTH 10
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
        cfg_api_t api;
        cfg_log_t log;
        /* an overlay (cfg_overlay.c): the configuration whose settings it
         * shares, held by a reference, and its own webhook array */
        cfg_t *parent;
        int heap_webhooks; /* webhooks is malloc()ed, not in the arena */
        size_t webhook_cap;
        _Atomic int refs; /* references besides the owner's */
};

/* One problem found while loading. */
typedef struct cfg_err_s {
        const char *file; /* libconfig's or the loader's, never freed here */
        unsigned line;
        int rank; /* 0: the main file, 1: an @include'd one */
        size_t seq;
        char *msg; /* a warning's starts with "warning: " */
} cfg_err_t;

/* One webhook being parsed: names for messages. */
typedef struct cfg_wh_ctx_s {
        const config_setting_t *g;
        char who[CFG_WHO_MAX];        /* "webhook 'crm'" or "webhooks[2]" */
        char prefix[CFG_WHO_MAX + 2]; /* who + " " */
} cfg_wh_ctx_t;

/* What the parser of one webhook leaves for the cross-field checks. */
typedef struct cfg_wh_marks_s {
        cfg_wh_ctx_t w;
        uint32_t set;                  /* cfg_webhook_opts set validly */
        const config_setting_t *retry; /* its retry group, or NULL */
        uint32_t rset, rbad;           /* cfg_retry_opts set / wrong there */
        const config_setting_t *cur_at, *prev_at; /* where secrets are */
} cfg_wh_marks_t;

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
        /* the pre-scan (cfg_prescan.c) */
        char **names; /* file names problems point to, freed at the end */
        size_t name_count;
        size_t include_count;
        size_t text_total; /* bytes of every file read */
        /* for the cross-field checks (cfg_check.c) */
        const config_setting_t *delivery, *dretry; /* the groups, or NULL */
        uint32_t del_set, del_bad;                 /* cfg_delivery_opts */
        uint32_t dretry_set, dretry_bad; /* cfg_retry_opts of delivery */
        cfg_wh_marks_t *marks;           /* one per cfg->webhooks[i] */
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
/* What a reload (SIGHUP) does with a changed value -- every option has
 * exactly one of these (redis's MODIFIABLE_CONFIG / IMMUTABLE_CONFIG):
 * the worker rebuilds its webhooks, mappings and topic tokens from the
 * new file and reads on_exhausted and the two drain timeouts from it;
 * the Kafka clients, the HTTP pool, the dead-letter producer, the admin
 * listener and the log keep what they were started with. */
#define CFG_RELOADABLE   0x08 /* a reload applies it */
#define CFG_RESTART_ONLY 0x10 /* a reload keeps the running value */
#define CFG_SECTION      0x20 /* a group: its members say */

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
#define CFG_BOOL(n, T, f, fl, d)                                  \
        {                                                         \
                .name = (n), .kind = CFG_OPT_BOOL, .flags = (fl), \
                .off = offsetof(T, f), .def = (d)                 \
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
#define CFG_CHOICE_STR(n, T, f, fl, names, d)                           \
        {                                                               \
                .name = (n), .kind = CFG_OPT_CHOICE_STR, .flags = (fl), \
                .off = offsetof(T, f), .choices = (names), .def = (d)   \
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

/* --- the option table (cfg_options.c) --------------------------------- */

extern const cfg_opt_t cfg_top_opts[], cfg_kafka_opts[], cfg_topic_opts[],
        cfg_delivery_opts[], cfg_circuit_opts[], cfg_tls_opts[],
        cfg_retry_opts[], cfg_dretry_opts[], cfg_tiers_opts[],
        cfg_webhook_opts[], cfg_toggle_opts[], cfg_mapping_opts[],
        cfg_admin_opts[], cfg_api_opts[], cfg_log_opts[];

/** librdkafka properties hookbridge sets itself, and what to do instead. */
typedef struct cfg_owned_prop_s {
        const char *key;
        const char *fix;
} cfg_owned_prop_t;
extern const cfg_owned_prop_t cfg_owned_props[];
extern const size_t cfg_owned_prop_count;
/** @returns the entry of \p key (under any spelling librdkafka takes for
 *  it: any case, "topic." prefix), or NULL. */
const cfg_owned_prop_t *cfg_owned_prop_find(const char *key);
/** librdkafka properties that load code or run a command, with what
 *  they do; @returns \p key's entry (any case), or NULL. */
const cfg_owned_prop_t *cfg_code_prop_find(const char *key);

/** @returns the bit of option \p name in \p opts (0: not there). */
uint32_t cfg_opt_bit(const cfg_opt_t *opts, const char *name);

/* --- memory (cfg.c) --------------------------------------------------- */

void *ld_alloc(cfg_loader_t *ld, size_t n, size_t size);
char *ld_strndup(cfg_loader_t *ld, const char *s, size_t len);
char *ld_strdup(cfg_loader_t *ld, const char *s);

/* --- problems (cfg_report.c) ------------------------------------------ */

unsigned cfg_line(const config_setting_t *s);
__attribute__((format(printf, 3, 4))) void
cfg_report(cfg_loader_t *ld, const config_setting_t *s, const char *fmt, ...);
__attribute__((format(printf, 3, 4))) void
cfg_warn(cfg_loader_t *ld, const config_setting_t *s, const char *fmt, ...);
/** A problem at \p file (cfg_keep_name()'s or ld->name) line \p line. */
__attribute__((format(printf, 4, 5))) void cfg_report_at(cfg_loader_t *ld,
                                                         const char *file,
                                                         unsigned line,
                                                         const char *fmt, ...);
/** A copy of \p name that lives as long as the loader's problems. */
const char *cfg_keep_name(cfg_loader_t *ld, const char *name);
void cfg_errs_write(cfg_loader_t *ld, char *out, size_t size);
void cfg_join(char *buf, size_t size, const char *const *names, size_t n,
              const char *quote);
const char *cfg_suggest(const char *word, const char *const *cands, size_t n);
void cfg_report_unknown(cfg_loader_t *ld, const config_setting_t *m,
                        const cfg_scope_t *sc, const cfg_opt_t *opts);

/* --- the loader (cfg_parse.c, cfg_webhook.c) -------------------------- */

const char *cfg_type_name(const config_setting_t *s);
int cfg_is_seq(const config_setting_t *s);
const config_setting_t *cfg_member(const config_setting_t *g, const char *name);
int cfg_word_char(char c);
int cfg_env_name_ok(const char *s);
/** " (... looks like a secret itself ...)" for a value of a setting that
 *  names where a secret is, when it does; else "". */
const char *cfg_secret_hint(const char *value);
uint32_t cfg_parse_opts(cfg_loader_t *ld, const config_setting_t *g,
                        const cfg_scope_t *sc, const cfg_opt_t *opts, void *rec,
                        int defaults, uint32_t *bad);
const config_setting_t *cfg_group(cfg_loader_t *ld, const config_setting_t *s,
                                  const char *path, const char *eg);
const config_setting_t *cfg_seq(cfg_loader_t *ld, const config_setting_t *s,
                                const char *path, const char *eg);
const char *cfg_elem_str(cfg_loader_t *ld, const config_setting_t *e,
                         const char *path, int i);

/** Checks element \p i (text \p v, setting \p e) of the list \p path
 *  that cfg_str_list() reads, given the \p nkept elements \p kept so
 *  far. @returns 1 to keep it, 0 to drop it (having
 *  reported why). */
typedef int cfg_str_check_t(cfg_loader_t *ld, const config_setting_t *e,
                            const char *path, int i, const char *v,
                            const char *const *kept, size_t nkept);

/**
 * @brief Read the list of strings at \p s (the setting \p path; \p eg
 *        shows one in the "expected a list" message) into a
 *        NULL-terminated array of copies the configuration owns, keeping
 *        each non-empty string that \p check accepts (all when NULL).
 * @returns how many were kept; the array goes into \p *outp, which is
 *          left alone when there is no list.
 */
size_t cfg_str_list(cfg_loader_t *ld, const config_setting_t *s,
                    const char *path, const char *eg, cfg_str_check_t *check,
                    const char *const **outp);
void cfg_parse_webhooks(cfg_loader_t *ld, const config_setting_t *s);

/**
 * @brief Read a file holding a secret (secret_file, api.token_file, ...):
 *        the whole content, trailing CR/LF stripped, at most
 *        CFG_SECRET_FILE_MAX bytes, no NUL; the read buffer is wiped.
 *        \p *mode: the file's st_mode (0 when unknown).
 * @returns the content in the arena, or NULL with \p *why set (never the
 *          content).
 */
const char *cfg_read_secret_file(cfg_loader_t *ld, const char *path,
                                 const char **why, mode_t *mode);
/** A warning when the file holding a secret (the setting \p prefix +
 *  \p what names it) is readable or writable by other users. */
void cfg_warn_mode(cfg_loader_t *ld, const config_setting_t *at,
                   const char *prefix, const char *what, mode_t mode);

/** api.* (cfg_api.c); before the webhooks: with the API on, the file may
 *  list none. */
void cfg_parse_api(cfg_loader_t *ld, const config_setting_t *g);

int cfg_topic_name_ok(const char *s);

/* --- before libconfig (cfg_prescan.c) --------------------------------- */

/**
 * @brief The content of the file \p path, if it is a regular file of at
 *        most CFG_FILE_MAX bytes that reads as its size says and holds no
 *        NUL byte.
 * @returns a NUL-terminated copy (free() it) and its length in \p *len,
 *          or NULL with \p *why saying why (never the content).
 */
char *cfg_read_text(const char *path, size_t *len, const char **why);

/**
 * @brief Check the text of the main file (\p len bytes, named ld->name)
 *        and of every file it @includes, the way libconfig will read
 *        them, before libconfig does: sizes, include targets (see
 *        cfg_read_text()), integers libconfig would wrap, \x00 escapes.
 * @returns 0, or -1 when a problem was reported (or out of memory).
 */
int cfg_prescan(cfg_loader_t *ld, const char *text, size_t len);

/* --- cross-field validation (cfg_check.c) ----------------------------- */

/** Every rule that ties two settings together, once all are parsed. */
void cfg_check_all(cfg_loader_t *ld);

#endif
