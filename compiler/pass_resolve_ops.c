/* Attaches each node's registry row, and lists every unsupported operator in
 * one run rather than stopping at the first. */
#include "ops.h"
#include "passes.h"

nn_status pass_resolve_ops(ir_graph *g) {
  nn_status st = NN_OK;
  for (int i = 0; i < g->n_nodes; i++) {
    ir_node *n = g->nodes[i];
    n->op = op_find(n->domain, n->op_type);
    if (!n->op)
      st = diag_node(g->path, n, "unsupported operator%s%s%s", n->domain[0] ? " in domain '" : "",
                     n->domain, n->domain[0] ? "'" : "");
    else if (n->opset < 0)
      st = diag_node(g->path, n, "the model imports no opset for domain '%s'", n->domain);
  }
  return st;
}
