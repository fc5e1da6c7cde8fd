/* Deterministic weight initialisation: a PCG32 generator and the
 * initialisers a .nn file can name (zeros, uniform, normal, xavier_*, he_*,
 * torch). */
#ifndef NNCC_NN_INIT_H
#define NNCC_NN_INIT_H

#include <stdint.h>

#include "nn_args.h"

typedef struct nn_rng {
  uint64_t state, inc;
} nn_rng;

/* PCG32 (O'Neill's pcg32_srandom_r): `stream` picks one of 2^63 sequences. */
void nn_rng_seed(nn_rng *r, uint64_t seed, uint64_t stream);
uint32_t nn_rng_u32(nn_rng *r);
double nn_rng_uniform(nn_rng *r); /* [0, 1), 53 bits */
double nn_rng_normal(nn_rng *r);  /* standard normal, Box-Muller */
/* FNV-1a: the stream of a weight comes from its name. */
uint64_t nn_hash(const char *s);

typedef enum {
  NN_INIT_ZEROS, NN_INIT_UNIFORM, NN_INIT_NORMAL, NN_INIT_XAVIER_UNIFORM, NN_INIT_XAVIER_NORMAL,
  NN_INIT_HE_UNIFORM, NN_INIT_HE_NORMAL, NN_INIT_TORCH,
} nn_init_kind;

typedef struct nn_init_def {
  nn_fn_def fn;
  nn_init_kind kind;
  const char *doc;
} nn_init_def;

extern const nn_fn_set nn_initialisers;

/* What a learned tensor is to its layer: only `torch` tells them apart
 * (PyTorch draws biases like weights and embeddings from N(0, 1)). */
typedef enum { NN_ROLE_WEIGHT, NN_ROLE_BIAS, NN_ROLE_EMBEDDING } nn_init_role;

/* The initialiser a bound `init` argument names (NULL: xavier_uniform). */
nn_init_kind nn_init_kind_of(const nn_bound *init);

/* Fills w[0..n) by init (bound to its row, or NULL for xavier_uniform).
 * Each weight draws from the stream named by `name` under `seed`, so its
 * values do not change when other layers are added or removed. */
void nn_init_fill(float *w, int64_t n, const nn_bound *init, nn_init_role role, int64_t fan_in,
                  int64_t fan_out, uint64_t seed, const char *name);

#endif
