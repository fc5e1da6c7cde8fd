#include "driver.h"

#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "nn.h"
#include "npy.h"
#include "onnx.h"
#include "ops.h"

nn_status driver_parse_shape(const char *arg, shape_binding *b) {
  const char *eq = strrchr(arg, '=');
  if (!eq || eq == arg)
    return diag_error(NULL, "--shape wants NAME=D0xD1x..., got '%s'", arg);
  size_t n = (size_t)(eq - arg);
  char *name = xmalloc(n + 1);
  memcpy(name, arg, n);
  name[n] = '\0';
  b->name = name;
  b->rank = 0;
  for (const char *p = eq + 1; *p;) {
    char *end;
    long long d = strtoll(p, &end, 10);
    if (end == p || d < 0 || b->rank == IR_MAX_RANK || (*end && *end != 'x'))
      return diag_error(NULL, "--shape %s: bad dimension list '%s' (want e.g. 1x3x224x224)", name, eq + 1);
    b->dims[b->rank++] = d;
    p = *end ? end + 1 : end;
  }
  return NN_OK;
}

int driver_parse_common(driver_options *o, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  if (strcmp(a, "-O0") == 0 || strcmp(a, "-O2") == 0 || strcmp(a, "-O1") == 0 ||
      strcmp(a, "-O3") == 0) {
    o->opt_level = a[2] - '0';
    return 1;
  }
  bool shape = strcmp(a, "--shape") == 0, dump = strcmp(a, "--dump-ir") == 0,
       freeze = strcmp(a, "--freeze") == 0, pick = strcmp(a, "--model") == 0;
  if (shape || dump || freeze || pick) {
    if (*i + 1 >= argc) {
      diag_error(NULL, "%s needs a value", a);
      return -1;
    }
    const char *v = argv[++*i];
    if (dump) {
      o->dump_after = v;
      return 1;
    }
    if (pick) {
      o->nn_model = v;
      return 1;
    }
    if (freeze) {
      const char *eq = strchr(v, '=');
      if (!eq || eq == v || !eq[1] || o->n_freezes == (int)(sizeof o->freezes / sizeof *o->freezes)) {
        diag_error(NULL, "--freeze wants NAME=FILE (.npy or .pb), got '%s'", v);
        return -1;
      }
      char *name = xmalloc((size_t)(eq - v) + 1);
      memcpy(name, v, (size_t)(eq - v));
      name[eq - v] = '\0';
      o->freezes[o->n_freezes++] = (freeze_binding){name, eq + 1};
      return 1;
    }
    if (o->n_shapes == (int)(sizeof o->shapes / sizeof *o->shapes)) {
      diag_error(NULL, "too many --shape options");
      return -1;
    }
    return driver_parse_shape(v, &o->shapes[o->n_shapes++]) == NN_OK ? 1 : -1;
  }
  if (strcmp(a, "--string-bytes") == 0) {
    char *end = NULL;
    long long v = *i + 1 < argc ? strtoll(argv[*i + 1], &end, 10) : 0;
    if (!end || *end || v < 2 || v > (1LL << 24)) {
      diag_error(NULL, "--string-bytes wants a byte count in [2, 16777216], got '%s'",
                 *i + 1 < argc ? argv[*i + 1] : "");
      return -1;
    }
    o->string_bytes = v;
    ++*i;
    return 1;
  }
  if (a[0] != '-') { /* the model: one positional argument */
    if (o->model) {
      diag_error(NULL, "more than one model given ('%s' and '%s')", o->model, a);
      return -1;
    }
    o->model = a;
    return 1;
  }
  return 0;
}

nn_status driver_read_tensor(const char *path, mem_arena *mem, ir_tensor *t) {
  size_t n = strlen(path);
  if (n > 4 && strcmp(path + n - 4, ".npy") == 0)
    return npy_read(path, mem, t);
  return onnx_read_tensor_file(path, mem, t);
}

nn_status driver_freeze_input(ir_graph *g, int index, const ir_tensor *value, const char *from) {
  ir_tensor *t = g->inputs[index];
  bool fits = t->dtype == value->dtype && (t->rank < 0 || t->rank == value->rank);
  for (int d = 0; fits && t->rank > 0 && d < t->rank; d++)
    fits = t->dims[d] < 0 || t->dims[d] == value->dims[d];
  if (!fits) {
    char shape[256];
    return diag_error(g->path, "input '%s': %s holds %s%s, which the model's declaration does not allow",
                      t->name, from, ir_dtype_name(value->dtype), ir_shape_str(value, shape, sizeof shape));
  }
  ir_set_shape(t, value->dtype, value->rank, value->dims);
  for (int d = 0; d < IR_MAX_RANK; d++)
    t->dim_params[d] = NULL;
  t->kind = IR_WEIGHT;
  t->data = value->data;
  for (int i = index + 1; i < g->n_inputs; i++)
    g->inputs[i - 1] = g->inputs[i];
  g->n_inputs--;
  return NN_OK;
}

/* Whether a subgraph of n (If's branches, Loop's body) builds a sequence or
 * an optional: their structure is static, so the condition must then be
 * known at compile time (a run-time one can only select between tensors of
 * one shape). */
static bool builds_sequences(const ir_node *n) {
  for (int a = 0; a < n->n_attrs; a++) {
    const ir_graph *sub = n->attrs[a].graph;
    for (int i = 0; sub && i < sub->n_nodes; i++) {
      const op_def *op = op_find(sub->nodes[i]->domain, sub->nodes[i]->op_type);
      if (op && (op->flags & OP_TAKES_SEQUENCES) && strcmp(op->name, "If") != 0)
        return true;
    }
  }
  return false;
}

