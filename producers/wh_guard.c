/* wh_guard: the SSRF guard: which addresses a webhook may connect to. */
#include "wh_guard.h"

#include "cfg.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A prefix of an IPv6 address (IPv4 is held as ::ffff:a.b.c.d). */
typedef struct net_s {
        uint8_t addr[16];
        int bits;
} net_t;

struct wh_guard_s {
        net_t *allow;
        size_t allow_count;
};

/*
 * Blocked IPv4 ranges (SPEC: everything that is not public unicast): the
 * entries of IANA's IPv4 Special-Purpose Address Registry that are not
 * globally reachable (192.0.0.0/24 as a whole, its few anycast addresses
 * included), plus multicast and the reserved 240/4. SECURITY.md names the
 * registry version these match.
 */
static const struct {
        const char *net;
        int bits;
        const char *what;
} v4_blocked[] = {
        {"0.0.0.0", 8, "an unspecified (\"this network\") address"},
        {"10.0.0.0", 8, "a private (RFC 1918) address"},
        {"100.64.0.0", 10, "a carrier-grade NAT (RFC 6598) address"},
        {"127.0.0.0", 8, "a loopback address"},
        {"169.254.0.0", 16, "a link-local address"},
        {"172.16.0.0", 12, "a private (RFC 1918) address"},
        {"192.0.0.0", 24, "an IETF protocol assignment address"},
        {"192.0.2.0", 24, "a documentation (TEST-NET-1) address"},
        {"192.88.99.0", 24, "a 6to4 relay anycast address"},
        {"192.168.0.0", 16, "a private (RFC 1918) address"},
        {"198.18.0.0", 15, "a benchmarking (RFC 2544) address"},
        {"198.51.100.0", 24, "a documentation (TEST-NET-2) address"},
        {"203.0.113.0", 24, "a documentation (TEST-NET-3) address"},
        {"224.0.0.0", 4, "a multicast address"},
        {"240.0.0.0", 4, "a reserved address"},
};

/*
 * Blocked IPv6 ranges: the entries of IANA's IPv6 Special-Purpose Address
 * Registry that are not globally reachable (2001::/23 as a whole), plus
 * site-local and multicast. The forms that embed an IPv4 address
 * (::ffff:0:0/96, ::ffff:0:0:0/96, 64:ff9b::/96, 2002::/16) never get
 * here: wh_guard_check() judges them by that address.
 */
static const struct {
        const char *net;
        int bits;
        const char *what;
} v6_blocked[] = {
        {"::", 128, "the unspecified address"},
        {"::1", 128, "a loopback address"},
        {"::", 96, "an IPv4-compatible (deprecated) address"},
        {"64:ff9b:1::", 48, "a local-use NAT64 (RFC 8215) address"},
        {"100::", 64, "a discard-only address"},
        {"100:0:0:1::", 64, "a dummy-prefix (RFC 9780) address"},
        {"2001::", 32, "a Teredo tunnelling address"},
        {"2001::", 23, "an IETF protocol assignment address"},
        {"2001:db8::", 32, "a documentation address"},
        {"3fff::", 20, "a documentation (RFC 9637) address"},
        {"5f00::", 16, "an SRv6 segment identifier (RFC 9602) address"},
        {"fc00::", 7, "a unique local (private) address"},
        {"fe80::", 10, "a link-local address"},
        {"fec0::", 10, "a site-local (deprecated) address"},
        {"ff00::", 8, "a multicast address"},
};

static int match(const uint8_t *a, const uint8_t *net, int bits)
{
        int full = bits / 8, rest = bits % 8;

        if (memcmp(a, net, (size_t)full))
                return 0;
        if (!rest)
                return 1;
        return (a[full] ^ net[full]) >> (8 - rest) == 0;
}

/* Parse "addr" or "addr/bits" into an IPv6-form prefix (the syntax
 * delivery.allow_networks validates with the same parser). */
static int parse_cidr(const char *s, net_t *out)
{
        return cfg_cidr_parse(s, out->addr, &out->bits);
}

