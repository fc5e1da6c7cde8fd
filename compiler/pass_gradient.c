/* ONNX's Gradient operator (compiler/ops/gradient.c) becomes the backward
 * graph of y, built by the gradient rules training uses (compiler/autodiff.h)
 * from a seed of ones shaped like y: output i is d(sum of y)/d(xs[i]), zero
 * when y does not depend on xs[i]. It runs after inference, because rules
 * read shapes, and before dce, which would drop the nodes computing y when
 * only the Gradient node needed them (it names y without reading it). */
#include <string.h>

#include "autodiff_internal.h"
#include "ops.h"
#include "passes.h"

static bool is_gradient(const ir_node *n) {
  return strcmp(n->op_type, "Gradient") == 0 &&
         strcmp(n->domain, "ai.onnx.preview.training") == 0;
}

/* The tensor input k stands for: xs[k], then zs; NULL when the graph no
 * longer holds it (nothing read it). The shape rule checked the names. */
static ir_tensor *named(const ir_graph *g, const ir_node *n, int k) {
  const ir_attr *xs = ir_attr_find(n, "xs"), *zs = ir_attr_find(n, "zs");
  return ir_tensor_find(g, k < xs->n ? xs->strings[k] : zs->strings[k - xs->n]);
}

static int xs_count(const ir_node *n) { return ir_attr_find(n, "xs")->n; }

nn_status pass_gradient_pin(ir_graph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = g->nodes[i];
    if (!is_gradient(n))
      continue;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k])
        n->inputs[k]->no_fold = true;
    /* the named tensors too, for a node whose inputs are other values */
    static const char *const lists[] = {"xs", "zs"};
    for (int l = 0; l < 2; l++) {
      const ir_attr *a = ir_attr_find(n, lists[l]);
      for (int k = 0; a && a->type == IR_ATTR_STRINGS && k < a->n; k++) {
        ir_tensor *t = ir_tensor_find(g, a->strings[k]);
        if (t)
          t->no_fold = true;
      }
    }
  }
  return NN_OK;
}

/* Which nodes y is computed by: its producer, theirs, and so on. */
static bool *cone_of(const ir_graph *g, const ir_tensor *y) {
  bool *used = mem_alloc(g->mem, sizeof *used * (size_t)(g->next_id + 1));
  bool *in = mem_alloc(g->mem, sizeof *in * (size_t)(g->n_nodes + 1));
  used[y->id] = true;
  for (int i = g->n_nodes - 1; i >= 0; i--) {
    const ir_node *n = g->nodes[i];
    for (int k = 0; k < n->n_outputs; k++)
      in[i] |= n->outputs[k] && used[n->outputs[k]->id];
    for (int k = 0; in[i] && k < n->n_inputs; k++)
      if (n->inputs[k])
        used[n->inputs[k]->id] = true;
  }
  return in;
}

/* The spec computes the gradient at the values of the node's inputs, which
 * need not be the tensors xs and zs name: then the part of y's cone that
 * depends on a replaced tensor is copied, reading the input instead. Every
 * named tensor stands for its input, computed or not (xs and zs are
 * independent variables). Returns y or its copy; NULL after reporting. */
static ir_tensor *at_inputs(ir_graph *g, const ir_node *grad, ir_tensor *y, const bool *cone) {
  ir_tensor **map = mem_alloc(g->mem, sizeof *map * (size_t)(g->next_id + 1));
  bool any = false;
  for (int k = 0; k < grad->n_inputs; k++) {
    ir_tensor *t = named(g, grad, k);
    if (t && !map[t->id]) {
      map[t->id] = grad->inputs[k];
      any |= t != grad->inputs[k];
    }
  }
  if (!any)
    return y;
  for (int i = 0, n_nodes = g->n_nodes; i < n_nodes; i++) {
    const ir_node *n = g->nodes[i];
    bool reads = false;
    for (int k = 0; k < n->n_inputs; k++) {
      const ir_tensor *t = n->inputs[k];
      reads |= t && map[t->id] && map[t->id] != t;
    }
    if (!cone[i] || !reads)
      continue;
    ir_node *c = ir_node_new(g, n->op_type, n->n_inputs, n->n_outputs);
    c->name = mem_printf(g->mem, "%s.%s", grad->name, n->name);
    c->domain = n->domain;
    c->opset = n->opset;
    c->op = n->op;
    c->attrs = n->attrs;
    c->n_attrs = n->n_attrs;
    c->narrow_to = n->narrow_to;
    for (int k = 0; k < n->n_inputs; k++) {
      ir_tensor *t = n->inputs[k];
      c->inputs[k] = t && map[t->id] ? map[t->id] : t;
    }
    for (int k = 0; k < n->n_outputs; k++)
      if (n->outputs[k]) {
        c->outputs[k] = ir_tensor_new(g, mem_printf(g->mem, "%s.%s", grad->name,
                                                    n->outputs[k]->name));
        if (!map[n->outputs[k]->id]) /* a named tensor keeps its input */
          map[n->outputs[k]->id] = c->outputs[k];
      }
    if (c->op->infer(g, c) != NN_OK)
      return NULL;
  }
  return map[y->id] ? map[y->id] : y;
}

