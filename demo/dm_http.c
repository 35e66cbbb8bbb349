/* dm_http: the demo's requests, printed as curl commands (see the
 * header). */
#include "dm_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

static size_t on_body(char *p, size_t size, size_t n, void *opaque)
{
        dm_answer_t *a = opaque;
        size_t k = size * n;
        char *nb = realloc(a->body, a->len + k + 1);

        if (!nb)
                return 0;
        memcpy(nb + a->len, p, k);
        a->body = nb;
        a->len += k;
        a->body[a->len] = '\0';
        return k;
}

/* \p s between single quotes for a POSIX shell ('\'' for a quote). */
static void print_quoted(const char *s)
{
        putchar('\'');
        for (; *s; s++)
                if (*s == '\'')
                        fputs("'\\''", stdout);
                else
                        putchar(*s);
        putchar('\'');
}

static void print_request(const dm_request_t *r)
{
        printf("\n$ curl -sS");
        if (strcmp(r->method, "GET"))
                printf(" -X %s", r->method);
        printf(" %s", r->url);
        if (r->token)
                printf(" \\\n    -H \"Authorization: Bearer $%s\"",
                       r->token_env);
        if (r->body) {
                printf(" \\\n    -H 'Content-Type: application/json' "
                       "\\\n    -d ");
                print_quoted(r->body);
        }
        putchar('\n');
}

int dm_http(const dm_request_t *r, dm_answer_t *a, char *errstr,
            size_t errstr_size)
{
        CURL *c = curl_easy_init();
        struct curl_slist *h = NULL;
        char auth[4200];
        CURLcode rc;

        memset(a, 0, sizeof(*a));
        if (!c) {
                snprintf(errstr, errstr_size, "curl_easy_init failed");
                return -1;
        }
        if (r->print)
                print_request(r);
        if (r->token) {
                snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
                         r->token);
                h = curl_slist_append(h, auth);
        }
        if (r->body) {
                h = curl_slist_append(h, "Content-Type: application/json");
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
        }
        curl_easy_setopt(c, CURLOPT_URL, r->url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        rc = curl_easy_perform(c);
        if (rc == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        if (rc != CURLE_OK) {
                snprintf(errstr, errstr_size, "%s %s: %s", r->method, r->url,
                         curl_easy_strerror(rc));
                dm_answer_free(a);
                return -1;
        }
        if (r->print) {
                printf("HTTP %ld\n%s%s", a->status, a->body ? a->body : "",
                       a->len && a->body[a->len - 1] == '\n' ? "" : "\n");
                fflush(stdout);
        }
        return 0;
}

void dm_answer_free(dm_answer_t *a)
{
        free(a->body);
        memset(a, 0, sizeof(*a));
}
