/* Data movement: Transpose, Concat, Split, Slice, Gather, Pad. Nothing here
 * looks at values, so every op works on every dtype, and one byte-level fold
 * serves them all. Most of them are strided copies (copy_plan in common.h), run at
 * compile time by plan_run and emitted as loops by plan_emit. */
#include <stdio.h>

#include "autodiff.h"
#include "common.h"
#include "grad_rules.h"
#include "pad_params.h"

/* ---- Transpose ---- */

static void transpose_perm(const ir_node *n, int64_t *perm) {
  const int64_t *p;
  int r = n->inputs[0]->rank;
  if (ir_attr_ints(n, "perm", &p) == r)
    memcpy(perm, p, sizeof *perm * (size_t)r);
  else
    for (int d = 0; d < r; d++)
      perm[d] = r - 1 - d;
}

static nn_status infer_transpose(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  const int64_t *p;
  int np = ir_attr_ints(n, "perm", &p);
  if (ir_attr_find(n, "perm") && np != x->rank)
    return diag_node(g->path, n, "perm has %d entries for an input of rank %d", np, x->rank);
  int64_t perm[IR_MAX_RANK], dims[IR_MAX_RANK];
  bool seen[IR_MAX_RANK] = {false};
  transpose_perm(n, perm);
  for (int d = 0; d < x->rank; d++) {
    if (perm[d] < 0 || perm[d] >= x->rank || seen[perm[d]])
      return diag_node(g->path, n, "perm is not a permutation of 0..%d", x->rank - 1);
    seen[perm[d]] = true;
    dims[d] = x->dims[perm[d]];
  }
  ir_set_shape(n->outputs[0], x->dtype, x->rank, dims);
  return NN_OK;
}

static copy_plan transpose_plan(const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  copy_plan p = plan_dense_dst(n->outputs[0]);
  int64_t perm[IR_MAX_RANK], in_stride[IR_MAX_RANK];
  transpose_perm(n, perm);
  emit_strides(x, in_stride);
  for (int d = 0; d < x->rank; d++)
    p.src_stride[d] = in_stride[perm[d]];
  return p;
}

static nn_status fold_transpose(ir_graph *g, ir_node *n) {
  ir_tensor *y = n->outputs[0];
  ir_make_weight(g, y);
  plan_run(transpose_plan(n), y->data, n->inputs[0]->data, ir_dtype_size(y->dtype));
  return NN_OK;
}

static void emit_transpose(emit_ctx *e, const ir_node *n) {
  plan_emit(e, transpose_plan(n), "out0", "in0", ir_dtype_size(n->outputs[0]->dtype));
}

/* ---- Concat ---- */

static int concat_axis(const ir_node *n) {
  int r = n->inputs[0]->rank;
  int64_t a = ir_attr_int(n, "axis", 1);
  return (int)(a < 0 ? a + r : a);
}

static nn_status infer_concat(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1 << 20))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  if (n->opset >= 4 && !ir_attr_find(n, "axis"))
    return diag_node(g->path, n, "attribute 'axis' is missing");
  int axis;
  if (x->rank == 0)
    return diag_node(g->path, n, "cannot concatenate scalars");
  if (norm_axis(g, n, ir_attr_int(n, "axis", 1), x->rank, &axis))
    return NN_ERR;
  int64_t dims[IR_MAX_RANK];
  memcpy(dims, x->dims, sizeof dims);
  dims[axis] = 0;
  for (int k = 0; k < n->n_inputs; k++) {
    const ir_tensor *t = n->inputs[k];
    if (!t)
      return diag_node(g->path, n, "input %d is missing", k);
    bool same = t->dtype == x->dtype && t->rank == x->rank;
    for (int d = 0; same && d < x->rank; d++)
      same = d == axis || t->dims[d] == x->dims[d];
    char a[128], b[128];
    if (!same)
      return diag_node(g->path, n, "input %d (%s%s) does not match input 0 (%s%s) off axis %d", k,
                       ir_dtype_name(t->dtype), ir_shape_str(t, a, sizeof a),
                       ir_dtype_name(x->dtype), ir_shape_str(x, b, sizeof b), axis);
    dims[axis] += t->dims[axis];
  }
  ir_set_shape(n->outputs[0], x->dtype, x->rank, dims);
  return NN_OK;
}

