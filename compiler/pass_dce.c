/* Dead-node removal: a node none of whose outputs is used, by a later node or
 * as a graph output, goes. One backward sweep finds them all. */
#include "ops.h"
#include "passes.h"

nn_status pass_dce(ir_graph *g) {
  bool *used = mem_alloc(g->mem, sizeof *used * (size_t)(g->next_id + 1));
  for (int i = 0; i < g->n_outputs; i++)
    used[g->outputs[i]->id] = true;
  for (int i = g->n_nodes - 1; i >= 0; i--) {
    ir_node *n = g->nodes[i];
    bool live = n->op && (n->op->flags & OP_UPDATES_STATE);
    for (int k = 0; k < n->n_outputs; k++)
      live |= n->outputs[k] && used[n->outputs[k]->id];
    if (!live) {
      n->dead = true;
      continue;
    }
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k])
        used[n->inputs[k]->id] = true;
  }
  ir_compact(g);
  return NN_OK;
}
