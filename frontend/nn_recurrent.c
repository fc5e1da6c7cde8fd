/* rnn, lstm and gru over a [steps, features] sequence, as ONNX RNN/LSTM/GRU
 * nodes between transposes (the ops run time first). Options: stacking
 * (`layers`), both directions (`bidirectional`, joined by `merge`), the whole
 * sequence or the last state (`return_sequences`), and initial states
 * (`initial_state`, and `initial_cell` for lstm) taken from earlier layers. */
#include <string.h>

#include "nn_lower.h"

/* What one stacked layer needs to know besides its input. */
typedef struct rec_cfg {
  const char *op;  /* RNN, GRU, LSTM */
  int64_t G, H, D; /* gates, units, directions */
  int layers;
  const char *merge;    /* concat, sum, mul, ave */
  int h0, c0;           /* index in c->in of the initial state / cell, or -1 */
} rec_cfg;

static int gates(const char *op) {
  return strcmp(op, "LSTM") == 0 ? 4 : strcmp(op, "GRU") == 0 ? 3 : 1;
}

static bool concat_dirs(const rec_cfg *r) { return r->D == 1 || strcmp(r->merge, "concat") == 0; }

/* Features per step out of one layer: both directions side by side, or merged into one. */
static int64_t layer_width(const rec_cfg *r) { return concat_dirs(r) ? r->D * r->H : r->H; }

static ir_tensor *transpose(nn_layer *c, ir_tensor *x, const int64_t *perm, int rank) {
  ir_tensor *y = nb_op(c, "Transpose", x, NULL);
  nb_ints(c, "perm", perm, rank);
  return y;
}

/* Merges the direction axis `axis` of y away: sum, product or mean. */
static ir_tensor *merge_dirs(nn_layer *c, const rec_cfg *r, ir_tensor *y, int64_t axis, int l) {
  ir_tensor *out;
  if (strcmp(r->merge, "sum") == 0) /* ReduceSum takes its axes as an input from opset 13 */
    out = nb_op(c, "ReduceSum", y, nb_i64s(c, mem_printf(c->L->mem, "merge_axes%d", l), &axis, 1));
  else {
    out = nb_op(c, strcmp(r->merge, "mul") == 0 ? "ReduceProd" : "ReduceMean", y, NULL);
    nb_ints(c, "axes", &axis, 1);
  }
  nb_int(c, "keepdims", 0);
  return out;
}

/* The initial state c->in[k] ([dirs * units], or [layers, dirs * units]
 * when stacked) as ONNX wants it for layer l: [dirs, batch, units]. */
static ir_tensor *initial(nn_layer *c, const rec_cfg *r, int k, int l) {
  mem_arena *mem = c->L->mem;
  ir_tensor *s = c->in[k].t;
  if (r->layers > 1) {
    int64_t row = l;
    s = nb_op(c, "Gather", s, nb_i64s(c, mem_printf(mem, "state_row%d_%d", k, l), &row, 1));
    nb_int(c, "axis", 1);
  }
  int64_t shape[3] = {-1, r->D, r->H};
  static const int64_t dbh[3] = {1, 0, 2};
  s = nb_op(c, "Reshape", s, nb_i64s(c, mem_printf(mem, "state_shape%d_%d", k, l), shape, 3));
  return transpose(c, s, dbh, 3);
}

/* One stacked layer on x [B, T, F]: ONNX wants time first (layout 0, the
 * layout every runtime has), so x is transposed to [T, B, F]; the result
 * Y [T, D, B, H] (seq) or Y_h [D, B, H] is transposed back to batch first
 * and flattened to [B, T, D*H] or [B, D*H] (or merged to [B, T, H], [B, H]).
 * Biases start at 0 (but for `torch`, which draws everything with
 * 1 / sqrt(units), as PyTorch's recurrent layers do). GRU applies the reset gate after the recurrent product
 * (linear_before_reset), as PyTorch and Keras do. */
