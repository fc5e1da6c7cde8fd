/* Sequences and optionals, known at compile time: a value of either kind is
 * a tensor whose `seq` lists its elements (ir.h), and every op on them runs
 * during inference. Ops that only rearrange the list leave no node behind;
 * SplitToSequence and ConcatFromSequence become Slice/Gather and Concat,
 * SequenceAt an Identity of the element. Positions must be constants. */
#include "common.h"
#include "control.h"

static ir_seq *new_seq(ir_graph *g, bool optional, int n, ir_dtype elem) {
  ir_seq *s = mem_alloc(g->mem, sizeof *s);
  s->optional = optional;
  s->n = n;
  s->elem_dtype = elem;
  s->items = mem_alloc(g->mem, sizeof *s->items * (size_t)(n + 1));
  return s;
}

/* n's output 0 holds s; n itself is done. */
static nn_status give(ir_node *n, ir_seq *s) {
  ir_tensor *out = n->outputs[0];
  if (out) {
    out->seq = s;
    out->shaped = true;
  }
  n->dead = true;
  return NN_OK;
}

static const ir_seq *seq_in(ir_graph *g, const ir_node *n, int k) {
  const ir_tensor *t = ir_in(n, k);
  if (!t || !t->seq || t->seq->optional) {
    diag_node(g->path, n, "input %d must be a sequence", k);
    return NULL;
  }
  return t->seq;
}

static ir_dtype elem_type(const ir_seq *s) {
  return s->n > 0 && !s->items[0]->seq ? s->items[0]->dtype : s->elem_dtype;
}

/* A constant position in [-len, len + extra), made non-negative. */
static nn_status position(ir_graph *g, const ir_node *n, int k, int len, int extra, int dflt,
                          int *out) {
  const ir_tensor *p = ir_in(n, k);
  if (!p) {
    *out = dflt;
    return NN_OK;
  }
  if (ir_numel(p) != 1 || (p->dtype != IR_INT64 && p->dtype != IR_INT32))
    return diag_node(g->path, n, "the position (input %d) must be one int32 or int64", k);
  int64_t v = ir_weight_int(p, 0);
  if (v < -len || v >= len + extra)
    return diag_node(g->path, n, "position %lld is out of range for a sequence of %d", (long long)v,
                     len);
  *out = (int)(v < 0 ? v + len : v);
  return NN_OK;
}

/* out = the constant value, as a weight (or, for a graph output, computed
 * by an Identity of one, since graph outputs are written by nodes). */
static nn_status give_constant(ir_graph *g, ir_node *n, ir_dtype dtype, int64_t value) {
  ir_tensor *out = n->outputs[0];
  n->dead = true;
  if (!out)
    return NN_OK;
  if (!out->is_output) {
    int64_t one = 1;
    ir_set_shape(out, dtype, 0, &one);
    void *d = ir_make_weight(g, out);
    store_int(dtype, d, 0, value, false);
    return NN_OK;
  }
  ir_node *id = control_node(g, control_node_index(g, n) + 1, n, "Identity", 1, 1);
  id->inputs[0] = control_const(g, mem_printf(g->mem, "%s/value", n->name), dtype, 0, value);
  id->outputs[0] = out;
  return NN_OK;
}

/* to = from, a copy node for a tensor, the same list for a sequence. */
static nn_status forward(ir_graph *g, ir_node *n, ir_tensor *from) {
  ir_tensor *to = n->outputs[0];
  n->dead = true;
  if (!to)
    return NN_OK;
  if (from->seq) {
    to->seq = from->seq;
    to->shaped = true;
    return NN_OK;
  }
  ir_node *id = control_node(g, control_node_index(g, n) + 1, n, "Identity", 1, 1);
  id->inputs[0] = from;
  id->outputs[0] = to;
  return NN_OK;
}

static nn_status infer_sequence_empty(ir_graph *g, ir_node *n) {
  int64_t dt = ir_attr_int(n, "dtype", IR_FLOAT);
  if (!ir_dtype_known((int)dt))
    return diag_node(g->path, n, "unsupported element type %lld", (long long)dt);
  return give(n, new_seq(g, false, 0, (ir_dtype)dt));
}

