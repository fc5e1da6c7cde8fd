/* The IR as text, for --dump-ir and for reading test failures. */
#include <inttypes.h>

#include "passes.h"

static void tensor(FILE *out, const ir_tensor *t) {
  char shape[256];
  if (!t) {
    fprintf(out, "_");
    return;
  }
  fprintf(out, "%%%s:%s%s", t->name, t->shaped ? ir_dtype_name(t->dtype) : "?",
          t->shaped ? ir_shape_str(t, shape, sizeof shape) : "");
  if (t->kind == IR_WEIGHT)
    fprintf(out, "=const");
  if (t->kind == IR_STATE)
    fprintf(out, "=state");
}

void ir_print(const ir_graph *g, FILE *out) {
  for (int i = 0; i < g->n_inputs; i++) {
    fprintf(out, "input ");
    tensor(out, g->inputs[i]);
    fputc('\n', out);
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = g->nodes[i];
    for (int k = 0; k < n->n_outputs; k++) {
      fprintf(out, "%s", k ? ", " : "");
      tensor(out, n->outputs[k]);
    }
    fprintf(out, " = %s%s%s(", n->domain, n->domain[0] ? "." : "", n->op_type);
    for (int k = 0; k < n->n_inputs; k++) {
      fprintf(out, "%s", k ? ", " : "");
      tensor(out, n->inputs[k]);
    }
    fprintf(out, ")  ; '%s'\n", n->name);
  }
  for (int i = 0; i < g->n_outputs; i++)
    fprintf(out, "output %%%s\n", g->outputs[i]->name);
}
