/* Byte room for strings made at run time (StringConcat, case changes,
 * StringSplit's pieces). Each node that makes strings gets one more output,
 * "<node>.string_bytes", of the size string_room() gives (g->string_bytes
 * bytes per string it may make), placed after everything the planner laid
 * out. That region is
 * never reused, so a string made early stays valid through the whole call
 * and after it, whatever copies its pointer (Identity, Reshape, Gather...),
 * until the next call on the same arena. Runs after plan: the room is not a
 * value any node reads, so it has no place in liveness. */
#include <string.h>

#include "ops.h"
#include "passes.h"

nn_status pass_strings(ir_graph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    ir_node *n = g->nodes[i];
    int64_t bytes = string_room(g, n);
    if (bytes == 0)
      continue;
    ir_tensor *room = ir_tensor_new(g, mem_printf(g->mem, "%s.string_bytes", n->name));
    ir_set_shape(room, IR_UINT8, 1, &bytes);
    room->offset = (g->arena_bytes + 63) / 64 * 64;
    g->arena_bytes = room->offset + bytes;
    ir_tensor **outs = mem_alloc(g->mem, sizeof *outs * (size_t)(n->n_outputs + 1));
    memcpy(outs, n->outputs, sizeof *outs * (size_t)n->n_outputs);
    outs[n->n_outputs++] = room;
    n->outputs = outs;
  }
  return NN_OK;
}
