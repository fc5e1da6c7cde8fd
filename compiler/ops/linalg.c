/* Linear algebra on batches of small matrices: Det. */
#include "common.h"

/* The LU factorisation works on a copy of one matrix on the stack. */
#define DET_MAX_ORDER 128

static nn_status infer_det(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1) || check_float(g, n, 0))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2]) {
    char s[128];
    return diag_node(g->path, n, "input has shape %s; expected [*, M, M]",
                     ir_shape_str(x, s, sizeof s));
  }
  if (x->dims[x->rank - 1] > DET_MAX_ORDER)
    return diag_node(g->path, n, "matrices of order %lld are larger than nncc's Det takes (%d)",
                     (long long)x->dims[x->rank - 1], DET_MAX_ORDER);
  ir_set_shape(n->outputs[0], x->dtype, x->rank - 2, x->dims);
  return NN_OK;
}

/* Gaussian elimination with partial pivoting in double: det is the product of
 * the pivots, negated once per row swap; a zero pivot column gives 0. */
static void emit_det(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  int64_t m = x->dims[x->rank - 1], batch = ir_numel(n->outputs[0]);
  if (batch == 0)
    return;
  emit_parallel_for(e, "b", batch, m * m * m);
  if (m == 0) {
    emit_line(e, "out0[b] = 1;");
    emit_close(e);
    return;
  }
  emit_line(e, "double a[%lld];", (long long)(m * m));
  emit_for(e, "i", m * m);
  emit_line(e, "a[i] = in0[b * %lld + i];", (long long)(m * m));
  emit_close(e);
  emit_line(e, "double det = 1;");
  emit_for(e, "k", m);
  emit_line(e, "int64_t p = k;");
  emit_line(e, "double best = fabs(a[k * %lld + k]);", (long long)m);
  emit_open(e, "for (int64_t i = k + 1; i < %lld; i++)", (long long)m);
  emit_open(e, "if (fabs(a[i * %lld + k]) > best)", (long long)m);
  emit_line(e, "best = fabs(a[i * %lld + k]);", (long long)m);
  emit_line(e, "p = i;");
  emit_close(e);
  emit_close(e);
  emit_open(e, "if (best == 0)");
  emit_line(e, "det = 0;");
  emit_line(e, "break;");
  emit_close(e);
  emit_open(e, "if (p != k)");
  emit_open(e, "for (int64_t j = k; j < %lld; j++)", (long long)m);
  emit_line(e, "const double t = a[k * %lld + j];", (long long)m);
  emit_line(e, "a[k * %lld + j] = a[p * %lld + j];", (long long)m, (long long)m);
  emit_line(e, "a[p * %lld + j] = t;", (long long)m);
  emit_close(e);
  emit_line(e, "det = -det;");
  emit_close(e);
  emit_line(e, "const double pivot = a[k * %lld + k];", (long long)m);
  emit_line(e, "det *= pivot;");
  emit_open(e, "for (int64_t i = k + 1; i < %lld; i++)", (long long)m);
  emit_line(e, "const double f = a[i * %lld + k] / pivot;", (long long)m);
  emit_open(e, "for (int64_t j = k + 1; j < %lld; j++)", (long long)m);
  emit_line(e, "a[i * %lld + j] -= f * a[k * %lld + j];", (long long)m, (long long)m);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_line(e, "out0[b] = (%s)det;", ir_dtype_ctype(x->dtype));
  emit_close(e);
}

const op_def op_family_linalg[] = {
    {"Det", "", infer_det, NULL, emit_det, 0},
    {NULL},
};
