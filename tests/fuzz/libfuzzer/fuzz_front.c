/* fuzz_front.c — libFuzzer target: any bytes as a .nn file, through the
 * whole front end and, when they make a correct model, lowering, autodiff,
 * every pass and the memory plan (no LLVM: codegen is not fed user text).
 *
 * An input must end in a checked model or in diagnostics.  A crash, a
 * sanitizer report, a leak, or an internal compiler error from the middle
 * end (nnc_compile failing on a model sema accepted) is a finding: the last
 * aborts, so libFuzzer keeps the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "front/front.h"
#include "passes/pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        abort();
    NncFront f;
    if (nnc_front_text(&f, "fuzz.nn", (const char *)data, size, devnull) == NNC_OK && f.model) {
        StrBuf sb = {0};
        nnc_summary(&sb, &f);
        nnc_dump_ast(&sb, &f);
        sb_free(&sb);
        NncCompiled c;
        const char *err = NULL;
        int64_t batch = f.model->train.batch ? f.model->train.batch : 4;
        if (batch > 64)
            batch = 64;
        if (f.model->loss >= 0 && nnc_compile(f.model, &f.src, &f.arena, IR_F32, STAGE_PLAN, batch, &c, &err) != 0) {
            fprintf(stderr, "internal compiler error: %s\n", err ? err : "?");
            abort();
        }
    }
    nnc_front_free(&f);
    return 0;
}
