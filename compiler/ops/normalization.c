/* BatchNormalization (inference, and training mode: batch statistics and
 * running averages), Dropout in inference mode, and LRN. Random dropping is
 * rejected with a message rather than approximated. */
#include "norm_stats.h"
#include "grad_rules.h"

/* ---- BatchNormalization ---- */

static const char *const bn_inputs[] = {"X", "scale", "B", "input_mean", "input_var"};

/* Parameters hold one value per channel, or (spatial=0, before opset 9) one
 * per element of a sample: C x D1 x ... */
static nn_status bn_params(ir_graph *g, const ir_node *n, bool *per_element) {
  const ir_tensor *x = n->inputs[0];
  int64_t c = x->dims[1], sample = ir_numel(x) / (x->dims[0] ? x->dims[0] : 1);
  bool spatial = n->opset >= 9 || ir_attr_int(n, "spatial", 1) != 0;
  *per_element = ir_numel(n->inputs[1]) != c && !spatial;
  for (int k = 1; k < 5; k++) {
    int64_t want = *per_element ? sample : c, have = ir_numel(n->inputs[k]);
    if (have != want) {
      char s[128];
      return diag_node(g->path, n, "input %d '%s' has shape %s; expected %lld values (%s)", k,
                       bn_inputs[k], ir_shape_str(n->inputs[k], s, sizeof s), (long long)want,
                       *per_element ? "one per element of a sample" : "one per channel");
    }
  }
  return NN_OK;
}

/* training_mode exists from opset 14; earlier opsets' training outputs are not supported. */
static bool bn_training(const ir_node *n) {
  return n->opset >= 14 && ir_attr_int(n, "training_mode", 0) != 0;
}

static nn_status infer_batchnorm(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 5, 5))
    return NN_ERR;
  for (int k = 0; k < 5; k++) {
    if (!n->inputs[k])
      return diag_node(g->path, n, "input %d '%s' is missing", k, bn_inputs[k]);
    if (check_float(g, n, k))
      return NN_ERR;
  }
  bool training = bn_training(n);
  if (n->n_outputs > (training ? 3 : 1))
    return diag_node(g->path, n, "has %d outputs; %s", n->n_outputs,
                     training ? "at most 3 expected (Y, running_mean, running_var)"
                              : "the statistics outputs need training_mode=1 (opset 14 on)");
  if (n->inputs[0]->rank < 2)
    return diag_node(g->path, n, "input 0 'X' has rank %d; expected N x C x ...",
                     n->inputs[0]->rank);
  bool per_element;
  if (bn_params(g, n, &per_element))
    return NN_ERR;
  for (int k = 1; k < n->n_outputs; k++)
    if (n->outputs[k])
      ir_set_shape(n->outputs[k], n->inputs[k + 2]->dtype, 1, &n->inputs[0]->dims[1]);
  return infer_same_as_input(g, n);
}

/* Training mode normalises by the batch's own mean and (biased) variance per
 * channel and writes the running averages
 * input_mean * momentum + batch_mean * (1 - momentum) (and the same for var). */
static void bn_running_stats(emit_ctx *e, const ir_node *n) {
  double m = ir_attr_float(n, "momentum", 0.9);
  for (int k = 1; k < 3; k++)
    if (ir_out(n, k))
      emit_line(e, "out%d[r] = (%s)(in%d[r] * %.17g + %s * %.17g);", k,
                ir_dtype_ctype(n->outputs[k]->dtype), k + 2, m, k == 1 ? "mean" : "var", 1 - m);
}

static void emit_batchnorm_training(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  bool red[NORM_MAX_DIMS];
  int64_t ps[NORM_MAX_PARAMS][NORM_MAX_DIMS] = {{0, 1}, {0, 1}};
  for (int d = 0; d < x->rank; d++)
    red[d] = d != 1;
  norm_view v;
  norm_view_build(&v, x->rank, x->dims, red, 2, ps);
  norm_spec s = {.center = true, .eps = ir_attr_float(n, "epsilon", 1e-5), .scale_in = 1,
                 .bias_in = 2, .mean_out = -1, .inv_out = -1, .per_group = bn_running_stats};
  emit_normalize(e, n, &v, &s);
}

