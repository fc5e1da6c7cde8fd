/* Region-of-interest pooling: RoiAlign (bilinear samples averaged or
 * maxed per bin) and MaxRoiPool (the maximum over each bin's pixels).
 * The boxes are run-time data, so bin extents are computed per box. */
#include <stdio.h>

#include "common.h"

/* Shared checks: X [N, C, H, W], rois [R, cols] of X's dtype. */
static nn_status check_rois(ir_graph *g, const ir_node *n, int cols) {
  const ir_tensor *x = n->inputs[0], *rois = n->inputs[1];
  if (check_float(g, n, 0))
    return NN_ERR;
  if (x->rank != 4)
    return diag_node(g->path, n, "X must be 4-D [N, C, H, W], not rank %d", x->rank);
  if (rois->rank != 2 || rois->dims[1] != cols || rois->dtype != x->dtype)
    return diag_node(g->path, n, "rois must be [num_rois, %d] of X's dtype %s", cols,
                     ir_dtype_name(x->dtype));
  return NN_OK;
}

/* A positive integer attribute (pooled sizes). */
static nn_status positive(ir_graph *g, const ir_node *n, const char *name, int64_t v) {
  if (v < 1)
    return diag_node(g->path, n, "'%s' must be positive, not %lld", name, (long long)v);
  return NN_OK;
}

/* ---- RoiAlign ---- */

static bool roi_half_pixel(const ir_node *n) {
  const char *m = ir_attr_string(n, "coordinate_transformation_mode",
                                 n->opset >= 16 ? "half_pixel" : "output_half_pixel");
  return strcmp(m, "half_pixel") == 0;
}

static nn_status infer_roi_align(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 3, 3) || check_rois(g, n, 4))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0], *rois = n->inputs[1], *bi = n->inputs[2];
  int64_t ph = ir_attr_int(n, "output_height", 1), pw = ir_attr_int(n, "output_width", 1);
  if (positive(g, n, "output_height", ph) || positive(g, n, "output_width", pw))
    return NN_ERR;
  if (ir_attr_int(n, "sampling_ratio", 0) < 0)
    return diag_node(g->path, n, "sampling_ratio must not be negative");
  const char *mode = ir_attr_string(n, "mode", "avg");
  if (strcmp(mode, "avg") && strcmp(mode, "max"))
    return diag_node(g->path, n, "unknown mode '%s' (avg or max)", mode);
  const char *ctm = ir_attr_string(n, "coordinate_transformation_mode", "half_pixel");
  if (strcmp(ctm, "half_pixel") && strcmp(ctm, "output_half_pixel"))
    return diag_node(g->path, n, "unknown coordinate_transformation_mode '%s'", ctm);
  if (bi->rank != 1 || bi->dims[0] != rois->dims[0] || (bi->dtype != IR_INT64 && bi->dtype != IR_INT32))
    return diag_node(g->path, n, "batch_indices must be an integer vector of %lld (one per roi)",
                     (long long)rois->dims[0]);
  int64_t dims[4] = {rois->dims[0], x->dims[1], ph, pw};
  ir_set_shape(n->outputs[0], x->dtype, 4, dims);
  return NN_OK;
}

/* The bilinear corners and weights of sample point (yy, xx), zero outside
 * the image; as onnxruntime clamps points in the last pixel row/column. */
static void emit_roi_sample(emit_ctx *e, const char *T, int64_t H, int64_t W) {
  emit_line(e, "%s w1 = 0, w2 = 0, w3 = 0, w4 = 0;", T);
  emit_line(e, "int64_t p1 = 0, p2 = 0, p3 = 0, p4 = 0;");
  emit_open(e, "if (!(yy < -1 || yy > %lld || xx < -1 || xx > %lld))", (long long)H, (long long)W);
  emit_line(e, "%s sy = yy < 0 ? 0 : yy, sx = xx < 0 ? 0 : xx;", T);
  emit_line(e, "int64_t y0 = (int64_t)sy, x0 = (int64_t)sx, y1 = y0 + 1, x1 = x0 + 1;");
  emit_line(e, "if (y0 >= %lld) { y0 = y1 = %lld; sy = (%s)y0; }", (long long)H - 1, (long long)H - 1, T);
  emit_line(e, "if (x0 >= %lld) { x0 = x1 = %lld; sx = (%s)x0; }", (long long)W - 1, (long long)W - 1, T);
  emit_line(e, "const %s ly = sy - (%s)y0, lx = sx - (%s)x0, hy = 1 - ly, hx = 1 - lx;", T, T, T);
  emit_line(e, "w1 = hy * hx, w2 = hy * lx, w3 = ly * hx, w4 = ly * lx;");
  emit_line(e, "p1 = y0 * %lld + x0, p2 = y0 * %lld + x1, p3 = y1 * %lld + x0, p4 = y1 * %lld + x1;",
            (long long)W, (long long)W, (long long)W, (long long)W);
  emit_close(e);
}

