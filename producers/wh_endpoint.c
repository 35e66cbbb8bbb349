/* wh_endpoint: one webhook's delivery settings, prepared for sending. */
#include "wh_endpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "hb_fmt.h"
#include "hb_http.h"
#include "wh_sign.h"

struct wh_endpoint_s {
        int refcnt; /* single-threaded use: the pool's thread */
        char *name;
        char *app; /* the webhook's app_token; NULL: an operator webhook */
        char *url;
        wh_key_t *key;      /* NULL: unsigned */
        wh_key_t *key_prev; /* rotation: also signed with, or NULL */
        cfg_sig_t signature;
        char **headers; /* static "Name: value" lines */
        size_t header_count;
        struct curl_slist *static_hdrs; /* the same, built once */
        int timeout_ms;
        cfg_retry_t retry;
        cfg_tls_t tls; /* strings owned */
        int max_in_flight;
        int rate_limit;
        int from_api; /* cfg_webhook_t.from_api */
};

static char *dup_str(const char *s)
{
        size_t n = strlen(s) + 1;
        char *d = malloc(n);

        if (d)
                memcpy(d, s, n);
        return d;
}

/* A static header line: NULL when fine, else the reason (never the
 * text: the value may be a credential). */
static const char *check_static_header(const char *h)
{
        switch (hb_http_header_check(h, NULL, NULL)) {
        case HB_HDR_OK:
                return NULL;
        case HB_HDR_LINE_BREAK:
        case HB_HDR_BAD_VALUE:
                return "contains a control character";
        case HB_HDR_NO_COLON:
        case HB_HDR_EMPTY_NAME:
                return "is not \"Name: value\"";
        case HB_HDR_BAD_NAME:
                return "has an invalid header name";
        case HB_HDR_OWNED:
                return "names a header hookbridge sets itself";
        case HB_HDR_EMPTY_VALUE:
                return "has an empty value";
        }
        return "is not a header";
}

wh_endpoint_t *wh_endpoint_new(const cfg_webhook_t *wh, char *errstr,
                               size_t errstr_size)
{
        wh_endpoint_t *ep = NULL;
        char kerr[256];
        const char *name;
        struct curl_slist *n;

        if (!wh) {
                snprintf(errstr, errstr_size, "no webhook given");
                return NULL;
        }
        name = wh->name ? wh->name : "?";
        if (!wh->url || !*wh->url) {
                snprintf(errstr, errstr_size, "webhook %s: url is empty", name);
                goto err;
        }
        if (wh->timeout_ms <= 0) {
                snprintf(errstr, errstr_size,
                         "webhook %s: timeout_ms must be > 0", name);
                goto err;
        }
        if (wh->retry.initial_ms < 1 || wh->retry.max_ms < 1 ||
            wh->retry.max_attempts < 1) {
                snprintf(errstr, errstr_size,
                         "webhook %s: retry initial_ms, max_ms and "
                         "max_attempts must be >= 1",
                         name);
                goto err;
        }
        if (wh->signature != CFG_SIG_STANDARD &&
            wh->signature != CFG_SIG_USERPILOT) {
                snprintf(errstr, errstr_size,
                         "webhook %s: unknown signature scheme", name);
                goto err;
        }
        if (wh->secret_previous && !wh->secret) {
                snprintf(errstr, errstr_size,
                         "webhook %s: secret_previous without secret", name);
                goto err;
        }

        ep = calloc(1, sizeof(*ep));
        if (!ep)
                goto oom;
        ep->refcnt = 1;
        ep->signature = wh->signature;
        ep->timeout_ms = wh->timeout_ms;
        ep->retry = wh->retry;
        ep->name = dup_str(name);
        ep->url = dup_str(wh->url);
        if (!ep->name || !ep->url)
                goto oom;
        if (wh->app_token && !(ep->app = dup_str(wh->app_token)))
                goto oom;
        ep->max_in_flight = wh->max_in_flight;
        ep->rate_limit = wh->rate_limit;
        ep->from_api = wh->from_api;
        if ((wh->tls.ca_file &&
             !(ep->tls.ca_file = dup_str(wh->tls.ca_file))) ||
            (wh->tls.client_cert &&
             !(ep->tls.client_cert = dup_str(wh->tls.client_cert))) ||
            (wh->tls.client_key &&
             !(ep->tls.client_key = dup_str(wh->tls.client_key))))
                goto oom;
        if (wh->secret) {
                ep->key = wh_key_new(wh->secret, kerr, sizeof(kerr));
                if (!ep->key) {
                        snprintf(errstr, errstr_size, "webhook %s: secret: %s",
                                 name, kerr);
                        goto err;
                }
        }
        if (wh->secret_previous) {
                ep->key_prev =
                        wh_key_new(wh->secret_previous, kerr, sizeof(kerr));
                if (!ep->key_prev) {
                        snprintf(errstr, errstr_size,
                                 "webhook %s: secret_previous: %s", name, kerr);
                        goto err;
                }
        }
        if (wh->header_count > 0) {
                ep->headers = calloc(wh->header_count, sizeof(*ep->headers));
                if (!ep->headers)
                        goto oom;
        }
        for (size_t i = 0; i < wh->header_count; i++) {
                const char *why = wh->headers[i]
                                          ? check_static_header(wh->headers[i])
                                          : "is missing";

                if (why) {
                        /* the value may be a credential: name only the
                         * position, never the text */
                        snprintf(errstr, errstr_size,
                                 "webhook %s: header #%zu %s", name, i + 1,
                                 why);
                        goto err;
                }
                ep->headers[i] = dup_str(wh->headers[i]);
                if (!ep->headers[i])
                        goto oom;
                ep->header_count = i + 1;
                n = curl_slist_append(ep->static_hdrs, ep->headers[i]);
                if (!n)
                        goto oom;
                ep->static_hdrs = n;
        }
        return ep;
oom:
        snprintf(errstr, errstr_size, "webhook %s: out of memory", name);
err:
        if (ep) {
                ep->refcnt = 1;
                wh_endpoint_unref(ep);
        }
        return NULL;
}

