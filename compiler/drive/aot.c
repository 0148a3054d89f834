/* aot.c — see aot.h.
 *
 * An executable is three things linked by the system's C compiler: the
 * generated object (both entries), a small C file that describes the model
 * and recipe as the runtime's structs and whose main() is rt_exe_main, and
 * the static runtime library with its own dependencies (jansson, zlib) linked
 * statically too, so the result needs only libc and libm where it runs.
 *
 * The link happens in a fresh temporary directory and the result is renamed
 * over the output, so an existing file is replaced whole or not at all.
 */
#include "aot.h"

#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../codegen/cg.h"

extern char **environ;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- the model as C --------------------------------------------------------------------- */

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

static const char *const slab_names[] = {"RT_SLAB_NONE", "RT_SLAB_INPUT", "RT_SLAB_PARAM", "RT_SLAB_STATE", "RT_SLAB_ACT"};
static const char *const dtype_names[] = {"RT_F32", "RT_F64", "RT_I32"};
static const char *const init_names[] = {"RT_INIT_UNIFORM_FAN_IN", "RT_INIT_NORMAL", "RT_INIT_ONES", "RT_INIT_ZEROS"};

static void c_specs(StrBuf *b, const char *var, const RtTensorSpec *s, int n)
{
    sb_printf(b, "static RtTensorSpec %s[] = {\n", var);
    for (int i = 0; i < n; i++) {
        sb_puts(b, "    {");
        c_string(b, s[i].name);
        sb_printf(b, ", %s, %lld, %d, {", slab_names[s[i].slab], (long long)s[i].offset, s[i].rank);
        for (int d = 0; d < s[i].rank; d++)
            sb_printf(b, "%s%lld", d ? ", " : "", (long long)s[i].shape[d]);
        sb_printf(b, "}, %s, %s, %lld},\n", dtype_names[s[i].dtype], init_names[s[i].init], (long long)s[i].fan_in);
    }
    if (n == 0)
        sb_puts(b, "    {0},\n");
    sb_puts(b, "};\n");
}

static void c_entry(StrBuf *b, const RtEntry *e, const char *fn)
{
    sb_printf(b, "{.fn = %s, .slab_bytes = {", fn);
    for (int s = 0; s < 5; s++)
        sb_printf(b, "%s%lld", s ? ", " : "", (long long)e->slab_bytes[s]);
    sb_printf(b, "}, .loss = %lld, .nmetrics = %d, .metric_name = {", (long long)e->loss, e->nmetrics);
    for (int k = 0; k < e->nmetrics; k++) {
        sb_puts(b, k ? ", " : "");
        c_string(b, e->metric_name[k]);
    }
    sb_puts(b, "}, .metric = {");
    for (int k = 0; k < e->nmetrics; k++)
        sb_printf(b, "%s%lld", k ? ", " : "", (long long)e->metric[k]);
    sb_printf(b, "}, .output = %lld, .output_last = %lld, .output_elems = %lld}", (long long)e->output,
              (long long)e->output_last, (long long)e->output_elems);
}

