#include "ir.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "diag.h"
#include "half.h"
#include "narrow.h"

const char *ir_dtype_name(ir_dtype t) {
  switch (t) {
#define X(id, num, name, ctype, size) case IR_##id: return name;
    IR_DTYPES(X)
#undef X
  }
  return "unknown";
}

const char *ir_dtype_ctype(ir_dtype t) {
  switch (t) {
#define X(id, num, name, ctype, size) case IR_##id: return ctype;
    IR_DTYPES(X)
#undef X
  }
  return "void";
}

size_t ir_dtype_size(ir_dtype t) {
  switch (t) {
#define X(id, num, name, ctype, size) case IR_##id: return size;
    IR_DTYPES(X)
#undef X
  }
  return 0;
}

bool ir_dtype_known(int t) {
  switch (t) {
#define X(id, num, name, ctype, size) case num: return num != 0;
    IR_DTYPES(X)
#undef X
  }
  return false;
}

ir_graph *ir_graph_new(mem_arena *mem, const char *path) {
  ir_graph *g = mem_alloc(mem, sizeof *g);
  g->mem = mem;
  g->path = path ? mem_strdup(mem, path) : "<model>";
  g->name = "";
  g->string_bytes = IR_STRING_BYTES_DEFAULT;
  return g;
}

ir_tensor *ir_tensor_new(ir_graph *g, const char *name) {
  ir_tensor *t = mem_alloc(g->mem, sizeof *t);
  t->name = mem_strdup(g->mem, name ? name : "");
  t->id = g->next_id++;
  g->tensors = mem_grow(g->mem, g->tensors, sizeof *g->tensors, &g->cap_tensors,
                        g->n_tensors + 1);
  g->tensors[g->n_tensors++] = t;
  return t;
}

ir_tensor *ir_tensor_find(const ir_graph *g, const char *name) {
  for (int i = 0; i < g->n_tensors; i++)
    if (strcmp(g->tensors[i]->name, name) == 0)
      return g->tensors[i];
  return NULL;
}

ir_node *ir_node_new(ir_graph *g, const char *op_type, int n_inputs, int n_outputs) {
  ir_node *n = mem_alloc(g->mem, sizeof *n);
  n->name = "";
  n->op_type = mem_strdup(g->mem, op_type);
  n->domain = "";
  n->n_inputs = n_inputs;
  n->n_outputs = n_outputs;
  n->inputs = mem_alloc(g->mem, sizeof *n->inputs * (size_t)(n_inputs + 1));
  n->outputs = mem_alloc(g->mem, sizeof *n->outputs * (size_t)(n_outputs + 1));
  g->nodes = mem_grow(g->mem, g->nodes, sizeof *g->nodes, &g->cap_nodes, g->n_nodes + 1);
  g->nodes[g->n_nodes++] = n;
  return n;
}

ir_node *ir_node_insert(ir_graph *g, int pos, const char *op_type, int n_inputs, int n_outputs) {
  ir_node *n = ir_node_new(g, op_type, n_inputs, n_outputs);
  for (int i = g->n_nodes - 1; i > pos; i--)
    g->nodes[i] = g->nodes[i - 1];
  g->nodes[pos] = n;
  return n;
}

void ir_node_set_int_attr(ir_graph *g, ir_node *n, const char *name, int64_t v) {
  ir_attr *attrs = mem_alloc(g->mem, sizeof *attrs * (size_t)(n->n_attrs + 1));
  if (n->n_attrs)
    memcpy(attrs, n->attrs, sizeof *attrs * (size_t)n->n_attrs);
  attrs[n->n_attrs] = (ir_attr){.name = mem_strdup(g->mem, name), .type = IR_ATTR_INT, .i = v};
  n->attrs = attrs;
  n->n_attrs++;
}

static void mark(const ir_tensor *t, bool *used) {
  if (t)
    used[t->id] = true;
}

void ir_compact(ir_graph *g) {
  int k = 0;
  for (int i = 0; i < g->n_nodes; i++)
    if (!g->nodes[i]->dead)
      g->nodes[k++] = g->nodes[i];
  g->n_nodes = k;

  bool *used = mem_alloc(g->mem, sizeof *used * (size_t)(g->next_id + 1));
  for (int i = 0; i < g->n_inputs; i++)
    mark(g->inputs[i], used);
  for (int i = 0; i < g->n_outputs; i++)
    mark(g->outputs[i], used);
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = g->nodes[i];
    for (int j = 0; j < n->n_inputs; j++)
      mark(n->inputs[j], used);
    for (int j = 0; j < n->n_outputs; j++)
      mark(n->outputs[j], used);
  }
  k = 0;
  for (int i = 0; i < g->n_tensors; i++)
    if (used[g->tensors[i]->id])
      g->tensors[k++] = g->tensors[i];
  g->n_tensors = k;
}

int64_t ir_numel(const ir_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->rank; i++)
    n *= t->dims[i];
  return n;
}

size_t ir_bytes(const ir_tensor *t) { return (size_t)ir_numel(t) * ir_dtype_size(t->dtype); }

