/* aot.c — see aot.h.
 *
 * An executable is three things linked by the system's C compiler: the
 * generated object (both entries), a small C file that describes the model
 * and recipe as the runtime's structs and whose main() is rt_exe_main, and
 * the static runtime library with its one dependency (zlib, for gzip
 * data) linked statically too, so the result needs only libc and libm where it runs.
 *
 * The link happens in a fresh temporary directory and the result replaces
 * the output as the runtime's checkpoints do (install_file), so an existing
 * file is replaced whole or not at all.
 */
#include "aot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../codegen/cg.h"
#include "../util/path.h"
#include "cdesc.h"
#include "compile.h"

extern char **environ;

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
    struct stat st;
    const char *try_lib[2] = {path_beside(a, self, "libnncrt.a"), path_beside(a, self, "../lib/nnc/libnncrt.a")};
    const char *try_inc[2] = {
#ifdef NNC_SOURCE_DIR
        NNC_SOURCE_DIR "/runtime/include",
#else
        "",
#endif
        path_beside(a, self, "../include/nnc")};
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

static int write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int bad = fwrite(p, 1, n, f) != n;
    return fclose(f) != 0 || bad ? -1 : 0;
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

/* The file at path, to standard output: 0, or -1 with errno. */
static int copy_to_stdout(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char buf[1 << 16];
    size_t n;
    int bad = 0;
    while (!bad && (n = fread(buf, 1, sizeof buf, f)) > 0)
        bad = fwrite(buf, 1, n, stdout) != n;
    bad |= ferror(f) || fflush(stdout) != 0;
    int saved = errno;
    fclose(f);
    errno = saved;
    return bad ? -1 : 0;
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

/* Copies the file at from into fd, with from's permissions (an
 * executable stays one): 0, or -1 with errno set. */
static int copy_into(const char *from, int fd)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (in < 0)
        return -1;
    int rc = fstat(in, &st) == 0 && fchmod(fd, st.st_mode & 0777) == 0 ? 0 : -1;
    char buf[1 << 16];
    while (rc == 0) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -1 : 0;
            break;
        }
        rc = rt_write_all(fd, buf, (size_t)n);
    }
    int saved = errno;
    close(in);
    errno = saved;
    return rc;
}

/* Moves the finished file from the temporary directory over dest, as the
 * runtime replaces a checkpoint (rt_replace_begin): copied into a temporary
 * of its own name made O_EXCL in dest's folder, so that two nnc runs, or a
 * link planted at a name known in advance, cannot meet there, and flushed
 * to disk before the rename over dest (a rename of the finished file onto
 * the temporary would leave rt_replace_end flushing the empty file it
 * replaced); a link at dest stays a link and its target is replaced. */
static int install_file(const char *from, const char *dest, FILE *log)
{
    RtReplace r;
    int ok = rt_replace_begin(&r, dest) == 0;
    if (ok)
        ok = rt_replace_end(&r, copy_into(from, r.fd) == 0) == 0;
    if (!ok)
        fprintf(log, "nnc: error: cannot write '%s': %s\n", dest, strerror(errno));
    return ok ? 0 : 1;
}

/* Runs the C compiler; says what went wrong. */
static int run_cc(char **argv, FILE *log)
{
    int st = run(argv);
    if (st < 0) {
        fprintf(log, "nnc: error: cannot run the C compiler '%s': %s (set CC)\n", argv[0], strerror(errno));
        return 1;
    }
    if (st != 0) {
        fprintf(log, "nnc: error: the C compiler '%s' failed (exit status %d)\n", argv[0], st);
        return 1;
    }
    return 0;
}

/* The generated objects as one, gen: written there, or (compiled in
 * parallel, several) written beside it and merged by the linker (-r). */
static int write_objects(Arena *a, const char *dir, const char *gen, const CgObjects *objs, FILE *log)
{
    if (objs->n == 1) {
        if (write_bytes(gen, objs->obj[0], objs->len[0]) == 0)
            return 0;
        fprintf(log, "nnc: error: cannot write in %s: %s\n", dir, strerror(errno));
        return 1;
    }
    const char *cc = getenv("CC") && getenv("CC")[0] ? getenv("CC") : "cc";
    char *argv[CG_MAX_OBJECTS + 8] = {(char *)cc, "-r", "-nostdlib", "-o", (char *)gen};
    int argc = 5, rc = 0;
    for (int k = 0; k < objs->n; k++) {
        argv[argc] = arena_printf(a, "%s/gen%d.o", dir, k);
        if (rc == 0 && write_bytes(argv[argc], objs->obj[k], objs->len[k]) != 0) {
            fprintf(log, "nnc: error: cannot write in %s: %s\n", dir, strerror(errno));
            rc = 1;
        }
        argc++;
    }
    argv[argc] = NULL;
    if (rc == 0)
        rc = run_cc(argv, log);
    for (int k = 5; k < argc; k++)
        unlink(argv[k]);
    return rc;
}

