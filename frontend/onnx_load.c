/* ModelProto -> graph. Every problem is reported (file, node, what) and the
 * load goes on, so one run lists them all; NULL comes back if any occurred. */
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "onnx.h"
#include "onnx_internal.h"

typedef struct loader {
  const char *path;
  ir_graph *g;
  const Onnx__ModelProto *model;
  int errors;
} loader;

const char *onnx_dtype_name(int dtype) {
  static const char *const names[] = {
      "UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING",
      "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16",
      "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4", "INT4",
      "FLOAT4E2M1", "FLOAT8E8M0", "UINT2", "INT2"};
  if (dtype >= 0 && dtype < (int)(sizeof names / sizeof *names))
    return names[dtype];
  return "an unknown type";
}

static int opset_of(const Onnx__ModelProto *m, const char *domain) {
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const char *d = m->opset_import[i]->domain ? m->opset_import[i]->domain : "";
    if (strcmp(d, "ai.onnx") == 0)
      d = "";
    if (strcmp(d, domain ? domain : "") == 0)
      return (int)m->opset_import[i]->version;
  }
  return -1;
}

static void load_initializers(loader *L, const Onnx__GraphProto *gp) {
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *tp = gp->initializer[i];
    ir_tensor *t = ir_tensor_new(L->g, tp->name);
    if (onnx_decode_tensor(L->path, L->g->mem, tp, t, "initializer") != NN_OK)
      L->errors++;
  }
  if (gp->n_sparse_initializer) {
    diag_error(L->path, "sparse initializers are not supported");
    L->errors++;
  }
}

/* Graph input: dtype and shape from its ValueInfo; open dims keep their name. */
static void load_input(loader *L, const Onnx__ValueInfoProto *vi) {
  ir_tensor *existing = ir_tensor_find(L->g, vi->name);
  if (existing && existing->kind == IR_WEIGHT)
    return; /* old models list initializers among the inputs too */
  const Onnx__TypeProto *tp = vi->type;
  if (tp && (tp->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE ||
             tp->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE)) {
    /* Its length (or presence) comes later, from the data (`nncc run`):
     * then it becomes one tensor input per element (driver_bind_sequence). */
    ir_tensor *t = ir_tensor_new(L->g, vi->name);
    t->kind = IR_INPUT;
    t->seq = mem_alloc(L->g->mem, sizeof *t->seq);
    t->seq->optional = tp->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE;
    t->seq->n = -1;
    L->g->inputs[L->g->n_inputs++] = t;
    return;
  }
  if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
    diag_error(L->path, "graph input '%s': only tensor inputs are supported", vi->name);
    L->errors++;
    return;
  }
  const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
  ir_tensor *t = ir_tensor_new(L->g, vi->name);
  t->kind = IR_INPUT;
  if (!ir_dtype_known(tt->elem_type)) {
    diag_error(L->path, "graph input '%s': unsupported data type %s", vi->name,
               onnx_dtype_name(tt->elem_type));
    L->errors++;
  }
  t->dtype = (ir_dtype)tt->elem_type;
  if (!tt->shape) {
    t->rank = -1; /* unknown rank: --shape must give it */
  } else if (tt->shape->n_dim > IR_MAX_RANK) {
    diag_error(L->path, "graph input '%s': rank %zu is above nncc's limit of %d", vi->name,
               tt->shape->n_dim, IR_MAX_RANK);
    L->errors++;
  } else {
    t->rank = (int)tt->shape->n_dim;
    for (int d = 0; d < t->rank; d++) {
      const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
      if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dim->dim_value >= 0)
        t->dims[d] = dim->dim_value;
      else {
        t->dims[d] = -1;
        t->dim_params[d] = mem_strdup(L->g->mem,
            dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && dim->dim_param
                ? dim->dim_param : "?");
      }
    }
  }
  L->g->inputs[L->g->n_inputs++] = t;
}

static ir_tensor *attr_tensor(loader *L, const ir_node *n, const Onnx__TensorProto *tp) {
  ir_tensor *t = mem_alloc(L->g->mem, sizeof *t);
  t->name = mem_strdup(L->g->mem, tp->name ? tp->name : "");
  if (onnx_decode_tensor(L->path, L->g->mem, tp, t, "attribute tensor") != NN_OK) {
    diag_node(L->path, n, "bad tensor attribute");
    L->errors++;
  }
  return t;
}

static ir_graph *load_subgraph(loader *L, const ir_node *n, const Onnx__GraphProto *gp);

