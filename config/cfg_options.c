/* cfg_options: the option table -- every setting of the file with its type,
 * bounds, default and whether a reload (SIGHUP) applies it. */
#include "cfg_int.h"

#include <string.h>
#include <strings.h>

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

const cfg_opt_t cfg_top_opts[] = {
        CFG_CUSTOM("kafka", CFG_REQUIRED | CFG_SECTION,
                   "kafka = { brokers = \"127.0.0.1:9092\"; "
                   "topics = ( \"events\" ); };"),
        CFG_CUSTOM("delivery", CFG_SECTION, NULL),
        CFG_CUSTOM("webhooks", CFG_REQUIRED | CFG_RELOADABLE,
                   "webhooks = ( { name = \"crm\"; "
                   "url = \"https://example.com/hook\"; "
                   "events = [ \"*\" ]; } );"),
        CFG_CUSTOM("mappings", CFG_RELOADABLE, NULL),
        CFG_CUSTOM("admin", CFG_SECTION, NULL),
        CFG_CUSTOM("api", CFG_SECTION, NULL),
        CFG_CUSTOM("log", CFG_SECTION, NULL),
        {NULL},
};

const cfg_opt_t cfg_kafka_opts[] = {
        CFG_STR("brokers", cfg_kafka_t, brokers,
                CFG_REQUIRED | CFG_NONEMPTY | CFG_RESTART_ONLY, NULL,
                "brokers = \"127.0.0.1:9092\";"),
        CFG_STR("group_id", cfg_kafka_t, group_id,
                CFG_NONEMPTY | CFG_RESTART_ONLY, "hookbridge", NULL),
        CFG_CUSTOM("topics", CFG_REQUIRED | CFG_SECTION,
                   "topics = ( \"events\" );"),
        CFG_CUSTOM("properties", CFG_RESTART_ONLY, NULL),
        CFG_INT("commit_interval_ms", cfg_kafka_t, commit_interval_ms,
                CFG_RESTART_ONLY, 10, 600000, 1000),
        CFG_CHOICE_STR("auto_offset_reset", cfg_kafka_t, auto_offset_reset,
                       CFG_RESTART_ONLY, cfg_offset_resets, 0),
        CFG_BOOL("allow_code_loading", cfg_kafka_t, allow_code_loading,
                 CFG_RESTART_ONLY, 0),
        {NULL},
};

const cfg_opt_t cfg_topic_opts[] = {
        CFG_STR("name", cfg_topic_t, name,
                CFG_REQUIRED | CFG_NONEMPTY | CFG_RESTART_ONLY, NULL,
                "name = \"events\";"),
        CFG_STR("app_token", cfg_topic_t, app_token,
                CFG_NONEMPTY | CFG_RELOADABLE, NULL, NULL),
        {NULL},
};

const cfg_opt_t cfg_delivery_opts[] = {
        CFG_INT("concurrency", cfg_delivery_t, concurrency, CFG_RESTART_ONLY, 1,
                4096, 64),
        CFG_INT("timeout_ms", cfg_delivery_t, timeout_ms, CFG_RELOADABLE, 100,
                600000, 10000),
        CFG_INT("connect_timeout_ms", cfg_delivery_t, connect_timeout_ms,
                CFG_RESTART_ONLY, 100, 600000, 3000),
        CFG_CUSTOM("retry", CFG_SECTION, NULL),
        CFG_STR("dead_letter_topic", cfg_delivery_t, dead_letter_topic,
                CFG_RESTART_ONLY, NULL, NULL),
        CFG_CHOICE("on_exhausted", cfg_delivery_t, on_exhausted,
                   CFG_NODEF | CFG_RELOADABLE, cfg_exhausted_names,
                   cfg_exhausted_values, 0),
        CFG_INT("max_in_flight", cfg_delivery_t, max_in_flight,
                CFG_RESTART_ONLY, 1, 1000000, 10000),
        CFG_INT("max_in_flight_per_partition", cfg_delivery_t,
                max_in_flight_per_partition, CFG_RESTART_ONLY, 1, 1000000,
                2000),
        CFG_INT("shutdown_timeout_ms", cfg_delivery_t, shutdown_timeout_ms,
                CFG_RELOADABLE, 0, 3600000, 10000),
        CFG_INT("revoke_timeout_ms", cfg_delivery_t, revoke_timeout_ms,
                CFG_RELOADABLE, 0, 600000, 5000),
        CFG_INT("max_response_bytes", cfg_delivery_t, max_response_bytes,
                CFG_RESTART_ONLY, 0, 65536, 256),
        CFG_BOOL("https_only", cfg_delivery_t, https_only, CFG_RESTART_ONLY, 0),
        CFG_CUSTOM("circuit", CFG_SECTION, NULL),
        CFG_CUSTOM("allow_networks", CFG_RESTART_ONLY, NULL),
        /* at most WK_LOOPS_MAX (wk_loops.h); 0: the CPUs the process
         * may use (hb_cpus_available) */
        CFG_INT("threads", cfg_delivery_t, threads, CFG_RESTART_ONLY, 0, 64, 0),
        {NULL},
};

