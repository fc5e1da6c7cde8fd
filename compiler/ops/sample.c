/* Sampling and geometry: GridSample and the ops built on the same
 * interpolation (AffineGrid makes its grids, DeformConv samples at learned
 * offsets), and Col2Im, MaxUnpool, which scatter back into images.
 * RoiAlign and MaxRoiPool live in roi.c. */
#include <stdio.h>

#include "common.h"
#include "sample.h"

#define SP 3 /* most spatial axes the samplers handle */

/* ---- taps: the shared interpolation kernel ---- */

int sample_taps(sample_mode mode) { return mode == SAMPLE_NEAREST ? 1 : mode == SAMPLE_LINEAR ? 2 : 4; }

/* Reflects T variable v into [lo, hi] as often as needed, as PyTorch's
 * reflect_coordinates does (whole spans flip the direction). */
static void emit_reflect(emit_ctx *e, ir_dtype t, const char *v, double lo, double hi) {
  const char *L = emit_literal(e, t, lo), *H = emit_literal(e, t, hi);
  if (hi <= lo) { /* a single pixel: everything lands on it */
    emit_line(e, "%s = %s;", v, L);
    return;
  }
  emit_open(e, "if (%s < %s || %s > %s)", v, L, v, H);
  emit_line(e, "const %s over = %s < %s ? %s - %s : %s - %s;", ir_dtype_ctype(t), v, L, L, v, v, H);
  emit_line(e, "const %s turns = %s(over / %s);", ir_dtype_ctype(t), math_fn(e, "floor", t),
            emit_literal(e, t, hi - lo));
  emit_line(e, "const %s rest = over - turns * %s;", ir_dtype_ctype(t), emit_literal(e, t, hi - lo));
  emit_line(e, "const int even = %s(turns, %s) == 0;", math_fn(e, "fmod", t), emit_literal(e, t, 2));
  emit_line(e, "%s = (%s < %s) == even ? %s + rest : %s - rest;", v, v, L, L, H);
  emit_close(e);
}

/* Keys' cubic convolution weights (A = -0.75) of fraction "d" into w[0..3]. */
static void emit_cubic_weights(emit_ctx *e, ir_dtype t, const char *w) {
  const char *T = ir_dtype_ctype(t);
  const char *A = emit_literal(e, t, -0.75), *B = emit_literal(e, t, 1.25),
             *C = emit_literal(e, t, 2.25), *D = emit_literal(e, t, 3.75);
  emit_line(e, "const %s u0 = d + 1, u2 = 1 - d, u3 = 2 - d;", T);
  emit_line(e, "%s[0] = ((%s * u0 + %s) * u0 - 6) * u0 + 3;", w, A, D);
  emit_line(e, "%s[1] = (%s * d - %s) * d * d + 1;", w, B, C);
  emit_line(e, "%s[2] = (%s * u2 - %s) * u2 * u2 + 1;", w, B, C);
  emit_line(e, "%s[3] = ((%s * u3 + %s) * u3 - 6) * u3 + 3;", w, A, D);
}

