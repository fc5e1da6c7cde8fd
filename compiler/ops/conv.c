/* The conv family: Conv and ConvTranspose, as direct loops over NCHW data.
 * Both share one loop nest: a "driver" index walks one side (the output for
 * Conv, the input for ConvTranspose) and the "target" index on the other side
 * is drv * stride + k * dilation - pad; each kernel tap clips the driver range
 * so the target stays in bounds, so no bounds checks run in the inner loop,
 * which stays contiguous along the driver's last dim. */
#include <stdio.h>

#include "common.h"

#define CONV_MAX_SP 3

typedef struct {
  int nsp;                /* spatial rank as in the model, 1..3 */
  int64_t N, C, M, G;     /* batch, input channels, output channels, groups */
  int64_t in[CONV_MAX_SP], out[CONV_MAX_SP], k[CONV_MAX_SP];
  int64_t s[CONV_MAX_SP], d[CONV_MAX_SP], pb[CONV_MAX_SP]; /* stride, dilation, pad begin */
} conv_geo;

static int64_t floor_div2(int64_t v) { return v >= 0 ? v / 2 : -((1 - v) / 2); }

/* Fills out[0..n) from int-list attribute `name`, or with dflt when absent. */
static nn_status read_ints(ir_graph *g, const ir_node *n, const char *name, int want, int64_t dflt,
                           int64_t *out) {
  const int64_t *v;
  int cnt = ir_attr_ints(n, name, &v);
  if (cnt && cnt != want)
    return diag_node(g->path, n, "attribute '%s' has %d values, expected %d", name, cnt, want);
  for (int i = 0; i < want; i++)
    out[i] = cnt ? v[i] : dflt;
  return NN_OK;
}

static nn_status check_positive(ir_graph *g, const ir_node *n, const char *name, int cnt,
                                const int64_t *v) {
  for (int i = 0; i < cnt; i++)
    if (v[i] <= 0)
      return diag_node(g->path, n, "attribute '%s' must be positive", name);
  return NN_OK;
}

/* Channels, groups and kernel from the shapes of X, W and the optional B. */
static nn_status conv_channels(ir_graph *g, const ir_node *n, bool tr, conv_geo *c) {
  const ir_tensor *X = n->inputs[0], *W = n->inputs[1], *B = ir_in(n, 2);
  if (X->rank < 3 || X->rank > 2 + CONV_MAX_SP)
    return diag_node(g->path, n, "input must be 3-D to 5-D (1 to 3 spatial dims), has rank %d",
                     X->rank);
  if (W->rank != X->rank)
    return diag_node(g->path, n, "weight rank %d differs from input rank %d", W->rank, X->rank);
  c->nsp = X->rank - 2;
  c->N = X->dims[0];
  c->C = X->dims[1];
  c->G = ir_attr_int(n, "group", 1);
  if (c->G <= 0 || c->C % c->G)
    return diag_node(g->path, n, "group %lld does not divide %lld input channels",
                     (long long)c->G, (long long)c->C);
  c->M = tr ? W->dims[1] * c->G : W->dims[0];
  if ((tr ? W->dims[0] : W->dims[1] * c->G) != c->C || c->M % c->G)
    return diag_node(g->path, n, "weight shape does not match %lld input channels and group %lld",
                     (long long)c->C, (long long)c->G);
  if (B && (B->rank != 1 || B->dims[0] != c->M || B->dtype != X->dtype))
    return diag_node(g->path, n, "bias must be 1-D of %lld elements", (long long)c->M);
  if (W->dtype != X->dtype)
    return diag_node(g->path, n, "weight dtype differs from input dtype");
  int64_t ks[CONV_MAX_SP];
  for (int i = 0; i < c->nsp; i++)
    c->k[i] = W->dims[2 + i];
  if (read_ints(g, n, "kernel_shape", c->nsp, 0, ks))
    return NN_ERR;
  for (int i = 0; i < c->nsp; i++)
    if (ir_attr_find(n, "kernel_shape") && ks[i] != c->k[i])
      return diag_node(g->path, n, "kernel_shape disagrees with the weight's shape");
  return NN_OK;
}