const cfg_opt_t cfg_circuit_opts[] = {
        CFG_INT("failures", cfg_delivery_t, circuit_failures, CFG_RESTART_ONLY,
                0, 10000, 5),
        CFG_INT("open_ms", cfg_delivery_t, circuit_open_ms, CFG_RESTART_ONLY,
                100, 3600000, 30000),
        {NULL},
};

const cfg_opt_t cfg_tls_opts[] = {
        CFG_STR("ca_file", cfg_tls_t, ca_file, CFG_NONEMPTY | CFG_RELOADABLE,
                NULL, NULL),
        CFG_STR("client_cert", cfg_tls_t, client_cert,
                CFG_NONEMPTY | CFG_RELOADABLE, NULL, NULL),
        CFG_STR("client_key", cfg_tls_t, client_key,
                CFG_NONEMPTY | CFG_RELOADABLE, NULL, NULL),
        {NULL},
};

const cfg_opt_t cfg_retry_opts[] = {
        CFG_INT("initial_ms", cfg_retry_t, initial_ms, CFG_RELOADABLE, 1,
                3600000, 500),
        CFG_INT("max_ms", cfg_retry_t, max_ms, CFG_RELOADABLE, 1, 86400000,
                60000),
        CFG_INT("max_attempts", cfg_retry_t, max_attempts, CFG_RELOADABLE, 1,
                1000, 8),
        {NULL},
};

/* delivery.retry: the in-worker attempts (first, in cfg_retry_opts' order,
 * so the bits of cfg_opt_bit(cfg_retry_opts, ...) hold) and the tiers
 * after them (cfg_tiers_opts, parsed by cfg_parse_delivery). */
const cfg_opt_t cfg_dretry_opts[] = {
        CFG_INT("initial_ms", cfg_retry_t, initial_ms, CFG_RELOADABLE, 1,
                3600000, 500),
        CFG_INT("max_ms", cfg_retry_t, max_ms, CFG_RELOADABLE, 1, 86400000,
                60000),
        CFG_INT("max_attempts", cfg_retry_t, max_attempts, CFG_RELOADABLE, 1,
                1000, 8),
        CFG_CUSTOM("schedule", CFG_RESTART_ONLY, NULL),
        CFG_CUSTOM("topic_prefix", CFG_RESTART_ONLY, NULL),
        CFG_CUSTOM("tier_partitions", CFG_RESTART_ONLY, NULL),
        {NULL},
};

const cfg_opt_t cfg_tiers_opts[] = {
        CFG_CUSTOM("schedule", CFG_RESTART_ONLY, NULL),
        CFG_STR("topic_prefix", cfg_tiers_t, topic_prefix,
                CFG_NONEMPTY | CFG_NODEF | CFG_RESTART_ONLY, NULL, NULL),
        CFG_INT("tier_partitions", cfg_tiers_t, partitions, CFG_RESTART_ONLY, 1,
                10000, 6),
        {NULL},
};

