/* test_docs.c — the reference parts of the docs follow the source tables,
 * both ways, so a built-in or an op cannot be added (or removed) without its
 * documentation:
 *
 *   builtin_table  <->  docs/language.md section 7: every row's signature,
 *                       written as the compiler's own synopsis (defaults
 *                       included) between backquotes or alone on a line; every
 *                       "#### name" heading, signature line and `name(...)`
 *                       table row there names a built-in;
 *   builtin_table  ->   docs/ir.md section 5: a **name** paragraph for each
 *                       built-in that lower.c lowers;
 *   ir_ops         <->  docs/ir.md section 4: a "| `name` |" row per op whose
 *                       last column is the op's derivative as printed (or "—"),
 *                       and no row for an op that does not exist.
 *
 * Each failure names the built-in or op and what is missing.
 */
#include "harness.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front/builtins.h"
#include "ir/ir.h"
#include "ir/lower.h"
#include "util/strbuf.h"

/* The text from the line starting with `from` to the next line starting with
 * `to` (exclusive), as a malloc'd string; "" when `from` is missing. */
static char *section(const char *doc, const char *from, const char *to)
{
    const char *b = strstr(doc, from);
    while (b && b != doc && b[-1] != '\n')
        b = strstr(b + 1, from);
    if (!b)
        return strdup("");
    const char *e = strstr(b + strlen(from), to);
    while (e && e[-1] != '\n')
        e = strstr(e + 1, to);
    size_t n = e ? (size_t)(e - b) : strlen(b);
    char *r = malloc(n + 1);
    memcpy(r, b, n);
    r[n] = '\0';
    return r;
}

/* "1e-08" -> "1e-8", as people write it. */
static void put_number(StrBuf *sb, double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%g", v);
    char *e = strchr(buf, 'e');
    if (e) {
        char *d = e + 1 + (e[1] == '-' || e[1] == '+');
        while (d[0] == '0' && d[1])
            memmove(d, d + 1, strlen(d));
        if (e[1] == '+')
            memmove(e + 1, e + 2, strlen(e + 1));
    }
    sb_puts(sb, buf);
}

/* The synopsis a user reads: "dense(x, units, bias: true)". */
static void synopsis(StrBuf *sb, const Builtin *b)
{
    sb_printf(sb, "%s(", b->name);
    int np = builtin_nparams(b);
    for (int i = 0; i < np; i++) {
        const BuiltinParam *p = &b->params[i];
        sb_printf(sb, "%s%s", i ? ", " : "", p->name);
        if (p->required)
            continue;
        sb_puts(sb, ": ");
        if (p->def_from)
            sb_puts(sb, p->def_from);
        else if (p->def.kind == VAL_INT)
            sb_printf(sb, "%lld", (long long)p->def.i);
        else if (p->def.kind == VAL_FLOAT)
            put_number(sb, p->def.f);
        else if (p->def.kind == VAL_BOOL)
            sb_puts(sb, p->def.b ? "true" : "false");
        else if (p->def.kind == VAL_STRING)
            sb_printf(sb, p->kind == PK_ENUM || p->kind == PK_TOKENIZER ? "%s" : "\"%s\"", p->def.s);
        else if (p->def.kind == VAL_NONE)
            sb_puts(sb, "none");
    }
    sb_putc(sb, ')');
}

/* Does text hold s between backquotes, or alone on a line? */
static bool documented(const char *text, const char *s)
{
    size_t n = strlen(s);
    for (const char *p = strstr(text, s); p; p = strstr(p + 1, s)) {
        char before = p == text ? '\n' : p[-1], after = p[n];
        if ((before == '`' && after == '`') || (before == '\n' && (after == '\n' || after == '\0')))
            return true;
    }
    return false;
}

static void report(const char *what, const char *name, const char *why)
{
    char got[1200], want[300];
    snprintf(got, sizeof got, "%s %s: %s", what, name, why);
    snprintf(want, sizeof want, "%s %s: documented", what, name);
    ASSERT_STR(got, want);
}

static void test_builtins_documented(void)
{
    char *doc = read_whole(NNC_SOURCE_DIR "/docs/language.md");
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    char *s7 = section(doc, "## 7. Built-ins", "## 8.");
    for (int i = 0; i < B_COUNT; i++) {
        StrBuf sb = {0};
        synopsis(&sb, &builtin_table[i]);
        if (!documented(s7, sb_cstr(&sb))) {
            char why[400];
            snprintf(why, sizeof why, "docs/language.md section 7 lacks its signature `%.300s`", sb_cstr(&sb));
            report("built-in", builtin_table[i].name, why);
        }
        sb_free(&sb);
    }
    free(s7);
    free(doc);
}

