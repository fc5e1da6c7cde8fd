/* Integer matmul and convolution: MatMulInteger and ConvInteger (int32 sums
 * of zero-point-shifted 8-bit values), QLinearMatMul and QLinearConv (the
 * same sums requantized: round half to even of sum * (sa * sb / sy) + zy,
 * then saturated -- or, for QLinearMatMul, wrapped as ONNX's reference does;
 * see emit_requantize). Sums are exact in int32, as ONNX's are. */

#include "common.h"
#include "conv_geom.h"
#include "narrow.h"
#include "quantize.h"

static bool is_8bit(ir_dtype t) { return t == IR_UINT8 || t == IR_INT8; }

/* Checks that optional input k, a zero point or scale for a side of `len`
 * values, is a scalar or holds one value per element (1-D of len). */
static nn_status check_side(ir_graph *g, const ir_node *n, int k, const char *what, int64_t len) {
  const ir_tensor *t = ir_in(n, k);
  if (!t || ir_numel(t) == 1 || (t->rank == 1 && t->dims[0] == len))
    return NN_OK;
  return diag_node(g->path, n, "input %d '%s' must be a scalar or 1-D of %lld values", k, what,
                   (long long)len);
}

/* Element expression of a per-tensor or per-index side input named `name`. */
static const char *side_at(emit_ctx *e, const ir_tensor *t, const char *name, const char *idx) {
  return mem_printf(e->g->mem, "%s[%s]", name, ir_numel(t) == 1 ? "0" : idx);
}

/* The requantizing factor sa * sb / sy, computed in the scales' type as the
 * reference does (float32, or float16 rounded after each step); ia and ib
 * index the first two scales when they are not scalars. */
static void emit_factor(emit_ctx *e, const ir_node *n, int ka, int kb, int ky, const char *ia,
                        const char *ib) {
  const ir_tensor *sa = n->inputs[ka], *sb = n->inputs[kb], *sy = n->inputs[ky];
  ir_dtype t = sa->dtype;
  const char *a = q_load_float(e, sa->dtype, side_at(e, sa, mem_printf(e->g->mem, "in%d", ka), ia));
  const char *b = q_load_float(e, sb->dtype, side_at(e, sb, mem_printf(e->g->mem, "in%d", kb), ib));
  const char *y = q_load_float(e, sy->dtype, side_at(e, sy, mem_printf(e->g->mem, "in%d", ky), "0"));
  const char *ab = q_round_to(e, t, mem_printf(e->g->mem, "%s * %s", a, b));
  emit_line(e, "const float f = %s;", q_round_to(e, t, mem_printf(e->g->mem, "(%s) / %s", ab, y)));
}

/* out0[at] = round(sum * f + zy) into 8-bit dtype t; zy from input kz.
 * saturate: clamp to t's range; else wrap modulo 256 -- QLinearMatMul's doc
 * says saturate, but ONNX's reference (which made the suite's expected
 * outputs) converts with a plain astype, and the suite depends on it. */
static void emit_requantize(emit_ctx *e, const ir_node *n, int kz, ir_dtype t, const char *at,
                            bool saturate) {
  const ir_tensor *zy = ir_in(n, kz);
  const char *z = zy ? mem_printf(e->g->mem, "(double)%s", side_at(e, zy, mem_printf(e->g->mem, "in%d", kz), "0")) : "0.0";
  emit_line(e, "const double q = nearbyint((double)acc * (double)f + %s);", z);
  if (saturate)
    emit_line(e, "out0[%s] = (%s)fmin(fmax(q, %lld.0), %lld.0);", at, ir_dtype_ctype(t),
              (long long)int_dtype_min(t), (long long)int_dtype_max(t));
  else
    emit_line(e, "out0[%s] = (%s)(uint8_t)(int64_t)q;", at, ir_dtype_ctype(t));
}

/* ---- matmul: A [..., M, K] x B [..., K, N] with NumPy batch broadcasting ---- */

typedef struct qmm {
  int64_t M, K, N;
  int nb;                           /* output batch rank */
  int64_t batch[IR_MAX_RANK];       /* output batch dims */
  int64_t a_step[IR_MAX_RANK], b_step[IR_MAX_RANK]; /* per batch dim, 0 when broadcast */
} qmm;

