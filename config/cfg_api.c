/* cfg_api: the loader of the api section (SPEC §7): the management API's
 * listener, operator tokens, store topic, secret key and limits. */
#include "cfg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_base64.h"
#include "hb_sched.h"

#define API_TOKEN_MIN   16   /* shorter bearer tokens are guessable */
#define API_TOKEN_MAX   4096 /* longer is a mistake (a whole file) */
#define API_TOKENS_MAX  64   /* several, for rotation; not thousands */
#define API_GRACE_DEF   (24LL * 3600 * 1000)
#define API_TOPIC_DEF   "hookbridge.webhooks"
#define API_FRAMES_DEF  "'none'"
#define API_KEY_B64_LEN 44 /* base64 of 32 bytes */

const cfg_opt_t cfg_api_opts[] = {
        CFG_STR("listen", cfg_api_t, listen, CFG_RESTART_ONLY, NULL, NULL),
        CFG_CUSTOM("token", CFG_RESTART_ONLY, NULL),
        CFG_CUSTOM("token_env", CFG_RESTART_ONLY, NULL),
        CFG_CUSTOM("token_file", CFG_RESTART_ONLY, NULL),
        CFG_STR("store_topic", cfg_api_t, store_topic,
                CFG_NONEMPTY | CFG_RESTART_ONLY, API_TOPIC_DEF, NULL),
        CFG_INT("store_replication_factor", cfg_api_t, store_replication_factor,
                CFG_RESTART_ONLY, 0, 32767, 0),
        CFG_CUSTOM("secret_key_env", CFG_RESTART_ONLY, NULL),
        CFG_CUSTOM("secret_key_file", CFG_RESTART_ONLY, NULL),
        CFG_CUSTOM("rotation_grace", CFG_RESTART_ONLY, NULL),
        CFG_INT("max_webhooks_per_app", cfg_api_t, max_webhooks_per_app,
                CFG_RESTART_ONLY, 1, 100000, 50),
        CFG_STR("frame_ancestors", cfg_api_t, frame_ancestors,
                CFG_NONEMPTY | CFG_RESTART_ONLY, API_FRAMES_DEF, NULL),
        CFG_BOOL("allow_open", cfg_api_t, allow_open, CFG_RESTART_ONLY, 0),
        {NULL},
};

/* The tokens found so far (api.token, api.token_env, api.token_file). */
typedef struct api_tokens_s {
        const char *v[API_TOKENS_MAX];
        size_t n;
} api_tokens_t;

/* One token \p t[0, len) from \p what (never quoted: it is a secret). */
static void add_token(cfg_loader_t *ld, api_tokens_t *tk,
                      const config_setting_t *at, const char *what,
                      const char *t, size_t len)
{
        if (len < API_TOKEN_MIN || len > API_TOKEN_MAX) {
                cfg_report(ld, at,
                           "%s: a token has %d to %d characters (this one "
                           "%zu); e.g. openssl rand -hex 32",
                           what, API_TOKEN_MIN, API_TOKEN_MAX, len);
                return;
        }
        for (size_t i = 0; i < len; i++) {
                if ((unsigned char)t[i] <= 0x20 ||
                    (unsigned char)t[i] >= 0x7f) {
                        cfg_report(ld, at,
                                   "%s: a token is printable ASCII without "
                                   "spaces",
                                   what);
                        return;
                }
        }
        if (tk->n == API_TOKENS_MAX) {
                cfg_report(ld, at, "%s: more than %d tokens in all", what,
                           API_TOKENS_MAX);
                return;
        }
        tk->v[tk->n] = ld_strndup(ld, t, len);
        if (tk->v[tk->n])
                tk->n++;
}

/* The strings of \p s (a string, or a list of them) into \p out (at most
 * \p max); @returns how many, reported when they are not strings. */
static size_t strings_of(cfg_loader_t *ld, const config_setting_t *s,
                         const char *what, const char **out, size_t max)
{
        size_t n = 0;

        if (config_setting_type(s) == CONFIG_TYPE_STRING) {
                out[0] = config_setting_get_string(s);
                return 1;
        }
        if (!cfg_is_seq(s)) {
                cfg_report(ld, s,
                           "%s: expected a string or a list of strings, got "
                           "%s",
                           what, cfg_type_name(s));
                return 0;
        }
        for (int i = 0; i < config_setting_length(s) && n < max; i++) {
                const config_setting_t *e = config_setting_get_elem(s, i);
                const char *v = config_setting_get_string(e);

                if (!v)
                        cfg_report(ld, e, "%s[%d]: expected a string, got %s",
                                   what, i, cfg_type_name(e));
                else
                        out[n++] = v;
        }
        return n;
}

