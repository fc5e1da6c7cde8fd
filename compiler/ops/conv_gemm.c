/* Conv as a GEMM: per group, Y[m][p] = B[m] + sum_k W[m][k] * X'[k][p],
 * k = (input channel, kernel row, kernel column), p = (output row, column),
 * X' the im2col of X. A task takes one image, one group, a block of whole
 * output rows (the panel's columns) and a block of output channels; it
 * packs X' for its columns kcb rows at a time into a stack panel (each row a
 * few contiguous copies with zero borders) and runs GT_MR x GT_NR tiles of
 * the micro-kernel over it, reading W's rows in place. The same panels serve
 * a stride-1 ConvTranspose (the Conv of the flipped kernel) and the weight
 * gradient nncc.ConvGradWeight (at the end of the file). */
#include <math.h>
#include <stdio.h>

#include "conv_gemm.h"
#include "gemm_tile.h"

#define CG_COLS 128            /* target columns per panel */
#define CG_PANEL_FLOATS 32768  /* stack budget of the packed panel (128 KiB) */
#define CG_FLIP_FLOATS 32768   /* a ConvTranspose's W up to this size is flipped once, on the stack */
#define CG_MIN_TASKS 4         /* fewer image/row blocks than this: split channels too */
#define CG_MAX_OW 2048         /* wider rows would not leave the panel 16 rows of stack */

typedef struct {
  int64_t H, W, OH, OW, KH, KW, s1, s2, d1, d2, pt, pl;
  int64_t C, M, Cg, Mg, K, P;
  int64_t rb, cb;     /* output rows per column block; column blocks */
  int64_t ncp;        /* panel row length: rb * OW rounded up to GT_NR */
  int64_t kcb;        /* k rows per panel */
  int64_t mrows, mch; /* output channels per channel block (a multiple of GT_MR); blocks */
  bool pointwise;     /* 1x1, stride 1, no padding: a panel row is one copy */
  conv_act act;       /* a folded Relu/Clip, applied by the tiles' last k pass */
  bool flip;          /* W is a ConvTranspose's [C, M/G, k...]: read it channel-swapped
                         and kernel-flipped, GT_MR rows at a time into a stack copy */
} cg_geo;

conv_act conv_act_of(const ir_node *n) {
  conv_act a = {ir_attr_find(n, "nncc_act_lo") != NULL, ir_attr_float(n, "nncc_act_lo", -INFINITY),
                ir_attr_float(n, "nncc_act_hi", INFINITY)};
  return a;
}

void emit_conv_act(emit_ctx *e, const conv_act *act, const char *v) {
  if (act->on && !isinf(act->lo))
    emit_line(e, "%s = %s < %s ? %s : %s;", v, v, emit_float(e, act->lo), emit_float(e, act->lo), v);
  if (act->on && !isinf(act->hi))
    emit_line(e, "%s = %s > %s ? %s : %s;", v, v, emit_float(e, act->hi), emit_float(e, act->hi), v);
}

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

bool conv_gemm_fits(const conv_geo *c) {
  if (c->dtype != IR_FLOAT || c->nsp > 2 || c->out[c->nsp - 1] > CG_MAX_OW)
    return false;
  int64_t mg = c->M / c->G, k = c->C / c->G;
  for (int i = 0; i < c->nsp; i++)
    k *= c->k[i];
  return mg >= 4 && k >= 4;
}

