/* cdesc.c — see cdesc.h.
 *
 * The structs are written with designated initializers, so the C stays
 * right when nnc_runtime.h gains a field; the runtime's header is the one
 * contract between this file and what it writes.
 */
#include "cdesc.h"

#include <ctype.h>
#include <string.h>

#include "../util/path.h"

static void c_string(StrBuf *b, const char *s)
{
    if (!s) {
        sb_puts(b, "0");
        return;
    }
    sb_putc(b, '"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            sb_printf(b, "\\%c", ch);
        else if (ch < 32 || ch >= 127)
            sb_printf(b, "\\%03o", ch);
        else
            sb_putc(b, (char)ch);
    }
    sb_putc(b, '"');
}

/* The runtime's enums spelled as C, one switch each: a case per value, its
 * name stringized from the enumerator itself, and no default, so that a
 * value added to an enum is a compile error (-Wswitch, -Werror in CI)
 * until it is named here, rather than a NULL printed into generated code.
 * (Tables indexed by value cannot check that: most enums have no count
 * member, and one would break the runtime's own exhaustive switches.) */
#define NAME(e) case e: return #e;
#define NAMES(fn, Enum, ...) \
    static const char *fn(Enum v) \
    { \
        switch (v) { __VA_ARGS__ } \
        return NULL; \
    }

NAMES(slab_name, RtSlab, NAME(RT_SLAB_NONE) NAME(RT_SLAB_INPUT) NAME(RT_SLAB_PARAM) NAME(RT_SLAB_STATE) NAME(RT_SLAB_ACT))
NAMES(dtype_name, RtDtype, NAME(RT_F32) NAME(RT_F64) NAME(RT_I32))
NAMES(init_name, RtInit, NAME(RT_INIT_UNIFORM_FAN_IN) NAME(RT_INIT_NORMAL) NAME(RT_INIT_ONES) NAME(RT_INIT_ZEROS)
      NAME(RT_INIT_NORMAL_STD) NAME(RT_INIT_UNIFORM) NAME(RT_INIT_DATA))
NAMES(counter_name, RtCounter, NAME(RT_COUNTER_NONE) NAME(RT_COUNTER_STEP) NAME(RT_COUNTER_TOTAL_STEPS)
      case RT_COUNTER_COUNT: break;)  /* the count of its names' table (rt_counter_name), not a value */
NAMES(data_name, RtDataKind, NAME(RT_DATA_MNIST) NAME(RT_DATA_CSV) NAME(RT_DATA_TEXT) NAME(RT_DATA_NPZ))
NAMES(normalize_name, RtNormalize, NAME(RT_NORM_NONE) NAME(RT_NORM_UNIT) NAME(RT_NORM_STANDARD))

#undef NAMES
#undef NAME

/* One spec's initializer, every field by name; a typed-in initial value is var_init_i. */
static void c_spec(StrBuf *b, const RtTensorSpec *s, const char *var, int i)
{
    sb_puts(b, "{.name = ");
    c_string(b, s->name);
    sb_printf(b, ", .slab = %s, .offset = {%lld, %lld}, .rank = %d, .shape = {", slab_name(s->slab),
              (long long)s->offset.fixed, (long long)s->offset.per_example, s->rank);
    for (int d = 0; d < s->rank; d++)
        sb_printf(b, "%s%lld", d ? ", " : "", (long long)s->shape[d]);
    sb_printf(b, "}, .dtype = %s, .init = %s, .fan_in = %lld, .scale = %.17g, .data = ", dtype_name(s->dtype),
              init_name(s->init), (long long)s->fan_in, s->scale);
    if (s->init == RT_INIT_DATA && s->data)
        sb_printf(b, "%s_init_%d", var, i);
    else
        sb_puts(b, "0");
    sb_printf(b, ", .classes = %lld, .counter = %s}", (long long)s->classes, counter_name(s->counter));
}

