/* The train block is checked as if it were one call, train(name = value,
 * ...): the shared binder then reports unknown, repeated and ill-typed
 * settings with the same messages as layer options. */
#include "nn_train.h"

#include <string.h>

#include "nn_init.h"

typedef struct {
  nn_fn_def fn;
  int kind;
} kind_row;

#define OUT {"output", NP_TENSOR, NR_ANY, "", .doc = "the only output"}
#define LOGITS {"from_logits", NP_BOOL, NR_ANY, "false"}
#define LR(d) {"lr", NP_REAL, NR_POS, d}
#define MOMENTUM {"momentum", NP_REAL, NR_FRACTION, "0.9"}
#define EPS {"epsilon", NP_REAL, NR_POS, "1e-07"}
#define BETAS {"beta1", NP_REAL, NR_FRACTION, "0.9"}, {"beta2", NP_REAL, NR_FRACTION, "0.999"}

static const kind_row loss_rows[] = {
    {{"mse", 1, {OUT}}, NN_LOSS_MSE},
    {{"mae", 1, {OUT}}, NN_LOSS_MAE},
    {{"binary_cross_entropy", 1, {OUT, LOGITS}}, NN_LOSS_BCE},
    {{"cross_entropy", 1, {OUT, LOGITS}}, NN_LOSS_CE},
    {{"nll", 1, {OUT}}, NN_LOSS_NLL},
    {{"hinge", 1, {OUT}}, NN_LOSS_HINGE},
    {{NULL}, 0},
};

static const kind_row opt_rows[] = {
    {{"sgd", 1, {LR("0.01")}}, NN_OPT_SGD},
    {{"momentum", 2, {LR("0.01"), MOMENTUM}}, NN_OPT_MOMENTUM},
    {{"nesterov", 2, {LR("0.01"), MOMENTUM}}, NN_OPT_NESTEROV},
    {{"adagrad", 2, {LR("0.01"), EPS}}, NN_OPT_ADAGRAD},
    {{"rmsprop", 3, {LR("0.001"), {"rho", NP_REAL, NR_FRACTION, "0.9"}, EPS}}, NN_OPT_RMSPROP},
    {{"adam", 4, {LR("0.001"), BETAS, EPS}}, NN_OPT_ADAM},
    {{"adamw", 5, {LR("0.001"), BETAS, EPS, {"weight_decay", NP_REAL, NR_NONNEG, "0.01"}}},
     NN_OPT_ADAMW},
    {{NULL}, 0},
};

static const kind_row sched_rows[] = {
    {{"constant", 0, {{0}}}, NN_SCHED_CONSTANT},
    {{"step", 2, {{"every", NP_INT, NR_POS, NULL}, {"gamma", NP_REAL, NR_POS, "0.1"}}}, NN_SCHED_STEP},
    {{"exponential", 1, {{"gamma", NP_REAL, NR_POS, "0.96"}}}, NN_SCHED_EXPONENTIAL},
    {{"cosine", 1, {{"epochs", NP_INT, NR_POS, "", .doc = "the training's epochs"}}}, NN_SCHED_COSINE},
    {{NULL}, 0},
};

static const kind_row stop_rows[] = {
    {{"early_stopping", 2, {{"metric", NP_CHOICE, NR_ANY, "val_loss", "val_loss|val_accuracy"},
                            {"patience", NP_INT, NR_POS, "5"}}}, 0},
    {{NULL}, 0},
};

const nn_fn_set nn_losses = {"loss", "cross_entropy", loss_rows, sizeof loss_rows[0]};
const nn_fn_set nn_optimizers = {"optimizer", "adam", opt_rows, sizeof opt_rows[0]};
const nn_fn_set nn_schedules = {"schedule", "cosine", sched_rows, sizeof sched_rows[0]};
static const nn_fn_set stoppers = {"early stopping rule", "early_stopping(val_loss, 5)", stop_rows,
                                   sizeof stop_rows[0]};

static const nn_fn_def train_def = {
    "train", 0,
    {{"loss", NP_FN, NR_ANY, "", .fns = &nn_losses, .doc = "none"},
     {"optimizer", NP_FN, NR_ANY, "sgd", .fns = &nn_optimizers},
     {"schedule", NP_FN, NR_ANY, "constant", .fns = &nn_schedules},
     {"batch", NP_INT, NR_POS, "32"},
     {"epochs", NP_INT, NR_POS, "1"},
     {"update", NP_CHOICE, NR_ANY, "minibatch", "minibatch|batch|sample"},
     {"init", NP_FN, NR_ANY, "", .fns = &nn_initialisers, .doc = "xavier_uniform"},
     {"l1", NP_REAL, NR_NONNEG, "0"},
     {"l2", NP_REAL, NR_NONNEG, "0"},
     {"clip_norm", NP_REAL, NR_POS, "", .doc = "off"},
     {"clip_value", NP_REAL, NR_POS, "", .doc = "off"},
     {"early_stopping", NP_FN, NR_ANY, "", .fns = &stoppers, .doc = "off"},
     {"seed", NP_INT, NR_SEED, "", .doc = "the file's seed statement, else 0"}},
};

const nn_fn_def *nn_train_def(void) { return &train_def; }

/* A call written alone on a line is only a setting for early_stopping;
 * anything else was probably meant as `setting = call`. */