wh_endpoint_t *wh_endpoint_ref(wh_endpoint_t *ep)
{
        if (ep)
                ep->refcnt++;
        return ep;
}

void wh_endpoint_unref(wh_endpoint_t *ep)
{
        if (!ep || --ep->refcnt > 0)
                return;
        wh_key_destroy(ep->key);
        wh_key_destroy(ep->key_prev);
        for (size_t i = 0; i < ep->header_count; i++)
                free(ep->headers[i]);
        free(ep->headers);
        curl_slist_free_all(ep->static_hdrs);
        free(ep->name);
        free(ep->app);
        free(ep->url);
        free((char *)ep->tls.ca_file);
        free((char *)ep->tls.client_cert);
        free((char *)ep->tls.client_key);
        free(ep);
}

int wh_endpoint_shared(const wh_endpoint_t *ep)
{
        return ep->refcnt > 1;
}

int wh_endpoint_max_in_flight(const wh_endpoint_t *ep)
{
        return ep->max_in_flight;
}

int wh_endpoint_rate_limit(const wh_endpoint_t *ep)
{
        return ep->rate_limit;
}

const cfg_tls_t *wh_endpoint_tls(const wh_endpoint_t *ep)
{
        return &ep->tls;
}

const char *wh_endpoint_name(const wh_endpoint_t *ep)
{
        return ep->name;
}

const char *wh_endpoint_app(const wh_endpoint_t *ep)
{
        return ep->app;
}

int wh_endpoint_from_api(const wh_endpoint_t *ep)
{
        return ep->from_api;
}

const char *wh_endpoint_origin(const char *url, char *out, size_t size)
{
        CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL, *port = NULL;
        const char *ret = NULL;

        if (u && url && !curl_url_set(u, CURLUPART_URL, url, 0) &&
            !curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) &&
            !curl_url_get(u, CURLUPART_HOST, &host, 0)) {
                /* no port part when the URL names none */
                curl_url_get(u, CURLUPART_PORT, &port, 0);
                snprintf(out, size, "%s://%s%s%s", scheme, host,
                         port ? ":" : "", port ? port : "");
                ret = out;
        }
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
        return ret;
}

const char *wh_endpoint_url(const wh_endpoint_t *ep)
{
        return ep->url;
}

int wh_endpoint_timeout_ms(const wh_endpoint_t *ep)
{
        return ep->timeout_ms;
}

const cfg_retry_t *wh_endpoint_retry(const wh_endpoint_t *ep)
{
        return &ep->retry;
}

/* A header list under construction: once an append fails, every later
 * one is skipped and the caller sees \p failed. */
struct hlist {
        struct curl_slist *list;
        int failed;
};

