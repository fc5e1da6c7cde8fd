/* The training module (docs/training.md): PREFIX_init, _grad, _update and
 * _predict over one state layout, one weight blob and one arena plan. Each
 * node is one static function, as in inference; an entry point calls the
 * nodes of its phases in schedule order (forward nodes are a prefix of the
 * schedule, so _predict may stop after them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff.h"
#include "codegen.h"
#include "codegen_internal.h"
#include "emit.h"
#include "names.h"
#include "ops.h"
#include "passes.h"
#include "version.h"

typedef struct train_module {
  ir_graph *g;
  const cg_options *o;
  const ad_result *r;
  name_scope globals;
  const char **param_of; /* by graph input index: the C parameter name (model inputs) */
  bool *weight_used;
  int64_t weight_bytes;
} train_module;

static bool is_model_input(const train_module *m, const ir_tensor *t) {
  const ad_result *r = m->r;
  return t->kind == IR_INPUT && t != r->label && t != r->mask && t != r->lr && t != r->step &&
         t != r->scale;
}

/* How an entry point names tensor t's storage, as a T* expression; only
 * nodes that update state get non-const state. */
static const char *storage(void *mod, ir_tensor *t, bool as_const) {
  train_module *m = mod;
  mem_arena *mem = m->g->mem;
  const char *ct = ir_dtype_ctype(t->dtype), *q = as_const ? "const " : "";
  const ad_result *r = m->r;
  if (t == r->pred)
    return "pred";
  if (t == r->loss)
    return "&loss";
  if (t == r->label)
    return "labels";
  if (t == r->mask)
    return "mask";
  if (t == r->lr || t == r->step || t == r->scale)
    return t == r->lr ? "&lr" : t == r->step ? "&step" : "&scale";
  if (strcmp(t->name, TRAIN_FLAG_NAME) == 0) /* 1 in _grad, 0 in _predict */
    return "&nn_training";
  for (int i = 0; i < m->g->n_inputs; i++)
    if (m->g->inputs[i] == t)
      return m->param_of[i];
  if (t->kind == IR_STATE)
    return mem_printf(mem, "(%s%s *)(s + %lld)", q, ct, (long long)t->offset);
  if (t->kind == IR_WEIGHT) {
    if (!m->weight_used[t->id]) {
      m->weight_used[t->id] = true;
      t->offset = m->weight_bytes;
      m->weight_bytes = (m->weight_bytes + (int64_t)ir_bytes(t) + 63) / 64 * 64;
    }
    return mem_printf(mem, "(const %s *)(nn_weights + %lld)", ct, (long long)t->offset);
  }
  return mem_printf(mem, "(%s%s *)(a + %lld)", q, ct, (long long)t->offset);
}

/* The constant weights the nodes read, and the params' initial values
 * (laid out as in the state blob, so _init copies one prefix). */
static void emit_blobs(cbuf *c, const train_module *m, int64_t *init_bytes) {
  const ir_graph *g = m->g;
  if (m->weight_bytes) {
    unsigned char *blob = calloc(1, (size_t)m->weight_bytes);
    for (int i = 0; i < g->n_tensors; i++)
      if (g->tensors[i]->kind == IR_WEIGHT && m->weight_used[g->tensors[i]->id])
        memcpy(blob + g->tensors[i]->offset, g->tensors[i]->data, ir_bytes(g->tensors[i]));
    cb_line(c, "/* Constant weights; each tensor starts on a 64-byte boundary. */");
    emit_blob(c, "nn_weights", blob, m->weight_bytes);
    free(blob);
  }
  *init_bytes = 0;
  for (int i = 0; i < g->n_tensors; i++) {
    const ir_tensor *t = g->tensors[i];
    if (t->kind == IR_STATE && t->data && t->offset + (int64_t)ir_bytes(t) > *init_bytes)
      *init_bytes = t->offset + (int64_t)ir_bytes(t);
  }
  if (*init_bytes == 0)
    return;
  unsigned char *blob = calloc(1, (size_t)*init_bytes);
  for (int i = 0; i < g->n_tensors; i++) {
    const ir_tensor *t = g->tensors[i];
    if (t->kind == IR_STATE && t->data)
      memcpy(blob + t->offset, t->data, ir_bytes(t));
  }
  cb_line(c, "/* Initial state: the params' starting values (the rest starts at zero). */");
  emit_blob(c, "nn_initial_state", blob, *init_bytes);
  free(blob);
}

static const char *upper(mem_arena *mem, const char *s) {
  char *u = mem_strdup(mem, s);
  for (char *p = u; *p; p++)
    if (*p >= 'a' && *p <= 'z')
      *p = (char)(*p - 'a' + 'A');
  return u;
}

