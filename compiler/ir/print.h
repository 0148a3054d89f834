/* print.h — text and Graphviz forms of a graph (see docs/ir.md). */
#ifndef NNC_IR_PRINT_H
#define NNC_IR_PRINT_H

#include "ir.h"

void ir_print(StrBuf *sb, const IrGraph *g);
void ir_print_node(StrBuf *sb, const IrGraph *g, int node);
/* --dot: every node (in boxes by source line and phase), or a box per such
 * group (layers); auto: nodes up to IR_DOT_NODES_MAX, else layers. */
typedef enum { IR_DOT_AUTO, IR_DOT_NODES, IR_DOT_LAYERS } IrDotStyle;
enum { IR_DOT_NODES_MAX = 600 };
void ir_print_dot(StrBuf *sb, const IrGraph *g, IrDotStyle style);

#endif
