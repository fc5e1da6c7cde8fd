/* Writes a trainer: the runtime's sources with their local #includes
 * inlined once each, the module, then the module's description for the
 * runtime and main(). */
#include "emit_trainer.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "runtime_files.h"
#include "version.h"

typedef struct inliner {
  cbuf *out;
  bool done[64];      /* runtime files already written */
  bool module_h_done;
  const cg_trainer *t;
} inliner;

static void inline_text(inliner *in, const char *text);

static int runtime_file_index(const char *name, size_t len) {
  for (int i = 0; i < cg_n_runtime_files; i++)
    if (strlen(cg_runtime_files[i].name) == len && strncmp(cg_runtime_files[i].name, name, len) == 0)
      return i;
  return -1;
}

/* `#include "NAME"` of an embedded file: writes it the first time and drops
 * the line; returns false for any other line. */
static bool inline_include(inliner *in, const char *line, size_t len) {
  const char *p = line + strspn(line, " \t");
  if (strncmp(p, "#include \"", 10) != 0)
    return false;
  const char *name = p + 10, *end = memchr(name, '"', len - (size_t)(name - line));
  if (!end)
    return false;
  size_t n = (size_t)(end - name);
  const char *hdr = in->t->module_header;
  if (in->t->module_h && hdr && strlen(hdr) == n && strncmp(hdr, name, n) == 0) {
    if (!in->module_h_done) {
      in->module_h_done = true;
      inline_text(in, in->t->module_h);
    }
    return true;
  }
  int k = runtime_file_index(name, n);
  if (k < 0)
    return false;
  if (!in->done[k]) {
    in->done[k] = true;
    inline_text(in, cg_runtime_files[k].text);
  }
  return true;
}

static void inline_text(inliner *in, const char *text) {
  for (const char *line = text; *line;) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) + 1 : strlen(line);
    if (!inline_include(in, line, len))
      cb_bytes(in->out, line, len);
    line += len;
  }
}

static void c_string(cbuf *c, const char *s) {
  if (!s) {
    cb_raw(c, "NULL");
    return;
  }
  cb_raw(c, "\"");
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '"' && ch != '?')
      cb_bytes(c, s, 1);
    else
      cb_raw(c, "\\%03o", ch);
  }
  cb_raw(c, "\"");
}

/* Bytes as one string literal (fast to parse), 64 to a line; every escape
 * is three octal digits so a following digit never extends it. */
static void bytes_literal(cbuf *c, const unsigned char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (i % 64 == 0)
      cb_raw(c, "%s\"", i ? "\"\n" : "");
    unsigned char ch = b[i];
    if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '"' && ch != '?')
      cb_bytes(c, (const char *)&b[i], 1);
    else
      cb_raw(c, "\\%03o", ch);
  }
  cb_raw(c, n ? "\"" : "\"\"");
}

static void upper(char *dst, const char *src, size_t cap);

/* The module's state table (PREFIX_state_table, roles from 1) in the
 * runtime's form, filled when the program starts. */
void cg_emit_rt_state_table(cbuf *c, const char *p) {
  char P[128];
  upper(P, p, sizeof P);
  cb_line(c, "static rt_state_entry %s_rt_state[%s_STATE_COUNT + 1];", p, P);
  cb_open(c, "static void %s_rt_state_init(void)", p);
  cb_open(c, "for (int i = 0; i < %s_STATE_COUNT; i++)", P);
  cb_line(c, "const %s_state_entry *e = &%s_state_table[i];", p, p);
  cb_line(c, "rt_state_entry *r = &%s_rt_state[i];", p);
  cb_line(c, "r->name = e->name;");
  cb_line(c, "r->offset = (size_t)e->offset;");
  cb_line(c, "r->bytes = (size_t)e->numel * (size_t)e->dtype_size;");
  cb_line(c, "r->is_float = e->dtype_size == 4;");
  cb_line(c, "r->rank = e->rank;");
  cb_line(c, "for (int d = 0; d < e->rank && d < 8; d++)");
  cb_line(c, "  r->dims[d] = e->dims[d];");
  cb_line(c, "r->role = (rt_role)(e->role - 1);");
  cb_close(c);
  cb_close(c);
}

static void emit_onnx(cbuf *c, const cg_trainer *t) { cg_emit_rt_onnx(c, t->prefix, &t->desc); }