/* The C file that makes the object an executable. */
static void describe_in_c(StrBuf *b, const TrainModel *t, const char *model_dir)
{
    const RtModel *m = &t->rm;
    const RtRecipe *r = &t->recipe;
    static const char *const data[] = {"RT_DATA_MNIST", "RT_DATA_CSV", "RT_DATA_TEXT"};
    static const char *const norm[] = {"RT_NORM_NONE", "RT_NORM_UNIT", "RT_NORM_STANDARD"};
    sb_printf(b, "/* Written by nnc for model '%s': its tensors and train block for the runtime. */\n", m->name);
    sb_puts(b, "#include \"nnc_runtime.h\"\n\n");
    sb_printf(b, "void %s(RtCtx *ctx);\nvoid %s(RtCtx *ctx);\n\n", NNC_TRAIN_ENTRY, NNC_EVAL_ENTRY);
    c_specs(b, "params", m->params, m->nparams);
    c_specs(b, "state", m->state, m->nstate);
    c_specs(b, "inputs", m->inputs, m->ninputs);
    c_specs(b, "targets", m->targets, m->ntargets);
    sb_puts(b, "\nstatic const RtModel model = {\n    .name = ");
    c_string(b, m->name);
    sb_puts(b, ", .real = RT_F32,\n    .train = ");
    c_entry(b, &m->train, NNC_TRAIN_ENTRY);
    sb_puts(b, ",\n    .eval = ");
    c_entry(b, &m->eval, NNC_EVAL_ENTRY);
    sb_printf(b, ",\n    .params = params, .nparams = %d, .state = state, .nstate = %d,\n"
                 "    .inputs = inputs, .ninputs = %d, .targets = targets, .ntargets = %d,\n};\n\n",
              m->nparams, m->nstate, m->ninputs, m->ntargets);
    sb_printf(b, "static const RtRecipe recipe = {\n    %s, ", data[r->data]);
    c_string(b, r->path);
    sb_puts(b, ", ");
    c_string(b, r->path2);
    sb_printf(b, ", %s, %d, %lld, %lld, %.17g, %lld,\n", norm[r->normalize], r->header, (long long)r->classes,
              (long long)r->block, r->split, (long long)r->vocab);
    sb_printf(b, "    %lld, %lld, %lld, %lld, %lluu, %.17g, ", (long long)r->batch, (long long)r->epochs,
              (long long)r->steps, (long long)r->eval_every, (unsigned long long)r->seed, r->lr);
    c_string(b, model_dir);
    sb_puts(b, ",\n};\n\nint main(int argc, char **argv) { return rt_exe_main(&model, &recipe, argc, argv); }\n");
}

/* ---- finding the runtime and linking ---------------------------------------------------- */

/* The runtime library and header: beside this nnc in its build tree, or
 * installed under its prefix (bin/../lib/nnc, bin/../include/nnc). */
static int find_runtime(Arena *a, const char **lib, const char **include)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    *slash = 0;
    struct stat st;
    const char *try_lib[2] = {arena_printf(a, "%s/libnncrt.a", self), arena_printf(a, "%s/../lib/nnc/libnncrt.a", self)};
    const char *try_inc[2] = {
#ifdef NNC_SOURCE_DIR
        NNC_SOURCE_DIR "/runtime/include",
#else
        "",
#endif
        arena_printf(a, "%s/../include/nnc", self)};
    for (int i = 0; i < 2; i++)
        if (stat(try_lib[i], &st) == 0 && stat(arena_printf(a, "%s/nnc_runtime.h", try_inc[i]), &st) == 0) {
            *lib = try_lib[i];
            *include = try_inc[i];
            return 0;
        }
    return -1;
}

/* Runs argv; returns its exit status, or -1 when it could not start (errno). */
static int run(char *const argv[])
{
    pid_t pid;
    int e = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (e) {
        errno = e;
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int write_file(const char *path, StrBuf *b)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    size_t len = strlen(sb_cstr(b));
    int bad = fwrite(sb_cstr(b), 1, len, f) != len;
    return fclose(f) != 0 || bad ? -1 : 0;
}

static const char *stem(Arena *a, const char *path, const char *ext)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    int len = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    return arena_printf(a, "%.*s%s", len, base, ext);
}

