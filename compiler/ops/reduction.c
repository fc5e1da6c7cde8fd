/* The Reduce* ops (Sum, Mean, Max, Min, Prod, SumSquare, L1, L2, LogSum,
 * LogSumExp) over constant axes. Runs of adjacent axes that are all reduced
 * or all kept merge into one loop, so a reduction becomes a few nested loops
 * with literal bounds. */
#include <stdio.h>

#include "autodiff.h"
#include "common.h"

typedef enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_SUMSQ, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP } red_op;

static red_op red_op_of(const ir_node *n) {
  static const char *const names[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin",
                                      "ReduceProd", "ReduceSumSquare", "ReduceL1", "ReduceL2",
                                      "ReduceLogSum", "ReduceLogSumExp"};
  for (int i = 0; i < (int)(sizeof names / sizeof *names); i++)
    if (strcmp(n->op_type, names[i]) == 0)
      return (red_op)i;
  NN_BUG("not a reduction");
}

/* Axes come from input 1 (ReduceSum from opset 13, the others from 18) or
 * the 'axes' attribute before. An empty list means every axis, or none
 * with noop_with_empty_axes. Sets reduce[d] for each reduced axis. */
static nn_status red_axes(ir_graph *g, const ir_node *n, bool *reduce) {
  const ir_tensor *x = n->inputs[0], *t = ir_in(n, 1);
  const int64_t *attr = NULL;
  int count = ir_attr_ints(n, "axes", &attr);
  if (t) {
    if (ir_numel(t) > 0 && t->kind != IR_WEIGHT)
      return diag_node(g->path, n, "input 1 'axes' must be a constant");
    if (t->dtype != IR_INT64 && t->dtype != IR_INT32)
      return diag_node(g->path, n, "input 1 'axes' has dtype %s; expected int64",
                       ir_dtype_name(t->dtype));
    count = (int)ir_numel(t);
  }
  bool noop = ir_attr_int(n, "noop_with_empty_axes", 0) != 0;
  for (int d = 0; d < x->rank; d++)
    reduce[d] = count == 0 && !noop;
  for (int i = 0; i < count; i++) {
    int axis;
    if (norm_axis(g, n, t ? ir_weight_int(t, i) : attr[i], x->rank, &axis))
      return NN_ERR;
    if (reduce[axis])
      return diag_node(g->path, n, "axis %d is listed twice", axis);
    reduce[axis] = true;
  }
  return NN_OK;
}

static nn_status infer_reduce(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 2))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  red_op op = red_op_of(n);
  if (x->dtype == IR_BOOL && op != R_MAX && op != R_MIN)
    return diag_node(g->path, n, "bool input is not allowed");
  bool reduce[IR_MAX_RANK];
  if (red_axes(g, n, reduce))
    return NN_ERR;
  bool keep = ir_attr_int(n, "keepdims", 1) != 0;
  int64_t dims[IR_MAX_RANK];
  int rank = 0;
  for (int d = 0; d < x->rank; d++)
    if (!reduce[d] || keep)
      dims[rank++] = reduce[d] ? 1 : x->dims[d];
  ir_set_shape(n->outputs[0], x->dtype, rank, dims);
  return NN_OK;
}

/* ---- emission ---- */

/* A run of adjacent input axes, all reduced or all kept, as one loop. */
typedef struct red_group {
  int64_t size, stride; /* stride in input elements */
  bool reduced;
} red_group;

static int red_groups(const ir_tensor *x, const bool *reduce, red_group *gr) {
  int64_t st[IR_MAX_RANK];
  emit_strides(x, st);
  int n = 0;
  for (int d = 0; d < x->rank; d++) {
    if (x->dims[d] == 1)
      continue;
    if (n && gr[n - 1].reduced == reduce[d]) {
      gr[n - 1].size *= x->dims[d];
      gr[n - 1].stride = st[d];
      continue;
    }
    gr[n++] = (red_group){x->dims[d], st[d], reduce[d]};
  }
  return n;
}

static bool is_float(ir_dtype t) { return t == IR_FLOAT || t == IR_DOUBLE; }

