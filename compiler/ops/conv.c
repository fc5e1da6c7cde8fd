/* The conv family: Conv and ConvTranspose. float32 1-D/2-D Convs with a few
 * channels per group and stride-1 ConvTransposes go to the GEMM kernel
 * (conv_gemm.c), depthwise Convs to conv_depthwise.c; the rest run here as
 * direct loops over NCHW data.
 * Every path gives each task a block of mr output channels, so each input
 * load feeds mr outputs, and sums cu input channels per load and store of an
 * output, so memory traffic stays low per multiply-add:
 * - 1-D and 2-D Conv: bands of output rows from a zero-bordered, stride-phase
 *   split copy of the input, each tap one long flat run (emit_flat);
 * - small ConvTranspose: the same, one output stride phase at a time
 *   (emit_tflat);
 * - the rest (3-D, pointwise, large ConvTranspose): a generic nest where a
 *   "driver" index walks one side (the output for Conv, the input for
 *   ConvTranspose) and the "target" index on the other side is drv * stride
 *   + k * dilation - pad, each tap clipping the driver range (emit_nest). */
#include <stdio.h>

#include "common.h"
#include "conv_geom.h"
#include "conv_gemm.h"
#include "grad_rules.h"

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

nn_status conv_geometry(ir_graph *g, const ir_node *n, bool tr, conv_geo *c) {
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
  int mr;                     /* output channels per task: each input load feeds mr of them */
  int64_t osz;                /* output plane size: channel r of the block is at y + r * osz */
  int64_t wstep;              /* weight offset from one output channel to the next */
  int64_t cg;                 /* input channels per group */
  int64_t isz;                /* input plane size: channel u of a pass is at x + u * isz */
  int64_t cstep;              /* weight offset from one input channel to the next */
  const char *ct;
  ir_dtype dt;
} conv_nest;

#define CONV_CU 4 /* input channels summed per load and store of the outputs */
#define CONV_CHUNK 1024 /* longest flat run of a pointwise plane kept in cache */

static bool level_trivial(const conv_level *l) {
  return l->drv == 1 && l->tgt == 1 && l->k == 1 && l->p == 0;
}

/* Every driver position keeps every tap in bounds: no clipping needed. */
static bool level_full(const conv_level *l) {
  return l->p == 0 && (l->drv - 1) * l->s + (l->k - 1) * l->d < l->tgt;
}

/* A 1x1 kernel with stride 1 and no padding maps planes one to one: view
 * them as [plane / chunk, chunk] so runs are long yet stay in cache. */
static void flatten_pointwise(conv_nest *q, int64_t plane) {
  int64_t chunk = plane;
  for (int64_t c = CONV_CHUNK; plane > CONV_CHUNK && c >= 64; c--)
    if (plane % c == 0) {
      chunk = c;
      break;
    }
  for (int i = 0; i < CONV_MAX_SP; i++)
    q->lv[i] = (conv_level){1, 1, 1, 1, 1, 0};
  q->lv[1].drv = q->lv[1].tgt = plane / chunk;
  q->lv[2].drv = q->lv[2].tgt = chunk;
}

