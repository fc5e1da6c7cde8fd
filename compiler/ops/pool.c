/* Pooling over any number of spatial axes: MaxPool (with its optional
 * Indices output), AveragePool, LpPool and their Global forms.
 * Along an axis where some window leaves the input, the valid kernel range
 * [lo, hi) is computed once per output position, so the innermost loops
 * carry no padding tests. Along the last axis, the outputs whose windows lie
 * inside the input are computed a row at a time, in loops that vectorize. */
#include <stdio.h>

#include "common.h"
#include "grad_rules.h"
#include "pool_geom.h"

static bool is_max(const ir_node *n) { return strcmp(n->op_type, "MaxPool") == 0; }
static bool is_lp(const ir_node *n) { return strstr(n->op_type, "LpPool") != NULL; }

/* Lp pooling: what each element adds, and the root taken of the sum. */
static const char *lp_term(emit_ctx *e, const ir_node *n, const char *v) {
  double p = ir_attr_float(n, "p", 2);
  ir_dtype t = n->inputs[0]->dtype;
  if (p == 2)
    return mem_printf(e->g->mem, "%s * %s", v, v);
  const char *abs = mem_printf(e->g->mem, "%s(%s)", math_fn(e, "fabs", t), v);
  return p == 1 ? abs : mem_printf(e->g->mem, "%s(%s, %s)", math_fn(e, "pow", t), abs, emit_literal(e, t, p));
}
/* Lp sums vectorize unless they call pow. */
static bool simd_ok(const ir_node *n) {
  double p = ir_attr_float(n, "p", 2);
  return !is_lp(n) || p == 1 || p == 2;
}
static const char *lp_root(emit_ctx *e, const ir_node *n, const char *sum) {
  double p = ir_attr_float(n, "p", 2);
  ir_dtype t = n->inputs[0]->dtype;
  if (p == 1)
    return sum;
  if (p == 2)
    return mem_printf(e->g->mem, "%s(%s)", math_fn(e, "sqrt", t), sum);
  return mem_printf(e->g->mem, "%s(%s, %s)", math_fn(e, "pow", t), sum, emit_literal(e, t, 1 / p));
}

/* Attribute `name` as r integers each >= lo, or dflt each when absent. */
static nn_status attr_vec(ir_graph *g, const ir_node *n, const char *name, int r, int64_t dflt,
                          int64_t lo, int64_t *out) {
  const int64_t *v;
  int cnt = ir_attr_ints(n, name, &v);
  if (cnt && cnt != r)
    return diag_node(g->path, n, "'%s' has %d values; expected %d", name, cnt, r);
  for (int i = 0; i < r; i++) {
    out[i] = cnt ? v[i] : dflt;
    if (out[i] < lo)
      return diag_node(g->path, n, "'%s' holds %lld; the least allowed is %lld", name,
                       (long long)out[i], (long long)lo);
  }
  return NN_OK;
}

/* Output size and pads of spatial axis i under auto_pad; explicit pads are
 * already in pb/pe. */
static nn_status pool_axis(ir_graph *g, const ir_node *n, pool_geom *p, int i, const char *ap,
                           bool ceil) {
  int64_t eff = (p->k[i] - 1) * p->d[i] + 1, in = p->in[i], s = p->s[i];
  if (strncmp(ap, "SAME_", 5) == 0) {
    p->out[i] = (in + s - 1) / s;
    /* total < 0 (stride > kernel) crops; the rounding is onnxruntime's */
    int64_t total = (p->out[i] - 1) * s + eff - in;
    p->pb[i] = strcmp(ap, "SAME_LOWER") == 0 ? (total + 1) / 2 : total / 2;
    p->pe[i] = total - p->pb[i];
  } else {
    int64_t span = in + p->pb[i] + p->pe[i] - eff;
    p->out[i] = span < 0 ? 0 : (ceil ? (span + s - 1) / s : span / s) + 1;
    /* ceil_mode: the last window must start inside the input or its left padding */
    if (ceil && p->out[i] > 1 && (p->out[i] - 1) * s >= in + p->pb[i])
      p->out[i]--;
  }
  if (p->out[i] < 1)
    return diag_node(g->path, n, "spatial axis %d: the window spans %lld but the padded input only %lld",
                     i, (long long)eff, (long long)(in + p->pb[i] + p->pe[i]));
  return NN_OK;
}

