/* cfg_rules: the checks of one webhook field (name, url, header, secret,
 * property count), written once for the file's loader and for the store's
 * JSON: each answers the text that follows "<field>: " in a message. */
#include "cfg_int.h"

#include "hb_base64.h"
#include "hb_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *cfg_rule_name(const char *name)
{
        size_t len = strlen(name);

        if (len == 0)
                return "must not be empty";
        for (size_t j = 0; j < len; j++) {
                if (!cfg_word_char(name[j]) && name[j] != '.' && name[j] != '-')
                        return "use 1 to 128 of A-Z a-z 0-9 _ . -";
        }
        if (len > CFG_NAME_MAX)
                return "use 1 to 128 of A-Z a-z 0-9 _ . -";
        return NULL;
}
_Static_assert(CFG_NAME_MAX == 128, "cfg_rule_name's message");

/* What curl, which sends to \p url, makes of it: @returns a reason
 * (curl's, which does not quote the URL) or NULL. */
static const char *url_parse_problem(const char *url)
{
        CURLU *u = curl_url();
        const char *why = NULL;
        char *port = NULL;
        CURLUcode rc;

        if (!u)
                return "cannot be checked: out of memory";
        rc = curl_url_set(u, CURLUPART_URL, url, 0);
        if (rc != CURLUE_OK)
                why = curl_url_strerror(rc);
        else if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
                 !strcmp(port, "0"))
                why = "port 0 cannot be connected to";
        curl_free(port);
        curl_url_cleanup(u);
        return why;
}

const char *cfg_rule_url(const char *url)
{
        const char *host;

        if (!strncasecmp(url, "http://", 7))
                host = url + 7;
        else if (!strncasecmp(url, "https://", 8))
                host = url + 8;
        else
                return "must start with http:// or https://";
        for (const char *p = url; *p; p++) {
                if ((unsigned char)*p <= 0x20 || *p == 0x7f)
                        return "must not hold spaces, CR/LF or other control "
                               "characters; percent-encode them";
        }
        if (!*host || strchr("/?#:", *host))
                return "has no host after the scheme";
        return url_parse_problem(url);
}

const char *cfg_rule_header(const char *h, char *buf, size_t size)
{
        size_t nlen = 0, j = 0;

        switch (hb_http_header_check(h, &nlen, &j)) {
        case HB_HDR_OK:
                return NULL;
        case HB_HDR_LINE_BREAK:
                return "contains CR or LF; write one \"Name: value\" per "
                       "string";
        case HB_HDR_NO_COLON:
                return "expected \"Name: value\" (no ':' found)";
        case HB_HDR_EMPTY_NAME:
                return "the header name before ':' is empty; expected "
                       "\"Name: value\"";
        case HB_HDR_BAD_NAME:
                snprintf(buf, size,
                         "the header name has a character HTTP does not "
                         "allow in names (%s at position %zu); use letters, "
                         "digits and !#$%%&'*+-.^_`|~",
                         h[j] == ' ' || h[j] == '\t' ? "a blank" : "one",
                         j + 1);
                return buf;
        case HB_HDR_OWNED:
                snprintf(buf, size, "'%.*s' is set by hookbridge; remove it",
                         (int)nlen, h);
                return buf;
        case HB_HDR_EMPTY_VALUE:
                snprintf(buf, size, "'%.*s' has an empty value", (int)nlen, h);
                return buf;
        case HB_HDR_BAD_VALUE:
                snprintf(buf, size,
                         "the value of '%.*s' holds a control character",
                         (int)nlen, h);
                return buf;
        }
        return "is not a valid header";
}

const char *cfg_rule_secret(const char *secret)
{
        if (!*secret)
                return "must not be empty; remove it to send unsigned "
                       "requests";
        /* the codec wh_key_new() decodes it with */
        if (!strncmp(secret, "whsec_", 6) &&
            hb_base64_decode(secret + 6, strlen(secret + 6), NULL, 0,
                             &(size_t){0}) == -1)
                return "the secret starts with \"whsec_\" but the rest is not "
                       "valid base64";
        return NULL;
}

const char *cfg_rule_props(size_t nprops, char *buf, size_t size)
{
        if (nprops <= CFG_MAX_PROPS)
                return NULL;
        snprintf(buf, size,
                 "chooses %zu properties; at most %d (user_properties + "
                 "company_properties) are allowed",
                 nprops, CFG_MAX_PROPS);
        return buf;
}
