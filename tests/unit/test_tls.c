/*
 * Tests for wh_pool's TLS settings against a real TLS server on
 * 127.0.0.1: server verification on (trusted CA, system store, wrong
 * name), TLS 1.2 or later, client certificates (mTLS).
 *
 * The certificates are made here with the libcrypto API into a temporary
 * directory. The server is a small HTTPS responder on OpenSSL's libssl:
 * libmicrohttpd's HTTPS (GnuTLS) asks for a client certificate but never
 * requires one, and `openssl s_server -www` does not answer a POST. This
 * build links libcrypto only, so the few libssl functions the server
 * needs are looked up in the libssl that libcurl already loaded.
 */
#include <criterion/criterion.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "wh_endpoint.h"
#include "wh_pool.h"

/* --- libssl, looked up at run time ------------------------------------- */

static struct {
        const SSL_METHOD *(*TLS_server_method)(void);
        SSL_CTX *(*SSL_CTX_new)(const SSL_METHOD *meth);
        void (*SSL_CTX_free)(SSL_CTX *ctx);
        int (*SSL_CTX_use_certificate_chain_file)(SSL_CTX *ctx,
                                                  const char *file);
        int (*SSL_CTX_use_PrivateKey_file)(SSL_CTX *ctx, const char *file,
                                           int type);
        int (*SSL_CTX_load_verify_locations)(SSL_CTX *ctx, const char *file,
                                             const char *path);
        void (*SSL_CTX_set_verify)(SSL_CTX *ctx, int mode,
                                   SSL_verify_cb callback);
        SSL *(*SSL_new)(SSL_CTX *ctx);
        void (*SSL_free)(SSL *ssl);
        int (*SSL_set_fd)(SSL *ssl, int fd);
        int (*SSL_accept)(SSL *ssl);
        int (*SSL_read)(SSL *ssl, void *buf, int num);
        int (*SSL_write)(SSL *ssl, const void *buf, int num);
        int (*SSL_shutdown)(SSL *ssl);
        X509 *(*SSL_get1_peer_certificate)(const SSL *ssl);
        const char *(*SSL_get_version)(const SSL *ssl);
} ssl;

/* @returns 0 when every function was found. */
static int ssl_load(void)
{
        static const char *const names[] = {
                "TLS_server_method",
                "SSL_CTX_new",
                "SSL_CTX_free",
                "SSL_CTX_use_certificate_chain_file",
                "SSL_CTX_use_PrivateKey_file",
                "SSL_CTX_load_verify_locations",
                "SSL_CTX_set_verify",
                "SSL_new",
                "SSL_free",
                "SSL_set_fd",
                "SSL_accept",
                "SSL_read",
                "SSL_write",
                "SSL_shutdown",
                "SSL_get1_peer_certificate",
                "SSL_get_version",
        };
        /* the members above, in the same order, all function pointers */
        char *slot = (char *)&ssl;
        void *h = dlopen("libssl.so.3", RTLD_NOW);

        if (!h)
                return -1;
        cr_assert_eq(sizeof(ssl),
                     sizeof(names) / sizeof(names[0]) * sizeof(void (*)(void)));
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                void *sym = dlsym(h, names[i]);

                if (!sym)
                        return -1;
                memcpy(slot + i * sizeof(void (*)(void)), &sym, sizeof(sym));
        }
        return 0; /* h stays open: libcurl holds the library anyway */
}

/* --- certificates ------------------------------------------------------ */

static char dir[64];

/* "<dir>/<name>" into \p out. */
static const char *path_of(const char *name, char *out, size_t n)
{
        snprintf(out, n, "%s/%s", dir, name);
        return out;
}

static void write_pem(const char *name, X509 *cert, EVP_PKEY *key)
{
        char path[128];
        FILE *f = fopen(path_of(name, path, sizeof(path)), "w");

        cr_assert_not_null(f, "%s", path);
        if (cert)
                cr_assert_eq(PEM_write_X509(f, cert), 1);
        if (key)
                cr_assert_eq(
                        PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL),
                        1);
        fclose(f);
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
        X509V3_CTX ctx;
        X509_EXTENSION *ext;

        X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        cr_assert_not_null(ext, "extension %d = %s", nid, value);
        cr_assert_eq(X509_add_ext(cert, ext, -1), 1);
        X509_EXTENSION_free(ext);
}

