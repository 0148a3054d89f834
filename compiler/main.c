/* main.c — the nnc command: options in, exit status out.
 *
 * The only file that reads argv or decides how the process ends.  Library
 * code reports through a DiagSink and returns; this file maps the result to
 * the exit statuses of BRIEF §4: 0 success, 1 wrong input, 2 bad command
 * line, 3 internal error.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <getopt.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/front.h"
#include "ir/print.h"
#include "ir/export.h"
#include "codegen/cg.h"
#include "drive/aot.h"
#include "drive/jit.h"
#include "drive/predict.h"
#include "drive/onnx.h"
#include "drive/compile.h"
#include "drive/gradcheck.h"
#include "drive/model.h"
#include "drive/memcheck.h"
#include "passes/pipeline.h"

#ifndef NNC_VERSION
#define NNC_VERSION "0.0.0"
#endif

static const char usage_text[] =
    "Usage: nnc [OPTION]... FILE.nn\n"
    "Compile a neural network described in FILE.nn (-: standard input).\n"
    "\n"
    "Actions:\n"
    "      --check            parse and check FILE, and plan its memory as --jit\n"
    "                         (or --predict) would; print nothing if it is correct\n"
    "      --summary          print each layer's output shape, parameters and FLOPs\n"
    "      --dump-ir=STAGE    print the program at STAGE: ast (the checked syntax tree),\n"
    "                         ir (forward pass as lowered), grad (the whole training\n"
    "                         step: backward pass and optimizer update appended),\n"
    "                         opt (simplified, common subexpressions merged, dead\n"
    "                         code removed), fused (after fusion), plan (the memory\n"
    "                         plan for any batch, no smaller than --batch's),\n"
    "                         llvm (the generated LLVM IR), asm (machine code),\n"
    "                         decode (--sample's entry: one new position, the\n"
    "                         attention keys and values cached, as lowered)\n"
    "      --dot[=nodes|layers]\n"
    "                         with --dump-ir=ir..plan: the graph for Graphviz, a box\n"
    "                         per node grouped by source line, or per group (layers;\n"
    "                         the default past 600 nodes)\n"
    "      --gradcheck        compare every parameter's gradient with finite\n"
    "                         differences in f64; exit 1 if any differs\n"
    "      --export-step=FILE run one step in the reference interpreter (f32)\n"
    "                         and write parameters, batch, dropout masks, loss\n"
    "                         and gradients to FILE (safetensors), for comparisons\n"
    "      --predict          run the forward pass on the --input values and print\n"
    "                         each example's output on one line (%.7g, spaces)\n"
    "\n"
    "Options:\n"
    "      --batch N          examples per batch (--gradcheck: default 2)\n"
    "      --seed N           seed for parameters and data (default: the train\n"
    "                         block's seed, else 0; --predict and --emit=onnx:\n"
    "                         the train block's, else 1; --gradcheck and\n"
    "                         --export-step: 1, whatever the train block says)\n"
    "      --color=WHEN       colour diagnostics: auto (default), always, never\n"
    "  -h, --help             show this help and exit\n"
    "      --version          show the version and exit\n"
    "\n"
    "Training:\n"
    "      --jit              compile in memory and train as the train block says\n"
    "      --epochs N, --steps N, --lr X, --threads N\n"
    "                         override the train block (threads: default all CPUs)\n"
    "      --data DIR         root of relative data paths (default $NNC_DATA, else .)\n"
    "      --save FILE        write a checkpoint (safetensors) after each evaluation\n"
    "      --load FILE        start from a checkpoint (resumes exactly when it holds\n"
    "                         the optimizer state)\n"
    "      --eval             with --load: evaluate the test split and print metrics\n"
    "      --metrics FILE     append one JSON object per evaluation to FILE (-: stdout)\n"
    "      --chart FILE.svg   draw loss and metrics per evaluation as an SVG picture\n"
    "      --sample TEXT      instead of training, generate text after TEXT (a model\n"
    "                         trained on text(...); use with --load)\n"
    "      --length N, --temperature X\n"
    "                         characters to generate (300; tokens with bpe), softmax\n"
    "                         temperature (1)\n"
    "      --no-kv-cache      sample without the key/value cache: each token\n"
    "                         recomputes the whole window (the same tokens, slower)\n"
    "  -v, --verbose          print compile times, and whether the compile cache held\n"
    "                         the code (hit) or not (miss); with --jit, bpe's learning\n"
    "                         time and bytes per token, and --sample's tokens per\n"
    "                         second\n"
    "      --no-cache         compile without the persistent compile cache\n"
    "                         ($NNC_CACHE_DIR, else $XDG_CACHE_HOME/nnc, else\n"
    "                         ~/.cache/nnc; at most $NNC_CACHE_MAX bytes, 256M)\n"
    "      --distributed      the step that reduces the gradients across MPI ranks,\n"
    "                         for --dump-ir (--jit under mpirun and every trainer\n"
    "                         have it anyway; docs/distributed.md)\n"
    "\n"
    "Predicting (--predict):\n"
    "      --input NAME=VALUES\n"
    "                         an input's values: comma-separated numbers (one\n"
    "                         example, row-major), or a .npy or .csv file of many\n"
    "                         examples; every input the output reads must be\n"
    "                         given (one it does not read is zeros)\n"
    "      --load FILE        the parameters (else initialised from --seed, default\n"
    "                         the train block's seed, or 1)\n"
    "      -o FILE.npy        write the outputs as float32 [examples, ...] instead\n"
    "                         (-o -: the .npy bytes to standard output)\n"
    "      --trace            instead of the outputs, print every binding of the\n"
    "                         model for the first example: FILE:LINE: name: type =\n"
    "                         values (the reference interpreter, f32)\n"
    "      --seed N, --batch N, -v, --no-cache\n"
    "                         as above; --predict refuses any other option\n"
    "\n"
    "Writing files (what nnc FILE.nn does without an action):\n"
    "      --emit=KIND        exe: a native trainer that trains as the train block\n"
    "                         says and takes the training options above (the\n"
    "                         default); so: libMODEL.so and MODEL.h for embedding;\n"
    "                         obj: MODEL.o and MODEL.h, to link with the runtime;\n"
    "                         llvm: the optimized LLVM IR; asm: assembly;\n"
    "                         onnx: the forward pass and its weights as ONNX,\n"
    "                         FILE's stem + .onnx (weights from --load FILE, else\n"
    "                         initialised from --seed)\n"
    "  -o, --output FILE      the file to write (default: FILE's stem, + .ll or .s;\n"
    "                         libMODEL.so; MODEL.o); a header goes beside it;\n"
    "                         -o - writes llvm, asm and onnx to standard output\n"
    "      --target-cpu=NAME  generate code for NAME (e.g. x86-64-v3), not this host\n"
    "      --epochs N, --steps N, --batch N, --lr X, --seed N\n"
    "                         compiled into the trainer (the batch as its default)\n"
    "\n"
    "Exit status: 0 success, 1 errors in the input (or a failed gradient check),\n"
    "2 bad command line, 3 internal compiler error.\n";

/* --dump-ir stages: those of this version, then those later versions add. */
static const char *const stages[] = {"ast", "ir", "grad", "opt", "fused", "plan", "llvm", "asm", "decode"};

