/* Tests for hb_types: the one table of built-in webhook types. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "hb_types.h"

Test(hb_types, spec_table)
{
        const hb_type_t *t;

        cr_assert_eq(hb_type_count(), 15);
        t = hb_type_at(0);
        cr_assert_str_eq(t->event, "Flow Started");
        cr_assert_str_eq(t->type, "flows.seen");
        cr_assert_str_eq(t->data_type, "flow");
        cr_assert_str_eq(t->action, "seen");
        cr_assert_str_eq(t->id_field, "flow_id");
        cr_assert_null(hb_type_at(hb_type_count()));
        t = hb_type_find("nps.feedback");
        cr_assert_not_null(t);
        cr_assert_eq(t->kind, HB_TYPE_NPS_FEEDBACK);
        cr_assert_null(t->data_type);
        cr_assert_eq(hb_type_find_event("Button Tracked Event"),
                     hb_type_find("button_tracked_event.occurred"));
        cr_assert_null(hb_type_find("flows.started"));
        cr_assert_null(hb_type_find_event("flows.seen"));
        cr_assert_null(hb_type_find(NULL));
}

/* Every built-in type is one a webhook may subscribe to (config reads the
 * same table). */
Test(hb_types, config_knows_every_type)
{
        for (size_t i = 0; i < hb_type_count(); i++) {
                char text[512], err[2048];
                cfg_t *cfg;

                snprintf(text, sizeof(text),
                         "kafka = { brokers = \"b:9092\"; topics = ( \"t\" "
                         "); };\nwebhooks = ( { name = \"w\"; url = "
                         "\"https://example.com/\"; events = [ \"%s\" ]; } "
                         ");\n",
                         hb_type_at(i)->type);
                cfg = cfg_load_string(text, "t.cfg", err, sizeof(err));
                cr_expect_not_null(cfg, "%s: %s", hb_type_at(i)->type, err);
                cfg_destroy(cfg);
        }
}

/* One rule for how a webhook type is written: every built-in type keeps
 * it, and the configuration and the transformer's mapping both use it. */
Test(hb_types, type_names)
{
        static const char *const good[] = {"trial.started", "a.b", "A_1.b_2",
                                           "_._"};
        static const char *const bad[] = {
                "",      "nodot", ".a",    "a.",      "a..b", "a.b.c",
                "a-b.c", "a b.c", "a.b\n", "\"a\".b", "a.b~", "caf\xc3\xa9.x",
        };

        for (size_t i = 0; i < hb_type_count(); i++)
                cr_expect(hb_type_name_ok(hb_type_at(i)->type), "%s",
                          hb_type_at(i)->type);
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                cr_expect(hb_type_name_ok(good[i]), "%s", good[i]);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                cr_expect(!hb_type_name_ok(bad[i]), "%s", bad[i]);
        cr_expect(!hb_type_name_ok(NULL));
}
