/* hb_cpus: the CPUs this process may use (affinity, cgroup v2 quota). */
#define _GNU_SOURCE
#include "hb_cpus.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CPU_MAX_PATH "/sys/fs/cgroup/cpu.max"

/* A decimal of at least one digit at *p, moved past. @returns -1 on
 * none or an overflow. */
static long long digits(const char **p)
{
        long long v = 0;
        const char *s = *p;

        if (*s < '0' || *s > '9')
                return -1;
        for (; *s >= '0' && *s <= '9'; s++) {
                if (v > (LLONG_MAX - 9) / 10)
                        return -1;
                v = v * 10 + (*s - '0');
        }
        *p = s;
        return v;
}

int hb_cpus_quota(const char *text)
{
        const char *p = text;
        long long quota = -1, period, n;
        int unlimited = 0;

        if (!p)
                return -1;
        if (!strncmp(p, "max", 3)) {
                unlimited = 1;
                p += 3;
        } else if ((quota = digits(&p)) < 0) {
                return -1;
        }
        if (*p != ' ')
                return -1;
        while (*p == ' ')
                p++;
        period = digits(&p);
        if (period <= 0)
                return -1;
        while (*p == ' ' || *p == '\n')
                p++;
        if (*p)
                return -1;
        if (unlimited)
                return 0;
        if (quota <= 0)
                return -1;
        n = (quota + period - 1) / period;
        return n > INT_MAX ? INT_MAX : (int)n;
}

int hb_cpus_available(const char *cpu_max_path)
{
        cpu_set_t set;
        char text[128];
        size_t len;
        int n = 1, q;
        FILE *f;

        CPU_ZERO(&set);
        if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
                n = CPU_COUNT(&set);
        f = fopen(cpu_max_path ? cpu_max_path : CPU_MAX_PATH, "re");
        if (!f)
                return n;
        len = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[len] = '\0';
        q = hb_cpus_quota(text);
        return q > 0 && q < n ? q : n;
}
