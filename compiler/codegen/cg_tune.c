/* cg_tune.c — the matmul's register tile, prefetch and packing, chosen by the CPU the code is for.
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
 * The copy of op(B) into panels (cg_matmul.c) depends on the caches:
 *   - pack_group: panels written side by side, kn·NR reals apart (a
 *     multiple of 4 KB: one L1 set), at most the L1's ways so that none
 *     evicts another;
 *   - prefetch_row_bytes, prefetch_rows: the hardware's stride prefetchers
 *     stay within a 4 KB page, so rows of half a page and more get a
 *     software prefetch some rows ahead (a latency choice);
 *   - prefetch_b_bytes: ... only for a B that no L2 holds;
 *   - claim_pack_bytes, keep_packed_bytes: how much packed op(B) a claim
 *     writes before reading it back, and a thread keeps through a call;
 *   - patch_chunk_bytes: a convolution's rows read as patches in place
 *     stay one chunk, not chunks of rows copied a real at a time, while
 *     all of op(B) packed, which each block of rows reads, stays in a
 *     share of the L3.
 * Cache sizes: Zen 4 L1D 32 KB 8-way, L2 1 MB 8-way, L3 32 MB (this
 * machine's /sys/devices/system/cpu/cpu0/cache); Zen 5 L1D 48 KB 12-way,
 * L2 1 MB, L3 32 MB a core complex (AMD's Zen 5 Software Optimization
 * Guide, 58455); Zen 2 and 3 L2 512 KB, L3 16 and 32 MB a core complex;
 * Intel's Skylake and its server cores L1D 32 KB 8-way, Ice Lake on 48 KB
 * 12-way.
 * The rows below are measured where this says so (docs/training.md,
 * "Threads and the host CPU", has the figures); the others are the same
 * arithmetic for cores not measured, or Zen 4's value where nothing
 * derives another.  The row is chosen from the CPU name LLVM gives (the
 * host's, or --target-cpu's) and, for a name not in the table, from the
 * features; its name and every field go into the compile cache's key
 * (cg_key.c).  Every element of C sums its k terms in one order whatever
 * the tile, and the packing copies the same reals wherever it puts them,
 * so the row changes speed, never a bit of finite results.  (One edge:
 * a convolution's rows read in place skip the taps in the padding, copied
 * rows add their 0·w terms, and which pixels skip depends on the blocks of
 * rows; so patch_chunk_bytes, which chooses in place or copied, and mr,
 * which makes the blocks, decide where an inf or NaN weight gives NaN.)
 *
 * Constants of cg_matmul.c, cg_implicit.c and cg_patches.c that stay out
 * of the rows: FEW_ROWS and dot_rows' DU (which path a product takes, and
 * into how many accumulators a row's vectors go: they decide bits, which
 * must not depend on the CPU); PATCH_ROWS_KC (the least depth of one
 * chunk of rows read as patches, whose copy is on the stack: 1024 on every
 * row, whatever its kc) and PANEL_ITEM_ROWS (128 rows of a chunk in L2); FEW_BLOCK_ROWS, LEAD_ROW_BYTES, TAP_ROWS_MAX,
 * TAP_ROWS_UNROLLED_K (code size and stack, measured on Zen 4 as
 * whole-kernel trade-offs with no cache size behind them).  dot_rows' DS
 * and DV (loads shared and streams from L2, measured on Zen 5 only, for
 * inference at batch 1) are a core's choice that no second core measured.
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

/* Zen 4's copy of op(B) (PACKING with its L2 and a quarter of its L3), measured on this machine (docs/training.md names the
 * sessions and commits):
 * pack_group 8: every panel of a row at once (98 panels: the MNIST CNN's dense layer) took 1.19 of
 *   the time of a copy panel by panel, groups of 8 1.05 (and 8 ways: Zen 4's L1D);
 * prefetch 8 rows ahead of rows of 2 KB and more (half a 4 KB page): the GPT's dense_1 weight
 *   gradient (rows of 2 KB, 4 MB from memory) 0.97 of the samples, 4 rows alike;
 * prefetch_b_bytes 1 MB, the L2: the MNIST MLP's x [64, 784] (200 KB, from L2) 1.01 with it;
 * claim_pack_bytes 4 MB: the largest measured to pay was 1.6 MB a chunk, 4 MB a margin above it
 *   (not measured); keep_packed_bytes 4 MB: a slot per chunk up to it, one slot reused above (not
 *   measured);
 * patch_chunk_bytes 8 MB, a quarter of the L3 (32 MB a core complex): 3 x 3 convolutions over 128
 *   channels took 0.28 (64 filters: op(B) 288 KB) and 0.55 (256: 1.2 MB) of their forward's samples in
 *   one chunk, over 256 channels with 384 filters (3.5 MB, from L3) 0.64, each at the FMA loop's rate;
 *   8 MB is twice the largest measured, not measured itself;
 * kc 512 (one chunk below 768 deep): the GPT's x·W₂ᵀ (K = 512, 256 KB of packed W₂ in L2) took 0.93-0.94
 *   of its samples in one chunk, g·W₁ 0.96-0.97, the step's kernels 0.98 (one thread, 5 rounds, session
 *   34); the MNIST MLP's and CNN's steps alike within the runs' noise.  Other rows keep 256, the constant
 *   every CPU had before (an L2 of 256 KB takes a chunk of 256 × 128 reals; 512 not measured there). */
#define PACKING(l2, l3_share, chunk)                                                                               \
    .pack_group = 8, .prefetch_row_bytes = 2048, .prefetch_rows = 8, .prefetch_b_bytes = (l2),                     \
    .claim_pack_bytes = 4 << 20, .keep_packed_bytes = 4 << 20, .patch_chunk_bytes = (l3_share), .kc = (chunk)

