/* Indexing: ops that place elements by position or by index.
 * - Copies whose positions come from shapes and constants (Expand, Tile,
 *   DepthToSpace, SpaceToDepth, CenterCropPad: copy plans; Compress,
 *   ReverseSequence, Trilu).
 * - Run-time indices (GatherElements, GatherND, ScatterElements, ScatterND,
 *   OneHot). Negative indices wrap; out-of-range ones are clamped on reads
 *   and skipped on writes, so generated code never leaves its buffers.
 * - Generators and scans (EyeLike, Range, CumSum).
 * Data movement is dtype-agnostic; every op folds when its inputs are weights. */
#include <stdio.h>

#include "autodiff.h"
#include "common.h"

/* ---- shared helpers ---- */

static bool is_float_type(ir_dtype t) { return t == IR_FLOAT || t == IR_DOUBLE; }

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Product of dims[lo..hi). */
static int64_t dims_prod(const int64_t *dims, int lo, int hi) {
  int64_t p = 1;
  for (int d = lo; d < hi; d++)
    p *= dims[d];
  return p;
}

/* Advances the row-major multi-index idx below dims; false after the last. */
static bool next_index(int64_t *idx, const int64_t *dims, int rank) {
  for (int d = rank - 1; d >= 0; d--) {
    if (++idx[d] < dims[d])
      return true;
    idx[d] = 0;
  }
  return false;
}

static nn_status check_indices(ir_graph *g, const ir_node *n, int k) {
  const ir_tensor *t = ir_in(n, k);
  if (!t)
    return diag_node(g->path, n, "input %d 'indices' is missing", k);
  if (t->dtype != IR_INT64 && t->dtype != IR_INT32)
    return diag_node(g->path, n, "indices must be int32 or int64, not %s", ir_dtype_name(t->dtype));
  return NN_OK;
}

/* Constant indices must lie in [-dim, dim), element i against dims[i % m];
 * only run-time ones get clamped or skipped. */
static nn_status check_const_indices(ir_graph *g, const ir_node *n, const ir_tensor *idx,
                                     const int64_t *dims, int m) {
  for (int64_t i = 0; idx->kind == IR_WEIGHT && m > 0 && i < ir_numel(idx); i++) {
    int64_t v = ir_weight_int(idx, i), dim = dims[i % m];
    if (v < -dim || v >= dim)
      return diag_node(g->path, n, "index %lld is out of range for a dimension of %lld",
                       (long long)v, (long long)dim);
  }
  return NN_OK;
}

/* A weight index wrapped into [0, dim) (the checks above keep it in range). */
static int64_t const_index(const ir_tensor *idx, int64_t i, int64_t dim) {
  int64_t k = ir_weight_int(idx, i);
  return k < 0 ? k + dim : k;
}

/* int64_t var = expr, wrapped when negative, then clamped into [0, dim):
 * an out-of-range run-time index reads the nearest edge, never past it. */
static void emit_read_index(emit_ctx *e, const char *var, const char *expr, int64_t dim) {
  emit_line(e, "int64_t %s = (int64_t)%s;", var, expr);
  emit_line(e, "%s = %s < 0 ? %s + %lld : %s;", var, var, var, (long long)dim, var);
  emit_line(e, "%s = %s < 0 ? 0 : %s > %lld ? %lld : %s;", var, var, var, (long long)(dim - 1),
            (long long)(dim - 1), var);
}

/* The same for writes: an out-of-range run-time index skips the write
 * (`continue` of the innermost open loop). */
static void emit_write_index(emit_ctx *e, const char *var, const char *expr, int64_t dim) {
  emit_line(e, "int64_t %s = (int64_t)%s;", var, expr);
  emit_line(e, "if (%s < 0)", var);
  emit_line(e, "  %s += %lld;", var, (long long)dim);
  emit_line(e, "if (%s < 0 || %s >= %lld)", var, var, (long long)dim);
  emit_line(e, "  continue;");
}

/* One loop per dim of t, variables i0.. (what plan_offset_expr reads); the
 * first runs on threads when parallel. Returns how many loops to close. */
static int open_loops(emit_ctx *e, const ir_tensor *t, bool parallel, int64_t work) {
  char var[16];
  for (int d = 0; d < t->rank; d++) {
    snprintf(var, sizeof var, "i%d", d);
    if (d == 0 && parallel)
      emit_parallel_for(e, var, t->dims[0], ir_numel(t) / t->dims[0] * work);
    else
      emit_for(e, var, t->dims[d]);
  }
  return t->rank;
}

static void close_loops(emit_ctx *e, int loops) {
  for (int i = 0; i < loops; i++)
    emit_close(e);
}

/* out0[dst] = in<k>[src] for one element, or a memcpy of count elements. */
static void emit_copy_run(emit_ctx *e, const char *src, const char *dst, const char *so,
                          const char *to, int64_t count, size_t esize) {
  if (count == 1)
    emit_line(e, "%s[%s] = %s[%s];", dst, to, src, so);
  else
    emit_line(e, "memcpy(%s + %s, %s + %s, %zu);", dst, to, src, so, (size_t)count * esize);
}

/* "static const int32_t name[n] = {...};", int64_t when values need it. */
static void emit_int_table(emit_ctx *e, const char *name, const int64_t *v, int64_t n) {
  bool wide = false;
  for (int64_t i = 0; i < n; i++)
    wide |= v[i] > INT32_MAX || v[i] < INT32_MIN;
  emit_line(e, "static const %s %s[%lld] = {", wide ? "int64_t" : "int32_t", name, (long long)n);
  for (int64_t i = 0; i < n; i += 16) {
    char line[512];
    size_t len = 0;
    for (int64_t j = i; j < i + 16 && j < n; j++)
      len += (size_t)snprintf(line + len, sizeof line - len, "%s%lld,", len ? " " : "",
                              (long long)v[j]);
    emit_line(e, "    %s", line);
  }
  emit_line(e, "};");
}

static nn_status fold_plan(ir_graph *g, ir_node *n, copy_plan p) {
  ir_tensor *y = n->outputs[0];
  ir_make_weight(g, y);
  plan_run(p, y->data, n->inputs[0]->data, ir_dtype_size(y->dtype));
  return NN_OK;
}

/* ---- reductions of the scatter ops (and CumSum's running sum) ---- */

typedef enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN } reduction;

static nn_status reduction_of(ir_graph *g, const ir_node *n, reduction *r) {
  static const char *names[] = {"none", "add", "mul", "max", "min"};
  const char *s = ir_attr_string(n, "reduction", "none");
  int k = 0;
  while (k < 5 && strcmp(s, names[k]) != 0)
    k++;
  if (k == 5)
    return diag_node(g->path, n, "reduction '%s' is not one of none, add, mul, max, min", s);
  int need = k >= RED_MAX ? 18 : k > RED_NONE ? 16 : 0;
  if (n->opset < need)
    return diag_node(g->path, n, "reduction '%s' needs opset %d; the model has %d", s, need,
                     n->opset);
  *r = (reduction)k;
  return NN_OK;
}

/* The C statement dst (r)= src on dtype t. Integer add and mul wrap through
 * uint64_t since signed overflow is undefined in C; bools are 0/1, so add is
 * | and mul is &. */
static const char *combine_stmt(emit_ctx *e, ir_dtype t, reduction r, const char *dst,
                                const char *src) {
  mem_arena *m = e->g->mem;
  const char *T = ir_dtype_ctype(t);
  bool fl = is_float_type(t), b = t == IR_BOOL;
  switch (r) {
  case RED_ADD:
    return fl  ? mem_printf(m, "%s += %s;", dst, src)
           : b ? mem_printf(m, "%s |= %s;", dst, src)
               : mem_printf(m, "%s = (%s)((uint64_t)%s + (uint64_t)%s);", dst, T, dst, src);
  case RED_MUL:
    return fl  ? mem_printf(m, "%s *= %s;", dst, src)
           : b ? mem_printf(m, "%s &= %s;", dst, src)
               : mem_printf(m, "%s = (%s)((uint64_t)%s * (uint64_t)%s);", dst, T, dst, src);
  case RED_MAX:
    return mem_printf(m, "if (%s > %s) %s = %s;", src, dst, dst, src);
  case RED_MIN:
    return mem_printf(m, "if (%s < %s) %s = %s;", src, dst, dst, src);
  case RED_NONE:
    break;
  }
  return mem_printf(m, "%s = %s;", dst, src);
}

