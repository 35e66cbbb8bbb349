/* cfg_webhook: the loader of the webhooks section (events, properties,
 * secrets, headers, TLS files, url). */
#include "cfg_int.h"

#include "hb_base64.h"
#include "hb_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- webhooks --------------------------------------------------------- */

static int cfg_type_known(const cfg_loader_t *ld, const char *type)
{
        for (size_t i = 0; i < ld->type_count; i++) {
                if (!strcmp(ld->types[i], type))
                        return 1;
        }
        return 0;
}

/* An unknown webhook type: the likely one, else every known one. */
static void cfg_report_type(cfg_loader_t *ld, const config_setting_t *at,
                            const char *path, int i, const char *type)
{
        const char *hint = cfg_suggest(type, ld->types, ld->type_count);
        char known[1024];

        if (hint) {
                cfg_report(ld, at,
                           "%s[%d]: unknown webhook type '%.64s'; did you "
                           "mean '%s'?",
                           path, i, type, hint);
                return;
        }
        cfg_join(known, sizeof(known), ld->types, ld->type_count, "");
        cfg_report(ld, at,
                   "%s[%d]: unknown webhook type '%.64s'; known: *, %s "
                   "(more can be added under mappings)",
                   path, i, type, known);
}

/*
 * events: strings switch a type on, { type; enabled = false; } switches it
 * off, "*" is every type. The record keeps only what is switched on: when
 * "*" is on and some types are off, "*" is written out as every known type
 * (built-in + mappings) but those, which is exactly what
 * cfg_webhook_wants() then answers for every type the transformer can
 * produce.
 */
static void cfg_parse_events(cfg_loader_t *ld, cfg_wh_ctx_t *w,
                             cfg_webhook_t *wh)
{
        const config_setting_t *s = cfg_member(w->g, "events");
        struct {
                const char *type;
                int on;
                const config_setting_t *at;
        } * ent;
        size_t count = 0, out_n = 0, off_n = 0;
        char path[CFG_PATH_MAX];
        const char **out;
        int n, star = 0;

        snprintf(path, sizeof(path), "%sevents", w->prefix);
        s = cfg_seq(ld, s, path,
                    "( \"flows.completed\", { type = \"nps.score\"; enabled "
                    "= false; } )");
        if (!s)
                return;
        n = config_setting_length(s);
        if (n == 0) {
                cfg_report(ld, s,
                           "%s: is empty; list the webhook types to send, "
                           "e.g. [ \"flows.completed\" ], or [ \"*\" ] for "
                           "every type",
                           path);
                return;
        }
        ent = ld_alloc(ld, (size_t)n, sizeof(*ent));
        if (!ent)
                return;
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, i);
                const config_setting_t *at = e;
                cfg_toggle_t t = {NULL, 1};
                size_t j;

                if (config_setting_type(e) == CONFIG_TYPE_STRING) {
                        t.type = config_setting_get_string(e);
                        if (!*t.type) {
                                cfg_report(ld, e, "%s[%d]: must not be empty",
                                           path, i);
                                continue;
                        }
                } else if (config_setting_is_group(e)) {
                        char prefix[CFG_ELEM_MAX];
                        char in[CFG_ELEM_MAX];
                        cfg_scope_t sc = {prefix, in};

                        snprintf(prefix, sizeof(prefix), "%s[%d].", path, i);
                        snprintf(in, sizeof(in), "in %s[%d]", path, i);
                        if (!(cfg_parse_opts(ld, e, &sc, cfg_toggle_opts, &t, 1,
                                             NULL) &
                              cfg_opt_bit(cfg_toggle_opts, "type")))
                                continue;
                        at = cfg_member(e, "type");
                } else {
                        cfg_report(ld, e,
                                   "%s[%d]: expected a webhook type or { type "
                                   "= \"...\"; enabled = false; }, got %s",
                                   path, i, cfg_type_name(e));
                        continue;
                }
                if (strcmp(t.type, "*") && !cfg_type_known(ld, t.type)) {
                        cfg_report_type(ld, at, path, i, t.type);
                        continue;
                }
                for (j = 0; j < count; j++) {
                        if (!strcmp(ent[j].type, t.type))
                                break;
                }
                if (j < count) {
                        cfg_report(ld, at,
                                   "%s[%d]: '%s' is listed twice (first at "
                                   "line %u); keep one entry",
                                   path, i, t.type, cfg_line(ent[j].at));
                        continue;
                }
                ent[count].type = t.type;
                ent[count].on = t.enabled;
                ent[count].at = at;
                count++;
                if (!strcmp(t.type, "*"))
                        star = t.enabled;
                else if (!t.enabled)
                        off_n++;
        }

        out = ld_alloc(ld, ld->type_count + count + 1, sizeof(*out));
        if (!out)
                return;
        if (star && off_n == 0) {
                out[out_n++] = "*";
        } else if (star) {
                for (size_t i = 0; i < ld->type_count; i++) {
                        size_t j;

                        for (j = 0; j < count; j++) {
                                if (!ent[j].on &&
                                    !strcmp(ent[j].type, ld->types[i]))
                                        break;
                        }
                        if (j == count)
                                out[out_n++] = ld->types[i];
                }
        } else {
                for (size_t i = 0; i < count; i++) {
                        if (ent[i].on)
                                out[out_n++] = ent[i].type;
                }
        }
        for (size_t i = 0; i < out_n; i++) {
                out[i] = ld_strdup(ld, out[i]);
                if (!out[i])
                        return;
        }
        wh->events = out;
        wh->event_count = out_n;
}

