/* pass_train_forward: the training forms of BatchNormalization, Dropout and
 * LayerNormalization (their numbers: tests/train/gradcheck.py). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>

#include "diag.h"
#include "ir.h"
#include "ops.h"
#include "passes.h"

static ir_graph *g;
static mem_arena *mem;

static void setup(void) {
  mem = mem_new();
  g = ir_graph_new(mem, "test.onnx");
  diag_reset();
}
static void teardown(void) { mem_free(mem); }

TestSuite(train_forward, .init = setup, .fini = teardown);

static ir_tensor *weight(const char *name, int64_t n, float v) {
  ir_tensor *t = ir_tensor_new(g, name);
  ir_set_shape(t, IR_FLOAT, n ? 1 : 0, &n);
  float *d = ir_make_weight(g, t);
  for (int64_t i = 0; i < (n ? n : 1); i++)
    d[i] = v;
  return t;
}

static ir_node *node(const char *op, int opset, int n_in, ir_tensor *const *in, int n_out) {
  ir_node *n = ir_node_new(g, op, n_in, n_out);
  n->name = mem_strdup(mem, op);
  n->opset = opset;
  for (int k = 0; k < n_in; k++)
    n->inputs[k] = in[k];
  for (int k = 0; k < n_out; k++)
    n->outputs[k] = ir_tensor_new(g, mem_printf(mem, "%s.out%d", op, k));
  return n;
}

static ir_tensor *input(void) {
  ir_tensor *x = ir_tensor_new(g, "x");
  int64_t dims[4] = {4, 3, 2, 2};
  ir_set_shape(x, IR_FLOAT, 4, dims);
  x->kind = IR_INPUT;
  return x;
}

static ir_node *find(const char *op) {
  for (int i = 0; i < g->n_nodes; i++)
    if (strcmp(g->nodes[i]->op_type, op) == 0)
      return g->nodes[i];
  return NULL;
}

Test(train_forward, batchnorm_uses_batch_statistics_and_updates_running_ones) {
  ir_tensor *in[5] = {input(), weight("s", 3, 1), weight("b", 3, 0), weight("m", 3, 0),
                      weight("v", 3, 1)};
  ir_node *bn = node("BatchNormalization", 15, 5, in, 1);
  cr_assert_eq(pass_resolve_ops(g), NN_OK);
  cr_assert_eq(pass_train_forward(g), NN_OK);
  cr_assert_str_eq(bn->op_type, "BatchNormTrain");
  cr_assert_str_eq(bn->domain, "nncc");
  cr_assert_eq(bn->n_inputs, 6, "X, scale, B, the running statistics, the training flag");
  cr_assert_str_eq(bn->inputs[5]->name, TRAIN_FLAG_NAME);
  cr_assert_eq(*(const uint8_t *)bn->inputs[5]->data, 1);
  cr_assert_eq(bn->n_outputs, 3);
  for (int k = 3; k < 5; k++) {
    cr_assert_eq(in[k]->kind, IR_STATE);
    cr_assert_eq(in[k]->role, IR_ROLE_BUFFER);
  }
  ir_node *u = find("BatchNormStatsUpdate");
  cr_assert_not_null(u);
  cr_assert_eq(g->nodes[g->n_nodes - 1], u, "after every forward node");
  cr_assert_eq(u->phase, IR_PHASE_BACKWARD, "_predict leaves the statistics alone");
  cr_assert_eq(u->inputs[2], bn->outputs[1]);
  cr_assert_eq(u->inputs[3], bn->outputs[2]);
  cr_assert(u->op && (u->op->flags & OP_UPDATES_STATE));
  cr_assert_float_eq(ir_attr_float(u, "momentum", 0), 0.9, 1e-12);
  cr_assert_eq(pass_infer(g), NN_OK);
  cr_assert_eq(bn->outputs[1]->dims[0], 3);
}

Test(train_forward, dropout_draws_a_mask_advanced_per_update) {
  ir_tensor *in[2] = {input(), weight("ratio", 0, 0.25f)};
  ir_node *d = node("Dropout", 13, 2, in, 1);
  cr_assert_eq(pass_resolve_ops(g), NN_OK);
  cr_assert_eq(pass_train_forward(g), NN_OK);
  cr_assert_str_eq(d->op_type, "DropoutTrain");
  cr_assert_eq(d->n_outputs, 2, "the mask its gradient reads");
  cr_assert_eq(d->n_inputs, 3);
  cr_assert_str_eq(d->inputs[2]->name, TRAIN_FLAG_NAME);
  ir_tensor *step = d->inputs[1];
  cr_assert_eq(step->kind, IR_STATE);
  cr_assert_eq(step->dtype, IR_INT64);
  cr_assert_float_eq(ir_attr_float(d, "ratio", 0), 0.25, 1e-7);
  ir_node *inc = find("StateIncrement");
  cr_assert_not_null(inc);
  cr_assert_eq(inc->inputs[0], step);
  cr_assert_eq(inc->phase, IR_PHASE_UPDATE, "one mask per optimizer step");
  cr_assert_eq(pass_infer(g), NN_OK);
  cr_assert_eq(d->outputs[1]->dtype, IR_BOOL);
}

Test(train_forward, dropout_of_ratio_zero_stays_the_identity) {
  ir_tensor *in[2] = {input(), weight("ratio", 0, 0)};
  ir_node *d = node("Dropout", 13, 2, in, 1);
  cr_assert_eq(pass_resolve_ops(g), NN_OK);
  cr_assert_eq(pass_train_forward(g), NN_OK);
  cr_assert_str_eq(d->op_type, "Dropout");
  cr_assert_eq(g->n_nodes, 1);
}

Test(train_forward, layernorm_keeps_its_statistics) {
  ir_tensor *in[3] = {input(), weight("s", 2, 1), weight("b", 2, 0)};
  ir_node *ln = node("LayerNormalization", 17, 3, in, 1);
  cr_assert_eq(pass_resolve_ops(g), NN_OK);
  cr_assert_eq(pass_train_forward(g), NN_OK);
  cr_assert_eq(ln->n_outputs, 3);
  cr_assert_eq(pass_infer(g), NN_OK);
  cr_assert_eq(ln->outputs[2]->rank, 4);
}

Test(train_forward, running_statistics_must_be_initializers) {
  ir_tensor *mean = input();
  mean->name = "running_mean";
  ir_tensor *in[5] = {input(), weight("s", 3, 1), weight("b", 3, 0), mean, weight("v", 3, 1)};
  node("BatchNormalization", 15, 5, in, 1);
  cr_assert_eq(pass_resolve_ops(g), NN_OK);
  cr_redirect_stderr();
  cr_assert_eq(pass_train_forward(g), NN_ERR);
  cr_assert_eq(diag_error_count(), 1);
}
