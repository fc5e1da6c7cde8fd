/* Internal kernels of training (domain "nncc", never exported): the fused
 * loss, activation derivatives, the gradients of broadcasting, slicing and
 * gathering, and gradient accumulation. The optimizer updates are in
 * optimize.c. */
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

/* ---- ReduceToShape: sums a broadcast gradient back to its input's shape ---- */

static nn_status infer_reduce_to_shape(ir_graph *g, ir_node *n) {
  const int64_t *dims;
  int rank = ir_attr_ints(n, "shape", &dims);
  if (check_arity(g, n, 1, 1) || rank > n->inputs[0]->rank)
    return diag_node(g->path, n, "needs one input of rank >= the target shape's");
  for (int d = 0; d < rank; d++) {
    int64_t have = n->inputs[0]->dims[n->inputs[0]->rank - rank + d];
    if (dims[d] != 1 && dims[d] != have)
      return diag_node(g->path, n, "target dim %d (%lld) does not broadcast to %lld", d,
                       (long long)dims[d], (long long)have);
  }
  ir_set_shape(n->outputs[0], n->inputs[0]->dtype, rank, dims);
  return NN_OK;
}

static void emit_reduce_to_shape(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (ir_numel(x) == 0)
    return;
  emit_line(e, "memset(out0, 0, %zu);", ir_bytes(y));
  int loops = emit_loops(e, x, "d");
  emit_line(e, "out0[%s] += in0[%s];", emit_bcast_index(e, y, x, "d"), emit_bcast_index(e, x, x, "d"));
  for (int i = 0; i < loops; i++)
    emit_close(e);
}

/* ---- ActivationGrad: dx = dy * f'(x) in one pass; kind names f ---- */

static nn_status infer_activation_grad(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 3, 3) || check_float(g, n, 0))
    return NN_ERR;
  for (int k = 1; k < 3; k++)
    if (n->inputs[k] && same_shape(g, n, 0, k))
      return NN_ERR;
  return infer_same_as_input(g, n);
}

