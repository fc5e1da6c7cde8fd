/* nncc train MODEL -o train.c: the training module (docs/training.md). A .nn
 * model's train block gives loss, optimizer and batch; an ONNX model's come
 * from the options, which also override the block's. The options and the
 * compile (train_setup_*, compiler/train_cli.h) serve `nncc export
 * --checkpoint` too. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "file.h"
#include "gan_program.h"
#include "names.h"
#include "train_cli.h"

static const char *const loss_words[] = {"mse", "mae", "bce", "ce", "nll", "hinge"};
static const char *const opt_words[] = {"sgd", "momentum", "nesterov", "adagrad",
                                        "rmsprop", "adam", "adamw"};

static int word_index(const char *w, const char *const *words, int n) {
  for (int i = 0; i < n; i++)
    if (strcmp(w, words[i]) == 0)
      return i;
  return -1;
}

/* PyTorch's defaults for each optimizer (torch.optim). */
static void optimizer_defaults(ad_options *a) {
  a->momentum = a->optimizer == AD_OPT_MOMENTUM || a->optimizer == AD_OPT_NESTEROV ? 0.9 : 0;
  a->beta1 = 0.9;
  a->beta2 = 0.999;
  a->rho = 0.99;
  a->epsilon = a->optimizer == AD_OPT_ADAGRAD ? 1e-10 : 1e-8;
  a->weight_decay = a->optimizer == AD_OPT_ADAMW ? 0.01 : 0;
}

/* The .nn train block, in autodiff's terms (the enums share their order). */
static void from_train_block(ad_options *a, const nn_train_config *c) {
  a->loss = (ad_loss_kind)(c->loss.kind - NN_LOSS_MSE);
  a->from_logits = c->loss.from_logits;
  a->output = c->loss.output;
  a->optimizer = (ad_opt_kind)c->optimizer.kind;
  optimizer_defaults(a);
  a->momentum = c->optimizer.momentum ? c->optimizer.momentum : a->momentum;
  a->beta1 = c->optimizer.beta1 ? c->optimizer.beta1 : a->beta1;
  a->beta2 = c->optimizer.beta2 ? c->optimizer.beta2 : a->beta2;
  a->rho = c->optimizer.rho ? c->optimizer.rho : a->rho;
  a->epsilon = c->optimizer.epsilon ? c->optimizer.epsilon : a->epsilon;
  a->weight_decay = c->optimizer.weight_decay;
  a->l1 = c->l1;
  a->l2 = c->l2;
  a->clip_norm = c->clip_norm;
  a->clip_value = c->clip_value;
}

static const struct {
  const char *flag;
  size_t at;
} numeric_flags[] = {
    {"--momentum", offsetof(train_args, momentum)},   {"--beta1", offsetof(train_args, beta1)},
    {"--beta2", offsetof(train_args, beta2)},         {"--rho", offsetof(train_args, rho)},
    {"--epsilon", offsetof(train_args, epsilon)},     {"--weight-decay", offsetof(train_args, weight_decay)},
    {"--l1", offsetof(train_args, l1)},               {"--l2", offsetof(train_args, l2)},
    {"--clip-value", offsetof(train_args, clip_value)}, {"--clip-norm", offsetof(train_args, clip_norm)},
    {"--lr", offsetof(train_args, lr)},
};

/* Takes argv[*i] when it is a train option; 1 taken, 0 not ours, -1 bad (reported). */
static int parse_train_option(train_args *t, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  if (strcmp(a, "--no-openmp") == 0 || strcmp(a, "--from-logits") == 0) {
    *(a[2] == 'n' ? &t->openmp : &t->from_logits) = a[2] != 'n';
    return 1;
  }
  const char *untrained = NULL;
  const char **words[] = {&t->out, &t->prefix, &t->loss, &t->optimizer, &t->output, &untrained};
  const char *names[] = {"-o", "--prefix", "--loss", "--optimizer", "--output", "--no-train"};
  bool numeric = false, batch = strcmp(a, "--batch") == 0;
  for (size_t k = 0; k < sizeof numeric_flags / sizeof *numeric_flags; k++)
    numeric |= strcmp(a, numeric_flags[k].flag) == 0;
  int word = -1;
  for (int k = 0; k < 6; k++)
    if (strcmp(a, names[k]) == 0)
      word = k;
  if (word < 0 && !numeric && !batch)
    return 0;
  if (*i + 1 >= argc) {
    diag_error(NULL, "%s needs a value", a);
    return -1;
  }
  const char *v = argv[++*i];
  if (word >= 0) {
    *words[word] = v;
    if (untrained && t->n_untrained == (int)(sizeof t->untrained / sizeof *t->untrained)) {
      diag_error(NULL, "--no-train: at most %d prefixes", t->n_untrained);
      return -1;
    }
    if (untrained)
      t->untrained[t->n_untrained++] = untrained;
    return 1;
  }
  char *end;
  double x = strtod(v, &end);
  if (*end || end == v || x < 0 || (batch && (x < 1 || x != (long long)x))) {
    diag_error(NULL, "%s %s: expected %s", a, v, batch ? "a positive integer" : "a number >= 0");
    return -1;
  }
  if (batch)
    t->batch = (long long)x;
  for (size_t k = 0; k < sizeof numeric_flags / sizeof *numeric_flags; k++)
    if (strcmp(a, numeric_flags[k].flag) == 0)
      *(double *)((char *)t + numeric_flags[k].at) = x;
  return 1;
}

