/* Shape ops: the views (Reshape, Flatten, Squeeze, Unsqueeze: a plain copy at
 * run time), shape queries (Shape, Size), constants (Constant,
 * ConstantOfShape) and Cast. All of them fold, so the Shape -> Gather ->
 * Concat -> Reshape arithmetic exporters write becomes constants. */
#include <stdio.h>

#include "autodiff.h"
#include "common.h"
#include "narrow.h"

/* "[2,-1,0]" into buf. */
static const char *ints_str(const int64_t *v, int n, char *buf, size_t size) {
  size_t len = (size_t)snprintf(buf, size, "[");
  for (int i = 0; i < n && len < size; i++)
    len += (size_t)snprintf(buf + len, size - len, "%s%lld", i ? "," : "", (long long)v[i]);
  if (len < size)
    snprintf(buf + len, size - len, "]");
  return buf;
}

/* ---- views: output 0 holds input 0's bytes under another shape ---- */

static nn_status fold_copy(ir_graph *g, ir_node *n) {
  ir_tensor *y = n->outputs[0];
  ir_make_weight(g, y);
  if (ir_bytes(y))
    memcpy(y->data, n->inputs[0]->data, ir_bytes(y));
  return NN_OK;
}

static void emit_copy(emit_ctx *e, const ir_node *n) {
  if (ir_bytes(n->outputs[0]))
    emit_line(e, "memcpy(out0, in0, %zu);", ir_bytes(n->outputs[0]));
}

/* The requested shape: input 1 from opset 5, attribute 'shape' before. */
static int reshape_target(ir_graph *g, ir_node *n, int64_t *shape) {
  if (n->opset < 5)
    return attr_ints(g, n, "shape", shape, IR_MAX_RANK);
  if (!ir_in(n, 1)) {
    diag_node(g->path, n, "input 1 'shape' is missing");
    return -1;
  }
  return const_input_ints(g, n, 1, "shape", shape, IR_MAX_RANK);
}

static nn_status infer_reshape(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 2))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  int64_t shape[IR_MAX_RANK], req[IR_MAX_RANK];
  int rank = reshape_target(g, n, shape);
  if (rank < 0)
    return NN_ERR;
  memcpy(req, shape, sizeof shape);
  bool allowzero = ir_attr_int(n, "allowzero", 0) != 0;
  int64_t known = 1;
  int open = -1;
  char a[256], b[256];
  for (int i = 0; i < rank; i++) {
    if (shape[i] == 0 && !allowzero) {
      if (i >= x->rank)
        return diag_node(g->path, n,
                         "shape %s copies dimension %d (a 0), but the input has rank %d",
                         ints_str(req, rank, a, sizeof a), i, x->rank);
      shape[i] = x->dims[i];
    } else if (shape[i] == -1) {
      if (open >= 0)
        return diag_node(g->path, n, "shape %s has more than one -1",
                         ints_str(req, rank, a, sizeof a));
      open = i;
      continue;
    } else if (shape[i] < 0) {
      return diag_node(g->path, n, "shape %s has the invalid dimension %lld",
                       ints_str(req, rank, a, sizeof a), (long long)shape[i]);
    }
    known *= shape[i];
  }
  int64_t numel = ir_numel(x);
  if (open >= 0 && known != 0 && numel % known == 0)
    shape[open] = numel / known;
  else if (open >= 0 || known != numel)
    return diag_node(g->path, n, "cannot reshape %s (%lld elements) to %s",
                     ir_shape_str(x, b, sizeof b), (long long)numel,
                     ints_str(req, rank, a, sizeof a));
  ir_set_shape(n->outputs[0], x->dtype, rank, shape);
  return NN_OK;
}

static nn_status infer_flatten(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  int64_t axis = ir_attr_int(n, "axis", 1);
  if (axis < 0)
    axis += x->rank;
  if (axis < 0 || axis > x->rank)
    return diag_node(g->path, n, "axis %lld is out of range for rank %d",
                     (long long)ir_attr_int(n, "axis", 1), x->rank);
  int64_t dims[2] = {1, 1};
  for (int d = 0; d < x->rank; d++)
    dims[d >= axis] *= x->dims[d];
  ir_set_shape(n->outputs[0], x->dtype, 2, dims);
  return NN_OK;
}

