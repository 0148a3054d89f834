/* test_memory.c — estimates before big allocations (mem.c): what the
 * process may still take, and the data readers and slabs refusing what
 * cannot fit with both numbers, before allocating (a 1 TiB sparse file is
 * never read). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../runtime/rt_internal.h"
#include "rt_harness.h"

/* err ends in what the machine has: "; this machine has N", "; ulimit -v
 * leaves this process N", ... */
static int says_room(const char *err)
{
    return strstr(err, "; this machine has ") || strstr(err, " leaves this process ")
        || strstr(err, "; the control group's memory.max leaves ");
}

static void test_available(void)
{
    const char *limit = NULL;
    int64_t have = rt_memory_available(&limit);
    CU_ASSERT(have > 0 && limit != NULL);
    /* under ulimit -v: what the limit leaves, and the limit named */
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        long long vm = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (!f || fscanf(f, "%lld", &vm) != 1)
            _exit(2);
        fclose(f);
        rlim_t cap = (rlim_t)vm * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)64 << 20);
        struct rlimit r = {cap, cap};
        if (setrlimit(RLIMIT_AS, &r) != 0)
            _exit(3);
        const char *why = NULL;
        int64_t left = rt_memory_available(&why);
        char says[128];
        rt_memory_says(left, why, says, sizeof says);
        /* 64 MiB, less what the process took since reading statm */
        _exit(strcmp(why, "ulimit -v") == 0 && left > (48 << 20) && left <= (64 << 20)
                      && strncmp(says, "ulimit -v leaves this process ", 30) == 0 ? 0 : 4);
    }
    int status = 0;
    CU_ASSERT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_bytes(void)
{
    char b[32];
    CU_ASSERT_STRING_EQUAL(rt_bytes_str(512, b, sizeof b), "512 bytes");
    CU_ASSERT_STRING_EQUAL(rt_bytes_str(1536, b, sizeof b), "1.5 KiB");
    CU_ASSERT_STRING_EQUAL(rt_bytes_str((int64_t)(74.2 * (1 << 30)), b, sizeof b), "74.2 GiB");
    CU_ASSERT_STRING_EQUAL(rt_bytes_str(INT64_C(5) << 40, b, sizeof b), "5.0 TiB");
    rt_memory_says(INT64_C(23) << 30, "physical", b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "this machine has 23.0 GiB");
}

/* A sparse file of 1 TiB in the scratch folder (no disk used), or NULL
 * where the file system cannot hold one. */
static const char *sparse(const char *name, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", rt_scratch_dir(), name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return NULL;
    int ok = ftruncate(fd, (off_t)1 << 40) == 0;
    close(fd);
    return ok ? path : NULL;
}

/* err is exactly "PATH (1.0 TiB; WHAT) needs NEED of memory; <room>" */
static void check_refusal(const char *err, const char *path, const char *what, const char *need)
{
    char want[512];
    snprintf(want, sizeof want, "%s (1.0 TiB; %s) needs %s of memory; ", path, what, need);
    CU_ASSERT(strncmp(err, want, strlen(want)) == 0);
    CU_ASSERT(says_room(err));
    if (strncmp(err, want, strlen(want)) != 0)
        fprintf(stderr, "\n  got:  %s\n  want: %s...\n", err, want);
}

static void test_text(void)
{
    char path[300], err[512] = "";
    if (!sparse("big.txt", path, sizeof path))
        return;
    RtText t;
    CU_ASSERT_FATAL(rt_text_load(path, 0.9, &t, err, sizeof err) == -1);
    check_refusal(err, path, "the text and its token ids", "5.0 TiB");
    err[0] = 0;
    CU_ASSERT_FATAL(rt_text_load_bpe(path, 0.9, 300, NULL, &t, err, sizeof err) == -1);
    check_refusal(err, path, "the text, its token ids and the byte-pair learner's arrays", "32.0 TiB");
    unlink(path);
}

static void test_csv(void)
{
    char path[300], err[512] = "";
    if (!sparse("big.csv", path, sizeof path))
        return;
    RtDataset d;
    CU_ASSERT_FATAL(rt_csv_load(path, 0, 3, &d, err, sizeof err) == -1);
    check_refusal(err, path, "the text and its values as floats", "3.0 TiB");
    unlink(path);
}

/* The slabs of a model whose activations take `per_example` bytes an
 * example, planned for `batch`. */
static RtModel model_of(int64_t per_example, int64_t batch)
{
    RtModel m = {.name = "big", .batch = batch};
    m.train.slab_bytes[RT_SLAB_ACT] = (RtBytes){0, per_example};
    m.train.slab_bytes[RT_SLAB_PARAM] = (RtBytes){1 << 20, 0};
    return m;
}

