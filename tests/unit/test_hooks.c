/* Tests for the webhooks in force (wk_hooks.c) without Kafka: the store's
 * webhooks compiled into the tables with the file's (routing by app and
 * type, "*" with a type switched off, disabled ones, ids named like file
 * webhooks), a rebuild after a change keeping the endpoints of the
 * unchanged webhooks, labels bounded. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "hb_time.h"
#include "wh_pool_sched.h"
#include "wk_hook.h"
#include "wk_store.h"
#include "wk_worker_int.h"

static const unsigned char key[WK_SEAL_KEY_LEN] = {7};

static const char file_text[] =
        "kafka = { brokers = \"127.0.0.1:1\"; group_id = \"g\";\n"
        "  topics = ( \"events\" ); };\n"
        "delivery = { timeout_ms = 4321; concurrency = 10; };\n"
        "webhooks = (\n"
        "  { name = \"ops\"; url = \"https://ops.example.com/\";\n"
        "    events = [ \"*\" ]; },\n"
        "  { name = \"a\"; app_token = \"NX-a\";\n"
        "    url = \"https://a.example.com/\"; events = [ \"*\" ]; } );\n";

static int64_t next_off;

/* Put webhook \p id of \p app into \p s: events "*" on, \p off (NULL:
 * none) switched off; \p url; \p enabled. */
static void put(wk_store_t *s, const char *id, const char *app, const char *url,
                const char *off, int enabled)
{
        wk_hook_event_t evs[] = {{"*", 1}, {(char *)off, 0}};
        wk_hook_t h = {.id = (char *)id,
                       .app_token = (char *)app,
                       .name = (char *)id,
                       .url = (char *)url,
                       .enabled = enabled,
                       .events = evs,
                       .event_count = off ? 2 : 1,
                       .secret = "whsec_c2VjcmV0LXN0b3Jl"};
        char err[256], *j = wk_hook_to_json(&h, key, err, sizeof(err));
        int64_t base = wk_store_version(s, id);

        cr_assert(j, "%s", err);
        cr_assert_eq(wk_store_apply(s, id, strlen(id), j, strlen(j), base,
                                    next_off++),
                     WK_STORE_APPLIED);
        free(j);
}

static void drop(wk_store_t *s, const char *id)
{
        cr_assert_eq(wk_store_apply(s, id, strlen(id), NULL, 0,
                                    wk_store_version(s, id), next_off++),
                     WK_STORE_APPLIED);
}

static cfg_t *file_cfg(void)
{
        char err[2048];
        cfg_t *c = cfg_load_string(file_text, "t.cfg", err, sizeof(err));

        cr_assert(c, "%s", err);
        return c;
}

static hooks_t *build(cfg_t *file, wk_store_t *s, const hooks_t *old)
{
        static wk_worker_opts_t o;
        wk_hooks_ctx_t x = {.opts = &o, .old = old, .with_store = 1};
        char err[512];
        hooks_t *h;

        o = (wk_worker_opts_t){.store = s};
        h = wk_hooks_new(cfg_ref(file), &x, err, sizeof(err));
        cr_assert(h, "%s", err);
        return h;
}

/* The names the event of \p app and \p type goes to, ","-joined. */
static const char *routes(const hooks_t *h, const char *app, const char *type)
{
        static char out[512];
        const wk_routeset_t *rs =
                wk_routes_find(h->routes, app, strlen(app), type);

        out[0] = '\0';
        for (size_t i = 0; i < rs->route_count; i++) {
                size_t l = strlen(out);
                snprintf(out + l, sizeof(out) - l, "%s%s", l ? "," : "",
                         cfg_webhook(h->cfg, rs->routes[i].hook)->name);
        }
        return out;
}