static cg_geo make_geo(const conv_geo *c) {
  bool two = c->nsp == 2;
  int o = c->nsp - 1;
  cg_geo q = {.H = two ? c->in[0] : 1, .W = c->in[o], .OH = two ? c->out[0] : 1,
              .OW = c->out[o], .KH = two ? c->k[0] : 1, .KW = c->k[o],
              .s1 = two ? c->s[0] : 1, .s2 = c->s[o], .d1 = two ? c->d[0] : 1, .d2 = c->d[o],
              .pt = two ? c->pb[0] : 0, .pl = c->pb[o], .C = c->C, .M = c->M};
  q.Cg = c->C / c->G;
  q.Mg = c->M / c->G;
  q.K = q.Cg * q.KH * q.KW;
  q.P = q.OH * q.OW;
  q.pointwise = q.KH == 1 && q.KW == 1 && q.s1 == 1 && q.s2 == 1 && q.pt == 0 && q.pl == 0 &&
                q.H == q.OH && q.W == q.OW;
  int64_t rb = CG_COLS / q.OW < 1 ? 1 : CG_COLS / q.OW;
  q.cb = (q.OH + rb - 1) / rb;
  q.rb = (q.OH + q.cb - 1) / q.cb; /* the same row count, spread evenly */
  q.ncp = round_up(q.rb * q.OW, GT_NR);
  q.kcb = CG_PANEL_FLOATS / q.ncp < 16 ? 16 : CG_PANEL_FLOATS / q.ncp;
  q.kcb = q.kcb > q.K ? q.K : q.kcb;
  int64_t base = c->N * c->G * q.cb;
  q.mch = 1;
  if (base < CG_MIN_TASKS && q.Mg >= 8 * GT_MR) {
    q.mch = (CG_MIN_TASKS + base - 1) / base;
    q.mch = q.mch > q.Mg / (4 * GT_MR) ? q.Mg / (4 * GT_MR) : q.mch;
  }
  q.mrows = round_up((q.Mg + q.mch - 1) / q.mch, GT_MR);
  q.mch = (q.Mg + q.mrows - 1) / q.mrows;
  return q;
}

/* Unit column stride: each input channel's rows for the block go once into
 * a zero-bordered row buffer xb (rows of WP = OW + (KW - 1) * d2 columns), so
 * every panel row is `rows` copies of OW floats at fixed offsets: constant
 * sizes, which compilers expand inline (a variable-length copy becomes a
 * libc call or `rep movs`, slow at these lengths). */
static int64_t rowbuf_width(const cg_geo *q) { return q->OW + (q->KW - 1) * q->d2; }
static int64_t rowbuf_rows(const cg_geo *q) { return (q->rb - 1) * q->s1 + (q->KH - 1) * q->d1 + 1; }

static void emit_rowbuf_fill(emit_ctx *e, const cg_geo *q) {
  int64_t wp = rowbuf_width(q);
  /* buffer column p holds input column p - pl: copy columns [c0, c1) */
  int64_t c0 = q->pl < 0 ? -q->pl : 0, c1 = q->W < wp - q->pl ? q->W : wp - q->pl;
  emit_line(e, "const int64_t nrows = (rows - 1) * %lld + %lld;", (long long)q->s1,
            (long long)((q->KH - 1) * q->d1 + 1));
  emit_line(e, "const float *restrict xc = x + ci * %lld;", (long long)(q->H * q->W));
  emit_open(e, "for (int64_t i = 0; i < nrows; i++)");
  emit_line(e, "float *restrict row = xb + i * %lld;", (long long)wp);
  emit_line(e, "const int64_t ih = oh0 * %lld - %lld + i;", (long long)q->s1, (long long)q->pt);
  if (c1 <= c0) {
    emit_line(e, "(void)xc;");
    emit_line(e, "(void)ih;");
    emit_line(e, "memset(row, 0, %zu);", (size_t)wp * sizeof(float));
  } else {
    emit_open(e, "if (ih < 0 || ih >= %lld)", (long long)q->H);
    emit_line(e, "memset(row, 0, %zu);", (size_t)wp * sizeof(float));
    emit_line(e, "continue;");
    emit_close(e);
    if (c0 + q->pl > 0)
      emit_line(e, "memset(row, 0, %zu);", (size_t)(c0 + q->pl) * sizeof(float));
    emit_line(e, "memcpy(row + %lld, xc + ih * %lld + %lld, %zu);", (long long)(c0 + q->pl),
              (long long)q->W, (long long)c0, (size_t)(c1 - c0) * sizeof(float));
    if (wp - c1 - q->pl > 0)
      emit_line(e, "memset(row + %lld, 0, %zu);", (long long)(c1 + q->pl),
                (size_t)(wp - c1 - q->pl) * sizeof(float));
  }
  emit_close(e);
}

