#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "idx.h"

/* A label file: one byte per record, as floats. */
static int idx_labels(const char *labels, idx_file *lb, rt_dataset *out) {
  if (lb->record != 1)
    return rt_data_error(labels, "not a label file: %zu values per record (want 1)", lb->record);
  if (!(out->y = malloc((lb->count + 1) * sizeof(float))))
    return rt_data_error(labels, "out of memory");
  for (size_t i = 0; i < lb->count; i++)
    out->y[i] = lb->data[i];
  out->label_width = 1;
  out->y_path = labels;
  return 0;
}

/* Images keep their bytes (a float input sees them divided by 255, in
 * [0, 1]); labels (NULL: none) hold one byte per record. */
int rt_load_idx(const char *images, const char *labels, rt_dataset *out) {
  idx_file im, lb = {0};
  memset(out, 0, sizeof *out);
  if (idx_load(images, &im))
    return -1;
  if (labels && idx_load(labels, &lb)) {
    idx_free(&im);
    return -1;
  }
  int rc = -1;
  if (labels && lb.count != im.count && lb.record == 1)
    rc = rt_data_error(labels, "%zu labels for the %zu samples of %s", lb.count, im.count,
                       images);
  else if (!labels || idx_labels(labels, &lb, out) == 0) {
    out->count = im.count;
    out->n_inputs = 1;
    out->in[0] = (rt_samples){.features = im.record, .type = RT_ELEM_UINT8, .x = im.data,
                              .divisor = 255.0f, .path = images};
    im.data = NULL; /* the dataset's now */
    rc = 0;
  }
  if (rc)
    rt_dataset_free(out);
  idx_free(&im);
  if (labels)
    idx_free(&lb);
  return rc;
}

int rt_load_labels(const char *path, rt_dataset *out) {
  size_t n = strlen(path);
  if (n >= 4 && strcmp(path + n - 4, ".npy") == 0)
    return rt_load_npy_labels(path, out);
  idx_file lb;
  if (idx_load(path, &lb))
    return -1;
  int rc = idx_labels(path, &lb, out);
  if (rc == 0)
    out->count = lb.count;
  idx_free(&lb);
  return rc;
}
