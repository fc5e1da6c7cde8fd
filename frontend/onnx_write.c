/* Graph -> ModelProto: the way back out to ONNX. After shape inference and
 * folding the IR still holds standard ONNX nodes, so writing is a direct
 * mapping. Every protobuf-c struct lives in a scratch arena freed at once;
 * messages point into the IR's own arrays where the types agree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "narrow.h"
#include "onnx.h"
#include "onnx_internal.h"
#include "version.h"

/* ONNX 1.13's IR version: nothing nncc writes needs a newer one, and
 * onnxruntime and the checker take it with later opsets too. */
#define EXPORT_IR_VERSION 8

typedef struct writer {
  const ir_graph *g;
  mem_arena *mem;      /* scratch: protobuf structs and copies */
  char **names;        /* by tensor id: the unique name written for it */
  char **taken;        /* open-addressing set of names handed out */
  size_t cap_taken;    /* a power of two, at least twice the tensor count */
  bool *initialized;   /* by tensor id: already written as an initializer */
  int errors;
} writer;

#define NEW_MSG(w, var, init_fn)                                               \
  do {                                                                         \
    (var) = mem_alloc((w)->mem, sizeof *(var));                                \
    init_fn(var);                                                              \
  } while (0)

/* ---- names: ONNX wants every value named once; IR names may be empty or,
 * from a frontend that does not care, repeated. The first keeps its name. */

static size_t name_hash(const char *s) {
  size_t h = 1469598103934665603u;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211u;
  return h;
}

/* Claims s when free; false when it is already taken. */
static bool claim(writer *w, char *s) {
  size_t i = name_hash(s) & (w->cap_taken - 1);
  for (; w->taken[i]; i = (i + 1) & (w->cap_taken - 1))
    if (strcmp(w->taken[i], s) == 0)
      return false;
  w->taken[i] = s;
  return true;
}

static const char *name_of(writer *w, const ir_tensor *t) {
  if (w->names[t->id])
    return w->names[t->id];
  char *s = t->name[0] ? mem_strdup(w->mem, t->name) : mem_printf(w->mem, "tensor_%d", t->id);
  for (int k = 1; !claim(w, s); k++)
    s = mem_printf(w->mem, "%s_%d", t->name[0] ? t->name : "tensor", k);
  return w->names[t->id] = s;
}

/* ---- tensors ---- */

static bool host_little_endian(void) {
  const uint16_t one = 1;
  return *(const unsigned char *)&one == 1;
}

/* raw_data is little-endian whatever the host is. */
static ProtobufCBinaryData raw_bytes(writer *w, const ir_tensor *t) {
  size_t bytes = ir_bytes(t), size = ir_dtype_size(t->dtype);
  ProtobufCBinaryData b = {bytes, t->data};
  if (narrow_packed_bits(t->dtype)) { /* one element per byte in nncc, packed in ONNX */
    b.len = narrow_packed_size(t->dtype, ir_numel(t));
    b.data = mem_alloc(w->mem, b.len + 1);
    narrow_pack(t->dtype, t->data, b.data, ir_numel(t));
    return b;
  }
  if (host_little_endian() || size == 1)
    return b;
  b.data = mem_alloc(w->mem, bytes);
  const unsigned char *src = t->data;
  for (size_t i = 0; i < bytes; i += size)
    for (size_t k = 0; k < size; k++)
      b.data[i + k] = src[i + size - 1 - k];
  return b;
}

static Onnx__TensorProto *tensor_proto(writer *w, const ir_tensor *t, const char *name) {
  Onnx__TensorProto *tp;
  NEW_MSG(w, tp, onnx__tensor_proto__init);
  tp->name = name[0] ? (char *)name : NULL;
  tp->n_dims = (size_t)t->rank;
  tp->dims = mem_alloc(w->mem, sizeof *tp->dims * (size_t)(t->rank + 1));
  memcpy(tp->dims, t->dims, sizeof *tp->dims * (size_t)t->rank);
  tp->has_data_type = true;
  tp->data_type = (int32_t)t->dtype;
  if (t->dtype == IR_STRING) { /* ONNX keeps strings in string_data, never raw */
    int64_t n = ir_numel(t);
    tp->n_string_data = (size_t)n;
    tp->string_data = mem_alloc(w->mem, sizeof *tp->string_data * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++) {
      char *s = ((char *const *)t->data)[i];
      tp->string_data[i] = (ProtobufCBinaryData){strlen(s), (uint8_t *)s};
    }
    return tp;
  }
  tp->has_raw_data = true;
  tp->raw_data = raw_bytes(w, t);
  return tp;
}

