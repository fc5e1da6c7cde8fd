/* dense, perceptron and embedding: the layers whose weights are a matrix. */
#include "nn_lower.h"

/* On a vector, Gemm(x, W, b) with W stored [units, features] (transB), as
 * PyTorch and Keras exports do; on a [steps, features] sequence, MatMul by
 * W [features, units] and Add the bias, acting on the last axis. */
nn_status nn_lower_dense(nn_layer *c) {
  nn_val x = c->in[0];
  int r = x.shape.rank;
  if (r > 2)
    return nn_want_rank(c, 0, 1, "[features] (or [steps, features])");
  int64_t F = x.shape.d[r - 1], U = nn_arg_int(&c->a, "units");
  bool bias = nn_arg_bool(&c->a, "bias");
  nn_val y = x;
  y.shape.d[r - 1] = U;
  if (r == 1) {
    int64_t wd[2] = {U, F};
    ir_node *n = nb_node(c, "Gemm", bias ? 3 : 2, 1, "gemm");
    n->inputs[0] = x.t;
    n->inputs[1] = nb_learned(c, "weight", 2, wd, F, U);
    if (bias)
      n->inputs[2] = nb_bias(c, "bias", 1, &U, F);
    nb_int(c, "transB", 1);
    y.t = n->outputs[0];
  } else {
    int64_t wd[2] = {F, U};
    y.t = nb_op(c, "MatMul", x.t, nb_learned(c, "weight", 2, wd, F, U));
    if (bias)
      y.t = nb_op(c, "Add", y.t, nb_bias(c, "bias", 1, &U, F));
  }
  if (nn_act_apply(c, nn_arg_fn(&c->a, "activation"), &y, nn_arg_loc(&c->a, "activation")))
    return NN_ERR;
  return nn_set_out(c, y.t, &y.shape);
}

/* Gather(W, ids): W [vocab, dim]; the output adds a dim axis to the ids'. */
nn_status nn_lower_embedding(nn_layer *c) {
  nn_val x = c->in[0];
  nn_lower *L = c->L;
  if (x.dtype != IR_INT64 && x.dtype != IR_INT32) {
    nn_error(L->src, c->in_loc[0], "embedding '%s' wants integer ids; '%s' holds %s", c->name,
             c->in_name[0], ir_dtype_name(x.dtype));
    nn_hint(L->src, "declare the input with its type, e.g. input tokens [20] int64");
    return NN_ERR;
  }
  if (x.shape.rank >= NN_MAX_RANK) {
    nn_error(L->src, c->in_loc[0], "embedding '%s' would make a tensor of more than %d axes",
             c->name, NN_MAX_RANK);
    return NN_ERR;
  }
  int64_t V = nn_arg_int(&c->a, "vocab"), D = nn_arg_int(&c->a, "dim");
  int64_t wd[2] = {V, D};
  ir_tensor *y = nb_op(c, "Gather", nb_learned_as(c, "weight", 2, wd, NN_ROLE_EMBEDDING, D, V), x.t);
  nb_int(c, "axis", 0);
  nn_shape s = x.shape;
  s.d[s.rank++] = D;
  return nn_set_out(c, y, &s);
}