/* The plan that copies input k into its place in the output. */
static copy_plan concat_plan(const ir_node *n, int k) {
  const ir_tensor *y = n->outputs[0], *t = n->inputs[k];
  int axis = concat_axis(n);
  copy_plan p = plan_dense_dst(t);
  emit_strides(y, p.dst_stride);
  for (int j = 0; j < k; j++)
    p.dst_off += n->inputs[j]->dims[axis] * p.dst_stride[axis];
  return p;
}

static nn_status fold_concat(ir_graph *g, ir_node *n) {
  ir_tensor *y = n->outputs[0];
  ir_make_weight(g, y);
  for (int k = 0; k < n->n_inputs; k++)
    plan_run(concat_plan(n, k), y->data, n->inputs[k]->data, ir_dtype_size(y->dtype));
  return NN_OK;
}

static void emit_concat(emit_ctx *e, const ir_node *n) {
  for (int k = 0; k < n->n_inputs; k++)
    plan_emit(e, concat_plan(n, k), "out0", mem_printf(e->g->mem, "in%d", k),
              ir_dtype_size(n->outputs[0]->dtype));
}

/* ---- Split ---- */

#define MAX_SPLITS 1024

static int split_axis(const ir_node *n) {
  int r = n->inputs[0]->rank;
  int64_t a = ir_attr_int(n, "axis", 0);
  return (int)(a < 0 ? a + r : a);
}

/* The size of every output along the axis; -1 after reporting. */
static int split_sizes(ir_graph *g, const ir_node *n, int64_t *sizes) {
  int64_t dim = n->inputs[0]->dims[split_axis(n)];
  int k, outs = n->n_outputs;
  if (n->opset < 13 && ir_attr_find(n, "split")) {
    k = attr_ints(g, n, "split", sizes, MAX_SPLITS);
  } else if (ir_in(n, 1) && ir_numel(n->inputs[1]) > 0) { /* an empty 'split' means none */
    k = const_input_ints(g, n, 1, "split", sizes, MAX_SPLITS);
  } else if (n->opset >= 18 && ir_attr_find(n, "num_outputs")) {
    int64_t num = ir_attr_int(n, "num_outputs", 0);
    if (num != outs) {
      diag_node(g->path, n, "num_outputs is %lld but the node has %d outputs", (long long)num,
                outs);
      return -1;
    }
    int64_t chunk = (dim + num - 1) / num; /* the last chunk takes what is left */
    for (int i = 0; i < outs; i++) {
      int64_t left = dim - chunk * i;
      sizes[i] = left < 0 ? 0 : left < chunk ? left : chunk;
    }
    return outs;
  } else {
    if (dim % outs) {
      diag_node(g->path, n, "cannot split a dimension of %lld into %d equal parts", (long long)dim,
                outs);
      return -1;
    }
    for (int i = 0; i < outs; i++)
      sizes[i] = dim / outs;
    return outs;
  }
  if (k < 0)
    return -1;
  int64_t sum = 0;
  bool negative = false;
  for (int i = 0; i < k; i++) {
    negative |= sizes[i] < 0;
    sum += sizes[i];
  }
  if (k != outs || sum != dim || negative) {
    diag_node(g->path, n,
              "split sizes (%d of them) must be non-negative, sum to %lld and number "
              "%d, one per output",
              k, (long long)dim, outs);
    return -1;
  }
  return k;
}

static nn_status infer_split(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 2))
    return NN_ERR;
  if (n->n_outputs > MAX_SPLITS)
    return diag_node(g->path, n, "has %d outputs; at most %d are supported", n->n_outputs,
                     MAX_SPLITS);
  const ir_tensor *x = n->inputs[0];
  int axis;
  int64_t sizes[MAX_SPLITS];
  if (norm_axis(g, n, ir_attr_int(n, "axis", 0), x->rank, &axis) || split_sizes(g, n, sizes) < 0)
    return NN_ERR;
  for (int i = 0; i < n->n_outputs; i++) {
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = sizes[i];
    if (n->outputs[i])
      ir_set_shape(n->outputs[i], x->dtype, x->rank, dims);
  }
  return NN_OK;
}

