/* Unit tests: wk_routes, the routing table the delivery loop asks instead
 * of the configuration (types, "*", switched-off types, disabled and
 * unselected webhooks, shared property sets, topic tokens). */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cfg.h"
#include "hb_types.h"
#include "wk_redeliver.h"
#include "wk_routes.h"

static const char *routes_cfg =
        "kafka = { brokers = \"127.0.0.1:1\"; group_id = \"g\";\n"
        "  topics = ( { name = \"events\"; app_token = \"NX-t\"; },\n"
        "             { name = \"plain\"; } ); };\n"
        "mappings = ( { event = \"Trial Ended\"; type = \"trial.ended\"; } );\n"
        "webhooks = (\n"
        /* 0: every type, user property plan */
        "  { name = \"crm\"; url = \"https://example.com/crm\";\n"
        "    events = [ \"*\" ]; user_properties = [ \"plan\" ]; },\n"
        /* 1: two types, the same properties as crm: one body for both */
        "  { name = \"flows\"; url = \"https://example.com/flows\";\n"
        "    events = [ \"flows.completed\", \"nps.score\" ];\n"
        "    user_properties = [ \"plan\" ]; },\n"
        /* 2: disabled: never routed */
        "  { name = \"off\"; url = \"https://example.com/off\";\n"
        "    enabled = false; events = [ \"flows.completed\" ]; },\n"
        /* 3: every type but nps.score, other properties */
        "  { name = \"most\"; url = \"https://example.com/most\";\n"
        "    events = ( \"*\", { type = \"nps.score\"; enabled = false; } );\n"
        "    company_properties = [ \"tier\" ]; },\n"
        /* 4: a mapped type only, no properties */
        "  { name = \"trial\"; url = \"https://example.com/trial\";\n"
        "    events = [ \"trial.ended\" ]; }\n"
        ");\n";

static cfg_t *load(void)
{
        char errs[4096];
        cfg_t *cfg = cfg_load_string(routes_cfg, "t.cfg", errs, sizeof(errs));

        cr_assert_not_null(cfg, "%s", errs);
        return cfg;
}

/* The set's webhooks, by index, as "0,1,3". */
static void hooks_of(const wk_routeset_t *rs, char *out, size_t size)
{
        size_t len = 0;

        out[0] = '\0';
        for (size_t i = 0; i < rs->route_count && len + 8 < size; i++)
                len += (size_t)snprintf(out + len, size - len, "%s%zu",
                                        i ? "," : "", rs->routes[i].hook);
}

Test(routes, named_type_gets_its_webhooks_and_star_in_config_order)
{
        cfg_t *cfg = load();
        char err[128], got[64];
        wk_routes_t *r = wk_routes_new(cfg, NULL, err, sizeof(err));
        const wk_routeset_t *rs;

        cr_assert_not_null(r, "%s", err);
        rs = wk_routes_find(r, "NX-t", 4, "flows.completed");
        hooks_of(rs, got, sizeof(got));
        cr_expect_str_eq(got, "0,1,3");
        /* crm and flows share one body (same properties), most its own */
        cr_assert_eq(rs->prop_count, 2);
        cr_expect_eq(rs->routes[0].body, 0);
        cr_expect_eq(rs->routes[1].body, 0);
        cr_expect_eq(rs->routes[2].body, 1);
        cr_assert_eq(rs->props[0].user_count, 1);
        cr_expect_str_eq(rs->props[0].user[0], "plan");
        cr_expect_eq(rs->props[0].company_count, 0);
        cr_expect_eq(rs->props[1].user_count, 0);
        cr_assert_eq(rs->props[1].company_count, 1);
        cr_expect_str_eq(rs->props[1].company[0], "tier");
        wk_routes_destroy(r);
        cfg_destroy(cfg);
}

Test(routes, switched_off_type_and_mapped_type)
{
        cfg_t *cfg = load();
        char err[128], got[64];
        wk_routes_t *r = wk_routes_new(cfg, NULL, err, sizeof(err));

        cr_assert_not_null(r, "%s", err);
        /* most switched nps.score off */
        hooks_of(wk_routes_find(r, "NX-t", 4, "nps.score"), got, sizeof(got));
        cr_expect_str_eq(got, "0,1");
        /* a type from mappings: its subscriber, "*" and most's "*" */
        hooks_of(wk_routes_find(r, "NX-t", 4, "trial.ended"), got, sizeof(got));
        cr_expect_str_eq(got, "0,3,4");
        cr_expect_eq(wk_routes_find(r, "NX-t", 4, "trial.ended")->prop_count,
                     3);
        /* a type no webhook names: the "*" webhooks alone. most's "*"
         * was written out as the known types, so it is not among them */
        hooks_of(wk_routes_find(r, "NX-t", 4, "no.such.type"), got,
                 sizeof(got));
        cr_expect_str_eq(got, "0");
        wk_routes_destroy(r);
        cfg_destroy(cfg);
}

