/* Training: the forward graph becomes forward + loss + backward + gradient
 * accumulation + optimizer update, in one IR (docs/training.md). Backward
 * nodes come from each op's gradient rule (op_def.grad), called in reverse
 * schedule order; what they read of the forward graph stays alive because
 * the planner sees the reads. */
#include <string.h>

#include "autodiff_internal.h"
#include "ops.h"

static bool is_float(ir_dtype t) { return t == IR_FLOAT || t == IR_DOUBLE; }

static void make_state(ir_tensor *t, ir_state_role role) {
  t->kind = IR_STATE;
  t->role = role;
}

/* Whether some node reads t at a port that carries values (not a shape)
 * and knows its gradient. */
static bool read_by_differentiable_port(const ir_graph *g, const ir_tensor *t) {
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = g->nodes[i];
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] == t && n->op && n->op->grad &&
          !(k < 32 && (n->op->const_inputs & OP_CONST(k))))
        return true;
  }
  return false;
}

nn_status pass_mark_trainable(ir_graph *g) {
  for (int i = 0; i < g->n_tensors; i++) {
    ir_tensor *t = g->tensors[i];
    if (t->kind != IR_WEIGHT || !t->data || !is_float(t->dtype))
      continue;
    /* A scalar initializer in an ONNX graph is an exporter's constant
     * (an epsilon, an exponent), not a parameter. */
    if (g->learned_known ? t->learned : t->rank > 0 && read_by_differentiable_port(g, t))
      make_state(t, IR_ROLE_PARAM);
  }
  return NN_OK;
}

void ad_mark_dependents(ad_ctx *ad, int n_fwd) {
  for (int i = 0; i < n_fwd; i++) {
    const ir_node *n = ad->g->nodes[i];
    bool needs = false;
    for (int k = 0; k < n->n_inputs; k++)
      needs |= n->inputs[k] && ad->needs[n->inputs[k]->id];
    for (int k = 0; k < n->n_outputs; k++)
      if (n->outputs[k])
        ad->needs[n->outputs[k]->id] |= needs;
  }
}

static ir_node *producer(const ir_graph *g, int n_fwd, const ir_tensor *t) {
  for (int i = 0; i < n_fwd; i++)
    for (int k = 0; k < g->nodes[i]->n_outputs; k++)
      if (g->nodes[i]->outputs[k] == t)
        return g->nodes[i];
  return NULL;
}

static ir_tensor *new_input(ir_graph *g, const char *name, ir_dtype t, int rank,
                            const int64_t *dims) {
  ir_tensor *x = ir_tensor_new(g, name);
  ir_set_shape(x, t, rank, dims);
  x->kind = IR_INPUT;
  ir_tensor **in = mem_alloc(g->mem, sizeof *in * (size_t)(g->n_inputs + 1));
  if (g->n_inputs)
    memcpy(in, g->inputs, sizeof *in * (size_t)g->n_inputs);
  in[g->n_inputs++] = x;
  g->inputs = in;
  return x;
}

static void add_output(ir_graph *g, ir_tensor *t) {
  ir_tensor **out = mem_alloc(g->mem, sizeof *out * (size_t)(g->n_outputs + 1));
  memcpy(out, g->outputs, sizeof *out * (size_t)g->n_outputs);
  out[g->n_outputs++] = t;
  g->outputs = out;
  t->is_output = true;
}

static const char *const loss_names[] = {"mse", "mae", "bce", "ce", "nll", "hinge"};

/* Appends the loss node on the prediction and seeds the backward walk with
 * its gradient. CE on a Softmax output (or from logits) fuses the softmax
 * into the loss, BCE likewise the sigmoid: exact and cheaper. */
