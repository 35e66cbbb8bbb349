/* hb-receiver: the test webhook subscriber (rx_receiver) as a program, for
 * shell-driven delivery and fault tests. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rx_receiver.h"

#define MAX_RULES 64

typedef struct rule_s {
        const char *path;
        const char *value;
        int userpilot; /* secrets only */
} rule_t;

static void usage(FILE *out)
{
        fprintf(out,
                "usage: hb-receiver [options]\n"
                "\n"
                "A loopback webhook subscriber: records each request, "
                "verifies signatures and\n"
                "injects faults. Runs until SIGTERM or SIGINT.\n"
                "\n"
                "  --bind ADDR                 address to listen on "
                "(default 127.0.0.1)\n"
                "  --port N                    port (default 0: an "
                "ephemeral one)\n"
                "  --port-file FILE            write the port chosen to "
                "FILE (atomically)\n"
                "  --record FILE               append each request to FILE "
                "as a JSON line\n"
                "  --secret PATH=SECRET        verify Standard Webhooks "
                "signatures on PATH\n"
                "  --userpilot-secret PATH=SECRET\n"
                "                              verify X-Signature on PATH\n"
                "  --script PATH=SCRIPT        fault script for PATH, e.g. "
                "/a=500*3,503:ra=2,200\n"
                "  --quiet                     no line per request on "
                "stdout\n"
                "  --help                      this text\n"
                "\n"
                "PATH is exact, or * for any path without its own. Script "
                "steps, comma-\n"
                "separated, taken in turn (the last one repeats): 200, 500, "
                "503:ra=2,\n"
                "429:ra=date+2, delay=1500, 200:delay=100, drop, 500*20.\n"
                "\n"
                "Control endpoint on the same port (not recorded):\n"
                "  curl -X PUT --data-binary '500,200' "
                "'http://HOST:PORT/_control/script?path=/a'\n"
                "  curl -X PUT --data-binary 'whsec_...' "
                "'http://HOST:PORT/_control/secret?path=/a'\n"
                "       (&scheme=userpilot for X-Signature; an empty body "
                "removes it)\n"
                "  curl http://HOST:PORT/_control/count\n");
}

/* "PATH=VALUE" → rule; the first '=' splits (secrets may hold more). */
static int parse_rule(const char *arg, rule_t *r, int userpilot)
{
        char *copy = strdup(arg), *eq;

        if (!copy)
                return -1;
        eq = strchr(copy, '=');
        if (!eq || eq == copy) {
                free(copy);
                return -1;
        }
        *eq = '\0';
        r->path = copy; /* the value lives in the same allocation */
        r->value = eq + 1;
        r->userpilot = userpilot;
        return 0;
}

static int parse_port(const char *s, uint16_t *out)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < 0 || v > 65535)
                return -1;
        *out = (uint16_t)v;
        return 0;
}

static int write_port_file(const char *file, uint16_t port)
{
        size_t len = strlen(file) + 32;
        char *tmp = malloc(len);
        FILE *f = NULL;
        int ok = -1;

        if (!tmp)
                return -1;
        snprintf(tmp, len, "%s.tmp.%ld", file, (long)getpid());
        f = fopen(tmp, "w");
        if (!f)
                goto out;
        if (fprintf(f, "%u\n", (unsigned)port) < 0) {
                fclose(f);
                goto out;
        }
        if (fclose(f) != 0)
                goto out;
        if (rename(tmp, file) != 0)
                goto out;
        ok = 0;
out:
        if (ok != 0)
                unlink(tmp);
        free(tmp);
        return ok;
}

