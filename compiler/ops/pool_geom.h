/* A pooling node's geometry with auto_pad and ceil_mode resolved: shared by
 * pool.c (the forward kernels) and pool_grad.c (their gradients). */
#ifndef NNCC_POOL_GEOM_H
#define NNCC_POOL_GEOM_H

#include "ops.h"

#define SP (IR_MAX_RANK - 2) /* most spatial axes */

typedef struct pool_geom {
  int r;      /* spatial axes */
  int64_t nc; /* batch x channels: independent planes */
  int64_t in[SP], out[SP], k[SP], s[SP], d[SP], pb[SP], pe[SP];
  bool inside[SP]; /* while emitting: the loop over axis i only visits windows inside the input */
} pool_geom;

/* Reads input 0 (X) and the attributes kernel_shape, strides, dilations,
 * pads, auto_pad and ceil_mode. */
nn_status pool_geometry(ir_graph *g, const ir_node *n, pool_geom *p);

#endif
