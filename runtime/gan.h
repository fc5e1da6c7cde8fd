/* A GAN's training program (docs/training.md, "GAN training"): three
 * generated modules and the copies between their states, trained in
 * alternation by rt_gan_main. */
#ifndef NNCC_RT_GAN_H
#define NNCC_RT_GAN_H

#include <stddef.h>
#include <stdint.h>

#include "module.h"

/* bytes of one module's state copied into another's, offsets in each. */
typedef struct rt_copy {
  size_t dst, src, bytes;
} rt_copy;

typedef struct rt_gan {
  const char *name;
  const rt_module *d;   /* the discriminator: real (label 1) and generated (label 0) batches */
  const rt_module *g;   /* generator then a frozen copy of the discriminator (label 1) */
  const rt_module *gen; /* the generator alone: samples (predict) and the export */
  /* gen's forward as training runs it (batch statistics): the fakes of a step */
  void (*gen_forward)(const void *state, const float *z, float *out, void *arena);
  const rt_copy *d_to_g;   /* D's weights and statistics into g's frozen copy, before g's step */
  int n_d_to_g;
  const rt_copy *g_to_d;   /* the copy's running statistics back, after g's step */
  int n_g_to_d;
  const rt_copy *g_to_gen; /* the generator's weights and statistics into gen */
  int n_g_to_gen;
  int tanh_images; /* the generator ends in tanh: IDX images are scaled to [-1, 1] */
  struct {
    int epochs;
    double lr_d, lr_g;
    uint64_t seed;
  } defaults;
} rt_gan;

/* Parses argv, trains, exports; the exit status (2: bad command line). */
int rt_gan_main(const rt_gan *gan, int argc, char **argv);

#endif
