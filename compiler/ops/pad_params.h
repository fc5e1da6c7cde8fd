/* Pad's parameters, shared by movement.c (Pad) and pad_grad.c (its
 * gradient, which sends each output element back to the input it read). */
#ifndef NNCC_PAD_PARAMS_H
#define NNCC_PAD_PARAMS_H

#include "ops.h"

typedef enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } pad_mode;

typedef struct pad_params {
  pad_mode mode;
  int64_t begin[IR_MAX_RANK], end[IR_MAX_RANK];
} pad_params;

/* Reads a Pad node's mode, pads and axes, for its opset. */
nn_status pad_params_of(ir_graph *g, const ir_node *n, pad_params *pp);
/* The input index that output index j of an axis of size n reads (after
 * subtracting the leading pad), or -1 for the constant. */
int64_t pad_source(pad_mode mode, int64_t j, int64_t n);

#endif
