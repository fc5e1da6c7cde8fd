/* The GAN trainer's command line. */
#ifndef NNCC_RT_GAN_ARGS_H
#define NNCC_RT_GAN_ARGS_H

#include <stdint.h>

#include "gan.h"

typedef struct rt_gan_options {
  const char *train;         /* real samples: IDX images or NPY [N, ...] */
  long long limit;           /* use the first `limit` samples; 0: all */
  int epochs;
  long long steps;           /* stop after this many steps in all; 0: no limit */
  double lr_d, lr_g;
  uint64_t seed;
  long long log_every;       /* a progress line every N steps; 0: per epoch */
  const char *checkpoint, *resume;
  const char *export_onnx;   /* the generator */
  const char *export_discriminator;
  const char *samples;       /* generated samples written as NPY after training */
  long long sample_count;
  int threads;
} rt_gan_options;

/* 0 ready, -1 after --help, 2 on a wrong command line (reported). */
int rt_gan_parse_args(const rt_gan *gan, int argc, char **argv, rt_gan_options *o);

#endif
