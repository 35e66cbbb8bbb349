/* Tests for the webhook store without Kafka: wk_store's apply rule
 * (versions, tombstones, stale bases ignored, compacted history),
 * wk_hook's JSON both ways with the file's rules, wk_seal's AES-256-GCM. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wk_hook.h"
#include "wk_seal.h"
#include "wk_store.h"

static const unsigned char key[WK_SEAL_KEY_LEN] = {
        1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
        17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* A valid webhook record for app \p app called \p name. */
static char *record(const char *id, const char *name, const char *secret)
{
        static char *ups[] = {"plan"};
        static char *hdrs[] = {"X-Team: growth"};
        wk_hook_event_t evs[] = {{"flows.completed", 1}, {"nps.score", 0}};
        wk_hook_t h = {
                .id = (char *)id,
                .app_token = "NX-acme",
                .name = (char *)name,
                .url = "https://example.com/hook",
                .enabled = 1,
                .events = evs,
                .event_count = 2,
                .user_props = ups,
                .user_prop_count = 1,
                .secret = (char *)secret,
                .headers = hdrs,
                .header_count = 1,
                .rate_limit = 5,
        };
        char err[256];
        char *j = wk_hook_to_json(&h, key, err, sizeof(err));

        cr_assert(j, "%s", err);
        return j;
}

static wk_store_outcome_t put(wk_store_t *s, const char *id, const char *name,
                              int64_t base, int64_t off)
{
        char *j = record(id, name, NULL);
        wk_store_outcome_t o =
                wk_store_apply(s, id, strlen(id), j, strlen(j), base, off);

        free(j);
        return o;
}

static const char *name_of(wk_store_t *s, const char *id)
{
        static char buf[64];
        wk_hook_t *h = wk_store_get(s, id, NULL);

        if (!h)
                return NULL;
        snprintf(buf, sizeof(buf), "%s", h->name);
        wk_hook_free(h);
        return buf;
}

Test(store_apply, create_update_versions_are_offsets)
{
        wk_store_t *s = wk_store_new_local(key);

        cr_assert(wk_store_ready(s));
        cr_expect_eq(wk_store_version(s, "w1"), 0);
        cr_expect_eq(put(s, "w1", "one", 0, 0), WK_STORE_APPLIED);
        cr_expect_eq(wk_store_version(s, "w1"), 1); /* offset 0 + 1 */
        cr_expect_eq(put(s, "w2", "two", 0, 1), WK_STORE_APPLIED);
        cr_expect_eq(wk_store_version(s, "w2"), 2);
        cr_expect_eq(put(s, "w2", "two-b", 1, 2), WK_STORE_IGNORED);
        cr_expect_eq(put(s, "w2", "two-b", 2, 3), WK_STORE_APPLIED);
        cr_expect_eq(wk_store_version(s, "w2"), 4);
        cr_expect_str_eq(name_of(s, "w2"), "two-b");
        cr_expect_eq(wk_store_count(s), 2);
        cr_expect_eq(wk_store_outcome(s, 2), WK_STORE_IGNORED);
        cr_expect_eq(wk_store_outcome(s, 3), WK_STORE_APPLIED);
        cr_expect_eq(wk_store_outcome(s, 4), WK_STORE_UNKNOWN);
        wk_store_destroy(s);
}

Test(store_apply, stale_base_ignored_first_in_log_wins)
{
        wk_store_t *s = wk_store_new_local(key);

        /* offsets 0 to 9 were compacted away: a create still needs base 0
         * on a key that has a webhook */
        cr_expect_eq(put(s, "w", "v0", 0, 10), WK_STORE_APPLIED);
        /* two writers based on version 11: the first in the log wins */
        cr_expect_eq(put(s, "w", "writer-a", 11, 11), WK_STORE_APPLIED);
        cr_expect_eq(put(s, "w", "writer-b", 11, 12), WK_STORE_IGNORED);
        cr_expect_str_eq(name_of(s, "w"), "writer-a");
        cr_expect_eq(wk_store_version(s, "w"), 12);
        cr_expect_eq(wk_store_outcome(s, 12), WK_STORE_IGNORED);
        /* a create of an existing id (base 0) is stale too */
        cr_expect_eq(put(s, "w", "again", 0, 13), WK_STORE_IGNORED);
        /* a base from the future is not current either */
        cr_expect_eq(put(s, "w", "future", 99, 14), WK_STORE_IGNORED);
        /* no base header: ignored */
        cr_expect_eq(put(s, "w", "nobase", -1, 15), WK_STORE_IGNORED);
        cr_expect_str_eq(name_of(s, "w"), "writer-a");
        wk_store_destroy(s);
}

