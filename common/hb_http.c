/* hb_http: header names, header values and the headers hookbridge owns
 * (RFC 9110 section 5). */
#include "hb_http.h"

#include <string.h>
#include <strings.h>

/* Headers hookbridge writes itself (SPEC section 4, and what curl adds
 * for a POST): a static header repeating one would be sent twice. */
static const char *const owned[] = {
        "Host",        "Content-Type", "Content-Length",    "Transfer-Encoding",
        "User-Agent",  "webhook-id",   "webhook-timestamp", "webhook-signature",
        "X-Signature", "Expect",
};

int hb_http_tchar(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

int hb_http_value_ok(const char *v, size_t n)
{
        if (n > 0 && (v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' ||
                      v[n - 1] == '\t'))
                return 0;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)v[i];
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        return 0;
                /* C1 (U+0080..U+009F) in UTF-8: CSI, NEL, ... are controls
                 * to a terminal or a log reader like C0 (0xc2 is never a
                 * continuation byte; in Latin-1 it is "\xc2" then C1) */
                if (c == 0xc2 && i + 1 < n && (unsigned char)v[i + 1] >= 0x80 &&
                    (unsigned char)v[i + 1] <= 0x9f)
                        return 0;
        }
        return 1;
}

int hb_http_owned_header(const char *name, size_t n)
{
        for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
                if (strlen(owned[i]) == n && !strncasecmp(name, owned[i], n))
                        return 1;
        }
        return 0;
}

hb_hdr_problem_t hb_http_header_check(const char *line, size_t *name_len,
                                      size_t *at)
{
        const char *colon = strchr(line, ':'), *v;
        size_t n, vlen;

        if (strpbrk(line, "\r\n"))
                return HB_HDR_LINE_BREAK;
        if (!colon)
                return HB_HDR_NO_COLON;
        n = (size_t)(colon - line);
        if (name_len)
                *name_len = n;
        if (n == 0)
                return HB_HDR_EMPTY_NAME;
        for (size_t i = 0; i < n; i++) {
                if (!hb_http_tchar(line[i])) {
                        if (at)
                                *at = i;
                        return HB_HDR_BAD_NAME;
                }
        }
        if (hb_http_owned_header(line, n))
                return HB_HDR_OWNED;
        /* the value is what stands between the blanks a receiver strips
         * (RFC 9110's optional whitespace) */
        for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
                ;
        vlen = strlen(v);
        while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
        if (vlen == 0)
                return HB_HDR_EMPTY_VALUE;
        return hb_http_value_ok(v, vlen) ? HB_HDR_OK : HB_HDR_BAD_VALUE;
}
