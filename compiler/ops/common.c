#include "common.h"

#include "half.h"
#include "narrow.h"

#include <stdio.h>

nn_status infer_same_as_input(ir_graph *g, ir_node *n) {
  (void)g;
  const ir_tensor *x = n->inputs[0];
  ir_set_shape(n->outputs[0], x->dtype, x->rank, x->dims);
  return NN_OK;
}

nn_status check_arity(ir_graph *g, const ir_node *n, int lo, int hi) {
  if (n->n_inputs < lo || n->n_inputs > hi || (lo > 0 && !n->inputs[0]))
    return diag_node(g->path, n, "expects %d to %d inputs, has %d", lo, hi, n->n_inputs);
  if (n->n_outputs < 1 || !n->outputs[0])
    return diag_node(g->path, n, "has no output");
  return NN_OK;
}

nn_status check_float(ir_graph *g, const ir_node *n, int k) {
  const ir_tensor *t = n->inputs[k];
  if (t && t->dtype != IR_FLOAT && t->dtype != IR_DOUBLE)
    return diag_node(g->path, n, "input %d has dtype %s; only float32 and float64 are supported", k,
                     ir_dtype_name(t->dtype));
  return NN_OK;
}

nn_status norm_axis(ir_graph *g, const ir_node *n, int64_t axis, int rank, int *out) {
  if (axis < -rank || axis >= (rank ? rank : 1))
    return diag_node(g->path, n, "axis %lld is out of range for rank %d", (long long)axis, rank);
  *out = (int)(axis < 0 ? axis + rank : axis);
  return NN_OK;
}

nn_status infer_broadcast(ir_graph *g, ir_node *n, ir_tensor *out, bool same_dtype) {
  int rank = 0;
  int64_t dims[IR_MAX_RANK];
  for (int k = 0; k < n->n_inputs; k++)
    if (n->inputs[k] && n->inputs[k]->rank > rank)
      rank = n->inputs[k]->rank;
  for (int d = 0; d < rank; d++)
    dims[d] = 1;
  for (int k = 0; k < n->n_inputs; k++) {
    const ir_tensor *t = n->inputs[k];
    if (!t)
      continue;
    if (same_dtype && t->dtype != n->inputs[0]->dtype)
      return diag_node(g->path, n, "input %d has dtype %s but input 0 has %s", k,
                       ir_dtype_name(t->dtype), ir_dtype_name(n->inputs[0]->dtype));
    for (int d = 0; d < t->rank; d++) {
      int64_t *o = &dims[rank - t->rank + d];
      if (t->dims[d] == *o || t->dims[d] == 1)
        continue;
      if (*o != 1) {
        char a[128], b[128];
        return diag_node(g->path, n, "input shapes %s and %s do not broadcast",
                         ir_shape_str(n->inputs[0], a, sizeof a), ir_shape_str(t, b, sizeof b));
      }
      *o = t->dims[d];
    }
  }
  ir_set_shape(out, n->inputs[0]->dtype, rank, dims);
  return NN_OK;
}

void emit_simd(emit_ctx *e) { cb_raw(e->body, "#ifdef _OPENMP\n#pragma omp simd\n#endif\n"); }

void emit_simd_minmax(emit_ctx *e, const char *clauses) {
  cb_raw(e->body, "#if defined(_OPENMP) && !defined(__clang__)\n#pragma omp simd %s\n#endif\n", clauses);
}

void emit_simd_sum(emit_ctx *e, const char *vars) {
  cb_raw(e->body, "#ifdef _OPENMP\n#pragma omp simd reduction(+: %s)\n#endif\n", vars);
}

const char *emit_scaled(emit_ctx *e, const char *var, int64_t k) {
  return k == 1 ? var : mem_printf(e->g->mem, "%s * %lld", var, (long long)k);
}