/* Axes of Squeeze/Unsqueeze: attribute before opset 13, input 1 from 13. */
static int view_axes(ir_graph *g, ir_node *n, int64_t *axes, bool *given) {
  *given = n->opset < 13 ? ir_attr_find(n, "axes") != NULL : ir_in(n, 1) != NULL;
  if (n->opset < 13)
    return attr_ints(g, n, "axes", axes, IR_MAX_RANK);
  return const_input_ints(g, n, 1, "axes", axes, IR_MAX_RANK);
}

static nn_status infer_squeeze(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 2))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  int64_t axes[IR_MAX_RANK];
  bool given, drop[IR_MAX_RANK] = {false};
  int na = view_axes(g, n, axes, &given);
  if (na < 0)
    return NN_ERR;
  for (int d = 0; d < x->rank && !given; d++)
    drop[d] = x->dims[d] == 1;
  for (int i = 0; i < na; i++) {
    int a;
    if (norm_axis(g, n, axes[i], x->rank, &a))
      return NN_ERR;
    if (x->dims[a] != 1)
      return diag_node(g->path, n, "cannot squeeze axis %d of size %lld", a, (long long)x->dims[a]);
    drop[a] = true;
  }
  int64_t dims[IR_MAX_RANK];
  int rank = 0;
  for (int d = 0; d < x->rank; d++)
    if (!drop[d])
      dims[rank++] = x->dims[d];
  ir_set_shape(n->outputs[0], x->dtype, rank, dims);
  return NN_OK;
}

static nn_status infer_unsqueeze(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 2))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  int64_t axes[IR_MAX_RANK];
  bool given, added[IR_MAX_RANK] = {false};
  int na = view_axes(g, n, axes, &given);
  if (na < 0)
    return NN_ERR;
  if (!given || na == 0)
    return diag_node(g->path, n, "'axes' is missing");
  int rank = x->rank + na;
  if (rank > IR_MAX_RANK)
    return diag_node(g->path, n, "the output would have rank %d; at most %d is supported", rank,
                     IR_MAX_RANK);
  for (int i = 0; i < na; i++) {
    int a;
    if (norm_axis(g, n, axes[i], rank, &a))
      return NN_ERR;
    if (added[a])
      return diag_node(g->path, n, "axis %d is given twice", a);
    added[a] = true;
  }
  int64_t dims[IR_MAX_RANK];
  for (int d = 0, k = 0; d < rank; d++)
    dims[d] = added[d] ? 1 : x->dims[k++];
  ir_set_shape(n->outputs[0], x->dtype, rank, dims);
  return NN_OK;
}

/* ---- Shape and Size: known from the input's shape alone ---- */

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The [start, end) range of dimensions Shape reports (opset 15 attributes). */
static void shape_range(const ir_node *n, int *start, int *end) {
  int r = n->inputs[0]->rank;
  int64_t s = ir_attr_int(n, "start", 0), e = ir_attr_int(n, "end", r);
  s = clamp64(s < 0 ? s + r : s, 0, r);
  e = clamp64(e < 0 ? e + r : e, 0, r);
  *start = (int)s;
  *end = (int)(e > s ? e : s);
}

static nn_status infer_shape(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1))
    return NN_ERR;
  int s, e;
  shape_range(n, &s, &e);
  int64_t len = e - s;
  ir_set_shape(n->outputs[0], IR_INT64, 1, &len);
  return NN_OK;
}

static nn_status fold_shape(ir_graph *g, ir_node *n) {
  int s, e;
  shape_range(n, &s, &e);
  int64_t *y = ir_make_weight(g, n->outputs[0]);
  for (int d = s; d < e; d++)
    y[d - s] = n->inputs[0]->dims[d];
  return NN_OK;
}

static void emit_shape(emit_ctx *e, const ir_node *n) {
  int s, end;
  shape_range(n, &s, &end);
  for (int d = s; d < end; d++)
    emit_line(e, "out0[%d] = %s;", d - s, emit_literal(e, IR_INT64, (double)n->inputs[0]->dims[d]));
}

