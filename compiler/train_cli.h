/* nncc train's command line and the compile it drives, shared with
 * `nncc export --checkpoint`, which must compile the model exactly as the
 * trainer that wrote the checkpoint was compiled (same state table). */
#ifndef NNCC_TRAIN_CLI_H
#define NNCC_TRAIN_CLI_H

#include "autodiff.h"
#include "driver.h"
#include "nn_gan.h"
#include "nn_train.h"
#include "train_program.h"

typedef struct train_args {
  const char *out, *prefix, *loss, *optimizer;
  long long batch; /* --batch; 0: not given */
  bool openmp, from_logits;
  const char *output;
  const char *untrained[32]; /* --no-train prefixes */
  int n_untrained;
  /* numeric overrides; NaN when not given */
  double momentum, beta1, beta2, rho, epsilon, weight_decay, l1, l2, clip_value, clip_norm, lr;
} train_args;

typedef struct train_setup {
  driver_options o;
  nn_train_config cfg; /* a .nn model's train block */
  train_args t;
  train_program prog;  /* --module-only, --build */
  ad_options ao;
  ad_result r;
  int user_shapes;     /* how many of o.shapes the user gave (before the batch) */
  ir_graph *g;
  bool gan;            /* a GAN file without --model: pair names its models */
  nn_gan_pair pair;
} train_setup;

/* nncc train's options from argv[1..] into s; with `program_flags` false
 * (export) --module-only and --build are not taken. Returns NN_ERR after
 * reporting. */
nn_status train_setup_parse(train_setup *s, int argc, char **argv, bool program_flags);
/* Loads the model into s->g; a GAN file without --model sets s->gan and
 * s->pair and compiles nothing more (nncc train writes its own program). */
nn_status train_setup_load(train_setup *s, mem_arena *mem);
/* Loss, optimizer and batch from the train block and the options, then the
 * training pipeline on s->g (results in s->ao, s->r). */
nn_status train_setup_compile(train_setup *s);

/* nncc export MODEL --checkpoint CKPT -o OUT.onnx [training options]
 * (compiler/export_checkpoint.c). */
int cmd_export_checkpoint(int argc, char **argv);

#endif
