/* What the inference and the training modules share: one static function
 * per node with its call, and binary data as a string literal. */
#include <stdio.h>
#include <string.h>

#include "codegen_internal.h"
#include "emit.h"
#include "names.h"
#include "ops.h"

bool emit_mentions(const char *text, const char *ident) {
  size_t n = strlen(ident);
  for (const char *p = strstr(text, ident); p; p = strstr(p + 1, ident)) {
    bool left = p == text || !(p[-1] == '_' || (p[-1] >= '0' && p[-1] <= '9') ||
                               ((p[-1] | 32) >= 'a' && (p[-1] | 32) <= 'z'));
    char r = p[n];
    bool right = !(r == '_' || (r >= '0' && r <= '9') || ((r | 32) >= 'a' && (r | 32) <= 'z'));
    if (left && right)
      return true;
  }
  return false;
}

/* One line above the function: op, name, input and output types and shapes. */
static void node_comment(cbuf *c, ir_graph *g, const ir_node *n) {
  char shape[256];
  cb_raw(c, "/* %s '%s':", n->op_type, names_comment(g->mem, n->name));
  for (int k = 0; k < n->n_inputs; k++)
    if (n->inputs[k])
      cb_raw(c, " %s%s%s", ir_dtype_name(n->inputs[k]->dtype),
             ir_shape_str(n->inputs[k], shape, sizeof shape),
             n->inputs[k]->kind == IR_STATE ? "(state)" : "");
  cb_raw(c, " ->");
  for (int k = 0; k < n->n_outputs; k++)
    if (n->outputs[k])
      cb_raw(c, " %s%s", ir_dtype_name(n->outputs[k]->dtype),
             ir_shape_str(n->outputs[k], shape, sizeof shape));
  cb_raw(c, " */\n");
}

void emit_node_function(cbuf *c, cbuf *call, ir_graph *g, name_scope *globals, int index,
                        const ir_node *n, emit_storage_fn storage, void *module) {
  cbuf body;
  cb_init(&body);
  body.indent = 1;
  emit_ctx e = {.body = &body, .g = g};
  n->op->emit(&e, n);
  bool writes_state = n->op->flags & OP_UPDATES_STATE;

  char stem[96];
  snprintf(stem, sizeof stem, "n%d_%s", index, n->name[0] ? n->name : n->op_type);
  const char *fname = names_make(globals, stem, 40);
  node_comment(c, g, n);
  /* A body that may fail (a string longer than its room) returns int, and
   * the entry point returns 1 when it does. */
  cb_raw(c, "static %s %s(", e.can_fail ? "int" : "void", fname);
  cb_raw(call, "%s%s(", e.can_fail ? "if (" : "", fname);
  int nparams = 0;
  char pname[16];
  for (int pass = 0; pass < 2; pass++) {
    int count = pass ? n->n_outputs : n->n_inputs;
    for (int k = 0; k < count; k++) {
      ir_tensor *t = pass ? n->outputs[k] : n->inputs[k];
      snprintf(pname, sizeof pname, "%s%d", pass ? "out" : "in", k);
      if (!t || !emit_mentions(body.data ? body.data : "", pname))
        continue; /* a parameter the body never mentions is left out */
      /* Inputs are const, except the state an update op writes in place. */
      bool as_const = !pass && !(writes_state && t->kind == IR_STATE);
      const char *sep = nparams++ ? ", " : "";
      cb_raw(c, "%s%s%s *restrict %s", sep, as_const ? "const " : "", ir_dtype_ctype(t->dtype), pname);
      cb_raw(call, "%s%s", sep, storage(module, t, as_const));
    }
  }
  cb_raw(c, "%s)\n{\n", nparams ? "" : "void");
  if (body.len)
    cb_bytes(c, body.data, body.len);
  cb_raw(c, "%s}\n\n", e.can_fail ? "  return 0;\n" : "");
  cb_raw(call, e.can_fail ? "))\n  return 1;\n" : ");\n");
  cb_free(&body);
}

void emit_blob(cbuf *c, const char *name, const unsigned char *data, int64_t size) {
  cb_raw(c, "static const _Alignas(64) unsigned char %s[%lld] =\n", name, (long long)size);
  char esc[8];
  for (int64_t i = 0; i < size; i++) {
    if (i % 64 == 0)
      cb_raw(c, "%s\"", i ? "\"\n" : "");
    unsigned char ch = data[i];
    /* Printable bytes stand for themselves; every escape is three octal
     * digits so a following digit can never extend it. */
    if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '"' && ch != '?') {
      esc[0] = (char)ch;
      cb_bytes(c, esc, 1);
    } else {
      snprintf(esc, sizeof esc, "\\%03o", ch);
      cb_bytes(c, esc, 4);
    }
  }
  cb_raw(c, "\";\n\n");
}
