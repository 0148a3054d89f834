/* cg_emit.c — the code as text: --dump-ir=llvm|asm print one graph's
 * modules, cg_emit the entries' for --emit=llvm|asm.
 *
 * Both take cg_parts' path, the one cg_objects takes for the code that
 * runs: the same split into modules, each with its own pipeline and code
 * generation level, so the text is that code.  A dump shows the modules one
 * after another, each under a comment line that says how it was compiled;
 * --emit=asm makes their assembly one file an assembler takes (each
 * module's private labels renamed apart), --emit=llvm links their optimized
 * IR into one module (LLVM renames the internal names that clash).
 */
#include <llvm-c/IRReader.h>
#include <llvm-c/Linker.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_module.h"

static char errbuf[1024];

int cg_dump(const IrGraph *g, const IrPlan *p, const char *name, const CgOptions *o, CgDump what, StrBuf *out,
            const char **err)
{
    CgObjects parts;
    if (cg_parts(&(CgEntry){g, p, name, false}, 1, o, 0, what == CG_DUMP_LLVM ? CG_MAKE_LLVM_DUMP : CG_MAKE_ASM, &parts, NULL,
                 err) != 0)
        return -1;
    for (int k = 0; k < parts.n; k++)
        sb_putn(out, parts.obj[k], parts.len[k]);
    cg_objects_free(&parts);
    return 0;
}

static bool label_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.'
        || ch == '$';
}

/* Module k's assembly with its private labels (.LBB0_1, .LCPI0_0, .Lfunc_end0:
 * numbered per module, so two modules have the same) made .Lm<k>_BB0_1 and
 * so on: one file of all modules assembles. */
static void put_renamed(StrBuf *out, const char *s, size_t n, int k)
{
    for (size_t i = 0; i < n; i++) {
        sb_putn(out, s + i, 1);
        if (s[i] == '.' && i + 2 < n && s[i + 1] == 'L' && label_char(s[i + 2]) && (i == 0 || !label_char(s[i - 1]))) {
            sb_printf(out, "Lm%d_", k);
            i++;
        }
    }
}

/* The optimized modules' IR (cg_parts' texts) linked into one module, printed. */
static int link_llvm(const CgObjects *parts, StrBuf *out, const char **err)
{
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef all = NULL;
    int rc = 0;
    for (int k = 0; k < parts->n && rc == 0; k++) {
        /* the parser takes the buffer; it wants a NUL after the text, which the copy has */
        LLVMMemoryBufferRef mb = LLVMCreateMemoryBufferWithMemoryRangeCopy(parts->obj[k], parts->len[k], "nnc-module");
        LLVMModuleRef mod;
        char *msg = NULL;
        if (LLVMParseIRInContext(ctx, mb, &mod, &msg)) {
            snprintf(errbuf, sizeof errbuf, "reading module %d's LLVM IR back failed: %s", k + 1, msg ? msg : "?");
            *err = errbuf;
            rc = -1;
        } else if (!all)
            all = mod;
        else if (LLVMLinkModules2(all, mod)) {  /* mod is consumed either way */
            snprintf(errbuf, sizeof errbuf, "linking module %d into the others failed", k + 1);
            *err = errbuf;
            rc = -1;
        }
        LLVMDisposeMessage(msg);
    }
    if (rc == 0 && all) {
        char *s = LLVMPrintModuleToString(all);
        sb_puts(out, s);
        LLVMDisposeMessage(s);
    }
    if (all)
        LLVMDisposeModule(all);
    LLVMContextDispose(ctx);
    return rc;
}

int cg_emit(const CgEntry *e, int n, const CgOptions *o, CgFile what, StrBuf *out, const char **err)
{
    CgObjects parts;
    if (cg_parts(e, n, o, 0, what == CG_FILE_ASM ? CG_MAKE_ASM : CG_MAKE_LLVM, &parts, NULL, err) != 0)
        return -1;
    int rc = 0;
    if (what == CG_FILE_ASM) {
        for (int k = 0; k < parts.n; k++)
            put_renamed(out, parts.obj[k], parts.len[k], k + 1);
    } else {
        /* the modules' header lines, then the IR linked (the parser drops comments) */
        for (int k = 0; k < parts.n; k++) {
            const char *s = parts.obj[k], *nl = memchr(s, '\n', parts.len[k]);
            sb_putn(out, s, nl ? (size_t)(nl - s) + 1 : parts.len[k]);
        }
        rc = link_llvm(&parts, out, err);
    }
    cg_objects_free(&parts);
    return rc;
}