static void load_attrs(loader *L, ir_node *n, const onnx_flat_node *fn) {
  n->n_attrs = (int)fn->n_attribute;
  n->attrs = mem_alloc(L->g->mem, sizeof *n->attrs * (fn->n_attribute + 1));
  for (size_t i = 0; i < fn->n_attribute; i++) {
    const Onnx__AttributeProto *ap = fn->attrs[i];
    ir_attr *a = &n->attrs[i];
    a->name = mem_strdup(L->g->mem, fn->attr_names[i]);
    a->type = IR_ATTR_OTHER;
    switch (ap->type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: a->type = IR_ATTR_FLOAT; a->f = ap->f; break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: a->type = IR_ATTR_INT; a->i = ap->i; break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
      a->type = IR_ATTR_STRING;
      a->s = mem_alloc(L->g->mem, ap->s.len + 1);
      memcpy(a->s, ap->s.data, ap->s.len);
      break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
      if (ap->t) {
        a->type = IR_ATTR_TENSOR;
        a->t = attr_tensor(L, n, ap->t);
      }
      break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
      a->type = IR_ATTR_FLOATS;
      a->n = (int)ap->n_floats;
      a->floats = mem_alloc(L->g->mem, sizeof *a->floats * (ap->n_floats + 1));
      for (size_t k = 0; k < ap->n_floats; k++)
        a->floats[k] = ap->floats[k];
      break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
      a->type = IR_ATTR_INTS;
      a->n = (int)ap->n_ints;
      a->ints = mem_alloc(L->g->mem, sizeof *a->ints * (ap->n_ints + 1));
      memcpy(a->ints, ap->ints, sizeof *a->ints * ap->n_ints);
      break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS:
      a->type = IR_ATTR_STRINGS;
      a->n = (int)ap->n_strings;
      a->strings = mem_alloc(L->g->mem, sizeof *a->strings * (ap->n_strings + 1));
      for (size_t k = 0; k < ap->n_strings; k++) {
        a->strings[k] = mem_alloc(L->g->mem, ap->strings[k].len + 1);
        memcpy(a->strings[k], ap->strings[k].data, ap->strings[k].len);
      }
      break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH:
      if (ap->g)
        a->graph = load_subgraph(L, n, ap->g); /* If, Loop, Scan, SequenceMap */
      break;
    default:
      break; /* sparse tensors, type protos, lists of graphs: ops that need them say so */
    }
  }
}

/* Finds the tensor a node input names; reports it when nothing defines it. */
static ir_tensor *resolve_input(loader *L, const ir_node *n, const char *name, size_t k) {
  if (!name || !name[0])
    return NULL;
  ir_tensor *t = NULL;
  for (const ir_graph *scope = L->g; scope && !t; scope = scope->parent)
    t = ir_tensor_find(scope, name); /* a subgraph reads its enclosing graphs' names */
  if (!t) {
    diag_node(L->path, n, "input %zu '%s' is not produced by any node, initializer or graph input",
              k, name);
    L->errors++;
  }
  return t;
}

static void load_flat_nodes(loader *L, const onnx_flat_node *flat, size_t n_nodes) {
  /* Outputs first, so inputs resolve whatever order the file lists nodes in. */
  ir_node **nodes = xmalloc(sizeof *nodes * (n_nodes + 1));
  for (size_t i = 0; i < n_nodes; i++) {
    const onnx_flat_node *fn = &flat[i];
    ir_node *n = ir_node_new(L->g, fn->op_type, (int)fn->n_input, (int)fn->n_output);
    nodes[i] = n;
    n->name = mem_strdup(L->g->mem, fn->name);
    n->domain = mem_strdup(L->g->mem, fn->domain);
    n->opset = fn->opset ? fn->opset : opset_of(L->model, n->domain);
    load_attrs(L, n, fn);
    for (size_t k = 0; k < fn->n_output; k++) {
      const char *name = fn->outputs[k];
      if (!name || !name[0])
        continue;
      if (ir_tensor_find(L->g, name)) {
        diag_node(L->path, n, "output '%s' is already defined elsewhere in the graph", name);
        L->errors++;
        continue;
      }
      n->outputs[k] = ir_tensor_new(L->g, name);
    }
  }
  for (size_t i = 0; i < n_nodes; i++)
    for (size_t k = 0; k < flat[i].n_input; k++)
      nodes[i]->inputs[k] = resolve_input(L, nodes[i], flat[i].inputs[k], k);
  free(nodes);
}

static void load_nodes(loader *L) {
  size_t n_nodes = 0;
  onnx_flat_node *flat = onnx_flatten_graph(L->path, L->g->mem, L->model, &n_nodes, &L->errors);
  load_flat_nodes(L, flat, n_nodes);
}

/* A graph attribute: its own tensors, nodes read outer names directly (the
 * scope chain through ir_graph.parent). Tensor ids come from the model's
 * counter, so they are unique across every graph. Functions are not
 * expanded inside subgraphs. */