/* Calls fn for each present output with the plan that copies its part. */
static void split_each(ir_graph *g, const ir_node *n,
                       void (*fn)(const ir_node *, int, copy_plan, void *), void *arg) {
  int64_t sizes[MAX_SPLITS], start = 0;
  int axis = split_axis(n);
  if (split_sizes(g, n, sizes) < 0)
    NN_BUG("split sizes changed after inference");
  for (int k = 0; k < n->n_outputs; k++) {
    if (n->outputs[k]) {
      copy_plan p = plan_dense_dst(n->outputs[k]);
      emit_strides(n->inputs[0], p.src_stride);
      p.src_off = start * p.src_stride[axis];
      fn(n, k, p, arg);
    }
    start += sizes[k];
  }
}

static void split_fold_part(const ir_node *n, int k, copy_plan p, void *g) {
  ir_make_weight(g, n->outputs[k]);
  plan_run(p, n->outputs[k]->data, n->inputs[0]->data, ir_dtype_size(n->inputs[0]->dtype));
}

static nn_status fold_split(ir_graph *g, ir_node *n) {
  split_each(g, n, split_fold_part, g);
  return NN_OK;
}

static void split_emit_part(const ir_node *n, int k, copy_plan p, void *arg) {
  emit_ctx *e = arg;
  plan_emit(e, p, mem_printf(e->g->mem, "out%d", k), "in0", ir_dtype_size(n->inputs[0]->dtype));
}

static void emit_split(emit_ctx *e, const ir_node *n) { split_each(e->g, n, split_emit_part, e); }

/* ---- Slice ---- */

typedef struct slice_params {
  int64_t start[IR_MAX_RANK], step[IR_MAX_RANK], count[IR_MAX_RANK];
} slice_params;

/* Reads starts/ends/axes/steps (attributes before opset 10, constant inputs
 * from 10) and clamps them as the spec says. */
static nn_status slice_params_of(ir_graph *g, const ir_node *n, slice_params *sp) {
  const ir_tensor *x = n->inputs[0];
  int r = x->rank;
  int64_t starts[IR_MAX_RANK], ends[IR_MAX_RANK], axes[IR_MAX_RANK], steps[IR_MAX_RANK];
  bool old = n->opset < 10;
  int ns =
      old ? attr_ints(g, n, "starts", starts, r) : const_input_ints(g, n, 1, "starts", starts, r);
  int ne = old ? attr_ints(g, n, "ends", ends, r) : const_input_ints(g, n, 2, "ends", ends, r);
  int na = old ? attr_ints(g, n, "axes", axes, r) : const_input_ints(g, n, 3, "axes", axes, r);
  int nt = old ? 0 : const_input_ints(g, n, 4, "steps", steps, r);
  if (ns < 0 || ne < 0 || na < 0 || nt < 0)
    return NN_ERR;
  bool has_axes = old ? ir_attr_find(n, "axes") != NULL : ir_in(n, 3) != NULL;
  bool has_steps = !old && ir_in(n, 4);
  if (ns != ne || (has_axes && na != ns) || (has_steps && nt != ns))
    return diag_node(g->path, n, "starts, ends, axes and steps must have the same length");
  for (int d = 0; d < r; d++) {
    sp->start[d] = 0;
    sp->step[d] = 1;
    sp->count[d] = x->dims[d];
  }
  bool seen[IR_MAX_RANK] = {false};
  for (int i = 0; i < ns; i++) {
    int a;
    if (norm_axis(g, n, has_axes ? axes[i] : i, r, &a))
      return NN_ERR;
    if (seen[a])
      return diag_node(g->path, n, "axis %d is sliced twice", a);
    seen[a] = true;
    int64_t dim = x->dims[a], step = has_steps ? steps[i] : 1;
    int64_t s = starts[i], e = ends[i];
    if (step == 0)
      return diag_node(g->path, n, "step 0 on axis %d", a);
    s = s < 0 ? s + dim : s; /* INT64_MIN + dim cannot overflow: dim >= 0 */
    e = e < 0 ? e + dim : e;
    if (step > 0) {
      s = s < 0 ? 0 : s > dim ? dim : s;
      e = e < 0 ? 0 : e > dim ? dim : e;
    } else {
      s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
      e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
    }
    int64_t span = step > 0 ? e - s : s - e;
    int64_t mag = step > 0 ? step : step == INT64_MIN ? INT64_MAX : -step;
    sp->start[a] = s;
    sp->step[a] = step;
    sp->count[a] = span > 0 ? (span - 1) / mag + 1 : 0;
  }
  return NN_OK;
}