static const char *pred_ctype(const train_module *m) { return ir_dtype_ctype(m->r->pred->dtype); }

/* The four prototypes, without ';' or body. */
static void prototypes(const train_module *m, cbuf *grad, cbuf *update, cbuf *predict) {
  const ir_graph *g = m->g;
  const char *P = m->o->prefix, *T = pred_ctype(m);
  cb_raw(grad, "%s %s_grad(void *state, ", T, P);
  cb_raw(predict, "void %s_predict(const void *state, ", P);
  for (int i = 0; i < g->n_inputs; i++)
    if (is_model_input(m, g->inputs[i])) {
      cb_raw(grad, "const %s *%s, ", ir_dtype_ctype(g->inputs[i]->dtype), m->param_of[i]);
      cb_raw(predict, "const %s *%s, ", ir_dtype_ctype(g->inputs[i]->dtype), m->param_of[i]);
    }
  cb_raw(grad, "const %s *labels, const %s *mask, %s *pred, void *arena)",
         ir_dtype_ctype(m->r->label->dtype), T, T);
  cb_raw(predict, "%s *pred, void *arena)", T);
  cb_raw(update, "void %s_update(void *state, float lr, int64_t step, float scale)", P);
}

/* _predict's prototype renamed _forward (same parameters). */
static const char *forward_proto(mem_arena *mem, const char *predict) {
  const char *at = strstr(predict, "_predict(");
  return mem_printf(mem, "%.*s_forward(%s", (int)(at - predict), predict, at + 9);
}

static const char *const role_names[] = {"none", "param", "grad", "optimizer", "buffer"};

static void emit_header(cbuf *h, const train_module *m) {
  const ir_graph *g = m->g;
  const char *P = m->o->prefix, *U = upper(g->mem, P);
  int n_state = 0;
  for (int i = 0; i < g->n_tensors; i++)
    n_state += g->tensors[i]->kind == IR_STATE;
  cb_line(h, "/* Training module generated by nncc %s. Do not edit.", NNCC_VERSION);
  cb_line(h, " * Model: %s", names_comment(g->mem, g->path));
  if (m->o->command)
    cb_line(h, " * Command: %s", names_comment(g->mem, m->o->command));
  cb_line(h, " */");
  cb_line(h, "#ifndef NNCC_%s_H", U);
  cb_line(h, "#define NNCC_%s_H", U);
  cb_line(h, "%s", "");
  cb_line(h, "#include <stdint.h>");
  cb_line(h, "%s", "");
  cb_line(h, "#define %s_BATCH %lld", U, (long long)m->r->batch);
  cb_line(h, "#define %s_STATE_BYTES %lld /* aligned to 64 */", U, (long long)g->state_bytes);
  cb_line(h, "#define %s_ARENA_BYTES %lld /* aligned to 64 */", U, (long long)g->arena_bytes);
  cb_line(h, "#define %s_STATE_COUNT %d", U, n_state);
  cb_line(h, "typedef %s %s_label_t;", ir_dtype_ctype(m->r->label->dtype), P);
  cb_line(h, "%s", "");
  cb_line(h, "/* The state blob's tensors, params first. role: 1 param, 2 gradient,");
  cb_line(h, " * 3 optimizer moment, 4 buffer. */");
  cb_line(h, "typedef struct %s_state_entry {", P);
  cb_line(h, "  const char *name;");
  cb_line(h, "  int64_t offset, numel;");
  cb_line(h, "  int dtype_size, role, rank;");
  cb_line(h, "  int64_t dims[8];");
  cb_line(h, "} %s_state_entry;", P);
  cb_line(h, "extern const %s_state_entry %s_state_table[%d];", P, P, n_state ? n_state : 1);
  cb_line(h, "%s", "");
  cbuf grad, update, predict;
  cb_init(&grad);
  cb_init(&update);
  cb_init(&predict);
  prototypes(m, &grad, &update, &predict);
  cb_line(h, "/* Initial params; zero gradients and optimizer state. */");
  cb_line(h, "void %s_init(void *state);", P);
  cb_line(h, "/* Forward, loss and backward on one batch of %s_BATCH samples; mask[i] = 0", U);
  cb_line(h, " * drops sample i. Adds d(sum of masked losses)/d(param) into the gradient");
  cb_line(h, " * state, writes the prediction, returns the masked loss sum. arena:");
  cb_line(h, " * %s_ARENA_BYTES aligned to 64, or NULL for a per-thread default. */", U);
  cb_line(h, "%s;", grad.data);
  cb_line(h, "/* One optimizer step on gradient * scale, then zeroes the gradients. */");
  cb_line(h, "%s;", update.data);
  cb_line(h, "/* The forward pass alone. */");
  cb_line(h, "%s;", predict.data);
  cb_line(h, "/* The forward pass as _grad runs it (batch statistics, drops), writing no");
  cb_line(h, " * state: a GAN's generator makes its fakes so. */");
  cb_line(h, "%s;", forward_proto(g->mem, predict.data));
  cb_line(h, "%s", "");
  cb_line(h, "#endif");
  cb_free(&grad);
  cb_free(&update);
  cb_free(&predict);
}

