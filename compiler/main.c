/* main.c — the nnc command: options in, exit status out.
 *
 * The only file that reads argv or decides how the process ends.  Library
 * code reports through a DiagSink and returns; this file maps the result to
 * the exit statuses of BRIEF §4: 0 success, 1 wrong input, 2 bad command
 * line, 3 internal error.
 */
#include <getopt.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/front.h"

#ifndef NNC_VERSION
#define NNC_VERSION "0.0.0"
#endif

static const char usage_text[] =
    "Usage: nnc [OPTION]... FILE.nn\n"
    "Compile a neural network described in FILE.nn.\n"
    "\n"
    "Actions:\n"
    "      --check            parse and check FILE; print nothing if it is correct\n"
    "      --summary          print each layer's output shape, parameters and FLOPs\n"
    "      --dump-ir=STAGE    print the program at STAGE; this version has: ast\n"
    "\n"
    "Options:\n"
    "      --color=WHEN       colour diagnostics: auto (default), always, never\n"
    "  -h, --help             show this help and exit\n"
    "      --version          show the version and exit\n"
    "\n"
    "Code generation (--jit, --emit) is not in this version yet; see README.md.\n"
    "\n"
    "Exit status: 0 success, 1 errors in the input, 2 bad command line,\n"
    "3 internal compiler error.\n";

/* Stages of --dump-ir that later versions add (BRIEF §4). */
static const char *const later_stages[] = {"ir", "grad", "opt", "fused", "plan", "llvm", "asm"};

enum Action { ACT_NONE, ACT_CHECK, ACT_SUMMARY, ACT_DUMP_AST };
enum { OPT_CHECK = 256, OPT_SUMMARY, OPT_DUMP_IR, OPT_COLOR, OPT_VERSION };

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

int main(int argc, char **argv)
{
    install_crash_handlers();
    static const struct option longopts[] = {
        {"check", no_argument, NULL, OPT_CHECK},
        {"summary", no_argument, NULL, OPT_SUMMARY},
        {"dump-ir", required_argument, NULL, OPT_DUMP_IR},
        {"color", required_argument, NULL, OPT_COLOR},
        {"colour", required_argument, NULL, OPT_COLOR},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    enum Action action = ACT_NONE;
    int color = isatty(STDERR_FILENO) && !getenv("NO_COLOR");
    opterr = 0;  /* we word the messages ourselves */
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        enum Action next = ACT_NONE;
        switch (c) {
        case 'h': fputs(usage_text, stdout); return NNC_OK;
        case OPT_VERSION:
            printf("nnc %s\n", NNC_VERSION);
            return NNC_OK;
        case OPT_CHECK: next = ACT_CHECK; break;
        case OPT_SUMMARY: next = ACT_SUMMARY; break;
        case OPT_DUMP_IR:
            if (strcmp(optarg, "ast") == 0) {
                next = ACT_DUMP_AST;
                break;
            }
            for (size_t i = 0; i < sizeof later_stages / sizeof *later_stages; i++)
                if (strcmp(optarg, later_stages[i]) == 0)
                    return usage_error("--dump-ir=%s: that stage is not in this version yet; it has: ast", optarg);
            return usage_error("--dump-ir: unknown stage '%s'; stages are ast, ir, grad, opt, fused, plan, llvm, asm", optarg);
        case OPT_COLOR:
            if (strcmp(optarg, "always") == 0)
                color = 1;
            else if (strcmp(optarg, "never") == 0)
                color = 0;
            else if (strcmp(optarg, "auto") != 0)
                return usage_error("--color: expected auto, always or never, found '%s'", optarg);
            break;
        case ':': return usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
        if (next != ACT_NONE) {
            if (action != ACT_NONE && action != next)
                return usage_error("%s", "choose one of --check, --summary and --dump-ir");
            action = next;
        }
    }
    if (optind == argc)
        return usage_error("%s", "no input file");
    if (optind + 1 < argc)
        return usage_error("one input file at a time, found '%s' and '%s'%s", argv[optind], argv[optind + 1],
                           optind + 2 < argc ? " and more" : "");
    if (action == ACT_NONE)
        return usage_error("%s", "code generation is not in this version yet; use --check, --summary or --dump-ir=ast");

    NncFront f;
    NncStatus st = nnc_front_file(&f, argv[optind], stderr, color);
    if (st == NNC_OK && action != ACT_CHECK) {
        StrBuf out = {0};
        if (action == ACT_SUMMARY)
            nnc_summary(&out, &f);
        else
            nnc_dump_ast(&out, &f);
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
