/* Elementwise arithmetic and math: unary maps, broadcasting binary ops and
 * the variadic Sum/Mean/Max/Min. */
#include <stdio.h>

#include "common.h"

/* ---- unary math on float types ---- */

static nn_status infer_unary_float(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1) || check_float(g, n, 0))
    return NN_ERR;
  return infer_same_as_input(g, n);
}

static nn_status infer_unary_numeric(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1))
    return NN_ERR;
  if (n->inputs[0]->dtype == IR_BOOL)
    return diag_node(g->path, n, "bool input is not allowed");
  return infer_same_as_input(g, n);
}

#define UNARY_MATH(fname, cfn)                                                 \
  static void emit_##fname(emit_ctx *e, const ir_node *n) {                    \
    emit_unary_map(e, n,                                                       \
                   mem_printf(e->g->mem, "%s(x)",                             \
                              math_fn(e, cfn, n->inputs[0]->dtype)));          \
  }
UNARY_MATH(exp, "exp")
UNARY_MATH(log, "log")
UNARY_MATH(sqrt, "sqrt")
UNARY_MATH(floor, "floor")
UNARY_MATH(ceil, "ceil")
UNARY_MATH(erf, "erf")
UNARY_MATH(sin, "sin")
UNARY_MATH(cos, "cos")
UNARY_MATH(tan, "tan")
UNARY_MATH(asin, "asin")
UNARY_MATH(acos, "acos")
UNARY_MATH(atan, "atan")
UNARY_MATH(sinh, "sinh")
UNARY_MATH(cosh, "cosh")
UNARY_MATH(asinh, "asinh")
UNARY_MATH(acosh, "acosh")
UNARY_MATH(atanh, "atanh")
UNARY_MATH(round, "nearbyint") /* halves to even, under the default rounding mode */

static void emit_sign(emit_ctx *e, const ir_node *n) {
  emit_unary_map(e, n, mem_printf(e->g->mem, "(%s)((x > 0) - (x < 0))",
                                  ir_dtype_ctype(n->outputs[0]->dtype)));
}

/* Mod: fmod=1 keeps the dividend's sign (C's fmod); fmod=0 the divisor's (Python's %). */
static void emit_mod(emit_ctx *e, const ir_node *n) {
  ir_dtype t = n->outputs[0]->dtype;
  bool fl = t == IR_FLOAT || t == IR_DOUBLE;
  if (fl && ir_attr_int(n, "fmod", 0))
    emit_binary_map(e, n, mem_printf(e->g->mem, "%s(a, b)", math_fn(e, "fmod", t)));
  else if (fl)
    emit_binary_map(e, n, mem_printf(e->g->mem, "b == 0 ? NAN : a - b * %s(a / b)", math_fn(e, "floor", t)));
  else if (ir_attr_int(n, "fmod", 0) || t == IR_UINT8 || t == IR_UINT16 || t == IR_UINT32 ||
           t == IR_UINT64) /* signs cannot differ */
    emit_binary_map(e, n, "b ? a % b : 0");
  else
    emit_binary_map(e, n, "b ? (a % b != 0 && ((a % b < 0) != (b < 0)) ? a % b + b : a % b) : 0");
}

static void emit_reciprocal(emit_ctx *e, const ir_node *n) {
  emit_unary_map(e, n, n->inputs[0]->dtype == IR_FLOAT ? "1.0f / x" : "1.0 / x");
}

static void emit_abs(emit_ctx *e, const ir_node *n) {
  ir_dtype t = n->inputs[0]->dtype;
  if (t == IR_FLOAT || t == IR_DOUBLE)
    emit_unary_map(e, n, mem_printf(e->g->mem, "%s(x)", math_fn(e, "fabs", t)));
  else
    emit_unary_map(e, n, "x < 0 ? -x : x");
}

static void emit_neg(emit_ctx *e, const ir_node *n) { emit_unary_map(e, n, "-x"); }

