/* fold_elementwise through the infer pass: shape arithmetic on weights
 * becomes weights, with ONNX's integer semantics (Mod's two sign rules,
 * truncating Div, broadcasting, Where, variadic Max). */
#include <criterion/criterion.h>
#include <string.h>

#include "passes.h"

static ir_tensor *weight_i64(ir_graph *g, const char *name, int rank, const int64_t *dims,
                             const int64_t *vals) {
  ir_tensor *t = ir_tensor_new(g, name);
  ir_set_shape(t, IR_INT64, rank, dims);
  memcpy(ir_make_weight(g, t), vals, ir_bytes(t));
  return t;
}

static ir_tensor *weight_bool(ir_graph *g, const char *name, int64_t len, const uint8_t *vals) {
  ir_tensor *t = ir_tensor_new(g, name);
  ir_set_shape(t, IR_BOOL, 1, &len);
  memcpy(ir_make_weight(g, t), vals, ir_bytes(t));
  return t;
}

/* A node of op over ins whose result feeds an Identity graph output (graph
 * outputs are never folded); returns the folded result after inference. */
static ir_tensor *fold(ir_graph *g, const char *op, int n_in, ir_tensor **ins, int64_t fmod_attr) {
  ir_node *n = ir_node_new(g, op, n_in, 1);
  n->opset = 17;
  for (int k = 0; k < n_in; k++)
    n->inputs[k] = ins[k];
  n->outputs[0] = ir_tensor_new(g, "y");
  if (fmod_attr >= 0)
    ir_node_set_int_attr(g, n, "fmod", fmod_attr);
  ir_node *id = ir_node_new(g, "Identity", 1, 1);
  id->opset = 17;
  id->inputs[0] = n->outputs[0];
  id->outputs[0] = ir_tensor_new(g, "z");
  id->outputs[0]->is_output = true;
  g->outputs = mem_alloc(g->mem, sizeof *g->outputs);
  g->outputs[0] = id->outputs[0];
  g->n_outputs = 1;
  cr_assert_eq(pass_resolve_ops(g), NN_OK);
  cr_assert_eq(pass_infer(g), NN_OK);
  cr_assert_eq(n->outputs[0]->kind, IR_WEIGHT, "%s was not folded", op);
  return n->outputs[0];
}

static void check_i64(const ir_tensor *t, int64_t len, const int64_t *want) {
  cr_assert_eq(ir_numel(t), len);
  for (int64_t i = 0; i < len; i++)
    cr_assert_eq(ir_weight_int(t, i), want[i], "element %lld: %lld, expected %lld", (long long)i,
                 (long long)ir_weight_int(t, i), (long long)want[i]);
}

static const int64_t four = 4;
static const int64_t a_vals[4] = {7, -7, 7, -7}, b_vals[4] = {3, 3, -3, -3};

Test(fold_eval, mod_follows_divisor_sign_unless_fmod) {
  static const int64_t python[4] = {1, 2, -2, -1}, c_style[4] = {1, -1, 1, -1};
  for (int f = 0; f < 2; f++) {
    mem_arena *mem = mem_new();
    ir_graph *g = ir_graph_new(mem, "t");
    ir_tensor *in[2] = {weight_i64(g, "a", 1, &four, a_vals), weight_i64(g, "b", 1, &four, b_vals)};
    check_i64(fold(g, "Mod", 2, in, f), 4, f ? c_style : python);
    mem_free(mem);
  }
}

Test(fold_eval, div_truncates_and_broadcasts) {
  mem_arena *mem = mem_new();
  ir_graph *g = ir_graph_new(mem, "t");
  static const int64_t two = 2, lhs[4] = {7, -7, 9, INT64_MIN}, rhs[2] = {2, -1};
  static const int64_t dims[2] = {2, 2};
  ir_tensor *in[2] = {weight_i64(g, "a", 2, dims, lhs), weight_i64(g, "b", 1, &two, rhs)};
  static const int64_t want[4] = {3, 7, 4, INT64_MIN}; /* INT64_MIN / -1 wraps */
  check_i64(fold(g, "Div", 2, in, -1), 4, want);
  mem_free(mem);
}

Test(fold_eval, compare_logic_not_where) {
  mem_arena *mem = mem_new();
  ir_graph *g = ir_graph_new(mem, "t");
  ir_tensor *in[2] = {weight_i64(g, "a", 1, &four, a_vals), weight_i64(g, "b", 1, &four, b_vals)};
  ir_tensor *less = fold(g, "Less", 2, in, -1);
  cr_assert_eq(less->dtype, IR_BOOL);
  static const int64_t want_less[4] = {0, 1, 0, 1};
  check_i64(less, 4, want_less);
  mem_free(mem);

  mem = mem_new();
  g = ir_graph_new(mem, "t");
  static const uint8_t p[4] = {1, 1, 0, 0}, q[4] = {1, 0, 1, 0};
  ir_tensor *lg[2] = {weight_bool(g, "p", 4, p), weight_bool(g, "q", 4, q)};
  static const int64_t want_xor[4] = {0, 1, 1, 0};
  check_i64(fold(g, "Xor", 2, lg, -1), 4, want_xor);
  mem_free(mem);

  mem = mem_new();
  g = ir_graph_new(mem, "t");
  ir_tensor *one[1] = {weight_bool(g, "p", 4, p)};
  static const int64_t want_not[4] = {0, 0, 1, 1};
  check_i64(fold(g, "Not", 1, one, -1), 4, want_not);
  mem_free(mem);

  mem = mem_new();
  g = ir_graph_new(mem, "t");
  static const int64_t scalar_dims[1] = {1}, minus_one[1] = {-1};
  ir_tensor *w[3] = {weight_bool(g, "c", 4, q), weight_i64(g, "x", 1, &four, a_vals),
                     weight_i64(g, "y", 1, scalar_dims, minus_one)};
  static const int64_t want_where[4] = {7, -1, 7, -1};
  check_i64(fold(g, "Where", 3, w, -1), 4, want_where);
  mem_free(mem);
}

Test(fold_eval, variadic_max_and_single_input) {
  mem_arena *mem = mem_new();
  ir_graph *g = ir_graph_new(mem, "t");
  static const int64_t c_vals[4] = {0, 0, 9, 0};
  ir_tensor *in[3] = {weight_i64(g, "a", 1, &four, a_vals), weight_i64(g, "b", 1, &four, b_vals),
                      weight_i64(g, "c", 1, &four, c_vals)};
  static const int64_t want[4] = {7, 3, 9, 0};
  check_i64(fold(g, "Max", 3, in, -1), 4, want);
  mem_free(mem);

  mem = mem_new();
  g = ir_graph_new(mem, "t");
  ir_tensor *only[1] = {weight_i64(g, "a", 1, &four, a_vals)};
  check_i64(fold(g, "Min", 1, only, -1), 4, a_vals);
  mem_free(mem);
}
