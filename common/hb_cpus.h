/* hb_cpus: how many CPUs this process may use: the affinity mask's
 * count, bounded by the cgroup v2 CPU quota (a container limited to 2
 * CPUs counts 2). delivery.threads = 0 asks it. */
#ifndef HB_CPUS_H
#define HB_CPUS_H

/**
 * @brief Parse the text of a cgroup v2 cpu.max file ("QUOTA PERIOD",
 *        microseconds; "max PERIOD" is no limit).
 * @returns the quota in CPUs, rounded up (at least 1); 0 for no limit;
 *          -1 when \p text is not that format.
 */
int hb_cpus_quota(const char *text);

/**
 * @brief The CPUs the process may use: sched_getaffinity()'s count,
 *        bounded by the quota of \p cpu_max_path (a cgroup v2 cpu.max;
 *        NULL: /sys/fs/cgroup/cpu.max). A missing or unreadable file is
 *        no limit.
 * @returns at least 1.
 */
int hb_cpus_available(const char *cpu_max_path);

#endif
