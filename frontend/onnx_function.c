/* Model-local functions (ModelProto.functions): every call expands into the
 * function's body, recursively, before the graph is built. A call is then
 * no different from having written the body inline, so nothing after the
 * frontend knows functions exist.
 *
 * Inside a body, names are renamed apart per call ("<call>/<name>"), formal
 * inputs and outputs map to the call's actual names, and attributes that
 * refer to the call's attributes (ref_attr_name) take the call's value, or
 * the function's declared default, or are left out. */
#include <string.h>

#include "diag.h"
#include "onnx_internal.h"

#define MAX_DEPTH 32 /* deeper means a function calls itself */

typedef struct frame {
  const Onnx__FunctionProto *f;
  const onnx_flat_node *call; /* the call being expanded */
  const char *prefix;         /* unique per call: renames the body's own names */
  const struct frame *up;
} frame;

typedef struct expander {
  const char *path;
  mem_arena *mem;
  const Onnx__ModelProto *model;
  onnx_flat_node *at;
  size_t n, cap;
  int errors;
} expander;

const Onnx__FunctionProto *onnx_find_function(const Onnx__ModelProto *m, const char *domain,
                                              const char *op_type) {
  for (size_t i = 0; i < m->n_functions; i++) {
    const Onnx__FunctionProto *f = m->functions[i];
    const char *fd = f->domain ? f->domain : "";
    if (f->name && strcmp(f->name, op_type) == 0 && strcmp(fd, domain ? domain : "") == 0)
      return f;
  }
  return NULL;
}

/* The opset a function body imports for domain; 0: take the model's. */
static int function_opset(const Onnx__FunctionProto *f, const char *domain) {
  for (size_t i = 0; i < f->n_opset_import; i++) {
    const char *d = f->opset_import[i]->domain ? f->opset_import[i]->domain : "";
    if (strcmp(d, "ai.onnx") == 0)
      d = "";
    if (strcmp(d, domain) == 0)
      return (int)f->opset_import[i]->version;
  }
  return 0;
}

/* The name a body's tensor has at the call site. */
static const char *call_site_name(expander *E, const frame *fr, const char *name) {
  if (!fr || !name || !name[0])
    return name;
  for (size_t i = 0; i < fr->f->n_input; i++)
    if (strcmp(fr->f->input[i], name) == 0)
      return i < fr->call->n_input ? fr->call->inputs[i] : ""; /* omitted: stays omitted */
  for (size_t i = 0; i < fr->f->n_output; i++)
    if (strcmp(fr->f->output[i], name) == 0 && i < fr->call->n_output && fr->call->outputs[i][0])
      return fr->call->outputs[i];
  /* The body's own names, and outputs the caller does not take (they are
   * still computed, then removed as dead code). */
  return mem_printf(E->mem, "%s/%s", fr->prefix, name);
}

static void *arena_alloc(void *arena, size_t size) { return mem_alloc(arena, size); }
static void arena_free(void *arena, void *p) { (void)arena, (void)p; }

/* FunctionProto field 11, attribute_proto (attributes with default values),
 * is newer than the onnx.proto Debian ships, so protobuf-c keeps it as an
 * unknown field: decode it by hand. NULL when f declares no default for ref. */
