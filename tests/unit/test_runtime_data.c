/* runtime/: IDX, CSV and NPY datasets and their error messages (file and
 * record named). */
#define _GNU_SOURCE /* mkstemps */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <math.h>
#include <stdio.h>
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
  cr_assert_eq(d.features, 6);
  cr_assert_eq(d.label_width, 1);
  cr_assert_float_eq(d.x[1], 1.0f, 1e-7);
  cr_assert_float_eq(d.x[2], 0.2f, 1e-7);
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
  float x[4] = {0, 0, 0, 0}, y[2] = {1, 10};
  rt_dataset d = {.count = 2, .features = 2, .x = x, .label_width = 1, .y = y,
                  .x_path = "im", .y_path = "lab"};
  cr_assert_eq(rt_dataset_check(&d, 10), -1);
  fflush(stderr);
  cr_assert_stderr_eq_str("lab: sample 1: label 10 is out of range for 10 classes (want a whole "
                          "number 0-9)\n");
}

Test(runtime_check, nan_in_inputs, .init = cr_redirect_stderr) {
  float x[4] = {0, 0, 1, NAN}, y[2] = {1, 1};
  rt_dataset d = {.count = 2, .features = 2, .x = x, .label_width = 1, .y = y,
                  .x_path = "im", .y_path = "lab"};
  cr_assert_eq(rt_dataset_check(&d, 2), -1);
  x[3] = INFINITY;
  cr_assert_eq(rt_dataset_check(&d, 2), -1);
  fflush(stderr);
  cr_assert_stderr_eq_str("im: sample 1: value 1 is NaN\nim: sample 1: value 1 is infinite\n");
}

Test(runtime_csv, header_auto_and_label_column) {
  rt_dataset d;
  char *p = text_file(".csv", "label,a,b\r\n2, 0.5,1\n0,-1,3e2\n\n");
  cr_assert_eq(rt_load_csv(p, 0, -1, &d), 0);
  cr_assert_eq(d.count, 2);
  cr_assert_eq(d.features, 2);
  cr_assert_eq(d.y[0], 2.0f);
  cr_assert_eq(d.x[1], 1.0f);
  cr_assert_eq(d.x[3], 300.0f);
  rt_dataset_free(&d);
  cr_assert_eq(rt_load_csv(p, -1, 1, &d), 0); /* the last column as the label */
  cr_assert_eq(d.y[1], 300.0f);
  cr_assert_eq(d.x[0], 2.0f);
  rt_dataset_free(&d);
}

Test(runtime_csv, no_header) {
  rt_dataset d;
  cr_assert_eq(rt_load_csv(text_file(".csv", "1,2,3\n4,5,6\n"), 2, -1, &d), 0);
  cr_assert_eq(d.count, 2);
  cr_assert_eq(d.y[1], 6.0f);
  cr_assert_eq(d.x[3], 5.0f);
  rt_dataset_free(&d);
}

Test(runtime_csv, ragged_row, .init = cr_redirect_stderr) {
  rt_dataset d;
  char *p = text_file(".csv", "y,a,b\n1,2,3\n1,2\n");
  cr_assert_eq(rt_load_csv(p, 0, -1, &d), -1);
  cr_assert_null(d.x);
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
  cr_assert_eq(d.features, 3);
  cr_assert_eq(d.x[5], 6.5f);
  cr_assert_eq(d.y[0], 1.0f);
  rt_dataset_free(&d);
  cr_assert_eq(rt_load_npy(npy_file("|u1", "(2, 3)", xu, sizeof xu),
                           npy_file("<f4", "(2, 2)", yf, sizeof yf), &d), 0);
  cr_assert_eq(d.x[5], 255.0f);
  cr_assert_eq(d.label_width, 2);
  cr_assert_eq(d.y[3], 3.0f);
  rt_dataset_free(&d);
}

Test(runtime_npy, errors, .init = cr_redirect_stderr) {
  float x[6] = {0};
  int64_t y[3] = {0};
  rt_dataset d;
  char *xs = npy_file("<f4", "(2, 3)", x, sizeof x), *ys = npy_file("<i8", "(3,)", y, sizeof y);
  char *half = npy_file("<f4", "(4, 3)", x, sizeof x), *i2 = npy_file("<i2", "(3,)", y, 6);
  cr_assert_eq(rt_load_npy(xs, ys, &d), -1);
  cr_assert_eq(rt_load_npy(half, ys, &d), -1);
  cr_assert_eq(rt_load_npy(xs, i2, &d), -1);
  fflush(stderr);
  char expect[1024];
  snprintf(expect, sizeof expect,
           "%s: 3 labels for the 2 samples of %s\n"
           "%s: truncated data: sample 2 of 4 is incomplete\n"
           "%s: unsupported dtype '<i2' (want float32, float64, uint8 or int64)\n",
           ys, xs, half, i2);
  cr_assert_stderr_eq_str(expect);
}

Test(runtime_any, picks_the_loader_by_name, .init = cr_redirect_stderr) {
  rt_dataset d;
  cr_assert_eq(rt_load_any(text_file(".csv", "1,2\n"), NULL, 0, -1, &d), 0);
  cr_assert_eq(d.count, 1);
  rt_dataset_free(&d);
  cr_assert_eq(rt_load_any("x.npy", NULL, 0, -1, &d), -1);
}
