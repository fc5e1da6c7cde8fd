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
/* Softmax's view of input 0 as [outer, len, inner], len the reduced run:
 * before opset 13 the input is 2D [prod(dims[:axis]), prod(dims[axis:])],
 * from 13 on only dims[axis] is reduced. Also Hardmax's. */
nn_status softmax_split(ir_graph *g, const ir_node *n, int64_t *outer, int64_t *len,
                        int64_t *inner);
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
/* "var * k" as C text, or just "var" when k is 1. */
const char *emit_scaled(emit_ctx *e, const char *var, int64_t k);
/* Marks the next loop, a max or min reduction with the given clauses
 * ("reduction(max: a)"), for SIMD under OpenMP. Not for clang: without
 * fast-math it cannot vectorize a floating-point max, and warns. */
void emit_simd_minmax(emit_ctx *e, const char *clauses);
/* "c + v * m" for index expression v, dropping a zero c, a unit or zero m:
 * (12, "k", 4) -> "12 + k * 4", (0, "k + 1", 1) -> "k + 1". */
const char *emit_affine(emit_ctx *e, int64_t c, const char *v, int64_t m);
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

/* ---- strided copies (data movement ops) ---- */

/* Room for a view of twice the tensor rank (Tile's [repeat, dim] pairs). */
#define PLAN_MAX_RANK (2 * IR_MAX_RANK)

/* For every index (i0, i1, ...) below dims:
 * dst[dst_off + sum(i * dst_stride)] = src[src_off + sum(i * src_stride)]. */
typedef struct copy_plan {
  int rank;
  int64_t dims[PLAN_MAX_RANK];
  int64_t src_stride[PLAN_MAX_RANK], dst_stride[PLAN_MAX_RANK];
  int64_t src_off, dst_off;
} copy_plan;

/* A plan over t's dims that reads src_stride and writes t densely. */
copy_plan plan_dense_dst(const ir_tensor *t);
/* Runs the copy now, on elements of esize bytes (for folds). */
void plan_run(copy_plan p, void *dst, const void *src, size_t esize);
/* Emits the copy as loops (memcpy for contiguous runs, tiles for transposes). */
void plan_emit(emit_ctx *e, copy_plan p, const char *dst, const char *src, size_t esize);
/* Appends " + i<d> * stride" (or the first term without " + ") to buf. */
size_t plan_add_term(char *buf, size_t len, size_t size, int d, int64_t stride);
/* "off + i0 * s0 + i1 * s1 ..." over the first n loop variables. */
const char *plan_offset_expr(emit_ctx *e, int64_t off, const int64_t *stride, int n);

/* Folds an elementwise op (arithmetic, Max/Min, comparisons, logic, Not, Where)
 * over broadcast weights: exact for integer and bool, double for floats
 * (fold_eval.c). Declines other dtypes. */
nn_status fold_elementwise(ir_graph *g, ir_node *n);

/* Integer list attribute into vals (at most max); -1 after reporting. */
int attr_ints(ir_graph *g, const ir_node *n, const char *name, int64_t *vals, int max);

#endif
