/* Activations: one row each, with its parameters and the ONNX ops it
 * becomes. Every row is usable three ways -- activation=NAME on a layer,
 * activation(x, NAME), and NAME(x) as a layer of its own -- so there is no
 * second list of activation layers. Activations ONNX lacks (step, swish,
 * gelu, mish) are composed from ops it has. */
#include <math.h>
#include <string.h>

#include "nn_lower.h"

typedef struct act_def act_def;
struct act_def {
  nn_fn_def fn;
  nn_status (*build)(nn_layer *c, const act_def *a, const nn_bound *args, nn_val *x, nn_loc at);
  const char *op;  /* the op of a one-op activation */
  const char *doc; /* what it computes, for the docs */
};

static nn_status b_linear(nn_layer *c, const act_def *a, const nn_bound *args, nn_val *x, nn_loc at) {
  (void)c, (void)a, (void)args, (void)x, (void)at;
  return NN_OK;
}

/* One op; every real parameter (alpha, beta) becomes its attribute. */
static nn_status b_op(nn_layer *c, const act_def *a, const nn_bound *args, nn_val *x, nn_loc at) {
  (void)at;
  x->t = nb_op(c, a->op, x->t, NULL);
  for (int k = 0; k < NN_MAX_PARAMS && a->fn.params[k].name; k++)
    if (a->fn.params[k].type == NP_REAL)
      nb_float(c, a->fn.params[k].name, nn_arg_real(args, a->fn.params[k].name));
  return NN_OK;
}

/* Softmax and LogSoftmax along one axis of the sample (default the last). */
static nn_status b_softmax(nn_layer *c, const act_def *a, const nn_bound *args, nn_val *x, nn_loc at) {
  int64_t axis = nn_arg_int(args, "axis"), r = x->shape.rank;
  bool own = strcmp(c->def->fn.name, a->fn.name) == 0; /* softmax(x), not an option */
  if (axis < -r || axis >= r) {
    nn_error(c->L->src, nn_arg_given(args, "axis") ? nn_arg_loc(args, "axis") : at,
             "%s '%s': %s%saxis %lld is out of range for %s (axes 0 to %lld, or -%lld to -1)",
             c->def->fn.name, c->name, own ? "" : a->fn.name, own ? "" : " ", (long long)axis,
             nn_shape_str(c->L->mem, &x->shape), (long long)r - 1, (long long)r);
    return NN_ERR;
  }
  x->t = nb_op(c, a->op, x->t, NULL);
  nb_int(c, "axis", axis < 0 ? axis : axis + 1);
  return NN_OK;
}

/* step(x) = x > 0 ? 1 : 0 */
static nn_status b_step(nn_layer *c, const act_def *a, const nn_bound *args, nn_val *x, nn_loc at) {
  (void)a, (void)args, (void)at;
  ir_tensor *gt = nb_op(c, "Greater", x->t, nb_scalar(c, "zero", 0));
  x->t = nb_op(c, "Cast", gt, NULL);
  nb_int(c, "to", IR_FLOAT);
  return NN_OK;
}

/* swish(x) = x * sigmoid(x) */
static nn_status b_swish(nn_layer *c, const act_def *a, const nn_bound *args, nn_val *x, nn_loc at) {
  (void)a, (void)args, (void)at;
  x->t = nb_op(c, "Mul", x->t, nb_op(c, "Sigmoid", x->t, NULL));
  return NN_OK;
}

/* gelu(x) = x * 0.5 * (1 + erf(x / sqrt 2)), the exact form */
static nn_status b_gelu(nn_layer *c, const act_def *a, const nn_bound *args, nn_val *x, nn_loc at) {
  (void)a, (void)args, (void)at;
  ir_tensor *e = nb_op(c, "Erf", nb_op(c, "Div", x->t, nb_scalar(c, "sqrt2", (float)sqrt(2.0))), NULL);
  ir_tensor *half = nb_op(c, "Mul", x->t, nb_scalar(c, "half", 0.5f));
  x->t = nb_op(c, "Mul", half, nb_op(c, "Add", e, nb_scalar(c, "one", 1)));
  return NN_OK;
}

/* mish(x) = x * tanh(softplus(x)) */
static nn_status b_mish(nn_layer *c, const act_def *a, const nn_bound *args, nn_val *x, nn_loc at) {
  (void)a, (void)args, (void)at;
  ir_tensor *t = nb_op(c, "Tanh", nb_op(c, "Softplus", x->t, NULL), NULL);
  x->t = nb_op(c, "Mul", x->t, t);
  return NN_OK;
}

/* PRelu with a learned slope per channel (the first sample axis), shaped
 * [C, 1, ...] so it broadcasts over the other axes; it starts at 0.25. */
