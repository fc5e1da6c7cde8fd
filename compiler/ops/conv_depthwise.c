/* Depthwise Conv (one input and one output channel per group, float32, 1-D
 * or 2-D): a task per image, channel and band of output rows copies the
 * band's input rows into a zero-bordered stack buffer split by column stride
 * phase, so every tap of an output row is a contiguous run; each output
 * element then sums all its taps in a register, vectorized along the row. */
#include <stdio.h>

#include "conv_gemm.h"

#define DW_BUF_FLOATS 16384 /* stack budget of a band's input buffer (64 KiB) */
#define DW_UNROLL_TAPS 49   /* kernels up to 7x7 write every tap out */

typedef struct {
  int64_t H, W, OH, OW, KH, KW, s1, s2, d1, d2, pt, pl;
  int64_t wq;    /* buffer columns per phase: OW plus the kernel's reach in phase columns */
  int64_t xrows; /* buffer rows of a full band */
  int64_t rb, bands;
} dw_geo;

static dw_geo dw_make(const conv_geo *c) {
  bool two = c->nsp == 2;
  int o = c->nsp - 1;
  dw_geo q = {.H = two ? c->in[0] : 1, .W = c->in[o], .OH = two ? c->out[0] : 1,
              .OW = c->out[o], .KH = two ? c->k[0] : 1, .KW = c->k[o],
              .s1 = two ? c->s[0] : 1, .s2 = c->s[o], .d1 = two ? c->d[0] : 1, .d2 = c->d[o],
              .pt = two ? c->pb[0] : 0, .pl = c->pb[o]};
  q.wq = q.OW + (q.KW - 1) * q.d2 / q.s2;
  int64_t reach = (q.KH - 1) * q.d1 + 1; /* rows one output row reads */
  int64_t per_row = q.s2 * q.wq;
  q.rb = (DW_BUF_FLOATS / per_row - reach) / q.s1 + 1;
  q.rb = q.rb > q.OH ? q.OH : q.rb;
  q.bands = q.rb >= 1 ? (q.OH + q.rb - 1) / q.rb : 0;
  q.xrows = (q.rb - 1) * q.s1 + reach;
  return q;
}

bool conv_depthwise_fits(const conv_geo *c) {
  if (c->dtype != IR_FLOAT || c->nsp > 2 || c->G != c->C || c->M != c->C)
    return false;
  dw_geo q = dw_make(c);
  return q.rb >= 1 && q.s2 <= 4;
}

/* The band's input rows into xp[px][i][jj] = X(oh0 * s1 - pt + i, jj * s2 + px - pl),
 * zero outside X. */