static nn_status qmm_shape(ir_graph *g, ir_node *n, int ka, int kb, qmm *s, int64_t *out,
                           int *out_rank) {
  const ir_tensor *A = n->inputs[ka], *B = n->inputs[kb];
  if (A->rank < 1 || B->rank < 1)
    return diag_node(g->path, n, "inputs must have rank 1 or more");
  int ar = A->rank, br = B->rank;
  s->M = ar >= 2 ? A->dims[ar - 2] : 1;
  s->K = A->dims[ar - 1];
  s->N = br >= 2 ? B->dims[br - 1] : 1;
  int64_t kb_dim = br >= 2 ? B->dims[br - 2] : B->dims[0];
  if (kb_dim != s->K)
    return diag_node(g->path, n, "inner dimensions differ: %lld and %lld", (long long)s->K,
                     (long long)kb_dim);
  int abr = ar > 2 ? ar - 2 : 0, bbr = br > 2 ? br - 2 : 0;
  s->nb = abr > bbr ? abr : bbr;
  int64_t astride = s->M * s->K, bstride = s->K * s->N;
  for (int d = s->nb - 1; d >= 0; d--) {
    int da = d - (s->nb - abr), db = d - (s->nb - bbr);
    int64_t x = da >= 0 ? A->dims[da] : 1, y = db >= 0 ? B->dims[db] : 1;
    if (x != y && x != 1 && y != 1)
      return diag_node(g->path, n, "batch dimensions %lld and %lld do not broadcast",
                       (long long)x, (long long)y);
    s->batch[d] = x > y ? x : y;
    s->a_step[d] = x == 1 ? 0 : astride;
    s->b_step[d] = y == 1 ? 0 : bstride;
    astride *= x;
    bstride *= y;
  }
  *out_rank = 0;
  for (int d = 0; d < s->nb; d++)
    out[(*out_rank)++] = s->batch[d];
  if (ar >= 2)
    out[(*out_rank)++] = s->M;
  if (br >= 2)
    out[(*out_rank)++] = s->N;
  return NN_OK;
}

/* Emits the batch loops and the A/B/Y base offsets (aoff, boff, yoff);
 * returns how many loops to close. */
static int emit_batch_loops(emit_ctx *e, const qmm *s) {
  int64_t y_step[IR_MAX_RANK], step = s->M * s->N;
  for (int d = s->nb - 1; d >= 0; d--) {
    y_step[d] = step;
    step *= s->batch[d];
  }
  for (int d = 0; d < s->nb; d++)
    emit_for(e, mem_printf(e->g->mem, "i%d", d), s->batch[d]);
  emit_line(e, "const int64_t aoff = %s;", plan_offset_expr(e, 0, s->a_step, s->nb));
  emit_line(e, "const int64_t boff = %s;", plan_offset_expr(e, 0, s->b_step, s->nb));
  emit_line(e, "const int64_t yoff = %s;", plan_offset_expr(e, 0, y_step, s->nb));
  return s->nb;
}

static nn_status infer_qmatmul_common(ir_graph *g, ir_node *n, int ka, int kb, ir_dtype t) {
  const ir_tensor *A = n->inputs[ka], *B = n->inputs[kb];
  if (!A || !B)
    return diag_node(g->path, n, "inputs A and B are required");
  if (!is_8bit(A->dtype) || !is_8bit(B->dtype))
    return diag_node(g->path, n, "A and B must be uint8 or int8 (got %s and %s)",
                     ir_dtype_name(A->dtype), ir_dtype_name(B->dtype));
  qmm s;
  int64_t dims[IR_MAX_RANK + 2];
  int rank;
  if (qmm_shape(g, n, ka, kb, &s, dims, &rank))
    return NN_ERR;
  if (rank > IR_MAX_RANK)
    return diag_node(g->path, n, "output rank above %d", IR_MAX_RANK);
  ir_set_shape(n->outputs[0], t, rank, dims);
  return NN_OK;
}

/* A matmul zero point or scale is a scalar, one value per row of A (per
 * column of B) as a 1-D tensor, or the operand's shape with K made 1 (per
 * row or column of every matrix in the batch). */
static nn_status check_mm_side(ir_graph *g, const ir_node *n, int k, const char *what,
                               const ir_tensor *op, bool row) {
  const ir_tensor *t = ir_in(n, k);
  if (!t || ir_numel(t) == 1)
    return NN_OK;
  int r = op->rank;
  int64_t len = row ? (r >= 2 ? op->dims[r - 2] : 1) : (r >= 2 ? op->dims[r - 1] : 1);
  if (t->rank == 1 && t->dims[0] == len)
    return NN_OK;
  bool same = r >= 2 && t->rank == r;
  for (int d = 0; same && d < r; d++)
    same = t->dims[d] == (d == (row ? r - 1 : r - 2) ? 1 : op->dims[d]);
  if (same)
    return NN_OK;
  return diag_node(g->path, n,
                   "input %d '%s' must be a scalar, 1-D of %lld values, or the operand's shape "
                   "with %s 1",
                   k, what, (long long)len, row ? "the last dim" : "the next to last dim");
}