/* For every type the transformer can produce, the table answers what
 * the per-message configuration questions answered. */
Test(routes, same_answers_as_cfg_webhook_wants)
{
        cfg_t *cfg = load();
        char err[128];
        int active[5] = {1, 1, 0, 1, 1};
        wk_routes_t *r = wk_routes_new(cfg, active, err, sizeof(err));
        size_t n = cfg_webhook_count(cfg);

        cr_assert_not_null(r, "%s", err);
        cr_assert_eq(n, 5);
        for (size_t t = 0; t <= hb_type_count(); t++) {
                const char *type = t < hb_type_count() ? hb_type_at(t)->type
                                                       : "trial.ended";
                const wk_routeset_t *rs = wk_routes_find(r, "NX-t", 4, type);
                size_t k = 0;

                for (size_t i = 0; i < n; i++) {
                        if (!cfg_webhook_wants(cfg_webhook(cfg, i), type))
                                continue;
                        cr_assert_lt(k, rs->route_count, "%s", type);
                        cr_expect_eq(rs->routes[k].hook, i, "%s", type);
                        k++;
                }
                cr_expect_eq(k, rs->route_count, "%s", type);
        }
        wk_routes_destroy(r);
        cfg_destroy(cfg);
}

Test(routes, disabled_and_unselected_webhooks_are_never_routed)
{
        cfg_t *cfg = load();
        char err[128], got[64];
        /* --webhook flows: only it (off stays off even when "selected") */
        int active[5] = {0, 1, 0, 0, 0};
        wk_routes_t *r = wk_routes_new(cfg, active, err, sizeof(err));

        cr_assert_not_null(r, "%s", err);
        hooks_of(wk_routes_find(r, "NX-t", 4, "flows.completed"), got,
                 sizeof(got));
        cr_expect_str_eq(got, "1");
        cr_expect_eq(
                wk_routes_find(r, "NX-t", 4, "flows.completed")->prop_count, 1);
        hooks_of(wk_routes_find(r, "NX-t", 4, "trial.ended"), got, sizeof(got));
        cr_expect_str_eq(got, "");
        cr_expect_eq(wk_routes_find(r, "NX-t", 4, "trial.ended")->prop_count,
                     0);
        hooks_of(wk_routes_find(r, "NX-t", 4, "no.such.type"), got,
                 sizeof(got));
        cr_expect_str_eq(got, "");
        /* the named types of the active webhooks, plus "every other" */
        cr_expect_eq(wk_routes_set_count(r), 3);
        wk_routes_destroy(r);

        /* NULL: every enabled webhook; "off" never appears */
        r = wk_routes_new(cfg, NULL, err, sizeof(err));
        cr_assert_not_null(r, "%s", err);
        for (size_t t = 0; t < hb_type_count(); t++) {
                const wk_routeset_t *rs =
                        wk_routes_find(r, "NX-t", 4, hb_type_at(t)->type);
                for (size_t i = 0; i < rs->route_count; i++)
                        cr_expect_neq(rs->routes[i].hook, 2, "%s",
                                      hb_type_at(t)->type);
        }
        wk_routes_destroy(r);
        cfg_destroy(cfg);
}

