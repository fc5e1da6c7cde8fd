/* Normalization in training: batch normalization by batch statistics, the
 * running statistics' update, and the backward kernels of batch and layer
 * normalization. Statistics are summed in double.
 *
 *   nncc::BatchNormTrain(X, scale, B[, running_mean, running_var, training, mask])
 *       -> (Y, mean, inv_std)    per channel; a false `training` flag (bool
 *       scalar) normalizes by the running statistics instead, as inference;
 *       samples whose `mask` is 0 (a short batch's padding) take no part in
 *       the statistics
 *   nncc::BatchNormStatsUpdate(running_mean, running_var, mean, inv_std)
 *       in place: r = r * momentum + batch * (1 - momentum) (ONNX's convention);
 *       with `count` > 1 the batch variance is made unbiased (x count/(count-1),
 *       PyTorch's running_var)
 *   nncc::BatchNormGrad(dY, X, scale, mean, inv_std[, mask]) -> (dX, dscale, dB)
 *       (masked samples: outside the statistics, zero dX)
 *   nncc::LayerNormGrad(dY, X, scale, mean, inv_std) -> (dX, dscale, dB)
 *       over the axes from `axis` on, as LayerNormalization's outputs 1 and 2;
 *       scale holds one value per normalized element, or one per element of X
 *       (dscale and dB then per element too) */
#include "common.h"
#include "grad_rules.h"

/* ---- batch normalization ---- */

/* X is [N, C, ...]; every other input listed holds one value per channel. */
static nn_status check_per_channel(ir_graph *g, const ir_node *n, int x, int from, int to) {
  const ir_tensor *t = n->inputs[x];
  if (t->rank < 2)
    return diag_node(g->path, n, "input %d has rank %d; expected N x C x ...", x, t->rank);
  for (int k = from; k < to; k++) {
    const ir_tensor *p = n->inputs[k];
    if (!p)
      return diag_node(g->path, n, "input %d is missing", k);
    if (check_float(g, n, k))
      return NN_ERR;
    if (p->dtype != t->dtype || ir_numel(p) != t->dims[1]) {
      char s[128];
      return diag_node(g->path, n, "input %d is %s %s; expected %lld %s values (one per channel)",
                       k, ir_dtype_name(p->dtype), ir_shape_str(p, s, sizeof s),
                       (long long)t->dims[1], ir_dtype_name(t->dtype));
    }
  }
  return NN_OK;
}

static void set_channel_out(ir_node *n, int k, const ir_tensor *x) {
  if (ir_out(n, k))
    ir_set_shape(n->outputs[k], x->dtype, 1, &x->dims[1]);
}

/* Input k, when present, is the per-sample mask: one float per sample of X (input x). */
static nn_status check_mask(ir_graph *g, const ir_node *n, int k, int x) {
  const ir_tensor *m = ir_in(n, k);
  if (m && (check_float(g, n, k) || ir_numel(m) != n->inputs[x]->dims[0]))
    return diag_node(g->path, n, "input %d 'mask' must hold one float per sample", k);
  return NN_OK;
}

static nn_status infer_bn_train(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 3, 7) || check_mask(g, n, 6, 0) || check_float(g, n, 0) ||
      check_per_channel(g, n, 0, 1, n->n_inputs > 3 ? 5 : 3))
    return NN_ERR;
  const ir_tensor *flag = ir_in(n, 5);
  if (flag && (flag->dtype != IR_BOOL || ir_numel(flag) != 1))
    return diag_node(g->path, n, "input 5 'training' must be one bool");
  const ir_tensor *x = n->inputs[0];
  if (ir_numel(x) == x->dims[1]) { /* as PyTorch, which refuses it too */
    char s[128];
    return diag_node(g->path, n, "batch normalization in training needs more than one value "
                     "per channel; X is %s (a batch of 1 without spatial axes), so every "
                     "output would be B and no gradient would pass: train with batches of "
                     "2 or more (--batch, or the train block's batch; not update = sample)",
                     ir_shape_str(x, s, sizeof s));
  }
  infer_same_as_input(g, n);
  set_channel_out(n, 1, n->inputs[0]);
  set_channel_out(n, 2, n->inputs[0]);
  return NN_OK;
}

/* Opens the loops over the elements of channel c: nb over the batch, i over
 * the plane, with x (and the named others) pointing at the plane. */
