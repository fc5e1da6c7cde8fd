/* IR basics: scheduling, compaction, shapes. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "diag.h"
#include "ir.h"
#include "passes.h"

static ir_graph *g;
static mem_arena *mem;

static void setup(void) {
  mem = mem_new();
  g = ir_graph_new(mem, "test.onnx");
  diag_reset();
}
static void teardown(void) { mem_free(mem); }

TestSuite(ir, .init = setup, .fini = teardown);

static ir_node *node(const char *op, ir_tensor *in, ir_tensor *out) {
  ir_node *n = ir_node_new(g, op, 1, 1);
  n->name = mem_strdup(mem, op);
  n->inputs[0] = in;
  n->outputs[0] = out;
  return n;
}

Test(ir, schedule_orders_producers_first) {
  ir_tensor *x = ir_tensor_new(g, "x"), *a = ir_tensor_new(g, "a"), *b = ir_tensor_new(g, "b");
  x->kind = IR_INPUT;
  ir_node *second = node("Relu", a, b); /* listed first, runs second */
  ir_node *first = node("Exp", x, a);
  cr_assert_eq(ir_schedule(g), NN_OK);
  cr_assert_eq(g->nodes[0], first);
  cr_assert_eq(g->nodes[1], second);
}

Test(ir, schedule_reports_cycle) {
  ir_tensor *a = ir_tensor_new(g, "a"), *b = ir_tensor_new(g, "b");
  node("Relu", a, b);
  node("Exp", b, a);
  cr_redirect_stderr();
  cr_assert_eq(ir_schedule(g), NN_ERR);
  cr_assert_eq(diag_error_count(), 1);
}

Test(ir, compact_drops_dead_nodes_and_unused_tensors) {
  ir_tensor *x = ir_tensor_new(g, "x"), *a = ir_tensor_new(g, "a");
  ir_tensor_new(g, "orphan");
  x->kind = IR_INPUT;
  ir_node *n = node("Relu", x, a);
  n->dead = true;
  ir_compact(g);
  cr_assert_eq(g->n_nodes, 0);
  cr_assert_eq(g->n_tensors, 0);
}

Test(ir, numel_and_shape_string) {
  ir_tensor *t = ir_tensor_new(g, "t");
  int64_t dims[] = {2, 3, 4};
  ir_set_shape(t, IR_FLOAT, 3, dims);
  cr_assert_eq(ir_numel(t), 24);
  cr_assert_eq(ir_bytes(t), 96);
  char buf[64];
  cr_assert_str_eq(ir_shape_str(t, buf, sizeof buf), "[2,3,4]");
  ir_set_shape(t, IR_INT64, 0, dims);
  cr_assert_eq(ir_numel(t), 1);
  cr_assert_str_eq(ir_shape_str(t, buf, sizeof buf), "[]");
}

Test(ir, dce_removes_unused_chain) {
  ir_tensor *x = ir_tensor_new(g, "x"), *a = ir_tensor_new(g, "a"), *b = ir_tensor_new(g, "b"),
            *y = ir_tensor_new(g, "y");
  x->kind = IR_INPUT;
  node("Relu", x, a);
  node("Exp", a, b); /* b feeds nothing */
  node("Neg", x, y);
  y->is_output = true;
  g->outputs = mem_alloc(mem, sizeof *g->outputs);
  g->outputs[g->n_outputs++] = y;
  cr_assert_eq(pass_dce(g), NN_OK);
  cr_assert_eq(g->n_nodes, 1);
  cr_assert_str_eq(g->nodes[0]->op_type, "Neg");
}
