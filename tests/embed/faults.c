/* faults.c — one run of the embedding ABI under fault injection (tiny.nn,
 * linked statically with the runtime).  With NNC_FAIL_ALLOC=N the Nth
 * allocation fails: every call must then succeed or return -1 with a
 * reason (create: NULL), and a save that fails must leave the file it would
 * have replaced as it was.  tests/embed/run.sh runs it for N = 1, 2, ...
 * until a run where nothing was injected; under ASan any leak fails it.
 *
 * usage: faults DIR (DIR/ck.safetensors: a checkpoint to load;
 * DIR/out.safetensors: the file save replaces)
 * Prints one line: "injected 1" or "injected 0"; exits 1 on a broken rule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "rt_internal.h"
#include "tiny.h"

enum { N = 40 };   /* more than the 16 the library plans for: train_step grows its slabs */

/* -1 returns come with a reason */
static int said(tiny *m, int rc, const char *what)
{
    if (rc != 0 && rc != -1) {
        printf("%s returned %d\n", what, rc);
        return 1;
    }
    if (rc == -1 && (!tiny_last_error(m) || !tiny_last_error(m)[0])) {
        printf("%s failed without a reason\n", what);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    TestPath ck, out;
    test_path(ck, argv[1], "ck.safetensors");
    test_path(out, argv[1], "out.safetensors");
    long before_len = 0;
    char *before = slurp(out, &before_len);
    float xs[N * TINY_X_SIZE], o[N * TINY_OUTPUT_SIZE], loss;
    int32_t ys[N];
    for (int i = 0; i < N * TINY_X_SIZE; i++)
        xs[i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
    for (int i = 0; i < N; i++)
        ys[i] = i % 3;
    int bad = 0;
    tiny *m = tiny_create(1);
    if (m) {
        bad |= said(m, tiny_load(m, ck), "load");
        bad |= said(m, tiny_forward(m, N, xs, o), "forward");
        bad |= said(m, tiny_train_step(m, 4, xs, ys, &loss), "train_step");
        bad |= said(m, tiny_train_step(m, N, xs, ys, &loss), "train_step (grows)");
        int rc = tiny_save(m, out);
        bad |= said(m, rc, "save");
        if (rc != 0 && !unchanged(out, before, before_len)) {
            printf("a failed save changed %s\n", out);
            bad = 1;
        }
        tiny_destroy(m);
    }
    free(before);
    printf("injected %d\n", rt_alloc_injected());
    return bad;
}