static const CgTune tunes[] = {
    /* Zen 5 (tile measured): 12 × 32 = 24 zmm accumulators, 2 of B, 1 broadcast: 29 of 32 registers; 24 FMAs
     * for 14 loads a k step (6 × 32: 12 FMAs for 8 loads).  Packing: Zen 4's; the L2 is 1 MB on Zen 5 and
     * Skylake's server cores (the least of the row).  On a Zen 5 (session 39, the GPT's one-thread step in
     * CPU samples, docs/training.md) kc 128 and 512, groups of 12 (its L1 ways; Skylake's 8 would not take
     * them) and B in place up to rows of 2 KB were none faster: 1.01-1.03 of the kernels' samples; the tiles
     * 14 × 2, 6 × 4 and 8 × 3 1.08-1.19 */
    {.name = "avx512-full", .vector_bytes = 64, .mr = 12, .nrv = 2, PACKING(1 << 20, 8 << 20, 256)},
    /* Zen 4 class (measured on Zen 4: 6 × 4, 8 × 3, 14 × 2 zmm and 12 × 2, 6 × 2 ymm took 1.01-1.44 of this
     * tile's CPU per step, docs/training.md): one 512-bit FMA a cycle; the same tile.  Packing: measured
     * on Zen 4 (above) */
    {.name = "avx512-split", .vector_bytes = 64, .mr = 12, .nrv = 2, PACKING(1 << 20, 8 << 20, 512)},
    /* AVX2 (Haswell to Zen 3): 6 × 16 = 12 ymm accumulators, 2 of B, 1 broadcast: 15 of 16 registers.
     * Packing: not measured; L1D 32 KB 8-way on all of them (groups of 8); the L2 from 256 KB (Intel
     * client, Haswell to Skylake) to 1.25 MB (Alder Lake), 512 KB on Zen 1-3: a B above 512 KB is
     * prefetched; 4 MB for one chunk of patches, a guess not measured: a quarter of Zen 2's L3 of 16 MB a
     * core complex (Zen 3: 32 MB), but half of Zen 1's 8 MB and a half to all of Haswell's to Skylake's
     * client L3 (6-8 MB); the avx512-split row's 8 MB is likewise all or most of Ice Lake's and Tiger
     * Lake's client L3 */
    {.name = "avx2", .vector_bytes = 32, .mr = 6, .nrv = 2, PACKING(512 << 10, 4 << 20, 256)},
    /* anything else (SSE only, or a CPU name LLVM gives no AVX to): the old tile, zmm split by LLVM, and
     * the packing every CPU had before the table */
    {.name = "generic", .vector_bytes = 64, .mr = 6, .nrv = 2, PACKING(1 << 20, 8 << 20, 256)},
};
enum { NTUNES = sizeof tunes / sizeof tunes[0] };

static bool listed(const char *const *names, const char *cpu)
{
    for (; *names; names++)
        if (strcmp(*names, cpu) == 0)
            return true;
    return false;
}

/* Whether the LLVM feature string (+a,-b,...) names feature f with sign
 * ('+': enabled, '-': disabled). */
static bool feature(const char *features, const char *f, char sign)
{
    size_t n = strlen(f);
    for (const char *p = features; p && (p = strstr(p, f)) != NULL; p += n)
        if (p > features && p[-1] == sign && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

/* NNC_TILE=MR,NRV[,BYTES]: a tile of the caller's own, for measuring
 * candidates (bench/README.md), with the rest of the CPU's row (its
 * packing); the key holds it like a row.  Read once per process, every
 * row's copy filled then: the compile workers (cg_object.c) ask for the
 * tile at the same time, and filling a shared row on every call was a
 * data race. */
static CgTune env_tunes[NTUNES];
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
    for (int r = 0; r < NTUNES; r++) {
        env_tunes[r] = tunes[r];
        env_tunes[r].name = "NNC_TILE";
        env_tunes[r].mr = mr, env_tunes[r].nrv = nrv, env_tunes[r].vector_bytes = bytes;
    }
    env_tune_set = true;
}

/* The row of tunes[] for a CPU name, or for its features when the name is
 * not listed. */
static int row_for(const char *cpu, const char *features)
{
    cpu = cpu ? cpu : "";
    /* A name's row unless the features take away what it needs: a virtual
     * machine may report its host's name with AVX-512 (or AVX2) masked,
     * and a zmm tile would then be split by LLVM, the generic row's way. */
    bool no512 = feature(features, "avx512f", '-'), no256 = feature(features, "avx2", '-');
    if (listed(avx512_full, cpu) && !no512)
        return 0;
    if (listed(avx512_split, cpu) && !no512)
        return 1;
    if (feature(features, "avx512f", '+'))
        return 0;
    static const char *const avx2[] = {"haswell", "core-avx2", "broadwell", "skylake", "alderlake", "raptorlake",
                                       "meteorlake", "arrowlake", "arrowlake-s", "lunarlake", "pantherlake",
                                       "gracemont", "sierraforest", "grandridge", "clearwaterforest", "znver1",
                                       "znver2", "znver3", "bdver4", "x86-64-v3", NULL};
    if ((listed(avx2, cpu) || listed(avx512_full, cpu) || listed(avx512_split, cpu) || feature(features, "avx2", '+'))
        && !no256)
        return 2;
    return 3;
}

const CgTune *cg_tune_row(const char *cpu, const char *features) { return &tunes[row_for(cpu, features)]; }

const CgTune *cg_tune_for(const char *cpu, const char *features)
{
    pthread_once(&env_once, read_env);
    int r = row_for(cpu, features);
    return env_tune_set ? &env_tunes[r] : &tunes[r];
}
