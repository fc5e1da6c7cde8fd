/* .npy arrays as dataset samples and labels. The format: "\x93NUMPY", a
 * version, a header length, a Python dict literal (descr, fortran_order,
 * shape), then the raw little-endian items in C order. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"

typedef struct npy_array {
  char kind;     /* 'f' float32/64, 'u' uint8, 'i' int64 */
  size_t item;   /* bytes per item */
  int rank;
  size_t dims[8];
  size_t count;  /* items */
  unsigned char *data;
} npy_array;

/* Points just past "'key':" and its spaces in the header, or NULL. */
static const char *npy_field(const char *h, const char *key) {
  char k[32];
  snprintf(k, sizeof k, "'%s':", key);
  const char *p = strstr(h, k);
  if (!p)
    return NULL;
  for (p += strlen(k); *p == ' ';)
    p++;
  return p;
}

static int npy_parse_header(const char *path, const char *h, npy_array *a) {
  const char *descr = npy_field(h, "descr"), *order = npy_field(h, "fortran_order"),
             *shape = npy_field(h, "shape");
  if (!descr || !order || !shape || *shape != '(')
    return rt_data_error(path, "malformed .npy header");
  if (strncmp(order, "True", 4) == 0)
    return rt_data_error(path, "the array is in Fortran order; save it in C order");
  static const struct { const char *descr; char kind; size_t item; } types[] = {
      {"'<f4'", 'f', 4}, {"'<f8'", 'f', 8}, {"'|u1'", 'u', 1}, {"'<i8'", 'i', 8}};
  a->kind = 0;
  for (size_t i = 0; i < sizeof types / sizeof *types; i++)
    if (strncmp(descr, types[i].descr, 5) == 0)
      a->kind = types[i].kind, a->item = types[i].item;
  if (!a->kind)
    return rt_data_error(path, "unsupported dtype %.5s (want float32, float64, uint8 or int64)",
                         descr);
  a->rank = 0;
  a->count = 1;
  for (const char *p = shape + 1; *p != ')';) {
    while (*p == ' ' || *p == ',')
      p++;
    if (*p == ')')
      break;
    char *end;
    unsigned long long d = strtoull(p, &end, 10);
    if (end == p || a->rank == 8)
      return rt_data_error(path, "malformed or unsupported .npy shape");
    a->dims[a->rank++] = d;
    a->count *= d;
    p = end;
  }
  if (a->rank == 0)
    return rt_data_error(path, "a scalar is not a dataset (want [samples, ...])");
  return 0;
}

static int npy_load(const char *path, npy_array *a) {
  memset(a, 0, sizeof *a);
  FILE *f = fopen(path, "rb");
  if (!f)
    return rt_data_error(path, "cannot open");
  unsigned char pre[12];
  int rc = -1;
  char *header = NULL;
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
    rc = rt_data_error(path, "not a .npy file (bad magic)");
    goto done;
  }
  size_t hlen = pre[8] | (size_t)pre[9] << 8;
  if (pre[6] >= 2) {
    if (fread(pre + 10, 1, 2, f) != 2) {
      rc = rt_data_error(path, "truncated header");
      goto done;
    }
    hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
  }
  if (hlen > (1 << 20) || !(header = malloc(hlen + 1)) || fread(header, 1, hlen, f) != hlen) {
    rc = rt_data_error(path, "truncated or oversized header");
    goto done;
  }
  header[hlen] = 0;
  if (npy_parse_header(path, header, a))
    goto done;
  if (!(a->data = malloc(a->count * a->item + 1))) {
    rc = rt_data_error(path, "out of memory");
    goto done;
  }
  size_t got = fread(a->data, a->item, a->count, f);
  size_t per = a->dims[0] ? a->count / a->dims[0] : 1;
  if (got != a->count) {
    rc = rt_data_error(path, "truncated data: sample %zu of %zu is incomplete",
                       per ? got / per : 0, a->dims[0]);
    free(a->data);
    a->data = NULL;
    goto done;
  }
  rc = 0;
done:
  free(header);
  fclose(f);
  return rc;
}

/* Item i as a float; the items are little-endian (checked by descr). */
static float npy_item(const npy_array *a, size_t i) {
  const unsigned char *p = a->data + i * a->item;
  uint64_t bits = 0;
  for (size_t b = 0; b < a->item; b++)
    bits |= (uint64_t)p[b] << (8 * b);
  if (a->kind == 'u')
    return (float)bits;
  if (a->kind == 'i')
    return (float)(int64_t)bits;
  if (a->item == 4) {
    uint32_t w = (uint32_t)bits;
    float v;
    memcpy(&v, &w, 4);
    return v;
  }
  double v;
  memcpy(&v, &bits, 8);
  return (float)v;
}

static float *npy_to_floats(const char *path, const npy_array *a) {
  float *v = malloc((a->count ? a->count : 1) * sizeof *v);
  if (!v)
    rt_data_error(path, "out of memory");
  for (size_t i = 0; v && i < a->count; i++)
    v[i] = npy_item(a, i);
  return v;
}

int rt_load_npy(const char *samples, const char *labels, rt_dataset *out) {
  memset(out, 0, sizeof *out);
  npy_array xs, ys;
  if (npy_load(samples, &xs))
    return -1;
  if (npy_load(labels, &ys)) {
    free(xs.data);
    return -1;
  }
  int rc = -1;
  if (ys.rank > 2)
    rc = rt_data_error(labels, "labels of rank %d (want [samples] or [samples, K])", ys.rank);
  else if (xs.dims[0] != ys.dims[0])
    rc = rt_data_error(labels, "%zu labels for the %zu samples of %s", ys.dims[0], xs.dims[0],
                       samples);
  else if ((out->x = npy_to_floats(samples, &xs)) && (out->y = npy_to_floats(labels, &ys))) {
    out->count = xs.dims[0];
    out->features = out->count ? xs.count / out->count : 0;
    out->label_width = ys.rank == 2 ? ys.dims[1] : 1;
    out->x_path = samples;
    out->y_path = labels;
    rc = 0;
  }
  if (rc)
    rt_dataset_free(out);
  free(xs.data);
  free(ys.data);
  return rc;
}

int rt_load_npy_samples(const char *samples, rt_dataset *out) {
  memset(out, 0, sizeof *out);
  npy_array xs;
  if (npy_load(samples, &xs))
    return -1;
  int rc = -1;
  if ((out->x = npy_to_floats(samples, &xs))) {
    out->count = xs.dims[0];
    out->features = out->count ? xs.count / out->count : 0;
    out->x_path = samples;
    rc = 0;
  }
  free(xs.data);
  return rc;
}
