/* Convolution gradients. The input gradient of a Conv is a ConvTranspose
 * with the same geometry, and that of a ConvTranspose is a Conv, so only the
 * weight gradient needs a kernel of its own:
 *
 *   nncc::ConvGradWeight(X, dY) -> dW
 *   dW[m, c, k] = sum over n, o of dY[n, m, o] * X[n, g * C/G + c, o * s + k * d - p]
 *
 * (g = m / (M/G)), with the attributes kernel_shape, strides, dilations,
 * pads (only the leading pads matter) and group. For a ConvTranspose the
 * roles swap: X is the gradient of its output and dY its input. */
#include <stdio.h>

#include "common.h"
#include "conv_geom.h"
#include "conv_gemm.h"
#include "grad_rules.h"

typedef struct {
  int nsp;
  int64_t N, C, M, G; /* batch, X channels, dY channels (rows of dW), groups */
  int64_t in[CONV_MAX_SP], out[CONV_MAX_SP], k[CONV_MAX_SP];
  int64_t s[CONV_MAX_SP], d[CONV_MAX_SP], p[CONV_MAX_SP];
} wgrad_geo;

static nn_status attr_list(ir_graph *g, const ir_node *n, const char *name, int want,
                           int64_t dflt, bool positive, int64_t *out) {
  const int64_t *v;
  int cnt = ir_attr_ints(n, name, &v);
  if (cnt && cnt != want)
    return diag_node(g->path, n, "attribute '%s' has %d values, expected %d", name, cnt, want);
  for (int i = 0; i < want; i++) {
    out[i] = cnt ? v[i] : dflt;
    if (positive && out[i] <= 0)
      return diag_node(g->path, n, "attribute '%s' must be positive", name);
  }
  return NN_OK;
}

static nn_status wgrad_geometry(ir_graph *g, const ir_node *n, wgrad_geo *w) {
  const ir_tensor *x = n->inputs[0], *dy = n->inputs[1];
  if (x->rank < 3 || x->rank > 2 + CONV_MAX_SP || dy->rank != x->rank)
    return diag_node(g->path, n, "X and dY must both be 3-D to 5-D, have ranks %d and %d",
                     x->rank, dy->rank);
  if (dy->dtype != x->dtype)
    return diag_node(g->path, n, "dY has dtype %s, X has %s", ir_dtype_name(dy->dtype),
                     ir_dtype_name(x->dtype));
  w->nsp = x->rank - 2;
  w->N = x->dims[0];
  w->C = x->dims[1];
  w->M = dy->dims[1];
  w->G = ir_attr_int(n, "group", 1);
  if (dy->dims[0] != w->N)
    return diag_node(g->path, n, "X has batch %lld, dY has %lld", (long long)w->N,
                     (long long)dy->dims[0]);
  if (w->G <= 0 || w->C % w->G || w->M % w->G)
    return diag_node(g->path, n, "group %lld does not divide the channels of X (%lld) and dY (%lld)",
                     (long long)w->G, (long long)w->C, (long long)w->M);
  if (!ir_attr_find(n, "kernel_shape"))
    return diag_node(g->path, n, "attribute 'kernel_shape' is required");
  int64_t pads[2 * CONV_MAX_SP];
  if (attr_list(g, n, "kernel_shape", w->nsp, 1, true, w->k) ||
      attr_list(g, n, "strides", w->nsp, 1, true, w->s) ||
      attr_list(g, n, "dilations", w->nsp, 1, true, w->d) ||
      attr_list(g, n, "pads", 2 * w->nsp, 0, false, pads))
    return NN_ERR;
  for (int i = 0; i < w->nsp; i++) {
    w->in[i] = x->dims[2 + i];
    w->out[i] = dy->dims[2 + i];
    w->p[i] = pads[i];
  }
  return NN_OK;
}