static nn_status infer_size(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1))
    return NN_ERR;
  ir_set_shape(n->outputs[0], IR_INT64, 0, NULL);
  return NN_OK;
}

static nn_status fold_size(ir_graph *g, ir_node *n) {
  int64_t *y = ir_make_weight(g, n->outputs[0]);
  y[0] = ir_numel(n->inputs[0]);
  return NN_OK;
}

static void emit_size(emit_ctx *e, const ir_node *n) {
  emit_line(e, "out0[0] = %s;", emit_literal(e, IR_INT64, (double)ir_numel(n->inputs[0])));
}

/* ---- Constant and ConstantOfShape ---- */

/* Element i of weight t as a C literal of its type, exact for every dtype. */
static const char *elem_literal(emit_ctx *e, const ir_tensor *t, int64_t i) {
  int64_t v = t->dtype == IR_FLOAT || t->dtype == IR_DOUBLE ? 0 : ir_weight_int(t, i);
  if (narrow_is_float(t->dtype)) /* stored as bits, which ir_weight_int would decode */
    v = ((const uint8_t *)t->data)[i];
  else if (t->dtype == IR_FLOAT16 || t->dtype == IR_BFLOAT16)
    v = ((const uint16_t *)t->data)[i];
  switch (t->dtype) {
  case IR_FLOAT:
  case IR_DOUBLE:
    return emit_literal(e, t->dtype, ir_weight_float(t, i));
  case IR_INT64:
    return v == INT64_MIN ? "INT64_MIN" : mem_printf(e->g->mem, "INT64_C(%lld)", (long long)v);
  case IR_UINT64:
    return mem_printf(e->g->mem, "UINT64_C(%llu)", (unsigned long long)(uint64_t)v);
  case IR_INT32:
    return v == INT32_MIN ? "INT32_MIN" : mem_printf(e->g->mem, "%lld", (long long)v);
  default:
    return mem_printf(e->g->mem, "%lld", (long long)v);
  }
}

/* static const T name[] = {...}; holding weight t (numel > 0). */
static void emit_data_array(emit_ctx *e, const char *name, const ir_tensor *t) {
  emit_line(e, "static const %s %s[%lld] = {", ir_dtype_ctype(t->dtype), name,
            (long long)ir_numel(t));
  char line[1024];
  size_t len = 0;
  for (int64_t i = 0; i < ir_numel(t); i++) {
    len += (size_t)snprintf(line + len, sizeof line - len, "%s,", elem_literal(e, t, i));
    if (len > 80 || i + 1 == ir_numel(t)) {
      emit_line(e, "    %s", line);
      len = 0;
    } else {
      line[len++] = ' ';
      line[len] = '\0';
    }
  }
  emit_line(e, "};");
}

/* The tensor a Constant node holds, built from whichever value attribute it
 * has; NULL after reporting. Data lives in the graph's arena. */
static const ir_tensor *constant_value(ir_graph *g, const ir_node *n, bool report) {
  const ir_attr *a = NULL;
  for (int i = 0; i < n->n_attrs && !a; i++)
    if (strncmp(n->attrs[i].name, "value", 5) == 0 || strcmp(n->attrs[i].name, "sparse_value") == 0)
      a = &n->attrs[i];
  if (!a) {
    if (report)
      diag_node(g->path, n, "has no value attribute");
    return NULL;
  }
  if (strcmp(a->name, "value") == 0 && a->type == IR_ATTR_TENSOR)
    return a->t;
  ir_tensor *t = mem_alloc(g->mem, sizeof *t);
  bool scalar = a->type == IR_ATTR_FLOAT || a->type == IR_ATTR_INT;
  int64_t count = scalar ? 1 : a->n;
  if (strcmp(a->name, "value_float") == 0 || strcmp(a->name, "value_floats") == 0)
    ir_set_shape(t, IR_FLOAT, scalar ? 0 : 1, &count);
  else if (strcmp(a->name, "value_int") == 0 || strcmp(a->name, "value_ints") == 0)
    ir_set_shape(t, IR_INT64, scalar ? 0 : 1, &count);
  else {
    if (report)
      diag_node(g->path, n, "attribute '%s' is not supported (only numeric dense values)", a->name);
    return NULL;
  }
  ir_make_weight(g, t);
  for (int64_t i = 0; i < count; i++) {
    double f = scalar ? a->f : a->type == IR_ATTR_FLOATS ? a->floats[i] : 0;
    int64_t v = scalar ? a->i : a->type == IR_ATTR_INTS ? a->ints[i] : 0;
    if (t->dtype == IR_FLOAT)
      ((float *)t->data)[i] = (float)f;
    else
      ((int64_t *)t->data)[i] = v;
  }
  return t;
}

