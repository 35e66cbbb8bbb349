/* Tests for cfg: loading, defaults and every validation rule's message. */
#include <criterion/criterion.h>

#include <dlfcn.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"

/* Lines 1-4: a valid kafka group. */
#define KAFKA                               \
        "kafka = {\n"                       \
        "  brokers = \"127.0.0.1:9092\";\n" \
        "  topics = ( \"events\" );\n"      \
        "};\n"

/* Lines 5-8 after KAFKA: one valid webhook. */
#define WEBHOOKS                                                    \
        "webhooks = (\n"                                            \
        "  { name = \"crm\"; url = \"https://example.com/hook\";\n" \
        "    events = [ \"*\" ]; }\n"                               \
        ");\n"

static char errs[16384];

static cfg_t *load(const char *text)
{
        errs[0] = 'x';
        return cfg_load_string(text, "t.cfg", errs, sizeof(errs));
}

static cfg_t *load_ok(const char *text)
{
        cfg_t *cfg = load(text);

        cr_assert_not_null(cfg, "expected to load, got:\n%s", errs);
        cr_assert_str_empty(errs);
        return cfg;
}

/* Loading fails and the problems include \p needle. */
static void expect_err(const char *text, const char *needle)
{
        cfg_t *cfg = load(text);

        cr_assert_null(cfg, "expected a failure with \"%s\"", needle);
        cr_assert(strstr(errs, needle) != NULL, "expected\n  %s\namong\n%s",
                  needle, errs);
}

static size_t count_lines(const char *s)
{
        size_t n = *s ? 1 : 0;

        for (; *s; s++)
                n += *s == '\n';
        return n;
}

/* A file holding \p content: a new one when \p path ends in XXXXXX
 * (mkstemp), else \p path rewritten. The caller unlinks \p path. */
static void write_file(char *path, const char *content)
{
        size_t len = strlen(content), plen = strlen(path);
        int fd;

        if (plen >= 6 && !strcmp(path + plen - 6, "XXXXXX"))
                fd = mkstemp(path);
        else
                fd = open(path, O_WRONLY | O_TRUNC);
        cr_assert(fd >= 0);
        cr_assert_eq(write(fd, content, len), (ssize_t)len);
        close(fd);
}

/* --- the example file and defaults ------------------------------------ */

Test(cfg, example_file_loads)
{
        const char *path = HB_SOURCE_DIR "/config/hookbridge.example.cfg";
        cfg_t *cfg = cfg_load(path, errs, sizeof(errs));
        const cfg_webhook_t *crm, *slack;
        const cfg_kafka_t *k;
        const cfg_delivery_t *d;

        cr_assert_not_null(cfg, "%s", errs);
        cr_assert_str_empty(errs);
        cr_assert_str_eq(cfg_path(cfg), path);

        k = cfg_kafka(cfg);
        cr_assert_str_eq(k->brokers, "127.0.0.1:9092");
        cr_assert_str_eq(k->group_id, "hookbridge");
        cr_assert_eq(k->topic_count, 2);
        cr_assert_str_eq(k->topics[1].name, "events-eu");
        cr_assert_str_eq(cfg_topic_app_token(cfg, "events"), "NX-bd46697c");
        cr_assert_null(cfg_topic_app_token(cfg, "events-eu"));
        cr_assert_null(cfg_topic_app_token(cfg, "nope"));
        cr_assert_eq(k->prop_count, 2);
        cr_assert_str_eq(k->prop_names[0], "client.id");
        cr_assert_str_eq(k->prop_values[0], "hookbridge");
        cr_assert_str_eq(k->auto_offset_reset, "earliest");

        d = cfg_delivery(cfg);
        cr_assert_str_eq(d->dead_letter_topic, "hookbridge.dlq");
        cr_assert_eq(d->on_exhausted, CFG_EXHAUSTED_DEAD_LETTER);
        cr_assert_eq(d->revoke_timeout_ms, 5000);
        cr_assert_eq(d->max_response_bytes, 256);
        cr_assert_eq(d->circuit_failures, 5);
        cr_assert_eq(d->circuit_open_ms, 30000);
        cr_assert_eq(d->https_only, 0);
        cr_assert_eq(d->allow_network_count, 0);

        cr_assert_eq(cfg_webhook_count(cfg), 2);
        crm = cfg_webhook_find(cfg, "crm");
        slack = cfg_webhook_find(cfg, "slack-nps");
        cr_assert_not_null(crm);
        cr_assert_not_null(slack);
        cr_assert_eq(cfg_webhook(cfg, 1), slack);
        cr_assert_null(cfg_webhook(cfg, 2));
        cr_assert_null(cfg_webhook_find(cfg, "nope"));
        cr_assert(cfg_webhook_wants(crm, "flows.completed"));
        cr_assert(cfg_webhook_wants(crm, "trial.started"));
        cr_assert_not(cfg_webhook_wants(crm, "feature_tag.hover"));
        cr_assert(cfg_webhook_wants(slack, "trial.started"));
        cr_assert_not(cfg_webhook_wants(slack, "flows.seen"));
        cr_assert_eq(crm->user_prop_count + crm->company_prop_count, 3);
        cr_assert_not_null(crm->secret);
        cr_assert_not_null(crm->secret_previous);
        cr_assert_eq(crm->header_count, 2);
        cr_assert_str_eq(crm->headers[1], "X-Source: hookbridge");
        cr_assert_eq(crm->timeout_ms, 5000);
        cr_assert_eq(crm->retry.max_attempts, 12);
        cr_assert_eq(crm->retry.initial_ms, 500);
        cr_assert_eq(slack->signature, CFG_SIG_USERPILOT);
        cr_assert_eq(slack->timeout_ms, 10000);
        cr_assert_eq(crm->max_in_flight, 32);
        cr_assert_eq(slack->max_in_flight, 32);
        cr_assert_null(crm->tls.ca_file);
        cr_assert_null(crm->tls.client_key);
        cr_assert_null(cfg_admin(cfg)->token);

        cr_assert_eq(cfg_mapping_count(cfg), 1);
        cr_assert_str_eq(cfg_mapping(cfg, 0)->event, "Trial Started");
        cr_assert_str_eq(cfg_mapping(cfg, 0)->type, "trial.started");
        cr_assert_null(cfg_mapping(cfg, 1));
        cr_assert_str_eq(cfg_admin(cfg)->listen, "127.0.0.1:9464");
        cr_assert_eq(cfg_log(cfg)->level, 6);
        cr_assert_eq(cfg_log(cfg)->format, CFG_LOG_LOGFMT);
        cfg_destroy(cfg);
}

Test(cfg, defaults)
{
        cfg_t *cfg = load_ok(KAFKA WEBHOOKS);
        const cfg_kafka_t *k = cfg_kafka(cfg);
        const cfg_delivery_t *d = cfg_delivery(cfg);
        const cfg_webhook_t *wh = cfg_webhook(cfg, 0);

        cr_assert_str_eq(cfg_path(cfg), "t.cfg");
        cr_assert_str_eq(k->group_id, "hookbridge");
        cr_assert_eq(k->topic_count, 1);
        cr_assert_null(k->topics[0].app_token);
        cr_assert_eq(k->prop_count, 0);
        cr_assert_eq(k->commit_interval_ms, 1000);
        cr_assert_str_eq(k->auto_offset_reset, "earliest");
        cr_assert_eq(d->concurrency, 64);
        cr_assert_eq(d->threads, 0, "default: auto, the CPUs");
        cr_assert_eq(d->timeout_ms, 10000);
        cr_assert_eq(d->connect_timeout_ms, 3000);
        cr_assert_eq(d->retry.initial_ms, 500);
        cr_assert_eq(d->retry.max_ms, 60000);
        cr_assert_eq(d->retry.max_attempts, 8);
        cr_assert_null(d->dead_letter_topic);
        cr_assert_eq(d->on_exhausted, CFG_EXHAUSTED_RETRY);
        cr_assert_eq(d->max_in_flight, 10000);
        cr_assert_eq(d->max_in_flight_per_partition, 2000);
        cr_assert_eq(d->shutdown_timeout_ms, 10000);
        cr_assert_eq(d->revoke_timeout_ms, 5000);
        cr_assert_eq(d->max_response_bytes, 256);
        cr_assert_eq(d->circuit_failures, 5);
        cr_assert_eq(d->circuit_open_ms, 30000);
        cr_assert_eq(d->https_only, 0);
        cr_assert_eq(d->allow_network_count, 0);
        cr_assert_str_eq(wh->name, "crm");
        cr_assert_str_eq(wh->url, "https://example.com/hook");
        cr_assert_eq(wh->enabled, 1);
        cr_assert_eq(wh->event_count, 1);
        cr_assert_str_eq(wh->events[0], "*");
        cr_assert_eq(wh->user_prop_count + wh->company_prop_count, 0);
        cr_assert_null(wh->secret);
        cr_assert_null(wh->secret_previous);
        cr_assert_eq(wh->signature, CFG_SIG_STANDARD);
        cr_assert_eq(wh->header_count, 0);
        cr_assert_eq(wh->timeout_ms, 10000);
        cr_assert_eq(wh->retry.max_ms, 60000);
        cr_assert_eq(wh->max_in_flight, 32);
        cr_assert_null(wh->tls.ca_file);
        cr_assert_null(wh->tls.client_cert);
        cr_assert_null(wh->tls.client_key);
        cr_assert_eq(wh->line, 6);
        cr_assert_eq(cfg_mapping_count(cfg), 0);
        cr_assert_str_eq(cfg_admin(cfg)->listen, "127.0.0.1:9464");
        cr_assert_null(cfg_admin(cfg)->token);
        cr_assert_eq(cfg_log(cfg)->level, 6);
        cr_assert_eq(cfg_log(cfg)->format, CFG_LOG_LOGFMT);
        cfg_destroy(cfg);
}

Test(cfg, on_exhausted_default_follows_dead_letter_topic)
{
        cfg_t *cfg = load_ok(KAFKA WEBHOOKS
                             "delivery = { dead_letter_topic = \"dlq\"; };\n");

        cr_assert_eq(cfg_delivery(cfg)->on_exhausted,
                     CFG_EXHAUSTED_DEAD_LETTER);
        cfg_destroy(cfg);
        cfg = load_ok(KAFKA WEBHOOKS "delivery = { on_exhausted = \"drop\"; "
                                     "dead_letter_topic = \"\"; };\n");
        cr_assert_eq(cfg_delivery(cfg)->on_exhausted, CFG_EXHAUSTED_DROP);
        cr_assert_null(cfg_delivery(cfg)->dead_letter_topic);
        cfg_destroy(cfg);
}

Test(cfg, log_and_admin)
{
        cfg_t *cfg =
                load_ok(KAFKA WEBHOOKS
                        "log = { level = \"debug\"; format = \"json\"; };\n"
                        "admin = { listen = \"\"; };\n");

        cr_assert_eq(cfg_log(cfg)->level, 7);
        cr_assert_eq(cfg_log(cfg)->format, CFG_LOG_JSON);
        cr_assert_str_empty(cfg_admin(cfg)->listen);
        cfg_destroy(cfg);
        cfg = load_ok(KAFKA WEBHOOKS "log = { level = \"error\"; };\n"
                                     "admin = { listen = \"[::1]:9464\"; };\n");
        cr_assert_eq(cfg_log(cfg)->level, 3);
        cfg_destroy(cfg);
}

Test(cfg, destroy_null_is_a_noop)
{
        cfg_destroy(NULL);
}

/* --- reading ---------------------------------------------------------- */

Test(cfg, syntax_error_has_file_and_line)
{
        expect_err("kafka = {\n"
                   "  brokers = \"x\";\n"
                   "  topics = ;\n"
                   "};\n",
                   "t.cfg:3: syntax error");
        cr_assert_eq(count_lines(errs), 1);
}

Test(cfg, duplicate_setting_is_a_parse_error)
{
        expect_err(KAFKA "kafka = { };\n" WEBHOOKS,
                   "t.cfg:5: duplicate setting name");
}

Test(cfg, missing_file)
{
        cfg_t *cfg =
                cfg_load("/nonexistent/hookbridge.cfg", errs, sizeof(errs));

        cr_assert_null(cfg);
        cr_assert_str_eq(errs, "/nonexistent/hookbridge.cfg:1: cannot read "
                               "the file: No such file or directory");
}