Test(routes, no_webhooks_and_topic_tokens)
{
        char errs[4096], err[128];
        cfg_t *cfg = load();
        wk_routes_t *r = wk_routes_new(cfg, NULL, err, sizeof(err));

        cr_assert_not_null(r, "%s", err);
        cr_expect_str_eq(wk_routes_app_token(r, "events"), "NX-t");
        cr_expect_null(wk_routes_app_token(r, "plain"));
        cr_expect_null(wk_routes_app_token(r, "elsewhere"));
        cr_expect_null(wk_routes_app_token(r, NULL));
        wk_routes_destroy(r);
        cfg_destroy(cfg);

        /* every webhook disabled: every type finds an empty set */
        cfg = cfg_load_string(
                "kafka = { brokers = \"127.0.0.1:1\"; group_id = \"g\";\n"
                "  topics = ( { name = \"events\"; } ); };\n"
                "webhooks = ( { name = \"crm\"; url = "
                "\"https://example.com/crm\";\n"
                "    enabled = false; events = [ \"*\" ]; } );\n",
                "t.cfg", errs, sizeof(errs));
        cr_assert_not_null(cfg, "%s", errs);
        r = wk_routes_new(cfg, NULL, err, sizeof(err));
        cr_assert_not_null(r, "%s", err);
        cr_expect_eq(wk_routes_find(r, "NX-t", 4, "flows.seen")->route_count,
                     0);
        cr_expect_eq(wk_routes_find(r, "NX-t", 4, "flows.seen")->prop_count, 0);
        cr_expect_eq(wk_routes_set_count(r), 1);
        wk_routes_destroy(r);
        wk_routes_destroy(NULL);
        cfg_destroy(cfg);
}

/* --- tenants (SPEC §5) ------------------------------------------------ */

static const char *tenants_cfg =
        "kafka = { brokers = \"127.0.0.1:1\"; group_id = \"g\";\n"
        "  topics = ( \"events\" ); };\n"
        "webhooks = (\n"
        /* 0: app A, every type, user property plan */
        "  { name = \"a-all\"; app_token = \"A\"; url = \"https://a/all\";\n"
        "    events = [ \"*\" ]; user_properties = [ \"plan\" ]; },\n"
        /* 1: app B, one type */
        "  { name = \"b-flows\"; app_token = \"B\"; url = \"https://b/f\";\n"
        "    events = [ \"flows.completed\" ]; },\n"
        /* 2: operator: every app, every type but nps.score */
        "  { name = \"ops\"; url = \"https://ops/\";\n"
        "    events = ( \"*\", { type = \"nps.score\"; enabled = false; } ); "
        "},\n"
        /* 3: app A, disabled */
        "  { name = \"a-off\"; app_token = \"A\"; url = \"https://a/off\";\n"
        "    enabled = false; events = [ \"flows.completed\" ]; },\n"
        /* 4: app B, every type but flows.completed */
        "  { name = \"b-most\"; app_token = \"B\"; url = \"https://b/m\";\n"
        "    events = ( \"*\", { type = \"flows.completed\"; enabled = "
        "false; } ); },\n"
        /* 5: app A, nps.score with a-all's properties: one body */
        "  { name = \"a-nps\"; app_token = \"A\"; url = \"https://a/nps\";\n"
        "    events = [ \"nps.score\" ]; user_properties = [ \"plan\" ]; }\n"
        ");\n";

static cfg_t *load_tenants(void)
{
        char errs[4096];
        cfg_t *cfg = cfg_load_string(tenants_cfg, "t.cfg", errs, sizeof(errs));

        cr_assert_not_null(cfg, "%s", errs);
        return cfg;
}

static void expect_hooks(const wk_routes_t *r, const char *app,
                         const char *type, const char *want)
{
        char got[64];

        hooks_of(wk_routes_find(r, app, app ? strlen(app) : 0, type), got,
                 sizeof(got));
        cr_expect_str_eq(got, want, "app %s type %s", app ? app : "(none)",
                         type);
}

Test(routes, an_event_reaches_its_apps_webhooks_and_the_operators_only)
{
        cfg_t *cfg = load_tenants();
        char err[128];
        wk_routes_t *r = wk_routes_new(cfg, NULL, err, sizeof(err));
        const wk_routeset_t *rs;

        cr_assert_not_null(r, "%s", err);
        cr_expect_eq(wk_routes_app_count(r), 2);
        expect_hooks(r, "A", "flows.completed", "0,2");
        expect_hooks(r, "A", "nps.score", "0,5");
        expect_hooks(r, "A", "no.such.type", "0"); /* "*" itself */
        expect_hooks(r, "B", "flows.completed", "1,2");
        expect_hooks(r, "B", "flows.seen", "2,4");
        expect_hooks(r, "B", "nps.score", "4");
        /* an app no webhook names: the operator webhook only */
        expect_hooks(r, "C", "flows.completed", "2");
        expect_hooks(r, "C", "nps.score", "");
        expect_hooks(r, NULL, "flows.seen", "2");
        /* exact tokens: a prefix, a longer one, a case change */
        expect_hooks(r, "AB", "flows.completed", "2");
        expect_hooks(r, "a", "flows.completed", "2");
        expect_hooks(r, "", "flows.completed", "2");
        /* a NUL inside the payload's token never matches "A" */
        hooks_of(wk_routes_find(r, "A\0B", 3, "flows.completed"), err,
                 sizeof(err));
        cr_expect_str_eq(err, "2");
        /* a-all and a-nps choose the same properties: one body */
        rs = wk_routes_find(r, "A", 1, "nps.score");
        cr_expect_eq(rs->prop_count, 1);
        /* a-all, ops and every other type, per table: A's table names
         * flows.completed, nps.score and every type ops lists */
        cr_expect_gt(wk_routes_set_count(r), 3);
        wk_routes_destroy(r);
        cfg_destroy(cfg);
}