Test(hooks, store_webhooks_route_like_the_files)
{
        wk_store_t *s = wk_store_new_local(key);
        cfg_t *file = file_cfg();
        hooks_t *h;
        long i;

        put(s, "wh_b1", "NX-b", "https://b.example.com/1", NULL, 1);
        put(s, "wh_a2", "NX-a", "https://a.example.com/2", "nps.score", 1);
        put(s, "wh_b3", "NX-b", "https://b.example.com/3", NULL, 0);
        h = build(file, s, NULL);
        cr_expect_eq(h->n, 5);
        cr_expect_eq(h->file_n, 2);
        cr_expect(h->from_store);
        cr_expect_eq(h->store_gen, wk_store_generation(s));
        /* each app gets its own and the operator's; never another's */
        cr_expect_str_eq(routes(h, "NX-b", "flows.completed"), "ops,wh_b1");
        cr_expect_str_eq(routes(h, "NX-a", "flows.completed"), "ops,a,wh_a2");
        /* "*" with nps.score off: every other type */
        cr_expect_str_eq(routes(h, "NX-a", "nps.score"), "ops,a");
        cr_expect_str_eq(routes(h, "NX-a", "checklist.seen"), "ops,a,wh_a2");
        cr_expect_str_eq(routes(h, "NX-z", "flows.completed"), "ops");
        /* named by id, the app's, the delivery defaults, bounded label */
        i = wk_hooks_find(h, "wh_b1");
        cr_assert_geq(i, 2);
        cr_expect(cfg_webhook(h->cfg, i)->from_api);
        cr_expect_str_eq(cfg_webhook(h->cfg, i)->app_token, "NX-b");
        cr_expect_eq(cfg_webhook(h->cfg, i)->timeout_ms, 4321);
        cr_expect_eq(cfg_webhook(h->cfg, i)->max_in_flight, 5);
        cr_expect_str_eq(h->labels[i], "webhook=\"(api)\"");
        cr_expect_str_eq(h->labels[wk_hooks_find(h, "a")],
                         "webhook=\"a\",app=\"NX-a\"");
        cr_expect_eq(h->active[wk_hooks_find(h, "wh_b3")], 0);
        cr_expect_str_eq(wh_endpoint_name(h->eps[i]), "wh_b1");
        cr_expect_str_eq(wh_endpoint_app(h->eps[i]), "NX-b");
        /* the set points into the store's webhooks, held: they outlive a
         * replacing record, a tombstone, the store itself */
        put(s, "wh_b1", "NX-b", "https://b.example.com/1-new", NULL, 1);
        drop(s, "wh_a2");
        wk_store_destroy(s);
        cr_expect_str_eq(cfg_webhook(h->cfg, i)->url,
                         "https://b.example.com/1");
        cr_expect_str_eq(
                cfg_webhook(h->cfg, wk_hooks_find(h, "wh_a2"))->app_token,
                "NX-a");
        wk_hooks_free(h);
        cfg_destroy(file);
}

Test(hooks, a_rebuild_keeps_the_endpoints_of_unchanged_webhooks)
{
        wk_store_t *s = wk_store_new_local(key);
        cfg_t *file = file_cfg();
        hooks_t *h1, *h2, *h3;

        put(s, "wh_1", "NX-b", "https://b.example.com/1", NULL, 1);
        put(s, "wh_2", "NX-b", "https://b.example.com/2", NULL, 1);
        h1 = build(file, s, NULL);
        /* another webhook's change; an event toggled off (routing only) */
        put(s, "wh_2", "NX-b", "https://b.example.com/2-new", NULL, 1);
        put(s, "wh_1", "NX-b", "https://b.example.com/1", "nps.score", 1);
        put(s, "wh_3", "NX-c", "https://c.example.com/3", NULL, 1);
        cr_expect_neq(wk_store_generation(s), h1->store_gen);
        h2 = build(file, s, h1);
        cr_expect_eq(h2->eps[wk_hooks_find(h2, "ops")],
                     h1->eps[wk_hooks_find(h1, "ops")]);
        cr_expect_eq(h2->eps[wk_hooks_find(h2, "a")],
                     h1->eps[wk_hooks_find(h1, "a")]);
        cr_expect_eq(h2->eps[wk_hooks_find(h2, "wh_1")],
                     h1->eps[wk_hooks_find(h1, "wh_1")]);
        cr_expect_neq(h2->eps[wk_hooks_find(h2, "wh_2")],
                      h1->eps[wk_hooks_find(h1, "wh_2")]);
        cr_expect_str_eq(wh_endpoint_url(h2->eps[wk_hooks_find(h2, "wh_2")]),
                         "https://b.example.com/2-new");
        cr_expect_str_eq(routes(h2, "NX-b", "nps.score"), "ops,wh_2");
        cr_expect_str_eq(routes(h2, "NX-c", "nps.score"), "ops,wh_3");
        /* disabled, then deleted: out of the tables; a disabled one gets
         * an endpoint of its own (the old one is cancelled) */
        put(s, "wh_2", "NX-b", "https://b.example.com/2-new", NULL, 0);
        drop(s, "wh_3");
        h3 = build(file, s, h2);
        cr_expect_str_eq(routes(h3, "NX-b", "flows.completed"), "ops,wh_1");
        cr_expect_str_eq(routes(h3, "NX-c", "flows.completed"), "ops");
        cr_expect_eq(wk_hooks_find(h3, "wh_3"), -1);
        cr_expect_neq(h3->eps[wk_hooks_find(h3, "wh_2")],
                      h2->eps[wk_hooks_find(h2, "wh_2")]);
        wk_hooks_free(h1);
        wk_hooks_free(h2);
        /* the file's configuration lives as long as a set holds it */
        cfg_destroy(file);
        cr_expect_str_eq(cfg_webhook(h3->cfg, 0)->name, "ops");
        wk_hooks_free(h3);
        wk_store_destroy(s);
}