const char *emit_affine(emit_ctx *e, int64_t c, const char *v, int64_t m) {
  const char *term = m == 0 ? NULL
                     : m == 1 ? v
                     : mem_printf(e->g->mem, strchr(v, ' ') ? "(%s) * %lld" : "%s * %lld", v,
                                  (long long)m);
  if (!term)
    return mem_printf(e->g->mem, "%lld", (long long)c);
  return c ? mem_printf(e->g->mem, "%lld + %s", (long long)c, term) : term;
}

const char *math_fn(emit_ctx *e, const char *name, ir_dtype t) {
  return t == IR_FLOAT ? mem_printf(e->g->mem, "%sf", name) : name;
}

const char *emit_lowest(emit_ctx *e, ir_dtype t) {
  switch (t) {
  case IR_FLOAT: case IR_DOUBLE: return emit_literal(e, t, -INFINITY);
  case IR_INT8: return emit_literal(e, t, INT8_MIN);
  case IR_INT16: return emit_literal(e, t, INT16_MIN);
  case IR_INT32: return "INT32_MIN";
  case IR_INT64: return "INT64_MIN";
  default: return emit_literal(e, t, 0); /* unsigned types and bool */
  }
}

void emit_unary_map(emit_ctx *e, const ir_node *n, const char *expr) {
  const ir_tensor *x = n->inputs[0], *y = n->outputs[0];
  emit_parallel_for(e, "i", ir_numel(y), 8);
  emit_line(e, "const %s x = in0[i];", ir_dtype_ctype(x->dtype));
  emit_line(e, "out0[i] = %s;", expr);
  emit_close(e);
}

static bool same_shape(const ir_tensor *a, const ir_tensor *b) {
  if (a->rank != b->rank)
    return false;
  for (int d = 0; d < a->rank; d++)
    if (a->dims[d] != b->dims[d])
      return false;
  return true;
}

void emit_binary_map(emit_ctx *e, const ir_node *n, const char *expr) {
  const ir_tensor *A = n->inputs[0], *B = n->inputs[1], *y = n->outputs[0];
  const char *ta = ir_dtype_ctype(A->dtype), *tb = ir_dtype_ctype(B->dtype);
  if (same_shape(A, y) && same_shape(B, y)) {
    emit_parallel_for(e, "i", ir_numel(y), 4);
    emit_line(e, "const %s a = in0[i];", ta);
    emit_line(e, "const %s b = in1[i];", tb);
    emit_line(e, "out0[i] = %s;", expr);
    emit_close(e);
    return;
  }
  if (y->rank == 0 || ir_numel(y) == 0) {
    emit_for(e, "i", ir_numel(y));
    emit_line(e, "const %s a = in0[0];", ta);
    emit_line(e, "const %s b = in1[0];", tb);
    emit_line(e, "out0[i] = %s;", expr);
    emit_close(e);
    return;
  }
  /* Nested loops over the output; each input indexed through its broadcast. */
  int loops = emit_loops(e, y, "d");
  const char *yi = emit_bcast_index(e, y, y, "d"); /* y's own linear index */
  emit_line(e, "const %s a = in0[%s];", ta, emit_bcast_index(e, A, y, "d"));
  emit_line(e, "const %s b = in1[%s];", tb, emit_bcast_index(e, B, y, "d"));
  emit_line(e, "out0[%s] = %s;", yi, expr);
  for (int i = 0; i < loops; i++)
    emit_close(e);
}

nn_status require_constant(ir_graph *g, const ir_node *n, int k, const char *what) {
  const ir_tensor *t = ir_in(n, k);
  if (!t || t->kind == IR_WEIGHT)
    return NN_OK;
  if (t->kind == IR_INPUT)
    return diag_node(g->path, n, "input %d '%s' must be a constant (an initializer, or computed "
                     "from constants), but it is the graph input '%s'; compile a value in with "
                     "--freeze %s=FILE", k, what, t->name, t->name);
  return diag_node(g->path, n, "input %d '%s' must be a constant (an initializer, or computed "
                   "from constants), but '%s' depends on run-time data", k, what, t->name);
}

