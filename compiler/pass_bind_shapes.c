/* Fixes every graph input's shape: from --shape where given, else from the
 * model. An open dimension left over is an error that says how to fix it. */
#include <string.h>

#include "passes.h"

static nn_status bind(ir_graph *g, ir_tensor *t, const shape_binding *b) {
  if (t->rank >= 0 && t->rank != b->rank)
    return diag_error(g->path, "--shape %s: the model gives this input rank %d, not %d", b->name,
                      t->rank, b->rank);
  for (int d = 0; d < b->rank; d++)
    if (t->rank >= 0 && !t->dim_params[d] && t->dims[d] != b->dims[d])
      return diag_error(g->path, "--shape %s: dimension %d is fixed to %lld by the model, not %lld",
                        b->name, d, (long long)t->dims[d], (long long)b->dims[d]);
  t->rank = b->rank;
  for (int d = 0; d < b->rank; d++) {
    t->dims[d] = b->dims[d];
    t->dim_params[d] = NULL;
  }
  return NN_OK;
}

nn_status pass_bind_shapes(ir_graph *g, const shape_binding *b, int n) {
  nn_status st = NN_OK;
  for (int i = 0; i < n; i++) {
    ir_tensor *t = NULL;
    for (int k = 0; k < g->n_inputs; k++)
      if (strcmp(g->inputs[k]->name, b[i].name) == 0)
        t = g->inputs[k];
    if (!t)
      st = diag_error(g->path, "--shape %s: the model has no input of that name", b[i].name);
    else if (bind(g, t, &b[i]) != NN_OK)
      st = NN_ERR;
  }
  for (int k = 0; k < g->n_inputs; k++) {
    ir_tensor *t = g->inputs[k];
    if (t->seq) {
      st = diag_error(g->path, "input '%s' is a%s: nncc needs its %s at compile time; `nncc run` "
                      "takes it from the input file, or compile a value in with --freeze %s=FILE",
                      t->name, t->seq->optional ? "n optional" : " sequence",
                      t->seq->optional ? "presence and shape" : "length and shapes", t->name);
      continue;
    }
    bool open = t->rank < 0;
    for (int d = 0; d < t->rank; d++)
      open |= t->dims[d] < 0;
    if (open) {
      st = diag_error(g->path,
                      "input '%s' has %s; fix it with --shape %s=D0xD1x... (e.g. a batch of 1)",
                      t->name, t->rank < 0 ? "no shape" : "an open dimension", t->name);
      continue;
    }
    t->shaped = true;
  }
  return st;
}
