/* What a layer's lowering sees: its bound arguments, its inputs' values and
 * shapes, and helpers that build IR the way the ONNX loader would. Private
 * to the .nn frontend. */
#ifndef NNCC_NN_LOWER_H
#define NNCC_NN_LOWER_H

#include "ir.h"
#include "nn_args.h"
#include "nn_init.h"

#define NN_OPSET 17

/* One sample's shape: the IR adds the batch dimension in front. */
typedef struct nn_shape {
  int rank;
  int64_t d[NN_MAX_RANK];
} nn_shape;

typedef struct nn_val {
  ir_tensor *t; /* the IR tensor (batch first) */
  nn_shape shape;
  ir_dtype dtype;
  bool ok;      /* false after an error upstream: users stay quiet */
} nn_val;

typedef struct nn_lower {
  nn_source *src;
  mem_arena *mem;
  ir_graph *g;
  uint64_t seed;
  const nn_bound *init;   /* the train block's init, or NULL */
  int64_t weights;        /* weight elements so far */
  int64_t max_weights;
  bool over_limit;        /* the weight limit was reported */
  struct nn_shape_log *log; /* records each layer's shape, when not NULL */
} nn_lower;

typedef struct nn_layer_def nn_layer_def;

typedef struct nn_layer {
  nn_lower *L;
  const nn_layer_def *def;
  const char *name; /* the layer's name in the IR: the file's, or CALL.NAME inside a model call */
  const char *origin; /* inside a model call: its name in its own model, whose weight streams it uses */
  nn_loc loc;       /* its call */
  nn_bound a;
  nn_val *in;       /* the tensors its NP_TENSOR / NP_TENSORS arguments name */
  nn_loc *in_loc;
  const char **in_name;
  int n_in;
  nn_val out;
  int n_tmp;        /* intermediate tensors so far, for unique names */
  ir_node *last;    /* the node nb_op made last */
} nn_layer;

struct nn_layer_def {
  nn_fn_def fn;
  nn_status (*lower)(nn_layer *c); /* checks shapes, builds IR, sets c->out */
  int nsp;                         /* spatial axes (conv, pool, pad, crop, upsample) */
  const char *variant;             /* per-row detail: an op type, an activation name */
  bool int_input;                  /* takes integer tensors (embedding) */
  const char *lowers_to;           /* ONNX ops, for the docs */
  const char *doc;                 /* one line, for the docs */
};

/* ---- the layer table (nn_layers.c) ---- */
const nn_layer_def *nn_layer_find(mem_arena *mem, const char *name);
/* The closest layer or activation name to a misspelt one, or NULL. */
const char *nn_layer_closest(const char *name);
const nn_layer_def *nn_layer_at(int i); /* NULL past the end */

/* ---- activations (nn_act.c) ---- */
extern const nn_fn_set nn_activations;
/* Applies the activation bound in args to *x (x becomes its output); `at`
 * locates errors. A NULL args is linear. */
nn_status nn_act_apply(nn_layer *c, const nn_bound *args, nn_val *x, nn_loc at);
nn_status nn_lower_activation(nn_layer *c); /* relu(x), activation(x, name), ... */
const char *nn_act_doc(const nn_fn_def *d);

/* ---- building IR (nn_build.c) ---- */
/* A node of op with n_in inputs (filled by the caller) and n_out output
 * slots; output 0 is made, and both it and the node are named LAYER.suffixN. */
ir_node *nb_node(nn_layer *c, const char *op, int n_in, int n_out, const char *suffix);
/* One node of op on a (and b, when not NULL); returns its fresh output. */
ir_tensor *nb_op(nn_layer *c, const char *op, ir_tensor *a, ir_tensor *b);
/* Attributes of the node made last (by nb_node or nb_op). */
void nb_int(nn_layer *c, const char *name, int64_t v);
void nb_ints(nn_layer *c, const char *name, const int64_t *v, int k);
void nb_float(nn_layer *c, const char *name, double v);
void nb_string(nn_layer *c, const char *name, const char *v);
/* A float32 weight named LAYER.suffix; counts against the model's limit. */
ir_tensor *nb_weight(nn_layer *c, const char *suffix, int rank, const int64_t *dims);
/* A weight drawn by the layer's init (its `init` argument, else the train
 * block's, else xavier_uniform). */