const cfg_opt_t cfg_webhook_opts[] = {
        CFG_CUSTOM("name", CFG_REQUIRED | CFG_RELOADABLE, "name = \"crm\";"),
        CFG_STR("app_token", cfg_webhook_t, app_token,
                CFG_NONEMPTY | CFG_RELOADABLE, NULL, NULL),
        CFG_CUSTOM("url", CFG_REQUIRED | CFG_RELOADABLE,
                   "url = \"https://example.com/hook\";"),
        CFG_BOOL("enabled", cfg_webhook_t, enabled, CFG_RELOADABLE, 1),
        CFG_CUSTOM("events", CFG_REQUIRED | CFG_RELOADABLE,
                   "events = [ \"flows.completed\" ]; (or [ \"*\" ] for "
                   "every type)"),
        CFG_CUSTOM("user_properties", CFG_RELOADABLE, NULL),
        CFG_CUSTOM("company_properties", CFG_RELOADABLE, NULL),
        CFG_CUSTOM("secret", CFG_RELOADABLE, NULL),
        CFG_CUSTOM("secret_env", CFG_RELOADABLE, NULL),
        CFG_CUSTOM("secret_file", CFG_RELOADABLE, NULL),
        CFG_CUSTOM("previous_secret", CFG_RELOADABLE, NULL),
        CFG_CUSTOM("previous_secret_env", CFG_RELOADABLE, NULL),
        CFG_CUSTOM("previous_secret_file", CFG_RELOADABLE, NULL),
        CFG_CHOICE("signature", cfg_webhook_t, signature, CFG_RELOADABLE,
                   cfg_sig_names, cfg_sig_values, 0),
        CFG_CUSTOM("headers", CFG_RELOADABLE, NULL),
        CFG_INT("timeout_ms", cfg_webhook_t, timeout_ms,
                CFG_NODEF | CFG_RELOADABLE, 100, 600000, 0),
        CFG_CUSTOM("retry", CFG_RELOADABLE, NULL),
        CFG_CUSTOM("tls", CFG_RELOADABLE, NULL),
        CFG_INT("max_in_flight", cfg_webhook_t, max_in_flight,
                CFG_NODEF | CFG_RELOADABLE, 1, 4096, 0),
        CFG_INT("rate_limit", cfg_webhook_t, rate_limit, CFG_RELOADABLE, 0,
                1000000, 0),
        {NULL},
};

const cfg_opt_t cfg_toggle_opts[] = {
        CFG_STR("type", cfg_toggle_t, type,
                CFG_REQUIRED | CFG_NONEMPTY | CFG_RELOADABLE, NULL,
                "type = \"nps.score\";"),
        CFG_BOOL("enabled", cfg_toggle_t, enabled, CFG_RELOADABLE, 1),
        {NULL},
};

const cfg_opt_t cfg_mapping_opts[] = {
        CFG_STR("event", cfg_mapping_t, event,
                CFG_REQUIRED | CFG_NONEMPTY | CFG_RELOADABLE, NULL,
                "event = \"Trial Started\";"),
        CFG_STR("type", cfg_mapping_t, type,
                CFG_REQUIRED | CFG_NONEMPTY | CFG_RELOADABLE, NULL,
                "type = \"trial.started\";"),
        {NULL},
};

const cfg_opt_t cfg_admin_opts[] = {
        CFG_STR("listen", cfg_admin_t, listen, CFG_RESTART_ONLY,
                "127.0.0.1:9464", NULL),
        CFG_CUSTOM("token", CFG_RESTART_ONLY, NULL),
        CFG_CUSTOM("token_env", CFG_RESTART_ONLY, NULL),
        CFG_BOOL("allow_open", cfg_admin_t, allow_open, CFG_RESTART_ONLY, 0),
        {NULL},
};

const cfg_opt_t cfg_log_opts[] = {
        CFG_CHOICE("level", cfg_log_t, level, CFG_RESTART_ONLY, cfg_level_names,
                   cfg_level_values, 2),
        CFG_CHOICE("format", cfg_log_t, format, CFG_RESTART_ONLY,
                   cfg_format_names, cfg_format_values, 0),
        {NULL},
};

