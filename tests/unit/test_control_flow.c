/* Control flow and sequences lowered during inference (compiler/ops/control.c,
 * compiler/ops/sequence.c): If picks or selects, Loop and Scan unroll (also
 * with a nested If reading the body's values), sequence ops fold into tensor
 * ops, and a sequence input becomes one input per element. Graphs are built
 * by hand the way the ONNX loader builds them: subgraphs read outer tensors
 * directly and draw tensor ids from the model's counter. */
#include <criterion/criterion.h>
#include <string.h>

#include "control.h"
#include "passes.h"

static ir_graph *model(void) {
  diag_reset();
  return ir_graph_new(mem_new(), "test.onnx");
}

/* A subgraph of parent; tensors made with tensor() keep ids unique. */
static ir_graph *subgraph(ir_graph *root, ir_graph *parent) {
  ir_graph *s = ir_graph_new(root->mem, root->path);
  s->parent = parent;
  return s;
}

static ir_graph *root_of(ir_graph *g) {
  while (g->parent)
    g = g->parent;
  return g;
}

static ir_tensor *tensor(ir_graph *g, const char *name) {
  ir_graph *root = root_of(g);
  g->next_id = root->next_id > g->next_id ? root->next_id : g->next_id;
  ir_tensor *t = ir_tensor_new(g, name);
  root->next_id = g->next_id;
  return t;
}

static ir_tensor *weight_f(ir_graph *g, const char *name, int64_t len, const float *v) {
  ir_tensor *t = tensor(g, name);
  ir_set_shape(t, IR_FLOAT, 1, &len);
  memcpy(ir_make_weight(g, t), v, ir_bytes(t));
  return t;
}

static ir_tensor *scalar(ir_graph *g, const char *name, ir_dtype dt, int64_t v) {
  ir_tensor *t = tensor(g, name);
  int64_t one = 1;
  ir_set_shape(t, dt, 0, &one);
  void *d = ir_make_weight(g, t);
  if (dt == IR_BOOL)
    *(uint8_t *)d = v != 0;
  else
    *(int64_t *)d = v;
  return t;
}

static ir_tensor *input(ir_graph *g, const char *name, ir_dtype dt, int rank, int64_t len) {
  ir_tensor *t = tensor(g, name);
  t->kind = IR_INPUT;
  t->dtype = dt;
  t->rank = rank;
  t->dims[0] = len;
  g->inputs = mem_grow(g->mem, g->inputs, sizeof *g->inputs, &(int){g->n_inputs}, g->n_inputs + 1);
  g->inputs[g->n_inputs++] = t;
  return t;
}

static ir_node *node(ir_graph *g, const char *op, int n_in, ir_tensor **ins, const char *out) {
  ir_node *n = ir_node_new(g, op, n_in, 1);
  n->name = mem_strdup(g->mem, out);
  n->opset = 17;
  for (int k = 0; k < n_in; k++)
    n->inputs[k] = ins[k];
  n->outputs[0] = tensor(g, out);
  return n;
}

static void graph_attr(ir_graph *g, ir_node *n, const char *name, ir_graph *sub) {
  ir_attr *a = mem_alloc(g->mem, sizeof *a * (size_t)(n->n_attrs + 1));
  if (n->n_attrs)
    memcpy(a, n->attrs, sizeof *a * (size_t)n->n_attrs);
  a[n->n_attrs] = (ir_attr){.name = mem_strdup(g->mem, name), .type = IR_ATTR_OTHER, .graph = sub};
  n->attrs = a;
  n->n_attrs++;
}

static void sub_io(ir_graph *s, int n_in, ir_tensor **ins, int n_out, ir_tensor **outs) {
  s->inputs = mem_alloc(s->mem, sizeof *s->inputs * (size_t)(n_in + 1));
  s->outputs = mem_alloc(s->mem, sizeof *s->outputs * (size_t)(n_out + 1));
  for (int i = 0; i < n_in; i++)
    s->inputs[s->n_inputs++] = ins[i];
  for (int i = 0; i < n_out; i++)
    s->outputs[s->n_outputs++] = outs[i];
}

