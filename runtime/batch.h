/* Batches of B samples in the order of a permutation. The last batch of an
 * epoch may be short: its missing rows are zeros with mask 0, so the module's
 * masked loss and gradients ignore them (and 0 is a valid token id, so an
 * embedding reads inside its table). */
#ifndef NNCC_RT_BATCH_H
#define NNCC_RT_BATCH_H

#include "dataset.h"
#include "module.h"

typedef struct rt_batch {
  void *x[RT_MAX_INPUTS]; /* input k: [B, inputs[k].features] of its type */
  void *labels; /* [B, label_width] of the module's label type */
  float *y;     /* the same labels as floats, for the metrics */
  float *mask;  /* [B]: 1 a real sample, 0 padding */
  float *pred;  /* [B, out_features] */
  int n;        /* real samples in the batch */
} rt_batch;

int rt_batch_alloc(rt_batch *b, const rt_module *m);
void rt_batch_free(rt_batch *b);
/* Fills b with samples perm[start..start+B) (perm NULL: in file order);
 * returns the number of real samples. d's samples must have the inputs'
 * types (rt_samples_convert). */
int rt_batch_fill(rt_batch *b, const rt_module *m, const rt_dataset *d, const size_t *perm,
                  size_t start);
/* Batches in an epoch of n samples: ceil(n / B). */
size_t rt_batch_count(size_t n, int batch);

#endif