/* Output size and leading pad of spatial dim i of a Conv. */
static void conv_dim(conv_geo *c, int i, const char *ap, const int64_t *pads) {
  int64_t in = c->in[i], s = c->s[i], ek = c->d[i] * (c->k[i] - 1) + 1;
  if (strncmp(ap, "SAME", 4) == 0) {
    c->out[i] = (in + s - 1) / s;
    int64_t total = (c->out[i] - 1) * s + ek - in;
    total = total > 0 ? total : 0;
    c->pb[i] = strcmp(ap, "SAME_UPPER") == 0 ? total / 2 : total - total / 2;
    return;
  }
  bool valid = strcmp(ap, "VALID") == 0;
  int64_t pb = valid ? 0 : pads[i], pe = valid ? 0 : pads[c->nsp + i];
  c->pb[i] = pb;
  c->out[i] = in + pb + pe - ek < 0 ? 0 : (in + pb + pe - ek) / s + 1;
}

/* Output size and leading pad of spatial dim i of a ConvTranspose. */
static void convt_dim(conv_geo *c, int i, const char *ap, const int64_t *pads, bool has_pads,
                      const int64_t *opad, const int64_t *oshape) {
  int64_t in = c->in[i], s = c->s[i], ek = c->d[i] * (c->k[i] - 1) + 1;
  int64_t full = s * (in - 1) + opad[i] + ek; /* the output size with no padding */
  bool same = strncmp(ap, "SAME", 4) == 0;
  if (oshape || (same && !has_pads)) {
    c->out[i] = oshape ? oshape[i] : in * s;
    int64_t total = full - c->out[i];
    bool upper = strcmp(ap, "SAME_UPPER") == 0;
    c->pb[i] = has_pads ? pads[i] : upper ? floor_div2(total) : total - floor_div2(total);
    return;
  }
  bool valid = strcmp(ap, "VALID") == 0;
  c->pb[i] = valid ? 0 : pads[i];
  c->out[i] = full - c->pb[i] - (valid ? 0 : pads[c->nsp + i]);
}

static nn_status conv_geometry(ir_graph *g, const ir_node *n, bool tr, conv_geo *c) {
  if (conv_channels(g, n, tr, c))
    return NN_ERR;
  int ns = c->nsp;
  int64_t pads[2 * CONV_MAX_SP], opad[CONV_MAX_SP], oshape[CONV_MAX_SP + 2];
  if (read_ints(g, n, "strides", ns, 1, c->s) || read_ints(g, n, "dilations", ns, 1, c->d) ||
      read_ints(g, n, "pads", 2 * ns, 0, pads) || check_positive(g, n, "strides", ns, c->s) ||
      check_positive(g, n, "dilations", ns, c->d))
    return NN_ERR;
  const char *ap = ir_attr_string(n, "auto_pad", "NOTSET");
  if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID") && strcmp(ap, "SAME_UPPER") &&
      strcmp(ap, "SAME_LOWER"))
    return diag_node(g->path, n, "unknown auto_pad '%s'", ap);
  for (int i = 0; i < 2 * ns; i++)
    if (pads[i] < 0)
      return diag_node(g->path, n, "pads must not be negative");
  for (int i = 0; i < ns; i++)
    c->in[i] = n->inputs[0]->dims[2 + i];
  if (!tr) {
    for (int i = 0; i < ns; i++)
      conv_dim(c, i, ap, pads);
  } else {
    const int64_t *os;
    int nos = ir_attr_ints(n, "output_shape", &os);
    if (nos && nos != ns && nos != ns + 2)
      return diag_node(g->path, n, "output_shape has %d values, expected %d", nos, ns);
    for (int i = 0; i < ns; i++)
      oshape[i] = nos ? os[nos - ns + i] : 0;
    if (read_ints(g, n, "output_padding", ns, 0, opad))
      return NN_ERR;
    for (int i = 0; i < ns; i++)
      convt_dim(c, i, ap, pads, ir_attr_find(n, "pads") != NULL, opad, nos ? oshape : NULL);
  }
  for (int i = 0; i < ns; i++)
    if (c->out[i] <= 0)
      return diag_node(g->path, n, "spatial dim %d gets output size %lld", i,
                       (long long)c->out[i]);
  return NN_OK;
}

static nn_status infer_conv_common(ir_graph *g, ir_node *n, bool tr) {
  if (check_arity(g, n, 2, 3) || check_float(g, n, 0))
    return NN_ERR;
  if (!n->inputs[1])
    return diag_node(g->path, n, "input 1 'W' is missing");
  conv_geo c;
  if (conv_geometry(g, n, tr, &c))
    return NN_ERR;
  int64_t dims[2 + CONV_MAX_SP] = {c.N, c.M};
  for (int i = 0; i < c.nsp; i++)
    dims[2 + i] = c.out[i];
  ir_set_shape(n->outputs[0], n->inputs[0]->dtype, 2 + c.nsp, dims);
  return NN_OK;
}

