/* The gemm family: Gemm and MatMul. Both lower to one emitter of blocks of
 * rows of Y = alpha * A * B + init, with every size and stride a literal.
 * Rows of a block share each load of B; the inner loop runs contiguous, and
 * each load and store of Y sums several products, so compilers vectorize it
 * into few memory operations per multiply-add. */
#include <stdio.h>

#include "autodiff.h"
#include "common.h"
#include "gemm_tile.h"

#define MM_MR 8    /* rows per block: each load of B feeds this many rows */
#define MM_KU 4    /* k steps per pass over a block of y */
#define MM_JU 2    /* columns per dot-product step: each load of A feeds this many */
#define MM_CH 128  /* columns per task when a product has too few rows to share out */

/* A product's geometry. Within a block, A(r,k) is a[r*a_i + k*a_k], B(k,j)
 * is b[k*b_k + j*b_j] and Y(r,j) is y[r*N + j]. Y starts as alpha * A * B
 * plus beta * C (Gemm's C with strides ci, cj) or 0. */
typedef struct {
  int64_t N, K, a_i, a_k, b_k, b_j;
  ir_dtype t;
  double alpha, beta;
  bool has_c;
  int64_t ci, cj;
  bool col_tasks; /* share columns, not rows, among threads */
} mm_desc;

/* Y(r, j)'s starting value, for row r of the block at row i0, column j. */
static const char *init_expr(emit_ctx *e, const mm_desc *d, const char *r, const char *j) {
  if (!d->has_c)
    return "0";
  const char *ri = emit_affine(e, 0, mem_printf(e->g->mem, "i0 + %s", r), d->ci);
  const char *cj = emit_affine(e, 0, j, d->cj);
  const char *c = mem_printf(e->g->mem, "in2[%s]", !d->ci ? cj : !d->cj ? ri
                                                   : mem_printf(e->g->mem, "%s + %s", ri, cj));
  if (d->beta == 1.0)
    return c;
  return mem_printf(e->g->mem, "%s * %s", emit_literal(e, d->t, d->beta), c);
}

/* "alpha * " or "" */
static const char *alpha_mul(emit_ctx *e, const mm_desc *d) {
  return d->alpha == 1.0 ? "" : mem_printf(e->g->mem, "%s * ", emit_literal(e, d->t, d->alpha));
}

/* One pass of ku k-steps from k over columns [j0, j1):
 * y[r][j] += sum_u A(r, k+u) * B(k+u, j). */
static void emit_axpy_pass(emit_ctx *e, const mm_desc *d, int mr, int ku) {
  const char *ct = ir_dtype_ctype(d->t), *al = alpha_mul(e, d);
  char buf[1024];
  for (int r = 0; r < mr; r++) {
    size_t len = (size_t)snprintf(buf, sizeof buf, "const %s", ct);
    for (int u = 0; u < ku; u++)
      len += (size_t)snprintf(
          buf + len, sizeof buf - len, "%s a%d_%d = %sa[%s]", u ? "," : "", r, u, al,
          emit_affine(e, r * d->a_i, u ? mem_printf(e->g->mem, "k + %d", u) : "k", d->a_k));
    emit_line(e, "%s;", buf);
  }
  emit_line(e, "const %s *restrict br = b + k * %lld;", ct, (long long)d->b_k);
  emit_simd(e);
  emit_open(e, "for (int64_t j = j0; j < j1; j++)");
  size_t len = (size_t)snprintf(buf, sizeof buf, "const %s", ct);
  for (int u = 0; u < ku; u++)
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s b%d = br[%s]", u ? "," : "", u,
                            emit_affine(e, u * d->b_k, "j", 1));
  emit_line(e, "%s;", buf);
  for (int r = 0; r < mr; r++) {
    len = (size_t)snprintf(buf, sizeof buf, "y[%s] +=", emit_affine(e, r * d->N, "j", 1));
    for (int u = 0; u < ku; u++)
      len += (size_t)snprintf(buf + len, sizeof buf - len, "%s a%d_%d * b%d", u ? " +" : "", r, u, u);
    emit_line(e, "%s;", buf);
  }
  emit_close(e);
}

