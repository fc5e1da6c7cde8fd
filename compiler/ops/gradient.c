/* ONNX's Gradient operator (domain ai.onnx.preview.training): output i is
 * the gradient of the tensor named by `y` with respect to the tensor named
 * by xs[i], at the values the node's inputs give to xs then zs. Its shape
 * rule only checks the node; pass_gradient.c replaces it with the backward
 * graph, built by training's gradient rules, so it has no emitter. */
#include "common.h"

/* The strings attribute `name` (absent: none); -1 after reporting. */
static int names_attr(ir_graph *g, const ir_node *n, const char *name, char ***out) {
  const ir_attr *a = ir_attr_find(n, name);
  *out = NULL;
  if (!a)
    return 0;
  if (a->type != IR_ATTR_STRINGS) {
    diag_node(g->path, n, "attribute '%s' must be a list of tensor names", name);
    return -1;
  }
  *out = a->strings;
  return a->n;
}

/* The graph tensor an attribute names, or NULL after reporting. */
static const ir_tensor *named(ir_graph *g, const ir_node *n, const char *attr, const char *name) {
  const ir_tensor *t = ir_tensor_find(g, name);
  if (!t)
    diag_node(g->path, n, "%s names '%s', which is not a tensor of the graph", attr, name);
  return t;
}

static bool same_shape(const ir_tensor *a, const ir_tensor *b) {
  return a->dtype == b->dtype && a->rank == b->rank &&
         memcmp(a->dims, b->dims, sizeof *a->dims * (size_t)a->rank) == 0;
}

static nn_status infer_gradient(ir_graph *g, ir_node *n) {
  char **xs, **zs;
  int nx = names_attr(g, n, "xs", &xs), nz = names_attr(g, n, "zs", &zs);
  const char *y = ir_attr_string(n, "y", "");
  if (nx < 0 || nz < 0)
    return NN_ERR;
  if (nx == 0 || !y[0])
    return diag_node(g->path, n, "needs attributes 'xs' (the tensors to differentiate by) and "
                     "'y' (the tensor to differentiate)");
  if (n->n_inputs != nx + nz)
    return diag_node(g->path, n, "has %d inputs: want one per name in xs and zs (%d)",
                     n->n_inputs, nx + nz);
  if (n->n_outputs > nx)
    return diag_node(g->path, n, "has %d outputs: want at most one per name in xs (%d)",
                     n->n_outputs, nx);
  if (!named(g, n, "y", y))
    return NN_ERR;
  nn_status st = NN_OK;
  char a[128], b[128];
  for (int k = 0; k < nx + nz; k++) {
    const ir_tensor *in = n->inputs[k], *t = named(g, n, k < nx ? "xs" : "zs",
                                                   k < nx ? xs[k] : zs[k - nx]);
    if (!t) {
      st = NN_ERR;
    } else if (!in) {
      st = diag_node(g->path, n, "input %d (the value of '%s') is missing", k, t->name);
    } else if (k < nx && in->dtype != IR_FLOAT && in->dtype != IR_DOUBLE) {
      st = diag_node(g->path, n, "input %d ('%s') is %s: nncc differentiates float32 and "
                     "float64 tensors only", k, in->name, ir_dtype_name(in->dtype));
    } else if (t->shaped && !same_shape(in, t)) {
      st = diag_node(g->path, n, "input %d ('%s', %s%s) gives the value of '%s', which is %s%s",
                     k, in->name, ir_dtype_name(in->dtype), ir_shape_str(in, a, sizeof a),
                     t->name, ir_dtype_name(t->dtype), ir_shape_str(t, b, sizeof b));
    }
  }
  if (st != NN_OK)
    return st;
  for (int k = 0; k < n->n_outputs; k++)
    if (n->outputs[k])
      ir_set_shape(n->outputs[k], n->inputs[k]->dtype, n->inputs[k]->rank, n->inputs[k]->dims);
  return NN_OK;
}

const op_def op_family_gradient[] = {
    {"Gradient", "ai.onnx.preview.training", infer_gradient, NULL, NULL, 0},
    {NULL},
};