/* The running combination of accumulator a with value v (and, for
 * LogSumExp, the maximum m taken first). */
static const char *red_combine(emit_ctx *e, const ir_node *n) {
  ir_dtype t = n->inputs[0]->dtype;
  switch (red_op_of(n)) {
  case R_MAX: return is_float(t) ? "(v > a || v != v) ? v : a" : "v > a ? v : a";
  case R_MIN: return is_float(t) ? "(v < a || v != v) ? v : a" : "v < a ? v : a";
  case R_PROD: return "a * v";
  case R_SUMSQ: case R_L2: return "a + v * v";
  case R_L1: return is_float(t) ? mem_printf(e->g->mem, "a + %s(v)", math_fn(e, "fabs", t))
                                : "a + (v < 0 ? -v : v)";
  case R_LOGSUMEXP: return mem_printf(e->g->mem, "a + %s(v - m)", math_fn(e, "exp", t));
  default: return "a + v";
  }
}

/* The largest value of t, for a running minimum. */
static const char *highest(emit_ctx *e, ir_dtype t) {
  switch (t) {
  case IR_FLOAT: case IR_DOUBLE: return emit_literal(e, t, INFINITY);
  case IR_INT8: return "INT8_MAX";
  case IR_INT16: return "INT16_MAX";
  case IR_INT32: return "INT32_MAX";
  case IR_INT64: return "INT64_MAX";
  case IR_BOOL: return emit_literal(e, t, 1);
  case IR_UINT8: return "UINT8_MAX";
  case IR_UINT16: return "UINT16_MAX";
  case IR_UINT32: return "UINT32_MAX";
  default: return "UINT64_MAX";
  }
}

static const char *red_init(emit_ctx *e, const ir_node *n) {
  ir_dtype t = n->inputs[0]->dtype;
  switch (red_op_of(n)) {
  case R_MAX: return emit_lowest(e, t);
  case R_MIN: return highest(e, t);
  case R_PROD: return emit_literal(e, t, 1);
  default: return emit_literal(e, t, 0);
  }
}

/* The output value from accumulator expression a. */
static const char *red_finish(emit_ctx *e, const ir_node *n, const char *a) {
  ir_dtype t = n->outputs[0]->dtype;
  int64_t count = ir_numel(n->inputs[0]) / ir_numel(n->outputs[0]);
  switch (red_op_of(n)) {
  case R_MEAN: return mem_printf(e->g->mem, "%s / %s", a, emit_literal(e, t, (double)count));
  case R_L2: return mem_printf(e->g->mem, "%s(%s)", math_fn(e, "sqrt", t), a);
  case R_LOGSUM: return mem_printf(e->g->mem, "%s(%s)", math_fn(e, "log", t), a);
  case R_LOGSUMEXP: return mem_printf(e->g->mem, "%s(%s) + m", math_fn(e, "log", t), a);
  default: return a;
  }
}

/* What an output over an empty set holds. */
static const char *red_empty(emit_ctx *e, const ir_node *n) {
  ir_dtype t = n->outputs[0]->dtype;
  red_op op = red_op_of(n);
  if (is_float(t) && op == R_MEAN)
    return emit_literal(e, t, NAN);
  if (is_float(t) && (op == R_LOGSUM || op == R_LOGSUMEXP))
    return emit_literal(e, t, -INFINITY);
  return red_init(e, n);
}

/* "g0 * s0 + g1 * s1 ..." over the groups selected by `which` (0 kept, 1
 * reduced, 2 all), with strides from `stride` or the groups' own. */
static const char *group_index(emit_ctx *e, const red_group *gr, int ng, int which,
                               const int64_t *stride) {
  char buf[512] = "0";
  size_t len = 0;
  for (int j = 0; j < ng; j++) {
    if (which != 2 && gr[j].reduced != (which == 1))
      continue;
    int64_t s = stride ? stride[j] : gr[j].stride;
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%sg%d", len ? " + " : "", j);
    if (s != 1)
      len += (size_t)snprintf(buf + len, sizeof buf - len, " * %lld", (long long)s);
  }
  return mem_strdup(e->g->mem, buf);
}