/* i-k-j order over columns [j0, j1): rows of B stream into mr rows of y. */
static void emit_axpy_cols(emit_ctx *e, const mm_desc *d, int mr) {
  int64_t main = d->K / MM_KU * MM_KU;
  emit_for(e, "r", mr);
  emit_open(e, "for (int64_t j = j0; j < j1; j++)");
  emit_line(e, "y[r * %lld + j] = %s;", (long long)d->N, init_expr(e, d, "r", "j"));
  emit_close(e);
  emit_close(e);
  if (main > 0) {
    emit_open(e, "for (int64_t k = 0; k < %lld; k += %d)", (long long)main, MM_KU);
    emit_axpy_pass(e, d, mr, MM_KU);
    emit_close(e);
  }
  if (main < d->K) {
    emit_open(e, "%s", "");
    emit_line(e, "const int64_t k = %lld;", (long long)main);
    emit_axpy_pass(e, d, mr, (int)(d->K - main));
    emit_close(e);
  }
}

/* ju columns of y's mr rows from column j, as dot products along k (B
 * transposed, or N == 1): mr * ju sums share each load of A and B. */
static void emit_dot_cols(emit_ctx *e, const mm_desc *d, int mr, int ju) {
  const char *ct = ir_dtype_ctype(d->t), *al = alpha_mul(e, d);
  char sums[512];
  size_t ls = 0;
  for (int r = 0; r < mr; r++)
    for (int u = 0; u < ju; u++)
      ls += (size_t)snprintf(sums + ls, sizeof sums - ls, "%ss%d_%d", ls ? ", " : "", r, u);
  emit_line(e, "const %s *restrict br = b + j * %lld;", ct, (long long)d->b_j);
  for (int r = 0; r < mr; r++)
    for (int u = 0; u < ju; u++)
      emit_line(e, "%s s%d_%d = 0;", ct, r, u);
  emit_simd_sum(e, sums);
  emit_for(e, "k", d->K);
  for (int u = 0; u < ju; u++)
    emit_line(e, "const %s b%d = br[%s];", ct, u, emit_affine(e, u * d->b_j, "k", 1));
  for (int r = 0; r < mr; r++) {
    emit_line(e, "const %s a%d = a[%s];", ct, r, emit_affine(e, r * d->a_i, "k", d->a_k));
    for (int u = 0; u < ju; u++)
      emit_line(e, "s%d_%d += a%d * b%d;", r, u, r, u);
  }
  emit_close(e);
  for (int u = 0; u < ju; u++)
    for (int r = 0; r < mr; r++)
      emit_line(e, "y[%s] = %ss%d_%d + %s;", emit_affine(e, r * d->N + u, "j", 1), al, r, u,
                init_expr(e, d, mem_printf(e->g->mem, "%d", r), mem_printf(e->g->mem, "j + %d", u)));
}

/* Dot-product order, for B contiguous along k. */
static void emit_block_dot(emit_ctx *e, const mm_desc *d, int mr) {
  int64_t pairs = d->N / MM_JU;
  if (pairs > 0) {
    if (d->col_tasks)
      emit_parallel_for(e, "jp", pairs, 2 * mr * MM_JU * d->K);
    else
      emit_for(e, "jp", pairs);
    emit_line(e, "const int64_t j = jp * %d;", MM_JU);
    emit_dot_cols(e, d, mr, MM_JU);
    emit_close(e);
  }
  for (int64_t j = pairs * MM_JU; j < d->N; j++) {
    emit_open(e, "%s", "");
    emit_line(e, "const int64_t j = %lld;", (long long)j);
    emit_dot_cols(e, d, mr, 1);
    emit_close(e);
  }
}

/* float32 with rows of A and B contiguous and enough columns: the
 * register-blocked micro-kernel (gemm_tile.c). */
static bool tiles_fit(const mm_desc *d) {
  return d->t == IR_FLOAT && d->a_k == 1 && d->b_j == 1 && d->alpha == 1.0 && d->N >= GT_NR &&
         d->K >= 4;
}