static conv_nest make_nest(const conv_geo *c, bool tr, ir_dtype t) {
  conv_nest q = {.tr = tr, .ct = ir_dtype_ctype(t), .dt = t, .osz = 1};
  int off = CONV_MAX_SP - c->nsp;
  for (int i = 0; i < CONV_MAX_SP; i++)
    q.lv[i] = (conv_level){1, 1, 1, 1, 1, 0};
  bool pointwise = true;
  int64_t plane = 1, ksz = 1;
  for (int i = 0; i < c->nsp; i++) {
    int64_t drv = tr ? c->in[i] : c->out[i], tgt = tr ? c->out[i] : c->in[i];
    q.lv[off + i] = (conv_level){drv, tgt, c->k[i], c->s[i], c->d[i], c->pb[i]};
    pointwise = pointwise && c->k[i] == 1 && c->s[i] == 1 && c->pb[i] == 0 && drv == tgt;
    plane *= drv;
    q.osz *= c->out[i];
    ksz *= c->k[i];
  }
  if (pointwise)
    flatten_pointwise(&q, plane);
  int64_t mg = c->M / c->G;
  q.mr = mg % 8 == 0 ? 8 : mg % 4 == 0 ? 4 : mg % 3 == 0 ? 3 : mg % 2 == 0 ? 2 : 1;
  q.wstep = tr ? ksz : c->C / c->G * ksz;
  q.cstep = tr ? mg * ksz : ksz;
  q.cg = c->C / c->G;
  q.isz = 1;
  for (int i = 0; i < c->nsp; i++)
    q.isz *= c->in[i];
  return q;
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

/* Opens the tap loop of outer level L, skipping taps whose target row is out
 * of bounds; returns the number of blocks opened. */
static int open_outer_tap(emit_ctx *e, const conv_level *l, int L) {
  emit_for(e, mem_printf(e->g->mem, "k%d", L), l->k);
  emit_line(e, "const int64_t t%d = a%d * %lld + k%d * %lld - %lld;", L, L, (long long)l->s, L,
            (long long)l->d, (long long)l->p);
  if (!level_full(l))
    emit_line(e, "if (t%d < 0 || t%d >= %lld) continue;", L, L, (long long)l->tgt);
  return 1;
}

/* "w0_0 * x0 + w0_1 * x1": output channel r's sum over cu input channels. */
static const char *tap_sum(emit_ctx *e, int r, int cu) {
  char buf[512];
  size_t len = 0;
  for (int u = 0; u < cu; u++)
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%sw%d_%d * x%d", u ? " + " : "", r, u, u);
  return mem_strdup(e->g->mem, buf);
}

/* "const float w0_0 = wr[k2], w0_1 = wr[9 + k2];" for each of the mr output
 * channels: the weights of cu input channels at one tap (var: its index). */
static void emit_tap_weights(emit_ctx *e, const conv_nest *q, int cu, const char *var) {
  char buf[512];
  for (int r = 0; r < q->mr; r++) {
    size_t len = (size_t)snprintf(buf, sizeof buf, "const %s", q->ct);
    for (int u = 0; u < cu; u++)
      len += (size_t)snprintf(buf + len, sizeof buf - len, "%s w%d_%d = wr[%s]", u ? "," : "", r, u,
                              emit_affine(e, r * q->wstep + u * q->cstep, var, var ? 1 : 0));
    emit_line(e, "%s;", buf);
  }
}

/* The innermost level: for each tap, a clipped contiguous run over the
 * driver's last dim. Each input load feeds mr output channels, and each
 * output load and store sums cu input channels. */
static void emit_inner(emit_ctx *e, const conv_nest *q, int cu) {
  const conv_level *l = &q->lv[CONV_MAX_SP - 1];
  long long s = (long long)l->s;
  const char *tgt = s == 1 ? "a2 + q2" : mem_printf(e->g->mem, "a2 * %lld + q2", s);
  char buf[512];
  emit_for(e, "k2", l->k);
  emit_line(e, "const int64_t q2 = %s;", emit_affine(e, -l->p, "k2", l->d));
  emit_tap_weights(e, q, cu, "k2");
  const char *lo = "0", *hi = mem_printf(e->g->mem, "%lld", (long long)l->drv);
  if (!level_full(l)) { /* a2 in [ceil(-q2 / s), ceil((tgt - q2) / s)) keeps a2 * s + q2 in bounds */
    if (s == 1) {
      emit_line(e, "const int64_t lo = q2 < 0 ? -q2 : 0, e2 = %lld - q2;", (long long)l->tgt);
    } else {
      emit_line(e, "const int64_t lo = q2 < 0 ? (%lld - q2) / %lld : 0;", s - 1, s);
      emit_line(e, "const int64_t e2 = (%lld - q2) / %lld;", (long long)l->tgt + s - 1, s);
    }
    emit_line(e, "const int64_t hi = e2 < %lld ? e2 : %lld;", (long long)l->drv,
              (long long)l->drv);
    lo = "lo";
    hi = "hi";
  }
  emit_simd(e);
  emit_open(e, "for (int64_t a2 = %s; a2 < %s; a2++)", lo, hi);
  size_t len = (size_t)snprintf(buf, sizeof buf, "const %s", q->ct);
  for (int u = 0; u < cu; u++)
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s x%d = xr[%s]", u ? "," : "", u,
                            emit_affine(e, u * q->isz, q->tr ? "a2" : tgt, 1));
  emit_line(e, "%s;", buf);
  for (int r = 0; r < q->mr; r++) {
    if (q->tr)
      emit_line(e, "yr[%s] += %s;", emit_affine(e, r * q->osz, tgt, 1), tap_sum(e, r, cu));
    else
      emit_line(e, "yr[%s] += %s;", emit_affine(e, r * q->osz, "a2", 1), tap_sum(e, r, cu));
  }
  emit_close(e);
  emit_close(e);
}