/* y[i] = y[i] (r) u[j] at compile time, as the generated code computes it. */
static void fold_combine(ir_tensor *y, int64_t i, const ir_tensor *u, int64_t j, reduction r) {
  size_t es = ir_dtype_size(y->dtype);
  if (r == RED_NONE) {
    memcpy((char *)y->data + (size_t)i * es, (const char *)u->data + (size_t)j * es, es);
  } else if (is_float_type(y->dtype)) {
    double a = ir_weight_float(y, i), b = ir_weight_float(u, j);
    double c = r == RED_ADD   ? a + b
               : r == RED_MUL ? a * b
               : r == RED_MAX ? (b > a ? b : a)
                              : (b < a ? b : a);
    store_double(y->dtype, y->data, i, c);
  } else {
    int64_t a = ir_weight_int(y, i), b = ir_weight_int(u, j);
    bool uns = y->dtype == IR_UINT64;
    bool gt = uns ? (uint64_t)b > (uint64_t)a : b > a, lt = uns ? (uint64_t)b < (uint64_t)a : b < a;
    uint64_t c = r == RED_ADD   ? (uint64_t)a + (uint64_t)b
                 : r == RED_MUL ? (uint64_t)a * (uint64_t)b
                 : r == RED_MAX ? (uint64_t)(gt ? b : a)
                                : (uint64_t)(lt ? b : a);
    store_int(y->dtype, y->data, i, (int64_t)c, uns); /* bool stores c != 0: add is |, mul & */
  }
}

/* ---- Expand ---- */

static nn_status infer_expand(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  int64_t shape[IR_MAX_RANK], dims[IR_MAX_RANK];
  if (!ir_in(n, 1))
    return diag_node(g->path, n, "input 1 'shape' is missing");
  int k = const_input_ints(g, n, 1, "shape", shape, IR_MAX_RANK);
  if (k < 0)
    return NN_ERR;
  int r = k > x->rank ? k : x->rank;
  for (int d = 0; d < r; d++) { /* both align to the right, as in broadcasting */
    int64_t a = d >= r - x->rank ? x->dims[d - (r - x->rank)] : 1;
    int64_t b = d >= r - k ? shape[d - (r - k)] : 1;
    if (b < 0 || (a != b && a != 1 && b != 1))
      return diag_node(g->path, n, "dimension %d of size %lld cannot expand to %lld", d,
                       (long long)a, (long long)b);
    dims[d] = a == 1 ? b : a;
  }
  ir_set_shape(n->outputs[0], x->dtype, r, dims);
  return NN_OK;
}

static copy_plan expand_plan(const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *y = n->outputs[0];
  copy_plan p = plan_dense_dst(y);
  int64_t xs[IR_MAX_RANK];
  emit_strides(x, xs);
  int off = y->rank - x->rank;
  for (int d = 0; d < y->rank; d++)
    p.src_stride[d] = d < off || x->dims[d - off] == 1 ? 0 : xs[d - off];
  return p;
}

static nn_status fold_expand(ir_graph *g, ir_node *n) { return fold_plan(g, n, expand_plan(n)); }

static void emit_expand(emit_ctx *e, const ir_node *n) {
  plan_emit(e, expand_plan(n), "out0", "in0", ir_dtype_size(n->outputs[0]->dtype));
}

/* ---- Tile ---- */

static nn_status infer_tile(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2))
    return NN_ERR;
  if (n->opset < 6)
    return diag_node(g->path, n, "Tile before opset 6 (tiles and axis inputs) is not supported");
  const ir_tensor *x = n->inputs[0];
  int64_t rep[IR_MAX_RANK], dims[IR_MAX_RANK];
  if (!ir_in(n, 1))
    return diag_node(g->path, n, "input 1 'repeats' is missing");
  int k = const_input_ints(g, n, 1, "repeats", rep, IR_MAX_RANK);
  if (k < 0)
    return NN_ERR;
  if (k != x->rank)
    return diag_node(g->path, n, "repeats has %d values for an input of rank %d", k, x->rank);
  for (int d = 0; d < k; d++) {
    if (rep[d] < 0)
      return diag_node(g->path, n, "repeat %lld on axis %d is negative", (long long)rep[d], d);
    dims[d] = x->dims[d] * rep[d];
  }
  ir_set_shape(n->outputs[0], x->dtype, x->rank, dims);
  return NN_OK;
}

/* The output viewed as [repeat0, dim0, repeat1, dim1, ...]; the repeat dims
 * read the input with stride 0. */
static copy_plan tile_plan(const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *y = n->outputs[0];
  copy_plan p = {.rank = 2 * x->rank};
  int64_t xs[IR_MAX_RANK], ys[IR_MAX_RANK];
  emit_strides(x, xs);
  emit_strides(y, ys);
  for (int d = 0; d < x->rank; d++) {
    p.dims[2 * d] = x->dims[d] ? y->dims[d] / x->dims[d] : 0;
    p.dims[2 * d + 1] = x->dims[d];
    p.dst_stride[2 * d] = x->dims[d] * ys[d];
    p.dst_stride[2 * d + 1] = ys[d];
    p.src_stride[2 * d + 1] = xs[d];
  }
  return p;
}

static nn_status fold_tile(ir_graph *g, ir_node *n) { return fold_plan(g, n, tile_plan(n)); }

static void emit_tile(emit_ctx *e, const ir_node *n) {
  plan_emit(e, tile_plan(n), "out0", "in0", ir_dtype_size(n->outputs[0]->dtype));
}

/* ---- DepthToSpace, SpaceToDepth ---- */

static bool is_depth_to_space(const ir_node *n) { return strcmp(n->op_type, "DepthToSpace") == 0; }

static bool crd_mode(const ir_node *n) {
  return is_depth_to_space(n) && n->opset >= 11 &&
         strcmp(ir_attr_string(n, "mode", "DCR"), "CRD") == 0;
}

static nn_status infer_depth_space(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  bool d2s = is_depth_to_space(n);
  int64_t b = ir_attr_int(n, "blocksize", 0);
  const char *mode = ir_attr_string(n, "mode", "DCR");
  if (x->rank != 4)
    return diag_node(g->path, n, "input must have rank 4 (NCHW), not %d", x->rank);
  if (!ir_attr_find(n, "blocksize") || b <= 0)
    return diag_node(g->path, n, "attribute 'blocksize' must be given and positive");
  if (d2s && strcmp(mode, "DCR") != 0 && strcmp(mode, "CRD") != 0)
    return diag_node(g->path, n, "mode '%s' is not DCR or CRD", mode);
  int64_t dims[4] = {x->dims[0], x->dims[1], x->dims[2], x->dims[3]};
  if (d2s ? dims[1] % (b * b) != 0 : (dims[2] % b != 0 || dims[3] % b != 0))
    return diag_node(g->path, n, "blocksize %lld does not divide the %s", (long long)b,
                     d2s ? "channels (by its square)" : "height and width");
  if (d2s) {
    dims[1] /= b * b;
    dims[2] *= b;
    dims[3] *= b;
  } else {
    dims[1] *= b * b;
    dims[2] /= b;
    dims[3] /= b;
  }
  ir_set_shape(n->outputs[0], x->dtype, 4, dims);
  return NN_OK;
}

/* One 6-d copy. DepthToSpace: the output viewed as [N, C/b², H, b, W, b]
 * reads the input viewed as [N, b, b, C/b², H, W] (DCR) or [N, C/b², b, b,
 * H, W] (CRD). SpaceToDepth: the output viewed as [N, b, b, C, H/b, W/b]
 * reads the input viewed as [N, C, H/b, b, W/b, b]. */
static copy_plan depth_space_plan(const ir_node *n) {
  const int64_t *x = n->inputs[0]->dims;
  int64_t b = ir_attr_int(n, "blocksize", 1), C = x[1], H = x[2], W = x[3], c = C / (b * b);
  int64_t chw = C * H * W, hw = H * W;
  const int64_t dcr_v[6] = {x[0], c, H, b, W, b}, dcr_s[6] = {chw, hw, W, b * c * hw, 1, c * hw};
  const int64_t crd_s[6] = {chw, b * b * hw, W, b * hw, 1, hw};
  const int64_t s2d_v[6] = {x[0], b, b, C, H / b, W / b}, s2d_s[6] = {chw, W, 1, hw, b * W, b};
  bool d2s = is_depth_to_space(n);
  const int64_t *v = d2s ? dcr_v : s2d_v, *s = !d2s ? s2d_s : crd_mode(n) ? crd_s : dcr_s;
  copy_plan p = {.rank = 6};
  int64_t stride = 1;
  for (int d = 5; d >= 0; d--) {
    p.dims[d] = v[d];
    p.dst_stride[d] = stride;
    p.src_stride[d] = s[d];
    stride *= v[d];
  }
  return p;
}

