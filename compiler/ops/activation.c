/* Activations: pointwise nonlinearities, Clip and the Softmax pair. Every
 * attribute becomes a literal in the emitted expression. */
#include <float.h>
#include <stdio.h>

#include "autodiff.h"
#include "common.h"

#define FMT(...) mem_printf(e->g->mem, __VA_ARGS__)

/* Literal of input 0's dtype. */
static const char *lit(emit_ctx *e, const ir_node *n, double v) {
  return emit_literal(e, n->inputs[0]->dtype, v);
}

/* Math function for input 0's dtype: "exp" -> "expf" for float32. */
static const char *fn(emit_ctx *e, const ir_node *n, const char *name) {
  return math_fn(e, name, n->inputs[0]->dtype);
}

static bool is_signed_int(ir_dtype t) {
  return t == IR_INT8 || t == IR_INT16 || t == IR_INT32 || t == IR_INT64;
}

static bool is_numeric(ir_dtype t) {
  return t != IR_BOOL && t != IR_UNDEFINED;
}

/* ---- shape rules ---- */

static nn_status infer_unary_float(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1) || check_float(g, n, 0))
    return NN_ERR;
  return infer_same_as_input(g, n);
}

/* Relu-14 takes signed integers as well as floats. */
static nn_status infer_relu(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1))
    return NN_ERR;
  ir_dtype t = n->inputs[0]->dtype;
  if (t != IR_FLOAT && t != IR_DOUBLE && !is_signed_int(t))
    return diag_node(g->path, n, "input 0 has dtype %s; Relu takes float or signed integer",
                     ir_dtype_name(t));
  return infer_same_as_input(g, n);
}

/* slope broadcasts to X one way: the output keeps X's shape. */
static nn_status infer_prelu(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0], *s = n->inputs[1];
  if (!s)
    return diag_node(g->path, n, "input 1 'slope' is missing");
  if (x->dtype != IR_FLOAT && x->dtype != IR_DOUBLE && x->dtype != IR_UINT32 &&
      x->dtype != IR_UINT64 && x->dtype != IR_INT32 && x->dtype != IR_INT64)
    return diag_node(g->path, n, "input 0 has unsupported dtype %s", ir_dtype_name(x->dtype));
  if (n->opset < 7 && s->kind == IR_WEIGHT && s->rank == 1 && x->rank > 2 &&
      s->dims[0] == x->dims[1] && s->dims[0] != x->dims[x->rank - 1]) {
    /* PRelu before opset 7 had one slope per channel (axis 1): view the
     * weight as [C,1,...,1] so NumPy broadcasting gives that. */
    ir_tensor *v = ir_tensor_new(g, mem_printf(g->mem, "%s (per channel)", s->name));
    int64_t dims[IR_MAX_RANK] = {s->dims[0]};
    for (int d = 1; d < x->rank - 1; d++)
      dims[d] = 1;
    ir_set_shape(v, s->dtype, x->rank - 1, dims);
    v->kind = IR_WEIGHT;
    v->data = s->data;
    n->inputs[1] = v;
  }
  if (infer_broadcast(g, n, n->outputs[0], true))
    return NN_ERR;
  const ir_tensor *y = n->outputs[0];
  bool same = y->rank == x->rank;
  for (int d = 0; same && d < x->rank; d++)
    same = y->dims[d] == x->dims[d];
  if (!same) {
    char a[128], b[128];
    return diag_node(g->path, n, "slope %s does not broadcast to X %s",
                     ir_shape_str(s, a, sizeof a), ir_shape_str(x, b, sizeof b));
  }
  return NN_OK;
}

/* ---- pointwise emitters ---- */

static void emit_relu(emit_ctx *e, const ir_node *n) {
  /* "x < 0 ? 0 : x" lets NaN through, as max(x, 0) does. */
  emit_unary_map(e, n, FMT("x < %s ? %s : x", lit(e, n, 0), lit(e, n, 0)));
}

