/* Integration: secrets never show. With a webhook secret given inline,
 * through secret_env and through secret_file (plus a rotation's previous
 * secret, the admin token, a Kafka password and a header value), every
 * byte `hookbridge check-config`, `run` (an invalid file; a running
 * worker's log, /status and /metrics), `send-test` and `transform` print
 * is searched for each secret as written, and for a whsec_ secret's key
 * as raw bytes, hex and base64. Needs no broker: `run` is pointed at
 * 127.0.0.1:1, where nothing listens. */
#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>

#include "it_util.h"
#include "rx_receiver.h"

/* The keys behind the whsec_ secrets, and the raw secrets: distinctive
 * words, so a partial print is caught too. */
#define KEY_INLINE  "hb-inline-canary-Zq7x"
#define KEY_ENV     "hb-env-canary-Lk2m"
#define RAW_FILE    "hb-file-canary-Pw9r"
#define RAW_PREV    "hb-previous-canary-Xy3"
#define ADMIN_TOKEN "hb-admin-token-canary-Tt5"
#define SASL_PASS   "hb-sasl-canary-Ss8"
#define HEADER_TOK  "hb-header-canary-Hh4"
#define BAD_B64     "whsec_hb-bad-base64-canary!"
#define ENV_NAME    "HB_TEST_SECRET_ENV"

#define MAX_FORBID 64
#define RUN_MS     30000 /* any command, at most */

/* What must never be printed; on_wire: may be in a request to the
 * webhook (the static header is sent on purpose). */
static struct {
        char what[64];
        char text[160];
        int on_wire;
} forbid[MAX_FORBID];
static size_t forbid_count;

static char secret_inline[128]; /* whsec_<b64 KEY_INLINE> */
static char secret_env[128];    /* whsec_<b64 KEY_ENV> */

static void forbid_add(const char *what, const char *text, int on_wire)
{
        cr_assert_lt(forbid_count, MAX_FORBID);
        snprintf(forbid[forbid_count].what, sizeof(forbid[0].what), "%s", what);
        snprintf(forbid[forbid_count].text, sizeof(forbid[0].text), "%s", text);
        forbid[forbid_count].on_wire = on_wire;
        forbid_count++;
}

static void b64(const char *in, char *out)
{
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in,
                        (int)strlen(in));
}

static void hex(const char *in, char *out, int upper)
{
        const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
        size_t i;

        for (i = 0; in[i]; i++) {
                out[2 * i] = digits[(unsigned char)in[i] >> 4];
                out[2 * i + 1] = digits[(unsigned char)in[i] & 15];
        }
        out[2 * i] = '\0';
}

/* The key bytes \p key as text, hex (both cases) and base64 (with and
 * without padding), under the label \p what. */
static void forbid_key(const char *what, const char *key)
{
        char buf[160], label[64];
        char *eq;

        forbid_add(what, key, 0);
        hex(key, buf, 0);
        snprintf(label, sizeof(label), "%s (hex)", what);
        forbid_add(label, buf, 0);
        hex(key, buf, 1);
        snprintf(label, sizeof(label), "%s (HEX)", what);
        forbid_add(label, buf, 0);
        b64(key, buf);
        snprintf(label, sizeof(label), "%s (base64)", what);
        forbid_add(label, buf, 0);
        eq = strchr(buf, '=');
        if (eq) {
                *eq = '\0';
                snprintf(label, sizeof(label), "%s (base64, unpadded)", what);
                forbid_add(label, buf, 0);
        }
}