/* Options over the train block (or the defaults). */
static nn_status apply_args(ad_options *a, const train_args *t, bool have_block) {
  if (t->loss) {
    int k = word_index(t->loss, loss_words, 6);
    if (k < 0)
      return diag_error(NULL, "--loss %s: expected mse, mae, bce, ce, nll or hinge", t->loss);
    a->loss = (ad_loss_kind)k;
  } else if (!have_block) {
    return diag_error(NULL, "no loss: give --loss (mse, mae, bce, ce, nll, hinge) or a train "
                      "block with one");
  }
  if (t->optimizer) {
    int k = word_index(t->optimizer, opt_words, 7);
    if (k < 0)
      return diag_error(NULL, "--optimizer %s: expected sgd, momentum, nesterov, adagrad, "
                        "rmsprop, adam or adamw", t->optimizer);
    a->optimizer = (ad_opt_kind)k;
    optimizer_defaults(a);
  } else if (!have_block) {
    a->optimizer = AD_OPT_SGD;
    optimizer_defaults(a);
  }
  a->from_logits |= t->from_logits;
  a->untrained = t->untrained;
  a->n_untrained = t->n_untrained;
  if (t->output)
    a->output = t->output;
  double *dst[] = {&a->momentum, &a->beta1, &a->beta2, &a->rho, &a->epsilon, &a->weight_decay,
                   &a->l1, &a->l2, &a->clip_value, &a->clip_norm};
  const double src[] = {t->momentum, t->beta1, t->beta2, t->rho, t->epsilon, t->weight_decay,
                        t->l1, t->l2, t->clip_value, t->clip_norm};
  for (size_t k = 0; k < sizeof src / sizeof *src; k++)
    if (src[k] == src[k]) /* given: not NaN */
      *dst[k] = src[k];
  return NN_OK;
}

/* Dimension 0 of every model input becomes the batch (unless --shape set it). */
static nn_status bind_batch(driver_options *o, const ir_graph *g, int64_t batch) {
  for (int i = 0; i < g->n_inputs; i++) {
    const ir_tensor *x = g->inputs[i];
    bool given = false;
    for (int k = 0; k < o->n_shapes; k++)
      given |= strcmp(o->shapes[k].name, x->name) == 0;
    if (given || x->rank == 0)
      continue;
    if (!x->dim_params[0] && x->dims[0] != batch)
      return diag_error(g->path, "input '%s' has a fixed first dimension of %lld; the batch "
                        "must match it (--batch %lld)", x->name, (long long)x->dims[0],
                        (long long)x->dims[0]);
    if (o->n_shapes == (int)(sizeof o->shapes / sizeof *o->shapes))
      return diag_error(g->path, "too many inputs");
    shape_binding *b = &o->shapes[o->n_shapes++];
    b->name = x->name;
    b->rank = x->rank;
    memcpy(b->dims, x->dims, sizeof *b->dims * (size_t)x->rank);
    b->dims[0] = batch;
  }
  return NN_OK;
}

/* A GAN file (docs/training.md, "GAN training"): the discriminator's module,
 * the GAN model's with the discriminator's copy frozen, the generator's
 * forward, then the program that alternates them. */
