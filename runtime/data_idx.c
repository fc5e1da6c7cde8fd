#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "idx.h"

/* Images become floats in [0, 1]; a label file holds one byte per record. */
int rt_load_idx(const char *images, const char *labels, rt_dataset *out) {
  idx_file im, lb;
  memset(out, 0, sizeof *out);
  if (idx_load(images, &im))
    return -1;
  if (idx_load(labels, &lb)) {
    idx_free(&im);
    return -1;
  }
  int rc = -1;
  if (lb.record != 1)
    rc = rt_data_error(labels, "not a label file: %zu values per record (want 1)", lb.record);
  else if (im.count != lb.count)
    rc = rt_data_error(labels, "%zu labels for the %zu samples of %s", lb.count, im.count,
                       images);
  else if (!(out->x = malloc((im.count * im.record + 1) * sizeof(float))) ||
           !(out->y = malloc((lb.count + 1) * sizeof(float))))
    rc = rt_data_error(images, "out of memory");
  else {
    for (size_t i = 0; i < im.count * im.record; i++)
      out->x[i] = im.data[i] / 255.0f;
    for (size_t i = 0; i < lb.count; i++)
      out->y[i] = lb.data[i];
    out->count = im.count;
    out->features = im.record;
    out->label_width = 1;
    out->x_path = images;
    out->y_path = labels;
    rc = 0;
  }
  if (rc)
    rt_dataset_free(out);
  idx_free(&im);
  idx_free(&lb);
  return rc;
}
