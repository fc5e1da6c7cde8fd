/* Resize's parameters and per-axis tap tables: shared by resize.c (the
 * forward) and resize_grad.c (its gradient, which scatters through the same
 * tables). */
#ifndef NNCC_RESIZE_TAPS_H
#define NNCC_RESIZE_TAPS_H

#include "ops.h"

typedef enum { MODE_NEAREST, MODE_LINEAR, MODE_CUBIC } interp_mode;

typedef enum {
  CT_HALF_PIXEL,
  CT_HALF_PIXEL_SYMMETRIC,
  CT_PYTORCH_HALF_PIXEL,
  CT_ALIGN_CORNERS,
  CT_ASYMMETRIC,
  CT_TF_CROP_AND_RESIZE,
} coord_mode;

/* NEAREST_SIMPLE is Resize-10 and Upsample: floor, or ceil when downsampling. */
typedef enum {
  ROUND_PREFER_FLOOR,
  ROUND_PREFER_CEIL,
  NEAREST_FLOOR,
  NEAREST_CEIL,
  NEAREST_SIMPLE
} nearest_mode;

/* Antialiased downsampling widens the filter to 2/scale taps (linear) or
 * 4/scale (cubic); beyond this many, the op is rejected. */
#define MAX_TAPS 1024

typedef struct resize_params {
  interp_mode mode;
  coord_mode coord;
  nearest_mode nearest;
  double cubic_a, extrapolation;
  bool exclude_outside, antialias;
  double scale[IR_MAX_RANK]; /* as the coordinate transforms use it */
  int64_t out[IR_MAX_RANK];
  double roi_start[IR_MAX_RANK], roi_end[IR_MAX_RANK];
} resize_params;

/* One axis's taps: output index o reads input offsets off[o * taps + t]
 * (already times the axis stride) with weights w[...]; skip[o] marks
 * tf_crop_and_resize coordinates outside the input. */
typedef struct axis_taps {
  int taps;
  bool identity, weighted, any_skip;
  int64_t *off;
  double *w;
  unsigned char *skip;
} axis_taps;

/* Everything a Resize or Upsample node asks for, checked; input 0 is X,
 * the others are read at their positions for the node's opset. */
nn_status resize_params_of(ir_graph *g, const ir_node *n, resize_params *rp);
/* The tap table of axis a (input size in, stride in elements). */
axis_taps axis_table(ir_graph *g, const resize_params *rp, int a, int64_t in, int64_t stride);

#endif