static nn_status infer_conv(ir_graph *g, ir_node *n) { return infer_conv_common(g, n, false); }
static nn_status infer_convt(ir_graph *g, ir_node *n) { return infer_conv_common(g, n, true); }

/* ---- emission ---- */

/* One spatial level of the loop nest, seen from the driver side. */
typedef struct {
  int64_t drv, tgt, k, s, d, p; /* driver and target extents, kernel, stride, dilation, pad */
} conv_level;

typedef struct {
  conv_level lv[CONV_MAX_SP]; /* always 3; unused leading levels are all 1 with pad 0 */
  bool tr;
  const char *ct;
} conv_nest;

static bool level_trivial(const conv_level *l) {
  return l->drv == 1 && l->tgt == 1 && l->k == 1 && l->p == 0;
}

/* Every driver position keeps every tap in bounds: no clipping needed. */
static bool level_full(const conv_level *l) {
  return l->p == 0 && (l->drv - 1) * l->s + (l->k - 1) * l->d < l->tgt;
}

static conv_nest make_nest(const conv_geo *c, bool tr, ir_dtype t) {
  conv_nest q = {.tr = tr, .ct = ir_dtype_ctype(t)};
  int off = CONV_MAX_SP - c->nsp;
  for (int i = 0; i < CONV_MAX_SP; i++)
    q.lv[i] = (conv_level){1, 1, 1, 1, 1, 0};
  bool pointwise = true;
  int64_t plane = 1;
  for (int i = 0; i < c->nsp; i++) {
    int64_t drv = tr ? c->in[i] : c->out[i], tgt = tr ? c->out[i] : c->in[i];
    q.lv[off + i] = (conv_level){drv, tgt, c->k[i], c->s[i], c->d[i], c->pb[i]};
    pointwise = pointwise && c->k[i] == 1 && c->s[i] == 1 && c->pb[i] == 0 && drv == tgt;
    plane *= drv;
  }
  if (pointwise) { /* one flat loop over the whole plane */
    for (int i = 0; i < CONV_MAX_SP; i++)
      q.lv[i] = (conv_level){1, 1, 1, 1, 1, 0};
    q.lv[CONV_MAX_SP - 1].drv = q.lv[CONV_MAX_SP - 1].tgt = plane;
  }
  return q;
}

/* Opens `for (kL)` and the clipped `for (aL)` of level L. */
static void open_level(emit_ctx *e, const conv_level *l, int L) {
  emit_open(e, "for (int64_t k%d = 0; k%d < %lld; k%d++)", L, L, (long long)l->k, L);
  emit_line(e, "const int64_t q%d = k%d * %lld - %lld;", L, L, (long long)l->d, (long long)l->p);
  if (level_full(l)) {
    emit_open(e, "for (int64_t a%d = 0; a%d < %lld; a%d++)", L, L, (long long)l->drv, L);
    return;
  }
  /* a in [ceil(-q / s), ceil((tgt - q) / s)) keeps a * s + q in [0, tgt). */
  long long s = (long long)l->s;
  emit_line(e, "const int64_t lo%d = q%d < 0 ? (%lld - q%d) / %lld : 0;", L, L, s - 1, L, s);
  emit_line(e, "const int64_t e%d = (%lld - q%d) / %lld;", L, (long long)l->tgt + s - 1, L, s);
  emit_line(e, "const int64_t hi%d = e%d < %lld ? e%d : %lld;", L, L, (long long)l->drv, L,
            (long long)l->drv);
  emit_open(e, "for (int64_t a%d = lo%d; a%d < hi%d; a%d++)", L, L, L, L, L);
}

static int64_t level_extent(const conv_level *l, char var) {
  return var == 'a' ? l->drv : var == 't' ? l->tgt : l->k;
}

/* "a0 * 35 + a1 * 7": the offset of a row over levels 0..1, for var a
 * (driver side), t (target side) or k (kernel). Trivial levels drop out. */