static void emit_pack_rowbuf(emit_ctx *e, const cg_geo *q) {
  long long KHW = (long long)(q->KH * q->KW), wp = (long long)rowbuf_width(q);
  emit_line(e, "int64_t cur = -1;");
  emit_open(e, "for (int64_t k = 0; k < kc; k++)");
  emit_line(e, "float *restrict dst = bp + k * %lld;", (long long)q->ncp);
  emit_line(e, "const int64_t kk = k0 + k, ci = kk / %lld, kh = kk / %lld %% %lld, kw = kk %% %lld;",
            KHW, (long long)q->KW, (long long)q->KH, (long long)q->KW);
  emit_open(e, "if (ci != cur)");
  emit_line(e, "cur = ci;");
  emit_rowbuf_fill(e, q);
  emit_close(e);
  emit_open(e, "for (int64_t i = 0; i < rows; i++)");
  emit_line(e, "memcpy(dst + i * %lld, xb + (i * %lld + kh * %lld) * %lld + kw * %lld, %zu);",
            (long long)q->OW, (long long)q->s1, (long long)q->d1, wp, (long long)q->d2,
            (size_t)q->OW * sizeof(float));
  emit_close(e);
  emit_line(e, "memset(dst + ncols, 0, (size_t)(%d - ncols %% %d) %% %d * sizeof *dst);", GT_NR,
            GT_NR, GT_NR);
  emit_close(e);
}

/* Row k of the panel: input channel ci at tap (kh, kw) for every column of
 * the block, zero where the tap falls in the padding. */
static void emit_pack(emit_ctx *e, const cg_geo *q) {
  if (!q->pointwise && q->s2 == 1) {
    emit_pack_rowbuf(e, q);
    return;
  }
  long long KHW = (long long)(q->KH * q->KW), HW = (long long)(q->H * q->W);
  long long OW = (long long)q->OW, s2 = (long long)q->s2, W = (long long)q->W;
  emit_open(e, "for (int64_t k = 0; k < kc; k++)");
  emit_line(e, "float *restrict dst = bp + k * %lld;", (long long)q->ncp);
  if (q->pointwise) {
    emit_open(e, "for (int64_t i = 0; i < rows; i++)"); /* constant-size copies: see above */
    emit_line(e, "memcpy(dst + i * %lld, x + (k0 + k) * %lld + (oh0 + i) * %lld, %zu);", OW, HW, OW,
              (size_t)q->OW * sizeof(float));
    emit_close(e);
  } else {
    emit_line(e, "const int64_t kk = k0 + k, kh = kk / %lld %% %lld, kw = kk %% %lld;",
              (long long)q->KW, (long long)q->KH, (long long)q->KW);
    emit_line(e, "const float *restrict xc = x + kk / %lld * %lld;", KHW, HW);
    /* output columns [lo, hi) read input column ow * s2 + off inside [0, W) */
    emit_line(e, "const int64_t off = kw * %lld - %lld;", (long long)q->d2, (long long)q->pl);
    emit_line(e, "const int64_t hi0 = %lld - off <= 0 ? 0 : (%lld - off) / %lld;", W, W + s2 - 1, s2);
    emit_line(e, "const int64_t hi = hi0 < %lld ? hi0 : %lld;", OW, OW);
    emit_line(e, "const int64_t lo0 = off < 0 ? (%lld - off) / %lld : 0;", s2 - 1, s2);
    emit_line(e, "const int64_t lo = lo0 < hi ? lo0 : hi;");
    emit_open(e, "for (int64_t i = 0; i < rows; i++)");
    emit_line(e, "float *restrict d = dst + i * %lld;", OW);
    emit_line(e, "const int64_t ih = (oh0 + i) * %lld + kh * %lld - %lld;", (long long)q->s1,
              (long long)q->d1, (long long)q->pt);
    emit_open(e, "if (ih < 0 || ih >= %lld)", (long long)q->H);
    emit_line(e, "memset(d, 0, %zu);", (size_t)q->OW * sizeof(float));
    emit_line(e, "continue;");
    emit_close(e);
    emit_line(e, "const float *restrict xr = xc + ih * %lld + off;", W);
    emit_open(e, "for (int64_t j = 0; j < lo; j++)");
    emit_line(e, "d[j] = 0;");
    emit_close(e);
    emit_simd(e); /* strided: unit stride takes emit_pack_rowbuf */
    emit_open(e, "for (int64_t j = lo; j < hi; j++)");
    emit_line(e, "d[j] = xr[j * %lld];", s2);
    emit_close(e);
    emit_open(e, "for (int64_t j = hi; j < %lld; j++)", OW);
    emit_line(e, "d[j] = 0;");
    emit_close(e);
    emit_close(e);
  }
  emit_line(e, "memset(dst + ncols, 0, (size_t)(%d - ncols %% %d) %% %d * sizeof *dst);", GT_NR,
            GT_NR, GT_NR);
  emit_close(e);
}

