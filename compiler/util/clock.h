/* clock.h — the monotonic clock, for -v's compile times (the drivers' and
 * cg_object.c's phases).  The runtime has its own (rt_now in
 * runtime/rt_internal.h): it includes no compiler header. */
#ifndef NNC_UTIL_CLOCK_H
#define NNC_UTIL_CLOCK_H

#include <time.h>

/* Seconds on the monotonic clock. */
static inline double clock_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#endif