static nn_status fold_depth_space(ir_graph *g, ir_node *n) {
  return fold_plan(g, n, depth_space_plan(n));
}

static void emit_depth_space(emit_ctx *e, const ir_node *n) {
  plan_emit(e, depth_space_plan(n), "out0", "in0", ir_dtype_size(n->outputs[0]->dtype));
}

/* ---- CenterCropPad ---- */

static nn_status infer_center_crop_pad(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  int r = x->rank;
  const int64_t *axes;
  int na = ir_attr_ints(n, "axes", &axes);
  bool has_axes = ir_attr_find(n, "axes") != NULL;
  int64_t shape[IR_MAX_RANK], dims[IR_MAX_RANK];
  if (!ir_in(n, 1))
    return diag_node(g->path, n, "input 1 'shape' is missing");
  int ns = const_input_ints(g, n, 1, "shape", shape, IR_MAX_RANK);
  if (ns < 0)
    return NN_ERR;
  if (ns != (has_axes ? na : r))
    return diag_node(g->path, n, "shape has %d values for %d axes", ns, has_axes ? na : r);
  bool seen[IR_MAX_RANK] = {false};
  memcpy(dims, x->dims, sizeof dims);
  for (int i = 0; i < ns; i++) {
    int a;
    if (norm_axis(g, n, has_axes ? axes[i] : i, r, &a))
      return NN_ERR;
    if (seen[a])
      return diag_node(g->path, n, "axis %d is given twice", a);
    if (shape[i] < 0)
      return diag_node(g->path, n, "target size %lld is negative", (long long)shape[i]);
    seen[a] = true;
    dims[a] = shape[i];
  }
  ir_set_shape(n->outputs[0], x->dtype, r, dims);
  return NN_OK;
}

static bool center_pads(const ir_node *n) {
  for (int d = 0; d < n->inputs[0]->rank; d++)
    if (n->outputs[0]->dims[d] > n->inputs[0]->dims[d])
      return true;
  return false;
}

/* The centred part both share: a crop starts (in - out) / 2 into the input,
 * a pad (out - in) / 2 into the output (the odd element goes at the end). */
static copy_plan center_plan(const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *y = n->outputs[0];
  copy_plan p = {.rank = x->rank};
  emit_strides(x, p.src_stride);
  emit_strides(y, p.dst_stride);
  for (int d = 0; d < x->rank; d++) {
    int64_t in = x->dims[d], out = y->dims[d];
    p.dims[d] = min64(in, out);
    if (in > out)
      p.src_off += (in - out) / 2 * p.src_stride[d];
    else
      p.dst_off += (out - in) / 2 * p.dst_stride[d];
  }
  return p;
}

static nn_status fold_center_crop_pad(ir_graph *g, ir_node *n) {
  return fold_plan(g, n, center_plan(n)); /* the new weight starts zeroed */
}

static void emit_center_crop_pad(emit_ctx *e, const ir_node *n) {
  const ir_tensor *y = n->outputs[0];
  if (ir_numel(y) == 0)
    return;
  if (center_pads(n))
    emit_line(e, "memset(out0, 0, %zu);", ir_bytes(y));
  plan_emit(e, center_plan(n), "out0", "in0", ir_dtype_size(y->dtype));
}

/* ---- Compress ---- */

/* The input viewed as [outer, N, inner] around the axis (flattened without one). */
static void compress_dims(const ir_node *n, int64_t *outer, int64_t *N, int64_t *inner) {
  const ir_tensor *x = n->inputs[0];
  *outer = *inner = 1;
  *N = ir_numel(x);
  if (!ir_attr_find(n, "axis"))
    return;
  int64_t a = ir_attr_int(n, "axis", 0);
  int axis = (int)(a < 0 ? a + x->rank : a);
  *outer = dims_prod(x->dims, 0, axis);
  *N = x->dims[axis];
  *inner = dims_prod(x->dims, axis + 1, x->rank);
}

static nn_status infer_compress(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0], *c = n->inputs[1];
  int axis = 0;
  if (!c)
    return diag_node(g->path, n, "input 1 'condition' is missing");
  if (require_constant(g, n, 1, "condition"))
    return NN_ERR;
  if (c->rank != 1)
    return diag_node(g->path, n, "condition must be 1-D, not of rank %d", c->rank);
  bool has_axis = ir_attr_find(n, "axis") != NULL;
  if (has_axis && norm_axis(g, n, ir_attr_int(n, "axis", 0), x->rank, &axis))
    return NN_ERR;
  int64_t outer, N, inner, count = 0;
  compress_dims(n, &outer, &N, &inner);
  for (int64_t i = 0; i < ir_numel(c); i++) {
    if (ir_weight_int(c, i) == 0)
      continue;
    if (i >= N)
      return diag_node(g->path, n, "condition selects index %lld of an axis of %lld", (long long)i,
                       (long long)N);
    count++;
  }
  int64_t dims[IR_MAX_RANK];
  memcpy(dims, x->dims, sizeof dims);
  dims[has_axis ? axis : 0] = count;
  ir_set_shape(n->outputs[0], x->dtype, has_axis ? x->rank : 1, dims);
  return NN_OK;
}

/* The selected indices, in order, into the graph's arena; returns how many. */
static int64_t compress_selected(ir_graph *g, const ir_node *n, int64_t **sel) {
  const ir_tensor *c = n->inputs[1];
  int64_t m = 0;
  *sel = mem_alloc(g->mem, sizeof **sel * (size_t)(ir_numel(c) + 1));
  for (int64_t i = 0; i < ir_numel(c); i++)
    if (ir_weight_int(c, i) != 0)
      (*sel)[m++] = i;
  return m;
}

static nn_status fold_compress(ir_graph *g, ir_node *n) {
  ir_tensor *y = n->outputs[0];
  int64_t outer, N, inner, *sel, m = compress_selected(g, n, &sel);
  compress_dims(n, &outer, &N, &inner);
  size_t row = (size_t)inner * ir_dtype_size(y->dtype);
  char *dst = ir_make_weight(g, y);
  const char *src = n->inputs[0]->data;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < m; j++)
      memcpy(dst + (size_t)(o * m + j) * row, src + (size_t)(o * N + sel[j]) * row, row);
  return NN_OK;
}

static void emit_compress(emit_ctx *e, const ir_node *n) {
  int64_t outer, N, inner, *sel, m = compress_selected(e->g, n, &sel);
  compress_dims(n, &outer, &N, &inner);
  if (outer * m * inner == 0)
    return;
  emit_int_table(e, "sel", sel, m);
  emit_parallel_for(e, "o", outer, m * inner);
  emit_for(e, "j", m);
  emit_copy_run(e, "in0", "out0",
                mem_printf(e->g->mem, "(o * %lld + sel[j]) * %lld", (long long)N, (long long)inner),
                mem_printf(e->g->mem, "(o * %lld + j) * %lld", (long long)m, (long long)inner),
                inner, ir_dtype_size(n->outputs[0]->dtype));
  emit_close(e);
  emit_close(e);
}

/* ---- ReverseSequence ---- */

static nn_status infer_reverse_sequence(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0], *len = n->inputs[1];
  int64_t ba = ir_attr_int(n, "batch_axis", 1), ta = ir_attr_int(n, "time_axis", 0);
  if (!len)
    return diag_node(g->path, n, "input 1 'sequence_lens' is missing");
  if (x->rank < 2)
    return diag_node(g->path, n, "input must have rank 2 or more, not %d", x->rank);
  if (ba < 0 || ba > 1 || ta < 0 || ta > 1 || ba == ta)
    return diag_node(g->path, n, "batch_axis and time_axis must be 0 and 1 in some order");
  if (len->dtype != IR_INT64 && len->dtype != IR_INT32)
    return diag_node(g->path, n, "sequence_lens must be int32 or int64");
  int64_t B = x->dims[ba], T = x->dims[ta];
  if (len->rank != 1 || len->dims[0] != B)
    return diag_node(g->path, n, "sequence_lens must hold %lld values, one per batch",
                     (long long)B);
  for (int64_t i = 0; len->kind == IR_WEIGHT && i < B; i++)
    if (ir_weight_int(len, i) < 0 || ir_weight_int(len, i) > T)
      return diag_node(g->path, n, "sequence length %lld is outside [0, %lld]",
                       (long long)ir_weight_int(len, i), (long long)T);
  return infer_same_as_input(g, n);
}