/* Which partial column tiles occur: bit 1 a tail of 1..8 columns, bit 2 of 9..15. */
static int partial_kinds(const cg_geo *q) {
  int64_t last = q->OH - (q->cb - 1) * q->rb;
  int64_t widths[2] = {q->rb * q->OW % GT_NR, last * q->OW % GT_NR};
  int kinds = 0;
  for (int i = 0; i < 2; i++)
    if (widths[i])
      kinds |= widths[i] <= GT_VEC ? 1 : 2;
  return kinds;
}

/* The flipped weights of rows m.. (mr of them) for k in [k0, k0 + kc):
 * W'[m][c][kh][kw] = W[c][m][KH-1-kh][KW-1-kw] within the group. */
static void emit_flip_rows(emit_ctx *e, const cg_geo *q, int mr) {
  long long khw = (long long)(q->KH * q->KW);
  emit_line(e, "float wt[%lld];", (long long)(mr * q->kcb));
  emit_for(e, "r", mr);
  emit_open(e, "for (int64_t k = 0; k < kc; k++)");
  emit_line(e, "const int64_t kk = k0 + k;");
  emit_line(e, "wt[r * %lld + k] = w[(kk / %lld * %lld + m + r) * %lld + %lld - kk %% %lld];",
            (long long)q->kcb, khw, (long long)q->Mg, khw, khw - 1, khw);
  emit_close(e);
  emit_close(e);
}

/* mr rows of Y from row m (W's rows in L1) across every column tile of the
 * panel (streamed from L2). */