static const char *row_index(emit_ctx *e, const conv_nest *q, char var) {
  char buf[256] = "0";
  size_t len = 0;
  for (int L = 0; L < CONV_MAX_SP - 1; L++) {
    int64_t inner = 1;
    for (int j = L + 1; j < CONV_MAX_SP; j++)
      inner *= level_extent(&q->lv[j], var);
    if (!level_trivial(&q->lv[L]))
      len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%c%d * %lld", len ? " + " : "",
                              var, L, (long long)inner);
  }
  return mem_strdup(e->g->mem, buf);
}

/* The taps loop nest for one (output channel, input channel) pair, with
 * `x`, `w`, `y` pointing at the planes. */
static void emit_taps(emit_ctx *e, const conv_nest *q) {
  int opened = 0;
  for (int L = 0; L < CONV_MAX_SP - 1; L++) {
    const conv_level *l = &q->lv[L];
    if (level_trivial(l))
      continue;
    open_level(e, l, L);
    emit_line(e, "const int64_t t%d = a%d * %lld + q%d;", L, L, (long long)l->s, L);
    opened += 2;
  }
  const int I = CONV_MAX_SP - 1;
  const char *drow = row_index(e, q, 'a'), *trow = row_index(e, q, 't');
  emit_line(e, "%s *restrict yr = y + %s;", q->ct, q->tr ? trow : drow);
  emit_line(e, "const %s *restrict xr = x + %s;", q->ct, q->tr ? drow : trow);
  emit_line(e, "const %s *restrict wr = w + %s;", q->ct, row_index(e, q, 'k'));
  open_level(e, &q->lv[I], I);
  if (q->tr)
    emit_line(e, "yr[a%d * %lld + q%d] += wr[k%d] * xr[a%d];", I, (long long)q->lv[I].s, I, I, I);
  else
    emit_line(e, "yr[a%d] += wr[k%d] * xr[a%d * %lld + q%d];", I, I, I, (long long)q->lv[I].s, I);
  emit_close(e);
  emit_close(e);
  for (int i = 0; i < opened; i++)
    emit_close(e);
}

static int64_t plane_size(const conv_geo *c, const int64_t *dims) {
  int64_t p = 1;
  for (int i = 0; i < c->nsp; i++)
    p *= dims[i];
  return p;
}

static void emit_conv_common(emit_ctx *e, const ir_node *n, bool tr) {
  conv_geo c;
  if (ir_numel(n->outputs[0]) == 0 || conv_geometry(e->g, n, tr, &c))
    return;
  conv_nest q = make_nest(&c, tr, n->outputs[0]->dtype);
  int64_t Cg = c.C / c.G, Mg = c.M / c.G, ksz = plane_size(&c, c.k);
  int64_t isz = plane_size(&c, c.in), osz = plane_size(&c, c.out);
  emit_parallel_for(e, "nm", c.N * c.M, Cg * ksz * (tr ? isz : osz) * 2 + osz);
  emit_line(e, "const int64_t nb = nm / %lld, m = nm %% %lld, g = m / %lld;", (long long)c.M,
            (long long)c.M, (long long)Mg);
  emit_line(e, "%s *restrict y = out0 + nm * %lld;", q.ct, (long long)osz);
  emit_for(e, "i", osz);
  emit_line(e, "y[i] = %s;", ir_in(n, 2) ? "in2[m]" : "0");
  emit_close(e);
  emit_for(e, "c", Cg);
  emit_line(e, "const %s *restrict x = in0 + (nb * %lld + g * %lld + c) * %lld;", q.ct,
            (long long)c.C, (long long)Cg, (long long)isz);
  if (tr) /* W is [C, M/group, k...] */
    emit_line(e, "const %s *restrict w = in1 + ((g * %lld + c) * %lld + m - g * %lld) * %lld;",
              q.ct, (long long)Cg, (long long)Mg, (long long)Mg, (long long)ksz);
  else /* W is [M, C/group, k...] */
    emit_line(e, "const %s *restrict w = in1 + (m * %lld + c) * %lld;", q.ct, (long long)Cg,
              (long long)ksz);
  emit_taps(e, &q);
  emit_close(e);
  emit_close(e);
}

static void emit_conv(emit_ctx *e, const ir_node *n) { emit_conv_common(e, n, false); }
static void emit_convt(emit_ctx *e, const ir_node *n) { emit_conv_common(e, n, true); }

const op_def op_family_conv[] = {
    {"Conv", "", infer_conv, NULL, emit_conv, 0},
    {"ConvTranspose", "", infer_convt, NULL, emit_convt, 0},
    {NULL},
};