/* y = (x - mean) * scale / sqrt(var + epsilon) + B, one plane per (n, c). */
static void emit_batchnorm(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  if (ir_numel(x) == 0)
    return;
  if (bn_training(n)) {
    emit_batchnorm_training(e, n);
    return;
  }
  bool per_element;
  bn_params(e->g, n, &per_element);
  ir_dtype t = x->dtype;
  const char *T = ir_dtype_ctype(t), *sqrt_fn = math_fn(e, "sqrt", t);
  const char *eps = emit_literal(e, t, ir_attr_float(n, "epsilon", 1e-5));
  int64_t c = x->dims[1], plane = ir_numel(x) / (x->dims[0] * c);
  emit_parallel_for(e, "nc", x->dims[0] * c, plane * 2);
  emit_line(e, "const %s *x = in0 + nc * %lld;", T, (long long)plane);
  emit_line(e, "%s *y = out0 + nc * %lld;", T, (long long)plane);
  emit_line(e, "const int64_t c = nc %% %lld;", (long long)c);
  if (per_element) {
    emit_simd(e);
    emit_for(e, "i", plane);
    emit_line(e, "const int64_t j = c * %lld + i;", (long long)plane);
    emit_line(e, "y[i] = (x[i] - in3[j]) * (in1[j] / %s(in4[j] + %s)) + in2[j];", sqrt_fn, eps);
  } else {
    emit_line(e, "const %s a = in1[c] / %s(in4[c] + %s), m = in3[c], b = in2[c];", T, sqrt_fn, eps);
    emit_simd(e);
    emit_for(e, "i", plane);
    emit_line(e, "y[i] = (x[i] - m) * a + b;");
  }
  emit_close(e);
  emit_close(e);
}

/* ---- Dropout ---- */

/* Dropout is the identity unless training_mode (input 2, opset 12+) is a
 * true constant and ratio is not 0. Before opset 7 the is_test attribute
 * is ignored: every runtime runs exported graphs as tests. */
static nn_status dropout_check_mode(ir_graph *g, const ir_node *n) {
  const ir_tensor *tm = ir_in(n, 2), *ratio = ir_in(n, 1);
  if (!tm)
    return NN_OK;
  if (tm->kind != IR_WEIGHT || ir_numel(tm) != 1)
    return diag_node(g->path, n, "input 2 'training_mode' must be a constant scalar");
  if (!ir_weight_int(tm, 0))
    return NN_OK;
  if (ratio && ratio->kind != IR_WEIGHT)
    return diag_node(g->path, n, "input 1 'ratio' must be a constant when training_mode is true");
  if (!ratio || ir_numel(ratio) != 1 || ir_weight_float(ratio, 0) != 0)
    return diag_node(g->path, n, "training_mode=1 drops elements at random, and nncc compiles "
                     "ONNX graphs for inference (training_mode=0, or ratio 0); `nncc train` "
                     "trains models with dropout");
  return NN_OK;
}

static nn_status infer_dropout(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 3) || dropout_check_mode(g, n))
    return NN_ERR;
  if (n->n_outputs > 2)
    return diag_node(g->path, n, "has %d outputs; at most 2 expected", n->n_outputs);
  const ir_tensor *x = n->inputs[0];
  ir_set_shape(n->outputs[0], x->dtype, x->rank, x->dims);
  if (ir_out(n, 1)) /* the mask is bool from opset 10, of X's type before */
    ir_set_shape(n->outputs[1], n->opset >= 10 ? IR_BOOL : x->dtype, x->rank, x->dims);
  return NN_OK;
}