/* Whatever the app and type, the table answers exactly what the
 * configuration says: active, of that app or an operator webhook, and
 * wanting the type; never a webhook of another app. */
Test(routes, tenants_same_answers_as_the_configuration)
{
        cfg_t *cfg = load_tenants();
        const char *apps[] = {"A", "B", "C", NULL};
        int actives[3][6] = {
                {1, 1, 1, 0, 1, 1},
                {1, 0, 1, 0, 0, 1}, /* no webhook of B: B is unknown */
                {1, 1, 0, 0, 1, 0}, /* no operator webhook */
        };
        size_t n = cfg_webhook_count(cfg);
        char err[128];

        cr_assert_eq(n, 6);
        for (size_t a = 0; a < 3; a++) {
                wk_routes_t *r =
                        wk_routes_new(cfg, actives[a], err, sizeof(err));
                cr_assert_not_null(r, "%s", err);
                cr_expect_eq(wk_routes_app_count(r), a == 1 ? 1 : 2);
                for (size_t p = 0; p < sizeof(apps) / sizeof(apps[0]); p++)
                        for (size_t t = 0; t <= hb_type_count(); t++) {
                                const char *type = t < hb_type_count()
                                                           ? hb_type_at(t)->type
                                                           : "no.such.type";
                                const char *app = apps[p];
                                const wk_routeset_t *rs = wk_routes_find(
                                        r, app, app ? strlen(app) : 0, type);
                                size_t k = 0;

                                for (size_t i = 0; i < n; i++) {
                                        const cfg_webhook_t *wh =
                                                cfg_webhook(cfg, i);
                                        if (!actives[a][i] ||
                                            !cfg_webhook_wants(wh, type) ||
                                            (wh->app_token &&
                                             (!app ||
                                              strcmp(wh->app_token, app))))
                                                continue;
                                        cr_assert_lt(k, rs->route_count,
                                                     "%s %s", type, app);
                                        cr_expect_eq(rs->routes[k].hook, i,
                                                     "%s %s", type, app);
                                        k++;
                                }
                                cr_expect_eq(k, rs->route_count, "%s %s", type,
                                             app);
                        }
                wk_routes_destroy(r);
        }
        cfg_destroy(cfg);
}

/* A hand-off record (retry tier, dead letter) sent again after a reload
 * follows the same rule: a webhook never gets another app's event, even
 * when the record names it (wk_redeliver, wk_routes_app_ok). */
