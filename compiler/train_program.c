/* The trainer program around a training module: what the runtime must know
 * of the module (features, loss, classes, the train block's defaults) read
 * from the compiled graph, and the forward graph as ONNX bytes with the
 * place of every trained weight in them. */
#include "train_program.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "emit_trainer.h"
#include "nn_train.h"
#include "onnx.h"
#include "train_inputs.h"

int train_program_option(train_program *p, const char *arg) {
  if (strcmp(arg, "--module-only") == 0)
    return p->module_only = true, 1;
  if (strcmp(arg, "--build") == 0)
    return p->build = true, 1;
  return 0;
}

/* Class indices at several positions per sample (a tagger's [batch, steps,
 * classes]): the class axis is the loss node's; the positions are pred's
 * other values. */
static void class_layout(const ir_graph *g, const ad_result *r, rt_module *d) {
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = g->nodes[i];
    if (strcmp(n->op_type, "Loss") != 0 || strcmp(n->domain, "nncc") != 0 ||
        n->outputs[0] != r->loss)
      continue;
    const ir_tensor *scores = n->inputs[0];
    int64_t axis = ir_attr_int(n, "axis", 1), inner = 1;
    for (int k = (int)axis + 1; k < scores->rank; k++)
      inner *= scores->dims[k];
    d->n_classes = (int)scores->dims[axis];
    d->class_inner = (size_t)inner;
  }
}

static rt_loss loss_of(ad_loss_kind k) {
  switch (k) {
  case AD_LOSS_MSE: return RT_LOSS_MSE;
  case AD_LOSS_MAE: return RT_LOSS_MAE;
  case AD_LOSS_BCE: return RT_LOSS_BCE;
  case AD_LOSS_CE: return RT_LOSS_CE;
  case AD_LOSS_NLL: return RT_LOSS_NLL;
  case AD_LOSS_HINGE: return RT_LOSS_HINGE;
  }
  return RT_LOSS_MSE;
}

/* Whether pred holds raw scores. Autodiff reads the logits behind a Softmax
 * (CE) or Sigmoid (BCE) output itself, so the prediction is then still
 * probabilities whatever from_logits says. */
static bool pred_is_logits(const ir_graph *g, const ad_result *r, const ad_options *ao) {
  if (!ao->from_logits || (ao->loss != AD_LOSS_CE && ao->loss != AD_LOSS_BCE))
    return false;
  const char *squash = ao->loss == AD_LOSS_CE ? "Softmax" : "Sigmoid";
  for (int i = 0; i < g->n_nodes; i++) {
    const ir_node *n = g->nodes[i];
    for (int k = 0; k < n->n_outputs; k++)
      if (n->outputs[k] == r->pred)
        return !(strcmp(n->op_type, squash) == 0 && (!n->domain || !n->domain[0]));
  }
  return true;
}

static rt_schedule schedule_of(nn_sched_kind k) {
  return k == NN_SCHED_STEP          ? RT_SCHED_STEP
         : k == NN_SCHED_EXPONENTIAL ? RT_SCHED_EXPONENTIAL
         : k == NN_SCHED_COSINE      ? RT_SCHED_COSINE
                                     : RT_SCHED_CONSTANT;
}

/* The train block's settings as the trainer's defaults (an ONNX model has
 * none: 10 epochs at lr 0.01 unless --lr). */