/* Strides of the batch and time axes, and the elements after both. */
static void reverse_geom(const ir_node *n, int64_t *bs, int64_t *ts, int64_t *inner) {
  const ir_tensor *x = n->inputs[0];
  int64_t xs[IR_MAX_RANK];
  emit_strides(x, xs);
  int ba = (int)ir_attr_int(n, "batch_axis", 1);
  *bs = xs[ba];
  *ts = xs[1 - ba];
  *inner = dims_prod(x->dims, 2, x->rank);
}

static nn_status fold_reverse_sequence(ir_graph *g, ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  int ba = (int)ir_attr_int(n, "batch_axis", 1);
  int64_t B = x->dims[ba], T = x->dims[1 - ba], bs, ts, inner;
  reverse_geom(n, &bs, &ts, &inner);
  size_t es = ir_dtype_size(x->dtype);
  char *dst = ir_make_weight(g, n->outputs[0]);
  for (int64_t b = 0; b < B; b++) {
    int64_t len = ir_weight_int(n->inputs[1], b);
    for (int64_t t = 0; t < T; t++) {
      int64_t s = t < len ? len - 1 - t : t;
      memcpy(dst + (size_t)(b * bs + t * ts) * es,
             (const char *)x->data + (size_t)(b * bs + s * ts) * es, (size_t)inner * es);
    }
  }
  return NN_OK;
}

static void emit_reverse_sequence(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  int ba = (int)ir_attr_int(n, "batch_axis", 1);
  int64_t B = x->dims[ba], T = x->dims[1 - ba], bs, ts, inner;
  reverse_geom(n, &bs, &ts, &inner);
  if (ir_numel(x) == 0)
    return;
  emit_parallel_for(e, "b", B, T * inner);
  emit_line(e, "int64_t len = (int64_t)in1[b];");
  emit_line(e, "len = len < 0 ? 0 : len > %lld ? %lld : len; /* keeps reads in bounds */",
            (long long)T, (long long)T);
  emit_for(e, "t", T);
  emit_line(e, "const int64_t s = t < len ? len - 1 - t : t;");
  emit_copy_run(e, "in0", "out0",
                mem_printf(e->g->mem, "b * %lld + s * %lld", (long long)bs, (long long)ts),
                mem_printf(e->g->mem, "b * %lld + t * %lld", (long long)bs, (long long)ts), inner,
                ir_dtype_size(x->dtype));
  emit_close(e);
  emit_close(e);
}

/* ---- GatherElements, ScatterElements (and Scatter, its old name) ---- */

/* Checks indices (input 1) against data (input 0): same rank, no larger
 * off the axis; sets the axis. */
static nn_status check_elements(ir_graph *g, const ir_node *n, int *axis) {
  const ir_tensor *x = n->inputs[0], *idx = n->inputs[1];
  if (check_indices(g, n, 1))
    return NN_ERR;
  if (x->rank < 1 || idx->rank != x->rank)
    return diag_node(g->path, n, "data and indices must have the same rank (%d and %d), at least 1",
                     x->rank, idx->rank);
  if (norm_axis(g, n, ir_attr_int(n, "axis", 0), x->rank, axis))
    return NN_ERR;
  for (int d = 0; d < x->rank; d++)
    if (d != *axis && idx->dims[d] > x->dims[d])
      return diag_node(g->path, n, "indices dimension %d (%lld) exceeds the data's (%lld)", d,
                       (long long)idx->dims[d], (long long)x->dims[d]);
  if (x->dims[*axis] == 0 && ir_numel(idx) > 0)
    return diag_node(g->path, n, "cannot index the empty axis %d", *axis);
  return check_const_indices(g, n, idx, &x->dims[*axis], 1);
}

static int elements_axis(const ir_node *n) {
  int64_t a = ir_attr_int(n, "axis", 0);
  return (int)(a < 0 ? a + n->inputs[0]->rank : a);
}

/* Offset into data of indices element i (multi-index at) holding k. */
static int64_t elements_offset(const ir_node *n, const int64_t *at, int64_t k) {
  const ir_tensor *x = n->inputs[0];
  int axis = elements_axis(n);
  int64_t xs[IR_MAX_RANK], off = 0;
  emit_strides(x, xs);
  for (int d = 0; d < x->rank; d++)
    off += (d == axis ? k : at[d]) * xs[d];
  return off;
}

static nn_status infer_gather_elements(ir_graph *g, ir_node *n) {
  int axis;
  if (check_arity(g, n, 2, 2) || check_elements(g, n, &axis))
    return NN_ERR;
  ir_set_shape(n->outputs[0], n->inputs[0]->dtype, n->inputs[1]->rank, n->inputs[1]->dims);
  return NN_OK;
}

static nn_status fold_gather_elements(ir_graph *g, ir_node *n) {
  const ir_tensor *x = n->inputs[0], *idx = n->inputs[1];
  ir_tensor *y = n->outputs[0];
  size_t es = ir_dtype_size(x->dtype);
  char *dst = ir_make_weight(g, y);
  int64_t at[IR_MAX_RANK] = {0}, N = x->dims[elements_axis(n)];
  for (int64_t i = 0; i < ir_numel(idx); i++, next_index(at, idx->dims, idx->rank))
    memcpy(dst + (size_t)i * es,
           (const char *)x->data + (size_t)elements_offset(n, at, const_index(idx, i, N)) * es, es);
  return NN_OK;
}

/* The loops over the indices, with k read from them (the caller closes);
 * the data offset is returned, the indices offset set in *iexpr. */
static const char *emit_elements_loops(emit_ctx *e, const ir_node *n, bool write, int *loops,
                                       const char **iexpr) {
  const ir_tensor *x = n->inputs[0], *idx = n->inputs[1];
  int axis = elements_axis(n);
  int64_t xs[IR_MAX_RANK], is[IR_MAX_RANK];
  emit_strides(x, xs);
  emit_strides(idx, is);
  int64_t astride = xs[axis];
  xs[axis] = 0;
  *loops = open_loops(e, idx, !write, 2);
  *iexpr = plan_offset_expr(e, 0, is, idx->rank);
  const char *at = mem_printf(e->g->mem, "in1[%s]", *iexpr);
  if (write)
    emit_write_index(e, "k", at, x->dims[axis]);
  else
    emit_read_index(e, "k", at, x->dims[axis]);
  return mem_printf(e->g->mem, "%s + k * %lld", plan_offset_expr(e, 0, xs, x->rank),
                    (long long)astride);
}

static void emit_gather_elements(emit_ctx *e, const ir_node *n) {
  if (ir_numel(n->outputs[0]) == 0)
    return;
  int loops;
  const char *iexpr, *xexpr = emit_elements_loops(e, n, false, &loops, &iexpr);
  emit_line(e, "out0[%s] = in0[%s];", iexpr, xexpr);
  close_loops(e, loops);
}

static nn_status infer_scatter_elements(ir_graph *g, ir_node *n) {
  int axis;
  reduction r;
  if (check_arity(g, n, 3, 3) || check_elements(g, n, &axis) || reduction_of(g, n, &r))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0], *idx = n->inputs[1], *u = n->inputs[2];
  if (!u || u->dtype != x->dtype || u->rank != idx->rank ||
      memcmp(u->dims, idx->dims, sizeof *u->dims * (size_t)u->rank) != 0)
    return diag_node(g->path, n, "updates must have the indices' shape and the data's dtype");
  return infer_same_as_input(g, n);
}

static nn_status fold_scatter_elements(ir_graph *g, ir_node *n) {
  const ir_tensor *x = n->inputs[0], *idx = n->inputs[1];
  ir_tensor *y = n->outputs[0];
  reduction r;
  if (reduction_of(g, n, &r))
    return NN_ERR;
  ir_make_weight(g, y);
  if (ir_bytes(y))
    memcpy(y->data, x->data, ir_bytes(y));
  int64_t at[IR_MAX_RANK] = {0}, N = x->dims[elements_axis(n)];
  for (int64_t i = 0; i < ir_numel(idx); i++, next_index(at, idx->dims, idx->rank))
    fold_combine(y, elements_offset(n, at, const_index(idx, i, N)), n->inputs[2], i, r);
  return NN_OK;
}

/* Serial: with duplicate indices the order of writes matters. */
static void emit_scatter_elements(emit_ctx *e, const ir_node *n) {
  const ir_tensor *y = n->outputs[0];
  reduction r;
  if (reduction_of(e->g, n, &r))
    NN_BUG("reduction changed after inference");
  if (ir_bytes(y))
    emit_line(e, "memcpy(out0, in0, %zu);", ir_bytes(y));
  if (ir_numel(n->inputs[1]) == 0)
    return;
  int loops;
  const char *iexpr, *xexpr = emit_elements_loops(e, n, true, &loops, &iexpr);
  emit_line(e, "%s",
            combine_stmt(e, y->dtype, r, mem_printf(e->g->mem, "out0[%s]", xexpr),
                         mem_printf(e->g->mem, "in2[%s]", iexpr)));
  close_loops(e, loops);
}