void sample_emit_axis(emit_ctx *e, const sample_axis *a) {
  ir_dtype t = a->dtype;
  const char *T = ir_dtype_ctype(t);
  int K = sample_taps(a->mode), i = a->index;
  long long len = (long long)a->len;
  /* Coordinates outside [lo, hi] (the corner pixels' centres with
   * align_corners, else the image's outer edges) are border- or reflection-padded. */
  double lo = a->align ? 0 : -0.5, hi = a->align ? (double)len - 1 : (double)len - 0.5;
  emit_line(e, "%s w%d[%d];", T, i, K);
  emit_line(e, "int64_t at%d[%d];", i, K);
  emit_open(e, "%s", "");
  emit_line(e, "%s x = %s;", T, a->coord);
  if (a->mode == SAMPLE_NEAREST) /* halves to even, as PyTorch */
    emit_line(e, "x = %s(x);", math_fn(e, "nearbyint", t));
  if (a->pad == SAMPLE_BORDER)
    emit_line(e, "if (x < %s || x > %s) x = x < 0 ? 0 : x > %s ? %s : x;", emit_literal(e, t, lo),
              emit_literal(e, t, hi), emit_literal(e, t, (double)len - 1), emit_literal(e, t, (double)len - 1));
  else if (a->pad == SAMPLE_REFLECTION)
    emit_reflect(e, t, "x", lo, hi);
  /* Far outside (or NaN) every tap misses alike: keeps the casts defined. */
  const char *far = emit_literal(e, t, (double)len + 4);
  emit_line(e, "if (!(x > -%s)) x = -%s;", far, far);
  emit_line(e, "if (x > %s) x = %s;", far, far);
  if (a->mode == SAMPLE_NEAREST) {
    emit_line(e, "const int64_t b = (int64_t)x;");
    emit_line(e, "w%d[0] = 1;", i);
  } else {
    emit_line(e, "const %s f = %s(x), d = x - f;", T, math_fn(e, "floor", t));
    emit_line(e, "const int64_t b = (int64_t)f%s;", a->mode == SAMPLE_CUBIC ? " - 1" : "");
    if (a->mode == SAMPLE_LINEAR) {
      emit_line(e, "w%d[0] = 1 - d;", i);
      emit_line(e, "w%d[1] = d;", i);
    } else {
      emit_cubic_weights(e, t, mem_printf(e->g->mem, "w%d", i));
    }
  }
  emit_open(e, "for (int k = 0; k < %d; k++)", K);
  emit_line(e, "int64_t j = b + k;");
  if (a->pad == SAMPLE_ZEROS) {
    emit_open(e, "if (j < 0 || j >= %lld)", len);
    emit_line(e, "w%d[k] = 0;", i);
    emit_line(e, "j = 0;");
    emit_close(e);
  } else if (a->pad == SAMPLE_BORDER) {
    emit_line(e, "j = j < 0 ? 0 : j >= %lld ? %lld : j;", len, len - 1);
  } else {
    emit_open(e, "if (j < 0 || j >= %lld)", len);
    emit_line(e, "%s v = (%s)j;", T, T);
    emit_reflect(e, t, "v", lo, hi);
    emit_line(e, "j = (int64_t)v;");
    emit_line(e, "j = j < 0 ? 0 : j >= %lld ? %lld : j;", len, len - 1); /* -0.5 truncates to 0 */
    emit_close(e);
  }
  emit_line(e, "at%d[k] = %s;", i, emit_scaled(e, "j", a->stride));
  emit_close(e);
  emit_close(e);
}

void sample_emit_sum(emit_ctx *e, int r, sample_mode mode, const char *acc, const char *src,
                     const char *scale) {
  int K = sample_taps(mode);
  char w[256] = "", at[256] = "";
  size_t wl = 0, al = 0;
  for (int i = 0; i < r; i++) {
    if (K > 1)
      emit_open(e, "for (int k%d = 0; k%d < %d; k%d++)", i, i, K, i);
    const char *k = K > 1 ? mem_printf(e->g->mem, "k%d", i) : "0";
    wl += (size_t)snprintf(w + wl, sizeof w - wl, "%sw%d[%s]", i ? " * " : "", i, k);
    al += (size_t)snprintf(at + al, sizeof at - al, "%sat%d[%s]", i ? " + " : "", i, k);
  }
  emit_line(e, "%s += %s%s * %s[%s];", acc, scale ? scale : "", w, src, at);
  for (int i = 0; i < r && K > 1; i++)
    emit_close(e);
}

/* ---- GridSample ---- */

static nn_status grid_sample_modes(ir_graph *g, const ir_node *n, sample_mode *mode,
                                   sample_pad *pad) {
  const char *m = ir_attr_string(n, "mode", n->opset < 20 ? "bilinear" : "linear");
  const char *p = ir_attr_string(n, "padding_mode", "zeros");
  if (!strcmp(m, "bilinear") || !strcmp(m, "linear"))
    *mode = SAMPLE_LINEAR;
  else if (!strcmp(m, "bicubic") || !strcmp(m, "cubic"))
    *mode = SAMPLE_CUBIC;
  else if (!strcmp(m, "nearest"))
    *mode = SAMPLE_NEAREST;
  else
    return diag_node(g->path, n, "unknown mode '%s'", m);
  if (!strcmp(p, "zeros"))
    *pad = SAMPLE_ZEROS;
  else if (!strcmp(p, "border"))
    *pad = SAMPLE_BORDER;
  else if (!strcmp(p, "reflection"))
    *pad = SAMPLE_REFLECTION;
  else
    return diag_node(g->path, n, "unknown padding_mode '%s'", p);
  return NN_OK;
}