static void emit_leakyrelu(emit_ctx *e, const ir_node *n) {
  double alpha = ir_attr_float(n, "alpha", 0.01);
  emit_unary_map(e, n, FMT("x < %s ? %s * x : x", lit(e, n, 0), lit(e, n, alpha)));
}

/* X's dims merge into runs along which the slope either varies or stays
 * put; the last run is the inner loop, the others one parallel loop whose
 * index yields the slope offset (a [C,1,1] slope: r < N*C, j < H*W). */
static void emit_prelu(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *s = n->inputs[1];
  const char *ct = ir_dtype_ctype(x->dtype);
  if (x->dtype == IR_UINT32 || x->dtype == IR_UINT64) { /* never negative */
    emit_unary_map(e, n, "x");
    return;
  }
  if (ir_numel(x) == 0)
    return;
  int64_t len[IR_MAX_RANK + 1] = {1};
  bool varies[IR_MAX_RANK + 1] = {false};
  int nr = 1, off = x->rank - s->rank;
  for (int d = 0; d < x->rank; d++) {
    bool v = d >= off && s->dims[d - off] != 1;
    if (x->dims[d] == 1)
      continue;
    if (varies[nr - 1] == v)
      len[nr - 1] *= x->dims[d];
    else
      len[nr] = x->dims[d], varies[nr++] = v;
  }
  int64_t inner = len[nr - 1], outer = ir_numel(x) / (inner ? inner : 1);
  /* slope offset of row r: each varying outer run contributes its index
   * times the slope elements below it */
  char sidx[512] = "0";
  size_t at = 0;
  int64_t below = 1, sbelow = varies[nr - 1] ? inner : 1;
  for (int k = nr - 2; k >= 0; k--) {
    if (varies[k]) {
      at += (size_t)snprintf(sidx + at, sizeof sidx - at, "%s(r", at ? " + " : "");
      if (below > 1)
        at += (size_t)snprintf(sidx + at, sizeof sidx - at, " / %lld", (long long)below);
      if (below * len[k] < outer) /* the outermost run's index never wraps */
        at += (size_t)snprintf(sidx + at, sizeof sidx - at, " %% %lld", (long long)len[k]);
      at += (size_t)snprintf(sidx + at, sizeof sidx - at, ")");
      if (sbelow > 1)
        at += (size_t)snprintf(sidx + at, sizeof sidx - at, " * %lld", (long long)sbelow);
    }
    below *= len[k];
    sbelow *= varies[k] ? len[k] : 1;
  }
  if (outer > 1) {
    emit_parallel_for(e, "r", outer, inner * 2);
    emit_line(e, "const %s *x = in0 + r * %lld, *sl = in1 + %s;", ct, (long long)inner, sidx);
    emit_line(e, "%s *y = out0 + r * %lld;", ct, (long long)inner);
  } else {
    emit_line(e, "const %s *x = in0, *sl = in1;", ct);
    emit_line(e, "%s *y = out0;", ct);
  }
  if (!varies[nr - 1])
    emit_line(e, "const %s b = sl[0];", ct);
  if (outer > 1)
    emit_for(e, "j", inner);
  else
    emit_parallel_for(e, "j", inner, 2);
  emit_line(e, "y[j] = x[j] < %s ? x[j] * %s : x[j];", lit(e, n, 0),
            varies[nr - 1] ? "sl[j]" : "b");
  emit_close(e);
  if (outer > 1)
    emit_close(e);
}

static void emit_sigmoid(emit_ctx *e, const ir_node *n) {
  emit_unary_map(e, n, FMT("%s / (%s + %s(-x))", lit(e, n, 1), lit(e, n, 1), fn(e, n, "exp")));
}

static void emit_tanh(emit_ctx *e, const ir_node *n) {
  emit_unary_map(e, n, FMT("%s(x)", fn(e, n, "tanh")));
}

static void emit_elu(emit_ctx *e, const ir_node *n) {
  double alpha = ir_attr_float(n, "alpha", 1.0);
  emit_unary_map(e, n, FMT("x < %s ? %s * %s(x) : x", lit(e, n, 0), lit(e, n, alpha),
                           fn(e, n, "expm1")));
}