static int train_gan(const driver_options *base, const train_args *t, const nn_gan_pair *pair,
                     const char *out, const char *prefix, bool build, int argc, char **argv,
                     mem_arena *mem) {
  gan_program p = {.pair = *pair, .out = out, .prefix = prefix, .build = build};
  char *cmd = "nncc";
  for (int i = 0; i < argc; i++)
    cmd = mem_printf(mem, "%s %s", cmd, argv[i]);
  p.command = cmd;
  const char *models[GAN_PARTS] = {pair->discriminator, pair->gan, pair->generator};
  nn_train_config cfgs[GAN_PARTS] = {{0}};
  for (int k = 0; k < GAN_PARTS; k++) {
    gan_part *part = &p.parts[k];
    gan_part_names(&p, k, mem);
    part->model = models[k];
    part->o = *base;
    part->o.nn_model = models[k];
    part->o.nn_train = &cfgs[k];
    if (!(part->g = driver_load(&part->o, mem)))
      return 1;
  }
  nn_train_config *gc = &cfgs[GAN_G], *dc = &cfgs[GAN_D];
  int64_t batch = t->batch ? t->batch : gc->batch ? gc->batch : dc->batch ? dc->batch : 1;
  const char *frozen[33];
  int n_frozen = 0;
  for (int i = 0; i < t->n_untrained && i < 32; i++)
    frozen[n_frozen++] = t->untrained[i];
  frozen[n_frozen++] = mem_printf(mem, "%s.", pair->judged);
  int rc = 0;
  for (int k = 0; k < GAN_PARTS && !rc; k++) {
    gan_part *part = &p.parts[k];
    const nn_train_config *cfg = &cfgs[k];
    ad_options ao = {.loss = AD_LOSS_MSE, .optimizer = AD_OPT_SGD}; /* gen: _predict only */
    if (k != GAN_GEN && (!cfg->present || cfg->loss.kind == NN_LOSS_NONE)) {
      diag_error(part->g->path, "model '%s' of the GAN needs a loss in its train block", part->model);
      return 1;
    }
    if (k != GAN_GEN) {
      from_train_block(&ao, cfg);
      if (apply_args(&ao, t, true) != NN_OK)
        return 1;
    }
    if (k == GAN_G) {
      ao.untrained = frozen;
      ao.n_untrained = n_frozen;
    }
    if (bind_batch(&part->o, part->g, batch) != NN_OK)
      return 1;
    pipeline_options po = {.shapes = part->o.shapes, .n_shapes = part->o.n_shapes,
                           .opt_level = part->o.opt_level, .dump_after = part->o.dump_after,
                           .train = &ao, .train_result = &part->r};
    if (pipeline_run(part->g, &po) != NN_OK)
      return 1;
    const char *slash = strrchr(part->h_path, '/');
    cg_options co = {.prefix = part->prefix, .header_name = slash ? slash + 1 : part->h_path,
                     .command = cmd, .openmp = t->openmp};
    cb_init(&part->c);
    cb_init(&part->h);
    rc = cg_emit_train(part->g, &part->r, &co, &part->c, &part->h) != NN_OK;
    part->lr = t->lr == t->lr ? t->lr : cfg->optimizer.lr > 0 ? cfg->optimizer.lr : 0.01;
  }
  p.epochs = gc->epochs > 0 ? (int)gc->epochs : dc->epochs > 0 ? (int)dc->epochs : 10;
  p.seed = gc->has_seed ? gc->seed : dc->has_seed ? dc->seed : 0;
  if (!rc)
    rc = gan_program_write(&p, mem) != NN_OK;
  for (int k = 0; k < GAN_PARTS; k++) {
    cb_free(&p.parts[k].c);
    cb_free(&p.parts[k].h);
  }
  mem_free(mem);
  return rc;
}

nn_status train_setup_parse(train_setup *s, int argc, char **argv, bool program_flags) {
  memset(s, 0, sizeof *s);
  s->o.opt_level = 2;
  s->o.nn_train = &s->cfg;
  s->t.openmp = true;
  train_args *t = &s->t;
  double *nums[] = {&t->momentum, &t->beta1, &t->beta2, &t->rho, &t->epsilon, &t->weight_decay,
                    &t->l1, &t->l2, &t->clip_value, &t->clip_norm, &t->lr};
  for (size_t k = 0; k < sizeof nums / sizeof *nums; k++)
    *nums[k] = strtod("nan", NULL);
  for (int i = 1; i < argc; i++) {
    int took = driver_parse_common(&s->o, argc, argv, &i);
    if (took == 0)
      took = parse_train_option(t, argc, argv, &i);
    if (took == 0 && program_flags)
      took = train_program_option(&s->prog, argv[i]);
    if (took < 0)
      return NN_ERR;
    if (!took)
      return diag_error(NULL, "unknown option '%s' (see nncc --help)", argv[i]);
  }
  if (!s->o.model)
    return diag_error(NULL, "no model given (see nncc --help)");
  return NN_OK;
}

nn_status train_setup_load(train_setup *s, mem_arena *mem) {
  if (!(s->g = driver_load(&s->o, mem)))
    return NN_ERR;
  size_t mlen = strlen(s->o.model);
  s->gan = !s->o.nn_model && mlen > 3 && strcmp(s->o.model + mlen - 3, ".nn") == 0 &&
           nn_gan_find(s->o.model, mem, &s->pair);
  return NN_OK;
}

