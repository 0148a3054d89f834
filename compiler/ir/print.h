/* print.h — text and Graphviz forms of a graph (see docs/ir.md). */
#ifndef NNC_IR_PRINT_H
#define NNC_IR_PRINT_H

#include "ir.h"

void ir_print(StrBuf *sb, const IrGraph *g);
void ir_print_node(StrBuf *sb, const IrGraph *g, int node);
void ir_print_dot(StrBuf *sb, const IrGraph *g);

#endif
