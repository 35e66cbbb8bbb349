/* cfg_parse: the loader -- reads the file with libconfig and turns each
 * section into the records of cfg.h, through the option table. */
#include "cfg_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "hb_types.h"

/* --- libconfig settings ---------------------------------------------- */

const char *cfg_type_name(const config_setting_t *s)
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

int cfg_is_seq(const config_setting_t *s)
{
        return config_setting_is_array(s) || config_setting_is_list(s);
}

const config_setting_t *cfg_member(const config_setting_t *g, const char *name)
{
        if (!g || !config_setting_is_group(g))
                return NULL;
        return config_setting_get_member(g, name);
}

int cfg_word_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '_';
}

/* Kafka's rule for topic names: 1..249 of [A-Za-z0-9._-]. */
int cfg_topic_name_ok(const char *s)
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

int cfg_app_token_ok(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > CFG_APP_TOKEN_MAX)
                return 0;
        for (; *s; s++) {
                if (!cfg_word_char(*s) && !strchr("-.~", *s))
                        return 0;
        }
        return 1;
}

/* --- the option table at work ----------------------------------------- */

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
uint32_t cfg_parse_opts(cfg_loader_t *ld, const config_setting_t *g,
                        const cfg_scope_t *sc, const cfg_opt_t *opts, void *rec,
                        int defaults, uint32_t *bad)
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
const config_setting_t *cfg_group(cfg_loader_t *ld, const config_setting_t *s,
                                  const char *path, const char *eg)
{
        if (!s || config_setting_is_group(s))
                return s;
        cfg_report(ld, s, "%s: expected a group %s, got %s", path, eg,
                   cfg_type_name(s));
        return NULL;
}

/* @returns \p s when it is a list or array, else NULL (reported). */
const config_setting_t *cfg_seq(cfg_loader_t *ld, const config_setting_t *s,
                                const char *path, const char *eg)
{
        if (!s || cfg_is_seq(s))
                return s;
        cfg_report(ld, s, "%s: expected a list %s, got %s", path, eg,
                   cfg_type_name(s));
        return NULL;
}

/* The string of list element \p e, or NULL (reported). */
const char *cfg_elem_str(cfg_loader_t *ld, const config_setting_t *e,
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

size_t cfg_str_list(cfg_loader_t *ld, const config_setting_t *s,
                    const char *path, const char *eg, cfg_str_check_t *check,
                    const char *const **outp)
{
        const char **out;
        size_t count = 0;
        int n;

        s = cfg_seq(ld, s, path, eg);
        if (!s)
                return 0;
        n = config_setting_length(s);
        out = ld_alloc(ld, (size_t)n + 1, sizeof(*out));
        if (!out)
                return 0;
        *outp = out;
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, i);
                const char *v = cfg_elem_str(ld, e, path, i);

                if (v && (!check || check(ld, e, path, i, v, out, count)))
                        out[count++] = ld_strdup(ld, v);
        }
        return count;
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
                if (t.app_token && !cfg_app_token_ok(t.app_token)) {
                        cfg_report(ld, cfg_member(e, "app_token"),
                                   "kafka.topics[%d].app_token: use 1 to %d "
                                   "of A-Z a-z 0-9 - . _ ~",
                                   i, CFG_APP_TOKEN_MAX);
                        continue;
                }
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

/* Check one librdkafka property with librdkafka itself. \p plugins: an
 * allowed plugin.library.paths is in the list, whose plugins may know
 * settings librdkafka does not (they are not loaded to ask them). */
static void cfg_check_rdkafka_prop(cfg_loader_t *ld, const config_setting_t *e,
                                   int i, const char *key, const char *value,
                                   int plugins)
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
        if (res == RD_KAFKA_CONF_UNKNOWN && plugins)
                cfg_warn(ld, e,
                         "kafka.properties[%d]: '%s' is not a librdkafka "
                         "configuration property; left for the plugins of "
                         "plugin.library.paths, which loading the "
                         "configuration does not load, to check",
                         i, key);
        else if (res == RD_KAFKA_CONF_UNKNOWN)
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

static const char cfg_allow_code[] =
        "hookbridge refuses it unless kafka.allow_code_loading = true (set "
        "that only if whoever can write this file may run code as "
        "hookbridge)";

/* 1 when \p key is sasl.mechanism or its alias. */
static int cfg_is_sasl_mechanism(const char *key)
{
        return !strcasecmp(key, "sasl.mechanism") ||
               !strcasecmp(key, "sasl.mechanisms");
}