Test(store_apply, tombstone_removes_and_stale_tombstone_ignored)
{
        wk_store_t *s = wk_store_new_local(key);

        cr_expect_eq(put(s, "w", "v0", 0, 0), WK_STORE_APPLIED);
        cr_expect_eq(put(s, "w", "v1", 1, 1), WK_STORE_APPLIED);
        /* a tombstone based on an old version: ignored */
        cr_expect_eq(wk_store_apply(s, "w", 1, NULL, 0, 1, 2),
                     WK_STORE_IGNORED);
        cr_expect_eq(wk_store_count(s), 1);
        cr_expect_eq(wk_store_apply(s, "w", 1, NULL, 0, 2, 3),
                     WK_STORE_APPLIED);
        cr_expect_eq(wk_store_count(s), 0);
        cr_expect_null(wk_store_get(s, "w", NULL));
        cr_expect_eq(wk_store_version(s, "w"), 0);
        /* an update based on the deleted version does not bring it back */
        cr_expect_eq(put(s, "w", "zombie", 2, 4), WK_STORE_IGNORED);
        cr_expect_eq(wk_store_count(s), 0);
        /* the id can be created anew */
        cr_expect_eq(put(s, "w", "new", 0, 5), WK_STORE_APPLIED);
        cr_expect_eq(wk_store_version(s, "w"), 6);
        wk_store_destroy(s);
}

Test(store_apply, compacted_history_base_in_a_gap_applies)
{
        /* A full replica: create at 0, update at 5 (base 0). */
        wk_store_t *full = wk_store_new_local(key);
        /* A replica that read after compaction: offset 0 is gone. */
        wk_store_t *late = wk_store_new_local(key);

        cr_expect_eq(put(full, "w", "v0", 0, 0), WK_STORE_APPLIED);
        cr_expect_eq(put(full, "x", "x0", 0, 1), WK_STORE_APPLIED);
        cr_expect_eq(put(full, "w", "v5", 1, 5), WK_STORE_APPLIED);

        cr_expect_eq(put(late, "x", "x0", 0, 1), WK_STORE_APPLIED);
        cr_expect_eq(put(late, "w", "v5", 1, 5), WK_STORE_APPLIED);
        cr_expect_str_eq(name_of(late, "w"), "v5");
        cr_expect_eq(wk_store_version(late, "w"), wk_store_version(full, "w"));
        cr_expect_eq(wk_store_version(late, "x"), wk_store_version(full, "x"));
        /* a base naming a record that was read (offset 1, another key's)
         * is no gap */
        cr_expect_eq(put(late, "w", "bad", 2, 6), WK_STORE_IGNORED);
        wk_store_destroy(full);
        wk_store_destroy(late);
}

Test(store_apply, unreadable_record_takes_the_version)
{
        wk_store_t *s = wk_store_new_local(key);
        const char *junk = "{\"format\":1,\"name\":\"x\"}";

        cr_expect_eq(wk_store_apply(s, "w", 1, junk, strlen(junk), 0, 0),
                     WK_STORE_APPLIED);
        cr_expect_eq(wk_store_count(s), 0);
        cr_expect_eq(wk_store_version(s, "w"), 1);
        cr_expect_eq(put(s, "w", "fixed", 1, 1), WK_STORE_APPLIED);
        cr_expect_eq(wk_store_count(s), 1);
        wk_store_destroy(s);
}