/* mr rows of y over columns [j0, j1) for k in [k0, k0 + kc), y already holding
 * the partial sum: GT_MR x GT_NR tiles, the last column tile partial. */
static void emit_tile_rows(emit_ctx *e, const mm_desc *d, int mr, bool partial) {
  gemm_tile t = {.mr = mr, .nv = GT_NR / GT_VEC, .a = "wa", .lda = d->a_i, .b = "bt",
                 .ldb = d->b_k, .y = "yo", .ldy = d->N, .kc = "kc", .first = "0"};
  emit_line(e, "const float *restrict wa = a + m * %lld + k0;", (long long)d->a_i);
  emit_open(e, "for (int64_t t0 = j0; t0 < j1; t0 += %d)", GT_NR);
  emit_line(e, "const float *restrict bt = b + k0 * %lld + t0;", (long long)d->b_k);
  emit_line(e, "float *restrict yo = y + m * %lld + t0;", (long long)d->N);
  if (partial)
    emit_open(e, "if (j1 - t0 >= %d)", GT_NR);
  emit_gemm_tile(e, &t);
  if (partial) {
    emit_close(e);
    emit_open(e, "else");
    emit_line(e, "const int64_t rem = j1 - t0;");
    t.cols = "rem";
    emit_open(e, "if (rem > %d)", GT_VEC);
    emit_gemm_tile(e, &t);
    emit_close(e);
    emit_open(e, "else");
    t.nv = 1;
    emit_gemm_tile(e, &t);
    emit_close(e);
    emit_close(e);
  }
  emit_close(e);
}

#define MM_KB 256 /* k steps per pass: a tile's rows of A stay in L1 */

static void emit_tile_cols(emit_ctx *e, const mm_desc *d, int mr) {
  emit_for(e, "r", mr);
  emit_open(e, "for (int64_t j = j0; j < j1; j++)");
  emit_line(e, "y[r * %lld + j] = %s;", (long long)d->N, init_expr(e, d, "r", "j"));
  emit_close(e);
  emit_close(e);
  bool partial = d->N % GT_NR != 0;
  emit_open(e, "for (int64_t k0 = 0; k0 < %lld; k0 += %d)", (long long)d->K, MM_KB);
  emit_line(e, "const int64_t kc = %lld - k0 < %d ? %lld - k0 : %d;", (long long)d->K, MM_KB,
            (long long)d->K, MM_KB);
  /* rows in tiles of GT_MR, except that a tail of 2 (an 8-row block) or 4
   * goes as tiles of 4: a 2-row tile runs at a third of the speed */
  int tail = mr % GT_MR, n6 = mr / GT_MR, n4 = 0;
  if (tail == 2 && n6 > 0)
    n6--, n4 = 2, tail = 0;
  else if (tail == 4)
    n4 = 1, tail = 0;
  emit_line(e, "int64_t m = 0;");
  if (n6 > 0) {
    emit_open(e, "for (; m < %d; m += %d)", n6 * GT_MR, GT_MR);
    emit_tile_rows(e, d, GT_MR, partial);
    emit_close(e);
  }
  if (n4 > 0) {
    emit_open(e, "for (; m < %d; m += 4)", n6 * GT_MR + n4 * 4);
    emit_tile_rows(e, d, 4, partial);
    emit_close(e);
  }
  if (tail) {
    emit_open(e, "%s", "");
    emit_tile_rows(e, d, tail, partial);
    emit_close(e);
  }
  emit_close(e);
}

/* Columns [j0, j1) of the block by `cols`: all N at once, or chunks of
 * MM_CH columns on threads when the block's rows alone are too few. */
static void emit_block_cols(emit_ctx *e, const mm_desc *d, int mr,
                            void (*cols)(emit_ctx *, const mm_desc *, int)) {
  if (!d->col_tasks) {
    emit_line(e, "const int64_t j0 = 0, j1 = %lld;", (long long)d->N);
    cols(e, d, mr);
    return;
  }
  int64_t chunks = (d->N + MM_CH - 1) / MM_CH;
  emit_parallel_for(e, "jc", chunks, 2 * mr * MM_CH * d->K);
  emit_line(e, "const int64_t j0 = jc * %d, j1 = j0 + %d < %lld ? j0 + %d : %lld;", MM_CH, MM_CH,
            (long long)d->N, MM_CH, (long long)d->N);
  cols(e, d, mr);
  emit_close(e);
}