static void emit_column_tiles(emit_ctx *e, const cg_geo *q, int mr, const char *first,
                              bool bias) {
  gemm_tile t = {.mr = mr, .nv = GT_NR / GT_VEC, .a = "wa", .lda = q->flip ? q->kcb : q->K,
                 .b = "bt", .ldb = q->ncp, .y = "yo", .ldy = q->P, .kc = "kc", .first = first,
                 .bias = bias ? "bm" : NULL, .clamp = q->act.on, .lo = q->act.lo,
                 .hi = q->act.hi, .last = first ? mem_printf(e->g->mem, "k0 + kc == %lld",
                                                             (long long)q->K) : NULL};
  int kinds = partial_kinds(q);
  if (q->flip) {
    emit_flip_rows(e, q, mr);
    emit_line(e, "const float *restrict wa = wt;");
  } else {
    emit_line(e, "const float *restrict wa = w + m * %lld + k0;", (long long)q->K);
  }
  if (bias)
    emit_line(e, "const float *restrict bm = bias + m;");
  emit_open(e, "for (int64_t t0 = 0; t0 < ncols; t0 += %d)", GT_NR);
  emit_line(e, "const float *restrict bt = bp + t0;");
  emit_line(e, "float *restrict yo = y + m * %lld + t0;", (long long)q->P);
  if (kinds)
    emit_open(e, "if (ncols - t0 >= %d)", GT_NR);
  emit_gemm_tile(e, &t);
  if (kinds) {
    emit_close(e);
    emit_open(e, "else");
    emit_line(e, "const int64_t rem = ncols - t0;");
    t.cols = "rem";
    if (kinds == 3)
      emit_open(e, "if (rem > %d)", GT_VEC);
    if (kinds & 2)
      emit_gemm_tile(e, &t);
    if (kinds == 3) {
      emit_close(e);
      emit_open(e, "else");
    }
    t.nv = 1;
    if (kinds & 1)
      emit_gemm_tile(e, &t);
    if (kinds == 3)
      emit_close(e);
    emit_close(e);
  }
  emit_close(e);
}

/* Every row block of the channel block: whole ones, then the last few rows. */
/* Only the last channel block has rows past a multiple of GT_MR (mt of them).
 * A tail of 2 (32, 128, 512 channels) would run at a third of the speed, so
 * the last 8 rows go as two tiles of 4, as does a tail of 4. */
static void emit_row_blocks(emit_ctx *e, const cg_geo *q, const char *first, bool bias) {
  int mt = (int)(q->Mg % GT_MR);
  emit_line(e, "int64_t m = 0;");
  if (mt == 2)
    emit_line(e, "const int64_t m6 = mr %% %d == 2 && mr >= 8 ? mr - 8 : mr - mr %% %d;", GT_MR,
              GT_MR);
  else
    emit_line(e, "const int64_t m6 = mr - mr %% %d;", GT_MR);
  emit_open(e, "for (; m < m6; m += %d)", GT_MR);
  emit_column_tiles(e, q, GT_MR, first, bias);
  emit_close(e);
  if (mt == 2 || mt == 4) {
    emit_open(e, "for (; m + 4 <= mr; m += 4)");
    emit_column_tiles(e, q, 4, first, bias);
    emit_close(e);
  }
  if (mt == 2) { /* a last channel block of only 2 rows */
    emit_open(e, "if (m < mr)");
    emit_column_tiles(e, q, 2, first, bias);
    emit_close(e);
  } else if (mt && mt != 4) {
    emit_open(e, "if (m < mr)");
    emit_column_tiles(e, q, mt, first, bias);
    emit_close(e);
  }
}

static void emit_gemm_body(emit_ctx *e, const conv_geo *c, const cg_geo *qp, bool has_bias,
                           const conv_act *act);

void emit_conv_gemm(emit_ctx *e, const conv_geo *c, bool has_bias, const conv_act *act) {
  cg_geo q = make_geo(c);
  emit_gemm_body(e, c, &q, has_bias, act);
}

bool convt_gemm_fits(const conv_geo *c) {
  for (int i = 0; i < c->nsp; i++)
    if (c->s[i] != 1)
      return false;
  return conv_gemm_fits(c);
}

/* A stride-1 ConvTranspose is the Conv of its input with the kernel flipped
 * and its channel axes swapped, padded (k - 1) * d - p before: o = i + k * d - p
 * becomes i = o + k' * d - ((K - 1) * d - p) for k' = K - 1 - k. */
void emit_convt_gemm(emit_ctx *e, const conv_geo *c, bool has_bias) {
  conv_geo f = *c;
  for (int i = 0; i < c->nsp; i++)
    f.pb[i] = (c->k[i] - 1) * c->d[i] - c->pb[i];
  cg_geo q = make_geo(&f);
  q.flip = true;
  conv_act none = {0};
  emit_gemm_body(e, &f, &q, has_bias, &none);
}

