/* runtime/: IDX, CSV and NPY datasets and their error messages (file and
 * record named). */
#define _GNU_SOURCE /* mkstemps */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dataset.h"
#include "idx.h"

static char *temp_file(const char *suffix, const void *data, size_t n) {
  static char paths[8][64];
  static int next;
  char *p = paths[next++ % 8];
  snprintf(p, 64, "/tmp/nncc_rt_XXXXXX%s", suffix);
  int fd = mkstemps(p, (int)strlen(suffix));
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, data, n), (ssize_t)n);
  close(fd);
  return p;
}

static char *text_file(const char *suffix, const char *text) {
  return temp_file(suffix, text, strlen(text));
}

/* An IDX file of unsigned bytes with the given dims, gzip'd when gz. */
static char *idx_file_of(const unsigned char *data, const unsigned *dims, int rank, int gz) {
  unsigned char buf[4096];
  size_t n = 0, items = 1;
  buf[n++] = 0, buf[n++] = 0, buf[n++] = 8, buf[n++] = (unsigned char)rank;
  for (int i = 0; i < rank; i++) {
    buf[n++] = (unsigned char)(dims[i] >> 24), buf[n++] = (unsigned char)(dims[i] >> 16);
    buf[n++] = (unsigned char)(dims[i] >> 8), buf[n++] = (unsigned char)dims[i];
    items *= dims[i];
  }
  memcpy(buf + n, data, items);
  n += items;
  if (!gz)
    return temp_file(".idx", buf, n);
  char *p = temp_file(".gz", "", 0);
  gzFile f = gzopen(p, "wb");
  cr_assert_eq(gzwrite(f, buf, (unsigned)n), (int)n);
  gzclose(f);
  return p;
}

Test(runtime_idx, loads_images_scaled_and_labels) {
  unsigned char px[2 * 2 * 3] = {0, 255, 51, 0, 0, 0, 1, 2, 3, 4, 5, 6};
  unsigned char lb[2] = {7, 2};
  unsigned dims[3] = {2, 2, 3}, ldims[1] = {2};
  rt_dataset d;
  cr_assert_eq(rt_load_idx(idx_file_of(px, dims, 3, 1), idx_file_of(lb, ldims, 1, 0), &d), 0);
  cr_assert_eq(d.count, 2);
  cr_assert_eq(d.in[0].features, 6);
  cr_assert_eq(d.label_width, 1);
  rt_input in = {.name = "x", .type = RT_ELEM_FLOAT32, .features = 6};
  cr_assert_eq(rt_samples_convert(&d.in[0], d.count, &in), 0);
  const float *x = d.in[0].x;
  cr_assert_float_eq(x[1], 1.0f, 1e-7);
  cr_assert_float_eq(x[2], 0.2f, 1e-7);
  cr_assert_eq(d.y[0], 7.0f);
  cr_assert_eq(d.y[1], 2.0f);
  cr_assert_eq(rt_dataset_check(&d, 10), 0);
  rt_dataset_free(&d);
}

Test(runtime_idx, wrong_magic, .init = cr_redirect_stderr) {
  rt_dataset d;
  char *bad = text_file(".idx", "PK\003\004 not idx");
  unsigned char lb[1] = {0};
  unsigned ld[1] = {1};
  cr_assert_eq(rt_load_idx(bad, idx_file_of(lb, ld, 1, 0), &d), -1);
  fflush(stderr);
  char expect[128];
  snprintf(expect, sizeof expect, "%s: not an IDX file (bad magic)\n", bad);
  cr_assert_stderr_eq_str(expect);
}

Test(runtime_idx, count_mismatch, .init = cr_redirect_stderr) {
  unsigned char px[3] = {1, 2, 3}, lb[2] = {0, 1};
  unsigned dims[2] = {3, 1}, ld[1] = {2};
  char *im = idx_file_of(px, dims, 2, 0), *lab = idx_file_of(lb, ld, 1, 0);
  rt_dataset d;
  cr_assert_eq(rt_load_idx(im, lab, &d), -1);
  fflush(stderr);
  char expect[256];
  snprintf(expect, sizeof expect, "%s: 2 labels for the 3 samples of %s\n", lab, im);
  cr_assert_stderr_eq_str(expect);
}

Test(runtime_idx, truncated_data_names_the_record, .init = cr_redirect_stderr) {
  unsigned char buf[4 + 8 + 5] = {0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 2, 1, 2, 3, 4, 5};
  char *p = temp_file(".idx", buf, sizeof buf);
  idx_file f;
  cr_assert_eq(idx_load(p, &f), -1);
  fflush(stderr);
  char expect[256];
  snprintf(expect, sizeof expect, "%s: truncated data: record 2 of 3 is incomplete\n", p);
  cr_assert_stderr_eq_str(expect);
}

