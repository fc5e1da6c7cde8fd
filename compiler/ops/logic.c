/* Comparisons, logical and bitwise ops, Where, and the float predicates:
 * the ops that make or take bool tensors (uint8_t 0/1 in C). */
#include <stdio.h>

#include "autodiff.h"
#include "common.h"

static nn_status set_bool_output(ir_graph *g, ir_node *n) {
  if (infer_broadcast(g, n, n->outputs[0], true) != NN_OK)
    return NN_ERR;
  n->outputs[0]->dtype = IR_BOOL;
  return NN_OK;
}

static nn_status infer_compare(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2))
    return NN_ERR;
  if (!n->inputs[1])
    return diag_node(g->path, n, "input 1 is missing");
  if (n->inputs[0]->dtype == IR_STRING && strcmp(n->op_type, "Equal") != 0)
    return diag_node(g->path, n, "strings can only be compared with Equal");
  return set_bool_output(g, n);
}

static nn_status infer_logical(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2))
    return NN_ERR;
  for (int k = 0; k < 2; k++)
    if (!n->inputs[k] || n->inputs[k]->dtype != IR_BOOL)
      return diag_node(g->path, n, "input %d must be a bool tensor", k);
  return set_bool_output(g, n);
}

static nn_status infer_bitwise(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2))
    return NN_ERR;
  ir_dtype t = n->inputs[0]->dtype;
  if (t == IR_FLOAT || t == IR_DOUBLE || t == IR_BOOL)
    return diag_node(g->path, n, "bitwise ops take integer tensors, not %s", ir_dtype_name(t));
  return infer_broadcast(g, n, n->outputs[0], true);
}

static void emit_equal(emit_ctx *e, const ir_node *n) {
  emit_binary_map(e, n, n->inputs[0]->dtype == IR_STRING ? "strcmp(a, b) == 0" : "a == b");
}
static void emit_less(emit_ctx *e, const ir_node *n) { emit_binary_map(e, n, "a < b"); }
static void emit_greater(emit_ctx *e, const ir_node *n) { emit_binary_map(e, n, "a > b"); }
static void emit_less_eq(emit_ctx *e, const ir_node *n) { emit_binary_map(e, n, "a <= b"); }
static void emit_greater_eq(emit_ctx *e, const ir_node *n) { emit_binary_map(e, n, "a >= b"); }
static void emit_and(emit_ctx *e, const ir_node *n) { emit_binary_map(e, n, "a && b"); }
static void emit_or(emit_ctx *e, const ir_node *n) { emit_binary_map(e, n, "a || b"); }
static void emit_xor(emit_ctx *e, const ir_node *n) { emit_binary_map(e, n, "(a != 0) != (b != 0)"); }
static void emit_bit_and(emit_ctx *e, const ir_node *n) { emit_binary_map(e, n, "a & b"); }
static void emit_bit_or(emit_ctx *e, const ir_node *n) { emit_binary_map(e, n, "a | b"); }
static void emit_bit_xor(emit_ctx *e, const ir_node *n) { emit_binary_map(e, n, "a ^ b"); }

static void emit_bitshift(emit_ctx *e, const ir_node *n) {
  bool left = strcmp(ir_attr_string(n, "direction", ""), "LEFT") == 0;
  /* Shifting by the type's width or more is undefined in C; ONNX gives 0. */
  emit_binary_map(e, n, mem_printf(e->g->mem, "b >= %zu ? 0 : a %s b",
                                   8 * ir_dtype_size(n->outputs[0]->dtype), left ? "<<" : ">>"));
}

static nn_status infer_bitshift(ir_graph *g, ir_node *n) {
  const char *dir = ir_attr_string(n, "direction", "");
  if (strcmp(dir, "LEFT") != 0 && strcmp(dir, "RIGHT") != 0)
    return diag_node(g->path, n, "direction must be LEFT or RIGHT, not '%s'", dir);
  ir_dtype t = n->inputs[0]->dtype;
  if (t != IR_UINT8 && t != IR_UINT16 && t != IR_UINT32 && t != IR_UINT64)
    return diag_node(g->path, n, "BitShift takes unsigned integers, not %s", ir_dtype_name(t));
  return infer_bitwise(g, n);
}

static nn_status infer_not(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1))
    return NN_ERR;
  if (n->inputs[0]->dtype != IR_BOOL)
    return diag_node(g->path, n, "input must be a bool tensor");
  return infer_same_as_input(g, n);
}

static void emit_not(emit_ctx *e, const ir_node *n) { emit_unary_map(e, n, "!x"); }

static nn_status infer_bit_not(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1))
    return NN_ERR;
  ir_dtype t = n->inputs[0]->dtype;
  if (t == IR_FLOAT || t == IR_DOUBLE || t == IR_BOOL)
    return diag_node(g->path, n, "BitwiseNot takes integer tensors, not %s", ir_dtype_name(t));
  return infer_same_as_input(g, n);
}

static void emit_bit_not(emit_ctx *e, const ir_node *n) {
  emit_unary_map(e, n, mem_printf(e->g->mem, "(%s)~x", ir_dtype_ctype(n->outputs[0]->dtype)));
}