Test(hooks, a_store_id_named_like_a_file_webhook_is_ignored)
{
        wk_store_t *s = wk_store_new_local(key);
        cfg_t *file = file_cfg();
        hooks_t *h;

        put(s, "a", "NX-b", "https://b.example.com/", NULL, 1);
        h = build(file, s, NULL);
        cr_expect_eq(h->n, 3);
        cr_expect_eq(wk_hooks_find(h, "a"), 1); /* the file's */
        cr_expect_eq(h->active[2], 0);
        cr_expect_str_eq(routes(h, "NX-b", "flows.completed"), "ops");
        wk_hooks_free(h);
        cfg_destroy(file);
        wk_store_destroy(s);
}

Test(hooks, without_the_store_only_the_files)
{
        wk_store_t *s = wk_store_new_local(key);
        cfg_t *file = file_cfg();
        wk_worker_opts_t o = {.store = s};
        wk_hooks_ctx_t x = {.opts = &o};
        char err[256];
        hooks_t *h;

        put(s, "wh_1", "NX-b", "https://b.example.com/1", NULL, 1);
        h = wk_hooks_new(cfg_ref(file), &x, err, sizeof(err));
        cr_assert(h, "%s", err);
        cr_expect_eq(h->n, 2);
        cr_expect_not(h->from_store);
        cr_expect_eq(h->cfg, file);
        wk_hooks_free(h);
        cfg_destroy(file);
        wk_store_destroy(s);
}

Test(hooks, a_rotated_secret_signs_until_its_grace_ends)
{
        wk_store_t *s = wk_store_new_local(key);
        cfg_t *file = file_cfg();
        wk_hook_event_t evs[] = {{"*", 1}};
        wk_hook_t h = {.id = "wh_rot",
                       .app_token = "NX-b",
                       .name = "wh_rot",
                       .url = "https://b.example.com/",
                       .enabled = 1,
                       .events = evs,
                       .event_count = 1,
                       .secret = "whsec_bmV3LXNlY3JldA==",
                       .secret_previous = "whsec_b2xkLXNlY3JldA==",
                       .secret_previous_until_ms = hb_time_now_ms() + 1500};
        char err[256], *j = wk_hook_to_json(&h, key, err, sizeof(err));
        const cfg_webhook_t *wh;
        hooks_t *h1, *h2;

        cr_assert(j, "%s", err);
        cr_assert_eq(
                wk_store_apply(s, "wh_rot", 6, j, strlen(j), 0, next_off++),
                WK_STORE_APPLIED);
        free(j);
        h1 = build(file, s, NULL);
        wh = cfg_webhook(h1->cfg, wk_hooks_find(h1, "wh_rot"));
        cr_expect_str_eq(wh->secret, "whsec_bmV3LXNlY3JldA==");
        cr_expect_str_eq(wh->secret_previous ? wh->secret_previous : "(none)",
                         "whsec_b2xkLXNlY3JldA==");
        /* the set is to be rebuilt when the grace ends */
        cr_expect_eq(h1->expires_ms, h.secret_previous_until_ms);
        while (hb_time_now_ms() <= h.secret_previous_until_ms)
                nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
        h2 = build(file, s, h1);
        wh = cfg_webhook(h2->cfg, wk_hooks_find(h2, "wh_rot"));
        cr_expect_null(wh->secret_previous);
        cr_expect_eq(h2->expires_ms, 0);
        /* a change of the endpoint's keys: a new endpoint */
        cr_expect_neq(h2->eps[wk_hooks_find(h2, "wh_rot")],
                      h1->eps[wk_hooks_find(h1, "wh_rot")]);
        wk_hooks_free(h1);
        wk_hooks_free(h2);
        cfg_destroy(file);
        wk_store_destroy(s);
}

