/* parser.y — the grammar of .nn files (docs/language.md has it as EBNF).
 *
 * Consumes tokens from lexer.re; produces an AstProgram.  Actions only build
 * nodes.  Newlines are not tokens: every statement starts with a keyword or
 * an identifier followed by '=', which no expression can continue with, so
 * the grammar needs no separators and stays LALR(1) with no conflicts.
 */
%require "3.8"
%define api.pure full
%define api.token.prefix {TOK_}
%define api.location.type {Span}
%define parse.error custom
%define parse.lac full
%define parse.trace false
%locations
%expect 0
%param {ParseCtx *ctx}

%code requires {
#include "parse.h"
}

%code provides {
int yylex(YYSTYPE *lval, YYLTYPE *lloc, ParseCtx *ctx);
}

%code {
#include <string.h>

#include "../util/suggest.h"

/* A span covering the right-hand side; an empty rule gets an empty span at
 * the end of what came before. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                               \
    do {                                                          \
        if (N) {                                                  \
            (Cur).begin = YYRHSLOC(Rhs, 1).begin;                 \
            (Cur).end = YYRHSLOC(Rhs, N).end;                     \
        } else {                                                  \
            (Cur).begin = (Cur).end = YYRHSLOC(Rhs, 0).end;       \
        }                                                         \
    } while (0)

static void yyerror(YYLTYPE *loc, ParseCtx *ctx, const char *msg);
static bool resume_reporting(ParseCtx *ctx, int tok, Span at, bool top);
static AstNode *node(ParseCtx *ctx, AstKind k, Span s) { return ast_new(ctx->arena, k, s); }
static AstNode *level(ParseCtx *ctx, AstNode *n);
static void named_arg_equals(ParseCtx *ctx, Span name, Span eq);
}

%union {
    int64_t     i;
    double      f;
    const char *s;
    AstNode    *node;
    AstList     list;
}

%token <s> IDENT  "identifier"
%token <i> INT    "integer"
%token <f> FLOAT  "number"
%token <s> STRING "string"
%token <s> PATH   "parameter name"
%token MODEL  "'model'"
%token LAYER  "'layer'"
%token TRAIN  "'train'"
%token CONST  "'const'"
%token INPUT  "'input'"
%token TARGET "'target'"
%token OUTPUT "'output'"
%token LOSS   "'loss'"
%token METRIC "'metric'"
%token RETURN "'return'"
%token PARAM  "'param'"
%token TRUE   "'true'"
%token FALSE  "'false'"

%left '+' '-'
%left '*' '/'
%precedence UMINUS

%type <node> decl const_item layer_decl param model_decl model_item layer_item train_decl
%type <node> setting type expr primary arg param_stmt
%type <list> decls const_list params params_opt model_items layer_items settings
%type <list> args args_opt exprs exprs_opt
%type <node> subscript
%type <list> subscripts

%%

program
    : decls                 { ctx->prog->decls = $1.head; }
    ;

decls
    : %empty                    { $$ = (AstList){0}; }
    | decls decl_begins decl    { $$ = ast_list_append($1, $3); }
    | decls decl_begins const_list
        { $$ = $1; if ($3.head) { $$.tail ? ($$.tail->next = $3.head) : ($$.head = $3.head); $$.tail = $3.tail; $$.n += $3.n; } }
    | decls error               { $$ = $1; }
    ;

/* Where a declaration or a statement begins (the lookahead is its first
 * token).  After a syntax error Bison reports nothing until three tokens
 * have been shifted; one that begins its own line there starts afresh
 * (resume_reporting). */
decl_begins
    : %empty    { if (YYRECOVERING() && resume_reporting(ctx, yychar, yylloc, true)) yyerrok; }
    ;

stmt_begins
    : %empty    { if (YYRECOVERING() && resume_reporting(ctx, yychar, yylloc, false)) yyerrok; }
    ;

decl
    : layer_decl
    | model_decl
    | train_decl
    ;

/* const V = 65, T = 64 declares one AST_CONST per name. */
const_list
    : CONST const_item              { $$ = ast_list_one($2); }
    | const_list ',' const_item     { $$ = ast_list_append($1, $3); }
    ;

const_item
    : IDENT '=' expr    { $$ = node(ctx, AST_CONST, @$); $$->def.name = $1; $$->def.name_span = @1; $$->def.value = $3; }
    ;

layer_decl
    : LAYER IDENT '(' params_opt ')' '{' layer_items '}'
        { $$ = node(ctx, AST_LAYER, @$); $$->layer.name = $2; $$->layer.name_span = @2;
          $$->layer.params = $4.head; $$->layer.body = $7.head; }
    ;

params_opt
    : %empty            { $$ = (AstList){0}; }
    | params            { $$ = $1; }
    | params ','        { $$ = $1; }
    ;

params
    : param             { $$ = ast_list_one($1); }
    | params ',' param  { $$ = ast_list_append($1, $3); }
    ;

param
    : IDENT             { $$ = node(ctx, AST_PARAM, @$); $$->def.name = $1; $$->def.name_span = @1; }
    | IDENT ':' expr    { $$ = node(ctx, AST_PARAM, @$); $$->def.name = $1; $$->def.name_span = @1; $$->def.value = $3; }
    ;

layer_items
    : %empty                    { $$ = (AstList){0}; }
    | layer_items stmt_begins layer_item    { $$ = ast_list_append($1, $3); }
    | layer_items error         { $$ = $1; }
    ;

layer_item
    : IDENT '=' expr    { $$ = node(ctx, AST_BIND, @$); $$->def.name = $1; $$->def.name_span = @1; $$->def.value = $3; }
    | RETURN expr       { $$ = node(ctx, AST_RETURN, @$); $$->stmt.value = $2; }
    | param_stmt
    ;

/* param w: f32[3, 2] = normal(0.1) */
param_stmt
    : PARAM IDENT ':' type '=' expr
        { $$ = node(ctx, AST_PARAM_STMT, @$); $$->pdecl.name = $2; $$->pdecl.name_span = @2;
          $$->pdecl.type = $4; $$->pdecl.init = $6; }
    ;

model_decl
    : MODEL IDENT '{' model_items '}'
        { $$ = node(ctx, AST_MODEL, @$); $$->layer.name = $2; $$->layer.name_span = @2; $$->layer.body = $4.head; }
    ;

model_items
    : %empty                    { $$ = (AstList){0}; }
    | model_items stmt_begins model_item    { $$ = ast_list_append($1, $3); }
    | model_items error         { $$ = $1; }
    ;

model_item
    : INPUT IDENT ':' type  { $$ = node(ctx, AST_INPUT, @$); $$->decl.name = $2; $$->decl.name_span = @2; $$->decl.type = $4; }
    | TARGET IDENT ':' type { $$ = node(ctx, AST_TARGET, @$); $$->decl.name = $2; $$->decl.name_span = @2; $$->decl.type = $4; }
    | IDENT '=' expr        { $$ = node(ctx, AST_BIND, @$); $$->def.name = $1; $$->def.name_span = @1; $$->def.value = $3; }
    | OUTPUT expr           { $$ = node(ctx, AST_OUTPUT, @$); $$->stmt.value = $2; }
    | LOSS expr             { $$ = node(ctx, AST_LOSS, @$); $$->stmt.value = $2; }
    | METRIC expr           { $$ = node(ctx, AST_METRIC, @$); $$->stmt.value = $2; }
    | param_stmt
    ;

/* f32[784]   class(10)   token(V)[T] */
type
    : IDENT
        { $$ = node(ctx, AST_TYPE, @$); $$->type.name = $1; $$->type.name_span = @1; }
    | IDENT '[' exprs_opt ']'
        { $$ = node(ctx, AST_TYPE, @$); $$->type.name = $1; $$->type.name_span = @1; $$->type.dims = $3.head; $$->type.has_dims = true; }
    | IDENT '(' expr ')'
        { $$ = node(ctx, AST_TYPE, @$); $$->type.name = $1; $$->type.name_span = @1; $$->type.arg = $3; }
    | IDENT '(' expr ')' '[' exprs_opt ']'
        { $$ = node(ctx, AST_TYPE, @$); $$->type.name = $1; $$->type.name_span = @1; $$->type.arg = $3; $$->type.dims = $6.head; $$->type.has_dims = true; }
    ;

train_decl
    : TRAIN '{' settings '}'    { $$ = node(ctx, AST_TRAIN, @$); $$->train.items = $3.head; }
    ;

settings
    : %empty                { $$ = (AstList){0}; }
    | settings stmt_begins setting  { $$ = ast_list_append($1, $3); }
    | settings error        { $$ = $1; }
    ;

setting
    : IDENT '=' expr        { $$ = node(ctx, AST_SETTING, @$); $$->def.name = $1; $$->def.name_span = @1; $$->def.value = $3; }
    ;

expr
    : expr '+' expr         { $$ = node(ctx, AST_BINARY, @$); $$->binary.op = BIN_ADD; $$->binary.lhs = $1; $$->binary.rhs = $3; $$->binary.op_span = @2; level(ctx, $$); }
    | expr '-' expr         { $$ = node(ctx, AST_BINARY, @$); $$->binary.op = BIN_SUB; $$->binary.lhs = $1; $$->binary.rhs = $3; $$->binary.op_span = @2; level(ctx, $$); }
    | expr '*' expr         { $$ = node(ctx, AST_BINARY, @$); $$->binary.op = BIN_MUL; $$->binary.lhs = $1; $$->binary.rhs = $3; $$->binary.op_span = @2; level(ctx, $$); }
    | expr '/' expr         { $$ = node(ctx, AST_BINARY, @$); $$->binary.op = BIN_DIV; $$->binary.lhs = $1; $$->binary.rhs = $3; $$->binary.op_span = @2; level(ctx, $$); }
    | '-' expr %prec UMINUS { $$ = node(ctx, AST_NEG, @$); $$->unary.operand = $2; level(ctx, $$); }
    | primary
    ;

primary
    : INT                   { $$ = node(ctx, AST_INT, @$); $$->i = $1; }
    | FLOAT                 { $$ = node(ctx, AST_FLOAT, @$); $$->f = $1; }
    | STRING                { $$ = node(ctx, AST_STRING, @$); $$->str.text = $1; }
    | TRUE                  { $$ = node(ctx, AST_BOOL, @$); $$->b = true; }
    | FALSE                 { $$ = node(ctx, AST_BOOL, @$); $$->b = false; }
    | IDENT                 { $$ = node(ctx, AST_NAME, @$); $$->name.id = $1; }
    | PATH                  { $$ = node(ctx, AST_NAME, @$); $$->name.id = $1; }
    | IDENT '(' args_opt ')'
        { $$ = node(ctx, AST_CALL, @$); $$->call.callee = $1; $$->call.callee_span = @1; $$->call.args = $3.head; $$->call.nargs = $3.n; level(ctx, $$); }
    | '(' expr ')'          { $$ = $2; $$->span = @$; }
    | '[' exprs_opt ']'     { $$ = node(ctx, AST_LIST, @$); $$->list.items = $2.head; $$->list.n = $2.n; level(ctx, $$); }
    | primary '[' subscripts ']'
        { $$ = node(ctx, AST_INDEX, @$); $$->index.base = $1; $$->index.items = $3.head; $$->index.n = $3.n; level(ctx, $$); }
    ;

/* x[i] (an index: the axis goes), x[a:b] (a range: the axis stays), x[:, 0] */
subscripts
    : subscript                 { $$ = ast_list_one($1); }
    | subscripts ',' subscript  { $$ = ast_list_append($1, $3); }
    ;

subscript
    : expr                  { $$ = $1; }
    | ':'                   { $$ = node(ctx, AST_RANGE, @$); }
    | expr ':'              { $$ = node(ctx, AST_RANGE, @$); $$->range.lo = $1; level(ctx, $$); }
    | ':' expr              { $$ = node(ctx, AST_RANGE, @$); $$->range.hi = $2; level(ctx, $$); }
    | expr ':' expr         { $$ = node(ctx, AST_RANGE, @$); $$->range.lo = $1; $$->range.hi = $3; level(ctx, $$); }

args_opt
    : %empty            { $$ = (AstList){0}; }
    | args              { $$ = $1; }
    | args ','          { $$ = $1; }
    ;

args
    : arg               { $$ = ast_list_one($1); }
    | args ',' arg      { $$ = ast_list_append($1, $3); }
    ;

/* "units = 8", Python's named argument, is an error (named_arg_equals) that
 * parses on as "units: 8": the call's later arguments, often written the
 * same way on the lines after, are read as arguments and not as statements. */
arg
    : expr              { $$ = node(ctx, AST_ARG, @$); $$->arg.value = $1; $$->depth = $1->depth; }
    | IDENT ':' expr    { $$ = node(ctx, AST_ARG, @$); $$->arg.name = $1; $$->arg.name_span = @1; $$->arg.value = $3; $$->depth = $3->depth; }
    | IDENT '='         { named_arg_equals(ctx, @1, @2); }
      expr              { $$ = node(ctx, AST_ARG, @$); $$->arg.name = $1; $$->arg.name_span = @1; $$->arg.value = $4; $$->depth = $4->depth; }
    ;

exprs_opt
    : %empty            { $$ = (AstList){0}; }
    | exprs             { $$ = $1; }
    | exprs ','         { $$ = $1; }
    ;

exprs
    : expr              { $$ = ast_list_one($1); }
    | exprs ',' expr    { $$ = ast_list_append($1, $3); }
    ;

%%

/* Sets n's depth from its children's; the level that first passes
 * AST_MAX_DEPTH is an error (once: the levels above it are deeper still,
 * and a tree with errors goes no further than the parser). */
static AstNode *level(ParseCtx *ctx, AstNode *n)
{
    n->depth = ast_depth(n);
    if (n->depth == AST_MAX_DEPTH + 1) {
        ctx->errors++;
        diag_error(ctx->diag, ast_level_span(n), "expression nested too deeply: more than %d levels of " AST_LEVELS_OF,
                   AST_MAX_DEPTH);
    }
    return n;
}

/* Whether the token tok at `at`, the first of a declaration (top) or of a
 * statement, ends the recovery from a syntax error before it.  Bison stays
 * silent until it has shifted three tokens after an error, which hid a
 * mistake early in the next statement ("h = dense(x 8)" then "g = = h":
 * one message).  A token that begins its line and can only begin a
 * statement -- a statement keyword, or a name and '=' -- is where the one
 * before has ended, whatever brackets that one left open: those are
 * forgotten, so that later notes point at brackets of the statement they
 * are in.  At the top level a declaration keyword at the start of a line. */
static bool resume_reporting(ParseCtx *ctx, int tok, Span at, bool top)
{
    Lexer *lx = &ctx->lex;
    const char *src = lx->src->text;
    const char *p = src + at.begin;
    while (p > src && (p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\r' || p[-1] == '\f' || p[-1] == '\v'))
        p--;
    if (p > src && p[-1] != '\n')
        return false;
    bool begins;
    if (top) {
        begins = tok == TOK_MODEL || tok == TOK_LAYER || tok == TOK_TRAIN || tok == TOK_CONST;
    } else if (tok == TOK_IDENT) {
        const char *q = src + at.end;
        while (*q == ' ' || *q == '\t')
            q++;
        begins = q[0] == '=' && q[1] != '=';
    } else {
        begins = tok == TOK_INPUT || tok == TOK_TARGET || tok == TOK_PARAM || tok == TOK_OUTPUT || tok == TOK_LOSS
              || tok == TOK_METRIC || tok == TOK_RETURN;
    }
    if (!begins)
        return false;
    int keep = 0;  /* the brackets outside it: none at the top level, else up to its body's '{' */
    if (!top) {
        keep = lx->depth < LEX_MAX_NESTING ? lx->depth : LEX_MAX_NESTING;
        while (keep > 0 && lx->open_ch[keep - 1] != '{')
            keep--;
    }
    if (top || keep > 0)  /* no '{' left: a stray '}' closed it, and nothing here is sure */
        lx->depth = keep;
    if (top)
        lx->decl = tok;
    return true;
}

/* Bison calls this only for "memory exhausted": nesting beyond its stack. */
static void yyerror(YYLTYPE *loc, ParseCtx *ctx, const char *msg)
{
    ctx->errors++;
    if (strstr(msg, "exhausted"))
        diag_error(ctx->diag, *loc, "expression nested too deeply");
    else
        diag_error(ctx->diag, *loc, "%s", msg);
}

/* Tokens that can begin an expression: they collapse into one word. */
static bool starts_expr(yysymbol_kind_t s)
{
    static const char *const starters[] = {"identifier", "parameter name", "integer", "number", "string",
                                           "'true'", "'false'", "'('", "'['", "'-'"};
    for (size_t i = 0; i < sizeof starters / sizeof *starters; i++)
        if (strcmp(yysymbol_name(s), starters[i]) == 0)
            return true;
    return false;
}

static bool is_closer(yysymbol_kind_t s)
{
    const char *n = yysymbol_name(s);
    return strcmp(n, "')'") == 0 || strcmp(n, "']'") == 0 || strcmp(n, "'}'") == 0;
}

/* Tokens that would continue an expression already complete: listing them
 * in "expected ..." is noise unless they are all there is. */
static bool continues_expr(yysymbol_kind_t s)
{
    const char *n = yysymbol_name(s);
    return strcmp(n, "'+'") == 0 || strcmp(n, "'-'") == 0 || strcmp(n, "'*'") == 0
        || strcmp(n, "'/'") == 0 || strcmp(n, "'('") == 0 || strcmp(n, "'['") == 0;
}

static void describe_token(StrBuf *sb, ParseCtx *ctx, yysymbol_kind_t sym, Span at, bool want_ident)
{
    const char *text = ctx->lex.src->text + at.begin;
    int n = (int)(at.end - at.begin) > 40 ? 40 : (int)(at.end - at.begin);
    switch (sym) {
    case YYSYMBOL_YYEOF: sb_puts(sb, "end of file"); break;
    case YYSYMBOL_IDENT: sb_printf(sb, "identifier '%.*s'", n, text); break;
    case YYSYMBOL_INT: sb_printf(sb, "integer %.*s", n, text); break;
    case YYSYMBOL_FLOAT: sb_printf(sb, "number %.*s", n, text); break;
    case YYSYMBOL_STRING: sb_printf(sb, "string %.*s", n, text); break;
    case YYSYMBOL_PATH: sb_printf(sb, "parameter name '%.*s'", n, text); break;
    default:
        if (want_ident && sym >= YYSYMBOL_MODEL && sym <= YYSYMBOL_FALSE)
            sb_printf(sb, "reserved word %s", yysymbol_name(sym));
        else
            sb_puts(sb, yysymbol_name(sym));
        break;
    }
}

static bool is_toplevel_keyword(yysymbol_kind_t s)
{
    return s == YYSYMBOL_MODEL || s == YYSYMBOL_LAYER || s == YYSYMBOL_TRAIN || s == YYSYMBOL_CONST;
}

static uint32_t line_of(ParseCtx *ctx, uint32_t off)
{
    uint32_t line, col;
    source_linecol(ctx->lex.src, off, &line, &col);
    return line;
}

/* The value written after the '=' at eq, for a note that shows it without
 * the '=': up to the ',' or ')' that ends an argument (also at the end of
 * its line, the ',' or ')' on the next) or, for a statement (to_line_end),
 * up to the end of the line or its comment.  "..." when it does not end
 * there within 40 characters. */
static void value_after(ParseCtx *ctx, Span eq, bool to_line_end, char value[48])
{
    const char *v = ctx->lex.src->text + eq.end, *e;
    while (*v == ' ' || *v == '\t')
        v++;
    int depth = 0;
    for (e = v; *e && *e != '\n' && *e != '#'; e++) {
        if (*e == '(' || *e == '[')
            depth++;
        else if ((*e == ')' || *e == ']') && depth > 0)
            depth--;
        else if ((*e == ',' || *e == ')') && depth == 0)
            break;
    }
    bool line_end = depth == 0 && (*e == '\n' || *e == '#' || *e == '\0' || *e == '\r');
    bool whole = *e == ',' || *e == ')';  /* else it goes on past the line's end */
    if (to_line_end)
        whole = line_end;
    else if (line_end) {
        const char *q = e;
        while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n' || *q == '#')
            if (*q++ == '#')
                while (*q && *q != '\n')
                    q++;
        whole = *q == ',' || *q == ')';
    }
    while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    Span at = {(uint32_t)(v - ctx->lex.src->text), (uint32_t)(e - ctx->lex.src->text)};
    if (e > v && whole && source_quotable(ctx->lex.src, at, 40))
        snprintf(value, 48, "%.*s", (int)(e - v), v);
    else
        snprintf(value, 48, "...");
}

/* "dense(x, units = 8)": an argument named as in Python.  The grammar
 * takes it as "units: 8" (rule arg) and this says what is wrong, at the
 * '=', so that the rest of the call is read on and its later arguments
 * checked.  "f(x == 2)" is a comparison: the second '=' is the syntax
 * error, where yyreport_syntax_error says so. */
static void named_arg_equals(ParseCtx *ctx, Span name, Span eq)
{
    const char *src = ctx->lex.src->text;
    if (src[eq.end] == '=')
        return;
    ctx->errors++;
    if (ctx->quiet)
        return;
    char value[48];
    value_after(ctx, eq, false, value);
    int n = (int)(name.end - name.begin);
    if (diag_error(ctx->diag, eq, "expected ':' after the argument's name '%.*s', found '='", n, src + name.begin))
        diag_note(ctx->diag, SPAN_NONE, "named arguments are written with ':', as in '%.*s: %s'", n, src + name.begin,
                  value);
}

/* The statement keywords that take an expression: a model's, a layer's. */
static const yysymbol_kind_t model_exprs[] = {YYSYMBOL_OUTPUT, YYSYMBOL_LOSS, YYSYMBOL_METRIC},
                             layer_exprs[] = {YYSYMBOL_RETURN};

static bool takes_expression(yysymbol_kind_t sym)
{
    for (size_t i = 0; i < sizeof model_exprs / sizeof *model_exprs; i++)
        if (model_exprs[i] == sym)
            return true;
    for (size_t i = 0; i < sizeof layer_exprs / sizeof *layer_exprs; i++)
        if (layer_exprs[i] == sym)
            return true;
    return false;
}

/* The word of a keyword's token as it is written in a model: its %token
 * alias without the quotes ("'input'": input), into buf. */
static const char *keyword_word(yysymbol_kind_t sym, char *buf, size_t len)
{
    const char *alias = yysymbol_name(sym);
    snprintf(buf, len, "%.*s", (int)strlen(alias) - 2, alias + 1);
    return buf;
}

/* "ouput logits", "inptu x: f32[10]": a statement keyword misspelt reads as
 * a binding's name, so the parser asks for '='.  When the word is close to a
 * keyword of the body it is in, and what follows is what that keyword takes
 * (a name and ':' for a declaration, an expression for the others), the
 * keyword is the likelier mistake than a missing '=': that keyword's token,
 * else YYSYMBOL_YYEMPTY. */
static yysymbol_kind_t statement_keyword(ParseCtx *ctx, Span word, yysymbol_kind_t next, Span next_at)
{
    const Lexer *lx = &ctx->lex;
    const char *src = lx->src->text;
    int depth = lx->depth;  /* without the next token, when it opens a bracket: ouput (x) */
    if (depth >= 1 && depth <= LEX_MAX_NESTING && lx->open[depth - 1].begin == next_at.begin)
        depth--;
    if (depth != 1 || lx->open_ch[0] != '{' || !(lx->decl == TOK_MODEL || lx->decl == TOK_LAYER))
        return YYSYMBOL_YYEMPTY;
    const char *q = src + next_at.end;
    while (*q == ' ' || *q == '\t')
        q++;
    bool declares = next == YYSYMBOL_IDENT && *q == ':';
    static const yysymbol_kind_t model_decls[] = {YYSYMBOL_INPUT, YYSYMBOL_TARGET, YYSYMBOL_PARAM},
                                 layer_decls[] = {YYSYMBOL_PARAM};
#define KEYWORDS(list) (cands = (list), n = (int)(sizeof(list) / sizeof *(list)))
    const yysymbol_kind_t *cands;
    int n;
    if (declares && lx->decl == TOK_MODEL)
        KEYWORDS(model_decls);
    else if (declares)
        KEYWORDS(layer_decls);
    else if (starts_expr(next) && lx->decl == TOK_MODEL)
        KEYWORDS(model_exprs);
    else if (starts_expr(next))
        KEYWORDS(layer_exprs);
    else
        return YYSYMBOL_YYEMPTY;
#undef KEYWORDS
    char w[48], buf[3][16];
    const char *words[3];
    for (int i = 0; i < n; i++)
        words[i] = keyword_word(cands[i], buf[i], sizeof buf[i]);
    snprintf(w, sizeof w, "%.*s", (int)(word.end - word.begin) > 40 ? 40 : (int)(word.end - word.begin),
             src + word.begin);
    const char *best = suggest_among(w, words, n);
    for (int i = 0; best && i < n; i++)
        if (words[i] == best)
            return cands[i];
    return YYSYMBOL_YYEMPTY;
}

/* "expected ',' or ')', found identifier 'logits'" — with LAC the expected
 * set is exact.  Where an expression may start, its many first tokens read
 * as the one word "expression"; operators that could extend a complete
 * expression are left out; a missing ')' or ']' points back at its opener.
 * When the offending token starts a new line, the mistake is at the end of
 * the line before, so that is where the caret goes. */
static int yyreport_syntax_error(const yypcontext_t *yyctx, ParseCtx *ctx)
{
    ctx->errors++;
    if (ctx->quiet)
        return 0;
    enum { MAX_EXPECTED = 24 };
    yysymbol_kind_t exp[MAX_EXPECTED];
    int n = yypcontext_expected_tokens(yyctx, exp, MAX_EXPECTED);
    yysymbol_kind_t found = yypcontext_token(yyctx);
    Span at = *yypcontext_location(yyctx);
    const char *src = ctx->lex.src->text;
    Span prev = ctx->prev_tok;
    bool has_prev = prev.end > prev.begin;

    bool want_ident = false, want_expr = false, only_continuations = true, closes_args = false;
    bool want_brace = false, want_decl = false;
    for (int i = 0; i < n; i++) {
        const char *name = yysymbol_name(exp[i]);
        want_ident |= exp[i] == YYSYMBOL_IDENT;
        want_expr |= exp[i] == YYSYMBOL_INT;  /* an integer is only ever an expression */
        only_continuations &= continues_expr(exp[i]);
        closes_args |= strcmp(name, "','") == 0;
        want_brace |= strcmp(name, "'}'") == 0;
        want_decl |= exp[i] == YYSYMBOL_YYEOF || is_toplevel_keyword(exp[i]);
    }
    bool keyword = found >= YYSYMBOL_MODEL && found <= YYSYMBOL_FALSE;
    if (keyword && (want_ident || want_expr) && found < 32) {
        /* One misuse of a reserved word is worth one message. */
        if (ctx->misused & (1u << found))
            return 0;
        ctx->misused |= 1u << found;
    }

    const char *names[MAX_EXPECTED];
    yysymbol_kind_t kept[MAX_EXPECTED];
    int k = 0;
    bool missing_brace = want_brace && (is_toplevel_keyword(found) || found == YYSYMBOL_YYEOF);
    if (missing_brace) {
        /* A declaration where a statement should be: the body never closed. */
        kept[k] = exp[0];
        for (int i = 0; i < n; i++)
            if (strcmp(yysymbol_name(exp[i]), "'}'") == 0)
                kept[k] = exp[i];
        names[k++] = "'}'";
    } else {
        if (want_expr) {
            kept[k] = YYSYMBOL_YYEMPTY;
            names[k++] = "expression";
        }
        for (int i = 0; i < n; i++) {
            if (want_expr && starts_expr(exp[i]))
                continue;
            if (!want_expr && !only_continuations && continues_expr(exp[i]))
                continue;
            /* After "f(x" a ':' could make x an argument's name; with ','
             * also possible, mentioning it only confuses.  An '=' there is
             * Python's named argument, read only to say it is wrong. */
            if (closes_args && (strcmp(yysymbol_name(exp[i]), "':'") == 0 || strcmp(yysymbol_name(exp[i]), "'='") == 0))
                continue;
            kept[k] = exp[i];
            names[k++] = yysymbol_name(exp[i]);
        }
    }

    /* The innermost bracket open before the offending token (top, an index
     * of lx->open, or -1): the lexer has already seen that token, which may
     * itself be a bracket, opening one or closing some. */
    Lexer *lx = &ctx->lex;
    int open_before = lx->depth;
    if (open_before >= 1 && open_before <= LEX_MAX_NESTING && lx->open[open_before - 1].begin == at.begin)
        open_before--;
    else if (is_closer(found) && lx->closer.begin == at.begin && lx->closer.end == at.end)
        open_before = lx->closed_from;
    int top = open_before >= 1 && open_before <= LEX_MAX_NESTING ? open_before - 1 : -1;
    char opener = top >= 0 ? lx->open_ch[top] : 0;
    char closer = opener == '(' ? ')' : opener == '[' ? ']' : '}';
    /* "dense(x, 8]": a ')' or ']' where the other kind is open (a '}' there
     * is a body closed with a ')' or ']' missing, said as such below). */
    char found_ch = is_closer(found) ? yysymbol_name(found)[1] : 0;
    bool mismatched = (found_ch == ')' || found_ch == ']') && (opener == '(' || opener == '[') && found_ch != closer;
    bool closer_expected = false;
    for (int i = 0; i < n; i++)
        closer_expected |= is_closer(exp[i]) && yysymbol_name(exp[i])[1] == closer;
    /* The keyword the token before is, if it is one: "param = 2" (a reserved
     * word where a binding's name should be), "const = 4" (the name is what
     * is missing, 'const' is not misused as one), "return = h". */
    int prev_reserved = 0;
    for (int s = YYSYMBOL_MODEL; has_prev && s <= YYSYMBOL_FALSE; s++) {
        char w[16];
        size_t len = strlen(keyword_word((yysymbol_kind_t)s, w, sizeof w));
        if (prev.end - prev.begin == len && strncmp(src + prev.begin, w, len) == 0)
            prev_reserved = s;
    }
    bool const_name = want_ident && prev_reserved == YYSYMBOL_CONST;
    bool takes_expr = takes_expression((yysymbol_kind_t)prev_reserved);

    StrBuf sb = {0};
    /* Between declarations the offending token is itself the mistake;
     * inside one, a token on a new line means the line before is unfinished. */
    bool new_line = has_prev && found != YYSYMBOL_YYEOF && !want_decl
                 && line_of(ctx, at.begin) > line_of(ctx, prev.end);
    Span look = at;  /* the offending token, where the caret may move off it */
    bool want_equals = k == 1 && strcmp(names[0], "'='") == 0 && has_prev;
    if (mismatched && closer_expected) {
        sb_printf(&sb, "expected '%c' to close the '%c', found '%c'", closer, opener, found_ch);
    } else if (mismatched) {
        sb_printf(&sb, "unexpected '%c': the '%c' before it is closed by '%c'", found_ch, opener, closer);
    } else if (const_name) {
        sb_puts(&sb, "expected the constant's name after 'const', found ");
        describe_token(&sb, ctx, found, at, false);
    } else if (want_equals) {
        /* "h = x x": the second x began a statement that needs '='. Point at it. */
        sb_printf(&sb, "expected '=' after '%.*s', found ", (int)(prev.end - prev.begin), src + prev.begin);
        describe_token(&sb, ctx, found, at, false);
        at = prev;
    } else if (k >= 1 && k <= 5 && new_line) {
        sb_puts(&sb, "expected ");
        for (int i = 0; i < k; i++)
            sb_printf(&sb, "%s%s", i == 0 ? "" : i == k - 1 ? " or " : ", ", names[i]);
        sb_printf(&sb, " at the end of the line, before ");
        describe_token(&sb, ctx, found, at, false);
        at = (Span){prev.end, prev.end};
    } else {
        if (n == 0 || k > 5)
            sb_puts(&sb, "unexpected ");
        else {
            sb_puts(&sb, "expected ");
            for (int i = 0; i < k; i++)
                sb_printf(&sb, "%s%s", i == 0 ? "" : i == k - 1 ? " or " : ", ", names[i]);
            sb_puts(&sb, ", found ");
        }
        describe_token(&sb, ctx, found, at, want_ident);
    }
    bool shown = diag_error(ctx->diag, at, "%s", sb_cstr(&sb));
    sb_free(&sb);
    if (!shown)
        return 0;

    if (missing_brace)
        ctx->quiet = true;  /* everything after is misaligned: say no more */

    if (found == YYSYMBOL_RETURN)
        diag_note(ctx->diag, SPAN_NONE, "'return' ends a layer; a model names its result with 'output'");

    /* "a.b = x": a dotted name only ever reads a parameter. */
    if (found == YYSYMBOL_PATH && want_ident)
        diag_note(ctx->diag, SPAN_NONE, "a name with '.' refers to a parameter tensor; a name that is defined has no '.'");

    char value[48];
    if (mismatched || const_name)
        ;  /* said in the message */
    /* "return = h", "loss = mse(p, y)": a statement that takes an expression
     * written as an assignment */
    else if (strcmp(yysymbol_name(found), "'='") == 0 && takes_expr) {
        value_after(ctx, look, true, value);
        int n_kw = (int)(prev.end - prev.begin);
        if (strcmp(value, "...") == 0)
            diag_note(ctx->diag, prev, "'%.*s' takes an expression, not an assignment: write it without '='", n_kw,
                      src + prev.begin);
        else
            diag_note(ctx->diag, prev, "'%.*s' takes an expression, not an assignment: write '%.*s %s'", n_kw,
                      src + prev.begin, n_kw, src + prev.begin, value);
    }
    else if (strcmp(yysymbol_name(found), "'='") == 0 && prev_reserved) {
        diag_note(ctx->diag, prev, "'%.*s' is a reserved word and cannot be a name", (int)(prev.end - prev.begin),
                  src + prev.begin);
        if (prev_reserved < 32)  /* its later uses as a name are this mistake again: "output param" */
            ctx->misused |= 1u << prev_reserved;
    }
    /* "y = x == 2": a comparison, which the language does not have; not a
     * statement cut short (the note below would blame x).  In a call the
     * first '=' was taken for a named argument's (rule arg): "f(x == 2)". */
    else if (strcmp(yysymbol_name(found), "'='") == 0
             && (src[at.end] == '=' || (has_prev && prev.end == at.begin && src[prev.begin] == '=')))
        diag_note(ctx->diag, SPAN_NONE, "nnc has no comparison operators such as '=='");
    /* "dense(x, w.weight = 8)": rule arg takes Python's "units = 8" (named_arg_equals
     * says so), but a dotted name is never an argument's. */
    else if (strcmp(yysymbol_name(found), "'='") == 0 && closes_args && has_prev
             && memchr(src + prev.begin, '.', prev.end - prev.begin)) {
        diag_note(ctx->diag, SPAN_NONE, "an argument's name has no '.': '%.*s' refers to a parameter tensor",
                  (int)(prev.end - prev.begin), src + prev.begin);
        return 0;  /* the '(' is not unclosed: no "to match" note */
    }
    /* "h = x +\n y = 2": the y was read into the expression before it. */
    else if (strcmp(yysymbol_name(found), "'='") == 0 && has_prev && src[prev.begin] != '=')
        diag_note(ctx->diag, prev, "'%.*s' was read as the end of the statement before it; is that statement complete?",
                  (int)(prev.end - prev.begin), src + prev.begin);

    /* "x ** 2": Python's power operator, which nnc spells as a function. */
    if (strcmp(yysymbol_name(found), "'*'") == 0 && has_prev && prev.end - prev.begin == 1 && src[prev.begin] == '*'
        && at.begin == prev.end)
        diag_note(ctx->diag, SPAN_NONE, "nnc has no '**' operator: write pow(x, 2)");

    /* "sgd(lr 0.1)": an argument's name without its ':'. */
    if (closes_args && has_prev && src[prev.begin] != ',' && src[prev.begin] != '('
        && (found == YYSYMBOL_INT || found == YYSYMBOL_FLOAT || found == YYSYMBOL_STRING
            || found == YYSYMBOL_IDENT || found == YYSYMBOL_TRUE || found == YYSYMBOL_FALSE)) {
        char c = src[prev.begin];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
            diag_note(ctx->diag, prev, "is a ',' or a ':' missing after '%.*s'?", (int)(prev.end - prev.begin),
                      src + prev.begin);
    }

    /* "ouput logits": a statement keyword misspelt. */
    yysymbol_kind_t keyword_meant = want_equals && src[prev.begin] != '=' ? statement_keyword(ctx, prev, found, look)
                                                                           : YYSYMBOL_YYEMPTY;
    if (keyword_meant != YYSYMBOL_YYEMPTY)
        diag_note(ctx->diag, SPAN_NONE, "did you mean %s?", yysymbol_name(keyword_meant));  /* its alias: 'input' */

    /* "modle m {": a reserved word misspelt. */
    if (found == YYSYMBOL_IDENT) {
        const char *words[MAX_EXPECTED];
        char buf[MAX_EXPECTED][16];
        int nw = 0;
        for (int i = 0; i < n; i++)
            if (exp[i] >= YYSYMBOL_MODEL && exp[i] <= YYSYMBOL_FALSE)
                words[nw] = keyword_word(exp[i], buf[nw], sizeof buf[nw]), nw++;
        char word[48];
        snprintf(word, sizeof word, "%.*s", (int)(at.end - at.begin) > 40 ? 40 : (int)(at.end - at.begin),
                 src + at.begin);
        const char *best = suggest_among(word, words, nw);
        if (best)
            diag_note(ctx->diag, SPAN_NONE, "did you mean '%s'?", best);
    }

    /* The bracket left open, when its closer is what is wanted. */
    if (top < 0)
        return 0;
    bool expected = mismatched;
    for (int i = 0; i < k; i++)
        expected |= kept[i] != YYSYMBOL_YYEMPTY && is_closer(kept[i]) && yysymbol_name(kept[i])[1] == closer;
    if (expected && (closer != '}' || missing_brace))
        diag_note(ctx->diag, lx->open[top], "to match this '%c'", opener);
    return 0;
}

int parse_source(const Source *src, Arena *a, DiagSink *diag, AstProgram *prog)
{
    ParseCtx ctx = {.arena = a, .diag = diag, .prog = prog};
    ctx.lex.src = src;
    ctx.lex.cur = src->text;
    ctx.lex.lim = src->text + src->len;
    prog->decls = NULL;
    int rc = yyparse(&ctx);
    if (rc != 0 && ctx.errors == 0)
        ctx.errors = 1;  /* aborted without a message: say nothing more, still fail */
    return ctx.errors;
}
