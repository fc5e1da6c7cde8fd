/* Selection along one axis: ArgMax, ArgMin, Hardmax and TopK. Each works on
 * the input viewed as [outer, len, inner]: one run of len elements, inner
 * apart, per output position. NaN ranks above every number, as in NumPy's
 * argmax/argmin and sort; ties go to the lower index unless
 * select_last_index asks otherwise. */
#include <stdio.h>

#include "common.h"

#define FMT(...) mem_printf(e->g->mem, __VA_ARGS__)

static bool is_float(ir_dtype t) { return t == IR_FLOAT || t == IR_DOUBLE; }

/* C condition: value a strictly beats value b. `high` ranks large values
 * first; NaN beats numbers when nan_wins, else loses to them. */
static const char *beats(emit_ctx *e, ir_dtype t, bool high, bool nan_wins, const char *a,
                         const char *b) {
  const char *cmp = FMT("%s %s %s", a, high ? ">" : "<", b);
  if (!is_float(t))
    return cmp;
  if (nan_wins)
    return FMT("%s || (%s != %s && %s == %s)", cmp, a, a, b, b);
  return FMT("%s || (%s == %s && %s != %s)", cmp, a, a, b, b);
}

static nn_status check_numeric(ir_graph *g, const ir_node *n) {
  ir_dtype t = n->inputs[0]->dtype;
  if (t == IR_BOOL || t == IR_UNDEFINED)
    return diag_node(g->path, n, "input 0 has dtype %s; a numeric type is required",
                     ir_dtype_name(t));
  return NN_OK;
}

/* [outer, len, inner] around one axis. */
static void split_at(const ir_tensor *x, int axis, int64_t *outer, int64_t *len,
                     int64_t *inner) {
  *outer = *inner = 1;
  *len = x->dims[axis];
  for (int d = 0; d < x->rank; d++) {
    if (d < axis)
      *outer *= x->dims[d];
    else if (d > axis)
      *inner *= x->dims[d];
  }
}

/* Opens the parallel loop over r < outer * inner and points `x` at run r's
 * first element; returns the offset expression for an output whose runs are
 * out_len long. */
static const char *open_runs(emit_ctx *e, const ir_node *n, int64_t outer, int64_t len,
                             int64_t inner, int64_t out_len, int64_t work) {
  emit_parallel_for(e, "r", outer * inner, work);
  const char *base = inner == 1 ? FMT("r * %lld", (long long)len)
                                : FMT("r / %lld * %lld + r %% %lld", (long long)inner,
                                      (long long)(len * inner), (long long)inner);
  emit_line(e, "const %s *x = in0 + %s;", ir_dtype_ctype(n->inputs[0]->dtype), base);
  if (inner == 1)
    return FMT("r * %lld", (long long)out_len);
  return FMT("r / %lld * %lld + r %% %lld", (long long)inner, (long long)(out_len * inner),
             (long long)inner);
}

/* Leaves in `bi` the index of the best of x[0], x[inner], ... */
static void emit_scan(emit_ctx *e, ir_dtype t, int64_t len, int64_t inner, bool high,
                      bool last) {
  emit_line(e, "%s m = x[0];", ir_dtype_ctype(t));
  emit_line(e, "int64_t bi = 0;");
  emit_open(e, "for (int64_t k = 1; k < %lld; k++)", (long long)len);
  emit_line(e, "const %s v = x[%s];", ir_dtype_ctype(t), emit_scaled(e, "k", inner));
  /* the last of equals: v wins unless m strictly beats it */
  const char *cond = last ? FMT("!(%s)", beats(e, t, high, true, "m", "v"))
                          : beats(e, t, high, true, "v", "m");
  emit_open(e, "if (%s)", cond);
  emit_line(e, "m = v;");
  emit_line(e, "bi = k;");
  emit_close(e);
  emit_close(e);
}

/* ---- ArgMax, ArgMin ---- */

static nn_status arg_axis(ir_graph *g, const ir_node *n, int *axis) {
  const ir_tensor *x = n->inputs[0];
  if (norm_axis(g, n, ir_attr_int(n, "axis", 0), x->rank, axis))
    return NN_ERR;
  if (x->dims[*axis] == 0 && ir_numel(x) == 0) {
    for (int d = 0; d < x->rank; d++)
      if (d != *axis && x->dims[d] == 0)
        return NN_OK; /* no output elements to fill */
    return diag_node(g->path, n, "axis %d has length 0: there is nothing to select", *axis);
  }
  return NN_OK;
}

static nn_status infer_arg(ir_graph *g, ir_node *n) {
  int axis;
  if (check_arity(g, n, 1, 1) || check_numeric(g, n) || arg_axis(g, n, &axis))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  bool keep = ir_attr_int(n, "keepdims", 1) != 0;
  int64_t dims[IR_MAX_RANK];
  int rank = 0;
  for (int d = 0; d < x->rank; d++)
    if (d != axis || keep)
      dims[rank++] = d == axis ? 1 : x->dims[d];
  ir_set_shape(n->outputs[0], IR_INT64, rank, dims);
  return NN_OK;
}