/* cu input channels from channel c: their taps into the block's outputs. */
static void emit_taps(emit_ctx *e, const conv_nest *q, int cu, const char *xbase,
                      const char *wbase) {
  int opened = 0;
  emit_line(e, "const %s *restrict x = %s;", q->ct, xbase);
  emit_line(e, "const %s *restrict w = %s;", q->ct, wbase);
  for (int L = 0; L < CONV_MAX_SP - 1; L++)
    if (!level_trivial(&q->lv[L]))
      opened += open_outer_tap(e, &q->lv[L], L);
  const char *drow = row_index(e, q, 'a'), *trow = row_index(e, q, 't');
  emit_line(e, "%s *restrict yr = y + %s;", q->ct, q->tr ? trow : drow);
  emit_line(e, "const %s *restrict xr = x + %s;", q->ct, q->tr ? drow : trow);
  emit_line(e, "const %s *restrict wr = w + %s;", q->ct, row_index(e, q, 'k'));
  emit_inner(e, q, cu);
  for (int i = 0; i < opened; i++)
    emit_close(e);
}

/* Driver rows outermost so a block of output rows stays in cache while every
 * input channel and tap adds into it. */
static void emit_nest(emit_ctx *e, const conv_nest *q, const char *xbase, const char *wbase) {
  int opened = 0;
  for (int L = 0; L < CONV_MAX_SP - 1; L++)
    if (!level_trivial(&q->lv[L])) {
      emit_for(e, mem_printf(e->g->mem, "a%d", L), q->lv[L].drv);
      opened++;
    }
  int64_t main = q->cg / CONV_CU * CONV_CU;
  if (main > 0) {
    emit_open(e, "for (int64_t c = 0; c < %lld; c += %d)", (long long)main, CONV_CU);
    emit_taps(e, q, CONV_CU, xbase, wbase);
    emit_close(e);
  }
  if (main < q->cg) {
    emit_open(e, "%s", "");
    emit_line(e, "const int64_t c = %lld;", (long long)main);
    emit_taps(e, q, (int)(q->cg - main), xbase, wbase);
    emit_close(e);
  }
  for (int i = 0; i < opened; i++)
    emit_close(e);
}

static int64_t plane_size(const conv_geo *c, const int64_t *dims) {
  int64_t p = 1;
  for (int i = 0; i < c->nsp; i++)
    p *= dims[i];
  return p;
}

/* ---- 1-D and 2-D convs: bands of rows through a zero-bordered copy ---- */

/* Copying a band of input rows into a zero-bordered buffer, split into
 * stride phases (phase (py, px) holds padded-input pixels (i*sy + py,
 * j*sx + px)), turns every tap into one shifted run over the band's output
 * rows, computed at the buffer's width with the extra columns discarded:
 * long vector loops with no clipping and no strided loads. */
typedef struct {
  int64_t H, W, OH, OW, K1, K2, s1, s2, d1, d2, pt, pl;
  int64_t Wq;    /* buffer row width: OW plus the kernel's reach in phase columns */
  int64_t xrows; /* buffer rows per phase: rb plus the kernel's reach in phase rows */
  int64_t rb;    /* output rows per band */
  int64_t cu;    /* input channels per pass */
  int64_t ab;    /* acc stride per output channel: rb * Wq rounded up to CONV_VEC */
  uint64_t used_y, used_x; /* bit p: some tap reads phase row/column p */
} flat_geo;

#define CONV_FLAT_BYTES 65536 /* stack budget of a band's buffers */
/* Runs are rounded up to this many elements, so vector loops need no scalar
 * tail; the extra results land in discarded columns or slack. */
#define CONV_VEC 16

static uint64_t used_phases(int64_t k, int64_t d, int64_t s) {
  uint64_t m = 0;
  for (int64_t i = 0; i < k; i++)
    m |= UINT64_C(1) << (i * d % s);
  return m;
}

