/* Tests for cfg_reload: the reloadable / restart-only flag of every option
 * and the changed settings a reload names as waiting for a restart. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "cfg_int.h"

static cfg_t *load(const char *text)
{
        char err[4096];
        cfg_t *cfg = cfg_load_string(text, "r.cfg", err, sizeof(err));

        cr_assert_not_null(cfg, "%s\n%s", err, text);
        return cfg;
}

/* A configuration with %s spliced into kafka, delivery, the webhook and
 * the top level. */
static cfg_t *load_with(const char *kafka, const char *delivery,
                        const char *webhook, const char *top)
{
        char text[4096];

        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"b:9092\"; topics = ( { name = "
                 "\"t\"; app_token = \"tok\"; } ); %s };\n"
                 "delivery = { %s };\n"
                 "webhooks = ( { name = \"w\"; url = "
                 "\"https://example.com/\"; events = [ \"*\" ]; %s } );\n"
                 "%s\n",
                 kafka, delivery, webhook, top);
        return load(text);
}

Test(cfg_reload, every_option_says_what_a_reload_does)
{
        static const struct {
                const char *name;
                const cfg_opt_t *opts;
        } tables[] = {
                {"top", cfg_top_opts},         {"kafka", cfg_kafka_opts},
                {"topic", cfg_topic_opts},     {"delivery", cfg_delivery_opts},
                {"circuit", cfg_circuit_opts}, {"tls", cfg_tls_opts},
                {"retry", cfg_retry_opts},     {"webhook", cfg_webhook_opts},
                {"dretry", cfg_dretry_opts},   {"tiers", cfg_tiers_opts},
                {"toggle", cfg_toggle_opts},   {"mapping", cfg_mapping_opts},
                {"admin", cfg_admin_opts},     {"log", cfg_log_opts},
        };
        const unsigned mask = CFG_RELOADABLE | CFG_RESTART_ONLY | CFG_SECTION;

        for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
                for (const cfg_opt_t *o = tables[t].opts; o->name; o++) {
                        unsigned f = o->flags & mask;
                        cr_expect(f == CFG_RELOADABLE ||
                                          f == CFG_RESTART_ONLY ||
                                          f == CFG_SECTION,
                                  "%s.%s: not exactly one of RELOADABLE, "
                                  "RESTART_ONLY, SECTION",
                                  tables[t].name, o->name);
                }
        }
}

Test(cfg_reload, the_same_file_waits_for_nothing)
{
        cfg_t *a = load_with("", "", "", "");
        cfg_t *b = load_with("", "", "", "");
        char buf[256] = "x";

        cr_expect_eq(cfg_reload_diff(a, b, buf, sizeof(buf)), 0);
        cr_expect_str_eq(buf, "");
        cfg_destroy(a);
        cfg_destroy(b);
}

/* What the worker applies at once (on_exhausted, the two drain timeouts,
 * the webhooks, the topic tokens) is not named; what it keeps until a
 * restart (the pool, the dead-letter producer, allow_networks, the Kafka
 * clients, admin, log) is, each by its path. */
Test(cfg_reload, names_exactly_the_restart_only_changes)
{
        cfg_t *a = load_with("", "on_exhausted = \"retry\";", "", "");
        cfg_t *b = load_with(
                "commit_interval_ms = 2000; properties = [ "
                "\"client.rack=r1\" ];",
                "on_exhausted = \"drop\"; revoke_timeout_ms = 1; "
                "shutdown_timeout_ms = 2; timeout_ms = 2000; "
                "concurrency = 8; dead_letter_topic = "
                "\"dlq\"; allow_networks = [ \"10.0.0.0/8\" ]; circuit = { "
                "failures = 1; }; max_response_bytes = 1; retry = { "
                "schedule = [ \"1s\" ]; tier_partitions = 1; };",
                "timeout_ms = 500; enabled = false;",
                "admin = { listen = \"127.0.0.1:9999\"; token = "
                "\"sekrit-token\"; }; log = { level = \"debug\"; };");
        char buf[1024];
        size_t n = cfg_reload_diff(a, b, buf, sizeof(buf));

        cr_expect_str_eq(buf,
                         "kafka.properties, kafka.commit_interval_ms, "
                         "delivery.concurrency, delivery.dead_letter_topic, "
                         "delivery.max_response_bytes, "
                         "delivery.allow_networks, "
                         "delivery.circuit.failures, "
                         "delivery.retry.schedule, "
                         "delivery.retry.tier_partitions, admin.listen, "
                         "admin.token, log.level");
        cr_expect_eq(n, 12);
        cr_expect_null(strstr(buf, "sekrit"));
        cfg_destroy(a);
        cfg_destroy(b);
}

Test(cfg_reload, topic_names_wait_tokens_do_not)
{
        cfg_t *a = load("kafka = { brokers = \"b:9092\"; topics = ( { name = "
                        "\"t\"; app_token = \"one\"; } ); };\nwebhooks = ( { "
                        "name = \"w\"; url = \"https://e.com/\"; events = [ "
                        "\"*\" ]; } );");
        cfg_t *b = load("kafka = { brokers = \"b:9092\"; topics = ( { name = "
                        "\"t\"; app_token = \"two\"; } ); };\nwebhooks = ( { "
                        "name = \"w\"; url = \"https://e.com/\"; events = [ "
                        "\"*\" ]; } );");
        cfg_t *c = load("kafka = { brokers = \"b:9092\"; topics = ( \"t\", "
                        "\"u\" ); };\nwebhooks = ( { name = \"w\"; url = "
                        "\"https://e.com/\"; events = [ \"*\" ]; } );");
        char buf[256];

        cr_expect_eq(cfg_reload_diff(a, b, buf, sizeof(buf)), 0, "%s", buf);
        cr_expect_eq(cfg_reload_diff(a, c, buf, sizeof(buf)), 1);
        cr_expect_str_eq(buf, "kafka.topics");
        cfg_destroy(a);
        cfg_destroy(b);
        cfg_destroy(c);
}

Test(cfg_reload, a_small_buffer_is_cut_with_dots)
{
        cfg_t *a = load_with("", "", "", "");
        cfg_t *b =
                load_with("group_id = \"other\";",
                          "concurrency = 8; connect_timeout_ms = 200;", "", "");
        char buf[40], tiny[4];

        /* the group's tier topics (delivery.retry.topic_prefix, from
         * group_id) change with it */
        cr_expect_eq(cfg_reload_diff(a, b, buf, sizeof(buf)), 4);
        cr_expect_str_eq(buf, "kafka.group_id, ...");
        cr_expect_eq(cfg_reload_diff(a, b, tiny, sizeof(tiny)), 4);
        cr_expect_str_eq(tiny, "...");
        cr_expect_lt(strlen(buf), sizeof(buf));
        cfg_destroy(a);
        cfg_destroy(b);
}