static nn_status infer_sequence_construct(ir_graph *g, ir_node *n) {
  ir_seq *s = new_seq(g, false, n->n_inputs, IR_FLOAT);
  for (int k = 0; k < n->n_inputs; k++) {
    if (!n->inputs[k] || n->inputs[k]->seq)
      return diag_node(g->path, n, "input %d must be a tensor", k);
    if (n->inputs[k]->dtype != n->inputs[0]->dtype)
      return diag_node(g->path, n, "input %d is %s, input 0 %s: elements share one type", k,
                       ir_dtype_name(n->inputs[k]->dtype), ir_dtype_name(n->inputs[0]->dtype));
    s->items[k] = n->inputs[k];
  }
  if (n->n_inputs)
    s->elem_dtype = n->inputs[0]->dtype;
  return give(n, s);
}

static nn_status infer_sequence_insert(ir_graph *g, ir_node *n) {
  const ir_seq *s = seq_in(g, n, 0);
  ir_tensor *t = ir_in(n, 1);
  int at = 0;
  if (!s)
    return NN_ERR;
  if (!t || t->seq)
    return diag_node(g->path, n, "input 1 must be a tensor");
  if (s->n > 0 && t->dtype != elem_type(s))
    return diag_node(g->path, n, "inserting %s into a sequence of %s", ir_dtype_name(t->dtype),
                     ir_dtype_name(elem_type(s)));
  if (position(g, n, 2, s->n, 1, s->n, &at))
    return NN_ERR;
  ir_seq *r = new_seq(g, false, s->n + 1, t->dtype);
  for (int i = 0, j = 0; i <= s->n; i++)
    r->items[i] = i == at ? t : s->items[j++];
  return give(n, r);
}

static nn_status infer_sequence_erase(ir_graph *g, ir_node *n) {
  const ir_seq *s = seq_in(g, n, 0);
  int at = 0;
  if (!s)
    return NN_ERR;
  if (s->n == 0)
    return diag_node(g->path, n, "erasing from an empty sequence");
  if (position(g, n, 1, s->n, 0, s->n - 1, &at))
    return NN_ERR;
  ir_seq *r = new_seq(g, false, s->n - 1, s->elem_dtype);
  for (int i = 0, j = 0; i < s->n; i++)
    if (i != at)
      r->items[j++] = s->items[i];
  return give(n, r);
}

static nn_status infer_sequence_at(ir_graph *g, ir_node *n) {
  const ir_seq *s = seq_in(g, n, 0);
  int at = 0;
  if (!s || position(g, n, 1, s->n, 0, 0, &at))
    return NN_ERR;
  if (!ir_in(n, 1))
    return diag_node(g->path, n, "input 1 'position' is missing");
  return forward(g, n, s->items[at]);
}

static nn_status infer_sequence_length(ir_graph *g, ir_node *n) {
  const ir_seq *s = seq_in(g, n, 0);
  return s ? give_constant(g, n, IR_INT64, s->n) : NN_ERR;
}