/* An element of user_properties / company_properties: listed once
 * (cfg_str_check_t). */
static int cfg_prop_once(cfg_loader_t *ld, const config_setting_t *e,
                         const char *path, int i, const char *v,
                         const char *const *kept, size_t nkept)
{
        for (size_t j = 0; j < nkept; j++) {
                if (!strcmp(kept[j], v)) {
                        cfg_report(ld, e,
                                   "%s[%d]: '%.64s' is listed twice; keep one "
                                   "entry",
                                   path, i, v);
                        return 0;
                }
        }
        return 1;
}

static size_t cfg_parse_props(cfg_loader_t *ld, cfg_wh_ctx_t *w,
                              const char *name, const char *const **outp)
{
        char path[CFG_PATH_MAX];

        snprintf(path, sizeof(path), "%s%s", w->prefix, name);
        return cfg_str_list(ld, cfg_member(w->g, name), path,
                            "[ \"plan\", \"role\" ]", cfg_prop_once, outp);
}

/*
 * Warn when a file holding a secret (\p what: the setting naming it) can
 * be read or written by users other than its owner. \p mode: its
 * st_mode. Neither the path nor the content is shown: the setting and
 * its line say which file.
 */
void cfg_warn_mode(cfg_loader_t *ld, const config_setting_t *at,
                   const char *prefix, const char *what, mode_t mode)
{
        if (mode & 077)
                cfg_warn(ld, at,
                         "%s%s: the file it names is readable by other users "
                         "(mode %04o); chmod 600 it",
                         prefix, what, (unsigned)(mode & 07777));
}

/* A hint for a value of secret_env, secret_file or admin.token_env that
 * looks like the secret itself (which is then never printed either). */
const char *cfg_secret_hint(const char *value)
{
        if (!strncasecmp(value, "whsec_", 6) || strlen(value) > 128)
                return " (the value looks like a secret itself: this "
                       "setting names where the secret is, not the secret)";
        return "";
}

/*
 * Read a secret file: the whole content, trailing CR/LF stripped. The
 * buffer holding it is wiped before it is freed. \p *mode: the file's
 * st_mode (0 when unknown).
 * @returns the secret in the arena, or NULL with *why set (errno text or
 *          a reason); never the content.
 */
const char *cfg_read_secret_file(cfg_loader_t *ld, const char *path,
                                 const char **why, mode_t *mode)
{
        char *buf = NULL;
        const char *out = NULL;
        struct stat st;
        size_t len = 0;
        FILE *fp;

        *mode = 0;
        fp = fopen(path, "re");
        if (!fp) {
                *why = strerror(errno);
                return NULL;
        }
        if (fstat(fileno(fp), &st) == 0) {
                if (S_ISDIR(st.st_mode)) {
                        *why = "is a directory";
                        goto err;
                }
                *mode = st.st_mode;
        }
        buf = malloc(CFG_SECRET_FILE_MAX + 1);
        if (!buf) {
                ld->oom = 1;
                *why = "out of memory";
                goto err;
        }
        len = fread(buf, 1, CFG_SECRET_FILE_MAX + 1, fp);
        if (ferror(fp)) {
                *why = "read error";
                goto err;
        }
        if (len > CFG_SECRET_FILE_MAX) {
                *why = "is larger than 64 KiB";
                goto err;
        }
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
                len--;
        if (len == 0) {
                *why = "is empty";
                goto err;
        }
        if (memchr(buf, '\0', len)) {
                *why = "holds a NUL byte";
                goto err;
        }
        out = ld_strndup(ld, buf, len);
        if (!out)
                *why = "out of memory";
err:
        if (buf) {
                explicit_bzero(buf, CFG_SECRET_FILE_MAX + 1);
                free(buf);
        }
        fclose(fp);
        return out;
}

