/* The whole middle of nncc, top to bottom. A newcomer starts reading here. */
#include <string.h>

#include "autodiff.h"
#include "passes.h"

static nn_status after(ir_graph *g, const pipeline_options *o, const char *pass, nn_status st) {
  if (st != NN_OK || diag_error_count() > 0)
    return NN_ERR;
  ir_verify(g, pass);
  if (o->dump_after && (strcmp(o->dump_after, pass) == 0 || strcmp(o->dump_after, "all") == 0)) {
    fprintf(stderr, "; IR after %s\n", pass);
    ir_print(g, stderr);
  }
  return NN_OK;
}

nn_status pipeline_run(ir_graph *g, const pipeline_options *o) {
  bool opt = o->opt_level > 0;
  if (after(g, o, "bind-shapes", pass_bind_shapes(g, o->shapes, o->n_shapes)) ||
      after(g, o, "resolve-ops", pass_resolve_ops(g)) ||
      (o->train && after(g, o, "train-forward", pass_train_forward(g))) ||
      ((o->train || o->keep_trainable) && after(g, o, "mark-trainable", pass_mark_trainable(g))) ||
      after(g, o, "gradient-pin", pass_gradient_pin(g)) || /* what Gradient nodes differentiate */
      after(g, o, "infer", pass_infer(g)) || /* shapes, with constant folding */
      after(g, o, "gradient", pass_gradient(g, o->onnx_level)) || /* Gradient nodes expanded */
      (o->train && after(g, o, "autodiff", pass_autodiff(g, o->train, o->train_result))) ||
      (o->train && after(g, o, "train-mask", pass_train_mask(g, o->train_result))) ||
      (opt && after(g, o, "dce", pass_dce(g))) ||
      (o->train && after(g, o, "plan-state", pass_plan_state(g))))
    return NN_ERR;
  /* Up to here every pass keeps standard ONNX nodes, which `nncc export`
   * writes out; passes that only serve code generation go below. */
  if (o->onnx_level)
    return NN_OK;
  if ((opt && !o->train && after(g, o, "fuse-activation", pass_fuse_activation(g))) ||
      after(g, o, "bounded", pass_bounded(g)) || after(g, o, "plan", pass_plan(g, opt)) ||
      after(g, o, "strings", pass_strings(g)))
    return NN_ERR;
  return NN_OK;
}
