/* Copying a subgraph into the graph: what If, Loop, Scan and SequenceMap
 * lower to. Tensor ids are unique across the model and its subgraphs (the
 * loader draws them from one counter), so one array indexed by id maps a
 * subgraph's tensors to their copies; anything not in it belongs to an
 * enclosing scope and stays itself. */
#include <string.h>

#include "control.h"
#include "ops.h"

typedef struct copier {
  ir_graph *root;    /* the model: owns the id counter */
  ir_tensor **map;   /* by original id: the copy */
  int size;
  const char *prefix;
  const ir_node *site;
  bool failed;
} copier;

int control_node_index(const ir_graph *g, const ir_node *n) {
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i] == n)
      return i;
  NN_BUG("node not in its graph");
}

/* A tensor of dst whose id comes from the model's counter. */
static ir_tensor *tensor_in(ir_graph *root, ir_graph *dst, const char *name) {
  dst->next_id = root->next_id;
  ir_tensor *t = ir_tensor_new(dst, name);
  root->next_id = dst->next_id;
  return t;
}

static ir_tensor *look(const copier *c, ir_tensor *t) {
  if (t && t->id < c->size && c->map[t->id])
    return c->map[t->id];
  return t;
}

/* Maps every tensor sub owns (other than its inputs) to a fresh tensor of
 * dst; weights keep their data. */
static void map_locals(copier *c, ir_graph *dst, const ir_graph *sub) {
  for (int i = 0; i < sub->n_tensors; i++) {
    ir_tensor *t = sub->tensors[i];
    if (t->id < c->size && c->map[t->id])
      continue; /* an input, already bound */
    ir_tensor *copy = tensor_in(c->root, dst, mem_printf(dst->mem, "%s%s", c->prefix, t->name));
    if (t->kind == IR_WEIGHT) {
      ir_set_shape(copy, t->dtype, t->rank, t->dims);
      copy->kind = IR_WEIGHT;
      copy->data = t->data;
    }
    if (t->id < c->size)
      c->map[t->id] = copy;
  }
}

static ir_graph *copy_graph(copier *c, const ir_graph *sub);

static ir_node *copy_node(copier *c, ir_graph *dst, int pos, const ir_node *src) {
  ir_node *n = ir_node_insert(dst, pos, src->op_type, src->n_inputs, src->n_outputs);
  n->name = mem_printf(dst->mem, "%s%s", c->prefix, src->name);
  n->domain = src->domain;
  n->opset = src->opset > 0 ? src->opset : c->site->opset;
  n->op = op_find(n->domain, n->op_type);
  if (!n->op) {
    diag_node(c->root->path, src, "unsupported operator%s%s%s (in a subgraph of '%s')",
              src->domain[0] ? " in domain '" : "", src->domain, src->domain[0] ? "'" : "",
              c->site->name);
    c->failed = true;
  }
  for (int k = 0; k < src->n_inputs; k++)
    n->inputs[k] = look(c, src->inputs[k]);
  for (int k = 0; k < src->n_outputs; k++)
    n->outputs[k] = look(c, src->outputs[k]);
  n->n_attrs = src->n_attrs;
  n->attrs = mem_alloc(dst->mem, sizeof *n->attrs * (size_t)(src->n_attrs + 1));
  for (int a = 0; a < src->n_attrs; a++) {
    n->attrs[a] = src->attrs[a];
    if (src->attrs[a].graph)
      n->attrs[a].graph = copy_graph(c, src->attrs[a].graph);
  }
  return n;
}

/* A nested subgraph, copied with its inputs renamed too; what it reads from
 * the scopes being copied reads the copies. */
static ir_graph *copy_graph(copier *c, const ir_graph *sub) {
  ir_graph *dst = ir_graph_new(c->root->mem, c->root->path);
  dst->name = sub->name;
  dst->parent = sub->parent;
  dst->inputs = mem_alloc(dst->mem, sizeof *dst->inputs * (size_t)(sub->n_inputs + 1));
  for (int i = 0; i < sub->n_inputs; i++) {
    ir_tensor *t = tensor_in(c->root, dst, mem_printf(dst->mem, "%s%s", c->prefix, sub->inputs[i]->name));
    if (sub->inputs[i]->id < c->size)
      c->map[sub->inputs[i]->id] = t;
    dst->inputs[dst->n_inputs++] = t;
  }
  map_locals(c, dst, sub);
  for (int i = 0; i < sub->n_nodes; i++)
    copy_node(c, dst, dst->n_nodes, sub->nodes[i]);
  dst->outputs = mem_alloc(dst->mem, sizeof *dst->outputs * (size_t)(sub->n_outputs + 1));
  for (int i = 0; i < sub->n_outputs; i++)
    dst->outputs[dst->n_outputs++] = look(c, sub->outputs[i]);
  return dst;
}

