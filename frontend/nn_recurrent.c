/* rnn, lstm and gru over a [steps, features] sequence, as ONNX RNN/LSTM/GRU
 * nodes between transposes (the ops run time first). When the op registry lacks the op the
 * layer is still shape-checked, so the layers after it are checked too, and
 * compiling stops with one "not supported yet" error. */
#include <string.h>

#include "nn_lower.h"
#include "ops.h"

static int gates(const char *op) {
  return strcmp(op, "LSTM") == 0 ? 4 : strcmp(op, "GRU") == 0 ? 3 : 1;
}

static ir_tensor *transpose(nn_layer *c, ir_tensor *x, const int64_t *perm, int rank) {
  ir_tensor *y = nb_op(c, "Transpose", x, NULL);
  nb_ints(c, "perm", perm, rank);
  return y;
}

/* One stacked layer on x [B, T, F]: ONNX wants time first (layout 0, the
 * layout every runtime has), so x is transposed to [T, B, F]; the result
 * Y [T, D, B, H] (seq) or Y_h [D, B, H] is transposed back to batch first
 * and flattened to [B, T, D*H] or [B, D*H]. Biases start at 0. GRU applies
 * the reset gate after the recurrent product (linear_before_reset), as
 * PyTorch and Keras do. */
static ir_tensor *one_layer(nn_layer *c, ir_tensor *x, int64_t T, int64_t F, int l, bool seq) {
  const char *op = c->def->variant;
  int64_t H = nn_arg_int(&c->a, "units"), G = gates(op);
  int64_t D = nn_arg_bool(&c->a, "bidirectional") ? 2 : 1;
  int64_t wd[3] = {D, G * H, F}, rd[3] = {D, G * H, H}, bd[2] = {D, 2 * G * H};
  static const int64_t tbf[3] = {1, 0, 2}, y_back[4] = {2, 0, 1, 3};
  ir_tensor *xt = transpose(c, x, tbf, 3);
  ir_node *n = nb_node(c, op, 4, 2, "rnn");
  n->inputs[0] = xt;
  n->inputs[1] = nb_learned(c, mem_printf(c->L->mem, "weight%d", l), 3, wd, F, H);
  n->inputs[2] = nb_learned(c, mem_printf(c->L->mem, "recurrence%d", l), 3, rd, H, H);
  n->inputs[3] = nb_filled(c, mem_printf(c->L->mem, "bias%d", l), 2, bd, 0);
  nb_int(c, "hidden_size", H);
  nb_string(c, "direction", D == 2 ? "bidirectional" : "forward");
  if (G == 3)
    nb_int(c, "linear_before_reset", 1);
  if (!seq) { /* only the last state: output 1, Y_h */
    n->outputs[1] = n->outputs[0];
    n->outputs[0] = NULL;
  }
  ir_tensor *y = seq ? transpose(c, n->outputs[0], y_back, 4) : transpose(c, n->outputs[1], tbf, 3);
  int64_t shape[3] = {-1, T, D * H};
  if (!seq)
    shape[1] = D * H;
  return nb_op(c, "Reshape", y, nb_i64s(c, mem_printf(c->L->mem, "shape%d", l), shape, seq ? 3 : 2));
}

/* [steps, features] -> [steps, dirs * units] with return_sequences, else
 * [dirs * units]; `layers` stacked, the inner ones returning sequences. */
nn_status nn_lower_recurrent(nn_layer *c) {
  nn_val x = c->in[0];
  if (x.shape.rank != 2)
    return nn_want_rank(c, 0, 2, "[steps, features]");
  int64_t T = x.shape.d[0], F = x.shape.d[1];
  int64_t units = nn_arg_int(&c->a, "units") * (nn_arg_bool(&c->a, "bidirectional") ? 2 : 1);
  bool seq = nn_arg_bool(&c->a, "return_sequences");
  nn_shape out = {.rank = 1, .d = {units}};
  if (seq)
    out = (nn_shape){.rank = 2, .d = {T, units}};
  if (!op_find("", c->def->variant))
    return nn_unsupported(c, c->def->variant, &out);
  int layers = (int)nn_arg_int(&c->a, "layers");
  ir_tensor *h = x.t;
  for (int l = 0; l < layers; l++) {
    bool last = l == layers - 1;
    h = one_layer(c, h, T, l ? units : F, l, !last || seq);
  }
  return nn_set_out(c, h, &out);
}
