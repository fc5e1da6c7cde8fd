/* Resize and Upsample. Everything that depends on coordinates is worked out
 * at compile time: per resized axis, a table gives each output index the
 * input offsets it reads and their weights (nearest: one tap; linear: two;
 * cubic: four; antialias: as wide as the scaled filter). The generated code
 * only sums taps, so every mode and coordinate transform costs the same. */
#include <stdio.h>

#include "common.h"
#include "grad_rules.h"
#include "resize_taps.h"

/* Index of s in names (n of them), or -1. */
static int lookup(const char *s, const char *const *names, int n) {
  for (int i = 0; i < n; i++)
    if (strcmp(s, names[i]) == 0)
      return i;
  return -1;
}

static nn_status read_modes(ir_graph *g, const ir_node *n, resize_params *rp) {
  bool old = strcmp(n->op_type, "Upsample") == 0 || n->opset < 11;
  static const char *const modes[] = {"nearest", "linear", "cubic", "bilinear"};
  static const char *const coords[] = {"half_pixel",         "half_pixel_symmetric",
                                       "pytorch_half_pixel", "align_corners",
                                       "asymmetric",         "tf_crop_and_resize"};
  static const char *const nearests[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                         "ceil"};
  const char *mode = ir_attr_string(n, "mode", "nearest");
  const char *coord =
      old ? "asymmetric" : ir_attr_string(n, "coordinate_transformation_mode", "half_pixel");
  const char *nearest = ir_attr_string(n, "nearest_mode", "round_prefer_floor");
  int m = lookup(mode, modes, 4), c = lookup(coord, coords, 6), k = lookup(nearest, nearests, 4);
  if (m < 0 || (m == MODE_CUBIC && old))
    return diag_node(g->path, n, "mode '%s' is not supported", mode);
  if (c < 0)
    return diag_node(g->path, n, "coordinate_transformation_mode '%s' is not supported", coord);
  if (k < 0)
    return diag_node(g->path, n, "nearest_mode '%s' is not supported", nearest);
  rp->mode = m == 3 ? MODE_LINEAR : (interp_mode)m;
  rp->coord = (coord_mode)c;
  rp->nearest = old ? NEAREST_SIMPLE : (nearest_mode)k;
  rp->cubic_a = ir_attr_float(n, "cubic_coeff_a", -0.75);
  rp->extrapolation = ir_attr_float(n, "extrapolation_value", 0);
  rp->exclude_outside = ir_attr_int(n, "exclude_outside", 0) != 0;
  rp->antialias = ir_attr_int(n, "antialias", 0) != 0;
  if (rp->antialias && rp->mode == MODE_NEAREST)
    return diag_node(g->path, n, "antialias is not defined for mode 'nearest'");
  return NN_OK;
}

/* Input k as doubles; must be a constant float tensor. -1 after reporting. */
static int const_floats(ir_graph *g, const ir_node *n, int k, const char *what, double *vals) {
  const ir_tensor *t = ir_in(n, k);
  if (!t)
    return 0;
  if (require_constant(g, n, k, what))
    return -1;
  if ((t->dtype != IR_FLOAT && t->dtype != IR_DOUBLE) || t->rank > 1 ||
      ir_numel(t) > 2 * IR_MAX_RANK) {
    diag_node(g->path, n, "input %d '%s' must be a short 1-D float tensor", k, what);
    return -1;
  }
  for (int64_t i = 0; i < ir_numel(t); i++)
    vals[i] = ir_weight_float(t, i);
  return (int)ir_numel(t);
}

