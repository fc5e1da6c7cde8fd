/* The IR's invariants, checked after every pass. A failure here is a bug in
 * nncc, never a user error, so it aborts with the pass's name. */
#include <stdio.h>
#include <stdlib.h>

#include "passes.h"

static void fail(const char *pass, const char *what, const char *name) {
  fprintf(stderr, "nncc: internal error: IR invalid after pass '%s': %s ('%s')\n", pass, what, name);
  abort();
}

void ir_verify(const ir_graph *g, const char *pass) {
  bool *defined = mem_alloc(g->mem, sizeof *defined * (size_t)(g->next_id + 1));
  for (int i = 0; i < g->n_tensors; i++) {
    const ir_tensor *t = g->tensors[i];
    if (t->kind != IR_ACTIVATION)
      defined[t->id] = true;
    if (t->kind == IR_WEIGHT && !t->data && !t->is_output)
      fail(pass, "weight without data", t->name);
    if (t->kind == IR_STATE && (t->is_output || t->role == IR_ROLE_NONE))
      fail(pass, "state tensor that is an output or has no role", t->name);
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = g->nodes[i];
    if (n->dead)
      fail(pass, "dead node left in the schedule", n->name);
    for (int k = 0; k < n->n_outputs; k++)
      if (n->outputs[k] && n->outputs[k]->kind == IR_STATE)
        fail(pass, "state is written only in place, by an op that updates state", n->name);
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] && !defined[n->inputs[k]->id])
        fail(pass, "node reads a tensor before it is produced", n->name);
    for (int k = 0; k < n->n_outputs; k++)
      if (n->outputs[k]) {
        if (defined[n->outputs[k]->id])
          fail(pass, "tensor produced twice", n->outputs[k]->name);
        defined[n->outputs[k]->id] = true;
      }
  }
  for (int i = 0; i < g->n_outputs; i++)
    if (!defined[g->outputs[i]->id])
      fail(pass, "graph output never produced", g->outputs[i]->name);
}
