/* Capsule layers (Sabour, Frosst and Hinton, "Dynamic Routing Between
 * Capsules", 2017), composed from standard ONNX ops only -- Conv, Reshape,
 * Transpose, MatMul, Mul, Div, Add, Sqrt, Softmax, ReduceSum -- with the
 * routing iterations unrolled, so export, onnxruntime and autodiff need no
 * special op. A capsule is a vector along the last axis; its length says how
 * likely its entity is present. */
#include "nn_lower.h"

/* Keeps squash's division finite for an all-zero capsule (as Keras' epsilon). */
#define SQUASH_EPS 1e-7f

/* squash(s) = s * |s|^2 / (1 + |s|^2) / sqrt(|s|^2 + eps), along the last
 * axis of t (rank `rank` with the batch): short vectors shrink to almost
 * zero, long ones to just under length 1. */
ir_tensor *nn_squash(nn_layer *c, ir_tensor *t, int rank) {
  int64_t last = rank - 1;
  ir_tensor *sq = nb_op(c, "ReduceSum", nb_op(c, "Mul", t, t),
                        nb_i64s(c, mem_printf(c->L->mem, "squash_axes%d", c->n_tmp), &last, 1));
  nb_int(c, "keepdims", 1);
  ir_tensor *gain = nb_op(c, "Div", sq, nb_op(c, "Add", sq, nb_scalar(c, "one", 1)));
  ir_tensor *norm = nb_op(c, "Sqrt", nb_op(c, "Add", sq, nb_scalar(c, "eps", SQUASH_EPS)), NULL);
  return nb_op(c, "Mul", t, nb_op(c, "Div", gain, norm));
}

static ir_tensor *reshape(nn_layer *c, ir_tensor *t, const int64_t *shape, int rank) {
  return nb_op(c, "Reshape", t, nb_i64s(c, mem_printf(c->L->mem, "shape%d", c->n_tmp), shape, rank));
}

/* A valid-padded conv2d of capsules * dim filters, regrouped and squashed:
 * [C, H, W] -> [capsules * H' * W', dim]. Filter n * dim + j is component j
 * of capsule type n; the capsules are ordered by type, then position. */
nn_status nn_lower_primary_capsules(nn_layer *c) {
  nn_lower *L = c->L;
  nn_val x = c->in[0];
  if (x.shape.rank != 3)
    return nn_want_rank(c, 0, 3, "[channels, height, width]");
  int64_t k[2], s[2], out_hw[2], n = nn_arg_int(&c->a, "capsules"), dim = nn_arg_int(&c->a, "dim");
  if (nn_arg_ints(L->src, &c->a, "kernel", 2, k) || nn_arg_ints(L->src, &c->a, "stride", 2, s))
    return NN_ERR;
  int64_t caps = n;
  for (int i = 0; i < 2; i++) {
    if (x.shape.d[1 + i] < k[i]) {
      nn_error(L->src, c->in_loc[0],
               "primary_capsules '%s': its %lldx%lld kernel does not fit in '%s', which is %s",
               c->name, (long long)k[0], (long long)k[1], c->in_name[0],
               nn_shape_str(L->mem, &x.shape));
      return NN_ERR;
    }
    out_hw[i] = (x.shape.d[1 + i] - k[i]) / s[i] + 1;
    caps = nn_sat_mul(caps, out_hw[i]);
  }
  nn_shape out = {.rank = 2, .d = {caps, dim}};
  int64_t filters = nn_sat_mul(n, dim), C = x.shape.d[0];
  nn_shape conv_out = {.rank = 3, .d = {filters, out_hw[0], out_hw[1]}};
  if (nn_set_out(c, NULL, &out) || nn_set_out(c, NULL, &conv_out))
    return NN_ERR;
  int64_t wd[4] = {filters, C, k[0], k[1]}, rf = nn_sat_mul(k[0], k[1]);
  ir_node *conv = nb_node(c, "Conv", 3, 1, "conv");
  conv->inputs[0] = x.t;
  conv->inputs[1] = nb_learned(c, "weight", 4, wd, nn_sat_mul(C, rf), nn_sat_mul(filters, rf));
  conv->inputs[2] = nb_bias(c, "bias", 1, &filters, nn_sat_mul(C, rf));
  nb_ints(c, "kernel_shape", k, 2);
  nb_ints(c, "strides", s, 2);
  int64_t grouped[4] = {-1, n, dim, out_hw[0] * out_hw[1]}, flat[3] = {-1, caps, dim};
  static const int64_t dim_last[4] = {0, 1, 3, 2};
  ir_tensor *t = nb_op(c, "Transpose", reshape(c, conv->outputs[0], grouped, 4), NULL);
  nb_ints(c, "perm", dim_last, 4);
  return nn_set_out(c, nn_squash(c, reshape(c, t, flat, 3), 3), &out);
}

