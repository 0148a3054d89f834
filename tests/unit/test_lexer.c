/* test_lexer.c — tokens, their spans, and the lexer's own errors. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "parse.h"
#include "parser.h"

/* A lexer over text, with its diagnostics collected in a string. */
typedef struct Lex {
    Arena    a;
    Source   src;
    DiagSink ds;
    FILE    *mem;
    char    *diag;
    size_t   dlen;
    ParseCtx ctx;
} Lex;

static void lex_open(Lex *l, const char *text, size_t len)
{
    arena_init(&l->a);
    source_from_memory(&l->src, &l->a, "t.nn", text, len);
    l->diag = NULL;
    l->mem = open_memstream(&l->diag, &l->dlen);
    diag_init(&l->ds, &l->src, l->mem);
    l->ctx = (ParseCtx){.arena = &l->a, .diag = &l->ds};
    l->ctx.lex.src = &l->src;
    l->ctx.lex.cur = l->src.text;
    l->ctx.lex.lim = l->src.text + l->src.len;
}

static int lex_next(Lex *l, YYLTYPE *loc)
{
    YYSTYPE v;
    return yylex(&v, loc, &l->ctx);
}

/* Closes l; the caller owns and frees the returned diagnostics. */
static char *lex_close(Lex *l)
{
    fclose(l->mem);
    diag_fini(&l->ds);
    arena_free(&l->a);
    return l->diag;
}

/* Lexes text and writes "KIND@begin-end" for each token into out. */
static void lex_all(const char *text, char *out, size_t outlen, char **diag)
{
    Lex l;
    lex_open(&l, text, strlen(text));
    out[0] = '\0';
    for (int guard = 0; guard < 100; guard++) {
        YYLTYPE loc;
        int t = lex_next(&l, &loc);
        char one[64];
        const char *name = t == TOK_YYEOF ? "EOF" : t == TOK_YYerror ? "ERR" : t == TOK_IDENT ? "ID"
                         : t == TOK_INT ? "INT" : t == TOK_FLOAT ? "NUM" : t == TOK_STRING ? "STR"
                         : t == TOK_MODEL ? "model" : t == TOK_LAYER ? "layer" : t == TOK_RETURN ? "return"
                         : t == TOK_PARAM ? "param" : t == TOK_PATH ? "PATH" : NULL;
        if (name)
            snprintf(one, sizeof one, "%s@%u-%u ", name, loc.begin, loc.end);
        else
            snprintf(one, sizeof one, "'%c'@%u-%u ", t, loc.begin, loc.end);
        strncat(out, one, outlen - strlen(out) - 1);
        if (t == TOK_YYEOF)
            break;
    }
    *diag = lex_close(&l);
}

static void test_tokens(void)
{
    char out[1024], *diag;
    lex_all("model m { x = dense(a, 10) }", out, sizeof out, &diag);
    ASSERT_STR(out, "model@0-5 ID@6-7 '{'@8-9 ID@10-11 '='@12-13 ID@14-19 '('@19-20 ID@20-21 "
                    "','@21-22 INT@23-25 ')'@25-26 '}'@27-28 EOF@28-28 ");
    ASSERT_STR(diag, "");
    free(diag);
}

static void test_numbers(void)
{
    char out[1024], *diag;
    lex_all("1 1.5 1e-3 2E+4 .5 7. 12abc", out, sizeof out, &diag);
    ASSERT_STR(out, "INT@0-1 NUM@2-5 NUM@6-10 NUM@11-15 NUM@16-18 NUM@19-21 INT@22-24 ID@24-27 EOF@27-27 ");
    free(diag);
}

static void test_comments_and_keywords(void)
{
    char out[1024], *diag;
    lex_all("# a comment\nlayer # another\nreturn layers models", out, sizeof out, &diag);
    ASSERT_STR(out, "layer@12-17 return@28-34 ID@35-41 ID@42-48 EOF@48-48 ");
    free(diag);
}