static void emit_block(emit_ctx *e, const mm_desc *d, int mr, const char *a, const char *b,
                       const char *y) {
  const char *ct = ir_dtype_ctype(d->t);
  emit_line(e, "const %s *restrict a = %s + i0 * %lld;", ct, a, (long long)d->a_i);
  emit_line(e, "const %s *restrict b = %s;", ct, b);
  emit_line(e, "%s *restrict y = %s + i0 * %lld;", ct, y, (long long)d->N);
  if (tiles_fit(d))
    emit_block_cols(e, d, mr, emit_tile_cols);
  else if (d->b_j == 1 && d->N > 1)
    emit_block_cols(e, d, mr, emit_axpy_cols);
  else
    emit_block_dot(e, d, mr);
}

/* Rows [0, rows) of Y in blocks of MM_MR, then the leftover rows; a, b, y
 * are the C expressions of the operands' first elements. Threads share out
 * row blocks, or columns when there are too few blocks (batch 1). */
static void emit_rows(emit_ctx *e, mm_desc d, int64_t rows, bool parallel, const char *a,
                      const char *b, const char *y) {
  int64_t blocks = rows / MM_MR, rest = rows % MM_MR;
  d.col_tasks = parallel && blocks < 2;
  if (blocks > 0) {
    if (parallel && !d.col_tasks)
      emit_parallel_for(e, "ib", blocks, 2 * MM_MR * d.N * d.K + 1);
    else
      emit_for(e, "ib", blocks);
    emit_line(e, "const int64_t i0 = ib * %d;", MM_MR);
    emit_block(e, &d, MM_MR, a, b, y);
    emit_close(e);
  }
  if (rest > 0) {
    emit_open(e, "%s", "");
    emit_line(e, "const int64_t i0 = %lld;", (long long)(blocks * MM_MR));
    emit_block(e, &d, (int)rest, a, b, y);
    emit_close(e);
  }
}

static bool mm_dtype_ok(ir_dtype t) {
  return t == IR_FLOAT || t == IR_DOUBLE || t == IR_INT32 || t == IR_INT64 || t == IR_UINT32 ||
         t == IR_UINT64;
}

/* ---- Gemm: Y = alpha * A' * B' + beta * C ---- */

static nn_status infer_gemm(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 3) || check_float(g, n, 0))
    return NN_ERR;
  const ir_tensor *A = n->inputs[0], *B = n->inputs[1], *C = ir_in(n, 2);
  if (!B)
    return diag_node(g->path, n, "input 1 'B' is missing");
  if (A->rank != 2 || B->rank != 2)
    return diag_node(g->path, n, "A and B must be 2-D, have ranks %d and %d", A->rank, B->rank);
  if (B->dtype != A->dtype || (C && C->dtype != A->dtype))
    return diag_node(g->path, n, "inputs must share one dtype");
  bool ta = ir_attr_int(n, "transA", 0) != 0, tb = ir_attr_int(n, "transB", 0) != 0;
  int64_t M = A->dims[ta], K = A->dims[!ta], KB = B->dims[tb], N = B->dims[!tb];
  if (K != KB)
    return diag_node(g->path, n, "inner dimensions differ: A gives K=%lld, B gives K=%lld",
                     (long long)K, (long long)KB);
  int64_t dims[2] = {M, N};
  if (C) {
    bool ok = C->rank <= 2;
    for (int d = 0; ok && d < C->rank; d++) {
      int64_t want = dims[2 - C->rank + d];
      ok = C->dims[d] == want || C->dims[d] == 1;
    }
    if (!ok) {
      char buf[128];
      return diag_node(g->path, n, "C of shape %s does not broadcast to [%lld,%lld]",
                       ir_shape_str(C, buf, sizeof buf), (long long)M, (long long)N);
    }
  }
  ir_set_shape(n->outputs[0], A->dtype, 2, dims);
  return NN_OK;
}