static void open_channel(emit_ctx *e, const ir_tensor *x, const char *const *ptrs, int n_ptrs,
                         const char *simd, const char *pre) {
  int64_t C = x->dims[1], plane = ir_numel(x) / (x->dims[0] * C);
  const char *T = ir_dtype_ctype(x->dtype);
  emit_for(e, "nb", x->dims[0]);
  if (pre) /* a per-sample line: skips or flags masked samples */
    emit_line(e, "%s", pre);
  for (int k = 0; k < n_ptrs; k += 2)
    emit_line(e, "%s%s *restrict %s = %s + (nb * %lld + c) * %lld;",
              strncmp(ptrs[k + 1], "out", 3) ? "const " : "", T, ptrs[k], ptrs[k + 1],
              (long long)C, (long long)plane);
  if (simd)
    emit_simd_sum(e, simd);
  else
    emit_simd(e);
  emit_for(e, "i", plane);
}

/* "cnt": the elements per channel of the samples the mask (input k) keeps,
 * declared before the channel loop; or the literal count without a mask. */
static const char *kept_count(emit_ctx *e, const ir_node *n, int k) {
  const ir_tensor *x = n->inputs[k == 6 ? 0 : 1];
  int64_t per = ir_numel(x) / x->dims[1];
  if (!ir_in(n, k))
    return mem_printf(e->g->mem, "%lld", (long long)per);
  emit_line(e, "double cnt = 0;");
  emit_for(e, "nb", x->dims[0]);
  emit_line(e, "cnt += !in%d || in%d[nb] != 0; /* no mask: every sample */", k, k);
  emit_close(e);
  emit_line(e, "cnt = cnt > 0 ? cnt * %lld : 1;", (long long)(per / x->dims[0]));
  return "cnt";
}

static void emit_bn_train(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  if (ir_numel(x) == 0)
    return;
  const char *T = ir_dtype_ctype(x->dtype);
  int64_t C = x->dims[1], cnt = ir_numel(x) / C;
  static const char *const xs[] = {"x", "in0"}, *const xy[] = {"x", "in0", "y", "out0"};
  if (ir_in(n, 5)) { /* not training: the running statistics, as inference */
    emit_open(e, "if (!in5[0])");
    emit_parallel_for(e, "c", C, cnt * 2);
    emit_line(e, "const %s a = (%s)(in1[c] / sqrt((double)in4[c] + %.17g)), m = in3[c], b = in2[c];",
              T, T, ir_attr_float(n, "epsilon", 1e-5));
    open_channel(e, x, xy, 4, NULL, NULL);
    emit_line(e, "y[i] = (x[i] - m) * a + b;");
    emit_close(e);
    emit_close(e);
    emit_close(e);
    emit_line(e, "return;");
    emit_close(e);
  }
  const char *count = kept_count(e, n, 6);
  const char *skip = ir_in(n, 6) ? "if (in6 && in6[nb] == 0) continue; /* a padding sample */" : NULL;
  emit_parallel_for(e, "c", C, cnt * 4);
  emit_line(e, "double s = 0, v = 0;");
  open_channel(e, x, xs, 2, "s", skip);
  emit_line(e, "s += x[i];");
  emit_close(e);
  emit_close(e);
  emit_line(e, "const double mu = s / %s;", count);
  open_channel(e, x, xs, 2, "v", skip);
  emit_line(e, "const double d = x[i] - mu;");
  emit_line(e, "v += d * d;");
  emit_close(e);
  emit_close(e);
  emit_line(e, "const double is = 1 / sqrt(v / %s + %.17g);", count,
            ir_attr_float(n, "epsilon", 1e-5));
  if (ir_out(n, 1))
    emit_line(e, "out1[c] = (%s)mu;", T);
  if (ir_out(n, 2))
    emit_line(e, "out2[c] = (%s)is;", T);
  emit_line(e, "const %s m = (%s)mu, a = (%s)(in1[c] * is), b = in2[c];", T, T, T);
  open_channel(e, x, xy, 4, NULL, NULL);
  emit_line(e, "y[i] = (x[i] - m) * a + b;");
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

static nn_status infer_bn_stats_update(ir_graph *g, ir_node *n) {
  if (n->n_inputs != 4 || n->n_outputs != 0)
    return diag_node(g->path, n, "expects 4 inputs and no output");
  for (int k = 0; k < 4; k++) {
    const ir_tensor *t = n->inputs[k];
    if (!t)
      return diag_node(g->path, n, "input %d is missing", k);
    if (check_float(g, n, k))
      return NN_ERR;
    if (t->dtype != n->inputs[0]->dtype || ir_numel(t) != ir_numel(n->inputs[0]))
      return diag_node(g->path, n, "input %d does not match the running mean's dtype and size", k);
  }
  for (int k = 0; k < 2; k++)
    if (n->inputs[k]->kind != IR_STATE)
      return diag_node(g->path, n, "input %d, a running statistic, must be training state", k);
  return NN_OK;
}

static void emit_bn_stats_update(emit_ctx *e, const ir_node *n) {
  const ir_tensor *rm = n->inputs[0];
  double mom = ir_attr_float(n, "momentum", 0.9), eps = ir_attr_float(n, "epsilon", 1e-5);
  int64_t cnt = ir_attr_int(n, "count", 0);
  const char *T = ir_dtype_ctype(rm->dtype);
  emit_for(e, "c", ir_numel(rm));
  emit_line(e, "const double var = 1 / ((double)in3[c] * in3[c]) - %.17g;", eps);
  emit_line(e, "in0[c] = (%s)(in0[c] * %.17g + in2[c] * %.17g);", T, mom, 1 - mom);
  emit_line(e, "in1[c] = (%s)(in1[c] * %.17g + var * %.17g);", T, mom,
            (1 - mom) * (cnt > 1 ? (double)cnt / (double)(cnt - 1) : 1));
  emit_close(e);
}

static nn_status infer_bn_grad(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 5, 6) || check_float(g, n, 0) || check_per_channel(g, n, 1, 2, 5) ||
      check_mask(g, n, 5, 1))
    return NN_ERR;
  const ir_tensor *dy = n->inputs[0], *x = n->inputs[1];
  if (!x || dy->dtype != x->dtype || dy->rank != x->rank ||
      memcmp(dy->dims, x->dims, sizeof *x->dims * (size_t)x->rank))
    return diag_node(g->path, n, "dY and X must have the same dtype and shape");
  ir_set_shape(n->outputs[0], x->dtype, x->rank, x->dims);
  set_channel_out(n, 1, x);
  set_channel_out(n, 2, x);
  return NN_OK;
}