nn_status pool_geometry(ir_graph *g, const ir_node *n, pool_geom *p) {
  const ir_tensor *x = n->inputs[0];
  p->r = x->rank - 2;
  if (p->r < 1 || p->r > SP)
    return diag_node(g->path, n, "input has rank %d; pooling needs N, C and 1 to %d spatial axes",
                     x->rank, SP);
  p->nc = x->dims[0] * x->dims[1];
  for (int i = 0; i < p->r; i++)
    p->in[i] = x->dims[i + 2];
  if (!ir_attr_find(n, "kernel_shape"))
    return diag_node(g->path, n, "attribute 'kernel_shape' is required");
  int64_t pads[2 * SP];
  if (attr_vec(g, n, "kernel_shape", p->r, 1, 1, p->k) || attr_vec(g, n, "strides", p->r, 1, 1, p->s) ||
      attr_vec(g, n, "dilations", p->r, 1, 1, p->d) || attr_vec(g, n, "pads", 2 * p->r, 0, 0, pads))
    return NN_ERR;
  const char *ap = ir_attr_string(n, "auto_pad", "NOTSET");
  bool explicit = !*ap || strcmp(ap, "NOTSET") == 0;
  if (!explicit && strcmp(ap, "VALID") && strcmp(ap, "SAME_UPPER") && strcmp(ap, "SAME_LOWER"))
    return diag_node(g->path, n, "unknown auto_pad '%s'", ap);
  bool ceil = ir_attr_int(n, "ceil_mode", 0) != 0;
  for (int i = 0; i < p->r; i++) {
    if (!explicit && (pads[i] || pads[p->r + i]))
      return diag_node(g->path, n, "'pads' cannot be combined with auto_pad=%s", ap);
    p->pb[i] = pads[i];
    p->pe[i] = pads[p->r + i];
    if (pool_axis(g, n, p, i, ap, ceil))
      return NN_ERR;
  }
  return NN_OK;
}

static nn_status check_pool_dtype(ir_graph *g, const ir_node *n) {
  ir_dtype t = n->inputs[0]->dtype;
  if (is_lp(n) && !(ir_attr_float(n, "p", 2) > 0))
    return diag_node(g->path, n, "p must be positive, not %g", ir_attr_float(n, "p", 2));
  if (!is_max(n) && strcmp(n->op_type, "GlobalMaxPool") != 0)
    return check_float(g, n, 0);
  if (t == IR_BOOL)
    return diag_node(g->path, n, "bool input is not allowed");
  return NN_OK;
}

static nn_status infer_pool(ir_graph *g, ir_node *n) {
  pool_geom p;
  if (check_arity(g, n, 1, 1) || check_pool_dtype(g, n) || pool_geometry(g, n, &p))
    return NN_ERR;
  if (n->n_outputs > (is_max(n) ? 2 : 1))
    return diag_node(g->path, n, "has %d outputs; at most %d expected", n->n_outputs,
                     is_max(n) ? 2 : 1);
  int64_t so = ir_attr_int(n, "storage_order", 0);
  if (so != 0 && so != 1)
    return diag_node(g->path, n, "storage_order must be 0 or 1, not %lld", (long long)so);
  const ir_tensor *x = n->inputs[0];
  int64_t dims[IR_MAX_RANK] = {x->dims[0], x->dims[1]};
  for (int i = 0; i < p.r; i++)
    dims[i + 2] = p.out[i];
  ir_set_shape(n->outputs[0], x->dtype, x->rank, dims);
  if (ir_out(n, 1))
    ir_set_shape(n->outputs[1], IR_INT64, x->rank, dims);
  return NN_OK;
}

/* ---- emission ---- */

