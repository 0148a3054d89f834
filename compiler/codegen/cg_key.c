/* cg_key.c — the compile cache's key: everything that determines the
 * machine code cg_build and cg_built_object make, hashed without building
 * anything, so that a hit costs no LLVM work at all.
 *
 * What goes in:
 *   - this nnc: its version and the identity of its executable (size and
 *     modification time), so a rebuilt generator never meets code the old
 *     one made;
 *   - LLVM's version, the target triple, CPU and features, the matmul's
 *     choices for them (cg_tune.c: every field), the pass pipeline and the target
 *     machine's settings;
 *   - per entry its name, and every field of the planned graph the
 *     generator reads: per node op, type, shape, operands, attributes
 *     (integers, float, shape, fused program, a tensor's values and name)
 *     and its place in the memory plan (slab, offset, alias); the outputs;
 *     the real type and the plan's batch.
 * Fields the generator never reads (source spans, autodiff rules, layer
 * names) stay out: a comment moved in the model still hits.
 */
#include <llvm-c/Core.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cg_module.h"

#ifndef NNC_VERSION
#define NNC_VERSION "0.0.0"
#endif

static void add_i64(CacheHash *h, int64_t v)
{
    cache_hash_add(h, &v, sizeof v);
}

static void add_f64(CacheHash *h, double v)
{
    cache_hash_add(h, &v, sizeof v);
}

static void add_shape(CacheHash *h, const IrShape *s)
{
    add_i64(h, s->rank);
    for (int d = 0; d < s->rank; d++)
        add_i64(h, s->dim[d]);
}

static void add_bytes(CacheHash *h, IrBytes b)
{
    add_i64(h, b.fixed);
    add_i64(h, b.per_ex);
}

static void add_graph(CacheHash *h, const IrGraph *g, const IrPlan *p)
{
    add_i64(h, g->ftype);
    add_i64(h, g->n);
    add_i64(h, p->batch);
    for (int v = 0; v < g->n; v++) {
        const IrNode *n = &g->nodes[v];
        add_i64(h, n->op);
        add_i64(h, n->type);
        add_shape(h, &n->shape);
        add_i64(h, n->nin);
        for (int k = 0; k < n->nin; k++)
            add_i64(h, n->in[k]);
        int64_t ints[IR_ATTR_INTS];
        ir_attr_ints(&n->a, ints);
        for (int k = 0; k < IR_ATTR_INTS; k++)
            add_i64(h, ints[k]);
        add_f64(h, n->a.f);
        add_shape(h, &n->a.shape);
        add_i64(h, n->a.role);
        cache_hash_str(h, n->a.name ? n->a.name : "");
        if (n->op == IR_TENSOR && n->a.data) {  /* typed-in values are constants of the code */
            int64_t count = 1;
            for (int d = 0; d < n->shape.rank; d++)
                count *= n->shape.dim[d];
            cache_hash_add(h, n->a.data, sizeof *n->a.data * (size_t)count);
        }
        add_i64(h, n->a.prog ? n->a.prog->n : -1);
        if (n->a.prog) {
            add_i64(h, n->a.prog->nin);
            for (int k = 0; k < n->a.prog->n; k++) {
                const IrInstr *in = &n->a.prog->code[k];
                add_i64(h, in->op);
                add_i64(h, in->a);
                add_i64(h, in->b);
                add_i64(h, in->c);
                add_f64(h, in->f);
            }
        }
        add_i64(h, p->slab[v]);
        add_bytes(h, p->offset[v]);
        add_bytes(h, p->bytes[v]);
        add_i64(h, p->alias[v]);
    }
    add_i64(h, g->nouts);
    for (int o = 0; o < g->nouts; o++) {
        add_i64(h, g->outs[o].value);
        add_i64(h, g->outs[o].kind);
        add_i64(h, g->outs[o].updates);
    }
}

int cg_key(const CgEntry *e, int n, const CgOptions *o, char key[33], const char **err)
{
    CacheHash h;
    cache_hash_init(&h);
    cache_hash_str(&h, "nnc " NNC_VERSION);
    struct stat st;
    if (stat("/proc/self/exe", &st) == 0) {
        add_i64(&h, (int64_t)st.st_size);
        add_i64(&h, (int64_t)st.st_mtim.tv_sec);
        add_i64(&h, (int64_t)st.st_mtim.tv_nsec);
    }
    unsigned major, minor, patch;
    LLVMGetVersion(&major, &minor, &patch);
    char v[64];
    snprintf(v, sizeof v, "LLVM %u.%u.%u", major, minor, patch);
    cache_hash_str(&h, v);
    CgTarget t;
    if (cg_host_target(&t, o, err) != 0)
        return -1;
    cache_hash_str(&h, t.triple);
    cache_hash_str(&h, t.cpu);
    cache_hash_str(&h, t.features);
    cache_hash_str(&h, t.tune->name);  /* the matmul's choices: a table row, NNC_TILE or the options' own */
#define ADD_FIELD(f) add_i64(&h, t.tune->f);
    CG_TUNE_FIELDS(ADD_FIELD)
#undef ADD_FIELD
    cg_target_free(&t);
    int level = o ? o->opt : 3;
    cache_hash_str(&h, cg_pipeline(level));
    add_i64(&h, cg_unrolls(level));
    cache_hash_str(&h, "elementwise bodies (plain or fused) at");
    cache_hash_str(&h, cg_pipeline(level >= 3 ? 2 : level));
    add_i64(&h, cg_unrolls(level >= 3 ? 2 : level));
    cache_hash_str(&h, "matmul bodies at");
    cache_hash_str(&h, cg_pipeline(level >= 3 ? CG_LEVEL_PRODUCTS : level));
    add_i64(&h, cg_unrolls(level >= 3 ? CG_LEVEL_PRODUCTS : level));
    cache_hash_str(&h, "reductions, indices, casts at");
    cache_hash_str(&h, cg_pipeline(level >= 3 ? CG_LEVEL_REDUCE : level));
    add_i64(&h, cg_unrolls(level >= 3 ? CG_LEVEL_REDUCE : level));
    cache_hash_str(&h, "wrappers and entries in a module of their own at");
    cache_hash_str(&h, cg_pipeline(CG_LEVEL_ENTRIES));
    cache_hash_str(&h, "codegen");
    cache_hash_str(&h, cg_codegen_level(CG_LEVEL_ENTRIES));
    cache_hash_str(&h, "products as plain loops up to multiply-adds, columns");
    add_i64(&h, CG_TINY_MACS);
    add_i64(&h, CG_TINY_N);
    cache_hash_str(&h, "products fused into sums only as written (cg_program_instr), no contract flags");
    cache_hash_str(&h, "loop+slp vectorize; codegen");
    cache_hash_str(&h, cg_codegen_level(level));  /* (the bodies' modules': cg_target_machine_for) */
    cache_hash_str(&h, "pic, default code model; object");
    /* LLVM's own options may change the code (or a dump's text): part of the key */
    cache_hash_str(&h, cg_llvm_options());
    const char *llvm_args = getenv("NNC_LLVM_ARGS");
    cache_hash_str(&h, llvm_args ? llvm_args : "");
    add_i64(&h, n);
    for (int i = 0; i < n; i++) {
        cache_hash_str(&h, e[i].name);
        add_i64(&h, e[i].keep_across_calls);
        add_graph(&h, e[i].g, e[i].p);
    }
    cache_hash_hex(&h, key);
    return 0;
}
