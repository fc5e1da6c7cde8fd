/* Linear quantization: QuantizeLinear, DequantizeLinear and
 * DynamicQuantizeLinear, with ONNX's exact integer semantics (round half to
 * even, saturate to the type's range) and its float8/float4 targets.
 * Scales and zero points apply per tensor, per axis, or per block along the
 * axis; the integer matmul and conv ops are in qlinear.c. */

#include "common.h"
#include "narrow.h"
#include "quantize.h"

/* ---- element conversions as C text ---- */

const char *q_load_float(emit_ctx *e, ir_dtype t, const char *v) {
  mem_arena *mem = e->g->mem;
  switch ((int)t) {
  case IR_FLOAT16: return mem_printf(mem, "nn_half_to_float(%s)", v);
  case IR_BFLOAT16: return mem_printf(mem, "nn_bf16_to_float(%s)", v);
  case IR_FLOAT8E8M0: return mem_printf(mem, "nn_e8m0_to_float(%s)", v);
  default:
    if (narrow_is_float(t))
      return mem_printf(mem, "nn_small_to_float(%s, %s)", v, narrow_c_params(t));
    return mem_printf(mem, "(float)%s", v);
  }
}

const char *q_round_to(emit_ctx *e, ir_dtype t, const char *v) {
  if (t == IR_FLOAT16)
    return mem_printf(e->g->mem, "nn_half_to_float(nn_float_to_half(%s))", v);
  if (t == IR_BFLOAT16)
    return mem_printf(e->g->mem, "nn_bf16_to_float(nn_float_to_bf16(%s))", v);
  return v;
}

const char *q_store_float(emit_ctx *e, ir_dtype t, const char *v) {
  if (t == IR_FLOAT16)
    return mem_printf(e->g->mem, "nn_float_to_half(%s)", v);
  if (t == IR_BFLOAT16)
    return mem_printf(e->g->mem, "nn_float_to_bf16(%s)", v);
  return mem_printf(e->g->mem, "(%s)%s", ir_dtype_ctype(t), v);
}

bool q_is_int_type(ir_dtype t) {
  return t == IR_UINT8 || t == IR_INT8 || t == IR_UINT16 || t == IR_INT16 || t == IR_INT32 ||
         narrow_is_int(t);
}

static bool is_float_type(ir_dtype t) {
  return t == IR_FLOAT || t == IR_DOUBLE || t == IR_FLOAT16 || t == IR_BFLOAT16;
}

/* ---- where scale element sits: per tensor, per axis or per block ---- */

/* x seen as [outer, len, inner] around the axis; the scale (and zero point)
 * index is 0 (per tensor), a (per axis) or (o * blocks + a / block) * inner
 * + i (blocked, the scale having x's shape with `blocks` along the axis). */
typedef struct q_layout {
  int64_t outer, len, inner;
  int64_t block;  /* 0: per tensor or per axis */
  int64_t blocks; /* blocked: the scale's size along the axis */
  bool per_tensor;
} q_layout;