static nn_status infer_split_to_sequence(ir_graph *g, ir_node *n) {
  ir_tensor *x = ir_in(n, 0);
  if (!x || x->seq)
    return diag_node(g->path, n, "input 0 must be a tensor");
  int axis;
  if (norm_axis(g, n, ir_attr_int(n, "axis", 0), x->rank, &axis))
    return NN_ERR;
  int64_t len = x->dims[axis], sizes[CONTROL_MAX_UNROLL];
  int count = 0;
  const ir_tensor *split = ir_in(n, 1);
  bool squeeze = !split && ir_attr_int(n, "keepdims", 1) == 0; /* Gather drops the axis */
  if (!split) {
    if (len > CONTROL_MAX_UNROLL)
      return diag_node(g->path, n, "%lld pieces; nncc handles at most %d", (long long)len,
                       CONTROL_MAX_UNROLL);
    for (; count < len; count++)
      sizes[count] = 1;
  } else if (split->rank == 0) {
    int64_t step = ir_weight_int(split, 0);
    if (step <= 0)
      return diag_node(g->path, n, "split %lld must be positive", (long long)step);
    for (int64_t at = 0; at < len && count < CONTROL_MAX_UNROLL; at += step)
      sizes[count++] = at + step <= len ? step : len - at;
  } else {
    int64_t total = 0;
    if (ir_numel(split) > CONTROL_MAX_UNROLL)
      return diag_node(g->path, n, "too many pieces");
    for (; count < ir_numel(split); count++) {
      sizes[count] = ir_weight_int(split, count);
      if (sizes[count] < 0)
        return diag_node(g->path, n, "split sizes must not be negative");
      total += sizes[count];
    }
    if (total != len)
      return diag_node(g->path, n, "split sizes add up to %lld, the axis has %lld",
                       (long long)total, (long long)len);
  }
  int pos = control_node_index(g, n) + 1;
  ir_seq *s = new_seq(g, false, count, x->dtype);
  int64_t start = 0;
  for (int i = 0; i < count; i++) {
    ir_tensor *piece = control_tensor(g, mem_printf(g->mem, "%s/%d", n->name, i));
    ir_node *p;
    if (squeeze) {
      p = control_node(g, pos++, n, "Gather", 2, 1);
      p->inputs[1] = control_const(g, mem_printf(g->mem, "%s/index%d", n->name, i), IR_INT64, 0, i);
      ir_node_set_int_attr(g, p, "axis", axis);
    } else {
      p = control_node(g, pos++, n, "Slice", 4, 1);
      p->inputs[1] = control_const(g, mem_printf(g->mem, "%s/start%d", n->name, i), IR_INT64, 1, start);
      p->inputs[2] = control_const(g, mem_printf(g->mem, "%s/end%d", n->name, i), IR_INT64, 1,
                                   start + sizes[i]);
      p->inputs[3] = control_const(g, mem_printf(g->mem, "%s/axis%d", n->name, i), IR_INT64, 1, axis);
    }
    p->inputs[0] = x;
    p->outputs[0] = piece;
    s->items[i] = piece;
    start += sizes[i];
  }
  return give(n, s);
}

static nn_status infer_concat_from_sequence(ir_graph *g, ir_node *n) {
  const ir_seq *s = seq_in(g, n, 0);
  if (!s)
    return NN_ERR;
  if (s->n == 0)
    return diag_node(g->path, n, "concatenating an empty sequence");
  if (!ir_attr_find(n, "axis"))
    return diag_node(g->path, n, "attribute 'axis' is missing");
  int64_t axis = ir_attr_int(n, "axis", 0);
  bool new_axis = ir_attr_int(n, "new_axis", 0) != 0;
  int pos = control_node_index(g, n) + 1;
  n->dead = true;
  ir_node *cat = control_node(g, pos + (new_axis ? s->n : 0), n, "Concat", s->n, 1);
  for (int i = 0; i < s->n; i++) {
    cat->inputs[i] = s->items[i];
    if (new_axis) { /* stacking: each element gains the axis first */
      cat->inputs[i] = control_tensor(g, mem_printf(g->mem, "%s/%d", n->name, i));
      control_unsqueeze(g, pos + i, n, s->items[i], axis, cat->inputs[i]);
    }
  }
  ir_node_set_int_attr(g, cat, "axis", axis);
  cat->outputs[0] = n->outputs[0];
  return NN_OK;
}

static nn_status infer_optional(ir_graph *g, ir_node *n) {
  ir_tensor *x = ir_in(n, 0);
  ir_seq *s = new_seq(g, true, x ? 1 : 0, IR_FLOAT);
  if (x)
    s->items[0] = x;
  return give(n, s);
}

static nn_status infer_optional_has_element(ir_graph *g, ir_node *n) {
  const ir_tensor *x = ir_in(n, 0);
  bool has = x && (!x->seq || !x->seq->optional || x->seq->n > 0);
  return give_constant(g, n, IR_BOOL, has);
}

