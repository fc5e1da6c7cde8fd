/* Losses over class scores [N, C, d1..dk] and labels [N, d1..dk]:
 * NegativeLogLikelihoodLoss (scores are log-probabilities) and
 * SoftmaxCrossEntropyLoss (a LogSoftmax over C first, optionally returned).
 * Labels are read at run time; one equal to ignore_index, or outside
 * [0, C), adds nothing to the loss nor to the mean's divisor, and is never
 * used as an index. */
#include <stdio.h>

#include "common.h"

#define FMT(...) mem_printf(e->g->mem, __VA_ARGS__)

typedef enum { RED_NONE, RED_SUM, RED_MEAN } loss_red;

static bool is_sce(const ir_node *n) { return strcmp(n->op_type, "SoftmaxCrossEntropyLoss") == 0; }

static nn_status loss_reduction(ir_graph *g, const ir_node *n, loss_red *r) {
  const char *s = ir_attr_string(n, "reduction", "mean");
  if (strcmp(s, "none") == 0)
    *r = RED_NONE;
  else if (strcmp(s, "sum") == 0)
    *r = RED_SUM;
  else if (strcmp(s, "mean") == 0)
    *r = RED_MEAN;
  else
    return diag_node(g->path, n, "reduction '%s' is not one of none, sum, mean", s);
  return NN_OK;
}

/* Labels must have the scores' shape without the class axis. */
static nn_status check_labels(ir_graph *g, const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *t = n->inputs[1];
  char a[128], b[128];
  if (!t)
    return diag_node(g->path, n, "input 1 (labels) is missing");
  if (t->dtype != IR_INT32 && t->dtype != IR_INT64)
    return diag_node(g->path, n, "input 1 (labels) has dtype %s; expected int32 or int64",
                     ir_dtype_name(t->dtype));
  bool ok = t->rank == x->rank - 1 && t->dims[0] == x->dims[0];
  for (int d = 1; ok && d < t->rank; d++)
    ok = t->dims[d] == x->dims[d + 1];
  if (!ok)
    return diag_node(g->path, n, "labels %s do not match scores %s without the class axis",
                     ir_shape_str(t, a, sizeof a), ir_shape_str(x, b, sizeof b));
  return NN_OK;
}

static nn_status check_weight(ir_graph *g, const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *w = ir_in(n, 2);
  if (w && (w->rank != 1 || w->dims[0] != x->dims[1] || w->dtype != x->dtype))
    return diag_node(g->path, n, "input 2 (weight) must be a %s vector of C = %lld values",
                     ir_dtype_name(x->dtype), (long long)x->dims[1]);
  return NN_OK;
}

static nn_status infer_loss(ir_graph *g, ir_node *n) {
  loss_red red = RED_MEAN;
  if (check_arity(g, n, 2, 3) || check_float(g, n, 0) || loss_reduction(g, n, &red))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0], *t = n->inputs[1];
  if (x->rank < 2)
    return diag_node(g->path, n, "input 0 has rank %d; expected [N, C, d1, ...]", x->rank);
  if (x->dims[1] == 0)
    return diag_node(g->path, n, "input 0 has no classes (C = 0)");
  if (check_labels(g, n) || check_weight(g, n))
    return NN_ERR;
  if (red == RED_NONE)
    ir_set_shape(n->outputs[0], x->dtype, t->rank, t->dims);
  else
    ir_set_shape(n->outputs[0], x->dtype, 0, NULL);
  if (ir_out(n, 1)) {
    if (!is_sce(n))
      return diag_node(g->path, n, "has %d outputs; expects 1", n->n_outputs);
    ir_set_shape(n->outputs[1], x->dtype, x->rank, x->dims);
  }
  return NN_OK;
}

/* ---- emission ---- */

/* Inside the loop over positions p < N * D: points x (and lp, the
 * log-probabilities) at p's first class, then for SCE leaves in `lse` the
 * log of the sum of exponentials over the classes (shifted by their max). */