/* The value of the environment variable named by \p name (reported when
 * \p name is not a name or names nothing). */
static const char *env_of(cfg_loader_t *ld, const config_setting_t *at,
                          const char *what, const char *name)
{
        const char *v;

        /* never printed: it may be the secret typed into the wrong field */
        if (!cfg_env_name_ok(name)) {
                cfg_report(ld, at,
                           "%s: is not an environment variable name; use "
                           "A-Z a-z 0-9 _, not starting with a digit%s",
                           what, cfg_secret_hint(name));
                return NULL;
        }
        v = getenv(name);
        if (!v || !*v) {
                cfg_report(ld, at,
                           "%s: the environment variable it names is not "
                           "set or empty; export it before starting "
                           "hookbridge%s",
                           what, cfg_secret_hint(name));
                return NULL;
        }
        return v;
}

static void parse_tokens(cfg_loader_t *ld, const config_setting_t *g,
                         cfg_api_t *a)
{
        static const char *const names[3] = {"token", "token_env",
                                             "token_file"};
        api_tokens_t tk = {{NULL}, 0};
        const char **list;

        for (int k = 0; k < 3; k++) {
                const config_setting_t *s = cfg_member(g, names[k]);
                char what[32];
                const char *v[API_TOKENS_MAX];
                size_t n;

                if (!s)
                        continue;
                snprintf(what, sizeof(what), "api.%s", names[k]);
                n = strings_of(ld, s, what, v, API_TOKENS_MAX);
                for (size_t i = 0; i < n; i++) {
                        const char *t = v[i], *why;
                        mode_t mode;

                        if (k == 1 && !(t = env_of(ld, s, what, v[i])))
                                continue;
                        if (k == 2) {
                                t = cfg_read_secret_file(ld, v[i], &why, &mode);
                                if (!t) {
                                        cfg_report(ld, s,
                                                   "%s: cannot read the file "
                                                   "it names: %s%s",
                                                   what, why,
                                                   cfg_secret_hint(v[i]));
                                        continue;
                                }
                                cfg_warn_mode(ld, s, "api.", names[k], mode);
                        }
                        if (k == 0) {
                                add_token(ld, &tk, s, what, t, strlen(t));
                                continue;
                        }
                        /* a variable or file may hold several, one a line
                         * (blank lines skipped): rotate by adding one */
                        while (*t) {
                                size_t len = strcspn(t, "\r\n");

                                if (len)
                                        add_token(ld, &tk, s, what, t, len);
                                t += len;
                                t += strspn(t, "\r\n");
                        }
                }
        }
        if (!tk.n)
                return;
        list = ld_alloc(ld, tk.n, sizeof(*list));
        if (!list)
                return;
        memcpy(list, tk.v, tk.n * sizeof(*list));
        a->tokens = list;
        a->token_count = tk.n;
}

static void parse_key(cfg_loader_t *ld, const config_setting_t *g, cfg_api_t *a)
{
        const config_setting_t *e = cfg_member(g, "secret_key_env");
        const config_setting_t *f = cfg_member(g, "secret_key_file");
        const config_setting_t *at = e ? e : f;
        const char *what = e ? "api.secret_key_env" : "api.secret_key_file";
        const char *name, *v, *why;
        size_t len, got = 0;
        mode_t mode;

        if (!e && !f)
                return;
        if (e && f) {
                cfg_report(ld, f,
                           "api: secret_key_env and secret_key_file both "
                           "set; keep one");
                return;
        }
        name = config_setting_get_string(at);
        if (!name || !*name) {
                cfg_report(ld, at, "%s: expected a non-empty string", what);
                return;
        }
        if (e) {
                v = env_of(ld, at, what, name);
        } else {
                v = cfg_read_secret_file(ld, name, &why, &mode);
                if (!v)
                        cfg_report(ld, at,
                                   "%s: cannot read the file it names: %s%s",
                                   what, why, cfg_secret_hint(name));
                else
                        cfg_warn_mode(ld, at, "api.", "secret_key_file", mode);
        }
        if (!v)
                return;
        len = strlen(v);
        if (len != API_KEY_B64_LEN ||
            hb_base64_decode(v, len, a->secret_key, sizeof(a->secret_key),
                             &got) == -1 ||
            got != sizeof(a->secret_key)) {
                explicit_bzero(a->secret_key, sizeof(a->secret_key));
                cfg_report(ld, at,
                           "%s: the key is 32 bytes written in base64 (%d "
                           "characters); make one with: openssl rand "
                           "-base64 32",
                           what, API_KEY_B64_LEN);
                return;
        }
        a->have_secret_key = 1;
}