Test(store_apply, many_keys)
{
        wk_store_t *s = wk_store_new_local(key);
        char id[32];

        for (int i = 0; i < 5000; i++) {
                snprintf(id, sizeof(id), "wh-%d", i);
                cr_assert_eq(put(s, id, "n", 0, i), WK_STORE_APPLIED);
        }
        cr_expect_eq(wk_store_count(s), 5000);
        for (int i = 0; i < 5000; i += 2) {
                snprintf(id, sizeof(id), "wh-%d", i);
                cr_assert_eq(wk_store_apply(s, id, strlen(id), NULL, 0, i + 1,
                                            5000 + i),
                             WK_STORE_APPLIED);
        }
        cr_expect_eq(wk_store_count(s), 2500);
        cr_expect_eq(wk_store_version(s, "wh-4999"), 5000);
        wk_store_destroy(s);
}

/* --- JSON --------------------------------------------------------------- */

Test(store_json, round_trip)
{
        char *j = record("id-1", "crm", "whsec_c2VjcmV0");
        char err[512];
        wk_hook_t *h =
                wk_hook_from_json(j, strlen(j), "id-1", key, err, sizeof(err));
        char *j2;

        cr_assert(h, "%s", err);
        cr_expect_null(strstr(j, "c2VjcmV0"), "the secret is sealed");
        cr_expect_str_eq(h->app_token, "NX-acme");
        cr_expect_str_eq(h->name, "crm");
        cr_expect_str_eq(h->url, "https://example.com/hook");
        cr_expect_eq(h->enabled, 1);
        cr_assert_eq(h->event_count, 2);
        cr_expect_str_eq(h->events[1].type, "nps.score");
        cr_expect_eq(h->events[1].enabled, 0);
        cr_expect_eq(h->user_prop_count, 1);
        cr_expect_str_eq(h->headers[0], "X-Team: growth");
        cr_expect_str_eq(h->secret, "whsec_c2VjcmV0");
        cr_expect_eq(h->rate_limit, 5);
        /* the same webhook again (the nonce differs, nothing else) */
        j2 = wk_hook_to_json(h, key, err, sizeof(err));
        cr_assert(j2);
        wk_hook_free(h);
        h = wk_hook_from_json(j2, strlen(j2), "id-1", key, err, sizeof(err));
        cr_assert(h, "%s", err);
        cr_expect_str_eq(h->secret, "whsec_c2VjcmV0");
        wk_hook_free(h);
        /* another webhook's id cannot open the secret */
        h = wk_hook_from_json(j, strlen(j), "id-2", key, err, sizeof(err));
        cr_expect_null(h);
        cr_expect(strstr(err, "secret_sealed: "), "%s", err);
        free(j);
        free(j2);
}

/* \p json fails with a message holding \p want. */
static void bad(const char *json, const char *want)
{
        char err[2048];
        wk_hook_t *h = wk_hook_from_json(json, strlen(json), "id", key, err,
                                         sizeof(err));

        cr_expect_null(h, "accepted: %s", json);
        wk_hook_free(h);
        cr_expect(strstr(err, want), "'%s' not in '%s'", want, err);
}

#define OK_HEAD "{\"format\":1,\"app_token\":\"NX-a\",\"name\":\"n\","
#define OK_URL  "\"url\":\"https://example.com/\","
#define OK_EV   "\"events\":[\"*\"]"