/* Some window along axis i starts before the input, or ends after it. */
static bool clips_lo(const pool_geom *p, int i) { return !p->inside[i] && p->pb[i] > 0; }
static bool clips_hi(const pool_geom *p, int i) {
  return !p->inside[i] && (p->out[i] - 1) * p->s[i] - p->pb[i] + (p->k[i] - 1) * p->d[i] >= p->in[i];
}
/* Some window along axis i has no element inside the input. */
static bool may_be_empty(const pool_geom *p, int i) {
  return !p->inside[i] && ((p->k[i] - 1) * p->d[i] < p->pb[i] ||
                           (p->out[i] - 1) * p->s[i] - p->pb[i] >= p->in[i]);
}
/* Some window along axis i reaches past the end padding (ceil_mode). */
static bool overhangs(const pool_geom *p, int i) {
  return !p->inside[i] &&
         (p->out[i] - 1) * p->s[i] - p->pb[i] + (p->k[i] - 1) * p->d[i] >= p->in[i] + p->pe[i];
}

/* The outputs [*lo, *hi) along axis i whose windows lie inside the input. */
static void inner_range(const pool_geom *p, int i, int64_t *lo, int64_t *hi) {
  int64_t s = p->s[i], last = p->in[i] - 1 - (p->k[i] - 1) * p->d[i] + p->pb[i];
  *lo = p->pb[i] > 0 ? (p->pb[i] + s - 1) / s : 0;
  *lo = *lo < p->out[i] ? *lo : p->out[i];
  *hi = last < 0 ? 0 : last / s + 1;
  *hi = *hi < p->out[i] ? *hi : p->out[i];
  *hi = *hi > *lo ? *hi : *lo;
}

/* "v0 * s0 + v1 * s1 ..." over the first `axes` axes, with v<i> = o<i> or,
 * for a window, b<i> + k<i> * d<i>; each term starts with " + ". */
static const char *axes_offset(emit_ctx *e, const pool_geom *p, int axes, bool window,
                               const int64_t *stride) {
  char buf[768] = "";
  size_t len = 0;
  for (int i = 0; i < axes; i++) {
    char v[64];
    if (!window)
      snprintf(v, sizeof v, "o%d", i);
    else if (p->d[i] == 1)
      snprintf(v, sizeof v, "(b%d + k%d)", i, i);
    else
      snprintf(v, sizeof v, "(b%d + k%d * %lld)", i, i, (long long)p->d[i]);
    len += (size_t)snprintf(buf + len, sizeof buf - len, " + %s", v);
    if (stride[i] != 1)
      len += (size_t)snprintf(buf + len, sizeof buf - len, " * %lld", (long long)stride[i]);
  }
  return mem_strdup(e->g->mem, buf);
}

/* The same over all axes, without the leading " + ". */
static const char *offset_expr(emit_ctx *e, const pool_geom *p, bool window, const int64_t *stride) {
  return axes_offset(e, p, p->r, window, stride) + 3;
}

/* The kernel range along axis i: variables where windows clip, else [0, k). */
static bool lo_var(const pool_geom *p, int i) { return clips_lo(p, i) || may_be_empty(p, i); }
static bool hi_var(const pool_geom *p, int i) { return clips_hi(p, i) || may_be_empty(p, i); }
static const char *lo_bound(emit_ctx *e, const pool_geom *p, int i) {
  return lo_var(p, i) ? mem_printf(e->g->mem, "lo%d", i) : "0";
}
static const char *hi_bound(emit_ctx *e, const pool_geom *p, int i) {
  return hi_var(p, i) ? mem_printf(e->g->mem, "hi%d", i)
                      : mem_printf(e->g->mem, "%lld", (long long)p->k[i]);
}

/* Opens the loop over output axis i; declares the window start b<i> and,
 * where windows leave the input, the valid kernel range [lo<i>, hi<i>) and
 * (count_include_pad) the count n<i> of elements inside input and pads. */
