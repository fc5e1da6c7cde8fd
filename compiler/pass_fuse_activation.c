/* Folds a Relu or a constant Clip into the Conv that feeds it (only user of
 * the Conv's output): the Conv writes the activation's output directly and
 * clamps it while the block it just computed is still in cache, instead of a
 * separate pass over the whole tensor. The Conv carries the bounds as the
 * float attributes nncc_act_lo / nncc_act_hi (compiler/ops/conv.c reads
 * them). Runs after the ONNX-level passes (export never sees it) and not for
 * training, whose backward reads the tensors as autodiff left them. */
#include <math.h>
#include <string.h>

#include "ops.h"
#include "passes.h"

static void set_float_attr(ir_graph *g, ir_node *n, const char *name, double v) {
  ir_attr *attrs = mem_alloc(g->mem, sizeof *attrs * (size_t)(n->n_attrs + 1));
  if (n->n_attrs)
    memcpy(attrs, n->attrs, sizeof *attrs * (size_t)n->n_attrs);
  attrs[n->n_attrs] = (ir_attr){.name = mem_strdup(g->mem, name), .type = IR_ATTR_FLOAT, .f = v};
  n->attrs = attrs;
  n->n_attrs++;
}

/* A Clip bound: absent (keep dflt), or a one-element weight; false if not constant. */
static bool clip_bound(const ir_node *a, int k, const char *attr, double *v) {
  if (a->opset < 11) {
    *v = ir_attr_float(a, attr, *v);
    return true;
  }
  const ir_tensor *t = ir_in(a, k);
  if (!t)
    return true;
  if (t->kind != IR_WEIGHT || ir_numel(t) != 1)
    return false;
  *v = ir_weight_float(t, 0);
  return true;
}

/* The bounds of activation node a, or false when it is not a clamp. */
static bool clamp_of(const ir_node *a, double *lo, double *hi) {
  if (a->dead || strcmp(a->domain, "") != 0 || a->outputs[0]->dtype != IR_FLOAT)
    return false;
  *lo = -INFINITY;
  *hi = INFINITY;
  if (strcmp(a->op_type, "Relu") == 0) {
    *lo = 0;
    return true;
  }
  return strcmp(a->op_type, "Clip") == 0 && clip_bound(a, 1, "min", lo) &&
         clip_bound(a, 2, "max", hi) && !isnan(*lo) && !isnan(*hi);
}

nn_status pass_fuse_activation(ir_graph *g) {
  int *uses = mem_alloc(g->mem, sizeof *uses * (size_t)(g->next_id + 1));
  ir_node **user = mem_alloc(g->mem, sizeof *user * (size_t)(g->next_id + 1));
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i]->n_inputs; k++) {
      const ir_tensor *t = g->nodes[i]->inputs[k];
      if (t) {
        uses[t->id]++;
        user[t->id] = g->nodes[i];
      }
    }
  bool changed = false;
  for (int i = 0; i < g->n_nodes; i++) {
    ir_node *n = g->nodes[i];
    ir_tensor *t = n->outputs[0];
    if (n->dead || strcmp(n->op_type, "Conv") != 0 || strcmp(n->domain, "") != 0 || !t ||
        t->dtype != IR_FLOAT || t->is_output || t->kind != IR_ACTIVATION || uses[t->id] != 1 ||
        ir_attr_find(n, "nncc_act_lo"))
      continue;
    ir_node *a = user[t->id];
    double lo, hi;
    if (a->inputs[0] != t || !clamp_of(a, &lo, &hi))
      continue;
    n->outputs[0] = a->outputs[0];
    a->dead = true;
    set_float_attr(g, n, "nncc_act_lo", lo);
    set_float_attr(g, n, "nncc_act_hi", hi);
    changed = true;
  }
  if (changed)
    ir_compact(g);
  return NN_OK;
}
