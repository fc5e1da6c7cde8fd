/* nncc info MODEL: what a user wants to know before compiling. */
#include <stdio.h>
#include <string.h>

#include "driver.h"
#include "ops.h"

/* Multiply-accumulates of the ops whose cost dominates; 0 for the rest. */
static int64_t node_macs(const ir_node *n) {
  const ir_tensor *y = n->outputs[0];
  if (!y)
    return 0;
  if (strcmp(n->op_type, "Conv") == 0 && n->inputs[1])
    return ir_numel(y) * (ir_numel(n->inputs[1]) / n->inputs[1]->dims[0]);
  if (strcmp(n->op_type, "ConvTranspose") == 0 && n->inputs[1])
    return ir_numel(n->inputs[0]) * (ir_numel(n->inputs[1]) / n->inputs[1]->dims[0]);
  if ((strcmp(n->op_type, "Gemm") == 0 || strcmp(n->op_type, "MatMul") == 0) && n->inputs[0]) {
    const ir_tensor *a = n->inputs[0];
    int64_t k = a->rank ? a->dims[a->rank - 1] : 1;
    if (strcmp(n->op_type, "Gemm") == 0 && ir_attr_int(n, "transA", 0) && a->rank == 2)
      k = a->dims[0];
    return ir_numel(y) * k;
  }
  return 0;
}

static void print_tensor(const char *role, const ir_tensor *t) {
  char shape[256];
  printf("  %-6s %-24s %-8s %s\n", role, t->name, ir_dtype_name(t->dtype),
         ir_shape_str(t, shape, sizeof shape));
}

int cmd_info(int argc, char **argv) {
  mem_arena *mem = mem_new();
  driver_options o = {.opt_level = 2};
  for (int i = 1; i < argc; i++) {
    int took = driver_parse_common(&o, argc, argv, &i);
    if (took < 0)
      return 1;
    if (!took) {
      diag_error(NULL, "info: unexpected argument '%s'", argv[i]);
      return 1;
    }
  }
  if (!o.model) {
    diag_error(NULL, "info: no model given");
    return 1;
  }
  ir_graph *g = driver_compile(&o, mem);
  if (!g)
    return 1;
  printf("model: %s\n", o.model);
  for (int i = 0; i < g->n_inputs; i++)
    print_tensor("input", g->inputs[i]);
  for (int i = 0; i < g->n_outputs; i++)
    print_tensor("output", g->outputs[i]);

  int64_t params = 0, param_bytes = 0, macs = 0, naive = 0;
  for (int i = 0; i < g->n_tensors; i++) {
    const ir_tensor *t = g->tensors[i];
    if (t->kind == IR_WEIGHT) {
      params += ir_numel(t);
      param_bytes += (int64_t)ir_bytes(t);
    } else if (t->kind == IR_ACTIVATION && !t->is_output) {
      naive += ((int64_t)ir_bytes(t) + 63) / 64 * 64;
    }
  }
  printf("operators (%d nodes):\n", g->n_nodes);
  bool *seen = mem_alloc(mem, sizeof *seen * (size_t)(g->n_nodes + 1));
  for (int i = 0; i < g->n_nodes; i++) {
    if (seen[i])
      continue;
    int count = 0;
    for (int k = i; k < g->n_nodes; k++)
      if (strcmp(g->nodes[k]->op_type, g->nodes[i]->op_type) == 0) {
        seen[k] = true;
        count++;
      }
    printf("  %-24s %d\n", g->nodes[i]->op_type, count);
  }
  for (int i = 0; i < g->n_nodes; i++)
    macs += node_macs(g->nodes[i]);
  printf("parameters: %lld (%lld bytes)\n", (long long)params, (long long)param_bytes);
  printf("MACs: %lld (FLOPs ~ %lld)\n", (long long)macs, (long long)(2 * macs));
  printf("activation arena: %lld bytes (without reuse: %lld; lower bound: %lld)\n",
         (long long)g->arena_bytes, (long long)naive, (long long)plan_lower_bound(g));
  mem_free(mem);
  return 0;
}
