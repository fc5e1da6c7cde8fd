/* .nn lowering: the IR each layer becomes (what the ONNX loader would give
 * for the equivalent model), weights and their seeds, the train section. */
#include <criterion/criterion.h>
#include <math.h>

#include "nn.h"
#include "nn_init.h"
#include "passes.h"

static mem_arena *mem;
static nn_train_config train;

static void setup(void) {
  mem = mem_new();
  diag_reset();
}
static void teardown(void) { mem_free(mem); }

TestSuite(nn_lower, .init = setup, .fini = teardown);

static ir_graph *load(const char *text) {
  FILE *sink = fopen("/dev/null", "w");
  nn_load_options o = {.train = &train, .diag = sink};
  ir_graph *g = nn_load_text("t.nn", text, strlen(text), mem, &o);
  fclose(sink);
  return g;
}

static const ir_node *node(const ir_graph *g, const char *op, int nth) {
  for (int i = 0; i < g->n_nodes; i++)
    if (strcmp(g->nodes[i]->op_type, op) == 0 && nth-- == 0)
      return g->nodes[i];
  cr_assert_fail("no %s node", op);
  return NULL;
}

static void ints_eq(const ir_node *n, const char *attr, const int64_t *want, int k) {
  const int64_t *v;
  cr_assert_eq(ir_attr_ints(n, attr, &v), k, "%s has the wrong length", attr);
  for (int i = 0; i < k; i++)
    cr_assert_eq(v[i], want[i], "%s[%d] = %lld, want %lld", attr, i, (long long)v[i], (long long)want[i]);
}

Test(nn_lower, dense_is_gemm_with_transposed_weight) {
  ir_graph *g = load("model m\ninput x [5]\ny = dense(x, 3)\noutput y\n");
  cr_assert_not_null(g);
  cr_assert_eq(g->n_nodes, 1);
  const ir_node *n = node(g, "Gemm", 0);
  cr_assert_eq(n->opset, 17);
  cr_assert_eq(ir_attr_int(n, "transB", 0), 1);
  cr_assert_eq(n->inputs[1]->kind, IR_WEIGHT);
  cr_assert_eq(n->inputs[1]->dims[0], 3);
  cr_assert_eq(n->inputs[1]->dims[1], 5);
  cr_assert_eq(n->inputs[2]->dims[0], 3);
  cr_assert_str_eq(n->outputs[0]->name, "y");
  cr_assert(n->outputs[0]->is_output);
}

Test(nn_lower, inputs_get_an_overridable_batch_dimension) {
  ir_graph *g = load("model m\ninput x [2, 3]\ny = relu(x)\noutput y\n");
  ir_tensor *x = g->inputs[0];
  cr_assert_eq(x->rank, 3);
  cr_assert_eq(x->dims[0], 1);
  cr_assert_str_eq(x->dim_params[0], "batch");
  shape_binding b = {.name = "x", .rank = 3, .dims = {4, 2, 3}};
  cr_assert_eq(pass_bind_shapes(g, &b, 1), NN_OK);
  cr_assert_eq(x->dims[0], 4);
}

Test(nn_lower, dense_on_a_sequence_is_matmul_and_add) {
  ir_graph *g = load("model m\ninput x [7, 5]\ny = dense(x, 3, activation=relu)\noutput y\n");
  const ir_node *mm = node(g, "MatMul", 0);
  cr_assert_eq(mm->inputs[1]->dims[0], 5);
  cr_assert_eq(mm->inputs[1]->dims[1], 3);
  node(g, "Add", 0);
  node(g, "Relu", 0);
}

Test(nn_lower, same_padding_is_explicit_and_extra_goes_last) {
  ir_graph *g = load("model m\ninput x [3, 28, 28]\ny = conv2d(x, 8, kernel=5, stride=2, padding=same)\noutput y\n");
  const ir_node *n = node(g, "Conv", 0);
  int64_t pads[] = {1, 1, 2, 2}, k[] = {5, 5}, s[] = {2, 2};
  ints_eq(n, "pads", pads, 4);
  ints_eq(n, "kernel_shape", k, 2);
  ints_eq(n, "strides", s, 2);
  cr_assert_eq(ir_attr_int(n, "group", 0), 1);
  cr_assert_eq(n->inputs[1]->dims[1], 3);
}

