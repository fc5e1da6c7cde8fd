/* The Gradient pass (compiler/pass_gradient.c) on a hand-built graph: the
 * node is gone after the pipeline, its output is written by an Identity of
 * a computed gradient (the weight it differentiates by was not folded
 * away), and export refuses the node. (Values: tests/e2e/gradient_op.py.) */
#include <criterion/criterion.h>
#include <string.h>

#include "ops.h"
#include "passes.h"

static ir_tensor *weight(ir_graph *g, const char *name, int64_t n) {
  ir_tensor *t = ir_tensor_new(g, name);
  ir_set_shape(t, IR_FLOAT, 1, &n);
  float *p = ir_make_weight(g, t);
  for (int64_t i = 0; i < n; i++)
    p[i] = 0.5f + (float)i;
  return t;
}

static ir_node *node(ir_graph *g, const char *type, ir_tensor *a, ir_tensor *b, const char *out) {
  ir_node *n = ir_node_new(g, type, b ? 2 : 1, 1);
  n->name = mem_strdup(g->mem, out);
  n->opset = 17;
  n->inputs[0] = a;
  n->inputs[1] = b;
  n->outputs[0] = ir_tensor_new(g, out);
  return n;
}

/* x [3] an input; V = W * K (both weights: foldable); y = V * x.
 * Gradient(xs=[W], zs=[x], y="y") -> dW, the only graph output. */
static ir_graph *model(mem_arena *mem) {
  ir_graph *g = ir_graph_new(mem, "unit.onnx");
  int64_t three = 3;
  ir_tensor *x = ir_tensor_new(g, "x"), *w = weight(g, "W", 3);
  ir_set_shape(x, IR_FLOAT, 1, &three);
  x->kind = IR_INPUT;
  g->inputs = mem_alloc(mem, sizeof *g->inputs);
  g->inputs[g->n_inputs++] = x;
  ir_tensor *v = node(g, "Mul", w, weight(g, "K", 3), "V")->outputs[0];
  node(g, "Mul", v, x, "y");
  ir_node *grad = node(g, "Gradient", w, x, "dW");
  grad->name = "grad";
  grad->domain = "ai.onnx.preview.training";
  grad->opset = 1;
  static char *xs[] = {"W"}, *zs[] = {"x"};
  ir_attr *a = mem_alloc(mem, sizeof *a * 3);
  a[0] = (ir_attr){.name = "xs", .type = IR_ATTR_STRINGS, .n = 1, .strings = xs};
  a[1] = (ir_attr){.name = "zs", .type = IR_ATTR_STRINGS, .n = 1, .strings = zs};
  a[2] = (ir_attr){.name = "y", .type = IR_ATTR_STRING, .s = "y"};
  grad->attrs = a;
  grad->n_attrs = 3;
  g->outputs = mem_alloc(mem, sizeof *g->outputs);
  g->outputs[g->n_outputs++] = grad->outputs[0];
  grad->outputs[0]->is_output = true;
  return g;
}

static const ir_node *producer(const ir_graph *g, const ir_tensor *t) {
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i]->outputs[0] == t)
      return g->nodes[i];
  return NULL;
}

Test(gradient_op, expanded_into_the_backward_graph) {
  mem_arena *mem = mem_new();
  ir_graph *g = model(mem);
  diag_reset();
  pipeline_options o = {.opt_level = 2};
  cr_assert_eq(pipeline_run(g, &o), NN_OK);
  for (int i = 0; i < g->n_nodes; i++)
    cr_assert_str_neq(g->nodes[i]->op_type, "Gradient", "the Gradient node is replaced");
  const ir_node *out = producer(g, g->outputs[0]);
  cr_assert_not_null(out);
  cr_assert_str_eq(out->op_type, "Identity");
  /* dW = x * K: computed from the input. Had W * K been folded, no path
   * would lead from W to y, and dW would be a constant of zeros. */
  cr_assert_neq(out->inputs[0]->kind, IR_WEIGHT);
  cr_assert_eq(out->inputs[0]->rank, 1);
  cr_assert_eq(out->inputs[0]->dims[0], 3);
  cr_assert_eq(diag_error_count(), 0);
  mem_free(mem);
}

Test(gradient_op, export_refuses_it) {
  mem_arena *mem = mem_new();
  ir_graph *g = model(mem);
  diag_reset();
  pipeline_options o = {.opt_level = 2, .onnx_level = true};
  cr_assert_eq(pipeline_run(g, &o), NN_ERR);
  cr_assert_eq(diag_error_count(), 1);
  diag_reset();
  mem_free(mem);
}
