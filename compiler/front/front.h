/* front.h — the front end as one call: a .nn file in, a checked model out.
 *
 * This is the interface main.c and the tests use; everything it returns
 * lives in the NncFront's arena until nnc_front_free().
 */
#ifndef NNC_FRONT_H
#define NNC_FRONT_H

#include <stdio.h>

#include "../util/arena.h"
#include "../util/diag.h"
#include "../util/strbuf.h"
#include "ast.h"
#include "sema.h"

/* Exit statuses of the nnc command (BRIEF §4). */
typedef enum NncStatus {
    NNC_OK = 0,
    NNC_EINPUT = 1,     /* the input was wrong; diagnostics printed */
    NNC_EUSAGE = 2,     /* bad command line */
    NNC_EINTERNAL = 3,  /* a bug in nnc */
} NncStatus;

typedef struct NncFront {
    Arena      arena;   /* owns everything below */
    Source     src;
    DiagSink   diag;
    AstProgram prog;
    SemaModel *model;   /* NULL unless checking succeeded */
} NncFront;

/* Loads, parses and checks path, reporting to diag_out.  Returns NNC_OK
 * or NNC_EINPUT.  Always call nnc_front_free() afterwards. */
NncStatus nnc_front_file(NncFront *f, const char *path, FILE *diag_out, bool color);
/* The same for text in memory (tests, fuzzing); name appears in messages. */
NncStatus nnc_front_text(NncFront *f, const char *name, const char *text, size_t len, FILE *diag_out);
void      nnc_front_free(NncFront *f);

/* --dump-ir=ast: the tree with locations and inferred types. */
void nnc_dump_ast(StrBuf *out, const NncFront *f);
/* --summary: the table of layers, parameters and FLOPs. */
void nnc_summary(StrBuf *out, const NncFront *f);

/* Whether x is normal once held in f32, the value the code computes with
 * (1.1754943e-38 is below FLT_MIN as a double but rounds to it); a value
 * past FLT_MAX counts as normal here.  The rule of a positive rate or a
 * divisor in a model (sema.c), and of --lr, which stands for the train
 * block's lr. */
bool nnc_f32_is_normal(double x);

#endif