static void emit_dropout(emit_ctx *e, const ir_node *n) {
  const ir_tensor *y = n->outputs[0], *mask = ir_out(n, 1);
  if (ir_numel(y) == 0)
    return;
  emit_line(e, "memcpy(out0, in0, %zu);", ir_bytes(y));
  if (!mask)
    return;
  if (mask->dtype == IR_BOOL) {
    emit_line(e, "memset(out1, 1, %lld);", (long long)ir_numel(mask));
    return;
  }
  emit_for(e, "i", ir_numel(mask));
  emit_line(e, "out1[i] = %s;", emit_literal(e, mask->dtype, 1));
  emit_close(e);
}

static nn_status fold_dropout(ir_graph *g, ir_node *n) {
  ir_tensor *y = n->outputs[0], *mask = ir_out(n, 1);
  if (mask && mask->dtype != IR_BOOL)
    return NN_ERR;
  void *data = ir_make_weight(g, y);
  if (ir_bytes(y))
    memcpy(data, n->inputs[0]->data, ir_bytes(y));
  if (mask)
    memset(ir_make_weight(g, mask), 1, ir_bytes(mask));
  return NN_OK;
}

/* ---- LRN: each value over a window of neighbouring channels ---- */

static nn_status infer_lrn(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1) || check_float(g, n, 0))
    return NN_ERR;
  if (n->inputs[0]->rank < 3)
    return diag_node(g->path, n, "input must be N x C x D1 x ..., has rank %d", n->inputs[0]->rank);
  if (ir_attr_int(n, "size", 0) < 1)
    return diag_node(g->path, n, "attribute 'size' must be a positive integer");
  return infer_same_as_input(g, n);
}

/* y = x / (bias + alpha / size * sum of x^2 over channels
 *          [c - floor((size-1)/2), c + ceil((size-1)/2)]) ^ beta */
static void emit_lrn(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  int64_t size = ir_attr_int(n, "size", 1), c = x->dims[1], inner = ir_numel(x) / x->dims[0] / c;
  double alpha = ir_attr_float(n, "alpha", 1e-4), beta = ir_attr_float(n, "beta", 0.75),
         bias = ir_attr_float(n, "bias", 1.0);
  const char *ct = ir_dtype_ctype(x->dtype);
  emit_parallel_for(e, "b", x->dims[0] * c, inner * size);
  emit_line(e, "const int64_t ch = b %% %lld, base = b * %lld;", (long long)c, (long long)inner);
  emit_line(e, "const int64_t lo = ch - %lld < 0 ? 0 : ch - %lld;", (long long)((size - 1) / 2),
            (long long)((size - 1) / 2));
  emit_line(e, "const int64_t hi = ch + %lld > %lld ? %lld : ch + %lld;", (long long)(size / 2),
            (long long)(c - 1), (long long)(c - 1), (long long)(size / 2));
  emit_for(e, "i", inner);
  emit_line(e, "%s sum = 0;", ct);
  emit_open(e, "for (int64_t k = lo; k <= hi; k++)");
  emit_line(e, "const %s v = in0[base + (k - ch) * %lld + i];", ct, (long long)inner);
  emit_line(e, "sum += v * v;");
  emit_close(e);
  emit_line(e, "out0[base + i] = in0[base + i] / %s(%s + %s * sum, %s);", math_fn(e, "pow", x->dtype),
            emit_literal(e, x->dtype, bias), emit_literal(e, x->dtype, alpha / (double)size),
            emit_literal(e, x->dtype, beta));
  emit_close(e);
  emit_close(e);
}

const op_def op_family_normalization[] = {
    {"LRN", "", infer_lrn, NULL, emit_lrn, 0},
    {"BatchNormalization", "", infer_batchnorm, NULL, emit_batchnorm, 0},
    {"Dropout", "", infer_dropout, fold_dropout, emit_dropout, 0, OP_CONST(1) | OP_CONST(2),
     .grad = grad_dropout},
    {NULL},
};