int const_input_ints(ir_graph *g, const ir_node *n, int k, const char *what, int64_t *vals,
                     int max) {
  const ir_tensor *t = ir_in(n, k);
  if (!t)
    return 0;
  if (require_constant(g, n, k, what))
    return -1;
  if (t->rank > 1 || t->dtype == IR_FLOAT || t->dtype == IR_DOUBLE || t->dtype == IR_BOOL) {
    diag_node(g->path, n, "input %d '%s' must be a 1-D integer tensor", k, what);
    return -1;
  }
  if (ir_numel(t) > max) {
    diag_node(g->path, n, "input %d '%s' has %lld values; at most %d are allowed", k, what,
              (long long)ir_numel(t), max);
    return -1;
  }
  for (int64_t i = 0; i < ir_numel(t); i++)
    vals[i] = ir_weight_int(t, i);
  return (int)ir_numel(t);
}

void store_int(ir_dtype t, void *data, int64_t i, int64_t v, bool as_unsigned) {
  uint64_t u = (uint64_t)v;
  switch (t) {
  case IR_FLOAT: ((float *)data)[i] = as_unsigned ? (float)u : (float)v; break;
  case IR_DOUBLE: ((double *)data)[i] = as_unsigned ? (double)u : (double)v; break;
  case IR_BOOL: ((uint8_t *)data)[i] = v != 0; break;
  case IR_UINT8: ((uint8_t *)data)[i] = (uint8_t)u; break;
  case IR_INT8: ((int8_t *)data)[i] = (int8_t)v; break;
  case IR_UINT16: ((uint16_t *)data)[i] = (uint16_t)u; break;
  case IR_INT16: ((int16_t *)data)[i] = (int16_t)v; break;
  case IR_UINT32: ((uint32_t *)data)[i] = (uint32_t)u; break;
  case IR_INT32: ((int32_t *)data)[i] = (int32_t)v; break;
  case IR_UINT64: ((uint64_t *)data)[i] = u; break;
  case IR_INT64: ((int64_t *)data)[i] = v; break;
  case IR_FLOAT16: case IR_BFLOAT16: store_double(t, data, i, as_unsigned ? (double)u : (double)v); break;
  case IR_FLOAT8E4M3FN: case IR_FLOAT8E4M3FNUZ: case IR_FLOAT8E5M2: case IR_FLOAT8E5M2FNUZ:
  case IR_FLOAT4E2M1: case IR_FLOAT8E8M0:
    store_double(t, data, i, as_unsigned ? (double)u : (double)v);
    break;
  case IR_INT4: case IR_INT2: ((int8_t *)data)[i] = (int8_t)narrow_wrap_int(t, v); break;
  case IR_UINT4: case IR_UINT2: ((uint8_t *)data)[i] = (uint8_t)narrow_wrap_int(t, v); break;
  case IR_STRING: case IR_UNDEFINED: NN_BUG("store_int: string or undefined dtype");
  }
}

void store_double(ir_dtype t, void *data, int64_t i, double v) {
  if (t == IR_FLOAT) {
    ((float *)data)[i] = (float)v;
  } else if (t == IR_DOUBLE) {
    ((double *)data)[i] = v;
  } else if (t == IR_FLOAT16) {
    ((uint16_t *)data)[i] = float_to_half((float)v);
  } else if (t == IR_BFLOAT16) {
    ((uint16_t *)data)[i] = float_to_bfloat16((float)v);
  } else if (t == IR_FLOAT8E8M0) { /* Cast's defaults: saturate, round up */
    ((uint8_t *)data)[i] = e8m0_from_float((float)v, true, E8M0_ROUND_UP);
  } else if (narrow_is_float(t)) {
    ((uint8_t *)data)[i] = narrow_from_float(t, (float)v, true);
  } else if (t == IR_BOOL) {
    ((uint8_t *)data)[i] = v != 0;
  } else if (t == IR_UINT64 && v >= 0 && v < 18446744073709551616.0) {
    ((uint64_t *)data)[i] = (uint64_t)v;
  } else {
    /* Truncates toward zero as C does; values C leaves undefined become 0. */
    bool ok = v > -9223372036854775809.0 && v < 9223372036854775808.0;
    store_int(t, data, i, ok ? (int64_t)v : 0, false);
  }
}