static void emit_dw_fill(emit_ctx *e, const dw_geo *q) {
  long long wq = (long long)q->wq, s2 = (long long)q->s2, W = (long long)q->W;
  long long plane = (long long)(q->xrows * q->wq);
  emit_line(e, "const int64_t nrows = (rows - 1) * %lld + %lld;", (long long)q->s1,
            (long long)((q->KH - 1) * q->d1 + 1));
  emit_open(e, "for (int64_t i = 0; i < nrows; i++)");
  emit_line(e, "const int64_t ih = oh0 * %lld - %lld + i;", (long long)q->s1, (long long)q->pt);
  emit_for(e, "px", q->s2);
  emit_line(e, "float *restrict d = xp + px * %lld + i * %lld;", plane, wq);
  emit_open(e, "if (ih < 0 || ih >= %lld)", (long long)q->H);
  emit_line(e, "memset(d, 0, %zu);", (size_t)q->wq * sizeof(float));
  emit_line(e, "continue;");
  emit_close(e);
  /* jj in [lo, hi) reads column jj * s2 + px - pl inside [0, W) */
  emit_line(e, "const int64_t off = px - %lld;", (long long)q->pl);
  emit_line(e, "const int64_t hi0 = %lld - off <= 0 ? 0 : (%lld - off) / %lld;", W, W + s2 - 1, s2);
  emit_line(e, "const int64_t hi = hi0 < %lld ? hi0 : %lld;", wq, wq);
  emit_line(e, "const int64_t lo0 = off < 0 ? (%lld - off) / %lld : 0;", s2 - 1, s2);
  emit_line(e, "const int64_t lo = lo0 < hi ? lo0 : hi;");
  emit_line(e, "const float *restrict xr = x + ih * %lld + off;", W);
  emit_open(e, "for (int64_t j = 0; j < lo; j++)");
  emit_line(e, "d[j] = 0;");
  emit_close(e);
  emit_simd_minmax(e, ""); /* clang turns the stride-1 copy into memcpy, and warns */
  emit_open(e, "for (int64_t j = lo; j < hi; j++)");
  emit_line(e, "d[j] = xr[j * %lld];", s2);
  emit_close(e);
  emit_open(e, "for (int64_t j = hi; j < %lld; j++)", wq);
  emit_line(e, "d[j] = 0;");
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* Tap (kh, kw) of output row i, column j: buffer phase kw * d2 % s2, row
 * i * s1 + kh * d1, column j + kw * d2 / s2. */
static long long tap_offset(const dw_geo *q, int64_t kh, int64_t kw) {
  return (long long)((kw * q->d2 % q->s2) * q->xrows * q->wq + kh * q->d1 * q->wq +
                     kw * q->d2 / q->s2);
}

static void emit_dw_rows(emit_ctx *e, const dw_geo *q, bool bias, const conv_act *act) {
  int64_t taps = q->KH * q->KW;
  bool unroll = taps <= DW_UNROLL_TAPS;
  if (unroll)
    for (int64_t t = 0; t < taps; t++)
      emit_line(e, "const float w%lld = wk[%lld];", (long long)t, (long long)t);
  emit_open(e, "for (int64_t i = 0; i < rows; i++)");
  emit_line(e, "const float *restrict xi = xp + i * %lld;", (long long)(q->s1 * q->wq));
  emit_line(e, "float *restrict yi = y + i * %lld;", (long long)q->OW);
  /* gcc only: clang vectorizes this loop by itself, yet reports failure when
   * asked to (a clamp without fast-math, or a fully unrolled short row) */
  emit_simd_minmax(e, "");
  emit_open(e, "for (int64_t j = 0; j < %lld; j++)", (long long)q->OW);
  emit_line(e, "float acc = %s;", bias ? "b" : "0.0f");
  if (unroll) {
    for (int64_t kh = 0; kh < q->KH; kh++)
      for (int64_t kw = 0; kw < q->KW; kw++)
        emit_line(e, "acc += w%lld * xi[%s];", (long long)(kh * q->KW + kw),
                  emit_affine(e, tap_offset(q, kh, kw), "j", 1));
  } else {
    emit_for(e, "kh", q->KH);
    emit_for(e, "kw", q->KW);
    emit_line(e, "acc += wk[kh * %lld + kw] * xi[kw * %lld %% %lld * %lld + kh * %lld + kw * %lld / %lld + j];",
              (long long)q->KW, (long long)q->d2, (long long)q->s2,
              (long long)(q->xrows * q->wq), (long long)(q->d1 * q->wq), (long long)q->d2,
              (long long)q->s2);
    emit_close(e);
    emit_close(e);
  }
  emit_conv_act(e, act, "acc");
  emit_line(e, "yi[j] = acc;");
  emit_close(e);
  emit_close(e);
}

void emit_conv_depthwise(emit_ctx *e, const conv_geo *c, bool has_bias, const conv_act *act) {
  dw_geo q = dw_make(c);
  long long C = (long long)c->C, bands = (long long)q.bands;
  emit_line(e, "/* depthwise: each output sums its taps in a register, along the row */");
  emit_parallel_for(e, "task", c->N * c->C * q.bands, 2 * q.KH * q.KW * q.rb * q.OW);
  emit_line(e, "const int64_t nb = task / %lld, ch = task / %lld %% %lld, band = task %% %lld;",
            C * bands, bands, C, bands);
  emit_line(e, "const int64_t oh0 = band * %lld, rows = %lld - oh0 < %lld ? %lld - oh0 : %lld;",
            (long long)q.rb, (long long)q.OH, (long long)q.rb, (long long)q.OH, (long long)q.rb);
  emit_line(e, "const float *restrict x = in0 + (nb * %lld + ch) * %lld;", C,
            (long long)(q.H * q.W));
  emit_line(e, "const float *restrict wk = in1 + ch * %lld;", (long long)(q.KH * q.KW));
  if (has_bias)
    emit_line(e, "const float b = in2[ch];");
  emit_line(e, "float *restrict y = out0 + (nb * %lld + ch) * %lld + oh0 * %lld;", C,
            (long long)(q.OH * q.OW), (long long)q.OW);
  emit_line(e, "float xp[%lld];", (long long)(q.s2 * q.xrows * q.wq));
  emit_dw_fill(e, &q);
  emit_dw_rows(e, &q, has_bias, act);
  emit_close(e);
}
