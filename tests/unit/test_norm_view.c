/* norm_view_build: how the normalisations see X as groups. Runs of dims
 * merge only where every tensor's strides continue the run, so contiguous
 * groups become one loop and broadcast parameters keep their zero strides. */
#include <criterion/criterion.h>

#include "ops/norm_stats.h"

/* LayerNormalization of [2,3,4,5] over axis 2, Scale [4,5], B [5]. */
Test(norm_view, layernorm_groups_are_contiguous_rows) {
  const int64_t dims[4] = {2, 3, 4, 5};
  const bool red[4] = {false, false, true, true};
  int64_t ps[NORM_MAX_PARAMS][NORM_MAX_DIMS] = {{0, 0, 5, 1}, {0, 0, 0, 1}};
  norm_view v;
  norm_view_build(&v, 4, dims, red, 2, ps);
  cr_assert_eq(v.rows, 6);
  cr_assert_eq(v.len, 20);
  cr_assert_eq(v.n_kept, 1); /* [2,3] merged: one row index */
  cr_assert_eq(v.kept[0].stride[0], 20);
  cr_assert_eq(v.kept[0].stride[1], 0);
  cr_assert_eq(v.n_red, 2);  /* X and Scale continue over [4,5]; B broadcasts over 4 */
  cr_assert_eq(v.red[0].size, 4);
  cr_assert_eq(v.red[0].stride[2], 0);
  cr_assert_eq(v.red[1].stride[2], 1);
}

/* GroupNormalization opset 21: X [2,6,5] as [N=2, G=3, C/G=2, S=5]; scale per channel. */
Test(norm_view, groupnorm_splits_channels) {
  const int64_t dims[4] = {2, 3, 2, 5};
  const bool red[4] = {false, false, true, true};
  int64_t ps[NORM_MAX_PARAMS][NORM_MAX_DIMS] = {{0, 2, 1, 0}, {0, 2, 1, 0}};
  norm_view v;
  norm_view_build(&v, 4, dims, red, 2, ps);
  cr_assert_eq(v.rows, 6);
  cr_assert_eq(v.len, 10);
  cr_assert_eq(v.n_kept, 2); /* N and G cannot merge: the scale varies with G only */
  cr_assert_eq(v.kept[1].stride[1], 2);
  cr_assert_eq(v.n_red, 2);  /* C/G and S cannot merge: the scale varies with C/G only */
}

Test(norm_view, broadcast_strides_skip_unit_dims) {
  mem_arena *mem = mem_new();
  ir_graph *g = ir_graph_new(mem, "t");
  ir_tensor *p = ir_tensor_new(g, "p");
  const int64_t pd[2] = {4, 1}, xd[3] = {2, 4, 5};
  ir_set_shape(p, IR_FLOAT, 2, pd);
  int64_t st[3];
  norm_bcast_strides(p, 3, xd, st);
  cr_assert_eq(st[0], 0);
  cr_assert_eq(st[1], 1);
  cr_assert_eq(st[2], 0);
  mem_free(mem);
}