static bool flat_geometry(const conv_geo *c, bool tr, int mr, flat_geo *f) {
  if (tr || c->nsp > 2)
    return false;
  int o = c->nsp - 1; /* index of the last spatial dim */
  bool pointwise = true;
  for (int i = 0; i < c->nsp; i++)
    pointwise = pointwise && c->k[i] == 1 && c->s[i] == 1 && c->pb[i] == 0;
  if (pointwise || c->s[0] > 8 || c->s[o] > 8)
    return false; /* pointwise is one flat run already */
  bool two = c->nsp == 2;
  *f = (flat_geo){.H = two ? c->in[0] : 1, .W = c->in[o], .OH = two ? c->out[0] : 1,
                  .OW = c->out[o], .K1 = two ? c->k[0] : 1, .K2 = c->k[o],
                  .s1 = two ? c->s[0] : 1, .s2 = c->s[o], .d1 = two ? c->d[0] : 1,
                  .d2 = c->d[o], .pt = two ? c->pb[0] : 0, .pl = c->pb[o]};
  int64_t cg = c->C / c->G, qy = (f->K1 - 1) * f->d1 / f->s1, es = (int64_t)ir_dtype_size(c->dtype);
  f->Wq = f->OW + (f->K2 - 1) * f->d2 / f->s2;
  f->cu = cg < CONV_CU ? cg : CONV_CU;
  int64_t ph = f->cu * f->s1 * f->s2;
  f->rb = (CONV_FLAT_BYTES / es / f->Wq - ph * qy) / (mr + ph);
  if (f->rb < 1)
    return false; /* rows too wide for the stack budget even one at a time */
  f->rb = f->rb > f->OH ? f->OH : f->rb;
  f->xrows = f->rb + qy;
  f->ab = (f->rb * f->Wq + CONV_VEC - 1) / CONV_VEC * CONV_VEC;
  f->used_y = used_phases(f->K1, f->d1, f->s1);
  f->used_x = used_phases(f->K2, f->d2, f->s2);
  return true;
}

/* Fills the buffer of input channel u with the band's phases. */
static void emit_flat_copy(emit_ctx *e, const conv_nest *q, const flat_geo *f, int cu) {
  long long pl = (long long)(f->xrows * f->Wq), s2 = (long long)f->s2;
  emit_for(e, "u", cu);
  emit_for(e, "py", f->s1);
  if (f->used_y != (UINT64_C(1) << f->s1) - 1) /* skip phases no tap reads */
    emit_line(e, "if (!((UINT64_C(%llu) >> py) & 1)) continue;", (unsigned long long)f->used_y);
  emit_for(e, "i", f->xrows);
  emit_line(e, "const int64_t ih = (oh0 + i) * %lld + py - %lld;", (long long)f->s1,
            (long long)f->pt);
  emit_line(e, "const int64_t inside = ih >= 0 && ih < %lld;", (long long)f->H);
  emit_line(e, "const %s *restrict src = x + u * %lld + (inside ? ih : 0) * %lld;", q->ct,
            (long long)q->isz, (long long)f->W);
  emit_for(e, "px", f->s2);
  if (f->used_x != (UINT64_C(1) << f->s2) - 1)
    emit_line(e, "if (!((UINT64_C(%llu) >> px) & 1)) continue;", (unsigned long long)f->used_x);
  emit_line(e, "%s *restrict dst = xp + ((u * %lld + py) * %lld + px) * %lld + i * %lld;", q->ct,
            (long long)f->s1, s2, pl, (long long)f->Wq);
  /* columns j in [jlo, jhi) read input column j * s2 + px - pl */
  emit_line(e, "const int64_t q0 = %lld - px, jlo0 = q0 > 0 ? (q0 + %lld) / %lld : 0;",
            (long long)f->pl, s2 - 1, s2);
  emit_line(e, "const int64_t jhi0 = (%lld - px) / %lld;", (long long)(f->W + f->pl) + s2 - 1, s2);
  emit_line(e, "const int64_t jlo = inside ? (jlo0 < %lld ? jlo0 : %lld) : %lld;",
            (long long)f->Wq, (long long)f->Wq, (long long)f->Wq);
  emit_line(e, "const int64_t jhi = jhi0 < jlo ? jlo : jhi0 < %lld ? jhi0 : %lld;",
            (long long)f->Wq, (long long)f->Wq);
  emit_open(e, "for (int64_t j = 0; j < jlo; j++)");
  emit_line(e, "dst[j] = 0;");
  emit_close(e);
  if (s2 == 1) {
    emit_line(e, "memcpy(dst + jlo, src + jlo - %lld, (size_t)(jhi - jlo) * %zu);", (long long)f->pl,
              ir_dtype_size(q->dt));
  } else {
    emit_simd(e);
    emit_open(e, "for (int64_t j = jlo; j < jhi; j++)");
    emit_line(e, "dst[j] = src[j * %lld + px - %lld];", s2, (long long)f->pl);
    emit_close(e);
  }
  emit_open(e, "for (int64_t j = jhi; j < %lld; j++)", (long long)f->Wq);
  emit_line(e, "dst[j] = 0;");
  emit_close(e);
  for (int i = 0; i < 4; i++)
    emit_close(e);
}

