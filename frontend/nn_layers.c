/* The layer table: one row per layer name, with its parameters (type, range,
 * default), its lowering function and what it lowers to. The binder, the
 * lowering driver and the generated docs all read this one table; the
 * activations' own table (nn_act.c) supplies one more layer per activation. */
#include <string.h>

#include "nn_init.h"
#include "nn_lower.h"

#define X {"x", NP_TENSOR}
#define XS {"inputs", NP_TENSORS}
#define UNITS {"units", NP_INT, NR_POS, NULL}
#define FILTERS {"filters", NP_INT, NR_POS, NULL}
#define KERNEL {"kernel", NP_INTS, NR_POS, "3"}
#define STRIDE {"stride", NP_INTS, NR_POS, "1"}
#define PADDING {"padding", NP_PADDING, NR_NONNEG, "valid"}
#define DILATION {"dilation", NP_INTS, NR_POS, "1"}
#define GROUPS {"groups", NP_INT, NR_POS, "1"}
#define MULTIPLIER {"multiplier", NP_INT, NR_POS, "1"}
#define OUTPUT_PADDING {"output_padding", NP_INTS, NR_NONNEG, "0"}
#define ACT(d) {"activation", NP_FN, NR_ANY, d, .fns = &nn_activations}
#define BIAS {"bias", NP_BOOL, NR_ANY, "true"}
#define INIT {"init", NP_FN, NR_ANY, "", .fns = &nn_initialisers, .doc = "the train block's init, else xavier_uniform"}

#define CONV(n, nsp) \
  {{n, 2, {X, FILTERS, KERNEL, STRIDE, PADDING, DILATION, GROUPS, ACT("linear"), BIAS, INIT}}, \
   nn_lower_conv, nsp, NULL, false, "Conv", "convolution, channels first"}
#define CONV_T(n, nsp) \
  {{n, 2, {X, FILTERS, KERNEL, STRIDE, PADDING, OUTPUT_PADDING, DILATION, GROUPS, ACT("linear"), \
           BIAS, INIT}}, \
   nn_lower_conv_transpose, nsp, NULL, false, "ConvTranspose", "transposed convolution"}
#define DEPTHWISE(n, nsp) \
  {{n, 1, {X, KERNEL, STRIDE, PADDING, DILATION, MULTIPLIER, ACT("linear"), BIAS, INIT}}, \
   nn_lower_depthwise, nsp, NULL, false, "Conv (group = channels)", \
   "one filter per input channel (times multiplier)"}
#define SEPARABLE(n, nsp) \
  {{n, 2, {X, FILTERS, KERNEL, STRIDE, PADDING, DILATION, MULTIPLIER, ACT("linear"), BIAS, INIT}}, \
   nn_lower_separable, nsp, NULL, false, "Conv (depthwise), Conv (1x1)", \
   "depthwise, then a pointwise (1x1) convolution"}
#define POOL(n, nsp, op) \
  {{n, 2, {X, {"size", NP_INTS, NR_POS, "2"}, {"stride", NP_INTS, NR_POS, "", .doc = "size"}, \
           PADDING}}, \
   nn_lower_pool, nsp, op, false, op, "pooling windows; stride defaults to the window size"}
#define ZERO_PAD(n, nsp) \
  {{n, 2, {X, {"pads", NP_INTS, NR_NONNEG, NULL}}}, nn_lower_zero_pad, nsp, NULL, false, \
   "Pad (constant 0)", "zeros around the spatial axes"}
#define CROP(n, nsp) \
  {{n, 2, {X, {"crops", NP_INTS, NR_NONNEG, NULL}}}, nn_lower_crop, nsp, NULL, false, "Slice", \
   "drops rows/columns at the edges of the spatial axes"}
#define UPSAMPLE(n, nsp) \
  {{n, 2, {X, {"factor", NP_INTS, NR_POS, "2"}, \
           {"mode", NP_CHOICE, NR_ANY, "nearest", "nearest|linear|bilinear"}}}, \
   nn_lower_upsample, nsp, NULL, false, "Resize", "integer upscaling of the spatial axes"}
#define STATE(n, what) \
  {n, NP_TENSOR, NR_ANY, "", .doc = "zeros; else " what " [dirs * units] ([layers, dirs * units] stacked)"}