Test(cfg, load_file_reports_its_path)
{
        char path[] = "/tmp/hb-cfg-XXXXXX";
        cfg_t *cfg;

        write_file(path, KAFKA "webhooks = ( );\n");
        cfg = cfg_load(path, errs, sizeof(errs));
        unlink(path);
        cr_assert_null(cfg);
        cr_assert(strncmp(errs, path, strlen(path)) == 0, "%s", errs);
        cr_assert(strstr(errs, ":5: webhooks: is empty") != NULL, "%s", errs);
}

Test(cfg, problems_in_an_included_file_name_it)
{
        char inc[] = "/tmp/hb-cfg-inc-XXXXXX";
        char text[512];

        write_file(inc, "webhooks = (\n"
                        "  { name = \"a\"; url = \"ftp://a/\"; events = [ "
                        "\"*\" ]; }\n"
                        ");\n");
        snprintf(text, sizeof(text), KAFKA "@include \"%s\"\n", inc);
        expect_err(text, ":2: webhook 'a' url: must start with http://");
        unlink(inc);
        cr_assert(strncmp(errs, inc, strlen(inc)) == 0, "%s", errs);
}

/* An @include of something that is not a small regular file used to make
 * libconfig's scanner exit the process ("input in flex scanner failed",
 * exit 2): now a FILE:LINE error (issue 14 item 2). */
Test(cfg, include_of_a_non_file_is_an_error)
{
        static const char *const bad[][2] = {
                {"/tmp", "is a directory"},
                {"/proc/self/mem", "Input/output error"},
                {"/proc/self/environ", "not an ordinary file"},
                {"/dev/zero", "is not a regular file"},
                {"/nonexistent/x.cfg", "No such file or directory"},
        };
        char text[512], want[256], fifo[] = "/tmp/hb-cfg-fifo-XXXXXX";
        char inc[] = "/tmp/hb-cfg-inc-XXXXXX";
        int fd;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(text, sizeof(text),
                         KAFKA WEBHOOKS "\n@include \"%s\"\n", bad[i][0]);
                snprintf(want, sizeof(want),
                         "t.cfg:10: @include \"%s\": cannot use it: ",
                         bad[i][0]);
                expect_err(text, want);
                cr_assert(strstr(errs, bad[i][1]), "%s", errs);
                cr_assert_eq(count_lines(errs), 1, "%s", errs);
        }
        /* a FIFO does not hang the load */
        fd = mkstemp(fifo);
        cr_assert(fd >= 0);
        close(fd);
        unlink(fifo);
        cr_assert_eq(mkfifo(fifo, 0600), 0);
        snprintf(text, sizeof(text), KAFKA WEBHOOKS "@include \"%s\"\n", fifo);
        expect_err(text, "t.cfg:9: @include");
        cr_assert(strstr(errs, "is not a regular file"), "%s", errs);
        unlink(fifo);

        /* nested: reported in the file that includes it; one that is
         * commented out or in a string is not an include */
        write_file(inc, "# a fragment\n\n  @include \"/tmp\"\n");
        snprintf(text, sizeof(text),
                 KAFKA WEBHOOKS
                 "/* @include \"/tmp\" */\n"
                 "log = { level = \"@include \\\"/tmp\\\"\"; };\n"
                 "@include \"%s\"\n",
                 inc);
        expect_err(text,
                   ":3: @include \"/tmp\": cannot use it: is a directory");
        cr_assert(strncmp(errs, inc, strlen(inc)) == 0, "%s", errs);
        cr_assert_eq(count_lines(errs), 1, "%s", errs);

        /* an include that includes itself stops at libconfig's depth */
        snprintf(text, sizeof(text), "@include \"%s\"\n", inc);
        write_file(inc, text);
        snprintf(text, sizeof(text), KAFKA WEBHOOKS "@include \"%s\"\n", inc);
        expect_err(text, "@include: nested more than 10 deep");
        unlink(inc);
}

/* The main file: a regular file of at most 1 MiB (libconfig's scanner
 * took 32 s over one string of 8 MB read from a file). */
Test(cfg, main_file_is_a_small_regular_file)
{
        char path[] = "/tmp/hb-cfg-big-XXXXXX";
        size_t n = 1024 * 1024 + 1;
        char *big = malloc(n + 1);
        cfg_t *cfg;

        cr_assert_not_null(big);
        memset(big, ' ', n);
        memcpy(big, KAFKA WEBHOOKS, strlen(KAFKA WEBHOOKS));
        big[n] = '\0';
        write_file(path, big);
        cfg = cfg_load(path, errs, sizeof(errs));
        cr_assert_null(cfg);
        cr_assert(strstr(errs, ":1: cannot read the file: is larger than 1 "
                               "MiB"),
                  "%s", errs);
        expect_err(big, "t.cfg:1: the file is larger than 1 MiB");
        big[n - 1] = '\0';
        cfg_destroy(load_ok(big));
        unlink(path);
        free(big);

        cfg = cfg_load("/tmp", errs, sizeof(errs));
        cr_assert_null(cfg);
        cr_assert_str_eq(errs, "/tmp:1: cannot read the file: is a directory");
        cfg = cfg_load("/dev/null", errs, sizeof(errs));
        cr_assert_null(cfg);
        cr_assert_str_eq(errs, "/dev/null:1: cannot read the file: is not a "
                               "regular file");
}

/* libconfig 1.5 keeps 32 bits of an integer without an L suffix
 * (4294968296 read as 1000): refused where it is written, whatever the
 * setting (issue 14 item 4). */
Test(cfg, integers_libconfig_would_wrap)
{
        static const char *const wrap[] = {"4294968296", "0x1000003E8",
                                           "0x80000000", "2147483648",
                                           "-2147483649"};
        char text[512];

        for (size_t i = 0; i < sizeof(wrap) / sizeof(wrap[0]); i++) {
                snprintf(text, sizeof(text),
                         KAFKA WEBHOOKS "delivery = { timeout_ms = %s; };\n",
                         wrap[i]);
                expect_err(text, "t.cfg:9: the integer ");
                cr_assert(strstr(errs, "libconfig would cut it to 32 bits"),
                          "%s", errs);
        }
        expect_err(KAFKA WEBHOOKS
                   "delivery = { timeout_ms = 99999999999999999999L; };\n",
                   "t.cfg:9: the integer 99999999999999999999L is out of "
                   "range: libconfig would cut it to 64 bits");
        /* a 64-bit integer is read whole and range-checked */
        expect_err(KAFKA WEBHOOKS "delivery = { timeout_ms = 4294968296L; };\n",
                   "t.cfg:9: delivery.timeout_ms: 4294968296 is out of range");
        /* in names, strings and comments digits are not integers */
        cfg_destroy(load_ok(KAFKA WEBHOOKS
                            "# 99999999999\n"
                            "mappings = ( { event = \"4294968296\"; type = "
                            "\"a99999999999.b\"; } );\n"
                            "delivery = { timeout_ms = 0x7D0; /* 4294968296 "
                            "*/ };\n"));
}

/* A \x00 escape used to cut a header value or URL short silently: refused
 * in any string (issue 14 item 4). */
Test(cfg, nul_escape_refused)
{
        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"a\"; url = \"https://a/\"; events = [ "
                         "\"*\" ];\n"
                         "    headers = [ \"X-Key: abc\\x00def\" ]; }\n"
                         ");\n",
                   "t.cfg:7: a string holds \\x00 (NUL), which would cut it "
                   "short");
        cr_assert_null(strstr(errs, "abc"), "%s", errs);
        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"a\"; url = \"https://a/\\x00.evil\";\n"
                         "    events = [ \"*\" ]; }\n"
                         ");\n",
                   "t.cfg:6: a string holds \\x00 (NUL)");
        /* other escapes are fine */
        cfg_destroy(load_ok(KAFKA "webhooks = (\n"
                                  "  { name = \"a\"; url = \"https://a/\";\n"
                                  "    events = [ \"*\" ];\n"
                                  "    headers = [ \"X-Key: a\\x41\\\\x00\" "
                                  "]; }\n"
                                  ");\n"));
}

/* --- generic rules ---------------------------------------------------- */

Test(cfg, unknown_setting_lists_known_and_suggests)
{
        expect_err(KAFKA WEBHOOKS "delivery = {\n"
                                  "  conccurency = 8;\n"
                                  "};\n",
                   "t.cfg:10: unknown setting 'conccurency' in delivery; "
                   "known: concurrency, timeout_ms, connect_timeout_ms, "
                   "retry, dead_letter_topic, on_exhausted, max_in_flight, "
                   "max_in_flight_per_partition, shutdown_timeout_ms, "
                   "revoke_timeout_ms, max_response_bytes, https_only, "
                   "circuit, allow_networks, threads; did you mean "
                   "'concurrency'?");
}

Test(cfg, delivery_threads)
{
        cfg_t *cfg = load_ok(KAFKA WEBHOOKS "delivery = { threads = 0; };\n");

        cr_assert_eq(cfg_delivery(cfg)->threads, 0, "0: auto");
        cfg_destroy(cfg);
        cfg = load_ok(KAFKA WEBHOOKS "delivery = { threads = 4; };\n");
        cr_assert_eq(cfg_delivery(cfg)->threads, 4);
        cfg_destroy(cfg);
        expect_err(KAFKA WEBHOOKS "delivery = {\n  threads = -1;\n};\n",
                   "t.cfg:10: delivery.threads: -1 is out of range; use a "
                   "value from 0 to 64");
        expect_err(KAFKA WEBHOOKS "delivery = {\n  threads = \"all\";\n};\n",
                   "t.cfg:10: delivery.threads: expected an integer");
}

Test(cfg, unknown_top_level_and_webhook_settings)
{
        expect_err(KAFKA WEBHOOKS "kafak = { };\n",
                   "t.cfg:9: unknown setting 'kafak' at the top level");
        expect_err(KAFKA "webhooks = ( {\n"
                         "  name = \"crm\"; url = \"http://x/\";\n"
                         "  events = [ \"*\" ];\n"
                         "  secrett = \"s\";\n"
                         "} );\n",
                   "t.cfg:8: unknown setting 'secrett' in webhook 'crm'; "
                   "known: name, app_token, url");
}

Test(cfg, wrong_types)
{
        expect_err(KAFKA WEBHOOKS "delivery = {\n"
                                  "  concurrency = \"8\";\n"
                                  "};\n",
                   "t.cfg:10: delivery.concurrency: expected an integer, got "
                   "a string");
        expect_err(KAFKA WEBHOOKS "delivery = 5;\n",
                   "t.cfg:9: delivery: expected a group");
        expect_err(KAFKA "webhooks = ( { name = \"crm\";\n"
                         "  url = \"http://x/\"; events = [ \"*\" ];\n"
                         "  enabled = 1; } );\n",
                   "t.cfg:7: webhook 'crm' enabled: expected true or false, "
                   "got an integer");
        expect_err(KAFKA WEBHOOKS "log = { level = \"verbose\"; };\n",
                   "t.cfg:9: log.level: \"verbose\" is not one of \"error\", "
                   "\"warn\", \"info\", \"debug\"");
}

Test(cfg, out_of_range)
{
        expect_err(KAFKA WEBHOOKS "delivery = { concurrency = 0; };\n",
                   "t.cfg:9: delivery.concurrency: 0 is out of range; use a "
                   "value from 1 to 4096");
        expect_err(KAFKA WEBHOOKS
                   "delivery = { retry = { max_attempts = 5000; }; };\n",
                   "t.cfg:9: delivery.retry.max_attempts: 5000 is out of "
                   "range; use a value from 1 to 1000");
        expect_err(KAFKA WEBHOOKS
                   "delivery = { timeout_ms = 10000000000L; };\n",
                   "delivery.timeout_ms: 10000000000 is out of range");
}

Test(cfg, missing_required_settings)
{
        expect_err("kafka = {\n"
                   "  topics = ( \"events\" );\n"
                   "};\n" WEBHOOKS,
                   "t.cfg:1: kafka.brokers: required setting is missing; add "
                   "e.g. brokers = \"127.0.0.1:9092\";");
        expect_err("# nothing\n"
                   "log = { };\n",
                   "t.cfg:1: kafka: required setting is missing");
        cr_assert(strstr(errs, "t.cfg:1: webhooks: required setting is "
                               "missing") != NULL,
                  "%s", errs);
        expect_err(KAFKA "webhooks = (\n"
                         "  { url = \"http://x/\";\n"
                         "    events = [ \"*\" ]; }\n"
                         ");\n",
                   "t.cfg:6: webhooks[0] name: required setting is missing");
}

