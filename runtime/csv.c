/* CSV datasets: numbers separated by commas, one sample per line, the label
 * in a chosen column. Rows with another field count than the first are
 * rejected rather than guessed at. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"

typedef struct csv_reader {
  const char *path;
  char *text; /* the whole file, NUL-terminated; lines are cut in place */
  char *next; /* the next unread line */
  long line;  /* number of the line last returned, from 1 */
} csv_reader;

static char *csv_read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    rt_data_error(path, "cannot open");
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  for (size_t got; buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
    n += got;
    if (n + 1 == cap) {
      char *bigger = realloc(buf, cap *= 2);
      if (!bigger)
        free(buf);
      buf = bigger;
    }
  }
  fclose(f);
  if (!buf)
    rt_data_error(path, "out of memory");
  else
    buf[n] = 0;
  return buf;
}

/* The next line without its end ("\n" or "\r\n"), or NULL at the end. */
static char *csv_next_line(csv_reader *r) {
  if (!r->next || !*r->next)
    return NULL;
  char *line = r->next, *end = strchr(line, '\n');
  r->next = end ? end + 1 : NULL;
  if (end)
    *end = 0;
  size_t n = strlen(line);
  if (n && line[n - 1] == '\r')
    line[n - 1] = 0;
  r->line++;
  return line;
}

static int csv_blank(const char *s) {
  return s[strspn(s, " \t")] == 0;
}

static size_t csv_count_fields(const char *line) {
  size_t n = 1;
  for (const char *p = line; *p; p++)
    n += *p == ',';
  return n;
}

/* Parses field text (spaces and one pair of double quotes around it are
 * allowed) as a number; returns 0 when it is not one. */
static int csv_number(const char *s, size_t len, double *v) {
  char buf[64];
  while (len && (*s == ' ' || *s == '\t'))
    s++, len--;
  while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
    len--;
  if (len >= 2 && s[0] == '"' && s[len - 1] == '"')
    s++, len -= 2;
  if (len == 0 || len >= sizeof buf)
    return 0;
  memcpy(buf, s, len);
  buf[len] = 0;
  char *end;
  *v = strtod(buf, &end);
  return *end == 0;
}

static int csv_row_is_numeric(const char *line) {
  for (const char *p = line;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    double v;
    if (!csv_number(p, len, &v))
      return 0;
    if (!comma)
      return 1;
    p = comma + 1;
  }
}

/* Splits one row into the sample's features and its label. */
static int csv_parse_row(csv_reader *r, const char *line, size_t fields, size_t label,
                         double *x, float *y) {
  size_t k = 0, f = 0;
  for (const char *p = line;; k++) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    double v;
    if (!csv_number(p, len, &v))
      return rt_data_error(r->path, "line %ld: field %zu ('%.*s') is not a number", r->line,
                           k + 1, (int)(len > 20 ? 20 : len), p);
    if (k == label)
      *y = (float)v;
    else
      x[f++] = v;
    if (!comma)
      break;
    p = comma + 1;
  }
  if (k + 1 != fields)
    return rt_data_error(r->path, "line %ld: %zu fields, but the first row has %zu (ragged CSV)",
                         r->line, k + 1, fields);
  return 0;
}

/* Samples are kept as doubles: an integer input then gets every id exactly. */
static int csv_grow(rt_dataset *d, size_t *cap) {
  size_t want = *cap ? *cap * 2 : 1024;
  double *x = realloc(d->in[0].x, want * d->in[0].features * sizeof *x);
  if (x)
    d->in[0].x = x;
  float *y = x ? realloc(d->y, want * sizeof *y) : NULL;
  if (y)
    d->y = y;
  if (!x || !y)
    return rt_data_error(d->in[0].path, "out of memory");
  *cap = want;
  return 0;
}

int rt_load_csv(const char *path, int label_column, int header, rt_dataset *out) {
  memset(out, 0, sizeof *out);
  csv_reader r = {.path = path, .text = csv_read_file(path)};
  if (!r.text)
    return -1;
  r.next = r.text;
  out->n_inputs = 1;
  out->in[0].type = RT_ELEM_FLOAT64;
  out->in[0].path = out->y_path = path;
  out->label_width = 1;
  char *line = csv_next_line(&r);
  int rc = 0;
  if (line && (header == 1 || (header < 0 && !csv_row_is_numeric(line))))
    line = csv_next_line(&r);
  if (!line) {
    free(r.text);
    return rt_data_error(path, "no data rows");
  }
  size_t fields = csv_count_fields(line), cap = 0;
  long long col = label_column < 0 ? (long long)fields + label_column : label_column;
  if (fields < 2 || col < 0 || col >= (long long)fields)
    rc = rt_data_error(path, "line %ld: %zu fields: no room for label column %d and a feature",
                       r.line, fields, label_column);
  out->in[0].features = fields - 1;
  for (; line && !rc; line = csv_next_line(&r)) {
    if (csv_blank(line)) {
      if (!r.next || r.next[strspn(r.next, " \t\r\n")] == 0)
        break; /* blank lines at the end */
      rc = rt_data_error(path, "line %ld is empty", r.line);
      break;
    }
    if (out->count == cap && (rc = csv_grow(out, &cap)) != 0)
      break;
    rc = csv_parse_row(&r, line, fields, (size_t)col,
                       (double *)out->in[0].x + out->count * out->in[0].features,
                       out->y + out->count);
    out->count++;
  }
  free(r.text);
  if (rc)
    rt_dataset_free(out);
  return rc;
}