static nn_status q_plan(ir_graph *g, const ir_node *n, q_layout *q) {
  const ir_tensor *x = n->inputs[0], *s = n->inputs[1], *zp = ir_in(n, 2);
  int axis = 0;
  memset(q, 0, sizeof *q);
  q->outer = 1;
  q->len = 1;
  q->inner = ir_numel(x);
  q->per_tensor = ir_numel(s) == 1;
  if (zp && (ir_numel(zp) != ir_numel(s) || (ir_numel(s) > 1 && zp->rank != s->rank)))
    return diag_node(g->path, n, "the zero point's shape differs from the scale's");
  if (q->per_tensor)
    return NN_OK;
  if (norm_axis(g, n, ir_attr_int(n, "axis", 1), x->rank, &axis))
    return NN_ERR;
  q->outer = 1;
  for (int d = 0; d < axis; d++)
    q->outer *= x->dims[d];
  q->len = x->dims[axis];
  q->inner = 1;
  for (int d = axis + 1; d < x->rank; d++)
    q->inner *= x->dims[d];
  q->block = ir_attr_int(n, "block_size", 0);
  if (q->block < 0)
    return diag_node(g->path, n, "block_size %lld is negative", (long long)q->block);
  if (!q->block) {
    if (s->rank != 1 || s->dims[0] != q->len)
      return diag_node(g->path, n,
                       "the scale must be a scalar or hold one value per element of axis %d "
                       "(%lld); it has %lld",
                       axis, (long long)q->len, (long long)ir_numel(s));
    return NN_OK;
  }
  bool ok = s->rank == x->rank;
  for (int d = 0; ok && d < x->rank; d++)
    ok = d == axis ? s->dims[d] == (x->dims[d] + q->block - 1) / q->block : s->dims[d] == x->dims[d];
  if (!ok)
    return diag_node(g->path, n,
                     "blocked quantization: the scale must have the input's shape with "
                     "ceil(%lld / block_size %lld) along axis %d",
                     (long long)x->dims[axis], (long long)q->block, axis);
  q->blocks = s->dims[axis];
  return NN_OK;
}

/* The scale index expression inside the o/a/i loops. */
static const char *q_scale_index(emit_ctx *e, const q_layout *q) {
  if (q->per_tensor)
    return "0";
  if (!q->block)
    return "a";
  return mem_printf(e->g->mem, "(o * %lld + a / %lld) * %lld + i", (long long)q->blocks,
                    (long long)q->block, (long long)q->inner);
}

/* Opens the o/a/i loops; the element index is `k`. Close with q_close. */
static void q_open(emit_ctx *e, const q_layout *q) {
  emit_for(e, "o", q->outer);
  emit_for(e, "a", q->len);
  emit_for(e, "i", q->inner);
  emit_line(e, "const int64_t k = (o * %lld + a) * %lld + i;", (long long)q->len,
            (long long)q->inner);
}

static void q_close(emit_ctx *e) {
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* ---- QuantizeLinear: y = saturate(round(x / scale) + zero_point) ---- */

static ir_dtype quantize_out_type(const ir_node *n) {
  const ir_tensor *zp = ir_in(n, 2);
  if (zp)
    return zp->dtype;
  int64_t t = ir_attr_int(n, "output_dtype", 0);
  return t ? (ir_dtype)t : IR_UINT8;
}

static nn_status infer_quantize(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 3))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0], *s = n->inputs[1], *zp = ir_in(n, 2);
  if (!is_float_type(x->dtype) || !is_float_type(s->dtype))
    return diag_node(g->path, n, "input and scale must be float types (got %s and %s)",
                     ir_dtype_name(x->dtype), ir_dtype_name(s->dtype));
  int64_t want = ir_attr_int(n, "output_dtype", 0);
  if (zp && want && want != zp->dtype)
    return diag_node(g->path, n, "output_dtype %lld differs from the zero point's type %s",
                     (long long)want, ir_dtype_name(zp->dtype));
  ir_dtype t = quantize_out_type(n);
  bool target = (q_is_int_type(t) && t != IR_INT32) || (narrow_is_float(t) && t != IR_FLOAT8E8M0);
  if (!ir_dtype_known((int)t) || !target)
    return diag_node(g->path, n, "cannot quantize to %s",
                     ir_dtype_known((int)t) ? ir_dtype_name(t) : "an unknown type");
  q_layout q;
  if (q_plan(g, n, &q))
    return NN_ERR;
  ir_set_shape(n->outputs[0], t, x->rank, x->dims);
  return NN_OK;
}