Test(nn_lower, depthwise_and_separable) {
  ir_graph *g = load("model m\ninput x [4, 9, 9]\n"
                     "d = depthwise_conv2d(x, multiplier=2)\n"
                     "s = separable_conv2d(x, 6, bias=false)\noutput d, s\n");
  const ir_node *dw = node(g, "Conv", 0);
  cr_assert_eq(ir_attr_int(dw, "group", 0), 4);
  cr_assert_eq(dw->inputs[1]->dims[0], 8);
  cr_assert_eq(dw->inputs[1]->dims[1], 1);
  const ir_node *sd = node(g, "Conv", 1), *sp = node(g, "Conv", 2);
  cr_assert_eq(sd->n_inputs, 2, "the depthwise half has no bias");
  cr_assert_eq(sp->inputs[1]->dims[0], 6);
  cr_assert_eq(sp->inputs[1]->dims[1], 4);
  cr_assert_eq(sp->n_inputs, 2);
}

Test(nn_lower, transposed_same_padding_doubles) {
  ir_graph *g = load("model m\ninput x [4, 5, 5]\nt = conv2d_transpose(x, 2, kernel=3, stride=2, padding=same)\noutput t\n");
  pipeline_options po = {.opt_level = 0};
  cr_assert_eq(pipeline_run(g, &po), NN_OK);
  const ir_node *n = node(g, "ConvTranspose", 0);
  cr_assert_eq(n->inputs[1]->dims[0], 4);
  cr_assert_eq(n->inputs[1]->dims[1], 2);
  cr_assert_eq(n->outputs[0]->dims[2], 10);
  cr_assert_eq(n->outputs[0]->dims[3], 10);
}

Test(nn_lower, pooling_and_global_pooling) {
  ir_graph *g = load("model m\ninput x [2, 7, 7]\n"
                     "a = avgpool2d(x, 3, padding=same)\ng = global_maxpool(a)\noutput g\n");
  const ir_node *ap = node(g, "AveragePool", 0);
  int64_t s[] = {3, 3}, pads[] = {1, 1, 1, 1};
  ints_eq(ap, "strides", s, 2);
  ints_eq(ap, "pads", pads, 4);
  cr_assert_eq(ir_attr_int(ap, "count_include_pad", 1), 0);
  node(g, "GlobalMaxPool", 0);
  cr_assert_eq(ir_attr_int(node(g, "Flatten", 0), "axis", 0), 1);
}

Test(nn_lower, reshape_keeps_the_batch_free) {
  ir_graph *g = load("model m\ninput x [12]\nr = reshape(x, [3, -1])\noutput r\n");
  const ir_tensor *shape = node(g, "Reshape", 0)->inputs[1];
  cr_assert_eq(ir_numel(shape), 3);
  cr_assert_eq(ir_weight_int(shape, 0), -1);
  cr_assert_eq(ir_weight_int(shape, 1), 3);
  cr_assert_eq(ir_weight_int(shape, 2), 4);
}

Test(nn_lower, pad_crop_upsample) {
  ir_graph *g = load("model m\ninput x [1, 4, 6]\n"
                     "p = zero_pad2d(x, [1, 2])\nc = crop2d(p, [0, 1, 2, 3])\n"
                     "u = upsample2d(c, [2, 3])\noutput u\n");
  const ir_tensor *pads = node(g, "Pad", 0)->inputs[1];
  int64_t want[] = {0, 0, 1, 2, 0, 0, 1, 2};
  for (int i = 0; i < 8; i++)
    cr_assert_eq(ir_weight_int(pads, i), want[i]);
  const ir_node *sl = node(g, "Slice", 0);
  cr_assert_eq(ir_weight_int(sl->inputs[2], 0), 5);
  cr_assert_eq(ir_weight_int(sl->inputs[2], 1), 7);
  cr_assert_eq(ir_weight_int(sl->inputs[3], 1), 3);
  const ir_node *rs = node(g, "Resize", 0);
  cr_assert_null(rs->inputs[1]);
  cr_assert_float_eq(ir_weight_float(rs->inputs[2], 3), 3.0, 0);
  cr_assert_str_eq(ir_attr_string(rs, "nearest_mode", ""), "floor");
}

Test(nn_lower, composed_activations) {
  ir_graph *g = load("model m\ninput x [3]\na = step(x)\nb = swish(x)\nc = gelu(x)\nd = mish(x)\n"
                     "e = prelu(x)\noutput a, b, c, d, e\n");
  cr_assert_eq(ir_attr_int(node(g, "Cast", 0), "to", 0), IR_FLOAT);
  node(g, "Greater", 0);
  node(g, "Erf", 0);
  node(g, "Softplus", 0);
  const ir_tensor *slope = node(g, "PRelu", 0)->inputs[1];
  cr_assert_eq(slope->dims[0], 3);
  cr_assert_float_eq(ir_weight_float(slope, 0), 0.25, 0);
}

