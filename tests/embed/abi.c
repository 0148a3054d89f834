/* abi.c — the embedding ABI of the library nnc writes for tests/embed/tiny.nn
 * (a small 2-layer classifier):
 *
 *   errors     each refused call returns -1 and says why, exactly; a checkpoint
 *              with a wider layer or of another model is refused and changes
 *              nothing
 *   batches    forward of any batch equals the rows of batch-1 calls; a batch
 *              larger than the compiled one runs in pieces (train_step at
 *              any batch: grow.c)
 *   threads    two instances on two threads give the same bits as one
 *   cycles     create/load/forward/train/save/destroy many times, at batches
 *              1 to 37, every call succeeding (run under ASan by the
 *              sanitizer build: nothing leaks)
 *
 * Prints "ok" and exits 0, or says what failed and exits 1.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tiny.h"

static int failures;

#define CHECK(cond, ...)                                  \
    do {                                                  \
        if (!(cond)) {                                    \
            fprintf(stderr, "FAIL line %d: ", __LINE__);  \
            fprintf(stderr, __VA_ARGS__);                 \
            fputc('\n', stderr);                          \
            failures++;                                   \
        }                                                 \
    } while (0)

static void expect_error(tiny *m, int rc, const char *want)
{
    CHECK(rc == -1, "returned %d, expected -1 (%s)", rc, want);
    CHECK(strcmp(tiny_last_error(m), want) == 0, "said '%s'\n  expected '%s'", tiny_last_error(m), want);
}

enum { N = 37 };  /* more than the compiled batch (8), not a multiple of it */
static float xs[N * TINY_X_SIZE];
static int32_t ys[N];

static void data(void)
{
    for (int i = 0; i < N * TINY_X_SIZE; i++)
        xs[i] = (float)sin(0.37 * i);
    for (int i = 0; i < N; i++)
        ys[i] = i % 3;
}

typedef struct Job { float out[N * TINY_OUTPUT_SIZE]; float losses[20]; } Job;

