/* String tensors in generated C: `nn_str` (const char *) elements pointing
 * at NUL-terminated UTF-8. String weights are static arrays of literals (not
 * bytes of the weight blob: they are pointers); strings that ops make at run
 * time live in the arena, in a region no other buffer reuses (pass_strings.c). */
#include <stdio.h>
#include <string.h>

#include "codegen_internal.h"
#include "emit.h"

/* Printable ASCII stands for itself; every other byte is a three-digit octal
 * escape, so a following digit never extends it and '?' never makes a
 * trigraph. */
static void literal_into(cbuf *b, const char *s) {
  char esc[8];
  cb_bytes(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p >= 0x20 && *p < 0x7f && *p != '\\' && *p != '"' && *p != '?') {
      esc[0] = (char)*p;
      cb_bytes(b, esc, 1);
    } else {
      snprintf(esc, sizeof esc, "\\%03o", *p);
      cb_bytes(b, esc, 4);
    }
  }
  cb_bytes(b, "\"", 1);
}

const char *emit_string_literal(emit_ctx *e, const char *s) {
  cbuf b;
  cb_init(&b);
  literal_into(&b, s);
  const char *out = mem_strdup(e->g->mem, b.data);
  cb_free(&b);
  return out;
}

bool graph_has_strings(const ir_graph *g) {
  for (int i = 0; i < g->n_tensors; i++)
    if (g->tensors[i]->dtype == IR_STRING)
      return true;
  return false;
}

const char *string_weight_name(const ir_tensor *t, mem_arena *mem) {
  return mem_printf(mem, "nn_strings_%d", t->id);
}

void emit_string_weights(cbuf *c, const ir_graph *g, const bool *used) {
  for (int i = 0; i < g->n_tensors; i++) {
    const ir_tensor *t = g->tensors[i];
    if (t->kind != IR_WEIGHT || t->dtype != IR_STRING || !used[t->id])
      continue;
    int64_t n = ir_numel(t);
    cb_raw(c, "static const nn_str %s[%lld] = {", string_weight_name(t, g->mem),
           (long long)(n ? n : 1));
    char *const *s = t->data;
    for (int64_t k = 0; k < n; k++) {
      cb_raw(c, "%s", k % 8 ? ", " : "\n  ");
      literal_into(c, s[k] ? s[k] : "");
    }
    cb_raw(c, "%s};\n\n", n ? "\n" : "\"\"");
  }
}

void emit_string_header(cbuf *h, const char *guard, int64_t string_bytes) {
  cb_line(h, "#ifndef NN_STR_DEFINED");
  cb_line(h, "#define NN_STR_DEFINED");
  cb_line(h, "/* A string element: NUL-terminated UTF-8 (never NULL in outputs). */");
  cb_line(h, "typedef const char *nn_str;");
  cb_line(h, "#endif");
  cb_line(h, "/* Room for each string the model makes at run time, its NUL included. */");
  cb_line(h, "#define %s_STRING_BYTES %lld", guard, (long long)string_bytes);
  cb_line(h, "%s", "");
}

void emit_string_contract(cbuf *h, const char *guard) {
  cb_line(h, " * Strings: output elements point into the inputs, into the model's constant");
  cb_line(h, " * strings, or into the arena, where they stay valid until the next call on");
  cb_line(h, " * the same arena. A string an op would make (or split) longer than");
  cb_line(h, " * %s_STRING_BYTES bytes, NUL included, stops the run: it returns 1 and the", guard);
  cb_line(h, " * outputs are unspecified (nncc --string-bytes N raises the room).");
}