static nn_status infer_conv_grad_weight(ir_graph *g, ir_node *n) {
  wgrad_geo w;
  if (check_arity(g, n, 2, 2) || check_float(g, n, 0) || check_float(g, n, 1))
    return NN_ERR;
  if (!n->inputs[1])
    return diag_node(g->path, n, "input 1 'dY' is missing");
  if (wgrad_geometry(g, n, &w))
    return NN_ERR;
  int64_t dims[2 + CONV_MAX_SP] = {w.M, w.C / w.G};
  for (int i = 0; i < w.nsp; i++)
    dims[2 + i] = w.k[i];
  ir_set_shape(n->outputs[0], n->inputs[0]->dtype, 2 + w.nsp, dims);
  return NN_OK;
}

/* The outputs o in [lo<i>, hi<i>) whose tap k<i> lands inside X:
 * 0 <= o * s + q < in with q = k * d - p. */
static void emit_tap_range(emit_ctx *e, const wgrad_geo *w, int i) {
  long long s = w->s[i], in = w->in[i], out = w->out[i];
  emit_line(e, "const int64_t q%d = %s;", i,
            emit_affine(e, -w->p[i], mem_printf(e->g->mem, "k%d", i), w->d[i]));
  if (s == 1)
    emit_line(e, "const int64_t lo%d = q%d < 0 ? -q%d : 0;", i, i, i);
  else
    emit_line(e, "const int64_t lo%d = q%d < 0 ? (%lld - q%d) / %lld : 0;", i, i, s - 1, i, s);
  emit_line(e, "const int64_t e%d = (%lld - q%d) / %lld;", i, in + s - 1, i, s);
  emit_line(e, "const int64_t hi%d = e%d < %lld ? e%d : %lld;", i, i, out, i, out);
}

/* ---- the flat path: long dot products ----
 * Tap k of output position o reads x at padded coordinate o * s + k * d.
 * Split each padded axis by phase, P = u * s + f: tap k then reads phase
 * f = (k * d) mod s at u = o + (k * d) / s, a unit-stride shift. So copy a
 * band of x rows into zero-bordered phase planes xp whose inner dims are
 * U_i = out_i + (k_i - 1) * d_i / s_i wide, and the dY rows of mr output
 * channels into dyw with the same row strides (zeros past each row's end):
 * each tap's sum is one contiguous dot product, dyw[j] * xp[j + off_k] over
 * the band, and each xp load feeds mr channels. */

#define WG_BYTES 65536 /* stack budget of a task's buffers */

typedef struct {
  int mr;                 /* output channels per task */
  int64_t U[CONV_MAX_SP]; /* phase plane extents (U[0]: rows per band + halo) */
  int64_t S[CONV_MAX_SP]; /* row strides shared by the planes and dyw */
  int64_t PS[CONV_MAX_SP]; /* distance between neighbouring phases of axis i */
  int64_t rows, halo;     /* output rows (axis 0) per band; extra plane rows a band reads */
  int64_t plane;          /* one phase plane with its zero slack row */
  int64_t phases;         /* prod s_i */
  int64_t tg;             /* taps summed together: the last axis's, or 1 */
} wg_flat;

static bool wg_flat_plan(const wgrad_geo *w, size_t es, wg_flat *f) {
  int64_t mg = w->M / w->G;
  /* mr channels times the taps summed together (a unit-stride last axis's,
   * whose reads overlap; else one) accumulate at once: at most 16 sums */
  f->tg = w->s[w->nsp - 1] == 1 ? w->k[w->nsp - 1] : 1;
  if (f->tg > 16)
    return false;
  int64_t most = 16 / f->tg;
  f->mr = mg % 8 == 0 && most >= 8 ? 8 : mg % 4 == 0 && most >= 4 ? 4
          : mg % 2 == 0 && most >= 2 ? 2 : 1;
  int64_t row = 1; /* elements of one row (axis 0) of a plane */
  f->phases = 1;
  for (int i = w->nsp - 1; i >= 0; i--) {
    if (w->p[i] < 0)
      return false;
    f->phases *= w->s[i];
    if (i == 0)
      break;
    f->U[i] = w->out[i] + (w->k[i] - 1) * w->d[i] / w->s[i];
    f->S[i] = row;
    row *= f->U[i];
  }
  f->S[0] = row;
  f->halo = (w->k[0] - 1) * w->d[0] / w->s[0];
  int64_t budget = WG_BYTES / (int64_t)es / row;
  f->rows = (budget - f->phases * (f->halo + 1)) / (f->mr + f->phases);
  if (f->rows > w->out[0])
    f->rows = w->out[0];
  f->U[0] = f->rows + f->halo;
  f->plane = (f->U[0] + 1) * row;
  int64_t ps = f->plane;
  for (int i = w->nsp - 1; i >= 0; i--) {
    f->PS[i] = ps;
    ps *= w->s[i];
  }
  return f->rows >= 1;
}