Test(store_json, file_rules_and_types)
{
        bad("not json", "not a JSON object");
        bad(OK_HEAD OK_URL OK_EV ",\"colour\":1}", "colour: unknown field");
        bad("{\"format\":2,\"app_token\":\"a\",\"name\":\"n\"," OK_URL OK_EV
            "}",
            "format: expected 1");
        bad("{\"format\":1,\"name\":\"n\"," OK_URL OK_EV "}",
            "app_token: is required");
        bad("{\"format\":1,\"app_token\":\"a b\",\"name\":\"n\"," OK_URL OK_EV
            "}",
            "app_token: use 1 to 128");
        bad("{\"format\":1,\"app_token\":\"a\",\"name\":\"n/x\"," OK_URL OK_EV
            "}",
            "name: use 1 to 128 of A-Z a-z 0-9 _ . -");
        bad("{\"format\":1,\"app_token\":\"a\",\"name\":7," OK_URL OK_EV "}",
            "name: expected a string");
        bad(OK_HEAD "\"url\":\"ftp://x/\"," OK_EV "}",
            "url: must start with http:// or https://");
        bad(OK_HEAD "\"url\":\"https://\"," OK_EV "}",
            "url: has no host after the scheme");
        bad(OK_HEAD OK_URL "\"events\":[]}", "events: is empty");
        bad(OK_HEAD OK_URL "\"events\":[\"flows.completd\"]}",
            "events[0]: unknown webhook type 'flows.completd'");
        bad(OK_HEAD OK_URL "\"events\":[\"*\",\"*\"]}",
            "events[1]: '*' is listed twice");
        bad(OK_HEAD OK_URL "\"events\":[{\"type\":\"*\",\"on\":true}]}",
            "events[0]: unknown field 'on'");
        bad(OK_HEAD OK_URL OK_EV ",\"enabled\":\"yes\"}",
            "enabled: expected true or false");
        bad(OK_HEAD OK_URL OK_EV
            ",\"user_properties\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"],"
            "\"company_properties\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}",
            "chooses 11 properties; at most 10");
        bad(OK_HEAD OK_URL OK_EV ",\"user_properties\":[\"a\",\"a\"]}",
            "user_properties[1]: 'a' is listed twice");
        bad(OK_HEAD OK_URL OK_EV ",\"headers\":[\"Content-Type: x\"]}",
            "headers[0]: 'Content-Type' is set by hookbridge");
        bad(OK_HEAD OK_URL OK_EV ",\"headers\":[\"NoColon\"]}",
            "headers[0]: expected \"Name: value\"");
        bad(OK_HEAD OK_URL OK_EV ",\"signature\":\"userpilot\"}",
            "signature: \"userpilot\" needs a secret");
        bad(OK_HEAD OK_URL OK_EV ",\"signature\":\"hmac\"}",
            "signature: expected");
        bad(OK_HEAD OK_URL OK_EV ",\"rate_limit\":-1}", "rate_limit:");
        bad(OK_HEAD OK_URL OK_EV ",\"secret_sealed\":\"v1.AAAA\"}",
            "secret_sealed:");
        /* several problems: each named */
        bad("{\"format\":1,\"app_token\":\"a\",\"name\":\"\","
            "\"url\":\"x\",\"events\":[]}",
            "name: must not be empty\nurl: must start");
}

Test(store_json, minimal_is_valid)
{
        const char *j = OK_HEAD OK_URL OK_EV "}";
        char err[256];
        wk_hook_t *h =
                wk_hook_from_json(j, strlen(j), "id", key, err, sizeof(err));

        cr_assert(h, "%s", err);
        cr_expect_eq(h->enabled, 1);
        cr_expect_null(h->secret);
        cr_expect_eq(h->signature, CFG_SIG_STANDARD);
        wk_hook_free(h);
}

/* --- AES-256-GCM -------------------------------------------------------- */

Test(store_seal, round_trip_and_tamper_refused)
{
        char err[256];
        char *sealed =
                wk_seal(key, "whsec_topsecret", "wh-1", err, sizeof(err));
        char *again = wk_seal(key, "whsec_topsecret", "wh-1", err, sizeof(err));
        char *open;
        unsigned char other[WK_SEAL_KEY_LEN];

        cr_assert(sealed && again, "%s", err);
        cr_expect_eq(strncmp(sealed, "v1.", 3), 0);
        cr_expect_null(strstr(sealed, "topsecret"));
        cr_expect_str_neq(sealed, again, "a fresh nonce each time");
        open = wk_unseal(key, sealed, "wh-1", err, sizeof(err));
        cr_assert(open, "%s", err);
        cr_expect_str_eq(open, "whsec_topsecret");
        free(open);

        /* every single changed character of the sealed text is refused */
        for (size_t i = 3; sealed[i]; i++) {
                char save = sealed[i];

                sealed[i] = save == 'A' ? 'B' : 'A';
                open = wk_unseal(key, sealed, "wh-1", err, sizeof(err));
                cr_expect_null(open, "changed at %zu: accepted", i);
                free(open);
                sealed[i] = save;
        }
        /* another webhook id (the additional data) */
        cr_expect_null(wk_unseal(key, sealed, "wh-2", err, sizeof(err)));
        cr_expect(strstr(err, "refused"), "%s", err);
        /* another key */
        memcpy(other, key, sizeof(other));
        other[0] ^= 1;
        cr_expect_null(wk_unseal(other, sealed, "wh-1", err, sizeof(err)));
        /* cut short */
        sealed[strlen(sealed) - 8] = '\0';
        cr_expect_null(wk_unseal(key, sealed, "wh-1", err, sizeof(err)));
        cr_expect_null(wk_unseal(key, "v2.AAAA", "wh-1", err, sizeof(err)));
        free(sealed);
        free(again);
}

