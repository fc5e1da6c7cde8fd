/* Memory planning of activations (the weight blob is laid out by codegen,
 * which knows which weights the code reads). Activations get offsets in one arena: a buffer is placed when its node runs, in the lowest
 * gap that fits among the buffers alive then, and its bytes are free again
 * after its last reader. Outputs are placed before inputs are freed, so no
 * node reads and writes the same bytes. Without reuse each buffer gets its
 * own bytes (a stress switch, and -O0). */
#include <stdlib.h>

#include "passes.h"

#define ALIGN 64

typedef struct live_buf {
  int64_t offset, size;
  int tensor_id;
} live_buf;

static int64_t align_up(int64_t v) { return (v + ALIGN - 1) / ALIGN * ALIGN; }

/* Arena bytes of a buffer; an empty tensor still gets its own (so no two
 * live buffers share an address, which restrict promises). */
static int64_t buf_size(const ir_tensor *t) {
  int64_t b = (int64_t)ir_bytes(t);
  return align_up(b ? b : 1);
}

static bool in_arena(const ir_tensor *t) {
  return t && t->kind == IR_ACTIVATION && !t->is_output;
}

/* Lowest offset where size bytes fit between the live buffers (sorted by offset). */
static int64_t first_fit(const live_buf *live, int n, int64_t size) {
  int64_t at = 0;
  for (int i = 0; i < n; i++) {
    if (live[i].offset - at >= size)
      return at;
    if (live[i].offset + live[i].size > at)
      at = live[i].offset + live[i].size;
  }
  return at;
}

static void insert_sorted(live_buf *live, int *n, live_buf b) {
  int i = *n;
  while (i > 0 && live[i - 1].offset > b.offset) {
    live[i] = live[i - 1];
    i--;
  }
  live[i] = b;
  (*n)++;
}

static void remove_id(live_buf *live, int *n, int id) {
  for (int i = 0; i < *n; i++)
    if (live[i].tensor_id == id) {
      for (int k = i + 1; k < *n; k++)
        live[k - 1] = live[k];
      (*n)--;
      return;
    }
}

/* last_use[id]: index of the last node reading the tensor (or writing it,
 * when nothing reads it). */
static int *last_uses(const ir_graph *g) {
  int *last_use = mem_alloc(g->mem, sizeof *last_use * (size_t)(g->next_id + 1));
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = g->nodes[i];
    for (int k = 0; k < n->n_outputs; k++)
      if (n->outputs[k])
        last_use[n->outputs[k]->id] = i;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k])
        last_use[n->inputs[k]->id] = i;
  }
  return last_use;
}

int64_t plan_lower_bound(const ir_graph *g) {
  int *last_use = last_uses(g);
  int64_t live = 0, peak = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = g->nodes[i];
    for (int k = 0; k < n->n_outputs; k++)
      if (in_arena(n->outputs[k]))
        live += buf_size(n->outputs[k]);
    if (live > peak)
      peak = live;
    for (int k = 0; k < n->n_inputs + n->n_outputs; k++) {
      const ir_tensor *t = k < n->n_inputs ? n->inputs[k] : n->outputs[k - n->n_inputs];
      if (in_arena(t) && last_use[t->id] == i) {
        live -= buf_size(t);
        last_use[t->id] = -1; /* count a tensor read twice by one node once */
      }
    }
  }
  return peak;
}

nn_status pass_plan(ir_graph *g, bool reuse) {
  int *last_use = last_uses(g);
  live_buf *live = mem_alloc(g->mem, sizeof *live * (size_t)(g->n_tensors + 1));
  int n_live = 0;
  int64_t top = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    ir_node *n = g->nodes[i];
    for (int k = 0; k < n->n_outputs; k++) {
      ir_tensor *t = n->outputs[k];
      if (!in_arena(t))
        continue;
      int64_t size = buf_size(t);
      t->offset = reuse ? first_fit(live, n_live, size) : top;
      if (t->offset + size > top)
        top = t->offset + size;
      insert_sorted(live, &n_live, (live_buf){t->offset, size, t->id});
    }
    for (int k = 0; k < n->n_inputs + n->n_outputs; k++) {
      ir_tensor *t = k < n->n_inputs ? n->inputs[k] : n->outputs[k - n->n_inputs];
      if (in_arena(t) && last_use[t->id] == i)
        remove_id(live, &n_live, t->id);
    }
  }
  g->arena_bytes = top;
  return NN_OK;
}