enum Action { ACT_NONE, ACT_CHECK, ACT_SUMMARY, ACT_DUMP, ACT_GRADCHECK, ACT_EXPORT, ACT_JIT, ACT_EMIT, ACT_PREDICT };
enum { OPT_CHECK = 256, OPT_SUMMARY, OPT_DUMP_IR, OPT_DOT, OPT_GRADCHECK, OPT_EXPORT, OPT_JIT, OPT_EPOCHS,
       OPT_STEPS, OPT_LR, OPT_THREADS, OPT_SAMPLE, OPT_LENGTH, OPT_TEMPERATURE, OPT_DATA, OPT_SAVE, OPT_LOAD, OPT_EVAL, OPT_METRICS, OPT_CHART, OPT_BATCH, OPT_SEED, OPT_COLOR,
       OPT_VERSION, OPT_EMIT, OPT_TARGET_CPU, OPT_PREDICT, OPT_INPUT, OPT_TRACE, OPT_NO_CACHE, OPT_NO_KV_CACHE,
       OPT_DISTRIBUTED, OPT_COUNT };

/* Which actions take an option, for the actions that refuse what they do
 * not take (--predict, --emit=onnx: their refusals name what they take, from
 * this column); TAKES_ANY: every action takes it, or a rule of its own
 * judges it (an action's flag, --dot, --distributed, --no-kv-cache). */
enum { TAKES_PREDICT = 1 << 0, TAKES_ONNX = 1 << 1, TAKES_ANY = 1 << 2 };

typedef struct NncOption {
    struct option opt;
    unsigned      takes;  /* TAKES_* */
} NncOption;

