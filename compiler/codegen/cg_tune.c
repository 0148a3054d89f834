/* cg_tune.c — the matmul's register tile, chosen by the CPU the code is for.
 *
 * The tiled matmul (cg_matmul.c) keeps an MR × NR block of C in vector
 * registers and, for each k, broadcasts MR elements of A and loads NR/VW
 * vectors of B: MR·NR/VW FMAs for MR + NR/VW loads.  What fits and what
 * pays depends on the core:
 *   - registers: AVX-512 has 32 vector registers, AVX2 16; the tile, the
 *     B vectors and a broadcast must fit or the loop spills;
 *   - FMA latency × pipes: at least that many independent accumulators
 *     keep the pipes busy (Zen 4/5, Intel since Skylake: 4 cycles × 2
 *     pipes = 8);
 *   - loads per FMA: two loads a cycle feed two FMAs a cycle only if a k
 *     step has no more loads than FMAs; a bigger tile has fewer per FMA;
 *   - the width that really runs: Zen 4 splits a 512-bit FMA into two
 *     256-bit halves (one a cycle), Zen 5 and Intel's AVX-512 server cores
 *     run two full ones, so on Zen 4 a zmm tile gives no more FMAs than a
 *     ymm one but halves the instructions; zmm either way.
 * The rows below are measured where this says so (docs/training.md,
 * "Threads and the host CPU", has the figures); the others are the same
 * arithmetic for cores not measured.  The row is chosen from the CPU name
 * LLVM gives (the host's, or --target-cpu's) and, for a name not in the
 * table, from the features; its name and numbers go into the compile
 * cache's key (cg_key.c).  Every element of C sums its k terms in one
 * order whatever the tile, so the row changes speed, never a bit.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg.h"

/* CPU names of LLVM 19 with AVX-512 in their default features. */
static const char *const avx512_full[] = {"znver5", "skylake-avx512", "skx", "cascadelake", "cooperlake",
                                          "icelake-server", "sapphirerapids", "emeraldrapids", "graniterapids",
                                          "graniterapids-d", "x86-64-v4", NULL};
static const char *const avx512_split[] = {"znver4", "cannonlake", "icelake-client", "rocketlake", "tigerlake",
                                           "knl", "knm", NULL};

static const CgTune tunes[] = {
    /* Zen 5 (measured): 12 × 32 = 24 zmm accumulators, 2 of B, 1 broadcast: 29 of 32 registers; 24 FMAs
     * for 14 loads a k step (6 × 32: 12 FMAs for 8 loads) */
    {"avx512-full", 64, 12, 2},
    /* Zen 4 class (measured on Zen 4: 6 × 4, 8 × 3, 14 × 2 zmm and 12 × 2, 6 × 2 ymm took 1.01-1.44 of this
     * tile's CPU per step, docs/training.md): one 512-bit FMA a cycle; the same tile */
    {"avx512-split", 64, 12, 2},
    /* AVX2 (Haswell to Zen 3): 6 × 16 = 12 ymm accumulators, 2 of B, 1 broadcast: 15 of 16 registers */
    {"avx2", 32, 6, 2},
    /* anything else (SSE only, or a CPU name LLVM gives no AVX to): the old tile, zmm split by LLVM */
    {"generic", 64, 6, 2},
};

static bool listed(const char *const *names, const char *cpu)
{
    for (; *names; names++)
        if (strcmp(*names, cpu) == 0)
            return true;
    return false;
}

/* Whether the LLVM feature string (+a,-b,...) enables feature f. */
static bool has_feature(const char *features, const char *f)
{
    size_t n = strlen(f);
    for (const char *p = features; p && (p = strstr(p, f)) != NULL; p += n)
        if (p > features && p[-1] == '+' && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

/* NNC_TILE=MR,NRV[,BYTES]: a tile of the caller's own, for measuring
 * candidates (bench/README.md); the key holds it like a row.  Read once per
 * process: the compile workers (cg_object.c) ask for the tile at the same
 * time, and filling a shared row on every call was a data race. */
static CgTune env_tune = {"NNC_TILE", 64, 0, 0};
static bool env_tune_set;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static void read_env(void)
{
    const char *e = getenv("NNC_TILE");
    int mr, nrv, bytes = 64, end = 0;
    if (!e || !e[0])
        return;
    if (sscanf(e, "%d,%d%n,%d%n", &mr, &nrv, &end, &bytes, &end) < 2 || e[end] || mr < 1 || mr > CG_TILE_MAX_MR
        || nrv < 1 || nrv > CG_TILE_MAX_NRV || (bytes != 32 && bytes != 64)) {
        /* said once (read_env runs once a process), on stderr: the tile is
         * asked for where no diagnostics sink reaches (cache keys, workers) */
        fprintf(stderr, "nnc: warning: NNC_TILE is '%s', not MR,VECTORS[,BYTES] with MR 1 to %d, VECTORS 1 to %d "
                        "and BYTES 32 or 64; using this CPU's tile\n", e, CG_TILE_MAX_MR, CG_TILE_MAX_NRV);
        return;
    }
    env_tune.mr = mr, env_tune.nrv = nrv, env_tune.vector_bytes = bytes;
    env_tune_set = true;
}

static const CgTune *from_env(void)
{
    pthread_once(&env_once, read_env);
    return env_tune_set ? &env_tune : NULL;
}

const CgTune *cg_tune_for(const char *cpu, const char *features)
{
    const CgTune *own = from_env();
    if (own)
        return own;
    cpu = cpu ? cpu : "";
    if (listed(avx512_full, cpu))
        return &tunes[0];
    if (listed(avx512_split, cpu))
        return &tunes[1];
    if (has_feature(features, "avx512f"))
        return &tunes[0];
    static const char *const avx2[] = {"haswell", "core-avx2", "broadwell", "skylake", "alderlake", "raptorlake",
                                       "meteorlake", "arrowlake", "arrowlake-s", "lunarlake", "pantherlake",
                                       "gracemont", "sierraforest", "grandridge", "clearwaterforest", "znver1",
                                       "znver2", "znver3", "bdver4", "x86-64-v3", NULL};
    if (listed(avx2, cpu) || has_feature(features, "avx2"))
        return &tunes[2];
    return &tunes[3];
}