static void secrets_setup(void)
{
        char buf[128];

        memcpy(secret_inline, "whsec_", 6);
        b64(KEY_INLINE, secret_inline + 6);
        memcpy(secret_env, "whsec_", 6);
        b64(KEY_ENV, secret_env + 6);
        forbid_count = 0;
        forbid_add("inline secret", secret_inline, 0);
        forbid_key("inline secret's key", KEY_INLINE);
        forbid_add("secret_env secret", secret_env, 0);
        forbid_key("secret_env secret's key", KEY_ENV);
        forbid_key("secret_file secret", RAW_FILE);
        forbid_key("previous secret", RAW_PREV);
        forbid_add("admin token", ADMIN_TOKEN, 0);
        forbid_add("Kafka SASL password", SASL_PASS, 0);
        forbid_add("static header value", HEADER_TOK, 1);
        forbid_add("malformed secret", BAD_B64, 0);
        /* the distinctive middle of each, in case of a partial print */
        forbid_add("inline key fragment", "inline-canary", 0);
        forbid_add("env key fragment", "env-canary", 0);
        forbid_add("file secret fragment", "file-canary", 0);
        forbid_add("previous secret fragment", "previous-canary", 0);
        forbid_add("admin token fragment", "token-canary", 0);
        forbid_add("SASL password fragment", "sasl-canary", 0);
        forbid_add("malformed secret fragment", "base64-canary", 0);
        snprintf(buf, sizeof(buf), "%.12s", secret_inline + 6);
        forbid_add("inline secret's first base64", buf, 0);
        setenv(ENV_NAME, secret_env, 1);
}

/* @returns 1 when \p needle occurs in \p p[0, n) (memmem is a GNU
 * extension). */
static int contains(const char *p, size_t n, const char *needle)
{
        size_t k = strlen(needle);

        for (size_t i = 0; k && i + k <= n; i++) {
                if (p[i] == needle[0] && !memcmp(p + i, needle, k))
                        return 1;
        }
        return 0;
}

/* @returns the first forbidden text in \p p[0, n) (skipping those
 * allowed on the wire when \p wire), or NULL. */
static const char *leaked(const char *p, size_t n, int wire)
{
        for (size_t i = 0; i < forbid_count; i++) {
                if (wire && forbid[i].on_wire)
                        continue;
                if (contains(p, n, forbid[i].text))
                        return forbid[i].what;
        }
        return NULL;
}

/*
 * Running the binary
 */

typedef struct out_s {
        int status; /* as from waitpid */
        char *text; /* stdout then stderr, NUL-terminated */
        size_t len;
} out_t;

static char *slurp(const char *path, size_t *len)
{
        FILE *fp = fopen(path, "rb");
        char *buf;
        long n;

        cr_assert_not_null(fp, "cannot read %s", path);
        fseek(fp, 0, SEEK_END);
        n = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        buf = malloc((size_t)n + 1);
        cr_assert_not_null(buf);
        *len = fread(buf, 1, (size_t)n, fp);
        buf[*len] = '\0';
        fclose(fp);
        return buf;
}

static char tmpdir[] = "/tmp/hb-secrets-XXXXXX";

/* Start hookbridge with \p argv (argv[0] = "hookbridge"), stdin from
 * \p in_path (NULL: /dev/null), stdout/stderr into files named \p tag. */
static pid_t spawn(const char *tag, const char *in_path, char *const argv[])
{
        char o[256], e[256];
        pid_t parent = getpid(), pid;

        snprintf(o, sizeof(o), "%s/%s.out", tmpdir, tag);
        snprintf(e, sizeof(e), "%s/%s.err", tmpdir, tag);
        pid = fork();
        cr_assert(pid >= 0, "fork failed");
        if (pid == 0) {
                it_child_dies_with(parent, SIGKILL);
                int fi = open(in_path ? in_path : "/dev/null", O_RDONLY);
                int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0600);
                int fe = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0600);
                if (fi < 0 || fo < 0 || fe < 0)
                        _exit(126);
                dup2(fi, STDIN_FILENO);
                dup2(fo, STDOUT_FILENO);
                dup2(fe, STDERR_FILENO);
                execv(HB_BINARY_DIR "/hookbridge", argv);
                _exit(127);
        }
        return pid;
}

/* Wait for \p pid up to \p timeout_ms, SIGKILL after; then read what it
 * printed. @returns the exit status, or -1 on a time-out. */
static int reap(pid_t pid, const char *tag, int timeout_ms, out_t *out)
{
        int64_t deadline = it_now_ms() + timeout_ms;
        char path[256];
        char *o, *e;
        size_t ol, el;
        int status = -1;

        for (;;) {
                if (waitpid(pid, &status, WNOHANG) == pid)
                        break;
                if (it_now_ms() > deadline) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &status, 0);
                        status = -1;
                        break;
                }
                usleep(20 * 1000);
        }
        snprintf(path, sizeof(path), "%s/%s.out", tmpdir, tag);
        o = slurp(path, &ol);
        snprintf(path, sizeof(path), "%s/%s.err", tmpdir, tag);
        e = slurp(path, &el);
        out->text = malloc(ol + el + 1);
        cr_assert_not_null(out->text);
        memcpy(out->text, o, ol);
        memcpy(out->text + ol, e, el + 1);
        out->len = ol + el;
        out->status = status;
        free(o);
        free(e);
        return status;
}