Test(cfg, every_problem_is_reported_in_line_order)
{
        cfg_t *cfg = load("kafka = {\n"                    /* 1 */
                          "  brokers = \"\";\n"            /* 2 */
                          "  topics = ( \"events\" );\n"   /* 3 */
                          "  commit_interval_ms = 1;\n"    /* 4 */
                          "};\n"                           /* 5 */
                          "webhooks = (\n"                 /* 6 */
                          "  { name = \"crm\";\n"          /* 7 */
                          "    url = \"ftp://x/\";\n"      /* 8 */
                          "    events = [ \"nope\" ]; }\n" /* 9 */
                          ");\n"                           /* 10 */
                          "delivery = {\n"                 /* 11 */
                          "  concurrency = 0;\n"           /* 12 */
                          "};\n");                         /* 13 */

        cr_assert_null(cfg);
        cr_assert_eq(count_lines(errs), 5, "%s", errs);
        cr_assert(strncmp(errs, "t.cfg:2: kafka.brokers: must not be empty\n",
                          42) == 0,
                  "%s", errs);
        cr_assert(strstr(errs, "\nt.cfg:4: kafka.commit_interval_ms: 1 is out "
                               "of range") != NULL);
        cr_assert(strstr(errs, "\nt.cfg:8: webhook 'crm' url: must start with "
                               "http:// or https://\n") != NULL);
        cr_assert(strstr(errs, "\nt.cfg:9: webhook 'crm' events[0]: unknown "
                               "webhook type 'nope'") != NULL);
        cr_assert(strstr(errs, "\nt.cfg:12: delivery.concurrency: 0 is out of "
                               "range") != NULL);
}

Test(cfg, errstr_is_truncated_with_dots)
{
        char small[100];
        cfg_t *cfg = cfg_load_string(
                KAFKA WEBHOOKS "delivery = { concurrency = 0;\n"
                               "  timeout_ms = 1; connect_timeout_ms = 1; };\n",
                "t.cfg", small, sizeof(small));

        cr_assert_null(cfg);
        cr_assert_lt(strlen(small), sizeof(small));
        cr_assert(strstr(small, "t.cfg:9: delivery.concurrency") == small, "%s",
                  small);
        cr_assert_str_eq(small + strlen(small) - 4, "\n...", "%s", small);

        cfg = cfg_load_string(KAFKA "delivery = { concurrency = 0; };\n",
                              "t.cfg", small, 16);
        cr_assert_null(cfg);
        cr_assert_str_eq(small, "t.cfg:1: web...");
}

/* --- kafka ------------------------------------------------------------ */

Test(cfg, topics)
{
        cfg_t *cfg = load_ok("kafka = { brokers = \"b:9092\";\n"
                             "  topics = ( \"a\", { name = \"b\"; app_token = "
                             "\"NX-1\"; } ); };\n" WEBHOOKS);

        cr_assert_eq(cfg_kafka(cfg)->topic_count, 2);
        cr_assert_str_eq(cfg_topic_app_token(cfg, "b"), "NX-1");
        cfg_destroy(cfg);

        expect_err("kafka = { brokers = \"b:9092\";\n"
                   "  topics = [ ];\n"
                   "};\n" WEBHOOKS,
                   "t.cfg:2: kafka.topics: is empty; list at least one topic");
        expect_err("kafka = { brokers = \"b:9092\";\n"
                   "  topics = ( \"a\",\n"
                   "    \"a\" );\n"
                   "};\n" WEBHOOKS,
                   "t.cfg:3: kafka.topics[1]: topic 'a' is listed twice");
        expect_err("kafka = { brokers = \"b:9092\";\n"
                   "  topics = ( \"a b\" );\n"
                   "};\n" WEBHOOKS,
                   "t.cfg:2: kafka.topics[0]: 'a b' is not a valid Kafka "
                   "topic name");
        expect_err("kafka = { brokers = \"b:9092\";\n"
                   "  topics = ( { name = \"a\"; token = \"x\"; } );\n"
                   "};\n" WEBHOOKS,
                   "t.cfg:2: unknown setting 'token' in kafka.topics[0]; "
                   "known: name, app_token");
        expect_err("kafka = { brokers = \"b:9092\";\n"
                   "  topics = ( 5 );\n"
                   "};\n" WEBHOOKS,
                   "t.cfg:2: kafka.topics[0]: expected a topic name or");
}

Test(cfg, kafka_properties)
{
        cfg_t *cfg = load_ok(
                "kafka = { brokers = \"b:9092\";\n"
                "  topics = ( \"a\" );\n"
                "  properties = [ \"client.id=x=y\", \"client.rack=\" ];\n"
                "};\n" WEBHOOKS);

        cr_assert_eq(cfg_kafka(cfg)->prop_count, 2);
        cr_assert_str_eq(cfg_kafka(cfg)->prop_names[0], "client.id");
        cr_assert_str_eq(cfg_kafka(cfg)->prop_values[0], "x=y");
        cr_assert_str_empty(cfg_kafka(cfg)->prop_values[1]);
        cfg_destroy(cfg);

        expect_err("kafka = { brokers = \"b:9092\"; topics = ( \"a\" );\n"
                   "  properties = [ \"group.id=other\" ];\n"
                   "};\n" WEBHOOKS,
                   "t.cfg:2: kafka.properties[0]: 'group.id' is set by "
                   "hookbridge; set kafka.group_id instead");
        expect_err("kafka = { brokers = \"b:9092\"; topics = ( \"a\" );\n"
                   "  properties = [ \"enable.auto.commit=true\" ];\n"
                   "};\n" WEBHOOKS,
                   "t.cfg:2: kafka.properties[0]: 'enable.auto.commit' is set "
                   "by hookbridge");
        expect_err("kafka = { brokers = \"b:9092\"; topics = ( \"a\" );\n"
                   "  properties = [ \"client.id=a\",\n"
                   "                 \"client.id=b\" ];\n"
                   "};\n" WEBHOOKS,
                   "t.cfg:3: kafka.properties[1]: 'client.id' is set twice");
        expect_err("kafka = { brokers = \"b:9092\"; topics = ( \"a\" );\n"
                   "  properties = [ \"sasl.pasword=hunter2\" ];\n"
                   "};\n" WEBHOOKS,
                   "t.cfg:2: kafka.properties[0]: 'sasl.pasword' is not a "
                   "librdkafka configuration property");
        cr_assert_null(strstr(errs, "hunter2"));
        expect_err("kafka = { brokers = \"b:9092\"; topics = ( \"a\" );\n"
                   "  properties = [ \"hunter2\" ];\n"
                   "};\n" WEBHOOKS,
                   "t.cfg:2: kafka.properties[0]: expected \"key=value\"");
        cr_assert_null(strstr(errs, "hunter2"));
        expect_err("kafka = { brokers = \"b:9092\"; topics = ( \"a\" );\n"
                   "  properties = [ \"session.timeout.ms=abc\" ];\n"
                   "};\n" WEBHOOKS,
                   "t.cfg:2: kafka.properties[0]: librdkafka rejects the "
                   "value given for 'session.timeout.ms'");
        cr_assert_null(strstr(errs, "abc"));
}

/* The settings that carry the dead-letter producer's and the consumer's
 * guarantees are hookbridge's, under any of librdkafka's spellings
 * (aliases, the "topic." prefix, any case): a config error naming them
 * (issue 14 item 3). */
Test(cfg, kafka_properties_reserved)
{
        static const char *const keys[] = {
                "acks",
                "request.required.acks",
                "topic.acks",
                "ACKS",
                "enable.idempotence",
                "message.timeout.ms",
                "delivery.timeout.ms",
                "topic.message.timeout.ms",
                "transactional.id",
                "enable.partition.eof",
                "partition.assignment.strategy",
                "auto.commit.enable",
                "topic.auto.commit.enable",
                "topic.auto.offset.reset",
                "offset.store.method",
        };
        char text[512], want[256];

        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                snprintf(text, sizeof(text),
                         "kafka = { brokers = \"b:9092\"; topics = ( \"a\" "
                         ");\n"
                         "  properties = [ \"%s=1\" ];\n"
                         "};\n" WEBHOOKS,
                         keys[i]);
                snprintf(want, sizeof(want),
                         "t.cfg:2: kafka.properties[0]: '%s' is set by "
                         "hookbridge; ",
                         keys[i]);
                expect_err(text, want);
        }
}

/* Settings that make librdkafka load code or run a command (issue 14
 * item 1): refused unless kafka.allow_code_loading says so. */
Test(cfg, kafka_code_loading_refused)
{
        static const char *const props[][2] = {
                {"\"plugin.library.paths=/tmp/evil.so\"",
                 "'plugin.library.paths' loads"},
                {"\"ssl.engine.location=/tmp/engine.so\"",
                 "'ssl.engine.location' loads"},
                {"\"ssl.engine.id=dynamic\"", "'ssl.engine.id' loads"},
                {"\"ssl.providers=default,legacy\"", "'ssl.providers' loads"},
                {"\"sasl.kerberos.kinit.cmd=touch /tmp/x\"",
                 "'sasl.kerberos.kinit.cmd' runs"},
                {"\"security.protocol=SASL_SSL\", \"sasl.mechanism=GSSAPI\"",
                 "'sasl.mechanism=GSSAPI' runs"},
                {"\"security.protocol=sasl_plaintext\", "
                 "\"sasl.mechanisms=gssapi\"",
                 "'sasl.mechanisms=GSSAPI' runs"},
                {"\"security.protocol=SASL_SSL\"",
                 "'security.protocol=SASL_SSL' with no sasl.mechanism"},
        };
        char text[512];

        for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
                snprintf(text, sizeof(text),
                         "kafka = { brokers = \"b:9092\"; topics = ( \"a\" "
                         ");\n"
                         "  properties = [ %s ];\n"
                         "};\n" WEBHOOKS,
                         props[i][0]);
                expect_err(text, props[i][1]);
                cr_assert(strstr(errs, "t.cfg:2: kafka.properties["), "%s",
                          errs);
                cr_assert(strstr(errs, "kafka.allow_code_loading = true"), "%s",
                          errs);
                cr_assert_eq(count_lines(errs), 1, "%s", errs);
                /* allowed: loads */
                snprintf(text, sizeof(text),
                         "kafka = { brokers = \"b:9092\"; topics = ( \"a\" "
                         ");\n"
                         "  allow_code_loading = true;\n"
                         "  properties = [ %s ];\n"
                         "};\n" WEBHOOKS,
                         props[i][0]);
                cfg_destroy(load_ok(text));
        }
        /* SASL with another mechanism runs nothing */
        cfg_destroy(load_ok("kafka = { brokers = \"b:9092\"; topics = ( "
                            "\"a\" );\n"
                            "  properties = [ \"security.protocol=SASL_SSL\", "
                            "\"sasl.mechanism=SCRAM-SHA-512\" ];\n"
                            "};\n" WEBHOOKS));
}

/* Loading a configuration (check-config, run, every reload) never loads
 * the plugin it names, even when allowed. */
Test(cfg, kafka_plugin_never_loaded_at_load)
{
        char canary[] = "/tmp/hb-canary-XXXXXX";
        char text[1024];
        cfg_t *cfg;
        int fd = mkstemp(canary);

        cr_assert(fd >= 0);
        close(fd);
        unlink(canary);
        setenv("HB_TEST_CANARY", canary, 1);

        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"b:9092\"; topics = ( \"a\" );\n"
                 "  properties = [ \"plugin.library.paths=%s\" ];\n"
                 "};\n" WEBHOOKS,
                 HB_CANARY_PLUGIN);
        expect_err(text, "t.cfg:2: kafka.properties[0]: "
                         "'plugin.library.paths' loads");
        cr_assert_neq(access(canary, F_OK), 0, "the plugin was loaded");

        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"b:9092\"; topics = ( \"a\" );\n"
                 "  allow_code_loading = true;\n"
                 "  properties = [ \"plugin.library.paths=%s\",\n"
                 "                 \"plugin.only.setting=1\" ];\n"
                 "};\n" WEBHOOKS,
                 HB_CANARY_PLUGIN);
        cfg = load(text);
        cr_assert_not_null(cfg, "%s", errs);
        cr_assert_neq(access(canary, F_OK), 0, "the plugin was loaded");
        /* a setting only the plugin knows: left unchecked, said so */
        cr_assert(strstr(errs, "t.cfg:4: warning: kafka.properties[1]: "
                               "'plugin.only.setting'"),
                  "%s", errs);
        cr_assert_eq(cfg_kafka(cfg)->prop_count, 2);
        cfg_destroy(cfg);

        /* the canary does say when it is loaded */
        setenv("HB_TEST_CANARY", canary, 1);
        cr_assert_not_null(dlopen(HB_CANARY_PLUGIN, RTLD_NOW));
        cr_assert_eq(access(canary, F_OK), 0);
        unlink(canary);
}