static void emit_selu(emit_ctx *e, const ir_node *n) {
  double alpha = ir_attr_float(n, "alpha", 1.67326319217681884765625);
  double gamma = ir_attr_float(n, "gamma", 1.05070102214813232421875);
  emit_unary_map(e, n, FMT("x > %s ? %s * x : %s * %s(x)", lit(e, n, 0), lit(e, n, gamma),
                           lit(e, n, gamma * alpha), fn(e, n, "expm1")));
}

/* out0 = expr of x and h = clamp(alpha * x + beta, 0, 1); ternaries keep
 * NaN and compile to plain min/max instructions. */
static void emit_hard(emit_ctx *e, const ir_node *n, double alpha, double beta, const char *expr) {
  const char *ct = ir_dtype_ctype(n->inputs[0]->dtype), *zero = lit(e, n, 0), *one = lit(e, n, 1);
  emit_parallel_for(e, "i", ir_numel(n->outputs[0]), 8);
  emit_line(e, "const %s x = in0[i];", ct);
  emit_line(e, "%s h = %s * x + %s;", ct, lit(e, n, alpha), lit(e, n, beta));
  emit_line(e, "h = h < %s ? %s : h;", zero, zero);
  emit_line(e, "h = h > %s ? %s : h;", one, one);
  emit_line(e, "out0[i] = %s;", expr);
  emit_close(e);
}

static void emit_hardsigmoid(emit_ctx *e, const ir_node *n) {
  emit_hard(e, n, ir_attr_float(n, "alpha", 0.2), ir_attr_float(n, "beta", 0.5), "h");
}

static void emit_hardswish(emit_ctx *e, const ir_node *n) {
  emit_hard(e, n, 1.0 / 6.0, 0.5, "x * h");
}

/* log(1 + exp(x)) without overflow for large x. */
static void emit_softplus(emit_ctx *e, const ir_node *n) {
  const char *l1p = fn(e, n, "log1p"), *ex = fn(e, n, "exp");
  emit_unary_map(e, n, FMT("x > %s ? x + %s(%s(-x)) : %s(%s(x))", lit(e, n, 0), l1p, ex, l1p, ex));
}

static void emit_softsign(emit_ctx *e, const ir_node *n) {
  emit_unary_map(e, n, FMT("x / (%s + %s(x))", lit(e, n, 1), fn(e, n, "fabs")));
}

/* max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) */
static void emit_celu(emit_ctx *e, const ir_node *n) {
  double alpha = ir_attr_float(n, "alpha", 1.0);
  emit_unary_map(e, n, FMT("x > %s ? x : %s * %s(x / %s)", lit(e, n, 0), lit(e, n, alpha),
                           fn(e, n, "expm1"), lit(e, n, alpha)));
}

/* x * tanh(softplus(x)), softplus written as in emit_softplus. */
static void emit_mish(emit_ctx *e, const ir_node *n) {
  const char *l1p = fn(e, n, "log1p"), *ex = fn(e, n, "exp");
  emit_unary_map(e, n, FMT("x * %s(x > %s ? x + %s(%s(-x)) : %s(%s(x)))", fn(e, n, "tanh"),
                           lit(e, n, 0), l1p, ex, l1p, ex));
}

/* x * sigmoid(alpha * x) */
static void emit_swish(emit_ctx *e, const ir_node *n) {
  double alpha = ir_attr_float(n, "alpha", 1.0);
  emit_unary_map(e, n, FMT("x / (%s + %s(%s * -x))", lit(e, n, 1), fn(e, n, "exp"),
                           lit(e, n, alpha)));
}

