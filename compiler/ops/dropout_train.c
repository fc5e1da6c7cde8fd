/* Dropout in training, with a counter-based random mask: element i of a
 * call at step s is kept when hash(seed, s, i) clears the ratio, so a mask
 * depends only on (seed, step, i): reproducible, and free of RNG state
 * beyond the step.
 *
 *   nncc::DropoutTrain(X, step[, training]) -> (Y, mask)
 *       Y = X * mask / (1 - ratio); a false `training` flag (bool scalar)
 *       drops nothing, as inference
 *       step: an int64 scalar (the train-forward pass gives each node a state
 *       counter that nncc::StateIncrement advances once per optimizer step,
 *       so the gradient of one step is one function of the weights)
 *   nncc::DropoutGrad(dY, mask) -> dX          dX = dY * mask / (1 - ratio)
 *   nncc::StateIncrement(counter)              counter += 1, in place
 *
 * Attributes: ratio (default 0.5), seed (DropoutTrain, default 0). */
#include <math.h>

#include "common.h"
#include "grad_rules.h"

/* SplitMix64's finalizer: every input bit flips about half the output bits. */
#define MIX(v)                                                                                     \
  "%s ^= %s >> 30; %s *= 0xBF58476D1CE4E5B9u; %s ^= %s >> 27; %s *= 0x94D049BB133111EBu; "         \
  "%s ^= %s >> 31;", v, v, v, v, v, v, v, v
#define GOLDEN "0x9E3779B97F4A7C15u"

static nn_status check_ratio(ir_graph *g, const ir_node *n) {
  double r = ir_attr_float(n, "ratio", 0.5);
  if (!(r >= 0 && r < 1))
    return diag_node(g->path, n, "ratio %g is outside [0, 1)", r);
  return NN_OK;
}

static nn_status infer_dropout_train(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 3) || check_float(g, n, 0) || check_ratio(g, n))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0], *step = ir_in(n, 1), *flag = ir_in(n, 2);
  if (step && (step->dtype != IR_INT64 || ir_numel(step) != 1))
    return diag_node(g->path, n, "input 1 'step' must be one int64");
  if (flag && (flag->dtype != IR_BOOL || ir_numel(flag) != 1))
    return diag_node(g->path, n, "input 2 'training' must be one bool");
  ir_set_shape(n->outputs[0], x->dtype, x->rank, x->dims);
  if (ir_out(n, 1))
    ir_set_shape(n->outputs[1], IR_BOOL, x->rank, x->dims);
  return NN_OK;
}

static const char *keep_scale(emit_ctx *e, const ir_node *n, ir_dtype t) {
  return emit_literal(e, t, 1 / (1 - ir_attr_float(n, "ratio", 0.5)));
}

static void emit_dropout_train(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *step = ir_in(n, 1);
  int64_t count = ir_numel(x);
  if (count == 0)
    return;
  double ratio = ir_attr_float(n, "ratio", 0.5);
  uint64_t seed = (uint64_t)ir_attr_int(n, "seed", 0);
  /* keep when the top 24 bits of the hash reach ratio * 2^24 */
  long long thr = llround(ratio * 16777216.0);
  if (ir_in(n, 2)) { /* not training: the identity */
    emit_open(e, "if (!in2[0])");
    emit_line(e, "memcpy(out0, in0, %zu);", ir_bytes(x));
    if (ir_out(n, 1))
      emit_line(e, "memset(out1, 1, %lld);", (long long)count);
    emit_line(e, "return;");
    emit_close(e);
  }
  emit_line(e, "uint64_t key = 0x%016llxu * " GOLDEN " + (uint64_t)%s;", (unsigned long long)seed,
            step ? "in1[0]" : "0");
  emit_line(e, MIX("key"));
  emit_parallel_for(e, "i", count, 12);
  emit_line(e, "uint64_t z = key + (uint64_t)(i + 1) * " GOLDEN ";");
  emit_line(e, MIX("z"));
  emit_line(e, "const int keep = (z >> 40) >= %lldu;", thr);
  if (ir_out(n, 1))
    emit_line(e, "out1[i] = (uint8_t)keep;");
  emit_line(e, "out0[i] = keep ? in0[i] * %s : 0;", keep_scale(e, n, x->dtype));
  emit_close(e);
}

static nn_status infer_dropout_grad(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2) || check_float(g, n, 0) || check_ratio(g, n))
    return NN_ERR;
  const ir_tensor *dy = n->inputs[0], *mask = n->inputs[1];
  if (!mask || mask->dtype != IR_BOOL || ir_numel(mask) != ir_numel(dy))
    return diag_node(g->path, n, "input 1 'mask' must be a bool tensor of dY's size");
  return infer_same_as_input(g, n);
}

static void emit_dropout_grad(emit_ctx *e, const ir_node *n) {
  const ir_tensor *dy = n->inputs[0];
  if (ir_numel(dy) == 0)
    return;
  emit_parallel_for(e, "i", ir_numel(dy), 2);
  emit_line(e, "out0[i] = in1[i] ? in0[i] * %s : 0;", keep_scale(e, n, dy->dtype));
  emit_close(e);
}

static nn_status infer_state_increment(ir_graph *g, ir_node *n) {
  const ir_tensor *t = n->n_inputs == 1 ? n->inputs[0] : NULL;
  if (!t || n->n_outputs != 0 || t->dtype != IR_INT64 || ir_numel(t) != 1 || t->kind != IR_STATE)
    return diag_node(g->path, n, "expects one int64 state scalar and no output");
  return NN_OK;
}

static void emit_state_increment(emit_ctx *e, const ir_node *n) {
  (void)n;
  emit_line(e, "in0[0] += 1;");
}

/* ---- gradient rules ---- */

/* DropoutTrain: DropoutGrad through the mask it drew. */
static nn_status grad_dropout_train(ad_ctx *ad, const ir_node *n) {
  ir_tensor *dy = ad_out_grad(ad, n, 0);
  if (!dy || !ad_needs_grad(ad, n, 0) || !ir_out(n, 1))
    return NN_OK;
  ir_tensor *in[2] = {dy, n->outputs[1]};
  ir_node *b = ad_begin(ad, "nncc", "DropoutGrad", 2, in, 1);
  ad_attr_float(ad, b, "ratio", ir_attr_float(n, "ratio", 0.5));
  ad_give_grad(ad, n, 0, ad_finish(ad, b));
  return NN_OK;
}

/* Dropout left as the identity (ratio 0): the gradient passes through. */
nn_status grad_dropout(ad_ctx *ad, const ir_node *n) {
  ad_give_grad(ad, n, 0, ad_out_grad(ad, n, 0));
  return NN_OK;
}

const op_def op_family_dropout_train[] = {
    {"DropoutTrain", "nncc", infer_dropout_train, NULL, emit_dropout_train, 0,
     .grad = grad_dropout_train},
    {"StateIncrement", "nncc", infer_state_increment, NULL, emit_state_increment,
     OP_UPDATES_STATE},
    {"DropoutGrad", "nncc", infer_dropout_grad, NULL, emit_dropout_grad, 0},
    {NULL},
};