static void open_out_axis(emit_ctx *e, const pool_geom *p, int i, int64_t from, int64_t to,
                          bool count_pad) {
  long long s = p->s[i], pb = p->pb[i], d = p->d[i], k = p->k[i], in = p->in[i];
  emit_open(e, "for (int64_t o%d = %lld; o%d < %lld; o%d++)", i, (long long)from, i, (long long)to, i);
  const char *start = mem_printf(e->g->mem, s == 1 ? "o%d" : "o%d * %lld", i, s);
  emit_line(e, "const int64_t b%d = %s%s;", i, start,
            pb ? mem_printf(e->g->mem, " %c %lld", pb > 0 ? '-' : '+', pb > 0 ? pb : -pb) : "");
  if (count_pad && overhangs(p, i)) {
    const char *q = d == 1 ? mem_printf(e->g->mem, "%lld - b%d", in + p->pe[i], i)
                           : mem_printf(e->g->mem, "(%lld - b%d) / %lld", in + p->pe[i] + d - 1, i, d);
    emit_line(e, "const int64_t n%d = %s < %lld ? %s : %lld;", i, q, k, q, k);
  }
  if (lo_var(p, i)) {
    if (d == 1)
      emit_line(e, "const int64_t lo%d = b%d < 0 ? -b%d : 0;", i, i, i);
    else
      emit_line(e, "const int64_t lo%d = b%d < 0 ? (%lld - b%d) / %lld : 0;", i, i, d - 1, i, d);
  }
  if (!hi_var(p, i))
    return;
  const char *q = d == 1 ? mem_printf(e->g->mem, "%lld - b%d", in, i)
                         : mem_printf(e->g->mem, "(%lld - b%d) / %lld", in + d - 1, i, d);
  bool empty = may_be_empty(p, i);
  emit_line(e, "%sint64_t hi%d = %s < %lld ? %s : %lld;", empty ? "" : "const ", i, q, k, q, k);
  if (empty)
    emit_line(e, "if (hi%d < lo%d) hi%d = lo%d;", i, i, i, i);
}

/* The divisor of an average: window elements inside the input (or, with
 * count_include_pad, inside input and explicit pads). */
static const char *avg_count(emit_ctx *e, const pool_geom *p, bool count_pad, ir_dtype t) {
  int64_t fixed = 1;
  char buf[512] = "";
  size_t len = 0;
  for (int i = 0; i < p->r; i++) {
    if (count_pad && overhangs(p, i))
      len += (size_t)snprintf(buf + len, sizeof buf - len, " * n%d", i);
    else if (!count_pad && lo_var(p, i))
      len += (size_t)snprintf(buf + len, sizeof buf - len, " * (%s - lo%d)", hi_bound(e, p, i), i);
    else if (!count_pad && hi_var(p, i))
      len += (size_t)snprintf(buf + len, sizeof buf - len, " * hi%d", i);
    else
      fixed *= p->k[i];
  }
  if (!len)
    return emit_literal(e, t, (double)fixed);
  if (fixed == 1)
    return mem_printf(e->g->mem, "(%s)(%s)", ir_dtype_ctype(t), buf + 3);
  return mem_printf(e->g->mem, "(%s)(%lld%s)", ir_dtype_ctype(t), (long long)fixed, buf);
}

static void emit_pool_body(emit_ctx *e, const ir_node *n, const pool_geom *p, const int64_t *xs,
                           const int64_t *cs) {
  ir_dtype t = n->inputs[0]->dtype;
  const char *T = ir_dtype_ctype(t);
  bool max = is_max(n), idx = ir_out(n, 1) != NULL;
  emit_line(e, "%s acc = %s;", T, max ? emit_lowest(e, t) : emit_literal(e, t, 0));
  if (idx)
    emit_line(e, "int64_t at = -1;");
  for (int i = 0; i < p->r; i++) {
    emit_open(e, "for (int64_t k%d = %s; k%d < %s; k%d++)", i, lo_bound(e, p, i), i,
              hi_bound(e, p, i), i);
  }
  emit_line(e, "const %s v = x[%s];", T, offset_expr(e, p, true, xs));
  if (!max) {
    emit_line(e, "acc += %s;", is_lp(n) ? lp_term(e, n, "v") : "v");
  } else if (!idx) {
    emit_line(e, "acc = v > acc ? v : acc;");
  } else {
    emit_open(e, "if (v > acc || at < 0)");
    emit_line(e, "acc = v;");
    emit_line(e, "at = %s;", offset_expr(e, p, true, cs));
    emit_close(e);
  }
  for (int i = 0; i < p->r; i++)
    emit_close(e);
}

