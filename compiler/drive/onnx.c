/* onnx.c — nnc --emit=onnx: the driver (see onnx.h).  Lowers the model's
 * forward pass, gathers the parameters' values (a checkpoint's, or the
 * seed's initialisation), has onnx_encode.c write the ModelProto and puts
 * it in the file. */
#include "onnx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../ir/lower.h"
#include "aot.h"
#include "model.h"
#include "nnc_runtime.h"

/* The checks every --load makes of a checkpoint (rt_state_check_read: no
 * tensor the model does not have, the metadata's strings), run on the
 * model's parameters as a forward pass has them: no optimizer state.  They
 * convert ck's F16, BF16 and F64 parameters to f32. */
static int checkpoint_fits(const SemaModel *m, RtCheckpoint *ck, const char *path, Arena *a, char *why, size_t len)
{
    RtTensorSpec *spec = ARENA_ARRAY(a, RtTensorSpec, m->nparams + 1);
    for (int i = 0; i < m->nparams; i++) {
        const SemaParam *p = &m->params[i];
        spec[i] = (RtTensorSpec){.name = p->name, .rank = p->shape.rank, .dtype = RT_F32};
        for (int d = 0; d < p->shape.rank; d++)
            spec[i].shape[d] = p->shape.dim[d];
    }
    RtModel rm = {.name = m->name, .params = spec, .nparams = m->nparams};
    return rt_state_check_read(&rm, ck, path, why, len);
}

/* The parameters' values: the checkpoint's, or the initialisation
 * rt_params_init computes for the seed (rounded to f32 as it stores them). */
static int param_values(const SemaModel *m, const OnnxOptions *o, uint64_t seed, Arena *a, float **vals)
{
    RtCheckpoint ck = {0};
    char why[512];
    if (o->load && (rt_safetensors_read(o->load, &ck, why, sizeof why) != 0
                    || checkpoint_fits(m, &ck, o->load, a, why, sizeof why) != 0)) {
        fprintf(o->log, "nnc: error: %s\n", why);
        rt_checkpoint_free(&ck);
        return 1;
    }
    for (int i = 0; i < m->nparams; i++) {
        const SemaParam *p = &m->params[i];
        int64_t n = shape_elems(&p->shape);
        float *v = vals[i] = ARENA_ARRAY(a, float, n + 1);
        /* checkpoint_fits checked every tensor's presence and shape, and made it f32 */
        const RtTensor *t = o->load ? rt_checkpoint_find(&ck, p->name) : NULL;
        if (t)
            memcpy(v, t->data, sizeof *v * (size_t)n);
        else
            for (int64_t e = 0; e < n; e++)
                v[e] = (float)rt_init_value((RtInit)p->init, p->fan_in, p->scale, p->data, seed, rt_param_stream(i),
                                            (uint64_t)e);
    }
    if (o->verbose && ck.converted)
        fprintf(o->log, "nnc: %s: converted to F32: %s\n", o->load, ck.converted);
    rt_checkpoint_free(&ck);
    return 0;
}

/* The output's name: the binding `output NAME` names, else "output". */
static const char *output_name(const NncFront *f)
{
    for (const AstNode *d = f->prog.decls; d; d = d->next)
        if (d->kind == AST_MODEL)
            for (const AstNode *it = d->layer.body; it; it = it->next)
                if (it->kind == AST_OUTPUT && it->stmt.value->kind == AST_NAME)
                    return it->stmt.value->name.id;
    return "output";
}

/* Writes bytes to path as a checkpoint is written (rt_replace_begin: a
 * temporary of its own name, O_EXCL, flushed, renamed over path; a link
 * at path stays a link); "-": to standard output (nnc --emit=onnx -o - |
 * ...). */