/* approximate="none": x/2 (1 + erf(x / sqrt 2)); "tanh":
 * x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
static nn_status infer_gelu(ir_graph *g, ir_node *n) {
  const char *mode = ir_attr_string(n, "approximate", "none");
  if (strcmp(mode, "none") != 0 && strcmp(mode, "tanh") != 0)
    return diag_node(g->path, n, "approximate must be 'none' or 'tanh', not '%s'", mode);
  return infer_unary_float(g, n);
}

static void emit_gelu(emit_ctx *e, const ir_node *n) {
  const char *half = lit(e, n, 0.5), *one = lit(e, n, 1);
  if (!strcmp(ir_attr_string(n, "approximate", "none"), "tanh"))
    emit_unary_map(e, n, FMT("%s * x * (%s + %s(%s * (x + %s * x * x * x)))", half, one,
                             fn(e, n, "tanh"), lit(e, n, 0.79788456080286535588),
                             lit(e, n, 0.044715)));
  else
    emit_unary_map(e, n, FMT("%s * x * (%s + %s(x * %s))", half, one, fn(e, n, "erf"),
                             lit(e, n, 0.70710678118654752440)));
}

/* x < -lambd: x + bias; x > lambd: x - bias; otherwise 0. */
static void emit_shrink(emit_ctx *e, const ir_node *n) {
  double lambd = ir_attr_float(n, "lambd", 0.5), bias = ir_attr_float(n, "bias", 0.0);
  emit_unary_map(e, n, FMT("x < %s ? x + %s : x > %s ? x - %s : %s", lit(e, n, -lambd),
                           lit(e, n, bias), lit(e, n, lambd), lit(e, n, bias), lit(e, n, 0)));
}

static void emit_thresholdedrelu(emit_ctx *e, const ir_node *n) {
  double alpha = ir_attr_float(n, "alpha", 1.0);
  emit_unary_map(e, n, FMT("x > %s ? x : %s", lit(e, n, alpha), lit(e, n, 0)));
}

/* ---- Clip: bounds from attributes (opset < 11) or inputs 1 and 2 ---- */

static nn_status infer_clip(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, n->opset < 11 ? 1 : 3))
    return NN_ERR;
  ir_dtype t = n->inputs[0]->dtype;
  if (n->opset < 12 && check_float(g, n, 0))
    return NN_ERR;
  if (!is_numeric(t))
    return diag_node(g->path, n, "input 0 has unsupported dtype %s", ir_dtype_name(t));
  for (int k = 1; k < n->n_inputs; k++) {
    const ir_tensor *b = n->inputs[k];
    if (!b)
      continue;
    if (b->dtype != t)
      return diag_node(g->path, n, "input %d has dtype %s but input 0 has %s", k,
                       ir_dtype_name(b->dtype), ir_dtype_name(t));
    if (ir_numel(b) != 1)
      return diag_node(g->path, n, "input %d '%s' must be a scalar", k, k == 1 ? "min" : "max");
  }
  return infer_same_as_input(g, n);
}

/* Range of an integer dtype, for dropping bounds that can never bite (and
 * that compilers would warn about as always-false comparisons). */
static bool int_range(ir_dtype t, double *lo, double *hi) {
  switch (t) {
  case IR_INT8: *lo = INT8_MIN, *hi = INT8_MAX; return true;
  case IR_UINT8: *lo = 0, *hi = UINT8_MAX; return true;
  case IR_INT16: *lo = INT16_MIN, *hi = INT16_MAX; return true;
  case IR_UINT16: *lo = 0, *hi = UINT16_MAX; return true;
  case IR_INT32: *lo = INT32_MIN, *hi = INT32_MAX; return true;
  case IR_UINT32: *lo = 0, *hi = UINT32_MAX; return true;
  case IR_INT64: *lo = (double)INT64_MIN, *hi = (double)INT64_MAX; return true;
  case IR_UINT64: *lo = 0, *hi = (double)UINT64_MAX; return true;
  default: return false;
  }
}

