/* 16-bit floats (float16, bfloat16) are stored as such but computed in
 * float32: a node reading them gets Cast nodes in front (to float32) and
 * behind (back to the 16-bit type), so every op's emitter only ever sees
 * float32. Rounding once at the end is at least as accurate as computing in
 * 16 bits. Cast itself converts directly. Called by pass_infer per node. */
#include <string.h>

#include "ops.h"
#include "passes.h"

static bool is_half(ir_dtype t) { return t == IR_FLOAT16 || t == IR_BFLOAT16; }

static ir_node *cast_node(ir_graph *g, int pos, ir_tensor *from, ir_tensor *to, ir_dtype dtype,
                          const ir_node *origin) {
  ir_node *c = ir_node_insert(g, pos, "Cast", 1, 1);
  c->name = mem_printf(g->mem, "%s (%s)", origin->name, ir_dtype_name(dtype));
  c->opset = origin->opset > 6 ? origin->opset : 6; /* Cast-6 on: `to` is an int */
  c->op = op_find("", "Cast");
  ir_node_set_int_attr(g, c, "to", dtype);
  c->inputs[0] = from;
  c->outputs[0] = to;
  return c;
}

int widen_inputs(ir_graph *g, int pos) {
  ir_node *n = g->nodes[pos];
  if (strcmp(n->op_type, "Cast") == 0 || strcmp(n->op_type, "CastLike") == 0)
    return 0;
  int inserted = 0;
  for (int k = 0; k < n->n_inputs; k++) {
    ir_tensor *t = n->inputs[k];
    if (!t || !is_half(t->dtype))
      continue;
    ir_tensor *wide = ir_tensor_new(g, mem_printf(g->mem, "%s (float32)", t->name));
    cast_node(g, pos + inserted++, t, wide, IR_FLOAT, n);
    n->inputs[k] = wide;
    n->narrow_to = t->dtype;
  }
  return inserted;
}

int narrow_outputs(ir_graph *g, int pos) {
  ir_node *n = g->nodes[pos];
  int inserted = 0;
  for (int k = 0; n->narrow_to && k < n->n_outputs; k++) {
    ir_tensor *t = n->outputs[k];
    if (!t || t->dtype != IR_FLOAT)
      continue;
    /* The node now writes a float32 twin; the original tensor (maybe a graph
     * output) is produced by the Cast back. */
    ir_tensor *wide = ir_tensor_new(g, mem_printf(g->mem, "%s (float32)", t->name));
    ir_set_shape(wide, IR_FLOAT, t->rank, t->dims);
    n->outputs[k] = wide;
    t->shaped = false;
    cast_node(g, pos + 1 + inserted++, wide, t, n->narrow_to, n);
  }
  return inserted;
}