/* --- delivery --------------------------------------------------------- */

Test(cfg, retry_max_below_initial)
{
        expect_err(KAFKA WEBHOOKS "delivery = {\n"
                                  "  retry = { initial_ms = 500;\n"
                                  "            max_ms = 10; };\n"
                                  "};\n",
                   "t.cfg:11: delivery.retry.max_ms: 10 is below initial_ms "
                   "(500); raise max_ms or lower initial_ms");
        cr_assert_eq(count_lines(errs), 1, "%s", errs);
        expect_err(KAFKA WEBHOOKS "delivery = {\n"
                                  "  retry = { initial_ms = 70000; };\n"
                                  "};\n",
                   "t.cfg:10: delivery.retry.initial_ms: 70000 is above "
                   "max_ms (60000, the default); lower initial_ms or raise "
                   "max_ms");
}

Test(cfg, dead_letter_rules)
{
        expect_err(KAFKA WEBHOOKS "delivery = {\n"
                                  "  on_exhausted = \"dead_letter\";\n"
                                  "};\n",
                   "t.cfg:10: delivery.on_exhausted: \"dead_letter\" needs "
                   "delivery.dead_letter_topic");
        expect_err(KAFKA WEBHOOKS "delivery = {\n"
                                  "  dead_letter_topic = \"events\";\n"
                                  "};\n",
                   "t.cfg:10: delivery.dead_letter_topic: 'events' is also in "
                   "kafka.topics");
}

Test(cfg, in_flight_per_partition_above_total)
{
        expect_err(KAFKA WEBHOOKS "delivery = { max_in_flight = 100;\n"
                                  "  max_in_flight_per_partition = 200; };\n",
                   "t.cfg:10: delivery.max_in_flight_per_partition: 200 is "
                   "above max_in_flight (100)");
}

/* --- webhooks --------------------------------------------------------- */

/* Tenants (SPEC §5): a webhook's app_token, or none (an operator
 * webhook); names stay unique across apps. */
Test(cfg, webhook_app_token)
{
        cfg_t *cfg = load_ok(KAFKA "webhooks = (\n"
                                   "  { name = \"a-crm\"; app_token = "
                                   "\"NX-a.1_~\"; url = \"http://a/\";\n"
                                   "    events = [ \"*\" ]; },\n"
                                   "  { name = \"sink\"; url = \"http://b/\";\n"
                                   "    events = [ \"*\" ]; }\n"
                                   ");\n");

        cr_assert_str_eq(cfg_webhook(cfg, 0)->app_token, "NX-a.1_~");
        cr_assert_null(cfg_webhook(cfg, 1)->app_token);
        cfg_destroy(cfg);

        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"a\"; app_token = \"NX 1\"; url = "
                         "\"http://a/\"; events = [ \"*\" ]; }\n"
                         ");\n",
                   "t.cfg:6: webhook 'a' app_token: use 1 to 128 of A-Z a-z "
                   "0-9 - . _ ~");
        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"a\"; app_token = \"\"; url = "
                         "\"http://a/\"; events = [ \"*\" ]; }\n"
                         ");\n",
                   "t.cfg:6: webhook 'a' app_token: must not be empty");
        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"a\"; app_token = 7; url = "
                         "\"http://a/\"; events = [ \"*\" ]; }\n"
                         ");\n",
                   "t.cfg:6: webhook 'a' app_token: expected a string");
        /* one name per file: --webhook NAME, dead letters and metrics
         * name a file webhook by its name alone */
        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"crm\"; app_token = \"A\"; url = "
                         "\"http://a/\"; events = [ \"*\" ]; },\n"
                         "  { name = \"crm\"; app_token = \"B\"; url = "
                         "\"http://b/\"; events = [ \"*\" ]; }\n"
                         ");\n",
                   "t.cfg:7: webhook 'crm' name: already used by the webhook "
                   "at line 6; webhook names must be unique in the file, "
                   "across apps too");
        expect_err("kafka = {\n"
                   "  brokers = \"127.0.0.1:9092\";\n"
                   "  topics = ( { name = \"e\"; app_token = \"a/b\"; } );\n"
                   "};\n" WEBHOOKS,
                   "t.cfg:3: kafka.topics[0].app_token: use 1 to 128 of A-Z "
                   "a-z 0-9 - . _ ~");
        cr_assert(cfg_app_token_ok("NX-bd46697c"));
        cr_assert(!cfg_app_token_ok(""));
        cr_assert(!cfg_app_token_ok("a\x01"));
        cr_assert(!cfg_app_token_ok("caf\xc3\xa9"));
        {
                char tok[CFG_APP_TOKEN_MAX + 2];
                memset(tok, 'x', sizeof(tok) - 1);
                tok[sizeof(tok) - 1] = '\0';
                cr_assert(!cfg_app_token_ok(tok));
                tok[CFG_APP_TOKEN_MAX] = '\0';
                cr_assert(cfg_app_token_ok(tok));
        }
}

Test(cfg, webhook_names)
{
        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"crm\"; url = \"http://a/\"; events = [ "
                         "\"*\" ]; },\n"
                         "  { name = \"crm\"; url = \"http://b/\"; events = [ "
                         "\"*\" ]; }\n"
                         ");\n",
                   "t.cfg:7: webhook 'crm' name: already used by the webhook "
                   "at line 6; webhook names must be unique");
        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"my hook\"; url = \"http://a/\"; events "
                         "= [ \"*\" ]; }\n"
                         ");\n",
                   "t.cfg:6: webhook 'my hook' name: use 1 to 128 of A-Z a-z "
                   "0-9 _ . -");
        expect_err(KAFKA "webhooks = ( \"crm\" );\n",
                   "t.cfg:5: webhooks[0]: expected a group");
        expect_err(KAFKA "webhooks = ( );\n", "t.cfg:5: webhooks: is empty");
}

Test(cfg, webhook_urls)
{
        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"a\"; events = [ \"*\" ];\n"
                         "    url = \"ftp://a/?token=SECRET\"; }\n"
                         ");\n",
                   "t.cfg:7: webhook 'a' url: must start with http:// or "
                   "https://");
        cr_assert_null(strstr(errs, "SECRET"));
        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"a\"; events = [ \"*\" ];\n"
                         "    url = \"https://a/b c\"; }\n"
                         ");\n",
                   "t.cfg:7: webhook 'a' url: must not hold spaces, CR/LF");
        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"a\"; events = [ \"*\" ];\n"
                         "    url = \"https://a/\\r\\nX: y\"; }\n"
                         ");\n",
                   "t.cfg:7: webhook 'a' url: must not hold spaces, CR/LF");
        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"a\"; events = [ \"*\" ];\n"
                         "    url = \"https:///path\"; }\n"
                         ");\n",
                   "t.cfg:7: webhook 'a' url: has no host");
        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"a\"; events = [ \"*\" ]; }\n"
                         ");\n",
                   "t.cfg:6: webhook 'a' url: required setting is missing");
}

/* A URL curl cannot parse used to pass check-config and fail at every
 * send: parsed with curl_url at load, never quoted (issue 14 item 4). */
Test(cfg, webhook_urls_curl_cannot_parse)
{
        static const char *const bad[] = {
                "http://[::1/",
                "http://x:99999/hunter2",
                "http://x:0/",
                "https://[fe80::1%/",
                "http://x:-1/",
                "http://a b.example/", /* already refused: blank */
        };
        char text[512];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(text, sizeof(text),
                         KAFKA "webhooks = (\n"
                               "  { name = \"a\"; url = \"%s\";\n"
                               "    events = [ \"*\" ]; }\n"
                               ");\n",
                         bad[i]);
                expect_err(text, "t.cfg:6: webhook 'a' url: ");
                cr_assert_eq(count_lines(errs), 1, "%s", errs);
                cr_assert_null(strstr(errs, "hunter2"), "%s", errs);
                cr_assert_null(strstr(errs, "99999"), "%s", errs);
        }
        cfg_destroy(load_ok(KAFKA "webhooks = (\n"
                                  "  { name = \"a\"; url = "
                                  "\"http://[::1]:8080/p?q=1#f\";\n"
                                  "    events = [ \"*\" ]; }\n"
                                  ");\n"));
}

Test(cfg, webhook_events)
{
        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"a\"; url = \"http://a/\";\n"
                         "    events = [ \"flows.seen\",\n"
                         "      \"flow.completed\" ]; }\n"
                         ");\n",
                   "t.cfg:8: webhook 'a' events[1]: unknown webhook type "
                   "'flow.completed'; did you mean 'flows.completed'?");
        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"a\"; url = \"http://a/\";\n"
                         "    events = [ \"signup\" ]; }\n"
                         ");\n",
                   "t.cfg:7: webhook 'a' events[0]: unknown webhook type "
                   "'signup'; known: *, flows.seen, flows.completed,");
        cr_assert(strstr(errs, "button_tracked_event.occurred (more can be "
                               "added under mappings)") != NULL,
                  "%s", errs);
        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"a\"; url = \"http://a/\";\n"
                         "    events = [ ]; }\n"
                         ");\n",
                   "t.cfg:7: webhook 'a' events: is empty");
        expect_err(KAFKA
                   "webhooks = (\n"
                   "  { name = \"a\"; url = \"http://a/\";\n"
                   "    events = ( \"nps.score\",\n"
                   "      { type = \"nps.score\"; enabled = false; } ); }\n"
                   ");\n",
                   "t.cfg:8: webhook 'a' events[1]: 'nps.score' is listed "
                   "twice (first at line 7)");
        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"a\"; url = \"http://a/\";\n"
                         "    events = ( { enabled = false; } ); }\n"
                         ");\n",
                   "t.cfg:7: webhook 'a' events[0].type: required setting is "
                   "missing");
        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"a\"; url = \"http://a/\";\n"
                         "    events = \"*\"; }\n"
                         ");\n",
                   "t.cfg:7: webhook 'a' events: expected a list");
}

Test(cfg, toggled_off_events_and_wants)
{
        cfg_t *cfg = load_ok(
                KAFKA
                "webhooks = (\n"
                "  { name = \"all-but-nps\"; url = \"http://a/\";\n"
                "    events = ( \"*\", { type = \"nps.score\"; enabled = "
                "false; } ); },\n"
                "  { name = \"some\"; url = \"http://b/\";\n"
                "    events = ( \"flows.seen\", { type = \"nps.score\"; "
                "enabled = false; },\n"
                "      { type = \"forms.submitted\"; } ); },\n"
                "  { name = \"off\"; url = \"http://c/\"; enabled = false;\n"
                "    events = [ \"*\" ]; }\n"
                ");\n");
        const cfg_webhook_t *all = cfg_webhook(cfg, 0);
        const cfg_webhook_t *some = cfg_webhook(cfg, 1);
        const cfg_webhook_t *off = cfg_webhook(cfg, 2);

        cr_assert(cfg_webhook_wants(all, "flows.seen"));
        cr_assert(cfg_webhook_wants(all, "nps.feedback"));
        cr_assert_not(cfg_webhook_wants(all, "nps.score"));
        cr_assert_eq(all->event_count, 14);
        cr_assert(cfg_webhook_wants(some, "flows.seen"));
        cr_assert(cfg_webhook_wants(some, "forms.submitted"));
        cr_assert_not(cfg_webhook_wants(some, "nps.score"));
        cr_assert_not(cfg_webhook_wants(some, "flows.completed"));
        cr_assert_eq(some->event_count, 2);
        cr_assert_eq(off->enabled, 0);
        cr_assert_not(cfg_webhook_wants(off, "flows.seen"));
        cr_assert_not(cfg_webhook_wants(NULL, "flows.seen"));
        cr_assert_not(cfg_webhook_wants(all, NULL));
        cfg_destroy(cfg);
}