/* Axes that scales, sizes and roi refer to (attribute 'axes', opset 18). */
static int resize_axes(ir_graph *g, const ir_node *n, int *axes) {
  int r = n->inputs[0]->rank;
  const int64_t *v;
  int na = ir_attr_ints(n, "axes", &v);
  if (!ir_attr_find(n, "axes")) {
    for (int d = 0; d < r; d++)
      axes[d] = d;
    return r;
  }
  bool seen[IR_MAX_RANK] = {false};
  if (na > r) {
    diag_node(g->path, n, "axes has %d entries for rank %d", na, r);
    return -1;
  }
  for (int i = 0; i < na; i++) {
    if (norm_axis(g, n, v[i], r, &axes[i]))
      return -1;
    if (seen[axes[i]]) {
      diag_node(g->path, n, "axis %d is given twice", axes[i]);
      return -1;
    }
    seen[axes[i]] = true;
  }
  return na;
}

/* Output sizes and scales from sizes (keep_aspect_ratio_policy applies). */
static nn_status from_sizes(ir_graph *g, const ir_node *n, resize_params *rp, const int *axes,
                            int na, const int64_t *sizes) {
  const ir_tensor *x = n->inputs[0];
  const char *policy = ir_attr_string(n, "keep_aspect_ratio_policy", "stretch");
  static const char *const policies[] = {"stretch", "not_larger", "not_smaller"};
  int p = lookup(policy, policies, 3);
  if (p < 0)
    return diag_node(g->path, n, "keep_aspect_ratio_policy '%s' is not supported", policy);
  double keep = p == 1 ? INFINITY : 0;
  for (int i = 0; i < na; i++) {
    int64_t in = x->dims[axes[i]];
    if (sizes[i] < 0 || in == 0)
      return diag_node(g->path, n, "cannot resize axis %d of size %lld to %lld", axes[i],
                       (long long)in, (long long)sizes[i]);
    double s = (double)sizes[i] / (double)in;
    keep = p == 1 ? fmin(keep, s) : fmax(keep, s);
    rp->scale[axes[i]] = s;
    rp->out[axes[i]] = sizes[i];
  }
  for (int i = 0; i < na && p != 0; i++) {
    rp->scale[axes[i]] = keep;
    rp->out[axes[i]] = (int64_t)(keep * (double)x->dims[axes[i]] + 0.5);
  }
  return NN_OK;
}

static nn_status read_roi(ir_graph *g, const ir_node *n, resize_params *rp, const int *axes,
                          int na) {
  double roi[2 * IR_MAX_RANK];
  int k = const_floats(g, n, 1, "roi", roi);
  if (k < 0)
    return NN_ERR;
  if (k != 2 * na)
    return diag_node(g->path, n, "tf_crop_and_resize needs roi with %d values, not %d", 2 * na, k);
  for (int i = 0; i < na; i++) {
    rp->roi_start[axes[i]] = roi[i];
    rp->roi_end[axes[i]] = roi[na + i];
  }
  return NN_OK;
}

