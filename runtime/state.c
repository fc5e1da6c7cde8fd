#include <math.h>
#include <string.h>

#include "module.h"

static uint64_t state_fnv_bytes(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 1099511628211ULL;
  return h;
}

static uint64_t state_fnv_u64(uint64_t h, uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; i++)
    b[i] = (unsigned char)(v >> (8 * i)); /* the same hash on any byte order */
  return state_fnv_bytes(h, b, 8);
}

uint64_t rt_state_hash(const rt_module *m) {
  uint64_t h = state_fnv_u64(14695981039346656037ULL, m->state_bytes);
  for (int i = 0; i < m->n_state; i++) {
    const rt_state_entry *e = &m->state[i];
    h = state_fnv_bytes(h, e->name, strlen(e->name) + 1);
    h = state_fnv_u64(h, e->offset);
    h = state_fnv_u64(h, e->bytes);
    h = state_fnv_u64(h, (uint64_t)e->role);
    h = state_fnv_u64(h, (uint64_t)e->rank);
    for (int d = 0; d < e->rank; d++)
      h = state_fnv_u64(h, (uint64_t)e->dims[d]);
  }
  return h;
}

const rt_state_entry *rt_first_bad_grad(const rt_module *m, const void *state) {
  for (int i = 0; i < m->n_state; i++) {
    const rt_state_entry *e = &m->state[i];
    if (e->role != RT_ROLE_GRAD || !e->is_float)
      continue;
    const float *v = (const float *)((const unsigned char *)state + e->offset);
    for (size_t k = 0; k < e->bytes / sizeof(float); k++)
      if (!isfinite(v[k]))
        return e;
  }
  return NULL;
}

void rt_zero_grads(const rt_module *m, void *state) {
  for (int i = 0; i < m->n_state; i++)
    if (m->state[i].role == RT_ROLE_GRAD)
      memset((unsigned char *)state + m->state[i].offset, 0, m->state[i].bytes);
}
