/* The memory planner: buffers alive at the same time never overlap, and
 * reuse makes the arena smaller than the naive sum. */
#include <criterion/criterion.h>

#include "ir.h"
#include "passes.h"

/* A chain x -> t0 -> t1 -> ... -> y of n Relu nodes, each tensor `size` floats. */
static ir_graph *chain(mem_arena *mem, int n, int64_t size) {
  ir_graph *g = ir_graph_new(mem, "chain");
  ir_tensor *prev = ir_tensor_new(g, "x");
  prev->kind = IR_INPUT;
  ir_set_shape(prev, IR_FLOAT, 1, &size);
  for (int i = 0; i < n; i++) {
    ir_tensor *t = ir_tensor_new(g, mem_printf(mem, "t%d", i));
    ir_set_shape(t, IR_FLOAT, 1, &size);
    ir_node *node = ir_node_new(g, "Relu", 1, 1);
    node->inputs[0] = prev;
    node->outputs[0] = t;
    prev = t;
  }
  prev->is_output = true;
  g->outputs = mem_alloc(mem, sizeof *g->outputs);
  g->outputs[g->n_outputs++] = prev;
  return g;
}

Test(plan, chain_reuses_two_buffers) {
  mem_arena *mem = mem_new();
  ir_graph *g = chain(mem, 10, 100); /* 400 bytes -> 448 aligned */
  cr_assert_eq(pass_plan(g, true), NN_OK);
  cr_assert_eq(g->arena_bytes, 2 * 448);
  for (int i = 1; i < g->n_nodes - 1; i++) /* reader and writer never share bytes */
    cr_assert_neq(g->nodes[i]->inputs[0]->offset, g->nodes[i]->outputs[0]->offset);
  mem_free(mem);
}

Test(plan, no_reuse_gives_each_buffer_its_own_bytes) {
  mem_arena *mem = mem_new();
  ir_graph *g = chain(mem, 10, 100);
  cr_assert_eq(pass_plan(g, false), NN_OK);
  cr_assert_eq(g->arena_bytes, 9 * 448); /* the last tensor is the output: not in the arena */
  mem_free(mem);
}

Test(plan, long_lived_buffer_is_not_overwritten) {
  mem_arena *mem = mem_new();
  ir_graph *g = chain(mem, 4, 16);
  /* Make node 3 also read t0, so t0 lives until the end. */
  ir_node *last = g->nodes[3];
  ir_tensor **ins = mem_alloc(mem, 2 * sizeof *ins);
  ins[0] = last->inputs[0];
  ins[1] = g->nodes[0]->outputs[0];
  last->inputs = ins;
  last->n_inputs = 2;
  cr_assert_eq(pass_plan(g, true), NN_OK);
  int64_t t0 = g->nodes[0]->outputs[0]->offset;
  cr_assert_neq(g->nodes[1]->outputs[0]->offset, t0);
  cr_assert_neq(g->nodes[2]->outputs[0]->offset, t0);
  mem_free(mem);
}