Test(store_seal, key_parse)
{
        unsigned char k[WK_SEAL_KEY_LEN];
        char err[256];

        /* 32 bytes: 0x00..0x1f */
        cr_expect_eq(wk_seal_key_parse(
                             "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
                             k, err, sizeof(err)),
                     0, "%s", err);
        cr_expect_eq(k[31], 31);
        cr_expect_eq(wk_seal_key_parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBka",
                                       k, err, sizeof(err)),
                     -1);
        cr_expect(strstr(err, "32 bytes"));
        cr_expect_eq(wk_seal_key_parse("not base64!", k, err, sizeof(err)), -1);
        cr_expect_eq(wk_seal_key_parse("", k, err, sizeof(err)), -1);
}

/* Why the loser restates: after compaction a key's last record is all a
 * new replica reads. */
Test(store_apply, restatement_keeps_replicas_equal_after_compaction)
{
        wk_store_t *full = wk_store_new_local(key);
        wk_store_t *lost = wk_store_new_local(key);
        wk_store_t *fixed = wk_store_new_local(key);
        char *j;

        /* full history: create (0), winner (1), loser (2) on base 1 */
        cr_expect_eq(put(full, "w", "v0", 0, 0), WK_STORE_APPLIED);
        cr_expect_eq(put(full, "w", "winner", 1, 1), WK_STORE_APPLIED);
        cr_expect_eq(put(full, "w", "loser", 1, 2), WK_STORE_IGNORED);
        /* compacted without a restatement: only the loser is left, and
         * its base names a record that is gone: the replicas disagree */
        cr_expect_eq(put(lost, "w", "loser", 1, 2), WK_STORE_APPLIED);
        cr_expect_str_neq(name_of(lost, "w"), "winner");
        /* the loser restates the current state (3, base 2) */
        j = record("w", "winner", NULL);
        cr_expect_eq(wk_store_apply_restate(full, "w", 1, j, strlen(j), 2, 3),
                     WK_STORE_APPLIED);
        cr_expect_eq(wk_store_version(full, "w"), 2, "the winner's version");
        cr_expect_str_eq(name_of(full, "w"), "winner");
        /* compacted with it: the restatement alone gives the same state */
        cr_expect_eq(wk_store_apply_restate(fixed, "w", 1, j, strlen(j), 2, 3),
                     WK_STORE_APPLIED);
        cr_expect_eq(wk_store_version(fixed, "w"), 2);
        cr_expect_str_eq(name_of(fixed, "w"), "winner");
        /* a stale restatement is ignored like any record */
        cr_expect_eq(wk_store_apply_restate(full, "w", 1, j, strlen(j), 1, 4),
                     WK_STORE_IGNORED);
        /* the next write on the winner's version applies on both */
        cr_expect_eq(put(full, "w", "next", 2, 5), WK_STORE_APPLIED);
        cr_expect_eq(put(fixed, "w", "next", 2, 5), WK_STORE_APPLIED);
        cr_expect_eq(wk_store_version(full, "w"), wk_store_version(fixed, "w"));
        free(j);
        wk_store_destroy(full);
        wk_store_destroy(lost);
        wk_store_destroy(fixed);
}