/* Whether n is an If or Loop whose condition (input 0 or 1) must be known
 * at compile time: its subgraphs build sequences, or a Loop has scan
 * outputs (their length would depend on it). */
static int constant_condition(const ir_node *n) {
  if (strcmp(n->op_type, "If") == 0)
    return builds_sequences(n) ? 0 : -1;
  if (strcmp(n->op_type, "Loop") != 0)
    return -1;
  const ir_attr *a = ir_attr_find(n, "body");
  bool scans = a && a->graph && a->graph->n_outputs > n->n_inputs - 1;
  return scans || builds_sequences(n) ? 1 : -1;
}

/* Marks what nodes[] need at compile time, consumers before producers.
 * Subgraphs (If, Loop...) read outer tensors directly: their own needs, and
 * all their outputs when the node's are needed, reach those tensors too
 * (ids are unique across graphs, so one array serves them all). */
static void mark_const(ir_node *const *nodes, int n_nodes, bool *needed) {
  for (int i = n_nodes - 1; i >= 0; i--) {
    const ir_node *n = nodes[i];
    const op_def *op = op_find(n->domain, n->op_type);
    if (!op)
      continue;
    bool out_needed = false;
    for (int k = 0; k < n->n_outputs; k++)
      out_needed |= n->outputs[k] && needed[n->outputs[k]->id];
    if (op->flags & OP_FOLD_ON_SHAPES)
      out_needed = false; /* Shape and Size need only their input's shape */
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] && (out_needed || (k < 32 && (op->const_inputs & OP_CONST(k)))))
        needed[n->inputs[k]->id] = true;
    int c = constant_condition(n);
    if (c >= 0 && c < n->n_inputs && n->inputs[c])
      needed[n->inputs[c]->id] = true;
    for (int a = 0; a < n->n_attrs; a++) {
      const ir_graph *sub = n->attrs[a].graph;
      if (!sub)
        continue;
      for (int k = 0; k < sub->n_outputs && out_needed; k++)
        needed[sub->outputs[k]->id] = true;
      mark_const(sub->nodes, sub->n_nodes, needed);
    }
  }
}

bool *driver_const_tensors(const ir_graph *g) {
  bool *needed = mem_alloc(g->mem, sizeof *needed * (size_t)(g->next_id + 1));
  mark_const(g->nodes, g->n_nodes, needed);
  return needed;
}

/* A model by its extension: .nn is nncc's own language, anything else ONNX
 * (which holds one model: --model is for .nn files). */
static ir_graph *load_by_extension(const driver_options *o, mem_arena *mem) {
  const char *path = o->model;
  size_t n = strlen(path);
  if (n > 3 && strcmp(path + n - 3, ".nn") == 0) {
    nn_load_options nn = {.model = o->nn_model, .train = o->nn_train};
    return nn_load(path, mem, &nn);
  }
  if (o->nn_model) {
    diag_error(path, "--model %s: an ONNX file holds one model; --model picks one of a .nn file's",
               o->nn_model);
    return NULL;
  }
  return onnx_load(path, mem);
}

/* The tensors of a sequence or optional value, in order. */
static int leaves(ir_tensor *v, ir_tensor **out, int n, int max) {
  if (!v->seq)
    return n < max ? (out[n] = v, n + 1) : n + 1;
  for (int i = 0; i < v->seq->n; i++)
    n = leaves(v->seq->items[i], out, n, max);
  return n;
}

/* A sequence or optional input compiled in: its elements become inputs
 * (seq_bind_input), then each is frozen like a tensor input. */
static nn_status freeze_sequence(ir_graph *g, int k, const char *path) {
  ir_tensor *v = mem_alloc(g->mem, sizeof *v), *vals[1024];
  if (onnx_read_value_file(path, g->mem, g->inputs[k]->seq->optional, v) != NN_OK)
    return NN_ERR;
  if (leaves(v, vals, 0, 1024) > 1024)
    return diag_error(path, "too many sequence elements to compile in");
  int count = seq_bind_input(g, k, v);
  if (count < 0)
    return NN_ERR;
  for (int j = count - 1; j >= 0; j--) /* from the back: freezing shifts later inputs */
    if (driver_freeze_input(g, k + j, vals[j], path) != NN_OK)
      return NN_ERR;
  return NN_OK;
}

ir_graph *driver_load(const driver_options *o, mem_arena *mem) {
  ir_graph *g = load_by_extension(o, mem);
  if (!g)
    return NULL;
  if (o->string_bytes)
    g->string_bytes = o->string_bytes;
  for (int f = 0; f < o->n_freezes; f++) {
    int k = 0;
    while (k < g->n_inputs && strcmp(g->inputs[k]->name, o->freezes[f].name) != 0)
      k++;
    ir_tensor value = {0};
    if (k == g->n_inputs) {
      diag_error(g->path, "--freeze %s: the model has no input of that name", o->freezes[f].name);
      return NULL;
    }
    if (g->inputs[k]->seq) {
      if (freeze_sequence(g, k, o->freezes[f].path) != NN_OK)
        return NULL;
      continue;
    }
    if (driver_read_tensor(o->freezes[f].path, mem, &value) != NN_OK ||
        driver_freeze_input(g, k, &value, o->freezes[f].path) != NN_OK)
      return NULL;
  }
  return g;
}

ir_graph *driver_compile(const driver_options *o, mem_arena *mem) {
  ir_graph *g = driver_load(o, mem);
  if (!g)
    return NULL;
  pipeline_options po = {.shapes = o->shapes, .n_shapes = o->n_shapes,
                         .opt_level = o->opt_level, .dump_after = o->dump_after,
                         .onnx_level = o->onnx_level};
  return pipeline_run(g, &po) == NN_OK ? g : NULL;
}
