/* The training program: `main` of a generated trainer is one call to
 * rt_train_main with the module's description. */
#ifndef NNCC_RT_TRAINER_H
#define NNCC_RT_TRAINER_H

#include <stdint.h>

#include "module.h"

typedef struct rt_train_options {
  const char *train_x, *train_y; /* samples and labels (train_y NULL for CSV) */
  const char *val_x, *val_y;
  /* --train-input/--val-input NAME=FILE: input k's samples (NULL: not given) */
  const char *train_in[RT_MAX_INPUTS], *val_in[RT_MAX_INPUTS];
  int n_train_in, n_val_in;
  int label_column;  /* CSV: the label's column, negative from the end */
  int csv_header;    /* 1, 0 or -1 (when the first row is not numeric) */
  int epochs;
  double lr;
  uint64_t seed;
  rt_update update;
  int early_stopping;
  rt_metric metric;
  int patience;
  const char *checkpoint, *resume, *export_onnx;
  int threads;       /* 0: OpenMP's default */
  int progress_tty;  /* -1: ask isatty(stderr) */
} rt_train_options;

/* Parses argv over the module's defaults; prints the usage or the problem
 * and returns 2 (an exit status) when the command line is wrong, -1 after
 * --help, 0 when ready to train. */
int rt_train_parse_args(const rt_module *m, int argc, char **argv, rt_train_options *o);
int rt_train(const rt_module *m, const rt_train_options *o);
/* Parse, train: the exit status (0 trained, 1 failed, 2 bad command line). */
int rt_train_main(const rt_module *m, int argc, char **argv);

#endif
