/* types.h — what a value of the language can be, as sema infers it.
 *
 * Tensors have a per-example shape; the batch dimension is implicit and
 * recorded only as a flag, because the batch size is chosen at run time.
 * Shapes print as [B,128] in dumps and [128] in the summary table.
 */
#ifndef NNC_TYPES_H
#define NNC_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include "../util/strbuf.h"

enum { NNC_MAX_RANK = 8 };
/* The IR's shapes hold the batch among their NNC_MAX_RANK axes (ir.h), so a
 * batched value has one axis fewer of its own: 7 per example, the batch the
 * 8th.  A value without the batch (a parameter, a constant) may have 8. */
static inline int shape_max_rank(bool batched) { return NNC_MAX_RANK - (batched ? 1 : 0); }
/* Largest element count of one tensor (per example): keeps every product of
 * sizes, FLOP counts included, far from int64 overflow. */
#define NNC_MAX_ELEMS (INT64_C(1) << 40)

typedef struct Shape {
    int     rank;
    int64_t dim[NNC_MAX_RANK];   /* per example; dim[rank-1] is innermost */
} Shape;

typedef enum Elem {
    ELEM_F32,    /* real numbers */
    ELEM_INDEX,  /* integer labels in [0, classes): class(N) and token(N) */
} Elem;

typedef struct TensorType {
    Elem    elem;
    bool    batched;  /* carries the implicit batch dimension in front */
    int64_t classes;  /* ELEM_INDEX: number of classes/vocabulary size */
    Shape   shape;    /* per-example shape */
} TensorType;

/* Kinds of values; each says which member of Value is live. */
typedef enum ValueKind {
    VAL_ERROR,   /* already diagnosed: everything downstream stays quiet */
    VAL_INT,     /* .i */
    VAL_FLOAT,   /* .f */
    VAL_BOOL,    /* .b */
    VAL_STRING,  /* .s */
    VAL_LIST,    /* .list: integers, e.g. reshape's [1, 28, 28] */
    VAL_TENSOR,  /* .t */
    VAL_LAYER,   /* .layer: a user layer named as a value (repeat's argument) */
    VAL_SPEC,    /* .spec: data source, optimizer or schedule in a train block */
    VAL_NONE,    /* an optional tensor argument not given (attention's mask:) */
} ValueKind;

struct AstNode;
struct Spec;

typedef struct Value {
    ValueKind kind;
    int       node;   /* VAL_TENSOR in a checked model: index of the node computing it */
    union {
        int64_t      i;
        double       f;
        bool         b;
        const char  *s;
        struct { int n; int64_t *v; } list;
        TensorType   t;
        const struct AstNode *layer;
        const struct Spec    *spec;
    };
} Value;

static inline int64_t shape_elems(const Shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= s->dim[i];
    return n;
}

/* "[128]", "[B,128]" (batched, with_batch), "[]" for a scalar. */
void shape_print(StrBuf *sb, const Shape *s, bool batched);
/* "f32[B,784]", "class(10)", "token(65)[B,64]". */
void type_print(StrBuf *sb, const TensorType *t);
/* Broadcasting of two per-example shapes (numpy rules, aligned from the
 * right).  Returns 0 and the result, or -1 with the offending axis of the
 * result (counted from the left of the longer shape) in *bad_axis. */
int  shape_broadcast(const Shape *a, const Shape *b, Shape *out, int *bad_axis);
bool shape_equal(const Shape *a, const Shape *b);

#endif
