/* The train { } section of a model, checked and stored for the trainer.
 * Nothing here runs training: the settings are validated (names, types,
 * ranges, the loss's output) and kept in nn_train_config. */
#ifndef NNCC_NN_TRAIN_H
#define NNCC_NN_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "nn_args.h"

typedef enum { NN_LOSS_NONE, NN_LOSS_MSE, NN_LOSS_MAE, NN_LOSS_BCE, NN_LOSS_CE, NN_LOSS_NLL,
               NN_LOSS_HINGE } nn_loss_kind;
typedef enum { NN_OPT_SGD, NN_OPT_MOMENTUM, NN_OPT_NESTEROV, NN_OPT_ADAGRAD, NN_OPT_RMSPROP,
               NN_OPT_ADAM, NN_OPT_ADAMW } nn_opt_kind;
typedef enum { NN_SCHED_CONSTANT, NN_SCHED_STEP, NN_SCHED_EXPONENTIAL, NN_SCHED_COSINE } nn_sched_kind;
typedef enum { NN_UPDATE_MINIBATCH, NN_UPDATE_BATCH, NN_UPDATE_SAMPLE } nn_update_kind;
typedef enum { NN_METRIC_VAL_LOSS, NN_METRIC_VAL_ACCURACY } nn_metric_kind;

typedef struct nn_train_config {
  bool present; /* the model has a train block */
  struct {
    nn_loss_kind kind;  /* NN_LOSS_NONE: no loss given */
    const char *output; /* the output it applies to; NULL: the model's only one */
    nn_loc output_loc;  /* where the file names it, for messages */
    bool from_logits;
  } loss;
  struct {
    nn_opt_kind kind;
    double lr, momentum, beta1, beta2, rho, epsilon, weight_decay;
  } optimizer;
  struct {
    nn_sched_kind kind;
    int64_t every;  /* step */
    int64_t epochs; /* cosine: the period, default the training's epochs */
    double gamma;   /* step, exponential */
  } schedule;
  int64_t batch, epochs;
  nn_update_kind update;
  const nn_bound *init; /* default initialiser of learned weights, NULL: xavier_uniform */
  double l1, l2;
  double clip_norm, clip_value; /* 0: off */
  struct {
    bool on;
    nn_metric_kind metric;
    int64_t patience;
  } early_stopping;
  bool has_seed;
  uint64_t seed;
} nn_train_config;

/* Checks the settings of a train block (as parsed) and fills cfg; settings
 * not given get their defaults. Reports every problem. */
nn_status nn_train_check(nn_source *s, mem_arena *mem, const nn_setting *set, int n, nn_loc at,
                         nn_train_config *cfg);
/* The train settings table, for the docs. */
const nn_fn_def *nn_train_def(void);
extern const nn_fn_set nn_losses, nn_optimizers, nn_schedules;

#endif
