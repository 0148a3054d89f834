/* interp.c — placeholder; the reference interpreter is being written. */
#include "interp.h"
#include "ir_internal.h"
#define STUB(nm) void eval_##nm(struct IrEval *ev, int node) { (void)ev, (void)node; }
STUB(input) STUB(const) STUB(tensor) STUB(batch_size) STUB(ew) STUB(reduce) STUB(argmax) STUB(copy)
STUB(permute) STUB(broadcast) STUB(slice) STUB(pad) STUB(concat) STUB(cast) STUB(matmul) STUB(gather)
STUB(scatter_add) STUB(one_hot) STUB(random_mask) STUB(windows) STUB(windows_t) STUB(fused)
STUB(fused_rows) STUB(matmul_epi)
