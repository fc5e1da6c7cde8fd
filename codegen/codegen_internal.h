/* Shared between codegen's files only. */
#ifndef NNCC_CODEGEN_INTERNAL_H
#define NNCC_CODEGEN_INTERNAL_H

#include "cbuf.h"
#include "ir.h"

/* Conversions for 16-bit floats, when the graph has any. */
void emit_half_prelude(cbuf *c, const ir_graph *g);

#endif
