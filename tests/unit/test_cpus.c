/* Tests for hb_cpus: the cgroup v2 cpu.max parser and the count it
 * bounds (files fed to it). */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hb_cpus.h"

Test(cpus, quota_formats)
{
        cr_assert_eq(hb_cpus_quota("max 100000\n"), 0);
        cr_assert_eq(hb_cpus_quota("max 100000"), 0);
        cr_assert_eq(hb_cpus_quota("200000 100000\n"), 2);
        cr_assert_eq(hb_cpus_quota("150000 100000\n"), 2, "rounded up");
        cr_assert_eq(hb_cpus_quota("50000 100000\n"), 1, "at least 1");
        cr_assert_eq(hb_cpus_quota("1 100000\n"), 1);
        cr_assert_eq(hb_cpus_quota("400000 100000"), 4);
}

Test(cpus, quota_rejects)
{
        cr_assert_eq(hb_cpus_quota(""), -1);
        cr_assert_eq(hb_cpus_quota(NULL), -1);
        cr_assert_eq(hb_cpus_quota("max"), -1);
        cr_assert_eq(hb_cpus_quota("200000"), -1);
        cr_assert_eq(hb_cpus_quota("200000 0"), -1);
        cr_assert_eq(hb_cpus_quota("0 100000"), -1);
        cr_assert_eq(hb_cpus_quota("-1 100000"), -1);
        cr_assert_eq(hb_cpus_quota("2e5 100000"), -1);
        cr_assert_eq(hb_cpus_quota("200000 100000 x"), -1);
        cr_assert_eq(hb_cpus_quota("99999999999999999999 1"), -1);
}

/* The affinity mask's count, as the kernel says. */
static int affinity(void)
{
        cpu_set_t set;

        CPU_ZERO(&set);
        cr_assert_eq(sched_getaffinity(0, sizeof(set), &set), 0);
        return CPU_COUNT(&set);
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");

        cr_assert_not_null(f);
        fputs(text, f);
        fclose(f);
}

Test(cpus, available_bounded_by_the_file)
{
        char path[] = "/tmp/hb-cpus-XXXXXX";
        int fd = mkstemp(path);
        int cpus = affinity();

        cr_assert_geq(fd, 0);
        close(fd);
        write_file(path, "max 100000\n");
        cr_assert_eq(hb_cpus_available(path), cpus, "unlimited: affinity");
        write_file(path, "100000 100000\n");
        cr_assert_eq(hb_cpus_available(path), 1, "one CPU's quota");
        write_file(path, "100000000 100000\n");
        cr_assert_eq(hb_cpus_available(path), cpus, "quota above affinity");
        write_file(path, "garbage\n");
        cr_assert_eq(hb_cpus_available(path), cpus, "unreadable: affinity");
        unlink(path);
        cr_assert_eq(hb_cpus_available("/nonexistent/cpu.max"), cpus);
        cr_assert_geq(hb_cpus_available(NULL), 1);
}
