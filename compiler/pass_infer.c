/* Shape and type inference, node by node in schedule order, folding each node
 * whose inputs are known at compile time so that later shapes can depend on
 * computed values (the Shape -> Gather -> Concat -> Reshape chains). A node
 * whose inputs are unknown because an earlier node failed is skipped: its
 * cause is already reported, and the rest of the graph still gets checked. */
#include "ops.h"
#include "passes.h"

static bool inputs_shaped(const ir_node *n) {
  for (int k = 0; k < n->n_inputs; k++)
    if (n->inputs[k] && !n->inputs[k]->shaped)
      return false;
  return true;
}

static bool outputs_shaped(const ir_node *n) {
  for (int k = 0; k < n->n_outputs; k++)
    if (n->outputs[k] && !n->outputs[k]->shaped)
      return false;
  return true;
}

nn_status pass_infer(ir_graph *g) {
  nn_status st = NN_OK;
  for (int i = 0; i < g->n_nodes; i++) {
    ir_node *n = g->nodes[i];
    if (!inputs_shaped(n))
      continue;
    if (widen_inputs(g, i) > 0) {
      i--; /* infer the inserted casts first, then this node again */
      continue;
    }
    int before = diag_error_count();
    if (n->op->infer(g, n) != NN_OK || diag_error_count() > before) {
      st = NN_ERR;
      continue;
    }
    if (!outputs_shaped(n)) {
      st = diag_node(g->path, n, "internal: shape rule left an output unshaped");
      continue;
    }
    narrow_outputs(g, i); /* the casts it inserts come next in this loop */
    pass_fold_node(g, n);
  }
  if (st == NN_OK)
    ir_compact(g);
  return st;
}