static const NncOption nnc_options[] = {
    {{"check", no_argument, NULL, OPT_CHECK}, TAKES_ANY},
    {{"summary", no_argument, NULL, OPT_SUMMARY}, TAKES_ANY},
    {{"dump-ir", required_argument, NULL, OPT_DUMP_IR}, TAKES_ANY},
    {{"dot", optional_argument, NULL, OPT_DOT}, TAKES_ANY},
    {{"gradcheck", no_argument, NULL, OPT_GRADCHECK}, TAKES_ANY},
    {{"export-step", required_argument, NULL, OPT_EXPORT}, TAKES_ANY},
    {{"jit", no_argument, NULL, OPT_JIT}, TAKES_ANY},
    {{"predict", no_argument, NULL, OPT_PREDICT}, TAKES_ANY},
    {{"emit", required_argument, NULL, OPT_EMIT}, TAKES_ANY},
    {{"input", required_argument, NULL, OPT_INPUT}, TAKES_PREDICT},
    {{"load", required_argument, NULL, OPT_LOAD}, TAKES_PREDICT | TAKES_ONNX},
    {{"output", required_argument, NULL, 'o'}, TAKES_PREDICT | TAKES_ONNX},
    {{"seed", required_argument, NULL, OPT_SEED}, TAKES_PREDICT | TAKES_ONNX},
    {{"batch", required_argument, NULL, OPT_BATCH}, TAKES_PREDICT},
    {{"trace", no_argument, NULL, OPT_TRACE}, TAKES_PREDICT},
    {{"verbose", no_argument, NULL, 'v'}, TAKES_PREDICT | TAKES_ONNX},
    {{"no-cache", no_argument, NULL, OPT_NO_CACHE}, TAKES_PREDICT},
    {{"epochs", required_argument, NULL, OPT_EPOCHS}, 0},
    {{"steps", required_argument, NULL, OPT_STEPS}, 0},
    {{"lr", required_argument, NULL, OPT_LR}, 0},
    {{"threads", required_argument, NULL, OPT_THREADS}, 0},
    {{"data", required_argument, NULL, OPT_DATA}, 0},
    {{"save", required_argument, NULL, OPT_SAVE}, 0},
    {{"eval", no_argument, NULL, OPT_EVAL}, 0},
    {{"metrics", required_argument, NULL, OPT_METRICS}, 0},
    {{"chart", required_argument, NULL, OPT_CHART}, 0},
    {{"sample", required_argument, NULL, OPT_SAMPLE}, 0},
    {{"length", required_argument, NULL, OPT_LENGTH}, 0},
    {{"temperature", required_argument, NULL, OPT_TEMPERATURE}, 0},
    {{"target-cpu", required_argument, NULL, OPT_TARGET_CPU}, 0},
    {{"no-kv-cache", no_argument, NULL, OPT_NO_KV_CACHE}, TAKES_ANY},
    {{"distributed", no_argument, NULL, OPT_DISTRIBUTED}, TAKES_ANY},
    {{"color", required_argument, NULL, OPT_COLOR}, TAKES_ANY},
    {{"colour", required_argument, NULL, OPT_COLOR}, TAKES_ANY},
    {{"help", no_argument, NULL, 'h'}, TAKES_ANY},
    {{"version", no_argument, NULL, OPT_VERSION}, TAKES_ANY},
};
enum { NOPTIONS = sizeof nnc_options / sizeof *nnc_options };

enum { MAX_INPUTS = 256 };  /* --input options */

typedef struct Options {
    enum Action action;
    int         stage;      /* index into stages[] */
    bool        dot;
    IrDotStyle  dot_style;
    int64_t     batch;      /* 0: not given */
    int64_t     seed;       /* -1: not given */
    int         color;
    const char *file;
    const char *export_path;
    JitOptions  jit;        /* --jit's overrides */
    int         samples;    /* --sample options given (one is taken) */
    AotKind     emit;       /* what --emit writes (the default action: an executable) */
    const char *output;     /* -o */
    const char *cpu;        /* --target-cpu */
    int         verbose;
    const char **inputs;    /* --input NAME=VALUES, in order */
    int         ninputs;
    bool        trace;
    const char *output_predict, *load_predict;  /* -o and --load of --predict */
    bool        onnx;       /* --emit=onnx (action ACT_EMIT) */
    const char *load_onnx;  /* its --load */
    bool        distributed;/* --distributed: the step reduces gradients across MPI ranks */
    int64_t     interp_fail_at; /* NNC_INTERP_FAIL_ALLOC: each reference interpreter's allocation that fails; 0: none */
    bool        given[OPT_COUNT]; /* by getopt's code: the options on the command line */
} Options;

/* Why --distributed, which makes the training step reduce its gradients
 * across MPI ranks, does not go with o's action; NULL when it does. */
static const char *distributed_misfit(const Options *o)
{
    switch (o->action) {  /* every action named: a new one must say where it stands */
    case ACT_JIT:
    case ACT_DUMP:
        return NULL;
    case ACT_EMIT:
        if (o->onnx)
            return "--emit=onnx writes the forward pass, which has no gradients to reduce";
        if (o->emit == AOT_EXE)
            return NULL;
        if (o->emit == AOT_LLVM || o->emit == AOT_ASM)
            return "--emit=llvm and --emit=asm write one process's module (--dump-ir=llvm --distributed prints the step "
                   "that reduces the gradients)";
        return "a library trains in one process";
    case ACT_PREDICT:
        return "--predict runs the forward pass, which has no gradients to reduce";
    case ACT_GRADCHECK:
    case ACT_EXPORT:
        return "--gradcheck and --export-step run one process's step in the interpreter";
    case ACT_NONE:
    case ACT_CHECK:
    case ACT_SUMMARY:
        return "--check and --summary compile no step";
    }
    return NULL;
}

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("nnc: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'nnc --help' for more information.\n", stderr);
    return NNC_EUSAGE;
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_UNDEFINED__)
/* A crash is a bug in nnc, never the user's fault: say so and exit 3.
 * Only async-signal-safe calls here.  (Sanitizer builds keep their own
 * reports, which say more.) */
