/* A GAN's trainer: the discriminator's module (d), the generator's through
 * a frozen copy of the discriminator (g: the file's GAN model with the
 * copy's weights kept out of training) and the generator alone (gen: its
 * forward makes the fakes, the samples and the export). What ties them is
 * a table of copies between their states, by weight name: D's weights into
 * g's copy before the generator's step, the copy's running statistics back
 * after it, g's generator weights into gen. */
#include "gan_program.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "emit_trainer.h"
#include "file.h"
#include "train_program.h"

static const char *const part_suffix[GAN_PARTS] = {"d", "g", "gen"};

void gan_part_names(gan_program *p, int k, mem_arena *mem) {
  size_t n = strlen(p->out) - 2; /* without ".c" */
  gan_part *part = &p->parts[k];
  part->c_path = mem_printf(mem, "%.*s_%s.c", (int)n, p->out, part_suffix[k]);
  part->h_path = mem_printf(mem, "%.*s_%s.h", (int)n, p->out, part_suffix[k]);
  part->prefix = mem_printf(mem, "%s_%s", p->prefix, part_suffix[k]);
}

static bool is_state(const ir_tensor *t) {
  return t->kind == IR_STATE && (t->role == IR_ROLE_PARAM || t->role == IR_ROLE_BUFFER);
}

static const ir_tensor *state_named(const ir_graph *g, const char *name) {
  for (int i = 0; i < g->n_tensors; i++)
    if (is_state(g->tensors[i]) && strcmp(g->tensors[i]->name, name) == 0)
      return g->tensors[i];
  return NULL;
}

/* The module's one data input (labels, mask and the update's inputs aside). */
static const ir_tensor *data_input(const gan_part *part) {
  const ad_result *r = &part->r;
  const ir_tensor *x = NULL;
  for (int i = 0; i < part->g->n_inputs; i++) {
    const ir_tensor *t = part->g->inputs[i];
    if (t == r->label || t == r->mask || t == r->lr || t == r->step || t == r->scale)
      continue;
    if (x) {
      diag_error(part->g->path, "model '%s' has several inputs ('%s', '%s'); a GAN's models take one",
                 part->model, x->name, t->name);
      return NULL;
    }
    x = t;
  }
  if (!x)
    diag_error(part->g->path, "model '%s' has no input", part->model);
  else if (x->dtype != IR_FLOAT || r->pred->dtype != IR_FLOAT || r->label->dtype != IR_FLOAT)
    diag_error(part->g->path, "model '%s': a GAN trains on float32 inputs, outputs and labels "
               "(binary_cross_entropy, mse...)", part->model);
  else
    return x;
  return NULL;
}

typedef struct copies {
  cbuf d_to_g, g_to_d, g_to_gen;
  int n_d_to_g, n_g_to_d, n_g_to_gen;
} copies;

static void add_copy(cbuf *c, int *n, const ir_tensor *dst, const ir_tensor *src) {
  cb_line(c, "{%lld, %lld, %zu}, /* %s <- %s */", (long long)dst->offset, (long long)src->offset,
          ir_bytes(dst), dst->name, src->name);
  ++*n;
}

/* Pairs the states by name; every discriminator weight must have its
 * frozen copy in g. */