static void emit_pool_store(emit_ctx *e, const ir_node *n, const pool_geom *p, const int64_t *ys,
                            int64_t xplane, bool count_pad) {
  ir_dtype t = n->inputs[0]->dtype;
  int64_t yplane = ys[0] * p->out[0];
  const char *yo = offset_expr(e, p, false, ys);
  const char *val = "acc";
  if (is_lp(n)) /* padding adds zeros: a plain sum */
    val = lp_root(e, n, "acc");
  else if (!is_max(n))
    val = mem_printf(e->g->mem, "acc / %s", avg_count(e, p, count_pad, t));
  emit_line(e, "out0[nc * %lld + %s] = %s;", (long long)yplane, yo, val);
  if (ir_out(n, 1))
    emit_line(e, "out1[nc * %lld + %s] = nc * %lld + at;", (long long)yplane, yo, (long long)xplane);
}

/* Outputs [from, to) of the last axis, whose windows lie inside the input,
 * as one row: each kernel offset adds a shifted input row to the output
 * row, a loop over outputs that vectorizes. */
static void emit_pool_row(emit_ctx *e, const ir_node *n, pool_geom *p, const int64_t *xs,
                          const int64_t *ys, int64_t from, int64_t to, bool count_pad) {
  ir_dtype t = n->inputs[0]->dtype;
  const char *T = ir_dtype_ctype(t);
  int last = p->r - 1;
  long long s = p->s[last], d = p->d[last], pb = p->pb[last];
  p->inside[last] = true;
  emit_open(e, "%s", "");
  emit_line(e, "%s *y = out0 + nc * %lld%s;", T, (long long)(ys[0] * p->out[0]),
            axes_offset(e, p, last, false, ys));
  const char *o = mem_printf(e->g->mem, "o%d", last);
  const char *range = mem_printf(e->g->mem, "for (int64_t %s = %lld; %s < %lld; %s++)", o,
                                 (long long)from, o, (long long)to, o);
  emit_line(e, "%s y[%s] = %s;", range, o, is_max(n) ? emit_lowest(e, t) : emit_literal(e, t, 0));
  for (int i = 0; i < p->r; i++)
    emit_open(e, "for (int64_t k%d = %s; k%d < %s; k%d++)", i, lo_bound(e, p, i), i,
              hi_bound(e, p, i), i);
  /* the start padding goes in the index, which stays >= 0, not in the pointer */
  emit_line(e, "const %s *xr = x%s + k%d%s;", T, axes_offset(e, p, last, true, xs), last,
            d == 1 ? "" : mem_printf(e->g->mem, " * %lld", d));
  if (simd_ok(n))
    emit_simd(e);
  emit_open(e, "%s", range);
  emit_line(e, "const %s v = xr[%s%s%s];", T, o, s == 1 ? "" : mem_printf(e->g->mem, " * %lld", s),
            pb ? mem_printf(e->g->mem, " %c %lld", pb > 0 ? '-' : '+', pb > 0 ? pb : -pb) : "");
  if (is_max(n))
    emit_line(e, "y[%s] = v > y[%s] ? v : y[%s];", o, o, o);
  else
    emit_line(e, "y[%s] += %s;", o, is_lp(n) ? lp_term(e, n, "v") : "v");
  emit_close(e);
  for (int i = 0; i < p->r; i++)
    emit_close(e);
  const char *y = mem_printf(e->g->mem, "y[%s]", o);
  if (!is_max(n)) {
    if (!is_lp(n)) /* sqrt and pow calls may not vectorize */
      emit_simd(e);
    emit_line(e, "%s %s = %s;", range, y,
              is_lp(n) ? lp_root(e, n, y) : mem_printf(e->g->mem, "%s / %s", y, avg_count(e, p, count_pad, t)));
  }
  emit_close(e);
  p->inside[last] = false;
}