static nn_status infer_optional_get_element(ir_graph *g, ir_node *n) {
  ir_tensor *x = ir_in(n, 0);
  if (!x)
    return diag_node(g->path, n, "input 0 is missing");
  if (x->seq && x->seq->optional) {
    if (x->seq->n == 0)
      return diag_node(g->path, n, "the optional is empty (known at compile time)");
    x = x->seq->items[0];
  }
  return forward(g, n, x);
}

const op_def op_family_sequence[] = {
    {"SequenceEmpty", "", infer_sequence_empty, NULL, NULL, OP_TAKES_SEQUENCES},
    {"SequenceConstruct", "", infer_sequence_construct, NULL, NULL, OP_TAKES_SEQUENCES},
    {"SequenceInsert", "", infer_sequence_insert, NULL, NULL, OP_TAKES_SEQUENCES, OP_CONST(2)},
    {"SequenceErase", "", infer_sequence_erase, NULL, NULL, OP_TAKES_SEQUENCES, OP_CONST(1)},
    {"SequenceAt", "", infer_sequence_at, NULL, NULL, OP_TAKES_SEQUENCES, OP_CONST(1)},
    {"SequenceLength", "", infer_sequence_length, NULL, NULL, OP_TAKES_SEQUENCES},
    {"SplitToSequence", "", infer_split_to_sequence, NULL, NULL, OP_TAKES_SEQUENCES, OP_CONST(1)},
    {"ConcatFromSequence", "", infer_concat_from_sequence, NULL, NULL, OP_TAKES_SEQUENCES},
    {"Optional", "", infer_optional, NULL, NULL, OP_TAKES_SEQUENCES},
    {"OptionalHasElement", "", infer_optional_has_element, NULL, NULL, OP_TAKES_SEQUENCES},
    {"OptionalGetElement", "", infer_optional_get_element, NULL, NULL, OP_TAKES_SEQUENCES},
    {NULL},
};

/* ---- sequences at tensor ops and at the graph's edges ---- */

int seq_guard(ir_graph *g, ir_node *n) {
  if (n->op->flags & OP_TAKES_SEQUENCES)
    return 0;
  for (int k = 0; k < n->n_inputs; k++) {
    ir_tensor *t = n->inputs[k];
    if (!t || !t->seq)
      continue;
    if (strcmp(n->op_type, "Identity") == 0 && n->n_inputs == 1)
      return forward(g, n, t) == NN_OK ? 1 : -1;
    diag_node(g->path, n, "input %d '%s' is a%s, and %s takes tensors", k, t->name,
              t->seq->optional ? "n optional" : " sequence", n->op_type);
    return -1;
  }
  return 0;
}

/* Appends t's tensors to the graph outputs, copying each through its own
 * Identity (an element may be an input, a weight, or shared). */
static int flatten_output(ir_graph *g, ir_tensor *t, const char *name, ir_tensor ***list,
                          int *n, int *cap) {
  if (t->seq) {
    int count = 0;
    for (int i = 0; i < t->seq->n; i++)
      count += flatten_output(g, t->seq->items[i], mem_printf(g->mem, "%s.%d", name, i), list, n, cap);
    return count;
  }
  ir_tensor *o = ir_tensor_new(g, name);
  ir_node *id = ir_node_new(g, "Identity", 1, 1);
  id->name = mem_printf(g->mem, "copy_to_output_%s", name);
  id->op = op_find("", "Identity");
  id->opset = 13;
  id->attrs = mem_alloc(g->mem, sizeof *id->attrs);
  id->inputs[0] = t;
  id->outputs[0] = o;
  if (id->op->infer(g, id) != NN_OK)
    return 0;
  o->is_output = true;
  *list = mem_grow(g->mem, *list, sizeof **list, cap, *n + 1);
  (*list)[(*n)++] = o;
  return 1;
}