/* The derivative as an expression of d (dy), x and y, or NULL for an unknown kind. */
static const char *activation_derivative(emit_ctx *e, const ir_node *n) {
  ir_dtype t = n->inputs[0]->dtype;
  const char *kind = ir_attr_string(n, "kind", "");
  const char *z = lit(e, t, 0), *one = lit(e, t, 1);
  if (strcmp(kind, "relu") == 0) /* PyTorch: zero gradient at 0 */
    return FMT("y > %s ? d : %s", z, z);
  if (strcmp(kind, "leakyrelu") == 0)
    return FMT("x > %s ? d : %s * d", z, lit(e, t, ir_attr_float(n, "alpha", 0.01)));
  if (strcmp(kind, "sigmoid") == 0)
    return FMT("d * y * (%s - y)", one);
  if (strcmp(kind, "tanh") == 0)
    return FMT("d * (%s - y * y)", one);
  if (strcmp(kind, "elu") == 0) /* y + alpha = alpha * exp(x) below 0 */
    return FMT("x > %s ? d : d * (y + %s)", z, lit(e, t, ir_attr_float(n, "alpha", 1.0)));
  if (strcmp(kind, "selu") == 0) {
    double alpha = ir_attr_float(n, "alpha", 1.67326319217681884765625);
    double gamma = ir_attr_float(n, "gamma", 1.05070102214813232421875);
    return FMT("x > %s ? %s * d : %s * d * %s(x)", z, lit(e, t, gamma), lit(e, t, gamma * alpha),
               math_fn(e, "exp", t));
  }
  if (strcmp(kind, "softplus") == 0)
    return FMT("d / (%s + %s(-x))", one, math_fn(e, "exp", t));
  if (strcmp(kind, "hardsigmoid") == 0) {
    const char *h = FMT("(%s * x + %s)", lit(e, t, ir_attr_float(n, "alpha", 0.2)),
                        lit(e, t, ir_attr_float(n, "beta", 0.5)));
    return FMT("%s > %s && %s < %s ? %s * d : %s", h, z, h, one,
               lit(e, t, ir_attr_float(n, "alpha", 0.2)), z);
  }
  if (strcmp(kind, "softsign") == 0)
    return FMT("d / ((%s + %s(x)) * (%s + %s(x)))", one, math_fn(e, "fabs", t), one,
               math_fn(e, "fabs", t));
  if (strcmp(kind, "hardswish") == 0) /* PyTorch's sides of the kinks */
    return FMT("x < %s ? %s : x <= %s ? d * (x / %s + %s) : d", lit(e, t, -3), z, lit(e, t, 3),
               lit(e, t, 3), lit(e, t, 0.5));
  if (strcmp(kind, "erf") == 0)
    return FMT("d * %s * %s(-x * x)", lit(e, t, 1.1283791670955126), math_fn(e, "exp", t));
  if (strcmp(kind, "abs") == 0)
    return FMT("x > %s ? d : x < %s ? -d : %s", z, z, z);
  if (strcmp(kind, "celu") == 0) {
    double alpha = ir_attr_float(n, "alpha", 1.0);
    return FMT("x > %s ? d : d * %s(x / %s)", z, math_fn(e, "exp", t), lit(e, t, alpha));
  }
  if (strcmp(kind, "thresholdedrelu") == 0)
    return FMT("x > %s ? d : %s", lit(e, t, ir_attr_float(n, "alpha", 1.0)), z);
  if (strcmp(kind, "shrink") == 0) { /* alpha: lambd */
    const char *l = lit(e, t, ir_attr_float(n, "alpha", 0.5));
    return FMT("x < -%s || x > %s ? d : %s", l, l, z);
  }
  if (strcmp(kind, "swish") == 0) { /* s = sigmoid(alpha x): s + alpha x s (1 - s) */
    const char *a = lit(e, t, ir_attr_float(n, "alpha", 1.0));
    const char *sg = FMT("(%s / (%s + %s(-%s * x)))", one, one, math_fn(e, "exp", t), a);
    return FMT("d * %s * (%s + %s * x * (%s - %s))", sg, one, a, one, sg);
  }
  if (strcmp(kind, "mish") == 0) { /* T = tanh(softplus(x)): T + x (1 - T^2) sigmoid(x) */
    const char *th = FMT("%s(%s(%s(x)))", math_fn(e, "tanh", t), math_fn(e, "log1p", t),
                         math_fn(e, "exp", t));
    return FMT("d * (%s + x * (%s - %s * %s) / (%s + %s(-x)))", th, one, th, th, one,
               math_fn(e, "exp", t));
  }
  if (strcmp(kind, "gelu") == 0) /* Phi(x) + x phi(x) */
    return FMT("d * (%s * (%s + %s(x * %s)) + x * %s * %s(%s * x * x))", lit(e, t, 0.5), one,
               math_fn(e, "erf", t), lit(e, t, 0.70710678118654752), lit(e, t, 0.39894228040143268),
               math_fn(e, "exp", t), lit(e, t, -0.5));
  if (strcmp(kind, "gelu_tanh") == 0) { /* u = c (x + k x^3), y = x (1 + tanh u) / 2 */
    const char *c = lit(e, t, 0.79788456080286536), *k = lit(e, t, 0.044715);
    const char *th = FMT("%s(%s * (x + %s * x * x * x))", math_fn(e, "tanh", t), c, k);
    return FMT("d * (%s * (%s + %s) + %s * x * (%s - %s * %s) * %s * (%s + %s * x * x))",
               lit(e, t, 0.5), one, th, lit(e, t, 0.5), one, th, th, c, one, lit(e, t, 3 * 0.044715));
  }
  /* the trigonometric and hyperbolic functions and their inverses */
  if (strcmp(kind, "sin") == 0)
    return FMT("d * %s(x)", math_fn(e, "cos", t));
  if (strcmp(kind, "cos") == 0)
    return FMT("-d * %s(x)", math_fn(e, "sin", t));
  if (strcmp(kind, "tan") == 0)
    return FMT("d * (%s + y * y)", one);
  if (strcmp(kind, "asin") == 0 || strcmp(kind, "acos") == 0)
    return FMT("%sd / %s(%s - x * x)", kind[1] == 'c' ? "-" : "", math_fn(e, "sqrt", t), one);
  if (strcmp(kind, "atan") == 0)
    return FMT("d / (%s + x * x)", one);
  if (strcmp(kind, "sinh") == 0)
    return FMT("d * %s(x)", math_fn(e, "cosh", t));
  if (strcmp(kind, "cosh") == 0)
    return FMT("d * %s(x)", math_fn(e, "sinh", t));
  if (strcmp(kind, "asinh") == 0)
    return FMT("d / %s(x * x + %s)", math_fn(e, "sqrt", t), one);
  if (strcmp(kind, "acosh") == 0)
    return FMT("d / %s(x * x - %s)", math_fn(e, "sqrt", t), one);
  if (strcmp(kind, "atanh") == 0)
    return FMT("d / (%s - x * x)", one);
  if (strcmp(kind, "clip") == 0) /* PyTorch: the gradient passes at the bounds too */
    return FMT("x >= %s && x <= %s ? d : %s", lit(e, t, ir_attr_float(n, "alpha", -INFINITY)),
               lit(e, t, ir_attr_float(n, "beta", INFINITY)), z);
  return NULL;
}

