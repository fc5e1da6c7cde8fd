/* The training pipeline's passes on hand-built graphs: which weights become
 * params, the state layout, dead-code removal keeping the state updates,
 * params no gradient reaches turning back into constants, and the error for
 * an op without a gradient rule. (Gradients themselves are checked
 * numerically by tests/train/gradcheck.py.) */
#include <criterion/criterion.h>
#include <string.h>

#include "autodiff.h"
#include "ops.h"
#include "passes.h"

static ir_tensor *tensor(ir_graph *g, const char *name, ir_kind kind, int rank,
                         const int64_t *dims) {
  ir_tensor *t = ir_tensor_new(g, name);
  ir_set_shape(t, IR_FLOAT, rank, dims);
  if (kind == IR_WEIGHT) {
    float *p = ir_make_weight(g, t);
    for (int64_t i = 0; i < ir_numel(t); i++)
      p[i] = 0.25f * (float)(i % 5) - 0.5f;
  }
  t->kind = kind;
  return t;
}

static ir_tensor *op(ir_graph *g, const char *type, ir_tensor *a, ir_tensor *b, const char *out) {
  ir_node *n = ir_node_new(g, type, b ? 2 : 1, 1);
  n->name = mem_strdup(g->mem, out);
  n->opset = 17;
  n->inputs[0] = a;
  n->inputs[1] = b;
  n->outputs[0] = ir_tensor_new(g, out);
  return n->outputs[0];
}

static void add_output(ir_graph *g, ir_tensor *t) {
  ir_tensor **o = mem_alloc(g->mem, sizeof *o * (size_t)(g->n_outputs + 1));
  memcpy(o, g->outputs, sizeof *o * (size_t)g->n_outputs);
  o[g->n_outputs++] = t;
  g->outputs = o;
  t->is_output = true;
}

/* y = Relu(x W + b) with x [4, 3]; aux = x * V, a second output the loss ignores;
 * `scalar` a rank-0 float constant added to y. */
static ir_graph *model(mem_arena *mem, const char *middle) {
  ir_graph *g = ir_graph_new(mem, "unit.onnx");
  int64_t xd[2] = {4, 3}, wd[2] = {3, 5}, bd[1] = {5};
  ir_tensor *x = tensor(g, "x", IR_INPUT, 2, xd);
  g->inputs = mem_alloc(mem, sizeof *g->inputs);
  g->inputs[g->n_inputs++] = x;
  ir_tensor *h = op(g, "MatMul", x, tensor(g, "W", IR_WEIGHT, 2, wd), "h");
  h = op(g, "Add", h, tensor(g, "b", IR_WEIGHT, 1, bd), "hb");
  h = op(g, middle, h, NULL, "act");
  add_output(g, op(g, "Add", h, tensor(g, "scalar", IR_WEIGHT, 0, NULL), "y"));
  add_output(g, op(g, "Mul", x, tensor(g, "V", IR_WEIGHT, 1, (int64_t[]){3}), "aux"));
  return g;
}

static ad_options adam_on_y(void) {
  return (ad_options){.loss = AD_LOSS_MSE, .output = "y", .optimizer = AD_OPT_ADAM,
                      .beta1 = 0.9, .beta2 = 0.999, .epsilon = 1e-8};
}

static nn_status train(ir_graph *g, ad_options *o, ad_result *r) {
  pipeline_options po = {.opt_level = 2, .train = o, .train_result = r};
  return pipeline_run(g, &po);
}

static int count_op(const ir_graph *g, const char *type) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++)
    n += strcmp(g->nodes[i]->op_type, type) == 0;
  return n;
}