static nn_status infer_grid_sample(ir_graph *g, ir_node *n) {
  sample_mode mode;
  sample_pad pad;
  if (check_arity(g, n, 2, 2) || check_float(g, n, 0) || check_float(g, n, 1) ||
      grid_sample_modes(g, n, &mode, &pad))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0], *grid = n->inputs[1];
  int r = x->rank - 2;
  if (r < 1 || r > SP)
    return diag_node(g->path, n, "input X has rank %d; N, C and 1 to %d spatial axes are supported",
                     x->rank, SP);
  if (n->opset < 20 && r != 2)
    return diag_node(g->path, n, "opset %d GridSample takes 4-D input only; X has rank %d", n->opset, x->rank);
  if (grid->rank != x->rank || grid->dims[0] != x->dims[0] || grid->dims[grid->rank - 1] != r) {
    char a[128], b[128];
    return diag_node(g->path, n, "grid %s does not match X %s: expected [N, spatial..., %d]",
                     ir_shape_str(grid, a, sizeof a), ir_shape_str(x, b, sizeof b), r);
  }
  for (int i = 0; i < r; i++)
    if (x->dims[2 + i] < 1)
      return diag_node(g->path, n, "X has an empty spatial axis %d: there is nothing to sample", i);
  if (mode == SAMPLE_CUBIC && r != 2)
    return diag_node(g->path, n, "cubic mode needs 2 spatial axes; X has %d", r);
  int64_t dims[IR_MAX_RANK] = {x->dims[0], x->dims[1]};
  for (int i = 0; i < r; i++)
    dims[2 + i] = grid->dims[1 + i];
  ir_set_shape(n->outputs[0], x->dtype, x->rank, dims);
  return NN_OK;
}

/* Pixel coordinate of normalized grid value g along an axis of length len:
 * -1 and 1 are the corner pixels' centres (align_corners) or outer edges. */
static const char *denormalize(emit_ctx *e, ir_dtype t, const char *g, int64_t len, bool align) {
  if (align)
    return mem_printf(e->g->mem, "((%s)%s + 1) * %s", ir_dtype_ctype(t), g,
                      emit_literal(e, t, (double)(len - 1) / 2));
  return mem_printf(e->g->mem, "((%s)%s + 1) * %s - %s", ir_dtype_ctype(t), g,
                    emit_literal(e, t, (double)len / 2), emit_literal(e, t, 0.5));
}

static void emit_grid_sample(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *y = n->outputs[0];
  sample_mode mode;
  sample_pad pad;
  if (grid_sample_modes(e->g, n, &mode, &pad) || ir_numel(y) == 0)
    return;
  ir_dtype t = x->dtype;
  int r = x->rank - 2, K = sample_taps(mode);
  bool align = ir_attr_int(n, "align_corners", 0) != 0;
  int64_t N = x->dims[0], C = x->dims[1], P = 1, plane = 1, stride[SP];
  for (int i = r - 1; i >= 0; i--) {
    stride[i] = plane;
    plane *= x->dims[2 + i];
    P *= y->dims[2 + i];
  }
  int64_t work = C, kr = 1;
  for (int i = 0; i < r; i++)
    kr *= K;
  emit_parallel_for(e, "np", N * P, work * kr + 16);
  emit_line(e, "const int64_t n = np / %lld, p = np %% %lld;", (long long)P, (long long)P);
  emit_line(e, "const %s *g = in1 + np * %d;", ir_dtype_ctype(n->inputs[1]->dtype), r);
  for (int i = 0; i < r; i++) { /* the grid lists coordinates innermost axis first */
    sample_axis a = {i, x->dims[2 + i], stride[i], t, mode, pad, align,
                     denormalize(e, t, mem_printf(e->g->mem, "g[%d]", r - 1 - i), x->dims[2 + i], align)};
    sample_emit_axis(e, &a);
  }
  emit_for(e, "c", C);
  emit_line(e, "const %s *xc = in0 + (n * %lld + c) * %lld;", ir_dtype_ctype(t), (long long)C,
            (long long)plane);
  emit_line(e, "%s acc = 0;", ir_dtype_ctype(t));
  sample_emit_sum(e, r, mode, "acc", "xc", NULL);
  emit_line(e, "out0[(n * %lld + c) * %lld + p] = acc;", (long long)C, (long long)P);
  emit_close(e);
  emit_close(e);
}

/* ---- AffineGrid ---- */

