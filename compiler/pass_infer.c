/* Shape and type inference, node by node in schedule order, folding each node
 * whose inputs are known at compile time so that later shapes can depend on
 * computed values (the Shape -> Gather -> Concat -> Reshape chains). A node
 * whose inputs are unknown because an earlier node failed is skipped: its
 * cause is already reported, and the rest of the graph still gets checked. */
#include "control.h"
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

/* A graph input that t's value depends on (searching back through
 * producers), or NULL. */
static const ir_tensor *input_behind(const ir_graph *g, const ir_tensor *t, int depth) {
  if (t->kind == IR_INPUT)
    return t;
  for (int i = 0; i < g->n_nodes && depth < 64; i++) {
    const ir_node *n = g->nodes[i];
    for (int k = 0; k < n->n_outputs; k++)
      if (n->outputs[k] == t) {
        for (int j = 0; j < n->n_inputs; j++) {
          const ir_tensor *in = n->inputs[j] ? input_behind(g, n->inputs[j], depth + 1) : NULL;
          if (in)
            return in;
        }
        return NULL;
      }
  }
  return NULL;
}

/* Inputs the op needs at compile time (its const_inputs) must be weights by
 * now; one message for every op, with the way out. */
static nn_status check_const_ports(ir_graph *g, const ir_node *n) {
  nn_status st = NN_OK;
  for (int k = 0; k < n->n_inputs && k < 32; k++) {
    const ir_tensor *t = n->inputs[k];
    if (!t || t->kind == IR_WEIGHT || !(n->op->const_inputs & OP_CONST(k)))
      continue;
    const ir_tensor *in = input_behind(g, t, 0);
    if (in)
      st = diag_node(g->path, n, "input %d ('%s') must be known at compile time, but it depends "
                     "on graph input '%s'; compile a value in with --freeze %s=FILE", k, t->name,
                     in->name, in->name);
    else
      st = diag_node(g->path, n, "input %d ('%s') must be known at compile time, but it is "
                     "computed from run-time data", k, t->name);
  }
  return st;
}

/* A value whose shape is known only at run time cannot feed another node:
 * every shape here is a compile-time literal. */
static nn_status check_bounded_inputs(ir_graph *g, const ir_node *n) {
  nn_status st = NN_OK;
  for (int k = 0; k < n->n_inputs; k++)
    if (n->inputs[k] && n->inputs[k]->bounded)
      st = diag_node(g->path, n, "input %d ('%s') has a data-dependent shape; nncc supports such "
                     "values only as graph outputs", k, n->inputs[k]->name);
  return st;
}

nn_status pass_infer(ir_graph *g) {
  nn_status st = NN_OK;
  for (int i = 0; i < g->n_nodes; i++) {
    ir_node *n = g->nodes[i];
    if (n->dead || !inputs_shaped(n)) /* dead: a control-flow copy that failed */
      continue;
    int seq = seq_guard(g, n); /* sequences reaching tensor ops (compiler/control.h) */
    if (seq != 0) {
      st = seq < 0 ? NN_ERR : st;
      continue;
    }
    if (widen_inputs(g, i) > 0) {
      i--; /* infer the inserted casts first, then this node again */
      continue;
    }
    int before = diag_error_count();
    if (check_bounded_inputs(g, n) != NN_OK || check_const_ports(g, n) != NN_OK ||
        n->op->infer(g, n) != NN_OK || check_string_use(g, n) != NN_OK ||
        diag_error_count() > before) {
      st = NN_ERR;
      continue;
    }
    if (n->dead)
      continue; /* lowered into the nodes that follow it (compiler/ops/control.c) */
    if (!outputs_shaped(n)) {
      st = diag_node(g->path, n, "internal: shape rule left an output unshaped");
      continue;
    }
    narrow_outputs(g, i); /* the casts it inserts come next in this loop */
    pass_fold_node(g, n);
  }
  if (st == NN_OK)
    st = seq_expand_outputs(g);
  if (st == NN_OK)
    ir_compact(g);
  return st;
}