/* ---- values: graph inputs and outputs ---- */

/* known: write t's dims; else only its rank (the checker wants a shape). */
static Onnx__TensorShapeProto *shape_proto(writer *w, const ir_tensor *t, bool known) {
  Onnx__TensorShapeProto *sp;
  NEW_MSG(w, sp, onnx__tensor_shape_proto__init);
  sp->n_dim = (size_t)t->rank;
  sp->dim = mem_alloc(w->mem, sizeof *sp->dim * (size_t)(t->rank + 1));
  for (int d = 0; d < t->rank; d++) {
    Onnx__TensorShapeProto__Dimension *dim;
    NEW_MSG(w, dim, onnx__tensor_shape_proto__dimension__init);
    if (known && t->dim_params[d]) {
      /* An open dim keeps its name, also when a frontend gave it a default
       * size to compile with (the .nn batch: "1 unless --shape says"). */
      dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      dim->dim_param = t->dim_params[d];
    } else if (known && t->dims[d] >= 0) {
      dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      dim->dim_value = t->dims[d];
    } /* else neither value nor name: an unknown dimension */
    sp->dim[d] = dim;
  }
  return sp;
}

/* dims: write them, else the rank only (or nothing when that is unknown). */
static Onnx__ValueInfoProto *value_info(writer *w, const ir_tensor *t, bool dims) {
  Onnx__TypeProto__Tensor *tt;
  NEW_MSG(w, tt, onnx__type_proto__tensor__init);
  tt->has_elem_type = t->dtype != IR_UNDEFINED;
  tt->elem_type = (int32_t)t->dtype;
  tt->shape = t->rank >= 0 && (t->shaped || t->kind == IR_INPUT) ? shape_proto(w, t, dims) : NULL;
  Onnx__TypeProto *type;
  NEW_MSG(w, type, onnx__type_proto__init);
  type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  type->tensor_type = tt;
  Onnx__ValueInfoProto *vi;
  NEW_MSG(w, vi, onnx__value_info_proto__init);
  vi->name = (char *)name_of(w, t);
  vi->type = type;
  return vi;
}

/* Output shapes were inferred for the inputs' current sizes; with an input
 * dim left open they would claim more than the graph promises, so outputs
 * then give their rank only. */
static bool inputs_fixed(const ir_graph *g) {
  for (int i = 0; i < g->n_inputs; i++)
    for (int d = 0; d < g->inputs[i]->rank; d++)
      if (g->inputs[i]->dim_params[d] || g->inputs[i]->dims[d] < 0)
        return false;
  return true;
}

/* ---- nodes ---- */

static bool attr_value(writer *w, Onnx__AttributeProto *ap, const ir_attr *a) {
  switch (a->type) {
  case IR_ATTR_FLOAT:
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    ap->has_f = true;
    ap->f = (float)a->f;
    return true;
  case IR_ATTR_INT:
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    ap->has_i = true;
    ap->i = a->i;
    return true;
  case IR_ATTR_STRING:
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    ap->has_s = true;
    ap->s = (ProtobufCBinaryData){strlen(a->s), (uint8_t *)a->s};
    return true;
  case IR_ATTR_TENSOR:
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    ap->t = tensor_proto(w, a->t, a->t->name ? a->t->name : "");
    return true;
  case IR_ATTR_FLOATS:
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    ap->n_floats = (size_t)a->n;
    ap->floats = mem_alloc(w->mem, sizeof *ap->floats * (size_t)(a->n + 1));
    for (int k = 0; k < a->n; k++)
      ap->floats[k] = (float)a->floats[k];
    return true;
  case IR_ATTR_INTS:
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    ap->n_ints = (size_t)a->n;
    ap->ints = a->ints;
    return true;
  case IR_ATTR_STRINGS:
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
    ap->n_strings = (size_t)a->n;
    ap->strings = mem_alloc(w->mem, sizeof *ap->strings * (size_t)(a->n + 1));
    for (int k = 0; k < a->n; k++)
      ap->strings[k] = (ProtobufCBinaryData){strlen(a->strings[k]), (uint8_t *)a->strings[k]};
    return true;
  case IR_ATTR_OTHER:
    break;
  }
  return false;
}

