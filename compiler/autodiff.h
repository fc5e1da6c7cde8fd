/* Reverse-mode differentiation of the IR (compiler/pass_autodiff.c) and the
 * helpers a gradient rule (op_def.grad) uses to build backward nodes.
 *
 * A rule sees one forward node n. It reads the gradients of n's outputs with
 * ad_out_grad, and for each input k with ad_needs_grad gives one with
 * ad_give_grad (several contributions to one tensor are summed). Nodes are
 * built with ad_begin / ad_attr_* / ad_finish, or the one-line ad_op for ops
 * without attributes; each gets its shapes inferred on the spot, so a rule
 * can read the dims of what it just built. docs/training.md is the contract. */
#ifndef NNCC_AUTODIFF_H
#define NNCC_AUTODIFF_H

#include "ir.h"

typedef enum { AD_LOSS_MSE, AD_LOSS_MAE, AD_LOSS_BCE, AD_LOSS_CE, AD_LOSS_NLL,
               AD_LOSS_HINGE } ad_loss_kind;
typedef enum { AD_OPT_SGD, AD_OPT_MOMENTUM, AD_OPT_NESTEROV, AD_OPT_ADAGRAD, AD_OPT_RMSPROP,
               AD_OPT_ADAM, AD_OPT_ADAMW } ad_opt_kind;

/* What to train and how: from a .nn train block or from command-line options. */
typedef struct ad_options {
  ad_loss_kind loss;
  bool from_logits;   /* BCE/CE: the output is raw scores (CE on a Softmax output fuses anyway) */
  const char *output; /* graph output the loss applies to; NULL: the only one */
  ad_opt_kind optimizer;
  /* PyTorch's names and defaults: momentum (SGD), betas (Adam), alpha (RMSprop). */
  double momentum, beta1, beta2, rho, epsilon, weight_decay;
  double l1, l2;                /* added to the gradient: l1 * sign(w), l2 * w */
  double clip_value, clip_norm; /* 0: off */
  /* Params whose names start with one of these are not trained: they stay
   * in the state blob as buffers (a GAN's trainer refreshes them; a model
   * trained in part keeps them), with no gradient and no update. */
  const char *const *untrained;
  int n_untrained;
} ad_options;

/* The training module's interface tensors, for codegen (docs/training.md). */
typedef struct ad_result {
  ir_tensor *pred;             /* the graph output the loss reads */
  ir_tensor *label, *mask;     /* graph inputs of _grad */
  ir_tensor *loss;             /* graph output: masked loss sum, shape [] */
  ir_tensor *lr, *step, *scale; /* graph inputs of _update: float, int64, float */
  int64_t batch;
} ad_result;

/* Marks the weights training changes as IR_STATE params (before inference,
 * so folding keeps them): on .nn models the ones the frontend says are
 * learned, on ONNX models the float initializers read by an op that has a
 * gradient rule. Autodiff turns back into constants those no gradient reaches. */
nn_status pass_mark_trainable(ir_graph *g);
/* Appends loss, backward, gradient accumulation and update nodes; fills r. */
nn_status pass_autodiff(ir_graph *g, const ad_options *o, ad_result *r);
/* Lays out the IR_STATE tensors in the state blob (64-byte aligned). */
nn_status pass_plan_state(ir_graph *g);

/* ---- for gradient rules ---- */

typedef struct ad_ctx ad_ctx;

ir_graph *ad_graph(ad_ctx *ad);
/* Gradient of output k of n (shaped as that output), or NULL when the loss
 * does not depend on it (or it is identically zero). */
ir_tensor *ad_out_grad(ad_ctx *ad, const ir_node *n, int k);
/* Whether input k of n needs a gradient: it is a param or depends on one. */
bool ad_needs_grad(ad_ctx *ad, const ir_node *n, int k);
/* Gives input k of n the gradient g (shaped exactly as the input); gradients
 * given to one tensor from several places are summed. */
void ad_give_grad(ad_ctx *ad, const ir_node *n, int k, ir_tensor *g);
/* Says input k's gradient is zero (a step function): its params still train,
 * with zero gradient. */
void ad_zero_grad(ad_ctx *ad, const ir_node *n, int k);

/* Starts a backward node of op (domain "" or "nncc") reading n_in inputs
 * (NULL for an omitted optional one), with n_out fresh outputs. */
ir_node *ad_begin(ad_ctx *ad, const char *domain, const char *op, int n_in, ir_tensor *const *in,
                  int n_out);
void ad_attr_int(ad_ctx *ad, ir_node *b, const char *name, int64_t v);
void ad_attr_float(ad_ctx *ad, ir_node *b, const char *name, double v);
void ad_attr_string(ad_ctx *ad, ir_node *b, const char *name, const char *v);
void ad_attr_ints(ad_ctx *ad, ir_node *b, const char *name, int n, const int64_t *v);
/* Infers b's shapes now and returns its output 0 (a failure is a bug in the rule). */
ir_tensor *ad_finish(ad_ctx *ad, ir_node *b);
/* A standard op without attributes on one or two inputs (b may be NULL). */
ir_tensor *ad_op(ad_ctx *ad, const char *op, ir_tensor *a, ir_tensor *b);
/* g summed over the axes where `like` broadcast (NumPy rules): the gradient
 * of a broadcast input. g itself when the shapes agree. */
ir_tensor *ad_reduce_to(ad_ctx *ad, ir_tensor *g, const ir_tensor *like);
/* g reshaped to like's shape (same element count). */
ir_tensor *ad_reshape_to(ad_ctx *ad, ir_tensor *g, const ir_tensor *like);
/* A scalar constant of dtype t. */
ir_tensor *ad_scalar(ad_ctx *ad, ir_dtype t, double v);
/* A constant of zeros shaped like `like` (a gradient that is zero). */
ir_tensor *ad_zeros(ad_ctx *ad, const ir_tensor *like);
/* An int64 vector constant (shapes, axes). */
ir_tensor *ad_ints(ad_ctx *ad, int n, const int64_t *v);
/* The fused activation derivative nncc.ActivationGrad: dx from dy and the
 * forward input x and output y (either may be NULL when kind does not need
 * it), with the forward node's alpha/beta/gamma attributes copied. */
ir_tensor *ad_activation_grad(ad_ctx *ad, const ir_node *n, const char *kind, ir_tensor *dy,
                              ir_tensor *x, ir_tensor *y);

#endif
