/* cfg: hookbridge's configuration file (libconfig), loaded and validated. */
#ifndef HB_CFG_H
#define HB_CFG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hb_sched.h"

/**
 * The loaded configuration is an opaque handle; what it describes is
 * handed out as read-only plain-data records below. Those records are
 * value descriptions (like librdkafka's rd_kafka_message_t), owned by the
 * cfg_t and valid until cfg_destroy(): no other module writes them.
 */
typedef struct cfg_s cfg_t;

/** How a delivery that exhausted its retries (or failed permanently) ends. */
typedef enum {
        CFG_EXHAUSTED_DEAD_LETTER = 0, /**< write to the dead-letter topic */
        CFG_EXHAUSTED_RETRY,           /**< keep retrying at max backoff */
        CFG_EXHAUSTED_DROP,            /**< drop it (logged, counted) */
} cfg_exhausted_t;

/** Which signature headers a webhook carries (SPEC section 4). */
typedef enum {
        CFG_SIG_STANDARD = 0, /**< webhook-id/-timestamp/-signature */
        CFG_SIG_USERPILOT,    /**< X-Signature: t=..,v1=<hex> */
} cfg_sig_t;

typedef enum {
        CFG_LOG_LOGFMT = 0,
        CFG_LOG_JSON,
} cfg_log_format_t;

typedef struct cfg_retry_s {
        int initial_ms;   /**< first backoff, >= 1 */
        int max_ms;       /**< cap on any backoff (and Retry-After) */
        int max_attempts; /**< attempts before "exhausted", >= 1 */
} cfg_retry_t;

/** The retry tiers (SPEC §4a), delivery.retry.schedule and friends. */
typedef struct cfg_tiers_s {
        hb_sched_t schedule; /**< n == 0: no tiers (in-worker retries only) */
        /** tier i's topic is "<topic_prefix>-<i>-<label>" (hb_sched_topic);
         *  default "<kafka.group_id>.retry" */
        const char *topic_prefix;
        int partitions; /**< of tier topics created when missing */
} cfg_tiers_t;

typedef struct cfg_topic_s {
        const char *name;
        const char *app_token; /**< NULL when not configured */
} cfg_topic_t;

typedef struct cfg_kafka_s {
        const char *brokers;  /**< bootstrap.servers */
        const char *group_id; /**< group.id */
        const cfg_topic_t *topics;
        size_t topic_count;
        /** librdkafka pass-through, "key=value" pairs split in two arrays */
        const char *const *prop_names;
        const char *const *prop_values;
        size_t prop_count;
        int commit_interval_ms;
        const char *auto_offset_reset; /**< "earliest" (default)/"latest" */
        /** kafka.properties may load code or run commands (plugins,
         *  OpenSSL engines and providers, Kerberos' kinit) */
        int allow_code_loading;
} cfg_kafka_t;

typedef struct cfg_delivery_s {
        int concurrency; /**< HTTP requests in flight, total */
        /** delivery loops, each with its own consumer (a member of the
         *  group), HTTP pool and share of concurrency; 0: as many as the
         *  CPUs the process may use (hb_cpus_available()) */
        int threads;
        int timeout_ms;         /**< whole request */
        int connect_timeout_ms; /**< TCP+TLS connect */
        cfg_retry_t retry;
        cfg_tiers_t tiers;             /**< after retry's in-worker attempts */
        const char *dead_letter_topic; /**< NULL: none */
        cfg_exhausted_t on_exhausted;
        int max_in_flight;               /**< messages, all partitions */
        int max_in_flight_per_partition; /**< messages, one partition */
        int shutdown_timeout_ms;
        /** on a partition's revoke, how long in-flight deliveries of that
         *  partition may finish before they are abandoned */
        int revoke_timeout_ms;
        int max_response_bytes; /**< response bytes kept for reports */
        /** circuit breaker per webhook: this many consecutive failed
         *  attempts open it for circuit_open_ms, then one probe */
        int circuit_failures; /**< 0: no circuit breaker */
        int circuit_open_ms;
        /** SSRF guard: refuse non-public addresses unless allowed */
        int https_only; /**< 1: http:// webhook urls fail the load */
        const char *const *allow_networks; /**< CIDRs, e.g. 127.0.0.0/8 */
        size_t allow_network_count;
} cfg_delivery_t;

