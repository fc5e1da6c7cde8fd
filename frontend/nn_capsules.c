/* Capsule layers: parsed and shape-checked, not lowered yet. Routing by
 * agreement has no ONNX operator; composing it from ops is future work.
 * Their output shapes are still computed, so later layers are checked. */
#include "nn_lower.h"

/* A valid-padded conv2d of capsules * dim filters, regrouped:
 * [C, H, W] -> [capsules * H' * W', dim]. */
nn_status nn_lower_primary_capsules(nn_layer *c) {
  nn_lower *L = c->L;
  nn_val x = c->in[0];
  if (x.shape.rank != 3)
    return nn_want_rank(c, 0, 3, "[channels, height, width]");
  int64_t k[2], s[2], n = nn_arg_int(&c->a, "capsules");
  if (nn_arg_ints(L->src, &c->a, "kernel", 2, k) || nn_arg_ints(L->src, &c->a, "stride", 2, s))
    return NN_ERR;
  for (int i = 0; i < 2; i++) {
    if (x.shape.d[1 + i] < k[i]) {
      nn_error(L->src, c->in_loc[0],
               "primary_capsules '%s': its %lldx%lld kernel does not fit in '%s', which is %s",
               c->name, (long long)k[0], (long long)k[1], c->in_name[0],
               nn_shape_str(L->mem, &x.shape));
      return NN_ERR;
    }
    n = nn_sat_mul(n, (x.shape.d[1 + i] - k[i]) / s[i] + 1);
  }
  nn_shape out = {.rank = 2, .d = {n, nn_arg_int(&c->a, "dim")}};
  return nn_unsupported(c, NULL, &out);
}

/* [n_in, dim_in] -> [capsules, dim] */
nn_status nn_lower_capsules(nn_layer *c) {
  nn_val x = c->in[0];
  if (x.shape.rank != 2)
    return nn_want_rank(c, 0, 2, "[capsules, dim]");
  nn_shape out = {.rank = 2, .d = {nn_arg_int(&c->a, "capsules"), nn_arg_int(&c->a, "dim")}};
  return nn_unsupported(c, NULL, &out);
}