/* Everything a Resize or Upsample node asks for, checked. */
nn_status resize_params_of(ir_graph *g, const ir_node *n, resize_params *rp) {
  const ir_tensor *x = n->inputs[0];
  if (read_modes(g, n, rp))
    return NN_ERR;
  int axes[IR_MAX_RANK], na = resize_axes(g, n, axes);
  if (na < 0)
    return NN_ERR;
  for (int d = 0; d < x->rank; d++) {
    rp->scale[d] = 1;
    rp->out[d] = x->dims[d];
    rp->roi_start[d] = 0;
    rp->roi_end[d] = 1;
  }
  double scales[2 * IR_MAX_RANK];
  int64_t sizes[IR_MAX_RANK];
  bool upsample7 = strcmp(n->op_type, "Upsample") == 0 && n->opset < 9;
  int ns = 0, nz = 0, scales_at = n->opset < 11 ? 1 : 2;
  if (upsample7) {
    const ir_attr *a = ir_attr_find(n, "scales");
    ns = a && a->type == IR_ATTR_FLOATS && a->n <= IR_MAX_RANK ? a->n : 0;
    for (int i = 0; i < ns; i++)
      scales[i] = a->floats[i];
    if (ns != x->rank)
      return diag_node(g->path, n, "attribute 'scales' must give one scale per axis (%d)", x->rank);
  } else {
    ns = const_floats(g, n, scales_at, "scales", scales);
    nz = n->opset < 11 ? 0 : const_input_ints(g, n, 3, "sizes", sizes, IR_MAX_RANK);
  }
  if (ns < 0 || nz < 0)
    return NN_ERR;
  if ((ns > 0) == (nz > 0))
    return diag_node(g->path, n, "needs exactly one of 'scales' and 'sizes'");
  if ((ns > 0 && ns != na) || (nz > 0 && nz != na))
    return diag_node(g->path, n, "'%s' has %d values for %d axes", ns ? "scales" : "sizes",
                     ns ? ns : nz, na);
  if (nz > 0 && from_sizes(g, n, rp, axes, na, sizes))
    return NN_ERR;
  for (int i = 0; i < ns; i++) {
    if (!(scales[i] > 0))
      return diag_node(g->path, n, "scale %g is not positive", scales[i]);
    rp->scale[axes[i]] = scales[i];
    rp->out[axes[i]] = (int64_t)(scales[i] * (double)x->dims[axes[i]]);
  }
  if (rp->coord == CT_TF_CROP_AND_RESIZE && read_roi(g, n, rp, axes, na))
    return NN_ERR;
  for (int d = 0; d < x->rank && rp->antialias; d++)
    if (rp->scale[d] < 1 && 4 / rp->scale[d] > MAX_TAPS - 4)
      return diag_node(g->path, n, "antialias at scale %g on axis %d needs too wide a filter",
                       rp->scale[d], d);
  return NN_OK;
}

static nn_status infer_resize(ir_graph *g, ir_node *n) {
  bool up = strcmp(n->op_type, "Upsample") == 0;
  int most = up ? (n->opset < 9 ? 1 : 2) : n->opset < 11 ? 2 : 4;
  if (check_arity(g, n, 1, most))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  resize_params rp;
  if (resize_params_of(g, n, &rp))
    return NN_ERR;
  if (rp.mode != MODE_NEAREST && x->dtype != IR_FLOAT && x->dtype != IR_DOUBLE)
    return diag_node(g->path, n, "mode '%s' on %s data is not supported (float32 and float64 are)",
                     ir_attr_string(n, "mode", ""), ir_dtype_name(x->dtype));
  ir_set_shape(n->outputs[0], x->dtype, x->rank, rp.out);
  return NN_OK;
}

/* ---- coordinates and weights ---- */

/* The input coordinate output index o maps to on axis a; *outside when
 * tf_crop_and_resize lands outside the input. */
static double source_coord(const resize_params *rp, int a, int64_t o, int64_t in, bool *outside) {
  double s = rp->scale[a], x = (double)o, len = s * (double)in; /* len may be fractional */
  *outside = false;
  switch (rp->coord) {
  case CT_ALIGN_CORNERS:
    return len == 1 ? 0 : x * (double)(in - 1) / (len - 1);
  case CT_ASYMMETRIC:
    return x / s;
  case CT_PYTORCH_HALF_PIXEL:
    return len > 1 ? (x + 0.5) / s - 0.5 : 0;
  case CT_HALF_PIXEL:
    return (x + 0.5) / s - 0.5;
  case CT_HALF_PIXEL_SYMMETRIC: {
    double offset = (double)in / 2 * (1 - (double)rp->out[a] / len);
    return offset + (x + 0.5) / s - 0.5;
  }
  case CT_TF_CROP_AND_RESIZE: {
    double lo = rp->roi_start[a], hi = rp->roi_end[a], span = (double)(in - 1);
    double c = len == 1 ? (hi - lo) * span / 2 : x * (hi - lo) * span / (len - 1);
    c += lo * span;
    *outside = c < 0 || c > span;
    return c;
  }
  }
  return 0;
}

