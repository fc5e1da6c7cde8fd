/* Operators whose output shape depends on the data: NonZero, Unique and
 * NonMaxSuppression. Their shape rules give upper bounds and mark the
 * outputs `bounded`; at run time each writes its data densely in the actual
 * dims and those dims into the companion output pass_bounded.c adds. */
#include <stdio.h>

#include "common.h"

#define FMT(...) mem_printf(e->g->mem, __VA_ARGS__)

static void set_bounded(ir_tensor *t, ir_dtype dtype, int rank, const int64_t *dims) {
  if (!t)
    return;
  ir_set_shape(t, dtype, rank, dims);
  t->bounded = true;
}

/* "out<k>" of the companion holding output k's actual dims, or NULL. */
static const char *shape_param(emit_ctx *e, const ir_node *n, int k) {
  const ir_tensor *t = ir_out(n, k);
  for (int j = 0; t && t->actual_shape && j < n->n_outputs; j++)
    if (n->outputs[j] == t->actual_shape)
      return FMT("out%d", j);
  return NULL;
}

/* Writes the actual dims of output k: its bounds with dim d replaced by var. */
static void emit_actual_shape(emit_ctx *e, const ir_node *n, int k, int d, const char *var) {
  const char *s = shape_param(e, n, k);
  const ir_tensor *t = n->outputs[k];
  for (int i = 0; s && t && i < t->rank; i++)
    emit_line(e, "%s[%d] = %s;", s, i, i == d ? var : FMT("%lld", (long long)t->dims[i]));
}

/* The C test "x[i] is not zero" (NaN counts as nonzero, as in NumPy). */
static nn_status infer_nonzero(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  if (x->rank < 1)
    return diag_node(g->path, n, "the input must have at least one dimension");
  int64_t dims[2] = {x->rank, ir_numel(x)};
  set_bounded(n->outputs[0], IR_INT64, 2, dims);
  return NN_OK;
}

static void emit_nonzero(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  int64_t total = ir_numel(x);
  emit_line(e, "int64_t nnz = 0;");
  emit_line(e, "(void)nnz;");
  if (total > 0) {
    emit_for(e, "i", total);
    emit_line(e, "nnz += in0[i] != 0;");
    emit_close(e);
    emit_line(e, "int64_t j = 0;");
    emit_for(e, "i", total);
    emit_open(e, "if (in0[i] != 0)");
    emit_line(e, "int64_t rest = i;");
    for (int d = x->rank - 1; d >= 0; d--) { /* row d of the output: coordinate d */
      emit_line(e, "out0[%d * nnz + j] = rest %% %lld;", d, (long long)x->dims[d]);
      emit_line(e, "rest /= %lld;", (long long)x->dims[d]);
    }
    emit_line(e, "j++;");
    emit_close(e);
    emit_close(e);
  }
  emit_actual_shape(e, n, 0, 1, "nnz");
}

/* ---- Unique ---- */

/* Unique over slices: without axis, the flattened input's elements; with
 * axis, the slices along it. [count, run] with run elements per slice,
 * `stride` apart in the [outer, count, inner] view. */
typedef struct slices {
  int axis; /* -1: flattened */
  int64_t outer, count, inner;
} slices;

static nn_status unique_view(ir_graph *g, const ir_node *n, slices *v) {
  const ir_tensor *x = n->inputs[0];
  const ir_attr *a = ir_attr_find(n, "axis");
  v->axis = -1;
  v->outer = v->inner = 1;
  v->count = ir_numel(x);
  if (!a)
    return NN_OK;
  if (norm_axis(g, n, a->i, x->rank, &v->axis))
    return NN_ERR;
  v->count = x->dims[v->axis];
  for (int d = 0; d < x->rank; d++)
    if (d < v->axis)
      v->outer *= x->dims[d];
    else if (d > v->axis)
      v->inner *= x->dims[d];
  return NN_OK;
}

/* Unique and NonMaxSuppression keep per-slice / per-box bookkeeping in local
 * arrays: bounded so that it stays well within a thread's stack. */
#define MAX_LOCAL_ITEMS 65536

