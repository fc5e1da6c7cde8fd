/* Pieces of the emitter: identifiers, comments, literals, the text buffer. */
#include <criterion/criterion.h>
#include <math.h>

#include "cbuf.h"
#include "emit.h"
#include "names.h"

Test(names, sanitizes_and_uniquifies) {
  mem_arena *mem = mem_new();
  name_scope s;
  names_init(&s, mem);
  cr_assert_str_eq(names_make(&s, "conv1/weight:0", 64), "conv1_weight_0");
  cr_assert_str_eq(names_make(&s, "conv1/weight:0", 64), "conv1_weight_0_2");
  cr_assert_str_eq(names_make(&s, "int", 64), "int_2");
  cr_assert_str_eq(names_make(&s, "3x", 64), "v3x");
  cr_assert_str_eq(names_make(&s, "", 64), "v");
  cr_assert_str_eq(names_make(&s, "__a", 64), "vxa");
  mem_free(mem);
}

Test(names, comments_cannot_be_closed) {
  mem_arena *mem = mem_new();
  const char *c = names_comment(mem, "a*/b/*c\nd");
  cr_assert_null(strstr(c, "*/"));
  cr_assert_null(strstr(c, "/*"));
  cr_assert_null(strchr(c, '\n'));
  mem_free(mem);
}

Test(emit, float_literals_round_trip) {
  mem_arena *mem = mem_new();
  ir_graph *g = ir_graph_new(mem, "x");
  emit_ctx e = {.g = g};
  cr_assert_str_eq(emit_float(&e, 1.0), "1.0f");
  cr_assert_str_eq(emit_float(&e, INFINITY), "INFINITY");
  cr_assert_str_eq(emit_float(&e, -INFINITY), "-INFINITY");
  cr_assert_str_eq(emit_float(&e, NAN), "NAN");
  float v = 0.1f;
  cr_assert_eq(strtof(emit_float(&e, v), NULL), v);
  cr_assert_str_eq(emit_literal(&e, IR_INT64, -3), "INT64_C(-3)");
  mem_free(mem);
}

Test(cbuf, indents_blocks) {
  cbuf b;
  cb_init(&b);
  cb_open(&b, "for (;;)");
  cb_line(&b, "x++;");
  cb_close(&b);
  cr_assert_str_eq(b.data, "for (;;) {\n  x++;\n}\n");
  cb_free(&b);
}