/*
 * A certificate for \p cn with key \p key, signed by \p ca_cert/\p ca_key
 * (self-signed when NULL). \p san: subjectAltName or NULL; \p usage:
 * extendedKeyUsage or NULL.
 */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *ca_cert,
                       EVP_PKEY *ca_key, const char *san, const char *usage)
{
        static long serial = 1;
        X509 *x = X509_new();
        X509_NAME *name;

        cr_assert_not_null(x);
        cr_assert_eq(X509_set_version(x, 2), 1);
        ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
        X509_gmtime_adj(X509_getm_notBefore(x), -3600);
        X509_gmtime_adj(X509_getm_notAfter(x), 86400);
        cr_assert_eq(X509_set_pubkey(x, key), 1);
        name = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   (const unsigned char *)cn, -1, -1, 0);
        X509_set_issuer_name(x,
                             ca_cert ? X509_get_subject_name(ca_cert) : name);
        if (!ca_cert) {
                add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
                add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
                add_ext(x, x, NID_subject_key_identifier, "hash");
        } else {
                add_ext(x, ca_cert, NID_basic_constraints, "critical,CA:FALSE");
                add_ext(x, ca_cert, NID_key_usage, "critical,digitalSignature");
                add_ext(x, ca_cert, NID_authority_key_identifier, "keyid");
        }
        if (san)
                add_ext(x, ca_cert ? ca_cert : x, NID_subject_alt_name, san);
        if (usage)
                add_ext(x, ca_cert ? ca_cert : x, NID_ext_key_usage, usage);
        cr_assert_gt(X509_sign(x, ca_key ? ca_key : key, EVP_sha256()), 0);
        return x;
}

/*
 * In dir: ca.pem; server.pem/server.key (127.0.0.1 and localhost);
 * wrongname.pem/.key (another name, same CA); client.pem/client.key;
 * other-ca client: rogue.pem/rogue.key (signed by a CA nobody trusts).
 */
static void make_pki(void)
{
        EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *srv_key = EVP_EC_gen("P-256");
        EVP_PKEY *cli_key = EVP_EC_gen("P-256");
        EVP_PKEY *rogue_ca_key = EVP_EC_gen("P-256");
        X509 *ca, *srv, *wrong, *cli, *rogue_ca, *rogue;

        cr_assert(ca_key && srv_key && cli_key && rogue_ca_key);
        ca = make_cert("hookbridge test CA", ca_key, NULL, NULL, NULL, NULL);
        srv = make_cert("127.0.0.1", srv_key, ca, ca_key,
                        "IP:127.0.0.1,DNS:localhost", "serverAuth");
        wrong = make_cert("example.invalid", srv_key, ca, ca_key,
                          "DNS:example.invalid", "serverAuth");
        cli = make_cert("hookbridge-client", cli_key, ca, ca_key, NULL,
                        "clientAuth");
        rogue_ca = make_cert("rogue CA", rogue_ca_key, NULL, NULL, NULL, NULL);
        rogue = make_cert("rogue-client", cli_key, rogue_ca, rogue_ca_key, NULL,
                          "clientAuth");
        write_pem("ca.pem", ca, NULL);
        write_pem("server.pem", srv, NULL);
        write_pem("server.key", NULL, srv_key);
        write_pem("wrongname.pem", wrong, NULL);
        write_pem("client.pem", cli, NULL);
        write_pem("client.key", NULL, cli_key);
        write_pem("rogue.pem", rogue, NULL);
        X509_free(ca);
        X509_free(srv);
        X509_free(wrong);
        X509_free(cli);
        X509_free(rogue_ca);
        X509_free(rogue);
        EVP_PKEY_free(ca_key);
        EVP_PKEY_free(srv_key);
        EVP_PKEY_free(cli_key);
        EVP_PKEY_free(rogue_ca_key);
}

static void setup(void)
{
        signal(SIGPIPE, SIG_IGN);
        snprintf(dir, sizeof(dir), "/tmp/hb-tls-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        make_pki();
}

static void teardown(void)
{
        static const char *const files[] = {
                "ca.pem",     "server.pem", "server.key", "wrongname.pem",
                "client.pem", "client.key", "rogue.pem"};
        char path[128];

        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
                unlink(path_of(files[i], path, sizeof(path)));
        rmdir(dir);
}

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 120);

/* --- the TLS server ---------------------------------------------------- */