/* The C text of bound k (1 = min, 2 = max), or NULL when there is none. */
static const char *clip_bound(emit_ctx *e, const ir_node *n, int k) {
  ir_dtype t = n->inputs[0]->dtype;
  double v, lo, hi;
  if (n->opset < 11) {
    const ir_attr *a = ir_attr_find(n, k == 1 ? "min" : "max");
    if (!a)
      return NULL;
    v = a->f;
  } else {
    const ir_tensor *b = ir_in(n, k);
    if (!b)
      return NULL;
    if (b->kind != IR_WEIGHT)
      return k == 1 ? "lo" : "hi"; /* read once at run time */
    if (t == IR_INT64) {
      int64_t iv = ir_weight_int(b, 0);
      if ((k == 1 && iv == INT64_MIN) || (k == 2 && iv == INT64_MAX))
        return NULL;
      return FMT("INT64_C(%lld)", (long long)iv);
    }
    v = ir_weight_float(b, 0);
  }
  if (int_range(t, &lo, &hi) && (k == 1 ? v <= lo : v >= hi))
    return NULL;
  return emit_literal(e, t, v);
}

static void emit_clip(emit_ctx *e, const ir_node *n) {
  const char *ct = ir_dtype_ctype(n->inputs[0]->dtype);
  const char *lo = clip_bound(e, n, 1), *hi = clip_bound(e, n, 2);
  if (lo && !strcmp(lo, "lo"))
    emit_line(e, "const %s lo = in1[0];", ct);
  if (hi && !strcmp(hi, "hi"))
    emit_line(e, "const %s hi = in2[0];", ct);
  /* min then max: when min > max every value becomes max, as the spec says. */
  emit_parallel_for(e, "i", ir_numel(n->outputs[0]), 4);
  emit_line(e, "%s v = in0[i];", ct);
  if (lo)
    emit_line(e, "v = v < %s ? %s : v;", lo, lo);
  if (hi)
    emit_line(e, "v = v > %s ? %s : v;", hi, hi);
  emit_line(e, "out0[i] = v;");
  emit_close(e);
}

/* ---- Softmax, LogSoftmax ---- */

static nn_status infer_softmax(ir_graph *g, ir_node *n) {
  int64_t outer, len, inner;
  if (check_arity(g, n, 1, 1) || check_float(g, n, 0) || softmax_split(g, n, &outer, &len, &inner))
    return NN_ERR;
  return infer_same_as_input(g, n);
}

/* Contiguous rows (inner == 1): max, sum of exp, then scale, per row. */
static void emit_softmax_rows(emit_ctx *e, const ir_node *n, bool log, int64_t rows, int64_t len) {
  const char *ct = ir_dtype_ctype(n->inputs[0]->dtype);
  emit_parallel_for(e, "r", rows, len * 4);
  emit_line(e, "const %s *x = in0 + r * %lld;", ct, (long long)len);
  emit_line(e, "%s *y = out0 + r * %lld;", ct, (long long)len);
  emit_line(e, "%s m = x[0], s = %s;", ct, lit(e, n, 0));
  emit_for(e, "k", len);
  emit_line(e, "m = x[k] > m ? x[k] : m;");
  emit_close(e);
  emit_for(e, "k", len);
  if (log) {
    emit_line(e, "s += %s(x[k] - m);", fn(e, n, "exp"));
  } else {
    emit_line(e, "y[k] = %s(x[k] - m);", fn(e, n, "exp"));
    emit_line(e, "s += y[k];");
  }
  emit_close(e);
  if (log)
    emit_line(e, "s = %s(s);", fn(e, n, "log"));
  else
    emit_line(e, "s = %s / s;", lit(e, n, 1));
  emit_for(e, "k", len);
  emit_line(e, log ? "y[k] = x[k] - m - s;" : "y[k] *= s;");
  emit_close(e);
  emit_close(e);
}

/* Strided reduction (inner > 1): blocks of up to SOFTMAX_BLOCK adjacent
 * columns advance together, so every pass reads memory contiguously. */
#define SOFTMAX_BLOCK 64