static nn_status infer_constant(ir_graph *g, ir_node *n) {
  if (n->n_inputs != 0)
    return diag_node(g->path, n, "takes no inputs");
  if (check_arity(g, n, 0, 0))
    return NN_ERR;
  const ir_tensor *v = constant_value(g, n, true);
  if (!v)
    return NN_ERR;
  ir_set_shape(n->outputs[0], v->dtype, v->rank, v->dims);
  return NN_OK;
}

static nn_status fold_constant(ir_graph *g, ir_node *n) {
  const ir_tensor *v = constant_value(g, n, false);
  ir_tensor *y = n->outputs[0];
  ir_make_weight(g, y);
  if (ir_bytes(y))
    memcpy(y->data, v->data, ir_bytes(y));
  return NN_OK;
}

/* Only reached when the constant is a graph output. */
static void emit_constant(emit_ctx *e, const ir_node *n) {
  const ir_tensor *v = constant_value(e->g, n, false);
  if (ir_numel(v) == 0)
    return;
  emit_data_array(e, "value", v);
  emit_line(e, "memcpy(out0, value, sizeof value);");
}

/* ConstantOfShape's fill value: a one-element tensor attribute, default float 0. */
static const ir_tensor *fill_value(ir_graph *g, const ir_node *n) {
  const ir_attr *a = ir_attr_find(n, "value");
  if (a && a->type == IR_ATTR_TENSOR)
    return a->t;
  static const float zero = 0;
  ir_tensor *t = mem_alloc(g->mem, sizeof *t);
  ir_set_shape(t, IR_FLOAT, 0, NULL);
  t->data = (void *)&zero;
  return t;
}

static nn_status infer_constant_of_shape(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1))
    return NN_ERR;
  int64_t dims[IR_MAX_RANK];
  int rank = const_input_ints(g, n, 0, "input", dims, IR_MAX_RANK);
  if (rank < 0)
    return NN_ERR;
  for (int d = 0; d < rank; d++)
    if (dims[d] < 0)
      return diag_node(g->path, n, "dimension %d is negative (%lld)", d, (long long)dims[d]);
  const ir_tensor *v = fill_value(g, n);
  if (ir_numel(v) != 1)
    return diag_node(g->path, n, "attribute 'value' must hold one element, not %lld",
                     (long long)ir_numel(v));
  ir_set_shape(n->outputs[0], v->dtype, rank, dims);
  return NN_OK;
}

static nn_status fold_constant_of_shape(ir_graph *g, ir_node *n) {
  ir_tensor *y = n->outputs[0];
  const ir_tensor *v = fill_value(g, n);
  size_t size = ir_dtype_size(y->dtype);
  unsigned char *p = ir_make_weight(g, y);
  for (int64_t i = 0; i < ir_numel(y); i++)
    memcpy(p + (size_t)i * size, v->data, size);
  return NN_OK;
}

static void emit_constant_of_shape(emit_ctx *e, const ir_node *n) {
  const ir_tensor *y = n->outputs[0], *v = fill_value(e->g, n);
  size_t size = ir_dtype_size(y->dtype);
  static const unsigned char zeros[8];
  if (ir_numel(y) == 0)
    return;
  if (memcmp(v->data, zeros, size) == 0) {
    emit_line(e, "memset(out0, 0, %zu);", ir_bytes(y));
    return;
  }
  emit_parallel_for(e, "i", ir_numel(y), 1);
  emit_line(e, "out0[i] = %s;", elem_literal(e, v, 0));
  emit_close(e);
}