/* A name at p: letters, digits and '_'; copied into buf. */
static const char *ident_at(const char *p, char *buf, size_t cap)
{
    size_t n = 0;
    while ((isalnum((unsigned char)p[n]) || p[n] == '_') && n + 1 < cap)
        n++;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

static void must_exist(const char *name, const char *where)
{
    if (*name && !builtin_lookup(name)) {
        char why[200];
        snprintf(why, sizeof why, "%s, but there is no such built-in", where);
        report("name", name, why);
    }
}

static void test_documented_builtins_exist(void)
{
    char *doc = read_whole(NNC_SOURCE_DIR "/docs/language.md");
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    char *s7 = section(doc, "## 7. Built-ins", "## 8.");
    bool in_block = false, sig_block = false;
    char name[64];
    for (char *line = strtok(s7, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "```", 3) == 0) {
            in_block = !in_block;
            sig_block = in_block && line[3] == '\0';  /* ``` alone: signatures; ```nn: examples */
            continue;
        }
        if (sig_block) {  /* "dense(x, units, bias: true)" */
            ident_at(line, name, sizeof name);
            if (line[strlen(name)] == '(')
                must_exist(name, "a signature line in docs/language.md section 7 names it");
        } else if (!in_block && strncmp(line, "#### ", 5) == 0) {  /* "#### max_pool, avg_pool" */
            for (char *p = line + 5; *p;) {
                ident_at(p, name, sizeof name);
                must_exist(name, "a heading in docs/language.md section 7 names it");
                p += strlen(name);
                while (*p && (*p == ',' || *p == ' '))
                    p++;
                if (!*name)
                    break;
            }
        } else if (!in_block && strncmp(line, "| `", 3) == 0) {  /* "| `relu(x)` | ..." */
            ident_at(line + 3, name, sizeof name);
            if (line[3 + strlen(name)] == '(')
                must_exist(name, "a table row in docs/language.md section 7 names it");
        }
    }
    free(s7);
    free(doc);
}

static void test_lowerings_documented(void)
{
    char *doc = read_whole(NNC_SOURCE_DIR "/docs/ir.md");
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    char *s5 = section(doc, "## 5. Lowering", "## 6.");
    for (int i = 0; i < B_COUNT; i++) {
        if (!lower_covers(i))
            continue;
        char bold[80];
        snprintf(bold, sizeof bold, "**%s**", builtin_table[i].name);
        if (!strstr(s5, bold))
            report("built-in", builtin_table[i].name, "docs/ir.md section 5 lacks its **name** paragraph");
    }
    free(s5);
    free(doc);
}

/* The last cell of a table row, trimmed, into buf. */
static const char *last_cell(const char *line, char *buf, size_t cap)
{
    const char *end = strrchr(line, '|');
    const char *b = end;
    while (b > line && b[-1] != '|')
        b--;
    while (b < end && *b == ' ')
        b++;
    const char *e = end;
    while (e > b && e[-1] == ' ')
        e--;
    size_t n = (size_t)(e - b) < cap - 1 ? (size_t)(e - b) : cap - 1;
    memcpy(buf, b, n);
    buf[n] = '\0';
    return buf;
}

static void test_ops_documented(void)
{
    char *doc = read_whole(NNC_SOURCE_DIR "/docs/ir.md");
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    char *s4 = section(doc, "## 4. The op table", "## 5.");
    bool seen[IR_OP_COUNT] = {0};
    char name[64], cell[512];
    for (char *line = strtok(s4, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "| `", 3) != 0)
            continue;
        ident_at(line + 3, name, sizeof name);
        int op = 0;
        while (op < IR_OP_COUNT && strcmp(ir_ops[op].name, name) != 0)
            op++;
        if (op == IR_OP_COUNT) {
            report("op", name, "docs/ir.md section 4 has a row for it, but ops.def has no such op");
            continue;
        }
        seen[op] = true;
        char want[300];
        snprintf(want, sizeof want, ir_ops[op].rule ? "`%s`" : "—", ir_ops[op].rule);
        if (strcmp(last_cell(line, cell, sizeof cell), want) != 0) {
            char why[1000];
            snprintf(why, sizeof why, "docs/ir.md section 4 gives its derivative as %s, ops.def as %s", cell, want);
            report("op", name, why);
        }
    }
    for (int op = 0; op < IR_OP_COUNT; op++)
        if (!seen[op])
            report("op", ir_ops[op].name, "docs/ir.md section 4 lacks its row");
    free(s4);
    free(doc);
}

/* The checks above notice a change: a name that is not there is reported. */
static void test_checks_bite(void)
{
    CU_ASSERT_FALSE(documented("`dense(x, units)`", "dense(x, units, bias: true)"));
    CU_ASSERT_TRUE(documented("| `relu(x)` | max", "relu(x)"));
    CU_ASSERT_TRUE(documented("```\nsum(x, axis: -1, keep: false)\n```", "sum(x, axis: -1, keep: false)"));
    StrBuf sb = {0};
    put_number(&sb, 1e-8);
    sb_putc(&sb, ' ');
    put_number(&sb, -INFINITY);
    sb_putc(&sb, ' ');
    put_number(&sb, 0.001);
    ASSERT_STR(sb_cstr(&sb), "1e-8 -inf 0.001");
    sb_free(&sb);
}

static const TestCase tests[] = {
    {"every built-in's signature is in docs/language.md", test_builtins_documented},
    {"every built-in docs/language.md names exists", test_documented_builtins_exist},
    {"every lowering is described in docs/ir.md", test_lowerings_documented},
    {"docs/ir.md's op table is ops.def", test_ops_documented},
    {"the checks notice a difference", test_checks_bite},
    {NULL, NULL},
};

void register_docs_sync(void) { add_suite("docs_sync", tests); }
