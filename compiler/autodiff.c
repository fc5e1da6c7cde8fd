/* The helpers gradient rules build the backward graph with (autodiff.h). */
#include <string.h>

#include "autodiff_internal.h"
#include "ops.h"

ir_graph *ad_graph(ad_ctx *ad) { return ad->g; }

void ad_init(ad_ctx *ad, ir_graph *g, ir_phase phase) {
  size_t ids = (size_t)g->next_id + 1;
  *ad = (ad_ctx){.g = g, .n_fwd_ids = g->next_id, .phase = phase};
  ad->grad = mem_alloc(g->mem, sizeof *ad->grad * ids);
  ad->zero = mem_alloc(g->mem, sizeof *ad->zero * ids);
  ad->needs = mem_alloc(g->mem, sizeof *ad->needs * ids);
}

static bool forward_id(const ad_ctx *ad, const ir_tensor *t) {
  return t && t->id < ad->n_fwd_ids;
}

ir_tensor *ad_out_grad(ad_ctx *ad, const ir_node *n, int k) {
  ir_tensor *t = ir_out(n, k);
  return forward_id(ad, t) ? ad->grad[t->id] : NULL;
}

bool ad_needs_grad(ad_ctx *ad, const ir_node *n, int k) {
  ir_tensor *t = ir_in(n, k);
  return forward_id(ad, t) && ad->needs[t->id];
}

void ad_give_grad(ad_ctx *ad, const ir_node *n, int k, ir_tensor *g) {
  ir_tensor *t = ir_in(n, k);
  if (!forward_id(ad, t) || !ad->needs[t->id] || !g)
    return;
  char a[128], b[128];
  if (g->dtype != t->dtype || g->rank != t->rank ||
      memcmp(g->dims, t->dims, sizeof *t->dims * (size_t)t->rank) != 0)
    NN_BUG(mem_printf(ad->g->mem, "gradient rule of '%s' (%s): input %d is %s%s but its "
                      "gradient is %s%s", n->name, n->op_type, k, ir_dtype_name(t->dtype),
                      ir_shape_str(t, a, sizeof a), ir_dtype_name(g->dtype),
                      ir_shape_str(g, b, sizeof b)));
  ir_tensor *old = ad->grad[t->id];
  ad->grad[t->id] = old ? ad_op(ad, "Add", old, g) : g;
}

void ad_zero_grad(ad_ctx *ad, const ir_node *n, int k) {
  ir_tensor *t = ir_in(n, k);
  if (forward_id(ad, t))
    ad->zero[t->id] = true;
}

ir_tensor *ad_tensor(ad_ctx *ad, const char *what) {
  const char *base = ad->cur && ad->cur->name[0] ? ad->cur->name : "train";
  return ir_tensor_new(ad->g, mem_printf(ad->g->mem, "%s.%s%d", base, what, ad->counter++));
}

ir_node *ad_begin(ad_ctx *ad, const char *domain, const char *op, int n_in, ir_tensor *const *in,
                  int n_out) {
  ir_graph *g = ad->g;
  ir_node *b = ir_node_new(g, op, n_in, n_out);
  b->domain = mem_strdup(g->mem, domain);
  b->opset = strcmp(domain, "nncc") == 0 ? 1 : 17;
  b->op = op_find(domain, op);
  if (!b->op)
    NN_BUG(mem_printf(g->mem, "autodiff: no registry row for %s%s%s", domain,
                      domain[0] ? "." : "", op));
  b->phase = ad->phase;
  b->name = mem_printf(g->mem, "%s.%s", ad->cur && ad->cur->name[0] ? ad->cur->name : "train",
                       op);
  for (int k = 0; k < n_in; k++)
    b->inputs[k] = in[k];
  for (int k = 0; k < n_out; k++)
    b->outputs[k] = ad_tensor(ad, op);
  return b;
}

static ir_attr *new_attr(ad_ctx *ad, ir_node *b, const char *name, ir_attr_type type) {
  ir_attr *attrs = mem_alloc(ad->g->mem, sizeof *attrs * (size_t)(b->n_attrs + 1));
  if (b->n_attrs)
    memcpy(attrs, b->attrs, sizeof *attrs * (size_t)b->n_attrs);
  b->attrs = attrs;
  ir_attr *a = &attrs[b->n_attrs++];
  a->name = mem_strdup(ad->g->mem, name);
  a->type = type;
  return a;
}

void ad_attr_int(ad_ctx *ad, ir_node *b, const char *name, int64_t v) {
  new_attr(ad, b, name, IR_ATTR_INT)->i = v;
}