static nn_status find_copies(const gan_program *p, mem_arena *mem, copies *cp) {
  const ir_graph *d = p->parts[GAN_D].g, *g = p->parts[GAN_G].g, *gen = p->parts[GAN_GEN].g;
  const char *judged = mem_printf(mem, "%s.", p->pair.judged);
  for (int i = 0; i < d->n_tensors; i++) {
    const ir_tensor *t = d->tensors[i];
    if (!is_state(t))
      continue;
    const ir_tensor *copy = state_named(g, mem_printf(mem, "%s%s", judged, t->name));
    if (!copy && t->role == IR_ROLE_PARAM)
      return diag_error(d->path, "model '%s' has no copy of discriminator weight '%s' in state "
                        "(as '%s%s')", p->pair.gan, t->name, judged, t->name);
    if (!copy)
      continue;
    if (ir_bytes(copy) != ir_bytes(t))
      return diag_error(d->path, "'%s' and its copy '%s' differ in size", t->name, copy->name);
    add_copy(&cp->d_to_g, &cp->n_d_to_g, copy, t);
    if (t->role == IR_ROLE_BUFFER)
      add_copy(&cp->g_to_d, &cp->n_g_to_d, t, copy);
  }
  for (int i = 0; i < gen->n_tensors; i++) {
    const ir_tensor *t = gen->tensors[i];
    if (!is_state(t))
      continue;
    const ir_tensor *src = state_named(g, mem_printf(mem, "%s.%s", p->pair.fake, t->name));
    if (src && ir_bytes(src) == ir_bytes(t))
      add_copy(&cp->g_to_gen, &cp->n_g_to_gen, t, src);
    else if (t->role == IR_ROLE_PARAM)
      return diag_error(d->path, "generator weight '%s' is not trained by model '%s' (no state "
                        "'%s.%s')", t->name, p->pair.gan, p->pair.fake, t->name);
  }
  return NN_OK;
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

static void emit_copies(cbuf *c, const char *name, const cbuf *rows, int n) {
  cb_line(c, "static const rt_copy %s[%d] = {", name, n ? n : 1);
  if (n)
    cb_bytes(c, rows->data, rows->len);
  else
    cb_line(c, "{0, 0, 0},");
  cb_line(c, "};");
}

static void emit_module_desc(cbuf *c, const gan_part *part, size_t in, size_t out, bool onnx) {
  const char *p = part->prefix;
  char P[128];
  size_t i = 0;
  for (; p[i] && i + 1 < sizeof P; i++)
    P[i] = (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 'a' + 'A' : p[i]);
  P[i] = 0;
  rt_input x = {.name = data_input(part)->name, .type = RT_ELEM_FLOAT32, .features = in};
  cg_emit_rt_inputs(c, p, &(rt_module){.inputs = &x, .n_inputs = 1});
  cb_line(c, "%s", "");
  cb_line(c, "static const rt_module %s_module = {", p);
  cb_line(c, "    .name = \"%s\",", part->model);
  cb_line(c, "    .batch = %s_BATCH,", P);
  cb_line(c, "    .state_bytes = %s_STATE_BYTES,", P);
  cb_line(c, "    .arena_bytes = %s_ARENA_BYTES,", P);
  cb_line(c, "    .inputs = %s_rt_inputs,", p);
  cb_line(c, "    .n_inputs = 1,");
  cb_line(c, "    .out_features = %zu,", out);
  cb_line(c, "    .label_type = RT_LABEL_FLOAT,");
  cb_line(c, "    .label_width = %zu,", out);
  cb_line(c, "    .state = %s_rt_state,", p);
  cb_line(c, "    .n_state = %s_STATE_COUNT,", P);
  cb_line(c, "    .init = %s_init,", p);
  cb_line(c, "    .grad = %s_grad_any,", p);
  cb_line(c, "    .update = %s_update,", p);
  cb_line(c, "    .predict = %s_predict_any,", p);
  if (onnx) {
    cb_line(c, "    .onnx = %s_onnx_model,", p);
    cb_line(c, "    .onnx_bytes = sizeof %s_onnx_model - 1,", p);
    cb_line(c, "    .onnx_patches = %s_onnx_patches,", p);
    cb_line(c, "    .n_onnx_patches = sizeof %s_onnx_patches / sizeof *%s_onnx_patches,", p, p);
  }
  cb_line(c, "};");
  cb_line(c, "%s", "");
}

/* Whether the generator's output comes out of a Tanh: its images are then
 * in [-1, 1], and IDX data is scaled to match. */
static int gen_ends_in_tanh(const ir_graph *g, const ir_tensor *pred) {
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = g->nodes[i];
    const ir_tensor *y = n->n_outputs ? n->outputs[0] : NULL;
    if (y == pred && strcmp(n->op_type, "Identity") == 0 && n->inputs[0])
      pred = n->inputs[0], i = -1; /* look behind an output's copy */
    else if (y == pred)
      return strcmp(n->op_type, "Tanh") == 0;
  }
  return 0;
}

/* The program's own part: headers, state tables, ONNX models, the modules'
 * descriptions, the copies and main(). */
