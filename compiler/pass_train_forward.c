/* Training's forward pass differs from inference for a few ops; before the
 * trained weights are marked, their nodes take their training form:
 * - BatchNormalization normalizes by batch statistics (nncc.BatchNormTrain,
 *   which also gives the mean and inverse deviation its gradient reads), and
 *   nncc.BatchNormStatsUpdate folds those into the running statistics, which
 *   become training state (role buffer);
 * - Dropout with a non-zero ratio drops at random (nncc.DropoutTrain, its
 *   mask seeded by the node's `seed` or name and by a state counter that
 *   nncc.StateIncrement advances in the update phase);
 * - LayerNormalization gets its Mean and InvStdDev outputs, which its
 *   gradient reads.
 * After autodiff, pass_train_mask gives batch normalization (forward and
 * backward) the batch's sample mask, so a short batch's padding takes no
 * part in the statistics.
 * The training forms also read TRAIN_FLAG_NAME: 0 (from _predict) gives the
 * inference behaviour, normalizing by the running statistics and dropping
 * nothing. Runs after resolve-ops (the nodes it makes get their registry
 * rows here) and before inference, so shapes come from the usual rules. */
#include <string.h>

#include "autodiff.h"
#include "ops.h"
#include "passes.h"

static ir_tensor **grow_outputs(ir_graph *g, ir_node *n, int count) {
  ir_tensor **out = mem_alloc(g->mem, sizeof *out * (size_t)(count + 1));
  for (int k = 0; k < count; k++)
    out[k] = k < n->n_outputs && n->outputs[k] ? n->outputs[k]
             : ir_tensor_new(g, mem_printf(g->mem, "%s.%s%d", n->name, "stat", k));
  n->outputs = out;
  n->n_outputs = count;
  return out;
}

/* n becomes the internal op `op` (its registry row attached). */
static void become(ir_graph *g, ir_node *n, const char *op) {
  n->op_type = mem_strdup(g->mem, op);
  n->domain = "nncc";
  n->opset = 1;
  n->op = op_find("nncc", op);
  NN_ASSERT(n->op);
}

static void add_float_attr(ir_graph *g, ir_node *n, const char *name, double v) {
  ir_attr *attrs = mem_alloc(g->mem, sizeof *attrs * (size_t)(n->n_attrs + 1));
  if (n->n_attrs)
    memcpy(attrs, n->attrs, sizeof *attrs * (size_t)n->n_attrs);
  attrs[n->n_attrs++] = (ir_attr){.name = mem_strdup(g->mem, name), .type = IR_ATTR_FLOAT, .f = v};
  n->attrs = attrs;
}

/* The graph's one training flag, made on first use. */
static ir_tensor *train_flag(ir_graph *g) {
  ir_tensor *t = ir_tensor_find(g, TRAIN_FLAG_NAME);
  if (t)
    return t;
  t = ir_tensor_new(g, TRAIN_FLAG_NAME);
  ir_set_shape(t, IR_BOOL, 0, NULL);
  *(uint8_t *)ir_make_weight(g, t) = 1;
  return t;
}

/* n's inputs: the first `keep` of its own, then the listed extra ones. */
static void set_inputs(ir_graph *g, ir_node *n, int keep, int n_extra, ir_tensor *const *extra) {
  ir_tensor **in = mem_alloc(g->mem, sizeof *in * (size_t)(keep + n_extra + 1));
  for (int k = 0; k < keep; k++)
    in[k] = n->inputs[k];
  for (int k = 0; k < n_extra; k++)
    in[keep + k] = extra[k];
  n->inputs = in;
  n->n_inputs = keep + n_extra;
}

/* Whether a node reads t or it is a graph output. */
static bool tensor_read(const ir_graph *g, const ir_tensor *t) {
  if (t->is_output)
    return true;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i]->n_inputs; k++)
      if (g->nodes[i]->inputs[k] == t)
        return true;
  return false;
}