/* Run to completion and check the output holds no secret. */
static void run_clean(const char *tag, const char *in_path, char *const argv[],
                      out_t *out)
{
        const char *what;

        reap(spawn(tag, in_path, argv), tag, RUN_MS, out);
        cr_assert_neq(out->status, -1, "%s: did not finish in %d ms", tag,
                      RUN_MS);
        what = leaked(out->text, out->len, 0);
        cr_assert_null(what, "%s printed the %s; its output:\n%s", tag, what,
                       out->text);
}

/*
 * Configurations
 */

static char cfg_good[256], cfg_bad[256], secret_path[256], event_path[256];
static uint16_t admin_port;

static void write_file(const char *path, const char *text)
{
        FILE *fp = fopen(path, "w");

        cr_assert_not_null(fp, "cannot write %s", path);
        fputs(text, fp);
        fclose(fp);
        chmod(path, 0600);
}

/* \p bad: add a wrong setting next to each secret, and a few elsewhere;
 * check-config must report every one without quoting a secret. */
static void write_config(const char *path, uint16_t rx_port, uint16_t admin,
                         int bad)
{
        char text[8192], typo[256];

        /* a typo'd "secret" holding the real one: reported by name only */
        snprintf(typo, sizeof(typo), "\n    secrte = \"%s\";", secret_inline);
        snprintf(text, sizeof(text),
                 "kafka = {\n"
                 "  brokers = \"127.0.0.1:1\";\n"
                 "  topics = ( { name = \"events\"; app_token = \"NX-s\"; } "
                 ");\n"
                 "  properties = [ \"security.protocol=SASL_PLAINTEXT\",\n"
                 "    \"sasl.mechanism=PLAIN\", \"sasl.username=hb\",\n"
                 "    \"sasl.password=" SASL_PASS "\"%s ];\n"
                 "};\n"
                 "delivery = {\n"
                 "  allow_networks = [ \"127.0.0.0/8\" ];\n"
                 "  timeout_ms = 5000;\n"
                 "  shutdown_timeout_ms = 1000;%s\n"
                 "};\n"
                 "webhooks = (\n"
                 "  { name = \"inline\"; url = \"http://127.0.0.1:%u/a\";\n"
                 "    events = [ \"*\" ]; user_properties = [ \"plan\" ];\n"
                 "    secret = \"%s\";\n"
                 "    previous_secret = \"" RAW_PREV "\";\n"
                 "    headers = [ \"Authorization: Bearer " HEADER_TOK
                 "\"%s ];%s\n"
                 "  },\n"
                 "  { name = \"env\"; url = \"http://127.0.0.1:%u/b\";\n"
                 "    events = [ \"*\" ];\n"
                 "    secret_env = \"" ENV_NAME "\";%s\n"
                 "  },\n"
                 "  { name = \"file\"; url = \"http://127.0.0.1:%u/c\";\n"
                 "    events = [ \"*\" ]; signature = \"userpilot\";\n"
                 "    secret_file = \"%s\";%s\n"
                 "  }%s\n"
                 ");\n"
                 "admin = { listen = \"127.0.0.1:%u\"; token = \"" ADMIN_TOKEN
                 "\";%s };\n"
                 "log = { level = \"debug\"; };\n",
                 /* kafka.properties: a rejected value equal to a secret */
                 bad ? ",\n    \"session.timeout.ms=" SASL_PASS "\"" : "",
                 /* delivery: out of range */
                 bad ? "\n  concurrency = 0;" : "",
                 /* webhook inline: a header with CR/LF, the typo */
                 rx_port, secret_inline,
                 bad ? ",\n      \"X-Bad: " HEADER_TOK "\\r\\nX-Evil: 1\"" : "",
                 bad ? typo : "",
                 /* webhook env: an unknown signature scheme */
                 rx_port, bad ? "\n    signature = \"bogus\";" : "",
                 /* webhook file: a malformed previous secret */
                 rx_port, secret_path,
                 bad ? "\n    previous_secret = \"" BAD_B64 "\";" : "",
                 /* a webhook with a malformed secret */
                 bad ? ",\n  { name = \"bad\"; url = \"http://127.0.0.1:1/\";"
                       "\n    events = [ \"*\" ]; secret = \"" BAD_B64 "\"; }"
                     : "",
                 /* admin: a typo'd token */
                 admin, bad ? " tokne = \"" ADMIN_TOKEN "\";" : "");
        write_file(path, text);
}