static void emit_activation_grad(emit_ctx *e, const ir_node *n) {
  const char *ct = ir_dtype_ctype(n->inputs[0]->dtype);
  const char *expr = activation_derivative(e, n);
  if (!expr)
    NN_BUG("ActivationGrad: unknown kind");
  int64_t count = ir_numel(n->outputs[0]);
  if (count == 0)
    return;
  emit_parallel_for(e, "i", count, 8);
  emit_line(e, "const %s d = in0[i];", ct);
  if (n->inputs[1])
    emit_line(e, "const %s x = in1[i]; (void)x;", ct);
  if (n->inputs[2])
    emit_line(e, "const %s y = in2[i]; (void)y;", ct);
  emit_line(e, "out0[i] = %s;", expr);
  emit_close(e);
}

/* ---- SoftmaxGrad: dx from dy and y over runs [outer, len, inner] ("split") ---- */

static nn_status infer_softmax_grad(ir_graph *g, ir_node *n) {
  const int64_t *s;
  if (check_arity(g, n, 2, 2) || same_shape(g, n, 0, 1) || ir_attr_ints(n, "split", &s) != 3 ||
      s[0] * s[1] * s[2] != ir_numel(n->inputs[0]))
    return diag_node(g->path, n, "needs dy and y of one shape and a split [outer, len, inner]");
  return infer_same_as_input(g, n);
}

/* softmax: dx = y * (dy - sum(dy * y)); log-softmax: dx = dy - exp(y) * sum(dy). */
static void emit_softmax_grad(emit_ctx *e, const ir_node *n) {
  const int64_t *s;
  ir_attr_ints(n, "split", &s);
  bool log = ir_attr_int(n, "log", 0);
  ir_dtype t = n->inputs[0]->dtype;
  const char *ct = ir_dtype_ctype(t);
  if (s[0] * s[1] * s[2] == 0)
    return;
  emit_parallel_for(e, "r", s[0] * s[2], s[1] * 4);
  emit_line(e, "const int64_t b = r / %lld * %lld + r %% %lld;", (long long)s[2],
            (long long)(s[1] * s[2]), (long long)s[2]);
  emit_line(e, "%s acc = %s;", ct, lit(e, t, 0));
  emit_for(e, "k", s[1]);
  emit_line(e, "acc += in0[b + k * %lld]%s;", (long long)s[2],
            log ? "" : FMT(" * in1[b + k * %lld]", (long long)s[2]));
  emit_close(e);
  emit_for(e, "k", s[1]);
  emit_line(e, "const int64_t j = b + k * %lld;", (long long)s[2]);
  if (log)
    emit_line(e, "out0[j] = in0[j] - %s(in1[j]) * acc;", math_fn(e, "exp", t));
  else
    emit_line(e, "out0[j] = in1[j] * (in0[j] - acc);");
  emit_close(e);
  emit_close(e);
}

/* ---- SliceGrad: dx = zeros of "shape", with dy written at start + i * step ---- */

static nn_status infer_slice_grad(ir_graph *g, ir_node *n) {
  const int64_t *shape, *start, *step;
  int r = ir_attr_ints(n, "shape", &shape);
  if (check_arity(g, n, 1, 1) || r != n->inputs[0]->rank || ir_attr_ints(n, "start", &start) != r ||
      ir_attr_ints(n, "step", &step) != r)
    return diag_node(g->path, n, "needs shape, start and step for every axis of dy");
  ir_set_shape(n->outputs[0], n->inputs[0]->dtype, r, shape);
  return NN_OK;
}