/* One pass of cu input channels from channel c into the band's acc. */
/* For one tap (`wr` at its weights, `sh` its offset into the buffer):
 * acc[r][p] += sum_u w[r][u] * xp[u][p + sh] for p < run. */
static void emit_flat_run(emit_ctx *e, const conv_nest *q, int cu, long long chan, long long ab) {
  char buf[512];
  emit_tap_weights(e, q, cu, NULL);
  emit_simd(e);
  emit_open(e, "for (int64_t p = 0; p < run; p++)");
  size_t len = (size_t)snprintf(buf, sizeof buf, "const %s", q->ct);
  for (int u = 0; u < cu; u++)
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s x%d = xp[%s]", u ? "," : "", u,
                            emit_affine(e, u * chan, "p + sh", 1));
  emit_line(e, "%s;", buf);
  for (int r = 0; r < q->mr; r++)
    emit_line(e, "acc[%s] += %s;", emit_affine(e, r * ab, "p", 1), tap_sum(e, r, cu));
  emit_close(e);
}

static void emit_flat_pass(emit_ctx *e, const conv_nest *q, const flat_geo *f, int cu,
                           const char *xbase, const char *wbase) {
  long long pl = (long long)(f->xrows * f->Wq);
  emit_line(e, "const %s *restrict x = %s;", q->ct, xbase);
  emit_line(e, "const %s *restrict w = %s;", q->ct, wbase);
  emit_flat_copy(e, q, f, cu);
  emit_for(e, "k1", f->K1);
  emit_for(e, "k2", f->K2);
  emit_line(e, "const int64_t ty = k1 * %lld, tx = k2 * %lld;", (long long)f->d1,
            (long long)f->d2);
  emit_line(e, "const int64_t sh = (ty %% %lld * %lld + tx %% %lld) * %lld + ty / %lld * %lld + tx / %lld;",
            (long long)f->s1, (long long)f->s2, (long long)f->s2, pl, (long long)f->s1,
            (long long)f->Wq, (long long)f->s2);
  emit_line(e, "const %s *restrict wr = w + k1 * %lld + k2;", q->ct, (long long)f->K2);
  emit_flat_run(e, q, cu, pl * (long long)(f->s1 * f->s2), (long long)f->ab);
  emit_close(e);
  emit_close(e);
}

