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
/* The smallest value of t as a C literal (-INFINITY for float types): the
 * starting point of a running maximum. */
const char *emit_lowest(emit_ctx *e, ir_dtype t);
/* Marks the next loop, whose iterations must be independent, for SIMD when
 * built with OpenMP: GCC -O2 only vectorizes loops with a known whole trip
 * count, and OpenMP-outlined loop bodies lose `restrict`. */
void emit_simd(emit_ctx *e);
/* The same for a loop that sums into the listed variables ("s0, s1"): with
 * OpenMP they become vector accumulators; without, the loop stays scalar. */
void emit_simd_sum(emit_ctx *e, const char *vars);
/* C's math function for a float type: ("exp", FLOAT) -> "expf". */
const char *math_fn(emit_ctx *e, const char *name, ir_dtype t);

/* Reports (naming input k as `what`) unless input k is absent or a weight:
 * inputs that carry shapes or indices must be known at compile time. */
nn_status require_constant(ir_graph *g, const ir_node *n, int k, const char *what);
/* Reads input k (named `what` in messages), which must be a constant integer
 * tensor of rank 0 or 1 with at most max elements, into vals. Returns the
 * element count, or -1 after reporting. An absent input gives 0. */
int const_input_ints(ir_graph *g, const ir_node *n, int k, const char *what, int64_t *vals,
                     int max);
/* Stores v as element i of data of dtype t (bool: v != 0; NaN or out of
 * range to an integer type: 0). */
void store_double(ir_dtype t, void *data, int64_t i, double v);
/* Stores an integer (as_unsigned: v holds a uint64 bit pattern). */
void store_int(ir_dtype t, void *data, int64_t i, int64_t v, bool as_unsigned);

#endif
