/* A training set in memory: every sample flattened to floats, every label a
 * small float vector (a class index is held as one exact float). Loaders for
 * IDX, CSV and NPY fill it; each reports "FILE: sample N: what is wrong" on
 * stderr and returns -1, leaving nothing allocated. */
#ifndef NNCC_RT_DATASET_H
#define NNCC_RT_DATASET_H

#include <stddef.h>

typedef struct rt_dataset {
  size_t count;       /* samples */
  size_t features;    /* floats per sample */
  float *x;           /* count * features */
  size_t label_width; /* floats per label: 1 for a class index */
  float *y;           /* count * label_width */
  const char *x_path; /* where samples and labels came from, for messages */
  const char *y_path;
} rt_dataset;

/* IDX images (any element count per record, bytes scaled to [0, 1]) and IDX
 * labels (one byte each), plain or gzip'd; the counts must agree. */
int rt_load_idx(const char *images, const char *labels, rt_dataset *out);
/* CSV: one sample per row, numbers separated by commas; label_column is the
 * label's column (negative: from the end, -1 the last). header: 1 skip the
 * first row, 0 none, -1 skip it only when it is not numeric. Every row must
 * have the first row's number of fields. */
int rt_load_csv(const char *path, int label_column, int header, rt_dataset *out);
/* NPY samples [N, ...] and labels [N] or [N, K]; float32, float64, uint8 or
 * int64 (values are taken as they are: no scaling). */
int rt_load_npy(const char *samples, const char *labels, rt_dataset *out);
/* NPY samples alone (a GAN's real data): no labels (label_width 0). */
int rt_load_npy_samples(const char *samples, rt_dataset *out);
/* Any file by its name: .csv -> rt_load_csv (labels is NULL then), .npy ->
 * rt_load_npy, anything else -> rt_load_idx. */
int rt_load_any(const char *samples, const char *labels, int label_column, int header,
                rt_dataset *out);

/* Rejects a sample holding NaN or Inf, and (n_classes > 0) a label that is not
 * a whole number in [0, n_classes). Names the file and the record. */
int rt_dataset_check(const rt_dataset *d, int n_classes);
void rt_dataset_free(rt_dataset *d);

/* "path: message" on stderr; returns -1. Messages name the record: "sample
 * N" (from 0, the order of the file) or, in CSV, "line N" (from 1). */
int rt_data_error(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