int cg_state_table_order(const ir_graph *g, const ir_tensor **out) {
  int n = 0;
  static const ir_state_role order[] = {IR_ROLE_PARAM, IR_ROLE_GRAD, IR_ROLE_OPTIMIZER,
                                        IR_ROLE_BUFFER};
  for (size_t r = 0; r < 4; r++)
    for (int i = 0; i < g->n_tensors; i++)
      if (g->tensors[i]->kind == IR_STATE && g->tensors[i]->role == order[r])
        out[n++] = g->tensors[i];
  return n;
}

const char *cg_state_table_name(const ir_graph *g, const ir_tensor *t) {
  return names_comment(g->mem, t->name);
}

static void emit_state_table(cbuf *c, const train_module *m) {
  const ir_graph *g = m->g;
  const char *P = m->o->prefix;
  cb_line(c, "const %s_state_entry %s_state_table[] = {", P, P);
  const ir_tensor **state = mem_alloc(g->mem, sizeof *state * (size_t)(g->n_tensors + 1));
  int n = cg_state_table_order(g, state);
  for (int i = 0; i < n; i++) {
    const ir_tensor *t = state[i];
    cb_raw(c, "    {\"%s\", %lld, %lld, %zu, %d, %d, {", cg_state_table_name(g, t),
           (long long)t->offset, (long long)ir_numel(t), ir_dtype_size(t->dtype), (int)t->role,
           t->rank);
    for (int d = 0; d < t->rank; d++)
      cb_raw(c, "%s%lld", d ? ", " : "", (long long)t->dims[d]);
    cb_raw(c, "}}, /* %s */\n", role_names[t->role]);
  }
  if (!n)
    cb_line(c, "    {0},");
  cb_line(c, "};");
  cb_line(c, "%s", "");
}

static void emit_calls(cbuf *c, const cbuf *calls) {
  cbuf tmp;
  cb_init(&tmp);
  tmp.indent = 1;
  cb_append(&tmp, calls);
  if (tmp.len)
    cb_bytes(c, tmp.data, tmp.len);
  cb_free(&tmp);
}

static void emit_entries(cbuf *c, train_module *m, cbuf calls[3], int64_t init_bytes) {
  const ir_graph *g = m->g;
  const char *P = m->o->prefix, *T = pred_ctype(m);
  /* Static, not _Thread_local: glibc carves every thread's static TLS out of
   * its stack, so a large per-thread arena overflows OpenMP workers' stacks. */
  cb_line(c, "static _Alignas(64) unsigned char default_arena[%lld];",
          (long long)(g->arena_bytes ? g->arena_bytes : 1));
  cb_line(c, "%s", "");
  cb_line(c, "void %s_init(void *state)", P);
  cb_line(c, "{");
  cb_line(c, "  memset(state, 0, %lld);", (long long)g->state_bytes);
  if (init_bytes)
    cb_line(c, "  memcpy(state, nn_initial_state, %lld);", (long long)init_bytes);
  cb_line(c, "}");
  cb_line(c, "%s", "");
  cbuf grad, update, predict;
  cb_init(&grad);
  cb_init(&update);
  cb_init(&predict);
  prototypes(m, &grad, &update, &predict);
  const char *heads[3] = {grad.data, predict.data, update.data};
  for (int k = 0; k < 3; k++) {
    cb_line(c, "%s", heads[k]);
    cb_line(c, "{");
    if (k == 1)
      cb_line(c, "  const unsigned char *s = (const unsigned char *)state; (void)s;");
    else
      cb_line(c, "  unsigned char *s = (unsigned char *)state; (void)s;");
    if (k == 2)
      cb_line(c, "  unsigned char *a = default_arena; (void)a; (void)lr; (void)step; (void)scale;");
    else
      cb_line(c, "  unsigned char *a = arena ? (unsigned char *)arena : default_arena; (void)a;");
    if (k == 0)
      cb_line(c, "  %s loss = 0; (void)labels; (void)mask;", T);
    if (k < 2) /* what the training forms (BatchNormTrain, DropoutTrain) are told */
      cb_line(c, "  const uint8_t nn_training = %d; (void)nn_training;", k == 0);
    if (k == 1) /* forward calls name the mask (BatchNormTrain, which ignores it here) */
      cb_line(c, "  const %s *mask = 0; (void)mask;", T);
    for (int i = 0; k < 2 && i < g->n_inputs; i++)
      if (is_model_input(m, g->inputs[i]))
        cb_line(c, "  (void)%s;", m->param_of[i]);
    if (k == 0) {
      emit_calls(c, &calls[0]);
      emit_calls(c, &calls[1]);
      cb_line(c, "  return loss;");
    } else if (k == 1) {
      emit_calls(c, &calls[0]);
    } else {
      emit_calls(c, &calls[2]);
    }
    cb_line(c, "}");
    cb_line(c, "%s", "");
  }
  cb_line(c, "%s", forward_proto(g->mem, predict.data));
  cb_line(c, "{");
  cb_line(c, "  const unsigned char *s = (const unsigned char *)state; (void)s;");
  cb_line(c, "  unsigned char *a = arena ? (unsigned char *)arena : default_arena; (void)a;");
  cb_line(c, "  const uint8_t nn_training = 1; (void)nn_training;");
  cb_line(c, "  const %s *mask = 0; (void)mask; /* BatchNormTrain: every sample counts */", T);
  for (int i = 0; i < g->n_inputs; i++)
    if (is_model_input(m, g->inputs[i]))
      cb_line(c, "  (void)%s;", m->param_of[i]);
  emit_calls(c, &calls[0]);
  cb_line(c, "}");
  cb_line(c, "%s", "");
  cb_free(&grad);
  cb_free(&update);
  cb_free(&predict);
}

