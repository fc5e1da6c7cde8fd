/* Helpers shared by the op family files: shape rules that many ops share,
 * and the elementwise emitters. */
#ifndef NNCC_OPS_COMMON_H
#define NNCC_OPS_COMMON_H

#include <math.h>
#include <string.h>

#include "emit.h"
#include "ops.h"

/* Output 0 takes input 0's dtype and shape. */
nn_status infer_same_as_input(ir_graph *g, ir_node *n);
/* NumPy broadcasting of all present inputs into out (dtype of input 0);
 * same_dtype: all inputs must share input 0's dtype. */
nn_status infer_broadcast(ir_graph *g, ir_node *n, ir_tensor *out, bool same_dtype);
/* Checks that n has between lo and hi inputs (present or not). */
nn_status check_arity(ir_graph *g, const ir_node *n, int lo, int hi);
/* Checks input k is one of the float types nncc computes in. */
nn_status check_float(ir_graph *g, const ir_node *n, int k);
/* Normalises a possibly negative axis against rank; reports when out of range. */
nn_status norm_axis(ir_graph *g, const ir_node *n, int64_t axis, int rank, int *out);

/* out0[i] = expr for each element, where expr reads `x` (in0[i]). */
void emit_unary_map(emit_ctx *e, const ir_node *n, const char *expr);
/* out0 = expr over broadcast inputs, where expr reads `a` (in0) and `b` (in1). */
void emit_binary_map(emit_ctx *e, const ir_node *n, const char *expr);
/* C's math function for a float type: ("exp", FLOAT) -> "expf". */
const char *math_fn(emit_ctx *e, const char *name, ir_dtype t);

#endif