static void defaults_of(const train_program *p, const nn_train_config *cfg, rt_module *d) {
  bool block = cfg && cfg->present;
  d->defaults.epochs = block && cfg->epochs > 0 ? (int)cfg->epochs : 10;
  d->defaults.lr = !isnan(p->lr) ? p->lr : block && cfg->optimizer.lr > 0 ? cfg->optimizer.lr : 0.01;
  d->defaults.seed = block && cfg->has_seed ? cfg->seed : 0;
  d->defaults.update = block && cfg->update == NN_UPDATE_BATCH ? RT_UPDATE_FULL_BATCH
                                                               : RT_UPDATE_MINIBATCH;
  d->defaults.patience = 5;
  if (!block)
    return;
  d->defaults.schedule = schedule_of(cfg->schedule.kind);
  d->defaults.sched_every = cfg->schedule.every;
  d->defaults.sched_gamma = cfg->schedule.gamma;
  d->defaults.sched_epochs = cfg->schedule.epochs;
  d->defaults.early_stopping = cfg->early_stopping.on;
  d->defaults.metric = cfg->early_stopping.metric == NN_METRIC_VAL_ACCURACY ? RT_METRIC_VAL_ACCURACY
                                                                            : RT_METRIC_VAL_LOSS;
  if (cfg->early_stopping.patience > 0)
    d->defaults.patience = (int)cfg->early_stopping.patience;
}

typedef struct forward_onnx {
  unsigned char *bytes;
  size_t size;
  rt_onnx_patch *patches;
  int n_patches;
} forward_onnx;

/* Loads the model again and runs the ONNX-level pipeline with the trained
 * weights kept (not folded), as `nncc export` would write it; a .nn model
 * keeps its open batch dimension, an ONNX model is specialized to the batch
 * it trains with. */
/* A BatchNormalization in training mode (PyTorch's training export) takes
 * its inference form: the trained model, like the trainer's _predict,
 * normalizes by the running statistics. Its outputs 1 and 2 (the updated
 * statistics) go too: training refused the model if anything read them. */
static void batchnorm_inference(ir_graph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    ir_node *n = g->nodes[i];
    if (strcmp(n->op_type, "BatchNormalization") != 0 || (n->domain && n->domain[0]))
      continue;
    for (int k = 0; k < n->n_attrs; k++)
      if (strcmp(n->attrs[k].name, "training_mode") == 0)
        n->attrs[k].i = 0;
    n->n_outputs = 1;
  }
}

static ir_graph *forward_graph(const train_program *p, mem_arena *mem) {
  driver_options o = *p->options;
  bool nn = strlen(o.model) > 3 && strcmp(o.model + strlen(o.model) - 3, ".nn") == 0;
  if (nn)
    o.n_shapes = p->user_shapes;
  o.nn_train = NULL;
  ir_graph *g = driver_load(&o, mem);
  if (g)
    batchnorm_inference(g);
  pipeline_options po = {.shapes = o.shapes, .n_shapes = o.n_shapes, .opt_level = o.opt_level,
                         .onnx_level = true, .keep_trainable = true};
  if (!g || pipeline_run(g, &po) != NN_OK)
    return NULL;
  for (int i = 0; i < g->n_tensors; i++)
    if (g->tensors[i]->kind == IR_STATE) /* back to constants holding their initial values */
      g->tensors[i]->kind = IR_WEIGHT;
  return g;
}

/* Each param of the training graph must be an initializer of the forward
 * model, of the same size: its bytes there are where the trainer writes it.
 * Buffers that are initializers too (batch norm's running statistics) are
 * written the same way; the others (a dropout step counter) are not weights
 * of the forward model. */
static bool match_params(const ir_graph *train, const onnx_raw_span *spans, int n_spans,
                         forward_onnx *f) {
  f->patches = calloc((size_t)train->n_tensors + 1, sizeof *f->patches);
  for (int i = 0; i < train->n_tensors; i++) {
    const ir_tensor *t = train->tensors[i];
    if (t->kind != IR_STATE || (t->role != IR_ROLE_PARAM && t->role != IR_ROLE_BUFFER))
      continue;
    int k = 0;
    while (k < n_spans && strcmp(spans[k].name, t->name) != 0)
      k++;
    if (t->role == IR_ROLE_BUFFER && (k == n_spans || spans[k].bytes != ir_bytes(t)))
      continue;
    if (k == n_spans || spans[k].bytes != ir_bytes(t)) {
      diag_note("--export-onnx is not available in this trainer: weight '%s' is not an "
                "initializer of the forward model", t->name);
      return false;
    }
    f->patches[f->n_patches++] = (rt_onnx_patch){(size_t)t->offset, spans[k].offset, spans[k].bytes};
  }
  return true;
}

