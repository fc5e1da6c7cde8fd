/* 16-bit floats (float16, bfloat16) are stored as such but computed in
 * float32: a node reading them gets Cast nodes in front (to float32) and
 * behind (back to the 16-bit type), so every op's emitter only ever sees
 * float32. Rounding once at the end is at least as accurate as computing in
 * 16 bits. Cast itself converts directly. Called by pass_infer per node. */
#include <string.h>

#include "narrow.h"
#include "ops.h"
#include "passes.h"

/* The 8- and 4-bit floats are widened the same way. */
static bool is_half(ir_dtype t) {
  return t == IR_FLOAT16 || t == IR_BFLOAT16 || narrow_is_float(t);
}

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

/* Ops that only move elements (any 1-byte type works as bytes): an 8- or
 * 4-bit float goes through them unconverted, its bits untouched. */
static bool moves_bytes(const ir_node *n) {
  static const char *const ops[] = {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
                                    "Transpose", "Concat", "Split", "Slice", "Gather",
                                    "GatherElements", "GatherND", "Expand", "Tile",
                                    "DepthToSpace", "SpaceToDepth", "ReverseSequence", "Shape",
                                    "Size"};
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
    if (strcmp(n->op_type, ops[i]) == 0)
      return true;
  return false;
}

int widen_inputs(ir_graph *g, int pos) {
  ir_node *n = g->nodes[pos];
  /* These convert by themselves: the quantized ops read narrow floats and
   * round to a 16-bit scale's precision where ONNX's reference does. */
  static const char *const direct[] = {"Cast", "CastLike", "QuantizeLinear", "DequantizeLinear",
                                       "QLinearMatMul", "QLinearConv"};
  for (size_t i = 0; i < sizeof direct / sizeof *direct; i++)
    if (strcmp(n->op_type, direct[i]) == 0)
      return 0;
  bool moves = moves_bytes(n);
  int inserted = 0;
  for (int k = 0; k < n->n_inputs; k++) {
    ir_tensor *t = n->inputs[k];
    if (!t || !is_half(t->dtype) || (moves && narrow_is_float(t->dtype)))
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
    if (!t || t->dtype != IR_FLOAT || (k > 0 && (n->op->flags & OP_STATS_STAY_FLOAT)))
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
