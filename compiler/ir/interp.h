/* interp.h — the reference interpreter: runs any IR graph, at any stage,
 * with plain loops.  It is the oracle for gradients and generated code.
 *
 * Every value is held as doubles; after each node, values of an f32 node
 * are rounded to float, so an f32 graph computes as f32 storage with exact
 * f64 arithmetic inside each operation, and an f64 graph in full double.
 * Labels (i32) are held exactly.
 */
#ifndef NNC_INTERP_H
#define NNC_INTERP_H

#include "ir.h"

struct IrPlan;

typedef struct IrEval {
    const IrGraph *g;
    int64_t        batch;   /* the size IR_BATCH stands for */
    double       **val;     /* per node: its values, row-major (NULL until computed) */
    int64_t       *len;     /* per node: number of elements */
    const struct IrPlan *plan; /* when set, activations live in one arena laid out by the plan */
    double        *arena;   /* the plan's arena (owned) */
    char           error[256];
    bool           out_of_memory; /* the error is an allocation that failed, not a bug */
    int            error_node;    /* the node being run when the error came, or -1 */
    int64_t        allocs;  /* allocations so far */
    int64_t        fail_at; /* tests: allocation number fail_at (from 1) fails; 0: none (set after ir_eval_init) */
} IrEval;

/* Prepares ev for g at a batch size: every value unset, fail_at 0.
 * Allocates nothing (the tables come with the first input or run), so it
 * cannot fail.  The caller sets fail_at after it to inject a fault: nnc's
 * main.c reads NNC_INTERP_FAIL_ALLOC for the command-line tests and hands
 * it down in the options of --gradcheck, --export-step and --predict
 * --trace (the runtime's NNC_FAIL_ALLOC counts the process's allocations;
 * this counter is each evaluator's, from its init). */
void ir_eval_init(IrEval *ev, const IrGraph *g, int64_t batch);
/* Binds the values of an INPUT node (copied: ir_elems(shape, batch) doubles). */
void ir_eval_set(IrEval *ev, int node, const double *values);
/* The INPUT node's values, zeroed, for the caller to fill in place (no copy
 * beside them: a large input is held once); NULL with ev->error set when
 * node is not an input or memory ran out. */
double *ir_eval_input(IrEval *ev, int node);
/* Runs every node in order, first forgetting the values of an earlier run
 * (the inputs given stay).  Returns 0, or -1 with ev->error set (an input
 * left unset, an index out of range, memory ran out: out_of_memory), also
 * for an error of ir_eval_set or ir_eval_input before it. */
int  ir_eval_run(IrEval *ev);
/* Where the error of a failed run came from: the source of the node being
 * run, or SPAN_NONE. */
Span ir_eval_error_at(const IrEval *ev);
void ir_eval_free(IrEval *ev);

/* The value of a graph output by name, or NULL. */
const double *ir_eval_output(const IrEval *ev, const char *name, int64_t *len);

#endif