void cg_emit_rt_onnx(cbuf *c, const char *prefix, const rt_module *d) {
  if (!d->onnx)
    return;
  cb_line(c, "/* `nncc export`'s model of the forward graph; the trained weights are "
             "written over the raw_data of its initializers. */");
  cb_raw(c, "static const unsigned char %s_onnx_model[%zu] =\n", prefix, d->onnx_bytes + 1);
  bytes_literal(c, d->onnx, d->onnx_bytes);
  cb_raw(c, ";\n");
  cb_open(c, "static const rt_onnx_patch %s_onnx_patches[%d] =", prefix,
          d->n_onnx_patches ? d->n_onnx_patches : 1);
  for (int i = 0; i < d->n_onnx_patches; i++)
    cb_line(c, "{%zu, %zu, %zu},", d->onnx_patches[i].state_offset,
            d->onnx_patches[i].onnx_offset, d->onnx_patches[i].bytes);
  if (!d->n_onnx_patches)
    cb_line(c, "{0, 0, 0},");
  c->indent--;
  cb_line(c, "};");
}

static void upper(char *dst, const char *src, size_t cap) {
  size_t i = 0;
  for (; src[i] && i + 1 < cap; i++)
    dst[i] = (char)toupper((unsigned char)src[i]);
  dst[i] = 0;
}

/* The module's inputs as PREFIX_rt_inputs, and PREFIX_grad_any and
 * PREFIX_predict_any: the entry points behind the runtime's signatures,
 * which pass input k as x[k] whatever its type. */
void cg_emit_rt_inputs(cbuf *c, const char *p, const rt_module *d) {
  static const char *const enums[] = {"RT_ELEM_FLOAT32", "RT_ELEM_FLOAT64", "RT_ELEM_INT64",
                                      "RT_ELEM_INT32",   "RT_ELEM_INT16",   "RT_ELEM_INT8",
                                      "RT_ELEM_UINT8",   "RT_ELEM_UINT16",  "RT_ELEM_UINT32",
                                      "RT_ELEM_BOOL"};
  static const char *const ctypes[] = {"float",   "double",  "int64_t",  "int32_t",  "int16_t",
                                       "int8_t",  "uint8_t", "uint16_t", "uint32_t", "uint8_t"};
  NN_ASSERT(d->n_inputs >= 1 && d->n_inputs <= RT_MAX_INPUTS);
  cb_open(c, "static const rt_input %s_rt_inputs[%d] =", p, d->n_inputs);
  for (int k = 0; k < d->n_inputs; k++) {
    const rt_input *in = &d->inputs[k];
    cb_raw(c, "%*s{", c->indent * 2, "");
    c_string(c, in->name);
    cb_raw(c, ", %s, %zu, %d, %lld, %lld, ", enums[in->type], in->features, in->has_range,
           (long long)in->lo, (long long)in->hi);
    c_string(c, in->value_word);
    cb_raw(c, ", ");
    c_string(c, in->range_of);
    cb_raw(c, "},\n");
  }
  c->indent--;
  cb_line(c, "};");
  cb_line(c, "%s", "");
  cbuf args;
  cb_init(&args);
  for (int k = 0; k < d->n_inputs; k++)
    cb_raw(&args, "(const %s *)x[%d], ", ctypes[d->inputs[k].type], k);
  cb_line(c, "/* The runtime calls _grad and _predict through type-neutral signatures. */");
  cb_open(c, "static double %s_grad_any(void *state, const void *const *x, const void *labels, "
             "const float *mask, float *pred, void *arena)", p);
  cb_line(c, "return %s_grad(state, %s(const %s_label_t *)labels, mask, pred, arena);", p,
          args.data, p);
  cb_close(c);
  cb_line(c, "%s", "");
  cb_open(c, "static void %s_predict_any(const void *state, const void *const *x, float *pred, "
             "void *arena)", p);
  cb_line(c, "%s_predict(state, %spred, arena);", p, args.data);
  cb_close(c);
  cb_free(&args);
}