static nn_status infer_affine_grid(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2) || check_float(g, n, 0))
    return NN_ERR;
  int64_t size[2 + SP];
  int k = const_input_ints(g, n, 1, "size", size, 2 + SP);
  if (k < 0)
    return NN_ERR;
  const ir_tensor *theta = n->inputs[0];
  int r = k - 2;
  if (r != 2 && r != 3)
    return diag_node(g->path, n, "size has %d values; expected 4 (N, C, H, W) or 5 (N, C, D, H, W)", k);
  if (theta->rank != 3 || theta->dims[0] != size[0] || theta->dims[1] != r || theta->dims[2] != r + 1) {
    char a[128];
    return diag_node(g->path, n, "theta %s: expected [%lld, %d, %d] for size of %d values",
                     ir_shape_str(theta, a, sizeof a), (long long)size[0], r, r + 1, k);
  }
  int64_t dims[IR_MAX_RANK] = {size[0]};
  for (int i = 0; i < r; i++) {
    if (size[2 + i] < 0)
      return diag_node(g->path, n, "size[%d] is negative (%lld)", 2 + i, (long long)size[2 + i]);
    dims[1 + i] = size[2 + i];
  }
  dims[1 + r] = r;
  ir_set_shape(n->outputs[0], theta->dtype, r + 2, dims);
  return NN_OK;
}

/* The normalized coordinate of pixel v along an axis of len pixels, in double. */
static const char *base_coord(emit_ctx *e, const char *v, int64_t len, bool align) {
  if (align)
    return len > 1 ? mem_printf(e->g->mem, "-1.0 + (double)%s * %s", v,
                                emit_literal(e, IR_DOUBLE, 2.0 / (double)(len - 1)))
                   : "-1.0";
  return mem_printf(e->g->mem, "-1.0 + (double)(2 * %s + 1) / %lld.0", v, (long long)len);
}

static void emit_affine_grid(emit_ctx *e, const ir_node *n) {
  const ir_tensor *y = n->outputs[0];
  if (ir_numel(y) == 0)
    return;
  int r = y->rank - 2;
  bool align = ir_attr_int(n, "align_corners", 0) != 0;
  emit_for(e, "n", y->dims[0]);
  emit_line(e, "const %s *th = in0 + n * %d;", ir_dtype_ctype(n->inputs[0]->dtype), r * (r + 1));
  emit_line(e, "%s *o = out0 + n * %lld;", ir_dtype_ctype(y->dtype), (long long)(ir_numel(y) / y->dims[0]));
  for (int i = 0; i < r; i++) {
    emit_for(e, mem_printf(e->g->mem, "s%d", i), y->dims[1 + i]);
    /* homogeneous coordinates list the innermost axis first */
    emit_line(e, "const double v%d = %s;", r - 1 - i,
              base_coord(e, mem_printf(e->g->mem, "s%d", i), y->dims[1 + i], align));
  }
  emit_open(e, "for (int j = 0; j < %d; j++)", r);
  char sum[256];
  size_t len = 0;
  for (int i = 0; i < r; i++)
    len += (size_t)snprintf(sum + len, sizeof sum - len, "th[j * %d + %d] * v%d + ", r + 1, i, i);
  emit_line(e, "o[j] = (%s)(%sth[j * %d + %d]);", ir_dtype_ctype(y->dtype), sum, r + 1, r);
  emit_close(e);
  emit_line(e, "o += %d;", r);
  for (int i = 0; i <= r; i++)
    emit_close(e);
}

/* ---- DeformConv (2-D) ---- */

/* DeformConv's geometry: W [OC, IC/group, kh, kw], offset [N, og*2*kh*kw, OH, OW]. */
typedef struct deform_geom {
  int64_t n, ic, ih, iw, oc, oh, ow, kh, kw, group, og;
  int64_t s[2], d[2], pads[4];
} deform_geom;

