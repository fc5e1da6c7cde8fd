/* ReduceSum, ReduceMean, ReduceMax over constant axes. Runs of adjacent
 * axes that are all reduced or all kept merge into one loop, so a reduction
 * becomes at most a few nested loops with literal bounds. */
#include <stdio.h>

#include "common.h"

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
  if (x->dtype == IR_BOOL && strcmp(n->op_type, "ReduceMax") != 0)
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

/* The running combination of accumulator a with value v. */
static const char *red_combine(const ir_node *n) {
  if (strcmp(n->op_type, "ReduceMax") != 0)
    return "a + v";
  ir_dtype t = n->inputs[0]->dtype;
  return t == IR_FLOAT || t == IR_DOUBLE ? "(v > a || v != v) ? v : a" : "v > a ? v : a";
}

static const char *red_init(emit_ctx *e, const ir_node *n) {
  ir_dtype t = n->inputs[0]->dtype;
  return strcmp(n->op_type, "ReduceMax") == 0 ? emit_lowest(e, t) : emit_literal(e, t, 0);
}

/* "a" or, for ReduceMean, "a / count". */
static const char *red_finish(emit_ctx *e, const ir_node *n, const char *a) {
  if (strcmp(n->op_type, "ReduceMean") != 0)
    return a;
  int64_t count = ir_numel(n->inputs[0]) / ir_numel(n->outputs[0]);
  return mem_printf(e->g->mem, "%s / %s", a, emit_literal(e, n->outputs[0]->dtype, (double)count));
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

/* Opens the loops of the groups selected by `which`; the first may run on threads. */
static int open_groups(emit_ctx *e, const red_group *gr, int ng, int which, int64_t total) {
  int opened = 0;
  for (int j = 0; j < ng; j++) {
    if (which != 2 && gr[j].reduced != (which == 1))
      continue;
    const char *var = mem_printf(e->g->mem, "g%d", j);
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

/* The reduced axes are innermost: each output is one register accumulation. */
static void emit_reduce_inner(emit_ctx *e, const ir_node *n, const red_group *gr, int ng) {
  const char *T = ir_dtype_ctype(n->inputs[0]->dtype);
  int64_t os[IR_MAX_RANK];
  out_strides(gr, ng, os);
  int outer = open_groups(e, gr, ng, 0, ir_numel(n->inputs[0]));
  emit_line(e, "%s a = %s;", T, red_init(e, n));
  int inner = open_groups(e, gr, ng, 1, 0);
  emit_line(e, "const %s v = in0[%s];", T, group_index(e, gr, ng, 2, NULL));
  emit_line(e, "a = %s;", red_combine(n));
  for (int i = 0; i < inner; i++)
    emit_close(e);
  emit_line(e, "out0[%s] = %s;", group_index(e, gr, ng, 0, os), red_finish(e, n, "a"));
  for (int i = 0; i < outer; i++)
    emit_close(e);
}

/* A kept axis is innermost: walk the input in order and combine into the
 * output rows, which keeps both streams contiguous. */
static void emit_reduce_rows(emit_ctx *e, const ir_node *n, const red_group *gr, int ng) {
  const ir_tensor *y = n->outputs[0];
  const char *T = ir_dtype_ctype(y->dtype);
  int64_t os[IR_MAX_RANK];
  out_strides(gr, ng, os);
  emit_for(e, "i", ir_numel(y));
  emit_line(e, "out0[i] = %s;", red_init(e, n));
  emit_close(e);
  int loops = open_groups(e, gr, ng, 2, ir_numel(n->inputs[0]));
  const char *o = group_index(e, gr, ng, 0, os);
  emit_line(e, "const %s v = in0[%s], a = out0[%s];", T, group_index(e, gr, ng, 2, NULL), o);
  emit_line(e, "out0[%s] = %s;", o, red_combine(n));
  for (int i = 0; i < loops; i++)
    emit_close(e);
  if (strcmp(n->op_type, "ReduceMean") == 0) {
    emit_for(e, "i", ir_numel(y));
    emit_line(e, "out0[i] = %s;", red_finish(e, n, "out0[i]"));
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
    bool nan = strcmp(n->op_type, "ReduceMean") == 0 && (y->dtype == IR_FLOAT || y->dtype == IR_DOUBLE);
    const char *v = nan ? emit_literal(e, y->dtype, NAN) : red_init(e, n);
    emit_for(e, "i", ir_numel(y));
    emit_line(e, "out0[i] = %s;", v);
    emit_close(e);
    return;
  }
  int ng = red_groups(x, reduce, gr);
  bool any_reduced = false;
  for (int j = 0; j < ng; j++)
    any_reduced |= gr[j].reduced;
  if (!any_reduced)
    emit_line(e, "memcpy(out0, in0, %zu);", ir_bytes(y));
  else if (gr[ng - 1].reduced)
    emit_reduce_inner(e, n, gr, ng);
  else
    emit_reduce_rows(e, n, gr, ng);
}

const op_def op_family_reduction[] = {
    {"ReduceSum", "", infer_reduce, NULL, emit_reduce, 0},
    {"ReduceMean", "", infer_reduce, NULL, emit_reduce, 0},
    {"ReduceMax", "", infer_reduce, NULL, emit_reduce, 0},
    {NULL},
};