Test(runtime_check, label_out_of_range, .init = cr_redirect_stderr) {
  float y[2] = {1, 10};
  rt_dataset d = {.count = 2, .label_width = 1, .y = y, .y_path = "lab"};
  cr_assert_eq(rt_dataset_check(&d, 10), -1);
  fflush(stderr);
  cr_assert_stderr_eq_str("lab: sample 1: label 10 is out of range for 10 classes (want a whole "
                          "number 0-9)\n");
}

Test(runtime_check, nan_in_inputs, .init = cr_redirect_stderr) {
  float x[4] = {0, 0, 1, NAN};
  rt_samples s = {.features = 2, .type = RT_ELEM_FLOAT32, .x = x, .path = "im"};
  rt_input in = {.name = "x", .type = RT_ELEM_FLOAT32, .features = 2};
  cr_assert_eq(rt_samples_convert(&s, 2, &in), -1);
  x[3] = INFINITY;
  cr_assert_eq(rt_samples_convert(&s, 2, &in), -1);
  fflush(stderr);
  cr_assert_stderr_eq_str("im: sample 1: value 1 is NaN\nim: sample 1: value 1 is infinite\n");
}

Test(runtime_csv, header_auto_and_label_column) {
  rt_dataset d;
  char *p = text_file(".csv", "label,a,b\r\n2, 0.5,1\n0,-1,3e2\n\n");
  cr_assert_eq(rt_load_csv(p, 0, -1, &d), 0);
  cr_assert_eq(d.count, 2);
  cr_assert_eq(d.in[0].features, 2);
  cr_assert_eq(d.y[0], 2.0f);
  cr_assert_eq(((double *)d.in[0].x)[1], 1.0);
  cr_assert_eq(((double *)d.in[0].x)[3], 300.0);
  rt_dataset_free(&d);
  cr_assert_eq(rt_load_csv(p, -1, 1, &d), 0); /* the last column as the label */
  cr_assert_eq(d.y[1], 300.0f);
  cr_assert_eq(((double *)d.in[0].x)[0], 2.0);
  rt_dataset_free(&d);
}

Test(runtime_csv, no_header) {
  rt_dataset d;
  cr_assert_eq(rt_load_csv(text_file(".csv", "1,2,3\n4,5,6\n"), 2, -1, &d), 0);
  cr_assert_eq(d.count, 2);
  cr_assert_eq(d.y[1], 6.0f);
  cr_assert_eq(((double *)d.in[0].x)[3], 5.0);
  rt_dataset_free(&d);
}

Test(runtime_csv, ragged_row, .init = cr_redirect_stderr) {
  rt_dataset d;
  char *p = text_file(".csv", "y,a,b\n1,2,3\n1,2\n");
  cr_assert_eq(rt_load_csv(p, 0, -1, &d), -1);
  cr_assert_null(d.in[0].x);
  fflush(stderr);
  char expect[256];
  snprintf(expect, sizeof expect, "%s: line 3: 2 fields, but the first row has 3 (ragged CSV)\n", p);
  cr_assert_stderr_eq_str(expect);
}

Test(runtime_csv, longer_row_and_bad_number, .init = cr_redirect_stderr) {
  rt_dataset d;
  char *p = text_file(".csv", "1,2\n1,2,3\n"), *q = text_file(".csv", "1,2\n3,x7\n");
  cr_assert_eq(rt_load_csv(p, 0, 0, &d), -1);
  cr_assert_eq(rt_load_csv(q, 0, 0, &d), -1);
  fflush(stderr);
  char expect[512];
  snprintf(expect, sizeof expect,
           "%s: line 2: 3 fields, but the first row has 2 (ragged CSV)\n"
           "%s: line 2: field 2 ('x7') is not a number\n", p, q);
  cr_assert_stderr_eq_str(expect);
}

Test(runtime_csv, empty_line_inside, .init = cr_redirect_stderr) {
  rt_dataset d;
  char *p = text_file(".csv", "1,2\n\n3,4\n");
  cr_assert_eq(rt_load_csv(p, 0, 0, &d), -1);
  fflush(stderr);
  char expect[256];
  snprintf(expect, sizeof expect, "%s: line 2 is empty\n", p);
  cr_assert_stderr_eq_str(expect);
}

/* A .npy file: descr, shape text such as "(2, 3)", raw items. */
static char *npy_file(const char *descr, const char *shape, const void *data, size_t bytes) {
  char header[128];
  int n = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                   descr, shape);
  unsigned char buf[1024];
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  buf[8] = (unsigned char)n, buf[9] = 0;
  memcpy(buf + 10, header, (size_t)n);
  memcpy(buf + 10 + n, data, bytes);
  return temp_file(".npy", buf, 10 + (size_t)n + bytes);
}