static void emit_identity(emit_ctx *e, const ir_node *n) {
  if (ir_numel(n->outputs[0]) > 0)
    emit_line(e, "memcpy(out0, in0, %zu);", ir_bytes(n->outputs[0]));
}

static nn_status infer_identity(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1))
    return NN_ERR;
  return infer_same_as_input(g, n);
}

/* ---- compile-time evaluation, for the shape arithmetic exporters write ---- */

static double eval_binary(const char *op, double a, double b, bool integer) {
  switch (op[0]) {
  case 'A': return a + b;
  case 'S': return a - b;
  case 'M': return a * b;
  case 'D':
    if (integer) /* C-style truncation, as onnxruntime does for integer Div */
      return b == 0 ? 0 : (double)((int64_t)a / (int64_t)b);
    return a / b;
  }
  return 0;
}

static void store(ir_tensor *t, int64_t i, double v) {
  switch (t->dtype) {
  case IR_FLOAT: ((float *)t->data)[i] = (float)v; break;
  case IR_DOUBLE: ((double *)t->data)[i] = v; break;
  case IR_INT64: ((int64_t *)t->data)[i] = (int64_t)v; break;
  case IR_INT32: ((int32_t *)t->data)[i] = (int32_t)v; break;
  default: NN_BUG("store: dtype not folded");
  }
}

/* Flat index of input t for output element i under broadcasting. */
static int64_t bcast_offset(const ir_tensor *t, const ir_tensor *y, int64_t i) {
  int64_t off = 0, stride = 1;
  for (int d = y->rank - 1, k = t->rank - 1; d >= 0; d--, k--) {
    int64_t idx = i % y->dims[d];
    i /= y->dims[d];
    if (k >= 0) {
      if (t->dims[k] != 1)
        off += idx * stride;
      stride *= t->dims[k];
    }
  }
  return off;
}

static nn_status fold_binary(ir_graph *g, ir_node *n) {
  ir_tensor *y = n->outputs[0];
  ir_dtype t = y->dtype;
  if (t != IR_FLOAT && t != IR_DOUBLE && t != IR_INT64 && t != IR_INT32)
    return NN_ERR;
  ir_make_weight(g, y);
  bool integer = t == IR_INT64 || t == IR_INT32;
  for (int64_t i = 0; i < ir_numel(y); i++) {
    double a = ir_weight_float(n->inputs[0], bcast_offset(n->inputs[0], y, i));
    double b = ir_weight_float(n->inputs[1], bcast_offset(n->inputs[1], y, i));
    if (t == IR_INT64) { /* exact in 64 bits, beyond double's 53 */
      int64_t ia = ir_weight_int(n->inputs[0], bcast_offset(n->inputs[0], y, i));
      int64_t ib = ir_weight_int(n->inputs[1], bcast_offset(n->inputs[1], y, i));
      int64_t r = n->op_type[0] == 'A' ? ia + ib : n->op_type[0] == 'S' ? ia - ib
                : n->op_type[0] == 'M' ? ia * ib : ib ? ia / ib : 0;
      ((int64_t *)y->data)[i] = r;
      continue;
    }
    store(y, i, eval_binary(n->op_type, a, b, integer));
  }
  return NN_OK;
}

static nn_status fold_identity(ir_graph *g, ir_node *n) {
  ir_make_weight(g, n->outputs[0]);
  memcpy(n->outputs[0]->data, n->inputs[0]->data, ir_bytes(n->outputs[0]));
  return NN_OK;
}

static nn_status fold_neg(ir_graph *g, ir_node *n) {
  ir_tensor *y = n->outputs[0];
  if (y->dtype != IR_FLOAT && y->dtype != IR_DOUBLE && y->dtype != IR_INT64 && y->dtype != IR_INT32)
    return NN_ERR;
  ir_make_weight(g, y);
  for (int64_t i = 0; i < ir_numel(y); i++)
    store(y, i, -ir_weight_float(n->inputs[0], i));
  return NN_OK;
}

