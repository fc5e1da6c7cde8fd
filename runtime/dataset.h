/* A training set in memory: the samples of each of the model's inputs, as
 * the file held them (their own element type) until rt_samples_convert gives
 * them the input's type, and every label a small float vector (a class index
 * is held as one exact float). Loaders for IDX, CSV and NPY fill it; each
 * reports "FILE: sample N: what is wrong" on stderr and returns -1, leaving
 * nothing allocated. */
#ifndef NNCC_RT_DATASET_H
#define NNCC_RT_DATASET_H

#include <stddef.h>

#include "module.h"

/* One input's samples: count * features items of type `type`. */
typedef struct rt_samples {
  size_t features;    /* values per sample */
  rt_elem type;
  void *x;
  float divisor;      /* IDX bytes: 255, so a float input sees [0, 1]; 0: values as they are */
  const char *path;   /* where they came from, for messages */
} rt_samples;

typedef struct rt_dataset {
  size_t count;       /* samples */
  int n_inputs;       /* 1 unless the model takes several inputs */
  rt_samples in[RT_MAX_INPUTS];
  size_t label_width; /* floats per label: 1 for a class index */
  float *y;           /* count * label_width */
  const char *y_path;
} rt_dataset;

/* IDX images (any element count per record; bytes, which a float input sees
 * scaled to [0, 1]) and IDX labels (one byte each), plain or gzip'd; the
 * counts must agree. */
int rt_load_idx(const char *images, const char *labels, rt_dataset *out);
/* CSV: one sample per row, numbers separated by commas; label_column is the
 * label's column (negative: from the end, -1 the last). header: 1 skip the
 * first row, 0 none, -1 skip it only when it is not numeric. Every row must
 * have the first row's number of fields. */
int rt_load_csv(const char *path, int label_column, int header, rt_dataset *out);
/* NPY samples [N, ...] and labels [N] or [N, K]: float32/64, int8-64,
 * uint8-32 or bool, taken as they are (no scaling). */
int rt_load_npy(const char *samples, const char *labels, rt_dataset *out);
/* NPY samples alone into out->in[0] (a GAN's real data): no labels. */
int rt_load_npy_samples(const char *samples, rt_dataset *out);
/* One input's samples alone (.npy, or IDX images) into *s; *count samples. */
int rt_load_samples(const char *path, rt_samples *s, size_t *count);
/* Labels alone (.npy [N] or [N, K], or an IDX label file) into out's
 * labels and count; the rest of out is left as it is. */
int rt_load_labels(const char *path, rt_dataset *out);
int rt_load_npy_labels(const char *path, rt_dataset *out);
/* Any file by its name: .csv -> rt_load_csv (labels is NULL then), .npy ->
 * rt_load_npy, anything else -> rt_load_idx. */
int rt_load_any(const char *samples, const char *labels, int label_column, int header,
                rt_dataset *out);

/* Gives s (count samples) input in's element type, checking every value:
 * finite and within the type for a float input; a whole number that fits
 * the type, and within in's range when it has one, for an integer input.
 * Names the file, the sample and the value. */
int rt_samples_convert(rt_samples *s, size_t count, const rt_input *in);
/* Rejects a label that is not finite and (n_classes > 0: class indices, one
 * per position) one that is not a whole number in [0, n_classes). Names the
 * file, the record and the position. */
int rt_dataset_check(const rt_dataset *d, int n_classes);
void rt_dataset_free(rt_dataset *d);

/* "path: message" on stderr; returns -1. Messages name the record: "sample
 * N" (from 0, the order of the file) or, in CSV, "line N" (from 1). */
int rt_data_error(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