void ir_set_shape(ir_tensor *t, ir_dtype dtype, int rank, const int64_t *dims) {
  NN_ASSERT(rank >= 0 && rank <= IR_MAX_RANK);
  t->dtype = dtype;
  t->rank = rank;
  for (int i = 0; i < rank; i++)
    t->dims[i] = dims[i];
  t->shaped = true;
}

const char *ir_shape_str(const ir_tensor *t, char *buf, size_t size) {
  size_t used = (size_t)snprintf(buf, size, "[");
  for (int i = 0; i < t->rank && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, "%s%" PRId64, i ? "," : "", t->dims[i]);
  if (used < size)
    snprintf(buf + used, size - used, "]");
  return buf;
}

void *ir_make_weight(ir_graph *g, ir_tensor *t) {
  t->kind = IR_WEIGHT;
  t->data = mem_alloc(g->mem, ir_bytes(t));
  return t->data;
}

int64_t ir_weight_int(const ir_tensor *t, int64_t i) {
  const void *d = t->data;
  switch (t->dtype) {
  case IR_FLOAT: return (int64_t)((const float *)d)[i];
  case IR_DOUBLE: return (int64_t)((const double *)d)[i];
  case IR_UINT8: case IR_BOOL: return ((const uint8_t *)d)[i];
  case IR_INT8: return ((const int8_t *)d)[i];
  case IR_UINT16: return ((const uint16_t *)d)[i];
  case IR_INT16: return ((const int16_t *)d)[i];
  case IR_INT32: return ((const int32_t *)d)[i];
  case IR_INT64: return ((const int64_t *)d)[i];
  case IR_UINT32: return ((const uint32_t *)d)[i];
  case IR_UINT64: return (int64_t)((const uint64_t *)d)[i];
  case IR_FLOAT16: case IR_BFLOAT16: return (int64_t)ir_weight_float(t, i);
  case IR_INT4: case IR_INT2: return ((const int8_t *)d)[i];
  case IR_UINT4: case IR_UINT2: return ((const uint8_t *)d)[i];
  case IR_FLOAT8E4M3FN: case IR_FLOAT8E4M3FNUZ: case IR_FLOAT8E5M2: case IR_FLOAT8E5M2FNUZ:
  case IR_FLOAT4E2M1: case IR_FLOAT8E8M0: { /* NaN and Inf (no int64 value) read as 0 */
    double v = ir_weight_float(t, i);
    return v == v && v > -9.2e18 && v < 9.2e18 ? (int64_t)v : 0;
  }
  case IR_STRING: case IR_UNDEFINED: break;
  }
  NN_BUG("numeric value of a string or undefined weight");
}

double ir_weight_float(const ir_tensor *t, int64_t i) {
  switch (t->dtype) {
  case IR_FLOAT: return ((const float *)t->data)[i];
  case IR_DOUBLE: return ((const double *)t->data)[i];
  case IR_UINT64: return (double)((const uint64_t *)t->data)[i];
  case IR_FLOAT16: return half_to_float(((const uint16_t *)t->data)[i]);
  case IR_BFLOAT16: return bfloat16_to_float(((const uint16_t *)t->data)[i]);
  case IR_FLOAT8E4M3FN: case IR_FLOAT8E4M3FNUZ: case IR_FLOAT8E5M2: case IR_FLOAT8E5M2FNUZ:
  case IR_FLOAT4E2M1: case IR_FLOAT8E8M0:
    return narrow_to_float(t->dtype, ((const uint8_t *)t->data)[i]);
  default: return (double)ir_weight_int(t, i);
  }
}

const ir_attr *ir_attr_find(const ir_node *n, const char *name) {
  for (int i = 0; i < n->n_attrs; i++)
    if (strcmp(n->attrs[i].name, name) == 0)
      return &n->attrs[i];
  return NULL;
}

int64_t ir_attr_int(const ir_node *n, const char *name, int64_t dflt) {
  const ir_attr *a = ir_attr_find(n, name);
  return a && a->type == IR_ATTR_INT ? a->i : dflt;
}

double ir_attr_float(const ir_node *n, const char *name, double dflt) {
  const ir_attr *a = ir_attr_find(n, name);
  if (a && a->type == IR_ATTR_FLOAT)
    return a->f;
  return a && a->type == IR_ATTR_INT ? (double)a->i : dflt;
}

const char *ir_attr_string(const ir_node *n, const char *name, const char *dflt) {
  const ir_attr *a = ir_attr_find(n, name);
  return a && a->type == IR_ATTR_STRING ? a->s : dflt;
}

int ir_attr_ints(const ir_node *n, const char *name, const int64_t **vals) {
  const ir_attr *a = ir_attr_find(n, name);
  *vals = NULL;
  if (!a || a->type != IR_ATTR_INTS)
    return 0;
  *vals = a->ints;
  return a->n;
}

ir_tensor *ir_in(const ir_node *n, int k) { return k < n->n_inputs ? n->inputs[k] : NULL; }
ir_tensor *ir_out(const ir_node *n, int k) { return k < n->n_outputs ? n->outputs[k] : NULL; }

/* A string weight's data is an array of host `char *` in 8-byte slots (its
 * dtype size): nncc builds on 64-bit hosts. */
_Static_assert(sizeof(char *) == 8, "string weights keep host pointers in 8-byte slots");