int cfg_env_name_ok(const char *s)
{
        if (!*s || (*s >= '0' && *s <= '9'))
                return 0;
        for (; *s; s++) {
                if (!cfg_word_char(*s))
                        return 0;
        }
        return 1;
}

/*
 * One secret given one of three ways: names[0] (in the file), names[1]
 * (environment variable), names[2] (file). Never quotes the secret.
 * @returns the secret (arena) or NULL; *atp: the setting it came from.
 */
static const char *cfg_parse_secret(cfg_loader_t *ld, cfg_wh_ctx_t *w,
                                    const char *const names[3],
                                    const config_setting_t **atp)
{
        const config_setting_t *m[3], *at = NULL;
        const char *s, *secret = NULL, *why = NULL;
        int count = 0, which = -1;
        mode_t mode;

        *atp = NULL;
        for (int i = 0; i < 3; i++) {
                m[i] = cfg_member(w->g, names[i]);
                if (m[i]) {
                        count++;
                        if (!at || cfg_line(m[i]) >= cfg_line(at))
                                at = m[i];
                        which = i;
                }
        }
        if (count == 0)
                return NULL;
        *atp = at;
        if (count > 1) {
                cfg_report(ld, at, "%s%s: set only one of %s, %s and %s",
                           w->prefix, config_setting_name(at), names[0],
                           names[1], names[2]);
                return NULL;
        }
        s = config_setting_get_string(at);
        if (!s) {
                cfg_report(ld, at, "%s%s: expected a string, got %s", w->prefix,
                           names[which], cfg_type_name(at));
                return NULL;
        }
        if (!*s) {
                cfg_report(ld, at,
                           "%s%s: must not be empty; remove it to send "
                           "unsigned requests",
                           w->prefix, names[which]);
                return NULL;
        }
        switch (which) {
        case 0:
                secret = s;
                break;
        case 1:
                /* The value names where the secret is; never printed, as
                 * it may be a secret typed into the wrong field. */
                if (!cfg_env_name_ok(s)) {
                        cfg_report(ld, at,
                                   "%s%s: is not an environment variable "
                                   "name; use A-Z a-z 0-9 _, not starting "
                                   "with a digit%s",
                                   w->prefix, names[which], cfg_secret_hint(s));
                        return NULL;
                }
                secret = getenv(s);
                if (!secret) {
                        cfg_report(ld, at,
                                   "%s%s: the environment variable it names "
                                   "is not set; export it before starting "
                                   "hookbridge%s",
                                   w->prefix, names[which], cfg_secret_hint(s));
                        return NULL;
                }
                if (!*secret) {
                        cfg_report(ld, at,
                                   "%s%s: the environment variable it names "
                                   "is empty",
                                   w->prefix, names[which]);
                        return NULL;
                }
                break;
        case 2:
                secret = cfg_read_secret_file(ld, s, &why, &mode);
                if (!secret) {
                        cfg_report(ld, at,
                                   "%s%s: cannot read the file it names: "
                                   "%s%s",
                                   w->prefix, names[which], why,
                                   cfg_secret_hint(s));
                        return NULL;
                }
                cfg_warn_mode(ld, at, w->prefix, names[which], mode);
                break;
        }
        if ((why = cfg_rule_secret(secret)) != NULL) {
                cfg_report(ld, at, "%s%s: %s", w->prefix, names[which], why);
                return NULL;
        }
        return which == 2 ? secret : ld_strdup(ld, secret);
}

static void cfg_parse_secrets(cfg_loader_t *ld, cfg_wh_marks_t *mk,
                              cfg_webhook_t *wh)
{
        cfg_wh_ctx_t *w = &mk->w;
        static const char *const cur[3] = {"secret", "secret_env",
                                           "secret_file"};
        static const char *const prev[3] = {"previous_secret",
                                            "previous_secret_env",
                                            "previous_secret_file"};

        wh->secret = cfg_parse_secret(ld, w, cur, &mk->cur_at);
        wh->secret_previous = cfg_parse_secret(ld, w, prev, &mk->prev_at);
}

/*
 * A file the HTTP layer will read later: it must be readable now (it is
 * opened, not read: O_NONBLOCK so that a FIFO does not hang the load).
 * \p quote: whether the path may be shown (not for a private key's: it
 * names where a secret is).
 * @returns its st_mode, or 0 when it is unset or not usable (reported).
 */