Test(cfg, mappings_add_types)
{
        cfg_t *cfg = load_ok(KAFKA "webhooks = (\n"
                                   "  { name = \"a\"; url = \"http://a/\";\n"
                                   "    events = ( \"*\", { type = "
                                   "\"flows.seen\"; enabled = false; } ); },\n"
                                   "  { name = \"b\"; url = \"http://b/\";\n"
                                   "    events = [ \"trial.started\" ]; }\n"
                                   ");\n"
                                   "mappings = ( { event = \"Trial Started\"; "
                                   "type = \"trial.started\"; } );\n");

        cr_assert(cfg_webhook_wants(cfg_webhook(cfg, 0), "trial.started"));
        cr_assert_not(cfg_webhook_wants(cfg_webhook(cfg, 0), "flows.seen"));
        cr_assert(cfg_webhook_wants(cfg_webhook(cfg, 1), "trial.started"));
        cr_assert_not(cfg_webhook_wants(cfg_webhook(cfg, 1), "flows.seen"));
        cfg_destroy(cfg);

        expect_err(
                KAFKA WEBHOOKS
                "mappings = (\n"
                "  { event = \"Trial Started\"; type = \"Trial Started\"; }\n"
                ");\n",
                "t.cfg:10: mappings[0].type: 'Trial Started' is not a "
                "webhook type; write it as word.word");
        expect_err(KAFKA WEBHOOKS "mappings = (\n"
                                  "  { event = \"X\"; type = \"x.y\"; },\n"
                                  "  { event = \"X\"; type = \"x.z\"; }\n"
                                  ");\n",
                   "t.cfg:11: mappings[1].event: 'X' is mapped twice");
        expect_err(KAFKA WEBHOOKS "mappings = (\n"
                                  "  { event = \"X\"; typ = \"x.y\"; }\n"
                                  ");\n",
                   "t.cfg:10: unknown setting 'typ' in mappings[0]; known: "
                   "event, type; did you mean 'type'?");
        cr_assert(strstr(errs, "t.cfg:10: mappings[0].type: required setting "
                               "is missing") != NULL,
                  "%s", errs);
}

Test(cfg, at_most_ten_properties)
{
        cfg_t *cfg;

        expect_err(
                KAFKA
                "webhooks = (\n"
                "  { name = \"crm\"; url = \"http://a/\"; events = [ \"*\" ];\n"
                "    user_properties = [ \"a\", \"b\", \"c\", \"d\", \"e\", "
                "\"f\" ];\n"
                "    company_properties = [ \"g\", \"h\", \"i\", \"j\", \"k\" "
                "]; }\n"
                ");\n",
                "t.cfg:8: webhook 'crm' chooses 11 properties; at most 10 "
                "(user_properties + company_properties) are allowed");
        cfg = load_ok(
                KAFKA
                "webhooks = (\n"
                "  { name = \"crm\"; url = \"http://a/\"; events = [ \"*\" ];\n"
                "    user_properties = [ \"a\", \"b\", \"c\", \"d\", \"e\" ];\n"
                "    company_properties = [ \"f\", \"g\", \"h\", \"i\", \"j\" "
                "]; }\n"
                ");\n");
        cr_assert_eq(cfg_webhook(cfg, 0)->user_prop_count, 5);
        cr_assert_str_eq(cfg_webhook(cfg, 0)->company_props[4], "j");
        cfg_destroy(cfg);
        expect_err(
                KAFKA
                "webhooks = (\n"
                "  { name = \"crm\"; url = \"http://a/\"; events = [ \"*\" ];\n"
                "    user_properties = [ \"a\", \"a\" ]; }\n"
                ");\n",
                "t.cfg:7: webhook 'crm' user_properties[1]: 'a' is listed "
                "twice");
}

Test(cfg, effective_timeout_and_retry)
{
        cfg_t *cfg = load_ok(
                KAFKA
                "webhooks = (\n"
                "  { name = \"a\"; url = \"http://a/\"; events = [ \"*\" ];\n"
                "    timeout_ms = 2500; retry = { max_ms = 5000; }; },\n"
                "  { name = \"b\"; url = \"http://b/\"; events = [ \"*\" ]; }\n"
                ");\n"
                "delivery = { timeout_ms = 20000; retry = { initial_ms = 200; "
                "max_attempts = 3; }; };\n");
        const cfg_webhook_t *a = cfg_webhook(cfg, 0), *b = cfg_webhook(cfg, 1);

        cr_assert_eq(a->timeout_ms, 2500);
        cr_assert_eq(a->retry.initial_ms, 200);
        cr_assert_eq(a->retry.max_ms, 5000);
        cr_assert_eq(a->retry.max_attempts, 3);
        cr_assert_eq(b->timeout_ms, 20000);
        cr_assert_eq(b->retry.initial_ms, 200);
        cr_assert_eq(b->retry.max_ms, 60000);
        cr_assert_eq(b->retry.max_attempts, 3);
        cfg_destroy(cfg);

        expect_err(
                KAFKA
                "webhooks = (\n"
                "  { name = \"a\"; url = \"http://a/\"; events = [ \"*\" ];\n"
                "    retry = { max_ms = 100; }; }\n"
                ");\n",
                "t.cfg:7: webhook 'a' retry.max_ms: 100 is below "
                "initial_ms (500, from delivery.retry); raise max_ms or "
                "lower initial_ms");
        expect_err(
                KAFKA
                "webhooks = (\n"
                "  { name = \"a\"; url = \"http://a/\"; events = [ \"*\" ];\n"
                "    timeout_ms = 5; }\n"
                ");\n",
                "t.cfg:7: webhook 'a' timeout_ms: 5 is out of range");
        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"a\"; url = \"http://a/\"; events = "
                         "[ \"*\" ];\n"
                         "    retry = 5; }\n"
                         ");\n",
                   "t.cfg:7: webhook 'a' retry: expected a group");
}

/* --- secrets ---------------------------------------------------------- */

#define SECRET_WH(line)                                                  \
        KAFKA "webhooks = (\n"                                           \
              "  { name = \"a\"; url = \"http://a/\"; events = [ \"*\" " \
              "];\n" line "\n"                                           \
              ");\n"

Test(cfg, secret_env)
{
        cfg_t *cfg;

        setenv("HB_TEST_SECRET", "whsec_c2VjcmV0LWZyb20tZW52", 1);
        cfg = load_ok(SECRET_WH("    secret_env = \"HB_TEST_SECRET\"; }"));
        cr_assert_str_eq(cfg_webhook(cfg, 0)->secret,
                         "whsec_c2VjcmV0LWZyb20tZW52");
        cfg_destroy(cfg);

        unsetenv("HB_TEST_MISSING");
        expect_err(SECRET_WH("    secret_env = \"HB_TEST_MISSING\"; }"),
                   "t.cfg:7: webhook 'a' secret_env: the environment "
                   "variable it names is not set");
        setenv("HB_TEST_EMPTY", "", 1);
        expect_err(SECRET_WH("    secret_env = \"HB_TEST_EMPTY\"; }"),
                   "t.cfg:7: webhook 'a' secret_env: the environment "
                   "variable it names is empty");
        expect_err(SECRET_WH("    secret_env = \"NOT-A-NAME\"; }"),
                   "t.cfg:7: webhook 'a' secret_env: is not an environment "
                   "variable name");

        setenv("HB_TEST_BAD", "whsec_!!TOPSECRET!!", 1);
        expect_err(SECRET_WH("    secret_env = \"HB_TEST_BAD\"; }"),
                   "t.cfg:7: webhook 'a' secret_env: the secret starts with "
                   "\"whsec_\" but the rest is not valid base64");
        cr_assert_null(strstr(errs, "TOPSECRET"));
}

Test(cfg, secret_file)
{
        char path[] = "/tmp/hb-secret-XXXXXX";
        char text[512];
        cfg_t *cfg;

        write_file(path, "raw-secret-value\r\n\n");
        snprintf(text, sizeof(text),
                 SECRET_WH("    secret_file = \"%s\";"
                           " previous_secret_file = \"%s\"; }"),
                 path, path);
        cfg = load_ok(text);
        cr_assert_str_eq(cfg_webhook(cfg, 0)->secret, "raw-secret-value");
        cr_assert_str_eq(cfg_webhook(cfg, 0)->secret_previous,
                         "raw-secret-value");
        cfg_destroy(cfg);

        /* whsec_ that is not base64: the content is never shown */
        write_file(path, "whsec_***FILESECRET***\n");
        cfg = load(text);
        cr_assert_null(cfg);
        cr_assert(strstr(errs, "t.cfg:7: webhook 'a' secret_file: the secret "
                               "starts with \"whsec_\"") != NULL,
                  "%s", errs);
        cr_assert_null(strstr(errs, "FILESECRET"));

        write_file(path, "\n");
        expect_err(text, "webhook 'a' secret_file: cannot read the file it "
                         "names");
        cr_assert(strstr(errs, "is empty") != NULL, "%s", errs);
        unlink(path);

        expect_err(text, "t.cfg:7: webhook 'a' secret_file: cannot read the "
                         "file it names");
        cr_assert_null(strstr(errs, path), "%s", errs);
        cr_assert(strstr(errs, "No such file or directory") != NULL, "%s",
                  errs);
}

Test(cfg, secret_forms_are_exclusive_and_never_shown)
{
        expect_err(SECRET_WH("    secret = \"s3cr3t-value\";\n"
                             "    secret_env = \"X\"; }"),
                   "t.cfg:8: webhook 'a' secret_env: set only one of secret, "
                   "secret_env and secret_file");
        cr_assert_null(strstr(errs, "s3cr3t-value"));
        expect_err(SECRET_WH("    previous_secret = \"s3cr3t-value\"; }"),
                   "t.cfg:7: webhook 'a' previous_secret: a previous secret "
                   "needs a current one");
        cr_assert_null(strstr(errs, "s3cr3t-value"));
        expect_err(SECRET_WH("    secret = \"whsec_s3cr3t-value\"; }"),
                   "t.cfg:7: webhook 'a' secret: the secret starts with "
                   "\"whsec_\" but the rest is not valid base64");
        cr_assert_null(strstr(errs, "s3cr3t-value"));
        expect_err(SECRET_WH("    secret = 42; }"),
                   "t.cfg:7: webhook 'a' secret: expected a string, got an "
                   "integer");
        expect_err(SECRET_WH("    signature = \"userpilot\"; }"),
                   "t.cfg:7: webhook 'a' signature: \"userpilot\" needs a "
                   "secret");
}

/* A secret typed into the field that names where it is (issue 14 item
 * 8): the value of secret_env, secret_file and admin.token_env is never
 * printed, whatever is wrong with it. */
Test(cfg, secret_locations_are_never_printed)
{
        static const char *const fields[] = {
                "secret_env", "previous_secret_env", "secret_file",
                "previous_secret_file"};
        char text[512], want[128];

        unsetenv("whsec_c2VjcmV0LWZyb20tZW52");
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
                snprintf(
                        text, sizeof(text),
                        SECRET_WH("    secret = \"s\";\n"
                                  "    %s = \"whsec_c2VjcmV0LWZyb20tZW52\"; }"),
                        fields[i]);
                if (strncmp(fields[i], "previous", 8))
                        snprintf(text, sizeof(text),
                                 SECRET_WH("\n    %s = "
                                           "\"whsec_c2VjcmV0LWZyb20tZW52\"; }"),
                                 fields[i]);
                snprintf(want, sizeof(want),
                         "t.cfg:8: webhook 'a' %s: ", fields[i]);
                expect_err(text, want);
                cr_assert_null(strstr(errs, "c2VjcmV0"), "%s", errs);
                cr_assert(strstr(errs, "looks like a secret"), "%s", errs);
        }
        /* not a variable name, or a file that is not there: not shown */
        expect_err(SECRET_WH("    secret_env = \"hunter2+/=\"; }"),
                   "t.cfg:7: webhook 'a' secret_env: is not an environment "
                   "variable name");
        cr_assert_null(strstr(errs, "hunter2"), "%s", errs);
        unsetenv("HB_TEST_MISSING_NAME");
        expect_err(SECRET_WH("    secret_env = \"HB_TEST_MISSING_NAME\"; }"),
                   "t.cfg:7: webhook 'a' secret_env: the environment "
                   "variable it names is not set");
        cr_assert_null(strstr(errs, "HB_TEST_MISSING_NAME"), "%s", errs);
        expect_err(SECRET_WH("    secret_file = \"/nonexistent/hunter2\"; }"),
                   "t.cfg:7: webhook 'a' secret_file: cannot read the file "
                   "it names: No such file or directory");
        cr_assert_null(strstr(errs, "hunter2"), "%s", errs);

        expect_err(KAFKA WEBHOOKS "admin = { token_env = "
                                  "\"whsec_c2VjcmV0LWZyb20tZW52\"; };\n",
                   "t.cfg:9: admin.token_env: ");
        cr_assert_null(strstr(errs, "c2VjcmV0"), "%s", errs);
        cr_assert(strstr(errs, "looks like a secret"), "%s", errs);
        expect_err(KAFKA WEBHOOKS "admin = { token_env = \"hunter2!\"; };\n",
                   "t.cfg:9: admin.token_env: is not an environment variable "
                   "name");
        cr_assert_null(strstr(errs, "hunter2"), "%s", errs);
}

