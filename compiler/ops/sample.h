/* The interpolation kernel GridSample and DeformConv share: per spatial
 * axis, the taps (pixel offsets) and weights of a sample point. */
#ifndef NNCC_OPS_SAMPLE_H
#define NNCC_OPS_SAMPLE_H

#include "common.h"

typedef enum { SAMPLE_NEAREST, SAMPLE_LINEAR, SAMPLE_CUBIC } sample_mode;
typedef enum { SAMPLE_ZEROS, SAMPLE_BORDER, SAMPLE_REFLECTION } sample_pad;

/* One spatial axis of a sample point. */
typedef struct sample_axis {
  int index;         /* names the generated arrays w<index>[], at<index>[] */
  int64_t len;       /* pixels along the axis */
  int64_t stride;    /* elements between neighbouring pixels */
  ir_dtype dtype;    /* arithmetic type */
  sample_mode mode;
  sample_pad pad;
  bool align;        /* align_corners: the border range is [0, len - 1], else [-0.5, len - 0.5] */
  const char *coord; /* C expression: the coordinate in pixels */
} sample_axis;

/* Taps per axis: 1, 2 or 4. */
int sample_taps(sample_mode mode);
/* Declares and fills w<i>[K] (weights, zero for taps in zero padding) and
 * at<i>[K] (tap offsets in elements, in range) for the axis. */
void sample_emit_axis(emit_ctx *e, const sample_axis *a);
/* acc += [scale] w0[k0] * w1[k1] ... * src[at0[k0] + at1[k1] ...] over all taps
 * of the first r axes; scale, when not NULL, is text ending in " * ". */
void sample_emit_sum(emit_ctx *e, int r, sample_mode mode, const char *acc, const char *src,
                     const char *scale);

#endif