/* ---- broadcasting binary ops ---- */

static nn_status infer_binary(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2))
    return NN_ERR;
  if (!n->inputs[1])
    return diag_node(g->path, n, "input 1 is missing");
  return infer_broadcast(g, n, n->outputs[0], true);
}

static nn_status infer_pow(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2))
    return NN_ERR;
  if (n->inputs[0]->dtype == IR_BOOL || !n->inputs[1] || n->inputs[1]->dtype == IR_BOOL)
    return diag_node(g->path, n, "base and exponent must be numbers");
  return infer_broadcast(g, n, n->outputs[0], false);
}

static void emit_add(emit_ctx *e, const ir_node *n) { emit_binary_map(e, n, "a + b"); }
static void emit_sub(emit_ctx *e, const ir_node *n) { emit_binary_map(e, n, "a - b"); }
static void emit_mul(emit_ctx *e, const ir_node *n) { emit_binary_map(e, n, "a * b"); }

static void emit_div(emit_ctx *e, const ir_node *n) {
  ir_dtype t = n->outputs[0]->dtype;
  /* Integer division by zero is undefined in C; it gives 0 here rather than a trap. */
  emit_binary_map(e, n, t == IR_FLOAT || t == IR_DOUBLE ? "a / b" : "b ? a / b : 0");
}

static void emit_pow(emit_ctx *e, const ir_node *n) {
  ir_dtype t = n->outputs[0]->dtype;
  if (t == IR_FLOAT && n->inputs[1]->dtype == IR_FLOAT)
    emit_binary_map(e, n, "powf(a, b)");
  else /* integer and mixed powers go through double, as onnxruntime does */
    emit_binary_map(e, n, mem_printf(e->g->mem, "(%s)pow((double)a, (double)b)", ir_dtype_ctype(t)));
}

/* ---- variadic Sum, Mean, Max, Min ---- */

static nn_status infer_variadic(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1 << 20))
    return NN_ERR;
  for (int k = 0; k < n->n_inputs; k++)
    if (!n->inputs[k])
      return diag_node(g->path, n, "input %d is missing", k);
  return infer_broadcast(g, n, n->outputs[0], true);
}

/* acc starts as input 0 and takes each further input v through `combine`;
 * `finish` maps acc to the stored value. */
static void emit_nary(emit_ctx *e, const ir_node *n, const char *combine, const char *finish) {
  const ir_tensor *y = n->outputs[0];
  const char *ct = ir_dtype_ctype(y->dtype);
  int loops = emit_loops(e, y, "d");
  const char *yi = emit_bcast_index(e, y, y, "d"); /* y's own linear index */
  emit_line(e, "%s acc = in0[%s];", ct, emit_bcast_index(e, n->inputs[0], y, "d"));
  for (int k = 1; k < n->n_inputs; k++) {
    emit_open(e, "%s", "");
    emit_line(e, "const %s v = in%d[%s];", ct, k, emit_bcast_index(e, n->inputs[k], y, "d"));
    emit_line(e, "acc = %s;", combine);
    emit_close(e);
  }
  emit_line(e, "out0[%s] = %s;", yi, finish);
  for (int i = 0; i < loops; i++)
    emit_close(e);
}

static void emit_sum(emit_ctx *e, const ir_node *n) { emit_nary(e, n, "acc + v", "acc"); }
/* Max and Min propagate NaN, as NumPy's maximum and minimum do. */
static void emit_max(emit_ctx *e, const ir_node *n) {
  bool fl = n->outputs[0]->dtype == IR_FLOAT || n->outputs[0]->dtype == IR_DOUBLE;
  emit_nary(e, n, fl ? "(v > acc || isnan(v)) ? v : acc" : "v > acc ? v : acc", "acc");
}
static void emit_min(emit_ctx *e, const ir_node *n) {
  bool fl = n->outputs[0]->dtype == IR_FLOAT || n->outputs[0]->dtype == IR_DOUBLE;
  emit_nary(e, n, fl ? "(v < acc || isnan(v)) ? v : acc" : "v < acc ? v : acc", "acc");
}
static void emit_mean(emit_ctx *e, const ir_node *n) {
  emit_nary(e, n, "acc + v",
            mem_printf(e->g->mem, "acc / %s", emit_literal(e, n->outputs[0]->dtype, n->n_inputs)));
}