static nn_status deform_geometry(ir_graph *g, const ir_node *n, deform_geom *p) {
  const ir_tensor *x = n->inputs[0], *w = n->inputs[1], *off = n->inputs[2];
  if (x->rank != 4 || w->rank != 4 || off->rank != 4)
    return diag_node(g->path, n, "X, W and offset must be 4-D (N, C, H, W); only 2-D DeformConv is supported");
  if (x->dims[2] < 1 || x->dims[3] < 1)
    return diag_node(g->path, n, "X has an empty spatial axis: there is nothing to sample");
  *p = (deform_geom){.n = x->dims[0], .ic = x->dims[1], .ih = x->dims[2], .iw = x->dims[3],
                     .oc = w->dims[0], .kh = w->dims[2], .kw = w->dims[3],
                     .group = ir_attr_int(n, "group", 1), .og = ir_attr_int(n, "offset_group", 1),
                     .s = {1, 1}, .d = {1, 1}};
  int64_t ks[2];
  int nk = attr_ints(g, n, "kernel_shape", ks, 2), ns = attr_ints(g, n, "strides", p->s, 2),
      nd = attr_ints(g, n, "dilations", p->d, 2), np = attr_ints(g, n, "pads", p->pads, 4);
  if (nk < 0 || ns < 0 || nd < 0 || np < 0)
    return NN_ERR;
  if ((nk && (nk != 2 || ks[0] != p->kh || ks[1] != p->kw)) || (ns && ns != 2) || (nd && nd != 2) ||
      (np && np != 4))
    return diag_node(g->path, n, "kernel_shape, strides, dilations and pads must match 2-D W");
  if (!ns)
    p->s[0] = p->s[1] = 1;
  if (!nd)
    p->d[0] = p->d[1] = 1;
  if (p->s[0] < 1 || p->s[1] < 1 || p->d[0] < 1 || p->d[1] < 1)
    return diag_node(g->path, n, "strides and dilations must be positive");
  if (p->group < 1 || p->og < 1 || p->ic != w->dims[1] * p->group || p->oc % p->group ||
      p->ic % p->og)
    return diag_node(g->path, n, "X has %lld channels, W %lld per group: inconsistent with group %lld "
                     "and offset_group %lld", (long long)p->ic, (long long)w->dims[1],
                     (long long)p->group, (long long)p->og);
  int64_t span_h = p->ih + p->pads[0] + p->pads[2] - (p->kh - 1) * p->d[0] - 1,
          span_w = p->iw + p->pads[1] + p->pads[3] - (p->kw - 1) * p->d[1] - 1;
  p->oh = span_h / p->s[0] + 1;
  p->ow = span_w / p->s[1] + 1;
  if (span_h < 0 || span_w < 0)
    return diag_node(g->path, n, "the kernel does not fit the padded input");
  if (off->dims[0] != p->n || off->dims[1] != p->og * 2 * p->kh * p->kw || off->dims[2] != p->oh ||
      off->dims[3] != p->ow)
    return diag_node(g->path, n, "offset must be [%lld, %lld, %lld, %lld]", (long long)p->n,
                     (long long)(p->og * 2 * p->kh * p->kw), (long long)p->oh, (long long)p->ow);
  const ir_tensor *b = ir_in(n, 3), *m = ir_in(n, 4);
  if (b && (b->rank != 1 || b->dims[0] != p->oc))
    return diag_node(g->path, n, "B must be [%lld]", (long long)p->oc);
  if (m && (m->rank != 4 || m->dims[0] != p->n || m->dims[1] != p->og * p->kh * p->kw ||
            m->dims[2] != p->oh || m->dims[3] != p->ow))
    return diag_node(g->path, n, "mask must be [%lld, %lld, %lld, %lld]", (long long)p->n,
                     (long long)(p->og * p->kh * p->kw), (long long)p->oh, (long long)p->ow);
  return NN_OK;
}

static nn_status infer_deform_conv(ir_graph *g, ir_node *n) {
  deform_geom p;
  if (check_arity(g, n, 3, 5))
    return NN_ERR;
  for (int k = 0; k < n->n_inputs; k++)
    if (check_float(g, n, k))
      return NN_ERR;
  if (deform_geometry(g, n, &p))
    return NN_ERR;
  int64_t dims[4] = {p.n, p.oc, p.oh, p.ow};
  ir_set_shape(n->outputs[0], n->inputs[0]->dtype, 4, dims);
  return NN_OK;
}

/* For each output pixel and kernel tap, the tap's position moves by its
 * learned offset; the input is sampled there bilinearly (zero outside),
 * scaled by the mask and multiplied into every output channel of its group. */