static void emit_slice_grad(emit_ctx *e, const ir_node *n) {
  const ir_tensor *dy = n->inputs[0], *dx = n->outputs[0];
  const int64_t *start, *step;
  ir_attr_ints(n, "start", &start);
  ir_attr_ints(n, "step", &step);
  if (ir_numel(dx) == 0)
    return;
  emit_line(e, "memset(out0, 0, %zu);", ir_bytes(dx));
  if (ir_numel(dy) == 0)
    return;
  int64_t stride[IR_MAX_RANK];
  emit_strides(dx, stride);
  int loops = emit_loops(e, dy, "d");
  const char *at = FMT("0");
  for (int d = 0; d < dy->rank; d++)
    at = FMT("%s + (%lld + d%d * %lld) * %lld", at, (long long)start[d], d, (long long)step[d],
             (long long)stride[d]);
  emit_line(e, "out0[%s] = in0[%s];", at, emit_bcast_index(e, dy, dy, "d"));
  for (int i = 0; i < loops; i++)
    emit_close(e);
}

/* ---- GatherGrad: (dy, indices) -> gradient of the gathered data ("shape"),
 * viewed as [outer, N, inner] ("split"); repeated indices add up ---- */

static nn_status infer_gather_grad(ir_graph *g, ir_node *n) {
  const int64_t *shape, *split;
  int r = ir_attr_ints(n, "shape", &shape);
  if (check_arity(g, n, 2, 2) || ir_attr_ints(n, "split", &split) != 3 ||
      split[0] * ir_numel(n->inputs[1]) * split[2] != ir_numel(n->inputs[0]))
    return diag_node(g->path, n, "needs dy of [outer, indices, inner] and the data's shape");
  ir_set_shape(n->outputs[0], n->inputs[0]->dtype, r, shape);
  return NN_OK;
}

static void emit_gather_grad(emit_ctx *e, const ir_node *n) {
  const int64_t *s;
  ir_attr_ints(n, "split", &s);
  int64_t m = ir_numel(n->inputs[1]);
  if (ir_numel(n->outputs[0]) == 0)
    return;
  emit_line(e, "memset(out0, 0, %zu);", ir_bytes(n->outputs[0]));
  if (m == 0 || s[0] * s[2] == 0)
    return;
  emit_for(e, "o", s[0]);
  emit_for(e, "j", m);
  emit_line(e, "int64_t k = (int64_t)in1[j];");
  emit_line(e, "k = k < 0 ? k + %lld : k;", (long long)s[1]); /* clamped as the forward reads */
  emit_line(e, "k = k < 0 ? 0 : k > %lld ? %lld : k;", (long long)(s[1] - 1), (long long)(s[1] - 1));
  emit_for(e, "i", s[2]);
  emit_line(e, "out0[(o * %lld + k) * %lld + i] += in0[(o * %lld + j) * %lld + i];", (long long)s[1],
            (long long)s[2], (long long)m, (long long)s[2]);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* ---- Loss: (pred [B, ...], label, mask [B]) -> (sum of masked losses [], dpred) ----
 * Each sample's loss is its mean over features (PyTorch's 'mean' reduction
 * is then the sum scaled by 1/B). CE and NLL take int64 class labels, one
 * per position of the other axes than the class axis ("axis", 1 by default),
 * and a sample's loss is their mean. */

static bool loss_takes_classes(const char *kind) {
  return strcmp(kind, "ce") == 0 || strcmp(kind, "ce_logits") == 0 || strcmp(kind, "nll") == 0;
}

