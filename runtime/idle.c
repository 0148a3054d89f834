/* idle.c — how much CPU time sat idle on the CPUs this process may run on:
 * the thread chooser's (pace.c) test of whether a second thread could have
 * a CPU at all before it spends steps finding out.
 *
 * Linux counts each CPU's time in /proc/stat ("cpuN user nice system idle
 * iowait irq softirq steal ...", in clock ticks); idle and iowait are time
 * nothing ran.  Only the CPUs in the affinity mask count: a container or
 * taskset that gives the process two of 64 CPUs must not see the other 62's
 * idle time as room for its threads.  Where the file cannot be read (not
 * Linux, /proc not mounted) the reader says so and the chooser probes as it
 * would without it. */
#define _GNU_SOURCE  /* sched_getaffinity, CPU_ISSET */
#include <ctype.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "rt_internal.h"

int rt_cpu_ticks(RtCpuTicks *t)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return -1;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    memset(t, 0, sizeof *t);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned cpu;
        unsigned long long v[8] = {0};  /* user nice system idle iowait irq softirq steal */
        if (strncmp(line, "cpu", 3) != 0 || !isdigit((unsigned char)line[3])  /* "cpu " sums all CPUs */
            || sscanf(line + 3, "%u %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2], &v[3],
                      &v[4], &v[5], &v[6], &v[7]) < 6
            || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &set))
            continue;
        for (int k = 0; k < 8; k++)
            t->total += (double)v[k];
        t->idle += (double)(v[3] + v[4]);
        t->cpus++;
    }
    fclose(f);
    return t->cpus > 0 ? 0 : -1;
}

double rt_cpus_idle(const RtCpuTicks *from, const RtCpuTicks *to)
{
    double total = to->total - from->total;
    if (from->cpus != to->cpus || total <= 0)
        return -1;
    return to->cpus * (to->idle - from->idle) / total;
}