/* Opens the loops of the groups selected by `which`; the first may run on
 * threads, the last may carry an OpenMP simd clause (`simd`, or NULL). */
static int open_groups(emit_ctx *e, const red_group *gr, int ng, int which, int64_t total,
                       const char *simd) {
  int opened = 0, last = -1;
  for (int j = 0; j < ng; j++)
    if (which == 2 || gr[j].reduced == (which == 1))
      last = j;
  for (int j = 0; j <= last; j++) {
    if (which != 2 && gr[j].reduced != (which == 1))
      continue;
    const char *var = mem_printf(e->g->mem, "g%d", j);
    if (j == last && simd && (strstr(simd, "max:") || strstr(simd, "min:")))
      emit_simd_minmax(e, simd);
    else if (j == last && simd)
      cb_raw(e->body, "#ifdef _OPENMP\n#pragma omp simd %s\n#endif\n", simd);
    if (opened++ == 0 && !gr[j].reduced)
      emit_parallel_for(e, var, gr[j].size, total / gr[j].size);
    else
      emit_for(e, var, gr[j].size);
  }
  return opened;
}

/* Output strides of the kept groups (reduced ones get 0). */
static void out_strides(const red_group *gr, int ng, int64_t *os) {
  int64_t s = 1;
  for (int j = ng - 1; j >= 0; j--) {
    os[j] = gr[j].reduced ? 0 : s;
    s *= gr[j].reduced ? 1 : gr[j].size;
  }
}

/* One pass over the reduced groups: v is each value, `stmt` folds it in. */
static void reduce_pass(emit_ctx *e, const ir_node *n, const red_group *gr, int ng,
                        const char *stmt, const char *stmt2, const char *simd) {
  int loops = open_groups(e, gr, ng, 1, 0, simd);
  if (!loops) { /* a block of its own, so v can be declared again */
    emit_open(e, "%s", "");
    loops = 1;
  }
  emit_line(e, "const %s v = in0[%s];", ir_dtype_ctype(n->inputs[0]->dtype),
            group_index(e, gr, ng, 2, NULL));
  emit_line(e, "%s", stmt);
  if (stmt2)
    emit_line(e, "%s", stmt2);
  for (int i = 0; i < loops; i++)
    emit_close(e);
}

/* Each output is one accumulation in a register, over the reduced groups
 * as inner loops, vectorized through OpenMP simd reductions. Max and Min
 * track NaN in a flag so the select stays vectorizable; LogSumExp first
 * finds the maximum, for stability. */
static void emit_reduce_inner(emit_ctx *e, const ir_node *n, const red_group *gr, int ng) {
  ir_dtype t = n->inputs[0]->dtype;
  const char *T = ir_dtype_ctype(t);
  red_op op = red_op_of(n);
  bool minmax = op == R_MAX || op == R_MIN, nan = minmax && is_float(t);
  int64_t os[IR_MAX_RANK] = {0};
  out_strides(gr, ng, os);
  int outer = open_groups(e, gr, ng, 0, ir_numel(n->inputs[0]), NULL);
  if (op == R_LOGSUMEXP) {
    emit_line(e, "%s m = %s;", T, emit_lowest(e, t));
    reduce_pass(e, n, gr, ng, "m = v > m ? v : m;", NULL, "reduction(max: m)");
    if (is_float(t))
      emit_line(e, "if (isinf(m)) m = 0;");
  }
  emit_line(e, "%s a = %s;", T, red_init(e, n));
  if (nan)
    emit_line(e, "int bad = 0;");
  /* no simd clause where the loop calls exp: it would not vectorize */
  const char *simd = op == R_LOGSUMEXP ? NULL : op == R_PROD ? "reduction(*: a)"
                   : !minmax ? "reduction(+: a)"
                   : mem_printf(e->g->mem, "reduction(%s: a)%s", op == R_MAX ? "max" : "min",
                                nan ? " reduction(|: bad)" : "");
  const char *combine = !minmax ? red_combine(e, n) : op == R_MAX ? "v > a ? v : a" : "v < a ? v : a";
  reduce_pass(e, n, gr, ng, mem_printf(e->g->mem, "a = %s;", combine), nan ? "bad |= v != v;" : NULL,
              simd);
  const char *fin = red_finish(e, n, "a");
  if (nan)
    fin = mem_printf(e->g->mem, "bad ? %s : a", emit_literal(e, t, NAN));
  emit_line(e, "out0[%s] = %s;", group_index(e, gr, ng, 0, os), fin);
  for (int i = 0; i < outer; i++)
    emit_close(e);
}

