/* Seeded shuffling: PCG32 (O'Neill's permuted congruential generator) and a
 * permutation of the samples per epoch that depends only on (seed, epoch),
 * so a resumed run visits the samples in the order an unbroken run would. */
#ifndef NNCC_RT_SHUFFLE_H
#define NNCC_RT_SHUFFLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct rt_pcg32 {
  uint64_t state, inc;
} rt_pcg32;

void rt_pcg32_seed(rt_pcg32 *g, uint64_t seed, uint64_t stream);
uint32_t rt_pcg32_next(rt_pcg32 *g);
/* Uniform in [0, bound), without modulo bias; bound > 0. */
uint32_t rt_pcg32_below(rt_pcg32 *g, uint32_t bound);
/* perm[0..n) = a uniformly random permutation of 0..n-1 for this seed and
 * epoch (Fisher-Yates). */
void rt_shuffle_epoch(size_t *perm, size_t n, uint64_t seed, uint64_t epoch);

#endif