static nn_status infer_unique(ir_graph *g, ir_node *n) {
  slices v;
  if (check_arity(g, n, 1, 1) || unique_view(g, n, &v))
    return NN_ERR;
  if (v.count > MAX_LOCAL_ITEMS)
    return diag_node(g->path, n, "%lld %s: nncc supports at most %d", (long long)v.count,
                     v.axis < 0 ? "elements" : "slices", MAX_LOCAL_ITEMS);
  const ir_tensor *x = n->inputs[0];
  int64_t dims[IR_MAX_RANK];
  if (v.axis < 0)
    set_bounded(n->outputs[0], x->dtype, 1, &v.count);
  else {
    memcpy(dims, x->dims, sizeof dims);
    set_bounded(n->outputs[0], x->dtype, x->rank, dims);
  }
  set_bounded(ir_out(n, 1), IR_INT64, 1, &v.count);
  if (ir_out(n, 2))
    ir_set_shape(n->outputs[2], IR_INT64, 1, &v.count); /* one per slice: static */
  set_bounded(ir_out(n, 3), IR_INT64, 1, &v.count);
  return NN_OK;
}

/* Quadratic in the slice count: first occurrences by comparison with every
 * earlier slice, then an insertion sort of the distinct ones. Simple and
 * exact; inputs to Unique are small in practice. */
static void emit_unique(emit_ctx *e, const ir_node *n) {
  slices v;
  if (unique_view(e->g, n, &v))
    return;
  if (v.count == 0) {
    emit_actual_shape(e, n, 0, v.axis < 0 ? 0 : v.axis, "0");
    emit_actual_shape(e, n, 1, 0, "0");
    emit_actual_shape(e, n, 3, 0, "0");
    return;
  }
  ir_dtype t = n->inputs[0]->dtype;
  bool fp = t == IR_FLOAT || t == IR_DOUBLE;
  const char *T = ir_dtype_ctype(t);
  int64_t run = v.outer * v.inner, cnt = v.count, inner = v.inner;
  /* Slice i's element r: in0[(r / inner) * count * inner + i * inner + r % inner]. */
  const char *at_i = FMT("in0[(r / %lld) * %lld + i * %lld + r %% %lld]", (long long)inner,
                         (long long)(cnt * inner), (long long)inner, (long long)inner);
  const char *at_j = FMT("in0[(r / %lld) * %lld + j * %lld + r %% %lld]", (long long)inner,
                         (long long)(cnt * inner), (long long)inner, (long long)inner);
  /* cmp(i, j): <0, 0, >0 comparing slices lexicographically; NaNs equal each other, above numbers. */
  emit_line(e, "int64_t first[%lld], order[%lld], k = 0;", (long long)cnt, (long long)cnt);
  emit_for(e, "i", cnt);
  emit_line(e, "int64_t same = -1;");
  emit_open(e, "for (int64_t j = 0; j < i && same < 0; j++)");
  emit_line(e, "int eq = 1;");
  emit_open(e, "for (int64_t r = 0; r < %lld && eq; r++)", (long long)run);
  emit_line(e, "const %s a = %s, b = %s;", T, at_i, at_j);
  emit_line(e, "eq = a == b%s;", fp ? " || (a != a && b != b)" : "");
  emit_close(e);
  emit_line(e, "if (eq) same = j;");
  emit_close(e);
  emit_line(e, "first[i] = same < 0 ? i : first[same];");
  emit_line(e, "if (same < 0) order[k++] = i;");
  emit_close(e);
  if (ir_attr_int(n, "sorted", 1)) {
    emit_open(e, "for (int64_t p = 1; p < k; p++)");
    emit_line(e, "const int64_t i = order[p];");
    emit_line(e, "int64_t q = p;");
    emit_open(e, "while (q > 0)");
    emit_line(e, "const int64_t j = order[q - 1];");
    emit_line(e, "int c = 0;");
    emit_open(e, "for (int64_t r = 0; r < %lld && !c; r++)", (long long)run);
    emit_line(e, "const %s a = %s, b = %s;", T, at_i, at_j);
    if (fp)
      emit_line(e, "c = a == b || (a != a && b != b) ? 0 : b != b || a < b ? -1 : 1;");
    else
      emit_line(e, "c = a == b ? 0 : a < b ? -1 : 1;");
    emit_close(e);
    emit_line(e, "if (c >= 0) break;");
    emit_line(e, "order[q] = j;");
    emit_line(e, "q--;");
    emit_close(e);
    emit_line(e, "order[q] = i;");
    emit_close(e);
  }
  /* Y: the distinct slices in order, dense in [outer, k, inner]. */
  emit_open(e, "for (int64_t p = 0; p < k; p++)");
  emit_line(e, "const int64_t i = order[p];");
  emit_for(e, "r", run);
  emit_line(e, "out0[(r / %lld) * k * %lld + p * %lld + r %% %lld] = %s;", (long long)inner,
            (long long)inner, (long long)inner, (long long)inner, at_i);
  emit_close(e);
  if (ir_out(n, 1))
    emit_line(e, "out1[p] = i;");
  if (ir_out(n, 3)) {
    emit_line(e, "out3[p] = 0;");
    emit_for(e, "j", cnt);
    emit_line(e, "out3[p] += first[j] == i;");
    emit_close(e);
  }
  emit_close(e);
  if (ir_out(n, 2)) {
    emit_for(e, "j", cnt);
    emit_open(e, "for (int64_t p = 0; p < k; p++)");
    emit_line(e, "if (order[p] == first[j]) out2[j] = p;");
    emit_close(e);
    emit_close(e);
  }
  emit_actual_shape(e, n, 0, v.axis < 0 ? 0 : v.axis, "k");
  emit_actual_shape(e, n, 1, 0, "k");
  emit_actual_shape(e, n, 3, 0, "k");
}