static void emit_softmax_cols(emit_ctx *e, const ir_node *n, bool log, int64_t outer, int64_t len,
                              int64_t inner) {
  const char *ct = ir_dtype_ctype(n->inputs[0]->dtype);
  int64_t w = inner < SOFTMAX_BLOCK ? inner : SOFTMAX_BLOCK, nb = (inner + w - 1) / w;
  emit_parallel_for(e, "r", outer * nb, len * w * 4);
  if (nb == 1)
    emit_line(e, "const int64_t b = r * %lld;", (long long)(len * inner));
  else
    emit_line(e, "const int64_t b = r / %lld * %lld + r %% %lld * %lld;", (long long)nb,
              (long long)(len * inner), (long long)nb, (long long)w);
  emit_line(e, "const %s *x = in0 + b;", ct);
  emit_line(e, "%s *y = out0 + b;", ct);
  const char *bw = FMT("%lld", (long long)w);
  if (inner % w) { /* the last block is narrower */
    emit_line(e, "const int64_t w = r %% %lld == %lld ? %lld : %lld;", (long long)nb,
              (long long)(nb - 1), (long long)(inner % w), (long long)w);
    bw = "w";
  }
  const char *jloop = FMT("for (int64_t j = 0; j < %s; j++)", bw);
  const char *at = FMT("[k * %lld + j]", (long long)inner);
  emit_line(e, "%s m[%lld], s[%lld];", ct, (long long)w, (long long)w);
  emit_open(e, "%s", jloop);
  emit_line(e, "m[j] = x[j];");
  emit_line(e, "s[j] = %s;", lit(e, n, 0));
  emit_close(e);
  emit_for(e, "k", len);
  emit_open(e, "%s", jloop);
  emit_line(e, "m[j] = x%s > m[j] ? x%s : m[j];", at, at);
  emit_close(e);
  emit_close(e);
  emit_for(e, "k", len);
  emit_open(e, "%s", jloop);
  if (log) {
    emit_line(e, "s[j] += %s(x%s - m[j]);", fn(e, n, "exp"), at);
  } else {
    emit_line(e, "y%s = %s(x%s - m[j]);", at, fn(e, n, "exp"), at);
    emit_line(e, "s[j] += y%s;", at);
  }
  emit_close(e);
  emit_close(e);
  emit_open(e, "%s", jloop);
  if (log)
    emit_line(e, "s[j] = %s(s[j]);", fn(e, n, "log"));
  else
    emit_line(e, "s[j] = %s / s[j];", lit(e, n, 1));
  emit_close(e);
  emit_for(e, "k", len);
  emit_open(e, "%s", jloop);
  if (log)
    emit_line(e, "y%s = x%s - m[j] - s[j];", at, at);
  else
    emit_line(e, "y%s *= s[j];", at);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

static void emit_softmax_any(emit_ctx *e, const ir_node *n, bool log) {
  int64_t outer, len, inner;
  if (softmax_split(e->g, n, &outer, &len, &inner) || outer * len * inner == 0)
    return;
  if (inner == 1)
    emit_softmax_rows(e, n, log, outer, len);
  else
    emit_softmax_cols(e, n, log, outer, len, inner);
}

static void emit_softmax(emit_ctx *e, const ir_node *n) { emit_softmax_any(e, n, false); }
static void emit_logsoftmax(emit_ctx *e, const ir_node *n) { emit_softmax_any(e, n, true); }

/* ---- gradient rules: one fused nncc.ActivationGrad pass each ---- */

#define ACTIVATION_GRAD(fname, kind, x, y)                                     \
  static nn_status grad_##fname(ad_ctx *ad, const ir_node *n) {                \
    ad_give_grad(ad, n, 0, ad_activation_grad(ad, n, kind, ad_out_grad(ad, n, 0), x, y)); \
    return NN_OK;                                                              \
  }
ACTIVATION_GRAD(relu, "relu", NULL, n->outputs[0])
ACTIVATION_GRAD(leakyrelu, "leakyrelu", n->inputs[0], NULL)
ACTIVATION_GRAD(sigmoid, "sigmoid", NULL, n->outputs[0])
ACTIVATION_GRAD(tanh, "tanh", NULL, n->outputs[0])
ACTIVATION_GRAD(elu, "elu", n->inputs[0], n->outputs[0])
ACTIVATION_GRAD(selu, "selu", n->inputs[0], NULL)
ACTIVATION_GRAD(softplus, "softplus", n->inputs[0], NULL)
ACTIVATION_GRAD(hardsigmoid, "hardsigmoid", n->inputs[0], NULL)

