/* Tests for cfg_overlay: a loaded configuration plus webhooks given as
 * data (the store's), here over a file that lists no webhooks at all
 * (`webhooks = ( );`, allowed with the API on). */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "cfg.h"

#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

/* Before 7dd4fee, cfg_overlay_new() passed the empty file's NULL webhook
 * list to memcpy (undefined; UBSan stopped the worker at its start). */
Test(cfg_overlay, over_a_file_without_webhooks)
{
        static const char *const events[] = {"*"};
        cfg_webhook_t wh = {.name = "wh_0",
                            .app_token = "NX-a",
                            .url = "https://x.example/h",
                            .enabled = 1,
                            .events = events,
                            .event_count = 1,
                            .from_api = 1};
        char errs[4096];
        cfg_t *base, *ov;

        setenv("HB_T_KEY", KEY_B64, 1);
        base = cfg_load_string(
                "kafka = { brokers = \"127.0.0.1:9092\"; topics = ( \"e\" ); "
                "};\nwebhooks = ( );\napi = { listen = \"127.0.0.1:0\"; "
                "secret_key_env = \"HB_T_KEY\"; };\n",
                "t.cfg", errs, sizeof(errs));
        cr_assert_not_null(base, "%s", errs);
        cr_assert_eq(cfg_webhook_count(base), 0);
        ov = cfg_overlay_new(base, 0);
        cr_assert_not_null(ov);
        cr_expect_eq(cfg_webhook_count(ov), 0);
        cr_assert_eq(cfg_overlay_add(ov, &wh, 0), 0);
        cr_expect_eq(cfg_webhook_count(ov), 1);
        cfg_destroy(base);
        cfg_destroy(ov);
}