/* ---- float predicates ---- */

static nn_status infer_predicate(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1) || check_float(g, n, 0))
    return NN_ERR;
  ir_set_shape(n->outputs[0], IR_BOOL, n->inputs[0]->rank, n->inputs[0]->dims);
  return NN_OK;
}

static void emit_isnan(emit_ctx *e, const ir_node *n) { emit_unary_map(e, n, "isnan(x) != 0"); }

static void emit_isinf(emit_ctx *e, const ir_node *n) {
  bool neg = ir_attr_int(n, "detect_negative", 1), pos = ir_attr_int(n, "detect_positive", 1);
  emit_unary_map(e, n, neg && pos ? "isinf(x) != 0" : neg ? "isinf(x) && x < 0"
                       : pos ? "isinf(x) && x > 0" : "0");
}

/* ---- Where(cond, X, Y) with three-way broadcasting ---- */

static nn_status infer_where(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 3, 3))
    return NN_ERR;
  for (int k = 0; k < 3; k++)
    if (!n->inputs[k])
      return diag_node(g->path, n, "input %d is missing", k);
  if (n->inputs[0]->dtype != IR_BOOL)
    return diag_node(g->path, n, "condition must be a bool tensor");
  if (n->inputs[1]->dtype != n->inputs[2]->dtype)
    return diag_node(g->path, n, "X and Y have different dtypes");
  if (infer_broadcast(g, n, n->outputs[0], false) != NN_OK)
    return NN_ERR;
  n->outputs[0]->dtype = n->inputs[1]->dtype;
  return NN_OK;
}

static void emit_where(emit_ctx *e, const ir_node *n) {
  const ir_tensor *y = n->outputs[0];
  int loops = emit_loops(e, y, "d");
  const char *yi = emit_bcast_index(e, y, y, "d"); /* y's own linear index */
  emit_line(e, "out0[%s] = in0[%s] ? in1[%s] : in2[%s];", yi, emit_bcast_index(e, n->inputs[0], y, "d"),
            emit_bcast_index(e, n->inputs[1], y, "d"), emit_bcast_index(e, n->inputs[2], y, "d"));
  for (int i = 0; i < loops; i++)
    emit_close(e);
}

/* ---- gradient rules ---- */

/* Where picks each element from a or b: each gets the gradient where it was
 * picked, summed back to its shape; the condition has none. */
static nn_status grad_where(ad_ctx *ad, const ir_node *n) {
  ir_tensor *dy = ad_out_grad(ad, n, 0), *zero = ad_scalar(ad, dy->dtype, 0);
  for (int k = 1; k < 3; k++) {
    if (!ad_needs_grad(ad, n, k))
      continue;
    ir_tensor *in[3] = {n->inputs[0], k == 1 ? dy : zero, k == 1 ? zero : dy};
    ir_tensor *g = ad_finish(ad, ad_begin(ad, "", "Where", 3, in, 1));
    ad_give_grad(ad, n, k, ad_reduce_to(ad, g, n->inputs[k]));
  }
  return NN_OK;
}

const op_def op_family_logic[] = {
    {"Equal", "", infer_compare, fold_elementwise, emit_equal, OP_ELEMENTWISE},
    {"Less", "", infer_compare, fold_elementwise, emit_less, OP_ELEMENTWISE},
    {"Greater", "", infer_compare, fold_elementwise, emit_greater, OP_ELEMENTWISE},
    {"LessOrEqual", "", infer_compare, fold_elementwise, emit_less_eq, OP_ELEMENTWISE},
    {"GreaterOrEqual", "", infer_compare, fold_elementwise, emit_greater_eq, OP_ELEMENTWISE},
    {"And", "", infer_logical, fold_elementwise, emit_and, OP_ELEMENTWISE},
    {"Or", "", infer_logical, fold_elementwise, emit_or, OP_ELEMENTWISE},
    {"Xor", "", infer_logical, fold_elementwise, emit_xor, OP_ELEMENTWISE},
    {"Not", "", infer_not, fold_elementwise, emit_not, OP_ELEMENTWISE},
    {"BitwiseAnd", "", infer_bitwise, NULL, emit_bit_and, OP_ELEMENTWISE},
    {"BitwiseOr", "", infer_bitwise, NULL, emit_bit_or, OP_ELEMENTWISE},
    {"BitwiseXor", "", infer_bitwise, NULL, emit_bit_xor, OP_ELEMENTWISE},
    {"BitwiseNot", "", infer_bit_not, NULL, emit_bit_not, OP_ELEMENTWISE},
    {"BitShift", "", infer_bitshift, NULL, emit_bitshift, OP_ELEMENTWISE},
    {"IsNaN", "", infer_predicate, NULL, emit_isnan, OP_ELEMENTWISE},
    {"IsInf", "", infer_predicate, NULL, emit_isinf, OP_ELEMENTWISE},
    {"Where", "", infer_where, fold_elementwise, emit_where, OP_ELEMENTWISE, .grad = grad_where},
    {NULL},
};