/* As a trainer checks --save's, before any compiling, where cp or the
 * linker would fail later with their own words ("cp: cannot create regular
 * file", "SONAME must not be empty string"). */
int nnc_check_output(const char *out, bool replaced, FILE *log)
{
    struct stat st;
    size_t len = strlen(out);
    if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(log, "nnc: error: cannot write '%s': it is a directory; give -o a file name in it\n", out);
        return 1;
    }
    if (len && out[len - 1] == '/') {
        fprintf(log, "nnc: error: cannot write '%s': no such directory; give -o a file name\n", out);
        return 1;
    }
    /* a file installed (install_file: replaced) replaces what is there, through
     * links: only a regular file (-o /dev/null would have become one, as root);
     * LLVM's own llvm and asm files are opened and written where they are */
    char why[512];
    if ((replaced && rt_replaceable("cannot write", out, why, sizeof why) != 0)
        || rt_writable_folder("cannot write", out, out, why, sizeof why) != 0) {
        fprintf(log, "nnc: error: %s\n", why);
        return 1;
    }
    return 0;
}

int nnc_aot(NncFront *f, const AotOptions *o)
{
    FILE *log = o->log;
    Arena *a = &f->arena;
    double t0 = clock_now(), c0 = drive_cpu_ms();
    TrainModel tm;
    bool library = o->kind == AOT_SO || o->kind == AOT_OBJ;
    /* A model that cannot train still has a forward pass to write (not a trainer). */
    bool forward = !nnc_trainable(f->model) && o->kind != AOT_EXE;
    /* every trainer runs under mpirun too (docs/distributed.md): its step has
     * the allreduce nodes, which alone copy a gradient or, mostly, nothing */
    TrainOverrides ov = o->train;
    if (o->kind == AOT_EXE)
        ov.distributed = true;
    int rc = forward ? nnc_forward_model(f, o->train.batch, &tm, log) : nnc_train_model(f, &ov, &tm, log);
    if (rc != 0)
        return rc;
    if (library && !forward && (rc = nnc_train_model_predict(f, &tm, log)) != 0)
        return rc;
    /* a trainer of a text model samples with a key/value cache when the model has a decode entry */
    if (o->kind == AOT_EXE && tm.recipe.data == RT_DATA_TEXT && (rc = nnc_train_model_decode(f, &tm, log)) != 0)
        return rc;
    bool decode = o->kind == AOT_EXE && tm.rm.decode.block > 0;
    const char *name = tm.rm.name;
    const char *out = o->output;
    if (!out) {
        switch (o->kind) {
        case AOT_EXE: out = nnc_output_stem(a, f->src.name, name, ""); break;
        case AOT_LLVM: out = nnc_output_stem(a, f->src.name, name, ".ll"); break;
        case AOT_ASM: out = nnc_output_stem(a, f->src.name, name, ".s"); break;
        case AOT_SO: out = arena_printf(a, "lib%s.so", name); break;
        case AOT_OBJ: out = arena_printf(a, "%s.o", name); break;
        }
    }
    const char *header = library ? path_beside(a, out, arena_printf(a, "%s.h", name)) : NULL;
    if (nnc_is_model_file(f, out) || (header && nnc_is_model_file(f, header))) {
        fprintf(log, "nnc: error: the output %s is the model file itself; give another with -o\n",
                nnc_is_model_file(f, out) ? out : header);
        return 1;
    }
    if (strcmp(out, "-") != 0 && nnc_check_output(out, o->kind != AOT_LLVM && o->kind != AOT_ASM, log) != 0)   /* -: --emit=llvm|asm to standard output */
        return 1;
    /* libraries prefix their entries with the model's name: two models link together */
    EntryNames names = {NNC_TRAIN_ENTRY, NNC_EVAL_ENTRY, NULL, NULL};
    if (library)
        names = (EntryNames){arena_printf(a, "%s__train_step", name), arena_printf(a, "%s__eval", name),
                             arena_printf(a, "%s__predict", name), NULL};
    if (forward)  /* the forward pass alone */
        names = (EntryNames){NULL, NULL, library ? names.predict : NNC_PREDICT_ENTRY, NULL};
    CgEntry all[3] = {{&tm.step.step.L.g, tm.step.plan, names.train, false},
                      {&tm.eval.step.L.g, tm.eval.plan, names.eval, false},
                      {&tm.predict.step.L.g, tm.predict.plan, names.predict, library}};
    CgEntry *entries = forward ? &all[2] : all;
    int nentries = forward ? 1 : library ? 3 : 2;
    if (decode) {  /* a trainer: train, eval, decode */
        names.decode = NNC_DECODE_ENTRY;
        all[2] = (CgEntry){&tm.decode.step.L.g, tm.decode.plan, names.decode, false};
        nentries = 3;
    }
    CgOptions co = {.cpu = o->cpu, .opt = 3};
    const char *err = NULL;
    if (o->kind == AOT_LLVM || o->kind == AOT_ASM) {
        /* -o -: LLVM writes files, so through a temporary one to standard output */
        bool to_stdout = strcmp(out, "-") == 0;
        const char *tmpdir = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
        char *path = to_stdout ? arena_printf(a, "%s/nnc-XXXXXX", tmpdir) : (char *)out;
        int fd = to_stdout ? mkstemp(path) : -1;
        if (to_stdout && fd < 0) {
            fprintf(log, "nnc: error: cannot make a temporary file in %s: %s\n", tmpdir, strerror(errno));
            return 1;
        }
        if (fd >= 0)
            close(fd);
        rc = 0;
        const char *status;
        double te = clock_now(), ce = drive_cpu_ms();
        if (compile_emit(entries, nentries, &co, o->kind == AOT_LLVM ? CG_FILE_LLVM : CG_FILE_ASM, path, !o->no_cache,
                         log, o->verbose, &status, &err) != 0) {
            fprintf(log, "nnc: error: %s\n", err);
            rc = 1;
        } else if (to_stdout && copy_to_stdout(path) != 0) {
            fprintf(log, "nnc: error: cannot write to standard output: %s\n", strerror(errno));
            rc = 1;
        }
        if (to_stdout)
            unlink(path);
        if (rc == 0 && o->verbose)
            compile_say(log, 1e3 * (clock_now() - te), drive_cpu_ms() - ce, status, NULL, 0, NULL, 0);
        return rc;
    }

    /* A schedule over the train block's epochs spans epochs x the training
     * split's batches: a trainer counts them when it reads the data, a
     * library (which reads none) now, from the file a run would read.  It
     * took its epochs for steps: cosine() with epochs = 2 over 64 examples
     * at batch 16 reached a rate of 0 after 2 of its 8 steps.  Counted as
     * the run counts them (rt_total_steps), so a horizon longer than a run
     * may be is refused as the run refuses it. */
    int64_t horizon = 0, examples = 0;
    if (library && !forward) {
        char why[4096] = "";
        /* a schedule reads total_steps, the run's length */
        bool spans = rt_find_counter(&tm.rm, RT_COUNTER_TOTAL_STEPS) && !tm.recipe.steps;
        if (spans && rt_train_examples(&tm.rm, &tm.recipe, &examples, why, sizeof why) != 0) {
            fprintf(log, "nnc: error: the learning-rate schedule spans the train block's %lld epochs, and a library "
                         "counts their steps from the training data: %s; give the train block steps = N instead\n",
                    (long long)tm.recipe.epochs, why);
            return 1;
        }
        /* without a schedule that spans epochs, examples is 0: a horizon of 0, or the train block's steps */
        if (rt_total_steps(tm.recipe.epochs, tm.recipe.steps, tm.recipe.batch, examples, NULL, &horizon, why,
                           sizeof why) != 0) {
            fprintf(log, "nnc: error: the learning-rate schedule spans the train block's %lld epochs: %s\n",
                    (long long)tm.recipe.epochs, why);
            return 1;
        }
    }
    const char *lib, *include;
    if (find_runtime(a, &lib, &include) != 0) {
        fprintf(log, "nnc: error: cannot find the runtime (libnncrt.a and nnc_runtime.h) beside this nnc or under "
                     "its install prefix; it is linked into what nnc writes\n");
        return 1;
    }
    const char *tmpdir = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
    char *dir = arena_printf(a, "%s/nnc-XXXXXX", tmpdir);
    if (!mkdtemp(dir)) {
        fprintf(log, "nnc: error: cannot make a temporary directory in %s: %s\n", tmpdir, strerror(errno));
        return 1;
    }
    static const char *const files[] = {"gen.o", "model.c", "model.h", "model.o", "out"};
    const char *gen = arena_printf(a, "%s/gen.o", dir), *csrc = arena_printf(a, "%s/model.c", dir),
               *hdr = arena_printf(a, "%s/model.h", dir), *cobj = arena_printf(a, "%s/model.o", dir),
               *result = arena_printf(a, "%s/out", dir);
    StrBuf c = {0}, h = {0};
    if (library) {
        cdesc_library(&c, &tm, &names, "model.h", horizon);
        cdesc_header(&h, &tm, f->model, f->src.name, out, o->kind == AOT_SO);  /* its link line names out */
    } else {
        char model_dir[PATH_MAX];
        if (!realpath(path_dir(a, f->src.name), model_dir))
            snprintf(model_dir, sizeof model_dir, "%s", tm.recipe.model_dir);
        cdesc_trainer(&c, &tm, &names, model_dir);
    }
    double t1 = clock_now();
    CompileResult cr = {0};
    if (compile_entries(entries, nentries, &co, !o->no_cache, log, o->verbose, &cr, &err) != 0) {
        fprintf(log, "nnc: error: %s\n", err);
        rc = 1;
    } else if (write_objects(a, dir, gen, &cr.objs, log) != 0) {
        rc = 1;
    } else if (write_file(csrc, &c) != 0 || (library && write_file(hdr, &h) != 0)) {
        fprintf(log, "nnc: error: cannot write in %s: %s\n", dir, strerror(errno));
        rc = 1;
    }
    sb_free(&c);
    sb_free(&h);
    double t2 = clock_now();
    const char *cc = getenv("CC") && getenv("CC")[0] ? getenv("CC") : "cc";
#ifdef NNC_SANITIZED_RUNTIME
#define SAN "-fsanitize=address,undefined",
#else
#define SAN
#endif
    if (rc == 0 && o->kind == AOT_EXE) {
        /* zlib statically too: the trainer needs only libc, libm and libdl (dist.c loads Open MPI) */
        char *argv[] = {(char *)cc, "-O2", "-w", "-I", (char *)include, (char *)csrc, (char *)gen, (char *)lib,
                        "-Wl,-Bstatic", "-lz", "-Wl,-Bdynamic", "-lpthread", "-ldl", "-lm", "-o", (char *)result,
                        SAN NULL};
        rc = run_cc(argv, log);
    } else if (rc == 0 && o->kind == AOT_SO) {
        /* The runtime's symbols stay inside: only the model's functions are
         * exported.  Its SONAME is its file name, so programs linked with
         * -lMODEL record it.  zlib is named for the gzip reader, but a
         * library never calls it and the linker drops it (--as-needed, as
         * Debian's gcc links): the .so needs libc and libm only. */
        char *soname = arena_printf(a, "-Wl,-soname,%s", path_base(out));
        char *argv[] = {(char *)cc, "-shared", "-fPIC", "-O2", "-w", "-I", (char *)include, (char *)csrc, (char *)gen,
                        (char *)lib, soname, "-Wl,--exclude-libs,ALL", "-lz", "-lpthread", "-lm",
                        "-o", (char *)result, SAN NULL};
        rc = run_cc(argv, log);
    } else if (rc == 0) {
        /* one relocatable object: the glue and the generated code; the runtime is linked by the user */
        char *compile[] = {(char *)cc, "-c", "-fPIC", "-O2", "-w", "-I", (char *)include, (char *)csrc,
                           "-o", (char *)cobj, SAN NULL};
        char *merge[] = {(char *)cc, "-r", "-nostdlib", (char *)cobj, (char *)gen, "-o", (char *)result, NULL};
        rc = run_cc(compile, log) || run_cc(merge, log);
    }
#undef SAN
    if (rc == 0)
        rc = install_file(result, out, log);
    if (rc == 0 && library)
        rc = install_file(hdr, header, log);
    remove_dir(dir, files, 5);
    if (rc == 0 && o->verbose)
        compile_say(log, 1e3 * (clock_now() - t0), drive_cpu_ms() - c0, cr.status, &cr, 1e3 * (t1 - t0), "C compiler",
                    1e3 * (clock_now() - t2));
    compile_free(&cr);
    return rc;
}