wh_guard_t *wh_guard_new(const char *const *allow, size_t allow_count,
                         char *errstr, size_t errstr_size)
{
        wh_guard_t *g = calloc(1, sizeof(*g));

        if (!g ||
            (allow_count && !(g->allow = calloc(allow_count, sizeof(net_t))))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        for (size_t i = 0; i < allow_count; i++) {
                const char *cidr = allow ? allow[i] : NULL;

                if (parse_cidr(cidr, &g->allow[i]) == -1) {
                        snprintf(errstr, errstr_size,
                                 "allow_networks: '%s' is not a CIDR (e.g. "
                                 "127.0.0.0/8, ::1/128, 10.1.2.3)",
                                 cidr ? cidr : "(null)");
                        goto err;
                }
                g->allow_count++;
        }
        return g;
err:
        wh_guard_destroy(g);
        return NULL;
}

void wh_guard_destroy(wh_guard_t *g)
{
        if (!g)
                return;
        free(g->allow);
        free(g);
}

/* Why a v4 address (network order bytes) is blocked, or NULL. */
static const char *v4_why(const uint8_t *a)
{
        struct in_addr net;

        if (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255)
                return "the broadcast address";
        for (size_t i = 0; i < sizeof(v4_blocked) / sizeof(v4_blocked[0]);
             i++) {
                inet_pton(AF_INET, v4_blocked[i].net, &net);
                if (match(a, (const uint8_t *)&net, v4_blocked[i].bits))
                        return v4_blocked[i].what;
        }
        return NULL;
}

/* 1 when an allow-list entry of \p g covers the 16-byte address \p a. */
static int allowed(const wh_guard_t *g, const uint8_t *a)
{
        for (size_t i = 0; g && i < g->allow_count; i++)
                if (match(a, g->allow[i].addr, g->allow[i].bits))
                        return 1;
        return 0;
}

int wh_guard_check(const wh_guard_t *g, const struct sockaddr *sa,
                   socklen_t salen, char *why, size_t why_size)
{
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                           0, 0, 0, 0, 0xff, 0xff};
        /* ::ffff:0:a.b.c.d, IPv4-translated (RFC 2765 SIIT) */
        static const uint8_t translated[12] = {0, 0, 0,    0,    0, 0,
                                               0, 0, 0xff, 0xff, 0, 0};
        static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
        uint8_t a[16] = {0}, v4[16] = {0};
        const uint8_t *embedded = NULL; /* the IPv4 address that decides */
        char text[INET6_ADDRSTRLEN] = "?";
        const char *what = NULL;

        if (sa && sa->sa_family == AF_INET &&
            salen >= (socklen_t)sizeof(struct sockaddr_in)) {
                const struct sockaddr_in *s4 = (const void *)sa;
                memcpy(a, mapped, 12);
                memcpy(a + 12, &s4->sin_addr, 4);
                inet_ntop(AF_INET, &s4->sin_addr, text, sizeof(text));
        } else if (sa && sa->sa_family == AF_INET6 &&
                   salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
                const struct sockaddr_in6 *s6 = (const void *)sa;
                memcpy(a, &s6->sin6_addr, 16);
                inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof(text));
        } else {
                snprintf(why, why_size, "not an IP address");
                return -1;
        }

        /* IPv4 (held as ::ffff:a.b.c.d), IPv4-mapped, IPv4-translated
         * ::ffff:0:a.b.c.d, NAT64 64:ff9b::/96 and 6to4 2002:V4ADDR::/16
         * are judged by their IPv4 address */
        if (!memcmp(a, mapped, 12) || !memcmp(a, translated, 12) ||
            !memcmp(a, nat64, 12))
                embedded = a + 12;
        else if (a[0] == 0x20 && a[1] == 0x02)
                embedded = a + 2;
        if (embedded) {
                memcpy(v4, mapped, 12);
                memcpy(v4 + 12, embedded, 4);
        }
        if (allowed(g, a) || (embedded && allowed(g, v4)))
                return 0;

        if (embedded) {
                what = v4_why(embedded);
        } else {
                for (size_t i = 0;
                     i < sizeof(v6_blocked) / sizeof(v6_blocked[0]); i++) {
                        uint8_t net[16];
                        inet_pton(AF_INET6, v6_blocked[i].net, net);
                        if (match(a, net, v6_blocked[i].bits)) {
                                what = v6_blocked[i].what;
                                break;
                        }
                }
        }
        if (!what)
                return 0;
        snprintf(why, why_size,
                 "%s is %s; allow it with delivery.allow_networks", text, what);
        return -1;
}