/* The batch the module is compiled for: --batch, else the train block's;
 * update = sample steps once per sample, so its module takes one. */
static nn_status choose_batch(const train_setup *s, int64_t *batch) {
  const nn_train_config *cfg = &s->cfg;
  bool per_sample = cfg->present && cfg->update == NN_UPDATE_SAMPLE;
  if (per_sample && s->t.batch > 1)
    return diag_error(s->o.model, "--batch %lld contradicts the train block's update = sample "
                      "(one sample per step, so batches of 1): drop one of them", s->t.batch);
  *batch = per_sample ? 1 : s->t.batch ? s->t.batch : cfg->present && cfg->batch ? cfg->batch : 1;
  return NN_OK;
}

nn_status train_setup_compile(train_setup *s) {
  bool block = s->cfg.present && s->cfg.loss.kind != NN_LOSS_NONE;
  if (block)
    from_train_block(&s->ao, &s->cfg);
  int64_t batch = 1;
  s->user_shapes = s->o.n_shapes;
  if (choose_batch(s, &batch) != NN_OK || apply_args(&s->ao, &s->t, block) != NN_OK ||
      bind_batch(&s->o, s->g, batch) != NN_OK)
    return NN_ERR;
  pipeline_options po = {.shapes = s->o.shapes, .n_shapes = s->o.n_shapes,
                         .opt_level = s->o.opt_level, .dump_after = s->o.dump_after,
                         .train = &s->ao, .train_result = &s->r};
  return pipeline_run(s->g, &po);
}

int cmd_train(int argc, char **argv) {
  mem_arena *mem = mem_new();
  train_setup *s = mem_alloc(mem, sizeof *s);
  if (train_setup_parse(s, argc, argv, true) != NN_OK)
    return 1;
  const train_args *t = &s->t;
  const char *out = t->out ? t->out : "train.c";
  size_t len = strlen(out);
  if (len < 3 || strcmp(out + len - 2, ".c") != 0) {
    diag_error(NULL, "-o %s: the output must be a .c file (the header goes beside it)", out);
    return 1;
  }
  const char *prefix = t->prefix ? t->prefix : names_base_ident(mem, out);
  name_scope ns;
  names_init(&ns, mem);
  if (strcmp(names_make(&ns, prefix, 64), prefix) != 0) {
    diag_error(NULL, "--prefix %s: not a valid C identifier", prefix);
    return 1;
  }

  if (train_setup_load(s, mem) != NN_OK)
    return 1;
  if (s->gan) {
    if (!s->prog.module_only)
      return train_gan(&s->o, t, &s->pair, out, prefix, s->prog.build, argc, argv, mem);
    diag_error(s->o.model, "a GAN (models '%s', '%s', '%s'): --module-only writes one model's "
               "module; pick it with --model NAME", s->pair.generator, s->pair.discriminator,
               s->pair.gan);
    return 1;
  }
  if (train_setup_compile(s) != NN_OK)
    return 1;
  ir_graph *g = s->g;

  char *header = mem_strdup(mem, out);
  header[len - 1] = 'h';
  const char *slash = strrchr(header, '/');
  size_t cmd_len = 8;
  for (int i = 0; i < argc; i++)
    cmd_len += strlen(argv[i]) + 1;
  char *cmd = mem_alloc(mem, cmd_len);
  strcpy(cmd, "nncc");
  for (int i = 0; i < argc; i++) {
    strcat(cmd, " ");
    strcat(cmd, argv[i]);
  }
  cg_options co = {.prefix = prefix, .header_name = slash ? slash + 1 : header, .command = cmd,
                   .openmp = t->openmp};
  cbuf c, h;
  cb_init(&c);
  cb_init(&h);
  train_program prog = {.module_only = s->prog.module_only, .build = s->prog.build,
                        .command = cmd, .prefix = prefix, .header_name = co.header_name,
                        .lr = t->lr, .options = &s->o, .user_shapes = s->user_shapes};
  int rc = cg_emit_train(g, &s->r, &co, &c, &h) != NN_OK ||
           (!prog.module_only &&
            train_program_wrap(&prog, g, &s->r, &s->ao, &s->cfg, &c, &h) != NN_OK) ||
           file_write_atomic(out, c.data, c.len) != NN_OK ||
           file_write_atomic(header, h.data, h.len) != NN_OK ||
           (prog.build && !prog.module_only && train_program_build(g, out, mem) != NN_OK);
  if (rc)
    remove(out);
  cb_free(&c);
  cb_free(&h);
  mem_free(mem);
  return rc;
}