static void emit_arg(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  int axis;
  int64_t outer, len, inner;
  if (ir_numel(n->outputs[0]) == 0 || arg_axis(e->g, n, &axis))
    return;
  split_at(x, axis, &outer, &len, &inner);
  bool high = strcmp(n->op_type, "ArgMax") == 0;
  bool last = ir_attr_int(n, "select_last_index", 0) != 0;
  open_runs(e, n, outer, len, inner, 1, len * 2);
  emit_scan(e, x->dtype, len, inner, high, last);
  emit_line(e, "out0[r] = bi;");
  emit_close(e);
}

/* ---- Hardmax: 1 at the first maximum, 0 elsewhere ---- */

static nn_status infer_hardmax(ir_graph *g, ir_node *n) {
  int64_t outer, len, inner;
  if (check_arity(g, n, 1, 1) || check_float(g, n, 0) || softmax_split(g, n, &outer, &len, &inner))
    return NN_ERR;
  return infer_same_as_input(g, n);
}

static void emit_hardmax(emit_ctx *e, const ir_node *n) {
  ir_dtype t = n->inputs[0]->dtype;
  int64_t outer, len, inner;
  if (softmax_split(e->g, n, &outer, &len, &inner) || outer * len * inner == 0)
    return;
  const char *o = open_runs(e, n, outer, len, inner, len, len * 3);
  emit_line(e, "%s *y = out0 + %s;", ir_dtype_ctype(t), o);
  emit_scan(e, t, len, inner, true, false);
  emit_for(e, "k", len);
  emit_line(e, "y[%s] = k == bi ? %s : %s;", emit_scaled(e, "k", inner), emit_literal(e, t, 1),
            emit_literal(e, t, 0));
  emit_close(e);
  emit_close(e);
}

/* ---- TopK ---- */

/* Insertion costs len * k and k values on the stack; the sort len *
 * log2(len) and two index arrays of len on the stack, so it is kept to runs
 * whose arrays fit comfortably there. */
#define TOPK_INSERT_MAX 32
#define TOPK_STACK_MAX 65536

static bool topk_inserts(int64_t len, int64_t k) {
  return k <= TOPK_INSERT_MAX || len > TOPK_STACK_MAX;
}

/* k from the attribute (opset 1) or the constant input 1; -1 after reporting. */
static int64_t topk_k(ir_graph *g, const ir_node *n) {
  if (n->opset < 10)
    return ir_attr_int(n, "k", -1);
  int64_t k[1];
  int count = const_input_ints(g, n, 1, "K", k, 1);
  if (count < 0)
    return -1;
  if (count != 1) {
    diag_node(g->path, n, "input 1 'K' must hold one value");
    return -1;
  }
  return k[0];
}

static nn_status infer_topk(ir_graph *g, ir_node *n) {
  int axis;
  int arity = n->opset < 10 ? 1 : 2;
  if (n->n_inputs != arity || !n->inputs[0])
    return diag_node(g->path, n, "expects %d inputs, has %d", arity, n->n_inputs);
  if (!ir_out(n, 0) && !ir_out(n, 1))
    return diag_node(g->path, n, "has no output");
  if (check_numeric(g, n))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  if (norm_axis(g, n, ir_attr_int(n, "axis", -1), x->rank, &axis))
    return NN_ERR;
  int64_t k = topk_k(g, n);
  if (k < 0 && n->opset < 10)
    return diag_node(g->path, n, "attribute 'k' is missing or negative");
  if (k < 0)
    return NN_ERR;
  if (k > x->dims[axis])
    return diag_node(g->path, n, "k = %lld exceeds axis %d's length %lld", (long long)k, axis,
                     (long long)x->dims[axis]);
  if (k > TOPK_STACK_MAX && x->dims[axis] > TOPK_STACK_MAX)
    return diag_node(g->path, n, "k = %lld over %lld elements needs more stack than nncc uses; "
                     "at most %d is supported", (long long)k, (long long)x->dims[axis],
                     TOPK_STACK_MAX);
  int64_t dims[IR_MAX_RANK];
  memcpy(dims, x->dims, sizeof dims);
  dims[axis] = k;
  if (ir_out(n, 0))
    ir_set_shape(n->outputs[0], x->dtype, x->rank, dims);
  if (ir_out(n, 1))
    ir_set_shape(n->outputs[1], IR_INT64, x->rank, dims);
  return NN_OK;
}