/* The reduction as [outer, len, inner]: before opset 13 the input is seen as
 * 2D [prod(dims[:axis]), prod(dims[axis:])], from 13 on only dims[axis]. */
nn_status softmax_split(ir_graph *g, const ir_node *n, int64_t *outer, int64_t *len,
                        int64_t *inner) {
  const ir_tensor *x = n->inputs[0];
  int axis = 0;
  if (norm_axis(g, n, ir_attr_int(n, "axis", n->opset < 13 ? 1 : -1), x->rank, &axis))
    return NN_ERR;
  *outer = *len = *inner = 1;
  for (int d = 0; d < x->rank; d++) {
    if (d < axis)
      *outer *= x->dims[d];
    else if (d == axis || n->opset < 13)
      *len *= x->dims[d];
    else
      *inner *= x->dims[d];
  }
  return NN_OK;
}

/* ---- strided copies ---- */

copy_plan plan_dense_dst(const ir_tensor *t) {
  copy_plan p = {.rank = t->rank};
  memcpy(p.dims, t->dims, sizeof t->dims);
  emit_strides(t, p.dst_stride);
  emit_strides(t, p.src_stride);
  return p;
}

static int64_t plan_count(const copy_plan *p) {
  int64_t n = 1;
  for (int d = 0; d < p->rank; d++)
    n *= p->dims[d];
  return n;
}

/* Drops unit dims and merges neighbours that are contiguous on both sides,
 * so whole runs become one memcpy. */
static void plan_simplify(copy_plan *p) {
  int r = 0;
  for (int d = 0; d < p->rank; d++) {
    int64_t n = p->dims[d], s = p->src_stride[d], t = p->dst_stride[d];
    if (n == 1)
      continue;
    if (r > 0 && p->src_stride[r - 1] == s * n && p->dst_stride[r - 1] == t * n) {
      p->dims[r - 1] *= n;
      p->src_stride[r - 1] = s;
      p->dst_stride[r - 1] = t;
      continue;
    }
    p->dims[r] = n;
    p->src_stride[r] = s;
    p->dst_stride[r] = t;
    r++;
  }
  p->rank = r;
}

/* Length of the innermost run contiguous on both sides (1 if none). */
static int64_t plan_run_length(const copy_plan *p) {
  int r = p->rank;
  return r > 0 && p->src_stride[r - 1] == 1 && p->dst_stride[r - 1] == 1 ? p->dims[r - 1] : 1;
}

void plan_run(copy_plan p, void *dst, const void *src, size_t esize) {
  plan_simplify(&p);
  if (plan_count(&p) == 0)
    return;
  int64_t run = plan_run_length(&p);
  int outer = run > 1 ? p.rank - 1 : p.rank;
  int64_t idx[PLAN_MAX_RANK] = {0};
  for (;;) {
    int64_t s = p.src_off, t = p.dst_off;
    for (int d = 0; d < outer; d++) {
      s += idx[d] * p.src_stride[d];
      t += idx[d] * p.dst_stride[d];
    }
    memcpy((char *)dst + t * (int64_t)esize, (const char *)src + s * (int64_t)esize,
           (size_t)run * esize);
    int d = outer - 1;
    while (d >= 0 && ++idx[d] == p.dims[d])
      idx[d--] = 0;
    if (d < 0)
      return;
  }
}

size_t plan_add_term(char *buf, size_t len, size_t size, int d, int64_t stride) {
  const char *sep = len ? " + " : "";
  if (stride == 1)
    return len + (size_t)snprintf(buf + len, size - len, "%si%d", sep, d);
  return len + (size_t)snprintf(buf + len, size - len, "%si%d * %lld", sep, d, (long long)stride);
}