static void emit_pool(emit_ctx *e, const ir_node *n) {
  pool_geom p = {0};
  if (pool_geometry(e->g, n, &p) || ir_numel(n->outputs[0]) == 0)
    return;
  ir_dtype t = n->inputs[0]->dtype;
  bool col = ir_attr_int(n, "storage_order", 0) == 1;
  bool count_pad = !is_max(n) && ir_attr_int(n, "count_include_pad", 0) != 0;
  int64_t xs[SP], ys[SP], cs[SP], xplane = 1, yplane = 1, kvol = 1;
  for (int i = p.r - 1; i >= 0; i--) {
    xs[i] = xplane, xplane *= p.in[i];
    ys[i] = yplane, yplane *= p.out[i];
    kvol *= p.k[i];
  }
  for (int i = 0; i < p.r; i++) /* column-major strides for storage_order=1 */
    cs[i] = i ? cs[i - 1] * p.in[i - 1] : 1;
  emit_parallel_for(e, "nc", p.nc, yplane * kvol);
  emit_line(e, "const %s *x = in0 + nc * %lld;", ir_dtype_ctype(t), (long long)xplane);
  for (int i = 0; i < p.r - 1; i++)
    open_out_axis(e, &p, i, 0, p.out[i], count_pad);
  /* The last axis splits into border, interior and border loops: interior
   * windows need no clipping, and run as whole rows. */
  int last = p.r - 1;
  int64_t cut[4] = {0, 0, 0, p.out[last]};
  inner_range(&p, last, &cut[1], &cut[2]);
  for (int seg = 0; seg < 3; seg++) {
    if (cut[seg] >= cut[seg + 1])
      continue;
    if (seg == 1 && !ir_out(n, 1)) {
      emit_pool_row(e, n, &p, xs, ys, cut[1], cut[2], count_pad);
      continue;
    }
    p.inside[last] = seg == 1;
    open_out_axis(e, &p, last, cut[seg], cut[seg + 1], count_pad);
    emit_pool_body(e, n, &p, xs, col ? cs : xs);
    emit_pool_store(e, n, &p, ys, xplane, count_pad);
    emit_close(e);
  }
  for (int i = 0; i < p.r - 1; i++)
    emit_close(e);
  emit_close(e);
}

/* ---- GlobalAveragePool, GlobalMaxPool, GlobalLpPool ---- */

static nn_status infer_global(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1) || check_pool_dtype(g, n))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  if (x->rank < 2)
    return diag_node(g->path, n, "input has rank %d; expected N, C and spatial axes", x->rank);
  int64_t dims[IR_MAX_RANK];
  for (int d = 0; d < x->rank; d++)
    dims[d] = d < 2 ? x->dims[d] : 1;
  ir_set_shape(n->outputs[0], x->dtype, x->rank, dims);
  return NN_OK;
}

static void emit_global(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  int64_t nc = x->dims[0] * x->dims[1], plane = 1;
  for (int d = 2; d < x->rank; d++)
    plane *= x->dims[d];
  if (nc == 0)
    return;
  char kind = n->op_type[6]; /* Max, Average, Lp */
  bool max = kind == 'M';
  const char *T = ir_dtype_ctype(x->dtype);
  emit_parallel_for(e, "nc", nc, plane);
  emit_line(e, "const %s *x = in0 + nc * %lld;", T, (long long)plane);
  emit_line(e, "%s acc = %s;", T, max ? emit_lowest(e, x->dtype) : emit_literal(e, x->dtype, 0));
  if (max)
    emit_simd_minmax(e, "reduction(max: acc)");
  else if (simd_ok(n))
    emit_simd_sum(e, "acc");
  emit_for(e, "i", plane);
  if (max)
    emit_line(e, "acc = x[i] > acc ? x[i] : acc;");
  else
    emit_line(e, "acc += %s;", kind == 'L' ? lp_term(e, n, "x[i]") : "x[i]");
  emit_close(e);
  if (kind == 'A')
    emit_line(e, "out0[nc] = acc / %s;", emit_literal(e, x->dtype, (double)plane));
  else
    emit_line(e, "out0[nc] = %s;", max ? "acc" : lp_root(e, n, "acc"));
  emit_close(e);
}

const op_def op_family_pool[] = {
    {"MaxPool", "", infer_pool, NULL, emit_pool, 0, .grad = grad_pool},
    {"AveragePool", "", infer_pool, NULL, emit_pool, 0, .grad = grad_pool},
    {"LpPool", "", infer_pool, NULL, emit_pool, 0},
    {"GlobalMaxPool", "", infer_global, NULL, emit_global, 0, .grad = grad_pool},
    {"GlobalAveragePool", "", infer_global, NULL, emit_global, 0, .grad = grad_pool},
    {"GlobalLpPool", "", infer_global, NULL, emit_global, 0},
    {NULL},
};