static nn_status infer_loss(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 3, 3) || check_float(g, n, 0))
    return NN_ERR;
  const ir_tensor *p = n->inputs[0], *lab = n->inputs[1], *m = n->inputs[2];
  const char *kind = ir_attr_string(n, "kind", "");
  if (p->rank < 1 || m->rank != 1 || m->dims[0] != p->dims[0] || m->dtype != p->dtype)
    return diag_node(g->path, n, "mask must be [batch] of the prediction's dtype");
  if (loss_takes_classes(kind)) {
    int64_t axis = ir_attr_int(n, "axis", 1);
    bool ok = p->rank >= 2 && axis >= 1 && axis < p->rank && lab->dtype == IR_INT64 &&
              lab->rank == p->rank - 1;
    for (int d = 0, k = 0; ok && d < p->rank; d++)
      if (d != axis)
        ok = lab->dims[k++] == p->dims[d];
    if (!ok)
      return diag_node(g->path, n, "a class loss needs a prediction with classes on an axis "
                       "after the batch, and int64 labels shaped as the other axes");
  } else if (same_shape(g, n, 0, 1)) {
    return NN_ERR;
  }
  ir_set_shape(n->outputs[0], p->dtype, 0, NULL);
  ir_set_shape(n->outputs[1], p->dtype, p->rank, p->dims);
  return NN_OK;
}

/* Per element of a feature loss: `l` (the loss term) and `g` (its
 * derivative) from p and y; divided by the feature count afterwards. */
static void feature_loss(emit_ctx *e, const char *kind, ir_dtype t) {
  const char *ct = ir_dtype_ctype(t), *z = lit(e, t, 0), *one = lit(e, t, 1);
  emit_line(e, "const %s p = in0[j], y = in1[j];", ct);
  if (strcmp(kind, "mse") == 0) {
    emit_line(e, "const %s l = (p - y) * (p - y), g = %s * (p - y);", ct, lit(e, t, 2));
  } else if (strcmp(kind, "mae") == 0) {
    emit_line(e, "const %s l = %s(p - y), g = (%s)((p > y) - (p < y));", ct, math_fn(e, "fabs", t), ct);
  } else if (strcmp(kind, "bce") == 0) { /* PyTorch clamps the logs at -100 */
    const char *lg = math_fn(e, "log", t);
    emit_line(e, "%s lp = %s(p), lq = %s(%s - p);", ct, lg, lg, one);
    emit_line(e, "lp = lp < %s ? %s : lp;", lit(e, t, -100), lit(e, t, -100));
    emit_line(e, "lq = lq < %s ? %s : lq;", lit(e, t, -100), lit(e, t, -100));
    emit_line(e, "%s q = p * (%s - p);", ct, one);
    emit_line(e, "q = q < %s ? %s : q;", lit(e, t, 1e-12), lit(e, t, 1e-12));
    emit_line(e, "const %s l = -(y * lp + (%s - y) * lq), g = (p - y) / q;", ct, one);
  } else if (strcmp(kind, "bce_logits") == 0) { /* p is the logit */
    emit_line(e, "const %s l = (p > %s ? p : %s) - p * y + %s(%s(-%s(p)));", ct, z, z,
              math_fn(e, "log1p", t), math_fn(e, "exp", t), math_fn(e, "fabs", t));
    emit_line(e, "const %s g = %s / (%s + %s(-p)) - y;", ct, one, one, math_fn(e, "exp", t));
  } else if (strcmp(kind, "hinge") == 0) { /* labels are -1 or 1 */
    emit_line(e, "const %s l = %s - y * p > %s ? %s - y * p : %s;", ct, one, z, one, z);
    emit_line(e, "const %s g = l > %s ? -y : %s;", ct, z, z);
  } else {
    NN_BUG("Loss: unknown kind");
  }
}