/* Build from \p old with \p pool: a SIGHUP (\p reload) or a store
 * change. */
static hooks_t *rebuild(cfg_t *file, wk_store_t *s, const hooks_t *old,
                        const wh_pool_t *pool, int reload)
{
        static wk_worker_opts_t o;
        wk_hooks_ctx_t x = {.opts = &o,
                            .old = old,
                            .pool = pool,
                            .reload = reload,
                            .with_store = 1};
        char err[512];
        hooks_t *h;

        o = (wk_worker_opts_t){.store = s};
        h = wk_hooks_new(cfg_ref(file), &x, err, sizeof(err));
        cr_assert(h, "%s", err);
        return h;
}

static wh_endpoint_t *ep_of(const hooks_t *h, const char *name)
{
        long i = wk_hooks_find(h, name);

        cr_assert_geq(i, 0, "%s", name);
        return h->eps[i];
}

Test(hooks, a_410_lasts_until_a_reload_or_a_change_of_that_webhook)
{
        wh_pool_conf_t pc = {.max_in_flight = 4, .connect_timeout_ms = 1000};
        char err[256];
        wh_pool_t *pool = wh_pool_new(&pc, err, sizeof(err));
        wk_store_t *s = wk_store_new_local(key);
        cfg_t *file = file_cfg();
        hooks_t *h1, *h2, *h3, *h4;

        cr_assert(pool, "%s", err);
        put(s, "wh_1", "NX-b", "https://b.example.com/1", NULL, 1);
        put(s, "wh_2", "NX-b", "https://b.example.com/2", NULL, 1);
        h1 = rebuild(file, s, NULL, pool, 0);
        /* a 410 from a, wh_1 and wh_2 */
        cr_assert_eq(wh_pool_set_disabled(pool, ep_of(h1, "a"), 1), 0);
        cr_assert_eq(wh_pool_set_disabled(pool, ep_of(h1, "wh_1"), 1), 0);
        cr_assert_eq(wh_pool_set_disabled(pool, ep_of(h1, "wh_2"), 1), 0);
        /* another webhook's change: all three stay disabled (the same
         * endpoints), the unchanged ones' state with them */
        put(s, "wh_3", "NX-c", "https://c.example.com/3", NULL, 1);
        h2 = rebuild(file, s, h1, pool, 0);
        cr_expect_eq(ep_of(h2, "a"), ep_of(h1, "a"));
        cr_expect_eq(ep_of(h2, "ops"), ep_of(h1, "ops"));
        cr_expect_eq(ep_of(h2, "wh_1"), ep_of(h1, "wh_1"));
        cr_expect(wh_pool_disabled(pool, ep_of(h2, "wh_2")));
        /* a change of wh_2 itself (an event toggled): renewed */
        put(s, "wh_2", "NX-b", "https://b.example.com/2", "nps.score", 1);
        h3 = rebuild(file, s, h2, pool, 0);
        cr_expect_neq(ep_of(h3, "wh_2"), ep_of(h2, "wh_2"));
        cr_expect_not(wh_pool_disabled(pool, ep_of(h3, "wh_2")));
        cr_expect_eq(ep_of(h3, "wh_1"), ep_of(h2, "wh_1"));
        /* a SIGHUP: every endpoint a 410 disabled is renewed (SPEC §4:
         * until a reload), the others kept */
        h4 = rebuild(file, s, h3, pool, 1);
        cr_expect_neq(ep_of(h4, "a"), ep_of(h3, "a"));
        cr_expect_neq(ep_of(h4, "wh_1"), ep_of(h3, "wh_1"));
        cr_expect_eq(ep_of(h4, "ops"), ep_of(h3, "ops"));
        cr_expect_eq(ep_of(h4, "wh_2"), ep_of(h3, "wh_2"));
        cr_expect_eq(ep_of(h4, "wh_3"), ep_of(h3, "wh_3"));
        cr_expect_not(wh_pool_disabled(pool, ep_of(h4, "a")));
        /* and the store's webhooks are kept by a reload */
        cr_expect_eq(h4->n, 5);
        wk_hooks_free(h1);
        wk_hooks_free(h2);
        wk_hooks_free(h3);
        wk_hooks_free(h4);
        wh_pool_destroy(pool);
        cfg_destroy(file);
        wk_store_destroy(s);
}