static void remove_dir(const char *dir, const char *const *files, int n)
{
    char p[PATH_MAX];
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

int nnc_aot(NncFront *f, const AotOptions *o)
{
    FILE *log = o->log;
    Arena *a = &f->arena;
    double t0 = now();
    TrainModel tm;
    int rc = nnc_train_model(f, &o->train, &tm, log);
    if (rc != 0)
        return rc;
    static const char *const ext[] = {"", ".ll", ".s"};
    const char *out = o->output ? o->output : stem(a, f->src.name, ext[o->kind]);
    struct stat in_st, out_st;
    if (stat(f->src.name, &in_st) == 0 && stat(out, &out_st) == 0 && in_st.st_dev == out_st.st_dev
        && in_st.st_ino == out_st.st_ino) {
        fprintf(log, "nnc: error: the output %s is the model file itself; give another with -o\n", out);
        return 1;
    }
    CgEntry entries[2] = {{&tm.step.step.L.g, tm.step.plan, NNC_TRAIN_ENTRY},
                          {&tm.eval.step.L.g, tm.eval.plan, NNC_EVAL_ENTRY}};
    CgOptions co = {.cpu = o->cpu, .opt = 3};
    const char *err = NULL;
    if (o->kind != AOT_EXE) {
        if (cg_emit(entries, 2, &co, o->kind == AOT_LLVM ? CG_FILE_LLVM : CG_FILE_ASM, out, &err) != 0) {
            fprintf(log, "nnc: error: %s\n", err);
            return 1;
        }
        return 0;
    }

    const char *lib, *include;
    if (find_runtime(a, &lib, &include) != 0) {
        fprintf(log, "nnc: error: cannot find the runtime (libnncrt.a and nnc_runtime.h) beside this nnc or under "
                     "its install prefix; an executable needs it\n");
        return 1;
    }
    const char *tmpdir = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
    char *dir = arena_printf(a, "%s/nnc-XXXXXX", tmpdir);
    if (!mkdtemp(dir)) {
        fprintf(log, "nnc: error: cannot make a temporary directory in %s: %s\n", tmpdir, strerror(errno));
        return 1;
    }
    static const char *const files[] = {"model.o", "model.c", "a.out"};
    const char *obj = arena_printf(a, "%s/model.o", dir), *csrc = arena_printf(a, "%s/model.c", dir),
               *exe = arena_printf(a, "%s/a.out", dir);
    const char *slash = strrchr(f->src.name, '/');
    char model_dir[PATH_MAX];
    if (!realpath(slash ? arena_printf(a, "%.*s", (int)(slash - f->src.name), f->src.name) : ".", model_dir))
        snprintf(model_dir, sizeof model_dir, "%s", tm.recipe.model_dir);
    StrBuf c = {0};
    describe_in_c(&c, &tm, model_dir);
    double t1 = now();
    if (cg_emit(entries, 2, &co, CG_FILE_OBJ, obj, &err) != 0) {
        fprintf(log, "nnc: error: %s\n", err);
        rc = 1;
    } else if (write_file(csrc, &c) != 0) {
        fprintf(log, "nnc: error: cannot write %s: %s\n", csrc, strerror(errno));
        rc = 1;
    }
    sb_free(&c);
    double t2 = now();
    if (rc == 0) {
        const char *cc = getenv("CC") && getenv("CC")[0] ? getenv("CC") : "cc";
        char *argv[] = {(char *)cc, "-O2", "-w", "-I", (char *)include, (char *)csrc, (char *)obj, (char *)lib,
                        "-Wl,-Bstatic", "-ljansson", "-lz", "-Wl,-Bdynamic", "-lpthread", "-lm", "-o", (char *)exe,
#ifdef NNC_SANITIZED_RUNTIME
                        "-fsanitize=address,undefined",
#endif
                        NULL};
        int st = run(argv);
        if (st < 0) {
            fprintf(log, "nnc: error: cannot run the C compiler '%s' to link the executable: %s (set CC)\n", cc,
                    strerror(errno));
            rc = 1;
        } else if (st != 0) {
            fprintf(log, "nnc: error: linking the executable with '%s' failed (exit status %d)\n", cc, st);
            rc = 1;
        } else if (rename(exe, out) != 0) {
            /* another file system: copy beside the output, then rename there */
            const char *beside = arena_printf(a, "%s.nnc-tmp", out);
            char *cp[] = {"cp", (char *)exe, (char *)beside, NULL};
            if (run(cp) != 0 || rename(beside, out) != 0) {
                fprintf(log, "nnc: error: cannot write %s: %s\n", out, strerror(errno));
                unlink(beside);
                rc = 1;
            }
        }
    }
    remove_dir(dir, files, 3);
    if (rc == 0 && o->verbose)
        fprintf(log, "compiled in %.1f ms (front end and passes %.1f ms, LLVM %.1f ms, link %.1f ms)\n",
                1e3 * (now() - t0), 1e3 * (t1 - t0), 1e3 * (t2 - t1), 1e3 * (now() - t2));
    return rc;
}