static void emit_loss(emit_ctx *e, const ir_node *n) {
  const ir_tensor *p = n->inputs[0];
  ir_dtype t = p->dtype;
  const char *ct = ir_dtype_ctype(t), *z = lit(e, t, 0);
  const char *kind = ir_attr_string(n, "kind", "");
  int64_t B = p->dims[0], F = B ? ir_numel(p) / B : 0;
  emit_line(e, "%s total = %s;", ct, z);
  emit_for(e, "b", B);
  emit_line(e, "const %s m = in2[b];", ct);
  emit_line(e, "%s *d = out1 + b * %lld;", ct, (long long)F);
  if (loss_takes_classes(kind)) {
    /* each sample is [outer, C, inner]: one class choice per position */
    int64_t axis = ir_attr_int(n, "axis", 1), outer = 1, C = p->dims[axis], inner = 1;
    for (int d = 1; d < p->rank; d++) {
      if (d < axis)
        outer *= p->dims[d];
      if (d > axis)
        inner *= p->dims[d];
    }
    int64_t P = outer * inner;
    emit_line(e, "memset(d, 0, %zu);", (size_t)F * ir_dtype_size(t));
    emit_line(e, "if (m == %s) continue;", z);
    emit_line(e, "const %s w = m / %s;", ct, lit(e, t, (double)P));
    emit_for(e, "pos", P);
    emit_line(e, "const int64_t c = in1[b * %lld + pos];", (long long)P);
    emit_line(e, "if (c < 0 || c >= %lld) continue; /* no such class: no loss */", (long long)C);
    emit_line(e, "const int64_t at = b * %lld + pos / %lld * %lld + pos %% %lld;", (long long)F,
              (long long)inner, (long long)(C * inner), (long long)inner);
    emit_line(e, "const %s *x = in0 + at;", ct);
    emit_line(e, "%s *dp = out1 + at;", ct);
    const char *k = FMT("[k * %lld]", (long long)inner), *c = FMT("[c * %lld]", (long long)inner);
    if (strcmp(kind, "ce_logits") == 0) { /* softmax and log-sum-exp fused */
      emit_line(e, "%s mx = x[0], s = %s;", ct, z);
      emit_for(e, "k", C);
      emit_line(e, "mx = x%s > mx ? x%s : mx;", k, k);
      emit_close(e);
      emit_for(e, "k", C);
      emit_line(e, "dp%s = %s(x%s - mx);", k, math_fn(e, "exp", t), k);
      emit_line(e, "s += dp%s;", k);
      emit_close(e);
      emit_line(e, "total += w * (%s(s) + mx - x%s);", math_fn(e, "log", t), c);
      emit_for(e, "k", C);
      emit_line(e, "dp%s = w * dp%s / s;", k, k);
      emit_close(e);
      emit_line(e, "dp%s -= w;", c);
    } else if (strcmp(kind, "ce") == 0) { /* x holds probabilities */
      emit_line(e, "total -= w * %s(x%s);", math_fn(e, "log", t), c);
      emit_line(e, "dp%s = -w / x%s;", c, c);
    } else { /* nll: x holds log-probabilities */
      emit_line(e, "total -= w * x%s;", c);
      emit_line(e, "dp%s = -w;", c);
    }
    emit_close(e);
  } else {
    emit_line(e, "%s s = %s;", ct, z);
    emit_for(e, "f", F);
    emit_line(e, "const int64_t j = b * %lld + f;", (long long)F);
    feature_loss(e, kind, t);
    emit_line(e, "s += l;");
    emit_line(e, "d[f] = m * g / %s;", lit(e, t, (double)F));
    emit_close(e);
    emit_line(e, "total += m * s / %s;", lit(e, t, (double)F));
  }
  emit_close(e);
  emit_line(e, "out0[0] = total;");
}

/* ---- Accumulate: state += gradient (the state is written in place) ---- */

static nn_status infer_accumulate(ir_graph *g, ir_node *n) {
  if (n->n_inputs != 2 || same_shape(g, n, 0, 1))
    return diag_node(g->path, n, "needs a state tensor and a gradient of its shape");
  if (n->inputs[0]->kind != IR_STATE)
    return diag_node(g->path, n, "input 0 must be state");
  return NN_OK;
}

static void emit_accumulate(emit_ctx *e, const ir_node *n) {
  int64_t count = ir_numel(n->inputs[0]);
  if (count == 0)
    return;
  emit_parallel_for(e, "i", count, 1);
  emit_line(e, "in0[i] += in1[i];");
  emit_close(e);
}

const op_def op_family_train[] = {
    {"ReduceToShape", "nncc", infer_reduce_to_shape, NULL, emit_reduce_to_shape, 0},
    {"ActivationGrad", "nncc", infer_activation_grad, NULL, emit_activation_grad, OP_ELEMENTWISE},
    {"SoftmaxGrad", "nncc", infer_softmax_grad, NULL, emit_softmax_grad, 0},
    {"SliceGrad", "nncc", infer_slice_grad, NULL, emit_slice_grad, 0},
    {"GatherGrad", "nncc", infer_gather_grad, NULL, emit_gather_grad, 0},
    {"Loss", "nncc", infer_loss, NULL, emit_loss, 0},
    {"Accumulate", "nncc", infer_accumulate, NULL, emit_accumulate, OP_UPDATES_STATE},
    {NULL},
};
