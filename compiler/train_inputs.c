/* The trainer's view of a training graph's data inputs: name, element type,
 * values per sample, and the range an integer input must keep to (the rows
 * of the Gather it indexes: an embedding's vocabulary), so the program
 * checks every sample when it loads it instead of the module reading out of
 * bounds. */
#include "train_inputs.h"

#include <string.h>

#include "diag.h"

static bool is_interface(const ad_result *r, const ir_tensor *t) {
  return t == r->label || t == r->mask || t == r->lr || t == r->step || t == r->scale;
}

static bool elem_of(ir_dtype t, rt_elem *e) {
  switch (t) {
  case IR_FLOAT: *e = RT_ELEM_FLOAT32; return true;
  case IR_DOUBLE: *e = RT_ELEM_FLOAT64; return true;
  case IR_INT64: *e = RT_ELEM_INT64; return true;
  case IR_INT32: *e = RT_ELEM_INT32; return true;
  case IR_INT16: *e = RT_ELEM_INT16; return true;
  case IR_INT8: *e = RT_ELEM_INT8; return true;
  case IR_UINT8: *e = RT_ELEM_UINT8; return true;
  case IR_UINT16: *e = RT_ELEM_UINT16; return true;
  case IR_UINT32: *e = RT_ELEM_UINT32; return true;
  case IR_BOOL: *e = RT_ELEM_BOOL; return true;
  default: return false;
  }
}

/* Ops that hand every element of input 0 on to output 0 unchanged (a Cast
 * to int32 or int64 keeps every value a range [0, rows) holds). */
static bool keeps_values(const ir_node *n) {
  static const char *const ops[] = {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
                                    "Transpose"};
  if (n->domain && n->domain[0])
    return false;
  if (strcmp(n->op_type, "Cast") == 0)
    return n->outputs[0]->dtype == IR_INT64 || n->outputs[0]->dtype == IR_INT32;
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
    if (strcmp(n->op_type, ops[i]) == 0)
      return true;
  return false;
}

/* Narrows in's range by every Gather that t (holding in's values) indexes. */
static void gather_ranges(const ir_graph *g, const ir_tensor *t, rt_input *in, int depth) {
  for (int i = 0; i < g->n_nodes && depth < 64; i++) {
    const ir_node *n = g->nodes[i];
    if (n->dead || n->phase != IR_PHASE_FORWARD || n->n_inputs < 1)
      continue;
    if (n->inputs[0] == t && n->n_outputs && n->outputs[0] && keeps_values(n)) {
      gather_ranges(g, n->outputs[0], in, depth + 1);
      continue;
    }
    bool gather = strcmp(n->op_type, "Gather") == 0 && (!n->domain || !n->domain[0]);
    if (!gather || n->n_inputs < 2 || n->inputs[1] != t)
      continue;
    const ir_tensor *data = n->inputs[0];
    int64_t axis = ir_attr_int(n, "axis", 0);
    if (axis < 0)
      axis += data->rank;
    if (axis < 0 || axis >= data->rank)
      continue;
    int64_t rows = data->dims[axis];
    if (in->has_range && rows >= in->hi)
      continue;
    bool embedding = axis == 0 && data->kind == IR_STATE;
    in->has_range = 1;
    in->lo = 0;
    in->hi = rows;
    in->value_word = embedding ? "token" : "index";
    in->range_of = embedding ? mem_printf(g->mem, "the vocabulary of embedding '%s'", n->name)
                             : mem_printf(g->mem, "the %lld entries on axis %lld of Gather '%s'",
                                          (long long)rows, (long long)axis, n->name);
  }
}

nn_status train_inputs_describe(const ir_graph *g, const ad_result *r, rt_input **out, int *n) {
  rt_input *ins = mem_alloc(g->mem, sizeof *ins * (size_t)(g->n_inputs + 1));
  int count = 0;
  for (int i = 0; i < g->n_inputs; i++) {
    const ir_tensor *x = g->inputs[i];
    if (is_interface(r, x))
      continue;
    rt_input *in = &ins[count++];
    memset(in, 0, sizeof *in);
    in->name = x->name;
    in->features = (size_t)(ir_numel(x) / r->batch);
    if (!elem_of(x->dtype, &in->type))
      return diag_error(g->path, "the trainer feeds float32, float64, integer and bool inputs; "
                        "input '%s' is %s (use --module-only and a main of your own)", x->name,
                        ir_dtype_name(x->dtype));
    if (in->type != RT_ELEM_FLOAT32 && in->type != RT_ELEM_FLOAT64)
      gather_ranges(g, x, in, 0);
  }
  if (count == 0)
    return diag_error(g->path, "the model has no input for the trainer to feed");
  if (count > RT_MAX_INPUTS)
    return diag_error(g->path, "the trainer feeds at most %d inputs; the model has %d (use "
                      "--module-only and a main of your own)", RT_MAX_INPUTS, count);
  if (r->pred->dtype != IR_FLOAT)
    return diag_error(g->path, "the trainer reads float32 predictions; output '%s' is %s",
                      r->pred->name, ir_dtype_name(r->pred->dtype));
  *out = ins;
  *n = count;
  return NN_OK;
}