static nn_status infer_slice(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, n->opset < 10 ? 1 : 5))
    return NN_ERR;
  if (n->opset >= 10 && (!ir_in(n, 1) || !ir_in(n, 2)))
    return diag_node(g->path, n, "inputs 'starts' and 'ends' are required");
  slice_params sp;
  if (slice_params_of(g, n, &sp))
    return NN_ERR;
  ir_set_shape(n->outputs[0], n->inputs[0]->dtype, n->inputs[0]->rank, sp.count);
  return NN_OK;
}

static copy_plan slice_plan(ir_graph *g, const ir_node *n) {
  slice_params sp;
  if (slice_params_of(g, n, &sp))
    NN_BUG("slice parameters changed after inference");
  copy_plan p = plan_dense_dst(n->outputs[0]);
  int64_t in_stride[IR_MAX_RANK];
  emit_strides(n->inputs[0], in_stride);
  for (int d = 0; d < p.rank; d++) {
    p.src_off += sp.start[d] * in_stride[d];
    p.src_stride[d] = sp.step[d] * in_stride[d];
  }
  return p;
}

static nn_status fold_slice(ir_graph *g, ir_node *n) {
  ir_tensor *y = n->outputs[0];
  ir_make_weight(g, y);
  plan_run(slice_plan(g, n), y->data, n->inputs[0]->data, ir_dtype_size(y->dtype));
  return NN_OK;
}

static void emit_slice(emit_ctx *e, const ir_node *n) {
  plan_emit(e, slice_plan(e->g, n), "out0", "in0", ir_dtype_size(n->outputs[0]->dtype));
}

/* ---- Gather ---- */

/* The input viewed as [outer, N, inner] around the axis. */
static void gather_dims(const ir_node *n, int64_t *outer, int64_t *N, int64_t *inner) {
  const ir_tensor *x = n->inputs[0];
  int64_t a = ir_attr_int(n, "axis", 0);
  int axis = (int)(a < 0 ? a + x->rank : a);
  *outer = *inner = 1;
  for (int d = 0; d < x->rank; d++) {
    if (d < axis)
      *outer *= x->dims[d];
    if (d > axis)
      *inner *= x->dims[d];
  }
  *N = x->dims[axis];
}

static nn_status infer_gather(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0], *idx = n->inputs[1];
  int axis;
  if (!idx)
    return diag_node(g->path, n, "input 1 'indices' is missing");
  if (norm_axis(g, n, ir_attr_int(n, "axis", 0), x->rank, &axis))
    return NN_ERR;
  if (idx->dtype != IR_INT64 && idx->dtype != IR_INT32)
    return diag_node(g->path, n, "indices must be int32 or int64, not %s",
                     ir_dtype_name(idx->dtype));
  int rank = x->rank - 1 + idx->rank;
  if (rank > IR_MAX_RANK)
    return diag_node(g->path, n, "the output would have rank %d; at most %d is supported", rank,
                     IR_MAX_RANK);
  int64_t N = x->dims[axis];
  if (N == 0 && ir_numel(idx) > 0)
    return diag_node(g->path, n, "cannot gather from the empty axis %d", axis);
  for (int64_t i = 0; idx->kind == IR_WEIGHT && i < ir_numel(idx); i++) {
    int64_t v = ir_weight_int(idx, i);
    if (v < -N || v >= N)
      return diag_node(g->path, n, "index %lld is out of range for a dimension of %lld",
                       (long long)v, (long long)N);
  }
  int64_t dims[IR_MAX_RANK];
  int r = 0;
  for (int d = 0; d < axis; d++)
    dims[r++] = x->dims[d];
  for (int d = 0; d < idx->rank; d++)
    dims[r++] = idx->dims[d];
  for (int d = axis + 1; d < x->rank; d++)
    dims[r++] = x->dims[d];
  ir_set_shape(n->outputs[0], x->dtype, rank, dims);
  return NN_OK;
}

