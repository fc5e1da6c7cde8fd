/* The state blob of a training module: every IR_STATE tensor gets its own
 * 64-byte-aligned bytes, params first, then gradients, optimizer moments and
 * buffers (so a checkpoint of the params alone is one prefix), each group in
 * tensor order. The state table is these tensors with their offsets. */
#include "autodiff.h"

nn_status pass_plan_state(ir_graph *g) {
  int64_t top = 0;
  static const ir_state_role order[] = {IR_ROLE_PARAM, IR_ROLE_GRAD, IR_ROLE_OPTIMIZER,
                                        IR_ROLE_BUFFER};
  for (size_t r = 0; r < sizeof order / sizeof *order; r++)
    for (int i = 0; i < g->n_tensors; i++) {
      ir_tensor *t = g->tensors[i];
      if (t->kind != IR_STATE || t->role != order[r])
        continue;
      t->offset = top;
      top += ((int64_t)ir_bytes(t) + 63) / 64 * 64;
    }
  g->state_bytes = top;
  return NN_OK;
}