static nn_status b_prelu(nn_layer *c, const act_def *a, const nn_bound *args, nn_val *x, nn_loc at) {
  (void)a, (void)at;
  int64_t dims[NN_MAX_RANK];
  for (int d = 0; d < x->shape.rank; d++)
    dims[d] = d ? 1 : x->shape.d[0];
  ir_tensor *slope = nb_filled(c, "slope", x->shape.rank, dims, (float)nn_arg_real(args, "slope"));
  x->t = nb_op(c, "PRelu", x->t, slope);
  return NN_OK;
}

/* squash(x), along the last axis: capsules (nn_capsules.c) */
static nn_status b_squash(nn_layer *c, const act_def *a, const nn_bound *args, nn_val *x, nn_loc at) {
  (void)a, (void)args, (void)at;
  x->t = nn_squash(c, x->t, x->shape.rank + 1);
  return NN_OK;
}

#define AXIS {"axis", NP_INT, NR_ANY, "-1"}

static const act_def rows[] = {
    {{"linear", 0, {{0}}}, b_linear, NULL, "x (no op)"},
    {{"step", 0, {{0}}}, b_step, NULL, "Cast(Greater(x, 0)): 1 where x > 0, else 0"},
    {{"sigmoid", 0, {{0}}}, b_op, "Sigmoid", "Sigmoid"},
    {{"tanh", 0, {{0}}}, b_op, "Tanh", "Tanh"},
    {{"relu", 0, {{0}}}, b_op, "Relu", "Relu"},
    {{"leaky_relu", 1, {{"alpha", NP_REAL, NR_NONNEG, "0.01"}}}, b_op, "LeakyRelu", "LeakyRelu"},
    {{"prelu", 1, {{"slope", NP_REAL, NR_ANY, "0.25"}}}, b_prelu, NULL,
     "PRelu with a learned slope per channel, [C, 1, ...], starting at slope"},
    {{"elu", 1, {{"alpha", NP_REAL, NR_POS, "1"}}}, b_op, "Elu", "Elu"},
    {{"selu", 0, {{0}}}, b_op, "Selu", "Selu (alpha 1.67326, gamma 1.0507)"},
    {{"softmax", 1, {AXIS}}, b_softmax, "Softmax", "Softmax along axis (of one sample)"},
    {{"log_softmax", 1, {AXIS}}, b_softmax, "LogSoftmax", "LogSoftmax along axis"},
    {{"swish", 0, {{0}}}, b_swish, NULL, "x * Sigmoid(x)"},
    {{"gelu", 0, {{0}}}, b_gelu, NULL, "x * 0.5 * (1 + Erf(x / sqrt 2))"},
    {{"softplus", 0, {{0}}}, b_op, "Softplus", "Softplus"},
    {{"softsign", 0, {{0}}}, b_op, "Softsign", "Softsign"},
    {{"hard_sigmoid", 2, {{"alpha", NP_REAL, NR_ANY, "0.2"}, {"beta", NP_REAL, NR_ANY, "0.5"}}},
     b_op, "HardSigmoid", "HardSigmoid: max(0, min(1, alpha x + beta))"},
    {{"hard_swish", 0, {{0}}}, b_op, "HardSwish", "HardSwish"},
    {{"mish", 0, {{0}}}, b_mish, NULL, "x * Tanh(Softplus(x))"},
    {{"squash", 0, {{0}}}, b_squash, NULL,
     "x * n / (1 + n) / Sqrt(n + 1e-7), n = ReduceSum(x * x) over the last axis (capsules)"},
    {{NULL}, NULL, NULL, NULL},
};

const nn_fn_set nn_activations = {"activation", "relu", rows, sizeof rows[0]};

const char *nn_act_doc(const nn_fn_def *d) { return ((const act_def *)d)->doc; }

nn_status nn_act_apply(nn_layer *c, const nn_bound *args, nn_val *x, nn_loc at) {
  if (!args)
    return NN_OK;
  const act_def *a = (const act_def *)args->def;
  return a->build(c, a, args, x, at);
}

/* activation(x, NAME) names the activation in its second argument; NAME(x,
 * ...) carries the activation's own parameters after x. */
nn_status nn_lower_activation(nn_layer *c) {
  nn_val x = c->in[0];
  const nn_bound *args;
  if (strcmp(c->def->fn.name, "activation") == 0) {
    args = nn_arg_fn(&c->a, "name");
  } else {
    nn_bound *b = mem_alloc(c->L->mem, sizeof *b);
    b->def = nn_fn_find(&nn_activations, c->def->fn.name);
    b->loc = c->a.loc;
    for (int k = 0; k + 1 < NN_MAX_PARAMS; k++) {
      b->v[k] = c->a.v[k + 1];
      b->given[k] = c->a.given[k + 1];
    }
    args = b;
  }
  if (nn_act_apply(c, args, &x, c->loc) != NN_OK)
    return NN_ERR;
  if (x.t == c->in[0].t) /* linear: the output still needs its own tensor */
    x.t = nb_op(c, "Identity", x.t, NULL);
  return nn_set_out(c, x.t, &x.shape);
}