static double cubic_weight(double x, double A) {
  x = fabs(x);
  if (x <= 1)
    return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2)
    return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return 0;
}

/* Filter coefficients for a coordinate whose fractional part past the tap
 * left of it is ratio (in (0, 1]); tap k sits at distance (1 - n/2 + k - ratio).
 * Returns the tap count n. */
static int coefficients(const resize_params *rp, double ratio, double s, double *c) {
  if (rp->mode == MODE_NEAREST) {
    bool right;
    switch (rp->nearest) {
    case ROUND_PREFER_FLOOR:
      right = ratio > 0.5;
      break;
    case ROUND_PREFER_CEIL:
      right = ratio >= 0.5;
      break;
    case NEAREST_FLOOR:
      right = false;
      break;
    case NEAREST_CEIL:
      right = true;
      break;
    default:
      right = s < 1;
      break;
    }
    right |= ratio == 1; /* an integer coordinate reads itself */
    c[0] = !right;
    c[1] = right;
    return 2;
  }
  double f = rp->antialias && s < 1 ? s : 1; /* antialias widens the filter by 1/s */
  double reach = rp->mode == MODE_LINEAR ? 1 : 2;
  int half = rp->antialias ? (int)floor(-reach / f) + 1 : 1 - (int)reach;
  int taps = 2 - 2 * half;
  double sum = 0;
  for (int k = 0; k < taps; k++) {
    double d = ((double)(half + k) - ratio) * f;
    c[k] = rp->mode == MODE_LINEAR ? fmax(0, 1 - fabs(d)) : cubic_weight(d, rp->cubic_a);
    sum += c[k];
  }
  for (int k = 0; rp->antialias && k < taps; k++)
    c[k] /= sum;
  return taps;
}

/* Taps of output index o: input indices and weights, merged by index with
 * zero weights dropped. Returns how many. */
static int taps_of(const resize_params *rp, int a, int64_t o, int64_t in, int64_t *idx, double *w,
                   bool *outside) {
  double x = source_coord(rp, a, o, in, outside);
  if (*outside)
    return 0;
  double c[MAX_TAPS];
  double ratio = x == floor(x) ? 1 : x - floor(x);
  int n = coefficients(rp, ratio, rp->scale[a], c);
  /* The n taps nearest x, kept within the edge padding the spec's
   * reference applies (n/2 on each side). */
  int64_t base = (int64_t)ceil(x) - n / 2, pad = n / 2;
  if (base < -pad)
    base = -pad;
  if (base + n - 1 > in - 1 + pad)
    base = in - 1 + pad - (n - 1);
  double sum = 0;
  for (int k = 0; k < n; k++) {
    bool out = base + k < 0 || base + k >= in;
    if (out && rp->exclude_outside)
      c[k] = 0;
    sum += c[k];
  }
  int m = 0;
  for (int k = 0; k < n; k++) {
    double wk = rp->exclude_outside ? c[k] / sum : c[k];
    int64_t i = base + k < 0 ? 0 : base + k >= in ? in - 1 : base + k;
    if (wk == 0)
      continue;
    if (m > 0 && idx[m - 1] == i) {
      w[m - 1] += wk;
      continue;
    }
    idx[m] = i;
    w[m++] = wk;
  }
  return m;
}