/* t feeds an Identity whose output is the graph's (graph outputs are never
 * folded, so t itself folds when it can). */
static void output(ir_graph *g, ir_tensor *t) {
  ir_node *id = node(g, "Identity", 1, (ir_tensor *[]){t}, "out");
  id->outputs[0]->is_output = true;
  g->outputs = mem_grow(g->mem, g->outputs, sizeof *g->outputs, &(int){g->n_outputs}, g->n_outputs + 1);
  g->outputs[g->n_outputs++] = id->outputs[0];
}

static nn_status lower(ir_graph *g) {
  if (pass_bind_shapes(g, NULL, 0) != NN_OK || pass_resolve_ops(g) != NN_OK)
    return NN_ERR;
  return pass_infer(g);
}

static int count_ops(const ir_graph *g, const char *op) {
  int c = 0;
  for (int i = 0; i < g->n_nodes; i++)
    c += strcmp(g->nodes[i]->op_type, op) == 0;
  return c;
}

static void check_f(const ir_tensor *t, int64_t len, const float *want) {
  cr_assert_eq(t->kind, IR_WEIGHT, "'%s' was not folded", t->name);
  cr_assert_eq(ir_numel(t), len, "'%s' has %lld elements", t->name, (long long)ir_numel(t));
  for (int64_t i = 0; i < len; i++)
    cr_assert_float_eq(ir_weight_float(t, i), want[i], 1e-6, "'%s'[%lld] = %g, expected %g",
                       t->name, (long long)i, ir_weight_float(t, i), want[i]);
}

/* If(cond) { x + c } else { x - c } */
static ir_node *if_add_sub(ir_graph *g, ir_tensor *cond, ir_tensor *x, ir_tensor *c, int64_t else_len) {
  ir_graph *then = subgraph(g, g), *els = subgraph(g, g);
  ir_node *add = node(then, "Add", 2, (ir_tensor *[]){x, c}, "sum");
  ir_tensor *other = x;
  if (else_len != x->dims[0])
    other = weight_f(els, "other", else_len, (float[]){0, 0, 0, 0, 0, 0, 0, 0});
  ir_node *sub = node(els, "Sub", 2, (ir_tensor *[]){other, c}, "diff");
  sub_io(then, 0, NULL, 1, &add->outputs[0]);
  sub_io(els, 0, NULL, 1, &sub->outputs[0]);
  ir_node *n = node(g, "If", 1, &cond, "picked");
  graph_attr(g, n, "then_branch", then);
  graph_attr(g, n, "else_branch", els);
  return n;
}

Test(control_flow, if_with_a_constant_condition_becomes_its_branch) {
  ir_graph *g = model();
  ir_tensor *x = input(g, "x", IR_FLOAT, 1, 2);
  ir_tensor *c = weight_f(g, "c", 1, (float[]){1});
  ir_node *n = if_add_sub(g, scalar(g, "cond", IR_BOOL, 0), x, c, 2);
  output(g, n->outputs[0]);
  cr_assert_eq(lower(g), NN_OK);
  cr_assert_eq(count_ops(g, "If"), 0);
  cr_assert_eq(count_ops(g, "Add"), 0, "the then branch is gone");
  cr_assert_eq(count_ops(g, "Sub"), 1, "the else branch computes the result");
  cr_assert_eq(g->outputs[0]->dims[0], 2);
}

Test(control_flow, if_with_a_runtime_condition_runs_both_and_selects) {
  ir_graph *g = model();
  ir_tensor *x = input(g, "x", IR_FLOAT, 1, 2);
  ir_tensor *cond = input(g, "cond", IR_BOOL, 0, 0);
  ir_node *n = if_add_sub(g, cond, x, weight_f(g, "c", 1, (float[]){1}), 2);
  output(g, n->outputs[0]);
  cr_assert_eq(lower(g), NN_OK);
  cr_assert_eq(count_ops(g, "Add"), 1);
  cr_assert_eq(count_ops(g, "Sub"), 1);
  cr_assert_eq(count_ops(g, "Where"), 1);
  cr_assert_eq(count_ops(g, "If"), 0);
}

