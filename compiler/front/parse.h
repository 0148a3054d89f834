/* parse.h — from source text to an AstProgram.
 *
 * The lexer (lexer.re) and the parser (parser.y) share one context struct;
 * it is the parser's only state, so parsing is reentrant.
 */
#ifndef NNC_PARSE_H
#define NNC_PARSE_H

#include "../util/diag.h"
#include "ast.h"

enum { LEX_MAX_NESTING = 64 };

/* Lexer state: the cursor over the source and the open brackets, which
 * let a syntax error point back at the '(' it failed to close. */
typedef struct Lexer {
    const Source *src;
    const char   *cur;     /* next byte to scan */
    const char   *lim;     /* one past the last byte (a NUL sits there) */
    const char   *tok;     /* start of the current token */
    const char   *marker;  /* re2c's backtracking marker */
    int           depth;   /* open brackets, possibly more than recorded */
    Span          open[LEX_MAX_NESTING];  /* innermost last */
    char          open_ch[LEX_MAX_NESTING];
    Span          closer;  /* the last closing bracket lexed ... */
    int           closed_from; /* ... and depth before it: the brackets open where it stands */
    int           decl;    /* TOK_MODEL, _LAYER, _TRAIN or _CONST last seen outside brackets (0: none):
                              the declaration whose body a statement is in, for "did you mean" */
} Lexer;

typedef struct ParseCtx {
    Arena      *arena;
    DiagSink   *diag;
    Lexer       lex;
    AstProgram *prog;
    int         errors;    /* syntax and lexical errors reported */
    Span        last_tok;  /* span of the most recently lexed token (the lookahead) */
    Span        prev_tok;  /* the token before it */
    bool        quiet;     /* after a missing '}': the rest would only cascade */
    unsigned    misused;   /* reserved words already reported as misused (bit per token) */
    bool        semicolon; /* a ';' was reported: the others are errors without a message */
} ParseCtx;

/* Parses src into prog; returns the number of syntax errors (0: success). */
int parse_source(const Source *src, Arena *a, DiagSink *diag, AstProgram *prog);

#endif