/* Index of a matmul side input (see check_mm_side) inside the r/c loops. */
static const char *mm_side_index(emit_ctx *e, const ir_tensor *t, const qmm *s, bool row) {
  if (ir_numel(t) == 1)
    return "0";
  if (t->rank == 1)
    return row ? "r" : "c";
  return mem_printf(e->g->mem, row ? "aoff / %lld + r" : "boff / %lld + c", (long long)s->K);
}

/* The sum over k of (A - za) * (B - zb) for output (r, c) into `acc`. */
static void emit_dot(emit_ctx *e, const ir_node *n, const qmm *s, int ka, int kza, int kb,
                     int kzb) {
  const ir_tensor *za = ir_in(n, kza), *zb = ir_in(n, kzb);
  const char *zas = za ? mem_printf(e->g->mem, "(int32_t)in%d[%s]", kza, mm_side_index(e, za, s, true)) : "0";
  const char *zbs = zb ? mem_printf(e->g->mem, "(int32_t)in%d[%s]", kzb, mm_side_index(e, zb, s, false)) : "0";
  emit_line(e, "int32_t acc = 0;");
  emit_for(e, "k", s->K);
  emit_line(e, "acc += ((int32_t)in%d[aoff + r * %lld + k] - %s) * ((int32_t)in%d[boff + k * %lld + c] - %s);",
            ka, (long long)s->K, zas, kb, (long long)s->N, zbs);
  emit_close(e);
}

/* MatMulInteger(A, B, a_zero_point, b_zero_point) -> int32 */
static nn_status infer_matmul_integer(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 4) || infer_qmatmul_common(g, n, 0, 1, IR_INT32))
    return NN_ERR;
  const ir_tensor *A = n->inputs[0], *B = n->inputs[1];
  if (check_mm_side(g, n, 2, "a_zero_point", A, true) ||
      check_mm_side(g, n, 3, "b_zero_point", B, false))
    return NN_ERR;
  return NN_OK;
}

static void emit_matmul_integer(emit_ctx *e, const ir_node *n) {
  qmm s;
  int64_t dims[IR_MAX_RANK + 2];
  int rank;
  qmm_shape(e->g, (ir_node *)n, 0, 1, &s, dims, &rank);
  if (ir_numel(n->outputs[0]) == 0)
    return;
  int loops = emit_batch_loops(e, &s);
  emit_parallel_for(e, "r", s.M, s.N * s.K);
  emit_for(e, "c", s.N);
  emit_dot(e, n, &s, 0, 2, 1, 3);
  emit_line(e, "out0[yoff + r * %lld + c] = acc;", (long long)s.N);
  emit_close(e);
  emit_close(e);
  while (loops--)
    emit_close(e);
}

/* QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp) */
static nn_status infer_qlinear_matmul(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 8, 8))
    return NN_ERR;
  for (int k = 0; k < 8; k++)
    if (!n->inputs[k] && k != 2 && k != 5 && k != 7)
      return diag_node(g->path, n, "input %d is required", k);
  const ir_tensor *zy = n->inputs[7];
  ir_dtype t = zy ? zy->dtype : n->inputs[0]->dtype;
  if (infer_qmatmul_common(g, n, 0, 3, t))
    return NN_ERR;
  const ir_tensor *A = n->inputs[0], *B = n->inputs[3];
  if (check_mm_side(g, n, 1, "a_scale", A, true) || check_mm_side(g, n, 2, "a_zero_point", A, true) ||
      check_mm_side(g, n, 4, "b_scale", B, false) ||
      check_mm_side(g, n, 5, "b_zero_point", B, false) || check_side(g, n, 6, "y_scale", 1) ||
      check_side(g, n, 7, "y_zero_point", 1))
    return NN_ERR;
  if (!is_8bit(t))
    return diag_node(g->path, n, "y_zero_point must be uint8 or int8");
  return NN_OK;
}

