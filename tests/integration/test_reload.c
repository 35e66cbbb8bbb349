/* Integration: what a SIGHUP does with the file -- a reload names the
 * changed settings that wait for a restart, and a file libconfig cannot
 * read (an @include of a directory) is rejected while the worker keeps
 * running on its configuration. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "it_util.h"

#define LOOPBACK "allow_networks = [ \"127.0.0.0/8\" ];"

/* The worker's configuration, \p delivery spliced in, \p top appended. */
static void write_config(const char *path, const char *topic, const char *group,
                         const char *delivery, const char *top)
{
        FILE *f = fopen(path, "w");

        cr_assert_not_null(f);
        fprintf(f,
                "kafka = { brokers = \"%s\"; group_id = \"%s\";\n"
                "  topics = ( \"%s\" ); };\n"
                "delivery = { %s };\n"
                "webhooks = ( { name = \"a\"; url = "
                "\"http://127.0.0.1:9/a\"; events = [ \"*\" ]; } );\n"
                "admin = { listen = \"\"; };\n%s\n",
                it_brokers(), group, topic, delivery, top);
        fclose(f);
}

/* 1 when the file at \p path holds \p needle. */
static int log_has(const char *path, const char *needle)
{
        static char buf[1 << 16];
        FILE *f = fopen(path, "r");
        size_t n;

        if (!f)
                return 0;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        return strstr(buf, needle) != NULL;
}

static void wait_log(const char *path, const char *needle, int timeout_ms)
{
        int64_t deadline = it_now_ms() + timeout_ms;

        while (!log_has(path, needle) && it_now_ms() < deadline)
                usleep(50 * 1000);
        cr_assert(log_has(path, needle), "no '%s' in %s", needle, path);
}

Test(reload, names_what_waits_for_a_restart, .timeout = 120)
{
        char topic[96], group[96], cfg[256], logp[300];
        pid_t pid;
        int st;

        it_unique("hb-it-reload", topic, sizeof(topic));
        it_unique("hb-it-reload-g", group, sizeof(group));
        it_create_topic(topic, 1);
        it_write_temp("", cfg, sizeof(cfg));
        write_config(cfg, topic, group, LOOPBACK, "");
        snprintf(logp, sizeof(logp), "%s.log", cfg);
        pid = it_spawn_worker(cfg, logp);
        wait_log(logp, "worker started", 30000);

        /* on_exhausted and revoke_timeout_ms apply; concurrency and
         * allow_networks wait for a restart, and the line says so */
        write_config(cfg, topic, group,
                     "concurrency = 8; on_exhausted = \"drop\"; "
                     "revoke_timeout_ms = 100; allow_networks = [ "
                     "\"127.0.0.0/8\", \"10.0.0.0/8\" ];",
                     "");
        kill(pid, SIGHUP);
        wait_log(logp,
                 "restart_pending=\"delivery.concurrency, "
                 "delivery.allow_networks\"",
                 10000);
        cr_assert_eq(waitpid(pid, &st, WNOHANG), 0);

        /* an @include libconfig's scanner could not read (a directory,
         * /proc/self/mem) used to end the worker with exit 2 ("input in
         * flex scanner failed"): now the reload is rejected, with the
         * FILE:LINE, and the worker runs on (issue 14 item 2) */
        write_config(cfg, topic, group, LOOPBACK, "@include \"/tmp\"");
        kill(pid, SIGHUP);
        wait_log(logp, "is a directory", 10000);
        wait_log(logp, "reload rejected", 10000);
        cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "the worker stopped");
        write_config(cfg, topic, group, LOOPBACK,
                     "@include \"/proc/self/mem\"");
        kill(pid, SIGHUP);
        wait_log(logp, "Input/output error", 10000);
        usleep(200 * 1000);
        cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "the worker stopped");

        st = it_stop_worker(pid, SIGTERM, 30000);
        cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "log %s",
                  logp);
}