/* 'param' is reserved; a dotted name is one token (a parameter's name),
 * numbers keep their dots, and a dot with nothing after it is no token. */
static void test_param_tokens(void)
{
    char out[1024], *diag;
    lex_all("param params embed.weight blocks.0.attn.query.weight x.5 1.5 .5 a.", out, sizeof out, &diag);
    ASSERT_STR(out, "param@0-5 ID@6-12 PATH@13-25 PATH@26-52 PATH@53-56 NUM@57-60 NUM@61-63 ID@64-65 "
                    "ERR@65-66 EOF@66-66 ");
    ASSERT_STR(diag, "t.nn:1:66: error: unexpected character '.'\n"
                     "    1 | param params embed.weight blocks.0.attn.query.weight x.5 1.5 .5 a.\n"
                     "      |                                                                  ^\n");
    free(diag);
}

static void test_strings(void)
{
    char out[1024], *diag;
    lex_all("\"a\\\"b\\n\" \"\"", out, sizeof out, &diag);
    ASSERT_STR(out, "STR@0-8 STR@9-11 EOF@11-11 ");
    ASSERT_STR(diag, "");
    free(diag);
}

static void test_errors(void)
{
    char out[1024], *diag;
    lex_all("a @ b", out, sizeof out, &diag);
    ASSERT_STR(out, "ID@0-1 ERR@2-3 ID@4-5 EOF@5-5 ");
    ASSERT_STR(diag, "t.nn:1:3: error: unexpected character '@'\n"
                     "    1 | a @ b\n"
                     "      |   ^\n");
    free(diag);

    lex_all("x = \"abc\ny", out, sizeof out, &diag);
    ASSERT_STR(out, "ID@0-1 '='@2-3 ERR@4-8 ID@9-10 EOF@10-10 ");
    ASSERT_STR(diag, "t.nn:1:5: error: missing closing '\"' in string\n"
                     "    1 | x = \"abc\n"
                     "      |     ^\n");
    free(diag);

    lex_all("99999999999999999999", out, sizeof out, &diag);
    ASSERT_STR(first_error(&(FrontRun){.diag = diag}), "integer literal is too large");
    free(diag);

    lex_all("\"a\\q\"", out, sizeof out, &diag);
    ASSERT_STR(first_error(&(FrontRun){.diag = diag}), "unknown escape sequence '\\q' in string");
    free(diag);

    lex_all("\xc3\xa9t\xc3\xa9", out, sizeof out, &diag);
    ASSERT_STR(out, "ERR@0-2 ID@2-3 ERR@3-5 EOF@5-5 ");
    ASSERT_STR(first_error(&(FrontRun){.diag = diag}),
               "unexpected character 'é' (U+00E9); outside strings and comments only ASCII is allowed");
    free(diag);
}

static void test_embedded_nul(void)
{
    /* A NUL inside the text is a bad byte, not the end of the file. */
    Lex l;
    lex_open(&l, "a\0b", 3);
    YYLTYPE loc;
    CU_ASSERT_EQUAL(lex_next(&l, &loc), TOK_IDENT);
    CU_ASSERT_EQUAL(lex_next(&l, &loc), TOK_YYerror);
    CU_ASSERT_EQUAL(lex_next(&l, &loc), TOK_IDENT);
    CU_ASSERT_EQUAL(lex_next(&l, &loc), TOK_YYEOF);
    free(lex_close(&l));
}

static const TestCase tests[] = {
    {"param and parameter names", test_param_tokens},
    {"tokens and spans", test_tokens},
    {"number literals", test_numbers},
    {"comments and reserved words", test_comments_and_keywords},
    {"string literals", test_strings},
    {"lexical errors", test_errors},
    {"embedded NUL byte", test_embedded_nul},
    {NULL, NULL},
};

void register_lexer(void) { add_suite("lexer", tests); }