/* The tap table of axis a (input size in, stride in elements). */
axis_taps axis_table(ir_graph *g, const resize_params *rp, int a, int64_t in, int64_t stride) {
  int64_t out = rp->out[a], idx[MAX_TAPS];
  double w[MAX_TAPS];
  bool outside;
  axis_taps t = {.taps = 1, .identity = out == in};
  for (int64_t o = 0; o < out; o++) {
    int m = taps_of(rp, a, o, in, idx, w, &outside);
    t.taps = m > t.taps ? m : t.taps;
  }
  t.off = mem_alloc(g->mem, sizeof *t.off * (size_t)(out * t.taps + 1));
  t.w = mem_alloc(g->mem, sizeof *t.w * (size_t)(out * t.taps + 1));
  t.skip = mem_alloc(g->mem, (size_t)out + 1);
  for (int64_t o = 0; o < out; o++) {
    int m = taps_of(rp, a, o, in, idx, w, &outside);
    t.skip[o] = outside;
    t.any_skip |= outside;
    t.identity &= !outside && m == 1 && idx[0] == o && w[0] == 1;
    for (int k = 0; k < t.taps; k++) { /* unused taps repeat the first with weight 0 */
      t.off[o * t.taps + k] = (k < m ? idx[k] : m ? idx[0] : 0) * stride;
      t.w[o * t.taps + k] = k < m ? w[k] : 0;
      t.weighted |= k < m ? w[k] != 1 : t.taps > 1;
    }
  }
  return t;
}

/* ---- code ---- */

/* static const type name<a>[count] = {vals...}; */
static void emit_table(emit_ctx *e, const char *type, const char *name, int a, int64_t count,
                       const char *const *vals) {
  emit_line(e, "static const %s %s%d[%lld] = {", type, name, a, (long long)count);
  char line[1024];
  size_t len = 0;
  for (int64_t i = 0; i < count; i++) {
    len += (size_t)snprintf(line + len, sizeof line - len, "%s%s,", len ? " " : "", vals[i]);
    if (len > 80 || i + 1 == count) {
      emit_line(e, "    %s", line);
      len = 0;
    }
  }
  emit_line(e, "};");
}

/* Writes axis a's tables (offsets, weights, skip flags) for the node body. */
static void emit_axis_tables(emit_ctx *e, const ir_tensor *x, const ir_tensor *y, int a,
                             const axis_taps *t) {
  int64_t count = y->dims[a] * t->taps;
  const char **v = mem_alloc(e->g->mem, sizeof *v * (size_t)(count + 1));
  for (int64_t i = 0; i < count; i++)
    v[i] = mem_printf(e->g->mem, "%lld", (long long)t->off[i]);
  emit_table(e, ir_numel(x) <= INT32_MAX ? "int32_t" : "int64_t", "off", a, count, v);
  if (t->weighted) {
    for (int64_t i = 0; i < count; i++)
      v[i] = emit_literal(e, x->dtype, t->w[i]);
    emit_table(e, ir_dtype_ctype(x->dtype), "w", a, count, v);
  }
  if (t->any_skip) {
    for (int64_t i = 0; i < y->dims[a]; i++)
      v[i] = t->skip[i] ? "1" : "0";
    emit_table(e, "unsigned char", "skip", a, y->dims[a], v);
  }
}

/* "i<a> * stride + ..." over the loops of y (identity_only: only the axes
 * not resized); "" when there is no term. */
static void index_terms(char *buf, size_t size, const ir_tensor *y, const int64_t *stride,
                        const axis_taps *t, bool identity_only) {
  size_t len = 0;
  buf[0] = '\0';
  for (int a = 0; a < y->rank; a++) {
    if ((identity_only && !t[a].identity) || y->dims[a] == 1)
      continue;
    len += (size_t)snprintf(buf + len, size - len, "%si%d", len ? " + " : "", a);
    if (stride[a] != 1)
      len += (size_t)snprintf(buf + len, size - len, " * %lld", (long long)stride[a]);
  }
}

/* a + b for expressions where "" means 0. */
static const char *plus(emit_ctx *e, const char *a, const char *b) {
  return !*a ? b : !*b ? a : mem_printf(e->g->mem, "%s + %s", a, b);
}

/* Accumulates the taps of the resized axes from `first` on into acc; src
 * and weight are the offset and weight products so far (weight NULL: 1). */
