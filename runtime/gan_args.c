#include "gan_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void gan_usage(const rt_gan *gan, FILE *f, const char *prog) {
  fprintf(f,
          "usage: %s --train DATA [options]   (GAN '%s': discriminator and generator in turn)\n"
          "  --train FILE             real samples: IDX images (.gz or not) or NPY [N, ...]\n"
          "  --limit N                the first N samples only\n"
          "  --epochs N               passes over the samples [%d]; 0 trains nothing\n"
          "  --steps N                stop after N steps in all (one step: D, then G)\n"
          "  --lr-d X, --lr-g X       learning rates [%g, %g]\n"
          "  --seed N                 shuffling and noise [%llu]\n"
          "  --log-every N            a progress line every N steps [each epoch]\n"
          "  --checkpoint F           both states after every epoch; --resume F continues\n"
          "  --export-onnx F          the trained generator as ONNX\n"
          "  --export-discriminator F the trained discriminator as ONNX\n"
          "  --samples F.npy          write generated samples after training (--sample-count N [%d])\n"
          "  --threads N              OpenMP threads\n",
          prog, gan->name, gan->defaults.epochs, gan->defaults.lr_d, gan->defaults.lr_g,
          (unsigned long long)gan->defaults.seed, gan->gen->batch);
}

static int gan_number(const char *opt, const char *s, double lo, double *v) {
  char *end;
  *v = strtod(s, &end);
  if (*s && !*end && *v >= lo && *v == *v)
    return 0;
  fprintf(stderr, "%s: want a number >= %g, got '%s'\n", opt, lo, s);
  return -1;
}

static int gan_whole(const char *opt, const char *s, long long *v) {
  double x;
  if (gan_number(opt, s, 0, &x))
    return -1;
  if (x != (double)(long long)x || x > 1e15) {
    fprintf(stderr, "%s: want a whole number, got '%s'\n", opt, s);
    return -1;
  }
  *v = (long long)x;
  return 0;
}

static int gan_take(rt_gan_options *o, const char *opt, const char *val) {
  const char **words[] = {&o->train, &o->checkpoint, &o->resume, &o->export_onnx,
                          &o->export_discriminator, &o->samples};
  const char *word_names[] = {"--train", "--checkpoint", "--resume", "--export-onnx",
                              "--export-discriminator", "--samples"};
  for (int k = 0; k < 6; k++)
    if (strcmp(opt, word_names[k]) == 0)
      return *words[k] = val, 0;
  long long w;
  if (strcmp(opt, "--lr-d") == 0 || strcmp(opt, "--lr-g") == 0)
    return gan_number(opt, val, 0, opt[5] == 'd' ? &o->lr_d : &o->lr_g);
  long long *wholes[] = {&o->limit, &o->steps, &o->log_every, &o->sample_count};
  const char *whole_names[] = {"--limit", "--steps", "--log-every", "--sample-count"};
  for (int k = 0; k < 4; k++)
    if (strcmp(opt, whole_names[k]) == 0)
      return gan_whole(opt, val, wholes[k]);
  if (strcmp(opt, "--epochs") == 0 || strcmp(opt, "--threads") == 0 || strcmp(opt, "--seed") == 0) {
    if (gan_whole(opt, val, &w))
      return -1;
    if (opt[2] == 's')
      o->seed = (uint64_t)w;
    else if (w > 1000000) {
      fprintf(stderr, "%s: at most 1000000\n", opt);
      return -1;
    } else
      *(opt[2] == 'e' ? &o->epochs : &o->threads) = (int)w;
    return 0;
  }
  fprintf(stderr, "unknown option '%s' (see --help)\n", opt);
  return -1;
}

int rt_gan_parse_args(const rt_gan *gan, int argc, char **argv, rt_gan_options *o) {
  memset(o, 0, sizeof *o);
  o->epochs = gan->defaults.epochs;
  o->lr_d = gan->defaults.lr_d;
  o->lr_g = gan->defaults.lr_g;
  o->seed = gan->defaults.seed;
  o->sample_count = gan->gen->batch;
  for (int i = 1; i < argc; i += 2) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      gan_usage(gan, stdout, argv[0]);
      return -1;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "%s needs a value (see --help)\n", argv[i]);
      return 2;
    }
    if (gan_take(o, argv[i], argv[i + 1]))
      return 2;
  }
  if (!o->train) {
    fprintf(stderr, "no data: give the real samples with --train (see --help)\n");
    return 2;
  }
  return 0;
}