static void c_specs(StrBuf *b, const char *var, const RtTensorSpec *s, int n)
{
    /* A typed-in initial value travels as static data beside its spec:
     * %.17g prints a double that reads back exactly. */
    for (int i = 0; i < n; i++) {
        if (s[i].init != RT_INIT_DATA || !s[i].data)
            continue;
        int64_t elems = 1;
        for (int d = 0; d < s[i].rank; d++)
            elems *= s[i].shape[d];
        sb_printf(b, "static const double %s_init_%d[] = {", var, i);
        for (int64_t e = 0; e < elems; e++)
            sb_printf(b, "%s%.17g", e % 8 ? ", " : e ? ",\n    " : "", s[i].data[e]);
        sb_puts(b, "};\n");
    }
    sb_printf(b, "static RtTensorSpec %s[] = {\n", var);
    for (int i = 0; i < n; i++) {
        sb_puts(b, "    ");
        c_spec(b, &s[i], var, i);
        sb_puts(b, ",\n");
    }
    if (n == 0)
        sb_puts(b, "    {0},\n");
    sb_puts(b, "};\n");
}

static void c_entry(StrBuf *b, const RtEntry *e, const char *fn)
{
    sb_printf(b, "{.fn = %s, .slab_bytes = {", fn);
    for (int s = 0; s < 5; s++)
        sb_printf(b, "%s{%lld, %lld}", s ? ", " : "", (long long)e->slab_bytes[s].fixed,
                  (long long)e->slab_bytes[s].per_example);
    sb_printf(b, "}, .loss = {%lld, %lld}, .nmetrics = %d, .metric_name = {", (long long)e->loss.fixed,
              (long long)e->loss.per_example, e->nmetrics);
    for (int k = 0; k < e->nmetrics; k++) {
        sb_puts(b, k ? ", " : "");
        c_string(b, e->metric_name[k]);
    }
    sb_puts(b, "}, .metric = {");
    for (int k = 0; k < e->nmetrics; k++)
        sb_printf(b, "%s{%lld, %lld}", k ? ", " : "", (long long)e->metric[k].fixed,
                  (long long)e->metric[k].per_example);
    sb_printf(b, "}, .output = {%lld, %lld}, .output_last = %lld, .output_elems = %lld}", (long long)e->output.fixed,
              (long long)e->output.per_example, (long long)e->output_last, (long long)e->output_elems);
}

/* The specs, and `static const RtModel model`. */
static void c_model(StrBuf *b, const RtModel *m, const EntryNames *e)
{
    if (e->train)  /* a forward-only model has no training or evaluation entries */
        sb_printf(b, "void %s(RtCtx *ctx);\nvoid %s(RtCtx *ctx);\n", e->train, e->eval);
    if (e->predict)
        sb_printf(b, "void %s(RtCtx *ctx);\n", e->predict);
    if (e->decode)
        sb_printf(b, "void %s(RtCtx *ctx);\n", e->decode);
    sb_putc(b, '\n');
    c_specs(b, "params", m->params, m->nparams);
    c_specs(b, "state", m->state, m->nstate);
    c_specs(b, "inputs", m->inputs, m->ninputs);
    c_specs(b, "targets", m->targets, m->ntargets);
    sb_puts(b, "\nstatic const RtModel model = {\n    .name = ");
    c_string(b, m->name);
    sb_printf(b, ", .real = RT_F32, .batch = %lld", (long long)m->batch);
    if (m->distributed)
        sb_puts(b, ", .distributed = 1");
    if (e->train) {
        sb_puts(b, ",\n    .train = ");
        c_entry(b, &m->train, e->train);
        sb_puts(b, ",\n    .eval = ");
        c_entry(b, &m->eval, e->eval);
    }
    if (e->predict) {
        sb_puts(b, ",\n    .predict = ");
        c_entry(b, &m->predict, e->predict);
    }
    if (e->decode) {
        sb_puts(b, ",\n    .decode = {.entry = ");
        c_entry(b, &m->decode.entry, e->decode);
        sb_printf(b, ",\n        .planned = %lld, .block = %lld, .tokens = ", (long long)m->decode.planned,
                  (long long)m->decode.block);
        c_spec(b, &m->decode.tokens, "decode", 0);
        sb_puts(b, ",\n        .positions = ");
        c_spec(b, &m->decode.positions, "decode", 1);
        sb_putc(b, '}');
    }
    sb_printf(b, ",\n    .params = params, .nparams = %d, .state = state, .nstate = %d,\n"
                 "    .inputs = inputs, .ninputs = %d, .targets = targets, .ntargets = %d,\n};\n\n",
              m->nparams, m->nstate, m->ninputs, m->ntargets);
}