/*
 * The loopback receiver: checks each request verified, and holds no
 * secret (the static header aside).
 */

static struct {
        pthread_mutex_t lock;
        int verified[3]; /* /a /b /c: 1 verified, 0 bad, -1 none seen */
        char leak[128];
} rx_seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_request(const rx_request_t *req, void *opaque)
{
        int i = req->path[1] - 'a';
        const char *what;

        (void)opaque;
        pthread_mutex_lock(&rx_seen.lock);
        if (i >= 0 && i < 3)
                rx_seen.verified[i] = req->verified;
        what = leaked(req->headers_json, strlen(req->headers_json), 1);
        if (!what)
                what = leaked(req->body, req->body_len, 1);
        if (what)
                snprintf(rx_seen.leak, sizeof(rx_seen.leak),
                         "request to %s carried the %s", req->path, what);
        pthread_mutex_unlock(&rx_seen.lock);
}

static rx_t *rx;

static void setup(void)
{
        char err[256];
        rx_conf_t c = {.cb = on_request};

        cr_assert_not_null(mkdtemp(tmpdir));
        secrets_setup();
        rx = rx_start(&c, err, sizeof(err));
        cr_assert_not_null(rx, "%s", err);
        cr_assert_eq(rx_set_secret(rx, "/a", secret_inline, 0), 0);
        cr_assert_eq(rx_set_secret(rx, "/b", secret_env, 0), 0);
        cr_assert_eq(rx_set_secret(rx, "/c", RAW_FILE, 1), 0);
        for (int i = 0; i < 3; i++)
                rx_seen.verified[i] = -1;

        snprintf(secret_path, sizeof(secret_path), "%s/webhook.secret", tmpdir);
        write_file(secret_path, RAW_FILE "\n");
        snprintf(cfg_good, sizeof(cfg_good), "%s/good.cfg", tmpdir);
        snprintf(cfg_bad, sizeof(cfg_bad), "%s/bad.cfg", tmpdir);
        admin_port = it_free_port();
        write_config(cfg_good, rx_port(rx), admin_port, 0);
        write_config(cfg_bad, rx_port(rx), admin_port, 1);
        snprintf(event_path, sizeof(event_path), "%s/events.jsonl", tmpdir);
        write_file(event_path,
                   "{\"type\":\"track\",\"event\":\"Flow Completed\","
                   "\"userId\":\"u1\",\"context\":{\"traits\":{\"plan\":"
                   "\"pro\"}},\"properties\":{\"flow_id\":7}}\n"
                   "not json\n");
}

static void teardown(void)
{
        DIR *d = opendir(tmpdir);
        struct dirent *e;
        char path[512];

        rx_stop(rx);
        rx = NULL;
        if (getenv("HB_SECRETS_KEEP")) { /* to read what was printed */
                fprintf(stderr, "test_secrets: kept %s\n", tmpdir);
                if (d)
                        closedir(d);
                return;
        }
        while (d && (e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
                unlink(path);
        }
        if (d)
                closedir(d);
        rmdir(tmpdir);
}

TestSuite(secrets, .init = setup, .fini = teardown, .timeout = 180);

Test(secrets, check_config)
{
        char *ok[] = {"hookbridge", "check-config", "-c", cfg_good, NULL};
        char *bad[] = {"hookbridge", "check-config", "-c", cfg_bad, NULL};
        out_t o;

        run_clean("check-good", NULL, ok, &o);
        cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0,
                  "check-config of the good file failed:\n%s", o.text);
        free(o.text);

        run_clean("check-bad", NULL, bad, &o);
        cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 1,
                  "check-config of the bad file: status %d:\n%s", o.status,
                  o.text);
        /* every wrong setting was reported, by file and line */
        cr_assert(strstr(o.text, "bad.cfg:"), "%s", o.text);
        cr_assert(strstr(o.text, "concurrency"), "%s", o.text);
        cr_assert(strstr(o.text, "secrte"), "%s", o.text);
        cr_assert(strstr(o.text, "bogus") || strstr(o.text, "signature"), "%s",
                  o.text);
        cr_assert(strstr(o.text, "CR or LF"), "%s", o.text);
        cr_assert(strstr(o.text, "session.timeout.ms"), "%s", o.text);
        cr_assert(strstr(o.text, "not valid base64"), "%s", o.text);
        cr_assert(strstr(o.text, "tokne"), "%s", o.text);
        free(o.text);
}

