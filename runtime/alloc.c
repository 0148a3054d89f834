/* alloc.c — every allocation of the runtime goes through here, so that a
 * test can make one of them fail (fault injection, as SQLite does).
 *
 * NNC_FAIL_ALLOC=N in the environment makes the Nth allocation of the
 * process (counted from 1) return NULL, and every later one succeed.  A
 * test runs a program with N = 1, 2, ... until a run in which allocation N
 * never came (rt_alloc_injected() is false): then every allocation point
 * on that path has failed once, and each failure must have ended in an
 * error the caller sees, with nothing leaked and no file left half written.
 * Without the variable the counter is one relaxed atomic add.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "rt_internal.h"

static atomic_llong counted;       /* allocations so far */
static atomic_llong fail_at = -1;  /* from NNC_FAIL_ALLOC: -1 not read yet, 0 never */
static atomic_int   injected;

static int should_fail(void)
{
    long long at = atomic_load_explicit(&fail_at, memory_order_relaxed);
    if (at < 0) {  /* instances on several threads may both read the variable: same answer */
        const char *v = getenv("NNC_FAIL_ALLOC");
        long long n = v ? atoll(v) : 0;
        at = n > 0 ? n : 0;
        atomic_store_explicit(&fail_at, at, memory_order_relaxed);
    }
    if (at == 0)
        return 0;
    if (atomic_fetch_add_explicit(&counted, 1, memory_order_relaxed) + 1 != at)
        return 0;
    atomic_store(&injected, 1);
    return 1;
}

int rt_alloc_injected(void) { return atomic_load(&injected); }

void *rt_malloc(size_t n) { return should_fail() ? NULL : malloc(n); }
void *rt_calloc(size_t n, size_t size) { return should_fail() ? NULL : calloc(n, size); }
void *rt_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n); }
void *rt_aligned_alloc(size_t align, size_t n) { return should_fail() ? NULL : aligned_alloc(align, n); }

/* A big block (a slab, a data column) in 2 MB pages where the kernel has
 * transparent huge pages for those who ask (Debian's default is "madvise":
 * none unless asked).  Kernels stride through megabytes of activations,
 * rows of 512 B to 2 KB apart: in 4 KB pages a row every few pages misses
 * the TLB, and the hardware prefetchers stop at each page's end.  The GPT's
 * one-thread step took 0.95-0.98 of the time, 0.97 beside a busy process
 * (bench/README, session 37).  From
 * 2 MB on the block starts on a 2 MB boundary and its whole 2 MB pages are
 * asked for; the tail past the last whole one stays in 4 KB pages, so that
 * filling the block never makes a 2 MB page resident for a few bytes.
 * Below 2 MB, or where the kernel has no huge pages (madvise fails), the
 * block is ordinary memory, 64-byte aligned. */
void *rt_huge_alloc(size_t n)
{
    enum { HUGE = 1 << 21 };
    size_t size = (n + 63) / 64 * 64;
    if (size < n)
        return NULL;
    void *p = NULL;
    if (should_fail() || posix_memalign(&p, n < HUGE ? 64 : HUGE, size ? size : 64) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (n >= HUGE)
        madvise(p, n / HUGE * HUGE, MADV_HUGEPAGE);
#endif
    return p;
}