static bool bare_call_ok(nn_source *s, const nn_setting *set) {
  if (strcmp(set->name, "early_stopping") == 0)
    return true;
  nn_error(s, set->loc, "'%s(...)' on its own is not a setting", set->name);
  const nn_fn_set *sets[] = {&nn_losses, &nn_optimizers, &nn_schedules, &nn_initialisers};
  const char *names[] = {"loss", "optimizer", "schedule", "init"};
  for (int k = 0; k < 4; k++)
    if (nn_fn_find(sets[k], set->name)) {
      nn_hint(s, "did you mean %s = %s(...)?", names[k], set->name);
      return false;
    }
  nn_hint(s, "settings are written name = value, e.g. optimizer = adam(lr=0.001)");
  return false;
}

static double real_or(const nn_bound *b, const char *name, double dflt) {
  return nn_param_index(b->def, name) >= 0 ? nn_arg_real(b, name) : dflt;
}

static void fill(nn_train_config *cfg, const nn_bound *b) {
  const nn_bound *x;
  if ((x = nn_arg_fn(b, "loss"))) {
    cfg->loss.kind = ((const kind_row *)x->def)->kind;
    if (nn_arg(x, "output")) {
      cfg->loss.output = nn_arg_word(x, "output");
      cfg->loss.output_loc = nn_arg_loc(x, "output");
    }
    cfg->loss.from_logits = nn_param_index(x->def, "from_logits") >= 0 && nn_arg_bool(x, "from_logits");
  }
  x = nn_arg_fn(b, "optimizer");
  cfg->optimizer.kind = ((const kind_row *)x->def)->kind;
  cfg->optimizer.lr = real_or(x, "lr", 0);
  cfg->optimizer.momentum = real_or(x, "momentum", 0);
  cfg->optimizer.beta1 = real_or(x, "beta1", 0);
  cfg->optimizer.beta2 = real_or(x, "beta2", 0);
  cfg->optimizer.rho = real_or(x, "rho", 0);
  cfg->optimizer.epsilon = real_or(x, "epsilon", 0);
  cfg->optimizer.weight_decay = real_or(x, "weight_decay", 0);
  cfg->batch = nn_arg_int(b, "batch");
  cfg->epochs = nn_arg_int(b, "epochs");
  x = nn_arg_fn(b, "schedule");
  cfg->schedule.kind = ((const kind_row *)x->def)->kind;
  cfg->schedule.every = nn_param_index(x->def, "every") >= 0 ? nn_arg_int(x, "every") : 0;
  cfg->schedule.gamma = real_or(x, "gamma", 0);
  cfg->schedule.epochs = cfg->epochs;
  if (nn_param_index(x->def, "epochs") >= 0 && nn_arg(x, "epochs"))
    cfg->schedule.epochs = nn_arg_int(x, "epochs");
  const char *update = nn_arg_word(b, "update");
  cfg->update = strcmp(update, "batch") == 0    ? NN_UPDATE_BATCH
                : strcmp(update, "sample") == 0 ? NN_UPDATE_SAMPLE
                                                : NN_UPDATE_MINIBATCH;
  cfg->init = nn_arg_fn(b, "init");
  cfg->l1 = nn_arg_real(b, "l1");
  cfg->l2 = nn_arg_real(b, "l2");
  cfg->clip_norm = nn_arg_real(b, "clip_norm");
  cfg->clip_value = nn_arg_real(b, "clip_value");
  if ((x = nn_arg_fn(b, "early_stopping"))) {
    cfg->early_stopping.on = true;
    cfg->early_stopping.metric =
        strcmp(nn_arg_word(x, "metric"), "val_accuracy") == 0 ? NN_METRIC_VAL_ACCURACY : NN_METRIC_VAL_LOSS;
    cfg->early_stopping.patience = nn_arg_int(x, "patience");
  }
  if (nn_arg(b, "seed")) {
    cfg->has_seed = true;
    cfg->seed = (uint64_t)nn_arg(b, "seed")->i;
  }
}

nn_status nn_train_check(nn_source *s, mem_arena *mem, const nn_setting *set, int n, nn_loc at,
                         nn_train_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->present = true;
  nn_value *call = mem_alloc(mem, sizeof *call);
  call->kind = NN_V_CALL;
  call->loc = at;
  call->s = "train";
  call->args = mem_alloc(mem, sizeof *call->args * (size_t)(n + 1));
  nn_status st = NN_OK;
  for (int i = 0; i < n; i++) {
    if (set[i].bare_call && !bare_call_ok(s, &set[i])) {
      st = NN_ERR;
      continue;
    }
    call->args[call->n_args++] = (nn_call_arg){set[i].name, set[i].loc, set[i].value};
  }
  nn_bound *b = mem_alloc(mem, sizeof *b);
  if (nn_bind_args(s, mem, &train_def, call, b) != NN_OK || st != NN_OK)
    return NN_ERR;
  fill(cfg, b);
  /* update = sample steps once per sample: the module takes batches of 1 */
  for (int i = 0; cfg->update == NN_UPDATE_SAMPLE && i < n; i++)
    if (strcmp(set[i].name, "batch") == 0 && cfg->batch != 1) {
      nn_error(s, set[i].loc, "batch = %lld contradicts update = sample (one sample per step)",
               (long long)cfg->batch);
      nn_hint(s, "drop the batch setting: update = sample trains on batches of 1");
      return NN_ERR;
    }
  return NN_OK;
}