/* Whether some tap reads phase ph of axis i. */
static bool phase_used(const wgrad_geo *w, int i, int64_t ph) {
  for (int64_t k = 0; k < w->k[i]; k++)
    if (k * w->d[i] % w->s[i] == ph)
      return true;
  return false;
}

static int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -(-a / b); }

/* Copies one x row (axis 0 fixed) from dense src into the phase planes at
 * dst: along inner axis i, element t = u * s + ph - pad goes to phase ph,
 * position u, for the phases some tap reads; a unit-stride last axis is one
 * memcpy. */
static void emit_x_row(emit_ctx *e, const wgrad_geo *w, const wg_flat *f, int i, const char *dst,
                       const char *src, const int64_t *dense, const int64_t *cnt, size_t es) {
  if (i >= w->nsp || i >= CONV_MAX_SP) { /* the second: gcc -O3 cannot bound nsp */
    emit_line(e, "*(%s) = *(%s);", dst, src);
    return;
  }
  long long s = w->s[i], p = w->p[i];
  if (cnt[i] <= 0)
    return;
  if (s == 1 && i == w->nsp - 1) {
    emit_line(e, "memcpy(%s + %lld, %s, %zu);", dst, p, src, (size_t)cnt[i] * es);
    return;
  }
  const char *u = mem_printf(e->g->mem, "u%d", i);
  for (int64_t ph = 0; ph < s; ph++) {
    if (!phase_used(w, i, ph))
      continue;
    int64_t lo = ceil_div(p - ph, s), hi = ceil_div(cnt[i] + p - ph, s);
    lo = lo > 0 ? lo : 0;
    hi = hi < f->U[i] ? hi : f->U[i];
    if (lo >= hi)
      continue;
    emit_open(e, "for (int64_t %s = %lld; %s < %lld; %s++)", u, (long long)lo, u, (long long)hi, u);
    const char *to = mem_printf(e->g->mem, "%s + %s", dst,
                                emit_affine(e, ph * f->PS[i], u, f->S[i]));
    const char *from = mem_printf(e->g->mem, "%s + %s", src,
                                  emit_affine(e, (ph - p) * dense[i], u, s * dense[i]));
    emit_x_row(e, w, f, i + 1, to, from, dense, cnt, es);
    emit_close(e);
  }
}

/* Copies one dY row of `cnt` inner extents into dyw's row layout. */
static void emit_dy_row(emit_ctx *e, const wgrad_geo *w, const wg_flat *f, const char *dst,
                        const char *src, const int64_t *dense, size_t es) {
  int ns = w->nsp;
  if (ns == 1) {
    emit_line(e, "%s[0] = %s[0];", dst, src);
    return;
  }
  if (ns == 3)
    emit_for(e, "u1", w->out[1]);
  const char *d_off = ns == 3 ? mem_printf(e->g->mem, " + u1 * %lld", (long long)f->S[1]) : "";
  const char *s_off = ns == 3 ? mem_printf(e->g->mem, " + u1 * %lld", (long long)dense[1]) : "";
  emit_line(e, "memcpy(%s%s, %s%s, %zu);", dst, d_off, src, s_off, (size_t)w->out[ns - 1] * es);
  if (ns == 3)
    emit_close(e);
}