/* With xh = (x - m) * is: dB = sum dy, dscale = sum dy * xh,
 * dx = scale * is * (dy - dB / cnt - xh * dscale / cnt). */
static void emit_bn_grad(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[1];
  if (ir_numel(x) == 0)
    return;
  const char *T = ir_dtype_ctype(x->dtype);
  int64_t C = x->dims[1], cnt = ir_numel(x) / C;
  static const char *const in[] = {"dy", "in0", "x", "in1"};
  static const char *const all[] = {"dy", "in0", "x", "in1", "dx", "out0"};
  const char *count = kept_count(e, n, 5);
  bool masked = ir_in(n, 5) != NULL;
  emit_parallel_for(e, "c", C, cnt * 4);
  emit_line(e, "const %s m = in3[c], is = in4[c];", T);
  emit_line(e, "double sdy = 0, sdyx = 0;");
  open_channel(e, x, in, 4, "sdy, sdyx", masked ? "if (in5 && in5[nb] == 0) continue;" : NULL);
  emit_line(e, "sdy += dy[i];");
  emit_line(e, "sdyx += dy[i] * (x[i] - m);");
  emit_close(e);
  emit_close(e);
  if (ir_out(n, 1))
    emit_line(e, "out1[c] = (%s)(sdyx * is);", T);
  if (ir_out(n, 2))
    emit_line(e, "out2[c] = (%s)sdy;", T);
  emit_line(e, "const %s k = in2[c] * is, mdy = (%s)(sdy / %s), kx = (%s)(sdyx * is * is / %s);",
            T, T, count, T, count);
  /* a padding sample took no part in the statistics: no gradient flows back through it */
  open_channel(e, x, all, 6, NULL, masked ? mem_printf(e->g->mem, "const %s keep = !in5 || in5[nb] != 0;", T)
                                          : NULL);
  emit_line(e, "dx[i] = %sk * (dy[i] - mdy - (x[i] - m) * kx);", masked ? "keep * " : "");
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* ---- layer normalization ---- */

/* X viewed as [rows, cols] with the normalized axes (from `axis` on) as cols. */
static nn_status ln_split(ir_graph *g, const ir_node *n, const ir_tensor *x, int64_t *rows,
                          int64_t *cols) {
  int axis;
  if (norm_axis(g, n, ir_attr_int(n, "axis", -1), x->rank, &axis))
    return NN_ERR;
  *rows = 1;
  *cols = 1;
  for (int d = 0; d < x->rank; d++)
    *(d < axis ? rows : cols) *= x->dims[d];
  return NN_OK;
}

static nn_status infer_ln_grad(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 5, 5) || check_float(g, n, 0))
    return NN_ERR;
  for (int k = 1; k < 5; k++)
    if (!n->inputs[k])
      return diag_node(g->path, n, "input %d is missing", k);
  const ir_tensor *dy = n->inputs[0], *x = n->inputs[1];
  int64_t rows, cols;
  if (ln_split(g, n, x, &rows, &cols))
    return NN_ERR;
  if (dy->dtype != x->dtype || dy->rank != x->rank ||
      memcmp(dy->dims, x->dims, sizeof *x->dims * (size_t)x->rank))
    return diag_node(g->path, n, "dY and X must have the same dtype and shape");
  for (int k = 2; k < 5; k++) {
    const ir_tensor *t = n->inputs[k];
    int64_t want = k == 2 ? cols : rows;
    bool stat_ok = k > 2 && t->dtype == IR_FLOAT; /* LayerNormalization keeps float stats */
    bool per_element = k == 2 && ir_numel(t) == rows * cols;
    if ((t->dtype != x->dtype && !stat_ok) || (ir_numel(t) != want && !per_element))
      return diag_node(g->path, n, "input %d must hold %lld %s values (%s)", k, (long long)want,
                       ir_dtype_name(x->dtype), k == 2 ? "the normalized shape" : "one per row");
  }
  ir_set_shape(n->outputs[0], x->dtype, x->rank, x->dims);
  for (int k = 1; k < 3; k++)
    if (ir_out(n, k))
      ir_set_shape(n->outputs[k], x->dtype, n->inputs[2]->rank, n->inputs[2]->dims);
  return NN_OK;
}

