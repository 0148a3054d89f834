/* types.c — printing and broadcasting shapes; see types.h. */
#include "types.h"

void shape_print(StrBuf *sb, const Shape *s, bool batched)
{
    sb_putc(sb, '[');
    if (batched)
        sb_puts(sb, s->rank ? "B," : "B");
    for (int i = 0; i < s->rank; i++)
        sb_printf(sb, i ? ",%lld" : "%lld", (long long)s->dim[i]);
    sb_putc(sb, ']');
}

void type_print(StrBuf *sb, const TensorType *t)
{
    if (t->elem == ELEM_INDEX) {
        /* A class target is one label per example; a token sequence has a shape. */
        sb_printf(sb, "%s(%lld)", t->shape.rank ? "token" : "class", (long long)t->classes);
        if (t->shape.rank || t->batched)
            shape_print(sb, &t->shape, t->batched);
        return;
    }
    sb_puts(sb, "f32");
    shape_print(sb, &t->shape, t->batched);
}

bool shape_equal(const Shape *a, const Shape *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dim[i] != b->dim[i])
            return false;
    return true;
}

int shape_broadcast(const Shape *a, const Shape *b, Shape *out, int *bad_axis)
{
    int rank = a->rank > b->rank ? a->rank : b->rank;
    Shape r = {.rank = rank};
    for (int i = 0; i < rank; i++) {
        int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
        int64_t da = ia >= 0 ? a->dim[ia] : 1, db = ib >= 0 ? b->dim[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            *bad_axis = i;
            return -1;
        }
        r.dim[i] = da == 1 ? db : da;
    }
    *out = r;
    return 0;
}