nn_status cg_emit_train(ir_graph *g, const ad_result *r, const cg_options *o, cbuf *c, cbuf *h) {
  train_module m = {.g = g, .o = o, .r = r};
  names_init(&m.globals, g->mem);
  name_scope params;
  names_init(&params, g->mem);
  const char *reserved[] = {"a", "s", "arena", "state", "nn_weights", "nn_initial_state",
                            "default_arena", "labels", "mask", "pred", "loss", "lr", "step",
                            "scale"};
  for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++) {
    names_reserve(&m.globals, reserved[i]);
    names_reserve(&params, reserved[i]);
  }
  m.param_of = mem_alloc(g->mem, sizeof *m.param_of * (size_t)(g->n_inputs + 1));
  for (int i = 0; i < g->n_inputs; i++)
    if (is_model_input(&m, g->inputs[i])) {
      m.param_of[i] = names_make(&params, g->inputs[i]->name, 48);
      names_reserve(&m.globals, m.param_of[i]);
    }
  m.weight_used = mem_alloc(g->mem, sizeof *m.weight_used * (size_t)(g->next_id + 1));

  emit_header(h, &m);
  cb_line(c, "/* Training module generated by nncc %s. Do not edit.", NNCC_VERSION);
  cb_line(c, " * Model: %s", names_comment(g->mem, g->path));
  cb_line(c, " */");
  cb_line(c, "#include \"%s\"", o->header_name);
  cb_line(c, "%s", "");
  cb_line(c, "#include <float.h>");
  cb_line(c, "#include <math.h>");
  cb_line(c, "#include <stdint.h>");
  cb_line(c, "#include <string.h>");
  cb_line(c, "%s", "");
  cb_line(c, "#if defined(_OPENMP) && %d", o->openmp ? 1 : 0);
  cb_line(c, "#define NN_PARALLEL_FOR _Pragma(\"omp parallel for\")");
  cb_line(c, "#else");
  cb_line(c, "#define NN_PARALLEL_FOR");
  cb_line(c, "#endif");
  cb_line(c, "%s", "");
  cbuf funcs, calls[3];
  cb_init(&funcs);
  for (int k = 0; k < 3; k++)
    cb_init(&calls[k]);
  for (int i = 0; i < g->n_nodes; i++)
    emit_node_function(&funcs, &calls[g->nodes[i]->phase], g, &m.globals, i, g->nodes[i], storage, &m);
  emit_half_prelude(c, funcs.data ? funcs.data : "");
  int64_t init_bytes;
  emit_blobs(c, &m, &init_bytes);
  emit_state_table(c, &m);
  cb_bytes(c, funcs.data ? funcs.data : "", funcs.len);
  emit_entries(c, &m, calls, init_bytes);
  cb_free(&funcs);
  for (int k = 0; k < 3; k++)
    cb_free(&calls[k]);
  return NN_OK;
}