/*
 * Settings that load code or run a command (cfg_code_props, GSSAPI's
 * kinit) are refused unless kafka.allow_code_loading; allowed, they are
 * still never set here: plugin.library.paths would load its libraries
 * when set. @returns 1 when \p key = \p value is such a setting (then
 * reported when refused), else 0.
 */
static int cfg_code_prop(cfg_loader_t *ld, const config_setting_t *e, int i,
                         const char *key, const char *value)
{
        const cfg_owned_prop_t *code = cfg_code_prop_find(key);
        int allow = ld->cfg->kafka.allow_code_loading;

        if (code) {
                if (!allow)
                        cfg_report(ld, e, "kafka.properties[%d]: '%s' %s; %s",
                                   i, key, code->fix, cfg_allow_code);
                return 1;
        }
        if (cfg_is_sasl_mechanism(key) && !strcasecmp(value, "GSSAPI")) {
                if (!allow)
                        cfg_report(ld, e,
                                   "kafka.properties[%d]: '%s=GSSAPI' runs "
                                   "sasl.kerberos.kinit.cmd, a shell command, "
                                   "to get Kerberos tickets; %s",
                                   i, key, cfg_allow_code);
                return 1;
        }
        return 0;
}

/* security.protocol=SASL_* with no sasl.mechanism is librdkafka's default
 * mechanism, GSSAPI, which runs kinit: refused like GSSAPI. */
static void cfg_check_sasl_default(cfg_loader_t *ld,
                                   const config_setting_t *proto_at,
                                   int proto_i, int has_mechanism)
{
        const cfg_kafka_t *k = &ld->cfg->kafka;
        const char *proto = NULL;

        if (!proto_at || has_mechanism || k->allow_code_loading)
                return;
        for (size_t j = 0; j < k->prop_count; j++) {
                if (!strcasecmp(k->prop_names[j], "security.protocol"))
                        proto = k->prop_values[j];
        }
        if (!proto || strncasecmp(proto, "SASL_", 5))
                return;
        cfg_report(ld, proto_at,
                   "kafka.properties[%d]: 'security.protocol=%.16s' with no "
                   "sasl.mechanism means GSSAPI (librdkafka's default), which "
                   "runs sasl.kerberos.kinit.cmd, a shell command; set "
                   "sasl.mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or "
                   "OAUTHBEARER), or, for Kerberos, %s",
                   proto_i, proto,
                   "kafka.allow_code_loading = true (set that only if "
                   "whoever can write this file may run code as "
                   "hookbridge)");
}

static void cfg_parse_properties(cfg_loader_t *ld, const config_setting_t *s)
{
        cfg_kafka_t *k = &ld->cfg->kafka;
        const config_setting_t *proto_at = NULL;
        const char **names, **values;
        int n, proto_i = 0, has_mechanism = 0, plugins = 0;

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
        for (int i = 0; i < n && k->allow_code_loading; i++) {
                const char *str = config_setting_get_string(
                        config_setting_get_elem(s, i));

                if (str && !strncasecmp(str, "plugin.library.paths=", 21))
                        plugins = 1;
        }
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, i);
                const char *str = cfg_elem_str(ld, e, "kafka.properties", i);
                const cfg_owned_prop_t *owned;
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
                if ((owned = cfg_owned_prop_find(key)) != NULL) {
                        cfg_report(ld, e,
                                   "kafka.properties[%d]: '%s' is set by "
                                   "hookbridge; %s",
                                   i, key, owned->fix);
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
                if (cfg_is_sasl_mechanism(key))
                        has_mechanism = 1;
                if (!strcasecmp(key, "security.protocol")) {
                        proto_at = e;
                        proto_i = i;
                }
                if (cfg_code_prop(ld, e, i, key, eq + 1)) {
                        if (!k->allow_code_loading)
                                continue;
                } else {
                        cfg_check_rdkafka_prop(ld, e, i, key, eq + 1, plugins);
                }
                names[k->prop_count] = key;
                values[k->prop_count] = ld_strdup(ld, eq + 1);
                k->prop_count++;
        }
        cfg_check_sasl_default(ld, proto_at, proto_i, has_mechanism);
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