static void emit_gemm_body(emit_ctx *e, const conv_geo *c, const cg_geo *qp, bool has_bias,
                           const conv_act *act) {
  cg_geo q = *qp;
  q.act = *act;
  long long G = (long long)c->G, cb = (long long)q.cb, mch = (long long)q.mch;
  int64_t tasks = c->N * c->G * q.cb * q.mch;
  emit_line(e, "/* as a GEMM: per group, Y[%lld][%lld] = W[%lld][%lld] x im2col(X)[%lld][%lld] */",
            (long long)q.Mg, (long long)q.P, (long long)q.Mg, (long long)q.K, (long long)q.K,
            (long long)q.P);
  emit_gemm_tile_types(e, act->on);
  const char *wsrc = "in1";
  if (q.flip && q.M * q.K <= CG_FLIP_FLOATS) {
    /* small enough to flip once for all tasks: then read like a Conv's W */
    long long khw = (long long)(q.KH * q.KW);
    emit_line(e, "float wf[%lld];", (long long)(q.M * q.K));
    emit_for(e, "m", q.M);
    emit_for(e, "k", q.K);
    emit_line(e, "wf[m * %lld + k] = in1[((m / %lld * %lld + k / %lld) * %lld + m %% %lld) * %lld + %lld - k %% %lld];",
              (long long)q.K, (long long)q.Mg, (long long)q.Cg, khw, (long long)q.Mg,
              (long long)q.Mg, khw, khw - 1, khw);
    emit_close(e);
    emit_close(e);
    q.flip = false;
    wsrc = "wf";
  }
  emit_parallel_for(e, "task", tasks, 2 * q.mrows * q.K * q.rb * q.OW);
  emit_line(e, "const int64_t nb = task / %lld, g = task / %lld %% %lld;", G * cb * mch, cb * mch, G);
  emit_line(e, "const int64_t blk = task / %lld %% %lld, mc = task %% %lld;", mch, cb, mch);
  emit_line(e, "const int64_t oh0 = blk * %lld, rows = %lld - oh0 < %lld ? %lld - oh0 : %lld;",
            (long long)q.rb, (long long)q.OH, (long long)q.rb, (long long)q.OH, (long long)q.rb);
  emit_line(e, "const int64_t ncols = rows * %lld;", (long long)q.OW);
  emit_line(e, "const int64_t m0 = g * %lld + mc * %lld;", (long long)q.Mg, (long long)q.mrows);
  emit_line(e, "const int64_t mr = %lld - mc * %lld < %lld ? %lld - mc * %lld : %lld;",
            (long long)q.Mg, (long long)q.mrows, (long long)q.mrows, (long long)q.Mg,
            (long long)q.mrows, (long long)q.mrows);
  emit_line(e, "const float *restrict x = in0 + (nb * %lld + g * %lld) * %lld;", (long long)q.C,
            (long long)q.Cg, (long long)(q.H * q.W));
  if (q.flip) /* W is [C, M/G, k...]: the group's block of C rows, then column m */
    emit_line(e, "const float *restrict w = in1 + (g * %lld * %lld + mc * %lld) * %lld;",
              (long long)q.Cg, (long long)q.Mg, (long long)q.mrows, (long long)(q.KH * q.KW));
  else
    emit_line(e, "const float *restrict w = %s + m0 * %lld;", wsrc, (long long)q.K);
  if (has_bias)
    emit_line(e, "const float *restrict bias = in2 + m0;");
  emit_line(e, "float *restrict y = out0 + (nb * %lld + m0) * %lld + oh0 * %lld;", (long long)q.M,
            (long long)q.P, (long long)q.OW);
  emit_line(e, "_Alignas(64) float bp[%lld];", (long long)(q.kcb * q.ncp));
  if (!q.pointwise && q.s2 == 1)
    emit_line(e, "float xb[%lld];", (long long)(rowbuf_rows(&q) * rowbuf_width(&q)));
  const char *first = NULL;
  if (q.kcb < q.K) {
    emit_open(e, "for (int64_t k0 = 0; k0 < %lld; k0 += %lld)", (long long)q.K, (long long)q.kcb);
    emit_line(e, "const int64_t kc = %lld - k0 < %lld ? %lld - k0 : %lld;", (long long)q.K,
              (long long)q.kcb, (long long)q.K, (long long)q.kcb);
    first = "k0 == 0";
  } else {
    emit_open(e, "%s", "");
    emit_line(e, "const int64_t k0 = 0, kc = %lld;", (long long)q.K);
  }
  emit_pack(e, &q);
  emit_row_blocks(e, &q, first, has_bias);
  emit_close(e);
  emit_close(e);
}