const char *plan_offset_expr(emit_ctx *e, int64_t off, const int64_t *stride, int n) {
  char buf[1024] = "";
  size_t len = off ? (size_t)snprintf(buf, sizeof buf, "%lld", (long long)off) : 0;
  for (int d = 0; d < n; d++)
    if (stride[d] != 0)
      len = plan_add_term(buf, len, sizeof buf, d, stride[d]);
  return mem_strdup(e->g->mem, len ? buf : "0");
}

/* Tile edge for copies that read along one dim and write along another:
 * 32 x 32 elements keep both sides' cache lines live. */
#define TILE 32

/* The dim that reads contiguously while the innermost one writes
 * contiguously (a transpose), worth tiling; -1 if none. */
static int plan_tile_dim(const copy_plan *p) {
  int l = p->rank - 1;
  if (l < 1 || p->dst_stride[l] != 1 || p->src_stride[l] == 1 || p->dims[l] < TILE)
    return -1;
  for (int j = 0; j < l; j++)
    if (p->src_stride[j] == 1 && p->dims[j] >= TILE)
      return j;
  return -1;
}

/* Opens the loop over dim d of p: the first loop opened runs on threads. */
static void plan_loop(emit_ctx *e, const copy_plan *p, int d, int *opened) {
  char var[16];
  snprintf(var, sizeof var, "i%d", d);
  if ((*opened)++ == 0)
    emit_parallel_for(e, var, p->dims[d], plan_count(p) / p->dims[d]);
  else
    emit_for(e, var, p->dims[d]);
}

/* Loops over tiles of dims j and the innermost, then within each tile. */
static int plan_tiles(emit_ctx *e, const copy_plan *p, int j, int *opened) {
  int l = p->rank - 1, dims[2] = {j, l};
  for (int k = 0; k < 2; k++) {
    int d = dims[k];
    if ((*opened)++ == 0 && p->dims[d] > TILE && plan_count(p) >= EMIT_PARALLEL_WORK)
      emit_line(e, "NN_PARALLEL_FOR");
    emit_open(e, "for (int64_t b%d = 0; b%d < %lld; b%d += %d)", d, d, (long long)p->dims[d], d,
              TILE);
  }
  for (int k = 0; k < 2; k++) {
    int d = dims[k];
    emit_open(e, "for (int64_t i%d = b%d; i%d < (b%d + %d < %lld ? b%d + %d : %lld); i%d++)", d, d,
              d, d, TILE, (long long)p->dims[d], d, TILE, (long long)p->dims[d], d);
  }
  return 4;
}

void plan_emit(emit_ctx *e, copy_plan p, const char *dst, const char *src, size_t esize) {
  plan_simplify(&p);
  if (plan_count(&p) == 0)
    return;
  int64_t run = plan_run_length(&p);
  int outer = run > 1 ? p.rank - 1 : p.rank, tile = run > 1 ? -1 : plan_tile_dim(&p);
  int opened = 0, loops = 0;
  for (int d = 0; d < outer; d++)
    if (d != tile && !(tile >= 0 && d == p.rank - 1)) {
      plan_loop(e, &p, d, &opened);
      loops++;
    }
  if (tile >= 0)
    loops += plan_tiles(e, &p, tile, &opened);
  const char *so = plan_offset_expr(e, p.src_off, p.src_stride, outer);
  const char *to = plan_offset_expr(e, p.dst_off, p.dst_stride, outer);
  if (run > 1)
    emit_line(e, "memcpy(%s + %s, %s + %s, %zu);", dst, to, src, so, (size_t)run * esize);
  else
    emit_line(e, "%s[%s] = %s[%s];", dst, to, src, so);
  for (int d = 0; d < loops; d++)
    emit_close(e);
}

int attr_ints(ir_graph *g, const ir_node *n, const char *name, int64_t *vals, int max) {
  const int64_t *v;
  int k = ir_attr_ints(n, name, &v);
  if (k > max) {
    diag_node(g->path, n, "attribute '%s' has %d values; at most %d are allowed", name, k, max);
    return -1;
  }
  for (int i = 0; i < k; i++)
    vals[i] = v[i];
  return k;
}