/* Whether a node of sub computes t. */
static bool computed_in(const ir_graph *sub, const ir_tensor *t) {
  for (int i = 0; i < sub->n_nodes; i++)
    for (int k = 0; k < sub->nodes[i]->n_outputs; k++)
      if (sub->nodes[i]->outputs[k] == t)
        return true;
  return false;
}

int control_inline(ir_graph *g, int pos, const ir_node *site, const ir_graph *sub,
                   ir_tensor *const *args, int n_args, const char *prefix,
                   ir_tensor **results, ir_tensor *const *bind) {
  copier c = {.root = g, .size = g->next_id, .prefix = prefix, .site = site};
  c.map = mem_alloc(g->mem, sizeof *c.map * (size_t)(c.size + 1));
  /* Formal inputs: the actuals. An absent one maps to a tensor no node
   * computes, so a body that reads it fails in inference, not silently. */
  for (int i = 0; i < sub->n_inputs; i++) {
    ir_tensor *a = i < n_args ? args[i] : NULL;
    if (!a)
      a = tensor_in(g, g, mem_printf(g->mem, "%s%s (absent)", prefix, sub->inputs[i]->name));
    c.map[sub->inputs[i]->id] = a;
  }
  bool *bound = mem_alloc(g->mem, sizeof *bound * (size_t)(sub->n_outputs + 1));
  if (bind)
    for (int k = 0; k < sub->n_outputs; k++) {
      ir_tensor *t = sub->outputs[k];
      bool first = true;
      for (int j = 0; j < k; j++)
        first &= sub->outputs[j] != t;
      if (bind[k] && first && computed_in(sub, t) && !c.map[t->id]) {
        c.map[t->id] = bind[k];
        bound[k] = true;
      }
    }
  map_locals(&c, g, sub);
  int at = pos;
  for (int i = 0; i < sub->n_nodes; i++)
    copy_node(&c, g, at++, sub->nodes[i]);
  for (int k = 0; k < sub->n_outputs; k++) {
    ir_tensor *r = look(&c, sub->outputs[k]);
    if (bind && bind[k] && !bound[k]) {
      ir_node *id = control_node(g, at++, site, "Identity", 1, 1);
      id->inputs[0] = r;
      id->outputs[0] = bind[k];
      r = bind[k];
    }
    if (results)
      results[k] = r;
  }
  if (c.failed) /* nothing of this copy may run: inference skips dead nodes */
    for (int i = pos; i < at; i++)
      g->nodes[i]->dead = true;
  return c.failed ? -1 : at - pos;
}

ir_node *control_node(ir_graph *g, int pos, const ir_node *like, const char *op_type,
                      int n_inputs, int n_outputs) {
  ir_node *n = ir_node_insert(g, pos, op_type, n_inputs, n_outputs);
  n->name = mem_printf(g->mem, "%s/%s", like->name, op_type);
  n->opset = like->opset;
  n->op = op_find("", op_type);
  NN_ASSERT(n->op);
  n->attrs = mem_alloc(g->mem, sizeof *n->attrs);
  return n;
}

ir_tensor *control_tensor(ir_graph *g, const char *name) { return ir_tensor_new(g, name); }

ir_tensor *control_const(ir_graph *g, const char *name, ir_dtype dtype, int rank, int64_t value) {
  ir_tensor *t = ir_tensor_new(g, name);
  int64_t one = 1;
  ir_set_shape(t, dtype, rank, &one);
  void *d = ir_make_weight(g, t);
  if (dtype == IR_BOOL)
    *(uint8_t *)d = value != 0;
  else
    *(int64_t *)d = value;
  return t;
}

void control_set_ints(ir_graph *g, ir_node *n, const char *name, const int64_t *v, int count) {
  ir_attr *attrs = mem_alloc(g->mem, sizeof *attrs * (size_t)(n->n_attrs + 1));
  if (n->n_attrs)
    memcpy(attrs, n->attrs, sizeof *attrs * (size_t)n->n_attrs);
  int64_t *copy = mem_alloc(g->mem, sizeof *copy * (size_t)(count + 1));
  memcpy(copy, v, sizeof *copy * (size_t)count);
  attrs[n->n_attrs] = (ir_attr){.name = mem_strdup(g->mem, name), .type = IR_ATTR_INTS,
                                .n = count, .ints = copy};
  n->attrs = attrs;
  n->n_attrs++;
}

ir_node *control_unsqueeze(ir_graph *g, int pos, const ir_node *like, ir_tensor *x,
                           int64_t axis, ir_tensor *out) {
  bool axes_input = like->opset >= 13;
  ir_node *u = control_node(g, pos, like, "Unsqueeze", axes_input ? 2 : 1, 1);
  u->inputs[0] = x;
  if (axes_input)
    u->inputs[1] = control_const(g, mem_printf(g->mem, "%s/axes", like->name), IR_INT64, 1, axis);
  else
    control_set_ints(g, u, "axes", &axis, 1);
  u->outputs[0] = out;
  return u;
}
