/* onnx_write, read back with onnx_load: what the exporter's end-to-end test
 * cannot reach (open dims after the pipeline are always bound, custom
 * domains, every attribute type, names a frontend left empty or repeated). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>
#include <unistd.h>

#include "onnx.h"

static mem_arena *mem;
static ir_graph *g;
static char path[] = "/tmp/nncc_test_onnx_write_XXXXXX";

static void setup(void) {
  mem = mem_new();
  g = ir_graph_new(mem, "test.nn");
  g->inputs = mem_alloc(mem, sizeof *g->inputs * 4);
  g->outputs = mem_alloc(mem, sizeof *g->outputs * 4);
  diag_reset();
  strcpy(path + strlen(path) - 6, "XXXXXX");
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  close(fd);
}
static void teardown(void) {
  remove(path);
  mem_free(mem);
}

TestSuite(onnx_write, .init = setup, .fini = teardown);

static ir_tensor *input(const char *name) {
  ir_tensor *x = ir_tensor_new(g, name);
  x->kind = IR_INPUT;
  x->dtype = IR_FLOAT;
  x->rank = 2;
  x->dims[0] = -1;
  x->dim_params[0] = "N";
  x->dims[1] = 3;
  g->inputs[g->n_inputs++] = x;
  return x;
}

static ir_tensor *weight(const char *name, float v0) {
  ir_tensor *w = ir_tensor_new(g, name);
  int64_t dims[1] = {3};
  ir_set_shape(w, IR_FLOAT, 1, dims);
  float *d = ir_make_weight(g, w);
  d[0] = v0, d[1] = 2, d[2] = -3;
  return w;
}

static ir_node *binary(const char *op, ir_tensor *a, ir_tensor *b, ir_tensor *y) {
  ir_node *n = ir_node_new(g, op, 2, 1);
  n->opset = 13;
  n->inputs[0] = a, n->inputs[1] = b, n->outputs[0] = y;
  return n;
}

static void output(ir_tensor *t) {
  t->is_output = true;
  g->outputs[g->n_outputs++] = t;
}

static ir_graph *reload(void) {
  cr_assert_eq(onnx_write(g, path), NN_OK);
  ir_graph *back = onnx_load(path, mem);
  cr_assert_not_null(back);
  return back;
}

Test(onnx_write, keeps_open_dims_and_weights) {
  ir_tensor *y = ir_tensor_new(g, "y");
  binary("Add", input("x"), weight("w", 1.5f), y);
  output(y);
  ir_graph *b = reload();
  cr_assert_eq(b->n_inputs, 1);
  cr_assert_eq(b->inputs[0]->dims[0], -1);
  cr_assert_str_eq(b->inputs[0]->dim_params[0], "N");
  cr_assert_eq(b->inputs[0]->dims[1], 3);
  const ir_tensor *w = b->nodes[0]->inputs[1];
  cr_assert_eq(w->kind, IR_WEIGHT);
  cr_assert_eq(((const float *)w->data)[0], 1.5f);
  cr_assert_eq(((const float *)w->data)[2], -3.0f);
  cr_assert_eq(b->nodes[0]->opset, 13);
}

static void add_attrs(ir_node *n) {
  static int64_t ints[] = {4, -5};
  static double floats[] = {0.25, -1};
  static char *strings[] = {"p", "qr"};
  ir_tensor *t = mem_alloc(mem, sizeof *t);
  t->name = "";
  int64_t one[1] = {1};
  ir_set_shape(t, IR_INT64, 1, one);
  *(int64_t *)ir_make_weight(g, t) = 42;
  ir_attr a[] = {{.name = "f", .type = IR_ATTR_FLOAT, .f = 0.5},
                 {.name = "i", .type = IR_ATTR_INT, .i = -7},
                 {.name = "s", .type = IR_ATTR_STRING, .s = "mode"},
                 {.name = "t", .type = IR_ATTR_TENSOR, .t = t},
                 {.name = "fs", .type = IR_ATTR_FLOATS, .n = 2, .floats = floats},
                 {.name = "is", .type = IR_ATTR_INTS, .n = 2, .ints = ints},
                 {.name = "ss", .type = IR_ATTR_STRINGS, .n = 2, .strings = strings}};
  n->n_attrs = 7;
  n->attrs = mem_alloc(mem, sizeof a);
  memcpy(n->attrs, a, sizeof a);
}

Test(onnx_write, every_attribute_type_and_domain) {
  ir_tensor *y = ir_tensor_new(g, "y"), *z = ir_tensor_new(g, "z");
  binary("Add", input("x"), weight("w", 1), y);
  ir_node *n = ir_node_new(g, "Custom", 1, 1);
  n->domain = "com.example";
  n->opset = 2;
  n->inputs[0] = y, n->outputs[0] = z;
  add_attrs(n);
  output(z);
  ir_node *c = reload()->nodes[1];
  cr_assert_str_eq(c->domain, "com.example");
  cr_assert_eq(c->opset, 2);
  cr_assert_eq(ir_attr_float(c, "f", 0), 0.5);
  cr_assert_eq(ir_attr_int(c, "i", 0), -7);
  cr_assert_str_eq(ir_attr_string(c, "s", ""), "mode");
  cr_assert_eq(*(const int64_t *)ir_attr_find(c, "t")->t->data, 42);
  cr_assert_eq(ir_attr_find(c, "fs")->floats[0], 0.25);
  const int64_t *is;
  cr_assert_eq(ir_attr_ints(c, "is", &is), 2);
  cr_assert_eq(is[1], -5);
  cr_assert_str_eq(ir_attr_find(c, "ss")->strings[1], "qr");
}

Test(onnx_write, empty_and_repeated_names_become_unique) {
  ir_tensor *a = ir_tensor_new(g, ""), *b = ir_tensor_new(g, "x"), *c = ir_tensor_new(g, "");
  ir_tensor *x = input("x");
  binary("Add", x, weight("x", 1), a); /* an input and a weight both 'x' */
  binary("Mul", a, a, b);
  binary("Sub", b, a, c);
  output(c);
  ir_graph *back = reload(); /* the loader rejects a name defined twice */
  cr_assert_eq(back->n_nodes, 3);
  cr_assert_str_eq(back->inputs[0]->name, "x");
}

Test(onnx_write, refuses_what_it_cannot_say) {
  cr_redirect_stderr();
  ir_tensor *y = ir_tensor_new(g, "y");
  ir_node *n = binary("If", input("x"), weight("w", 1), y);
  n->n_attrs = 1;
  n->attrs = mem_alloc(mem, sizeof *n->attrs);
  n->attrs[0] = (ir_attr){.name = "then_branch", .type = IR_ATTR_OTHER};
  output(y);
  remove(path);
  cr_assert_eq(onnx_write(g, path), NN_ERR);
  cr_assert_eq(access(path, F_OK), -1); /* nothing written */
}
