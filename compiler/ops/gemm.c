/* The gemm family: Gemm and MatMul. Both lower to one row emitter that
 * computes y[0..N) = sum_k A[i,k] * B[k,..] with every size and stride a
 * literal, picking the loop order that keeps the inner loop contiguous. */
#include <stdio.h>

#include "common.h"

/* One output row of a matrix product: y[j] = sum_k a[k*a_k] * b[k*b_k + j*b_j]. */
typedef struct {
  int64_t N, K;
  int64_t a_k, b_k, b_j; /* element strides of A along k, of B along k and j */
  ir_dtype t;
} mm_row;

/* i-k-j order: the inner loop streams a row of B into y, so it vectorizes. */
static void emit_row_axpy(emit_ctx *e, const mm_row *r) {
  const char *ct = ir_dtype_ctype(r->t);
  emit_for(e, "j", r->N);
  emit_line(e, "y[j] = 0;");
  emit_close(e);
  emit_for(e, "k", r->K);
  emit_line(e, "const %s av = a[k * %lld];", ct, (long long)r->a_k);
  emit_line(e, "const %s *restrict br = b + k * %lld;", ct, (long long)r->b_k);
  emit_for(e, "j", r->N);
  emit_line(e, "y[j] += av * br[j];");
  emit_close(e);
  emit_close(e);
}

/* Dot products along contiguous k (B transposed, or N == 1). Separate
 * accumulators per lane let compilers vectorize without reassociating. */
static void emit_row_dot(emit_ctx *e, const mm_row *r) {
  const char *ct = ir_dtype_ctype(r->t);
  const int64_t lanes = 64 / (int64_t)ir_dtype_size(r->t);
  const int64_t main = r->K / lanes * lanes;
  emit_for(e, "j", r->N);
  emit_line(e, "const %s *restrict br = b + j * %lld;", ct, (long long)r->b_j);
  emit_line(e, "%s s = 0;", ct);
  if (main > 0) {
    emit_line(e, "%s acc[%lld] = {0};", ct, (long long)lanes);
    emit_open(e, "for (int64_t k = 0; k < %lld; k += %lld)", (long long)main, (long long)lanes);
    emit_for(e, "l", lanes);
    emit_line(e, "acc[l] += a[(k + l) * %lld] * br[k + l];", (long long)r->a_k);
    emit_close(e);
    emit_close(e);
    emit_for(e, "l", lanes);
    emit_line(e, "s += acc[l];");
    emit_close(e);
  }
  if (main < r->K) {
    emit_open(e, "for (int64_t k = %lld; k < %lld; k++)", (long long)main, (long long)r->K);
    emit_line(e, "s += a[k * %lld] * br[k];", (long long)r->a_k);
    emit_close(e);
  }
  emit_line(e, "y[j] = s;");
  emit_close(e);
}

/* Expects `a`, `b`, `y` in scope: A's row i, B's base, Y's row i. */
static void emit_row(emit_ctx *e, const mm_row *r) {
  if (r->b_j == 1 && r->N > 1)
    emit_row_axpy(e, r);
  else
    emit_row_dot(e, r);
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

/* C's element strides along i and j after broadcasting to [M,N]. */
static void gemm_c_strides(const ir_tensor *C, int64_t *ci, int64_t *cj) {
  int64_t s[2] = {0, 0}, dims[2] = {1, 1};
  for (int d = 0; d < C->rank; d++)
    dims[2 - C->rank + d] = C->dims[d];
  if (dims[1] != 1)
    s[1] = 1;
  if (dims[0] != 1)
    s[0] = dims[1];
  *ci = s[0];
  *cj = s[1];
}

static void emit_gemm(emit_ctx *e, const ir_node *n) {
  const ir_tensor *A = n->inputs[0], *C = ir_in(n, 2), *Y = n->outputs[0];
  const char *ct = ir_dtype_ctype(Y->dtype);
  bool ta = ir_attr_int(n, "transA", 0) != 0, tb = ir_attr_int(n, "transB", 0) != 0;
  double alpha = ir_attr_float(n, "alpha", 1.0), beta = ir_attr_float(n, "beta", 1.0);
  int64_t M = Y->dims[0], N = Y->dims[1], K = A->dims[!ta];
  mm_row r = {N, K, ta ? M : 1, tb ? 1 : N, tb ? K : 1, Y->dtype};
  if (ir_numel(Y) == 0)
    return;
  emit_parallel_for(e, "i", M, 2 * N * K + 1);
  emit_line(e, "const %s *restrict a = in0 + i * %lld;", ct, (long long)(ta ? 1 : K));
  emit_line(e, "const %s *restrict b = in1;", ct);
  emit_line(e, "%s *restrict y = out0 + i * %lld;", ct, (long long)N);
  emit_row(e, &r);
  if (alpha != 1.0 || C) {
    const char *al = emit_literal(e, Y->dtype, alpha);
    emit_for(e, "j", N);
    if (C) {
      int64_t ci, cj;
      gemm_c_strides(C, &ci, &cj);
      emit_line(e, "y[j] = %s * y[j] + %s * in2[i * %lld + j * %lld];", al,
                emit_literal(e, Y->dtype, beta), (long long)ci, (long long)cj);
    } else {
      emit_line(e, "y[j] = %s * y[j];", al);
    }
    emit_close(e);
  }
  emit_close(e);
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
  bool b_fixed = true; /* B is one matrix for every batch: fold A's batch into M */
  for (int d = 0; d < s.nb; d++) {
    nbatch *= s.batch[d];
    b_fixed = b_fixed && (s.b_bs[d] == 0 || s.batch[d] == 1);
  }
  bool a_full = true; /* A is stored for every batch index, in order */
  for (int d = 0; d < s.nb; d++)
    a_full = a_full && (s.a_bs[d] != 0 || s.batch[d] == 1);
  mm_row r = {s.N, s.K, 1, s.N, 1, Y->dtype};
  int64_t rows = nbatch * s.M;
  emit_parallel_for(e, "r", rows, 2 * s.N * s.K + 1);
  if (b_fixed && a_full) {
    emit_line(e, "const %s *restrict a = in0 + r * %lld;", ct, (long long)s.K);
    emit_line(e, "const %s *restrict b = in1;", ct);
  } else {
    emit_line(e, "const int64_t bt = r / %lld, i = r %% %lld;", (long long)s.M, (long long)s.M);
    emit_line(e, "const %s *restrict a = in0 + %s + i * %lld;", ct, batch_offset(e, &s, s.a_bs),
              (long long)s.K);
    emit_line(e, "const %s *restrict b = in1 + %s;", ct, batch_offset(e, &s, s.b_bs));
  }
  emit_line(e, "%s *restrict y = out0 + r * %lld;", ct, (long long)s.N);
  emit_row(e, &r);
  emit_close(e);
}

const op_def op_family_gemm[] = {
    {"Gemm", "", infer_gemm, NULL, emit_gemm, 0},
    {"MatMul", "", infer_matmul, NULL, emit_matmul, 0},
    {NULL},
};
