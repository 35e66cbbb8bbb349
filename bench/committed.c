/* bench-committed: wait until a consumer group has committed the log end
 * of every partition of a topic, polling every --interval-ms; then print
 * how long it took since the watched worker processes started and what
 * they used (CPU seconds, peak RSS), read from /proc at that moment. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#ifndef CLOCK_BOOTTIME
#define CLOCK_BOOTTIME 7 /* Linux; starttime in /proc/PID/stat counts it */
#endif

#define MAX_PIDS 16

typedef struct proc_s {
        long pid;
        double start_s; /* since boot */
        double cpu_s;   /* utime + stime */
        long hwm_kb;    /* VmHWM */
} proc_t;

static double boot_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_BOOTTIME, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fields of /proc/PID/stat: start time and CPU. @returns 0 or -1. */
static int read_stat(proc_t *p)
{
        char path[64], buf[2048], *s;
        unsigned long long utime = 0, stime = 0, start = 0;
        double hz = (double)sysconf(_SC_CLK_TCK);
        FILE *f;
        size_t n;
        int field = 2;

        snprintf(path, sizeof(path), "/proc/%ld/stat", p->pid);
        f = fopen(path, "r");
        if (!f)
                return -1;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* the command name may hold spaces: fields start after its ')' */
        s = strrchr(buf, ')');
        if (!s)
                return -1;
        for (s++; *s && field < 22;) {
                while (*s == ' ')
                        s++;
                if (!*s)
                        break;
                field++;
                if (field == 14)
                        utime = strtoull(s, NULL, 10);
                else if (field == 15)
                        stime = strtoull(s, NULL, 10);
                else if (field == 22)
                        start = strtoull(s, NULL, 10);
                while (*s && *s != ' ')
                        s++;
        }
        if (field < 22)
                return -1;
        p->cpu_s = (double)(utime + stime) / hz;
        p->start_s = (double)start / hz;
        return 0;
}

static void read_hwm(proc_t *p)
{
        char path[64], line[256];
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%ld/status", p->pid);
        f = fopen(path, "r");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f))
                if (!strncmp(line, "VmHWM:", 6))
                        p->hwm_kb = strtol(line + 6, NULL, 10);
        fclose(f);
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
        char errstr[256];

        if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
                fprintf(stderr, "bench-committed: %s: %s\n", name, errstr);
                return -1;
        }
        return 0;
}

static void usage(FILE *f)
{
        fputs("usage: bench-committed --brokers B --group G --topic T\n"
              "         [--pid PID]... [--interval-ms 200] [--timeout S]\n"
              "Exits 0 when G committed the log end of every partition of "
              "T,\nprinting one JSON line; 1 on timeout or when a watched "
              "process died.\n",
              f);
}

