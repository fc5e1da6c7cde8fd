/* The trainer's command line. Defaults come from the model's train block. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer.h"

static void args_usage(const rt_module *m, FILE *f, const char *prog) {
  fprintf(f,
          "usage: %s --train-images FILE --train-labels FILE | --train FILE.csv|FILE.npy\n"
          "          [--val-images FILE --val-labels FILE | --val FILE] [options]\n"
          "Trains the model '%s' (batch %d, fixed when it was compiled).\n"
          "data (IDX, plain or .gz; CSV; NPY):\n"
          "  --train-images/--train-labels FILE   samples and labels (IDX or .npy pairs)\n"
          "  --train FILE.csv                     samples with their labels in one CSV\n"
          "  --val-images/--val-labels, --val     the validation set, the same way\n"
          "  --label-column N     CSV: the label's column from 0, negative from the end "
          "(default 0)\n"
          "  --csv-header yes|no|auto             (default auto: skipped when not numeric)\n"
          "training:\n"
          "  --epochs N           (default %d)\n"
          "  --lr X               base learning rate (default %g); the schedule applies on top\n"
          "  --seed N             shuffling seed (default %llu)\n"
          "  --update minibatch|batch             an optimizer step per batch, or per epoch\n"
          "  --early-stopping val_loss|val_accuracy|off, --patience N\n"
          "  --checkpoint FILE    write the state after every epoch (atomically)\n"
          "  --resume FILE        continue from a checkpoint\n"
          "  --export-onnx FILE   write the trained model as ONNX at the end\n"
          "  --threads N          OpenMP threads\n"
          "  --progress tty|lines redraw one line, or print one line per epoch (default: tty "
          "when stderr is a terminal)\n",
          prog, m->name, m->batch, m->defaults.epochs, m->defaults.lr,
          (unsigned long long)m->defaults.seed);
}

static int args_int(const char *opt, const char *s, long long lo, long long hi, long long *v) {
  char *end;
  *v = strtoll(s, &end, 10);
  if (*s && !*end && *v >= lo && *v <= hi)
    return 0;
  fprintf(stderr, "%s: want a whole number in %lld-%lld, got '%s'\n", opt, lo, hi, s);
  return -1;
}

static int args_choice(const char *opt, const char *s, const char *const *names, int *v) {
  for (int i = 0; names[i]; i++)
    if (strcmp(s, names[i]) == 0) {
      *v = i;
      return 0;
    }
  fprintf(stderr, "%s: unknown value '%s'\n", opt, s);
  return -1;
}

static void args_defaults(const rt_module *m, rt_train_options *o) {
  memset(o, 0, sizeof *o);
  o->csv_header = -1;
  o->epochs = m->defaults.epochs;
  o->lr = m->defaults.lr;
  o->seed = m->defaults.seed;
  o->update = m->defaults.update;
  o->early_stopping = m->defaults.early_stopping;
  o->metric = m->defaults.metric;
  o->patience = m->defaults.patience > 0 ? m->defaults.patience : 5;
  o->progress_tty = -1;
}

/* One option with its value; returns 0, or -1 when wrong. */
static int args_take(rt_train_options *o, const char *opt, const char *val) {
  static const char *const headers[] = {"no", "yes", "auto", NULL};
  static const char *const updates[] = {"minibatch", "batch", NULL};
  static const char *const stops[] = {"val_loss", "val_accuracy", "off", NULL};
  static const char *const modes[] = {"lines", "tty", NULL};
  const char **paths[] = {&o->train_x, &o->train_y, &o->train_x, &o->val_x, &o->val_y,
                          &o->val_x, &o->checkpoint, &o->resume, &o->export_onnx};
  static const char *const path_opts[] = {"--train-images", "--train-labels", "--train",
                                          "--val-images", "--val-labels", "--val",
                                          "--checkpoint", "--resume", "--export-onnx"};
  for (size_t i = 0; i < sizeof path_opts / sizeof *path_opts; i++)
    if (strcmp(opt, path_opts[i]) == 0) {
      *paths[i] = val;
      return 0;
    }
  long long v;
  int c;
  if (strcmp(opt, "--epochs") == 0)
    return args_int(opt, val, 0, 1000000000, &v) ? -1 : (o->epochs = (int)v, 0);
  if (strcmp(opt, "--seed") == 0)
    return args_int(opt, val, 0, 0x7fffffffffffffffLL, &v) ? -1 : (o->seed = (uint64_t)v, 0);
  if (strcmp(opt, "--label-column") == 0)
    return args_int(opt, val, -100000, 100000, &v) ? -1 : (o->label_column = (int)v, 0);
  if (strcmp(opt, "--patience") == 0)
    return args_int(opt, val, 1, 1000000, &v) ? -1 : (o->patience = (int)v, 0);
  if (strcmp(opt, "--threads") == 0)
    return args_int(opt, val, 1, 4096, &v) ? -1 : (o->threads = (int)v, 0);
  if (strcmp(opt, "--lr") == 0) {
    char *end;
    o->lr = strtod(val, &end);
    if (*val && !*end && o->lr > 0 && o->lr < 1e6)
      return 0;
    fprintf(stderr, "--lr: want a positive number, got '%s'\n", val);
    return -1;
  }
  if (strcmp(opt, "--csv-header") == 0)
    return args_choice(opt, val, headers, &c) ? -1 : (o->csv_header = c == 2 ? -1 : c, 0);
  if (strcmp(opt, "--update") == 0)
    return args_choice(opt, val, updates, &c) ? -1 : (o->update = (rt_update)c, 0);
  if (strcmp(opt, "--progress") == 0)
    return args_choice(opt, val, modes, &c) ? -1 : (o->progress_tty = c, 0);
  if (strcmp(opt, "--early-stopping") == 0) {
    if (args_choice(opt, val, stops, &c))
      return -1;
    o->early_stopping = c != 2;
    if (c != 2)
      o->metric = (rt_metric)c;
    return 0;
  }
  if (strcmp(opt, "--batch") == 0)
    fprintf(stderr, "--batch: the batch is fixed when the trainer is written (nncc train "
                    "--batch N)\n");
  else
    fprintf(stderr, "unknown option %s (see --help)\n", opt);
  return -1;
}

int rt_train_parse_args(const rt_module *m, int argc, char **argv, rt_train_options *o) {
  args_defaults(m, o);
  for (int i = 1; i < argc; i += 2) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      args_usage(m, stdout, argv[0]);
      return -1;
    }
    if (strncmp(argv[i], "--", 2) != 0 || i + 1 == argc) {
      fprintf(stderr, "%s: %s\n", argv[i],
              strncmp(argv[i], "--", 2) ? "unexpected argument (see --help)" : "needs a value");
      return 2;
    }
    if (args_take(o, argv[i], argv[i + 1]))
      return 2;
  }
  if (!o->train_x) {
    args_usage(m, stderr, argv[0]);
    return 2;
  }
  return 0;
}
