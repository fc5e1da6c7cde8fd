/* The kernel every statistics normalisation shares (LayerNormalization,
 * RMSNormalization, GroupNormalization, InstanceNormalization,
 * MeanVarianceNormalization, BatchNormalization in training mode,
 * LpNormalization): X seen as `rows` groups of `len` elements; per group a
 * two-pass mean and variance (double accumulators), then every element
 * normalised and optionally scaled and shifted by per-element parameters. */
#ifndef NNCC_OPS_NORM_STATS_H
#define NNCC_OPS_NORM_STATS_H

#include "common.h"

#define NORM_MAX_DIMS (IR_MAX_RANK + 1) /* GroupNormalization splits C in two */
#define NORM_MAX_PARAMS 2

/* One run of dims of a class (reduced or kept), merged when the strides allow. */
typedef struct norm_dim {
  int64_t size;
  int64_t stride[1 + NORM_MAX_PARAMS]; /* X's, then each parameter's (0: broadcast) */
} norm_dim;

/* X (its dims possibly split further, as GroupNormalization's C into G x C/G)
 * as kept dims that number the groups and reduced dims inside a group. */
typedef struct norm_view {
  int n_kept, n_red;
  norm_dim kept[NORM_MAX_DIMS], red[NORM_MAX_DIMS];
  int64_t rows, len;
} norm_view;

/* Builds the view of dims (rank of them, row-major) with reduced[d] marking
 * the normalised dims; pstride[p][d] is parameter p's element stride along
 * dim d (0 where it broadcasts), for n_params parameters. */
void norm_view_build(norm_view *v, int rank, const int64_t *dims, const bool *reduced,
                     int n_params, const int64_t (*pstride)[NORM_MAX_DIMS]);
/* Strides of a parameter tensor p broadcast (NumPy, trailing alignment) to
 * dims: its own row-major strides, 0 where p has size 1 or no dim. */
void norm_bcast_strides(const ir_tensor *p, int rank, const int64_t *dims, int64_t *stride);

typedef struct norm_spec {
  bool center;           /* subtract the mean (RMSNormalization: no) */
  bool eps_after_sqrt;   /* 1 / (sqrt(var) + eps) (MeanVarianceNormalization) */
  double eps;
  int scale_in, bias_in; /* inputs multiplied / added per element (parameter 0 / 1), or -1 */
  int mean_out, inv_out; /* outputs holding each group's mean / 1/std, or -1 */
  /* Optional: more per-group lines, with `r`, `mean`, `var` (double) in scope. */
  void (*per_group)(emit_ctx *e, const ir_node *n);
} norm_spec;

/* Emits y = (x - mean) * inv_std [* scale] [+ bias] into out0. */
void emit_normalize(emit_ctx *e, const ir_node *n, const norm_view *v, const norm_spec *s);
/* Emits y = x / (sum |x|^p)^(1/p) over each group (LpNormalization, p 1 or 2). */
void emit_lp_normalize(emit_ctx *e, const ir_node *n, const norm_view *v, int p);

#endif