nn_status seq_expand_outputs(ir_graph *g) {
  bool any = false;
  for (int i = 0; i < g->n_outputs; i++)
    any |= g->outputs[i]->seq != NULL;
  if (!any)
    return NN_OK;
  int n = 0, cap = 0, m = g->n_outputs;
  ir_tensor **list = NULL;
  g->n_model_outputs = m;
  g->sequence_io = true;
  g->out_first = mem_alloc(g->mem, sizeof *g->out_first * (size_t)m);
  g->out_count = mem_alloc(g->mem, sizeof *g->out_count * (size_t)m);
  g->out_kind = mem_alloc(g->mem, (size_t)m + 1);
  for (int i = 0; i < m; i++) {
    ir_tensor *t = g->outputs[i];
    /* a present optional is its value; an absent one has none */
    while (t->seq && t->seq->optional && t->seq->n == 1)
      t = t->seq->items[0];
    g->out_first[i] = n;
    g->out_kind[i] = !t->seq ? 'T' : t->seq->optional ? 'N' : 'S';
    if (t->seq && !t->seq->optional)
      for (int j = 0; j < t->seq->n; j++)
        if (t->seq->items[j]->seq)
          return diag_error(g->path, "graph output '%s': nested sequences are not supported",
                            g->outputs[i]->name);
    if (!t->seq && t == g->outputs[i]) { /* the graph's own node computes it already */
      list = mem_grow(g->mem, list, sizeof *list, &cap, n + 1);
      list[n++] = t;
      t->is_output = true;
    } else {
      g->outputs[i]->is_output = false;
      flatten_output(g, t, g->outputs[i]->name, &list, &n, &cap);
    }
    g->out_count[i] = n - g->out_first[i];
  }
  g->outputs = list;
  g->n_outputs = n;
  return NN_OK;
}

/* Element i of a bound input: a graph input of its own, or nested. */
static ir_tensor *bind_value(ir_graph *g, const ir_tensor *v, const char *name, ir_tensor **inputs,
                             int *n) {
  ir_tensor *t = ir_tensor_new(g, name);
  if (v->seq) {
    t->seq = new_seq(g, v->seq->optional, v->seq->n, v->seq->elem_dtype);
    for (int i = 0; i < v->seq->n; i++)
      t->seq->items[i] = bind_value(g, v->seq->items[i], mem_printf(g->mem, "%s.%d", name, i),
                                    inputs, n);
    t->shaped = true;
  } else {
    ir_set_shape(t, v->dtype, v->rank, v->dims);
    t->shaped = false; /* bind-shapes marks inputs shaped */
    inputs[(*n)++] = t;
  }
  t->kind = IR_INPUT; /* defined from the start, like the input it stands for */
  return t;
}

static int count_tensors(const ir_tensor *v) {
  if (!v->seq)
    return 1;
  int c = 0;
  for (int i = 0; i < v->seq->n; i++)
    c += count_tensors(v->seq->items[i]);
  return c;
}

int seq_bind_input(ir_graph *g, int k, const ir_tensor *value) {
  ir_tensor *ph = g->inputs[k];
  if (!ph->seq || ph->seq->n >= 0 || !value->seq || value->seq->optional != ph->seq->optional) {
    diag_error(g->path, "input '%s': the data is %s, the model wants %s", ph->name,
               !value->seq ? "a tensor" : value->seq->optional ? "an optional" : "a sequence",
               ph->seq->optional ? "an optional" : "a sequence");
    return -1;
  }
  int count = count_tensors(value), n = 0;
  ir_tensor **elements = mem_alloc(g->mem, sizeof *elements * (size_t)(count + 1));
  ir_tensor *bound = bind_value(g, value, ph->name, elements, &n);
  *ph->seq = *bound->seq;
  ph->shaped = true;
  g->sequence_io = true;
  /* the placeholder stays IR_INPUT (so nodes may read it) but leaves the
   * list of inputs; its elements take its place */
  ir_tensor **list = mem_alloc(g->mem, sizeof *list * (size_t)(g->n_inputs + count + 1));
  int m = 0;
  for (int i = 0; i < k; i++)
    list[m++] = g->inputs[i];
  for (int i = 0; i < count; i++)
    list[m++] = elements[i];
  for (int i = k + 1; i < g->n_inputs; i++)
    list[m++] = g->inputs[i];
  g->inputs = list;
  g->n_inputs = m;
  return count;
}