void cdesc_trainer(StrBuf *b, const TrainModel *t, const EntryNames *e, const char *model_dir)
{
    const RtRecipe *r = &t->recipe;
    sb_printf(b, "/* Written by nnc for model '%s': its tensors and train block for the runtime. */\n", t->rm.name);
    sb_puts(b, "#include \"nnc_runtime.h\"\n\n");
    c_model(b, &t->rm, e);
    sb_printf(b, "static const RtRecipe recipe = {\n    .data = %s, .path = ", data_name(r->data));
    c_string(b, r->path);
    sb_puts(b, ", .path2 = ");
    c_string(b, r->path2);
    sb_printf(b, ", .normalize = %s, .header = %d, .classes = %lld,\n    .block = %lld, .split = %.17g, .vocab = %lld,\n",
              normalize_name(r->normalize), r->header, (long long)r->classes, (long long)r->block, r->split, (long long)r->vocab);
    sb_printf(b, "    .batch = %lld, .epochs = %lld, .steps = %lld, .eval_every = %lld, .seed = %lluu, .lr = %.17g,\n"
                 "    .model_dir = ", (long long)r->batch, (long long)r->epochs, (long long)r->steps,
              (long long)r->eval_every, (unsigned long long)r->seed, r->lr);
    c_string(b, model_dir);
    sb_puts(b, ",\n    .columns = ");
    c_string(b, r->columns ? r->columns : "");
    if (r->bpe_vocab)
        sb_printf(b, ", .bpe_vocab = %lld", (long long)r->bpe_vocab);
    sb_puts(b, ",\n    .model_file = ");
    c_string(b, r->model_file ? r->model_file : "");
    sb_puts(b, ",\n};\n\nint main(int argc, char **argv) { return rt_exe_main(&model, &recipe, argc, argv); }\n");
}

/* ---- libraries ----------------------------------------------------------------------------- */

/* The parameter list of the inputs (and targets): `const float *image`. */
static void c_params(StrBuf *b, const RtTensorSpec *s, int n)
{
    for (int i = 0; i < n; i++)
        sb_printf(b, ", const %s *%s", s[i].dtype == RT_I32 ? "int32_t" : "float", s[i].name);
}

static void c_array(StrBuf *b, const char *var, const RtTensorSpec *s, int n)
{
    sb_printf(b, "    const void *%s[] = {", var);
    for (int i = 0; i < n; i++)
        sb_printf(b, "%s%s", i ? ", " : "", s[i].name);
    sb_puts(b, n ? "};\n" : "0};\n");
}

static void c_train_step(StrBuf *b, const RtModel *m)
{
    const char *n = m->name;
    sb_printf(b, "int %s_train_step(%s *m, int64_t batch", n, n);
    c_params(b, m->inputs, m->ninputs);
    c_params(b, m->targets, m->ntargets);
    sb_puts(b, ", float *loss)\n{\n");
    c_array(b, "in", m->inputs, m->ninputs);
    c_array(b, "tg", m->targets, m->ntargets);
    sb_puts(b, "    return rt_instance_train_step((RtInstance *)m, batch, in, tg, loss);\n}\n\n");
}

