/* Internal kernels of training's update (domain "nncc", never exported):
 * the optimizer step of one param with PyTorch's formulas (torch.optim,
 * single-tensor path) in the param's own type, and the global-norm clip
 * factor. Both see the same effective gradient (docs/training.md). */
#include <stdio.h>

#include "common.h"

#define FMT(...) mem_printf(e->g->mem, __VA_ARGS__)

static const char *lit(emit_ctx *e, ir_dtype t, double v) { return emit_literal(e, t, v); }

static nn_status same_shape(ir_graph *g, const ir_node *n, int a, int b) {
  const ir_tensor *x = ir_in(n, a), *y = ir_in(n, b);
  if (!x || !y || x->dtype != y->dtype || x->rank != y->rank ||
      memcmp(x->dims, y->dims, sizeof *x->dims * (size_t)x->rank) != 0)
    return diag_node(g->path, n, "inputs %d and %d must have the same dtype and shape", a, b);
  return NN_OK;
}

/* ---- the effective gradient: scaled, regularised, clipped by value ---- */

typedef struct grad_terms {
  double l1, l2, clip_value;
} grad_terms;

static grad_terms read_terms(const ir_node *n) {
  return (grad_terms){ir_attr_float(n, "l1", 0), ir_attr_float(n, "l2", 0),
                      ir_attr_float(n, "clip_value", 0)};
}

/* Declares `g`, the gradient the optimizer sees, from w (the param), gs (the
 * accumulated gradient) and scale: gs * scale + l1 * sign(w) + 2 * l2 * w
 * (the derivatives of l1 * |w| and l2 * w^2 added to the loss), then
 * clamped to +-clip_value. */
static void emit_effective_grad(emit_ctx *e, grad_terms k, ir_dtype t) {
  const char *ct = ir_dtype_ctype(t);
  emit_line(e, "%s g = gs * scale; (void)w;", ct);
  if (k.l1)
    emit_line(e, "g += %s * (%s)((w > 0) - (w < 0));", lit(e, t, k.l1), ct);
  if (k.l2)
    emit_line(e, "g += %s * w;", lit(e, t, 2 * k.l2));
  if (k.clip_value) {
    emit_line(e, "g = g > %s ? %s : g;", lit(e, t, k.clip_value), lit(e, t, k.clip_value));
    emit_line(e, "g = g < %s ? %s : g;", lit(e, t, -k.clip_value), lit(e, t, -k.clip_value));
  }
}

/* ---- ClipFactor: (scale, w0, g0, w1, g1, ...) -> min(1, max_norm / (norm + 1e-6)),
 * the norm over every effective gradient, as torch.nn.utils.clip_grad_norm_ ---- */

static nn_status infer_clip_factor(ir_graph *g, ir_node *n) {
  if (n->n_inputs < 3 || n->n_inputs % 2 == 0)
    return diag_node(g->path, n, "needs scale then (param, gradient) pairs");
  for (int k = 1; k < n->n_inputs; k += 2)
    if (same_shape(g, n, k, k + 1))
      return NN_ERR;
  ir_set_shape(n->outputs[0], IR_FLOAT, 0, NULL);
  return NN_OK;
}

static void emit_clip_factor(emit_ctx *e, const ir_node *n) {
  grad_terms k = read_terms(n);
  emit_line(e, "const float scale = in0[0];");
  emit_line(e, "double sq = 0;");
  for (int p = 1; p < n->n_inputs; p += 2) {
    ir_dtype t = n->inputs[p]->dtype;
    emit_for(e, "i", ir_numel(n->inputs[p]));
    emit_line(e, "const %s w = in%d[i], gs = in%d[i];", ir_dtype_ctype(t), p, p + 1);
    emit_effective_grad(e, k, t);
    emit_line(e, "sq += (double)g * (double)g;");
    emit_close(e);
  }
  emit_line(e, "const double c = %.17g / (sqrt(sq) + 1e-6);", ir_attr_float(n, "clip_norm", 1));
  emit_line(e, "out0[0] = c < 1 ? (float)c : 1.0f;");
}

/* ---- Optimize: (param, grad, lr, step, scale, m1, m2, clip factor) ----
 * Updates param and moments in place, then zeroes the gradient. */

static nn_status infer_optimize(ir_graph *g, ir_node *n) {
  if (n->n_inputs != 8 || same_shape(g, n, 0, 1) || (n->inputs[5] && same_shape(g, n, 0, 5)) ||
      (n->inputs[6] && same_shape(g, n, 0, 6)))
    return diag_node(g->path, n, "needs param, gradient, lr, step, scale, moments, clip factor");
  for (int k = 0; k < 7; k++)
    if (k != 2 && k != 3 && k != 4 && n->inputs[k] && n->inputs[k]->kind != IR_STATE)
      return diag_node(g->path, n, "input %d must be state", k);
  return NN_OK;
}