/* ---- the weight gradient: dW^T = sum over images of im2col(X) x dY^T ----
 * Per group, dW[m][k] = sum_{n,p} dY[n][m][p] * X'_n[k][p]. A task owns a
 * block of k rows (whole rows of dW^T, so no two tasks add into one sum); for
 * each image and block of output rows it packs those rows of X' (the forward
 * panel) and the block's dY transposed to [p][m], runs tiles of k rows by 16
 * channels over p, and finally writes its sums transposed into dW. */

#define WG_STACK_FLOATS 40960 /* acc + X' panel + dY^T of a task: 160 KiB */
#define WG_MIN_TASKS 2  /* each task transposes every dY block again: keep them few */
#define WG_MIN_K 64      /* below, transposing dY costs more than the products save */

static bool wgrad_plan(const conv_geo *c, cg_geo *q, int64_t *kb, int64_t *mgp) {
  if (c->dtype != IR_FLOAT || c->nsp > 2 || c->out[c->nsp - 1] > CG_MAX_OW)
    return false;
  *q = make_geo(c);
  *mgp = round_up(q->Mg, GT_NR);
  int64_t fixed = q->ncp * *mgp + rowbuf_rows(q) * rowbuf_width(q);
  int64_t kmax = (WG_STACK_FLOATS - fixed) / (*mgp + q->ncp) / GT_MR * GT_MR;
  if (q->Mg < GT_VEC || q->K < WG_MIN_K || kmax < GT_MR)
    return false;
  int64_t tasks = (q->K + kmax - 1) / kmax;
  int64_t want = q->K / (2 * GT_MR) < WG_MIN_TASKS ? q->K / (2 * GT_MR) : WG_MIN_TASKS;
  tasks = tasks < want ? want : tasks;
  tasks = tasks < 1 ? 1 : tasks;
  *kb = round_up((q->K + tasks - 1) / tasks, GT_MR);
  q->kcb = *kb;
  return true;
}

bool conv_wgrad_gemm_fits(const conv_geo *c) {
  cg_geo q;
  int64_t kb, mgp;
  return wgrad_plan(c, &q, &kb, &mgp);
}

/* Tiles of rows r.. (mr of them) of the task's dW^T block over every channel tile. */
static void emit_wgrad_tiles(emit_ctx *e, const cg_geo *q, int mr, int64_t mgp) {
  gemm_tile t = {.mr = mr, .nv = GT_NR / GT_VEC, .a = "xa", .lda = q->ncp, .b = "dt",
                 .ldb = mgp, .y = "ya", .ldy = mgp, .kc = "ncols", .first = "0"};
  emit_line(e, "const float *restrict xa = bp + r * %lld;", (long long)q->ncp);
  emit_open(e, "for (int64_t t0 = 0; t0 < %lld; t0 += %d)", (long long)mgp, GT_NR);
  emit_line(e, "const float *restrict dt = bd + t0;");
  emit_line(e, "float *restrict ya = acc + r * %lld + t0;", (long long)mgp);
  emit_gemm_tile(e, &t);
  emit_close(e);
}