/* y = x > 0 ? x : slope * x: dx = x > 0 ? dy : slope * dy, and the learned
 * slope gets x * dy where x <= 0, summed back to its shape (as PyTorch). */
static nn_status grad_prelu(ad_ctx *ad, const ir_node *n) {
  ir_tensor *dy = ad_out_grad(ad, n, 0), *x = n->inputs[0], *slope = n->inputs[1];
  ir_tensor *zero = ad_scalar(ad, x->dtype, 0);
  ir_tensor *pos = ad_op(ad, "Greater", x, zero);
  ir_tensor *in[3] = {pos, dy, ad_op(ad, "Mul", dy, slope)};
  if (ad_needs_grad(ad, n, 0))
    ad_give_grad(ad, n, 0, ad_finish(ad, ad_begin(ad, "", "Where", 3, in, 1)));
  if (ad_needs_grad(ad, n, 1)) {
    ir_tensor *w[3] = {pos, zero, ad_op(ad, "Mul", dy, x)};
    ad_give_grad(ad, n, 1, ad_reduce_to(ad, ad_finish(ad, ad_begin(ad, "", "Where", 3, w, 1)), slope));
  }
  return NN_OK;
}

static nn_status grad_softmax_any(ad_ctx *ad, const ir_node *n, bool log) {
  int64_t split[3];
  if (softmax_split(ad_graph(ad), n, &split[0], &split[1], &split[2]))
    return NN_ERR;
  ir_tensor *in[2] = {ad_out_grad(ad, n, 0), n->outputs[0]};
  ir_node *b = ad_begin(ad, "nncc", "SoftmaxGrad", 2, in, 1);
  ad_attr_ints(ad, b, "split", 3, split);
  ad_attr_int(ad, b, "log", log);
  ad_give_grad(ad, n, 0, ad_finish(ad, b));
  return NN_OK;
}

static nn_status grad_softmax(ad_ctx *ad, const ir_node *n) { return grad_softmax_any(ad, n, false); }
static nn_status grad_logsoftmax(ad_ctx *ad, const ir_node *n) { return grad_softmax_any(ad, n, true); }

ACTIVATION_GRAD(softsign, "softsign", n->inputs[0], NULL)
ACTIVATION_GRAD(hardswish, "hardswish", n->inputs[0], NULL)
ACTIVATION_GRAD(celu, "celu", n->inputs[0], NULL)
ACTIVATION_GRAD(thresholdedrelu, "thresholdedrelu", n->inputs[0], NULL)
ACTIVATION_GRAD(swish, "swish", n->inputs[0], NULL)
ACTIVATION_GRAD(mish, "mish", n->inputs[0], NULL)

static nn_status grad_gelu(ad_ctx *ad, const ir_node *n) {
  bool tanh = strcmp(ir_attr_string(n, "approximate", "none"), "tanh") == 0;
  ad_give_grad(ad, n, 0, ad_activation_grad(ad, n, tanh ? "gelu_tanh" : "gelu",
                                            ad_out_grad(ad, n, 0), n->inputs[0], NULL));
  return NN_OK;
}

/* Shrink passes the gradient outside [-lambd, lambd]; its bias only shifts. */
static nn_status grad_shrink(ad_ctx *ad, const ir_node *n) {
  ir_tensor *in[3] = {ad_out_grad(ad, n, 0), n->inputs[0], NULL};
  ir_node *b = ad_begin(ad, "nncc", "ActivationGrad", 3, in, 1);
  ad_attr_string(ad, b, "kind", "shrink");
  ad_attr_float(ad, b, "alpha", ir_attr_float(n, "lambd", 0.5));
  ad_give_grad(ad, n, 0, ad_finish(ad, b));
  return NN_OK;
}