Test(autodiff, params_state_layout_and_updates) {
  mem_arena *mem = mem_new();
  ir_graph *g = model(mem, "Relu");
  ad_options o = adam_on_y();
  ad_result r;
  cr_assert_eq(train(g, &o, &r), NN_OK);
  const ir_tensor *W = ir_tensor_find(g, "W"), *b = ir_tensor_find(g, "b");
  cr_assert_eq(W->kind, IR_STATE);
  cr_assert_eq(W->role, IR_ROLE_PARAM);
  cr_assert_eq(b->kind, IR_STATE);
  /* a scalar initializer is an exporter's constant, not a param */
  cr_assert_neq(ir_tensor_find(g, "scalar")->kind, IR_STATE);
  /* params first, each 64-byte aligned, none overlapping */
  int64_t end = 0, params_end = 0;
  int n_state = 0;
  for (int i = 0; i < g->n_tensors; i++) {
    const ir_tensor *t = g->tensors[i];
    if (t->kind != IR_STATE)
      continue;
    n_state++;
    cr_assert_eq(t->offset % 64, 0, "%s at %lld", t->name, (long long)t->offset);
    if (t->role == IR_ROLE_PARAM && t->offset + (int64_t)ir_bytes(t) > params_end)
      params_end = t->offset + (int64_t)ir_bytes(t);
    if (t->offset + (int64_t)ir_bytes(t) > end)
      end = t->offset + (int64_t)ir_bytes(t);
  }
  for (int i = 0; i < g->n_tensors; i++)
    if (g->tensors[i]->kind == IR_STATE && g->tensors[i]->role != IR_ROLE_PARAM)
      cr_assert_geq(g->tensors[i]->offset, params_end);
  cr_assert_eq(n_state, 2 * 4); /* W, b: param, gradient, two Adam moments each */
  cr_assert_leq(end, g->state_bytes);
  cr_assert_eq(g->state_bytes % 64, 0);
  /* the state updates have no outputs, and dead-code removal kept them */
  cr_assert_eq(count_op(g, "Accumulate"), 2);
  cr_assert_eq(count_op(g, "Optimize"), 2);
  cr_assert_eq(r.batch, 4);
  cr_assert_eq(r.label->rank, 2);
  cr_assert_eq(r.mask->dims[0], 4);
  mem_free(mem);
}

Test(autodiff, param_no_gradient_reaches_is_a_constant_again) {
  mem_arena *mem = mem_new();
  ir_graph *g = model(mem, "Relu");
  ad_options o = adam_on_y();
  ad_result r;
  cr_assert_eq(train(g, &o, &r), NN_OK);
  const ir_tensor *V = ir_tensor_find(g, "V"); /* feeds only the output the loss ignores */
  cr_assert_eq(V->kind, IR_WEIGHT);
  cr_assert_eq(V->role, IR_ROLE_NONE);
  cr_assert_null(ir_tensor_find(g, "V.grad"));
  mem_free(mem);
}

Test(autodiff, op_without_rule_on_the_path_is_an_error) {
  mem_arena *mem = mem_new();
  ir_graph *g = model(mem, "LpNormalization"); /* no gradient rule */
  ad_options o = adam_on_y();
  ad_result r;
  diag_reset();
  cr_assert_eq(train(g, &o, &r), NN_ERR);
  cr_assert_eq(diag_error_count(), 1);
  diag_reset();
  mem_free(mem);
}

Test(autodiff, untrained_weights_stay_state_without_gradient) {
  mem_arena *mem = mem_new();
  ir_graph *g = model(mem, "LpNormalization"); /* no rule: fine when nothing before it trains */
  const char *const untrained[] = {"W", "b"};
  ad_options o = adam_on_y();
  o.untrained = untrained;
  o.n_untrained = 2;
  ad_result r;
  diag_reset();
  cr_assert_eq(train(g, &o, &r), NN_ERR); /* then nothing at all is trained */
  diag_reset();
  g = model(mem, "Relu");
  o.n_untrained = 1; /* W only */
  cr_assert_eq(train(g, &o, &r), NN_OK);
  const ir_tensor *W = ir_tensor_find(g, "W");
  cr_assert_eq(W->kind, IR_STATE);
  cr_assert_eq(W->role, IR_ROLE_BUFFER);
  cr_assert_null(ir_tensor_find(g, "W.grad"));
  cr_assert_not_null(ir_tensor_find(g, "b.grad"));
  cr_assert_eq(count_op(g, "Optimize"), 1);
  mem_free(mem);
}

Test(autodiff, internal_ops_are_in_the_registry_and_update_state) {
  const op_def *acc = op_find("nncc", "Accumulate"), *opt = op_find("nncc", "Optimize");
  cr_assert_not_null(acc);
  cr_assert_not_null(opt);
  cr_assert(acc->flags & OP_UPDATES_STATE);
  cr_assert(opt->flags & OP_UPDATES_STATE);
  cr_assert_null(op_find("", "Accumulate")); /* never in the ONNX domain */
  cr_assert_not_null(op_find("", "Gemm")->grad);
}