void ad_attr_float(ad_ctx *ad, ir_node *b, const char *name, double v) {
  new_attr(ad, b, name, IR_ATTR_FLOAT)->f = v;
}

void ad_attr_string(ad_ctx *ad, ir_node *b, const char *name, const char *v) {
  new_attr(ad, b, name, IR_ATTR_STRING)->s = mem_strdup(ad->g->mem, v);
}

void ad_attr_ints(ad_ctx *ad, ir_node *b, const char *name, int n, const int64_t *v) {
  ir_attr *a = new_attr(ad, b, name, IR_ATTR_INTS);
  a->n = n;
  a->ints = mem_alloc(ad->g->mem, sizeof *a->ints * (size_t)(n + 1));
  if (n)
    memcpy(a->ints, v, sizeof *v * (size_t)n);
}

ir_tensor *ad_finish(ad_ctx *ad, ir_node *b) {
  /* Rules build well-formed nodes: a shape error here is a bug in a rule
   * (the shape rule's own message, printed first, shows the shapes). */
  if (b->op->infer(ad->g, b) != NN_OK)
    NN_BUG(mem_printf(ad->g->mem, "autodiff: the gradient of '%s' built an ill-formed %s node",
                      ad->cur ? ad->cur->name : "", b->op_type));
  return b->outputs[0];
}

ir_tensor *ad_op(ad_ctx *ad, const char *op, ir_tensor *a, ir_tensor *b) {
  ir_tensor *in[2] = {a, b};
  return ad_finish(ad, ad_begin(ad, "", op, b ? 2 : 1, in, 1));
}

ir_tensor *ad_reduce_to(ad_ctx *ad, ir_tensor *g, const ir_tensor *like) {
  if (g->rank == like->rank &&
      memcmp(g->dims, like->dims, sizeof *g->dims * (size_t)g->rank) == 0)
    return g;
  ir_node *b = ad_begin(ad, "nncc", "ReduceToShape", 1, &g, 1);
  ad_attr_ints(ad, b, "shape", like->rank, like->dims);
  return ad_finish(ad, b);
}

ir_tensor *ad_ints(ad_ctx *ad, int n, const int64_t *v) {
  ir_tensor *t = ad_tensor(ad, "const");
  int64_t dims[1] = {n};
  ir_set_shape(t, IR_INT64, 1, dims);
  ir_make_weight(ad->g, t);
  if (n)
    memcpy(t->data, v, sizeof *v * (size_t)n);
  return t;
}

ir_tensor *ad_zeros(ad_ctx *ad, const ir_tensor *like) {
  ir_tensor *t = ad_tensor(ad, "zeros");
  ir_set_shape(t, like->dtype, like->rank, like->dims);
  ir_make_weight(ad->g, t);
  return t;
}

ir_tensor *ad_reshape_to(ad_ctx *ad, ir_tensor *g, const ir_tensor *like) {
  if (g->rank == like->rank &&
      memcmp(g->dims, like->dims, sizeof *g->dims * (size_t)g->rank) == 0)
    return g;
  return ad_op(ad, "Reshape", g, ad_ints(ad, like->rank, like->dims));
}

ir_tensor *ad_scalar(ad_ctx *ad, ir_dtype t, double v) {
  ir_tensor *s = ad_tensor(ad, "const");
  ir_set_shape(s, t, 0, NULL);
  ir_make_weight(ad->g, s);
  if (t == IR_DOUBLE)
    *(double *)s->data = v;
  else if (t == IR_FLOAT)
    *(float *)s->data = (float)v;
  else
    NN_BUG("ad_scalar: not a float dtype");
  return s;
}

ir_tensor *ad_activation_grad(ad_ctx *ad, const ir_node *n, const char *kind, ir_tensor *dy,
                              ir_tensor *x, ir_tensor *y) {
  ir_tensor *in[3] = {dy, x, y};
  ir_node *b = ad_begin(ad, "nncc", "ActivationGrad", 3, in, 1);
  ad_attr_string(ad, b, "kind", kind);
  static const char *const copied[] = {"alpha", "beta", "gamma"};
  for (size_t i = 0; i < sizeof copied / sizeof *copied; i++) {
    const ir_attr *a = ir_attr_find(n, copied[i]);
    if (a && a->type == IR_ATTR_FLOAT)
      ad_attr_float(ad, b, copied[i], a->f);
  }
  return ad_finish(ad, b);
}