/* --- headers ---------------------------------------------------------- */

Test(cfg, headers)
{
        cfg_t *cfg = load_ok(SECRET_WH(
                "    headers = [ \"Authorization: Bearer xyz\", \"X-A:b\" ]; "
                "}"));

        cr_assert_eq(cfg_webhook(cfg, 0)->header_count, 2);
        cr_assert_str_eq(cfg_webhook(cfg, 0)->headers[0],
                         "Authorization: Bearer xyz");
        cfg_destroy(cfg);

        expect_err(SECRET_WH("    headers = [ \"X-A: b\\r\\nX-B: hidden\" ]; "
                             "}"),
                   "t.cfg:7: webhook 'a' headers[0]: contains CR or LF");
        cr_assert_null(strstr(errs, "hidden"));
        expect_err(SECRET_WH("    headers = [ \": hidden\" ]; }"),
                   "t.cfg:7: webhook 'a' headers[0]: the header name before "
                   "':' is empty");
        expect_err(SECRET_WH("    headers = [ \"Bad Name: hidden\" ]; }"),
                   "t.cfg:7: webhook 'a' headers[0]: the header name has a "
                   "character HTTP does not allow in names (a blank at "
                   "position 4)");
        cr_assert_null(strstr(errs, "hidden"));
        expect_err(SECRET_WH("    headers = [ \"Bearer hidden\" ]; }"),
                   "t.cfg:7: webhook 'a' headers[0]: expected \"Name: "
                   "value\"");
        cr_assert_null(strstr(errs, "hidden"));
        expect_err(SECRET_WH("    headers = [ \"content-type: text/plain\" ]; "
                             "}"),
                   "t.cfg:7: webhook 'a' headers[0]: 'content-type' is set by "
                   "hookbridge; remove it");
        /* the HTTP layer sets "Expect:" (no 100-continue round trip) */
        expect_err(SECRET_WH("    headers = [ \"expect: 100-continue\" ]; "
                             "}"),
                   "t.cfg:7: webhook 'a' headers[0]: 'expect' is set by "
                   "hookbridge; remove it");
        expect_err(SECRET_WH("    headers = [ \"X-Empty:  \" ]; }"),
                   "t.cfg:7: webhook 'a' headers[0]: 'X-Empty' has an empty "
                   "value");
}

/* --- admin ------------------------------------------------------------ */

/* A problem quotes what the file says: control characters in it (C0,
 * DEL, and C1 such as CSI and NEL) become '?', so a message stays one line
 * and cannot drive the terminal check-config prints to. */
Test(cfg, problems_never_carry_control_characters)
{
        cfg_load_string(KAFKA WEBHOOKS
                        "admin = { listen = \"a\\x1b[2J\\xc2\\x9b"
                        "2Jb\\xc2\\x85\\x7f:1\"; };\n",
                        "t.cfg", errs, sizeof(errs));
        cr_assert(strstr(errs, "t.cfg:9: admin.listen: 'a?[2J?2Jb??:1'"), "%s",
                  errs);
        for (const unsigned char *p = (const unsigned char *)errs; *p; p++)
                cr_expect(
                        (*p >= 0x20 || *p == '\n') && *p != 0x7f &&
                                !(p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f),
                        "control byte 0x%02x in %s", *p, errs);
}

Test(cfg, admin_listen)
{
        expect_err(KAFKA WEBHOOKS "admin = { listen = \"localhost\"; };\n",
                   "t.cfg:9: admin.listen: 'localhost' is not \"host:port\"");
        expect_err(
                KAFKA WEBHOOKS "admin = { listen = \"0.0.0.0:99999\"; };\n",
                "t.cfg:9: admin.listen: '0.0.0.0:99999' is not \"host:port\" "
                "(the port is 0 to 65535)");
        /* the admin listener's own rules, from the one parser: at most 5
         * digits, and port 0 (a free port, logged as admin_port) */
        expect_err(KAFKA WEBHOOKS
                   "admin = { listen = \"127.0.0.1:000009464\"; };\n",
                   "t.cfg:9: admin.listen: '127.0.0.1:000009464' is not");
        cfg_destroy(load_ok(KAFKA WEBHOOKS
                            "admin = { listen = \"127.0.0.1:0\"; };\n"));
        cfg_destroy(load_ok(KAFKA WEBHOOKS
                            "admin = { listen = \"[::1]:09464\"; };\n"));
}

/* The one listen-address parser: what it takes and what it gives. */
Test(cfg, listen_parse)
{
        static const struct {
                const char *s;
                int family;
                const char *addr;
                unsigned port;
        } good[] = {
                {"127.0.0.1:9464", AF_INET, "127.0.0.1", 9464},
                {"0.0.0.0:0", AF_INET, "0.0.0.0", 0},
                {"localhost:80", AF_INET, "127.0.0.1", 80},
                {"[::1]:65535", AF_INET6, "::1", 65535},
                {"[::]:00001", AF_INET6, "::", 1},
        };
        static const char *const bad[] = {
                "",
                "127.0.0.1",
                "127.0.0.1:",
                ":9464",
                "127.0.0.1:65536",
                "127.0.0.1:000009464",
                "1.2.3.4:-1",
                "1.2.3.4:+80",
                "1.2.3.4: 80",
                "1.2.3.4:8 ",
                "256.0.0.1:1",
                "example.com:80",
                "::1:9464",
                "[::1:9464",
                "[::1]9464",
                "[]:9464",
                "[::1]:",
                "[127.0.0.1]:9464",
                "[fe80::1%lo]:9464",
                "1.2.3.4:80:80",
        };
        struct sockaddr_storage ss;
        char why[128], text[64];

        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                cr_assert_eq(cfg_listen_parse(good[i].s, &ss, why, sizeof(why)),
                             0, "%s: %s", good[i].s, why);
                cr_expect_eq(ss.ss_family, good[i].family, "%s", good[i].s);
                if (ss.ss_family == AF_INET) {
                        const struct sockaddr_in *a = (const void *)&ss;
                        inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
                        cr_expect_eq(ntohs(a->sin_port), good[i].port);
                } else {
                        const struct sockaddr_in6 *a = (const void *)&ss;
                        inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
                        cr_expect_eq(ntohs(a->sin6_port), good[i].port);
                }
                cr_expect_str_eq(text, good[i].addr, "%s", good[i].s);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                why[0] = '\0';
                cr_expect_eq(cfg_listen_parse(bad[i], &ss, why, sizeof(why)),
                             -1, "'%s' accepted", bad[i]);
                cr_expect_neq(why[0], '\0', "'%s': no reason", bad[i]);
        }
        cr_expect_eq(cfg_listen_parse(NULL, &ss, NULL, 0), -1);
}

/* A listener beyond loopback without a token would open /status and
 * /metrics to the network: refused unless admin.allow_open says so. */
Test(cfg, admin_open_listener_needs_a_token_or_allow_open)
{
        static const char *const open_ones[] = {"0.0.0.0:9464", "10.1.2.3:9464",
                                                "[::]:9464", "[fd00::1]:9464",
                                                "128.0.0.1:9464"};
        static const char *const loopback[] = {"127.0.0.1:9464", "127.3.4.5:1",
                                               "localhost:9464", "[::1]:9464",
                                               "[::ffff:127.0.0.1]:9464"};
        char text[512];
        cfg_t *cfg;

        for (size_t i = 0; i < sizeof(open_ones) / sizeof(*open_ones); i++) {
                snprintf(text, sizeof(text),
                         KAFKA WEBHOOKS "admin = { listen = \"%s\"; };\n",
                         open_ones[i]);
                expect_err(text, "t.cfg:9: admin.listen: '");
                cr_expect(strstr(errs, "is not a loopback address") &&
                                  strstr(errs, "admin.allow_open = true") &&
                                  strstr(errs, "admin.token_env"),
                          "%s: %s", open_ones[i], errs);
                /* allowed: loads, and the worker is told to warn */
                snprintf(text, sizeof(text),
                         KAFKA WEBHOOKS "admin = { listen = \"%s\";\n"
                                        "  allow_open = true; };\n",
                         open_ones[i]);
                cfg = load_ok(text);
                cr_expect(cfg_admin(cfg)->open, "%s", open_ones[i]);
                cfg_destroy(cfg);
                /* a token: no switch needed, nothing to warn about */
                snprintf(text, sizeof(text),
                         KAFKA WEBHOOKS "admin = { listen = \"%s\";\n"
                                        "  token = \"t0ken\"; };\n",
                         open_ones[i]);
                cfg = load_ok(text);
                cr_expect(!cfg_admin(cfg)->open, "%s", open_ones[i]);
                cfg_destroy(cfg);
        }
        for (size_t i = 0; i < sizeof(loopback) / sizeof(*loopback); i++) {
                snprintf(text, sizeof(text),
                         KAFKA WEBHOOKS "admin = { listen = \"%s\"; };\n",
                         loopback[i]);
                cfg = load_ok(text);
                cr_expect(!cfg_admin(cfg)->open, "%s", loopback[i]);
                cfg_destroy(cfg);
        }
        /* off, and the default: loopback */
        cfg = load_ok(KAFKA WEBHOOKS "admin = { listen = \"\"; };\n");
        cr_expect(!cfg_admin(cfg)->open);
        cfg_destroy(cfg);
        cfg = load_ok(KAFKA WEBHOOKS);
        cr_expect(!cfg_admin(cfg)->open);
        cfg_destroy(cfg);
}

/* --- delivery: revoke, responses, circuit breaker, https_only --------- */

Test(cfg, delivery_revoke_response_circuit)
{
        cfg_t *cfg = load_ok(KAFKA WEBHOOKS
                             "delivery = { revoke_timeout_ms = 0;\n"
                             "  max_response_bytes = 65536;\n"
                             "  circuit = { failures = 0; open_ms = 100; };\n"
                             "};\n");
        const cfg_delivery_t *d = cfg_delivery(cfg);

        cr_assert_eq(d->revoke_timeout_ms, 0);
        cr_assert_eq(d->max_response_bytes, 65536);
        cr_assert_eq(d->circuit_failures, 0); /* 0: breaker off */
        cr_assert_eq(d->circuit_open_ms, 100);
        cfg_destroy(cfg);

        /* one circuit setting: the other keeps its default */
        cfg = load_ok(KAFKA WEBHOOKS
                      "delivery = { revoke_timeout_ms = 600000;\n"
                      "  circuit = { failures = 10000; }; };\n");
        d = cfg_delivery(cfg);
        cr_assert_eq(d->revoke_timeout_ms, 600000);
        cr_assert_eq(d->circuit_failures, 10000);
        cr_assert_eq(d->circuit_open_ms, 30000);
        cfg_destroy(cfg);

        expect_err(KAFKA WEBHOOKS
                   "delivery = { revoke_timeout_ms = 600001; };\n",
                   "t.cfg:9: delivery.revoke_timeout_ms: 600001 is out of "
                   "range; use a value from 0 to 600000");
        expect_err(KAFKA WEBHOOKS "delivery = { max_response_bytes = -1; };\n",
                   "t.cfg:9: delivery.max_response_bytes: -1 is out of "
                   "range; use a value from 0 to 65536");
        expect_err(KAFKA WEBHOOKS
                   "delivery = { max_response_bytes = 65537; };\n",
                   "t.cfg:9: delivery.max_response_bytes: 65537 is out of "
                   "range");
        expect_err(KAFKA WEBHOOKS "delivery = {\n"
                                  "  circuit = { failures = 10001;\n"
                                  "    open_ms = 99; };\n"
                                  "};\n",
                   "t.cfg:10: delivery.circuit.failures: 10001 is out of "
                   "range; use a value from 0 to 10000");
        cr_assert(strstr(errs, "\nt.cfg:11: delivery.circuit.open_ms: 99 is "
                               "out of range; use a value from 100 to "
                               "3600000") != NULL,
                  "%s", errs);
        expect_err(KAFKA WEBHOOKS "delivery = { circuit = { failures = -1; "
                                  "open_ms = 3600001; }; };\n",
                   "delivery.circuit.open_ms: 3600001 is out of range");
        cr_assert(strstr(errs, "delivery.circuit.failures: -1 is out of "
                               "range") != NULL,
                  "%s", errs);
        expect_err(KAFKA WEBHOOKS "delivery = { circuit = 5; };\n",
                   "t.cfg:9: delivery.circuit: expected a group");
        expect_err(KAFKA WEBHOOKS
                   "delivery = { circuit = { failure = 5; }; };\n",
                   "t.cfg:9: unknown setting 'failure' in delivery.circuit; "
                   "known: failures, open_ms; did you mean 'failures'?");
}