Test(routes, a_hand_off_record_never_reaches_another_apps_webhook)
{
        char errs[4096], why[256];
        cfg_t *cfg = cfg_load_string(
                "kafka = { brokers = \"127.0.0.1:1\";\n"
                "  topics = ( { name = \"d\"; app_token = \"NX-d\"; },\n"
                "             { name = \"b\"; app_token = \"NX-b\"; } ); };\n"
                "webhooks = (\n"
                "  { name = \"moved\"; app_token = \"NX-d\"; url = "
                "\"https://example.com/m\"; events = [ \"*\" ]; },\n"
                "  { name = \"ops\"; url = \"https://example.com/o\";\n"
                "    events = [ \"*\" ]; } );\n",
                "t.cfg", errs, sizeof(errs));
        wk_mapping_t *mp = wk_mapping_new();
        static const char *const values[] = {
                /* context.app_token NX-b, then NX-d */
                "{\"type\":\"track\",\"event\":\"Flow Completed\","
                "\"userId\":\"1\",\"properties\":{\"flow_id\":1},"
                "\"context\":{\"app_token\":\"NX-b\"}}",
                "{\"type\":\"track\",\"event\":\"Flow Completed\","
                "\"userId\":\"1\",\"properties\":{\"flow_id\":1},"
                "\"context\":{\"app_token\":\"NX-d\"}}",
                /* none: the topic's (d, then b) */
                "{\"type\":\"track\",\"event\":\"Flow Completed\","
                "\"userId\":\"1\",\"properties\":{\"flow_id\":1}}",
                "{\"type\":\"track\",\"event\":\"Flow Completed\","
                "\"userId\":\"1\",\"properties\":{\"flow_id\":1}}",
        };
        static const char *const topics[] = {"d", "d", "d", "b"};
        static const wk_rd_status_t moved[] = {WK_RD_OTHER_APP, WK_RD_OK,
                                               WK_RD_OK, WK_RD_OTHER_APP};

        cr_assert_not_null(cfg, "%s", errs);
        cr_assert_not_null(mp);
        for (size_t i = 0; i < 4; i++) {
                hb_rec_t rec;
                wk_rd_t rd;

                hb_rec_init(&rec);
                rec.topic = topics[i];
                rec.value = values[i];
                rec.value_len = strlen(values[i]);
                rec.webhook = "moved";
                rec.id = "rec-1";
                cr_expect_eq(wk_redeliver_render(cfg, mp, cfg_webhook(cfg, 0),
                                                 &rec, &rd, why, sizeof(why)),
                             moved[i], "record %zu: %s", i, why);
                if (moved[i] == WK_RD_OK)
                        cr_expect(strstr(rd.body, "\"app_token\":\"NX-d\""),
                                  "%s", rd.body);
                else
                        cr_expect_null(rd.body);
                wk_redeliver_free(&rd);
                /* the operator webhook takes every app's */
                cr_expect_eq(wk_redeliver_render(cfg, mp, cfg_webhook(cfg, 1),
                                                 &rec, &rd, why, sizeof(why)),
                             WK_RD_OK, "record %zu: %s", i, why);
                wk_redeliver_free(&rd);
        }
        wk_mapping_destroy(mp);
        cfg_destroy(cfg);
}

/* Many apps: each app's set holds its own webhooks and the operator's,
 * whatever the number of apps (the app hash at 1000 apps). */
Test(routes, a_thousand_apps_each_find_their_own)
{
        enum { APPS = 1000, PER = 2 };
        size_t size = (APPS * PER + 1) * 160 + 256, len;
        char *text = malloc(size), errs[4096], err[128], app[32];
        cfg_t *cfg;
        wk_routes_t *r;

        cr_assert_not_null(text);
        len = (size_t)snprintf(text, size,
                               "kafka = { brokers = \"127.0.0.1:1\"; "
                               "topics = ( \"e\" ); };\n"
                               "webhooks = (\n  { name = \"ops\"; url = "
                               "\"https://example.com/o\"; events = [ "
                               "\"flows.seen\" ]; }");
        for (int a = 0; a < APPS; a++)
                for (int k = 0; k < PER; k++)
                        len += (size_t)snprintf(
                                text + len, size - len,
                                ",\n  { name = \"h%d-%d\"; app_token = "
                                "\"NX-%d\"; url = \"https://example.com/\"; "
                                "events = [ \"%s\" ]; }",
                                a, k, a, k ? "*" : "flows.seen");
        snprintf(text + len, size - len, "\n);\n");
        cfg = cfg_load_string(text, "t.cfg", errs, sizeof(errs));
        free(text);
        cr_assert_not_null(cfg, "%s", errs);
        r = wk_routes_new(cfg, NULL, err, sizeof(err));
        cr_assert_not_null(r, "%s", err);
        cr_expect_eq(wk_routes_app_count(r), APPS);
        for (int a = 0; a < APPS; a++) {
                const wk_routeset_t *rs;
                snprintf(app, sizeof(app), "NX-%d", a);
                rs = wk_routes_find(r, app, strlen(app), "flows.seen");
                /* ops (index 0), then the app's two, in file order */
                cr_assert_eq(rs->route_count, 3, "%s", app);
                cr_assert_eq(rs->routes[0].hook, 0);
                cr_assert_eq(rs->routes[1].hook, (size_t)(1 + a * PER));
                cr_assert_eq(rs->routes[2].hook, (size_t)(2 + a * PER));
                rs = wk_routes_find(r, app, strlen(app), "nps.score");
                cr_assert_eq(rs->route_count, 1, "%s", app);
                cr_assert_eq(rs->routes[0].hook, (size_t)(2 + a * PER));
        }
        expect_hooks(r, "NX-1000", "flows.seen", "0");
        wk_routes_destroy(r);
        cfg_destroy(cfg);
}