static nn_status append_loss(ad_ctx *ad, const ad_options *o, int n_fwd, ad_result *r) {
  ir_graph *g = ad->g;
  ir_tensor *pred = r->pred;
  const char *kind = loss_names[o->loss];
  ir_tensor *scores = pred;
  ir_node *p = producer(g, n_fwd, pred);
  bool classes = o->loss == AD_LOSS_CE || o->loss == AD_LOSS_NLL;
  /* The class axis: the softmax's, else 1 (PyTorch's [batch, classes, ...]).
   * Before opset 13 a softmax ran over the flattened trailing axes: only on
   * [batch, classes] is that one axis. */
  int axis = 1;
  bool softmax = p && p->domain[0] == '\0' && (p->opset >= 13 || pred->rank == 2) &&
                 (strcmp(p->op_type, "Softmax") == 0 || strcmp(p->op_type, "LogSoftmax") == 0);
  if (softmax) {
    int64_t a = ir_attr_int(p, "axis", p->opset >= 13 ? -1 : 1);
    axis = (int)(a < 0 ? a + pred->rank : a);
  }
  if (classes && (pred->rank < 2 || axis < 1))
    return diag_error(g->path, "the %s loss needs classes on an axis after the batch; output "
                      "'%s' is %s", kind, pred->name, pred->rank < 2 ? "rank 1" : "over axis 0");
  if (o->loss == AD_LOSS_CE && softmax && strcmp(p->op_type, "Softmax") == 0) {
    scores = p->inputs[0];
    kind = "ce_logits";
  } else if (o->loss == AD_LOSS_CE && o->from_logits) {
    kind = "ce_logits";
  } else if (o->loss == AD_LOSS_BCE) {
    bool sigmoid = p && strcmp(p->op_type, "Sigmoid") == 0 && p->domain[0] == '\0';
    if (sigmoid)
      scores = p->inputs[0];
    if (sigmoid || o->from_logits)
      kind = "bce_logits";
  }
  int64_t label_dims[IR_MAX_RANK];
  for (int d = 0, k = 0; d < pred->rank; d++)
    if (d != axis)
      label_dims[k++] = pred->dims[d];
  ir_tensor *label = classes ? new_input(g, "label", IR_INT64, pred->rank - 1, label_dims)
                             : new_input(g, "label", pred->dtype, pred->rank, pred->dims);
  ir_tensor *mask = new_input(g, "mask", pred->dtype, 1, pred->dims);
  ir_tensor *in[3] = {scores, label, mask};
  ir_node *b = ad_begin(ad, "nncc", "Loss", 3, in, 2);
  ad_attr_string(ad, b, "kind", kind);
  if (classes)
    ad_attr_int(ad, b, "axis", axis);
  r->loss = ad_finish(ad, b);
  r->loss->name = "loss";
  add_output(g, r->loss);
  r->label = label;
  r->mask = mask;
  ad->grad[scores->id] = b->outputs[1];
  return NN_OK;
}

/* Reverse schedule order over the forward nodes: each node some gradient
 * reaches, and that has an input needing one, runs its rule. */
nn_status ad_backward(ad_ctx *ad, int n_fwd, const char *who, const char *hint) {
  ir_graph *g = ad->g;
  nn_status st = NN_OK;
  for (int i = n_fwd - 1; i >= 0; i--) {
    const ir_node *n = g->nodes[i];
    bool has_grad = false, has_zero = false, wants = false;
    for (int k = 0; k < n->n_outputs; k++)
      if (n->outputs[k]) {
        has_grad |= ad->grad[n->outputs[k]->id] != NULL;
        has_zero |= ad->zero[n->outputs[k]->id];
      }
    for (int k = 0; k < n->n_inputs; k++)
      wants |= ad_needs_grad(ad, n, k);
    if (!wants || (!has_grad && !has_zero))
      continue;
    if (!has_grad) { /* only zeros reach it: they pass on as zeros */
      for (int k = 0; k < n->n_inputs; k++)
        ad_zero_grad(ad, n, k);
      continue;
    }
    if (!n->op->grad) {
      st = diag_node(g->path, n, "%s needs the gradient of %s, which nncc does not have yet%s",
                     who, n->op_type, hint);
      continue;
    }
    ad->cur = n;
    if (n->op->grad(ad, n) != NN_OK)
      st = NN_ERR;
  }
  ad->cur = NULL;
  return st;
}