static void emit_wgrad_flat(emit_ctx *e, const wgrad_geo *w, const wg_flat *f, const char *T,
                            size_t es) {
  int ns = w->nsp, mr = f->mr;
  int64_t cg = w->C / w->G, mg = w->M / w->G, ksz = 1, isz = 1, osz = 1;
  int64_t idense[CONV_MAX_SP], odense[CONV_MAX_SP], xcnt[CONV_MAX_SP];
  for (int i = ns - 1; i >= 0; i--) {
    idense[i] = isz, isz *= w->in[i];
    odense[i] = osz, osz *= w->out[i];
    ksz *= w->k[i];
    int64_t room = f->U[i] * w->s[i] - w->p[i]; /* x beyond the reads is left out */
    xcnt[i] = w->in[i] < room ? w->in[i] : room;
  }
  int64_t lmax = f->rows * f->S[0], xpn = f->phases * f->plane, inner = f->phases / w->s[0];
  int64_t bands = (w->out[0] + f->rows - 1) / f->rows;
  /* tap offsets into xp, relative to the band's first output row: the
   * taps of the leading axes in a table, the last axis's as literals */
  int64_t kl = f->tg, kouter = ksz / kl, loff[16];
  int L = ns - 1;
  for (int64_t t = 0; t < kl; t++) /* kl > 1: the last axis has unit stride */
    loff[t] = t * w->d[L] * f->S[L];
  emit_line(e, "static const int32_t tap[%lld] = {", (long long)kouter);
  for (int64_t k = 0; k < kouter; k++) {
    int64_t rem = k, off = 0;
    for (int i = kl > 1 ? ns - 2 : ns - 1; i >= 0; i--) {
      int64_t kd = rem % w->k[i] * w->d[i];
      off += kd % w->s[i] * f->PS[i] + kd / w->s[i] * f->S[i];
      rem /= w->k[i];
    }
    emit_line(e, "    %lld,", (long long)off);
  }
  emit_line(e, "};");
  emit_parallel_for(e, "blk", w->M / mr, mr * cg * ksz * w->N * lmax * bands * 2);
  emit_line(e, "const int64_t m0 = blk * %d, xc0 = m0 / %lld * %lld;", mr, (long long)mg,
            (long long)cg);
  emit_line(e, "%s dyw[%lld], xp[%lld];", T, (long long)(mr * lmax), (long long)xpn);
  emit_line(e, "memset(dyw, 0, sizeof dyw); /* row tails stay zero */");
  emit_line(e, "memset(xp, 0, sizeof xp); /* borders and slack stay zero */");
  emit_line(e, "%s *restrict dw = out0 + m0 * %lld;", T, (long long)(cg * ksz));
  emit_line(e, "memset(dw, 0, %zu);", (size_t)(mr * cg * ksz) * es);
  emit_for(e, "nb", w->N);
  emit_for(e, "band", bands);
  emit_line(e, "const int64_t r0 = band * %lld, nr = %lld - r0 < %lld ? %lld - r0 : %lld;",
            (long long)f->rows, (long long)w->out[0], (long long)f->rows, (long long)w->out[0],
            (long long)f->rows);
  emit_line(e, "const int64_t len = nr * %lld;", (long long)f->S[0]);
  /* dY rows of the mr channels */
  emit_for(e, "r", mr);
  emit_open(e, "for (int64_t o = 0; o < nr; o++)");
  emit_line(e, "const %s *src = in1 + ((nb * %lld + m0 + r) * %lld + (r0 + o) * %lld);", T,
            (long long)w->M, (long long)osz, (long long)odense[0]);
  emit_line(e, "%s *dst = dyw + r * %lld + o * %lld;", T, (long long)lmax, (long long)f->S[0]);
  emit_dy_row(e, w, f, "dst", "src", odense, es);
  emit_close(e);
  emit_close(e);
  emit_for(e, "c", cg);
  /* row q of axis-0 phase f0 holds x row (r0 + q) * s0 + f0 - pad0, or zeros */
  emit_for(e, "f0", w->s[0]);
  if (w->s[0] > 1 && w->s[0] < 64) { /* skip the axis-0 phases no tap reads */
    uint64_t used = 0;
    for (int64_t ph = 0; ph < w->s[0]; ph++)
      used |= phase_used(w, 0, ph) ? (uint64_t)1 << ph : 0;
    if (used != ((uint64_t)1 << w->s[0]) - 1)
      emit_line(e, "if (!(0x%llxu >> f0 & 1)) continue;", (unsigned long long)used);
  }
  emit_for(e, "q", f->U[0]);
  emit_line(e, "const int64_t t0 = (r0 + q) * %lld + f0 - %lld;", (long long)w->s[0],
            (long long)w->p[0]);
  emit_line(e, "%s *dst = xp + f0 * %lld + q * %lld;", T, (long long)f->PS[0], (long long)f->S[0]);
  emit_open(e, "if (t0 < 0 || t0 >= %lld)", (long long)w->in[0]);
  emit_for(e, "ph", inner);
  emit_line(e, "memset(dst + ph * %lld, 0, %zu);", (long long)f->plane, (size_t)f->S[0] * es);
  emit_close(e);
  emit_line(e, "continue;");
  emit_close(e);
  emit_line(e, "const %s *src = in0 + ((nb * %lld + xc0 + c) * %lld + t0 * %lld);", T,
            (long long)w->C, (long long)isz, (long long)idense[0]);
  emit_x_row(e, w, f, 1, "dst", "src", idense, xcnt, es);
  emit_close(e);
  emit_close(e);
  emit_for(e, "k", kouter);
  emit_line(e, "const %s *restrict xk = xp + tap[k];", T);
  char decl[1024], vars[1024], line[1024];
  size_t ld = 0, lv = 0;
  for (int r = 0; r < mr; r++)
    for (int64_t t = 0; t < kl; t++) {
      ld += (size_t)snprintf(decl + ld, sizeof decl - ld, "%sa%d_%lld = 0", ld ? ", " : "", r,
                             (long long)t);
      lv += (size_t)snprintf(vars + lv, sizeof vars - lv, "%sa%d_%lld", lv ? ", " : "", r,
                             (long long)t);
    }
  emit_line(e, "%s %s;", T, decl);
  emit_simd_sum(e, vars);
  emit_open(e, "for (int64_t j = 0; j < len; j++)");
  for (int64_t t = 0; t < kl; t++)
    emit_line(e, "const %s x%lld = xk[%s];", T, (long long)t, emit_affine(e, loff[t], "j", 1));
  for (int r = 0; r < mr; r++) {
    size_t ll = (size_t)snprintf(line, sizeof line, "const %s d%d = dyw[%s];", T, r,
                                 emit_affine(e, r * lmax, "j", 1));
    for (int64_t t = 0; t < kl; t++)
      ll += (size_t)snprintf(line + ll, sizeof line - ll, " a%d_%lld += d%d * x%lld;", r,
                             (long long)t, r, (long long)t);
    emit_line(e, "%s", line);
  }
  emit_close(e);
  const char *ck = mem_printf(e->g->mem, "%s + k * %lld", emit_scaled(e, "c", ksz), (long long)kl);
  for (int r = 0; r < mr; r++)
    for (int64_t t = 0; t < kl; t++)
      emit_line(e, "dw[%s] += a%d_%lld;", emit_affine(e, r * cg * ksz + t, ck, 1), r, (long long)t);
  emit_close(e); /* k */
  emit_close(e); /* c */
  emit_close(e); /* band */
  emit_close(e); /* nb */
  emit_close(e); /* blk */
}

