/* cg_cpus.c — the CPU names --target-cpu accepts.
 *
 * LLVM's C API cannot say whether a CPU name is known: an unknown one is
 * "ignored" with a warning on stderr, and a CPU without 64-bit mode (i686)
 * aborts the process when code is generated.  So nnc keeps the list itself:
 * the x86-64 CPUs of LLVM 19 (`llc -march=x86-64 -mcpu=help`) that have
 * 64-bit mode, without the underscore spellings of the same names.
 */
#include <string.h>

#include "cg.h"
#include "util/suggest.h"

static const char *const cpus[] = {
    "x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4", "generic",
    /* Intel */
    "nocona", "core2", "penryn", "bonnell", "atom", "silvermont", "slm", "goldmont", "goldmont-plus", "tremont",
    "gracemont", "nehalem", "corei7", "westmere", "sandybridge", "corei7-avx", "ivybridge", "core-avx-i", "haswell",
    "core-avx2", "broadwell", "skylake", "skylake-avx512", "skx", "cascadelake", "cooperlake", "cannonlake",
    "icelake-client", "icelake-server", "rocketlake", "tigerlake", "sapphirerapids", "alderlake", "raptorlake",
    "meteorlake", "arrowlake", "arrowlake-s", "lunarlake", "pantherlake", "sierraforest", "grandridge",
    "graniterapids", "graniterapids-d", "emeraldrapids", "clearwaterforest", "knl", "knm",
    /* AMD */
    "k8", "opteron", "athlon64", "athlon-fx", "k8-sse3", "opteron-sse3", "athlon64-sse3", "amdfam10", "barcelona",
    "btver1", "btver2", "bdver1", "bdver2", "bdver3", "bdver4", "znver1", "znver2", "znver3", "znver4", "znver5",
};

bool cg_known_cpu(const char *name, const char **nearest)
{
    int n = (int)(sizeof cpus / sizeof *cpus);
    for (int i = 0; i < n; i++)
        if (strcmp(cpus[i], name) == 0)
            return true;
    *nearest = suggest_among(name, cpus, n);
    return false;
}