static ir_graph *load_subgraph(loader *L, const ir_node *n, const Onnx__GraphProto *gp) {
  ir_graph *root = L->g;
  while (root->parent)
    root = root->parent;
  ir_graph *sub = ir_graph_new(L->g->mem, L->path);
  sub->name = mem_strdup(sub->mem, gp->name ? gp->name : "");
  sub->parent = L->g;
  sub->next_id = root->next_id;
  loader S = {.path = L->path, .g = sub, .model = L->model};
  load_initializers(&S, gp);
  sub->inputs = mem_alloc(sub->mem, sizeof *sub->inputs * (gp->n_input + 1));
  for (size_t i = 0; i < gp->n_input; i++) /* formal parameters: typed by the actuals */
    sub->inputs[sub->n_inputs++] = ir_tensor_new(sub, gp->input[i]->name);
  onnx_flat_node *flat = mem_alloc(sub->mem, sizeof *flat * (gp->n_node + 1));
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    const char **names = mem_alloc(sub->mem, sizeof *names * (np->n_attribute + 1));
    for (size_t k = 0; k < np->n_attribute; k++)
      names[k] = np->attribute[k]->name ? np->attribute[k]->name : "";
    flat[i] = (onnx_flat_node){.np = np, .name = np->name ? np->name : "",
                               .op_type = np->op_type ? np->op_type : "",
                               .domain = np->domain ? np->domain : "",
                               .inputs = (const char **)np->input, .n_input = np->n_input,
                               .outputs = (const char **)np->output, .n_output = np->n_output,
                               .attrs = (const Onnx__AttributeProto **)np->attribute,
                               .attr_names = names, .n_attribute = np->n_attribute};
  }
  load_flat_nodes(&S, flat, gp->n_node);
  sub->outputs = mem_alloc(sub->mem, sizeof *sub->outputs * (gp->n_output + 1));
  for (size_t i = 0; i < gp->n_output; i++) {
    ir_tensor *t = resolve_input(&S, n, gp->output[i]->name, i);
    if (t)
      sub->outputs[sub->n_outputs++] = t;
  }
  L->errors += S.errors;
  root->next_id = sub->next_id;
  return sub;
}

static void load_outputs(loader *L, const Onnx__GraphProto *gp) {
  ir_graph *g = L->g;
  g->outputs = mem_alloc(g->mem, sizeof *g->outputs * (gp->n_output + 1));
  for (size_t i = 0; i < gp->n_output; i++) {
    const char *name = gp->output[i]->name ? gp->output[i]->name : "";
    ir_tensor *t = ir_tensor_find(g, name);
    if (!t) {
      diag_error(L->path, "graph output '%s' is not produced by any node", name);
      L->errors++;
      continue;
    }
    if (t->kind != IR_ACTIVATION || t->is_output) {
      /* An output that is an input, a weight, or another output gets its own
       * copy, so every output is written by exactly one node. */
      ir_node *n = ir_node_new(g, "Identity", 1, 1);
      n->name = mem_printf(g->mem, "copy_to_output_%zu", i);
      n->opset = opset_of(L->model, "");
      n->inputs[0] = t;
      t = n->outputs[0] = ir_tensor_new(g, mem_printf(g->mem, "%s (output %zu)", name, i));
    }
    t->is_output = true;
    g->outputs[g->n_outputs++] = t;
  }
}

ir_graph *onnx_load(const char *path, mem_arena *mem) {
  size_t size;
  unsigned char *buf = file_read(path, &size);
  if (!buf)
    return NULL;
  Onnx__ModelProto *model = onnx__model_proto__unpack(NULL, size, buf);
  free(buf);
  if (!model) {
    diag_error(path, "not an ONNX model: the protobuf does not parse (truncated or another format)");
    return NULL;
  }
  loader L = {.path = path, .model = model};
  if (!model->graph || model->n_opset_import == 0) {
    diag_error(path, "not an ONNX model: %s", model->graph ? "no opset_import" : "no graph");
    onnx__model_proto__free_unpacked(model, NULL);
    return NULL;
  }
  L.g = ir_graph_new(mem, path);
  L.g->name = mem_strdup(mem, model->graph->name ? model->graph->name : "");
  load_initializers(&L, model->graph);
  L.g->inputs = mem_alloc(mem, sizeof *L.g->inputs * (model->graph->n_input + 1));
  for (size_t i = 0; i < model->graph->n_input; i++)
    load_input(&L, model->graph->input[i]);
  load_nodes(&L);
  load_outputs(&L, model->graph);
  onnx__model_proto__free_unpacked(model, NULL);
  if (L.errors == 0 && ir_schedule(L.g) != NN_OK)
    L.errors++;
  return L.errors ? NULL : L.g;
}