Test(secrets, run_with_invalid_config)
{
        char *argv[] = {"hookbridge", "run", "-c", cfg_bad, NULL};
        out_t o;

        run_clean("run-bad", NULL, argv, &o);
        cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) != 0,
                  "run accepted the bad file:\n%s", o.text);
        cr_assert(strstr(o.text, "bad.cfg:"), "%s", o.text);
        free(o.text);
}

typedef struct get_s {
        char buf[65536];
        size_t len;
} get_t;

static size_t get_sink(char *p, size_t s, size_t n, void *ud)
{
        get_t *g = ud;
        size_t len = s * n, room = sizeof(g->buf) - 1 - g->len;

        memcpy(g->buf + g->len, p, len < room ? len : room);
        g->len += len < room ? len : room;
        g->buf[g->len] = '\0';
        return len;
}

/* GET an admin path, with the bearer token when \p token. @returns the
 * status (0: no answer); the body in \p g. */
static long admin_get(uint16_t port, const char *path, int token, get_t *g)
{
        CURL *c = curl_easy_init();
        struct curl_slist *h = NULL;
        char url[128];
        long status = 0;

        cr_assert_not_null(c);
        g->len = 0;
        g->buf[0] = '\0';
        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
        if (token)
                h = curl_slist_append(NULL,
                                      "Authorization: Bearer " ADMIN_TOKEN);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, get_sink);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        return status;
}

Test(secrets, running_worker)
{
        char *argv[] = {"hookbridge", "run", "-c", cfg_good, NULL};
        uint16_t port = admin_port;
        int64_t deadline;
        get_t *g = calloc(1, sizeof(*g));
        const char *what;
        pid_t pid;
        out_t o;
        long st = 0;

        cr_assert_not_null(g);
        pid = spawn("run-good", NULL, argv);
        /* nothing listens on 127.0.0.1:1: the worker runs, not ready */
        deadline = it_now_ms() + 15000;
        while (it_now_ms() < deadline &&
               (st = admin_get(port, "/healthz", 0, g)) != 200)
                usleep(100 * 1000);
        if (st != 200) {
                kill(pid, SIGKILL);
                reap(pid, "run-good", 5000, &o);
                cr_assert_fail("admin listener never answered:\n%s", o.text);
        }
        cr_assert_eq(admin_get(port, "/status", 0, g), 401,
                     "/status without the token: %s", g->buf);
        cr_assert_null(leaked(g->buf, g->len, 0));
        cr_assert_eq(admin_get(port, "/status", 1, g), 200, "%s", g->buf);
        what = leaked(g->buf, g->len, 0);
        cr_assert_null(what, "/status shows the %s:\n%s", what, g->buf);
        cr_assert_eq(admin_get(port, "/metrics", 1, g), 200, "%s", g->buf);
        what = leaked(g->buf, g->len, 0);
        cr_assert_null(what, "/metrics shows the %s", what);
        admin_get(port, "/readyz", 1, g);
        what = leaked(g->buf, g->len, 0);
        cr_assert_null(what, "/readyz shows the %s:\n%s", what, g->buf);
        /* let librdkafka fail to connect a few times, then stop */
        usleep(1500 * 1000);
        kill(pid, SIGTERM);
        reap(pid, "run-good", 20000, &o);
        cr_assert_neq(o.status, -1, "run did not stop on SIGTERM:\n%s", o.text);
        what = leaked(o.text, o.len, 0);
        cr_assert_null(what, "run printed the %s:\n%s", what, o.text);
        free(o.text);
        free(g);
}