/* Copies the k winners, values bv[] and indices bi[], to the outputs. */
static void topk_store(emit_ctx *e, const ir_node *n, const char *o, int64_t k, int64_t inner,
                       const char *val, const char *idx) {
  emit_for(e, "q", k);
  if (ir_out(n, 0))
    emit_line(e, "out0[%s + %s] = %s;", o, emit_scaled(e, "q", inner), val);
  if (ir_out(n, 1))
    emit_line(e, "out1[%s + %s] = %s;", o, emit_scaled(e, "q", inner), idx);
  emit_close(e);
}

/* Small k: insertion into a sorted list of the k best so far. An element
 * only passes those it strictly beats, so equal values keep index order. */
static void topk_insert(emit_ctx *e, const ir_node *n, const char *o, int64_t len, int64_t k,
                        int64_t inner, bool high) {
  ir_dtype t = n->inputs[0]->dtype;
  emit_line(e, "%s bv[%lld];", ir_dtype_ctype(t), (long long)k);
  emit_line(e, "int64_t bi[%lld], cnt = 0;", (long long)k);
  emit_for(e, "j", len);
  emit_line(e, "const %s v = x[%s];", ir_dtype_ctype(t), emit_scaled(e, "j", inner));
  emit_line(e, "if (cnt == %lld && !(%s)) continue;", (long long)k,
            beats(e, t, high, high, "v", FMT("bv[%lld]", (long long)(k - 1))));
  emit_line(e, "int64_t p = cnt < %lld ? cnt++ : %lld;", (long long)k, (long long)(k - 1));
  emit_open(e, "for (; p > 0 && (%s); p--)", beats(e, t, high, high, "v", "bv[p - 1]"));
  emit_line(e, "bv[p] = bv[p - 1];");
  emit_line(e, "bi[p] = bi[p - 1];");
  emit_close(e);
  emit_line(e, "bv[p] = v;");
  emit_line(e, "bi[p] = j;");
  emit_close(e);
  topk_store(e, n, o, k, inner, "bv[q]", "bi[q]");
}

/* Large k: a stable bottom-up merge sort of the run's indices. */
static void topk_sort(emit_ctx *e, const ir_node *n, const char *o, int64_t len, int64_t k,
                      int64_t inner, bool high) {
  ir_dtype t = n->inputs[0]->dtype;
  long long L = (long long)len;
  emit_line(e, "int64_t ia[%lld], ib[%lld], *src = ia, *dst = ib;", L, L);
  emit_for(e, "j", len);
  emit_line(e, "ia[j] = j;");
  emit_close(e);
  emit_open(e, "for (int64_t w = 1; w < %lld; w *= 2)", L);
  emit_open(e, "for (int64_t lo = 0; lo < %lld; lo += 2 * w)", L);
  emit_line(e, "const int64_t mid = lo + w < %lld ? lo + w : %lld;", L, L);
  emit_line(e, "const int64_t hi = lo + 2 * w < %lld ? lo + 2 * w : %lld;", L, L);
  emit_line(e, "int64_t a = lo, b = mid, at = lo;");
  emit_open(e, "while (a < mid && b < hi)");
  emit_line(e, "const %s va = x[%s], vb = x[%s];", ir_dtype_ctype(t),
            emit_scaled(e, "src[a]", inner), emit_scaled(e, "src[b]", inner));
  emit_line(e, "dst[at++] = %s ? src[b++] : src[a++];", FMT("(%s)", beats(e, t, high, high, "vb", "va")));
  emit_close(e);
  emit_line(e, "while (a < mid) dst[at++] = src[a++];");
  emit_line(e, "while (b < hi) dst[at++] = src[b++];");
  emit_close(e);
  emit_line(e, "int64_t *tmp = src;");
  emit_line(e, "src = dst;");
  emit_line(e, "dst = tmp;");
  emit_close(e);
  topk_store(e, n, o, k, inner, FMT("x[%s]", emit_scaled(e, "src[q]", inner)), "src[q]");
}


static void emit_topk(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  int axis;
  int64_t outer, len, inner, k = topk_k(e->g, n);
  if (k <= 0 || ir_numel(x) == 0 || norm_axis(e->g, n, ir_attr_int(n, "axis", -1), x->rank, &axis))
    return;
  split_at(x, axis, &outer, &len, &inner);
  bool high = ir_attr_int(n, "largest", 1) != 0;
  bool insert = topk_inserts(len, k);
  const char *o = open_runs(e, n, outer, len, inner, k, insert ? len * 4 : len * 16);
  if (insert)
    topk_insert(e, n, o, len, k, inner, high);
  else
    topk_sort(e, n, o, len, k, inner, high);
  emit_close(e);
}

const op_def op_family_select[] = {
    {"ArgMax", "", infer_arg, NULL, emit_arg, 0},
    {"ArgMin", "", infer_arg, NULL, emit_arg, 0},
    {"Hardmax", "", infer_hardmax, NULL, emit_hardmax, 0},
    {"TopK", "", infer_topk, NULL, emit_topk, 0, OP_CONST(1)},
    {NULL},
};