static void print_request(const rx_request_t *req, void *opaque)
{
        (void)opaque;
        printf("%llu %s status=%d verified=%s id=%s bytes=%zu\n",
               (unsigned long long)req->seq, req->path, req->status,
               req->verified < 0    ? "none"
               : req->verified == 1 ? "yes"
                                    : "NO",
               *req->webhook_id ? req->webhook_id : "-", req->body_len);
        fflush(stdout);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"bind", required_argument, NULL, 'b'},
                {"port", required_argument, NULL, 'p'},
                {"port-file", required_argument, NULL, 'f'},
                {"record", required_argument, NULL, 'r'},
                {"secret", required_argument, NULL, 's'},
                {"userpilot-secret", required_argument, NULL, 'u'},
                {"script", required_argument, NULL, 'S'},
                {"quiet", no_argument, NULL, 'q'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        rx_conf_t conf = {0};
        rule_t secrets[MAX_RULES], scripts[MAX_RULES];
        int n_secrets = 0, n_scripts = 0, quiet = 0, c, rc = 1, sig;
        const char *port_file = NULL;
        rx_t *rx = NULL;
        char errstr[512];
        sigset_t set;

        conf.control = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'b':
                        conf.bind = optarg;
                        break;
                case 'p':
                        if (parse_port(optarg, &conf.port) == -1) {
                                fprintf(stderr,
                                        "hb-receiver: --port %s: not a "
                                        "port number\n",
                                        optarg);
                                return 2;
                        }
                        break;
                case 'f':
                        port_file = optarg;
                        break;
                case 'r':
                        conf.record_path = optarg;
                        break;
                case 's':
                case 'u':
                        if (n_secrets == MAX_RULES ||
                            parse_rule(optarg, &secrets[n_secrets], c == 'u') ==
                                    -1) {
                                fprintf(stderr,
                                        "hb-receiver: --%s: want "
                                        "PATH=SECRET (at most %d)\n",
                                        c == 'u' ? "userpilot-secret"
                                                 : "secret",
                                        MAX_RULES);
                                return 2;
                        }
                        n_secrets++;
                        break;
                case 'S':
                        if (n_scripts == MAX_RULES ||
                            parse_rule(optarg, &scripts[n_scripts], 0) == -1) {
                                fprintf(stderr,
                                        "hb-receiver: --script: want "
                                        "PATH=SCRIPT (at most %d)\n",
                                        MAX_RULES);
                                return 2;
                        }
                        n_scripts++;
                        break;
                case 'q':
                        quiet = 1;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "hb-receiver: unexpected argument %s\n",
                        argv[optind]);
                usage(stderr);
                return 2;
        }
        if (!quiet)
                conf.cb = print_request;

        /* Block the stop signals before any thread starts, so every
         * thread inherits the mask and sigwait() below gets them. */
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, NULL);

        rx = rx_start(&conf, errstr, sizeof(errstr));
        if (!rx) {
                fprintf(stderr, "hb-receiver: %s\n", errstr);
                goto out;
        }
        for (int i = 0; i < n_secrets; i++) {
                if (rx_set_secret(rx, secrets[i].path, secrets[i].value,
                                  secrets[i].userpilot) == -1) {
                        fprintf(stderr,
                                "hb-receiver: the secret for %s does not "
                                "decode\n",
                                secrets[i].path);
                        goto out;
                }
        }
        for (int i = 0; i < n_scripts; i++) {
                if (rx_set_script(rx, scripts[i].path, scripts[i].value) ==
                    -1) {
                        fprintf(stderr,
                                "hb-receiver: bad script for %s: \"%s\" "
                                "(see --help)\n",
                                scripts[i].path, scripts[i].value);
                        goto out;
                }
        }
        if (port_file && write_port_file(port_file, rx_port(rx)) == -1) {
                fprintf(stderr, "hb-receiver: cannot write %s: %s\n", port_file,
                        strerror(errno));
                goto out;
        }
        if (!quiet) {
                printf("listening on %s:%u\n",
                       conf.bind ? conf.bind : "127.0.0.1",
                       (unsigned)rx_port(rx));
                fflush(stdout);
        }

        if (sigwait(&set, &sig) != 0)
                goto out;
        rc = 0;
out:
        rx_stop(rx);
        for (int i = 0; i < n_secrets; i++)
                free((char *)secrets[i].path);
        for (int i = 0; i < n_scripts; i++)
                free((char *)scripts[i].path);
        return rc;
}
