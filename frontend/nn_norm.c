/* Normalisation and dropout, in their inference form. */
#include "nn_lower.h"

/* BatchNormalization over the channel axis (the first of the sample) with
 * the statistics of a fresh model: mean 0, variance 1, scale 1, bias 0. */
nn_status nn_lower_batchnorm(nn_layer *c) {
  nn_val x = c->in[0];
  int64_t C = x.shape.d[0];
  ir_node *n = nb_node(c, "BatchNormalization", 5, 1, "bn");
  n->inputs[0] = x.t;
  n->inputs[1] = nb_filled(c, "scale", 1, &C, 1);
  n->inputs[2] = nb_filled(c, "bias", 1, &C, 0);
  n->inputs[3] = nb_filled(c, "mean", 1, &C, 0);
  n->inputs[4] = nb_filled(c, "var", 1, &C, 1);
  n->inputs[3]->learned = n->inputs[4]->learned = false; /* running statistics */
  nb_float(c, "epsilon", nn_arg_real(&c->a, "epsilon"));
  nb_float(c, "momentum", nn_arg_real(&c->a, "momentum"));
  return nn_set_out(c, n->outputs[0], &x.shape);
}

/* LayerNormalization (opset 17) over the last axis; scale 1, bias 0. */
nn_status nn_lower_layernorm(nn_layer *c) {
  nn_val x = c->in[0];
  int64_t D = x.shape.d[x.shape.rank - 1];
  ir_node *n = nb_node(c, "LayerNormalization", 3, 1, "ln");
  n->inputs[0] = x.t;
  n->inputs[1] = nb_filled(c, "scale", 1, &D, 1);
  n->inputs[2] = nb_filled(c, "bias", 1, &D, 0);
  nb_int(c, "axis", -1);
  nb_float(c, "epsilon", nn_arg_real(&c->a, "epsilon"));
  return nn_set_out(c, n->outputs[0], &x.shape);
}

/* Dropout with its ratio as input 1 (opset 12+); the identity at inference. */
nn_status nn_lower_dropout(nn_layer *c) {
  ir_tensor *y = nb_op(c, "Dropout", c->in[0].t, nb_scalar(c, "ratio", (float)nn_arg_real(&c->a, "rate")));
  return nn_set_out(c, y, &c->in[0].shape);
}
