/* String tensors outside the ops: C literals of arbitrary bytes, the byte
 * room pass_strings places past the planned arena, and .npy output. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>

#include "emit.h"
#include "file.h"
#include "npy.h"
#include "ops.h"
#include "passes.h"

Test(strings, literals_escape_everything_but_printable_ascii) {
  mem_arena *mem = mem_new();
  ir_graph *g = ir_graph_new(mem, "x");
  emit_ctx e = {.g = g};
  cr_assert_str_eq(emit_string_literal(&e, "abc"), "\"abc\"");
  cr_assert_str_eq(emit_string_literal(&e, ""), "\"\"");
  /* quotes, backslash, '?' (no trigraphs), a digit after an escape, UTF-8 */
  cr_assert_str_eq(emit_string_literal(&e, "\"\\?\?=\n1"), "\"\\042\\134\\077\\077=\\0121\"");
  cr_assert_str_eq(emit_string_literal(&e, "\xc3\xa9"), "\"\\303\\251\"");
  mem_free(mem);
}

/* x -> StringConcat(x, x) -> y, planned, then given its room. */
static ir_graph *concat_graph(mem_arena *mem, int64_t n, int64_t string_bytes) {
  ir_graph *g = ir_graph_new(mem, "concat.onnx");
  g->string_bytes = string_bytes;
  ir_tensor *x = ir_tensor_new(g, "x");
  ir_set_shape(x, IR_STRING, 1, &n);
  x->kind = IR_INPUT;
  g->inputs = mem_alloc(mem, sizeof *g->inputs);
  g->inputs[g->n_inputs++] = x;
  ir_node *c = ir_node_new(g, "StringConcat", 2, 1);
  c->name = "twice";
  c->inputs[0] = c->inputs[1] = x;
  c->outputs[0] = ir_tensor_new(g, "y");
  ir_node *id = ir_node_new(g, "Identity", 1, 1);
  id->inputs[0] = c->outputs[0];
  id->outputs[0] = ir_tensor_new(g, "z");
  id->outputs[0]->is_output = true;
  g->outputs = mem_alloc(mem, sizeof *g->outputs);
  g->outputs[g->n_outputs++] = id->outputs[0];
  pipeline_options o = {.opt_level = 2};
  cr_assert_eq(pipeline_run(g, &o), NN_OK);
  return g;
}

Test(strings, room_lies_past_the_planned_arena) {
  mem_arena *mem = mem_new();
  ir_graph *g = concat_graph(mem, 3, 100);
  const ir_node *c = g->nodes[0];
  cr_assert_eq(c->n_outputs, 2);
  const ir_tensor *y = c->outputs[0], *room = c->outputs[1];
  cr_assert_eq(room->dtype, IR_UINT8);
  cr_assert_eq(room->dims[0], 300); /* one 100-byte slot per string made */
  cr_assert_geq(room->offset, y->offset + (int64_t)ir_bytes(y), "room overlaps y");
  cr_assert_eq(room->offset % 64, 0);
  cr_assert_eq(g->arena_bytes, room->offset + 300);
  mem_free(mem);
}

Test(strings, npy_round_trip) {
  mem_arena *mem = mem_new();
  ir_tensor t = {.dtype = IR_STRING, .rank = 2, .dims = {2, 2}};
  char *data[4] = {"", "x", "\xe7\x9a\x84\xe4\xb8\xad", "\xf0\x9f\x98\x80!"};
  char path[] = "/tmp/nncc_test_strings_XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  close(fd);
  cr_assert_eq(npy_write(path, &t, data), NN_OK);
  ir_tensor back = {0};
  cr_assert_eq(npy_read(path, mem, &back), NN_OK);
  cr_assert_eq(back.dtype, IR_STRING);
  cr_assert_eq(back.rank, 2);
  for (int i = 0; i < 4; i++)
    cr_expect_str_eq(((char **)back.data)[i], data[i]);
  remove(path);
  mem_free(mem);
}

Test(strings, npy_output_is_unicode) {
  mem_arena *mem = mem_new();
  ir_tensor t = {.dtype = IR_STRING, .rank = 1, .dims = {3}};
  char *data[3] = {"ab", "", "\xc3\xa9t\xc3\xa9"};
  char path[] = "/tmp/nncc_test_strings_XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  close(fd);
  cr_assert_eq(npy_write(path, &t, data), NN_OK);
  size_t size;
  unsigned char *buf = file_read(path, &size);
  cr_assert_not_null(buf);
  cr_assert_not_null(strstr((char *)buf + 10, "'descr': '<U3'"));
  cr_assert_not_null(strstr((char *)buf + 10, "'shape': (3,)"));
  cr_assert_eq(size % 64, 36 % 64, "3 items of 3 UTF-32 code points after a 64-byte aligned header");
  static const unsigned char want[36] = {'a', 0, 0, 0, 'b', 0, 0, 0, 0, 0, 0, 0,  /* "ab" */
                                         0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,      /* "" */
                                         0xe9, 0, 0, 0, 't', 0, 0, 0, 0xe9, 0, 0, 0}; /* "été" */
  cr_assert_eq(memcmp(buf + size - 36, want, 36), 0);
  free(buf);
  remove(path);
  mem_free(mem);
}