static Onnx__AttributeProto *attr_proto(writer *w, const ir_node *n, const ir_attr *a) {
  Onnx__AttributeProto *ap;
  NEW_MSG(w, ap, onnx__attribute_proto__init);
  ap->name = a->name;
  ap->has_type = true;
  if (!attr_value(w, ap, a)) {
    /* The loader keeps no value for graphs, sparse tensors, type protos and
     * references: writing the node without it would change its meaning. */
    diag_node(w->g->path, n, "attribute '%s' has a type nncc does not keep; cannot export it",
              a->name);
    w->errors++;
  }
  return ap;
}

/* Node inputs that are weights become initializers, in order of first use. */
static void add_initializer(writer *w, Onnx__GraphProto *gp, const ir_tensor *t) {
  if (!t || t->kind != IR_WEIGHT || w->initialized[t->id])
    return;
  w->initialized[t->id] = true;
  gp->initializer[gp->n_initializer++] = tensor_proto(w, t, name_of(w, t));
}

/* An omitted optional input or output keeps its position as "". */
static char **value_names(writer *w, ir_tensor *const *ts, int n) {
  char **names = mem_alloc(w->mem, sizeof *names * (size_t)(n + 1));
  for (int k = 0; k < n; k++)
    names[k] = ts[k] ? (char *)name_of(w, ts[k]) : "";
  return names;
}

static Onnx__NodeProto *node_proto(writer *w, Onnx__GraphProto *gp, const ir_node *n) {
  Onnx__NodeProto *np;
  NEW_MSG(w, np, onnx__node_proto__init);
  np->name = n->name[0] ? n->name : NULL;
  np->op_type = n->op_type;
  np->domain = n->domain && n->domain[0] ? n->domain : NULL;
  for (int k = 0; k < n->n_inputs; k++)
    add_initializer(w, gp, n->inputs[k]);
  np->n_input = (size_t)n->n_inputs;
  np->input = value_names(w, n->inputs, n->n_inputs);
  np->n_output = (size_t)n->n_outputs;
  np->output = value_names(w, n->outputs, n->n_outputs);
  np->n_attribute = (size_t)n->n_attrs;
  np->attribute = mem_alloc(w->mem, sizeof *np->attribute * (size_t)(n->n_attrs + 1));
  for (int i = 0; i < n->n_attrs; i++)
    np->attribute[i] = attr_proto(w, n, &n->attrs[i]);
  return np;
}

/* ---- graph and model ---- */

static Onnx__GraphProto *graph_proto(writer *w) {
  const ir_graph *g = w->g;
  Onnx__GraphProto *gp;
  NEW_MSG(w, gp, onnx__graph_proto__init);
  gp->name = g->name && g->name[0] ? g->name : "nncc"; /* the checker wants one */
  /* Names in a fixed order, so a collision renames the later tensor; the
   * graph's inputs and outputs first, as callers know them by name. */
  for (int i = 0; i < g->n_inputs; i++)
    name_of(w, g->inputs[i]);
  for (int i = 0; i < g->n_outputs; i++)
    name_of(w, g->outputs[i]);
  for (int i = 0; i < g->n_tensors; i++)
    name_of(w, g->tensors[i]);
  gp->n_input = (size_t)g->n_inputs;
  gp->input = mem_alloc(w->mem, sizeof *gp->input * (size_t)(g->n_inputs + 1));
  for (int i = 0; i < g->n_inputs; i++)
    gp->input[i] = value_info(w, g->inputs[i], true);
  gp->initializer = mem_alloc(w->mem, sizeof *gp->initializer * (size_t)(g->next_id + 1));
  gp->node = mem_alloc(w->mem, sizeof *gp->node * (size_t)(g->n_nodes + 1));
  for (int i = 0; i < g->n_nodes; i++)
    if (!g->nodes[i]->dead)
      gp->node[gp->n_node++] = node_proto(w, gp, g->nodes[i]);
  gp->n_output = (size_t)g->n_outputs;
  gp->output = mem_alloc(w->mem, sizeof *gp->output * (size_t)(g->n_outputs + 1));
  bool fixed = inputs_fixed(g);
  for (int i = 0; i < g->n_outputs; i++) {
    add_initializer(w, gp, g->outputs[i]); /* only if a frontend made it a weight */
    gp->output[i] = value_info(w, g->outputs[i], fixed);
  }
  return gp;
}

