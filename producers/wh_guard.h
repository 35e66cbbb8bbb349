/* wh_guard: the SSRF guard: which addresses a webhook may connect to. */
#ifndef HB_WH_GUARD_H
#define HB_WH_GUARD_H

#include <stddef.h>
#include <sys/socket.h>

/**
 * Refuses, by default, every address that is not public unicast:
 * loopback, RFC 1918 private, link-local, CGNAT 100.64/10, benchmark
 * 198.18/15, multicast, documentation, reserved, unspecified and
 * broadcast ranges, and their IPv6 equivalents (::1, fc00::/7, fe80::/10,
 * ff00::/8, 2001:db8::/32, ::/128, 64:ff9b::/96 with a blocked embedded
 * IPv4, IPv4-mapped ::ffff:a.b.c.d judged as a.b.c.d, ...), unless an
 * allow-list CIDR covers it. Checked on the address actually connected
 * to, so DNS rebinding cannot get around it.
 */
typedef struct wh_guard_s wh_guard_t;

/**
 * @brief A guard with an allow-list of CIDRs ("127.0.0.0/8", "::1/128",
 *        "10.1.2.3" = /32).
 * @returns NULL with "allow_networks: 'X' is not a CIDR" in \p errstr.
 */
wh_guard_t *wh_guard_new(const char *const *allow, size_t allow_count,
                         char *errstr, size_t errstr_size);
void wh_guard_destroy(wh_guard_t *g);

/**
 * @brief May we connect to \p sa?
 * @returns 0 when allowed; -1 when refused, with a reason into \p why such
 *          as "127.0.0.1 is a loopback address; allow it with
 *          delivery.allow_networks".
 */
int wh_guard_check(const wh_guard_t *g, const struct sockaddr *sa,
                   socklen_t salen, char *why, size_t why_size);

#endif
