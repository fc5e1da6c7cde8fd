/* Whether a .nn file describes a GAN that `nncc train` trains in
 * alternation (docs/training.md, "GAN training"): a model with a loss whose
 * layers are `fake = G(z)` then `judged = D(fake)`, where D has a loss of
 * its own and judged is what the first model's loss reads. */
#ifndef NNCC_NN_GAN_H
#define NNCC_NN_GAN_H

#include <stdbool.h>
#include <stddef.h>

#include "mem.h"

typedef struct nn_gan_pair {
  const char *generator, *discriminator; /* the two called models */
  const char *gan;                       /* the model that calls them, the generator's loss */
  const char *fake, *judged;             /* the calling layers (name prefixes in gan's graph) */
} nn_gan_pair;

/* Reads path (a .nn file that loads without errors) and fills *out with
 * the first model of that shape; false when the file holds none. */
bool nn_gan_find(const char *path, mem_arena *mem, nn_gan_pair *out);
/* The same on text in memory (len bytes). */
bool nn_gan_find_text(const char *path, const char *text, size_t len, mem_arena *mem,
                      nn_gan_pair *out);

#endif