_Static_assert(CFG_OPTS_FIT(cfg_webhook_opts), "too many options");
_Static_assert(CFG_OPTS_FIT(cfg_delivery_opts), "too many options");
_Static_assert(CFG_OPTS_FIT(cfg_kafka_opts), "too many options");

/* librdkafka properties hookbridge sets itself. */
const cfg_owned_prop_t cfg_owned_props[] = {
        {"bootstrap.servers", "set kafka.brokers instead"},
        {"metadata.broker.list", "set kafka.brokers instead"},
        {"group.id", "set kafka.group_id instead"},
        {"enable.auto.commit",
         "hookbridge commits offsets itself, once deliveries are done"},
        {"enable.auto.offset.store",
         "hookbridge stores offsets itself, once deliveries are done"},
        {"auto.commit.interval.ms", "set kafka.commit_interval_ms instead"},
        {"auto.offset.reset", "set kafka.auto_offset_reset instead"},
        /* aliases and legacy forms of the above */
        {"auto.commit.enable",
         "hookbridge commits offsets itself, once deliveries are done"},
        {"offset.store.method",
         "hookbridge commits offsets to the broker itself"},
        /* what the commit protocol needs (consumers/kc_consumer.c) */
        {"enable.partition.eof", "hookbridge's consumers set it themselves"},
        {"partition.assignment.strategy",
         "hookbridge's revoke handling needs cooperative-sticky"},
        /* the dead-letter producer's guarantee (producers/wh_dlq.c): a
         * dead letter is acknowledged by every in-sync replica, once */
        {"acks", "the dead-letter producer always uses acks=all"},
        {"request.required.acks",
         "the dead-letter producer always uses acks=all"},
        {"enable.idempotence", "the dead-letter producer is always idempotent"},
        {"message.timeout.ms",
         "the dead-letter producer retries until acknowledged (0)"},
        {"delivery.timeout.ms",
         "the dead-letter producer retries until acknowledged (0)"},
        {"transactional.id", "the dead-letter producer is not transactional"},
};
const size_t cfg_owned_prop_count =
        sizeof(cfg_owned_props) / sizeof(cfg_owned_props[0]);

/* librdkafka properties that load code or run a command: refused unless
 * kafka.allow_code_loading, and never set when the file is loaded. */
const cfg_owned_prop_t cfg_code_props[] = {
        {"plugin.library.paths", "loads the shared libraries it names"},
        {"ssl.engine.location", "loads the OpenSSL engine library it names"},
        {"ssl.engine.id", "loads an OpenSSL engine"},
        {"ssl.providers",
         "loads OpenSSL providers, which are shared libraries"},
        {"sasl.kerberos.kinit.cmd", "runs a shell command"},
};
const size_t cfg_code_prop_count =
        sizeof(cfg_code_props) / sizeof(cfg_code_props[0]);

const cfg_owned_prop_t *cfg_code_prop_find(const char *key)
{
        for (size_t i = 0; i < cfg_code_prop_count; i++) {
                if (!strcasecmp(key, cfg_code_props[i].key))
                        return &cfg_code_props[i];
        }
        return NULL;
}

const cfg_owned_prop_t *cfg_owned_prop_find(const char *key)
{
        /* librdkafka reads "topic.X" as the topic setting X, and its
         * names are matched here in any case, which can only refuse a
         * spelling librdkafka would not know. */
        if (!strncasecmp(key, "topic.", 6))
                key += 6;
        for (size_t i = 0; i < cfg_owned_prop_count; i++) {
                if (!strcasecmp(key, cfg_owned_props[i].key))
                        return &cfg_owned_props[i];
        }
        return NULL;
}

uint32_t cfg_opt_bit(const cfg_opt_t *opts, const char *name)
{
        for (size_t i = 0; opts[i].name; i++) {
                if (!strcmp(opts[i].name, name))
                        return UINT32_C(1) << i;
        }
        return 0;
}