static nn_status batchnorm(ir_graph *g, ir_node *n) {
  if (n->n_inputs != 5 || !n->inputs[3] || !n->inputs[4])
    return NN_OK; /* inference checks report it */
  if (n->opset < 9 && ir_attr_int(n, "spatial", 1) == 0)
    return diag_node(g->path, n, "training with per-element statistics (spatial=0) is not "
                     "supported");
  ir_tensor *rm = n->inputs[3], *rv = n->inputs[4];
  for (int k = 3; k < 5; k++) {
    ir_tensor *t = n->inputs[k];
    if (t->kind != IR_WEIGHT && t->kind != IR_STATE)
      return diag_node(g->path, n, "input %d, a running statistic, must be an initializer to "
                       "train", k);
    t->kind = IR_STATE;
    t->role = IR_ROLE_BUFFER;
  }
  /* training_mode=1 models (PyTorch's training export) name the updated
   * running statistics as outputs 1 and 2, usually read by nothing: dropped */
  for (int k = 1; k < n->n_outputs; k++)
    if (n->outputs[k] && tensor_read(g, n->outputs[k]))
      return diag_node(g->path, n, "output %d (the updated running %s) is read by the graph; "
                       "training keeps the running statistics as state and does not support "
                       "reading them", k, k == 1 ? "mean" : "variance");
    else
      n->outputs[k] = NULL;
  /* after every forward node, so _grad runs it in schedule order; a
   * backward-phase node, so _predict leaves the statistics alone */
  ir_node *u = ir_node_new(g, "BatchNormStatsUpdate", 4, 0);
  u->name = mem_printf(g->mem, "%s.stats_update", n->name);
  u->phase = IR_PHASE_BACKWARD;
  add_float_attr(g, u, "momentum", ir_attr_float(n, "momentum", 0.9));
  add_float_attr(g, u, "epsilon", ir_attr_float(n, "epsilon", 1e-5));
  become(g, n, "BatchNormTrain");
  ir_tensor *extra[3] = {rm, rv, train_flag(g)};
  set_inputs(g, n, 3, 3, extra);
  ir_tensor **out = grow_outputs(g, n, 3);
  u->inputs[0] = rm;
  u->inputs[1] = rv;
  u->inputs[2] = out[1];
  u->inputs[3] = out[2];
  become(g, u, "BatchNormStatsUpdate");
  return NN_OK;
}

/* FNV-1a: a node's own mask stream when it names no seed. */
static int64_t name_seed(const char *s) {
  uint64_t h = 1469598103934665603u;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211u;
  return (int64_t)(h >> 1);
}

static nn_status dropout(ir_graph *g, ir_node *n) {
  const ir_tensor *r = ir_in(n, 1); /* training_mode is ignored: training drops */
  double ratio = n->opset < 12 ? ir_attr_float(n, "ratio", 0.5) : 0.5;
  if (r && r->kind != IR_WEIGHT)
    return diag_node(g->path, n, "input 1 'ratio' must be an initializer to train");
  if (r && ir_numel(r) == 1)
    ratio = ir_weight_float(r, 0);
  if (ratio == 0)
    return NN_OK; /* the identity, in training too */
  if (n->opset < 10 && ir_out(n, 1))
    return diag_node(g->path, n, "training with the mask output of Dropout-%d (of X's type) is "
                     "not supported", n->opset);
  ir_tensor *step = ir_tensor_new(g, mem_printf(g->mem, "%s.step", n->name));
  ir_set_shape(step, IR_INT64, 0, NULL);
  step->kind = IR_STATE;
  step->role = IR_ROLE_BUFFER;
  int64_t seed = ir_attr_find(n, "seed") ? ir_attr_int(n, "seed", 0) : name_seed(n->name);
  ir_node *inc = ir_node_new(g, "StateIncrement", 1, 0); /* a new mask per optimizer step */
  inc->name = mem_printf(g->mem, "%s.next_step", n->name);
  inc->inputs[0] = step;
  inc->phase = IR_PHASE_UPDATE;
  become(g, inc, "StateIncrement");
  become(g, n, "DropoutTrain");
  ir_tensor *extra[2] = {step, train_flag(g)};
  set_inputs(g, n, 1, 2, extra);
  grow_outputs(g, n, 2);
  n->n_attrs = 0; /* ratio and seed, resolved, are all DropoutTrain reads */
  add_float_attr(g, n, "ratio", ratio);
  ir_node_set_int_attr(g, n, "seed", seed);
  return NN_OK;
}

nn_status pass_train_forward(ir_graph *g) {
  nn_status st = NN_OK;
  int n_fwd = g->n_nodes; /* the nodes added go behind these */
  for (int i = 0; i < n_fwd; i++) {
    ir_node *n = g->nodes[i];
    if (n->domain[0] || !n->op)
      continue;
    if (strcmp(n->op_type, "BatchNormalization") == 0) {
      if (batchnorm(g, n))
        st = NN_ERR;
    } else if (strcmp(n->op_type, "Dropout") == 0) {
      if (dropout(g, n))
        st = NN_ERR;
    } else if (strcmp(n->op_type, "LayerNormalization") == 0) {
      grow_outputs(g, n, 3);
    }
  }
  return st;
}

nn_status pass_train_mask(ir_graph *g, const ad_result *r) {
  for (int i = 0; r->mask && i < g->n_nodes; i++) {
    ir_node *n = g->nodes[i];
    bool train = strcmp(n->op_type, "BatchNormTrain") == 0 && n->n_inputs == 6;
    bool grad = strcmp(n->op_type, "BatchNormGrad") == 0 && n->n_inputs == 5;
    if (strcmp(n->domain, "nncc") == 0 && (train || grad)) {
      ir_tensor *mask = r->mask;
      set_inputs(g, n, n->n_inputs, 1, &mask);
    }
  }
  return NN_OK;
}