/* Ones shaped like y, filled at run time (no blob of ones for a large y). */
static ir_tensor *ones_like(ad_ctx *ad, const ir_tensor *y) {
  return ad_op(ad, "Expand", ad_scalar(ad, y->dtype, 1), ad_ints(ad, y->rank, y->dims));
}

/* Replaces Gradient node `grad` by its backward graph; `counter` keeps the
 * names of the tensors built unique across nodes. */
static nn_status expand(ir_graph *g, ir_node *grad, int *counter) {
  ir_tensor *y = ir_tensor_find(g, ir_attr_string(grad, "y", ""));
  if (y && y->dtype != IR_FLOAT && y->dtype != IR_DOUBLE)
    return diag_node(g->path, grad, "y ('%s') is %s: nncc differentiates float32 and float64 "
                     "tensors only", y->name, ir_dtype_name(y->dtype));
  char a[128], b[128];
  for (int k = 0; k < grad->n_inputs; k++) { /* the shape rule may have run before t's */
    const ir_tensor *t = named(g, grad, k), *in = grad->inputs[k];
    if (t && (t->dtype != in->dtype || strcmp(ir_shape_str(t, a, sizeof a),
                                              ir_shape_str(in, b, sizeof b)) != 0))
      return diag_node(g->path, grad, "input %d ('%s', %s%s) gives the value of '%s', which is "
                       "%s%s", k, in->name, ir_dtype_name(in->dtype), b, t->name,
                       ir_dtype_name(t->dtype), a);
  }
  if (y && !(y = at_inputs(g, grad, y, cone_of(g, y))))
    return NN_ERR;
  int n_fwd = g->n_nodes, nx = xs_count(grad);
  ad_ctx ad;
  ad_init(&ad, g, IR_PHASE_FORWARD);
  ad.counter = *counter;
  for (int k = 0; k < nx; k++)
    ad.needs[grad->inputs[k]->id] = true;
  ad_mark_dependents(&ad, n_fwd);
  if (y && ad.needs[y->id]) { /* else y was computed without xs (and may be folded away) */
    ad.cur = grad;
    ad.grad[y->id] = ones_like(&ad, y);
    const char *who = grad->name[0] ? mem_printf(g->mem, "the Gradient node '%s'", grad->name)
                                    : "a Gradient node";
    if (ad_backward(&ad, n_fwd, who, "") != NN_OK)
      return NN_ERR;
  }
  ad.cur = grad;
  for (int k = 0; k < grad->n_outputs; k++) {
    if (!grad->outputs[k])
      continue;
    ir_tensor *d = ad.grad[grad->inputs[k]->id];
    if (!d)
      d = ad_zeros(&ad, grad->inputs[k]);
    ir_node *copy = ad_begin(&ad, "", "Identity", 1, &d, 1);
    copy->outputs[0] = grad->outputs[k];
    ad_finish(&ad, copy);
  }
  grad->dead = true;
  *counter = ad.counter;
  return NN_OK;
}

/* A Gradient node whose y does not depend on another one's outputs: the
 * backward walk must not meet a Gradient node (second-order use expands
 * the inner one first). NULL when none is left. */
static ir_node *next_gradient(ir_graph *g, nn_status *st) {
  ir_node *first = NULL;
  for (int i = 0; i < g->n_nodes; i++) {
    ir_node *n = g->nodes[i];
    if (!is_gradient(n))
      continue;
    first = first ? first : n;
    ir_tensor *y = ir_tensor_find(g, ir_attr_string(n, "y", ""));
    bool *cone = y ? cone_of(g, y) : NULL;
    bool ready = true;
    for (int j = 0; cone && j < g->n_nodes; j++)
      ready &= !cone[j] || !is_gradient(g->nodes[j]);
    if (ready)
      return n;
  }
  if (first)
    *st = diag_node(g->path, first, "y ('%s') is computed from this node's outputs, or from "
                    "those of a Gradient node that depends on them: the gradient would depend "
                    "on itself", ir_attr_string(first, "y", ""));
  return NULL;
}

nn_status pass_gradient(ir_graph *g, bool for_export) {
  nn_status st = NN_OK;
  int counter = 0;
  for (ir_node *n; (n = next_gradient(g, &st));) {
    if (for_export)
      return diag_node(g->path, n, "nncc export cannot write a Gradient node: nncc computes it "
                       "with kernels of its own, outside ONNX; compile or run the model instead");
    if (expand(g, n, &counter) != NN_OK)
      return NN_ERR;
    ir_compact(g);
    if (ir_schedule(g) != NN_OK)
      return NN_ERR;
  }
  return st;
}