static void parse_grace(cfg_loader_t *ld, const config_setting_t *g,
                        cfg_api_t *a)
{
        const config_setting_t *s = cfg_member(g, "rotation_grace");
        const char *v;
        char why[128];
        int64_t ms;

        a->rotation_grace_ms = API_GRACE_DEF;
        if (!s)
                return;
        v = config_setting_get_string(s);
        if (!v) {
                cfg_report(ld, s,
                           "api.rotation_grace: expected a duration such as "
                           "\"24h\", got %s",
                           cfg_type_name(s));
                return;
        }
        if (hb_sched_parse_delay(v, &ms, why, sizeof(why)) == -1) {
                cfg_report(ld, s, "api.rotation_grace: %s", why);
                return;
        }
        a->rotation_grace_ms = ms;
}

void cfg_parse_api(cfg_loader_t *ld, const config_setting_t *g)
{
        static const cfg_scope_t sc = {"api.", "in api"};
        cfg_api_t *a = &ld->cfg->api;
        const config_setting_t *ls;
        struct sockaddr_storage ss;
        char why[128];

        g = cfg_group(ld, g, "api",
                      "{ listen = \"127.0.0.1:8080\"; secret_key_env = "
                      "\"HOOKBRIDGE_API_KEY\"; }");
        cfg_parse_opts(ld, g, &sc, cfg_api_opts, a, 1, NULL);
        parse_tokens(ld, g, a);
        parse_key(ld, g, a);
        parse_grace(ld, g, a);
        ls = cfg_member(g, "listen");
        if (a->listen && !*a->listen)
                a->listen = NULL; /* "" written for "off" */
        if (a->store_topic && !cfg_topic_name_ok(a->store_topic))
                cfg_report(ld, cfg_member(g, "store_topic"),
                           "api.store_topic: '%.64s' is not a valid Kafka "
                           "topic name; use 1 to 249 of A-Z a-z 0-9 . _ -",
                           a->store_topic);
        if (a->frame_ancestors &&
            strpbrk(a->frame_ancestors, ";,\r\n\"") != NULL)
                cfg_report(ld, cfg_member(g, "frame_ancestors"),
                           "api.frame_ancestors: a CSP source list such as "
                           "\"'self' https://app.example.com\", without ; "
                           "or ,");
        if (!a->listen)
                return;
        if (cfg_listen_parse(a->listen, &ss, why, sizeof(why)) == -1) {
                cfg_report(ld, ls,
                           "api.listen: '%.64s' is not \"host:port\" (%s); "
                           "write e.g. \"127.0.0.1:8080\", or \"\" to turn "
                           "the API off",
                           a->listen, why);
                a->listen = NULL;
                return;
        }
        if (!a->have_secret_key && !cfg_member(g, "secret_key_env") &&
            !cfg_member(g, "secret_key_file"))
                cfg_report(ld, ls,
                           "api.listen: the API stores webhook secrets "
                           "encrypted and needs a key; set "
                           "api.secret_key_env (or api.secret_key_file) to "
                           "32 bytes in base64 (openssl rand -base64 32)");
        if (cfg_listen_loopback(&ss) || a->token_count ||
            cfg_member(g, "token") || cfg_member(g, "token_env") ||
            cfg_member(g, "token_file"))
                return;
        if (!a->allow_open)
                cfg_report(ld, ls,
                           "api.listen: '%.64s' is not a loopback address "
                           "and the API has no token, so anyone on the "
                           "network could change the webhooks; set "
                           "api.token_env (or api.token, api.token_file), or "
                           "write api.allow_open = true; to open it without "
                           "one",
                           a->listen);
        else
                a->open = 1;
}