/* One opset_import per domain the nodes use, at the highest version any of
 * them carries ("ai.onnx" is the default domain under its other name). */
static void opset_imports(writer *w, Onnx__ModelProto *m) {
  const ir_graph *g = w->g;
  m->opset_import = mem_alloc(w->mem, sizeof *m->opset_import * (size_t)(g->n_nodes + 1));
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = g->nodes[i];
    if (n->dead)
      continue;
    const char *domain = n->domain && strcmp(n->domain, "ai.onnx") != 0 ? n->domain : "";
    size_t k = 0;
    while (k < m->n_opset_import && strcmp(m->opset_import[k]->domain, domain) != 0)
      k++;
    if (k == m->n_opset_import) {
      NEW_MSG(w, m->opset_import[k], onnx__operator_set_id_proto__init);
      m->opset_import[k]->domain = (char *)domain;
      m->opset_import[k]->has_version = true;
      m->n_opset_import++;
    }
    if (n->opset > m->opset_import[k]->version)
      m->opset_import[k]->version = n->opset;
  }
  for (size_t k = 0; k < m->n_opset_import; k++)
    if (m->opset_import[k]->version <= 0) {
      diag_error(g->path, "no node says which opset of domain '%s' it follows; cannot export",
                 m->opset_import[k]->domain);
      w->errors++;
    }
}

static nn_status pack(const ir_graph *g, const Onnx__ModelProto *m, unsigned char **bytes,
                      size_t *size) {
  *size = onnx__model_proto__get_packed_size(m);
  if (*size > (size_t)INT32_MAX) /* protobuf's hard limit for one message */
    return diag_error(g->path, "the model is %zu bytes, over the 2 GiB a single ONNX file can hold",
                      *size);
  *bytes = xmalloc(*size ? *size : 1);
  onnx__model_proto__pack(m, *bytes);
  return NN_OK;
}

nn_status onnx_write(const ir_graph *g, const char *path) {
  unsigned char *bytes;
  size_t size;
  if (onnx_serialize(g, &bytes, &size) != NN_OK)
    return NN_ERR;
  nn_status st = file_write_atomic(path, bytes, size);
  free(bytes);
  return st;
}

nn_status onnx_serialize(const ir_graph *g, unsigned char **bytes, size_t *size) {
  writer w = {.g = g, .mem = mem_new()};
  w.names = mem_alloc(w.mem, sizeof *w.names * (size_t)(g->next_id + 1));
  w.initialized = mem_alloc(w.mem, sizeof *w.initialized * (size_t)(g->next_id + 1));
  for (w.cap_taken = 16; w.cap_taken < 2 * (size_t)g->next_id;)
    w.cap_taken *= 2;
  w.taken = mem_alloc(w.mem, sizeof *w.taken * w.cap_taken);

  Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
  m.has_ir_version = true;
  m.ir_version = EXPORT_IR_VERSION;
  m.producer_name = "nncc";
  m.producer_version = NNCC_VERSION;
  opset_imports(&w, &m);
  m.graph = graph_proto(&w);
  nn_status st = w.errors ? NN_ERR : pack(g, &m, bytes, size);
  mem_free(w.mem);
  return st;
}