Test(cfg, https_only)
{
        cfg_t *cfg =
                load_ok(KAFKA WEBHOOKS "delivery = { https_only = true; };\n");

        cr_assert_eq(cfg_delivery(cfg)->https_only, 1);
        cfg_destroy(cfg);

        /* off (the default): http:// is fine */
        cfg = load_ok(KAFKA "webhooks = ( { name = \"a\"; url = \"http://a/\"; "
                            "events = [ \"*\" ]; } );\n"
                            "delivery = { https_only = false; };\n");
        cr_assert_eq(cfg_delivery(cfg)->https_only, 0);
        cfg_destroy(cfg);

        expect_err(KAFKA "webhooks = (\n"
                         "  { name = \"a\"; url = \"http://a/\";\n"
                         "    events = [ \"*\" ]; },\n"
                         "  { name = \"b\"; url = \"HTTPS://b/\";\n"
                         "    events = [ \"*\" ]; }\n"
                         ");\n"
                         "delivery = { https_only = true; };\n",
                   "t.cfg:6: webhook 'a' url: must be https:// "
                   "(delivery.https_only = true)");
        cr_assert_eq(count_lines(errs), 1, "%s", errs);
        expect_err(KAFKA WEBHOOKS "delivery = { https_only = 1; };\n",
                   "t.cfg:9: delivery.https_only: expected true or false, "
                   "got an integer");
}

/* --- delivery.allow_networks ------------------------------------------ */

Test(cfg, allow_networks)
{
        cfg_t *cfg =
                load_ok(KAFKA WEBHOOKS
                        "delivery = { allow_networks = [ \"127.0.0.0/8\",\n"
                        "  \"::1/128\", \"10.1.2.3\", \"fd00::\",\n"
                        "  \"0.0.0.0/0\", \"::/0\", \"10.0.0.0/032\" ]; "
                        "};\n");
        const cfg_delivery_t *d = cfg_delivery(cfg);

        cr_assert_eq(d->allow_network_count, 7);
        cr_assert_str_eq(d->allow_networks[0], "127.0.0.0/8");
        cr_assert_str_eq(d->allow_networks[1], "::1/128");
        cr_assert_str_eq(d->allow_networks[2], "10.1.2.3");
        cr_assert_str_eq(d->allow_networks[3], "fd00::");
        cr_assert_str_eq(d->allow_networks[5], "::/0");
        cfg_destroy(cfg);

        cfg = load_ok(KAFKA WEBHOOKS "delivery = { allow_networks = [ ]; };\n");
        cr_assert_eq(cfg_delivery(cfg)->allow_network_count, 0);
        cfg_destroy(cfg);

        /* every bad one, each with its line (libconfig puts a string at
         * the line of the token after it, as it joins adjacent strings:
         * the last one ends its line here) */
        cfg = load(KAFKA WEBHOOKS "delivery = { allow_networks = [\n" /* 9 */
                                  "  \"10.0.0.0/8\",\n"               /* 10 */
                                  "  \"10.0.0.0/33\",\n"              /* 11 */
                                  "  \"::1/129\",\n"                  /* 12 */
                                  "  \"localhost\",\n"                /* 13 */
                                  "  \"10.0.0.0/\",\n"                /* 14 */
                                  "  \"10.0.0.0/+8\",\n"              /* 15 */
                                  "  \"10.0.0.0/8/8\",\n"             /* 16 */
                                  "  \"10.0.0/8\",\n"                 /* 17 */
                                  "  \"/8\",\n"                       /* 18 */
                                  "  \"fe80::1%eth0\",\n"             /* 19 */
                                  "  \"\" ]; };\n");                  /* 20 */
        cr_assert_null(cfg);
        cr_assert_eq(count_lines(errs), 10, "%s", errs);
        cr_assert(strstr(errs, "t.cfg:11: delivery.allow_networks[1]: "
                               "'10.0.0.0/33' is not a CIDR; write e.g. "
                               "\"127.0.0.0/8\", \"10.1.2.3\" or "
                               "\"::1/128\"\n") == errs,
                  "%s", errs);
        cr_assert(strstr(errs, "\nt.cfg:12: delivery.allow_networks[2]: "
                               "'::1/129' is not a CIDR") != NULL,
                  "%s", errs);
        cr_assert(strstr(errs, "\nt.cfg:13: delivery.allow_networks[3]: "
                               "'localhost' is not a CIDR") != NULL,
                  "%s", errs);
        cr_assert(strstr(errs, "\nt.cfg:14: delivery.allow_networks[4]: "
                               "'10.0.0.0/' is not a CIDR") != NULL,
                  "%s", errs);
        cr_assert(strstr(errs, "\nt.cfg:15: delivery.allow_networks[5]: "
                               "'10.0.0.0/+8' is not a CIDR") != NULL,
                  "%s", errs);
        cr_assert(strstr(errs, "\nt.cfg:16: delivery.allow_networks[6]: "
                               "'10.0.0.0/8/8' is not a CIDR") != NULL,
                  "%s", errs);
        cr_assert(strstr(errs, "\nt.cfg:17: delivery.allow_networks[7]: "
                               "'10.0.0/8' is not a CIDR") != NULL,
                  "%s", errs);
        cr_assert(strstr(errs, "\nt.cfg:18: delivery.allow_networks[8]: "
                               "'/8' is not a CIDR") != NULL,
                  "%s", errs);
        cr_assert(strstr(errs, "\nt.cfg:19: delivery.allow_networks[9]: "
                               "'fe80::1%eth0' is not a CIDR") != NULL,
                  "%s", errs);
        cr_assert(strstr(errs, "\nt.cfg:20: delivery.allow_networks[10]: "
                               "must not be empty") != NULL,
                  "%s", errs);

        expect_err(KAFKA WEBHOOKS "delivery = {\n"
                                  "  allow_networks = ( \"127.0.0.1\", 42 ); "
                                  "};\n",
                   "t.cfg:10: delivery.allow_networks[1]: expected a string, "
                   "got an integer");
        expect_err(KAFKA WEBHOOKS
                   "delivery = { allow_networks = \"127.0.0.0/8\"; };\n",
                   "t.cfg:9: delivery.allow_networks: expected a list");
}

/* --- per webhook: max_in_flight, tls ------------------------------------ */

Test(cfg, webhook_max_in_flight)
{
        cfg_t *cfg = load_ok(
                KAFKA
                "webhooks = (\n"
                "  { name = \"a\"; url = \"http://a/\"; events = [ \"*\" ];\n"
                "    max_in_flight = 9; },\n"
                "  { name = \"b\"; url = \"http://b/\"; events = [ \"*\" ]; }\n"
                ");\n"
                "delivery = { concurrency = 9; };\n");

        cr_assert_eq(cfg_webhook(cfg, 0)->max_in_flight, 9);
        cr_assert_eq(cfg_webhook(cfg, 1)->max_in_flight, 4); /* 9 / 2 */
        cfg_destroy(cfg);

        cfg = load_ok(KAFKA WEBHOOKS "delivery = { concurrency = 1; };\n");
        cr_assert_eq(cfg_webhook(cfg, 0)->max_in_flight, 1); /* at least 1 */
        cfg_destroy(cfg);

        expect_err(
                KAFKA
                "webhooks = (\n"
                "  { name = \"a\"; url = \"http://a/\"; events = [ \"*\" ];\n"
                "    max_in_flight = 10; }\n"
                ");\n"
                "delivery = { concurrency = 9; };\n",
                "t.cfg:7: webhook 'a' max_in_flight: 10 is above "
                "delivery.concurrency (9); lower it or raise concurrency");
        expect_err(SECRET_WH("    max_in_flight = 65; }"),
                   "t.cfg:7: webhook 'a' max_in_flight: 65 is above "
                   "delivery.concurrency (64)");
        expect_err(SECRET_WH("    max_in_flight = 0; }"),
                   "t.cfg:7: webhook 'a' max_in_flight: 0 is out of range; "
                   "use a value from 1 to 4096");
        expect_err(SECRET_WH("    max_in_flight = 4097; }"),
                   "t.cfg:7: webhook 'a' max_in_flight: 4097 is out of range");
}

/* A webhook with url \p url and "tls = { \p tls };" on line 7. */
static const char *tls_cfg(char *buf, size_t size, const char *url,
                           const char *tls)
{
        snprintf(buf, size,
                 KAFKA "webhooks = (\n"
                       "  { name = \"a\"; url = \"%s\"; events = [ \"*\" ];\n"
                       "    tls = { %s }; }\n"
                       ");\n",
                 url, tls);
        return buf;
}

Test(cfg, webhook_tls)
{
        char ca[] = "/tmp/hb-ca-XXXXXX", cert[] = "/tmp/hb-cert-XXXXXX";
        char key[] = "/tmp/hb-key-XXXXXX";
        char tls[512], text[1024];
        const cfg_webhook_t *wh;
        cfg_t *cfg;

        write_file(ca, "ca\n");
        write_file(cert, "cert\n");
        write_file(key, "key\n"); /* mkstemp: 0600 */
        snprintf(tls, sizeof(tls),
                 "ca_file = \"%s\"; client_cert = \"%s\"; client_key = \"%s\";",
                 ca, cert, key);
        cfg = load_ok(tls_cfg(text, sizeof(text), "https://a/", tls));
        wh = cfg_webhook(cfg, 0);
        cr_assert_str_eq(wh->tls.ca_file, ca);
        cr_assert_str_eq(wh->tls.client_cert, cert);
        cr_assert_str_eq(wh->tls.client_key, key);
        cfg_destroy(cfg);

        snprintf(tls, sizeof(tls), "ca_file = \"%s\";", ca);
        cfg = load_ok(tls_cfg(text, sizeof(text), "https://a/", tls));
        cr_assert_str_eq(cfg_webhook(cfg, 0)->tls.ca_file, ca);
        cr_assert_null(cfg_webhook(cfg, 0)->tls.client_cert);
        cfg_destroy(cfg);

        /* a missing file is named */
        expect_err(tls_cfg(text, sizeof(text), "https://a/",
                           "ca_file = \"/nonexistent/ca.pem\";"),
                   "t.cfg:7: webhook 'a' tls.ca_file: cannot read "
                   "'/nonexistent/ca.pem': No such file or directory");
        snprintf(tls, sizeof(tls),
                 "client_cert = \"%s\"; client_key = \"/nonexistent/k\";",
                 cert);
        expect_err(tls_cfg(text, sizeof(text), "https://a/", tls),
                   "t.cfg:7: webhook 'a' tls.client_key: cannot read the "
                   "file it names: No such file or directory");
        cr_assert_null(strstr(errs, "/nonexistent/k"), "%s", errs);
        expect_err(tls_cfg(text, sizeof(text), "https://a/",
                           "ca_file = \"/tmp\";"),
                   "t.cfg:7: webhook 'a' tls.ca_file: cannot read '/tmp': is "
                   "a directory");
        if (geteuid() != 0) { /* root reads anything */
                cr_assert_eq(chmod(ca, 0), 0);
                snprintf(tls, sizeof(tls), "ca_file = \"%s\";", ca);
                expect_err(tls_cfg(text, sizeof(text), "https://a/", tls),
                           "t.cfg:7: webhook 'a' tls.ca_file: cannot read");
                cr_assert(strstr(errs, "Permission denied") != NULL, "%s",
                          errs);
                cr_assert_eq(chmod(ca, 0600), 0);
        }

        /* client_cert and client_key go together */
        snprintf(tls, sizeof(tls), "client_cert = \"%s\";", cert);
        expect_err(tls_cfg(text, sizeof(text), "https://a/", tls),
                   "t.cfg:7: webhook 'a' tls: client_cert and client_key go "
                   "together; set both or neither");
        snprintf(tls, sizeof(tls), "client_key = \"%s\";", key);
        expect_err(tls_cfg(text, sizeof(text), "https://a/", tls),
                   "t.cfg:7: webhook 'a' tls: client_cert and client_key go "
                   "together");

        /* TLS settings on an http:// url */
        snprintf(tls, sizeof(tls), "ca_file = \"%s\";", ca);
        expect_err(tls_cfg(text, sizeof(text), "http://a/", tls),
                   "t.cfg:7: webhook 'a' tls: TLS settings on an http:// url; "
                   "use https://");
        cr_assert_eq(count_lines(errs), 1, "%s", errs);

        expect_err(tls_cfg(text, sizeof(text), "https://a/", "ca_file = \"\";"),
                   "t.cfg:7: webhook 'a' tls.ca_file: must not be empty");
        expect_err(tls_cfg(text, sizeof(text), "https://a/", "cafile = \"x\";"),
                   "t.cfg:7: unknown setting 'cafile' in webhook 'a' tls; "
                   "known: ca_file, client_cert, client_key; did you mean "
                   "'ca_file'?");
        expect_err(SECRET_WH("    tls = \"on\"; }"),
                   "t.cfg:7: webhook 'a' tls: expected a group");

        unlink(ca);
        unlink(cert);
        unlink(key);
}