/* Clip's bounds are constants (attributes before opset 11, inputs after);
 * the gradient passes where min <= x <= max. The kind's alpha and beta are
 * the bounds. */
static nn_status grad_clip(ad_ctx *ad, const ir_node *n) {
  double lo = ir_attr_float(n, "min", -INFINITY), hi = ir_attr_float(n, "max", INFINITY);
  for (int k = 1; k < 3; k++) {
    const ir_tensor *b = ir_in(n, k);
    if (!b)
      continue;
    if (b->kind != IR_WEIGHT)
      return diag_node(ad_graph(ad)->path, n, "training through Clip needs constant bounds");
    *(k == 1 ? &lo : &hi) = ir_weight_float(b, 0);
  }
  ir_tensor *in[3] = {ad_out_grad(ad, n, 0), n->inputs[0], NULL};
  ir_node *b = ad_begin(ad, "nncc", "ActivationGrad", 3, in, 1);
  ad_attr_string(ad, b, "kind", "clip");
  ad_attr_float(ad, b, "alpha", lo);
  ad_attr_float(ad, b, "beta", hi);
  ad_give_grad(ad, n, 0, ad_finish(ad, b));
  return NN_OK;
}

const op_def op_family_activation[] = {
    {"Relu", "", infer_relu, fold_elementwise, emit_relu, OP_ELEMENTWISE, .grad = grad_relu},
    {"LeakyRelu", "", infer_unary_float, NULL, emit_leakyrelu, OP_ELEMENTWISE, .grad = grad_leakyrelu},
    {"PRelu", "", infer_prelu, NULL, emit_prelu, OP_ELEMENTWISE, .grad = grad_prelu},
    {"Sigmoid", "", infer_unary_float, NULL, emit_sigmoid, OP_ELEMENTWISE, .grad = grad_sigmoid},
    {"Tanh", "", infer_unary_float, NULL, emit_tanh, OP_ELEMENTWISE, .grad = grad_tanh},
    {"Elu", "", infer_unary_float, NULL, emit_elu, OP_ELEMENTWISE, .grad = grad_elu},
    {"Selu", "", infer_unary_float, NULL, emit_selu, OP_ELEMENTWISE, .grad = grad_selu},
    {"HardSigmoid", "", infer_unary_float, NULL, emit_hardsigmoid, OP_ELEMENTWISE, .grad = grad_hardsigmoid},
    {"HardSwish", "", infer_unary_float, NULL, emit_hardswish, OP_ELEMENTWISE, .grad = grad_hardswish},
    {"Softplus", "", infer_unary_float, NULL, emit_softplus, OP_ELEMENTWISE, .grad = grad_softplus},
    {"Softsign", "", infer_unary_float, NULL, emit_softsign, OP_ELEMENTWISE, .grad = grad_softsign},
    {"Celu", "", infer_unary_float, NULL, emit_celu, OP_ELEMENTWISE, .grad = grad_celu},
    {"Mish", "", infer_unary_float, NULL, emit_mish, OP_ELEMENTWISE, .grad = grad_mish},
    {"Swish", "", infer_unary_float, NULL, emit_swish, OP_ELEMENTWISE, .grad = grad_swish},
    {"Gelu", "", infer_gelu, NULL, emit_gelu, OP_ELEMENTWISE, .grad = grad_gelu},
    {"Shrink", "", infer_unary_float, NULL, emit_shrink, OP_ELEMENTWISE, .grad = grad_shrink},
    {"ThresholdedRelu", "", infer_unary_float, NULL, emit_thresholdedrelu, OP_ELEMENTWISE, .grad = grad_thresholdedrelu},
    {"Clip", "", infer_clip, NULL, emit_clip, OP_ELEMENTWISE, .grad = grad_clip},
    {"Softmax", "", infer_softmax, NULL, emit_softmax, 0, .grad = grad_softmax},
    {"LogSoftmax", "", infer_softmax, NULL, emit_logsoftmax, 0, .grad = grad_logsoftmax},
    {NULL},
};
