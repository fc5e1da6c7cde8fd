/* The fast Conv kernels conv.c picks first: a GEMM over packed im2col panels
 * (compiler/ops/conv_gemm.c) and the depthwise kernel (conv_depthwise.c). */
#ifndef NNCC_CONV_GEMM_H
#define NNCC_CONV_GEMM_H

#include "common.h"
#include "conv_geom.h"

/* A Relu or Clip folded into the Conv (compiler/pass_fuse_activation.c). */
typedef struct {
  bool on;
  double lo, hi; /* -INFINITY / INFINITY: no bound on that side */
} conv_act;

/* The node's folded activation, from its nncc_act_lo / nncc_act_hi attributes. */
conv_act conv_act_of(const ir_node *n);
/* "v = v < lo ? lo : v;" and the upper bound, for float variable v. */
void emit_conv_act(emit_ctx *e, const conv_act *act, const char *v);

/* A float32 1-D or 2-D Conv with at least a few output channels per group:
 * the shapes the GEMM path serves better than the direct loops. */
bool conv_gemm_fits(const conv_geo *c);
/* The node body: Y = W x im2col(X) (+ B), a task per image, group, block of
 * output rows and block of output channels. */
void emit_conv_gemm(emit_ctx *e, const conv_geo *c, bool has_bias, const conv_act *act);

/* The same for a stride-1 ConvTranspose, as the Conv it equals. */
bool convt_gemm_fits(const conv_geo *c);
void emit_convt_gemm(emit_ctx *e, const conv_geo *c, bool has_bias);

/* nncc::ConvGradWeight of a float32 1-D or 2-D Conv with at least 8 output
 * channels per group, as a GEMM over the same panels (c: the Conv's geometry). */
bool conv_wgrad_gemm_fits(const conv_geo *c);
void emit_conv_wgrad_gemm(emit_ctx *e, const conv_geo *c);

/* A float32 1-D or 2-D depthwise Conv (group = input = output channels)
 * whose band buffer fits the stack (compiler/ops/conv_depthwise.c). */
bool conv_depthwise_fits(const conv_geo *c);
void emit_conv_depthwise(emit_ctx *e, const conv_geo *c, bool has_bias, const conv_act *act);

#endif