/* An element of delivery.allow_networks: a CIDR (cfg_str_check_t). */
static int cfg_network_ok(cfg_loader_t *ld, const config_setting_t *e,
                          const char *path, int i, const char *v,
                          const char *const *kept, size_t nkept)
{
        uint8_t a[16];
        int bits;

        (void)kept;
        (void)nkept;
        if (cfg_cidr_parse(v, a, &bits) == 0)
                return 1;
        cfg_report(ld, e,
                   "%s[%d]: '%.64s' is not a CIDR; write e.g. "
                   "\"127.0.0.0/8\", \"10.1.2.3\" or \"::1/128\"",
                   path, i, v);
        return 0;
}

static void cfg_parse_networks(cfg_loader_t *ld, const config_setting_t *s)
{
        cfg_delivery_t *d = &ld->cfg->delivery;

        d->allow_network_count =
                cfg_str_list(ld, s, "delivery.allow_networks",
                             "[ \"127.0.0.0/8\", \"::1/128\" ]", cfg_network_ok,
                             &d->allow_networks);
}

/*
 * delivery.retry's tier settings (cfg_tiers_opts): the schedule, a list
 * of delays (hb_sched_parse_delay), [] for no tiers; the topic prefix and
 * the partitions of created tier topics.
 */
static void cfg_parse_tiers(cfg_loader_t *ld, const config_setting_t *r)
{
        static const cfg_scope_t rsc = {"delivery.retry.", "in delivery.retry"};
        cfg_tiers_t *t = &ld->cfg->delivery.tiers;
        const config_setting_t *s = cfg_member(r, "schedule");
        const char *items[HB_SCHED_MAX];
        char why[256];
        int n;

        for (size_t k = 0; cfg_tiers_opts[k].name; k++) {
                const cfg_opt_t *o = &cfg_tiers_opts[k];
                const config_setting_t *m = cfg_member(r, o->name);

                if (o->kind == CFG_OPT_CUSTOM)
                        continue;
                if (!m || cfg_opt_parse(ld, m, &rsc, o, t) != 0)
                        if (!(o->flags & CFG_NODEF))
                                cfg_opt_default(o, t);
        }
        if (t->topic_prefix && !cfg_topic_name_ok(t->topic_prefix))
                cfg_report(ld, cfg_member(r, "topic_prefix"),
                           "delivery.retry.topic_prefix: '%.64s' is not a "
                           "valid start of a Kafka topic name; use A-Z a-z "
                           "0-9 . _ -",
                           t->topic_prefix);
        hb_sched_default(&t->schedule);
        s = cfg_seq(ld, s, "delivery.retry.schedule",
                    "[ \"5s\", \"5m\", \"30m\", \"2h\" ]");
        if (!s)
                return;
        n = config_setting_length(s);
        if (n > HB_SCHED_MAX) {
                cfg_report(ld, s,
                           "delivery.retry.schedule: %d tiers; at most %d", n,
                           HB_SCHED_MAX);
                return;
        }
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, i);

                items[i] = cfg_elem_str(ld, e, "delivery.retry.schedule", i);
                if (!items[i])
                        return;
        }
        if (hb_sched_parse(&t->schedule, items, (size_t)n, why, sizeof(why)) !=
                    0 &&
            n > 0) {
                cfg_report(ld, s, "delivery.retry.%s", why);
                hb_sched_default(&t->schedule);
        }
        if (n == 0)
                t->schedule.n = 0;
}

