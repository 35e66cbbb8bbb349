/* Tests for wk_portal_token: a minted token verifies for its app until it
 * expires; an expired, tampered, re-signed or other key's token is
 * refused; the lifetime is bounded. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "wk_portal_token.h"

static const unsigned char key[WK_SEAL_KEY_LEN] = {
        1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
        17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const unsigned char other_key[WK_SEAL_KEY_LEN] = {
        1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
        17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 33};

#define NOW 1796000000

static void mint(const char *app, int ttl, char *tok)
{
        char err[128];
        int64_t exp = 0;

        cr_assert_eq(wk_portal_token_mint(key, app, ttl, NOW, tok,
                                          WK_PORTAL_TOKEN_MAX, &exp, err,
                                          sizeof(err)),
                     0, "%s", err);
        cr_assert_eq(exp, NOW + ttl);
}

static int verify(const unsigned char *k, const char *tok, int64_t now,
                  char *app, char *err)
{
        return wk_portal_token_verify(k, tok, now, app, CFG_APP_TOKEN_MAX + 1,
                                      NULL, err, 128);
}

Test(portal_token, verifies_for_its_app_until_it_expires)
{
        char tok[WK_PORTAL_TOKEN_MAX], app[CFG_APP_TOKEN_MAX + 1], err[128];
        int64_t exp = 0;

        mint("NX-acme", 600, tok);
        cr_assert(wk_portal_token_is(tok));
        cr_assert_eq(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
                                 "rstuvwxyz0123456789-_."),
                     strlen(tok), "not URL-safe: %s", tok);
        cr_assert_eq(wk_portal_token_verify(key, tok, NOW, app, sizeof(app),
                                            &exp, err, sizeof(err)),
                     0, "%s", err);
        cr_assert_str_eq(app, "NX-acme");
        cr_assert_eq(exp, NOW + 600);
        cr_assert_eq(verify(key, tok, NOW + 599, app, err), 0, "%s", err);
        cr_assert_eq(verify(key, tok, NOW + 600, app, err), -1);
        cr_assert_str_eq(err, "expired");
        cr_assert_eq(verify(key, tok, NOW + 100000, app, err), -1);
        cr_assert_str_eq(err, "expired");
}

Test(portal_token, two_tokens_for_one_app_differ)
{
        char a[WK_PORTAL_TOKEN_MAX], b[WK_PORTAL_TOKEN_MAX];

        mint("NX-acme", 600, a);
        mint("NX-acme", 600, b);
        cr_assert_str_neq(a, b, "the nonce makes each token unique");
}

Test(portal_token, another_key_refuses_it)
{
        char tok[WK_PORTAL_TOKEN_MAX], app[CFG_APP_TOKEN_MAX + 1] = "",
                                                               err[128];

        mint("NX-acme", 600, tok);
        cr_assert_eq(verify(other_key, tok, NOW, app, err), -1);
        cr_assert_str_eq(err, "bad signature");
        cr_assert_str_eq(app, "", "nothing written on a refusal");
}

Test(portal_token, every_changed_character_is_refused)
{
        char tok[WK_PORTAL_TOKEN_MAX], bad[WK_PORTAL_TOKEN_MAX + 1],
                app[CFG_APP_TOKEN_MAX + 1], err[128];
        const char *alphabet = "Ab0-_";
        size_t n, refused = 0, tries = 0;

        mint("NX-acme", 600, tok);
        n = strlen(tok);
        for (size_t i = 0; i < n; i++)
                for (const char *c = alphabet; *c; c++) {
                        if (tok[i] == *c)
                                continue;
                        memcpy(bad, tok, n + 1);
                        bad[i] = *c;
                        tries++;
                        refused += verify(key, bad, NOW, app, err) == -1;
                }
        cr_assert_eq(refused, tries, "%zu of %zu changes accepted",
                     tries - refused, tries);
        /* cut short, lengthened, empty */
        memcpy(bad, tok, n + 1);
        bad[n - 1] = '\0';
        cr_assert_eq(verify(key, bad, NOW, app, err), -1);
        snprintf(bad, sizeof(bad), "%sA", tok);
        cr_assert_eq(verify(key, bad, NOW, app, err), -1);
        cr_assert_eq(verify(key, "", NOW, app, err), -1);
        cr_assert_eq(verify(key, "hbpt1.", NOW, app, err), -1);
        cr_assert_eq(verify(key, "hbpt1..", NOW, app, err), -1);
        cr_assert(!wk_portal_token_is("s3cret-operator-token"));
}

Test(portal_token, another_apps_body_with_this_signature_is_refused)
{
        char a[WK_PORTAL_TOKEN_MAX], b[WK_PORTAL_TOKEN_MAX],
                spliced[WK_PORTAL_TOKEN_MAX], app[CFG_APP_TOKEN_MAX + 1],
                err[128];
        const char *adot, *bdot;

        mint("NX-acme", 600, a);
        mint("NX-other", 600, b);
        adot = strrchr(a, '.');
        bdot = strrchr(b, '.');
        /* b's body, a's signature */
        snprintf(spliced, sizeof(spliced), "%.*s%s", (int)(bdot - b), b, adot);
        cr_assert_eq(verify(key, spliced, NOW, app, err), -1);
        cr_assert_str_eq(err, "bad signature");
        cr_assert_eq(verify(key, b, NOW, app, err), 0);
        cr_assert_str_eq(app, "NX-other", "each token names its own app");
}

Test(portal_token, lifetime_is_at_most_an_hour)
{
        char tok[WK_PORTAL_TOKEN_MAX], app[CFG_APP_TOKEN_MAX + 1], err[128];

        cr_assert_eq(wk_portal_token_mint(key, "a", 3601, NOW, tok, sizeof(tok),
                                          NULL, err, sizeof(err)),
                     -1);
        cr_assert_eq(wk_portal_token_mint(key, "a", 0, NOW, tok, sizeof(tok),
                                          NULL, err, sizeof(err)),
                     -1);
        mint("a", 3600, tok);
        cr_assert_eq(verify(key, tok, NOW, app, err), 0, "%s", err);
        /* minted by a clock an hour ahead: lives too long from here */
        cr_assert_eq(verify(key, tok, NOW - 60, app, err), -1);
        cr_assert_str_eq(err, "expiry too far ahead");
}

Test(portal_token, bad_apps_are_not_minted)
{
        char tok[WK_PORTAL_TOKEN_MAX], err[128], big[CFG_APP_TOKEN_MAX + 2];

        cr_assert_eq(wk_portal_token_mint(key, "a/b", 60, NOW, tok, sizeof(tok),
                                          NULL, err, sizeof(err)),
                     -1);
        cr_assert_eq(wk_portal_token_mint(key, "", 60, NOW, tok, sizeof(tok),
                                          NULL, err, sizeof(err)),
                     -1);
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        cr_assert_eq(wk_portal_token_mint(key, big, 60, NOW, tok, sizeof(tok),
                                          NULL, err, sizeof(err)),
                     -1);
        big[CFG_APP_TOKEN_MAX] = '\0';
        mint(big, 60, tok);
        cr_assert_lt(strlen(tok), WK_PORTAL_TOKEN_MAX);
}