static void emit_flat(emit_ctx *e, const conv_nest *q, const conv_geo *c, const flat_geo *f,
                      const char *bias, const char *xbase, const char *wbase) {
  long long ab = (long long)f->ab, rb = (long long)f->rb, OH = (long long)f->OH;
  long long xsz = (long long)(f->cu * f->s1 * f->s2 * f->xrows * f->Wq);
  emit_line(e, "%s acc[%lld], xp[%lld];", q->ct, (long long)q->mr * ab, xsz + CONV_VEC);
  emit_line(e, "memset(xp, 0, sizeof xp); /* slack and unused phases are read, never kept */");
  emit_line(e, "const int64_t oh0 = band * %lld;", rb);
  emit_line(e, "const int64_t rows = %lld - oh0 < %lld ? %lld - oh0 : %lld;", OH, rb, OH, rb);
  emit_line(e, "const int64_t run = ((rows - 1) * %lld + %lld) / %d * %d;", (long long)f->Wq,
            (long long)f->OW + CONV_VEC - 1, CONV_VEC, CONV_VEC);
  emit_for(e, "r", q->mr);
  emit_for(e, "p", f->ab);
  emit_line(e, "acc[r * %lld + p] = %s;", ab, bias);
  emit_close(e);
  emit_close(e);
  int64_t main = q->cg / f->cu * f->cu;
  emit_open(e, "for (int64_t c = 0; c < %lld; c += %lld)", (long long)main, (long long)f->cu);
  emit_flat_pass(e, q, f, (int)f->cu, xbase, wbase);
  emit_close(e);
  if (main < q->cg) {
    emit_open(e, "%s", "");
    emit_line(e, "const int64_t c = %lld;", (long long)main);
    emit_flat_pass(e, q, f, (int)(q->cg - main), xbase, wbase);
    emit_close(e);
  }
  emit_for(e, "r", q->mr);
  emit_open(e, "for (int64_t i = 0; i < rows; i++)");
  emit_line(e, "memcpy(y + r * %lld + (oh0 + i) * %lld, acc + r * %lld + i * %lld, %zu);",
            (long long)q->osz, (long long)f->OW, ab, (long long)f->Wq,
            (size_t)f->OW * ir_dtype_size(c->dtype));
  emit_close(e);
  emit_close(e);
}

/* ---- ConvTranspose on small planes: one output phase at a time ---- */

/* Output o = i * s + k * d - p splits by phase f = o mod s: phase f's
 * outputs o' (o = o' * s + f) gather x[o' + (f + p - k * d) / s] over the taps
 * k where that division is exact. With the input in a zero-bordered buffer,
 * each phase is a stride-1 correlation: the flat runs of the Conv path, and
 * contiguous loads instead of strided stores. */
typedef struct {
  int64_t O, K, s, d, p;
  int64_t Oq; /* outputs of the largest phase */
  int64_t L;  /* zero border before the input in the buffer */
  int64_t B;  /* buffer extent */
} tdim;

static tdim make_tdim(int64_t O, int64_t K, int64_t s, int64_t d, int64_t p) {
  tdim t = {O, K, s, d, p, (O + s - 1) / s, 0, 0};
  int64_t lo = 0, hi = 0;
  bool any = false;
  for (int64_t f = 0; f < s; f++)
    for (int64_t k = 0; k < K; k++) {
      int64_t e = f + p - k * d;
      if (e % s)
        continue;
      lo = any && lo < e / s ? lo : e / s;
      hi = any && hi > e / s ? hi : e / s;
      any = true;
    }
  t.L = lo < 0 ? -lo : 0;
  t.B = t.Oq + hi + t.L;
  return t;
}

typedef struct {
  tdim y, x;       /* rows, columns */
  int64_t IH, IW;  /* input plane */
  int64_t cu, ab;  /* input channels per pass; acc stride per output channel */
} tflat_geo;

static bool tflat_geometry(const conv_geo *c, bool tr, int mr, tflat_geo *t) {
  if (!tr || c->nsp > 2)
    return false;
  int o = c->nsp - 1;
  bool two = c->nsp == 2;
  t->IH = two ? c->in[0] : 1;
  t->IW = c->in[o];
  t->y = two ? make_tdim(c->out[0], c->k[0], c->s[0], c->d[0], c->pb[0]) : make_tdim(1, 1, 1, 1, 0);
  t->x = make_tdim(c->out[o], c->k[o], c->s[o], c->d[o], c->pb[o]);
  int64_t cg = c->C / c->G;
  t->cu = cg < CONV_CU ? cg : CONV_CU;
  t->ab = (t->y.Oq * t->x.B + CONV_VEC - 1) / CONV_VEC * CONV_VEC;
  int64_t elems = mr * t->ab + t->cu * t->y.B * t->x.B + CONV_VEC;
  return elems * (int64_t)ir_dtype_size(c->dtype) <= CONV_FLAT_BYTES;
}