static nn_status fold_gather(ir_graph *g, ir_node *n) {
  ir_tensor *y = n->outputs[0];
  const ir_tensor *x = n->inputs[0], *idx = n->inputs[1];
  int64_t outer, N, inner, m = ir_numel(idx);
  gather_dims(n, &outer, &N, &inner);
  size_t row = (size_t)inner * ir_dtype_size(x->dtype);
  char *dst = ir_make_weight(g, y);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < m; j++) {
      int64_t k = ir_weight_int(idx, j);
      k = k < 0 ? k + N : k;
      memcpy(dst + (size_t)(o * m + j) * row, (const char *)x->data + (size_t)(o * N + k) * row,
             row);
    }
  return NN_OK;
}

static void emit_gather(emit_ctx *e, const ir_node *n) {
  int64_t outer, N, inner, m = ir_numel(n->inputs[1]);
  gather_dims(n, &outer, &N, &inner);
  if (outer * m * inner == 0)
    return;
  size_t esize = ir_dtype_size(n->inputs[0]->dtype);
  emit_parallel_for(e, "o", outer, m * inner);
  emit_for(e, "j", m);
  emit_line(e, "int64_t k = (int64_t)in1[j];");
  /* Run-time indices out of range clamp instead of reading out of bounds. */
  emit_line(e, "k = k < 0 ? k + %lld : k;", (long long)N);
  emit_line(e, "k = k < 0 ? 0 : k > %lld ? %lld : k;", (long long)(N - 1), (long long)(N - 1));
  if (inner == 1)
    emit_line(e, "out0[o * %lld + j] = in0[o * %lld + k];", (long long)m, (long long)N);
  else
    emit_line(e, "memcpy(out0 + (o * %lld + j) * %lld, in0 + (o * %lld + k) * %lld, %zu);",
              (long long)m, (long long)inner, (long long)N, (long long)inner,
              (size_t)inner * esize);
  emit_close(e);
  emit_close(e);
}

/* ---- Pad ---- */

/* Reads mode, pads (attribute 'paddings'/'pads' before opset 11, input 1
 * from 11) and axes (input 3, opset 18). */
nn_status pad_params_of(ir_graph *g, const ir_node *n, pad_params *pp) {
  const ir_tensor *x = n->inputs[0];
  int r = x->rank;
  const char *mode = ir_attr_string(n, "mode", "constant");
  static const char *modes[] = {"constant", "reflect", "edge", "wrap"};
  int m = 0;
  while (m < 4 && strcmp(mode, modes[m]) != 0)
    m++;
  if (m == 4 || (m == PAD_WRAP && n->opset < 19))
    return diag_node(g->path, n, "mode '%s' is not supported", mode);
  pp->mode = (pad_mode)m;
  int64_t pads[2 * IR_MAX_RANK], axes[IR_MAX_RANK];
  int np, na = 0;
  if (n->opset < 11)
    np = attr_ints(g, n, n->opset < 2 ? "paddings" : "pads", pads, 2 * r);
  else if (!ir_in(n, 1))
    return diag_node(g->path, n, "input 1 'pads' is missing");
  else
    np = const_input_ints(g, n, 1, "pads", pads, 2 * r);
  if (np < 0 || (na = const_input_ints(g, n, 3, "axes", axes, r)) < 0)
    return NN_ERR;
  bool has_axes = ir_in(n, 3) != NULL;
  if (!has_axes)
    for (int d = 0; d < r; d++)
      axes[d] = d;
  int k = has_axes ? na : r;
  if (np != 2 * k)
    return diag_node(g->path, n, "pads has %d values; %d expected", np, 2 * k);
  memset(pp->begin, 0, sizeof pp->begin);
  memset(pp->end, 0, sizeof pp->end);
  for (int i = 0; i < k; i++) {
    int a;
    if (norm_axis(g, n, axes[i], r, &a))
      return NN_ERR;
    pp->begin[a] = pads[i];
    pp->end[a] = pads[k + i];
  }
  return NN_OK;
}

