/* kept.c — what a library's forward keeps packed between calls stays within
 * a memory limit the instance fits in (run.sh's kept case), on
 * `model big { input x: f32[2048]  y = dense(x, 8192)  output y }`, whose
 * W (64 MB) is above what a product keeps packed (cg_matmul.c's
 * KEPT_W_MOST): it is packed per call, in a slot of one chunk, as before
 * weights were kept; kept whole it would be another 64 MB that the
 * instance's memory check does not count.
 *   kept   creates an instance, runs a forward at batch 1 (the few-rows
 *          path: no packing), then limits the address space
 *          (RLIMIT_AS) to what the process has mapped plus 32 MB and runs
 *          a forward at batch 8 (the tiled path): it must succeed
 * Prints what it checked; exit 1 on a failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "big.h"

enum { MOST = 8, IN = BIG_X_SIZE, OUT = BIG_OUTPUT_SIZE };

static float x[MOST * IN], y[MOST * OUT];

/* The process's mapped bytes (VmSize in /proc/self/status), or -1. */
static long long mapped_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %lld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

int main(void)
{
    for (int i = 0; i < MOST * IN; i++)
        x[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
    big *m = big_create(1);
    if (!m || big_forward(m, 1, x, y) != 0) {
        printf("create or forward at batch 1 failed: %s\n", m ? big_last_error(m) : "no instance");
        big_destroy(m);
        return 1;
    }
    long long now = mapped_bytes();
    struct rlimit lim = {(rlim_t)(now + (32 << 20)), (rlim_t)(now + (32 << 20))};
    if (now < 0 || setrlimit(RLIMIT_AS, &lim) != 0) {
        printf("cannot read the mapped bytes or set RLIMIT_AS\n");
        big_destroy(m);
        return 1;
    }
    int rc = big_forward(m, MOST, x, y);
    if (rc != 0)
        printf("forward at batch %d under %lld MB mapped + 32 MB: %s\n", MOST, now >> 20, big_last_error(m));
    else
        printf("forward at batch %d fits in %lld MB mapped + 32 MB (W is 64 MB)\n", MOST, now >> 20);
    big_destroy(m);
    return rc != 0;
}