static void emit_gemm(emit_ctx *e, const ir_node *n) {
  const ir_tensor *A = n->inputs[0], *C = ir_in(n, 2), *Y = n->outputs[0];
  bool ta = ir_attr_int(n, "transA", 0) != 0, tb = ir_attr_int(n, "transB", 0) != 0;
  int64_t M = Y->dims[0], N = Y->dims[1], K = A->dims[!ta];
  mm_desc d = {N, K, ta ? 1 : K, ta ? M : 1, tb ? 1 : N, tb ? K : 1, Y->dtype,
               ir_attr_float(n, "alpha", 1.0), ir_attr_float(n, "beta", 1.0), C != NULL, 0, 0,
               false};
  if (C) { /* C's strides along i and j once broadcast to [M,N] */
    int64_t dims[2] = {1, 1};
    for (int k = 0; k < C->rank; k++)
      dims[2 - C->rank + k] = C->dims[k];
    d.cj = dims[1] != 1 ? 1 : 0;
    d.ci = dims[0] != 1 ? dims[1] : 0;
  }
  if (ir_numel(Y) == 0)
    return;
  if (tiles_fit(&d))
    emit_gemm_tile_types(e, false);
  emit_rows(e, d, M, true, "in0", "in1", "out0");
}

/* ---- MatMul: NumPy matmul, 1-D operands and broadcast batch dims ---- */

typedef struct {
  int64_t M, N, K;
  int nb;                        /* batch rank of the output */
  int64_t batch[IR_MAX_RANK];    /* output batch dims */
  int64_t a_bs[IR_MAX_RANK];     /* A's matrix stride per output batch dim, 0 if broadcast */
  int64_t b_bs[IR_MAX_RANK];
} mm_shape;

/* Batch stride of t (a stack of mat-sized matrices) for output batch dim d. */
static int64_t batch_stride(const ir_tensor *t, int tb, int nb, int d, int64_t mat) {
  int k = d - (nb - tb);
  if (k < 0 || t->dims[k] == 1)
    return 0;
  int64_t s = mat;
  for (int q = k + 1; q < tb; q++)
    s *= t->dims[q];
  return s;
}

static nn_status matmul_shape(ir_graph *g, const ir_node *n, mm_shape *s) {
  const ir_tensor *A = n->inputs[0], *B = n->inputs[1];
  if (A->rank < 1 || B->rank < 1)
    return diag_node(g->path, n, "operands must have rank >= 1");
  int ta = A->rank > 1 ? A->rank - 2 : 0, tb = B->rank > 1 ? B->rank - 2 : 0;
  s->M = A->rank > 1 ? A->dims[A->rank - 2] : 1;
  s->K = A->dims[A->rank - 1];
  s->N = B->rank > 1 ? B->dims[B->rank - 1] : 1;
  int64_t KB = B->rank > 1 ? B->dims[B->rank - 2] : B->dims[0];
  if (s->K != KB)
    return diag_node(g->path, n, "inner dimensions differ: %lld and %lld", (long long)s->K,
                     (long long)KB);
  s->nb = ta > tb ? ta : tb;
  for (int d = 0; d < s->nb; d++) {
    int ka = d - (s->nb - ta), kb = d - (s->nb - tb);
    int64_t da = ka >= 0 ? A->dims[ka] : 1, db = kb >= 0 ? B->dims[kb] : 1;
    if (da != db && da != 1 && db != 1)
      return diag_node(g->path, n, "batch dimensions %lld and %lld do not broadcast",
                       (long long)da, (long long)db);
    s->batch[d] = da == 1 ? db : da;
    s->a_bs[d] = batch_stride(A, ta, s->nb, d, s->M * s->K);
    s->b_bs[d] = batch_stride(B, tb, s->nb, d, s->K * s->N);
  }
  return NN_OK;
}