/* A kept axis is innermost: walk the input in order and combine into the
 * output rows, which keeps both streams contiguous. */
static void emit_reduce_rows(emit_ctx *e, const ir_node *n, const red_group *gr, int ng) {
  const ir_tensor *y = n->outputs[0];
  const char *T = ir_dtype_ctype(y->dtype);
  int64_t os[IR_MAX_RANK] = {0};
  out_strides(gr, ng, os);
  emit_for(e, "i", ir_numel(y));
  emit_line(e, "out0[i] = %s;", red_init(e, n));
  emit_close(e);
  int loops = open_groups(e, gr, ng, 2, ir_numel(n->inputs[0]), NULL);
  const char *o = group_index(e, gr, ng, 0, os);
  emit_line(e, "const %s v = in0[%s], a = out0[%s];", T, group_index(e, gr, ng, 2, NULL), o);
  emit_line(e, "out0[%s] = %s;", o, red_combine(e, n));
  for (int i = 0; i < loops; i++)
    emit_close(e);
  const char *fin = red_finish(e, n, "out0[i]");
  if (strcmp(fin, "out0[i]") != 0) {
    emit_for(e, "i", ir_numel(y));
    emit_line(e, "out0[i] = %s;", fin);
    emit_close(e);
  }
}

static void emit_reduce(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *y = n->outputs[0];
  bool reduce[IR_MAX_RANK];
  red_group gr[IR_MAX_RANK];
  if (ir_numel(y) == 0 || red_axes(e->g, n, reduce))
    return;
  if (ir_numel(x) == 0) { /* every output reduces an empty set */
    emit_for(e, "i", ir_numel(y));
    emit_line(e, "out0[i] = %s;", red_empty(e, n));
    emit_close(e);
    return;
  }
  int ng = red_groups(x, reduce, gr);
  bool any_reduced = false;
  for (int j = 0; j < ng; j++)
    any_reduced |= gr[j].reduced;
  red_op op = red_op_of(n);
  bool identity = op == R_SUM || op == R_MEAN || op == R_MAX || op == R_MIN || op == R_PROD;
  if (!any_reduced && identity) /* each output is its one input */
    emit_line(e, "memcpy(out0, in0, %zu);", ir_bytes(y));
  else if (!any_reduced || gr[ng - 1].reduced || op == R_LOGSUMEXP)
    emit_reduce_inner(e, n, gr, ng);
  else
    emit_reduce_rows(e, n, gr, ng);
}

/* ---- gradient rules ---- */

/* Sum: every input element gets the gradient of its output element; mean
 * divides by the count reduced; sum of squares multiplies by 2x; L2 by
 * x / y; L1 by sign(x); log-sum by 1 / exp(y); log-sum-exp by exp(x - y); max and min give it to the elements equal to the result. dy (and
 * y) are reshaped to keep the reduced axes as 1s, then broadcast to the
 * input's shape. */
