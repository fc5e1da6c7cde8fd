/* .npy arrays as dataset samples and labels. The format: "\x93NUMPY", a
 * version, a header length, a Python dict literal (descr, fortran_order,
 * shape), then the raw little-endian items in C order. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "elem.h"

typedef struct npy_array {
  rt_elem type;
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
  static const struct { const char *descr; rt_elem type; } types[] = {
      {"'<f4'", RT_ELEM_FLOAT32}, {"'<f8'", RT_ELEM_FLOAT64}, {"'<i8'", RT_ELEM_INT64},
      {"'<i4'", RT_ELEM_INT32},   {"'<i2'", RT_ELEM_INT16},   {"'|i1'", RT_ELEM_INT8},
      {"'|u1'", RT_ELEM_UINT8},   {"'<u2'", RT_ELEM_UINT16},  {"'<u4'", RT_ELEM_UINT32},
      {"'|b1'", RT_ELEM_BOOL}};
  size_t k = 0;
  while (k < sizeof types / sizeof *types && strncmp(descr, types[k].descr, 5) != 0)
    k++;
  if (k == sizeof types / sizeof *types)
    return rt_data_error(path, "unsupported dtype %.5s (want float32/64, int8-64, uint8-32 or "
                         "bool, little-endian)", descr);
  a->type = types[k].type;
  a->item = rt_elem_size(a->type);
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

static float *npy_to_floats(const char *path, const npy_array *a) {
  float *v = malloc((a->count ? a->count : 1) * sizeof *v);
  if (!v)
    rt_data_error(path, "out of memory");
  for (size_t i = 0; v && i < a->count; i++)
    v[i] = (float)rt_elem_get(a->type, a->data, i);
  return v;
}

int rt_load_npy_labels(const char *labels, rt_dataset *out) {
  npy_array ys;
  if (npy_load(labels, &ys))
    return -1;
  int rc = -1;
  if (ys.rank > 2)
    rt_data_error(labels, "labels of rank %d (want [samples] or [samples, K])", ys.rank);
  else if ((out->y = npy_to_floats(labels, &ys))) {
    out->count = ys.dims[0];
    out->label_width = ys.rank == 2 ? ys.dims[1] : 1;
    out->y_path = labels;
    rc = 0;
  }
  free(ys.data);
  return rc;
}

int rt_load_npy_samples(const char *samples, rt_dataset *out) {
  memset(out, 0, sizeof *out);
  npy_array xs;
  if (npy_load(samples, &xs))
    return -1;
  out->count = xs.dims[0];
  out->n_inputs = 1;
  out->in[0] = (rt_samples){.features = out->count ? xs.count / out->count : 0,
                            .type = xs.type, .x = xs.data, .path = samples};
  return 0;
}

int rt_load_npy(const char *samples, const char *labels, rt_dataset *out) {
  if (rt_load_npy_samples(samples, out))
    return -1;
  size_t count = out->count;
  int rc = rt_load_npy_labels(labels, out);
  if (rc == 0 && out->count != count)
    rc = rt_data_error(labels, "%zu labels for the %zu samples of %s", out->count, count, samples);
  if (rc)
    rt_dataset_free(out);
  return rc;
}