Test(secrets, send_test)
{
        static const char *const names[] = {"inline", "env", "file"};
        char tag[32];
        out_t o;

        for (int i = 0; i < 3; i++) {
                char *argv[] = {"hookbridge", "send-test",      "-c", cfg_good,
                                "--webhook",  (char *)names[i], NULL};
                int v;

                snprintf(tag, sizeof(tag), "send-test-%s", names[i]);
                run_clean(tag, NULL, argv, &o);
                cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0,
                          "send-test --webhook %s failed:\n%s", names[i],
                          o.text);
                free(o.text);
                pthread_mutex_lock(&rx_seen.lock);
                v = rx_seen.verified[i];
                pthread_mutex_unlock(&rx_seen.lock);
                cr_assert_eq(v, 1,
                             "the receiver did not verify webhook %s's "
                             "signature (%d)",
                             names[i], v);
        }
        cr_assert_eq(rx_seen.leak[0], '\0', "%s", rx_seen.leak);
        {
                char *argv[] = {"hookbridge", "send-test", "-c", cfg_good,
                                "--webhook",  "nope",      NULL};
                run_clean("send-test-nope", NULL, argv, &o);
                cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) != 0);
                free(o.text);
        }
        {
                char *argv[] = {"hookbridge", "send-test", "-c", cfg_bad,
                                "--webhook",  "inline",    NULL};
                run_clean("send-test-bad", NULL, argv, &o);
                cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) != 0);
                free(o.text);
        }
}

Test(secrets, transform)
{
        static const char *const names[] = {"inline", "env", "file"};
        char tag[32];
        out_t o;

        for (int i = 0; i < 3; i++) {
                char *argv[] = {"hookbridge", "transform",      "-c", cfg_good,
                                "--webhook",  (char *)names[i], NULL};

                snprintf(tag, sizeof(tag), "transform-%s", names[i]);
                run_clean(tag, event_path, argv, &o);
                cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0,
                          "transform --webhook %s failed:\n%s", names[i],
                          o.text);
                cr_assert(strstr(o.text, "\"flows.completed\""), "%s", o.text);
                free(o.text);
        }
        {
                char *argv[] = {"hookbridge", "transform", "-c", cfg_bad,
                                "--webhook",  "inline",    NULL};
                run_clean("transform-bad", event_path, argv, &o);
                cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) != 0);
                free(o.text);
        }
}

/* A secret file other users can read is worth a warning; the warning
 * names the file, never what it holds. */
Test(secrets, world_readable_secret_file)
{
        char *argv[] = {"hookbridge", "check-config", "-c", cfg_good, NULL};
        out_t o;

        cr_assert_eq(chmod(secret_path, 0644), 0);
        run_clean("check-mode", NULL, argv, &o);
        cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0,
                  "check-config failed:\n%s", o.text);
        cr_assert(strstr(o.text, "readable by other users"),
                  "no warning about the secret file's mode:\n%s", o.text);
        free(o.text);
}

/* A token in a webhook URL (a query parameter, or the path of a
 * Slack-style hook) is a secret too: `send-test` shows scheme, host and
 * port only, like /status. */
Test(secrets, url_token)
{
        char cfg[300], text[1024];
        char *check[] = {"hookbridge", "check-config", "-c", cfg, NULL};
        char *send[] = {"hookbridge", "send-test", "-c", cfg,
                        "--webhook",  "tokenised", NULL};
        out_t o;

        forbid_add("URL token", "hb-url-canary-Uu6", 0);
        snprintf(cfg, sizeof(cfg), "%s/url.cfg", tmpdir);
        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"127.0.0.1:1\"; topics = ( "
                 "\"events\" ); };\n"
                 "delivery = { allow_networks = [ \"127.0.0.0/8\" ]; };\n"
                 "webhooks = ( { name = \"tokenised\";\n"
                 "  url = \"http://127.0.0.1:%u/a?token=hb-url-canary-Uu6\";\n"
                 "  events = [ \"*\" ]; secret = \"%s\"; } );\n",
                 rx_port(rx), secret_inline);
        write_file(cfg, text);
        run_clean("check-url", NULL, check, &o);
        free(o.text);
        run_clean("send-test-url", NULL, send, &o);
        free(o.text);
}