static void add(struct hlist *h, const char *line)
{
        struct curl_slist *n;

        if (h->failed)
                return;
        n = curl_slist_append(h->list, line);
        if (n)
                h->list = n;
        else
                h->failed = 1;
}

/*
 * The signature header value for \p key (and, during a rotation, \p prev
 * after a space) into out; -1 on failure.
 */
static int signature_value(const wh_endpoint_t *ep, const char *id, int64_t ts,
                           const char *body, size_t body_len, char *out,
                           size_t out_size)
{
        const wh_key_t *keys[2] = {ep->key, ep->key_prev};
        size_t off = 0;

        for (int i = 0; i < 2 && keys[i]; i++) {
                int n;

                if (i > 0) {
                        if (off + 1 >= out_size)
                                return -1;
                        out[off++] = ' ';
                }
                if (ep->signature == CFG_SIG_USERPILOT)
                        n = wh_sign_userpilot(keys[i], ts, body, body_len,
                                              out + off, out_size - off);
                else
                        n = wh_sign_standard(keys[i], id, ts, body, body_len,
                                             out + off, out_size - off);
                if (n < 0)
                        return -1;
                off += (size_t)n;
        }
        return 0;
}

int wh_endpoint_attempt_lines(const wh_endpoint_t *ep, const char *id_line,
                              int64_t ts, const char *body, size_t body_len,
                              wh_attempt_lines_t *out)
{
        static const char pfx[] = WH_ID_LINE_PREFIX;
        static const char ts_name[] = "webhook-timestamp: ";
        const char *id, *name;
        char sig[2 * WH_SIGN_MAX];
        size_t n = 0;

        if (!ep || !id_line || !out ||
            strncmp(id_line, pfx, sizeof(pfx) - 1) != 0)
                return -1;
        /* the id comes from the event: it must not smuggle in a header */
        id = id_line + sizeof(pfx) - 1;
        if (!*id || !hb_http_value_ok(id, strlen(id)))
                return -1;
        out->line[n++] = "Content-Type: application/json";
        out->line[n++] = "User-Agent: hookbridge/" HB_VERSION;
        /* no "Expect: 100-continue" round trip before the body */
        out->line[n++] = "Expect:";
        out->line[n++] = id_line;
        if (ep->signature == CFG_SIG_STANDARD) {
                _Static_assert(sizeof(out->ts) >=
                                       sizeof(ts_name) - 1 + HB_FMT_I64_MAX,
                               "room for the timestamp line");
                memcpy(out->ts, ts_name, sizeof(ts_name) - 1);
                hb_fmt_i64(out->ts + sizeof(ts_name) - 1, ts);
                out->line[n++] = out->ts;
        }
        if (ep->key) {
                if (signature_value(ep, id, ts, body, body_len, sig,
                                    sizeof(sig)) != 0)
                        return -1;
                name = ep->signature == CFG_SIG_USERPILOT
                               ? "X-Signature: "
                               : "webhook-signature: ";
                if (hb_fmt_cat(out->sig, sizeof(out->sig), name, sig, NULL) >=
                    sizeof(out->sig))
                        return -1;
                out->line[n++] = out->sig;
        }
        out->count = n;
        return 0;
}

void *wh_endpoint_static_headers(const wh_endpoint_t *ep)
{
        return ep ? ep->static_hdrs : NULL;
}

void *wh_endpoint_headers(const wh_endpoint_t *ep, const char *id, int64_t ts,
                          const char *body, size_t body_len)
{
        struct hlist h = {NULL, 0};
        wh_attempt_lines_t al;
        char *id_line;
        size_t pl = sizeof(WH_ID_LINE_PREFIX) - 1, il;

        if (!ep || !id)
                return NULL;
        il = strlen(id);
        if (!(id_line = malloc(pl + il + 1)))
                return NULL;
        memcpy(id_line, WH_ID_LINE_PREFIX, pl);
        memcpy(id_line + pl, id, il + 1);
        if (wh_endpoint_attempt_lines(ep, id_line, ts, body, body_len, &al) !=
            0) {
                free(id_line);
                return NULL;
        }
        for (size_t i = 0; i < al.count; i++)
                add(&h, al.line[i]);
        free(id_line);
        for (size_t i = 0; i < ep->header_count; i++)
                add(&h, ep->headers[i]);

        if (h.failed) {
                curl_slist_free_all(h.list);
                return NULL;
        }
        return h.list;
}