Test(nn_lower, batchnorm_starts_as_identity_statistics) {
  ir_graph *g = load("model m\ninput x [4, 2, 2]\nb = batchnorm(x, epsilon=0.001)\noutput b\n");
  const ir_node *n = node(g, "BatchNormalization", 0);
  cr_assert_float_eq(ir_weight_float(n->inputs[1], 0), 1, 0);
  cr_assert_float_eq(ir_weight_float(n->inputs[2], 0), 0, 0);
  cr_assert_float_eq(ir_weight_float(n->inputs[3], 0), 0, 0);
  cr_assert_float_eq(ir_weight_float(n->inputs[4], 0), 1, 0);
  cr_assert_float_eq(ir_attr_float(n, "epsilon", 0), 0.001, 1e-9);
}

Test(nn_lower, an_input_as_output_gets_its_own_copy) {
  ir_graph *g = load("model m\ninput x [2]\ny = relu(x)\noutput y, x\n");
  cr_assert_eq(g->n_outputs, 2);
  cr_assert_str_eq(node(g, "Identity", 0)->inputs[0]->name, "x");
  cr_assert_str_eq(g->outputs[1]->name, "x.output");
}

static float first_weight(const char *text) {
  ir_graph *g = load(text);
  cr_assert_not_null(g);
  return ((const float *)node(g, "Gemm", 0)->inputs[1]->data)[0];
}

Test(nn_lower, weights_are_seeded_and_named_streams) {
  const char *a = "model m\ninput x [8]\nd = dense(x, 4)\noutput d\n";
  const char *b = "seed 3\nmodel m\ninput x [8]\nd = dense(x, 4)\noutput d\n";
  const char *c = "model m\ninput x [8]\ne = dense(x, 2)\nd = dense(x, 4)\noutput d, e\n";
  float wa = first_weight(a);
  cr_assert_eq(first_weight(a), wa, "same file, same weights");
  cr_assert_neq(first_weight(b), wa, "another seed, other weights");
  ir_graph *g = load(c);
  cr_assert_eq(((const float *)node(g, "Gemm", 1)->inputs[1]->data)[0], wa,
               "another layer does not move d's weights");
}

/* Sample standard deviation of a dense layer's weights. */
static double weight_std(const char *init, int fan_in, int units) {
  char text[256];
  snprintf(text, sizeof text, "model m\ninput x [%d]\nd = dense(x, %d, init=%s)\noutput d\n", fan_in, units, init);
  ir_graph *g = load(text);
  const ir_tensor *w = node(g, "Gemm", 0)->inputs[1];
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < ir_numel(w); i++) {
    double v = ((const float *)w->data)[i];
    s += v, s2 += v * v;
  }
  double n = (double)ir_numel(w), mean = s / n;
  return sqrt(s2 / n - mean * mean);
}

Test(nn_lower, initialisers_have_their_scales) {
  cr_assert_float_eq(weight_std("he_normal", 400, 500), sqrt(2.0 / 400), 0.02 * sqrt(2.0 / 400));
  cr_assert_float_eq(weight_std("he_uniform", 400, 500), sqrt(2.0 / 400), 0.02 * sqrt(2.0 / 400));
  cr_assert_float_eq(weight_std("xavier_normal", 400, 600), sqrt(2.0 / 1000), 0.02 * sqrt(2.0 / 1000));
  cr_assert_float_eq(weight_std("xavier_uniform", 400, 600), sqrt(2.0 / 1000), 0.02 * sqrt(2.0 / 1000));
  cr_assert_float_eq(weight_std("normal(0.1)", 300, 300), 0.1, 0.002);
  cr_assert_float_eq(weight_std("uniform(a=0.3)", 300, 300), 0.3 / sqrt(3.0), 0.003);
  cr_assert_float_eq(weight_std("zeros", 30, 30), 0, 0);
  /* torch: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), std 1/sqrt(3 fan_in) */
  cr_assert_float_eq(weight_std("torch", 400, 500), 1 / sqrt(1200.0), 0.02 / sqrt(1200.0));
}

/* PyTorch draws biases like weights, embeddings from N(0, 1), and every
 * recurrent tensor with 1/sqrt(units); the others start biases at 0. */