static void emit_conv_grad_weight(emit_ctx *e, const ir_node *n) {
  wgrad_geo w;
  if (ir_numel(n->outputs[0]) == 0 || wgrad_geometry(e->g, n, &w))
    return;
  const char *T = ir_dtype_ctype(n->inputs[0]->dtype);
  size_t es = ir_dtype_size(n->inputs[0]->dtype);
  conv_geo c = {.nsp = w.nsp, .N = w.N, .C = w.C, .M = w.M, .G = w.G,
                .dtype = n->inputs[0]->dtype};
  for (int i = 0; i < w.nsp; i++) {
    c.in[i] = w.in[i], c.out[i] = w.out[i], c.k[i] = w.k[i];
    c.s[i] = w.s[i], c.d[i] = w.d[i], c.pb[i] = w.p[i];
  }
  if (conv_wgrad_gemm_fits(&c)) {
    emit_conv_wgrad_gemm(e, &c);
    return;
  }
  wg_flat f;
  if (wg_flat_plan(&w, es, &f)) {
    emit_wgrad_flat(e, &w, &f, T, es);
    return;
  }
  int ns = w.nsp;
  int64_t isz = 1, osz = 1, ksz = 1, is[CONV_MAX_SP], os[CONV_MAX_SP];
  for (int i = ns - 1; i >= 0; i--) {
    is[i] = isz, isz *= w.in[i];
    os[i] = osz, osz *= w.out[i];
    ksz *= w.k[i];
  }
  int64_t cg = w.C / w.G, mg = w.M / w.G;
  emit_parallel_for(e, "mc", w.M * cg, ksz * w.N * osz * 2);
  emit_line(e, "const int64_t m = mc / %lld, xc = m / %lld * %lld + mc %% %lld;", (long long)cg,
            (long long)mg, (long long)cg, (long long)cg);
  emit_line(e, "%s *restrict dw = out0 + mc * %lld;", T, (long long)ksz);
  char kidx[128] = "0";
  size_t kl = 0;
  for (int i = 0; i < ns; i++) {
    emit_for(e, mem_printf(e->g->mem, "k%d", i), w.k[i]);
    emit_tap_range(e, &w, i);
    int64_t kst = 1;
    for (int j = i + 1; j < ns; j++)
      kst *= w.k[j];
    kl += (size_t)snprintf(kidx + kl, sizeof kidx - kl, "%s%s", kl ? " + " : "",
                           emit_scaled(e, mem_printf(e->g->mem, "k%d", i), kst));
  }
  emit_line(e, "%s acc = 0;", T);
  emit_for(e, "nb", w.N);
  emit_line(e, "const %s *restrict dy = in1 + (nb * %lld + m) * %lld;", T, (long long)w.M,
            (long long)osz);
  emit_line(e, "const %s *restrict x = in0 + (nb * %lld + xc) * %lld;", T, (long long)w.C,
            (long long)isz);
  /* outer spatial levels walk rows; the last is one strided dot product */
  char dro[256] = "0", xro[256] = "0";
  size_t dl = 0, xl = 0;
  for (int i = 0; i < ns - 1; i++) {
    emit_open(e, "for (int64_t o%d = lo%d; o%d < hi%d; o%d++)", i, i, i, i, i);
    const char *o = mem_printf(e->g->mem, "o%d", i);
    dl += (size_t)snprintf(dro + dl, sizeof dro - dl, "%s%s", dl ? " + " : "",
                           emit_scaled(e, o, os[i]));
    const char *t = emit_affine(e, 0, mem_printf(e->g->mem, "%s * %lld + q%d", o,
                                                 (long long)w.s[i], i), is[i]);
    xl += (size_t)snprintf(xro + xl, sizeof xro - xl, "%s%s", xl ? " + " : "", t);
  }
  int L = ns - 1;
  emit_line(e, "const %s *restrict dr = dy + %s, *restrict xr = x + %s + q%d;", T, dro, xro, L);
  emit_simd_sum(e, "acc");
  emit_open(e, "for (int64_t o%d = lo%d; o%d < hi%d; o%d++)", L, L, L, L, L);
  emit_line(e, "acc += dr[o%d] * xr[%s];", L,
            emit_scaled(e, mem_printf(e->g->mem, "o%d", L), w.s[L]));
  emit_close(e);
  for (int i = 0; i < ns - 1; i++)
    emit_close(e);
  emit_close(e); /* nb */
  emit_line(e, "dw[%s] = acc;", kidx);
  for (int i = 0; i < ns; i++)
    emit_close(e);
  emit_close(e); /* mc */
}

