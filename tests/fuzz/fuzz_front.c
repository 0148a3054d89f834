/* fuzz_front.c — robustness of the front end under ASan and UBSan.
 *
 * Feeds mutated and truncated versions of the seed files, and random bytes,
 * to the whole front end (lexer, parser, checks, and on success the AST dump
 * and the summary).  Every input must end with status 0 or 1: a crash, a
 * sanitizer report, a leak or any other status fails the test.  Mutations
 * are deterministic for a seed, so a failure can be replayed; the failing
 * input is written to fuzz-failure.nn.
 *
 * usage: fuzz_front [--seed N] [--mutations N] [--random N] SEED.nn...
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front/front.h"

static uint64_t rng_state;

static uint64_t rnd(void)  /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

/* Fragments that make mutations land on interesting syntax. */
static const char *const dict[] = {
    "model", "layer", "train", "const", "input", "target", "output", "loss", "metric", "return",
    "true", "false", "(", ")", "{", "}", "[", "]", ",", ":", "=", "+", "-", "*", "/", "#", "\"",
    "\\", "0", "1", "-1", "999999999999999999999", "1e999", "0.5", ".", "x", "h", "dense", "repeat",
    "attention", "conv2d", "block", "f32", "class", "token", "name:", "heads:", "\n", " ", "\t",
    "\xff", "\0", "embedding(", "reshape(x, [", "[-1]", "1024", "2147483648",
    "param ", "param w: f32[2] = ", "zeros()", "normal(", "uniform(", "[[0.5, -1], [2, 3]]", "[1.0, ",
    "embed.weight", "x.weight", ".0.", "name: \"p\"",
};
enum { NDICT = sizeof dict / sizeof *dict };

typedef struct Buf { char *p; size_t n, cap; } Buf;

static void buf_reserve(Buf *b, size_t n)
{
    if (n <= b->cap)
        return;
    while (b->cap < n)
        b->cap = b->cap ? b->cap * 2 : 4096;
    b->p = realloc(b->p, b->cap);
    if (!b->p)
        abort();
}

static void buf_insert(Buf *b, size_t at, const char *s, size_t n)
{
    buf_reserve(b, b->n + n + 1);
    memmove(b->p + at + n, b->p + at, b->n - at);
    memcpy(b->p + at, s, n);
    b->n += n;
}

static void buf_erase(Buf *b, size_t at, size_t n)
{
    memmove(b->p + at, b->p + at + n, b->n - at - n);
    b->n -= n;
}

static void mutate_once(Buf *b, const Buf *seeds, int nseeds)
{
    size_t at = below(b->n + 1);
    switch (below(7)) {
    case 0:  /* flip a byte */
        if (b->n)
            b->p[below(b->n)] ^= (char)(1u << below(8));
        break;
    case 1: {  /* delete a range */
        size_t n = below(16) + 1;
        if (at + n <= b->n)
            buf_erase(b, at, n);
        break;
    }
    case 2: {  /* insert a dictionary fragment */
        const char *s = dict[below(NDICT)];
        buf_insert(b, at, s, s[0] ? strlen(s) : 1);
        break;
    }
    case 3: {  /* duplicate a range */
        size_t n = below(40) + 1;
        if (at + n <= b->n) {
            char tmp[40];
            memcpy(tmp, b->p + at, n);
            buf_insert(b, below(b->n + 1), tmp, n);
        }
        break;
    }
    case 4:  /* truncate */
        b->n = at;
        break;
    case 5: {  /* splice in a piece of another seed */
        const Buf *o = &seeds[below((size_t)nseeds)];
        size_t from = below(o->n), n = below(200) + 1;
        if (from + n > o->n)
            n = o->n - from;
        buf_insert(b, at, o->p + from, n);
        break;
    }
    default: {  /* replace a digit run with another number */
        for (size_t i = at; i < b->n; i++)
            if (b->p[i] >= '0' && b->p[i] <= '9') {
                static const char *const nums[] = {"0", "1", "3", "65", "1000000", "4096", "7"};
                b->p[i] = nums[below(7)][0];
                break;
            }
        break;
    }
    }
}

static FILE *devnull;

/* Runs one input; returns 0 if it ended in status 0 or 1, and counts
 * the inputs the front end accepted. */
static long accepted;

static int run_one(const Buf *b, long index)
{
    NncFront f;
    NncStatus st = nnc_front_text(&f, "fuzz.nn", b->p, b->n, devnull);
    if (st == NNC_OK) {
        StrBuf out = {0};
        nnc_dump_ast(&out, &f);
        nnc_summary(&out, &f);
        sb_free(&out);
    }
    nnc_front_free(&f);
    accepted += st == NNC_OK;
    if (st != NNC_OK && st != NNC_EINPUT) {
        fprintf(stderr, "fuzz_front: input %ld ended with status %d (see fuzz-failure.nn)\n", index, st);
        FILE *o = fopen("fuzz-failure.nn", "wb");
        if (o) {
            fwrite(b->p, 1, b->n, o);
            fclose(o);
        }
        return 1;
    }
    return 0;
}

static int load(const char *path, Buf *b)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_insert(b, b->n, chunk, n);
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long seed = 1, mutations = 1000, randoms = 100;
    Buf seeds[16] = {{0}};
    int nseeds = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--mutations") == 0 && i + 1 < argc)
            mutations = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--random") == 0 && i + 1 < argc)
            randoms = strtoul(argv[++i], NULL, 10);
        else if (nseeds < 16) {
            if (load(argv[i], &seeds[nseeds]) != 0) {
                fprintf(stderr, "fuzz_front: cannot read %s\n", argv[i]);
                return 2;
            }
            nseeds++;
        }
    }
    if (nseeds == 0) {
        fputs("usage: fuzz_front [--seed N] [--mutations N] [--random N] SEED.nn...\n", stderr);
        return 2;
    }
    devnull = fopen("/dev/null", "w");
    rng_state = seed;
    long index = 0, failed = 0;
    Buf b = {0};
    /* The seeds themselves, then every prefix length class of truncation. */
    for (int s = 0; s < nseeds; s++) {
        for (size_t cut = 0; cut <= seeds[s].n; cut += 1 + seeds[s].n / 64) {
            b.n = 0;
            buf_insert(&b, 0, seeds[s].p, cut);
            failed += run_one(&b, index++);
        }
    }
    for (unsigned long i = 0; i < mutations; i++) {
        const Buf *s = &seeds[i % (unsigned long)nseeds];
        b.n = 0;
        buf_insert(&b, 0, s->p, s->n);
        int k = 1 + (int)below(8);
        for (int j = 0; j < k; j++)
            mutate_once(&b, seeds, nseeds);
        failed += run_one(&b, index++);
    }
    for (unsigned long i = 0; i < randoms; i++) {
        b.n = 0;
        size_t n = below(512);
        for (size_t j = 0; j < n; j++) {
            char c = (char)(below(4) ? 0x20 + below(0x5f) : below(256));
            buf_insert(&b, b.n, &c, 1);
        }
        failed += run_one(&b, index++);
    }
    printf("fuzz_front: %ld inputs, %ld of them accepted as valid programs\n", index, accepted);
    printf("%ld passed, %ld failed\n", index - failed, failed);
    free(b.p);
    for (int s = 0; s < nseeds; s++)
        free(seeds[s].p);
    fclose(devnull);
    return failed ? 1 : 0;
}