static mode_t cfg_check_file(cfg_loader_t *ld, const config_setting_t *at,
                             const char *what, const char *path, int quote)
{
        struct stat st;
        int fd, err;

        if (!path)
                return 0;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) != 0) {
                err = errno;
                if (fd >= 0)
                        close(fd);
                if (quote)
                        cfg_report(ld, at, "%s: cannot read '%.256s': %s", what,
                                   path, strerror(err));
                else
                        cfg_report(ld, at,
                                   "%s: cannot read the file it names: %s",
                                   what, strerror(err));
                return 0;
        }
        close(fd);
        if (S_ISDIR(st.st_mode)) {
                if (quote)
                        cfg_report(ld, at,
                                   "%s: cannot read '%.256s': is a directory",
                                   what, path);
                else
                        cfg_report(ld, at,
                                   "%s: cannot read the file it names: is a "
                                   "directory",
                                   what);
                return 0;
        }
        return st.st_mode;
}

static void cfg_parse_tls(cfg_loader_t *ld, cfg_wh_ctx_t *w, cfg_webhook_t *wh)
{
        const config_setting_t *g = cfg_member(w->g, "tls");
        char path[CFG_PATH_MAX], prefix[CFG_PATH_MAX], where[CFG_PATH_MAX];
        char what[CFG_PATH_MAX + 16];
        mode_t mode;

        snprintf(path, sizeof(path), "%stls", w->prefix);
        g = cfg_group(ld, g, path,
                      "{ ca_file = \"...\"; client_cert = \"...\"; "
                      "client_key = \"...\"; }");
        if (!g)
                return;
        snprintf(prefix, sizeof(prefix), "%stls.", w->prefix);
        snprintf(where, sizeof(where), "in %s tls", w->who);
        cfg_scope_t sc = {prefix, where};
        cfg_parse_opts(ld, g, &sc, cfg_tls_opts, &wh->tls, 1, NULL);
        snprintf(what, sizeof(what), "%sca_file", prefix);
        cfg_check_file(ld, cfg_member(g, "ca_file"), what, wh->tls.ca_file, 1);
        snprintf(what, sizeof(what), "%sclient_cert", prefix);
        cfg_check_file(ld, cfg_member(g, "client_cert"), what,
                       wh->tls.client_cert, 1);
        snprintf(what, sizeof(what), "%sclient_key", prefix);
        mode = cfg_check_file(ld, cfg_member(g, "client_key"), what,
                              wh->tls.client_key, 0);
        /* A private key is a secret like secret_file: same warning. */
        cfg_warn_mode(ld, cfg_member(g, "client_key"), prefix, "client_key",
                      mode);
}

/* An element of headers: "Name: value" by hb_http_header_check()
 * (cfg_str_check_t). Values are never quoted: they are often
 * credentials. */
static int cfg_header_ok(cfg_loader_t *ld, const config_setting_t *e,
                         const char *path, int i, const char *h,
                         const char *const *kept, size_t nkept)
{
        char msg[CFG_MSG_MAX / 2];
        const char *why = cfg_rule_header(h, msg, sizeof(msg));

        (void)kept;
        (void)nkept;
        if (!why)
                return 1;
        cfg_report(ld, e, "%s[%d]: %s", path, i, why);
        return 0;
}

static void cfg_parse_headers(cfg_loader_t *ld, cfg_wh_ctx_t *w,
                              cfg_webhook_t *wh)
{
        char path[CFG_PATH_MAX];

        snprintf(path, sizeof(path), "%sheaders", w->prefix);
        wh->header_count = cfg_str_list(ld, cfg_member(w->g, "headers"), path,
                                        "[ \"Authorization: Bearer ...\" ]",
                                        cfg_header_ok, &wh->headers);
}