/* Bin grid size along one axis: sampling_ratio, or ceil(extent / bins). */
static void emit_grid_count(emit_ctx *e, const char *var, int64_t ratio, const char *extent,
                            int64_t bins, ir_dtype t) {
  if (ratio > 0) {
    emit_line(e, "const int64_t %s = %lld;", var, (long long)ratio);
    return;
  }
  /* the bound keeps the cast defined for absurd boxes */
  emit_line(e, "const %s %s_f = %s(%s / %lld);", ir_dtype_ctype(t), var, math_fn(e, "ceil", t), extent,
            (long long)bins);
  emit_line(e, "const int64_t %s = %s_f > 0 && %s_f < 1048576 ? (int64_t)%s_f : 0;", var, var, var, var);
}

static void emit_roi_align(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (ir_numel(y) == 0)
    return;
  ir_dtype t = x->dtype;
  const char *T = ir_dtype_ctype(t);
  int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
  int64_t PH = y->dims[2], PW = y->dims[3], ratio = ir_attr_int(n, "sampling_ratio", 0);
  bool half = roi_half_pixel(n), max = strcmp(ir_attr_string(n, "mode", "avg"), "max") == 0;
  long long bins = (long long)(PH * PW);
  emit_parallel_for(e, "r", y->dims[0], C * bins * 16);
  emit_line(e, "%s *y = out0 + r * %lld;", T, (long long)C * bins);
  emit_line(e, "memset(y, 0, %zu);", (size_t)(C * PH * PW) * ir_dtype_size(t));
  emit_line(e, "const int64_t b = in2[r];");
  emit_line(e, "if (b < 0 || b >= %lld) continue;", (long long)N);
  const char *sc = emit_literal(e, t, ir_attr_float(n, "spatial_scale", 1));
  const char *off = half ? mem_printf(e->g->mem, " - %s", emit_literal(e, t, 0.5)) : "";
  for (int k = 0; k < 4; k++)
    emit_line(e, "const %s c%d = in1[r * 4 + %d] * %s%s;", T, k, k, sc, off);
  emit_line(e, "%s rw = c2 - c0, rh = c3 - c1;", T);
  if (!half) { /* legacy boxes are at least one pixel */
    emit_line(e, "if (rw < 1) rw = 1;");
    emit_line(e, "if (rh < 1) rh = 1;");
  }
  emit_line(e, "const %s bh = rh / %lld, bw = rw / %lld;", T, (long long)PH, (long long)PW);
  emit_grid_count(e, "gh", ratio, "rh", PH, t);
  emit_grid_count(e, "gw", ratio, "rw", PW, t);
  emit_line(e, "const %s count = (%s)(gh * gw > 1 ? gh * gw : 1);", T, T);
  emit_for(e, "ph", PH);
  emit_for(e, "pw", PW);
  emit_line(e, "%s *yb = y + ph * %lld + pw;", T, (long long)PW);
  emit_open(e, "for (int64_t iy = 0; iy < gh; iy++)");
  emit_line(e, "const %s yy = c1 + (%s)ph * bh + ((%s)iy + %s) * bh / (%s)gh;", T, T, T,
            emit_literal(e, t, 0.5), T);
  emit_open(e, "for (int64_t ix = 0; ix < gw; ix++)");
  emit_line(e, "const %s xx = c0 + (%s)pw * bw + ((%s)ix + %s) * bw / (%s)gw;", T, T, T,
            emit_literal(e, t, 0.5), T);
  emit_roi_sample(e, T, H, W);
  emit_for(e, "c", C);
  emit_line(e, "const %s *xc = in0 + (b * %lld + c) * %lld;", T, (long long)C, (long long)(H * W));
  if (max) { /* onnxruntime's max mode: the largest weighted corner */
    emit_line(e, "%s v = w1 * xc[p1];", T);
    emit_line(e, "if (w2 * xc[p2] > v) v = w2 * xc[p2];");
    emit_line(e, "if (w3 * xc[p3] > v) v = w3 * xc[p3];");
    emit_line(e, "if (w4 * xc[p4] > v) v = w4 * xc[p4];");
    emit_line(e, "if ((iy == 0 && ix == 0) || v > yb[c * %lld]) yb[c * %lld] = v;", bins, bins);
  } else {
    emit_line(e, "yb[c * %lld] += w1 * xc[p1] + w2 * xc[p2] + w3 * xc[p3] + w4 * xc[p4];", bins);
  }
  emit_close(e);
  emit_close(e);
  emit_close(e);
  if (!max) {
    emit_for(e, "c", C);
    emit_line(e, "yb[c * %lld] /= count;", bins);
    emit_close(e);
  } else {
    emit_line(e, "(void)count;");
  }
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* ---- MaxRoiPool ---- */

static nn_status pooled_shape(ir_graph *g, const ir_node *n, int64_t *ps) {
  int k = attr_ints(g, n, "pooled_shape", ps, 2);
  if (k < 0)
    return NN_ERR;
  if (k != 2)
    return diag_node(g->path, n, "attribute 'pooled_shape' must have 2 values (required)");
  return positive(g, n, "pooled_shape", ps[0] < ps[1] ? ps[0] : ps[1]);
}

static nn_status infer_max_roi_pool(ir_graph *g, ir_node *n) {
  int64_t ps[2];
  if (check_arity(g, n, 2, 2) || check_rois(g, n, 5) || pooled_shape(g, n, ps))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  int64_t dims[4] = {n->inputs[1]->dims[0], x->dims[1], ps[0], ps[1]};
  ir_set_shape(n->outputs[0], x->dtype, 4, dims);
  return NN_OK;
}

/* Each box (batch, x1, y1, x2, y2) is scaled and rounded to pixels, split
 * into pooled_shape bins of real size; a bin covers the pixels from the floor
 * of its start to the ceiling of its end, clipped to the image (empty: 0). */
static void emit_max_roi_pool(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (ir_numel(y) == 0)
    return;
  ir_dtype t = x->dtype;
  const char *T = ir_dtype_ctype(t);
  int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], PH = y->dims[2],
          PW = y->dims[3];
  long long bins = (long long)(PH * PW);
  emit_parallel_for(e, "r", y->dims[0], C * H * W);
  emit_line(e, "%s *y = out0 + r * %lld;", T, (long long)C * bins);
  emit_line(e, "memset(y, 0, %zu);", (size_t)(C * PH * PW) * ir_dtype_size(t));
  emit_line(e, "int64_t v[5];");
  emit_open(e, "for (int k = 0; k < 5; k++)");
  /* the batch index is not scaled */
  emit_line(e, "const %s c = k == 0 ? in1[r * 5] : %s(in1[r * 5 + k] * %s);", T, math_fn(e, "round", t),
            emit_literal(e, t, ir_attr_float(n, "spatial_scale", 1)));
  emit_line(e, "v[k] = c > -1048576 && c < 1048576 ? (int64_t)c : -1048576;");
  emit_close(e);
  emit_line(e, "if (v[0] < 0 || v[0] >= %lld) continue;", (long long)N);
  emit_line(e, "const %s bh = (%s)(v[4] - v[2] + 1 > 1 ? v[4] - v[2] + 1 : 1) / %lld;", T, T, (long long)PH);
  emit_line(e, "const %s bw = (%s)(v[3] - v[1] + 1 > 1 ? v[3] - v[1] + 1 : 1) / %lld;", T, T, (long long)PW);
  emit_for(e, "ph", PH);
  emit_for(e, "pw", PW);
  const char *fl = math_fn(e, "floor", t), *ce = math_fn(e, "ceil", t);
  emit_line(e, "int64_t h0 = (int64_t)%s((%s)ph * bh) + v[2], h1 = (int64_t)%s((%s)(ph + 1) * bh) + v[2];",
            fl, T, ce, T);
  emit_line(e, "int64_t w0 = (int64_t)%s((%s)pw * bw) + v[1], w1 = (int64_t)%s((%s)(pw + 1) * bw) + v[1];",
            fl, T, ce, T);
  emit_line(e, "h0 = h0 < 0 ? 0 : h0 > %lld ? %lld : h0;", (long long)H, (long long)H);
  emit_line(e, "h1 = h1 < 0 ? 0 : h1 > %lld ? %lld : h1;", (long long)H, (long long)H);
  emit_line(e, "w0 = w0 < 0 ? 0 : w0 > %lld ? %lld : w0;", (long long)W, (long long)W);
  emit_line(e, "w1 = w1 < 0 ? 0 : w1 > %lld ? %lld : w1;", (long long)W, (long long)W);
  emit_line(e, "if (h1 <= h0 || w1 <= w0) continue;");
  emit_for(e, "c", C);
  emit_line(e, "const %s *xc = in0 + (v[0] * %lld + c) * %lld;", T, (long long)C, (long long)(H * W));
  emit_line(e, "%s m = %s;", T, emit_lowest(e, t));
  emit_open(e, "for (int64_t h = h0; h < h1; h++)");
  emit_line(e, "for (int64_t w = w0; w < w1; w++) m = xc[h * %lld + w] > m ? xc[h * %lld + w] : m;",
            (long long)W, (long long)W);
  emit_close(e);
  emit_line(e, "y[c * %lld + ph * %lld + pw] = m;", bins, (long long)PW);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

const op_def op_family_roi[] = {
    {"RoiAlign", "", infer_roi_align, NULL, emit_roi_align, 0},
    {"MaxRoiPool", "", infer_max_roi_pool, NULL, emit_max_roi_pool, 0},
    {NULL},
};