Test(control_flow, if_with_a_runtime_condition_needs_branches_that_agree) {
  ir_graph *g = model();
  ir_tensor *x = input(g, "x", IR_FLOAT, 1, 2);
  ir_tensor *cond = input(g, "cond", IR_BOOL, 0, 0);
  ir_node *n = if_add_sub(g, cond, x, weight_f(g, "c", 1, (float[]){1}), 3);
  output(g, n->outputs[0]);
  cr_assert_eq(lower(g), NN_ERR);
  cr_assert_eq(diag_error_count(), 1);
}

/* Loop(M, true, v0) { v = v * 2 (nested: if (true) v + 0), scan v } */
static ir_node *doubling_loop(ir_graph *g, ir_tensor *M, bool nested_if) {
  ir_graph *body = subgraph(g, g);
  ir_tensor *iter = tensor(body, "i"), *cond_in = tensor(body, "c"), *v_in = tensor(body, "v");
  ir_tensor *two = weight_f(g, "two", 1, (float[]){2});
  ir_node *mul = node(body, "Mul", 2, (ir_tensor *[]){v_in, two}, "v2");
  ir_tensor *v_out = mul->outputs[0];
  if (nested_if) { /* the branch reads the body's own tensor v2 */
    ir_graph *then = subgraph(g, body), *els = subgraph(g, body);
    ir_tensor *zero = weight_f(g, "zero", 1, (float[]){0});
    ir_node *a = node(then, "Add", 2, (ir_tensor *[]){v_out, zero}, "t");
    ir_node *s = node(els, "Sub", 2, (ir_tensor *[]){v_out, v_out}, "e");
    sub_io(then, 0, NULL, 1, &a->outputs[0]);
    sub_io(els, 0, NULL, 1, &s->outputs[0]);
    ir_node *n = node(body, "If", 1, (ir_tensor *[]){scalar(g, "yes", IR_BOOL, 1)}, "v3");
    graph_attr(body, n, "then_branch", then);
    graph_attr(body, n, "else_branch", els);
    v_out = n->outputs[0];
  }
  ir_node *scan = node(body, "Identity", 1, &v_out, "scan");
  sub_io(body, 3, (ir_tensor *[]){iter, cond_in, v_in}, 3,
         (ir_tensor *[]){cond_in, v_out, scan->outputs[0]});
  ir_node *loop = ir_node_new(g, "Loop", 3, 2);
  loop->name = "loop";
  loop->opset = 17;
  loop->inputs[0] = M;
  loop->inputs[1] = scalar(g, "go", IR_BOOL, 1);
  loop->inputs[2] = weight_f(g, "v0", 1, (float[]){1});
  loop->outputs[0] = tensor(g, "final");
  loop->outputs[1] = tensor(g, "all");
  graph_attr(g, loop, "body", body);
  output(g, loop->outputs[0]);
  output(g, loop->outputs[1]);
  return loop;
}

Test(control_flow, loop_with_a_constant_trip_count_unrolls) {
  ir_graph *g = model();
  ir_node *loop = doubling_loop(g, scalar(g, "M", IR_INT64, 4), false);
  cr_assert_eq(lower(g), NN_OK);
  cr_assert_eq(count_ops(g, "Loop"), 0);
  check_f(loop->outputs[0], 1, (float[]){16});
  check_f(loop->outputs[1], 4, (float[]){2, 4, 8, 16});
  cr_assert_eq(loop->outputs[1]->rank, 2);
  cr_assert_eq(loop->outputs[1]->dims[0], 4);
}

Test(control_flow, loop_body_with_an_if_reading_body_values) {
  ir_graph *g = model();
  ir_node *loop = doubling_loop(g, scalar(g, "M", IR_INT64, 3), true);
  cr_assert_eq(lower(g), NN_OK);
  check_f(loop->outputs[0], 1, (float[]){8});
  check_f(loop->outputs[1], 3, (float[]){2, 4, 8});
}