static void test_slabs(void)
{
    uint8_t *slab[5];
    char err[512] = "";
    /* 1 TiB an example: not even one (a slab holds 16 at least) */
    RtModel m = model_of(INT64_C(1) << 40, 64);
    CU_ASSERT_FATAL(rt_slabs_alloc(&m, 64, slab, err, sizeof err) == -1);
    const char *want = "model 'big' at batch 64 needs 64.0 TiB of memory (activations and inputs 64.0 TiB, "
                       "parameters 1.0 MiB); ";
    CU_ASSERT(strncmp(err, want, strlen(want)) == 0);
    CU_ASSERT(says_room(err));
    size_t n = strlen(err), tail = strlen("; not even a batch of one fits");
    CU_ASSERT(n > tail && strcmp(err + n - tail, "; not even a batch of one fits") == 0);
    /* the optimizer state is said when the model keeps some (a forward-only
     * model, a prediction's, keeps none: its slab is padding alone) */
    char detail[160];
    m.train.slab_bytes[RT_SLAB_STATE] = (RtBytes){8, 0};
    CU_ASSERT_STRING_EQUAL(rt_model_bytes_detail(&m, 64, detail, sizeof detail),
                           "activations and inputs 64.0 TiB, parameters 1.0 MiB, optimizer state 128 bytes");
    /* 1 GiB an example at batch 4096 (4 TiB): a smaller batch would fit on
     * a machine of 16 GiB or more, which is then said with how to get it */
    m = model_of(INT64_C(1) << 30, 4096);
    err[0] = 0;
    CU_ASSERT_FATAL(rt_slabs_alloc(&m, 4096, slab, err, sizeof err) == -1);
    CU_ASSERT(strncmp(err, "model 'big' at batch 4096 needs 4.0 TiB of memory", 49) == 0);
    int64_t fits = rt_model_max_batch(&m, rt_memory_available(NULL));
    char hint[160];
    if (fits)
        snprintf(hint, sizeof hint, "; a batch of at most %lld fits (the model was compiled for 4096: nnc --batch N)",
                 (long long)fits);
    else
        snprintf(hint, sizeof hint, "; not even a batch of one fits");
    n = strlen(err);
    CU_ASSERT(n > strlen(hint) && strcmp(err + n - strlen(hint), hint) == 0);
    /* what is said to fit does: 16 examples of 1 GiB and the parameters */
    CU_ASSERT(rt_model_max_batch(&m, (INT64_C(16) << 30) + (2 << 20) + 256) == 16);
    CU_ASSERT(rt_model_max_batch(&m, INT64_C(15) << 30) == 0);
}

/* Whether /proc/self/smaps says the mapping holding p may have huge pages
 * (1), may not (0), or says nothing (-1: no such field before Linux 5.0). */
static int thp_eligible(const void *p)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[512];
    int inside = 0, eligible = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
            inside = (unsigned long)p >= lo && (unsigned long)p < hi;
        else if (inside && sscanf(line, "THPeligible: %d", &eligible) == 1)
            break;
    }
    fclose(f);
    return eligible;
}

/* rt_huge_alloc: 64-byte aligned below 2 MB; from 2 MB on, 2 MB-aligned,
 * its whole 2 MB pages asked for as huge pages (where the kernel has them:
 * "always" or "madvise" in /sys/kernel/mm/transparent_hugepage/enabled). */
static void test_huge(void)
{
    uint8_t *small = rt_huge_alloc(1000), *big = rt_huge_alloc((3 << 20) + 5);
    CU_ASSERT_FATAL(small != NULL && big != NULL);
    CU_ASSERT((uintptr_t)small % 64 == 0);
    CU_ASSERT((uintptr_t)big % (2 << 20) == 0);
    memset(big, 1, (3 << 20) + 5);
    char mode[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f) {
        if (!fgets(mode, sizeof mode, f))
            mode[0] = 0;
        fclose(f);
    }
    if (strstr(mode, "[always]") || strstr(mode, "[madvise]")) {
        int e = thp_eligible(big);
        CU_ASSERT(e == 1 || e == -1);
    }
    free(small);
    free(big);
}

static const RtTestCase tests[] = {
    {"available", test_available},
    {"huge", test_huge},
    {"bytes", test_bytes},
    {"text", test_text},
    {"csv", test_csv},
    {"slabs", test_slabs},
    {NULL, NULL},
};

void register_rt_memory(void) { rt_add_suite("memory", tests); }