void emit_conv_wgrad_gemm(emit_ctx *e, const conv_geo *c) {
  cg_geo q;
  int64_t kb, mgp;
  if (!wgrad_plan(c, &q, &kb, &mgp))
    return;
  long long K = (long long)q.K, Mg = (long long)q.Mg, P = (long long)q.P;
  int64_t kt = (q.K + kb - 1) / kb;
  emit_line(e, "/* as a GEMM: per group, dW^T[%lld][%lld] = sum over images of im2col(X)[%lld][%lld] x dY^T[%lld][%lld] */",
            K, Mg, K, P, P, Mg);
  emit_gemm_tile_types(e, false);
  emit_parallel_for(e, "task", c->G * kt, 2 * kb * q.Mg * q.P * c->N);
  emit_line(e, "const int64_t g = task / %lld, k0 = task %% %lld * %lld;", (long long)kt,
            (long long)kt, (long long)kb);
  emit_line(e, "const int64_t kc = %lld - k0 < %lld ? %lld - k0 : %lld;", K, (long long)kb, K,
            (long long)kb);
  emit_line(e, "float acc[%lld], bd[%lld];", (long long)(kb * mgp), (long long)(q.ncp * mgp));
  emit_line(e, "_Alignas(64) float bp[%lld];", (long long)(kb * q.ncp));
  if (!q.pointwise && q.s2 == 1)
    emit_line(e, "float xb[%lld];", (long long)(rowbuf_rows(&q) * rowbuf_width(&q)));
  emit_line(e, "memset(acc, 0, sizeof acc);");
  emit_line(e, "memset(bd, 0, sizeof bd); /* channels past M/G stay zero */");
  emit_for(e, "nb", c->N);
  emit_for(e, "blk", q.cb);
  emit_line(e, "const int64_t oh0 = blk * %lld, rows = %lld - oh0 < %lld ? %lld - oh0 : %lld;",
            (long long)q.rb, (long long)q.OH, (long long)q.rb, (long long)q.OH, (long long)q.rb);
  emit_line(e, "const int64_t ncols = rows * %lld;", (long long)q.OW);
  emit_line(e, "const float *restrict x = in0 + (nb * %lld + g * %lld) * %lld;", (long long)q.C,
            (long long)q.Cg, (long long)(q.H * q.W));
  emit_line(e, "const float *restrict dy = in1 + (nb * %lld + g * %lld) * %lld + oh0 * %lld;",
            (long long)q.M, Mg, P, (long long)q.OW);
  emit_pack(e, &q);
  emit_for(e, "m", q.Mg);
  emit_open(e, "for (int64_t p = 0; p < ncols; p++)");
  emit_line(e, "bd[p * %lld + m] = dy[m * %lld + p];", (long long)mgp, P);
  emit_close(e);
  emit_close(e);
  emit_line(e, "int64_t r = 0;");
  emit_open(e, "for (; r + %d <= kc; r += %d)", GT_MR, GT_MR);
  emit_wgrad_tiles(e, &q, GT_MR, mgp);
  emit_close(e);
  if (q.K % GT_MR) { /* only the last task has a short block */
    emit_open(e, "if (r < kc)");
    emit_wgrad_tiles(e, &q, (int)(q.K % GT_MR), mgp);
    emit_close(e);
  }
  emit_close(e); /* blk */
  emit_close(e); /* nb */
  emit_for(e, "m", q.Mg);
  emit_open(e, "for (int64_t k = 0; k < kc; k++)");
  emit_line(e, "out0[(g * %lld + m) * %lld + k0 + k] = acc[k * %lld + m];", Mg, K, (long long)mgp);
  emit_close(e);
  emit_close(e);
  emit_close(e); /* task */
}