/* ---- GatherND, ScatterND ---- */

/* data [batch..., rest] and indices [batch..., groups..., m]: each index
 * tuple of m values picks a slice of data[batch][k0]...[k(m-1)]. */
typedef struct nd_geom {
  int b, m;
  int64_t batches, groups, slice, data_batch; /* groups: tuples per batch */
  int64_t strides[IR_MAX_RANK];               /* of the data */
} nd_geom;

static nd_geom nd_geom_of(const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *idx = n->inputs[1];
  nd_geom o = {.b = (int)ir_attr_int(n, "batch_dims", 0), .m = (int)idx->dims[idx->rank - 1]};
  o.batches = dims_prod(x->dims, 0, o.b);
  o.groups = dims_prod(idx->dims, o.b, idx->rank - 1);
  o.slice = dims_prod(x->dims, o.b + o.m, x->rank);
  o.data_batch = dims_prod(x->dims, o.b, x->rank);
  emit_strides(x, o.strides);
  return o;
}

/* Checks shared by GatherND (b = batch_dims) and ScatterND (b = 0). */
static nn_status check_nd(ir_graph *g, const ir_node *n, int64_t b) {
  const ir_tensor *x = n->inputs[0], *idx = n->inputs[1];
  if (check_indices(g, n, 1))
    return NN_ERR;
  if (x->rank < 1 || idx->rank < 1)
    return diag_node(g->path, n, "data and indices must have rank 1 or more");
  if (b < 0 || b >= x->rank || b >= idx->rank)
    return diag_node(g->path, n, "batch_dims %lld must be below both ranks (%d, %d)", (long long)b,
                     x->rank, idx->rank);
  int64_t m = idx->dims[idx->rank - 1];
  if (m < 1 || m > x->rank - b)
    return diag_node(g->path, n,
                     "index tuples of %lld values for data of rank %d (batch_dims %lld)",
                     (long long)m, x->rank, (long long)b);
  for (int d = 0; d < b; d++)
    if (x->dims[d] != idx->dims[d])
      return diag_node(g->path, n, "batch dimension %d differs: %lld in data, %lld in indices", d,
                       (long long)x->dims[d], (long long)idx->dims[d]);
  for (int j = 0; j < m; j++)
    if (x->dims[b + j] == 0 && ir_numel(idx) > 0)
      return diag_node(g->path, n, "cannot index the empty axis %lld", (long long)(b + j));
  return check_const_indices(g, n, idx, &x->dims[b], (int)m);
}

/* Data offset of tuple t (counted over all batches) of weight indices. */
static int64_t nd_offset(const ir_node *n, const nd_geom *o, int64_t t) {
  const ir_tensor *x = n->inputs[0], *idx = n->inputs[1];
  int64_t off = t / o->groups * o->data_batch;
  for (int j = 0; j < o->m; j++)
    off += const_index(idx, t * o->m + j, x->dims[o->b + j]) * o->strides[o->b + j];
  return off;
}

/* Emits `off`, the data offset of tuple g; write: skips tuples out of range. */
static void emit_nd_offset(emit_ctx *e, const ir_node *n, const nd_geom *o, bool write) {
  const int64_t *dims = n->inputs[0]->dims;
  char expr[1024];
  size_t len = 0;
  if (o->b > 0)
    len = (size_t)snprintf(expr, sizeof expr, "g / %lld * %lld", (long long)o->groups,
                           (long long)o->data_batch);
  for (int j = 0; j < o->m; j++) {
    const char *var = mem_printf(e->g->mem, "k%d", j);
    const char *at = mem_printf(e->g->mem, "in1[g * %d + %d]", o->m, j);
    if (write)
      emit_write_index(e, var, at, dims[o->b + j]);
    else
      emit_read_index(e, var, at, dims[o->b + j]);
    len += (size_t)snprintf(expr + len, sizeof expr - len, "%s%s * %lld", len ? " + " : "", var,
                            (long long)o->strides[o->b + j]);
  }
  emit_line(e, "const int64_t off = %s;", expr);
}

static nn_status infer_gather_nd(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2))
    return NN_ERR;
  int64_t b = n->opset >= 12 ? ir_attr_int(n, "batch_dims", 0) : 0;
  if (check_nd(g, n, b))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0], *idx = n->inputs[1];
  int m = (int)idx->dims[idx->rank - 1], rank = idx->rank - 1 + x->rank - (int)b - m;
  if (rank > IR_MAX_RANK)
    return diag_node(g->path, n, "the output would have rank %d; at most %d is supported", rank,
                     IR_MAX_RANK);
  int64_t dims[IR_MAX_RANK];
  int r = 0;
  for (int d = 0; d < idx->rank - 1; d++)
    dims[r++] = idx->dims[d];
  for (int d = (int)b + m; d < x->rank; d++)
    dims[r++] = x->dims[d];
  ir_set_shape(n->outputs[0], x->dtype, rank, dims);
  return NN_OK;
}

static nn_status fold_gather_nd(ir_graph *g, ir_node *n) {
  nd_geom o = nd_geom_of(n);
  size_t row = (size_t)o.slice * ir_dtype_size(n->inputs[0]->dtype);
  char *dst = ir_make_weight(g, n->outputs[0]);
  for (int64_t t = 0; t < o.batches * o.groups; t++)
    memcpy(dst + (size_t)t * row,
           (const char *)n->inputs[0]->data +
               (size_t)nd_offset(n, &o, t) * ir_dtype_size(n->inputs[0]->dtype),
           row);
  return NN_OK;
}

static void emit_gather_nd(emit_ctx *e, const ir_node *n) {
  nd_geom o = nd_geom_of(n);
  if (ir_numel(n->outputs[0]) == 0)
    return;
  emit_parallel_for(e, "g", o.batches * o.groups, o.slice + 2 * o.m);
  emit_nd_offset(e, n, &o, false);
  emit_copy_run(e, "in0", "out0", "off", mem_printf(e->g->mem, "g * %lld", (long long)o.slice),
                o.slice, ir_dtype_size(n->inputs[0]->dtype));
  emit_close(e);
}

static nn_status infer_scatter_nd(ir_graph *g, ir_node *n) {
  reduction r;
  if (check_arity(g, n, 3, 3) || check_nd(g, n, 0) || reduction_of(g, n, &r))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0], *idx = n->inputs[1], *u = n->inputs[2];
  int m = (int)idx->dims[idx->rank - 1];
  bool ok = u && u->dtype == x->dtype && u->rank == idx->rank - 1 + x->rank - m;
  for (int d = 0; ok && d < u->rank; d++)
    ok = u->dims[d] == (d < idx->rank - 1 ? idx->dims[d] : x->dims[d - (idx->rank - 1) + m]);
  if (!ok)
    return diag_node(g->path, n,
                     "updates must have shape indices[:-1] + data[%d:] and the "
                     "data's dtype",
                     m);
  return infer_same_as_input(g, n);
}

static nn_status fold_scatter_nd(ir_graph *g, ir_node *n) {
  nd_geom o = nd_geom_of(n);
  ir_tensor *y = n->outputs[0];
  reduction r;
  if (reduction_of(g, n, &r))
    return NN_ERR;
  ir_make_weight(g, y);
  if (ir_bytes(y))
    memcpy(y->data, n->inputs[0]->data, ir_bytes(y));
  for (int64_t t = 0; t < o.groups; t++) {
    int64_t off = nd_offset(n, &o, t);
    for (int64_t s = 0; s < o.slice; s++)
      fold_combine(y, off + s, n->inputs[2], t * o.slice + s, r);
  }
  return NN_OK;
}

/* Serial: with duplicate indices the order of writes matters. */
static void emit_scatter_nd(emit_ctx *e, const ir_node *n) {
  nd_geom o = nd_geom_of(n);
  const ir_tensor *y = n->outputs[0];
  reduction r;
  if (reduction_of(e->g, n, &r))
    NN_BUG("reduction changed after inference");
  if (ir_bytes(y))
    emit_line(e, "memcpy(out0, in0, %zu);", ir_bytes(y));
  if (o.groups * o.slice == 0)
    return;
  emit_for(e, "g", o.groups);
  emit_nd_offset(e, n, &o, true);
  const char *upd = mem_printf(e->g->mem, "g * %lld", (long long)o.slice);
  if (r == RED_NONE) {
    emit_copy_run(e, "in2", "out0", upd, "off", o.slice, ir_dtype_size(y->dtype));
  } else if (o.slice == 1) {
    emit_line(e, "%s", combine_stmt(e, y->dtype, r, "out0[off]", "in2[g]"));
  } else {
    emit_for(e, "s", o.slice);
    emit_line(
        e, "%s",
        combine_stmt(e, y->dtype, r, "out0[off + s]", mem_printf(e->g->mem, "in2[%s + s]", upd)));
    emit_close(e);
  }
  emit_close(e);
}