static nn_status infer_matmul(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2))
    return NN_ERR;
  const ir_tensor *A = n->inputs[0], *B = n->inputs[1];
  if (!B)
    return diag_node(g->path, n, "input 1 'B' is missing");
  if (!mm_dtype_ok(A->dtype) || B->dtype != A->dtype)
    return diag_node(g->path, n, "unsupported dtypes %s and %s", ir_dtype_name(A->dtype),
                     ir_dtype_name(B->dtype));
  mm_shape s;
  if (matmul_shape(g, n, &s))
    return NN_ERR;
  int64_t dims[IR_MAX_RANK];
  int rank = s.nb;
  memcpy(dims, s.batch, sizeof(int64_t) * (size_t)s.nb);
  if (A->rank > 1)
    dims[rank++] = s.M;
  if (B->rank > 1)
    dims[rank++] = s.N;
  ir_set_shape(n->outputs[0], A->dtype, rank, dims);
  return NN_OK;
}

/* "((bt / 6) % 2) * 12 + ..." : operand offset for batch index bt, or "0". */
static const char *batch_offset(emit_ctx *e, const mm_shape *s, const int64_t *bs) {
  char buf[1024];
  size_t len = 0;
  int64_t inner = 1;
  buf[0] = '\0';
  for (int d = s->nb - 1; d >= 0; d--) {
    if (bs[d] != 0 && s->batch[d] != 1)
      len += (size_t)snprintf(buf + len, sizeof buf - len, "%s((bt / %lld) %% %lld) * %lld",
                              len ? " + " : "", (long long)inner, (long long)s->batch[d],
                              (long long)bs[d]);
    inner *= s->batch[d];
  }
  return len ? mem_strdup(e->g->mem, buf) : "0";
}

static void emit_matmul(emit_ctx *e, const ir_node *n) {
  const ir_tensor *Y = n->outputs[0];
  const char *ct = ir_dtype_ctype(Y->dtype);
  mm_shape s;
  if (ir_numel(Y) == 0 || matmul_shape(e->g, n, &s))
    return;
  int64_t nbatch = 1;
  bool b_fixed = true; /* one B for every batch index: A's batch folds into M */
  for (int d = 0; d < s.nb; d++) {
    nbatch *= s.batch[d];
    b_fixed = b_fixed && (s.b_bs[d] == 0 || s.batch[d] == 1);
  }
  mm_desc d = {s.N, s.K, s.K, 1, s.N, 1, Y->dtype, 1.0, 1.0, false, 0, 0, false};
  if (tiles_fit(&d))
    emit_gemm_tile_types(e, false);
  if (b_fixed) { /* then A has every batch index, stored in order */
    emit_rows(e, d, nbatch * s.M, true, "in0", "in1", "out0");
    return;
  }
  emit_parallel_for(e, "bt", nbatch, 2 * s.M * s.N * s.K + 1);
  emit_line(e, "const %s *restrict ab = in0 + %s;", ct, batch_offset(e, &s, s.a_bs));
  emit_line(e, "const %s *restrict bb = in1 + %s;", ct, batch_offset(e, &s, s.b_bs));
  emit_line(e, "%s *restrict yb = out0 + bt * %lld;", ct, (long long)(s.M * s.N));
  emit_rows(e, d, s.M, false, "ab", "bb", "yb");
  emit_close(e);
}

/* ---- gradient rules ---- */

static ir_tensor *gemm(ad_ctx *ad, ir_tensor *a, ir_tensor *b, bool ta, bool tb, double alpha) {
  ir_tensor *in[2] = {a, b};
  ir_node *g = ad_begin(ad, "", "Gemm", 2, in, 1);
  ad_attr_int(ad, g, "transA", ta);
  ad_attr_int(ad, g, "transB", tb);
  if (alpha != 1)
    ad_attr_float(ad, g, "alpha", alpha);
  return ad_finish(ad, g);
}

/* Y = alpha * A' B' + beta * C with A' = A or A^T (transA), B' likewise:
 * dA' = alpha dY B'^T, dB' = alpha A'^T dY, each written as one Gemm that
 * yields A's (B's) own layout; dC = beta dY summed to C's shape. */
