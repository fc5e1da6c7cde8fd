#include "batch.h"
#include "elem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t batch_label_bytes(rt_label_type t) {
  return t == RT_LABEL_INT64 ? 8 : 4;
}

int rt_batch_alloc(rt_batch *b, const rt_module *m) {
  size_t B = (size_t)m->batch;
  memset(b, 0, sizeof *b);
  int ok = 1;
  for (int k = 0; k < m->n_inputs; k++)
    ok &= (b->x[k] = calloc(B * m->inputs[k].features + 1, rt_elem_size(m->inputs[k].type))) != NULL;
  b->labels = calloc(B * m->label_width + 1, batch_label_bytes(m->label_type));
  b->y = calloc(B * m->label_width + 1, sizeof(float));
  b->mask = calloc(B, sizeof(float));
  b->pred = calloc(B * m->out_features + 1, sizeof(float));
  b->n = 0;
  if (ok && b->labels && b->y && b->mask && b->pred)
    return 0;
  rt_batch_free(b);
  fprintf(stderr, "%s: out of memory for a batch\n", m->name);
  return -1;
}

void rt_batch_free(rt_batch *b) {
  for (int k = 0; k < RT_MAX_INPUTS; k++)
    free(b->x[k]);
  free(b->labels);
  free(b->y);
  free(b->mask);
  free(b->pred);
  memset(b, 0, sizeof *b);
}

static void batch_put_label(const rt_module *m, void *labels, size_t i, float v) {
  if (m->label_type == RT_LABEL_INT64)
    ((int64_t *)labels)[i] = (int64_t)v;
  else if (m->label_type == RT_LABEL_INT32)
    ((int32_t *)labels)[i] = (int32_t)v;
  else
    ((float *)labels)[i] = v;
}

int rt_batch_fill(rt_batch *b, const rt_module *m, const rt_dataset *d, const size_t *perm,
                  size_t start) {
  size_t B = (size_t)m->batch, L = m->label_width;
  b->n = 0;
  for (size_t r = 0; r < B; r++) {
    size_t k = start + r, s = perm && k < d->count ? perm[k] : k;
    for (int i = 0; i < m->n_inputs; i++) {
      size_t row = m->inputs[i].features * rt_elem_size(m->inputs[i].type);
      unsigned char *dst = (unsigned char *)b->x[i] + r * row;
      if (k < d->count)
        memcpy(dst, (const unsigned char *)d->in[i].x + s * row, row);
      else
        memset(dst, 0, row);
    }
    if (k < d->count) {
      memcpy(b->y + r * L, d->y + s * L, L * sizeof(float));
      b->mask[r] = 1;
      b->n++;
    } else {
      memset(b->y + r * L, 0, L * sizeof(float));
      b->mask[r] = 0;
    }
    for (size_t j = 0; j < L; j++)
      batch_put_label(m, b->labels, r * L + j, b->y[r * L + j]);
  }
  return b->n;
}

size_t rt_batch_count(size_t n, int batch) {
  return (n + (size_t)batch - 1) / (size_t)batch;
}