void cdesc_library(StrBuf *b, const TrainModel *t, const EntryNames *e, const char *header, int64_t horizon)
{
    const RtModel *m = &t->rm;
    const char *n = m->name;
    sb_printf(b, "/* Written by nnc for model '%s': the embedding interface over the runtime. */\n", n);
    sb_printf(b, "#include \"nnc_runtime.h\"\n#include \"%s\"\n\n", header);
    c_model(b, m, e);
    sb_printf(b, "%s *%s_create(uint64_t seed)\n{\n    return (%s *)rt_instance_create(&model, seed, %lld);\n}\n\n", n, n,
              n, (long long)horizon);
    sb_printf(b, "void %s_destroy(%s *m) { rt_instance_destroy((RtInstance *)m); }\n\n", n, n);
    sb_printf(b, "int %s_load(%s *m, const char *path) { return rt_instance_load((RtInstance *)m, path); }\n\n", n, n);
    sb_printf(b,
              "int %s_load_memory(%s *m, const void *data, size_t size)\n{\n"
              "    return rt_instance_load_memory((RtInstance *)m, data, size);\n}\n\n",
              n, n);
    sb_printf(b, "int %s_save(const %s *m, const char *path) { return rt_instance_save((const RtInstance *)m, path); }\n\n",
              n, n);
    sb_printf(b, "int %s_forward(%s *m, int64_t batch", n, n);
    c_params(b, m->inputs, m->ninputs);
    sb_puts(b, ", float *output)\n{\n");
    c_array(b, "in", m->inputs, m->ninputs);
    sb_puts(b, "    return rt_instance_forward((RtInstance *)m, batch, in, output);\n}\n\n");
    if (!t->forward_only)  /* a forward-only model cannot train */
        c_train_step(b, m);
    if (t->recipe.bpe_vocab) {  /* a text model on bpe tokens: the checkpoint's merges */
        sb_printf(b, "int64_t %s_encode(%s *m, const char *text, int64_t len, int32_t *ids, int64_t cap)\n{\n"
                     "    return rt_instance_encode((RtInstance *)m, text, len, ids, cap);\n}\n\n", n, n);
        sb_printf(b, "int64_t %s_decode(%s *m, const int32_t *ids, int64_t n, char *out, int64_t cap)\n{\n"
                     "    return rt_instance_decode((RtInstance *)m, ids, n, out, cap);\n}\n\n", n, n);
    }
    sb_printf(b, "const char *%s_last_error(const %s *m) { return rt_instance_error((const RtInstance *)m); }\n", n, n);
}

static void upper(StrBuf *b, const char *s)
{
    for (; *s; s++)
        sb_putc(b, (char)toupper((unsigned char)*s));
}

static void shape_of(StrBuf *b, const RtTensorSpec *s)
{
    sb_puts(b, s->dtype == RT_I32 ? "int32" : "f32");
    if (s->rank <= 1)
        return;  /* one value per example */
    sb_putc(b, '[');
    for (int d = 1; d < s->rank; d++)
        sb_printf(b, "%s%lld", d > 1 ? "," : "", (long long)s->shape[d]);
    sb_putc(b, ']');
}

static int64_t per_example(const RtTensorSpec *s)
{
    int64_t n = 1;
    for (int d = 1; d < s->rank; d++)
        n *= s->shape[d];
    return n;
}

/* What a tensor holds, for the #define's comment. */
static void meaning(StrBuf *b, const RtTensorSpec *s, const SemaModel *sm, SemaNodeKind kind)
{
    for (int i = 0; i < sm->nnodes; i++) {
        const SemaNode *n = &sm->nodes[i];
        if (n->kind == kind && strcmp(n->name, s->name) == 0 && n->type.elem == ELEM_INDEX)
            sb_printf(b, ", ids in [0, %lld)", (long long)n->type.classes);
    }
}

static void h_train_step(StrBuf *b, const RtModel *m)
{
    const char *n = m->name;
    sb_printf(b,
              "/* One optimizer step on batch examples (any number; a batch larger than any\n"
              " * before grows the instance's memory), as nnc --jit takes one: *loss (if loss\n"
              " * is not NULL) is the batch's mean loss before the update. */\n"
              "int %s_train_step(%s *m, int64_t batch", n, n);
    c_params(b, m->inputs, m->ninputs);
    c_params(b, m->targets, m->ntargets);
    sb_puts(b, ", float *loss);\n\n");
}

/* Whether -lNAME (NAME: len bytes at name) names a library of the system
 * an application links too: a model named m makes libm.so, and -L DIR -lm
 * would take it for the C math library, or it for the model. */
static bool system_library(const char *name, size_t len)
{
    static const char *const names[] = {"c", "m", "z", "dl", "pthread", "rt", "util", "crypt", "resolv", "gcc_s",
                                        "stdc++", "atomic"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == len && strncmp(names[i], name, len) == 0)
            return true;
    return false;
}