static void emit_scores(emit_ctx *e, const ir_node *n, int64_t C, int64_t D) {
  ir_dtype t = n->inputs[0]->dtype;
  const char *T = ir_dtype_ctype(t);
  const char *base = D == 1 ? FMT("p * %lld", (long long)C)
                            : FMT("p / %lld * %lld + p %% %lld", (long long)D,
                                  (long long)(C * D), (long long)D);
  emit_line(e, "const %s *x = in0 + %s;", T, base);
  if (!is_sce(n))
    return;
  const char *c = emit_scaled(e, "c", D);
  emit_line(e, "%s m = x[0], s = %s;", T, emit_literal(e, t, 0));
  emit_for(e, "c", C);
  emit_line(e, "m = x[%s] > m ? x[%s] : m;", c, c);
  emit_close(e);
  emit_for(e, "c", C);
  emit_line(e, "s += %s(x[%s] - m);", math_fn(e, "exp", t), c);
  emit_close(e);
  emit_line(e, "const %s lse = m + %s(s);", T, math_fn(e, "log", t));
  if (!ir_out(n, 1))
    return;
  emit_line(e, "%s *lp = out1 + %s;", T, base);
  emit_for(e, "c", C);
  emit_line(e, "lp[%s] = x[%s] - lse;", c, c);
  emit_close(e);
}

/* Leaves in w the label's weight (0 when it is ignored or out of range)
 * and in l its negative log-probability (0 likewise). */
static void emit_label(emit_ctx *e, const ir_node *n, int64_t C, int64_t D) {
  ir_dtype t = n->inputs[0]->dtype;
  const char *T = ir_dtype_ctype(t);
  emit_line(e, "const int64_t t = in1[p];");
  const char *ok = FMT("t >= 0 && t < %lld", (long long)C);
  if (ir_attr_find(n, "ignore_index"))
    ok = FMT("%s && t != %s", ok, emit_literal(e, IR_INT64, (double)ir_attr_int(n, "ignore_index", 0)));
  emit_line(e, "const int ok = %s;", ok);
  emit_line(e, "const %s w = ok ? %s : %s;", T, ir_in(n, 2) ? "in2[t]" : emit_literal(e, t, 1),
            emit_literal(e, t, 0));
  const char *lp = FMT("x[%s]%s", emit_scaled(e, "t", D), is_sce(n) ? " - lse" : "");
  emit_line(e, "const %s l = ok ? -(%s) : %s;", T, lp, emit_literal(e, t, 0));
}

static void emit_loss(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  ir_dtype t = x->dtype;
  loss_red red = RED_MEAN;
  if (loss_reduction(e->g, n, &red))
    return;
  int64_t N = x->dims[0], C = x->dims[1], D = 1;
  for (int d = 2; d < x->rank; d++)
    D *= x->dims[d];
  if (red == RED_NONE) {
    if (N * D == 0)
      return;
    emit_parallel_for(e, "p", N * D, C * (is_sce(n) ? 8 : 1));
  } else {
    /* the sums run in double, whatever the scores' type */
    emit_line(e, red == RED_MEAN ? "double acc = 0, wsum = 0;" : "double acc = 0;");
    emit_for(e, "p", N * D);
  }
  emit_scores(e, n, C, D);
  emit_label(e, n, C, D);
  if (red == RED_NONE) {
    emit_line(e, "out0[p] = w * l;");
    emit_close(e);
    return;
  }
  emit_line(e, "acc += (double)w * l;");
  if (red == RED_MEAN)
    emit_line(e, "wsum += w;");
  emit_close(e);
  emit_line(e, "out0[0] = (%s)(%s);", ir_dtype_ctype(t), red == RED_SUM ? "acc" : "acc / wsum");
}

const op_def op_family_loss[] = {
    {"NegativeLogLikelihoodLoss", "", infer_loss, NULL, emit_loss, 0},
    {"SoftmaxCrossEntropyLoss", "", infer_loss, NULL, emit_loss, 0},
    {NULL},
};