static nn_status infer_pad(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, n->opset < 11 ? 1 : 4))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0], *v = ir_in(n, 2);
  pad_params pp;
  if (pad_params_of(g, n, &pp))
    return NN_ERR;
  if (v && (v->dtype != x->dtype || ir_numel(v) != 1))
    return diag_node(g->path, n, "constant_value must be one %s value", ir_dtype_name(x->dtype));
  int64_t dims[IR_MAX_RANK];
  for (int d = 0; d < x->rank; d++) {
    dims[d] = x->dims[d] + pp.begin[d] + pp.end[d];
    if (dims[d] < 0)
      return diag_node(g->path, n, "pads remove more than the %lld elements of axis %d",
                       (long long)x->dims[d], d);
    if (dims[d] > 0 && x->dims[d] == 0 && pp.mode != PAD_CONSTANT)
      return diag_node(g->path, n, "cannot pad the empty axis %d in mode '%s'", d,
                       ir_attr_string(n, "mode", ""));
  }
  ir_set_shape(n->outputs[0], x->dtype, x->rank, dims);
  return NN_OK;
}

int64_t pad_source(pad_mode mode, int64_t j, int64_t n) {
  if (j >= 0 && j < n)
    return j;
  switch (mode) {
  case PAD_CONSTANT:
    return -1;
  case PAD_EDGE:
    return j < 0 ? 0 : n - 1;
  case PAD_WRAP:
    return (j % n + n) % n;
  case PAD_REFLECT: {
    if (n == 1)
      return 0;
    int64_t period = 2 * (n - 1);
    j = (j % period + period) % period;
    return j < n ? j : period - j;
  }
  }
  return -1;
}

/* The part of the input that lands in the output, for constant mode. */
static copy_plan pad_interior(const ir_node *n, const pad_params *pp) {
  const ir_tensor *x = n->inputs[0];
  copy_plan p = plan_dense_dst(x);
  emit_strides(n->outputs[0], p.dst_stride);
  int64_t in_stride[IR_MAX_RANK];
  emit_strides(x, in_stride);
  for (int d = 0; d < x->rank; d++) {
    int64_t lo = pp->begin[d] < 0 ? -pp->begin[d] : 0, hi = pp->end[d] < 0 ? -pp->end[d] : 0;
    p.dims[d] = x->dims[d] - lo - hi > 0 ? x->dims[d] - lo - hi : 0;
    p.src_off += lo * in_stride[d];
    p.dst_off += (pp->begin[d] > 0 ? pp->begin[d] : 0) * p.dst_stride[d];
  }
  return p;
}

/* The fill value as one element of the output dtype, into buf. */
static void pad_value_bytes(const ir_node *n, void *buf) {
  const ir_tensor *v = ir_in(n, 2);
  if (v && v->kind == IR_WEIGHT)
    memcpy(buf, v->data, ir_dtype_size(v->dtype));
  else
    store_double(n->inputs[0]->dtype, buf, 0, n->opset < 11 ? ir_attr_float(n, "value", 0) : 0);
}