static void emit_quantize(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *s = n->inputs[1], *zp = ir_in(n, 2);
  ir_dtype t = n->outputs[0]->dtype;
  q_layout q;
  q_plan(e->g, n, &q);
  if (ir_numel(x) == 0)
    return;
  /* The quotient rounds to x's type (or `precision`'s) as the reference computes it. */
  int64_t precision = ir_attr_int(n, "precision", 0);
  ir_dtype work = precision ? (ir_dtype)precision : x->dtype;
  const char *si = q_scale_index(e, &q);
  q_open(e, &q);
  const char *sv = mem_printf(e->g->mem, "in1[%s]", si);
  if (s->dtype != IR_DOUBLE)
    sv = q_load_float(e, s->dtype, sv);
  if (work == IR_DOUBLE) /* float64 input: the quotient in double, as the reference */
    emit_line(e, "const double v = (double)in0[k] / (double)%s;", sv);
  else
    emit_line(e, "const float v = %s;",
              q_round_to(e, work, mem_printf(e->g->mem, "%s / %s", q_load_float(e, x->dtype, "in0[k]"), sv)));
  const char *z = zp ? mem_printf(e->g->mem, "in2[%s]", si) : "0";
  if (narrow_is_float(t)) {
    const char *zf = zp ? q_load_float(e, t, z) : "0.0f";
    emit_line(e, "out0[k] = nn_float_to_small((float)(v + %s), %s, %d);", zf, narrow_c_params(t),
              ir_attr_int(n, "saturate", 1) != 0);
  } else {
    emit_line(e, "const double r = nearbyint((double)v) + (double)%s;", z);
    emit_line(e, "out0[k] = (%s)fmin(fmax(r, %lld.0), %lld.0);", ir_dtype_ctype(t),
              (long long)int_dtype_min(t), (long long)int_dtype_max(t));
  }
  q_close(e);
}

/* ---- DequantizeLinear: y = (x - zero_point) * scale ---- */

static nn_status infer_dequantize(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 3))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0], *s = n->inputs[1], *zp = ir_in(n, 2);
  if (!q_is_int_type(x->dtype) && !narrow_is_float(x->dtype))
    return diag_node(g->path, n, "cannot dequantize %s", ir_dtype_name(x->dtype));
  if (!is_float_type(s->dtype) && s->dtype != IR_FLOAT8E8M0)
    return diag_node(g->path, n, "the scale must be a float type (got %s)", ir_dtype_name(s->dtype));
  if (zp && zp->dtype != x->dtype)
    return diag_node(g->path, n, "the zero point is %s, the input %s", ir_dtype_name(zp->dtype),
                     ir_dtype_name(x->dtype));
  int64_t want = ir_attr_int(n, "output_dtype", 0);
  ir_dtype t = want ? (ir_dtype)want : s->dtype;
  if (!ir_dtype_known((int)t) || !is_float_type(t))
    return diag_node(g->path, n, "output_dtype %lld is not a float type", (long long)want);
  q_layout q;
  if (q_plan(g, n, &q))
    return NN_ERR;
  ir_set_shape(n->outputs[0], t, x->rank, x->dims);
  return NN_OK;
}

static void emit_dequantize(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *s = n->inputs[1], *zp = ir_in(n, 2);
  ir_dtype t = n->outputs[0]->dtype;
  q_layout q;
  q_plan(e->g, n, &q);
  if (ir_numel(x) == 0)
    return;
  const char *si = q_scale_index(e, &q);
  q_open(e, &q);
  /* Float inputs ignore the zero point (it must be 0), as the reference does.
   * In double the difference is exact and the product rounds once. */
  if (narrow_is_float(x->dtype))
    emit_line(e, "const double d = (double)%s;", q_load_float(e, x->dtype, "in0[k]"));
  else if (zp)
    emit_line(e, "const double d = (double)in0[k] - (double)in2[%s];", si);
  else
    emit_line(e, "const double d = (double)in0[k];");
  const char *sv = mem_printf(e->g->mem, "in1[%s]", si);
  const char *scale = s->dtype == IR_DOUBLE ? sv : mem_printf(e->g->mem, "(double)%s", q_load_float(e, s->dtype, sv));
  if (t == IR_DOUBLE)
    emit_line(e, "out0[k] = d * %s;", scale);
  else
    emit_line(e, "out0[k] = %s;", q_store_float(e, t, mem_printf(e->g->mem, "(float)(d * %s)", scale)));
  q_close(e);
}