static void emit_deform_conv(emit_ctx *e, const ir_node *n) {
  deform_geom p;
  if (deform_geometry(e->g, n, &p))
    return;
  ir_dtype t = n->inputs[0]->dtype;
  const char *T = ir_dtype_ctype(t);
  long long kk = p.kh * p.kw, opix = p.oh * p.ow, icg = p.ic / p.group, ocg = p.oc / p.group,
            icog = p.ic / p.og;
  emit_parallel_for(e, "n", p.n, p.oc * opix * kk * icg * 4);
  emit_for(e, "oc", p.oc);
  emit_for(e, "q", opix);
  emit_line(e, "out0[(n * %lld + oc) * %lld + q] = %s;", (long long)p.oc, opix,
            ir_in(n, 3) ? "in3[oc]" : emit_literal(e, t, 0));
  emit_close(e);
  emit_close(e);
  emit_for(e, "oh", p.oh);
  emit_for(e, "ow", p.ow);
  emit_for(e, "og", p.og);
  emit_for(e, "ki", p.kh);
  emit_for(e, "kj", p.kw);
  emit_line(e, "const int64_t k = ki * %lld + kj;", (long long)p.kw);
  emit_line(e, "const %s *o = in2 + ((n * %lld + og * %lld + k * 2) * %lld) + oh * %lld + ow;", T,
            (long long)(p.og * 2 * kk), 2 * kk, opix, (long long)p.ow);
  const char *mask = ir_in(n, 4)
      ? mem_printf(e->g->mem, "in4[(n * %lld + og * %lld + k) * %lld + oh * %lld + ow]",
                   (long long)(p.og * kk), kk, opix, (long long)p.ow)
      : emit_literal(e, t, 1);
  emit_line(e, "const %s m = %s;", T, mask);
  sample_axis ah = {0, p.ih, p.iw, t, SAMPLE_LINEAR, SAMPLE_ZEROS, true,
                    mem_printf(e->g->mem, "(%s)(oh * %lld - %lld + ki * %lld) + o[0]", T,
                               (long long)p.s[0], (long long)p.pads[0], (long long)p.d[0])};
  sample_axis aw = {1, p.iw, 1, t, SAMPLE_LINEAR, SAMPLE_ZEROS, true,
                    mem_printf(e->g->mem, "(%s)(ow * %lld - %lld + kj * %lld) + o[%lld]", T,
                               (long long)p.s[1], (long long)p.pads[1], (long long)p.d[1], opix)};
  sample_emit_axis(e, &ah);
  sample_emit_axis(e, &aw);
  emit_for(e, "ic", icog);
  emit_line(e, "const int64_t c = og * %lld + ic;", icog);
  emit_line(e, "const %s *xc = in0 + (n * %lld + c) * %lld;", T, (long long)p.ic,
            (long long)(p.ih * p.iw));
  emit_line(e, "%s v = 0;", T);
  sample_emit_sum(e, 2, SAMPLE_LINEAR, "v", "xc", NULL);
  emit_line(e, "v *= m;");
  emit_line(e, "const int64_t gr = c / %lld;", icg);
  emit_for(e, "oj", ocg);
  emit_line(e, "const int64_t oc = gr * %lld + oj;", ocg);
  emit_line(e, "out0[(n * %lld + oc) * %lld + oh * %lld + ow] += in1[(oc * %lld + c - gr * %lld) * %lld + k] * v;",
            (long long)p.oc, opix, (long long)p.ow, icg, icg, kk);
  for (int i = 0; i < 8; i++)
    emit_close(e);
}

/* ---- Col2Im ---- */

/* Col2Im's geometry: r spatial axes, blocks per axis. */
typedef struct col_geom {
  int r;
  int64_t img[SP], blk[SP], s[SP], d[SP], pb[SP], pe[SP], nb[SP], kvol, lvol, c;
} col_geom;

static nn_status col2im_geometry(ir_graph *g, const ir_node *n, col_geom *p) {
  int r = const_input_ints(g, n, 1, "image_shape", p->img, SP);
  int rb = const_input_ints(g, n, 2, "block_shape", p->blk, SP);
  if (r < 0 || rb < 0)
    return NN_ERR;
  if (r < 1 || rb != r)
    return diag_node(g->path, n, "image_shape and block_shape must have the same length, 1 to %d", SP);
  p->r = r;
  int64_t pads[2 * SP];
  int ns = attr_ints(g, n, "strides", p->s, SP), nd = attr_ints(g, n, "dilations", p->d, SP),
      np = attr_ints(g, n, "pads", pads, 2 * SP);
  if (ns < 0 || nd < 0 || np < 0)
    return NN_ERR;
  if ((ns && ns != r) || (nd && nd != r) || (np && np != 2 * r))
    return diag_node(g->path, n, "strides, dilations and pads must have %d, %d and %d values", r, r, 2 * r);
  const ir_tensor *x = n->inputs[0];
  if (x->rank != 3)
    return diag_node(g->path, n, "input must be 3-D [N, C * prod(block_shape), L]");
  p->kvol = p->lvol = 1;
  for (int i = 0; i < r; i++) {
    p->s[i] = ns ? p->s[i] : 1;
    p->d[i] = nd ? p->d[i] : 1;
    p->pb[i] = np ? pads[i] : 0;
    p->pe[i] = np ? pads[r + i] : 0;
    if (p->s[i] < 1 || p->d[i] < 1 || p->blk[i] < 1 || p->img[i] < 1)
      return diag_node(g->path, n, "image_shape, block_shape, strides and dilations must be positive");
    int64_t span = p->img[i] + p->pb[i] + p->pe[i] - p->d[i] * (p->blk[i] - 1) - 1;
    p->nb[i] = span / p->s[i] + 1;
    if (span < 0)
      return diag_node(g->path, n, "the block does not fit the padded image along axis %d", i);
    p->kvol *= p->blk[i];
    p->lvol *= p->nb[i];
  }
  if (x->dims[1] % p->kvol || x->dims[2] != p->lvol)
    return diag_node(g->path, n, "input [%lld, %lld, %lld]: dim 1 must be a multiple of %lld and "
                     "dim 2 equal %lld blocks", (long long)x->dims[0], (long long)x->dims[1],
                     (long long)x->dims[2], (long long)p->kvol, (long long)p->lvol);
  p->c = x->dims[1] / p->kvol;
  return NN_OK;
}