static void pad_fold_maps(const ir_node *n, const pad_params *pp, char *dst) {
  const ir_tensor *x = n->inputs[0], *y = n->outputs[0];
  size_t es = ir_dtype_size(x->dtype);
  int64_t in_stride[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
  emit_strides(x, in_stride);
  for (int64_t o = 0; o < ir_numel(y); o++) {
    int64_t src = 0;
    for (int d = 0; d < y->rank; d++)
      src += pad_source(pp->mode, idx[d] - pp->begin[d], x->dims[d]) * in_stride[d];
    memcpy(dst + (size_t)o * es, (const char *)x->data + (size_t)src * es, es);
    for (int d = y->rank - 1; d >= 0 && ++idx[d] == y->dims[d]; d--)
      idx[d] = 0;
  }
}

static nn_status fold_pad(ir_graph *g, ir_node *n) {
  ir_tensor *y = n->outputs[0];
  pad_params pp;
  if (pad_params_of(g, n, &pp))
    return NN_ERR;
  char *dst = ir_make_weight(g, y);
  size_t es = ir_dtype_size(y->dtype);
  if (pp.mode != PAD_CONSTANT) {
    pad_fold_maps(n, &pp, dst);
    return NN_OK;
  }
  unsigned char value[8];
  pad_value_bytes(n, value);
  for (int64_t i = 0; i < ir_numel(y); i++)
    memcpy(dst + (size_t)i * es, value, es);
  plan_run(pad_interior(n, &pp), dst, n->inputs[0]->data, es);
  return NN_OK;
}

static void emit_pad_constant(emit_ctx *e, const ir_node *n, const pad_params *pp) {
  const ir_tensor *y = n->outputs[0], *v = ir_in(n, 2);
  static const unsigned char zeros[8];
  unsigned char value[8];
  pad_value_bytes(n, value);
  bool runtime = v && v->kind != IR_WEIGHT;
  if (!runtime && memcmp(value, zeros, ir_dtype_size(y->dtype)) == 0) {
    emit_line(e, "memset(out0, 0, %zu);", ir_bytes(y));
  } else {
    emit_parallel_for(e, "i", ir_numel(y), 1);
    if (v)
      emit_line(e, "out0[i] = in2[0];");
    else
      emit_line(e, "out0[i] = %s;", emit_literal(e, y->dtype, ir_attr_float(n, "value", 0)));
    emit_close(e);
  }
  plan_emit(e, pad_interior(n, pp), "out0", "in0", ir_dtype_size(y->dtype));
}

/* Edge, reflect and wrap: a table per padded axis maps each output index to
 * an input offset. */
static void emit_pad_mapped(emit_ctx *e, const ir_node *n, const pad_params *pp) {
  const ir_tensor *x = n->inputs[0], *y = n->outputs[0];
  int64_t in_stride[IR_MAX_RANK], out_stride[IR_MAX_RANK];
  emit_strides(x, in_stride);
  emit_strides(y, out_stride);
  const char *ityp = ir_numel(x) <= INT32_MAX ? "int32_t" : "int64_t";
  char src[512] = "", dst[512] = "";
  size_t ls = 0, ld = 0;
  for (int d = 0; d < y->rank; d++) {
    bool mapped = pp->begin[d] != 0 || pp->end[d] != 0;
    if (mapped) {
      emit_line(e, "static const %s map%d[%lld] = {", ityp, d, (long long)y->dims[d]);
      for (int64_t i = 0; i < y->dims[d]; i += 16) {
        char line[512];
        size_t len = 0;
        for (int64_t j = i; j < i + 16 && j < y->dims[d]; j++)
          len += (size_t)snprintf(
              line + len, sizeof line - len, "%s%lld,", len ? " " : "",
              (long long)(pad_source(pp->mode, j - pp->begin[d], x->dims[d]) * in_stride[d]));
        emit_line(e, "    %s", line);
      }
      emit_line(e, "};");
      ls += (size_t)snprintf(src + ls, sizeof src - ls, "%smap%d[i%d]", ls ? " + " : "", d, d);
    } else if (y->dims[d] > 1) {
      ls = plan_add_term(src, ls, sizeof src, d, in_stride[d]);
    }
    if (y->dims[d] > 1)
      ld = plan_add_term(dst, ld, sizeof dst, d, out_stride[d]);
  }
  for (int d = 0; d < y->rank; d++) {
    char var[16];
    snprintf(var, sizeof var, "i%d", d);
    if (d == 0)
      emit_parallel_for(e, var, y->dims[0], ir_numel(y) / y->dims[0]);
    else
      emit_for(e, var, y->dims[d]);
  }
  emit_line(e, "out0[%s] = in0[%s];", ld ? dst : "0", ls ? src : "0");
  for (int d = 0; d < y->rank; d++)
    emit_close(e);
}

static void emit_pad(emit_ctx *e, const ir_node *n) {
  pad_params pp;
  if (pad_params_of(e->g, n, &pp))
    NN_BUG("pad parameters changed after inference");
  if (ir_numel(n->outputs[0]) == 0)
    return;
  if (pp.mode == PAD_CONSTANT)
    emit_pad_constant(e, n, &pp);
  else
    emit_pad_mapped(e, n, &pp);
}

/* ---- gradient rules ---- */

/* Transpose by perm: the gradient goes back through the inverse permutation. */
static nn_status grad_transpose(ad_ctx *ad, const ir_node *n) {
  int r = n->inputs[0]->rank;
  const int64_t *perm;
  int64_t inverse[IR_MAX_RANK];
  bool given = ir_attr_ints(n, "perm", &perm) == r;
  for (int d = 0; d < r; d++)
    inverse[given ? perm[d] : r - 1 - d] = d;
  ir_tensor *dy = ad_out_grad(ad, n, 0);
  ir_node *b = ad_begin(ad, "", "Transpose", 1, &dy, 1);
  ad_attr_ints(ad, b, "perm", r, inverse);
  ad_give_grad(ad, n, 0, ad_finish(ad, b));
  return NN_OK;
}

/* Input k's gradient is its run of the output's gradient along the axis. */
static nn_status grad_concat(ad_ctx *ad, const ir_node *n) {
  ir_tensor *dy = ad_out_grad(ad, n, 0);
  int64_t axis = ir_attr_int(n, "axis", 1), at = 0;
  axis = axis < 0 ? axis + dy->rank : axis;
  for (int k = 0; k < n->n_inputs; k++) {
    int64_t len = n->inputs[k]->dims[axis];
    if (ad_needs_grad(ad, n, k)) {
      int64_t end = at + len;
      ir_tensor *in[4] = {dy, ad_ints(ad, 1, &at), ad_ints(ad, 1, &end), ad_ints(ad, 1, &axis)};
      ad_give_grad(ad, n, k, ad_finish(ad, ad_begin(ad, "", "Slice", 4, in, 1)));
    }
    at += len;
  }
  return NN_OK;
}

/* The pieces' gradients concatenated; a piece no gradient reaches gives zeros. */
static nn_status grad_split(ad_ctx *ad, const ir_node *n) {
  ir_tensor **in = mem_alloc(ad_graph(ad)->mem, sizeof *in * (size_t)n->n_outputs);
  for (int k = 0; k < n->n_outputs; k++) {
    in[k] = ad_out_grad(ad, n, k);
    if (!in[k])
      in[k] = ad_zeros(ad, n->outputs[k]);
  }
  ir_node *b = ad_begin(ad, "", "Concat", n->n_outputs, in, 1);
  ad_attr_int(ad, b, "axis", split_axis(n));
  ad_give_grad(ad, n, 0, ad_finish(ad, b));
  return NN_OK;
}

/* The gradient scattered back to where the slice read it, zeros elsewhere. */
static nn_status grad_slice(ad_ctx *ad, const ir_node *n) {
  slice_params sp;
  if (slice_params_of(ad_graph(ad), n, &sp))
    return NN_ERR;
  ir_tensor *dy = ad_out_grad(ad, n, 0);
  ir_node *b = ad_begin(ad, "nncc", "SliceGrad", 1, &dy, 1);
  int r = n->inputs[0]->rank;
  ad_attr_ints(ad, b, "shape", r, n->inputs[0]->dims);
  ad_attr_ints(ad, b, "start", r, sp.start);
  ad_attr_ints(ad, b, "step", r, sp.step);
  ad_give_grad(ad, n, 0, ad_finish(ad, b));
  return NN_OK;
}

/* An embedding's rows get the gradients of the positions that read them, summed. */
static nn_status grad_gather(ad_ctx *ad, const ir_node *n) {
  int64_t outer, N, inner;
  gather_dims(n, &outer, &N, &inner);
  ir_tensor *in[2] = {ad_out_grad(ad, n, 0), n->inputs[1]};
  ir_node *b = ad_begin(ad, "nncc", "GatherGrad", 2, in, 1);
  ad_attr_ints(ad, b, "shape", n->inputs[0]->rank, n->inputs[0]->dims);
  int64_t split[3] = {outer, N, inner};
  ad_attr_ints(ad, b, "split", 3, split);
  ad_give_grad(ad, n, 0, ad_finish(ad, b));
  return NN_OK;
}

const op_def op_family_movement[] = {
    {"Transpose", "", infer_transpose, fold_transpose, emit_transpose, 0, .grad = grad_transpose},
    {"Concat", "", infer_concat, fold_concat, emit_concat, 0, .grad = grad_concat},
    {"Split", "", infer_split, fold_split, emit_split, 0, OP_CONST(1), .grad = grad_split},
    {"Slice", "", infer_slice, fold_slice, emit_slice, 0, OP_CONST(1) | OP_CONST(2) | OP_CONST(3) | OP_CONST(4), .grad = grad_slice},
    {"Gather", "", infer_gather, fold_gather, emit_gather, 0, .grad = grad_gather},
    {"Pad", "", infer_pad, fold_pad, emit_pad, 0, OP_CONST(1) | OP_CONST(3), .grad = grad_pad},
    {NULL},
};