/* ---- Cast, CastLike ---- */

static const char *onnx_type_name(int64_t t) {
  switch (t) {
  case 8:
    return "string";
  case 10:
    return "float16";
  case 14:
    return "complex64";
  case 15:
    return "complex128";
  case 16:
    return "bfloat16";
  default:
    return ir_dtype_known((int)t) ? ir_dtype_name((ir_dtype)t) : "an unknown type";
  }
}

static nn_status infer_cast(ir_graph *g, ir_node *n) {
  bool like = strcmp(n->op_type, "CastLike") == 0;
  if (check_arity(g, n, like ? 2 : 1, like ? 2 : 1))
    return NN_ERR;
  int64_t to = like ? (n->inputs[1] ? n->inputs[1]->dtype : 0) : ir_attr_int(n, "to", 0);
  if (!like && !ir_attr_find(n, "to"))
    return diag_node(g->path, n, "attribute 'to' is missing");
  if (to < 0 || to > 64 || !ir_dtype_known((int)to))
    return diag_node(g->path, n, "cast to %s (type %lld) is not supported", onnx_type_name(to),
                     (long long)to);
  const ir_tensor *x = n->inputs[0];
  ir_set_shape(n->outputs[0], (ir_dtype)to, x->rank, x->dims);
  return NN_OK;
}

/* Cast's round_mode attribute (to float8e8m0), opset 24 on. */
static e8m0_round cast_round_mode(const ir_node *n) {
  const char *m = ir_attr_string(n, "round_mode", "up");
  return strcmp(m, "nearest") == 0 ? E8M0_ROUND_NEAREST
       : strcmp(m, "down") == 0 ? E8M0_ROUND_DOWN : E8M0_ROUND_UP;
}

static nn_status fold_cast(ir_graph *g, ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  ir_tensor *y = n->outputs[0];
  ir_make_weight(g, y);
  bool from_float = x->dtype == IR_FLOAT || x->dtype == IR_DOUBLE || x->dtype == IR_FLOAT16 ||
                    x->dtype == IR_BFLOAT16 || narrow_is_float(x->dtype);
  bool saturate = ir_attr_int(n, "saturate", 1) != 0;
  for (int64_t i = 0; i < ir_numel(y); i++) {
    if (y->dtype == IR_FLOAT8E8M0)
      ((uint8_t *)y->data)[i] =
          e8m0_from_float((float)ir_weight_float(x, i), saturate, cast_round_mode(n));
    else if (narrow_is_float(y->dtype))
      ((uint8_t *)y->data)[i] = narrow_from_float(y->dtype, (float)ir_weight_float(x, i), saturate);
    else if (from_float)
      store_double(y->dtype, y->data, i, ir_weight_float(x, i));
    else
      store_int(y->dtype, y->data, i, ir_weight_int(x, i), x->dtype == IR_UINT64);
  }
  return NN_OK;
}

/* A C expression turning x (of dtype from) into dtype to, through float32
 * for the 16-, 8- and 4-bit floats (a double too, as ONNX's reference
 * rounds float64 to float8 through float32). */
static const char *cast_expr(emit_ctx *e, const ir_node *n, ir_dtype from, ir_dtype to) {
  mem_arena *mem = e->g->mem;
  const char *x = from == IR_FLOAT16 ? "nn_half_to_float(x)"
                : from == IR_BFLOAT16 ? "nn_bf16_to_float(x)"
                : from == IR_FLOAT8E8M0 ? "nn_e8m0_to_float(x)"
                : narrow_is_float(from) ? mem_printf(mem, "nn_small_to_float(x, %s)", narrow_c_params(from))
                : "x";
  int saturate = ir_attr_int(n, "saturate", 1) != 0;
  if (to == IR_FLOAT16)
    return mem_printf(mem, "nn_float_to_half((float)%s)", x);
  if (to == IR_BFLOAT16)
    return mem_printf(mem, "nn_float_to_bf16((float)%s)", x);
  if (to == IR_FLOAT8E8M0)
    return mem_printf(mem, "nn_float_to_e8m0((float)%s, %d, %d)", x, saturate, (int)cast_round_mode(n));
  if (narrow_is_float(to))
    return mem_printf(mem, "nn_float_to_small((float)%s, %s, %d)", x, narrow_c_params(to), saturate);
  if (to == IR_BOOL)
    return mem_printf(mem, "%s != 0", x);
  if (narrow_is_int(to)) { /* truncate, keep the low bits, sign-extend the signed types */
    int64_t mask = int_dtype_max(to) - int_dtype_min(to), half = -int_dtype_min(to);
    return mem_printf(mem, "(%s)((((int64_t)%s & %lld) ^ %lld) - %lld)", ir_dtype_ctype(to), x,
                      (long long)mask, (long long)half, (long long)half);
  }
  return mem_printf(mem, "(%s)%s", ir_dtype_ctype(to), x);
}