/* One pass of cu input channels into phase (f1, f2)'s acc. */
static void emit_tflat_pass(emit_ctx *e, const conv_nest *q, const tflat_geo *t, int cu,
                            const char *xbase, const char *wbase) {
  long long plane = (long long)(t->y.B * t->x.B), Wb = (long long)t->x.B;
  int64_t rows = t->y.B - t->y.L < t->IH ? t->y.B - t->y.L : t->IH;
  int64_t cols = t->x.B - t->x.L < t->IW ? t->x.B - t->x.L : t->IW;
  emit_line(e, "const %s *restrict x = %s;", q->ct, xbase);
  emit_line(e, "const %s *restrict w = %s;", q->ct, wbase);
  if (rows > 0 && cols > 0) { /* else no tap reads the input */
    emit_for(e, "u", cu);
    emit_for(e, "ih", rows);
    emit_line(e, "memcpy(xp + u * %lld + (ih + %lld) * %lld + %lld, x + u * %lld + ih * %lld, %zu);",
              plane, (long long)t->y.L, Wb, (long long)t->x.L, (long long)q->isz,
              (long long)t->IW, (size_t)cols * ir_dtype_size(q->dt));
    emit_close(e);
    emit_close(e);
  }
  const tdim *d[2] = {&t->y, &t->x};
  for (int i = 0; i < 2; i++) {
    emit_for(e, mem_printf(e->g->mem, "k%d", i + 1), d[i]->K);
    emit_line(e, "const int64_t e%d = f%d + %lld - k%d * %lld;", i + 1, i + 1, (long long)d[i]->p,
              i + 1, (long long)d[i]->d);
    emit_line(e, "if (e%d %% %lld) continue;", i + 1, (long long)d[i]->s);
  }
  emit_line(e, "const int64_t sh = (e1 / %lld + %lld) * %lld + e2 / %lld + %lld;",
            (long long)t->y.s, (long long)t->y.L, Wb, (long long)t->x.s, (long long)t->x.L);
  emit_line(e, "const %s *restrict wr = w + k1 * %lld + k2;", q->ct, (long long)t->x.K);
  emit_flat_run(e, q, cu, plane, (long long)t->ab);
  emit_close(e);
  emit_close(e);
}

