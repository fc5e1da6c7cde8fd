#include "dataset.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rt_data_error(const char *path, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", path);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return -1;
}

static int dataset_ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), k = strlen(tail);
  return n >= k && strcmp(s + n - k, tail) == 0;
}

int rt_load_any(const char *samples, const char *labels, int label_column, int header,
                rt_dataset *out) {
  if (dataset_ends_with(samples, ".csv")) {
    if (labels)
      return rt_data_error(labels, "a CSV file holds its own labels (choose the column with "
                                   "--label-column); no separate labels file is read");
    return rt_load_csv(samples, label_column, header, out);
  }
  if (!labels)
    return rt_data_error(samples, "needs a labels file beside it (only CSV holds its labels)");
  if (dataset_ends_with(samples, ".npy"))
    return rt_load_npy(samples, labels, out);
  return rt_load_idx(samples, labels, out);
}

int rt_dataset_check(const rt_dataset *d, int n_classes) {
  for (size_t i = 0; i < d->count; i++)
    for (size_t k = 0; k < d->label_width; k++) {
      float v = d->y[i * d->label_width + k];
      if (!isfinite(v))
        return rt_data_error(d->y_path, "sample %zu: the label is %s", i,
                             isnan(v) ? "NaN" : "infinite");
      if (n_classes <= 0 || (v == floorf(v) && v >= 0 && v < (float)n_classes))
        continue;
      if (d->label_width == 1)
        return rt_data_error(d->y_path, "sample %zu: label %g is out of range for %d classes "
                                        "(want a whole number 0-%d)", i, v, n_classes,
                             n_classes - 1);
      return rt_data_error(d->y_path, "sample %zu: label %g (position %zu) is out of range for "
                                      "%d classes (want a whole number 0-%d)", i, v, k,
                           n_classes, n_classes - 1);
    }
  return 0;
}

void rt_dataset_free(rt_dataset *d) {
  for (int k = 0; k < RT_MAX_INPUTS; k++) {
    free(d->in[k].x);
    d->in[k].x = NULL;
  }
  free(d->y);
  d->y = NULL;
  d->count = 0;
}

int rt_load_samples(const char *path, rt_samples *s, size_t *count) {
  rt_dataset d;
  if (dataset_ends_with(path, ".csv"))
    return rt_data_error(path, "a CSV file holds its labels too: give one input's samples as "
                               ".npy or IDX");
  int rc = dataset_ends_with(path, ".npy") ? rt_load_npy_samples(path, &d)
                                           : rt_load_idx(path, NULL, &d);
  if (rc)
    return -1;
  *s = d.in[0];
  *count = d.count;
  return 0;
}