ir_tensor *nb_learned(nn_layer *c, const char *suffix, int rank, const int64_t *dims,
                      int64_t fan_in, int64_t fan_out);
/* The same for a bias (zeros, but for `torch`) or an embedding table. */
ir_tensor *nb_learned_as(nn_layer *c, const char *suffix, int rank, const int64_t *dims,
                         nn_init_role role, int64_t fan_in, int64_t fan_out);
ir_tensor *nb_bias(nn_layer *c, const char *suffix, int rank, const int64_t *dims,
                   int64_t fan_in);
/* Whether the layer draws by `torch`, whose fans differ for recurrent layers. */
bool nb_init_is_torch(nn_layer *c);
ir_tensor *nb_filled(nn_layer *c, const char *suffix, int rank, const int64_t *dims, float v);
ir_tensor *nb_scalar(nn_layer *c, const char *suffix, float v);
ir_tensor *nb_i64s(nn_layer *c, const char *suffix, const int64_t *v, int n);
ir_tensor *nb_f32s(nn_layer *c, const char *suffix, const float *v, int n);

/* ---- shapes (nn_build.c) ---- */
const char *nn_shape_str(mem_arena *mem, const nn_shape *s);
bool nn_shape_eq(const nn_shape *a, const nn_shape *b);
int64_t nn_shape_numel(const nn_shape *s); /* INT64_MAX when over 2^40 */
/* Sizes computed from file values saturate (at 2^61) instead of
 * overflowing; nn_set_out then rejects the shape. */
int64_t nn_sat_mul(int64_t a, int64_t b);
int64_t nn_sat_add(int64_t a, int64_t b);
/* Sets c->out's shape (after checking its size) and dtype float32. */
nn_status nn_set_out(nn_layer *c, ir_tensor *t, const nn_shape *s);
/* Reports that input k has the wrong rank: what the layer wants, what it
 * got, and a hint to fix it. `layout` is e.g. "[channels, height, width]". */
nn_status nn_want_rank(nn_layer *c, int k, int rank, const char *layout);

/* ---- family lowerings ---- */
nn_status nn_lower_dense(nn_layer *c);
nn_status nn_lower_embedding(nn_layer *c);
nn_status nn_lower_conv(nn_layer *c);
nn_status nn_lower_conv_transpose(nn_layer *c);
nn_status nn_lower_depthwise(nn_layer *c);
nn_status nn_lower_separable(nn_layer *c);
nn_status nn_lower_pool(nn_layer *c);
nn_status nn_lower_global_pool(nn_layer *c);
nn_status nn_lower_upsample(nn_layer *c);
nn_status nn_lower_zero_pad(nn_layer *c);
nn_status nn_lower_crop(nn_layer *c);
nn_status nn_lower_flatten(nn_layer *c);
nn_status nn_lower_reshape(nn_layer *c);
nn_status nn_lower_concat(nn_layer *c);
nn_status nn_lower_merge(nn_layer *c);
nn_status nn_lower_batchnorm(nn_layer *c);
nn_status nn_lower_layernorm(nn_layer *c);
nn_status nn_lower_dropout(nn_layer *c);
nn_status nn_lower_recurrent(nn_layer *c);
nn_status nn_lower_primary_capsules(nn_layer *c);
nn_status nn_lower_capsules(nn_layer *c);
nn_status nn_lower_capsule_length(nn_layer *c);
nn_status nn_lower_capsule_mask(nn_layer *c);
/* squash along the last axis of t (rank counts the batch axis). */
ir_tensor *nn_squash(nn_layer *c, ir_tensor *t, int rank);

#endif