static void emit_taps(emit_ctx *e, const ir_tensor *y, const axis_taps *t, int first,
                      const char *src, const char *weight) {
  int a = first;
  while (a < y->rank && t[a].identity)
    a++;
  if (a == y->rank) {
    emit_line(e, "acc += %s * in0[%s];", weight, *src ? src : "0");
    return;
  }
  const char *k = mem_printf(e->g->mem, "i%d", a);
  if (t[a].taps > 1) {
    emit_open(e, "for (int t%d = 0; t%d < %d; t%d++)", a, a, t[a].taps, a);
    emit_line(e, "const int64_t k%d = i%d * %d + t%d;", a, a, t[a].taps, a);
    k = mem_printf(e->g->mem, "k%d", a);
  }
  const char *off = plus(e, src, mem_printf(e->g->mem, "off%d[%s]", a, k));
  const char *w = !t[a].weighted ? weight
                  : weight       ? mem_printf(e->g->mem, "%s * w%d[%s]", weight, a, k)
                                 : mem_printf(e->g->mem, "w%d[%s]", a, k);
  emit_taps(e, y, t, a + 1, off, w);
  if (t[a].taps > 1)
    emit_close(e);
}

static void emit_resize(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *y = n->outputs[0];
  resize_params rp;
  if (resize_params_of(e->g, n, &rp))
    NN_BUG("resize parameters changed after inference");
  if (ir_numel(y) == 0)
    return;
  int64_t in_stride[IR_MAX_RANK], out_stride[IR_MAX_RANK];
  emit_strides(x, in_stride);
  emit_strides(y, out_stride);
  axis_taps t[IR_MAX_RANK];
  bool weighted = false;
  char skips[256] = "", src[512], dst[512];
  size_t ls = 0;
  for (int a = 0; a < x->rank; a++) {
    t[a] = axis_table(e->g, &rp, a, x->dims[a], in_stride[a]);
    if (t[a].identity)
      continue;
    emit_axis_tables(e, x, y, a, &t[a]);
    weighted |= t[a].weighted;
    if (t[a].any_skip)
      ls += (size_t)snprintf(skips + ls, sizeof skips - ls, "%sskip%d[i%d]", ls ? " | " : "", a, a);
  }
  index_terms(src, sizeof src, y, in_stride, t, true);
  index_terms(dst, sizeof dst, y, out_stride, t, false);
  const char *to = *dst ? dst : "0";
  for (int a = 0; a < y->rank; a++) {
    char var[16];
    snprintf(var, sizeof var, "i%d", a);
    if (a == 0)
      emit_parallel_for(e, var, y->dims[0], ir_numel(y) / y->dims[0]);
    else
      emit_for(e, var, y->dims[a]);
  }
  if (ls) {
    emit_open(e, "if (%s)", skips);
    emit_line(e, "out0[%s] = %s;", to, emit_literal(e, y->dtype, rp.extrapolation));
    emit_line(e, "continue;");
    emit_close(e);
  }
  if (!weighted) { /* nearest: a gather through the tables, for any dtype */
    const char *from = src;
    for (int a = 0; a < y->rank; a++)
      if (!t[a].identity)
        from = plus(e, from, mem_printf(e->g->mem, "off%d[i%d]", a, a));
    emit_line(e, "out0[%s] = in0[%s];", to, *from ? from : "0");
  } else {
    emit_line(e, "%s acc = 0;", ir_dtype_ctype(x->dtype));
    emit_taps(e, y, t, 0, src, NULL);
    emit_line(e, "out0[%s] = acc;", to);
  }
  for (int a = 0; a < y->rank; a++)
    emit_close(e);
}

const op_def op_family_resize[] = {
    {"Resize", "", infer_resize, NULL, emit_resize, 0, OP_CONST(1) | OP_CONST(2) | OP_CONST(3),
     .grad = grad_resize},
    {"Upsample", "", infer_resize, NULL, emit_resize, 0, OP_CONST(1), .grad = grad_resize},
    {NULL},
};