/* Routing by agreement, unrolled: [n_in, d_in] -> [capsules, dim].
 *   u_hat[i, j] = W[i, j] u[i]                      predictions, [n_in, n_out, dim]
 *   b = 0; repeat `routing` times:
 *     c = softmax of b over j;  v[j] = squash(sum_i c[i, j] u_hat[i, j])
 *     b[i, j] += u_hat[i, j] . v[j]                 (not after the last)
 * The first pass has b = 0, so c is the constant 1 / n_out. */
nn_status nn_lower_capsules(nn_layer *c) {
  nn_val x = c->in[0];
  if (x.shape.rank != 2)
    return nn_want_rank(c, 0, 2, "[capsules, dim]");
  int64_t n_in = x.shape.d[0], d_in = x.shape.d[1];
  int64_t n_out = nn_arg_int(&c->a, "capsules"), dim = nn_arg_int(&c->a, "dim");
  int64_t iters = nn_arg_int(&c->a, "routing");
  nn_shape out = {.rank = 2, .d = {n_out, dim}};
  if (nn_set_out(c, NULL, &out))
    return NN_ERR;
  /* u [B, n_in, 1, d_in] @ W [n_in, d_in, n_out * dim] -> [B, n_in, 1, n_out * dim] */
  int64_t u_shape[4] = {-1, n_in, 1, d_in}, wd[3] = {n_in, d_in, nn_sat_mul(n_out, dim)};
  int64_t hat_shape[4] = {-1, n_in, n_out, dim}, v_shape[4] = {-1, 1, n_out, dim};
  ir_tensor *w = nb_learned(c, "weight", 3, wd, d_in, dim);
  ir_tensor *u_hat = reshape(c, nb_op(c, "MatMul", reshape(c, x.t, u_shape, 4), w), hat_shape, 4);
  int64_t over_in = 1, over_dim = 3;
  ir_tensor *b = NULL, *v = NULL;
  for (int64_t it = 0; it < iters; it++) {
    ir_tensor *weighted = u_hat;
    if (b) {
      ir_tensor *cc = nb_op(c, "Softmax", b, NULL); /* [B, n_in, n_out, 1] */
      nb_int(c, "axis", 2);
      weighted = nb_op(c, "Mul", u_hat, cc);
    }
    ir_tensor *s = nb_op(c, "ReduceSum", weighted,
                         nb_i64s(c, mem_printf(c->L->mem, "sum_axes%d", c->n_tmp), &over_in, 1));
    nb_int(c, "keepdims", 0); /* [B, n_out, dim] */
    if (!b)
      s = nb_op(c, "Mul", s, nb_scalar(c, "uniform", 1.0f / (float)n_out));
    v = nn_squash(c, s, 3);
    if (it + 1 == iters)
      break;
    ir_tensor *agree = nb_op(c, "ReduceSum", nb_op(c, "Mul", u_hat, reshape(c, v, v_shape, 4)),
                             nb_i64s(c, mem_printf(c->L->mem, "dot_axes%d", c->n_tmp), &over_dim, 1));
    nb_int(c, "keepdims", 1); /* [B, n_in, n_out, 1] */
    b = b ? nb_op(c, "Add", b, agree) : agree;
  }
  return nn_set_out(c, v, &out);
}

/* Keeps the longest capsule and zeroes the others, [capsules, dim] (CapsNet
 * feeds this to its reconstruction decoder at inference; training masks by
 * the label instead). The mask is Equal(length, max length): a tie keeps
 * every capsule that has the top length. */
nn_status nn_lower_capsule_mask(nn_layer *c) {
  nn_val x = c->in[0];
  if (x.shape.rank != 2)
    return nn_want_rank(c, 0, 2, "[capsules, dim]");
  int64_t dim_axis = 2, caps_axis = 1;
  ir_tensor *len = nb_op(c, "ReduceL2", x.t, NULL); /* [B, capsules, 1] */
  nb_ints(c, "axes", &dim_axis, 1);
  nb_int(c, "keepdims", 1);
  ir_tensor *top = nb_op(c, "ReduceMax", len, NULL); /* [B, 1, 1] */
  nb_ints(c, "axes", &caps_axis, 1);
  nb_int(c, "keepdims", 1);
  ir_tensor *mask = nb_op(c, "Cast", nb_op(c, "Equal", len, top), NULL);
  nb_int(c, "to", IR_FLOAT);
  return nn_set_out(c, nb_op(c, "Mul", x.t, mask), &x.shape);
}

/* The length of each capsule: [..., dim] -> [...]. */
nn_status nn_lower_capsule_length(nn_layer *c) {
  nn_val x = c->in[0];
  if (x.shape.rank < 2)
    return nn_want_rank(c, 0, 2, "[capsules, dim]");
  int64_t last = x.shape.rank; /* the batch axis comes first */
  ir_tensor *y = nb_op(c, "ReduceL2", x.t, NULL);
  nb_ints(c, "axes", &last, 1);
  nb_int(c, "keepdims", 0);
  nn_shape out = x.shape;
  out.rank--;
  return nn_set_out(c, y, &out);
}
