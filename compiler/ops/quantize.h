/* Shared by the quantized op families (quantize.c, qlinear.c): element
 * conversions as C text for the generated code. */
#ifndef NNCC_OPS_QUANTIZE_H
#define NNCC_OPS_QUANTIZE_H

#include "emit.h"

/* Value v of dtype t as a C float expression (16/8/4-bit floats decoded). */
const char *q_load_float(emit_ctx *e, ir_dtype t, const char *v);
/* Float expression v rounded to t's precision (16-bit floats), else v. */
const char *q_round_to(emit_ctx *e, ir_dtype t, const char *v);
/* Float expression v stored as dtype t (a float type). */
const char *q_store_float(emit_ctx *e, ir_dtype t, const char *v);
/* The integer types quantized tensors use: 8/16/32-bit and 4/2-bit. */
bool q_is_int_type(ir_dtype t);

#endif
