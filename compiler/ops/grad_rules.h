/* Gradient rules (op_def.grad, compiler/autodiff.h) whose backward kernels
 * are nncc-domain ops of their own families: each rule is written beside
 * its kernel and named in the forward op's registry row. */
#ifndef NNCC_GRAD_RULES_H
#define NNCC_GRAD_RULES_H

#include "autodiff.h"
#include "ops.h"

/* conv_grad.c */
nn_status grad_conv(ad_ctx *ad, const ir_node *n);
nn_status grad_conv_transpose(ad_ctx *ad, const ir_node *n);
/* pool_grad.c: MaxPool, AveragePool, GlobalMaxPool, GlobalAveragePool */
nn_status grad_pool(ad_ctx *ad, const ir_node *n);
/* resize_grad.c: Resize, Upsample */
nn_status grad_resize(ad_ctx *ad, const ir_node *n);
/* pad_grad.c */
nn_status grad_pad(ad_ctx *ad, const ir_node *n);
/* norm_grad.c */
nn_status grad_layer_norm(ad_ctx *ad, const ir_node *n);
/* recurrent_grad.c: RNN, GRU, LSTM */
nn_status grad_recurrent(ad_ctx *ad, const ir_node *n);
/* dropout_train.c: inference Dropout (nothing dropped) passes gradients through */
nn_status grad_dropout(ad_ctx *ad, const ir_node *n);

/* grad_util.c, for the rules above */
/* b takes every attribute of n (then may add more). */
void grad_copy_attrs(ad_ctx *ad, ir_node *b, const ir_node *n);
/* dy summed over every axis but 1: a per-channel bias's gradient. */
ir_tensor *grad_channel_sum(ad_ctx *ad, ir_tensor *dy);

#endif
