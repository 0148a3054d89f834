/* lexer.re — tokens of .nn files (re2c).
 *
 * Consumes the source text; produces one token per call for parser.y, with
 * its Span.  All state is in ParseCtx.lex.  Comments run from '#' to the end
 * of the line; newlines are whitespace.  A bad character is reported here and
 * returned as YYerror, so Bison starts recovery without a second message.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h"

/*!re2c
    re2c:api = default;
    re2c:define:YYCTYPE = "unsigned char";
    re2c:define:YYCURSOR = "lx->cur";
    re2c:define:YYMARKER = "lx->marker";
    re2c:define:YYLIMIT = "lx->lim";
    re2c:yyfill:enable = 0;
    re2c:eof = 0;

    digit  = [0-9];
    ident  = [A-Za-z_][A-Za-z0-9_]*;
    int    = digit+;
    exp    = [eE] [+-]? digit+;
    float  = digit+ "." digit* exp? | digit+ exp | "." digit+ exp?;
    /* a parameter's name: embed.weight, blocks.0.attn.query.weight */
    path   = ident ("." [A-Za-z0-9_]+)+;
    ws     = [ \t\r\n\f\v]+;
    comment = "#" [^\n]*;
    /* a string literal: on one line (a backslash before the newline does not
     * carry it on), escapes taken whole */
    string = ["] ([^"\\\n\x00] | [\\][^\n\x00])* ["];
*/

static Span tok_span(const Lexer *lx)
{
    return (Span){(uint32_t)(lx->tok - lx->src->text), (uint32_t)(lx->cur - lx->src->text)};
}

static void push_open(Lexer *lx, char ch, Span at)
{
    if (lx->depth < LEX_MAX_NESTING) {
        lx->open[lx->depth] = at;
        lx->open_ch[lx->depth] = ch;
    }
    lx->depth++;
}

/* A closer closes the innermost opener of its kind and every one opened
 * after it, which it leaves unclosed ("f(x[0)": the '[' too); a closer
 * whose kind is not open closes nothing ("f(x]").  Where it stands, the
 * brackets open are kept for the parser's messages (closer, closed_from). */
static void pop_open(Lexer *lx, char ch, Span at)
{
    char opener = ch == ')' ? '(' : ch == ']' ? '[' : '{';
    lx->closer = at;
    lx->closed_from = lx->depth;
    if (lx->depth > LEX_MAX_NESTING) {  /* past what is recorded: trust it */
        lx->depth--;
        return;
    }
    for (int i = lx->depth - 1; i >= 0; i--)
        if (lx->open_ch[i] == opener) {
            lx->depth = i;
            return;
        }
}

/* Unescapes the body of a string literal into the arena.  Returns NULL and
 * reports when an escape is unknown. */
static const char *lex_string(ParseCtx *ctx, Span at)
{
    const char *s = ctx->lex.src->text + at.begin + 1;
    const char *e = ctx->lex.src->text + at.end - 1;
    char *out = arena_alloc(ctx->arena, (size_t)(e - s) + 1), *o = out;
    for (; s < e; s++) {
        if (*s != '\\') {
            *o++ = *s;
            continue;
        }
        s++;
        switch (*s) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case '\\': *o++ = '\\'; break;
        case '"': *o++ = '"'; break;
        default: {
            uint32_t off = (uint32_t)(s - 1 - ctx->lex.src->text);
            diag_error(ctx->diag, (Span){off, off + 2}, "unknown escape sequence '\\%c' in string",
                       (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?');
            ctx->errors++;
            return NULL;
        }
        }
    }
    *o = '\0';
    return out;
}

/* Where the lexer goes on after a '"' that no string closes on its line
 * (e: past the quote): the end of the line, or past a quote that begins
 * the next line, which most likely closes this string, written across the
 * line break (read as opening a second unclosed string, it would make two
 * errors of one mistake). */
static const char *past_unclosed_string(const char *e, const char *lim)
{
    while (e < lim && *e != '\n' && *e != '"')
        e++;
    const char *q = e < lim && *e == '\n' ? e + 1 : lim;
    while (q < lim && (*q == ' ' || *q == '\t' || *q == '\r'))
        q++;
    return q < lim && *q == '"' ? q + 1 : e;
}

/* The ';' after the lexer's place, outside comments and strings: how many
 * the one message about the first stands for.  Read with yylex's own rules
 * for comments and strings (a copy of the lexer's state goes on alone). */
static int semicolons_after(const Lexer *from)
{
    Lexer copy = *from, *lx = &copy;
    int n = 0;
    for (;;) {
        lx->tok = lx->cur;
        /*!re2c
        comment | string    { continue; }
        ["]                 { lx->cur = past_unclosed_string(lx->cur, lx->lim); continue; }
        ";"                 { n++; continue; }
        $                   { return n; }
        *                   { continue; }
        */
    }
}

static int lex_error(ParseCtx *ctx, Span at, const char *msg)
{
    diag_error(ctx->diag, at, "%s", msg);
    ctx->errors++;
    return TOK_YYerror;
}

int yylex(YYSTYPE *lval, YYLTYPE *lloc, ParseCtx *ctx)
{
    Lexer *lx = &ctx->lex;
    int tok;
    ctx->prev_tok = ctx->last_tok;
    for (;;) {
        lx->tok = lx->cur;
        /*!re2c
        ws                  { continue; }
        comment             { continue; }
        $                   { *lloc = (Span){ctx->last_tok.end, ctx->last_tok.end}; return TOK_YYEOF; }

        "model"             { tok = TOK_MODEL; break; }
        "layer"             { tok = TOK_LAYER; break; }
        "train"             {
            /* An argument's name, csv(train: ...) or npz(train: ...): the word
             * after '(' or ',' and before ':' is a name, not the keyword. */
            const char *txt = lx->src->text, *q = lx->cur;
            char before = ctx->last_tok.end == ctx->last_tok.begin + 1 ? txt[ctx->last_tok.begin] : 0;
            while (*q == ' ' || *q == '\t')
                q++;
            if ((before == '(' || before == ',') && *q == ':' && q[1] != '=') {
                lval->s = "train";
                tok = TOK_IDENT;
                break;
            }
            tok = TOK_TRAIN;
            break;
        }
        "const"             { tok = TOK_CONST; break; }
        "input"             { tok = TOK_INPUT; break; }
        "target"            { tok = TOK_TARGET; break; }
        "output"            { tok = TOK_OUTPUT; break; }
        "loss"              { tok = TOK_LOSS; break; }
        "metric"            { tok = TOK_METRIC; break; }
        "return"            { tok = TOK_RETURN; break; }
        "param"             { tok = TOK_PARAM; break; }
        "true"              { tok = TOK_TRUE; break; }
        "false"             { tok = TOK_FALSE; break; }

        ident               {
            lval->s = arena_strndup(ctx->arena, lx->tok, (size_t)(lx->cur - lx->tok));
            tok = TOK_IDENT;
            break;
        }
        path                {
            lval->s = arena_strndup(ctx->arena, lx->tok, (size_t)(lx->cur - lx->tok));
            tok = TOK_PATH;
            break;
        }
        int                 {
            errno = 0;
            char *end;
            long long v = strtoll(lx->tok, &end, 10);
            if (errno == ERANGE) {
                *lloc = tok_span(lx);
                ctx->last_tok = *lloc;
                return lex_error(ctx, *lloc, "integer literal is too large");
            }
            lval->i = v;
            tok = TOK_INT;
            break;
        }
        float               {
            char *end;
            double v = strtod(lx->tok, &end);
            if (!isfinite(v)) {
                *lloc = tok_span(lx);
                ctx->last_tok = *lloc;
                return lex_error(ctx, *lloc, "number literal is too large");
            }
            lval->f = v;
            tok = TOK_FLOAT;
            break;
        }
        string              {
            *lloc = tok_span(lx);
            ctx->last_tok = *lloc;
            lval->s = lex_string(ctx, *lloc);
            if (!lval->s)
                return TOK_YYerror;
            return TOK_STRING;
        }
        ["]                 {
            /* No closing quote on this line: the error spans to the end of the line (and a closing quote
             * beginning the next, past_unclosed_string). */
            lx->cur = past_unclosed_string(lx->cur, lx->lim);
            *lloc = tok_span(lx);
            ctx->last_tok = *lloc;
            return lex_error(ctx, (Span){lloc->begin, lloc->begin + 1}, "missing closing '\"' in string");
        }

        [({[]               { tok = lx->tok[0]; push_open(lx, lx->tok[0], tok_span(lx)); break; }
        [)}\]]              { tok = lx->tok[0]; pop_open(lx, lx->tok[0], tok_span(lx)); break; }
        [+\-*/,:=]          { tok = lx->tok[0]; break; }

        *                   {
            *lloc = tok_span(lx);
            ctx->last_tok = *lloc;
            unsigned char c = (unsigned char)lx->tok[0];
            if (c == ';') {
                /* C's and Python's habit, likely on every line: one message says it */
                if (!ctx->semicolon && diag_error(ctx->diag, *lloc, "unexpected character ';'")) {
                    int more = semicolons_after(lx);
                    if (more)
                        diag_note(ctx->diag, SPAN_NONE, "statements need no ';': each ends where the next one begins "
                                                        "(%d more ';' follow%s, not reported)", more, more == 1 ? "s" : "");
                    else
                        diag_note(ctx->diag, SPAN_NONE, "statements need no ';': each ends where the next one begins");
                }
                ctx->semicolon = true;
            } else if (c >= 0x21 && c < 0x7f) {
                diag_error(ctx->diag, *lloc, "unexpected character '%c'", c);
            } else {
                /* A UTF-8 sequence is one character and one complaint. */
                uint32_t cp = c;
                int more = c >= 0xF0 && c <= 0xF4 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 && c < 0xE0 ? 1 : 0;
                if (more)
                    cp = c & (0x3Fu >> more);
                int got = 0;
                while (got < more && lx->cur < lx->lim && ((unsigned char)*lx->cur & 0xC0) == 0x80) {
                    cp = cp << 6 | ((unsigned char)*lx->cur++ & 0x3F);
                    got++;
                }
                *lloc = tok_span(lx);
                ctx->last_tok = *lloc;
                if (more && got == more)
                    diag_error(ctx->diag, *lloc, "unexpected character '%.*s' (U+%04X); outside strings and comments only ASCII is allowed",
                               (int)(lloc->end - lloc->begin), lx->tok, (unsigned)cp);
                else
                    diag_error(ctx->diag, *lloc, "unexpected byte 0x%02x; outside strings and comments only ASCII is allowed", c);
            }
            ctx->errors++;
            return TOK_YYerror;
        }
        */
    }
    if (lx->depth == 0 && (tok == TOK_MODEL || tok == TOK_LAYER || tok == TOK_TRAIN || tok == TOK_CONST))
        lx->decl = tok;
    *lloc = tok_span(lx);
    ctx->last_tok = *lloc;
    return tok;
}
