/* ai.onnx.ml LabelEncoder: a map from keys to values, given as attribute
 * lists (keys_strings, values_int64s...) or tensors (keys_tensor,
 * values_tensor, default_tensor, opset 4). Keys and values may be strings,
 * int64 or float (opset 4 tensors: any of the IR's numeric types). The
 * generated code searches a static table; a float NaN key matches NaN. */
#include <stdio.h>

#include "common.h"

#define FMT(...) mem_printf(e->g->mem, __VA_ARGS__)

/* One side of the map (keys, values or the default) as a small tensor. */
typedef struct side {
  ir_dtype dtype;
  int64_t n;
  const ir_tensor *t; /* from a tensor attribute; NULL for a list */
  const ir_attr *list;
} side;

static bool take_side(const ir_node *n, const char *stem, side *s) {
  char name[48];
  snprintf(name, sizeof name, "%s_tensor", stem);
  const ir_attr *a = ir_attr_find(n, name);
  if (a && a->type == IR_ATTR_TENSOR && a->t) {
    *s = (side){a->t->dtype, ir_numel(a->t), a->t, NULL};
    return true;
  }
  static const struct { const char *suffix; ir_dtype t; } lists[] = {
      {"strings", IR_STRING}, {"int64s", IR_INT64}, {"floats", IR_FLOAT}};
  for (size_t k = 0; k < sizeof lists / sizeof *lists; k++) {
    snprintf(name, sizeof name, "%s_%s", stem, lists[k].suffix);
    a = ir_attr_find(n, name);
    if (a && a->n > 0) {
      *s = (side){lists[k].t, a->n, NULL, a};
      return true;
    }
  }
  return false;
}

/* Element i of a side as a C literal of its dtype. */
static const char *side_literal(emit_ctx *e, const side *s, int64_t i) {
  if (s->dtype == IR_STRING)
    return emit_string_literal(e, s->t ? ((char *const *)s->t->data)[i] : s->list->strings[i]);
  if (s->t)
    return s->dtype == IR_FLOAT || s->dtype == IR_DOUBLE ? emit_literal(e, s->dtype, ir_weight_float(s->t, i))
                                                       : FMT("%lld", (long long)ir_weight_int(s->t, i));
  if (s->dtype == IR_FLOAT)
    return emit_float(e, s->list->floats[i]);
  return FMT("%lld", (long long)s->list->ints[i]);
}

/* The default value: default_tensor, else the list default of the values' type. */
static const char *default_literal(emit_ctx *e, const ir_node *n, ir_dtype t) {
  const ir_attr *a = ir_attr_find(n, "default_tensor");
  if (a && a->type == IR_ATTR_TENSOR && a->t && ir_numel(a->t) >= 1) {
    side s = {a->t->dtype, 1, a->t, NULL};
    return side_literal(e, &s, 0);
  }
  if (t == IR_STRING)
    return emit_string_literal(e, ir_attr_string(n, "default_string", "_Unused"));
  if (t == IR_INT64)
    return FMT("%lld", (long long)ir_attr_int(n, "default_int64", -1));
  return emit_float(e, ir_attr_float(n, "default_float", -0.0));
}

static nn_status infer_label_encoder(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1))
    return NN_ERR;
  if (n->opset < 2)
    return diag_node(g->path, n, "LabelEncoder-1 (classes_strings) is not supported; opset 2 and later are");
  side keys, values;
  if (!take_side(n, "keys", &keys) || !take_side(n, "values", &values))
    return diag_node(g->path, n, "keys and values must both be given (keys_* and values_* lists or tensors)");
  if (keys.n != values.n)
    return diag_node(g->path, n, "%lld keys but %lld values", (long long)keys.n, (long long)values.n);
  const ir_tensor *x = n->inputs[0];
  bool x_float = x->dtype == IR_FLOAT || x->dtype == IR_DOUBLE;
  bool k_float = keys.dtype == IR_FLOAT || keys.dtype == IR_DOUBLE;
  if ((x->dtype == IR_STRING) != (keys.dtype == IR_STRING) || x_float != k_float)
    return diag_node(g->path, n, "input of type %s cannot be looked up among %s keys",
                     ir_dtype_name(x->dtype), ir_dtype_name(keys.dtype));
  if (values.dtype == IR_FLOAT16 || values.dtype == IR_BFLOAT16 || keys.dtype == IR_FLOAT16 ||
      keys.dtype == IR_BFLOAT16)
    return diag_node(g->path, n, "16-bit float keys or values are not supported");
  ir_set_shape(n->outputs[0], values.dtype, x->rank, x->dims);
  return NN_OK;
}

static void emit_label_encoder(emit_ctx *e, const ir_node *n) {
  side keys, values;
  take_side(n, "keys", &keys);
  take_side(n, "values", &values);
  const ir_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (ir_numel(x) == 0)
    return;
  const char *kt = ir_dtype_ctype(keys.dtype), *vt = ir_dtype_ctype(values.dtype);
  emit_line(e, "static const %s keys[%lld] = {", kt, (long long)keys.n);
  for (int64_t i = 0; i < keys.n; i++)
    emit_line(e, "  %s,", side_literal(e, &keys, i));
  emit_line(e, "};");
  emit_line(e, "static const %s values[%lld] = {", vt, (long long)values.n);
  for (int64_t i = 0; i < values.n; i++)
    emit_line(e, "  %s,", side_literal(e, &values, i));
  emit_line(e, "};");
  emit_for(e, "i", ir_numel(x));
  emit_line(e, "%s v = %s;", vt, default_literal(e, n, y->dtype));
  emit_open(e, "for (int64_t k = 0; k < %lld; k++)", (long long)keys.n);
  if (keys.dtype == IR_STRING)
    emit_line(e, "if (strcmp(in0[i], keys[k]) == 0) {");
  else if (keys.dtype == IR_FLOAT || keys.dtype == IR_DOUBLE)
    emit_line(e, "if (in0[i] == keys[k] || (in0[i] != in0[i] && keys[k] != keys[k])) {");
  else
    emit_line(e, "if (in0[i] == keys[k]) {");
  emit_line(e, "  v = values[k];");
  emit_line(e, "  break;");
  emit_line(e, "}");
  emit_close(e);
  emit_line(e, "out0[i] = v;");
  emit_close(e);
}

const op_def op_family_label_encoder[] = {
    {"LabelEncoder", "ai.onnx.ml", infer_label_encoder, NULL, emit_label_encoder, OP_ELEMENTWISE},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
