/* idle.c — how much CPU time sat idle on the CPUs this process may run on:
 * the thread chooser's (pace.c) test of whether a second thread could have
 * a CPU at all before it spends steps finding out.
 *
 * Linux counts each CPU's time in /proc/stat ("cpuN user nice system idle
 * iowait irq softirq steal ...", in clock ticks); idle and iowait are time
 * nothing ran.  Only the CPUs in the affinity mask count: a container or
 * taskset that gives the process two of 64 CPUs must not see the other 62's
 * idle time as room for its threads; and unless every CPU of the mask is
 * there by its number, the reading is refused (lxcfs renumbers a cpuset's
 * CPUs from cpu0 in a container's /proc/stat, where counting the one that
 * matches would see this process's own CPU busy and the others not at
 * all).  Time of niced processes counts as idle for a process that is not
 * niced itself: beside a nice-19 job a thread of nice 0 gets about 98% of
 * its CPU (weights 1024 against 15).  Where the file cannot be read (not
 * Linux, /proc not mounted) the reader says so and the chooser probes as it
 * would without it. */
#define _GNU_SOURCE  /* sched_getaffinity, CPU_ISSET */
#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "rt_internal.h"

int rt_cpu_ticks_read(FILE *f, const unsigned char *mask, int ncpus, int nice_idle, RtCpuTicks *t)
{
    memset(t, 0, sizeof *t);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned cpu;
        unsigned long long v[8] = {0};  /* user nice system idle iowait irq softirq steal */
        if (strncmp(line, "cpu", 3) != 0 || !isdigit((unsigned char)line[3])  /* "cpu " sums all CPUs */
            || sscanf(line + 3, "%u %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2], &v[3],
                      &v[4], &v[5], &v[6], &v[7]) < 6
            || cpu >= RT_CPUS_MAX || !mask[cpu])
            continue;
        for (int k = 0; k < 8; k++)
            t->total += (double)v[k];
        t->idle += (double)(v[3] + v[4] + (nice_idle ? v[1] : 0));
        t->cpus++;
    }
    return t->cpus > 0 && t->cpus == ncpus ? 0 : -1;
}

int rt_cpu_ticks(RtCpuTicks *t)
{
    _Static_assert(RT_CPUS_MAX == CPU_SETSIZE, "the mask has a byte per CPU a cpu_set_t can hold");
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return -1;
    unsigned char mask[RT_CPUS_MAX];
    for (int cpu = 0; cpu < RT_CPUS_MAX; cpu++)
        mask[cpu] = CPU_ISSET(cpu, &set) != 0;
    errno = 0;
    int prio = getpriority(PRIO_PROCESS, 0);  /* -1 is a priority too: errno tells */
    int nice_idle = errno == 0 && prio <= 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    int rc = rt_cpu_ticks_read(f, mask, CPU_COUNT(&set), nice_idle, t);
    fclose(f);
    return rc;
}

double rt_cpus_idle(const RtCpuTicks *from, const RtCpuTicks *to)
{
    double total = to->total - from->total;
    if (from->cpus != to->cpus || total <= 0)
        return -1;
    return to->cpus * (to->idle - from->idle) / total;
}