static void emit_optimize(emit_ctx *e, const ir_node *n) {
  ir_dtype t = n->inputs[0]->dtype;
  const char *ct = ir_dtype_ctype(t), *one = lit(e, t, 1);
  const char *kind = ir_attr_string(n, "kind", "sgd");
  double mom = ir_attr_float(n, "momentum", 0), b1 = ir_attr_float(n, "beta1", 0.9);
  double b2 = ir_attr_float(n, "beta2", 0.999), rho = ir_attr_float(n, "rho", 0.99);
  double eps = ir_attr_float(n, "epsilon", 1e-8), wd = ir_attr_float(n, "weight_decay", 0);
  int64_t count = ir_numel(n->inputs[0]);
  bool adam = strncmp(kind, "adam", 4) == 0;
  emit_line(e, "const %s lr = (%s)in2[0];", ct, ct);
  emit_line(e, "const %s scale = (%s)in4[0]%s;", ct, ct, n->inputs[7] ? " * in7[0]" : "");
  if (adam) { /* bias corrections in double, as Python computes them */
    emit_line(e, "const double step = (double)in3[0];");
    emit_line(e, "const %s step_size = (%s)((double)lr / (1.0 - pow(%.17g, step)));", ct, ct, b1);
    emit_line(e, "const %s bc2_sqrt = (%s)sqrt(1.0 - pow(%.17g, step));", ct, ct, b2);
  } else {
    emit_line(e, "(void)in3;");
  }
  if (count == 0)
    return;
  emit_parallel_for(e, "i", count, 16);
  emit_line(e, "%s w = in0[i];", ct);
  emit_line(e, "const %s gs = in1[i];", ct);
  emit_effective_grad(e, read_terms(n), t);
  if (wd && strcmp(kind, "adamw") == 0)
    emit_line(e, "w *= %s - lr * %s;", one, lit(e, t, wd)); /* decoupled decay */
  else if (wd)
    emit_line(e, "g += %s * w;", lit(e, t, wd));
  if (strcmp(kind, "sgd") == 0) {
    emit_line(e, "w -= lr * g;");
  } else if (strcmp(kind, "momentum") == 0 || strcmp(kind, "nesterov") == 0) {
    emit_line(e, "const %s buf = %s * in5[i] + g;", ct, lit(e, t, mom));
    emit_line(e, "in5[i] = buf;");
    emit_line(e, "w -= lr * %s;", kind[0] == 'n' ? FMT("(g + %s * buf)", lit(e, t, mom)) : "buf");
  } else if (strcmp(kind, "adagrad") == 0) {
    emit_line(e, "const %s sum = in5[i] + g * g;", ct);
    emit_line(e, "in5[i] = sum;");
    emit_line(e, "w -= lr * (g / (%s(sum) + %s));", math_fn(e, "sqrt", t), lit(e, t, eps));
  } else if (strcmp(kind, "rmsprop") == 0) {
    emit_line(e, "const %s sq = %s * in5[i] + %s * g * g;", ct, lit(e, t, rho), lit(e, t, 1 - rho));
    emit_line(e, "in5[i] = sq;");
    emit_line(e, "w -= lr * (g / (%s(sq) + %s));", math_fn(e, "sqrt", t), lit(e, t, eps));
  } else if (adam) {
    emit_line(e, "const %s m = in5[i] + (g - in5[i]) * %s;", ct, lit(e, t, 1 - b1));
    emit_line(e, "const %s v = %s * in6[i] + %s * g * g;", ct, lit(e, t, b2), lit(e, t, 1 - b2));
    emit_line(e, "in5[i] = m;");
    emit_line(e, "in6[i] = v;");
    emit_line(e, "w -= step_size * (m / (%s(v) / bc2_sqrt + %s));", math_fn(e, "sqrt", t),
              lit(e, t, eps));
  } else {
    NN_BUG("Optimize: unknown kind");
  }
  emit_line(e, "in0[i] = w;");
  emit_line(e, "in1[i] = %s;", lit(e, t, 0));
  emit_close(e);
}

const op_def op_family_optimize[] = {
    {"ClipFactor", "nncc", infer_clip_factor, NULL, emit_clip_factor, 0},
    {"Optimize", "nncc", infer_optimize, NULL, emit_optimize, OP_UPDATES_STATE},
    {NULL},
};
