/* Unit tests: `hookbridge redrive`'s argument errors, each refused with a
 * clear message and its exit status (64 usage, 1 against the
 * configuration) before any broker is asked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

static char cfg_ok[64], cfg_nodlt[64];

static void write_cfg(char *path, size_t size, const char *delivery)
{
        char text[2048];
        FILE *f;
        int fd;

        snprintf(path, size, "/tmp/hb-redrive-args-XXXXXX");
        fd = mkstemp(path);
        cr_assert(fd >= 0);
        f = fdopen(fd, "w");
        cr_assert_not_null(f);
        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"127.0.0.1:1\"; group_id = \"g\";\n"
                 "  topics = ( \"t\" ); };\n"
                 "delivery = { allow_networks = [ \"127.0.0.0/8\" ]; %s };\n"
                 "webhooks = (\n"
                 "  { name = \"a\"; app_token = \"NX-a\";\n"
                 "    url = \"http://127.0.0.1:9/a\"; events = [ \"*\" ]; },\n"
                 "  { name = \"ops\"; url = \"http://127.0.0.1:9/o\";\n"
                 "    events = [ \"*\" ]; }\n"
                 ");\nadmin = { listen = \"\"; };\n",
                 delivery);
        fputs(text, f);
        fclose(f);
}

static void setup(void)
{
        write_cfg(cfg_ok, sizeof(cfg_ok),
                  "dead_letter_topic = \"hb.dlq\"; retry = { schedule = [ ]; "
                  "};");
        write_cfg(cfg_nodlt, sizeof(cfg_nodlt), "");
}

static void teardown(void)
{
        unlink(cfg_ok);
        unlink(cfg_nodlt);
}

/* Run `hookbridge redrive ARGS` (a shell word list); its output (stdout
 * and stderr) into \p out. @returns the exit status. */
static int redrive(const char *args, char *out, size_t size)
{
        char cmd[1024];
        size_t n;
        FILE *p;
        int st;

        snprintf(cmd, sizeof(cmd), "%s/hookbridge redrive %s 2>&1",
                 HB_BINARY_DIR, args);
        p = popen(cmd, "r");
        cr_assert_not_null(p);
        n = fread(out, 1, size - 1, p);
        out[n] = '\0';
        st = pclose(p);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect_refused(const char *args, int code, const char *text)
{
        char out[16384];
        int rc = redrive(args, out, sizeof(out));

        cr_expect_eq(rc, code, "redrive %s: exit %d, expected %d\n%s", args, rc,
                     code, out);
        cr_expect(strstr(out, text) != NULL, "redrive %s: no '%s' in:\n%s",
                  args, text, out);
}

TestSuite(redrive_args, .init = setup, .fini = teardown);

Test(redrive_args, usage_errors)
{
        char a[256];

        expect_refused("", 64, "missing -c FILE");
        expect_refused("--bogus", 64, "usage: hookbridge redrive");
        snprintf(a, sizeof(a), "-c %s extra", cfg_ok);
        expect_refused(a, 64, "unexpected argument 'extra'");
        snprintf(a, sizeof(a), "-c %s --reason retry", cfg_ok);
        expect_refused(a, 64,
                       "--reason: 'retry' is not a dead-letter reason "
                       "(exhausted, permanent, gone, invalid)");
        snprintf(a, sizeof(a), "-c %s --app 'no spaces'", cfg_ok);
        expect_refused(a, 64, "--app: 'no spaces' is not an app_token");
        snprintf(a, sizeof(a), "-c %s --webhook ''", cfg_ok);
        expect_refused(a, 64, "--webhook: an empty name");
        snprintf(a, sizeof(a), "-c %s --rate 0", cfg_ok);
        expect_refused(a, 64, "--rate: '0' is not a number");
        snprintf(a, sizeof(a), "-c %s --dry-run --state /tmp/x", cfg_ok);
        expect_refused(a, 64, "nothing to resume: leave out --state");
}

Test(redrive_args, against_the_configuration)
{
        char a[256];

        snprintf(a, sizeof(a), "-c %s", cfg_nodlt);
        expect_refused(a, 1,
                       "has no delivery.dead_letter_topic: there are no dead "
                       "letters to redrive");
        snprintf(a, sizeof(a), "-c %s --webhook nope", cfg_ok);
        expect_refused(a, 1, "--webhook nope: no webhook of that name in");
        snprintf(a, sizeof(a), "-c %s --from yesterday", cfg_ok);
        expect_refused(a, 1, "yesterday");
        snprintf(a, sizeof(a), "-c %s --from -1h --to -2h", cfg_ok);
        expect_refused(a, 1, "--to (-2h) must be later than --from (-1h)");
        snprintf(a, sizeof(a), "-c %s --to 0", cfg_ok);
        expect_refused(a, 1, "must be later than --from (the log start)");
        snprintf(a, sizeof(a), "-c %s --app NX-b --webhook a", cfg_ok);
        expect_refused(a, 1,
                       "--webhook a: a webhook of app NX-a, not of "
                       "--app NX-b");
        snprintf(a, sizeof(a), "-c %s --app NX-a --webhook ops", cfg_ok);
        expect_refused(a, 1, "--webhook ops: a webhook of no app (operator)");
        expect_refused("-c /nonexistent/hb.cfg", 1, "/nonexistent/hb.cfg");
}

Test(redrive_args, help)
{
        char out[16384];

        cr_expect_eq(redrive("--help", out, sizeof(out)), 0);
        cr_expect(strstr(out, "Exit status: 0 every selected dead letter") !=
                          NULL,
                  "%s", out);
        cr_expect(strstr(out, "--reason R") != NULL);
}