/** TLS settings of one webhook (all optional). */
typedef struct cfg_tls_s {
        const char *ca_file;     /**< CA bundle to verify the server */
        const char *client_cert; /**< PEM client certificate (mTLS) */
        const char *client_key;  /**< PEM private key of client_cert */
} cfg_tls_t;

typedef struct cfg_webhook_s {
        const char *name; /**< unique in the file, whatever the app */
        /** the app it belongs to (SPEC §5): it receives only the events
         *  whose payload app_token is this one. NULL: an operator webhook,
         *  which receives every app's events. */
        const char *app_token;
        const char *url;
        int enabled;
        /** webhook types switched on ("*" = every type) */
        const char *const *events;
        size_t event_count;
        const char *const *user_props;
        size_t user_prop_count;
        const char *const *company_props;
        size_t company_prop_count;
        /** signing secrets as written (whsec_... or raw); NULL: unsigned.
         *  secret_previous is also signed with during a rotation. */
        const char *secret;
        const char *secret_previous;
        cfg_sig_t signature;
        /** static headers, each "Name: value" */
        const char *const *headers;
        size_t header_count;
        int timeout_ms;    /**< effective (delivery.timeout_ms unless set) */
        cfg_retry_t retry; /**< effective (delivery.retry unless set) */
        cfg_tls_t tls;
        /** requests in flight to this webhook at once (default: half of
         *  delivery.concurrency, at least 1): a slow webhook cannot take
         *  every connection */
        int max_in_flight;
        /** requests per second to this webhook for the whole deployment
         *  (SPEC §4b; each replica allows its share of the source
         *  partitions), 0: no limit */
        int rate_limit;
        int line; /**< where it is defined in the file */
        /** 1: a webhook of the store (SPEC §7), named by its id, whose
         *  metric series are shared by every such webhook (bounded);
         *  0: one of the file */
        int from_api;
} cfg_webhook_t;

/** An extra raw event name -> webhook type mapping (SPEC section 2). */
typedef struct cfg_mapping_s {
        const char *event;
        const char *type;
} cfg_mapping_t;

typedef struct cfg_admin_s {
        const char *listen; /**< "host:port", "" or NULL: disabled */
        const char *token;  /**< bearer token required, or NULL */
        int allow_open;     /**< admin.allow_open: beyond loopback, no token */
        int open; /**< listening beyond loopback without a token (allowed by
                       allow_open): the worker warns when it starts */
} cfg_admin_t;

/** The management API (SPEC §7), api.* (all restart-only). */
typedef struct cfg_api_s {
        const char *listen; /**< "host:port"; NULL: the API is off */
        /** operator bearer tokens (api.token, api.token_env,
         *  api.token_file together; several so they can be rotated) */
        const char *const *tokens;
        size_t token_count;
        const char *store_topic;      /**< default "hookbridge.webhooks" */
        int store_replication_factor; /**< 0: the broker's default */
        /** AES-256-GCM key of the stored secrets (api.secret_key_env /
         *  api.secret_key_file, base64 of 32 bytes); set whenever listen
         *  is (a load error otherwise) */
        unsigned char secret_key[32];
        int have_secret_key;
        int64_t rotation_grace_ms;   /**< rotate-secret: the old one signs
                                          this long (default 24 h) */
        int max_webhooks_per_app;    /**< default 50 */
        const char *frame_ancestors; /**< the portal's CSP, "'none'" */
        int allow_open;              /**< beyond loopback without a token */
        int open;                    /**< listening so (the worker warns) */
} cfg_api_t;

