/* The trainer's command line. Defaults come from the model's train block. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elem.h"
#include "trainer.h"

/* The model's inputs: "'x' (float32, 784 values)", one per line. */
static void args_inputs(const rt_module *m, FILE *f) {
  for (int k = 0; k < m->n_inputs; k++) {
    const rt_input *in = &m->inputs[k];
    fprintf(f, "  '%s': %s, %zu values per sample", in->name, rt_elem_name(in->type),
            in->features);
    if (in->has_range)
      fprintf(f, ", each in [%lld, %lld) (%s)", (long long)in->lo, (long long)in->hi,
              in->range_of ? in->range_of : "its valid range");
    fputc('\n', f);
  }
}

static void args_usage(const rt_module *m, FILE *f, const char *prog) {
  fprintf(f,
          "usage: %s --train-images FILE --train-labels FILE | --train FILE.csv|FILE.npy\n"
          "          [--val-images FILE --val-labels FILE | --val FILE] [options]\n"
          "       %s --train-input NAME=FILE... --train-labels FILE\n"
          "          [--val-input NAME=FILE... --val-labels FILE] [options]\n"
          "Trains the model '%s' (batch %d, fixed when it was compiled). Its inputs:\n",
          prog, prog, m->name, m->batch);
  args_inputs(m, f);
  fprintf(f,
          "data (IDX, plain or .gz; CSV; NPY of float32/64, int8-64, uint8-32 or bool; values\n"
          "are converted to the input's type and checked; IDX bytes are scaled to [0, 1] for\n"
          "a float input):\n"
          "  --train-images/--train-labels FILE   samples and labels (IDX or .npy pairs)\n"
          "  --train FILE.csv                     samples with their labels in one CSV\n"
          "  --train-input NAME=FILE              input NAME's samples (.npy or IDX images),\n"
          "                                       one per input (a model with several needs\n"
          "                                       this form), labels from --train-labels\n"
          "  --val-images/--val-labels, --val, --val-input   the validation set, the same way\n"
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
          m->defaults.epochs, m->defaults.lr,
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

/* --train-input/--val-input NAME=FILE: FILE is input NAME's samples. */
static int args_named_input(const rt_module *m, const char *opt, const char *val,
                            const char **files, int *n) {
  const char *eq = strchr(val, '=');
  if (!eq || eq == val || !eq[1]) {
    fprintf(stderr, "%s: want NAME=FILE, got '%s'\n", opt, val);
    return -1;
  }
  for (int k = 0; k < m->n_inputs; k++)
    if (strlen(m->inputs[k].name) == (size_t)(eq - val) &&
        strncmp(m->inputs[k].name, val, (size_t)(eq - val)) == 0) {
      if (files[k]) {
        fprintf(stderr, "%s: input '%s' is given twice\n", opt, m->inputs[k].name);
        return -1;
      }
      files[k] = eq + 1;
      (*n)++;
      return 0;
    }
  fprintf(stderr, "%s: the model '%s' has no input '%.*s'; its inputs:\n", opt, m->name,
          (int)(eq - val), val);
  args_inputs(m, stderr);
  return -1;
}

/* The data options agree with each other and with the model's inputs. */
static int args_check_data(const rt_module *m, const char *set, const char *x,
                           const char *const *named, int n_named) {
  if (x && n_named) {
    fprintf(stderr, "--%s-input and --%s/--%s-images do not mix: give every input with "
                    "--%s-input\n", set, set, set, set);
    return -1;
  }
  if (x && m->n_inputs > 1) {
    fprintf(stderr, "the model '%s' takes %d inputs: give each with --%s-input NAME=FILE\n",
            m->name, m->n_inputs, set);
    args_inputs(m, stderr);
    return -1;
  }
  for (int k = 0; n_named && k < m->n_inputs; k++)
    if (!named[k]) {
      fprintf(stderr, "--%s-input: input '%s' has no file (give %s=FILE)\n", set,
              m->inputs[k].name, m->inputs[k].name);
      return -1;
    }
  return 0;
}

/* One option with its value; returns 0, or -1 when wrong. */
static int args_take(const rt_module *m, rt_train_options *o, const char *opt, const char *val) {
  if (strcmp(opt, "--train-input") == 0)
    return args_named_input(m, opt, val, o->train_in, &o->n_train_in);
  if (strcmp(opt, "--val-input") == 0)
    return args_named_input(m, opt, val, o->val_in, &o->n_val_in);
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
    if (args_take(m, o, argv[i], argv[i + 1]))
      return 2;
  }
  if (!o->train_x && !o->n_train_in) {
    args_usage(m, stderr, argv[0]);
    return 2;
  }
  if (args_check_data(m, "train", o->train_x, o->train_in, o->n_train_in) ||
      args_check_data(m, "val", o->val_x, o->val_in, o->n_val_in))
    return 2;
  return 0;
}