typedef struct tls_srv_s {
        SSL_CTX *ctx;
        int fd;
        uint16_t port;
        char url[64];
        pthread_t th;
        pthread_mutex_t mu;
        volatile int stop;

        int handshakes; /* completed */
        int failed;     /* handshakes that failed */
        int requests;   /* answered */
        char client_cn[128];
        char version[32];
        char body[1024];
} tls_srv_t;

static void srv_lock_add(tls_srv_t *s, int *field)
{
        pthread_mutex_lock(&s->mu);
        (*field)++;
        pthread_mutex_unlock(&s->mu);
}

static int srv_count(tls_srv_t *s, const int *field)
{
        int n;

        pthread_mutex_lock(&s->mu);
        n = *field;
        pthread_mutex_unlock(&s->mu);
        return n;
}

/* *field once it reaches \p want, or its value after 30 s: the server
 * thread counts a failed handshake after the client may have seen it. */
static int srv_count_reaches(tls_srv_t *s, const int *field, int want)
{
        struct timespec tick = {.tv_nsec = 10 * 1000 * 1000};
        int n;

        for (int i = 0; (n = srv_count(s, field)) < want && i < 3000; i++)
                nanosleep(&tick, NULL);
        return n;
}

/* Read one request (headers, Content-Length body), answer 200. */
static void serve(tls_srv_t *s, SSL *c)
{
        static const char resp[] = "HTTP/1.1 200 OK\r\n"
                                   "Content-Length: 2\r\n"
                                   "Connection: close\r\n\r\nok";
        char buf[8192];
        size_t len = 0;
        char *end = NULL;
        long want = -1;
        X509 *peer;

        peer = ssl.SSL_get1_peer_certificate(c);
        pthread_mutex_lock(&s->mu);
        s->handshakes++;
        snprintf(s->version, sizeof(s->version), "%s", ssl.SSL_get_version(c));
        s->client_cn[0] = '\0';
        if (peer)
                X509_NAME_get_text_by_NID(X509_get_subject_name(peer),
                                          NID_commonName, s->client_cn,
                                          sizeof(s->client_cn));
        pthread_mutex_unlock(&s->mu);
        X509_free(peer);

        for (;;) {
                int n = ssl.SSL_read(c, buf + len,
                                     (int)(sizeof(buf) - 1 - len));

                if (n <= 0)
                        return;
                len += (size_t)n;
                buf[len] = '\0';
                if (!end && (end = strstr(buf, "\r\n\r\n"))) {
                        /* curl writes it so */
                        const char *cl = strstr(buf, "\r\nContent-Length:");
                        want = cl ? strtol(cl + 17, NULL, 10) : 0;
                }
                if (end && (long)(len - (size_t)(end + 4 - buf)) >= want)
                        break;
                if (len >= sizeof(buf) - 1)
                        return;
        }
        pthread_mutex_lock(&s->mu);
        snprintf(s->body, sizeof(s->body), "%s", end + 4);
        s->requests++;
        pthread_mutex_unlock(&s->mu);
        ssl.SSL_write(c, resp, (int)sizeof(resp) - 1);
        ssl.SSL_shutdown(c);
}

static void *srv_main(void *arg)
{
        tls_srv_t *s = arg;

        while (!s->stop) {
                struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
                struct timeval tv = {.tv_sec = 20};
                SSL *c;
                int fd;

                if (poll(&pfd, 1, 50) <= 0)
                        continue;
                fd = accept(s->fd, NULL, NULL);
                if (fd < 0)
                        continue;
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
                c = ssl.SSL_new(s->ctx);
                if (c && ssl.SSL_set_fd(c, fd) == 1 && ssl.SSL_accept(c) == 1)
                        serve(s, c);
                else
                        srv_lock_add(s, &s->failed);
                ERR_clear_error();
                ssl.SSL_free(c);
                close(fd);
        }
        return NULL;
}

/*
 * A TLS server with certificate \p cert_file (key server.key); with
 * \p require_client, a client certificate from ca.pem is required.
 */