#define RECURRENT(n, op, ...) \
  {{n, 2, {X, UNITS, {"bidirectional", NP_BOOL, NR_ANY, "false"}, \
           {"merge", NP_CHOICE, NR_ANY, "concat", "concat|sum|mul|ave"}, \
           {"layers", NP_INT, NR_POS, "1"}, {"return_sequences", NP_BOOL, NR_ANY, "false"}, \
           STATE("initial_state", "a layer holding the state"), __VA_ARGS__ INIT}}, \
   nn_lower_recurrent, 0, op, false, op " between Transposes", \
   "over a [steps, features] sequence; merge joins the directions of a bidirectional one"}

static const nn_layer_def rows[] = {
    {{"dense", 2, {X, UNITS, ACT("linear"), BIAS, INIT}}, nn_lower_dense, 0, NULL, false,
     "Gemm; MatMul + Add on [steps, features]", "fully connected, on the last axis"},
    {{"perceptron", 2, {X, UNITS, ACT("step"), BIAS, INIT}}, nn_lower_dense, 0, NULL, false,
     "Gemm, Greater, Cast", "dense with the step activation"},
    CONV("conv1d", 1), CONV("conv2d", 2), CONV("conv3d", 3),
    CONV_T("conv1d_transpose", 1), CONV_T("conv2d_transpose", 2), CONV_T("conv3d_transpose", 3),
    DEPTHWISE("depthwise_conv1d", 1), DEPTHWISE("depthwise_conv2d", 2),
    SEPARABLE("separable_conv1d", 1), SEPARABLE("separable_conv2d", 2),
    POOL("maxpool1d", 1, "MaxPool"), POOL("maxpool2d", 2, "MaxPool"), POOL("maxpool3d", 3, "MaxPool"),
    POOL("avgpool1d", 1, "AveragePool"), POOL("avgpool2d", 2, "AveragePool"),
    POOL("avgpool3d", 3, "AveragePool"),
    {{"global_avgpool", 1, {X, {"keepdims", NP_BOOL, NR_ANY, "false"}}}, nn_lower_global_pool, 0,
     "GlobalAveragePool", false, "GlobalAveragePool (+ Flatten)",
     "mean over all spatial axes: [channels] (keepdims: [channels, 1, ...])"},
    {{"global_maxpool", 1, {X, {"keepdims", NP_BOOL, NR_ANY, "false"}}}, nn_lower_global_pool, 0,
     "GlobalMaxPool", false, "GlobalMaxPool (+ Flatten)", "max over all spatial axes"},
    ZERO_PAD("zero_pad1d", 1), ZERO_PAD("zero_pad2d", 2), ZERO_PAD("zero_pad3d", 3),
    CROP("crop1d", 1), CROP("crop2d", 2), CROP("crop3d", 3),
    UPSAMPLE("upsample1d", 1), UPSAMPLE("upsample2d", 2), UPSAMPLE("upsample3d", 3),
    {{"flatten", 1, {X}}, nn_lower_flatten, 0, NULL, false, "Flatten", "one sample to a vector"},
    {{"reshape", 2, {X, {"shape", NP_SHAPE, NR_ANY, NULL}}}, nn_lower_reshape, 0, NULL, false,
     "Reshape", "one sample to a new shape; one dimension may be -1"},
    {{"concat", 1, {XS, {"axis", NP_INT, NR_ANY, "0"}}}, nn_lower_concat, 0, NULL, false, "Concat",
     "joins along an axis of the sample (0: channels)"},
    {{"add", 1, {XS}}, nn_lower_merge, 0, "Add", false, "Add", "elementwise sum of equal shapes"},
    {{"multiply", 1, {XS}}, nn_lower_merge, 0, "Mul", false, "Mul",
     "elementwise product of equal shapes"},
    {{"batchnorm", 1, {X, {"momentum", NP_REAL, NR_FRACTION, "0.9"},
                       {"epsilon", NP_REAL, NR_POS, "1e-05"}}},
     nn_lower_batchnorm, 0, NULL, false, "BatchNormalization",
     "per channel (axis 0); starts as mean 0, variance 1, scale 1, bias 0"},
    {{"layernorm", 1, {X, {"epsilon", NP_REAL, NR_POS, "1e-05"}}}, nn_lower_layernorm, 0, NULL,
     false, "LayerNormalization", "over the last axis"},
    {{"dropout", 2, {X, {"rate", NP_REAL, NR_FRACTION, "0.5"}}}, nn_lower_dropout, 0, NULL, false,
     "Dropout", "the identity at inference"},
    {{"activation", 2, {X, {"name", NP_FN, NR_ANY, NULL, .fns = &nn_activations}}},
     nn_lower_activation, 0, NULL, false, "(the activation's ops)", "any activation by name"},
    {{"embedding", 3, {X, {"vocab", NP_INT, NR_POS, NULL}, {"dim", NP_INT, NR_POS, NULL}, INIT}},
     nn_lower_embedding, 0, NULL, true, "Gather", "integer ids to learned vectors: [..., dim]"},
    RECURRENT("rnn", "RNN", ),
    RECURRENT("lstm", "LSTM", STATE("initial_cell", "a layer holding the cell state"), ),
    RECURRENT("gru", "GRU", ),
    {{"primary_capsules", 3, {X, {"capsules", NP_INT, NR_POS, NULL}, {"dim", NP_INT, NR_POS, NULL},
                              {"kernel", NP_INTS, NR_POS, "9"}, {"stride", NP_INTS, NR_POS, "2"}, INIT}},
     nn_lower_primary_capsules, 2, NULL, false, "Conv, Reshape, Transpose, squash",
     "a conv2d grouped into capsules of dim values, squashed: [capsules * h * w, dim]"},
    {{"capsules", 3, {X, {"capsules", NP_INT, NR_POS, NULL}, {"dim", NP_INT, NR_POS, NULL},
                      {"routing", NP_INT, NR_POS, "3"}, INIT}},
     nn_lower_capsules, 0, NULL, false, "MatMul, then per iteration Softmax, Mul, ReduceSum, squash",
     "dynamic routing by agreement, `routing` iterations unrolled: [capsules, dim]"},
    {{"capsule_length", 1, {X}}, nn_lower_capsule_length, 0, NULL, false, "ReduceL2",
     "each capsule's length (the last axis): [capsules, dim] -> [capsules]"},
    {{"capsule_mask", 1, {X}}, nn_lower_capsule_mask, 0, NULL, false,
     "ReduceL2, ReduceMax, Equal, Cast, Mul",
     "keeps the longest capsule, zeroes the others: [capsules, dim] (a decoder's input)"},
    {{NULL}, NULL, 0, NULL, false, NULL, NULL},
};