typedef struct cfg_log_s {
        int level; /**< syslog-style: 3 error, 4 warn, 6 info, 7 debug */
        cfg_log_format_t format;
} cfg_log_t;

/**
 * @brief Load and validate a configuration file.
 *
 * Every problem found is written to \p errstr, one per line, as
 * "FILE:LINE: message" (secrets never appear in messages); the buffer is
 * truncated with "..." when it is too small.
 *
 * Warnings (e.g. a secret_file or tls.client_key readable by other
 * users) are written the same way as "FILE:LINE: warning: message" but
 * do not fail the load: on success \p errstr holds the warnings, or ""
 * when there are none, so a caller should show a non-empty \p errstr
 * even when a configuration is returned. On failure the warnings are
 * listed among the errors.
 *
 * @returns the configuration, or NULL when there was any problem other
 *          than a warning.
 */
cfg_t *cfg_load(const char *path, char *errstr, size_t errstr_size);

/** @brief Load from a string (tests); \p name stands for the file name.
 *  Same \p errstr contract as cfg_load(), warnings included. */
cfg_t *cfg_load_string(const char *text, const char *name, char *errstr,
                       size_t errstr_size);

/** @brief Free (or drop a reference: see cfg_overlay_new()).
 *  cfg_destroy(NULL) is a no-op. */
void cfg_destroy(cfg_t *cfg);

/**
 * @brief A configuration that is \p base with more webhooks after the
 *        file's (the store's, SPEC §7): every setting, mapping and file
 *        webhook is \p base's, which it holds a reference to, so \p base
 *        may be cfg_destroy()ed by its owner at any time (it is freed with
 *        its last holder). Add webhooks with cfg_overlay_add(), then use
 *        it read-only like any cfg_t; cfg_destroy() it.
 * @param hint  how many webhooks will be added (room made in advance)
 * @returns it, or NULL (out of memory).
 */
cfg_t *cfg_overlay_new(cfg_t *base, size_t hint);

/** @returns \p cfg, with one more reference (each cfg_destroy() drops
 *  one; the last frees). Not for a cfg_t shared between threads. */
cfg_t *cfg_ref(cfg_t *cfg);

/**
 * @brief Add \p wh to overlay \p ov: a copy of every string, or with
 *        \p borrow of none (the caller keeps them alive and unchanged as
 *        long as the overlay lives; only the arrays of the lists are
 *        copied). Defaults from the delivery settings as for a webhook of
 *        the file: timeout_ms <= 0, retry.max_attempts <= 0 and
 *        max_in_flight <= 0 take delivery.timeout_ms, delivery.retry and
 *        half of delivery.concurrency (at least 1). Names are not checked
 *        for uniqueness: that is the caller's (cfg_webhook_find() answers
 *        the first).
 * @returns 0, or -1 (out of memory; \p ov unchanged).
 */
int cfg_overlay_add(cfg_t *ov, const cfg_webhook_t *wh, int borrow);

/** @returns the path the configuration was loaded from. */
const char *cfg_path(const cfg_t *cfg);

const cfg_kafka_t *cfg_kafka(const cfg_t *cfg);
const cfg_delivery_t *cfg_delivery(const cfg_t *cfg);
const cfg_admin_t *cfg_admin(const cfg_t *cfg);
const cfg_log_t *cfg_log(const cfg_t *cfg);
const cfg_api_t *cfg_api(const cfg_t *cfg);

/**
 * @brief Parse a listen address (admin.listen): "a.b.c.d:port",
 *        "localhost:port" (127.0.0.1) or "[IPv6]:port". Addresses are
 *        numeric, so a name never resolves to an unexpected interface;
 *        the port is 1 to 5 digits, 0 to 65535, and 0 asks the kernel
 *        for a free port (the listener then says which).
 * @returns 0 with the address (family, address, port) in \p ss, or -1
 *          with the reason in \p errstr (which may be NULL).
 */
int cfg_listen_parse(const char *s, struct sockaddr_storage *ss, char *errstr,
                     size_t errstr_size);

