/* grad.c — placeholder */
#include "ir_internal.h"
#define STUB(nm) void grad_##nm(struct IrGradCtx *ad, int node, int gout) { (void)ad, (void)node, (void)gout; }
STUB(neg) STUB(exp) STUB(log) STUB(sqrt) STUB(rsqrt) STUB(tanh) STUB(erf) STUB(relu) STUB(sigmoid)
STUB(sin) STUB(cos) STUB(pow) STUB(add) STUB(sub) STUB(mul) STUB(div) STUB(max) STUB(min) STUB(select)
STUB(sum) STUB(mean) STUB(rmax) STUB(reshape) STUB(permute) STUB(broadcast) STUB(slice) STUB(pad)
STUB(concat) STUB(matmul) STUB(gather) STUB(scatter_add) STUB(windows) STUB(windows_t)
