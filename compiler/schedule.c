/* Topological order by repeated sweeps: a node is placed once all its
 * inputs are available. Sweeps keep the file's order among ready nodes. */
#include "ir.h"

nn_status ir_schedule(ir_graph *g) {
  int n = g->n_nodes, done = 0;
  /* ready[id]: the tensor exists now (not produced by a node not yet placed). */
  bool *ready = mem_alloc(g->mem, sizeof *ready * (size_t)(g->next_id + 1));
  for (int i = 0; i < g->n_tensors; i++)
    ready[g->tensors[i]->id] = true;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes[i]->n_outputs; k++)
      if (g->nodes[i]->outputs[k])
        ready[g->nodes[i]->outputs[k]->id] = false;
  bool *placed = mem_alloc(g->mem, sizeof *placed * (size_t)(n + 1));
  ir_node **order = mem_alloc(g->mem, sizeof *order * (size_t)(n + 1));
  for (bool progress = true; done < n && progress;) {
    progress = false;
    for (int i = 0; i < n; i++) {
      const ir_node *node = g->nodes[i];
      bool ok = !placed[i];
      for (int k = 0; k < node->n_inputs && ok; k++)
        ok = !node->inputs[k] || ready[node->inputs[k]->id];
      if (!ok)
        continue;
      placed[i] = progress = true;
      order[done++] = g->nodes[i];
      for (int k = 0; k < node->n_outputs; k++)
        if (node->outputs[k])
          ready[node->outputs[k]->id] = true;
    }
  }
  for (int i = 0; i < n && done < n; i++)
    if (!placed[i])
      return diag_node(g->path, g->nodes[i],
                       "cyclic graph: this node depends, directly or not, on its own output");
  for (int i = 0; i < n; i++)
    g->nodes[i] = order[i];
  return NN_OK;
}