static nn_status infer_col2im(ir_graph *g, ir_node *n) {
  col_geom p;
  if (check_arity(g, n, 3, 3) || col2im_geometry(g, n, &p))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  if (x->dtype == IR_BOOL)
    return diag_node(g->path, n, "bool input is not allowed");
  int64_t dims[IR_MAX_RANK] = {x->dims[0], p.c};
  for (int i = 0; i < p.r; i++)
    dims[2 + i] = p.img[i];
  ir_set_shape(n->outputs[0], x->dtype, 2 + p.r, dims);
  return NN_OK;
}

/* Each column entry (channel, kernel offset, block) adds into the image
 * pixel it came from; entries that fell in the padding are dropped. */
static void emit_col2im(emit_ctx *e, const ir_node *n) {
  col_geom p;
  const ir_tensor *y = n->outputs[0];
  if (col2im_geometry(e->g, n, &p) || ir_numel(y) == 0)
    return;
  int64_t plane = 1, st[SP];
  for (int i = p.r - 1; i >= 0; i--) {
    st[i] = plane;
    plane *= p.img[i];
  }
  emit_parallel_for(e, "nc", y->dims[0] * p.c, p.kvol * p.lvol);
  emit_line(e, "%s *o = out0 + nc * %lld;", ir_dtype_ctype(y->dtype), (long long)plane);
  emit_line(e, "memset(o, 0, %zu);", (size_t)plane * ir_dtype_size(y->dtype));
  emit_line(e, "const %s *x = in0 + nc * %lld;", ir_dtype_ctype(y->dtype), (long long)(p.kvol * p.lvol));
  for (int i = 0; i < p.r; i++)
    emit_for(e, mem_printf(e->g->mem, "k%d", i), p.blk[i]);
  for (int i = 0; i < p.r; i++) {
    emit_for(e, mem_printf(e->g->mem, "b%d", i), p.nb[i]);
    emit_line(e, "const int64_t p%d = b%d * %lld + k%d * %lld - %lld;", i, i, (long long)p.s[i], i,
              (long long)p.d[i], (long long)p.pb[i]);
    emit_line(e, "if (p%d < 0 || p%d >= %lld) continue;", i, i, (long long)p.img[i]);
  }
  char src[512] = "", dst[512] = "";
  size_t sl = 0, dl = 0;
  int64_t ks = p.lvol, ls = 1;
  for (int i = p.r - 1; i >= 0; i--) {
    sl += (size_t)snprintf(src + sl, sizeof src - sl, " + k%d * %lld + b%d * %lld", i,
                           (long long)ks, i, (long long)ls);
    ks *= p.blk[i];
    ls *= p.nb[i];
    dl += (size_t)snprintf(dst + dl, sizeof dst - dl, " + p%d * %lld", i, (long long)st[i]);
  }
  emit_line(e, "o[%s] += x[%s];", dst + 3, src + 3);
  for (int i = 0; i < 2 * p.r; i++)
    emit_close(e);
  emit_close(e);
}

/* ---- MaxUnpool ---- */