Test(nn_lower, torch_initialiser_draws_biases_and_embeddings) {
  ir_graph *g = load("model m\ninput x [64]\nd = dense(x, 500, init=torch)\noutput d\n");
  const ir_tensor *b = node(g, "Gemm", 0)->inputs[2];
  float lo = 1, hi = -1;
  for (int64_t i = 0; i < ir_numel(b); i++) {
    float v = ((const float *)b->data)[i];
    lo = fminf(lo, v), hi = fmaxf(hi, v);
  }
  cr_assert(lo >= -0.125f && hi <= 0.125f && lo < -0.1f && hi > 0.1f, "bias in U(-1/8, 1/8): %g %g", lo, hi);
  g = load("model m\ninput x [4]\nd = dense(x, 3)\noutput d\n");
  cr_assert_eq(((const float *)node(g, "Gemm", 0)->inputs[2]->data)[1], 0.0f, "xavier's bias is 0");
  g = load("model m\ninput x [100] int64\ne = embedding(x, 50, 200, init=torch)\noutput e\n");
  const ir_tensor *e = node(g, "Gather", 0)->inputs[0];
  double s2 = 0;
  for (int64_t i = 0; i < ir_numel(e); i++)
    s2 += (double)((const float *)e->data)[i] * ((const float *)e->data)[i];
  cr_assert_float_eq(sqrt(s2 / (double)ir_numel(e)), 1.0, 0.03, "embedding N(0, 1)");
  g = load("model m\ninput x [5, 300]\nr = lstm(x, 16, init=torch)\noutput r\n");
  const ir_node *n = node(g, "LSTM", 0);
  for (int k = 1; k <= 3; k++) {
    const ir_tensor *t = n->inputs[k];
    float m = 0;
    for (int64_t i = 0; i < ir_numel(t); i++)
      m = fmaxf(m, fabsf(((const float *)t->data)[i]));
    cr_assert(m <= 0.25f && m > 0.24f, "LSTM input %d within 1/sqrt(16): %g", k, m);
  }
}

Test(nn_lower, pcg32_matches_the_reference_sequence) {
  nn_rng r;
  nn_rng_seed(&r, 42, 54);
  uint32_t want[] = {0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e};
  for (int i = 0; i < 6; i++)
    cr_assert_eq(nn_rng_u32(&r), want[i], "draw %d", i);
}

Test(nn_lower, train_section_is_stored) {
  ir_graph *g = load("model m\ninput x [4]\ny = dense(x, 2)\noutput y\n"
                     "train {\n  loss = cross_entropy(y, from_logits=true)\n  optimizer = adam(lr=0.01)\n"
                     "  batch = 16\n  epochs = 3\n  init = he_normal\n  seed = 9\n"
                     "  schedule = step(5)\n  early_stopping(val_accuracy)\n}\n");
  cr_assert_not_null(g);
  cr_assert(train.present);
  cr_assert_eq(train.loss.kind, NN_LOSS_CE);
  cr_assert_str_eq(train.loss.output, "y");
  cr_assert(train.loss.from_logits);
  cr_assert_eq(train.optimizer.kind, NN_OPT_ADAM);
  cr_assert_float_eq(train.optimizer.lr, 0.01, 1e-12);
  cr_assert_float_eq(train.optimizer.beta2, 0.999, 1e-12);
  cr_assert_eq(train.batch, 16);
  cr_assert_eq(train.epochs, 3);
  cr_assert_eq(train.update, NN_UPDATE_MINIBATCH);
  cr_assert_eq(train.schedule.kind, NN_SCHED_STEP);
  cr_assert_eq(train.schedule.every, 5);
  cr_assert_float_eq(train.schedule.gamma, 0.1, 1e-12);
  cr_assert(train.early_stopping.on);
  cr_assert_eq(train.early_stopping.metric, NN_METRIC_VAL_ACCURACY);
  cr_assert_eq(train.early_stopping.patience, 5);
  cr_assert(train.has_seed);
  cr_assert_eq(train.seed, 9);
  cr_assert_str_eq(train.init->def->name, "he_normal");
}

Test(nn_lower, defaults_without_a_train_block) {
  cr_assert_not_null(load("model m\ninput x [4]\noutput x\n"));
  cr_assert(!train.present);
}

/* Every layer's output has the shape the frontend predicted, once the
 * pipeline's own inference has run. */
static void shapes_agree(const char *path, const char *model) {
  nn_shape_log log = {0};
  nn_load_options o = {.shapes = &log, .model = model};
  ir_graph *g = nn_load(path, mem, &o);
  cr_assert_not_null(g, "%s does not load", path);
  pipeline_options po = {.opt_level = 0};
  cr_assert_eq(pipeline_run(g, &po), NN_OK, "%s does not compile", path);
  cr_assert_gt(log.n, 0);
  for (int i = 0; i < log.n; i++) {
    const ir_tensor *t = log.at[i].t;
    cr_assert_eq(t->rank, log.at[i].rank, "%s: %s", path, t->name);
    for (int d = 0; d < t->rank; d++)
      cr_assert_eq(t->dims[d], log.at[i].dims[d], "%s: %s axis %d", path, t->name, d);
  }
}