static nn_status grad_gemm(ad_ctx *ad, const ir_node *n) {
  ir_tensor *dy = ad_out_grad(ad, n, 0), *a = n->inputs[0], *b = n->inputs[1];
  bool ta = ir_attr_int(n, "transA", 0), tb = ir_attr_int(n, "transB", 0);
  double alpha = ir_attr_float(n, "alpha", 1), beta = ir_attr_float(n, "beta", 1);
  if (ad_needs_grad(ad, n, 0))
    ad_give_grad(ad, n, 0, ta ? gemm(ad, b, dy, tb, true, alpha) : gemm(ad, dy, b, false, !tb, alpha));
  if (ad_needs_grad(ad, n, 1))
    ad_give_grad(ad, n, 1, tb ? gemm(ad, dy, a, true, ta, alpha) : gemm(ad, a, dy, !ta, false, alpha));
  if (ad_needs_grad(ad, n, 2)) {
    ir_tensor *dc = beta == 1 ? dy : ad_op(ad, "Mul", dy, ad_scalar(ad, dy->dtype, beta));
    ad_give_grad(ad, n, 2, ad_reduce_to(ad, dc, n->inputs[2]));
  }
  return NN_OK;
}

/* t with its last two axes swapped. */
static ir_tensor *swap_last(ad_ctx *ad, ir_tensor *t) {
  int64_t perm[IR_MAX_RANK];
  for (int d = 0; d < t->rank; d++)
    perm[d] = d;
  perm[t->rank - 2] = t->rank - 1;
  perm[t->rank - 1] = t->rank - 2;
  ir_node *b = ad_begin(ad, "", "Transpose", 1, &t, 1);
  ad_attr_ints(ad, b, "perm", t->rank, perm);
  return ad_finish(ad, b);
}

/* t as a matrix: a 1-D A is [1, K], a 1-D B is [K, 1]. */
static ir_tensor *as_matrix(ad_ctx *ad, ir_tensor *t, bool row) {
  if (t->rank != 1)
    return t;
  int64_t dims[2] = {row ? 1 : t->dims[0], row ? t->dims[0] : 1};
  ir_tensor like = {.rank = 2, .dims = {dims[0], dims[1]}};
  return ad_reshape_to(ad, t, &like);
}

/* Y = A B over the last two axes, batch axes broadcast: dA = dY B^T and
 * dB = A^T dY, summed over the batch axes each input was broadcast along. */
static nn_status grad_matmul(ad_ctx *ad, const ir_node *n) {
  ir_tensor *a = as_matrix(ad, n->inputs[0], true), *b = as_matrix(ad, n->inputs[1], false);
  ir_tensor *dy = ad_out_grad(ad, n, 0);
  /* dY with the axes a 1-D operand dropped put back */
  ir_tensor full = {.rank = a->rank > b->rank ? a->rank : b->rank};
  for (int d = 0; d < full.rank - 2; d++) {
    int da = d - (full.rank - a->rank), db = d - (full.rank - b->rank);
    int64_t x = da >= 0 ? a->dims[da] : 1, y = db >= 0 ? b->dims[db] : 1;
    full.dims[d] = x > y ? x : y;
  }
  full.dims[full.rank - 2] = a->dims[a->rank - 2];
  full.dims[full.rank - 1] = b->dims[b->rank - 1];
  dy = ad_reshape_to(ad, dy, &full);
  if (ad_needs_grad(ad, n, 0)) {
    ir_tensor *da = ad_reduce_to(ad, ad_op(ad, "MatMul", dy, swap_last(ad, b)), a);
    ad_give_grad(ad, n, 0, ad_reshape_to(ad, da, n->inputs[0]));
  }
  if (ad_needs_grad(ad, n, 1)) {
    ir_tensor *db = ad_reduce_to(ad, ad_op(ad, "MatMul", swap_last(ad, a), dy), b);
    ad_give_grad(ad, n, 1, ad_reshape_to(ad, db, n->inputs[1]));
  }
  return NN_OK;
}

const op_def op_family_gemm[] = {
    {"Gemm", "", infer_gemm, NULL, emit_gemm, 0, .grad = grad_gemm},
    {"MatMul", "", infer_matmul, NULL, emit_matmul, 0, .grad = grad_matmul},
    {NULL},
};
