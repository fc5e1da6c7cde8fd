/* Data-dependent shapes (NonZero, Unique, NonMaxSuppression): their shape
 * rules give upper bounds and mark the outputs `bounded`. Each such graph
 * output gets a companion graph output, "<name>_shape", int64[rank], that
 * the producing node fills with the actual dims at run time; the data is
 * written densely in those dims at the front of the caller's buffer (sized
 * for the bound). Runs after the ONNX-level passes: the companion is an
 * extra node output that no ONNX op has. */
#include <string.h>

#include "passes.h"

nn_status pass_bounded(ir_graph *g) {
  int n_outputs = g->n_outputs;
  for (int i = 0; i < n_outputs; i++) {
    ir_tensor *t = g->outputs[i];
    if (!t->bounded || t->actual_shape)
      continue;
    ir_node *producer = NULL;
    for (int j = 0; j < g->n_nodes && !producer; j++)
      for (int k = 0; k < g->nodes[j]->n_outputs; k++)
        if (g->nodes[j]->outputs[k] == t)
          producer = g->nodes[j];
    if (!producer)
      NN_BUG("bounded output without a producer");
    ir_tensor *s = ir_tensor_new(g, mem_printf(g->mem, "%s_shape", t->name));
    int64_t rank = t->rank;
    ir_set_shape(s, IR_INT64, 1, &rank);
    s->is_output = true;
    t->actual_shape = s;
    ir_tensor **outs = mem_alloc(g->mem, sizeof *outs * (size_t)(producer->n_outputs + 1));
    memcpy(outs, producer->outputs, sizeof *outs * (size_t)producer->n_outputs);
    outs[producer->n_outputs++] = s;
    producer->outputs = outs;
    ir_tensor **gouts = mem_alloc(g->mem, sizeof *gouts * (size_t)(g->n_outputs + 1));
    memcpy(gouts, g->outputs, sizeof *gouts * (size_t)g->n_outputs);
    gouts[g->n_outputs++] = s;
    g->outputs = gouts;
  }
  return NN_OK;
}