Test(cfg, tls_client_key_readable_by_others_is_a_warning)
{
        char cert[] = "/tmp/hb-cert-XXXXXX", key[] = "/tmp/hb-key-XXXXXX";
        char tls[512], text[1024], want[512];
        cfg_t *cfg;

        write_file(cert, "cert\n");
        write_file(key, "-----BEGIN PRIVATE KEY-----\nKEYBYTES\n");
        snprintf(tls, sizeof(tls), "client_cert = \"%s\"; client_key = \"%s\";",
                 cert, key);
        tls_cfg(text, sizeof(text), "https://a/", tls);

        cr_assert_eq(chmod(key, 0640), 0);
        cfg = load(text);
        cr_assert_not_null(cfg, "%s", errs);
        snprintf(want, sizeof(want),
                 "t.cfg:7: warning: webhook 'a' tls.client_key: the file it "
                 "names is readable by other users (mode 0640); chmod 600 "
                 "it%s",
                 "");
        cr_assert_str_eq(errs, want);
        cr_assert_null(strstr(errs, "KEYBYTES"));
        cfg_destroy(cfg);

        /* a readable certificate is fine: it is public */
        cr_assert_eq(chmod(cert, 0644), 0);
        cr_assert_eq(chmod(key, 0600), 0);
        cfg_destroy(load_ok(text));

        unlink(cert);
        unlink(key);
}

/* --- admin.token ------------------------------------------------------ */

Test(cfg, admin_token)
{
        cfg_t *cfg =
                load_ok(KAFKA WEBHOOKS "admin = { token = \"t0k3n\"; };\n");

        cr_assert_str_eq(cfg_admin(cfg)->token, "t0k3n");
        cfg_destroy(cfg);

        setenv("HB_TEST_ADMIN_TOKEN", "from-env-token", 1);
        cfg = load_ok(KAFKA WEBHOOKS
                      "admin = { token_env = \"HB_TEST_ADMIN_TOKEN\"; };\n");
        cr_assert_str_eq(cfg_admin(cfg)->token, "from-env-token");
        cfg_destroy(cfg);

        unsetenv("HB_TEST_ADMIN_MISSING");
        expect_err(KAFKA WEBHOOKS
                   "admin = { token_env = \"HB_TEST_ADMIN_MISSING\"; };\n",
                   "t.cfg:9: admin.token_env: the environment variable it "
                   "names is not set or empty");
        cr_assert_null(strstr(errs, "HB_TEST_ADMIN_MISSING"), "%s", errs);
        setenv("HB_TEST_ADMIN_EMPTY", "", 1);
        expect_err(KAFKA WEBHOOKS
                   "admin = { token_env = \"HB_TEST_ADMIN_EMPTY\"; };\n",
                   "t.cfg:9: admin.token_env: the environment variable it "
                   "names is not set or empty");
        expect_err(KAFKA WEBHOOKS "admin = { token_env = \"NOT-A-NAME\"; };\n",
                   "t.cfg:9: admin.token_env: is not an environment "
                   "variable name");
        expect_err(KAFKA WEBHOOKS "admin = { token_env = 5; };\n",
                   "t.cfg:9: admin.token_env: expected the name of an "
                   "environment variable");

        /* never printed */
        expect_err(KAFKA WEBHOOKS "admin = { token = \"s3cr3t-admin\";\n"
                                  "  token_env = \"HB_TEST_ADMIN_TOKEN\"; };\n",
                   "t.cfg:10: admin: token and token_env both set; keep one");
        cr_assert_null(strstr(errs, "s3cr3t-admin"));
        cr_assert_null(strstr(errs, "from-env-token"));
        expect_err(KAFKA WEBHOOKS "admin = { token = \"\"; };\n",
                   "t.cfg:9: admin.token: expected a non-empty string");
        expect_err(KAFKA WEBHOOKS "admin = { token = 5; };\n",
                   "t.cfg:9: admin.token: expected a non-empty string");
}

/* --- warnings ---------------------------------------------------------- */

Test(cfg, secret_file_readable_by_others_is_a_warning)
{
        char path[] = "/tmp/hb-secret-XXXXXX";
        char cfgpath[] = "/tmp/hb-cfg-XXXXXX";
        char text[512], want[512];
        cfg_t *cfg;

        write_file(path, "top-secret-value\n");
        cr_assert_eq(chmod(path, 0644), 0);
        snprintf(text, sizeof(text), SECRET_WH("    secret_file = \"%s\"; }"),
                 path);

        /* loads, with the warning in errstr; the secret is not shown */
        cfg = load(text);
        cr_assert_not_null(cfg, "%s", errs);
        cr_assert_str_eq(cfg_webhook(cfg, 0)->secret, "top-secret-value");
        snprintf(want, sizeof(want),
                 "t.cfg:7: warning: webhook 'a' secret_file: the file it "
                 "names is readable by other users (mode 0644); chmod 600 "
                 "it%s",
                 "");
        cr_assert_str_eq(errs, want);
        cr_assert_null(strstr(errs, "top-secret"));
        cfg_destroy(cfg);

        /* the same through cfg_load() of a file */
        write_file(cfgpath, text);
        cfg = cfg_load(cfgpath, errs, sizeof(errs));
        unlink(cfgpath);
        cr_assert_not_null(cfg, "%s", errs);
        cr_assert(strncmp(errs, cfgpath, strlen(cfgpath)) == 0, "%s", errs);
        cr_assert(strstr(errs, ":7: warning: webhook 'a' secret_file:") != NULL,
                  "%s", errs);
        cr_assert_eq(count_lines(errs), 1, "%s", errs);
        cfg_destroy(cfg);

        /* group-readable, and previous_secret_file: warned too */
        cr_assert_eq(chmod(path, 0640), 0);
        snprintf(text, sizeof(text),
                 SECRET_WH("    secret = \"s\";\n"
                           "    previous_secret_file = \"%s\"; }"),
                 path);
        cfg = load(text);
        cr_assert_not_null(cfg, "%s", errs);
        snprintf(want, sizeof(want),
                 "t.cfg:8: warning: webhook 'a' previous_secret_file: the "
                 "file it names is readable by other users (mode 0640); "
                 "chmod 600 it%s",
                 "");
        cr_assert_str_eq(errs, want);
        cfg_destroy(cfg);

        /* 0600: no warning, errstr "" */
        cr_assert_eq(chmod(path, 0600), 0);
        cfg_destroy(load_ok(text));

        /* with an error as well: the load fails and both are listed, in
         * line order */
        cr_assert_eq(chmod(path, 0604), 0);
        snprintf(text, sizeof(text),
                 SECRET_WH("    secret_file = \"%s\";\n"
                           "    timeout_ms = 1; }"),
                 path);
        expect_err(text, "\nt.cfg:8: webhook 'a' timeout_ms: 1 is out of "
                         "range");
        cr_assert(strstr(errs, "t.cfg:7: warning: webhook 'a' secret_file:") ==
                          errs,
                  "%s", errs);
        cr_assert(strstr(errs, "(mode 0604)") != NULL, "%s", errs);
        cr_assert_eq(count_lines(errs), 2, "%s", errs);
        unlink(path);
}

/* delivery.retry's tiers (SPEC §4a): Svix's schedule by default, topics
 * named after the group, [] for none. */
Test(cfg, retry_tiers_default_and_set)
{
        cfg_t *cfg = load_ok(KAFKA WEBHOOKS);
        const cfg_tiers_t *t = &cfg_delivery(cfg)->tiers;
        char name[128];

        cr_assert_eq(t->schedule.n, 7);
        cr_expect_eq(t->schedule.delay_ms[0], 5000);
        cr_expect_eq(t->schedule.delay_ms[6], 36000000);
        cr_expect_str_eq(t->topic_prefix, "hookbridge.retry");
        cr_expect_eq(t->partitions, 6);
        cr_expect_str_eq(hb_sched_topic(&t->schedule, t->topic_prefix, 2, name,
                                        sizeof(name)),
                         "hookbridge.retry-2-30m");
        cfg_destroy(cfg);

        cfg = load_ok("kafka = { brokers = \"b:1\"; group_id = \"g1\"; "
                      "topics = ( \"events\" ); };\n"
                      "delivery = { retry = { schedule = [ \"1s\", "
                      "\"250ms\" ]; tier_partitions = 2; }; };\n" WEBHOOKS);
        t = &cfg_delivery(cfg)->tiers;
        cr_assert_eq(t->schedule.n, 2);
        cr_expect_eq(t->schedule.delay_ms[1], 250);
        cr_expect_str_eq(t->topic_prefix, "g1.retry");
        cr_expect_eq(t->partitions, 2);
        cfg_destroy(cfg);

        cfg = load_ok(KAFKA "delivery = { retry = { schedule = [ ]; "
                            "topic_prefix = \"x.t\"; }; };\n" WEBHOOKS);
        t = &cfg_delivery(cfg)->tiers;
        cr_expect_eq(t->schedule.n, 0);
        cr_expect_str_eq(t->topic_prefix, "x.t");
        cfg_destroy(cfg);
}

Test(cfg, retry_tiers_problems)
{
        expect_err(KAFKA "delivery = { retry = { schedule = [ \"1s\", "
                         "\"2x\" ]; }; };\n" WEBHOOKS,
                   "t.cfg:5: delivery.retry.schedule[1]: '2x'");
        expect_err(KAFKA
                   "delivery = { retry = { schedule = \"5s\"; }; };\n" WEBHOOKS,
                   "t.cfg:5: delivery.retry.schedule: expected a list");
        expect_err(KAFKA "delivery = { retry = { topic_prefix = \"a b\"; }; "
                         "};\n" WEBHOOKS,
                   "delivery.retry.topic_prefix: 'a b' is not a valid");
        expect_err(
                KAFKA
                "delivery = { retry = { tier_partitions = 0; }; };\n" WEBHOOKS,
                "delivery.retry.tier_partitions: 0 is out of range");
        expect_err(
                "kafka = { brokers = \"b:1\"; topics = ( \"p-0-5s\" ); };\n"
                "delivery = { retry = { topic_prefix = \"p\"; }; };\n" WEBHOOKS,
                "delivery.retry.topic_prefix: the tier topics");
        /* the tiers are the deployment's: not per webhook */
        expect_err(KAFKA "webhooks = ( { name = \"crm\"; url = "
                         "\"https://example.com/hook\"; events = [ \"*\" ]; "
                         "retry = { schedule = [ \"1s\" ]; }; } );\n",
                   "unknown setting 'schedule'");
}
