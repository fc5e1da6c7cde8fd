/* Every pass: one file, IR in, IR out, a status back. Their order is
 * written once, in pipeline.c. */
#ifndef NNCC_PASSES_H
#define NNCC_PASSES_H

#include <stdio.h>

#include "ir.h"

typedef struct shape_binding {
  const char *name; /* graph input */
  int rank;
  int64_t dims[IR_MAX_RANK];
} shape_binding;

typedef struct pipeline_options {
  const shape_binding *shapes; /* from --shape */
  int n_shapes;
  int opt_level;               /* 0: no optional passes; 2: all */
  const char *dump_after;      /* print the IR after this pass, or "all" */
  bool onnx_level;             /* stop while the graph is still plain ONNX (export) */
  /* Training (compiler/autodiff.h): mark the trained weights, then append
   * loss, backward and update; the result names the module's tensors. */
  const struct ad_options *train;
  struct ad_result *train_result;
  /* Mark the trained weights without training: the trainer's ONNX export of the
   * forward graph keeps them as initializers instead of folding them. */
  bool keep_trainable;
} pipeline_options;

/* Runs the passes in order; stops at the first that reports errors. */
nn_status pipeline_run(ir_graph *g, const pipeline_options *o);

nn_status pass_bind_shapes(ir_graph *g, const shape_binding *b, int n);
nn_status pass_resolve_ops(ir_graph *g);
/* Training: BatchNormalization, Dropout and LayerNormalization take their
 * training forms (pass_train_forward.c). */
nn_status pass_train_forward(ir_graph *g);
/* The bool scalar those training forms read to choose their behaviour: a
 * weight holding 1; the training module passes 1 from _grad, 0 from _predict. */
#define TRAIN_FLAG_NAME "nncc.training"
struct ad_result;
/* After autodiff: batch normalization reads the batch's sample mask. */
nn_status pass_train_mask(ir_graph *g, const struct ad_result *r);
/* ONNX's Gradient operator (pass_gradient.c): before inference, keeps what a
 * Gradient node differentiates from being folded; after it, replaces each
 * node by its backward graph (export refuses it: the expansion is not ONNX). */
nn_status pass_gradient_pin(ir_graph *g);
nn_status pass_gradient(ir_graph *g, bool for_export);
nn_status pass_infer(ir_graph *g);
nn_status pass_fold_node(ir_graph *g, ir_node *n);
nn_status pass_dce(ir_graph *g);
/* Relu and constant Clip folded into the Conv feeding them (pass_fuse_activation.c). */
nn_status pass_fuse_activation(ir_graph *g);
/* Gives every bounded graph output its actual-shape companion output. */
nn_status pass_bounded(ir_graph *g);
/* 16-bit floats computed in float32 (pass_widen.c): Casts inserted in front of
 * node pos / behind it once its outputs are shaped; return how many. */
int widen_inputs(ir_graph *g, int pos);
int narrow_outputs(ir_graph *g, int pos);
nn_status pass_plan(ir_graph *g, bool reuse);
/* Gives every node that makes strings its byte room, past the planned arena. */
nn_status pass_strings(ir_graph *g);
/* The most arena bytes alive at one moment: no plan can use less. */
int64_t plan_lower_bound(const ir_graph *g);

/* Checks the IR's invariants; a failure is a bug in a pass. */
void ir_verify(const ir_graph *g, const char *after_pass);
/* The IR as text: one line per tensor input and node. */
void ir_print(const ir_graph *g, FILE *out);

#endif