/* A zeroed state tensor shaped like t. */
static ir_tensor *state_like(ir_graph *g, const ir_tensor *t, const char *suffix,
                             ir_state_role role) {
  ir_tensor *s = ir_tensor_new(g, mem_printf(g->mem, "%s.%s", t->name, suffix));
  ir_set_shape(s, t->dtype, t->rank, t->dims);
  make_state(s, role);
  return s;
}

static int moment_count(ad_opt_kind k) {
  switch (k) {
  case AD_OPT_SGD: return 0;
  case AD_OPT_ADAM: case AD_OPT_ADAMW: return 2;
  default: return 1;
  }
}

static const char *const opt_names[] = {"sgd", "momentum", "nesterov", "adagrad",
                                        "rmsprop", "adam", "adamw"};

static void set_terms(ad_ctx *ad, ir_node *b, const ad_options *o) {
  ad_attr_float(ad, b, "l1", o->l1);
  ad_attr_float(ad, b, "l2", o->l2);
  ad_attr_float(ad, b, "clip_value", o->clip_value);
}

/* Gradient state and accumulation for each param a gradient reaches; a
 * param none reaches is a constant again. Then the update nodes. */
static void append_update(ad_ctx *ad, const ad_options *o, ad_result *r) {
  ir_graph *g = ad->g;
  int n_params = 0;
  ir_tensor **params = mem_alloc(g->mem, sizeof *params * (size_t)(g->n_tensors + 1));
  ir_tensor **grads = mem_alloc(g->mem, sizeof *grads * (size_t)(g->n_tensors + 1));
  int n_tensors = g->n_tensors;
  for (int i = 0; i < n_tensors; i++) {
    ir_tensor *t = g->tensors[i];
    if (t->kind != IR_STATE || t->role != IR_ROLE_PARAM)
      continue;
    if (!ad->grad[t->id] && !ad->zero[t->id]) {
      t->kind = IR_WEIGHT; /* nothing it influences is trained */
      t->role = IR_ROLE_NONE;
      continue;
    }
    if (!ad->grad[t->id])
      diag_warn(g->path, "weight '%s' gets a zero gradient from the loss (a step function "
                "lies between them): only regularisation can change it", t->name);
    ir_tensor *gs = state_like(g, t, "grad", IR_ROLE_GRAD);
    if (ad->grad[t->id]) {
      ir_tensor *in[2] = {gs, ad->grad[t->id]};
      ad_finish(ad, ad_begin(ad, "nncc", "Accumulate", 2, in, 0));
    }
    params[n_params] = t;
    grads[n_params++] = gs;
  }

  ad->phase = IR_PHASE_UPDATE;
  r->lr = new_input(g, "lr", IR_FLOAT, 0, NULL);
  r->step = new_input(g, "step", IR_INT64, 0, NULL);
  r->scale = new_input(g, "scale", IR_FLOAT, 0, NULL);
  ir_tensor *coef = NULL;
  if (o->clip_norm > 0 && n_params) {
    ir_tensor **in = mem_alloc(g->mem, sizeof *in * (size_t)(2 * n_params + 1));
    in[0] = r->scale;
    for (int p = 0; p < n_params; p++) {
      in[1 + 2 * p] = params[p];
      in[2 + 2 * p] = grads[p];
    }
    ir_node *b = ad_begin(ad, "nncc", "ClipFactor", 2 * n_params + 1, in, 1);
    set_terms(ad, b, o);
    ad_attr_float(ad, b, "clip_norm", o->clip_norm);
    coef = ad_finish(ad, b);
  }
  ad_opt_kind kind = o->optimizer == AD_OPT_SGD && o->momentum > 0 ? AD_OPT_MOMENTUM : o->optimizer;
  for (int p = 0; p < n_params; p++) {
    ir_tensor *m1 = moment_count(kind) > 0 ? state_like(g, params[p], "m1", IR_ROLE_OPTIMIZER) : NULL;
    ir_tensor *m2 = moment_count(kind) > 1 ? state_like(g, params[p], "m2", IR_ROLE_OPTIMIZER) : NULL;
    ir_tensor *in[8] = {params[p], grads[p], r->lr, r->step, r->scale, m1, m2, coef};
    ir_node *b = ad_begin(ad, "nncc", "Optimize", 8, in, 0);
    b->name = mem_printf(g->mem, "%s.update", params[p]->name);
    ad_attr_string(ad, b, "kind", opt_names[kind]);
    ad_attr_float(ad, b, "momentum", o->momentum);
    ad_attr_float(ad, b, "beta1", o->beta1);
    ad_attr_float(ad, b, "beta2", o->beta2);
    ad_attr_float(ad, b, "rho", o->rho);
    ad_attr_float(ad, b, "epsilon", o->epsilon);
    ad_attr_float(ad, b, "weight_decay", o->weight_decay);
    set_terms(ad, b, o);
    ad_finish(ad, b);
  }
}