static int write_file(const char *path, const PbBuf *b, FILE *log)
{
    if (strcmp(path, "-") == 0) {
        if (fwrite(b->data, 1, b->len, stdout) != b->len || fflush(stdout) != 0) {
            fprintf(log, "nnc: error: cannot write standard output: %s\n", strerror(errno));
            return 1;
        }
        return 0;
    }
    RtReplace r;
    int ok = rt_replace_begin(&r, path) == 0;
    if (ok)
        ok = rt_replace_end(&r, rt_write_all(r.fd, b->data, b->len) == 0) == 0;
    if (!ok) {
        fprintf(log, "nnc: error: cannot write '%s': %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

/* protobuf's limit for one message, which an ONNX file is: 0 if bytes fit,
 * else 1.  least: bytes is the parameters' alone, before the file is built
 * (a 2 GiB file is a few GiB of memory and a minute to build). */
static int too_big(const char *path, int64_t bytes, bool least, FILE *log)
{
    if (bytes <= INT32_MAX)
        return 0;
    fprintf(log, "nnc: error: '%s' would be %s%lld bytes; an ONNX file holds at most 2 GiB (protobuf's limit), and "
            "nnc does not write external data\n", path, least ? "more than its parameters' " : "", (long long)bytes);
    return 1;
}

int nnc_emit_onnx(NncFront *f, const OnnxOptions *o)
{
    const SemaModel *m = f->model;
    Arena *a = &f->arena;
    const char *path = o->output ? o->output : nnc_output_stem(a, f->src.name, m->name, ".onnx");
    if (strcmp(path, "-") != 0 && nnc_is_model_file(f, path)) {
        fprintf(o->log, "nnc: error: -o %s would overwrite the model file\n", path);
        return 1;
    }
    if (strcmp(path, "-") != 0 && nnc_check_output(path, true, o->log) != 0)
        return 1;
    Lowered L;
    const char *err = NULL;
    LowerOptions lo = {.ftype = IR_F32, .training = false, .seed = m->train.seed};
    if (lower_model(m, &f->src, a, &lo, &L, &err) != 0) {
        fprintf(o->log, "nnc: internal compiler error: %s (this is a bug in nnc)\n", err);
        return 3;
    }
    const bool *need = onnx_needed(&L.g, L.output, a);
    int written;  /* the parameter tensors in the file: an unused one is left out */
    if (too_big(path, onnx_param_bytes(&L.g, need, &written), true, o->log))
        return 1;
    uint64_t seed = o->seed >= 0 ? (uint64_t)o->seed : m->train.decl ? (uint64_t)m->train.seed : 1;
    float **vals = ARENA_ARRAY(a, float *, m->nparams + 1);
    if (param_values(m, o, seed, a, vals) != 0)
        return 1;
    const float **param = ARENA_ARRAY(a, const float *, L.g.n + 1);
    memset(param, 0, sizeof *param * (size_t)(L.g.n + 1));
    for (int i = 0; i < m->nparams; i++)
        param[L.param[i]] = vals[i];
    /* the output's name; a parameter of that name keeps its own */
    const char *oname = output_name(f);
    for (int i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, oname) == 0)
            oname = arena_printf(a, "%s.output", oname);
    OnnxSource src = {.g = &L.g, .output = L.output, .need = need, .output_name = oname, .param = param,
                      .doc = o->load ? arena_printf(a, "weights from %s", o->load)
                                     : arena_printf(a, "weights initialised from seed %llu", (unsigned long long)seed),
                      .version = o->version};
    PbBuf model = {0};
    int rc = onnx_encode(&src, a, &f->diag, &model);
    if (rc == 0 && pb_failed(&model)) {
        fprintf(o->log, "nnc: error: out of memory writing '%s'\n", path);
        rc = 1;
    }
    if (rc == 0 && too_big(path, (int64_t)model.len, false, o->log))
        rc = 1;
    if (rc == 0)
        rc = write_file(path, &model, o->log);
    if (rc == 0 && o->verbose)
        fprintf(o->log, "nnc: wrote %s: %zu bytes, opset %d, %d parameter tensors\n",
                strcmp(path, "-") == 0 ? "standard output" : path, model.len,
                NNC_ONNX_OPSET, written);
    pb_free(&model);
    return rc;
}