static const Onnx__AttributeProto *attribute_default(expander *E, const Onnx__FunctionProto *f,
                                                     const char *ref) {
  ProtobufCAllocator in_arena = {arena_alloc, arena_free, E->mem};
  for (unsigned i = 0; i < f->base.n_unknown_fields; i++) {
    const ProtobufCMessageUnknownField *u = &f->base.unknown_fields[i];
    if (u->tag != 11 || u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
      continue;
    size_t skip = 0; /* protobuf-c keeps the field's length prefix, a varint */
    while (skip < u->len && (u->data[skip] & 0x80))
      skip++;
    if (++skip > u->len)
      continue;
    Onnx__AttributeProto *ap = onnx__attribute_proto__unpack(&in_arena, u->len - skip, u->data + skip);
    if (ap && ap->name && strcmp(ap->name, ref) == 0)
      return ap;
  }
  return NULL;
}

/* The value an attribute reference (ref_attr_name) takes in frame fr. */
static const Onnx__AttributeProto *resolve_ref(expander *E, const frame *fr, const char *ref) {
  for (size_t i = 0; i < fr->call->n_attribute; i++)
    if (strcmp(fr->call->attr_names[i], ref) == 0)
      return fr->call->attrs[i];
  /* Not given at the call: the function's default, or else absent. */
  return attribute_default(E, fr->f, ref);
}

static onnx_flat_node *push(expander *E) {
  if (E->n == E->cap) {
    size_t cap = E->cap ? E->cap * 2 : 64;
    onnx_flat_node *at = mem_alloc(E->mem, sizeof *at * cap);
    if (E->n)
      memcpy(at, E->at, sizeof *at * E->n);
    E->at = at;
    E->cap = cap;
  }
  onnx_flat_node *fn = &E->at[E->n++];
  memset(fn, 0, sizeof *fn);
  return fn;
}

static void expand(expander *E, const Onnx__NodeProto *const *nodes, size_t n_nodes,
                   const frame *fr, int depth);

static void add_node(expander *E, const Onnx__NodeProto *np, const frame *fr, int depth) {
  onnx_flat_node *fn = push(E);
  size_t index = E->n - 1;
  fn->np = np;
  fn->op_type = np->op_type ? np->op_type : "";
  fn->domain = np->domain ? np->domain : "";
  fn->name = np->name ? np->name : "";
  if (fr)
    fn->name = mem_printf(E->mem, "%s/%s", fr->prefix, fn->name[0] ? fn->name : fn->op_type);
  fn->opset = fr ? function_opset(fr->f, fn->domain) : 0;
  fn->n_input = np->n_input;
  fn->n_output = np->n_output;
  fn->inputs = mem_alloc(E->mem, sizeof *fn->inputs * (np->n_input + 1));
  fn->outputs = mem_alloc(E->mem, sizeof *fn->outputs * (np->n_output + 1));
  for (size_t k = 0; k < np->n_input; k++)
    fn->inputs[k] = call_site_name(E, fr, np->input[k]);
  for (size_t k = 0; k < np->n_output; k++)
    fn->outputs[k] = call_site_name(E, fr, np->output[k]);
  fn->attrs = mem_alloc(E->mem, sizeof *fn->attrs * (np->n_attribute + 1));
  fn->attr_names = mem_alloc(E->mem, sizeof *fn->attr_names * (np->n_attribute + 1));
  for (size_t i = 0; i < np->n_attribute; i++) {
    const Onnx__AttributeProto *ap = np->attribute[i];
    const char *name = ap->name ? ap->name : "";
    if (ap->ref_attr_name && ap->ref_attr_name[0]) {
      if (!fr) {
        diag_error(E->path, "node '%s' (%s): attribute '%s' refers to '%s' outside a function",
                   fn->name, fn->op_type, name, ap->ref_attr_name);
        E->errors++;
        continue;
      }
      ap = resolve_ref(E, fr, ap->ref_attr_name);
      if (!ap)
        continue;
    }
    fn->attr_names[fn->n_attribute] = name;
    fn->attrs[fn->n_attribute++] = ap;
  }

  const Onnx__FunctionProto *f = onnx_find_function(E->model, fn->domain, fn->op_type);
  if (!f)
    return;
  if (depth >= MAX_DEPTH) {
    const frame *top = fr;
    while (top->up)
      top = top->up;
    diag_error(E->path, "node '%s' (%s): local function '%s' nests deeper than %d calls (does "
               "it call itself?)", top->call->name[0] ? top->call->name : "<unnamed>", top->call->op_type, fn->op_type, MAX_DEPTH);
    E->errors++;
    return;
  }
  /* The call becomes its body: drop it, keep a copy for the body's lookups. */
  onnx_flat_node *call = mem_alloc(E->mem, sizeof *call);
  *call = E->at[index];
  E->n--;
  char *prefix = mem_printf(E->mem, "%s", call->name[0] ? call->name : call->op_type);
  if (!call->name[0] || fr) /* unnamed or nested calls: make the prefix unique */
    prefix = mem_printf(E->mem, "%s#%zu", prefix, index);
  frame inner = {.f = f, .call = call, .prefix = prefix, .up = fr};
  expand(E, (const Onnx__NodeProto *const *)f->node, f->n_node, &inner, depth + 1);
}

static void expand(expander *E, const Onnx__NodeProto *const *nodes, size_t n_nodes,
                   const frame *fr, int depth) {
  for (size_t i = 0; i < n_nodes; i++)
    add_node(E, nodes[i], fr, depth);
}

onnx_flat_node *onnx_flatten_graph(const char *path, mem_arena *mem, const Onnx__ModelProto *m,
                                   size_t *count, int *errors) {
  expander E = {.path = path, .mem = mem, .model = m};
  expand(&E, (const Onnx__NodeProto *const *)m->graph->node, m->graph->n_node, NULL, 0);
  *count = E.n;
  *errors += E.errors;
  return E.at;
}