/* ---- gradient rules ---- */

/* Sets the attributes a Conv-shaped node shares with n's geometry. */
static void geometry_attrs(ad_ctx *ad, ir_node *b, const conv_geo *c, const int64_t *pads) {
  ad_attr_ints(ad, b, "strides", c->nsp, c->s);
  ad_attr_ints(ad, b, "dilations", c->nsp, c->d);
  ad_attr_ints(ad, b, "pads", 2 * c->nsp, pads);
  ad_attr_int(ad, b, "group", c->G);
}

/* W's gradient: ConvGradWeight(x, dy) with the leading pads. */
static ir_tensor *weight_grad(ad_ctx *ad, ir_tensor *x, ir_tensor *dy, const conv_geo *c) {
  int64_t pads[2 * CONV_MAX_SP];
  for (int i = 0; i < c->nsp; i++)
    pads[i] = pads[c->nsp + i] = c->pb[i];
  ir_tensor *in[2] = {x, dy};
  ir_node *b = ad_begin(ad, "nncc", "ConvGradWeight", 2, in, 1);
  geometry_attrs(ad, b, c, pads);
  ad_attr_ints(ad, b, "kernel_shape", c->nsp, c->k);
  return ad_finish(ad, b);
}

/* Conv: dX = ConvTranspose(dY, W) onto X's size, dW = ConvGradWeight(X, dY),
 * dB = dY summed per channel. */