static void emit_tflat(emit_ctx *e, const conv_nest *q, const tflat_geo *t, const char *bias,
                       const char *xbase, const char *wbase) {
  long long ab = (long long)t->ab, Wb = (long long)t->x.B;
  long long OH = (long long)t->y.O, OW = (long long)t->x.O, s1 = (long long)t->y.s,
            s2 = (long long)t->x.s;
  emit_line(e, "%s acc[%lld], xp[%lld];", q->ct, (long long)q->mr * ab,
            (long long)(t->cu * t->y.B * t->x.B + CONV_VEC));
  emit_line(e, "memset(xp, 0, sizeof xp); /* borders and slack stay zero */");
  emit_for(e, "f1", t->y.s);
  emit_for(e, "f2", t->x.s);
  emit_line(e, "const int64_t oq1 = (%lld - f1) / %lld, oq2 = (%lld - f2) / %lld;", OH + s1 - 1, s1,
            OW + s2 - 1, s2);
  emit_line(e, "const int64_t run = ((oq1 - 1) * %lld + oq2 + %d) / %d * %d;", Wb, CONV_VEC - 1,
            CONV_VEC, CONV_VEC);
  emit_for(e, "r", q->mr);
  emit_for(e, "p", t->ab);
  emit_line(e, "acc[r * %lld + p] = %s;", ab, bias);
  emit_close(e);
  emit_close(e);
  int64_t main = q->cg / t->cu * t->cu;
  emit_open(e, "for (int64_t c = 0; c < %lld; c += %lld)", (long long)main, (long long)t->cu);
  emit_tflat_pass(e, q, t, (int)t->cu, xbase, wbase);
  emit_close(e);
  if (main < q->cg) {
    emit_open(e, "%s", "");
    emit_line(e, "const int64_t c = %lld;", (long long)main);
    emit_tflat_pass(e, q, t, (int)(q->cg - main), xbase, wbase);
    emit_close(e);
  }
  emit_for(e, "r", q->mr);
  emit_open(e, "for (int64_t i = 0; i < oq1; i++)");
  emit_open(e, "for (int64_t j = 0; j < oq2; j++)");
  emit_line(e, "y[r * %lld + (i * %lld + f1) * %lld + j * %lld + f2] = acc[r * %lld + i * %lld + j];",
            (long long)q->osz, s1, OW, s2, ab, Wb);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

static void emit_conv_common(emit_ctx *e, const ir_node *n, bool tr) {
  conv_geo c;
  if (ir_numel(n->outputs[0]) == 0 || conv_geometry(e->g, n, tr, &c))
    return;
  c.dtype = n->outputs[0]->dtype;
  conv_act act = conv_act_of(n);
  if (!tr && conv_gemm_fits(&c)) {
    emit_conv_gemm(e, &c, ir_in(n, 2) != NULL, &act);
    return;
  }
  if (tr && convt_gemm_fits(&c)) {
    emit_convt_gemm(e, &c, ir_in(n, 2) != NULL);
    return;
  }
  if (!tr && conv_depthwise_fits(&c)) {
    emit_conv_depthwise(e, &c, ir_in(n, 2) != NULL, &act);
    return;
  }
  conv_nest q = make_nest(&c, tr, c.dtype);
  long long Cg = (long long)q.cg, Mg = (long long)(c.M / c.G), M = (long long)c.M;
  int64_t ksz = plane_size(&c, c.k), isz = plane_size(&c, c.in), osz = q.osz;
  int64_t blocks = c.M / q.mr;
  const char *bias = ir_in(n, 2) ? "in2[m0 + r]" : "0";
  flat_geo f;
  bool flat = flat_geometry(&c, tr, q.mr, &f);
  int64_t bands = flat ? (f.OH + f.rb - 1) / f.rb : 1; /* tasks per block: bands of rows */
  emit_parallel_for(e, "blk", c.N * blocks * bands,
                    q.mr * q.cg * ksz * (tr ? isz : osz) * 2 / bands + osz);
  emit_line(e, "const int64_t nb = blk / %lld, m0 = blk / %lld %% %lld * %d, g = m0 / %lld;",
            (long long)(blocks * bands), (long long)bands, (long long)blocks, q.mr, Mg);
  if (flat)
    emit_line(e, "const int64_t band = blk %% %lld;", (long long)bands);
  emit_line(e, "%s *restrict y = out0 + (nb * %lld + m0) * %lld;", q.ct, M, (long long)osz);
  const char *xb = mem_printf(e->g->mem, "in0 + (nb * %lld + g * %lld + c) * %lld", (long long)c.C,
                              Cg, (long long)isz);
  const char *wb = tr /* W is [C, M/group, k...] */
                       ? mem_printf(e->g->mem, "in1 + ((g * %lld + c) * %lld + m0 - g * %lld) * %lld",
                                    Cg, Mg, Mg, (long long)ksz)
                       /* W is [M, C/group, k...] */
                       : mem_printf(e->g->mem, "in1 + (m0 * %lld + c) * %lld", Cg, (long long)ksz);
  tflat_geo t;
  if (tflat_geometry(&c, tr, q.mr, &t)) {
    emit_tflat(e, &q, &t, bias, xb, wb);
  } else if (flat) {
    emit_flat(e, &q, &c, &f, bias, xb, wb);
  } else {
    emit_for(e, "r", q.mr);
    emit_for(e, "i", osz);
    emit_line(e, "y[r * %lld + i] = %s;", (long long)osz, bias);
    emit_close(e);
    emit_close(e);
    emit_nest(e, &q, xb, wb);
  }
  emit_close(e);
  if (act.on) { /* a folded activation, over the whole output */
    emit_simd_minmax(e, "");
    emit_open(e, "for (int64_t i = 0; i < %lld; i++)", (long long)ir_numel(n->outputs[0]));
    emit_line(e, "%s v = out0[i];", q.ct);
    emit_conv_act(e, &act, "v");
    emit_line(e, "out0[i] = v;");
    emit_close(e);
  }
}

static void emit_conv(emit_ctx *e, const ir_node *n) { emit_conv_common(e, n, false); }
static void emit_convt(emit_ctx *e, const ir_node *n) { emit_conv_common(e, n, true); }

const op_def op_family_conv[] = {
    {"Conv", "", infer_conv, NULL, emit_conv, 0, .grad = grad_conv},
    {"ConvTranspose", "", infer_convt, NULL, emit_convt, 0, .grad = grad_conv_transpose},
    {NULL},
};
