/* The ai.onnx.preview.training optimizers: Adagrad, Momentum (standard and
 * Nesterov) and Adam, as ONNX defines them: pure functions from (R, T, the
 * tensors, their gradients and optimizer state) to the updated tensors and
 * state, for any number of tensors at once. nncc's own trainer uses its
 * in-place update kernels instead (docs/training.md). */
#include <stdio.h>

#include "common.h"

#define FMT(...) mem_printf(e->g->mem, __VA_ARGS__)

/* Groups after R and T: Adagrad X, G, H; Momentum X, G, V; Adam X, G, V, H. */
static int groups_of(const ir_node *n) { return strcmp(n->op_type, "Adam") == 0 ? 4 : 3; }

static nn_status infer_optimizer(ir_graph *g, ir_node *n) {
  int groups = groups_of(n);
  int tensors = (n->n_inputs - 2) / groups;
  if (n->n_inputs < 2 + groups || (n->n_inputs - 2) % groups)
    return diag_node(g->path, n, "%d inputs: want R, T and %d groups of equally many tensors",
                     n->n_inputs, groups);
  if (n->n_outputs != tensors * (groups - 1))
    return diag_node(g->path, n, "%d outputs: want %d for %d tensors", n->n_outputs,
                     tensors * (groups - 1), tensors);
  const ir_tensor *r = n->inputs[0], *t = n->inputs[1];
  if (!r || !t || ir_numel(r) != 1 || ir_numel(t) != 1 || t->dtype != IR_INT64 ||
      (r->dtype != IR_FLOAT && r->dtype != IR_DOUBLE))
    return diag_node(g->path, n, "R must be one float and T one int64");
  if (strcmp(n->op_type, "Momentum") == 0) {
    const char *mode = ir_attr_string(n, "mode", "");
    if (strcmp(mode, "standard") && strcmp(mode, "nesterov"))
      return diag_node(g->path, n, "mode '%s' is neither standard nor nesterov", mode);
  }
  for (int i = 0; i < tensors; i++) {
    const ir_tensor *x = n->inputs[2 + i];
    if (check_float(g, n, 2 + i))
      return NN_ERR;
    for (int k = 1; k < groups; k++) {
      const ir_tensor *o = n->inputs[2 + k * tensors + i];
      if (!o || o->dtype != x->dtype || ir_numel(o) != ir_numel(x))
        return diag_node(g->path, n, "input %d must match tensor %d's dtype and size", 2 + k * tensors + i, i);
    }
    for (int k = 0; k < groups - 1; k++)
      if (n->outputs[k * tensors + i])
        ir_set_shape(n->outputs[k * tensors + i], x->dtype, x->rank, x->dims);
  }
  return NN_OK;
}

static void emit_optimizer(emit_ctx *e, const ir_node *n) {
  int groups = groups_of(n), tensors = (n->n_inputs - 2) / groups;
  bool adam = strcmp(n->op_type, "Adam") == 0, adagrad = strcmp(n->op_type, "Adagrad") == 0;
  for (int i = 0; i < tensors; i++) {
    const ir_tensor *x = n->inputs[2 + i];
    ir_dtype t = x->dtype;
    const char *T = ir_dtype_ctype(t), *sqrt_ = math_fn(e, "sqrt", t), *pow_ = math_fn(e, "pow", t);
    int xi = 2 + i, gi = xi + tensors, si = gi + tensors, hi = si + tensors;
    const char *lam = emit_literal(e, t, ir_attr_float(n, "norm_coefficient", 0));
    emit_open(e, "/* tensor %d */", i);
    emit_line(e, "const %s R = (%s)in0[0];", T, T);
    emit_line(e, "const int64_t step = in1[0];");
    emit_line(e, "(void)R, (void)step;");
    if (adagrad) {
      double decay = ir_attr_float(n, "decay_factor", 0);
      emit_line(e, "const %s r = R / (1 + (%s)step * %s);", T, T, emit_literal(e, t, decay));
    } else if (adam) {
      double a = ir_attr_float(n, "alpha", 0.9), b = ir_attr_float(n, "beta", 0.999);
      emit_line(e, "const %s r = step > 0 ? R * %s(1 - %s(%s, (%s)step)) / (1 - %s(%s, (%s)step)) : R;",
                T, sqrt_, pow_, emit_literal(e, t, b), T, pow_, emit_literal(e, t, a), T);
    } else {
      emit_line(e, "const %s beta = step > 0 ? %s : 1;", T,
                emit_literal(e, t, ir_attr_float(n, "beta", 0)));
    }
    emit_for(e, "k", ir_numel(x));
    emit_line(e, "const %s g = %s * in%d[k] + in%d[k];", T, lam, xi, gi);
    const ir_tensor *xo = ir_out(n, i), *so = ir_out(n, tensors + i), *ho = adam ? ir_out(n, 2 * tensors + i) : NULL;
    const char *xw = xo ? FMT("out%d[k] = ", i) : "(void)";
    const char *sw = so ? FMT("out%d[k] = ", tensors + i) : "(void)";
    if (adagrad) {
      double eps = ir_attr_float(n, "epsilon", 1e-6);
      emit_line(e, "const %s h = in%d[k] + g * g;", T, si);
      emit_line(e, "%s(in%d[k] - r * g / (%s(h) + %s));", xw, xi, sqrt_, emit_literal(e, t, eps));
      emit_line(e, "%sh;", sw);
    } else if (adam) {
      double a = ir_attr_float(n, "alpha", 0.9), b = ir_attr_float(n, "beta", 0.999);
      double eps = ir_attr_float(n, "epsilon", 1e-6), post = ir_attr_float(n, "norm_coefficient_post", 0);
      const char *hw = ho ? FMT("out%d[k] = ", 2 * tensors + i) : "(void)";
      emit_line(e, "const %s v = %s * in%d[k] + (1 - %s) * g;", T, emit_literal(e, t, a), si,
                emit_literal(e, t, a));
      emit_line(e, "const %s h = %s * in%d[k] + (1 - %s) * g * g;", T, emit_literal(e, t, b), hi,
                emit_literal(e, t, b));
      emit_line(e, "%s((1 - %s) * (in%d[k] - r * v / (%s(h) + %s)));", xw, emit_literal(e, t, post),
                xi, sqrt_, emit_literal(e, t, eps));
      emit_line(e, "%sv;", sw);
      emit_line(e, "%sh;", hw);
    } else {
      bool nesterov = strcmp(ir_attr_string(n, "mode", ""), "nesterov") == 0;
      const char *alpha = emit_literal(e, t, ir_attr_float(n, "alpha", 0));
      emit_line(e, "const %s v = %s * in%d[k] + beta * g;", T, alpha, si);
      if (nesterov)
        emit_line(e, "%s(in%d[k] - R * (g + %s * v));", xw, xi, alpha);
      else
        emit_line(e, "%s(in%d[k] - R * v);", xw, xi);
      emit_line(e, "%sv;", sw);
    }
    emit_close(e);
    emit_close(e);
  }
}

const op_def op_family_preview_training[] = {
    {"Adagrad", "ai.onnx.preview.training", infer_optimizer, NULL, emit_optimizer, 0},
    {"Momentum", "ai.onnx.preview.training", infer_optimizer, NULL, emit_optimizer, 0},
    {"Adam", "ai.onnx.preview.training", infer_optimizer, NULL, emit_optimizer, 0},
    {NULL},
};