/* 20 training steps then a forward pass, on a fresh instance. */
static void *work(void *arg)
{
    Job *j = arg;
    tiny *m = tiny_create(7);
    for (int s = 0; s < 20; s++)
        tiny_train_step(m, 8, xs + (s % 4) * 8 * TINY_X_SIZE, ys + (s % 4) * 8, &j->losses[s]);
    tiny_forward(m, N, xs, j->out);
    tiny_destroy(m);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: abi TMPDIR WIDER_CHECKPOINT OTHER_MODEL_CHECKPOINT\n");
        return 2;
    }
    const char *dir = argv[1];
    char path[4096];
    data();
    tiny *m = tiny_create(1);
    CHECK(m != NULL, "create");
    float out[N * TINY_OUTPUT_SIZE], loss;

    /* errors */
    expect_error(m, tiny_forward(m, 0, xs, out), "forward: batch 0; it must be at least 1");
    expect_error(m, tiny_forward(m, 2, NULL, out), "forward: input 'x' is a null pointer");
    expect_error(m, tiny_forward(m, 2, xs, NULL), "forward: the output is a null pointer");
    expect_error(m, tiny_train_step(m, 0, xs, ys, &loss), "train_step: batch 0; it must be at least 1");
    expect_error(m, tiny_train_step(m, 2, xs, NULL, &loss), "train_step: target 'y' is a null pointer");
    /* checked before the instance grows for a batch this large */
    expect_error(m, tiny_train_step(m, (int64_t)1 << 40, xs, NULL, &loss), "train_step: target 'y' is a null pointer");
    /* a class id outside [0, 3) would read a one-hot row that is not there */
    ys[1] = 3;
    expect_error(m, tiny_train_step(m, 2, xs, ys, &loss), "train_step: target 'y' of example 1 holds 3; it must be in [0, 3)");
    ys[1] = -1;
    expect_error(m, tiny_train_step(m, 4, xs, ys, &loss), "train_step: target 'y' of example 1 holds -1; it must be in [0, 3)");
    ys[1] = 1;
    expect_error(m, tiny_load(m, "/nonexistent/ck.safetensors"),
                 "cannot open '/nonexistent/ck.safetensors': No such file or directory");
    CHECK(tiny_load(NULL, "x") == -1, "load(NULL)");
    CHECK(strcmp(tiny_last_error(NULL), "no instance (a null pointer)") == 0, "last_error(NULL)");
    tiny_destroy(NULL);
    float before[N * TINY_OUTPUT_SIZE];
    tiny_forward(m, N, xs, before);
    char want[8192];
    snprintf(want, sizeof want, "%s: tensor 'h.weight' is F32[7,5], but the model has F32[6,5]", argv[2]);
    expect_error(m, tiny_load(m, argv[2]), want);
    snprintf(want, sizeof want, "%s: no tensor 'h.weight'; is it a checkpoint of model 'tiny'?", argv[3]);
    expect_error(m, tiny_load(m, argv[3]), want);

    /* batches: any batch equals its rows one at a time */
    CHECK(tiny_forward(m, N, xs, out) == 0, "forward N");
    CHECK(memcmp(out, before, sizeof out) == 0, "a refused load changed the parameters");
    double worst = 0;
    for (int i = 0; i < N; i++) {
        float one[TINY_OUTPUT_SIZE];
        CHECK(tiny_forward(m, 1, xs + i * TINY_X_SIZE, one) == 0, "forward 1: %s", tiny_last_error(m));
        for (int k = 0; k < TINY_OUTPUT_SIZE; k++) {
            double a = one[k], b = out[i * TINY_OUTPUT_SIZE + k];
            double r = fabs(a - b) / fmax(fabs(b), 1e-30);
            worst = r > worst ? r : worst;
        }
    }
    CHECK(worst <= 1e-6, "batch 1 vs batch %d: relative difference %g", N, worst);

    /* save, load into another instance: the same outputs */
    snprintf(path, sizeof path, "%s/tiny.safetensors", dir);
    CHECK(tiny_train_step(m, 8, xs, ys, &loss) == 0 && isfinite(loss), "train_step");
    CHECK(tiny_save(m, path) == 0, "save: %s", tiny_last_error(m));
    tiny *m2 = tiny_create(99);
    CHECK(tiny_load(m2, path) == 0, "load: %s", tiny_last_error(m2));
    float a[N * TINY_OUTPUT_SIZE], b[N * TINY_OUTPUT_SIZE];
    CHECK(tiny_forward(m, N, xs, a) == 0 && tiny_forward(m2, N, xs, b) == 0, "forward after load");
    CHECK(memcmp(a, b, sizeof a) == 0, "a loaded instance differs from the saved one");
    tiny_destroy(m2);

    /* load_memory: the same file's bytes from memory give the same outputs;
     * a cut-short copy is refused (naming load_memory) and changes nothing */
    FILE *f = fopen(path, "rb");
    static unsigned char bytes[1 << 16];
    size_t size = f ? fread(bytes, 1, sizeof bytes, f) : 0;
    if (f)
        fclose(f);
    CHECK(size > 8 && size < sizeof bytes, "read %s back (%zu bytes)", path, size);
    tiny *m3 = tiny_create(99);
    CHECK(tiny_load_memory(m3, bytes, size) == 0, "load_memory: %s", tiny_last_error(m3));
    CHECK(tiny_forward(m3, N, xs, b) == 0 && memcmp(a, b, sizeof a) == 0, "load_memory differs from load");
    tiny *m4 = tiny_create(99);
    float fresh[N * TINY_OUTPUT_SIZE], after[N * TINY_OUTPUT_SIZE];
    CHECK(tiny_forward(m4, N, xs, fresh) == 0, "forward fresh");
    expect_error(m4, tiny_load_memory(m4, bytes, 4), "load_memory: file of 4 bytes is shorter than the 8-byte header length");
    expect_error(m4, tiny_load_memory(m4, NULL, 100), "load_memory: the data is a null pointer");
    CHECK(tiny_load_memory(m4, bytes, size - 1) == -1, "a copy one byte short is refused");
    CHECK(strstr(tiny_last_error(m4), "load_memory: ") == tiny_last_error(m4), "said '%s'", tiny_last_error(m4));
    CHECK(tiny_forward(m4, N, xs, after) == 0 && memcmp(fresh, after, sizeof after) == 0,
          "a refused load_memory changed the parameters");
    tiny_destroy(m4);
    tiny_destroy(m3);
    tiny_destroy(m);

    /* threads: two instances at once, the same bits as one alone */
    static Job solo, t1, t2;
    work(&solo);
    pthread_t p1, p2;
    pthread_create(&p1, NULL, work, &t1);
    pthread_create(&p2, NULL, work, &t2);
    pthread_join(p1, NULL);
    pthread_join(p2, NULL);
    CHECK(memcmp(&solo, &t1, sizeof solo) == 0 && memcmp(&solo, &t2, sizeof solo) == 0,
          "instances on two threads differ from one alone");
    CHECK(solo.losses[19] < solo.losses[0], "training did not lower the loss (%g -> %g)", solo.losses[0],
          solo.losses[19]);

    /* cycles */
    for (int c = 0; c < 50; c++) {
        tiny *x = tiny_create((uint64_t)c);
        CHECK(x != NULL, "cycle %d: create", c);
        CHECK(tiny_load(x, path) == 0, "cycle %d: load: %s", c, tiny_last_error(x));
        CHECK(tiny_forward(x, N, xs, out) == 0, "cycle %d: forward: %s", c, tiny_last_error(x));
        CHECK(tiny_train_step(x, 1 + c % N, xs, ys, &loss) == 0, "cycle %d: train_step: %s", c, tiny_last_error(x));
        CHECK(tiny_save(x, path) == 0, "cycle %d: save: %s", c, tiny_last_error(x));
        tiny_destroy(x);
    }
    if (failures)
        return 1;
    puts("ok");
    return 0;
}