nn_status grad_conv(ad_ctx *ad, const ir_node *n) {
  ir_tensor *dy = ad_out_grad(ad, n, 0);
  conv_geo c;
  if (!dy || conv_geometry(ad_graph(ad), n, false, &c))
    return dy ? NN_ERR : NN_OK;
  if (ad_needs_grad(ad, n, 0)) {
    int64_t pads[2 * CONV_MAX_SP];
    for (int i = 0; i < c.nsp; i++) { /* the end pad is implied by output_shape */
      int64_t pe = (c.out[i] - 1) * c.s[i] + c.d[i] * (c.k[i] - 1) + 1 - c.in[i] - c.pb[i];
      pads[i] = c.pb[i];
      pads[c.nsp + i] = pe > 0 ? pe : 0;
    }
    ir_tensor *in[2] = {dy, n->inputs[1]};
    ir_node *b = ad_begin(ad, "", "ConvTranspose", 2, in, 1);
    geometry_attrs(ad, b, &c, pads);
    ad_attr_ints(ad, b, "output_shape", c.nsp, c.in);
    ad_give_grad(ad, n, 0, ad_finish(ad, b));
  }
  if (ad_needs_grad(ad, n, 1))
    ad_give_grad(ad, n, 1, weight_grad(ad, n->inputs[0], dy, &c));
  if (ad_needs_grad(ad, n, 2))
    ad_give_grad(ad, n, 2, grad_channel_sum(ad, dy));
  return NN_OK;
}

/* ConvTranspose: dX = Conv(dY, W) with the same geometry, dW =
 * ConvGradWeight(dY, X) (the roles swapped), dB = dY summed per channel. */
nn_status grad_conv_transpose(ad_ctx *ad, const ir_node *n) {
  ir_tensor *dy = ad_out_grad(ad, n, 0);
  conv_geo c;
  if (!dy || conv_geometry(ad_graph(ad), n, true, &c))
    return dy ? NN_ERR : NN_OK;
  if (ad_needs_grad(ad, n, 0)) {
    int64_t pads[2 * CONV_MAX_SP];
    for (int i = 0; i < c.nsp; i++) { /* an end pad that makes the Conv give X's size */
      int64_t pe = (c.in[i] - 1) * c.s[i] + c.d[i] * (c.k[i] - 1) + 1 - c.out[i] - c.pb[i];
      pads[i] = c.pb[i];
      pads[c.nsp + i] = pe > 0 ? pe : 0; /* output_padding (< stride) leaves pe > -stride */
      if (c.pb[i] < 0 || pe <= -c.s[i])
        return diag_node(ad_graph(ad)->path, n, "training through a ConvTranspose whose "
                         "output_shape or pads crop or extend spatial dim %d is not supported", i);
    }
    ir_tensor *in[2] = {dy, n->inputs[1]};
    ir_node *b = ad_begin(ad, "", "Conv", 2, in, 1);
    geometry_attrs(ad, b, &c, pads);
    ad_give_grad(ad, n, 0, ad_finish(ad, b));
  }
  if (ad_needs_grad(ad, n, 1))
    ad_give_grad(ad, n, 1, weight_grad(ad, dy, n->inputs[0], &c));
  if (ad_needs_grad(ad, n, 2))
    ad_give_grad(ad, n, 2, grad_channel_sum(ad, dy));
  return NN_OK;
}

const op_def op_family_conv_grad[] = {
    {"ConvGradWeight", "nncc", infer_conv_grad_weight, NULL, emit_conv_grad_weight, 0},
    {NULL},
};