/* ---- OneHot ---- */

/* Depth: one constant value of any numeric type, cast to int64 as the spec
 * says; -1 after reporting. */
static int64_t onehot_depth(ir_graph *g, const ir_node *n, bool report) {
  const ir_tensor *t = n->inputs[1];
  if (require_constant(g, n, 1, "depth"))
    return -1;
  double v = ir_numel(t) == 1 ? ir_weight_float(t, 0) : 0;
  if (!(v >= 1 && v < 9e15)) {
    if (report)
      diag_node(g->path, n, "depth must be one positive value");
    return -1;
  }
  return (int64_t)v;
}

static int onehot_axis(const ir_node *n) {
  int r = n->inputs[0]->rank;
  int64_t a = ir_attr_int(n, "axis", -1);
  return (int)(a < 0 ? a + r + 1 : a);
}

static nn_status infer_onehot(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 3, 3))
    return NN_ERR;
  const ir_tensor *idx = n->inputs[0], *v = n->inputs[2];
  if (!n->inputs[1] || !v)
    return diag_node(g->path, n, "inputs 'depth' and 'values' are required");
  int64_t depth = onehot_depth(g, n, true);
  int axis;
  if (depth < 0)
    return NN_ERR;
  if (ir_numel(v) != 2)
    return diag_node(g->path, n, "values must hold two elements [off, on], not %lld",
                     (long long)ir_numel(v));
  if (norm_axis(g, n, ir_attr_int(n, "axis", -1), idx->rank + 1, &axis))
    return NN_ERR;
  if (idx->rank + 1 > IR_MAX_RANK)
    return diag_node(g->path, n, "the output would have rank %d; at most %d is supported",
                     idx->rank + 1, IR_MAX_RANK);
  int64_t dims[IR_MAX_RANK];
  for (int d = 0, k = 0; d <= idx->rank; d++)
    dims[d] = d == axis ? depth : idx->dims[k++];
  ir_set_shape(n->outputs[0], v->dtype, idx->rank + 1, dims);
  return NN_OK;
}

/* Index i of the indices, wrapped into [0, depth); -1 when outside
 * [-depth, depth), which leaves the row all off as the spec says. */
static int64_t onehot_index(const ir_tensor *idx, int64_t i, int64_t depth) {
  int64_t k;
  if (is_float_type(idx->dtype)) {
    double v = ir_weight_float(idx, i);
    if (!(v > (double)(-depth - 1) && v < (double)depth))
      return -1;
    k = (int64_t)v; /* non-integers truncate, as a cast to int64 does */
  } else if (idx->dtype == IR_UINT64 && (uint64_t)ir_weight_int(idx, i) >= (uint64_t)depth) {
    return -1;
  } else {
    k = ir_weight_int(idx, i);
  }
  k = k < 0 ? k + depth : k;
  return k >= 0 && k < depth ? k : -1;
}

static nn_status fold_onehot(ir_graph *g, ir_node *n) {
  const ir_tensor *idx = n->inputs[0], *v = n->inputs[2];
  ir_tensor *y = n->outputs[0];
  int64_t depth = onehot_depth(g, n, false), axis = onehot_axis(n);
  int64_t inner = dims_prod(idx->dims, (int)axis, idx->rank);
  size_t es = ir_dtype_size(y->dtype);
  char *dst = ir_make_weight(g, y);
  for (int64_t i = 0; i < ir_numel(y); i++)
    memcpy(dst + (size_t)i * es, v->data, es);
  for (int64_t i = 0; i < ir_numel(idx); i++) {
    int64_t k = onehot_index(idx, i, depth), o = i / inner, j = i % inner;
    if (k >= 0)
      memcpy(dst + (size_t)((o * depth + k) * inner + j) * es, (const char *)v->data + es, es);
  }
  return NN_OK;
}

/* Emits `k`, index i of in0 wrapped into [0, depth), or `continue` when
 * outside [-depth, depth): that row stays all off, as the spec says. */
static void emit_onehot_index(emit_ctx *e, ir_dtype t, int64_t depth) {
  if (is_float_type(t)) {
    emit_line(e, "const double v = (double)in0[i];");
    emit_line(e, "if (!(v > %lld.0 && v < %lld.0))", (long long)(-depth - 1), (long long)depth);
    emit_line(e, "  continue;");
    emit_line(e, "int64_t k = (int64_t)v;");
  } else if (t == IR_UINT64) {
    emit_line(e, "if (in0[i] >= %lldu)", (long long)depth);
    emit_line(e, "  continue;");
    emit_line(e, "int64_t k = (int64_t)in0[i];");
  } else {
    emit_line(e, "int64_t k = (int64_t)in0[i];");
  }
  emit_line(e, "if (k < 0)");
  emit_line(e, "  k += %lld;", (long long)depth);
  emit_line(e, "if (k < 0 || k >= %lld)", (long long)depth);
  emit_line(e, "  continue;");
}

static void emit_onehot(emit_ctx *e, const ir_node *n) {
  const ir_tensor *idx = n->inputs[0], *y = n->outputs[0];
  int64_t depth = onehot_depth(e->g, n, false);
  int64_t inner = dims_prod(idx->dims, onehot_axis(n), idx->rank);
  if (ir_numel(y) == 0)
    return;
  emit_parallel_for(e, "i", ir_numel(y), 1);
  emit_line(e, "out0[i] = in2[0];");
  emit_close(e);
  emit_for(e, "i", ir_numel(idx));
  emit_onehot_index(e, idx->dtype, depth);
  emit_line(e, "out0[(i / %lld * %lld + k) * %lld + i %% %lld] = in2[1];", (long long)inner,
            (long long)depth, (long long)inner, (long long)inner);
  emit_close(e);
}

/* ---- Trilu ---- */

static nn_status infer_trilu(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 2))
    return NN_ERR;
  int64_t k;
  if (n->inputs[0]->rank < 2)
    return diag_node(g->path, n, "input must have rank 2 or more, not %d", n->inputs[0]->rank);
  if (const_input_ints(g, n, 1, "k", &k, 1) < 0)
    return NN_ERR;
  return infer_same_as_input(g, n);
}

/* k, clamped to [-rows, cols]: beyond that nothing changes, and the
 * literals stay small. */
static int64_t trilu_k(ir_graph *g, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  int64_t k = 0;
  if (const_input_ints(g, n, 1, "k", &k, 1) < 0)
    NN_BUG("trilu k changed after inference");
  return max64(-x->dims[x->rank - 2], min64(k, x->dims[x->rank - 1]));
}

static bool trilu_keeps(const ir_node *n, int64_t i, int64_t j, int64_t k) {
  return ir_attr_int(n, "upper", 1) ? j - i >= k : j - i <= k;
}

static nn_status fold_trilu(ir_graph *g, ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1], k = trilu_k(g, n);
  size_t es = ir_dtype_size(x->dtype);
  char *dst = ir_make_weight(g, n->outputs[0]);
  for (int64_t e = 0; e < ir_numel(x); e++)
    if (trilu_keeps(n, e / cols % rows, e % cols, k))
      memcpy(dst + (size_t)e * es, (const char *)x->data + (size_t)e * es, es);
  return NN_OK;
}

static void emit_trilu(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1], k = trilu_k(e->g, n);
  if (ir_numel(x) == 0)
    return;
  emit_parallel_for(e, "o", ir_numel(x) / (rows * cols), rows * cols);
  emit_for(e, "i", rows);
  emit_for(e, "j", cols);
  emit_line(e, "const int64_t at = (o * %lld + i) * %lld + j;", (long long)rows, (long long)cols);
  emit_line(e, "out0[at] = j - i %s %lld ? in0[at] : %s;",
            ir_attr_int(n, "upper", 1) ? ">=" : "<=", (long long)k, emit_literal(e, x->dtype, 0));
  close_loops(e, 3);
}

/* ---- EyeLike ---- */

static ir_dtype eyelike_dtype(const ir_node *n) {
  return ir_attr_find(n, "dtype") ? (ir_dtype)ir_attr_int(n, "dtype", 0) : n->inputs[0]->dtype;
}

