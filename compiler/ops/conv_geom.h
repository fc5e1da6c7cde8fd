/* A Conv or ConvTranspose node's geometry with auto_pad, output_shape and
 * output_padding resolved: shared by conv.c (the forward kernels) and
 * conv_grad.c (the gradient kernels and rules). */
#ifndef NNCC_CONV_GEOM_H
#define NNCC_CONV_GEOM_H

#include "ops.h"

#define CONV_MAX_SP 3

typedef struct {
  int nsp;                /* spatial rank as in the model, 1..3 */
  int64_t N, C, M, G;     /* batch, input channels, output channels, groups */
  int64_t in[CONV_MAX_SP], out[CONV_MAX_SP], k[CONV_MAX_SP];
  int64_t s[CONV_MAX_SP], d[CONV_MAX_SP], pb[CONV_MAX_SP]; /* stride, dilation, pad begin */
  ir_dtype dtype;
} conv_geo;

/* Reads the node's inputs 0 (X) and 1 (W) and its attributes; tr: ConvTranspose. */
nn_status conv_geometry(ir_graph *g, const ir_node *n, bool tr, conv_geo *c);

#endif
