/* harness.h — helpers shared by the CUnit suites.
 *
 * Each suite file defines register_<name>(void), which adds its suite to the
 * CUnit registry; main.c runs the suite named on the command line.
 */
#ifndef NNC_TEST_HARNESS_H
#define NNC_TEST_HARNESS_H

#include <CUnit/CUnit.h>
#include <stdbool.h>

#include "front/front.h"

/* The result of running the front end on a text. */
typedef struct FrontRun {
    NncFront   f;
    NncStatus  status;
    char      *diag;    /* everything reported, as a user would see it (malloc'd) */
} FrontRun;

/* Parses and checks text (named "t.nn" in messages). Free with run_free(). */
void run_text(FrontRun *r, const char *text);
void run_free(FrontRun *r);

/* The message of the first error, without "t.nn:L:C: error: ", or "" if none.
 * Points into a static buffer. */
const char *first_error(const FrontRun *r);

/* Builds "model t { <decls>\n y = <expr>\n output y }" style programs:
 * a model with the given declarations and one binding y = expr, output y. */
void run_expr(FrontRun *r, const char *decls, const char *expr);

/* The type of the model's output, as --dump-ir prints it ("f32[B,10]"). */
const char *output_type(const FrontRun *r);

/* The whole file (malloc'd), or NULL. */
char *read_whole(const char *path);
/* How many times needle starts in text before end (NULL: the text's end),
 * overlapping ones too: what the tests count in generated code. */
int count_in(const char *text, const char *end, const char *needle);
/* run_text on the file at path, which must read and check cleanly (a fatal
 * CUnit failure otherwise). */
void run_file(FrontRun *r, const char *path);

struct IrEval;
struct SemaModel;
struct NncCompiled;
/* Binds every input of a compiled step for the interpreter: parameters and
 * batch as --gradcheck makes them (seed 5), zero optimizer state, step 0 of
 * a 100-step run. */
void fill_step_inputs(struct IrEval *ev, const struct SemaModel *m, struct NncCompiled *c);

struct IrGraph;
/* A causal softmax as lower_attention builds it, over scores s [.., T, T]
 * of g: P = exp(x − max) / sum along each row, x = select(mask, s, −inf),
 * the mask keeps (i, j) where q[i] >= k[j] (constant tensors [T, 1] and [T]
 * of q[] and k[], which the caller keeps alive; its node in *mask).  `how`
 * varies P for passes/triangle.c's tests: exp(−(x − max)) (NaN where
 * masked), P·log(P) (0·−inf there), P·rsqrt(s) (0·inf where a product
 * left s 0), P·sum(s) (s's row summed past the mask too),
 * exp(x − max)/s (0/0 where a product left s 0), and exp(x − max) /
 * sum(exp(s)) (a sum of other exponentials, 0 where s is very negative).
 * Returns P. */
enum CausalHow { CAUSAL_SOFTMAX, CAUSAL_NEGATED, CAUSAL_LOG, CAUSAL_RSQRT_S, CAUSAL_SUM_S, CAUSAL_DIV_S, CAUSAL_DIV_EXP_S };
int causal_softmax(struct IrGraph *g, int s, int64_t T, const double *q, const double *k, enum CausalHow how,
                   int *mask);

/* The largest difference between two runs of an output, relative to the
 * output's scale (the largest finite |want|).  A NaN on one side only, or
 * an infinity the other side does not share, is an infinite difference; the
 * same NaN-ness or the same infinity on both sides is none.  Call
 * diff_add for every element, then diff_rel with the absolute difference
 * below which values count as the same (rounding noise around zero). */
typedef struct Diff { double diff, scale; } Diff;
void   diff_add(Diff *d, double got, double want);
double diff_rel(const Diff *d, double noise);

/* CUnit assertions on strings that show both sides when they differ. */
#define ASSERT_STR(actual, expected) assert_str_eq((actual), (expected), __FILE__, __LINE__)
void assert_str_eq(const char *actual, const char *expected, const char *file, int line);

/* Suite registration helpers. */
typedef struct TestCase { const char *name; void (*fn)(void); } TestCase;
void add_suite(const char *name, const TestCase *tests);

/* One per suite file; main.c calls the one asked for. */
void register_lexer(void);
void register_parser(void);
void register_shapes(void);
void register_builtins(void);
void register_types(void);
void register_paths(void);
void register_diag(void);
void register_constants(void);
void register_naming(void);
void register_pipeline(void);
void register_codegen(void);
void register_codegen_models(void);
void register_codegen_grad(void);
void register_codegen_causal(void);
void register_interp(void);
void register_passes(void);
void register_plan(void);
void register_grad_ops(void);
void register_cg_math(void);
void register_docs_sync(void);
void register_onnx(void);
void register_decode(void);
void register_tune(void);

/* A window of k x k, stride s, padding p on both axes (IrWindow), as a square conv2d or pool makes. */
#define SQWIN(k_, s_, p_) {.k = {k_, k_}, .stride = {s_, s_}, .pad = {p_, p_}}

#endif