static const nn_fn_set layer_set = {"layer", "dense", rows, sizeof rows[0]};

const nn_layer_def *nn_layer_at(int i) { return (const nn_layer_def *)nn_fn_at(&layer_set, i); }

/* NAME(x, params...) for the activation NAME: a row made on demand. */
static const nn_layer_def *activation_layer(mem_arena *mem, const nn_fn_def *act) {
  nn_layer_def *d = mem_alloc(mem, sizeof *d);
  d->fn.name = act->name;
  d->fn.n_pos = 1 + act->n_pos;
  d->fn.params[0] = (nn_param)X;
  for (int k = 0; k + 1 < NN_MAX_PARAMS; k++)
    d->fn.params[k + 1] = act->params[k];
  d->lower = nn_lower_activation;
  return d;
}

const nn_layer_def *nn_layer_find(mem_arena *mem, const char *name) {
  const nn_fn_def *d = nn_fn_find(&layer_set, name);
  if (d)
    return (const nn_layer_def *)d;
  d = nn_fn_find(&nn_activations, name);
  return d ? activation_layer(mem, d) : NULL;
}

const char *nn_layer_closest(const char *name) {
  const char *cands[128];
  int n = 0;
  const nn_fn_def *d;
  for (int i = 0; n < 128 && (d = nn_fn_at(&layer_set, i)); i++)
    cands[n++] = d->name;
  for (int i = 0; n < 128 && (d = nn_fn_at(&nn_activations, i)); i++)
    cands[n++] = d->name;
  return nn_closest(name, cands, n);
}
