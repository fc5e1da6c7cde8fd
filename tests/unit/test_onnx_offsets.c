/* onnx_serialize and onnx_initializer_spans: the trainer's ONNX export
 * writes trained weights over the raw_data bytes these spans point at. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "onnx.h"

static ir_tensor *tensor(ir_graph *g, const char *name, int n, float v0) {
  ir_tensor *w = ir_tensor_new(g, name);
  int64_t dims[1] = {n};
  ir_set_shape(w, IR_FLOAT, 1, dims);
  float *d = ir_make_weight(g, w);
  for (int i = 0; i < n; i++)
    d[i] = v0 + (float)i;
  return w;
}

/* y = (x + a) * b, with an attribute tensor (a ConstantOfShape value) that
 * is not an initializer and must not be reported as one. */
static ir_graph *small_graph(mem_arena *mem) {
  ir_graph *g = ir_graph_new(mem, "test.nn");
  g->inputs = mem_alloc(mem, sizeof *g->inputs * 2);
  g->outputs = mem_alloc(mem, sizeof *g->outputs * 2);
  ir_tensor *x = ir_tensor_new(g, "x");
  int64_t dims[1] = {3};
  ir_set_shape(x, IR_FLOAT, 1, dims);
  x->kind = IR_INPUT;
  g->inputs[g->n_inputs++] = x;
  ir_tensor *a = tensor(g, "a", 3, 10), *b = tensor(g, "b", 3, 20);
  ir_tensor *s = ir_tensor_new(g, "s"), *y = ir_tensor_new(g, "y");
  ir_set_shape(s, IR_FLOAT, 1, dims);
  ir_set_shape(y, IR_FLOAT, 1, dims);
  ir_node *add = ir_node_new(g, "Add", 2, 1), *mul = ir_node_new(g, "Mul", 2, 1);
  add->opset = mul->opset = 17;
  add->inputs[0] = x, add->inputs[1] = a, add->outputs[0] = s;
  mul->inputs[0] = s, mul->inputs[1] = b, mul->outputs[0] = y;
  ir_tensor *attr = tensor(g, "", 3, 10); /* the same bytes as a: a decoy */
  mul->n_attrs = 1;
  mul->attrs = mem_alloc(mem, sizeof *mul->attrs);
  mul->attrs[0] = (ir_attr){.name = "decoy", .type = IR_ATTR_TENSOR, .t = attr};
  y->is_output = true;
  g->outputs[g->n_outputs++] = y;
  return g;
}

Test(onnx_offsets, spans_point_at_each_initializers_raw_data) {
  mem_arena *mem = mem_new();
  ir_graph *g = small_graph(mem);
  unsigned char *bytes;
  size_t size;
  cr_assert_eq(onnx_serialize(g, &bytes, &size), NN_OK);
  onnx_raw_span *spans;
  int n;
  cr_assert_eq(onnx_initializer_spans(bytes, size, &spans, &n), NN_OK);
  cr_assert_eq(n, 2);
  cr_assert_str_eq(spans[0].name, "a");
  cr_assert_str_eq(spans[1].name, "b");
  for (int i = 0; i < 2; i++) {
    const ir_tensor *w = g->nodes[i]->inputs[1];
    cr_assert_eq(spans[i].bytes, 12);
    cr_assert_arr_eq(bytes + spans[i].offset, w->data, 12);
  }
  /* Patched in place, the file loads with the new values. */
  float b_new[3] = {-1, -2, -3};
  memcpy(bytes + spans[1].offset, b_new, sizeof b_new);
  char path[] = "/tmp/nncc_test_offsets_XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  close(fd);
  cr_assert_eq(file_write_atomic(path, bytes, size), NN_OK);
  ir_graph *back = onnx_load(path, mem);
  cr_assert_not_null(back);
  const float *b = back->nodes[1]->inputs[1]->data;
  cr_assert_eq(b[0], -1.0f);
  cr_assert_eq(b[2], -3.0f);
  cr_assert_eq(((const float *)back->nodes[0]->inputs[1]->data)[0], 10.0f);
  remove(path);
  onnx_free_spans(spans, n);
  free(bytes);
  mem_free(mem);
}

Test(onnx_offsets, rejects_bytes_that_are_not_a_model) {
  static const unsigned char junk[] = {0x3a, 0x7f, 0x01}; /* graph field, length past the end */
  onnx_raw_span *spans;
  int n;
  cr_assert_eq(onnx_initializer_spans(junk, sizeof junk, &spans, &n), NN_ERR);
  cr_assert_eq(onnx_initializer_spans(junk, 0, &spans, &n), NN_ERR);
  cr_assert_eq(n, 0);
}