static ir_tensor *find_pred(ir_graph *g, const ad_options *o) {
  if (!o->output && g->n_outputs == 1)
    return g->outputs[0];
  if (!o->output) {
    diag_error(g->path, "the model has %d outputs: say which one the loss applies to",
               g->n_outputs);
    return NULL;
  }
  for (int i = 0; i < g->n_outputs; i++)
    if (strcmp(g->outputs[i]->name, o->output) == 0)
      return g->outputs[i];
  diag_error(g->path, "the loss applies to '%s', which is not an output of the model", o->output);
  return NULL;
}

nn_status pass_autodiff(ir_graph *g, const ad_options *o, ad_result *r) {
  memset(r, 0, sizeof *r);
  r->pred = find_pred(g, o);
  if (!r->pred)
    return NN_ERR;
  if (!is_float(r->pred->dtype) || r->pred->rank < 1)
    return diag_error(g->path, "the loss needs a float output with a batch dimension; '%s' "
                      "is not", r->pred->name);
  r->batch = r->pred->dims[0];
  int n_fwd = g->n_nodes;
  ad_ctx ad;
  ad_init(&ad, g, IR_PHASE_BACKWARD);
  for (int k = 0; k < o->n_untrained; k++) {
    int matched = 0;
    for (int i = 0; i < g->n_tensors; i++) {
      ir_tensor *t = g->tensors[i];
      if (t->kind == IR_STATE && t->role == IR_ROLE_PARAM &&
          strncmp(t->name, o->untrained[k], strlen(o->untrained[k])) == 0) {
        t->role = IR_ROLE_BUFFER;
        matched++;
      }
    }
    if (!matched)
      diag_warn(g->path, "--no-train %s: no learned weight's name starts with it",
                o->untrained[k]);
  }
  for (int i = 0; i < g->n_tensors; i++)
    if (g->tensors[i]->kind == IR_STATE && g->tensors[i]->role == IR_ROLE_PARAM)
      ad.needs[g->tensors[i]->id] = true;
  for (int i = 0; i < n_fwd; i++)
    if (!(g->nodes[i]->op->flags & OP_UPDATES_STATE)) /* state writers keep train-forward's phase */
      g->nodes[i]->phase = IR_PHASE_FORWARD;
  ad_mark_dependents(&ad, n_fwd);
  if (!ad.needs[r->pred->id])
    return diag_error(g->path, "output '%s' depends on no learned weight: nothing to train",
                      r->pred->name);
  if (append_loss(&ad, o, n_fwd, r) != NN_OK ||
      ad_backward(&ad, n_fwd, "training",
                  "; --no-train NAME keeps the weights before it out of training") != NN_OK)
    return NN_ERR;
  append_update(&ad, o, r);
  return NN_OK;
}