/* The unpooled shape MaxPool's indices refer to: (in - 1) * stride - pads + kernel. */
static nn_status unpool_shape(ir_graph *g, const ir_node *n, int64_t *dims) {
  const ir_tensor *x = n->inputs[0];
  int r = x->rank - 2;
  if (r < 1 || r > IR_MAX_RANK - 2)
    return diag_node(g->path, n, "input has rank %d; expected N, C and spatial axes", x->rank);
  int64_t k[IR_MAX_RANK], s[IR_MAX_RANK], pads[2 * IR_MAX_RANK];
  int nk = attr_ints(g, n, "kernel_shape", k, r), ns = attr_ints(g, n, "strides", s, r),
      np = attr_ints(g, n, "pads", pads, 2 * r);
  if (nk < 0 || ns < 0 || np < 0)
    return NN_ERR;
  if (nk != r || (ns && ns != r) || (np && np != 2 * r))
    return diag_node(g->path, n, "kernel_shape (required), strides and pads must have %d, %d and %d values",
                     r, r, 2 * r);
  dims[0] = x->dims[0];
  dims[1] = x->dims[1];
  for (int i = 0; i < r; i++) {
    dims[2 + i] = (x->dims[2 + i] - 1) * (ns ? s[i] : 1) - (np ? pads[i] + pads[r + i] : 0) + k[i];
    if (dims[2 + i] < 0)
      return diag_node(g->path, n, "the unpooled size of spatial axis %d is negative", i);
  }
  return NN_OK;
}

static nn_status infer_max_unpool(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 3))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0], *idx = n->inputs[1];
  int64_t dims[IR_MAX_RANK], shape[IR_MAX_RANK];
  if (unpool_shape(g, n, dims))
    return NN_ERR;
  if (idx->dtype != IR_INT64 || idx->rank != x->rank || ir_numel(idx) != ir_numel(x))
    return diag_node(g->path, n, "I must be int64 with X's shape");
  int k = const_input_ints(g, n, 2, "output_shape", shape, IR_MAX_RANK);
  if (k < 0)
    return NN_ERR;
  if (k && k != x->rank)
    return diag_node(g->path, n, "output_shape has %d values; X has rank %d", k, x->rank);
  for (int d = 0; d < k; d++) {
    if (shape[d] < dims[d])
      return diag_node(g->path, n, "output_shape[%d] = %lld is smaller than the unpooled %lld", d,
                       (long long)shape[d], (long long)dims[d]);
    dims[d] = shape[d];
  }
  ir_set_shape(n->outputs[0], x->dtype, x->rank, dims);
  return NN_OK;
}

/* Indices address the unpooled tensor flat; a larger output_shape holds it
 * in its leading corner, so an index is split and re-laid out. */
static void emit_max_unpool(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *y = n->outputs[0];
  int64_t u[IR_MAX_RANK];
  if (unpool_shape(e->g, n, u) || ir_numel(y) == 0)
    return;
  int64_t total = 1, ust[IR_MAX_RANK], yst[IR_MAX_RANK];
  bool same = true;
  emit_strides(y, yst);
  for (int d = x->rank - 1; d >= 0; d--) {
    ust[d] = total;
    total *= u[d];
    same = same && u[d] == y->dims[d];
  }
  emit_line(e, "memset(out0, 0, %zu);", ir_bytes(y));
  emit_for(e, "i", ir_numel(x));
  emit_line(e, "const int64_t j = in1[i];");
  emit_line(e, "if (j < 0 || j >= %lld) continue;", (long long)total);
  if (same) {
    emit_line(e, "out0[j] = in0[i];");
  } else {
    char buf[512] = "";
    size_t len = 0;
    for (int d = 0; d < x->rank; d++)
      len += (size_t)snprintf(buf + len, sizeof buf - len, "%s(j / %lld %% %lld) * %lld",
                              d ? " + " : "", (long long)ust[d], (long long)u[d], (long long)yst[d]);
    emit_line(e, "out0[%s] = in0[i];", buf);
  }
  emit_close(e);
}

const op_def op_family_sample[] = {
    {"GridSample", "", infer_grid_sample, NULL, emit_grid_sample, 0},
    {"AffineGrid", "", infer_affine_grid, NULL, emit_affine_grid, 0, OP_CONST(1)},
    {"DeformConv", "", infer_deform_conv, NULL, emit_deform_conv, 0},
    {"Col2Im", "", infer_col2im, NULL, emit_col2im, 0, OP_CONST(1) | OP_CONST(2)},
    {"MaxUnpool", "", infer_max_unpool, NULL, emit_max_unpool, 0, OP_CONST(2)},
    {NULL},
};