static void cfg_parse_webhook(cfg_loader_t *ld, const config_setting_t *g,
                              int idx, cfg_webhook_t *wh, cfg_wh_marks_t *mk)
{
        const cfg_delivery_t *d = &ld->cfg->delivery;
        const config_setting_t *m, *r;
        cfg_wh_ctx_t w;
        const char *name;
        uint32_t set;

        w.g = g;
        m = cfg_member(g, "name");
        name = m ? config_setting_get_string(m) : NULL;
        if (name && *name)
                snprintf(w.who, sizeof(w.who), "webhook '%.*s'", CFG_NAME_MAX,
                         name);
        else
                snprintf(w.who, sizeof(w.who), "webhooks[%d]", idx);
        snprintf(w.prefix, sizeof(w.prefix), "%s ", w.who);
        wh->line = (int)cfg_line(g);

        if (m && !name) {
                cfg_report(ld, m, "%sname: expected a string, got %s", w.prefix,
                           cfg_type_name(m));
        } else if (m) {
                const char *why = cfg_rule_name(name);

                if (why)
                        cfg_report(ld, m, "%sname: %s", w.prefix, why);
                if (*name)
                        wh->name = ld_strdup(ld, name);
        }

        char where[CFG_WHO_MAX + 4];
        snprintf(where, sizeof(where), "in %s", w.who);
        cfg_scope_t sc = {w.prefix, where};
        set = cfg_parse_opts(ld, g, &sc, cfg_webhook_opts, wh, 1, NULL);
        mk->w = w;
        mk->set = set;
        if (wh->app_token && !cfg_app_token_ok(wh->app_token))
                cfg_report(ld, cfg_member(g, "app_token"),
                           "%sapp_token: use 1 to %d of A-Z a-z 0-9 - . _ ~",
                           w.prefix, CFG_APP_TOKEN_MAX);

        m = cfg_member(g, "url");
        if (m) {
                const char *url = config_setting_get_string(m), *why;

                if (!url)
                        cfg_report(ld, m, "%surl: expected a string, got %s",
                                   w.prefix, cfg_type_name(m));
                else if ((why = cfg_rule_url(url)) != NULL)
                        cfg_report(ld, m, "%surl: %s", w.prefix, why);
                else
                        wh->url = ld_strdup(ld, url);
        }

        cfg_parse_events(ld, &w, wh);

        wh->user_prop_count =
                cfg_parse_props(ld, &w, "user_properties", &wh->user_props);
        wh->company_prop_count = cfg_parse_props(ld, &w, "company_properties",
                                                 &wh->company_props);

        cfg_parse_secrets(ld, mk, wh);
        cfg_parse_headers(ld, &w, wh);
        cfg_parse_tls(ld, &w, wh);
        /* not set: half of delivery.concurrency, at least 1 */
        if (!(set & cfg_opt_bit(cfg_webhook_opts, "max_in_flight")))
                wh->max_in_flight =
                        d->concurrency / 2 > 0 ? d->concurrency / 2 : 1;

        if (!(set & cfg_opt_bit(cfg_webhook_opts, "timeout_ms")))
                wh->timeout_ms = d->timeout_ms;

        wh->retry = d->retry;
        char rpath[CFG_PATH_MAX], rprefix[CFG_PATH_MAX], rwhere[CFG_PATH_MAX];
        snprintf(rpath, sizeof(rpath), "%sretry", w.prefix);
        snprintf(rprefix, sizeof(rprefix), "%sretry.", w.prefix);
        snprintf(rwhere, sizeof(rwhere), "in %s retry", w.who);
        r = cfg_group(ld, cfg_member(g, "retry"), rpath,
                      "{ initial_ms = ...; max_ms = ...; max_attempts = ...; "
                      "}");
        mk->retry = r;
        if (r) {
                cfg_scope_t rsc = {rprefix, rwhere};
                mk->rset = cfg_parse_opts(ld, r, &rsc, cfg_retry_opts,
                                          &wh->retry, 0, &mk->rbad);
        }
}

void cfg_parse_webhooks(cfg_loader_t *ld, const config_setting_t *s)
{
        cfg_t *cfg = ld->cfg;
        int n;

        s = cfg_seq(ld, s, "webhooks",
                    "( { name = \"crm\"; url = \"https://...\"; events = [ "
                    "\"*\" ]; } )");
        if (!s)
                return;
        n = config_setting_length(s);
        if (n == 0 && ld->cfg->api.listen)
                return; /* webhooks as data only (SPEC §7) */
        if (n == 0) {
                cfg_report(ld, s,
                           "webhooks: is empty; add at least one webhook, "
                           "e.g. ( { name = \"crm\"; url = "
                           "\"https://example.com/hook\"; events = [ \"*\" ]; "
                           "} )");
                return;
        }
        cfg->webhooks = ld_alloc(ld, (size_t)n, sizeof(*cfg->webhooks));
        ld->marks = ld_alloc(ld, (size_t)n, sizeof(*ld->marks));
        if (!cfg->webhooks || !ld->marks) {
                cfg->webhooks = NULL;
                return;
        }
        for (int i = 0; i < n && !ld->oom; i++) {
                const config_setting_t *e = config_setting_get_elem(s, i);

                if (!config_setting_is_group(e)) {
                        cfg_report(ld, e,
                                   "webhooks[%d]: expected a group { name = "
                                   "\"...\"; url = \"...\"; ... }, got %s",
                                   i, cfg_type_name(e));
                        continue;
                }
                cfg_parse_webhook(ld, e, i, &cfg->webhooks[cfg->webhook_count],
                                  &ld->marks[cfg->webhook_count]);
                cfg->webhook_count++;
        }
}
