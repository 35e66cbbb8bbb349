/* cfg_listen: the one parser of listen addresses ("127.0.0.1:9464",
 * "localhost:9464", "[::1]:9464"): the configuration checks admin.listen
 * with it and the admin listener binds what it gives. */
#include "cfg.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static int fail(char *errstr, size_t errstr_size, const char *why)
{
        if (errstr && errstr_size > 0)
                snprintf(errstr, errstr_size, "%s", why);
        return -1;
}

int cfg_listen_parse(const char *s, struct sockaddr_storage *ss, char *errstr,
                     size_t errstr_size)
{
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        char host[INET6_ADDRSTRLEN + 1];
        const char *h = s, *he, *p;
        unsigned long port = 0;
        int v6;

        memset(ss, 0, sizeof(*ss));
        if (!s || !*s)
                return fail(errstr, errstr_size, "empty");
        v6 = s[0] == '[';
        if (v6) {
                h = s + 1;
                he = strchr(h, ']');
                if (!he || he[1] != ':')
                        return fail(errstr, errstr_size,
                                    "an IPv6 address is written [addr]:port");
                p = he + 2;
        } else {
                he = strchr(s, ':');
                if (!he)
                        return fail(errstr, errstr_size, "no :port");
                if (strchr(he + 1, ':'))
                        return fail(errstr, errstr_size,
                                    "an IPv6 address needs brackets: "
                                    "[addr]:port");
                p = he + 1;
        }
        /* 1 to 5 digits, 0 to 65535: port 0 asks the kernel for a free
         * one (wk_admin_port() tells which) */
        if (!*p || strlen(p) > 5)
                return fail(errstr, errstr_size, "the port is 0 to 65535");
        for (; *p; p++) {
                if (*p < '0' || *p > '9')
                        return fail(errstr, errstr_size,
                                    "the port is 0 to 65535");
                port = port * 10 + (unsigned long)(*p - '0');
        }
        if (port > 65535)
                return fail(errstr, errstr_size, "the port is 0 to 65535");
        if (he == h || (size_t)(he - h) >= sizeof(host))
                return fail(errstr, errstr_size, "no address before the port");
        memcpy(host, h, (size_t)(he - h));
        host[he - h] = '\0';
        if (v6) {
                if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
                        return fail(errstr, errstr_size,
                                    "not a numeric IPv6 address");
                s6->sin6_family = AF_INET6;
                s6->sin6_port = htons((uint16_t)port);
                return 0;
        }
        /* numeric addresses only, so a name never resolves to an
         * unexpected interface; localhost is the loopback */
        if (!strcmp(host, "localhost"))
                s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
                return fail(errstr, errstr_size,
                            "not a numeric IPv4 address, [IPv6] or "
                            "localhost");
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        return 0;
}

int cfg_listen_loopback(const struct sockaddr_storage *ss)
{
        const struct in6_addr *a6 =
                &((const struct sockaddr_in6 *)ss)->sin6_addr;

        if (ss->ss_family == AF_INET)
                return (ntohl(((const struct sockaddr_in *)ss)
                                      ->sin_addr.s_addr) >>
                        24) == 127;
        if (IN6_IS_ADDR_LOOPBACK(a6))
                return 1;
        return IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127;
}