static void emit_main(cbuf *c, const cg_trainer *t) {
  const rt_module *d = &t->desc;
  const char *p = t->prefix;
  char P[128];
  upper(P, p, sizeof P);
  static const char *const losses[] = {"RT_LOSS_MSE", "RT_LOSS_MAE", "RT_LOSS_BCE",
                                       "RT_LOSS_CE", "RT_LOSS_NLL", "RT_LOSS_HINGE"};
  static const char *const scheds[] = {"RT_SCHED_CONSTANT", "RT_SCHED_STEP",
                                       "RT_SCHED_EXPONENTIAL", "RT_SCHED_COSINE"};
  cg_emit_rt_inputs(c, p, d);
  cb_line(c, "%s", "");
  cg_emit_rt_state_table(c, p);
  cb_line(c, "%s", "");
  cb_open(c, "int main(int argc, char **argv)");
  cb_open(c, "static const rt_module module =");
  cb_raw(c, "%*s.name = ", c->indent * 2, "");
  c_string(c, d->name ? d->name : p);
  cb_raw(c, ",\n");
  cb_line(c, ".batch = %s_BATCH,", P);
  cb_line(c, ".state_bytes = %s_STATE_BYTES,", P);
  cb_line(c, ".arena_bytes = %s_ARENA_BYTES,", P);
  cb_line(c, ".inputs = %s_rt_inputs,", p);
  cb_line(c, ".n_inputs = %d,", d->n_inputs);
  cb_line(c, ".out_features = %zu,", d->out_features);
  cb_line(c, ".label_type = _Generic((%s_label_t)0, int64_t: RT_LABEL_INT64, int32_t: "
             "RT_LABEL_INT32, default: RT_LABEL_FLOAT),", p);
  cb_line(c, ".label_width = %zu,", d->label_width);
  cb_line(c, ".n_classes = %d,", d->n_classes);
  cb_line(c, ".class_inner = %zu,", d->class_inner);
  cb_line(c, ".loss = %s,", losses[d->loss]);
  cb_line(c, ".from_logits = %d,", d->from_logits);
  cb_line(c, ".state = %s_rt_state,", p);
  cb_line(c, ".n_state = %s_STATE_COUNT,", P);
  cb_line(c, ".init = %s_init,", p);
  cb_line(c, ".grad = %s_grad_any,", p);
  cb_line(c, ".update = %s_update,", p);
  cb_line(c, ".predict = %s_predict_any,", p);
  cb_line(c, ".defaults = {.epochs = %d, .lr = %.17g, .seed = %lluu, .update = %s,",
          d->defaults.epochs, d->defaults.lr, (unsigned long long)d->defaults.seed,
          d->defaults.update == RT_UPDATE_FULL_BATCH ? "RT_UPDATE_FULL_BATCH" : "RT_UPDATE_MINIBATCH");
  cb_line(c, "             .schedule = %s, .sched_every = %lld, .sched_gamma = %.17g, "
             ".sched_epochs = %lld,", scheds[d->defaults.schedule],
          (long long)d->defaults.sched_every, d->defaults.sched_gamma,
          (long long)d->defaults.sched_epochs);
  cb_line(c, "             .early_stopping = %d, .metric = %s, .patience = %d},",
          d->defaults.early_stopping,
          d->defaults.metric == RT_METRIC_VAL_ACCURACY ? "RT_METRIC_VAL_ACCURACY" : "RT_METRIC_VAL_LOSS",
          d->defaults.patience);
  if (d->onnx) {
    cb_line(c, ".onnx = %s_onnx_model,", p);
    cb_line(c, ".onnx_bytes = %zu,", d->onnx_bytes);
    cb_line(c, ".onnx_patches = %s_onnx_patches,", p);
    cb_line(c, ".n_onnx_patches = %d,", d->n_onnx_patches);
  }
  c->indent--;
  cb_line(c, "};");
  cb_line(c, "%s_rt_state_init();", p);
  cb_line(c, "return rt_train_main(&module, argc, argv);");
  cb_close(c);
}

void cg_emit_trainer(const cg_trainer *t, cbuf *c) {
  cb_line(c, "/* Auto-generated by nncc %s: do not edit.", NNCC_VERSION);
  cb_line(c, " * %s", t->command ? t->command : "nncc train");
  cb_line(c, " * A training program: nncc's runtime (runtime/), the training module, main().");
  cb_line(c, " * Build: cc -O2 -fopenmp THIS.c -lm -lz; run with --help for the options. */");
  cb_line(c, "#define _POSIX_C_SOURCE 200809L /* before any header: fsync, isatty */");
  inliner in = {.out = c, .t = t};
  NN_ASSERT(cg_n_runtime_files <= (int)(sizeof in.done / sizeof *in.done));
  for (int i = 0; i < cg_n_runtime_files; i++) {
    const char *name = cg_runtime_files[i].name;
    size_t n = strlen(name);
    if (n < 2 || strcmp(name + n - 2, ".c") != 0 || in.done[i])
      continue;
    cb_line(c, "\n/* ---- runtime/%s ---- */", name);
    in.done[i] = true;
    inline_text(&in, cg_runtime_files[i].text);
  }
  cb_line(c, "\n/* ---- the training module ---- */");
  if (t->module_c)
    inline_text(&in, t->module_c);
  else
    cb_line(c, "#include \"%s\"", t->module_header);
  cb_line(c, "\n/* ---- the trainer ---- */");
  emit_onnx(c, t);
  cb_line(c, "%s", "");
  if (t->main_text)
    cb_raw(c, "%s", t->main_text);
  else
    emit_main(c, t);
}
