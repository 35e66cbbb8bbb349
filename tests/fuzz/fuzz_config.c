/* fuzz_config: cfg_load_string() on arbitrary text. A configuration that
 * loads must also start: every webhook becomes an endpoint (its secrets
 * decode, its headers are sendable), allow_networks builds the SSRF
 * guard and the mappings build the transformer's table. One that does
 * not load must say why as "NAME:LINE: message" lines, without the
 * secrets that came from outside the text. Nothing is skipped: @include
 * of anything (the work directory holds a good fragment, a directory, a
 * FIFO, a file over the size cap, one that includes itself, one with a
 * NUL byte; /dev, /proc and /sys are the system's) must be a problem
 * reported, never a hang or an exit, and loading never loads a plugin
 * that plugin.library.paths names (./canary.so, whose constructor leaves
 * a file), even with kafka.allow_code_loading. */
#include <curl/curl.h>
#include <libconfig.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "fz_util.h"
#include "wh_endpoint.h"
#include "wh_guard.h"
#include "wk_transform.h"

/* Secrets the text can only name (secret_env, secret_file). */
static const char fz_env_secret[] = "whsec_ZnV6ei1lbnYtc2VjcmV0LWNhbmFyeQ==";
static const char fz_file_secret[] = "fuzz-file-secret-canary";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a flag file left by ./canary.so's constructor is called. */
static const char fz_canary_mark[] = "canary-loaded";

static void fz_write(const char *name, const char *data, size_t len)
{
        FILE *fp = fopen(name, "w");

        if (!fp || fwrite(data, 1, len, fp) != len)
                fz_fail("cannot write %s", name);
        fclose(fp);
}

/* The files @include and plugin.library.paths may name (see the top). */
static void fz_fixtures(void)
{
        static const char ok[] =
                "mappings = ( { event = \"Inc\"; type = \"inc.ok\"; } );\n";
        static const char self[] = "@include \"inc-self.cfg\"\n";
        static const char nul[] = "log = { level = \"info\"; };\n\0x = 1;\n";
        const char *canary = getenv("HB_FUZZ_CANARY");
        size_t big = 1024 * 1024 + 1;
        char *buf = malloc(big);

        if (!buf)
                fz_fail("out of memory");
        memset(buf, ' ', big);
        fz_write("inc-big.cfg", buf, big);
        free(buf);
        fz_write("inc-ok.cfg", ok, sizeof(ok) - 1);
        fz_write("inc-self.cfg", self, sizeof(self) - 1);
        fz_write("inc-nul.cfg", nul, sizeof(nul) - 1);
        mkdir("inc-dir", 0700);
        unlink("inc-fifo");
        if (mkfifo("inc-fifo", 0600) != 0)
                fz_fail("cannot make inc-fifo");
        /* the canary plugin (tests/unit/canary_plugin.c, built by
         * build.sh): its constructor creates $HB_TEST_CANARY */
        unlink("canary.so");
        unlink(fz_canary_mark);
        if (canary && *canary && symlink(canary, "canary.so") != 0)
                fz_fail("cannot link canary.so");
        setenv("HB_TEST_CANARY", fz_canary_mark, 1);
}

/* Work in a directory of our own ($HB_FUZZ_WORKDIR, else a new one in
 * /tmp), holding the files the seeds refer to. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        char tmp[] = "/tmp/hb-fuzz-config-XXXXXX";
        const char *dir = getenv("HB_FUZZ_WORKDIR");
        FILE *fp;

        (void)argc;
        (void)argv;
        if (dir && *dir)
                mkdir(dir, 0700);
        else
                dir = mkdtemp(tmp);
        if (!dir || chdir(dir) != 0)
                fz_fail("cannot use a work directory");
        fp = fopen("secret.txt", "w");
        if (!fp)
                fz_fail("cannot write secret.txt");
        fprintf(fp, "%s\n", fz_file_secret);
        fclose(fp);
        fp = fopen("ca.pem", "w");
        if (fp)
                fclose(fp);
        fz_fixtures();
        setenv("HB_FUZZ_SECRET", fz_env_secret, 1);
        setenv("HB_FUZZ_TOKEN", "fuzz-admin-token", 1);
        return 0;
}

/* 1 when a setting name or string value under \p s holds \p needle. */
static int fz_setting_has(const config_setting_t *s, const char *needle)
{
        const char *name = config_setting_name(s);
        const char *str = config_setting_get_string(s);
        int n = config_setting_length(s);

        if ((name && strstr(name, needle)) || (str && strstr(str, needle)))
                return 1;
        for (int i = 0; i < n; i++) {
                if (fz_setting_has(config_setting_get_elem(s, i), needle))
                        return 1;
        }
        return 0;
}

/*
 * 1 when the text itself spells \p secret in one of its strings or
 * names, however written (libconfig joins adjacent literals, "ab" "cd",
 * and reads escapes): then a message may quote it, as it quotes any
 * value. libFuzzer learns the secrets from the comparisons below, so it
 * does build such texts.
 */
static int fz_text_has(const char *text, const char *secret)
{
        config_t lc;
        int has = 0;

        /* libconfig alone would follow its @includes unchecked (a FIFO
         * would hang it): such a text is taken to spell it */
        if (strstr(text, "@include"))
                return 1;

        config_init(&lc);
        if (config_read_string(&lc, text))
                has = fz_setting_has(config_root_setting(&lc), secret);
        config_destroy(&lc);
        return has;
}

