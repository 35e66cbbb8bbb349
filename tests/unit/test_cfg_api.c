/* Tests for cfg_api: the api section (SPEC §7) -- defaults, tokens from
 * the file, the environment and a file, the secret key, and every rule's
 * FILE:LINE message. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"

#define KAFKA   "kafka = { brokers = \"127.0.0.1:9092\"; topics = ( \"e\" ); };\n"
#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static char errs[16384];

static cfg_t *load(const char *text)
{
        return cfg_load_string(text, "t.cfg", errs, sizeof(errs));
}

static void expect_err(const char *text, const char *needle)
{
        cfg_t *cfg = load(text);

        cr_assert_null(cfg, "expected a failure with \"%s\"", needle);
        cr_assert(strstr(errs, needle) != NULL, "expected\n  %s\namong\n%s",
                  needle, errs);
}

static void init(void)
{
        setenv("HB_T_KEY", KEY_B64, 1);
        setenv("HB_T_TOKENS", "aaaaaaaaaaaaaaaa\n\nbbbbbbbbbbbbbbbbbbbb\n", 1);
}

TestSuite(cfg_api, .init = init);

Test(cfg_api, off_by_default_with_the_documented_defaults)
{
        cfg_t *cfg = load(KAFKA "webhooks = ( { name = \"a\"; url = "
                                "\"https://x.example/h\"; events = [ \"*\" "
                                "]; } );\n");
        const cfg_api_t *a;

        cr_assert_not_null(cfg, "%s", errs);
        a = cfg_api(cfg);
        cr_expect_null(a->listen);
        cr_expect_str_eq(a->store_topic, "hookbridge.webhooks");
        cr_expect_eq(a->rotation_grace_ms, 24LL * 3600 * 1000);
        cr_expect_eq(a->max_webhooks_per_app, 50);
        cr_expect_str_eq(a->frame_ancestors, "'none'");
        cr_expect_eq(a->token_count, 0);
        cfg_destroy(cfg);
}

Test(cfg_api, on_with_no_webhooks_in_the_file)
{
        cfg_t *cfg = load(KAFKA "webhooks = ( );\n"
                                "api = { listen = \"127.0.0.1:0\"; "
                                "secret_key_env = \"HB_T_KEY\"; "
                                "token = \"0123456789abcdef\"; "
                                "token_env = \"HB_T_TOKENS\"; "
                                "rotation_grace = \"30m\"; "
                                "max_webhooks_per_app = 3; };\n");
        const cfg_api_t *a;

        cr_assert_not_null(cfg, "%s", errs);
        a = cfg_api(cfg);
        cr_expect_str_eq(a->listen, "127.0.0.1:0");
        cr_expect(a->have_secret_key);
        cr_expect_eq(a->secret_key[0], 0);
        cr_expect_eq(a->secret_key[31], 31);
        cr_assert_eq(a->token_count, 3);
        cr_expect_str_eq(a->tokens[0], "0123456789abcdef");
        cr_expect_str_eq(a->tokens[1], "aaaaaaaaaaaaaaaa");
        cr_expect_str_eq(a->tokens[2], "bbbbbbbbbbbbbbbbbbbb");
        cr_expect_eq(a->rotation_grace_ms, 30 * 60 * 1000);
        cr_expect_eq(a->max_webhooks_per_app, 3);
        cr_expect_eq(cfg_webhook_count(cfg), 0);
        cfg_destroy(cfg);
}

Test(cfg_api, tokens_from_a_file_one_a_line)
{
        char path[] = "/tmp/hb-cfg-api-XXXXXX", text[512];
        int fd = mkstemp(path);
        cfg_t *cfg;

        cr_assert(fd >= 0);
        cr_assert(write(fd, "cccccccccccccccc\r\ndddddddddddddddd\n", 35) ==
                  35);
        close(fd);
        snprintf(text, sizeof(text),
                 KAFKA "webhooks = ( );\napi = { listen = \"127.0.0.1:0\"; "
                       "secret_key_env = \"HB_T_KEY\"; token_file = "
                       "\"%s\"; };\n",
                 path);
        cfg = load(text);
        unlink(path);
        cr_assert_not_null(cfg, "%s", errs);
        cr_assert_eq(cfg_api(cfg)->token_count, 2);
        cr_expect_str_eq(cfg_api(cfg)->tokens[1], "dddddddddddddddd");
        cfg_destroy(cfg);
}

Test(cfg_api, without_the_api_the_file_needs_a_webhook)
{
        expect_err(KAFKA "webhooks = ( );\n", "t.cfg:2: webhooks: is empty");
}

Test(cfg_api, on_without_a_key_is_an_error)
{
        expect_err(KAFKA "webhooks = ( );\napi = { listen = "
                         "\"127.0.0.1:8080\"; };\n",
                   "t.cfg:3: api.listen: the API stores webhook secrets "
                   "encrypted and needs a key");
}

Test(cfg_api, a_key_that_is_not_32_bytes_of_base64)
{
        setenv("HB_T_SHORT", "AAECAwQFBgcICQoLDA0ODw==", 1);
        expect_err(KAFKA "webhooks = ( );\napi = { listen = "
                         "\"127.0.0.1:8080\";\nsecret_key_env = "
                         "\"HB_T_SHORT\"; };\n",
                   "t.cfg:4: api.secret_key_env: the key is 32 bytes "
                   "written in base64 (44 characters)");
}

Test(cfg_api, beyond_loopback_needs_a_token_or_allow_open)
{
        cfg_t *cfg;

        expect_err(KAFKA "webhooks = ( );\napi = { listen = "
                         "\"0.0.0.0:8080\"; secret_key_env = \"HB_T_KEY\"; "
                         "};\n",
                   "t.cfg:3: api.listen: '0.0.0.0:8080' is not a loopback "
                   "address and the API has no token");
        cfg = load(KAFKA "webhooks = ( );\napi = { listen = \"0.0.0.0:8080\"; "
                         "secret_key_env = \"HB_T_KEY\"; allow_open = true; "
                         "};\n");
        cr_assert_not_null(cfg, "%s", errs);
        cr_expect(cfg_api(cfg)->open);
        cfg_destroy(cfg);
}

Test(cfg_api, every_rule_names_its_setting_and_line)
{
        expect_err(KAFKA "webhooks = ( );\napi = {\n"
                         "listen = \"127.0.0.1:8080\";\n"
                         "secret_key_env = \"HB_T_KEY\";\n"
                         "token = \"short\";\n"
                         "rotation_grace = \"soon\";\n"
                         "store_topic = \"bad topic\";\n"
                         "max_webhooks_per_app = 0;\n"
                         "frame_ancestors = \"'self'; script-src *\";\n"
                         "tokens = 1;\n"
                         "};\n",
                   "t.cfg:6: api.token: a token has 16 to 4096 characters");
        cr_expect(strstr(errs, "t.cfg:7: api.rotation_grace: "), "%s", errs);
        cr_expect(strstr(errs, "t.cfg:8: api.store_topic: 'bad topic' is "
                               "not a valid Kafka topic name"),
                  "%s", errs);
        cr_expect(strstr(errs, "t.cfg:9: api.max_webhooks_per_app: 0 is out "
                               "of range"),
                  "%s", errs);
        cr_expect(strstr(errs, "t.cfg:10: api.frame_ancestors: "), "%s", errs);
        cr_expect(strstr(errs, "t.cfg:11: unknown setting 'tokens' in api; "),
                  "%s", errs);
        cr_expect(strstr(errs, "did you mean 'token'?"), "%s", errs);
        /* a token is never printed */
        cr_expect_null(strstr(errs, "short\""), "%s", errs);
}

Test(cfg_api, a_token_env_naming_nothing)
{
        expect_err(KAFKA "webhooks = ( );\napi = { listen = "
                         "\"127.0.0.1:8080\"; secret_key_env = \"HB_T_KEY\";\n"
                         "token_env = \"HB_T_NOT_SET\"; };\n",
                   "t.cfg:4: api.token_env: the environment variable it "
                   "names is not set or empty");
}

Test(cfg_api, restart_only)
{
        cfg_t *a = load(KAFKA "webhooks = ( );\napi = { listen = "
                              "\"127.0.0.1:8080\"; secret_key_env = "
                              "\"HB_T_KEY\"; };\n");
        cfg_t *b = load(KAFKA "webhooks = ( );\napi = { listen = "
                              "\"127.0.0.1:8081\"; secret_key_env = "
                              "\"HB_T_KEY\"; token = "
                              "\"0123456789abcdef\"; };\n");
        char buf[256];

        cr_assert_not_null(a);
        cr_assert_not_null(b);
        cr_expect_eq(cfg_reload_diff(a, b, buf, sizeof(buf)), 2, "%s", buf);
        cr_expect_str_eq(buf, "api.listen, api.token");
        cfg_destroy(a);
        cfg_destroy(b);
}