static tls_srv_t *srv_start(const char *cert_file, int require_client)
{
        tls_srv_t *s = calloc(1, sizeof(*s));
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t len = sizeof(sa);
        char path[128];

        if (ssl_load() != 0)
                cr_skip_test("libssl.so.3 is not available");
        cr_assert_not_null(s);
        pthread_mutex_init(&s->mu, NULL);
        s->ctx = ssl.SSL_CTX_new(ssl.TLS_server_method());
        cr_assert_not_null(s->ctx);
        cr_assert_eq(ssl.SSL_CTX_use_certificate_chain_file(
                             s->ctx, path_of(cert_file, path, sizeof(path))),
                     1);
        cr_assert_eq(ssl.SSL_CTX_use_PrivateKey_file(
                             s->ctx, path_of("server.key", path, sizeof(path)),
                             SSL_FILETYPE_PEM),
                     1);
        if (require_client) {
                cr_assert_eq(ssl.SSL_CTX_load_verify_locations(
                                     s->ctx,
                                     path_of("ca.pem", path, sizeof(path)),
                                     NULL),
                             1);
                ssl.SSL_CTX_set_verify(s->ctx,
                                       SSL_VERIFY_PEER |
                                               SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                                       NULL);
        }
        s->fd = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert_geq(s->fd, 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert_eq(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        cr_assert_eq(listen(s->fd, 16), 0);
        cr_assert_eq(getsockname(s->fd, (struct sockaddr *)&sa, &len), 0);
        s->port = ntohs(sa.sin_port);
        snprintf(s->url, sizeof(s->url), "https://127.0.0.1:%u/hook",
                 (unsigned)s->port);
        cr_assert_eq(pthread_create(&s->th, NULL, srv_main, s), 0);
        return s;
}

static void srv_stop(tls_srv_t *s)
{
        s->stop = 1;
        pthread_join(s->th, NULL);
        close(s->fd);
        ssl.SSL_CTX_free(s->ctx);
        pthread_mutex_destroy(&s->mu);
        free(s);
}

/* --- the client side --------------------------------------------------- */

#define BODY "{\"type\":\"flows.completed\"}"

typedef struct outcome_s {
        int called;
        wh_outcome_t outcome;
        long status;
        int attempts;
        char error[512];
} outcome_t;

static void on_done(const wh_result_t *res, void *opaque)
{
        outcome_t *o = opaque;

        o->called++;
        o->outcome = res->outcome;
        o->status = res->status;
        o->attempts = res->attempts;
        snprintf(o->error, sizeof(o->error), "%s", res->error);
}

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The TLS settings of a webhook: file names in dir, or NULL. */
typedef struct tls_files_s {
        const char *ca, *cert, *key;
} tls_files_t;

/*
 * One delivery to \p url with \p files through a pool as production runs
 * it (SSRF guard with loopback allowed, https only).
 */
static void deliver(const char *url, tls_files_t files, int max_attempts,
                    outcome_t *o)
{
        static const char *const allow[] = {"127.0.0.0/8"};
        char ca[128], cert[128], key[128], err[256] = "";
        cfg_webhook_t wh = {.name = "tls",
                            .url = url,
                            .enabled = 1,
                            .timeout_ms = 30000,
                            .retry = {10, 20, max_attempts}};
        wh_pool_conf_t conf = {.max_in_flight = 2,
                               .connect_timeout_ms = 20000,
                               .ssrf_guard = 1,
                               .allow_networks = allow,
                               .allow_network_count = 1,
                               .https_only = 1};
        wh_endpoint_t *ep;
        wh_pool_t *p;
        double end;

        if (files.ca)
                wh.tls.ca_file = path_of(files.ca, ca, sizeof(ca));
        if (files.cert)
                wh.tls.client_cert = path_of(files.cert, cert, sizeof(cert));
        if (files.key)
                wh.tls.client_key = path_of(files.key, key, sizeof(key));
        ep = wh_endpoint_new(&wh, err, sizeof(err));
        cr_assert_not_null(ep, "%s", err);
        p = wh_pool_new(&conf, err, sizeof(err));
        cr_assert_not_null(p, "%s", err);
        cr_assert_eq(wh_pool_submit(p, ep, "evt-tls", BODY, strlen(BODY), 0,
                                    on_done, o),
                     0);
        wh_endpoint_unref(ep);
        end = now_s() + 60;
        while (wh_pool_pending(p) > 0 && now_s() < end)
                cr_assert_geq(wh_pool_run(p, 50, -1), 0);
        cr_assert_eq(o->called, 1, "no outcome within 60 s");
        wh_pool_destroy(p);
}

Test(tls, trusted_ca_delivers)
{
        tls_srv_t *s = srv_start("server.pem", 0);
        outcome_t o = {0};

        deliver(s->url, (tls_files_t){"ca.pem", NULL, NULL}, 1, &o);
        cr_expect_eq(o.outcome, WH_OUT_OK, "%s", o.error);
        cr_expect_eq(o.status, 200);
        cr_expect_eq(srv_count(s, &s->requests), 1);
        cr_expect_str_eq(s->body, BODY);
        /* TLS 1.2 at least */
        cr_expect(!strcmp(s->version, "TLSv1.3") ||
                          !strcmp(s->version, "TLSv1.2"),
                  "%s", s->version);
        srv_stop(s);
}

Test(tls, system_store_does_not_trust_a_private_ca)
{
        tls_srv_t *s = srv_start("server.pem", 0);
        outcome_t o = {0};

        /* no ca_file: the system store, which knows nothing of our CA;
         * a transport error, retried, then exhausted, never sent */
        deliver(s->url, (tls_files_t){NULL, NULL, NULL}, 2, &o);
        cr_expect_eq(o.outcome, WH_OUT_EXHAUSTED);
        cr_expect_eq(o.attempts, 2);
        cr_expect_eq(o.status, 0);
        cr_expect_not_null(strstr(o.error, "certificate"), "%s", o.error);
        cr_expect_eq(srv_count(s, &s->requests), 0);
        srv_stop(s);
}

Test(tls, the_name_is_verified)
{
        tls_srv_t *s = srv_start("wrongname.pem", 0);
        outcome_t o = {0};

        /* a trusted certificate, for another name */
        deliver(s->url, (tls_files_t){"ca.pem", NULL, NULL}, 1, &o);
        cr_expect_eq(o.outcome, WH_OUT_EXHAUSTED);
        cr_expect_not_null(strstr(o.error, "127.0.0.1"), "%s", o.error);
        cr_expect_eq(srv_count(s, &s->requests), 0);
        srv_stop(s);
}

Test(tls, a_ca_file_without_the_servers_ca_refuses)
{
        tls_srv_t *s = srv_start("server.pem", 0);
        outcome_t o = {0};

        /* a CA bundle that does not hold the server's CA (the client's
         * certificate is no CA): refused, though the file is readable */
        deliver(s->url, (tls_files_t){"client.pem", NULL, NULL}, 1, &o);
        cr_expect_eq(o.outcome, WH_OUT_EXHAUSTED);
        cr_expect_eq(srv_count(s, &s->requests), 0);
        srv_stop(s);
}

Test(tls, mtls_with_a_client_certificate)
{
        tls_srv_t *s = srv_start("server.pem", 1);
        outcome_t o = {0};

        deliver(s->url, (tls_files_t){"ca.pem", "client.pem", "client.key"}, 1,
                &o);
        cr_expect_eq(o.outcome, WH_OUT_OK, "%s", o.error);
        cr_expect_eq(srv_count(s, &s->requests), 1);
        cr_expect_str_eq(s->client_cn, "hookbridge-client");
        srv_stop(s);
}

Test(tls, mtls_without_a_client_certificate_fails)
{
        tls_srv_t *s = srv_start("server.pem", 1);
        outcome_t o = {0};

        deliver(s->url, (tls_files_t){"ca.pem", NULL, NULL}, 1, &o);
        cr_expect_eq(o.outcome, WH_OUT_EXHAUSTED);
        cr_expect_eq(o.status, 0);
        cr_expect_neq(o.error[0], '\0');
        cr_expect_eq(srv_count(s, &s->requests), 0);
        cr_expect_geq(srv_count_reaches(s, &s->failed, 1), 1,
                      "the server saw no failed handshake in 30 s");
        srv_stop(s);
}

Test(tls, mtls_with_an_untrusted_client_certificate_fails)
{
        tls_srv_t *s = srv_start("server.pem", 1);
        outcome_t o = {0};

        deliver(s->url, (tls_files_t){"ca.pem", "rogue.pem", "client.key"}, 1,
                &o);
        cr_expect_eq(o.outcome, WH_OUT_EXHAUSTED);
        cr_expect_eq(srv_count(s, &s->requests), 0);
        srv_stop(s);
}

Test(tls, unreadable_client_certificate_is_an_error)
{
        tls_srv_t *s = srv_start("server.pem", 1);
        outcome_t o = {0};

        deliver(s->url, (tls_files_t){"ca.pem", "missing.pem", "client.key"}, 1,
                &o);
        cr_expect_eq(o.outcome, WH_OUT_EXHAUSTED);
        cr_expect_not_null(strstr(o.error, "cert"), "%s", o.error);
        cr_expect_eq(srv_count(s, &s->requests), 0);
        srv_stop(s);
}