Test(runtime_npy, dtypes) {
  double xd[6] = {1, 2, 3, 4, 5, 6.5};
  unsigned char xu[6] = {0, 1, 2, 3, 4, 255};
  int64_t y[2] = {1, 0};
  float yf[4] = {0.5f, 1, 2, 3};
  rt_dataset d;
  cr_assert_eq(rt_load_npy(npy_file("<f8", "(2, 3)", xd, sizeof xd),
                           npy_file("<i8", "(2,)", y, sizeof y), &d), 0);
  cr_assert_eq(d.count, 2);
  cr_assert_eq(d.in[0].features, 3);
  cr_assert_eq(d.in[0].type, RT_ELEM_FLOAT64);
  cr_assert_eq(((double *)d.in[0].x)[5], 6.5);
  cr_assert_eq(d.y[0], 1.0f);
  rt_dataset_free(&d);
  cr_assert_eq(rt_load_npy(npy_file("|u1", "(2, 3)", xu, sizeof xu),
                           npy_file("<f4", "(2, 2)", yf, sizeof yf), &d), 0);
  cr_assert_eq(((unsigned char *)d.in[0].x)[5], 255);
  cr_assert_eq(d.label_width, 2);
  cr_assert_eq(d.y[3], 3.0f);
  rt_dataset_free(&d);
}

Test(runtime_npy, errors, .init = cr_redirect_stderr) {
  float x[6] = {0};
  int64_t y[3] = {0};
  rt_dataset d;
  char *xs = npy_file("<f4", "(2, 3)", x, sizeof x), *ys = npy_file("<i8", "(3,)", y, sizeof y);
  char *half = npy_file("<f4", "(4, 3)", x, sizeof x), *f2 = npy_file("<f2", "(3,)", y, 6);
  cr_assert_eq(rt_load_npy(xs, ys, &d), -1);
  cr_assert_eq(rt_load_npy(half, ys, &d), -1);
  cr_assert_eq(rt_load_npy(xs, f2, &d), -1);
  fflush(stderr);
  char expect[1024];
  snprintf(expect, sizeof expect,
           "%s: 3 labels for the 2 samples of %s\n"
           "%s: truncated data: sample 2 of 4 is incomplete\n"
           "%s: unsupported dtype '<f2' (want float32/64, int8-64, uint8-32 or bool, "
           "little-endian)\n",
           ys, xs, half, f2);
  cr_assert_stderr_eq_str(expect);
}

Test(runtime_any, picks_the_loader_by_name, .init = cr_redirect_stderr) {
  rt_dataset d;
  cr_assert_eq(rt_load_any(text_file(".csv", "1,2\n"), NULL, 0, -1, &d), 0);
  cr_assert_eq(d.count, 1);
  rt_dataset_free(&d);
  cr_assert_eq(rt_load_any("x.npy", NULL, 0, -1, &d), -1);
}

/* --train-input's loaders: one input's samples (IDX images, NPY) and the
 * labels alone; a CSV holds labels, so it is refused there. */
Test(runtime_any, samples_and_labels_apart, .init = cr_redirect_stderr) {
  unsigned char px[2 * 3] = {0, 255, 51, 1, 2, 3}, lb[2] = {4, 1};
  unsigned dims[2] = {2, 3}, ldims[1] = {2};
  rt_samples s;
  size_t count;
  cr_assert_eq(rt_load_samples(idx_file_of(px, dims, 2, 1), &s, &count), 0);
  cr_assert_eq(count, 2);
  cr_assert_eq(s.features, 3);
  cr_assert_eq(s.type, RT_ELEM_UINT8);
  cr_assert_eq(((unsigned char *)s.x)[1], 255);
  free(s.x);
  int32_t xi[4] = {7, -1, 3, 2};
  cr_assert_eq(rt_load_samples(npy_file("<i4", "(2, 2)", xi, sizeof xi), &s, &count), 0);
  cr_assert_eq(s.type, RT_ELEM_INT32);
  cr_assert_eq(((int32_t *)s.x)[1], -1);
  free(s.x);
  rt_dataset d;
  memset(&d, 0, sizeof d);
  cr_assert_eq(rt_load_labels(idx_file_of(lb, ldims, 1, 0), &d), 0);
  cr_assert_eq(d.count, 2);
  cr_assert_eq(d.y[0], 4.0f);
  rt_dataset_free(&d);
  char *csv = text_file(".csv", "1,2\n");
  cr_assert_eq(rt_load_samples(csv, &s, &count), -1);
  fflush(stderr);
  char expect[256];
  snprintf(expect, sizeof expect, "%s: a CSV file holds its labels too: give one input's samples "
           "as .npy or IDX\n", csv);
  cr_assert_stderr_eq_str(expect);
}