#define LN_COLS 64 /* columns per task of the dscale and dB sums */

/* Per row, with g = dy * scale and xh = (x - m) * is:
 * dx = is * (g - sum(g) / cols - (x - m) * is * is * sum(g * (x - m)) / cols);
 * per column, dscale = sum over rows of dy * xh and dB = sum of dy (per
 * element, with a scale per element: dy * xh and dy). */
static void emit_ln_grad(emit_ctx *e, const ir_node *n) {
  int64_t rows, cols;
  if (ir_numel(n->inputs[1]) == 0 || ln_split(e->g, n, n->inputs[1], &rows, &cols))
    return;
  const char *T = ir_dtype_ctype(n->inputs[1]->dtype);
  bool per_element = ir_numel(n->inputs[2]) != cols;
  emit_parallel_for(e, "r", rows, cols * 6);
  emit_line(e, "const %s *restrict dy = in0 + r * %lld, *restrict x = in1 + r * %lld;", T,
            (long long)cols, (long long)cols);
  emit_line(e, "const %s *restrict s = in2%s;", T,
            per_element ? mem_printf(e->g->mem, " + r * %lld", (long long)cols) : "");
  emit_line(e, "const %s m = in3[r], is = in4[r];", T);
  emit_line(e, "double sg = 0, sgx = 0;");
  emit_simd_sum(e, "sg, sgx");
  emit_for(e, "j", cols);
  emit_line(e, "const %s gj = dy[j] * s[j];", T);
  emit_line(e, "sg += gj;");
  emit_line(e, "sgx += gj * (x[j] - m);");
  emit_close(e);
  emit_line(e, "const %s mg = (%s)(sg / %lld), kx = (%s)(sgx * is * is / %lld);", T, T,
            (long long)cols, T, (long long)cols);
  emit_simd(e);
  emit_for(e, "j", cols);
  emit_line(e, "out0[r * %lld + j] = is * (dy[j] * s[j] - mg - (x[j] - m) * kx);",
            (long long)cols);
  emit_close(e);
  emit_close(e);
  if (!ir_out(n, 1) && !ir_out(n, 2))
    return;
  if (per_element) {
    emit_parallel_for(e, "r", rows, cols * 3);
    emit_line(e, "const %s m = in3[r], is = in4[r];", T);
    emit_for(e, "j", cols);
    emit_line(e, "const int64_t i = r * %lld + j;", (long long)cols);
    if (ir_out(n, 1))
      emit_line(e, "out1[i] = (%s)(in0[i] * (in1[i] - m) * is);", T);
    if (ir_out(n, 2))
      emit_line(e, "out2[i] = in0[i];");
    emit_close(e);
    emit_close(e);
    return;
  }
  int64_t blocks = (cols + LN_COLS - 1) / LN_COLS;
  emit_parallel_for(e, "jb", blocks, rows * LN_COLS * 3);
  emit_line(e, "const int64_t j0 = jb * %d, nj = %lld - j0 < %d ? %lld - j0 : %d;", LN_COLS,
            (long long)cols, LN_COLS, (long long)cols, LN_COLS);
  emit_line(e, "double ds[%d] = {0}, db[%d] = {0};", LN_COLS, LN_COLS);
  emit_for(e, "r", rows);
  emit_line(e, "const %s *restrict dy = in0 + r * %lld + j0, *restrict x = in1 + r * %lld + j0;",
            T, (long long)cols, (long long)cols);
  emit_line(e, "const %s m = in3[r], is = in4[r];", T);
  emit_open(e, "for (int64_t j = 0; j < nj; j++)");
  emit_line(e, "ds[j] += dy[j] * (x[j] - m) * is;");
  emit_line(e, "db[j] += dy[j];");
  emit_close(e);
  emit_close(e);
  emit_open(e, "for (int64_t j = 0; j < nj; j++)");
  if (ir_out(n, 1))
    emit_line(e, "out1[j0 + j] = (%s)ds[j];", T);
  if (ir_out(n, 2))
    emit_line(e, "out2[j0 + j] = (%s)db[j];", T);
  emit_close(e);
  emit_close(e);
}