/* The forward model's bytes and patches, or nothing (with a note) when it
 * cannot be written: training does not depend on it. */
static void forward_onnx_make(const train_program *p, const ir_graph *train, forward_onnx *f) {
  memset(f, 0, sizeof *f);
  mem_arena *mem = mem_new();
  ir_graph *g = forward_graph(p, mem);
  onnx_raw_span *spans = NULL;
  int n = 0;
  bool ok = g && onnx_serialize(g, &f->bytes, &f->size) == NN_OK;
  if (ok && onnx_initializer_spans(f->bytes, f->size, &spans, &n) != NN_OK)
    NN_BUG("nncc's own ONNX bytes do not parse");
  if (ok)
    ok = match_params(train, spans, n, f);
  onnx_free_spans(spans, n);
  mem_free(mem);
  if (!ok) {
    free(f->bytes);
    free(f->patches);
    memset(f, 0, sizeof *f);
  }
}

void train_program_onnx(const train_program *p, const ir_graph *train, rt_module *d) {
  forward_onnx f;
  forward_onnx_make(p, train, &f);
  d->onnx = f.bytes;
  d->onnx_bytes = f.size;
  d->onnx_patches = f.patches;
  d->n_onnx_patches = f.n_patches;
}

nn_status train_program_wrap(const train_program *p, const ir_graph *g, const ad_result *r,
                             const ad_options *ao, const nn_train_config *cfg, cbuf *c,
                             const cbuf *h) {
  rt_input *inputs;
  int n_inputs;
  if (train_inputs_describe(g, r, &inputs, &n_inputs) != NN_OK)
    return NN_ERR;
  int64_t B = r->batch;
  cg_trainer t = {.prefix = p->prefix, .module_c = c->data, .module_h = h->data,
                  .module_header = p->header_name, .command = p->command};
  rt_module *d = &t.desc;
  d->name = p->prefix;
  d->inputs = inputs;
  d->n_inputs = n_inputs;
  d->out_features = (size_t)(ir_numel(r->pred) / B);
  d->label_width = (size_t)(ir_numel(r->label) / B);
  d->loss = loss_of(ao->loss);
  d->from_logits = pred_is_logits(g, r, ao);
  bool index_labels = r->label->dtype == IR_INT64 || r->label->dtype == IR_INT32;
  if (index_labels && d->label_width == 1)
    d->n_classes = d->out_features > 1 ? (int)d->out_features : 2;
  else if (index_labels)
    class_layout(g, r, d);
  defaults_of(p, cfg, d);
  forward_onnx f;
  forward_onnx_make(p, g, &f);
  d->onnx = f.bytes;
  d->onnx_bytes = f.size;
  d->onnx_patches = f.patches;
  d->n_onnx_patches = f.n_patches;
  cbuf program;
  cb_init(&program);
  cg_emit_trainer(&t, &program);
  free(f.bytes);
  free(f.patches);
  cb_free(c);
  *c = program;
  return NN_OK;
}

nn_status train_program_build(const ir_graph *g, const char *out_c, mem_arena *mem) {
  char *exe = mem_strdup(mem, out_c);
  exe[strlen(exe) - 2] = 0; /* drop ".c" */
  const char *log = mem_printf(mem, "%s.build.log", exe);
  const char *sources[] = {out_c}, *libs[] = {"-lz"};
  if (driver_build_c(g->path, sources, 1, libs, 1, exe, log, mem) != NN_OK)
    return NN_ERR;
  remove(log);
  diag_note("built %s (run it with --help)", exe);
  return NN_OK;
}
