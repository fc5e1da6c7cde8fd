/* Shared between codegen's files only. */
#ifndef NNCC_CODEGEN_INTERNAL_H
#define NNCC_CODEGEN_INTERNAL_H

#include "cbuf.h"
#include "ir.h"

/* The conversions for 16-bit floats that `code` (the node functions) calls. */
void emit_half_prelude(cbuf *c, const char *code);
/* Whether text contains ident as a whole identifier. */
bool emit_mentions(const char *text, const char *ident);

#endif