static nn_status grad_reduce(ad_ctx *ad, const ir_node *n) {
  ir_tensor *x = n->inputs[0];
  bool reduce[IR_MAX_RANK];
  if (red_axes(ad_graph(ad), n, reduce))
    return NN_ERR;
  ir_tensor kept = {.rank = x->rank};
  int64_t count = 1;
  for (int d = 0; d < x->rank; d++) {
    kept.dims[d] = reduce[d] ? 1 : x->dims[d];
    count *= reduce[d] ? x->dims[d] : 1;
  }
  ir_tensor *shape = ad_ints(ad, x->rank, x->dims);
  ir_tensor *dy = ad_reshape_to(ad, ad_out_grad(ad, n, 0), &kept);
  red_op op = red_op_of(n);
  if (op == R_MEAN && count != 1)
    dy = ad_op(ad, "Mul", dy, ad_scalar(ad, dy->dtype, 1.0 / (double)count));
  if (op == R_MAX || op == R_MIN) { /* to the elements equal to the result, split evenly among ties */
    ir_tensor *y = ad_op(ad, "Expand", ad_reshape_to(ad, n->outputs[0], &kept), shape);
    ir_node *c = ad_begin(ad, "", "Cast", 1, (ir_tensor *[]){ad_op(ad, "Equal", x, y)}, 1);
    ad_attr_int(ad, c, "to", x->dtype);
    ir_tensor *hit = ad_finish(ad, c);
    int64_t axes[IR_MAX_RANK];
    int n_axes = 0;
    for (int d = 0; d < x->rank; d++)
      if (reduce[d])
        axes[n_axes++] = d;
    ir_node *sum = ad_begin(ad, "", "ReduceSum", 2, (ir_tensor *[]){hit, ad_ints(ad, n_axes, axes)}, 1);
    ad_attr_int(ad, sum, "keepdims", 1);
    dy = ad_op(ad, "Div", dy, ad_finish(ad, sum));
    ad_give_grad(ad, n, 0, ad_op(ad, "Mul", ad_op(ad, "Expand", dy, shape), hit));
    return NN_OK;
  }
  if (op == R_LOGSUM) /* y = log(s): ds = dy / exp(y) */
    dy = ad_op(ad, "Div", dy, ad_op(ad, "Exp", ad_reshape_to(ad, n->outputs[0], &kept), NULL));
  ir_tensor *dx = ad_op(ad, "Expand", dy, shape);
  if (op == R_L1)
    dx = ad_activation_grad(ad, n, "abs", dx, x, NULL);
  if (op == R_LOGSUMEXP) { /* softmax of x over the reduced axes: exp(x - y) */
    ir_tensor *y = ad_op(ad, "Expand", ad_reshape_to(ad, n->outputs[0], &kept), shape);
    dx = ad_op(ad, "Mul", dx, ad_op(ad, "Exp", ad_op(ad, "Sub", x, y), NULL));
  }
  if (op == R_SUMSQ)
    dx = ad_op(ad, "Mul", dx, ad_op(ad, "Add", x, x));
  if (op == R_L2) {
    ir_tensor *y = ad_op(ad, "Expand", ad_reshape_to(ad, n->outputs[0], &kept), shape);
    dx = ad_op(ad, "Mul", dx, ad_op(ad, "Div", x, y));
  }
  ad_give_grad(ad, n, 0, dx);
  return NN_OK;
}

const op_def op_family_reduction[] = {
    {"ReduceSum", "", infer_reduce, NULL, emit_reduce, 0, OP_CONST(1), .grad = grad_reduce},
    {"ReduceMean", "", infer_reduce, NULL, emit_reduce, 0, OP_CONST(1), .grad = grad_reduce},
    {"ReduceMax", "", infer_reduce, NULL, emit_reduce, 0, OP_CONST(1), .grad = grad_reduce},
    {"ReduceMin", "", infer_reduce, NULL, emit_reduce, 0, OP_CONST(1), .grad = grad_reduce},
    {"ReduceProd", "", infer_reduce, NULL, emit_reduce, 0, OP_CONST(1)},
    {"ReduceSumSquare", "", infer_reduce, NULL, emit_reduce, 0, OP_CONST(1), .grad = grad_reduce},
    {"ReduceL1", "", infer_reduce, NULL, emit_reduce, 0, OP_CONST(1), .grad = grad_reduce},
    {"ReduceL2", "", infer_reduce, NULL, emit_reduce, 0, OP_CONST(1), .grad = grad_reduce},
    {"ReduceLogSum", "", infer_reduce, NULL, emit_reduce, 0, OP_CONST(1), .grad = grad_reduce},
    {"ReduceLogSumExp", "", infer_reduce, NULL, emit_reduce, 0, OP_CONST(1), .grad = grad_reduce},
    {NULL},
};
