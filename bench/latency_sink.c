/* bench-latency-sink: a webhook receiver (libmicrohttpd) for the latency
 * run. Every request whose webhook-id is "lat-<ns>-<seq>" (bench-produce
 * --rate writes the produce time, CLOCK_REALTIME nanoseconds, into the
 * event's messageId, which hookbridge sends as webhook-id) adds
 * now - <ns> to the samples once its body has arrived; it answers 204.
 * SIGTERM/SIGINT: stop and print one JSON line with the percentiles. */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

typedef struct sink_s {
        int64_t *samples;  /* latency, ns */
        int64_t *arrivals; /* arrival, ns since the first sample (--dump) */
        size_t n, cap;
        uint64_t requests;
        uint64_t unstamped; /* requests without a lat- webhook-id */
        uint64_t dropped;   /* samples that did not fit in memory */
        struct MHD_Response *no_content;
} sink_t;

static int64_t real_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void add_sample(sink_t *s, int64_t now, int64_t v)
{
        static int64_t first;

        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 65536;
                int64_t *p = realloc(s->samples, cap * sizeof(*p));
                int64_t *a = realloc(s->arrivals, cap * sizeof(*a));
                if (p)
                        s->samples = p;
                if (a)
                        s->arrivals = a;
                if (!p || !a) {
                        s->dropped++;
                        return;
                }
                s->cap = cap;
        }
        if (!first)
                first = now;
        s->arrivals[s->n] = now - first;
        s->samples[s->n++] = v;
}

/* Called by the one internal thread of the daemon only: no locking. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
        static int started;
        sink_t *s = cls;
        const char *id;

        (void)url;
        (void)method;
        (void)version;
        (void)upload;
        if (!*req_cls) {
                /* headers only so far: the body follows */
                *req_cls = &started;
                return MHD_YES;
        }
        if (*upload_size) {
                *upload_size = 0; /* read and forgotten */
                return MHD_YES;
        }
        s->requests++;
        id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "webhook-id");
        if (id && !strncmp(id, "lat-", 4)) {
                char *end;
                long long ns = strtoll(id + 4, &end, 10);
                int64_t now = real_ns();
                if (end != id + 4 && *end == '-')
                        add_sample(s, now, now - (int64_t)ns);
                else
                        s->unstamped++;
        } else {
                s->unstamped++;
        }
        return MHD_queue_response(conn, MHD_HTTP_NO_CONTENT, s->no_content);
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

        return (x > y) - (x < y);
}

/* The \p q quantile (nearest rank), in milliseconds. */
static double quantile_ms(const sink_t *s, double q)
{
        size_t rank;

        if (!s->n)
                return -1;
        rank = (size_t)(q * (double)s->n + 0.999999);
        if (rank < 1)
                rank = 1;
        if (rank > s->n)
                rank = s->n;
        return (double)s->samples[rank - 1] / 1e6;
}

static void usage(FILE *f)
{
        fputs("usage: bench-latency-sink --port P [--dump FILE]\n"
              "Listens on 127.0.0.1:P; on SIGTERM prints one JSON line: "
              "requests,\nsamples, p50_ms, p99_ms, p999_ms, max_ms; --dump "
              "writes\n\"<arrival ms> <latency ms>\" per sample, in arrival "
              "order.\n",
              f);
}

int main(int argc, char **argv)
{
        static const struct option lo[] = {
                {"port", required_argument, NULL, 'p'},
                {"dump", required_argument, NULL, 'd'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        sink_t s = {0};
        struct MHD_Daemon *d;
        struct sockaddr_in addr;
        sigset_t set;
        double sum = 0;
        const char *dump = NULL;
        int port = 0, c, sig = 0;

        while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
                switch (c) {
                case 'p':
                        port = atoi(optarg);
                        break;
                case 'd':
                        dump = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (port < 1 || port > 65535 || optind < argc) {
                usage(stderr);
                return 2;
        }
        /* blocked before the daemon's thread starts, so it inherits the
         * mask and the main thread alone takes the signal */
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, NULL);

        s.no_content = MHD_create_response_from_buffer(0, NULL,
                                                       MHD_RESPMEM_PERSISTENT);
        if (!s.no_content)
                return 1;
        memset(&addr, 0, sizeof(addr));
        addr.sin_family = AF_INET;
        addr.sin_port = htons((uint16_t)port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG,
                             (uint16_t)port, NULL, NULL, on_request, &s,
                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                             MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4096,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
                             MHD_OPTION_END);
        if (!d) {
                fprintf(stderr,
                        "bench-latency-sink: cannot listen on "
                        "127.0.0.1:%d\n",
                        port);
                MHD_destroy_response(s.no_content);
                return 1;
        }
        fprintf(stderr, "bench-latency-sink: listening on 127.0.0.1:%d\n",
                port);
        sigwait(&set, &sig);
        MHD_stop_daemon(d);
        MHD_destroy_response(s.no_content);

        if (dump) {
                /* in arrival order, before sorting: where latency grew */
                FILE *f = fopen(dump, "w");
                if (!f) {
                        perror(dump);
                } else {
                        for (size_t i = 0; i < s.n; i++)
                                fprintf(f, "%.3f %.3f\n",
                                        (double)s.arrivals[i] / 1e6,
                                        (double)s.samples[i] / 1e6);
                        fclose(f);
                }
        }
        qsort(s.samples, s.n, sizeof(*s.samples), cmp_i64);
        for (size_t i = 0; i < s.n; i++)
                sum += (double)s.samples[i];
        printf("{\"requests\":%" PRIu64
               ",\"samples\":%zu,\"unstamped\":%" PRIu64 ",\"dropped\":%" PRIu64
               ",\"mean_ms\":%.3f,\"p50_ms\":%.3f,"
               "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,"
               "\"max_ms\":%.3f}\n",
               s.requests, s.n, s.unstamped, s.dropped,
               s.n ? sum / (double)s.n / 1e6 : -1.0, quantile_ms(&s, 0.50),
               quantile_ms(&s, 0.90), quantile_ms(&s, 0.99),
               quantile_ms(&s, 0.999), quantile_ms(&s, 1.0));
        free(s.samples);
        free(s.arrivals);
        return 0;
}
