/* Elementwise arithmetic and math: unary maps, broadcasting binary ops and
 * the variadic Sum/Mean/Max/Min. */
#include <ctype.h>
#include <stdio.h>

#include "autodiff.h"
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

static nn_status fold_identity(ir_graph *g, ir_node *n) {
  ir_make_weight(g, n->outputs[0]);
  memcpy(n->outputs[0]->data, n->inputs[0]->data, ir_bytes(n->outputs[0]));
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

/* ---- gradient rules: a broadcast input gets its gradient summed back to its shape ---- */

static void give(ad_ctx *ad, const ir_node *n, int k, ir_tensor *g) {
  if (ad_needs_grad(ad, n, k))
    ad_give_grad(ad, n, k, ad_reduce_to(ad, g, n->inputs[k]));
}

static nn_status grad_add_sub(ad_ctx *ad, const ir_node *n) {
  ir_tensor *dy = ad_out_grad(ad, n, 0);
  give(ad, n, 0, dy);
  if (ad_needs_grad(ad, n, 1))
    give(ad, n, 1, n->op_type[0] == 'S' ? ad_op(ad, "Neg", dy, NULL) : dy);
  return NN_OK;
}

static nn_status grad_mul(ad_ctx *ad, const ir_node *n) {
  ir_tensor *dy = ad_out_grad(ad, n, 0);
  for (int k = 0; k < 2; k++)
    if (ad_needs_grad(ad, n, k))
      give(ad, n, k, ad_op(ad, "Mul", dy, n->inputs[1 - k]));
  return NN_OK;
}

/* y = a / b: da = dy / b, db = -dy * y / b */
static nn_status grad_div(ad_ctx *ad, const ir_node *n) {
  ir_tensor *dy = ad_out_grad(ad, n, 0), *b = n->inputs[1];
  if (ad_needs_grad(ad, n, 0))
    give(ad, n, 0, ad_op(ad, "Div", dy, b));
  if (ad_needs_grad(ad, n, 1))
    give(ad, n, 1, ad_op(ad, "Neg", ad_op(ad, "Mul", dy, ad_op(ad, "Div", n->outputs[0], b)), NULL));
  return NN_OK;
}

static nn_status grad_identity(ad_ctx *ad, const ir_node *n) {
  ad_give_grad(ad, n, 0, ad_out_grad(ad, n, 0));
  return NN_OK;
}

static nn_status grad_neg(ad_ctx *ad, const ir_node *n) {
  ad_give_grad(ad, n, 0, ad_op(ad, "Neg", ad_out_grad(ad, n, 0), NULL));
  return NN_OK;
}

/* exp: dy * y; log: dy / x; sqrt: dy / (2 y) */
static nn_status grad_exp(ad_ctx *ad, const ir_node *n) {
  ad_give_grad(ad, n, 0, ad_op(ad, "Mul", ad_out_grad(ad, n, 0), n->outputs[0]));
  return NN_OK;
}

static nn_status grad_log(ad_ctx *ad, const ir_node *n) {
  ad_give_grad(ad, n, 0, ad_op(ad, "Div", ad_out_grad(ad, n, 0), n->inputs[0]));
  return NN_OK;
}

static nn_status grad_sqrt(ad_ctx *ad, const ir_node *n) {
  ir_tensor *two_y = ad_op(ad, "Add", n->outputs[0], n->outputs[0]);
  ad_give_grad(ad, n, 0, ad_op(ad, "Div", ad_out_grad(ad, n, 0), two_y));
  return NN_OK;
}

static nn_status grad_erf(ad_ctx *ad, const ir_node *n) {
  ad_give_grad(ad, n, 0, ad_activation_grad(ad, n, "erf", ad_out_grad(ad, n, 0), n->inputs[0], NULL));
  return NN_OK;
}

static nn_status grad_abs(ad_ctx *ad, const ir_node *n) {
  ad_give_grad(ad, n, 0, ad_activation_grad(ad, n, "abs", ad_out_grad(ad, n, 0), n->inputs[0], NULL));
  return NN_OK;
}

/* sin, cos, ...: one fused ActivationGrad on x (tan's reads y). */
static nn_status grad_trig(ad_ctx *ad, const ir_node *n) {
  char kind[8];
  size_t i = 0;
  for (; n->op_type[i] && i < sizeof kind - 1; i++)
    kind[i] = (char)tolower((unsigned char)n->op_type[i]);
  kind[i] = 0;
  bool tan = strcmp(kind, "tan") == 0;
  ad_give_grad(ad, n, 0, ad_activation_grad(ad, n, kind,
                                            ad_out_grad(ad, n, 0), tan ? NULL : n->inputs[0],
                                            tan ? n->outputs[0] : NULL));
  return NN_OK;
}

/* Floor, Ceil, Round, Sign: piecewise constant, so a zero gradient (as PyTorch). */
static nn_status grad_zero(ad_ctx *ad, const ir_node *n) {
  ad_zero_grad(ad, n, 0);
  return NN_OK;
}

/* y = a ^ b: da = dy * b * a ^ (b - 1), db = dy * y * log(a) */
static nn_status grad_pow(ad_ctx *ad, const ir_node *n) {
  ir_tensor *dy = ad_out_grad(ad, n, 0), *a = n->inputs[0], *b = n->inputs[1];
  if (b->dtype != a->dtype)
    return diag_node(ad_graph(ad)->path, n, "training through Pow needs base and exponent of one type");
  if (ad_needs_grad(ad, n, 0)) {
    ir_tensor *bm1 = ad_op(ad, "Sub", b, ad_scalar(ad, b->dtype, 1));
    give(ad, n, 0, ad_op(ad, "Mul", dy, ad_op(ad, "Mul", b, ad_op(ad, "Pow", a, bm1))));
  }
  if (ad_needs_grad(ad, n, 1))
    give(ad, n, 1, ad_op(ad, "Mul", dy, ad_op(ad, "Mul", n->outputs[0], ad_op(ad, "Log", a, NULL))));
  return NN_OK;
}

static nn_status grad_reciprocal(ad_ctx *ad, const ir_node *n) {
  ir_tensor *y = n->outputs[0]; /* d(1/x) = -y^2 */
  ad_give_grad(ad, n, 0, ad_op(ad, "Neg", ad_op(ad, "Mul", ad_out_grad(ad, n, 0), ad_op(ad, "Mul", y, y)), NULL));
  return NN_OK;
}

/* Sum gives every input the gradient; Mean a share of it. */
static nn_status grad_sum_mean(ad_ctx *ad, const ir_node *n) {
  ir_tensor *dy = ad_out_grad(ad, n, 0);
  if (n->op_type[0] == 'M' && n->n_inputs > 1)
    dy = ad_op(ad, "Mul", dy, ad_scalar(ad, dy->dtype, 1.0 / n->n_inputs));
  for (int k = 0; k < n->n_inputs; k++)
    give(ad, n, k, dy);
  return NN_OK;
}

/* Max and Min: the gradient goes to the inputs equal to the result, split
 * evenly among ties (PyTorch's maximum/minimum do so for two inputs). */
static nn_status grad_max_min(ad_ctx *ad, const ir_node *n) {
  ir_tensor *dy = ad_out_grad(ad, n, 0), *y = n->outputs[0], *count = NULL;
  ir_tensor **hit = mem_alloc(ad_graph(ad)->mem, sizeof *hit * (size_t)n->n_inputs);
  for (int k = 0; k < n->n_inputs; k++) {
    ir_node *c = ad_begin(ad, "", "Cast", 1, (ir_tensor *[]){ad_op(ad, "Equal", n->inputs[k], y)}, 1);
    ad_attr_int(ad, c, "to", y->dtype);
    hit[k] = ad_finish(ad, c);
    count = count ? ad_op(ad, "Add", count, hit[k]) : hit[k];
  }
  ir_tensor *share = ad_op(ad, "Div", dy, count);
  for (int k = 0; k < n->n_inputs; k++)
    if (ad_needs_grad(ad, n, k))
      give(ad, n, k, ad_op(ad, "Mul", share, hit[k]));
  return NN_OK;
}

const op_def op_family_elementwise[] = {
    {"Identity", "", infer_identity, fold_identity, emit_identity, OP_ELEMENTWISE, .grad = grad_identity},
    {"Abs", "", infer_unary_numeric, fold_elementwise, emit_abs, OP_ELEMENTWISE, .grad = grad_abs},
    {"Neg", "", infer_unary_numeric, fold_elementwise, emit_neg, OP_ELEMENTWISE, .grad = grad_neg},
    {"Exp", "", infer_unary_float, NULL, emit_exp, OP_ELEMENTWISE, .grad = grad_exp},
    {"Log", "", infer_unary_float, NULL, emit_log, OP_ELEMENTWISE, .grad = grad_log},
    {"Sqrt", "", infer_unary_float, fold_elementwise, emit_sqrt, OP_ELEMENTWISE, .grad = grad_sqrt},
    {"Reciprocal", "", infer_unary_float, NULL, emit_reciprocal, OP_ELEMENTWISE, .grad = grad_reciprocal},
    {"Floor", "", infer_unary_float, NULL, emit_floor, OP_ELEMENTWISE, .grad = grad_zero},
    {"Ceil", "", infer_unary_float, fold_elementwise, emit_ceil, OP_ELEMENTWISE, .grad = grad_zero},
    {"Erf", "", infer_unary_float, NULL, emit_erf, OP_ELEMENTWISE, .grad = grad_erf},
    {"Sin", "", infer_unary_float, NULL, emit_sin, OP_ELEMENTWISE, .grad = grad_trig},
    {"Cos", "", infer_unary_float, NULL, emit_cos, OP_ELEMENTWISE, .grad = grad_trig},
    {"Tan", "", infer_unary_float, NULL, emit_tan, OP_ELEMENTWISE, .grad = grad_trig},
    {"Asin", "", infer_unary_float, NULL, emit_asin, OP_ELEMENTWISE, .grad = grad_trig},
    {"Acos", "", infer_unary_float, NULL, emit_acos, OP_ELEMENTWISE, .grad = grad_trig},
    {"Atan", "", infer_unary_float, NULL, emit_atan, OP_ELEMENTWISE, .grad = grad_trig},
    {"Sinh", "", infer_unary_float, NULL, emit_sinh, OP_ELEMENTWISE, .grad = grad_trig},
    {"Cosh", "", infer_unary_float, NULL, emit_cosh, OP_ELEMENTWISE, .grad = grad_trig},
    {"Asinh", "", infer_unary_float, NULL, emit_asinh, OP_ELEMENTWISE, .grad = grad_trig},
    {"Acosh", "", infer_unary_float, NULL, emit_acosh, OP_ELEMENTWISE, .grad = grad_trig},
    {"Atanh", "", infer_unary_float, NULL, emit_atanh, OP_ELEMENTWISE, .grad = grad_trig},
    {"Round", "", infer_unary_float, NULL, emit_round, OP_ELEMENTWISE, .grad = grad_zero},
    {"Sign", "", infer_unary_numeric, NULL, emit_sign, OP_ELEMENTWISE, .grad = grad_zero},
    {"Mod", "", infer_binary, fold_elementwise, emit_mod, OP_ELEMENTWISE},
    {"Add", "", infer_binary, fold_elementwise, emit_add, OP_ELEMENTWISE, .grad = grad_add_sub},
    {"Sub", "", infer_binary, fold_elementwise, emit_sub, OP_ELEMENTWISE, .grad = grad_add_sub},
    {"Mul", "", infer_binary, fold_elementwise, emit_mul, OP_ELEMENTWISE, .grad = grad_mul},
    {"Div", "", infer_binary, fold_elementwise, emit_div, OP_ELEMENTWISE, .grad = grad_div},
    {"Pow", "", infer_pow, NULL, emit_pow, OP_ELEMENTWISE, .grad = grad_pow},
    {"Sum", "", infer_variadic, NULL, emit_sum, OP_ELEMENTWISE, .grad = grad_sum_mean},
    {"Mean", "", infer_variadic, NULL, emit_mean, OP_ELEMENTWISE, .grad = grad_sum_mean},
    {"Max", "", infer_variadic, fold_elementwise, emit_max, OP_ELEMENTWISE, .grad = grad_max_min},
    {"Min", "", infer_variadic, fold_elementwise, emit_min, OP_ELEMENTWISE, .grad = grad_max_min},
    {NULL},
};