static void emit_qlinear_matmul(emit_ctx *e, const ir_node *n) {
  qmm s;
  int64_t dims[IR_MAX_RANK + 2];
  int rank;
  qmm_shape(e->g, (ir_node *)n, 0, 3, &s, dims, &rank);
  if (ir_numel(n->outputs[0]) == 0)
    return;
  /* One factor for the whole product unless the scales vary by row or column. */
  bool varies = ir_numel(n->inputs[1]) > 1 || ir_numel(n->inputs[4]) > 1;
  if (!varies)
    emit_factor(e, n, 1, 4, 6, "0", "0");
  int loops = emit_batch_loops(e, &s);
  emit_parallel_for(e, "r", s.M, s.N * s.K);
  emit_for(e, "c", s.N);
  if (varies)
    emit_factor(e, n, 1, 4, 6, mm_side_index(e, n->inputs[1], &s, true),
                mm_side_index(e, n->inputs[4], &s, false));
  emit_dot(e, n, &s, 0, 2, 3, 5);
  emit_requantize(e, n, 7, n->outputs[0]->dtype,
                  mem_printf(e->g->mem, "yoff + r * %lld + c", (long long)s.N), false);
  emit_close(e);
  emit_close(e);
  while (loops--)
    emit_close(e);
}

/* ---- convolution ---- */

/* Geometry of a quantized conv whose X is input kx and W input kw: the
 * float Conv's rules, read through a view of the node with just X and W. */
static nn_status qconv_geometry(ir_graph *g, const ir_node *n, int kx, int kw, conv_geo *c) {
  ir_tensor x = *n->inputs[kx], w = *n->inputs[kw];
  w.dtype = x.dtype; /* uint8 X may meet int8 W */
  ir_tensor *ins[2] = {&x, &w};
  ir_node view = *n;
  view.inputs = ins;
  view.n_inputs = 2;
  return conv_geometry(g, &view, false, c);
}

static nn_status infer_qconv_common(ir_graph *g, ir_node *n, int kx, int kw, ir_dtype t,
                                    conv_geo *c) {
  const ir_tensor *X = n->inputs[kx], *W = n->inputs[kw];
  if (!X || !W)
    return diag_node(g->path, n, "inputs X and W are required");
  if (!is_8bit(X->dtype) || !is_8bit(W->dtype))
    return diag_node(g->path, n, "X and W must be uint8 or int8 (got %s and %s)",
                     ir_dtype_name(X->dtype), ir_dtype_name(W->dtype));
  if (qconv_geometry(g, n, kx, kw, c))
    return NN_ERR;
  int64_t dims[2 + CONV_MAX_SP] = {c->N, c->M};
  for (int i = 0; i < c->nsp; i++)
    dims[2 + i] = c->out[i];
  ir_set_shape(n->outputs[0], t, 2 + c->nsp, dims);
  return NN_OK;
}

/* The sum for output (b, m, o0..) into `acc`, over the group's channels
 * and the taps of the kernel window that fall inside the input: each
 * spatial dim's taps run from lo to hi, computed once per output position. */
static void emit_conv_sum(emit_ctx *e, const ir_node *n, const conv_geo *c, int kx, int kzx,
                          int kw, int kzw) {
  mem_arena *mem = e->g->mem;
  const ir_tensor *zx = ir_in(n, kzx), *zw = ir_in(n, kzw);
  int64_t cg = c->C / c->G, mg = c->M / c->G;
  const char *zxs = zx ? mem_printf(mem, "(int32_t)%s", side_at(e, zx, mem_printf(mem, "in%d", kzx), "0")) : "0";
  const char *zws = zw ? mem_printf(mem, "(int32_t)%s", side_at(e, zw, mem_printf(mem, "in%d", kzw), "m")) : "0";
  for (int i = 0; i < c->nsp; i++) {
    long long st = c->s[i], pb = c->pb[i], d = c->d[i], in = c->in[i];
    emit_line(e, "const int64_t base%d = o%d * %lld - %lld;", i, i, st, pb);
    emit_line(e, "const int64_t lo%d = base%d >= 0 ? 0 : (%lld - base%d) / %lld;", i, i, d - 1, i, d);
    emit_line(e, "const int64_t end%d = (%lld - base%d) / %lld;", i, in + d - 1, i, d);
    emit_line(e, "const int64_t hi%d = end%d < %lld ? end%d : %lld;", i, i, (long long)c->k[i], i,
              (long long)c->k[i]);
  }
  emit_line(e, "int32_t acc = 0;");
  emit_for(e, "ci", cg);
  emit_line(e, "const int64_t ch = m / %lld * %lld + ci;", (long long)mg, (long long)cg);
  const char *xi = mem_printf(mem, "(b * %lld + ch)", (long long)c->C);
  const char *wi = mem_printf(mem, "(m * %lld + ci)", (long long)cg);
  for (int i = 0; i < c->nsp; i++) {
    emit_open(e, "for (int64_t k%d = lo%d; k%d < hi%d; k%d++)", i, i, i, i, i);
    xi = mem_printf(mem, "(%s * %lld + base%d + k%d * %lld)", xi, (long long)c->in[i], i, i,
                    (long long)c->d[i]);
    wi = mem_printf(mem, "(%s * %lld + k%d)", wi, (long long)c->k[i], i);
  }
  emit_line(e, "acc += ((int32_t)in%d[%s] - %s) * ((int32_t)in%d[%s] - %s);", kx, xi, zxs, kw, wi, zws);
  for (int i = 0; i < c->nsp; i++)
    emit_close(e);
  emit_close(e);
}

