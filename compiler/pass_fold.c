/* Constant folding of one node: when the op can compute its outputs at
 * compile time, they become weights and the node dies. Graph outputs stay
 * computed by their node, so the entry point always writes them. */
#include "ops.h"
#include "passes.h"

/* Folded results above this size stay in the generated code instead. */
#define FOLD_MAX_BYTES (64u << 20)

nn_status pass_fold_node(ir_graph *g, ir_node *n) {
  if (!n->op->fold)
    return NN_ERR;
  size_t bytes = 0;
  for (int k = 0; k < n->n_outputs; k++) {
    if (n->outputs[k] && n->outputs[k]->is_output)
      return NN_ERR;
    if (n->outputs[k])
      bytes += ir_bytes(n->outputs[k]);
  }
  if (bytes > FOLD_MAX_BYTES)
    return NN_ERR;
  if (!(n->op->flags & OP_FOLD_ON_SHAPES))
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] && (n->inputs[k]->kind != IR_WEIGHT || n->inputs[k]->no_fold))
        return NN_ERR;
  if (n->op->fold(g, n) != NN_OK)
    return NN_ERR;
  for (int k = 0; k < n->n_outputs; k++)
    NN_ASSERT(!n->outputs[k] || (n->outputs[k]->kind == IR_WEIGHT && n->outputs[k]->data));
  n->dead = true;
  return NN_OK;
}
