/* Unit tests: wh_guard, the SSRF guard (address classes, allow-list). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

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

/* Every blocked range by its first and last address, with what the
 * reason must name; the neighbours outside are in allows_public_*. */
static const struct {
        const char *ip;
        const char *what;
} blocked[] = {
        {"0.0.0.0", "unspecified"},
        {"0.255.255.255", "unspecified"},
        {"10.0.0.0", "private"},
        {"10.255.255.255", "private"},
        {"100.64.0.0", "carrier-grade NAT"},
        {"100.127.255.255", "carrier-grade NAT"},
        {"127.0.0.1", "loopback"},
        {"127.255.255.254", "loopback"},
        {"169.254.0.0", "link-local"},
        {"169.254.169.254", "link-local"}, /* cloud metadata */
        {"169.254.255.255", "link-local"},
        {"172.16.0.0", "private"},
        {"172.31.255.255", "private"},
        {"192.0.0.0", "IETF protocol assignment"},
        {"192.0.0.255", "IETF protocol assignment"},
        {"192.0.2.0", "documentation"},
        {"192.0.2.255", "documentation"},
        {"192.88.99.0", "6to4 relay"},
        {"192.88.99.255", "6to4 relay"},
        {"192.168.0.0", "private"},
        {"192.168.255.255", "private"},
        {"198.18.0.0", "benchmarking"},
        {"198.19.255.255", "benchmarking"},
        {"198.51.100.0", "documentation"},
        {"198.51.100.255", "documentation"},
        {"203.0.113.0", "documentation"},
        {"203.0.113.255", "documentation"},
        {"224.0.0.0", "multicast"},
        {"239.255.255.255", "multicast"},
        {"240.0.0.0", "reserved"},
        {"255.255.255.254", "reserved"},
        {"255.255.255.255", "broadcast"},

        {"::", "unspecified"},
        {"::1", "loopback"},
        {"::127.0.0.1", "IPv4-compatible"},
        {"::8.8.8.8", "IPv4-compatible"},
        {"100::", "discard"},
        {"100::ffff:ffff:ffff:ffff", "discard"},
        {"2001::", "Teredo"},
        {"2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "Teredo"},
        {"2001:1::1", "IETF protocol assignment"},
        {"2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "IETF protocol assignment"},
        {"2001:db8::", "documentation"},
        {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "documentation"},
        {"fc00::", "unique local"},
        {"fd12:3456::1", "unique local"},
        {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique local"},
        {"fe80::", "link-local"},
        {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local"},
        {"fec0::1", "site-local"},
        {"ff00::", "multicast"},
        {"ff02::1", "multicast"},
        {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast"},
        {"64:ff9b:1::1", "local-use NAT64"},
        /* added to IANA's registry in 2024-2025 */
        {"3fff::", "documentation"},
        {"3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "documentation"},
        {"5f00::", "SRv6"},
        {"5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "SRv6"},
        {"100:0:0:1::", "dummy"},
        {"100::1:ffff:ffff:ffff:ffff", "dummy"},

        /* judged by the IPv4 address inside */
        {"::ffff:127.0.0.1", "loopback"},
        {"::ffff:10.0.0.1", "private"},
        {"::ffff:169.254.169.254", "link-local"},
        {"::ffff:0.0.0.0", "unspecified"},
        /* IPv4-translated (SIIT) */
        {"::ffff:0:127.0.0.1", "loopback"},
        {"::ffff:0:10.0.0.1", "private"},
        {"::ffff:0:169.254.169.254", "link-local"},
        {"64:ff9b::7f00:1", "loopback"},
        {"64:ff9b::a00:1", "private"},
        {"64:ff9b::c0a8:101", "private"},
        {"2002:7f00:1::", "loopback"},
        {"2002:a00:1:1234::1", "private"},
        {"2002:a9fe:a9fe::", "link-local"},
};

Test(guard, blocks_every_non_public_range_by_default)
{
        wh_guard_t *g = wh_guard_new(NULL, 0, NULL, 0);
        char why[200];

        cr_assert_not_null(g);
        for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++) {
                why[0] = '\0';
                cr_expect_eq(check(g, blocked[i].ip, why, sizeof(why)), -1,
                             "%s should be blocked", blocked[i].ip);
                cr_expect(strstr(why, blocked[i].what) != NULL,
                          "%s: reason '%s' should say %s", blocked[i].ip, why,
                          blocked[i].what);
                cr_expect(strstr(why, "allow it with delivery.allow_networks"),
                          "%s: reason '%s' says how to allow it", blocked[i].ip,
                          why);
        }
        wh_guard_destroy(g);
}

Test(guard, reason_names_the_address)
{
        wh_guard_t *g = wh_guard_new(NULL, 0, NULL, 0);
        char why[200];

        cr_assert_eq(check(g, "127.0.0.1", why, sizeof(why)), -1);
        cr_expect_str_eq(why, "127.0.0.1 is a loopback address; allow it with "
                              "delivery.allow_networks");
        cr_assert_eq(check(g, "::1", why, sizeof(why)), -1);
        cr_expect_str_eq(why, "::1 is a loopback address; allow it with "
                              "delivery.allow_networks");
        /* a short buffer is truncated, never overrun */
        cr_assert_eq(check(g, "10.0.0.1", why, 8), -1);
        cr_expect_str_eq(why, "10.0.0.");
        cr_assert_eq(check(g, "10.0.0.1", NULL, 0), -1);
        wh_guard_destroy(g);
}

Test(guard, allows_public_addresses_next_to_the_ranges)
{
        static const char *const ok[] = {
                "1.1.1.1",
                "8.8.8.8",
                "9.255.255.255",   /* below 10/8 */
                "11.0.0.0",        /* above 10/8 */
                "100.63.255.255",  /* below 100.64/10 */
                "100.128.0.0",     /* above */
                "126.255.255.255", /* below 127/8 */
                "128.0.0.0",
                "169.253.255.255",
                "169.255.0.0",
                "172.15.255.255",
                "172.32.0.0",
                "192.0.1.0", /* between 192.0.0/24 and 192.0.2/24 */
                "192.0.3.0",
                "192.88.98.255",
                "192.88.100.0",
                "192.167.255.255",
                "192.169.0.0",
                "198.17.255.255",
                "198.20.0.0",
                "198.51.99.255",
                "198.51.101.0",
                "203.0.112.255",
                "203.0.114.0",
                "223.255.255.255", /* below 224/4 */
                "93.184.216.34",
                "2606:4700::1111",
                "2a00:1450:4001::1",
                "2001:200::1", /* just above 2001::/23 */
                "2001:db7:ffff::1",
                "2001:db9::1",
                "2003::1",
                "fbff:ffff::1", /* below fc00::/7 */
                "::1:0:0:0",    /* above ::/96 */
                "::ffff:8.8.8.8",
                "::ffff:0:8.8.8.8",
                "3ffe:ffff:ffff::1", /* below 3fff::/20 */
                "3fff:1000::1",      /* above */
                "100::2:0:0:0:1",    /* above 100:0:0:1::/64 */
                "64:ff9b::808:808",
                "2002:808:808::",
                "2002:5db8:d822::1",
        };
        wh_guard_t *g = wh_guard_new(NULL, 0, NULL, 0);
        char why[200];

        cr_assert_not_null(g);
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                why[0] = '\0';
                cr_expect_eq(check(g, ok[i], why, sizeof(why)), 0,
                             "%s should be allowed: %s", ok[i], why);
        }
        wh_guard_destroy(g);
}

Test(guard, allow_list_opens_chosen_networks_only)
{
        const char *allow[] = {"127.0.0.0/8", "::1/128", "10.1.2.3",
                               "fd00::/8"};
        wh_guard_t *g = wh_guard_new(allow, 4, NULL, 0);
        char why[200];

        cr_assert_not_null(g);
        cr_expect_eq(check(g, "127.0.0.1", why, sizeof(why)), 0);
        cr_expect_eq(check(g, "127.255.255.255", why, sizeof(why)), 0);
        cr_expect_eq(check(g, "::1", why, sizeof(why)), 0);
        cr_expect_eq(check(g, "10.1.2.3", why, sizeof(why)), 0);
        cr_expect_eq(check(g, "fd12::1", why, sizeof(why)), 0);
        /* an allowed IPv4 network is allowed however it is written */
        cr_expect_eq(check(g, "::ffff:127.0.0.1", why, sizeof(why)), 0);
        cr_expect_eq(check(g, "64:ff9b::7f00:1", why, sizeof(why)), 0);
        cr_expect_eq(check(g, "2002:7f00:1::", why, sizeof(why)), 0);
        /* and nothing next to them */
        cr_expect_eq(check(g, "10.1.2.4", why, sizeof(why)), -1);
        cr_expect_eq(check(g, "10.1.2.2", why, sizeof(why)), -1);
        cr_expect_eq(check(g, "192.168.0.1", why, sizeof(why)), -1);
        cr_expect_eq(check(g, "169.254.169.254", why, sizeof(why)), -1);
        cr_expect_eq(check(g, "::", why, sizeof(why)), -1);
        cr_expect_eq(check(g, "fc00::1", why, sizeof(why)), -1);
        cr_expect_eq(check(g, "fe80::1", why, sizeof(why)), -1);
        wh_guard_destroy(g);
}

Test(guard, allow_list_prefix_lengths)
{
        const char *allow[] = {"192.168.1.128/25", "0.0.0.0/0"};
        wh_guard_t *g = wh_guard_new(allow, 1, NULL, 0);
        char why[200];

        cr_assert_not_null(g);
        cr_expect_eq(check(g, "192.168.1.128", why, sizeof(why)), 0);
        cr_expect_eq(check(g, "192.168.1.255", why, sizeof(why)), 0);
        cr_expect_eq(check(g, "192.168.1.127", why, sizeof(why)), -1);
        wh_guard_destroy(g);

        /* /0 opens every IPv4 address, and no IPv6 one */
        g = wh_guard_new(&allow[1], 1, NULL, 0);
        cr_assert_not_null(g);
        cr_expect_eq(check(g, "10.0.0.1", why, sizeof(why)), 0);
        cr_expect_eq(check(g, "255.255.255.255", why, sizeof(why)), 0);
        cr_expect_eq(check(g, "::1", why, sizeof(why)), -1);
        cr_expect_eq(check(g, "fe80::1", why, sizeof(why)), -1);
        wh_guard_destroy(g);
}

Test(guard, non_ip_addresses_are_refused)
{
        wh_guard_t *g = wh_guard_new(NULL, 0, NULL, 0);
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        struct sockaddr_in s4 = {.sin_family = AF_INET};
        char why[200];

        cr_expect_eq(wh_guard_check(g, (struct sockaddr *)&un, sizeof(un), why,
                                    sizeof(why)),
                     -1);
        cr_expect_str_eq(why, "not an IP address");
        /* a truncated sockaddr is not read past its length */
        inet_pton(AF_INET, "8.8.8.8", &s4.sin_addr);
        cr_expect_eq(
                wh_guard_check(g, (struct sockaddr *)&s4, 4, why, sizeof(why)),
                -1);
        wh_guard_destroy(g);
}

Test(guard, bad_cidrs_are_reported)
{
        static const char *const bad[] = {
                "127.0.0.0/33", "nonsense",    "::1/129",
                "10.0.0.0/",    "/8",          "",
                "10.0.0.0/ 8",  "10.0.0.0/+8", "10.0.0.0/-1",
                "10.0.0.0/8x",  "10.0.0/8",    "10.0.0.0/0008",
                "1.2.3.4.5",    "::1/12/8",    "fe80::1%eth0"};
        char err[200];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err[0] = '\0';
                cr_expect_null(wh_guard_new(&bad[i], 1, err, sizeof(err)),
                               "'%s' accepted", bad[i]);
                cr_expect(strstr(err, "is not a CIDR") != NULL, "%s", err);
                cr_expect(strstr(err, bad[i]) != NULL, "%s names '%s'", err,
                          bad[i]);
        }
        /* the first bad entry is named, after good ones */
        {
                const char *mixed[] = {"127.0.0.0/8", "::1/128", "300.1.1.1"};

                cr_expect_null(wh_guard_new(mixed, 3, err, sizeof(err)));
                cr_expect_str_eq(err, "allow_networks: '300.1.1.1' is not a "
                                      "CIDR (e.g. 127.0.0.0/8, ::1/128, "
                                      "10.1.2.3)");
        }
        {
                const char *holes[] = {"127.0.0.0/8", NULL};

                cr_expect_null(wh_guard_new(holes, 2, err, sizeof(err)));
                cr_expect(strstr(err, "is not a CIDR") != NULL, "%s", err);
        }
        wh_guard_destroy(NULL);
}

Test(guard, good_cidrs_are_accepted)
{
        static const char *const good[] = {"127.0.0.0/8",   "10.1.2.3",
                                           "10.1.2.3/32",   "0.0.0.0/0",
                                           "::1/128",       "::1",
                                           "fd00::/8",      "::/0",
                                           "2001:db8::/32", "192.168.1.0/024"};
        char err[200] = "";
        wh_guard_t *g;

        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                g = wh_guard_new(&good[i], 1, err, sizeof(err));
                cr_expect_not_null(g, "'%s': %s", good[i], err);
                wh_guard_destroy(g);
        }
        g = wh_guard_new(good, sizeof(good) / sizeof(good[0]), err,
                         sizeof(err));
        cr_expect_not_null(g, "%s", err);
        wh_guard_destroy(g);
}