/* How to link what nnc wrote (output, a .so or a .o): by its own name, and
 * -lNAME only for a library named libNAME.so, which -l finds, when NAME is
 * not a system library's. */
static void link_line(StrBuf *b, const char *output, bool shared)
{
    const char *file = path_base(output);
    size_t len = strlen(file);
    if (!shared)
        sb_printf(b, " * Link with %s and the runtime (cc app.c %s $(pkg-config --cflags --libs\n"
                  " * nnc-runtime)).\n", file, file);
    else if (len > 6 && strncmp(file, "lib", 3) == 0 && strcmp(file + len - 3, ".so") == 0
             && !system_library(file + 3, len - 6))
        sb_printf(b, " * Link with %s (cc app.c -L DIR -l%.*s -Wl,-rpath,DIR).\n", file, (int)len - 6, file + 3);
    else
        sb_printf(b, " * Link with %s (cc app.c DIR/%s -Wl,-rpath,DIR).\n", file, file);
}

void cdesc_header(StrBuf *b, const TrainModel *t, const SemaModel *sm, const char *source_name, const char *output,
                  bool shared)
{
    const RtModel *m = &t->rm;
    const RtRecipe *r = &t->recipe;
    const char *n = m->name;
    sb_printf(b, "/* %s.h — the interface of model '%s', written by nnc from %s.\n", n, n, path_base(source_name));
    sb_puts(b, " *\n");
    link_line(b, output, shared);
    sb_printf(b,
              " *\n"
              " * An instance holds the parameters%s and its own scratch\n"
              " * memory.  There is no global state: instances are independent, and each may\n"
              " * be used by one thread at a time (give every thread its own).  Functions\n"
              " * returning int return 0, or -1 with the reason in %s_last_error(); the\n"
              " * library never prints, never exits, and never keeps a pointer you pass.\n"
              " *\n"
              " * Arrays hold `batch` examples one after another, each row-major with the\n"
              " * sizes below.  Inputs must be prepared as the train block's data source\n"
              " * prepares them:\n",
              t->forward_only ? "" : ", the optimizer state", n);
    if (t->forward_only && !sm->train.decl)
        sb_puts(b, " *   as the model's weights expect them (the file has no train block)\n");
    else if (r->data == RT_DATA_MNIST)
        sb_printf(b, " *   %s: pixels as %s (mnist, normalize: %s)\n", m->inputs[0].name,
                  r->normalize == RT_NORM_STANDARD ? "(p / 255 - 0.1307) / 0.3081"
                  : r->normalize == RT_NORM_UNIT ? "p / 255" : "the raw bytes 0..255",
                  r->normalize == RT_NORM_STANDARD ? "standard" : r->normalize == RT_NORM_UNIT ? "unit" : "none");
    else if (r->data == RT_DATA_CSV)
        sb_puts(b, " *   the numbers of a CSV row as they are (csv)\n");
    else if (r->data == RT_DATA_NPZ)
        sb_puts(b, " *   the values of the .npz arrays named after them, as they are (npz)\n");
    else if (r->bpe_vocab)
        sb_printf(b, " *   token ids of byte-level BPE (text, tokenizer: bpe(vocab: %lld)):\n"
                     " *   %s_encode and %s_decode, with the merges a checkpoint keeps\n", (long long)r->bpe_vocab, n, n);
    else
        sb_puts(b, " *   character ids: a character's index in the sorted set of distinct bytes\n"
                   " *   of the training text (text)\n");
    sb_printf(b, " */\n#ifndef ");
    upper(b, n);
    sb_puts(b, "_H\n#define ");
    upper(b, n);
    sb_puts(b, "_H\n\n#include <stddef.h>\n#include <stdint.h>\n\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    sb_puts(b, "/* Values per example. */\n");
    for (int pass = 0; pass < 2; pass++) {
        const RtTensorSpec *list = pass ? m->targets : m->inputs;
        for (int i = 0; i < (pass ? m->ntargets : m->ninputs); i++) {
            sb_puts(b, "#define ");
            upper(b, n);
            sb_putc(b, '_');
            upper(b, list[i].name);
            sb_printf(b, "_SIZE %lld  /* %s '%s': ", (long long)per_example(&list[i]), pass ? "target" : "input",
                      list[i].name);
            shape_of(b, &list[i]);
            meaning(b, &list[i], sm, pass ? SN_TARGET : SN_INPUT);
            sb_puts(b, " */\n");
        }
    }
    sb_puts(b, "#define ");
    upper(b, n);
    sb_printf(b, "_OUTPUT_SIZE %lld  /* the output: f32, %lld per example */\n", (long long)m->predict.output_elems,
              (long long)m->predict.output_elems);
    sb_puts(b, "#define ");
    upper(b, n);
    if (t->forward_only)
        sb_printf(b, "_BATCH %lld  /* the batch the plan was made for (nnc --batch); forward takes any */\n\n",
                  (long long)m->batch);
    else
        sb_printf(b, "_TRAIN_BATCH %lld  /* the train block's batch (nnc --batch); train_step takes any */\n\n",
                  (long long)m->batch);
    sb_printf(b, "typedef struct %s %s;\n\n", n, n);
    sb_printf(b,
              "/* A new instance, its parameters initialised from seed exactly as nnc --jit\n"
              " * --seed SEED starts them.  NULL when out of memory. */\n"
              "%s *%s_create(uint64_t seed);\n\n", n, n);
    sb_printf(b, "/* Frees an instance; NULL is allowed. */\nvoid %s_destroy(%s *m);\n\n", n, n);
    sb_printf(b,
              "/* Parameters (and, when the file has them, optimizer state and step) from a\n"
              " * safetensors checkpoint, as nnc --save writes.  A checkpoint of another model\n"
              " * or with a wrong shape is refused, naming the tensor and both shapes, and the\n"
              " * instance is left as it was. */\n"
              "int %s_load(%s *m, const char *path);\n\n", n, n);
    sb_printf(b,
              "/* The same from a checkpoint's bytes in memory (size bytes at data, e.g.\n"
              " * a file built into the program); data may be freed once it returns. */\n"
              "int %s_load_memory(%s *m, const void *data, size_t size);\n\n", n, n);
    sb_printf(b, "/* Parameters and optimizer state to a safetensors file (written atomically). */\n"
                 "int %s_save(const %s *m, const char *path);\n\n", n, n);
    sb_printf(b,
              "/* The output for batch examples (any number; no dropout): output holds\n"
              " * batch * ");
    upper(b, n);
    sb_printf(b, "_OUTPUT_SIZE floats. */\nint %s_forward(%s *m, int64_t batch", n, n);
    c_params(b, m->inputs, m->ninputs);
    sb_puts(b, ", float *output);\n\n");
    if (t->forward_only)
        sb_puts(b, "/* (A forward-only model: no train_step; it needs a loss and a train block.) */\n\n");
    else
        h_train_step(b, m);
    if (r->bpe_vocab)
        sb_printf(b,
                  "/* Text to token ids and back, by the bpe merges of the checkpoint the last\n"
                  " * %s_load read (nnc --save keeps them in its metadata; %s_save writes\n"
                  " * them again).  encode writes at most cap ids of len bytes of text and\n"
                  " * returns how many there are (more than cap: call again with more room);\n"
                  " * decode writes at most cap bytes (no NUL; a UTF-8 character may span\n"
                  " * tokens) and returns how many the ids spell.  -1 when no merges were\n"
                  " * loaded or an id is not in [0, %lld). */\n"
                  "int64_t %s_encode(%s *m, const char *text, int64_t len, int32_t *ids, int64_t cap);\n"
                  "int64_t %s_decode(%s *m, const int32_t *ids, int64_t n, char *out, int64_t cap);\n\n",
                  n, n, (long long)r->bpe_vocab, n, n, n, n);
    sb_printf(b, "/* Why the last call on m failed (valid until the next call on m). */\n"
                 "const char *%s_last_error(const %s *m);\n\n", n, n);
    sb_puts(b, "#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
}