/* Opens the b, m and output position loops (m on threads when the work is
 * large); `y` is the output index. */
static void emit_conv_open(emit_ctx *e, const conv_geo *c) {
  int64_t taps = c->C / c->G;
  for (int i = 0; i < c->nsp; i++)
    taps *= c->k[i] * c->out[i];
  emit_for(e, "b", c->N);
  emit_parallel_for(e, "m", c->M, taps);
  const char *y = mem_printf(e->g->mem, "(b * %lld + m)", (long long)c->M);
  for (int i = 0; i < c->nsp; i++) {
    emit_for(e, mem_printf(e->g->mem, "o%d", i), c->out[i]);
    y = mem_printf(e->g->mem, "(%s * %lld + o%d)", y, (long long)c->out[i], i);
  }
  emit_line(e, "const int64_t y = %s;", y);
}

static void emit_conv_close(emit_ctx *e, const conv_geo *c) {
  for (int i = 0; i < c->nsp + 2; i++)
    emit_close(e);
}

/* ConvInteger(x, w, x_zero_point, w_zero_point) -> int32 */
static nn_status infer_conv_integer(ir_graph *g, ir_node *n) {
  conv_geo c;
  if (check_arity(g, n, 2, 4) || infer_qconv_common(g, n, 0, 1, IR_INT32, &c))
    return NN_ERR;
  if (check_side(g, n, 2, "x_zero_point", 1) || check_side(g, n, 3, "w_zero_point", c.M))
    return NN_ERR;
  return NN_OK;
}

static void emit_conv_integer(emit_ctx *e, const ir_node *n) {
  conv_geo c;
  qconv_geometry(e->g, n, 0, 1, &c);
  emit_conv_open(e, &c);
  emit_conv_sum(e, n, &c, 0, 2, 1, 3);
  emit_line(e, "out0[y] = acc;");
  emit_conv_close(e, &c);
}

/* QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B) */
static nn_status infer_qlinear_conv(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 8, 9))
    return NN_ERR;
  for (int k = 0; k < 8; k++)
    if (!n->inputs[k] && k != 2 && k != 5 && k != 7)
      return diag_node(g->path, n, "input %d is required", k);
  const ir_tensor *zy = n->inputs[7], *B = ir_in(n, 8);
  ir_dtype t = zy ? zy->dtype : n->inputs[0]->dtype;
  conv_geo c;
  if (infer_qconv_common(g, n, 0, 3, t, &c))
    return NN_ERR;
  if (check_side(g, n, 1, "x_scale", 1) || check_side(g, n, 2, "x_zero_point", 1) ||
      check_side(g, n, 4, "w_scale", c.M) || check_side(g, n, 5, "w_zero_point", c.M) ||
      check_side(g, n, 6, "y_scale", 1) || check_side(g, n, 7, "y_zero_point", 1))
    return NN_ERR;
  if (B && (B->dtype != IR_INT32 || B->rank != 1 || B->dims[0] != c.M))
    return diag_node(g->path, n, "bias must be int32, 1-D of %lld values", (long long)c.M);
  if (!is_8bit(t))
    return diag_node(g->path, n, "y_zero_point must be uint8 or int8");
  return NN_OK;
}

static void emit_qlinear_conv(emit_ctx *e, const ir_node *n) {
  conv_geo c;
  qconv_geometry(e->g, n, 0, 3, &c);
  emit_conv_open(e, &c);
  emit_conv_sum(e, n, &c, 0, 2, 3, 5);
  if (ir_in(n, 8))
    emit_line(e, "acc += in8[m];");
  emit_factor(e, n, 1, 4, 6, "0", "m");
  emit_requantize(e, n, 7, n->outputs[0]->dtype, "y", true);
  emit_conv_close(e, &c);
}

const op_def op_family_qlinear[] = {
    {"MatMulInteger", "", infer_matmul_integer, NULL, emit_matmul_integer, 0},
    {"QLinearMatMul", "", infer_qlinear_matmul, NULL, emit_qlinear_matmul, 0},
    {"ConvInteger", "", infer_conv_integer, NULL, emit_conv_integer, 0},
    {"QLinearConv", "", infer_qlinear_conv, NULL, emit_qlinear_conv, 0},
    {NULL},
};
