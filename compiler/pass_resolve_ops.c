/* Attaches each node's registry row, and lists every unsupported operator in
 * one run rather than stopping at the first. */
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "passes.h"

/* The nodes of g and of its subgraphs (If's branches, Loop's body...), which
 * inference copies into the graph later (compiler/ops/control.c). */
static nn_status resolve(ir_graph *g) {
  nn_status st = NN_OK;
  for (int i = 0; i < g->n_nodes; i++) {
    ir_node *n = g->nodes[i];
    for (int a = 0; a < n->n_attrs; a++)
      if (n->attrs[a].graph && resolve(n->attrs[a].graph) != NN_OK)
        st = NN_ERR;
    n->op = op_find(n->domain, n->op_type);
    /* internal kernels are never read from a file, except by their own tests */
    if (n->op && strcmp(n->domain, "nncc") == 0 && !getenv("NNCC_TEST_INTERNAL_OPS"))
      n->op = NULL;
    if (!n->op)
      st = diag_node(g->path, n, "unsupported operator%s%s%s", n->domain[0] ? " in domain '" : "",
                     n->domain, n->domain[0] ? "'" : "");
    else if (n->opset < 0)
      st = diag_node(g->path, n, "the model imports no opset for domain '%s'", n->domain);
  }
  return st;
}

nn_status pass_resolve_ops(ir_graph *g) { return resolve(g); }
