/* Unit tests: wh_guard, the SSRF guard (address classes, allow-list). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <criterion/criterion.h>

#include "wh_guard.h"

/* @returns wh_guard_check() for a textual address. */
static int check(const wh_guard_t *g, const char *ip, char *why, size_t n)
{
        struct sockaddr_in s4 = {.sin_family = AF_INET};
        struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};

        if (inet_pton(AF_INET, ip, &s4.sin_addr) == 1)
                return wh_guard_check(g, (struct sockaddr *)&s4, sizeof(s4),
                                      why, n);
        cr_assert_eq(inet_pton(AF_INET6, ip, &s6.sin6_addr), 1, "%s", ip);
        return wh_guard_check(g, (struct sockaddr *)&s6, sizeof(s6), why, n);
}

Test(guard, blocks_every_non_public_range_by_default)
{
        static const char *const blocked[] = {
                "0.0.0.0",
                "10.1.2.3",
                "100.64.0.1",
                "127.0.0.1",
                "127.255.255.254",
                "169.254.169.254",
                "172.16.0.1",
                "172.31.255.255",
                "192.0.0.8",
                "192.0.2.1",
                "192.168.1.1",
                "198.18.0.1",
                "198.19.255.255",
                "198.51.100.7",
                "203.0.113.9",
                "224.0.0.1",
                "239.255.255.250",
                "240.0.0.1",
                "255.255.255.255",
                "::",
                "::1",
                "::ffff:127.0.0.1",
                "::ffff:10.0.0.1",
                "64:ff9b::a00:1",
                "2002:7f00:1::",
                "fc00::1",
                "fd12:3456::1",
                "fe80::1",
                "ff02::1",
                "2001:db8::1",
                "::127.0.0.1",
                "100::1",
        };
        wh_guard_t *g = wh_guard_new(NULL, 0, NULL, 0);
        char why[200];

        cr_assert_not_null(g);
        for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++) {
                why[0] = '\0';
                cr_expect_eq(check(g, blocked[i], why, sizeof(why)), -1,
                             "%s should be blocked", blocked[i]);
                cr_expect(strstr(why, "delivery.allow_networks") != NULL,
                          "%s: reason '%s' says how to allow it", blocked[i],
                          why);
        }
        wh_guard_destroy(g);
}

Test(guard, allows_public_addresses)
{
        static const char *const ok[] = {
                "1.1.1.1",        "8.8.8.8",        "93.184.216.34",
                "172.32.0.1",     "100.128.0.1",    "2606:4700::1111",
                "::ffff:8.8.8.8", "2002:808:808::", "64:ff9b::808:808",
        };
        wh_guard_t *g = wh_guard_new(NULL, 0, NULL, 0);
        char why[200];

        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
                cr_expect_eq(check(g, ok[i], why, sizeof(why)), 0,
                             "%s should be allowed: %s", ok[i], why);
        wh_guard_destroy(g);
}

Test(guard, allow_list_opens_chosen_networks_only)
{
        const char *allow[] = {"127.0.0.0/8", "::1/128", "10.1.2.3"};
        wh_guard_t *g = wh_guard_new(allow, 3, NULL, 0);
        char why[200];

        cr_assert_not_null(g);
        cr_expect_eq(check(g, "127.0.0.1", why, sizeof(why)), 0);
        cr_expect_eq(check(g, "::1", why, sizeof(why)), 0);
        cr_expect_eq(check(g, "::ffff:127.0.0.1", why, sizeof(why)), 0);
        cr_expect_eq(check(g, "10.1.2.3", why, sizeof(why)), 0);
        cr_expect_eq(check(g, "10.1.2.4", why, sizeof(why)), -1);
        cr_expect_eq(check(g, "192.168.0.1", why, sizeof(why)), -1);
        wh_guard_destroy(g);
}

Test(guard, bad_cidrs_are_reported)
{
        static const char *const bad[] = {"127.0.0.0/33", "nonsense", "::1/129",
                                          "10.0.0.0/",    "/8",       ""};
        char err[200];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err[0] = '\0';
                cr_expect_null(wh_guard_new(&bad[i], 1, err, sizeof(err)),
                               "'%s' accepted", bad[i]);
                cr_expect(strstr(err, "is not a CIDR") != NULL, "%s", err);
        }
        wh_guard_destroy(NULL);
}
