#include "shuffle.h"

void rt_pcg32_seed(rt_pcg32 *g, uint64_t seed, uint64_t stream) {
  g->state = 0;
  g->inc = stream << 1 | 1; /* the increment must be odd */
  rt_pcg32_next(g);
  g->state += seed;
  rt_pcg32_next(g);
}

uint32_t rt_pcg32_next(rt_pcg32 *g) {
  uint64_t old = g->state;
  g->state = old * 6364136223846793005ULL + g->inc;
  uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
  uint32_t rot = (uint32_t)(old >> 59);
  return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

uint32_t rt_pcg32_below(rt_pcg32 *g, uint32_t bound) {
  /* Values below 2^32 mod bound would be drawn once more often: skip them. */
  uint32_t threshold = (uint32_t)(-bound) % bound;
  for (;;) {
    uint32_t r = rt_pcg32_next(g);
    if (r >= threshold)
      return r % bound;
  }
}

void rt_shuffle_epoch(size_t *perm, size_t n, uint64_t seed, uint64_t epoch) {
  rt_pcg32 g;
  rt_pcg32_seed(&g, seed, epoch);
  for (size_t i = 0; i < n; i++)
    perm[i] = i;
  for (size_t i = n; i > 1; i--) {
    size_t j = rt_pcg32_below(&g, (uint32_t)i);
    size_t t = perm[i - 1];
    perm[i - 1] = perm[j];
    perm[j] = t;
  }
}