static ir_tensor *one_layer(nn_layer *c, const rec_cfg *r, ir_tensor *x, int64_t T, int64_t F,
                            int l, bool seq) {
  mem_arena *mem = c->L->mem;
  int64_t H = r->H, G = r->G, D = r->D;
  int64_t wd[3] = {D, G * H, F}, rd[3] = {D, G * H, H}, bd[2] = {D, 2 * G * H};
  static const int64_t tbf[3] = {1, 0, 2}, y_back[4] = {2, 0, 1, 3};
  ir_tensor *xt = transpose(c, x, tbf, 3);
  ir_tensor *h0 = r->h0 >= 0 ? initial(c, r, r->h0, l) : NULL;
  ir_tensor *c0 = r->c0 >= 0 ? initial(c, r, r->c0, l) : NULL;
  int n_in = c0 ? 7 : h0 ? 6 : 4;
  ir_node *n = nb_node(c, r->op, n_in, 2, "rnn");
  n->inputs[0] = xt;
  n->inputs[1] = nb_learned(c, mem_printf(mem, "weight%d", l), 3, wd, nb_init_is_torch(c) ? H : F, H);
  n->inputs[2] = nb_learned(c, mem_printf(mem, "recurrence%d", l), 3, rd, H, H);
  n->inputs[3] = nb_bias(c, mem_printf(mem, "bias%d", l), 2, bd, H);
  if (n_in > 5) /* input 4, sequence_lens, stays absent: every sequence is whole */
    n->inputs[5] = h0;
  if (n_in > 6)
    n->inputs[6] = c0;
  nb_int(c, "hidden_size", H);
  nb_string(c, "direction", D == 2 ? "bidirectional" : "forward");
  if (G == 3)
    nb_int(c, "linear_before_reset", 1);
  if (!seq) { /* only the last state: output 1, Y_h */
    n->outputs[1] = n->outputs[0];
    n->outputs[0] = NULL;
  }
  if (!concat_dirs(r)) {
    static const int64_t tb[3] = {1, 0, 2};
    if (!seq)
      return merge_dirs(c, r, n->outputs[1], 0, l);                         /* [B, H] */
    return transpose(c, merge_dirs(c, r, n->outputs[0], 1, l), tb, 3);       /* [B, T, H] */
  }
  ir_tensor *y = seq ? transpose(c, n->outputs[0], y_back, 4) : transpose(c, n->outputs[1], tbf, 3);
  int64_t shape[3] = {-1, T, D * H};
  if (!seq)
    shape[1] = D * H;
  return nb_op(c, "Reshape", y, nb_i64s(c, mem_printf(mem, "shape%d", l), shape, seq ? 3 : 2));
}

/* Checks the initial state named by option `opt` (input k): one sample's
 * shape is [dirs * units], or [layers, dirs * units] when stacked. */
static nn_status check_state(nn_layer *c, const rec_cfg *r, const char *opt, int k) {
  nn_shape want = {.rank = 1, .d = {r->D * r->H}};
  if (r->layers > 1)
    want = (nn_shape){.rank = 2, .d = {r->layers, r->D * r->H}};
  if (nn_shape_eq(&c->in[k].shape, &want))
    return NN_OK;
  mem_arena *mem = c->L->mem;
  nn_error(c->L->src, c->in_loc[k], "%s '%s': its %s '%s' is %s; it must be %s", c->def->fn.name,
           c->name, opt, c->in_name[k], nn_shape_str(mem, &c->in[k].shape), nn_shape_str(mem, &want));
  nn_hint(c->L->src, "%s", r->layers > 1 ? "one row per stacked layer, each [dirs * units]: "
                                           "the forward state, then the backward one"
                                         : "[dirs * units]: the forward state, then the backward one");
  return NN_ERR;
}

/* Reads the options into r; reports what does not fit together. */
static nn_status configure(nn_layer *c, rec_cfg *r) {
  *r = (rec_cfg){.op = c->def->variant, .h0 = -1, .c0 = -1};
  r->G = gates(r->op);
  r->H = nn_arg_int(&c->a, "units");
  r->D = nn_arg_bool(&c->a, "bidirectional") ? 2 : 1;
  r->layers = (int)nn_arg_int(&c->a, "layers");
  r->merge = nn_arg_word(&c->a, "merge");
  if (nn_arg_given(&c->a, "merge") && r->D == 1) {
    nn_error(c->L->src, nn_arg_loc(&c->a, "merge"),
             "%s '%s': 'merge' joins the two directions, but the layer has one", c->def->fn.name,
             c->name);
    nn_hint(c->L->src, "add bidirectional=true, or drop 'merge'");
    return NN_ERR;
  }
  /* The optional inputs follow x in c->in, in the table's order. */
  int k = 1;
  if (nn_arg_given(&c->a, "initial_state"))
    r->h0 = k++;
  if (nn_param_index(&c->def->fn, "initial_cell") >= 0 && nn_arg_given(&c->a, "initial_cell"))
    r->c0 = k++;
  if ((r->h0 >= 0 && check_state(c, r, "initial_state", r->h0)) ||
      (r->c0 >= 0 && check_state(c, r, "initial_cell", r->c0)))
    return NN_ERR;
  return NN_OK;
}

/* [steps, features] -> [steps, width] with return_sequences, else [width],
 * where width is dirs * units (or units when `merge` joins the directions);
 * `layers` stacked, the inner ones returning sequences. */
nn_status nn_lower_recurrent(nn_layer *c) {
  nn_val x = c->in[0];
  if (x.shape.rank != 2)
    return nn_want_rank(c, 0, 2, "[steps, features]");
  rec_cfg r;
  if (configure(c, &r))
    return NN_ERR;
  int64_t T = x.shape.d[0], F = x.shape.d[1], width = layer_width(&r);
  bool seq = nn_arg_bool(&c->a, "return_sequences");
  nn_shape out = {.rank = 1, .d = {width}};
  if (seq)
    out = (nn_shape){.rank = 2, .d = {T, width}};
  ir_tensor *h = x.t;
  for (int l = 0; l < r.layers; l++) {
    bool last = l == r.layers - 1;
    h = one_layer(c, &r, h, T, l ? width : F, l, !last || seq);
  }
  return nn_set_out(c, h, &out);
}