Test(nn_lower, predicted_shapes_match_the_pipeline) {
  const char *files[] = {"models/nn/lenet.nn", "models/nn/resnet.nn", "models/nn/unet.nn",
                         "models/nn/deeplab.nn", "models/nn/autoencoder.nn",
                         "tests/nn/cases/conv1d.nn", "tests/nn/cases/conv2d.nn",
                         "tests/nn/cases/conv3d.nn", "tests/nn/cases/activations.nn",
                         "tests/nn/cases/shapes.nn", "tests/nn/cases/recurrent_options.nn",
                         "models/nn/bilstm.nn", "models/nn/dcgan.nn",
                         "tests/fuzz/corpus_nn/capsules_small.nn", "tests/fuzz/corpus_nn/gan_small.nn"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++)
    shapes_agree(mem_printf(mem, "%s/%s", NNCC_SOURCE_DIR, files[i]), NULL);
  /* models that call others: the copies' shapes are logged too */
  shapes_agree(NNCC_SOURCE_DIR "/models/nn/dcgan.nn", "gan");
  shapes_agree(NNCC_SOURCE_DIR "/tests/fuzz/corpus_nn/gan_small.nn", "gan");
}

static const ir_tensor *tensor_named(const ir_graph *g, const char *name) {
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i]->n_inputs; k++)
      if (g->nodes[i]->inputs[k] && strcmp(g->nodes[i]->inputs[k]->name, name) == 0)
        return g->nodes[i]->inputs[k];
  cr_assert_fail("no tensor '%s'", name);
  return NULL;
}

#define TWO_MODELS                                                              \
  "model d\ninput x [6]\nh = dense(x, 3)\nr = relu(h)\noutput r, h\n"            \
  "train {\n  seed = 5\n}\n"                                                     \
  "model g\ninput z [6]\ny = d(z, out=r)\nw = dense(y, 2)\noutput w\n"

/* A model call copies the called model's layers under the caller's name,
 * with the same weights; --model picks the graph. */
Test(nn_lower, model_calls_copy_layers_with_their_weights) {
  nn_load_options o = {.diag = stderr, .model = "d"};
  ir_graph *d = nn_load_text("t.nn", TWO_MODELS, strlen(TWO_MODELS), mem, &o);
  o.model = "g";
  ir_graph *g = nn_load_text("t.nn", TWO_MODELS, strlen(TWO_MODELS), mem, &o);
  cr_assert_not_null(d);
  cr_assert_not_null(g);
  cr_assert_str_eq(d->name, "d");
  cr_assert_str_eq(g->name, "g");
  const ir_tensor *wd = tensor_named(d, "h.weight"), *wg = tensor_named(g, "y.h.weight");
  cr_assert_eq(memcmp(wd->data, wg->data, sizeof(float) * 18), 0, "the copy has other weights");
  cr_assert_str_eq(node(g, "Relu", 0)->outputs[0]->name, "y", "the call's value is named by the call");
  cr_assert_str_eq(node(g, "Gemm", 0)->outputs[0]->name, "y.h");
  cr_assert_eq(g->n_inputs, 1);
  cr_assert_str_eq(g->inputs[0]->name, "z");
  cr_assert_str_eq(node(g, "Gemm", 0)->inputs[0]->name, "z");
}

Test(nn_lower, capsule_routing_is_unrolled) {
  ir_graph *g = load("model m\ninput img [2, 12, 12]\n"
                     "p = primary_capsules(img, 3, 4, kernel=5, stride=2)\n"
                     "c = capsules(p, 5, 6, routing=3)\noutput c\n");
  cr_assert_not_null(g);
  int softmax = 0, squash = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    softmax += strcmp(g->nodes[i]->op_type, "Softmax") == 0;
    squash += strcmp(g->nodes[i]->op_type, "Sqrt") == 0;
  }
  cr_assert_eq(softmax, 2, "routing 3: the first pass needs no softmax");
  cr_assert_eq(squash, 4, "primary capsules once, each routing pass once");
  const ir_tensor *w = tensor_named(g, "c.weight");
  cr_assert_eq(w->rank, 3);
  cr_assert_eq(w->dims[0], 48);
  cr_assert_eq(w->dims[1], 4);
  cr_assert_eq(w->dims[2], 30);
}