static void emit_cast(emit_ctx *e, const ir_node *n) {
  ir_dtype from = n->inputs[0]->dtype, to = n->outputs[0]->dtype;
  if (ir_numel(n->outputs[0]) == 0)
    return;
  bool half = from == IR_FLOAT16 || from == IR_BFLOAT16 || to == IR_FLOAT16 || to == IR_BFLOAT16 ||
              narrow_is_float(from) || narrow_is_float(to) || narrow_is_int(to);
  if (from == to || (from == IR_BOOL && to == IR_UINT8))
    emit_copy(e, n);
  else if (half)
    emit_unary_map(e, n, cast_expr(e, n, from, to));
  else if (to == IR_BOOL)
    emit_unary_map(e, n, "x != 0");
  else /* float to integer truncates as C does */
    emit_unary_map(e, n, mem_printf(e->g->mem, "(%s)x", ir_dtype_ctype(to)));
}

/* ---- gradient rules: a copy's gradient is the gradient, reshaped ---- */

static nn_status grad_reshape_like(ad_ctx *ad, const ir_node *n) {
  ad_give_grad(ad, n, 0, ad_reshape_to(ad, ad_out_grad(ad, n, 0), n->inputs[0]));
  return NN_OK;
}

/* Between float types the gradient is cast back; from integers or bools
 * (the perceptron's step, Greater then Cast) it is zero. */
static nn_status grad_cast(ad_ctx *ad, const ir_node *n) {
  ir_dtype from = n->inputs[0]->dtype;
  if (from != IR_FLOAT && from != IR_DOUBLE) {
    ad_zero_grad(ad, n, 0);
    return NN_OK;
  }
  ir_tensor *dy = ad_out_grad(ad, n, 0);
  if (dy->dtype == from) {
    ad_give_grad(ad, n, 0, dy);
    return NN_OK;
  }
  ir_node *b = ad_begin(ad, "", "Cast", 1, &dy, 1);
  ad_attr_int(ad, b, "to", from);
  ad_give_grad(ad, n, 0, ad_finish(ad, b));
  return NN_OK;
}

const op_def op_family_shape[] = {
    {"Reshape", "", infer_reshape, fold_copy, emit_copy, 0, OP_CONST(1), .grad = grad_reshape_like},
    {"Flatten", "", infer_flatten, fold_copy, emit_copy, 0, .grad = grad_reshape_like},
    {"Squeeze", "", infer_squeeze, fold_copy, emit_copy, 0, OP_CONST(1), .grad = grad_reshape_like},
    {"Unsqueeze", "", infer_unsqueeze, fold_copy, emit_copy, 0, OP_CONST(1), .grad = grad_reshape_like},
    {"Shape", "", infer_shape, fold_shape, emit_shape, OP_FOLD_ON_SHAPES},
    {"Size", "", infer_size, fold_size, emit_size, OP_FOLD_ON_SHAPES},
    {"Constant", "", infer_constant, fold_constant, emit_constant, 0},
    {"ConstantOfShape", "", infer_constant_of_shape, fold_constant_of_shape, emit_constant_of_shape,
     0, OP_CONST(0)},
    {"Cast", "", infer_cast, fold_cast, emit_cast, OP_ELEMENTWISE, .grad = grad_cast},
    {"CastLike", "", infer_cast, fold_cast, emit_cast, 0},
    {NULL},
};
