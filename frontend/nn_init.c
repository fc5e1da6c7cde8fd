/* PCG32 and the initialisers. Plain (untruncated) normals throughout; the
 * scales follow Glorot & Bengio (xavier) and He et al. (he). */
#include "nn_init.h"

#include <math.h>

void nn_rng_seed(nn_rng *r, uint64_t seed, uint64_t stream) {
  r->state = 0;
  r->inc = stream << 1 | 1;
  nn_rng_u32(r);
  r->state += seed;
  nn_rng_u32(r);
}

uint32_t nn_rng_u32(nn_rng *r) {
  uint64_t old = r->state;
  r->state = old * 6364136223846793005ULL + r->inc;
  uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
  uint32_t rot = (uint32_t)(old >> 59);
  return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
}

double nn_rng_uniform(nn_rng *r) {
  uint64_t hi = nn_rng_u32(r) >> 5, lo = nn_rng_u32(r) >> 6; /* 27 + 26 bits */
  return (double)(hi << 26 | lo) / 9007199254740992.0;
}

double nn_rng_normal(nn_rng *r) {
  double u = 1.0 - nn_rng_uniform(r), v = nn_rng_uniform(r); /* u in (0, 1]: log(u) is finite */
  return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

uint64_t nn_hash(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

static const nn_init_def rows[] = {
    {{"zeros", 0, {{0}}}, NN_INIT_ZEROS, "all 0"},
    {{"uniform", 1, {{"a", NP_REAL, NR_POS, "0.05"}}}, NN_INIT_UNIFORM, "U(-a, a)"},
    {{"normal", 1, {{"std", NP_REAL, NR_POS, "0.05"}}}, NN_INIT_NORMAL, "N(0, std^2)"},
    {{"xavier_uniform", 0, {{0}}}, NN_INIT_XAVIER_UNIFORM, "U(-l, l), l = sqrt(6 / (fan_in + fan_out))"},
    {{"xavier_normal", 0, {{0}}}, NN_INIT_XAVIER_NORMAL, "N(0, 2 / (fan_in + fan_out))"},
    {{"he_uniform", 0, {{0}}}, NN_INIT_HE_UNIFORM, "U(-l, l), l = sqrt(6 / fan_in)"},
    {{"he_normal", 0, {{0}}}, NN_INIT_HE_NORMAL, "N(0, 2 / fan_in)"},
    {{"torch", 0, {{0}}}, NN_INIT_TORCH,
     "U(-l, l), l = 1 / sqrt(fan_in), biases too; embeddings N(0, 1) (PyTorch's defaults)"},
    {{NULL}},
};

const nn_fn_set nn_initialisers = {"initialiser", "he_normal", rows, sizeof rows[0]};

static const nn_init_def *def_of(const nn_bound *init) {
  return (const nn_init_def *)(init ? init->def : nn_fn_find(&nn_initialisers, "xavier_uniform"));
}

nn_init_kind nn_init_kind_of(const nn_bound *init) { return def_of(init)->kind; }

void nn_init_fill(float *w, int64_t n, const nn_bound *init, nn_init_role role, int64_t fan_in,
                  int64_t fan_out, uint64_t seed, const char *name) {
  const nn_init_def *d = def_of(init);
  double fi = fan_in > 0 ? (double)fan_in : 1, fo = fan_out > 0 ? (double)fan_out : 1;
  double a = 0, std = 0;
  bool normal = false;
  switch (d->kind) {
  case NN_INIT_ZEROS: break;
  case NN_INIT_UNIFORM: a = nn_arg_real(init, "a"); break;
  case NN_INIT_NORMAL: std = nn_arg_real(init, "std"), normal = true; break;
  case NN_INIT_XAVIER_UNIFORM: a = sqrt(6.0 / (fi + fo)); break;
  case NN_INIT_XAVIER_NORMAL: std = sqrt(2.0 / (fi + fo)), normal = true; break;
  case NN_INIT_HE_UNIFORM: a = sqrt(6.0 / fi); break;
  case NN_INIT_HE_NORMAL: std = sqrt(2.0 / fi), normal = true; break;
  case NN_INIT_TORCH: /* kaiming_uniform(a = sqrt(5)) gives 1 / sqrt(fan_in) */
    if (role == NN_ROLE_EMBEDDING)
      std = 1, normal = true;
    else
      a = 1.0 / sqrt(fi);
    break;
  }
  bool zeros = d->kind == NN_INIT_ZEROS || (role == NN_ROLE_BIAS && d->kind != NN_INIT_TORCH);
  nn_rng r;
  nn_rng_seed(&r, seed, nn_hash(name));
  for (int64_t i = 0; i < n; i++)
    w[i] = zeros    ? 0.0f
           : normal ? (float)(std * nn_rng_normal(&r))
                    : (float)(a * (2.0 * nn_rng_uniform(&r) - 1.0));
}