/* 1 when the line \p l (up to its newline) holds ":<digits>: ", as a
 * problem in an included file (NAME is its path) does. */
static int fz_located(const char *l)
{
        const char *end = strchr(l, '\n');

        for (const char *p = l; *p && (!end || p < end); p++) {
                const char *d = p + 1;

                if (*p != ':' || !(*d >= '0' && *d <= '9'))
                        continue;
                while (*d >= '0' && *d <= '9')
                        d++;
                if (d[0] == ':' && d[1] == ' ')
                        return 1;
        }
        return 0;
}

static void fz_rejected(const char *text, const char *err, size_t errsize)
{
        size_t n = strnlen(err, errsize);

        FZ_CHECK(n < errsize, "error text not NUL-terminated");
        FZ_CHECK(n > 0, "rejected without a reason");
        for (const char *l = err; l;
             l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                FZ_CHECK(!strncmp(l, "fuzz.cfg:", 9) || !strcmp(l, "...") ||
                                 (strstr(text, "@include") && fz_located(l)),
                         "a problem not as 'NAME:LINE: message': %s", l);
        if (strstr(err, fz_env_secret))
                FZ_CHECK(fz_text_has(text, fz_env_secret),
                         "error text shows the secret_env secret");
        if (strstr(err, fz_file_secret))
                FZ_CHECK(fz_text_has(text, fz_file_secret),
                         "error text shows the secret_file secret");
}

static void fz_endpoint(const cfg_webhook_t *wh)
{
        static const char body[] = "{\"type\":\"flows.completed\"}";
        char err[512];
        wh_endpoint_t *ep;
        struct curl_slist *hl;

        FZ_CHECK(wh->name && *wh->name && wh->url && *wh->url,
                 "webhook without name or url");
        FZ_CHECK(wh->user_prop_count + wh->company_prop_count <= 10,
                 "more than 10 properties accepted");
        ep = wh_endpoint_new(wh, err, sizeof(err));
        FZ_CHECK(ep, "check-config accepts webhook '%s' that cannot start: %s",
                 wh->name, err);
        hl = wh_endpoint_headers(ep, "msg-1", 1700000000, body,
                                 sizeof(body) - 1);
        FZ_CHECK(hl, "no headers for webhook '%s'", wh->name);
        for (struct curl_slist *h = hl; h; h = h->next) {
                FZ_CHECK(strchr(h->data, ':'), "header without ':'");
                for (const char *p = h->data; *p; p++)
                        FZ_CHECK((unsigned char)*p >= 0x20 || *p == '\t',
                                 "control byte in a header line");
        }
        curl_slist_free_all(hl);
        wh_endpoint_unref(ep);
}

static void fz_accepted(const cfg_t *cfg)
{
        const cfg_delivery_t *d = cfg_delivery(cfg);
        const cfg_kafka_t *k = cfg_kafka(cfg);
        wk_mapping_t *map = wk_mapping_new();
        wh_guard_t *g;
        char err[512];

        FZ_CHECK(k->brokers && *k->brokers && k->topic_count > 0,
                 "no brokers or topics");
        FZ_CHECK(cfg_webhook_count(cfg) > 0, "no webhooks");
        g = wh_guard_new(d->allow_networks, d->allow_network_count, err,
                         sizeof(err));
        FZ_CHECK(g,
                 "check-config accepts allow_networks the guard "
                 "refuses: %s",
                 err);
        wh_guard_destroy(g);
        FZ_CHECK(map, "out of memory");
        for (size_t i = 0; i < cfg_mapping_count(cfg); i++) {
                const cfg_mapping_t *m = cfg_mapping(cfg, i);
                FZ_CHECK(wk_mapping_add(map, m->event, m->type, err,
                                        sizeof(err)) == 0,
                         "check-config accepts a mapping the transformer "
                         "refuses: %s",
                         err);
        }
        for (size_t i = 0; i < cfg_webhook_count(cfg); i++) {
                const cfg_webhook_t *wh = cfg_webhook(cfg, i);
                fz_endpoint(wh);
                FZ_CHECK(cfg_webhook_find(cfg, wh->name) == wh,
                         "webhook names are not unique");
                for (size_t j = 0; j < wh->event_count; j++)
                        FZ_CHECK(
                                !strcmp(wh->events[j], "*") ||
                                        wk_mapping_has_type(map, wh->events[j]),
                                "webhook '%s' subscribes to '%s', which "
                                "nothing maps to",
                                wh->name, wh->events[j]);
        }
        wk_mapping_destroy(map);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = fz_cstr(data, size);
        char err[4096];
        cfg_t *cfg;

        memset(err, 'x', sizeof(err));
        cfg = cfg_load_string(text, "fuzz.cfg", err, sizeof(err));
        if (cfg)
                fz_accepted(cfg);
        else
                fz_rejected(text, err, sizeof(err));
        FZ_CHECK(access(fz_canary_mark, F_OK) != 0,
                 "loading the configuration loaded the plugin it names");
        cfg_destroy(cfg);
        free(text);
        return 0;
}