static void cfg_parse_delivery(cfg_loader_t *ld, const config_setting_t *g)
{
        static const cfg_scope_t sc = {"delivery.", "in delivery"};
        static const cfg_scope_t rsc = {"delivery.retry.", "in delivery.retry"};
        cfg_delivery_t *d = &ld->cfg->delivery;
        const config_setting_t *r, *m;

        g = cfg_group(ld, g, "delivery", "{ concurrency = 64; ... }");
        ld->delivery = g;
        ld->del_set = cfg_parse_opts(ld, g, &sc, cfg_delivery_opts, d, 1,
                                     &ld->del_bad);

        r = cfg_group(ld, cfg_member(g, "retry"), "delivery.retry",
                      "{ initial_ms = 500; max_ms = 60000; max_attempts = 8; "
                      "}");
        ld->dretry = r;
        ld->dretry_set = cfg_parse_opts(ld, r, &rsc, cfg_dretry_opts, &d->retry,
                                        1, &ld->dretry_bad);
        cfg_parse_tiers(ld, r);
        cfg_parse_circuit(ld, cfg_member(g, "circuit"));
        cfg_parse_networks(ld, cfg_member(g, "allow_networks"));

        m = cfg_member(g, "dead_letter_topic");
        if (d->dead_letter_topic && !*d->dead_letter_topic)
                d->dead_letter_topic = NULL; /* "" written for "none" */
        if (d->dead_letter_topic && !cfg_topic_name_ok(d->dead_letter_topic))
                cfg_report(ld, m,
                           "delivery.dead_letter_topic: '%.64s' is not a "
                           "valid Kafka topic name; use 1 to 249 of A-Z a-z "
                           "0-9 . _ -",
                           d->dead_letter_topic);

        /* not set (or set wrongly, reported): from dead_letter_topic */
        if (!(ld->del_set & cfg_opt_bit(cfg_delivery_opts, "on_exhausted")))
                d->on_exhausted = d->dead_letter_topic
                                          ? CFG_EXHAUSTED_DEAD_LETTER
                                          : CFG_EXHAUSTED_RETRY;
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
                if (!hb_type_name_ok(mp.type)) {
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

/* --- admin, log ------------------------------------------------------- */

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
                /* never printed: it may be the token itself */
                if (!cfg_env_name_ok(name)) {
                        cfg_report(ld, te,
                                   "admin.token_env: is not an environment "
                                   "variable name; use A-Z a-z 0-9 _, not "
                                   "starting with a digit%s",
                                   cfg_secret_hint(name));
                        return;
                }
                v = getenv(name);
                if (!v || !*v)
                        cfg_report(ld, te,
                                   "admin.token_env: the environment "
                                   "variable it names is not set or empty%s",
                                   cfg_secret_hint(name));
                else
                        a->token = ld_strdup(ld, v);
        }
}

static void cfg_parse_admin(cfg_loader_t *ld, const config_setting_t *g)
{
        static const cfg_scope_t sc = {"admin.", "in admin"};
        cfg_admin_t *a = &ld->cfg->admin;
        struct sockaddr_storage ss;
        char why[128];

        g = cfg_group(ld, g, "admin", "{ listen = \"127.0.0.1:9464\"; }");
        cfg_parse_opts(ld, g, &sc, cfg_admin_opts, a, 1, NULL);
        cfg_parse_admin_token(ld, g, a);
        if (a->listen && *a->listen &&
            cfg_listen_parse(a->listen, &ss, why, sizeof(why)) == -1) {
                cfg_report(ld, cfg_member(g, "listen"),
                           "admin.listen: '%.64s' is not \"host:port\" "
                           "(%s); write e.g. \"127.0.0.1:9464\", or \"\" "
                           "to turn the listener off",
                           a->listen, why);
                return;
        }
        if (!a->listen || !*a->listen || cfg_listen_loopback(&ss) || a->token ||
            cfg_member(g, "token") || cfg_member(g, "token_env"))
                return;
        /* reachable from the network with /status and /metrics open */
        if (!a->allow_open)
                cfg_report(ld, cfg_member(g, "listen"),
                           "admin.listen: '%.64s' is not a loopback address "
                           "and the admin listener has no token, so /status "
                           "and /metrics would be open to the network; set "
                           "admin.token_env (or admin.token), or write "
                           "admin.allow_open = true; to open it without one",
                           a->listen);
        else
                a->open = 1;
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
        cfg_parse_api(ld, cfg_member(root, "api"));
        cfg_parse_webhooks(ld, cfg_member(root, "webhooks"));
        cfg_parse_admin(ld, cfg_member(root, "admin"));
        cfg_parse_log(ld, cfg_member(root, "log"));
        cfg_check_all(ld);
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
        char *buf = NULL;
        size_t len = 0;
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

        /* The main file is read here, not by libconfig: it is checked
         * (cfg_read_text) and pre-scanned as it is, then parsed from
         * that copy. */
        if (path) {
                const char *why;

                buf = cfg_read_text(path, &len, &why);
                if (!buf) {
                        cfg_report(&ld, NULL, "cannot read the file: %s", why);
                        goto err;
                }
                text = buf;
        } else {
                len = strlen(text);
        }
        if (cfg_prescan(&ld, text, len) != 0)
                goto err;
        ok = config_read_string(&lc, text);
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
        for (size_t i = 0; i < ld.name_count; i++)
                free(ld.names[i]);
        free(ld.names);
        if (buf) {
                explicit_bzero(buf, len); /* it may hold secrets */
                free(buf);
        }
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