int main(int argc, char **argv)
{
        static const struct option lo[] = {
                {"brokers", required_argument, NULL, 'b'},
                {"group", required_argument, NULL, 'g'},
                {"topic", required_argument, NULL, 't'},
                {"pid", required_argument, NULL, 'p'},
                {"interval-ms", required_argument, NULL, 'i'},
                {"timeout", required_argument, NULL, 'T'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *brokers = NULL, *group = NULL, *topic = NULL;
        proc_t procs[MAX_PIDS];
        size_t nprocs = 0;
        int interval_ms = 200, c, nparts, rc = 1;
        double timeout_s = 600, t0, first_commit = -1, now = 0;
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_partition_list_t *parts = NULL;
        rd_kafka_topic_t *rkt = NULL;
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        char errstr[512];
        long long committed = 0, end = 0;

        while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
                switch (c) {
                case 'b':
                        brokers = optarg;
                        break;
                case 'g':
                        group = optarg;
                        break;
                case 't':
                        topic = optarg;
                        break;
                case 'p':
                        if (nprocs == MAX_PIDS) {
                                fprintf(stderr,
                                        "bench-committed: at most %d "
                                        "--pid\n",
                                        MAX_PIDS);
                                return 2;
                        }
                        memset(&procs[nprocs], 0, sizeof(procs[0]));
                        procs[nprocs++].pid = atol(optarg);
                        break;
                case 'i':
                        interval_ms = atoi(optarg);
                        break;
                case 'T':
                        timeout_s = atof(optarg);
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (!brokers || !group || !topic || optind < argc || interval_ms < 1) {
                usage(stderr);
                return 2;
        }
        /* the clock starts when the first watched process started */
        t0 = boot_s();
        for (size_t i = 0; i < nprocs; i++) {
                if (read_stat(&procs[i]) == -1) {
                        fprintf(stderr, "bench-committed: no process %ld\n",
                                procs[i].pid);
                        return 1;
                }
                if (procs[i].start_s < t0)
                        t0 = procs[i].start_s;
        }

        conf = rd_kafka_conf_new();
        if (conf_set(conf, "bootstrap.servers", brokers) ||
            conf_set(conf, "group.id", group) ||
            conf_set(conf, "client.id", "hookbridge-bench-committed") ||
            conf_set(conf, "enable.auto.commit", "false")) {
                rd_kafka_conf_destroy(conf);
                return 1;
        }
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "bench-committed: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return 1;
        }
        /* @remark rd_kafka_new() took ownership of conf. */
        conf = NULL;
        rkt = rd_kafka_topic_new(rk, topic, NULL);
        if (!rkt || rd_kafka_metadata(rk, 0, rkt, &md, 10000) != 0 ||
            md->topic_cnt != 1 || md->topics[0].err ||
            md->topics[0].partition_cnt < 1) {
                fprintf(stderr, "bench-committed: no metadata for %s\n", topic);
                goto out;
        }
        nparts = md->topics[0].partition_cnt;
        parts = rd_kafka_topic_partition_list_new(nparts);
        for (int i = 0; i < nparts; i++)
                rd_kafka_topic_partition_list_add(parts, topic, i);

        for (;;) {
                struct timespec ts = {interval_ms / 1000,
                                      (interval_ms % 1000) * 1000000L};
                int done = 1;

                committed = end = 0;
                for (int i = 0; i < nparts; i++)
                        parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
                if (rd_kafka_committed(rk, parts, 5000) ==
                    RD_KAFKA_RESP_ERR_NO_ERROR) {
                        for (int i = 0; i < nparts; i++) {
                                int64_t low = 0, hi = 0;
                                int64_t off = parts->elems[i].offset;
                                if (rd_kafka_query_watermark_offsets(
                                            rk, topic, i, &low, &hi, 5000)) {
                                        done = 0;
                                        continue;
                                }
                                committed += off > 0 ? off : 0;
                                end += hi;
                                if (off < hi)
                                        done = 0;
                        }
                } else {
                        done = 0;
                }
                now = boot_s();
                if (committed > 0 && first_commit < 0)
                        first_commit = now - t0;
                if (done)
                        break;
                for (size_t i = 0; i < nprocs; i++)
                        if (kill((pid_t)procs[i].pid, 0) == -1) {
                                fprintf(stderr,
                                        "bench-committed: process %ld "
                                        "exited (committed %lld of %lld)\n",
                                        procs[i].pid, committed, end);
                                goto out;
                        }
                if (now - t0 > timeout_s) {
                        fprintf(stderr,
                                "bench-committed: timed out after %.0f s "
                                "(committed %lld of %lld)\n",
                                timeout_s, committed, end);
                        goto out;
                }
                nanosleep(&ts, NULL);
        }
        for (size_t i = 0; i < nprocs; i++) {
                read_stat(&procs[i]);
                read_hwm(&procs[i]);
        }
        printf("{\"seconds\":%.3f,\"first_commit_s\":%.3f,\"events\":%lld,"
               "\"procs\":[",
               now - t0, first_commit, end);
        for (size_t i = 0; i < nprocs; i++)
                printf("%s{\"pid\":%ld,\"cpu_s\":%.2f,\"vmhwm_kb\":%ld}",
                       i ? "," : "", procs[i].pid, procs[i].cpu_s,
                       procs[i].hwm_kb);
        printf("]}\n");
        rc = 0;
out:
        if (parts)
                rd_kafka_topic_partition_list_destroy(parts);
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
        return rc;
}