static void on_crash(int sig)
{
    static const char msg[] =
        "nnc: internal compiler error: the compiler crashed (this is a bug in nnc; "
        "please report it with the input file)\n";
    ssize_t r = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)r;
    (void)sig;
    _exit(NNC_EINTERNAL);
}

static void install_crash_handlers(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        signal(sigs[i], on_crash);
}
#else
static void install_crash_handlers(void) {}
#endif

/* An integer option from lo to hi; false if the text is not one. */
static bool parse_count(const char *text, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* A positive, finite real option; false if the text is not one. */
static bool parse_positive(const char *text, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v > 0) || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static int internal_error(const char *what)
{
    fprintf(stderr, "nnc: internal compiler error: %s (this is a bug in nnc; please report it with the input file)\n",
            what);
    return NNC_EINTERNAL;
}

/* --export-step: the step built once, for the memory estimate and the run. */
static int export_step(const Options *o, NncFront *f)
{
    const SemaModel *m = f->model;
    if (m->loss < 0) {
        fprintf(stderr, "%s: error: --export-step needs a model with a loss, and '%s' has none\n", f->src.name,
                m->name);
        return NNC_EINPUT;
    }
    int64_t batch = o->batch ? o->batch : 2;
    char why[4200];
    if (rt_writable_folder("cannot write", o->export_path, o->export_path, why, sizeof why) != 0) {
        fprintf(stderr, "nnc: error: %s\n", why);  /* before the step runs, as --save's is */
        return NNC_EINPUT;
    }
    NncStep step;
    const char *err = NULL;
    /* f32, training: dropout draws its masks, which are exported too */
    int built = nnc_build_step(m, &f->src, &f->arena, IR_F32, STEP_GRADIENTS, true, &step, &err) == 0;
    if (built && nnc_check_export_memory(f, &step, batch) != 0)
        return NNC_EINPUT;  /* said why */
    if (!built || nnc_export_step(m, &step, batch, o->seed >= 0 ? (uint64_t)o->seed : 1, o->interp_fail_at,
                                  o->export_path, &f->diag, &err) != 0) {
        if (err)  /* else said to the sink: the interpreter ran out of memory */
            fprintf(stderr, "nnc: error: %s\n", err);
        return NNC_EINPUT;
    }
    return NNC_OK;
}

/* Everything after the front end: the IR dumps and the gradient check. */
static int run_ir(const Options *o, NncFront *f, StrBuf *out)
{
    const SemaModel *m = f->model;
    const char *err = NULL;
    if (o->action == ACT_GRADCHECK) {
        GradcheckOptions go = GRADCHECK_DEFAULTS;
        if (o->batch)
            go.batch = o->batch;
        if (o->seed >= 0)
            go.seed = (uint64_t)o->seed;
        go.log = stderr;
        /* a test hook: the note on a long check, after this many seconds (tests/grad/long.sh) */
        const char *note = getenv("NNC_TEST_GRADCHECK_NOTE");
        if (note && *note)
            go.note_after = atof(note);
        go.interp_fail_at = o->interp_fail_at;
        if (m->loss < 0) {
            fprintf(stderr, "%s: error: --gradcheck needs a model with a loss, and '%s' has none\n", f->src.name,
                    m->name);
            return NNC_EINPUT;
        }
        int failed = nnc_gradcheck(f, &go, stdout, &err);
        if (failed == -2)
            return NNC_EINPUT;
        if (failed < 0)
            return internal_error(err);
        return failed ? NNC_EINPUT : NNC_OK;
    }
    if (o->action == ACT_EXPORT)
        return export_step(o, f);
    static const IrStage stage_of[] = {STAGE_IR, STAGE_IR, STAGE_GRAD, STAGE_OPT, STAGE_FUSED, STAGE_PLAN,
                                       STAGE_PLAN, STAGE_PLAN, STAGE_IR};
    IrStage stage = stage_of[o->stage];
    if (strcmp(stages[o->stage], "decode") == 0) {  /* --sample's entry with the key/value cache, as lowered */
        NncCompiled d;
        if (nnc_compile_parts(m, &f->src, &f->arena, IR_F32, STEP_DECODE, false, STAGE_IR, 1, &d, &err) != 0) {
            if (!d.step.L.no_decode)
                return internal_error(err);
            fprintf(stderr, "%s: error: model '%s' has no decode entry: %s\n", f->src.name, m->name, err);
            return NNC_EINPUT;
        }
        ir_print(out, &d.step.L.g);
        return NNC_OK;
    }
    bool llvm = strcmp(stages[o->stage], "llvm") == 0, asm_ = strcmp(stages[o->stage], "asm") == 0;
    int64_t batch = o->batch ? o->batch : m->train.batch ? m->train.batch : 32;
    NncCompiled c;
    /* the plan and what LLVM makes of it: the sizes checked first (a window of 2^62 values wrapped the
     * plan's bytes to 0; LLVM's memory) */
    int fits = llvm || asm_ || stage == STAGE_PLAN ? nnc_compile_checked(f, STEP_TRAIN, true, stage, batch, &c, &err)
                                                   : nnc_compile(m, &f->src, &f->arena, IR_F32, stage, batch, &c, &err);
    if (fits > 0)
        return NNC_EINPUT;
    if (fits < 0)
        return internal_error(err);
    if (llvm || asm_) {
        CgOptions co = {.opt = 3};
        /* llvm: the module as generated; asm: the machine code after O3 (through the compile cache) */
        const char *status;
        double t0 = clock_now(), c0 = drive_cpu_ms();
        if (compile_dump(&(CgEntry){&c.step.L.g, c.plan, m->name, false}, &co, llvm ? CG_DUMP_LLVM : CG_DUMP_ASM,
                         !o->jit.no_cache, stderr, o->verbose, out, &status, &err) != 0)
            return internal_error(err);
        if (o->verbose)
            compile_say(stderr, 1e3 * (clock_now() - t0), drive_cpu_ms() - c0, status, NULL, 0, NULL, 0);
    } else if (o->dot && stage == STAGE_PLAN)
        plan_print_dot(out, &c.step.L.g, c.plan);
    else if (o->dot)
        ir_print_dot(out, &c.step.L.g, o->dot_style);
    else if (stage == STAGE_PLAN)
        plan_print(out, &c.step.L.g, c.plan);
    else
        ir_print(out, &c.step.L.g);
    return NNC_OK;
}

/* "-o", "--seed": an option as a user types it. */
static const char *option_name(const struct option *opt, char *buf, size_t len)
{
    if (opt->val < 128)
        snprintf(buf, len, "-%c", opt->val);
    else
        snprintf(buf, len, "--%s", opt->name);
    return buf;
}

/* What --predict's -o file is also read as, "--input x='x.npy'" or "--load
 * 'ck.safetensors'" (in a static buffer), or NULL. */
static const char *predict_overwrites(const Options *o)
{
    static char what[4200];
    for (int i = 0; i < o->ninputs; i++) {
        const char *eq = strchr(o->inputs[i], '=');
        if (eq && rt_same_file(eq + 1, o->output)) {
            snprintf(what, sizeof what, "--input %.*s='%s'", (int)(eq - o->inputs[i]), o->inputs[i], eq + 1);
            return what;
        }
    }
    if (o->jit.load && rt_same_file(o->jit.load, o->output)) {
        snprintf(what, sizeof what, "--load '%s'", o->jit.load);
        return what;
    }
    return NULL;
}

/* NULL when every option given is one the action marked `takes`
 * (TAKES_PREDICT, TAKES_ONNX) takes, else the refusal, into buf:
 * "--predict takes --input, ... and --no-cache, not --epochs". */
static const char *option_not_taken(const Options *o, unsigned takes, const char *action, char *buf, size_t len)
{
    int bad = 0;   /* the first option given that the action does not take */
    while (bad < NOPTIONS && (!o->given[nnc_options[bad].opt.val] || (nnc_options[bad].takes & (takes | TAKES_ANY))))
        bad++;
    if (bad == NOPTIONS)
        return NULL;
    int ntaken = 0, k = 0;
    for (int i = 0; i < NOPTIONS; i++)
        ntaken += (nnc_options[i].takes & takes) != 0;
    char name[64];
    int n = snprintf(buf, len, "%s takes", action);
    for (int i = 0; i < NOPTIONS && n >= 0 && (size_t)n < len; i++)
        if (nnc_options[i].takes & takes) {
            k++;
            n += snprintf(buf + n, len - (size_t)n, "%s %s", k == 1 ? "" : k == ntaken ? " and" : ",",
                          option_name(&nnc_options[i].opt, name, sizeof name));
        }
    if (n >= 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, ", not %s", option_name(&nnc_options[bad].opt, name, sizeof name));
    return buf;
}

int main(int argc, char **argv)
{
    install_crash_handlers();
    struct option longopts[NOPTIONS + 1] = {{0}};
    for (int i = 0; i < NOPTIONS; i++)
        longopts[i] = nnc_options[i].opt;
    /* colour on a terminal, unless NO_COLOR says otherwise or TERM=dumb cannot show it */
    const char *term = getenv("TERM");
    /* a test hook, read here for the library (tests/jit/memory.sh case 8): each evaluator of the reference
     * interpreter fails its Nth allocation */
    const char *fail = getenv("NNC_INTERP_FAIL_ALLOC");
    Options o = {.seed = -1,
                 .color = isatty(STDERR_FILENO) && !getenv("NO_COLOR") && !(term && strcmp(term, "dumb") == 0),
                 .interp_fail_at = fail ? atoll(fail) : 0};
    static const char *inputs[MAX_INPUTS];
    o.inputs = inputs;
    opterr = 0;  /* we word the messages ourselves */
    int c;
    int li = -1;
    while ((c = getopt_long(argc, argv, ":hvo:", longopts, &li)) != -1) {
        char typed[64];
        const char *twice = c >= 0 && c < OPT_COUNT && o.given[c] && c != OPT_INPUT && c != OPT_SAMPLE
                                ? rt_value_option_typed(longopts, li, c, typed, sizeof typed)
                                : NULL;
        li = -1;
        if (twice)  /* (--input gathers; --sample: rt_sample_options_rule, shared with the trainers) */
            return usage_error("%s is given twice", twice);
        if (c >= 0 && c < OPT_COUNT)
            o.given[c] = true;
        enum Action next = ACT_NONE;
        switch (c) {
        case 'h': fputs(usage_text, stdout); return NNC_OK;
        case OPT_VERSION:
            printf("nnc %s\n", NNC_VERSION);
            return NNC_OK;
        case OPT_CHECK: next = ACT_CHECK; break;
        case OPT_SUMMARY: next = ACT_SUMMARY; break;
        case OPT_GRADCHECK: next = ACT_GRADCHECK; break;
        case OPT_EXPORT:
            next = ACT_EXPORT;
            o.export_path = optarg;
            break;
        case OPT_DUMP_IR: {
            next = ACT_DUMP;
            size_t i = 0;
            while (i < sizeof stages / sizeof *stages && strcmp(optarg, stages[i]) != 0)
                i++;
            o.stage = (int)i;
            if (i < sizeof stages / sizeof *stages)
                break;
            return usage_error("--dump-ir: unknown stage '%s'; stages are ast, ir, grad, opt, fused, plan, llvm, asm, decode",
                               optarg);
        }
        case OPT_DOT:
            o.dot = true;
            if (!optarg)
                o.dot_style = IR_DOT_AUTO;
            else if (strcmp(optarg, "nodes") == 0)
                o.dot_style = IR_DOT_NODES;
            else if (strcmp(optarg, "layers") == 0)
                o.dot_style = IR_DOT_LAYERS;
            else
                return usage_error("--dot: expected nodes or layers, found '%s'", optarg);
            break;
        case OPT_JIT: next = ACT_JIT; break;
        case OPT_PREDICT: next = ACT_PREDICT; break;
        case OPT_INPUT: {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1])
                return usage_error("--input: expected NAME=VALUES (numbers like 1.5,-0.7, or a .npy or .csv file), "
                                   "found '%s'", optarg);
            if (o.ninputs == MAX_INPUTS)
                return usage_error("more than %d --input options", MAX_INPUTS);
            o.inputs[o.ninputs++] = optarg;
            break;
        }
        case OPT_TRACE: o.trace = true; break;
        case OPT_EMIT:
            next = ACT_EMIT;
            o.onnx = false;  /* the last --emit counts */
            if (strcmp(optarg, "exe") == 0)
                o.emit = AOT_EXE;
            else if (strcmp(optarg, "llvm") == 0)
                o.emit = AOT_LLVM;
            else if (strcmp(optarg, "asm") == 0)
                o.emit = AOT_ASM;
            else if (strcmp(optarg, "so") == 0)
                o.emit = AOT_SO;
            else if (strcmp(optarg, "obj") == 0)
                o.emit = AOT_OBJ;
            else if (strcmp(optarg, "onnx") == 0)
                o.onnx = true;
            else
                return usage_error("--emit: unknown kind '%s'; kinds are exe, so, obj, llvm, asm and onnx", optarg);
            break;
        case 'o': o.output = optarg; break;
        case OPT_TARGET_CPU: {
            const char *near = NULL;
            if (!cg_known_cpu(optarg, &near))
                return usage_error("--target-cpu: unknown CPU '%s'%s%s%s; for example x86-64-v3, skylake-avx512, "
                                   "znver4", optarg, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
            o.cpu = optarg;
            break;
        }
        case 'v': o.verbose = 1; break;
        case OPT_NO_CACHE: o.jit.no_cache = 1; break;
        case OPT_NO_KV_CACHE: o.jit.no_kv_cache = 1; break;
        case OPT_DISTRIBUTED: o.distributed = true; break;
        case OPT_EPOCHS:
            if (!parse_count(optarg, 1, RT_MAX_EPOCHS, &o.jit.epochs))
                return usage_error("--epochs: expected an integer from 1 to %d, found '%s'", RT_MAX_EPOCHS, optarg);
            break;
        case OPT_STEPS:
            if (!parse_count(optarg, 1, RT_MAX_STEPS, &o.jit.steps))
                return usage_error("--steps: expected an integer from 1 to %d, found '%s'", RT_MAX_STEPS, optarg);
            break;
        case OPT_THREADS:
            if (!parse_count(optarg, 1, RT_MAX_THREADS, &o.jit.threads))
                return usage_error("--threads: expected an integer from 1 to %d, found '%s'", RT_MAX_THREADS, optarg);
            break;
        case OPT_LR:
            if (!parse_positive(optarg, &o.jit.lr))
                return usage_error("--lr: expected a positive number, found '%s'", optarg);
            /* the rule of an optimizer's lr in the train block (sema.c): the
             * rate is an f32 in the step, where 1e-50 was 0 and trained
             * nothing, and 1e39 was inf */
            if (o.jit.lr > FLT_MAX)
                return usage_error("--lr: %s is too large for f32", optarg);
            if (!nnc_f32_is_normal(o.jit.lr))
                return usage_error("--lr: %s is 0 or subnormal in f32; it must be at least %.9g, the smallest normal f32",
                                   optarg, (double)FLT_MIN);
            break;
        case OPT_DATA: o.jit.data_root = optarg; break;
        case OPT_SAVE: o.jit.save = optarg; break;
        case OPT_LOAD: o.jit.load = optarg; break;
        case OPT_EVAL: o.jit.eval_only = 1; break;
        case OPT_METRICS: o.jit.metrics = optarg; break;
        case OPT_CHART: o.jit.chart = optarg; break;
        case OPT_SAMPLE: o.jit.sample = optarg, o.samples++; break;
        case OPT_LENGTH:
            if (!parse_count(optarg, 1, 1000000, &o.jit.length))
                return usage_error("--length: expected an integer from 1 to 1000000, found '%s'", optarg);
            break;
        case OPT_TEMPERATURE:
            if (!parse_positive(optarg, &o.jit.temperature))
                return usage_error("--temperature: expected a positive number, found '%s'", optarg);
            break;
        case OPT_BATCH:
            if (!parse_count(optarg, 1, RT_MAX_BATCH, &o.batch))
                return usage_error("--batch: expected an integer from 1 to %d, found '%s'", RT_MAX_BATCH, optarg);
            break;
        case OPT_SEED:
            if (!parse_count(optarg, 0, INT64_MAX, &o.seed))
                return usage_error("--seed: expected a non-negative integer, found '%s'", optarg);
            break;
        case OPT_COLOR:
            if (strcmp(optarg, "always") == 0)
                o.color = 1;
            else if (strcmp(optarg, "never") == 0)
                o.color = 0;
            else if (strcmp(optarg, "auto") != 0)
                return usage_error("--color: expected auto, always or never, found '%s'", optarg);
            break;
        case ':': return usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
        if (next != ACT_NONE) {
            if (o.action != ACT_NONE && o.action != next)
                return usage_error("%s", "choose one of --check, --summary, --dump-ir, --gradcheck, --export-step, --jit, "
                                         "--predict and --emit");
            o.action = next;
        }
    }
    if (optind == argc)
        return usage_error("%s", "no input file");
    if (optind + 1 < argc)
        return usage_error("one input file at a time, found '%s' and '%s'%s", argv[optind], argv[optind + 1],
                           optind + 2 < argc ? " and more" : "");
    if (o.action == ACT_NONE)
        o.action = ACT_EMIT;  /* nnc model.nn: a trainer */
    char rule_buf[2 * 4096 + 256];   /* a message may quote two paths */
    const char *not_taken;
    if ((o.ninputs || o.trace) && o.action != ACT_PREDICT)
        return usage_error("%s", "--input and --trace go with --predict");
    /* the reference interpreter's actions and --predict are one process's: under mpirun every rank would run the
     * same (N copies of the predictions, N writers of one -o) */
    static const char *const one_process[] = {[ACT_PREDICT] = "--predict", [ACT_GRADCHECK] = "--gradcheck",
                                              [ACT_EXPORT] = "--export-step"};
    if (o.action < (int)(sizeof one_process / sizeof *one_process) && one_process[o.action] && rt_dist_launched() > 1)
        return usage_error("%s runs in one process, but mpirun started %d; run it without mpirun",
                           one_process[o.action], rt_dist_launched());
    if (o.action == ACT_PREDICT) {
        if (o.output && strcmp(o.output, "-") != 0
            && (strlen(o.output) < 4 || strcmp(o.output + strlen(o.output) - 4, ".npy") != 0))
            return usage_error("-o with --predict writes a .npy file; give a name ending in .npy (or -), found '%s'",
                               o.output);
        if ((not_taken = option_not_taken(&o, TAKES_PREDICT, "--predict", rule_buf, sizeof rule_buf)))
            return usage_error("%s", not_taken);
        const char *over = o.output && strcmp(o.output, "-") != 0 ? predict_overwrites(&o) : NULL;
        if (over)
            return usage_error("-o '%s' and %s are the same file; the predictions would write over what they are "
                               "made from", o.output, over);
        o.output_predict = o.output;
        o.output = NULL;
        o.load_predict = o.jit.load;
        o.jit.load = NULL;
    }
    if (o.action == ACT_EMIT && o.onnx) {
        if ((not_taken = option_not_taken(&o, TAKES_ONNX, "--emit=onnx", rule_buf, sizeof rule_buf)))
            return usage_error("%s", not_taken);
        o.load_onnx = o.jit.load;
        o.jit.load = NULL;
    }
    if (o.output && strcmp(o.output, "-") == 0 && o.action == ACT_EMIT && o.emit != AOT_LLVM && o.emit != AOT_ASM
        && !o.onnx)
        return usage_error("%s", "-o - writes to standard output only with --emit=llvm, --emit=asm, --emit=onnx and "
                                 "--predict; executables, libraries and objects need a file name");
    if ((o.output || o.cpu) && o.action != ACT_EMIT)
        return usage_error("%s", "-o and --target-cpu go with writing a file (the default, or --emit)");
    if (o.jit.epochs && o.jit.steps)
        return usage_error("%s", "give --epochs or --steps, not both");
    if (o.jit.eval_only && !o.jit.load)
        return usage_error("%s", "--eval evaluates a trained model: give it with --load FILE");
    bool training_options = o.jit.threads || o.jit.data_root || o.jit.save || o.jit.load || o.jit.eval_only
                         || o.jit.metrics || o.jit.chart || o.jit.sample || o.jit.length || o.jit.temperature > 0;
    bool compiled_in = o.jit.epochs || o.jit.steps || o.jit.lr > 0;
    const char *sample_rule =
        rt_sample_options_rule(o.jit.sample, o.samples, o.jit.length, o.jit.temperature, o.jit.no_kv_cache);
    if (sample_rule)
        return usage_error("%s", sample_rule);
    unsigned given = (o.jit.save ? RT_OPT_SAVE : 0) | (o.jit.metrics ? RT_OPT_METRICS : 0)
                   | (o.jit.chart ? RT_OPT_CHART : 0) | (o.jit.epochs ? RT_OPT_EPOCHS : 0)
                   | (o.jit.steps ? RT_OPT_STEPS : 0) | (o.jit.lr > 0 ? RT_OPT_LR : 0) | (o.batch ? RT_OPT_BATCH : 0);
    const char *mode_rule = rt_mode_options_rule(o.jit.eval_only, o.jit.sample, given, rule_buf, sizeof rule_buf);
    if (!mode_rule)
        mode_rule = rt_output_files_rule(o.jit.load, o.jit.save, o.jit.metrics, o.jit.chart, rule_buf, sizeof rule_buf);
    if (mode_rule)
        return usage_error("%s", mode_rule);
    if (training_options && o.action != ACT_JIT)
        return usage_error("%s", "--threads, --data, --save, --load, --eval, --metrics, --chart and --sample go with --jit, "
                                 "or with the trainer nnc writes");
    if (compiled_in && o.action != ACT_JIT && o.action != ACT_EMIT)
        return usage_error("%s", "--epochs, --steps and --lr go with --jit, or with writing a trainer");
    const char *not_distributed = o.distributed ? distributed_misfit(&o) : NULL;
    if (not_distributed)
        return usage_error("--distributed goes with --jit, --dump-ir and writing a trainer; %s", not_distributed);
    if (o.dot && !(o.action == ACT_DUMP && o.stage > 0 && o.stage <= 5))
        return usage_error("%s", "--dot goes with --dump-ir=ir, grad, opt, fused or plan");
    o.file = argv[optind];

    NncFront f;
    int st = nnc_front_file(&f, o.file, stderr, o.color);
    if (st == NNC_OK && o.distributed && f.model)
        f.model->train.distributed = true;
    if (st == NNC_OK && o.action == ACT_CHECK) {
        const char *err = NULL;
        int fits = nnc_check_limits(&f, o.batch, &err);
        st = fits > 0 ? NNC_EINPUT : fits < 0 ? internal_error(err) : NNC_OK;
    } else if (st == NNC_OK) {
        StrBuf out = {0};
        if (o.action == ACT_SUMMARY)
            nnc_summary(&out, &f);
        else if (o.action == ACT_DUMP && o.stage == 0)
            nnc_dump_ast(&out, &f);
        else if (o.action == ACT_PREDICT) {
            PredictOptions po = {.inputs = o.inputs, .ninputs = o.ninputs, .load = o.load_predict,
                                 .output = o.output_predict, .seed = o.seed, .batch = o.batch, .trace = o.trace,
                                 .out = stdout, .log = stderr, .no_cache = o.jit.no_cache, .verbose = o.verbose,
                                 .interp_fail_at = o.interp_fail_at};
            st = nnc_predict(&f, &po);
        } else if (o.action == ACT_JIT) {
            o.jit.batch = o.batch;
            o.jit.seed = o.seed;
            o.jit.verbose = o.verbose;
            o.jit.log = stderr;
            st = nnc_jit_train(&f, &o.jit);
        } else if (o.action == ACT_EMIT && o.onnx) {
            OnnxOptions xo = {.output = o.output, .load = o.load_onnx, .seed = o.seed, .verbose = o.verbose,
                              .version = NNC_VERSION, .log = stderr};
            st = nnc_emit_onnx(&f, &xo);
        } else if (o.action == ACT_EMIT) {
            AotOptions ao = {.kind = o.emit, .output = o.output, .cpu = o.cpu, .verbose = o.verbose,
                             .no_cache = o.jit.no_cache, .log = stderr,
                             .train = {.epochs = o.jit.epochs, .steps = o.jit.steps, .batch = o.batch,
                                       .seed = o.seed, .lr = o.jit.lr}};
            st = nnc_aot(&f, &ao);
        }
        else
            st = run_ir(&o, &f, &out);
        fputs(sb_cstr(&out), stdout);
        sb_free(&out);
    }
    nnc_front_free(&f);
    if (fflush(stdout) != 0) {
        perror("nnc: writing output");
        return NNC_EINPUT;
    }
    return st;
}