Test(control_flow, loop_with_a_runtime_trip_count_is_an_error) {
  ir_graph *g = model();
  doubling_loop(g, input(g, "M", IR_INT64, 0, 0), false);
  cr_assert_eq(lower(g), NN_ERR);
  cr_assert_eq(diag_error_count(), 1);
}

Test(control_flow, scan_sums_in_reverse) {
  ir_graph *g = model();
  ir_graph *body = subgraph(g, g);
  ir_tensor *acc = tensor(body, "acc"), *x = tensor(body, "x");
  ir_node *add = node(body, "Add", 2, (ir_tensor *[]){acc, x}, "acc2");
  ir_node *id = node(body, "Identity", 1, &add->outputs[0], "partial");
  sub_io(body, 2, (ir_tensor *[]){acc, x}, 2, (ir_tensor *[]){add->outputs[0], id->outputs[0]});
  ir_node *scan = ir_node_new(g, "Scan", 2, 2);
  scan->name = "scan";
  scan->opset = 16;
  scan->inputs[0] = weight_f(g, "zero", 1, (float[]){0});
  int64_t dims[2] = {3, 1};
  scan->inputs[1] = tensor(g, "xs");
  ir_set_shape(scan->inputs[1], IR_FLOAT, 2, dims);
  memcpy(ir_make_weight(g, scan->inputs[1]), (float[]){1, 10, 100}, 12);
  scan->outputs[0] = tensor(g, "total");
  scan->outputs[1] = tensor(g, "partials");
  graph_attr(g, scan, "body", body);
  ir_node_set_int_attr(g, scan, "num_scan_inputs", 1);
  control_set_ints(g, scan, "scan_input_directions", (int64_t[]){1}, 1);
  output(g, scan->outputs[0]);
  output(g, scan->outputs[1]);
  cr_assert_eq(lower(g), NN_OK);
  check_f(scan->outputs[0], 1, (float[]){111});
  check_f(scan->outputs[1], 3, (float[]){100, 110, 111});
}

Test(control_flow, sequence_ops_fold_into_tensor_ops) {
  ir_graph *g = model();
  ir_tensor *x = weight_f(g, "x", 6, (float[]){0, 1, 2, 3, 4, 5});
  ir_node *split = node(g, "SplitToSequence", 2, (ir_tensor *[]){x, scalar(g, "two", IR_INT64, 2)}, "s");
  ir_tensor *y = weight_f(g, "y", 2, (float[]){9, 9});
  ir_node *ins = node(g, "SequenceInsert", 3,
                      (ir_tensor *[]){split->outputs[0], y, scalar(g, "front", IR_INT64, 0)}, "s2");
  ir_node *len = node(g, "SequenceLength", 1, &ins->outputs[0], "len");
  ir_node *at = node(g, "SequenceAt", 2, (ir_tensor *[]){ins->outputs[0], scalar(g, "last", IR_INT64, -1)}, "at");
  ir_node *cat = node(g, "ConcatFromSequence", 1, &ins->outputs[0], "cat");
  ir_node_set_int_attr(g, cat, "axis", 0);
  output(g, len->outputs[0]);
  output(g, at->outputs[0]);
  output(g, cat->outputs[0]);
  cr_assert_eq(lower(g), NN_OK);
  cr_assert_eq(len->outputs[0]->kind, IR_WEIGHT);
  cr_assert_eq(ir_weight_int(len->outputs[0], 0), 4);
  check_f(at->outputs[0], 2, (float[]){4, 5});
  check_f(cat->outputs[0], 8, (float[]){9, 9, 0, 1, 2, 3, 4, 5});
  cr_assert_eq(count_ops(g, "SequenceInsert"), 0);
}