static nn_status infer_eyelike(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  int64_t t = ir_attr_int(n, "dtype", x->dtype);
  if (x->rank != 2)
    return diag_node(g->path, n, "input must be 2-D, not of rank %d", x->rank);
  if (t == 10 || t == 16) /* 16-bit floats only get computed through float32 casts */
    return diag_node(g->path, n, "dtype %s is not supported", t == 10 ? "float16" : "bfloat16");
  if (t <= 0 || t > 64 || !ir_dtype_known((int)t))
    return diag_node(g->path, n, "dtype %lld is not supported", (long long)t);
  ir_set_shape(n->outputs[0], eyelike_dtype(n), 2, x->dims);
  return NN_OK;
}

/* The diagonal: count elements from first, each cols + 1 apart. */
static int64_t eyelike_diag(const ir_node *n, int64_t *first) {
  int64_t rows = n->inputs[0]->dims[0], cols = n->inputs[0]->dims[1];
  int64_t k = max64(-rows, min64(ir_attr_int(n, "k", 0), cols));
  int64_t i0 = max64(0, -k), i1 = min64(rows, cols - k);
  *first = i0 * cols + i0 + k;
  return max64(0, i1 - i0);
}

static nn_status fold_eyelike(ir_graph *g, ir_node *n) {
  ir_tensor *y = n->outputs[0];
  int64_t first, count = eyelike_diag(n, &first);
  ir_make_weight(g, y);
  for (int64_t i = 0; i < count; i++)
    store_int(y->dtype, y->data, first + i * (y->dims[1] + 1), 1, false);
  return NN_OK;
}

static void emit_eyelike(emit_ctx *e, const ir_node *n) {
  const ir_tensor *y = n->outputs[0];
  int64_t first, count = eyelike_diag(n, &first);
  if (ir_numel(y) == 0)
    return;
  emit_line(e, "memset(out0, 0, %zu);", ir_bytes(y));
  if (count == 0)
    return;
  emit_for(e, "i", count);
  emit_line(e, "out0[%lld + i * %lld] = %s;", (long long)first, (long long)(y->dims[1] + 1),
            emit_literal(e, y->dtype, 1));
  emit_close(e);
}

/* ---- Range ---- */

/* Element count of Range(start, limit, delta); -1 after reporting. */
static int64_t range_length(ir_graph *g, const ir_node *n, bool report) {
  const ir_tensor *s = n->inputs[0], *l = n->inputs[1], *d = n->inputs[2];
  double count;
  if (is_float_type(s->dtype)) {
    double a = ir_weight_float(s, 0), b = ir_weight_float(l, 0), c = ir_weight_float(d, 0);
    count = c != 0 ? ceil((b - a) / c) : NAN;
  } else { /* exact in uint64: |limit - start| and |delta| are below 2^64 */
    int64_t a = ir_weight_int(s, 0), b = ir_weight_int(l, 0), c = ir_weight_int(d, 0);
    uint64_t span = c > 0 ? (uint64_t)b - (uint64_t)a : (uint64_t)a - (uint64_t)b;
    uint64_t step = c > 0 ? (uint64_t)c : 0 - (uint64_t)c;
    count = c == 0 ? NAN : (c > 0 ? b <= a : b >= a) ? 0 : (double)((span - 1) / step + 1);
  }
  if (report && count != count)
    diag_node(g->path, n, "delta is zero (or a value is NaN)");
  else if (report && !(count < 1e12))
    diag_node(g->path, n, "the range would hold %.0f elements", count);
  if (!(count < 1e12))
    return -1;
  return count > 0 ? (int64_t)count : 0;
}

static nn_status infer_range(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 3, 3))
    return NN_ERR;
  static const char *what[] = {"start", "limit", "delta"};
  ir_dtype t = n->inputs[0]->dtype;
  for (int k = 0; k < 3; k++) {
    const ir_tensor *v = n->inputs[k];
    if (!v)
      return diag_node(g->path, n, "input %d '%s' is missing", k, what[k]);
    if (require_constant(g, n, k, what[k]))
      return NN_ERR;
    if (ir_numel(v) != 1 || v->dtype != t)
      return diag_node(g->path, n, "input %d '%s' must be one %s value", k, what[k],
                       ir_dtype_name(t));
  }
  if (!is_float_type(t) && t != IR_INT16 && t != IR_INT32 && t != IR_INT64)
    return diag_node(g->path, n, "dtype %s is not one of float32, float64, int16, int32, int64",
                     ir_dtype_name(t));
  int64_t len = range_length(g, n, true);
  if (len < 0)
    return NN_ERR;
  ir_set_shape(n->outputs[0], t, 1, &len);
  return NN_OK;
}

/* start + i * delta: in double for float types, wrapping uint64 for integers
 * (the values stay within [start, limit), so nothing really wraps). */
static nn_status fold_range(ir_graph *g, ir_node *n) {
  const ir_tensor *s = n->inputs[0], *d = n->inputs[2];
  ir_tensor *y = n->outputs[0];
  ir_make_weight(g, y);
  for (int64_t i = 0; i < ir_numel(y); i++) {
    if (is_float_type(y->dtype))
      store_double(y->dtype, y->data, i, ir_weight_float(s, 0) + (double)i * ir_weight_float(d, 0));
    else
      store_int(
          y->dtype, y->data, i,
          (int64_t)((uint64_t)ir_weight_int(s, 0) + (uint64_t)i * (uint64_t)ir_weight_int(d, 0)),
          false);
  }
  return NN_OK;
}

static void emit_range(emit_ctx *e, const ir_node *n) {
  const ir_tensor *s = n->inputs[0], *d = n->inputs[2], *y = n->outputs[0];
  const char *T = ir_dtype_ctype(y->dtype);
  if (ir_numel(y) == 0)
    return;
  emit_parallel_for(e, "i", ir_numel(y), 1);
  if (is_float_type(y->dtype))
    emit_line(e, "out0[i] = (%s)(%s + (double)i * %s);", T,
              emit_literal(e, IR_DOUBLE, ir_weight_float(s, 0)),
              emit_literal(e, IR_DOUBLE, ir_weight_float(d, 0)));
  else
    emit_line(e, "out0[i] = (%s)(UINT64_C(%llu) + (uint64_t)i * UINT64_C(%llu));", T,
              (unsigned long long)ir_weight_int(s, 0), (unsigned long long)ir_weight_int(d, 0));
  emit_close(e);
}

/* ---- CumSum ---- */

static int cumsum_axis(const ir_node *n) {
  int r = n->inputs[0]->rank;
  int64_t a = ir_weight_int(n->inputs[1], 0);
  return (int)(a < 0 ? a + r : a);
}

static nn_status infer_cumsum(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  int64_t a;
  int axis;
  if (!ir_in(n, 1))
    return diag_node(g->path, n, "input 1 'axis' is missing");
  int k = const_input_ints(g, n, 1, "axis", &a, 1);
  if (k < 0)
    return NN_ERR;
  if (k != 1)
    return diag_node(g->path, n, "axis must hold one value");
  if (x->rank < 1 || x->dtype == IR_BOOL)
    return diag_node(g->path, n, "input must be a numeric tensor of rank 1 or more");
  if (norm_axis(g, n, a, x->rank, &axis))
    return NN_ERR;
  return infer_same_as_input(g, n);
}

/* Element offsets along the scan: position j of the scan is cur(j), fed by
 * prev = cur(j - 1); reverse scans from the end. */
static int64_t cumsum_pos(const ir_node *n, int64_t N, int64_t j) {
  return ir_attr_int(n, "reverse", 0) ? N - 1 - j : j;
}

static nn_status fold_cumsum(ir_graph *g, ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  ir_tensor *y = n->outputs[0];
  int axis = cumsum_axis(n);
  int64_t N = x->dims[axis], inner = dims_prod(x->dims, axis + 1, x->rank);
  int64_t outer = dims_prod(x->dims, 0, axis);
  bool excl = ir_attr_int(n, "exclusive", 0) != 0;
  ir_make_weight(g, y); /* zeroed: an exclusive scan starts from 0 */
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++)
      for (int64_t j = 0; j < N; j++) {
        int64_t c = (o * N + cumsum_pos(n, N, j)) * inner + i;
        int64_t p = j ? (o * N + cumsum_pos(n, N, j - 1)) * inner + i : -1;
        if (j == 0 && !excl)
          fold_combine(y, c, x, c, RED_NONE);
        if (j > 0) {
          fold_combine(y, c, x, excl ? p : c, RED_NONE);
          fold_combine(y, c, y, p, RED_ADD);
        }
      }
  return NN_OK;
}