/** @returns 1 when \p ss (cfg_listen_parse()'s) is a loopback address:
 *  127.0.0.0/8 (localhost too), ::1 or ::ffff:127.x.y.z. */
int cfg_listen_loopback(const struct sockaddr_storage *ss);

size_t cfg_webhook_count(const cfg_t *cfg);
/** @returns webhook \p i (0-based, file order). */
const cfg_webhook_t *cfg_webhook(const cfg_t *cfg, size_t i);
/** @returns the webhook called \p name, or NULL. */
const cfg_webhook_t *cfg_webhook_find(const cfg_t *cfg, const char *name);
/** @returns 1 when \p wh is enabled and switched on for webhook \p type. */
int cfg_webhook_wants(const cfg_webhook_t *wh, const char *type);

/*
 * The rules of one webhook field (SPEC section 5), one copy for the
 * file's loader and for webhooks given as JSON (the store, the API):
 * each @returns NULL when the value is valid, else the text that follows
 * "<field>: " in a message (never quoting a URL, header value or secret).
 * The ones taking \p buf may write the text there.
 */
/** name: 1 to 128 of A-Z a-z 0-9 _ . - */
const char *cfg_rule_name(const char *name);
/** url: http(s)://host..., no control characters, as curl parses it */
const char *cfg_rule_url(const char *url);
/** one of headers: "Name: value", not one hookbridge sets */
const char *cfg_rule_header(const char *h, char *buf, size_t size);
/** secret: non-empty; "whsec_" + valid base64 when it starts so */
const char *cfg_rule_secret(const char *secret);
/** user_properties + company_properties: at most 10 together; the text
 *  follows "<webhook> " ("chooses 11 properties; ...") */
const char *cfg_rule_props(size_t nprops, char *buf, size_t size);

size_t cfg_mapping_count(const cfg_t *cfg);
const cfg_mapping_t *cfg_mapping(const cfg_t *cfg, size_t i);

/**
 * @brief The syntax of an app_token (a webhook's or a topic's): 1 to
 *        CFG_APP_TOKEN_MAX of A-Z a-z 0-9 and "-._~" (URL-unreserved, so
 *        that it can be a path segment, a metric label and a log value as
 *        it is).
 * @returns 1 when \p s is one.
 */
int cfg_app_token_ok(const char *s);
#define CFG_APP_TOKEN_MAX 128

/** @returns the configured app_token of \p topic, or NULL. */
const char *cfg_topic_app_token(const cfg_t *cfg, const char *topic);

/**
 * @brief Name the settings whose value differs between the running
 *        configuration \p old and a reloaded \p cur that a reload does not
 *        apply (RESTART_ONLY in the option table: the Kafka clients, the
 *        HTTP pool and its SSRF guard, the dead-letter producer, the admin
 *        listener, the log). A reload applies everything else: the
 *        webhooks, mappings, topic app_tokens, delivery.timeout_ms and
 *        delivery.retry (as the webhooks' defaults), on_exhausted,
 *        shutdown_timeout_ms and revoke_timeout_ms.
 *
 * \p buf gets their paths, e.g. "delivery.concurrency, kafka.brokers",
 * ("" when none; cut with "..." when it is too small). Values are never
 * written: some are secrets.
 *
 * @returns how many settings wait for a restart.
 */
size_t cfg_reload_diff(const cfg_t *old, const cfg_t *cur, char *buf,
                       size_t size);

/**
 * @brief Parse "addr" or "addr/bits" (IPv4 or IPv6; the bits digits only,
 *        at most the family's width) as delivery.allow_networks takes it.
 * @param addr  the address in IPv6 form (IPv4 as ::ffff:a.b.c.d)
 * @param bits  the prefix length in that form (IPv4 /8 gives 104)
 * @returns 0, or -1 when \p s is not such a CIDR.
 */
int cfg_cidr_parse(const char *s, uint8_t addr[16], int *bits);

#endif