static nn_status emit_main(gan_program *p, mem_arena *mem, cbuf *c) {
  size_t in[GAN_PARTS], out[GAN_PARTS];
  for (int k = 0; k < GAN_PARTS; k++) {
    const ir_tensor *x = data_input(&p->parts[k]);
    if (!x)
      return NN_ERR;
    int64_t B = p->parts[k].r.batch;
    in[k] = (size_t)(ir_numel(x) / B);
    out[k] = (size_t)(ir_numel(p->parts[k].r.pred) / B);
  }
  const char *path = p->parts[GAN_D].g->path;
  if (out[GAN_GEN] != in[GAN_D])
    return diag_error(path, "the generator makes %zu values per sample; the discriminator takes %zu",
                      out[GAN_GEN], in[GAN_D]);
  if (in[GAN_GEN] != in[GAN_G] || out[GAN_D] != out[GAN_G])
    return diag_error(path, "model '%s' does not take the generator's input and give the "
                      "discriminator's output", p->pair.gan);
  copies cp;
  cb_init(&cp.d_to_g);
  cb_init(&cp.g_to_d);
  cb_init(&cp.g_to_gen);
  cp.n_d_to_g = cp.n_g_to_d = cp.n_g_to_gen = 0;
  if (find_copies(p, mem, &cp) != NN_OK)
    return NN_ERR;
  rt_module onnx[GAN_PARTS];
  memset(onnx, 0, sizeof onnx);
  for (int k = 0; k < GAN_PARTS; k++)
    cb_line(c, "#include \"%s\"", base_name(p->parts[k].h_path));
  cb_line(c, "%s", "");
  for (int k = 0; k < GAN_PARTS; k++) {
    gan_part *part = &p->parts[k];
    cg_emit_rt_state_table(c, part->prefix);
    if (k != GAN_G) {
      train_program tp = {.options = &part->o, .user_shapes = 0};
      train_program_onnx(&tp, part->g, &onnx[k]);
      cg_emit_rt_onnx(c, part->prefix, &onnx[k]);
    }
    emit_module_desc(c, part, in[k], out[k], onnx[k].onnx != NULL);
    free((void *)onnx[k].onnx);
    free((void *)onnx[k].onnx_patches);
  }
  emit_copies(c, "gan_d_to_g", &cp.d_to_g, cp.n_d_to_g);
  emit_copies(c, "gan_g_to_d", &cp.g_to_d, cp.n_g_to_d);
  emit_copies(c, "gan_g_to_gen", &cp.g_to_gen, cp.n_g_to_gen);
  cb_line(c, "%s", "");
  cb_line(c, "int main(int argc, char **argv)");
  cb_line(c, "{");
  cb_line(c, "  static const rt_gan gan = {");
  cb_line(c, "      .name = \"%s\",", p->pair.gan);
  cb_line(c, "      .d = &%s_module, .g = &%s_module, .gen = &%s_module, .gen_forward = %s_forward,",
          p->parts[GAN_D].prefix, p->parts[GAN_G].prefix, p->parts[GAN_GEN].prefix,
          p->parts[GAN_GEN].prefix);
  cb_line(c, "      .d_to_g = gan_d_to_g, .n_d_to_g = %d,", cp.n_d_to_g);
  cb_line(c, "      .g_to_d = gan_g_to_d, .n_g_to_d = %d,", cp.n_g_to_d);
  cb_line(c, "      .g_to_gen = gan_g_to_gen, .n_g_to_gen = %d,", cp.n_g_to_gen);
  cb_line(c, "      .tanh_images = %d,", gen_ends_in_tanh(p->parts[GAN_GEN].g, p->parts[GAN_GEN].r.pred));
  cb_line(c, "      .defaults = {.epochs = %d, .lr_d = %.17g, .lr_g = %.17g, .seed = %lluu}};",
          p->epochs, p->parts[GAN_D].lr, p->parts[GAN_G].lr, (unsigned long long)p->seed);
  for (int k = 0; k < GAN_PARTS; k++)
    cb_line(c, "  %s_rt_state_init();", p->parts[k].prefix);
  cb_line(c, "  return rt_gan_main(&gan, argc, argv);");
  cb_line(c, "}");
  cb_free(&cp.d_to_g);
  cb_free(&cp.g_to_d);
  cb_free(&cp.g_to_gen);
  return NN_OK;
}

nn_status gan_program_write(gan_program *p, mem_arena *mem) {
  cbuf main_text;
  cb_init(&main_text);
  if (emit_main(p, mem, &main_text) != NN_OK) {
    cb_free(&main_text);
    return NN_ERR;
  }
  cg_trainer t = {.prefix = p->prefix, .module_c = "", .command = p->command,
                  .main_text = main_text.data};
  cbuf program;
  cb_init(&program);
  cg_emit_trainer(&t, &program);
  cb_free(&main_text);
  nn_status rc = NN_OK;
  for (int k = 0; k < GAN_PARTS && rc == NN_OK; k++) {
    const gan_part *part = &p->parts[k];
    rc = file_write_atomic(part->c_path, part->c.data, part->c.len);
    if (rc == NN_OK)
      rc = file_write_atomic(part->h_path, part->h.data, part->h.len);
  }
  if (rc == NN_OK)
    rc = file_write_atomic(p->out, program.data, program.len);
  cb_free(&program);
  if (rc != NN_OK || !p->build)
    return rc;
  char *exe = mem_strdup(mem, p->out);
  exe[strlen(exe) - 2] = 0;
  const char *log = mem_printf(mem, "%s.build.log", exe);
  const char *sources[] = {p->out, p->parts[GAN_D].c_path, p->parts[GAN_G].c_path,
                           p->parts[GAN_GEN].c_path};
  const char *libs[] = {"-lz"};
  if (driver_build_c(p->parts[GAN_D].g->path, sources, 4, libs, 1, exe, log, mem) != NN_OK)
    return NN_ERR;
  remove(log);
  diag_note("built %s (run it with --help)", exe);
  return NN_OK;
}