static void emit_cumsum(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  int axis = cumsum_axis(n);
  int64_t N = x->dims[axis], inner = dims_prod(x->dims, axis + 1, x->rank);
  bool excl = ir_attr_int(n, "exclusive", 0) != 0, rev = ir_attr_int(n, "reverse", 0) != 0;
  if (ir_numel(x) == 0)
    return;
  emit_parallel_for(e, "o", ir_numel(x) / (N * inner), N * inner);
  emit_line(e, "const int64_t base = o * %lld;", (long long)(N * inner));
  emit_for(e, "i", inner);
  emit_line(
      e, "out0[base + %lld + i] = %s;", (long long)(rev ? (N - 1) * inner : 0),
      excl ? emit_literal(e, x->dtype, 0)
           : mem_printf(e->g->mem, "in0[base + %lld + i]", (long long)(rev ? (N - 1) * inner : 0)));
  emit_close(e);
  emit_open(e, "for (int64_t j = 1; j < %lld; j++)", (long long)N);
  if (rev)
    emit_line(e, "const int64_t c = base + (%lld - j) * %lld, p = c + %lld;", (long long)(N - 1),
              (long long)inner, (long long)inner);
  else
    emit_line(e, "const int64_t c = base + j * %lld, p = c - %lld;", (long long)inner,
              (long long)inner);
  emit_simd(e);
  emit_for(e, "i", inner);
  const char *T = ir_dtype_ctype(x->dtype), *add = excl ? "in0[p + i]" : "in0[c + i]";
  if (is_float_type(x->dtype))
    emit_line(e, "out0[c + i] = out0[p + i] + %s;", add);
  else /* wraps through uint64_t: signed overflow is undefined in C */
    emit_line(e, "out0[c + i] = (%s)((uint64_t)out0[p + i] + (uint64_t)%s);", T, add);
  close_loops(e, 3);
}

/* ---- gradient rules ---- */

/* Expand broadcasts: the gradient is summed back to the input's shape. */
static nn_status grad_expand(ad_ctx *ad, const ir_node *n) {
  ad_give_grad(ad, n, 0, ad_reduce_to(ad, ad_out_grad(ad, n, 0), n->inputs[0]));
  return NN_OK;
}

/* Tile repeats the input r_d times along each axis d: the gradient, viewed
 * as [r_0, d_0, r_1, d_1, ...], summed over the repeat axes. */
static nn_status grad_tile(ad_ctx *ad, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  if (2 * x->rank > IR_MAX_RANK)
    return diag_node(ad_graph(ad)->path, n, "training through Tile supports rank %d at most",
                     IR_MAX_RANK / 2);
  ir_tensor view = {.rank = 2 * x->rank};
  int64_t axes[IR_MAX_RANK];
  for (int d = 0; d < x->rank; d++) {
    view.dims[2 * d] = x->dims[d] ? n->outputs[0]->dims[d] / x->dims[d] : 0;
    view.dims[2 * d + 1] = x->dims[d];
    axes[d] = 2 * d;
  }
  ir_tensor *in[2] = {ad_reshape_to(ad, ad_out_grad(ad, n, 0), &view), ad_ints(ad, x->rank, axes)};
  ir_node *b = ad_begin(ad, "", "ReduceSum", 2, in, 1);
  ad_attr_int(ad, b, "keepdims", 0);
  ad_give_grad(ad, n, 0, ad_finish(ad, b));
  return NN_OK;
}

/* DepthToSpace views x [N, C, H, W] as [N, b, b, C/b^2, H, W] (DCR; CRD:
 * [N, C/b^2, b, b, H, W]) and transposes it to [N, C/b^2, H, b, W, b];
 * SpaceToDepth is DCR's inverse. The gradient runs the permutation
 * backwards on dy's view, then takes x's shape. */
static nn_status grad_depth_space(ad_ctx *ad, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  bool d2s = is_depth_to_space(n);
  const ir_tensor *deep = d2s ? x : n->outputs[0]; /* the side with b^2 times the channels */
  int64_t b = ir_attr_int(n, "blocksize", 1), N = x->dims[0];
  int64_t C = deep->dims[1] / (b * b), H = deep->dims[2], W = deep->dims[3];
  const ir_tensor depth = {.rank = 6, .dims = {N, b, b, C, H, W}};
  const ir_tensor space = {.rank = 6, .dims = {N, C, H, b, W, b}};
  static const int64_t dcr[6] = {0, 3, 4, 1, 5, 2}, dcr_back[6] = {0, 3, 5, 1, 2, 4};
  static const int64_t crd_back[6] = {0, 1, 3, 5, 2, 4}; /* undoes {0, 1, 4, 2, 5, 3} */
  const int64_t *perm = !d2s ? dcr : crd_mode(n) ? crd_back : dcr_back;
  ir_tensor *dy = ad_reshape_to(ad, ad_out_grad(ad, n, 0), d2s ? &space : &depth);
  ir_node *t = ad_begin(ad, "", "Transpose", 1, &dy, 1);
  ad_attr_ints(ad, t, "perm", 6, perm);
  ad_give_grad(ad, n, 0, ad_reshape_to(ad, ad_finish(ad, t), x));
  return NN_OK;
}

/* CumSum's gradient is the running sum of dy the other way along the axis. */
static nn_status grad_cumsum(ad_ctx *ad, const ir_node *n) {
  ir_tensor *in[2] = {ad_out_grad(ad, n, 0), n->inputs[1]};
  ir_node *b = ad_begin(ad, "", "CumSum", 2, in, 1);
  ad_attr_int(ad, b, "exclusive", ir_attr_int(n, "exclusive", 0));
  ad_attr_int(ad, b, "reverse", !ir_attr_int(n, "reverse", 0));
  ad_give_grad(ad, n, 0, ad_finish(ad, b));
  return NN_OK;
}

/* GatherElements: dy goes back to the positions it was read from, summed
 * where an index repeats (ScatterElements with add into zeros). */
static nn_status grad_gather_elements(ad_ctx *ad, const ir_node *n) {
  ir_tensor *in[3] = {ad_zeros(ad, n->inputs[0]), n->inputs[1], ad_out_grad(ad, n, 0)};
  ir_node *b = ad_begin(ad, "", "ScatterElements", 3, in, 1);
  ad_attr_int(ad, b, "axis", ir_attr_int(n, "axis", 0));
  ad_attr_string(ad, b, "reduction", "add");
  ad_give_grad(ad, n, 0, ad_finish(ad, b));
  return NN_OK;
}

const op_def op_family_indexing[] = {
    {"Expand", "", infer_expand, fold_expand, emit_expand, 0, OP_CONST(1), .grad = grad_expand},
    {"Tile", "", infer_tile, fold_tile, emit_tile, 0, OP_CONST(1), .grad = grad_tile},
    {"DepthToSpace", "", infer_depth_space, fold_depth_space, emit_depth_space, 0, .grad = grad_depth_space},
    {"SpaceToDepth", "", infer_depth_space, fold_depth_space, emit_depth_space, 0, .grad = grad_depth_space},
    {"CenterCropPad", "", infer_center_crop_pad, fold_center_crop_pad, emit_center_crop_pad, 0,
     OP_CONST(1)},
    {"Compress", "", infer_compress, fold_compress, emit_compress, 0, OP_CONST(1)},
    {"ReverseSequence", "", infer_reverse_sequence, fold_reverse_sequence, emit_reverse_sequence,
     0},
    {"GatherElements", "", infer_gather_elements, fold_gather_elements, emit_gather_elements, 0,
     .grad = grad_gather_elements},
    {"ScatterElements", "", infer_scatter_elements, fold_scatter_elements, emit_scatter_elements,
     0},
    {"Scatter", "", infer_scatter_elements, fold_scatter_elements, emit_scatter_elements, 0},
    {"GatherND", "", infer_gather_nd, fold_gather_nd, emit_gather_nd, 0},
    {"ScatterND", "", infer_scatter_nd, fold_scatter_nd, emit_scatter_nd, 0},
    {"OneHot", "", infer_onehot, fold_onehot, emit_onehot, 0, OP_CONST(1)},
    {"Trilu", "", infer_trilu, fold_trilu, emit_trilu, 0, OP_CONST(1)},
    {"EyeLike", "", infer_eyelike, fold_eyelike, emit_eyelike, OP_FOLD_ON_SHAPES},
    {"Range", "", infer_range, fold_range, emit_range, 0, OP_CONST(0) | OP_CONST(1) | OP_CONST(2)},
    {"CumSum", "", infer_cumsum, fold_cumsum, emit_cumsum, 0, OP_CONST(1), .grad = grad_cumsum},
    {NULL},
};