/* Dequantizing constants (a QDQ model's weights) at compile time, with the
 * generated code's arithmetic: the same double product, rounded once. */
static nn_status fold_dequantize(ir_graph *g, ir_node *n) {
  const ir_tensor *x = n->inputs[0], *s = n->inputs[1], *zp = ir_in(n, 2);
  ir_tensor *y = n->outputs[0];
  q_layout q;
  if (q_plan(g, n, &q))
    return NN_ERR;
  ir_make_weight(g, y);
  for (int64_t o = 0; o < q.outer; o++)
    for (int64_t a = 0; a < q.len; a++)
      for (int64_t i = 0; i < q.inner; i++) {
        int64_t k = (o * q.len + a) * q.inner + i;
        int64_t si = q.per_tensor ? 0 : !q.block ? a : (o * q.blocks + a / q.block) * q.inner + i;
        double d = narrow_is_float(x->dtype) ? ir_weight_float(x, k)
                 : (double)ir_weight_int(x, k) - (zp ? (double)ir_weight_int(zp, si) : 0.0);
        double scale = s->dtype == IR_DOUBLE ? ir_weight_float(s, si) : (double)(float)ir_weight_float(s, si);
        store_double(y->dtype, y->data, k, d * scale);
      }
  return NN_OK;
}

/* ---- DynamicQuantizeLinear: uint8 with scale and zero point from x's range ---- */

static nn_status infer_dynamic_quantize(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  if (x->dtype != IR_FLOAT)
    return diag_node(g->path, n, "input must be float32 (got %s)", ir_dtype_name(x->dtype));
  if (ir_numel(x) == 0)
    return diag_node(g->path, n, "the input is empty: its range is undefined");
  ir_set_shape(n->outputs[0], IR_UINT8, x->rank, x->dims);
  if (ir_out(n, 1))
    ir_set_shape(n->outputs[1], IR_FLOAT, 0, NULL);
  if (ir_out(n, 2))
    ir_set_shape(n->outputs[2], IR_UINT8, 0, NULL);
  return NN_OK;
}

static void emit_dynamic_quantize(emit_ctx *e, const ir_node *n) {
  int64_t count = ir_numel(n->inputs[0]);
  /* The range always includes 0, so 0 quantizes exactly. */
  emit_line(e, "float lo = 0.0f, hi = 0.0f;");
  emit_for(e, "k", count);
  emit_line(e, "lo = in0[k] < lo ? in0[k] : lo;");
  emit_line(e, "hi = in0[k] > hi ? in0[k] : hi;");
  emit_close(e);
  emit_line(e, "const float scale = (hi == lo ? 1.0f : hi - lo) / 255.0f;");
  emit_line(e, "const float zp = nearbyintf(fminf(fmaxf(0.0f - lo / scale, 0.0f), 255.0f));");
  emit_for(e, "k", count);
  emit_line(e, "out0[k] = (uint8_t)fminf(fmaxf(nearbyintf(in0[k] / scale) + zp, 0.0f), 255.0f);");
  emit_close(e);
  if (ir_out(n, 1))
    emit_line(e, "out1[0] = scale;");
  if (ir_out(n, 2))
    emit_line(e, "out2[0] = (uint8_t)zp;");
}

const op_def op_family_quantize[] = {
    {"QuantizeLinear", "", infer_quantize, NULL, emit_quantize, 0},
    {"DequantizeLinear", "", infer_dequantize, fold_dequantize, emit_dequantize, 0},
    {"DynamicQuantizeLinear", "", infer_dynamic_quantize, NULL, emit_dynamic_quantize, 0},
    {NULL},
};