/* ---- gradient rules ---- */

/* BatchNormTrain: BatchNormGrad on its saved statistics. */
static nn_status grad_bn_train(ad_ctx *ad, const ir_node *n) {
  ir_tensor *dy = ad_out_grad(ad, n, 0);
  if (!dy)
    return NN_OK;
  ir_tensor *in[5] = {dy, n->inputs[0], n->inputs[1], n->outputs[1], n->outputs[2]};
  ir_node *b = ad_begin(ad, "nncc", "BatchNormGrad", 5, in, 3);
  ad_finish(ad, b);
  for (int k = 0; k < 3; k++)
    ad_give_grad(ad, n, k, b->outputs[k]);
  return NN_OK;
}

/* Whether p (broadcast to x, aligned on the last axes) holds exactly one
 * value per normalized element: size 1 on the axes before `axis`, x's size
 * from it on. */
static bool per_normalized_element(const ir_tensor *p, const ir_tensor *x, int axis) {
  for (int d = 0; d < x->rank; d++) {
    int pd = d - (x->rank - p->rank);
    int64_t size = pd >= 0 ? p->dims[pd] : 1;
    if (size != (d < axis ? 1 : x->dims[d]))
      return false;
  }
  return true;
}

/* LayerNormalization (given its Mean and InvStdDev outputs by the
 * train-forward pass): LayerNormGrad. Scale and B broadcast to X any way
 * ONNX allows: a Scale with one value per normalized element goes to the
 * kernel as it is; any other is expanded to X's shape first and its
 * gradient summed back over the broadcast axes, as is B's. */
nn_status grad_layer_norm(ad_ctx *ad, const ir_node *n) {
  ir_tensor *dy = ad_out_grad(ad, n, 0);
  if (!dy)
    return NN_OK;
  ir_tensor *x = n->inputs[0], *scale = n->inputs[1], *bias = ir_in(n, 2);
  int axis;
  if (norm_axis(ad_graph(ad), n, ir_attr_int(n, "axis", -1), x->rank, &axis))
    return NN_ERR;
  NN_ASSERT(ir_out(n, 1) && ir_out(n, 2)); /* pass_train_forward gave them */
  bool direct = per_normalized_element(scale, x, axis);
  ir_tensor *s = direct ? scale : ad_op(ad, "Expand", scale, ad_ints(ad, x->rank, x->dims));
  ir_tensor *in[5] = {dy, x, s, n->outputs[1], n->outputs[2]};
  ir_node *b = ad_begin(ad, "nncc", "LayerNormGrad", 5, in, 3);
  ad_attr_int(ad, b, "axis", ir_attr_int(n, "axis", -1));
  ad_finish(ad, b);
  ad_give_grad(ad, n, 0, b->outputs[0]);
  ad_give_grad(ad, n, 1, direct ? b->outputs[1] : ad_reduce_to(ad, b->outputs[1], scale));
  if (bias && direct && per_normalized_element(bias, x, axis))
    ad_give_grad(ad, n, 2, ad_reshape_to(ad, b->outputs[2], bias));
  else if (bias)
    ad_give_grad(ad, n, 2, ad_reduce_to(ad, dy, bias));
  return NN_OK;
}

const op_def op_family_norm_grad[] = {
    {"BatchNormTrain", "nncc", infer_bn_train, NULL, emit_bn_train, 0, .grad = grad_bn_train},
    {"BatchNormStatsUpdate", "nncc", infer_bn_stats_update, NULL, emit_bn_stats_update,
     OP_UPDATES_STATE},
    {"BatchNormGrad", "nncc", infer_bn_grad, NULL, emit_bn_grad, 0},
    {"LayerNormGrad", "nncc", infer_ln_grad, NULL, emit_ln_grad, 0},
    {NULL},
};