const op_def op_family_elementwise[] = {
    {"Identity", "", infer_identity, fold_identity, emit_identity, OP_ELEMENTWISE},
    {"Abs", "", infer_unary_numeric, NULL, emit_abs, OP_ELEMENTWISE},
    {"Neg", "", infer_unary_numeric, fold_neg, emit_neg, OP_ELEMENTWISE},
    {"Exp", "", infer_unary_float, NULL, emit_exp, OP_ELEMENTWISE},
    {"Log", "", infer_unary_float, NULL, emit_log, OP_ELEMENTWISE},
    {"Sqrt", "", infer_unary_float, NULL, emit_sqrt, OP_ELEMENTWISE},
    {"Reciprocal", "", infer_unary_float, NULL, emit_reciprocal, OP_ELEMENTWISE},
    {"Floor", "", infer_unary_float, NULL, emit_floor, OP_ELEMENTWISE},
    {"Ceil", "", infer_unary_float, NULL, emit_ceil, OP_ELEMENTWISE},
    {"Erf", "", infer_unary_float, NULL, emit_erf, OP_ELEMENTWISE},
    {"Sin", "", infer_unary_float, NULL, emit_sin, OP_ELEMENTWISE},
    {"Cos", "", infer_unary_float, NULL, emit_cos, OP_ELEMENTWISE},
    {"Tan", "", infer_unary_float, NULL, emit_tan, OP_ELEMENTWISE},
    {"Asin", "", infer_unary_float, NULL, emit_asin, OP_ELEMENTWISE},
    {"Acos", "", infer_unary_float, NULL, emit_acos, OP_ELEMENTWISE},
    {"Atan", "", infer_unary_float, NULL, emit_atan, OP_ELEMENTWISE},
    {"Sinh", "", infer_unary_float, NULL, emit_sinh, OP_ELEMENTWISE},
    {"Cosh", "", infer_unary_float, NULL, emit_cosh, OP_ELEMENTWISE},
    {"Asinh", "", infer_unary_float, NULL, emit_asinh, OP_ELEMENTWISE},
    {"Acosh", "", infer_unary_float, NULL, emit_acosh, OP_ELEMENTWISE},
    {"Atanh", "", infer_unary_float, NULL, emit_atanh, OP_ELEMENTWISE},
    {"Round", "", infer_unary_float, NULL, emit_round, OP_ELEMENTWISE},
    {"Sign", "", infer_unary_numeric, NULL, emit_sign, OP_ELEMENTWISE},
    {"Mod", "", infer_binary, NULL, emit_mod, OP_ELEMENTWISE},
    {"Add", "", infer_binary, fold_binary, emit_add, OP_ELEMENTWISE},
    {"Sub", "", infer_binary, fold_binary, emit_sub, OP_ELEMENTWISE},
    {"Mul", "", infer_binary, fold_binary, emit_mul, OP_ELEMENTWISE},
    {"Div", "", infer_binary, fold_binary, emit_div, OP_ELEMENTWISE},
    {"Pow", "", infer_pow, NULL, emit_pow, OP_ELEMENTWISE},
    {"Sum", "", infer_variadic, NULL, emit_sum, OP_ELEMENTWISE},
    {"Mean", "", infer_variadic, NULL, emit_mean, OP_ELEMENTWISE},
    {"Max", "", infer_variadic, NULL, emit_max, OP_ELEMENTWISE},
    {"Min", "", infer_variadic, NULL, emit_min, OP_ELEMENTWISE},
    {NULL},
};
