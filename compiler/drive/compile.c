/* compile.c — see compile.h. */
#include "compile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

int compile_entries(const CgEntry *e, int n, const CgOptions *o, bool use_cache, FILE *log, bool verbose,
                    CompileResult *r, const char **err)
{
    *r = (CompileResult){.status = "off"};
    double t0 = now_ms();
    NncCache cache = {0};
    char key[33] = "";
    if (use_cache) {
        cache_open(&cache, log, verbose);
        if (cache.dir[0]) {
            if (cg_key(e, n, o, key, err) != 0)
                return -1;
            r->status = "miss";
            if (cache_get(&cache, key, &r->obj, &r->len)) {
                r->status = "hit";
                r->cache = now_ms() - t0;
                return 0;
            }
        }
    }
    double t1 = now_ms();
    r->cache = t1 - t0;
    CgBuilt *b;
    if (cg_build(e, n, o, &b, err) != 0)
        return -1;
    r->t.build = now_ms() - t1;
    int rc = cg_built_object(b, &r->obj, &r->len, &r->t, err);
    cg_built_free(b);
    if (rc != 0)
        return -1;
    if (key[0]) {
        double t2 = now_ms();
        cache_put(&cache, key, r->obj, r->len);
        r->cache += now_ms() - t2;
    }
    return 0;
}

void compile_free(CompileResult *r)
{
    free(r->obj);
    r->obj = NULL;
}

void compile_describe(const CompileResult *r, char *out, size_t size)
{
    if (strcmp(r->status, "hit") == 0)
        snprintf(out, size, "cache %.1f ms", r->cache);
    else if (strcmp(r->status, "miss") == 0)
        snprintf(out, size, "LLVM IR %.1f ms, LLVM optimisation %.1f ms, machine code %.1f ms, cache %.1f ms",
                 r->t.build, r->t.opt, r->t.mc, r->cache);
    else
        snprintf(out, size, "LLVM IR %.1f ms, LLVM optimisation %.1f ms, machine code %.1f ms", r->t.build,
                 r->t.opt, r->t.mc);
}