/* ---- NonMaxSuppression ---- */

static nn_status infer_nms(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 5) || check_float(g, n, 0) || check_float(g, n, 1))
    return NN_ERR;
  const ir_tensor *boxes = n->inputs[0], *scores = n->inputs[1];
  if (boxes->rank != 3 || boxes->dims[2] != 4)
    return diag_node(g->path, n, "boxes must be [batches, boxes, 4]");
  if (scores->rank != 3 || scores->dims[0] != boxes->dims[0] || scores->dims[2] != boxes->dims[1])
    return diag_node(g->path, n, "scores must be [%lld, classes, %lld]", (long long)boxes->dims[0],
                     (long long)boxes->dims[1]);
  for (int k = 2; k < 5; k++) {
    const ir_tensor *t = ir_in(n, k);
    if (t && ir_numel(t) > 1)
      return diag_node(g->path, n, "input %d must hold at most one value", k);
    if (t && (k == 2 ? t->dtype != IR_INT64 : t->dtype != IR_FLOAT))
      return diag_node(g->path, n, "input %d must be %s", k, k == 2 ? "int64" : "float32");
  }
  if (boxes->dims[1] > MAX_LOCAL_ITEMS)
    return diag_node(g->path, n, "%lld boxes per batch: nncc supports at most %d",
                     (long long)boxes->dims[1], MAX_LOCAL_ITEMS);
  int64_t dims[2] = {boxes->dims[0] * scores->dims[1] * boxes->dims[1], 3};
  set_bounded(n->outputs[0], IR_INT64, 2, dims);
  return NN_OK;
}