Test(control_flow, sequence_graph_input_becomes_one_input_per_element) {
  ir_graph *g = model();
  ir_tensor *s = tensor(g, "s");
  s->kind = IR_INPUT;
  s->seq = mem_alloc(g->mem, sizeof *s->seq);
  s->seq->n = -1;
  g->inputs = mem_alloc(g->mem, sizeof *g->inputs * 2);
  g->inputs[g->n_inputs++] = s;
  ir_node *len = node(g, "SequenceLength", 1, &s, "len");
  output(g, len->outputs[0]);
  ir_tensor value = {0}, e0 = {0}, e1 = {0};
  int64_t d0 = 2, d1 = 3;
  ir_set_shape(&e0, IR_FLOAT, 1, &d0);
  ir_set_shape(&e1, IR_FLOAT, 1, &d1);
  ir_seq seq = {.n = 2, .items = (ir_tensor *[]){&e0, &e1}};
  value.seq = &seq;
  cr_assert_eq(seq_bind_input(g, 0, &value), 2);
  cr_assert_eq(g->n_inputs, 2);
  cr_assert_str_eq(g->inputs[0]->name, "s.0");
  cr_assert_str_eq(g->inputs[1]->name, "s.1");
  cr_assert_eq(g->inputs[1]->dims[0], 3);
  cr_assert_eq(lower(g), NN_OK);
  cr_assert_eq(ir_weight_int(len->outputs[0], 0), 2);
}

Test(control_flow, unbound_sequence_input_is_an_error) {
  ir_graph *g = model();
  ir_tensor *s = tensor(g, "s");
  s->kind = IR_INPUT;
  s->seq = mem_alloc(g->mem, sizeof *s->seq);
  s->seq->n = -1;
  g->inputs = mem_alloc(g->mem, sizeof *g->inputs * 2);
  g->inputs[g->n_inputs++] = s;
  ir_node *len = node(g, "SequenceLength", 1, &s, "len");
  output(g, len->outputs[0]);
  cr_assert_eq(lower(g), NN_ERR);
  cr_assert_eq(diag_error_count(), 1);
}

/* Loop(3, cond) { v = v * 2 } with cond given at run time (scan: also v). */
static ir_node *runtime_condition_loop(ir_graph *g, bool scan) {
  ir_graph *body = subgraph(g, g);
  ir_tensor *iter = tensor(body, "i"), *cond_in = tensor(body, "c"), *v_in = tensor(body, "v");
  ir_node *mul = node(body, "Mul", 2, (ir_tensor *[]){v_in, weight_f(g, "two", 1, (float[]){2})}, "v2");
  ir_node *id = node(body, "Identity", 1, &mul->outputs[0], "scan");
  sub_io(body, 3, (ir_tensor *[]){iter, cond_in, v_in}, scan ? 3 : 2,
         (ir_tensor *[]){cond_in, mul->outputs[0], id->outputs[0]});
  ir_node *loop = ir_node_new(g, "Loop", 3, scan ? 2 : 1);
  loop->name = "loop";
  loop->opset = 17;
  loop->inputs[0] = scalar(g, "M", IR_INT64, 3);
  loop->inputs[1] = input(g, "cond", IR_BOOL, 0, 0);
  loop->inputs[2] = input(g, "x", IR_FLOAT, 1, 2);
  for (int k = 0; k < loop->n_outputs; k++) {
    loop->outputs[k] = tensor(g, k ? "all" : "final");
    output(g, loop->outputs[k]);
  }
  graph_attr(g, loop, "body", body);
  return loop;
}

Test(control_flow, loop_with_a_runtime_condition_keeps_results_while_it_holds) {
  ir_graph *g = model();
  ir_node *loop = runtime_condition_loop(g, false);
  cr_assert_eq(lower(g), NN_OK);
  cr_assert_eq(count_ops(g, "Loop"), 0);
  cr_assert_eq(count_ops(g, "Mul"), 3, "every iteration runs");
  cr_assert_eq(count_ops(g, "And"), 3, "the condition accumulates");
  cr_assert_eq(count_ops(g, "Where"), 3, "each result counts only while it held");
  cr_assert_eq(loop->outputs[0]->dims[0], 2);
}

Test(control_flow, loop_with_a_runtime_condition_cannot_scan) {
  ir_graph *g = model();
  runtime_condition_loop(g, true);
  cr_assert_eq(lower(g), NN_ERR);
  cr_assert_eq(diag_error_count(), 1);
}