static void emit_nms(emit_ctx *e, const ir_node *n) {
  const ir_tensor *boxes = n->inputs[0], *scores = n->inputs[1];
  int64_t nb = boxes->dims[0], nc = scores->dims[1], nbox = boxes->dims[1];
  const char *T = ir_dtype_ctype(boxes->dtype);
  bool center = ir_attr_int(n, "center_point_box", 0) != 0;
  bool has_max = ir_in(n, 2) && ir_numel(n->inputs[2]) == 1;
  bool has_iou = ir_in(n, 3) && ir_numel(n->inputs[3]) == 1;
  bool has_score = ir_in(n, 4) && ir_numel(n->inputs[4]) == 1;
  emit_line(e, "int64_t total = 0;");
  emit_line(e, "(void)total;");
  if (nbox > 0 && has_max) {
    emit_line(e, "const int64_t max_out = in2[0] > 0 ? in2[0] : 0;");
    emit_line(e, "const float iou_max = %s;", has_iou ? "in3[0]" : "0");
    emit_line(e, "int64_t cand[%lld], picked[%lld];", (long long)nbox, (long long)nbox);
    emit_for(e, "b", nb);
    emit_line(e, "const %s *bx = in0 + b * %lld;", T, (long long)(nbox * 4));
    emit_for(e, "c", nc);
    emit_line(e, "const %s *sc = in1 + (b * %lld + c) * %lld;", T, (long long)nc, (long long)nbox);
    /* Candidates above the score threshold, best first (ties: lower index). */
    emit_line(e, "int64_t m = 0, kept = 0;");
    emit_for(e, "i", nbox);
    if (has_score)
      emit_line(e, "if (!(sc[i] > in4[0])) continue;");
    emit_line(e, "int64_t q = m++;");
    emit_open(e, "while (q > 0 && sc[cand[q - 1]] < sc[i])");
    emit_line(e, "cand[q] = cand[q - 1];");
    emit_line(e, "q--;");
    emit_close(e);
    emit_line(e, "cand[q] = i;");
    emit_close(e);
    emit_open(e, "for (int64_t p = 0; p < m && kept < max_out; p++)");
    emit_line(e, "const %s *u = bx + cand[p] * 4;", T);
    emit_line(e, "int keep = 1;");
    emit_open(e, "for (int64_t s = 0; s < kept && keep; s++)");
    emit_line(e, "const %s *w = bx + picked[s] * 4;", T);
    if (center) { /* [x_center, y_center, width, height] */
      emit_line(e, "const %s ux0 = u[0] - u[2] / 2, ux1 = u[0] + u[2] / 2, uy0 = u[1] - u[3] / 2, "
                   "uy1 = u[1] + u[3] / 2;", T);
      emit_line(e, "const %s wx0 = w[0] - w[2] / 2, wx1 = w[0] + w[2] / 2, wy0 = w[1] - w[3] / 2, "
                   "wy1 = w[1] + w[3] / 2;", T);
    } else { /* [y1, x1, y2, x2], corners in either order */
      emit_line(e, "const %s ux0 = u[1] < u[3] ? u[1] : u[3], ux1 = u[1] < u[3] ? u[3] : u[1];", T);
      emit_line(e, "const %s uy0 = u[0] < u[2] ? u[0] : u[2], uy1 = u[0] < u[2] ? u[2] : u[0];", T);
      emit_line(e, "const %s wx0 = w[1] < w[3] ? w[1] : w[3], wx1 = w[1] < w[3] ? w[3] : w[1];", T);
      emit_line(e, "const %s wy0 = w[0] < w[2] ? w[0] : w[2], wy1 = w[0] < w[2] ? w[2] : w[0];", T);
    }
    emit_line(e, "const %s ix = (ux1 < wx1 ? ux1 : wx1) - (ux0 > wx0 ? ux0 : wx0);", T);
    emit_line(e, "const %s iy = (uy1 < wy1 ? uy1 : wy1) - (uy0 > wy0 ? uy0 : wy0);", T);
    emit_open(e, "if (ix > 0 && iy > 0)");
    emit_line(e, "const %s inter = ix * iy, ua = (ux1 - ux0) * (uy1 - uy0), wa = (wx1 - wx0) * "
                 "(wy1 - wy0), uni = ua + wa - inter;", T);
    emit_line(e, "if (ua > 0 && wa > 0 && uni > 0 && inter / uni > iou_max) keep = 0;");
    emit_close(e);
    emit_close(e);
    emit_open(e, "if (keep)");
    emit_line(e, "picked[kept++] = cand[p];");
    emit_line(e, "out0[total * 3] = b;");
    emit_line(e, "out0[total * 3 + 1] = c;");
    emit_line(e, "out0[total * 3 + 2] = cand[p];");
    emit_line(e, "total++;");
    emit_close(e);
    emit_close(e);
    emit_close(e);
    emit_close(e);
  }
  emit_actual_shape(e, n, 0, 0, "total");
}

const op_def op_family_data_dependent[] = {
    {"NonZero", "", infer_nonzero, NULL, emit_nonzero, 0},
    {"Unique", "", infer_unique, NULL, emit_unique, 0},
    {"NonMaxSuppression", "", infer_nms, NULL, emit_nms, 0},
    {NULL},
};
